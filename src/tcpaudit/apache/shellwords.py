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
from dataclasses import dataclass, field

from ..errors import ApacheConfigError
from ..notes import BoundedNotes
from .shell_lexer import Word
from .shell_patterns import compile_pattern, trim
from .shell_scan import (
    SIMPLE_SUBSTITUTIONS,
    closing_brace,
    closing_quote,
    closing_substitution,
    plain_expansion_end,
)

__all__ = [
    "DEFAULT_IFS",
    "MAX_COMMANDS",
    "MAX_ENVIRONMENT_BYTES",
    "MAX_EXPANDED_BYTES",
    "MAX_EXPANSION_DEPTH",
    "MAX_SOURCED_BYTES",
    "MAX_VALUE_BYTES",
    "REDACTED_VALUE",
    "Expander",
    "ShellState",
    "is_secret_variable",
    "redact_environment",
    "split_fields",
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
# What one word's expansion is charged beyond its length (see Expander.word).
WORD_WORK = 32
# A glob trim tries every prefix or suffix; longer values are left as they are.
_MAX_PATTERN_TRIM = 4096
# A glob trim of an n-character value by a pattern of r runs (split at its
# stars) counts as (n + 1) * (n + 64 r) / 64 bytes of expansion: each of the
# n + 1 places tried scans the value and takes a step per run.
TRIM_WORK_PER_BYTE = 64
TRIM_WORK_PER_RUN = 64
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
DEFAULT_IFS = " \t\n"
_IFS = re.compile("[ \t\n]+")
# Where Expander.text has work: an expansion, and inside double quotes a backslash.
_SPECIAL_BARE = re.compile(r"[$`]")
_SPECIAL_QUOTED = re.compile(r"[$`\\]")


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
    # dash sources Debian's envvars; bash the other families' files, and goes
    # on after errors that stop dash (a bad name given to export).
    dash: bool = True
    last_status: bool | None = True  # of the last pipeline run: $?
    errexit: bool = False  # set -e
    readonly: set[str] = field(default_factory=set)
    nounset: bool = False  # set -u

    def environment(self) -> dict[str, str]:
        """The exported variables, as the program the shell starts receives them."""
        return {name: self.variables[name] for name in self.variables if name in self.exported}

    def assign(self, name: str, value: str) -> None:
        """Set ``name``; a variable named like a secret holds REDACTED_VALUE instead."""
        self.variables[name] = REDACTED_VALUE if is_secret_variable(name) else value
        if self.all_export:  # set -a: every assignment exports, ${X:=v} too
            self.exported.add(name)

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


# -- expansion ------------------------------------------------------------------------


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
        self.substituted = False  # a command substitution is noted on this line

    def word(self, word: Word) -> str:
        pieces: list[str] = []
        parts = word.parts
        if parts and parts[0][0] == "" and parts[0][1].startswith("~"):
            parts = [*self._tilde(parts[0][1], len(parts) == 1), *parts[1:]]
        for kind, text in parts:
            pieces.append(text if kind == "'" else self.text(text, kind == '"'))
        value = "".join(pieces)
        self.state.charge(len(value), self.file, self.line)
        # A word costs microseconds however short: counted as WORD_WORK bytes
        # of expansion, so a file of a million one-letter words sourced again
        # and again ends in an error, not a minute (15 MiB of "A ": 59 s).
        self.state.charge_work(WORD_WORK, self.file, self.line)
        return value

    def fields(self, word: Word) -> list[str]:
        """The word after field splitting (unquoted expansions split at blanks)."""
        if all(kind for kind, _ in word.parts):
            return [self.word(word)]
        value = self.word(word)
        quoted = any(kind for kind, _ in word.parts)
        split = split_fields(value, self.state.variables.get("IFS", DEFAULT_IFS))
        return split if split or not quoted else [value]

    def text(self, text: str, quoted: bool) -> str:
        special = _SPECIAL_QUOTED if quoted else _SPECIAL_BARE
        found = special.search(text)
        if found is None:
            return text
        out: list[str] = []
        built = 0
        index = 0
        while found is not None:
            start = found.start()
            out.append(text[index:start])
            char = text[start]
            if char == "\\":  # inside double quotes: escapes only these
                following = text[start + 1 : start + 2]
                out.append(following if following and following in '$`"\\\n' else "\\" + following)
                index = start + 2
            else:
                expanded, index = self._expansion(text, start, quoted)
                out.append(expanded)
                built += len(expanded)
                self.state.check(built, self.file, self.line)
            found = special.search(text, index)
        out.append(text[index:])
        return "".join(out)

    def _expansion(self, text: str, index: int, quoted: bool) -> tuple[str, int]:
        """The value of the ``$...`` or backquote at ``text[index]``, and the index
        after it; ``quoted``: it stands inside double quotes."""
        if text[index] == "`" or text.startswith("$(", index):
            if not self.substituted:  # once a line: a line may hold millions
                self.substituted = True
                self._note("command substitution is not evaluated; it is taken as empty")
            run = SIMPLE_SUBSTITUTIONS.match(text, index)
            end = run.end() if run else closing_substitution(text, index)
            end = len(text) if end < 0 else end
            # Read twice (lexed, then skipped here), a step per character: charged
            # as expansion work, so megabytes of them cost an error, not minutes.
            self.state.charge_work(2 * (end - index), self.file, self.line)
            return "", end
        if not text.startswith("${", index):
            end = plain_expansion_end(text, index)
            return self.parameter(text[index:end], quoted), end
        end = closing_brace(text, index + 2, quoted)
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
                end = closing_quote(text, index + 1)
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
                end = closing_quote(text, index + 1)
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
        value = variables.get(name) if _NAME.fullmatch(name) else self._special(name)
        if (
            value is None
            and self.state.nounset
            and name not in "@*"
            and (not operation or operation[:1] in "#%" or length)
        ):
            raise ApacheConfigError(
                f"{name}: parameter not set (set -u): the shell sourcing the start-up files "
                "stops here",
                file=self.file,
                line=self.line,
            )
        if length:
            # dash counts bytes, not characters (${#Y} of "é" is 2).
            return str(len((value or "").encode("utf-8", "surrogateescape")))
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
            if unset_or_empty and not _NAME.fullmatch(name):
                raise ApacheConfigError(
                    f"${{{name}{op}...}}: a special parameter cannot be assigned; the shell "
                    "sourcing the start-up files stops here",
                    file=self.file,
                    line=self.line,
                )
            if unset_or_empty:
                assigned = self.word_value(word, quoted)
                if name in self.state.readonly:
                    raise ApacheConfigError(
                        f"{name}: is read only: the shell sourcing the start-up files stops here",
                        file=self.file,
                        line=self.line,
                    )
                self.state.assign(name, assigned)
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

    def _tilde(self, text: str, whole: bool) -> list[tuple[str, str]]:
        """``~`` or ``~/...`` at a word's start: HOME when set, as in dash;
        ``~user`` is left as written, with a note."""
        slash = text.find("/")
        if slash < 0 and not whole:
            return [("", text)]  # "~"x": a quoted tilde prefix is not expanded
        prefix = text[1:] if slash < 0 else text[1:slash]
        home = self.state.variables.get("HOME")
        if prefix:
            self._note("~user is not expanded (the host's user database is not read)")
            return [("", text)]
        if home is None:
            return [("", text)]
        return [("'", home), ("", "" if slash < 0 else text[slash:])]

    def _special(self, name: str) -> str | None:
        """``$?``, and the parameters tcpaudit cannot know (``$1``, ``$#``, ``$$``...:
        apachectl's arguments and process), taken as unset, with a note."""
        if name == "?" and self.state.last_status is not None:
            return "0" if self.state.last_status else "1"
        self._note(f"special parameter ${name} is not known; it is taken as unset")
        return None

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
        self.state.notes.append_message(message, self.file, self.line)


def _escaped(text: str) -> str:
    return "".join(f"\\{char}" for char in text)


def split_fields(value: str, ifs: str = DEFAULT_IFS) -> list[str]:
    """The fields an unquoted ``$VAR`` holding ``value`` gives on a command line.

    Split at ``ifs`` (the shell's IFS: space, tab, newline unless a start-up
    file set it) and nothing more: the value's quotes are characters and its
    ``$`` is not expanded again (``APACHE_ARGUMENTS='-D "A B"'`` gives
    ``-D``, ``"A``, ``B"``). IFS white space runs count as one delimiter and
    are dropped at the ends; each other IFS character ends a field, an empty
    one too (``a,,b`` with IFS ``,`` gives ``a``, ``""``, ``b``).
    """
    if ifs == DEFAULT_IFS:
        return [piece for piece in _IFS.split(value) if piece]
    if not ifs:
        return [value] if value else []
    white = "".join(char for char in ifs if char in DEFAULT_IFS)
    fields: list[str] = []
    index, length = 0, len(value)
    while index < length and value[index] in white:
        index += 1
    start = index
    while index < length:
        if value[index] not in ifs:
            index += 1
            continue
        fields.append(value[start:index])
        while index < length and value[index] in white:
            index += 1
        if index < length and value[index] in ifs and value[index] not in white:
            index += 1
            while index < length and value[index] in white:
                index += 1
        start = index
    if start < length:
        fields.append(value[start:])
    return fields
