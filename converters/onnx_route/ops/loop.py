"""ONNX ``Loop`` (tf2onnx's form of Keras ``GRU``, ``SimpleRNN`` and other while loops) -> a module.

The body subgraph becomes its own onnx2torch module (so every op in it goes through
the same registry, nested loops included), called once per iteration from Python.
When the number of iterations is fixed by the graph (``onnx_consts.analyse_loop``:
a Keras RNN over a sequence of fixed length), the module runs exactly that many and
``torch.export`` unrolls them into one static graph; the batch axis stays free. The
values that decide when to stop (the time step, which also indexes the sequence) then
run as Python ints, so each unrolled step reads ``x[t]`` with a constant ``t``.
Otherwise the module still runs eagerly, reading the trip count and condition at run
time, but cannot be exported.
"""

from __future__ import annotations

import contextlib
import contextvars
from typing import Any, Iterable

import numpy as np
import onnx
import onnx2torch
import torch
from onnx import helper
from onnx2torch.onnx_graph import OnnxGraph
from onnx2torch.onnx_node import OnnxNode
from onnx2torch.utils.common import OnnxMapping, OnnxToTorchModule, OperationConverterResult
from torch import nn

from ..keras_export import OPSET
from .. import shape_ops
from ..onnx_consts import NotConstant, analyse_loop, free_names
from .registry import converter

#: the opset of the model being converted: a body is converted as a model of its own,
#: and a converter is not told the opset (set by ``model_opset``; the fallback is the
#: opset tfpt exports Keras models in)
_OPSET: contextvars.ContextVar[int | None] = contextvars.ContextVar("tfpt_onnx_opset", default=None)


@contextlib.contextmanager
def model_opset(opset: int):
    """Tell the Loop converter which opset the bodies of the model at hand use."""
    token = _OPSET.set(opset)
    try:
        yield
    finally:
        _OPSET.reset(token)


class OnnxLoop(nn.Module, OnnxToTorchModule):
    """``forward(*carried, *outer[, max_trip_count, cond])`` -> ``(*final carried, *stacked scans)``.

    ``scalars`` (static trip count only): the body takes the iteration number, the
    condition and the carried values indexed here as Python scalars (their initial
    values are stored here), so that ``torch.export`` sees constant time steps.
    """

    def __init__(self, body: nn.Module, n_carried: int, n_scan: int, trip_count: int | None,
                 has_limit: bool, has_cond: bool, scalars: dict[int, tuple[Any, torch.dtype]] | None):
        super().__init__()
        self.body = body
        self.n_carried = n_carried
        self.n_scan = n_scan
        self.trip_count = trip_count
        self.has_limit = has_limit
        self.has_cond = has_cond
        self.scalars = scalars

    def forward(self, *values: torch.Tensor) -> tuple[torch.Tensor, ...]:
        carried: list[Any] = list(values[:self.n_carried])
        rest = list(values[self.n_carried:])
        cond, limit = [rest.pop() if flag else None for flag in (self.has_cond, self.has_limit)]
        outer = rest
        scans: list[list[torch.Tensor]] = [[] for _ in range(self.n_scan)]
        keep_going: Any = torch.ones((), dtype=torch.bool) if self.scalars is None else True
        if cond is not None:
            keep_going = cond.reshape(()).to(torch.bool)
        for index, (value, _) in (self.scalars or {}).items():
            carried[index] = value
        iteration = 0
        while self._runs(iteration, limit, keep_going):
            counter = iteration if self.scalars is not None else torch.tensor(iteration, dtype=torch.int64)
            outs = self.body(counter, keep_going, *carried, *outer)
            outs = outs if isinstance(outs, (tuple, list)) else (outs,)
            keep_going = outs[0] if self.scalars is not None else outs[0].reshape(()).to(torch.bool)
            carried = list(outs[1:1 + self.n_carried])
            for scan, value in zip(scans, outs[1 + self.n_carried:]):
                scan.append(value)
            iteration += 1
        if any(not scan for scan in scans):
            raise RuntimeError("Loop ran no iteration, so its scan outputs have no shape")
        for index, (_, dtype) in (self.scalars or {}).items():
            carried[index] = torch.tensor(carried[index], dtype=dtype)
        return (*carried, *[torch.stack(scan) for scan in scans])

    def _runs(self, iteration: int, limit: torch.Tensor | None, keep_going: Any) -> bool:
        if self.trip_count is not None:
            return iteration < self.trip_count
        if limit is not None and iteration >= int(limit):
            return False
        return bool(keep_going)


