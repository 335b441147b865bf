"""Emit stage: a ModelIR becomes the source of an ``nn.Module`` class.

Every number comes from the spec rows' ``build`` (the shape rule); this module only
lays the pieces out the way a PyTorch reviewer expects: submodules in ``__init__``
named like the Keras layers, Keras' initialisation in ``reset_parameters`` and one
line per layer in ``forward``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import re

from .lines import assigned_names, free_name, is_alias, rename
from .ir import ModelIR
from .spec.layers import KERAS, Built, Tensor, Unsupported, to_layout
from .spec.weights import WeightRule


@dataclass
class EmittedModel:
    source: str
    output: Tensor
    #: torch attribute -> weight rules, in layer order (what the converters use)
    weights: list[tuple[str, tuple[WeightRule, ...]]] = field(default_factory=list)
    notes: list[tuple[int, int, str]] = field(default_factory=list)
    #: torch attribute -> parameter -> shape, as the spec rows compute them (None: unknown)
    shapes: dict[str, dict[str, tuple]] = field(default_factory=dict)
    #: (layer, note) for what a layer's shape rule could not carry over (reported at the layer)
    layer_notes: list = field(default_factory=list)


class LayerError(Unsupported):
    """Unsupported, pinned to the layer that caused it."""

    def __init__(self, layer, reason: str):
        super().__init__(reason)
        self.layer = layer


def build_layers(model: ModelIR) -> list[tuple[object, Built, list[str]]]:
    """Run the shape rules over the model: (layer, built, permute lines) per layer."""
    t = model.input
    out = []
    for layer in model.layers:
        lines, t = to_layout(t, layer.spec.layout)
        try:
            built = layer.spec.build(layer.args, t)
        except Unsupported as e:
            raise LayerError(layer, str(e)) from None
        if built.module and "?" in built.module:
            raise LayerError(layer, f"{layer.spec.keras}: an input size is unknown")
        out.append((layer, built, lines))
        t = built.output
    return out


@dataclass
class _Submodules:
    """What ``__init__`` builds, collected once for Sequential and Functional classes alike."""

    init_lines: list[str] = field(default_factory=list)
    weights: list = field(default_factory=list)
    notes: list[tuple[int, int, str]] = field(default_factory=list)
    shapes: dict[str, dict[str, tuple]] = field(default_factory=dict)

    def add(self, layer, b: Built) -> None:
        """A layer's module (if it has one): its notes, construction, setup, weights and shapes."""
        if not b.module:
            return
        ref = f"self.{layer.attr}"
        for note in layer.notes:
            self.init_lines.append(f"# TODO(tfpt): {note}")
            self.notes.append((layer.line, layer.col, note))
        self.init_lines.append(f"{ref} = {b.module}")
        self.init_lines.extend(line.replace("{m}", ref) for line in b.setup)
        self.weights.append((layer.attr, b.weights))
        self.shapes[layer.attr] = b.shapes


def emit_model(model: ModelIR) -> EmittedModel:
    """The class source for ``model``; raises LayerError when a layer cannot be translated."""
    built = build_layers(model)
    subs = _Submodules()
    forward: list[str] = []
    layer_notes: list = []
    for layer, b, permutes in built:
        ref = f"self.{layer.attr}"
        subs.add(layer, b)
        forward.extend(permutes)
        forward.extend(line.replace("{m}", ref) for line in b.forward)
        layer_notes.extend((layer, note) for note in b.notes)
    final = built[-1][1].output if built else model.input
    tail, final = to_layout(final, KERAS)
    forward.extend(tail)

    reset = _reset_parameters([(layer, b) for layer, b, _ in built if b.module])
    spatial = model.input.rank is not None and model.input.rank >= 4
    takes = "takes the same channels-last input as Keras" if spatial else "takes the same input as Keras"
    source = _class_source(model, "Sequential", takes, subs.init_lines, reset, "x", forward + ["return x"])
    return EmittedModel(source, final, subs.weights, subs.notes, subs.shapes, layer_notes)


