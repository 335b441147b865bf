"""Subclassed ``keras.Model`` / ``keras.layers.Layer`` -> ``nn.Module``.

A subclass builds its layers in ``__init__`` (``self.dense1 = layers.Dense(64)``) and
wires them in ``call``. The Functional tracer runs both: ``__init__`` binds layers to
``self`` attributes (which stay the torch attribute names, so ``model.dense1`` and
checkpoint keys keep working), ``call`` is traced from an input tensor whose shape comes
from ``model.build(...)``, ``model(keras.Input(...))`` or the arrays the program feeds
the model. The class keeps its name, its constructor signature and the plain statements
of its ``__init__``; ``call`` becomes ``forward`` with one line per layer call.

``training`` becomes the module's mode: ``self.dropout(x, training=training)`` is
``self.dropout(x)``, and ``if training:`` around layers that are the identity at
inference is the layer itself. ``build(input_shape)`` runs with the input's static shape;
weights from ``add_weight`` become ``nn.Parameter`` s (``add_weight.py``) that ops in ``call``
read (``graph_ops.py``). A block class called on inputs of several sizes takes the size as its
first constructor argument, like ``nn.Linear``'s ``in_features``. Anything else (branches on
``training``, an overridden ``train_step``, a model fed by data of unknown shape) keeps the
class in Keras with one TODO at the line that stopped it.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

import libcst as cst

from . import emit_torch
from .add_weight import InputSize, add_weight
from .array_shapes import ArrayShapes, first_arg
from .diagnostics import Diagnostic
from .evaluate import code, evaluate, names_read
from .functional import (GraphError, SymLayer, SymModel, SymTensor, Tracer, _call_site_values, _Frame,
                         _is_symbolic, _Return)
from .ir import ModelIR, Subclass, unique_attr
from .spec import subclassing as spec
from .spec.custom_weights import ADD_WEIGHT_METHODS, WEIGHT
from .spec.layers import KERAS, Tensor, to_layout
from .spec.values import UNKNOWN, Dim


class _TrainingFlag:
    """``call``'s ``training`` argument: the module's mode, never a static truth value."""

    def __bool__(self):
        raise GraphError("a condition on `training` is not translated (only `if training:` around "
                         "layers that are the identity at inference, such as Dropout)")

    def __repr__(self):
        return "training"


TRAINING = _TrainingFlag()


class _Self:
    """``self`` inside the traced methods."""


SELF = _Self()


def translate(rec) -> None:
    """Every top-level subclass of a Keras model or layer, translated or left with one TODO.

    A class only built inside another subclass's ``__init__`` (a custom block) is translated
    with the class that uses it, for the input that class gives it.
    """
    classes = {s.name.value: s for s in rec.module.body
               if isinstance(s, cst.ClassDef) and any(rec.name(b.value) in spec.BASES for b in s.bases)}
    rec.block_classes = Blocks(rec, classes)
    used_inside = {n for c in classes.values() for n in _names_called(c) if n in classes and n != c.name.value}
    for name, cls in classes.items():
        sub = _Subclass(rec, cls, classes)
        if name in used_inside and not sub.instances:
            continue  # translated with the class that builds it
        if sub.is_layer and not sub.fed_directly():
            continue  # a custom layer called in a Functional graph: the graph's tracer translates it
        sub.translate()


class Blocks:
    """The subclasses of this file as the Functional tracer sees them: ``Block(64)`` makes a block,
    ``block(x)`` translates its class for that input (one submodule the outer class builds)."""

    def __init__(self, rec, classes: dict):
        self.rec = rec
        self.classes = classes

    def __contains__(self, name: str) -> bool:
        return name in self.classes

    def instance(self, tracer, node: cst.Call) -> "SymCustom":
        tracer._args(node)
        tracer._mark_symbolic()
        if tracer.current_stmt is not None:  # `block = Block(64)` goes with the graph
            tracer.__dict__.setdefault("block_stmts", set()).add(id(tracer.current_stmt))
        cls = self.classes[node.func.value]
        tracer.__dict__.setdefault("block_classes_used", set()).add(id(cls))
        return SymCustom(cls, node)

    @staticmethod
    def is_block(value) -> bool:
        return isinstance(value, SymCustom)

    def apply(self, tracer, custom: "SymCustom", node: cst.Call):
        if custom.var is None:  # named like the variable that holds it (`block(x)`), else like its class
            name = node.func.value if isinstance(node.func, cst.Name) else _snake(custom.cls.name.value)
            custom.var = unique_attr(name, dict(tracer.used_attrs))
        return apply_block(tracer, custom, node, self.classes)

    def accept(self, tracer) -> None:
        """After a Functional model that calls blocks is accepted: their classes replace the Keras ones."""
        for inner in getattr(tracer, "inner", {}).values():
            accept_inner(self.rec, *inner)


@dataclass(eq=False)
class SymCustom:
    """An instance of another subclass in this file, made in ``__init__`` (``self.block = Block(64)``)."""

    cls: cst.ClassDef
    node: cst.Call  # the constructor call, kept as written in the torch __init__
    var: str | None = None
    #: the input size this instance passes first, when its torch class takes it (``Linear(64, 32)``)
    in_size: str | None = None

    @property
    def ctor(self) -> str:
        if self.in_size is None:
            return code(self.node)
        first = cst.Arg(cst.parse_expression(self.in_size),
                        comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")) if self.node.args else cst.MaybeSentinel.DEFAULT)
        return code(self.node.with_changes(args=[first, *self.node.args]))


@dataclass(eq=False)
class SymSeq:
    """A ``keras.Sequential([...])`` made in ``__init__`` (``self.ffn = keras.Sequential([...])``): sized and
    emitted as its own class when ``call`` first calls it."""

    model: ModelIR
    node: cst.Call
    var: str | None = None
    emitted: object = None
    key: tuple | None = None

    @property
    def ctor(self) -> str:
        return f"{self.model.class_name}({', '.join(emit_torch.constructor_params(self.model))})"


class _Subclass:
    def __init__(self, rec, cls: cst.ClassDef, classes: dict | None = None):
        self.rec = rec
        self.cls = cls
        self.classes = classes or {}
        self.shapes = ArrayShapes(rec)
        self.nested: SymCustom | None = None  # set when translated as a block of another class
        #: the constructor parameter the input's last size becomes (a block called on several sizes)
        self.in_size: str | None = None
        self.inner: dict[str, tuple] = {}
        self.name = cls.name.value
        self.methods = {s.name.value: s for s in cls.body.body if isinstance(s, cst.FunctionDef)}
        #: `model = MyModel(...)` assignments: (variable, call, function it is in)
        self.instances = [(a.targets[0].target.value, a.value, rec.function_of(a)) for a in rec.assigns
                          if isinstance(a.value, cst.Call) and isinstance(a.value.func, cst.Name)
                          and a.value.func.value == self.name and len(a.targets) == 1
                          and isinstance(a.targets[0].target, cst.Name)]

    @property
    def is_layer(self) -> bool:
        return all(self.rec.name(b.value) == "keras.layers.Layer" for b in self.cls.bases)

    def fed_directly(self) -> bool:
        """Whether the program builds or feeds an instance itself (not only inside a Functional graph)."""
        vars_ = {v for v, _c, _f in self.instances}
        for node in self.rec.calls:
            f = node.func
            if isinstance(f, cst.Attribute) and isinstance(f.value, cst.Name) and f.value.value in vars_:
                return True
            if isinstance(f, cst.Name) and f.value in vars_ and node.args \
                    and ArrayShapes(self.rec, keras_inputs=False).shape_of(node.args[0].value, node) is not None:
                return True
        return False

    def translate(self) -> None:
        try:
            self._check_methods()
            shape_node, tensor = self._input_tensor()
            source, model, emitted, notes = self._emit(tensor)
        except GraphError as e:
            self._leave(e.message, e.node or self.cls)
            return
        rec = self.rec
        rec.plan.models.append(model)
        rec.model_scopes[id(model)] = self.instances[0][2]
        rec.plan.emitted[model.class_name] = emitted
        _report_layer_todos(rec, emitted)
        for layer, note in emitted.layer_notes:
            if layer.node is not None:
                line, col = rec.pos(layer.node)
                rec.plan.diagnostics.append(Diagnostic(line, col, layer.spec.keras, note))
        for node, note in notes:
            line, col = rec.pos(node)
            rec.plan.diagnostics.append(Diagnostic(line, col, "subclassed model", note, "note"))
        rec.class_names.add(self.name)
        rec.consumed.add(id(self.cls))
        rec.plan.replace_stmt[id(self.cls)] = []
        rec.plan.insert_before.setdefault(id(self.cls), []).append(source)
        rec.plan.translated += 1 + len(model.layers)
        for inner in self.inner.values():
            accept_inner(rec, *inner)
        for var, call, _fn in self.instances:
            rec.model_vars.add(var)
            rec.model_by_call[id(call)] = model  # custom training loops find the model through its constructor
        self._drop_shape_calls()

    # ------------------------------------------------------------------ checks

    def _check_methods(self) -> None:
        for name, fn in self.methods.items():
            if name in spec.BLOCKING_METHODS:
                raise GraphError(spec.BLOCKING_METHODS[name], fn)
        if "call" not in self.methods:
            raise GraphError(f"{self.name} has no call() method; not translated", self.cls)
        for s in self.cls.body.body:
            if not isinstance(s, cst.FunctionDef) and not _is_docstring(s):
                raise GraphError("class-level statements in a subclassed model are not translated", s)
        for d in (d for fn in self.methods.values() for d in fn.decorators):
            raise GraphError(f"a decorated method (@{code(d.decorator)}) in a subclassed model is not translated", d)
        if not self.instances and not self.nested:
            raise GraphError(f"{self.name} is never assigned to a variable (`model = {self.name}(...)`), so its "
                             "input shape is unknown; not translated", self.cls)

    # ------------------------------------------------------------------ the input

    def _input_tensor(self):
        """The input's shape (batch axis dropped), from how the program builds or feeds the model."""
        found: list[tuple[object, tuple]] = []
        vars_ = {v for v, _c, _f in self.instances}
        for node in self.rec.calls:
            f = node.func
            if isinstance(f, cst.Attribute) and isinstance(f.value, cst.Name) and f.value.value in vars_:
                method, arg = f.attr.value, first_arg(node, ("input_shape", "x", "inputs"))
                if method == "build" and arg is not None:
                    dims = self._static_shape(arg, node)
                    if dims is not None:
                        found.append((node, dims[1:]))
                elif method in ("fit", "predict", "evaluate", "train_on_batch", "predict_on_batch") and arg is not None:
                    dims = self.shapes.shape_of(arg, node)
                    if dims is not None:
                        found.append((node, dims[1:]))
            elif isinstance(f, cst.Name) and f.value in vars_ and node.args:
                dims = self.shapes.shape_of(node.args[0].value, node)
                if dims is not None:
                    found.append((node, dims[1:]))
        if not found:
            raise GraphError(f"the input shape of {self.name} is unknown: add `model.build((None, ...))` (or call "
                             "the model on `keras.Input(shape=...)`) so tfpt can size its layers", self.instances[0][1])
        shapes = {dims for _n, dims in found}
        if len(shapes) > 1:
            raise GraphError(f"{self.name} is fed inputs of different shapes ({', '.join(map(str, sorted(shapes, key=str)))}); "
                             "not translated", found[1][0])
        dims = found[0][1]
        self.input_dims = tuple(dims)
        return found[0][0], Tensor(tuple(Dim("None") if d is None else Dim.of(d) for d in dims))

    def _static_shape(self, node, at) -> tuple | None:
        v = evaluate(node, self.rec.constants.scope(self.rec.function_of(at)))
        if isinstance(v, (tuple, list)) and v and all(d is None or isinstance(d, int) for d in v):
            return tuple(v)
        return None

    # ------------------------------------------------------------------ tracing and emission

    def emit_nested(self, tensor: Tensor, custom: SymCustom, outer_tracer):
        """This class as a block of another subclass, for the input ``tensor`` it is called on."""
        self.nested = custom
        self._check_methods()
        self.input_dims = tuple(None if not d.known else d.value for d in tensor.shape or ())
        result = self._emit(tensor)
        outer_tracer.inner.update(self.inner)
        return result

    def _emit(self, tensor: Tensor):
        """Trace with the constructor's parameters left symbolic (the class stays parameterised); if a shape
        rule needs their numbers, again with the values every instantiation in the file agrees on."""
        try:
            return self._emit_with(tensor, symbolic=True)
        except (GraphError, emit_torch.LayerError):
            return self._emit_with(tensor, symbolic=False)

    def _emit_with(self, tensor: Tensor, symbolic: bool):
        init = self.methods.get("__init__")
        call = self.methods["call"]
        tracer = _ClassTracer(self.rec, init, self.methods, self.classes)
        tracer.owner = self.cls
        notes = [(fn, spec.DROPPED_METHODS[name]) for name, fn in self.methods.items() if name in spec.DROPPED_METHODS]
        init_params = _params(init)[1:] if init is not None else []
        tracer.init_params_seen = set(init_params)
        tracer.attr_params = _attr_params(init, set(init_params))
        tracer.in_size = self.in_size
        kept: list[str] = []
        if init is not None:
            values = {} if symbolic else _call_site_values(self.rec, init.with_changes(
                name=cst.Name(self.name), params=init.params.with_changes(params=init.params.params[1:])))
            for p in init_params:
                tracer.frame.static[p] = ("module", values[p]) if p in values else UNKNOWN
            if values:
                fixed = ", ".join(f"{k}={v!r}" for k, v in values.items())
                notes.append((init, f"{self.name}'s layer sizes were computed for {fixed} (what every "
                                    "instantiation in this file passes); translate again for other values"))
            for stmt in init.body.body:
                if _is_docstring(stmt) or _is_super_init(stmt):
                    continue
                tracer.current_stmt = stmt
                tracer._statement(stmt)
                if _is_layer_assignment(stmt, tracer.attrs):
                    continue  # its torch line comes from the shape rule
                if any(self.rec.name(cst.Name(n)) is not None for n in names_read(stmt)):
                    raise GraphError("this statement in __init__ uses Keras or TensorFlow in a way tfpt does "
                                     "not follow", stmt)
                if any(isinstance(tracer.attrs.get(n), (SymLayer, list)) for n in _self_attrs(stmt)):
                    raise GraphError("this statement uses a layer outside call(); not translated", stmt)
                kept.append(code(stmt).strip("\n"))
        build = self.methods.get("build")
        if build is not None:
            tracer.trace_build(build, tensor)
        ins, outs = tracer.trace_call(call, tensor)
        graph, layer_irs, built, submodels, _stmts = tracer.graph(ins, outs)
        var, ctor, where = self.instances[0] if self.instances else (None, self.nested.node, None)
        inner_classes = "".join(code(t[0]).rstrip("\n") + "\n\n\n" for t in tracer.inner.values() if t[0] is not None)
        model = ModelIR(var, self.name, layer_irs, graph.inputs[0][2], None, [], graph,
                        {k: v.model for k, v in submodels.items()},
                        Subclass(inner_classes + code(self.cls), self._static_args(ctor, where), self.input_dims))
        emitted = emit_torch.emit_graph(model, built, {k: (v.model, v.emitted) for k, v in submodels.items()})
        for attr, sub in submodels.items():  # a block is built by this class, as in Keras
            emitted.source = emitted.source.replace(f"        self.{attr} = {attr}\n",
                                                    f"        self.{attr} = {sub.custom.ctor}\n", 1)
        if tracer.list_members:
            emitted.source = _module_lists(emitted.source)
        self.inner = dict(tracer.inner)
        notes.extend(tracer.skipped)
        unused = [a for a, v in tracer.attrs.items() if isinstance(v, SymLayer) and v.index is None]
        for attr in unused:
            what = "used" if tracer.attrs[attr].spec is WEIGHT else "called"
            notes.append((tracer.attrs[attr].node, f"self.{attr} is never {what} in call(); the torch class "
                                                   "does not build it"))
        forward = emitted.source.split("    def forward(", 1)[1]
        for p in init_params:
            if re.search(rf"(?<![\w.]){re.escape(p)}\b", forward):
                raise GraphError(f"call() needs the constructor argument {p!r} (store it on self); not translated",
                                 call)
        source = self._class_source(emitted.source, init, kept)
        if any(layer.spec is WEIGHT for layer in layer_irs):
            source = source.replace('"""Initialise like Keras: glorot-uniform kernels, zero biases."""',
                                    '"""Initialise like Keras: each weight with its Keras initializer."""')
        emitted.source = source
        return source, model, emitted, notes

    def _class_source(self, generated: str, init, kept: list[str]) -> str:
        """The generated class with the source's docstring, constructor signature and plain statements."""
        lines = generated.splitlines()
        docstring = next((s for s in self.cls.body.body if _is_docstring(s)), None)
        if docstring is not None:
            lines[1] = "    " + code(docstring).strip()
        else:
            kind = "layer" if self.is_layer else "model"
            lines[1] = re.sub(r"Keras Functional model `[^`]*`", f"Keras subclassed {kind} `{self.name}`", lines[1])
        i = next(k for k, line in enumerate(lines) if line.startswith("    def __init__(self"))
        if init is not None:
            lines[i] = f"    def __init__({code(init.params).strip()}):"
        end = next((k for k in range(i + 1, len(lines)) if lines[k].startswith("    def ")), len(lines))
        if self.in_size is not None and re.search(rf"\b{self.in_size}\b", "\n".join(lines[i + 1:end])):
            if re.search(rf"\b{self.in_size}\b", "\n".join(lines[end:])):
                raise GraphError(f"forward() would need the input size {self.in_size}", self.cls)
            lines[i] = lines[i].replace("(self", f"(self, {self.in_size}", 1).replace(", ):", "):")
        if init is not None:
            j = lines.index("        super().__init__()", i)
            body = [("        " + l if l.strip() else "") for s in kept for l in _dedent(s).splitlines()]
            lines[j + 1:j + 1] = body
        lead = [code_line.comment.value for code_line in self.cls.leading_lines if code_line.comment is not None]
        return "\n".join([*lead, *lines]) + "\n"

    def _static_args(self, call: cst.Call, where) -> str:
        """The constructor arguments as literals (verify rebuilds the model from them); "?" when not static."""
        env = self.rec.constants.scope(where)
        parts = []
        for a in call.args:
            v = evaluate(a.value, env)
            if a.star or v is UNKNOWN:
                return "?"
            parts.append(f"{a.keyword.value}={v!r}" if a.keyword is not None else repr(v))
        return ", ".join(parts)

    def _drop_shape_calls(self) -> None:
        """``model.build(...)`` and a bare ``model(keras.Input(...))``: torch modules are built in __init__."""
        vars_ = {v for v, _c, _f in self.instances}
        for node in self.rec.calls:
            f = node.func
            stmt = self.rec.statement_of(node)
            bare = (isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1
                    and isinstance(stmt.body[0], cst.Expr) and stmt.body[0].value is node)
            if not bare:
                continue
            is_build = isinstance(f, cst.Attribute) and isinstance(f.value, cst.Name) and f.value.value in vars_ \
                and f.attr.value == "build"
            is_symbolic_call = isinstance(f, cst.Name) and f.value in vars_ and node.args and isinstance(
                node.args[0].value, cst.Call) and self.rec.name(node.args[0].value.func) in ("keras.Input", "keras.layers.Input")
            if is_build or is_symbolic_call:
                self.rec.plan.replace_stmt[id(stmt)] = []
                self.rec.consumed.add(id(stmt))
                self.rec.consumed.add(id(node))

    def _leave(self, reason: str, node) -> None:
        rec = self.rec
        line, col = rec.pos(node)
        rec.plan.diagnostics.append(Diagnostic(line, col, "subclassed model", reason))
        target = rec.statement_of(node) if not isinstance(node, cst.ClassDef) else node
        rec.plan.todos.setdefault(id(target if target is not None else self.cls), []).append(reason)
        rec.consumed.add(id(self.cls))
        for var, _call, _fn in self.instances:
            rec.left_models.add(var)
        for name in _names_called(self.cls) & set(self.classes) - {self.name}:
            inner = self.classes[name]  # its blocks stay Keras with it: this TODO explains them
            if id(inner) not in rec.consumed:
                rec.consumed.add(id(inner))


