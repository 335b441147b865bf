"""Static shapes of the arrays a program feeds a model (``fit(x_train, ...)``).

A subclassed model declares no input shape: tfpt reads it from the data. This follows
a variable back through its assignments, the latest one before the use first
(``x_train = x_train / 255.0`` after ``(x_train, y_train), _ = mnist.load_data()``),
through the array constructors, dataset loaders and shape-keeping operations of
``spec/subclassing.py``. Anything else is unknown (None), never guessed.
"""

from __future__ import annotations

import libcst as cst

from .evaluate import evaluate
from .spec import subclassing as spec
from .spec.values import UNKNOWN

_MAX_DEPTH = 12


class ArrayShapes:
    def __init__(self, rec, keras_inputs: bool = True):
        self.rec = rec
        #: whether ``keras.Input(shape=...)`` counts (building a model on it) or only real arrays do
        self.keras_inputs = keras_inputs

    def shape_of(self, node, at, depth: int = 0) -> tuple | None:
        """The shape of ``node`` (evaluated where statement ``at`` is), batch axis included, or None."""
        if depth > _MAX_DEPTH:
            return None
        if isinstance(node, cst.Name):
            return self._name(node.value, at, depth)
        if isinstance(node, cst.BinaryOperation):
            return self._elementwise(node, at, depth)
        if isinstance(node, cst.Subscript):
            return self._subscript(node, at, depth)
        if isinstance(node, cst.Call):
            return self._call(node, at, depth)
        return None

    # ------------------------------------------------------------------ variables

    def _name(self, name: str, at, depth: int) -> tuple | None:
        """The latest assignment to ``name`` before ``at`` in its scope (or the module's); a loop variable
        over a dataset; a function parameter every call fills with the same shape."""
        rec = self.rec
        fn = rec.function_of(at)
        loop = self._loop_over(name, at)
        if loop is not None:
            return self._element(*loop, depth)
        if fn is not None and name in [p.name.value for p in fn.params.params]:
            return self._parameter(fn, name, depth)
        where = rec.pos(at)
        best = None
        for a in rec.assigns:
            if rec.function_of(a) not in (fn, None) or len(a.targets) != 1:
                continue
            value = _value_for(a.targets[0].target, a.value, name)
            if value is None:
                continue
            pos = rec.pos(a)
            local = rec.function_of(a) is fn
            if pos < where or (not local and fn is not None):
                key = (local, pos)
                if best is None or key > best[0]:
                    best = (key, a, value)
        if best is None:
            return None
        _key, stmt, value = best
        if isinstance(value, tuple):  # `(x_train, y_train), (x_test, y_test) = mnist.load_data()`
            call, path = value
            return self._loaded(call, path, stmt)
        return self.shape_of(value, stmt, depth + 1)

    def _loaded(self, call, path: tuple[int, ...], at) -> tuple | None:
        """An element of a Keras dataset's ``load_data()``: x arrays have the table's shape."""
        if not (isinstance(call, cst.Call) and isinstance(call.func, cst.Attribute) and call.func.attr.value == "load_data"):
            return None
        dataset = self._dataset(call.func.value, at)
        shape = spec.DATASET_SHAPES.get(dataset or "")
        if shape is None or len(path) != 2 or path[1] != 0:
            return None
        return (None, *shape)

    def _dataset(self, node, at) -> str | None:
        """``keras.datasets.mnist`` written out or through a variable (``mnist = tf.keras.datasets.mnist``)."""
        q = self.rec.name(node)
        if q is not None:
            return q
        if isinstance(node, cst.Name):
            for a in self.rec.assigns:
                if len(a.targets) == 1 and isinstance(a.targets[0].target, cst.Name) \
                        and a.targets[0].target.value == node.value:
                    return self.rec.name(a.value)
        return None

    def _loop_over(self, name: str, at):
        """(iterable, position, loop) when ``at`` sits in ``for ... in iterable`` binding ``name``."""
        node = at
        while node is not None:
            node = self.rec.parent(node)
            if isinstance(node, cst.For):
                path = _path_to(node.target, name)
                if path is not None:
                    return node.iter, path, node
            if isinstance(node, (cst.FunctionDef, cst.ClassDef)):
                return None
        return None

    def _element(self, iterable, path: tuple[int, ...], loop, depth: int) -> tuple | None:
        """A batch of a tf.data pipeline: ``from_tensor_slices((x, y))`` element ``path`` (batch axis first)."""
        node = iterable
        for _ in range(_MAX_DEPTH):
            if isinstance(node, cst.Name):
                assigned = [a for a in self.rec.assigns if len(a.targets) == 1
                            and isinstance(a.targets[0].target, cst.Name) and a.targets[0].target.value == node.value]
                if len(assigned) != 1:
                    return None
                node, loop = assigned[0].value, assigned[0]
            elif isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) \
                    and node.func.attr.value in spec.DATASET_SHAPE_KEEPING and self.rec.name(node.func) is None:
                node = node.func.value
            else:
                break
        if not (isinstance(node, cst.Call) and self.rec.name(node.func) == spec.FROM_TENSOR_SLICES and node.args):
            return None
        data = node.args[0].value
        for i in path:
            if not isinstance(data, (cst.Tuple, cst.List)) or i >= len(data.elements):
                return None
            data = data.elements[i].value
        return self.shape_of(data, loop, depth + 1)

    def _parameter(self, fn: cst.FunctionDef, name: str, depth: int) -> tuple | None:
        """A parameter of ``fn``: the shape every call in the module passes (positionally or by name)."""
        index = [p.name.value for p in fn.params.params].index(name)
        shapes = set()
        for call in self.rec.calls:
            if not (isinstance(call.func, cst.Name) and call.func.value == fn.name.value):
                continue
            arg = next((a.value for a in call.args if a.keyword is not None and a.keyword.value == name), None)
            positional = [a.value for a in call.args if a.keyword is None and not a.star]
            if arg is None and index < len(positional):
                arg = positional[index]
            shapes.add(self.shape_of(arg, self.rec.statement_of(call), depth + 1) if arg is not None else None)
        if len(shapes) != 1:
            return None
        shape = shapes.pop()
        return None if shape is None else (None, *shape[1:])

    # ------------------------------------------------------------------ expressions

    def _elementwise(self, node: cst.BinaryOperation, at, depth: int) -> tuple | None:
        """``x / 255.0``, ``x - mean``: an array with a number keeps the array's shape."""
        env = self.rec.constants.scope(self.rec.function_of(at))
        left, right = evaluate(node.left, env), evaluate(node.right, env)
        if isinstance(right, (int, float)) and not isinstance(right, bool):
            return self.shape_of(node.left, at, depth + 1)
        if isinstance(left, (int, float)) and not isinstance(left, bool):
            return self.shape_of(node.right, at, depth + 1)
        return None

    def _subscript(self, node: cst.Subscript, at, depth: int) -> tuple | None:
        """``x[..., np.newaxis]`` / ``x[..., None]`` add an axis; ``x[:1000]`` keeps the rest."""
        shape = self.shape_of(node.value, at, depth + 1)
        if shape is None:
            return None
        items = [s.slice for s in node.slice]
        if len(items) == 2 and isinstance(items[0], cst.Index) and isinstance(items[0].value, cst.Ellipsis) \
                and isinstance(items[1], cst.Index) and self._is_newaxis(items[1].value):
            return (*shape, 1)
        if len(items) == 1 and isinstance(items[0], cst.Slice):
            return (None, *shape[1:])
        return None

    def _is_newaxis(self, node) -> bool:
        if isinstance(node, cst.Name) and node.value == "None":
            return True
        q = self.rec.bindings.qualified(node) or self.rec.name(node)
        return q in spec.NEWAXIS

    def _call(self, node: cst.Call, at, depth: int) -> tuple | None:
        rec = self.rec
        q = rec.bindings.qualified(node.func)
        env = rec.constants.scope(rec.function_of(at))
        if rec.name(node.func) in ("keras.Input", "keras.layers.Input") and self.keras_inputs:
            shape = first_arg(node, ("shape",))
            v = evaluate(shape, env) if shape is not None else UNKNOWN
            if isinstance(v, int):
                v = (v,)
            return (None, *v) if isinstance(v, (tuple, list)) else None
        method = node.func.attr.value if isinstance(node.func, cst.Attribute) and rec.name(node.func) is None \
            and q is None else None
        if method in spec.SHAPE_KEEPING_METHODS:
            return self.shape_of(node.func.value, at, depth + 1)
        if method == "reshape":
            v = evaluate(node.args[0].value, env) if len(node.args) == 1 else evaluate(
                cst.Tuple([cst.Element(a.value) for a in node.args]), env)
            return _reshaped(v)
        if q in spec.SHAPE_KEEPING_FUNCTIONS or rec.name(node.func) in spec.SHAPE_KEEPING_FUNCTIONS:
            return self.shape_of(node.args[0].value, at, depth + 1) if node.args else None
        if q in spec.EXPAND_DIMS:
            shape = self.shape_of(node.args[0].value, at, depth + 1) if node.args else None
            axis = evaluate(_arg(node, "axis", 1), env)
            if shape is None or not isinstance(axis, int):
                return None
            axis = axis if axis >= 0 else len(shape) + 1 + axis
            return (*shape[:axis], 1, *shape[axis:]) if 0 < axis <= len(shape) else None
        return self._constructor(node, q, env)

    def _constructor(self, node: cst.Call, q: str | None, env) -> tuple | None:
        kind = spec.ARRAY_SHAPES.get(q or "") or spec.ARRAY_SHAPES.get(self.rec.name(node.func) or "")
        if kind is None:
            return None
        if kind == "args":
            v = tuple(evaluate(a.value, env) for a in node.args if a.keyword is None)
        else:
            keyword, position = spec.SHAPE_ARGUMENT["shape"] if kind == "shape" else spec.SHAPE_ARGUMENT["size"][q]
            v = evaluate(_arg(node, keyword, position), env)
            if isinstance(v, int):
                v = (v,)
        if isinstance(v, (tuple, list)) and v and all(isinstance(d, int) and not isinstance(d, bool) for d in v):
            return tuple(v)
        return None


