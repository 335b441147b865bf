"""Reading Keras checkpoints without TensorFlow or Keras: ``.keras``, legacy ``.h5``, ``.weights.h5``.

``read_keras_file(path)`` returns a ``KerasCheckpoint`` whose ``layers`` line up with
``model.layers`` (one entry per layer, empty variable lists included) and whose
variables come in ``layer.weights`` order, so ``transfer.model_to_state_dict`` can
consume ``checkpoint.weights()`` directly. ``open_keras_file(path)`` is the same as a
context manager whose arrays are lazy h5py datasets: a converter streams one tensor
at a time instead of holding the checkpoint twice. Only zipfile, json, h5py and numpy
are used.

Variable names: legacy ``.h5`` files store them (``dense/kernel:0``). Keras 3 files
store only positions (``vars/0``): such a variable is named by its path with the
position last (``bidi/forward_lstm/lstm_cell/0``), and the converter names it from the
spec's ``WeightRule`` for that layer (which lists a layer's variables in Keras' order),
so no second table of Keras variable names lives here.

Layouts (measured with Keras 3.15):

* ``.keras``: a zip with ``config.json``, ``metadata.json``, ``model.weights.h5``.
  Inside the h5, a model's layers sit in the container ``layers/`` under
  ``snake_case(class name)`` with ``_1``, ``_2``... for repeats, in ``model.layers``
  order (Keras' ``_save_container_state``), e.g. ``layers/dense_1``. A layer's own
  variables are ``<group>/vars/<i>`` (only indices; the group ``vars`` carries the
  layer's name in the attribute ``name``); sub-layers are sub-groups named after the
  attribute holding them: ``lstm/cell/vars/<i>``,
  ``bidirectional/forward_layer/cell/vars/<i>`` and ``.../backward_layer/...``, a
  wrapper's ``layer/``, a nested model's ``layers/<...>``. HDF5 lists groups
  alphabetically, so the order of sub-layers (forward before backward) and of layers
  comes from the config. Keras writes the archive uncompressed (ZIP_STORED): the h5 is
  read in place through a window on the archive, never copied.
* ``.weights.h5`` (``model.save_weights``): the same tree at the file root, no config:
  layers come in file order (natural sort of the group names), classes are guessed
  from the group names (snake_case of the spec's layer classes).
* legacy ``.h5`` (``model.save("x.h5")``, Keras 2 files): ``model_weights`` (or the
  root, for Keras 2 ``save_weights``) with attribute ``layer_names`` (model.layers
  order) and per layer ``weight_names`` (full variable paths, in layer.weights order,
  Keras 2 names end in ``:0``); the architecture is the root attribute ``model_config``.

Safety: no extraction to disk; zip members with absolute or ``..`` paths, archives
whose declared uncompressed size exceeds ``max_bytes`` or whose members compress
implausibly well, HDF5 external links / external or virtual datasets, and configs
with ``Lambda`` layers or classes from outside Keras (unless ``trust=True``) are
refused with ``CheckpointError``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import os
import re
import shutil
import tempfile
import zipfile
from typing import Any, Iterator

import h5py
import numpy as np

from translator.ir import snake_case

DEFAULT_MAX_BYTES = 8 << 30
DEFAULT_MAX_RATIO = 200  # uncompressed / compressed, for members above _RATIO_MIN_SIZE
_RATIO_MIN_SIZE = 1 << 20
_ZIP_MAGIC = b"PK\x03\x04"
_EMPTY_ZIP_MAGIC = b"PK\x05\x06"
_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"

Variables = list  # list[tuple[str, np.ndarray]]


class CheckpointError(ValueError):
    """A checkpoint that cannot (or must not) be read; the message names the file."""


@dataclasses.dataclass
class KerasCheckpoint:
    path: str
    format: str  # "keras", "h5" (legacy full model or Keras 2 weights) or "weights.h5"
    config: dict | None
    layers: list[tuple[str, str | None, list[tuple[str, np.ndarray]]]]
    metadata: dict | None = None

    def weights(self) -> list[list[tuple[str, np.ndarray]]]:
        """One list per layer, as ``transfer.model_to_state_dict`` takes them."""
        return [variables for _, _, variables in self.layers]

    def layer_names(self) -> list[str]:
        return [name for name, _, _ in self.layers]


# --------------------------------------------------------------------------- names


_RNN_CELLS = {"LSTM": "LSTMCell", "GRU": "GRUCell", "SimpleRNN": "SimpleRNNCell"}
_MODELS = ("Functional", "Sequential", "Model")
#: sub-layers in ``layer.weights`` order, where it is not the file's alphabetical one
_SUBLAYERS = {"MultiHeadAttention": ("query_dense", "key_dense", "value_dense", "output_dense")}
#: modules of Keras operations in a Functional config (``x + y`` saves an ``Add`` op): no weights, no group
_OPERATION_MODULES = ("keras.src.ops.", "keras.ops.", "keras.src.activations.")


def is_operation(layer_config: dict) -> bool:
    """Whether a Functional config entry is a Keras operation (``x + y``, ``keras.ops.*``), not a layer."""
    return str(layer_config.get("module") or "").startswith(_OPERATION_MODULES)


def _known_classes() -> dict[str, str]:
    """snake_case group key -> Keras class, for the classes tfpt has rows for."""
    from translator.spec.layers import ALIASES, LAYERS

    names = [*LAYERS, *ALIASES, *_RNN_CELLS.values(), "TimeDistributed"]
    return {snake_case(c): ALIASES.get(c, c) for c in names}


_BY_SNAKE = _known_classes()


def _guess_class(group_key: str | None) -> str | None:
    if not group_key:
        return None
    return _BY_SNAKE.get(re.sub(r"_\d+$", "", group_key))


def _natural(key: str):
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", key)]


def _text(v) -> str:
    return v.decode("utf8") if isinstance(v, bytes) else str(v)


# --------------------------------------------------------------------------- safety


def _check_config(config: Any, where: str, trust: bool) -> None:
    """Refuse Lambda layers and classes from outside Keras unless trusted."""
    if trust:
        return
    stack = [config]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, dict):
            cls, module = node.get("class_name"), node.get("module")
            if cls in ("Lambda", "TFOpLambda", "__lambda__"):
                name = (node.get("config") or {}).get("name", "?") if isinstance(node.get("config"), dict) else "?"
                raise CheckpointError(f"{where}: refusing a {cls} layer ({name!r}), which runs stored code; pass --trust (trust=True) if you trust the file")
            if isinstance(module, str) and not (module == "keras" or module.startswith("keras.")):
                raise CheckpointError(
                    f"{where}: refusing class {cls!r} from module {module!r} (a custom object); pass --trust (trust=True) if you trust the file")
            registered = node.get("registered_name")
            if isinstance(registered, str) and ">" in registered and not registered.startswith("keras"):
                raise CheckpointError(f"{where}: refusing registered custom class {registered!r}; pass --trust (trust=True) if you trust the file")
            stack.extend(node.values())


def _safe_member_name(name: str) -> bool:
    parts = name.replace("\\", "/").split("/")
    return not (name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name) or ".." in parts)


def _check_h5(f: h5py.File, where: str, max_bytes: int) -> None:
    """Refuse links and datasets that reach outside the file, and oversized contents."""
    total = 0
    stack = [f]
    while stack:
        g = stack.pop()
        for key in g:
            link = g.get(key, getlink=True)
            if isinstance(link, h5py.ExternalLink):
                raise CheckpointError(f"{where}: refusing HDF5 external link {g.name}/{key} -> {link.filename}")
            obj = g.get(key)
            if isinstance(obj, h5py.Group):
                if not isinstance(link, h5py.SoftLink):
                    stack.append(obj)
            elif isinstance(obj, h5py.Dataset):
                if obj.external or obj.is_virtual:
                    raise CheckpointError(f"{where}: refusing dataset {obj.name} stored outside the file")
                total += int(np.prod(obj.shape, dtype=np.int64)) * obj.dtype.itemsize if obj.shape else obj.dtype.itemsize
    if total > max_bytes:
        raise CheckpointError(f"{where}: datasets hold {total} bytes, over the limit of {max_bytes}")


# --------------------------------------------------------------------------- reading


def read_keras_file(
    path,
    *,
    trust: bool = False,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_ratio: float = DEFAULT_MAX_RATIO,
) -> KerasCheckpoint:
    """Read a ``.keras``, legacy ``.h5`` or ``.weights.h5`` file into memory; see the module docstring."""
    with open_keras_file(path, trust=trust, max_bytes=max_bytes, max_ratio=max_ratio) as ckpt:
        where = os.path.basename(os.fspath(path))
        layers = [(name, cls, [(n, read_array(a, where, n)) for n, a in variables])
                  for name, cls, variables in ckpt.layers]
        return dataclasses.replace(ckpt, layers=layers)


def read_array(dataset, where: str, name: str) -> np.ndarray:
    """One variable's data; a damaged dataset becomes a CheckpointError naming it."""
    try:
        return np.asarray(dataset)
    except (OSError, ValueError, KeyError) as e:
        msg = " ".join(str(e).split()) or type(e).__name__
        raise CheckpointError(f"{where}: cannot read variable {name!r} ({msg}): corrupt or truncated file") from None


