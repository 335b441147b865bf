"""Data feeding against Keras: which batches each epoch sees, tf.data -> torch.utils.data, pad_sequences.

The runtime's ``Batches`` is compared with Keras's own epoch iterator (the object
``Model.fit`` loops over) on arrays, tf.data datasets vs DataLoaders, and Python
generators, with and without ``steps_per_epoch``; then whole ``fit`` runs are compared.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from test_torch_runtime import TinyNet, _keras_and_torch_models, load_runtime

rt = load_runtime()


@pytest.fixture(scope="module")
def tf():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import tensorflow

    return tensorflow


@pytest.fixture(scope="module")
def keras(tf):
    import keras as keras_module

    return keras_module


N, BATCH = 45, 10  # 5 batches, the last one short
IDS = np.arange(N, dtype="float32").reshape(N, 1)


def generator(n_batches=None):
    """Batches of ids: a finite generator, or an endless one."""
    i = 0
    while n_batches is None or i < n_batches:
        start = (i * BATCH) % N
        yield IDS[start:start + BATCH], IDS[start:start + BATCH, 0]
        i += 1


def keras_epochs(tf, x, epochs, steps=None):
    """The ids each epoch of Keras's fit loop draws (its TFEpochIterator, one batch per step)."""
    from keras.src.backend.tensorflow.trainer import TFEpochIterator

    iterator = TFEpochIterator(x=x, batch_size=None if not isinstance(x, np.ndarray) else BATCH,
                               steps_per_epoch=steps, shuffle=False, distribute_strategy=tf.distribute.get_strategy())
    iterator.reset()
    seen = []
    for _ in range(epochs):
        epoch = []
        with iterator.catch_stop_iteration():
            for _, _, data in iterator:
                batch = next(data)
                epoch.append([int(v) for v in np.asarray(batch[0] if isinstance(batch, tuple) else batch).ravel()])
        seen.append(epoch)
    return seen


def torch_epochs(x, epochs, steps=None):
    batches = rt.Batches(x, batch_size=BATCH if isinstance(x, np.ndarray) else None, steps=steps)
    return [[[int(v) for v in inputs.ravel()] for inputs, _, _ in batches.epoch()] for _ in range(epochs)]


def loader(**kwargs):
    return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.as_tensor(IDS), torch.as_tensor(IDS[:, 0])),
                                       batch_size=BATCH, **kwargs)


SOURCES = [
    pytest.param("arrays", None, id="arrays"),
    pytest.param("arrays", 3, id="arrays-steps-3-of-5"),
    pytest.param("arrays", 7, id="arrays-steps-beyond-the-data"),
    pytest.param("dataset", None, id="dataset"),
    pytest.param("dataset", 2, id="dataset-steps-2-of-5"),
    pytest.param("repeated", 3, id="repeat-forever-steps-3"),
    pytest.param("repeated-2", None, id="repeat-2"),
    pytest.param("generator", 3, id="endless-generator-steps-3"),
    pytest.param("finite-generator", 2, id="finite-generator-steps-2"),
    pytest.param("finite-generator", None, id="finite-generator-one-epoch-only"),
]


