"""``test`` and ``[``, as dash's test(1) evaluates them over known words.

String tests (``-z``, ``-n``, ``=``, ``!=``), integer comparisons over 64-bit
numbers (anything else is test's error: status 2, as ``is_error`` says), and
file tests answered by the audited root. Other forms are not known (None).
"""

from __future__ import annotations

import re
from collections.abc import Callable

__all__ = ["evaluate_test", "is_error"]

# strtoimax skips C's blanks before a number; after it dash skips them too,
# bash only spaces and tabs (legal_number). Python's \s and int() take
# Unicode's, which neither shell does.
_C_BLANKS = " \t\n\v\f\r"
_NUMBER = re.compile(r"[ \t\n\v\f\r]*[-+]?[0-9]+[ \t\n\v\f\r]*")
_BASH_NUMBER = re.compile(r"[ \t\n\v\f\r]*[-+]?[0-9]+[ \t]*")
_INT64 = (-(2**63), 2**63 - 1)
_BINARY = frozenset(("=", "!=", "-eq", "-ne", "-lt", "-le", "-gt", "-ge", "-nt", "-ot", "-ef"))


def evaluate_test(
    args: list[str], exists: Callable[[str, str], bool | None] | None, *, bash: bool = False
) -> bool | None:
    """What ``test args`` gives (``[``'s closing ``]`` removed); None when not
    known. ``exists(test, path)`` answers the file tests. bash's test takes
    ``==`` for ``=``."""
    args, negations = _parsed(args, bash)
    result = _test_plain(args, exists, bash)
    if result is None or (result is False and _is_error(args, bash)):
        return result  # an error (status 2) stays one under "!"
    return result if negations % 2 == 0 else not result


def _parsed(args: list[str], bash: bool) -> tuple[list[str], int]:
    """The test under its leading ``!`` words, and how many negations they make.

    Three words around a binary operator are that test, whatever the words
    (``[ ! = a ]`` compares "!" with "a"; ``[ = == == ]`` "=" with "=="), and
    bash's ``==`` there is ``=``. dash's test (testcmd) reads three or four
    words its own way first: ``( ... )`` around them is dropped, and a
    leading ``!`` *sets* the negation rather than flipping it, so ``[ ! ! -z x ]``
    is ``[ ! -z x ]``; the words left go to its general parser, where each
    ``!`` negates.
    """
    negations = 0
    if not bash:
        negated = False
        while len(args) in (3, 4) and not (len(args) == 3 and args[1] in _BINARY):
            if args[0] == "(" and args[-1] == ")":
                args = args[1:-1]
                break
            if args[0] != "!":
                break
            negated, args = True, args[1:]
        negations = int(negated)
    while (
        args[:1] == ["!"]
        and len(args) > 1
        and not (len(args) == 3 and (args[1] in _BINARY or (bash and args[1] == "==")))
    ):
        negations, args = negations + 1, args[1:]
    if bash and len(args) == 3 and args[1] == "==":
        args = [args[0], "=", args[2]]
    return args, negations


def _test_plain(
    args: list[str], exists: Callable[[str, str], bool | None] | None, bash: bool
) -> bool | None:
    if len(args) == 0:
        return False
    if len(args) == 1:
        return args[0] != ""
    if len(args) == 2:
        if args[0] == "-z":
            return args[1] == ""
        if args[0] == "-n":
            return args[1] != ""
        if args[0] in ("-e", "-f", "-d", "-r", "-s", "-x", "-L", "-h") and exists is not None:
            return exists(args[0], args[1])
        return None
    if len(args) == 3:
        left, op, right = args
        if op == "=":
            return left == right
        if op == "!=":
            return left != right
        numeric = {"-eq": int.__eq__, "-ne": int.__ne__, "-lt": int.__lt__,
                   "-le": int.__le__, "-gt": int.__gt__, "-ge": int.__ge__}  # fmt: skip
        if op in numeric:
            numbers = [_integer(left, bash), _integer(right, bash)]
            if numbers[0] is None or numbers[1] is None:
                return False  # "illegal number" or out of range: an error, the test fails
            return bool(numeric[op](numbers[0], numbers[1]))
        if op == "==":
            if any(word[:1] == "-" or word in ("(", ")", "!") for word in (left, right)):
                return None  # dash's general parser may read "-n == -o" otherwise
            return False  # dash's test knows no "==": an error, the test fails
    return None


def is_error(args: list[str], *, bash: bool = False) -> bool:
    """Whether a failing test failed as an error (an unknown operator, a
    number that is none), under its ``!`` words too: test(1) then gives 2, not 1."""
    return _is_error(_parsed(args, bash)[0], bash)


def _is_error(args: list[str], bash: bool) -> bool:
    if len(args) != 3 or args[1] in ("=", "!=") or (bash and args[1] == "=="):
        return False
    return args[1] == "==" or _integer(args[0], bash) is None or _integer(args[2], bash) is None


def _integer(text: str, bash: bool) -> int | None:
    if not (_BASH_NUMBER if bash else _NUMBER).fullmatch(text):
        return None
    number = text.strip(_C_BLANKS)
    digits = number.lstrip("+-").lstrip("0")
    if len(digits) > 19:
        return None  # out of 64 bits whatever its digits (and int() of thousands is slow)
    value = int(number)
    return value if _INT64[0] <= value <= _INT64[1] else None
