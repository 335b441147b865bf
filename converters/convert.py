"""``tfpt convert``: trained weights between Keras files and torch state dicts, verified.

Direct route (the main one): the architecture comes from the checkpoint's own config
(``converters.keras_config``) or from the Keras source (``--keras model.py``); the
spec rows turn it into the module ``tfpt translate`` emits and its ``WeightRule``s;
every variable goes through its rule's transform. Nothing is written unless every
variable maps and every shape matches the target module (the user's ``--module`` or
the emitted one, described by a torch worker). Output is written to a temporary file
beside the target and renamed; an existing file needs ``--force``. Then both sides
run on the same synthetic inputs in separate processes (``convert_worker``).

``.pt2`` / ``.onnx`` outputs take the ONNX route (``converters.onnx_route``) for models
the direct route cannot express. This module imports neither framework (``.pt``
files need torch, loaded here only for them).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Callable

import numpy as np

from translator.diagnostics import InputError
from translator.emit_torch import EmittedModel, LayerError, build_layers, emit_model
from translator.files import read_source
from translator.ir import ModelIR
from translator.spec.weights import FlattenRows, WeightRule

from . import transfer
from .workers import worker_env
from .keras_config import ConfigError, read_architecture
from .keras_files import CheckpointError, KerasCheckpoint, open_keras_file, read_array
from .torch_files import PlannedTensor, StateFileError, read_state_file, write_pt, write_safetensors

EXIT_OK, EXIT_MISMATCH, EXIT_BAD_INPUT = 0, 1, 2
DEFAULT_ATOL = 1e-5
KERAS_SUFFIXES = (".keras", ".h5")
STATE_SUFFIXES = (".safetensors", ".pt", ".pth", ".bin")
ONNX_SUFFIXES = (".pt2", ".onnx")
_TORCH_PRELUDE = "import math\nimport torch\nfrom torch import nn\nimport torch.nn.functional as F\n\n"
VERIFY_BATCH = 4


class ConvertError(Exception):
    """Bad input: a one-line message naming the file and what is wrong (exit 2)."""


@dataclasses.dataclass
class Options:
    src: str
    out: str | None = None
    module: str | None = None  # "model_torch.py:Model"
    keras: str | None = None  # Keras source (.py) or Keras file giving the architecture
    explain: bool = False
    force: bool = False
    verify: bool = True
    atol: float = DEFAULT_ATOL
    rtol: float = 0.0
    trust: bool = False
    trust_pickle: bool = False
    keep_onnx: str | None = None
    input_shape: tuple[int, ...] | None = None  # torch -> ONNX: the example input, batch axis first
    #: how the torch module flattens convolution features: "channels-last" (what tfpt translate
    #: emits: it permutes back first) or "channels-first" (``x.flatten(1)`` on NCHW, hand-written)
    flatten: str = "channels-last"


@dataclasses.dataclass
class Row:
    """One line of the mapping table (``--explain``)."""

    keras: str
    keras_shape: tuple
    transform: str
    torch: str
    torch_shape: tuple


def _suffix(path: str) -> str:
    p = path.lower()
    if p.endswith(".weights.h5"):
        return ".weights.h5"
    return os.path.splitext(p)[1]


def _is_keras(path: str) -> bool:
    return _suffix(path) in (*KERAS_SUFFIXES, ".weights.h5")


# --------------------------------------------------------------------------- architecture


def _architecture(ckpt_config: dict | None, opts: Options, where: str) -> tuple[ModelIR, dict, EmittedModel | None]:
    """(ModelIR, module constants, the emitted module of a Functional model) from the checkpoint's
    config or from ``--keras``; a Sequential model is emitted by ``_emit``."""
    if opts.keras:
        return _architecture_from(opts.keras, opts)
    if ckpt_config is not None:
        return _from_config(ckpt_config, where)
    raise ConvertError(f"{where}: this file holds weights only, no architecture: pass --keras model.py "
                       "(the Keras source that built the model) or --keras model.keras")


def _from_config(config: dict, where: str) -> tuple[ModelIR, dict, EmittedModel | None]:
    try:
        ir, emitted = read_architecture(config, where)
    except ConfigError as e:
        raise ConvertError(str(e)) from None
    return ir, {}, emitted


def _architecture_from(spec: str, opts: Options) -> tuple[ModelIR, dict, EmittedModel | None]:
    """``--keras model.py[:name]`` (source) or ``--keras model.keras`` (a saved model)."""
    path, _, name = spec.partition(":") if not os.path.exists(spec) else (spec, "", "")
    if not os.path.isfile(path):
        raise ConvertError(f"{path}: no such file (--keras)")
    if _is_keras(path):
        try:
            with open_keras_file(path, trust=opts.trust) as ck:
                config = ck.config
        except CheckpointError as e:
            raise ConvertError(str(e)) from None
        if config is None:
            raise ConvertError(f"{path}: a weights-only file cannot give the architecture (--keras)")
        return _from_config(config, os.path.basename(path))
    from translator.translate import translate_source  # LibCST: only when a script gives the architecture

    try:
        source = read_source(path)
        result = translate_source(source, path)
    except InputError as e:
        raise ConvertError(str(e)) from None
    models = result.models
    if name:
        models = [m for m in models if name in (m.var, m.class_name, m.keras_name)]
    if not models:
        found = ", ".join(m.var or m.class_name for m in result.models) or "none"
        raise ConvertError(f"{path}: no Keras model {name + ' ' if name else ''}tfpt can translate "
                           f"(models found: {found})")
    if len(models) > 1:
        names = ", ".join(m.var or m.class_name for m in models)
        raise ConvertError(f"{path}: {len(models)} models ({names}): say which with --keras {path}:NAME")
    import libcst as cst

    from .verify import module_constants

    graph = result.emitted[models[0].class_name] if models[0].graph is not None else None
    return models[0], module_constants(cst.parse_module(source)), graph


def _emit(ir: ModelIR, where: str, flatten: str = "channels-last", emitted: EmittedModel | None = None) -> EmittedModel:
    """The module for ``ir``: a Functional model's comes emitted with its graph, a Sequential one's here."""
    try:
        emitted = emitted or emit_model(ir)
    except LayerError as e:
        raise ConvertError(f"{where}: layer {e.layer.attr!r}: {e}") from None
    if flatten == "channels-first":
        emitted = _flatten_channels_first(ir, emitted, where)
    return emitted


#: layers that may sit between a Flatten and its Dense without changing the feature order
_ELEMENTWISE = frozenset({"Dropout", "Activation", "ReLU", "LeakyReLU"})


def flattened_dense(ir: ModelIR) -> dict[str, tuple[tuple[int, ...], int]]:
    """Dense layers fed by a Flatten of spatial features: attr -> (spatial dims, channels)."""
    if ir.graph is not None:
        return _flattened_dense_in_graph(ir)
    t, pending, found = ir.input, None, {}
    for layer, built, _ in build_layers(ir):
        name = layer.spec.keras
        if name == "Flatten" and t.shape is not None and len(t.shape) >= 2:
            dims = [d.value for d in t.shape]
            pending = None if None in dims else (tuple(dims[:-1]), dims[-1])
        elif name == "Dense" and pending:
            found[layer.attr] = pending
            pending = None
        elif name not in _ELEMENTWISE:
            pending = None
        t = built.output
    return found


def _flattened_dense_in_graph(ir: ModelIR) -> dict[str, tuple[tuple[int, ...], int]]:
    graph, flat, found = ir.graph, {}, {}  # flat: tensor id -> (spatial dims, channels) it was flattened from
    for node in graph.nodes:
        name = ir.layers[node.layer].spec.keras if node.layer is not None else None
        source = node.inputs[0] if len(node.inputs) == 1 else None
        shape = graph.tensors[source].shape if source is not None else None
        if name == "Flatten" and shape is not None and len(shape) >= 2 and all(d.known for d in shape):
            flat[node.output] = (tuple(d.value for d in shape[:-1]), shape[-1].value)
        elif name in _ELEMENTWISE and source in flat:
            flat[node.output] = flat[source]
        elif name == "Dense" and source in flat:
            found[ir.layers[node.layer].attr] = flat[source]
    return found


def _flatten_channels_first(ir: ModelIR, emitted: EmittedModel, where: str) -> EmittedModel:
    found = flattened_dense(ir)
    if not found:
        raise ConvertError(f"{where}: --flatten channels-first: no Dense layer follows a Flatten of spatial features")
    weights = [(attr, tuple(WeightRule(r.keras, r.torch, FlattenRows(*found[attr])) if attr in found and r.keras == ("kernel",)
                            else r for r in rules)) for attr, rules in emitted.weights]
    return dataclasses.replace(emitted, weights=weights)


def _module_job(opts: Options, emitted: EmittedModel | None, ir: ModelIR | None, constants: dict) -> dict:
    if opts.module:
        file, _, cls = opts.module.rpartition(":")
        if not file or not cls:
            raise ConvertError(f"--module {opts.module}: expected FILE.py:ClassName")
        if not os.path.isfile(file):
            raise ConvertError(f"{file}: no such file (--module)")
        return {"module_file": os.path.abspath(file), "class_name": cls}
    consts = "".join(f"{k} = {v!r}\n" for k, v in constants.items())
    return {"source": _TORCH_PRELUDE + consts + emitted.source, "class_name": ir.class_name}


# --------------------------------------------------------------------------- workers


def _worker(action: str, job: dict, out_path: str) -> None:
    """Run one worker; a failure becomes _WorkerError with the worker's own last words."""
    job_path = out_path + ".job.json"
    with open(job_path, "w", encoding="utf-8") as f:
        json.dump(job, f)
    proc = subprocess.run([sys.executable, "-m", "converters.convert_worker", action, job_path, out_path],
                          env=worker_env(), capture_output=True, text=True)
    if proc.returncode != 0:
        lines = [l for l in proc.stderr.splitlines() if l.startswith("TFPT-ERROR: ")]
        reason = lines[-1][len("TFPT-ERROR: "):] if lines else "\n".join(proc.stderr.strip().splitlines()[-8:])
        raise _WorkerError(f"{action}: {reason}")


