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

import re
from dataclasses import dataclass, field
from typing import Callable

from . import activations
from .values import UNKNOWN, Dim, Unsupported, Value, product
from .weights import (AttentionInput, AttentionOutput, BiasSplit, Depthwise, GateReorder, Reshape, StackedBias, Transpose,
                      WeightRule, rule)

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
        "depthwise_regularizer", "pointwise_regularizer", "depthwise_constraint", "pointwise_constraint",
        "alpha_initializer", "alpha_regularizer", "alpha_constraint",
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
    #: ``__init__`` lines right after the module is built (``{m}`` is the module): buffers, frozen parameters
    setup: list[str] = field(default_factory=list)
    #: ``reset_parameters()`` lines (``{m}`` is the module): Keras' initialisation where no shared ``init``
    #: kind covers it, kept with the others so that re-initialising a model starts from Keras' values again
    reset: list[str] = field(default_factory=list)
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


@dataclass(frozen=True)
class CallSpec(LayerSpec):
    """A layer called on several tensors given as separate arguments (``mha(query, value, key)``).

    ``inputs`` names the call's tensor arguments in Keras' order (an optional one not given
    is left out), ``call_defaults`` its other arguments with Keras' defaults. The shape rule
    is ``build_call(args, options, tensors, exprs)``, tensors and their torch expressions
    keyed by argument name; the plain ``build`` is what a Sequential model reaches, and
    refuses (Keras' Sequential passes one tensor).
    """

    inputs: tuple[str, ...] = ()
    call_defaults: dict = field(default_factory=dict)
    build_call: Callable | None = None

    def bind_call(self, given: list[tuple[str | None, object]]) -> tuple[list[str], list, dict]:
        """A call's ``(keyword or None, value)`` arguments -> (tensor argument names, their values, options)."""
        names = self.inputs + tuple(self.call_defaults)
        positional = [v for k, v in given if k is None]
        if len(positional) > len(names):
            raise Unsupported(f"{self.keras} called with {len(positional)} positional arguments")
        bound = dict(zip(names, positional))
        for k, v in given:
            if k is None:
                continue
            if k not in names or k in bound:
                raise Unsupported(f"calling {self.keras} with {k}=... is not translated")
            bound[k] = v
        present = [n for n in self.inputs if bound.get(n) is not None]
        return present, [bound[n] for n in present], {k: bound.get(k, d) for k, d in self.call_defaults.items()}

    def call_text(self, n: int, options: dict) -> str:
        """The Keras call, ``{layer}`` and ``{0}``, ``{1}``... for the layer and its tensors (verify rebuilds it)."""
        extra = [f"{k}={v!r}" for k, v in options.items() if v != self.call_defaults[k]]
        return "{layer}(" + ", ".join([f"{{{i}}}" for i in range(n)] + extra) + ")"


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


def _window(args: Args, layer: str, n: int, dilation: bool = True) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...], str]:
    """A convolution's kernel size, strides, dilation and padding mode, checked."""
    k = args.tuple_of("kernel_size", n)
    s = args.tuple_of("strides", n)
    d = args.tuple_of("dilation_rate", n)
    if any(x != 1 for x in d) and not dilation:
        raise Unsupported(f"{layer}(dilation_rate=...) is not supported (TensorFlow's CPU kernels reject it too)")
    if any(x != 1 for x in s) and any(x != 1 for x in d):
        raise Unsupported(f"{layer} with both strides and dilation_rate")
    padding = str(args.value("padding")).lower()
    if padding not in ("valid", "same"):
        raise Unsupported(f"{layer}(padding={padding!r}) is not supported yet")
    return k, s, d, padding


def _conv_padding(spatial, k, s, d, padding: str, layer: str) -> tuple[str, list[str]]:
    """torch's ``padding=`` argument text and any forward lines that pad first (TensorFlow's 'same')."""
    n = len(k)
    if padding == "same" and all(x == 1 for x in s):
        return ", padding='same'", []  # torch splits odd totals like TensorFlow: extra at the end
    if padding == "same":
        pads = [_same_pads(spatial[i], k[i], s[i], d[i], layer) for i in range(n)]
        if all(p[0] == p[1] for p in pads):
            return (", padding=" + _compact(p[0] for p in pads)) if any(p[0] for p in pads) else "", []
        flat = [v for p in reversed(pads) for v in p]
        return "", [f"x = F.pad(x, {_tuple(flat)})  # TensorFlow's 'same': the odd pixel goes at the end"]
    return "", []


def _conv_options(s, pad_arg: str, d, bias: bool) -> str:
    """``stride=``, ``padding=``, ``dilation=``, ``bias=`` as torch writes them (defaults left out)."""
    extra = ""
    if any(x != 1 for x in s):
        extra += ", stride=" + _compact(s)
    extra += pad_arg
    if any(x != 1 for x in d):
        extra += ", dilation=" + _compact(d)
    if not bias:
        extra += ", bias=False"
    return extra


def _kernel_perm(n: int) -> tuple[int, ...]:
    """Keras (*k, a, b) -> torch (b, a, *k): HWIO -> OIHW for convolutions, (k, out, in) -> (in, out, k) for transposed ones."""
    return (n + 1, n, *range(n))


def _conv(n: int):
    def build(args: Args, t: Tensor) -> Built:
        _check_channels_last(args)
        layer = f"Conv{n}D"
        shape = _need_shape(t, layer, rank=n + 2)
        if args.value("groups") != 1:
            raise Unsupported(f"{layer}(groups=...) is not supported yet")
        k, s, d, padding = _window(args, layer, n)
        filters = args.dim("filters")
        spatial = shape[:-1]
        pad_arg, forward = _conv_padding(spatial, k, s, d, padding, layer)
        out_shape = tuple(_conv_out(spatial[i], k[i], s[i], d[i], padding) for i in range(n)) + (filters,)
        out = Tensor(out_shape, TORCH)
        bias = args.value("use_bias")
        forward.append(f"x = {_activation(args, '{m}(x)', out)}")
        weights = (rule("kernel", "weight", Transpose(_kernel_perm(n))),) + ((rule("bias", "bias"),) if bias else ())
        return Built(
            module=f"nn.Conv{n}d({shape[-1].text}, {filters.text}, {_compact(k)}{_conv_options(s, pad_arg, d, bias)})",
            forward=forward,
            output=out,
            init=["glorot"],
            weights=weights,
            shapes=shapes(weight=(filters, shape[-1], *k), bias=(filters,) if bias else None),
        )

    return build