class _ClassTracer(Tracer):
    """The Functional tracer with ``self``: attributes hold layers, ``call`` is the graph."""

    def __init__(self, rec, init, methods, classes=None):
        super().__init__(rec, init, None)
        self.classes = classes or {}
        #: blocks of this class (and theirs): class name -> (ClassDef or None for a Sequential, source,
        #: EmittedModel, notes, the ClassDef its class goes before)
        self.inner: dict[str, tuple] = {}
        #: class name -> (input shape texts, SymModel) of a block already traced
        self.block_models: dict[str, tuple] = {}
        self.attrs: dict[str, object] = {}
        #: id(layer) -> "name.i" for the layers of a list attribute
        self.list_members: dict[int, str] = {}
        #: (call, note) for layer calls left out of forward
        self.skipped: list[tuple[cst.Call, str]] = []
        self.methods = methods
        self.call_site_values = {}
        # what add_weight() may spell in __init__ (set by _Subclass before tracing): its parameters, the
        # attributes holding one (`self.units = units`), the attributes set before build(), the lifted input size
        self.init_params_seen: set[str] = set()
        self.attr_params: dict[str, str] = {}
        self.init_attrs: set[str] | None = None
        self.in_size: str | None = None
        self.frame.static["self"] = SELF

    def trace_build(self, build: cst.FunctionDef, tensor: Tensor) -> None:
        """``build(self, input_shape)``: run with the input's static shape; its weights and layers join
        ``__init__`` (torch builds everything there)."""
        params = _params(build)
        if tensor.shape is None:
            raise GraphError("build() needs the input shape, which is unknown", build)
        frame = _Frame(build, self.rec.constants.scope(build))
        frame.static["self"] = SELF
        if len(params) > 1:  # the lifted input size (a constructor parameter) stays a name
            frame.static[params[1]] = (None, *(InputSize(d.text) if d.text == self.in_size
                                               else d.value for d in tensor.shape))
        self.init_attrs = {a for a, v in self.attrs.items() if not _is_symbolic(v)}
        outer, self.frame = self.frame, frame
        try:
            for stmt in build.body.body:
                if _is_docstring(stmt) or _is_super_call(stmt, "build") or _sets_built(stmt):
                    continue
                self.current_stmt = stmt
                self._statement(stmt)
        except _Return:
            pass
        finally:
            self.frame = outer

    def trace_call(self, call: cst.FunctionDef, tensor: Tensor):
        params = _params(call)
        if len(params) < 2:
            raise GraphError("call() takes no input", call)
        frame = _Frame(call, self.rec.constants.scope(call))
        frame.static["self"] = SELF
        first = params[1]
        for p in (*call.params.params[2:], *call.params.kwonly_params):
            name = p.name.value
            if name == "training":
                frame.static[name] = TRAINING
            elif name == "mask" or p.default is not None:
                frame.static[name] = evaluate(p.default, self.rec.constants.scope(None)) if p.default is not None else None
            else:
                raise GraphError(f"call() takes a second input ({name}); subclassed models with several inputs "
                                 "are not translated yet", p)
        if isinstance(call.params.star_arg, cst.Param) or isinstance(call.params.star_kwarg, cst.Param):
            pass  # **kwargs forwarded nowhere is harmless; one that is used fails where it is read
        # without a `training` parameter Keras 3 calls the layers in inference mode, even in fit()
        self.inference_only = "training" not in params and "training" not in {p.name.value for p in call.params.kwonly_params}
        x = self._new_tensor(tensor)
        self.inputs[x.id] = (first, tensor, None, None)
        frame.sym[first] = x
        self.frame = frame
        try:
            for stmt in call.body.body:
                if _is_docstring(stmt):
                    continue
                self.current_stmt = stmt
                self._statement(stmt)
        except _Return:
            pass
        out = frame.returned
        if not isinstance(out, SymTensor):
            raise GraphError("call() must return one Keras tensor to be translated", call)
        self._hint(out, "x")  # `return self.dense2(x)`: forward names its result like the source's chain
        return [x], out

    def _statement(self, stmt) -> None:
        try:
            super()._statement(stmt)
        except GraphError as e:
            if e.node is None:
                e.node = stmt
            raise

    def _if(self, stmt: cst.If) -> None:
        if not _is_training_test(stmt.test):
            super()._if(stmt)
            return
        if stmt.orelse is not None:
            raise GraphError("an `if training:` with an else branch is not translated", stmt)
        before = len(self.nodes)
        for inner in stmt.body.body:
            self._statement(inner)
        for node in self.nodes[before:]:
            keras = self.layer_irs[node.layer].spec.keras if node.layer is not None else None
            if keras not in spec.IDENTITY_AT_INFERENCE:
                raise GraphError("`if training:` around something that is not the identity at inference "
                                 f"({keras or node.keras}) is not translated", stmt)

    def _apply(self, layer: SymLayer, node: cst.Call):
        keras = getattr(layer.spec, "keras", None)
        if getattr(self, "inference_only", False) and keras in spec.MODE_DEPENDENT:
            if keras not in spec.IDENTITY_AT_INFERENCE:
                raise GraphError(f"{keras} runs in inference mode here, even in fit(), because call() takes no "
                                 "`training` argument (Keras 3); tfpt does not translate that: add `training=None` "
                                 "to call() if the layer should train", node)
            self.skipped.append((node, f"{keras} never applies here: call() takes no `training` argument, so "
                                       "Keras 3 runs it in inference mode, even in fit(); left out of forward"))
            return self._expr(node.args[0].value) if node.args else super()._apply(layer, node)
        return super()._apply(layer, node)

    def _call_kwargs(self, node: cst.Call, allowed=()) -> None:
        args = [a for a in node.args if not (a.keyword is not None and a.keyword.value == "training"
                                              and evaluate(a.value, self.frame.env) is TRAINING)]
        super()._call_kwargs(node.with_changes(args=args), allowed)

    def _expr(self, node):
        if isinstance(node, cst.Attribute) and isinstance(node.value, cst.Name) and node.value.value == "self":
            name = node.attr.value
            if name in self.attrs:
                return self.attrs[name]
            raise GraphError(f"self.{name} is not set in __init__ (tfpt follows layers and values set there)", node)
        if isinstance(node, cst.ListComp):
            return self._list_comprehension(node)
        return super()._expr(node)

    def _list_comprehension(self, node: cst.ListComp):
        """``[layers.Dense(u) for u in units]`` over a static sequence: one value per item."""
        comp = node.for_in
        if comp.inner_for_in is not None or comp.ifs or comp.asynchronous is not None:
            raise GraphError("only a single `for` without conditions is followed in a list comprehension", node)
        self._structural += 1
        try:
            items = self._static_iterable(comp.iter)
        finally:
            self._structural -= 1
        if items is None:
            raise GraphError(f"{code(comp.iter)} is not a static sequence", node)
        out = []
        for item in items:
            self._bind(comp.target, item, node)
            out.append(self._expr(node.elt))
        return out

    def _call(self, node: cst.Call):
        f = node.func
        if isinstance(f, cst.Attribute) and isinstance(f.value, cst.Name) and f.value.value == "self" \
                and f.attr.value in ADD_WEIGHT_METHODS:
            self._mark_symbolic()
            in_init = self.frame.fn is self.fn and self.fn is not None
            attrs = self.init_attrs if self.init_attrs is not None else set(self.attrs)
            return add_weight(self, node, in_init, self.init_params_seen, attrs, self.attr_params)
        if isinstance(f, cst.Name) and f.value in self.classes and self.frame.lookup(f.value) is None:
            self._args(node)  # a layer made inside an argument is still built
            self._mark_symbolic()
            return SymCustom(self.classes[f.value], node)
        if self.rec.name(f) == "keras.Sequential" and self.frame.fn is self.fn:
            try:
                model, _adds = self.rec._model_ir(node, None, self.rec.statement_of(node), self.fn)
            except Exception as e:  # the recogniser's model error, re-raised with its node
                raise GraphError(getattr(e, "message", str(e)), getattr(e, "node", None) or node) from None
            self._mark_symbolic()
            return SymSeq(model, node)
        callee = self.attrs.get(f.attr.value) if isinstance(f, cst.Attribute) and isinstance(
            f.value, cst.Name) and f.value.value == "self" else None
        if isinstance(callee, SymCustom):
            return self._apply_block(callee, node)
        if isinstance(callee, SymSeq):
            return self._apply_sequential(callee, node)
        if isinstance(f, cst.Attribute) and isinstance(f.value, cst.Name) and f.value.value == "self" \
                and f.attr.value in self.methods and f.attr.value not in self.attrs:
            return self._inline(self.methods[f.attr.value], node, [(None, SELF), *self._args(node)])
        return super()._call(node)

    def _apply_block(self, custom: SymCustom, node: cst.Call):
        return apply_block(self, custom, node, self.classes)

    def _apply_sequential(self, seq: SymSeq, node: cst.Call):
        """``self.ffn(x)``: the Sequential is sized by its first input and becomes a class of its own."""
        x = self._expr(node.args[0].value) if node.args else None
        if not isinstance(x, SymTensor) or len([a for a in node.args if a.keyword is None]) != 1:
            raise GraphError(f"{code(node.func)}(...) is translated when called on one Keras tensor", node)
        _lines, keras_t = to_layout(self.tensors[x.id], KERAS)
        key = tuple(d.text for d in keras_t.shape or ())
        if seq.emitted is None:
            model = dataclasses.replace(seq.model, input=keras_t, var=None, class_name=self.rec._class_name(
                seq.var, seq.model.keras_name, None))
            try:
                emitted = emit_torch.emit_model(model)
            except emit_torch.LayerError as e:
                raise GraphError(f"{e.layer.spec.keras}: {e}", e.layer.node or node) from None
            seq.model, seq.emitted, seq.key = model, emitted, key
            self.inner[model.class_name] = (None, emitted.source, emitted, [], self.owner)
        elif seq.key != key:
            raise GraphError(f"self.{seq.var} is called on inputs of different shapes; not translated", node)
        sub = SymModel(seq.var, seq.model, seq.emitted)
        sub.custom = seq
        return self._apply_model(sub, node)

    def _bind(self, target, value, stmt) -> None:
        if isinstance(target, cst.Attribute) and isinstance(target.value, cst.Name) and target.value.value == "self":
            name = target.attr.value
            if isinstance(value, SymSeq):
                value.var = name
                self.attrs[name] = value
                return
            if isinstance(value, SymCustom):
                value.var = name
                self.attrs[name] = value
                return
            if isinstance(value, (list, tuple)) and value and all(isinstance(v, SymLayer) for v in value):
                for i, layer in enumerate(value):  # a list of layers: an nn.ModuleList, `self.hidden.0` in weights
                    layer.var = f"{name}.{i}"
                    self.list_members[id(layer)] = layer.var
                self.attrs[name] = list(value)
                return
            if isinstance(value, SymLayer):
                if value.var is not None and value.var != name:
                    raise GraphError(f"one layer stored under two names (self.{value.var}, self.{name}) is not "
                                     "translated", stmt)
                value.var = name
            elif _is_symbolic(value):
                raise GraphError(f"storing a Keras tensor in self.{name} is not translated", stmt)
            self.attrs[name] = value
            return
        super()._bind(target, value, stmt)

    def _attr_for(self, layer: SymLayer, used=None, counters=None) -> str:
        if id(layer) in self.list_members:
            return unique_attr(self.list_members[id(layer)], self.used_attrs if used is None else used)
        if layer.var is not None and self.attrs.get(layer.var) is layer:
            return unique_attr(layer.var, self.used_attrs if used is None else used)
        return super()._attr_for(layer, used, counters)


