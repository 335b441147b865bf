"""Shared test setup: paths, the golden-file switch, subprocess helpers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

# A few tests compare Keras and torch in one process. torch's CUDA builds import triton
# lazily (building an optimizer reaches torch._dynamo), and triton imported after
# TensorFlow segfaults (../shared/NOTES.md); imported first, both coexist. tfpt itself
# never mixes them: its workers run one framework each.
try:
    import triton  # noqa: F401
except ImportError:
    pass

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures" / "keras"
EXPECTED = ROOT / "fixtures" / "expected"
FIXTURE_NAMES = sorted(p.stem for p in FIXTURES.glob("*.py"))
#: fixtures that build Keras models (verify and convert run them); tf1_* are TF1 graph programs
MODEL_FIXTURE_NAMES = [n for n in FIXTURE_NAMES if not n.startswith("tf1_")]


def pytest_addoption(parser):
    parser.addoption("--update-golden", action="store_true",
                     help="rewrite fixtures/expected/ from the current translator")


@pytest.fixture(scope="session")
def update_golden(request) -> bool:
    return request.config.getoption("--update-golden")


def run_tfpt(*args: str, stdin: bytes | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """The real CLI in a subprocess, as a user runs it."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "translator.cli", *args], input=stdin, capture_output=True,
                          cwd=cwd or ROOT, env=env, timeout=300)