def _class_source(model: ModelIR, kind: str, takes: str, init_lines, reset, params: str, forward) -> str:
    init_params = "".join(f", {p}" for p in constructor_params(model))
    origin = f"`{model.var}`" if model.var else f"`{model.class_name}`"
    lines = [
        f"class {model.class_name}(nn.Module):",
        f'    """PyTorch translation of the Keras {kind} model {origin}; {takes}."""',
        "",
        f"    def __init__(self{init_params}):",
        "        super().__init__()",
        *("        " + l for l in init_lines),
    ]
    if reset:
        lines += ["        self.reset_parameters()", "", "    def reset_parameters(self):",
                  '        """Initialise like Keras: glorot-uniform kernels, zero biases."""']
        lines += ["        " + l for l in reset]
    lines += ["", f"    def forward(self, {params}):", *("        " + l for l in forward)]
    return "\n".join(lines) + "\n"


def constructor_params(model: ModelIR) -> list[str]:
    """``__init__`` parameters: names the layers read, then the nested models it is built around."""
    # a subclassed block is built by the class itself (`self.block = Block(64)`), not passed in
    return [*model.init_params, *(k for k, v in model.submodels.items() if v.subclass is None)]


def emit_graph(model: ModelIR, built: list[Built], submodels: dict) -> EmittedModel:
    """The class source for a Functional model: one forward line per call, the source's variable names.

    ``built`` holds each layer's first build (the tracer ran the shape rules); ``submodels``
    maps an attribute to the (ModelIR, EmittedModel) of a nested model.
    """
    graph = model.graph
    subs = _Submodules()
    attr_order = []
    for node in graph.nodes:
        if node.attr and node.attr not in attr_order:
            attr_order.append(node.attr)
    by_attr = {layer.attr: (layer, b) for layer, b in zip(model.layers, built)}
    for attr in attr_order:
        if attr in submodels:
            inner, emitted = submodels[attr]
            # the same object the script built: Keras shares a nested model's weights with it
            subs.init_lines.append(f"self.{attr} = {attr}")
            subs.weights.extend((f"{attr}.{a}", rules) for a, rules in emitted.weights)
            subs.shapes.update({f"{attr}.{a}": p for a, p in emitted.shapes.items()})
            continue
        subs.add(*by_attr[attr])
    forward, params, returned, final = _graph_forward(graph)
    reset = _reset_parameters([(layer, b) for layer, b in zip(model.layers, built) if b.module])
    spatial = any(t.rank is not None and t.rank >= 4 for _, _, t in graph.inputs)
    takes = ("takes the same channels-last inputs as Keras" if spatial else "takes the same inputs as Keras") \
        if len(graph.inputs) > 1 else ("takes the same channels-last input as Keras" if spatial else "takes the same input as Keras")
    source = _class_source(model, "Functional", takes, subs.init_lines, reset, ", ".join(params), forward + [returned])
    layer_notes = [(layer, note) for layer, b in zip(model.layers, built) for note in b.notes]
    return EmittedModel(source, final, subs.weights, subs.notes, subs.shapes, layer_notes)


