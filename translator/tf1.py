"""TF1 graph programs -> eager PyTorch (placeholders, variables, sessions, minimize).

A TF1 script builds a graph and runs parts of it in a session, feeding arrays to
placeholders. The translation keeps the script's layout and makes it eager:

- placeholders disappear; where ``sess.run`` fed an array, the array becomes a tensor
  (``torch.as_tensor(batch_x, dtype=torch.float32)``);
- ``tf.Variable`` becomes a tensor that requires grad, initialised like TF (the op
  table's factories: zeros exactly, random ops with the same distribution);
- every graph tensor becomes a function of the placeholders it depends on,
  ``def logits(x): return x @ W + b``, recomputed at each use as the session recomputes
  it; a tensor that depends on nothing is computed once;
- ``optimizer.minimize(loss)`` becomes the torch optimizer over the trainable tensors,
  and ``sess.run([train_op, loss], feed_dict=...)`` the step it performs
  (``zero_grad``, ``loss.backward()``, ``step``); other fetches are evaluated under
  ``torch.no_grad()`` before the step, as the session evaluated them;
- sessions, initialisers, ``reset_default_graph`` and graph/name scopes are unwrapped
  or dropped.

Ops go through ``spec/tf1_ops.py``. A construct the table cannot express stays
TensorFlow with a TODO at its line, and so does everything computed from it.
``translate(recogniser)`` is the one entry point (called from ``Recogniser.run``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import libcst as cst

from .evaluate import blocks, code, evaluate, names_read, param_names, target_names
from .spec import tf1_ops
from .spec.tf1_ops import UNKNOWN, Unsupported, call, method

PLACEHOLDER, VARIABLE, TENSOR, CONSTANT, VARLIST = "placeholder", "variable", "tensor", "constant", "variable list"
FEED = "feed dict"
OPTIMIZER, TRAIN, INIT, SESSION, GRAPH = "optimizer", "train op", "initializer", "session", "graph"

#: calls whose statement is dropped: they configure the graph or TensorFlow itself
_DROPPED = frozenset({
    "tf.reset_default_graph", "tf.disable_v2_behavior", "tf.disable_eager_execution", "tf.enable_resource_variables",
    "tf.disable_resource_variables", "tf.logging.set_verbosity",
})
_SESSIONS = frozenset({"tf.Session", "tf.InteractiveSession"})
_INITIALIZERS = frozenset({"tf.global_variables_initializer", "tf.initialize_all_variables",
                           "tf.initializers.global_variables", "tf.variables_initializer",
                           "tf.local_variables_initializer", "tf.initializers.local_variables"})
_SCOPES = frozenset({"tf.name_scope", "tf.variable_scope", "tf.device"})
#: what marks a file as a TF1 graph program (eager TF2 code is left to the rest of tfpt)
_MARKERS = _SESSIONS | {"tf.placeholder", "tf.disable_v2_behavior", "tf.disable_eager_execution"}
_MARKER_NAMES = frozenset(m.rsplit(".", 1)[1] for m in _MARKERS)

_VARIABLE_PARAMS = ("initial_value", "trainable", "collections", "validate_shape", "caching_device", "name",
                    "variable_def", "dtype", "expected_shape", "import_scope", "constraint", "use_resource",
                    "synchronization", "aggregation", "shape")
_MINIMIZE_PARAMS = ("loss", "global_step", "var_list", "gate_gradients", "aggregation_method",
                    "colocate_gradients_with_ops", "name", "grad_loss")

_REMOVED_HOW = {
    PLACEHOLDER: "was a placeholder: the arrays are fed where sess.run fed them, so it no longer exists",
    SESSION: "was the session: there is no session in PyTorch",
    TRAIN: "was a train op: the step is written out where sess.run ran it",
    INIT: "was the variable initializer: torch tensors are initialised when created",
    GRAPH: "was a tf.Graph: PyTorch builds no graph",
}


class Untranslatable(Exception):
    def __init__(self, node: cst.CSTNode, construct: str, reason: str):
        super().__init__(reason)
        self.node, self.construct, self.reason = node, construct, reason


@dataclass(eq=False)
class Def:
    """One name the graph binds: a placeholder, variable, tensor, optimizer, train op ..."""

    name: str
    kind: str
    stmt: cst.CSTNode | None
    order: int
    params: tuple[str, ...] = ()  # placeholders a tensor function takes
    function: bool = False  # a tensor recomputed at each use (it reads variables, placeholders or randomness)
    reads_variables: bool = False  # computed from variables: gradients flow into it
    rank: int | None = None
    dtype: str = "torch.float32"
    trainable: bool = False
    left: str | None = None  # why it stays TensorFlow
    # optimizers and train ops
    row: tf1_ops.OptimizerRow | None = None
    opt_call: cst.Call | None = None
    optimizer: "Def | None" = None
    loss: "Def | None" = None
    torch_name: str = ""
    variables: list[str] = field(default_factory=list)
    last_variable: int = 0  # definition order of the last variable a train op updates
    minimized: int = 0
    feed: cst.Dict | None = None  # a feed dict held in a variable
    inlined: int = 0


class Scope:
    """Graph names bound in the module or in one function; a function's locals shadow outer ones."""

    def __init__(self, parent: "Scope | None", fn: cst.FunctionDef | None, graph: bool):
        self.parent, self.fn, self.graph = parent, fn, graph
        self.defs: dict[str, Def] = {}
        self.locals: set[str] = set()

    def lookup(self, name: str) -> Def | None:
        scope = self
        while scope is not None:
            if name in scope.defs:
                return scope.defs[name]
            if name in scope.locals:
                return None
            scope = scope.parent
        return None

    def visible(self):
        """Every definition visible here, outer scopes first."""
        chain = []
        scope = self
        while scope is not None:
            chain.append(scope)
            scope = scope.parent
        for s in reversed(chain):
            yield from s.defs.values()


def translate(rec) -> None:
    """Plan the translation of the TF1 graph code in the recogniser's module (if it has any)."""
    if not any(m.split(".")[0] == "tensorflow" for m in rec.bindings.imported.values()):
        return
    program = GraphProgram(rec)
    if program.is_graph_program():
        program.run()


