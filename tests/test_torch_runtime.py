"""Numerical equivalence of translator/runtime/torch_runtime.py with real Keras.

Keras (TensorFlow backend) is imported lazily, inside the tests, through the
`keras` fixture.
"""

import ast
import builtins
import dis
import importlib.util
import os
import re
import types
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

RUNTIME_PATH = Path(__file__).resolve().parents[1] / "translator" / "runtime" / "torch_runtime.py"


def load_runtime():
    # Loaded by path: the template must work without anything from tfpt.
    spec = importlib.util.spec_from_file_location("torch_runtime_under_test", RUNTIME_PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


rt = load_runtime()


@pytest.fixture(scope="module")
def keras():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import keras as keras_module

    return keras_module


def rng_for(seed):
    """A seeded generator; `seed` may be any value (strings/tuples are hashed stably)."""
    if not isinstance(seed, int):
        seed = zlib.crc32(repr(seed).encode())
    return np.random.default_rng(seed)


def softmax_np(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def sigmoid_np(z):
    return 1.0 / (1.0 + np.exp(-z))


# ---------------------------------------------------------------------------
# Template hygiene: only the allowed imports, self-contained functions
# ---------------------------------------------------------------------------

ALLOWED_IMPORTS = {"import math", "import types", "import numpy as np", "import torch",
                   "import torch.nn.functional as F"}


def test_template_module_is_self_contained():
    tree = ast.parse(RUNTIME_PATH.read_text())
    imports = set()
    definitions = {}
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            imports.add(ast.unparse(node))
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            definitions[node.name] = node
            assert ast.get_docstring(node), f"{node.name} has no docstring"
        else:
            assert isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant), (
                f"unexpected top-level statement: {ast.unparse(node)[:60]}"
            )
    assert imports == ALLOWED_IMPORTS

    allowed_globals = set(definitions) | {"math", "types", "np", "torch", "F"} | set(dir(builtins))

    def global_names(code):
        for instruction in dis.get_instructions(code):
            if instruction.opname in ("LOAD_GLOBAL", "LOAD_NAME"):
                yield instruction.argval
        for const in code.co_consts:
            if isinstance(const, types.CodeType):
                yield from global_names(const)

    for name in definitions:
        obj = getattr(rt, name)
        codes = [obj.__code__] if isinstance(obj, types.FunctionType) else [
            f.__code__ for f in vars(obj).values() if isinstance(f, types.FunctionType)]
        for code in codes:
            unknown = set(global_names(code)) - allowed_globals
            assert not unknown, f"{name} uses globals outside the template: {unknown}"


# ---------------------------------------------------------------------------
# Losses vs keras.losses
# ---------------------------------------------------------------------------


def _probs(rng, shape, with_extremes=False):
    p = softmax_np(rng.normal(size=shape) * 2)
    if with_extremes:
        p.reshape(-1, shape[-1])[0] = 0.0
        p.reshape(-1, shape[-1])[0, 0] = 1.0
    return p.astype("float32")


def _onehot(rng, shape):
    labels = rng.integers(0, shape[-1], size=shape[:-1])
    return np.eye(shape[-1], dtype="float32")[labels]


def _case_regression(rng, pred_shape, true_shape):
    return rng.normal(size=pred_shape).astype("float32"), rng.normal(size=true_shape).astype("float32")


def _case_binary_probs(rng, pred_shape, true_shape, extremes=False):
    p = sigmoid_np(rng.normal(size=pred_shape) * 2).astype("float32")
    if extremes:
        p.reshape(-1)[:2] = [0.0, 1.0]
    return p, rng.integers(0, 2, size=true_shape).astype("float32")


def _case_binary_logits(rng, pred_shape, true_shape):
    return (rng.normal(size=pred_shape) * 3).astype("float32"), rng.integers(0, 2, size=true_shape).astype("float32")


LOSS_CASES = [
    pytest.param("mean_squared_error", "MeanSquaredError", {}, _case_regression, ((8, 3), (8, 3)), id="mse-2d"),
    pytest.param("mean_squared_error", "MeanSquaredError", {}, _case_regression, ((8, 1), (8,)), id="mse-pred_N1-true_N"),
    pytest.param("mean_squared_error", "MeanSquaredError", {}, _case_regression, ((8,), (8, 1)), id="mse-pred_N-true_N1"),
    pytest.param("mean_squared_error", "MeanSquaredError", {}, _case_regression, ((4, 5, 3), (4, 5, 3)), id="mse-3d"),
    pytest.param("mean_squared_error", "MeanSquaredError", {}, _case_regression, ((4, 5, 1), (4, 5)), id="mse-3d-squeeze"),
    pytest.param("mean_absolute_error", "MeanAbsoluteError", {}, _case_regression, ((8, 3), (8, 3)), id="mae-2d"),
    pytest.param("mean_absolute_error", "MeanAbsoluteError", {}, _case_regression, ((8, 1), (8,)), id="mae-pred_N1-true_N"),
    pytest.param("binary_crossentropy", "BinaryCrossentropy", {}, _case_binary_probs, ((8, 1), (8,)), id="bce-pred_N1-true_N"),
    pytest.param("binary_crossentropy", "BinaryCrossentropy", {}, _case_binary_probs, ((8, 1), (8, 1)), id="bce-N1"),
    pytest.param("binary_crossentropy", "BinaryCrossentropy", {}, _case_binary_probs, ((8, 4), (8, 4)), id="bce-multilabel"),
    pytest.param("binary_crossentropy", "BinaryCrossentropy", {},
                 lambda rng, a, b: _case_binary_probs(rng, a, b, extremes=True), ((8, 1), (8,)), id="bce-clipping"),
    pytest.param("binary_crossentropy_from_logits", "BinaryCrossentropy", {"from_logits": True},
                 _case_binary_logits, ((8, 1), (8,)), id="bce-logits-pred_N1-true_N"),
    pytest.param("binary_crossentropy_from_logits", "BinaryCrossentropy", {"from_logits": True},
                 _case_binary_logits, ((8, 4), (8, 4)), id="bce-logits-multilabel"),
    pytest.param("categorical_crossentropy", "CategoricalCrossentropy", {},
                 lambda rng, a, b: (_probs(rng, a), _onehot(rng, b)), ((8, 4), (8, 4)), id="cce"),
    pytest.param("categorical_crossentropy", "CategoricalCrossentropy", {},
                 lambda rng, a, b: (_probs(rng, a, with_extremes=True), _onehot(rng, b)), ((8, 4), (8, 4)), id="cce-clipping"),
    pytest.param("categorical_crossentropy", "CategoricalCrossentropy", {},
                 lambda rng, a, b: (rng.uniform(0.1, 2.0, size=a).astype("float32"), _onehot(rng, b)),
                 ((8, 4), (8, 4)), id="cce-unnormalised"),
    pytest.param("categorical_crossentropy", "CategoricalCrossentropy", {},
                 lambda rng, a, b: (_probs(rng, a), _onehot(rng, b)), ((2, 5, 4), (2, 5, 4)), id="cce-3d"),
    pytest.param("categorical_crossentropy_from_logits", "CategoricalCrossentropy", {"from_logits": True},
                 lambda rng, a, b: ((rng.normal(size=a) * 3).astype("float32"), _onehot(rng, b)),
                 ((8, 4), (8, 4)), id="cce-logits"),
    pytest.param("categorical_crossentropy_from_logits", "CategoricalCrossentropy", {"from_logits": True},
                 lambda rng, a, b: ((rng.normal(size=a) * 3).astype("float32"), _onehot(rng, b)),
                 ((2, 5, 4), (2, 5, 4)), id="cce-logits-3d"),
    pytest.param("sparse_categorical_crossentropy", "SparseCategoricalCrossentropy", {},
                 lambda rng, a, b: (_probs(rng, a), rng.integers(0, a[-1], size=b)), ((8, 4), (8,)), id="scce-true_N"),
    pytest.param("sparse_categorical_crossentropy", "SparseCategoricalCrossentropy", {},
                 lambda rng, a, b: (_probs(rng, a), rng.integers(0, a[-1], size=b)), ((8, 4), (8, 1)), id="scce-true_N1"),
    pytest.param("sparse_categorical_crossentropy", "SparseCategoricalCrossentropy", {},
                 lambda rng, a, b: (_probs(rng, a, with_extremes=True), rng.integers(0, a[-1], size=b)),
                 ((8, 4), (8,)), id="scce-clipping"),
    pytest.param("sparse_categorical_crossentropy", "SparseCategoricalCrossentropy", {},
                 lambda rng, a, b: (_probs(rng, a), rng.integers(0, a[-1], size=b)), ((2, 5, 4), (2, 5)), id="scce-3d"),
    pytest.param("sparse_categorical_crossentropy_from_logits", "SparseCategoricalCrossentropy", {"from_logits": True},
                 lambda rng, a, b: ((rng.normal(size=a) * 3).astype("float32"), rng.integers(0, a[-1], size=b)),
                 ((8, 4), (8,)), id="scce-logits-true_N"),
    pytest.param("sparse_categorical_crossentropy_from_logits", "SparseCategoricalCrossentropy", {"from_logits": True},
                 lambda rng, a, b: ((rng.normal(size=a) * 3).astype("float32"),
                                    rng.integers(0, a[-1], size=b).astype("float32")),
                 ((8, 4), (8, 1)), id="scce-logits-true_N1-float-labels"),
]


@pytest.mark.parametrize("ours, keras_class, kwargs, make_case, shapes", LOSS_CASES)
def test_loss_matches_keras(keras, ours, keras_class, kwargs, make_case, shapes):
    rng = rng_for((ours, shapes))
    y_pred, y_true = make_case(rng, *shapes)
    expected = float(getattr(keras.losses, keras_class)(**kwargs)(y_true, y_pred))
    got = getattr(rt, ours)(torch.from_numpy(y_pred), rt.to_tensor(y_true))
    assert got.dim() == 0
    np.testing.assert_allclose(got.item(), expected, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("ours, keras_name", [
    pytest.param("mean_squared_error", "mean_squared_error", id="mse"),
    pytest.param("binary_crossentropy", "binary_crossentropy", id="bce"),
    pytest.param("categorical_crossentropy", "categorical_crossentropy", id="cce"),
    pytest.param("sparse_categorical_crossentropy", "sparse_categorical_crossentropy", id="scce"),
])
def test_loss_matches_keras_compile_string(keras, ours, keras_name):
    # model.compile(loss="name") resolves the string with compile_utils.get_loss.
    rng = rng_for(7)
    if ours == "sparse_categorical_crossentropy":
        y_pred, y_true = _probs(rng, (6, 3)), rng.integers(0, 3, size=(6,))
    elif ours == "categorical_crossentropy":
        y_pred, y_true = _probs(rng, (6, 3)), _onehot(rng, (6, 3))
    else:
        y_pred, y_true = _case_binary_probs(rng, (6, 1), (6,))
    from keras.src.trainers.compile_utils import get_loss

    expected = float(get_loss(keras_name, y_true, y_pred)(y_true, y_pred))
    got = getattr(rt, ours)(torch.from_numpy(y_pred), rt.to_tensor(y_true)).item()
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6)


def test_target_rank_matching_never_broadcasts_to_n_by_n():
    y_pred = torch.zeros(5, 1)
    y_true = torch.ones(5, dtype=torch.int64)
    target = rt.match_target(y_pred, y_true)
    assert target.shape == (5, 1) and target.dtype == torch.float32
    assert rt.match_target(torch.zeros(5), torch.ones(5, 1)).shape == (5,)
    assert rt.mean_squared_error(y_pred, y_true).item() == pytest.approx(1.0)


def test_losses_backpropagate():
    logits = torch.randn(4, 3, requires_grad=True)
    rt.categorical_crossentropy(torch.softmax(logits, -1), torch.eye(3)[[0, 1, 2, 0]]).backward()
    assert logits.grad is not None and torch.isfinite(logits.grad).all()


# ---------------------------------------------------------------------------
# Metrics vs keras.metrics over several batches
# ---------------------------------------------------------------------------


def _metric_batches(kind, rng, sizes=(16, 16, 5)):
    batches = []
    for n in sizes:
        if kind == "categorical":
            batches.append((_probs(rng, (n, 4)), _onehot(rng, (n, 4))))
        elif kind == "sparse_N":
            batches.append((_probs(rng, (n, 4)), rng.integers(0, 4, size=(n,))))
        elif kind == "sparse_N1":
            batches.append((_probs(rng, (n, 4)), rng.integers(0, 4, size=(n, 1))))
        elif kind == "binary_N":
            p = sigmoid_np(rng.normal(size=(n, 1))).astype("float32")
            p[0] = 0.5  # Keras uses a strict `>` threshold
            batches.append((p, rng.integers(0, 2, size=(n,)).astype("float32")))
        elif kind == "binary_multilabel":
            p = sigmoid_np(rng.normal(size=(n, 3))).astype("float32")
            batches.append((p, rng.integers(0, 2, size=(n, 3)).astype("float32")))
        elif kind == "regression":
            batches.append((rng.normal(size=(n, 2)).astype("float32"), rng.normal(size=(n, 2)).astype("float32")))
        elif kind == "regression_N":
            batches.append((rng.normal(size=(n, 1)).astype("float32"), rng.normal(size=(n,)).astype("float32")))
    return batches


@pytest.mark.parametrize("ours, keras_class, kind", [
    pytest.param("categorical_accuracy", "CategoricalAccuracy", "categorical", id="categorical_accuracy"),
    pytest.param("sparse_categorical_accuracy", "SparseCategoricalAccuracy", "sparse_N", id="sparse_accuracy-true_N"),
    pytest.param("sparse_categorical_accuracy", "SparseCategoricalAccuracy", "sparse_N1", id="sparse_accuracy-true_N1"),
    pytest.param("binary_accuracy", "BinaryAccuracy", "binary_N", id="binary_accuracy-true_N"),
    pytest.param("binary_accuracy", "BinaryAccuracy", "binary_multilabel", id="binary_accuracy-multilabel"),
    pytest.param("mean_squared_error", "MeanSquaredError", "regression", id="mse_metric"),
    pytest.param("mean_squared_error", "MeanSquaredError", "regression_N", id="mse_metric-true_N"),
    pytest.param("mean_absolute_error", "MeanAbsoluteError", "regression", id="mae_metric"),
])
def test_metric_matches_keras_over_batches(keras, ours, keras_class, kind):
    rng = rng_for((ours, kind))
    keras_metric = getattr(keras.metrics, keras_class)()
    # fit/evaluate accumulate per-sample sums with add_batch, then divide by the sample count
    model = types.SimpleNamespace(metric_fns={"m": getattr(rt, ours)})
    totals, count = {"loss": 0.0, "m": 0.0}, 0
    for y_pred, y_true in _metric_batches(kind, rng):
        keras_metric.update_state(y_true, y_pred)
        rt.add_batch(totals, model, torch.from_numpy(y_pred), rt.to_tensor(y_true), torch.tensor(0.0))
        count += len(y_pred)
    np.testing.assert_allclose(totals["m"] / count, float(keras_metric.result()), rtol=1e-6, atol=1e-7)


# ---------------------------------------------------------------------------
# Utilities
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("labels, num_classes", [
    pytest.param([0, 2, 1, 2], None, id="N"),
    pytest.param([[0], [3], [1]], None, id="N1"),
    pytest.param([[0, 1], [2, 0], [1, 1]], None, id="2d"),
    pytest.param([1, 0, 1], 4, id="num_classes"),
    pytest.param(np.array([2.0, 0.0, 1.0]), None, id="float-labels"),
])
def test_to_categorical_matches_keras(keras, labels, num_classes):
    expected = keras.utils.to_categorical(labels, num_classes)
    got = rt.to_categorical(labels, num_classes)
    assert got.shape == expected.shape
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, expected)
    assert rt.to_categorical(labels, num_classes, dtype="float64").dtype == expected.dtype


