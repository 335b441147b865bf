"""Keras activation names -> the torch expression that computes the same thing.

Templates take ``{x}``; ``channel_axis`` activations (softmax) need the channels-last
layout Keras computes them in.
"""

from __future__ import annotations

from .values import Unsupported

#: name -> torch expression template. Keras defaults that differ from torch's are
#: spelled out (Keras' leaky_relu slope 0.2, exact gelu, hard_sigmoid = relu6(x+3)/6).
ACTIVATIONS: dict[str, str] = {
    "linear": "{x}",
    "relu": "torch.relu({x})",
    "sigmoid": "torch.sigmoid({x})",
    "tanh": "torch.tanh({x})",
    "softmax": "torch.softmax({x}, dim=-1)",
    "log_softmax": "torch.log_softmax({x}, dim=-1)",
    "elu": "F.elu({x})",
    "selu": "F.selu({x})",
    "gelu": "F.gelu({x})",
    "softplus": "F.softplus({x})",
    "softsign": "F.softsign({x})",
    "swish": "F.silu({x})",
    "silu": "F.silu({x})",
    "relu6": "F.relu6({x})",
    "leaky_relu": "F.leaky_relu({x}, negative_slope=0.2)",
    "hard_sigmoid": "F.hardsigmoid({x})",
    "exponential": "torch.exp({x})",
    "mish": "F.mish({x})",
}

#: activations that act along the channel (last Keras) axis rather than elementwise
CHANNEL_AXIS = frozenset({"softmax", "log_softmax"})

#: torch.nn modules for recurrent nonlinearity (nn.RNN's ``nonlinearity``)
RNN_NONLINEARITY = {"tanh": "tanh", "relu": "relu"}


#: activation functions passed as objects (``activation=tf.nn.relu``), by canonical name
_TF_FUNCTIONS = ("relu", "sigmoid", "tanh", "softmax", "log_softmax", "elu", "selu", "gelu", "softplus",
                 "softsign", "swish", "silu", "relu6", "leaky_relu")
FUNCTION_OBJECTS: dict[str, str] = {
    **{f"keras.activations.{n}": n for n in ACTIVATIONS},
    **{f"tf.nn.{n}": n for n in _TF_FUNCTIONS},
    **{f"tf.math.{n}": n for n in ("sigmoid", "tanh", "softplus", "softsign")},
    "tf.sigmoid": "sigmoid", "tf.tanh": "tanh",
}


def activation_name(value: object) -> str:
    """The canonical Keras name of an ``activation=`` argument value."""
    if value is None:
        return "linear"
    if not isinstance(value, str):
        raise Unsupported(f"activation {value!r} is not a Keras activation name")
    name = value.lower()
    if name not in ACTIVATIONS:
        raise Unsupported(f"activation {value!r} has no torch mapping in tfpt")
    return name


def apply(name: str, expr: str) -> str:
    """The torch expression applying activation ``name`` to ``expr``."""
    return ACTIVATIONS[name].format(x=expr)