# --------------------------------------------------------------------------- blocks


def apply_block(tracer, custom: SymCustom, node: cst.Call, classes: dict):
    """``block(x)``: the block's class is translated for this input; the node calls the submodule."""
    x = tracer._expr(node.args[0].value) if node.args else None
    if not isinstance(x, SymTensor) or len([a for a in node.args if a.keyword is None]) != 1:
        raise GraphError(f"{code(node.func)}(...) is translated when called on one Keras tensor", node)
    _lines, keras_t = to_layout(tracer.tensors[x.id], KERAS)
    name = custom.cls.name.value
    inner = tracer.__dict__.setdefault("inner", {})
    models = tracer.__dict__.setdefault("block_models", {})
    size = _size_param(custom.cls, keras_t)
    lifted = _lifted(keras_t, size)
    keys = {tuple(d.text for d in t.shape or ()) for t in (keras_t, lifted) if t is not None}
    here = tuple(d.text for d in keras_t.shape or ())
    if name in models and models[name][0] not in keys:
        raise GraphError(f"{name} is called on inputs of different shapes ({', '.join(models[name][5])} "
                         f"and {', '.join(here)}); not translated", node)
    if name not in models:
        models[name] = _emit_block(tracer, custom, node, classes, keras_t, lifted, size)
        inner[name] = (custom.cls, *models[name][3])
    key, model, emitted, _inner, takes_size, _first = models[name]
    if takes_size:
        custom.in_size = keras_t.shape[-1].text
    sub = SymModel(custom.var, model, emitted)
    sub.custom = custom
    sub.output = _output_here(tracer, custom, emitted.output, size if takes_size else None, keras_t, node)
    return tracer._apply_model(sub, node)


