"""Run one worker module in its own process and turn its answer into a dict or an error.

TensorFlow and torch never share a process (importing tensorflow and later triton,
which torch reaches lazily, segfaults), so every framework step runs as
``python -m converters.onnx_route.<worker>``. A worker writes its answer, a JSON
object, to the file named by ``--result``: ``{"ok": true, ...info}`` or
``{"ok": false, "error": "one line"}``. Its stderr (TensorFlow's logging among it)
is kept from the user unless the worker died without answering.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

from ..workers import worker_env
from .errors import OnnxRouteError

def run_worker(worker: str, args: list[str], *, what: str) -> dict:
    """Run ``converters.onnx_route.<worker>`` with ``args``; ``what`` names the job in errors."""
    env = worker_env()
    with tempfile.TemporaryDirectory(prefix="tfpt-onnx-") as tmp:
        result_path = Path(tmp) / "result.json"
        cmd = [sys.executable, "-m", f"converters.onnx_route.{worker}", *args, "--result", str(result_path)]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL)
        answer = _read_answer(result_path)
    if answer is None:
        raise OnnxRouteError(f"{what}: the worker died (exit {proc.returncode}){_last_line(proc.stderr)}")
    if not answer.pop("ok", False):
        raise OnnxRouteError(answer.get("error") or f"{what}: failed")
    return answer


def _read_answer(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _last_line(stderr: str) -> str:
    lines = [line.strip() for line in (stderr or "").splitlines() if line.strip()]
    return f": {lines[-1]}" if lines else ""
