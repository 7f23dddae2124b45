"""Words of a POSIX sh fragment: lexing, parameter expansion and the bounds on both.

``shell.py`` runs the commands; this module turns a line into words and
expands ``$X``, ``${X}``, ``${X:-w}``, ``${X-w}``, ``${X:+w}``, ``${X+w}``,
``${X:=w}``, ``${X#p}``, ``${X##p}``, ``${X%p}``, ``${X%%p}`` and ``${#X}``
against a ``ShellState``, charging every value against the bounds: a value
longer than execve's 128 KiB per string (MAX_ARG_STRLEN) could never reach
httpd, and all expansions of one start-up together may produce at most
``MAX_EXPANDED_BYTES``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from ..errors import ApacheConfigError
from ..notes import BoundedNotes
from ..provenance import Note
from .shell_patterns import compile_pattern, trim

__all__ = [
    "MAX_COMMANDS",
    "MAX_ENVIRONMENT_BYTES",
    "MAX_EXPANDED_BYTES",
    "MAX_EXPANSION_DEPTH",
    "MAX_SOURCED_BYTES",
    "MAX_VALUE_BYTES",
    "REDACTED_VALUE",
    "Expander",
    "ShellState",
    "Word",
    "is_secret_variable",
    "lex",
    "redact_environment",
    "split_words",
]

# Linux's MAX_ARG_STRLEN (32 pages): execve refuses a longer NAME=value (E2BIG).
MAX_VALUE_BYTES = 128 * 1024
# ARG_MAX with the usual 8 MiB stack: what the whole environment may hold.
MAX_ENVIRONMENT_BYTES = 2 * 1024 * 1024
# What all expansions of one start-up may produce (a real envvars: a few KiB).
MAX_EXPANDED_BYTES = 16 * 1024 * 1024
# Variables named like secrets: their values never reach a report. The
# Ansible module replaces the same names' values before they leave the host.
# Not every name holding "pass" or "private": PRIVATE_PORT and BYPASS_CACHE
# are ordinary values a configuration expands (Listen ${PRIVATE_PORT}).
_SECRET_VARIABLE = re.compile(
    r"(?i)password|passwd|passphrase|secret|token|credential|api[_-]?key|private[_-]?key"
    r"|(^|[_-])(pass|pwd)($|[_-])|(^|[_-])key$"
)
REDACTED_VALUE = "tcpaudit-redacted"  # one word, as the value may be a directive's
# Commands all start-up files of one service may hold (a real envvars: about
# 30); each costs microseconds, and a 1 MiB file of "a;" holds 500,000.
MAX_COMMANDS = 100_000
# What '.' may run in all, each sourcing counted (a real envvars: a few KiB).
MAX_SOURCED_BYTES = 16 * 1024 * 1024
# ${...} inside ${...}: real start-up files nest two or three; each level
# rescans its text (dash reads thousands; tcpaudit refuses past this).
MAX_EXPANSION_DEPTH = 32
# A glob trim tries every prefix or suffix; longer values are left as they are.
_MAX_PATTERN_TRIM = 4096
# A glob trim of an n-character value by a pattern of r runs (split at its
# stars) counts as (n + 1) * (n + 64 r) / 64 bytes of expansion: each of the
# n + 1 places tried scans the value and takes a step per run.
TRIM_WORK_PER_BYTE = 64
TRIM_WORK_PER_RUN = 64
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass
class ShellState:
    """Variables of the shell that sources the start-up files, and what it exports."""

    variables: dict[str, str] = field(default_factory=dict)
    exported: set[str] = field(default_factory=set)
    notes: BoundedNotes = field(default_factory=BoundedNotes)
    all_export: bool = False
    expanded: int = 0
    commands: int = 0
    sourced: int = 0  # bytes of files run with '.', each time counted

    def environment(self) -> dict[str, str]:
        """The exported variables, as the program the shell starts receives them."""
        return {name: self.variables[name] for name in self.variables if name in self.exported}

    def assign(self, name: str, value: str) -> None:
        """Set ``name``; a variable named like a secret holds REDACTED_VALUE instead."""
        self.variables[name] = REDACTED_VALUE if is_secret_variable(name) else value

    def count_command(self, file: str, line: int) -> None:
        """Count one command against MAX_COMMANDS."""
        self.commands += 1
        if self.commands > MAX_COMMANDS:
            raise ApacheConfigError(
                f"the start-up files hold more than {MAX_COMMANDS} shell commands",
                file=file,
                line=line,
            )

    def charge(self, size: int, file: str, line: int) -> None:
        """Count a value of ``size`` bytes against the bounds."""
        self.check(size, file, line)
        self.charge_work(size, file, line)

    def charge_work(self, size: int, file: str, line: int) -> None:
        """Count ``size`` bytes of expansion work against MAX_EXPANDED_BYTES."""
        self.expanded += size
        if self.expanded > MAX_EXPANDED_BYTES:
            raise ApacheConfigError(
                f"shell expansion of the start-up files produces more than {MAX_EXPANDED_BYTES} "
                "bytes",
                file=file,
                line=line,
            )

    @staticmethod
    def check(size: int, file: str, line: int) -> None:
        """Refuse a value longer than execve passes (checked while it is built)."""
        if size > MAX_VALUE_BYTES:
            raise ApacheConfigError(
                f"a value grows past {MAX_VALUE_BYTES} bytes, the most execve passes in one "
                "environment string: the service could not start httpd with it",
                file=file,
                line=line,
            )


def is_secret_variable(name: str) -> bool:
    """Whether a variable's name says it holds a secret (``DB_PASSWORD``, ``API_TOKEN``)."""
    return _SECRET_VARIABLE.search(name) is not None


