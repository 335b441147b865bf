"""Recognise Functional models: run the code that builds ``keras.Model(inputs, outputs)`` symbolically.

Real Functional code is ordinary Python: layers built in one statement and called in
another, loops over static ranges, helper functions that build a block (``x =
residual_block(x, 64)``), ``x += shortcut``. The tracer walks the statements before the
``Model`` call in order, like the interpreter would, with three kinds of symbolic value
(a Keras tensor, a layer object, a translated model used as a layer) and plain static
values for everything else. Every layer call becomes a ``Node`` whose shape rule runs
right away (so ``x.shape[-1]`` is known), and the statements that only built the graph
are handed back to be removed. Anything it cannot follow raises ``GraphError`` at the
exact node: the model is then left in Keras with a TODO, never guessed.
"""

from __future__ import annotations

import dataclasses
from collections import ChainMap
from dataclasses import dataclass, field

import libcst as cst

from .evaluate import UNKNOWN, code, evaluate, names_read
from .ir import Graph, LayerIR, ModelIR, Node, identifier, snake_case, unique_attr
from .lines import placeholder_lines
from .spec import activations, layers, merges
from .spec.layers import KERAS, TORCH, Tensor, Unsupported, to_layout
from .spec.values import Dim, Value

MODEL = "keras.Model"
_INPUTS = ("keras.Input", "keras.layers.Input")
#: how deep helper functions that build blocks may call each other
_MAX_INLINE_DEPTH = 8
#: calls that change nothing about the graph (they may sit between layer calls)
_HARMLESS_CALLS = frozenset({"print"})


class GraphError(Exception):
    """The graph cannot be followed here; ``node`` is where."""

    def __init__(self, message: str, node=None):
        super().__init__(message)
        self.message = message
        self.node = node


# --------------------------------------------------------------------------- symbolic values


@dataclass(eq=False)
class SymTensor:
    id: int


@dataclass(eq=False)
class SymLayer:
    spec: layers.LayerSpec
    args: layers.Args
    node: cst.Call
    var: str | None = None  # the variable the layer object was bound to (shared layers)
    notes: list[str] = field(default_factory=list)
    index: int | None = None  # position in the model's layers once called
    module: str | None = None  # the torch module its first call built (a shared layer must agree)
    stmt: object = None  # the statement of the traced scope that built it
    #: for a weight made with ``self.add_weight`` (spec ``custom_weights.WEIGHT``): (Built, its dims)
    weight: tuple | None = None


@dataclass(eq=False)
class SymModel:
    """A model translated earlier in the file, called like a layer."""

    var: str
    model: ModelIR
    emitted: object
    #: its output at this call when it differs from the class's own (a block sized by its constructor arguments)
    output: Tensor | None = None


@dataclass(eq=False)
class SymDeferred:
    """A Sequential model without an input shape: the first graph that calls it finishes it."""

    var: str


def _is_symbolic(v) -> bool:
    if isinstance(v, (SymTensor, SymLayer, SymModel, SymDeferred)):
        return True
    if isinstance(v, (list, tuple)):
        return any(_is_symbolic(i) for i in v)
    if isinstance(v, dict):
        return any(_is_symbolic(i) for i in v.values())
    return False


class _Frame:
    """The variables of one scope being traced (the builder's body or an inlined helper)."""

    def __init__(self, fn, static_env: ChainMap, depth: int = 0):
        self.fn = fn
        self.sym: dict[str, object] = {}
        self.static: dict[str, object] = {}
        self.env = static_env.new_child(self.static)
        self.depth = depth
        self.returned = UNKNOWN

    def lookup(self, name: str):
        if name in self.sym:
            return self.sym[name]
        return None


class _Return(Exception):
    pass


# --------------------------------------------------------------------------- the tracer


