"""``self.w = self.add_weight(shape=..., initializer=..., trainable=...)`` traced into a weight "layer".

Called by the subclass tracer in ``__init__`` and ``build`` (where ``input_shape`` is static). The
result is a ``SymLayer`` of the ``WEIGHT`` spec: ops in ``call`` read it as ``{m}`` and register it
on first use (``graph_ops``). Sizes keep their source spelling when ``__init__`` can read it
(``units``, ``self.units``), else the number the trace computed (``input_shape[-1]`` -> ``5``).
"""

from __future__ import annotations

from dataclasses import dataclass

import libcst as cst

from .evaluate import UNKNOWN, code
from .functional import GraphError, SymLayer
from .spec import custom_weights as spec
from .spec.values import Dim, Unsupported


def add_weight(tracer, node: cst.Call, in_init: bool, init_params: set[str], init_attrs: set[str],
               attr_params: dict[str, str]) -> SymLayer:
    """The weight ``node`` creates; GraphError when its shape or arguments cannot be followed.

    ``attr_params``: ``self.units`` holds the constructor parameter ``units`` (spelled so in ``__init__``).
    """
    bound = _bind(node)
    for k, fixed in spec.FIXED.items():
        if k in bound and tracer._static(bound[k]) != fixed:
            raise GraphError(f"add_weight({k}=...) is not translated", node)
    if "shape" not in bound:
        raise GraphError("add_weight() without shape= is not translated", node)
    dtype = bound.get("dtype")
    if dtype is not None and code(dtype) not in spec.FLOAT32 and tracer._static(dtype) not in spec.FLOAT32:
        raise GraphError(f"add_weight(dtype={code(dtype)}): only float32 weights are translated", node)
    dims = _dims(tracer, bound["shape"], _Spelling(in_init, init_params, init_attrs, attr_params), node)
    trainable = tracer._static(bound["trainable"]) if "trainable" in bound else True
    if trainable not in (True, False, None):
        raise GraphError("add_weight(trainable=...) must be a literal True or False", node)
    name = tracer._static(bound["name"]) if "name" in bound else None
    if "name" in bound and not isinstance(name, str):
        raise GraphError("add_weight(name=...) must be a static string", node)
    notes = [f"add_weight({k}=...) is not carried over: add it to the torch training loop"
             for k in spec.TRAINING_ONLY if k in bound and tracer._static(bound[k]) is not None]
    try:
        line = spec.init_line(*_initializer(tracer, bound.get("initializer")), dims)
    except spec.NeedsSizes as e:
        raise GraphError(str(e), node) from None
    except Unsupported as e:
        line = None
        notes.append(f"{e}: initialise this parameter like Keras does")
    built = spec.build_weight(dims, line, trainable is not False, name or spec.DEFAULT_NAME)
    return SymLayer(spec.WEIGHT, spec.WEIGHT.bind([], {}), node, notes=notes, stmt=tracer.current_stmt,
                    weight=(built, dims))


@dataclass(frozen=True)
class InputSize:
    """A size of ``build()``'s ``input_shape`` that the torch class takes as a constructor parameter."""

    text: str


def _bind(node: cst.Call) -> dict[str, cst.BaseExpression]:
    if any(a.star for a in node.args):
        raise GraphError("add_weight(*args) is not translated", node)
    positional = [a.value for a in node.args if a.keyword is None]
    tf2 = bool(positional) and isinstance(positional[0], (cst.SimpleString, cst.ConcatenatedString))
    params = spec.ADD_WEIGHT_PARAMS_TF2 if tf2 else spec.ADD_WEIGHT_PARAMS
    if len(positional) > len(params):
        raise GraphError("add_weight() with more positional arguments than it takes", node)
    bound = dict(zip(params, positional))
    for a in node.args:
        if a.keyword is None:
            continue
        k = a.keyword.value
        if k not in spec.ADD_WEIGHT_PARAMS and k not in spec.ADD_WEIGHT_PARAMS_TF2 or k in bound:
            raise GraphError(f"add_weight({k}=...) is not translated", node)
        bound[k] = a.value
    return bound


