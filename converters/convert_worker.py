"""One framework side of ``tfpt convert``, in its own process.

``python -m converters.convert_worker ACTION JOB.json OUT`` where ACTION is

* ``describe`` (torch): instantiate the target module on the meta device and write its
  state-dict keys, shapes and dtypes (JSON) — the shapes a conversion must produce;
* ``torch-run`` (torch): load a state-dict file into the module (or a ``.pt2``
  program) and run the inputs from the Keras side;
* ``keras-run`` (TensorFlow): load a Keras file, make seeded inputs from its input
  spec, run them and save both;
* ``keras-write`` (TensorFlow): build the Keras model, set the converted weights
  layer by layer and save ``.weights.h5`` / ``.keras``.

TensorFlow and torch never share a process (importing triton after TensorFlow
crashes, and users often have one environment per framework).
"""

from __future__ import annotations

import ast
import json
import os
import sys
import traceback

import numpy as np

FREE_AXIS = 6


def _save_npz(path: str, arrays: dict, meta: dict) -> None:
    np.savez(path, __meta__=np.array(json.dumps(meta)), **arrays)


def _outputs(y, to_numpy) -> dict:
    """A model's output(s) as ``y``, ``y_1``, ...: every head is compared, not only the first."""
    ys = list(y.values()) if isinstance(y, dict) else list(y) if isinstance(y, (tuple, list)) else [y]
    return {"y" if i == 0 else f"y_{i}": to_numpy(a) for i, a in enumerate(ys)}


# --------------------------------------------------------------------------- torch


def definitions_only(source: str, filename: str) -> ast.Module:
    """A module reduced to imports, definitions and constant assignments.

    ``--module model_torch.py:Model`` names a file that is often a whole translated
    script: importing it would run its training. Only what a class definition can
    need is kept; ``if __name__ == "__main__"`` blocks and other statements are dropped.
    """
    import builtins

    tree = ast.parse(source, filename)
    keep, bound = [], set(dir(builtins))
    for stmt in tree.body:
        if isinstance(stmt, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            keep.append(stmt)
        elif not (isinstance(stmt, (ast.Assign, ast.AnnAssign)) and stmt.value is not None and _binds_names_only(stmt)):
            continue
        elif any(isinstance(n, (ast.Call, ast.Await, ast.Yield, ast.YieldFrom, ast.NamedExpr)) for n in ast.walk(stmt.value)):
            continue
        elif all(n.id in bound for n in ast.walk(stmt.value) if isinstance(n, ast.Name)):
            keep.append(stmt)  # a constant, or computed from kept ones only
        else:
            continue
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(stmt.name)
        elif isinstance(stmt, (ast.Import, ast.ImportFrom)):
            bound.update((a.asname or a.name).split(".")[0] for a in stmt.names)
        else:
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            bound.update(n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name))
    tree.body = keep
    return tree


def _binds_names_only(stmt) -> bool:
    """``n = 10`` or ``a, b = 1, 2``, not ``model.loss_fn = ...`` (which needs the script's objects)."""
    targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
    return all(isinstance(n, (ast.Name, ast.Tuple, ast.List, ast.Store)) for t in targets for n in ast.walk(t))


def _module_class(job: dict):
    """The target ``nn.Module`` class: from the user's file or from the emitted source."""
    if job.get("module_file"):
        path = job["module_file"]
        with open(path, encoding="utf-8") as f:
            source = f.read()
        ns: dict = {"__name__": "tfpt_convert_module", "__file__": path}
        sys.path.insert(0, os.path.dirname(os.path.abspath(path)))
        exec(compile(definitions_only(source, path), path, "exec"), ns)
    else:
        ns = {"__name__": "tfpt_convert_module"}
        exec(job["source"], ns)
    cls = ns.get(job["class_name"])
    if cls is None:
        import torch

        classes = sorted(k for k, v in ns.items() if isinstance(v, type) and issubclass(v, torch.nn.Module))
        raise LookupError(f"no class {job['class_name']!r} in {job.get('module_file') or 'the emitted source'}"
                          f" (nn.Module classes there: {', '.join(classes) or 'none'})")
    return cls


def _instantiate(cls, job: dict):
    import inspect

    try:
        return cls()
    except TypeError as e:
        try:
            sig = str(inspect.signature(cls.__init__))
        except (TypeError, ValueError):
            sig = "(...)"
        raise TypeError(f"{cls.__name__}() cannot be built without arguments: __init__{sig} ({e})") from None


def describe(job: dict, out_path: str) -> None:
    import torch

    cls = _module_class(job)
    with torch.device("meta"):
        model = _instantiate(cls, job)
    state = [[k, list(v.shape), str(v.dtype).replace("torch.", "")] for k, v in model.state_dict().items()]
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump({"state": state}, f)


