"""TF1 graph ops -> torch: one row per op, like tf_upgrade_v2's rename tables.

A row names the op (and its aliases: ``tf.log`` is ``tf.math.log``), its TF1
positional parameters, the arguments it accepts only at their defaults, and a
``build`` function that writes the torch expression from the bound arguments
(``Args``, supplied by ``translator/tf1.py``: the translated argument expressions,
their static values and ranks). ``rank`` gives the result's rank when it is known:
it decides whether a fetched value becomes ``.item()`` or ``.numpy()``, and whether a
cross-entropy can use ``F.cross_entropy``'s class axis. ``torch`` is how the row reads
in the README table.

Defaults that differ between the frameworks are always written out (TF's
``leaky_relu`` slope 0.2, ``argmax`` over axis 0, truncation at two standard
deviations); anything a row cannot express faithfully raises ``Unsupported`` with the
reason, and the statement stays TensorFlow with a TODO.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Protocol

import libcst as cst

from .values import UNKNOWN, Unsupported

# --------------------------------------------------------------------------- building torch expressions

#: binding strength of an expression (Python's precedence table); atoms bind tightest
_BINARY_PRECEDENCE = {
    cst.Power: 12, cst.Multiply: 10, cst.MatrixMultiply: 10, cst.Divide: 10, cst.FloorDivide: 10, cst.Modulo: 10,
    cst.Add: 9, cst.Subtract: 9, cst.LeftShift: 8, cst.RightShift: 8, cst.BitAnd: 7, cst.BitXor: 6, cst.BitOr: 5,
}
ATOM = 13


def precedence(node: cst.BaseExpression) -> int:
    if node.lpar:
        return ATOM
    if isinstance(node, cst.BinaryOperation):
        return _BINARY_PRECEDENCE[type(node.operator)]
    if isinstance(node, cst.UnaryOperation):
        return 3 if isinstance(node.operator, cst.Not) else 11
    if isinstance(node, cst.Comparison):
        return 4
    if isinstance(node, cst.BooleanOperation):
        return 2 if isinstance(node.operator, cst.And) else 1
    if isinstance(node, (cst.IfExp, cst.Lambda, cst.NamedExpr)):
        return 0
    return ATOM


def parens(node: cst.BaseExpression) -> cst.BaseExpression:
    return node.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])


def operand(node: cst.BaseExpression, parent: int, right: bool = False, power: bool = False) -> cst.BaseExpression:
    """``node`` as an operand of an operator of precedence ``parent`` (parenthesised if needed)."""
    p = precedence(node)
    # left-associative operators need parentheses on the right at equal precedence, ** on the left
    if p < parent or (p == parent and (right != power)) or (parent == 4 and p == 4):
        return parens(node)
    return node


_OPS = {"+": cst.Add, "-": cst.Subtract, "*": cst.Multiply, "/": cst.Divide, "@": cst.MatrixMultiply,
        "**": cst.Power, "//": cst.FloorDivide}
_COMPARE = {"==": cst.Equal, "!=": cst.NotEqual, "<": cst.LessThan, "<=": cst.LessThanEqual,
            ">": cst.GreaterThan, ">=": cst.GreaterThanEqual}


def binop(left, op: str, right) -> cst.BaseExpression:
    left, right = expr(left), expr(right)
    if op in _COMPARE:
        return cst.Comparison(operand(left, 4), [cst.ComparisonTarget(_COMPARE[op](), operand(right, 4, True))])
    operator = _OPS[op]()
    p = _BINARY_PRECEDENCE[type(operator)]
    power = op == "**"
    return cst.BinaryOperation(operand(left, p, False, power), operator, operand(right, p, True, power))


def neg(x) -> cst.BaseExpression:
    return cst.UnaryOperation(cst.Minus(), operand(expr(x), 11))


def expr(x) -> cst.BaseExpression:
    """An expression from a node, a Python number or source text."""
    if isinstance(x, cst.BaseExpression):
        return x
    if isinstance(x, bool) or x is None:
        return cst.Name(repr(x))
    if isinstance(x, (int, float)):
        return cst.parse_expression(repr(x))
    return cst.parse_expression(x)


def call(func: str, *args, **kwargs) -> cst.Call:
    """``func(*args, **kwargs)``: keyword values that are None are left out."""
    out = [cst.Arg(expr(a)) for a in args]
    for k, v in kwargs.items():
        if v is None:
            continue
        out.append(cst.Arg(expr(v), keyword=cst.Name(k), equal=_EQUAL))
    return cst.Call(cst.parse_expression(func), out)


def method(receiver, name: str, *args, **kwargs) -> cst.Call:
    """``receiver.name(...)`` with the receiver parenthesised when it is not an atom."""
    r = expr(receiver)
    if precedence(r) < ATOM:
        r = parens(r)
    c = call("_", *args, **kwargs)
    return c.with_changes(func=cst.Attribute(r, cst.Name(name)))


def attr(receiver, name: str) -> cst.Attribute:
    r = expr(receiver)
    return cst.Attribute(parens(r) if precedence(r) < ATOM else r, cst.Name(name))


_EQUAL = cst.AssignEqual(whitespace_before=cst.SimpleWhitespace(""), whitespace_after=cst.SimpleWhitespace(""))

# --------------------------------------------------------------------------- rows


class Args(Protocol):
    """The bound arguments of one op call (implemented by translator/tf1.py)."""

    requires_grad: bool  # building a tf.Variable's initial value: factories create the leaf directly

    def has(self, name: str) -> bool: ...
    def x(self, name: str) -> cst.BaseExpression: ...  # translated argument (required)
    def value(self, name: str, default=UNKNOWN) -> object: ...  # static value, UNKNOWN when not static
    def rank(self, name: str) -> int | None: ...
    def dtype(self, name: str) -> str | None: ...  # torch dtype text; None when not given
    def shape(self, name: str) -> list[cst.BaseExpression]: ...  # a shape argument as torch factory arguments
    def inner(self, name: str) -> tuple[str, "Args"] | None: ...  # the argument when it is itself an op call
    def trainable(self, name: str) -> bool: ...  # whether the argument is computed from variables
    def note(self, message: str) -> None: ...


@dataclass(frozen=True)
class Op:
    names: tuple[str, ...]  # TF names without ``tf.``; the first is the one shown
    params: tuple[str, ...]  # TF1 positional order
    torch: str  # how the translation reads (README)
    build: Callable[[Args], cst.BaseExpression]
    rank: Callable[[Args], int | None] = lambda a: None
    #: arguments accepted only at these values (other values: Unsupported)
    fixed: dict[str, object] = field(default_factory=dict)
    #: arguments that change nothing in torch
    ignored: tuple[str, ...] = ("name",)
    note: str = ""
    #: the shape rule when the op runs on Keras tensors in a traced graph (``translator/graph_ops.py``):
    #: "same", "axis" (same shape, an axis argument), "broadcast", "matmul", "reduce"; None: not there
    graph: str | None = None


def same(param: str) -> Callable[[Args], int | None]:
    return lambda a: a.rank(param)


def widest(*params: str) -> Callable[[Args], int | None]:
    def rank(a):
        ranks = [a.rank(p) for p in params if a.has(p)]
        return None if any(r is None for r in ranks) else max(ranks, default=0)
    return rank


def _first(a: Args, *names: str, default=None):
    """The first of several spellings of one argument that is given (``axis``/``dim``)."""
    for n in names:
        if a.has(n) and a.value(n) is not None:
            return a.x(n)
    return default


def _unary(names, torch, param="x", **kw) -> Op:
    return Op(names, (param,), f"`{torch}`", lambda a: call(torch, a.x(param)), same(param), graph="same", **kw)


def _binary(names, op, params=("x", "y")) -> Op:
    return Op(names, params, f"`{params[0]} {op} {params[1]}`",
              lambda a: binop(a.x(params[0]), op, a.x(params[1])), widest(*params),
              graph="broadcast" if op in _OPS else None)


def _softmax(torch):
    return lambda a: call(torch, a.x("logits"), dim=_first(a, "axis", "dim", default=-1))


# -- reductions: axis (or TF1's reduction_indices), keepdims (or keep_dims)

def _axis_len(a: Args) -> int | None:
    for n in ("axis", "reduction_indices"):
        if a.has(n):
            v = a.value(n)
            if v is None:
                return None
            if isinstance(v, int):
                return 1
            if isinstance(v, (list, tuple)):
                return len(v)
            return -1  # given, length unknown
    return None


def _reduce(torch_all: str, torch_dims: str):
    def build(a: Args):
        axis = _first(a, "axis", "reduction_indices")
        keep = next((a.value(n) for n in ("keepdims", "keep_dims") if a.has(n) and a.value(n) is not None), False)
        if keep is UNKNOWN:
            raise Unsupported("keepdims must be a literal True/False")
        if axis is None:
            if keep:
                raise Unsupported("keepdims=True without an axis is not translated")
            fused = _fused_mean(a) if torch_all == "torch.mean" else None
            return fused if fused is not None else call(torch_all, a.x("input_tensor"))
        return call(torch_dims, a.x("input_tensor"), dim=axis, keepdim=True if keep else None)

    def rank(a: Args):
        if any(a.has(n) and a.value(n) for n in ("keepdims", "keep_dims")):
            return a.rank("input_tensor")
        n = _axis_len(a)
        if n is None:
            return 0
        r = a.rank("input_tensor")
        return None if r is None or n < 0 else r - n

    return build, rank


_REDUCE_PARAMS = ("input_tensor", "axis", "keepdims", "name", "reduction_indices", "keep_dims")


def _reduction(names, torch_all, torch_dims) -> Op:
    build, rank = _reduce(torch_all, torch_dims)
    shown = f"`{torch_all}`" + (f" / `{torch_dims}(dim=...)`" if torch_dims != torch_all else "")
    return Op(names, _REDUCE_PARAMS, shown, build, rank, graph="reduce")


# -- losses

def _softmax_xent(a: Args, reduction, stop_labels: bool = False):
    """-sum(labels * log_softmax(logits)) over the class axis."""
    axis = _first(a, "axis", "dim")
    axis_value = a.value("axis") if a.has("axis") else a.value("dim") if a.has("dim") else -1
    logits, labels = a.x("logits"), a.x("labels")
    if stop_labels and a.trainable("labels"):
        labels = method(labels, "detach")  # TF1's first version lets no gradient into the labels
    if axis_value in (-1, None) and a.rank("logits") in (1, 2):
        # F.cross_entropy takes class probabilities as targets; its class axis is 1 (or 0 unbatched)
        return call("F.cross_entropy", logits, labels, reduction=reduction)
    per_example = call("torch.sum", binop(neg(labels), "*", call("torch.log_softmax", logits,
                                                                dim=axis if axis is not None else -1)),
                       dim=axis if axis is not None else -1)
    return per_example if reduction else call("torch.mean", per_example)


def _sparse_xent(a: Args, reduction: str | None):
    if a.rank("logits") not in (1, 2):
        raise Unsupported("sparse_softmax_cross_entropy_with_logits needs logits of known rank 2 (batch, classes)")
    return call("F.cross_entropy", a.x("logits"), method(a.x("labels"), "long"), reduction=reduction)


def _sigmoid_xent(a: Args, reduction: str | None):
    return call("F.binary_cross_entropy_with_logits", a.x("logits"), a.x("labels"), reduction=reduction)


#: reduction="none": the per-example losses TF returns
_NONE = cst.SimpleString('"none"')

_XENT = {
    "nn.softmax_cross_entropy_with_logits": lambda a, reduction: _softmax_xent(a, reduction, stop_labels=True),
    "nn.softmax_cross_entropy_with_logits_v2": _softmax_xent,
    "nn.sparse_softmax_cross_entropy_with_logits": _sparse_xent,
    "nn.sigmoid_cross_entropy_with_logits": _sigmoid_xent,
}


def _fused_mean(a: Args):
    """``tf.reduce_mean(<cross-entropy>)`` is torch's default 'mean' reduction: one call."""
    inner = a.inner("input_tensor")
    if inner is None or inner[0] not in _XENT:
        return None
    return _XENT[inner[0]](inner[1], None)


