"""Glob patterns of sysctl.d lines, matched as glibc's fnmatch(3) matches them.

systemd-sysctl and procps expand a glob line with glob(3), one path
component at a time. Python's ``fnmatch`` reads some patterns otherwise:
``[^k]`` is a negation to glibc and a set holding ``^`` to Python,
``[[:alpha:]]`` a character class to glibc, and a backslash escapes the
next character. Read Python's way, ``net.ipv4.tcp_[^k]*`` named the wrong
keys: the value procps writes into ``tcp_fastopen_key`` was applied to
others and shown.
"""

from __future__ import annotations

import re
import warnings
from functools import lru_cache

__all__ = ["component_matches", "may_use_braces"]

# POSIX character classes in the C locale, as regular expression ranges.
_CLASSES = {
    "alpha": "a-zA-Z",
    "digit": "0-9",
    "alnum": "a-zA-Z0-9",
    "upper": "A-Z",
    "lower": "a-z",
    "space": " \\t\\n\\r\\f\\v",
    "blank": " \\t",
    "xdigit": "0-9A-Fa-f",
    "punct": re.escape("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"),
    "cntrl": "\\x00-\\x1f\\x7f",
    "print": "\\x20-\\x7e",
    "graph": "\\x21-\\x7e",
}


def component_matches(name: str, pattern: str) -> bool:
    """Whether one path component ``name`` matches ``pattern`` as fnmatch(3) has it."""
    tokens = _compiled(pattern)
    return tokens is not None and _matches(tokens, name)


def may_use_braces(pattern: str) -> bool:
    """Whether a pattern holds ``{...}``: a brace expansion where a tool passes
    GLOB_BRACE; tcpaudit reads it literally and treats it as naming a secret."""
    start = pattern.find("{")
    return start >= 0 and pattern.find("}", start) > start


# A pattern as tokens: _STAR, _ANY, one character, or a compiled class.
_STAR, _ANY = object(), object()
_Token = object | str | re.Pattern[str]


@lru_cache(maxsize=1024)
def _compiled(pattern: str) -> tuple[_Token, ...] | None:
    """``pattern`` as tokens (runs of ``*`` merged); None when it matches nothing."""
    out: list[_Token] = []
    index, length = 0, len(pattern)
    while index < length:
        char = pattern[index]
        if char == "\\":
            if index + 1 == length:
                return None  # a pattern ending in a backslash matches nothing
            out.append(pattern[index + 1])
            index += 2
        elif char == "*":
            if not out or out[-1] is not _STAR:
                out.append(_STAR)
            index += 1
        elif char == "?":
            out.append(_ANY)
            index += 1
        elif char == "[":
            bracket = _bracket(pattern, index + 1)
            if bracket is None:  # no closing ']': a literal '['
                out.append(char)
                index += 1
            else:
                members, index = bracket
                if members is None:
                    return None  # an unknown class: glibc matches nothing
                with warnings.catch_warnings():  # "[[": the re module's FutureWarning
                    warnings.simplefilter("ignore")
                    out.append(re.compile(members, re.DOTALL))
        else:
            out.append(char)
            index += 1
    return tuple(out)


def _matches(tokens: tuple[_Token, ...], name: str) -> bool:
    """The greedy-star walk: each ``*`` retried one character further at most
    once per character, so O(len(name) * len(tokens)) (a regular expression of
    ten ``.*`` took 70 s on a line of eleven bytes)."""
    token_index = name_index = 0
    star, resume = -1, 0
    while name_index < len(name):
        if token_index < len(tokens) and tokens[token_index] is _STAR:
            star, resume = token_index, name_index
            token_index += 1
        elif token_index < len(tokens) and _one(tokens[token_index], name[name_index]):
            token_index += 1
            name_index += 1
        elif star >= 0:
            resume += 1
            token_index, name_index = star + 1, resume
        else:
            return False
    while token_index < len(tokens) and tokens[token_index] is _STAR:
        token_index += 1
    return token_index == len(tokens)


def _one(token: _Token, char: str) -> bool:
    if token is _ANY:
        return True
    if isinstance(token, str):
        return token == char
    return isinstance(token, re.Pattern) and token.fullmatch(char) is not None


def _bracket(pattern: str, index: int) -> tuple[str | None, int] | None:
    """The class opened before ``index`` and where it ends; None when unclosed."""
    length = len(pattern)
    negate = index < length and pattern[index] in "!^"
    if negate:
        index += 1
    members: list[str] = []
    first = True
    while index < length and (pattern[index] != "]" or first):
        first = False
        end = _class_end(pattern, index)
        if end is not None:
            ranges = _CLASSES.get(pattern[index + 2 : end])
            if ranges is None:
                return None, end + 2  # an unknown class: glibc matches nothing
            members.append(ranges)
            index = end + 2
            continue
        low, index = _bracket_char(pattern, index)
        if index + 1 < length and pattern[index] == "-" and pattern[index + 1] != "]":
            high, index = _bracket_char(pattern, index + 1)
            if low <= high:  # a reversed range matches nothing
                members.append(f"{re.escape(low)}-{re.escape(high)}")
            continue
        members.append(re.escape(low))
    if index >= length:
        return None
    if not members:
        return ("." if negate else "(?!)"), index + 1
    return f"[{'^' if negate else ''}{''.join(members)}]", index + 1


def _class_end(pattern: str, index: int) -> int | None:
    """Where ``[:name:]`` at ``index`` ends (its ``:]``); None when ``[`` is a
    member: glibc reads a class name only of letters 'a' to 'y'."""
    if not pattern.startswith("[:", index):
        return None
    end = index + 2
    while end < len(pattern) and "a" <= pattern[end] < "z":
        end += 1
    return end if pattern.startswith(":]", end) else None


def _bracket_char(pattern: str, index: int) -> tuple[str, int]:
    if pattern[index] == "\\" and index + 1 < len(pattern):
        return pattern[index + 1], index + 2
    return pattern[index], index + 1