@contextlib.contextmanager
def open_keras_file(
    path,
    *,
    trust: bool = False,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_ratio: float = DEFAULT_MAX_RATIO,
) -> Iterator[KerasCheckpoint]:
    """Like ``read_keras_file``, but the arrays are h5py datasets, valid inside the ``with``."""
    path = os.fspath(path)
    where = os.path.basename(path) or path
    if not os.path.isfile(path):
        raise CheckpointError(f"{path}: no such file")
    with contextlib.ExitStack() as stack:
        try:
            with open(path, "rb") as fh:
                head = fh.read(8)
            if head[:4] in (_ZIP_MAGIC, _EMPTY_ZIP_MAGIC):
                ckpt = _read_keras_zip(path, where, trust, max_bytes, max_ratio, stack)
            elif head == _HDF5_MAGIC:
                f = stack.enter_context(h5py.File(path, "r"))
                ckpt = _read_h5(f, path, where, trust, max_bytes)
            else:
                raise CheckpointError(f"{where}: not a Keras file (neither a zip archive nor HDF5)")
        except CheckpointError:
            raise
        except (OSError, zipfile.BadZipFile, EOFError, json.JSONDecodeError) as e:
            msg = " ".join(str(e).split()) or type(e).__name__
            raise CheckpointError(f"{where}: corrupt or truncated file ({type(e).__name__}: {msg})") from None
        except (KeyError, ValueError, TypeError, AttributeError) as e:
            msg = " ".join(str(e).split()) or type(e).__name__
            raise CheckpointError(f"{where}: unexpected layout ({type(e).__name__}: {msg})") from None
        yield ckpt