@pytest.mark.parametrize("n, split", [
    pytest.param(50, 0.25, id="50-0.25"),
    pytest.param(10, 0.3, id="10-0.3"),
    pytest.param(100, 0.7, id="100-0.7"),
    pytest.param(7, 0.1, id="7-0.1"),
    pytest.param(1000, 0.33, id="1000-0.33"),
])
def test_validation_split_matches_keras(n, split):
    from keras.src.trainers.data_adapters.array_slicing import train_validation_split

    x = np.arange(n, dtype="float64").reshape(n, 1)
    y = np.arange(n)
    (kx, ky), (kvx, kvy) = train_validation_split((x, y), validation_split=split)
    split_at = rt.split_index(n, split)
    np.testing.assert_array_equal(x[:split_at], np.asarray(kx))
    np.testing.assert_array_equal(y[split_at:], np.asarray(kvy))


@pytest.mark.parametrize("n, split", [pytest.param(3, 1e-20, id="no-validation-sample"),
                                      pytest.param(3, 0.99, id="no-training-sample")])
def test_validation_split_leaving_an_empty_set_fails_like_keras(n, split):
    from keras.src.trainers.data_adapters.array_slicing import train_validation_split

    with pytest.raises(ValueError):
        train_validation_split((np.zeros((n, 1)),), validation_split=split)
    with pytest.raises(ValueError):
        rt.split_index(n, split)


