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


def to_inputs(x):
    """One input array, or a list of them where x is a list/tuple (a multi-input model, as Keras reads it)."""
    return [to_input(array) for array in x] if isinstance(x, (list, tuple)) else to_input(x)


def to_weights(sample_weight):
    """Per-sample loss weights as float32, or None."""
    return None if sample_weight is None else torch.as_tensor(np.asarray(sample_weight), dtype=torch.float32)


def call_model(model, inputs):
    """The model on one batch; a multi-input model gets its inputs as separate arguments."""
    return model(*inputs) if isinstance(inputs, list) else model(inputs)


def slice_arrays(data, index):
    """``data[index]`` for an array, for each array of a list/tuple (multi-input x), or None."""
    if data is None:
        return None
    if isinstance(data, (list, tuple)):
        return [array[index] for array in data]
    return data[index]


def is_batch_source(x):
    """Whether x yields ready-made batches (a DataLoader, a dataset, a generator) instead of being arrays to batch."""
    return hasattr(x, "__iter__") and not hasattr(x, "__array__") and not isinstance(x, (list, tuple, dict, str))


def unpack_batch(batch):
    """A batch from a data source as Keras unpacks it: x, (x,), (x, y) or (x, y, sample_weight)."""
    if isinstance(batch, (list, tuple)) and 1 <= len(batch) <= 3:
        return (*batch, None, None)[:3]
    return batch, None, None


def class_weights(y, class_weight):
    """keras' `class_weight` as per-sample weights: the weight of each sample's class (one-hot by argmax), 1 if absent."""
    labels = y
    if labels.dim() > 1:
        labels = labels.argmax(dim=-1) if labels.shape[-1] != 1 else labels.squeeze(-1)
    labels = labels.double().round().long()
    return torch.tensor([float(class_weight.get(int(label), 1.0)) for label in labels], dtype=torch.float32)


def split_index(n, validation_split):
    """Where Keras's `validation_split` cuts: the last samples (before shuffling) validate; 0 or n is an error."""
    split_at = math.floor(n * (1.0 - validation_split))
    if split_at in (0, n):
        raise ValueError(f"{n} samples cannot be split with validation_split={validation_split}")
    return split_at


class Batches:
    """The batches of `fit`/`evaluate`/`predict`, drawn as Keras's EpochIterator draws them.

    Arrays are cut into `batch_size` slices (a new permutation each pass when shuffling); a
    DataLoader, dataset or generator gives its own batches. With `steps`, an epoch takes that
    many batches and the next epoch goes on where it stopped; a pass whose length is known
    starts again once it is used up, and an epoch ends early when the data runs out.
    """

    def __init__(self, x, y=None, sample_weight=None, batch_size=None, shuffle=False, steps=None,
                 class_weight=None):
        if class_weight is not None and sample_weight is not None:
            raise ValueError("You cannot `class_weight` and `sample_weight` at the same time.")
        self.steps, self.shuffle, self.class_weight = steps, shuffle, class_weight
        self.iterator, self.seen = None, 0
        if is_batch_source(x):
            self.source = x
            try:
                self.num_batches = len(x)
            except TypeError:  # a generator, an endless Repeat: as many batches as it gives
                self.num_batches = None
            return
        self.source = None
        self.x, self.y = to_inputs(x), None if y is None else to_tensor(y)
        if class_weight is not None:
            sample_weight = class_weights(self.y, class_weight)
        self.weight = to_weights(sample_weight)
        self.size = len(self.x[0] if isinstance(self.x, list) else self.x)
        self.batch_size = batch_size or (math.ceil(self.size / steps) if steps else 32)
        self.num_batches = math.ceil(self.size / self.batch_size)

    def one_pass(self):
        """A fresh pass over the data: (inputs, target, sample weight) per batch."""
        if self.source is not None:
            for batch in self.source:
                x, y, weight = unpack_batch(batch)
                y = None if y is None else to_tensor(y)
                if self.class_weight is not None:
                    weight = class_weights(y, self.class_weight)
                yield to_inputs(x), y, to_weights(weight)
            return
        order = torch.randperm(self.size) if self.shuffle else torch.arange(self.size)
        for index in order.split(self.batch_size):
            yield slice_arrays(self.x, index), slice_arrays(self.y, index), slice_arrays(self.weight, index)

    def epoch(self):
        """The batches of one epoch."""
        steps = self.steps or self.num_batches
        if steps is None:
            yield from self.one_pass()
            return
        if self.iterator is None or self.steps is None:
            self.iterator, self.seen = self.one_pass(), 0
        for _ in range(steps):
            if self.num_batches and self.seen >= self.num_batches:
                break
            batch = next(self.iterator, None)
            if batch is None:
                import warnings

                warnings.warn("Your input ran out of data; interrupting training. Make sure that your dataset or "
                              "generator can generate at least `steps_per_epoch * epochs` batches.", stacklevel=2)
                self.iterator = None
                return
            self.seen += 1
            yield batch
        if self.num_batches and self.seen >= self.num_batches:
            self.iterator = None


def batch_loss(model, output, target, weight):
    """The compiled loss of one batch, sample-weighted when weights are given."""
    return model.loss_fn(output, target) if weight is None else model.loss_fn(output, target, weight)


def add_batch(totals, model, output, target, loss):
    """Add a batch to per-sample sums, as Keras averages: the loss weighted by batch size, metrics per sample (unweighted)."""
    n = len(target)
    totals["loss"] += loss.item() * n
    for name, metric in model.metric_fns.items():
        totals[name] += metric(output.detach(), target).float().mean().item() * n
    return n


def mean_logs(totals, count):
    """Running means of the sums, sorted by name as Keras's logs are (0 before the first batch)."""
    return {name: total / max(count, 1) for name, total in sorted(totals.items())}


