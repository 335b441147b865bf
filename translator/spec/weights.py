"""Weight layouts: how one layer's Keras variables become torch parameters, and back.

Each rule is data (which variables, which parameters, which transform). The reverse
direction is derived from the same rule (a permutation's inverse is its argsort), so
there is never a second, hand-written copy that could drift. Array work happens only
when a converter calls ``to_torch``/``to_keras`` with numpy arrays; translation never
imports numpy.
"""

from __future__ import annotations

from dataclasses import dataclass, field


def inverse(perm: tuple[int, ...]) -> tuple[int, ...]:
    """The permutation that undoes ``perm`` (numpy's argsort, without numpy)."""
    return tuple(sorted(range(len(perm)), key=perm.__getitem__))


@dataclass(frozen=True)
class Transpose:
    """Keras array -> torch array by ``transpose(perm)``; identity when perm is None."""

    perm: tuple[int, ...] | None = None

    def to_torch(self, a):
        return a if self.perm is None else a.transpose(self.perm)

    def to_keras(self, a):
        return a if self.perm is None else a.transpose(inverse(self.perm))

    def describe(self) -> str:
        return "copy" if self.perm is None else f"transpose{self.perm}"


@dataclass(frozen=True)
class GateReorder:
    """Reorders gate blocks along axis 0 after an optional transpose.

    Keras GRU stacks gates as (z, r, h); torch as (r, z, n): ``order=(1, 0, 2)``.
    """

    order: tuple[int, ...]
    perm: tuple[int, ...] | None = None

    def to_torch(self, a):
        a = a if self.perm is None else a.transpose(self.perm)
        return _reorder(a, self.order)

    def to_keras(self, a):
        a = _reorder(a, inverse(self.order))
        return a if self.perm is None else a.transpose(inverse(self.perm))

    def describe(self) -> str:
        pre = "" if self.perm is None else f"transpose{self.perm}, "
        return f"{pre}gates{self.order}"


def _reorder(a, order):
    import numpy as np

    blocks = np.split(a, len(order), axis=0)
    return np.concatenate([blocks[i] for i in order], axis=0)


@dataclass(frozen=True)
class BiasSplit:
    """One Keras bias -> torch (bias_ih, bias_hh): all of it in bias_ih, zeros in bias_hh.

    torch adds both biases, so the reverse direction sums them: exact either way.
    """

    order: tuple[int, ...] | None = None

    def to_torch(self, a):
        import numpy as np

        b = a if self.order is None else _reorder(a, self.order)
        return b, np.zeros_like(b)

    def to_keras(self, b_ih, b_hh):
        b = b_ih + b_hh
        return b if self.order is None else _reorder(b, inverse(self.order))

    def describe(self) -> str:
        return "bias -> (bias_ih, zeros)" + ("" if self.order is None else f", gates{self.order}")


@dataclass(frozen=True)
class StackedBias:
    """Keras GRU(reset_after=True) bias of shape (2, 3u) -> torch (bias_ih, bias_hh)."""

    order: tuple[int, ...]

    def to_torch(self, a):
        return _reorder(a[0], self.order), _reorder(a[1], self.order)

    def to_keras(self, b_ih, b_hh):
        import numpy as np

        back = inverse(self.order)
        return np.stack([_reorder(b_ih, back), _reorder(b_hh, back)])

    def describe(self) -> str:
        return f"bias[0] -> bias_ih, bias[1] -> bias_hh, gates{self.order}"


@dataclass(frozen=True)
class FlattenRows:
    """A Dense kernel after a Flatten of (*spatial, channels) Keras features, for a torch
    module that flattens channels-first (``x.flatten(1)`` on NCHW): its input rows are
    reordered from (spatial..., C) to (C, spatial...), then transposed to (out, in)."""

    spatial: tuple[int, ...]
    channels: int

    def to_torch(self, a):
        n = len(self.spatial)
        rows = a.reshape(*self.spatial, self.channels, a.shape[-1])
        rows = rows.transpose(n, *range(n), n + 1).reshape(a.shape)
        return rows.transpose(1, 0)

    def to_keras(self, w):
        n = len(self.spatial)
        a = w.transpose(1, 0)
        rows = a.reshape(self.channels, *self.spatial, a.shape[-1])
        return rows.transpose(*range(1, n + 1), 0, n + 1).reshape(a.shape)

    def describe(self) -> str:
        return f"rows (*{self.spatial}, {self.channels}) -> ({self.channels}, *{self.spatial}), transpose(1, 0)"


