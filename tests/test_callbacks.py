"""The runtime's callbacks against real Keras callbacks, run through both `fit` loops.

Each case trains a tiny Keras model and its torch twin (same weights, same unshuffled
batches, SGD) with the callback under test. Monitored values are either real (the two
models' losses agree to ~1e-6) or scripted: a callback placed first overwrites
``logs[monitor]`` with a fixed sequence on both sides (Keras hands every callback the same
logs dict), so decisions such as the stop epoch depend on the callback logic alone.
"""

from __future__ import annotations

import csv
import math
import os
import sys
import types

import numpy as np
import pytest
import torch
from torch import nn

from test_torch_runtime import load_runtime

rt = load_runtime()


@pytest.fixture(scope="module")
def keras():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import keras as keras_module

    return keras_module


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.dense = nn.Linear(4, 6)
        self.dense_1 = nn.Linear(6, 3)

    def forward(self, x):
        return torch.softmax(self.dense_1(torch.relu(self.dense(x))), dim=-1)


def twins(keras, lr=0.1, metrics=("accuracy",)):
    """A compiled Keras model and its torch translation with the same weights."""
    keras.utils.set_random_seed(1)
    keras_model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(6, activation="relu"),
                                    keras.layers.Dense(3, activation="softmax")])
    keras_model.compile(optimizer=keras.optimizers.SGD(lr), loss="categorical_crossentropy", metrics=list(metrics))
    torch_model = Net()
    with torch.no_grad():
        for layer, linear in zip(keras_model.layers, [torch_model.dense, torch_model.dense_1]):
            kernel, bias = layer.get_weights()
            linear.weight.copy_(torch.from_numpy(kernel.T))
            linear.bias.copy_(torch.from_numpy(bias))
    torch_model.optimizer = torch.optim.SGD(torch_model.parameters(), lr=lr)
    torch_model.loss_fn = rt.categorical_crossentropy
    torch_model.metric_fns = {"accuracy": rt.categorical_accuracy} if metrics else {}
    return keras_model, torch_model


def data(n=40, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4)).astype("float32")
    y = np.eye(3, dtype="float32")[rng.integers(0, 3, size=n)]
    return x, y


def keras_weights(keras_model):
    return [w for layer in keras_model.layers for w in layer.get_weights()]


def torch_weights(torch_model):
    return [t.detach().numpy().T if t.dim() == 2 else t.detach().numpy() for t in torch_model.state_dict().values()]


def scripted(base, monitor, values):
    """A callback that overwrites logs[monitor] each epoch (base: keras.callbacks.Callback or rt.Callback)."""

    class Script(base):
        def on_epoch_end(self, epoch, logs=None):
            logs[monitor] = values[epoch]

    return Script()


def run_both(keras, make_callbacks, epochs=8, script=None, fit_kwargs=None, lr=0.1, metrics=("accuracy",)):
    """fit on both sides with the callbacks ``make_callbacks(module)`` builds (module: keras.callbacks or rt)."""
    keras_model, torch_model = twins(keras, lr, metrics)
    x, y = data()
    kwargs = dict(epochs=epochs, batch_size=10, shuffle=False, verbose=0, validation_data=data(12, seed=1))
    kwargs.update(fit_kwargs or {})
    keras_cbs, torch_cbs = make_callbacks(keras.callbacks), make_callbacks(rt)
    if script is not None:
        keras_cbs = [scripted(keras.callbacks.Callback, *script), *keras_cbs]
        torch_cbs = [scripted(rt.Callback, *script), *torch_cbs]
    keras_history = keras_model.fit(x, y, callbacks=keras_cbs, **kwargs)
    history = rt.fit(torch_model, x, y, callbacks=torch_cbs, **kwargs)
    return types.SimpleNamespace(keras_model=keras_model, torch_model=torch_model, keras_history=keras_history,
                                 history=history, keras_cbs=keras_cbs, torch_cbs=torch_cbs)


def assert_same_history(run, rtol=1e-4):
    assert run.history.epoch == run.keras_history.epoch
    assert list(run.history.history) == list(run.keras_history.history)
    for name, values in run.keras_history.history.items():
        np.testing.assert_allclose(run.history.history[name], values, rtol=rtol, err_msg=name)


