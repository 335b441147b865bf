"""The ONNX route of ``tfpt convert``: any Keras model file -> ONNX -> a ``torch.export`` program.

Where tfpt's own translation needs a model it recognises, this route takes whatever
Keras can load: tf2onnx exports it (``keras_export``, a TensorFlow-only process),
onnx2torch rebuilds it in torch with tfpt's converters for what it lacks (``ops``,
``onnx_passes``, ``shape_ops``) and ``torch.export`` saves it (``torch_import``, a
torch-only process). ``torch_to_onnx`` goes the other way for an ``nn.Module``.

Importing this package imports neither TensorFlow nor torch: each step runs as a
worker process (``spawn``). Every failure is an ``OnnxRouteError`` with a one-line
message naming the file and the op or layer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from .errors import OnnxRouteError
from .spawn import run_worker

__all__ = ["OnnxRouteError", "keras_to_onnx", "onnx_to_torch", "keras_to_torch_via_onnx", "torch_to_onnx"]

KERAS_SUFFIXES = (".keras", ".h5", ".hdf5")


def keras_to_onnx(src: Path, out_onnx: Path, *, trust: bool = False) -> dict:
    """Export a ``.keras`` / legacy ``.h5`` model to ONNX; ``trust`` allows Lambda layers and custom classes.

    Returns ``{"opset", "inputs", "outputs", "ops"}``.
    """
    src, out_onnx = Path(src), Path(out_onnx)
    _require(src, KERAS_SUFFIXES)
    args = [str(src), str(out_onnx)] + (["--trust"] if trust else [])
    return run_worker("keras_export", args, what=src.name)


def onnx_to_torch(onnx_path: Path, out: Path) -> dict:
    """Convert an ONNX model to a ``torch.export`` program saved at ``out`` (``.pt2``).

    Returns ``{"inputs", "batch" ("dynamic" or "fixed ..."), "opset", "rewrites"}`` and,
    where onnxruntime is installed, ``"onnxruntime_max_abs_diff"`` on a seeded input.
    """
    onnx_path, out = Path(onnx_path), Path(out)
    _require(onnx_path, (".onnx",))
    if out.suffix != ".pt2":
        raise OnnxRouteError(f"{out.name}: the torch program is written as .pt2 (torch.export.save)")
    return run_worker("torch_import", [str(onnx_path), str(out)], what=onnx_path.name)


def keras_to_torch_via_onnx(src: Path, out: Path, *, trust: bool = False, keep_onnx: Path | None = None) -> dict:
    """Keras file -> ``out``: a ``.pt2`` program, or only the ONNX file when ``out`` ends in ``.onnx``.

    ``keep_onnx`` keeps the intermediate ONNX file there. Returns the steps' info
    under ``"onnx"`` and ``"torch"``.
    """
    src, out = Path(src), Path(out)
    if out.suffix == ".onnx":
        return {"onnx": keras_to_onnx(src, out, trust=trust)}
    if out.suffix != ".pt2":
        raise OnnxRouteError(f"{out.name}: the ONNX route writes .pt2 (a torch.export program) or .onnx")
    if keep_onnx is not None:
        info = {"onnx": keras_to_onnx(src, Path(keep_onnx), trust=trust)}
        info["torch"] = onnx_to_torch(Path(keep_onnx), out)
        return info
    import tempfile

    with tempfile.TemporaryDirectory(prefix="tfpt-onnx-") as tmp:
        onnx_path = Path(tmp) / f"{src.stem}.onnx"
        info = {"onnx": keras_to_onnx(src, onnx_path, trust=trust)}
        try:
            info["torch"] = onnx_to_torch(onnx_path, out)
        except OnnxRouteError as e:  # name the user's file, not the temporary one
            raise OnnxRouteError(str(e).replace(onnx_path.name, f"{src.name} (as ONNX)", 1)) from None
    return info


def torch_to_onnx(module_file: Path, class_name: str, state_dict: Path | None, out: Path,
                  input_shape: Sequence[int]) -> dict:
    """Export ``class_name`` from ``module_file`` (built with no arguments) to ONNX, batch axis free.

    ``state_dict``: a ``.safetensors`` or ``.pt`` file (read with ``weights_only=True``),
    or ``None`` for the module's own initial weights. ``input_shape`` includes the batch.
    """
    module_file, out = Path(module_file), Path(out)
    _require(module_file, (".py",))
    if out.suffix != ".onnx":
        raise OnnxRouteError(f"{out.name}: torch_to_onnx writes a .onnx file")
    if not input_shape or any(int(d) <= 0 for d in input_shape):
        raise OnnxRouteError(f"{module_file.name}: input shape {list(input_shape)} needs positive sizes, batch first")
    args = [str(module_file), class_name, str(out), "--input-shape", ",".join(str(int(d)) for d in input_shape)]
    if state_dict is not None:
        _require(Path(state_dict), (".safetensors", ".pt", ".pth", ".bin"))
        args += ["--state-dict", str(state_dict)]
    return run_worker("torch_export", args, what=module_file.name)


def _require(path: Path, suffixes: tuple[str, ...]) -> None:
    if not path.is_file():
        raise OnnxRouteError(f"{path}: no such file")
    if path.suffix.lower() not in suffixes:
        raise OnnxRouteError(f"{path.name}: expected a {' / '.join(suffixes)} file")
