"""Keras metric objects: the runtime's classes (translator/runtime/torch_runtime.py) against real keras.metrics.

Each case feeds the same seeded batches to both: several ``update_state`` calls (with and
without sample weights of several shapes), ``result()`` after each, then ``reset_state()``
and one more batch. Keras is imported lazily through the ``keras`` fixture; torch's side
loads the template by path, as a translated script holds a copy of it.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from test_torch_runtime import load_runtime, rng_for

rt = load_runtime()


@pytest.fixture(scope="module")
def keras():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import keras as keras_module

    return keras_module


def _probs(rng, shape):
    z = rng.normal(size=shape) * 2
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return (e / e.sum(axis=-1, keepdims=True)).astype("float32")


def _labels(rng, pred_shape, true_shape):
    return rng.integers(0, pred_shape[-1], size=true_shape)


def _onehot(rng, pred_shape, true_shape):
    return np.eye(pred_shape[-1], dtype="float32")[rng.integers(0, pred_shape[-1], size=true_shape[:-1])]


def _binary(rng, pred_shape, true_shape):
    return rng.integers(0, 2, size=true_shape).astype("float32")


def _normal(rng, shape, _=None):
    return rng.normal(size=shape).astype("float32")


def _sigmoid(rng, shape):
    return (1 / (1 + np.exp(-2 * rng.normal(size=shape)))).astype("float32")


def _logits(rng, shape):
    return (3 * rng.normal(size=shape)).astype("float32")


def _small_ints(rng, shape, _=None):
    return rng.integers(0, 3, size=shape)


#: (class, constructor kwargs, y_pred maker, y_true maker, pred shape, true shape)
TWO_ARGUMENT = [
    pytest.param("SparseCategoricalAccuracy", {}, _probs, _labels, (16, 5), (16,), id="sparse-acc"),
    pytest.param("SparseCategoricalAccuracy", {}, _probs, _labels, (16, 5), (16, 1), id="sparse-acc-labels-N1"),
    pytest.param("SparseCategoricalAccuracy", {}, _probs, _labels, (4, 6, 5), (4, 6), id="sparse-acc-sequence"),
    pytest.param("CategoricalAccuracy", {}, _probs, _onehot, (16, 5), (16, 5), id="categorical-acc"),
    pytest.param("BinaryAccuracy", {}, _sigmoid, _binary, (16, 1), (16,), id="binary-acc-pred-N1"),
    pytest.param("BinaryAccuracy", {"threshold": 0.7}, _sigmoid, _binary, (16, 3), (16, 3), id="binary-acc-threshold"),
    pytest.param("Accuracy", {}, _small_ints, _small_ints, (16,), (16,), id="exact-acc"),
    pytest.param("Accuracy", {}, _small_ints, _small_ints, (16, 1), (16,), id="exact-acc-pred-N1"),
    pytest.param("MeanSquaredError", {}, _normal, _normal, (16, 3), (16, 3), id="mse"),
    pytest.param("MeanSquaredError", {}, _normal, _normal, (16, 1), (16,), id="mse-pred-N1"),
    pytest.param("MeanAbsoluteError", {}, _normal, _normal, (4, 5, 3), (4, 5, 3), id="mae-3d"),
    pytest.param("BinaryCrossentropy", {}, _sigmoid, _binary, (16, 1), (16, 1), id="bce"),
    pytest.param("BinaryCrossentropy", {"from_logits": True, "label_smoothing": 0.1}, _logits, _binary, (16, 4),
                 (16, 4), id="bce-logits-smoothing"),
    pytest.param("CategoricalCrossentropy", {}, _probs, _onehot, (16, 5), (16, 5), id="cce"),
    pytest.param("CategoricalCrossentropy", {"from_logits": True, "label_smoothing": 0.2}, _logits, _onehot, (16, 5),
                 (16, 5), id="cce-logits-smoothing"),
    pytest.param("SparseCategoricalCrossentropy", {}, _probs, _labels, (16, 5), (16,), id="scce"),
    pytest.param("SparseCategoricalCrossentropy", {"from_logits": True}, _logits, _labels, (4, 6, 5), (4, 6),
                 id="scce-logits-sequence"),
]

#: sample weights per batch, by how their shape relates to the targets' (None: no weights)
WEIGHTS = [
    pytest.param(None, id="unweighted"),
    pytest.param("per-sample", id="weights-N"),
    pytest.param("column", id="weights-N1"),
    pytest.param("scalar", id="weight-scalar"),
]


def _weights(rng, kind, batch_shape):
    if kind is None:
        return None
    if kind == "scalar":
        return np.float32(rng.uniform(0.5, 2.0))
    w = rng.uniform(0.0, 2.0, size=batch_shape[:1]).astype("float32")
    w[0] = 0.0  # a zero weight takes a sample out, as Keras documents
    return w[:, None] if kind == "column" else w


def _run_both(keras, cls, kwargs, make_pred, make_true, pred_shape, true_shape, weights, seed):
    rng = rng_for(seed)
    ours, theirs = getattr(rt, cls)(**kwargs), getattr(keras.metrics, cls)(**kwargs)
    got, expected = [float(ours.result())], [float(theirs.result())]
    for step in range(4):
        if step == 3:
            ours.reset_state()
            theirs.reset_state()
            got.append(float(ours.result()))
            expected.append(float(theirs.result()))
        y_pred, y_true = make_pred(rng, pred_shape), make_true(rng, pred_shape, true_shape)
        w = _weights(rng, weights, pred_shape)
        torch_w = None if w is None else torch.as_tensor(w)
        theirs.update_state(y_true, y_pred, sample_weight=w)
        returned = ours(torch.as_tensor(y_pred), torch.as_tensor(y_true), sample_weight=torch_w)
        got.append(float(ours.result()))
        expected.append(float(theirs.result()))
        assert float(returned) == got[-1]  # calling updates and returns the result
    return got, expected


@pytest.mark.parametrize("weights", WEIGHTS)
@pytest.mark.parametrize("cls, kwargs, make_pred, make_true, pred_shape, true_shape", TWO_ARGUMENT)
def test_metric_matches_keras(keras, cls, kwargs, make_pred, make_true, pred_shape, true_shape, weights):
    got, expected = _run_both(keras, cls, kwargs, make_pred, make_true, pred_shape, true_shape, weights,
                              (cls, pred_shape, true_shape, weights))
    np.testing.assert_allclose(got, expected, rtol=2e-6, atol=1e-6)
    assert got[0] == 0.0 and got[4] == 0.0  # before any update, and right after reset_state()


#: values and sample weights for Mean/Sum: (values shape, weights shape or None)
VALUE_CASES = [
    pytest.param((), None, id="scalar"),
    pytest.param((8,), None, id="vector"),
    pytest.param((8, 3), None, id="matrix"),
    pytest.param((8,), (8,), id="vector-weights"),
    pytest.param((8, 3), (8,), id="matrix-row-weights"),
    pytest.param((8, 3), (8, 3), id="matrix-elementwise-weights"),
    pytest.param((8, 1), (8,), id="column-vector-weights"),
    pytest.param((8,), (8, 1), id="vector-column-weights"),
    pytest.param((8, 3), (), id="matrix-scalar-weight"),
    pytest.param((4, 3, 2), (4, 3), id="rank3-rank2-weights"),
]


@pytest.mark.parametrize("cls", ["Mean", "Sum"])
@pytest.mark.parametrize("values_shape, weights_shape", VALUE_CASES)
def test_mean_and_sum_match_keras(keras, cls, values_shape, weights_shape):
    rng = rng_for((cls, values_shape, weights_shape))
    ours, theirs = getattr(rt, cls)(), getattr(keras.metrics, cls)()
    got, expected = [float(ours.result())], [float(theirs.result())]
    for step in range(4):
        if step == 3:
            ours.reset_state()
            theirs.reset_state()
        values = rng.normal(size=values_shape).astype("float32")
        w = None if weights_shape is None else rng.uniform(0, 2, size=weights_shape).astype("float32")
        theirs.update_state(values, sample_weight=w)
        ours.update_state(torch.as_tensor(values), sample_weight=None if w is None else torch.as_tensor(w))
        got.append(float(ours.result()))
        expected.append(float(theirs.result()))
    np.testing.assert_allclose(got, expected, rtol=2e-6, atol=1e-6)


def test_mean_takes_python_numbers_and_arrays(keras):
    """What Keras' examples feed: lists, NumPy arrays and Python floats."""
    ours, theirs = rt.Mean(), keras.metrics.Mean()
    for values, w in (([1, 3, 5, 7], None), ([1, 3, 5, 7], [1, 1, 0, 0]), (2.5, None), (np.arange(4.0), None)):
        ours.update_state(values, sample_weight=w)
        theirs.update_state(values, sample_weight=w)
    assert float(ours.result()) == pytest.approx(float(theirs.result()), rel=1e-7)


