"""TF2 custom training code -> PyTorch: GradientTape steps, ``@tf.function``, loss objects, model modes.

Keras' custom loops (the DCGAN tutorial, "writing a training loop from scratch") become
the loops a PyTorch user writes:

- ``with tf.GradientTape() as tape:`` (several tapes, ``persistent=True``) is unwrapped:
  torch records autograd whenever parameters take part.
- A function taking one gradient gets ``optimizer.zero_grad()`` and ``loss.backward()`` at
  the ``tape.gradient`` line and ``optimizer.step()`` at ``apply_gradients``. A function
  taking several (a GAN: the generator's and the discriminator's losses share one forward
  pass) gets ``torch.autograd.grad(loss, model.parameters(), retain_graph=True)`` (not on
  the last) and ``param.grad = grad`` before ``step()``: TF computes every gradient before
  applying any, and stepping one model before the other's backward would fail in torch
  (parameters changed in place) or give other numbers.
- An optimizer used only through ``apply_gradients`` on one model is built over that
  model's parameters (``spec/training.py``'s rows, Keras' defaults kept); a loss object
  becomes the runtime's loss function, called ``(prediction, target)``.
- ``model(x, training=True/False)`` drops the keyword: ``model.train()`` / ``model.eval()``
  goes before the statement where the mode changes. Without ``training`` Keras runs a
  model in inference mode: a model with Dropout or BatchNorm gets ``eval()`` there too.
- TF ops go through ``spec/tf1_ops.py``; ``@tf.function`` is dropped.
- A Keras metric object (``train_loss = keras.metrics.Mean(name="train_loss")``) becomes the
  runtime's class of the same name (``spec/metrics.py``): calls, ``update_state``, ``result``,
  ``reset_state`` and ``.name`` read the same; metrics of a prediction and a target take
  ``(y_pred, y_true)``, like the losses. ``keras.metrics.Mean()(x)`` (built and called at once) too.
- ``tf.newaxis`` (``spec/tf1_ops.py``'s constants) is ``None``, in any script.

Model calls are translated only where the input is known to be a torch tensor (a TF op,
a model's output, a batch of a translated ``tf.data`` pipeline, a parameter every caller
passes one); anything else, and anything not exact, gets a TODO at its line.
``translate(recogniser)`` is the entry point (``Recogniser.run``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import libcst as cst

from .evaluate import blocks, code, evaluate, names_read, target_names
from .spec import calls, metrics, tf1_ops, training
from .spec.tf1_ops import UNKNOWN, Unsupported

TAPE = "tf.GradientTape"
TF_FUNCTION = "tf.function"
#: Keras model attributes listing variables; only the two training ones have a torch counterpart
_VARIABLE_ATTRS = ("trainable_variables", "trainable_weights")
_OTHER_VARIABLE_ATTRS = ("non_trainable_variables", "non_trainable_weights", "variables")
#: TF2 positional orders that differ from the TF1 rows after this many arguments
_TF2_POSITIONAL = {"tf.argmax": 2, "tf.math.argmax": 2, "tf.argmin": 2, "tf.math.argmin": 2, "tf.transpose": 2,
                   "tf.convert_to_tensor": 2}
#: TF2 keyword spellings of TF1 row parameters
_TF2_KEYWORDS = {"input": "tensor"}
#: names other parts of tfpt translate (a statement holding one is left to them)
_OTHERS = ("keras.layers.", "keras.Sequential", "keras.Model", "keras.Input", "keras.models.", "keras.utils.",
           "keras.callbacks.", "keras.preprocessing.", "keras.backend.", "keras.saving.", "tf.data")
#: why TF2 constructs without a torch translation stay (the TF1 table's reasons complete it)
_REASONS = {
    "tf.Variable": "tf.Variable in eager code is not translated: use a tensor with requires_grad=True (or an "
                   "nn.Parameter of a module) and give it to the optimizer",
    "keras.metrics": f"only metric objects assigned to a name are translated (classes {metrics.NAMES}); "
                     "accumulate other values in Python (float(loss))",
    "tf.distribute": "distribution strategies are not translated",
    "tf.GradientTape": "a GradientTape outside `with tf.GradientTape() as tape:` is not translated",
    "tf.summary": "summaries are not translated: use torch.utils.tensorboard.SummaryWriter",
    "keras.optimizers": "only an optimizer applied (apply_gradients) to one model built before it is translated",
    "keras.losses": "this use of a Keras loss is not translated: call a loss object, or take "
                    "tf.reduce_mean of a loss function",
}
_TAPE_METHODS = {
    "watch": "tape.watch(x): torch records gradients for tensors that require them; make x one "
             "(x.requires_grad_()) and take torch.autograd.grad(loss, x)",
    "jacobian": "tape.jacobian is not translated: torch.autograd.functional.jacobian",
    "batch_jacobian": "tape.batch_jacobian is not translated: torch.func.vmap(torch.func.jacrev(f))",
    "stop_recording": "tape.stop_recording(): use `with torch.no_grad():`",
    "reset": "tape.reset() has no torch counterpart",
}
_STEP_METHODS = ("train_step", "test_step", "predict_step")
#: torch code whose behaviour depends on model.train()/eval()
_MODE_DEPENDENT = re.compile(r"Dropout|BatchNorm|InstanceNorm|self\.training|dropout")


class Untranslatable(Exception):
    def __init__(self, node: cst.CSTNode, construct: str, reason: str):
        super().__init__(reason)
        self.node, self.construct, self.reason = node, construct, reason


@dataclass(eq=False)
class Binding:
    """Where a name gets its value: ``kind`` is assign, unpack, for, for-unpack, param, with or other."""

    kind: str
    node: cst.CSTNode  # the value (assign), the iterable (for), the function (param), the item (with)
    fn: cst.FunctionDef | None
    index: int = 0
    name: object = ""  # a parameter's name; the arity of an unpacking; a for target's path


@dataclass(eq=False)
class Tape:
    name: str
    stmt: cst.With
    fn: cst.FunctionDef | None
    left: str | None = None  # why it stays TensorFlow


@dataclass(eq=False)
class Gradient:
    """``grads = tape.gradient(loss, model.trainable_variables)``."""

    stmt: cst.SimpleStatementLine
    target: str
    loss: cst.BaseExpression
    tape: Tape
    model: str  # the model expression as written
    irs: tuple
    fn: cst.FunctionDef | None


@dataclass(eq=False)
class Apply:
    """``optimizer.apply_gradients(zip(grads, model.trainable_variables))``."""

    stmt: cst.SimpleStatementLine
    optimizer: str
    grads: str
    model: str
    irs: tuple
    fn: cst.FunctionDef | None


@dataclass(eq=False)
class Owned:
    """An optimizer or loss object this module translates (``kind``), with its binding statement."""

    kind: str
    name: str
    stmt: cst.SimpleStatementLine
    call: cst.Call
    fn: cst.FunctionDef | None
    left: str | None = None
    model: str = ""  # an optimizer's model
    spec: metrics.MetricObject | None = None  # a metric's row
    uses: tuple = ()  # the Name nodes reading a metric object


def translate(rec) -> None:
    """Plan the translation of the module's TF2 custom training code (if it has any), and of TF constants."""
    from .tf1 import GraphProgram  # a TF1 graph program is tf1.py's

    custom = _has_custom_training(rec) or _has_metric_objects(rec)
    constants = any(_last(r) in _CONSTANT_NAMES and rec.name(r) in tf1_ops.CONSTANTS for r in rec.refs)
    if not (custom or constants) or GraphProgram(rec).is_graph_program():
        return
    if custom:
        CustomTraining(rec).run()
    if constants:
        _eager_constants(rec)


def _has_custom_training(rec) -> bool:
    """A tape, a tf.function, apply_gradients or a model called with training=: cheap, run on every file."""
    for c in rec.calls:
        f = c.func
        last = f.attr.value if isinstance(f, cst.Attribute) else f.value if isinstance(f, cst.Name) else ""
        if last == "apply_gradients" or (last in ("GradientTape", "function") and rec.name(f) in (TAPE, TF_FUNCTION)):
            return True
        if isinstance(f, cst.Name) and any(a.keyword is not None and a.keyword.value == "training" for a in c.args) \
                and rec.name(f) is None:
            return True  # a model (or a parameter holding one) called outside fit
    for node in rec.parents:  # a bare @tf.function is no call
        if isinstance(node, cst.Decorator) and rec.name(node.decorator) == TF_FUNCTION:
            return True
    return False


def _has_metric_objects(rec) -> bool:
    """A Keras metric object assigned to a name, then called, updated, read or reset (a loop's bookkeeping), or
    built and called at once (``keras.metrics.Mean()(x)``)."""
    names = set()
    for a in rec.assigns:
        if isinstance(a.value, cst.Call) and len(a.targets) == 1 and isinstance(a.targets[0].target, cst.Name) \
                and _is_metric_object(rec, a.value):
            names.add(a.targets[0].target.value)
    for c in rec.calls:
        f = c.func
        if isinstance(f, cst.Attribute) and f.attr.value in metrics.METHODS:
            f = f.value
        if isinstance(f, cst.Name) and f.value in names or isinstance(f, cst.Call) and _is_metric_object(rec, f):
            return True
    return False


def _is_metric_object(rec, call: cst.Call) -> bool:
    return _last(call.func) in metrics.OBJECTS and _metric_class(rec.name(call.func)) is not None


#: the last components of the constants' names: resolving every name would cost every file time
_CONSTANT_NAMES = frozenset(q.rsplit(".", 1)[1] for q in tf1_ops.CONSTANTS)


def _last(ref) -> str:
    return ref.attr.value if isinstance(ref, cst.Attribute) else ref.value if isinstance(ref, cst.Name) else ""