def _emit_block(tracer, custom: SymCustom, node, classes: dict, keras_t: Tensor, lifted: Tensor | None, size: str):
    """The block's class: first for any last input size (a constructor parameter, like ``nn.Linear``'s
    ``in_features``, when the class needs it), else for this input's exact shape."""
    name = custom.cls.name.value
    for t in (lifted, keras_t):
        if t is None:
            continue
        block = _Subclass(tracer.rec, custom.cls, classes)
        block.in_size = size if t is lifted else None
        try:
            source, model, emitted, notes = block.emit_nested(t, custom, tracer)
        except (GraphError, emit_torch.LayerError) as e:
            if t is lifted:
                continue
            raise GraphError(f"{name}: {getattr(e, 'message', str(e))}", node) from None
        takes = t is lifted and re.search(rf"def __init__\(self, {size}\b", source) is not None
        return (tuple(d.text for d in t.shape or ()), model, emitted, (source, emitted, notes, custom.cls), takes,
                tuple(d.text for d in keras_t.shape or ()))
    raise GraphError(f"{name}: its input shape is unknown", node)


def _size_param(cls: cst.ClassDef, t: Tensor) -> str:
    """A constructor parameter name for the input's last size, as torch names it (``nn.Linear``'s
    ``in_features``, ``nn.Conv2d``'s ``in_channels``), that the class does not use already."""
    first = "in_channels" if t.rank is not None and t.rank >= 3 else "in_features"
    taken = {n.value for n in _all_names(cls)}
    return next(n for n in (first, "input_size", "in_size", "tfpt_in_size") if n not in taken)


