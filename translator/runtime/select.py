"""Pick runtime helpers (with what they call) out of the template, as source text.

The template ``torch_runtime.py`` is a real, tested module; translated scripts get
verbatim copies of just the functions they use, so they never import tfpt.
"""

from __future__ import annotations

import ast
from functools import lru_cache
from pathlib import Path

TEMPLATE = Path(__file__).with_name("torch_runtime.py")

#: module names the template imports, and the import statement for each
IMPORTS = {
    "math": "import math",
    "types": "import types",
    "np": "import numpy as np",
    "torch": "import torch",
    "F": "import torch.nn.functional as F",
}



@lru_cache(maxsize=1)
def _template() -> tuple[dict[str, str], dict[str, set[str]], list[str]]:
    text = TEMPLATE.read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    tree = ast.parse(text)
    sources: dict[str, str] = {}
    uses: dict[str, set[str]] = {}
    order: list[str] = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            # top-level definitions span whole lines (ast.get_source_segment is slow)
            sources[node.name] = "".join(lines[node.lineno - 1:node.end_lineno]).rstrip("\n")
            uses[node.name] = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
            order.append(node.name)
    return sources, uses, order


def available() -> set[str]:
    return set(_template()[0])


def closure(names: set[str]) -> list[str]:
    """``names`` and every template function they call, in template order."""
    sources, uses, order = _template()
    unknown = names - set(sources)
    if unknown:
        raise KeyError(f"no runtime helper named {sorted(unknown)}")
    todo, seen = list(names), set()
    while todo:
        n = todo.pop()
        if n in seen:
            continue
        seen.add(n)
        todo.extend(u for u in uses[n] if u in sources and u not in seen)
    return [n for n in order if n in seen]


def names_used(names: set[str]) -> set[str]:
    """Every name the helpers for ``names`` read (for settling imports)."""
    _, uses, _ = _template()
    out = set()
    for n in closure(names):
        out |= uses[n]
    return out


def helpers_source(names: set[str]) -> tuple[str, set[str]]:
    """Source of the helpers ``names`` need, and the import aliases that source uses."""
    sources, uses, _ = _template()
    chosen = closure(names)
    modules = set()
    for n in chosen:
        modules |= uses[n] & set(IMPORTS)
    return "\n\n\n".join(sources[n] for n in chosen), modules
