"""A saved Keras model config (``config.json``, a legacy ``.h5``'s ``model_config``) -> ModelIR.

The same spec rows that translate source bind the saved arguments, so a checkpoint's
architecture is read by the code that translates it: the emitted module and the
weight rules are those ``tfpt translate`` would produce for the same model. A
Functional model's ``inbound_nodes`` are replayed into the same ``Graph`` the source
tracer builds (branches, merges, shared layers, several inputs and outputs, ``x + y``),
emitted by ``emit_graph``. Anything else (nested models, layers without a row, ops other
than + - *) raises ``ConfigError`` saying which layer and why, and pointing at the ONNX route.
"""

from __future__ import annotations

import re

import dataclasses
from dataclasses import dataclass

from translator.emit_torch import EmittedModel, emit_graph
from translator.ir import Graph, LayerIR, ModelIR, Node, camel_case, identifier, unique_attr
from translator.lines import placeholder_lines
from translator.spec import layers, merges
from translator.spec.layers import KERAS, NEUTRAL_ARGS, TORCH, TRAINING_ONLY_ARGS, Args, Built, InnerLayer, Tensor, to_layout
from translator.spec.values import Dim, Unsupported, Value

from .keras_files import is_operation

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
    spec = layers.lookup(cls) or merges.MERGES.get(cls)
    name = cfg.get("name", cls)
    if spec is None:
        raise ConfigError(f"{where}: layer {name!r} ({cls}) has no direct torch mapping; {ONNX_HINT}")
    accepted = layers.accepted_args(spec)
    given: dict[str, Value] = {}
    for key, raw in cfg.items():
        if key == "layer" and spec.params[:1] == ("layer",):  # a wrapper (Bidirectional, TimeDistributed)
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


@dataclass(frozen=True)
class _Ref:
    """A Keras tensor in a saved call, as the graph tensor it names."""

    id: int


