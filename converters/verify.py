"""``tfpt verify``: prove a translation numerically. Imports neither TensorFlow nor torch.

For every model tfpt translated in a file: rebuild it in Keras (from the IR, with
concrete values), run seeded synthetic inputs through it, move its weights into the
translated ``nn.Module`` with ``converters.transfer`` and run the same inputs there.
Each framework runs in its own worker process (``converters.verify_worker``). With
``train_steps`` both sides also train on the same ``train_steps`` unshuffled batches
through their real training loops: one epoch of Keras' ``model.fit`` (compiled as the
script compiles it) against one epoch of the translated ``fit`` (the translated compile
lines and runtime helpers), dropout off on both; the epoch losses are compared and the
trained models are compared again on the first inputs.

Exit status: 0 when every verified model agrees within tolerance, 1 when one does not
(or a worker failed), 2 for bad input (unreadable file, syntax error, nothing that
can be verified).
"""

from __future__ import annotations

import ast
import builtins
import json
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from typing import Callable

import libcst as cst
import numpy as np

from translator.diagnostics import InputError
from translator.files import read_source
from translator.evaluate import code, evaluate, names_read
from translator.runtime import select
from translator.spec.values import UNKNOWN
from translator.translate import translate_source

from . import transfer
from .workers import worker_env
from .keras_source import ConcreteValueError, concrete, input_shapes, model_script

#: float32 forward outputs must agree to this (absolute)
FORWARD_ABS_TOL = 1e-5
#: per-step training losses must agree to this (relative)
LOSS_REL_TOL = 1e-4
#: after training, eval-mode outputs must agree to this (absolute, times the output scale
#: when that is above 1). Looser than the forward check: the optimizers' documented epsilon
#: placement (Adam, RMSprop) and torch BatchNorm's unbiased running variance move the
#: trained weights by ~1e-4 in N steps; a wrong BatchNorm momentum moves them by ~1e-1.
TRAINED_ABS_TOL = 1e-3
BATCH = 8
SEED = 0
#: a free (None) input axis gets this length in the synthetic inputs
FREE_AXIS = 6

EXIT_OK, EXIT_MISMATCH, EXIT_BAD_INPUT = 0, 1, 2

_FRAMEWORK_ROOTS = {"tensorflow", "keras", "tf_keras", "numpy", "math"}
_TORCH_PRELUDE = ["import math", "import types", "import numpy as np", "import torch", "from torch import nn",
                  "import torch.nn.functional as F"]


@dataclass
class _Job:
    key: str
    label: str
    model: object
    keras: dict
    torch: dict
    notes: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- reading the script


def _binding_counts(module: cst.Module) -> dict[str, int]:
    """How often each module-level name is bound (function and class bodies excluded)."""
    counts: dict[str, int] = {}

    def bind(target) -> None:
        if isinstance(target, cst.Name):
            counts[target.value] = counts.get(target.value, 0) + 1
        elif isinstance(target, (cst.Tuple, cst.List)):
            for el in target.elements:
                bind(el.value)
        elif isinstance(target, cst.StarredElement):
            bind(target.value)

    class Counter(cst.CSTVisitor):
        def visit_FunctionDef(self, node):
            bind(node.name)
            return False

        def visit_ClassDef(self, node):
            bind(node.name)
            return False

        def visit_AssignTarget(self, node):
            bind(node.target)

        def visit_AnnAssign(self, node):
            bind(node.target)

        def visit_AugAssign(self, node):
            bind(node.target)
            bind(node.target)

        def visit_For(self, node):
            bind(node.target)
            bind(node.target)

        def visit_AsName(self, node):
            bind(node.name)

        def visit_NamedExpr(self, node):
            bind(node.target)

    module.visit(Counter())
    return counts


def module_constants(module: cst.Module) -> dict[str, object]:
    """Module-level names bound once to a static value, tuple unpacking included.

    (``vocab_size, seq_len = 500, 30``: the translator's evaluator leaves these unknown;
    the proof needs their numbers.)
    """
    counts = _binding_counts(module)
    values: dict[str, object] = {}
    for stmt in module.body:
        if not isinstance(stmt, cst.SimpleStatementLine):
            continue
        for small in stmt.body:
            if not (isinstance(small, cst.Assign) and len(small.targets) == 1):
                continue
            target = small.targets[0].target
            if isinstance(target, cst.Name):
                names = [target]
                v = evaluate(small.value, values)
                v = UNKNOWN if v is UNKNOWN else (v,)
            elif isinstance(target, (cst.Tuple, cst.List)) and all(
                    isinstance(el, cst.Element) and isinstance(el.value, cst.Name) for el in target.elements):
                names = [el.value for el in target.elements]
                v = evaluate(small.value, values)
                if not isinstance(v, (tuple, list)) or len(v) != len(names):
                    v = UNKNOWN
            else:
                continue
            if v is UNKNOWN:
                continue
            for n, item in zip(names, v):
                if counts.get(n.value) == 1:
                    values[n.value] = item
    return values


