"""Argument values as the spec tables see them: source text plus, when static, the value.

A translation must emit what the user wrote (``num_classes`` stays ``num_classes``)
while shape inference needs numbers; ``Value`` carries both.
"""

from __future__ import annotations

import re

from dataclasses import dataclass


class _Unknown:
    def __repr__(self) -> str:
        return "UNKNOWN"

    def __bool__(self) -> bool:
        return False


UNKNOWN = _Unknown()


class Unsupported(Exception):
    """A construct the spec cannot translate faithfully; the message says why."""


@dataclass(frozen=True)
class Value:
    """One argument: ``text`` is emitted, ``value`` is its static value or UNKNOWN."""

    text: str
    value: object = UNKNOWN

    @classmethod
    def of(cls, value: object) -> "Value":
        return cls(repr(value), value)

    @property
    def known(self) -> bool:
        return self.value is not UNKNOWN


@dataclass(frozen=True)
class Dim:
    """One tensor dimension: emitted ``text`` and the int it is, when known."""

    text: str
    value: int | None = None

    @classmethod
    def of(cls, value: int) -> "Dim":
        return cls(str(value), value)

    @classmethod
    def from_value(cls, v: Value) -> "Dim":
        if v.known and isinstance(v.value, int) and not isinstance(v.value, bool):
            return cls(v.text if not v.text.lstrip("-").isdigit() else str(v.value), v.value)
        if v.known and v.value is None:
            return cls("None", None)
        return cls(v.text, None)

    @property
    def known(self) -> bool:
        return self.value is not None


def product(dims: tuple[Dim, ...]) -> Dim:
    """The flattened size of ``dims``, as a number when all are known."""
    if all(d.known for d in dims):
        total = 1
        for d in dims:
            total *= d.value
        return Dim.of(total)
    return Dim(" * ".join(factor(d.text) for d in dims))


def factor(text: str) -> str:
    """``text`` as a factor of a product: ``filters + 2`` needs parentheses, ``2 * filters`` does not."""
    return text if re.fullmatch(r"[\w.]+(\[-?\w+\])?( \* [\w.]+(\[-?\w+\])?)*", text) else f"({text})"
