"""``tfpt convert``: real Keras checkpoints -> torch state dicts -> Keras, through the real CLI.

Keras models are built and saved in a TensorFlow-only subprocess (this process may
import torch elsewhere in the suite); the conversions run as a user runs them, with
verification on (each side in its own worker process).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import zipfile

import numpy as np
import pytest

from conftest import FIXTURES, MODEL_FIXTURE_NAMES, ROOT, run_tfpt

from translator.spec.layers import LAYERS
from translator.spec.merges import MERGES
from translator.translate import translate_source


def _direct(name: str) -> bool:
    """The fixture's (first) model is Sequential or Functional of Keras' own layers, nothing nested: the
    direct route reads it from the checkpoint's config (a subclassed model or layer needs its class to
    load; a nested model, like functional_multi_io's encoder, is refused with a pointer to the ONNX route)."""
    path = FIXTURES / f"{name}.py"
    models = translate_source(path.read_text(encoding="utf-8"), str(path)).models
    return bool(models) and getattr(models[0], "subclass", None) is None and not models[0].submodels and all(
        layer.spec.keras in LAYERS or layer.spec.keras in MERGES for layer in models[0].layers)


CONVERTIBLE = [n for n in MODEL_FIXTURE_NAMES if _direct(n)]
from converters.keras_files import read_keras_file
from converters.torch_files import PlannedTensor, StateFileError, read_safetensors, write_safetensors

BUILD = textwrap.dedent("""
    import json, os, sys
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    import keras, numpy as np, libcst as cst
    from translator.translate import translate_source
    from converters.keras_source import model_expr
    from converters.verify import module_constants
    out, names = sys.argv[1], sys.argv[2].split(",")
    rng = np.random.default_rng(0)
    made = {}
    for name in names:
        path = os.path.join(%(fixtures)r, name + ".py")
        source = open(path, encoding="utf-8").read()
        model_ir = translate_source(source, path).models[0]
        model = eval(model_expr(model_ir, module_constants(cst.parse_module(source))), {"keras": keras})
        for w in model.weights:  # non-trivial values everywhere; variances positive
            v = rng.standard_normal(w.shape).astype("float32")
            w.assign(np.abs(v) + 0.5 if "variance" in w.path else v)
        for fmt in ("keras", "h5", "weights.h5"):
            p = os.path.join(out, f"{name}.{fmt}")
            model.save_weights(p) if fmt == "weights.h5" else model.save(p)
        made[name] = model_ir.class_name
    # a branching Functional model, one nesting a model (no direct mapping) and one with a Lambda layer
    i = keras.Input((4,)); a = keras.layers.Dense(3)(i); b = keras.layers.Dense(3)(i)
    keras.Model(i, keras.layers.Add()([a, b])).save(os.path.join(out, "branching.keras"))
    inner = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    keras.Model(i, keras.layers.Dense(2)(inner(i))).save(os.path.join(out, "nested.keras"))
    keras.Sequential([keras.Input((4,)), keras.layers.Lambda(lambda x: x * 2)]).save(os.path.join(out, "lambda.keras"))
    json.dump(made, open(os.path.join(out, "classes.json"), "w"))
""") % {"fixtures": str(FIXTURES)}


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    out = tmp_path_factory.mktemp("convert")
    proc = subprocess.run([sys.executable, "-c", BUILD, str(out), ",".join(CONVERTIBLE)], capture_output=True,
                          text=True, cwd=ROOT, env={**__import__("os").environ, "PYTHONPATH": str(ROOT)}, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out, json.loads((out / "classes.json").read_text())


def _cli(*args):
    """run_tfpt with text output."""
    proc = run_tfpt(*args)
    return subprocess.CompletedProcess(proc.args, proc.returncode, proc.stdout.decode(), proc.stderr.decode())


def _ok(proc, *expected):
    assert proc.returncode == 0, proc.stderr + proc.stdout
    for text in expected:
        assert text in proc.stdout, proc.stdout


def _bad(proc, *expected):
    """Bad input: exit 2, one line on stderr naming what is wrong."""
    assert proc.returncode == 2, proc.stderr + proc.stdout
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tfpt: error: "), proc.stderr
    for text in expected:
        assert text in lines[0], lines[0]
    return lines[0]


def _weights(path):
    return [a for layer in read_keras_file(path).weights() for _, a in layer]


# --------------------------------------------------------------------------- round trips


@pytest.mark.slow
@pytest.mark.parametrize("name", CONVERTIBLE)
def test_round_trip_is_bit_identical_and_verified(saved, tmp_path, name):
    """.keras -> .safetensors (verified) -> .keras gives the same bits back.

    The way back is not run through verification here: bit-identical weights in the same
    architecture are the stronger proof (test_the_way_back_with_the_users_module verifies it).
    """
    out, _ = saved
    st = tmp_path / f"{name}.safetensors"
    _ok(_cli("convert", str(out / f"{name}.keras"), "-o", str(st)), "wrote", "— ok")
    back = tmp_path / f"{name}.keras"
    _ok(_cli("convert", str(st), "--keras", str(out / f"{name}.keras"), "-o", str(back), "--no-verify"), "wrote")
    before, after = _weights(out / f"{name}.keras"), _weights(back)
    assert len(before) == len(after)
    for a, b in zip(before, after):
        assert a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b)