def _framework_imports(module: cst.Module) -> list[str]:
    """Top-level imports of TensorFlow/Keras (and numpy, math) as written."""
    out = []
    for stmt in module.body:
        if not isinstance(stmt, cst.SimpleStatementLine):
            continue
        for small in stmt.body:
            if isinstance(small, cst.Import):
                roots = {code(a.name).split(".")[0] for a in small.names}
            elif isinstance(small, cst.ImportFrom) and small.module is not None and not small.relative:
                roots = {code(small.module).split(".")[0]}
            else:
                continue
            if roots <= _FRAMEWORK_ROOTS:
                out.append(code(small))
    return out


def _imported_names(imports: list[str]) -> set[str]:
    names = set()
    for line in imports:
        for node in ast.walk(ast.parse(line)):
            if isinstance(node, ast.alias):
                names.add(node.asname or node.name.split(".")[0])
    return names


def _compile_prelude(args_text: str, module: cst.Module, constants: dict, imported: set[str]) -> str:
    """Statements binding the names the compile arguments use (``opt = keras.optimizers.SGD(...)``)."""
    call = cst.parse_expression(f"f(\n{args_text}\n)")
    single: dict[str, cst.Assign] = {}
    counts = _binding_counts(module)
    for stmt in module.body:
        if isinstance(stmt, cst.SimpleStatementLine):
            for small in stmt.body:
                if (isinstance(small, cst.Assign) and len(small.targets) == 1
                        and isinstance(small.targets[0].target, cst.Name)
                        and counts.get(small.targets[0].target.value) == 1):
                    single[small.targets[0].target.value] = small
    lines: list[str] = []
    done: set[str] = set()

    def need(names: list[str], depth: int) -> None:
        for n in names:
            if n in done or n in imported or n in ("f",) or hasattr(builtins, n):
                continue
            done.add(n)
            if n in constants:
                lines.append(f"{n} = {constants[n]!r}")
            elif n in single and depth < 4:
                value = single[n].value
                need(names_read(value), depth + 1)
                lines.append(f"{n} = {code(value)}")
            else:
                raise ConcreteValueError(f"compile() uses {n!r}, which is not a module-level constant or assignment")

    need(names_read(call), 0)
    return "\n".join(lines)


def _class_free_names(source: str) -> set[str]:
    """Globals the emitted class reads (module constants such as ``num_classes``)."""
    tree = ast.parse(source)
    loaded, bound = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (loaded if isinstance(node.ctx, ast.Load) else bound).add(node.id)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            bound.add(node.name)
    return {n for n in loaded - bound if not hasattr(builtins, n)}


def _loss_name(lines: list[str], var: str) -> str | None:
    for line in lines:
        m = re.fullmatch(rf"{re.escape(var)}\.loss_fn\s*=\s*(\w+)", line.strip())
        if m:
            return m.group(1)
    return None


# --------------------------------------------------------------------------- comparing


def _diff(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"output shapes differ: Keras {a.shape}, torch {b.shape}")
    d = np.abs(a - b)
    scale = np.maximum(np.abs(a), np.abs(b))
    significant = scale > 1e-6
    rel = float(np.max(d[significant] / scale[significant])) if significant.any() else 0.0
    return float(np.max(d)) if d.size else 0.0, rel


def _verdict(ok: bool) -> str:
    return "ok" if ok else "MISMATCH"


# --------------------------------------------------------------------------- the engine