class _WorkerError(Exception):
    """A worker process failed; the message is its own last words."""


def _describe(job: dict, workdir: str) -> list[tuple[str, tuple, str]]:
    """The target module's state-dict entries, from a torch worker (built on the meta device)."""
    out = os.path.join(workdir, "describe.json")
    try:
        _worker("describe", job, out)
    except _WorkerError as e:
        raise ConvertError(f"cannot build the target torch module: {e}") from None
    with open(out, encoding="utf-8") as f:
        return [(k, tuple(s), d) for k, s, d in json.load(f)["state"]]


# --------------------------------------------------------------------------- mapping


def _parameter_groups(keys, torch_side=()) -> list[tuple[str, list[str]]]:
    """State-dict keys grouped by owning module, in order: (prefix, leaves relative to it).

    One Keras layer may own torch submodules (SeparableConv's ``depthwise``/``pointwise``,
    MultiHeadAttention's ``out_proj``): ``torch_side`` (attribute -> rules, in layer order)
    says which, and the groups of one layer merge under their common prefix, leaves keeping
    the submodule (``pointwise.weight``). Modules holding only torch-only buffers are left
    out (they pair with no Keras layer).
    """
    out: dict[str, list[str]] = {}
    for k in keys:
        prefix, _, leaf = k.rpartition(".")
        out.setdefault(prefix, []).append(leaf)
    plain = [(p, leaves) for p, leaves in out.items() if any(l not in transfer.TORCH_ONLY_BUFFERS for l in leaves)]
    merged, i = [], 0
    for _, rules in torch_side:
        subs = sorted({t.rpartition(".")[0] for r in rules for t in r.torch})
        group = _merge_submodules(plain[i:i + len(subs)], subs) if len(subs) > 1 else None
        if group is not None:
            merged.append(group)
            i += len(subs)
        elif i < len(plain):
            merged.append(plain[i])
            i += 1
    return merged + plain[i:]