def torch_run(job: dict, out_path: str) -> None:
    import torch

    from converters import transfer
    from converters.torch_files import read_state_file

    with np.load(job["inputs"], allow_pickle=False) as data:
        x = data["x"]
        more = [data[f"x_{i}"] for i in range(1, 1 + sum(k.startswith("x_") for k in data.files))]
        exported = str(data["exported_dtype"]) if "exported_dtype" in data.files else None
    if (job.get("program") or job.get("onnx")) and exported and x.dtype.kind == "i" and exported.startswith("int"):
        x = x.astype(exported)
    meta: dict = {}
    if job.get("onnx"):
        import onnxruntime

        session = onnxruntime.InferenceSession(job["onnx"], providers=["CPUExecutionProvider"])
        y = session.run(None, {session.get_inputs()[0].name: x})
        _save_npz(out_path, _outputs(y, np.asarray), meta)
        return
    if job.get("program"):
        model = torch.export.load(job["program"]).module()
    else:
        cls = _module_class(job)
        torch.manual_seed(0)
        model = _instantiate(cls, job)
        arrays, _ = read_state_file(job["state"], trust_pickle=job.get("trust_pickle", False))
        if job.get("rename"):
            arrays = {job["rename"].get(k, k): v for k, v in arrays.items()}
        state = {k: torch.from_numpy(np.array(v)) for k, v in arrays.items()}
        result = model.load_state_dict(state, strict=False)
        transfer.check_load(result.missing_keys, result.unexpected_keys)
        model.eval()
    with torch.no_grad():
        y = model(*(torch.from_numpy(a) for a in [x, *more]))
    _save_npz(out_path, _outputs(y, lambda a: a.detach().numpy()), meta)


# --------------------------------------------------------------------------- Keras


def _keras():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ["KERAS_BACKEND"] = "tensorflow"
    import keras

    return keras


def _load_keras(job: dict):
    keras = _keras()
    if job.get("model_source"):
        model = eval(job["model_source"], {"keras": keras})
        if job.get("weights"):
            model.load_weights(job["weights"])
        return model
    return keras.saving.load_model(job["file"], compile=False, safe_mode=not job.get("trust", False))


def _inputs(model, rng, batch: int) -> list[np.ndarray]:
    """Seeded synthetic inputs from the model's own input spec, one per input."""
    first = next((l for l in model.layers if type(l).__name__ != "InputLayer"), None)
    high = next((int(l.input_dim) for l in model.layers if type(l).__name__ == "Embedding"), 2)
    out = []
    for spec in model.inputs:
        shape = (batch, *[FREE_AXIS if d is None else int(d) for d in tuple(spec.shape)[1:]])
        dtype = str(getattr(spec, "dtype", "float32"))
        if "int" in dtype or len(model.inputs) == 1 and type(first).__name__ == "Embedding":  # token ids, even behind a float Input
            out.append(rng.integers(0, high, size=shape).astype(np.int64))
        else:
            out.append(rng.standard_normal(shape).astype(np.float32))
    return out


def keras_run(job: dict, out_path: str) -> None:
    keras = _keras()
    model = _load_keras(job)
    rng = np.random.default_rng(job.get("seed", 0))
    xs = _inputs(model, rng, job.get("batch", 4))
    feed = [x.astype(np.int32) if x.dtype.kind == "i" else x for x in xs]
    y = model(feed if len(feed) > 1 else feed[0], training=False)
    # what an exported program of this model takes (an int32 Input stays int32 through ONNX)
    exported = str(getattr(model.inputs[0], "dtype", "float32")).replace("tf.", "")
    more = {f"x_{i}": x for i, x in enumerate(xs) if i}
    _save_npz(out_path, {"x": xs[0], **more, **_outputs(y, keras.ops.convert_to_numpy),
                         "exported_dtype": np.array(exported)}, {})


def keras_write(job: dict, out_path: str) -> None:
    keras = _keras()
    model = eval(job["model_source"], {"keras": keras})
    with np.load(job["weights_npz"], allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    layers = [l for l in model.layers if l.weights]
    per_layer = job["layers"]  # [[array key, ...] per layer with weights, in order]
    by_name = {l.name: l for l in layers}
    if job.get("names") and all(n in by_name for n in job["names"]):  # a Functional model's layers, by name
        layers = [by_name[n] for n in job["names"]]
    if len(layers) != len(per_layer):
        raise ValueError(f"the Keras model has {len(layers)} layers with weights, the state dict fills {len(per_layer)}")
    for layer, keys in zip(layers, per_layer):
        values = [arrays[k] for k in keys]
        want = [tuple(w.shape) for w in layer.weights]
        got = [tuple(v.shape) for v in values]
        if want != got:
            raise ValueError(f"layer {layer.name!r}: Keras variables {want}, converted weights {got}")
        layer.set_weights(values)
    if out_path.endswith(".weights.h5"):
        model.save_weights(out_path)
    else:
        model.save(out_path)


ACTIONS = {"describe": describe, "torch-run": torch_run, "keras-run": keras_run, "keras-write": keras_write}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 3 or argv[0] not in ACTIONS:
        print(f"usage: python -m converters.convert_worker {'|'.join(ACTIONS)} JOB.json OUT", file=sys.stderr)
        return 2
    with open(argv[1], encoding="utf-8") as f:
        job = json.load(f)
    try:
        ACTIONS[argv[0]](job, argv[2])
    except Exception as e:  # the parent reports the last line; the traceback goes to stderr
        traceback.print_exc(limit=4)
        print(f"TFPT-ERROR: {type(e).__name__}: {' '.join(str(e).split())}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