def _transpose_geometry(size: Dim, k: int, s: int, padding: str, output_padding: int | None) -> tuple[Dim, int, int, int]:
    """Keras' transposed-convolution output size and torch's (padding, output_padding, end trim) for one axis.

    Keras asks TensorFlow for an output of size O (``input * stride`` for 'same'); TensorFlow
    then crops the full transposed output (length ``(I - 1) * s + k``) like the matching
    forward convolution pads: ``total // 2`` at the start. torch crops ``padding`` from both
    ends and adds ``output_padding`` at the end, so what is left over is trimmed after the
    call. The three numbers do not depend on the input size.
    """
    def out_len(i: int) -> int:
        if padding == "valid":
            return (i - 1) * s + k + (max(k, s) - k if output_padding is None else output_padding)
        return i * s if output_padding is None else (i - 1) * s + k % 2 + output_padding

    i = size.value if size.known else 1
    o = out_len(i)
    start = 0 if padding == "valid" else max((-(-o // s) - 1) * s + k - o, 0) // 2
    torch_op = o - ((i - 1) * s + k) + 2 * start
    trim = max(-torch_op, 0)
    torch_op = max(torch_op, 0)
    if torch_op >= s:
        raise Unsupported(f"output_padding={output_padding} with strides={s} has no torch equivalent")
    out = Dim.of(o) if size.known else Dim("?", None)
    return out, start, torch_op, trim


def _conv_transpose(n: int):
    def build(args: Args, t: Tensor) -> Built:
        _check_channels_last(args)
        layer = f"Conv{n}DTranspose"
        shape = _need_shape(t, layer, rank=n + 2)
        k, s, d, padding = _window(args, layer, n, dilation=False)
        op = args.value("output_padding")
        ops = (None,) * n if op is None else args.tuple_of("output_padding", n)
        filters = args.dim("filters")
        geometry = [_transpose_geometry(shape[i], k[i], s[i], padding, ops[i]) for i in range(n)]
        extra = ""
        if any(x != 1 for x in s):
            extra += ", stride=" + _compact(s)
        if any(g[1] for g in geometry):
            extra += ", padding=" + _compact(g[1] for g in geometry)
        if any(g[2] for g in geometry):
            extra += ", output_padding=" + _compact(g[2] for g in geometry)
        bias = args.value("use_bias")
        if not bias:
            extra += ", bias=False"
        out = Tensor(tuple(g[0] for g in geometry) + (filters,), TORCH)
        forward = [f"x = {_activation(args, '{m}(x)', out)}"]
        if any(g[3] for g in geometry):
            index = ", ".join([":", ":"] + [f":-{g[3]}" if g[3] else ":" for g in geometry])
            forward = ["x = {m}(x)",
                       f"x = x[{index}]  # TensorFlow's 'same' crops the odd pixel at the end",
                       f"x = {_activation(args, 'x', out)}"]
            forward = [line for line in forward if line != "x = x"]
        weights = (rule("kernel", "weight", Transpose(_kernel_perm(n))),) + ((rule("bias", "bias"),) if bias else ())
        return Built(
            module=f"nn.ConvTranspose{n}d({shape[-1].text}, {filters.text}, {_compact(k)}{extra})",
            forward=forward,
            output=out,
            init=["glorot"],  # torch's (in, out, *k) weight has Keras' (*k, out, in) fans: same bound
            weights=weights,
            shapes=shapes(weight=(shape[-1], filters, *k), bias=(filters,) if bias else None),
        )

    return build


def _depthwise_parts(args: Args, t: Tensor, layer: str, n: int) -> tuple:
    """The depthwise stage shared by DepthwiseConv and SeparableConv: module text, forward prelude,
    output spatial dims, channels out, multiplier, init line and weight shape."""
    _check_channels_last(args)
    shape = _need_shape(t, layer, rank=n + 2)
    k, s, d, padding = _window(args, layer, n)
    mult = args.value("depth_multiplier")
    if not isinstance(mult, int) or isinstance(mult, bool) or mult < 1:
        raise Unsupported(f"{layer}(depth_multiplier={args.text('depth_multiplier')}) must be a positive integer")
    channels = shape[-1]
    if mult == 1:
        out_channels = channels
    elif channels.known:
        out_channels = Dim.of(channels.value * mult)
    else:
        out_channels = Dim(f"{channels.text} * {mult}")
    spatial = shape[:-1]
    pad_arg, prelude = _conv_padding(spatial, k, s, d, padding, layer)
    out_spatial = tuple(_conv_out(spatial[i], k[i], s[i], d[i], padding) for i in range(n))
    options = _conv_options(s, pad_arg, d, True)
    module = f"nn.Conv{n}d({channels.text}, {out_channels.text}, {_compact(k)}{options}, groups={channels.text}"
    view = ", ".join([channels.text, str(mult), *map(str, k)])
    # Keras' glorot fans come from the (*k, in, multiplier) kernel, not torch's (in * multiplier, 1, *k)
    init = f"nn.init.xavier_uniform_({{m}}.weight.view({view}))  # Keras' fans: the (*kernel, in, multiplier) kernel"
    weight_shape = (out_channels, 1, *k)
    return module, prelude, out_spatial, out_channels, mult, init, weight_shape


def _depthwise_conv(n: int):
    def build(args: Args, t: Tensor) -> Built:
        layer = f"DepthwiseConv{n}D"
        module, forward, out_spatial, out_channels, mult, init, weight_shape = _depthwise_parts(args, t, layer, n)
        bias = args.value("use_bias")
        out = Tensor(out_spatial + (out_channels,), TORCH)
        forward = forward + [f"x = {_activation(args, '{m}(x)', out)}"]
        reset = [init] + (["nn.init.zeros_({m}.bias)"] if bias else [])
        weights = (rule("kernel", "weight", Depthwise(mult)),) + ((rule("bias", "bias"),) if bias else ())
        return Built(
            module=module + ("" if bias else ", bias=False") + ")",
            forward=forward,
            output=out,
            weights=weights,
            reset=reset,
            shapes=shapes(weight=weight_shape, bias=(out_channels,) if bias else None),
        )

    return build


def _separable_conv(n: int):
    def build(args: Args, t: Tensor) -> Built:
        layer = f"SeparableConv{n}D"
        depthwise, forward, out_spatial, mid, mult, init, weight_shape = _depthwise_parts(args, t, layer, n)
        filters = args.dim("filters")
        bias = args.value("use_bias")
        out = Tensor(out_spatial + (filters,), TORCH)
        pointwise = f"nn.Conv{n}d({mid.text}, {filters.text}, 1{'' if bias else ', bias=False'})"
        module = f"nn.ModuleDict({{'depthwise': {depthwise}, bias=False), 'pointwise': {pointwise}}})"
        forward = forward + [f"x = {_activation(args, '{m}.pointwise({m}.depthwise(x))', out)}"]
        reset = [init.replace("{m}", "{m}.depthwise"), "nn.init.xavier_uniform_({m}.pointwise.weight)"]
        reset += ["nn.init.zeros_({m}.pointwise.bias)"] if bias else []
        weights = (
            rule("depthwise_kernel", "depthwise.weight", Depthwise(mult)),
            rule("pointwise_kernel", "pointwise.weight", Transpose(_kernel_perm(n))),
        ) + ((rule("bias", "pointwise.bias"),) if bias else ())
        return Built(
            module=module,
            forward=forward,
            output=out,
            weights=weights,
            reset=reset,
            shapes=shapes(**{"depthwise.weight": weight_shape, "pointwise.weight": (filters, mid, *(1,) * n),
                             "pointwise.bias": (filters,) if bias else None}),
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


# --------------------------------------------------------------------------- resampling, padding, cropping


def _grown(d: Dim, by: int) -> Dim:
    return Dim.of(d.value + by) if d.known else Dim("?", None)


def _pairs(args: Args, name: str, n: int) -> tuple[tuple[int, int], ...]:
    """Keras' padding/cropping argument as one (before, after) pair per spatial axis.

    1D takes an int or (before, after); 2D/3D an int, one int per axis (symmetric), or one
    (before, after) pair per axis.
    """
    v = args.value(name)

    def count(i):
        return isinstance(i, int) and not isinstance(i, bool) and i >= 0

    if count(v):
        return ((v, v),) * n
    if isinstance(v, (tuple, list)):
        if n == 1 and len(v) == 2 and all(count(i) for i in v):
            return (tuple(v),)
        if n > 1 and len(v) == n and all(count(i) for i in v):
            return tuple((i, i) for i in v)
        if n > 1 and len(v) == n and all(isinstance(p, (tuple, list)) and len(p) == 2 and all(count(i) for i in p)
                                         for p in v):
            return tuple((p[0], p[1]) for p in v)
    raise Unsupported(f"{args.spec.keras}({name}={args.text(name)}) is not {n} static (before, after) pair(s)")


def _upsampling(n: int):
    def build(args: Args, t: Tensor) -> Built:
        _check_channels_last(args)
        layer = f"UpSampling{n}D"
        shape = _need_shape(t, layer, rank=n + 2)
        size = args.tuple_of("size", n)
        if any(i < 1 for i in size):
            raise Unsupported(f"{layer}(size={args.text('size')}) must be positive")
        interpolation = str(args.value("interpolation")).lower() if n == 2 else "nearest"
        if interpolation == "nearest":
            mode = ""  # Keras repeats rows and columns: torch's nearest with an integer scale, exactly
        elif interpolation == "bilinear":
            mode = ", mode='bilinear', align_corners=False"  # TensorFlow's half-pixel centres
        else:
            raise Unsupported(f"{layer}(interpolation={interpolation!r}): torch's kernel differs from TensorFlow's "
                              "(only 'nearest' and 'bilinear' agree)")
        out = tuple(Dim.of(shape[i].value * size[i]) if shape[i].known else Dim("?", None) for i in range(n))
        return Built(f"nn.Upsample(scale_factor={_compact(size)}{mode})", ["x = {m}(x)"], Tensor(out + (shape[-1],), TORCH))

    return build


def _zero_padding(n: int):
    def build(args: Args, t: Tensor) -> Built:
        _check_channels_last(args)
        shape = _need_shape(t, f"ZeroPadding{n}D", rank=n + 2)
        pads = _pairs(args, "padding", n)
        flat = [v for p in reversed(pads) for v in p]  # torch lists the last axis first
        out = tuple(_grown(shape[i], sum(pads[i])) for i in range(n)) + (shape[-1],)
        return Built(f"nn.ZeroPad{n}d({_compact(flat)})", ["x = {m}(x)"], Tensor(out, TORCH))

    return build


def _cropping(n: int):
    def build(args: Args, t: Tensor) -> Built:
        _check_channels_last(args)
        layer = f"Cropping{n}D"
        shape = _need_shape(t, layer, rank=n + 2)
        crops = _pairs(args, "cropping", n)
        for i, (a, b) in enumerate(crops):
            if shape[i].known and a + b >= shape[i].value:
                raise Unsupported(f"{layer}: cropping {a + b} of an axis of size {shape[i].value} leaves nothing")
        index = ", ".join([":", ":"] + [f"{a or ''}:{-b if b else ''}" for a, b in crops])
        out = tuple(_grown(shape[i], -sum(crops[i])) for i in range(n)) + (shape[-1],)
        return Built(None, [f"x = x[{index}]"], Tensor(out, TORCH))

    return build


# --------------------------------------------------------------------------- reshaping


def _repeat_vector(args: Args, t: Tensor) -> Built:
    shape = _need_shape(t, "RepeatVector", rank=2)
    n = args.dim("n")
    return Built(None, [f"x = x.unsqueeze(1).repeat(1, {n.text}, 1)"], Tensor((n, shape[0]), KERAS))


def _permute(args: Args, t: Tensor) -> Built:
    shape = _need_shape(t, "Permute")
    dims = args.value("dims")
    if not isinstance(dims, (tuple, list)) or sorted(dims) != list(range(1, len(shape) + 1)):
        raise Unsupported(f"Permute(dims={args.text('dims')}) is not a permutation of 1..{len(shape)}")
    out = tuple(shape[i - 1] for i in dims)
    return Built(None, [f"x = x.permute(0, {', '.join(str(i) for i in dims)})"], Tensor(out, KERAS))


# --------------------------------------------------------------------------- preprocessing


def _number(args: Args, name: str) -> float:
    v = args.value(name)
    if not isinstance(v, (int, float)) or isinstance(v, bool):
        raise Unsupported(f"{args.spec.keras}({name}={args.text(name)}) must be a number "
                          "(per-channel values are not supported yet)")
    return v


def _grouped(text: str) -> str:
    """``text`` safe as an operand (``1./255`` -> ``(1./255)``: Keras multiplies by the quotient)."""
    return text if text.replace(".", "").replace("_", "").isalnum() else f"({text})"


def _rescaling(args: Args, t: Tensor) -> Built:
    _number(args, "scale")
    expr = f"x * {_grouped(args.text('scale'))}"
    if _number(args, "offset") != 0:
        expr += f" + {_grouped(args.text('offset'))}"
    return Built(None, [f"x = {expr}"], t)


def _stats(args: Args, name: str, channels: Dim) -> int:
    """A constructor mean/variance: a number or one per channel; its length (0 for a number)."""
    v = args.value(name)
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return 0
    if isinstance(v, (tuple, list)) and v and all(isinstance(i, (int, float)) and not isinstance(i, bool) for i in v):
        if channels.known and len(v) not in (1, channels.value):
            raise Unsupported(f"Normalization({name}=...) has {len(v)} values for {channels.value} channels")
        return len(v)
    raise Unsupported(f"Normalization({name}={args.text(name)}) is not a static number or list of numbers")


def _normalization(args: Args, t: Tensor) -> Built:
    shape = _need_shape(t, "Normalization", any_rank=True)
    if _single_axis(args.value("axis")) not in (-1, len(shape)) or isinstance(args.value("axis"), bool):
        raise Unsupported(f"Normalization(axis={args.text('axis')}): only the last axis is supported yet")
    mean, variance = args.value("mean"), args.value("variance")
    channels = shape[-1]
    # Keras divides by max(sqrt(variance), epsilon 1e-7)
    std = "{m}.variance.sqrt().clamp(min=1e-7)"
    forward = [f"x = {{m}}.mean + x * {std}" if args.value("invert") else f"x = (x - {{m}}.mean) / {std}"]
    if mean is None and variance is None:  # adapted: Keras variables, torch buffers
        setup = [f'{{m}}.register_buffer("mean", torch.zeros({channels.text}))',
                 f'{{m}}.register_buffer("variance", torch.ones({channels.text}))',
                 '{m}.register_buffer("count", torch.zeros((), dtype=torch.long))  # Keras keeps it; unused']
        weights = (rule("mean", "mean"), rule("variance", "variance"), rule("count", "count"))
        return Built("nn.Module()", forward, Tensor(shape, KERAS, t.rank_known), weights=weights, setup=setup,
                     shapes=shapes(mean=(channels,), variance=(channels,), count=()))
    if mean is None or variance is None:
        raise Unsupported("Normalization needs both mean and variance, or neither (adapted)")
    if _stats(args, "mean", channels) != _stats(args, "variance", channels):
        raise Unsupported("Normalization: mean and variance have different shapes")
    # constants, as in Keras (no variables): buffers that follow .to(device) but stay out of the state dict
    setup = [f'{{m}}.register_buffer("{k}", torch.tensor({args.text(k)}, dtype=torch.float32), persistent=False)'
             for k in ("mean", "variance")]
    return Built("nn.Module()", forward, Tensor(shape, KERAS, t.rank_known), setup=setup)


def _image_axes(t: Tensor, layer: str) -> tuple[int, int]:
    """(height, width) axes of a batched image in the tensor's current layout."""
    _need_shape(t, layer, rank=4)
    return (2, 3) if t.layout == TORCH else (1, 2)


def _not_carried(layer: str, t: Tensor) -> Built:
    note = (f"{layer} is a training-time augmentation: identity at inference, as in Keras, but not applied "
            "in training here (no short per-sample torch equivalent)")
    return Built(None, [f"# TODO(tfpt): {note}"], t, notes=[note])


def _augmentation(layer: str):
    def build(args: Args, t: Tensor) -> Built:
        _check_channels_last(args)
        if t.rank is not None and t.rank != 4:
            raise Unsupported(f"{layer} expects batched images (rank 4), got rank {t.rank}")
        return _not_carried(layer, t)

    return build


def _random_flip(args: Args, t: Tensor) -> Built:
    _check_channels_last(args)
    h, w = _image_axes(t, "RandomFlip")
    mode = args.value("mode")
    axes = {"horizontal": (w,), "vertical": (h,), "horizontal_and_vertical": (w, h)}.get(mode)
    if axes is None:
        raise Unsupported(f"RandomFlip(mode={args.text('mode')}) is not a Keras flip mode")
    both = " (both axes at once, as Keras 3 does)" if len(axes) == 2 else ""
    return Built(None, [
        f"if self.training:  # RandomFlip: each image flipped with probability 0.5{both}; identity at inference",
        "    flip = torch.rand(x.shape[0], 1, 1, 1, device=x.device) <= 0.5",
        f"    x = torch.where(flip, x.flip({_tuple(axes)}), x)",
    ], t)


def _random_contrast(args: Args, t: Tensor) -> Built:
    _check_channels_last(args)
    h, w = _image_axes(t, "RandomContrast")
    factor = args.value("factor")
    plain = (int, float)
    # Keras 3: a number f draws from [1, 1 + f] (its factor bounds are (0, 1)); a pair (a, b) from [1 - a, 1 + b]
    if isinstance(factor, plain) and not isinstance(factor, bool) and 0 <= factor <= 1:
        lower, upper = 0, factor
    elif (isinstance(factor, (tuple, list)) and len(factor) == 2 and all(isinstance(f, plain) for f in factor)
          and not (factor[0] > 1 or factor[1] < 0)):
        lower, upper = sorted(factor)
    else:
        raise Unsupported(f"RandomContrast(factor={args.text('factor')}) is not a Keras contrast factor")
    value_range = args.value("value_range")
    if not (isinstance(value_range, (tuple, list)) and len(value_range) == 2 and all(isinstance(v, plain) for v in value_range)):
        raise Unsupported(f"RandomContrast(value_range={args.text('value_range')}) is not two numbers")
    low = "1.0" if lower == 0 else f"1 - {lower!r}"
    return Built(None, [
        "if self.training:  # RandomContrast: one factor per image, drawn as Keras 3 draws it; identity at inference",
        f"    factor = torch.empty(x.shape[0], 1, 1, 1, device=x.device).uniform_({low}, 1 + {upper!r})",
        f"    mean = x.mean(dim=({h}, {w}), keepdim=True)",
        f"    x = ((x - mean) * factor + mean).clamp({value_range[0]!r}, {value_range[1]!r})",
    ], t)


def _random_crop(args: Args, t: Tensor) -> Built:
    _check_channels_last(args)
    h_axis, w_axis = _image_axes(t, "RandomCrop")
    height, width = args.value("height"), args.value("width")
    size_h, size_w = t.shape[0], t.shape[1]
    if not (isinstance(height, int) and isinstance(width, int)):
        raise Unsupported("RandomCrop needs static integer height and width")
    if not (size_h.known and size_w.known and size_h.value > height and size_w.value > width):
        raise Unsupported(f"RandomCrop({height}, {width}) on a {size_h.text} x {size_w.text} input: Keras resizes "
                          "unless the input is larger on both axes; only that case is supported")
    index = [":"] * 4
    index[h_axis], index[w_axis] = f"top:top + {height}", f"left:left + {width}"
    out = (Dim.of(height), Dim.of(width), t.shape[2])
    return Built(None, [
        "if self.training:  # RandomCrop: one random window for the whole batch, as Keras 3 draws it",
        f"    top = int(torch.randint(0, {size_h.value - height + 1}, ()))",
        f"    left = int(torch.randint(0, {size_w.value - width + 1}, ()))",
        f"    x = x[{', '.join(index)}]",
        "# Keras 3 returns the input uncropped at inference (its declared output shape is the crop's)",
    ], Tensor(out, t.layout))


# --------------------------------------------------------------------------- noise, dropout, activations


def _spatial_dropout(n: int):
    def build(args: Args, t: Tensor) -> Built:
        _check_channels_last(args)
        _need_shape(t, f"SpatialDropout{n}D", rank=n + 2)
        # Keras drops whole channels (noise shape (batch, 1, ..., channels)): torch's DropoutNd on channels-first
        return Built(f"nn.Dropout{n}d({args.text('rate')})", ["x = {m}(x)"], t)

    return build


def _gaussian_noise(args: Args, t: Tensor) -> Built:
    return Built(None, ["if self.training:  # GaussianNoise: identity at inference",
                        f"    x = x + torch.randn_like(x) * {_grouped(args.text('stddev'))}"], t)


def _gaussian_dropout(args: Args, t: Tensor) -> Built:
    rate = _grouped(args.text("rate"))
    return Built(None, ["if self.training:  # GaussianDropout: multiplicative noise N(1, rate / (1 - rate)); identity at inference",
                        f"    x = x * (1 + torch.randn_like(x) * ({rate} / (1 - {rate})) ** 0.5)"], t)


def _elu(args: Args, t: Tensor) -> Built:
    alpha = "" if "alpha" not in args.given else f", alpha={args.text('alpha')}"
    return Built(None, [f"x = F.elu(x{alpha})"], t)


def _prelu(args: Args, t: Tensor) -> Built:
    shape = _need_shape(t, "PReLU")
    rank = len(shape) + 1
    shared = args.value("shared_axes")
    shared = () if shared is None else (shared,) if isinstance(shared, int) else tuple(shared)
    if not all(isinstance(a, int) and 1 <= a < rank for a in shared):
        raise Unsupported(f"PReLU(shared_axes={args.text('shared_axes')}) must name non-batch axes as positive ints")
    alpha_shape = tuple(1 if i + 1 in shared else d for i, d in enumerate(shape))
    if all(i + 1 in shared for i in range(len(shape))):
        channels, layout = Dim.of(1), t.layout  # one slope for everything
    elif rank == 2 or all(i + 1 in shared for i in range(len(shape) - 1)):
        channels, layout = shape[-1], TORCH  # one slope per channel: torch's PReLU on channels-first
    else:
        raise Unsupported("PReLU with a slope per position (shared_axes not covering the spatial axes) has no "
                          "torch nn.PReLU equivalent")
    if not all(d.known if isinstance(d, Dim) else True for d in alpha_shape):
        raise Unsupported("PReLU: the input size is unknown")
    keras_shape = tuple(d if isinstance(d, int) else d.value for d in alpha_shape)
    transform = Transpose() if keras_shape == (channels.value,) else Reshape(keras_shape, (channels.value,))
    if rank > 2 and layout == TORCH and t.layout != TORCH:
        lines, t = to_layout(t, TORCH)
    else:
        lines = []
    return Built(
        f"nn.PReLU({'' if channels.value == 1 else channels.text})",
        lines + ["x = {m}(x)"], t,
        weights=(rule("alpha", "weight", transform),),
        reset=["nn.init.zeros_({m}.weight)  # Keras' alpha_initializer='zeros' (torch starts at 0.25)"],
        shapes=shapes(weight=(channels,)),
    )


# --------------------------------------------------------------------------- wrappers


def _time_distributed(args: Args, t: Tensor) -> Built:
    given = args.given.get("layer")
    inner = given.value if given is not None else None
    if not isinstance(inner, InnerLayer):
        spelled = given.text if given is not None else "..."
        raise Unsupported(f"TimeDistributed({spelled}): the wrapped layer was not recognised as a layer constructor "
                          "call (TimeDistributed(layer=Dense(...)) is)")
    if inner.kind == "BatchNormalization":
        raise Unsupported("TimeDistributed(BatchNormalization): Keras normalises each time step's batch on its "
                          "own; one norm over batch * time differs in training")
    if inner.kind == "TimeDistributed":
        raise Unsupported("TimeDistributed(TimeDistributed(...)) is not supported yet")
    shape = _need_shape(t, "TimeDistributed")
    if len(shape) < 2:
        raise Unsupported("TimeDistributed needs a (batch, time, ...) input")
    spec = LAYERS[inner.kind]
    steps = shape[0]
    before, inner_t = to_layout(Tensor(shape[1:], KERAS), spec.layout)
    built = spec.build(inner.args, inner_t)
    after, out = to_layout(built.output, KERAS)
    if out.shape is None:
        raise Unsupported(f"TimeDistributed({inner.kind}): the inner output shape is unknown")
    forward = [] if steps.known else ["steps = x.shape[1]"]
    forward += ["x = x.flatten(0, 1)  # (batch, time, ...) -> (batch * time, ...): the layer sees every step",
                *before, *built.forward, *after,
                f"x = x.unflatten(0, (-1, {steps.text if steps.known else 'steps'}))  # back to (batch, time, ...)"]
    return Built(built.module, forward, Tensor((steps, *out.shape), KERAS), init=built.init, weights=built.weights,
                 notes=built.notes, setup=built.setup, reset=built.reset, shapes=built.shapes)


# --------------------------------------------------------------------------- attention

#: MultiHeadAttention's call arguments besides query, value and key, with Keras' defaults
_ATTENTION_CALL = {"query_mask": None, "value_mask": None, "key_mask": None, "attention_mask": None,
                   "return_attention_scores": False, "training": None, "use_causal_mask": False}


def _attention_in_sequential(args: Args, t: Tensor) -> Built:
    raise Unsupported("MultiHeadAttention is called on a query and a value: translated in Functional models")


def _attention_checks(args: Args, options: dict, embed: int) -> None:
    """What nn.MultiheadAttention cannot express: Keras' value_dim, output_shape, axes, gate; masks; scores."""
    for k in ("query_mask", "value_mask", "key_mask", "attention_mask"):
        if options[k] is not None:
            raise Unsupported(f"MultiHeadAttention({k}=...) is not translated yet (a Keras mask keeps True, torch's drops it)")
    if options["return_attention_scores"] is not False:
        raise Unsupported("MultiHeadAttention(return_attention_scores=True) returns two tensors; not translated yet")
    if options["training"] is not None:
        raise Unsupported("calling MultiHeadAttention with training=... is not translated")
    if not isinstance(options["use_causal_mask"], bool):
        raise Unsupported("MultiHeadAttention(use_causal_mask=...) must be a static True or False")
    heads, key_dim = args.value("num_heads"), args.value("key_dim")
    if not (isinstance(heads, int) and isinstance(key_dim, int)) or heads * key_dim != embed:
        raise Unsupported(f"MultiHeadAttention(num_heads={args.text('num_heads')}, key_dim={args.text('key_dim')}) "
                          f"on a query of size {embed}: nn.MultiheadAttention needs num_heads * key_dim == the query size")
    if args.value("value_dim") not in (None, key_dim):
        raise Unsupported("MultiHeadAttention(value_dim=...) other than key_dim has no nn.MultiheadAttention equivalent")
    if args.value("output_shape") not in (None, embed, (embed,)):
        raise Unsupported("MultiHeadAttention(output_shape=...) other than the query size has no nn.MultiheadAttention equivalent")
    if args.value("attention_axes") not in (None, 1, -2, (1,), (-2,)):
        raise Unsupported("MultiHeadAttention(attention_axes=...) other than the sequence axis is not translated")
    if args.value("use_gate") or args.value("sliding_window") is not None:
        raise Unsupported("MultiHeadAttention(use_gate=True / sliding_window=...) has no nn.MultiheadAttention equivalent")


def _multi_head_attention(args: Args, options: dict, tensors: dict, exprs: dict) -> Built:
    """nn.MultiheadAttention(batch_first=True), when it computes what Keras does: Keras' per-head
    kernels (in, heads, key_dim) and (heads, key_dim, out) are its in- and out-projections."""
    if "query" not in tensors or "value" not in tensors:
        raise Unsupported("MultiHeadAttention needs a query and a value")
    q, v = (_need_shape(tensors[n], f"MultiHeadAttention's {n}", rank=3) for n in ("query", "value"))
    k = _need_shape(tensors["key"], "MultiHeadAttention's key", rank=3) if "key" in tensors else v
    embed, kdim, vdim = q[-1], k[-1], v[-1]
    if not (embed.known and kdim.known and vdim.known):
        raise Unsupported("MultiHeadAttention: the feature sizes of query, key and value must be known")
    _attention_checks(args, options, embed.value)
    heads, bias = args.value("num_heads"), args.value("use_bias")
    packed = kdim.value == vdim.value == embed.value  # torch keeps one in_proj_weight then
    rate = args.given.get("dropout")
    extra = "" if rate is None or (rate.known and not rate.value) else f", dropout={rate.text}"
    extra += "" if bias else ", bias=False"
    extra += "" if packed else f", kdim={kdim.text}, vdim={vdim.text}"
    eq, ev = exprs["query"], exprs["value"]
    ek = exprs.get("key", ev)
    forward, mask = [], ""
    if eq == ev == ek and not re.fullmatch(r"\{\d+\}", eq):  # self-attention on a permuted input: permute once
        forward.append(f"x = {eq}")
        eq = ek = ev = "x"
    if options["use_causal_mask"]:
        tq, tk = (d.text if d.known else f"{e}.shape[1]" for d, e in ((q[0], eq), (k[0], ek)))
        forward.append(f"mask = torch.ones({tq}, {tk}, dtype=torch.bool, device={eq}.device).triu(1)"
                       "  # Keras' use_causal_mask: position i attends to 0..i")
        mask = ", attn_mask=mask"
    forward.append(f"x = {{m}}({eq}, {ek}, {ev}{mask}, need_weights=False)[0]")
    names = ("kernel", "bias") if bias else ("kernel",)
    torch_in = ("in_proj_weight",) if packed else ("q_proj_weight", "k_proj_weight", "v_proj_weight")
    weights = (
        WeightRule(tuple(f"{p}/{n}" for p in ("query", "key", "value") for n in names),
                   torch_in + (("in_proj_bias",) if bias else ()), AttentionInput(heads, bias, packed)),
        rule("attention_output/kernel", "out_proj.weight", AttentionOutput(heads)),
    ) + ((rule("attention_output/bias", "out_proj.bias"),) if bias else ())
    e = embed.value
    in_shapes = {"in_proj_weight": (3 * e, e)} if packed else {
        "q_proj_weight": (e, e), "k_proj_weight": (e, kdim), "v_proj_weight": (e, vdim)}
    # Keras 3's EinsumDense takes glorot fans from its input and output axes: (in, heads * key_dim), as
    # torch's 2-d projections (torch's own init spans all three of in_proj_weight at once, and out_proj is kaiming)
    if packed:
        reset = ["for i in range(3):  # query, key, value: one glorot bound each, as Keras draws them",
                 f"    nn.init.xavier_uniform_({{m}}.in_proj_weight.view(3, {e}, {e})[i])"]
    else:
        reset = [f"nn.init.xavier_uniform_({{m}}.{p}_proj_weight)" for p in "qkv"]
    reset.append("nn.init.xavier_uniform_({m}.out_proj.weight)")
    reset += ["nn.init.zeros_({m}.in_proj_bias)", "nn.init.zeros_({m}.out_proj.bias)"] if bias else []
    return Built(
        module=f"nn.MultiheadAttention({embed.text}, {args.text('num_heads')}{extra}, batch_first=True)",
        forward=forward,
        output=Tensor((q[0], embed), KERAS),
        weights=weights,
        reset=reset,
        shapes=shapes(**in_shapes, in_proj_bias=(3 * e,) if bias else None,
                      **{"out_proj.weight": (e, e), "out_proj.bias": (e,) if bias else None}),
    )


# --------------------------------------------------------------------------- the table

_CONV_DEFAULTS = {
    "strides": 1, "padding": "valid", "data_format": None, "dilation_rate": 1, "groups": 1,
    "activation": None, "use_bias": True,
}
_CONV_PARAMS = ("filters", "kernel_size", "strides", "padding", "data_format", "dilation_rate", "groups", "activation", "use_bias")
_POOL_PARAMS = ("pool_size", "strides", "padding", "data_format")
_TRANSPOSE_DEFAULTS = {
    "strides": 1, "padding": "valid", "output_padding": None, "data_format": None, "dilation_rate": 1,
    "activation": None, "use_bias": True,
}
_TRANSPOSE_NOTE = ("Keras' output size ('same', output_padding) from torch's padding/output_padding and, for an odd "
                   "'same' total, a slice at the end, as TensorFlow crops; no dilation_rate")


def _transpose_spec(n: int) -> LayerSpec:
    # Conv3DTranspose lists data_format before output_padding, the 1D and 2D ones after it
    middle = ("data_format", "output_padding") if n == 3 else ("output_padding", "data_format")
    ones = 1 if n == 1 else (1,) * n
    return LayerSpec(
        f"Conv{n}DTranspose", ("filters", "kernel_size", "strides", "padding", *middle, "dilation_rate", "activation", "use_bias"),
        {**_TRANSPOSE_DEFAULTS, "strides": ones, "dilation_rate": ones}, _conv_transpose(n),
        torch=f"nn.ConvTranspose{n}d", layout=TORCH, note=_TRANSPOSE_NOTE,
    )


_DEPTHWISE_DEFAULTS = {
    "strides": 1, "padding": "valid", "depth_multiplier": 1, "data_format": None, "dilation_rate": 1,
    "activation": None, "use_bias": True,
}


def _depthwise_spec(n: int) -> LayerSpec:
    ones = 1 if n == 1 else (1,) * n
    return LayerSpec(
        f"DepthwiseConv{n}D",
        ("kernel_size", "strides", "padding", "depth_multiplier", "data_format", "dilation_rate", "activation", "use_bias"),
        {**_DEPTHWISE_DEFAULTS, "strides": ones, "dilation_rate": ones}, _depthwise_conv(n),
        torch=f"nn.Conv{n}d", layout=TORCH, note="groups=in_channels; kernel (*k, in, multiplier) -> (in * multiplier, 1, *k)",
    )


def _separable_spec(n: int) -> LayerSpec:
    ones = 1 if n == 1 else (1,) * n
    return LayerSpec(
        f"SeparableConv{n}D",
        ("filters", "kernel_size", "strides", "padding", "data_format", "dilation_rate", "depth_multiplier", "activation", "use_bias"),
        {**_DEPTHWISE_DEFAULTS, "strides": ones, "dilation_rate": ones}, _separable_conv(n),
        torch=f"nn.Conv{n}d", layout=TORCH,
        note="an `nn.ModuleDict` of a grouped `depthwise` conv (no bias) and a 1x1 `pointwise` conv (the bias)",
    )


def _resampling_spec(kind: str, n: int, param: str, default, build, torch: str, note: str = "",
                     data_format: bool = True, **more) -> LayerSpec:
    """UpSampling, ZeroPadding and Cropping rows: ``(param[, data_format][, more...])``."""
    params = (param, "data_format", *more) if data_format else (param,)
    defaults = {param: default, **({"data_format": None} if data_format else {}), **more}
    return LayerSpec(f"{kind}{n}D", params, defaults, build, torch=torch, layout=TORCH, note=note)


_AUGMENTATION_NOTE = "identity at inference, as in Keras; the training-time augmentation is not carried over (a TODO says so)"


def _pool_spec(n: int, kind: str, name: str) -> LayerSpec:
    defaults = {"pool_size": 2 if n == 1 else (2,) * n, "strides": None, "padding": "valid", "data_format": None}
    if name == "AveragePooling3D":
        del defaults["pool_size"]  # Keras requires it there
    return LayerSpec(
        name, _POOL_PARAMS, defaults,
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
    LayerSpec("ELU", ("alpha",), {"alpha": 1.0}, _elu, torch="F.elu"),
    LayerSpec("PReLU", (), {"shared_axes": None}, _prelu, torch="nn.PReLU", extra=("shared_axes",),
              note="alpha starts at 0 like Keras; one slope, or one per channel (shared_axes covering the spatial axes)"),
    LayerSpec("Conv1D", _CONV_PARAMS, {**_CONV_DEFAULTS}, _conv(1), torch="nn.Conv1d", layout=TORCH,
              note="(N, L, C) input permuted to (N, C, L); strided 'same' padded like TensorFlow"),
    LayerSpec("Conv2D", _CONV_PARAMS, {**_CONV_DEFAULTS, "strides": (1, 1), "dilation_rate": (1, 1)}, _conv(2), torch="nn.Conv2d", layout=TORCH,
              note="NHWC input permuted to NCHW; strided 'same' padded like TensorFlow"),
    LayerSpec("Conv3D", _CONV_PARAMS, {**_CONV_DEFAULTS, "strides": (1, 1, 1), "dilation_rate": (1, 1, 1)}, _conv(3), torch="nn.Conv3d", layout=TORCH,
              note="NDHWC input permuted to NCDHW; strided 'same' padded like TensorFlow"),
    _transpose_spec(1),
    _transpose_spec(2),
    _transpose_spec(3),
    _depthwise_spec(1),
    _depthwise_spec(2),
    _separable_spec(1),
    _separable_spec(2),
    _pool_spec(1, "max", "MaxPooling1D"),
    _pool_spec(2, "max", "MaxPooling2D"),
    _pool_spec(1, "average", "AveragePooling1D"),
    _pool_spec(2, "average", "AveragePooling2D"),
    _pool_spec(3, "max", "MaxPooling3D"),
    _pool_spec(3, "average", "AveragePooling3D"),
    _global_spec(1, "average", "GlobalAveragePooling1D"),
    _global_spec(2, "average", "GlobalAveragePooling2D"),
    _global_spec(1, "max", "GlobalMaxPooling1D"),
    _global_spec(2, "max", "GlobalMaxPooling2D"),
    _global_spec(3, "average", "GlobalAveragePooling3D"),
    _global_spec(3, "max", "GlobalMaxPooling3D"),
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
    _resampling_spec("UpSampling", 1, "size", 2, _upsampling(1), "nn.Upsample", data_format=False),
    _resampling_spec("UpSampling", 2, "size", (2, 2), _upsampling(2), "nn.Upsample", interpolation="nearest",
                     note="'nearest' and 'bilinear' (align_corners=False) only: torch's other kernels differ"),
    _resampling_spec("UpSampling", 3, "size", (2, 2, 2), _upsampling(3), "nn.Upsample"),
    _resampling_spec("ZeroPadding", 1, "padding", 1, _zero_padding(1), "nn.ZeroPad1d"),
    _resampling_spec("ZeroPadding", 2, "padding", (1, 1), _zero_padding(2), "nn.ZeroPad2d"),
    _resampling_spec("ZeroPadding", 3, "padding", ((1, 1), (1, 1), (1, 1)), _zero_padding(3), "nn.ZeroPad3d"),
    _resampling_spec("Cropping", 1, "cropping", (1, 1), _cropping(1), "Tensor slicing", data_format=False),
    _resampling_spec("Cropping", 2, "cropping", ((0, 0), (0, 0)), _cropping(2), "Tensor slicing"),
    _resampling_spec("Cropping", 3, "cropping", ((1, 1), (1, 1), (1, 1)), _cropping(3), "Tensor slicing"),
    LayerSpec("RepeatVector", ("n",), {}, _repeat_vector, torch="Tensor.repeat", layout=KERAS),
    LayerSpec("Permute", ("dims",), {}, _permute, torch="Tensor.permute", layout=KERAS),
    LayerSpec("Rescaling", ("scale", "offset"), {"offset": 0.0}, _rescaling, torch="Tensor arithmetic",
              note="a number each (per-channel scale/offset not yet)"),
    LayerSpec("Normalization", ("axis", "mean", "variance", "invert"),
              {"axis": -1, "mean": None, "variance": None, "invert": False}, _normalization,
              torch="nn.Module", layout=KERAS,
              note="axis=-1; adapted mean/variance/count -> registered buffers, constructor mean/variance -> constant buffers; "
                   "divides by max(sqrt(variance), 1e-7) like Keras"),
    LayerSpec("RandomFlip", ("mode", "seed", "data_format"), {"mode": "horizontal_and_vertical", "seed": None, "data_format": None},
              _random_flip, torch="Tensor.flip",
              note="per-image flip under `if self.training:`, as Keras draws it; identity at inference"),
    LayerSpec("RandomContrast", ("factor", "value_range", "seed"), {"value_range": (0, 255), "seed": None, "data_format": None},
              _random_contrast, torch="Tensor arithmetic", extra=("data_format",),
              note="per-image factor under `if self.training:`, as Keras 3 draws it; identity at inference"),
    LayerSpec("RandomCrop", ("height", "width", "seed", "data_format"), {"seed": None, "data_format": None},
              _random_crop, torch="Tensor slicing",
              note="one random window per batch under `if self.training:` (input larger than the crop); "
                   "identity at inference, as Keras 3"),
    *(LayerSpec(name, params, defaults, _augmentation(name), torch="identity", note=_AUGMENTATION_NOTE)
      for name, params, defaults in (
          ("RandomRotation", ("factor", "fill_mode", "interpolation", "seed", "fill_value", "data_format"),
           {"fill_mode": "reflect", "interpolation": "bilinear", "seed": None, "fill_value": 0.0, "data_format": None}),
          ("RandomZoom", ("height_factor", "width_factor", "fill_mode", "interpolation", "seed", "fill_value", "data_format"),
           {"width_factor": None, "fill_mode": "reflect", "interpolation": "bilinear", "seed": None, "fill_value": 0.0,
            "data_format": None}),
          ("RandomTranslation", ("height_factor", "width_factor", "fill_mode", "interpolation", "seed", "fill_value", "data_format"),
           {"fill_mode": "reflect", "interpolation": "bilinear", "seed": None, "fill_value": 0.0, "data_format": None}),
      )),
    LayerSpec("TimeDistributed", ("layer",), {}, _time_distributed, torch="the inner layer's module", layout=KERAS,
              note="the inner layer runs on (batch * time, ...) and is reshaped back; BatchNormalization inside is refused"),
    LayerSpec("SpatialDropout1D", ("rate", "seed"), {"seed": None}, _spatial_dropout(1), torch="nn.Dropout1d", layout=TORCH,
              note="whole channels dropped, as Keras does"),
    LayerSpec("SpatialDropout2D", ("rate", "data_format", "seed"), {"data_format": None, "seed": None}, _spatial_dropout(2),
              torch="nn.Dropout2d", layout=TORCH, note="whole channels dropped, as Keras does"),
    LayerSpec("SpatialDropout3D", ("rate", "data_format", "seed"), {"data_format": None, "seed": None}, _spatial_dropout(3),
              torch="nn.Dropout3d", layout=TORCH, note="whole channels dropped, as Keras does"),
    LayerSpec("GaussianNoise", ("stddev", "seed"), {"seed": None}, _gaussian_noise, torch="torch.randn_like",
              note="under `if self.training:`"),
    LayerSpec("GaussianDropout", ("rate", "seed"), {"seed": None}, _gaussian_dropout, torch="torch.randn_like",
              note="under `if self.training:`"),
    CallSpec(
        "MultiHeadAttention", ("num_heads", "key_dim", "value_dim", "dropout", "use_bias", "output_shape", "attention_axes"),
        {"value_dim": None, "dropout": 0.0, "use_bias": True, "output_shape": None, "attention_axes": None,
         "sliding_window": None, "flash_attention": None, "use_gate": False, "seed": None},
        _attention_in_sequential, torch="nn.MultiheadAttention", layout=KERAS,
        extra=("sliding_window", "flash_attention", "use_gate", "seed"),
        note="`mha(query, value[, key])` in Functional models, batch_first; when num_heads * key_dim is the query "
             "size, value_dim == key_dim and the output keeps the query size (otherwise a TODO); per-head kernels -> "
             "in_proj / out_proj; use_causal_mask -> attn_mask; masks and return_attention_scores are not translated",
        inputs=("query", "value", "key"), call_defaults=_ATTENTION_CALL, build_call=_multi_head_attention,
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
    "MaxPool3D": "MaxPooling3D", "AvgPool3D": "AveragePooling3D",
    "GlobalAvgPool3D": "GlobalAveragePooling3D", "GlobalMaxPool3D": "GlobalMaxPooling3D",
    "Convolution3D": "Conv3D", "Convolution1DTranspose": "Conv1DTranspose",
    "Convolution2DTranspose": "Conv2DTranspose", "Convolution3DTranspose": "Conv3DTranspose",
    "SeparableConvolution1D": "SeparableConv1D", "SeparableConvolution2D": "SeparableConv2D",
}


def lookup(name: str) -> LayerSpec | None:
    """The row for a Keras layer class name (aliases included)."""
    return LAYERS.get(ALIASES.get(name, name))


def accepted_args(spec: LayerSpec) -> frozenset[str]:
    return frozenset(spec.params) | frozenset(spec.extra) | frozenset(spec.defaults)


__all__ = [
    "ANY", "KERAS", "TORCH", "Args", "Built", "CallSpec", "InnerLayer", "LAYERS", "LayerSpec", "NEUTRAL_ARGS",
    "TRAINING_ONLY_ARGS", "Tensor", "UNKNOWN", "Unsupported", "lookup", "recurrent_weights",
]
