"""Keras weights <-> torch parameters, driven only by the spec's ``WeightRule`` tables.

Nothing here knows a layer by name: each translated layer carries its rules
(``EmittedModel.weights``: torch attribute -> rules, in layer order) and every rule
says which Keras variables (by name, in ``layer.weights`` order) become which torch
parameters through which transform. Pure numpy; imports neither framework.

Keras-side weights are given as ``(variable name or path, array)`` pairs, e.g.
``("sequential/dense/kernel", a)`` or, from a Keras 3 file, ``("sequential/dense/0", a)``; Keras 3 Bidirectional paths look like
``bidirectional/forward_lstm/lstm_cell/kernel`` while its rules are named
``forward/kernel``: a variable matches a rule when the last path components agree
and, for a rule with a prefix (``forward/``), the path has a component starting
with it.

torch-only buffers (BatchNorm's ``num_batches_tracked``) are not produced: load
with ``load_state_dict(strict=False)`` and check the result with ``check_load``.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Iterable, Mapping, Sequence

import numpy as np

from translator.spec import weights as _weights
from translator.spec.custom_weights import DEFAULT_NAME as UNNAMED_WEIGHT
from translator.spec.weights import WeightRule

#: torch state-dict entries Keras has no variable for (counters, not weights)
TORCH_ONLY_BUFFERS = ("num_batches_tracked",)


# --------------------------------------------------------------------------- one layer


def _last(name: str) -> list[str]:
    """Path components of a variable name, without a TF1-style ``:0`` suffix."""
    return name.split(":")[0].strip("/").split("/")


def name_matches(variable: str, rule_name: str) -> bool:
    """Whether a Keras variable (name or path) is the one a rule names.

    Keras 3 files store positions, not names (``dense/0``): the position stands for
    whichever variable the rule lists there, and only the scopes are checked.
    """
    var_parts, rule_parts = _last(variable), rule_name.split("/")
    if var_parts[-1] != rule_parts[-1] and not var_parts[-1].isdigit() and not _auto_named(var_parts[-1], rule_parts[-1]):
        return False
    if len(var_parts) == 1:
        return True  # a bare name (Keras 3 ``variable.name``): the direction cannot be checked
    scopes = var_parts[:-1]
    return all(any(p == prefix or p.startswith(prefix + "_") for p in scopes) for prefix in rule_parts[:-1])


def _auto_named(variable: str, rule_name: str) -> bool:
    """A weight made without ``name=`` is ``variable``, ``variable_1``, ... (Keras numbers them file-wide)."""
    return rule_name == UNNAMED_WEIGHT and re.fullmatch(r"variable(_\d+)?", variable) is not None


def _describe(names: Iterable[str]) -> str:
    names = list(names)
    return "[" + ", ".join(names) + "]" if names else "no weights"


def _as_tuple(out, n: int, rule: WeightRule) -> tuple:
    if n == 1:
        return (out,)
    out = tuple(out)
    if len(out) != n:
        raise ValueError(f"rule {rule.keras} -> {rule.torch}: the transform gave {len(out)} arrays, expected {n}")
    return out


def keras_to_torch(
    layer_weights: Sequence[tuple[str, object]],
    rules: Sequence[WeightRule],
    expected: Mapping[str, tuple[int, ...]] | None = None,
    where: str = "",
) -> dict[str, np.ndarray]:
    """One Keras layer's variables (``layer.weights`` order) -> torch parameter name -> array.

    ``expected`` (torch parameter name -> shape), when given, is checked. Any mismatch
    raises ValueError naming the Keras variable and the torch parameter.
    """
    at = f"{where}: " if where else ""
    wanted = [k for r in rules for k in r.keras]
    got = [name for name, _ in layer_weights]
    if len(got) != len(wanted):
        raise ValueError(f"{at}Keras variables {_describe(got)} do not match the rule's "
                         f"{_describe(wanted)} ({len(got)} vs {len(wanted)})")
    out: dict[str, np.ndarray] = {}
    i = 0
    for r in rules:
        chunk = layer_weights[i:i + len(r.keras)]
        i += len(r.keras)
        for (name, _), rule_name in zip(chunk, r.keras):
            if not name_matches(name, rule_name):
                raise ValueError(f"{at}Keras variable {name!r} does not match rule variable {rule_name!r} "
                                 f"(for torch {', '.join(r.torch)}); variables {_describe(got)}, rule {_describe(wanted)}")
        arrays = [np.asarray(a) for _, a in chunk]
        converted = _as_tuple(r.transform.to_torch(*arrays), len(r.torch), r)
        for torch_name, array in zip(r.torch, converted):
            array = np.asarray(array, order="C")
            if expected is not None:
                if torch_name not in expected:
                    raise ValueError(f"{at}torch module has no parameter {torch_name!r} "
                                     f"(for Keras {', '.join(n for n, _ in chunk)})")
                shape = tuple(expected[torch_name])
                if tuple(array.shape) != shape:
                    keras_side = ", ".join(f"{n} {tuple(np.shape(a))}" for n, a in chunk)
                    raise ValueError(f"{at}shape mismatch: Keras {keras_side} -> {tuple(array.shape)} "
                                     f"but torch {torch_name!r} is {shape}")
            out[torch_name] = array
    return out


def torch_to_keras(
    state_arrays: Mapping[str, object], rules: Sequence[WeightRule], where: str = ""
) -> list[tuple[str, np.ndarray]]:
    """One torch module's parameters (name -> array) -> Keras (rule variable name, array), in order."""
    at = f"{where}: " if where else ""
    out: list[tuple[str, np.ndarray]] = []
    for r in rules:
        missing = [t for t in r.torch if t not in state_arrays]
        if missing:
            raise ValueError(f"{at}torch parameters {missing} are missing (rule {_describe(r.keras)} <- "
                             f"{_describe(r.torch)}; have {_describe(state_arrays)})")
        arrays = [np.asarray(state_arrays[t]) for t in r.torch]
        converted = _as_tuple(r.transform.to_keras(*arrays), len(r.keras), r)
        out.extend((k, np.asarray(a, order="C")) for k, a in zip(r.keras, converted))
    return out


