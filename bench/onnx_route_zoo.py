"""How many of the 13 zoo models reach torch off the shelf, and how many through tfpt's ONNX route.

    python bench/onnx_route_zoo.py [--keep DIR]

A measurement, not a test (pytest does not collect it); about a minute on 2 cores.
The zoo is ``tests/onnx_zoo.py`` (seeded Keras models, batch-3 inputs, Keras outputs).

* **off the shelf**: ``tf2onnx.convert.from_function`` (opset 17, the newest whose
  reductions onnx2torch reads) with no tfpt handlers, then ``onnx2torch.convert`` with
  no tfpt converters; a model counts when the eager module matches Keras within 1e-5.
  Also counted: how many of those ``torch.export`` with a free batch axis.
* **tfpt**: ``keras_export`` + ``torch_import`` (the ``.pt2`` program), loaded with
  plain ``torch.export.load`` in a process without tfpt or onnx2torch, within 1e-5.

Each framework runs in its own process (TensorFlow and torch crash in one).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOL = 1e-5

_PLAIN_EXPORT = """
    import json, runpy, sys
    from pathlib import Path
    import onnx, tensorflow as tf, tf2onnx, keras
    out = Path(sys.argv[1])
    runpy.run_path(sys.argv[2])["main"]([str(out)])
    result = {}
    for src in sorted(out.glob("*.keras")):
        model = keras.saving.load_model(src, compile=False)
        sig = [tf.TensorSpec((None, *t.shape[1:]), t.dtype) for t in model.inputs]
        fn = tf.function(lambda x: model(x, training=False), input_signature=sig)
        try:
            proto, _ = tf2onnx.convert.from_function(fn, input_signature=sig, opset=17)
            onnx.checker.check_model(proto)
            onnx.save(proto, out / f"plain_{src.stem}.onnx")
            result[src.stem] = "ok"
        except Exception as e:
            result[src.stem] = f"{type(e).__name__}: {str(e).splitlines()[0][:90]}"
    print(json.dumps(result))
"""

_PLAIN_CONVERT = """
    import json, sys
    from pathlib import Path
    import numpy as np, onnx2torch, torch
    out = Path(sys.argv[1])
    result = {}
    for name in sys.argv[2:]:
        x = torch.from_numpy(np.load(out / f"{name}.input.npy"))
        try:
            module = onnx2torch.convert(str(out / f"plain_{name}.onnx")).eval()
            with torch.no_grad():
                diff = float(np.abs(module(x).numpy() - np.load(out / f"{name}.output.npy")).max())
        except Exception as e:
            result[name] = {"eager": f"{type(e).__name__}: {str(e).splitlines()[0][:90]}"}
            continue
        row = {"eager": "ok" if diff <= 1e-5 else f"diff {diff:.2e}"}
        try:
            torch.export.export(module, (x,), dynamic_shapes=({0: torch.export.Dim.DYNAMIC},))
            row["export"] = "ok"
        except Exception as e:
            row["export"] = f"{type(e).__name__}: {str(e).splitlines()[0][:90]}"
        result[name] = row
    print(json.dumps(result))
"""

_TFPT_EXPORT = """
    import json, sys
    from pathlib import Path
    from converters.onnx_route.errors import WorkerError
    from converters.onnx_route.keras_export import export
    out = Path(sys.argv[1])
    result = {}
    for name in sys.argv[2:]:
        try:
            export(out / f"{name}.keras", out / f"{name}.onnx", trust=False)
            result[name] = "ok"
        except WorkerError as e:
            result[name] = str(e)
    print(json.dumps(result))
"""

_TFPT_CONVERT = _TFPT_EXPORT.replace("keras_export import export", "torch_import import convert").replace(
    'export(out / f"{name}.keras", out / f"{name}.onnx", trust=False)', 'convert(out / f"{name}.onnx", out / f"{name}.pt2")')

_LOAD = """
    import json, sys
    import numpy as np, torch
    out = sys.argv[1]
    result = {}
    for name in sys.argv[2:]:
        program = torch.export.load(f"{out}/{name}.pt2").module()
        with torch.no_grad():
            y = program(torch.from_numpy(np.load(f"{out}/{name}.input.npy"))).numpy()
        result[name] = float(np.abs(y - np.load(f"{out}/{name}.output.npy")).max())
    print(json.dumps(result))
"""


def _run(code: str, *args: str, repo_on_path: bool = True) -> dict:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "KERAS_BACKEND": "tensorflow"}
    env.pop("PYTHONPATH", None)
    if repo_on_path:
        env["PYTHONPATH"] = str(ROOT)
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code), *args], capture_output=True, text=True,
                          env=env, cwd=ROOT if repo_on_path else "/")
    if proc.returncode != 0:
        sys.exit(f"worker failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keep", type=Path, help="write the zoo and every converted file here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = args.keep or Path(tmp)
        out.mkdir(parents=True, exist_ok=True)
        plain = _run(_PLAIN_EXPORT, str(out), str(ROOT / "tests" / "onnx_zoo.py"))
        names = list(plain)
        exported = [n for n in names if plain[n] == "ok"]
        shelf = _run(_PLAIN_CONVERT, str(out), *exported) if exported else {}
        tfpt_onnx = _run(_TFPT_EXPORT, str(out), *names)
        tfpt_pt2 = _run(_TFPT_CONVERT, str(out), *[n for n in names if tfpt_onnx[n] == "ok"])
        loaded = _run(_LOAD, str(out), *[n for n in names if tfpt_pt2.get(n) == "ok"], repo_on_path=False)

    print(f"{'model':22} {'off the shelf (tf2onnx + onnx2torch)':60} {'tfpt .pt2 max abs diff'}")
    for name in names:
        row = shelf.get(name, {})
        if plain[name] != "ok":
            verdict = f"tf2onnx: {plain[name]}"
        elif row.get("eager") != "ok":
            verdict = f"onnx2torch: {row.get('eager')}"
        else:
            verdict = "ok" + ("" if row.get("export") == "ok" else " (torch.export fails)")
        tfpt = f"{loaded[name]:.1e}" if name in loaded else (tfpt_pt2.get(name) or tfpt_onnx[name])
        print(f"{name:22} {verdict[:60]:60} {tfpt}")
    eager = sum(1 for r in shelf.values() if r.get("eager") == "ok")
    exportable = sum(1 for r in shelf.values() if r.get("eager") == "ok" and r.get("export") == "ok")
    ours = sum(1 for d in loaded.values() if d <= TOL)
    print(f"\noff the shelf: {eager} of {len(names)} convert and match Keras "
          f"({exportable} of them also torch.export with a free batch axis)")
    print(f"tfpt: {ours} of {len(names)} as torch.export programs matching Keras within {TOL:g}")


if __name__ == "__main__":
    main()
