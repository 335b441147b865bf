"""torch state dicts on disk: ``.safetensors`` (default) and ``.pt``, read and written safely.

safetensors is read and written here with numpy alone (the format is an 8-byte
header length, a JSON header with dtype/shape/offsets, then raw little-endian
bytes), so converting to or from it needs no torch and no ``safetensors`` package,
and writing streams: the header is computed from the planned shapes, then one tensor
at a time is produced, written and dropped. The files load with
``safetensors.torch.load_file``.

``.pt`` needs torch: it is loaded with ``torch.load(weights_only=True)`` (no arbitrary
unpickling) unless the caller trusts the file; a file that needs full unpickling is
refused with a message that says so.
"""

from __future__ import annotations

import json
import os
import re
import struct
from dataclasses import dataclass
from typing import Callable, Iterable

import numpy as np

#: safetensors dtype tag <-> numpy dtype (bfloat16 is widened to float32 on reading: exact)
_TAGS = {
    "F64": np.float64, "F32": np.float32, "F16": np.float16,
    "I64": np.int64, "I32": np.int32, "I16": np.int16, "I8": np.int8,
    "U8": np.uint8, "U16": np.uint16, "U32": np.uint32, "U64": np.uint64, "BOOL": np.bool_,
}
_TAG_OF = {np.dtype(v): k for k, v in _TAGS.items()}
MAX_HEADER = 100 << 20
TORCH_SUFFIXES = (".safetensors", ".pt", ".pth", ".bin")


class StateFileError(ValueError):
    """A state-dict file that cannot (or must not) be read; the message names the file."""


@dataclass
class PlannedTensor:
    """One output tensor: its name, shape and dtype up front, its data when asked."""

    name: str
    shape: tuple[int, ...]
    dtype: np.dtype
    produce: Callable[[], np.ndarray]


# --------------------------------------------------------------------------- safetensors


def write_safetensors(fh, tensors: Iterable[PlannedTensor], metadata: dict[str, str] | None = None) -> int:
    """Stream ``tensors`` into the open binary file ``fh``; returns the bytes written.

    Each produced array must have its planned shape and dtype (ValueError otherwise),
    so the header written first is always true.
    """
    tensors = list(tensors)
    header: dict = {}
    offset = 0
    for t in tensors:
        dtype = np.dtype(t.dtype)
        if dtype not in _TAG_OF:
            raise ValueError(f"{t.name}: dtype {dtype} has no safetensors tag")
        size = int(np.prod(t.shape, dtype=np.int64)) * dtype.itemsize
        header[t.name] = {"dtype": _TAG_OF[dtype], "shape": list(t.shape), "data_offsets": [offset, offset + size]}
        offset += size
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    raw = json.dumps(header, separators=(",", ":")).encode("utf8")
    raw += b" " * (-len(raw) % 8)  # the reference writer aligns the data to 8 bytes
    fh.write(struct.pack("<Q", len(raw)))
    fh.write(raw)

    def produced():
        for t in tensors:
            a = t.produce()
            if tuple(a.shape) != tuple(t.shape) or a.dtype != np.dtype(t.dtype):
                raise ValueError(f"{t.name}: produced {a.dtype}{tuple(a.shape)}, planned {np.dtype(t.dtype)}{tuple(t.shape)}")
            a = np.asarray(a, order="C")
            if a.dtype.byteorder == ">":
                a = a.astype(a.dtype.newbyteorder("<"))
            yield a

    _write_behind(fh, produced())
    return 8 + len(raw) + offset


def _write_behind(fh, arrays) -> None:
    """Write each array while the next is produced (one in flight: memory stays ~2 tensors)."""
    import queue
    import threading

    slot: queue.Queue = queue.Queue(maxsize=1)
    failure: list[BaseException] = []

    def writer():
        while (a := slot.get()) is not None:
            try:
                if not failure and a.size:
                    fh.write(memoryview(a.reshape(-1)).cast("B"))
            except BaseException as e:  # reported by the producing thread
                failure.append(e)

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    try:
        for a in arrays:
            if failure:
                break
            slot.put(a)
            del a
    finally:
        slot.put(None)
        thread.join()
    if failure:
        raise failure[0]


