"""The worker side of ``spawn``: parse the arguments, run the job, write the answer file."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Callable

from .errors import WorkerError


def serve(parser: argparse.ArgumentParser, job: Callable[[argparse.Namespace], dict],
          where: Callable[[argparse.Namespace], str]) -> None:
    """Run ``job`` on the parsed arguments; any failure becomes ``{"ok": false, "error": ...}``.

    ``where(args)`` names the input file, the start of every error message.
    """
    parser.add_argument("--result", required=True)
    args = parser.parse_args()
    try:
        answer = {"ok": True, **job(args)}
    except WorkerError as e:
        answer = {"ok": False, "error": str(e)}
    except Exception as e:  # noqa: BLE001 - the user gets one line, not a traceback
        answer = {"ok": False, "error": f"{where(args)}: {one_line(e)}"}
    with open(args.result, "w", encoding="utf-8") as f:
        json.dump(answer, f)
    sys.exit(0 if answer["ok"] else 1)


def one_line(e: BaseException) -> str:
    """``Type: first line of the message``, for errors from libraries that write essays."""
    lines = [line.strip() for line in str(e).splitlines() if line.strip()]
    return f"{type(e).__name__}: {lines[0]}" if lines else type(e).__name__
