"""Keras source that rebuilds a recognised model, for ``tfpt verify``.

The model is rebuilt from the IR (the arguments tfpt bound, not the user's script),
with every argument as its concrete value: ``keras.Sequential([keras.Input(shape=...),
keras.layers.Dense(units=10, ...), ...])`` under ``import keras``. A value that is not
static (an ``__init__`` parameter of the translated class, a name tfpt could not
evaluate) raises ``ConcreteValueError``: a proof needs numbers.
"""

from __future__ import annotations

from typing import Mapping

import libcst as cst

from translator.evaluate import evaluate
from translator.ir import LayerIR, ModelIR
from translator.spec.layers import Args, InnerLayer
from translator.spec.values import UNKNOWN, Dim, Value

#: arguments the ``keras.Input`` carries instead (and Keras 3 no longer takes on layers)
_DROPPED = frozenset({"input_shape", "input_dim", "batch_input_shape", "batch_size", "input_length"})


class ConcreteValueError(ValueError):
    """An argument has no static value; verify needs concrete values."""


def concrete(text: str, value, constants: Mapping[str, object] | None, what: str):
    """``value`` if static, else ``text`` evaluated against ``constants``; ConcreteValueError if neither."""
    if value is not UNKNOWN:
        return value
    if constants:
        try:
            value = evaluate(cst.parse_expression(text), constants)
        except cst.ParserSyntaxError:
            value = UNKNOWN
    if value is UNKNOWN:
        raise ConcreteValueError(f"{what} = {text} has no static value; verify needs concrete values "
                                 "(a constant, not a parameter or a computed value)")
    return value


def _arg_source(name: str, v: Value, where: str, constants) -> str:
    if isinstance(v.value, InnerLayer):
        return layer_source(v.value.kind, v.value.args, constants, where=f"{where}({name}=...)")
    return repr(concrete(v.text, v.value, constants, f"{where}({name}=...)"))


def layer_source(kind: str, args: Args, constants: Mapping[str, object] | None = None, where: str = "") -> str:
    """``keras.layers.<kind>(name=value, ...)`` for bound ``args`` (inner layers rebuilt recursively)."""
    where = where or kind
    # Embedding's input_dim is its own argument; elsewhere it is Keras 2's input-shape shorthand
    dropped = _DROPPED - set(args.spec.params)
    parts = [f"{k}={_arg_source(k, v, where, constants)}" for k, v in args.given.items() if k not in dropped]
    return f"keras.layers.{kind}({', '.join(parts)})"


def _dim(d: Dim, constants, what: str):
    if d.value is not None:
        return d.value
    if d.text == "None":
        return None
    v = concrete(d.text, UNKNOWN, constants, what)
    if not (v is None or isinstance(v, int)):
        raise ConcreteValueError(f"{what} = {d.text} is {v!r}, not an integer")
    return v


def input_shape(model: ModelIR, constants: Mapping[str, object] | None = None) -> tuple:
    """The model's input shape (no batch axis) as concrete ints (None for a free axis)."""
    if model.input.shape is None:
        raise ConcreteValueError(f"model {model.var or model.class_name!r} has no known input shape")
    return tuple(_dim(d, constants, f"input dimension {i}") for i, d in enumerate(model.input.shape))


def model_expr(model: ModelIR, constants: Mapping[str, object] | None = None) -> str:
    """The ``keras.Sequential([...])`` expression rebuilding ``model``."""
    if model.init_params:
        raise ConcreteValueError(f"class {model.class_name} takes parameters {model.init_params}; "
                                 "verify needs concrete values")
    items = [f"keras.Input(shape={input_shape(model, constants)!r})"]
    for layer in model.layers:
        items.append(_layer(layer, constants))
    name = f", name={model.keras_name!r}" if model.keras_name else ""
    return "keras.Sequential([\n" + "".join(f"    {i},\n" for i in items) + f"]{name})"


def _layer(layer: LayerIR, constants) -> str:
    return layer_source(layer.spec.keras, layer.args, constants, where=f"{layer.spec.keras} at line {layer.line}")


def keras_source(model: ModelIR, var: str = "model", constants: Mapping[str, object] | None = None) -> str:
    """A complete script fragment: ``import keras`` and ``var = keras.Sequential([...])``."""
    return f"import keras\n\n{var} = {model_expr(model, constants)}\n"


__all__ = ["ConcreteValueError", "concrete", "input_shape", "keras_source", "layer_source", "model_expr"]
