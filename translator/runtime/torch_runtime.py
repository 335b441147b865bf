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
"""

import math
import types

import numpy as np
import torch
import torch.nn.functional as F


# ---------------------------------------------------------------------------
# Data handling
# ---------------------------------------------------------------------------


def to_tensor(data):
    """Convert NumPy data to tensors the way Keras feeds it: float64 -> float32, integers -> int64 (lists/tuples/dicts of arrays are converted element-wise)."""
    if data is None:
        return None
    if isinstance(data, dict):
        return {key: to_tensor(value) for key, value in data.items()}
    if isinstance(data, (list, tuple)) and all(
        isinstance(item, (np.ndarray, torch.Tensor)) for item in data
    ):
        return type(data)(to_tensor(item) for item in data)
    tensor = data if isinstance(data, torch.Tensor) else torch.as_tensor(np.asarray(data))
    if tensor.dtype == torch.float64:
        return tensor.float()
    if not tensor.dtype.is_floating_point and tensor.dtype != torch.bool:
        return tensor.long()
    return tensor


def num_samples(data):
    """Number of samples (first dimension) of a tensor or of the first tensor of a list/tuple/dict, like Keras's batch size."""
    if isinstance(data, dict):
        data = next(iter(data.values()))
    if isinstance(data, (list, tuple)):
        data = data[0]
    return data.shape[0]


def select_batch(data, index, device):
    """Take rows `index` of a tensor (or of every tensor in a list/tuple/dict) and move them to `device`."""
    if isinstance(data, dict):
        return {key: select_batch(value, index, device) for key, value in data.items()}
    if isinstance(data, (list, tuple)):
        return type(data)(select_batch(value, index, device) for value in data)
    return data[index].to(device)


def model_device(model):
    """Device holding the model's parameters (CPU for a model without parameters)."""
    for parameter in model.parameters():
        return parameter.device
    return torch.device("cpu")


def batch_indices(n, batch_size, shuffle=False):
    """Index tensors of consecutive batches (the last one may be smaller), like Keras's array adapter; shuffled afresh on every call when `shuffle`."""
    order = torch.randperm(n) if shuffle else torch.arange(n)
    return order.split(batch_size)


def train_validation_split(x, y, validation_split):
    """Split off the LAST `validation_split` fraction of the samples (before any shuffling) exactly as Keras's `validation_split` does."""
    n = num_samples(x)
    split_at = int(math.floor(n * (1.0 - validation_split)))
    if split_at == 0 or split_at == n:
        raise ValueError(
            f"Training data contains {n} samples, which is not sufficient to "
            f"split it into a validation and training set as specified by "
            f"`validation_split={validation_split}`."
        )
    train_index = torch.arange(0, split_at)
    val_index = torch.arange(split_at, n)
    cpu = torch.device("cpu")
    return (
        select_batch(x, train_index, cpu),
        select_batch(y, train_index, cpu),
        select_batch(x, val_index, cpu),
        select_batch(y, val_index, cpu),
    )


# ---------------------------------------------------------------------------
# Metric bookkeeping and log printing
# ---------------------------------------------------------------------------


def accumulate_mean(sums, counts, name, value, batch_size):
    """Add one batch to a running mean weighted like Keras's `Mean` metric: a scalar counts as `batch_size` samples (Keras's loss tracker), per-sample values count one each."""
    value = value.detach().float()
    if value.dim() == 0:
        total, count = value.item() * batch_size, batch_size
    else:
        per_sample = value.reshape(value.shape[0], -1).mean(dim=1)
        total, count = per_sample.sum().item(), per_sample.shape[0]
    sums[name] = sums.get(name, 0.0) + total
    counts[name] = counts.get(name, 0) + count


def format_logs(logs):
    """Format a logs dict like Keras's progress bar: `name: 0.1234` joined by ' - ' (4 decimals, scientific below 1e-3)."""
    parts = []
    for name, value in logs.items():
        if abs(value) > 1e-3:
            parts.append(f"{name}: {value:.4f}")
        else:
            parts.append(f"{name}: {value:.4e}")
    return " - ".join(parts)


def reject_unsupported(**arguments):
    """Fail loudly on Keras arguments this runtime does not reproduce (callbacks, sample weights, ...)."""
    for name, value in arguments.items():
        if value is not None:
            raise NotImplementedError(f"`{name}` is not supported by the translated training loop")


