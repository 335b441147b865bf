"""Optimizers, losses and metrics: Keras names -> torch, with Keras' defaults kept.

Each optimizer row lists Keras arguments in positional order with Keras' defaults
and how each becomes a ``torch.optim`` keyword. Defaults that differ from torch's
(epsilon 1e-7, RMSprop rho 0.9, Adagrad's initial accumulator 0.1, ...) are always
written out, so the translated optimizer behaves like the Keras one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .values import Unsupported, Value


@dataclass(frozen=True)
class OptimizerSpec:
    keras: str
    torch: str
    #: Keras positional order
    params: tuple[str, ...]
    defaults: dict[str, object]
    #: Keras argument -> torch keyword (None: must stay at its Keras default)
    rename: dict[str, str | None]
    #: (torch keyword, Keras argument pair) emitted as a tuple, e.g. Adam's betas
    pairs: dict[str, tuple[str, str]] = field(default_factory=dict)
    caveat: str = ""
    #: torch's own defaults, to leave out keywords that would repeat them
    torch_defaults: dict[str, object] = field(default_factory=dict)
    #: the torch class is a runtime helper copied into the output (translator/runtime)
    helper: bool = False


_COMMON = {
    "weight_decay": None, "clipnorm": None, "clipvalue": None, "global_clipnorm": None,
    "use_ema": False, "ema_momentum": 0.99, "ema_overwrite_frequency": None,
    "loss_scale_factor": None, "gradient_accumulation_steps": None, "name": None,
}
_IGNORED = {"name": None}


def _opt(keras, torch, params, defaults, rename, pairs=None, caveat="", decoupled_wd=False, torch_defaults=None,
         helper=False):
    rename = {**rename, "name": "-"}
    if decoupled_wd:
        rename["weight_decay"] = "weight_decay"
    return OptimizerSpec(keras, torch, params, {**_COMMON, **defaults}, rename, pairs or {}, caveat,
                         torch_defaults or {}, helper)


OPTIMIZERS: dict[str, OptimizerSpec] = {
    s.keras: s
    for s in [
        _opt("SGD", "torch.optim.SGD", ("learning_rate", "momentum", "nesterov"),
             {"learning_rate": 0.01, "momentum": 0.0, "nesterov": False},
             {"learning_rate": "lr", "momentum": "momentum", "nesterov": "nesterov"},
             torch_defaults={'momentum': 0.0, 'nesterov': False}),
        # Adam, AdamW, RMSprop and Adagrad place epsilon differently from torch: the runtime's
        # Keras* optimizers (torch optimizers underneath) reproduce Keras' update exactly
        _opt("Adam", "KerasAdam", ("learning_rate", "beta_1", "beta_2", "epsilon", "amsgrad"),
             {"learning_rate": 0.001, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-07, "amsgrad": False},
             {"learning_rate": "lr", "epsilon": "eps", "amsgrad": "amsgrad"},
             pairs={"betas": ("beta_1", "beta_2")}, helper=True,
             torch_defaults={'betas': (0.9, 0.999), 'eps': 1e-07, 'amsgrad': False}),
        _opt("AdamW", "KerasAdamW", ("learning_rate", "weight_decay", "beta_1", "beta_2", "epsilon", "amsgrad"),
             {"learning_rate": 0.001, "weight_decay": 0.004, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-07, "amsgrad": False},
             {"learning_rate": "lr", "epsilon": "eps", "amsgrad": "amsgrad"},
             pairs={"betas": ("beta_1", "beta_2")}, decoupled_wd=True, helper=True,
             torch_defaults={'betas': (0.9, 0.999), 'eps': 1e-07, 'amsgrad': False, 'weight_decay': 0.004}),
        _opt("RMSprop", "KerasRMSprop", ("learning_rate", "rho", "momentum", "epsilon", "centered"),
             {"learning_rate": 0.001, "rho": 0.9, "momentum": 0.0, "epsilon": 1e-07, "centered": False},
             {"learning_rate": "lr", "rho": "rho", "momentum": "momentum", "epsilon": "eps", "centered": "centered"},
             helper=True, torch_defaults={'rho': 0.9, 'eps': 1e-07, 'momentum': 0.0, 'centered': False}),
        _opt("Adagrad", "KerasAdagrad", ("learning_rate", "initial_accumulator_value", "epsilon"),
             {"learning_rate": 0.001, "initial_accumulator_value": 0.1, "epsilon": 1e-07},
             {"learning_rate": "lr", "initial_accumulator_value": "initial_accumulator_value", "epsilon": "eps"},
             helper=True, torch_defaults={'initial_accumulator_value': 0.1, 'eps': 1e-07}),
        _opt("Adadelta", "torch.optim.Adadelta", ("learning_rate", "rho", "epsilon"),
             {"learning_rate": 0.001, "rho": 0.95, "epsilon": 1e-07},
             {"learning_rate": "lr", "rho": "rho", "epsilon": "eps"},
             torch_defaults={'rho': 0.9, 'eps': 1e-06}),
        _opt("Adamax", "torch.optim.Adamax", ("learning_rate", "beta_1", "beta_2", "epsilon"),
             {"learning_rate": 0.001, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-07},
             {"learning_rate": "lr", "epsilon": "eps"}, pairs={"betas": ("beta_1", "beta_2")},
             caveat="Keras adds Adamax's epsilon after the max, torch inside it; they differ only for tiny gradients",
             torch_defaults={'betas': (0.9, 0.999), 'eps': 1e-08}),
    ]
}

#: the strings compile(optimizer=...) accepts
OPTIMIZER_STRINGS = {k.lower(): k for k in OPTIMIZERS}


def optimizer_call(spec: OptimizerSpec, given: dict[str, Value], params_expr: str) -> tuple[str, list[str]]:
    """The torch optimizer constructor for Keras arguments ``given``, and its caveats.

    Keywords are written in Keras' order; one is left out only when Keras' value is
    also torch's default, so every Keras default that differs from torch is explicit.
    """
    for name in given:
        if name not in spec.defaults:
            raise Unsupported(f"{spec.keras} got an unknown argument {name!r}")
    kwargs: list[str] = []
    for name in spec.params + tuple(k for k in spec.defaults if k not in spec.params):
        pair = next(((kw, ab) for kw, ab in spec.pairs.items() if name in ab), None)
        if pair is not None:
            kw, (a, b) = pair
            if name == a and (a in given or b in given or spec.torch_defaults.get(kw) != (spec.defaults[a], spec.defaults[b])):
                kwargs.append(f"{kw}=({_text(spec, given, a)}, {_text(spec, given, b)})")
            continue
        target = spec.rename.get(name)
        value = given.get(name)
        if target == "-":
            continue
        if target is None:
            if value is not None and (not value.known or value.value != spec.defaults.get(name)):
                raise Unsupported(f"{spec.keras}({name}={value.text}) has no faithful torch equivalent in tfpt yet")
            continue
        if name not in given and target != "lr" and spec.torch_defaults.get(target, _MISSING) == spec.defaults[name]:
            continue
        kwargs.append(f"{target}={_text(spec, given, name)}")
    return f"{spec.torch}({params_expr}, {', '.join(kwargs)})", [spec.caveat] if spec.caveat else []


_MISSING = object()


def _text(spec: OptimizerSpec, given: dict[str, Value], name: str) -> str:
    if name in given:
        return given[name].text
    return repr(spec.defaults[name])


# --------------------------------------------------------------------------- losses


@dataclass(frozen=True)
class LossSpec:
    """A Keras loss and the runtime function (``translator/runtime``) computing it."""

    keras: str  # canonical function name, e.g. "categorical_crossentropy"
    function: str  # the runtime function for probabilities / values
    from_logits: str | None = None  # the runtime function when from_logits=True


LOSSES: dict[str, LossSpec] = {
    s.keras: s
    for s in [
        LossSpec("mean_squared_error", "mean_squared_error"),
        LossSpec("mean_absolute_error", "mean_absolute_error"),
        LossSpec("binary_crossentropy", "binary_crossentropy", "binary_crossentropy_from_logits"),
        LossSpec("categorical_crossentropy", "categorical_crossentropy", "categorical_crossentropy_from_logits"),
        LossSpec("sparse_categorical_crossentropy", "sparse_categorical_crossentropy",
                 "sparse_categorical_crossentropy_from_logits"),
    ]
}

#: every spelling of a loss: compile strings, function names, class names
LOSS_NAMES = {
    "mse": "mean_squared_error", "MSE": "mean_squared_error", "mean_squared_error": "mean_squared_error",
    "MeanSquaredError": "mean_squared_error",
    "mae": "mean_absolute_error", "MAE": "mean_absolute_error", "mean_absolute_error": "mean_absolute_error",
    "MeanAbsoluteError": "mean_absolute_error",
    "binary_crossentropy": "binary_crossentropy", "BinaryCrossentropy": "binary_crossentropy",
    "categorical_crossentropy": "categorical_crossentropy", "CategoricalCrossentropy": "categorical_crossentropy",
    "sparse_categorical_crossentropy": "sparse_categorical_crossentropy",
    "SparseCategoricalCrossentropy": "sparse_categorical_crossentropy",
}

#: loss-object arguments tfpt handles; anything else must be at its default
LOSS_OBJECT_DEFAULTS = {
    "from_logits": False, "label_smoothing": 0.0, "axis": -1, "reduction": "sum_over_batch_size",
    "name": None, "ignore_class": None, "dtype": None,
}


# --------------------------------------------------------------------------- metrics

#: metric spellings -> runtime function; "accuracy" is resolved through the loss
METRICS = {
    "mae": "mean_absolute_error", "mean_absolute_error": "mean_absolute_error",
    "mse": "mean_squared_error", "mean_squared_error": "mean_squared_error",
    "binary_accuracy": "binary_accuracy", "categorical_accuracy": "categorical_accuracy",
    "sparse_categorical_accuracy": "sparse_categorical_accuracy",
}
ACCURACY_NAMES = ("accuracy", "acc")
#: metric classes -> (log name, runtime function)
METRIC_CLASSES = {
    "BinaryAccuracy": ("binary_accuracy", "binary_accuracy"),
    "CategoricalAccuracy": ("categorical_accuracy", "categorical_accuracy"),
    "SparseCategoricalAccuracy": ("sparse_categorical_accuracy", "sparse_categorical_accuracy"),
    "MeanAbsoluteError": ("mean_absolute_error", "mean_absolute_error"),
    "MeanSquaredError": ("mean_squared_error", "mean_squared_error"),
    "Accuracy": None,  # exact-match accuracy: no runtime function yet
}


def accuracy_for(loss: LossSpec | None, output_units: int | None) -> str:
    """What Keras' "accuracy" means here; Keras decides from the shapes at run time.

    A one-unit output is binary; otherwise sparse targets (rank below the output's)
    give sparse accuracy, which the sparse loss guarantees and the one-hot
    categorical loss rules out. Anything else keeps Keras' run-time dispatch.
    """
    if output_units == 1:
        return "binary_accuracy"
    if output_units is not None and loss is not None:
        if loss.keras == "sparse_categorical_crossentropy":
            return "sparse_categorical_accuracy"
        if loss.keras == "categorical_crossentropy":
            return "categorical_accuracy"
    return "accuracy"