def format_logs(logs):
    """Keras's log line: `name: value` joined by " - ", 4 decimals (scientific at or below 1e-3)."""
    return " - ".join(f"{k}: {v:.4f}" if abs(v) > 1e-3 else f"{k}: {v:.4e}" for k, v in logs.items())


def fit(model, x, y=None, batch_size=None, epochs=1, verbose="auto", *, callbacks=None, validation_split=0.0,
        validation_data=None, shuffle=True, class_weight=None, sample_weight=None, initial_epoch=0,
        steps_per_epoch=None, validation_steps=None, validation_batch_size=None, validation_freq=1):
    """Keras `Model.fit`: epoch means of loss and metrics, `val_*` from the validation data, log keys sorted,
    callbacks called where Keras calls them; `model.stop_training = True` stops after the batch."""
    if validation_split and validation_data is None:
        if is_batch_source(x):
            raise ValueError("validation_split is only supported for arrays, not for a dataset or generator")
        split_at = split_index(len(x[0] if isinstance(x, (list, tuple)) else x), validation_split)
        train, val = slice(None, split_at), slice(split_at, None)
        validation_data = (slice_arrays(x, val), slice_arrays(y, val), slice_arrays(sample_weight, val))
        x, y, sample_weight = slice_arrays(x, train), slice_arrays(y, train), slice_arrays(sample_weight, train)
    batches = Batches(x, y, sample_weight, batch_size, shuffle, steps_per_epoch, class_weight)
    if validation_data is not None:
        if is_batch_source(validation_data):
            validation_data = (validation_data,)
        val_x, val_y, val_weight = unpack_batch(tuple(validation_data))
        val_batches = Batches(val_x, val_y, val_weight, validation_batch_size or batch_size, steps=validation_steps)
    callbacks = list(callbacks or [])
    params = {"verbose": verbose, "epochs": epochs, "steps": steps_per_epoch or batches.num_batches}
    for callback in callbacks:
        callback.set_model(model)
        callback.set_params(params)
    history = types.SimpleNamespace(history={}, epoch=[], params=params)
    model.stop_training = False
    for callback in callbacks:
        callback.on_train_begin({})
    epoch_logs = None
    for epoch in range(initial_epoch, epochs):
        for callback in callbacks:
            callback.on_epoch_begin(epoch, {})
        if verbose:
            print(f"Epoch {epoch + 1}/{epochs}")
        model.train()
        totals, count = dict.fromkeys(["loss", *model.metric_fns], 0.0), 0
        for step, (inputs, target, weight) in enumerate(batches.epoch()):
            for callback in callbacks:
                callback.on_train_batch_begin(step, logs={})
            output = call_model(model, inputs)
            loss = batch_loss(model, output, target, weight)
            model.optimizer.zero_grad()
            loss.backward()
            model.optimizer.step()
            count += add_batch(totals, model, output, target, loss)
            batch_logs = mean_logs(totals, count)  # one dict: a callback's changes reach the next ones
            for callback in callbacks:
                callback.on_train_batch_end(step, logs=batch_logs)
            if model.stop_training:
                break
        epoch_logs = mean_logs(totals, count)
        if validation_data is not None and (epoch + 1) % validation_freq == 0:
            val_logs = evaluation_loop(model, val_batches, callbacks)
            epoch_logs = dict(sorted({**epoch_logs, **{"val_" + k: v for k, v in val_logs.items()}}.items()))
        logs = dict(epoch_logs)  # callbacks may add entries (learning_rate): History and the log line show them
        for callback in callbacks:
            callback.on_epoch_end(epoch, logs)
        if verbose:
            print(format_logs(logs))
        history.epoch.append(epoch)
        for name, value in logs.items():
            history.history.setdefault(name, []).append(value)
        if model.stop_training:
            break
    for callback in callbacks:
        callback.on_train_end(epoch_logs or {})
    return history


def evaluation_loop(model, batches, callbacks):
    """One pass of evaluation (Keras's test loop): mean loss and metrics, calling the test hooks."""
    batches.iterator = None  # every evaluation starts from the beginning of the data
    for callback in callbacks:
        callback.on_test_begin({})
    model.eval()
    totals, count = dict.fromkeys(["loss", *model.metric_fns], 0.0), 0
    with torch.no_grad():
        for step, (inputs, target, weight) in enumerate(batches.epoch()):
            for callback in callbacks:
                callback.on_test_batch_begin(step, logs={})
            output = call_model(model, inputs)
            count += add_batch(totals, model, output, target, batch_loss(model, output, target, weight))
            batch_logs = mean_logs(totals, count)
            for callback in callbacks:
                callback.on_test_batch_end(step, logs=batch_logs)
    logs = mean_logs(totals, count)
    for callback in callbacks:
        callback.on_test_end(logs)
    return logs


def evaluate(model, x, y=None, batch_size=None, verbose="auto", *, sample_weight=None, steps=None, callbacks=None,
             return_dict=False):
    """Keras `Model.evaluate`: the loss alone without metrics, else [loss, *metrics]; a sorted dict if asked."""
    batches = Batches(x, y, sample_weight, batch_size, steps=steps)
    callbacks = list(callbacks or [])
    for callback in callbacks:
        callback.set_model(model)
        callback.set_params({"verbose": verbose, "epochs": 1, "steps": steps or batches.num_batches})
    logs = evaluation_loop(model, batches, callbacks)
    if verbose:
        print(format_logs(logs))
    if return_dict:
        return logs
    if not model.metric_fns:
        return logs["loss"]
    return [logs["loss"]] + [logs[name] for name in model.metric_fns]