def _value_for(target, value, name: str):
    """What ``name`` is bound to by ``target = value``: an expression, (call, path) for a nested unpacking
    of a call's result, or None."""
    if isinstance(target, cst.Name):
        return value if target.value == name else None
    if isinstance(target, (cst.Tuple, cst.List)):
        for i, el in enumerate(target.elements):
            if isinstance(value, (cst.Tuple, cst.List)) and len(value.elements) == len(target.elements):
                found = _value_for(el.value, value.elements[i].value, name)
                if found is not None:
                    return found
            elif isinstance(value, cst.Call):
                path = _path_to(el.value, name)
                if path is not None:
                    return value, (i, *path)
    return None


def _path_to(target, name: str) -> tuple[int, ...] | None:
    if isinstance(target, cst.Name):
        return () if target.value == name else None
    if isinstance(target, (cst.Tuple, cst.List)):
        for i, el in enumerate(target.elements):
            path = _path_to(el.value, name)
            if path is not None:
                return (i, *path)
    return None


def _reshaped(v) -> tuple | None:
    if isinstance(v, int):
        v = (v,)
    if isinstance(v, (tuple, list)) and v and all(isinstance(d, int) for d in v) and -1 not in v[1:]:
        return (None, *v[1:])
    return None


def _arg(node: cst.Call, keyword: str, position: int):
    for a in node.args:
        if a.keyword is not None and a.keyword.value == keyword:
            return a.value
    positional = [a.value for a in node.args if a.keyword is None]
    return positional[position] if position < len(positional) else cst.Name("None")


def first_arg(node: cst.Call, keywords: tuple[str, ...]):
    """The first keyword of ``keywords`` given, else the first positional argument (None if neither)."""
    for a in node.args:
        if a.keyword is not None and a.keyword.value in keywords:
            return a.value
    positional = [a for a in node.args if a.keyword is None and not a.star]
    return positional[0].value if positional else None
