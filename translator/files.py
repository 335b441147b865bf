"""Reading users' files and writing ours: decode like Python does, never half-write."""

from __future__ import annotations

import os
import sys
import tempfile
import tokenize
from io import BytesIO
from pathlib import Path

from .diagnostics import InputError


def read_source(path: str) -> str:
    """The text of ``path`` (``-``: stdin), honouring PEP 263; InputError when unreadable."""
    try:
        data = sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory (tfpt translate takes one file)") from None
    except OSError as e:
        raise InputError(f"{path}: cannot read: {e.strerror}") from None
    try:
        encoding, _ = tokenize.detect_encoding(BytesIO(data).readline)
        return data.decode(encoding)
    except (SyntaxError, LookupError) as e:
        raise InputError(f"{path}: cannot tell the file's encoding: {e}") from None
    except UnicodeDecodeError as e:
        raise InputError(f"{path}: not valid {e.encoding} (byte 0x{data[e.start]:02x} at offset {e.start})") from None


def write_atomic(path: Path, text: str) -> None:
    """Write through a temporary file and a rename: never a half-written output."""
    path = path.resolve()
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