# ---------------------------------------------------------------------------
# fit / evaluate / predict
# ---------------------------------------------------------------------------


def fit(
    model,
    x=None,
    y=None,
    batch_size=None,
    epochs=1,
    verbose="auto",
    callbacks=None,
    validation_split=0.0,
    validation_data=None,
    shuffle=True,
    class_weight=None,
    sample_weight=None,
    initial_epoch=0,
    validation_batch_size=None,
    validation_freq=1,
):
    """Train like Keras 3 `Model.fit` on arrays: per-epoch sample-weighted mean loss/metrics, `val_*` logs, returns an object with `.history` and `.epoch`."""
    reject_unsupported(callbacks=callbacks, class_weight=class_weight, sample_weight=sample_weight)
    if y is None:
        raise ValueError("fit() needs targets `y` (generators and datasets are not supported)")
    batch_size = batch_size or 32
    x, y = to_tensor(x), to_tensor(y)
    if validation_data is not None:
        if len(validation_data) == 3 and validation_data[2] is not None:
            raise NotImplementedError("validation sample weights are not supported")
        x_val, y_val = validation_data[0], validation_data[1]
    elif validation_split:
        x, y, x_val, y_val = train_validation_split(x, y, validation_split)
    else:
        x_val = y_val = None
    metric_fns = getattr(model, "metric_fns", None) or {}
    device = model_device(model)
    steps = math.ceil(num_samples(x) / batch_size)
    history = {}
    epochs_run = []
    for epoch in range(initial_epoch, epochs):
        if verbose:
            print(f"Epoch {epoch + 1}/{epochs}")
        model.train()
        sums, counts = {}, {}
        for index in batch_indices(num_samples(x), batch_size, shuffle=bool(shuffle)):
            inputs = select_batch(x, index, device)
            target = select_batch(y, index, device)
            model.optimizer.zero_grad()
            output = model(inputs)
            loss = model.loss_fn(output, target)
            loss.backward()
            model.optimizer.step()
            n = len(index)
            accumulate_mean(sums, counts, "loss", loss, n)
            with torch.no_grad():
                for name, metric_fn in metric_fns.items():
                    accumulate_mean(sums, counts, name, metric_fn(output, target), n)
        # Keras sorts the log keys, so "accuracy" comes before "loss".
        logs = {name: sums[name] / counts[name] for name in sorted(sums)}
        if x_val is not None and (epoch + 1) % validation_freq == 0:
            val_logs = evaluate(
                model, x_val, y_val, batch_size=validation_batch_size or batch_size,
                verbose=0, return_dict=True,
            )
            logs.update({"val_" + name: value for name, value in val_logs.items()})
        for name, value in logs.items():
            history.setdefault(name, []).append(value)
        epochs_run.append(epoch)
        if verbose:
            print(f"{steps}/{steps} - {format_logs(logs)}")
    params = {"verbose": verbose, "epochs": epochs, "steps": steps}
    return types.SimpleNamespace(history=history, epoch=epochs_run, params=params, model=model)


def evaluate(
    model,
    x=None,
    y=None,
    batch_size=None,
    verbose="auto",
    sample_weight=None,
    steps=None,
    callbacks=None,
    return_dict=False,
):
    """Evaluate like Keras 3 `Model.evaluate`: the loss alone if there are no metrics, else `[loss, *metrics]` in compile order, or a dict with `return_dict`."""
    reject_unsupported(sample_weight=sample_weight, steps=steps, callbacks=callbacks)
    batch_size = batch_size or 32
    x, y = to_tensor(x), to_tensor(y)
    metric_fns = getattr(model, "metric_fns", None) or {}
    device = model_device(model)
    model.eval()
    sums, counts = {}, {}
    with torch.no_grad():
        for index in batch_indices(num_samples(x), batch_size):
            inputs = select_batch(x, index, device)
            target = select_batch(y, index, device)
            output = model(inputs)
            n = len(index)
            accumulate_mean(sums, counts, "loss", model.loss_fn(output, target), n)
            for name, metric_fn in metric_fns.items():
                accumulate_mean(sums, counts, name, metric_fn(output, target), n)
    logs = {name: sums[name] / counts[name] for name in sorted(sums)}
    if verbose:
        print(format_logs(logs))
    if return_dict:
        return logs
    if not metric_fns:
        return logs["loss"]
    return [logs["loss"]] + [logs[name] for name in metric_fns]