def _merge_submodules(groups, subs) -> tuple[str, list[str]] | None:
    """``groups`` as one module owning the submodules ``subs`` ("" for its own parameters), or None."""
    if len(groups) != len(subs):
        return None
    parents = {p[:-len(sub) - 1] for p, _ in groups for sub in subs if sub and p.endswith("." + sub)}
    for parent in parents:
        found = {p: next((sub for sub in subs if p == (f"{parent}.{sub}" if sub else parent)), None) for p, _ in groups}
        if None not in found.values() and len(set(found.values())) == len(subs):
            return parent, [f"{found[p]}.{leaf}" if found[p] else leaf for p, leaves in groups for leaf in leaves]
    return None


def _shape_of(transform, shapes_dtypes, n_out: int) -> list[tuple[tuple, np.dtype]]:
    """Output shapes of a transform, computed on zero-stride stand-ins (no data read)."""
    stand_ins = [np.broadcast_to(np.zeros((), dtype), shape) for shape, dtype in shapes_dtypes]
    out = transform.to_torch(*stand_ins)
    out = (out,) if n_out == 1 else tuple(out)
    return [(tuple(a.shape), a.dtype) for a in out]


def spec_target(emitted: EmittedModel) -> list[tuple[str, tuple, str]] | None:
    """The emitted module's state-dict entries from the spec rows' shapes; None if a size is unknown."""
    target = []
    for attr, params in emitted.shapes.items():
        for name, shape in params.items():
            if any(d is None for d in shape):
                return None
            target.append((f"{attr}.{name}", tuple(shape), "float32"))
        if "running_mean" in params:  # torch's batch norms count their steps
            target.append((f"{attr}.num_batches_tracked", (), "int64"))
    return target


def keras_layer_order(ir: ModelIR) -> list[int]:
    """``ir.layers`` indices in Keras' ``model.layers`` order.

    A Sequential model keeps its order. A Functional one is ordered like Keras 3's
    ``map_graph``: by decreasing depth (distance from the outputs), then by when a depth-first
    walk from the outputs first meets the layer; tfpt lists layers by first use instead.
    """
    graph = ir.graph
    if graph is None:
        return list(range(len(ir.layers)))
    producer = {n.output: n for n in graph.nodes}
    outputs = list(graph.outputs.values()) if isinstance(graph.outputs, dict) else list(graph.outputs)
    seen_ops: dict[int, int] = {}  # id(node.layer or node) -> discovery index
    post: list = []  # nodes, inputs before users (keras' nodes_in_decreasing_depth, reversed)
    done: set[int] = set()

    def visit(tensor: int) -> None:
        node = producer.get(tensor)
        if node is None or id(node) in done:
            return
        seen_ops.setdefault(node.layer if node.layer is not None else -1 - id(node), len(seen_ops))
        for t in node.inputs:
            visit(t)
        done.add(id(node))
        post.append(node)

    for t in outputs:
        visit(t)
    node_depth: dict[int, int] = {}
    layer_depth: dict[int, int] = {}
    for node in reversed(post):
        depth = max(node_depth.get(id(node), 0), layer_depth.get(node.layer, 0) if node.layer is not None else 0)
        if node.layer is not None:
            layer_depth[node.layer] = depth
        for t in node.inputs:
            if t in producer:
                parent = id(producer[t])
                node_depth[parent] = max(depth + 1, node_depth.get(parent, 0))
    return sorted(layer_depth, key=lambda i: (-layer_depth[i], seen_ops[i]))


