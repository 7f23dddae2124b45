"""Which findings a report lists: suppressions matched, the worst of each rule kept.

A rule finds once per virtual host, so without a bound a report grows with
the host: the engine keeps the worst ``MAX_FINDINGS_PER_RULE`` of each rule
(findings new since the baseline first, suppressed ones apart), a note counts
the rest and ``Report.unlisted`` keeps their fingerprints.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from typing import TYPE_CHECKING, NamedTuple

from ..provenance import Note
from .config import Suppression
from .findings import Severity
from .rule import Rule

if TYPE_CHECKING:
    from ..checks.base import Hit

__all__ = [
    "MAX_FINDINGS_PER_RULE",
    "MAX_JUDGED_PER_RULE",
    "Judged",
    "Suppressions",
    "left_out_note",
    "listed",
]

# One rule finds once per virtual host: without a bound, 20,000 vhosts with
# four findings each made a 188 MB SARIF log and held 1.8 GB.
MAX_FINDINGS_PER_RULE = 250
# A check stops after this many hits: each costs its fix (about 0.1 ms), and
# 100,000 vhosts with four findings each took 38 s.
MAX_JUDGED_PER_RULE = 10_000


class Suppressions:
    """The active suppressions by rule, each answer kept: a rule's findings
    mostly share their setting and file (thousands of vhosts in one file)."""

    def __init__(self, suppressions: Sequence[Suppression]) -> None:
        self.by_rule: dict[str, list[Suppression]] = {}
        for suppression in suppressions:
            self.by_rule.setdefault(suppression.rule, []).append(suppression)
        self.answers: dict[tuple[str, str | None, str | None], Suppression | None] = {}

    def find(self, rule_id: str, setting: str | None, file: str | None) -> Suppression | None:
        key = (rule_id, setting, file)
        if key not in self.answers:
            candidates = self.by_rule.get(rule_id, [])
            self.answers[key] = _suppression_for(rule_id, setting, file, candidates)
        return self.answers[key]


def _suppression_for(
    rule_id: str, setting: str | None, file: str | None, suppressions: Sequence[Suppression]
) -> Suppression | None:
    for suppression in suppressions:
        if suppression.rule != rule_id:
            continue
        if suppression.setting is not None and suppression.setting != setting:
            continue
        if suppression.file is not None and (
            file is None or not fnmatch.fnmatch(file, suppression.file)
        ):
            continue
        return suppression
    return None


class Judged(NamedTuple):
    """A hit with what the engine decided for it, ordered as the report lists findings."""

    suppressed: bool
    minus_rank: int
    file: str
    line: int
    order: int
    severity: Severity
    reason: str | None
    known: bool
    hit: Hit


def listed(judged: list[Judged], limit: int) -> tuple[list[Judged], list[Judged], list[Judged]]:
    """The worst ``limit`` hits of each group (unsuppressed and not in the
    baseline; the others), then the left-out ones of each group."""
    judged.sort()
    fresh = [item for item in judged if not (item.suppressed or item.known)]
    others = [item for item in judged if item.suppressed or item.known]
    return sorted([*fresh[:limit], *others[:limit]]), fresh[limit:], others[limit:]


def left_out_note(rule: Rule, fresh: int, others: int, limit: int, unjudged: bool) -> Note:
    stopped = (
        f"; the check stopped after {MAX_JUDGED_PER_RULE:,} findings, so there are more"
        if unjudged
        else ""
    )
    return Note(
        message=f"{rule.id}: {fresh + others:,} more finding(s) not listed ({fresh:,} "
        f"unsuppressed, {others:,} suppressed or in the baseline){stopped}. A report lists "
        f"the {limit:,} worst findings of each rule, new ones first, so that it does not "
        "grow with the number of virtual hosts; the grade and the exit code are the same "
        "with them. Fix the listed ones and audit again for the next.",
        file=None,
    )
