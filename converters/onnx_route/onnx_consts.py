"""Values an ONNX graph fixes before it sees any input: constant folding and Loop trip counts.

torch.export traces Python control flow once, so a ``Loop`` becomes exportable when
its number of iterations is known at conversion time. tf2onnx's loops for Keras
recurrent layers run ``min(max_trip_count, n)`` times, with both numbers constants
when the model's sequence length is fixed; this module proves that by running the
part of the loop body that decides when to stop (ONNX's reference evaluator, numpy
only) and nothing else.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import GraphProto, NodeProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator

#: a loop that has not stopped after this many iterations is treated as data-dependent
MAX_UNROLL = 100_000


class NotConstant(Exception):
    """The value depends on a graph input (or on something this module does not evaluate)."""


def subgraphs(node: NodeProto) -> list[GraphProto]:
    return [a.g for a in node.attribute if a.type == onnx.AttributeProto.GRAPH] + [
        g for a in node.attribute if a.type == onnx.AttributeProto.GRAPHS for g in a.graphs]


def free_names(graph: GraphProto) -> list[str]:
    """Names a (sub)graph reads from its enclosing scopes, in first-use order."""
    bound = {i.name for i in graph.input} | {i.name for i in graph.initializer} | {""}
    free: dict[str, None] = {}
    for node in graph.node:
        reads = list(node.input) + [n for g in subgraphs(node) for n in free_names(g)]
        for name in reads:
            if name not in bound:
                free.setdefault(name)
        bound.update(node.output)
    for out in graph.output:
        if out.name not in bound:
            free.setdefault(out.name)
    return list(free)


def _model(graph: GraphProto, opset: int) -> onnx.ModelProto:
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def constant(graph: GraphProto, name: str, opset: int) -> np.ndarray:
    """The value of ``name`` in ``graph`` when it follows from initializers alone; else ``NotConstant``."""
    initializers = {i.name: i for i in graph.initializer}
    if name in initializers:
        return numpy_helper.to_array(initializers[name])
    producers = {out: node for node in graph.node for out in node.output}
    needed: list[NodeProto] = []
    leaves: set[str] = set()
    stack, seen = [name], set()
    while stack:
        value = stack.pop()
        if value in seen or value == "":
            continue
        seen.add(value)
        if value in initializers:
            leaves.add(value)
        elif value in producers:
            node = producers[value]
            if subgraphs(node):
                raise NotConstant(value)
            needed.append(node)
            stack.extend(node.input)
        else:
            raise NotConstant(value)
    order = {id(n): i for i, n in enumerate(graph.node)}
    nodes = sorted({id(n): n for n in needed}.values(), key=lambda n: order[id(n)])
    sub = helper.make_graph(nodes, "const", [], [helper.make_empty_tensor_value_info(name)],
                            [initializers[leaf] for leaf in sorted(leaves)])
    return ReferenceEvaluator(_model(sub, opset)).run(None, {})[0]


def loop_trip_count(loop: NodeProto, outer: GraphProto, opset: int) -> int:
    """How many times ``loop`` runs, for any graph input; ``NotConstant`` if that depends on the data."""
    return analyse_loop(loop, outer, opset)[0]


def analyse_loop(loop: NodeProto, outer: GraphProto, opset: int) -> tuple[int, dict[int, np.ndarray]]:
    """The trip count, and the loop-carried values the stop condition reads, by index, with their
    initial values: these never depend on the data, so they can run as Python scalars."""
    body = next(a.g for a in loop.attribute if a.name == "body")
    m_name, cond_name, *carried_names = list(loop.input) + [""] * max(0, 2 - len(loop.input))
    limit = int(constant(outer, m_name, opset)) if m_name else None
    cond = bool(constant(outer, cond_name, opset)) if cond_name else True
    body_in = [i.name for i in body.input]
    body_out = [o.name for o in body.output]
    body_inits = {i.name for i in body.initializer}
    producers = {out: node for node in body.node for out in node.output}

    # the part of the body the stop condition depends on, closed over loop-carried values
    needed, carried, outer_consts = set(), set(), {}
    stack = [body_out[0]]
    while stack:
        value = stack.pop()
        if value in producers:
            node = producers[value]
            if id(node) not in needed:
                if subgraphs(node):
                    raise NotConstant(value)
                needed.add(id(node))
                stack.extend(v for v in node.input if v)
        elif value in body_in:
            index = body_in.index(value) - 2
            if index >= 0 and index not in carried:
                carried.add(index)
                stack.append(body_out[1 + index])
        elif value not in body_inits and value not in outer_consts:
            outer_consts[value] = constant(outer, value, opset)
    state = {j: constant(outer, carried_names[j], opset) for j in sorted(carried)}
    initial = dict(state)

    nodes = [n for n in body.node if id(n) in needed]
    outs = [body_out[0]] + [body_out[1 + j] for j in sorted(carried)]
    renamed = [f"__out_{k}" for k in range(len(outs))]
    nodes += [helper.make_node("Identity", [o], [r]) for o, r in zip(outs, renamed)]
    inputs = [helper.make_empty_tensor_value_info(body_in[k]) for k in [0, 1] + [2 + j for j in sorted(carried)]]
    inits = list(body.initializer) + [numpy_helper.from_array(np.asarray(v), n) for n, v in outer_consts.items()]
    sub = helper.make_graph(nodes, "stop", inputs, [helper.make_empty_tensor_value_info(r) for r in renamed], inits)
    run = ReferenceEvaluator(_model(sub, opset)).run

    count = 0
    while cond and (limit is None or count < limit):
        if count >= MAX_UNROLL:
            raise NotConstant(f"more than {MAX_UNROLL} iterations")
        feeds = {body_in[0]: np.array(count, dtype=np.int64), body_in[1]: np.array(cond)}
        feeds.update({body_in[2 + j]: state[j] for j in state})
        results = run(None, feeds)
        cond = bool(results[0])
        state = {j: results[1 + k] for k, j in enumerate(sorted(carried))}
        count += 1
    return count, initial
