"""``tf2onnx.convert.from_function``, rebuilt so that memory stays a small multiple of the weights.

TensorFlow only. The steps are tf2onnx's own (freeze, grappler, ``process_tf_graph``,
its ONNX optimizers, ``make_model``); what changes is where the weights travel. On
tf2onnx 1.17 a 200 MB model peaked at 10 GB in ``from_function`` (about 45x), because

* freezing rebuilt and re-serialised the graph several times, and grappler copied
  every constant again (about 20x the weights at its peak);
* ``optimize_graph`` deep-copied the whole graph, weights included, before each of its
  twelve optimizers per pass, to roll back a failing one;
* each optimizer's ``update_proto`` copied every constant into its node's protobuf,
  whose arena keeps the old copy: one more copy of all weights per optimizer run.

Here constants larger than ``tf_utils.compress_graph_def``'s threshold leave the
TensorFlow graph right after freezing (tf2onnx's large-model freezing, which builds
one graph_def) and come back only when tf2onnx builds its ONNX graph; grappler sees
them as placeholders of the same shape, so it folds what it folded before except
arithmetic on weights, which tf2onnx's own constant folding still does. The optimizers
run on cheap snapshots that share the large tensors, with the protobuf sync left to
``make_model``; and ``make_model`` writes stubs for large tensors, filled in once at
the end. Peak: a few times the weights.
"""

from __future__ import annotations

import copy
import gc
from typing import NamedTuple

import onnx
import tensorflow as tf
from onnx import AttributeProto, TensorProto
from tf2onnx import logging, optimizer, tf_loader, tf_utils
from tf2onnx.convert import tensor_names_from_structed
from tf2onnx.tfonnx import process_tf_graph

#: tensors with more elements than this are shared between optimizer snapshots and
#: written to the model once (tf2onnx's own threshold for external tensors)
LARGE_ELEMENTS = 1024
_STUB_PREFIX = "tfpt-weight:"

logger = logging.getLogger(__name__)


class Frozen(NamedTuple):
    """A frozen ``tf.function``: its graph with the large constants' contents set aside."""

    name: str
    graph_def: object  # GraphDef, large constants emptied
    const_values: dict  # node name -> tensor_content of each emptied constant
    input_names: list
    output_names: list
    renames: dict


def freeze(function, input_signature) -> Frozen:
    """Variables to constants; holds no reference to the model, which the caller may free now."""
    concrete = function.get_concrete_function(*input_signature)
    input_names = [t.name for t in concrete.inputs if t.dtype != tf.dtypes.resource]
    output_names = [t.name for t in concrete.outputs if t.dtype != tf.dtypes.resource]
    renames = tensor_names_from_structed(concrete, input_names, output_names)
    with tf.device("/cpu:0"):
        graph_def = tf_loader.fix_freezing_errors_part2(tf_loader.convert_variables_to_constants_large_model(concrete))
    const_values = tf_utils.compress_graph_def(graph_def)  # name -> tensor_content, emptied in graph_def
    # a cleared field keeps its bytes in the message's arena: reparse to let them go
    graph_def = type(graph_def).FromString(graph_def.SerializeToString())
    return Frozen(function.__name__, graph_def, const_values, input_names, output_names, renames)


def to_onnx(frozen: Frozen, opset: int) -> onnx.ModelProto:
    """What ``tf2onnx.convert.from_function(function, input_signature, opset=opset)`` returns, leaner."""
    with tf.device("/cpu:0"):
        graph_def = _grappler(frozen.graph_def, frozen.const_values, frozen.input_names, frozen.output_names)
        with tf.Graph().as_default() as tf_graph:
            tf.import_graph_def(graph_def, name="")
            del graph_def
            g = process_tf_graph(tf_graph, continue_on_error=True, opset=opset, input_names=frozen.input_names,
                                 output_names=frozen.output_names, const_node_values=frozen.const_values,
                                 tensors_to_rename=frozen.renames)
        del tf_graph
        frozen.const_values.clear()
        _compact(g)
        g = _optimize(g)
        return _make_model(g, f"converted from {frozen.name}")


def _grappler(graph_def, const_values: dict, input_names: list[str], output_names: list[str]):
    """tf2onnx's grappler pass, with the emptied constants standing in as placeholders of their shape."""
    swapped = {}
    for node in graph_def.node:
        if node.name in const_values and node.op == "Const":
            value = node.attr["value"].tensor
            swapped[node.name] = (value.dtype, tf.TensorShape(value.tensor_shape))
            node.op = "Placeholder"
            node.ClearField("attr")
            node.attr["dtype"].type = swapped[node.name][0]
            node.attr["shape"].shape.CopyFrom(swapped[node.name][1].as_proto())
    with tf.Graph().as_default():  # grappler's meta-graph export needs graph mode
        graph_def = tf_loader.tf_optimize(input_names, output_names, graph_def)
    for node in graph_def.node:
        if node.name in swapped and node.op == "Placeholder":
            dtype, shape = swapped[node.name]
            node.op = "Const"
            node.ClearField("attr")
            node.attr["dtype"].type = dtype
            node.attr["value"].tensor.dtype = dtype
            node.attr["value"].tensor.tensor_shape.CopyFrom(shape.as_proto())
    return graph_def