def _lifted(t: Tensor, size: str) -> Tensor | None:
    """``t`` with its last size symbolic (``size``); None when that size is not known."""
    if t.shape is None or not t.shape or not t.shape[-1].known:
        return None
    return Tensor(t.shape[:-1] + (Dim(size),), t.layout, t.rank_known)


def _output_here(tracer, custom: SymCustom, output: Tensor, size: str | None, given: Tensor, node) -> Tensor:
    """The block's output shape at this call: its constructor parameters (and input size) replaced by
    what this instance passes (``units`` -> 32)."""
    if output.shape is None or all(d.text == "None" or d.text == str(d.value) for d in output.shape):
        return output
    values = _ctor_values(tracer, custom)
    if size is not None:
        values[size] = given.shape[-1]
    dims = []
    for d in output.shape:
        if d.text == "None" or d.text == str(d.value):
            dims.append(d)
        elif d.text in values:
            dims.append(values[d.text])
        elif d.known:  # the block's own spelling of a size means nothing in this scope: its number does
            dims.append(Dim.of(d.value))
        else:
            env = {k: v.value for k, v in values.items() if v.known}
            v = evaluate(cst.parse_expression(d.text), env)
            if not isinstance(v, int) or isinstance(v, bool):
                raise GraphError(f"the output size {d.text} of {custom.cls.name.value} is not known here", node)
            dims.append(Dim.of(v))
    return Tensor(tuple(dims), output.layout, output.rank_known)


