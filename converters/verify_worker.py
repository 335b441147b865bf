"""One side of ``tfpt verify``, in its own process: ``python -m converters.verify_worker keras|torch JOB.json OUT.npz``.

Each process imports exactly one framework (TensorFlow and torch must never share a
process). The Keras side builds the models, makes the synthetic inputs and targets,
runs them and saves inputs, outputs, losses and every layer's weights; the torch
side loads those weights through ``converters.transfer`` into the translated classes
and runs the same inputs. ``OUT.npz`` holds the arrays plus a JSON ``__meta__``
entry (per model: weight names, dropout count, the error if one happened).
"""

from __future__ import annotations

import json
import os
import sys
import traceback

import numpy as np


def _save(path: str, arrays: dict, meta: dict) -> None:
    np.savez(path, __meta__=np.array(json.dumps(meta)), **arrays)


def _load(path: str) -> tuple[dict, dict]:
    with np.load(path, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files if k != "__meta__"}
        meta = json.loads(str(data["__meta__"]))
    return arrays, meta


def _inputs(rng, spec: dict, batch: int) -> list[np.ndarray]:
    out = []
    for inp in spec["inputs"]:
        shape = (batch, *inp["shape"])
        if inp["kind"] == "int":
            out.append(rng.integers(0, inp["high"], size=shape).astype(np.int64))
        else:
            out.append(rng.standard_normal(shape).astype(np.float32))
    return out


def _feed(xs: list[np.ndarray]):
    """What the Keras model is called with: ids as int32, one array or a list."""
    xs = [x.astype(np.int32) if x.dtype.kind == "i" else x for x in xs]
    return xs[0] if len(xs) == 1 else xs


def _outputs(y) -> list:
    """A model's outputs as a flat list (dicts in key order, as Keras and the translation both keep it)."""
    if isinstance(y, dict):
        return list(y.values())
    if isinstance(y, (list, tuple)):
        return list(y)
    return [y]


def _keras_layers(model, prefix: str = "", attrs=None):
    """(name, layer) for every layer with weights, looking inside nested models (named ``outer.inner``);
    a subclassed model's layers by the attributes that hold them (``attrs``)."""
    if attrs is not None:
        for name, path in attrs:
            layer = model
            try:
                for part in path.split("."):
                    graph = type(layer).__name__ in ("Functional", "Sequential")  # layers by name there
                    if part.isdigit():  # a Sequential's layer by position, or an item of a list attribute
                        layer = layer[int(part)] if isinstance(layer, (list, tuple)) else layer.layers[int(part)]
                    else:
                        layer = layer.get_layer(part) if graph else getattr(layer, part)
            except (AttributeError, ValueError, IndexError):
                continue  # a merge keeps Keras' own name in a rebuilt graph: weightless, nothing to pair
            yield name, layer
        return
    for layer in model.layers:
        name = prefix + layer.name
        if hasattr(layer, "layers") and layer.weights and type(layer).__name__ in ("Functional", "Sequential", "Model"):
            yield from _keras_layers(layer, name + ".")
        else:
            yield name, layer


def _targets(rng, loss: str | None, out_shape: tuple) -> np.ndarray:
    """Synthetic targets the loss accepts, shaped like the model's output."""
    loss = loss or ""
    classes = out_shape[-1]
    if "sparse_categorical" in loss:
        return rng.integers(0, classes, size=out_shape[:-1]).astype(np.int64)
    if "categorical_crossentropy" in loss:
        labels = rng.integers(0, classes, size=out_shape[:-1])
        return np.eye(classes, dtype=np.float32)[labels]
    if "binary_crossentropy" in loss:
        return rng.integers(0, 2, size=out_shape).astype(np.float32)
    return rng.standard_normal(out_shape).astype(np.float32)


# --------------------------------------------------------------------------- Keras


