"""Keras metric objects -> the runtime's metric classes: one row per class.

``m = keras.metrics.Mean(name="train_loss")`` becomes ``m = Mean(name="train_loss")``, a
runtime class (``translator/runtime/torch_runtime.py``) with Keras' state, sample weighting
and method names (``update_state``, ``result``, ``reset_state``, calling it updates and
returns the result). A row lists the Keras constructor's positional order, which of its
arguments the runtime class takes (under the same names), and the others with the only
values tfpt accepts (dropped from the call). Metrics comparing a prediction with a target
take ``(y_pred, y_true)`` in torch, like the runtime's losses: their calls are reordered.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class MetricObject:
    keras: str  # the class, under keras.metrics
    params: tuple[str, ...]  # Keras' positional order
    passed: tuple[str, ...] = ("name",)  # arguments the runtime class takes, under the same names
    #: arguments accepted only at these values (dropped from the call)
    fixed: dict[str, object] = field(default_factory=lambda: {"dtype": None})
    targets: bool = True  # update_state(y_true, y_pred[, sample_weight]); False: (values[, sample_weight])

    @property
    def runtime(self) -> str:
        """The runtime class (the Keras class name)."""
        return self.keras


_NAME_DTYPE = ("name", "dtype")

OBJECTS: dict[str, MetricObject] = {
    m.keras: m
    for m in [
        MetricObject("Mean", _NAME_DTYPE, targets=False),
        MetricObject("Sum", _NAME_DTYPE, targets=False),
        MetricObject("Accuracy", _NAME_DTYPE),
        MetricObject("BinaryAccuracy", (*_NAME_DTYPE, "threshold"), ("name", "threshold")),
        MetricObject("CategoricalAccuracy", _NAME_DTYPE),
        MetricObject("SparseCategoricalAccuracy", _NAME_DTYPE),
        MetricObject("MeanSquaredError", _NAME_DTYPE),
        MetricObject("MeanAbsoluteError", _NAME_DTYPE),
        MetricObject("BinaryCrossentropy", (*_NAME_DTYPE, "from_logits", "label_smoothing"),
                     ("name", "from_logits", "label_smoothing")),
        MetricObject("CategoricalCrossentropy", (*_NAME_DTYPE, "from_logits", "label_smoothing", "axis"),
                     ("name", "from_logits", "label_smoothing"), {"dtype": None, "axis": -1}),
        MetricObject("SparseCategoricalCrossentropy", (*_NAME_DTYPE, "from_logits", "ignore_class", "axis"),
                     ("name", "from_logits"), {"dtype": None, "ignore_class": None, "axis": -1}),
    ]
}

#: the methods of a metric object tfpt translates (``reset_states`` is Keras 2's spelling of ``reset_state``)
METHODS = ("update_state", "result", "reset_state", "reset_states")
#: attributes read as they are
ATTRIBUTES = ("name",)
#: dtypes a metric may be given: Keras' metric variables are float32, like the runtime's
FLOAT32 = (None, "float32")
#: the construct table's wording, kept in step with OBJECTS
NAMES = ", ".join(f"`{m}`" for m in OBJECTS)

__all__ = ["ATTRIBUTES", "FLOAT32", "METHODS", "MetricObject", "NAMES", "OBJECTS"]