@dataclass(frozen=True)
class _Spelling:
    """What ``__init__`` can read: its parameters (while tracing it), attributes it set, their sources."""

    in_init: bool
    init_params: set
    init_attrs: set
    attr_params: dict


def _dims(tracer, shape: cst.BaseExpression, names: _Spelling, node) -> tuple[Dim, ...]:
    """Each size as ``__init__`` can spell it."""
    if isinstance(shape, (cst.Tuple, cst.List)):
        if any(isinstance(e, cst.StarredElement) for e in shape.elements):
            raise GraphError("add_weight(shape=(*...)) is not translated", node)
        return tuple(_dim(tracer, e.value, names, node) for e in shape.elements)
    v = tracer._static(shape)
    if isinstance(v, int) and not isinstance(v, bool):
        return (Dim.of(v),)
    if isinstance(v, (tuple, list)) and all(isinstance(d, int) and not isinstance(d, bool) for d in v):
        return tuple(Dim.of(d) for d in v)
    raise GraphError(f"add_weight(shape={code(shape)}) is not a static shape", node)


def _dim(tracer, el, names: _Spelling, node) -> Dim:
    v = tracer._static(el)
    if isinstance(v, InputSize):
        return Dim(v.text)
    if v is not UNKNOWN and not (isinstance(v, int) and not isinstance(v, bool)):
        raise GraphError(f"the size {code(el)} is not an int", node)
    value = None if v is UNKNOWN else v
    if isinstance(el, cst.Name) and names.in_init and el.value in names.init_params:
        return Dim(el.value, value)
    if isinstance(el, cst.Attribute) and isinstance(el.value, cst.Name) and el.value.value == "self" \
            and el.attr.value in names.init_attrs:
        return Dim(names.attr_params.get(el.attr.value, code(el)), value)
    if v is UNKNOWN:
        raise GraphError(f"the size {code(el)} is not static", node)
    return Dim.of(v)


def _initializer(tracer, node) -> tuple[spec.Initializer, dict]:
    """The Initializer row and its given options for ``initializer=`` (a name, a Keras object, a TF function)."""
    if node is None or isinstance(node, cst.Name) and node.value == "None":
        return spec.STRING_INITIALIZERS[spec.DEFAULT_INITIALIZER], {}
    if isinstance(node, (cst.SimpleString, cst.ConcatenatedString)):
        name = tracer._static(node)
        if name not in spec.STRING_INITIALIZERS:
            raise Unsupported(f"initializer {name!r} is not translated")
        return spec.STRING_INITIALIZERS[name], {}
    if not isinstance(node, cst.Call):
        raise Unsupported(f"initializer {code(node)} (not a literal name or constructor call) is not translated")
    q = tracer.rec.name(node.func) or ""
    if q in spec.TF_INITIALIZERS:
        init = spec.TF_INITIALIZERS[q]
    elif q.startswith(("keras.initializers.", "tf.initializers.", "tf.keras.initializers.")) \
            and q.rsplit(".", 1)[1] in spec.STRING_INITIALIZERS:
        init = spec.STRING_INITIALIZERS[q.rsplit(".", 1)[1]]
    else:
        raise Unsupported(f"initializer {code(node.func)} is not translated")
    options: dict = {}
    positional = [a for a in node.args if a.keyword is None]
    if len(positional) > len(init.params) or any(a.star for a in node.args):
        raise Unsupported(f"{code(node.func)}(...) with these arguments is not translated")
    given = [(p, a.value) for p, a in zip(init.params, positional)]
    given += [(a.keyword.value, a.value) for a in node.args if a.keyword is not None]
    for k, v in given:
        if k not in init.params and k not in init.defaults:
            raise Unsupported(f"{code(node.func)}({k}=...) is not translated")
        value = tracer._static(v)
        if value is UNKNOWN:
            raise Unsupported(f"{code(node.func)}({k}={code(v)}) is not a static value")
        options[k] = value
    options.pop("seed", None)  # torch draws from its own generator
    return init, options
