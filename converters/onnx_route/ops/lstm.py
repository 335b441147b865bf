"""ONNX ``LSTM`` (what tf2onnx emits for Keras ``LSTM`` and ``Bidirectional(LSTM)``) -> ``nn.LSTM``.

The weights are constants of the graph, so they become the ``nn.LSTM``'s parameters,
gates reordered from ONNX's (input, output, forget, cell) to torch's (input, forget,
cell, output). A reverse-only LSTM runs a forward ``nn.LSTM`` on the time-flipped
sequence.
"""

from __future__ import annotations

import torch
from onnx2torch.onnx_graph import OnnxGraph
from onnx2torch.onnx_node import OnnxNode
from onnx2torch.utils.common import OnnxMapping, OnnxToTorchModule, OperationConverterResult, get_const_value
from torch import nn

from .registry import converter

#: torch's gate chunks, as indices into ONNX's (i, o, f, c)
_GATES_ONNX_TO_TORCH = (0, 2, 3, 1)
_DEFAULT_ACTIVATIONS = ("Sigmoid", "Tanh", "Tanh")


class OnnxLSTM(nn.Module, OnnxToTorchModule):
    """Returns ONNX's ``(Y, Y_h, Y_c)``: Y is (seq, dirs, batch, hidden), or batch first for layout 1."""

    def __init__(self, lstm: nn.LSTM, reverse: bool, batch_first: bool):
        super().__init__()
        self.lstm = lstm
        self.reverse = reverse
        self.batch_first = batch_first

    def forward(self, x: torch.Tensor, initial_h: torch.Tensor | None = None,
                initial_c: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        if self.batch_first:  # ONNX layout 1 keeps the states batch first too; nn.LSTM does not
            x = x.transpose(0, 1)
            initial_h = None if initial_h is None else initial_h.transpose(0, 1)
            initial_c = None if initial_c is None else initial_c.transpose(0, 1)
        if self.reverse:
            x = x.flip(0)
        state = None
        if initial_h is not None or initial_c is not None:
            zeros = torch.zeros(self.lstm.num_layers * (2 if self.lstm.bidirectional else 1), x.shape[1],
                                self.lstm.hidden_size, dtype=x.dtype, device=x.device)
            state = (zeros if initial_h is None else initial_h, zeros if initial_c is None else initial_c)
        y, (h, c) = self.lstm(x, state)
        if self.reverse:
            y = y.flip(0)
        dirs = 2 if self.lstm.bidirectional else 1
        y = y.reshape(y.shape[0], y.shape[1], dirs, self.lstm.hidden_size).transpose(1, 2)
        if self.batch_first:
            return y.permute(2, 0, 1, 3), h.transpose(0, 1), c.transpose(0, 1)
        return y, h, c


def _gates(w: torch.Tensor) -> torch.Tensor:
    """Reorder the 4 gate blocks of the first axis from ONNX's order to torch's."""
    chunks = w.chunk(4, dim=0)
    return torch.cat([chunks[i] for i in _GATES_ONNX_TO_TORCH], dim=0)


def _refuse(node: OnnxNode, what: str) -> NotImplementedError:
    return NotImplementedError(f"LSTM node {node.name!r}: {what} is not supported")


@converter("LSTM", first=7)
def convert_lstm(node: OnnxNode, graph: OnnxGraph) -> OperationConverterResult:
    """Bake W, R, B into an ``nn.LSTM``; X and the initial states stay inputs."""
    attrs = node.attributes
    inputs = list(node.input_values) + [""] * (8 - len(node.input_values))
    x_name, w_name, r_name, b_name, seq_lens, h0_name, c0_name, p_name = inputs
    direction = attrs.get("direction", "forward")
    dirs = 2 if direction == "bidirectional" else 1
    activations = tuple(attrs.get("activations", _DEFAULT_ACTIVATIONS * dirs))
    if activations != _DEFAULT_ACTIVATIONS * dirs:
        raise _refuse(node, f"activations {activations}")
    if "clip" in attrs:
        raise _refuse(node, "cell clipping")
    if attrs.get("input_forget", 0):
        raise _refuse(node, "input_forget (coupled gates)")
    if p_name:
        raise _refuse(node, "peepholes")
    if seq_lens:
        raise _refuse(node, "a sequence_lens input (masking)")
    try:
        w, r = get_const_value(w_name, graph), get_const_value(r_name, graph)
        b = get_const_value(b_name, graph) if b_name else None
    except KeyError:
        raise _refuse(node, "weights computed at run time") from None
    hidden = int(attrs["hidden_size"]) if "hidden_size" in attrs else r.shape[-1]
    lstm = nn.LSTM(w.shape[-1], hidden, bidirectional=dirs == 2)
    with torch.no_grad():
        for d, suffix in enumerate(["", "_reverse"][:dirs]):
            getattr(lstm, f"weight_ih_l0{suffix}").copy_(_gates(w[d]))
            getattr(lstm, f"weight_hh_l0{suffix}").copy_(_gates(r[d]))
            bias = torch.zeros(8 * hidden, dtype=w.dtype) if b is None else b[d]
            getattr(lstm, f"bias_ih_l0{suffix}").copy_(_gates(bias[:4 * hidden]))
            getattr(lstm, f"bias_hh_l0{suffix}").copy_(_gates(bias[4 * hidden:]))
    module = OnnxLSTM(lstm, reverse=direction == "reverse", batch_first=attrs.get("layout", 0) == 1)
    return OperationConverterResult(
        torch_module=module,
        onnx_mapping=OnnxMapping(inputs=(x_name, h0_name, c0_name), outputs=node.output_values),
    )