def _in_model_order(ckpt: KerasCheckpoint, ir: ModelIR, from_config: bool) -> KerasCheckpoint:
    """The checkpoint's layers in the order of ``ir.layers`` (what the emitted module lists).

    A checkpoint lists layers in Keras' ``model.layers`` order, which for a Functional model
    is not tfpt's first-use order; a weights-only file lists its groups alphabetically
    (``batch_normalization`` before ``conv2d``), numbered class by class in ``model.layers``
    order. A model read from the checkpoint's own config already follows it.
    """
    if from_config:
        return ckpt
    order = keras_layer_order(ir)
    if len(order) != len(ir.layers):
        return ckpt  # layers no output needs: keep the file's order (the plan says what differs)
    weights_only = ckpt.format == "weights.h5" and ckpt.config is None
    if not weights_only and ir.graph is None:
        return ckpt
    by_class: dict[str | None, list] = {}
    listed = [e for e in ckpt.layers if e[1] != "InputLayer"]
    for entry in listed:
        by_class.setdefault(entry[1] if weights_only else None, []).append(entry)
    placed: dict[int, tuple] = {}
    for i in order:
        group = by_class.get(ir.layers[i].spec.keras if weights_only else None)
        if not group:
            return ckpt  # a class the file does not name: keep its order (the plan says what differs)
        placed[i] = group.pop(0)
    return dataclasses.replace(ckpt, layers=[placed[i] for i in range(len(ir.layers))]
                               + [e for g in by_class.values() for e in g])


def _layers_with_weights(ckpt: KerasCheckpoint) -> list[tuple[int, str, str | None, list]]:
    return [(i, name, cls, v) for i, (name, cls, v) in enumerate(ckpt.layers) if v]