def _xent_rank(a: Args):
    r = a.rank("logits")
    return None if r is None else r - 1


# -- factories: zeros, ones, random tensors (also a tf.Variable's initial value)

def _grad(a: Args) -> bool | None:
    return True if a.requires_grad else None


def _dtype_kw(a: Args, name="dtype", default="torch.float32"):
    d = a.dtype(name) if a.has(name) else None
    return None if d in (None, default) else d


def _factory(torch):
    def build(a: Args):
        return call(torch, *a.shape("shape"), dtype=_dtype_kw(a), requires_grad=_grad(a))
    return build


def _shape_rank(param="shape"):
    def rank(a: Args):
        v = a.value(param)
        if isinstance(v, int):
            return 1
        return len(v) if isinstance(v, (list, tuple)) else None
    return rank


def _seed(a: Args):
    if a.has("seed") and a.value("seed") is not None:
        a.note("the op-level seed is not carried over (torch draws from its global generator: torch.manual_seed)")


def _float_of(a: Args, name: str, default: float):
    v = a.value(name) if a.has(name) else default
    return v if isinstance(v, (int, float)) and not isinstance(v, bool) else UNKNOWN


def _empty(a: Args):
    return call("torch.empty", *a.shape("shape"), dtype=_dtype_kw(a), requires_grad=_grad(a))


