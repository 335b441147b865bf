"""ONNX-to-ONNX rewrites that put a graph in a form onnx2torch converts. Pure onnx, no torch.

``prepare`` runs them all: the ConvTranspose split below, then ``shape_ops.mark``.

``ConvTranspose`` with different padding at the two ends of an axis (Keras
``Conv2DTranspose(padding="same")`` with an even stride: tf2onnx writes
``pads=[0, 0, 1, 1]``) has no ``nn.ConvTranspose2d`` equivalent, and onnx2torch
refuses it. The rewrite drops the pads and crops the full output with a ``Slice``,
which is what transposed-convolution padding means. onnx2torch already registers a
ConvTranspose converter (one per version allowed), hence a rewrite, not a converter.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import GraphProto, helper, numpy_helper

from . import shape_ops

_INT64_MAX = np.iinfo(np.int64).max
#: initializers with more elements than this are weights: shape inference sees only their type
LARGE_ELEMENTS = 1024


def prepare(model: onnx.ModelProto) -> dict[str, int]:
    """Apply every rewrite to ``model`` in place (subgraphs included); returns counts per rewrite.

    The result is for onnx2torch only: the shape nodes move to tfpt's domains, which
    no ONNX runtime knows.
    """
    counts = {"conv_transpose_pads": _rewrite_graphs(model.graph, _split_conv_transpose_pads)}
    infer_value_info(model)  # before marking: unknown domains stop inference
    counts["shape_nodes"] = shape_ops.mark(model)
    return counts


def infer_value_info(model: onnx.ModelProto) -> onnx.ModelProto:
    """``onnx.shape_inference.infer_shapes`` in place, without copying the weights; returns ``model``."""
    inferred = onnx.shape_inference.infer_shapes(_light(model))
    model.graph.ClearField("value_info")
    model.graph.value_info.extend(inferred.graph.value_info)
    return model


def _light(model: onnx.ModelProto) -> onnx.ModelProto:
    """``model`` for shape inference: initializers of more than ``LARGE_ELEMENTS`` become typed inputs.

    Inference only needs their types and shapes; passing the model itself would copy
    every weight three times (serialise, C++ parse, and back).
    """
    graph = model.graph
    light = onnx.ModelProto(ir_version=model.ir_version)
    light.opset_import.extend(model.opset_import)
    light.functions.extend(model.functions)
    light.graph.node.extend(graph.node)
    light.graph.sparse_initializer.extend(graph.sparse_initializer)
    light.graph.input.extend(graph.input)
    light.graph.output.extend(graph.output)
    light.graph.value_info.extend(graph.value_info)
    declared = {i.name for i in graph.input}
    for init in graph.initializer:
        if int(np.prod(init.dims, dtype=np.int64)) <= LARGE_ELEMENTS:
            light.graph.initializer.append(init)
        elif init.name not in declared:
            light.graph.input.append(helper.make_tensor_value_info(init.name, init.data_type, list(init.dims)))
    return light


def _rewrite_graphs(graph: GraphProto, rewrite) -> int:
    count = rewrite(graph)
    for node in graph.node:
        for attr in node.attribute:
            if attr.type == onnx.AttributeProto.GRAPH:
                count += _rewrite_graphs(attr.g, rewrite)
            for sub in attr.graphs:
                count += _rewrite_graphs(sub, rewrite)
    return count


def _split_conv_transpose_pads(graph: GraphProto) -> int:
    nodes, count = [], 0
    for node in graph.node:
        nodes.append(node)
        attrs = {a.name: a for a in node.attribute}
        if node.op_type != "ConvTranspose" or "pads" not in attrs or "output_shape" in attrs:
            continue
        auto_pad = helper.get_attribute_value(attrs["auto_pad"]) if "auto_pad" in attrs else b"NOTSET"
        pads = list(attrs["pads"].ints)
        rank = len(pads) // 2
        begins, ends = pads[:rank], pads[rank:]
        if auto_pad not in (b"NOTSET", "NOTSET") or begins == ends:
            continue
        node.attribute.remove(attrs["pads"])
        full = f"{node.output[0]}__tfpt_unpadded"
        cropped = node.output[0]
        node.output[0] = full
        prefix = f"{node.name or cropped}__tfpt_crop"
        graph.initializer.extend([
            numpy_helper.from_array(np.array(begins, dtype=np.int64), f"{prefix}_starts"),
            numpy_helper.from_array(np.array([-e if e else _INT64_MAX for e in ends], dtype=np.int64),
                                    f"{prefix}_ends"),
            numpy_helper.from_array(np.arange(2, 2 + rank, dtype=np.int64), f"{prefix}_axes"),
        ])
        nodes.append(helper.make_node("Slice", [full, f"{prefix}_starts", f"{prefix}_ends", f"{prefix}_axes"],
                                      [cropped], name=prefix))
        count += 1
    if count:
        del graph.node[:]
        graph.node.extend(nodes)
    return count