def plan_to_torch(ckpt: KerasCheckpoint, emitted: EmittedModel,
                  target: list[tuple[str, tuple, str]] | None) -> tuple[list[Row], list[PlannedTensor]]:
    """Every Keras variable -> its torch tensor, planned (shapes known, data read on demand)."""
    where = os.path.basename(ckpt.path)
    keras_side = _layers_with_weights(ckpt)
    torch_side = [(attr, rules) for attr, rules in emitted.weights if rules]
    if len(keras_side) != len(torch_side):
        k = ", ".join(f"{name} ({cls or '?'})" for _, name, cls, _ in keras_side)
        t = ", ".join(attr for attr, _ in torch_side)
        raise ConvertError(f"{where}: {len(keras_side)} Keras layers with weights [{k}] but the architecture "
                           f"has {len(torch_side)} [{t}]: weights and model do not match")
    groups = None
    if target is not None:
        groups = _parameter_groups([k for k, _, _ in target], torch_side)
        if len(groups) != len(torch_side):
            raise ConvertError(f"the torch module has {len(groups)} submodules with parameters "
                               f"[{', '.join(p for p, _ in groups)}] but the Keras model {len(torch_side)} layers "
                               f"with weights [{', '.join(a for a, _ in torch_side)}]")
    shapes = {k: (s, d) for k, s, d in target} if target is not None else {}
    rows: list[Row] = []
    planned: list[PlannedTensor] = []
    for n, ((index, lname, cls, variables), (attr, rules)) in enumerate(zip(keras_side, torch_side)):
        prefix = groups[n][0] if groups is not None else attr
        wanted = [k for r in rules for k in r.keras]
        got = [name for name, _ in variables]
        if len(got) != len(wanted):
            raise ConvertError(f"{where}: Keras layer {lname!r} ({cls or '?'}) has {len(got)} variables, "
                               f"torch {prefix!r} expects {len(wanted)} ({', '.join(wanted)})")
        if groups is not None:
            params = [l for l in groups[n][1] if l.rpartition(".")[2] not in transfer.TORCH_ONLY_BUFFERS]
            mapped = [t for r in rules for t in r.torch]
            if sorted(params) != sorted(mapped):
                raise ConvertError(f"torch submodule {prefix!r} has parameters [{', '.join(params)}] but Keras layer "
                                   f"{lname!r} ({cls or '?'}) maps to [{', '.join(mapped)}]")
        i = 0
        for r in rules:
            chunk = variables[i:i + len(r.keras)]
            i += len(r.keras)
            for (vname, _), rule_name in zip(chunk, r.keras):
                if not transfer.name_matches(vname, rule_name):
                    raise ConvertError(f"{where}: Keras variable {vname!r} of layer {lname!r} is not the "
                                       f"{rule_name!r} the mapping expects")
            try:
                outs = _shape_of(r.transform, [(tuple(a.shape), a.dtype) for _, a in chunk], len(r.torch))
            except ValueError:
                shapes_desc = ", ".join(f"{lname}/{k} {tuple(a.shape)}" for k, (_, a) in zip(r.keras, chunk))
                raise ConvertError(f"{where}: Keras {shapes_desc} does not fit torch {prefix!r} "
                                   f"({r.transform.describe()}): weights and model do not match") from None
            for j, (tname, (shape, dtype)) in enumerate(zip(r.torch, outs)):
                key = f"{prefix}.{tname}"
                if key in shapes:
                    tshape = shapes[key][0]
                    if tuple(tshape) != shape:
                        keras_desc = ", ".join(f"{lname}/{k} {tuple(a.shape)}" for k, (_, a) in zip(r.keras, chunk))
                        raise ConvertError(f"shape mismatch: Keras {keras_desc} -> {shape}, but torch {key!r} "
                                           f"is {tuple(tshape)}")
                shown = [_display(lname, v, k) for (v, _), k in zip(chunk, r.keras)]
                rows.append(Row(" + ".join(shown[:1] + [n.split("/", 1)[-1] for n in shown[1:]]),
                                tuple(chunk[0][1].shape), r.transform.describe(), key, shape))
                planned.append(PlannedTensor(key, shape, np.dtype(dtype), _producer(r, chunk, j, where)))
    # torch-only buffers (BatchNorm's step counter): written, so strict loading works
    produced = {p.name for p in planned}
    if target is None:  # predicted: torch's batch norms count steps beside their running statistics
        buffers = [(p.name.rpartition(".")[0] + ".num_batches_tracked", (), "int64")
                   for p in planned if p.name.endswith(".running_mean")]
    else:
        buffers = [(k, s, d) for k, s, d in target if k.rpartition(".")[2] in transfer.TORCH_ONLY_BUFFERS]
    for key, shape, dtype in buffers:
        if key not in produced:
            planned.append(PlannedTensor(key, tuple(shape), np.dtype(dtype),
                                         lambda s=tuple(shape), d=dtype: np.zeros(s, np.dtype(d))))
    if target is not None:
        missing = [k for k, _, _ in target if k not in {p.name for p in planned}]
        if missing:
            raise ConvertError(f"the torch module has entries no Keras variable fills: {', '.join(missing)}")
    return rows, planned


def _display(layer: str, variable: str, rule_name: str) -> str:
    """``dense/kernel`` for a positional Keras 3 variable, the stored name otherwise."""
    last = variable.split(":")[0].rsplit("/", 1)[-1]
    return f"{layer}/{rule_name}" if last.isdigit() else variable.split(":")[0]


def _producer(rule, chunk, j: int, where: str) -> Callable[[], np.ndarray]:
    def produce():
        arrays = [read_array(a, where, name) for name, a in chunk]
        out = rule.transform.to_torch(*arrays)
        return contiguous(out if len(rule.torch) == 1 else tuple(out)[j])

    return produce


_TILE = 256


def contiguous(a: np.ndarray) -> np.ndarray:
    """C order (0-d arrays stay 0-d, unlike ``np.ascontiguousarray``), tiled for large transposed
    matrices (3x faster: cache-sized blocks)."""
    if a.flags.c_contiguous or a.ndim != 2 or a.size < (1 << 20):
        return np.asarray(a, order="C")
    out = np.empty(a.shape, a.dtype)
    rows, cols = a.shape
    for i in range(0, rows, _TILE):
        for k in range(0, cols, _TILE):
            out[i:i + _TILE, k:k + _TILE] = a[i:i + _TILE, k:k + _TILE]
    return out


def print_table(rows: list[Row], out: Callable[[str], None]) -> None:
    header = ("Keras variable", "shape", "transform", "torch parameter", "shape")
    cells = [header] + [(r.keras, str(r.keras_shape), r.transform, r.torch, str(r.torch_shape)) for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(5)]
    for n, c in enumerate(cells):
        out("  ".join(v.ljust(w) for v, w in zip(c, widths)).rstrip())
        if n == 0:
            out("  ".join("-" * w for w in widths))


# --------------------------------------------------------------------------- writing


def _check_writable(path: str, force: bool) -> None:
    if os.path.isdir(path):
        raise ConvertError(f"{path}: is a directory")
    if os.path.exists(path) and not force:
        raise ConvertError(f"{path}: exists; pass --force to overwrite it")
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise ConvertError(f"{parent}: no such directory")


