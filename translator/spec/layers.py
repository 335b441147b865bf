"""The layer table: one row per Keras layer, the single source of truth for it.

A row names the Keras class, its positional signature and defaults, the torch module,
the layout it computes in, and a ``build`` function that is its shape rule and torch
code at once. ``weights`` gives the weight layout used by the converters (both
directions). Adding a layer is adding one ``LayerSpec(...)`` to ``LAYERS``.

Shapes are Keras shapes without the batch axis (channels last); ``Tensor.layout``
says whether the torch tensor currently is channels-last ("keras") or channels-first
("torch"). The emitter inserts the permutes when a layer needs the other one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from . import activations
from .values import UNKNOWN, Dim, Unsupported, Value, product
from .weights import BiasSplit, GateReorder, StackedBias, Transpose, WeightRule, rule

KERAS, TORCH, ANY = "keras", "torch", "any"

#: arguments every layer accepts that change nothing in the torch module
NEUTRAL_ARGS = frozenset(
    {"name", "input_shape", "input_dim", "batch_input_shape", "batch_size", "input_length", "trainable"}
)
#: arguments that only matter for training (init, regularisation): translated with a TODO
TRAINING_ONLY_ARGS = frozenset(
    {
        "kernel_initializer", "bias_initializer", "recurrent_initializer", "embeddings_initializer",
        "beta_initializer", "gamma_initializer", "moving_mean_initializer",
        "moving_variance_initializer", "depthwise_initializer", "pointwise_initializer",
        "kernel_regularizer", "bias_regularizer", "recurrent_regularizer", "activity_regularizer",
        "embeddings_regularizer", "beta_regularizer", "gamma_regularizer",
        "kernel_constraint", "bias_constraint", "recurrent_constraint", "embeddings_constraint",
        "beta_constraint", "gamma_constraint",
    }
)


@dataclass(frozen=True)
class Tensor:
    """What flows between layers during translation: a Keras shape and a torch layout."""

    shape: tuple[Dim, ...] | None  # None: unknown (no input shape given)
    layout: str = KERAS
    #: False when only the last axis is known (``input_shape=shape_variable``): layers that
    #: act on the last axis (Dense, LayerNormalization, activations) still translate
    rank_known: bool = True

    @property
    def rank(self) -> int | None:
        return None if self.shape is None or not self.rank_known else len(self.shape) + 1


@dataclass
class Built:
    """A layer made concrete for one input: torch module, forward lines, output."""

    module: str | None
    forward: list[str]
    output: Tensor
    init: list[str] = field(default_factory=list)
    weights: tuple[WeightRule, ...] = ()
    notes: list[str] = field(default_factory=list)
    #: ``__init__`` lines right after the module is built (``{m}`` is the module)
    setup: list[str] = field(default_factory=list)
    #: torch parameter -> its shape (what the weight rules must produce; unknown dims are None)
    shapes: dict[str, tuple[int | None, ...]] = field(default_factory=dict)


class Args:
    """A layer call's arguments, bound to the row's signature and defaults."""

    def __init__(self, spec: "LayerSpec", given: dict[str, Value]):
        self.spec = spec
        self.given = given

    def value(self, name: str):
        """The static value (default when not given); Unsupported when not static."""
        if name in self.given:
            v = self.given[name]
            if not v.known:
                raise Unsupported(f"{self.spec.keras}({name}={v.text}) is not a static value")
            return v.value
        return self.spec.defaults.get(name)

    def text(self, name: str) -> str:
        """Source text to emit for ``name`` (the user's own spelling when given)."""
        if name in self.given:
            return self.given[name].text
        return repr(self.spec.defaults.get(name))

    def dim(self, name: str) -> Dim:
        if name in self.given:
            return Dim.from_value(self.given[name])
        return Dim.of(self.spec.defaults[name])

    def tuple_of(self, name: str, n: int) -> tuple[int, ...]:
        """Keras' normalisation of an int-or-tuple argument (kernel_size, strides)."""
        v = self.value(name)
        if isinstance(v, int):
            return (v,) * n
        if isinstance(v, (tuple, list)) and len(v) == n and all(isinstance(i, int) for i in v):
            return tuple(v)
        raise Unsupported(f"{self.spec.keras}({name}={self.text(name)}) is not {n} integers")


@dataclass(frozen=True)
class LayerSpec:
    """One Keras layer and everything tfpt knows about its torch counterpart."""

    keras: str
    params: tuple[str, ...]
    defaults: dict[str, object]
    build: Callable[[Args, Tensor], Built]
    torch: str | None = None
    #: extra accepted arguments (not positional)
    extra: tuple[str, ...] = ()
    note: str = ""
    #: the layout a rank >= 3 input must be in (the emitter permutes to it)
    layout: str = ANY

    def bind(self, positional: list[Value], keywords: dict[str, Value]) -> Args:
        if len(positional) > len(self.params):
            raise Unsupported(f"{self.keras} takes at most {len(self.params)} positional arguments")
        given = dict(zip(self.params, positional))
        for k, v in keywords.items():
            if k in given:
                raise Unsupported(f"{self.keras} got {k} twice")
            given[k] = v
        return Args(self, given)


# --------------------------------------------------------------------------- helpers

#: permutes between Keras' channels-last and torch's channels-first, by rank
_TO_TORCH = {3: (0, 2, 1), 4: (0, 3, 1, 2), 5: (0, 4, 1, 2, 3)}
_TO_KERAS = {3: (0, 2, 1), 4: (0, 2, 3, 1), 5: (0, 2, 3, 4, 1)}


def shapes(**params: tuple) -> dict[str, tuple[int | None, ...]]:
    """Torch parameter shapes from Dims or ints (an unknown Dim becomes None); None entries dropped."""
    def n(d):
        return d if isinstance(d, int) or d is None else d.value

    return {k: tuple(n(d) for d in v) for k, v in params.items() if v is not None}


def _times(k: int, d: Dim):
    return None if d.value is None else k * d.value


def to_layout(t: Tensor, layout: str) -> tuple[list[str], Tensor]:
    """Forward lines that bring ``t`` into ``layout`` (none when already there)."""
    if layout == ANY or t.layout == layout or t.rank is None or t.rank < 3:
        return [], t if t.rank is None or t.rank >= 3 else Tensor(t.shape, KERAS)
    perm = (_TO_TORCH if layout == TORCH else _TO_KERAS)[t.rank]
    why = "channels-last (Keras) -> channels-first (torch)" if layout == TORCH else "back to channels-last, as Keras lays it out"
    return [f"x = x.permute{perm}  # {why}"], Tensor(t.shape, layout)



def _need_shape(t: Tensor, layer: str, rank: int | None = None, any_rank: bool = False) -> tuple[Dim, ...]:
    if t.shape is None:
        raise Unsupported(f"{layer}: the input shape is unknown (give the first layer input_shape= or start with keras.Input)")
    if not t.rank_known and not any_rank:
        raise Unsupported(f"{layer}: needs the input's rank; the input shape is not a static tuple")
    if rank is not None and len(t.shape) + 1 != rank:
        raise Unsupported(f"{layer} expects a rank-{rank} input, got rank {len(t.shape) + 1}")
    return t.shape


def _activation(args: Args, expr: str, t_out: Tensor) -> str:
    name = activations.activation_name(args.value("activation"))
    if name in activations.CHANNEL_AXIS and t_out.layout == TORCH:
        raise Unsupported(f"activation {name!r} on a channels-first tensor")
    return activations.apply(name, expr)


def _conv_out(size: Dim, k: int, s: int, d: int, padding: str) -> Dim:
    if not size.known:
        return Dim(f"({size.text})", None) if padding == "same" and s == 1 else Dim("?", None)
    n = size.value
    if padding == "same":
        return Dim.of(-(-n // s))
    return Dim.of((n - d * (k - 1) - 1) // s + 1)


def _same_pads(size: Dim, k: int, s: int, d: int, layer: str) -> tuple[int, int]:
    """TensorFlow's 'same' padding: total split with the extra pixel at the end."""
    if s == 1:
        total = d * (k - 1)
    else:
        if not size.known:
            raise Unsupported(f"{layer}: padding='same' with strides needs a known input size")
        n = size.value
        total = max((-(-n // s) - 1) * s + d * (k - 1) + 1 - n, 0)
    return total // 2, total - total // 2


def _check_channels_last(args: Args) -> None:
    fmt = args.value("data_format")
    if fmt not in (None, "channels_last"):
        raise Unsupported(f"{args.spec.keras}(data_format={fmt!r}) is not supported yet")


# --------------------------------------------------------------------------- dense & co


def _dense(args: Args, t: Tensor) -> Built:
    shape = _need_shape(t, "Dense", any_rank=True)  # both frameworks act on the last axis
    units = args.dim("units")
    bias = args.value("use_bias")
    out = Tensor(shape[:-1] + (units,), KERAS, t.rank_known)
    bias_arg = "" if bias else ", bias=False"
    weights = (rule("kernel", "weight", Transpose((1, 0))),) + ((rule("bias", "bias"),) if bias else ())
    return Built(
        module=f"nn.Linear({shape[-1].text}, {units.text}{bias_arg})",
        forward=[f"x = {_activation(args, '{m}(x)', out)}"],
        output=out,
        init=["glorot"],
        weights=weights,
        shapes=shapes(weight=(units, shape[-1]), bias=(units,) if bias else None),
    )


def _dropout(args: Args, t: Tensor) -> Built:
    if args.value("noise_shape") is not None:
        raise Unsupported("Dropout(noise_shape=...) is not supported yet")
    return Built(f"nn.Dropout({args.text('rate')})", ["x = {m}(x)"], t)


def _flatten(args: Args, t: Tensor) -> Built:
    _check_channels_last(args)
    shape = _need_shape(t, "Flatten")
    return Built(None, ["x = x.flatten(1)"], Tensor((product(shape),), KERAS))


def _reshape(args: Args, t: Tensor) -> Built:
    target = args.value("target_shape")
    if not isinstance(target, (tuple, list)) or not all(isinstance(i, int) for i in target):
        raise Unsupported("Reshape needs a static target_shape")
    shape = _need_shape(t, "Reshape")
    dims = [Dim.of(i) for i in target]
    if -1 in target and all(d.known for d in shape):
        known = 1
        for i in target:
            if i != -1:
                known *= i
        dims[target.index(-1)] = Dim.of(product(shape).value // known)
    spelled = ", ".join(str(i) for i in target)
    return Built(None, [f"x = x.reshape(x.shape[0], {spelled})"], Tensor(tuple(dims), KERAS))


def _activation_layer(args: Args, t: Tensor) -> Built:
    name = activations.activation_name(args.value("activation"))
    lines = []
    if name in activations.CHANNEL_AXIS:
        lines, t = to_layout(t, KERAS)
    return Built(None, lines + [f"x = {activations.apply(name, 'x')}"], t)


def _relu(args: Args, t: Tensor) -> Built:
    max_value, slope, threshold = args.value("max_value"), args.value("negative_slope"), args.value("threshold")
    if threshold != 0.0:
        raise Unsupported("ReLU(threshold=...) is not supported yet")
    if slope:
        if max_value is not None:
            raise Unsupported("ReLU with both negative_slope and max_value is not supported yet")
        return Built(None, [f"x = F.leaky_relu(x, negative_slope={args.text('negative_slope')})"], t)
    if max_value is not None:
        return Built(None, [f"x = torch.clamp(x, min=0.0, max={args.text('max_value')})"], t)
    return Built(None, ["x = torch.relu(x)"], t)


def _leaky_relu(args: Args, t: Tensor) -> Built:
    slope = args.text("alpha") if "alpha" in args.given else args.text("negative_slope")
    return Built(None, [f"x = F.leaky_relu(x, negative_slope={slope})"], t)


def _softmax(args: Args, t: Tensor) -> Built:
    lines, t = to_layout(t, KERAS)
    return Built(None, lines + [f"x = torch.softmax(x, dim={args.text('axis')})"], t)


# --------------------------------------------------------------------------- convolution & pooling


def _conv(n: int):
    def build(args: Args, t: Tensor) -> Built:
        _check_channels_last(args)
        layer = f"Conv{n}D"
        shape = _need_shape(t, layer, rank=n + 2)
        if args.value("groups") != 1:
            raise Unsupported(f"{layer}(groups=...) is not supported yet")
        k = args.tuple_of("kernel_size", n)
        s = args.tuple_of("strides", n)
        d = args.tuple_of("dilation_rate", n)
        if any(x != 1 for x in s) and any(x != 1 for x in d):
            raise Unsupported(f"{layer} with both strides and dilation_rate")
        padding = str(args.value("padding")).lower()
        if padding not in ("valid", "same"):
            raise Unsupported(f"{layer}(padding={padding!r}) is not supported yet")
        filters = args.dim("filters")
        spatial = shape[:-1]
        forward: list[str] = []
        pad_arg = ""
        if padding == "same" and all(x == 1 for x in s):
            pad_arg = ", padding='same'"  # torch splits odd totals like TensorFlow: extra at the end
        elif padding == "same":
            pads = [_same_pads(spatial[i], k[i], s[i], d[i], layer) for i in range(n)]
            if all(p[0] == p[1] for p in pads):
                if any(p[0] for p in pads):
                    pad_arg = ", padding=" + _compact(p[0] for p in pads)
            else:
                flat = [v for p in reversed(pads) for v in p]
                forward.append(f"x = F.pad(x, {_tuple(flat)})  # TensorFlow's 'same': the odd pixel goes at the end")
        out_shape = tuple(_conv_out(spatial[i], k[i], s[i], d[i], padding) for i in range(n)) + (filters,)
        out = Tensor(out_shape, TORCH)
        bias = args.value("use_bias")
        ksz = _compact(k)
        extra = ""
        if any(x != 1 for x in s):
            extra += ", stride=" + _compact(s)
        extra += pad_arg
        if any(x != 1 for x in d):
            extra += ", dilation=" + _compact(d)
        if not bias:
            extra += ", bias=False"
        forward.append(f"x = {_activation(args, '{m}(x)', out)}")
        kernel_perm = (2, 1, 0) if n == 1 else (3, 2, 0, 1)
        weights = (rule("kernel", "weight", Transpose(kernel_perm)),) + ((rule("bias", "bias"),) if bias else ())
        return Built(
            module=f"nn.Conv{n}d({shape[-1].text}, {filters.text}, {ksz}{extra})",
            forward=forward,
            output=out,
            init=["glorot"],
            weights=weights,
            shapes=shapes(weight=(filters, shape[-1], *k), bias=(filters,) if bias else None),
        )

    return build


def _compact(items) -> str:
    """``3`` for (3, 3): what a torch user writes when every axis agrees."""
    items = list(items)
    return str(items[0]) if len(set(items)) == 1 else _tuple(items)


def _tuple(items) -> str:
    items = list(items)
    return "(" + ", ".join(str(i) for i in items) + ("," if len(items) == 1 else "") + ")"


def _pool(n: int, kind: str):
    def build(args: Args, t: Tensor) -> Built:
        _check_channels_last(args)
        layer = f"{kind.title()}Pooling{n}D"
        shape = _need_shape(t, layer, rank=n + 2)
        k = args.tuple_of("pool_size", n)
        s = k if args.value("strides") is None else args.tuple_of("strides", n)
        padding = str(args.value("padding")).lower()
        spatial = shape[:-1]
        forward: list[str] = []
        extra = ""
        if padding == "same":
            pads = [_same_pads(spatial[i], k[i], s[i], 1, layer) for i in range(n)]
            if any(p != (0, 0) for p in pads):
                if kind == "average":
                    raise Unsupported(f"{layer}(padding='same') that needs padding is not supported yet")
                flat = [v for p in reversed(pads) for v in p]
                forward.append(f"x = F.pad(x, {_tuple(flat)}, value=float('-inf'))  # TensorFlow's 'same' pooling")
        elif padding != "valid":
            raise Unsupported(f"{layer}(padding={padding!r}) is not supported yet")
        ksz = _compact(k)
        if s != k:
            extra = ", stride=" + _compact(s)
        out_shape = tuple(_conv_out(spatial[i], k[i], s[i], 1, padding) for i in range(n)) + (shape[-1],)
        cls = "MaxPool" if kind == "max" else "AvgPool"
        forward.append("x = {m}(x)")
        return Built(f"nn.{cls}{n}d({ksz}{extra})", forward, Tensor(out_shape, TORCH))

    return build


def _global_pool(n: int, kind: str):
    def build(args: Args, t: Tensor) -> Built:
        _check_channels_last(args)
        shape = _need_shape(t, f"Global{kind.title()}Pooling{n}D", rank=n + 2)
        keep = bool(args.value("keepdims"))
        if keep:
            raise Unsupported("global pooling with keepdims=True is not supported yet")
        # reduce the spatial axes wherever they are in the current layout
        axes = tuple(range(2, 2 + n)) if t.layout == TORCH else tuple(range(1, 1 + n))
        dim = str(axes[0]) if n == 1 else _tuple(axes)
        op = "mean" if kind == "average" else "amax"
        return Built(None, [f"x = x.{op}(dim={dim})"], Tensor((shape[-1],), KERAS))

    return build


# --------------------------------------------------------------------------- normalisation & embedding


def _single_axis(axis):
    """Keras takes ``axis=-1`` or ``axis=[-1]`` (and saves the list form)."""
    if isinstance(axis, (tuple, list)) and len(axis) == 1:
        return axis[0]
    return axis


def _batch_norm(args: Args, t: Tensor) -> Built:
    shape = _need_shape(t, "BatchNormalization")
    if _single_axis(args.value("axis")) not in (-1, len(shape)):
        raise Unsupported("BatchNormalization(axis=...) other than the channel axis")
    if not args.value("center") or not args.value("scale"):
        raise Unsupported("BatchNormalization(center=False/scale=False) is not supported yet")
    rank = len(shape) + 1
    if rank not in (2, 3, 4, 5):
        raise Unsupported(f"BatchNormalization on a rank-{rank} input")
    momentum = args.value("momentum")
    eps = args.text("epsilon")
    cls = {2: "BatchNorm1d", 3: "BatchNorm1d", 4: "BatchNorm2d", 5: "BatchNorm3d"}[rank]
    torch_momentum = round(1 - float(momentum), 10)
    # rank 2 has no layout question; rank >= 3 normalises channels, which torch wants first
    layout = TORCH if rank >= 3 else KERAS
    return Built(
        module=f"nn.{cls}({shape[-1].text}, eps={eps}, momentum={torch_momentum!r})",
        forward=["x = {m}(x)"],
        output=Tensor(shape, layout),
        weights=(
            rule("gamma", "weight"),
            rule("beta", "bias"),
            rule("moving_mean", "running_mean"),
            rule("moving_variance", "running_var"),
        ),
        shapes=shapes(**{k: (shape[-1],) for k in ("weight", "bias", "running_mean", "running_var")}),
    )


def _layer_norm(args: Args, t: Tensor) -> Built:
    shape = _need_shape(t, "LayerNormalization", any_rank=True)
    if _single_axis(args.value("axis")) not in (-1, len(shape)):
        raise Unsupported("LayerNormalization(axis=...) other than the last axis")
    if not args.value("center") or not args.value("scale"):
        raise Unsupported("LayerNormalization(center=False/scale=False) is not supported yet")
    if args.value("rms_scaling"):
        raise Unsupported("LayerNormalization(rms_scaling=True) is not supported yet")
    return Built(
        module=f"nn.LayerNorm({shape[-1].text}, eps={args.text('epsilon')})",
        forward=["x = {m}(x)"],
        output=Tensor(shape, KERAS, t.rank_known),
        weights=(rule("gamma", "weight"), rule("beta", "bias")),
        shapes=shapes(weight=(shape[-1],), bias=(shape[-1],)),
    )


def _embedding(args: Args, t: Tensor) -> Built:
    if args.value("mask_zero"):
        raise Unsupported("Embedding(mask_zero=True): masking has no torch equivalent in tfpt yet")
    shape = t.shape if t.shape is not None else None
    out_dim = args.dim("output_dim")
    out = Tensor(None if shape is None else shape + (out_dim,), KERAS)
    return Built(
        module=f"nn.Embedding({args.text('input_dim')}, {out_dim.text})",
        # Keras casts indices to int; torch requires them integral
        forward=["x = {m}(x.long())"],
        output=out,
        init=["embedding"],
        weights=(rule("embeddings", "weight"),),
        shapes=shapes(weight=(args.dim("input_dim"), out_dim)),
    )


# --------------------------------------------------------------------------- recurrent

#: per recurrent kind: torch class, gate count, gate order Keras -> torch, init kind
_RNN = {
    "LSTM": ("nn.LSTM", 4, None, "lstm"),
    "GRU": ("nn.GRU", 3, (1, 0, 2), "gru"),
    "SimpleRNN": ("nn.RNN", 1, None, "rnn"),
}


def _recurrent_checks(args: Args, kind: str) -> None:
    for flag in ("return_state", "go_backwards", "stateful"):
        if args.value(flag):
            raise Unsupported(f"{kind}({flag}=True) is not supported yet")
    for rate in ("dropout", "recurrent_dropout"):
        if args.value(rate):
            raise Unsupported(f"{kind}({rate}=...) has no torch equivalent (per-step masks)")
    if not args.value("use_bias"):
        raise Unsupported(f"{kind}(use_bias=False) is not supported yet")
    act = args.value("activation")
    if kind == "SimpleRNN":
        if act not in activations.RNN_NONLINEARITY:
            raise Unsupported(f"SimpleRNN(activation={act!r}): torch nn.RNN has only tanh and relu")
    elif act != "tanh":
        raise Unsupported(f"{kind}(activation={act!r}): torch has only tanh")
    if kind != "SimpleRNN" and args.value("recurrent_activation") != "sigmoid":
        raise Unsupported(f"{kind}(recurrent_activation=...): torch has only sigmoid")
    if kind == "GRU" and not args.value("reset_after"):
        raise Unsupported("GRU(reset_after=False) has no torch equivalent")
    if kind == "LSTM" and not args.value("unit_forget_bias"):
        pass  # only changes the initial forget bias: the init lines below follow it


def recurrent_weights(kind: str, suffix: str = "") -> tuple[WeightRule, ...]:
    """Weight rules of one Keras recurrent cell as torch layer-0 parameters."""
    _, _, order, _ = _RNN[kind]
    w = GateReorder(order, (1, 0)) if order else Transpose((1, 0))
    bias = StackedBias(order) if kind == "GRU" else BiasSplit(order)
    return (
        rule("kernel", f"weight_ih_l0{suffix}", w),
        rule("recurrent_kernel", f"weight_hh_l0{suffix}", w),
        WeightRule(("bias",), (f"bias_ih_l0{suffix}", f"bias_hh_l0{suffix}"), bias),
    )


def recurrent_shapes(kind: str, features: Dim, units: Dim, suffix: str = "") -> dict:
    """torch's layer-0 parameter shapes of one recurrent direction."""
    rows = _times(_RNN[kind][1], units)
    return shapes(**{f"weight_ih_l0{suffix}": (rows, features), f"weight_hh_l0{suffix}": (rows, units),
                     f"bias_ih_l0{suffix}": (rows,), f"bias_hh_l0{suffix}": (rows,)})


def freeze_split_biases(weights: tuple[WeightRule, ...]) -> list[str]:
    """Keras has one bias where torch has two (BiasSplit): torch's second stays zero and frozen.

    Otherwise both get the same gradient and training moves the sum twice as fast as Keras.
    """
    return [f"{{m}}.{r.torch[1]}.requires_grad_(False)  # Keras has one bias: this one stays zero"
            for r in weights if isinstance(r.transform, BiasSplit)]


def _recurrent_module(kind: str, args: Args, t: Tensor, bidirectional: bool) -> tuple[str, Dim, bool]:
    shape = _need_shape(t, kind, rank=3)
    _recurrent_checks(args, kind)
    cls = _RNN[kind][0]
    units = args.dim("units")
    extra = ""
    if kind == "SimpleRNN" and args.value("activation") == "relu":
        extra += ", nonlinearity='relu'"
    if bidirectional:
        extra += ", bidirectional=True"
    return f"{cls}({shape[-1].text}, {units.text}, batch_first=True{extra})", units, bool(args.value("return_sequences"))


def _recurrent(kind: str):
    def build(args: Args, t: Tensor) -> Built:
        module, units, seqs = _recurrent_module(kind, args, t, bidirectional=False)
        shape = t.shape
        init = [_RNN[kind][3]] + (["forget_bias"] if kind == "LSTM" and args.value("unit_forget_bias") else [])
        if seqs:
            forward = ["x, _ = {m}(x)"]
            out = Tensor(shape[:-1] + (units,), KERAS)
        else:
            state = "(h, _)" if kind == "LSTM" else "h"
            forward = [f"_, {state} = {{m}}(x)", "x = h[-1]"]
            out = Tensor((units,), KERAS)
        weights = recurrent_weights(kind)
        return Built(module, forward, out, init=init, weights=weights, setup=freeze_split_biases(weights),
                     shapes=recurrent_shapes(kind, shape[-1], units))

    return build


RECURRENT_PARAMS = ("units", "activation", "recurrent_activation", "use_bias")
_RECURRENT_DEFAULTS = {
    "activation": "tanh", "recurrent_activation": "sigmoid", "use_bias": True,
    "return_sequences": False, "return_state": False, "go_backwards": False, "stateful": False,
    "unroll": False, "dropout": 0.0, "recurrent_dropout": 0.0, "unit_forget_bias": True,
    "reset_after": True, "seed": None,
}


def _bidirectional(args: Args, t: Tensor) -> Built:
    inner = args.value("layer")
    if not isinstance(inner, InnerLayer) or inner.kind not in _RNN:
        raise Unsupported("Bidirectional wraps an LSTM, GRU or SimpleRNN layer in tfpt")
    if args.value("merge_mode") != "concat":
        raise Unsupported(f"Bidirectional(merge_mode={args.value('merge_mode')!r}) is not supported yet")
    if args.value("backward_layer") is not None:
        raise Unsupported("Bidirectional(backward_layer=...) is not supported yet")
    kind = inner.kind
    module, units, seqs = _recurrent_module(kind, inner.args, t, bidirectional=True)
    both = Dim.of(2 * units.value) if units.known else Dim(f"2 * {units.text}")
    if seqs:
        forward = ["x, _ = {m}(x)"]
        out = Tensor(t.shape[:-1] + (both,), KERAS)
    else:
        state = "(h, _)" if kind == "LSTM" else "h"
        # h[-2] is the forward direction's last state, h[-1] the backward one's
        forward = [f"_, {state} = {{m}}(x)", "x = torch.cat([h[-2], h[-1]], dim=-1)"]
        out = Tensor((both,), KERAS)
    init = [_RNN[kind][3]] + (["forget_bias"] if kind == "LSTM" and inner.args.value("unit_forget_bias") else [])
    weights = tuple(
        WeightRule(tuple(f"{side}/{k}" for k in r.keras), r.torch, r.transform)
        for side, suffix in (("forward", ""), ("backward", "_reverse"))
        for r in recurrent_weights(kind, suffix)
    )
    return Built(module, forward, out, init=init, weights=weights, setup=freeze_split_biases(weights),
                 shapes={**recurrent_shapes(kind, t.shape[-1], units),
                         **recurrent_shapes(kind, t.shape[-1], units, "_reverse")})


@dataclass(frozen=True)
class InnerLayer:
    """A layer passed as an argument (Bidirectional's ``layer``), already bound."""

    kind: str
    args: Args


# --------------------------------------------------------------------------- the table

_CONV_DEFAULTS = {
    "strides": 1, "padding": "valid", "data_format": None, "dilation_rate": 1, "groups": 1,
    "activation": None, "use_bias": True,
}
_CONV_PARAMS = ("filters", "kernel_size", "strides", "padding", "data_format", "dilation_rate", "groups", "activation", "use_bias")
_POOL_PARAMS = ("pool_size", "strides", "padding", "data_format")


def _pool_spec(n: int, kind: str, name: str) -> LayerSpec:
    return LayerSpec(
        name, _POOL_PARAMS,
        {"pool_size": 2 if n == 1 else (2, 2), "strides": None, "padding": "valid", "data_format": None},
        _pool(n, kind), torch=f"nn.{'MaxPool' if kind == 'max' else 'AvgPool'}{n}d", layout=TORCH,
    )


def _global_spec(n: int, kind: str, name: str) -> LayerSpec:
    return LayerSpec(
        name, ("data_format", "keepdims"), {"data_format": None, "keepdims": False},
        _global_pool(n, kind), torch=f"Tensor.{'mean' if kind == 'average' else 'amax'}",
    )


_RNN_NOTES = {
    "LSTM": "batch_first; one Keras bias -> bias_ih (bias_hh zero); forget bias 1 at init",
    "GRU": "reset_after=True only; gates (z, r, h) reordered to torch's (r, z, n)",
    "SimpleRNN": "tanh or relu",
}


#: arguments only some recurrent layers take (Keras rejects them on the others)
_RECURRENT_ONLY = {"recurrent_activation": ("LSTM", "GRU"), "unit_forget_bias": ("LSTM",), "reset_after": ("GRU",)}


def _recurrent_spec(kind: str) -> LayerSpec:
    defaults = {k: v for k, v in _RECURRENT_DEFAULTS.items() if kind in _RECURRENT_ONLY.get(k, (kind,))}
    # Keras' SimpleRNN has no recurrent_activation: its third positional argument is use_bias
    params = tuple(p for p in RECURRENT_PARAMS if p in defaults or p == "units")
    return LayerSpec(
        kind, params, {"units": None, **defaults}, _recurrent(kind), torch=_RNN[kind][0], layout=KERAS,
        note=_RNN_NOTES[kind],
        extra=tuple(k for k in defaults if k not in params),
    )


_SPECS = [
    LayerSpec("Dense", ("units", "activation", "use_bias"), {"activation": None, "use_bias": True}, _dense, torch="nn.Linear", layout=KERAS, note="glorot-uniform kernel, zero bias"),
    LayerSpec("Dropout", ("rate", "noise_shape", "seed"), {"noise_shape": None, "seed": None}, _dropout, torch="nn.Dropout"),
    LayerSpec("Flatten", ("data_format",), {"data_format": None}, _flatten, torch="Tensor.flatten", layout=KERAS,
              note="after convolutions the tensor is permuted back to channels-last first, so the next Dense keeps Keras' row order"),
    LayerSpec("Reshape", ("target_shape",), {}, _reshape, torch="Tensor.reshape", layout=KERAS),
    LayerSpec("Activation", ("activation",), {}, _activation_layer, torch="torch activation functions"),
    LayerSpec("ReLU", ("max_value", "negative_slope", "threshold"), {"max_value": None, "negative_slope": 0.0, "threshold": 0.0}, _relu, torch="torch.relu"),
    LayerSpec("LeakyReLU", ("negative_slope",), {"negative_slope": 0.3}, _leaky_relu, torch="F.leaky_relu", extra=("alpha",), note="Keras' default slope 0.3 is kept"),
    LayerSpec("Softmax", ("axis",), {"axis": -1}, _softmax, torch="torch.softmax"),
    LayerSpec("Conv1D", _CONV_PARAMS, {**_CONV_DEFAULTS}, _conv(1), torch="nn.Conv1d", layout=TORCH,
              note="(N, L, C) input permuted to (N, C, L); strided 'same' padded like TensorFlow"),
    LayerSpec("Conv2D", _CONV_PARAMS, {**_CONV_DEFAULTS, "strides": (1, 1), "dilation_rate": (1, 1)}, _conv(2), torch="nn.Conv2d", layout=TORCH,
              note="NHWC input permuted to NCHW; strided 'same' padded like TensorFlow"),
    _pool_spec(1, "max", "MaxPooling1D"),
    _pool_spec(2, "max", "MaxPooling2D"),
    _pool_spec(1, "average", "AveragePooling1D"),
    _pool_spec(2, "average", "AveragePooling2D"),
    _global_spec(1, "average", "GlobalAveragePooling1D"),
    _global_spec(2, "average", "GlobalAveragePooling2D"),
    _global_spec(1, "max", "GlobalMaxPooling1D"),
    _global_spec(2, "max", "GlobalMaxPooling2D"),
    LayerSpec(
        "BatchNormalization", ("axis", "momentum", "epsilon", "center", "scale"),
        {"axis": -1, "momentum": 0.99, "epsilon": 0.001, "center": True, "scale": True}, _batch_norm,
        torch="nn.BatchNorm1d/2d/3d", layout=TORCH, note="momentum 0.99 becomes torch momentum 0.01; eps 1e-3 kept",
    ),
    LayerSpec(
        # rms_scaling is keyword-only: Keras 3.x moved it out of the positional arguments
        "LayerNormalization", ("axis", "epsilon", "center", "scale"),
        {"axis": -1, "epsilon": 0.001, "center": True, "scale": True, "rms_scaling": False}, _layer_norm,
        torch="nn.LayerNorm", note="eps 1e-3 kept", layout=KERAS, extra=("rms_scaling",),
    ),
    LayerSpec("Embedding", ("input_dim", "output_dim"), {"mask_zero": False}, _embedding, torch="nn.Embedding", extra=("mask_zero",), layout=KERAS,
              note="uniform(-0.05, 0.05) init; mask_zero is not supported"),
    _recurrent_spec("LSTM"),
    _recurrent_spec("GRU"),
    _recurrent_spec("SimpleRNN"),
    LayerSpec(
        "Bidirectional", ("layer", "merge_mode", "weights", "backward_layer"),
        {"merge_mode": "concat", "weights": None, "backward_layer": None}, _bidirectional,
        torch="nn.LSTM/GRU/RNN(bidirectional=True)", layout=KERAS,
    ),
]

#: Keras class name -> its row
LAYERS: dict[str, LayerSpec] = {s.keras: s for s in _SPECS}

#: Keras 1/2 and tf.keras aliases of the same layers
ALIASES = {
    "MaxPool1D": "MaxPooling1D", "MaxPool2D": "MaxPooling2D",
    "AvgPool1D": "AveragePooling1D", "AvgPool2D": "AveragePooling2D",
    "GlobalAvgPool1D": "GlobalAveragePooling1D", "GlobalAvgPool2D": "GlobalAveragePooling2D",
    "GlobalMaxPool1D": "GlobalMaxPooling1D", "GlobalMaxPool2D": "GlobalMaxPooling2D",
    "Convolution1D": "Conv1D", "Convolution2D": "Conv2D",
}


def lookup(name: str) -> LayerSpec | None:
    """The row for a Keras layer class name (aliases included)."""
    return LAYERS.get(ALIASES.get(name, name))


def accepted_args(spec: LayerSpec) -> frozenset[str]:
    return frozenset(spec.params) | frozenset(spec.extra) | frozenset(spec.defaults)


__all__ = [
    "ANY", "KERAS", "TORCH", "Args", "Built", "InnerLayer", "LAYERS", "LayerSpec", "NEUTRAL_ARGS",
    "TRAINING_ONLY_ARGS", "Tensor", "UNKNOWN", "Unsupported", "lookup", "recurrent_weights",
]
