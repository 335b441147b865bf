"""Runtime helpers copied into translated PyTorch scripts.

Every top-level function here is a template: the translator copies the
functions a script needs (by name, together with the functions they call)
verbatim into the generated script.  Each one reproduces a piece of Keras 3
behaviour (``Model.fit`` / ``evaluate`` / ``predict``, the built-in losses
and metrics, a few utilities) in plain PyTorch + NumPy, so the code must stay
self-contained: only the imports below, nothing from tfpt.

Conventions of a translated model (an ``nn.Module``):

* ``model(x)`` returns exactly what the Keras model returns (probabilities
  after a softmax, etc.);
* ``model.compile(...)`` becomes ``model.optimizer = ...``,
  ``model.loss_fn = <loss below>`` and ``model.metric_fns = {name: fn}``
  whose keys are the names Keras shows in its logs;
* losses and metrics take ``(y_pred, y_true)``, the PyTorch argument order.

A translated model has one input array and one output (Sequential models) and
lives on the CPU; ``fit``/``evaluate``/``predict`` are only ever called with
the arguments in their signatures, so the helpers handle exactly that case.
"""

import math
import types

import numpy as np
import torch
import torch.nn.functional as F


# ---------------------------------------------------------------------------
# fit / evaluate / predict
# ---------------------------------------------------------------------------


def to_input(array):
    """Model inputs as Keras feeds them: cast to the Input's float32 (an Embedding casts back to int)."""
    return torch.as_tensor(np.asarray(array), dtype=torch.float32)


def to_tensor(array):
    """Targets as Keras feeds them: floats -> float32, integer labels -> int64."""
    tensor = torch.as_tensor(np.asarray(array))
    return tensor.float() if tensor.is_floating_point() else tensor.long()


def split_index(n, validation_split):
    """Where Keras's `validation_split` cuts: the last samples (before shuffling) validate; 0 or n is an error."""
    split_at = math.floor(n * (1.0 - validation_split))
    if split_at in (0, n):
        raise ValueError(f"{n} samples cannot be split with validation_split={validation_split}")
    return split_at


def add_batch(totals, model, output, target, loss):
    """Add a batch to per-sample sums, as Keras averages: the loss weighted by batch size, metrics per sample."""
    n = len(target)
    totals["loss"] += loss.item() * n
    for name, metric in model.metric_fns.items():
        totals[name] += metric(output.detach(), target).float().mean().item() * n


def format_logs(logs):
    """Keras's log line: `name: value` joined by " - ", 4 decimals (scientific at or below 1e-3)."""
    return " - ".join(f"{k}: {v:.4f}" if abs(v) > 1e-3 else f"{k}: {v:.4e}" for k, v in logs.items())


def fit(model, x, y, batch_size=None, epochs=1, verbose="auto", *, validation_split=0.0, validation_data=None,
        shuffle=True, initial_epoch=0, validation_batch_size=None, validation_freq=1):
    """Keras `Model.fit` on arrays: epoch means of loss and metrics, `val_*` from `evaluate`, log keys sorted."""
    x, y = to_input(x), to_tensor(y)
    batch_size = batch_size or 32
    if validation_split and validation_data is None:
        split_at = split_index(len(x), validation_split)
        x, y, validation_data = x[:split_at], y[:split_at], (x[split_at:], y[split_at:])
    history = {}
    for epoch in range(initial_epoch, epochs):
        if verbose:
            print(f"Epoch {epoch + 1}/{epochs}")
        model.train()
        totals = dict.fromkeys(["loss", *model.metric_fns], 0.0)
        order = torch.randperm(len(x)) if shuffle else torch.arange(len(x))
        for index in order.split(batch_size):
            inputs, target = x[index], y[index]
            output = model(inputs)
            loss = model.loss_fn(output, target)
            model.optimizer.zero_grad()
            loss.backward()
            model.optimizer.step()
            add_batch(totals, model, output, target, loss)
        logs = {name: total / len(x) for name, total in sorted(totals.items())}
        if validation_data is not None and (epoch + 1) % validation_freq == 0:
            x_val, y_val = validation_data
            val_logs = evaluate(model, x_val, y_val, validation_batch_size or batch_size, verbose=0, return_dict=True)
            logs.update({"val_" + name: value for name, value in val_logs.items()})
        if verbose:
            print(format_logs(logs))
        for name, value in logs.items():
            history.setdefault(name, []).append(value)
    return types.SimpleNamespace(history=history, epoch=list(range(initial_epoch, epochs)))


def evaluate(model, x, y, batch_size=None, verbose="auto", *, return_dict=False):
    """Keras `Model.evaluate`: the loss alone without metrics, else [loss, *metrics]; a sorted dict if asked."""
    x, y = to_input(x), to_tensor(y)
    batch_size = batch_size or 32
    model.eval()
    totals = dict.fromkeys(["loss", *model.metric_fns], 0.0)
    with torch.no_grad():
        for inputs, target in zip(x.split(batch_size), y.split(batch_size)):
            output = model(inputs)
            add_batch(totals, model, output, target, model.loss_fn(output, target))
    logs = {name: total / len(x) for name, total in sorted(totals.items())}
    if verbose:
        print(format_logs(logs))
    if return_dict:
        return logs
    if not model.metric_fns:
        return logs["loss"]
    return [logs["loss"]] + [logs[name] for name in model.metric_fns]


