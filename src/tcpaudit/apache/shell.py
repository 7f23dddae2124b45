"""The part of POSIX sh that start-up files use, evaluated without running a shell.

httpd's environment and ``-D`` flags come from shell fragments the service
sources before it starts httpd: Debian's ``envvars`` (sourced by apache2ctl),
RHEL 6's ``/etc/sysconfig/httpd`` and Gentoo's ``/etc/conf.d/apache2``
(sourced by their init scripts). tcpaudit runs no program, so this module
evaluates what such files hold: assignments, ``export`` (only exported names
reach httpd), ``unset``, ``set -a``, ``. file``, ``if``/``elif``/``else``/``fi``
over ``[``/``test``, and the parameter expansions ``$X``, ``${X}``,
``${X:-w}``, ``${X-w}``, ``${X:+w}``, ``${X+w}``, ``${X:=w}``, ``${X#p}``,
``${X##p}``, ``${X%p}``, ``${X%%p}``, ``${#X}``. Anything else (command
substitution, functions, loops) is skipped with a note.

Every expansion is bounded: a value longer than execve's 128 KiB per string
(MAX_ARG_STRLEN) could never reach httpd, and doubling chains (``A=$A$A``)
stop there with an error naming the file and line instead of growing to
gigabytes; all expansions of one start-up together may produce at most
``MAX_EXPANDED_BYTES``.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from ..errors import ApacheConfigError
from ..provenance import Note

__all__ = [
    "MAX_ENVIRONMENT_BYTES",
    "MAX_EXPANDED_BYTES",
    "MAX_VALUE_BYTES",
    "ShellState",
    "run_script",
    "split_words",
]

# Linux's MAX_ARG_STRLEN (32 pages): execve refuses a longer NAME=value (E2BIG).
MAX_VALUE_BYTES = 128 * 1024
# ARG_MAX with the usual 8 MiB stack: what the whole environment may hold.
MAX_ENVIRONMENT_BYTES = 2 * 1024 * 1024
# What all expansions of one start-up may produce (a real envvars: a few KiB).
MAX_EXPANDED_BYTES = 16 * 1024 * 1024
_MAX_SOURCE_DEPTH = 8
# A glob trim tries every prefix or suffix; longer values are left as they are.
_MAX_PATTERN_TRIM = 4096
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ASSIGNMENT = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)=")


@dataclass
class ShellState:
    """Variables of the shell that sources the start-up files, and what it exports."""

    variables: dict[str, str] = field(default_factory=dict)
    exported: set[str] = field(default_factory=set)
    notes: list[Note] = field(default_factory=list)
    all_export: bool = False
    expanded: int = 0

    def environment(self) -> dict[str, str]:
        """The exported variables, as the program the shell starts receives them."""
        return {name: self.variables[name] for name in self.variables if name in self.exported}

    def charge(self, size: int, file: str, line: int) -> None:
        """Count a value of ``size`` bytes against the bounds."""
        self.expanded += size
        self.check(size, file, line)
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


# -- words ----------------------------------------------------------------------------


@dataclass(slots=True)
class _Word:
    """A shell word before expansion: its parts, each quoted or not."""

    parts: list[tuple[str, str]]  # (kind, text): kind "'" literal, '"' double-quoted, "" bare


def _lex(line: str) -> list[list[_Word]]:
    """Split a logical line into commands (at unquoted ``;``) of words."""
    commands: list[list[_Word]] = [[]]
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
            commands.append([])
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
                end = index + 1
                while end < length and line[end] != '"':
                    end += 2 if line[end] == "\\" else 1
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
                name = _NAME.match(line, index + 1)
                end = name.end() if name else min(index + 2, length)
                parts.append(("", line[index:end]))
                index = end
            else:
                start = index
                while index < length and line[index] not in " \t;'\"\\$`":
                    index += 1
                parts.append(("", line[start:index]))
        commands[-1].append(_Word(parts))
    return [command for command in commands if command]


def _closing_brace(line: str, index: int) -> int:
    depth = 1
    while index < len(line):
        if line[index] == "{":
            depth += 1
        elif line[index] == "}":
            depth -= 1
            if depth == 0:
                return index + 1
        index += 1
    return len(line)


def _closing_substitution(line: str, index: int) -> int:
    if line[index] == "`":
        end = line.find("`", index + 1)
        return len(line) if end < 0 else end + 1
    depth = 0
    while index < len(line):
        if line[index] == "(":
            depth += 1
        elif line[index] == ")":
            depth -= 1
            if depth == 0:
                return index + 1
        index += 1
    return len(line)


_PARAMETER = re.compile(
    r"\$(?:\{(#?)([A-Za-z_][A-Za-z0-9_]*|[0-9@*#?$!-])(.*)\}|([A-Za-z_][A-Za-z0-9_]*|[0-9@*#?$!-]))",
    re.S,
)


class _Expander:
    """Expands the words of one line against a shell state."""

    def __init__(self, state: ShellState, file: str, line: int) -> None:
        self.state = state
        self.file = file
        self.line = line

    def word(self, word: _Word) -> str:
        pieces: list[str] = []
        for kind, text in word.parts:
            pieces.append(text if kind == "'" else self.text(text, kind == '"'))
        value = "".join(pieces)
        self.state.charge(len(value), self.file, self.line)
        return value

    def fields(self, word: _Word) -> list[str]:
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
            if char == "`" or text.startswith("$(", index):
                end = _closing_substitution(text, index)
                self._note("command substitution is not evaluated; it is taken as empty")
                index = end
                continue
            if char == "$":
                end = _closing_brace(text, index + 2) if text.startswith("${", index) else index + 1
                if not text.startswith("${", index):
                    name = _NAME.match(text, index + 1)
                    end = (
                        name.end() if name else (index + 2 if index + 1 < len(text) else index + 1)
                    )
                piece = text[index:end]
                out.append(self.parameter(piece))
                built += len(out[-1])
                self.state.check(built, self.file, self.line)
                index = end
                continue
            out.append(char)
            index += 1
        return "".join(out)

    def parameter(self, piece: str) -> str:
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
                argument = self.text(operation[len(op) :], True)
                break
        else:
            self._note(f"parameter expansion ${{{name}{operation}}} is not evaluated")
            return ""
        unset_or_empty = value is None or (op.startswith(":") and value == "")
        if op in (":-", "-"):
            return argument if unset_or_empty else value or ""
        if op in (":=", "="):
            if unset_or_empty:
                variables[name] = argument
                return argument
            return value or ""
        if op in (":+", "+"):
            return "" if unset_or_empty else argument
        if op in (":?", "?"):
            return value or ""
        return _trim(value or "", op, argument)

    def _note(self, message: str) -> None:
        self.state.notes.append(Note(message=message, file=self.file, line=self.line))


def _trim(value: str, op: str, pattern: str) -> str:
    """``${X#p}`` and friends: remove the shortest/longest matching prefix/suffix."""
    if not any(char in pattern for char in "*?["):
        if op in ("#", "##"):
            return value.removeprefix(pattern)
        return value.removesuffix(pattern)
    if len(value) > _MAX_PATTERN_TRIM:
        return value
    sizes = range(len(value) + 1)
    if op in ("#", "##"):
        order = sizes if op == "#" else reversed(sizes)
        for size in order:
            if fnmatch.fnmatchcase(value[:size], pattern):
                return value[size:]
        return value
    order = sizes if op == "%" else reversed(sizes)
    for size in order:
        if fnmatch.fnmatchcase(value[len(value) - size :], pattern):
            return value[: len(value) - size]
    return value


def split_words(text: str, state: ShellState, file: str, line: int) -> list[str]:
    """Expand and field-split ``text`` as an unquoted ``$VAR`` on a command line would be."""
    expander = _Expander(state, file, line)
    return [piece for command in _lex(text) for word in command for piece in expander.fields(word)]


# -- commands -------------------------------------------------------------------------


def _logical_lines(text: str) -> list[tuple[int, str]]:
    lines: list[tuple[int, str]] = []
    pending = ""
    for number, raw in enumerate(text.split("\n"), start=1):
        if raw.endswith("\\") and not raw.endswith("\\\\"):
            pending += raw[:-1]
            continue
        lines.append((number, pending + raw))
        pending = ""
    if pending:
        lines.append((len(lines) + 1, pending))
    return lines


@dataclass
class _Branch:
    parent_active: bool
    taken: bool
    active: bool


def run_script(
    text: str,
    state: ShellState,
    file: str,
    *,
    source: Callable[[str], tuple[str, str] | None] | None = None,
    exists: Callable[[str, str], bool | None] | None = None,
    depth: int = 0,
) -> None:
    """Evaluate a start-up shell fragment into ``state``.

    Args:
        text: the file's text.
        state: the shell's variables; updated in place.
        file: how the file is named in notes and errors.
        source: for ``. path``: the text and shown name of ``path``, or None.
        exists: for ``[ -f path ]`` and friends: whether the test holds, None if unknown.
        depth: nesting of ``.`` (bounded).

    Raises:
        ApacheConfigError: an expansion beyond the bounds.
    """
    stack: list[_Branch] = []
    for number, raw in _logical_lines(text):
        for words in _lex(raw):
            active = not stack or stack[-1].active
            head = _plain(words[0])
            if head in ("then", "else", "do") and len(words) > 1 and head != "else":
                words, head = words[1:], _plain(words[1])
            if head == "if":
                result = _condition(words[1:], state, file, number, exists) if active else False
                stack.append(_Branch(active, bool(result), active and bool(result)))
                continue
            if head == "elif" and stack:
                branch = stack[-1]
                result = (
                    _condition(words[1:], state, file, number, exists)
                    if branch.parent_active and not branch.taken
                    else False
                )
                branch.active = branch.parent_active and not branch.taken and bool(result)
                branch.taken = branch.taken or branch.active
                continue
            if head == "else" and stack:
                branch = stack[-1]
                branch.active = branch.parent_active and not branch.taken
                branch.taken = True
                if len(words) > 1 and branch.active:
                    _command(words[1:], state, file, number, source, exists, depth)
                continue
            if head == "fi" and stack:
                stack.pop()
                continue
            if head == "then":
                continue
            if active:
                _command(words, state, file, number, source, exists, depth)


def _plain(word: _Word) -> str | None:
    return word.parts[0][1] if len(word.parts) == 1 and word.parts[0][0] == "" else None


def _command(
    words: list[_Word],
    state: ShellState,
    file: str,
    number: int,
    source: Callable[[str], tuple[str, str] | None] | None,
    exists: Callable[[str, str], bool | None] | None,
    depth: int,
) -> None:
    expander = _Expander(state, file, number)
    head = _plain(words[0]) or ""
    if _assignment(words[0]) is not None:
        assignments = [word for word in words if _assignment(word) is not None]
        if len(assignments) == len(words):
            for word in words:
                _assign(word, state, expander, export=state.all_export)
            return
        state.notes.append(
            Note(
                message="a command run with a temporary environment is not evaluated",
                file=file,
                line=number,
            )
        )
        return
    if head in ("export", "readonly", "local", "declare", "typeset"):
        # A builtin's arguments are all expanded before it runs: in
        # `export A=1 B=$A`, B sees the A of before the line.
        exporting = head == "export" or state.all_export
        pending: list[tuple[str, str | None]] = []
        for word in words[1:]:
            if _assignment(word) is not None:
                pending.append(_assignment_value(word, expander))
            else:
                pending += [(name, None) for name in expander.fields(word) if _NAME.fullmatch(name)]
        for name, value in pending:
            if value is not None:
                state.variables[name] = value
            if exporting and (value is not None or head == "export"):
                state.exported.add(name)
        return
    if head == "unset":
        for word in words[1:]:
            for name in expander.fields(word):
                state.variables.pop(name, None)
                state.exported.discard(name)
        return
    if head == "set":
        flags = [expander.word(word) for word in words[1:]]
        if "-a" in flags or ("-o" in flags and "allexport" in flags):
            state.all_export = True
        if "+a" in flags:
            state.all_export = False
        return
    if head in (".", "source") and len(words) > 1:
        path = expander.word(words[1])
        loaded = source(path) if source is not None and depth < _MAX_SOURCE_DEPTH else None
        if loaded is None:
            state.notes.append(Note(message=f"{path} is not read (not in the root, or nested too deep)",
                                    file=file, line=number))  # fmt: skip
            return
        sourced_text, shown = loaded
        run_script(sourced_text, state, shown, source=source, exists=exists, depth=depth + 1)
        return
    if head in (":", "true", "false", "umask", "ulimit", "echo", "printf"):
        return
    state.notes.append(
        Note(message=f"shell command {head or '?'!r} is not evaluated", file=file, line=number)
    )


def _assignment(word: _Word) -> str | None:
    first = word.parts[0] if word.parts else ("'", "")
    if first[0] != "":
        return None
    match = _ASSIGNMENT.match(first[1])
    return match.group(1) if match else None


def _assignment_value(word: _Word, expander: _Expander) -> tuple[str, str]:
    kind, text = word.parts[0]
    name, _, rest = text.partition("=")
    return name, expander.word(_Word([(kind, rest), *word.parts[1:]]))


def _assign(word: _Word, state: ShellState, expander: _Expander, *, export: bool) -> None:
    name, value = _assignment_value(word, expander)
    state.variables[name] = value
    if export:
        state.exported.add(name)


def _condition(
    words: list[_Word],
    state: ShellState,
    file: str,
    number: int,
    exists: Callable[[str, str], bool | None] | None,
) -> bool:
    """``[ ... ]`` / ``test ...``: string, integer and file tests; unknown -> false, noted."""
    expander = _Expander(state, file, number)
    args = [piece for word in words for piece in expander.fields(word)]
    if args and args[0] == "[":
        args = args[1:-1] if args[-1:] == ["]"] else args[1:]
    elif args and args[0] == "test":
        args = args[1:]
    else:
        state.notes.append(Note(message="an if condition that is not a test is taken as false",
                                file=file, line=number))  # fmt: skip
        return False
    result = _test(args, exists)
    if result is None:
        state.notes.append(Note(message=f"test {' '.join(args)!r} is not evaluated; taken as false",
                                file=file, line=number))  # fmt: skip
        return False
    return result


def _test(args: list[str], exists: Callable[[str, str], bool | None] | None) -> bool | None:
    if args[:1] == ["!"]:
        inner = _test(args[1:], exists)
        return None if inner is None else not inner
    if len(args) == 0:
        return False
    if len(args) == 1:
        return args[0] != ""
    if len(args) == 2:
        if args[0] == "-z":
            return args[1] == ""
        if args[0] == "-n":
            return args[1] != ""
        if args[0] in ("-e", "-f", "-d", "-r", "-s", "-x", "-L", "-h") and exists is not None:
            return exists(args[0], args[1])
        return None
    if len(args) == 3:
        left, op, right = args
        if op in ("=", "=="):
            return left == right
        if op == "!=":
            return left != right
        numeric = {"-eq": int.__eq__, "-ne": int.__ne__, "-lt": int.__lt__,
                   "-le": int.__le__, "-gt": int.__gt__, "-ge": int.__ge__}  # fmt: skip
        if op in numeric and left.lstrip("-").isdigit() and right.lstrip("-").isdigit():
            return bool(numeric[op](int(left), int(right)))
    return None