def _metric_class(q: str | None) -> str | None:
    """``keras.metrics.Mean`` -> "Mean"; None for anything else (the metric functions too)."""
    if q is None or not q.startswith("keras.metrics.") or not q[14:15].isupper():
        return None
    return q[14:]


def _eager_constants(rec) -> None:
    """``x = x[..., tf.newaxis]`` in any script: a statement whose only TensorFlow names are constants."""
    by_stmt: dict[int, list] = {}
    for ref in rec.refs:
        by_stmt.setdefault(id(rec.statement_of(ref)), []).append(ref)
    for ref in rec.refs:
        stmt = rec.statement_of(ref)
        if _last(ref) not in _CONSTANT_NAMES or rec.name(ref) not in tf1_ops.CONSTANTS \
                or not isinstance(stmt, cst.SimpleStatementLine) \
                or rec.consumed_within(stmt) or id(stmt) in rec.plan.replace_stmt or _inside_class(rec, stmt):
            continue
        refs = by_stmt[id(stmt)]
        if any(rec.name(r) not in (None, *tf1_ops.CONSTANTS) for r in refs) or set(names_read(stmt)) & rec.model_vars:
            continue  # other TensorFlow, or a model: another part's statement (custom training translates both)
        new = stmt.visit(_Constants(rec))
        rec.plan.replace_stmt[id(stmt)] = [code(new.with_changes(leading_lines=[]))]
        rec.consumed.add(id(stmt))
        rec.plan.translated += 1


def _inside_class(rec, node) -> bool:
    while node is not None:
        node = rec.parent(node)
        if isinstance(node, cst.ClassDef):
            return True
    return False


class _Constants(cst.CSTTransformer):
    """``tf.newaxis`` -> ``None`` (the constants of ``tf1_ops.CONSTANTS``)."""

    def __init__(self, rec):
        self.rec = rec

    def visit_Attribute(self, node):
        return self.rec.name(node) is None

    def leave_Attribute(self, original, updated):
        return _constant(self.rec, original) or updated

    def leave_Name(self, original, updated):
        return _constant(self.rec, original) or updated


def _constant(rec, node) -> cst.BaseExpression | None:
    parent = rec.parent(node)
    if isinstance(parent, cst.Attribute) and parent.attr is node:
        return None
    torch = tf1_ops.CONSTANTS.get(rec.name(node))
    return cst.parse_expression(torch) if torch is not None else None


