"""The environment every framework worker process starts with (verify, convert, the ONNX route).

Workers run ``python -m converters.<worker>``: the package root goes on PYTHONPATH so
they import this checkout's code; TensorFlow's C++ logging is quieted and Keras is
pinned to its TensorFlow backend (a user's KERAS_BACKEND=torch would pull torch into
the TensorFlow process).
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def worker_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])])
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    env["KERAS_BACKEND"] = "tensorflow"
    return env
