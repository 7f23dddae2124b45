"""The text of ``tcpaudit explain``: a rule as ruff explains its rules, and the grading."""

from __future__ import annotations

import textwrap

from ..apache.known_tokens import hide_known_tokens
from ..apache.shell_state import REDACTED_VALUE
from ..engine.catalogue import bundled_rule_ids
from ..engine.grade import GRADE_FLOORS, SEVERITY_WEIGHTS
from ..engine.rule import Rule
from ..safetext import printable

__all__ = ["explain_grading", "explain_rule"]


def explain_grading() -> str:
    """How the score and the grade are computed."""
    weights = ", ".join(f"{s.value} {w}" for s, w in SEVERITY_WEIGHTS.items())
    floors = ", ".join(f"{letter} >= {floor}" for floor, letter in GRADE_FLOORS)
    return (
        "Score: 100 minus a weight per unsuppressed finding "
        f"({weights}); one rule costs at most twice its worst finding's weight; floor 0.\n"
        f"Grade: {floors}, else F. Any unsuppressed critical finding gives F.\n"
        "Fixing a finding never lowers the score or the grade."
    )


def _example(rule: Rule, text: str) -> str:
    """An example's lines; a repository rule's indented, so that none starts a
    line of the output (an Actions workflow command such as ``::error``)."""
    if rule.id in bundled_rule_ids():
        return text.rstrip()
    return "\n".join("    " + line for line in text.rstrip().split("\n"))


def explain_rule(rule: Rule) -> str:
    """What the rule does, why it is bad, an example and what to use instead,
    the contexts that change it, its parameters and references."""
    sections = [
        # One line: a line break in a repository rule's title could start a
        # line of its own (an Actions workflow command such as ::error).
        f"{rule.id}: {printable(rule.title)}  [{rule.severity.value}]",
        "\n## What it does\n" + " ".join(rule.summary.split()),
        # Tokens hidden before the wrap, which could cut one in pieces the
        # pass over the whole output no longer finds.
        "\n## Why is this bad?\n"
        + textwrap.fill(hide_known_tokens(" ".join(rule.rationale.split()), REDACTED_VALUE), 88),
        f"\n## Example\n{_example(rule, rule.example.bad)}",
        f"\nUse instead:\n{_example(rule, rule.example.use_instead)}",
    ]
    applies = _applies(rule)
    if applies:
        sections.append(f"\n## Applies to\n{applies}")
    if rule.when:
        sections.append("\n## Context\n" + "\n".join(_contexts(rule)))
    # A repository rule's parameters: one line whatever they hold.
    params = ", ".join(printable(f"{key} = {value}") for key, value in rule.params.items())
    sections.append(f"\n## Parameters\n{params or 'none'}")
    if rule.references:
        sections.append("\n## References\n" + "\n".join(f"- {ref}" for ref in rule.references))
    return "\n".join(sections)


def _applies(rule: Rule) -> str:
    """Where the rule runs at all, when it does not run everywhere."""
    scope = rule.applies_to
    parts = [
        f"{name} {', '.join(value) if isinstance(value, list) else value}"
        for name, value in (
            ("MPM", scope.mpm),
            ("profile", scope.profile),
            ("Apache", scope.apache),
        )
        if value
    ]
    return "; ".join(parts)


def _contexts(rule: Rule) -> list[str]:
    lines = []
    for override in rule.when:
        selector = "; ".join(
            f"{name} {', '.join(value) if isinstance(value, list) else value}"
            for name, value in (
                ("MPM", override.mpm),
                ("profile", override.profile),
                ("Apache", override.apache),
            )
            if value
        )
        changes = []
        if override.severity is not None:
            changes.append(f"severity {override.severity.value}")
        changes += [f"{key} = {value}" for key, value in override.params.items()]
        lines.append(printable(f"- {selector}: {', '.join(changes)}"))
    return lines
