"""Diagnostics are data: what was not translated, where, and why."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True, order=True)
class Diagnostic:
    line: int
    col: int
    construct: str
    reason: str
    severity: str = "todo"  # "todo": left for the user; "note": translated with a caveat

    def render(self, path: str = "<stdin>") -> str:
        return f"{path}:{self.line}:{self.col}: {self.construct}: {self.reason}"

    def to_dict(self) -> dict:
        return asdict(self)


class InputError(Exception):
    """Bad input (syntax error, undecodable file): a one-line message, nothing written."""