def _body_model(node: OnnxNode, graph: OnnxGraph, opset: int,
                scalar_carried: Iterable[int] | None) -> tuple[onnx.ModelProto, list[str]]:
    """The body as a model of its own: enclosing-scope values become extra inputs, outputs get Identities.

    onnx2torch reads a model's outputs as node outputs, so a body output that is a
    body input (a weight passed through unchanged) or repeats another needs its own
    node. Its shape nodes are marked here (``shape_ops``), with the iteration number,
    the condition and ``scalar_carried`` as Python scalars unless that is ``None``.
    """
    body = node.attributes["body"].g
    outer = free_names(body)
    inputs = list(body.input) + [_value_info(name, graph) for name in outer]
    renamed = [f"__tfpt_loop_out_{k}" for k in range(len(body.output))]
    nodes = list(body.node) + [helper.make_node("Identity", [o.name], [r]) for o, r in zip(body.output, renamed)]
    outputs = [helper.make_value_info(r, o.type) for o, r in zip(body.output, renamed)]
    sub = helper.make_graph(nodes, body.name or "loop_body", inputs, outputs, list(body.initializer),
                            value_info=list(body.value_info))
    model = helper.make_model(sub, opset_imports=[helper.make_opsetid("", opset)])
    if scalar_carried is None:
        shape_ops.mark(model)
    else:
        names = [i.name for i in body.input]
        shape_ops.mark(model, frozenset([names[0], names[1], *(names[2 + j] for j in scalar_carried)]),
                       frozenset([renamed[0], *(renamed[1 + j] for j in scalar_carried)]))
    return model, outer


def _value_info(name: str, graph: OnnxGraph) -> onnx.ValueInfoProto:
    if name in graph.value_info:
        return graph.value_info[name]
    if name in graph.initializers:
        tensor = graph.initializers[name].proto
        return helper.make_tensor_value_info(name, tensor.data_type, list(tensor.dims))
    return helper.make_empty_tensor_value_info(name)


@converter("Loop", first=1)
def convert_loop(node: OnnxNode, graph: OnnxGraph) -> OperationConverterResult:
    """Convert the body with onnx2torch, and fix the trip count when the graph determines it."""
    opset = _OPSET.get() or OPSET
    body = node.attributes["body"].g
    m_name, cond_name, *carried = list(node.input_values) + [""] * max(0, 2 - len(node.input_values))
    n_scan = len(body.output) - 1 - len(carried)
    try:
        trip_count, stop_state = analyse_loop(node.proto, graph.proto, opset)
    except NotConstant:
        trip_count, stop_state = None, None
    scalars = None
    if stop_state is not None:
        try:
            model, outer = _body_model(node, graph, opset, scalar_carried=sorted(stop_state))
            scalars = {j: (np.asarray(v).tolist(), torch.from_numpy(np.array(v)).dtype)
                       for j, v in stop_state.items()}
        except shape_ops.ScalarsNotKept:
            scalars = None
    if scalars is None:
        model, outer = _body_model(node, graph, opset, scalar_carried=None)
    body_module = onnx2torch.convert(model)
    dynamic = [] if trip_count is not None else [n for n in (m_name, cond_name) if n]
    module = OnnxLoop(body_module, len(carried), n_scan, trip_count,
                      has_limit=trip_count is None and bool(m_name), has_cond=trip_count is None and bool(cond_name),
                      scalars=scalars)
    return OperationConverterResult(
        torch_module=module,
        # popped from the end in forward: cond last, then the limit
        onnx_mapping=OnnxMapping(inputs=(*carried, *outer, *dynamic), outputs=node.output_values),
    )