class Tracer:
    """Trace the statements of one scope up to ``stop`` (the statement holding the Model call)."""

    def __init__(self, rec, fn, stop):
        self.rec = rec
        self.fn = fn
        self.stop = stop
        self.tensors: dict[int, Tensor] = {}
        self.nodes: list[Node] = []
        self.node_stmt: list[object] = []  # per node: the top-level statement of the scope that made it
        self.layer_syms: list[SymLayer] = []
        self.layer_irs: list[LayerIR] = []
        self.layer_built: list[layers.Built] = []
        self.inputs: dict[int, tuple[str, Tensor, object, str | None]] = {}  # id -> hint, tensor, stmt, dtype
        self.used_attrs: dict[str, int] = {}
        self.counters: dict[str, int] = {}
        self.init_params: list[str] = []
        self.submodels: dict[str, SymModel] = {}
        self.inlined: dict[str, cst.FunctionDef] = {}
        #: deferred Sequential models this graph gave an input shape: var -> (ModelIR, EmittedModel)
        self.finished_sequentials: dict[str, tuple] = {}
        self.current_stmt = None
        #: top-level statements of the scope that touched symbolic values / did anything else
        self.symbolic_stmts: set[int] = set()
        self.frame = _Frame(fn, rec.constants.scope(fn))
        self.functions = _functions(rec.module)
        #: the builder's parameters as every call site gives them (loops and branches need values)
        self.call_site_values = _call_site_values(rec, fn) if fn is not None else {}
        self._structural = 0

    # ------------------------------------------------------------------ statements

    def run(self, model_call: cst.Call):
        body = self.fn.body.body if self.fn is not None else self.rec.module.body
        for stmt in body:
            if stmt is self.stop:
                break
            if id(stmt) in self.rec.sequential_adds:
                continue  # model.add(...) of a Sequential model translated on its own
            self.current_stmt = stmt
            self._statement(stmt)
        self.current_stmt = self.stop
        return self._model_args(model_call)

    def _statement(self, stmt) -> None:
        if isinstance(stmt, cst.SimpleStatementLine):
            for small in stmt.body:
                self._small(small)
        elif isinstance(stmt, cst.For):
            self._for(stmt)
        elif isinstance(stmt, cst.If):
            self._if(stmt)
        elif isinstance(stmt, cst.With):
            for inner in stmt.body.body:
                self._statement(inner)
        elif isinstance(stmt, (cst.FunctionDef, cst.ClassDef)):
            return
        else:
            self._unfollowed(stmt)

    def _unfollowed(self, stmt) -> None:
        """A statement the tracer does not run: fine unless it touches the graph."""
        touched = [n for n in names_read(stmt) if self.frame.lookup(n) is not None]
        if touched:
            raise GraphError(f"this {type(stmt).__name__.lower()} statement uses Keras tensors or layers "
                             f"({', '.join(sorted(set(touched)))}) in a way tfpt does not follow", stmt)

    def _small(self, small) -> None:
        if isinstance(small, cst.Assign):
            value = self._expr(small.value)
            for target in small.targets:
                self._bind(target.target, value, small)
        elif isinstance(small, cst.AnnAssign) and small.value is not None:
            self._bind(small.target, self._expr(small.value), small)
        elif isinstance(small, cst.AugAssign):
            op = _OPERATOR_TEXT.get(type(small.operator))
            left = self._expr(small.target)
            right = self._expr(small.value)
            if _is_symbolic(left) or _is_symbolic(right):
                if op is None:
                    raise GraphError(f"{code(small.operator).strip()} on Keras tensors is not translated", small)
                self._bind(small.target, self._binary(op, left, right, small), small)
            else:
                self._unfollowed(small)
        elif isinstance(small, cst.Expr):
            value = small.value
            if isinstance(value, cst.Call) and isinstance(value.func, cst.Name) and value.func.value in _HARMLESS_CALLS:
                self._unfollowed(small)
                return
            self._expr(value)  # a bare layer call's result is unused; its layers are still built
        elif isinstance(small, cst.Return):
            self.frame.returned = self._expr(small.value) if small.value is not None else None
            raise _Return()
        elif isinstance(small, (cst.Pass, cst.Import, cst.ImportFrom, cst.Global, cst.Nonlocal)):
            return
        else:
            self._unfollowed(small)

    def _bind(self, target, value, stmt) -> None:
        if isinstance(target, cst.Name):
            name = target.value
            if _is_symbolic(value):
                self.frame.sym[name] = value
                self.frame.static.pop(name, None)
                self._mark_symbolic()
                if isinstance(value, SymLayer) and value.var is None:
                    value.var = name
                if isinstance(value, SymTensor):
                    self._hint(value, name)
            else:
                self.frame.sym.pop(name, None)
                if value is not UNKNOWN and not self._is_named_constant(name, value):
                    self.frame.static[name] = value
                else:
                    self.frame.static.pop(name, None)
                    if value is UNKNOWN:
                        self.frame.static[name] = UNKNOWN
            return
        if isinstance(target, (cst.Tuple, cst.List)):
            elements = [e.value for e in target.elements]
            if isinstance(value, (list, tuple)) and len(value) == len(elements) and not any(
                    isinstance(e, cst.StarredElement) for e in target.elements):
                for el, v in zip(elements, value):
                    self._bind(el, v, stmt)
                return
            if _is_symbolic(value):
                raise GraphError("unpacking Keras tensors this way is not translated", stmt)
            for el in elements:
                if isinstance(el, cst.Name):
                    self.frame.sym.pop(el.value, None)
                    self.frame.static[el.value] = UNKNOWN
            return
        if _is_symbolic(value):
            raise GraphError(f"storing Keras tensors or layers in {code(target)} is not translated", stmt)
        for n in names_read(target):
            if self.frame.lookup(n) is not None:
                raise GraphError(f"{code(target)} changes a Keras tensor or layer; not translated", stmt)

    def _is_named_constant(self, name: str, value) -> bool:
        """A module constant keeps its name in the output (``num_classes`` stays ``num_classes``)."""
        entry = self.frame.env.parents.get(name)
        return isinstance(entry, tuple) and len(entry) == 2 and entry[0] in ("module", "local") and entry[1] == value

    def _hint(self, value: SymTensor, name: str) -> None:
        """The variable a tensor was first bound to names it in ``forward`` (with the chain leading to it)."""
        producer = {n.output: (i, n) for i, n in enumerate(self.nodes)}
        if value.id in producer:
            i, n = producer[value.id]
            while n.hint.startswith("_"):
                n.hint = name
                # `x = Dense(2)(Dropout(0.1)(x))`: the inner result only feeds this chain
                if len(n.inputs) != 1 or n.inputs[0] not in producer:
                    break
                j, inner = producer[n.inputs[0]]
                if self.node_stmt[j] is not self.node_stmt[i] or sum(n.inputs[0] in m.inputs for m in self.nodes) != 1:
                    break
                i, n = j, inner
            return
        if value.id in self.inputs:
            hint, t, stmt, dtype = self.inputs[value.id]
            if hint.startswith("_"):
                self.inputs[value.id] = (name, t, stmt, dtype)

    def _mark_symbolic(self) -> None:
        if self.current_stmt is not None:
            self.symbolic_stmts.add(id(self.current_stmt))

    def _for(self, stmt: cst.For) -> None:
        self._structural += 1
        try:
            items = self._static_iterable(stmt.iter)
        finally:
            self._structural -= 1
        if items is None:
            self._unfollowed(stmt)
            return
        if stmt.orelse is not None:
            self._unfollowed(stmt)
            return
        for item in items:
            self._bind(stmt.target, item, stmt)
            for inner in stmt.body.body:
                self._statement(inner)

    def _static_iterable(self, node):
        env = self.frame.env
        if isinstance(node, cst.Call) and isinstance(node.func, cst.Name) and node.func.value in ("range", "enumerate", "zip", "reversed"):
            args = [self._static(a.value) for a in node.args if a.keyword is None]
            if any(a is UNKNOWN for a in args):
                return None
            try:
                return list({"range": range, "enumerate": enumerate, "zip": zip, "reversed": reversed}[node.func.value](*args))
            except TypeError:
                return None
        v = evaluate(node, env)
        if isinstance(v, (list, tuple)):
            return list(v)
        v = self._expr(node)
        if isinstance(v, (list, tuple)):
            return list(v)
        return None

    def _if(self, stmt: cst.If) -> None:
        self._structural += 1
        try:
            test = self._static(stmt.test)
        finally:
            self._structural -= 1
        if test is UNKNOWN:
            self._unfollowed(stmt)
            return
        if test:
            for inner in stmt.body.body:
                self._statement(inner)
        elif isinstance(stmt.orelse, cst.If):
            self._if(stmt.orelse)
        elif stmt.orelse is not None:
            for inner in stmt.orelse.body.body:
                self._statement(inner)

    def _static(self, node):
        v = self._expr(node)
        if _is_symbolic(v):
            return UNKNOWN
        return v

    # ------------------------------------------------------------------ expressions

    def _expr(self, node):
        if isinstance(node, cst.Name):
            v = self.frame.lookup(node.value)
            if v is not None:
                return v
            if self._structural and self.frame.depth == 0 and node.value in self.call_site_values \
                    and evaluate(node, self.frame.env) is UNKNOWN:
                return self.call_site_values[node.value]
            model = self._model_var(node.value)
            if model is not None:
                return model
            if node.value in self.rec.deferred and self.rec.deferred[node.value][2] is self.fn:
                return SymDeferred(node.value)
            return evaluate(node, self.frame.env)
        if isinstance(node, (cst.List, cst.Tuple)):
            items = []
            for el in node.elements:
                if isinstance(el, cst.StarredElement):
                    inner = self._expr(el.value)
                    if not isinstance(inner, (list, tuple)):
                        return UNKNOWN
                    items.extend(inner)
                else:
                    items.append(self._expr(el.value))
            if any(i is UNKNOWN for i in items) and not any(_is_symbolic(i) for i in items):
                return UNKNOWN
            return tuple(items) if isinstance(node, cst.Tuple) else items
        if isinstance(node, cst.Dict):
            out = {}
            for el in node.elements:
                if not isinstance(el, cst.DictElement):
                    return UNKNOWN
                k = evaluate(el.key, self.frame.env)
                if not isinstance(k, str):
                    return UNKNOWN
                out[k] = self._expr(el.value)
            return out
        if isinstance(node, cst.Call):
            return self._call(node)
        if isinstance(node, cst.BinaryOperation):
            left, right = self._expr(node.left), self._expr(node.right)
            if _is_symbolic(left) or _is_symbolic(right):
                op = _OPERATOR_TEXT.get(type(node.operator))
                if op is None:
                    raise GraphError(f"{code(node.operator).strip()} on Keras tensors is not translated", node)
                return self._binary(op, left, right, node)
            return evaluate(node, self.frame.env)
        if isinstance(node, cst.UnaryOperation):
            v = self._expr(node.expression)
            if isinstance(v, SymTensor) and isinstance(node.operator, cst.Minus):
                return self._op([v], ["x = -{0}"], "-{0}", node)
            if _is_symbolic(v):
                raise GraphError(f"{code(node)} on a Keras tensor is not translated", node)
            return evaluate(node, self.frame.env)
        if isinstance(node, cst.Subscript):
            return self._subscript(node)
        if isinstance(node, cst.IfExp):
            self._structural += 1
            try:
                test = self._static(node.test)
            finally:
                self._structural -= 1
            if test is UNKNOWN:
                raise GraphError(f"{code(node.test)} is not a static condition", node)
            return self._expr(node.body if test else node.orelse)
        if isinstance(node, (cst.BooleanOperation, cst.Comparison)) or (
                isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Not)):
            return self._logic(node)
        if isinstance(node, cst.Attribute):
            base = self._expr(node.value) if not self.rec.name(node) else UNKNOWN
            if _is_symbolic(base):
                if isinstance(base, SymTensor) and node.attr.value == "shape":
                    return _TensorShape(self.tensors[base.id])
                if isinstance(base, SymModel) and node.attr.value in _MODEL_METHODS:
                    return UNKNOWN  # `m0.compile(...)` before the next graph: not part of any graph
                raise GraphError(f"{code(node)} on a Keras tensor or layer is not translated", node)
            return evaluate(node, self.frame.env)
        for n in names_read(node):
            if self.frame.lookup(n) is not None:
                raise GraphError(f"{code(node)} uses Keras tensors in a way tfpt does not follow", node)
        return evaluate(node, self.frame.env)

    def _logic(self, node):
        """``a and b``, ``not a``, ``a < b``, ``a is None`` on static values (block helpers branch on them)."""
        if isinstance(node, cst.UnaryOperation):
            v = self._static(node.expression)
            return UNKNOWN if v is UNKNOWN else not v
        if isinstance(node, cst.BooleanOperation):
            left = self._static(node.left)
            if left is UNKNOWN:
                return UNKNOWN
            if isinstance(node.operator, cst.And):
                return self._static(node.right) if left else left
            return left if left else self._static(node.right)
        left = self._static(node.left)
        for comp in node.comparisons:
            right = self._static(comp.comparator)
            if left is UNKNOWN or right is UNKNOWN:
                return UNKNOWN
            op = _COMPARISONS.get(type(comp.operator))
            if op is None:
                return UNKNOWN
            try:
                if not op(left, right):
                    return False
            except TypeError:
                return UNKNOWN
            left = right
        return True

    def _subscript(self, node: cst.Subscript):
        base = self._expr(node.value)
        if isinstance(base, _TensorShape) and len(node.slice) == 1 and isinstance(node.slice[0].slice, cst.Index):
            i = self._static(node.slice[0].slice.value)
            shape = base.tensor.shape
            if isinstance(i, int) and shape is not None:
                full = (Dim("None"),) + tuple(shape)
                try:
                    d = full[i]
                except IndexError:
                    raise GraphError(f"{code(node)}: index out of range", node) from None
                if d.known:
                    return d.value
            raise GraphError(f"{code(node)} is not a static size", node)
        if isinstance(base, (list, tuple)) and len(node.slice) == 1 and isinstance(node.slice[0].slice, cst.Index):
            i = self._static(node.slice[0].slice.value)
            if isinstance(i, int):
                try:
                    return base[i]
                except IndexError:
                    raise GraphError(f"{code(node)}: index out of range", node) from None
        if _is_symbolic(base):
            raise GraphError(f"slicing a Keras tensor ({code(node)}) is not translated", node)
        return evaluate(node, self.frame.env)

    def _model_var(self, name: str):
        """A model translated earlier (same scope) used as a layer: ``encoder(x)``."""
        for m in self.rec.plan.models:
            if m.var == name and self.rec.model_scopes.get(id(m)) is self.fn:
                return SymModel(name, m, self.rec.plan.emitted[m.class_name])
        return None

    def _call(self, node: cst.Call):
        q = self.rec.name(node.func)
        if q in _INPUTS:
            return self._input(node, q)
        if q is not None and q.startswith("keras.layers."):
            short = q.rsplit(".", 1)[1]
            merge = merges.FUNCTIONS.get(short)
            if merge is not None:
                return self._merge_function(merge, node)
            spec = layers.lookup(short) or merges.MERGES.get(short)
            if spec is None:
                if short[:1].isupper():
                    raise GraphError(f"layer {short} is not supported yet", node)
                raise GraphError(f"{code(node.func)} is not translated", node)
            return self._construct(spec, node)
        if q is not None and q in activations.FUNCTION_OBJECTS:
            return self._activation_call(activations.FUNCTION_OBJECTS[q], node)
        if graph_ops.row_for(q) is not None:
            args = self._args(node)
            if any(_is_symbolic(v) for _, v in args):
                return graph_ops.apply(self, q, node, args)
            return evaluate(node, self.frame.env)
        if q == MODEL or q == "keras.Sequential":
            model = self.rec.model_by_call.get(id(node))
            deferred = next((v for v, d in self.rec.deferred.items() if d[0] is node), None)
            if deferred is not None:
                self._mark_symbolic()
                return SymDeferred(deferred)
            if model is None:
                raise GraphError("this graph uses a model tfpt did not translate", node)
            self._mark_symbolic()
            return SymModel(model.var or model.class_name, model, self.rec.plan.emitted[model.class_name])
        blocks = getattr(self.rec, "block_classes", ())
        if isinstance(node.func, cst.Name) and q is None and node.func.value in blocks \
                and self.frame.lookup(node.func.value) is None:
            return blocks.instance(self, node)  # a custom Layer subclass of this file: `Block(64)`
        if isinstance(node.func, cst.Name) and node.func.value in self.functions and q is None \
                and self.frame.lookup(node.func.value) is None:
            args = self._args(node)
            if any(_is_symbolic(v) for _, v in args):
                return self._inline(self.functions[node.func.value], node, args)
            return UNKNOWN
        callee = self._expr(node.func)
        if blocks and blocks.is_block(callee):
            return blocks.apply(self, callee, node)
        if isinstance(callee, SymLayer):
            return self._apply(callee, node)
        if isinstance(callee, SymModel):
            return self._apply_model(callee, node)
        if isinstance(callee, SymDeferred):
            return self._apply_model(self._finish(callee, node), node)
        if _is_symbolic(callee):
            raise GraphError(f"{code(node.func)} is not a layer call tfpt follows", node)
        if any(_is_symbolic(v) for _, v in self._args(node)):
            raise GraphError(f"{code(node.func)}(...) on Keras tensors is not translated", node)
        return evaluate(node, self.frame.env)

    def _args(self, node: cst.Call) -> list[tuple[str | None, object]]:
        """Each argument evaluated once (a layer call inside an argument builds its node once)."""
        if any(a.star for a in node.args):
            raise GraphError(f"{code(node.func)}(*args) is not followed", node)
        return [(a.keyword.value if a.keyword is not None else None, self._expr(a.value)) for a in node.args]

    # ------------------------------------------------------------------ graph pieces

    def _new_tensor(self, t: Tensor) -> SymTensor:
        i = len(self.tensors)
        self.tensors[i] = t
        return SymTensor(i)

    def _input(self, node: cst.Call, q: str) -> SymTensor:
        try:
            t = self.rec.input_tensor(node, self.frame.env, q)
        except Exception as e:  # the recogniser's model error: re-raised here with its node
            raise GraphError(getattr(e, "message", str(e)), node) from None
        kw = {a.keyword.value: a.value for a in node.args if a.keyword is not None}
        dtype = evaluate(kw["dtype"], self.frame.env) if "dtype" in kw else None
        if "dtype" in kw and not isinstance(dtype, str):
            raise GraphError(f"Input(dtype={code(kw['dtype'])}) is not a static string", node)
        for k in kw:
            if k not in ("shape", "batch_size", "name", "dtype", "batch_shape", "sparse", "tensor", "ragged", "optional"):
                raise GraphError(f"Input({k}=...) is not translated", node)
            if k in ("sparse", "ragged", "tensor", "optional") and evaluate(kw[k], self.frame.env) not in (False, None):
                raise GraphError(f"Input({k}=...) is not translated", node)
        if t.shape is not None and any(not d.known and d.text != "None" for d in t.shape):
            for a in node.args:  # `Input(shape=(input_dim,))` in a builder: input_dim becomes an __init__ parameter
                self.rec.free_names(a.value, self.init_params, self.fn)
        s = self._new_tensor(t)
        self.inputs[s.id] = ("_input", t, self.current_stmt, dtype)
        self._mark_symbolic()
        return s

    def _construct(self, spec, node: cst.Call) -> SymLayer:
        if isinstance(spec, merges.MergeSpec):
            args, notes = self._bind_merge(spec, node, list(node.args)), []
        else:
            try:
                args, notes, _shape = self.rec.bind_layer(spec, node, self.frame.env, self.init_params, self.fn)
            except Exception as e:
                raise GraphError(getattr(e, "message", str(e)), node) from None
        self._mark_symbolic()
        return SymLayer(spec, args, node, notes=notes, stmt=self.current_stmt)

    def _bind_merge(self, spec, node, arg_nodes) -> layers.Args:
        pos, kw = [], {}
        for a in arg_nodes:
            if a.star:
                raise GraphError(f"{spec.keras}(*args) is not translated", node)
            v = Value(code(a.value), self._static(a.value))
            if a.keyword is None:
                pos.append(v)
            elif a.keyword.value in ("name", "dtype", "trainable"):
                continue
            else:
                kw[a.keyword.value] = v
        try:
            args = spec.bind(pos, kw)
        except Unsupported as e:
            raise GraphError(str(e), node) from None
        for k in args.given:
            if k not in layers.accepted_args(spec):
                raise GraphError(f"{spec.keras}({k}=...) is not supported yet", node)
        return args

    def _merge_function(self, spec: merges.MergeSpec, node: cst.Call) -> SymTensor:
        if not node.args or node.args[0].keyword not in (None,) and node.args[0].keyword.value != "inputs":
            raise GraphError(f"keras.layers.{spec.function}() needs the list of inputs first", node)
        inputs = self._expr(node.args[0].value)
        layer = SymLayer(spec, self._bind_merge(spec, node, list(node.args[1:])), node, stmt=self.current_stmt)
        self._mark_symbolic()
        return self._apply_merge(layer, inputs, node)

    def _attr_for(self, layer: SymLayer, used=None, counters=None) -> str:
        given = layer.args.given.get("name")
        if given is None:
            for a in layer.node.args:
                if a.keyword is not None and a.keyword.value == "name":
                    v = evaluate(a.value, self.frame.env)
                    given = Value(code(a.value), v) if isinstance(v, str) else None
        if given is not None and isinstance(given.value, str):
            attr = identifier(given.value)
        elif layer.var is not None and layer.var not in ("layer", "l"):
            attr = layer.var
        else:
            counters = self.counters if counters is None else counters
            base = snake_case(layer.spec.keras)
            n = counters.get(base, 0)
            counters[base] = n + 1
            attr = base if n == 0 else f"{base}_{n}"
        return unique_attr(attr, self.used_attrs if used is None else used)

    def _register(self, layer: SymLayer, built: layers.Built) -> str:
        """The layer's attribute; a shared layer must build the same module on every call."""
        if layer.index is not None:
            if built.module != layer.module:
                raise GraphError(f"{layer.spec.keras} is shared between inputs of different shapes "
                                 f"({layer.module} vs {built.module}); not translated", layer.node)
            return self.layer_irs[layer.index].attr
        attr = self._attr_for(layer)
        line, col = self.rec.pos(layer.node) if layer.notes else (0, 0)
        layer.index = len(self.layer_irs)
        layer.module = built.module
        self.layer_syms.append(layer)
        self.layer_irs.append(LayerIR(layer.spec, layer.args, attr, layer.node, line, col, layer.notes))
        self.layer_built.append(built)
        return attr

    def _call_kwargs(self, node: cst.Call, allowed=()) -> None:
        for a in node.args[1:]:
            if a.keyword is None:
                raise GraphError(f"{code(node.func)} called with more than one positional argument", node)
            k = a.keyword.value
            if k == "training" and evaluate(a.value, self.frame.env) is None:
                continue
            if k not in allowed:
                raise GraphError(f"calling a layer with {k}=... is not translated", node)

    def _apply(self, layer: SymLayer, node: cst.Call) -> SymTensor:
        if isinstance(layer.spec, layers.CallSpec):
            return self._apply_call(layer, node)
        if not node.args or node.args[0].keyword is not None and node.args[0].keyword.value != "inputs":
            raise GraphError(f"{code(node.func)} called without an input", node)
        inputs = self._expr(node.args[0].value)
        if isinstance(layer.spec, merges.MergeSpec):
            self._call_kwargs(node)
            return self._apply_merge(layer, inputs, node)
        self._call_kwargs(node)
        if not isinstance(inputs, SymTensor):
            raise GraphError(f"{layer.spec.keras} called on {code(node.args[0].value)}, not one Keras tensor", node)
        t = self.tensors[inputs.id]
        lines, t = to_layout(t, layer.spec.layout)
        try:
            built = layer.spec.build(layer.args, t)
        except Unsupported as e:
            raise GraphError(_prefixed(layer.spec.keras, e), layer.node) from None
        if built.module and "?" in built.module:
            raise GraphError(f"{layer.spec.keras}: an input size is unknown", layer.node)
        attr = self._register(layer, built)
        out = self._new_tensor(built.output)
        self._add_node([inputs], out, placeholder_lines(lines + built.forward), "{layer}({0})", layer.index, attr)
        return out

    def _apply_merge(self, layer: SymLayer, inputs, node) -> SymTensor:
        if not isinstance(inputs, (list, tuple)) or not all(isinstance(i, SymTensor) for i in inputs):
            raise GraphError(f"{layer.spec.keras} needs a list of Keras tensors", node)
        tensors, exprs = self._common_layout(list(inputs))
        try:
            built = layer.spec.build_merge(layer.args, tensors, exprs)
        except Unsupported as e:
            raise GraphError(_prefixed(layer.spec.keras, e), node) from None
        attr = self._register(layer, built)
        out = self._new_tensor(built.output)
        placeholders = ", ".join(f"{{{i}}}" for i in range(len(inputs)))
        self._add_node(list(inputs), out, built.forward, f"{{layer}}([{placeholders}])", layer.index, attr)
        return out

    def _apply_call(self, layer: SymLayer, node: cst.Call) -> SymTensor:
        """A layer called on several tensors by argument (``mha(query, value)``): its row binds the call."""
        try:
            names, inputs, options = layer.spec.bind_call(self._args(node))
            if not inputs or not all(isinstance(i, SymTensor) for i in inputs):
                raise Unsupported(f"{layer.spec.keras} is translated when called on Keras tensors")
            tensors, exprs = self._common_layout(inputs, layer.spec.layout)
            built = layer.spec.build_call(layer.args, options, dict(zip(names, tensors)), dict(zip(names, exprs)))
        except Unsupported as e:
            raise GraphError(_prefixed(layer.spec.keras, e), node) from None
        attr = self._register(layer, built)
        out = self._new_tensor(built.output)
        self._add_node(inputs, out, built.forward, layer.spec.call_text(len(inputs), options), layer.index, attr)
        return out

    def _common_layout(self, inputs: list[SymTensor], layout: str | None = None) -> tuple[list[Tensor], list[str]]:
        """Every input in ``layout`` if given, else in one layout: channels-first when all are, else channels-last."""
        ts = [self.tensors[i.id] for i in inputs]
        if layout not in (KERAS, TORCH):
            layout = TORCH if all(t.layout == TORCH for t in ts) else KERAS
        exprs, out = [], []
        for i, t in enumerate(ts):
            lines, t2 = to_layout(t, layout)
            expr = f"{{{i}}}"
            if lines:  # "x = x.permute(...)  # why"
                expr = f"{{{i}}}" + lines[0].split("=", 1)[1].split("#")[0].strip()[1:]
            exprs.append(expr)
            out.append(t2)
        return out, exprs

    def _binary(self, op: str, left, right, node) -> SymTensor:
        if op == "@" or graph_ops.is_weight(left) or graph_ops.is_weight(right):
            return graph_ops.binary(self, op, left, right, node)
        if isinstance(left, SymTensor) and isinstance(right, SymTensor):
            spec = merges.MERGES.get(merges.OPERATORS.get(op, ""))
            if spec is None:
                raise GraphError(f"{op} between two Keras tensors is not translated", node)
            tensors, exprs = self._common_layout([left, right])
            try:
                built = spec.build_merge(spec.bind([], {}), tensors, exprs)
            except Unsupported as e:
                raise GraphError(_prefixed(op, e), node) from None
            out = self._new_tensor(built.output)
            self._add_node([left, right], out, built.forward, f"{{0}} {op} {{1}}")
            return out
        if isinstance(left, SymTensor) and isinstance(right, (int, float)) and not isinstance(right, bool):
            return self._op([left], [f"x = {{0}} {op} {right!r}"], f"{{0}} {op} {right!r}", node)
        if isinstance(right, SymTensor) and isinstance(left, (int, float)) and not isinstance(left, bool):
            return self._op([right], [f"x = {left!r} {op} {{0}}"], f"{left!r} {op} {{0}}", node)
        raise GraphError(f"{op} on {code(node)} is not translated", node)

    def _op(self, inputs: list[SymTensor], lines: list[str], keras: str, node) -> SymTensor:
        """An elementwise operation: any layout will do, the shape is unchanged."""
        out = self._new_tensor(self.tensors[inputs[0].id])
        self._add_node(inputs, out, lines, keras)
        return out

    def _activation_call(self, function: str, node: cst.Call) -> SymTensor:
        if len(node.args) != 1 or node.args[0].keyword is not None:
            raise GraphError(f"{code(node.func)} with arguments beyond the tensor is not translated", node)
        x = self._expr(node.args[0].value)
        if not isinstance(x, SymTensor):
            raise GraphError(f"{code(node.func)} on {code(node.args[0].value)} is not translated", node)
        t = self.tensors[x.id]
        lines = []
        if function in activations.CHANNEL_AXIS:
            lines, t = to_layout(t, KERAS)
        out = self._new_tensor(t)
        expr = activations.apply(function, "x")
        self._add_node([x], out, placeholder_lines(lines + [f"x = {expr}"]),
                       f"keras.activations.{function}({{0}})")
        return out

    def _finish(self, deferred: SymDeferred, node: cst.Call) -> SymModel:
        if deferred.var in self.finished_sequentials:
            model, emitted = self.finished_sequentials[deferred.var]
            return SymModel(deferred.var, model, emitted)
        x = self._expr(node.args[0].value) if node.args else None
        if not isinstance(x, SymTensor):
            raise GraphError(f"{deferred.var}(...) is translated when called on one Keras tensor", node)
        t = self.tensors[x.id]
        try:
            model, emitted = self.rec.finish_sequential(deferred.var, Tensor(t.shape, KERAS, t.rank_known))
        except Unsupported as e:
            layer = getattr(e, "layer", None)
            raise GraphError(f"{deferred.var}: {e}", layer.node if layer is not None else node) from None
        self.finished_sequentials[deferred.var] = (model, emitted)
        return SymModel(deferred.var, model, emitted)

    def _apply_model(self, sub: SymModel, node: cst.Call) -> SymTensor:
        self._call_kwargs(node)
        x = self._expr(node.args[0].value) if node.args else None
        if not isinstance(x, SymTensor) or sub.model.graph is not None and len(sub.model.graph.inputs) != 1:
            raise GraphError(f"{sub.var}(...) is translated for one-input models called on one tensor", node)
        t = self.tensors[x.id]
        lines, t = to_layout(t, KERAS)
        inner = sub.model.input
        if inner.shape is not None and t.shape is not None and len(inner.shape) == len(t.shape):
            for a, b in zip(inner.shape, t.shape):
                if a.known and b.known and a.value != b.value:
                    raise GraphError(f"{sub.var} expects input shape {tuple(d.text for d in inner.shape)}, "
                                     f"gets {tuple(d.text for d in t.shape)}", node)
        if sub.var not in self.submodels:
            if sub.var in self.used_attrs:
                raise GraphError(f"the name {sub.var} is taken by a layer", node)
            unique_attr(sub.var, self.used_attrs)
            self.submodels[sub.var] = sub
        out = self._new_tensor(sub.output or sub.emitted.output)
        self._add_node([x], out, placeholder_lines(lines + ["x = {m}(x)"]), f"{sub.var}({{0}})", attr=sub.var)
        return out

    def _add_node(self, inputs, out: SymTensor, lines, keras, layer=None, attr=None) -> None:
        self.nodes.append(Node([i.id for i in inputs], out.id, list(lines), keras, layer, "_" + (attr or "x"), attr))
        self.node_stmt.append(self.current_stmt)
        self._mark_symbolic()

    # ------------------------------------------------------------------ helper functions

    def _inline(self, fn: cst.FunctionDef, node: cst.Call, args):
        if self.frame.depth >= _MAX_INLINE_DEPTH:
            raise GraphError(f"{fn.name.value}() calls nest too deeply to follow", node)
        params = [p for p in (*fn.params.posonly_params, *fn.params.params)]
        kwonly = list(fn.params.kwonly_params)
        if isinstance(fn.params.star_arg, cst.Param) or isinstance(fn.params.star_kwarg, cst.Param):
            raise GraphError(f"{fn.name.value}(*args/**kwargs) is not followed", node)
        frame = _Frame(fn, self.rec.constants.scope(fn), self.frame.depth + 1)
        bound: dict[str, object] = {}
        positional = [v for k, v in args if k is None]
        if len(positional) > len(params):
            raise GraphError(f"{fn.name.value}() called with too many arguments", node)
        for p, v in zip(params, positional):
            bound[p.name.value] = v
        for k, v in args:
            if k is not None:
                bound[k] = v
        for p in (*params, *kwonly):
            name = p.name.value
            if name not in bound:
                if p.default is None:
                    raise GraphError(f"{fn.name.value}() is missing argument {name}", node)
                bound[name] = evaluate(p.default, self.rec.constants.scope(None))
        for name, v in bound.items():
            if _is_symbolic(v):
                frame.sym[name] = v
            elif v is UNKNOWN:
                raise GraphError(f"{fn.name.value}({name}=...) is not a static value", node)
            else:
                frame.static[name] = v
        self.inlined[fn.name.value] = fn
        outer = self.frame
        self.frame = frame
        try:
            for stmt in fn.body.body:
                self._statement(stmt)
        except _Return:
            pass
        finally:
            self.frame = outer
        return frame.returned

    # ------------------------------------------------------------------ the model

    def _model_args(self, call: cst.Call):
        kw = {a.keyword.value: a.value for a in call.args if a.keyword is not None}
        pos = [a.value for a in call.args if a.keyword is None]
        if any(a.star for a in call.args):
            raise GraphError("Model(*args) is not translated", call)
        # Keras 1 spelled them `input=` / `output=` (old tutorials still do)
        inputs_node = kw.get("inputs", kw.get("input", pos[0] if pos else None))
        outputs_node = kw.get("outputs", kw.get("output", pos[1] if len(pos) > 1 else None))
        for k in kw:
            if k not in ("inputs", "outputs", "input", "output", "name", "trainable"):
                raise GraphError(f"Model({k}=...) is not translated", call)
        if inputs_node is None or outputs_node is None:
            raise GraphError("Model() without inputs and outputs (a subclassed model?) is not translated here", call)
        inputs = self._expr(inputs_node)
        outputs = self._expr(outputs_node)
        ins = [inputs] if isinstance(inputs, SymTensor) else inputs
        if not isinstance(ins, (list, tuple)) or not ins or not all(isinstance(i, SymTensor) and i.id in self.inputs for i in ins):
            raise GraphError("Model(inputs=...) must be Input tensors (or a list of them)", inputs_node)
        if isinstance(outputs, SymTensor):
            outs: list[SymTensor] | dict = outputs
        elif isinstance(outputs, (list, tuple)) and outputs and all(isinstance(o, SymTensor) for o in outputs):
            outs = list(outputs)
        elif isinstance(outputs, dict) and outputs and all(isinstance(o, SymTensor) for o in outputs.values()):
            outs = outputs
        else:
            raise GraphError("Model(outputs=...) must be Keras tensors (one, a list, or a dict)", outputs_node)
        name = kw.get("name", pos[2] if len(pos) > 2 else None)
        keras_name = evaluate(name, self.frame.env) if name is not None else None
        return list(ins), outs, (keras_name if isinstance(keras_name, str) else None)

    def graph(self, ins: list[SymTensor], outs):
        """The nodes the outputs need, the layers they call (and what their shape rules built),
        the nested models, and the statements that built them."""
        out_ids = [outs.id] if isinstance(outs, SymTensor) else (
            [o.id for o in outs.values()] if isinstance(outs, dict) else [o.id for o in outs])
        producer = {n.output: i for i, n in enumerate(self.nodes)}
        needed: set[int] = set()
        stack = list(out_ids)
        given = {i.id for i in ins}
        seen: set[int] = set()
        while stack:
            t = stack.pop()
            if t in seen:
                continue
            seen.add(t)
            if t in producer:
                needed.add(producer[t])
                stack.extend(self.nodes[producer[t]].inputs)
            elif t not in given:
                hint = self.inputs.get(t, ("?",))[0]
                raise GraphError(f"the outputs depend on Input {hint!r}, which is not in Model(inputs=...)", None)
        order = sorted(needed)
        # layers renumbered and named in order of first use among the needed nodes (what the
        # trace built for other models does not take their names)
        used: dict[str, int] = {}
        counters: dict[str, int] = {}
        for i in order:
            attr = self.nodes[i].attr
            if self.nodes[i].layer is None and attr in self.submodels:
                unique_attr(attr, used)
        layer_map: dict[int, int] = {}
        layer_irs: list[LayerIR] = []
        renamed: dict[str, str] = {}
        nodes: list[Node] = []
        for i in order:
            n = self.nodes[i]
            layer = None
            attr = n.attr
            if n.layer is not None:
                if n.layer not in layer_map:
                    layer_map[n.layer] = len(layer_irs)
                    ir = self.layer_irs[n.layer]
                    renamed[ir.attr] = self._attr_for(self.layer_syms[n.layer], used, counters)
                    layer_irs.append(dataclasses.replace(ir, attr=renamed[ir.attr]))
                layer = layer_map[n.layer]
                attr = renamed[n.attr]
            hint = n.hint if not n.hint.startswith("_") else "_" + (renamed.get(n.hint[1:], n.hint[1:]))
            nodes.append(Node(n.inputs, n.output, n.lines, n.keras, layer, hint.lstrip("_") or "x", attr))
        inputs = []
        for s in ins:
            hint, t, _stmt, _dtype = self.inputs[s.id]
            inputs.append((s.id, hint.lstrip("_") or "inputs", t))
        if isinstance(outs, SymTensor):
            outputs: list[int] | dict[str, int] = [outs.id]
        elif isinstance(outs, dict):
            outputs = {k: v.id for k, v in outs.items()}
        else:
            outputs = [o.id for o in outs]
        used_models = {n.attr for n in nodes if n.layer is None and n.attr}
        submodels = {k: v for k, v in self.submodels.items() if k in used_models}
        stmts = {id(self.node_stmt[i]) for i in order if self.node_stmt[i] is not None}
        stmts |= {id(self.inputs[s.id][2]) for s in ins if self.inputs[s.id][2] is not None}
        stmts |= {id(self.layer_syms[i].stmt) for i in layer_map if self.layer_syms[i].stmt is not None}
        graph = Graph(inputs, nodes, outputs, dict(self.tensors), [self.inputs[s.id][3] for s in ins],
                      multi_output=not isinstance(outs, SymTensor))
        built = [self.layer_built[i] for i in layer_map]
        return graph, layer_irs, built, submodels, stmts