def predict(model, x, batch_size=None, verbose="auto", *, steps=None, callbacks=None):
    """Keras `Model.predict`: batched inference in eval mode, returned as one NumPy array (a list for several outputs)."""
    batches = Batches(x, batch_size=batch_size, steps=steps)
    callbacks = list(callbacks or [])
    for callback in callbacks:
        callback.set_model(model)
        callback.set_params({"verbose": verbose, "epochs": 1, "steps": steps or batches.num_batches})
        callback.on_predict_begin({})
    model.eval()
    outputs = []
    with torch.no_grad():
        for step, (inputs, _, _) in enumerate(batches.epoch()):
            for callback in callbacks:
                callback.on_predict_batch_begin(step, logs={})
            outputs.append(call_model(model, inputs))
            batch_logs = {"outputs": outputs[-1]}
            for callback in callbacks:
                callback.on_predict_batch_end(step, logs=batch_logs)
    for callback in callbacks:
        callback.on_predict_end({})
    if isinstance(outputs[0], (tuple, list)):  # a multi-output model: one array per output, as Keras returns
        return [torch.cat(parts).numpy() for parts in zip(*outputs)]
    return torch.cat(outputs).numpy()


# ---------------------------------------------------------------------------
# Losses: (y_pred, y_true[, sample_weight]) -> scalar, reduced like Keras ("sum_over_batch_size")
# ---------------------------------------------------------------------------


def weighted_mean(values, sample_weight=None):
    """Keras's loss reduction: per-sample losses times their weights, summed, divided by their count (not by the weights' sum)."""
    if sample_weight is not None:
        sample_weight = sample_weight.to(values.dtype)
        while sample_weight.dim() > values.dim() and sample_weight.shape[-1] == 1:
            sample_weight = sample_weight.squeeze(-1)
        while sample_weight.dim() < values.dim():
            sample_weight = sample_weight.unsqueeze(-1)
        values = values * sample_weight
    return values.mean() if values.numel() else values.sum()


def match_target(y_pred, y_true):
    """The target as Keras losses see it: the prediction's dtype and rank ((N,) vs (N, 1) never broadcasts)."""
    y_true = y_true.to(y_pred.dtype)
    if y_pred.dim() == y_true.dim() + 1 and y_pred.shape[-1] == 1:
        return y_true.unsqueeze(-1)
    if y_true.dim() == y_pred.dim() + 1 and y_true.shape[-1] == 1:
        return y_true.squeeze(-1)
    return y_true


def align(y_pred, y_true):
    """Prediction and target with the ranks Keras's losses give them ((N,) vs (N, 1) never broadcasts to (N, N))."""
    y_true = y_true.to(y_pred.dtype)
    if y_pred.dim() == y_true.dim() + 1 and y_pred.shape[-1] == 1:
        return (y_pred, y_true.unsqueeze(-1)) if y_true.dim() == 1 else (y_pred.squeeze(-1), y_true)
    if y_true.dim() == y_pred.dim() + 1 and y_true.shape[-1] == 1:
        return (y_pred.unsqueeze(-1), y_true) if y_pred.dim() == 1 else (y_pred, y_true.squeeze(-1))
    return y_pred, y_true


def sparse_target(y_pred, y_true):
    """Integer labels as Keras's sparse losses and metrics read them: (N, 1) labels become (N,)."""
    if y_true.dim() == y_pred.dim():
        y_true = y_true.squeeze(-1)
    return y_true.long()


def mean_squared_error(y_pred, y_true, sample_weight=None):
    """keras.losses.mean_squared_error / MeanSquaredError()."""
    values = F.mse_loss(*align(y_pred, y_true), reduction="none").mean(dim=-1)
    return weighted_mean(values, sample_weight)


def mean_absolute_error(y_pred, y_true, sample_weight=None):
    """keras.losses.mean_absolute_error / MeanAbsoluteError()."""
    values = F.l1_loss(*align(y_pred, y_true), reduction="none").mean(dim=-1)
    return weighted_mean(values, sample_weight)


def binary_crossentropy(y_pred, y_true, sample_weight=None):
    """keras.losses.binary_crossentropy on probabilities, clipped to [1e-7, 1 - 1e-7] like Keras."""
    y_pred, y_true = align(y_pred, y_true)
    values = F.binary_cross_entropy(y_pred.clamp(1e-7, 1 - 1e-7), y_true, reduction="none")
    return weighted_mean(values.mean(dim=-1), sample_weight)


def binary_crossentropy_from_logits(y_pred, y_true, sample_weight=None):
    """keras.losses.BinaryCrossentropy(from_logits=True)."""
    values = F.binary_cross_entropy_with_logits(*align(y_pred, y_true), reduction="none")
    return weighted_mean(values.mean(dim=-1), sample_weight)


def categorical_crossentropy(y_pred, y_true, sample_weight=None):
    """keras.losses.categorical_crossentropy on probabilities: renormalised, clipped to [1e-7, 1 - 1e-7] like Keras."""
    probs = (y_pred / y_pred.sum(dim=-1, keepdim=True)).clamp(1e-7, 1 - 1e-7)
    return weighted_mean(-(y_true.to(y_pred.dtype) * probs.log()).sum(dim=-1), sample_weight)


def categorical_crossentropy_from_logits(y_pred, y_true, sample_weight=None):
    """keras.losses.CategoricalCrossentropy(from_logits=True) with one-hot (or soft) targets."""
    # F.cross_entropy wants the classes on dim 1; Keras has them last.
    values = F.cross_entropy(y_pred.movedim(-1, 1), y_true.to(y_pred.dtype).movedim(-1, 1), reduction="none")
    return weighted_mean(values, sample_weight)


def sparse_categorical_crossentropy(y_pred, y_true, sample_weight=None):
    """keras.losses.sparse_categorical_crossentropy on probabilities: Keras clips, takes the log, then softmax."""
    log_probs = y_pred.clamp(1e-7, 1 - 1e-7).log()
    values = F.cross_entropy(log_probs.movedim(-1, 1), sparse_target(y_pred, y_true), reduction="none")
    return weighted_mean(values, sample_weight)


