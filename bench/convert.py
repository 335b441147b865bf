"""Benchmark ``tfpt convert`` on a large synthetic Keras checkpoint.

    python bench/convert.py [--mb 540] [--skip-onnx] [--workdir DIR]

Builds (once, cached in the work directory) a Sequential model of square Dense layers
whose ``.keras`` file is at least ``--mb`` megabytes, then measures in the same run:

* the floor: reading the checkpoint's bytes and writing as many bytes to a new file;
* the direct conversion (``tfpt convert big.keras -o big.safetensors --no-verify``) as
  a user runs it (wall time, best of 3), and in-process with its peak RSS (a torch
  worker, started only when a user's ``--module`` must be described, would be a
  child process: reported apart);
* the ONNX route (``-o big.pt2 --no-verify``) on the same checkpoint.

Targets (issue 3): direct <= 2x the floor; peak RSS <= 1.5x the largest tensor +
200 MB (the converter streams one tensor at a time); direct >= 10x faster than ONNX.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
UNITS = 4096  # one Dense kernel: 4096 x 4096 float32 = 64 MiB

BUILD = """
import os, sys
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import numpy as np, keras
path, layers, units = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
model = keras.Sequential([keras.Input((units,))] + [keras.layers.Dense(units) for _ in range(layers)])
rng = np.random.default_rng(0)
for w in model.weights:
    w.assign(rng.standard_normal(w.shape, dtype=np.float32))
model.save(path)
"""

# runs the conversion in-process and reports this process's own peak RSS
CONVERT = """
import resource, sys, time
from converters.convert import Options, convert
t = time.perf_counter()
rc = convert(Options(src=sys.argv[1], out=sys.argv[2], force=True, verify=False), out=lambda s: None)
elapsed = time.perf_counter() - t
print(rc, elapsed, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
      resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024)
"""


def _env() -> dict:
    return {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}


def build(path: Path, mb: int) -> None:
    layers = -(-mb * (1 << 20) // (UNITS * UNITS * 4))
    if path.exists() and path.stat().st_size >= mb * (1 << 20):
        return
    print(f"building {path} ({layers} x Dense({UNITS}))...", flush=True)
    subprocess.run([sys.executable, "-c", BUILD, str(path), str(layers), str(UNITS)], check=True, env=_env())


def floor(src: Path, dst: Path) -> float:
    """Read every byte of ``src`` and write as many to ``dst``: what any converter must do."""
    t = time.perf_counter()
    with open(src, "rb") as fin, open(dst, "wb") as fout:
        while chunk := fin.read(1 << 24):
            fout.write(chunk)
    return time.perf_counter() - t


def timed_cli(*args: str) -> float:
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "translator.cli", *args], env=_env(), capture_output=True, text=True)
    elapsed = time.perf_counter() - t
    if proc.returncode != 0:
        raise SystemExit(f"tfpt {' '.join(args)} failed:\n{proc.stderr[-2000:]}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=540)
    parser.add_argument("--skip-onnx", action="store_true")
    parser.add_argument("--workdir", default=os.path.join(tempfile.gettempdir(), "tfpt-bench-convert"))
    args = parser.parse_args()
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    src = work / "big.keras"
    build(src, args.mb)
    size = src.stat().st_size
    largest = UNITS * UNITS * 4

    floor(src, work / "copy.bin")  # warm the page cache: every measurement below reads from memory
    floor_s = min(floor(src, work / "copy.bin") for _ in range(3))
    (work / "copy.bin").unlink()

    out = work / "big.safetensors"
    cli_s = min(timed_cli("convert", str(src), "-o", str(out), "--no-verify", "--force") for _ in range(3))
    proc = subprocess.run([sys.executable, "-c", CONVERT, str(src), str(out)], env=_env(), capture_output=True,
                          text=True, check=True)
    rc, inproc_s, rss, child_rss = proc.stdout.split()
    rss, child_rss, inproc_s = int(rss), int(child_rss), float(inproc_s)
    rss_target = 1.5 * largest + (200 << 20)

    mb = 1 << 20
    print(f"checkpoint: {size / mb:.0f} MB, largest tensor {largest / mb:.0f} MB")
    print(f"floor (read + write {size / mb:.0f} MB): {floor_s:.2f} s")
    print(f"direct, CLI wall time: {cli_s:.2f} s = {cli_s / floor_s:.2f}x the floor (target <= 2x)")
    print(f"direct, conversion call: {inproc_s:.2f} s = {inproc_s / floor_s:.2f}x the floor")
    print(f"peak RSS, converting process: {rss / mb:.0f} MB (target <= {rss_target / mb:.0f} MB: "
          f"{'met' if rss <= rss_target else 'MISSED'}); largest child process: {child_rss / mb:.0f} MB")
    if not args.skip_onnx:
        try:
            onnx_s = timed_cli("convert", str(src), "-o", str(work / "big.pt2"), "--no-verify", "--force")
            print(f"ONNX route (-o .pt2): {onnx_s:.2f} s; direct is {onnx_s / cli_s:.1f}x faster (target >= 10x)")
        except SystemExit as e:
            print(f"ONNX route failed: {e}")
    out.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