# --------------------------------------------------------------------------- EarlyStopping

DOWN_THEN_FLAT = [1.0, 0.9, 0.8, 0.85, 0.86, 0.87, 0.88, 0.7, 0.6, 0.5]
NOISY = [1.0, 0.99, 0.97, 0.969, 0.96, 0.959, 0.958, 0.957, 0.956, 0.955]
UP = [0.1, 0.3, 0.5, 0.45, 0.46, 0.44, 0.43, 0.6, 0.7, 0.8, 0.8, 0.8]

EARLY_STOPPING = [
    pytest.param({"patience": 2}, ("val_loss", DOWN_THEN_FLAT), id="patience-2"),
    pytest.param({"patience": 0}, ("val_loss", DOWN_THEN_FLAT), id="patience-0"),
    pytest.param({"patience": 2, "min_delta": 0.005}, ("val_loss", NOISY), id="min_delta"),
    pytest.param({"patience": 2, "min_delta": -0.005}, ("val_loss", NOISY), id="negative-min_delta"),
    pytest.param({"monitor": "val_accuracy", "patience": 2}, ("val_accuracy", UP), id="auto-max-accuracy"),
    pytest.param({"monitor": "val_accuracy", "patience": 1, "mode": "min"}, ("val_accuracy", UP), id="mode-min"),
    pytest.param({"monitor": "val_loss", "patience": 2, "mode": "max"}, ("val_loss", UP), id="mode-max"),
    pytest.param({"patience": 2, "baseline": 0.5}, ("val_loss", DOWN_THEN_FLAT), id="baseline-never-beaten"),
    pytest.param({"patience": 1, "baseline": 0.95}, ("val_loss", DOWN_THEN_FLAT), id="baseline-beaten"),
    pytest.param({"patience": 1, "start_from_epoch": 4}, ("val_loss", DOWN_THEN_FLAT), id="start_from_epoch"),
    pytest.param({"patience": 2, "restore_best_weights": True}, ("val_loss", DOWN_THEN_FLAT),
                 id="restore-best-when-stopped"),
    pytest.param({"patience": 20, "restore_best_weights": True}, ("val_loss", DOWN_THEN_FLAT[:6] + [0.95] * 4),
                 id="restore-best-without-stopping"),
    pytest.param({"patience": 1, "monitor": "loss"}, None, id="real-training-loss"),
    pytest.param({"patience": 1, "mode": "unknown-mode"}, ("val_loss", DOWN_THEN_FLAT), id="unknown-mode-is-auto"),
]


@pytest.mark.parametrize("kwargs, script", EARLY_STOPPING)
def test_early_stopping_matches_keras(keras, kwargs, script):
    run = run_both(keras, lambda m: [m.EarlyStopping(**kwargs)], epochs=10, script=script)
    keras_cb, torch_cb = run.keras_cbs[-1], run.torch_cbs[-1]
    assert run.history.epoch == run.keras_history.epoch  # the same stop epoch
    assert (torch_cb.stopped_epoch, torch_cb.wait, torch_cb.best_epoch) == (
        keras_cb.stopped_epoch, keras_cb.wait, keras_cb.best_epoch)
    np.testing.assert_allclose(torch_cb.best, keras_cb.best, rtol=1e-5)
    assert_same_history(run)
    # restored (or final) weights agree
    for got, expected in zip(torch_weights(run.torch_model), keras_weights(run.keras_model)):
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-6)


def test_early_stopping_restores_the_best_epochs_weights(keras):
    snapshots = []

    def make(module):
        class Snapshot(module.Callback):
            def on_epoch_end(self, epoch, logs=None):
                if module is rt:
                    snapshots.append(rt.weights_copy(self.model))

        return [Snapshot(), module.EarlyStopping(patience=3, restore_best_weights=True)]

    run = run_both(keras, make, epochs=10, script=("val_loss", DOWN_THEN_FLAT))
    best = run.torch_cbs[-1].best_epoch
    assert best == 2 and len(snapshots) == 6  # stopped after epoch 5
    for name, tensor in run.torch_model.state_dict().items():
        assert torch.equal(tensor, snapshots[best][name])
        assert not torch.equal(tensor, snapshots[-1][name])


