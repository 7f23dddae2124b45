"""Regular expressions PCRE refuses for certain, judged without PCRE.

httpd compiles patterns with PCRE (ap_pregcomp); tcpaudit has Python's
``re``, which refuses some patterns PCRE takes (``(?<name>...)`` before
Python 3.12, PCRE's ``(*VERB)`` groups) and takes some PCRE refuses. A pattern is said refused only
when ``re`` refuses it for a reason PCRE shares, each held to the real
apache2 by tests/apache/test_proxy_params.py: a quantifier with nothing to
repeat or repeated again, a group or character set never closed, a ``)``
never opened, a ``{m,n}`` with m over n, a range out of order or with a
class at one end (``[z-a]``, ``[\\w-a]``), a backslash ending the pattern;
and one ``re`` takes: a ``{m,n}`` count over 65,535 (PCRE's limit, re's is
4,294,967,295). Any other pattern is accepted.
"""

from __future__ import annotations

import math
import re
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

from .shell_state import REDACTED_VALUE

__all__ = ["PatternDeadlineError", "pattern_deadline", "pcre_refuses"]

# A verb, option or assertion, and "(*:NAME)", (*MARK:NAME) for short.
_VERB = re.compile(r"\(\*(?:[A-Za-z]|:[^)])")
# "\c\" at the end: a control character (0x1C) to PCRE, a last backslash to re.
_CONTROL_LAST = re.compile(r"(?<!\\)(?:\\\\)*+\\c\\\Z")
_SHARED_REASONS = frozenset(
    {
        "nothing to repeat",
        "multiple repeat",
        "missing ), unterminated subpattern",
        "unbalanced parenthesis",
        "unterminated character set",
        "min repeat greater than max repeat",
    }
)
# "bad character range z-a", "\w-a": PCRE2 refuses a range out of order or
# with a class at one end too.
_SHARED_PREFIXES = ("bad character range ",)


# Every reason above needs one of these, or a last backslash: a pattern
# without any (``^/old0$``, one per vhost in a generated tree) is never
# compiled (10,000 compiles took a second).
_MAY_BE_REFUSED = re.compile(r"[()\[\]{}*+?]|\\\Z")
# A count of five digits or more: what a count over PCRE's 65,535 needs.
_LONG_COUNT = re.compile(r"\{[0-9]*,?[0-9]{5}")
_COUNT = re.compile(r"\{([0-9]+)(?:,([0-9]*))?\}")
_MAX_COUNT = 65_535
# An escape whose braces are its own (\x{41}, \p{L}, \g{2}, \k{name}, \o{7}); not \N,
# which is "not a newline" without UTF mode (\N{70000} is a count).
_BRACED_ESCAPES = frozenset("xopPgk")
_EXTENDED = re.compile(r"\(\?[A-Za-z^-]*x")
# A quantifier, blanks, then a lazy or possessive modifier (extended mode).
_SPACED_MODIFIER = re.compile(r"[*+?}][ \t\n\r\f\v]+[?+]")
# PCRE's POSIX classes, written inside a character class ("[[:alpha:]_]").
_POSIX_CLASS = re.compile(
    r"\[:\^?(?:alnum|alpha|ascii|blank|cntrl|digit|graph|lower|print|punct|space|upper|word"
    r"|xdigit):\]"
)


# A pattern compiles in about 2 us a character (as bytes): 3,000 of 1,000
# characters took 45 s when only those over 1,024 were held to the load's CPU
# bound. Every compile is now; and a pattern over 64 KiB is not judged (one
# compile of it would take more than 0.15 s: 90 s for 60 MiB). PCRE's
# compiled form holds 64 Ki units, so httpd refuses most such patterns.
_LONGEST_JUDGED = 64 * 1024
_deadline = [math.inf]
# Thousands of vhosts repeat a few patterns (<FilesMatch "\.php$">): each is
# judged once (a compile in a warnings context costs microseconds).
_VERDICTS: dict[str, bool] = {}
_VERDICTS_KEPT = 4096


class PatternDeadlineError(Exception):
    """A pattern was to be compiled past the load's CPU time bound."""


@contextmanager
def pattern_deadline(deadline: float) -> Iterator[None]:
    """Within this, a pattern compiled past ``deadline`` (process time) raises
    PatternDeadlineError: the caller names the line and stops the load."""
    _deadline[0] = deadline
    try:
        yield
    finally:
        _deadline[0] = math.inf


def pcre_refuses(pattern: str) -> bool:
    """Whether PCRE refuses ``pattern`` for a reason Python's ``re`` shows too.

    Raises:
        PatternDeadlineError: see ``pattern_deadline``.
    """
    if len(pattern) > _LONGEST_JUDGED or _MAY_BE_REFUSED.search(pattern) is None:
        return False
    verdict = _VERDICTS.get(pattern)
    if verdict is None:
        if time.process_time() > _deadline[0]:
            raise PatternDeadlineError
        verdict = _refused(pattern)
        if len(_VERDICTS) >= _VERDICTS_KEPT:
            _VERDICTS.clear()
        _VERDICTS[pattern] = verdict
    return verdict


