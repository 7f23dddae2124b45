"""The tokens of a POSIX sh fragment, as dash reads them, before any expansion.

The text is read whole, not line by line, because dash reads it so: quotes and
``${...}`` may span lines, and a here-document's body is no command. Words
end at blanks and at the operators (``;``, ``&``, ``|``, ``&&``, ``||``,
parentheses, redirections) wherever they stand outside quotes and expansions
(``false $Y&& :`` is a list); a digit glued to ``<`` or ``>`` is the
redirection's (``2>&1`` is no list). ``shell_parser.py`` makes a tree of
them; ``shellwords.py`` expands their words.

A quote or ``${`` that the file never closes is a syntax error to dash, which
then stops (so does the service that sources the file): one error naming the
line where it opens.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass, field

from ..errors import ApacheConfigError
from .shell_scan import (
    NAME,
    SIMPLE_SUBSTITUTIONS,
    brace_frame,
    closing_quote,
    closing_substitution,
    plain_expansion_end,
    scan,
)

__all__ = [
    "REDIRECTIONS",
    "SPECIAL_BUILTINS",
    "Command",
    "ShellSyntaxError",
    "Token",
    "Tokens",
    "Word",
    "array_assignment",
    "assignment_name",
    "bare",
    "brace_expansion",
    "literal",
    "split_redirection",
]

_OPERATORS = ("&&", "||", ";;", "<<-", "<<", ">>", "<&", ">&", "<>", ">|",
              ";", "&", "|", "(", ")", "<", ">")  # fmt: skip
_METACHARACTERS = frozenset(" \t\n;&|()<>")
_WORD_END = frozenset(" \t\n;&|()<>'\"\\$`")
# dash's special builtins: an assignment before one stays, its errors stop
# the shell, and no function may take its name.
SPECIAL_BUILTINS = frozenset((":", ".", "break", "continue", "eval", "exec", "exit", "export",
                              "readonly", "return", "set", "shift", "times", "trap", "unset"))  # fmt: skip
REDIRECTIONS = frozenset(("<<-", "<<", ">>", "<&", ">&", "<>", ">|", "<", ">"))
_ASSIGNMENT = re.compile(rf"({NAME.pattern})=")
_APPENDING = re.compile(rf"({NAME.pattern})\+?=")
_ARRAY_START = re.compile(rf"{NAME.pattern}\[")
_ARRAY_END = re.compile(r"\]\+?=")
_PARAMETER = re.compile(r"\$\{[^}]*\}")
_BRACES = re.compile(r"\{[^{}]*(?:,|\.\.)[^{}]*\}")


class ShellSyntaxError(ApacheConfigError):
    """A syntax error in a start-up file: dash stops there; bash leaves the
    file it was reading and goes on."""


@dataclass(slots=True)
class Word:
    """A shell word before expansion: its parts, each quoted or not."""

    parts: list[tuple[str, str]]  # (kind, text): kind "'" literal, '"' double-quoted, "" bare


@dataclass(slots=True)
class Command:
    """A simple command: its words and its redirections' targets."""

    words: list[Word]
    line: int
    redirections: list[Word] = field(default_factory=list)  # targets, expanded as dash does
    operators: list[str] = field(default_factory=list)  # each redirection's ("<<": a body)


Token = tuple[str, object, int]


# -- tokens ---------------------------------------------------------------------------


