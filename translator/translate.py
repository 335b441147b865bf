"""The pipeline, end to end: parse -> resolve names -> recognise -> emit -> rewrite -> report.

``translate_source`` is pure (text in, text and diagnostics out) and imports neither
TensorFlow nor torch.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field

import libcst as cst
from libcst.metadata import MetadataWrapper

from . import rewrite
from .diagnostics import Diagnostic, InputError
from .ir import ModelIR
from .recognise import Recogniser

#: a cheap text test: files that never mention the frameworks are not parsed
_MENTIONS_FRAMEWORK = re.compile(r"\b(?:tensorflow|keras|tf_keras)\b")


@dataclass
class Result:
    code: str
    diagnostics: list[Diagnostic] = field(default_factory=list)
    translated: int = 0
    models: list[ModelIR] = field(default_factory=list)
    emitted: dict = field(default_factory=dict)
    compiles: dict = field(default_factory=dict)
    helpers: set = field(default_factory=set)
    #: model variable -> its original ``compile(...)`` argument text (what verify rebuilds in Keras)
    keras_compiles: dict = field(default_factory=dict)

    @property
    def todos(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "todo"]


def parse(source: str, path: str = "<stdin>") -> cst.Module:
    """Parse or raise InputError with the position of the syntax error."""
    try:
        return cst.parse_module(source)
    except cst.ParserSyntaxError as e:
        # Python's own parser words the error best and points at the right column
        try:
            compile(source, path, "exec", flags=ast.PyCF_ONLY_AST, dont_inherit=True)
        except SyntaxError as py:
            raise InputError(f"{path}:{py.lineno}:{py.offset}: syntax error: {py.msg}") from None
        message = str(e.message).splitlines()[0] if e.message else "invalid syntax"
        raise InputError(f"{path}:{e.raw_line}:{e.raw_column + 1}: syntax error: {message}") from None


def translate_source(source: str, path: str = "<stdin>") -> Result:
    """Translate Keras code in ``source`` to PyTorch; code without Keras comes back unchanged."""
    if not _MENTIONS_FRAMEWORK.search(source):
        parse(source, path)  # still report a syntax error: the user asked about this file
        return Result(source)
    module = parse(source, path)
    wrapper = MetadataWrapper(module, unsafe_skip_copy=True)
    plan = Recogniser(wrapper).run()
    if not (plan.replace_stmt or plan.replace_call or plan.todos or plan.insert_before):
        return Result(source, sorted(plan.diagnostics))
    code = rewrite.apply(wrapper.module, plan)
    return Result(code, sorted(plan.diagnostics), plan.translated, plan.models, plan.emitted,
                  plan.compiles, plan.helpers, plan.keras_compiles)