def _refused(pattern: str) -> bool:
    if REDACTED_VALUE in pattern:
        # A secret-named Define's value the reader hid: what httpd compiles is
        # not known ("[${RE_TOKEN}]" read as a range out of order).
        return False
    if _VERB.search(pattern):
        # PCRE's verbs, options and assertions ((*FAIL), (*UTF), (*pla:...)),
        # which re reads as a quantifier with nothing to repeat; a "(*" with
        # no name after it PCRE refuses too. A verb's name is text
        # ("(*MARK:a{70000})"): not judged at all.
        return False
    if _LONG_COUNT.search(pattern) and _count_too_big(pattern):
        return True
    if _EXTENDED.search(pattern) and _SPACED_MODIFIER.search(pattern):
        # (?x) a+ ?: PCRE skips the blank and reads a lazy or possessive
        # quantifier, re a second one ("multiple repeat"). Not judged.
        return False
    if "[:" in pattern:
        # re knows no POSIX class: in "[[:space:](]" it ends the class at ":]"
        # and reads "(]" as a group. Each class stands for one character.
        pattern = _without_posix_classes(pattern)
    try:
        with warnings.catch_warnings():
            # A FutureWarning ("possible nested set") is no refusal.
            warnings.simplefilter("ignore")
            # httpd's PCRE reads bytes (no UTF mode): "[ü-é]" is a range of
            # bytes in order, which re compares as code points otherwise; and
            # (?i) folds 256 values of a class, not 65,536 (0.4 s a compile
            # of 55 classes [\x00-\uffff] as text).
            re.compile(pattern.encode("utf-8", "surrogateescape"))
    except re.error as error:
        if "{," in pattern and error.msg in ("nothing to repeat", "multiple repeat"):
            # PCRE2 before 10.43 reads "{," and "{,n}" as text, re as a quantifier.
            return False
        if error.msg == "bad escape (end of pattern)":
            # PCRE reads a last backslash as a literal inside \Q...\E and in an
            # extended-mode comment: a refusal only where neither may be.
            return (
                "\\Q" not in pattern
                and "(?" not in pattern
                and _CONTROL_LAST.search(pattern) is None
            )
        return error.msg in _SHARED_REASONS or error.msg.startswith(_SHARED_PREFIXES)
    except (RecursionError, OverflowError, MemoryError):
        return False
    return False


def _count_too_big(pattern: str) -> bool:
    """Whether a ``{m}``, ``{m,}`` or ``{m,n}`` quantifier counts past 65,535
    ("number too big in {} quantifier"), read as PCRE2 10.42 reads the
    pattern: not inside a character class, ``\\Q...\\E``, a ``(?#...)``
    comment or an escape's own braces. Not judged in extended mode, where
    ``#`` starts a comment, nor with a callout."""
    if _EXTENDED.search(pattern) or "(?C" in pattern:
        return False  # a callout's string ("(?C'{70000}')") is text: not judged
    index, length = 0, len(pattern)
    while index < length:
        character = pattern[index]
        if character == "\\":
            following = pattern[index + 1 : index + 2]
            if following == "Q":
                end = pattern.find("\\E", index + 2)
                index = length if end < 0 else end + 2
            elif following in _BRACED_ESCAPES and pattern[index + 2 : index + 3] == "{":
                end = pattern.find("}", index + 3)
                index = length if end < 0 else end + 1
            elif following == "c":
                index += 3  # \cX: the next character is its own (\c{ is a control character)
            else:
                index += 2
        elif character == "[":
            index = _class_end(pattern, index)
        elif pattern.startswith("(?#", index):
            end = pattern.find(")", index)
            index = length if end < 0 else end + 1
        elif character == "{":
            count = _COUNT.match(pattern, index)
            if count is not None:
                if any(_over_max(digits) for digits in count.groups("")):
                    return True
                index = count.end()
            else:
                index += 1
        else:
            index += 1
    return False


def _over_max(digits: str) -> bool:
    significant = digits.lstrip("0")
    return len(significant) > 5 or int(significant or 0) > _MAX_COUNT


def _without_posix_classes(pattern: str) -> str:
    """``pattern`` with each POSIX class written inside a character class
    replaced by ``_`` (not ``\\[:alpha:]``, an escaped bracket, nor one
    inside ``\\Q...\\E``), classes read as PCRE reads them."""
    pieces: list[str] = []
    done, index, length = 0, 0, len(pattern)
    inside = False
    while index < length:
        character = pattern[index]
        if character == "\\":
            index = _after_escape(pattern, index)
        elif not inside:
            if character == "[":
                inside = True
                index += 1
                if pattern[index : index + 1] == "^":
                    index += 1
                if pattern[index : index + 1] == "]":
                    index += 1  # a first "]" is a member
            else:
                index += 1
        elif character == "[" and (posix := _POSIX_CLASS.match(pattern, index)) is not None:
            pieces += (pattern[done:index], "_")
            done = index = posix.end()
        else:
            inside = character != "]"
            index += 1
    pieces.append(pattern[done:])
    return "".join(pieces)


def _after_escape(pattern: str, index: int) -> int:
    """The index after the escape at ``index``: ``\\Q...\\E`` whole, else two characters."""
    if pattern.startswith("\\Q", index):
        end = pattern.find("\\E", index + 2)
        return len(pattern) if end < 0 else end + 2
    return index + 2


def _class_end(pattern: str, index: int) -> int:
    """The index after the character class opening at ``index`` (``]`` first is
    a member; ``[:alpha:]`` and escapes inside)."""
    length = len(pattern)
    index += 1
    if pattern[index : index + 1] == "^":
        index += 1
    if pattern[index : index + 1] == "]":
        index += 1
    while index < length:
        character = pattern[index]
        if character == "\\":
            index = _after_escape(pattern, index)  # "[\\Q]\\E]": the first "]" is quoted
        elif character == "[" and pattern[index + 1 : index + 2] in (":", ".", "="):
            end = pattern.find(pattern[index + 1] + "]", index + 2)
            index = index + 1 if end < 0 else end + 2
        elif character == "]":
            return index + 1
        else:
            index += 1
    return length