class _Window(io.RawIOBase):
    """A read-only view of ``size`` bytes of a file from ``offset``: h5py reads a stored zip member in place."""

    def __init__(self, path: str, offset: int, size: int):
        self._f = open(path, "rb")
        self._offset, self._size, self._pos = offset, size, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, pos: int, whence: int = 0) -> int:
        base = {0: 0, 1: self._pos, 2: self._size}[whence]
        self._pos = max(0, base + pos)
        return self._pos

    def tell(self) -> int:
        return self._pos

    def readinto(self, buffer) -> int:
        n = max(0, min(len(buffer), self._size - self._pos))
        if n == 0:
            return 0
        self._f.seek(self._offset + self._pos)
        got = self._f.readinto(memoryview(buffer)[:n])
        self._pos += got
        return got

    def close(self) -> None:
        self._f.close()
        super().close()


def _member_data_offset(path: str, info: zipfile.ZipInfo) -> int:
    """Where a member's bytes start: after its local header (whose extra field may differ from the central one)."""
    with open(path, "rb") as fh:
        fh.seek(info.header_offset)
        header = fh.read(30)
    if len(header) < 30 or header[:4] != _ZIP_MAGIC:
        raise CheckpointError(f"{os.path.basename(path)}: member {info.filename!r} has a damaged local header")
    name_len, extra_len = int.from_bytes(header[26:28], "little"), int.from_bytes(header[28:30], "little")
    return info.header_offset + 30 + name_len + extra_len