def test_to_tensor_dtypes():
    assert rt.to_tensor(np.zeros(3)).dtype == torch.float32
    assert rt.to_tensor(np.zeros(3, dtype="float32")).dtype == torch.float32
    assert rt.to_tensor(np.zeros(3, dtype="int32")).dtype == torch.int64
    assert rt.to_tensor(np.zeros(3, dtype="uint8")).dtype == torch.int64
    assert rt.to_tensor(np.zeros(3, dtype="float16")).dtype == torch.float32
    assert rt.to_tensor([1.5, 2.5]).dtype == torch.float32


def test_set_random_seed_is_reproducible():
    rt.set_random_seed(3)
    first = (np.random.rand(), torch.rand(1).item())
    rt.set_random_seed(3)
    assert (np.random.rand(), torch.rand(1).item()) == first


def test_format_logs_like_keras_progbar():
    assert rt.format_logs({"accuracy": 0.5, "loss": 0.69314718}) == "accuracy: 0.5000 - loss: 0.6931"
    assert rt.format_logs({"loss": 0.0001234}) == "loss: 1.2340e-04"


# ---------------------------------------------------------------------------
# fit / evaluate / predict vs a real Keras model
# ---------------------------------------------------------------------------


class TinyNet(nn.Module):
    def __init__(self, n_out, activation):
        super().__init__()
        self.dense = nn.Linear(5, 8)
        self.dense_1 = nn.Linear(8, n_out)
        self.activation = activation

    def forward(self, x):
        x = torch.relu(self.dense(x))
        x = self.dense_1(x)
        return torch.softmax(x, dim=-1) if self.activation == "softmax" else torch.sigmoid(x)