class Tokens:
    """Words, operators and newlines of a text, with line numbers and a push-back."""

    def __init__(self, text: str, file: str, *, dash: bool = True) -> None:
        self.text = text
        self.file = file
        self.dash = dash  # dash takes one digit for a descriptor (10>x is 10 and >x)
        self.index = 0
        self.line = 1
        self.heredocs: list[tuple[str, bool]] = []  # delimiters whose bodies come next
        self.delimiter_next: str | None = None
        self.bodies: deque[str] = deque()  # here-documents read, waiting for their commands
        self.back: list[Token] = []

    def push(self, token: Token) -> None:
        self.back.append(token)

    def next(self) -> Token | None:
        """("word", Word, line), ("op", str, line), ("redir", str, line),
        ("newline", "", line), None at the end."""
        if self.back:
            return self.back.pop()
        text = self.text
        length = len(text)
        while self.index < length:
            char = text[self.index]
            if char in " \t":
                self.index += 1
            elif char == "\\" and text.startswith("\\\n", self.index):
                self.index += 2
                self.line += 1
            elif char == "#":
                end = text.find("\n", self.index)
                self.index = length if end < 0 else end
            elif char == "\n":
                if self.delimiter_next is not None:
                    raise self._unterminated("a here-document has no delimiter", self.line)
                line = self.line
                self.index += 1
                self.line += 1
                if self.heredocs:
                    self._skip_heredocs()
                return ("newline", "", line)
            elif char in _METACHARACTERS:
                return self._operator("")
            else:
                line = self.line
                word = self._word()
                if (
                    self.index < length
                    and text[self.index] in "<>"
                    and _digits(word)
                    and (not self.dash or len(word.parts[0][1]) == 1)
                ):
                    # "2>&1": the descriptor belongs to the redirection.
                    return self._operator(word.parts[0][1])
                if self.delimiter_next is not None:
                    delimiter = "".join(text for _, text in word.parts)
                    self.heredocs.append((delimiter, self.delimiter_next == "<<-"))
                    self.delimiter_next = None
                return ("word", word, line)
        return None

    def _operator(self, descriptor: str) -> Token:
        """("op", operator, line), or ("redir", descriptor + operator, line)."""
        text = self.text
        operator = next(op for op in _OPERATORS if text.startswith(op, self.index))
        self.index += len(operator)
        if operator in ("<<", "<<-"):
            self.delimiter_next = operator
        if operator in REDIRECTIONS:
            return ("redir", descriptor + operator, self.line)
        return ("op", operator, self.line)

    def _skip_heredocs(self) -> None:
        """Read the bodies of the here-documents opened on the line just ended
        (``bodies``: no command, but expanded as dash expands them)."""
        text = self.text
        for delimiter, strip_tabs in self.heredocs:
            rows: list[str] = []
            while self.index < len(text):
                end = text.find("\n", self.index)
                end = len(text) if end < 0 else end
                row = text[self.index : end]
                self.index = end + 1
                self.line += 1
                row = row.lstrip("\t") if strip_tabs else row
                if row == delimiter:
                    break
                rows.append(row)
            self.bodies.append("\n".join(rows))
        self.heredocs = []

    def error(self, what: str, line: int) -> ApacheConfigError:
        return self._unterminated(what, line)

    def _unterminated(self, what: str, line: int) -> ApacheConfigError:
        return ShellSyntaxError(
            f"{what}: a syntax error to the shell sourcing the start-up files, which stops here",
            file=self.file,
            line=line,
        )

    def _word(self) -> Word:
        text = self.text
        length = len(text)
        parts: list[tuple[str, str]] = []
        index = self.index
        while index < length and text[index] not in _METACHARACTERS:
            char = text[index]
            start = index
            if char == "'":
                end = text.find("'", index + 1)
                if end < 0:
                    raise self._unterminated("a quoted string is never closed", self.line)
                parts.append(("'", text[index + 1 : end]))
                index = end + 1
            elif char == '"':
                end = closing_quote(text, index + 1)
                if end >= length:
                    raise self._unterminated("a quoted string is never closed", self.line)
                parts.append(('"', _without_continuations(text[index + 1 : end])))
                index = end + 1
            elif char == "\\":
                following = text[index + 1 : index + 2]
                if following != "\n":
                    parts.append(("'", following or "\\"))
                index += 2
            elif text.startswith("${", index):
                end = scan(text, index + 2, brace_frame(text, index + 2, False))
                if end < 0:
                    raise self._unterminated("a ${ is never closed by }", self.line)
                parts.append(("", _without_continuations(text[index:end])))
                index = end
            elif char == "`" or text.startswith("$(", index):
                run = SIMPLE_SUBSTITUTIONS.match(text, index)
                index = run.end() if run else closing_substitution(text, index)
                if index < 0:
                    raise self._unterminated("a command substitution is never closed", self.line)
                parts.append(("", text[start:index]))
            elif char == "$":
                index = plain_expansion_end(text, index)
                parts.append(("", text[start:index]))
            else:
                while index < length and text[index] not in _WORD_END:
                    index += 1
                parts.append(("", text[start:index]))
            self.line += text.count("\n", start, index)
        self.index = index
        return Word(_joined(parts))