def _ctor_values(tracer, custom: SymCustom) -> dict[str, Dim]:
    """The block's ``__init__`` parameters as this instance's constructor call gives them (or their defaults)."""
    init = next((s for s in custom.cls.body.body if isinstance(s, cst.FunctionDef) and s.name.value == "__init__"), None)
    if init is None:
        return {}
    params = list(init.params.params[1:])
    given: dict[str, cst.BaseExpression] = {}
    positional = [a.value for a in custom.node.args if a.keyword is None and not a.star]
    for p, v in zip(params, positional):
        given[p.name.value] = v
    for a in custom.node.args:
        if a.keyword is not None:
            given[a.keyword.value] = a.value
    out: dict[str, Dim] = {}
    for p in (*params, *init.params.kwonly_params):
        node = given.get(p.name.value, p.default)
        if node is None:
            continue
        v = tracer._static(node) if p.name.value in given else evaluate(node, tracer.rec.constants.scope(None))
        out[p.name.value] = Dim.of(v) if isinstance(v, int) and not isinstance(v, bool) else Dim(code(node))
    return out


def accept_inner(rec, cls, source, emitted, notes, owner) -> None:
    """A block's class (``cls``) or a Sequential made in ``owner``'s __init__ (``cls`` None): its torch
    class goes before the class that uses it."""
    if cls is None:
        rec.plan.emitted[emitted_name(source)] = emitted
        rec.plan.insert_before.setdefault(id(owner), []).insert(0, source)
        return
    if id(cls) in rec.consumed:
        return
    rec.plan.emitted[cls.name.value] = emitted
    _report_layer_todos(rec, emitted)
    for node, note in notes:
        line, col = rec.pos(node)
        rec.plan.diagnostics.append(Diagnostic(line, col, "subclassed model", note, "note"))
    rec.class_names.add(cls.name.value)
    rec.consumed.add(id(cls))
    rec.plan.replace_stmt[id(cls)] = []
    rec.plan.insert_before.setdefault(id(cls), []).append(source)
    rec.plan.translated += 1