def _keras_and_torch_models(keras, n_out, activation):
    keras.utils.set_random_seed(0)
    keras_model = keras.Sequential([
        keras.Input((5,)),
        keras.layers.Dense(8, activation="relu"),
        keras.layers.Dense(n_out, activation=activation),
    ])
    torch_model = TinyNet(n_out, activation)
    with torch.no_grad():
        for keras_layer, linear in zip(keras_model.layers, [torch_model.dense, torch_model.dense_1]):
            kernel, bias = keras_layer.get_weights()
            linear.weight.copy_(torch.from_numpy(kernel.T))
            linear.bias.copy_(torch.from_numpy(bias))
    return keras_model, torch_model


TRAINING_CASES = [
    pytest.param("categorical", id="softmax-categorical_crossentropy"),
    pytest.param("sparse", id="softmax-sparse_categorical_crossentropy-labels_N1"),
    pytest.param("binary", id="sigmoid-binary_crossentropy-labels_N"),
]


def _training_setup(keras, case):
    rng = rng_for(42)
    x = rng.normal(size=(50, 5))  # float64, as NumPy makes it
    labels = rng.integers(0, 3, size=50)
    if case == "categorical":
        y = keras.utils.to_categorical(labels, 3)
        loss, metrics = rt.categorical_crossentropy, {"accuracy": rt.categorical_accuracy}
        keras_model, torch_model = _keras_and_torch_models(keras, 3, "softmax")
        keras_model.compile(optimizer=keras.optimizers.SGD(0.1), loss="categorical_crossentropy",
                            metrics=["accuracy"])
    elif case == "sparse":
        y = labels.reshape(-1, 1)
        loss, metrics = rt.sparse_categorical_crossentropy, {"accuracy": rt.sparse_categorical_accuracy}
        keras_model, torch_model = _keras_and_torch_models(keras, 3, "softmax")
        keras_model.compile(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy",
                            metrics=["accuracy"])
    else:
        y = (labels > 0).astype("int64")  # (N,) integer targets vs a (N, 1) output
        loss = rt.binary_crossentropy
        metrics = {"accuracy": rt.binary_accuracy, "mse": rt.mean_squared_error}
        keras_model, torch_model = _keras_and_torch_models(keras, 1, "sigmoid")
        keras_model.compile(optimizer=keras.optimizers.SGD(0.1), loss="binary_crossentropy",
                            metrics=["accuracy", "mse"])
    torch_model.optimizer = torch.optim.SGD(torch_model.parameters(), lr=0.1)
    torch_model.loss_fn = loss
    torch_model.metric_fns = metrics
    return x, y, keras_model, torch_model