def test_safetensors_output_loads_with_the_reference_library(saved, tmp_path):
    from safetensors.numpy import load_file

    out, _ = saved
    st = tmp_path / "cnn.safetensors"
    _ok(_cli("convert", str(out / "cnn.keras"), "-o", str(st), "--no-verify"))
    ours, reference = read_safetensors(st), load_file(str(st))
    assert sorted(ours) == sorted(reference)
    assert all(np.array_equal(ours[k], reference[k]) for k in ours)
    kernel = [a for n, a in read_keras_file(out / "cnn.keras").weights()[0]][0]  # (kh, kw, in, out)
    conv = [k for k in reference if k.endswith(".weight")][0]
    assert np.array_equal(reference[conv], kernel.transpose(3, 2, 0, 1))


@pytest.mark.parametrize("name,fmt,extra", [
    ("cnn", "h5", []),
    ("cnn", "weights.h5", ["--keras", "{fixtures}/cnn.py"]),
    # no config: groups come alphabetically (batch_normalization before conv2d), Keras numbers them in
    # model.layers order, which for a graph is by depth, not tfpt's first use
    ("bn_dropout_cnn", "weights.h5", ["--keras", "{fixtures}/bn_dropout_cnn.py"]),
    ("functional_resnet", "weights.h5", ["--keras", "{fixtures}/functional_resnet.py"]),
    # the architecture from the source, the weights from a .keras file in Keras' order
    ("functional_resnet", "keras", ["--keras", "{fixtures}/functional_resnet.py"]),
])
def test_legacy_h5_and_weights_only_files(saved, tmp_path, name, fmt, extra):
    out, _ = saved
    extra = [e.format(fixtures=FIXTURES) for e in extra]
    _ok(_cli("convert", str(out / f"{name}.{fmt}"), "-o", str(tmp_path / f"{name}.pt"), *extra), "— ok")


def test_module_from_a_translated_script(saved, tmp_path):
    """--module names the translated file; its top-level training code does not run."""
    out, classes = saved
    module = tmp_path / "text_lstm_torch.py"
    _cli("translate", str(FIXTURES / "text_lstm.py"), "-o", str(module)).check_returncode()
    st = tmp_path / "w.safetensors"
    _ok(_cli("convert", str(out / "text_lstm.keras"), "--module", f"{module}:{classes['text_lstm']}",
                 "-o", str(st)), "— ok")


def test_explain_prints_the_mapping_table(saved):
    out, _ = saved
    proc = _cli("convert", str(out / "bilstm.keras"), "--explain")
    _ok(proc, "Keras variable", "torch parameter", "forward/kernel", "weight_ih_l0_reverse", "bias -> (bias_ih, zeros)")
    gru = _cli("convert", str(out / "gru.keras"), "--explain")
    _ok(gru, "gates(1, 0, 2)", "bias[0] -> bias_ih")


