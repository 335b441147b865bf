"""Converters for the nodes ``shape_ops.mark`` moved to tfpt's domains: shapes as Python values.

A shape value at run time is a Python int or ``torch.SymInt`` (an ONNX scalar) or a
list of them (a 1-D ONNX tensor). Under ``torch.export`` the batch size is a
``SymInt``, so ``Reshape(x, [batch, 288])`` traces as ``x.reshape(s0, 288)`` with
no data-dependent read. Constant operands are read once, at conversion time. Integer
``Div`` floors, which equals ONNX's truncation on sizes (never negative).
"""

from __future__ import annotations

import operator
from typing import Any, Callable

import torch
import torch.nn.functional as F
from onnx import TensorProto
from onnx2torch.node_converters.registry import add_converter
from onnx2torch.onnx_graph import OnnxGraph
from onnx2torch.onnx_node import OnnxNode
from onnx2torch.utils.common import OnnxMapping, OnnxToTorchModule, OperationConverterResult, get_const_value
from torch import nn

from ..shape_ops import CONSUMER_DOMAIN, CONSUMERS, LIST_DOMAIN, LIST_OPS

_INT_TYPES = {TensorProto.INT8, TensorProto.INT16, TensorProto.INT32, TensorProto.INT64, TensorProto.UINT8,
              TensorProto.UINT16, TensorProto.UINT32, TensorProto.UINT64}
_FLOAT_TYPES = {TensorProto.FLOAT, TensorProto.DOUBLE, TensorProto.FLOAT16, TensorProto.BFLOAT16}

Op = Callable[[list[Any], dict[str, Any]], Any]


class ShapeOp(nn.Module, OnnxToTorchModule):
    """One marked node: constants baked into ``template``, the rest arrive as ``forward`` arguments."""

    def __init__(self, op_type: str, fn: Op, attrs: dict[str, Any], template: list[tuple[str, Any]]):
        super().__init__()
        self.op_type = op_type
        self.fn = fn
        self.attrs = attrs
        self.template = template  # ("const", value) | ("arg", None) | ("none", None) per ONNX input

    def forward(self, *args: Any) -> Any:
        given = iter(args)
        values = [value if kind == "const" else next(given) if kind == "arg" else None
                  for kind, value in self.template]
        return self.fn(values, self.attrs)

    def extra_repr(self) -> str:
        return self.op_type


# --------------------------------------------------------------------------- list ops


def _map2(a: Any, b: Any, f: Callable[[Any, Any], Any]) -> Any:
    """Numpy broadcasting for a scalar or a list against a scalar or a list."""
    if isinstance(a, list) and isinstance(b, list):
        if len(a) == 1 or len(b) == 1:
            a, b = a * max(len(a), len(b)), b * max(len(a), len(b))
        return [f(x, y) for x, y in zip(a, b)]
    if isinstance(a, list):
        return [f(x, b) for x in a]
    if isinstance(b, list):
        return [f(a, y) for y in b]
    return f(a, b)


def _div(a: Any, b: Any) -> Any:
    if isinstance(a, float) or isinstance(b, float) or isinstance(a, torch.SymFloat) or isinstance(b, torch.SymFloat):
        return a / b
    return a // b


def _cast_scalar(x: Any, to: int) -> Any:
    if to in _INT_TYPES:
        return x if isinstance(x, (int, torch.SymInt)) else torch.sym_int(x)
    if to in _FLOAT_TYPES:
        return x if isinstance(x, (float, torch.SymFloat)) else torch.sym_float(x)
    if to == TensorProto.BOOL:
        return x != 0
    raise NotImplementedError(f"Cast of a shape to ONNX type {to}")


def _cast(v: list, a: dict) -> Any:
    x = v[0]
    return [_cast_scalar(e, a["to"]) for e in x] if isinstance(x, list) else _cast_scalar(x, a["to"])


def _gather(v: list, a: dict) -> Any:
    data, index = v[0], v[1]
    if a.get("axis", 0) != 0:
        raise NotImplementedError("Gather on a shape along an axis other than 0")
    return [data[i] for i in index] if isinstance(index, list) else data[index]


