"""Worker (torch only): an ``nn.Module`` class in a Python file -> ``.onnx``.

``python -m converters.onnx_route.torch_export MODULE.py CLASS OUT.onnx --input-shape 1,3,32,32
[--state-dict W.safetensors|W.pt] --result R.json``

The class is built with no arguments, loads the state dict when given (``.pt`` files
with ``weights_only=True``: tensors only, no pickled code), and is exported in eval
mode with ``torch.onnx.export``'s TorchScript exporter (the dynamo one needs
onnxscript) and a free batch axis. The module file itself is imported: it is code
the user asked to convert.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

from .errors import WorkerError
from .worker_io import one_line, serve

OPSET = 17


def export(module_file: Path, class_name: str, out: Path, input_shape: list[int], state_dict: Path | None) -> dict:
    """Build, load weights, export; returns the ONNX input and output names and the opset."""
    import torch

    module = _instantiate(module_file, class_name)
    if state_dict is not None:
        _load_state_dict(module, state_dict)
    module.eval()
    example = torch.randn(*input_shape)
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        torch.onnx.export(module, (example,), str(out), dynamo=False, opset_version=OPSET,
                          input_names=["input"], output_names=["output"],
                          dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}})
    except Exception as e:  # noqa: BLE001 - the exporter raises many kinds
        raise WorkerError(f"{module_file.name}: torch.onnx.export failed for {class_name} ({one_line(e)})") from None
    return {"opset": OPSET, "inputs": ["input"], "outputs": ["output"], "input_shape": input_shape}


def _instantiate(module_file: Path, class_name: str):
    where = module_file.name
    if not module_file.is_file():
        raise WorkerError(f"{module_file}: no such file")
    spec = importlib.util.spec_from_file_location(f"tfpt_user_module_{module_file.stem}", module_file)
    namespace = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = namespace
    try:
        spec.loader.exec_module(namespace)
    except Exception as e:  # noqa: BLE001 - whatever the user's file raises
        raise WorkerError(f"{where}: importing it failed ({one_line(e)})") from None
    cls = getattr(namespace, class_name, None)
    if cls is None:
        raise WorkerError(f"{where}: defines no {class_name!r}")
    try:
        return cls()
    except Exception as e:  # noqa: BLE001
        raise WorkerError(f"{where}: {class_name}() failed ({one_line(e)}); the class must build with no arguments")


def _load_state_dict(module, path: Path) -> None:
    import torch

    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path))
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - corrupt files, pickles with code, missing files
        raise WorkerError(f"{path.name}: cannot read the state dict ({one_line(e)})") from None
    own = module.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shapes = [f"{k} {tuple(state[k].shape)} vs {tuple(own[k].shape)}" for k in own
              if k in state and tuple(state[k].shape) != tuple(own[k].shape)]
    if missing or unexpected or shapes:
        parts = [f"{label} [{', '.join(items[:6])}{', ...' if len(items) > 6 else ''}]"
                 for label, items in (("missing", missing), ("unexpected", unexpected), ("shapes", shapes)) if items]
        raise WorkerError(f"{path.name}: does not fit {type(module).__name__}: {'; '.join(parts)}")
    module.load_state_dict(state)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("module_file", type=Path)
    parser.add_argument("class_name")
    parser.add_argument("out", type=Path)
    parser.add_argument("--input-shape", required=True, type=lambda s: [int(d) for d in s.split(",")])
    parser.add_argument("--state-dict", type=Path)
    serve(parser, lambda a: export(a.module_file, a.class_name, a.out, a.input_shape, a.state_dict),
          lambda a: a.module_file.name)


if __name__ == "__main__":
    main()
