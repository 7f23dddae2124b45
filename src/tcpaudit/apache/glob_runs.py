"""Patterns of one-byte items and stars, matched in linear regex steps.

The two pattern languages tcpaudit evaluates, httpd's Include wildcards
(``apr_fnmatch``, ``wildcards.py``) and the shell's ``${X#pattern}`` trims
(dash's ``pmatch``, ``shell_patterns.py``), differ in their syntax only: each
pattern is a row of items that take one byte each (a literal, ``?``, a
bracket) with stars between them. Such a pattern matches when the fixed
items before the first star match the start, each later run of fixed items
matches at the first place it can, and the run after the last star matches
the end; taking the first place is never wrong, since a run has a fixed
width. Each run is one compiled regular expression, so a pattern of many
stars costs what it costs the C functions, with the loop in C (a walk in
Python took minutes on a few lines of stars over long names).
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

__all__ = [
    "ALL_BYTES",
    "ANY_BYTE",
    "BytePattern",
    "byte_set",
    "literal",
    "parse_pattern",
    "signed_range",
]

ALL_BYTES = (1 << 256) - 1  # a set of bytes as a 256-bit mask
ANY_BYTE = rb"[\x00-\xff]"


def literal(byte: int) -> bytes:
    """The item matching ``byte`` alone."""
    return re.escape(bytes((byte,)))


def signed_range(low: int, high: int) -> int:
    """The bytes from ``low`` to ``high`` as a mask, compared as C ``char`` is on
    x86 (signed: 0x80 to 0xff come before 0x00)."""
    first, last = (low - 256 if low > 127 else low), (high - 256 if high > 127 else high)
    mask = 0
    for start, end in ((max(first, 0), min(last, 127)), (max(first, -128), min(last, -1))):
        if start <= end:
            mask |= ((1 << (end % 256 + 1)) - 1) ^ ((1 << (start % 256)) - 1)
    return mask


@lru_cache(maxsize=1024)
def byte_set(mask: int) -> bytes:
    """The item matching the bytes of ``mask`` (bit n: byte n)."""
    if mask == ALL_BYTES:
        return ANY_BYTE
    if not mask:
        return rb"(?!)"
    members = [byte for byte in range(256) if mask >> byte & 1]
    if len(members) == 1:
        return literal(members[0])
    runs: list[bytes] = []
    first = previous = members[0]
    for byte in [*members[1:], -1]:
        if byte == previous + 1:
            previous = byte
            continue
        runs.append(
            b"\\x%02x" % first if first == previous else b"\\x%02x-\\x%02x" % (first, previous)
        )
        first = previous = byte
    return b"[" + b"".join(runs) + b"]"


@dataclass(frozen=True, slots=True)
class _Run:
    """Fixed items between two stars: their regular expression and width."""

    regex: re.Pattern[bytes]
    width: int
    source: bytes


def _run(items: list[bytes]) -> _Run:
    # Repeats of one set are one counted repeat, which the regex engine steps
    # over at once (100 '?' cost 100 steps per place otherwise); literals stay
    # as they are, for the engine's fast literal search.
    parts: list[bytes] = []
    index = 0
    while index < len(items):
        item = items[index]
        end = index + 1
        if item.startswith((b"[", b"(")):
            while end < len(items) and items[end] == item:
                end += 1
        parts.append(item if end == index + 1 else b"(?:%s){%d}" % (item, end - index))
        index = end
    source = b"".join(parts)
    with warnings.catch_warnings():  # "[[" of a wildcard: the re module's FutureWarning
        warnings.simplefilter("ignore")
        return _Run(re.compile(source), len(items), source)


@dataclass(frozen=True, slots=True)
class BytePattern:
    """A compiled pattern: its runs of fixed items, split at the stars."""

    runs: tuple[_Run, ...]
    starred: bool  # False: the one run is the whole pattern
    plain: bytes | None  # the pattern's bytes when every item is a literal, no star
    # The runs between the first and the last star as one expression: each
    # "(?>.*?RUN)" takes the first place its run matches and never gives it
    # back, so a name is one call into the regex engine, not one per run.
    middle: re.Pattern[bytes] | None
    width: int  # the fixed items' width in all: a shorter name cannot match

    @classmethod
    def build(cls, items: list[bytes | None]) -> BytePattern:
        """From items in order, None standing for a star."""
        runs: list[_Run] = []
        current: list[bytes] = []
        starred = False
        for item in items:
            if item is None:
                if not starred or current:  # "**" is "*"
                    runs.append(_run(current))
                current = []
                starred = True
            else:
                current.append(item)
        runs.append(_run(current))
        plain: bytes | None = None
        if not starred:
            unescaped = [re.sub(rb"\\(.)", rb"\1", item, flags=re.S) for item in current]
            if all(len(item) == 1 for item in unescaped):
                plain = b"".join(unescaped)
        middle = None
        if len(runs) > 2:
            middle = re.compile(
                b"".join(b"(?>.*?%s)" % run.source for run in runs[1:-1]), re.DOTALL
            )
        return cls(tuple(runs), starred, plain, middle, sum(run.width for run in runs))

    def matches(self, data: bytes, start: int = 0, end: int | None = None) -> bool:
        """Whether ``data[start:end]`` matches the whole pattern."""
        stop = len(data) if end is None else end
        runs = self.runs
        if not self.starred:
            return (
                stop - start == runs[0].width
                and runs[0].regex.fullmatch(data, start, stop) is not None
            )
        head, tail = runs[0], runs[-1]
        tail_start = stop - tail.width
        if (
            stop - start < self.width
            or head.regex.match(data, start, stop) is None
            or tail.regex.fullmatch(data, tail_start, stop) is None
        ):
            return False
        # The middle runs must end before the tail's start: room for the tail.
        middle = self.middle
        return middle is None or middle.match(data, start + head.width, tail_start) is not None


def parse_pattern(
    pattern: bytes, bracket: Callable[[bytes, int], tuple[int, int] | None]
) -> BytePattern:
    """A pattern of ``*``, ``?``, ``\\x`` and brackets, compiled; ``bracket`` reads
    the bracket at an index (its syntax is the language's) as (byte mask, index
    after it), or None for a ``[`` that opens none and so is a literal."""
    items: list[bytes | None] = []
    index = 0
    length = len(pattern)
    while index < length:
        char = pattern[index]
        index += 1
        if char == ord("*"):
            items.append(None)
        elif char == ord("?"):
            items.append(ANY_BYTE)
        elif char == ord("[") and (read := bracket(pattern, index - 1)) is not None:
            mask, index = read
            items.append(byte_set(mask))
        else:
            if char == ord("\\") and index < length:
                char = pattern[index]
                index += 1
            items.append(literal(char))
    return BytePattern.build(items)
