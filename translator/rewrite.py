"""Rewrite stage: apply a Plan to the CST, then settle imports and runtime helpers.

Everything the plan does not name is left exactly as written (LibCST keeps comments
and formatting), which is what makes untouched code survive byte for byte.
"""

from __future__ import annotations

import io
import re
import tokenize

import libcst as cst

from . import names
from .recognise import Plan
from .runtime import select

#: names the emitted code may use -> the import that binds them, in output order
TORCH_IMPORTS = {
    "math": "import math",
    "types": "import types",
    "np": "import numpy as np",
    "torch": "import torch",
    "nn": "from torch import nn",
    "F": "import torch.nn.functional as F",
}

_TWO_BLANKS = [cst.EmptyLine(), cst.EmptyLine()]


class Blocks:
    """Whole top-level blocks (classes, helpers) spliced in as text after codegen.

    Parsing them into the tree only to print them again would cost as much as the
    rest of the translation; a one-line placeholder statement marks where each goes.
    """

    def __init__(self):
        self.texts: list[str] = []

    def placeholder(self, text: str, leading_lines=()) -> cst.SimpleStatementLine:
        marker = f"__tfpt_block_{len(self.texts)}__"
        self.texts.append(text.rstrip("\n") + "\n")
        return cst.SimpleStatementLine([cst.Expr(cst.Name(marker))], leading_lines=list(leading_lines))

    def splice(self, code: str, newline: str = "\n") -> str:
        for i, text in enumerate(self.texts):
            code = code.replace(f"__tfpt_block_{i}__{newline}", text.replace("\n", newline), 1)
        return code


class ApplyPlan(cst.CSTTransformer):
    def __init__(self, plan: Plan, blocks: Blocks):
        self.plan = plan
        self.blocks = blocks

    def on_visit(self, node):
        # only the paths that lead to an edit: the rest of the tree is reused as is
        return isinstance(node, cst.Module) or id(node) in self.plan.edit_paths

    def leave_Call(self, original, updated):
        fn = self.plan.replace_call.get(id(original))
        return fn(updated) if fn else updated

    def _todo_lines(self, original, node):
        reasons = self.plan.todos.get(id(original))
        if not reasons:
            return node
        todo = [cst.EmptyLine(comment=cst.Comment(f"# TODO(tfpt): {r}")) for r in dict.fromkeys(reasons)]
        return node.with_changes(leading_lines=[*node.leading_lines, *todo])

    def _with_inserts(self, original, result):
        blocks = self.plan.insert_before.get(id(original))
        if not blocks:
            return result
        inserted = [self.blocks.placeholder(source, _TWO_BLANKS) for source in blocks]
        if isinstance(result, cst.RemovalSentinel):
            rest = []
        elif isinstance(result, cst.FlattenSentinel):
            rest = list(result.nodes)
        else:
            rest = [result]
        if rest:
            # the classes take the statement's leading comments with them: they described it
            first = rest[0]
            lead = list(first.leading_lines)
            while lead and lead[0].comment is None:
                lead.pop(0)
            rest[0] = first.with_changes(leading_lines=[*_TWO_BLANKS, *lead])
        return cst.FlattenSentinel([*inserted, *rest])

    def leave_SimpleStatementLine(self, original, updated):
        lines = self.plan.replace_stmt.get(id(original))
        if lines is None:
            return self._with_inserts(original, self._todo_lines(original, updated))
        if not lines:
            return self._with_inserts(original, cst.RemovalSentinel.REMOVE)
        stmts = []
        comments = []
        for line in lines:
            if line.startswith("#"):
                comments.append(cst.EmptyLine(comment=cst.Comment(line)))
                continue
            parsed = cst.parse_statement(line)  # blank lines it starts with are kept
            stmts.append(parsed.with_changes(leading_lines=[*comments, *parsed.leading_lines]))
            comments = []
        stmts[0] = stmts[0].with_changes(leading_lines=[*updated.leading_lines, *stmts[0].leading_lines])
        stmts[0] = self._todo_lines(original, stmts[0])
        return self._with_inserts(original, cst.FlattenSentinel(stmts))

    def on_leave(self, original, updated):
        result = super().on_leave(original, updated)
        if isinstance(original, cst.BaseCompoundStatement):
            if self.plan.replace_stmt.get(id(original)) == []:
                return self._with_inserts(original, cst.RemovalSentinel.REMOVE)
            if id(original) in self.plan.unwrap:
                return self._with_inserts(original, _unwrapped(original, result))
            return self._with_inserts(original, self._todo_lines(original, result))
        return result

    def leave_Decorator(self, original, updated):
        # a decorator the plan replaces by nothing (``@tf.function``) goes
        return cst.RemovalSentinel.REMOVE if self.plan.replace_stmt.get(id(original)) == [] else updated

    def leave_IndentedBlock(self, original, updated):
        if not updated.body:
            return updated.with_changes(body=[cst.SimpleStatementLine([cst.Pass()])])
        return updated