class _TensorShape:
    """``x.shape`` of a Keras tensor: indexable for its static sizes."""

    def __init__(self, tensor: Tensor):
        self.tensor = tensor


#: methods of an earlier model that a later graph's scope may call without touching the graph
_MODEL_METHODS = frozenset({"compile", "fit", "evaluate", "predict", "summary", "save", "save_weights",
                            "load_weights", "train_on_batch", "test_on_batch", "predict_on_batch"})

_COMPARISONS = {
    cst.Equal: lambda a, b: a == b, cst.NotEqual: lambda a, b: a != b, cst.LessThan: lambda a, b: a < b,
    cst.LessThanEqual: lambda a, b: a <= b, cst.GreaterThan: lambda a, b: a > b,
    cst.GreaterThanEqual: lambda a, b: a >= b, cst.Is: lambda a, b: a is b, cst.IsNot: lambda a, b: a is not b,
    cst.In: lambda a, b: a in b, cst.NotIn: lambda a, b: a not in b,
}

_OPERATOR_TEXT = {
    cst.Add: "+", cst.Subtract: "-", cst.Multiply: "*", cst.Divide: "/", cst.MatrixMultiply: "@",
    cst.AddAssign: "+", cst.SubtractAssign: "-", cst.MultiplyAssign: "*", cst.DivideAssign: "/",
    cst.MatrixMultiplyAssign: "@",
}


