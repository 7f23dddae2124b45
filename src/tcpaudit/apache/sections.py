"""Section nesting as httpd's reader tracks it, over a file's logical lines.

Owns the rules of server/config.c for opening and closing sections
(``ap_build_config_sub``), skipping a false conditional
(``ap_soak_end_container``) and capturing a ``<Macro>`` body
(``get_lines_till_end_token`` in mod_macro.c). ``evaluator.py`` drives them.
A line is ``(line number, text, file, macros being expanded)``: expanded macro
lines keep the file and line of the macro body.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..errors import ApacheConfigError
from .lexer import first_word
from .memory import CHECK_EVERY_LINES
from .tree import Directive
from .values import ascii_lower

__all__ = [
    "MAX_SECTION_DEPTH",
    "Frame",
    "Line",
    "capture_macro_body",
    "close_section",
    "container_of",
    "kept_depth",
    "push_kept",
    "soak",
]

Line = tuple[int, str, str, tuple[str, ...]]


# Kept sections nested deeper than this are refused: the tree is walked
# recursively (as httpd walks it), and no real configuration nests sections
# more than a few levels. True conditionals do not count: they leave no node.
MAX_SECTION_DEPTH = 200


@dataclass(slots=True)
class Frame:
    """An open section: a true conditional (``node`` None) or a section kept in the tree.

    ``container`` is where directives go while this frame is the innermost one
    (the node's children, or for a conditional the list in force around it),
    so finding it costs the same at any depth.
    """

    name: str
    node: Directive | None
    line: int
    # A kept section's node.children, given by the caller (no __post_init__:
    # a frame is built for every section of a large configuration).
    container: list[Directive] | None = None
    depth: int = 0


def container_of(stack: list[Frame], root: list[Directive]) -> list[Directive]:
    """Where the next directive goes: the innermost kept section, else the file's level."""
    if stack and stack[-1].container is not None:
        return stack[-1].container
    for frame in reversed(stack):
        if frame.node is not None:
            assert frame.node.children is not None
            return frame.node.children
    return root


def kept_depth(stack: list[Frame]) -> int:
    """How many kept sections enclose the next line."""
    return stack[-1].depth if stack else 0


def push_kept(stack: list[Frame], frame: Frame, file: str) -> None:
    """Open a kept section, refusing nesting deeper than ``MAX_SECTION_DEPTH``."""
    frame.depth = depth = stack[-1].depth + 1 if stack else 1
    if depth > MAX_SECTION_DEPTH:
        raise ApacheConfigError(
            f"sections nested deeper than {MAX_SECTION_DEPTH} levels", file=file, line=frame.line
        )
    stack.append(frame)


def close_section(stack: list[Frame], word: str, file: str, number: int) -> None:
    """Close the innermost kept section with ``word`` (``</Name>``) or raise httpd's error.

    A conditional is closed elsewhere, only by a line that is exactly
    ``</IfXxx>``; any other closing word at its level has no matching section.
    """
    if not stack or stack[-1].node is None:
        bare = word[2:].removesuffix(">")
        raise ApacheConfigError(
            f"</{bare}> without matching <{bare}> section", file=file, line=number
        )
    if not word.endswith(">"):
        raise ApacheConfigError(f"{word}> directive missing closing '>'", file=file, line=number)
    frame = stack[-1]
    if ascii_lower(word[2:-1]) != ascii_lower(frame.name):
        raise ApacheConfigError(f"Expected </{frame.name}> but saw {word}", file=file, line=number)
    stack.pop()


def soak(
    lines: list[Line],
    index: int,
    name: str,
    file: str,
    opened_at: int,
    check: Callable[[str, int | None], None] | None = None,
) -> int:
    """Skip a false conditional without evaluating it; return the index after its end.

    Variables are not substituted here, and httpd blames the line that opened
    the conditional for any error. ``check`` (the load's guard) is called
    every 65,536 lines skipped.
    """
    expected = [name]
    while index < len(lines):
        number, raw, where, _expanding = lines[index]
        index += 1
        if check is not None and not index & CHECK_EVERY_LINES:
            check(where, number)
        word, rest = first_word(raw)
        if not word.startswith("<"):
            continue
        if word.startswith("</"):
            # httpd drops the last character, whatever it is.
            closing = word[2:-1]
            if ascii_lower(closing) != ascii_lower(expected[-1]):
                raise ApacheConfigError(
                    f"Expected </{expected[-1]}> but saw </{closing}>", file=file, line=opened_at
                )
            expected.pop()
            if not expected:
                return index
        else:
            opened = word[1:]
            if not rest and opened.endswith(">"):
                opened = opened[:-1]
            expected.append(opened)
    raise ApacheConfigError(
        f"Expected </{name}> before end of configuration", file=file, line=opened_at
    )


def capture_macro_body(
    lines: list[Line], index: int, file: str, opened_at: int
) -> tuple[list[Line], int]:
    """Take the lines of a ``<Macro>`` up to its ``</Macro>``; return them and the next index."""
    body: list[Line] = []
    depth = 1
    while index < len(lines):
        line = lines[index]
        index += 1
        word = first_word(line[1])[0]
        if ascii_lower(word) == "</macro>":
            depth -= 1
            if not depth:
                return body, index
        elif ascii_lower(word) == "<macro":
            depth += 1
        body.append(line)
    raise ApacheConfigError(
        "macro contents error: expected token not found: </Macro>", file=file, line=opened_at
    )
