"""Mark the ONNX nodes that compute shapes, so they convert to Python arithmetic on sizes.

tf2onnx writes Keras' shape logic as tensor ops: ``Flatten`` is
``Reshape(x, Concat(Slice(Shape(x)), [-1]))``, an RNN's zero state is
``Expand(0, Concat(Slice(Shape(x)), [units]))``, and fixed slices read their bounds
from initializers. onnx2torch keeps all of these as tensors and reads them back
into Python (``.tolist()``, ``.numpy()``), which ``torch.export`` cannot trace once
the batch axis is symbolic. This pass moves such nodes to tfpt domains
(``LIST_DOMAIN`` for list ops, ``CONSUMER_DOMAIN`` for consumers), whose converters
(``ops.shapes``) carry shapes as Python lists of ints and torch ``SymInt``s, and bake
constant operands in at conversion time.

A node is marked when it is
* a *list op* (``LIST_OPS``): every operand is a constant or a marked list op's
  result (``Shape`` needs none), and every use of its result can take a list; or
* a *consumer* (``CONSUMERS``): its data operand is a tensor and each operand at a
  shape position is a constant or a marked list op's result.
Results that leave the graph, or are read by a subgraph, stay tensors. A Loop body
is marked by the Loop converter (``ops.loop``), which may declare some of the body's
inputs and outputs *scalars*: Python values (the iteration counter, the time step
that indexes the sequence), so that ``x[t]`` traces with a constant ``t``.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import GraphProto, NodeProto, helper, numpy_helper

from .onnx_consts import free_names

#: no dots: onnx2torch names each module "<domain>/<node>", and torch refuses dots
LIST_DOMAIN = "tfpt_shape_lists"
CONSUMER_DOMAIN = "tfpt_shape_consumers"
#: constants larger than this stay tensors (they are data, not shapes)
MAX_CONST_SIZE = 64

#: ops on shape lists (1-D int lists or scalars); ``Shape`` reads a tensor's size
LIST_OPS = {"Shape", "Cast", "Gather", "Slice", "Concat", "Unsqueeze", "Squeeze", "Identity",
            "Add", "Sub", "Mul", "Div", "Max", "Min",
            "Less", "Greater", "Equal", "LessOrEqual", "GreaterOrEqual", "And", "Or", "Not"}
#: ops taking a tensor and shape operands at these positions
CONSUMERS = {
    "Reshape": {1}, "Expand": {1}, "Tile": {1}, "ConstantOfShape": {0}, "Slice": {1, 2, 3, 4},
    "Squeeze": {1}, "Unsqueeze": {1}, "Pad": {1, 2, 3}, "Gather": {1},
}
#: op types where the first operand decides list mode (a list) or consumer mode (a tensor)
_DATA_FIRST = {"Slice", "Squeeze", "Unsqueeze", "Gather"}


class ScalarsNotKept(Exception):
    """A declared scalar input is used where only a tensor will do (or a scalar output is computed so)."""


def mark(model: onnx.ModelProto, scalar_inputs: frozenset[str] = frozenset(),
         scalar_outputs: frozenset[str] = frozenset()) -> int:
    """Move shape nodes of ``model``'s main graph to tfpt's domains; returns how many.

    With ``scalar_inputs``/``scalar_outputs`` (graph input and output names), those
    values are Python scalars; ``ScalarsNotKept`` (and nothing marked) if that cannot hold.
    """
    count = _mark_graph(model.graph, scalar_inputs, scalar_outputs)
    declare_domains(model)
    return count


def declare_domains(model: onnx.ModelProto) -> None:
    """onnx2torch looks converters up by the model's opset for each node's domain."""
    known = {o.domain for o in model.opset_import}
    model.opset_import.extend(helper.make_opsetid(d, 1) for d in (LIST_DOMAIN, CONSUMER_DOMAIN) if d not in known)


def _constants(graph: GraphProto) -> dict[str, np.ndarray]:
    values = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    for node in graph.node:
        if node.op_type == "Constant" and node.domain == "" and len(node.attribute) == 1 \
                and node.attribute[0].name == "value":
            values[node.output[0]] = numpy_helper.to_array(node.attribute[0].t)
    return {k: v for k, v in values.items() if v.size <= MAX_CONST_SIZE and v.ndim <= 1
            and v.dtype.kind in "biuf"}


def _mark_graph(graph: GraphProto, scalar_inputs: frozenset[str], scalar_outputs: frozenset[str]) -> int:
    count = 0
    consts = _constants(graph)
    uses: dict[str, list[tuple[NodeProto, int]]] = {}
    external = {o.name for o in graph.output} - scalar_outputs
    for node in graph.node:
        for index, name in enumerate(node.input):
            uses.setdefault(name, []).append((node, index))
        for attr in node.attribute:
            for sub in ([attr.g] if attr.type == onnx.AttributeProto.GRAPH else list(attr.graphs)):
                external.update(free_names(sub))

    nodes = [n for n in graph.node if n.domain == "" and (n.op_type in LIST_OPS or n.op_type in CONSUMERS)]
    lists: set[int] = set()  # ids of nodes in list mode
    consumers: set[int] = set()  # ids of nodes in consumer mode
    producer = {out: node for node in graph.node for out in node.output}

    def is_list(name: str) -> bool:
        return name in producer and id(producer[name]) in lists

    def shapeish(name: str) -> bool:
        return name == "" or name in consts or name in scalar_inputs or is_list(name)

    for node in nodes:  # optimistic pass in topological order, pruned below
        data_is_list = shapeish(node.input[0]) if node.input else False
        if node.op_type == "Shape" or (node.op_type in LIST_OPS and all(shapeish(v) for v in node.input)
                                       and (node.op_type not in _DATA_FIRST or data_is_list)):
            lists.add(id(node))
        elif node.op_type in CONSUMERS and all(shapeish(node.input[i]) for i in CONSUMERS[node.op_type]
                                               if i < len(node.input)) and _consumer_supported(node, consts):
            consumers.add(id(node))

    changed = True
    while changed:
        changed = False
        for node in nodes:
            if id(node) in lists:
                ok = (node.op_type == "Shape" or all(shapeish(v) for v in node.input)) and all(
                    name not in external and all(_takes_list(user, i, lists, consumers) for user, i in uses.get(name, []))
                    for name in node.output)
                if not ok:
                    lists.discard(id(node))
                    changed = True
            elif id(node) in consumers:
                if not all(shapeish(node.input[i]) for i in CONSUMERS[node.op_type] if i < len(node.input)):
                    consumers.discard(id(node))
                    changed = True
    if scalar_inputs or scalar_outputs:
        kept = all(_takes_list(user, i, lists, consumers) for name in scalar_inputs for user, i in uses.get(name, []))
        kept = kept and all(name in scalar_inputs or is_list(name) for name in scalar_outputs)
        if not kept:
            raise ScalarsNotKept(sorted(scalar_inputs))
    for node in nodes:
        if id(node) in lists or id(node) in consumers:
            node.domain = LIST_DOMAIN if id(node) in lists else CONSUMER_DOMAIN
            count += 1
    return count


def _consumer_supported(node: NodeProto, consts: dict[str, np.ndarray]) -> bool:
    """The forms ``ops.shapes`` implements: positive slice steps, constant-mode padding."""
    if node.op_type == "Slice" and len(node.input) > 4 and node.input[4]:
        return node.input[4] in consts and bool(np.all(consts[node.input[4]] > 0))
    if node.op_type == "Pad":
        mode = next((helper.get_attribute_value(a) for a in node.attribute if a.name == "mode"), b"constant")
        return mode in (b"constant", "constant")
    return True


def _takes_list(user: NodeProto, index: int, lists: set[int], consumers: set[int]) -> bool:
    if id(user) in lists:
        return True
    return id(user) in consumers and index in CONSUMERS[user.op_type]