class GraphProgram:
    def __init__(self, rec):
        self.rec = rec
        self.plan = rec.plan
        self.order = 0
        self.scopes: dict[cst.FunctionDef | None, Scope] = {}
        self.calls_in: dict[int, list[cst.Call]] = {}
        self.unwrapped: list[cst.With] = []
        self.optimizers: list[Def] = []
        self.trains: list[Def] = []
        self.init_runs = 0
        self.taken: set[str] = set()
        self.defined_functions: list[tuple[cst.CSTNode, list[str]]] = []
        #: helper functions that apply TensorFlow ops: calling one builds graph tensors
        self.graph_helpers: set[str] = set()
        #: helpers with a statement left in TensorFlow -> their line: what calls them stays TensorFlow too
        self.left_helpers: dict[str, int] = {}

    # ------------------------------------------------------------------ names

    def tf_name(self, node) -> str | None:
        """The TF1 spelling of a TensorFlow name (``tf.compat.v1.`` folded away), or None."""
        q = self.rec.name(node)
        if q is None or not (q == "tf" or q.startswith("tf.")):
            return None
        if q.startswith("tf.compat.v1."):
            q = "tf." + q[len("tf.compat.v1."):]
        return q

    def is_graph_program(self) -> bool:
        for c in self.rec.calls:
            f = c.func
            last = f.attr.value if isinstance(f, cst.Attribute) else f.value if isinstance(f, cst.Name) else ""
            # the last name component first: resolving every call's name would cost Keras files time
            if last in _MARKER_NAMES or last.endswith("Optimizer"):
                q = self.tf_name(f)
                if q in _MARKERS or (q and q.startswith("tf.train.") and q.endswith("Optimizer")):
                    return True
        return False

    # ------------------------------------------------------------------ driver

    def run(self) -> None:
        self.taken = set(self.rec.defined_names) | {n.value for n in self.rec.refs if isinstance(n, cst.Name)}
        for c in self.rec.calls:
            stmt = self.rec.statement_of(c)
            self.calls_in.setdefault(id(stmt), []).append(c)
        module = Scope(None, None, graph=True)
        self.scopes[None] = module
        self._block(self.rec.module.body, module, graph_ok=True)
        self._finish_optimizers()
        self._finish_feeds()
        self._finish_unwraps()
        self._finish_layout()
        self._report_removed_names()
        self._report_known_limits()

    def _block(self, stmts, scope: Scope, graph_ok: bool) -> None:
        for stmt in stmts:
            if isinstance(stmt, cst.SimpleStatementLine):
                self._simple(stmt, scope, graph_ok)
            elif isinstance(stmt, cst.With):
                self._with(stmt, scope, graph_ok)
            elif isinstance(stmt, cst.FunctionDef):
                self._function(stmt, scope)
            elif isinstance(stmt, cst.ClassDef):
                continue
            else:
                for block in blocks(stmt):
                    self._block(block, scope, graph_ok=False)

    def _function(self, fn: cst.FunctionDef, parent: Scope) -> None:
        # a function that creates placeholders builds a graph (a main()); others are helpers
        # whose TensorFlow ops run eagerly when a graph tensor calls them
        builds = any(self.tf_name(c.func) == "tf.placeholder" and self.rec.function_of(c) is fn for c in self.rec.calls)
        scope = Scope(parent, fn, graph=builds)
        scope.locals = set(param_names(fn)) | _bound_in(fn)
        self.scopes[fn] = scope
        if not builds and any(self.tf_name(c.func) and self.rec.function_of(c) is fn for c in self.rec.calls):
            self.graph_helpers.add(fn.name.value)
        self._block(fn.body.body, scope, graph_ok=builds)

    def _with(self, stmt: cst.With, scope: Scope, graph_ok: bool) -> None:
        if len(stmt.items) == 1:
            item = stmt.items[0]
            ctx = item.item
            q = self.tf_name(ctx.func) if isinstance(ctx, cst.Call) else None
            as_default = (isinstance(ctx, cst.Call) and isinstance(ctx.func, cst.Attribute)
                          and ctx.func.attr.value == "as_default" and self._is_graph(ctx.func.value, scope))
            if q in _SESSIONS or q in _SCOPES or as_default:
                if q in _SESSIONS:
                    if item.asname is not None and isinstance(item.asname.name, cst.Name):
                        self._define(scope, item.asname.name.value, SESSION, None)
                    self._session_arguments(ctx, q)
                elif item.asname is not None:
                    self._block(stmt.body.body, scope, graph_ok=False)
                    return
                self.unwrapped.append(stmt)
                self.plan.translated += 1
                self._block(stmt.body.body, scope, graph_ok)
                return
        self._block(stmt.body.body, scope, graph_ok=False)

    # ------------------------------------------------------------------ statements

    def _simple(self, stmt: cst.SimpleStatementLine, scope: Scope, graph_ok: bool) -> None:
        calls = self.calls_in.get(id(stmt), [])
        runs = [c for c in calls if self._run_kind(c, scope)]
        if len(stmt.body) != 1:
            if runs or any(self.tf_name(c.func) for c in calls):
                self._todo(stmt.body[0], "statement", "several statements on one line: put each on its own line")
            return
        small = stmt.body[0]
        try:
            if runs:
                self._run_site(stmt, small, runs, scope)
                return
            if isinstance(small, cst.Expr) and isinstance(small.value, cst.Call):
                c = small.value
                q = self.tf_name(c.func)
                if q in _DROPPED or self._is_session_close(c, scope):
                    self._replace(stmt, [])
                    return
            if isinstance(small, cst.Assign) and len(small.targets) == 1 and isinstance(small.targets[0].target, cst.Name):
                if self._is_feed_dict(small.value, scope):
                    self._define(scope, small.targets[0].target.value, FEED, stmt, feed=small.value)
                    return
                if self._definition(stmt, small.targets[0].target.value, small.value, scope, graph_ok):
                    return
            if not scope.graph and any(self._translatable_op(c) for c in calls):
                self._eager_statement(stmt, small, scope)
        except Untranslatable as e:
            self._todo(e.node, e.construct, e.reason)
            if not scope.graph and scope.fn is not None:
                self.left_helpers.setdefault(scope.fn.name.value, self.rec.pos(scope.fn)[0])

    def _is_feed_dict(self, node, scope: Scope) -> bool:
        return isinstance(node, cst.Dict) and bool(node.elements) and all(
            isinstance(e, cst.DictElement) and isinstance(e.key, cst.Name)
            and (d := scope.lookup(e.key.value)) is not None and d.kind == PLACEHOLDER for e in node.elements)

    def _translatable_op(self, c: cst.Call) -> bool:
        q = self.tf_name(c.func)
        return q is not None and (q in tf1_ops.BY_NAME or q == "tf.Variable")

    def _definition(self, stmt, name: str, value, scope: Scope, graph_ok: bool) -> bool:
        """Plan ``name = value`` if it builds the graph; False when it is plain Python."""
        q = self.tf_name(value.func) if isinstance(value, cst.Call) else None
        is_minimize = (isinstance(value, cst.Call) and isinstance(value.func, cst.Attribute)
                       and value.func.attr.value == "minimize" and self._optimizer_of(value.func.value, scope))
        mentions = any(scope.lookup(n) for n in names_read(value))
        tf_calls = any(self.tf_name(c.func) or (isinstance(c.func, cst.Name) and c.func.value in self.graph_helpers)
                       for c in self.calls_in.get(id(stmt), []))
        if not (q or is_minimize or mentions or tf_calls):
            return False
        if not scope.graph:
            return False  # a helper function: its ops are translated in place
        if not graph_ok:
            raise Untranslatable(value, q or "graph", "a graph built inside a loop, branch or `with` block "
                                 "is not translated: build it at the top level of the script or function")
        if name in scope.defs:
            previous = scope.defs[name]
            raise Untranslatable(value, q or "graph", f"`{name}` is rebound (first bound at line {self._line(previous)}): "
                                 "give each graph tensor its own name")
        if q == "tf.placeholder":
            self._placeholder(stmt, name, value, scope)
        elif q in ("tf.Variable", "tf.get_variable"):
            self._variable(stmt, name, value, scope, q)
        elif q in _SESSIONS or q == "tf.Graph":
            self._define(scope, name, SESSION if q in _SESSIONS else GRAPH, stmt)
            self._session_arguments(value, q)
            self._replace(stmt, [])
        elif q in _INITIALIZERS:
            self._define(scope, name, INIT, stmt)
            self._replace(stmt, [])
        elif q is not None and q.startswith("tf.train.") and q.endswith("Optimizer"):
            self._optimizer(stmt, name, value, scope, q)
        elif is_minimize:
            self._minimize(stmt, name, value, scope)
        elif isinstance(value, (cst.List, cst.Tuple)) and value.elements and all(
                isinstance(e.value, cst.Name) and (d := scope.lookup(e.value.value)) and d.kind == VARIABLE
                for e in value.elements):
            d = self._define(scope, name, VARLIST, stmt)
            d.variables = [e.value.value for e in value.elements]
        else:
            self._tensor(stmt, name, value, scope)
        return True

    def _session_arguments(self, c: cst.Call, q: str) -> None:
        if c.args and q in _SESSIONS:
            self.rec.todo(c, q, f"{q}({', '.join(code(a) for a in c.args)}): the session's arguments have no "
                          "torch counterpart and are dropped", severity="note")

    def _define(self, scope: Scope, name: str, kind: str, stmt, **kw) -> Def:
        self.order += 1
        d = Def(name, kind, stmt, self.order, **kw)
        scope.defs[name] = d
        return d

    def _line(self, d: Def) -> int:
        """The line ``d`` was bound at, for messages: positions cost a pass over the module, so only on demand."""
        return self.rec.pos(d.stmt)[0] if d.stmt is not None else 0

    def _left(self, scope: Scope, name: str, kind: str, stmt, e: Untranslatable) -> None:
        d = self._define(scope, name, kind, stmt)
        d.left = f"`{name}` (line {self._line(d)}), which stays TensorFlow"
        self._todo(e.node, e.construct, e.reason)

    # -- placeholders, variables, tensors

    def _placeholder(self, stmt, name, value: cst.Call, scope: Scope) -> None:
        try:
            args = _bind(value, ("dtype", "shape", "name"), "tf.placeholder")
            dtype = self.dtype(args.get("dtype"))
            if dtype is None:
                raise Untranslatable(value, "tf.placeholder", "the placeholder's dtype is not a TensorFlow dtype tfpt knows")
        except Untranslatable as e:
            self._left(scope, name, PLACEHOLDER, stmt, e)
            return
        shape = evaluate(args["shape"], self.env(scope)) if "shape" in args else None
        rank = len(shape) if isinstance(shape, (list, tuple)) else 0 if shape == () else None
        self._define(scope, name, PLACEHOLDER, stmt, rank=rank, dtype=dtype)
        self._replace(stmt, [])

    def _variable(self, stmt, name, value: cst.Call, scope: Scope, q: str) -> None:
        try:
            if q == "tf.get_variable":
                raise Untranslatable(value, q, "tf.get_variable is not translated yet: write tf.Variable(<initial value>)")
            args = _bind(value, _VARIABLE_PARAMS, q)
            for k in args:
                if k not in ("initial_value", "trainable", "name", "dtype", "validate_shape", "use_resource",
                             "expected_shape"):
                    raise Untranslatable(args[k], q, f"tf.Variable({k}=...) is not translated")
            if "initial_value" not in args:
                raise Untranslatable(value, q, "tf.Variable without an initial value")
            trainable = evaluate(args["trainable"], self.env(scope)) if "trainable" in args else True
            if trainable not in (True, False, None):
                raise Untranslatable(args["trainable"], q, "trainable must be a literal True/False")
            expr, rank, grad = self._initial_value(args["initial_value"], args.get("dtype"), trainable is not False, scope)
        except Untranslatable as e:
            self._left(scope, name, VARIABLE, stmt, e)
            return
        self._define(scope, name, VARIABLE, stmt, rank=rank, trainable=grad)
        self._replace(stmt, [f"{name} = {code(expr)}"])

    def _initial_value(self, node, dtype_node, trainable: bool, scope: Scope):
        """(torch expression, rank, requires grad) for a variable's initial value."""
        t = _Translation(self, scope, env={})
        dtype = self.dtype(dtype_node) if dtype_node is not None else None
        if dtype_node is not None and dtype is None:
            raise Untranslatable(dtype_node, "tf.Variable", "the variable's dtype is not a TensorFlow dtype tfpt knows")
        q = self.tf_name(node.func) if isinstance(node, cst.Call) else None
        if q in tf1_ops.BY_NAME and q in _FACTORIES:
            if dtype not in (None, "torch.float32"):
                raise Untranslatable(dtype_node, "tf.Variable", "tf.Variable(dtype=...) over a TensorFlow initial "
                                     "value is not translated: give the initial value the dtype")
            expr = t.call(node, requires_grad=trainable)
            return expr, t.rank_of(node), trainable
        static = evaluate(node, self.env(scope))
        if not t.mentions_graph(node):
            # a Python or numpy value: TF takes its dtype (Python floats become float32, as in torch)
            floating = not (isinstance(static, int) or (isinstance(static, (list, tuple)) and _all_ints(static)))
            grad = trainable and (floating or dtype not in (None, "torch.int32", "torch.int64"))
            expr = call("torch.tensor", t.expr(node), dtype=dtype, requires_grad=True if grad else None)
            return expr, _depth(static), grad
        expr = t.expr(node)
        if any(d.kind in (VARIABLE, PLACEHOLDER) or d.function for d in t.used):
            raise Untranslatable(node, "tf.Variable", "an initial value computed from other variables or "
                                 "placeholders is not translated")
        if dtype is not None:
            expr = method(expr, "to", dtype)
        if isinstance(node, cst.Name):
            expr = method(method(method(expr, "detach"), "clone"), "requires_grad_") if trainable else method(expr, "clone")
        elif trainable:
            expr = method(expr, "requires_grad_")
        return expr, t.rank_of(node), trainable

    def _tensor(self, stmt, name, value, scope: Scope) -> None:
        placeholders = {d.name: cst.Name(d.name) for d in scope.visible() if d.kind == PLACEHOLDER}
        t = _Translation(self, scope, env=placeholders)
        try:
            expr = t.expr(value)
        except Untranslatable as e:
            self._left(scope, name, TENSOR, stmt, e)
            return
        params = t.params()
        function = bool(params) or t.random or t.helpers or any(d.kind == VARIABLE or d.function for d in t.used)
        self._define(scope, name, TENSOR if function else CONSTANT, stmt, params=params, function=function,
                     rank=t.rank_of(value), reads_variables=any(d.kind == VARIABLE or d.reads_variables for d in t.used))
        if function:
            lines = [f"def {name}({', '.join(params)}):\n    return {code(expr)}\n"]
            self.defined_functions.append((stmt, lines))
        else:
            lines = [f"{name} = {code(expr)}"]
        self._replace(stmt, lines)

    def _eager_statement(self, stmt, small, scope: Scope) -> None:
        """A helper function's statement: its ops run eagerly whenever a graph tensor calls it."""
        t = _Translation(self, scope, env=None)
        new = small.visit(_Rewriter(t))
        self._replace(stmt, [code(cst.SimpleStatementLine([new]))])

    # -- optimizers and train ops

    def _optimizer_row(self, node: cst.Call, q: str) -> tf1_ops.OptimizerRow:
        cls = q.rsplit(".", 1)[1]
        row = tf1_ops.OPTIMIZERS.get(cls)
        if row is None:
            raise Untranslatable(node.func, q, tf1_ops.OPTIMIZER_REASONS.get(cls, f"{q} is not translated yet"))
        return row

    def _optimizer_of(self, node, scope: Scope) -> bool:
        if isinstance(node, cst.Name):
            d = scope.lookup(node.value)
            return d is not None and d.kind == OPTIMIZER
        q = self.tf_name(node.func) if isinstance(node, cst.Call) else None
        return bool(q and q.startswith("tf.train.") and q.endswith("Optimizer"))

    def _optimizer(self, stmt, name, value: cst.Call, scope: Scope, q: str) -> None:
        try:
            row = self._optimizer_row(value, q)
        except Untranslatable as e:
            self._left(scope, name, OPTIMIZER, stmt, e)
            return
        d = self._define(scope, name, OPTIMIZER, stmt, row=row, opt_call=value, torch_name=name)
        self.optimizers.append(d)

    def _minimize(self, stmt, name, value: cst.Call, scope: Scope) -> None:
        receiver = value.func.value
        try:
            if isinstance(receiver, cst.Name):
                opt = scope.lookup(receiver.value)
                if opt.left:
                    raise Untranslatable(receiver, "minimize", f"uses {opt.left}")
                if any(t.optimizer is opt for t in self.trains):
                    raise Untranslatable(value, "minimize", f"a second minimize() on `{opt.name}`: one torch "
                                         "optimizer per minimize is not translated yet")
                row, opt_call, torch_name = opt.row, opt.opt_call, opt.name
            else:
                opt = None
                q = self.tf_name(receiver.func)
                row, opt_call = self._optimizer_row(receiver, q), receiver
                torch_name = self._optimizer_name(name)
            args = _bind(value, _MINIMIZE_PARAMS, "minimize")
            for k, v in args.items():
                if k == "global_step":
                    raise Untranslatable(v, "minimize", "minimize(global_step=...) is not translated: count the "
                                         "steps in Python")
                if k in ("grad_loss", "aggregation_method"):
                    raise Untranslatable(v, "minimize", f"minimize({k}=...) is not translated")
            loss = args.get("loss")
            ld = scope.lookup(loss.value) if isinstance(loss, cst.Name) else None
            if ld is None or ld.kind not in (TENSOR, CONSTANT):
                raise Untranslatable(loss if loss is not None else value, "minimize",
                                     "minimize() of something other than a named graph tensor is not translated")
            if ld.left:
                raise Untranslatable(loss, "minimize", f"uses {ld.left}")
            variables = self._var_list(args.get("var_list"), scope)
            if not variables:
                raise Untranslatable(value, "minimize", "no trainable tf.Variable is defined before minimize()")
            ctor = self._optimizer_ctor(row, opt_call, variables, scope)
        except Untranslatable as e:
            self._left(scope, name, TRAIN, stmt, e)
            return
        d = self._define(scope, name, TRAIN, stmt, row=row, optimizer=opt, loss=ld, torch_name=torch_name,
                         variables=variables)
        d.last_variable = max(scope.lookup(v).order for v in variables)
        d.opt_call = ctor  # the constructor text, placed by _finish_optimizers
        self.trains.append(d)
        if opt is not None:
            opt.minimized += 1
        if row.helper:
            self.plan.helpers.add(row.torch)
        self.plan.translated += 1

    def _optimizer_name(self, train: str) -> str:
        if train in ("optimizer", "opt", "optim"):
            return train
        name = "optimizer" if "optimizer" not in self.taken else f"{train}_optimizer"
        self.taken.add(name)
        return name

    def _var_list(self, node, scope: Scope) -> list[str]:
        if node is None:
            # TF1 minimizes every trainable variable created so far
            return [d.name for d in scope.visible() if d.kind == VARIABLE and d.trainable and not d.left]
        if isinstance(node, cst.Name) and (d := scope.lookup(node.value)) and d.kind == VARLIST:
            return list(d.variables)
        if isinstance(node, (cst.List, cst.Tuple)):
            out = []
            for e in node.elements:
                d = scope.lookup(e.value.value) if isinstance(e.value, cst.Name) else None
                if d is None or d.kind != VARIABLE or d.left:
                    raise Untranslatable(e.value, "minimize", f"var_list entry {code(e.value)} is not a translated "
                                         "tf.Variable")
                out.append(d.name)
            return out
        raise Untranslatable(node, "minimize", "var_list must be a literal list of variables")

    def _optimizer_ctor(self, row: tf1_ops.OptimizerRow, opt_call: cst.Call, variables, scope: Scope) -> str:
        q = "tf.train." + row.tf
        args = _bind(opt_call, row.params, q)
        for k, v in args.items():
            if any(scope.lookup(n) for n in names_read(v)):
                raise Untranslatable(v, q, f"{row.tf}({k}=...) is fed through the graph: set "
                                     "optimizer.param_groups[0]['lr'] (or use torch.optim.lr_scheduler) instead")
        missing = [p for p, dv in row.defaults.items() if dv is None and p not in args]
        if missing:
            raise Untranslatable(opt_call, q, f"{row.tf} needs {', '.join(missing)}")
        parts = [f"[{', '.join(variables)}]"]
        written = set()
        for p in row.params:
            if p in tf1_ops.OPTIMIZER_IGNORED:
                continue
            kw = row.keywords.get(p)
            if kw is None or kw in written:
                continue
            if kw == "betas":
                b1, b2 = args.get("beta1"), args.get("beta2")
                if b1 is not None or b2 is not None:
                    parts.append(f"betas=({code(b1) if b1 is not None else 0.9}, {code(b2) if b2 is not None else 0.999})")
                written.add(kw)
                continue
            if p in args:
                parts.append(f"{kw}={code(args[p])}")
            elif p in row.always:
                parts.append(f"{kw}={row.defaults[p]!r}")
            written.add(kw)
        parts += [f"{k}={v!r}" for k, v in row.fixed.items()]
        return f"{row.torch}({', '.join(parts)})"

    def _finish_optimizers(self) -> None:
        for train in self.trains:
            ctor = train.opt_call
            opt = train.optimizer
            if opt is None:
                self._replace(train.stmt, [f"{train.torch_name} = {ctor}"])
                continue
            if train.last_variable > opt.order:  # the torch optimizer needs its tensors: build it at minimize()
                self._replace(opt.stmt, [])
                self._replace(train.stmt, [f"{opt.name} = {ctor}"])
            else:
                self._replace(opt.stmt, [f"{opt.name} = {ctor}"])
                self._replace(train.stmt, [])
        for opt in self.optimizers:
            if not opt.minimized:
                self._todo(opt.opt_call.func, "tf.train." + opt.row.tf, "only an optimizer's minimize(loss) is "
                           "translated: this one has none that could be (compute_gradients/apply_gradients are not "
                           "translated yet)")

    # ------------------------------------------------------------------ sess.run

    def _run_kind(self, c: cst.Call, scope: Scope) -> str | None:
        f = c.func
        if not isinstance(f, cst.Attribute):
            return None
        if f.attr.value == "run":
            if isinstance(f.value, cst.Name):
                d = scope.lookup(f.value.value)
                if d is not None and d.kind == SESSION:
                    return "session"
                if d is not None and d.kind in (TRAIN, INIT):
                    return "op"
                if d is None and c.args and self._mentions(c.args[0].value, scope):
                    return "session"  # a session passed in as a parameter
            if isinstance(f.value, cst.Call) and self.tf_name(f.value.func) in _INITIALIZERS:
                return "op"
            return None
        if f.attr.value == "eval" and self._mentions(f.value, scope):
            return "eval"
        return None

    def _mentions(self, node, scope: Scope) -> bool:
        return any(scope.lookup(n) for n in names_read(node)) or any(
            self.tf_name(c) for c in _calls_in(node))

    def _run_parts(self, c: cst.Call, kind: str):
        """(fetches, feed_dict) of a run/eval call."""
        if kind == "session":
            args = _bind(c, ("fetches", "feed_dict", "options", "run_metadata"), "sess.run")
            for k in ("options", "run_metadata"):
                if k in args:
                    raise Untranslatable(args[k], "sess.run", f"sess.run({k}=...) is not translated")
            if "fetches" not in args:
                raise Untranslatable(c, "sess.run", "sess.run() without fetches")
            return args["fetches"], args.get("feed_dict")
        args = _bind(c, ("feed_dict", "session"), f".{c.func.attr.value}()")
        return c.func.value, args.get("feed_dict")

    def _feeds(self, feed, scope: Scope) -> dict[str, cst.BaseExpression]:
        if feed is None or (isinstance(feed, cst.Name) and feed.value == "None"):
            return {}
        if isinstance(feed, cst.Name) and (d := scope.lookup(feed.value)) is not None and d.kind == FEED:
            if not self._same_values(d, feed):
                raise Untranslatable(feed, "feed_dict", f"the feed dict `{d.name}` (line {self._line(d)}) cannot be "
                                     "inlined here (what it reads may have changed since): write the dict in the call")
            d.inlined += 1
            feed = d.feed
        if not isinstance(feed, cst.Dict):
            raise Untranslatable(feed, "feed_dict", "feed_dict must be a dict literal ({placeholder: array, ...}) "
                                 "to be translated")
        env = {}
        for el in feed.elements:
            if not isinstance(el, cst.DictElement):
                raise Untranslatable(feed, "feed_dict", "feed_dict with ** is not translated")
            d = scope.lookup(el.key.value) if isinstance(el.key, cst.Name) else None
            if d is None or d.kind != PLACEHOLDER:
                raise Untranslatable(el.key, "feed_dict", f"feeds {code(el.key)}, which is not a placeholder "
                                     "(feeding a computed tensor replaces it in TF): not translated")
            if d.left:
                raise Untranslatable(el.key, "feed_dict", f"feeds {d.left}")
            env[d.name] = call("torch.as_tensor", el.value, dtype=d.dtype)
        return env

    def _run_site(self, stmt, small, runs: list[cst.Call], scope: Scope) -> None:
        whole = (small.value if isinstance(small, (cst.Expr, cst.Assign)) else None)
        if len(runs) == 1 and whole is runs[0]:
            kind = self._run_kind(runs[0], scope)
            fetches, feed = self._run_parts(runs[0], kind)
            items = list(fetches.elements) if isinstance(fetches, (cst.List, cst.Tuple)) else None
            nodes = [e.value for e in items] if items is not None else [fetches]
            if items is not None and any(isinstance(e, cst.StarredElement) for e in items):
                raise Untranslatable(fetches, "sess.run", "starred fetches are not translated")
            roles = [self._role(n, scope) for n in nodes]
            if INIT in roles:
                if any(r != INIT for r in roles) or isinstance(small, cst.Assign):
                    raise Untranslatable(fetches, "sess.run", "running the initializer with other fetches is not "
                                         "translated")
                self._init_run(stmt, runs[0])
                return
            targets = self._targets(small, nodes, items is not None)
            env = self._feeds(feed, scope)
            if TRAIN in roles:
                self._step(stmt, nodes, roles, targets, env, scope)
            else:
                self._evaluate(stmt, nodes, targets, env, scope, items is not None)
            return
        # fetches inside a larger expression: evaluate them in place, under no_grad
        replacements = {}
        for c in runs:
            kind = self._run_kind(c, scope)
            fetches, feed = self._run_parts(c, kind)
            nodes = [e.value for e in fetches.elements] if isinstance(fetches, (cst.List, cst.Tuple)) else [fetches]
            if any(self._role(n, scope) in (TRAIN, INIT) for n in nodes):
                raise Untranslatable(c, "sess.run", "a train op or initializer run inside an expression is not "
                                     "translated: run it as a statement of its own")
            env = self._feeds(feed, scope)
            values = [self._fetch(n, env, scope) for n in nodes]
            value = values[0] if not isinstance(fetches, (cst.List, cst.Tuple)) else cst.List(
                [cst.Element(v) for v in values])
            replacements[id(c)] = value
        new = stmt.with_changes(leading_lines=[]).visit(_ReplaceCalls(replacements))
        self._replace(stmt, [code(_no_grad([new]))])

    def _same_values(self, d: Def, use) -> bool:
        """Whether the values the feed dict read are still what they were where it was built."""
        block = self.rec.parent(d.stmt)
        top = self.rec.statement_of(use)
        while top is not None and self.rec.parent(top) is not block:
            top = self.rec.parent(top)
        if top is None or not isinstance(block, (cst.Module, cst.IndentedBlock)):
            return False
        body = list(block.body)
        start, end = body.index(d.stmt), body.index(top)
        if end <= start:
            return False
        read = {n for e in d.feed.elements for n in names_read(e.value)}
        between = body[start + 1:end] + ([top] if not isinstance(top, cst.SimpleStatementLine) else [])
        return not any(read & _binds(s) for s in between)

    def _role(self, node, scope: Scope) -> str | None:
        if isinstance(node, cst.Name):
            d = scope.lookup(node.value)
            if d is not None:
                if d.left:
                    raise Untranslatable(node, "sess.run", f"fetches {d.left}")
                if d.kind in (TRAIN, INIT):
                    return d.kind
                if d.kind in (OPTIMIZER, SESSION):
                    raise Untranslatable(node, "sess.run", f"fetching the {d.kind} `{d.name}` is not translated")
        if isinstance(node, cst.Call) and self.tf_name(node.func) in _INITIALIZERS:
            return INIT
        return None

    def _targets(self, small, nodes, is_list: bool) -> list[str | None] | str | None:
        """Assignment targets per fetch (None: discarded); a str: one target for the whole list."""
        if isinstance(small, cst.Expr):
            return [None] * len(nodes)
        if len(small.targets) != 1:
            raise Untranslatable(small, "sess.run", "chained assignment of sess.run results is not translated")
        target = small.targets[0].target
        if is_list and isinstance(target, (cst.Tuple, cst.List)):
            if len(target.elements) != len(nodes) or any(isinstance(e, cst.StarredElement) for e in target.elements):
                raise Untranslatable(target, "sess.run", "the targets do not line up with the fetches")
            return [None if _is_underscore(e.value) else code(e.value) for e in target.elements]
        if is_list:
            return code(target)
        return [None if _is_underscore(target) else code(target)]

    def _fetch(self, node, env, scope: Scope) -> cst.BaseExpression:
        """A fetched value as sess.run returns it: a Python number for scalars, else a numpy array."""
        t = _Translation(self, scope, env=env)
        expr = t.expr(node)
        rank = t.rank_of(node)
        if isinstance(node, cst.Name) and (d := scope.lookup(node.value)) and d.kind == VARIABLE:
            # a copy: sess.run returned a snapshot, while the tensor keeps training in place
            return method(expr, "item") if rank == 0 else method(method(method(expr, "detach"), "clone"), "numpy")
        return method(expr, "item") if rank == 0 else method(expr, "numpy")

    def _evaluate(self, stmt, nodes, targets, env, scope: Scope, is_list: bool) -> None:
        values = [self._fetch(n, env, scope) for n in nodes]
        if isinstance(targets, str):
            body = f"{targets} = [{', '.join(code(v) for v in values)}]"
        else:
            kept = [(t, v) for t, v in zip(targets, values) if t is not None]
            if not kept:
                body = "; ".join(code(v) for v in values) if values else "pass"
            else:
                body = _assignments(kept)
        self._replace(stmt, [code(_no_grad([cst.parse_statement(line) for line in body.splitlines()]))])

    def _step(self, stmt, nodes, roles, targets, env, scope: Scope) -> None:
        if isinstance(targets, str):
            raise Untranslatable(stmt.body[0], "sess.run", "assign the results of a training run to one name per "
                                 "fetch (`_, loss_value = sess.run([train_op, loss], ...)`)")
        trains = [n for n, r in zip(nodes, roles) if r == TRAIN]
        if len(trains) > 1:
            raise Untranslatable(trains[1], "sess.run", "two train ops in one run are not translated")
        train = scope.lookup(trains[0].value)
        loss = train.loss
        try:
            loss_value = _Translation(self, scope, env=env).expr(cst.Name(loss.name))
        except Untranslatable as e:
            raise Untranslatable(trains[0], e.construct, f"the loss of `{train.name}`: {e.reason}") from None
        before, loss_target = [], None
        for node, role, target in zip(nodes, roles, targets):
            if role == TRAIN or target is None:
                continue
            if isinstance(node, cst.Name) and node.value == loss.name and loss_target is None:
                loss_target = target
                continue
            before.append((target, self._fetch(node, env, scope)))
        opt = train.torch_name
        lines = []
        if before:
            lines.append(code(_no_grad([cst.parse_statement(line) for line in _assignments(before).splitlines()])))
        lines.append(f"{opt}.zero_grad()")
        if loss_target is not None:
            lines += [f"{loss_target} = {code(loss_value)}", f"{loss_target}.backward()"]
        else:
            lines.append(f"{code(method(loss_value, 'backward'))}")
        lines.append(f"{opt}.step()")
        if loss_target is not None:
            convert = "item" if loss.rank == 0 else "detach().numpy"
            lines.append(f"{loss_target} = {loss_target}.{convert}()")
        train_target = targets[roles.index(TRAIN)]
        if train_target is not None:
            lines.append(f"{train_target} = None")
        self._replace(stmt, lines)
        self.plan.translated += 1

    def _init_run(self, stmt, c: cst.Call) -> None:
        self.init_runs += 1
        if self.init_runs > 1 or self._in_loop(stmt):
            raise Untranslatable(c, "sess.run", "the variables are initialised again here: the torch tensors keep "
                                 "their values (re-create them to start over)")
        self._replace(stmt, [])

    def _in_loop(self, stmt) -> bool:
        node = self.rec.parent(stmt)
        while node is not None and not isinstance(node, (cst.Module, cst.FunctionDef)):
            if isinstance(node, (cst.For, cst.While)):
                return True
            node = self.rec.parent(node)
        return False

    def _is_graph(self, node, scope: Scope) -> bool:
        """``tf.Graph()``, ``tf.get_default_graph()`` or a name bound to a tf.Graph()."""
        if isinstance(node, cst.Call):
            return self.tf_name(node.func) in ("tf.Graph", "tf.get_default_graph")
        d = scope.lookup(node.value) if isinstance(node, cst.Name) else None
        return d is not None and d.kind == GRAPH

    def _is_session_close(self, c: cst.Call, scope: Scope) -> bool:
        f = c.func
        return (isinstance(f, cst.Attribute) and f.attr.value == "close" and isinstance(f.value, cst.Name)
                and (d := scope.lookup(f.value.value)) is not None and d.kind == SESSION)

    # ------------------------------------------------------------------ plan edits and reports

    def _replace(self, stmt, lines: list[str]) -> None:
        comment = stmt.trailing_whitespace.comment if isinstance(stmt, cst.SimpleStatementLine) else None
        if lines and comment is not None:
            # on the statement's own line: inside a `with torch.no_grad():` it wraps
            header = lines[0].startswith("with torch.no_grad():\n") and len(lines[0].splitlines()) == 2
            head, sep, rest = lines[0].partition("\n")
            if header:
                lines = [f"{head}\n{rest.rstrip(chr(10))}  {comment.value}\n", *lines[1:]]
            else:
                lines = [f"{head}  {comment.value}{sep}{rest}", *lines[1:]]
        self.plan.replace_stmt[id(stmt)] = lines
        self.rec.consumed.add(id(stmt))
        self.plan.translated += 1

    def _finish_feeds(self) -> None:
        """A feed dict every use of which was inlined goes away."""
        for scope in self.scopes.values():
            for d in scope.defs.values():
                if d.kind != FEED or not d.inlined:
                    continue
                uses = [r for r in self.rec.refs if isinstance(r, cst.Name) and r.value == d.name
                        and not isinstance(self.rec.parent(r), cst.AssignTarget) and not self._removed(r)]
                if not uses:
                    self._replace(d.stmt, [])

    def _finish_layout(self) -> None:
        """A blank line before each function a tensor became, and before what follows it."""
        replaced = self.plan.replace_stmt
        for stmt, lines in list(self.defined_functions):
            parent = self.rec.parent(stmt)
            # module level only (a blank line inside a block would carry the block's indentation)
            body = list(parent.body) if self._ends_at_module_level(parent) else []
            if stmt not in body:
                continue
            i = body.index(stmt)
            following = next((s for s in body[i + 1:] if replaced.get(id(s)) != []), None)
            for s in (stmt, following):
                if s is None or not replaced.get(id(s)) or s.leading_lines or body.index(s) == 0:
                    continue
                first = replaced[id(s)][0]
                if not first.startswith(("\n", "#")):
                    replaced[id(s)] = ["\n" + first, *replaced[id(s)][1:]]

    def _ends_at_module_level(self, block) -> bool:
        """Whether statements of ``block`` end up at module level (inside unwrapped ``with`` blocks only)."""
        while isinstance(block, cst.IndentedBlock):
            owner = self.rec.parent(block)
            if owner not in self.unwrapped:
                return False
            block = self.rec.parent(owner)
        return isinstance(block, cst.Module)

    def _todo(self, node, construct: str, reason: str) -> None:
        self.rec.todo(node, construct, reason)

    def _finish_unwraps(self) -> None:
        for stmt in self.unwrapped:
            self.plan.unwrap.add(id(stmt))
            item = stmt.items[0]
            self.plan.dropped.add(id(item))
            self.rec.consumed.add(id(item))
            # the rewrite only walks paths to edits: this one must be on them with all its ancestors
            node = stmt
            while node is not None:
                self.plan.edit_paths.add(id(node))
                node = self.rec.parent(node)

    def _removed(self, node) -> bool:
        removed = self.plan.dropped
        while node is not None:
            if id(node) in self.plan.replace_stmt or id(node) in removed:
                return True
            node = self.rec.parent(node)
        return False

    def _report_removed_names(self) -> None:
        """Code left in place that still reads a placeholder, the session or a train op would break."""
        for ref in self.rec.refs:
            head = ref
            while isinstance(head, cst.Attribute):
                head = head.value
            if not isinstance(head, cst.Name) or self._removed(ref):
                continue
            scope = self.scopes.get(self.rec.function_of(ref))
            d = scope.lookup(head.value) if scope is not None else None
            if d is None or d.left or d.kind not in _REMOVED_HOW:
                continue
            parent = self.rec.parent(ref)
            if isinstance(parent, (cst.AssignTarget, cst.AsName)) or (isinstance(parent, cst.For) and parent.target is ref):
                continue
            stmt = self.rec.statement_of(ref)
            if stmt is not None and id(stmt) in self.plan.todos:
                continue
            self._todo(ref, d.kind, f"`{d.name}` {_REMOVED_HOW[d.kind]} (line {self._line(d) or self.rec.pos(ref)[0]})")

    def _report_known_limits(self) -> None:
        """TensorFlow names left in place whose limit the table explains get that reason."""
        for ref in self.rec.refs:
            q = self.tf_name(ref)
            if q is None or self.rec.consumed_within(ref) or self._removed(ref):
                continue
            stmt = self.rec.statement_of(ref)
            if stmt is not None and id(stmt) in self.plan.todos:
                continue
            why = tf1_ops.reason_for(q)
            if why is not None:
                self._todo(ref, q, why)
                self.rec.consumed.add(id(ref))

    # ------------------------------------------------------------------ values

    def env(self, scope: Scope):
        return self.rec.constants.scope(scope.fn)

    def dtype(self, node) -> str | None:
        """torch dtype text for ``tf.float32``, ``"float32"`` or ``np.float32``; None if unknown."""
        if node is None:
            return None
        q = self.tf_name(node)
        if q is not None:
            return tf1_ops.DTYPES.get(q[3:]) if q.startswith("tf.") else None
        if isinstance(node, cst.SimpleString):
            return tf1_ops.DTYPES.get(node.evaluated_value)
        qualified = self.rec.bindings.qualified(node)
        if qualified and qualified.startswith("numpy."):
            return tf1_ops.DTYPES.get(qualified[len("numpy."):])
        return None