def sparse_categorical_crossentropy_from_logits(y_pred, y_true, sample_weight=None):
    """keras.losses.SparseCategoricalCrossentropy(from_logits=True)."""
    values = F.cross_entropy(y_pred.movedim(-1, 1), sparse_target(y_pred, y_true), reduction="none")
    return weighted_mean(values, sample_weight)


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
# Metric objects: keras.metrics.Mean, SparseCategoricalAccuracy, ... keep running totals across batches
# ---------------------------------------------------------------------------


def exact_accuracy(y_pred, y_true):
    """keras.metrics.accuracy (the `Accuracy` class): 1.0 where the prediction equals the target exactly."""
    return (y_pred == match_target(y_pred, y_true)).float()


def mean_squared_error_per_sample(y_pred, y_true):
    """keras.losses.mean_squared_error before the batch mean: what the MeanSquaredError metric averages."""
    return F.mse_loss(*align(y_pred, y_true), reduction="none").mean(dim=-1)


def mean_absolute_error_per_sample(y_pred, y_true):
    """keras.losses.mean_absolute_error before the batch mean: what the MeanAbsoluteError metric averages."""
    return F.l1_loss(*align(y_pred, y_true), reduction="none").mean(dim=-1)


def binary_crossentropy_per_sample(y_pred, y_true, from_logits=False, label_smoothing=0.0):
    """keras.losses.binary_crossentropy per sample (probabilities clipped to [1e-7, 1 - 1e-7] like Keras)."""
    y_true = y_true.to(y_pred.dtype)
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + 0.5 * label_smoothing
    if from_logits:
        values = F.binary_cross_entropy_with_logits(y_pred, y_true, reduction="none")
    else:
        values = F.binary_cross_entropy(y_pred.clamp(1e-7, 1 - 1e-7), y_true, reduction="none")
    return values.mean(dim=-1)


def categorical_crossentropy_per_sample(y_pred, y_true, from_logits=False, label_smoothing=0.0):
    """keras.losses.categorical_crossentropy per sample: probabilities renormalised and clipped like Keras."""
    y_true = y_true.to(y_pred.dtype)
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + label_smoothing / y_true.shape[-1]
    if from_logits:
        return -(y_true * y_pred.log_softmax(dim=-1)).sum(dim=-1)
    probs = (y_pred / y_pred.sum(dim=-1, keepdim=True)).clamp(1e-7, 1 - 1e-7)
    return -(y_true * probs.log()).sum(dim=-1)


def sparse_categorical_crossentropy_per_sample(y_pred, y_true, from_logits=False):
    """keras.losses.sparse_categorical_crossentropy per sample (probabilities clipped, log, softmax, like Keras)."""
    logits = y_pred if from_logits else y_pred.clamp(1e-7, 1 - 1e-7).log()
    return F.cross_entropy(logits.movedim(-1, 1), sparse_target(y_pred, y_true), reduction="none")


def samplewise_values(values, sample_weight, reduce):
    """Keras's reduce_to_samplewise_values: float32 values (detached) and weights brought to one value per sample.

    Weights apply at their own rank (values are first reduced to it), and axes past the first
    are reduced (`reduce` is torch.mean for Mean, torch.sum for Sum); a scalar weight reduces the
    whole batch to one weighted value.
    """
    values = torch.as_tensor(values).detach().float()
    if sample_weight is not None:
        sample_weight = torch.as_tensor(sample_weight, device=values.device).detach().float()
        sample_weight, values = align(sample_weight, values)  # Keras's squeeze_or_expand_to_same_rank(values, weights)
        weight_dims = sample_weight.dim()
        if values.dim() > weight_dims:
            values = reduce(values, dim=tuple(range(weight_dims, values.dim())))
        sample_weight = sample_weight.broadcast_to(values.shape)
        values = values * sample_weight
        if weight_dims > 1:
            sample_weight = reduce(sample_weight, dim=tuple(range(1, weight_dims)))
    if values.dim() > 1:
        values = reduce(values, dim=tuple(range(1, values.dim())))
    return values, sample_weight


class Metric:
    """keras.metrics.Metric: `update_state(...)` with each batch, `result()`, `reset_state()`; `.name` as given.

    Calling a metric updates it and returns the result so far, as Keras does. Totals are float32
    0-d tensors, like Keras's metric variables, and never hold on to an autograd graph.
    """

    def __init__(self, name):
        self.name = name
        self.reset_state()

    def __call__(self, *args, **kwargs):
        self.update_state(*args, **kwargs)
        return self.result()


class Sum(Metric):
    """keras.metrics.Sum: the (sample-weighted) sum of every value given since the last reset."""

    def __init__(self, name="sum"):
        super().__init__(name)

    def reset_state(self):
        self.total = torch.tensor(0.0)

    def update_state(self, values, sample_weight=None):
        values, _ = samplewise_values(values, sample_weight, torch.sum)
        self.total = self.total + values.sum()

    def result(self):
        return self.total.clone()  # a new tensor, as Keras returns: `result += 1` must not change the metric


class Mean(Metric):
    """keras.metrics.Mean: the (sample-weighted) mean of every value given since the last reset; 0 before any."""

    def __init__(self, name="mean"):
        super().__init__(name)

    def reset_state(self):
        self.total, self.count = torch.tensor(0.0), torch.tensor(0.0)

    def update_state(self, values, sample_weight=None):
        values, sample_weight = samplewise_values(values, sample_weight, torch.mean)
        self.total = self.total + values.sum()
        if sample_weight is not None:
            self.count = self.count + sample_weight.sum()
        else:
            self.count = self.count + (len(values) if values.dim() else 1)

    def result(self):
        return torch.where(self.count == 0, 0.0, self.total / self.count)  # Keras's divide_no_nan


