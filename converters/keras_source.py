"""Keras source that rebuilds a recognised model, for ``tfpt verify``.

The model is rebuilt from the IR (the arguments tfpt bound, not the user's script),
with every argument as its concrete value: ``keras.Sequential([keras.Input(shape=...),
keras.layers.Dense(units=10, ...), ...])`` under ``import keras``. A value that is not
static (an ``__init__`` parameter of the translated class, a name tfpt could not
evaluate) raises ``ConcreteValueError``: a proof needs numbers.
"""

from __future__ import annotations

import re
from typing import Mapping

import libcst as cst

from translator.evaluate import evaluate
from translator.ir import LayerIR, ModelIR
from translator.spec.layers import Args, InnerLayer
from translator.spec.merges import MergeSpec
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


def layer_source(kind: str, args: Args, constants: Mapping[str, object] | None = None, where: str = "",
                 name: str | None = None) -> str:
    """``keras.layers.<kind>(name=value, ...)`` for bound ``args`` (inner layers rebuilt recursively).

    ``name`` replaces the layer's own name (verify names layers like their torch attributes).
    """
    where = where or kind
    # Embedding's input_dim is its own argument; elsewhere it is Keras 2's input-shape shorthand
    dropped = _DROPPED - set(args.spec.params)
    if name is not None:
        dropped |= {"name"}
    parts = [f"{k}={_arg_source(k, v, where, constants)}" for k, v in args.given.items() if k not in dropped]
    if name is not None:
        parts.append(f"name={name!r}")
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


def model_expr(model: ModelIR, constants: Mapping[str, object] | None = None, named: bool = False) -> str:
    """The ``keras.Sequential([...])`` expression rebuilding ``model`` (layers named like the torch attributes)."""
    if model.init_params:
        raise ConcreteValueError(f"class {model.class_name} takes parameters {model.init_params}; "
                                 "verify needs concrete values")
    if model.graph is not None:
        # a graph needs statements: one expression that runs them (for callers that eval an expression)
        script = model_script(model, constants)
        return f"(lambda ns: (exec({script!r}, ns), ns['model'])[1])({{'keras': keras}})"
    items = [f"keras.Input(shape={input_shape(model, constants)!r})"]
    for layer in model.layers:
        items.append(_layer(layer, constants, named))
    name = f", name={model.keras_name!r}" if model.keras_name else ""
    return "keras.Sequential([\n" + "".join(f"    {i},\n" for i in items) + f"]{name})"


def input_shapes(model: ModelIR, constants: Mapping[str, object] | None = None) -> list[tuple]:
    """Every input's shape (no batch axis), concrete; a Sequential model has one."""
    if model.graph is None:
        return [input_shape(model, constants)]
    return [tuple(_dim(d, constants, f"input {hint!r} dimension {i}") for i, d in enumerate(t.shape or ()))
            if t.shape is not None else _no_shape(model) for _, hint, t in model.graph.inputs]


def _no_shape(model: ModelIR):
    raise ConcreteValueError(f"model {model.var or model.class_name!r} has an input without a known shape")


def model_script(model: ModelIR, constants: Mapping[str, object] | None = None, var: str = "model",
                 name: str | None = None) -> str:
    """Statements (under ``import keras``) that bind ``var`` to the rebuilt model.

    Every layer is named after its torch attribute, so weights pair by name however
    Keras orders a Functional model's layers; nested models are rebuilt first.
    """
    if model.subclass is not None:  # a block of the source's own class (its source comes first in the script)
        if model.subclass.ctor_args == "?":
            raise ConcreteValueError(f"{model.class_name}'s constructor arguments are not static")
        # named after construction: a custom layer's __init__ need not take **kwargs
        return f"{var} = {model.class_name}({model.subclass.ctor_args})\n{var}.name = {(name or var)!r}\n"
    if model.init_params:
        raise ConcreteValueError(f"class {model.class_name} takes parameters {model.init_params}; "
                                 "verify needs concrete values")
    if model.graph is None:
        expr = model_expr(model, constants, named=True)
        if name is not None:
            expr = re.sub(r"(, name='[^']*')?\)$", f", name={name!r})", expr)
        return f"{var} = {expr}\n"
    graph = model.graph
    lines: list[str] = []
    for attr, inner in model.submodels.items():
        lines.append(model_script(inner, constants, var=f"_sub_{attr}", name=attr).rstrip())
    names: dict[int, str] = {}
    ins = []
    for k, ((tid, _hint, _t), shape) in enumerate(zip(graph.inputs, input_shapes(model, constants))):
        dtype = graph.input_dtypes[k] if k < len(graph.input_dtypes) else None
        names[tid] = f"_t{tid}"
        ins.append(names[tid])
        dt = f", dtype={dtype!r}" if dtype else ""
        lines.append(f"{names[tid]} = keras.Input(shape={shape!r}{dt})")
    made: set[int] = set()
    for node in graph.nodes:
        layer = ""
        if node.layer is not None:
            ir = model.layers[node.layer]
            layer = f"_l_{ir.attr}"
            if node.layer not in made:
                made.add(node.layer)
                # merges are weightless, and Keras names `a + b` "add" too: they keep Keras' names
                lines.append(f"{layer} = {_layer(ir, constants, named=not isinstance(ir.spec, MergeSpec))}")
        elif node.attr in model.submodels:
            layer = f"_sub_{node.attr}"
        call = node.keras.replace("{layer}", layer).replace(f"{node.attr}(", f"_sub_{node.attr}(") \
            if node.layer is None and node.attr else node.keras.replace("{layer}", layer)
        for i, t in enumerate(node.inputs):
            call = call.replace(f"{{{i}}}", names[t])
        names[node.output] = f"_t{node.output}"
        lines.append(f"{names[node.output]} = {call}")
    if isinstance(graph.outputs, dict):
        outs = "{" + ", ".join(f"{k!r}: {names[t]}" for k, t in graph.outputs.items()) + "}"
    elif graph.multi_output:
        outs = "[" + ", ".join(names[t] for t in graph.outputs) + "]"
    else:
        outs = names[graph.outputs[0]]
    inputs = ins[0] if len(ins) == 1 else "[" + ", ".join(ins) + "]"
    name = name or model.keras_name
    name = f", name={name!r}" if name else ""
    lines.append(f"{var} = keras.Model({inputs}, {outs}{name})")
    return "\n".join(lines) + "\n"


def _layer(layer: LayerIR, constants, named: bool = False) -> str:
    return layer_source(layer.spec.keras, layer.args, constants, where=f"{layer.spec.keras} at line {layer.line}",
                        name=layer.attr if named else None)


def keras_source(model: ModelIR, var: str = "model", constants: Mapping[str, object] | None = None) -> str:
    """A complete script fragment: ``import keras`` and ``var = keras.Sequential([...])``."""
    return f"import keras\n\n{var} = {model_expr(model, constants)}\n"


__all__ = ["ConcreteValueError", "concrete", "input_shape", "input_shapes", "keras_source", "layer_source",
           "model_expr", "model_script"]