def _unwrapped(original, updated):
    """A compound statement's body in its place (its leading comments go to the first statement)."""
    body = list(updated.body.body)
    if len(body) == 1 and isinstance(body[0], cst.SimpleStatementLine) and isinstance(body[0].body[0], cst.Pass) \
            and not any(isinstance(s, cst.SimpleStatementLine) and isinstance(s.body[0], cst.Pass)
                        for s in original.body.body):
        return cst.RemovalSentinel.REMOVE  # everything in it was removed
    body[0] = body[0].with_changes(leading_lines=[*updated.leading_lines, *body[0].leading_lines])
    return cst.FlattenSentinel(body)


# --------------------------------------------------------------------------- imports


class _Usage(cst.CSTVisitor):
    """Names read anywhere outside import statements, and names bound anywhere."""

    def __init__(self):
        self.used: set[str] = set()
        self.bound: set[str] = set()

    def visit_Import(self, node):
        for a in node.names:
            self.bound.add(a.evaluated_alias or a.evaluated_name.split(".")[0])
        return False

    def visit_ImportFrom(self, node):
        if not isinstance(node.names, cst.ImportStar):
            for a in node.names:
                self.bound.add(a.evaluated_alias or a.evaluated_name)
        return False

    def visit_Name(self, node):
        self.used.add(node.value)

    def visit_Attribute(self, node):
        node.value.visit(self)
        return False

    def visit_FunctionDef(self, node):
        self.bound.add(node.name.value)

    def visit_ClassDef(self, node):
        self.bound.add(node.name.value)


def _bound_names(module: cst.Module) -> set[str]:
    usage = _Usage()
    for stmt in module.body:
        if _is_import(stmt):
            stmt.visit(usage)
        elif isinstance(stmt, (cst.FunctionDef, cst.ClassDef)):
            usage.bound.add(stmt.name.value)
    return usage.bound


class _DropFrameworkImports(cst.CSTTransformer):
    """Removes TensorFlow/Keras import aliases nothing uses any more."""

    def __init__(self, used: set[str], star_modules_used: set[str]):
        self.used = used
        self.star_modules_used = star_modules_used
        self.removed_comments: list[cst.EmptyLine] = []

    def visit_SimpleStatementLine(self, node):
        # imports are statements of their own: no need to walk into expressions
        return any(isinstance(s, (cst.Import, cst.ImportFrom)) for s in node.body)

    def visit_ClassDef(self, node):
        return True

    def leave_Import(self, original, updated):
        keep = [a for a in updated.names
                if not names.is_framework_module(a.evaluated_name)
                or (a.evaluated_alias or a.evaluated_name.split(".")[0]) in self.used]
        return _with_aliases(updated, keep)

    def leave_ImportFrom(self, original, updated):
        if updated.module is None or updated.relative:
            return updated
        module = cst.Module([]).code_for_node(updated.module)
        if not names.is_framework_module(module):
            return updated
        if isinstance(updated.names, cst.ImportStar):
            return updated if module in self.star_modules_used else cst.RemovalSentinel.REMOVE
        keep = [a for a in updated.names if (a.evaluated_alias or a.evaluated_name) in self.used]
        return _with_aliases(updated, keep)

    def leave_SimpleStatementLine(self, original, updated):
        if not updated.body:
            if not self.removed_comments and any(l.comment for l in original.leading_lines):
                self.removed_comments = list(original.leading_lines)
            return cst.RemovalSentinel.REMOVE
        return updated


def _with_aliases(node, keep):
    if not keep:
        return cst.RemovalSentinel.REMOVE
    if len(keep) != len(node.names):
        keep = [a.with_changes(comma=cst.MaybeSentinel.DEFAULT) for a in keep]
        if isinstance(node, cst.ImportFrom):
            return node.with_changes(names=keep, lpar=None, rpar=None)
        return node.with_changes(names=keep)
    return node


def _is_framework_import(stmt) -> bool:
    if not isinstance(stmt, cst.SimpleStatementLine):
        return False
    for small in stmt.body:
        if isinstance(small, cst.Import) and any(names.is_framework_module(a.evaluated_name) for a in small.names):
            return True
        if isinstance(small, cst.ImportFrom) and small.module is not None and not small.relative:
            if names.is_framework_module(cst.Module([]).code_for_node(small.module)):
                return True
    return False


def _is_import(stmt) -> bool:
    return isinstance(stmt, cst.SimpleStatementLine) and all(
        isinstance(s, (cst.Import, cst.ImportFrom)) for s in stmt.body)