def _random_normal(a: Args):
    _seed(a)
    mean, std = _float_of(a, "mean", 0.0), _float_of(a, "stddev", 1.0)
    if mean == 0 and std == 1:
        return call("torch.randn", *a.shape("shape"), dtype=_dtype_kw(a), requires_grad=_grad(a))
    return call("nn.init.normal_", _empty(a), mean=None if mean == 0 else _arg(a, "mean"),
                std=None if std == 1 else _arg(a, "stddev"))


def _truncated_normal(a: Args):
    """TF cuts at two standard deviations around the mean; torch takes the bounds."""
    _seed(a)
    mean, std = _float_of(a, "mean", 0.0), _float_of(a, "stddev", 1.0)
    if mean is not UNKNOWN and std is not UNKNOWN:
        lo, hi = mean - 2 * std, mean + 2 * std
    else:
        m, s = _arg(a, "mean") if a.has("mean") else None, _arg(a, "stddev") if a.has("stddev") else expr(1.0)
        two_s = binop(2, "*", s)
        lo = neg(two_s) if m is None else binop(m, "-", two_s)
        hi = two_s if m is None else binop(m, "+", two_s)
    return call("nn.init.trunc_normal_", _empty(a), mean=None if mean == 0 else _arg(a, "mean"),
                std=None if std == 1 else _arg(a, "stddev"), a=lo, b=hi)


def _random_uniform(a: Args):
    _seed(a)
    d = a.dtype("dtype") if a.has("dtype") else None
    if d is not None and not d.startswith("torch.float"):
        raise Unsupported("integer random_uniform is not translated")
    lo = _float_of(a, "minval", 0)
    hi = _float_of(a, "maxval", 1) if a.has("maxval") and a.value("maxval") is not None else 1
    if lo == 0 and hi == 1:
        return call("torch.rand", *a.shape("shape"), dtype=_dtype_kw(a), requires_grad=_grad(a))
    return call("nn.init.uniform_", _empty(a), a=_arg(a, "minval") if a.has("minval") else 0,
                b=_arg(a, "maxval") if a.has("maxval") and a.value("maxval") is not None else 1.0)


def _arg(a: Args, name: str):
    return a.x(name)


def _constant(a: Args):
    dtype = a.dtype("dtype") if a.has("dtype") else None
    if a.has("shape") and a.value("shape") is not None:
        v = a.value("value")
        if not isinstance(v, (int, float)) or isinstance(v, bool):
            raise Unsupported("tf.constant(<non-scalar>, shape=...) is not translated")
        # a scalar filled into the shape; TF makes Python floats float32, like torch.full
        return call("torch.full", a.x("shape"), a.x("value"), dtype=dtype, requires_grad=_grad(a))
    return call("torch.tensor", a.x("value"), dtype=dtype, requires_grad=_grad(a))


