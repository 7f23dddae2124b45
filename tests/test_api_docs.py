"""docs/api.md is the library reference: current with the docstrings, and its examples run."""

from __future__ import annotations

import importlib.util
import inspect
import os
from pathlib import Path
from types import ModuleType

import pytest

import tcpaudit

REPO = Path(__file__).resolve().parents[1]


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("generate_api", REPO / "docs" / "generate_api.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


GENERATOR = _generator()


def test_api_md_is_generated_from_the_current_docstrings() -> None:
    assert GENERATOR.main(["--check"]) == 0, "run: python docs/generate_api.py"


def test_every_public_name_is_on_the_page_with_its_own_docstring() -> None:
    page = (REPO / "docs" / "api.md").read_text(encoding="utf-8")
    for name in tcpaudit.__all__:
        if name.startswith("__"):
            continue
        assert f"### `{name}`" in page, name
        assert GENERATOR.own_docstring(getattr(tcpaudit, name)), name


def _run(code: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)  # the examples name examples/... as a newcomer's clone has them
    exec(compile(code, "<example>", "exec"), {"tcpaudit": tcpaudit, "os": os})


def test_the_introduction_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    intro = GENERATOR.INTRO.split("```python\n")[1].split("```")[0]
    _run(intro, monkeypatch)


@pytest.mark.parametrize("name", sorted(GENERATOR.examples()))
def test_each_example_runs(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    _run(GENERATOR.examples()[name], monkeypatch)


def test_every_public_function_has_an_example() -> None:
    functions = [
        name
        for name in tcpaudit.__all__
        if not name.startswith("__") and inspect.isfunction(getattr(tcpaudit, name))
    ]
    assert functions, "the library exports entry points"
    missing = sorted(set(functions) - set(GENERATOR.examples()))
    assert not missing, f"entry points without an Example in their docstring: {missing}"