def predict(model, x, batch_size=None, verbose="auto"):
    """Keras `Model.predict`: batched inference in eval mode, returned as one NumPy array."""
    model.eval()
    with torch.no_grad():
        return torch.cat([model(inputs) for inputs in to_input(x).split(batch_size or 32)]).numpy()


# ---------------------------------------------------------------------------
# Losses: (y_pred, y_true) -> scalar mean over the batch, like Keras
# ---------------------------------------------------------------------------


def match_target(y_pred, y_true):
    """The target as Keras losses see it: the prediction's dtype and rank ((N,) vs (N, 1) never broadcasts)."""
    y_true = y_true.to(y_pred.dtype)
    if y_pred.dim() == y_true.dim() + 1 and y_pred.shape[-1] == 1:
        return y_true.unsqueeze(-1)
    if y_true.dim() == y_pred.dim() + 1 and y_true.shape[-1] == 1:
        return y_true.squeeze(-1)
    return y_true


def sparse_target(y_pred, y_true):
    """Integer labels as Keras's sparse losses and metrics read them: (N, 1) labels become (N,)."""
    if y_true.dim() == y_pred.dim():
        y_true = y_true.squeeze(-1)
    return y_true.long()


def mean_squared_error(y_pred, y_true):
    """keras.losses.mean_squared_error / MeanSquaredError()."""
    return F.mse_loss(y_pred, match_target(y_pred, y_true))


def mean_absolute_error(y_pred, y_true):
    """keras.losses.mean_absolute_error / MeanAbsoluteError()."""
    return F.l1_loss(y_pred, match_target(y_pred, y_true))


def binary_crossentropy(y_pred, y_true):
    """keras.losses.binary_crossentropy on probabilities, clipped to [1e-7, 1 - 1e-7] like Keras."""
    return F.binary_cross_entropy(y_pred.clamp(1e-7, 1 - 1e-7), match_target(y_pred, y_true))


def binary_crossentropy_from_logits(y_pred, y_true):
    """keras.losses.BinaryCrossentropy(from_logits=True)."""
    return F.binary_cross_entropy_with_logits(y_pred, match_target(y_pred, y_true))


def categorical_crossentropy(y_pred, y_true):
    """keras.losses.categorical_crossentropy on probabilities: renormalised, clipped to [1e-7, 1 - 1e-7] like Keras."""
    probs = (y_pred / y_pred.sum(dim=-1, keepdim=True)).clamp(1e-7, 1 - 1e-7)
    return -(y_true.to(y_pred.dtype) * probs.log()).sum(dim=-1).mean()


def categorical_crossentropy_from_logits(y_pred, y_true):
    """keras.losses.CategoricalCrossentropy(from_logits=True) with one-hot (or soft) targets."""
    # F.cross_entropy wants the classes on dim 1; Keras has them last.
    return F.cross_entropy(y_pred.movedim(-1, 1), y_true.to(y_pred.dtype).movedim(-1, 1))


def sparse_categorical_crossentropy(y_pred, y_true):
    """keras.losses.sparse_categorical_crossentropy on probabilities: Keras clips, takes the log, then softmax."""
    log_probs = y_pred.clamp(1e-7, 1 - 1e-7).log()
    return F.cross_entropy(log_probs.movedim(-1, 1), sparse_target(y_pred, y_true))


def sparse_categorical_crossentropy_from_logits(y_pred, y_true):
    """keras.losses.SparseCategoricalCrossentropy(from_logits=True)."""
    return F.cross_entropy(y_pred.movedim(-1, 1), sparse_target(y_pred, y_true))


# ---------------------------------------------------------------------------
# Metrics: (y_pred, y_true) -> per-sample values (fit/evaluate average them)
# ---------------------------------------------------------------------------


def categorical_accuracy(y_pred, y_true):
    """keras.metrics.categorical_accuracy: 1.0 where argmax(y_pred) == argmax(y_true)."""
    return (y_pred.argmax(dim=-1) == y_true.argmax(dim=-1)).float()


def sparse_categorical_accuracy(y_pred, y_true):
    """keras.metrics.sparse_categorical_accuracy: 1.0 where argmax(y_pred) equals the integer label."""
    return (y_pred.argmax(dim=-1) == sparse_target(y_pred, y_true)).float()


def binary_accuracy(y_pred, y_true, threshold=0.5):
    """keras.metrics.binary_accuracy: 1.0 where (y_pred > threshold) equals the 0/1 target."""
    return ((y_pred > threshold).to(y_pred.dtype) == match_target(y_pred, y_true)).float()


def accuracy(y_pred, y_true):
    """Keras's "accuracy": binary, sparse or categorical, chosen from the shapes at run time as Keras does."""
    if y_pred.shape[-1] == 1:
        return binary_accuracy(y_pred, y_true)
    if y_true.dim() < y_pred.dim() or y_true.shape[-1] == 1:
        return sparse_categorical_accuracy(y_pred, y_true)
    return categorical_accuracy(y_pred, y_true)