def _constant_rank(a: Args):
    if a.has("shape") and a.value("shape") is not None:
        return _shape_rank()(a)
    v = a.value("value")
    depth = 0
    while isinstance(v, (list, tuple)):
        depth, v = depth + 1, v[0] if v else None
    return depth if v is not UNKNOWN else None


def _fill(a: Args):
    return call("torch.full", a.x("dims"), a.x("value"), requires_grad=_grad(a))


# -- the rest

def _matmul(a: Args):
    x, y = a.x("a"), a.x("b")
    if a.value("transpose_a") is True:
        x = attr(x, "mT")
    if a.value("transpose_b") is True:
        y = attr(y, "mT")
    return binop(x, "@", y)


def _clamp(torch_binary, bound):
    """maximum(x, 0.0) is a clamp (torch.maximum needs two tensors)."""
    def build(a: Args):
        for t, c in (("x", "y"), ("y", "x")):
            v = a.value(c)
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                return call("torch.clamp", a.x(t), **{bound: a.x(c)})
        return call(torch_binary, a.x("x"), a.x("y"))
    return build


def _argmax(torch):
    def build(a: Args):
        if a.has("output_type") and a.dtype("output_type") not in (None, "torch.int64"):
            raise Unsupported("argmax(output_type=...) other than int64 is not translated")
        # TF1's argmax reduces axis 0 when no axis is given (torch's would flatten)
        return call(torch, a.x("input"), dim=_first(a, "axis", "dimension", default=0))
    return build


def _minus_one(param):
    def rank(a: Args):
        r = a.rank(param)
        return None if r is None else r - 1
    return rank


def _cast(a: Args):
    d = a.dtype("dtype")
    if d is None:
        raise Unsupported("cast to an unknown dtype")
    return method(a.x("x"), "to", d)


def _transpose(a: Args):
    if a.has("perm") and a.value("perm") is not None:
        return call("torch.permute", a.x("a"), a.x("perm"))
    if a.rank("a") == 2:
        return attr(a.x("a"), "T")
    raise Unsupported("transpose without perm needs a tensor of known rank 2")


def _squeeze(a: Args):
    axis = _first(a, "axis", "squeeze_dims")
    return call("torch.squeeze", a.x("input"), *([axis] if axis is not None else []))


def _expand_rank(a: Args):
    r = a.rank("input")
    return None if r is None else r + 1


def _mse(a: Args):
    return call("F.mse_loss", a.x("predictions"), a.x("labels"))


def _l2_loss(a: Args):
    return binop(call("torch.sum", binop(a.x("t"), "**", 2)), "/", 2)


def _convert_to_tensor(a: Args):
    """TF makes Python ints int32 (torch: int64); floats float32 and NumPy arrays keep their dtype in both."""
    dtype = a.dtype("dtype") if a.has("dtype") else None
    if dtype is None and _all_ints(a.value("value")):
        dtype = "torch.int32"
    return call("torch.as_tensor", a.x("value"), dtype=dtype)


def _all_ints(v) -> bool:
    if isinstance(v, (list, tuple)):
        return bool(v) and all(_all_ints(x) for x in v)
    return isinstance(v, int) and not isinstance(v, bool)


def _clip_by_norm(a: Args):
    """TF: t * clip_norm / max(l2norm(t), clip_norm), written out (clip_grad_norm_ adds 1e-6 to the norm)."""
    norm = call("torch.clamp", call("torch.linalg.vector_norm", a.x("t")), min=a.x("clip_norm"))
    return binop(binop(a.x("t"), "*", a.x("clip_norm")), "/", norm)


def _leaky_relu(a: Args):
    slope = a.x("alpha") if a.has("alpha") else expr(0.2)
    return call("F.leaky_relu", a.x("features"), negative_slope=slope)


_RANDOM_PARAMS = ("shape", "mean", "stddev", "dtype", "seed", "name")