def _read_keras_zip(path, where, trust, max_bytes, max_ratio, stack) -> KerasCheckpoint:
    with zipfile.ZipFile(path) as z:
        infos = z.infolist()
        total = 0
        for info in infos:
            if not _safe_member_name(info.filename):
                raise CheckpointError(f"{where}: refusing archive member with an unsafe path {info.filename!r}")
            total += info.file_size
            if (info.file_size > _RATIO_MIN_SIZE
                    and info.file_size > max_ratio * max(info.compress_size, 1)):
                raise CheckpointError(
                    f"{where}: member {info.filename!r} expands {info.file_size} bytes from {info.compress_size}"
                    f" (ratio over {max_ratio}): refusing a likely zip bomb")
        if total > max_bytes:
            raise CheckpointError(f"{where}: archive expands to {total} bytes, over the limit of {max_bytes}")
        by_name = {i.filename: i for i in infos}

        def member(name):
            info = by_name.get(name)
            if info is None:
                return None
            with z.open(info) as fh:
                data = fh.read(info.file_size + 1)
            if len(data) != info.file_size:
                raise CheckpointError(f"{where}: member {name!r} is {len(data)} bytes, its header says {info.file_size}")
            return data

        raw_config = member("config.json")
        if raw_config is None:
            raise CheckpointError(f"{where}: no config.json in the archive (not a .keras file)")
        config = json.loads(raw_config)
        _check_config(config, where, trust)
        raw_meta = member("metadata.json")
        metadata = json.loads(raw_meta) if raw_meta else None
        info = by_name.get("model.weights.h5")
        if info is None:
            others = [n for n in by_name if n.startswith("model.weights")]
            raise CheckpointError(f"{where}: no model.weights.h5 in the archive"
                                  + (f" (found {others}: sharded/npz weights are not supported)" if others else ""))
        if info.compress_type == zipfile.ZIP_STORED:
            offset = _member_data_offset(path, info)
            if offset + info.file_size > os.path.getsize(path):
                raise CheckpointError(f"{where}: model.weights.h5 runs past the end of the archive: truncated file")
            source = stack.enter_context(_Window(path, offset, info.file_size))
        else:  # re-zipped with compression: inflate once into an anonymous temporary file
            source = stack.enter_context(tempfile.TemporaryFile())
            with z.open(info) as fh:
                shutil.copyfileobj(fh, source, 1 << 22)
            source.seek(0)
    f = stack.enter_context(h5py.File(source, "r"))
    _check_h5(f, where, max_bytes)
    layers = _read_keras3(f, config, where)
    return KerasCheckpoint(path, "keras", config, layers, metadata)


def _read_h5(f: h5py.File, path, where, trust, max_bytes) -> KerasCheckpoint:
    _check_h5(f, where, max_bytes)
    if "model_weights" in f or "layer_names" in f.attrs:
        config = None
        if "model_config" in f.attrs:
            config = json.loads(_text(f.attrs["model_config"]))
            _check_config(config, where, trust)
        root = f["model_weights"] if "model_weights" in f else f
        return KerasCheckpoint(path, "h5", config, _read_legacy(root, config, where))
    if "layers" in f or "vars" in f:
        return KerasCheckpoint(path, "weights.h5", None, _read_keras3(f, None, where))
    raise CheckpointError(f"{where}: HDF5 file without Keras weights (no model_weights, layer_names or layers/)")


def _attr_list(g, name) -> list[str]:
    """An HDF5 string-list attribute, also when Keras split it into ``name0``, ``name1``..."""
    if name in g.attrs:
        values = list(g.attrs[name])
    else:
        values, i = [], 0
        while f"{name}{i}" in g.attrs:
            values += list(g.attrs[f"{name}{i}"])
            i += 1
    return [_text(v) for v in values]


def _config_layers(config) -> list[dict] | None:
    """The layer configs of a Functional/Sequential model, in ``model.layers`` order."""
    if not isinstance(config, dict):
        return None
    inner = config.get("config")
    layers = inner.get("layers") if isinstance(inner, dict) else None
    if not isinstance(layers, list):
        return None
    if config.get("class_name") == "Sequential":
        layers = [l for l in layers if l.get("class_name") != "InputLayer"]
    return layers


def _layer_name(lcfg: dict) -> str | None:
    cfg = lcfg.get("config")
    return cfg.get("name") if isinstance(cfg, dict) else lcfg.get("name")


def _read_legacy(root, config, where):
    classes = {_layer_name(l): l.get("class_name") for l in _config_layers(config) or []}
    layers = []
    for name in _attr_list(root, "layer_names"):
        if name not in root:
            raise CheckpointError(f"{where}: layer {name!r} is listed but has no group")
        g = root[name]
        variables = []
        for wname in _attr_list(g, "weight_names"):
            if wname not in g:
                raise CheckpointError(f"{where}: variable {wname!r} of layer {name!r} is listed but missing")
            variables.append((wname, g[wname]))
        layers.append((name, classes.get(name), variables))
    return layers