def redact_environment(environment: dict[str, str]) -> dict[str, str]:
    """``environment`` with the value of each variable named like a secret replaced."""
    return {
        name: REDACTED_VALUE if is_secret_variable(name) else value
        for name, value in environment.items()
    }


# -- words ----------------------------------------------------------------------------


@dataclass(slots=True)
class Word:
    """A shell word before expansion: its parts, each quoted or not."""

    parts: list[tuple[str, str]]  # (kind, text): kind "'" literal, '"' double-quoted, "" bare


def lex(line: str) -> Iterator[list[Word]]:
    """The commands of a logical line (split at unquoted ``;``), each a list of words.

    One at a time: a line of 500,000 commands is not held whole.
    """
    command: list[Word] = []
    index = 0
    length = len(line)
    while index < length:
        char = line[index]
        if char in " \t":
            index += 1
            continue
        if char == "#":
            break
        if char == ";":
            if command:
                yield command
                command = []
            index += 1
            continue
        parts: list[tuple[str, str]] = []
        while index < length and line[index] not in " \t;":
            char = line[index]
            if char == "'":
                end = line.find("'", index + 1)
                end = length if end < 0 else end
                parts.append(("'", line[index + 1 : end]))
                index = end + 1
            elif char == '"':
                end = _closing_quote(line, index + 1)
                parts.append(('"', line[index + 1 : min(end, length)]))
                index = end + 1
            elif char == "\\" and index + 1 < length:
                parts.append(("'", line[index + 1]))
                index += 2
            elif char == "$" and line.startswith("${", index):
                end = _closing_brace(line, index + 2)
                parts.append(("", line[index:end]))
                index = end
            elif char in "$`" and (line.startswith("$(", index) or char == "`"):
                end = _closing_substitution(line, index)
                parts.append(("", line[index:end]))
                index = end
            elif char == "$":
                end = _plain_expansion_end(line, index)
                parts.append(("", line[index:end]))
                index = end
            else:
                start = index
                while index < length and line[index] not in " \t;'\"\\$`":
                    index += 1
                parts.append(("", line[start:index]))
        command.append(Word(parts))
    if command:
        yield command


