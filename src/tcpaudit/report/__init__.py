"""Report renderers: one module per output format, each ``render(report) -> str``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from ..engine.findings import Report
from . import json, table

__all__ = ["FORMATS", "Renderer"]


class Renderer(Protocol):
    def __call__(self, report: Report, *, color: bool = False) -> str: ...


FORMATS: dict[str, Callable[..., str]] = {
    "table": table.render,
    "json": json.render,
}