def test_early_stopping_auto_mode_fails_like_keras_for_an_unknown_metric(keras):
    for module in (keras.callbacks, rt):
        with pytest.raises(ValueError, match="automatically determine"):
            run_both(keras, lambda m: [m.EarlyStopping(monitor="val_something")] if m is module else [], epochs=2,
                     script=("val_something", [1.0, 2.0]))


def test_early_stopping_verbose_messages(keras, capsys):
    run_both(keras, lambda m: [m.EarlyStopping(patience=1, verbose=1, restore_best_weights=True)] if m is rt else [],
             script=("val_loss", DOWN_THEN_FLAT))
    assert capsys.readouterr().out.splitlines() == [
        "Epoch 4: early stopping", "Restoring model weights from the end of the best epoch: 3."]


# --------------------------------------------------------------------------- ReduceLROnPlateau

PLATEAU = [1.0, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.85, 0.9, 0.9, 0.9]

REDUCE_LR = [
    pytest.param({"patience": 2, "factor": 0.5}, ("val_loss", PLATEAU), id="patience-2"),
    pytest.param({"patience": 1, "factor": 0.5, "cooldown": 2}, ("val_loss", PLATEAU), id="cooldown"),
    pytest.param({"patience": 1, "factor": 0.1, "min_lr": 0.002}, ("val_loss", PLATEAU), id="min_lr"),
    pytest.param({"patience": 1, "factor": 0.5, "min_delta": 0.06}, ("val_loss", PLATEAU), id="min_delta"),
    pytest.param({"patience": 0, "factor": 0.5}, ("val_loss", PLATEAU), id="patience-0"),
    pytest.param({"monitor": "val_accuracy", "patience": 1, "factor": 0.5}, ("val_accuracy", UP), id="auto-max"),
    pytest.param({"monitor": "loss", "patience": 1, "factor": 0.5, "min_delta": 0.5}, None, id="real-loss"),
]


@pytest.mark.parametrize("kwargs, script", REDUCE_LR)
def test_reduce_lr_on_plateau_matches_keras(keras, kwargs, script):
    run = run_both(keras, lambda m: [m.ReduceLROnPlateau(**kwargs)], epochs=12, script=script, lr=0.05)
    assert "learning_rate" in run.keras_history.history
    # the same learning rate every epoch, to the bit (both report Keras's float32 value)
    assert run.history.history["learning_rate"] == run.keras_history.history["learning_rate"]
    assert rt.learning_rate(run.torch_model.optimizer) == float(run.keras_model.optimizer.learning_rate)
    keras_cb, torch_cb = run.keras_cbs[-1], run.torch_cbs[-1]
    assert (torch_cb.wait, torch_cb.cooldown_counter) == (keras_cb.wait, keras_cb.cooldown_counter)
    assert_same_history(run)  # losses follow the reduced rates


def test_reduce_lr_on_plateau_rejects_factor_one(keras):
    for module in (keras.callbacks, rt):
        with pytest.raises(ValueError, match="factor >= 1.0"):
            module.ReduceLROnPlateau(factor=1.0)


# --------------------------------------------------------------------------- LearningRateScheduler


def halve_after_two(epoch, lr):
    return lr if epoch < 2 else lr * 0.5


def step_decay(epoch):
    return 0.1 / (1 + epoch)


def numpy_schedule(epoch, lr):
    return np.float32(lr * 0.9)


@pytest.mark.parametrize("schedule", [
    pytest.param(halve_after_two, id="epoch-lr"),
    pytest.param(step_decay, id="epoch-only"),
    pytest.param(numpy_schedule, id="numpy-float32"),
])
def test_learning_rate_scheduler_matches_keras(keras, schedule):
    run = run_both(keras, lambda m: [m.LearningRateScheduler(schedule)], epochs=5)
    assert run.history.history["learning_rate"] == run.keras_history.history["learning_rate"]
    assert_same_history(run)


def test_learning_rate_scheduler_wants_a_float(keras):
    for module in (keras.callbacks, rt):
        with pytest.raises(ValueError, match="should be a float"):
            run_both(keras, lambda m: [m.LearningRateScheduler(lambda epoch, lr: 1)] if m is module else [],
                     epochs=1)


