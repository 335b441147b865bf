"""The ONNX route (``converters.onnx_route``): Keras files -> ONNX -> ``torch.export`` programs, and back.

This test process imports neither TensorFlow nor torch (the two crash in one
process): the zoo is built and exported in one TensorFlow subprocess, converted in
one torch subprocess, and the saved programs are run by a third process that has
plain torch only (no tfpt, no onnx2torch on its path), as a user would load them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import onnx  # the test extra installs the ONNX stack: missing, these tests fail rather than skip
import pytest
from onnx import TensorProto, helper

from conftest import ROOT
from converters.onnx_route import (
    OnnxRouteError,
    keras_to_onnx,
    keras_to_torch_via_onnx,
    onnx_to_torch,
    torch_to_onnx,
)
from converters.onnx_route.keras_export import _layer_of
from converters.onnx_route.onnx_consts import loop_trip_count
from converters.onnx_route.onnx_passes import prepare

ZOO_SCRIPT = ROOT / "tests" / "onnx_zoo.py"
ZOO = ["mlp", "cnn", "batchnorm_same_strides", "text_conv1d", "lstm", "bilstm", "stacked_gru", "simple_rnn",
       "separable", "layernorm_gelu", "deconv_upsample", "linear_regression", "logistic_regression"]
FORWARD_ABS_TOL = 1e-5


def _python(code: str, *args: str, path: bool = True, timeout: int = 600) -> str:
    """Run ``code`` in a fresh interpreter (with the repository on its path unless ``path`` is false)."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "KERAS_BACKEND": "tensorflow"}
    env.pop("PYTHONPATH", None)
    if path:
        env["PYTHONPATH"] = str(ROOT)
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code), *args], capture_output=True, text=True,
                          env=env, cwd="/" if not path else ROOT, timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


_BUILD_AND_EXPORT = """
    import json, runpy, sys
    from pathlib import Path
    out = Path(sys.argv[1])
    zoo = runpy.run_path(sys.argv[2])
    zoo["main"]([str(out)])
    import keras
    keras.Sequential([keras.Input((4,)), keras.layers.Lambda(lambda t: t * 2, name="doubler"),
                      keras.layers.Dense(2)]).save(out / "with_lambda.keras")
    from converters.onnx_route.errors import WorkerError
    from converters.onnx_route.keras_export import export
    infos = {}
    for name in zoo["ZOO"]:
        try:
            infos[name] = export(out / f"{name}.keras", out / f"{name}.onnx", trust=False)
        except WorkerError as e:
            infos[name] = {"error": str(e)}
    print(json.dumps(infos))
"""

_CONVERT = """
    import json, sys
    from pathlib import Path
    from converters.onnx_route.errors import WorkerError
    from converters.onnx_route.torch_import import convert
    out = Path(sys.argv[1])
    infos = {}
    for name in sys.argv[2:]:
        try:
            infos[name] = convert(out / f"{name}.onnx", out / f"{name}.pt2")
        except WorkerError as e:
            infos[name] = {"error": str(e)}
    print(json.dumps(infos))
"""

#: plain torch, as a user loads the program: tfpt and onnx2torch are not importable here
_RUN_PROGRAMS = """
    import json, sys
    import numpy as np, torch
    out = sys.argv[1]
    diffs, reads = {}, {}
    for name in sys.argv[2:]:
        exported = torch.export.load(f"{out}/{name}.pt2")
        # a value read back from a tensor (.item()) would make the graph data-dependent
        reads[name] = sum(n.target is torch.ops.aten.item.default for n in exported.graph.nodes)
        x = torch.from_numpy(np.load(f"{out}/{name}.input.npy"))
        with torch.no_grad():
            y = exported.module()(x).numpy()
        diffs[name] = float(np.abs(y - np.load(f"{out}/{name}.output.npy")).max())
    print(json.dumps({"diffs": diffs, "reads": reads,
                      "leaked": [m for m in ("converters", "onnx2torch", "tensorflow") if m in sys.modules]}))
"""


@pytest.fixture(scope="module")
def zoo(tmp_path_factory):
    """The 13 models built, exported, converted and run once; each test reads its row."""
    out = tmp_path_factory.mktemp("onnx_zoo")
    exported = json.loads(_python(_BUILD_AND_EXPORT, str(out), str(ZOO_SCRIPT)).splitlines()[-1])
    ok = [name for name in ZOO if "error" not in exported[name]]
    converted = json.loads(_python(_CONVERT, str(out), *ok).splitlines()[-1]) if ok else {}
    ran = [name for name in ok if "error" not in converted[name]]
    results = json.loads(_python(_RUN_PROGRAMS, str(out), *ran, path=False).splitlines()[-1]) if ran else {}
    return {"dir": out, "exported": exported, "converted": converted, "diffs": results.get("diffs", {}),
            "reads": results.get("reads", {}), "leaked": results.get("leaked", [])}


# --------------------------------------------------------------------------- the zoo, end to end


