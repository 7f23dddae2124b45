"""Score and grade: 100 minus a penalty per unsuppressed finding, mapped to A..F.

Each finding costs its severity's weight; one rule costs at most twice the
weight of its worst finding, so fifty vhosts with the same setting do not bury
every other finding. Any critical finding caps the grade at F. Removing a
finding never lowers the score, and the grade only depends on the score and
the presence of a critical finding, so fixing a finding never lowers the grade.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Literal, Protocol

from .findings import Severity

__all__ = ["GRADE_FLOORS", "SEVERITY_WEIGHTS", "Grade", "Graded", "grade_for", "score_for"]

Grade = Literal["A", "B", "C", "D", "F"]

SEVERITY_WEIGHTS: dict[Severity, int] = {
    Severity.INFO: 0,
    Severity.LOW: 3,
    Severity.MEDIUM: 8,
    Severity.HIGH: 15,
    Severity.CRITICAL: 30,
}


class Graded(Protocol):
    """What the grade reads of a finding (a ``Finding``, or one the engine is judging)."""

    @property
    def rule(self) -> str: ...
    @property
    def severity(self) -> Severity: ...
    @property
    def suppressed(self) -> bool: ...


# The lowest score that still earns each grade.
GRADE_FLOORS: tuple[tuple[int, Grade], ...] = ((90, "A"), (80, "B"), (65, "C"), (50, "D"))


def score_for(findings: Iterable[Graded]) -> int:
    """100 minus the capped per-rule penalties of unsuppressed findings, floored at 0."""
    penalties: dict[str, int] = defaultdict(int)
    worst: dict[str, int] = defaultdict(int)
    for finding in findings:
        if finding.suppressed:
            continue
        weight = SEVERITY_WEIGHTS[finding.severity]
        penalties[finding.rule] += weight
        worst[finding.rule] = max(worst[finding.rule], weight)
    total = sum(min(penalty, 2 * worst[rule]) for rule, penalty in penalties.items())
    return max(0, 100 - total)


def grade_for(score: int, findings: Iterable[Graded]) -> Grade:
    """The letter for a score; F whenever an unsuppressed critical finding exists."""
    if any(f.severity is Severity.CRITICAL and not f.suppressed for f in findings):
        return "F"
    for floor, letter in GRADE_FLOORS:
        if score >= floor:
            return letter
    return "F"
