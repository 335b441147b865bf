"""The README stays true: generated tables, the two set-up commands, the CI command."""

from __future__ import annotations

from conftest import ROOT
from translator import support_table

README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_support_table_is_generated_from_the_spec():
    start = README.index(support_table.BEGIN)
    end = README.index(support_table.END) + len(support_table.END)
    assert README[start:end] == support_table.render(), "run: python -m translator.support_table"


def test_readme_opens_with_the_install_and_test_commands():
    block = README.split("```bash\n", 1)[1].split("```", 1)[0].splitlines()
    assert block[0].startswith("pip install -e . && tfpt translate fixtures/keras/")
    assert block[1] == 'pip install -e ".[test]" && python -m pytest'


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "grep -m1 -E '^pip install -e \"\\.\\[test\\]\" && python -m pytest' README.md" in ci
    assert 'eval "$test_command"' in ci
