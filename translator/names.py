"""Resolve stage: qualified names as imports bind them, folded to one canonical spelling.

``tf.keras.layers.Dense``, ``keras.layers.Dense``, ``from tensorflow.keras.layers
import Dense`` and ``from tensorflow.keras import layers as L; L.Dense`` all become
``keras.layers.Dense``. Other TensorFlow names become ``tf.<path>``. Names are matched
through what the imports bind, never as text.
"""

from __future__ import annotations

import libcst as cst

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


class Bindings:
    """What each imported name is bound to, collected from every import in the module.

    ``import tensorflow as tf`` binds ``tf`` to ``tensorflow``; ``from keras import
    layers as L`` binds ``L`` to ``keras.layers``. A name is resolved by following its
    binding, then its attribute chain: ``L.Dense`` -> ``keras.layers.Dense``. One pass
    over the imports instead of full scope analysis keeps translation fast; a local
    variable that shadows an imported module name is the case it cannot see.
    """

    def __init__(self):
        self.imported: dict[str, str] = {}
        #: modules imported with ``from M import *`` (framework modules only)
        self.star_modules: list[str] = []
        #: canonical names a star import may supply (so ``x_train`` never resolves through one)
        self.star_names: frozenset[str] = frozenset()

    def add_import(self, node: cst.Import) -> None:
        for alias in node.names:
            full = alias.evaluated_name
            if alias.asname is not None:
                self.imported[alias.evaluated_alias] = full
            else:
                head = full.split(".")[0]
                self.imported[head] = head

    def add_import_from(self, node: cst.ImportFrom) -> None:
        if node.relative or node.module is None:
            return
        module = dotted(node.module)
        if module is None:
            return
        if isinstance(node.names, cst.ImportStar):
            if is_framework_module(module):
                self.star_modules.append(module)
            return
        for alias in node.names:
            local = alias.evaluated_alias or alias.evaluated_name
            self.imported[local] = f"{module}.{alias.evaluated_name}"

    def qualified(self, node: cst.CSTNode) -> str | None:
        """The qualified name ``node`` refers to through an import, or None."""
        parts = dotted(node)
        if parts is None:
            return None
        head, _, rest = parts.partition(".")
        base = self.imported.get(head)
        if base is None:
            base = self._from_star(head)
            if base is None:
                return None
        return f"{base}.{rest}" if rest else base

    def _from_star(self, head: str) -> str | None:
        for module in self.star_modules:
            candidate = f"{module}.{head}"
            if canonical(candidate) in self.star_names:
                return candidate
        return None

    def canonical(self, node: cst.CSTNode) -> str | None:
        q = self.qualified(node)
        return None if q is None else canonical(q)


def dotted(node: cst.CSTNode) -> str | None:
    """``a.b.c`` for a Name/Attribute chain; None for anything else."""
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        base = dotted(node.value)
        return None if base is None else f"{base}.{node.attr.value}"
    return None


def is_framework_module(module: str) -> bool:
    """Whether an import of ``module`` is an import of TensorFlow or Keras."""
    root = module.split(".")[0]
    return root in ("tensorflow", "keras", "tf_keras")
