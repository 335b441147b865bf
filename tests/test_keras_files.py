"""converters.keras_files: real Keras checkpoints read without Keras, and hostile files refused."""

from __future__ import annotations

import json
import shutil
import zipfile

import numpy as np
import pytest

from converters.keras_files import CheckpointError, read_keras_file

FORMATS = ("keras", "h5", "weights.h5")


def _last(name: str) -> str:
    return name.split(":")[0].split("/")[-1]


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """name -> (expected per-layer weights, layer names, {format: path})."""
    import keras
    layers = keras.layers
    out_dir = tmp_path_factory.mktemp("keras_files")
    rng = np.random.default_rng(0)

    inp = keras.Input((8, 8, 3))
    x = layers.Conv2D(4, 3, name="conv")(inp)
    x = layers.BatchNormalization(name="bn")(x)
    x = layers.Conv2D(2, 1, use_bias=False)(x)
    x = layers.Flatten()(x)
    x = layers.Dense(5, name="head")(x)
    cnn = keras.Model(inp, x, name="cnn")

    inp = keras.Input((6,), dtype="int32")
    e = layers.Embedding(20, 4, name="emb")(inp)
    a = layers.LSTM(3, return_sequences=True, name="lstm")(e)
    b = layers.GRU(3, return_sequences=True)(a)
    c = layers.Bidirectional(layers.LSTM(2), name="bidi")(b)
    d = layers.Dense(2)(c)
    rnn = keras.Model(inp, d, name="rnn")

    seq = keras.Sequential([keras.Input((4,)), layers.Dense(3), layers.Dense(3, use_bias=False),
                            layers.BatchNormalization(center=False, name="bn_nocenter"), layers.Dense(1)], name="seq")

    models = {}
    for model in (cnn, rnn, seq):
        # non-trivial values everywhere, moving statistics included
        for w in model.weights:
            w.assign(rng.standard_normal(w.shape).astype(w.dtype))
        paths = {}
        for fmt in FORMATS:
            p = out_dir / f"{model.name}.{fmt}"
            if fmt == "weights.h5":
                model.save_weights(p)
            else:
                model.save(p)
            paths[fmt] = p
        expected = [[(w.path, np.array(w)) for w in layer.weights] for layer in model.layers]
        models[model.name] = (expected, [layer.name for layer in model.layers], paths)
    return models


def _assert_same(got, want, index_names=False):
    """Keras 3 files store positions (the converter names them from the spec rules), legacy .h5 names."""
    assert len(got) == len(want)
    for i, ((gname, garr), (wname, warr)) in enumerate(zip(got, want)):
        if index_names:
            assert _last(gname).isdigit(), (gname, wname)
        else:
            assert _last(gname) == _last(wname), (gname, wname)
        assert garr.dtype == warr.dtype and garr.shape == warr.shape, gname
        assert np.array_equal(garr, warr), gname


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("model", ["cnn", "rnn", "seq"])
def test_reads_real_files(saved, model, fmt):
    expected, names, paths = saved[model]
    ckpt = read_keras_file(paths[fmt])
    if fmt == "weights.h5":  # no config: file order, matched by layer name
        assert ckpt.config is None
        got = {name: variables for name, _, variables in ckpt.layers}
        assert sorted(got) == sorted(names)
        for name, want in zip(names, expected):
            _assert_same(got[name], want, index_names=True)
        return
    assert ckpt.config is not None
    assert ckpt.layer_names() == names
    assert len(ckpt.weights()) == len(expected)
    for got, want in zip(ckpt.weights(), expected):
        _assert_same(got, want, index_names=fmt == "keras")
    if fmt == "keras":  # Keras 3 files: the reconstructed paths are the variables' paths, position last
        for got, want in zip(ckpt.weights(), expected):
            assert [n.rsplit("/", 1)[0] for n, _ in got] == [n.rsplit("/", 1)[0] for n, _ in want]


def test_bidirectional_paths(saved):
    expected, names, paths = saved["rnn"]
    bidi = read_keras_file(paths["keras"]).layers[names.index("bidi")]
    assert bidi[1] == "Bidirectional"
    assert [n for n, _ in bidi[2]][:1] == ["bidi/forward_lstm/lstm_cell/0"]
    assert [n for n, _ in bidi[2]][3:4] == ["bidi/backward_lstm/lstm_cell/0"]


# --------------------------------------------------------------------------- refusals


def _raises(path, **kw):
    with pytest.raises(CheckpointError) as info:
        read_keras_file(path, **kw)
    message = str(info.value)
    assert path.name in message and "\n" not in message
    return message