def test_pt_output_loads_with_weights_only(saved, tmp_path):
    out, _ = saved
    pt = tmp_path / "mlp.pt"
    _ok(_cli("convert", str(out / "mlp.keras"), "-o", str(pt)), "— ok")
    check = subprocess.run([sys.executable, "-c", "import sys, torch; s = torch.load(sys.argv[1], weights_only=True); "
                            "print(sorted(s))", str(pt)], capture_output=True, text=True, timeout=120)
    assert check.returncode == 0 and ".weight" in check.stdout, check.stderr


# --------------------------------------------------------------------------- refusals


def test_existing_output_is_kept_without_force(saved, tmp_path):
    out, _ = saved
    target = tmp_path / "x.safetensors"
    target.write_bytes(b"precious")
    _bad(_cli("convert", str(out / "mlp.keras"), "-o", str(target)), "exists", "--force")
    assert target.read_bytes() == b"precious"
    _ok(_cli("convert", str(out / "mlp.keras"), "-o", str(target), "--force", "--no-verify"))
    assert target.read_bytes() != b"precious"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tfpt-")]


def test_truncated_and_missing_files(saved, tmp_path):
    out, _ = saved
    data = (out / "cnn.keras").read_bytes()
    cut = tmp_path / "cut.keras"
    cut.write_bytes(data[: len(data) // 2])
    target = tmp_path / "o.safetensors"
    _bad(_cli("convert", str(cut), "-o", str(target)), "cut.keras")
    _bad(_cli("convert", str(tmp_path / "nope.keras"), "-o", str(target)), "no such file")
    assert not target.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".tfpt-")]
    corrupt = tmp_path / "bad.safetensors"
    corrupt.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}......")
    _bad(_cli("convert", str(corrupt), "--keras", str(out / "cnn.keras"), "-o", str(tmp_path / "b.keras")),
         "bad.safetensors", "corrupt")


def test_wrong_model_for_the_weights(saved, tmp_path):
    out, _ = saved
    target = tmp_path / "o.safetensors"
    msg = _bad(_cli("convert", str(out / "cnn.weights.h5"), "--keras", str(FIXTURES / "mlp.py"), "-o", str(target)))
    assert "Keras" in msg and "do not match" in msg or "mismatch" in msg
    assert not target.exists()
    _bad(_cli("convert", str(out / "cnn.weights.h5"), "-o", str(target)), "weights only", "--keras")
    # a torch module whose shapes differ from the checkpoint: both sides named, nothing written
    module = tmp_path / "other.py"
    module.write_text("from torch import nn\n\nclass Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
                      "        self.fc = nn.Linear(3, 2)\n        self.out = nn.Linear(2, 1)\n", encoding="utf-8")
    msg = _bad(_cli("convert", str(out / "linear_regression.keras"), "--module", f"{module}:Net", "-o", str(target)))
    assert "torch" in msg and "Keras" in msg
    _bad(_cli("convert", str(out / "mlp.keras"), "--module", f"{module}:Missing", "-o", str(target)),
         "no class 'Missing'", "Net")
    assert not target.exists()


def test_unmappable_architectures_point_at_the_onnx_route(saved, tmp_path):
    out, _ = saved
    _bad(_cli("convert", str(out / "nested.keras"), "-o", str(tmp_path / "o.safetensors")), "nested model", "-o model.pt2")
    _bad(_cli("convert", str(out / "lambda.keras"), "-o", str(tmp_path / "o.safetensors")), "Lambda", "--trust")


def test_pickles_are_refused_unless_trusted(saved, tmp_path):
    out, _ = saved
    evil = tmp_path / "evil.pt"
    subprocess.run([sys.executable, "-c", "import sys, torch; torch.save({'model': torch.nn.Linear(2, 2)}, sys.argv[1])",
                    str(evil)], check=True, timeout=120)
    _bad(_cli("convert", str(evil), "--keras", str(out / "mlp.keras"), "-o", str(tmp_path / "o.keras")),
         "refusing to unpickle", "torch.nn.modules.linear.Linear", "--trust-pickle")