class CustomTraining:
    def __init__(self, rec):
        self.rec, self.plan = rec, rec.plan
        self.binds: dict[tuple[int, str], list[Binding]] = {}
        self.functions: dict[str, cst.FunctionDef] = {}
        self.refs_in: dict[int, list[cst.CSTNode]] = {}  # statement -> framework-or-name refs in it
        self.calls_in: dict[int, list[cst.Call]] = {}
        self.tapes: dict[tuple[int, str], Tape] = {}
        self.gradients: dict[int, Gradient] = {}
        self.applies: dict[int, Apply] = {}
        self.owned: dict[tuple, Owned] = {}
        #: name -> the Name nodes reading it (heads of attribute chains included)
        self.uses: dict[str, list[cst.Name]] = {}
        self._cache: dict[tuple, object] = {}
        self.lines: dict[int, list[str]] = {}  # pre-planned statements
        #: ids of the nodes inside class bodies (subclassed models are recognise.py's)
        self.in_class: set[int] = set()
        #: node id -> its position in source order
        self.order: dict[int, int] = {}
        self.end: dict[int, int] = {}  # node id -> the position of its last descendant

    # ------------------------------------------------------------------ driver

    def run(self) -> None:
        self._index()
        self._step_overrides()
        self._decorators()
        self._objects()
        self._tapes()
        self._check_metrics()
        self._gradients()
        self._block(self.rec.module.body, None, {})
        self._finish_unwraps()

    def _index(self) -> None:
        rec = self.rec
        in_class = self.in_class
        nodes = list(rec.parents.items())
        for node, parent in nodes:  # parents before children
            self.order[id(node)] = len(self.order)
            if isinstance(parent, cst.ClassDef) or id(parent) in in_class:
                in_class.add(id(node))
                continue
            if isinstance(node, cst.FunctionDef):
                if node.name.value in self.functions:
                    self.functions[node.name.value] = None  # defined twice: call sites are ambiguous
                else:
                    self.functions[node.name.value] = node
                self._bind(node.name.value, Binding("other", node, rec.function_of(node)))
                for i, p in enumerate(_params(node)):
                    self._bind(p.name.value, Binding("param", node, node, i, p.name.value))
            elif isinstance(node, cst.Assign):
                fn = rec.function_of(node)
                for t in node.targets:
                    if isinstance(t.target, cst.Name):
                        self._bind(t.target.value, Binding("assign", node.value, fn))
                    else:
                        self._unpack(t.target, "unpack", node.value, fn)
            elif isinstance(node, cst.For):
                self._for_target(node.target, node.iter, rec.function_of(node), ())
            elif isinstance(node, cst.WithItem) and node.asname is not None:
                for n in target_names(node.asname.name):
                    self._bind(n, Binding("with", node, rec.function_of(node)))
            elif isinstance(node, (cst.AugAssign, cst.AnnAssign)):
                for n in target_names(node.target):
                    self._bind(n, Binding("other", node, rec.function_of(node)))
        end = self.end
        for node, parent in reversed(nodes):  # a subtree is the interval order[node] .. end[node]
            last = max(end.get(id(node), 0), self.order[id(node)])
            end[id(node)] = last
            if parent is not None:
                end[id(parent)] = max(end.get(id(parent), 0), last)
        for ref in rec.refs:
            self.refs_in.setdefault(id(rec.statement_of(ref)), []).append(ref)
            head, parent = _head(ref), rec.parent(ref)
            attr_or_keyword = (isinstance(parent, cst.Attribute) and parent.attr is ref) or (
                isinstance(parent, (cst.Arg, cst.FunctionDef, cst.Param)) and getattr(parent, "value", None) is not ref)
            assigned = isinstance(rec.parent(head), cst.AssignTarget)
            if isinstance(head, cst.Name) and not assigned and not attr_or_keyword:
                self.uses.setdefault(head.value, []).append(head)  # reads only
        for c in rec.calls:
            self.calls_in.setdefault(id(rec.statement_of(c)), []).append(c)

    def _bind(self, name: str, b: Binding) -> None:
        self.binds.setdefault((id(b.fn), name), []).append(b)

    def _for_target(self, target, iterable, fn, path) -> None:
        """Each name of a for target with its path into the element (``for i, (x, y) in``: x at ((1, 2), (0, 2)))."""
        if isinstance(target, cst.Name):
            self._bind(target.value, Binding("for", iterable, fn, name=path))
        elif isinstance(target, (cst.Tuple, cst.List)):
            for i, el in enumerate(target.elements):
                self._for_target(el.value, iterable, fn, (*path, (i, len(target.elements))))
        else:
            for n in target_names(target):
                self._bind(n, Binding("other", iterable, fn))

    def _unpack(self, target, kind, value, fn) -> None:
        if isinstance(target, (cst.Tuple, cst.List)):
            for i, el in enumerate(target.elements):
                if isinstance(el.value, cst.Name):
                    self._bind(el.value.value, Binding(kind, value, fn, i, str(len(target.elements))))
                else:
                    for n in target_names(el.value):
                        self._bind(n, Binding("other", value, fn))

    # ------------------------------------------------------------------ names and what they hold

    def _in_class(self, node) -> bool:
        return id(node) in self.in_class

    def lookup(self, name: str, fn) -> list[Binding]:
        """The bindings ``name`` may have at a use in ``fn``: the innermost scope binding it."""
        while True:
            found = self.binds.get((id(fn), name))
            if found:
                return found
            if fn is None:
                return []
            fn = self.rec.function_of(fn)

    def call_args(self, fn: cst.FunctionDef, index: int, name: str):
        """(argument, caller's function) at every call of ``fn``; None when a call cannot be followed."""
        key = ("call_args", id(fn), index)
        if key not in self._cache:
            self._cache[key] = self._call_args(fn, index, name)
        return self._cache[key]

    def _call_args(self, fn: cst.FunctionDef, index: int, name: str):
        if self.functions.get(fn.name.value) is not fn:
            return None
        out = []
        for ref in self.uses.get(fn.name.value, []):
            if self.rec.parent(ref) is fn:
                continue
            call = self.rec.parent(ref)
            if not (isinstance(call, cst.Call) and call.func is ref) or any(a.star for a in call.args):
                return None  # passed around, or called with *args: not every caller is known
            given = [a.value for a in call.args if a.keyword is None]
            given_kw = {a.keyword.value: a.value for a in call.args if a.keyword is not None}
            arg = given[index] if index < len(given) else given_kw.get(name)
            if arg is None:
                return None
            out.append((arg, self.rec.function_of(call)))
        return out or None

    def models_of(self, node, fn, seen=frozenset()) -> tuple:
        """The translated models (ModelIR) a name holds, or () when it is not (only) a translated model."""
        if not isinstance(node, cst.Name) or (node.value, id(fn)) in seen:
            return ()
        if not seen:
            key = ("models", node.value, id(fn))
            if key not in self._cache:
                self._cache[key] = self.models_of(node, fn, frozenset({("", -1)}))
            return self._cache[key]
        seen = seen | {(node.value, id(fn))}
        binds = self.lookup(node.value, fn)
        out = []
        for b in binds:
            if b.kind == "param":
                sites = self.call_args(b.node, b.index, b.name)
                got = [self.models_of(arg, f, seen) for arg, f in sites] if sites else [()]
            elif b.kind == "assign":
                got = [self._constructed(b.node, b.fn, seen)]
            else:
                got = [()]
            if not all(got):
                return ()
            out.extend(ir for g in got for ir in g)
        return tuple({id(ir): ir for ir in out}.values())

    def _constructed(self, value, fn, seen) -> tuple:
        rec = self.rec
        if isinstance(value, cst.Name):
            return self.models_of(value, fn, seen)
        if not isinstance(value, cst.Call):
            return ()
        ir = rec.model_by_call.get(id(value))
        if ir is not None:
            return (ir,)
        builder = self.functions.get(value.func.value) if isinstance(value.func, cst.Name) else None
        if builder is None or builder.name.value not in rec.model_funcs:
            return ()
        for r in rec.returns:
            if rec.function_of(r) is builder and r.value is not None:
                if isinstance(r.value, cst.Call) and id(r.value) in rec.model_by_call:
                    return (rec.model_by_call[id(r.value)],)
                if isinstance(r.value, cst.Name):
                    found = [m for m in rec.plan.models
                             if m.var == r.value.value and rec.model_scopes.get(id(m)) is builder]
                    if len(found) == 1:
                        return (found[0],)
        return ()

    def mode_dependent(self, irs) -> bool:
        """Whether any of the models behaves differently in train() and eval() (Dropout, BatchNorm ...)."""
        for ir in irs:
            emitted = self.plan.emitted.get(ir.class_name)
            if emitted is None or _MODE_DEPENDENT.search(emitted.source):
                return True
            if self.mode_dependent(tuple(ir.submodels.values())):
                return True
        return False

    def params_of(self, model: str, irs) -> str:
        """The torch counterpart of ``model.trainable_variables``."""
        frozen = any("requires_grad_(False)" in self.plan.emitted[ir.class_name].source for ir in irs)
        return f"[p for p in {model}.parameters() if p.requires_grad]" if frozen else f"{model}.parameters()"

    def is_tensor(self, node, fn, seen=frozenset()) -> bool:
        """Whether ``node`` is a torch tensor in the translation (a TF op, a model output, a batch ...)."""
        rec = self.rec
        if not seen:
            key = ("tensor", id(node), id(fn))
            if key not in self._cache:
                self._cache[key] = self.is_tensor(node, fn, frozenset({("", -1)}))
            return self._cache[key]
        if isinstance(node, cst.Call):
            q = rec.name(node.func)
            if q is not None:
                return q in tf1_ops.BY_NAME or (q.startswith("keras.losses.") and q[13:14].islower())
            if self.models_of(node.func, fn) or self._loss_object(node.func, fn):
                return True
            f = self.functions.get(node.func.value) if isinstance(node.func, cst.Name) else None
            if f is None or (f.name.value, -1) in seen:
                return False
            returns = [r for r in self.rec.returns if rec.function_of(r) is f]
            inner = seen | {(f.name.value, -1)}
            return bool(returns) and all(r.value is not None and self.is_tensor(r.value, f, inner) for r in returns)
        if isinstance(node, cst.BinaryOperation):
            return self.is_tensor(node.left, fn, seen) or self.is_tensor(node.right, fn, seen)
        if isinstance(node, cst.UnaryOperation):
            return self.is_tensor(node.expression, fn, seen)
        if isinstance(node, cst.Subscript):
            return self.is_tensor(node.value, fn, seen)
        if not isinstance(node, cst.Name) or (node.value, id(fn)) in seen:
            return False
        seen = seen | {(node.value, id(fn))}
        binds = self.lookup(node.value, fn)
        return bool(binds) and all(self._holds_tensor(b, seen) for b in binds)

    def _holds_tensor(self, b: Binding, seen) -> bool:
        if b.kind == "assign":
            return self.is_tensor(b.node, b.fn, seen)
        if b.kind == "param":
            sites = self.call_args(b.node, b.index, b.name)
            return bool(sites) and all(self.is_tensor(arg, f, seen) for arg, f in sites)
        if b.kind == "for":
            return self._element_is_tensor(b.node, b.name, b.fn)
        if b.kind == "unpack":
            value = b.node
            if isinstance(value, (cst.Tuple, cst.List)) and len(value.elements) == int(b.name):
                return self.is_tensor(value.elements[b.index].value, b.fn, seen)
            called = isinstance(value, cst.Call) and isinstance(value.func, cst.Name)
            f = self.functions.get(value.func.value) if called else None
            if f is None:
                return False
            returns = [r for r in self.rec.returns if self.rec.function_of(r) is f]
            return bool(returns) and all(
                isinstance(r.value, cst.Tuple) and len(r.value.elements) == int(b.name)
                and self.is_tensor(r.value.elements[b.index].value, f, seen) for r in returns)
        return False

    def _element_is_tensor(self, iterable, path, fn) -> bool:
        """Whether the part ``path`` of what iterating ``iterable`` yields is a tensor (a batch of a dataset)."""
        if isinstance(iterable, cst.Call) and isinstance(iterable.func, cst.Name) \
                and iterable.func.value == "enumerate" and len(iterable.args) == 1 and iterable.args[0].keyword is None:
            return bool(path) and path[0] == (1, 2) and self._element_is_tensor(iterable.args[0].value, path[1:], fn)
        kind = self.dataset_kind(iterable, fn)
        if not path:
            return kind == ("single", False)
        return len(path) == 1 and kind == ("tuple", path[0][1])

    def dataset_kind(self, node, fn, seen=frozenset()):
        """What iterating a translated tf.data pipeline yields: ("single", mapped) or ("tuple", n); None if unknown.

        A pipeline of one array iterates as tensors (pipelines.py makes the tensor the
        dataset); a mapped one yields 1-element lists (the runtime's MapDataset).
        """
        if isinstance(node, cst.Name):
            if (node.value, id(fn)) in seen:
                return None
            seen = seen | {(node.value, id(fn))}
            kinds = set()
            for b in self.lookup(node.value, fn):
                if b.kind == "param":
                    sites = self.call_args(b.node, b.index, b.name)
                    if not sites:
                        return None
                    kinds |= {self.dataset_kind(arg, f, seen) for arg, f in sites}
                elif b.kind == "assign":
                    root, methods = _chain(self.rec, b.node)
                    if isinstance(root, cst.Name) and root.value == node.value:
                        kinds.add(("continued", "map" in methods))
                        continue
                    kinds.add(self._chain_kind(root, methods, b.fn, seen))
                else:
                    return None
            mapped = any(k[0] == "continued" and k[1] for k in kinds if k)
            kinds = {k for k in kinds if not (k and k[0] == "continued")}
            if len(kinds) != 1 or None in kinds:
                return None
            kind = kinds.pop()
            return ("single", True) if kind[0] == "single" and mapped else kind
        root, methods = _chain(self.rec, node)
        return self._chain_kind(root, methods, fn, seen) if methods else None

    def _chain_kind(self, root, methods, fn, seen):
        from .spec.callbacks import FROM_TENSOR_SLICES

        if isinstance(root, cst.Name):
            kind = self.dataset_kind(root, fn, seen)
            return ("single", True) if kind == ("single", False) and "map" in methods else kind
        if not (isinstance(root, cst.Call) and self.rec.name(root.func) == FROM_TENSOR_SLICES and len(root.args) == 1):
            return None
        data = root.args[0].value
        if isinstance(data, cst.Name):  # an array, or a tuple of arrays, bound to a name
            binds = self.lookup(data.value, fn)
            if not binds or any(b.kind not in ("assign", "unpack") for b in binds):
                return None
            literal = [b.node for b in binds
                       if b.kind == "assign" and isinstance(b.node, (cst.Tuple, cst.List, cst.Dict))]
            if literal:
                if len(binds) != 1:
                    return None
                data = literal[0]
        if isinstance(data, cst.Dict):
            return None
        if isinstance(data, (cst.Tuple, cst.List)):
            return ("tuple", len(data.elements))
        return ("single", "map" in methods)

    def _loss_object(self, func, fn) -> Owned | None:
        return self._object(func, fn, "loss")

    def _metric_object(self, func, fn) -> Owned | None:
        return self._object(func, fn, "metric")

    def _object(self, func, fn, kind: str) -> Owned | None:
        if not isinstance(func, cst.Name):
            return None
        binds = self.lookup(func.value, fn)
        if len(binds) != 1:
            return None
        return next((o for o in self.owned.values() if o.kind == kind and o.call is binds[0].node), None)

    def env(self, fn):
        return self.rec.constants.scope(fn)

    # ------------------------------------------------------------------ classes, decorators

    def _step_overrides(self) -> None:
        """``def train_step(self, data)`` in a keras.Model subclass: a TODO at the def (not translated yet)."""
        rec = self.rec
        for node in rec.parents:
            if not isinstance(node, cst.ClassDef):
                continue
            if not any(rec.name(b.value) in ("keras.Model", "keras.models.Model") for b in node.bases):
                continue
            for stmt in node.body.body:
                if isinstance(stmt, cst.FunctionDef) and stmt.name.value in _STEP_METHODS \
                        and not rec.consumed_within(stmt):
                    rec.todo(stmt, "train_step override",
                             f"{stmt.name.value}() overrides Keras' training step inside fit(); it is not translated: "
                             "write the step as a torch loop (zero_grad, loss.backward(), step) and call it per batch")

    def _decorators(self) -> None:
        """``@tf.function`` (with arguments too) is dropped: torch runs the function eagerly."""
        rec = self.rec
        for node in rec.parents:
            if not isinstance(node, cst.FunctionDef) or self._in_class(node):
                continue
            for d in node.decorators:
                dec = d.decorator.func if isinstance(d.decorator, cst.Call) else d.decorator
                if rec.name(dec) != TF_FUNCTION:
                    continue
                self.plan.replace_stmt[id(d)] = []  # rewrite.py removes a decorator the plan replaces by nothing
                rec.consumed.add(id(d))
                self.plan.translated += 1
                if any(isinstance(c.func, cst.Name) and c.func.value == "print" and rec.function_of(c) is node
                       for c in rec.calls):
                    rec.todo(d, TF_FUNCTION, "print() in a tf.function runs only while TensorFlow traces it; the "
                             "translated function prints at every call", severity="note")

    # ------------------------------------------------------------------ optimizers and loss objects

    def _objects(self) -> None:
        """Optimizers used only through apply_gradients, loss objects only called: both become torch."""
        rec = self.rec
        for a in rec.assigns:
            if len(a.targets) != 1 or not isinstance(a.targets[0].target, cst.Name) \
                    or not isinstance(a.value, cst.Call):
                continue
            q = rec.name(a.value.func)
            stmt = rec.statement_of(a)
            if q is None or self._in_class(a) or rec.consumed_within(stmt) or len(stmt.body) != 1:
                continue
            name, fn = a.targets[0].target.value, rec.function_of(a)
            kind = {"keras.optimizers": "optimizer", "keras.losses": "loss", "keras.metrics": "metric"}.get(
                q.rsplit(".", 1)[0])
            if kind is None:
                continue
            uses = [h for h in self.uses.get(name, [])
                    if any(b.node is a.value for b in self.lookup(name, rec.function_of(h)))]
            if kind == "metric":
                cls = _metric_class(q)
                if cls is None:
                    continue  # a metric function's value, not an object
                o = Owned(kind, name, stmt, a.value, fn, spec=metrics.OBJECTS.get(cls), uses=tuple(uses))
                if o.spec is None:
                    o.left = f"keras.metrics.{cls} is not translated yet (metric objects tfpt translates: " \
                             f"{metrics.NAMES})"
            elif kind == "optimizer":
                applies = [u for u in uses if _method_of(rec, u) in ("apply_gradients", "apply")]
                if not applies:
                    continue  # compile() or something else takes it: not this module's
                o = Owned(kind, name, stmt, a.value, fn)
                if len(applies) != len(uses):
                    o.left = f"the optimizer `{name}` is used other than by apply_gradients"
            else:
                called = [u for u in uses if isinstance(rec.parent(u), cst.Call) and rec.parent(u).func is u]
                if not called:
                    continue
                o = Owned(kind, name, stmt, a.value, fn)
                if len(called) != len(uses):
                    o.left = f"the loss object `{name}` is used other than by calling it"
            # a metric bound twice is two objects (both stay Keras); an optimizer or loss is looked up by name
            self.owned[(id(fn), name, id(a)) if kind == "metric" else (id(fn), name)] = o

    def _optimizer_problem(self, o: Owned) -> str | None:
        """Why an optimizer cannot be built over its model's parameters where it is constructed, or None."""
        if o.left or o.kind != "optimizer":
            return o.left
        if not o.model:
            return f"the optimizer `{o.name}` is applied to no model tfpt can name"
        binds = self.lookup(o.model, o.fn)
        if len(binds) != 1 or binds[0].kind != "assign" or binds[0].fn is not o.fn \
                or self.order[id(binds[0].node)] >= self.order[id(o.call)]:
            return (f"the optimizer `{o.name}` is built before the model `{o.model}` exists (or in another scope): "
                    f"a torch optimizer needs {o.model}.parameters(); build it after the model")
        return None

    def _finish_object(self, o: Owned) -> None:
        """The binding statement of an owned optimizer or loss object."""
        rec = self.rec
        try:
            if o.left:
                raise Unsupported(o.left)
            if o.kind == "metric":
                self._metric_constructor(o)
                return
            if o.kind == "loss":
                _spec, fn = rec._loss(o.call, self.env(o.fn))
                self.plan.helpers.add(fn)
                self._replace(o.stmt, [f"{o.name} = {fn}"])
                return
            ctor, notes = rec._optimizer(o.call, o.model, self.env(o.fn))
        except Unsupported as e:
            o.left = str(e)
            rec.todo(o.call, rec.name(o.call.func), str(e))
            rec.consumed.add(id(o.stmt))
            return
        self._replace(o.stmt, [*(f"# {n}" for n in notes), f"{o.name} = {ctor}"])

    # ------------------------------------------------------------------ metric objects

    def _check_metrics(self) -> None:
        """A metric object becomes the runtime's class only if every use of it reads the same in torch, or is
        in a statement this module rewrites (the update calls of a metric of y_true and y_pred)."""
        for o in self.owned.values():
            if o.kind == "metric" and not o.left:
                o.left = self._metric_problem(o)

    def _metric_problem(self, o: Owned) -> str | None:
        rec = self.rec
        if len(self.lookup(o.name, o.fn)) != 1:
            return f"`{o.name}` is bound more than once: the metric object each use means is not known"
        try:
            self._metric_arguments(o.spec, o.call, o.fn)
        except Untranslatable as e:
            return e.reason
        for u in o.uses:
            use = self._metric_use(u)
            if use is None:
                return (f"the metric object `{o.name}` is used other than by calling it, update_state, result, "
                        f"reset_state or .name (line {rec.pos(u)[0]})")
            if use == "update" and o.spec.targets or use == "reset_states":
                stmt, fn = rec.statement_of(u), rec.function_of(u)
                if self._in_class(u) or not isinstance(stmt, cst.SimpleStatementLine) or len(stmt.body) != 1 \
                        or rec.consumed_within(stmt) or id(stmt) in self.plan.replace_stmt \
                        or not self._mine(stmt, fn):
                    return (f"`{o.name}` at line {rec.pos(u)[0]} is in a statement tfpt does not rewrite here (a "
                            "class, a compound statement's header, a line other parts translate): its arguments would "
                            "stay in Keras' order (y_true, y_pred)")
        return None

    def _metric_use(self, u: cst.Name) -> str | None:
        """What a read of a metric object does: "update", "result", "reset_state", "reset_states", "name"; or None."""
        rec = self.rec
        parent = rec.parent(u)
        if isinstance(parent, cst.Call) and parent.func is u:
            return "update"
        if not (isinstance(parent, cst.Attribute) and parent.value is u):
            return None
        attr, grand = parent.attr.value, rec.parent(parent)
        if attr in metrics.ATTRIBUTES and not isinstance(grand, cst.AssignTarget):
            return attr
        if attr in metrics.METHODS and isinstance(grand, cst.Call) and grand.func is parent:
            return "update" if attr == "update_state" else attr
        return None

    def _metric_arguments(self, spec: metrics.MetricObject, call: cst.Call, fn) -> list[tuple[int, str]]:
        """(index, parameter) of the constructor's arguments the runtime class takes; raises Untranslatable."""
        construct = f"keras.metrics.{spec.keras}"
        bound = _bind(call, spec.params, construct)
        env = self.env(fn)
        for k, v in bound.items():
            if k == "dtype":
                ok = evaluate(v, env) in metrics.FLOAT32 or self.rec.name(v) == "tf.float32" \
                    or self.rec.bindings.qualified(v) == "numpy.float32"
            else:
                ok = k in spec.passed or (k in spec.fixed and evaluate(v, env) == spec.fixed[k])
            if not ok:
                raise Untranslatable(v, construct, f"{construct}({k}={code(v)}) is not translated")
        names = [a.keyword.value if a.keyword is not None else spec.params[i] for i, a in enumerate(call.args)]
        return [(i, k) for i, k in enumerate(names) if k in spec.passed]

    def metric_constructor(self, spec: metrics.MetricObject, call: cst.Call, fn):
        """``keras.metrics.Mean(name="loss", dtype=None)`` -> (a function of the updated call giving
        ``Mean(name="loss")``, the indexes of the arguments kept); raises Untranslatable."""
        kept = self._metric_arguments(spec, call, fn)
        # a positional argument after a dropped one (dtype) goes by keyword
        positional = next((n for n, (i, _) in enumerate(kept) if i != n), len(kept))

        def make(updated: cst.Call) -> cst.Call:
            args = []
            for n, (i, k) in enumerate(kept):
                a = updated.args[i]
                if a.keyword is None and n >= positional:
                    a = a.with_changes(keyword=cst.Name(k), equal=cst.AssignEqual(
                        whitespace_before=cst.SimpleWhitespace(""), whitespace_after=cst.SimpleWhitespace("")))
                args.append(a)
            if len(args) != len(updated.args):
                args = _commas(args)
            return updated.with_changes(func=cst.Name(spec.runtime), args=args)

        return make, {i for i, _ in kept}

    def _metric_constructor(self, o: Owned) -> None:
        """A metric object's constructor: the call alone is replaced (a comment after it stays)."""
        make, kept = self.metric_constructor(o.spec, o.call, o.fn)
        self.plan.replace(o.call, make, o.spec.runtime, keeps_args=True)
        self.plan.dropped |= {id(a) for i, a in enumerate(o.call.args) if i not in kept}
        self.plan.helpers.add(o.spec.runtime)
        self.rec.consumed.add(id(o.call))
        self.rec.consumed.add(id(o.stmt))
        self.plan.translated += 1

    # ------------------------------------------------------------------ tapes, gradients, applies

    def _tapes(self) -> None:
        rec = self.rec
        for node in rec.parents:
            if not isinstance(node, cst.With) or self._in_class(node):
                continue
            items = [rec.name(i.item.func) == TAPE if isinstance(i.item, cst.Call) else False for i in node.items]
            if not any(items):
                continue
            fn = rec.function_of(node)
            left = None
            if not all(items) or any(i.asname is None or not isinstance(i.asname.name, cst.Name) for i in node.items):
                left = "a `with` mixing tapes and other context managers (or a tape without `as name`) is not " \
                       "translated"
            for item, is_tape in zip(node.items, items):
                for a in item.item.args if is_tape else ():
                    k = a.keyword.value if a.keyword is not None else "persistent"
                    v = evaluate(a.value, self.env(fn))
                    watching = k == "watch_accessed_variables" and v is True
                    if not (k == "persistent" and v in (True, False)) and not watching:
                        left = f"GradientTape({k}={code(a.value)}) is not translated"
            if left:
                rec.todo(node, TAPE, left)
            for item in node.items:
                if item.asname is not None and isinstance(item.asname.name, cst.Name):
                    self.tapes[(id(fn), item.asname.name.value)] = Tape(item.asname.name.value, node, fn, left)
            if not left:
                self.plan.translated += 1

    def _tape_of(self, node, fn) -> Tape | None:
        if not isinstance(node, cst.Name):
            return None
        binds = self.lookup(node.value, fn)
        if len(binds) != 1 or binds[0].kind != "with":
            return None
        return self.tapes.get((id(binds[0].fn), node.value))

    def _gradients(self) -> None:
        """Find every tape.gradient / apply_gradients statement, then choose the form per function."""
        rec = self.rec
        for c in rec.calls:
            f = c.func
            if not isinstance(f, cst.Attribute) or self._in_class(c):
                continue
            fn = rec.function_of(c)
            try:
                if f.attr.value == "gradient" and self._tape_of(f.value, fn):
                    self._gradient(c, self._tape_of(f.value, fn), fn)
                elif f.attr.value in ("apply_gradients", "apply") and isinstance(f.value, cst.Name) \
                        and self.owned.get(self._owner(f.value, fn)):
                    self._apply(c, self.owned[self._owner(f.value, fn)], fn)
                elif f.attr.value == "apply_gradients" or (f.attr.value == "minimize" and any(
                        a.keyword is not None and a.keyword.value == "tape" for a in c.args)):
                    raise Untranslatable(c, f"optimizer.{f.attr.value}", f"{code(f)}(): only an optimizer built in "
                                         "this script and applied to one model's trainable_variables is translated")
                elif f.attr.value == "gradient" and isinstance(f.value, cst.Name) and any(
                        b.kind == "param" for b in self.lookup(f.value.value, fn)):
                    raise Untranslatable(c, "tape.gradient", f"`{f.value.value}` may be a GradientTape passed in: "
                                         "tapes are translated where their `with` block is")
            except Untranslatable as e:
                self._todo(e)
        for o in self.owned.values():
            o.left = self._optimizer_problem(o)
        by_fn: dict[int, list[Gradient]] = {}
        for g in self.gradients.values():
            by_fn.setdefault(id(g.fn), []).append(g)
        for grads in by_fn.values():
            try:
                self._plan_step(grads)
            except Untranslatable as e:  # a loss expression the op table cannot write
                self._todo(e)
        for a in self.applies.values():
            if id(a.stmt) not in self.lines:
                self._faithful_apply(a)
        for o in self.owned.values():
            self._finish_object(o)

    def _owner(self, name: cst.Name, fn):
        binds = self.lookup(name.value, fn)
        if len(binds) != 1:
            return None
        return next((k for k, o in self.owned.items() if o.call is binds[0].node), None)

    def _whole_statement(self, c: cst.Call, construct: str, assigned: bool):
        stmt = self.rec.statement_of(c)
        small = stmt.body[0] if isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1 else None
        if assigned and isinstance(small, cst.Assign) and small.value is c and len(small.targets) == 1 \
                and isinstance(small.targets[0].target, cst.Name):
            return stmt, small.targets[0].target.value
        if not assigned and isinstance(small, cst.Expr) and small.value is c:
            return stmt, None
        form = "`grads = tape.gradient(loss, model.trainable_variables)`" if assigned else \
            "`optimizer.apply_gradients(zip(grads, model.trainable_variables))`"
        raise Untranslatable(c, construct, f"only the statement form {form} is translated")

    def _sources(self, node, fn, construct: str):
        """``model.trainable_variables`` -> (model text, models)."""
        if isinstance(node, cst.Attribute) and node.attr.value in _VARIABLE_ATTRS and isinstance(node.value, cst.Name):
            irs = self.models_of(node.value, fn)
            if irs:
                return node.value.value, irs
        raise Untranslatable(node, construct, f"{construct} with respect to {code(node)}: only a translated model's "
                             "trainable_variables are translated")

    def _gradient(self, c: cst.Call, tape: Tape, fn) -> None:
        if tape.left:
            line = self.rec.pos(tape.stmt)[0]
            raise Untranslatable(c, "tape.gradient", f"uses the tape `{tape.name}` (line {line}), which stays "
                                 "TensorFlow")
        stmt, target = self._whole_statement(c, "tape.gradient", True)
        bound = self.rec._bound(c, ("target", "sources", "output_gradients", "unconnected_gradients"))
        if bound is None or set(bound) - {"target", "sources"} or "sources" not in bound:
            raise Untranslatable(c, "tape.gradient", "tape.gradient(target, sources) with other arguments is not "
                                 "translated")
        model, irs = self._sources(bound["sources"], fn, "tape.gradient")
        loss = bound["target"]
        body = tape.stmt.body.body
        if not set(names_read(loss)) & self._bound_inside(tape.stmt, fn):
            raise Untranslatable(loss, "tape.gradient", "the loss is not computed inside the tape: TF would record "
                                 "nothing (None gradients); compute it in the `with` block")
        called = self._models_called(body, fn)
        if not set(map(id, irs)) <= called:
            raise Untranslatable(c, "tape.gradient", f"`{model}` is not called inside the tape: TF records only what "
                                 "runs in the `with` block")
        early = self._recorded_before(tape, irs, fn)
        if early:
            raise Untranslatable(c, "tape.gradient", f"`{early}` was computed by `{model}` before the tape: TF does "
                                 "not differentiate through it, torch would")
        self.gradients[id(stmt)] = Gradient(stmt, target, loss, tape, model, irs, fn)

    def _bound_inside(self, stmt, fn) -> set[str]:
        """Names a compound statement of ``fn`` binds in its body."""
        out = set()
        for (scope, name), binds in self.binds.items():
            if scope == id(fn) and any(self._within(b.node, stmt) for b in binds
                                       if b.kind in ("assign", "unpack", "for")):
                out.add(name)
        return out

    def _within(self, node, ancestor) -> bool:
        return self.order[id(ancestor)] <= self.order[id(node)] <= self.end[id(ancestor)]

    def _models_called(self, stmts, fn, seen=None) -> set[int]:
        """ids of the models called in ``stmts``, also through the functions they call."""
        seen = set() if seen is None else seen
        out: set[int] = set()
        for s in stmts:
            for c in self._calls_under(s):
                irs = self.models_of(c.func, fn)
                out |= {id(ir) for ir in irs}
                f = self.functions.get(c.func.value) if isinstance(c.func, cst.Name) else None
                if f is not None and f.name.value not in seen:
                    seen.add(f.name.value)
                    out |= self._models_called(f.body.body, f, seen)
        return out

    def _calls_under(self, stmt) -> list[cst.Call]:
        if isinstance(stmt, cst.SimpleStatementLine):
            return self.calls_in.get(id(stmt), [])
        return [c for c in self.rec.calls if self._within(c, stmt)]

    def _recorded_before(self, tape: Tape, irs, fn) -> str | None:
        """A name read in the tape that an earlier statement of the function computed with one of ``irs``."""
        body = self.rec.parent(tape.stmt)
        if not isinstance(body, (cst.IndentedBlock, cst.Module)):
            return None
        read = {n for n, uses in self.uses.items() if any(self._within(u, tape.stmt) for u in uses)}
        ids = set(map(id, irs))
        for s in body.body:
            if s is tape.stmt:
                break
            if isinstance(s, cst.SimpleStatementLine):
                bound = {n for small in s.body if isinstance(small, cst.Assign)
                         for t in small.targets for n in target_names(t.target)}
            else:
                bound = self._bound_inside(s, fn)
            hit = bound & read
            if hit and self._models_called([s], fn) & ids:
                return sorted(hit)[0]
        return None

    def _apply(self, c: cst.Call, opt: Owned, fn) -> None:
        stmt, _ = self._whole_statement(c, "apply_gradients", False)
        method = c.func.attr.value
        if method == "apply":
            bound = self.rec._bound(c, ("grads", "trainable_variables"))
            if bound is None or set(bound) != {"grads", "trainable_variables"}:
                raise Untranslatable(c, "optimizer.apply", "optimizer.apply(grads, model.trainable_variables) is the "
                                     "only form translated")
            grads, sources = bound["grads"], bound["trainable_variables"]
        else:
            bound = self.rec._bound(c, ("grads_and_vars",))
            pairs = bound.get("grads_and_vars") if bound and set(bound) == {"grads_and_vars"} else None
            if not (isinstance(pairs, cst.Call) and isinstance(pairs.func, cst.Name) and pairs.func.value == "zip"
                    and len(pairs.args) == 2 and not any(a.keyword or a.star for a in pairs.args)):
                raise Untranslatable(c, "apply_gradients", "apply_gradients(zip(grads, model.trainable_variables)) is "
                                     "the only form translated")
            grads, sources = pairs.args[0].value, pairs.args[1].value
        model, irs = self._sources(sources, fn, "apply_gradients")
        if not isinstance(grads, cst.Name):
            raise Untranslatable(grads, "apply_gradients", "the gradients must be a variable holding "
                                 "tape.gradient(...)")
        if opt.model and opt.model != model:
            opt.left = f"the optimizer `{opt.name}` is applied to `{opt.model}` and `{model}`"
        opt.model = model
        if self.lookup(model, fn) is not self.lookup(model, opt.fn):
            opt.left = f"`{model}` where the optimizer `{opt.name}` is applied is not the `{model}` it is built beside"
        self.applies[id(stmt)] = Apply(stmt, opt.name, grads.value, model, irs, fn)

    def _plan_step(self, grads: list[Gradient]) -> None:
        """One gradient in a function: zero_grad/backward/step. Several: autograd.grad and param.grad."""
        rec = self.rec
        first = grads[0]
        if len(grads) == 1:
            g = first
            uses = [u for u in self.uses.get(g.target, []) if rec.function_of(u) is g.fn]
            applies = [a for a in self.applies.values() if a.grads == g.target and a.fn is g.fn]
            if len(uses) == 1 and len(applies) == 1 and rec.statement_of(uses[0]) is applies[0].stmt:
                a = applies[0]
                opt = self.owned.get(self._owner(cst.Name(a.optimizer), a.fn))
                if a.model == g.model and rec.parent(a.stmt) is rec.parent(g.stmt) and opt is not None and not opt.left:
                    loss = self._expr(g.loss, g.fn)
                    self._replace(g.stmt, [f"{a.optimizer}.zero_grad()", code(tf1_ops.method(loss, "backward"))])
                    self._replace(a.stmt, [f"{a.optimizer}.step()"])
                    return
        block = rec.parent(first.stmt)
        if any(rec.parent(g.stmt) is not block for g in grads):
            for g in grads:
                self._todo(Untranslatable(g.stmt, "tape.gradient", "tape.gradient calls of one function in different "
                                          "blocks are not translated (retain_graph cannot be placed)"))
            return
        order = list(block.body)
        grads = sorted(grads, key=lambda g: order.index(g.stmt))
        for i, g in enumerate(grads):
            # an apply between the tape and this gradient would change the recorded parameters in place
            start, end = self._top_index(order, g.tape.stmt), order.index(g.stmt)
            between = [a for a in self.applies.values() if a.stmt in order[start:end]]
            if between:
                self._todo(Untranslatable(g.stmt, "tape.gradient", f"apply_gradients at line "
                                          f"{rec.pos(between[0].stmt)[0]} runs between the tape and this gradient: "
                                          "torch cannot differentiate through parameters updated in place"))
                continue
            retain = ", retain_graph=True" if i < len(grads) - 1 else ""
            loss = code(self._expr(g.loss, g.fn))
            params = self.params_of(g.model, g.irs)
            self._replace(g.stmt, [f"{g.target} = torch.autograd.grad({loss}, {params}{retain})"])

    def _top_index(self, order, node) -> int:
        while node is not None and node not in order:
            node = self.rec.parent(node)
        return order.index(node) if node is not None else 0

    def _faithful_apply(self, a: Apply) -> None:
        opt = self.owned.get(self._owner(cst.Name(a.optimizer), a.fn))
        if opt is None or opt.left:
            self._todo(Untranslatable(a.stmt, "apply_gradients", f"uses the optimizer `{a.optimizer}`, which stays "
                                      "Keras"))
            return
        if not self._from_gradients(a.grads, a.fn):
            self._todo(Untranslatable(a.stmt, "apply_gradients", f"`{a.grads}` does not come from a translated "
                                      "tape.gradient in this function"))
            return
        param, grad = self._fresh("param", a.fn), self._fresh("grad", a.fn)
        self._replace(a.stmt, [f"for {param}, {grad} in zip({self.params_of(a.model, a.irs)}, {a.grads}):\n"
                               f"    {param}.grad = {grad}\n", f"{a.optimizer}.step()"])

    def _fresh(self, name: str, fn) -> str:
        """``name``, or ``name_``, ... : one the function (the module when None) neither binds nor reads."""
        while (id(fn), name) in self.binds or any(self.rec.function_of(u) is fn for u in self.uses.get(name, [])):
            name += "_"
        return name

    def _from_gradients(self, name: str, fn, seen=frozenset()) -> bool:
        """Whether ``name`` holds translated gradients, or values computed from them (clipped, summed ...)."""
        if name in seen:
            return False
        if any(g.target == name and g.fn is fn and id(g.stmt) in self.lines for g in self.gradients.values()):
            return True
        binds = [b for b in self.binds.get((id(fn), name), []) if b.kind == "assign"]
        return bool(binds) and all(any(self._from_gradients(n, fn, seen | {name}) for n in names_read(b.node))
                                   for b in binds)

    # ------------------------------------------------------------------ statements, in execution order

    def _block(self, stmts, fn, modes: dict[str, str]) -> None:
        """Translate a block; ``modes``: model -> 'train'/'eval' as set by statements before (unknown: absent)."""
        for stmt in stmts:
            if isinstance(stmt, cst.SimpleStatementLine):
                self._simple(stmt, fn, modes)
            elif isinstance(stmt, cst.FunctionDef):
                if not self._in_class(stmt):
                    self._block(stmt.body.body, stmt, {})
            elif isinstance(stmt, cst.ClassDef):
                continue
            elif isinstance(stmt, cst.With) and any(t.stmt is stmt and not t.left for t in self.tapes.values()):
                self._block(stmt.body.body, fn, modes)  # unwrapped: the body runs here
            else:
                self._header(stmt, fn)
                for block in blocks(stmt):
                    self._block(block, fn, {})
                modes.clear()

    def _simple(self, stmt, fn, modes) -> None:
        rec = self.rec
        if id(stmt) in self.lines:
            return  # planned with its step (a gradient, an apply, an optimizer)
        if rec.consumed_within(stmt) or id(stmt) in self.plan.replace_stmt:
            self._forget_modes(stmt, fn, modes)
            return
        small = stmt.body[0] if len(stmt.body) == 1 else None
        if isinstance(small, cst.Del) and self._tape_of(small.target, fn):
            self._replace(stmt, [])  # a persistent tape's release: nothing to release
            return
        if isinstance(small, cst.Assign) and isinstance(small.value, cst.Call) \
                and rec.name(small.value.func) == TF_FUNCTION:
            self._tf_function_call(stmt, small, fn)
            return
        if not self._mine(stmt, fn):
            self._forget_modes(stmt, fn, modes)
            return
        if len(stmt.body) != 1:
            self._todo(Untranslatable(stmt, "statement", "several statements on one line: put each on its own line"))
            return
        eager = _Eager(self, fn)
        try:
            new = stmt.visit(eager)
        except Untranslatable as e:
            self._todo(e)
            self._forget_modes(stmt, fn, modes)
            return
        mode_lines = []
        wanted: dict[str, str] = {}
        for model, mode, node in eager.model_calls:
            if wanted.get(model, mode) != mode:
                self._todo(Untranslatable(node, "model(...)", f"`{model}` is called in training and inference mode in "
                                          "one statement: split it"))
                return
            wanted[model] = mode
        for model, mode in wanted.items():
            if modes.get(model) != mode:
                mode_lines.append(f"{model}.{mode}()")
                modes[model] = mode
        self._replace(stmt, [*mode_lines, code(new.with_changes(leading_lines=[]))])
        self._forget_modes(stmt, fn, modes)

    def _forget_modes(self, stmt, fn, modes) -> None:
        """A statement that calls a function of the script (or a model method) may have switched modes."""
        for c in self.calls_in.get(id(stmt), []):
            f = c.func
            user_function = isinstance(f, cst.Name) and f.value in self.functions and not self.models_of(f, fn)
            if user_function or (isinstance(f, cst.Attribute) and isinstance(f.value, cst.Name)
                                 and f.value.value in self.rec.model_vars):
                modes.clear()
                return

    def _mine(self, stmt, fn) -> bool:
        """Whether this module translates ``stmt``: it holds TF ops, model calls, loss objects or tapes,
        and nothing another part of tfpt translates."""
        rec = self.rec
        mine = False
        for ref in self.refs_in.get(id(stmt), []):
            q = rec.name(ref)
            if q is not None:
                if q in calls.UTILITIES or q in calls.LOAD_MODEL or q.startswith(_OTHERS):
                    return False
                mine = True
            elif isinstance(_head(ref), cst.Name) and (self._tape_of(_head(ref), fn)
                                                       or self._loss_object(_head(ref), fn)):
                mine = True
            elif isinstance(_head(ref), cst.Name) and self._metric_object(_head(ref), fn):
                mine = True  # one that stays Keras too: its updates get a TODO
            elif isinstance(ref, cst.Attribute) and isinstance(ref.value, cst.Name) \
                    and ref.attr.value in _VARIABLE_ATTRS + _OTHER_VARIABLE_ATTRS and self.models_of(ref.value, fn):
                mine = True
        for c in self.calls_in.get(id(stmt), []):
            f = c.func
            if isinstance(f, cst.Attribute) and isinstance(f.value, cst.Name) and f.value.value in rec.model_vars \
                    and f.value.value not in rec.model_funcs:
                return False  # model.fit(...) and the other methods: recognise.py's
            if self.models_of(f, fn) or (isinstance(f, cst.Attribute) and f.attr.value == "numpy" and not c.args
                                         and self.is_tensor(f.value, fn)):
                mine = True
            elif isinstance(f, cst.Name) and f.value not in self.functions and rec.name(f) is None \
                    and any(a.keyword is not None and a.keyword.value == "training" for a in c.args):
                mine = True  # a Keras model tfpt cannot follow: a TODO, not a silent training= in torch code
        return mine

    def _header(self, stmt, fn) -> None:
        """TF ops in a compound statement's header (``if tf.reduce_mean(x) > 0:``) are translated in place."""
        rec = self.rec
        if isinstance(stmt, cst.For) and isinstance(stmt.target, cst.Name) \
                and self.dataset_kind(stmt.iter, fn) == ("single", True):
            self._todo(Untranslatable(stmt.iter, "tf.data", "iterating a mapped one-array dataset yields 1-element "
                                      "lists in torch (the runtime's MapDataset): unpack them "
                                      f"(`for ({stmt.target.value},) in ...`)"))
        parts = [getattr(stmt, n) for n in ("test", "iter", "items") if getattr(stmt, n, None) is not None]
        for part in parts:
            for node in (part if isinstance(part, (list, tuple)) else [part]):
                for c in self._framework_calls(node, stmt):
                    eager = _Eager(self, fn)
                    try:
                        new = c.visit(eager)
                        if eager.model_calls:
                            raise Untranslatable(c, "model(...)", "a model called in a compound statement's header "
                                                 "is not translated: assign its output first")
                    except Untranslatable as e:
                        self._todo(e)
                        continue
                    self.plan.replace(c, lambda _u, new=new: new, code(new))
                    rec.consumed.add(id(c))
                    self.plan.translated += 1

    def _framework_calls(self, node, stmt) -> list[cst.Call]:
        """The outermost calls under ``node`` (a part of ``stmt``'s header) that name a TF op in the table."""
        found = [c for c in self.calls_in.get(id(stmt), [])
                 if self._within(c, node) and self.rec.name(c.func) in tf1_ops.BY_NAME]
        return [c for c in found if not any(o is not c and self._within(c, o) for o in found)]

    def _tf_function_call(self, stmt, small: cst.Assign, fn) -> None:
        """``step = tf.function(step)`` goes; ``fast = tf.function(step)`` becomes ``fast = step``."""
        c = small.value
        if not c.args or c.args[0].keyword is not None or len(small.targets) != 1:
            self._todo(Untranslatable(c, TF_FUNCTION, "tf.function(...) without the function as its first argument"))
            return
        target, func = code(small.targets[0].target), code(c.args[0].value)
        self._replace(stmt, [] if target == func else [f"{target} = {func}"])

    # ------------------------------------------------------------------ plan edits

    def _expr(self, node, fn) -> cst.BaseExpression:
        return node.visit(_Eager(self, fn))

    def _replace(self, stmt, lines: list[str]) -> None:
        self.lines[id(stmt)] = lines
        self.plan.replace_stmt[id(stmt)] = lines
        self.rec.consumed.add(id(stmt))
        self.plan.translated += 1

    def _todo(self, e: Untranslatable) -> None:
        self.rec.todo(e.node, e.construct, e.reason)
        self.rec.consumed.add(id(self.rec.statement_of(e.node)))

    def _finish_unwraps(self) -> None:
        for tape in {id(t.stmt): t for t in self.tapes.values() if not t.left}.values():
            stmt = tape.stmt
            self.plan.unwrap.add(id(stmt))
            for item in stmt.items:
                self.plan.dropped.add(id(item))
                self.rec.consumed.add(id(item))
            node = stmt  # the rewrite walks only paths to edits: this one must be on them
            while node is not None:
                self.plan.edit_paths.add(id(node))
                node = self.rec.parent(node)


