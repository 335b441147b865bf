"""Recognise stage: find the Keras idioms in a module and plan their replacements.

Produces a ``Plan``: statements and calls to replace, TODOs to attach (with their
diagnostics), classes to insert and runtime helpers to emit. Nothing is rewritten
here; ``rewrite.py`` applies the plan.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import Callable

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider

from . import custom_training, emit_torch, names, subclassing, tf1
from .functional import MODEL, GraphError, Tracer
from .diagnostics import Diagnostic
from .evaluate import Constants, code, evaluate, names_read, target_names, value_of
from .ir import LayerIR, ModelIR, camel_case, identifier, snake_case, unique_attr
from .spec import activations, calls, layers, training
from .spec.layers import NEUTRAL_ARGS, TRAINING_ONLY_ARGS, Tensor, Unsupported
from .spec.values import UNKNOWN, Dim, Value


@dataclass
class Plan:
    replace_stmt: dict[int, list[str]] = field(default_factory=dict)
    replace_call: dict[int, Callable[[cst.Call], cst.BaseExpression]] = field(default_factory=dict)
    todos: dict[int, list[str]] = field(default_factory=dict)
    insert_before: dict[int, list[str]] = field(default_factory=dict)
    helpers: set[str] = field(default_factory=set)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    translated: int = 0
    models: list[ModelIR] = field(default_factory=list)
    emitted: dict[str, emit_torch.EmittedModel] = field(default_factory=dict)
    #: model variable -> the torch statements its compile() became
    compiles: dict[str, list[str]] = field(default_factory=dict)
    #: ids of the nodes on the way to an edit (the rest is never visited again)
    edit_paths: set[int] = field(default_factory=set)
    #: names read by code the plan leaves in place
    surviving_names: set[str] = field(default_factory=set)
    #: ids of nodes whose whole subtree the plan removes
    dropped: set[int] = field(default_factory=set)
    #: ``from M import *`` modules that code left in place still needs
    star_modules_used: set[str] = field(default_factory=set)
    #: source text of what the replaced calls introduce
    call_texts: list[str] = field(default_factory=list)
    #: ids of compound statements replaced by their own body (``with tf.Session() as sess:``)
    unwrap: set[int] = field(default_factory=set)

    def replace(self, node: cst.CSTNode, make, text: str, keeps_args: bool = False) -> None:
        """Replace call ``node`` via ``make(updated)``; ``text`` is what it introduces."""
        self.replace_call[id(node)] = make
        self.dropped.add(id(node.func) if keeps_args else id(node))
        self.call_texts.append(text)
    #: model variable -> the original ``compile(...)`` arguments as written (Keras source)
    keras_compiles: dict[str, str] = field(default_factory=dict)


_SEQUENTIAL = "keras.Sequential"
_INPUTS = ("keras.Input", "keras.layers.Input")
_INPUT_LAYER = "keras.layers.InputLayer"


class Recogniser:
    def __init__(self, wrapper: MetadataWrapper):
        self.module = wrapper.module
        self.wrapper = wrapper
        self._positions = None
        self.bindings = names.Bindings()
        self.bindings.star_names = _STAR_NAMES
        self.parents: dict[cst.CSTNode, cst.CSTNode] = {}
        self.calls: list[cst.Call] = []
        self.assigns: list[cst.Assign] = []
        self.returns: list[cst.Return] = []
        self.refs: list[cst.CSTNode] = []  # outermost Name/Attribute chains outside imports
        self._index(self.module)
        self.constants = Constants(self.module)
        self.plan = Plan()
        self.model_vars: set[str] = set()
        self.model_funcs: set[str] = set()
        self.class_names: set[str] = set()
        self.consumed: set[int] = set()  # nodes whose framework names are handled
        self.saved_paths: dict[str, ModelIR] = {}
        self.compiled: dict[str, dict] = {}
        self.failed_compiles: set[str] = set()
        self.left_models: set[str] = set()  # models kept in Keras (a layer tfpt cannot translate)
        #: id(ModelIR) -> the function it is built in (None: module level); nested models must share it
        self.model_scopes: dict[int, object] = {}
        #: helper functions inlined into translated Functional models
        self.inlined_functions: dict[str, cst.FunctionDef] = {}
        #: id(model construction call) -> its ModelIR (a later graph may call the model)
        self.model_by_call: dict[int, ModelIR] = {}
        #: ids of the ``model.add(...)`` statements of translated Sequential models
        self.sequential_adds: set[int] = set()
        #: Sequential models without an input shape that a Functional graph calls (var -> pieces)
        self.deferred: dict[str, tuple] = {}
        self.defined_names = set(self.constants.module_names) | _imported_names(self.module)

    # ------------------------------------------------------------------ metadata helpers

    def _index(self, module: cst.Module) -> None:
        """One pass: parents, import bindings, and the nodes the later steps look at.

        A hand-rolled walk over the syntax fields (whitespace and punctuation skipped):
        LibCST's visitors rebuild every node and cost as much as parsing.
        """
        parents = self.parents
        bindings = self.bindings
        calls_found, assigns, returns, refs = self.calls, self.assigns, self.returns, self.refs

        def walk(node, parent):
            parents[node] = parent
            if isinstance(node, cst.Call):
                calls_found.append(node)
            elif isinstance(node, (cst.Name, cst.Attribute)):
                if not (isinstance(parent, cst.Attribute) and parent.value is node):
                    refs.append(node)
            elif isinstance(node, cst.Assign):
                assigns.append(node)
            elif isinstance(node, cst.Return):
                returns.append(node)
            elif isinstance(node, cst.Import):
                bindings.add_import(node)
                return
            elif isinstance(node, cst.ImportFrom):
                bindings.add_import_from(node)
                return
            for name in _syntax_fields(type(node)):
                child = getattr(node, name)
                if isinstance(child, cst.CSTNode):
                    walk(child, node)
                elif isinstance(child, (tuple, list)):
                    for item in child:
                        if isinstance(item, cst.CSTNode):
                            walk(item, node)

        for stmt in module.body:
            walk(stmt, module)

    def consumed_within(self, node) -> bool:
        """Whether ``node`` or an enclosing node is already handled."""
        while node is not None:
            if id(node) in self.consumed:
                return True
            node = self.parents.get(node)
        return False

    def name(self, node) -> str | None:
        """The canonical framework name ``node`` refers to, or None."""
        return self.bindings.canonical(node)

    def pos(self, node) -> tuple[int, int]:
        if self._positions is None:  # only when there is something to report
            self._positions = self.wrapper.resolve(PositionProvider)
        p = self._positions[node].start
        return p.line, p.column + 1

    def parent(self, node):
        return self.parents.get(node)

    def statement_of(self, node):
        while node is not None and not isinstance(node, (cst.SimpleStatementLine, cst.BaseCompoundStatement)):
            node = self.parent(node)
        return node

    def toplevel_of(self, node):
        while True:
            p = self.parent(node)
            if p is None or isinstance(p, cst.Module):
                return node
            node = p

    def function_of(self, node):
        while node is not None:
            node = self.parent(node)
            if isinstance(node, cst.FunctionDef):
                return node
        return None

    def todo(self, node, construct: str, reason: str, severity: str = "todo") -> None:
        stmt = self.statement_of(node)
        line, col = self.pos(node)
        self.plan.diagnostics.append(Diagnostic(line, col, construct, reason, severity))
        if stmt is not None and severity == "todo":
            self.plan.todos.setdefault(id(stmt), []).append(reason)

    # ------------------------------------------------------------------ driver

    def run(self) -> Plan:
        constructions = self._find_constructions()
        self._propagate_model_names(constructions)
        subclassing.translate(self)  # keras.Model / Layer subclasses: __init__ + call -> nn.Module
        for item in constructions:
            if not self.consumed_within(item[0]):  # a Sequential inside a subclass goes with the class
                self._translate_model(*item)
        self._finish_deferred()
        self._drop_inlined_functions()
        custom_training.translate(self)  # TF2 custom loops: GradientTape, tf.function, model calls (before their TODOs)
        self._translate_calls()
        tf1.translate(self)  # TF1 graph code: placeholders, sessions, minimize
        self._report_leftovers()
        self._record_edit_paths()
        self._record_surviving_names()
        return self.plan

    def _record_edit_paths(self) -> None:
        """Ids of every node on a path from the module to an edit: the rewrite walks only those."""
        plan = self.plan
        targets = set(plan.replace_stmt) | set(plan.replace_call) | set(plan.todos) | set(plan.insert_before)
        by_id = {id(n): n for n in self.parents}
        paths = plan.edit_paths
        for t in targets:
            node = by_id.get(t)
            while node is not None and id(node) not in paths:
                paths.add(id(node))
                node = self.parents.get(node)

    def _record_surviving_names(self) -> None:
        """Names the untouched code still reads (decides which TensorFlow imports stay)."""
        removed = set(self.plan.replace_stmt) | self.plan.dropped
        keep = self.plan.surviving_names
        for node in self.refs:
            head = node
            while isinstance(head, cst.Attribute):
                head = head.value
            if not isinstance(head, cst.Name) or head.value in keep:
                continue
            n = node
            while n is not None and id(n) not in removed:
                n = self.parents.get(n)
            if n is None:
                keep.add(head.value)
        for head in keep:
            if head not in self.bindings.imported:
                via = self.bindings.qualified(cst.Name(head))
                if via is not None:
                    self.plan.star_modules_used.add(via.rsplit(".", 1)[0])

    # ------------------------------------------------------------------ models

    def _find_constructions(self):
        found = []
        for node in self.calls:
            q = self.name(node.func)
            if q != _SEQUENTIAL and q != MODEL:
                continue
            parent = self.parent(node)
            stmt = self.statement_of(node)
            if isinstance(parent, cst.Assign) and len(parent.targets) == 1 and isinstance(parent.targets[0].target, cst.Name):
                found.append((node, parent.targets[0].target.value, stmt))
            elif isinstance(parent, cst.Return):
                fn = self.function_of(node)
                found.append((node, None, stmt))
                if fn is not None:
                    self.model_funcs.add(fn.name.value)
            else:
                found.append((node, False, stmt))
        return found

    def _propagate_model_names(self, constructions) -> None:
        self.model_vars |= {var for _, var, _ in constructions if isinstance(var, str)}
        # functions returning a model variable, variables assigned from them, until stable
        for _ in range(4):
            before = (len(self.model_vars), len(self.model_funcs))
            for node in self.returns:
                if isinstance(node.value, cst.Name) and node.value.value in self.model_vars:
                    fn = self.function_of(node)
                    if fn is not None:
                        self.model_funcs.add(fn.name.value)
            for node in self.assigns:
                v = node.value
                if not (isinstance(v, cst.Call) and len(node.targets) == 1 and isinstance(node.targets[0].target, cst.Name)):
                    continue
                if (isinstance(v.func, cst.Name) and v.func.value in self.model_funcs) or self.name(v.func) in calls.LOAD_MODEL:
                    self.model_vars.add(node.targets[0].target.value)
            if (len(self.model_vars), len(self.model_funcs)) == before:
                break

    def _translate_model(self, call: cst.Call, var, stmt) -> None:
        kind = "Sequential" if self.name(call.func) == _SEQUENTIAL else "Model"
        if var is False:
            self.todo(call, kind, f"a {kind} that is not assigned to a variable or returned is not translated")
            self.consumed.add(id(call))
            return
        fn = self.function_of(call)
        if kind == "Model":
            self._functional_model(call, var, stmt, fn)
            return
        try:
            model, add_stmts = self._model_ir(call, var, stmt, fn)
            if model.input.shape is None and isinstance(var, str) and self._called_in(var, fn):
                # `augment = Sequential([RandomFlip(...)])` then `x = augment(inputs)`: the graph that
                # calls it gives the input shape (the tracer finishes it; _finish_deferred otherwise)
                self.deferred[var] = (call, stmt, fn, model, add_stmts)
                return
            emitted = emit_torch.emit_model(model)
        except emit_torch.LayerError as e:
            layer = e.layer
            reason = f"{layer.spec.keras} at line {self.pos(layer.node)[0]}: {e}; the model is left in Keras"
            self._leave_model(call, stmt, reason, layer.node)
            return
        except _ModelError as e:
            self._leave_model(call, stmt, f"{e.message}; the model is left in Keras", e.node or call)
            return
        self.sequential_adds |= {id(s) for s in add_stmts}
        self._accept_model(model, emitted, call, stmt, [id(s) for s in add_stmts], fn)

    def _called_in(self, var: str, fn) -> bool:
        return any(isinstance(c.func, cst.Name) and c.func.value == var and self.function_of(c) is fn
                   for c in self.calls)

    def finish_sequential(self, var: str, input_tensor):
        """A deferred Sequential, now that a graph gives its input: (model, emitted); LayerError if it fails."""
        call, stmt, fn, model, add_stmts = self.deferred[var]
        model = dataclasses.replace(model, input=input_tensor)
        return model, emit_torch.emit_model(model)

    def accept_sequential(self, var: str, model: ModelIR, emitted) -> None:
        call, stmt, fn, _model, add_stmts = self.deferred.pop(var)
        self.sequential_adds |= {id(s) for s in add_stmts}
        self._accept_model(model, emitted, call, stmt, [id(s) for s in add_stmts], fn)

    def _finish_deferred(self) -> None:
        """Deferred Sequential models no graph finished: translated (or left) as they are."""
        for var, (call, stmt, fn, model, add_stmts) in list(self.deferred.items()):
            del self.deferred[var]
            try:
                emitted = emit_torch.emit_model(model)
            except emit_torch.LayerError as e:
                layer = e.layer
                reason = f"{layer.spec.keras} at line {self.pos(layer.node)[0]}: {e}; the model is left in Keras"
                self._leave_model(call, stmt, reason, layer.node)
                continue
            self.sequential_adds |= {id(s) for s in add_stmts}
            self._accept_model(model, emitted, call, stmt, [id(s) for s in add_stmts], fn)

    def _accept_model(self, model: ModelIR, emitted, call, stmt, removed: list[int], fn) -> None:
        """Record a translated model: its class goes before the statement, the call becomes its constructor."""
        self.plan.models.append(model)
        self.model_scopes[id(model)] = fn
        self.model_by_call[id(call)] = model
        self.plan.emitted[model.class_name] = emitted
        for l, c, note in emitted.notes:
            self.plan.diagnostics.append(Diagnostic(l, c, "layer argument", note))
        for layer, note in emitted.layer_notes:  # e.g. an augmentation not applied in training
            if layer.node is not None:
                line, col = self.pos(layer.node)
                self.plan.diagnostics.append(Diagnostic(line, col, layer.spec.keras, note))
        self.consumed.add(id(call))
        for s in removed:
            self.plan.replace_stmt[s] = []
            self.consumed.add(s)
        ctor = f"{model.class_name}({', '.join(emit_torch.constructor_params(model))})"
        self.plan.replace(call, lambda _updated, ctor=ctor: cst.parse_expression(ctor), ctor)
        top = self.toplevel_of(stmt)
        self.plan.insert_before.setdefault(id(top), []).append(emitted.source)
        self.plan.translated += 1 + len(model.layers)

    def _functional_model(self, call: cst.Call, var, stmt, fn) -> None:
        stop = self.toplevel_within(stmt, fn)
        tracer = Tracer(self, fn, stop)
        try:
            ins, outs, keras_name = tracer.run(call)
            graph, layer_irs, built, submodels, stmts = tracer.graph(ins, outs)
            class_name = self._class_name(var, keras_name, fn)
            model = ModelIR(var, class_name, layer_irs, graph.inputs[0][2], keras_name, tracer.init_params, graph,
                            {k: v.model for k, v in submodels.items()})
            emitted = emit_torch.emit_graph(model, built, {k: (v.model, v.emitted) for k, v in submodels.items()})
        except GraphError as e:
            # the graph stays Keras: its statements are explained by the one TODO below
            self.consumed |= tracer.symbolic_stmts | self._graph_statements(fn, stop)
            self.consumed |= {id(f) for f in tracer.inlined.values()}
            self.consumed |= getattr(tracer, "block_classes_used", set())  # custom layers stay Keras with it
            self._leave_model(call, stmt, f"{e.message}; the model is left in Keras", e.node or call, "Model")
            return
        self.inlined_functions.update(tracer.inlined)
        for attr, sub in submodels.items():  # a custom layer's block is built by the class, as in Keras
            if getattr(sub, "custom", None) is not None:
                emitted.source = emitted.source.replace(f"        self.{attr} = {attr}\n",
                                                        f"        self.{attr} = {sub.custom.ctor}\n", 1)
        if submodels and getattr(self, "block_classes", None):
            self.block_classes.accept(tracer)
        for var_name, (inner, inner_emitted) in tracer.finished_sequentials.items():
            self.accept_sequential(var_name, inner, inner_emitted)
        stmts |= getattr(tracer, "block_stmts", set())
        stmts.discard(id(stop))
        self._accept_model(model, emitted, call, stmt, sorted(stmts), fn)

    def _graph_statements(self, fn, stop) -> set[int]:
        """Statements before ``stop`` that use Keras, or the values such statements bound."""
        body = fn.body.body if fn is not None else self.module.body
        graph_names: set[str] = set()
        out: set[int] = set()
        for stmt in body:
            if stmt is stop:
                break
            if isinstance(stmt, (cst.FunctionDef, cst.ClassDef)):
                continue
            read = set(names_read(stmt))
            framework = any(self.name(cst.Name(n)) is not None for n in read)
            if framework or read & graph_names:
                out.add(id(stmt))
                graph_names |= _bound_names(stmt)
        return out

    def toplevel_within(self, stmt, fn):
        """The statement of ``fn``'s body (the module's when None) that holds ``stmt``."""
        body_owner = fn.body if fn is not None else self.module
        node = stmt
        while node is not None:
            parent = self.parent(node)
            if parent is body_owner:
                return node
            node = parent
        return stmt

    def _drop_inlined_functions(self) -> None:
        """A helper that only built blocks of translated models goes with them."""
        pending = dict(self.inlined_functions)
        changed = True
        while changed:  # a helper called only by a dropped helper goes too
            changed = False
            for name, fn in list(pending.items()):
                uses = [r for r in self.refs if isinstance(r, cst.Name) and r.value == name
                        and not (self.parent(r) is fn)]
                if all(self.consumed_within(r) for r in uses):
                    self.plan.replace_stmt[id(fn)] = []
                    self.consumed.add(id(fn))
                    del pending[name]
                    changed = True

    # the Functional tracer binds layers and inputs exactly as Sequential models do
    def input_tensor(self, node, env, qname):
        return self._input_tensor(node, env, qname)

    def bind_layer(self, spec, node, env, init_params, fn):
        return self._bind(spec, node, env, init_params, fn)

    def free_names(self, node, init_params, fn):
        return self._free_names(node, init_params, fn)

    def _leave_model(self, call, stmt, reason: str, node, kind: str = "Sequential") -> None:
        line, col = self.pos(node)
        self.plan.diagnostics.append(Diagnostic(line, col, kind, reason))
        target = self.statement_of(node)
        self.plan.todos.setdefault(id(target), []).append(reason)
        # the model stays Keras: so do its uses
        parent = self.parent(call)
        if isinstance(parent, cst.Assign):
            self.model_vars.discard(parent.targets[0].target.value)
        self.consumed.add(id(stmt if self.statement_of(node) is stmt else call))
        if isinstance(parent, cst.Assign):
            self.left_models.add(parent.targets[0].target.value)

    def _model_ir(self, call: cst.Call, var, stmt, fn):
        env = self.constants.scope(fn)
        kw = {a.keyword.value: a.value for a in call.args if a.keyword is not None}
        pos = [a.value for a in call.args if a.keyword is None and not a.star]
        if any(a.star for a in call.args):
            raise _ModelError("Sequential(*args) is not translated", call)
        layer_list = kw.get("layers", pos[0] if pos else None)
        keras_name = None
        name_node = kw.get("name", pos[1] if len(pos) > 1 else None)
        if name_node is not None:
            keras_name = evaluate(name_node, env)
            if not isinstance(keras_name, str):
                keras_name = None
        elements: list[tuple[cst.BaseExpression, dict]] = []
        if layer_list is not None:
            if not isinstance(layer_list, (cst.List, cst.Tuple)):
                raise _ModelError("Sequential(layers) needs a literal list of layers", layer_list)
            for el in layer_list.elements:
                if isinstance(el, cst.StarredElement):
                    raise _ModelError("a starred layer list is not translated", el)
                elements.append((el.value, {}))
        add_stmts = []
        if isinstance(var, str) and isinstance(self.parent(call), cst.Assign):
            add_stmts = self._collect_adds(var, stmt, elements)
        model = self._build_ir(var, keras_name, elements, env, fn)
        return model, add_stmts

    def _collect_adds(self, var: str, stmt, elements) -> list:
        body = self._body_of(stmt)
        if body is None:
            return []
        start = body.index(stmt) + 1
        taken = []
        for s in body[start:]:
            adds = self._adds_in(s, var)
            if adds is None:
                if _is_bystander(s, var):
                    continue  # e.g. a print between two adds: it neither reads the model nor binds a name
                break
            elements.extend(adds)
            taken.append(s)
        return taken

    def _adds_in(self, s, var: str):
        """The layers ``s`` adds to ``var`` (with loop bindings), or None if it is not only adds."""
        if isinstance(s, cst.SimpleStatementLine):
            out = []
            for small in s.body:
                layer = _add_argument(small, var)
                if layer is None:
                    return None
                out.append((layer, {}))
            return out
        if isinstance(s, cst.For) and s.orelse is None and isinstance(s.target, cst.Name):
            fn = self.function_of(s)
            seq = evaluate(s.iter, self.constants.scope(fn))
            if isinstance(s.iter, cst.Call) and isinstance(s.iter.func, cst.Name) and s.iter.func.value == "range":
                args = [evaluate(a.value, self.constants.scope(fn)) for a in s.iter.args]
                seq = list(range(*args)) if args and all(isinstance(a, int) for a in args) else UNKNOWN
            if not isinstance(seq, (list, tuple)):
                return None
            body_layers = []
            for inner in s.body.body:
                got = self._adds_in(inner, var)
                if got is None:
                    return None
                body_layers.extend(got)
            out = []
            for value in seq:
                out.extend((layer, {**binding, s.target.value: value}) for layer, binding in body_layers)
            return out
        return None

    def _body_of(self, stmt):
        parent = self.parent(stmt)
        if isinstance(parent, (cst.Module, cst.IndentedBlock)):
            return list(parent.body)
        return None

    def _build_ir(self, var, keras_name, elements, env, fn) -> ModelIR:
        input_tensor = Tensor(None)
        irs: list[LayerIR] = []
        used_attrs: dict[str, int] = {}
        counters: dict[str, int] = {}
        init_params: list[str] = []
        for i, (node, binding) in enumerate(elements):
            scope = env.new_child(binding) if binding else env
            if not isinstance(node, cst.Call):
                raise _ModelError(f"layer {code(node)!r} is not a layer constructor call", node)
            qname = self.name(node.func)
            if qname in _INPUTS or qname == _INPUT_LAYER:
                if irs:
                    raise _ModelError("an Input in the middle of a Sequential model", node)
                input_tensor = self._input_tensor(node, scope, qname)
                continue
            if qname is None or not qname.startswith("keras.layers."):
                raise _ModelError(f"{code(node.func)} is not a Keras layer tfpt knows", node)
            layer_name = qname.rsplit(".", 1)[1]
            spec = layers.lookup(layer_name)
            if spec is None:
                raise _ModelError(f"layer {layer_name} is not supported yet", node)
            args, notes, shape = self._bind(spec, node, scope, init_params, fn)
            if not irs and shape is not None and input_tensor.shape is None:
                input_tensor = _tensor(shape)
            given_name = args.given.get("name")
            if given_name is not None and isinstance(given_name.value, str):
                attr = identifier(given_name.value)
            else:
                base = snake_case(spec.keras)
                n = counters.get(base, 0)
                counters[base] = n + 1
                attr = base if n == 0 else f"{base}_{n}"
            attr = unique_attr(attr, used_attrs)
            # positions cost a pass over the tree: only when there is something to report
            line, col = self.pos(node) if notes else (0, 0)
            irs.append(LayerIR(spec, args, attr, node, line, col, notes))
        class_name = self._class_name(var, keras_name, fn)
        return ModelIR(var, class_name, irs, input_tensor, keras_name, init_params)

    def _input_tensor(self, node: cst.Call, env, qname) -> Tensor:
        kw = {a.keyword.value: a.value for a in node.args if a.keyword is not None}
        pos = [a.value for a in node.args if a.keyword is None]
        shape_node = kw.get("shape", kw.get("input_shape", pos[0] if pos else None))
        batch_shape = kw.get("batch_shape", kw.get("batch_input_shape"))
        if shape_node is None and batch_shape is None:
            raise _ModelError("Input without a shape", node)
        if shape_node is not None:
            return _tensor(self._shape(shape_node, env))
        dims = self._shape(batch_shape, env)
        if isinstance(dims, _ShapeOfUnknownRank):
            return Tensor(dims, rank_known=False)
        return Tensor(dims[1:])

    def _shape(self, node, env) -> tuple[Dim, ...]:
        if isinstance(node, (cst.Tuple, cst.List)) and not any(isinstance(e, cst.StarredElement) for e in node.elements):
            # element by element: constants keep their names in the output
            return tuple(Dim("None") if code(el.value) == "None" else Dim.from_value(value_of(el.value, env))
                         for el in node.elements)
        v = evaluate(node, env)
        if v is UNKNOWN and not isinstance(node, (cst.Tuple, cst.List)):
            # a shape held in a variable (x_train.shape[1:], a name set elsewhere): only its last
            # axis can be named; layers that need more say so
            return _ShapeOfUnknownRank((Dim(f"{code(node).strip('()')}[-1]"),))
        if isinstance(v, int):
            v = (v,)
        if isinstance(v, (tuple, list)) and all(isinstance(d, int) or d is None for d in v):
            if any(d is None for d in v):
                return tuple(Dim("None") if d is None else Dim.of(d) for d in v)
            return tuple(Dim.of(d) for d in v)
        if isinstance(node, (cst.Tuple, cst.List)):
            return tuple(Dim.from_value(value_of(el.value, env)) for el in node.elements)
        raise _ModelError(f"input shape {code(node)} is not static", node)

    def _bind(self, spec, node: cst.Call, env, init_params: list[str], fn):
        pos_vals, kw_vals = [], {}
        shape = None
        notes = []
        for a in node.args:
            if a.star:
                raise _ModelError(f"{spec.keras}(*args/**kwargs) is not translated", node)
            if a.keyword is not None and a.keyword.value == "layer" or (
                    spec.params[:1] == ("layer",) and a.keyword is None and not pos_vals):
                val = self._inner_layer(a.value, env, init_params, fn)
            else:
                val = value_of(a.value, env)
                function = activations.FUNCTION_OBJECTS.get(self.name(a.value)) if not val.known else None
                if function is not None:
                    val = Value(code(a.value), function)  # activation=tf.nn.relu means "relu"
                elif not val.known:
                    self._free_names(a.value, init_params, fn)
            if a.keyword is None:
                pos_vals.append(val)
            else:
                kw_vals[a.keyword.value] = val
        args = _bind_or_raise(spec, pos_vals, kw_vals, node)
        accepted = layers.accepted_args(spec)
        arg_nodes = {a.keyword.value: a.value for a in node.args if a.keyword is not None}
        for k, v in list(args.given.items()):
            if k in ("input_shape", "batch_input_shape"):
                s = self._shape(arg_nodes[k], env)
                shape = s[1:] if k == "batch_input_shape" and not isinstance(s, _ShapeOfUnknownRank) else s
            elif k == "input_dim":
                shape = (Dim.from_value(v),)
            if k in NEUTRAL_ARGS or k in accepted:
                if k == "dtype" and v.value not in (None, "float32"):
                    raise _ModelError(f"{spec.keras}(dtype={v.text}) is not translated", node)
                continue
            if k in TRAINING_ONLY_ARGS:
                default = {"kernel_initializer": "glorot_uniform", "bias_initializer": "zeros",
                           "recurrent_initializer": "orthogonal", "embeddings_initializer": "uniform"}.get(k)
                if v.known and (v.value is None or v.value == default):
                    continue
                notes.append(f"{spec.keras}({k}={v.text}) was not carried over; torch uses Keras' default here")
                continue
            if k == "dtype" and v.value in (None, "float32"):
                continue
            raise _ModelError(f"{spec.keras}({k}=...) is not supported yet", node)
        return args, notes, shape

    def _inner_layer(self, node, env, init_params, fn) -> Value:
        if not isinstance(node, cst.Call):
            raise _ModelError("a wrapper (Bidirectional, TimeDistributed) needs a layer constructor call", node)
        qname = self.name(node.func)
        spec = layers.lookup(qname.rsplit(".", 1)[1]) if qname and qname.startswith("keras.layers.") else None
        if spec is None:
            raise _ModelError(f"{code(node.func)} inside a wrapper layer is not supported", node)
        args, _notes, _shape = self._bind(spec, node, env, init_params, fn)
        return Value(code(node), layers.InnerLayer(spec.keras, args))

    def _free_names(self, node, init_params: list[str], fn) -> None:
        """Names an emitted argument needs; local ones become ``__init__`` parameters."""
        if fn is None:
            return
        for n in names_read(node):
            if n not in self.defined_names and n not in init_params:
                init_params.append(n)

    def _class_name(self, var, keras_name, fn) -> str:
        if keras_name:
            base = camel_case(keras_name)
        elif fn is not None and var is None or (fn is not None and var in ("model", "m", "net")):
            stripped = re.sub(r"^(build|create|make|get|define|construct)_?", "", fn.name.value) or fn.name.value
            base = camel_case(stripped)
        else:
            base = camel_case(var or "model")
        name, n = base, 2
        while name in self.class_names or name in self.defined_names:
            name, n = f"{base}{n}", n + 1
        self.class_names.add(name)
        return name

    # ------------------------------------------------------------------ calls on models and utilities

    def _translate_calls(self) -> None:
        from . import callbacks, pipelines
        from .spec import callbacks as callback_spec

        self.pipelines = pipelines.Pipelines(self)
        for node in self.calls:
            if self.consumed_within(self.parent(node)):
                continue
            f = node.func
            if isinstance(f, cst.Attribute) and isinstance(f.value, cst.Name) and f.value.value in self.model_vars:
                self._model_method(node, f.value.value, f.attr.value)
                continue
            if isinstance(f, cst.Name) and f.value in self.model_vars and f.value not in self.model_funcs:
                self.todo(node, "model(...)", "calling the model directly: it now takes a torch tensor "
                          "(torch.as_tensor(x, dtype=torch.float32)) and returns one")
                continue
            q = self.name(f)
            if q is None or q == callback_spec.FROM_TENSOR_SLICES:
                if not self.left_models:  # a model kept in Keras keeps its tf.data input and callbacks
                    self.pipelines.visit(node, q)
                continue
            if q in calls.UTILITIES:
                self._utility(node, calls.UTILITIES[q])
            elif q in calls.LOAD_MODEL:
                self._load_model(node)
            elif q.startswith("keras.callbacks.") and not self.left_models:
                callbacks.translate_constructor(self, node, q)
            elif callback_spec.unmapped_reason(q):
                self.consumed.add(id(node.func))
                self.todo(node, q, callback_spec.unmapped_reason(q))
        if not self.left_models:
            callbacks.translate_subclasses(self)
            self.pipelines.constants()
        for node in self.refs:
            if (isinstance(node, cst.Attribute) and isinstance(node.value, cst.Name) and node.value.value in self.model_vars
                    and node.attr.value in calls.MODEL_METHOD_REASONS):
                parent = self.parent(node)
                if not (isinstance(parent, cst.Call) and parent.func is node) and not self.consumed_within(node):
                    self.todo(node, f"model.{node.attr.value}", calls.MODEL_METHOD_REASONS[node.attr.value])

    def _model_method(self, node: cst.Call, var: str, method: str) -> None:
        if method == "compile":
            self._compile(node, var)
        elif method in calls.METHODS:
            self._method_call(node, var, calls.METHODS[method])
        elif method in calls.SAVE_METHODS or method in calls.LOAD_METHODS:
            self._save_load(node, var, method)
        elif method == "add":
            self.todo(node, "model.add", "model.add() after the model is used (or after code between the adds "
                      "that binds names) is not translated: the translated class needs every layer up front")
        elif method not in calls.MODEL_METHOD_REASONS:
            self.todo(node, f"model.{method}", f"model.{method}() is not translated")

    def _bound(self, node: cst.Call, params: tuple[str, ...]):
        out: dict[str, cst.BaseExpression] = {}
        positional = [a for a in node.args if a.keyword is None]
        if any(a.star for a in node.args) or len(positional) > len(params):
            return None
        for p, a in zip(params, positional):
            out[p] = a.value
        for a in node.args:
            if a.keyword is not None:
                out[a.keyword.value] = a.value
        return out

    def _method_call(self, node: cst.Call, var: str, spec: calls.MethodSpec) -> None:
        bound = self._bound(node, spec.params)
        if bound is None:
            self.todo(node, f"model.{spec.method}", f"model.{spec.method}() with *args or too many arguments is not translated")
            return
        for k, v in bound.items():
            if k in spec.keeps or spec.harmless(k, code(v)):
                continue
            self.todo(node, f"model.{spec.method}", f"model.{spec.method}({k}=...) is not translated yet")
            return
        reason = self._data_reason(spec.method, bound)
        if reason:
            self.todo(node, f"model.{spec.method}", reason)
            return
        if spec.method in ("fit", "evaluate") and var in self.failed_compiles:
            self.todo(node, f"model.{spec.method}", f"model.{spec.method}() on a model whose compile() was not translated")
            return
        dropped = {id(v) for k, v in bound.items() if spec.harmless(k, code(v))}
        # continuation lines aligned with `model.fit(` move left with the parenthesis
        shift = len(code(node.func)) - len(spec.helper) if "\n" in code(node) else 0
        paren_col = None
        stmt = self.statement_of(node)
        if shift and isinstance(stmt, cst.SimpleStatementLine):
            # the column after `model.fit(` in the statement's first line (relative to its block's indentation,
            # as LibCST writes continuation lines); no position metadata needed
            first_line = code(stmt.with_changes(leading_lines=[])).split("\n", 1)[0]
            at = first_line.find(code(node.func) + "(")
            paren_col = at + len(code(node.func)) + 1 if at >= 0 else None

        def rebuild(updated: cst.Call, var=var, helper=spec.helper, params=spec.params, keeps=spec.keeps,
                    positional=spec.positional, original=node, dropped=dropped):
            # the helper takes Keras' leading parameters positionally, the rest by keyword only
            updated = _realigned(updated, paren_col, shift)
            args = []
            for i, (a, before) in enumerate(zip(updated.args, original.args)):
                name = a.keyword.value if a.keyword is not None else params[i]
                if name not in keeps or id(before.value) in dropped:
                    continue  # an ignorable argument at its harmless value
                if a.keyword is None and i >= positional:
                    a = a.with_changes(keyword=cst.Name(name), equal=cst.AssignEqual(
                        whitespace_before=cst.SimpleWhitespace(""), whitespace_after=cst.SimpleWhitespace("")))
                args.append(a)
            if args and args[-1] is not updated.args[-1]:
                args[-1] = args[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
            comma = cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")) if args else cst.MaybeSentinel.DEFAULT
            return updated.with_changes(func=cst.Name(helper), args=[cst.Arg(cst.Name(var), comma=comma), *args])

        self.plan.replace(node, rebuild, spec.helper, keeps_args=True)
        self.plan.helpers.add(spec.helper)
        self.consumed.add(id(node.func))  # the arguments (callbacks, datasets, to_categorical...) are translated too
        self.plan.translated += 1

    @staticmethod
    def _data_reason(method: str, bound) -> str | None:
        """Why the data given to fit/evaluate/predict cannot go to the runtime helper, or None."""
        if isinstance(bound.get("x"), cst.Dict):
            return f"model.{method}() with inputs in a dict (named inputs) is not translated yet: pass a list"
        y = bound.get("y")
        if isinstance(y, (cst.List, cst.Tuple, cst.Dict)):
            return f"model.{method}() with one target per output (a multi-output model) is not translated yet"
        return None

    def _compile(self, node: cst.Call, var: str) -> None:
        stmt = self.statement_of(node)
        if not (isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1 and isinstance(stmt.body[0], cst.Expr)
                and stmt.body[0].value is node):
            self.todo(node, "model.compile", "compile() inside an expression is not translated")
            self.failed_compiles.add(var)
            return
        bound = self._bound(node, ("optimizer", "loss", "loss_weights", "metrics", "weighted_metrics",
                                   "run_eagerly", "steps_per_execution", "jit_compile", "auto_scale_loss"))
        fn = self.function_of(node)
        env = self.constants.scope(fn)
        helpers_before = set(self.plan.helpers)
        try:
            if bound is None:
                raise Unsupported("compile() with *args is not translated")
            for k, v in bound.items():
                if k in ("run_eagerly", "jit_compile", "steps_per_execution", "auto_scale_loss"):
                    continue
                if k in ("loss_weights", "weighted_metrics") and code(v) == "None":
                    continue
                if k not in ("optimizer", "loss", "metrics"):
                    raise Unsupported(f"compile({k}=...) is not translated yet")
            lines, notes = self._compile_lines(var, bound, env)
        except Unsupported as e:
            self.plan.helpers = helpers_before  # nothing of a failed compile is emitted
            self.todo(node, "model.compile", str(e))
            self.failed_compiles.add(var)
            return
        del notes  # caveats are written as comments above the optimizer
        self.plan.replace_stmt[id(stmt)] = lines
        self.plan.compiles[var] = lines
        self.plan.keras_compiles[var] = "".join(code(a) for a in node.args)
        self.consumed.add(id(stmt))
        self.compiled[var] = bound
        self.plan.translated += 1

    def _compile_lines(self, var: str, bound, env) -> tuple[list[str], list[str]]:
        notes: list[str] = []
        opt = bound.get("optimizer", cst.SimpleString('"rmsprop"'))
        optimizer, opt_notes = self._optimizer(opt, var, env)
        lines = []
        for n in opt_notes:
            lines.append(f"# {n}")
            notes.append(n)
        lines.append(f"{var}.optimizer = {optimizer}")
        loss_node = bound.get("loss")
        loss_spec, loss_fn = (None, None)
        if loss_node is not None and code(loss_node) != "None":
            loss_spec, loss_fn = self._loss(loss_node, env)
            lines.append(f"{var}.loss_fn = {loss_fn}")
            self.plan.helpers.add(loss_fn)
        metrics = self._metrics(bound.get("metrics"), loss_spec, var, env)
        items = ", ".join(f'"{k}": {v}' for k, v in metrics)
        lines.append(f"{var}.metric_fns = {{{items}}}")
        self.plan.helpers |= {v for _, v in metrics}
        return lines, notes

    def _assigned_call(self, node):
        """For ``name`` bound once (in this scope) to a framework call: that call, and consume it.

        ``opt = keras.optimizers.SGD(...); model.compile(optimizer=opt)`` is common; the
        assignment goes away with the compile (a torch optimizer needs the model).
        """
        if not isinstance(node, cst.Name):
            return node
        fn = self.function_of(node)
        found = [a for a in self.assigns
                 if any(isinstance(t.target, cst.Name) and t.target.value == node.value for t in a.targets)
                 and self.function_of(a) is fn]
        if len(found) != 1 or len(found[0].targets) != 1 or not isinstance(found[0].value, cst.Call):
            return node
        call = found[0].value
        if self.name(call.func) is None:
            return node
        if self._reads_of(fn, node.value) > 1:
            return node
        stmt = self.statement_of(found[0])
        if isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1:
            self.plan.replace_stmt[id(stmt)] = []
            self.consumed.add(id(stmt))
        return call

    def _reads_of(self, fn, name: str) -> int:
        """How often ``name`` is read (not assigned) in the scope of function ``fn`` (None: module)."""
        count = 0
        for ref in self.refs:
            head = ref
            while isinstance(head, cst.Attribute):
                head = head.value
            if isinstance(head, cst.Name) and head.value == name and not isinstance(self.parent(ref), cst.AssignTarget) \
                    and self.function_of(ref) is fn:
                count += 1
        return count

    def _optimizer(self, node, var: str, env) -> tuple[str, list[str]]:
        params = f"{var}.parameters()"
        node = self._assigned_call(node)
        v = evaluate(node, env)
        if isinstance(v, str):
            key = training.OPTIMIZER_STRINGS.get(v.lower())
            if key is None:
                raise Unsupported(f"optimizer {v!r} is not supported yet")
            spec = training.OPTIMIZERS[key]
            if spec.helper:
                self.plan.helpers.add(spec.torch)
            return training.optimizer_call(spec, {}, params)
        if isinstance(node, cst.Call):
            q = self.name(node.func)
            cls = q.rsplit(".", 1)[1] if q and q.startswith("keras.optimizers.") else None
            spec = training.OPTIMIZERS.get(cls) if cls else None
            if spec is None:
                raise Unsupported(f"optimizer {code(node.func)} is not supported yet")
            bound = self._bound(node, spec.params)
            if bound is None:
                raise Unsupported(f"{spec.keras}(*args) is not translated")
            given = {}
            for k, a in bound.items():
                if k == "lr":  # Keras 2 spelling
                    k = "learning_rate"
                val = value_of(a, env)
                given[k] = val
            for k, val in given.items():
                if not val.known and k == "learning_rate" and not _is_simple(val.text):
                    raise Unsupported(f"learning rate {val.text} (a schedule?) is not translated yet")
            if spec.helper:
                self.plan.helpers.add(spec.torch)
            return training.optimizer_call(spec, given, params)
        raise Unsupported(f"optimizer {code(node)} is not understood")

    def _loss(self, node, env) -> tuple[training.LossSpec, str]:
        node = self._assigned_call(node)
        v = evaluate(node, env)
        from_logits = False
        key = None
        if isinstance(v, str):
            key = training.LOSS_NAMES.get(v)
        elif isinstance(node, cst.Call):
            q = self.name(node.func)
            if q and q.startswith("keras.losses."):
                key = training.LOSS_NAMES.get(q.rsplit(".", 1)[1])
            if key is None:
                raise Unsupported(f"loss {code(node.func)} is not supported yet")
            for a in node.args:
                if a.keyword is None:
                    raise Unsupported(f"positional arguments to {code(node.func)} are not translated")
                k = a.keyword.value
                val = evaluate(a.value, env)
                if k == "from_logits":
                    if not isinstance(val, bool):
                        raise Unsupported("from_logits must be a literal True/False")
                    from_logits = val
                elif k not in training.LOSS_OBJECT_DEFAULTS or (k != "name" and val != training.LOSS_OBJECT_DEFAULTS[k]):
                    raise Unsupported(f"loss argument {k}={code(a.value)} is not translated yet")
        else:
            q = self.name(node)
            if q and q.startswith("keras.losses."):
                key = training.LOSS_NAMES.get(q.rsplit(".", 1)[1])
        if key is None:
            raise Unsupported(f"loss {code(node)} is not supported yet")
        spec = training.LOSSES[key]
        fn = spec.from_logits if from_logits else spec.function
        if fn is None:
            raise Unsupported(f"{key}(from_logits=True) is not supported")
        self.consumed.add(id(node))
        return spec, fn

    def _metrics(self, node, loss_spec, var: str, env) -> list[tuple[str, str]]:
        if node is None or code(node) == "None":
            return []
        if not isinstance(node, (cst.List, cst.Tuple)):
            raise Unsupported("metrics must be a literal list")
        units = self._output_units(var)
        out = []
        for el in node.elements:
            item = el.value
            v = evaluate(item, env)
            if isinstance(v, str):
                if v.lower() in training.ACCURACY_NAMES:
                    out.append((v, training.accuracy_for(loss_spec, units)))
                elif v in training.METRICS:
                    out.append((v, training.METRICS[v]))
                else:
                    raise Unsupported(f"metric {v!r} is not supported yet")
                continue
            q = self.name(item.func if isinstance(item, cst.Call) else item)
            cls = q.rsplit(".", 1)[1] if q and q.startswith("keras.metrics.") else None
            row = training.METRIC_CLASSES.get(cls) if cls else None
            if row is None:
                raise Unsupported(f"metric {code(item)} is not supported yet")
            name = row[0]
            if isinstance(item, cst.Call):
                for a in item.args:
                    if a.keyword is not None and a.keyword.value == "name":
                        nv = evaluate(a.value, env)
                        if isinstance(nv, str):
                            name = nv
                    elif not (a.keyword is not None and a.keyword.value == "threshold" and evaluate(a.value, env) == 0.5):
                        raise Unsupported(f"metric arguments in {code(item)} are not translated yet")
            out.append((name, row[1]))
        return out

    def _output_units(self, var: str) -> int | None:
        for model in self.plan.models:
            if model.var == var:
                out = self.plan.emitted[model.class_name].output
                if out.shape:
                    return out.shape[-1].value
        return None

    def _save_load(self, node: cst.Call, var: str, method: str) -> None:
        bound = self._bound(node, calls.SAVE_PARAMS)
        if bound is None or "filepath" not in bound:
            self.todo(node, f"model.{method}", f"model.{method}() without a file path is not translated")
            return
        for k, v in bound.items():
            if k not in ("filepath", "overwrite", "save_format", "include_optimizer", "zipped", "skip_mismatch"):
                self.todo(node, f"model.{method}", f"model.{method}({k}=...) is not translated")
                return
        path = bound["filepath"]
        if method in calls.SAVE_METHODS:
            expr = f"torch.save({var}.state_dict(), {code(path)})"
            for model in self.plan.models:
                if model.var == var:
                    self.saved_paths[code(path)] = model
        else:
            expr = f"{var}.load_state_dict(torch.load({code(path)}, weights_only=True))"
        self.plan.replace(node, lambda _u, expr=expr: cst.parse_expression(expr), expr)
        self.consumed.add(id(node))
        self.plan.translated += 1

    def _load_model(self, node: cst.Call) -> None:
        parent = self.parent(node)
        path = node.args[0].value if node.args and node.args[0].keyword is None else None
        if path is None:
            for a in node.args:
                if a.keyword is not None and a.keyword.value in ("filepath",):
                    path = a.value
        model = self.saved_paths.get(code(path)) if path is not None else None
        stmt = self.statement_of(node)
        if model is None or not isinstance(parent, cst.Assign) or not isinstance(stmt, cst.SimpleStatementLine) \
                or len(stmt.body) != 1 or len(parent.targets) != 1 or not isinstance(parent.targets[0].target, cst.Name):
            self.todo(node, "load_model", "load_model() of a file this script does not save: the architecture is unknown")
            self.consumed.add(id(node))
            return
        target = parent.targets[0].target.value
        ctor = f"{model.class_name}({', '.join(emit_torch.constructor_params(model))})"
        lines = [f"{target} = {ctor}",
                 f"{target}.load_state_dict(torch.load({code(path)}, weights_only=True))"]
        if model.var in self.compiled:
            lines.append(f"{target}.loss_fn, {target}.metric_fns = {model.var}.loss_fn, {model.var}.metric_fns")
        self.plan.replace_stmt[id(stmt)] = lines
        self.consumed.add(id(stmt))
        self.compiled.setdefault(target, {})
        self.plan.translated += 1

    def _utility(self, node: cst.Call, spec: calls.UtilitySpec) -> None:
        self.consumed.add(id(node))
        self.plan.translated += 1
        if spec.replacement is None:
            stmt = self.statement_of(node)
            if isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1 and isinstance(stmt.body[0], cst.Expr):
                self.plan.replace_stmt[id(stmt)] = []
                self.consumed.add(id(stmt))
            else:
                self.plan.replace(node, lambda _u: cst.parse_expression("None"), "None")
            return
        if spec.helper:
            self.plan.helpers.add(spec.helper)
        repl = cst.parse_expression(spec.replacement)
        self.plan.replace(node, lambda updated, repl=repl: updated.with_changes(func=repl), spec.replacement,
                          keeps_args=True)

    # ------------------------------------------------------------------ everything else

    def _report_leftovers(self) -> None:
        left = self.left_models
        for node in self.refs:
            q = self.name(node)
            if q is None or self.consumed_within(node):
                continue
            stmt = self.statement_of(node)
            if stmt is not None and id(stmt) in self.plan.todos and not left:
                continue
            if _inside_left_model(self, node, left):
                continue
            self.todo(node, q, f"{code(node)} is not translated")


def _inside_left_model(rec: Recogniser, node, left: set[str]) -> bool:
    """Framework names in statements that belong to a model kept in Keras are expected."""
    if not left:
        return False
    stmt = rec.statement_of(node)
    if stmt is None:
        return False
    # `model.compile(optimizer=keras.optimizers.SGD(...))` on a model kept in Keras stays valid Keras
    return id(stmt) in rec.plan.todos or bool(left & set(names_read(stmt)))


class _ShapeOfUnknownRank(tuple):
    """A shape of which only the last axis is known (as an expression)."""


def _tensor(shape) -> Tensor:
    return Tensor(tuple(shape), rank_known=not isinstance(shape, _ShapeOfUnknownRank))


class _ModelError(Exception):
    def __init__(self, message: str, node=None):
        super().__init__(message)
        self.message = message
        self.node = node


def _bind_or_raise(spec, positional, keywords, node):
    try:
        return spec.bind(positional, keywords)
    except Unsupported as e:
        raise _ModelError(str(e), node) from None


#: every canonical name tfpt translates: what a framework ``import *`` may supply
_STAR_NAMES = frozenset(
    [f"keras.layers.{n}" for n in (*layers.LAYERS, *layers.ALIASES, "Input", "InputLayer")]
    + [_SEQUENTIAL, MODEL, "keras.Input", *calls.LOAD_MODEL, *calls.UTILITIES]
    + [f"keras.optimizers.{n}" for n in training.OPTIMIZERS]
    + [f"keras.losses.{n}" for n in training.LOSS_NAMES]
    + [f"keras.metrics.{n}" for n in training.METRIC_CLASSES]
)

#: fields that hold only whitespace, comments and punctuation: never walked
_TRIVIA_FIELDS = frozenset({
    "lpar", "rpar", "comma", "semicolon", "leading_lines", "lines_after_decorators", "header", "footer",
    "newline", "trailing_whitespace", "indent", "equal", "colon", "dot", "operator", "star", "default_indent",
    "default_newline", "encoding", "lbracket", "rbracket", "lbrace", "rbrace", "arrow", "asynchronous",
})
_FIELDS_BY_TYPE: dict[type, tuple[str, ...]] = {}


def _syntax_fields(cls) -> tuple[str, ...]:
    fields = _FIELDS_BY_TYPE.get(cls)
    if fields is None:
        fields = tuple(f.name for f in dataclasses.fields(cls)
                       if f.name not in _TRIVIA_FIELDS and not f.name.startswith("whitespace"))
        _FIELDS_BY_TYPE[cls] = fields
    return fields


def _is_bystander(stmt, var: str) -> bool:
    """A simple statement that binds no name and never mentions ``var``."""
    if not isinstance(stmt, cst.SimpleStatementLine):
        return False
    for small in stmt.body:
        if not isinstance(small, (cst.Expr, cst.Pass)):
            return False
    return var not in names_read(stmt)


def _add_argument(small, var: str):
    """The layer expression of ``var.add(layer)``, or None."""
    if not isinstance(small, cst.Expr) or not isinstance(small.value, cst.Call):
        return None
    call = small.value
    f = call.func
    if (isinstance(f, cst.Attribute) and isinstance(f.value, cst.Name) and f.value.value == var
            and f.attr.value == "add" and len(call.args) == 1 and call.args[0].keyword is None):
        return call.args[0].value
    return None


def _bound_names(stmt) -> set[str]:
    out: set[str] = set()

    class V(cst.CSTVisitor):
        def visit_AssignTarget(self, n):
            out.update(target_names(n.target))

        def visit_AugAssign(self, n):
            out.update(target_names(n.target))

        def visit_For(self, n):
            out.update(target_names(n.target))

    stmt.visit(V())
    return out


def _realigned(call: cst.Call, paren_col, shift: int) -> cst.Call:
    """``call`` with continuation lines that were aligned at column ``paren_col`` moved ``shift`` to the left."""
    if not paren_col:
        return call

    class Shift(cst.CSTTransformer):
        def leave_ParenthesizedWhitespace(self, original, updated):
            if len(updated.last_line.value) == paren_col and updated.indent:
                return updated.with_changes(last_line=cst.SimpleWhitespace(" " * (paren_col - shift)))
            return updated

    return call.with_changes(args=[a.visit(Shift()) for a in call.args])


def _is_simple(text: str) -> bool:
    return re.fullmatch(r"[\w.]+", text) is not None


def _imported_names(module: cst.Module) -> set[str]:
    out = set()
    for stmt in module.body:
        if isinstance(stmt, cst.SimpleStatementLine):
            for small in stmt.body:
                if isinstance(small, (cst.Import, cst.ImportFrom)) and not isinstance(small.names, cst.ImportStar):
                    for alias in small.names:
                        out.add(alias.evaluated_alias or alias.evaluated_name.split(".")[0])
        elif isinstance(stmt, (cst.FunctionDef, cst.ClassDef)):
            out.add(stmt.name.value)
    return out


__all__ = ["Plan", "Recogniser", "snake_case", "camel_case"]