def _slice_list(v: list, a: dict) -> list:
    data, starts, ends = v[0], v[1], v[2]
    axes, steps = v[3] if len(v) > 3 else None, v[4] if len(v) > 4 else None
    if axes not in (None, [0], [-1]):
        raise NotImplementedError("Slice of a shape along an axis other than 0")
    return data[slice(starts[0], ends[0], steps[0] if steps else 1)]


def _unsqueeze_list(v: list, a: dict) -> list:
    if isinstance(v[0], list):
        raise NotImplementedError("Unsqueeze of a 1-D shape")
    return [v[0]]


def _squeeze_list(v: list, a: dict) -> Any:
    if not isinstance(v[0], list) or len(v[0]) != 1:
        raise NotImplementedError("Squeeze of a shape with more than one element")
    return v[0][0]


def _variadic(f: Callable[[Any, Any], Any]) -> Op:
    def apply(v: list, a: dict) -> Any:
        result = v[0]
        for other in v[1:]:
            result = _map2(result, other, f)
        return result

    return apply


def _concat(v: list, a: dict) -> list:
    return [e for part in v for e in (part if isinstance(part, list) else [part])]


def _shape(v: list, a: dict) -> list:
    return list(v[0].shape)[a.get("start", 0):a.get("end", None)]


_LIST_FNS: dict[str, Op] = {
    "Shape": _shape,
    "Cast": _cast,
    "Gather": _gather,
    "Slice": _slice_list,
    "Concat": _concat,
    "Unsqueeze": _unsqueeze_list,
    "Squeeze": _squeeze_list,
    "Identity": lambda v, a: v[0],
    "Add": _variadic(operator.add),
    "Sub": _variadic(operator.sub),
    "Mul": _variadic(operator.mul),
    "Div": _variadic(_div),
    "Max": _variadic(lambda x, y: torch.sym_max(x, y)),
    "Min": _variadic(lambda x, y: torch.sym_min(x, y)),
    "Less": _variadic(operator.lt),
    "Greater": _variadic(operator.gt),
    "Equal": _variadic(operator.eq),
    "LessOrEqual": _variadic(operator.le),
    "GreaterOrEqual": _variadic(operator.ge),
    "And": _variadic(lambda x, y: bool(x) and bool(y)),
    "Or": _variadic(lambda x, y: bool(x) or bool(y)),
    "Not": lambda v, a: [not e for e in v[0]] if isinstance(v[0], list) else not v[0],
}


# --------------------------------------------------------------------------- consumers (tensor results)


def _is_literal(x: Any, value: int) -> bool:
    """Compare only plain ints: a SymInt comparison would add a guard on the batch size."""
    return isinstance(x, int) and x == value


def _reshape(v: list, a: dict) -> torch.Tensor:
    x, shape = v[0], v[1]
    shape = shape if isinstance(shape, list) else [shape]
    if not a.get("allowzero", 0):
        shape = [x.shape[i] if _is_literal(d, 0) else d for i, d in enumerate(shape)]
    return x.reshape(shape)


def _expand(v: list, a: dict) -> torch.Tensor:
    x, shape = v[0], list(v[1])
    sizes = list(x.shape)
    rank = max(len(sizes), len(shape))
    sizes, shape = [1] * (rank - len(sizes)) + sizes, [1] * (rank - len(shape)) + shape
    target = [s if _is_literal(t, 1) else t for s, t in zip(sizes, shape)]
    return x.reshape([1] * (rank - x.dim()) + list(x.shape)).expand(target).contiguous()


def _tile(v: list, a: dict) -> torch.Tensor:
    return v[0].repeat(v[1])


def _constant_of_shape(v: list, a: dict) -> torch.Tensor:
    value, dtype = a.get("value", (0.0, torch.float32))
    return torch.full(v[0], value, dtype=dtype)


def _slice_tensor(v: list, a: dict) -> torch.Tensor:
    x, starts, ends = v[0], v[1], v[2]
    axes = v[3] if len(v) > 3 and v[3] is not None else list(range(len(starts)))
    steps = v[4] if len(v) > 4 and v[4] is not None else [1] * len(starts)
    index: list[Any] = [slice(None)] * x.dim()
    for start, end, axis, step in zip(starts, ends, axes, steps):
        index[axis % x.dim()] = slice(start, end, step)
    return x[tuple(index)]