class MeanMetricWrapper(Mean):
    """keras.metrics.MeanMetricWrapper: the mean of `fn(y_pred, y_true)` per sample (torch's argument order)."""

    def __init__(self, fn, name, **kwargs):
        self.fn, self.kwargs = fn, kwargs
        super().__init__(name)

    def update_state(self, y_pred, y_true, sample_weight=None):
        y_pred = torch.as_tensor(y_pred).detach()
        y_true = torch.as_tensor(y_true, device=y_pred.device).detach()
        super().update_state(self.fn(y_pred, y_true, **self.kwargs), sample_weight)


class Accuracy(MeanMetricWrapper):
    """keras.metrics.Accuracy: how often the prediction equals the target exactly."""

    def __init__(self, name="accuracy"):
        super().__init__(exact_accuracy, name)


class BinaryAccuracy(MeanMetricWrapper):
    """keras.metrics.BinaryAccuracy: how often (y_pred > threshold) equals the 0/1 target."""

    def __init__(self, name="binary_accuracy", threshold=0.5):
        super().__init__(binary_accuracy, name, threshold=threshold)
        self.threshold = threshold


class CategoricalAccuracy(MeanMetricWrapper):
    """keras.metrics.CategoricalAccuracy: how often argmax(y_pred) equals argmax of the one-hot target."""

    def __init__(self, name="categorical_accuracy"):
        super().__init__(categorical_accuracy, name)


class SparseCategoricalAccuracy(MeanMetricWrapper):
    """keras.metrics.SparseCategoricalAccuracy: how often argmax(y_pred) equals the integer label."""

    def __init__(self, name="sparse_categorical_accuracy"):
        super().__init__(sparse_categorical_accuracy, name)


class MeanSquaredError(MeanMetricWrapper):
    """keras.metrics.MeanSquaredError: the mean over samples of the squared error (averaged over the last axis)."""

    def __init__(self, name="mean_squared_error"):
        super().__init__(mean_squared_error_per_sample, name)


class MeanAbsoluteError(MeanMetricWrapper):
    """keras.metrics.MeanAbsoluteError: the mean over samples of the absolute error (averaged over the last axis)."""

    def __init__(self, name="mean_absolute_error"):
        super().__init__(mean_absolute_error_per_sample, name)


class BinaryCrossentropy(MeanMetricWrapper):
    """keras.metrics.BinaryCrossentropy: the mean binary crossentropy over samples."""

    def __init__(self, name="binary_crossentropy", from_logits=False, label_smoothing=0):
        super().__init__(binary_crossentropy_per_sample, name, from_logits=from_logits,
                         label_smoothing=label_smoothing)


class CategoricalCrossentropy(MeanMetricWrapper):
    """keras.metrics.CategoricalCrossentropy: the mean crossentropy against one-hot (or soft) targets."""

    def __init__(self, name="categorical_crossentropy", from_logits=False, label_smoothing=0):
        super().__init__(categorical_crossentropy_per_sample, name, from_logits=from_logits,
                         label_smoothing=label_smoothing)


class SparseCategoricalCrossentropy(MeanMetricWrapper):
    """keras.metrics.SparseCategoricalCrossentropy: the mean crossentropy against integer labels."""

    def __init__(self, name="sparse_categorical_crossentropy", from_logits=False):
        super().__init__(sparse_categorical_crossentropy_per_sample, name, from_logits=from_logits)


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


def pad_sequences(sequences, maxlen=None, dtype="int32", padding="pre", truncating="pre", value=0.0):
    """keras.utils.pad_sequences: a (len(sequences), maxlen) NumPy array; by default padded and truncated at the start."""
    lengths, sample_shape = [], None
    for sequence in sequences:
        lengths.append(len(sequence))
        if sample_shape is None and len(sequence):
            sample_shape = np.asarray(sequence).shape[1:]  # from the first non-empty sequence
    sample_shape = sample_shape or ()
    if maxlen is None:
        maxlen = np.max(lengths)
    is_text = np.issubdtype(dtype, np.str_) or np.issubdtype(dtype, np.bytes_)
    if isinstance(value, str) and dtype is not object and not is_text:
        raise ValueError(f"`dtype` {dtype} is not compatible with `value`'s type: {type(value)}\n"
                         "You should set `dtype=object` for variable length strings.")
    x = np.full((len(sequences), maxlen) + sample_shape, value, dtype=dtype)
    for i, sequence in enumerate(sequences):
        if not len(sequence):
            continue
        if truncating == "pre":
            kept = sequence[-maxlen:]
        elif truncating == "post":
            kept = sequence[:maxlen]
        else:
            raise ValueError(f'Truncating type "{truncating}" not understood')
        kept = np.asarray(kept, dtype=dtype)
        if kept.shape[1:] != sample_shape:
            raise ValueError(f"Shape of sample {kept.shape[1:]} of sequence at position {i} is different from "
                             f"expected shape {sample_shape}")
        if padding == "post":
            x[i, :len(kept)] = kept
        elif padding == "pre":
            x[i, -len(kept):] = kept
        else:
            raise ValueError(f'Padding type "{padding}" not understood')
    return x


class MapDataset(torch.utils.data.Dataset):
    """tf.data's `.map(fn)` before batching: `fn` applied to each element as it is read."""

    def __init__(self, dataset, fn):
        self.dataset, self.fn = dataset, fn

    def __len__(self):
        return len(self.dataset)

    def __getitem__(self, index):
        element = self.fn(*self.dataset[index])
        return element if isinstance(element, tuple) else (element,)


class Repeat:
    """tf.data's `.repeat(count)` on batches: `count` passes over a DataLoader (forever when None), each reshuffled."""

    def __init__(self, batches, count=None):
        self.batches, self.count = batches, count

    def __len__(self):
        if self.count is None:
            raise TypeError("an endlessly repeated dataset has no length")
        return len(self.batches) * self.count

    def __iter__(self):
        passes = 0
        while self.count is None or passes < self.count:
            yield from self.batches
            passes += 1


