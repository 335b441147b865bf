"""What happens to each Keras/TensorFlow construct beyond the layer table: one row each.

The README's construct table is rendered from here (``translator.support_table``), so
the status users read is the one the code declares. Status is one of ``translated``,
``caveat`` (translated, with the difference the note names) or ``todo`` (left as it
is, with a ``# TODO(tfpt)`` at its line and a report entry).
"""

from __future__ import annotations

from dataclasses import dataclass

TRANSLATED, CAVEAT, TODO = "translated", "caveat", "todo"


@dataclass(frozen=True)
class Construct:
    area: str
    construct: str
    status: str
    note: str = ""


CONSTRUCTS: list[Construct] = [
    Construct("Models", "`Sequential([...])`, `Sequential()` + `.add()` (static loops too)", TRANSLATED),
    Construct("Models", "Functional `Model(inputs, outputs)`: one or several `Input`s and outputs (list or dict)",
              TRANSLATED, "`forward(self, a, b)` returns a tensor, a tuple or a dict, like the Keras model"),
    Construct("Models", "Functional layer calls, nested calls, `x = block(x, 64)` helper functions, static "
              "`for`/`if`, `x.shape[-1]`", TRANSLATED,
              "followed like the interpreter would; helpers used only by translated models are removed"),
    Construct("Models", "`Add`/`Subtract`/`Multiply`/`Average`/`Maximum`/`Minimum`/`Concatenate`/`Dot` "
              "(classes and `layers.add(...)` functions), `a + b`, `a - b`, `a * b`, `x += shortcut`, "
              "a tensor times a number", TRANSLATED, "equal shapes only (no broadcasting); `Dot` on rank-2 inputs"),
    Construct("Models", "Shared layers (one layer object called several times)", TRANSLATED,
              "one submodule, called at each use; a layer shared between inputs of different shapes stays Keras"),
    Construct("Models", "A model used as a layer (`encoder(x)`, a `Sequential` head)", TRANSLATED,
              "the translated model is passed to the outer class's `__init__`, so weights stay shared as in Keras"),
    Construct("Models", "Slicing Keras tensors, `tf.*` ops on them, `layer(x, training=True)`, loops over "
              "non-static ranges inside a graph", TODO, "the model stays Keras with one TODO at the exact node"),
    Construct("Models", "A `Sequential` without an input shape called inside a Functional graph", TRANSLATED,
              "the graph gives it its input shape; never called on a Keras tensor, it stays Keras with a TODO"),
]


def render() -> list[str]:
    label = {TRANSLATED: "translated", CAVEAT: "translated, with a caveat", TODO: "marked TODO"}
    rows = ["| area | construct | status | notes |", "|---|---|---|---|"]
    for c in CONSTRUCTS:
        rows.append(f"| {c.area} | {c.construct} | {label[c.status]} | {c.note} |")
    return rows


__all__ = ["CAVEAT", "CONSTRUCTS", "Construct", "TODO", "TRANSLATED", "render"]