@pytest.mark.parametrize("case", TRAINING_CASES)
def test_fit_evaluate_predict_match_keras(keras, case):
    x, y, keras_model, torch_model = _training_setup(keras, case)
    fit_args = dict(epochs=2, batch_size=16, validation_split=0.25, shuffle=False, verbose=0)
    keras_history = keras_model.fit(x, y, **fit_args)
    history = rt.fit(torch_model, x, y, **fit_args)

    assert list(history.history) == list(keras_history.history)
    assert history.epoch == keras_history.epoch == [0, 1]
    for name, values in keras_history.history.items():
        np.testing.assert_allclose(history.history[name], values, rtol=1e-4, err_msg=name)

    expected = keras_model.evaluate(x, y, batch_size=16, verbose=0)
    got = rt.evaluate(torch_model, x, y, batch_size=16, verbose=0)
    assert isinstance(got, list) and len(got) == len(expected)
    np.testing.assert_allclose(got, expected, rtol=1e-4)
    expected_dict = keras_model.evaluate(x, y, verbose=0, return_dict=True)
    got_dict = rt.evaluate(torch_model, x, y, verbose=0, return_dict=True)
    assert list(got_dict) == list(expected_dict)
    np.testing.assert_allclose(list(got_dict.values()), list(expected_dict.values()), rtol=1e-4)

    expected_pred = keras_model.predict(x, verbose=0)
    got_pred = rt.predict(torch_model, x)
    assert got_pred.shape == expected_pred.shape and got_pred.dtype == np.float32
    np.testing.assert_allclose(got_pred, expected_pred, rtol=1e-5, atol=1e-5)


def test_fit_with_validation_data_and_no_metrics(keras):
    x, y, _, _ = _training_setup(keras, "categorical")
    keras_model, torch_model = _keras_and_torch_models(keras, 3, "softmax")
    keras_model.compile(optimizer=keras.optimizers.SGD(0.1), loss="categorical_crossentropy")
    torch_model.optimizer = torch.optim.SGD(torch_model.parameters(), lr=0.1)
    torch_model.loss_fn = rt.categorical_crossentropy
    torch_model.metric_fns = {}
    args = dict(epochs=3, batch_size=10, shuffle=False, verbose=0, validation_data=(x[:12], y[:12]),
                validation_freq=2, validation_batch_size=5)
    keras_history = keras_model.fit(x, y, **args)
    history = rt.fit(torch_model, x, y, **args)
    assert list(history.history) == list(keras_history.history) == ["loss", "val_loss"]
    assert len(history.history["val_loss"]) == len(keras_history.history["val_loss"]) == 1
    for name, values in keras_history.history.items():
        np.testing.assert_allclose(history.history[name], values, rtol=1e-4, err_msg=name)
    loss = rt.evaluate(torch_model, x, y, verbose=0)
    assert isinstance(loss, float)
    np.testing.assert_allclose(loss, keras_model.evaluate(x, y, verbose=0), rtol=1e-4)


