"""The ``tfpt`` command line.

Exit codes: 0 success; 1 when ``--strict`` finds TODOs, ``--check`` finds a change,
or ``verify`` finds a difference; 2 for bad input (nothing is written then).
"""

from __future__ import annotations

import argparse
import difflib
import sys
from pathlib import Path

from .diagnostics import InputError
from .files import read_source, write_atomic

EXIT_OK, EXIT_FINDINGS, EXIT_BAD_INPUT = 0, 1, 2


def _translate(args) -> int:
    from .translate import translate_source

    source = read_source(args.file)
    shown = "<stdin>" if args.file == "-" else args.file
    if args.output and args.output != "-" and args.file != "-":
        if Path(args.output).resolve() == Path(args.file).resolve() and not args.in_place:
            raise InputError(f"{args.output}: is the input file; pass --in-place to overwrite it")
    if args.in_place and args.file == "-":
        raise InputError("--in-place needs a file, not stdin")
    result = translate_source(source, shown)
    for d in result.diagnostics:
        print(d.render(shown) + ("" if d.severity == "todo" else " (note)"), file=sys.stderr)
    changed = result.code != source
    todos = len(result.todos)
    if args.check:
        status = "would change" if changed else "unchanged"
        print(f"tfpt: {shown}: {status}; {result.translated} constructs translated, {todos} TODO(s)", file=sys.stderr)
        return EXIT_FINDINGS if changed else EXIT_OK
    if args.diff:
        sys.stdout.writelines(difflib.unified_diff(
            source.splitlines(keepends=True), result.code.splitlines(keepends=True),
            fromfile=shown, tofile=args.output or shown))
    elif args.in_place:
        if changed:
            write_atomic(Path(args.file), result.code)
    elif args.output and args.output != "-":
        write_atomic(Path(args.output), result.code)
    else:
        sys.stdout.write(result.code)
        sys.stdout.flush()
    print(f"tfpt: {shown}: {result.translated} constructs translated, {todos} TODO(s)", file=sys.stderr)
    if args.strict and todos:
        return EXIT_FINDINGS
    return EXIT_OK


def _verify(args) -> int:
    from converters.verify import verify_file

    return verify_file(args.file, train_steps=args.train_steps)


def _shape(text: str | None) -> tuple[int, ...] | None:
    if text is None:
        return None
    try:
        shape = tuple(int(d) for d in text.replace("x", ",").split(",") if d.strip())
    except ValueError:
        raise InputError(f"--input-shape {text}: expected integers such as 1,3,32,32") from None
    if not shape or min(shape) < 1:
        raise InputError(f"--input-shape {text}: expected positive integers such as 1,3,32,32")
    return shape


def _convert(args) -> int:
    from converters.convert import ConvertError, Options, convert

    opts = Options(src=args.src, out=args.output, module=args.module, keras=args.keras, explain=args.explain,
                   force=args.force, verify=not args.no_verify, atol=args.atol, rtol=args.rtol,
                   trust=args.trust, trust_pickle=args.trust_pickle, keep_onnx=args.keep_onnx,
                   input_shape=_shape(args.input_shape), flatten=args.flatten)
    try:
        return convert(opts)
    except ConvertError as e:
        raise InputError(str(e)) from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tfpt", description="Move Keras code and weights to PyTorch.")
    sub = parser.add_subparsers(dest="command", required=True)

    t = sub.add_parser("translate", help="rewrite a Keras script as PyTorch")
    t.add_argument("file", help="the Keras script; - reads stdin")
    t.add_argument("-o", "--output", help="where to write the translation (default: stdout); - is stdout")
    mode = t.add_mutually_exclusive_group()
    mode.add_argument("--diff", action="store_true", help="print a unified diff instead of the translation")
    mode.add_argument("--check", action="store_true", help="write nothing; exit 1 if the file would change")
    mode.add_argument("--in-place", action="store_true", help="overwrite FILE with its translation")
    t.add_argument("--strict", action="store_true", help="exit 1 when anything is left as TODO(tfpt)")
    t.set_defaults(run=_translate)

    v = sub.add_parser("verify", help="prove a translation: same weights, same inputs, same outputs")
    v.add_argument("file", help="the Keras script")
    v.add_argument("--train-steps", type=int, default=0, metavar="N",
                   help="also run N optimizer steps on both sides and compare the losses")
    v.set_defaults(run=_verify)

    c = sub.add_parser("convert", help="move trained weights between Keras files and torch state dicts",
                       description="Keras (.keras, .h5, .weights.h5) -> torch (.safetensors, .pt; .pt2/.onnx through "
                                   "ONNX) and torch state dicts -> Keras (.weights.h5, .keras). Verified by default.")
    c.add_argument("src", help="the checkpoint to convert")
    c.add_argument("-o", "--output", help="where to write; the suffix picks the format (default: beside SRC, "
                                          ".safetensors from Keras, .weights.h5 from torch)")
    c.add_argument("--module", metavar="FILE.py:CLASS",
                   help="the torch module the weights are for (default: the module `tfpt translate` emits)")
    c.add_argument("--keras", metavar="FILE",
                   help="the Keras architecture: its source (model.py, or model.py:NAME) or a saved .keras/.h5")
    c.add_argument("--explain", action="store_true", help="print the variable -> parameter mapping table")
    c.add_argument("--force", action="store_true", help="overwrite an existing output")
    c.add_argument("--no-verify", action="store_true", help="skip running both sides on the same inputs")
    c.add_argument("--atol", type=float, default=1e-5, help="verification: absolute tolerance (default 1e-5)")
    c.add_argument("--rtol", type=float, default=0.0, help="verification: relative tolerance (default 0)")
    c.add_argument("--trust", action="store_true",
                   help="allow Lambda layers and custom objects in Keras files (they run stored code)")
    c.add_argument("--trust-pickle", action="store_true",
                   help="allow .pt files that need full unpickling (runs code from the file)")
    c.add_argument("--keep-onnx", metavar="FILE.onnx", help="ONNX route: also keep the intermediate ONNX model")
    c.add_argument("--input-shape", metavar="N,D,...",
                   help="torch -> ONNX: the example input's shape, batch first (the batch axis stays free)")
    c.add_argument("--flatten", choices=("channels-last", "channels-first"), default="channels-last",
                   help="how --module flattens convolution features before a Linear: channels-last (tfpt's "
                        "translation permutes back first; default) or channels-first (x.flatten(1) on NCHW)")
    c.set_defaults(run=_convert)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except InputError as e:
        print(f"tfpt: error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except BrokenPipeError:
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