@pytest.mark.slow
@pytest.mark.parametrize("name", [pytest.param(n, id=n) for n in ZOO])
def test_zoo_model_matches_keras(zoo, name):
    assert "error" not in zoo["exported"][name], zoo["exported"][name]
    assert "error" not in zoo["converted"][name], zoo["converted"][name]
    info = zoo["converted"][name]
    assert info["batch"] == "dynamic", info
    assert info["onnxruntime_max_abs_diff"] <= FORWARD_ABS_TOL, info
    # the zoo's inputs have batch 3, the export traced batch 2: the batch axis really is free
    assert zoo["diffs"][name] <= FORWARD_ABS_TOL, zoo["diffs"][name]
    assert zoo["reads"][name] == 0, "the program reads values back from tensors (aten.item)"


@pytest.mark.slow
def test_programs_load_without_tfpt(zoo):
    assert len(zoo["diffs"]) == len(ZOO)
    assert zoo["leaked"] == []


@pytest.mark.slow
def test_gelu_exports_without_erfc(zoo):
    assert "Erfc" not in zoo["exported"]["layernorm_gelu"]["ops"]
    assert "Erf" in zoo["exported"]["layernorm_gelu"]["ops"]


@pytest.mark.slow
def test_rnn_loops_have_a_static_trip_count(zoo):
    model = onnx.load(zoo["dir"] / "simple_rnn.onnx")
    loop = next(n for n in model.graph.node if n.op_type == "Loop")
    assert loop_trip_count(loop, model.graph, 17) == 7  # onnx_zoo.SEQ


@pytest.mark.slow
def test_conv_transpose_same_padding_is_split(zoo):
    model = onnx.load(zoo["dir"] / "deconv_upsample.onnx")
    assert prepare(model)["conv_transpose_pads"] == 1
    conv = next(n for n in model.graph.node if n.op_type == "ConvTranspose")
    assert "pads" not in {a.name for a in conv.attribute}


# --------------------------------------------------------------------------- the public API (worker processes)


@pytest.mark.slow
def test_api_keras_to_torch_keeps_onnx(zoo, tmp_path):
    src = zoo["dir"] / "logistic_regression.keras"
    info = keras_to_torch_via_onnx(src, tmp_path / "m.pt2", keep_onnx=tmp_path / "m.onnx")
    assert (tmp_path / "m.pt2").is_file() and (tmp_path / "m.onnx").is_file()
    assert info["onnx"]["opset"] == 17 and info["torch"]["batch"] == "dynamic"
    only = keras_to_torch_via_onnx(src, tmp_path / "only.onnx")
    assert (tmp_path / "only.onnx").is_file() and set(only) == {"onnx"}


_PEAK_RSS = """
    import json, resource, sys
    from pathlib import Path
    from converters.onnx_route import keras_to_onnx, onnx_to_torch
    src, out = Path(sys.argv[1]), Path(sys.argv[2])
    keras_to_onnx(src, out / "wide.onnx")
    export_peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    info = onnx_to_torch(out / "wide.onnx", out / "wide.pt2")
    print(json.dumps({"export": export_peak,
                      "both": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024, "info": info}))
"""


@pytest.mark.slow
def test_workers_memory_is_a_few_times_the_weights(tmp_path):
    # tf2onnx's from_function held ~45 copies of the weights (3.6 GB here) and killed
    # the worker on a 576 MB checkpoint; each worker now peaks near its imports plus ~5x
    units, layers = 2048, 4
    weights = layers * (units * units + units) * 4
    _python("""
        import sys, numpy as np, keras
        units, layers = int(sys.argv[2]), int(sys.argv[3])
        model = keras.Sequential([keras.Input((units,))] + [keras.layers.Dense(units) for _ in range(layers)])
        rng = np.random.default_rng(0)
        for w in model.weights:
            w.assign(rng.standard_normal(w.shape, dtype=np.float32) / np.sqrt(units))
        model.save(sys.argv[1])
    """, str(tmp_path / "wide.keras"), str(units), str(layers))
    peaks = json.loads(_python(_PEAK_RSS, str(tmp_path / "wide.keras"), str(tmp_path)).splitlines()[-1])
    limit = (1 << 30) + 8 * weights
    assert peaks["export"] <= limit and peaks["both"] <= limit, (peaks, limit)
    # outputs of unit scale after four 2048-long sums: float32 rounding reaches ~1e-5
    assert peaks["info"]["onnxruntime_max_abs_diff"] <= 1e-4, peaks["info"]


@pytest.mark.slow
def test_lambda_refused_unless_trusted(zoo, tmp_path):
    src = zoo["dir"] / "with_lambda.keras"
    with pytest.raises(OnnxRouteError) as err:
        keras_to_onnx(src, tmp_path / "l.onnx")
    message = str(err.value)
    assert "with_lambda.keras" in message and "doubler" in message and "trust" in message
    assert "\n" not in message
    info = keras_to_onnx(src, tmp_path / "l.onnx", trust=True)
    assert (tmp_path / "l.onnx").is_file() and "MatMul" in info["ops"]