def test_scheduler_then_plateau_share_the_logs(keras):
    """Two callbacks adding learning_rate: the last value wins, as in Keras."""
    run = run_both(keras, lambda m: [m.LearningRateScheduler(halve_after_two), m.ReduceLROnPlateau(patience=1)],
                   epochs=6, script=("val_loss", PLATEAU))
    assert run.history.history["learning_rate"] == run.keras_history.history["learning_rate"]
    assert_same_history(run)


# --------------------------------------------------------------------------- ModelCheckpoint

CHECKPOINTS = [
    pytest.param("m_{epoch:02d}.keras", {}, id="every-epoch"),
    pytest.param("m_{epoch:02d}_{val_loss:.2f}.keras", {"save_best_only": True}, id="best-only"),
    pytest.param("m_{epoch}-{val_accuracy:.3f}.h5", {"save_best_only": True, "monitor": "val_accuracy"},
                 id="best-only-auto-max"),
    pytest.param("best.weights.h5", {"save_best_only": True, "save_weights_only": True}, id="weights-one-file"),
    pytest.param("sub/dir/m_{epoch}.keras", {"save_best_only": True, "mode": "max"}, id="mode-max-in-subdir"),
    pytest.param("m_{epoch}.keras", {"save_best_only": True, "initial_value_threshold": 0.86}, id="threshold"),
    pytest.param("m_{epoch}_{batch}.weights.h5", {"save_freq": 3, "save_weights_only": True}, id="save_freq-batches"),
]


@pytest.mark.parametrize("pattern, kwargs", CHECKPOINTS)
def test_model_checkpoint_writes_the_same_files_as_keras(keras, tmp_path, pattern, kwargs):
    keras_dir, torch_dir = tmp_path / "keras", tmp_path / "torch"

    def make(module):
        folder = keras_dir if module is keras.callbacks else torch_dir
        return [module.ModelCheckpoint(str(folder / pattern), **kwargs)]

    run_both(keras, make, epochs=7, script=("val_loss", DOWN_THEN_FLAT) if "accuracy" not in pattern else
             ("val_accuracy", UP))
    written = sorted(str(p.relative_to(keras_dir)) for p in keras_dir.rglob("*") if p.is_file())
    assert written, "Keras wrote no checkpoint"
    assert sorted(str(p.relative_to(torch_dir)) for p in torch_dir.rglob("*") if p.is_file()) == written


def test_model_checkpoint_saves_the_same_weights(keras, tmp_path):
    def make(module):
        folder = tmp_path / ("keras" if module is keras.callbacks else "torch")
        return [module.ModelCheckpoint(str(folder / "w_{epoch}.weights.h5"), save_weights_only=True)]

    run = run_both(keras, make, epochs=3)
    for epoch in (1, 2, 3):
        run.keras_model.load_weights(str(tmp_path / "keras" / f"w_{epoch}.weights.h5"))
        state = torch.load(tmp_path / "torch" / f"w_{epoch}.weights.h5", weights_only=True)
        torch_model = Net()
        torch_model.load_state_dict(state)
        for got, expected in zip(torch_weights(torch_model), keras_weights(run.keras_model)):
            np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-6)


def test_model_checkpoint_verbose_lines(keras, tmp_path, capsys):
    run_both(keras, lambda m: [m.ModelCheckpoint(str(tmp_path / "{epoch}.keras"), save_best_only=True, verbose=1)]
             if m is rt else [], epochs=4, script=("val_loss", DOWN_THEN_FLAT))
    out = [line for line in capsys.readouterr().out.splitlines() if line]
    assert out[0] == f"Epoch 1: val_loss improved from None to 1.00000, saving model to {tmp_path}/1.keras"
    assert out[1] == f"Epoch 1: finished saving model to {tmp_path}/1.keras"
    assert out[-1] == "Epoch 4: val_loss did not improve from 0.80000"


# --------------------------------------------------------------------------- CSVLogger


def read_csv(path, separator=","):
    with open(path, newline="") as f:
        return list(csv.reader(f, delimiter=separator))