@dataclass(frozen=True)
class Depthwise:
    """A Keras depthwise kernel (*k, in, multiplier) <-> torch's grouped-convolution weight
    (in * multiplier, 1, *k): output channel ``c * multiplier + m`` in both frameworks."""

    multiplier: int

    def to_torch(self, a):
        n = a.ndim - 2
        *k, channels, mult = a.shape
        return a.transpose(n, n + 1, *range(n)).reshape(channels * mult, 1, *k)

    def to_keras(self, w):
        n = w.ndim - 2
        a = w.reshape(w.shape[0] // self.multiplier, self.multiplier, *w.shape[2:])
        return a.transpose(*range(2, n + 2), 0, 1)

    def describe(self) -> str:
        return f"depthwise (*k, in, {self.multiplier}) -> (in * {self.multiplier}, 1, *k)"


@dataclass(frozen=True)
class Reshape:
    """Same values, another shape (PReLU's shared-axes alpha (1, 1, C) <-> torch's (C,))."""

    keras_shape: tuple[int, ...]
    torch_shape: tuple[int, ...]

    def to_torch(self, a):
        return a.reshape(self.torch_shape)

    def to_keras(self, w):
        return w.reshape(self.keras_shape)

    def describe(self) -> str:
        return f"reshape{self.keras_shape} -> {self.torch_shape}"


def _heads_to_rows(kernel):
    """A per-head EinsumDense kernel (in, heads, head_dim) -> a torch Linear weight (heads * head_dim, in):
    head h owns rows h * head_dim ... (h + 1) * head_dim, as nn.MultiheadAttention splits them."""
    return kernel.reshape(kernel.shape[0], -1).transpose(1, 0)


def _rows_to_heads(weight, heads: int):
    return weight.transpose(1, 0).reshape(weight.shape[1], heads, -1)


@dataclass(frozen=True)
class AttentionInput:
    """MultiHeadAttention's query, key and value projections <-> nn.MultiheadAttention's in-projection.

    Keras (``layer.weights`` order): query kernel (Eq, H, d) [, query bias (H, d)], then the
    same for key and value. torch: one ``in_proj_weight`` (3E, E) when key and value have
    the query's size (``packed``), else ``q_proj_weight``, ``k_proj_weight``, ``v_proj_weight``;
    then ``in_proj_bias`` (3E,), the three biases stacked.
    """

    heads: int
    bias: bool = True
    packed: bool = True

    def to_torch(self, *arrays):
        import numpy as np

        step = 2 if self.bias else 1
        weights = [_heads_to_rows(k) for k in arrays[::step]]
        out = [np.concatenate(weights)] if self.packed else weights
        if self.bias:
            out.append(np.concatenate([b.reshape(-1) for b in arrays[1::2]]))
        return tuple(out)

    def to_keras(self, *tensors):
        import numpy as np

        weights = np.split(tensors[0], 3) if self.packed else tensors[:3]
        kernels = [_rows_to_heads(w, self.heads) for w in weights]
        if not self.bias:
            return tuple(kernels)
        biases = [b.reshape(self.heads, -1) for b in np.split(tensors[-1], 3)]
        return tuple(a for pair in zip(kernels, biases) for a in pair)

    def describe(self) -> str:
        target = "in_proj_weight" if self.packed else "q/k/v_proj_weight"
        bias = ", biases (H, d) -> in_proj_bias" if self.bias else ""
        return f"kernels (in, H={self.heads}, d) -> rows (H * d, in) -> {target}{bias}"


@dataclass(frozen=True)
class AttentionOutput:
    """MultiHeadAttention's output kernel (H, d, out) <-> ``out_proj.weight`` (out, H * d)."""

    heads: int

    def to_torch(self, a):
        return a.reshape(-1, a.shape[-1]).transpose(1, 0)

    def to_keras(self, w):
        return w.transpose(1, 0).reshape(self.heads, -1, w.shape[0])

    def describe(self) -> str:
        return f"kernel (H={self.heads}, d, out) -> (out, H * d)"


@dataclass(frozen=True)
class WeightRule:
    """Keras variables ``keras`` (names, in layer order) <-> torch parameters ``torch``."""

    keras: tuple[str, ...]
    torch: tuple[str, ...]
    transform: object = field(default_factory=Transpose)


def rule(keras: str, torch: str, transform=None) -> WeightRule:
    """A one-to-one rule; the common case."""
    return WeightRule((keras,), (torch,), transform or Transpose())