_FACTORIES = frozenset({"tf.zeros", "tf.ones", "tf.fill", "tf.constant", "tf.random_normal", "tf.random.normal",
                        "tf.truncated_normal", "tf.random.truncated_normal", "tf.random_uniform", "tf.random.uniform"})


# --------------------------------------------------------------------------- expressions


class _Translation:
    """Translate one graph expression: ops through the table, graph names through ``env``.

    ``env`` maps a placeholder to what stands for it: the function parameter inside a
    tensor function, the fed array at a sess.run site. ``used`` collects the graph
    definitions read (their placeholders become the function's parameters).
    """

    def __init__(self, program: GraphProgram, scope: Scope, env: dict | None):
        self.p, self.scope, self.env = program, scope, env
        self.used: list[Def] = []
        self.random = False
        self.helpers = False  # calls a helper that applies TensorFlow ops (it may read variables)

    def expr(self, node) -> cst.BaseExpression:
        return node.visit(_Rewriter(self))

    def params(self) -> tuple[str, ...]:
        names = set()
        for d in self.used:
            if d.kind == PLACEHOLDER:
                names.add(d.name)
            names.update(d.params)
        placeholders = [d for d in self.scope.visible() if d.kind == PLACEHOLDER]
        return tuple(d.name for d in sorted(placeholders, key=lambda d: d.order) if d.name in names)

    def mentions_graph(self, node) -> bool:
        return self.p._mentions(node, self.scope)

    def _use(self, d: Def, node) -> None:
        if d.left:
            raise Untranslatable(node, d.kind, f"uses {d.left}")
        if d not in self.used:
            self.used.append(d)

    def name(self, node: cst.Name) -> cst.BaseExpression:
        d = self.scope.lookup(node.value)
        if d is None:
            return node
        self._use(d, node)
        if d.kind == PLACEHOLDER:
            if self.env is None:
                raise Untranslatable(node, "placeholder", f"a helper function that reads the placeholder `{d.name}` "
                                     "directly is not translated: pass it in as an argument")
            if d.name not in self.env:
                raise Untranslatable(node, "placeholder", f"the placeholder `{d.name}` is not fed here")
            return self.env[d.name]
        if d.kind == TENSOR:
            if self.env is None and d.params:
                raise Untranslatable(node, "tensor", f"a helper function that reads the graph tensor `{d.name}` "
                                     "directly is not translated: pass it in as an argument")
            missing = [p for p in d.params if p not in (self.env or {})]
            if missing:
                raise Untranslatable(node, "placeholder", f"`{d.name}` needs the placeholder `{missing[0]}`, "
                                     "which is not fed here")
            return call(d.name, *(self.env[p] for p in d.params))
        if d.kind in (VARIABLE, CONSTANT, VARLIST):
            return node
        raise Untranslatable(node, d.kind, f"the {d.kind} `{d.name}` inside an expression is not translated")

    def attribute(self, node: cst.Attribute) -> cst.BaseExpression:
        q = self.p.tf_name(node)
        if q is not None:
            dtype = tf1_ops.DTYPES.get(q[3:])
            if dtype is not None:
                return cst.parse_expression(dtype)
            if q == "tf.newaxis":
                return cst.Name("None")
            raise Untranslatable(node, q, tf1_ops.reason_for(q) or f"{q} is not translated yet")
        head = node
        while isinstance(head, cst.Attribute):
            head = head.value
        if isinstance(head, cst.Name) and self.scope.lookup(head.value) is not None:
            raise Untranslatable(node, "graph", f"{code(node)}: attributes of graph tensors (static shapes, ops) "
                                 "are not translated")
        if isinstance(head, (cst.Call, cst.BinaryOperation, cst.Subscript)) and self.mentions_graph(head):
            raise Untranslatable(node, "graph", f"{code(node)}: attributes of graph tensors are not translated")
        return node

    def call(self, node: cst.Call, requires_grad: bool = False) -> cst.BaseExpression:
        q = self.p.tf_name(node.func)
        if q is not None:
            op = tf1_ops.BY_NAME.get(q)
            if q == "tf.Variable":
                raise Untranslatable(node.func, q, "a tf.Variable created inside an expression or a helper function "
                                     "is not translated: create it with its own name at the top of the graph")
            if op is None:
                raise Untranslatable(node.func, q, tf1_ops.reason_for(q) or f"{q} is not translated yet")
            if q in tf1_ops.RANDOM:
                self.random = True
            args = _Args(self, op, node, q, requires_grad)
            try:
                return op.build(args)
            except Unsupported as e:
                raise Untranslatable(node, q, str(e)) from None
        func = node.func
        keras = self.p.rec.name(func) or _called_framework_object(self.p, func)
        if keras is not None:
            raise Untranslatable(node, keras, "Keras layers and models applied to graph tensors are not "
                                 "translated: write the weights as tensors, or build an nn.Module")
        if isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name) and (
                d := self.scope.lookup(func.value.value)) is not None and d.kind not in (TENSOR, CONSTANT):
            raise Untranslatable(node, d.kind, f"{code(func)}(): methods of the {d.kind} `{d.name}` are not translated")
        if isinstance(func, cst.Attribute) and self.mentions_graph(func.value):
            raise Untranslatable(node, "graph", f"the method .{func.attr.value}() of a graph tensor is not translated")
        if isinstance(func, cst.Name) and func.value in self.p.left_helpers and self.scope.lookup(func.value) is None:
            raise Untranslatable(node, "helper", f"calls `{func.value}` (line {self.p.left_helpers[func.value]}), "
                                 "which stays TensorFlow")
        if isinstance(func, cst.Name) and func.value in self.p.graph_helpers:
            self.helpers = True
        new_func = func if isinstance(func, cst.Name) else self.attribute(func) if isinstance(func, cst.Attribute) \
            else self.expr(func)
        return node.with_changes(func=new_func, args=[a.with_changes(value=self.expr(a.value)) for a in node.args])

    def rank_of(self, node) -> int | None:
        if isinstance(node, (cst.Integer, cst.Float)):
            return 0
        if isinstance(node, cst.Name):
            d = self.scope.lookup(node.value)
            if d is not None:
                return d.rank
            v = evaluate(node, self.p.env(self.scope))
            return 0 if isinstance(v, (int, float)) else None
        if isinstance(node, cst.UnaryOperation):
            return self.rank_of(node.expression)
        if isinstance(node, cst.BinaryOperation):
            ranks = [self.rank_of(node.left), self.rank_of(node.right)]
            return None if None in ranks else max(ranks)
        if isinstance(node, cst.Comparison):
            ranks = [self.rank_of(node.left), *(self.rank_of(t.comparator) for t in node.comparisons)]
            return None if None in ranks else max(ranks)
        if isinstance(node, cst.Call):
            q = self.p.tf_name(node.func)
            op = tf1_ops.BY_NAME.get(q) if q else None
            if op is not None:
                try:
                    return op.rank(_Args(self, op, node, q, False))
                except (Unsupported, Untranslatable):
                    return None
        return None