OPS: list[Op] = [
    # arithmetic and comparisons: the Python operators (TF broadcasts like torch)
    _binary(("add", "math.add"), "+"),
    _binary(("subtract", "math.subtract"), "-"),
    _binary(("multiply", "math.multiply"), "*"),
    _binary(("divide", "math.divide", "truediv", "math.truediv"), "/"),
    _binary(("pow", "math.pow"), "**"),
    Op(("matmul", "linalg.matmul"), ("a", "b", "transpose_a", "transpose_b", "adjoint_a", "adjoint_b",
                                     "a_is_sparse", "b_is_sparse", "output_type"),
       "`a @ b`", _matmul, widest("a", "b"),
       fixed={"adjoint_a": False, "adjoint_b": False, "a_is_sparse": False, "b_is_sparse": False,
              "output_type": None}, note="transpose_a/transpose_b: `.mT`", graph="matmul"),
    Op(("nn.bias_add",), ("value", "bias", "data_format"), "`value + bias`",
       lambda a: binop(a.x("value"), "+", a.x("bias")), widest("value"), fixed={"data_format": None},
       graph="broadcast"),
    Op(("maximum", "math.maximum"), ("x", "y"), "`torch.maximum` (`torch.clamp` against a number)",
       _clamp("torch.maximum", "min"), widest("x", "y"), graph="broadcast"),
    Op(("minimum", "math.minimum"), ("x", "y"), "`torch.minimum` (`torch.clamp` against a number)",
       _clamp("torch.minimum", "max"), widest("x", "y"), graph="broadcast"),
    _binary(("equal", "math.equal"), "=="),
    _binary(("not_equal", "math.not_equal"), "!="),
    _binary(("less", "math.less"), "<"),
    _binary(("less_equal", "math.less_equal"), "<="),
    _binary(("greater", "math.greater"), ">"),
    _binary(("greater_equal", "math.greater_equal"), ">="),
    Op(("negative", "math.negative"), ("x",), "`-x`", lambda a: neg(a.x("x")), same("x"), graph="same"),
    # element-wise functions
    _unary(("square", "math.square"), "torch.square"),
    _unary(("sqrt", "math.sqrt"), "torch.sqrt"),
    _unary(("exp", "math.exp"), "torch.exp"),
    _unary(("log", "math.log"), "torch.log"),
    _unary(("abs", "math.abs"), "torch.abs"),
    _unary(("round", "math.round"), "torch.round", note="both round half to even"),
    _unary(("floor", "math.floor"), "torch.floor"),
    _unary(("ceil", "math.ceil"), "torch.ceil"),
    _unary(("sign", "math.sign"), "torch.sign"),
    _unary(("sigmoid", "nn.sigmoid", "math.sigmoid"), "torch.sigmoid"),
    _unary(("tanh", "nn.tanh", "math.tanh"), "torch.tanh"),
    _unary(("nn.relu",), "torch.relu", param="features"),
    _unary(("nn.relu6",), "F.relu6", param="features"),
    _unary(("nn.elu",), "F.elu", param="features"),
    _unary(("nn.softplus", "math.softplus"), "F.softplus", param="features"),
    Op(("nn.leaky_relu",), ("features", "alpha"), "`F.leaky_relu`", _leaky_relu, same("features"),
       note="TF's slope 0.2 is written out (torch's default is 0.01)", graph="same"),
    Op(("nn.softmax", "math.softmax"), ("logits", "axis", "name", "dim"), "`torch.softmax`",
       _softmax("torch.softmax"), same("logits"), graph="axis"),
    Op(("nn.log_softmax", "math.log_softmax"), ("logits", "axis", "name", "dim"), "`torch.log_softmax`",
       _softmax("torch.log_softmax"), same("logits"), graph="axis"),
    Op(("clip_by_value",), ("t", "clip_value_min", "clip_value_max"), "`torch.clamp`",
       lambda a: call("torch.clamp", a.x("t"), a.x("clip_value_min"), a.x("clip_value_max")), same("t"),
       graph="same"),
    # reductions
    _reduction(("reduce_mean", "math.reduce_mean"), "torch.mean", "torch.mean"),
    _reduction(("reduce_sum", "math.reduce_sum"), "torch.sum", "torch.sum"),
    _reduction(("reduce_max", "math.reduce_max"), "torch.max", "torch.amax"),
    _reduction(("reduce_min", "math.reduce_min"), "torch.min", "torch.amin"),
    Op(("argmax", "math.argmax"), ("input", "axis", "name", "dimension", "output_type"), "`torch.argmax`",
       _argmax("torch.argmax"), _minus_one("input"), note="TF1's default axis 0 is written out"),
    Op(("argmin", "math.argmin"), ("input", "axis", "name", "dimension", "output_type"), "`torch.argmin`",
       _argmax("torch.argmin"), _minus_one("input"), note="TF1's default axis 0 is written out"),
    # losses
    Op(("nn.softmax_cross_entropy_with_logits",), ("labels", "logits", "dim", "name", "axis"),
       '`F.cross_entropy(..., reduction="none")`', lambda a: _softmax_xent(a, _NONE, stop_labels=True), _xent_rank,
       note="probability targets; under `tf.reduce_mean` the default mean reduction; labels computed from "
            "variables are detached, as TF1 stops their gradient"),
    Op(("nn.softmax_cross_entropy_with_logits_v2",), ("labels", "logits", "axis", "name", "dim"),
       '`F.cross_entropy(..., reduction="none")`', lambda a: _softmax_xent(a, _NONE), _xent_rank,
       note="as above"),
    Op(("nn.sparse_softmax_cross_entropy_with_logits",), ("labels", "logits", "name"),
       '`F.cross_entropy(..., reduction="none")`', lambda a: _sparse_xent(a, _NONE), _xent_rank,
       note="labels as int64"),
    Op(("nn.sigmoid_cross_entropy_with_logits",), ("labels", "logits", "name"),
       '`F.binary_cross_entropy_with_logits(..., reduction="none")`', lambda a: _sigmoid_xent(a, _NONE),
       same("logits")),
    Op(("losses.mean_squared_error",), ("labels", "predictions", "weights", "scope", "loss_collection", "reduction"),
       "`F.mse_loss`", _mse, lambda a: 0, fixed={"weights": 1.0, "reduction": "weighted_sum_by_nonzero_weights"},
       ignored=("name", "scope", "loss_collection")),
    Op(("nn.l2_loss",), ("t",), "`torch.sum(t ** 2) / 2`", _l2_loss, lambda a: 0),
    # dtypes and shapes
    Op(("cast", "dtypes.cast"), ("x", "dtype"), "`x.to(dtype)`", _cast, same("x")),
    Op(("to_float",), ("x",), "`x.to(torch.float32)`", lambda a: method(a.x("x"), "to", "torch.float32"), same("x")),
    Op(("reshape",), ("tensor", "shape"), "`torch.reshape`",
       lambda a: call("torch.reshape", a.x("tensor"), a.x("shape")), _shape_rank()),
    Op(("transpose",), ("a", "perm", "name", "conjugate"), "`torch.permute` / `.T`", _transpose, same("a"),
       fixed={"conjugate": False}),
    Op(("concat",), ("values", "axis"), "`torch.cat`", lambda a: call("torch.cat", a.x("values"), dim=a.x("axis"))),
    Op(("squeeze",), ("input", "axis", "name", "squeeze_dims"), "`torch.squeeze`", _squeeze),
    Op(("expand_dims",), ("input", "axis"), "`torch.unsqueeze`",
       lambda a: call("torch.unsqueeze", a.x("input"), a.x("axis")), _expand_rank),
    Op(("stack",), ("values", "axis", "name"), "`torch.stack`",
       lambda a: call("torch.stack", a.x("values"), dim=_first(a, "axis"))),
    Op(("stop_gradient",), ("input", "name"), "`x.detach()`", lambda a: method(a.x("input"), "detach"), same("input")),
    Op(("convert_to_tensor",), ("value", "dtype", "name", "preferred_dtype", "dtype_hint"), "`torch.as_tensor`",
       _convert_to_tensor, fixed={"preferred_dtype": None, "dtype_hint": None},
       note="Python ints as int32, like TF"),
    Op(("clip_by_norm",), ("t", "clip_norm", "axes", "name"), "`t * c / torch.clamp(norm(t), min=c)`", _clip_by_norm,
       same("t"), fixed={"axes": None}, note="TF's formula (torch's clip_grad_norm_ adds 1e-6 to the norm)"),
    # tensors from nothing
    Op(("zeros",), ("shape", "dtype"), "`torch.zeros`", _factory("torch.zeros"), _shape_rank()),
    Op(("ones",), ("shape", "dtype"), "`torch.ones`", _factory("torch.ones"), _shape_rank()),
    Op(("zeros_like",), ("tensor", "dtype", "name", "optimize"), "`torch.zeros_like`",
       lambda a: call("torch.zeros_like", a.x("tensor")), same("tensor"), fixed={"dtype": None},
       ignored=("name", "optimize")),
    Op(("ones_like",), ("tensor", "dtype", "name", "optimize"), "`torch.ones_like`",
       lambda a: call("torch.ones_like", a.x("tensor")), same("tensor"), fixed={"dtype": None},
       ignored=("name", "optimize")),
    Op(("fill",), ("dims", "value"), "`torch.full`", _fill, _shape_rank("dims")),
    Op(("constant",), ("value", "dtype", "shape", "name", "verify_shape"), "`torch.tensor`", _constant,
       _constant_rank, ignored=("name", "verify_shape")),
    Op(("random_normal", "random.normal"), _RANDOM_PARAMS, "`torch.randn` / `nn.init.normal_`", _random_normal,
       _shape_rank(), ignored=("name", "seed")),
    Op(("truncated_normal", "random.truncated_normal"), _RANDOM_PARAMS, "`nn.init.trunc_normal_`",
       _truncated_normal, _shape_rank(), ignored=("name", "seed"),
       note="cut at mean ± 2 stddev, as TF does"),
    Op(("random_uniform", "random.uniform"), ("shape", "minval", "maxval", "dtype", "seed", "name"),
       "`torch.rand` / `nn.init.uniform_`", _random_uniform, _shape_rank(), ignored=("name", "seed")),
]

