"""Report renderers: one module per output format, each ``render(report) -> str``.

``FORMATS`` maps the ``--format`` names of ``tcpaudit audit`` to them. SARIF and
JUnit also take ``rules=`` (the catalogue the report was made with), since they
describe every rule, not only those with findings.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from ..engine.findings import Report
from . import github, json, junit, markdown, sarif, table

__all__ = ["FORMATS", "Renderer"]


class Renderer(Protocol):
    def __call__(self, report: Report, *, color: bool = False) -> str: ...


FORMATS: dict[str, Callable[..., str]] = {
    "table": table.render,
    "json": json.render,
    "sarif": sarif.render,
    "junit": junit.render,
    "markdown": markdown.render,
    "github": github.render,
}
