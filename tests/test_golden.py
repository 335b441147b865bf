"""Golden translations: every fixture translates to its checked-in expected file.

Regenerate after an intended change with ``pytest tests/test_golden.py --update-golden``
and review the diff.
"""

from __future__ import annotations

import ast

import pytest

from conftest import EXPECTED, FIXTURE_NAMES, FIXTURES
from translator.translate import translate_source


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_translation_matches_golden(name, update_golden):
    source = (FIXTURES / f"{name}.py").read_text(encoding="utf-8")
    result = translate_source(source, f"{name}.py")
    expected = EXPECTED / f"{name}.py"
    if update_golden:
        expected.write_text(result.code, encoding="utf-8")
    assert expected.exists(), f"no golden file for {name}: run pytest --update-golden"
    assert result.code == expected.read_text(encoding="utf-8")
    assert result.todos == [], [d.render(name) for d in result.todos]


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_translation_is_idempotent(name):
    once = translate_source((FIXTURES / f"{name}.py").read_text(encoding="utf-8")).code
    assert translate_source(once).code == once


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_output_imports_no_framework_and_no_tfpt(name):
    tree = ast.parse((EXPECTED / f"{name}.py").read_text(encoding="utf-8"))
    imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert imported.isdisjoint({"tensorflow", "keras", "tf_keras", "translator", "converters", "tfpt"}), imported
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    assert names.isdisjoint({"tf", "keras"}), names & {"tf", "keras"}