def _closing(line: str, index: int, opening: str, closing: str, depth: int) -> int:
    """The index after the ``closing`` that brings ``depth`` to 0, else the line's end."""
    while index < len(line):
        if line[index] == opening:
            depth += 1
        elif line[index] == closing:
            depth -= 1
            if depth == 0:
                return index + 1
        index += 1
    return len(line)


# "${NAME#" or "${NAME%": a trim, whose pattern reads quotes as quotes even
# inside double quotes (the word of "${X:-'a'}" keeps its single quotes).
_TRIM_AFTER_BRACE = re.compile(r"(?:[A-Za-z_][A-Za-z0-9_]*|[0-9@*#?$!-])[#%]")


def _plain_expansion_end(text: str, index: int) -> int:
    """The end of ``$NAME`` or ``$?``-like at ``text[index]``; a ``$`` that starts
    neither is a character (``$'...'`` is ``$`` and a quoted string in dash)."""
    name = _NAME.match(text, index + 1)
    if name:
        return name.end()
    following = text[index + 1 : index + 2]
    return index + 2 if following and following in "0123456789@*#?$!-" else index + 1


def _brace_frame(line: str, index: int, quoted: bool) -> str:
    """How the ``${`` ending before ``index`` reads: ``}`` where single quotes
    quote, ``)`` where they are characters (inside double quotes, not a trim)."""
    return "}" if not quoted or _TRIM_AFTER_BRACE.match(line, index) else ")"


def _scan(line: str, index: int, frame: str) -> int:
    """The index after the end of the construct open before ``index`` (``frame``:
    ``"`` a double-quoted run, ``}`` or ``)`` a ``${``, see ``_brace_frame``);
    -1 when the line ends first.

    As dash reads it: inside ``${...}`` double quotes and backslashes quote
    (``${X%"}"}``, ``${X#\\}}`` do not end there), single quotes too unless
    the expansion stands in double quotes and is no trim; a ``{`` alone opens
    nothing (``${X#{}}`` ends at the first ``}``); inside double quotes a
    ``'`` is a character; nested ``${...}``, ``$(...)`` and backquotes are
    skipped whole. A stack, not recursion: a line may nest deeper than Python.
    """
    stack = [frame]
    length = len(line)
    while index < length:
        char = line[index]
        top = stack[-1]
        if char == "\\":
            index += 2
        elif char == "'" and top == "}":
            end = line.find("'", index + 1)
            index = length if end < 0 else end + 1
        elif char == '"' and top == '"':
            stack.pop()
            index += 1
            if not stack:
                return index
        elif char == '"':
            stack.append('"')
            index += 1
        elif line.startswith("${", index):
            stack.append(_brace_frame(line, index + 2, top in '")'))
            index += 2
        elif char == "`" or line.startswith("$(", index):
            index = _closing_substitution(line, index)
        elif char == "}" and top != '"':
            stack.pop()
            index += 1
            if not stack:
                return index
        else:
            index += 1
    return -1


def _closing_brace(line: str, index: int, quoted: bool = False) -> int:
    """The index after the ``}`` closing the ``${`` before ``index``, else the
    line's end; ``quoted``: the expansion stands inside double quotes."""
    end = _scan(line, index, _brace_frame(line, index, quoted))
    return len(line) if end < 0 else end


def _closing_substitution(line: str, index: int) -> int:
    if line[index] == "`":
        end = line.find("`", index + 1)
        return len(line) if end < 0 else end + 1
    return _closing(line, index, "(", ")", 0)


_PARAMETER = re.compile(
    r"\$(?:\{(#?)([A-Za-z_][A-Za-z0-9_]*|[0-9@*#?$!-])(.*)\}|([A-Za-z_][A-Za-z0-9_]*|[0-9@*#?$!-]))",
    re.S,
)


