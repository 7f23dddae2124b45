"""ap_cfg_getline's rule for a line that continues, on the text joined so far.

httpd reads a physical line and looks at the last character of *all* it has
joined for the logical line: a backslash there is removed and the next
physical line is joined on. So an empty line continues a joined text that
still ends in a backslash (``x\\\\`` then an empty line), and a line a
value leaves ending in a backslash continues whatever comes next.

Every reader of continued lines uses this one class: the lexer (a file's
physical lines), mod_macro's expansion (a Use's body lines with its values)
and what mod_macro reads of the file after a Use.
"""

from __future__ import annotations

__all__ = ["JoinedLine"]


class JoinedLine:
    """The text of one logical line being joined.

    Removing a backslash moves the end of the piece it is in back instead of
    copying that piece: a line of a million backslashes followed by a
    million empty lines costs a million steps, not a million copies.
    """

    __slots__ = ("_ends", "_pieces")

    def __init__(self, start: str = "") -> None:
        self._pieces: list[str] = []
        self._ends: list[int] = []
        if start:
            self._pieces.append(start)
            self._ends.append(len(start))

    def add(self, text: str) -> bool:
        """Join ``text`` (a physical line without its line feed, and without the
        carriage return before it); True when the line goes on, its final
        backslash removed."""
        pieces, ends = self._pieces, self._ends
        if text:
            pieces.append(text)
            ends.append(len(text))
        while ends and not ends[-1]:
            pieces.pop()
            ends.pop()
        if ends and pieces[-1][ends[-1] - 1] == "\\":
            ends[-1] -= 1
            return True
        return False

    def add_last(self, text: str) -> None:
        """Join ``text`` that cannot continue (a line without a line feed, or
        cut at a NUL byte: httpd sees no line feed after it)."""
        if text:
            self._pieces.append(text)
            self._ends.append(len(text))

    def text(self) -> str:
        """What was joined."""
        return "".join(
            piece if end == len(piece) else piece[:end]
            for piece, end in zip(self._pieces, self._ends, strict=True)
        )