def _graph_forward(graph) -> tuple[list[str], list[str], str, Tensor]:
    """Forward lines with variables named like the source, never overwriting one still needed."""
    # an alias node (a layer with nothing to do in torch) shares its input's variable
    root: dict[int, int] = {}
    for node in graph.nodes:
        if is_alias(node):
            root[node.output] = root.get(node.inputs[0], node.inputs[0])
    def find(t):
        return root.get(t, t)

    outputs = list(graph.outputs.values()) if isinstance(graph.outputs, dict) else list(graph.outputs)
    end = len(graph.nodes)
    last_use: dict[int, int] = {}
    for i, node in enumerate(graph.nodes):
        for t in node.inputs:
            last_use[find(t)] = max(last_use.get(find(t), -1), i)
    for t in outputs:
        last_use[find(t)] = end
    names: dict[int, str] = {}
    holder: dict[str, int] = {}
    reserved = {"self", "torch", "nn", "F", "math", "np"}
    params = []
    for tid, hint, _t in graph.inputs:
        name = free_name(hint, holder.keys() | reserved)
        names[tid] = name
        holder[name] = tid
        params.append(name)
    lines: list[str] = []
    tensors = dict(graph.tensors)
    for i, node in enumerate(graph.nodes):
        ins = [names[find(t)] for t in node.inputs]
        if is_alias(node):
            lines.extend(l for l in node.lines if l.lstrip().startswith("#"))  # a layer's TODO comment stays
            continue
        live = {n for n, t in holder.items() if last_use.get(t, -1) > i}
        # names a layer's lines bind besides x, also inside `if self.training:` blocks
        temps = {n for line in node.lines for n in assigned_names(line.strip()) if n not in ("x", "_")}
        taken = live | reserved | temps
        name = free_name(node.hint, taken)
        mapping = {"x": name}
        for temp in temps:
            if temp in live or temp in reserved or temp == name:
                mapping[temp] = free_name(temp, taken | {name})
        attr = f"self.{node.attr}" if node.attr else ""
        for line in node.lines:
            line = rename(line, mapping).replace("{m}", attr)
            lines.append(re.sub(r"\{(\d+)\}", lambda m: ins[int(m.group(1))], line))
        names[node.output] = name
        holder[name] = node.output
    final = None
    returned = []
    for t in outputs:
        name = names[find(t)]
        tensor = tensors[t]
        tail, tensor = to_layout(tensor, KERAS)
        if tail:
            lines.extend(rename(l, {"x": name}) for l in tail)
        final = final or tensor
        returned.append(name)
    if isinstance(graph.outputs, dict):
        ret = "return {" + ", ".join(f"{k!r}: {n}" for k, n in zip(graph.outputs, returned)) + "}"
    elif graph.multi_output:
        ret = "return " + ", ".join(returned) + ("," if len(returned) == 1 else "")
    else:
        ret = f"return {returned[0]}"
    return lines, params, ret, final


def _reset_parameters(layers) -> list[str]:
    by_kind: dict[str, list[str]] = {}
    for layer, b in layers:
        for kind in b.init:
            key = kind
            if kind == "glorot" and "bias=False" in (b.module or ""):
                key = "glorot_nobias"
            by_kind.setdefault(key, []).append(f"self.{layer.attr}")
    out: list[str] = []
    if "glorot" in by_kind:
        out += [f"for layer in {_tuple(by_kind['glorot'])}:",
                "    nn.init.xavier_uniform_(layer.weight)",
                "    nn.init.zeros_(layer.bias)"]
    if "glorot_nobias" in by_kind:
        out += [f"for layer in {_tuple(by_kind['glorot_nobias'])}:",
                "    nn.init.xavier_uniform_(layer.weight)"]
    for ref in by_kind.get("embedding", []):
        out.append(f"nn.init.uniform_({ref}.weight, -0.05, 0.05)")
    rnns = by_kind.get("lstm", []) + by_kind.get("gru", []) + by_kind.get("rnn", [])
    if rnns:
        out += [f"for rnn in {_tuple(rnns)}:",
                "    for name, param in rnn.named_parameters():",
                '        if name.startswith("weight_ih"):',
                "            nn.init.xavier_uniform_(param)",
                '        elif name.startswith("weight_hh"):',
                "            nn.init.orthogonal_(param)",
                "        else:",
                "            nn.init.zeros_(param)"]
    if "forget_bias" in by_kind:
        out += [f"for lstm in {_tuple(by_kind['forget_bias'])}:  # Keras' unit_forget_bias: forget gate starts at 1",
                "    h = lstm.hidden_size",
                "    for name, param in lstm.named_parameters():",
                '        if name.startswith("bias_ih"):',
                "            nn.init.ones_(param[h:2 * h])"]
    for layer, b in layers:  # a row's own lines, for what no shared kind covers
        out.extend(line.replace("{m}", f"self.{layer.attr}") for line in b.reset)
    return out


def _tuple(items: list[str]) -> str:
    return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