#: ``tf.<name>`` (TF1 spelling, ``tf.compat.v1.`` folded) -> its row
BY_NAME: dict[str, Op] = {f"tf.{n}": op for op in OPS for n in op.names}

#: ops that draw random numbers: a tensor using them is re-drawn at every run, like the session does
RANDOM = frozenset({"tf.random_normal", "tf.random.normal", "tf.truncated_normal", "tf.random.truncated_normal",
                    "tf.random_uniform", "tf.random.uniform"})

#: TF constants -> the torch (or Python) expression with the same meaning
CONSTANTS = {
    "tf.newaxis": "None",  # x[..., tf.newaxis]: both index with None to add an axis
}

#: TF dtypes -> torch
DTYPES = {
    "float16": "torch.float16", "half": "torch.float16", "bfloat16": "torch.bfloat16",
    "float32": "torch.float32", "float": "torch.float32", "float64": "torch.float64", "double": "torch.float64",
    "int8": "torch.int8", "int16": "torch.int16", "int32": "torch.int32", "int64": "torch.int64",
    "uint8": "torch.uint8", "bool": "torch.bool", "complex64": "torch.complex64", "complex128": "torch.complex128",
}

# --------------------------------------------------------------------------- optimizers


@dataclass(frozen=True)
class OptimizerRow:
    """``tf.train.<tf>(...)`` -> ``<torch>(params, ...)`` with the same update rule."""

    tf: str
    torch: str
    params: tuple[str, ...]  # TF1 positional order
    defaults: dict[str, object]  # TF1 defaults; None: required
    #: TF argument -> torch keyword (Adam's beta1/beta2 both map to ``betas``, written as a pair)
    keywords: dict[str, str]
    #: TF arguments written even at their default (torch's default differs)
    always: tuple[str, ...] = ()
    #: torch keywords with a fixed value (what TF1 does that torch's default does not)
    fixed: dict[str, object] = field(default_factory=dict)
    helper: bool = False  # the torch class is a runtime helper copied into the output
    note: str = ""


#: arguments of every TF1 optimizer that change nothing in torch
OPTIMIZER_IGNORED = ("use_locking", "name")