def _joined(parts: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """``parts`` with each run of bare parts made one: they are read again whole
    when expanded, and a word of a million ``$(...)`` costs one reading."""
    if len(parts) < 2:
        return parts
    joined: list[tuple[str, str]] = []
    bare: list[str] = []
    for kind, text in parts:
        if kind == "":
            bare.append(text)
            continue
        if bare:
            joined.append(("", "".join(bare)))
            bare = []
        joined.append((kind, text))
    if bare:
        joined.append(("", "".join(bare)))
    return joined


def _digits(word: Word) -> bool:
    text = word.parts[0][1] if len(word.parts) == 1 and word.parts[0][0] == "" else ""
    return text.isascii() and text.isdigit()


def _without_continuations(text: str) -> str:
    """``text`` with each backslash-newline removed, as dash removes them
    inside double quotes and expansions (an escaped backslash stays)."""
    if "\\\n" not in text:
        return text
    return re.sub(r"\\(.)", lambda match: "" if match.group(1) == "\n" else match.group(0), text,
                  flags=re.S)  # fmt: skip


def split_redirection(written: str) -> tuple[int | None, str]:
    """A redirection's descriptor (None when not written) and operator: "2>&" is (2, ">&")."""
    operator = written.lstrip("0123456789")
    digits = written[: len(written) - len(operator)]
    return (int(digits) if digits else None), operator


def bare(word: Word) -> str | None:
    """The word's text when it is one unquoted run (a reserved word must be)."""
    return word.parts[0][1] if len(word.parts) == 1 and word.parts[0][0] == "" else None


# -- words, before expansion ------------------------------------------------------------


def literal(word: Word) -> str | None:
    """The word after quote removal when it holds no expansion (``\\:`` and
    ``"echo"`` name ``:`` and ``echo``), else None."""
    pieces: list[str] = []
    for kind, text in word.parts:
        if kind != "'" and ("$" in text or "`" in text):
            return None
        pieces.append(re.sub(r'\\([$`"\\])', r"\1", text) if kind == '"' else text)
    return "".join(pieces)


def assignment_name(word: Word, bash: bool = False) -> str | None:
    """The name ``word`` assigns (``A=x``; bash's ``A+=x`` too), or None."""
    first = word.parts[0] if word.parts else ("'", "")
    if first[0] != "":
        return None
    match = (_APPENDING if bash else _ASSIGNMENT).match(first[1])
    return match.group(1) if match else None


def array_assignment(word: Word) -> bool:
    """bash's ``A[i]=x``, ``A["k"]=x`` or ``A[$i]+=x``: it makes an array of A
    (the subscript may be quoted or expanded; the ``]=`` may not be quoted)."""
    first = word.parts[0] if word.parts else ("'", "")
    if first[0] != "" or not _ARRAY_START.match(first[1]):
        return False
    return any(kind == "" and _ARRAY_END.search(text) for kind, text in word.parts)


def brace_expansion(word: Word) -> bool:
    """Whether bash may make several words of ``word`` (``{a,b}``, ``{1..3}``:
    its braces and their comma or ``..`` unquoted); dash keeps it as written."""
    shape = "".join(text if kind == "" else "x" for kind, text in word.parts)
    return "{" in shape and _BRACES.search(_PARAMETER.sub("x", shape)) is not None