@pytest.mark.parametrize("fmt", FORMATS)
def test_truncated(saved, tmp_path, fmt):
    src = saved["cnn"][2][fmt]
    bad = tmp_path / f"truncated.{fmt}"
    data = src.read_bytes()
    bad.write_bytes(data[: len(data) // 2])
    _raises(bad)


def test_not_a_keras_file(tmp_path):
    bad = tmp_path / "junk.keras"
    bad.write_bytes(b"hello, not a checkpoint")
    _raises(bad)


def test_missing_file(tmp_path):
    assert "no such file" in _raises(tmp_path / "nowhere.keras")


def test_path_traversal(saved, tmp_path):
    bad = tmp_path / "evil.keras"
    with zipfile.ZipFile(saved["cnn"][2]["keras"]) as src, zipfile.ZipFile(bad, "w") as z:
        for info in src.infolist():
            z.writestr(info.filename, src.read(info))
        z.writestr("../evil", b"pwned")
    assert "../evil" in _raises(bad)
    bad2 = tmp_path / "abs.keras"
    with zipfile.ZipFile(bad2, "w") as z:
        z.writestr("/etc/evil", b"pwned")
    _raises(bad2)


def test_size_limit_and_ratio(tmp_path):
    bomb = tmp_path / "bomb.keras"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("config.json", b"{}")
        z.writestr("model.weights.h5", b"\0" * (16 << 20))
    assert "limit" in _raises(bomb, max_bytes=1 << 20, max_ratio=1e9)
    assert "ratio" in _raises(bomb)  # 16 MiB of zeros deflate ~1000:1


def test_lambda_refused(saved, tmp_path):
    src = saved["cnn"][2]["keras"]
    bad = tmp_path / "lambda.keras"
    with zipfile.ZipFile(src) as z:
        config = json.loads(z.read("config.json"))
        flatten = next(l for l in config["config"]["layers"] if l["class_name"] == "Flatten")
        flatten.update({"class_name": "Lambda", "module": "keras.layers"})
        flatten["config"]["function"] = {"class_name": "__lambda__", "config": {"code": "..."}}
        with zipfile.ZipFile(bad, "w") as out:
            for info in z.infolist():
                out.writestr(info.filename, json.dumps(config) if info.filename == "config.json" else z.read(info))
    assert "Lambda" in _raises(bad)
    # trusted, the config passes; the crafted file then fails only on its weights layout
    with pytest.raises(CheckpointError, match="no weights group"):
        read_keras_file(bad, trust=True)


def test_custom_module_refused(saved, tmp_path):
    src = saved["cnn"][2]["keras"]
    bad = tmp_path / "custom.keras"
    shutil.copy(src, bad)
    with zipfile.ZipFile(src) as z:
        config = json.loads(z.read("config.json"))
        config["config"]["layers"][1]["module"] = "my_package.layers"
        with zipfile.ZipFile(bad, "w") as out:
            for info in z.infolist():
                out.writestr(info.filename, json.dumps(config) if info.filename == "config.json" else z.read(info))
    assert "my_package.layers" in _raises(bad)
    read_keras_file(bad, trust=True)


E2E_SOURCE = """
import keras
m = keras.Sequential([keras.Input(shape=(8, 8, 3)), keras.layers.Conv2D(4, 3, padding="same"),
    keras.layers.BatchNormalization(), keras.layers.MaxPooling2D(), keras.layers.Flatten(), keras.layers.Dense(5),
    keras.layers.Reshape((5, 1)), keras.layers.Bidirectional(keras.layers.LSTM(3)), keras.layers.Dense(2)])
"""

E2E_TORCH = """
import sys
import numpy as np, torch
from torch import nn
import torch.nn.functional as F
from translator.translate import translate_source
from converters.keras_files import read_keras_file
from converters import transfer
src, ckpt, x_path, y_path = sys.argv[1:]
emitted = translate_source(open(src).read()).emitted["M"]
ns = {"torch": torch, "nn": nn, "F": F}
exec(emitted.source, ns)
model = ns["M"]()
expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
state = transfer.model_to_state_dict(read_keras_file(ckpt).weights(), emitted.weights, expected)
result = model.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()}, strict=False)
transfer.check_load(result.missing_keys, result.unexpected_keys)
model.eval()
y = model(torch.from_numpy(np.load(x_path))).detach().numpy()
print(float(np.abs(y - np.load(y_path)).max()))
"""


def test_checkpoint_file_loads_into_the_translated_module(tmp_path):
    """The reader's output drives the rule-based transfer: a saved .keras file -> same outputs in torch."""
    import subprocess
    import sys

    import keras

    from conftest import ROOT

    src = tmp_path / "model.py"
    src.write_text(E2E_SOURCE, encoding="utf-8")
    ns: dict = {}
    keras.utils.set_random_seed(0)
    exec(E2E_SOURCE, ns)
    ns["m"].save(tmp_path / "m.keras")
    x = np.random.default_rng(0).normal(size=(2, 8, 8, 3)).astype("float32")
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", np.asarray(ns["m"](x)))
    # torch in its own process: TensorFlow is loaded here
    proc = subprocess.run([sys.executable, "-c", E2E_TORCH, str(src), str(tmp_path / "m.keras"),
                           str(tmp_path / "x.npy"), str(tmp_path / "y.npy")],
                          capture_output=True, text=True, cwd=ROOT, env={**__import__("os").environ, "PYTHONPATH": str(ROOT)},
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert float(proc.stdout.strip().splitlines()[-1]) <= 1e-5
