"""Model methods and framework utilities: what each call becomes in PyTorch.

Rows are data: the Keras signature a call is bound against, which arguments the
translation keeps, and the runtime helper (``translator/runtime``) or torch call it
turns into. Arguments outside ``keeps`` must be absent (or at their default), or the
call is left alone with a TODO.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MethodSpec:
    """``model.<method>(...)`` -> ``<helper>(model, ...)``."""

    method: str
    params: tuple[str, ...]  # Keras positional order
    keeps: frozenset[str]  # arguments carried over unchanged
    helper: str | None  # runtime helper taking the model first
    #: arguments that are dropped when they have these values (they change nothing)
    ignorable: dict[str, tuple] = None  # type: ignore[assignment]
    #: how many leading Keras parameters the helper takes positionally (the rest by keyword)
    positional: int = 0


    def harmless(self, name: str, text: str) -> bool:
        """Whether argument ``name`` written as ``text`` changes nothing (the call can drop it)."""
        ok = self.ignorable.get(name)
        return ok == "*" or bool(ok and text in ok)


def _m(method, params, keeps, helper, ignorable=None, positional=0):
    return MethodSpec(method, tuple(params), frozenset(keeps), helper, ignorable or {}, positional)


METHODS: dict[str, MethodSpec] = {
    m.method: m
    for m in [
        _m("fit",
           ("x", "y", "batch_size", "epochs", "verbose", "callbacks", "validation_split", "validation_data",
            "shuffle", "class_weight", "sample_weight", "initial_epoch", "steps_per_epoch", "validation_steps",
            "validation_batch_size", "validation_freq"),
           ("x", "y", "batch_size", "epochs", "verbose", "callbacks", "validation_split", "validation_data",
            "shuffle", "class_weight", "sample_weight", "initial_epoch", "steps_per_epoch", "validation_steps",
            "validation_batch_size", "validation_freq"),
           "fit", {"callbacks": ("None", "[]", "()"), "class_weight": ("None",), "sample_weight": ("None",),
                   "steps_per_epoch": ("None",), "validation_steps": ("None",)}, positional=5),
        _m("evaluate",
           ("x", "y", "batch_size", "verbose", "sample_weight", "steps", "callbacks", "return_dict"),
           ("x", "y", "batch_size", "verbose", "sample_weight", "steps", "callbacks", "return_dict"), "evaluate",
           {"callbacks": ("None", "[]", "()"), "sample_weight": ("None",), "steps": ("None",)}, positional=4),
        _m("predict", ("x", "batch_size", "verbose", "steps", "callbacks"), ("x", "batch_size", "verbose", "steps",
                                                                              "callbacks"), "predict",
           {"callbacks": ("None", "[]", "()"), "steps": ("None",)}, positional=3),
        _m("summary", ("line_length", "positions", "print_fn", "expand_nested", "show_trainable", "layer_range"),
           (), "summary",
           {"line_length": "*", "positions": "*", "expand_nested": "*", "show_trainable": "*"}),
    ]
}

#: model methods that save or load weights (rewritten to torch.save / load_state_dict)
SAVE_METHODS = ("save", "save_weights")
LOAD_METHODS = ("load_weights",)
SAVE_PARAMS = ("filepath", "overwrite", "save_format", "include_optimizer", "zipped")
#: model methods tfpt knows about but does not translate (reported with a reason)
MODEL_METHOD_REASONS = {
    "train_on_batch": "train_on_batch is not translated yet",
    "test_on_batch": "test_on_batch is not translated yet",
    "predict_on_batch": "predict_on_batch is not translated yet",
    "get_weights": "get_weights has no direct torch equivalent (use state_dict())",
    "set_weights": "set_weights has no direct torch equivalent (use load_state_dict())",
    "get_layer": "get_layer is not translated (use the named submodule)",
    "layers": "model.layers is not translated (use model.children())",
    "weights": "model.weights is not translated (use model.parameters())",
    "count_params": "count_params is not translated (sum(p.numel() for p in model.parameters()))",
    "to_json": "to_json has no torch equivalent",
    "export": "export has no torch equivalent here",
}


@dataclass(frozen=True)
class UtilitySpec:
    """A framework function and its torch (or runtime-helper) replacement."""

    keras: str  # canonical name (see translator/names.py)
    replacement: str | None  # callable name; None: the statement is dropped
    helper: str | None = None  # runtime helper that must be emitted


UTILITIES: dict[str, UtilitySpec] = {
    u.keras: u
    for u in [
        UtilitySpec("keras.utils.to_categorical", "to_categorical", "to_categorical"),
        UtilitySpec("keras.utils.set_random_seed", "set_random_seed", "set_random_seed"),
        UtilitySpec("tf.random.set_seed", "torch.manual_seed"),
        UtilitySpec("tf.set_random_seed", "torch.manual_seed"),
        UtilitySpec("tf.compat.v1.set_random_seed", "torch.manual_seed"),
        UtilitySpec("tf.compat.v1.random.set_random_seed", "torch.manual_seed"),
        UtilitySpec("keras.backend.clear_session", None),
        UtilitySpec("keras.utils.pad_sequences", "pad_sequences", "pad_sequences"),
        UtilitySpec("keras.preprocessing.sequence.pad_sequences", "pad_sequences", "pad_sequences"),
    ]
}

#: functions that load a whole model
LOAD_MODEL = ("keras.models.load_model", "keras.saving.load_model")
