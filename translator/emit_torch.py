"""Emit stage: a ModelIR becomes the source of an ``nn.Module`` class.

Every number comes from the spec rows' ``build`` (the shape rule); this module only
lays the pieces out the way a PyTorch reviewer expects: submodules in ``__init__``
named like the Keras layers, Keras' initialisation in ``reset_parameters`` and one
line per layer in ``forward``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

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


def emit_model(model: ModelIR) -> EmittedModel:
    """The class source for ``model``; raises LayerError when a layer cannot be translated."""
    built = build_layers(model)
    init_lines: list[str] = []
    forward: list[str] = []
    weights = []
    notes = []
    param_shapes: dict[str, dict[str, tuple]] = {}
    for layer, b, permutes in built:
        ref = f"self.{layer.attr}"
        if b.module:
            for note in layer.notes:
                init_lines.append(f"# TODO(tfpt): {note}")
                notes.append((layer.line, layer.col, note))
            init_lines.append(f"{ref} = {b.module}")
            init_lines.extend(line.replace("{m}", ref) for line in b.setup)
            weights.append((layer.attr, b.weights))
            param_shapes[layer.attr] = b.shapes
        forward.extend(permutes)
        forward.extend(line.replace("{m}", ref) for line in b.forward)
    final = built[-1][1].output if built else model.input
    tail, final = to_layout(final, KERAS)
    forward.extend(tail)

    reset = _reset_parameters([(layer, b) for layer, b, _ in built if b.module])
    params = "".join(f", {p}" for p in model.init_params)
    origin = f"`{model.var}`" if model.var else f"`{model.class_name}`"
    spatial = model.input.rank is not None and model.input.rank >= 4
    takes = "takes the same channels-last input as Keras" if spatial else "takes the same input as Keras"
    lines = [
        f"class {model.class_name}(nn.Module):",
        f'    """PyTorch translation of the Keras Sequential model {origin}; {takes}."""',
        "",
        f"    def __init__(self{params}):",
        "        super().__init__()",
        *("        " + l for l in init_lines),
    ]
    if reset:
        lines += ["        self.reset_parameters()", "", "    def reset_parameters(self):",
                  '        """Initialise like Keras: glorot-uniform kernels, zero biases."""']
        lines += ["        " + l for l in reset]
    lines += ["", "    def forward(self, x):", *("        " + l for l in forward), "        return x"]
    return EmittedModel("\n".join(lines) + "\n", final, weights, notes, param_shapes)


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
    return out


def _tuple(items: list[str]) -> str:
    return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