class Expander:
    """Expands the words of one line against a shell state."""

    def __init__(self, state: ShellState, file: str, line: int) -> None:
        self.state = state
        self.file = file
        self.line = line
        self.depth = 0  # ${...} being expanded, one inside another

    def word(self, word: Word) -> str:
        pieces: list[str] = []
        for kind, text in word.parts:
            pieces.append(text if kind == "'" else self.text(text, kind == '"'))
        value = "".join(pieces)
        self.state.charge(len(value), self.file, self.line)
        return value

    def fields(self, word: Word) -> list[str]:
        """The word after field splitting (unquoted expansions split at blanks)."""
        if all(kind for kind, _ in word.parts):
            return [self.word(word)]
        value = self.word(word)
        quoted = any(kind for kind, _ in word.parts)
        split = value.split()
        return split if split or not quoted else [value]

    def text(self, text: str, quoted: bool) -> str:
        if "$" not in text and "`" not in text and not (quoted and "\\" in text):
            return text
        out: list[str] = []
        built = 0
        index = 0
        while index < len(text):
            char = text[index]
            if quoted and char == "\\" and index + 1 < len(text) and text[index + 1] in '$`"\\\n':
                out.append(text[index + 1])
                index += 2
                continue
            if char in "$`":
                expanded, index = self._expansion(text, index, quoted)
                out.append(expanded)
                built += len(expanded)
                self.state.check(built, self.file, self.line)
                continue
            out.append(char)
            index += 1
        return "".join(out)

    def _expansion(self, text: str, index: int, quoted: bool) -> tuple[str, int]:
        """The value of the ``$...`` or backquote at ``text[index]``, and the index
        after it; ``quoted``: it stands inside double quotes."""
        if text[index] == "`" or text.startswith("$(", index):
            self._note("command substitution is not evaluated; it is taken as empty")
            return "", _closing_substitution(text, index)
        if not text.startswith("${", index):
            end = _plain_expansion_end(text, index)
            return self.parameter(text[index:end], quoted), end
        end = _closing_brace(text, index + 2, quoted)
        # Each level scans its own text again (a character per step): charged
        # as expansion work, so a 1 MiB line nested deep costs an error, not
        # half a minute.
        self.state.charge_work(2 * (end - index), self.file, self.line)
        # Each level rescans its own text: bounded, so a line of 1 MiB costs
        # at most this many scans of it (and Python's stack is never reached).
        self.depth += 1
        if self.depth > MAX_EXPANSION_DEPTH:
            raise ApacheConfigError(
                f"parameter expansions nested more than {MAX_EXPANSION_DEPTH} deep",
                file=self.file,
                line=self.line,
            )
        try:
            return self.parameter(text[index:end], quoted), end
        finally:
            self.depth -= 1

    def pattern(self, text: str) -> str:
        """A trim's pattern (``${X#...}``) with every quoted character escaped.

        What is quoted (``\\*``, ``'*'``, ``"*"``, ``"$Y"``) matches itself;
        unquoted ``*?[``, in the text or in an unquoted ``$Y``, stay a pattern's.
        """
        out: list[str] = []
        index = 0
        length = len(text)
        while index < length:
            char = text[index]
            if char == "\\":
                out.append(text[index : index + 2] if index + 1 < length else "\\\\")
                index += 2
            elif char == "'":
                end = text.find("'", index + 1)
                end = length if end < 0 else end
                out.append(_escaped(text[index + 1 : end]))
                index = end + 1
            elif char == '"':
                end = _closing_quote(text, index + 1)
                out.append(_escaped(self.text(text[index + 1 : end], True)))
                index = end + 1
            elif char in "$`":
                expanded, index = self._expansion(text, index, False)
                out.append(expanded)
            else:
                out.append(char)
                index += 1
        built = "".join(out)
        self.state.check(len(built), self.file, self.line)
        return built

    def word_value(self, text: str, quoted: bool) -> str:
        """The word of ``${X:-word}`` (and ``-``, ``:+``, ``+``, ``:=``, ``=``, ``:?``,
        ``?``) after quote removal, as dash gives it: outside double quotes,
        quotes and backslashes quote; inside (``quoted``), single quotes are
        characters and a backslash escapes only ``$ ` " \\ }`` and a newline."""
        out: list[str] = []
        index = 0
        length = len(text)
        while index < length:
            char = text[index]
            if char == "\\":
                following = text[index + 1 : index + 2]
                if not following:
                    out.append(char)
                elif not quoted or following in '$`"\\}\n':
                    out.append("" if following == "\n" else following)
                else:
                    out.append(char + following)
                index += 2
            elif char == "'" and not quoted:
                end = text.find("'", index + 1)
                end = length if end < 0 else end
                out.append(text[index + 1 : end])
                index = end + 1
            elif char == '"':
                end = _closing_quote(text, index + 1)
                out.append(self.text(text[index + 1 : end], True))
                index = end + 1
            elif char in "$`":
                expanded, index = self._expansion(text, index, quoted)
                out.append(expanded)
            else:
                out.append(char)
                index += 1
        value = "".join(out)
        self.state.check(len(value), self.file, self.line)
        return value

    def parameter(self, piece: str, quoted: bool = False) -> str:
        match = _PARAMETER.fullmatch(piece)
        if match is None:
            return piece
        length, name, operation, bare = match.groups()
        name = name or bare
        variables = self.state.variables
        value = variables.get(name)
        if length:
            return str(len(value or ""))
        if not operation:
            return value or ""
        for op in (":-", ":=", ":+", ":?", "-", "=", "+", "?", "##", "#", "%%", "%"):
            if operation.startswith(op):
                if op[0] in "#%":
                    return self._trim(value or "", op, operation[len(op) :])
                word = operation[len(op) :]
                break
        else:
            # Its words (a pattern, a replacement) may quote a secret: not shown.
            kind = operation[:1]
            self._note(f"parameter expansion ${{{name}{kind}...}} is not evaluated")
            return ""
        unset_or_empty = value is None or (op.startswith(":") and value == "")
        # The word is expanded only where it is used, as in dash: an unused
        # ${X:+${Y:=v}} assigns nothing.
        if op in (":-", "-"):
            return self.word_value(word, quoted) if unset_or_empty else value or ""
        if op in (":=", "="):
            if unset_or_empty:
                self.state.assign(name, self.word_value(word, quoted))
                return variables[name]
            return value or ""
        if op in (":+", "+"):
            return "" if unset_or_empty else self.word_value(word, quoted)
        if unset_or_empty:
            # ":?" and "?": the shell stops (apachectl fails, httpd never starts).
            raise ApacheConfigError(
                f"{name}: parameter not set (${{{name}{op}...}}): the shell sourcing the "
                "start-up files stops here",
                file=self.file,
                line=self.line,
            )
        return value or ""

    def _trim(self, value: str, op: str, text: str) -> str:
        written = self.pattern(text)
        pattern = compile_pattern(written)
        if pattern.plain is None:
            if len(value) > _MAX_PATTERN_TRIM:
                return value
            # A glob trim tries every prefix or suffix, each a step per run of the
            # pattern and a scan of the value: charged as such (and the pattern's
            # compiling too), so a file repeating one costs an error, not minutes.
            size = len(value)
            steps = (size + 1) * (size + TRIM_WORK_PER_RUN * len(pattern.runs))
            compiling = 8 * len(written)
            self.state.charge_work(compiling + steps // TRIM_WORK_PER_BYTE, self.file, self.line)
        return trim(value, op, pattern)

    def _note(self, message: str) -> None:
        self.state.notes.append(Note(message=message, file=self.file, line=self.line))


def _escaped(text: str) -> str:
    return "".join(f"\\{char}" for char in text)


def _closing_quote(text: str, index: int) -> int:
    """The index of the ``"`` closing a double-quoted run that starts at ``index``."""
    end = _scan(text, index, '"')
    return len(text) if end < 0 else end - 1


def split_words(text: str, state: ShellState, file: str, line: int) -> list[str]:
    """Expand and field-split ``text`` as an unquoted ``$VAR`` on a command line would be."""
    expander = Expander(state, file, line)
    return [piece for command in lex(text) for word in command for piece in expander.fields(word)]
