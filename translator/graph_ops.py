"""Tensor ops on Keras tensors inside a traced graph: ``tf.matmul(inputs, self.w) + self.b``, ``ops.mean(x, 1)``.

A custom layer's ``call`` computes with TensorFlow or ``keras.ops`` functions and its own weights;
a Functional model may apply ``keras.ops`` to layer outputs. Each op becomes one graph node: its
torch expression comes from the op's TF row (``spec/tf1_ops.py``, shared with TF1 and eager code),
its output shape from the row's ``graph`` rule (``spec/graph_ops.py``). A weight operand is the
node's ``{m}``: registered like a layer the first time an op reads it, so ``__init__`` creates the
``nn.Parameter`` and the converters copy it. An op the tables do not cover raises GraphError.
"""

from __future__ import annotations

import libcst as cst

from .evaluate import UNKNOWN, code
from .functional import GraphError, SymLayer, SymTensor, _is_symbolic
from .spec import graph_ops as rules
from .spec import tf1_ops
from .spec.custom_weights import WEIGHT
from .spec.layers import KERAS, Tensor
from .spec.values import Dim, Unsupported

#: the Python operators, as the TF row that translates them
OPERATOR_ROWS = {"+": "add", "-": "subtract", "*": "multiply", "/": "divide", "@": "matmul"}
_IN = "__tfpt_in{}"
_WEIGHT = "__tfpt_weight"
_BATCH = Dim("None")


def is_weight(value) -> bool:
    return isinstance(value, SymLayer) and value.spec is WEIGHT


def row_for(q: str | None) -> tuple[tf1_ops.Op, tuple[str, ...], str | None] | None:
    """The op row a canonical function name calls, the call's positional parameters and its keras.ops name."""
    if q is None:
        return None
    if q.startswith("keras.ops."):
        entry = rules.KERAS_OPS.get(q[len("keras.ops."):])
        if entry is None:
            return None
        op = tf1_ops.BY_NAME.get("tf." + entry[0])
        return (op, entry[1], q[len("keras.ops."):]) if op is not None and op.graph else None
    op = tf1_ops.BY_NAME.get(q)
    if op is None or not op.graph:
        return None
    return op, op.params, _keras_name(op)


def apply(tracer, q: str, node: cst.Call, args: list[tuple[str | None, object]]) -> SymTensor:
    """``tf.matmul(x, self.w)`` (``args`` already traced): one node, its output tensor."""
    op, params, keras_name = row_for(q)
    renames = dict(zip(params, op.params))
    positional = [v for k, v in args if k is None]
    if len(positional) > len(params):
        raise GraphError(f"{code(node.func)}() with more positional arguments than it takes", node)
    bound = dict(zip(op.params, positional))
    for k, v in args:
        if k is None:
            continue
        name = renames.get(k, k)
        if name not in op.params or name in bound:
            raise GraphError(f"{code(node.func)}({k}=...) is not translated", node)
        bound[name] = v
    return _node(tracer, op, bound, keras_name, params, node, code(node.func))


def binary(tracer, op_text: str, left, right, node) -> SymTensor:
    """``x @ self.w``, ``x + self.b``: the operator's row."""
    op = tf1_ops.BY_NAME["tf." + OPERATOR_ROWS[op_text]]
    bound = dict(zip(op.params, (left, right)))
    return _node(tracer, op, bound, _keras_name(op), op.params, node, op_text)


# --------------------------------------------------------------------------- one node


def _node(tracer, op: tf1_ops.Op, bound: dict, keras_name, keras_params, node, shown: str) -> SymTensor:
    for k, v in bound.items():
        if k in op.fixed and k not in op.ignored and v != op.fixed[k]:
            raise GraphError(f"{shown}({k}=...) is not translated", node)
    tensors = [v for v in bound.values() if isinstance(v, SymTensor)]
    weights = [v for v in bound.values() if is_weight(v)]
    if not tensors:
        raise GraphError(f"{shown} on weights alone (no batch tensor) is not translated", node)
    if len(weights) > 1:
        raise GraphError(f"{shown} on two weights at once is not translated: one op per weight", node)
    for k, v in bound.items():
        if _is_symbolic(v) and not isinstance(v, SymTensor) and not is_weight(v):
            raise GraphError(f"{shown}({k}={type(v).__name__}) is not translated", node)
    keep_layout = op.graph == "same"
    if keep_layout:
        exprs = ["{%d}" % i for i in range(len(tensors))]
        layout_tensors = [tracer.tensors[t.id] for t in tensors]
    else:
        layout_tensors, exprs = tracer._common_layout(tensors, KERAS)
    index = {id(t): i for i, t in enumerate(tensors)}
    args = _Args(tracer, bound, index, layout_tensors, weights[0] if weights else None)
    try:
        torch_expr = op.build(args)
        shape = _shape(op, args, bound, index, layout_tensors)
    except Unsupported as e:
        raise GraphError(f"{shown}: {e}", node) from None
    text = cst.Module([]).code_for_node(torch_expr)
    for i, e in enumerate(exprs):
        text = text.replace(_IN.format(i), e)
    attr = layer = None
    if weights:
        weight = weights[0]
        attr = tracer._register(weight, weight.weight[0])
        layer = weight.index
        text = text.replace(_WEIGHT, "{m}")
    out_layout = layout_tensors[0].layout if keep_layout else KERAS
    out = tracer._new_tensor(Tensor(shape, out_layout))
    tracer._add_node(tensors, out, [f"x = {text}"], _keras_text(keras_name, keras_params, op, bound, index, shown),
                     layer, attr)
    return out


