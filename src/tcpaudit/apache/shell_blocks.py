"""Compound commands of a start-up file, found before they run, as dash finds them.

dash reads a whole compound command (``if ... fi``, ``{ ...; }``, a loop)
before it runs any of it, and its closing line decides how it runs: ``} &``
and ``fi | x`` run it in a subshell, ``} || x`` tests its status (set -e is
off inside). ``shell.py`` reads lists in turn; this module groups them into
such blocks and says which are a subshell's or tested.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

from .shell_lexer import AndOr, Command, Word

__all__ = ["CLOSING", "OPENING", "Block", "block_delta", "block_inside", "blocks", "plain"]

OPENING = frozenset(("if", "for", "while", "until", "case"))
CLOSING = frozenset(("fi", "done", "esac", "}"))
_RESERVED_BEFORE = frozenset(("then", "else", "do", "!"))


@dataclass
class Block:
    """Lists read together: one outside any block, or a compound command's."""

    lists: list[AndOr]
    subshells: dict[int, int]  # first list of a block run in a subshell -> its last
    quiet_starts: Counter[int]  # first lists of blocks whose status is tested
    quiet_ends: Counter[int]  # their last lists (counted: a dict, not a list to search)


def blocks(lists: Iterator[AndOr]) -> Iterator[Block]:
    """Group ``lists`` so that each compound command opened at a list's start
    comes whole, with what its closing line says of it: ``} &``, ``fi | x``
    (a subshell), ``done || x`` (its status tested)."""
    pending: list[AndOr] = []
    opened: list[int] = []  # list index of each block open, -1 if opened mid-list
    block = Block(pending, {}, Counter(), Counter())
    for listed in lists:
        index = len(pending)
        pending.append(listed)
        for place, (text, pipeline, position) in enumerate(_block_words(listed)):
            if text == "{" or text in OPENING:
                at_start = place == 0 and pipeline == 0 and position == 0
                opened.append(index if at_start and not listed.pipelines[0].negated else -1)
            elif text in CLOSING and opened:
                start = opened.pop()
                closing = listed.pipelines[pipeline]
                if start < 0:
                    continue
                if listed.background or position < len(closing.commands) - 1:
                    block.subshells[start] = index
                elif pipeline < len(listed.pipelines) - 1:
                    block.quiet_starts[start] += 1
                    block.quiet_ends[index] += 1
        if not opened:
            yield block
            pending = []
            block = Block(pending, {}, Counter(), Counter())
    if pending:
        yield block


def _block_words(listed: AndOr) -> Iterator[tuple[str, int, int]]:
    """The words at the commands' starts that open or close blocks, with
    their pipeline's and command's places in the list."""
    for pipeline_index, pipeline in enumerate(listed.pipelines):
        for position, command in enumerate(pipeline.commands):
            for word in command.words:
                text = plain(word)
                if text == "{":
                    yield text, pipeline_index, position
                    continue
                if text in _RESERVED_BEFORE:
                    continue
                if text in OPENING or text in CLOSING:
                    yield text or "", pipeline_index, position
                break


def block_delta(listed: AndOr) -> int:
    """Blocks a list opens minus those it closes (``if``, loops, ``case``,
    ``{`` against ``fi``, ``done``, ``esac``, ``}``), at its commands' starts."""
    delta = 0
    for pipeline in listed.pipelines:
        for command in pipeline.commands:
            for word in command.words:
                text = plain(word)
                if text == "{":
                    delta += 1
                    continue
                if text in _RESERVED_BEFORE:
                    continue
                delta += 1 if text in OPENING else -1 if text in CLOSING else 0
                break
    return delta


def _opens_block(command: Command) -> bool:
    for word in command.words:
        text = plain(word)
        if text == "!":
            continue
        return text == "{" or text in OPENING
    return False


def block_inside(listed: AndOr) -> bool:
    """Whether a compound command starts past the list's first command, or
    the first one after ``!``. (What follows a first ``if`` or ``{`` on its
    line, ``|`` and ``&`` too, is inside it: its condition or its body.)"""
    first = listed.pipelines[0]
    if first.negated and _opens_block(first.commands[0]):
        return True
    commands = [command for pipeline in listed.pipelines for command in pipeline.commands]
    return any(_opens_block(command) for command in commands[1:])


def plain(word: Word) -> str | None:
    """The word's text when it is one unquoted run (a reserved word must be)."""
    return word.parts[0][1] if len(word.parts) == 1 and word.parts[0][0] == "" else None