def _prefixed(what: str, error: Exception) -> str:
    message = str(error)
    return message if message.startswith(what) else f"{what}: {message}"


def _call_site_values(rec, fn: cst.FunctionDef) -> dict[str, object]:
    """Parameters of builder ``fn`` that every call in the module passes the same static value
    (or leaves at a static default): ``build(10, 3)`` with ``depth=2`` gives ``depth`` 2."""
    name = fn.name.value
    params = [*fn.params.posonly_params, *fn.params.params, *fn.params.kwonly_params]
    sites = [c for c in rec.calls if isinstance(c.func, cst.Name) and c.func.value == name]
    if not sites:
        return {}
    agreed: dict[str, object] = {}
    for i, p in enumerate(params):
        values = []
        for call in sites:
            if any(a.star for a in call.args):
                return {}
            positional = [a for a in call.args if a.keyword is None]
            given = next((a.value for a in call.args if a.keyword is not None and a.keyword.value == p.name.value),
                         positional[i].value if i < len(positional) and p in fn.params.params + fn.params.posonly_params
                         else None)
            node = given if given is not None else p.default
            env = rec.constants.scope(rec.function_of(call)) if given is not None else rec.constants.scope(None)
            values.append(UNKNOWN if node is None else evaluate(node, env))
        if values and all(v is not UNKNOWN and v == values[0] for v in values):
            agreed[p.name.value] = values[0]
    return agreed


def _functions(module: cst.Module) -> dict[str, cst.FunctionDef]:
    return {s.name.value: s for s in module.body if isinstance(s, cst.FunctionDef)}


from . import graph_ops  # noqa: E402  (it builds on the symbolic values above)

__all__ = ["GraphError", "MODEL", "Tracer"]