class _Args:
    """The bound arguments of one op call, as the spec rows read them (``tf1_ops.Args``)."""

    def __init__(self, t: _Translation, op: tf1_ops.Op, node: cst.Call, q: str, requires_grad: bool):
        self.t, self.op, self.node, self.q, self.requires_grad = t, op, node, q, requires_grad
        self.bound = _bind(node, op.params, q)
        self._translated: dict[str, cst.BaseExpression] = {}
        for k, v in self.bound.items():
            if k in op.ignored:
                continue
            if k in op.fixed:
                given = evaluate(v, t.p.env(t.scope))
                if given != op.fixed[k]:
                    raise Untranslatable(v, q, f"{q}({k}={code(v)}) is not translated")

    def has(self, name: str) -> bool:
        return name in self.bound

    def x(self, name: str) -> cst.BaseExpression:
        if name not in self.bound:
            raise Unsupported(f"{self.q} needs {name}")
        if name not in self._translated:
            self._translated[name] = self.t.expr(self.bound[name])
        return self._translated[name]

    def value(self, name: str, default=UNKNOWN):
        if name not in self.bound:
            return default
        return evaluate(self.bound[name], self.t.p.env(self.t.scope))

    def rank(self, name: str) -> int | None:
        return self.t.rank_of(self.bound[name]) if name in self.bound else None

    def dtype(self, name: str) -> str | None:
        if name not in self.bound:
            return None
        node = self.bound[name]
        if isinstance(node, cst.Name) and node.value == "None":
            return None
        d = self.t.p.dtype(node)
        if d is None:
            raise Unsupported(f"dtype {code(node)} is not a TensorFlow dtype tfpt knows")
        return d

    def shape(self, name: str) -> list[cst.BaseExpression]:
        node = self.bound.get(name)
        if node is None:
            raise Unsupported(f"{self.q} needs a shape")
        if isinstance(node, (cst.List, cst.Tuple)) and not any(isinstance(e, cst.StarredElement) for e in node.elements):
            return [self.t.expr(e.value) for e in node.elements]
        return [self.t.expr(node)]

    def inner(self, name: str):
        node = self.bound.get(name)
        if not isinstance(node, cst.Call):
            return None
        q = self.t.p.tf_name(node.func)
        op = tf1_ops.BY_NAME.get(q) if q else None
        if op is None:
            return None
        return q[3:], _Args(self.t, op, node, q, False)

    def trainable(self, name: str) -> bool:
        if name not in self.bound:
            return False
        probe = _Translation(self.t.p, self.t.scope, self.t.env)
        probe.expr(self.bound[name])
        return any(d.kind == VARIABLE or d.reads_variables for d in probe.used)

    def note(self, message: str) -> None:
        self.t.p.rec.todo(self.node, self.q, message, severity="note")


