"""Where each key of a TOML document is written, so configuration errors can name a line.

``tomllib`` returns plain values without positions. This scanner walks a
document that ``tomllib`` has already accepted and records, for every key
path (``("rules", "TA101", "params", "max_secs")``, ``("suppress", 1,
"reason")``, ``("disable", 0)``), the line where that key or array element
starts: table headers, dotted keys, inline tables and arrays included. It
judges nothing; on anything it does not follow it simply records less, and
``line_of`` falls back to the nearest enclosing key.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

__all__ = ["KeyPath", "key_lines", "line_of"]

KeyPath = tuple[str | int, ...]

# Deeper values are still read by tomllib; their positions are not needed to
# point at a configuration mistake, and a bound keeps this scanner shallow.
MAX_DEPTH = 64
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_BASIC_ESCAPE = re.compile(r"\\(.)", re.DOTALL)


class _Scanner:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.lines: dict[KeyPath, int] = {}
        self._array_tables: dict[KeyPath, int] = {}
        self._counted_to = 0
        self._counted_lines = 1

    # -- positions ---------------------------------------------------------

    def line(self, pos: int | None = None) -> int:
        # Counted from the last place asked (the scanner mostly moves forward):
        # counting from the start for each key was quadratic on a long array.
        target = self.pos if pos is None else pos
        if target < self._counted_to:
            self._counted_to, self._counted_lines = 0, 1
        self._counted_lines += self.text.count("\n", self._counted_to, target)
        self._counted_to = target
        return self._counted_lines

    def record(self, path: KeyPath, pos: int) -> None:
        self.lines.setdefault(path, self.line(pos))

    # -- lexical pieces ----------------------------------------------------

    def skip_space(self, newlines: bool) -> None:
        text = self.text
        while self.pos < len(text):
            char = text[self.pos]
            if char in " \t\r" or (newlines and char == "\n"):
                self.pos += 1
            elif char == "#":
                end = text.find("\n", self.pos)
                self.pos = len(text) if end < 0 else end
            else:
                return

    def string(self) -> str:
        """Read a string starting at ``pos``; return its value (escapes kept simple)."""
        text = self.text
        for quote in ('"""', "'''"):
            if text.startswith(quote, self.pos):
                end = self.pos + 3
                while True:
                    end = text.find(quote, end)
                    if end < 0:
                        self.pos = len(text)
                        return ""
                    if quote == '"""' and _escaped(text, end):
                        end += 1
                        continue
                    # A closing run may hold up to two extra quotes ("""a"""" ).
                    while text.startswith(quote[0], end + 3):
                        end += 1
                    value = text[self.pos + 3 : end]
                    self.pos = end + 3
                    return value
        quote = text[self.pos]
        end = self.pos + 1
        while end < len(text) and text[end] != quote and text[end] != "\n":
            end += 2 if quote == '"' and text[end] == "\\" else 1
        value = text[self.pos + 1 : end]
        self.pos = min(end + 1, len(text))
        return _BASIC_ESCAPE.sub(r"\1", value) if quote == '"' else value

    def key(self) -> list[str]:
        """A dotted key (``a."b.c".d``) as its parts; empty when none starts here."""
        parts: list[str] = []
        while True:
            self.skip_space(newlines=False)
            if self.pos < len(self.text) and self.text[self.pos] in "\"'":
                parts.append(self.string())
            else:
                match = _BARE_KEY.match(self.text, self.pos)
                if match is None:
                    return parts
                parts.append(match.group(0))
                self.pos = match.end()
            self.skip_space(newlines=False)
            if not self.text.startswith(".", self.pos):
                return parts
            self.pos += 1

    # -- values ------------------------------------------------------------

    def value(self, path: KeyPath) -> None:
        """Skip one value, recording the keys of inline tables and array elements in it."""
        text = self.text
        if self.pos >= len(text):
            return
        char = text[self.pos]
        if char in "\"'":
            self.string()
        elif char == "[":
            self.pos += 1
            index = 0
            while True:
                self.skip_space(newlines=True)
                if self.pos >= len(text) or text[self.pos] == "]":
                    self.pos += 1
                    return
                if text[self.pos] == ",":
                    self.pos += 1
                    continue
                self.record((*path, index), self.pos)
                self.nested((*path, index))
                index += 1
        elif char == "{":
            self.pos += 1
            while True:
                self.skip_space(newlines=True)
                if self.pos >= len(text) or text[self.pos] == "}":
                    self.pos += 1
                    return
                if text[self.pos] == ",":
                    self.pos += 1
                    continue
                self.assignment(path)
        else:
            # A number, date, boolean: up to the next separator.
            match = re.compile(r"[^,\]\}\n#]*").match(text, self.pos)
            self.pos = match.end() if match else len(text)

    def nested(self, path: KeyPath) -> None:
        if len(path) > MAX_DEPTH:
            self.pos = _skip_balanced(self.text, self.pos)
        else:
            self.value(path)

    def assignment(self, table: KeyPath) -> None:
        """``key = value`` at ``pos``: record the key's line, then scan the value."""
        start = self.pos
        parts = self.key()
        if not parts:
            self.pos = start + 1  # not a key: step over the character and go on
            return
        path = table + tuple(parts)
        for depth in range(len(table) + 1, len(path) + 1):
            self.record(path[:depth], start)
        self.skip_space(newlines=False)
        if self.text.startswith("=", self.pos):
            self.pos += 1
            self.skip_space(newlines=False)
            self.nested(path)

    # -- the document --------------------------------------------------------

    def document(self) -> dict[KeyPath, int]:
        text = self.text
        table: KeyPath = ()
        while True:
            self.skip_space(newlines=True)
            if self.pos >= len(text):
                return self.lines
            start = self.pos
            if text.startswith("[[", self.pos):
                self.pos += 2
                name = tuple(self.key())
                count = self._array_tables.get(name, 0)
                self._array_tables[name] = count + 1
                table = (*name, count)
                for depth in range(1, len(name) + 1):
                    self.record(name[:depth], start)
                self.record(table, start)
                self._to_line_end()
            elif text.startswith("[", self.pos):
                self.pos += 1
                name = tuple(self.key())
                table = self._inside_array_tables(name)
                for depth in range(1, len(table) + 1):
                    self.record(table[:depth], start)
                self._to_line_end()
            else:
                self.assignment(table)
                self._to_line_end()

    def _inside_array_tables(self, name: tuple[str, ...]) -> KeyPath:
        """``[a.b]`` after ``[[a]]`` means a table inside a's last element."""
        path: KeyPath = ()
        for depth, part in enumerate(name, start=1):
            path = (*path, part)
            count = self._array_tables.get(name[:depth])
            if count:
                path = (*path, count - 1)
        return path

    def _to_line_end(self) -> None:
        self.skip_space(newlines=False)
        end = self.text.find("\n", self.pos)
        if end >= 0 and self.text[self.pos : end].strip(" \t\r]") == "":
            self.pos = end + 1
        elif end < 0:
            self.pos = len(self.text)


def _escaped(text: str, quote_at: int) -> bool:
    backslashes = 0
    while quote_at - backslashes - 1 >= 0 and text[quote_at - backslashes - 1] == "\\":
        backslashes += 1
    return backslashes % 2 == 1


def _skip_balanced(text: str, pos: int) -> int:
    """The end of a too-deep value: its brackets counted, strings ignored."""
    depth = 0
    while pos < len(text):
        char = text[pos]
        if char in "[{":
            depth += 1
        elif char in "]}":
            depth -= 1
            if depth <= 0:
                return pos + 1
        elif char == "\n" and depth <= 0:
            return pos
        pos += 1
    return pos


def key_lines(text: str) -> dict[KeyPath, int]:
    """Map every key path of a TOML document to the line where it is written."""
    return _Scanner(text).document()


def line_of(lines: dict[KeyPath, int], path: Sequence[str | int]) -> int | None:
    """The line of ``path``, or of its nearest enclosing key when it has none."""
    for length in range(len(path), 0, -1):
        line = lines.get(tuple(path[:length]))
        if line is not None:
            return line
    return None