def read_safetensors_header(path) -> tuple[dict, int]:
    """(header without ``__metadata__``, data start); validated against the file size."""
    path = os.fspath(path)
    where = os.path.basename(path)
    size = os.path.getsize(path)
    with open(path, "rb") as fh:
        head = fh.read(8)
        if len(head) < 8:
            raise StateFileError(f"{where}: truncated safetensors file (no header)")
        (n,) = struct.unpack("<Q", head)
        if n > MAX_HEADER or 8 + n > size:
            raise StateFileError(f"{where}: corrupt safetensors header (declares {n} bytes; the file has {size})")
        try:
            header = json.loads(fh.read(n))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise StateFileError(f"{where}: corrupt safetensors header ({e})") from None
    if not isinstance(header, dict):
        raise StateFileError(f"{where}: corrupt safetensors header (not a JSON object)")
    header.pop("__metadata__", None)
    data_size = size - 8 - n
    for name, info in header.items():
        try:
            tag, shape, (begin, end) = info["dtype"], info["shape"], info["data_offsets"]
        except (TypeError, KeyError, ValueError):
            raise StateFileError(f"{where}: tensor {name!r} has a malformed header entry") from None
        if tag not in _TAGS and tag != "BF16":
            raise StateFileError(f"{where}: tensor {name!r} has dtype {tag}, which tfpt does not read")
        itemsize = 2 if tag == "BF16" else np.dtype(_TAGS[tag]).itemsize
        if not (isinstance(shape, list) and all(isinstance(d, int) and d >= 0 for d in shape)):
            raise StateFileError(f"{where}: tensor {name!r} has a malformed shape {shape!r}")
        if not (0 <= begin <= end <= data_size) or end - begin != int(np.prod(shape, dtype=np.int64)) * itemsize:
            raise StateFileError(f"{where}: tensor {name!r} lies outside the file or disagrees with its shape "
                                 "(corrupt or truncated)")
    return header, 8 + n


def read_safetensors(path) -> dict[str, np.ndarray]:
    """Every tensor as a numpy array (memory-mapped, read-only; bfloat16 widened to float32)."""
    header, start = read_safetensors_header(path)
    out: dict[str, np.ndarray] = {}
    if not header:
        return out
    data = np.memmap(path, dtype=np.uint8, mode="r", offset=start)
    for name, info in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"][0]):
        begin, end = info["data_offsets"]
        chunk = data[begin:end]
        if info["dtype"] == "BF16":
            bits = chunk.view("<u2").astype(np.uint32) << 16
            out[name] = bits.view(np.float32).reshape(info["shape"])
        else:
            out[name] = chunk.view(np.dtype(_TAGS[info["dtype"]]).newbyteorder("<")).reshape(info["shape"])
    return out


# --------------------------------------------------------------------------- .pt


_STATE_KEYS = ("state_dict", "model_state_dict", "model", "net", "module")


def read_pt(path, *, trust_pickle: bool = False) -> tuple[dict[str, np.ndarray], str]:
    """A ``.pt``/``.pth`` state dict as numpy arrays, and a note on where in the file it was.

    ``weights_only=True`` unless ``trust_pickle``: a file that needs arbitrary unpickling
    (a whole pickled ``nn.Module``, custom classes) is refused.
    """
    import pickle

    import torch

    path = os.fspath(path)
    where = os.path.basename(path)
    try:
        obj = torch.load(path, map_location="cpu", weights_only=not trust_pickle)
    except pickle.UnpicklingError as e:
        found = re.search(r"Unsupported global: GLOBAL ([\w.]+)", str(e))
        why = f"it stores {found.group(1)}, which only full unpickling can build" if found else "it needs full unpickling"
        raise StateFileError(f"{where}: refusing to unpickle this file ({why}); "
                             "if you trust where it came from, pass --trust-pickle") from None
    except (RuntimeError, EOFError, OSError, ValueError, AttributeError, ImportError) as e:
        msg = " ".join(str(e).split())[:200] or type(e).__name__
        raise StateFileError(f"{where}: not a readable torch file ({type(e).__name__}: {msg})") from None
    note = ""
    if isinstance(obj, torch.nn.Module):
        obj, note = obj.state_dict(), "the pickled module's state_dict()"
    if isinstance(obj, dict) and not _is_state(obj):
        for key in _STATE_KEYS:
            if isinstance(obj.get(key), dict) and _is_state(obj[key]):
                obj, note = obj[key], f"the checkpoint's {key!r} entry"
                break
    if not isinstance(obj, dict) or not _is_state(obj):
        keys = list(obj)[:8] if isinstance(obj, dict) else type(obj).__name__
        raise StateFileError(f"{where}: no state dict of tensors in this file (found {keys})")
    out = {}
    for k, v in obj.items():
        t = v.detach().cpu()
        if t.dtype == torch.bfloat16:
            t = t.float()
        out[k] = t.numpy()
    return out, note


def _is_state(d: dict) -> bool:
    import torch

    return bool(d) and all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in d.items())


def write_pt(fh, tensors: Iterable[PlannedTensor]) -> None:
    """A ``.pt`` state dict (torch's zip format, loadable with ``weights_only=True``)."""
    import torch

    state = {}
    for t in tensors:
        a = np.asarray(t.produce(), order="C")
        state[t.name] = torch.from_numpy(a.copy() if not a.flags.writeable else a)
    torch.save(state, fh)


def read_state_file(path, *, trust_pickle: bool = False) -> tuple[dict[str, np.ndarray], str]:
    """A state dict from ``.safetensors`` or ``.pt``/``.pth``/``.bin``; (arrays, note)."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise StateFileError(f"{path}: no such file")
    with open(path, "rb") as fh:
        head = fh.read(8)
    if path.endswith(".safetensors") or (len(head) == 8 and head[:2] != b"PK" and head[:1] != b"\x80"
                                         and struct.unpack("<Q", head)[0] < MAX_HEADER):
        return read_safetensors(path), ""
    return read_pt(path, trust_pickle=trust_pickle)
