"""Where a construct inside a shell word ends, as dash reads it.

``${...}``, double quotes, ``$(...)`` and backquotes nest and quote inside
one another; the lexer (``shell_lexer.py``) and the expansion of words
(``shellwords.py``) both need their ends. Stacks, not recursion: a line may
nest deeper than Python does.
"""

from __future__ import annotations

import re

__all__ = [
    "NAME",
    "SIMPLE_SUBSTITUTIONS",
    "brace_frame",
    "closing_brace",
    "closing_quote",
    "closing_substitution",
    "plain_expansion_end",
    "scan",
]

NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NESTING = re.compile(r"[()'\"`\\]")
# "${NAME#" or "${NAME%": a trim, whose pattern reads quotes as quotes even
# inside double quotes (the word of "${X:-'a'}" keeps its single quotes).
_TRIM_AFTER_BRACE = re.compile(r"(?:[A-Za-z_][A-Za-z0-9_]*|[0-9@*#?$!-])[#%]")
# A run of `cmd` and $(cmd) with nothing nested: read at once, not one by one.
SIMPLE_SUBSTITUTIONS = re.compile(r"(?:\$\([^()'\"`\\]*+\)|`[^`\\]*+`)++")


def plain_expansion_end(text: str, index: int) -> int:
    """The end of ``$NAME`` or ``$?``-like at ``text[index]``; a ``$`` that starts
    neither is a character (``$'...'`` is ``$`` and a quoted string in dash)."""
    name = NAME.match(text, index + 1)
    if name:
        return name.end()
    following = text[index + 1 : index + 2]
    return index + 2 if following and following in "0123456789@*#?$!-" else index + 1


def brace_frame(text: str, index: int, quoted: bool) -> str:
    """How the ``${`` ending before ``index`` reads: ``}`` where single quotes
    quote, ``)`` where they are characters (inside double quotes, not a trim)."""
    return "}" if not quoted or _TRIM_AFTER_BRACE.match(text, index) else ")"


def scan(text: str, index: int, frame: str) -> int:
    """The index after the end of the construct open before ``index`` (``frame``:
    ``"`` a double-quoted run, ``}`` or ``)`` a ``${``, see ``brace_frame``);
    -1 when the text ends first.

    As dash reads it: inside ``${...}`` double quotes and backslashes quote
    (``${X%"}"}``, ``${X#\\}}`` do not end there), single quotes too unless
    the expansion stands in double quotes and is no trim; a ``{`` alone opens
    nothing (``${X#{}}`` ends at the first ``}``); inside double quotes a
    ``'`` is a character; nested ``${...}``, ``$(...)`` and backquotes are
    skipped whole. A stack, not recursion: a line may nest deeper than Python.
    """
    stack = [frame]
    length = len(text)
    while index < length:
        char = text[index]
        top = stack[-1]
        if char == "\\":
            index += 2
        elif char == "'" and top == "}":
            end = text.find("'", index + 1)
            index = length if end < 0 else end + 1
        elif char == '"' and top == '"':
            stack.pop()
            index += 1
            if not stack:
                return index
        elif char == '"':
            stack.append('"')
            index += 1
        elif text.startswith("${", index):
            stack.append(brace_frame(text, index + 2, top in '")'))
            index += 2
        elif char == "`" or text.startswith("$(", index):
            index = closing_substitution(text, index)
            if index < 0:
                return -1
        elif char == "}" and top != '"':
            stack.pop()
            index += 1
            if not stack:
                return index
        else:
            index += 1
    return -1


def closing_brace(text: str, index: int, quoted: bool = False) -> int:
    """The index after the ``}`` closing the ``${`` before ``index``, else the
    text's end; ``quoted``: the expansion stands inside double quotes."""
    end = scan(text, index, brace_frame(text, index, quoted))
    return len(text) if end < 0 else end


def closing_quote(text: str, index: int) -> int:
    """The index of the ``"`` closing a double-quoted run that starts at ``index``
    (the text's length when none does)."""
    end = scan(text, index, '"')
    return len(text) if end < 0 else end - 1


def closing_substitution(text: str, index: int) -> int:
    """The index after the backquote or ``$(...)`` starting at ``text[index]``,
    -1 when the text ends first: quotes inside are skipped whole
    (``$(echo ")")``), nested ``$(`` counted. A stack, not recursion."""
    length = len(text)
    # The common short forms, `cmd` and $(cmd) with nothing nested, at once.
    if text[index] == "`":
        end = text.find("`", index + 1)
        if end > 0 and "\\" not in text[index:end]:
            return end + 1
    else:
        end = text.find(")", index + 2)
        if end > 0 and not _NESTING.search(text, index + 2, end):
            return end + 1
    if text[index] == "`":
        end = index + 1
        while end < length and text[end] != "`":
            end += 2 if text[end] == "\\" else 1
        return end + 1 if end < length else -1
    stack = ["("]
    index += 2
    while index < length:
        char = text[index]
        if char == "\\":
            index += 2
        elif stack[-1] == '"':
            if char == '"':
                stack.pop()
            elif text.startswith("$(", index):
                stack.append("(")
                index += 1
            index += 1
        elif char == "'":
            end = text.find("'", index + 1)
            index = length if end < 0 else end + 1
        elif char in '"(':
            stack.append(char)
            index += 1
        elif char == ")":
            stack.pop()
            index += 1
            if not stack:
                return index
        elif char == "`":
            index = closing_substitution(text, index)
            if index < 0:
                return -1
        else:
            index += 1
    return -1
