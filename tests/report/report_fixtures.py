"""Helpers the output-format tests share: example reports with a pinned tool
version, and a finding whose text carries every character a format must escape."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import tcpaudit
from tcpaudit.engine import AuditConfig, Finding, Report, Severity, audit
from tcpaudit.engine.findings import ToolInfo
from tcpaudit.provenance import Location

__all__ = [
    "DATA",
    "EXAMPLES",
    "GOLDEN",
    "PINNED_TOOL",
    "SUPPRESSION_REASON",
    "TODAY",
    "example_report",
    "hostile_finding",
]

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
DATA = REPO / "tests" / "data"
GOLDEN = Path(__file__).resolve().parent / "golden"
# Golden files must not change with each release.
PINNED_TOOL = ToolInfo(version="0.0.0+golden")
TODAY = dt.date(2026, 1, 1)
SUPPRESSION_REASON = "legacy vhost: keep-alive clients, removed in Q3 <ticket #42> & more"


def example_report(name: str, config: AuditConfig | None = None) -> Report:
    facts = tcpaudit.gather(root=EXAMPLES / name)
    report = audit(facts, config or AuditConfig(), today=TODAY)
    return report.model_copy(update={"tool": PINNED_TOOL})


def hostile_finding(**changes: object) -> Finding:
    """A finding whose text holds markup, separators and control characters."""
    fields: dict[str, object] = {
        "rule": "TA101",
        "severity": Severity.MEDIUM,
        "title": "Timeout, per read: 100% | `bad` <b>",
        "message": "50% of workers | held: `Timeout` <300> & more\r\nnext line\x01 end",
        "setting": "Timeout",
        "scope": "vhost *:80 | shop",
        "current": "300|s",
        "recommended": 30,
        "location": Location(file="etc/httpd/conf.d/a b,c:d%.conf", line=7),
        "fix": "```\nTimeout 30\n```",
        "references": ["https://httpd.apache.org/docs/2.4/mod/core.html#timeout"],
    }
    fields.update(changes)
    return Finding.model_validate(fields)
