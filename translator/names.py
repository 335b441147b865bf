"""Resolve stage: qualified names as imports bind them, folded to one canonical spelling.

``tf.keras.layers.Dense``, ``keras.layers.Dense``, ``from tensorflow.keras.layers
import Dense`` and ``from tensorflow.keras import layers as L; L.Dense`` all become
``keras.layers.Dense``. Other TensorFlow names become ``tf.<path>``. Resolution goes
through LibCST's QualifiedNameProvider, so names are matched as bindings, never as text.
"""

from __future__ import annotations

import libcst as cst
from libcst.metadata import QualifiedNameProvider, QualifiedNameSource
from libcst.metadata.base_provider import LazyValue

#: prefixes under which Keras' public API lives (longest first)
_KERAS_PREFIXES = (
    "tensorflow.compat.v1.keras.",
    "tensorflow.compat.v2.keras.",
    "tensorflow.python.keras.",
    "tensorflow.keras.",
    "keras._tf_keras.keras.",
    "keras.api._v2.keras.",
    "keras.src.",
    "keras.api.",
    "tf_keras.",
    "keras.",
)
_TF_PREFIXES = ("tensorflow.compat.v2.", "tensorflow.")

#: Keras sub-module paths that re-export the same symbols (Keras 2 file layout)
_SUBMODULES = {
    "layers": ("core", "convolutional", "pooling", "recurrent", "normalization", "embeddings",
               "advanced_activations", "wrappers", "reshaping", "activation", "rnn",
               "regularization", "merging", "normalization_v2", "recurrent_v2", "batch_normalization",
               "layer_normalization", "dense", "dropout", "flatten", "reshape", "lstm", "gru", "simple_rnn",
               "bidirectional", "embedding", "input_layer", "conv1d", "conv2d"),
    "utils": ("np_utils", "numerical_utils", "layer_utils", "vis_utils", "random", "rng_utils"),
    "models": ("sequential", "model", "saving", "models"),
    "optimizers": ("legacy", "optimizer_v2", "adam", "sgd", "rmsprop", "adagrad", "adadelta", "adamw", "adamax"),
    "backend": ("common",),
    "engine": ("sequential", "training", "input_layer"),
}


def canonical(qualified: str) -> str | None:
    """``keras.<path>`` or ``tf.<path>`` for a framework name; None for anything else."""
    for prefix in _KERAS_PREFIXES:
        if qualified.startswith(prefix) or qualified + "." == prefix:
            return _fold("keras." + qualified[len(prefix):].rstrip("."))
    if qualified == "keras" or qualified in ("tensorflow.keras", "tf_keras"):
        return "keras"
    for prefix in _TF_PREFIXES:
        if qualified.startswith(prefix):
            return "tf." + qualified[len(prefix):]
    if qualified == "tensorflow":
        return "tf"
    return None


def _fold(name: str) -> str:
    parts = name.split(".")
    # keras.layers.core.Dense -> keras.layers.Dense; keras.engine.sequential.Sequential -> keras.Sequential
    if len(parts) >= 4 and parts[1] in _SUBMODULES and parts[2] in _SUBMODULES[parts[1]]:
        parts = parts[:2] + parts[3:]
        if parts[1] == "engine":
            parts = ["keras"] + parts[2:]
    # Keras 3's keras.src.models.sequential.Sequential layout
    if len(parts) >= 3 and parts[1] == "models" and parts[-1] in ("Sequential", "Model"):
        return "keras." + parts[-1]
    return ".".join(parts)


def qualified_names(wrapper_metadata, node: cst.CSTNode) -> set[str]:
    """Canonical framework names ``node`` refers to (empty when it is not one)."""
    found = set()
    value = wrapper_metadata.get(QualifiedNameProvider, {}).get(node, ())
    if isinstance(value, LazyValue):
        value = value()
    for q in value:
        if q.source is QualifiedNameSource.LOCAL:
            continue
        c = canonical(q.name)
        if c is not None:
            found.add(c)
    return found


def is_framework_module(module: str) -> bool:
    """Whether an import of ``module`` is an import of TensorFlow or Keras."""
    root = module.split(".")[0]
    return root in ("tensorflow", "keras", "tf_keras")
