"""Register a converter for every version of an ONNX op from a given one on.

onnx2torch looks a converter up by the op's version as of the model's opset (the
schema's ``since_version``), so a converter that covers versions 16 to 25 needs an
entry for each; the list comes from the installed onnx, not from a hand-kept table.
"""

from __future__ import annotations

from typing import Callable

import onnx
from onnx2torch.node_converters.registry import add_converter


def since_versions(op_type: str, first: int) -> list[int]:
    """Every schema version of ``op_type`` (default domain) from ``first`` on."""
    return sorted({s.since_version for s in onnx.defs.get_all_schemas_with_history()
                   if s.name == op_type and s.domain == "" and s.since_version >= first})


def converter(op_type: str, *, first: int) -> Callable:
    """Decorator: ``add_converter`` for each of ``since_versions(op_type, first)``."""

    def register(fn: Callable) -> Callable:
        for version in since_versions(op_type, first):
            add_converter(operation_type=op_type, version=version)(fn)
        return fn

    return register
