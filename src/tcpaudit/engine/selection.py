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
    "MAX_JUDGED_OF_EXTRA_RULES",
    "MAX_JUDGED_PER_RULE",
    "MAX_LISTED_FINDINGS",
    "Judged",
    "Suppressions",
    "left_out_note",
    "listed",
    "listed_in_report",
]

# One rule finds once per virtual host: without a bound, 20,000 vhosts with
# four findings each made a 188 MB SARIF log and held 1.8 GB.
MAX_FINDINGS_PER_RULE = 250
# A check stops after this many hits: each costs its fix (about 0.1 ms), and
# 100,000 vhosts with four findings each took 38 s.
MAX_JUDGED_PER_RULE = 10_000
# Hits the rules of rules directories judge in all (the bundled catalogue's
# each judge up to MAX_JUDGED_PER_RULE): up to 100 such rules may each find
# once per virtual host.
MAX_JUDGED_OF_EXTRA_RULES = 20_000
# What one report lists in all: a rules directory of the audited repository
# may hold up to 1,000 rules, each listing 250 findings.
MAX_LISTED_FINDINGS = 2_500


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


def left_out_note(
    rule: Rule, fresh: int, others: int, limit: int, stopped_after: int | None
) -> Note:
    stopped = ""
    if stopped_after is not None:
        stopped = f"the check stopped after {stopped_after:,} findings, so there are more"
        if stopped_after < MAX_JUDGED_PER_RULE:
            stopped += (
                f" (the rules of rules directories judge {MAX_JUDGED_OF_EXTRA_RULES:,} "
                "findings in all)"
            )
    if fresh + others:
        counted = (
            f"{fresh + others:,} more finding(s) not listed ({fresh:,} unsuppressed, "
            f"{others:,} suppressed or in the baseline){'; ' + stopped if stopped else ''}"
        )
    else:
        counted = stopped
    return Note(
        message=f"{rule.id}: {counted}. A report lists the {limit:,} worst findings of each "
        "rule, new ones first, so that it does not grow with the number of virtual hosts; "
        "the grade and the exit code are the same with them. Fix the listed ones and audit "
        "again for the next.",
        file=None,
    )


def listed_in_report(
    items: list[tuple[Rule, Judged]], limit: int
) -> tuple[list[tuple[Rule, Judged]], list[tuple[Rule, Judged]], Note | None]:
    """The ``limit`` items a report lists of every rule's listed ones, the
    others, and a note counting them (None when all are kept).

    Unsuppressed ones come first, then those not in the baseline, then the
    most severe: the grade, the score and the exit code (computed on all of
    them) do not depend on the ones left out.
    """
    if len(items) <= limit:
        return items, [], None
    ranked = sorted(
        range(len(items)),
        key=lambda index: (
            items[index][1].suppressed,
            items[index][1].known,
            items[index][1].minus_rank,
        ),
    )
    kept = sorted(ranked[:limit])
    left = [items[index] for index in ranked[limit:]]
    rules = len({rule.id for rule, _ in left})
    note = Note(
        message=f"{len(left):,} more finding(s) of {rules:,} rule(s) not listed: a report "
        f"lists at most {limit:,} findings in all, unsuppressed, new and most severe ones "
        "first; the grade, the score and the exit code count them.",
        file=None,
    )
    return [items[index] for index in kept], left, note
