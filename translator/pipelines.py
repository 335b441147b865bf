"""tf.data pipelines -> torch.utils.data (``spec/callbacks.py`` holds the method table).

``tf.data.Dataset.from_tensor_slices((x, y)).shuffle(n).batch(b).prefetch(k)`` becomes
``torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.as_tensor(x),
torch.as_tensor(y)), batch_size=b, shuffle=True)``: before ``batch`` a pipeline is a torch
``Dataset`` (``map`` wraps it in the runtime's ``MapDataset``), ``batch`` makes the
``DataLoader`` (with the ``shuffle`` and ``repeat`` seen before it), ``repeat`` after it
wraps the loader in the runtime's ``Repeat``; ``prefetch`` and ``cache`` go (a DataLoader
reads tensors already in memory). A chain may continue on a variable (``ds =
ds.batch(32)``) or on what a function returned. Anything else stays tf.data with a TODO.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import libcst as cst

from .evaluate import code
from .spec import calls
from .spec.callbacks import AUTOTUNE, DATASET_METHODS, FROM_TENSOR_SLICES

DATASET, LOADER = "dataset", "loader"
#: method arguments the torch code keeps (as written)
_KEPT_ARGS = ("map_func", "batch_size", "drop_remainder", "seed", "count")


@dataclass(frozen=True)
class State:
    """What a pipeline is at some point of its chain."""

    kind: str  # DATASET (elements) or LOADER (batches)
    shuffle: bool = False  # a shuffle waits for the batch that makes the DataLoader
    seed: str | None = None
    repeat: str | None = None  # a repeat (count text, "" for forever) waiting for the batch


class Untranslatable(Exception):
    pass


class Pipelines:
    """Pipeline states by (function, variable) and functions returning pipelines; one per Recogniser."""

    def __init__(self, rec):
        self.rec = rec
        self.vars: dict[tuple[int, str], State] = {}
        self.functions: dict[str, State] = {}

    def state_of(self, node) -> State | None:
        """The pipeline a Name (or a call of a function returning one) holds, if any."""
        if isinstance(node, cst.Name):
            return self.vars.get((id(self.rec.function_of(node)), node.value))
        if isinstance(node, cst.Call) and isinstance(node.func, cst.Name) and self.rec.name(node.func) is None:
            return self.functions.get(node.func.value)
        return None

    def visit(self, node: cst.Call, qualified: str | None) -> None:
        """A call in source order: a chain starts here, or a pipeline is passed along."""
        f = node.func
        if qualified == FROM_TENSOR_SLICES:
            self._chain(node, None)
        elif qualified is None and isinstance(f, cst.Attribute) and self.state_of(f.value) is not None:
            self._chain(node, self.state_of(f.value))
        elif qualified is None and self.state_of(node) is not None:
            self._bind(node, self.state_of(node))

    # ------------------------------------------------------------------ one chain

    def _chain(self, root: cst.Call, start: State | None) -> None:
        """Translate the chain that starts at ``root``: ``from_tensor_slices(...)`` or ``var.method(...)``."""
        rec = self.rec
        ops: list[tuple[str, cst.Call]] = [] if start is None else [(root.func.attr.value, root)]
        top = root
        while True:
            attr, call = rec.parent(top), rec.parent(rec.parent(top))
            if not (isinstance(attr, cst.Attribute) and attr.value is top and isinstance(call, cst.Call)
                    and call.func is attr):
                break
            ops.append((attr.attr.value, call))
            top = call
        rec.consumed.add(id(root.func))
        try:
            state, steps, notes = self._plan(root, start, ops)
        except Untranslatable as e:
            rec.todo(top, "tf.data", str(e))
            rec.consumed.add(id(top))
            return
        stmt, parent = rec.statement_of(top), rec.parent(top)
        target = None
        if isinstance(parent, cst.Assign) and len(parent.targets) == 1 and isinstance(parent.targets[0].target, cst.Name):
            target = parent.targets[0].target.value
        pending = state.kind == DATASET and (state.shuffle or state.repeat is not None)
        if pending and (target is None and not isinstance(parent, cst.Return) or not _straight_line(rec, stmt)):
            rec.todo(top, "tf.data", "shuffle()/repeat() on a dataset that is not batched in straight-line code "
                     "(an if/for/with, or never batched) is not translated: pass shuffle=... to the DataLoader")
            rec.consumed.add(id(top))
            return
        for n in notes:
            rec.todo(top, "tf.data", n, severity="note")
        if target is not None:
            self.vars[(id(rec.function_of(top)), target)] = state
        elif isinstance(parent, cst.Return) and rec.function_of(top) is not None:
            self.functions[rec.function_of(top).name.value] = state
        from_slices = start is None
        text = _render(from_slices, steps, [list(call.args) for _, call in ops], root)
        if not from_slices and text == target and isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1:
            rec.plan.replace_stmt[id(stmt)] = []  # `ds = ds.shuffle(n)`: the DataLoader batch() makes shuffles
            rec.consumed.add(id(stmt))
        else:
            levels = len(ops) - (0 if from_slices else 1)

            indent = _indent_of(rec, stmt)

            def make(updated, levels=levels, steps=steps, from_slices=from_slices, indent=indent):
                chain = [updated]
                for _ in range(levels):
                    chain.append(chain[-1].func.value)
                chain.reverse()  # the root first
                op_calls = chain[1:] if from_slices else chain
                text = _render(from_slices, steps, [list(c.args) for c in op_calls], chain[0], indent)
                expr = cst.parse_expression(text)
                # a call laid out over several lines needs no parentheses around it
                return expr if "\n" in text else expr.with_changes(lpar=updated.lpar, rpar=updated.rpar)

            helpers = [name for name in ("MapDataset", "Repeat") if name + "(" in text]
            rec.plan.replace(top, make, " ".join(["torch", *helpers]), keeps_args=True)
            # what the chain's arguments read stays read (the arrays); the tf.data names go
            rec.plan.dropped.discard(id(top.func))
            rec.plan.dropped.add(id(root.func))
            rec.plan.helpers.update(helpers)
        rec.plan.translated += 1

    def _plan(self, root, start, ops):
        """The state after the chain, the rendering steps, and notes; raises Untranslatable."""
        rec = self.rec
        notes = []
        if start is None:
            _check_slices(rec, root)
            state = State(DATASET)
        else:
            state = start
        steps = []
        for method, call in ops:
            row = DATASET_METHODS.get(method)
            if row is None:
                raise Untranslatable(f"Dataset.{method}() is not translated (tf.data stays here)")
            bound = rec._bound(call, row.params)
            if bound is None:
                raise Untranslatable(f"Dataset.{method}(*args) is not translated")
            for k, v in bound.items():
                if k not in row.params:
                    raise Untranslatable(f"Dataset.{method}({k}=...) is not an argument tfpt knows")
                fixed = row.fixed.get(k)
                if fixed and "*" not in fixed and code(v) not in fixed:
                    raise Untranslatable(f"Dataset.{method}({k}={code(v)}) is not translated")
            for k, v in bound.items():  # buffer sizes, AUTOTUNE, parallelism: nothing of them survives
                if k not in _KEPT_ARGS:
                    rec.consumed.add(id(v))
                    rec.plan.dropped.add(id(v))
            if row.action == "drop":
                steps.append(("drop", None))
            elif row.action == "map":
                if state.kind == LOADER:
                    raise Untranslatable("Dataset.map() after batch() is not translated (a function of whole "
                                         "batches): map before batching")
                fn = bound.get("map_func")
                if fn is None or _framework_refs(rec, fn):
                    raise Untranslatable("Dataset.map() with a function that uses TensorFlow ops is not "
                                         "translated: rewrite it with torch/NumPy")
                steps.append(("map", "map_func"))
            elif row.action == "shuffle":
                if state.kind == LOADER:
                    raise Untranslatable("Dataset.shuffle() after batch() (shuffling whole batches) is not "
                                         "translated")
                buffer = code(bound["buffer_size"]) if "buffer_size" in bound else ""
                if not (buffer.startswith("len(") or buffer.endswith(".shape[0]")):
                    notes.append(f"shuffle({buffer}) becomes DataLoader(shuffle=True): a uniform reshuffle of "
                                 "the whole dataset every epoch (tf.data shuffles within a buffer of that size)")
                seed = code(bound["seed"]) if "seed" in bound and code(bound["seed"]) != "None" else None
                state = replace(state, shuffle=True, seed=seed)
                steps.append(("shuffle", None))
            elif row.action == "repeat":
                count = code(bound["count"]) if "count" in bound and code(bound["count"]) != "None" else ""
                if state.kind == DATASET:
                    notes.append("repeat() before batch(): each pass is batched on its own here (tf.data's "
                                 "batches run across passes)")
                    state = replace(state, repeat=count)
                    steps.append(("drop", None))
                else:
                    steps.append(("repeat", count))
            elif row.action == "batch":
                if state.kind == LOADER:
                    raise Untranslatable("Dataset.batch() of batches is not translated")
                steps.append(("batch", state))
                state = State(LOADER)
        return state, steps, notes

    def constants(self) -> None:
        """``AUTOTUNE = tf.data.AUTOTUNE`` keeps its name (for the code that reads it) without TensorFlow."""
        rec = self.rec
        for ref in rec.refs:
            if rec.name(ref) not in AUTOTUNE or rec.consumed_within(ref):
                continue
            assign, stmt = rec.parent(ref), rec.statement_of(ref)
            if isinstance(assign, cst.Assign) and assign.value is ref and len(assign.targets) == 1 \
                    and isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1:
                target = _code(assign.targets[0].target)
                rec.plan.replace_stmt[id(stmt)] = [f"{target} = -1  # tf.data.AUTOTUNE; the DataLoader has no "
                                                   "such setting"]
                rec.consumed.add(id(stmt))
                rec.plan.translated += 1

    def _bind(self, node: cst.Call, state: State) -> None:
        """``v = make_dataset(...)``: v holds what the function returns."""
        assign = self.rec.parent(node)
        if isinstance(assign, cst.Assign) and len(assign.targets) == 1 and isinstance(assign.targets[0].target, cst.Name):
            self.vars[(id(self.rec.function_of(node)), assign.targets[0].target.value)] = state


def _straight_line(rec, stmt) -> bool:
    """A statement of the module or of a function body itself (not inside an if/for/with/try)."""
    return isinstance(rec.parent(stmt), cst.Module) or isinstance(rec.parent(rec.parent(stmt)), cst.FunctionDef)


def _check_slices(rec, root: cst.Call) -> None:
    if len(root.args) != 1 or root.args[0].star or (root.args[0].keyword and root.args[0].keyword.value != "tensors"):
        raise Untranslatable("Dataset.from_tensor_slices() needs one argument")
    data = root.args[0].value
    if isinstance(data, cst.Dict):
        raise Untranslatable("Dataset.from_tensor_slices() of a dict is not translated yet")
    for el in data.elements if isinstance(data, (cst.Tuple, cst.List)) else [cst.Element(data)]:
        if isinstance(el, cst.StarredElement) or isinstance(el.value, (cst.Tuple, cst.List, cst.Dict)):
            raise Untranslatable("Dataset.from_tensor_slices() of nested structures (several inputs, dicts) is not "
                                 "translated yet: only (x, y) or (x, y, sample_weight) arrays")
        if _framework_refs(rec, el.value, allow_utilities=True):
            raise Untranslatable("Dataset.from_tensor_slices() of TensorFlow tensors is not translated: pass "
                                 "NumPy arrays")


def _framework_refs(rec, node, allow_utilities=False) -> bool:
    """Whether ``node`` reads TensorFlow/Keras names other than the utilities tfpt translates."""
    for ref in rec.refs:
        q = rec.name(ref)
        if q is None or (allow_utilities and q in calls.UTILITIES):
            continue
        n = ref
        while n is not None and n is not node:
            n = rec.parent(n)
        if n is node:
            return True
    return False


def _arg(args: list[cst.Arg], params: tuple[str, ...], name: str):
    for i, a in enumerate(args):
        if (a.keyword is None and i < len(params) and params[i] == name) or (a.keyword and a.keyword.value == name):
            return _code(a.value)
    return None


def _indent_of(rec, stmt) -> str:
    depth, node = 0, stmt
    while node is not None:
        depth += isinstance(node, cst.IndentedBlock)
        node = rec.parent(node)
    return "    " * depth


def _render(from_slices: bool, steps, op_args: list[list[cst.Arg]], root: cst.Call, indent: str | None = None) -> str:
    """The torch expression for a chain; ``op_args`` are the (updated) arguments of each method call.

    With ``indent`` (the statement's), a long DataLoader call puts its dataset and its
    options on lines of their own.
    """
    if from_slices:
        data = root.args[0].value
        parts = [el.value for el in data.elements] if isinstance(data, (cst.Tuple, cst.List)) else [data]
        expr = "torch.utils.data.TensorDataset({})".format(", ".join(f"torch.as_tensor({_code(p)})" for p in parts))
        if not isinstance(data, (cst.Tuple, cst.List)) and not any(kind == "map" for kind, _ in steps):
            # one array: the tensor is the dataset, so batches are tensors as tf.data yields them
            # (a TensorDataset's would be 1-element lists)
            expr = f"torch.as_tensor({_code(data)})"
    else:
        expr = _code(root.func.value)
    for (kind, info), args in zip(steps, op_args):
        if kind == "map":
            expr = f"MapDataset({expr}, {_arg(args, DATASET_METHODS['map'].params, 'map_func')})"
        elif kind == "repeat":
            expr = f"Repeat({expr}{', ' + info if info else ''})"
        elif kind == "batch":
            params = DATASET_METHODS["batch"].params
            kwargs = [f"batch_size={_arg(args, params, 'batch_size')}"]
            if info.shuffle:
                kwargs.append("shuffle=True")
            drop = _arg(args, params, "drop_remainder")
            if drop not in (None, "False"):
                kwargs.append(f"drop_last={drop}")
            if info.seed:
                kwargs.append(f"generator=torch.Generator().manual_seed({info.seed})")
            one_line = f"torch.utils.data.DataLoader({expr}, {', '.join(kwargs)})"
            if indent is not None and len(one_line) + len(indent) > 100 and info.repeat is None:
                # LibCST indents the continuation lines by the statement's own indentation
                expr = f"torch.utils.data.DataLoader(\n    {expr},\n    {', '.join(kwargs)},\n)"
            else:
                expr = one_line
            if info.repeat is not None:
                expr = f"Repeat({expr}{', ' + info.repeat if info.repeat else ''})"
    return expr


def _code(node) -> str:
    return cst.Module([]).code_for_node(node)