def test_fit_verbose_prints_keras_style_epoch_lines(capsys):
    torch.manual_seed(0)
    model = TinyNet(3, "softmax")
    model.optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    model.loss_fn = rt.categorical_crossentropy
    model.metric_fns = {"accuracy": rt.categorical_accuracy}
    rng = rng_for(1)
    x = rng.normal(size=(50, 5))
    y = rt.to_categorical(rng.integers(0, 3, size=50), 3)
    history = rt.fit(model, x, y, batch_size=16, epochs=3, initial_epoch=1, validation_split=0.25, verbose=1)
    lines = capsys.readouterr().out.splitlines()
    number = r"\d+\.\d{4}"
    metrics_line = rf"^accuracy: {number} - loss: {number} - val_accuracy: {number} - val_loss: {number}$"
    assert len(lines) == 4
    assert lines[0] == "Epoch 2/3" and lines[2] == "Epoch 3/3"
    assert re.match(metrics_line, lines[1]) and re.match(metrics_line, lines[3])
    assert history.epoch == [1, 2]
    assert lines[1].endswith(f"val_loss: {history.history['val_loss'][0]:.4f}")

    rt.evaluate(model, x, y, verbose=1)
    assert re.match(rf"^accuracy: {number} - loss: {number}$", capsys.readouterr().out.strip())

    rt.fit(model, x, y, epochs=1, verbose=0)
    assert capsys.readouterr().out == ""


class Recorder(nn.Module):
    """Remembers the first input column of every batch it sees."""

    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1))
        self.seen = []

    def forward(self, x):
        if self.training:
            self.seen.append(x[:, 0].long())
        return x[:, :1] * self.weight


def test_fit_batches_and_shuffles_like_keras():
    torch.manual_seed(0)
    model = Recorder()
    model.optimizer = torch.optim.SGD(model.parameters(), lr=0.0)
    model.loss_fn, model.metric_fns = rt.mean_squared_error, {}
    x, y = np.arange(70.0).reshape(70, 1), np.zeros(70)
    rt.fit(model, x, y, verbose=0, shuffle=False)
    assert [len(b) for b in model.seen] == [32, 32, 6]  # Keras's default batch size
    assert torch.cat(model.seen).tolist() == list(range(70))

    model.seen.clear()
    rt.fit(model, x, y, epochs=2, verbose=0, validation_split=0.2)
    first, second = torch.cat(model.seen[:2]).tolist(), torch.cat(model.seen[2:]).tolist()
    assert sorted(first) == sorted(second) == list(range(56))  # the last 14 samples validate
    assert first != second  # a new permutation every epoch


def test_summary_counts_match_keras(keras, capsys):
    keras_model, torch_model = _keras_and_torch_models(keras, 3, "softmax")
    rt.summary(torch_model)
    out = capsys.readouterr().out
    assert f"Total params: {keras_model.count_params():,}" in out
    assert re.search(r"dense \(Linear\)\s+48\b", out)

    keras_bn = keras.Sequential([keras.Input((4,)), keras.layers.BatchNormalization()])
    rt.summary(nn.Sequential(nn.BatchNorm1d(4)))
    out = capsys.readouterr().out
    assert f"Total params: {keras_bn.count_params():,}" in out
    assert f"Non-trainable params: {sum(int(np.prod(w.shape)) for w in keras_bn.non_trainable_weights)}" in out


# ---------------------------------------------------------------------------
# Optimizers: Keras' update rule, step for step
# ---------------------------------------------------------------------------

OPTIMIZER_CASES = [
    pytest.param("KerasAdam", {"lr": 0.01}, "Adam", {"learning_rate": 0.01}, id="adam"),
    pytest.param("KerasAdam", {"lr": 0.01, "amsgrad": True}, "Adam", {"learning_rate": 0.01, "amsgrad": True},
                 id="adam-amsgrad"),
    pytest.param("KerasAdamW", {"lr": 0.01}, "AdamW", {"learning_rate": 0.01}, id="adamw"),
    pytest.param("KerasRMSprop", {"lr": 0.01}, "RMSprop", {"learning_rate": 0.01}, id="rmsprop"),
    pytest.param("KerasRMSprop", {"lr": 0.01, "momentum": 0.9, "centered": True}, "RMSprop",
                 {"learning_rate": 0.01, "momentum": 0.9, "centered": True}, id="rmsprop-centered-momentum"),
    pytest.param("KerasAdagrad", {"lr": 0.05}, "Adagrad", {"learning_rate": 0.05}, id="adagrad"),
]


