"""A saved Keras model config (``config.json``, a legacy ``.h5``'s ``model_config``) -> ModelIR.

The same spec rows that translate source bind the saved arguments, so a checkpoint's
architecture is read by the code that translates it: the emitted module and the
weight rules are those ``tfpt translate`` would produce for the same model. A
Functional model is accepted when it is a chain (one input, each layer fed by the
one before, one output): that is the shape the direct route handles today. Anything
else raises ``ConfigError`` saying which layer and why, and pointing at the ONNX route.
"""

from __future__ import annotations

import re

from translator.ir import LayerIR, ModelIR, camel_case, identifier, unique_attr
from translator.spec import layers
from translator.spec.layers import NEUTRAL_ARGS, TRAINING_ONLY_ARGS, Args, InnerLayer, Tensor
from translator.spec.values import Dim, Unsupported, Value

_MODELS = ("Sequential", "Functional", "Model")
_INPUT_LAYERS = ("InputLayer",)
ONNX_HINT = "convert it through ONNX instead (-o model.pt2)"


class ConfigError(ValueError):
    """The saved architecture has no direct torch mapping; the message says where."""


def _dtype_name(value) -> str | None:
    """``"float32"``, or a serialized ``DTypePolicy`` -> its name."""
    if isinstance(value, dict):
        inner = value.get("config")
        return inner.get("name") if isinstance(inner, dict) else None
    return value


#: keys a saved layer config has besides the constructor arguments a spec row binds,
#: each with the test that it changes nothing in inference
CONFIG_ONLY_KEYS = {
    "dtype": lambda v: _dtype_name(v) in (None, "float32"),
    "quantization_config": lambda v: v is None,
    "synchronized": lambda v: True,  # cross-replica BatchNorm statistics: training only
    "renorm": lambda v: not v,
    "renorm_clipping": lambda v: True,  # only read when renorm is on
    "renorm_momentum": lambda v: True,
    "zero_output_for_mask": lambda v: True,  # only with masks, which the spec refuses
    "time_major": lambda v: not v,
    "implementation": lambda v: True,  # Keras 2 RNN kernels: same maths
}


def _static(value):
    """JSON lists as the tuples Keras' constructors normalise them to."""
    if isinstance(value, list):
        return tuple(_static(v) for v in value)
    return value


def _layer_config(entry: dict, where: str) -> tuple[str, dict, str]:
    cls = entry.get("class_name")
    cfg = entry.get("config")
    if not isinstance(cls, str) or not isinstance(cfg, dict):
        raise ConfigError(f"{where}: a layer entry without class_name/config")
    return cls, cfg, cfg.get("name") or entry.get("name") or cls


def bind_config(cls: str, cfg: dict, where: str) -> Args:
    """A saved layer config bound to its spec row; ConfigError on anything not faithful."""
    spec = layers.lookup(cls)
    name = cfg.get("name", cls)
    if spec is None:
        raise ConfigError(f"{where}: layer {name!r} ({cls}) has no direct torch mapping; {ONNX_HINT}")
    accepted = layers.accepted_args(spec)
    given: dict[str, Value] = {}
    for key, raw in cfg.items():
        if key == "layer" and cls == "Bidirectional":
            inner_cls, inner_cfg, _ = _layer_config(raw, where)
            given[key] = Value(inner_cls, InnerLayer(layers.lookup(inner_cls).keras if layers.lookup(inner_cls)
                                                     else inner_cls, bind_config(inner_cls, inner_cfg, where)))
            continue
        if key == "backward_layer" and cls == "Bidirectional":
            if raw is not None and not _mirrors(raw, cfg.get("layer")):
                raise ConfigError(f"{where}: Bidirectional {name!r} has its own backward_layer; {ONNX_HINT}")
            continue
        value = _static(raw)
        if key in spec.params or key in spec.extra or (key in accepted and key not in NEUTRAL_ARGS):
            given[key] = Value.of(value)
        elif key in NEUTRAL_ARGS or key in TRAINING_ONLY_ARGS:
            continue
        elif key in CONFIG_ONLY_KEYS:
            if not CONFIG_ONLY_KEYS[key](raw):
                raise ConfigError(f"{where}: layer {name!r} ({cls}) has {key}={raw!r}, which tfpt cannot map")
        else:
            raise ConfigError(f"{where}: layer {name!r} ({cls}) has an argument tfpt does not know: {key}={raw!r}")
    try:
        return spec.bind([], given)
    except Unsupported as e:
        raise ConfigError(f"{where}: layer {name!r} ({cls}): {e}") from None


def _mirrors(backward: dict, forward: dict | None) -> bool:
    """Whether a saved backward_layer is the one Bidirectional derives from ``layer`` itself."""
    if not isinstance(backward, dict) or not isinstance(forward, dict):
        return False
    if backward.get("class_name") != forward.get("class_name"):
        return False
    b, f = backward.get("config") or {}, forward.get("config") or {}
    if bool(b.get("go_backwards")) == bool(f.get("go_backwards")):
        return False
    ignored = NEUTRAL_ARGS | TRAINING_ONLY_ARGS | {"go_backwards"}
    return ({k: v for k, v in b.items() if k not in ignored}
            == {k: v for k, v in f.items() if k not in ignored})


