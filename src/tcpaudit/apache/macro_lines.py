"""A file's physical lines where mod_macro reads them otherwise than the lexer.

mod_macro reads a ``<Macro>``'s body line by line with ``ap_cfg_getline`` and
keeps every line but comments: an empty line stays in the body (and ends a
line a value leaves ending in a backslash, or continues one still ending in
one), and a line that does not fit its 8,192-byte buffer ends the reading,
so the definition is refused ("expected token not found: </Macro>").

It splices a Use's expansion in as a reader of its own (``array_getstr``)
which, once the expansion is spent, goes on with the file's characters until
the logical line it is in ends; the file's own reader takes over after that
line. Two things then differ from reading the file directly:

- a last line without a line feed is dropped (the file's ``getstr`` answers
  end of file, and what was read of the line goes with it);
- an expansion whose last line a value left ending in a backslash goes on
  with the file's next lines, joined by ``ap_cfg_getline``'s rule (the end of
  all it has joined decides, so an empty line may continue too). The line's
  number is the file's line count after the last line feed read, plus one at
  the end of the file.
"""

from __future__ import annotations

from collections.abc import Callable

from .continuation import JoinedLine
from .lexer import first_word
from .macro_text import MacroError
from .memory import CHECK_EVERY_LINES
from .sections import Line
from .values import ascii_lower, utf8_length

__all__ = ["BODY_LINE_BYTES", "MacroFileLines", "expansion_lines_read"]

_SPACE = " \t\r\n\f\v"
# What ap_cfg_getline reads a body line into (MAX_STRING_LEN): the joined
# text and the line feed of its last physical line must leave room for a NUL.
BODY_LINE_BYTES = 8192


class MacroFileLines:
    """One file's text, for the lines mod_macro reads in it."""

    def __init__(self, text: str) -> None:
        self._text = text
        self._terminated = text.endswith("\n")
        self._physical: list[str] | None = None

    def _lines(self) -> list[str]:
        # Split once per file, and only for a file where it matters.
        if self._physical is None:
            self._physical = self._text.split("\n")
            if self._terminated:
                self._physical.pop()
        return self._physical

    def macro_body(
        self,
        body: list[Line],
        header_line: int,
        close_line: int,
        file: str,
        check: Callable[[str, int], None] | None = None,
    ) -> list[Line]:
        """``body`` (a macro's lines as the lexer found them, between its
        header ending at ``header_line`` and its ``</Macro>`` at
        ``close_line``) with the empty lines mod_macro keeps; MacroError when a
        line does not fit mod_macro's buffer. ``check`` (the load's bounds) is
        called every CHECK_EVERY_LINES lines."""
        physical = self._lines()
        last = len(physical) - 1
        empty: list[Line] = []
        run = 0  # empty lines in a row kept so far
        joined: JoinedLine | None = None  # the logical line being continued
        joined_bytes = 0
        for position in range(header_line, min(close_line, len(physical))):
            if check is not None and not (position - header_line + 1) % CHECK_EVERY_LINES:
                check(file, position + 1)
            line = physical[position]
            size = utf8_length(line)
            if position < last or self._terminated:
                size += 1  # its line feed
            if joined_bytes + size >= BODY_LINE_BYTES:
                raise MacroError("macro contents error: expected token not found: </Macro>")
            if "\0" in line:
                # A C string ends at the NUL: no line feed seen, no continuation.
                text = line[: line.index("\0")]
            else:
                text = line[:-1] if line.endswith("\r") else line
                if joined is not None or text.endswith("\\"):
                    if joined is None:
                        joined = JoinedLine()
                    if joined.add(text):
                        # Joined without its backslash, carriage return and line feed.
                        joined_bytes += size - 1 - line.endswith("\r") - 1
                        continue
                    text = joined.text()
            if text.strip(_SPACE):
                run = 0
            elif run < BODY_LINE_BYTES:
                # A value brings at most this many backslashes for empty lines
                # to take (its line fits the buffer): more in a row change nothing.
                run += 1
                empty.append((position + 1, "", file, ()))
            joined, joined_bytes = None, 0
        if not empty:
            return body
        return sorted([*body, *empty], key=lambda entry: entry[0])

    def joined_after(self, use_line: int, left: str) -> str:
        """The line an expansion's last line leaving ``left`` to continue makes
        with the file's lines after its Use at ``use_line``."""
        return self._join_after(use_line, left)[0].text()

    def _join_after(self, use_line: int, left: str | None) -> tuple[JoinedLine, int, int, bool]:
        """(the line joined, its number, the index of the physical line after
        the last it took, whether the file's unterminated last line was dropped)."""
        physical = self._lines()
        count = len(physical)
        joined = JoinedLine(left or "")
        position = use_line  # index of the file's next physical line
        while True:
            number = position + 1
            if position >= count:
                return joined, number, position, False
            if position == count - 1 and not self._terminated:
                return joined, number, position, True
            line = physical[position]
            position += 1
            if "\0" in line:
                # A C string ends at the NUL: no line feed seen, no continuation.
                joined.add_last(line[: line.index("\0")])
                return joined, number, position, False
            if not joined.add(line[:-1] if line.endswith("\r") else line):
                return joined, number, position, False

    def read_after(
        self, lines: list[Line], index: int, use_line: int, left: str | None, file: str
    ) -> None:
        """Make ``file``'s entries after a Use at ``use_line`` (its expansion
        spliced in at ``index``) what the Use's reader reads: ``left`` is the
        text its expansion's last line leaves to continue, or None."""
        if left is None and self._terminated:
            return  # the common case: the line reads as the file's own reader reads it
        joined, number, position, dropped = self._join_after(use_line, left)
        if left is None and not dropped:
            return  # the line after the Use does not reach the file's last one
        last_read = position + 1 if dropped else position
        start = next(
            (place for place in range(index, len(lines)) if not lines[place][3]), len(lines)
        )
        end = start
        while end < len(lines) and lines[end][0] <= last_read:
            end += 1
        # No entry of the lexer's begins at or before last_read and ends after
        # it: where this line stops, the lexer's line through it stops too (a
        # line not ending in a backslash, or an empty one after a joined text
        # whose end both see alike).
        text = joined.text().strip(_SPACE)
        kept = [(number, text, file, ())] if text and text[0] != "#" else []
        lines[start:end] = kept


def expansion_lines_read(expanded: list[Line]) -> list[Line]:
    """The lines of an expansion the reader takes: not its comments, and its
    empty lines only inside the body of a macro it defines (the definition
    takes them; the reader never sees them)."""
    kept: list[Line] = []
    depth = 0
    for entry in expanded:
        text = entry[1]
        if not text:
            if depth:
                kept.append(entry)
            continue
        if text[0] == "#":
            continue
        if text[0] == "<":
            word = ascii_lower(first_word(text)[0])
            if word == "<macro":
                depth += 1
            elif word == "</macro>" and depth:
                depth -= 1
        kept.append(entry)
    return kept