@pytest.mark.parametrize("cls", ["Mean", "Sum", "Accuracy", "BinaryAccuracy", "CategoricalAccuracy",
                                 "SparseCategoricalAccuracy", "MeanSquaredError", "MeanAbsoluteError",
                                 "BinaryCrossentropy", "CategoricalCrossentropy", "SparseCategoricalCrossentropy"])
def test_default_and_given_names_match_keras(keras, cls):
    assert getattr(rt, cls)().name == getattr(keras.metrics, cls)().name
    assert getattr(rt, cls)(name="tracked").name == "tracked"


def test_result_formats_like_a_keras_scalar():
    """The quickstart's print: ``f'{loss.result():0.2f}'`` and ``accuracy.result() * 100``."""
    loss, acc = rt.Mean(name="train_loss"), rt.SparseCategoricalAccuracy(name="train_accuracy")
    assert f"{loss.result():0.2f}, {acc.result() * 100:0.2f}" == "0.00, 0.00"
    loss(torch.tensor(0.25))
    loss(torch.tensor(0.5))
    acc(torch.tensor([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]]), torch.tensor([1, 1, 1]))
    assert f"{loss.result():0.2f}, {acc.result() * 100:0.2f}" == "0.38, 66.67"
    assert loss.result().dtype == torch.float32 and loss.result().dim() == 0
    assert loss.result().numpy() == np.float32(0.375)


def test_values_that_require_grad_do_not_keep_the_graph():
    w = torch.ones(3, requires_grad=True)
    loss, acc = rt.Mean(), rt.CategoricalAccuracy()
    out = loss((w * 2).sum())
    acc(torch.softmax(w.unsqueeze(0) * torch.tensor([[1.0, 2.0, 3.0]]), dim=-1), torch.tensor([[0.0, 0.0, 1.0]]))
    for t in (out, loss.total, loss.count, loss.result(), acc.total, acc.result()):
        assert not t.requires_grad and t.grad_fn is None
    assert float(out) == 6.0 and float(acc.result()) == 1.0


@pytest.mark.parametrize("cls", ["Mean", "Sum"])
def test_result_is_a_new_tensor(cls):
    """Keras returns a fresh tensor: changing it in place leaves the metric alone."""
    metric = getattr(rt, cls)()
    metric.update_state(torch.tensor([1.0, 2.0]))
    result = metric.result()
    result += 10
    assert float(metric.result()) == {"Mean": 1.5, "Sum": 3.0}[cls]