def _shape_dims(shape, where: str) -> tuple[Dim, ...]:
    if not isinstance(shape, (list, tuple)) or not shape:
        raise ConfigError(f"{where}: the model's input shape is missing from its config")
    return tuple(Dim("None") if d is None else Dim.of(int(d)) for d in shape[1:])


def _input_shape(entries: list[dict], config: dict, where: str):
    """(batch shape without the batch axis, input dtype) of a chain model."""
    for entry in entries[:1]:
        cls, cfg, _ = _layer_config(entry, where)
        for key in ("batch_shape", "batch_input_shape"):
            if cfg.get(key) is not None:
                return _shape_dims(cfg[key], where), _dtype_name(cfg.get("dtype"))
        build = entry.get("build_config") or {}
        if build.get("input_shape") is not None:
            return _shape_dims(build["input_shape"], where), None
    inner = config.get("config") or {}
    if inner.get("build_input_shape") is not None:
        return _shape_dims(inner["build_input_shape"], where), None
    raise ConfigError(f"{where}: the config does not record the model's input shape (an unbuilt model?)")


def _history(args) -> list[str]:
    """Names of the layers a Keras 3 or Keras 2 inbound node reads from."""
    out: list[str] = []
    stack = [args]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            hist = (node.get("config") or {}).get("keras_history") if node.get("class_name") == "__keras_tensor__" else None
            if hist:
                out.append(hist[0])
            else:
                stack.extend(node.values())
        elif isinstance(node, list):
            if len(node) >= 3 and isinstance(node[0], str) and isinstance(node[1], int):
                out.append(node[0])  # Keras 2: [layer_name, node_index, tensor_index, kwargs]
            else:
                stack.extend(node)
    return out


def _chain(entries: list[dict], config: dict, where: str) -> list[dict]:
    """A Functional config's layers when they form one chain; ConfigError otherwise."""
    inner = config.get("config") or {}
    inputs, outputs = inner.get("input_layers") or [], inner.get("output_layers") or []
    # a single input/output may be saved unwrapped: ["name", 0, 0]
    if inputs and isinstance(inputs[0], str):
        inputs = [inputs]
    if outputs and isinstance(outputs[0], str):
        outputs = [outputs]
    if len(inputs) != 1 or len(outputs) != 1:
        raise ConfigError(f"{where}: a model with {len(inputs)} inputs and {len(outputs)} outputs; "
                          f"the direct route handles single-input chains; {ONNX_HINT}")
    previous = None
    for entry in entries:
        _, cfg, name = _layer_config(entry, where)
        nodes = entry.get("inbound_nodes") or []
        if previous is None:
            if nodes:
                raise ConfigError(f"{where}: the first layer {name!r} is not the model's input")
        else:
            if len(nodes) != 1:
                raise ConfigError(f"{where}: layer {name!r} is called {len(nodes)} times (a shared layer); {ONNX_HINT}")
            sources = _history(nodes[0])
            if sources != [previous]:
                raise ConfigError(f"{where}: layer {name!r} reads {sources or 'nothing'}, not only the layer "
                                  f"before it ({previous!r}): a branching graph; {ONNX_HINT}")
        previous = name
    if outputs[0][0] != previous:
        raise ConfigError(f"{where}: the output is {outputs[0][0]!r}, not the last layer of the chain; {ONNX_HINT}")
    return entries


def model_ir(config: dict, where: str) -> ModelIR:
    """The ModelIR of a saved Sequential or chain-shaped Functional model."""
    if not isinstance(config, dict) or config.get("class_name") not in _MODELS:
        kind = config.get("class_name") if isinstance(config, dict) else type(config).__name__
        raise ConfigError(f"{where}: the saved model is a {kind}, not a Sequential or Functional model "
                          f"(a subclassed model keeps its architecture in code); {ONNX_HINT}")
    inner = config.get("config")
    entries = inner.get("layers") if isinstance(inner, dict) else None
    if not isinstance(entries, list):
        raise ConfigError(f"{where}: the config lists no layers")
    if config["class_name"] != "Sequential":
        entries = _chain(entries, config, where)
    shape, dtype = _input_shape(entries, config, where)
    irs: list[LayerIR] = []
    used: dict[str, int] = {}
    for entry in entries:
        cls, cfg, name = _layer_config(entry, where)
        if cls in _INPUT_LAYERS:
            continue
        if cls in _MODELS:
            raise ConfigError(f"{where}: layer {name!r} is a nested model; {ONNX_HINT}")
        args = bind_config(cls, cfg, where)
        irs.append(LayerIR(args.spec, args, unique_attr(identifier(name), used), None))
    model_name = inner.get("name") or "model"
    auto = re.fullmatch(r"(sequential|functional|model)(_\d+)?", model_name)
    return ModelIR(None, "Model" if auto else camel_case(model_name), irs, Tensor(shape), keras_name=model_name)


def input_is_integer(config: dict) -> bool:
    """Whether the model's input is integer token ids (an Embedding first, or an int Input)."""
    inner = config.get("config") or {}
    for entry in inner.get("layers") or []:
        cls, cfg = entry.get("class_name"), entry.get("config") or {}
        if cls in _INPUT_LAYERS:
            if str(_dtype_name(cfg.get("dtype")) or "").startswith("int"):
                return True
            continue
        return cls == "Embedding"
    return False


__all__ = ["ConfigError", "ONNX_HINT", "bind_config", "input_is_integer", "model_ir"]