def test_a_difference_above_tolerance_exits_1(saved, tmp_path):
    """A module that computes something else: the weights load, verification catches it."""
    out, _ = saved
    module = tmp_path / "off.py"
    module.write_text("import torch\nfrom torch import nn\n\nclass Net(nn.Module):\n    def __init__(self):\n"
                      "        super().__init__()\n        self.dense = nn.Linear(1, 1)\n\n"
                      "    def forward(self, x):\n        return self.dense(x) + 1e-3\n", encoding="utf-8")
    target = tmp_path / "o.safetensors"
    proc = _cli("convert", str(out / "linear_regression.keras"), "--module", f"{module}:Net", "-o", str(target))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "MISMATCH" in proc.stdout and "max abs diff 1.0e-03" in proc.stdout
    loose = _cli("convert", str(out / "linear_regression.keras"), "--module", f"{module}:Net", "-o", str(target),
                 "--force", "--atol", "2e-3")
    _ok(loose, "— ok")


# --------------------------------------------------------------------------- safetensors, no frameworks


def test_safetensors_writer_streams_planned_tensors(tmp_path):
    arrays = {"a.weight": np.arange(12, dtype=np.float32).reshape(3, 4), "a.count": np.array(7, dtype=np.int64),
              "b": np.zeros((0, 2), np.float16)}
    planned = [PlannedTensor(k, v.shape, v.dtype, lambda v=v: v) for k, v in arrays.items()]
    path = tmp_path / "t.safetensors"
    with open(path, "wb") as fh:
        write_safetensors(fh, planned, {"source": "test"})
    back = read_safetensors(path)
    assert sorted(back) == sorted(arrays)
    assert all(back[k].dtype == v.dtype and np.array_equal(back[k], v) for k, v in arrays.items())
    lying = [PlannedTensor("x", (2,), np.float32, lambda: np.zeros(3, np.float32))]
    with open(tmp_path / "l.safetensors", "wb") as fh, pytest.raises(ValueError, match="planned"):
        write_safetensors(fh, lying)


def test_safetensors_reader_refuses_offsets_outside_the_file(tmp_path):
    header = json.dumps({"x": {"dtype": "F32", "shape": [1000], "data_offsets": [0, 4000]}}).encode()
    path = tmp_path / "evil.safetensors"
    path.write_bytes(len(header).to_bytes(8, "little") + header + b"\0" * 16)
    with pytest.raises(StateFileError, match="outside the file"):
        read_safetensors(path)


def test_keras_archive_compressed_member_still_reads(saved, tmp_path):
    """A .keras re-zipped with compression is read through a temporary file, same weights."""
    out, _ = saved
    src = out / "mlp.keras"
    rezipped = tmp_path / "mlp.keras"
    with zipfile.ZipFile(src) as z, zipfile.ZipFile(rezipped, "w", compression=zipfile.ZIP_DEFLATED) as w:
        for info in z.infolist():
            w.writestr(info.filename, z.read(info))
    for a, b in zip(_weights(src), _weights(rezipped)):
        assert np.array_equal(a, b)


def test_the_way_back_with_the_users_module(saved, tmp_path):
    """The issue's example: a .pt for the translated module -> .weights.h5 for the Keras source."""
    out, classes = saved
    module = tmp_path / "gru_torch.py"
    _cli("translate", str(FIXTURES / "gru.py"), "-o", str(module)).check_returncode()
    pt = tmp_path / "gru.pt"
    _ok(_cli("convert", str(out / "gru.keras"), "--module", f"{module}:{classes['gru']}", "-o", str(pt)), "— ok")
    back = tmp_path / "gru.weights.h5"
    proc = _cli("convert", str(pt), "--module", f"{module}:{classes['gru']}", "-o", str(back),
                "--keras", str(FIXTURES / "gru.py"), "--explain")
    _ok(proc, "gates(1, 0, 2), inverted", "— ok")
    for a, b in zip(_weights(out / "gru.weights.h5"), _weights(back)):
        assert np.array_equal(a, b)