# --------------------------------------------------------------------------- expressions


class _Eager(cst.CSTTransformer):
    """Translate one statement (or expression) of eager TF code; raises Untranslatable.

    TF ops go through the op table, loss objects get (prediction, target), model calls
    lose ``training=`` (recorded in ``model_calls`` for the mode lines), ``.numpy()`` of
    a tensor detaches it first.
    """

    def __init__(self, ct: CustomTraining, fn):
        self.ct, self.rec, self.fn = ct, ct.rec, fn
        self.model_calls: list[tuple[str, str, cst.Call]] = []
        self.funcs: set[int] = set()
        self.fused: set[int] = set()
        self.before: dict[int, cst.Call] = {}
        #: ``keras.metrics.Mean()(x)``: id(constructor call) -> its row
        self.inline_metrics: dict[int, metrics.MetricObject] = {}

    def visit_Call(self, node):
        q = self.rec.name(node.func)
        if q is not None:
            self.funcs.add(id(node.func))
        if q in ("tf.reduce_mean", "tf.math.reduce_mean") and len(node.args) == 1 and node.args[0].keyword is None:
            inner = node.args[0].value
            iq = self.rec.name(inner.func) if isinstance(inner, cst.Call) else None
            if iq and iq.startswith("keras.losses.") and iq[13:14].islower():
                self.fused.add(id(inner))
        return True

    def visit_Attribute(self, node):
        return self.rec.name(node) is None

    def leave_Attribute(self, original, updated):
        q = self.rec.name(original)
        if q is not None:
            if id(original) in self.funcs:
                return updated
            dtype = tf1_ops.DTYPES.get(q[3:]) if q.startswith("tf.") else None
            if dtype is not None:
                return cst.parse_expression(dtype)
            if q in tf1_ops.CONSTANTS:
                return cst.parse_expression(tf1_ops.CONSTANTS[q])
            raise Untranslatable(original, q, _reason(q))
        if isinstance(original.value, cst.Name) and self.ct.models_of(original.value, self.fn):
            attr = original.attr.value
            if attr in _VARIABLE_ATTRS + _OTHER_VARIABLE_ATTRS:
                raise Untranslatable(original, f"model.{attr}", f"model.{attr} outside tape.gradient/apply_gradients "
                                     "is not translated: torch's parameters() differ in order and layout")
        return updated

    def leave_Name(self, original, updated):
        if id(original) in self.funcs:
            return updated
        q, parent = self.rec.name(original), self.rec.parent(original)
        if q is not None and not (isinstance(parent, cst.Attribute) and parent.attr is original) \
                and not (isinstance(parent, cst.Arg) and parent.keyword is original):
            if q in tf1_ops.CONSTANTS:  # from tensorflow import newaxis
                return cst.parse_expression(tf1_ops.CONSTANTS[q])
            raise Untranslatable(original, q, _reason(q))
        tape = self.ct._tape_of(original, self.fn)
        if tape is not None:
            method = _method_of(self.rec, original)
            raise Untranslatable(original, f"tape.{method or tape.name}", _TAPE_METHODS.get(
                method, f"the tape `{tape.name}` is used other than by tape.gradient: not translated"))
        return updated

    def leave_Call(self, original, updated):
        self.before[id(original)] = updated
        q = self.rec.name(original.func)
        if q is not None:
            if q in tf1_ops.BY_NAME:
                return self._op(original, updated, q)
            if id(original) in self.fused:
                return self._loss_function(original, updated, q)
            parent = self.rec.parent(original)
            spec = metrics.OBJECTS.get(_metric_class(q))
            if spec is not None and isinstance(parent, cst.Call) and parent.func is original:
                make, _kept = self.ct.metric_constructor(spec, original, self.fn)  # built and called at once
                self.inline_metrics[id(original)] = spec
                self.rec.plan.helpers.add(spec.runtime)
                return make(updated)
            raise Untranslatable(original, q, _reason(q))
        if id(original.func) in self.inline_metrics:
            spec = self.inline_metrics[id(original.func)]
            return self._targets_swapped(original, updated, spec.keras) if spec.targets else updated
        metric = self._metric_receiver(original.func)
        if metric is not None:
            return self._metric_call(original, updated, metric)
        if isinstance(original.func, cst.Name):
            loss = self.ct._loss_object(original.func, self.fn)
            if loss is not None:
                return self._loss_call(original, updated, loss)
            irs = self.ct.models_of(original.func, self.fn)
            if irs:
                return self._model_call(original, updated, irs)
            training = any(a.keyword is not None and a.keyword.value == "training" for a in original.args)
            if original.func.value in self.rec.model_vars or (training and original.func.value not in self.ct.functions):
                raise Untranslatable(original, "model(...)", "calling a model tfpt cannot follow to its translated "
                                     "class (a parameter some caller passes something else, a model kept in Keras)")
        f = original.func
        if isinstance(f, cst.Attribute) and f.attr.value == "numpy" and not original.args \
                and self.ct.is_tensor(f.value, self.fn):
            # TF's eager tensors convert freely; a torch tensor that requires grad must be detached first
            return updated.with_changes(func=updated.func.with_changes(
                value=tf1_ops.method(updated.func.value, "detach")))
        return updated

    def leave_BinaryOperation(self, original, updated):
        p = tf1_ops.precedence(original.with_changes(lpar=[], rpar=[]))
        power = isinstance(original.operator, cst.Power)
        left = updated.left if updated.left is original.left else tf1_ops.operand(updated.left, p, False, power)
        right = updated.right if updated.right is original.right else tf1_ops.operand(updated.right, p, True, power)
        return updated.with_changes(left=left, right=right)

    def leave_UnaryOperation(self, original, updated):
        if updated.expression is original.expression:
            return updated
        p = tf1_ops.precedence(original.with_changes(lpar=[], rpar=[]))
        return updated.with_changes(expression=tf1_ops.operand(updated.expression, p))

    # -- the pieces

    def _op(self, original, updated, q):
        if original.args and id(original.args[0].value) in self.fused:
            return updated.args[0].value  # the loss function already averages
        op = tf1_ops.BY_NAME[q]
        args = _Args(self, op, original, updated, q)
        try:
            return op.build(args)
        except Unsupported as e:
            raise Untranslatable(original, q, str(e)) from None

    def _loss_function(self, original, updated, q):
        """``tf.reduce_mean(keras.losses.binary_crossentropy(y, p))`` -> ``binary_crossentropy(p, y)``."""
        key = training.LOSS_NAMES.get(q.rsplit(".", 1)[1])
        spec = training.LOSSES.get(key) if key else None
        if spec is None:
            raise Untranslatable(original, q, f"{q} is not supported yet")
        params = ("y_true", "y_pred", "from_logits", "label_smoothing", "axis")
        bound, new = _bind(original, params, q), _bind(updated, params, q)
        env = self.ct.env(self.fn)
        from_logits = evaluate(bound["from_logits"], env) if "from_logits" in bound else False
        smoothing = evaluate(bound["label_smoothing"], env) if "label_smoothing" in bound else 0
        axis = evaluate(bound["axis"], env) if "axis" in bound else -1
        if from_logits not in (True, False) or smoothing != 0 or axis != -1 or not {"y_true", "y_pred"} <= set(bound):
            raise Untranslatable(original, q, f"{q}() with other arguments than y_true, y_pred, from_logits is not "
                                 "translated")
        fn = spec.from_logits if from_logits else spec.function
        if fn is None:
            raise Untranslatable(original, q, f"{key}(from_logits=True) is not supported")
        self.rec.plan.helpers.add(fn)
        return tf1_ops.call(fn, new["y_pred"], new["y_true"])

    def _loss_call(self, original, updated, loss: Owned):
        if loss.left:
            raise Untranslatable(original, "loss object", f"uses the loss object `{loss.name}` (line "
                                 f"{self.rec.pos(loss.stmt)[0]}), which stays Keras")
        params = ("y_true", "y_pred", "sample_weight")
        bound, new = _bind(original, params, loss.name), _bind(updated, params, loss.name)
        if not {"y_true", "y_pred"} <= set(bound):
            raise Untranslatable(original, "loss object", "a loss object needs y_true and y_pred")
        args = [cst.Arg(new["y_pred"]), cst.Arg(new["y_true"])]
        if "sample_weight" in new:
            args.append(cst.Arg(new["sample_weight"]))
        return updated.with_changes(args=_commas(args))

    def _metric_receiver(self, func) -> Owned | None:
        """The metric object ``func`` calls (``m(...)``, ``m.update_state(...)``, ``m.result()`` ...), or None."""
        if isinstance(func, cst.Attribute) and func.attr.value in metrics.METHODS:
            func = func.value
        return self.ct._metric_object(func, self.fn)

    def _metric_call(self, original, updated, metric: Owned):
        """Updates of a metric of (y_true, y_pred) take (y_pred, y_true), like the losses; reset_states is
        reset_state; the rest reads the same."""
        method = original.func.attr.value if isinstance(original.func, cst.Attribute) else "update_state"
        if method == "reset_states":
            return updated.with_changes(func=updated.func.with_changes(attr=cst.Name("reset_state")))
        if method != "update_state":
            return updated
        if metric.left:
            raise Untranslatable(original, "metric object", f"updates the metric object `{metric.name}` (line "
                                 f"{self.rec.pos(metric.stmt)[0]}), which stays Keras")
        return self._targets_swapped(original, updated, metric.name) if metric.spec.targets else updated

    def _targets_swapped(self, original, updated, name: str):
        """``m(y_true, y_pred[, sample_weight])`` -> ``m(y_pred, y_true[, sample_weight])``."""
        params = ("y_true", "y_pred", "sample_weight")
        bound, new = _bind(original, params, name), _bind(updated, params, name)
        if not {"y_true", "y_pred"} <= set(bound):
            raise Untranslatable(original, "metric object", f"`{name}` needs y_true and y_pred")
        args = [cst.Arg(new["y_pred"]), cst.Arg(new["y_true"])]
        if "sample_weight" in new:
            args.append(cst.Arg(new["sample_weight"]))
        return updated.with_changes(args=_commas(args))

    def _model_call(self, original, updated, irs):
        key = original.func.value
        mode = None
        args = []
        for a, u in zip(original.args, updated.args):
            if a.keyword is not None and a.keyword.value == "training":
                v = evaluate(a.value, self.ct.env(self.fn))
                if v not in (True, False):
                    raise Untranslatable(a.value, "model(...)", "training= must be a literal True/False: torch sets "
                                         "the mode with model.train()/model.eval()")
                mode = "train" if v else "eval"
                continue
            if a.keyword is not None or a.star:
                raise Untranslatable(original, "model(...)", f"model(..., {code(a).rstrip(', ')}) is not translated")
            if not self.ct.is_tensor(a.value, self.fn):
                raise Untranslatable(original, "model(...)", "calling the model directly: it now takes a torch tensor "
                                     "(torch.as_tensor(x, dtype=torch.float32)) and returns one")
            args.append(u)
        if len(args) != 1:
            raise Untranslatable(original, "model(...)", "a model call with one input tensor is the only form "
                                 "translated")
        if mode is None and self.ct.mode_dependent(irs):
            mode = "eval"  # outside fit, Keras runs Dropout/BatchNorm in inference mode
        if mode is not None:
            if self._deferred(original):
                raise Untranslatable(original, "model(...)", "a model called in a lambda or generator runs later: "
                                     "its train()/eval() cannot be set before the statement")
            self.model_calls.append((key, mode, original))
        return updated.with_changes(args=_commas(args))

    def _deferred(self, node) -> bool:
        """Whether ``node`` runs after its statement (inside a lambda or a generator expression)."""
        while node is not None and not isinstance(node, (cst.SimpleStatementLine, cst.BaseCompoundStatement)):
            if isinstance(node, (cst.Lambda, cst.GeneratorExp)):
                return True
            node = self.rec.parent(node)
        return False


