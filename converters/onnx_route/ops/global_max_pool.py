"""ONNX ``GlobalMaxPool`` (Keras ``GlobalMaxPooling1D/2D/3D`` at opset 17): onnx2torch has none."""

from __future__ import annotations

import torch
from onnx2torch.onnx_graph import OnnxGraph
from onnx2torch.onnx_node import OnnxNode
from onnx2torch.utils.common import OnnxToTorchModule, OperationConverterResult, onnx_mapping_from_node
from torch import nn

from .registry import converter


class OnnxGlobalMaxPool(nn.Module, OnnxToTorchModule):
    """Max over every axis after (batch, channels), kept as size 1 as ONNX does."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.amax(x, dim=tuple(range(2, x.dim())), keepdim=True)


@converter("GlobalMaxPool", first=1)
def convert_global_max_pool(node: OnnxNode, graph: OnnxGraph) -> OperationConverterResult:
    del graph
    return OperationConverterResult(torch_module=OnnxGlobalMaxPool(), onnx_mapping=onnx_mapping_from_node(node))
