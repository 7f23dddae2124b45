"""Lines a fix must not change: those of a ``<Macro>`` body.

mod_macro expands a body at every ``Use`` of the macro, and the loader
reports a value a ``Use`` gave at the body's line (``Timeout $t``). A fix
written there would change what every other ``Use`` sets too (a vhost's
``Use M 5`` raised to the main server's fix), so a file whose change falls
in a body is left out, with a note saying to change the value where the
macro is used.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..lines import physical_lines

__all__ = ["macro_body_line"]


def macro_body_line(text: str, lines: Iterable[int | None]) -> int | None:
    """The first of ``lines`` (1-based) inside a ``<Macro>`` section of ``text``, or None."""
    wanted = {line for line in lines if line is not None}
    if not wanted or "macro" not in text.lower():
        return None
    depth = 0
    continued = False
    for number, raw in enumerate(physical_lines(text), start=1):
        if number in wanted and depth:
            return number
        stripped = raw.strip()
        # A continued line's later pieces start no section of their own.
        if not continued and stripped[:1] == "<":
            word = stripped.split(None, 1)[0].rstrip(">").lower()
            if word == "<macro":
                depth += 1
            elif word == "</macro" and depth:
                depth -= 1
        continued = raw.rstrip("\r").endswith("\\")
    return None