class _Args:
    """The bound arguments of one eager op call, as the op rows read them (``tf1_ops.Args``)."""

    requires_grad = False

    def __init__(self, eager: _Eager, op: tf1_ops.Op, original: cst.Call, updated: cst.Call, q: str):
        self.eager, self.op, self.node, self.q = eager, op, original, q
        limit = _TF2_POSITIONAL.get(q)
        if limit is not None and sum(a.keyword is None for a in original.args) > limit:
            raise Untranslatable(original, q, f"{q}() with more than {limit} positional arguments: name them")
        self.bound = _bind(original, op.params, q)
        self.new = _bind(updated, op.params, q)
        env = eager.ct.env(eager.fn)
        for k, v in self.bound.items():
            if k in op.fixed and k not in op.ignored and evaluate(v, env) != op.fixed[k]:
                raise Untranslatable(v, q, f"{q}({k}={code(v)}) is not translated")

    def has(self, name: str) -> bool:
        return name in self.bound

    def x(self, name: str) -> cst.BaseExpression:
        if name not in self.new:
            raise Unsupported(f"{self.q} needs {name}")
        return self.new[name]

    def value(self, name: str, default=UNKNOWN):
        if name not in self.bound:
            return default
        return evaluate(self.bound[name], self.eager.ct.env(self.eager.fn))

    def rank(self, name: str) -> int | None:
        return None

    def dtype(self, name: str) -> str | None:
        node = self.bound.get(name)
        if node is None or (isinstance(node, cst.Name) and node.value == "None"):
            return None
        rec = self.eager.rec
        q = rec.name(node)
        if q is not None:
            d = tf1_ops.DTYPES.get(q[3:]) if q.startswith("tf.") else None
        elif isinstance(node, cst.SimpleString):
            d = tf1_ops.DTYPES.get(node.evaluated_value)
        else:
            qualified = rec.bindings.qualified(node)
            d = tf1_ops.DTYPES.get(qualified[6:]) if qualified and qualified.startswith("numpy.") else None
        if d is None:
            raise Unsupported(f"dtype {code(node)} is not a TensorFlow dtype tfpt knows")
        return d

    def shape(self, name: str) -> list[cst.BaseExpression]:
        node = self.new.get(name)
        if node is None:
            raise Unsupported(f"{self.q} needs a shape")
        if isinstance(node, (cst.List, cst.Tuple)) and not any(isinstance(e, cst.StarredElement)
                                                                for e in node.elements):
            return [e.value for e in node.elements]
        return [node]

    def inner(self, name: str):
        node = self.bound.get(name)
        if not isinstance(node, cst.Call):
            return None
        q = self.eager.rec.name(node.func)
        op = tf1_ops.BY_NAME.get(q) if q else None
        if op is None or id(node) not in self.eager.before:
            return None
        return q[3:], _Args(self.eager, op, node, self.eager.before[id(node)], q)

    def trainable(self, name: str) -> bool:
        return False  # TF2's softmax_cross_entropy_with_logits lets gradients into the labels

    def note(self, message: str) -> None:
        self.eager.rec.todo(self.node, self.q, message, severity="note")


