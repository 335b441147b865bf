"""The intermediate description between recognising Keras idioms and emitting torch.

Small on purpose: what a Sequential model is made of and where it was written, so
emitters for either framework and the weight converters can share it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import libcst as cst

from .spec.layers import Args, LayerSpec, Tensor


@dataclass
class LayerIR:
    """One Keras layer of a model, bound to its spec row."""

    spec: LayerSpec
    args: Args
    attr: str  # the torch attribute; follows Keras' layer name so weights map by name
    node: cst.Call
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