class _GraphReader:
    """A Functional config's ``inbound_nodes`` replayed through the spec rows, call by call.

    The result is what the source tracer (``translator.functional``) builds from code: a
    ``Graph`` of ``Node`` lines, the layers in order of first use and each layer's first
    ``Built``, so ``emit_graph`` writes the module ``tfpt translate`` would, with forward
    variables named after the Keras layers. Layer calls, merges, ``MultiHeadAttention``-style
    calls and Keras' operator ops (``x + y``, ``x * 0.5``) are read; anything else is a
    ConfigError naming the layer.
    """

    def __init__(self, where: str):
        self.where = where
        self.tensors: dict[int, Tensor] = {}
        self.produced: dict[tuple[str, int, int], int] = {}  # Keras history -> tensor id
        self.nodes: list[Node] = []
        self.layers: list[LayerIR] = []
        self.built: list[Built] = []
        self.index: dict[str, int] = {}  # Keras layer name -> position in layers
        self.used: dict[str, int] = {}

    def tensor(self, t: Tensor) -> int:
        self.tensors[len(self.tensors)] = t
        return len(self.tensors) - 1

    def resolve(self, value):
        """Saved call arguments with each Keras tensor (Keras 3 dicts, Keras 2 lists) as a ``_Ref``; KeyError
        while a tensor is not produced yet."""
        if isinstance(value, dict):
            if value.get("class_name") == "__keras_tensor__":
                name, node, index = (value.get("config") or {}).get("keras_history")
                return _Ref(self.produced[(name, node, index)])
            return {k: self.resolve(v) for k, v in value.items()}
        if isinstance(value, list):
            if len(value) >= 3 and isinstance(value[0], str) and all(isinstance(i, int) for i in value[1:3]):
                return _Ref(self.produced[tuple(value[:3])])  # Keras 2: [layer, node, tensor, kwargs]
            return [self.resolve(v) for v in value]
        return value

    def arguments(self, node) -> tuple[list, dict]:
        """A saved inbound node as call arguments: Keras 3 ``{args, kwargs}`` or Keras 2's list of inputs."""
        if isinstance(node, dict):
            return self.resolve(node.get("args") or []), self.resolve(node.get("kwargs") or {})
        entries = [e for e in node if isinstance(e, list)]
        kwargs = self.resolve(entries[0][3]) if len(entries) == 1 and len(entries[0]) > 3 else {}
        refs = [self.resolve(e[:3]) for e in entries]
        return (refs if len(refs) == 1 else [refs]), kwargs or {}

    def layout(self, refs: list[_Ref], layout: str | None = None) -> tuple[list[Tensor], list[str]]:
        """Every input in ``layout`` (or the one they share, else channels-last), as the tracer does."""
        ts = [self.tensors[r.id] for r in refs]
        if layout not in (KERAS, TORCH):
            layout = TORCH if all(t.layout == TORCH for t in ts) else KERAS
        out, exprs = [], []
        for i, t in enumerate(ts):
            lines, t2 = to_layout(t, layout)
            exprs.append(f"{{{i}}}" + (lines[0].split("=", 1)[1].split("#")[0].strip()[1:] if lines else ""))
            out.append(t2)
        return out, exprs

    def call(self, entry: dict, node_index: int, node) -> None:
        cls, cfg, name = _layer_config(entry, self.where)
        args, kwargs = self.arguments(node)
        try:
            if is_operation(entry):
                inputs, built, keras, layer = *self.operation(cls, args, kwargs), None
            else:
                layer = self.layer(cls, cfg, name)
                inputs, built, keras = self.apply(self.layers[layer].spec, self.layers[layer].args, args, kwargs)
                self.register(layer, built)
        except Unsupported as e:
            raise ConfigError(f"{self.where}: layer {name!r} ({cls}): {e}; {ONNX_HINT}") from None
        out = self.tensor(built.output)
        attr = self.layers[layer].attr if layer is not None else None
        self.nodes.append(Node([r.id for r in inputs], out, list(built.forward), keras, layer, identifier(name), attr))
        self.produced[(name, node_index, 0)] = out

    def layer(self, cls: str, cfg: dict, name: str) -> int:
        if name not in self.index:
            args = bind_config(cls, cfg, self.where)
            self.index[name] = len(self.layers)
            self.layers.append(LayerIR(args.spec, args, unique_attr(identifier(name), self.used), None))
            self.built.append(None)
        return self.index[name]

    def register(self, layer: int, built: Built) -> None:
        first = self.built[layer]
        if first is None:
            self.built[layer] = built
        elif first.module != built.module:
            raise Unsupported(f"shared between inputs of different shapes ({first.module} vs {built.module})")

    def apply(self, spec, args: Args, given: list, kwargs: dict) -> tuple[list[_Ref], Built, str]:
        """One call of a layer row: (inputs, what its shape rule built, the Keras call for verify)."""
        if isinstance(spec, layers.CallSpec):
            names, refs, options = spec.bind_call([(None, a) for a in given] + list(kwargs.items()))
            if not refs or not all(isinstance(r, _Ref) for r in refs):
                raise Unsupported("its inputs are not Keras tensors")
            tensors, exprs = self.layout(refs, spec.layout)
            built = spec.build_call(args, options, dict(zip(names, tensors)), dict(zip(names, exprs)))
            return refs, built, spec.call_text(len(refs), options)
        # Keras records a symbolic call's training=False (Dropout) and mask=None: anything else is not followed
        followed = [k for k, v in kwargs.items() if v is not None and not (k == "training" and v is False)]
        if followed:
            raise Unsupported(f"called with {', '.join(followed)}=...")
        if isinstance(spec, merges.MergeSpec):
            refs = given[0] if len(given) == 1 and isinstance(given[0], list) else given
            if not all(isinstance(r, _Ref) for r in refs):
                raise Unsupported("its inputs are not Keras tensors")
            tensors, exprs = self.layout(refs)
            built = spec.build_merge(args, tensors, exprs)
            return refs, built, "{layer}([" + ", ".join(f"{{{i}}}" for i in range(len(refs))) + "])"
        if len(given) != 1 or not isinstance(given[0], _Ref):
            raise Unsupported("called on something else than one Keras tensor")
        lines, t = to_layout(self.tensors[given[0].id], spec.layout)
        built = spec.build(args, t)
        if built.module and "?" in built.module:
            raise Unsupported("an input size is unknown")
        return given, dataclasses.replace(built, forward=placeholder_lines(lines + built.forward)), "{layer}({0})"

    def operation(self, cls: str, given: list, kwargs: dict) -> tuple[list[_Ref], Built, str]:
        """``x + y`` and ``x * 2`` on Keras tensors, saved as ops: the rows the tracer uses for them."""
        op = {v: k for k, v in merges.OPERATORS.items()}.get(cls)
        if op is None or kwargs or len(given) != 2:
            raise Unsupported(f"the operation {cls} is not translated")
        a, b = given
        if isinstance(a, _Ref) and isinstance(b, _Ref):
            spec = merges.MERGES[cls]
            tensors, exprs = self.layout([a, b])
            return [a, b], spec.build_merge(spec.bind([], {}), tensors, exprs), f"{{0}} {op} {{1}}"
        ref, number = (a, b) if isinstance(a, _Ref) else (b, a)
        if not isinstance(ref, _Ref) or not isinstance(number, (int, float)) or isinstance(number, bool):
            raise Unsupported(f"the operation {cls} is translated between tensors and numbers")
        text = f"{{0}} {op} {number!r}" if ref is a else f"{number!r} {op} {{0}}"
        return [ref], Built(None, [f"x = {text}"], self.tensors[ref.id]), text