@pytest.mark.parametrize("source, steps", SOURCES)
def test_epochs_draw_the_batches_keras_draws(tf, source, steps):
    epochs = 4
    if source == "arrays":
        keras_x, torch_x = IDS, IDS
    elif source == "dataset":
        keras_x = tf.data.Dataset.from_tensor_slices((IDS, IDS[:, 0])).batch(BATCH)
        torch_x = loader()
    elif source.startswith("repeated"):
        count = 2 if source == "repeated-2" else None
        keras_x = tf.data.Dataset.from_tensor_slices((IDS, IDS[:, 0])).batch(BATCH).repeat(count)
        torch_x = rt.Repeat(loader(), count)
    else:
        n = 5 if source == "finite-generator" else None
        keras_x, torch_x = generator(n), generator(n)
    with _ignore_warnings():
        expected = keras_epochs(tf, keras_x, epochs, steps)
        got = torch_epochs(torch_x, epochs, steps)
    if source == "finite-generator":
        # Keras peeks at a generator's first two batches (for their shapes) and replays them whenever it
        # restarts the used-up generator; the runtime does not replay: once used up, later epochs are empty
        used_up = 1 if steps is None else 3
        assert got[used_up:] == [[]] * (epochs - used_up)
        assert [b[0] // BATCH for b in expected[used_up]] == [0, 1]
        got, expected = got[:used_up], expected[:used_up]
    assert got == expected


class _ignore_warnings:
    def __enter__(self):
        import warnings

        self._catch = warnings.catch_warnings()
        self._catch.__enter__()
        warnings.simplefilter("ignore")

    def __exit__(self, *exc):
        self._catch.__exit__(*exc)


def test_shuffled_loader_reshuffles_every_pass():
    torch.manual_seed(0)
    batches = rt.Batches(loader(shuffle=True))
    first, second = ([int(v) for b, _, _ in batches.epoch() for v in b.ravel()] for _ in range(2))
    assert sorted(first) == sorted(second) == list(range(N)) and first != second


# --------------------------------------------------------------------------- tf.data methods


def test_map_before_batch_matches_tf_data(tf):
    def fn(x, y):
        return (x * 2.0 + 1.0, y - 1.0)

    expected = [b[0].numpy() for b in tf.data.Dataset.from_tensor_slices((IDS, IDS[:, 0])).map(fn).batch(BATCH)]
    dataset = rt.MapDataset(torch.utils.data.TensorDataset(torch.as_tensor(IDS), torch.as_tensor(IDS[:, 0])), fn)
    got = [b[0].numpy() for b in torch.utils.data.DataLoader(dataset, batch_size=BATCH)]
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        np.testing.assert_array_equal(g, e)


def test_map_of_a_single_array_dataset(tf):
    dataset = rt.MapDataset(torch.utils.data.TensorDataset(torch.as_tensor(IDS)), lambda x: x / 2)
    (batch,) = next(iter(torch.utils.data.DataLoader(dataset, batch_size=4)))
    np.testing.assert_array_equal(batch.numpy(), IDS[:4] / 2)


@pytest.mark.parametrize("drop", [False, True])
def test_drop_remainder_is_drop_last(tf, drop):
    expected = [len(b[0]) for b in tf.data.Dataset.from_tensor_slices((IDS, IDS)).batch(BATCH, drop_remainder=drop)]
    assert [len(b[0]) for b in loader(drop_last=drop)] == expected


def test_repeat_count_passes(tf):
    expected = [int(b[0].numpy()[0, 0]) for b in
                tf.data.Dataset.from_tensor_slices((IDS, IDS)).batch(BATCH).repeat(3)]
    repeated = rt.Repeat(loader(), 3)
    assert len(repeated) == 15
    assert [int(b[0][0, 0]) for b in repeated] == expected
    with pytest.raises(TypeError):
        len(rt.Repeat(loader()))


# --------------------------------------------------------------------------- fit on data sources


@pytest.mark.parametrize("source", ["dataset", "generator", "dataset-steps"])
def test_fit_on_a_data_source_matches_keras(tf, keras, source):
    keras_model, torch_model = _keras_and_torch_models(keras, 3, "softmax")
    keras_model.compile(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy",
                        metrics=["accuracy"])
    torch_model.optimizer = torch.optim.SGD(torch_model.parameters(), lr=0.1)
    torch_model.loss_fn, torch_model.metric_fns = rt.sparse_categorical_crossentropy, {
        "accuracy": rt.sparse_categorical_accuracy}
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=(50, 5)).astype("float32"), rng.integers(0, 3, size=50)
    val = (x[:20], y[:20])
    kwargs = dict(epochs=3, verbose=0)
    if source == "generator":
        def batches():
            while True:
                for i in range(0, 50, 16):
                    yield x[i:i + 16], y[i:i + 16]

        keras_x, torch_x = batches(), batches()
        kwargs["steps_per_epoch"] = 3
    else:
        keras_x = tf.data.Dataset.from_tensor_slices((x, y)).batch(16)
        torch_x = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.as_tensor(x), torch.as_tensor(y)),
                                              batch_size=16)
        if source == "dataset-steps":
            kwargs["steps_per_epoch"] = 3
            kwargs["validation_steps"] = 1
    keras_val = tf.data.Dataset.from_tensor_slices(val).batch(8)
    torch_val = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(*map(torch.as_tensor, val)), batch_size=8)
    with _ignore_warnings():
        keras_history = keras_model.fit(keras_x, validation_data=keras_val, **kwargs)
        history = rt.fit(torch_model, torch_x, validation_data=torch_val, **kwargs)
    assert history.epoch == keras_history.epoch
    for name, values in keras_history.history.items():
        np.testing.assert_allclose(history.history[name], values, rtol=1e-4, err_msg=name)
    np.testing.assert_allclose(rt.evaluate(torch_model, torch_val, verbose=0),
                               keras_model.evaluate(keras_val, verbose=0), rtol=1e-4)
    np.testing.assert_allclose(rt.predict(torch_model, torch_val), keras_model.predict(keras_val, verbose=0),
                               rtol=1e-5, atol=1e-6)