# --------------------------------------------------------------------------- small helpers


def _module_lists(source: str) -> str:
    """``self.hidden.0`` (a list attribute's layers, named like the state dict) as ``self.hidden[0]``, and
    their ``__init__`` lines as one ``nn.ModuleList``."""
    source = re.sub(r"\bself\.(\w+)\.(\d+)\b", r"self.\1[\2]", source)
    lines = source.splitlines()
    made: dict[str, int] = {}
    out: list[str] = []
    for line in lines:
        m = re.fullmatch(r"        self\.(\w+)\[(\d+)\] = (.+)", line)
        if m is None:
            out.append(line)
            continue
        name, module = m.group(1), m.group(3)
        if name not in made:
            made[name] = len(out)
            out.append(f"        self.{name} = nn.ModuleList([")
        out.insert(made[name] + 1 + sum(1 for l in out[made[name] + 1:] if l.startswith("            ")),
                   f"            {module},")
    for name, at in sorted(made.items(), key=lambda kv: -kv[1]):
        end = at + 1
        while end < len(out) and out[end].startswith("            "):
            end += 1
        out.insert(end, "        ])")
    return "\n".join(out) + ("\n" if source.endswith("\n") else "")


def _report_layer_todos(rec, emitted) -> None:
    """The TODO comments ``__init__`` carries for a layer or weight (an argument not carried over)."""
    for line, col, note in emitted.notes:
        rec.plan.diagnostics.append(Diagnostic(line, col, "layer argument", note))