def settle_imports(module: cst.Module, helpers: set[str], surviving: set[str], new_names: set[str],
                   blocks: Blocks, star_modules_used: frozenset[str] = frozenset()) -> cst.Module:
    """Drop unused framework imports; add torch imports and the runtime helpers.

    ``surviving``: names the untouched code reads; ``new_names``: names the emitted
    code reads. Together they decide which imports stay and which are added.
    """
    helper_source = select.helpers_source(helpers)[0] if helpers else ""
    helper_names = select.names_used(helpers) if helpers else set()

    # where the framework imports were: the new imports go there
    anchor = next((i for i, s in enumerate(module.body) if _is_framework_import(s)), None)
    # a helper named like the Keras function it replaces (to_categorical) defines that name:
    # the emitted code reading it is no reason to keep the TensorFlow import
    defined = set(select.closure(helpers)) if helpers else set()
    used = set(surviving) | ((helper_names | new_names) - defined)
    dropper = _DropFrameworkImports(used, star_modules_used)
    module = module.visit(dropper)
    bound_after = _bound_names(module)
    needed = [imp for name, imp in TORCH_IMPORTS.items() if name in used and name not in bound_after]

    body = list(module.body)
    if anchor is None or anchor > len(body):
        anchor = _after_leading_imports(body)
    else:
        # the statement at `anchor` may have been removed: count kept statements before it
        anchor = min(anchor, len(body))
        while anchor > 0 and not _is_import(body[anchor - 1]) and anchor > _after_leading_imports(body):
            anchor -= 1
    stdlib = [cst.parse_statement(i) for i in needed if i in _STDLIB_IMPORTS]
    new_imports = [cst.parse_statement(i) for i in needed if i not in _STDLIB_IMPORTS]
    # helpers go after the run of imports that holds the new ones
    end = anchor
    while end < len(body) and _is_import(body[end]):
        end += 1
    helper_stmts = []
    if helper_source:
        header = cst.EmptyLine(comment=cst.Comment("# Keras training utilities, translated by tfpt (plain PyTorch)."))
        helper_stmts = [blocks.placeholder(helper_source, [*_TWO_BLANKS, header])]
        if end < len(body):
            nxt = body[end]
            if sum(1 for l in nxt.leading_lines if l.comment is None) < 2:
                lines = list(nxt.leading_lines)
                while lines and lines[0].comment is None:
                    lines.pop(0)  # two blank lines after the helpers, not three
                body[end] = nxt.with_changes(leading_lines=[*_TWO_BLANKS, *lines])
    if dropper.removed_comments:
        # comments above a removed TensorFlow import stay where they were
        if new_imports:
            new_imports[0] = new_imports[0].with_changes(leading_lines=dropper.removed_comments)
        elif anchor < len(body):
            body[anchor] = body[anchor].with_changes(
                leading_lines=[*dropper.removed_comments, *body[anchor].leading_lines])
    body = body[:anchor] + new_imports + body[anchor:end] + helper_stmts + body[end:]
    if stdlib:
        top = _after_docstring(body)
        if top < len(body) and top == 0 and body[0].leading_lines:
            stdlib[0] = stdlib[0].with_changes(leading_lines=body[0].leading_lines)
            body[0] = body[0].with_changes(leading_lines=[])
        body = body[:top] + stdlib + body[top:]
    return module.with_changes(body=body)


_STDLIB_IMPORTS = ("import math", "import types")


def _after_docstring(body) -> int:
    i = 0
    if body and isinstance(body[0], cst.SimpleStatementLine) and isinstance(body[0].body[0], cst.Expr) \
            and isinstance(body[0].body[0].value, (cst.SimpleString, cst.ConcatenatedString)):
        i = 1
    while i < len(body) and _is_import(body[i]) and any(
            isinstance(s, cst.ImportFrom) and s.module is not None and cst.Module([]).code_for_node(s.module) == "__future__"
            for s in body[i].body):
        i += 1
    return i


def _after_leading_imports(body) -> int:
    i = 0
    # skip a module docstring and __future__ imports
    if body and isinstance(body[0], cst.SimpleStatementLine) and isinstance(body[0].body[0], cst.Expr) \
            and isinstance(body[0].body[0].value, (cst.SimpleString, cst.ConcatenatedString)):
        i = 1
    last_import = None
    for j in range(i, len(body)):
        if _is_import(body[j]):
            last_import = j
        else:
            break
    return i if last_import is None else last_import + 1


_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _names_in_new_code(plan: Plan, module: cst.Module) -> set[str]:
    """Identifiers in everything the plan writes (classes, statements, replaced calls)."""
    texts = [src for blocks in plan.insert_before.values() for src in blocks]
    texts += [line for lines in plan.replace_stmt.values() for line in lines]
    texts += plan.call_texts
    names = set()
    for t in texts:
        names.update(_identifiers(t))
    return names


def _identifiers(text: str) -> set[str]:
    """Names ``text`` reads: NAME tokens, not in strings or comments, not attributes (``nn.Dropout``)."""
    try:
        out, prev = set(), None
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if tok.type == tokenize.NAME and not (prev is not None and prev.type == tokenize.OP and prev.string == "."):
                out.add(tok.string)
            if tok.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.COMMENT, tokenize.INDENT, tokenize.DEDENT):
                prev = tok
        return out
    except (tokenize.TokenError, SyntaxError):
        return set(_IDENTIFIER.findall(text))


def apply(module: cst.Module, plan: Plan) -> str:
    """The translated source: plan applied, imports and helpers settled."""
    blocks = Blocks()
    module = module.visit(ApplyPlan(plan, blocks))
    module = settle_imports(module, plan.helpers, plan.surviving_names, _names_in_new_code(plan, module), blocks,
                            plan.star_modules_used)
    return blocks.splice(module.code, module.default_newline)