def test_validation_split_of_a_dataset_fails_like_keras(tf, keras):
    model = TinyNet(3, "softmax")
    with pytest.raises(ValueError, match="validation_split"):
        rt.fit(model, loader(), validation_split=0.2, verbose=0)


def test_sample_weights_from_the_dataset(tf, keras):
    """(x, y, sample_weight) elements weigh the loss as Keras does."""
    keras_model, torch_model = _keras_and_torch_models(keras, 3, "softmax")
    keras_model.compile(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
    torch_model.optimizer = torch.optim.SGD(torch_model.parameters(), lr=0.1)
    torch_model.loss_fn, torch_model.metric_fns = rt.sparse_categorical_crossentropy, {}
    rng = np.random.default_rng(6)
    x, y, w = rng.normal(size=(40, 5)).astype("float32"), rng.integers(0, 3, size=40), rng.uniform(0, 2, 40)
    keras_history = keras_model.fit(tf.data.Dataset.from_tensor_slices((x, y, w)).batch(16), epochs=2, verbose=0)
    data = torch.utils.data.TensorDataset(*map(torch.as_tensor, (x, y, w)))
    history = rt.fit(torch_model, torch.utils.data.DataLoader(data, batch_size=16), epochs=2, verbose=0)
    np.testing.assert_allclose(history.history["loss"], keras_history.history["loss"], rtol=1e-4)


# --------------------------------------------------------------------------- pad_sequences

SEQUENCES = [[1, 2, 3], [4, 5], [], [6, 7, 8, 9, 10]]


@pytest.mark.parametrize("kwargs", [
    pytest.param({}, id="defaults"),
    pytest.param({"maxlen": 3}, id="maxlen-truncating-pre"),
    pytest.param({"maxlen": 3, "truncating": "post"}, id="truncating-post"),
    pytest.param({"padding": "post"}, id="padding-post"),
    pytest.param({"maxlen": 6, "value": -1}, id="value"),
    pytest.param({"dtype": "float32", "value": 0.5}, id="float32"),
    pytest.param({"maxlen": 4, "padding": "post", "truncating": "post", "dtype": "int64"}, id="post-post-int64"),
])
def test_pad_sequences_matches_keras(keras, kwargs):
    expected = keras.utils.pad_sequences(SEQUENCES, **kwargs)
    got = rt.pad_sequences(SEQUENCES, **kwargs)
    assert got.dtype == expected.dtype and got.shape == expected.shape
    np.testing.assert_array_equal(got, expected)


def test_pad_sequences_of_vectors_and_errors_like_keras(keras):
    vectors = [np.ones((2, 3)), np.zeros((4, 3))]
    np.testing.assert_array_equal(rt.pad_sequences(vectors, dtype="float32"),
                                  keras.utils.pad_sequences(vectors, dtype="float32"))
    for kwargs in ({"padding": "middle"}, {"truncating": "middle"}, {"value": "x"}):
        for pad in (rt.pad_sequences, keras.utils.pad_sequences):
            with pytest.raises(ValueError):
                pad(SEQUENCES, **kwargs)
