"""The tree of a start-up file's commands, as ``shell_parser.py`` builds it."""

from __future__ import annotations

from dataclasses import dataclass, field

from .shell_lexer import Command, Word

__all__ = ["AndOr", "Compound", "Node", "Pipeline"]


@dataclass(slots=True)
class Compound:
    """A compound command.

    ``kind`` is "group" (``{ }``), "subshell", "if", "while", "until", "for",
    "case", "function" or "arithmetic" (bash's ``(( ))``, its text as ``name``). ``parts``: a group's or subshell's body; an if's
    conditions and bodies in turn, then its else body; a loop's condition and
    body (a for loop's body only); each case item's body; a function's body.
    """

    kind: str
    line: int
    parts: list[list[AndOr]]
    redirections: list[Word] = field(default_factory=list)
    operators: list[str] = field(default_factory=list)  # each redirection's
    words: list[Word] = field(default_factory=list)  # a for loop's list, a case's word
    patterns: list[list[Word]] = field(default_factory=list)  # each case item's
    name: str = ""  # a for loop's variable, a function's name
    has_else: bool = False
    has_in: bool = False  # a for loop with "in" (without: over "$@")


Node = Command | Compound


@dataclass(slots=True)
class Pipeline:
    """Commands joined by ``|``; ``!`` before them negates the status."""

    commands: list[Node]
    negated: bool = False


@dataclass(slots=True)
class AndOr:
    """Pipelines joined by ``&&`` and ``||``; ``background``: ended by ``&``."""

    pipelines: list[Pipeline]
    connectors: list[str]
    background: bool = False

    @property
    def line(self) -> int:
        return self.pipelines[0].commands[0].line