# ---------------------------------------------------------------------------
# Callbacks: keras.callbacks with Keras's hook names and semantics
# ---------------------------------------------------------------------------


class Callback:
    """keras.callbacks.Callback: `fit`, `evaluate` and `predict` call these hooks where Keras does.

    `self.model` is the torch model and `self.params` holds verbose/epochs/steps; setting
    `self.model.stop_training = True` ends training after the current batch or epoch.
    """

    def __init__(self):
        self.model = None
        self.params = {}

    def set_model(self, model):
        self.model = model

    def set_params(self, params):
        self.params = params

    def on_train_begin(self, logs=None):
        pass

    def on_train_end(self, logs=None):
        pass

    def on_epoch_begin(self, epoch, logs=None):
        pass

    def on_epoch_end(self, epoch, logs=None):
        pass

    def on_batch_begin(self, batch, logs=None):
        pass

    def on_batch_end(self, batch, logs=None):
        pass

    def on_train_batch_begin(self, batch, logs=None):
        self.on_batch_begin(batch, logs=logs)

    def on_train_batch_end(self, batch, logs=None):
        self.on_batch_end(batch, logs=logs)

    def on_test_begin(self, logs=None):
        pass

    def on_test_end(self, logs=None):
        pass

    def on_test_batch_begin(self, batch, logs=None):
        pass

    def on_test_batch_end(self, batch, logs=None):
        pass

    def on_predict_begin(self, logs=None):
        pass

    def on_predict_end(self, logs=None):
        pass

    def on_predict_batch_begin(self, batch, logs=None):
        pass

    def on_predict_batch_end(self, batch, logs=None):
        pass


class History(Callback):
    """keras.callbacks.History: `history` maps each log name to its value per epoch (fit also returns one)."""

    def __init__(self):
        super().__init__()
        self.history = {}

    def on_train_begin(self, logs=None):
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for name, value in (logs or {}).items():
            self.history.setdefault(name, []).append(value)


def learning_rate(optimizer):
    """The learning rate as Keras reports it: Keras keeps it in a float32 variable."""
    return float(np.float32(optimizer.param_groups[0]["lr"]))


def set_learning_rate(optimizer, value):
    """`optimizer.learning_rate = value` for every parameter group."""
    for group in optimizer.param_groups:
        group["lr"] = value


def weights_copy(model):
    """A copy of all the model's weights and buffers (Keras's `get_weights()`)."""
    return {name: tensor.detach().clone() for name, tensor in model.state_dict().items()}


class MonitorCallback(Callback):
    """Keras's MonitorCallback: is a monitored log value better than the best so far (by more than `min_delta`)?"""

    def __init__(self, monitor="val_loss", mode="auto", baseline=None, min_delta=0):
        super().__init__()
        if mode not in ("auto", "min", "max"):
            import warnings

            warnings.warn(f"{type(self).__name__} mode '{mode}' is unknown, fallback to auto mode.", stacklevel=2)
            mode = "auto"
        self.monitor, self.mode, self.best, self.min_delta = monitor, mode, baseline, abs(min_delta)
        self.monitor_op = None

    def set_monitor_op(self):
        """min or max; "auto" reads the direction from the monitored loss or metric, as Keras does."""
        mode = self.mode
        if mode == "auto":
            name = self.monitor.removeprefix("val_")
            metric = getattr(getattr(self.model, "metric_fns", {}).get(name), "__name__", "")
            if name == "loss" or metric in ("mean_squared_error", "mean_absolute_error"):
                mode = "min"
            elif metric.endswith("accuracy"):
                mode = "max"
            else:
                raise ValueError(f"{type(self).__name__} callback received monitor={self.monitor}, but Keras isn't "
                                 "able to automatically determine whether that metric should be maximized or "
                                 "minimized. Pass `mode='max'` in order to monitor based on the highest metric "
                                 "value, or pass `mode='min'` in order to use the lowest value.")
        self.monitor_op = (lambda a, b: a < b) if mode == "min" else (lambda a, b: a > b)
        if mode == "min":
            self.min_delta *= -1

    def is_improvement(self, value, reference):
        return reference is None or self.monitor_op(value - self.min_delta, reference)


