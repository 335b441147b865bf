"""Worker (TensorFlow only): a Keras model file (``.keras`` or legacy ``.h5``) -> ``.onnx``.

``python -m converters.onnx_route.keras_export SRC OUT.onnx [--trust] --result R.json``

``tf2onnx.convert.from_keras`` fails on Keras 3 models, so the model is wrapped in a
``tf.function`` whose input signature comes from ``model.inputs`` with a free batch
axis, and exported with tf2onnx's ``from_function`` steps as ``tf2onnx_pipeline`` runs
them (a few times the weights in memory, where tf2onnx itself held ~45 copies; protobuf
caps one ``.onnx`` file at 2 GiB, a clear error beyond). tf2onnx keeps going past ops it cannot
export (it leaves them in the graph under their TensorFlow names), so the result
is checked against the ONNX schemas and such an op is reported with its layer.
"""

from __future__ import annotations

import argparse
import gc
import os
import re
from pathlib import Path

from .errors import WorkerError
from .worker_io import one_line, serve

#: the newest opset onnx2torch 1.5.15 converts Keras' reductions in (opset 18 moved
#: ReduceMean/ReduceMax's axes from an attribute to an input, which it lacks)
OPSET = 17
#: protobuf's limit on one serialised message
MAX_PROTO_BYTES = 2**31 - 1


def export(src: Path, out: Path, *, trust: bool) -> dict:
    """Convert; returns what the caller may report (opset, inputs, outputs, op types)."""
    where = src.name
    _check_file(src, trust)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras
    import onnx
    import tensorflow as tf

    from . import tf2onnx_ops  # noqa: F401 - registers the handlers tf2onnx lacks
    from . import tf2onnx_pipeline

    try:
        model = keras.saving.load_model(src, compile=False, safe_mode=not trust)
    except Exception as e:  # noqa: BLE001 - Keras raises anything from ValueError to OSError
        raise WorkerError(f"{where}: Keras cannot load it ({one_line(e)})") from None
    signature = [tf.TensorSpec((None, *t.shape[1:]), t.dtype, name=_input_name(t, i))
                 for i, t in enumerate(model.inputs)]

    @tf.function(input_signature=signature)
    def forward(*xs):
        return model(xs[0] if len(xs) == 1 else list(xs), training=False)

    layer_names = _layer_names(model)
    try:
        frozen = tf2onnx_pipeline.freeze(forward, signature)
        del model, forward  # the frozen graph holds the weights now: one copy, not two
        gc.collect()
        proto = tf2onnx_pipeline.to_onnx(frozen, OPSET)
        del frozen
    except Exception as e:  # noqa: BLE001
        raise WorkerError(f"{where}: tf2onnx cannot export it ({one_line(e)})") from None
    _check_ops(proto, where, layer_names)
    info = {
        "opset": OPSET,
        "inputs": [i.name for i in proto.graph.input],
        "outputs": [o.name for o in proto.graph.output],
        "ops": sorted({n.op_type for n in _all_nodes(proto.graph)}),
    }
    # serialised once, for the checker and the file: each serialisation is a full copy of the weights
    size = proto.ByteSize()
    if size >= MAX_PROTO_BYTES:
        raise WorkerError(f"{where}: the ONNX model would be {size / 2**30:.1f} GiB; "
                          f"a single .onnx protobuf holds at most 2 GiB")
    data = proto.SerializeToString()
    del proto
    try:
        onnx.checker.check_model(data)
    except onnx.checker.ValidationError as e:
        raise WorkerError(f"{where}: tf2onnx produced an invalid ONNX graph ({one_line(e)})") from None
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(data)
    return info


def _check_file(src: Path, trust: bool) -> None:
    """tfpt's own reader refuses Lambda layers and custom classes by name, before Keras runs anything."""
    from converters.keras_files import CheckpointError, open_keras_file

    try:
        with open_keras_file(src, trust=trust) as ckpt:
            if ckpt.config is None:
                raise WorkerError(f"{src.name}: holds weights only, no architecture; "
                                  "the ONNX route needs a full model file (model.save)")
    except CheckpointError as e:
        raise WorkerError(str(e)) from None


def _layer_names(model) -> list[str]:
    """Every layer's name, nested models' layers included."""
    names = []
    for layer in getattr(model, "layers", []):
        names.append(layer.name)
        names.extend(_layer_names(layer))
    return names


def _input_name(tensor, index: int) -> str:
    name = re.sub(r"\W", "_", getattr(tensor, "name", "") or "")
    return name if name.isidentifier() else f"input_{index}"


def _all_nodes(graph):
    for node in graph.node:
        yield node
        for attr in node.attribute:
            if attr.g.node:
                yield from _all_nodes(attr.g)
            for sub in attr.graphs:
                yield from _all_nodes(sub)


def _check_ops(proto, where: str, layer_names: list[str]) -> None:
    import onnx

    opsets = {o.domain or "ai.onnx": o.version for o in proto.opset_import}
    for node in _all_nodes(proto.graph):
        domain = node.domain or "ai.onnx"
        try:
            onnx.defs.get_schema(node.op_type, opsets.get(domain, OPSET), "" if domain == "ai.onnx" else domain)
        except onnx.defs.SchemaError:
            raise WorkerError(f"{where}: tf2onnx cannot export TensorFlow op {node.op_type!r} "
                              f"(layer {_layer_of(node.name, layer_names)!r}, node {node.name})") from None


def _layer_of(node_name: str, layer_names: list[str]) -> str:
    """The Keras layer a TensorFlow node came from: its innermost layer scope, less Keras' ``_1`` suffixes."""
    for part in reversed(node_name.split("/")[:-1]):
        for name in sorted(layer_names, key=len, reverse=True):
            if part == name or re.fullmatch(re.escape(name) + r"(_\d+)?", part):
                return name
    return node_name.split("/")[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("src", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--trust", action="store_true")
    serve(parser, lambda a: export(a.src, a.out, trust=a.trust), lambda a: a.src.name)


if __name__ == "__main__":
    main()
