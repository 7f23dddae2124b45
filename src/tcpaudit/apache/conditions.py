"""Parse the arguments of httpd's conditional sections exactly as httpd does.

Owns the argument syntax of ``<IfModule>``, ``<IfDefine>``, ``<IfFile>``,
``<IfDirective>``, ``<IfSection>`` (``start_cond_section`` in server/core.c)
and ``<IfVersion>`` (``start_ifversion`` in modules/metadata/mod_version.c);
``evaluator.py`` decides what each condition tests.
"""

from __future__ import annotations

import os
import re
import select
import signal
import warnings

from .lexer import split_words
from .values import c_int, c_long

__all__ = ["ConditionError", "compare_version", "condition_argument", "if_version"]


# A regular expression from the configuration is matched in a child process
# killed after this long: Python's engine has no match limit (PCRE, httpd's,
# has one), and `(.?){40}(.?){40}x` backtracks for minutes on "2.4.62".
REGEX_SECONDS = 2.0
_QUANTIFIERS = frozenset("*+?{")
_NO_MATCH, _MATCH, _INVALID = 0, 1, 2


def _search(pattern: str, subject: str) -> int:
    try:
        # A pattern of the configuration ("[[a-z]") may make the re module
        # warn (FutureWarning): stderr carries error and note lines only.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compiled = re.compile(pattern)
    except (re.error, RecursionError, OverflowError):
        return _INVALID
    return _MATCH if compiled.search(subject) is not None else _NO_MATCH


def _regex_matches(pattern: str, subject: str) -> bool:
    """Whether ``pattern`` finds a match in ``subject``, within REGEX_SECONDS.

    Raises:
        ConditionError: the pattern does not compile, or takes too long.
    """
    if _QUANTIFIERS.isdisjoint(pattern):
        outcome = _search(pattern, subject)  # no repetition: nothing to backtrack
    else:
        outcome = _search_in_child(pattern, subject)
    if outcome == _INVALID:
        raise ConditionError("Unable to compile regular expression")
    return outcome == _MATCH


def _search_in_child(pattern: str, subject: str) -> int:
    reading, writing = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover (the child reports through the pipe)
        code = _INVALID
        try:
            os.close(reading)
            code = _search(pattern, subject)
        finally:
            os.write(writing, bytes([code]))
            os._exit(0)
    os.close(writing)
    answer = b""
    try:
        ready, _, _ = select.select([reading], [], [], REGEX_SECONDS)
        answer = os.read(reading, 1) if ready else b""
    finally:
        os.close(reading)
        if not answer:
            os.kill(child, signal.SIGKILL)
        os.waitpid(child, 0)
    if not answer:
        raise ConditionError(
            f"the regular expression takes more than {REGEX_SECONDS:g} s to match; "
            "tcpaudit stops it (httpd's PCRE gives up at its match limit)"
        )
    return answer[0]


class ConditionError(Exception):
    """A conditional section httpd refuses; the message is httpd's."""


def condition_argument(section: str, raw_args: str) -> tuple[bool, str]:
    """Return ``(negated, argument)`` of a ``<IfModule ...>``-style section.

    httpd cuts the text at the *last* ``>``, takes ``!`` only as the very first
    character, then uses the first word alone (more words are ignored).
    """
    end = raw_args.rfind(">")
    if end < 0:
        raise ConditionError(f"<{section}> directive missing closing '>'")
    text = raw_args[:end]
    negated = text.startswith("!")
    if negated:
        text = text[1:]
    words = split_words(text)
    if not words or not words[0]:
        raise ConditionError(f"<{section}> directive requires additional arguments")
    return negated, words[0]


def compare_version(text: str, current: tuple[int, ...]) -> int:
    """``compare_version`` of mod_version: -1, 0 or 1 for current vs ``major[.minor[.patch]]``."""
    invalid = ConditionError(
        "Version appears to be invalid. It must have the format major[.minor[.patch]] "
        "where major, minor and patch are numbers."
    )
    if not ("0" <= text[:1] <= "9" and text[:1]):  # apr_isdigit: ASCII only
        raise invalid
    # The C loop: up to three '.'-separated runs of digits (empty runs count as 0);
    # anything after the third separator, or a non-digit, is an error.
    parts: list[int] = []
    position = 0
    segment_start = 0
    while position <= len(text) and len(parts) < 3:
        if position == len(text) or text[position] == ".":
            segment = text[segment_start:position]
            # atoi: (int) strtol, so a part past a long saturates and then
            # keeps its low 32 bits (4294967367 is 71; 2147483648 is negative).
            parts.append(c_int(c_long(segment)) if segment else 0)
            position += 1
            segment_start = position
            continue
        if not "0" <= text[position] <= "9":
            break
        position += 1
    if position < len(text):
        raise invalid
    wanted = (*parts, 0, 0, 0)[:3]
    mine = (*current, 0, 0, 0)[:3]
    return (mine > wanted) - (mine < wanted)


def if_version(raw_args: str, current: tuple[int, ...]) -> bool:
    """Evaluate ``<IfVersion [[!]op] version>`` for httpd ``current``.

    Operators ``=``/``==``, ``<``, ``<=``, ``>``, ``>=``, ``~`` (regex) and
    ``/regex/`` after ``=``; ``!`` negates. A version has at most three parts.
    """
    words = split_words(raw_args)
    if not 1 <= len(words) <= 3:
        raise ConditionError("<IfVersion takes one, two or three arguments")
    first = words[0]
    second = words[1] if len(words) > 1 else None
    third = words[2] if len(words) > 2 else None
    if second is None:
        first, second = "=", first
    if third is None and second == ">":
        first, second, third = "=", first, ">"
    if not second or (third != ">" and not second.endswith(">")):
        raise ConditionError("<IfVersion> directive missing closing '>'")
    version = second if third == ">" else second[:-1]
    operator = first
    negate = operator.startswith("!")
    if negate and len(operator) > 1:
        operator = operator[1:]
    head, tail = operator[:1], operator[1:]
    if not (tail == "" or (tail == "=" and head != "~")) or head not in "=~<>" or not head:
        raise ConditionError(f"unrecognized operator '{first}'")
    if head == "=" and version.startswith("/"):
        if len(version) < 2 or not version.endswith("/"):
            raise ConditionError("Missing delimiting / of regular expression.")
        head, version = "~", version[1:-1]
    if head == "~":
        subject = ".".join(str(part) for part in (*current, 0, 0, 0)[:3])
        result = _regex_matches(version, subject)
    else:
        compared = compare_version(version, current)
        if head == "=":
            result = compared == 0
        elif head == "<":
            result = compared == -1 or (tail == "=" and compared == 0)
        else:
            result = compared == 1 or (tail == "=" and compared == 0)
    return result != negate
