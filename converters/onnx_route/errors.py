"""The one exception the ONNX route raises to its callers, and the one its workers report."""

from __future__ import annotations


class OnnxRouteError(Exception):
    """A conversion that failed; the message is one line naming the file and the op or layer."""


class WorkerError(Exception):
    """Raised inside a worker process; its message becomes the parent's ``OnnxRouteError``."""
