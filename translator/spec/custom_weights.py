"""``self.add_weight(...)`` in a custom layer -> an ``nn.Parameter``: the signature and the initializers.

A weight is emitted like a layer with one parameter: ``self.w = nn.Parameter(torch.empty(5, units))``
in ``__init__`` and Keras' initialiser in ``reset_parameters()``. Its weight rule copies the Keras
variable as it is (same layout on both sides); the torch parameter *is* the attribute, so the
rule's torch name is empty.

Initialisers carry Keras' own defaults (``RandomNormal`` is stddev 0.05, not 1); the
fan-dependent ones (Glorot, He, LeCun) use Keras' fan rule, written out as numbers when it differs
from torch's (anything but a 2-D Glorot-uniform kernel).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from .layers import Built, LayerSpec, Tensor, rule
from .values import Dim, Unsupported

#: Keras 3 ``Layer.add_weight`` positional parameters
ADD_WEIGHT_PARAMS = ("shape", "initializer", "dtype", "trainable", "autocast", "regularizer", "constraint",
                     "aggregation", "overwrite_with_gradient", "name")
#: tf.keras 2 ``add_weight`` took the name first: a string literal first argument means this order
ADD_WEIGHT_PARAMS_TF2 = ("name", "shape", "dtype", "initializer", "regularizer", "trainable", "constraint",
                         "use_resource", "synchronization", "aggregation")
#: methods that create a weight (``add_variable`` is tf.keras 2's old alias)
ADD_WEIGHT_METHODS = frozenset({"add_weight", "add_variable"})
#: arguments accepted only at this value
FIXED = {"overwrite_with_gradient": False}
#: arguments that change nothing for one float32 device (mixed precision, distribution strategies)
IGNORED = ("autocast", "aggregation", "synchronization", "use_resource")
#: arguments that change training only: translated with a TODO
TRAINING_ONLY = ("regularizer", "constraint")
FLOAT32 = frozenset({None, "float32", "tf.float32", "keras.backend.floatx()"})
#: Keras' name for a weight created without ``name=``
DEFAULT_NAME = "variable"
#: Keras' truncated normal draws from (-2 stddev, 2 stddev); this corrects the stddev for the cut
_TRUNCATION = 0.87962566103423978


@dataclass(frozen=True)
class Initializer:
    """One Keras initializer: its kind, constructor parameters (in order) and Keras' defaults."""

    kind: str
    params: tuple[str, ...] = ()
    defaults: dict = field(default_factory=dict)


def _scaling(scale: float, mode: str, distribution: str) -> Initializer:
    return Initializer("variance_scaling", ("seed",), {"scale": scale, "mode": mode, "distribution": distribution})


_NORMAL = Initializer("normal", ("mean", "stddev", "seed"), {"mean": 0.0, "stddev": 0.05})
_UNIFORM = Initializer("uniform", ("minval", "maxval", "seed"), {"minval": -0.05, "maxval": 0.05})
_TRUNCATED = Initializer("truncated_normal", ("mean", "stddev", "seed"), {"mean": 0.0, "stddev": 0.05})

#: Keras class names (``keras.initializers.X``); the snake-case string aliases are derived below
KERAS_INITIALIZERS: dict[str, Initializer] = {
    "Zeros": Initializer("zeros"),
    "Ones": Initializer("ones"),
    "Constant": Initializer("constant", ("value",), {"value": 0.0}),
    "RandomNormal": _NORMAL,
    "RandomUniform": _UNIFORM,
    "TruncatedNormal": _TRUNCATED,
    "GlorotUniform": _scaling(1.0, "fan_avg", "uniform"),
    "GlorotNormal": _scaling(1.0, "fan_avg", "truncated_normal"),
    "HeUniform": _scaling(2.0, "fan_in", "uniform"),
    "HeNormal": _scaling(2.0, "fan_in", "truncated_normal"),
    "LecunUniform": _scaling(1.0, "fan_in", "uniform"),
    "LecunNormal": _scaling(1.0, "fan_in", "truncated_normal"),
    "VarianceScaling": Initializer("variance_scaling", ("scale", "mode", "distribution", "seed"),
                                   {"scale": 1.0, "mode": "fan_in", "distribution": "truncated_normal"}),
    "Orthogonal": Initializer("orthogonal", ("gain", "seed"), {"gain": 1.0}),
}
_SNAKE = {"Zeros": "zeros", "Ones": "ones", "Constant": "constant", "RandomNormal": "random_normal",
          "RandomUniform": "random_uniform", "TruncatedNormal": "truncated_normal", "GlorotUniform": "glorot_uniform",
          "GlorotNormal": "glorot_normal", "HeUniform": "he_uniform", "HeNormal": "he_normal",
          "LecunUniform": "lecun_uniform", "LecunNormal": "lecun_normal", "VarianceScaling": "variance_scaling",
          "Orthogonal": "orthogonal"}