def run_keras(job: dict, out_path: str) -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ["KERAS_BACKEND"] = "tensorflow"
    import keras

    arrays: dict[str, np.ndarray] = {}
    meta: dict[str, dict] = {}
    for spec in job["models"]:
        key = spec["key"]
        info: dict = {}
        meta[key] = info
        try:
            keras.utils.set_random_seed(job["seed"])
            rng = np.random.default_rng(job["seed"])
            ns = {"keras": keras}
            exec(spec["script"], ns)
            model = ns["model"]
            xs = _inputs(rng, spec, job["batch"])
            ys = [keras.ops.convert_to_numpy(y) for y in _outputs(model(_feed(xs), training=False))]
            for i, x in enumerate(xs):
                arrays[f"{key}.x.{i}"] = x
            for i, y in enumerate(ys):
                arrays[f"{key}.y.{i}"] = y
            names, layer_names_list = [], []
            for i, (layer_name, layer) in enumerate(_keras_layers(model, attrs=spec.get("attrs"))):
                layer_names = []
                # an attribute holding a variable (``self.w = self.add_weight(...)``) is its own one weight
                for j, w in enumerate(layer.weights if hasattr(layer, "weights") else [layer]):
                    arrays[f"{key}.w.{i}.{j}"] = keras.ops.convert_to_numpy(w)
                    layer_names.append(getattr(w, "path", None) or w.name)
                names.append(layer_names)
                layer_names_list.append(layer_name)
            info["weights"] = names
            info["layers"] = layer_names_list
            x, y = xs[0], ys[0]
            steps = job["train_steps"]
            if steps and spec.get("compile") is not None:
                dropouts = [l for _, l in _keras_layers(model, attrs=spec.get("attrs")) if isinstance(l, keras.layers.Dropout)]  # SpatialDropout* too
                for layer in dropouts:
                    layer.rate = 0.0
                info["dropout"] = len(dropouts)
                ns: dict = {}
                exec(job["prelude"], ns)
                exec(spec["compile_prelude"], ns)
                ns["__tfpt_model"] = model
                exec(f"__tfpt_model.compile(\n{spec['compile']}\n)", ns)
                # one epoch of `steps` unshuffled batches through Keras' own fit loop
                xb = np.concatenate([_inputs(rng, spec, job["batch"])[0] for _ in range(steps)])
                yb = _targets(rng, spec["loss"], (len(xb),) + y.shape[1:])
                arrays[f"{key}.tx"], arrays[f"{key}.ty"] = xb, yb
                feed = _feed([xb])
                history = model.fit(feed, yb, batch_size=job["batch"], epochs=1, shuffle=False, verbose=0)
                arrays[f"{key}.loss"] = np.array(history.history["loss"], dtype=np.float64)
                arrays[f"{key}.batch"] = np.array(job["batch"])
                feed = _feed([x])
                arrays[f"{key}.final"] = keras.ops.convert_to_numpy(model(feed, training=False))
        except Exception:
            info["error"] = traceback.format_exc(limit=6)
    _save(out_path, arrays, meta)


# --------------------------------------------------------------------------- torch


def run_torch(job: dict, out_path: str) -> None:
    import torch
    from torch import nn

    from converters import transfer

    keras_arrays, keras_meta = _load(job["keras_npz"])
    arrays: dict[str, np.ndarray] = {}
    meta: dict[str, dict] = {}
    for spec in job["models"]:
        key = spec["key"]
        info: dict = {}
        meta[key] = info
        try:
            kinfo = keras_meta.get(key, {})
            if "error" in kinfo or "weights" not in kinfo:
                raise RuntimeError("the Keras side failed; nothing to compare")
            torch.manual_seed(job["seed"])
            ns: dict = {}
            exec(job["prelude"], ns)
            exec(spec["class_source"], ns)
            model = eval(spec.get("ctor") or f"{spec['class_name']}()", ns)
            keras_weights = [
                [(name, keras_arrays[f"{key}.w.{i}.{j}"]) for j, name in enumerate(layer)]
                for i, layer in enumerate(kinfo["weights"])
            ]
            rules = transfer.rules_from_json(spec["rules"])
            # the rebuilt Keras layers are named like the torch attributes: pair them by name
            by_name = dict(zip(kinfo.get("layers", []), keras_weights))
            if all(attr in by_name for attr, r in rules if r):
                keras_weights = [by_name[attr] for attr, r in rules if r]
            expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
            state = transfer.model_to_state_dict(keras_weights, rules, expected)
            result = model.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()}, strict=False)
            transfer.check_load(result.missing_keys, result.unexpected_keys)
            model.eval()
            n_inputs = len([k for k in keras_arrays if k.startswith(f"{key}.x.")])
            xs = [torch.from_numpy(keras_arrays[f"{key}.x.{i}"]) for i in range(n_inputs)]
            x = xs[0]
            with torch.no_grad():
                for i, y in enumerate(_outputs(model(*xs))):
                    arrays[f"{key}.y.{i}"] = y.numpy()
            if f"{key}.loss" in keras_arrays and spec.get("compile_lines"):
                # every dropout kind (Dropout, Dropout1d/2d/3d for SpatialDropout) shares _DropoutNd
                dropouts = [m for m in model.modules() if isinstance(m, nn.modules.dropout._DropoutNd)]
                for m in dropouts:
                    m.p = 0.0
                info["dropout"] = len(dropouts)
                ns[spec["var"]] = model
                exec("\n".join(spec["compile_lines"]), ns)
                # the translated training loop (the runtime's fit) on the same batches
                history = ns["fit"](model, keras_arrays[f"{key}.tx"], keras_arrays[f"{key}.ty"],
                                    batch_size=int(keras_arrays[f"{key}.batch"]), epochs=1, shuffle=False, verbose=0)
                arrays[f"{key}.loss"] = np.array(history.history["loss"], dtype=np.float64)
                model.eval()
                with torch.no_grad():
                    arrays[f"{key}.final"] = model(x).numpy()
        except Exception:
            info["error"] = traceback.format_exc(limit=6)
    _save(out_path, arrays, meta)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 3 or argv[0] not in ("keras", "torch"):
        print("usage: python -m converters.verify_worker keras|torch JOB.json OUT.npz", file=sys.stderr)
        return 2
    with open(argv[1], encoding="utf-8") as f:
        job = json.load(f)
    (run_keras if argv[0] == "keras" else run_torch)(job, argv[2])
    return 0


if __name__ == "__main__":
    sys.exit(main())
