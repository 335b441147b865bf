"""Forward lines as text: rename a line's variables, find what it assigns, name results.

The spec rows write each layer's forward on one variable, ``x``; a Functional model
reads inputs and writes outputs under the source's own names. These helpers do that
rewriting on tokens (never inside strings or attribute names) and need no LibCST, so
the checkpoint converters can emit models without it.
"""

from __future__ import annotations

import io
import keyword
import tokenize

from .ir import Node



def _tokens(line: str):
    try:
        return list(tokenize.generate_tokens(io.StringIO(line.strip() + "\n").readline))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return None


def rename(line: str, mapping: dict[str, str]) -> str:
    """``line`` with the variables in ``mapping`` renamed (attributes and strings untouched)."""
    indent = line[: len(line) - len(line.lstrip())]
    body = line.strip()
    toks = _tokens(body)
    if toks is None:
        return line
    edits = []
    prev = None
    for tok in toks:
        if tok.type == tokenize.NAME and tok.string in mapping and not (prev is not None and prev.string == "."):
            edits.append((tok.start[1], tok.end[1], mapping[tok.string]))
        if tok.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.COMMENT):
            prev = tok
    for start, end, new in reversed(edits):
        body = body[:start] + new + body[end:]
    return indent + body


def assigned_names(line: str) -> list[str]:
    """Names a simple ``targets = value`` line binds (none for other lines)."""
    toks = _tokens(line)
    if not toks or line.startswith((" ", "\t")):
        return []
    depth = 0
    names = []
    for tok in toks:
        if tok.type == tokenize.OP and tok.string in "([{":
            depth += 1
        elif tok.type == tokenize.OP and tok.string in ")]}":
            depth -= 1
        elif tok.type == tokenize.OP and tok.string == "=" and depth == 0:
            return names
        elif tok.type == tokenize.NAME:
            names.append(tok.string)
        elif tok.type == tokenize.OP and tok.string in (".", "[", "("):
            return []
    return []


def placeholder_lines(lines: list[str]) -> list[str]:
    """Lines of a chain step on ``x`` -> lines reading the input as ``{0}`` and assigning ``x``.

    Reads before the first plain assignment to ``x`` become ``{0}``; when ``x`` is first
    assigned inside a block (``if self.training:``), ``x = {0}`` goes first instead.
    """
    out: list[str] = []
    for i, line in enumerate(lines):
        compound = line.startswith((" ", "\t")) or line.split("#")[0].rstrip().endswith(":")
        targets = [] if compound else assigned_names(line)
        if not targets:
            if compound or "x" in _name_tokens(line):
                return out + ["x = {0}"] + lines[i:]
            out.append(line)
            continue
        lhs, rhs = line.split("=", 1)
        out.append(lhs + "=" + rename(rhs, {"x": "{0}"}))
        if "x" in targets:
            return out + lines[i + 1:]
    return out + ["x = {0}"]


def _name_tokens(line: str) -> set[str]:
    toks = _tokens(line) or []
    return {t.string for t in toks if t.type == tokenize.NAME}


def is_alias(node: Node) -> bool:
    """A call with nothing to do in torch (comments aside): its output is its input."""
    return [l for l in node.lines if not l.lstrip().startswith("#")] == ["x = {0}"]


def free_name(preferred: str, taken) -> str:
    if keyword.iskeyword(preferred) or not preferred.isidentifier():
        preferred = "x"
    name, k = preferred, 2
    while name in taken:
        name, k = f"{preferred}_{k}", k + 1
    return name


__all__ = ["assigned_names", "free_name", "is_alias", "placeholder_lines", "rename"]
