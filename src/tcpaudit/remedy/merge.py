"""Fixes of different findings that touch the same place, merged into one change.

Findings come in report order (most severe first), so when two of them set the
same directive differently at one place the more severe one's value stays.
Two ``ProxyPass`` lines for one route keep every ``key=value`` either asks for
(TA108's ``timeout=``, TA109's ``keepalive=``, TA113's ``ttl=``); the same
line asked twice is written once; a line deleted by one finding and rewritten
by another is rewritten.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from ..apache.lexer import split_words
from ..engine.findings import FileChange, Finding
from ..lines import physical_lines

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


def _pairs(words: Sequence[str]) -> dict[str, str]:
    return {word.partition("=")[0].lower(): word for word in words if "=" in word}


def _merge_proxy_pass(kept: str, other: str, base: str | None = None) -> str:
    """``kept`` with the ``key=value`` words ``other`` asks for (same route).

    With ``base`` (the line both rewrote) a pair ``other`` changed from the
    base replaces ``kept``'s; without it, only pairs ``kept`` lacks are added.
    """
    kept_words, other_words = split_words(kept), split_words(other)
    if kept_words[:3] != other_words[:3] and kept_words[:2] != other_words[:2]:
        return kept
    base_pairs = _pairs(split_words(base)) if base else {}
    words = list(kept_words)
    keys = _pairs(kept_words)
    for key, word in _pairs(other_words[2:]).items():
        if key not in keys:
            words.append(word)
        elif base is not None and base_pairs.get(key) != word and keys[key] == base_pairs.get(key):
            words[words.index(keys[key])] = word
    if words == kept_words:
        return kept
    return " ".join(words)


def merge_lines(kept: Sequence[str], more: Iterable[str], base: str | None = None) -> list[str]:
    """``kept`` plus each line of ``more`` that sets something ``kept`` does not.

    A directive (or sysctl key) already in ``kept`` keeps its value there;
    ProxyPass lines for the same route are merged word by word (``base``:
    the line both replace, when known).
    """
    lines = list(kept)
    for line in more:
        name = _name(line)
        if line in lines:
            continue
        same = [index for index, existing in enumerate(lines) if _name(existing) == name]
        if name in _PROXY_PASS and same:
            lines[same[0]] = _merge_proxy_pass(lines[same[0]], line, base)
            continue
        if same and not name.startswith("#") and name != "loadmodule":
            continue
        lines.append(line)
    return lines


def _key(change: FileChange) -> tuple[str, int | None, str, bool]:
    return (change.file, change.line, change.action, change.link)


def merge_changes(
    findings: Iterable[Finding], original: Callable[[FileChange], str | None] | None = None
) -> list[MergedChange]:
    """Every change of ``findings``, one per place, in the order they first appear.

    ``original`` gives the text a ``replace`` replaces (None when unknown), so
    that two rewrites of one ProxyPass line keep what each changed.

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
            base = original(change) if original and change.action == "replace" else None
            lines = merge_lines(physical_lines(old.text), physical_lines(change.text), base)
            if change.action in ("append", "insert_after"):
                lines.sort(key=lambda line: _name(line) != "loadmodule")
            found.change = old.model_copy(update={"text": "\n".join(lines)})
    return list(merged.values())
