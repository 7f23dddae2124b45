"""One component of an ``Include`` wildcard, matched as httpd matches it.

httpd's ``ap_dir_fnmatch`` (server/util.c) keeps a directory entry when
``apr_fnmatch(pattern, name, APR_FNM_PERIOD)`` says so. What that function
does (apr strings/apr_fnmatch.c), and so what this module does:

- it compares bytes, not characters: ``?`` and a bracket take one byte of a
  UTF-8 name, so ``caf?.conf`` does not match ``café.conf``;
- escapes are on, inside brackets too: ``\\x`` is ``x``, a range's end may be
  escaped (``[a-\\]]``), and a ``\\`` that ends the pattern is a backslash;
- a bracket is negated by ``!`` or ``^``; a ``]`` first in it is a member;
  ``x-]`` is ``x``, ``-`` and the end; a bracket with no end is a literal ``[``;
- a range compares bytes as C ``char``, which is signed on x86, the platform
  of the distributions' packages: ``[\\xc3-z]`` holds ASCII and 0xc3 to 0xff,
  and ``[a-\\xff]`` holds nothing;
- a name that starts with ``.`` matches only a pattern that starts with ``.``
  or ``\\.`` (``APR_FNM_PERIOD``);
- each ``*`` takes the shortest run after which the fixed items up to the next
  ``*`` match, and is never revisited; the items after the last ``*`` match
  the end of the name.

The last rule makes a match linear in the name for each fixed run of the
pattern. Each run is a compiled regular expression of fixed width, so a
pattern of many stars costs what it costs httpd, with the loop in C.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import lru_cache

__all__ = ["wildcard_matches"]

# One fixed item of a pattern: the bytes it matches, as a 256-bit mask.
_ALL_BYTES = (1 << 256) - 1


def _signed(byte: int) -> int:
    """A byte as x86's C ``char`` compares it."""
    return byte - 256 if byte >= 128 else byte


def _bracket(pattern: bytes, start: int) -> tuple[int, int] | None:
    """The bracket at ``pattern[start]`` (a ``[``) as (mask, index after it);
    None when it has no end, and so is a literal ``[``."""
    length = len(pattern)

    def at(index: int) -> int:
        return pattern[index] if index < length else 0

    index = start + 1
    negated = at(index) in b"!^"
    if negated:
        index += 1
    mask = 0
    first = True
    while index < length:
        char = pattern[index]
        if char == ord("]") and not first:
            return (mask ^ _ALL_BYTES if negated else mask), index + 1
        if char == ord("\\"):
            index += 1
            if index >= length:
                return None
            char = pattern[index]
        first = False
        if at(index + 1) == ord("-") and at(index + 2) != ord("]"):
            low = char
            index += 3 if at(index + 2) == ord("\\") else 2
            if index >= length:
                return None
            high = pattern[index]
            for byte in range(256):
                if _signed(low) <= _signed(byte) <= _signed(high):
                    mask |= 1 << byte
            index += 1
            continue
        mask |= 1 << char
        index += 1
    return None


def _mask_regex(mask: int) -> bytes:
    if mask == _ALL_BYTES:
        return rb"[\x00-\xff]"
    if not mask:
        return rb"(?!)"
    members = [byte for byte in range(256) if mask >> byte & 1]
    if len(members) == 1:
        return re.escape(bytes(members))
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


@dataclass(frozen=True, slots=True)
class _Compiled:
    runs: tuple[_Run, ...]  # the runs between stars, in order
    starred: bool  # False: the one run is the whole pattern


def _run(items: list[bytes]) -> _Run:
    # Repeats of one class are one counted repeat, which the regex engine
    # steps over at once (100 '?' cost 100 steps per place otherwise);
    # literals stay as they are, for the engine's fast literal search.
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
    return _Run(re.compile(b"".join(parts)), len(items))


@lru_cache(maxsize=512)
def _compile(pattern: bytes) -> _Compiled:
    runs: list[_Run] = []
    items: list[bytes] = []
    starred = False
    index = 0
    length = len(pattern)
    while index < length:
        char = pattern[index]
        if char == ord("*"):
            runs.append(_run(items))
            items = []
            starred = True
            index += 1
            while index < length and pattern[index] == ord("*"):
                index += 1
            continue
        if char == ord("?"):
            items.append(rb"[\x00-\xff]")
            index += 1
            continue
        if char == ord("["):
            bracket = _bracket(pattern, index)
            if bracket is not None:
                mask, index = bracket
                items.append(_mask_regex(mask))
                continue
        elif char == ord("\\") and index + 1 < length:
            index += 1
            char = pattern[index]
        items.append(re.escape(bytes((char,))))
        index += 1
    runs.append(_run(items))
    return _Compiled(tuple(runs), starred)


def _matches_bytes(pattern: bytes, name: bytes) -> bool:
    if name.startswith(b"."):
        if pattern.startswith(b"."):
            pattern, name = pattern[1:], name[1:]
        elif pattern.startswith(b"\\."):
            pattern, name = pattern[2:], name[1:]
        else:
            return False
    compiled = _compile(pattern)
    runs = compiled.runs
    if not compiled.starred:
        return len(name) == runs[0].width and runs[0].regex.fullmatch(name) is not None
    head, tail = runs[0], runs[-1]
    tail_start = len(name) - tail.width
    if tail_start < head.width or head.regex.match(name) is None:
        return False
    position = head.width
    for run in runs[1:-1]:
        # The leftmost place the run matches, as apr_fnmatch's loop finds it;
        # a place past the tail's start cannot leave room for the tail.
        found = run.regex.search(name, position, tail_start)
        if found is None:
            return False
        position = found.end()
    return tail.regex.fullmatch(name, tail_start) is not None


def wildcard_matches(pattern: str, name: str) -> bool:
    """Whether directory entry ``name`` matches one component ``pattern`` of an
    Include path, as ``apr_fnmatch(pattern, name, APR_FNM_PERIOD)`` decides.

    Both are text as tcpaudit reads them (undecodable bytes as surrogates);
    they are compared as the bytes httpd sees.
    """
    return _matches_bytes(os.fsencode(pattern), os.fsencode(name))