OPTIMIZERS: dict[str, OptimizerRow] = {
    r.tf: r
    for r in [
        OptimizerRow("GradientDescentOptimizer", "torch.optim.SGD", ("learning_rate", "use_locking", "name"),
                     {"learning_rate": None}, {"learning_rate": "lr"}),
        OptimizerRow("MomentumOptimizer", "torch.optim.SGD",
                     ("learning_rate", "momentum", "use_locking", "name", "use_nesterov"),
                     {"learning_rate": None, "momentum": None, "use_nesterov": False},
                     {"learning_rate": "lr", "momentum": "momentum", "use_nesterov": "nesterov"},
                     note="the same update: accumulator = momentum * accumulator + gradient"),
        # TF1's Adam adds epsilon to sqrt(v) before the bias correction, like Keras: the runtime's
        # KerasAdam reproduces it step for step (torch.optim.Adam adds it after)
        OptimizerRow("AdamOptimizer", "KerasAdam", ("learning_rate", "beta1", "beta2", "epsilon", "use_locking", "name"),
                     {"learning_rate": 0.001, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-08},
                     {"learning_rate": "lr", "beta1": "betas", "beta2": "betas", "epsilon": "eps"},
                     always=("epsilon",), helper=True, note="epsilon where TF1 adds it (runtime helper)"),
        # TF1's Adagrad adds no epsilon: torch's with eps=0 is the same update
        OptimizerRow("AdagradOptimizer", "torch.optim.Adagrad",
                     ("learning_rate", "initial_accumulator_value", "use_locking", "name"),
                     {"learning_rate": None, "initial_accumulator_value": 0.1},
                     {"learning_rate": "lr", "initial_accumulator_value": "initial_accumulator_value"},
                     always=("initial_accumulator_value",), fixed={"eps": 0.0},
                     note="accumulator from 0.1, eps=0 (TF1 adds no epsilon)"),
        OptimizerRow("AdadeltaOptimizer", "torch.optim.Adadelta",
                     ("learning_rate", "rho", "epsilon", "use_locking", "name"),
                     {"learning_rate": 0.001, "rho": 0.95, "epsilon": 1e-08},
                     {"learning_rate": "lr", "rho": "rho", "epsilon": "eps"},
                     always=("learning_rate", "rho", "epsilon"), note="TF1's defaults written out"),
    ]
}

#: optimizers that cannot be mapped onto a torch optimizer without changing the update
OPTIMIZER_REASONS = {
    "RMSPropOptimizer": "RMSPropOptimizer starts its mean square at ones and adds epsilon inside the square root; "
                        "no torch optimizer does both (torch.optim.RMSprop starts at zeros)",
    "FtrlOptimizer": "FtrlOptimizer has no torch equivalent",
    "ProximalGradientDescentOptimizer": "ProximalGradientDescentOptimizer has no torch equivalent",
    "ProximalAdagradOptimizer": "ProximalAdagradOptimizer has no torch equivalent",
    "AdagradDAOptimizer": "AdagradDAOptimizer has no torch equivalent",
}

# --------------------------------------------------------------------------- what stays TODO, and why

#: name prefixes (TF1 spelling) -> why the construct is not translated; the longest prefix wins
REASONS = {
    "tf.while_loop": "graph-mode loop: write a Python loop over torch tensors",
    "tf.cond": "graph-mode conditional: write a Python if on the tensor's value",
    "tf.case": "graph-mode conditional: write a Python if/elif",
    "tf.map_fn": "graph-mode map: use a Python loop or torch.vmap",
    "tf.scan": "graph-mode scan: write a Python loop",
    "tf.train.Saver": "TF1 checkpoints are not translated: save the tensors with torch.save({'W': W, ...}, path)",
    "tf.train.import_meta_graph": "TF1 meta graphs cannot be loaded into torch",
    "tf.saved_model": "TF1 SavedModels are not translated",
    "tf.summary": "summaries are not translated: use torch.utils.tensorboard.SummaryWriter",
    "tf.train.string_input_producer": "input queues are not translated: iterate over arrays or a torch DataLoader",
    "tf.train.batch": "input queues are not translated: iterate over arrays or a torch DataLoader",
    "tf.train.shuffle_batch": "input queues are not translated: iterate over arrays or a torch DataLoader",
    "tf.train.start_queue_runners": "input queues are not translated: iterate over arrays or a torch DataLoader",
    "tf.train.Coordinator": "input queues are not translated: iterate over arrays or a torch DataLoader",
    "tf.FIFOQueue": "input queues are not translated: iterate over arrays or a torch DataLoader",
    "tf.RandomShuffleQueue": "input queues are not translated: iterate over arrays or a torch DataLoader",
    "tf.data": "tf.data pipelines are not translated: iterate over arrays or a torch DataLoader",
    "tf.layers": "tf.layers creates variables behind the scenes: write the weights as tensors, or use nn modules",
    "tf.nn.dropout": "dropout needs a train/eval switch: F.dropout(x, p=1 - keep_prob, training=...)",
    "tf.nn.conv2d": "convolutions are NHWC in TF and NCHW in torch: not translated yet",
    "tf.nn.max_pool": "pooling is NHWC in TF and NCHW in torch: not translated yet",
    "tf.nn.rnn_cell": "TF1 RNN cells are not translated",
    "tf.nn.dynamic_rnn": "TF1 RNN cells are not translated",
    "tf.contrib": "tf.contrib is gone from TensorFlow 2 and has no translation",
    "tf.assign": "explicit assignment ops: assign in place under torch.no_grad() (W.copy_(value))",
    "tf.group": "grouped ops: run the steps one after the other",
    "tf.control_dependencies": "control dependencies: Python runs statements in order",
    "tf.get_collection": "graph collections have no torch equivalent",
    "tf.trainable_variables": "list the tensors that require grad explicitly",
    "tf.global_variables": "list the tensors explicitly",
    "tf.gradients": "symbolic gradients: use torch.autograd.grad",
    "tf.clip_by_global_norm": "not translated: torch.nn.utils.clip_grad_norm_ scales by max_norm / (norm + 1e-6), "
                              "TF by clip_norm / max(norm, clip_norm); clip with those exact factors, or accept the "
                              "difference",
    "tf.train.exponential_decay": "learning-rate schedules: use torch.optim.lr_scheduler",
    "tf.shape": "dynamic shapes: use tensor.shape",
    "tf.placeholder_with_default": "placeholder_with_default is not translated: pass the default explicitly",
    "tf.one_hot": "one_hot is not translated yet: F.one_hot(indices.long(), depth).float()",
    "tf.py_func": "py_func: call the Python function directly",
    "tf.examples": "the TF1 tutorial datasets are gone from TensorFlow 2: load the data with numpy, "
                   "torchvision.datasets or keras.datasets",
}


