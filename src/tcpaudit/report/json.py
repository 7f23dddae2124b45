"""The JSON report: the contract of DESIGN.md, schema from ``tcpaudit schema``."""

from __future__ import annotations

from ..engine.findings import Report

__all__ = ["render"]


def render(report: Report, *, color: bool = False) -> str:
    return report.to_json() + "\n"
