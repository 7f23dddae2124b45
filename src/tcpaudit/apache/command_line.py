"""httpd's reading of ``-C``/``-c`` directives into lines (server/config.c).

httpd hands its reader each directive as one line (``arr_elts_getstr``)
into the buffer every configuration line is read into. That buffer starts
at 207 bytes and grows by doubling; a directive that fills it is cut there,
and the reader, asking again for the rest of the line, is given the *next*
directive, glued on. So a directive of 206 bytes or more takes the next one
into its line (what was past the cut is lost), and is dropped when no
directive follows. A directive ending in a backslash and a line feed is
continued with the next one, as a file's line would be; a last backslash
alone is a word. The buffer stays grown for the lines after.

How much it grows was measured on apache2 2.4 (APR 1.7, 64-bit): a size
up to 2 KiB is rounded to 8 bytes and, while the reader has allocated
nothing else since (the buffer was the last block taken, and the lines
read since are blank or comments), lies right after the buffer and adds
to it; a larger one is a block of the
allocator (8 KiB at least, in steps of 4 KiB, less its headers). Each
conditional section (``<IfModule>`` and the others) reads its lines into
a buffer of its own, as ``ap_build_cont_config`` and ``ap_soak_end_container``
do; mod_macro reads a ``<Macro>``'s body lines into a fixed 8 KiB line of
its own, never glued.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import product, zip_longest

from .line_limit import LINE_LIMIT_BYTES
from .shell_state import REDACTED_VALUE

__all__ = [
    "CommandLineState",
    "CommandLineTooLongError",
    "command_lines",
    "directives_shown",
    "grown_for",
    "uncertain_line",
]

_INITIAL_SIZE = 200  # VARBUF_INIT_LEN
_SMALL_SIZE = 2048  # VARBUF_SMALL_SIZE: pool memory up to this, the allocator beyond
_NODE_HEADER = 40  # APR_MEMNODE_T_SIZE
_BUFFER_INFO = 16  # struct ap_varbuf_info, aligned
_BOUNDARY = 4096
_SMALLEST_NODE = 8192
_CONDITIONALS = frozenset(
    {"<ifmodule", "<ifdefine", "<ifversion", "<iffile", "<ifdirective", "<ifsection"}
)
_SPACE = b" \t\n\r\f\v"


class CommandLineTooLongError(Exception):
    """A line of ``-C``/``-c`` directives past httpd's 16 MiB (its line number)."""

    def __init__(self, number: int) -> None:
        super().__init__(number)
        self.number = number


class _Placement:
    """Whether each block the pool gives right after the buffer fits in its
    memory (in order; True past the list): ``-C`` directives are read first,
    with room; what ``-c`` directives find depends on the configuration read
    before them."""

    __slots__ = ("fits", "taken")

    def __init__(self, fits: Sequence[bool] = ()) -> None:
        self.fits = fits
        self.taken = 0

    def next_fits(self) -> bool:
        self.taken += 1
        return self.fits[self.taken - 1] if self.taken <= len(self.fits) else True


