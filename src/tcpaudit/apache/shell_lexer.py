"""The commands of a POSIX sh fragment, as dash reads them, before any expansion.

The text is read whole, not line by line, because dash reads it so: quotes and
``${...}`` may span lines, a line ending in ``&&``, ``||`` or ``|`` goes on
on the next one, and a here-document's body is no command. Commands are split
at ``;``, ``&``, newlines and the list and pipeline operators wherever they
stand outside quotes and expansions (``false $Y&& :`` is a list); a digit
glued to ``<`` or ``>`` is the redirection's (``2>&1`` is no list). What is
made of them (``shell.py``) decides what runs; ``shellwords.py`` expands
their words.

A quote or ``${`` that the file never closes is a syntax error to dash, which
then stops (so does the service that sources the file): one error naming the
line where it opens.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field

from ..errors import ApacheConfigError
from .shell_scan import (
    SIMPLE_SUBSTITUTIONS,
    brace_frame,
    closing_quote,
    closing_substitution,
    plain_expansion_end,
    scan,
)

__all__ = [
    "AndOr",
    "Command",
    "Pipeline",
    "Word",
    "parse",
]

_OPERATORS = ("&&", "||", ";;", "<<-", "<<", ">>", "<&", ">&", "<>", ">|",
              ";", "&", "|", "(", ")", "<", ">")  # fmt: skip
_METACHARACTERS = frozenset(" \t\n;&|()<>")
_WORD_END = frozenset(" \t\n;&|()<>'\"\\$`")
_REDIRECTIONS = frozenset(("<<-", "<<", ">>", "<&", ">&", "<>", ">|", "<", ">"))
# Reserved words after which a command starts (where "case", "{" and "}" count).
_OPENERS = frozenset(("then", "do", "else", "elif", "if", "while", "until", "{", "!"))


@dataclass(slots=True)
class Word:
    """A shell word before expansion: its parts, each quoted or not."""

    parts: list[tuple[str, str]]  # (kind, text): kind "'" literal, '"' double-quoted, "" bare


@dataclass(slots=True)
class Command:
    """A simple command (``kind`` "simple"), or a subshell or function definition,
    which tcpaudit does not run (their words are not kept)."""

    words: list[Word]
    line: int
    redirections: list[Word] = field(default_factory=list)  # targets, expanded as dash does
    kind: str = "simple"


@dataclass(slots=True)
class Pipeline:
    """Commands joined by ``|``; ``!`` before them negates the status."""

    commands: list[Command]
    negated: bool = False


@dataclass(slots=True)
class AndOr:
    """Pipelines joined by ``&&`` and ``||``; ``background``: ended by ``&``."""

    pipelines: list[Pipeline]
    connectors: list[str]
    background: bool = False

    @property
    def line(self) -> int:
        return self.pipelines[0].commands[0].line


# -- tokens ---------------------------------------------------------------------------


class _Tokens:
    """Words, operators and newlines of a text, with line numbers and a push-back."""

    def __init__(self, text: str, file: str) -> None:
        self.text = text
        self.file = file
        self.index = 0
        self.line = 1
        self.heredocs: list[tuple[str, bool]] = []  # delimiters whose bodies come next
        self.delimiter_next: str | None = None
        self.bodies: deque[str] = deque()  # here-documents read, waiting for their commands
        self.back: list[tuple[str, object, int]] = []

    def push(self, token: tuple[str, object, int]) -> None:
        self.back.append(token)

    def next(self) -> tuple[str, object, int] | None:
        """("word", Word, line), ("op", str, line), ("newline", "", line), None at the end."""
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
                operator = next(op for op in _OPERATORS if text.startswith(op, self.index))
                self.index += len(operator)
                if operator in ("<<", "<<-"):
                    self.delimiter_next = operator
                return ("op", operator, self.line)
            else:
                line = self.line
                word = self._word()
                if self.index < length and text[self.index] in "<>" and _digits(word):
                    continue  # "2>&1": the descriptor belongs to the redirection
                if self.delimiter_next is not None:
                    delimiter = "".join(text for _, text in word.parts)
                    self.heredocs.append((delimiter, self.delimiter_next == "<<-"))
                    self.delimiter_next = None
                return ("word", word, line)
        return None

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
        return ApacheConfigError(
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
    return len(word.parts) == 1 and word.parts[0][0] == "" and word.parts[0][1].isdigit()


def _without_continuations(text: str) -> str:
    """``text`` with each backslash-newline removed, as dash removes them
    inside double quotes and expansions (an escaped backslash stays)."""
    if "\\\n" not in text:
        return text
    return re.sub(r"\\(.)", lambda match: "" if match.group(1) == "\n" else match.group(0), text,
                  flags=re.S)  # fmt: skip


# -- commands -------------------------------------------------------------------------


def parse(text: str, file: str) -> Iterator[AndOr]:
    """The lists of ``text`` in order, one at a time (a file of 500,000 is not held whole).

    Raises:
        ApacheConfigError: a quote or ``${`` never closed (dash stops there).
    """
    tokens = _Tokens(text, file)
    pipelines: list[Pipeline] = []
    connectors: list[str] = []
    commands: list[Command] = []
    words: list[Word] = []
    redirections: list[Word] = []
    negated = False
    line = 0
    target = ""  # the operator whose word comes next (a redirection's)
    piped = False  # a "|" waits for its next command
    cases = 0  # case statements open: ";;" and ")" belong to them
    opening = False  # the command's words so far are reserved words ("then", "{")

    def syntax(what: str, at: int) -> ApacheConfigError:
        return tokens.error(f"{what} unexpected", at)

    def command_done() -> None:
        nonlocal words, redirections
        if words or redirections:
            commands.append(Command(words, line, redirections))
        words, redirections = [], []

    def pipeline_done() -> None:
        nonlocal commands, negated
        command_done()
        if commands:
            pipelines.append(Pipeline(commands, negated))
        commands, negated = [], False

    def list_done(background: bool) -> AndOr | None:
        nonlocal pipelines, connectors
        pipeline_done()
        done = AndOr(pipelines, connectors[: max(len(pipelines) - 1, 0)], background)
        pipelines, connectors = [], []
        return done if done.pipelines else None

    heredocs: deque[tuple[Word, bool]] = deque()  # bodies to fill, in order
    ready: deque[AndOr] = deque()  # lists done, waiting for their bodies
    while (token := tokens.next()) is not None:
        kind, value, token_line = token
        while tokens.bodies and heredocs:
            body, quoted = heredocs.popleft()
            text_of_body = tokens.bodies.popleft()
            body.parts = [] if quoted else [('"', text_of_body)]
        # A list waits for the bodies of the here-documents it opened, read at
        # the line's end ("cat <<EOF; x" is done before its body is read).
        while ready and not heredocs:
            yield ready.popleft()
        if kind != "newline":
            piped = kind == "op" and value == "|"
        if kind == "word":
            assert isinstance(value, Word)
            if target == "<<":
                # The delimiter is not expanded; the body, unless the delimiter
                # is quoted, is, when the command runs (its ':=' assigns).
                body = Word([])
                redirections.append(body)
                quoted = any(kind for kind, _ in value.parts)
                heredocs.append((body, quoted))
                target = ""
            elif target:
                redirections.append(value)
                target = ""
            elif not words and not commands and not negated and _bare(value) == "!":
                negated = True
            else:
                if not words:
                    line = token_line
                    if redirections and _bare(value) is not None:
                        # After a redirection a reserved word is a command name
                        # (">/dev/null fi" runs a command named fi).
                        value = Word([("'", _bare(value) or "")])
                if not words or opening:  # at a command's start, reserved words aside
                    bare = _bare(value) or ""
                    cases += {"case": 1, "esac": -1}.get(bare, 0)
                    opening = bare in _OPENERS
                words.append(value)
            continue
        if kind == "newline":
            if (
                connectors
                and len(connectors) == len(pipelines)
                and not (words or redirections or commands)
            ):
                continue  # "a &&" then a newline: the list goes on
            if piped:
                continue  # "a |" then a newline: the pipeline goes on
            if (done := list_done(False)) is not None:
                ready.append(done)
            continue
        operator = str(value)
        empty = not (words or redirections or commands)
        if operator in ("&&", "||", "|") and empty:
            raise syntax(f'"{operator}"', token_line)
        if operator in (";", "&") and empty:
            raise syntax(f'"{operator}"', token_line)
        # ";;" and ")" belong to case; "(" after a word to case or to "name()".
        stray_paren = operator == "(" and len(words) > 1
        if not cases and (operator in (";;", ")") or stray_paren):
            raise syntax(f'"{operator}"', token_line)
        if operator in _REDIRECTIONS:
            if not words and not redirections:
                line = token_line
            target = operator[:2]
        elif operator in ("&&", "||"):
            pipeline_done()
            connectors.append(operator)
        elif operator == "|":
            command_done()
        elif operator == "(" and not words:
            _skip_group(tokens, "(", ")")
            commands.append(Command([], token_line, kind="subshell"))
        elif operator == "(" and len(words) == 1 and _peek_operator(tokens) == ")":
            tokens.next()
            _skip_function_body(tokens)
            commands.append(Command(words, line, kind="function"))
            words = []
        elif (done := list_done(operator == "&")) is not None:
            ready.append(done)  # ";", ";;", "&", and parentheses of case patterns
    dangling = (
        connectors and len(connectors) == len(pipelines) and not (words or redirections or commands)
    )
    if piped or dangling:
        raise syntax("the end of the file", tokens.line)
    if (done := list_done(False)) is not None:
        ready.append(done)
    yield from ready


def _bare(word: Word) -> str | None:
    return word.parts[0][1] if len(word.parts) == 1 and word.parts[0][0] == "" else None


def _peek_operator(tokens: _Tokens) -> str | None:
    token = tokens.next()
    if token is None:
        return None
    tokens.push(token)
    return str(token[1]) if token[0] == "op" else None


def _skip_group(tokens: _Tokens, opening: str, closing: str) -> None:
    """Step over tokens up to the ``closing`` that matches an ``opening`` just read."""
    depth = 1
    while (token := tokens.next()) is not None:
        kind, value, _ = token
        text = str(value) if kind == "op" else _bare(value) if isinstance(value, Word) else None
        if text == opening:
            depth += 1
        elif text == closing:
            depth -= 1
            if depth == 0:
                return
    raise tokens.error(f"the file ends before its {closing}", tokens.line)


def _skip_function_body(tokens: _Tokens) -> None:
    """Step over ``{ ...; }`` or ``( ... )`` after ``name()``, newlines before it too."""
    while (token := tokens.next()) is not None:
        kind, value, _ = token
        if kind == "newline":
            continue
        if kind == "op" and value == "(":
            _skip_group(tokens, "(", ")")
        elif isinstance(value, Word) and _bare(value) == "{":
            _skip_braces(tokens)
        return


def _skip_braces(tokens: _Tokens) -> None:
    """Step over tokens up to the ``}`` closing a ``{`` just read: braces count
    only where a command starts (``echo }`` closes nothing)."""
    depth = 1
    at_start = True
    after_redirection = False
    while (token := tokens.next()) is not None:
        kind, value, _ = token
        if kind != "word":
            after_redirection = kind == "op" and str(value) in _REDIRECTIONS
            at_start = at_start or not after_redirection
            continue
        text = _bare(value) if isinstance(value, Word) else None
        if at_start and not after_redirection and text in ("{", "}"):
            depth += 1 if text == "{" else -1
            if depth == 0:
                return
        at_start = text in _OPENERS and not after_redirection
        after_redirection = False
    raise tokens.error("the file ends before its }", tokens.line)