@pytest.mark.parametrize("content", [
    pytest.param(b"PK\x03\x04 not really a zip", id="bad-zip"),
    pytest.param(b"\x89HDF\r\n\x1a\n truncated", id="bad-hdf5"),
    pytest.param(b"hello", id="neither"),
])
def test_corrupt_keras_file(tmp_path, content):
    src = tmp_path / "broken.keras"
    src.write_bytes(content)
    with pytest.raises(OnnxRouteError) as err:
        keras_to_onnx(src, tmp_path / "x.onnx")
    assert "broken.keras" in str(err.value) and "\n" not in str(err.value)
    assert not (tmp_path / "x.onnx").exists()


def test_corrupt_onnx_file(tmp_path):
    src = tmp_path / "broken.onnx"
    src.write_bytes(b"\x08\x07garbage")
    with pytest.raises(OnnxRouteError, match="broken.onnx"):
        onnx_to_torch(src, tmp_path / "x.pt2")


def test_unsupported_onnx_op_is_named(tmp_path):
    node = helper.make_node("Det", ["x"], ["y"], name="the_det")
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3, 3])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])])
    src = tmp_path / "det.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), src)
    with pytest.raises(OnnxRouteError) as err:
        onnx_to_torch(src, tmp_path / "det.pt2")
    assert "det.onnx" in str(err.value) and "'Det'" in str(err.value) and "the_det" in str(err.value)


def test_wrong_suffixes(tmp_path):
    src = tmp_path / "m.keras"
    src.write_bytes(b"")
    with pytest.raises(OnnxRouteError, match=r"\.pt2"):
        keras_to_torch_via_onnx(src, tmp_path / "m.pth")
    with pytest.raises(OnnxRouteError, match="no such file"):
        onnx_to_torch(tmp_path / "missing.onnx", tmp_path / "m.pt2")


@pytest.mark.parametrize(("node", "layer"), [
    pytest.param("sequential_9_1/dense_10_1/Gelu/Erfc", "dense_10", id="keras-suffix"),
    pytest.param("model/dense/MatMul", "dense", id="plain"),
    pytest.param("unknown_scope/Op", "unknown_scope", id="no-layer"),
])
def test_failing_node_names_its_layer(node, layer):
    assert _layer_of(node, ["dense", "dense_1", "dense_10", "sequential_9"]) == layer


def test_importing_the_route_imports_no_framework():
    out = _python("import sys, converters.onnx_route; "
                  "print([m for m in ('tensorflow', 'torch', 'onnx2torch', 'keras') if m in sys.modules])")
    assert out.strip() == "[]"


# --------------------------------------------------------------------------- torch module -> ONNX

_MODULE = """
import torch
from torch import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.head = nn.Linear(4, 5)

    def forward(self, x):
        x = torch.relu(self.bn(self.conv(x)))
        return self.head(x.mean(dim=(2, 3)))
"""

_SAVE_WEIGHTS = """
    import sys, runpy, numpy as np, torch
    from safetensors.torch import save_file
    torch.manual_seed(0)
    net = runpy.run_path(sys.argv[1])["Net"]()
    with torch.no_grad():
        for p in net.parameters():
            p.normal_(0, 0.5)
        net.bn.running_mean.normal_(0, 0.5)
        net.bn.running_var.uniform_(0.5, 1.5)
    net.eval()
    save_file(net.state_dict(), sys.argv[2])
    torch.save(net.state_dict(), sys.argv[3])
    x = torch.from_numpy(np.random.default_rng(0).normal(size=(5, 3, 8, 8)).astype("float32"))
    np.save(sys.argv[4], x.numpy())
    np.save(sys.argv[5], net(x).detach().numpy())
"""


@pytest.mark.parametrize("weights", [pytest.param("net.safetensors", id="safetensors"),
                                     pytest.param("net.pt", id="pt")])
def test_torch_module_to_onnx_matches_onnxruntime(tmp_path, weights):
    import onnxruntime

    module_file = tmp_path / "net.py"
    module_file.write_text(_MODULE, encoding="utf-8")
    paths = [tmp_path / n for n in ("net.safetensors", "net.pt", "x.npy", "y.npy")]
    _python(_SAVE_WEIGHTS, str(module_file), *map(str, paths))
    out = tmp_path / "net.onnx"
    torch_to_onnx(module_file, "Net", tmp_path / weights, out, (2, 3, 8, 8))
    session = onnxruntime.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    x, expected = np.load(paths[2]), np.load(paths[3])  # batch 5, exported with batch 2
    (got,) = session.run(None, {"input": x})
    assert np.abs(got - expected).max() <= FORWARD_ABS_TOL


def test_torch_module_errors_are_one_line(tmp_path):
    module_file = tmp_path / "net.py"
    module_file.write_text(_MODULE, encoding="utf-8")
    with pytest.raises(OnnxRouteError, match="defines no 'Missing'"):
        torch_to_onnx(module_file, "Missing", None, tmp_path / "n.onnx", (1, 3, 8, 8))
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(OnnxRouteError) as err:
        torch_to_onnx(module_file, "Net", bad, tmp_path / "n.onnx", (1, 3, 8, 8))
    assert "bad.pt" in str(err.value) and "\n" not in str(err.value)