@contextlib.contextmanager
def atomic_output(path: str):
    """A temporary path beside ``path`` (same suffix); renamed over it only on success."""
    parent = os.path.dirname(os.path.abspath(path))
    suffix = _suffix(path)
    fd, tmp = tempfile.mkstemp(prefix=".tfpt-", suffix=suffix, dir=parent)
    os.close(fd)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _metadata(source: str) -> dict[str, str]:
    return {"format": "pt", "source": source, "converted_by": "tfpt"}


def write_state(path: str, planned: list[PlannedTensor], metadata: dict[str, str]) -> None:
    with atomic_output(path) as tmp:
        with open(tmp, "wb") as fh:
            if _suffix(path) == ".safetensors":
                write_safetensors(fh, planned, metadata)
            else:
                write_pt(fh, planned)


# --------------------------------------------------------------------------- verification


def _verify(keras_job: dict, torch_job: dict, opts: Options, workdir: str, out) -> int:
    k_out, t_out = os.path.join(workdir, "keras.npz"), os.path.join(workdir, "torch.npz")
    try:
        _worker("keras-run", {**keras_job, "seed": 0, "batch": VERIFY_BATCH}, k_out)
        _worker("torch-run", {**torch_job, "inputs": k_out}, t_out)
    except _WorkerError as e:
        out(f"verify: FAILED ({e})")
        return EXIT_MISMATCH
    with np.load(k_out) as k, np.load(t_out) as t:
        heads = sorted((n for n in k.files if n == "y" or n.startswith("y_")), key=len)
        if len(heads) > 1 and heads != sorted((n for n in t.files if n == "y" or n.startswith("y_")), key=len):
            out(f"verify: Keras gives {len(heads)} outputs, torch {sum(n.startswith('y') for n in t.files)} — MISMATCH")
            return EXIT_MISMATCH
        return _compare([k[n] for n in heads], [t[n] for n in heads], opts, out, ("Keras", "torch"))


def _compare(reference, result, opts: Options, out, sides: tuple[str, str]) -> int:
    """Outputs (an array, or a list of them: every head of the model) within ``--atol``/``--rtol``."""
    pairs = list(zip(reference, result)) if isinstance(reference, list) else [(reference, result)]
    for a, b in pairs:
        if a.shape != b.shape:
            out(f"verify: output shapes differ: {sides[0]} {a.shape}, {sides[1]} {b.shape} — MISMATCH")
            return EXIT_MISMATCH
    a = np.concatenate([a.astype(np.float64).ravel() for a, _ in pairs])
    b = np.concatenate([b.astype(np.float64).ravel() for _, b in pairs])
    d = np.abs(a - b)
    abs_d = float(d.max()) if d.size else 0.0
    scale = np.abs(a)
    rel_d = float((d / np.maximum(scale, 1e-12))[scale > 1e-6].max()) if (scale > 1e-6).any() else 0.0
    ok = bool(np.all(d <= opts.atol + opts.rtol * scale)) and bool(np.all(np.isfinite(b)))
    out(f"verify: {VERIFY_BATCH} synthetic inputs, max abs diff {abs_d:.1e}, max rel diff {rel_d:.1e} "
        f"(atol {opts.atol:g}{f', rtol {opts.rtol:g}' if opts.rtol else ''}) — {'ok' if ok else 'MISMATCH'}")
    return EXIT_OK if ok else EXIT_MISMATCH


# --------------------------------------------------------------------------- directions


def _keras_to_torch(opts: Options, out) -> int:
    where = os.path.basename(opts.src)
    if opts.out:
        _check_writable(opts.out, opts.force)
    with tempfile.TemporaryDirectory(prefix="tfpt-convert-") as workdir:
        try:
            with open_keras_file(opts.src, trust=opts.trust) as ckpt:
                ir, constants, emitted = _architecture(ckpt.config, opts, where)
                emitted = _emit(ir, where, opts.flatten, emitted)
                module_job = _module_job(opts, emitted, ir, constants)
                # the shapes the weights must take: the spec rows know them for the emitted module;
                # the user's module (or a size tfpt cannot compute) is asked in a torch worker
                target = None if opts.module else spec_target(emitted)
                if target is None and (opts.out or opts.module):
                    target = _describe(module_job, workdir)
                rows, planned = plan_to_torch(_in_model_order(ckpt, ir, not opts.keras), emitted, target)
                if opts.explain:
                    print_table(rows, out)
                if not opts.out:
                    return EXIT_OK
                write_state(opts.out, planned, _metadata(where))
        except CheckpointError as e:
            raise ConvertError(str(e)) from None
        total = sum(int(np.prod(p.shape)) for p in planned)
        out(f"wrote {opts.out}: {len(planned)} tensors, {total:,} values"
            + ("" if opts.module else f" (for class {ir.class_name} as `tfpt translate` emits it)"))
        if not opts.verify:
            return EXIT_OK
        keras_job = {"file": os.path.abspath(opts.src), "trust": opts.trust}
        if ckpt.format == "weights.h5":
            keras_job = {"model_source": _keras_model_source(ir, constants), "weights": os.path.abspath(opts.src)}
        status = _verify(keras_job, {**module_job, "state": os.path.abspath(opts.out)}, opts, workdir, out)
        if status == EXIT_MISMATCH and opts.module and opts.flatten == "channels-last" and flattened_dense(ir):
            out("hint: a Dense follows a Flatten of convolution features; if your module flattens NCHW tensors "
                "(x.flatten(1) without permuting back), pass --flatten channels-first")
        return status


