"""The CLI as a user runs it: real subprocesses, real files, every exit code."""

from __future__ import annotations

import sys

import pytest

from conftest import EXPECTED, FIXTURES, ROOT, run_tfpt

MLP = FIXTURES / "mlp.py"


def test_translate_to_stdout_matches_golden():
    proc = run_tfpt("translate", str(MLP))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.decode() == (EXPECTED / "mlp.py").read_text(encoding="utf-8")
    assert proc.stderr.decode().strip().splitlines()[-1].startswith(f"tfpt: {MLP}: ")
    assert "0 TODO(s)" in proc.stderr.decode()


def test_translate_writes_output_file(tmp_path):
    out = tmp_path / "mlp_torch.py"
    proc = run_tfpt("translate", str(MLP), "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == b""
    assert out.read_text(encoding="utf-8") == (EXPECTED / "mlp.py").read_text(encoding="utf-8")
    assert not list(tmp_path.glob(".*.tmp")), "temporary file left behind"


def test_stdin_to_stdout():
    proc = run_tfpt("translate", "-", stdin=MLP.read_bytes())
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.decode() == (EXPECTED / "mlp.py").read_text(encoding="utf-8")
    assert "tfpt: <stdin>:" in proc.stderr.decode()


def test_check_exits_1_when_the_file_would_change(tmp_path):
    proc = run_tfpt("translate", "--check", str(MLP))
    assert proc.returncode == 1
    assert proc.stdout == b""
    assert "would change" in proc.stderr.decode()


def test_check_exits_0_on_translated_output(tmp_path):
    done = tmp_path / "done.py"
    done.write_text((EXPECTED / "mlp.py").read_text(encoding="utf-8"), encoding="utf-8")
    proc = run_tfpt("translate", "--check", str(done))
    assert proc.returncode == 0, proc.stderr
    assert "unchanged" in proc.stderr.decode()


def test_diff_prints_a_unified_diff():
    proc = run_tfpt("translate", "--diff", str(MLP))
    assert proc.returncode == 0
    out = proc.stdout.decode()
    assert out.startswith(f"--- {MLP}\n+++ ")
    assert "-import tensorflow as tf\n" in out
    assert "+class Model(nn.Module):\n" in out


UNSUPPORTED = b"""import keras
from keras import layers

model = keras.Sequential([
    layers.Dense(8, input_shape=(4,)),
    layers.Lambda(lambda t: t * 2),
])
model.compile(optimizer="adam", loss="mse")
"""


def test_strict_exits_1_when_todos_remain(tmp_path):
    src = tmp_path / "lam.py"
    src.write_bytes(UNSUPPORTED)
    relaxed = run_tfpt("translate", str(src))
    assert relaxed.returncode == 0
    assert "# TODO(tfpt): Lambda" not in relaxed.stdout.decode()  # the reason names the layer
    assert "# TODO(tfpt): " in relaxed.stdout.decode()
    strict = run_tfpt("translate", "--strict", str(src))
    assert strict.returncode == 1
    assert f"{src}:6:5: Sequential: " in strict.stderr.decode()


def test_missing_file_is_bad_input(tmp_path):
    out = tmp_path / "out.py"
    proc = run_tfpt("translate", str(tmp_path / "nope.py"), "-o", str(out))
    assert proc.returncode == 2
    assert proc.stderr.decode().strip() == f"tfpt: error: {tmp_path / 'nope.py'}: no such file"
    assert not out.exists()


def test_syntax_error_is_one_line_with_position_and_writes_nothing(tmp_path):
    src = tmp_path / "broken.py"
    src.write_text("import keras\nmodel = keras.Sequential([\n    keras.layers.Dense(3,,)\n])\n", encoding="utf-8")
    out = tmp_path / "out.py"
    proc = run_tfpt("translate", str(src), "-o", str(out))
    assert proc.returncode == 2
    lines = proc.stderr.decode().strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"tfpt: error: {src}:3:")
    assert "syntax error" in lines[0]
    assert not out.exists()


def test_undecodable_file_is_bad_input(tmp_path):
    src = tmp_path / "latin.py"
    src.write_bytes(b"import keras\nname = '\xe9t\xe9'\n")
    proc = run_tfpt("translate", str(src))
    assert proc.returncode == 2
    assert "not valid utf-8" in proc.stderr.decode()
    assert proc.stdout == b""


def test_declared_encoding_is_honoured(tmp_path):
    src = tmp_path / "latin.py"
    src.write_bytes(b"# -*- coding: latin-1 -*-\nname = '\xe9t\xe9'\n")
    proc = run_tfpt("translate", str(src))
    assert proc.returncode == 0, proc.stderr
    assert "\u00e9t\u00e9" in proc.stdout.decode()


def test_refuses_to_overwrite_the_input_without_in_place(tmp_path):
    src = tmp_path / "m.py"
    src.write_bytes(MLP.read_bytes())
    proc = run_tfpt("translate", str(src), "-o", str(src))
    assert proc.returncode == 2
    assert "--in-place" in proc.stderr.decode()
    assert src.read_bytes() == MLP.read_bytes()


def test_in_place_rewrites_the_file(tmp_path):
    src = tmp_path / "m.py"
    src.write_bytes(MLP.read_bytes())
    proc = run_tfpt("translate", "--in-place", str(src))
    assert proc.returncode == 0, proc.stderr
    assert src.read_text(encoding="utf-8") == (EXPECTED / "mlp.py").read_text(encoding="utf-8")


def test_directory_is_bad_input(tmp_path):
    proc = run_tfpt("translate", str(tmp_path))
    assert proc.returncode == 2
    assert "is a directory" in proc.stderr.decode()


def test_translate_imports_neither_framework():
    code = (
        "import sys\n"
        "from translator.cli import main\n"
        f"main(['translate', {str(MLP)!r}, '-o', '/dev/null'])\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras', 'torch', 'numpy'))\n"
        "assert not heavy, heavy\n"
    )
    import subprocess

    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, timeout=120)
    assert proc.returncode == 0, proc.stderr.decode()


@pytest.mark.parametrize("name", sorted(p.stem for p in FIXTURES.glob("*.py")))
def test_translated_script_runs_without_tensorflow(name, tmp_path):
    """The translation is a working PyTorch program: it runs to the end, TensorFlow never imported."""
    import subprocess

    script = tmp_path / f"{name}_torch.py"
    script.write_text((EXPECTED / f"{name}.py").read_text(encoding="utf-8"), encoding="utf-8")
    runner = (
        "import runpy, sys\n"
        f"runpy.run_path({str(script)!r}, run_name='__main__')\n"
        "assert not [m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras')], 'TensorFlow imported'\n"
    )
    proc = subprocess.run([sys.executable, "-c", runner], cwd=tmp_path, capture_output=True, timeout=300)
    assert proc.returncode == 0, proc.stderr.decode()[-3000:]