def predict(model, x, batch_size=None, verbose="auto"):
    """Predict like Keras `Model.predict`: batched inference in eval mode, outputs concatenated into a NumPy array (a list of arrays for multi-output models)."""
    batch_size = batch_size or 32
    x = to_tensor(x)
    device = model_device(model)
    model.eval()
    outputs = []
    with torch.no_grad():
        for index in batch_indices(num_samples(x), batch_size):
            outputs.append(model(select_batch(x, index, device)))
    if isinstance(outputs[0], (list, tuple)):
        return [torch.cat(parts).cpu().numpy() for parts in zip(*outputs)]
    return torch.cat(outputs).cpu().numpy()


# ---------------------------------------------------------------------------
# Losses: (y_pred, y_true) -> scalar, Keras's "sum_over_batch_size" reduction
# ---------------------------------------------------------------------------


def match_target_rank(y_pred, y_true):
    """Squeeze/expand a trailing size-1 axis so target and prediction have the same rank, as Keras does (a (N,) target with a (N, 1) output becomes (N, 1) instead of broadcasting to (N, N))."""
    if y_true.dim() == y_pred.dim() + 1 and y_true.shape[-1] == 1:
        if y_pred.dim() == 1:
            y_pred = y_pred.unsqueeze(-1)
        else:
            y_true = y_true.squeeze(-1)
    elif y_pred.dim() == y_true.dim() + 1 and y_pred.shape[-1] == 1:
        if y_true.dim() == 1:
            y_true = y_true.unsqueeze(-1)
        else:
            y_pred = y_pred.squeeze(-1)
    return y_pred, y_true


def sparse_target(y_pred, y_true):
    """Integer class targets as Keras's sparse losses/metrics read them: a trailing size-1 axis ((N, 1) labels) is dropped."""
    if y_true.dim() == y_pred.dim() and y_true.shape[-1] == 1:
        y_true = y_true.squeeze(-1)
    return y_true.long()


def mean_squared_error(y_pred, y_true):
    """keras.losses.mean_squared_error / MeanSquaredError(): mean of squared errors."""
    y_pred, y_true = match_target_rank(y_pred, y_true.to(y_pred.dtype))
    return F.mse_loss(y_pred, y_true)


def mean_absolute_error(y_pred, y_true):
    """keras.losses.mean_absolute_error / MeanAbsoluteError(): mean of absolute errors."""
    y_pred, y_true = match_target_rank(y_pred, y_true.to(y_pred.dtype))
    return F.l1_loss(y_pred, y_true)


def binary_crossentropy(y_pred, y_true):
    """keras.losses.binary_crossentropy on probabilities: predictions clipped to [1e-7, 1 - 1e-7] like Keras."""
    epsilon = 1e-7
    y_pred, y_true = match_target_rank(y_pred, y_true.to(y_pred.dtype))
    return F.binary_cross_entropy(y_pred.clamp(epsilon, 1.0 - epsilon), y_true)


def binary_crossentropy_from_logits(y_pred, y_true):
    """keras.losses.BinaryCrossentropy(from_logits=True)."""
    y_pred, y_true = match_target_rank(y_pred, y_true.to(y_pred.dtype))
    return F.binary_cross_entropy_with_logits(y_pred, y_true)


def categorical_crossentropy(y_pred, y_true):
    """keras.losses.categorical_crossentropy on probabilities (one-hot targets): Keras renormalises the last axis and clips to [1e-7, 1 - 1e-7]."""
    epsilon = 1e-7
    y_pred, y_true = match_target_rank(y_pred, y_true.to(y_pred.dtype))
    probs = y_pred / y_pred.sum(dim=-1, keepdim=True)
    probs = probs.clamp(epsilon, 1.0 - epsilon)
    return -(y_true * probs.log()).sum(dim=-1).mean()


def categorical_crossentropy_from_logits(y_pred, y_true):
    """keras.losses.CategoricalCrossentropy(from_logits=True) with one-hot (or soft) targets, classes on the last axis."""
    y_pred, y_true = match_target_rank(y_pred, y_true.to(y_pred.dtype))
    # F.cross_entropy wants classes on dim 1; Keras has them last.
    return F.cross_entropy(y_pred.movedim(-1, 1), y_true.movedim(-1, 1))