def reason_for(name: str) -> str | None:
    best = None
    for prefix, why in REASONS.items():
        if (name == prefix or name.startswith(prefix + ".")) and (best is None or len(prefix) > len(best[0])):
            best = (prefix, why)
    return best[1] if best else None


_T, _C, _TODO = "translated", "translated, with a caveat", "marked TODO"

#: TF1 graph constructs for the README's construct table (area | construct | status | notes)
CONSTRUCTS: list[tuple[str, str, str]] = [
    ("`tf.placeholder` (and every `tf.compat.v1.*` spelling)", _T,
     "gone: the arrays fed to it become `torch.as_tensor(array, dtype=...)` where `sess.run` fed them"),
    ("`tf.Variable(...)` from `tf.zeros`/`ones`/`constant`/`fill`, a number or a numpy array", _T,
     "a tensor with `requires_grad=True` (not with `trainable=False`), the same values"),
    ("`tf.Variable(tf.random_normal / truncated_normal / random_uniform (...))`", _C,
     "the same distribution (`torch.randn`, `nn.init.trunc_normal_` cut at 2 stddev, `nn.init.uniform_`), "
     "not the same draws"),
    ("A graph tensor (`z = tf.matmul(x, W) + b`)", _T,
     "a function of the placeholders it depends on (`def z(x): return x @ W + b`), recomputed at each use "
     "like the session does; one depending on nothing is computed once"),
    ("`opt = tf.train.XOptimizer(...)`; `train_op = opt.minimize(loss[, var_list=...])`", _T,
     "a torch optimizer over the trainable tensors (see the optimizer table below)"),
    ("`sess.run(train_op / [train_op, loss, ...], feed_dict={...})`, `train_op.run(...)`", _T,
     "`zero_grad()`, `loss.backward()`, `step()`; other fetches are evaluated before the step under "
     "`torch.no_grad()`"),
    ("`sess.run(tensor or [tensors], feed_dict=...)`, `tensor.eval(...)`, also inside `print(...)`", _T,
     "under `torch.no_grad()`; scalars as Python numbers (`.item()`), others as numpy arrays"),
    ("`feed_dict` as a dict literal, or a variable bound to one just before", _T,
     "inlined when what it reads cannot have changed in between; otherwise TODO"),
    ("`with tf.Session() as sess:`, `sess = tf.Session()`, `InteractiveSession`, `sess.close()`, "
     "`tf.global_variables_initializer()` and its run, `tf.Graph().as_default()`, `name_scope`, "
     "`tf.reset_default_graph()`, `tf.disable_v2_behavior()`", _T, "unwrapped or dropped"),
    ("Helper functions that apply TF ops to their arguments", _T, "their ops are translated in place"),
    ("`tf.while_loop`, `tf.cond`, `tf.train.Saver`, `tf.summary.*`, queues, `tf.data`, `tf.layers`, "
     "`tf.nn.dropout`, `tf.get_variable`, `global_step`, `RMSPropOptimizer`, tensors rebound or built in "
     "loops, ops outside the table below", _TODO,
     "a TODO at the line with the reason; what depends on it stays TensorFlow too"),
]


def construct_rows() -> list[str]:
    """Rows continuing the README's construct table (``translator/support_table.py``)."""
    return [f"| TF1 graphs | {construct} | {status} | {note} |" for construct, status, note in CONSTRUCTS]


def table_rows() -> list[str]:
    """The README's TF1 op table (``translator/support_table.py``)."""
    rows = ["| TF1 op | PyTorch | notes |", "|---|---|---|"]
    for op in OPS:
        aliases = ", ".join(f"`tf.{n}`" for n in op.names[1:])
        note = "; ".join(x for x in (op.note, f"also {aliases}" if aliases else "") if x)
        rows.append(f"| `tf.{op.names[0]}` | {op.torch} | {note} |")
    return rows


def optimizer_rows() -> list[str]:
    rows = ["| TF1 optimizer | PyTorch | notes |", "|---|---|---|"]
    for r in OPTIMIZERS.values():
        rows.append(f"| `tf.train.{r.tf}` | `{r.torch}` | {r.note} |")
    for name, why in OPTIMIZER_REASONS.items():
        rows.append(f"| `tf.train.{name}` | TODO | {why} |")
    return rows