def _shape(op: tf1_ops.Op, args: "_Args", bound: dict, index: dict, tensors: list[Tensor]) -> tuple[Dim, ...]:
    """The output shape without the batch axis."""
    first = next(v for v in bound.values() if isinstance(v, SymTensor))
    if op.graph in ("same", "axis"):
        return tensors[index[id(first)]].shape
    if any(t.shape is None or not t.rank_known for t in tensors):
        raise Unsupported("needs the input's full shape")
    full = [args.full(name) for name in op.params if name in bound and args.full(name) is not None]
    if op.graph == "broadcast":
        out = rules.broadcast(*full)
    elif op.graph == "matmul":
        a, b = args.full("a"), args.full("b")
        if a is None or b is None:
            raise Unsupported("matmul of a tensor and a number")
        out = rules.matmul(a, b, args.value("transpose_a") is True, args.value("transpose_b") is True)
    else:  # reduce
        axis = next((args.value(n) for n in ("axis", "reduction_indices") if args.has(n)), None)
        keep = next((args.value(n) for n in ("keepdims", "keep_dims") if args.has(n)), False)
        if axis is UNKNOWN or keep is UNKNOWN:
            raise Unsupported("axis and keepdims must be static")
        out = rules.reduce(args.full("input_tensor"), axis, bool(keep))
    if not out or out[0] is not _BATCH and out[0].text != "None":
        raise Unsupported("the result has no batch axis first; not translated")
    return tuple(out[1:])


def _keras_text(keras_name, params, op, bound: dict, index: dict, shown: str) -> str:
    """The same op in Keras (verify rebuilds Functional graphs from it): ``keras.ops.<name>({0}, ...)``."""
    if keras_name is None:
        return shown
    parts = []
    for kparam, tparam in zip(params, op.params):
        if tparam not in bound:
            continue
        v = bound[tparam]
        text = "{%d}" % index[id(v)] if isinstance(v, SymTensor) else "{m}" if is_weight(v) else repr(v)
        parts.append(f"{kparam}={text}" if kparam not in ("x", "x1", "x2") else text)
    return f"keras.ops.{keras_name}({', '.join(parts)})"


def _keras_name(op: tf1_ops.Op) -> str | None:
    return next((k for k, (row, _p) in rules.KERAS_OPS.items() if "tf." + row in _names(op)), None)


def _names(op: tf1_ops.Op) -> set[str]:
    return {"tf." + n for n in op.names}


class _Args:
    """The bound arguments as the op rows read them (``tf1_ops.Args``): tensors and the weight as placeholders."""

    requires_grad = False

    def __init__(self, tracer, bound: dict, index: dict, tensors: list[Tensor], weight):
        self.tracer, self.bound, self.index, self.tensors, self.weight = tracer, bound, index, tensors, weight

    def has(self, name: str) -> bool:
        return name in self.bound

    def x(self, name: str) -> cst.BaseExpression:
        if name not in self.bound:
            raise Unsupported(f"needs {name}")
        v = self.bound[name]
        if isinstance(v, SymTensor):
            return cst.Name(_IN.format(self.index[id(v)]))
        if is_weight(v):
            return cst.Name(_WEIGHT)
        if v is UNKNOWN:
            raise Unsupported(f"{name} is not a static value")
        return cst.parse_expression(repr(v))

    def value(self, name: str, default=UNKNOWN):
        if name not in self.bound:
            return default
        v = self.bound[name]
        return UNKNOWN if _is_symbolic(v) else v

    def full(self, name: str) -> tuple[Dim, ...] | None:
        """The operand's full shape (batch axis first for a tensor); None for a number."""
        v = self.bound.get(name)
        if isinstance(v, SymTensor):
            return (_BATCH,) + tuple(self.tensors[self.index[id(v)]].shape)
        if is_weight(v):
            return tuple(v.weight[1])
        return None

    def rank(self, name: str) -> int | None:
        full = self.full(name)
        return None if full is None else len(full)

    def dtype(self, name: str) -> str | None:
        if self.bound.get(name) is not None:
            raise Unsupported(f"{name}= is not translated here")
        return None

    def shape(self, name: str):
        raise Unsupported("shape arguments are not translated here")

    def inner(self, name: str):
        return None

    def trainable(self, name: str) -> bool:
        return False

    def note(self, message: str) -> None:
        raise Unsupported(message)


__all__ = ["apply", "binary", "is_weight", "row_for", "OPERATOR_ROWS"]
