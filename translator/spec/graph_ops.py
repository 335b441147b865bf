"""Tensor ops inside a traced graph (a subclassed layer's ``call``, a Functional model): tables and shape rules.

The torch expression of an op comes from its TF row (``tf1_ops.OPS``: one row per op, shared with
TF1 and eager translation); its ``graph`` field names the shape rule below. ``keras.ops`` spellings
map onto the same rows by position: ``keras.ops.matmul(x1, x2)`` is ``tf.matmul(a, b)``.

Shapes here are full shapes (batch axis first, ``Dim("None")``) of Keras-layout tensors; a
weight has no batch axis. A rule raises ``Unsupported`` when it cannot say the output shape.
"""

from __future__ import annotations

from .values import Dim, Unsupported

#: keras.ops function -> (TF row name without ``tf.``, keras.ops positional parameters)
KERAS_OPS: dict[str, tuple[str, tuple[str, ...]]] = {
    "add": ("add", ("x1", "x2")),
    "subtract": ("subtract", ("x1", "x2")),
    "multiply": ("multiply", ("x1", "x2")),
    "divide": ("divide", ("x1", "x2")),
    "true_divide": ("divide", ("x1", "x2")),
    "power": ("pow", ("x1", "x2")),
    "matmul": ("matmul", ("x1", "x2")),
    "maximum": ("maximum", ("x1", "x2")),
    "minimum": ("minimum", ("x1", "x2")),
    "negative": ("negative", ("x",)),
    "square": ("square", ("x",)),
    "sqrt": ("sqrt", ("x",)),
    "exp": ("exp", ("x",)),
    "log": ("log", ("x",)),
    "abs": ("abs", ("x",)),
    "absolute": ("abs", ("x",)),
    "sign": ("sign", ("x",)),
    "relu": ("nn.relu", ("x",)),
    "relu6": ("nn.relu6", ("x",)),
    "elu": ("nn.elu", ("x",)),
    "softplus": ("nn.softplus", ("x",)),
    "sigmoid": ("sigmoid", ("x",)),
    "tanh": ("tanh", ("x",)),
    "leaky_relu": ("nn.leaky_relu", ("x", "negative_slope")),
    "softmax": ("nn.softmax", ("x", "axis")),
    "log_softmax": ("nn.log_softmax", ("x", "axis")),
    "clip": ("clip_by_value", ("x", "x_min", "x_max")),
    "mean": ("reduce_mean", ("x", "axis", "keepdims")),
    "sum": ("reduce_sum", ("x", "axis", "keepdims")),
    "max": ("reduce_max", ("x", "axis", "keepdims")),
    "min": ("reduce_min", ("x", "axis", "keepdims")),
}


def broadcast(*shapes: tuple[Dim, ...]) -> tuple[Dim, ...]:
    """numpy broadcasting of full shapes; an unknown size is taken as matching the other side."""
    rank = max(len(s) for s in shapes)
    out = []
    for i in range(rank):
        dims = [s[len(s) - rank + i] for s in shapes if len(s) - rank + i >= 0]
        best = dims[0]
        for d in dims[1:]:
            if best.known and best.value == 1:
                best = d
            elif d.known and d.value == 1 or d.text == best.text:
                continue
            elif best.known and d.known:
                raise Unsupported(f"shapes {_show(shapes)} do not broadcast")
            elif not best.known and d.known:
                best = d
        out.append(best)
    return tuple(out)


def matmul(a: tuple[Dim, ...], b: tuple[Dim, ...], transpose_a: bool = False, transpose_b: bool = False) -> tuple[Dim, ...]:
    """``a @ b`` for operands of rank 2 or more (batch axes broadcast)."""
    if len(a) < 2 or len(b) < 2:
        raise Unsupported("matmul of a rank-1 operand is not translated")
    if transpose_a:
        a = a[:-2] + (a[-1], a[-2])
    if transpose_b:
        b = b[:-2] + (b[-1], b[-2])
    k1, k2 = a[-1], b[-2]
    if k1.known and k2.known and k1.value != k2.value:
        raise Unsupported(f"matmul of shapes {_show((a, b))}: inner sizes {k1.value} and {k2.value} differ")
    return broadcast(a[:-2], b[:-2]) + (a[-2], b[-1])


def reduce(shape: tuple[Dim, ...], axis, keepdims: bool) -> tuple[Dim, ...]:
    """A reduction over static ``axis`` (an int or a sequence) of a batched tensor; never the batch axis."""
    if axis is None:
        raise Unsupported("a reduction over every axis (the batch too) is not a per-sample op; not translated")
    axes = (axis,) if isinstance(axis, int) else tuple(axis) if isinstance(axis, (list, tuple)) else None
    if axes is None or not all(isinstance(i, int) and not isinstance(i, bool) for i in axes):
        raise Unsupported(f"axis={axis!r} is not a static int or tuple of ints")
    rank = len(shape)
    normal = {i % rank for i in axes if -rank <= i < rank}
    if len(normal) != len(axes):
        raise Unsupported(f"axis={axis!r} is out of range for a rank-{rank} tensor")
    if 0 in normal:
        raise Unsupported("a reduction over the batch axis is not a per-sample op; not translated")
    if keepdims:
        return tuple(Dim.of(1) if i in normal else d for i, d in enumerate(shape))
    return tuple(d for i, d in enumerate(shape) if i not in normal)


def _show(shapes) -> str:
    return " and ".join("(" + ", ".join(d.text for d in s) + ")" for s in shapes)