def _squeeze_tensor(v: list, a: dict) -> torch.Tensor:
    axes = v[1] if len(v) > 1 and v[1] is not None else None
    return torch.squeeze(v[0]) if axes is None else torch.squeeze(v[0], dim=tuple(axes))


def _unsqueeze_tensor(v: list, a: dict) -> torch.Tensor:
    x, axes = v[0], v[1]
    rank = x.dim() + len(axes)
    for axis in sorted(ax % rank for ax in axes):
        x = x.unsqueeze(axis)
    return x


def _pad(v: list, a: dict) -> torch.Tensor:
    x, pads = v[0], v[1]
    value = v[2] if len(v) > 2 and v[2] is not None else 0
    axes = v[3] if len(v) > 3 and v[3] is not None else list(range(x.dim()))
    n = len(axes)
    per_axis = {ax % x.dim(): (pads[i], pads[i + n]) for i, ax in enumerate(axes)}
    torch_pads: list[Any] = []  # F.pad goes from the last axis backwards
    for axis in range(x.dim() - 1, min(per_axis, default=x.dim()) - 1, -1):
        torch_pads += list(per_axis.get(axis, (0, 0)))
    return F.pad(x, torch_pads, mode="constant", value=value)


def _gather_tensor(v: list, a: dict) -> torch.Tensor:
    x, index, axis = v[0], v[1], a.get("axis", 0)
    if isinstance(index, list):
        return torch.stack([x.select(axis, i) for i in index], dim=axis % x.dim())
    return x.select(axis, index)


_CONSUMER_FNS: dict[str, Op] = {
    "Gather": _gather_tensor,
    "Reshape": _reshape,
    "Expand": _expand,
    "Tile": _tile,
    "ConstantOfShape": _constant_of_shape,
    "Slice": _slice_tensor,
    "Squeeze": _squeeze_tensor,
    "Unsqueeze": _unsqueeze_tensor,
    "Pad": _pad,
}


# --------------------------------------------------------------------------- registration


def _const(name: str, graph: OnnxGraph) -> Any | None:
    try:
        value = get_const_value(name, graph)
    except KeyError:
        return None
    return value.tolist() if isinstance(value, torch.Tensor) else value


def _shape_op(node: OnnxNode, graph: OnnxGraph, fn: Op, baked: set[int] | None) -> OperationConverterResult:
    """``baked``: the positions whose constants become Python values (``None``: all of them)."""
    template, mapped = [], []
    for position, name in enumerate(node.input_values):
        value = _const(name, graph) if name and (baked is None or position in baked) else None
        if not name:
            template.append(("none", None))
        elif value is not None:
            template.append(("const", value))
        else:
            template.append(("arg", None))
            mapped.append(name)
    attrs = dict(node.attributes)
    if "value" in attrs:  # ConstantOfShape: a tensor attribute, read once here
        tensor = attrs["value"].to_torch()
        attrs["value"] = (tensor.reshape(()).item(), tensor.dtype)
    module = ShapeOp(node.operation_type, fn, attrs, template)
    return OperationConverterResult(torch_module=module,
                                    onnx_mapping=OnnxMapping(inputs=tuple(mapped), outputs=node.output_values))


def convert_list_op(node: OnnxNode, graph: OnnxGraph) -> OperationConverterResult:
    return _shape_op(node, graph, _LIST_FNS[node.operation_type], baked=None)


def convert_consumer(node: OnnxNode, graph: OnnxGraph) -> OperationConverterResult:
    return _shape_op(node, graph, _CONSUMER_FNS[node.operation_type], baked=CONSUMERS[node.operation_type])


for _op in sorted(LIST_OPS):
    add_converter(operation_type=_op, version=1, domain=LIST_DOMAIN)(convert_list_op)
for _op in sorted(CONSUMERS):
    add_converter(operation_type=_op, version=1, domain=CONSUMER_DOMAIN)(convert_consumer)