def sparse_categorical_crossentropy(y_pred, y_true):
    """keras.losses.sparse_categorical_crossentropy on probabilities with integer targets of shape (N,) or (N, 1): clip to [1e-7, 1 - 1e-7], log, softmax cross-entropy."""
    epsilon = 1e-7
    y_true = sparse_target(y_pred, y_true)
    log_probs = y_pred.clamp(epsilon, 1.0 - epsilon).log()
    return F.cross_entropy(log_probs.movedim(-1, 1), y_true)


def sparse_categorical_crossentropy_from_logits(y_pred, y_true):
    """keras.losses.SparseCategoricalCrossentropy(from_logits=True) with integer targets of shape (N,) or (N, 1)."""
    y_true = sparse_target(y_pred, y_true)
    return F.cross_entropy(y_pred.movedim(-1, 1), y_true)


# ---------------------------------------------------------------------------
# Metrics: (y_pred, y_true) -> per-sample values (fit/evaluate average them)
# ---------------------------------------------------------------------------


def categorical_accuracy(y_pred, y_true):
    """keras.metrics.categorical_accuracy: 1.0 where argmax(y_pred) == argmax(y_true) (one-hot targets)."""
    return (y_pred.argmax(dim=-1) == y_true.argmax(dim=-1)).float()


def sparse_categorical_accuracy(y_pred, y_true):
    """keras.metrics.sparse_categorical_accuracy: 1.0 where argmax(y_pred) equals the integer label ((N,) or (N, 1))."""
    y_true = sparse_target(y_pred, y_true)
    return (y_pred.argmax(dim=-1) == y_true).float()


def binary_accuracy(y_pred, y_true, threshold=0.5):
    """keras.metrics.binary_accuracy: 1.0 where (y_pred > threshold) equals the 0/1 target."""
    y_pred, y_true = match_target_rank(y_pred, y_true)
    return ((y_pred > threshold).to(y_true.dtype) == y_true).float()


def accuracy(y_pred, y_true):
    """Keras' "accuracy": binary, sparse or categorical, chosen from the shapes as Keras does."""
    if y_pred.shape[-1] == 1:
        return binary_accuracy(y_pred, y_true)
    if y_true.dim() < y_pred.dim() or y_true.shape[-1] == 1:
        return sparse_categorical_accuracy(y_pred, y_true)
    return categorical_accuracy(y_pred, y_true)


# ---------------------------------------------------------------------------
# Optimizers whose epsilon sits where Keras puts it (torch differs for tiny gradients)
# ---------------------------------------------------------------------------


class KerasAdam(torch.optim.Adam):
    """torch.optim.Adam with Keras' defaults and epsilon: Keras adds it before bias correction."""

    def __init__(self, params, lr=0.001, betas=(0.9, 0.999), eps=1e-07, amsgrad=False):
        super().__init__(params, lr=lr, betas=betas, eps=eps, amsgrad=amsgrad)
        self.keras_eps, self.steps = eps, 0

    def step(self, closure=None):
        # torch divides by sqrt(v_hat) + eps; Keras by sqrt(v) + eps: rescale eps per step
        self.steps += 1
        for group in self.param_groups:
            group["eps"] = self.keras_eps / math.sqrt(1 - group["betas"][1] ** self.steps)
        return super().step(closure)


class KerasAdamW(torch.optim.AdamW):
    """torch.optim.AdamW with Keras' defaults (weight_decay 0.004) and epsilon placement."""

    def __init__(self, params, lr=0.001, weight_decay=0.004, betas=(0.9, 0.999), eps=1e-07, amsgrad=False):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad)
        self.keras_eps, self.steps = eps, 0

    def step(self, closure=None):
        self.steps += 1
        for group in self.param_groups:
            group["eps"] = self.keras_eps / math.sqrt(1 - group["betas"][1] ** self.steps)
        return super().step(closure)


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
    """keras.utils.to_categorical: one-hot encode integer labels; a trailing size-1 axis ((N, 1) labels) is dropped."""
    y = np.array(y, dtype="int64")
    input_shape = y.shape
    if input_shape and input_shape[-1] == 1 and len(input_shape) > 1:
        input_shape = tuple(input_shape[:-1])
    y = y.reshape(-1)
    if not num_classes:
        num_classes = np.max(y) + 1
    categorical = np.zeros((y.shape[0], num_classes), dtype=dtype)
    categorical[np.arange(y.shape[0]), y] = 1
    return categorical.reshape(input_shape + (num_classes,))


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