class _Buffer:
    """One ``struct ap_varbuf``: its size less the NUL, and whether the pool
    has given out nothing since it (then growing it extends it in place)."""

    __slots__ = ("avail", "last_allocated", "placement")

    def __init__(self, placement: _Placement | None = None) -> None:
        self.avail = 0
        self.last_allocated = False
        self.placement = placement if placement is not None else _Placement()
        self.grow(_INITIAL_SIZE)

    def grow(self, wanted: int) -> None:
        """``ap_varbuf_grow``."""
        if wanted <= self.avail:
            return
        size = max(wanted, 2 * self.avail) + 1
        if size <= _SMALL_SIZE:
            size = (size + 7) & ~7
            # apr_palloc's block right after the buffer is used with it; either
            # way the buffer is the pool's last block again.
            in_place = self.last_allocated and self.placement.next_fits()
            self.avail = self.avail + size if in_place else size - 1
            self.last_allocated = True
            return
        node = -(-(size + _BUFFER_INFO + _NODE_HEADER) // _BOUNDARY) * _BOUNDARY
        self.avail = max(node, _SMALLEST_NODE) - _NODE_HEADER - _BUFFER_INFO - 1
        self.last_allocated = False


_CHECK_EVERY_DIRECTIVES = 65_536
_MACRO_LINE = _Buffer()
_MACRO_LINE.avail = 8192  # MAX_STRING_LEN, mod_macro's own line


class _Directives:
    """``arr_elts_getstr`` over the directives, and the reader's line count."""

    __slots__ = ("check", "elements", "next", "number")

    def __init__(
        self, directives: Sequence[str], check: Callable[[int], None] | None = None
    ) -> None:
        self.elements = [d.encode("utf-8", "surrogateescape") for d in directives]
        self.next = 0
        self.number = 0
        # The load's guard, given the line reached, every 65,536 directives.
        self.check = check

    def read_line(self, buffer: _Buffer) -> tuple[bytes, list[int]] | None:
        """``ap_varbuf_cfg_getline``: a line and the directives it took, or None at the end."""
        text = bytearray()
        taken: list[int] = []
        while True:
            full = self._read_core(buffer, text, taken)
            if full is None:
                return None  # the end of the directives: what was read is dropped
            if not full:
                break
            if buffer.avail >= LINE_LIMIT_BYTES:
                raise CommandLineTooLongError(self.number)
            buffer.grow(min(buffer.avail * 2, LINE_LIMIT_BYTES))
            self.number -= 1
        if len(text) > LINE_LIMIT_BYTES:
            raise CommandLineTooLongError(self.number)
        return bytes(text), taken

    def read_body_line(self) -> tuple[bytes, list[int]] | None:
        """mod_macro's reading of a ``<Macro>`` body line (``ap_cfg_getline``
        into 8,192 bytes, never grown): None when it does not fit or the
        directives end (mod_macro then says its end token is not found)."""
        text = bytearray()
        taken: list[int] = []
        if self._read_core(_MACRO_LINE, text, taken) is not False:
            return None
        return bytes(text), taken

    def _read_core(self, buffer: _Buffer, text: bytearray, taken: list[int]) -> bool | None:
        """``ap_cfg_getline_core`` from ``len(text)`` on, into ``text``: whether
        the buffer was filled, or None at the end of the directives. Each
        directive is written where the last one's joining backslash stood
        (never the whole line again: linear in what is read)."""
        start = cut = len(text)
        room = buffer.avail - start
        while True:
            self.number += 1
            if self.check is not None and not self.next % _CHECK_EVERY_DIRECTIVES:
                self.check(self.number)
            if self.next >= len(self.elements):
                # Continued into nothing: the line ends there.
                if cut == start:
                    return None
                del text[cut:]
                return False
            element = self.elements[self.next]
            taken.append(self.next)
            self.next += 1
            del text[cut:]
            text += element[: room - 1]
            if len(element) >= room - 1:
                return True
            end = len(text)
            if end and text[end - 1] == 10:  # a line feed ends the directive
                end -= 1
                if end and text[end - 1] == 13:
                    end -= 1
                if end and text[end - 1] == 92:  # a backslash: continued
                    end -= 1
                    room -= end - cut
                    cut = end
                    continue
            return False


# After a line: the next directive's index, the buffer's size, and whether
# the line was read outside any conditional section and <Macro> body.
CommandLineState = tuple[int, int, bool]


def command_lines(
    directives: Sequence[str],
    *,
    start: int = 0,
    number: int = 0,
    size: int | None = None,
    states: dict[int, CommandLineState] | None = None,
    fits: Sequence[bool] = (),
    check: Callable[[int], None] | None = None,
) -> list[tuple[int, str, tuple[int, ...]]]:
    """The lines httpd reads from ``directives``: each one's number, its text
    (trimmed) and the indexes of the directives it took.

    ``start``, ``number`` and ``size`` go on from a line read outside any
    section (its state), the buffer grown to ``size``; ``states`` receives
    each line's state by its number; ``fits`` says, in order, whether each
    block the pool gives right after the buffer fits there (``_Placement``);
    ``check`` (the load's guard) is called every 65,536 directives read.

    Raises:
        CommandLineTooLongError: a line over httpd's 16 MiB.
    """
    source = _Directives(directives, check)
    source.next, source.number = start, number
    placement = _Placement(fits)
    buffers = [_Buffer(placement)]
    if size is not None:
        buffers[0].avail, buffers[0].last_allocated = size, False
    lines: list[tuple[int, str, tuple[int, ...]]] = []
    body = 0  # the <Macro> nesting of a body being read (mod_macro's reading)
    while True:
        buffer = buffers[-1]
        read = source.read_body_line() if body else source.read_line(buffer)
        if read is None:
            return lines
        raw, taken = read
        text = raw.strip(_SPACE)
        line = text.decode("utf-8", "surrogateescape")
        lines.append((source.number, line, tuple(taken)))
        if states is not None:
            states[source.number] = (source.next, buffers[0].avail, len(buffers) == 1 and not body)
        if not text or text[:1] == b"#":
            continue  # nothing allocated: the buffer may still grow in place
        buffer.last_allocated = False
        first = line.split(None, 1)[0].lower()
        if body:
            # get_lines_till_end_token: "</Macro>" ends a level, "<Macro" opens one.
            body += 1 if first == "<macro" else -1 if first == "</macro>" else 0
            continue
        if first == "<macro":
            body = 1
            continue
        if first.endswith(">"):
            first = first[:-1]
        if first in _CONDITIONALS:
            buffers.append(_Buffer(placement))
        elif first.startswith("</") and len(buffers) > 1 and "<" + first[2:] in _CONDITIONALS:
            buffers.pop()


def directives_shown(
    directives: Sequence[str],
    show: Callable[[str], str],
    check: Callable[[int], None] | None = None,
) -> list[str]:
    """Each directive as outputs show it (``show`` hides its secrets); those
    httpd reads into one line are hidden whole when that line holds a
    secret (``RequestHeader set Authorization \\`` and a line feed, then
    the token in the next directive)."""
    shown = [show(directive) for directive in directives]
    try:
        lines = command_lines(directives, check=check)
    except CommandLineTooLongError:
        return [REDACTED_VALUE] * len(directives)
    for _number, text, taken in lines:
        if len(taken) > 1 and show(text) != text:
            for index in taken:
                shown[index] = REDACTED_VALUE
    return shown


def grown_for(size: int, longest: int) -> int:
    """The buffer's size once a line of ``longest`` bytes (its line feed
    included) was read into it in pieces, as a macro's expansion is read."""
    buffer = _Buffer()
    buffer.avail, buffer.last_allocated = size, False
    while buffer.avail < longest + 1 and buffer.avail < LINE_LIMIT_BYTES:
        buffer.grow(min(buffer.avail * 2, LINE_LIMIT_BYTES))
    return buffer.avail


def uncertain_line(
    directives: Sequence[str], check: Callable[[int], None] | None = None
) -> int | None:
    """The first line whose reading depends on where the pool's blocks fall,
    or None: the same lines whether each block fits after the buffer or not
    (at most four blocks of 2 KiB or less are ever taken for it)."""
    if all(len(directive) < _INITIAL_SIZE for directive in directives):
        return None  # nothing grows (a character is at least a byte)
    try:
        expected = command_lines(directives, check=check)
        first: int | None = None
        for fits in product((True, False), repeat=4):
            read = command_lines(directives, fits=fits, check=check)
            for line, other in zip_longest(expected, read):
                if line is None or other is None or line[:2] != other[:2]:
                    number = min(read[0] for read in (line, other) if read is not None)
                    first = number if first is None else min(first, number)
                    break
    except CommandLineTooLongError:
        return None
    return first