def emitted_name(source: str) -> str:
    """The class name a generated class source defines."""
    return source.split("class ", 1)[1].split("(", 1)[0]


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _attr_params(init, params: set[str]) -> dict[str, str]:
    """``self.units = units`` in ``__init__``: attribute -> the constructor parameter it holds."""
    out: dict[str, str] = {}
    for stmt in init.body.body if init is not None else ():
        if isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1 and isinstance(stmt.body[0], cst.Assign):
            a = stmt.body[0]
            t = a.targets[0].target
            if len(a.targets) == 1 and isinstance(t, cst.Attribute) and isinstance(t.value, cst.Name) \
                    and t.value.value == "self" and isinstance(a.value, cst.Name) and a.value.value in params:
                out[t.attr.value] = a.value.value
    return out


def _all_names(node) -> list[cst.Name]:
    found: list[cst.Name] = []

    class V(cst.CSTVisitor):
        def visit_Name(self, n: cst.Name):
            found.append(n)

    node.visit(V())
    return found


def _names_called(cls: cst.ClassDef) -> set[str]:
    found: set[str] = set()

    class V(cst.CSTVisitor):
        def visit_Call(self, n: cst.Call):
            if isinstance(n.func, cst.Name):
                found.add(n.func.value)

    cls.visit(V())
    return found


def _params(fn: cst.FunctionDef) -> list[str]:
    return [p.name.value for p in (*fn.params.posonly_params, *fn.params.params)]


def _is_docstring(stmt) -> bool:
    return (isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1 and isinstance(stmt.body[0], cst.Expr)
            and isinstance(stmt.body[0].value, (cst.SimpleString, cst.ConcatenatedString)))


def _is_super_init(stmt) -> bool:
    return _is_super_call(stmt, "__init__")


def _is_super_call(stmt, method: str) -> bool:
    """``super().method(...)`` (or ``super(Cls, self).method(...)``) as a statement of its own."""
    if not (isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1 and isinstance(stmt.body[0], cst.Expr)):
        return False
    call = stmt.body[0].value
    return (isinstance(call, cst.Call) and isinstance(call.func, cst.Attribute) and call.func.attr.value == method
            and isinstance(call.func.value, cst.Call) and isinstance(call.func.value.func, cst.Name)
            and call.func.value.func.value == "super")


def _sets_built(stmt) -> bool:
    """``self.built = True``: Keras bookkeeping a torch module does not need."""
    return (isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1 and isinstance(stmt.body[0], cst.Assign)
            and code(stmt.body[0].targets[0].target).strip() == "self.built")


def _is_training_test(test) -> bool:
    return isinstance(test, cst.Name) and test.value == "training"


def _self_attrs(stmt) -> set[str]:
    found: set[str] = set()

    class V(cst.CSTVisitor):
        def visit_Attribute(self, n: cst.Attribute):
            if isinstance(n.value, cst.Name) and n.value.value == "self":
                found.add(n.attr.value)

    stmt.visit(V())
    return found


def _is_layer_assignment(stmt, attrs: dict) -> bool:
    """``self.dense = layers.Dense(...)`` (one target, one statement on the line)."""
    if not (isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1 and isinstance(stmt.body[0], cst.Assign)):
        return False
    targets = stmt.body[0].targets
    return len(targets) == 1 and isinstance(targets[0].target, cst.Attribute) and isinstance(
        targets[0].target.value, cst.Name) and targets[0].target.value.value == "self" and isinstance(
        attrs.get(targets[0].target.attr.value), (SymLayer, SymCustom, SymSeq)) or (
        isinstance(attrs.get(targets[0].target.attr.value), list)
        and all(isinstance(v, SymLayer) for v in attrs[targets[0].target.attr.value]))


def _dedent(text: str) -> str:
    import textwrap
    return textwrap.dedent(text)
