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

The matching itself, in linear regex steps, is ``glob_runs.py``'s.
"""

from __future__ import annotations

import os
from functools import lru_cache

from .glob_runs import ALL_BYTES, BytePattern, parse_pattern, signed_range

__all__ = ["wildcard_matches"]


def _bracket(pattern: bytes, start: int) -> tuple[int, int] | None:
    """The bracket at ``pattern[start]`` (a ``[``) as (byte mask, index after it);
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
            return (mask ^ ALL_BYTES if negated else mask), index + 1
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
            mask |= signed_range(low, pattern[index])
            index += 1
            continue
        mask |= 1 << char
        index += 1
    return None


@lru_cache(maxsize=512)
def _compile(pattern: bytes) -> BytePattern:
    return parse_pattern(pattern, _bracket)


def _matches_bytes(pattern: bytes, name: bytes) -> bool:
    if name.startswith(b"."):
        if pattern.startswith(b"."):
            pattern, name = pattern[1:], name[1:]
        elif pattern.startswith(b"\\."):
            pattern, name = pattern[2:], name[1:]
        else:
            return False
    return _compile(pattern).matches(name)


def wildcard_matches(pattern: str, name: str) -> bool:
    """Whether directory entry ``name`` matches one component ``pattern`` of an
    Include path, as ``apr_fnmatch(pattern, name, APR_FNM_PERIOD)`` decides.

    Both are text as tcpaudit reads them (undecodable bytes as surrogates);
    they are compared as the bytes httpd sees.
    """
    return _matches_bytes(os.fsencode(pattern), os.fsencode(name))