@pytest.mark.parametrize("kwargs, fit_kwargs", [
    pytest.param({}, {}, id="with-validation"),
    pytest.param({"separator": ";"}, {"validation_data": None}, id="no-validation-separator"),
    pytest.param({"append": True}, {}, id="append"),
])
def test_csv_logger_writes_keras_file_format(keras, tmp_path, kwargs, fit_kwargs):
    paths = {"keras": tmp_path / "keras.csv", "torch": tmp_path / "torch.csv"}

    def make(module):
        return [module.CSVLogger(str(paths["keras" if module is keras.callbacks else "torch"]), **kwargs)]

    run_both(keras, make, epochs=3, fit_kwargs=fit_kwargs)
    if kwargs.get("append"):
        run_both(keras, make, epochs=2, fit_kwargs=fit_kwargs)  # a second fit appends, one header
    separator = kwargs.get("separator", ",")
    keras_rows, torch_rows = read_csv(paths["keras"], separator), read_csv(paths["torch"], separator)
    assert paths["torch"].read_bytes().count(b"\r\n") == paths["keras"].read_bytes().count(b"\r\n")
    assert torch_rows[0] == keras_rows[0]  # header
    assert len(torch_rows) == len(keras_rows)
    for got, expected in zip(torch_rows[1:], keras_rows[1:]):
        assert got[0] == expected[0]  # epoch
        for g, e in zip(got[1:], expected[1:]):
            if e == "NA":
                assert g == "NA"
            else:
                np.testing.assert_allclose(float(g), float(e), rtol=1e-4)


# --------------------------------------------------------------------------- TensorBoard


class FakeSummaryWriter:
    """torch.utils.tensorboard.SummaryWriter's interface, recording the scalars."""

    records: list = []

    def __init__(self, log_dir):
        self.log_dir = log_dir

    def add_scalar(self, tag, value, step):
        self.records.append((os.path.basename(self.log_dir), tag, int(step), float(value)))

    def close(self):
        pass


def keras_scalars(log_dir):
    import tensorflow as tf

    out = []
    for sub in ("train", "validation"):
        for path in sorted((log_dir / sub).glob("events*")):
            for event in tf.compat.v1.train.summary_iterator(str(path)):
                for value in event.summary.value:
                    if value.tag.startswith(("epoch_", "batch_", "evaluation_")):
                        out.append((sub, value.tag, int(event.step), float(tf.make_ndarray(value.tensor))))
    return sorted(out)


TENSORBOARD_CASES = [
    pytest.param({}, id="epoch"),
    pytest.param({"update_freq": 2}, id="update_freq-2"),
    pytest.param({"update_freq": "batch"}, id="update_freq-batch"),
]


def fake_tensorboard(monkeypatch):
    fake = types.ModuleType("torch.utils.tensorboard")
    fake.SummaryWriter = FakeSummaryWriter
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", fake)
    FakeSummaryWriter.records = []


def tensorboard_run(keras, tmp_path, kwargs):
    def make(module):
        return [module.TensorBoard(str(tmp_path / ("keras" if module is keras.callbacks else "torch")), **kwargs)]

    run_both(keras, make, epochs=3, fit_kwargs={"validation_freq": 2}, script=("val_loss", DOWN_THEN_FLAT))


@pytest.mark.parametrize("kwargs", TENSORBOARD_CASES)
def test_tensorboard_writes_keras_scalars(keras, tmp_path, monkeypatch, kwargs):
    pytest.importorskip("tensorboard", reason="Keras's own TensorBoard callback needs the tensorboard package")
    fake_tensorboard(monkeypatch)
    tensorboard_run(keras, tmp_path, kwargs)
    expected = keras_scalars(tmp_path / "keras")
    got = sorted(FakeSummaryWriter.records)
    assert [r[:3] for r in got] == [r[:3] for r in expected]
    np.testing.assert_allclose([r[3] for r in got], [r[3] for r in expected], rtol=1e-4)


