"""httpd's longest configuration line: 16 MiB (server/config.c, VARBUF_MAX_LEN).

httpd reads each logical line into a buffer that grows up to 16 MiB; a line
that does not fit stops the reading with "Error reading FILE at line N:
Line too long", N the physical line it was reading. Measured on apache2
2.4: a line ending in a line feed fits when its text (a carriage return
included) is at most 16 MiB less one byte, the last line without a line
feed when it is at most 16 MiB; a continued line counts what it joins
(each joining backslash and line feed removed) and its last line feed.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import compress
from itertools import count as count_from

from .continuation import JoinedLine
from .memory import CHECK_EVERY_LINES

__all__ = ["LINE_LIMIT_BYTES", "TooLongLine", "line_too_long"]

LINE_LIMIT_BYTES = 16 * 1024 * 1024
# The buffer's last size: doubling from 207 bytes (each block the allocator's,
# 2**k bytes less 57 of headers and NUL), it is 2**24 - 57 bytes, short of
# the limit, when it grows once more, to 2**25 - 57. A continued line's
# physical line that does not fit there (its line feed included) stops the
# reading at once; otherwise the limit is checked when the logical line ends.
_BUFFER_BYTES = 2**25 - 57


class TooLongLine:
    """Where httpd stops reading a text: its logical line's first physical
    line (``first``, 1-based, at ``offset`` in the text) and the physical line
    it was reading (``number``, the one its message names)."""

    __slots__ = ("first", "number", "offset")

    def __init__(self, first: int, number: int, offset: int) -> None:
        self.first = first
        self.number = number
        self.offset = offset


def _size(text: str) -> int:
    # Bytes as httpd reads them (undecodable bytes are lone surrogates).
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogateescape"))


def _held(line: str, terminated: bool) -> int:
    """Bytes httpd holds for a physical line that does not continue."""
    if "\0" in line:
        # The line ends at its NUL byte for httpd: no line feed is seen.
        return _size(line[: line.index("\0")])
    return _size(line) + terminated


def _may_hold_long_line(text: str) -> bool:
    """Whether ``text`` may hold a logical line of a quarter of the limit in
    characters, decided by a few searches in C, not a loop over its lines.

    Continued lines are joined first (each joining backslash and line end
    taken out, a few times over for a backslash an empty line continues);
    then a line that long would hold a whole stretch of half its length,
    at a multiple of that half, without a line feed.
    """
    joined = text
    for _ in range(4):
        shorter = joined.replace("\\\r\n", "").replace("\\\n", "")
        if len(shorter) == len(joined):
            break
        joined = shorter
    else:
        return True  # a long chain of joins: the exact reading decides
    half = LINE_LIMIT_BYTES // 8
    return any(joined.find("\n", start, start + half) < 0 for start in range(0, len(joined), half))


def line_too_long(text: str, check: Callable[[int], None] | None = None) -> TooLongLine | None:
    """The first logical line of ``text`` that httpd refuses as too long, or None.

    ``check`` (the load's guard, given the line reached) is called every
    65,536 lines of a file whose lines continue.
    """
    # A character is at most 4 bytes: most files are decided by their length.
    if len(text) < LINE_LIMIT_BYTES // 4 or not _may_hold_long_line(text):
        return None
    physical = text.split("\n")
    terminated_last = text.endswith("\n")
    if terminated_last:
        physical.pop()
    count = len(physical)
    if "\\\n" not in text and "\\\r\n" not in text:
        # No line continues: only a line of a quarter of the limit may pass
        # it (found without a loop in Python over millions of short lines).
        long_lines = compress(count_from(), map((LINE_LIMIT_BYTES // 4).__le__, map(len, physical)))
        for index in long_lines:
            if _held(physical[index], index + 1 < count or terminated_last) > LINE_LIMIT_BYTES:
                offset = sum(map(len, physical[:index])) + index
                return TooLongLine(index + 1, index + 1, offset)
        return None
    joined: JoinedLine | None = None
    joined_bytes = 0
    first = first_offset = offset = 0
    for number, line in enumerate(physical, start=1):
        if check is not None and not number & CHECK_EVERY_LINES:
            check(number)
        if joined is None:
            first, first_offset = number, offset
        offset += len(line) + 1
        terminated = number < count or terminated_last
        if terminated and "\0" not in line:
            body = line[:-1] if line.endswith("\r") else line
            if joined is None:
                goes_on = body.endswith("\\")
                if goes_on:
                    joined = JoinedLine()
                    joined.add(body)
                    joined_bytes = 0
            else:
                goes_on = joined.add(body)
            if goes_on:
                if joined_bytes + _size(line) + 1 > _BUFFER_BYTES - 1:
                    return TooLongLine(first, number, first_offset)
                # What is held loses the backslash (and the line end).
                joined_bytes += _size(body) - 1
                continue
        held = (joined_bytes if joined is not None else 0) + _held(line, terminated)
        joined = None
        if held > LINE_LIMIT_BYTES:
            return TooLongLine(first, number, first_offset)
    if joined is not None and joined_bytes > LINE_LIMIT_BYTES:
        # End of file inside a continuation: httpd counted one more read.
        return TooLongLine(first, count + 1, first_offset)
    return None