class _ReplaceCalls(cst.CSTTransformer):
    def __init__(self, replacements: dict[int, cst.BaseExpression]):
        self.replacements = replacements

    def leave_Call(self, original, updated):
        return self.replacements.get(id(original), updated)


class _Rewriter(cst.CSTTransformer):
    """Walks an expression: calls, names and attributes go to the translation; operators get
    parentheses where a translated operand needs them (``tf.matmul(a, b) ** 2`` -> ``(a @ b) ** 2``)."""

    def __init__(self, t: _Translation):
        self.t = t

    def visit_Call(self, node):
        return False

    def leave_Call(self, original, updated):
        return self.t.call(original)

    def visit_Attribute(self, node):
        return False

    def leave_Attribute(self, original, updated):
        return self.t.attribute(original)

    def leave_Name(self, original, updated):
        return self.t.name(original)

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

    def leave_Comparison(self, original, updated):
        left = updated.left if updated.left is original.left else tf1_ops.operand(updated.left, 4)
        comps = [c if c.comparator is o.comparator else c.with_changes(comparator=tf1_ops.operand(c.comparator, 4, True))
                 for c, o in zip(updated.comparisons, original.comparisons)]
        return updated.with_changes(left=left, comparisons=comps)

    def leave_Subscript(self, original, updated):
        if updated.value is original.value or tf1_ops.precedence(updated.value) == tf1_ops.ATOM:
            return updated
        return updated.with_changes(value=tf1_ops.parens(updated.value))