def _plan(result, module: cst.Module, train_steps: int, out) -> tuple[list[_Job], list[str]]:
    constants = module_constants(module)
    imports = _framework_imports(module)
    imported = _imported_names(imports)
    jobs: list[_Job] = []
    single_compile = len(result.models) == 1 and len(result.compiles) == 1
    for n, model in enumerate(result.models):
        emitted = result.emitted[model.class_name]
        label = f"model {model.var or model.class_name!r} (class {model.class_name})"
        try:
            if model.subclass is not None:
                script = _subclass_script(model, imports, imported, constants)
            else:
                script = _keras_classes(model, imports, imported, constants) + model_script(model, constants)
            shapes = input_shapes(model, constants)
            free = _class_free_names(_with_submodels(result, model)) - {"math", "types", "np", "torch", "nn", "F"}
            unknown = sorted(f for f in free if f not in constants)
            if unknown:
                raise ConcreteValueError(f"the class reads {', '.join(unknown)}, which has no static value")
            inputs = _input_specs(model, shapes, constants)
        except ConcreteValueError as e:
            out(f"{label}: skipped — {e}")
            continue
        notes = []
        if any(d is None for shape in shapes for d in shape):
            notes.append(f"free input axes set to {FREE_AXIS}")
            for spec in inputs:
                spec["shape"] = [FREE_AXIS if d is None else d for d in spec["shape"]]
        key = f"m{n}"
        keras_spec = {"key": key, "script": script, "inputs": inputs, "compile": None, "compile_prelude": "",
                      "loss": None}
        if _has_subclass(model):  # the source's own classes: their layers pair with torch's by attribute
            keras_spec["attrs"] = _layer_paths(model)
        torch_spec = {"key": key, "class_name": model.class_name, "class_source": _with_submodels(result, model),
                      "ctor": _constructor(model),
                      "rules": transfer.rules_to_json(emitted.weights), "var": model.var or "model",
                      "compile_lines": None}
        single = model.graph is None or (len(model.graph.inputs) == 1 and not model.graph.multi_output)
        if train_steps and not single:
            notes.append("training skipped: several inputs or outputs (forward compared only)")
        if train_steps and single:
            var = model.var if model.var in result.compiles else (
                next(iter(result.compiles)) if single_compile else None)
            keras_args = result.keras_compiles.get(var) if var else None
            if var is None or keras_args is None:
                notes.append("training skipped: no translated compile() for this model")
            else:
                try:
                    keras_spec["compile_prelude"] = _compile_prelude(keras_args, module, constants, imported)
                except ConcreteValueError as e:
                    notes.append(f"training skipped: {e}")
                else:
                    keras_spec["compile"] = keras_args
                    keras_spec["loss"] = _loss_name(result.compiles[var], var)
                    torch_spec["compile_lines"] = result.compiles[var]
                    torch_spec["var"] = var
        jobs.append(_Job(key, label, model, keras_spec, torch_spec, notes))
    return jobs, imports


def _input_specs(model, shapes, constants) -> list[dict]:
    """Per input: shape, and whether it holds integer ids (an Embedding reads it) up to which bound."""
    specs = []
    if model.graph is None:
        first = model.layers[0] if model.layers else None
        readers = [first] if first is not None else []
        dtypes = [None]
    else:
        readers = []
        for tid, _hint, _t in model.graph.inputs:
            node = next((n for n in model.graph.nodes if tid in n.inputs), None)
            readers.append(model.layers[node.layer] if node is not None and node.layer is not None else None)
        dtypes = model.graph.input_dtypes or [None] * len(shapes)
    for shape, reader, dtype in zip(shapes, readers or [None], dtypes):
        kind, high = "float", None
        if reader is not None and reader.spec.keras == "Embedding":
            v = reader.args.given["input_dim"]
            kind, high = "int", concrete(v.text, v.value, constants, "Embedding(input_dim=...)")
        elif dtype and str(dtype).startswith(("int", "uint")):
            kind, high = "int", 10
        specs.append({"shape": list(shape), "kind": kind, "high": high})
    return specs


def _layer_paths(model, prefix: str = "", keras_prefix: str = "") -> list[list[str]]:
    """(torch name, Keras attribute path) of a subclassed model's layers, blocks' layers included
    (``block1.conv1``); a Sequential's layers are reached by position (``ffn.0``)."""
    sequential = model.subclass is None and model.graph is None
    paths = [[prefix + layer.attr, keras_prefix + (str(i) if sequential else layer.attr)]
             for i, layer in enumerate(model.layers)]
    for attr, inner in model.submodels.items():
        paths += _layer_paths(inner, f"{prefix}{attr}.", f"{keras_prefix}{attr}.")
    return paths


def _has_subclass(model) -> bool:
    return model.subclass is not None or any(_has_subclass(m) for m in model.submodels.values())