def _keras_model_source(ir: ModelIR, constants: dict) -> str:
    from .keras_source import ConcreteValueError, model_expr

    try:
        return model_expr(ir, constants)
    except ConcreteValueError as e:
        raise ConvertError(f"cannot rebuild the Keras model: {e}") from None


def _torch_to_keras(opts: Options, out) -> int:
    where = os.path.basename(opts.src)
    if not opts.keras:
        raise ConvertError(f"{where}: a state dict holds no architecture: pass --keras model.py "
                           "(the Keras source) or --keras model.keras")
    if opts.out:
        _check_writable(opts.out, opts.force)
    try:
        state, note = read_state_file(opts.src, trust_pickle=opts.trust_pickle)
    except StateFileError as e:
        raise ConvertError(str(e)) from None
    if note:
        out(f"{where}: using {note}")
    ir, constants, emitted = _architecture_from(opts.keras, opts)
    emitted = _emit(ir, os.path.basename(opts.keras), opts.flatten, emitted)
    torch_side = [(attr, rules) for attr, rules in emitted.weights if rules]
    groups = _parameter_groups(state, torch_side)
    if len(groups) != len(torch_side):
        raise ConvertError(f"{where}: the state dict has {len(groups)} modules with parameters "
                           f"[{', '.join(p for p, _ in groups)}] but the Keras model {len(torch_side)} layers "
                           f"with weights [{', '.join(a for a, _ in torch_side)}]")
    per_layer, arrays, rows = [], {}, []
    for (prefix, _), (attr, rules) in zip(groups, torch_side):
        sub = {k[len(prefix) + 1:]: v for k, v in state.items() if k.startswith(prefix + ".")}
        try:
            pairs = transfer.torch_to_keras(sub, rules, where=f"{where}: {prefix!r}")
        except ValueError as e:
            raise ConvertError(str(e)) from None
        keys = []
        for k, (name, a) in enumerate(pairs):
            key = f"{attr}.{k}"
            arrays[key] = a
            keys.append(key)
        per_layer.append(keys)
        at = 0
        for r in rules:
            keras_shape = tuple(pairs[at][1].shape)
            at += len(r.keras)
            rows.append(Row(" + ".join(f"{attr}/{k}" for k in r.keras), keras_shape, r.transform.describe() + ", inverted",
                            " + ".join(f"{prefix}.{t}" for t in r.torch), tuple(np.shape(sub[r.torch[0]]))))
    if opts.explain:
        print_table(rows, out)
    if not opts.out:
        return EXIT_OK
    suffix = _suffix(opts.out)
    if suffix not in (".weights.h5", ".keras"):
        raise ConvertError(f"{opts.out}: Keras output must be .weights.h5 or .keras")
    model_source = _keras_model_source(ir, constants)
    with tempfile.TemporaryDirectory(prefix="tfpt-convert-") as workdir:
        npz = os.path.join(workdir, "weights.npz")
        np.savez(npz, **arrays)
        with atomic_output(opts.out) as tmp:
            try:
                _worker("keras-write", {"model_source": model_source, "weights_npz": npz, "layers": per_layer,
                                        "names": [attr for attr, _ in torch_side]}, tmp)
            except _WorkerError as e:
                raise ConvertError(f"{opts.out}: {e}") from None
        out(f"wrote {opts.out}: {len(per_layer)} Keras layers with weights")
        if not opts.verify:
            return EXIT_OK
        keras_job = ({"model_source": model_source, "weights": os.path.abspath(opts.out)} if suffix == ".weights.h5"
                     else {"file": os.path.abspath(opts.out)})
        module_job = _module_job(opts, emitted, ir, constants)
        torch_job = {**module_job, "state": os.path.abspath(opts.src), "trust_pickle": opts.trust_pickle}
        if not opts.module:  # the user's keys may name the modules differently: map them onto the emitted ones
            torch_job["rename"] = {f"{p}.{leaf}": f"{a}.{leaf}" for (p, leaves), (a, _) in zip(groups, torch_side)
                                   for leaf in leaves}
        return _verify(keras_job, torch_job, opts, workdir, out)