@pytest.mark.parametrize("torch_name, torch_kwargs, keras_name, keras_kwargs", OPTIMIZER_CASES)
def test_keras_optimizers_match_keras_step_for_step(torch_name, torch_kwargs, keras_name, keras_kwargs):
    """Tiny gradients are where epsilon placement shows: include them on purpose."""
    import keras

    rng = np.random.default_rng(3)
    w0 = rng.normal(size=(5, 3)).astype("float32")
    grads = [(rng.normal(size=(5, 3)) * scale).astype("float32") for scale in (1e-5, 1e-3, 1e-1, 1e-6, 1.0)]

    var = keras.Variable(w0)
    opt = getattr(keras.optimizers, keras_name)(**keras_kwargs)
    for g in grads:
        opt.apply_gradients([(keras.ops.convert_to_tensor(g), var)])

    p = torch.nn.Parameter(torch.tensor(w0))
    topt = getattr(rt, torch_name)([p], **torch_kwargs)
    for g in grads:
        p.grad = torch.tensor(g)
        topt.step()

    np.testing.assert_allclose(p.detach().numpy(), np.asarray(var), rtol=1e-6, atol=1e-7)


def test_inputs_are_cast_to_float32_like_keras_inputs():
    """Keras casts x to the Input's float32: raw uint8 images feed a Dense model."""
    assert rt.to_input(np.zeros((2, 3), dtype="uint8")).dtype == torch.float32
    assert rt.to_input(np.zeros((2, 3))).dtype == torch.float32
    model = torch.nn.Linear(3, 2)
    out = rt.predict(model, np.arange(6, dtype="uint8").reshape(2, 3))
    assert out.dtype == np.float32 and out.shape == (2, 2)


# ---------------------------------------------------------------------------
# Sample weights and class weights: Keras weighs each sample's loss and divides by the count
# ---------------------------------------------------------------------------


def _weights_for(values_shape, rng):
    return rng.uniform(0.0, 3.0, size=values_shape).astype("float32")