def _read_keras3(f, config, where, scope=None):
    root = f["layers"] if "layers" in f else None
    if scope is None:  # a Sequential builds its layers inside its own name scope
        scope = [config["config"]["name"]] if (
            isinstance(config, dict) and config.get("class_name") == "Sequential"
            and isinstance(config.get("config"), dict) and config["config"].get("name")) else []
    lcfgs = _config_layers(config)
    if lcfgs is None:  # no config, or a subclassed model: file order
        if root is None:
            return []
        return [_read_group(root[k], None, None, scope, k) for k in sorted(root, key=_natural)]
    used: dict[str, int] = {}
    out = []
    for lcfg in lcfgs:
        if is_operation(lcfg):
            continue  # not in model.layers: Keras saves no group for it
        cls = lcfg.get("class_name")
        key = _unique(snake_case(cls or ""), used)
        cfg = lcfg.get("config") if isinstance(lcfg.get("config"), dict) else None
        name = _layer_name(lcfg) or key
        if cls == "InputLayer" and (root is None or key not in root):
            continue  # a nested Sequential lists its input in the config but saves no group for it
        if root is None or key not in root:
            raise ValueError(f"no weights group {root.name if root is not None else f.name}/{key} for layer {name!r} ({cls})")
        _, _, variables = _read_group(root[key], cls, cfg, scope, key, lcfg)
        out.append((name, cls, variables))
    return out


def _unique(name: str, used: dict[str, int]) -> str:
    """keras.src.saving.saving_lib._get_unique_name."""
    if name in used:
        used[name] += 1
        return f"{name}_{used[name]}"
    used[name] = 0
    return name


def _read_group(g, cls, cfg, scope, key, lcfg=None):
    """One saved layer (and its sub-layers) -> (name, class, [(path, array)])."""
    vars_group = g.get("vars")
    name = None
    if isinstance(vars_group, h5py.Group) and "name" in vars_group.attrs:
        name = _text(vars_group.attrs["name"])
    name = name or (cfg or {}).get("name") or key
    cls = cls or _guess_class(key if key not in ("cell", "layer", "forward_layer", "backward_layer") else name)
    own = []
    if isinstance(vars_group, h5py.Group):
        keys = sorted(vars_group, key=_natural)
        if keys != [str(i) for i in range(len(keys))]:
            raise ValueError(f"{g.name}/vars: unexpected entries {keys}")
        own = [vars_group[k] for k in keys]
    variables = [("/".join([*scope, name, str(i)]), a) for i, a in enumerate(own)]
    for child_key, child_cls, child_cfg, nested_scope in _children(g, cls, cfg, lcfg):
        child = g[child_key]
        if child_cls in _MODELS or (child_cls is None and "vars" not in child and "layers" in child):
            variables += _read_model_group(child, child_cls, child_cfg)
        else:
            _, _, sub = _read_group(child, child_cls, child_cfg, [*scope, name] if nested_scope else scope, child_key)
            variables += sub
    return name, cls, variables


def _read_model_group(g, cls, cfg):
    """A nested model: its layers' variables, in its ``layers`` order (paths not prefixed)."""
    model_cfg = {"class_name": cls, "config": cfg} if cfg else None
    variables = []
    if g.name.endswith("/layers") and g.parent is not None:
        g = g.parent  # handed the model's `layers` container: read from the model's own group
    for _, _, v in _read_keras3(g, model_cfg, g.name):
        variables += v
    return variables


def _sub(lcfg_like):
    if isinstance(lcfg_like, dict):
        c = lcfg_like.get("config")
        return lcfg_like.get("class_name"), (c if isinstance(c, dict) else None)
    return None, None


def _children(g, cls, cfg, lcfg):
    """(group key, class, config, adds a path scope) for each saved sub-layer, in ``layer.weights`` order."""
    present = [k for k in g if k != "vars" and isinstance(g[k], h5py.Group)]
    out, done = [], set()

    def take(key, child_cls, child_cfg, scoped=True):
        if key in present and key not in done:
            out.append((key, child_cls, child_cfg, scoped))
            done.add(key)

    if cls in _MODELS:
        take("layers", cls, cfg, False)
    if "forward_layer" in present or "backward_layer" in present:  # Bidirectional
        fwd_cls, fwd_cfg = _sub((cfg or {}).get("layer"))
        bwd_cls, bwd_cfg = _sub((cfg or {}).get("backward_layer")) if (cfg or {}).get("backward_layer") else (fwd_cls, fwd_cfg)
        take("forward_layer", fwd_cls, fwd_cfg)
        take("backward_layer", bwd_cls, bwd_cfg)
    if "cell" in present:  # RNN layers: the cell's options live in the layer's config
        if cls in _RNN_CELLS:
            take("cell", _RNN_CELLS[cls], cfg)
        else:
            take("cell", *_sub((cfg or {}).get("cell")))
    if "layer" in present:  # wrappers (TimeDistributed, ...)
        take("layer", *_sub((cfg or {}).get("layer")))
    for key in _SUBLAYERS.get(cls, ()):
        take(key, None, None)
    for key in sorted(present, key=_natural):  # anything else: file order, unnamed
        take(key, None, None)
    return out
