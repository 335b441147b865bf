"""Keras callbacks -> the runtime's callback classes (``spec/callbacks.py``).

Constructor calls keep their arguments and lose their module prefix: the runtime class
has Keras's name and signature. A class deriving from ``keras.callbacks.Callback`` keeps
its code; its base becomes the runtime ``Callback`` (same hooks, ``self.model`` is the
torch model). Called from ``Recogniser._translate_calls``.
"""

from __future__ import annotations

import libcst as cst

from .evaluate import code
from .spec import callbacks as spec

_PREFIX = "keras.callbacks."


def translate_constructor(rec, node: cst.Call, qualified: str) -> None:
    """``keras.callbacks.X(...)``: the runtime ``X(...)``, or a TODO saying why not."""
    name = qualified[len(_PREFIX):]
    row = spec.CALLBACKS.get(name)
    if row is None:
        rec.consumed.add(id(node.func))
        reason = spec.UNTRANSLATED_CALLBACKS.get(name, f"{code(node.func)} is not translated")
        rec.todo(node, qualified, reason)
        return
    bound = rec._bound(node, row.params)
    reason = None
    if bound is None:
        reason = f"{name}(*args) is not translated"
    else:
        for k, v in bound.items():
            if k not in row.params and name != "LambdaCallback":  # LambdaCallback takes any hook by keyword
                reason = f"{name}({k}=...) is not an argument tfpt knows"
            elif k in row.fixed and "*" not in row.fixed[k] and code(v) not in row.fixed[k]:
                reason = f"{name}({k}={code(v)}) is not translated: the runtime's {name} does not implement it"
    rec.consumed.add(id(node.func))
    if reason:
        rec.todo(node, qualified, reason)
        return
    rec.plan.helpers.add(name)
    rec.plan.replace(node, lambda updated, name=name: updated.with_changes(func=cst.Name(name)), name,
                     keeps_args=True)
    rec.plan.translated += 1


def translate_subclasses(rec) -> None:
    """``class C(keras.callbacks.Callback)``: the base becomes the runtime ``Callback``."""
    for ref in rec.refs:
        if rec.name(ref) != _PREFIX + spec.BASE:
            continue
        arg, cls = rec.parent(ref), rec.parent(rec.parent(ref))
        if not (isinstance(arg, cst.Arg) and isinstance(cls, cst.ClassDef) and any(a is arg for a in cls.bases)):
            continue
        _flag_model_api(rec, cls)
        if isinstance(ref, cst.Name) and ref.value == spec.BASE:
            pass  # `from keras.callbacks import Callback`: the runtime class takes the name over
        elif not isinstance(rec.parent(cls), cst.Module):
            rec.todo(cls, "Callback subclass", f"a Callback subclass defined inside a function or class: replace "
                     f"its base {code(ref)} with Callback (the runtime's) by hand")
            rec.consumed.add(id(ref))
            continue
        else:
            _rewrite_class(rec, cls, ref)
        rec.consumed.add(id(ref))
        rec.plan.dropped.add(id(ref))  # the Keras import it read can go
        rec.plan.helpers.add(spec.BASE)
        rec.plan.translated += 1


#: Keras API a callback reaches through ``self.model``, and the torch spelling to use instead
_MODEL_API = {
    "optimizer.learning_rate": "the torch optimizer keeps it in self.model.optimizer.param_groups[0]['lr']",
    "optimizer.lr": "the torch optimizer keeps it in self.model.optimizer.param_groups[0]['lr']",
    "get_weights": "use self.model.state_dict() (tensors, not NumPy arrays)",
    "set_weights": "use self.model.load_state_dict(...)",
    "layers": "use self.model.children() or the named submodules",
    "get_layer": "use the named submodule (self.model.<name>)",
    "save": "use torch.save(self.model.state_dict(), path)",
    "save_weights": "use torch.save(self.model.state_dict(), path)",
    "predict": "call predict(self.model, x) (the runtime helper)",
    "evaluate": "call evaluate(self.model, x, y) (the runtime helper)",
    "fit": "call fit(self.model, ...) (the runtime helper)",
    "history": "fit's return value holds the history",
}


def _flag_model_api(rec, cls: cst.ClassDef) -> None:
    """``self.model.<Keras API>`` inside a callback: a TODO with the torch spelling."""
    for ref in rec.refs:
        if not isinstance(ref, cst.Attribute) or not _inside(rec, ref, cls):
            continue
        text = code(ref)
        if not text.startswith("self.model."):
            continue
        rest = text[len("self.model."):]
        for api, how in _MODEL_API.items():
            if rest == api or rest.startswith(api + "."):
                rec.todo(ref, "Callback subclass", f"self.model.{api} is Keras API: {how}")
                break


def _rewrite_class(rec, cls: cst.ClassDef, base) -> None:
    """Put the class back as text with its base renamed, carrying the plan's edits inside it."""
    todos = {k: list(v) for k, v in rec.plan.todos.items()}
    # framework names left in the class body get their TODO here (the report comes later)
    for ref in rec.refs:
        if ref is base or rec.consumed_within(ref) or rec.name(ref) is None or not _inside(rec, ref, cls):
            continue
        stmt = rec.statement_of(ref)
        if id(stmt) not in rec.plan.todos:  # the report names only the first reason of a statement
            todos.setdefault(id(stmt), []).append(f"{code(ref)} is not translated")
    lead = list(cls.leading_lines)
    while lead and lead[0].comment is None:
        lead.pop(0)  # the inserted block brings its own blank lines
    new = cls.with_changes(leading_lines=lead,
                           bases=[a.with_changes(value=cst.Name(spec.BASE)) if a.value is base else a
                                  for a in cls.bases])
    new = new.visit(_CarryEdits(rec.plan, todos, cls))
    rec.plan.replace_stmt[id(cls)] = []
    rec.plan.insert_before.setdefault(id(cls), []).append(cst.Module([]).code_for_node(new))
    rec.consumed.add(id(cls))


def _inside(rec, node, ancestor) -> bool:
    while node is not None:
        if node is ancestor:
            return True
        node = rec.parent(node)
    return False


class _CarryEdits(cst.CSTTransformer):
    """The plan's call replacements and TODO comments, applied to a class that is re-emitted as text.

    ``with_changes`` on the class keeps its body's nodes, so their ids are the ones the plan holds.
    """

    def __init__(self, plan, todos, original_class):
        self.plan, self.todos = plan, todos

    def leave_Call(self, original, updated):
        make = self.plan.replace_call.get(id(original))
        return make(updated) if make else updated

    def _todo(self, original, updated):
        reasons = self.todos.get(id(original))
        if not reasons:
            return updated
        lines = [cst.EmptyLine(comment=cst.Comment(f"# TODO(tfpt): {r}")) for r in dict.fromkeys(reasons)]
        return updated.with_changes(leading_lines=[*updated.leading_lines, *lines])

    def leave_SimpleStatementLine(self, original, updated):
        return self._todo(original, updated)

    def on_leave(self, original, updated):
        result = super().on_leave(original, updated)
        if isinstance(original, cst.BaseCompoundStatement) and not isinstance(original, cst.ClassDef) \
                and isinstance(result, cst.BaseCompoundStatement):
            return self._todo(original, result)
        return result