# --------------------------------------------------------------------------- small helpers


def _bind(node: cst.Call, params: tuple[str, ...], construct: str) -> dict[str, cst.BaseExpression]:
    out: dict[str, cst.BaseExpression] = {}
    positional = [a for a in node.args if a.keyword is None]
    if any(a.star for a in node.args):
        raise Untranslatable(node, construct, f"{construct}(*args/**kwargs) is not translated")
    if len(positional) > len(params):
        raise Untranslatable(node, construct, f"{construct}() with more positional arguments than it takes")
    for p, a in zip(params, positional):
        out[p] = a.value
    for a in node.args:
        if a.keyword is not None:
            k = a.keyword.value
            k = _TF2_KEYWORDS.get(k, k) if k not in params else k
            if k not in params:
                raise Untranslatable(a.value, construct, f"{construct}({a.keyword.value}=...) is not translated")
            out[k] = a.value
    return out


def _commas(args: list[cst.Arg]) -> list[cst.Arg]:
    out = [a.with_changes(comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))) for a in args[:-1]]
    return out + [args[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)] if args else out


def _reason(q: str) -> str:
    best = None
    for prefix, why in _REASONS.items():
        if (q == prefix or q.startswith(prefix + ".")) and (best is None or len(prefix) > len(best[0])):
            best = (prefix, why)
    if best:
        return best[1]
    return tf1_ops.reason_for(q) or f"{q} is not translated yet"


def _method_of(rec, name_node) -> str | None:
    """``name.method(...)``: the method's name, or None."""
    attr = rec.parent(name_node)
    if isinstance(attr, cst.Attribute) and attr.value is name_node:
        c = rec.parent(attr)
        if isinstance(c, cst.Call) and c.func is attr:
            return attr.attr.value
    return None


def _head(node):
    while isinstance(node, cst.Attribute):
        node = node.value
    return node


def _chain(rec, node):
    """``root.m1(...).m2(...)`` -> (root, [m1, m2]); the root is a name or a framework call."""
    methods = []
    while isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) and rec.name(node.func) is None:
        methods.append(node.func.attr.value)
        node = node.func.value
    return node, methods[::-1]


def _params(fn: cst.FunctionDef):
    ps = fn.params
    return [*ps.posonly_params, *ps.params]