@pytest.mark.parametrize("kwargs, batches", [
    pytest.param({}, [], id="epoch"),
    pytest.param({"update_freq": 2}, [2, 4, 6, 8, 10, 12], id="update_freq-2"),
])
def test_tensorboard_scalar_layout(keras, tmp_path, monkeypatch, kwargs, batches):
    """What Keras writes (checked against Keras itself above, where tensorboard is installed)."""
    fake_tensorboard(monkeypatch)
    run_both(keras, lambda m: [m.TensorBoard(str(tmp_path / "torch"), **kwargs)] if m is rt else [], epochs=3,
             fit_kwargs={"validation_freq": 2}, script=("val_loss", DOWN_THEN_FLAT))
    got = {r[:3] for r in FakeSummaryWriter.records}
    expected = {("train", f"epoch_{name}", epoch) for name in ("accuracy", "loss", "learning_rate")
                for epoch in range(3)}
    # validation every second epoch; the script writes val_loss every epoch
    expected |= {("validation", "epoch_accuracy", 1)} | {("validation", "epoch_loss", epoch) for epoch in range(3)}
    expected |= {("validation", f"evaluation_{name}_vs_iterations", 8) for name in ("accuracy", "loss")}
    expected |= {("train", f"batch_{name}", step) for name in ("accuracy", "loss") for step in batches}
    assert got == expected


def test_tensorboard_with_the_real_summary_writer(keras, tmp_path):
    pytest.importorskip("tensorboard")
    run_both(keras, lambda m: [m.TensorBoard(str(tmp_path / ("keras" if m is keras.callbacks else "torch")))],
             epochs=2)
    import tensorflow as tf

    tags = set()
    for path in (tmp_path / "torch").rglob("events*"):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            tags |= {(path.parent.name, v.tag, event.step) for v in event.summary.value}
    assert tags == {(sub, tag, step) for sub, tag, step, _ in keras_scalars(tmp_path / "keras")}


# --------------------------------------------------------------------------- History, TerminateOnNaN, Lambda


def test_history_callback_records_what_keras_records(keras):
    run = run_both(keras, lambda m: [m.History()], epochs=3)
    assert run.torch_cbs[0].epoch == run.keras_cbs[0].epoch == [0, 1, 2]
    assert list(run.torch_cbs[0].history) == list(run.keras_cbs[0].history)
    for name, values in run.keras_cbs[0].history.items():
        np.testing.assert_allclose(run.torch_cbs[0].history[name], values, rtol=1e-4)


def inject_nan(base, at_batch):
    class NaNLoss(base):
        def on_train_batch_end(self, batch, logs=None):
            if batch == at_batch:
                logs["loss"] = float("nan")

    return NaNLoss()


def test_terminate_on_nan_stops_at_the_same_batch(keras, capsys):
    keras_model, torch_model = twins(keras)
    x, y = data()
    args = dict(epochs=3, batch_size=10, shuffle=False, verbose=0)
    keras_history = keras_model.fit(x, y, callbacks=[inject_nan(keras.callbacks.Callback, 2),
                                                     keras.callbacks.TerminateOnNaN()], **args)
    history = rt.fit(torch_model, x, y, callbacks=[inject_nan(rt.Callback, 2), rt.TerminateOnNaN()], **args)
    assert history.epoch == keras_history.epoch == [0]
    np.testing.assert_allclose(history.history["loss"], keras_history.history["loss"], rtol=1e-4)
    assert capsys.readouterr().out.count("Batch 2: Invalid loss, terminating training") == 2
    with pytest.raises(RuntimeError, match="NaN or Inf loss encountered at batch 2"):
        rt.fit(torch_model, x, y, callbacks=[inject_nan(rt.Callback, 2), rt.TerminateOnNaN(raise_error=True)], **args)


# --------------------------------------------------------------------------- custom Callback subclasses


def recorder(base, stop_at=None):
    """A custom callback (same source for both bases) that logs every hook Keras calls."""

    class Recorder(base):
        def __init__(self):
            super().__init__()
            self.calls = []

        def log(self, hook, *args, logs=None):
            self.calls.append((hook, *args, tuple(sorted(logs or {})), tuple((logs or {}).values())))

        def on_train_begin(self, logs=None):
            assert self.model is not None and self.params["epochs"] == 3 and self.params["steps"] == 4
            self.log("on_train_begin", logs=logs)

        def on_train_end(self, logs=None):
            self.log("on_train_end", logs=logs)

        def on_epoch_begin(self, epoch, logs=None):
            self.log("on_epoch_begin", epoch, logs=logs)

        def on_epoch_end(self, epoch, logs=None):
            self.log("on_epoch_end", epoch, logs=logs)
            if stop_at == ("epoch", epoch):
                self.model.stop_training = True

        def on_train_batch_begin(self, batch, logs=None):
            self.log("on_train_batch_begin", batch, logs=logs)

        def on_train_batch_end(self, batch, logs=None):
            self.log("on_train_batch_end", batch, logs=logs)
            if stop_at == ("batch", batch):
                self.model.stop_training = True

        def on_test_begin(self, logs=None):
            self.log("on_test_begin", logs=logs)

        def on_test_batch_end(self, batch, logs=None):
            self.log("on_test_batch_end", batch, logs=logs)

        def on_test_end(self, logs=None):
            self.log("on_test_end", logs=logs)

    return Recorder()


