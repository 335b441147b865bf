"""Worker (torch only): ``.onnx`` -> a ``torch.export`` program ``.pt2``.

``python -m converters.onnx_route.torch_import MODEL.onnx OUT.pt2 --result R.json``

onnx2torch builds an fx ``GraphModule`` with tfpt's converters registered beside its
own (``ops``) after tfpt's rewrites (``onnx_passes``). The module is exported with a
free batch axis where the ONNX input has one (a fixed batch where tracing needs it),
and saved with ``torch.export.save``: ``torch.export.load(path).module()`` runs it in
a process that has neither tfpt nor onnx2torch. When onnxruntime is installed the
worker also runs both on the same seeded input and reports the largest difference.
"""

from __future__ import annotations

import argparse
import contextlib
from pathlib import Path

from .errors import WorkerError
from .worker_io import one_line, serve

#: the example batch size for tracing: 0 and 1 would be specialised by torch.export
EXAMPLE_BATCH = 2
SEED = 0


def convert(src: Path, out: Path) -> dict:
    """Convert, export, save; returns what the caller may report."""
    where = src.name
    import numpy as np
    import onnx
    import onnx2torch
    import torch
    from onnx2torch.node_converters.registry import get_converter

    from . import ops
    from .onnx_consts import subgraphs
    from .onnx_passes import prepare

    try:
        model = onnx.load(src)
        onnx.checker.check_model(model)
    except Exception as e:  # noqa: BLE001 - protobuf's DecodeError, onnx's ValidationError, OSError
        raise WorkerError(f"{where}: not a readable ONNX model ({one_line(e)})") from None
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), None)
    if opset is None:
        raise WorkerError(f"{where}: no default-domain opset import")
    rewrites = prepare(model)
    opsets = {o.domain if o.domain != "ai.onnx" else "": o.version for o in model.opset_import}

    def check_converters(graph) -> None:
        for node in graph.node:
            try:
                get_converter(operation_type=node.op_type, version=opsets.get(node.domain, 1), domain=node.domain)
            except NotImplementedError:
                raise WorkerError(f"{where}: no onnx2torch converter for ONNX op {node.op_type!r} "
                                  f"(opset {opsets.get(node.domain)}), node {node.name!r}") from None
            for sub in subgraphs(node):
                check_converters(sub)

    check_converters(model.graph)
    try:
        with ops.loop.model_opset(opset), _light_shape_inference():
            module = onnx2torch.convert(model).eval()
    except Exception as e:  # noqa: BLE001 - converters raise NotImplementedError, KeyError, ...
        raise WorkerError(f"{where}: onnx2torch cannot convert it ({one_line(e)})") from None

    initializers = {i.name for i in model.graph.initializer}
    graph_inputs = [_detached(i) for i in model.graph.input if i.name not in initializers]
    del model  # the module holds the weights now; a sub-message kept alive would keep them all
    rng = np.random.default_rng(SEED)
    examples = [_example(value, rng) for value in graph_inputs]
    free_batch = [_free_first_axis(value) for value in graph_inputs]
    program, batch = _export(module, examples, free_batch, where)
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.export.save(program, out)
    info = {"inputs": [v.name for v in graph_inputs], "batch": batch, "opset": opset,
            "rewrites": {k: v for k, v in rewrites.items() if v}}
    diff = _compare_with_onnxruntime(src, graph_inputs, examples, program)
    if diff is not None:
        info["onnxruntime_max_abs_diff"] = diff
    return info


@contextlib.contextmanager
def _light_shape_inference():
    """onnx2torch's shape inference, on the model without its weights (``onnx_passes.infer_value_info``).

    ``onnx2torch.convert`` starts with ``infer_shapes`` on the whole model, which holds
    the weights three more times at once (serialised, in C++, parsed back); it only
    needs the inferred value infos, which the weights do not change.
    """
    import onnx
    from onnx2torch import converter

    from .onnx_passes import infer_value_info

    def infer(model, **kwargs):
        if isinstance(model, onnx.ModelProto) and not kwargs:
            return infer_value_info(model)
        return original(model, **kwargs)

    original = converter.safe_shape_inference
    converter.safe_shape_inference = infer
    try:
        yield
    finally:
        converter.safe_shape_inference = original


def _detached(message):
    """A copy of a protobuf sub-message that does not keep its parent's arena (and weights) alive."""
    copy = type(message)()
    copy.CopyFrom(message)
    return copy


def _example(value, rng):
    """A seeded input for tracing: free axes get ``EXAMPLE_BATCH``; integer inputs get zeros (valid ids)."""
    import numpy as np
    import torch
    from onnx import helper

    shape = [d.dim_value if d.HasField("dim_value") else EXAMPLE_BATCH for d in value.type.tensor_type.shape.dim]
    dtype = helper.tensor_dtype_to_np_dtype(value.type.tensor_type.elem_type)
    if np.issubdtype(dtype, np.floating):
        return torch.from_numpy(rng.normal(size=shape).astype(dtype))
    return torch.zeros(shape, dtype=torch.from_numpy(np.zeros(0, dtype)).dtype)


def _free_first_axis(value) -> bool:
    dims = value.type.tensor_type.shape.dim
    return bool(dims) and not dims[0].HasField("dim_value")


def _export(module, examples, free_batch, where: str):
    """``torch.export`` with a dynamic batch axis; a fixed one (and why) where tracing specialises it."""
    import torch

    fixed = "fixed"
    if any(free_batch):
        # DYNAMIC, not Dim("batch"): export may narrow the range (e.g. to < 2**31) without failing
        shapes = tuple({0: torch.export.Dim.DYNAMIC} if free else None for free in free_batch)
        try:
            return torch.export.export(module, tuple(examples), dynamic_shapes=shapes), "dynamic"
        except Exception as e:  # noqa: BLE001 - a constraint violation: keep the traced batch size
            fixed = f"fixed ({EXAMPLE_BATCH}): {one_line(e)}"
    try:
        return torch.export.export(module, tuple(examples)), fixed
    except Exception as e:  # noqa: BLE001
        raise WorkerError(f"{where}: torch.export cannot trace the converted module ({one_line(e)})") from None


def _compare_with_onnxruntime(src: Path, graph_inputs, examples, program) -> float | None:
    try:
        import onnxruntime
    except ImportError:
        return None
    import numpy as np
    import torch

    session = onnxruntime.InferenceSession(str(src), providers=["CPUExecutionProvider"])
    expected = session.run(None, {v.name: x.numpy() for v, x in zip(graph_inputs, examples)})
    with torch.no_grad():
        got = program.module()(*examples)
    got = got if isinstance(got, (tuple, list)) else [got]
    return float(max(np.max(np.abs(np.asarray(e) - g.numpy()), initial=0.0) for e, g in zip(expected, got)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("src", type=Path)
    parser.add_argument("out", type=Path)
    serve(parser, lambda a: convert(a.src, a.out), lambda a: a.src.name)


if __name__ == "__main__":
    main()