def _nodes(graph):
    for node in graph.get_nodes():
        yield node
        for body in (node.get_body_graphs() or {}).values():
            yield from _nodes(body)


def _large_value(node) -> AttributeProto | None:
    value = node.get_attr("value") if node.is_const() else None
    if value is None or value.type != AttributeProto.TENSOR:
        return None
    count = 1
    for d in value.t.dims:
        count *= d
    return value if count > LARGE_ELEMENTS else None


def _compact(graph) -> None:
    """Give each large constant's node a protobuf of its own again.

    ``process_tf_graph`` ends with ``update_proto``, which copies every constant into
    its node's ``NodeProto``; the old copy stays in that message's arena, still read
    through the node's attribute dict. A fresh copy of the message, re-pointed to by
    the node, lets both old ones go: one tensor's worth of memory at a time.
    """
    for node in list(_nodes(graph)):
        if _large_value(node) is not None:
            fresh = onnx.NodeProto()
            fresh.CopyFrom(node.op)
            node._op = fresh  # noqa: SLF001 - tf2onnx's Node keeps its proto and attributes here
            node._attr = {a.name: a for a in fresh.attribute}  # noqa: SLF001


def _snapshot(graph):
    """A deep copy sharing the large constants' protobufs (optimizers replace those, never edit them)."""
    memo = {}
    for node in _nodes(graph):
        if _large_value(node) is not None:
            memo[id(node.op)] = node.op
            memo[id(node.get_attr("value"))] = node.get_attr("value")
    return copy.deepcopy(graph, memo)


def _optimize(graph):
    """``tf2onnx.optimizer.optimize_graph`` with its error recovery, minus the per-optimizer copies."""
    graph.update_proto = lambda external_tensor_storage=None: None  # synced once, by make_model
    iteration, again = 0, True
    while again:
        again = False
        for name, factory in optimizer._get_optimizers().items():
            current = _snapshot(graph)
            try:
                opt = factory()
                graph = opt.optimize(current, iteration) or graph
                again = again or opt.graph_been_opt
            except Exception:  # noqa: BLE001 - tf2onnx skips an optimizer that fails, so do we
                logger.warning("Failed to apply %s", name, exc_info=1)
            del current  # shares the large tensors: what it alone holds is small
        iteration += 1
    vars(graph).pop("update_proto", None)
    graph.topological_sort(graph.get_nodes())
    return graph


class _Stubs:
    """The part of tf2onnx's ``ExternalTensorStorage`` that ``Graph.make_model`` reads.

    Every node with a tensor ``value`` attribute maps to the attribute to write: its own,
    or for a large constant a stub whose external location indexes ``tensors``.
    """

    external_tensor_size_threshold = LARGE_ELEMENTS

    def __init__(self, graph):
        self.name_to_tensor_data: dict = {}
        self.name_counter = 0
        self.node_to_modified_value_attr = {}
        self.tensors: list[TensorProto] = []
        for node in _nodes(graph):
            value = node.get_attr("value")
            if value is None or value.type != AttributeProto.TENSOR:
                continue
            if _large_value(node) is None:
                self.node_to_modified_value_attr[node] = value
                continue
            stub = TensorProto(name=value.t.name, dims=value.t.dims, data_type=value.t.data_type,
                               data_location=TensorProto.EXTERNAL)
            stub.external_data.add(key="location", value=f"{_STUB_PREFIX}{len(self.tensors)}")
            self.tensors.append(value.t)
            self.node_to_modified_value_attr[node] = onnx.helper.make_attribute("value", stub)


def _make_model(graph, doc: str) -> onnx.ModelProto:
    stubs = _Stubs(graph)
    model = graph.make_model(doc, external_tensor_storage=stubs)
    tensors = stubs.tensors
    del stubs, graph
    gc.collect()  # tf2onnx's nodes and graphs reference each other: only the collector frees them
    for tensor in _graph_tensors(model.graph):
        if tensor.data_location == TensorProto.EXTERNAL and tensor.external_data \
                and tensor.external_data[0].value.startswith(_STUB_PREFIX):
            index = int(tensor.external_data[0].value[len(_STUB_PREFIX):])
            name = tensor.name
            tensor.CopyFrom(tensors[index])
            tensor.name = name
            tensors[index] = None  # the last reference to its node's protobuf: freed now
    return model


def _graph_tensors(graph):
    yield from graph.initializer
    for node in graph.node:
        for attr in node.attribute:
            if attr.type == AttributeProto.TENSOR:
                yield attr.t
            for sub in [attr.g] if attr.type == AttributeProto.GRAPH else list(attr.graphs):
                yield from _graph_tensors(sub)