def assert_same_calls(got, expected):
    assert [c[:-1] for c in got] == [c[:-1] for c in expected]  # hooks, epochs, batches, log names
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g[-1], e[-1], rtol=1e-4, err_msg=str(e[:-1]))


@pytest.mark.parametrize("stop_at", [
    pytest.param(None, id="all-epochs"),
    pytest.param(("batch", 1), id="stop-in-a-batch"),
    pytest.param(("epoch", 1), id="stop-after-an-epoch"),
])
def test_custom_callback_sees_the_hooks_keras_calls(keras, stop_at):
    def make(module):
        return [recorder(module.Callback, stop_at)]

    run = run_both(keras, make, epochs=3, fit_kwargs={"validation_batch_size": 5})
    assert_same_calls(run.torch_cbs[0].calls, run.keras_cbs[0].calls)
    assert_same_history(run)


def test_custom_callback_in_evaluate_and_predict(keras):
    keras_model, torch_model = twins(keras)
    x, y = data()

    class Seen:
        @staticmethod
        def make(base):
            class Predict(base):
                def __init__(self):
                    super().__init__()
                    self.calls = []

                def on_predict_begin(self, logs=None):
                    self.calls.append(("begin", tuple(logs or {})))

                def on_predict_batch_end(self, batch, logs=None):
                    self.calls.append(("batch", batch, tuple(logs), tuple(np.shape(logs["outputs"]))))

                def on_predict_end(self, logs=None):
                    self.calls.append(("end", tuple(logs or {})))

            return Predict()

    keras_cb, torch_cb = Seen.make(keras.callbacks.Callback), Seen.make(rt.Callback)
    keras_model.predict(x, batch_size=16, verbose=0, callbacks=[keras_cb])
    rt.predict(torch_model, x, batch_size=16, verbose=0, callbacks=[torch_cb])
    assert torch_cb.calls == keras_cb.calls
    keras_rec, torch_rec = recorder(keras.callbacks.Callback), recorder(rt.Callback)
    keras_model.evaluate(x, y, batch_size=16, verbose=0, callbacks=[keras_rec])
    rt.evaluate(torch_model, x, y, batch_size=16, verbose=0, callbacks=[torch_rec])
    assert_same_calls(torch_rec.calls, keras_rec.calls)


def test_lambda_callback_calls_the_functions_like_keras(keras):
    def make(module):
        seen = []
        callback = module.LambdaCallback(
            on_epoch_end=lambda epoch, logs: seen.append(("epoch_end", epoch, sorted(logs))),
            on_train_batch_end=lambda batch, logs: seen.append(("batch_end", batch, sorted(logs))),
            on_train_begin=lambda logs: seen.append(("train_begin",)),
            on_batch_begin=lambda batch, logs: seen.append(("batch_begin", batch)))
        callback.seen = seen
        return [callback]

    run = run_both(keras, make, epochs=2)
    assert run.torch_cbs[0].seen == run.keras_cbs[0].seen


def test_callbacks_in_the_template_have_keras_signatures(keras):
    import inspect

    for name in ("EarlyStopping", "ModelCheckpoint", "ReduceLROnPlateau", "LearningRateScheduler", "CSVLogger",
                 "TensorBoard", "History", "TerminateOnNaN", "LambdaCallback"):
        expected = inspect.signature(getattr(keras.callbacks, name).__init__)
        got = inspect.signature(getattr(rt, name).__init__)
        assert [(p.name, p.default) for p in got.parameters.values()] == [
            (p.name, p.default) for p in expected.parameters.values()], name
    hooks = {n for n in dir(keras.callbacks.Callback) if n.startswith("on_")}
    assert hooks == {n for n in dir(rt.Callback) if n.startswith("on_")}
