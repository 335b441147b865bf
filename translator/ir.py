"""The intermediate description between recognising Keras idioms and emitting torch.

Small on purpose: what a Sequential model is made of and where it was written, so
emitters for either framework and the weight converters can share it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # a checkpoint's model needs no LibCST: keep tfpt convert's start-up light
    import libcst as cst

from .spec.layers import Args, LayerSpec, Tensor


@dataclass
class LayerIR:
    """One Keras layer of a model, bound to its spec row."""

    spec: LayerSpec
    args: Args
    attr: str  # the torch attribute; follows Keras' layer name so weights map by name
    node: cst.Call | None  # None when the model came from a saved config, not source
    line: int = 0
    col: int = 0
    #: non-blocking notes (training-only arguments that were not carried over)
    notes: list[str] = field(default_factory=list)


@dataclass
class Node:
    """One call in a Functional model's forward: a layer, a merge or an operator on tensors.

    ``lines`` are torch statements assigning ``x`` (the output); they read the inputs as
    ``{0}``, ``{1}``, ... and the layer's submodule as ``{m}``. ``keras`` is the same call
    in Keras, with the same placeholders and ``{layer}`` for the layer object (what verify
    rebuilds).
    """

    inputs: list[int]
    output: int
    lines: list[str]
    keras: str
    layer: int | None = None  # index into ModelIR.layers
    hint: str = "x"  # the variable name the source gave the result
    attr: str | None = None  # the submodule ``{m}`` stands for (a layer or a nested model)


@dataclass
class Graph:
    """A Functional model: its inputs, the calls in source order, its outputs."""

    inputs: list[tuple[int, str, Tensor]]  # tensor id, parameter name, shape
    nodes: list[Node]
    outputs: list[int] | dict[str, int]
    #: tensor id -> shape/layout as the shape rules computed it
    tensors: dict[int, Tensor] = field(default_factory=dict)
    #: each input's dtype as the Input call gave it (None: float32)
    input_dtypes: list[str | None] = field(default_factory=list)
    #: False when Model(outputs=...) is one tensor (forward returns it, not a tuple)
    multi_output: bool = False


@dataclass
class Subclass:
    """A subclassed Keras model as written: verify builds this class itself, not a rebuild."""

    keras_class: str  # the class statement, as written
    ctor_args: str  # its first instance's constructor arguments, as static literals
    input_shape: tuple  # the input's shape without the batch axis


@dataclass
class ModelIR:
    """A Keras model as written in the source: Sequential (``graph`` None) or Functional."""

    var: str | None  # the variable it is bound to (None when returned directly)
    class_name: str
    layers: list[LayerIR]  # each layer object once, in order of first use
    input: Tensor
    keras_name: str | None = None
    init_params: list[str] = field(default_factory=list)
    graph: Graph | None = None
    #: nested models used as layers: attribute -> the inner model
    submodels: dict[str, "ModelIR"] = field(default_factory=dict)
    #: set for a translated ``keras.Model`` subclass
    subclass: Subclass | None = None


#: ``nn.Module`` attributes a layer must not shadow
RESERVED_ATTRS = frozenset({
    "forward", "training", "train", "eval", "parameters", "modules", "children", "state_dict",
    "cuda", "cpu", "to", "type", "float", "double", "half", "apply", "zero_grad", "optimizer",
    "loss_fn", "metric_fns", "reset_parameters",
})


def identifier(name: str) -> str:
    """A Keras layer name as a Python identifier (``conv-1`` -> ``conv_1``)."""
    ident = re.sub(r"\W", "_", name)
    if not ident or ident[0].isdigit():
        ident = "layer_" + ident
    return ident


def unique_attr(attr: str, used: dict[str, int]) -> str:
    """``attr``, suffixed when taken or reserved; records it in ``used``."""
    if attr in RESERVED_ATTRS or attr in used:
        k = used.get(attr, 0) + 1
        used[attr] = k
        attr = f"{attr}_{k}"
    used.setdefault(attr, 0)
    return attr


def snake_case(name: str) -> str:
    """Keras' own layer auto-naming (keras.src.utils.naming.to_snake_case): ``Conv2D`` -> ``conv2d``."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    name = re.sub("([a-z])([A-Z])", r"\1_\2", name)
    return name.lower()


def camel_case(name: str) -> str:
    """A class name from a Keras model name (``my_model`` -> ``MyModel``)."""
    parts = [p for p in re.split(r"[^0-9A-Za-z]+", name) if p]
    out = "".join(p[:1].upper() + p[1:] for p in parts) or "Model"
    return out if out[0].isalpha() else "Model" + out