# --------------------------------------------------------------------------- small helpers


def _bind(node: cst.Call, params: tuple[str, ...], construct: str) -> dict[str, cst.BaseExpression]:
    out: dict[str, cst.BaseExpression] = {}
    positional = [a for a in node.args if a.keyword is None]
    if any(a.star for a in node.args):
        raise Untranslatable(node, construct, f"{construct}(*args/**kwargs) is not translated")
    if len(positional) > len(params):
        raise Untranslatable(node, construct, f"{construct}() with more positional arguments than TF1 takes")
    for p, a in zip(params, positional):
        out[p] = a.value
    for a in node.args:
        if a.keyword is not None:
            k = a.keyword.value
            if k not in params:
                raise Untranslatable(a.value, construct, f"{construct}({k}=...) is not translated")
            out[k] = a.value
    return out


def _assignments(pairs: list[tuple[str, cst.BaseExpression]]) -> str:
    """``a = x`` lines, or one tuple assignment when a later value reads an earlier target."""
    bound: set[str] = set()
    for target, value in pairs:
        if bound & set(names_read(value)):
            return f"{', '.join(t for t, _ in pairs)} = {', '.join(code(v) for _, v in pairs)}"
        bound |= set(names_read(cst.parse_expression(target)))
    return "\n".join(f"{t} = {code(v)}" for t, v in pairs)