# ---------------------------------------------------------------------------
# Optimizers whose epsilon sits where Keras puts it (torch differs for tiny gradients)
# ---------------------------------------------------------------------------


class KerasEpsilon:
    """For torch's Adam family: move epsilon to where Keras adds it (before bias correction)."""

    def step(self, closure=None):
        # torch divides by sqrt(v_hat) + eps, Keras by sqrt(v) + eps: rescale eps every step
        for group in self.param_groups:
            group.setdefault("keras_eps", group["eps"])
            group["keras_step"] = group.get("keras_step", 0) + 1
            group["eps"] = group["keras_eps"] / math.sqrt(1 - group["betas"][1] ** group["keras_step"])
        return super().step(closure)


class KerasAdam(KerasEpsilon, torch.optim.Adam):
    """torch.optim.Adam with Keras' defaults and epsilon placement."""

    def __init__(self, params, lr=0.001, betas=(0.9, 0.999), eps=1e-07, amsgrad=False):
        super().__init__(params, lr=lr, betas=betas, eps=eps, amsgrad=amsgrad)


class KerasAdamW(KerasEpsilon, torch.optim.AdamW):
    """torch.optim.AdamW with Keras' defaults (weight_decay 0.004) and epsilon placement."""

    def __init__(self, params, lr=0.001, weight_decay=0.004, betas=(0.9, 0.999), eps=1e-07, amsgrad=False):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad)


class KerasRMSprop(torch.optim.Optimizer):
    """RMSprop as Keras computes it: epsilon inside the square root, rho 0.9."""

    def __init__(self, params, lr=0.001, rho=0.9, momentum=0.0, eps=1e-07, centered=False):
        super().__init__(params, dict(lr=lr, rho=rho, momentum=momentum, eps=eps, centered=centered))

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            rho, lr = group["rho"], group["lr"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state["velocity"] = torch.zeros_like(p)
                    state["average_grad"] = torch.zeros_like(p)
                    state["momentum"] = torch.zeros_like(p)
                velocity = state["velocity"].mul_(rho).addcmul_(p.grad, p.grad, value=1 - rho)
                denominator = velocity + group["eps"]
                if group["centered"]:
                    average = state["average_grad"].mul_(rho).add_(p.grad, alpha=1 - rho)
                    denominator = denominator - average.square()
                increment = lr * p.grad / denominator.sqrt()
                if group["momentum"] > 0:
                    increment = state["momentum"].mul_(group["momentum"]).add_(increment)
                p.sub_(increment)
        return loss


class KerasAdagrad(torch.optim.Optimizer):
    """Adagrad as Keras computes it: accumulator starts at 0.1, epsilon inside the square root."""

    def __init__(self, params, lr=0.001, initial_accumulator_value=0.1, eps=1e-07):
        super().__init__(params, dict(lr=lr, initial_accumulator_value=initial_accumulator_value, eps=eps))

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state["accumulator"] = torch.full_like(p, group["initial_accumulator_value"])
                accumulator = state["accumulator"].addcmul_(p.grad, p.grad)
                p.sub_(group["lr"] * p.grad / (accumulator + group["eps"]).sqrt())
        return loss


# ---------------------------------------------------------------------------
# Utilities
# ---------------------------------------------------------------------------


def to_categorical(y, num_classes=None, dtype="float32"):
    """keras.utils.to_categorical: one-hot encode integer labels; (N, 1) labels give (N, num_classes)."""
    y = np.asarray(y, dtype="int64")
    if y.ndim > 1 and y.shape[-1] == 1:
        y = y.squeeze(-1)
    return np.eye(num_classes or y.max() + 1, dtype=dtype)[y]


def set_random_seed(seed):
    """keras.utils.set_random_seed: seed Python's `random`, NumPy and PyTorch at once."""
    import random

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def summary(model):
    """Print a table of layers and parameter counts like Keras's `model.summary()` (buffers such as BatchNorm running statistics count as non-trainable, as in Keras)."""
    rows = []
    for name, module in model.named_modules():
        own_tensors = list(module.parameters(recurse=False)) + [
            buffer for buffer in module.buffers(recurse=False) if buffer.is_floating_point()
        ]
        is_leaf = next(module.children(), None) is None
        if name and (is_leaf or own_tensors):
            count = sum(tensor.numel() for tensor in own_tensors)
            rows.append((f"{name} ({type(module).__name__})", count))
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    frozen = sum(p.numel() for p in model.parameters() if not p.requires_grad)
    frozen += sum(b.numel() for b in model.buffers() if b.is_floating_point())
    width = max([len(label) for label, _ in rows] + [len("Layer (type)")]) + 2
    line = "=" * (width + 12)
    print(f'Model: "{type(model).__name__}"')
    print(f"{'Layer (type)':<{width}}{'Param #':>12}")
    print(line)
    for label, count in rows:
        print(f"{label:<{width}}{count:>12,}")
    print(line)
    print(f"Total params: {trainable + frozen:,}")
    print(f"Trainable params: {trainable:,}")
    print(f"Non-trainable params: {frozen:,}")