def _keras2_h5(path):
    """A legacy .h5 as Keras 2 (TF <= 2.15) wrote it: Keras 2 config spellings, ``name:0`` variables."""
    import h5py

    rng = np.random.default_rng(0)
    cfg = {"class_name": "Sequential", "config": {"name": "sequential", "layers": [
      {"class_name": "InputLayer", "config": {"batch_input_shape": [None, 6, 6, 2], "dtype": "float32", "sparse": False, "ragged": False, "name": "conv2d_input"}},
      {"class_name": "Conv2D", "config": {"name": "conv2d", "trainable": True, "batch_input_shape": [None, 6, 6, 2], "dtype": "float32", "filters": 3, "kernel_size": [3, 3], "strides": [1, 1], "padding": "valid", "data_format": "channels_last", "dilation_rate": [1, 1], "groups": 1, "activation": "relu", "use_bias": True, "kernel_initializer": {"class_name": "GlorotUniform", "config": {"seed": None}}, "bias_initializer": {"class_name": "Zeros", "config": {}}, "kernel_regularizer": None, "bias_regularizer": None, "activity_regularizer": None, "kernel_constraint": None, "bias_constraint": None}},
      {"class_name": "BatchNormalization", "config": {"name": "batch_normalization", "trainable": True, "dtype": "float32", "axis": [3], "momentum": 0.99, "epsilon": 0.001, "center": True, "scale": True, "beta_initializer": {"class_name": "Zeros", "config": {}}, "gamma_initializer": {"class_name": "Ones", "config": {}}, "moving_mean_initializer": {"class_name": "Zeros", "config": {}}, "moving_variance_initializer": {"class_name": "Ones", "config": {}}, "beta_regularizer": None, "gamma_regularizer": None, "beta_constraint": None, "gamma_constraint": None}},
      {"class_name": "Flatten", "config": {"name": "flatten", "trainable": True, "dtype": "float32", "data_format": "channels_last"}},
      {"class_name": "Dense", "config": {"name": "dense", "trainable": True, "dtype": "float32", "units": 2, "activation": "softmax", "use_bias": True, "kernel_initializer": {"class_name": "GlorotUniform", "config": {"seed": None}}, "bias_initializer": {"class_name": "Zeros", "config": {}}, "kernel_regularizer": None, "bias_regularizer": None, "activity_regularizer": None, "kernel_constraint": None, "bias_constraint": None}}]},
      "keras_version": "2.13.1", "backend": "tensorflow"}
    weights = {"conv2d": [("kernel:0", (3, 3, 2, 3)), ("bias:0", (3,))],
               "batch_normalization": [("gamma:0", (3,)), ("beta:0", (3,)), ("moving_mean:0", (3,)), ("moving_variance:0", (3,))],
               "flatten": [], "dense": [("kernel:0", (48, 2)), ("bias:0", (2,))]}
    with h5py.File(path, "w") as f:
        f.attrs["model_config"] = json.dumps(cfg)
        f.attrs["keras_version"] = "2.13.1"
        mw = f.create_group("model_weights")
        mw.attrs["layer_names"] = [n.encode() for n in weights]
        for layer, ws in weights.items():
            g = mw.create_group(layer)
            g.attrs["weight_names"] = [f"{layer}/{w}".encode() for w, _ in ws]
            for w, shape in ws:
                v = rng.standard_normal(shape).astype("float32")
                g.create_dataset(f"{layer}/{w}", data=np.abs(v) + 0.5 if "variance" in w else v)


def test_keras2_legacy_h5(tmp_path):
    """batch_input_shape, axis=[3], initializer dicts without modules, 'kernel:0' names: all read."""
    src = tmp_path / "k2.h5"
    _keras2_h5(src)
    proc = _cli("convert", str(src), "-o", str(tmp_path / "k2.safetensors"), "--explain")
    _ok(proc, "conv2d/kernel", "transpose(3, 2, 0, 1)", "batch_normalization.running_var", "— ok")


def test_corrupt_pt_is_one_line(saved, tmp_path):
    out, _ = saved
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"PK\x03\x04 definitely not a torch zip")
    _bad(_cli("convert", str(bad), "--keras", str(out / "mlp.keras"), "-o", str(tmp_path / "o.keras")),
         "bad.pt", "not a readable torch file")
    assert not (tmp_path / "o.keras").exists()


