"""The file's line after a ``Use``, read as mod_macro's reader reads it.

mod_macro splices a Use's expansion in as a reader of its own
(``array_getstr``) which, once the expansion is spent, goes on with the
file's characters until the logical line it is in ends; the file's own
reader takes over after that line. Two things then differ from reading the
file directly:

- a last line without a line feed is dropped (the file's ``getstr`` answers
  end of file, and what was read of the line goes with it);
- an expansion whose last line a value left ending in a backslash goes on
  with the file's next lines, joined by ``ap_cfg_getline``'s rule (the end of
  all it has joined decides, so an empty line may continue too). The line's
  number is the file's line count after the last line feed read, plus one at
  the end of the file.
"""

from __future__ import annotations

from .sections import Line

__all__ = ["FileAfterUse"]

_SPACE = " \t\r\n\f\v"


class FileAfterUse:
    """One file's text, for the line its Uses' reader takes after them."""

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

    def read_after(
        self, lines: list[Line], index: int, use_line: int, left: str | None, file: str
    ) -> None:
        """Make ``file``'s entries after a Use at ``use_line`` (its expansion
        spliced in at ``index``) what the Use's reader reads: ``left`` is the
        text its expansion's last line leaves to continue, or None."""
        if left is None and self._terminated:
            return  # the common case: the line reads as the file's own reader reads it
        physical = self._lines()
        count = len(physical)
        joined = left or ""
        position = use_line  # index of the file's next physical line
        dropped = False
        while True:
            number = position + 1
            if position >= count:
                break
            if position == count - 1 and not self._terminated:
                dropped = True
                break
            line = physical[position]
            position += 1
            if "\0" in line:
                # A C string ends at the NUL: no line feed seen, no continuation.
                joined += line[: line.index("\0")]
                break
            joined += line[:-1] if line.endswith("\r") else line
            if not joined.endswith("\\"):
                break
            joined = joined[:-1]
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
        text = joined.strip(_SPACE)
        kept = [(number, text, file, ())] if text and text[0] != "#" else []
        lines[start:end] = kept
