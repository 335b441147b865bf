"""Static evaluation of argument expressions: literals, constants and simple arithmetic.

``Dense(num_classes)`` needs the number for shape inference and the name for the
output; ``Value`` keeps both. Names resolve to constants assigned exactly once in
the enclosing function or at module level; anything else stays UNKNOWN (its text is
still emitted as written).
"""

from __future__ import annotations

import operator
from collections import ChainMap
from typing import Mapping

import libcst as cst

from .spec.values import UNKNOWN, Value

_BINOPS = {
    cst.Add: operator.add, cst.Subtract: operator.sub, cst.Multiply: operator.mul,
    cst.FloorDivide: operator.floordiv, cst.Divide: operator.truediv, cst.Power: operator.pow,
    cst.Modulo: operator.mod,
}
_CONSTS = {"True": True, "False": False, "None": None}
_MODULE = cst.Module([])


def code(node: cst.CSTNode) -> str:
    return _MODULE.code_for_node(node)


class Constants:
    """Names bound once to a static value: module level, then per function."""

    def __init__(self, module: cst.Module):
        self.module_names = _assigned_names(module.body)
        self.module_values = _constants(module.body, ChainMap())

    def scope(self, function: cst.FunctionDef | None, loop: Mapping[str, object] | None = None) -> ChainMap:
        """Lookup chain for a position: loop variables, function constants, module constants."""
        local = {} if function is None else _constants(function.body.body, ChainMap({}, self.module_values))
        if function is not None:
            # parameters shadow module constants; their values are unknown
            for p in param_names(function):
                local.setdefault(p, UNKNOWN)
        chain = ChainMap(dict(loop or {}), {k: ("local", v) for k, v in local.items()},
                         {k: ("module", v) for k, v in self.module_values.items()})
        return chain


def param_names(fn: cst.FunctionDef):
    """Every name a function's parameters bind (positional, keyword-only, *args, **kwargs)."""
    ps = fn.params
    for p in (*ps.posonly_params, *ps.params, *ps.kwonly_params):
        yield p.name.value
    for p in (ps.star_arg, ps.star_kwarg):
        if isinstance(p, cst.Param):
            yield p.name.value


def _assigned_names(body) -> dict[str, int]:
    """How often each name is bound in ``body`` (nested functions and classes excluded).

    Walks statements only, never into expressions: this runs on every file.
    """
    counts: dict[str, int] = {}

    def bind(target, weight=1):
        for n in target_names(target):
            counts[n] = counts.get(n, 0) + weight

    def walk(stmts):
        for stmt in stmts:
            if isinstance(stmt, cst.SimpleStatementLine):
                for small in stmt.body:
                    if isinstance(small, cst.Assign):
                        for t in small.targets:
                            bind(t.target)
                    elif isinstance(small, cst.AnnAssign):
                        bind(small.target)
                    elif isinstance(small, cst.AugAssign):
                        bind(small.target, 2)
            elif isinstance(stmt, (cst.FunctionDef, cst.ClassDef)):
                counts[stmt.name.value] = counts.get(stmt.name.value, 0) + 2
            elif isinstance(stmt, cst.BaseCompoundStatement):
                if isinstance(stmt, cst.For):
                    bind(stmt.target, 2)
                for block in blocks(stmt):
                    walk(block)

    walk(body)
    return counts


def blocks(stmt):
    """The statement lists nested in a compound statement (if/elif/else, try/except, ...)."""
    for name in ("body", "orelse", "finalbody"):
        part = getattr(stmt, name, None)
        if part is None:
            continue
        if isinstance(part, cst.If):
            yield from blocks(part)
            continue
        inner = getattr(part, "body", None)
        if isinstance(inner, (list, tuple)):
            yield inner
        elif inner is not None and isinstance(getattr(inner, "body", None), (list, tuple)):
            yield inner.body
    for handler in getattr(stmt, "handlers", ()):
        yield handler.body.body


def target_names(target):
    if isinstance(target, cst.Name):
        yield target.value
    elif isinstance(target, (cst.Tuple, cst.List)):
        for el in target.elements:
            yield from target_names(el.value)
    elif isinstance(target, cst.StarredElement):
        yield from target_names(target.value)


def _constants(body, outer: ChainMap) -> dict[str, object]:
    counts = _assigned_names(body)
    values: dict[str, object] = {}
    env = ChainMap(values, outer)
    for stmt in body:
        if not isinstance(stmt, cst.SimpleStatementLine):
            continue
        for small in stmt.body:
            if isinstance(small, cst.Assign) and len(small.targets) == 1:
                _bind_constant(small.targets[0].target, small.value, env, counts, values)
    return values