def _binds(stmt) -> set[str]:
    """Names a statement (re)binds anywhere inside it."""
    out: set[str] = set()

    class V(cst.CSTVisitor):
        def visit_AssignTarget(self, n):
            out.update(target_names(n.target))

        def visit_AugAssign(self, n):
            out.update(target_names(n.target))

        def visit_AnnAssign(self, n):
            out.update(target_names(n.target))

        def visit_For(self, n):
            out.update(target_names(n.target))

        def visit_AsName(self, n):
            out.update(target_names(n.name))

        def visit_NamedExpr(self, n):
            out.update(target_names(n.target))

    stmt.visit(V())
    return out


def _no_grad(stmts) -> cst.With:
    return cst.With([cst.WithItem(cst.parse_expression("torch.no_grad()"))], cst.IndentedBlock(list(stmts)))


def _is_underscore(node) -> bool:
    return isinstance(node, cst.Name) and node.value == "_"


def _all_ints(v) -> bool:
    if isinstance(v, (list, tuple)):
        return all(_all_ints(x) for x in v)
    return isinstance(v, int) and not isinstance(v, bool)


def _depth(v) -> int | None:
    if v is UNKNOWN:
        return None
    depth = 0
    while isinstance(v, (list, tuple)):
        depth, v = depth + 1, v[0] if v else None
    return depth


def _called_framework_object(program: GraphProgram, func) -> str | None:
    """``keras.layers.Dense(10)(x)``: the framework name whose result is called, or None."""
    while isinstance(func, (cst.Call, cst.Attribute, cst.Subscript)):
        func = func.func if isinstance(func, cst.Call) else func.value
        q = program.rec.name(func) if isinstance(func, (cst.Name, cst.Attribute)) else None
        if q is not None:
            return q
    return None


def _calls_in(node) -> list[cst.CSTNode]:
    found = []

    class V(cst.CSTVisitor):
        def visit_Call(self, n):
            found.append(n.func)

    node.visit(V())
    return found


def _bound_in(fn: cst.FunctionDef) -> set[str]:
    out = set()

    class V(cst.CSTVisitor):
        def visit_AssignTarget(self, n):
            out.update(target_names(n.target))

        def visit_For(self, n):
            out.update(target_names(n.target))

        def visit_AsName(self, n):
            out.update(target_names(n.name))

        def visit_FunctionDef(self, n):
            if n is not fn:
                out.add(n.name.value)
                return False
            return True

    fn.visit(V())
    return out