def _via_onnx(opts: Options, out) -> int:
    from . import onnx_route

    if not opts.out:
        raise ConvertError("the ONNX route needs -o OUT.pt2 or -o OUT.onnx")
    _check_writable(opts.out, opts.force)
    with atomic_output(opts.out) as tmp:
        try:
            if _suffix(opts.out) == ".onnx":
                onnx_route.keras_to_onnx(Path(opts.src), Path(tmp), trust=opts.trust)
            else:
                onnx_route.keras_to_torch_via_onnx(Path(opts.src), Path(tmp), trust=opts.trust,
                                                   keep_onnx=Path(opts.keep_onnx) if opts.keep_onnx else None)
        except onnx_route.OnnxRouteError as e:
            raise ConvertError(str(e)) from None
    out(f"wrote {opts.out} (through ONNX)")
    if not opts.verify:
        return EXIT_OK
    with tempfile.TemporaryDirectory(prefix="tfpt-convert-") as workdir:
        kind = "onnx" if _suffix(opts.out) == ".onnx" else "program"
        return _verify({"file": os.path.abspath(opts.src), "trust": opts.trust},
                       {kind: os.path.abspath(opts.out)}, opts, workdir, out)


def _torch_to_onnx(opts: Options, out) -> int:
    """A torch module (``--module``) with this state dict -> ``.onnx``, checked with onnxruntime."""
    from . import onnx_route

    if not opts.module or not opts.input_shape:
        raise ConvertError("torch -> ONNX needs --module FILE.py:CLASS and --input-shape (e.g. 1,28,28,1)")
    _check_writable(opts.out, opts.force)
    module_job = _module_job(opts, None, None, {})
    with atomic_output(opts.out) as tmp:
        try:
            onnx_route.torch_to_onnx(Path(module_job["module_file"]), module_job["class_name"], Path(opts.src),
                                     Path(tmp), opts.input_shape)
        except onnx_route.OnnxRouteError as e:
            raise ConvertError(str(e)) from None
    out(f"wrote {opts.out}")
    if not opts.verify:
        return EXIT_OK
    with tempfile.TemporaryDirectory(prefix="tfpt-convert-") as workdir:
        inputs = os.path.join(workdir, "inputs.npz")
        shape = (VERIFY_BATCH, *opts.input_shape[1:])
        np.savez(inputs, x=np.random.default_rng(0).standard_normal(shape).astype(np.float32))
        ref, got = os.path.join(workdir, "torch.npz"), os.path.join(workdir, "onnx.npz")
        try:
            _worker("torch-run", {**module_job, "state": os.path.abspath(opts.src), "inputs": inputs,
                                  "trust_pickle": opts.trust_pickle}, ref)
            _worker("torch-run", {"onnx": os.path.abspath(opts.out), "inputs": inputs}, got)
        except _WorkerError as e:
            out(f"verify: FAILED ({e})")
            return EXIT_MISMATCH
        with np.load(ref) as a, np.load(got) as b:
            return _compare(a["y"], b["y"], opts, out, ("torch", "onnxruntime"))


def convert(opts: Options, out: Callable[[str], None] = print) -> int:
    """Run one conversion; returns the exit status (0 ok, 1 verification failed, 2 bad input)."""
    if not os.path.isfile(opts.src):
        raise ConvertError(f"{opts.src}: no such file")
    if opts.flatten not in ("channels-last", "channels-first"):
        raise ConvertError(f"--flatten {opts.flatten}: expected channels-last or channels-first")
    if opts.flatten == "channels-first" and not opts.module:
        raise ConvertError("--flatten channels-first describes your own module: give it with --module")
    if opts.out and os.path.abspath(opts.out) == os.path.abspath(opts.src):
        raise ConvertError(f"{opts.out}: the output would overwrite the input")
    src_suffix = _suffix(opts.src)
    if not opts.out and not opts.explain:  # the default: beside the source, safetensors for torch
        if not (_is_keras(opts.src) or src_suffix in STATE_SUFFIXES):
            raise ConvertError(f"{opts.src}: unknown checkpoint type (expected .keras, .h5, .weights.h5, "
                               ".safetensors or .pt)")
        stem = opts.src[: len(opts.src) - len(src_suffix)]
        opts = dataclasses.replace(opts, out=stem + (".safetensors" if _is_keras(opts.src) else ".weights.h5"))
    out_suffix = _suffix(opts.out) if opts.out else None
    if _is_keras(opts.src):
        if out_suffix in ONNX_SUFFIXES:
            return _via_onnx(opts, out)
        if out_suffix not in (None, *STATE_SUFFIXES):
            raise ConvertError(f"{opts.out}: from a Keras file tfpt writes .safetensors, .pt, .pt2 or .onnx")
        return _keras_to_torch(opts, out)
    if src_suffix in STATE_SUFFIXES:
        if out_suffix == ".onnx":
            return _torch_to_onnx(opts, out)
        return _torch_to_keras(opts, out)
    raise ConvertError(f"{opts.src}: unknown checkpoint type (expected .keras, .h5, .weights.h5, "
                       ".safetensors or .pt)")


__all__ = ["ConvertError", "Options", "convert", "plan_to_torch", "print_table", "EXIT_OK", "EXIT_MISMATCH",
           "EXIT_BAD_INPUT"]