def _bind_constant(target, value_node, env, counts, values) -> None:
    """``n = 3`` and ``a, b = 1, 2`` (element-wise, when both sides line up)."""
    if isinstance(target, cst.Name):
        if counts.get(target.value) == 1:
            v = evaluate(value_node, env)
            if v is not UNKNOWN:
                values[target.value] = v
        return
    if isinstance(target, (cst.Tuple, cst.List)) and isinstance(value_node, (cst.Tuple, cst.List)):
        lhs, rhs = target.elements, value_node.elements
        if len(lhs) == len(rhs) and not any(isinstance(e, cst.StarredElement) for e in (*lhs, *rhs)):
            for t, v in zip(lhs, rhs):
                _bind_constant(t.value, v.value, env, counts, values)


def evaluate(node: cst.BaseExpression, env: Mapping[str, object]) -> object:
    """The static value of ``node`` or UNKNOWN. ``env`` maps names to plain values."""
    if isinstance(node, cst.Integer):
        return node.evaluated_value
    if isinstance(node, cst.Float):
        return node.evaluated_value
    if isinstance(node, cst.SimpleString):
        return node.evaluated_value
    if isinstance(node, cst.ConcatenatedString):
        left, right = evaluate(node.left, env), evaluate(node.right, env)
        return left + right if isinstance(left, str) and isinstance(right, str) else UNKNOWN
    if isinstance(node, cst.Name):
        if node.value in _CONSTS:
            return _CONSTS[node.value]
        v = env.get(node.value, UNKNOWN)
        if isinstance(v, tuple) and len(v) == 2 and v[0] in ("local", "module"):
            return v[1]
        return v
    if isinstance(node, (cst.Tuple, cst.List)):
        items = []
        for el in node.elements:
            if isinstance(el, cst.StarredElement):
                inner = evaluate(el.value, env)
                if not isinstance(inner, (tuple, list)):
                    return UNKNOWN
                items.extend(inner)
                continue
            v = evaluate(el.value, env)
            if v is UNKNOWN:
                return UNKNOWN
            items.append(v)
        return tuple(items) if isinstance(node, cst.Tuple) else list(items)
    if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, (cst.Minus, cst.Plus)):
        v = evaluate(node.expression, env)
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return -v if isinstance(node.operator, cst.Minus) else v
        return UNKNOWN
    if isinstance(node, cst.BinaryOperation) and type(node.operator) in _BINOPS:
        a, b = evaluate(node.left, env), evaluate(node.right, env)
        if isinstance(a, (int, float)) and isinstance(b, (int, float)):
            try:
                return _BINOPS[type(node.operator)](a, b)
            except (ArithmeticError, ValueError):
                return UNKNOWN
        if isinstance(a, tuple) and isinstance(b, tuple) and isinstance(node.operator, cst.Add):
            return a + b
        return UNKNOWN
    return UNKNOWN


def value_of(node: cst.BaseExpression, env: ChainMap) -> Value:
    """A ``Value`` for emission: module constants keep their name, local ones their value."""
    v = evaluate(node, env)
    text = code(node)
    if v is UNKNOWN:
        return Value(text)
    if isinstance(node, cst.Name) and node.value not in _CONSTS:
        entry = env.get(node.value)
        if isinstance(entry, tuple) and entry and entry[0] == "module":
            return Value(text, v)
        return Value(repr(v), v)
    if _only_literals(node):
        return Value(text, v)
    return Value(repr(v), v)


def _only_literals(node: cst.CSTNode) -> bool:
    """True when ``node`` mentions no variable (its text is valid anywhere)."""
    found = []

    class V(cst.CSTVisitor):
        def visit_Name(self, n):
            if n.value not in _CONSTS:
                found.append(n)

    node.visit(V())
    return not found


def names_read(node: cst.CSTNode) -> list[str]:
    """Names ``node`` reads, in order: keyword and attribute names and True/False/None excluded."""
    found: list[str] = []

    class V(cst.CSTVisitor):
        def visit_Arg(self, n: cst.Arg):
            n.value.visit(self)
            return False

        def visit_Attribute(self, n: cst.Attribute):
            n.value.visit(self)
            return False

        def visit_Name(self, n: cst.Name):
            if n.value not in found and n.value not in _CONSTS:
                found.append(n.value)

    node.visit(V())
    return found