def test_default_output_is_safetensors_beside_the_source(saved, tmp_path):
    out, _ = saved
    src = tmp_path / "mlp.keras"
    src.write_bytes((out / "mlp.keras").read_bytes())
    _ok(_cli("convert", str(src), "--no-verify"), f"wrote {tmp_path / 'mlp.safetensors'}")
    assert read_safetensors(tmp_path / "mlp.safetensors")
    _bad(_cli("convert", str(src), "--no-verify"), "exists", "--force")  # a second run keeps the first file


# --------------------------------------------------------------------------- the ONNX route, from the CLI


def test_onnx_route_from_the_cli(saved, tmp_path):
    """A model the direct route refuses converts to a torch.export program; verified against Keras."""
    out, _ = saved
    program = tmp_path / "branching.pt2"
    _ok(_cli("convert", str(out / "branching.keras"), "-o", str(program)), "through ONNX", "— ok")
    check = subprocess.run([sys.executable, "-c", "import sys, torch; m = torch.export.load(sys.argv[1]).module(); "
                            "print(tuple(m(torch.zeros(5, 4)).shape))", str(program)],
                           capture_output=True, text=True, timeout=300)
    assert check.returncode == 0 and check.stdout.strip() == "(5, 3)", check.stderr[-2000:]


def test_torch_module_to_onnx(saved, tmp_path):
    out, classes = saved
    module = tmp_path / "mlp_torch.py"
    _cli("translate", str(FIXTURES / "mlp.py"), "-o", str(module)).check_returncode()
    state = tmp_path / "mlp.safetensors"
    _ok(_cli("convert", str(out / "mlp.keras"), "-o", str(state), "--no-verify"))
    onnx_file = tmp_path / "mlp.onnx"
    # the checkpoint's layer names are not the translated script's: keys that do not fit are named
    _bad(_cli("convert", str(state), "--module", f"{module}:{classes['mlp']}", "-o", str(onnx_file),
              "--input-shape", "1,784"), "does not fit", "missing [dense.weight")
    _ok(_cli("convert", str(out / "mlp.keras"), "--module", f"{module}:{classes['mlp']}", "-o", str(state),
             "--no-verify", "--force"))
    _bad(_cli("convert", str(state), "--module", f"{module}:{classes['mlp']}", "-o", str(onnx_file)), "--input-shape")
    _ok(_cli("convert", str(state), "--module", f"{module}:{classes['mlp']}", "-o", str(onnx_file),
             "--input-shape", "1,784"), "— ok")


def test_a_module_that_flattens_channels_first(saved, tmp_path):
    """Hand-written torch flattens NCHW features: the Dense rows after Flatten are reordered on request."""
    out, classes = saved
    translated = _cli("translate", str(FIXTURES / "cnn.py"), "-o", "-").stdout
    nchw = "\n".join(l for l in translated.splitlines() if "back to channels-last" not in l)
    assert nchw != translated
    module = tmp_path / "cnn_nchw.py"
    module.write_text(nchw, encoding="utf-8")
    target = f"{module}:{classes['cnn']}"
    plain = _cli("convert", str(out / "cnn.keras"), "--module", target, "-o", str(tmp_path / "a.safetensors"))
    assert plain.returncode == 1 and "MISMATCH" in plain.stdout and "--flatten channels-first" in plain.stdout
    st = tmp_path / "b.safetensors"
    _ok(_cli("convert", str(out / "cnn.keras"), "--module", target, "-o", str(st), "--flatten", "channels-first",
             "--explain"), "rows (*(", "— ok")
    back = tmp_path / "cnn.keras"
    _ok(_cli("convert", str(st), "--module", target, "--keras", str(out / "cnn.keras"), "-o", str(back),
             "--flatten", "channels-first"), "— ok")
    for a, b in zip(_weights(out / "cnn.keras"), _weights(back)):
        assert np.array_equal(a, b)
    _bad(_cli("convert", str(out / "cnn.keras"), "-o", str(tmp_path / "c.safetensors"), "--flatten", "channels-first"),
         "--module")


# --------------------------------------------------------------------------- layers with several tensors per weight

