"""Layers that take several tensors: Keras' merge layers and the operators on Keras tensors.

One row per Keras merge layer, shaped like the layer table's rows, with a ``build``
that receives every input: ``build(args, tensors, exprs)`` where ``tensors`` are the
inputs' Keras shapes (already in one layout) and ``exprs`` the torch expressions that
read them (``{0}``, ``{1}``, ... possibly permuted). Forward lines assign ``x``.

The functional spellings (``keras.layers.add([a, b])``) and the Python operators on
Keras tensors (``a + b``, ``x += shortcut``) resolve to the same rows, so there is one
place that says what an addition of two tensors becomes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from .layers import KERAS, TORCH, Args, Built, LayerSpec, Tensor
from .values import Dim, Unsupported


@dataclass(frozen=True)
class MergeSpec(LayerSpec):
    """A layer called on a list of tensors."""

    #: the lower-case Keras function (``keras.layers.add``) that builds and calls it at once
    function: str | None = None
    #: exact number of inputs, or None for two or more
    arity: int | None = None

    def build_merge(self, args: Args, tensors: list[Tensor], exprs: list[str]) -> Built:
        if self.arity is not None and len(tensors) != self.arity:
            raise Unsupported(f"{self.keras} takes exactly {self.arity} inputs, got {len(tensors)}")
        if len(tensors) < 2 and self.arity is None:
            raise Unsupported(f"{self.keras} needs at least two inputs")
        return self.build(args, tensors, exprs)


def _same_shapes(layer: str, tensors: list[Tensor]) -> tuple[Dim, ...] | None:
    """Elementwise merges need equal shapes (where known); the result has that shape."""
    shapes = [t.shape for t in tensors]
    if any(s is None for s in shapes):
        return None
    first = shapes[0]
    for s in shapes[1:]:
        if len(s) != len(first):
            raise Unsupported(f"{layer}: inputs of different ranks {[len(x) + 1 for x in shapes]}")
        for a, b in zip(first, s):
            if a.known and b.known and a.value != b.value:
                raise Unsupported(f"{layer}: inputs of different shapes "
                                  f"{[tuple(d.text for d in x) for x in shapes]} (broadcasting is not translated)")
    # prefer a known size per axis
    return tuple(next((s[i] for s in shapes if s[i].known), first[i]) for i in range(len(first)))


def _elementwise(op: str):
    def build(args: Args, tensors: list[Tensor], exprs: list[str]) -> Built:
        shape = _same_shapes(args.spec.keras, tensors)
        return Built(None, [f"x = {op.join(exprs)}"], Tensor(shape, tensors[0].layout))

    return build


def _average(args: Args, tensors: list[Tensor], exprs: list[str]) -> Built:
    shape = _same_shapes("Average", tensors)
    return Built(None, [f"x = ({' + '.join(exprs)}) / {len(exprs)}"], Tensor(shape, tensors[0].layout))


def _extremum(fn: str):
    def build(args: Args, tensors: list[Tensor], exprs: list[str]) -> Built:
        shape = _same_shapes(args.spec.keras, tensors)
        expr = exprs[0]
        for e in exprs[1:]:
            expr = f"torch.{fn}({expr}, {e})"
        return Built(None, [f"x = {expr}"], Tensor(shape, tensors[0].layout))

    return build


def _concatenate(args: Args, tensors: list[Tensor], exprs: list[str]) -> Built:
    axis = args.value("axis")
    if not isinstance(axis, int):
        raise Unsupported(f"Concatenate(axis={args.text('axis')}) is not a static integer")
    shapes = [t.shape for t in tensors]
    if any(s is None for s in shapes):
        raise Unsupported("Concatenate: an input shape is unknown")
    rank = len(shapes[0]) + 1
    if any(len(s) + 1 != rank for s in shapes):
        raise Unsupported("Concatenate: inputs of different ranks")
    keras_axis = axis if axis >= 0 else rank + axis
    if keras_axis == 0:
        raise Unsupported("Concatenate(axis=0) joins batches; not translated")
    layout = tensors[0].layout
    if layout == TORCH and rank >= 3:
        # channels-first: Keras' last axis is torch's axis 1, spatial axes shift by one
        dim = 1 if keras_axis == rank - 1 else keras_axis + 1
    else:
        dim = -1 if keras_axis == rank - 1 else keras_axis
    total = shapes[0][keras_axis - 1]
    for s in shapes[1:]:
        d = s[keras_axis - 1]
        total = Dim.of(total.value + d.value) if total.known and d.known else Dim(f"{total.text} + {d.text}")
    out = list(shapes[0])
    out[keras_axis - 1] = total
    return Built(None, [f"x = torch.cat([{', '.join(exprs)}], dim={dim})"], Tensor(tuple(out), layout))


def _dot(args: Args, tensors: list[Tensor], exprs: list[str]) -> Built:
    axes = args.value("axes")
    shapes = [t.shape for t in tensors]
    if any(s is None or len(s) != 1 for s in shapes):
        raise Unsupported("Dot is translated for rank-2 inputs (batch, features) only")
    if axes not in (1, -1, (1, 1), [1, 1], (-1, -1), [-1, -1]):
        raise Unsupported(f"Dot(axes={args.text('axes')}) is not translated")
    a, b = exprs
    if args.value("normalize"):
        a, b = f"F.normalize({a}, dim=-1)", f"F.normalize({b}, dim=-1)"
    return Built(None, [f"x = ({a} * {b}).sum(dim=-1, keepdim=True)"], Tensor((Dim.of(1),), KERAS))


def _merge(name: str, build: Callable, function: str, params=(), defaults=None, arity=None, torch="") -> MergeSpec:
    return MergeSpec(name, tuple(params), dict(defaults or {}), build, torch=torch, function=function, arity=arity,
                     note="inputs brought to one layout first")


MERGES: dict[str, MergeSpec] = {
    s.keras: s
    for s in [
        _merge("Add", _elementwise(" + "), "add", torch="+"),
        _merge("Subtract", _elementwise(" - "), "subtract", arity=2, torch="-"),
        _merge("Multiply", _elementwise(" * "), "multiply", torch="*"),
        _merge("Average", _average, "average", torch="mean of the inputs"),
        _merge("Maximum", _extremum("maximum"), "maximum", torch="torch.maximum"),
        _merge("Minimum", _extremum("minimum"), "minimum", torch="torch.minimum"),
        _merge("Concatenate", _concatenate, "concatenate", ("axis",), {"axis": -1}, torch="torch.cat"),
        _merge("Dot", _dot, "dot", ("axes", "normalize"), {"normalize": False}, arity=2, torch="sum of products"),
    ]
}

#: ``keras.layers.<function>`` -> its row
FUNCTIONS: dict[str, MergeSpec] = {s.function: s for s in MERGES.values() if s.function}

#: Python operators on two Keras tensors -> the row Keras itself uses for them
OPERATORS = {"+": "Add", "-": "Subtract", "*": "Multiply"}

__all__ = ["FUNCTIONS", "MERGES", "MergeSpec", "OPERATORS"]
