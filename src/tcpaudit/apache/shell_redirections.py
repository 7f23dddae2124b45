"""Whether a command's redirections open, as dash opens them before the command runs.

A redirection that cannot be opened (``>/missing/dir/x``, ``</missing``,
``>/etc``, ``>&5`` with no descriptor 5) fails the command: it is not run, its
status is 2, and before a special builtin (``export``, ``.``, ``:``) dash
stops. The audited root stands for the host; the service's working directory
is ``/``, so a relative path is read from there.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from .secret_words import redact_text
from .shell_lexer import Word

__all__ = ["Opened", "failed_redirection", "shown_text", "shown_word"]

_EXPANSION_WORDS = re.compile(r"\$\{[^}]*\}?|\$\(.*|`.*")
# Opened whatever the root holds (the service's descriptors 0-2 are open).
_ALWAYS_OPEN = frozenset(("/dev/null", "/dev/stdin", "/dev/stdout", "/dev/stderr", "/dev/zero"))
_WRITING = frozenset((">", ">>", ">|", "<>"))


def shown_text(written: str) -> str:
    """A word as written, each ``${...}`` shown without its word
    (``${DB_PASSWORD:=value}`` assigns a secret) and passwords redacted."""
    return redact_text(_EXPANSION_WORDS.sub("${...}", written))


def shown_word(word: Word) -> str:
    return shown_text("".join(text for _, text in word.parts))


@dataclass(frozen=True, slots=True)
class Opened:
    """What opening a command's redirections gives."""

    failure: str | None = None  # why the first that cannot be opened fails
    unknown: str | None = None  # what is not known of one
    fatal: bool = False  # a syntax error to dash ("&>x" with no number): it stops


def failed_redirection(
    operators: list[str],
    targets: list[Word],
    values: list[str],
    exists: Callable[[str, str], bool | None] | None,
) -> Opened:
    """Open ``targets`` (their expanded ``values``) in turn, as far as the root tells."""
    unknown: str | None = None
    for operator, target, value in zip(operators, targets, values, strict=True):
        if operator in ("<<", "<<-"):
            continue
        shown = shown_word(target)
        if operator in (">&", "<&"):
            if value == "-" or value in ("0", "1", "2"):
                continue
            if value.isdigit():
                unknown = unknown or f"whether descriptor {shown} is open is not known"
                continue
            return Opened(f"{shown}: a bad descriptor number", unknown, fatal=True)
        path = value if value.startswith("/") else "/" + value
        if path in _ALWAYS_OPEN or path.startswith("/dev/fd/"):
            continue
        if exists is None:
            unknown = unknown or f"whether {shown} can be opened is not known"
            continue
        if operator in _WRITING:
            parent = path.rstrip("/").rpartition("/")[0] or "/"
            holds_parent = exists("-d", parent)
            is_directory = exists("-d", path)
            if holds_parent is False:
                return Opened(f"cannot create {shown}: its directory is missing", unknown)
            if is_directory:
                return Opened(f"cannot create {shown}: a directory", unknown)
            if holds_parent is None or is_directory is None:
                unknown = unknown or f"whether {shown} can be created is not known"
        else:
            found = exists("-e", path)
            if found is False:
                return Opened(f"cannot open {shown}: no such file", unknown)
            if found is None:
                unknown = unknown or f"whether {shown} can be opened is not known"
    return Opened(None, unknown)