def _keras_classes(model, imports: list[str], imported: set[str], constants: dict) -> str:
    """Imports, constants and the source's classes a Functional model's custom blocks need ("" if none)."""
    classes = []

    def collect(m):
        for inner in m.submodels.values():
            if inner.subclass is not None and inner.subclass.keras_class not in classes:
                classes.append(inner.subclass.keras_class)
            collect(inner)

    collect(model)
    if not classes:
        return ""
    source = "\n\n".join(classes)
    free = _class_free_names(source) - imported - {"super"}
    unknown = sorted(f for f in free if f not in constants)
    if unknown:
        raise ConcreteValueError(f"the classes read {', '.join(unknown)}, which has no static value")
    return "\n".join([*imports, *(f"{n} = {constants[n]!r}" for n in sorted(free)), source]) + "\n"


def _subclass_script(model, imports: list[str], imported: set[str], constants: dict) -> str:
    """The source's own subclass, built like the program builds it (the script binds ``model``)."""
    sub = model.subclass
    if sub.ctor_args == "?":
        raise ConcreteValueError("the model's constructor arguments are not static")
    free = _class_free_names(sub.keras_class) - imported - {"super"}
    unknown = sorted(f for f in free if f not in constants)
    if unknown:
        raise ConcreteValueError(f"the class reads {', '.join(unknown)}, which has no static value")
    lines = [*imports, *(f"{n} = {constants[n]!r}" for n in sorted(free)), sub.keras_class,
             f"model = {model.class_name}({sub.ctor_args})",
             f"model.build({(None, *sub.input_shape)!r})"]
    return "\n".join(lines) + "\n"


def _constructor(model) -> str:
    """``Outer(encoder=Encoder())``: a nested model is passed in, as the translated script does."""
    if model.subclass is not None:
        return f"{model.class_name}({model.subclass.ctor_args})"
    return f"{model.class_name}({', '.join(f'{k}={_constructor(v)}' for k, v in model.submodels.items() if v.subclass is None)})"


def _with_submodels(result, model) -> str:
    """The class source preceded by the classes of the models it nests (innermost first)."""
    parts = []
    for inner in model.submodels.values():
        parts.append(_with_submodels(result, inner))
    parts.append(result.emitted[model.class_name].source)
    return "\n\n".join(parts)


def _run_worker(side: str, job: dict, workdir: str) -> tuple[dict, dict, str | None]:
    job_path = os.path.join(workdir, f"{side}.json")
    out_path = os.path.join(workdir, f"{side}.npz")
    with open(job_path, "w", encoding="utf-8") as f:
        json.dump(job, f)
    env = worker_env()
    proc = subprocess.run([sys.executable, "-m", "converters.verify_worker", side, job_path, out_path],
                          cwd=workdir, env=env, capture_output=True, text=True)
    if proc.returncode != 0 or not os.path.exists(out_path):
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:])
        return {}, {}, f"the {side} worker failed (exit {proc.returncode}):\n{tail}"
    with np.load(out_path, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files if k != "__meta__"}
        meta = json.loads(str(data["__meta__"]))
    return arrays, meta, None


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.rstrip().splitlines())


def verify_file(path: str, train_steps: int = 0, out: Callable[[str], None] = print) -> int:
    """Verify every translated model in ``path``; returns the exit status (0, 1 or 2)."""
    if train_steps < 0:
        out("tfpt verify: --train-steps must be 0 or more")
        return EXIT_BAD_INPUT
    try:
        source = read_source(path)
        result = translate_source(source, path)
        module = cst.parse_module(source)
    except InputError as e:
        out(f"tfpt verify: {e}")
        return EXIT_BAD_INPUT
    if not result.models:
        out(f"tfpt verify: {path}: no translated Keras model to verify")
        return EXIT_BAD_INPUT
    jobs, imports = _plan(result, module, train_steps, out)
    if not jobs:
        out(f"tfpt verify: {path}: no model could be verified")
        return EXIT_BAD_INPUT

    keras_job = {"seed": SEED, "batch": BATCH, "train_steps": train_steps, "prelude": "\n".join(imports),
                 "models": [j.keras for j in jobs]}
    helpers = ""
    # training goes through the translated loop itself: the runtime's fit
    names = (result.helpers | ({"fit"} if train_steps else set())) & select.available()
    if train_steps and names:
        helpers = select.helpers_source(names)[0]
    constants = module_constants(module)
    bound = sorted({n for j in jobs for n in _class_free_names(j.torch["class_source"]) if n in constants})
    torch_prelude = "\n".join(_TORCH_PRELUDE + [f"{n} = {constants[n]!r}" for n in bound]) + "\n\n" + helpers

    with tempfile.TemporaryDirectory(prefix="tfpt-verify-") as workdir:
        k_arrays, k_meta, k_err = _run_worker("keras", keras_job, workdir)
        if k_err:
            out(f"tfpt verify: {path}: {k_err}")
            return EXIT_MISMATCH
        torch_job = {"seed": SEED, "prelude": torch_prelude, "keras_npz": os.path.join(workdir, "keras.npz"),
                     "models": [j.torch for j in jobs]}
        t_arrays, t_meta, t_err = _run_worker("torch", torch_job, workdir)
        if t_err:
            out(f"tfpt verify: {path}: {t_err}")
            return EXIT_MISMATCH

    all_ok = True
    for j in jobs:
        all_ok &= _report(j, train_steps, k_arrays, k_meta.get(j.key, {}), t_arrays, t_meta.get(j.key, {}), out)
    return EXIT_OK if all_ok else EXIT_MISMATCH


