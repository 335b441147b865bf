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
class ModelIR:
    """A Keras Sequential model as written in the source."""

    var: str | None  # the variable it is bound to (None when returned directly)
    class_name: str
    layers: list[LayerIR]
    input: Tensor
    keras_name: str | None = None
    init_params: list[str] = field(default_factory=list)


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


def camel_case(name: str) -> str:
    """A class name from a Keras model name (``my_model`` -> ``MyModel``)."""
    parts = [p for p in re.split(r"[^0-9A-Za-z]+", name) if p]
    out = "".join(p[:1].upper() + p[1:] for p in parts) or "Model"
    return out if out[0].isalpha() else "Model" + out