class EarlyStopping(MonitorCallback):
    """keras.callbacks.EarlyStopping: stop when `monitor` has not improved for `patience` epochs (never after the first).

    `restore_best_weights` loads the best epoch's weights when training ends, stopped or
    not; with a `baseline`, only epochs that also beat it reset the wait.
    """

    def __init__(self, monitor="val_loss", min_delta=0, patience=0, verbose=0, mode="auto", baseline=None,
                 restore_best_weights=False, start_from_epoch=0):
        super().__init__(monitor, mode, min_delta=min_delta)
        self.patience, self.verbose, self.baseline = patience, verbose, baseline
        self.restore_best_weights, self.start_from_epoch = restore_best_weights, start_from_epoch
        self.wait, self.stopped_epoch, self.best_weights = 0, 0, None

    def on_train_begin(self, logs=None):
        self.wait, self.stopped_epoch, self.best, self.best_weights, self.best_epoch = 0, 0, None, None, 0

    def on_epoch_end(self, epoch, logs=None):
        if self.monitor_op is None:
            self.set_monitor_op()
        current = (logs or {}).get(self.monitor)
        if current is None:
            import warnings

            warnings.warn(f"Early stopping conditioned on metric `{self.monitor}` which is not available. "
                          f"Available metrics are: {','.join(logs or {})}", stacklevel=2)
        if current is None or epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights, self.best_epoch = weights_copy(self.model), epoch
        self.wait += 1
        if self.is_improvement(current, self.best):
            self.best, self.best_epoch = current, epoch
            if self.restore_best_weights:
                self.best_weights = weights_copy(self.model)
            if self.baseline is None or self.is_improvement(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose > 0:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                print(f"Restoring model weights from the end of the best epoch: {self.best_epoch + 1}.")
            self.model.load_state_dict(self.best_weights)


class ModelCheckpoint(MonitorCallback):
    """keras.callbacks.ModelCheckpoint: `torch.save(model.state_dict(), path)` every epoch (or every `save_freq`
    batches), the path formatted with `epoch` (from 1) and the logs; `save_best_only` saves improvements only.

    The translated model class is the architecture, so full saves and weights-only saves
    both write the state dict.
    """

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False, save_weights_only=False,
                 mode="auto", save_freq="epoch", initial_value_threshold=None):
        super().__init__(monitor, mode, initial_value_threshold)
        if save_freq != "epoch" and not isinstance(save_freq, int):
            raise ValueError(f"Unrecognized save_freq: {save_freq}. Expected save_freq are 'epoch' or integer values")
        self.filepath, self.verbose, self.save_freq = str(filepath), verbose, save_freq
        self.save_best_only, self.save_weights_only = save_best_only, save_weights_only
        self.batches_since_save, self.last_batch, self.current_epoch = 0, None, 0

    def on_epoch_begin(self, epoch, logs=None):
        self.current_epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.save_freq == "epoch":
            return
        new_epoch = self.last_batch is None or batch <= self.last_batch
        self.batches_since_save += batch + 1 if new_epoch else batch - self.last_batch
        self.last_batch = batch
        if self.batches_since_save >= self.save_freq:
            self.batches_since_save = 0
            self.save(self.current_epoch, batch, logs)

    def on_epoch_end(self, epoch, logs=None):
        if self.monitor_op is None:
            self.set_monitor_op()
        if self.save_freq == "epoch":
            self.save(epoch, None, logs)

    def save(self, epoch, batch, logs):
        """Format the path, decide like Keras, write the state dict."""
        import os

        logs = logs or {}
        if batch is None or "batch" in logs:
            path = self.filepath.format(epoch=epoch + 1, **logs)
        else:
            path = self.filepath.format(epoch=epoch + 1, batch=batch + 1, **logs)
        if self.save_best_only:
            current = logs.get(self.monitor)
            if current is None:
                import warnings

                warnings.warn(f"Can save best model only with {self.monitor} available.", stacklevel=2)
            else:
                if self.monitor_op is None:
                    self.set_monitor_op()
                best = "None" if self.best is None else f"{self.best:.5f}"
                if not self.is_improvement(current, self.best):
                    if self.verbose > 0:
                        print(f"\nEpoch {epoch + 1}: {self.monitor} did not improve from {best}")
                    return
                if self.verbose > 0:
                    print(f"\nEpoch {epoch + 1}: {self.monitor} improved from {best} to {current:.5f}, "
                          f"saving model to {path}")
                self.best = current
        elif self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: saving model to {path}")
        if os.path.dirname(path):
            os.makedirs(os.path.dirname(path), exist_ok=True)
        torch.save(self.model.state_dict(), path)
        if self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: finished saving model to {path}")