def _report(j: _Job, train_steps: int, k_arrays, k_info, t_arrays, t_info, out) -> bool:
    for side, info in (("Keras", k_info), ("torch", t_info)):
        if "error" in info:
            out(f"{j.label}: FAILED on the {side} side:\n{_indent(info['error'])}")
            return False
    outputs = sorted((k for k in k_arrays if k.startswith(f"{j.key}.y.")), key=lambda k: int(k.rsplit(".", 1)[1]))
    if len(outputs) != len([k for k in t_arrays if k.startswith(f"{j.key}.y.")]):
        out(f"{j.label}: forward: Keras gives {len(outputs)} outputs, torch "
            f"{len([k for k in t_arrays if k.startswith(f'{j.key}.y.')])} — MISMATCH")
        return False
    abs_d = rel_d = 0.0
    try:
        for k in outputs:
            a, r = _diff(k_arrays[k], t_arrays[k])
            abs_d, rel_d = max(abs_d, a), max(rel_d, r)
    except ValueError as e:
        out(f"{j.label}: forward {e} — MISMATCH")
        return False
    ok = abs_d <= FORWARD_ABS_TOL
    out(f"{j.label}: forward max abs {abs_d:.1e}, max rel {rel_d:.1e} — {_verdict(ok)}")
    for note in j.notes:
        out(f"  {note}")
    if not train_steps or f"{j.key}.loss" not in k_arrays:
        return ok
    if f"{j.key}.loss" not in t_arrays:
        out("  training: the torch side did not train — MISMATCH")
        return False
    dropouts = max(k_info.get("dropout", 0), t_info.get("dropout", 0))
    if dropouts:
        out(f"  dropout rate set to 0 on both sides ({dropouts} layer{'s' if dropouts > 1 else ''}) for the training comparison")
    lk, lt = k_arrays[f"{j.key}.loss"], t_arrays[f"{j.key}.loss"]
    rel = float(np.max(np.abs(lk - lt) / np.maximum(np.abs(lk), 1e-12)))
    loss_ok = bool(np.all(np.isfinite(lt))) and rel <= LOSS_REL_TOL
    out(f"  training {train_steps} steps (one fit epoch on each side): mean loss keras {lk[-1]:.4f} "
        f"torch {lt[-1]:.4f}, rel {rel:.1e} — {_verdict(loss_ok)}")
    if not loss_ok:
        out(f"    epoch losses: keras [{', '.join(f'{v:.7g}' for v in lk)}], torch [{', '.join(f'{v:.7g}' for v in lt)}]")
    f_abs, f_rel = _diff(k_arrays[f"{j.key}.final"], t_arrays[f"{j.key}.final"])
    scale = max(1.0, float(np.max(np.abs(k_arrays[f"{j.key}.final"]), initial=0.0)))
    final_ok = f_abs <= TRAINED_ABS_TOL * scale
    out(f"  after training: forward max abs {f_abs:.1e}, max rel {f_rel:.1e} — {_verdict(final_ok)}")
    return ok and loss_ok and final_ok


__all__ = ["verify_file", "module_constants", "FORWARD_ABS_TOL", "LOSS_REL_TOL", "TRAINED_ABS_TOL"]
