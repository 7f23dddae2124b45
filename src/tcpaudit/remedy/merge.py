"""Fixes of different findings that touch the same place, merged into one change.

Findings come in report order (most severe first), so when two of them set the
same directive differently at one place the more severe one's value stays.
Two ``ProxyPass`` lines for one route keep every ``key=value`` either asks for
(TA108's ``timeout=``, TA109's ``keepalive=``, TA113's ``ttl=``); the same
line asked twice is written once; a line deleted by one finding and rewritten
by another is rewritten.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from ..apache.lexer import split_words
from ..engine.findings import FileChange, Finding

__all__ = ["MergedChange", "merge_changes", "merge_lines"]

_PROXY_PASS = frozenset({"proxypass", "proxypassmatch"})


@dataclass
class MergedChange:
    """One change at one place, and the rules whose fixes it holds."""

    change: FileChange
    rules: list[str] = field(default_factory=list)


def _name(line: str) -> str:
    words = line.split(None, 1)
    return words[0].lower() if words else ""


def _merge_proxy_pass(kept: str, other: str) -> str:
    """``kept`` with every ``key=`` of ``other`` it lacks (same route)."""
    kept_words, other_words = split_words(kept), split_words(other)
    if kept_words[:3] != other_words[:3] and kept_words[:2] != other_words[:2]:
        return kept
    keys = {word.partition("=")[0].lower() for word in kept_words if "=" in word}
    added = [
        word
        for word in other_words[2:]
        if "=" in word and word.partition("=")[0].lower() not in keys
    ]
    return " ".join([kept, *added]) if added else kept


def merge_lines(kept: Sequence[str], more: Iterable[str]) -> list[str]:
    """``kept`` plus each line of ``more`` that sets something ``kept`` does not.

    A directive (or sysctl key) already in ``kept`` keeps its value there;
    ProxyPass lines for the same route are merged word by word.
    """
    lines = list(kept)
    for line in more:
        name = _name(line)
        if line in lines:
            continue
        same = [index for index, existing in enumerate(lines) if _name(existing) == name]
        if name in _PROXY_PASS and same:
            lines[same[0]] = _merge_proxy_pass(lines[same[0]], line)
            continue
        if same and not name.startswith("#") and name != "loadmodule":
            continue
        lines.append(line)
    return lines


def _key(change: FileChange) -> tuple[str, int | None, str, bool]:
    return (change.file, change.line, change.action, change.link)


def merge_changes(findings: Iterable[Finding]) -> list[MergedChange]:
    """Every change of ``findings``, one per place, in the order they first appear.

    Appended lines keep LoadModule lines first: the lines after them may
    need the module.
    """
    merged: dict[tuple[str, int | None, str, bool], MergedChange] = {}
    for finding in findings:
        for change in finding.fix_changes:
            key = _key(change)
            found = merged.get(key)
            if found is None:
                merged[key] = MergedChange(change, [finding.rule])
                continue
            if finding.rule not in found.rules:
                found.rules.append(finding.rule)
            old = found.change
            if change.link or change.action == "create":
                continue  # the first one stays; a second create of one file is the same file
            if not old.text:
                found.change = old.model_copy(update={"text": change.text})
                continue
            if not change.text:
                continue
            lines = merge_lines(old.text.splitlines(), change.text.splitlines())
            if change.action in ("append", "insert_after"):
                lines.sort(key=lambda line: _name(line) != "loadmodule")
            found.change = old.model_copy(update={"text": "\n".join(lines)})
    return list(merged.values())