#: ``initializer="random_normal"`` (Keras accepts the class name too)
STRING_INITIALIZERS = {**{snake: KERAS_INITIALIZERS[cls] for cls, snake in _SNAKE.items()}, **KERAS_INITIALIZERS}
#: TensorFlow 2's initializer functions (TF1's ``compat.v1`` versions draw with stddev 1: not these)
TF_INITIALIZERS = {
    "tf.zeros_initializer": Initializer("zeros"),
    "tf.ones_initializer": Initializer("ones"),
    "tf.constant_initializer": Initializer("constant", ("value",), {"value": 0.0}),
    "tf.random_normal_initializer": _NORMAL,
    "tf.random_uniform_initializer": _UNIFORM,
    "tf.initializers.GlorotUniform": KERAS_INITIALIZERS["GlorotUniform"],
}
#: Keras' default for a float weight created without ``initializer=``
DEFAULT_INITIALIZER = "glorot_uniform"

#: the weight "layer" as the model IR holds it (weights are not Keras layers; no Sequential reaches this)
WEIGHT = LayerSpec("add_weight", (), {}, build=lambda args, t: _not_a_layer(), torch="nn.Parameter")


class NeedsSizes(Unsupported):
    """A fan-scaled initializer on a weight whose sizes are not numbers yet (the tracer retries with values)."""


def _not_a_layer():
    raise Unsupported("add_weight() creates a variable, not a layer")


def keras_fans(shape: tuple[int, ...]) -> tuple[int, int]:
    """Keras' fan rule (``compute_fans``): the last two axes are (in, out), the rest a receptive field."""
    if not shape:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    field_size = math.prod(shape[:-2])
    return shape[-2] * field_size, shape[-1] * field_size


def init_line(init: Initializer, options: dict, dims: tuple[Dim, ...]) -> str:
    """The ``reset_parameters()`` line for one weight (``{m}`` is the parameter)."""
    o = {**init.defaults, **options}
    kind = init.kind
    if kind == "zeros":
        return "nn.init.zeros_({m})"
    if kind == "ones":
        return "nn.init.ones_({m})"
    if kind == "constant":
        if not isinstance(o["value"], (int, float)) or isinstance(o["value"], bool):
            raise Unsupported("Constant(value=...) with an array value is not translated")
        return f"nn.init.constant_({{m}}, {float(o['value'])!r})"
    if kind == "normal":
        mean = f"mean={float(o['mean'])!r}, " if o["mean"] else ""
        return f"nn.init.normal_({{m}}, {mean}std={float(o['stddev'])!r})"
    if kind == "uniform":
        return f"nn.init.uniform_({{m}}, {float(o['minval'])!r}, {float(o['maxval'])!r})"
    if kind == "truncated_normal":
        return _truncated(float(o["mean"]), float(o["stddev"]))
    if kind == "orthogonal":
        if len(dims) != 2:
            raise Unsupported("Orthogonal on a weight that is not 2-D is not translated (torch flattens other axes)")
        return f"nn.init.orthogonal_({{m}}, gain={float(o['gain'])!r})"
    if kind == "variance_scaling":
        return _variance_scaling(o, dims)
    raise Unsupported(f"initializer kind {kind!r} is not translated")


def _truncated(mean: float, std: float) -> str:
    mean_text = f"mean={mean!r}, " if mean else ""
    return f"nn.init.trunc_normal_({{m}}, {mean_text}std={std!r}, a={mean - 2 * std!r}, b={mean + 2 * std!r})"


def _variance_scaling(o: dict, dims: tuple[Dim, ...]) -> str:
    scale, mode, distribution = float(o["scale"]), o["mode"], o["distribution"]
    if (scale, mode, distribution) == (1.0, "fan_avg", "uniform") and len(dims) == 2:
        return "nn.init.xavier_uniform_({m})"  # torch's fans swap in and out, their sum is Keras'
    if not all(d.known for d in dims):
        raise NeedsSizes("a fan-scaled initializer needs the weight's sizes as numbers")
    fan_in, fan_out = keras_fans(tuple(d.value for d in dims))
    n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}.get(mode)
    if n is None:
        raise Unsupported(f"VarianceScaling(mode={mode!r}) is not a Keras mode")
    scale /= max(1.0, n)
    if distribution == "uniform":
        limit = math.sqrt(3.0 * scale)
        return f"nn.init.uniform_({{m}}, {-limit!r}, {limit!r})"
    if distribution == "truncated_normal":
        return _truncated(0.0, math.sqrt(scale) / _TRUNCATION)
    if distribution in ("normal", "untruncated_normal"):
        return f"nn.init.normal_({{m}}, std={math.sqrt(scale)!r})"
    raise Unsupported(f"VarianceScaling(distribution={distribution!r}) is not a Keras distribution")


def build_weight(dims: tuple[Dim, ...], line: str | None, trainable: bool, keras_name: str) -> Built:
    """The parameter, its initialisation (``line`` None: left to a TODO) and its one-to-one weight rule."""
    size = ", ".join(d.text for d in dims) or "()"
    frozen = ", requires_grad=False" if not trainable else ""
    return Built(
        module=f"nn.Parameter(torch.empty({size}){frozen})",
        forward=[],
        output=Tensor(None),
        weights=(rule(keras_name, ""),),
        reset=[line] if line else [],
        shapes={"": tuple(d.value for d in dims)},
    )