class ReduceLROnPlateau(MonitorCallback):
    """keras.callbacks.ReduceLROnPlateau: multiply the learning rate by `factor` (not below `min_lr`) after
    `patience` epochs without improvement, then wait `cooldown` epochs; logs `learning_rate` every epoch."""

    def __init__(self, monitor="val_loss", factor=0.1, patience=10, verbose=0, mode="auto", min_delta=1e-4,
                 cooldown=0, min_lr=0.0, **kwargs):
        super().__init__(monitor, mode, min_delta=min_delta)
        if factor >= 1.0:
            raise ValueError(f"ReduceLROnPlateau does not support a factor >= 1.0. Received factor={factor}")
        self.factor, self.min_lr, self.patience, self.verbose, self.cooldown = factor, min_lr, patience, verbose, cooldown
        self.cooldown_counter, self.wait = 0, 0

    def on_train_begin(self, logs=None):
        self.best, self.cooldown_counter, self.wait = None, 0, 0

    def on_epoch_end(self, epoch, logs=None):
        if self.monitor_op is None:
            self.set_monitor_op()
        logs = {} if logs is None else logs
        logs["learning_rate"] = learning_rate(self.model.optimizer)
        current = logs.get(self.monitor)
        if current is None:
            import warnings

            warnings.warn(f"Learning rate reduction is conditioned on metric `{self.monitor}` which is not "
                          f"available. Available metrics are: {','.join(logs)}.", stacklevel=2)
            return
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if self.is_improvement(current, self.best):
            self.best, self.wait = current, 0
        elif not self.cooldown_counter > 0:
            self.wait += 1
            if self.wait >= self.patience:
                old_lr = learning_rate(self.model.optimizer)
                if old_lr > np.float32(self.min_lr):
                    new_lr = max(old_lr * self.factor, self.min_lr)
                    set_learning_rate(self.model.optimizer, new_lr)
                    if self.verbose > 0:
                        print(f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to {new_lr}.")
                    self.cooldown_counter, self.wait = self.cooldown, 0


class LearningRateScheduler(Callback):
    """keras.callbacks.LearningRateScheduler: before each epoch the learning rate becomes `schedule(epoch, lr)`
    (or `schedule(epoch)`); logs `learning_rate` every epoch."""

    def __init__(self, schedule, verbose=0):
        super().__init__()
        self.schedule, self.verbose = schedule, verbose

    def on_epoch_begin(self, epoch, logs=None):
        try:
            lr = self.schedule(epoch, learning_rate(self.model.optimizer))
        except TypeError:  # the one-argument form
            lr = self.schedule(epoch)
        if not isinstance(lr, (float, np.float32, np.float64)):
            raise ValueError(f"The output of the `schedule` function should be a float. Got: {lr}")
        set_learning_rate(self.model.optimizer, float(lr))
        if self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to {lr}.")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = learning_rate(self.model.optimizer)


class CSVLogger(Callback):
    """keras.callbacks.CSVLogger: one row per epoch, `epoch` then the sorted log names, written like Keras's file."""

    def __init__(self, filename, separator=",", append=False):
        super().__init__()
        self.sep, self.filename, self.append = separator, str(filename), append
        self.writer, self.keys, self.csv_file, self.append_header = None, None, None, True

    def on_train_begin(self, logs=None):
        import os

        if self.append and os.path.exists(self.filename):
            with open(self.filename) as f:
                self.append_header = not f.readline()
        if self.csv_file and not self.csv_file.closed:
            self.csv_file.close()
        self.csv_file = open(self.filename, "a" if self.append else "w", newline="")
        self.writer, self.keys = None, None

    def on_epoch_end(self, epoch, logs=None):
        import csv

        logs = logs or {}
        if self.keys is None:
            self.keys = sorted(logs)
            if self.keys and not any(key.startswith("val_") for key in self.keys):
                self.keys.extend([f"val_{key}" for key in self.keys])  # Keras's columns for a later validation
        if not self.writer:
            dialect = type("CustomDialect", (csv.excel,), {"delimiter": self.sep})
            self.writer = csv.DictWriter(self.csv_file, fieldnames=["epoch", *self.keys], dialect=dialect)
            if self.append_header:
                self.writer.writeheader()

        def value(v):
            if isinstance(v, str) or not hasattr(v, "__iter__") or getattr(v, "ndim", 1) == 0:
                return v
            return f'"[{", ".join(map(str, v))}]"'

        self.writer.writerow({"epoch": epoch, **{key: value(logs.get(key, "NA")) for key in self.keys}})
        self.csv_file.flush()

    def on_train_end(self, logs=None):
        if self.csv_file and not self.csv_file.closed:
            self.csv_file.close()
        self.writer = None


class TensorBoard(Callback):
    """keras.callbacks.TensorBoard's scalars through torch.utils.tensorboard.SummaryWriter.

    Like Keras: `epoch_<name>` per epoch (log_dir/train with the learning rate, log_dir/validation
    for `val_*`), `batch_<name>` every `update_freq` batches, and `evaluation_<name>_vs_iterations`
    after each evaluation. The model graph, histograms, images and profiling are not written.
    """

    def __init__(self, log_dir="logs", histogram_freq=0, write_graph=True, write_images=False,
                 write_steps_per_second=False, update_freq="epoch", profile_batch=0, embeddings_freq=0,
                 embeddings_metadata=None):
        super().__init__()
        self.log_dir = str(log_dir)
        self.update_freq = 1 if update_freq == "batch" else update_freq
        self.writers, self.global_train_batch, self.iterations = {}, 0, 0

    def writer(self, name):
        """The SummaryWriter for log_dir/train or log_dir/validation, made when first needed."""
        if name not in self.writers:
            import os

            from torch.utils.tensorboard import SummaryWriter

            self.writers[name] = SummaryWriter(os.path.join(self.log_dir, name))
        return self.writers[name]

    def on_train_begin(self, logs=None):
        self.global_train_batch = 0

    def on_train_batch_begin(self, batch, logs=None):
        self.global_train_batch += 1

    def on_train_batch_end(self, batch, logs=None):
        self.iterations += 1  # the optimizer's step count, kept across fits
        if self.update_freq != "epoch" and self.global_train_batch % self.update_freq == 0:
            for name, value in (logs or {}).items():
                self.writer("train").add_scalar(f"batch_{name}", value, self.global_train_batch)

    def on_test_end(self, logs=None):
        for name, value in (logs or {}).items():
            self.writer("validation").add_scalar(f"evaluation_{name}_vs_iterations", value, self.iterations)

    def on_epoch_end(self, epoch, logs=None):
        if not logs:
            return
        train = {name: value for name, value in logs.items() if not name.startswith("val_")}
        train["learning_rate"] = learning_rate(self.model.optimizer)
        for name, value in train.items():
            self.writer("train").add_scalar(f"epoch_{name}", value, epoch)
        for name, value in logs.items():
            if name.startswith("val_"):
                self.writer("validation").add_scalar(f"epoch_{name[4:]}", value, epoch)

    def on_train_end(self, logs=None):
        for writer in self.writers.values():
            writer.close()
        self.writers = {}


class TerminateOnNaN(Callback):
    """keras.callbacks.TerminateOnNaN: stop (or raise) when a batch's running loss is NaN or infinite."""

    def __init__(self, raise_error=False):
        super().__init__()
        self.raise_error = raise_error

    def on_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and (np.isnan(loss) or np.isinf(loss)):
            if self.raise_error:
                raise RuntimeError(f"NaN or Inf loss encountered at batch {batch}. Loss value: {loss}. "
                                   "Terminating training immediately.")
            print(f"Batch {batch}: Invalid loss, terminating training")
            self.model.stop_training = True


class LambdaCallback(Callback):
    """keras.callbacks.LambdaCallback: the hooks given as functions (other hooks by keyword, e.g. on_batch_end)."""

    def __init__(self, on_epoch_begin=None, on_epoch_end=None, on_train_begin=None, on_train_end=None,
                 on_train_batch_begin=None, on_train_batch_end=None, **kwargs):
        super().__init__()
        self.__dict__.update(kwargs)
        hooks = {"on_epoch_begin": on_epoch_begin, "on_epoch_end": on_epoch_end, "on_train_begin": on_train_begin,
                 "on_train_end": on_train_end, "on_train_batch_begin": on_train_batch_begin,
                 "on_train_batch_end": on_train_batch_end}
        self.__dict__.update({name: hook for name, hook in hooks.items() if hook is not None})