def _endpoints(value, where: str) -> list[tuple]:
    """``input_layers``/``output_layers`` as (name, node, tensor) triples."""
    if isinstance(value, list) and len(value) >= 3 and isinstance(value[0], str):
        return [tuple(value[:3])]  # a single tensor, saved unwrapped (Keras 3)
    if isinstance(value, list) and value and all(isinstance(v, list) and len(v) >= 3 for v in value):
        return [tuple(v[:3]) for v in value]
    raise ConfigError(f"{where}: the model's inputs/outputs are saved as {value!r}, which tfpt does not read; {ONNX_HINT}")


def _graph(entries: list[dict], config: dict, where: str) -> tuple[Graph, list[LayerIR], list[Built]]:
    """A Functional config as the source tracer's Graph, its layers and their first builds."""
    inner = config.get("config") or {}
    inputs = _endpoints(inner.get("input_layers"), where)
    outputs = _endpoints(inner.get("output_layers"), where)
    reader = _GraphReader(where)
    pending, graph_inputs = [], {}
    for entry in entries:
        cls, cfg, name = _layer_config(entry, where)
        if cls in _INPUT_LAYERS:
            shape = _input_shape([entry], {}, where)[0]
            graph_inputs[name] = (reader.tensor(Tensor(shape)), _dtype_name(cfg.get("dtype")))
            reader.produced[(name, 0, 0)] = graph_inputs[name][0]
        elif cls in _MODELS:
            raise ConfigError(f"{where}: layer {name!r} is a nested model; {ONNX_HINT}")
        else:
            pending += [(entry, i, node) for i, node in enumerate(entry.get("inbound_nodes") or [])]
    while pending:  # config order, each call once its inputs exist (a shared layer's later calls may wait)
        for k, (entry, i, node) in enumerate(pending):
            try:
                reader.arguments(node)
            except KeyError:
                continue
            reader.call(entry, i, node)
            del pending[k]
            break
        else:
            names = ", ".join(sorted({_layer_config(e, where)[2] for e, _, _ in pending}))
            raise ConfigError(f"{where}: layers {names} read tensors no layer produces; {ONNX_HINT}")
    try:
        ins = [(graph_inputs[n][0], identifier(n), reader.tensors[graph_inputs[n][0]], graph_inputs[n][1])
               for n, _, _ in inputs]
        outs = [reader.produced[o] for o in outputs]
    except KeyError as e:
        raise ConfigError(f"{where}: the model's input or output {e} is not in its layers") from None
    # one output is returned as a tensor (Keras 2 saved every output list wrapped, one or not)
    graph = Graph([i[:3] for i in ins], reader.nodes, outs, dict(reader.tensors), [i[3] for i in ins], len(outs) > 1)
    return graph, reader.layers, reader.built


def read_architecture(config: dict, where: str) -> tuple[ModelIR, EmittedModel | None]:
    """A saved Sequential or Functional model: its ModelIR and, for a Functional one, the emitted module."""
    if not isinstance(config, dict) or config.get("class_name") not in _MODELS:
        kind = config.get("class_name") if isinstance(config, dict) else type(config).__name__
        raise ConfigError(f"{where}: the saved model is a {kind}, not a Sequential or Functional model "
                          f"(a subclassed model keeps its architecture in code); {ONNX_HINT}")
    inner = config.get("config")
    entries = inner.get("layers") if isinstance(inner, dict) else None
    if not isinstance(entries, list):
        raise ConfigError(f"{where}: the config lists no layers")
    model_name = inner.get("name") or "model"
    auto = re.fullmatch(r"(sequential|functional|model)(_\d+)?", model_name)
    class_name = "Model" if auto else camel_case(model_name)
    if config["class_name"] != "Sequential":
        graph, irs, built = _graph(entries, config, where)
        first = graph.inputs[0][2] if graph.inputs else Tensor(None)
        model = ModelIR(None, class_name, irs, first, keras_name=model_name, graph=graph)
        try:
            return model, emit_graph(model, built, {})
        except Unsupported as e:
            raise ConfigError(f"{where}: {e}; {ONNX_HINT}") from None
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
    return ModelIR(None, class_name, irs, Tensor(shape), keras_name=model_name), None


def model_ir(config: dict, where: str) -> ModelIR:
    """The ModelIR of a saved Sequential or Functional model."""
    return read_architecture(config, where)[0]


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


__all__ = ["ConfigError", "ONNX_HINT", "bind_config", "input_is_integer", "model_ir", "read_architecture"]
