"""``EnvironmentFile=`` as systemd reads it: one pass over the characters.

systemd's reader (``load_env_file``) is a state machine, not a line
splitter, and this follows it state for state:

- a line's first non-blank character starts a comment (``#``, ``;``) or a
  name, which runs to the ``=`` (blanks after it are dropped); a line ending
  before any ``=`` is ignored;
- before a value and after a closing quote, blanks are skipped, so
  ``A="x" y`` is ``xy``; quotes open only there (``A=x"y"`` keeps them);
- single quotes keep everything; in double quotes a backslash escapes
  ``" \\ ` $`` and a newline (dropped) and is kept before anything else;
  outside quotes a backslash escapes any character, a newline included;
- a carriage return ends a line as a newline does; an unquoted value loses
  its trailing blanks, not an escaped one.

Names that are not shell names (``export A``, ``A B``) are dropped
afterwards, as systemd drops them, and a later assignment replaces an
earlier one. A key or value that is not UTF-8 makes systemd refuse the
whole file (the service does not start): ``EnvironmentFileError``.

One difference between versions is reported, not decided: before systemd
254 a comment ending in a backslash went on over the next line, so that
line's assignment was ignored (``EnvironmentAssignment.version_dependent``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum, auto

from ..provenance import Note
from .secret_words import redact_text
from .shell_state import MAX_VALUE_BYTES
from .unit_syntax import is_valid_text
from .units import ServiceUnit

__all__ = [
    "EnvironmentAssignment",
    "EnvironmentFileError",
    "parse_environment_file",
    "unit_environment",
]

_BLANKS = " \t\n\r"
_LINE_ENDS = "\n\r"
_COMMENT_STARTS = "#;"
_ESCAPED_IN_DOUBLE_QUOTES = '"\\`$'
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_GLOB = re.compile(r"[*?\[]")
_GLOB_ESCAPE = re.compile(r"\\(.)", re.S)  # glob(3): a backslash quotes the next character


class EnvironmentFileError(ValueError):
    """systemd refuses the file: a NUL byte, or a name or value that is not
    UTF-8 to it (noncharacters such as U+FFFF included)."""

    def __init__(self, line: int, what: str = "text that is not UTF-8") -> None:
        super().__init__(f"line {line}: {what}")
        self.line = line
        self.what = what


@dataclass(frozen=True, slots=True)
class EnvironmentAssignment:
    name: str
    value: str
    line: int  # where its name starts (1-based, counted at newlines)
    # The line follows a comment ending in a backslash: systemd before 254
    # reads it as part of the comment.
    version_dependent: bool = False


class _State(Enum):
    BEFORE_NAME = auto()
    NAME = auto()
    BEFORE_VALUE = auto()
    VALUE = auto()
    VALUE_ESCAPE = auto()
    SINGLE_QUOTED = auto()
    DOUBLE_QUOTED = auto()
    DOUBLE_QUOTED_ESCAPE = auto()
    COMMENT = auto()
    COMMENT_ESCAPE = auto()


class _Reader:
    def __init__(self) -> None:
        self.found: dict[str, EnvironmentAssignment] = {}
        self.state = _State.BEFORE_NAME
        self.name: list[str] = []
        self.value: list[str] = []
        self.name_blank_from: int | None = None
        self.value_blank_from: int | None = None
        self.line = 1
        self.name_line = 1
        self.continued_line = 0  # the line after a comment's final backslash

    def end_assignment(self) -> None:
        name = self.name if self.name_blank_from is None else self.name[: self.name_blank_from]
        value = self.value
        if self.state is _State.VALUE and self.value_blank_from is not None:
            value = value[: self.value_blank_from]
        text, assigned = "".join(name), "".join(value)
        if not (is_valid_text(text) and is_valid_text(assigned)):
            raise EnvironmentFileError(self.name_line)
        if _NAME.fullmatch(text) and len(assigned) <= MAX_VALUE_BYTES:
            # The last one wins, in the first one's place (strv_env_replace).
            self.found[text] = EnvironmentAssignment(
                text, assigned, self.name_line, self.name_line == self.continued_line
            )
        self.name, self.value = [], []

    def feed(self, char: str) -> None:
        state = self.state
        if state is _State.BEFORE_NAME:
            if char in _COMMENT_STARTS:
                self.state = _State.COMMENT
            elif char not in _BLANKS:
                self.state, self.name, self.name_blank_from = _State.NAME, [char], None
                self.name_line = self.line
        elif state is _State.NAME:
            if char in _LINE_ENDS:
                self.state, self.name = _State.BEFORE_NAME, []
            elif char == "=":
                self.state, self.value, self.value_blank_from = _State.BEFORE_VALUE, [], None
            else:
                if char not in _BLANKS:
                    self.name_blank_from = None
                elif self.name_blank_from is None:
                    self.name_blank_from = len(self.name)
                self.name.append(char)
        elif state is _State.BEFORE_VALUE:
            if char in _LINE_ENDS:
                self.end_assignment()
                self.state = _State.BEFORE_NAME
            elif char == "'":
                self.state = _State.SINGLE_QUOTED
            elif char == '"':
                self.state = _State.DOUBLE_QUOTED
            elif char == "\\":
                self.state = _State.VALUE_ESCAPE
            elif char not in _BLANKS:
                self.state = _State.VALUE
                self.value.append(char)
        elif state is _State.VALUE:
            if char in _LINE_ENDS:
                self.end_assignment()
                self.state = _State.BEFORE_NAME
            elif char == "\\":
                self.state, self.value_blank_from = _State.VALUE_ESCAPE, None
            else:
                if char not in _BLANKS:
                    self.value_blank_from = None
                elif self.value_blank_from is None:
                    self.value_blank_from = len(self.value)
                self.value.append(char)
        elif state is _State.VALUE_ESCAPE:
            self.state = _State.VALUE
            if char not in _LINE_ENDS:
                self.value.append(char)
        elif state is _State.SINGLE_QUOTED:
            if char == "'":
                self.state = _State.BEFORE_VALUE
            else:
                self.value.append(char)
        elif state is _State.DOUBLE_QUOTED:
            if char == '"':
                self.state = _State.BEFORE_VALUE
            elif char == "\\":
                self.state = _State.DOUBLE_QUOTED_ESCAPE
            else:
                self.value.append(char)
        elif state is _State.DOUBLE_QUOTED_ESCAPE:
            self.state = _State.DOUBLE_QUOTED
            if char in _ESCAPED_IN_DOUBLE_QUOTES:
                self.value.append(char)
            elif char != "\n":
                self.value.extend(("\\", char))
        elif state is _State.COMMENT:
            if char == "\\":
                self.state = _State.COMMENT_ESCAPE
            elif char in _LINE_ENDS:
                self.state = _State.BEFORE_NAME
        else:  # COMMENT_ESCAPE
            if char in _LINE_ENDS:
                self.state = _State.BEFORE_NAME
                self.continued_line = self.line + (char == "\n")
            else:
                self.state = _State.COMMENT
        if char == "\n":
            self.line += 1


_VALUE_STATES = frozenset((_State.BEFORE_VALUE, _State.VALUE, _State.VALUE_ESCAPE,
                           _State.SINGLE_QUOTED, _State.DOUBLE_QUOTED,
                           _State.DOUBLE_QUOTED_ESCAPE))  # fmt: skip


def parse_environment_file(text: str) -> list[EnvironmentAssignment]:
    """The assignments systemd takes from ``EnvironmentFile=`` contents, in order.

    Raises:
        EnvironmentFileError: a name or value is not UTF-8 (``text`` decoded
            with surrogateescape): systemd refuses the file.
    """
    if "\x00" in text:
        # systemd reads the file whole and refuses one holding a NUL byte.
        raise EnvironmentFileError(text[: text.index("\x00")].count("\n") + 1, "a NUL byte")
    reader = _Reader()
    for char in text:
        reader.feed(char)
    if reader.state in _VALUE_STATES:
        reader.end_assignment()
    return list(reader.found.values())


def unit_environment(
    unit: ServiceUnit,
    text: Callable[[str], tuple[str, str] | None],
    matches: Callable[[str], list[str]],
    notes: list[Note],
) -> dict[str, str]:
    """Environment= then EnvironmentFile= (which win), as systemd builds them.

    ``text`` reads a start-up file of the root (its text and shown name),
    ``matches`` gives the names a path's pattern matches in the root (systemd
    globs an EnvironmentFile= path); what systemd would refuse, or reads
    otherwise in another version, and what is not known, go to ``notes``.
    """
    notes.extend(unit.notes)
    environment = {name: value for name, value, _, _ in unit.environment}
    for path, optional, file, line in unit.environment_files:
        # systemd globs every path (glob(3): a backslash escapes the next
        # character); no match is an error, as a missing file is to open.
        if _GLOB.search(path):
            found = matches(path)
        else:
            found = [_GLOB_ESCAPE.sub(r"\1", path)] if "\\" in path else [path]
        for name in found:
            one = text(name)
            if one is None:
                # Each match is loaded on its own: with '-' one that cannot be
                # read is skipped, without it the service is refused.
                if optional:
                    continue
                notes.append(
                    Note(
                        message=f"EnvironmentFile {redact_text(name)} is missing or not a file: systemd "
                        "would refuse to start the service",
                        file=file,
                        line=line,
                    )
                )
                break
            _take(one, path, optional, environment, notes)
    for item in unit.unset:
        name, equals, _ = item.partition("=")
        if not equals or environment.get(name) == item[len(name) + 1 :]:
            environment.pop(name, None)
    return environment


def _take(
    loaded: tuple[str, str],
    path: str,
    optional: bool,
    environment: dict[str, str],
    notes: list[Note],
) -> None:
    """One environment file's assignments into ``environment``."""
    contents, shown = loaded
    try:
        assignments = parse_environment_file(contents)
    except EnvironmentFileError as error:
        if not optional:
            notes.append(
                Note(
                    message=f"EnvironmentFile {redact_text(path)} holds {error.what}: systemd would refuse "
                    "to start the service",
                    file=shown,
                    line=error.line,
                )
            )
        return
    for assignment in assignments:
        environment[assignment.name] = assignment.value
        if assignment.version_dependent:
            notes.append(
                Note(
                    message=f"{assignment.name} follows a comment ending in a backslash: "
                    "systemd before 254 reads it as part of the comment, so its value "
                    "may not be the one shown",
                    file=shown,
                    line=assignment.line,
                )
            )