@pytest.mark.parametrize("ours, keras_class, kwargs, make_case, shapes", LOSS_CASES)
def test_weighted_loss_matches_keras(keras, ours, keras_class, kwargs, make_case, shapes):
    rng = rng_for(("weighted", ours, shapes))
    y_pred, y_true = make_case(rng, *shapes)
    # one weight per loss value Keras computes (per sample; per time step for sequence outputs)
    values = getattr(keras.losses, keras_class)(reduction=None, **kwargs)(y_true, y_pred)
    weights = _weights_for(tuple(values.shape) or (len(y_pred),), rng)
    expected = float(getattr(keras.losses, keras_class)(**kwargs)(y_true, y_pred, sample_weight=weights))
    got = getattr(rt, ours)(torch.from_numpy(y_pred), rt.to_tensor(y_true), torch.from_numpy(weights))
    np.testing.assert_allclose(got.item(), expected, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("shape", [pytest.param((8,), id="N"), pytest.param((8, 1), id="N1")])
def test_weighted_loss_divides_by_the_count_not_the_weights(keras, shape):
    rng = rng_for(shape)
    y_pred, y_true = _probs(rng, (8, 3)), _onehot(rng, (8, 3))
    weights = np.zeros(shape, dtype="float32")
    weights[:2] = 1.0
    expected = float(keras.losses.CategoricalCrossentropy()(y_true, y_pred, sample_weight=weights))
    got = rt.categorical_crossentropy(torch.from_numpy(y_pred), torch.from_numpy(y_true), torch.from_numpy(weights))
    np.testing.assert_allclose(got.item(), expected, rtol=1e-6)
    unweighted = rt.categorical_crossentropy(torch.from_numpy(y_pred[:2]), torch.from_numpy(y_true[:2]))
    np.testing.assert_allclose(got.item(), unweighted.item() * 2 / 8, rtol=1e-6)


@pytest.mark.parametrize("labels", [
    pytest.param(np.array([0, 2, 1, 2, 0]), id="sparse-N"),
    pytest.param(np.array([[0], [2], [1], [2], [3]]), id="sparse-N1"),
    pytest.param(np.eye(3, dtype="float32")[[0, 2, 1, 2, 0]], id="one-hot"),
    pytest.param(np.array([0.0, 1.0, 1.0, 0.0, 1.0], dtype="float32"), id="binary-float"),
])
def test_class_weights_match_keras(labels):
    from keras.src.trainers.data_adapters.data_adapter_utils import class_weight_to_sample_weights

    class_weight = {0: 0.5, 1: 2.0, 2: 3.0}  # class 3 is missing: weight 1
    expected = class_weight_to_sample_weights(labels, class_weight)
    np.testing.assert_array_equal(rt.class_weights(rt.to_tensor(labels), class_weight).numpy(), expected)


WEIGHT_CASES = [
    pytest.param({"sample_weight": "random"}, id="sample_weight"),
    pytest.param({"sample_weight": "random", "validation_split": 0.25}, id="sample_weight-validation_split"),
    pytest.param({"class_weight": {0: 0.2, 1: 3.0, 2: 1.5}}, id="class_weight"),
    pytest.param({"class_weight": {1: 4.0}, "validation_split": 0.2}, id="class_weight-partial-validation_split"),
]


@pytest.mark.parametrize("case", ["categorical", "sparse"])
@pytest.mark.parametrize("weights", WEIGHT_CASES)
def test_fit_with_weights_matches_keras(keras, case, weights):
    x, y, keras_model, torch_model = _training_setup(keras, case)
    weights = dict(weights)
    if weights.get("sample_weight") == "random":
        weights["sample_weight"] = rng_for(("sw", case)).uniform(0, 2, size=len(x))
    args = dict(epochs=2, batch_size=16, shuffle=False, verbose=0, **weights)
    keras_history = keras_model.fit(x, y, **args)
    history = rt.fit(torch_model, x, y, **args)
    assert list(history.history) == list(keras_history.history)
    for name, values in keras_history.history.items():
        np.testing.assert_allclose(history.history[name], values, rtol=1e-4, err_msg=name)
    sample_weight = rng_for("evaluate").uniform(0, 2, size=len(x))
    expected = keras_model.evaluate(x, y, batch_size=16, sample_weight=sample_weight, verbose=0)
    got = rt.evaluate(torch_model, x, y, batch_size=16, sample_weight=sample_weight, verbose=0)
    np.testing.assert_allclose(got, expected, rtol=1e-4)


def test_fit_refuses_class_and_sample_weights_together_like_keras(keras):
    x, y, keras_model, torch_model = _training_setup(keras, "sparse")
    for fit in (keras_model.fit, lambda *a, **k: rt.fit(torch_model, *a, **k)):
        with pytest.raises(ValueError, match="class_weight"):
            fit(x, y, class_weight={0: 1.0}, sample_weight=np.ones(len(x)), verbose=0)


# ---------------------------------------------------------------------------
# Multi-input models: x as a list of arrays -> model(*inputs)
# ---------------------------------------------------------------------------


class TwoInputNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.dense = nn.Linear(3, 4)
        self.dense_1 = nn.Linear(6, 2)

    def forward(self, a, b):
        return torch.softmax(self.dense_1(torch.cat([torch.relu(self.dense(a)), b], dim=-1)), dim=-1)


def test_multi_input_fit_evaluate_predict_match_keras(keras):
    keras.utils.set_random_seed(0)
    a, b = keras.Input((3,)), keras.Input((2,))
    hidden = keras.layers.Dense(4, activation="relu")(a)
    out = keras.layers.Dense(2, activation="softmax")(keras.layers.concatenate([hidden, b]))
    keras_model = keras.Model([a, b], out)
    keras_model.compile(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy",
                        metrics=["accuracy"])
    torch_model = TwoInputNet()
    with torch.no_grad():
        for layer, linear in zip([l for l in keras_model.layers if l.get_weights()], [torch_model.dense,
                                                                                     torch_model.dense_1]):
            kernel, bias = layer.get_weights()
            linear.weight.copy_(torch.from_numpy(kernel.T))
            linear.bias.copy_(torch.from_numpy(bias))
    torch_model.optimizer = torch.optim.SGD(torch_model.parameters(), lr=0.1)
    torch_model.loss_fn = rt.sparse_categorical_crossentropy
    torch_model.metric_fns = {"accuracy": rt.sparse_categorical_accuracy}
    rng = rng_for("multi-input")
    x = [rng.normal(size=(40, 3)), rng.normal(size=(40, 2))]
    y = rng.integers(0, 2, size=40)
    args = dict(epochs=2, batch_size=8, shuffle=False, verbose=0, validation_split=0.25)
    keras_history = keras_model.fit(x, y, **args)
    history = rt.fit(torch_model, x, y, **args)
    for name, values in keras_history.history.items():
        np.testing.assert_allclose(history.history[name], values, rtol=1e-4, err_msg=name)
    np.testing.assert_allclose(rt.evaluate(torch_model, tuple(x), y, verbose=0),
                               keras_model.evaluate(tuple(x), y, verbose=0), rtol=1e-4)
    np.testing.assert_allclose(rt.predict(torch_model, x, batch_size=7), keras_model.predict(x, verbose=0),
                               rtol=1e-5, atol=1e-6)


def test_multi_output_predict_returns_one_array_per_output():
    class TwoHeads(nn.Module):
        def forward(self, x):
            return x[:, :1], x * 2

    out = rt.predict(TwoHeads(), np.ones((5, 3)), batch_size=2)
    assert isinstance(out, list) and [o.shape for o in out] == [(5, 1), (5, 3)]
