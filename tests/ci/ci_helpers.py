"""Helpers the CI-integration tests share: the example roots, copied and audited."""

from __future__ import annotations

import shutil
from pathlib import Path

import tcpaudit
from tcpaudit.engine import Finding, Report
from tcpaudit.engine.grade import grade_for, score_for

__all__ = ["EXAMPLES", "REPO", "audit_root", "copy_example", "regraded"]

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"


def copy_example(name: str, target: Path) -> Path:
    """A private copy of ``examples/<name>`` that a test may edit."""
    shutil.copytree(EXAMPLES / name, target)
    return target


def audit_root(root: Path) -> Report:
    return tcpaudit.audit(tcpaudit.gather(root=str(root)))


def regraded(report: Report, host: str, findings: list[Finding]) -> Report:
    """``report`` for another host with other findings, graded as the engine grades."""
    score = score_for(findings)
    return report.model_copy(
        update={
            "host": host,
            "findings": findings,
            "score": score,
            "grade": grade_for(score, findings),
        }
    )