# --------------------------------------------------------------------------- whole models


def _pairs(keras_layers_weights, torch_weights):
    keras_side = [(i, ws) for i, ws in enumerate(keras_layers_weights) if len(ws)]
    torch_side = [(attr, rules) for attr, rules in torch_weights if rules]
    if len(keras_side) != len(torch_side):
        k = ", ".join(f"#{i} ({ws[0][0]}...)" for i, ws in keras_side)
        t = ", ".join(attr for attr, _ in torch_side)
        raise ValueError(f"{len(keras_side)} Keras layers with weights [{k}] but {len(torch_side)} "
                         f"torch modules with weights [{t}]")
    return list(zip(keras_side, torch_side))


def model_to_state_dict(
    keras_layers_weights: Sequence[Sequence[tuple[str, object]]],
    torch_weights: Sequence[tuple[str, Sequence[WeightRule]]],
    expected: Mapping[str, tuple[int, ...]] | None = None,
) -> dict[str, np.ndarray]:
    """Every Keras layer's weights (``model.layers`` order) -> a torch state dict of arrays.

    ``torch_weights`` is ``EmittedModel.weights``. Keras layers without weights and torch
    modules without rules (Dropout, pooling) are skipped; the rest pair up in order.
    ``expected`` (state-dict key -> shape) checks shapes.
    """
    state: dict[str, np.ndarray] = {}
    for (index, ws), (attr, rules) in _pairs(keras_layers_weights, torch_weights):
        sub = None if expected is None else _under(expected, attr)
        params = keras_to_torch(ws, rules, sub, where=f"Keras layer #{index} -> torch {attr!r}")
        state.update({_key(attr, k): v for k, v in params.items()})
    return state


def _key(attr: str, param: str) -> str:
    """The state-dict key of a module's parameter; an empty name is the attribute itself (an nn.Parameter)."""
    return f"{attr}.{param}" if param else attr


def _under(state: Mapping[str, object], attr: str) -> dict[str, object]:
    """The entries of module ``attr`` keyed by parameter name ("" for a parameter that is the attribute)."""
    return {("" if k == attr else k[len(attr) + 1:]): v for k, v in state.items()
            if k == attr or k.startswith(attr + ".")}


def state_dict_to_model(
    state: Mapping[str, object], torch_weights: Sequence[tuple[str, Sequence[WeightRule]]]
) -> list[tuple[str, list[tuple[str, np.ndarray]]]]:
    """A torch state dict -> per torch module with weights: (attribute, Keras (name, array) list)."""
    out = []
    for attr, rules in torch_weights:
        if not rules:
            continue
        out.append((attr, torch_to_keras(_under(state, attr), rules, where=f"torch {attr!r}")))
    return out


def check_load(missing_keys: Iterable[str], unexpected_keys: Iterable[str]) -> None:
    """After ``load_state_dict(strict=False)``: only torch-only buffers may be missing."""
    missing = [k for k in missing_keys if k.rsplit(".", 1)[-1] not in TORCH_ONLY_BUFFERS]
    unexpected = list(unexpected_keys)
    if missing or unexpected:
        raise ValueError(f"state dict does not fit the module: missing {missing}, unexpected {unexpected}")


# --------------------------------------------------------------------------- rules as JSON


def rules_to_json(torch_weights: Sequence[tuple[str, Sequence[WeightRule]]]) -> list:
    """``EmittedModel.weights`` as JSON-able data (for a worker process)."""
    def transform(t):
        return {"type": type(t).__name__, **{f.name: getattr(t, f.name) for f in dataclasses.fields(t)}}

    return [[attr, [{"keras": list(r.keras), "torch": list(r.torch), "transform": transform(r.transform)}
                    for r in rules]] for attr, rules in torch_weights]


def _tuples(v):
    return tuple(_tuples(i) for i in v) if isinstance(v, list) else v


def rules_from_json(data: list) -> list[tuple[str, tuple[WeightRule, ...]]]:
    out = []
    for attr, rules in data:
        built = []
        for r in rules:
            t = dict(r["transform"])
            cls = getattr(_weights, t.pop("type"))
            built.append(WeightRule(tuple(r["keras"]), tuple(r["torch"]), cls(**{k: _tuples(v) for k, v in t.items()})))
        out.append((attr, tuple(built)))
    return out
