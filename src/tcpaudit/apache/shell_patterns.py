"""The patterns of ``${X#p}``, ``${X##p}``, ``${X%p}`` and ``${X%%p}``, as dash reads them.

Debian's apache2ctl runs envvars with /bin/sh, which is dash; its ``pmatch``
(expand.c, built without fnmatch on Debian) decides what a trim removes:

- ``\\x`` is ``x``, and so is every quoted character (``Expander.pattern``
  writes them escaped, as dash marks them); a final ``\\`` is a backslash;
- ``?`` and a bracket take one byte, not one character;
- a bracket is negated by ``!`` only (``[^a]`` holds ``^`` and ``a``); a
  ``]`` first in it is a member; ``[:alpha:]`` and the other POSIX classes
  are the C locale's; ``x-y`` is a range whose end may be escaped, compared
  as C ``char``, signed on x86; a bracket with no end is a literal ``[``.

Matching is ``glob_runs.py``'s; trimming tries each prefix or suffix in turn,
which the caller charges as quadratic work.
"""

from __future__ import annotations

import os
import re
from functools import lru_cache

from .glob_runs import ALL_BYTES, BytePattern, parse_pattern, signed_range

__all__ = ["GLOB", "compile_pattern", "trim"]

# A character that makes a word a pattern when it is not quoted.
GLOB = re.compile(r"[*?\[]")


def _mask(test: str) -> int:
    return sum(1 << byte for byte in range(128) if _in_class(test, byte))


def _in_class(name: str, byte: int) -> bool:
    """ctype's classes in the C locale (bytes over 0x7f belong to none)."""
    char = chr(byte)
    graph = 33 <= byte <= 126
    return {
        "alnum": char.isascii() and char.isalnum(),
        "alpha": char.isascii() and char.isalpha(),
        "blank": char in " \t",
        "cntrl": byte < 32 or byte == 127,
        "digit": char in "0123456789",
        "graph": graph,
        "lower": "a" <= char <= "z",
        "print": 32 <= byte <= 126,
        "punct": graph and not char.isalnum(),
        "space": char in " \t\n\v\f\r",
        "upper": "A" <= char <= "Z",
        "xdigit": char in "0123456789abcdefABCDEF",
    }[name]


_CLASSES = {
    f":{name}:]".encode(): _mask(name)
    for name in ("alnum", "cntrl", "lower", "space", "alpha", "digit", "print", "upper",
                 "blank", "graph", "punct", "xdigit")
}  # fmt: skip


def _bracket(pattern: bytes, start: int) -> tuple[int, int] | None:
    """The bracket at ``pattern[start]`` as (byte mask, index after it), or None."""
    length = len(pattern)

    def at(index: int) -> int:
        return pattern[index] if index < length else 0

    index = start + 1
    negated = at(index) == ord("!")
    if negated:
        index += 1
    mask = 0
    if index >= length:
        return None
    char = pattern[index]
    index += 1
    while True:
        named = None
        if char == ord("["):
            named = next((name for name in _CLASSES if pattern.startswith(name, index)), None)
        if named is not None:
            mask |= _CLASSES[named]
            index += len(named)
        else:
            if char == ord("\\"):
                if index >= length:
                    return None
                char = pattern[index]
                index += 1
            if at(index) == ord("-") and at(index + 1) != ord("]"):
                index += 1
                if at(index) == ord("\\"):
                    index += 1
                if index >= length:
                    return None
                mask |= signed_range(char, pattern[index])
                index += 1
            else:
                mask |= 1 << char
        if index >= length:
            return None
        char = pattern[index]
        index += 1
        if char == ord("]"):
            return (mask ^ ALL_BYTES if negated else mask), index


@lru_cache(maxsize=256)
def _compile(pattern: bytes) -> BytePattern:
    return parse_pattern(pattern, _bracket)


def compile_pattern(pattern: str) -> BytePattern:
    """A trim's pattern, quoted characters escaped, compiled over its bytes."""
    return _compile(os.fsencode(pattern))


def trim(value: str, operation: str, pattern: BytePattern) -> str:
    """``${X#p}`` (``#``, ``##``, ``%``, ``%%``): remove the shortest or longest
    matching prefix or suffix of ``value``."""
    data = os.fsencode(value)
    if pattern.plain is not None:
        if operation in ("#", "##"):
            return os.fsdecode(data.removeprefix(pattern.plain))
        return os.fsdecode(data.removesuffix(pattern.plain))
    sizes = range(len(data) + 1)
    if operation in ("#", "##"):
        for size in sizes if operation == "#" else reversed(sizes):
            if pattern.matches(data, 0, size):
                return os.fsdecode(data[size:])
        return value
    for size in sizes if operation == "%" else reversed(sizes):
        if pattern.matches(data, len(data) - size):
            return os.fsdecode(data[: len(data) - size])
    return value
