"""Include wildcards: a matcher linear in pattern x name, same answers as the regex it replaced.

``reference`` translates an ``apr_fnmatch`` pattern into a Python regex (as
the loader did): right, but exponential on ``*a*a*a*a*a*b`` against a long
name. The loader's matcher (and the regex it builds for patterns of one
star) must agree with it everywhere it finishes.
"""

from __future__ import annotations

import re
import time

from hypothesis import example, given, settings
from hypothesis import strategies as st

from tcpaudit.apache.includes import _glob_match, _items, _one_star_regex


def _members(body: str) -> str:
    """A bracket's members as a regex class body; a reversed range matches
    nothing (apr_fnmatch), and the members beside it still match."""
    out: list[str] = []
    index = 0
    while index < len(body):
        char = body[index]
        if index + 2 < len(body) and body[index + 1] == "-":
            last = body[index + 2]
            if char <= last:
                out.append(f"{re.escape(char)}-{re.escape(last)}")
            index += 3
            continue
        out.append(re.escape(char))
        index += 1
    return "".join(out)


def reference(pattern: str, name: str) -> bool:
    out: list[str] = []
    index = 0
    length = len(pattern)
    while index < length:
        char = pattern[index]
        index += 1
        if char == "*":
            out.append(".*")
        elif char == "?":
            out.append(".")
        elif char == "\\" and index < length:
            out.append(re.escape(pattern[index]))
            index += 1
        elif char == "[":
            end = index
            if end < length and pattern[end] in "!^":
                end += 1
            if end < length and pattern[end] == "]":
                end += 1
            while end < length and pattern[end] != "]":
                end += 1
            if end >= length:
                out.append(re.escape("["))
                continue
            body = pattern[index:end]
            index = end + 1
            negate = body[:1] in ("!", "^")
            if negate:
                body = body[1:]
            members = _members(body)
            if members:
                out.append(f"[{'^' if negate else ''}{members}]")
            else:  # only reversed ranges: nothing, or (negated) any character
                out.append("." if negate else "(?!)")
        else:
            out.append(re.escape(char))
    try:
        compiled = re.compile("".join(out), re.DOTALL)
    except re.error:
        return False
    return compiled.fullmatch(name) is not None


@settings(max_examples=2000, deadline=None)
@given(
    st.text(alphabet="ab.*?[]!^-\\", max_size=10),
    st.text(alphabet="ab.-]\\^!*", max_size=10),
)
# A reversed range beside a member that matches (the reference took the
# whole bracket for an error).
@example(pattern="[?-..]", name=".")
@example(pattern="[!b-a]", name="x")
def test_agrees_with_the_regex_translation(pattern: str, name: str) -> None:
    expected = reference(pattern, name)
    assert _glob_match(_items(pattern), name) == expected
    # Patterns of at most one star go through a regex built from the items.
    regex = _one_star_regex(pattern)
    if regex is not None:
        assert (regex.fullmatch(name) is not None) == expected


def test_stars_do_not_backtrack_exponentially() -> None:
    started = time.process_time()
    assert not _glob_match(_items("*a*a*a*a*a*a*a*b"), "a" * 4000)
    assert _glob_match(_items("*a*a*a*a*a*a*a*b"), "a" * 4000 + "b")
    # Quadratic at worst: well under a second here; the regex took minutes at 250.
    assert time.process_time() - started < 10