LAYERS_BUILD = textwrap.dedent("""
    import os, sys
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    import keras, numpy as np
    from keras import layers as L
    out = sys.argv[1]
    rng = np.random.default_rng(0)
    x = keras.Input((6, 8))
    attended = L.MultiHeadAttention(2, 4)(x, x, use_causal_mask=True)
    q, kv = keras.Input((5, 6)), keras.Input((7, 3))
    a, b, shared = keras.Input((5,)), keras.Input((5,)), L.Dense(4, activation="tanh")
    models = {
        # nn.ModuleDict (depthwise + pointwise) and torch-side submodules: one Keras layer each
        "separable": keras.Sequential([keras.Input((8, 8, 3)), L.SeparableConv2D(4, 3, depth_multiplier=2),
                                       L.Reshape((36, 4)), L.SeparableConv1D(2, 3, use_bias=False), L.Flatten(), L.Dense(1)]),
        "time_distributed": keras.Sequential([keras.Input((4, 3)), L.TimeDistributed(L.Dense(2, activation="relu")),
                                              L.Flatten(), L.Dense(1)]),
        "normalization": keras.Sequential([keras.Input((3,)), L.Normalization(), L.Dense(2)]),  # a scalar count
        "prelu_depthwise": keras.Sequential([keras.Input((6, 6, 2)), L.Conv2D(3, 3), L.PReLU(shared_axes=[1, 2]),
                                             L.DepthwiseConv2D(2, depth_multiplier=2), L.GlobalAveragePooling2D()]),
        # three Keras kernels -> one in_proj_weight; a residual branch and an `x + y` op
        "self_attention": keras.Model(x, L.Dense(3)(L.LayerNormalization()(x + attended))),
        # key/value of another size: q/k/v_proj_weight; two inputs
        "cross_attention": keras.Model([q, kv], L.MultiHeadAttention(3, 2, use_bias=False)(q, kv)),
        # one layer called on two inputs, two heads (both verified), `a - b` saved as an op
        "shared_two_heads": keras.Model([a, b], [L.Dense(1)(L.Concatenate()([shared(a), shared(b)])),
                                                 L.Dense(2)(shared(a) - shared(b))]),
    }
    for name, model in models.items():
        for w in model.weights:
            if w.dtype == "float32":  # small values: outputs near 1, so 1e-5 is a tight check
                v = 0.3 * rng.standard_normal(w.shape).astype("float32")
                w.assign(np.abs(v) + 0.5 if "variance" in w.path else v)
        if name == "normalization":
            model.layers[0].adapt(rng.standard_normal((20, 3)).astype("float32") * 3 + 1)
        model.save(os.path.join(out, name + ".keras"))
""")

SPECIAL_LAYERS = ["separable", "time_distributed", "normalization", "prelu_depthwise", "self_attention", "cross_attention",
                  "shared_two_heads"]


@pytest.fixture(scope="module")
def special(tmp_path_factory):
    out = tmp_path_factory.mktemp("convert_layers")
    proc = subprocess.run([sys.executable, "-c", LAYERS_BUILD, str(out)], capture_output=True, text=True, cwd=ROOT,
                          env={**__import__("os").environ, "PYTHONPATH": str(ROOT)}, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out


@pytest.mark.parametrize("name", SPECIAL_LAYERS)
def test_layers_converting_both_ways(special, tmp_path, name):
    """.keras -> .safetensors -> .keras, each verified against Keras, the same bits back (shapes too:
    Normalization's count stays a scalar)."""
    src = special / f"{name}.keras"
    st = tmp_path / f"{name}.safetensors"
    _ok(_cli("convert", str(src), "-o", str(st)), "— ok")
    back = tmp_path / f"{name}.keras"
    _ok(_cli("convert", str(st), "--keras", str(src), "-o", str(back)), "— ok")
    before, after = _weights(src), _weights(back)
    assert len(before) == len(after)
    for a, b in zip(before, after):
        assert a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b)


def test_branching_functional_model_converts_directly(saved, tmp_path):
    """A graph (two Dense on one input, merged) from the checkpoint's own config, no source needed."""
    out, _ = saved
    st = tmp_path / "branching.safetensors"
    _ok(_cli("convert", str(out / "branching.keras"), "-o", str(st)), "— ok")
    back = tmp_path / "branching.weights.h5"
    _ok(_cli("convert", str(st), "--keras", str(out / "branching.keras"), "-o", str(back)), "— ok")
