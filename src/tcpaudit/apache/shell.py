"""The part of POSIX sh that start-up files use, evaluated without running a shell.

httpd's environment and ``-D`` flags come from shell fragments the service
sources before it starts httpd: Debian's ``envvars`` (sourced by apache2ctl),
RHEL 6's ``/etc/sysconfig/httpd`` and Gentoo's ``/etc/conf.d/apache2``
(sourced by their init scripts). tcpaudit runs no program, so this module
evaluates what such files hold: assignments, ``export`` (only exported names
reach httpd), ``unset``, ``set -a``, ``. file``, ``if``/``elif``/``else``/``fi``
over ``[``/``test``, and the parameter expansions ``$X``, ``${X}``,
``${X:-w}``, ``${X-w}``, ``${X:+w}``, ``${X+w}``, ``${X:=w}``, ``${X#p}``,
``${X##p}``, ``${X%p}``, ``${X%%p}``, ``${#X}`` (``shellwords.py``). Anything else (command
substitution, functions, loops) is skipped with a note.

Every expansion is bounded: a value longer than execve's 128 KiB per string
(MAX_ARG_STRLEN) could never reach httpd, and doubling chains (``A=$A$A``)
stop there with an error naming the file and line instead of growing to
gigabytes; all expansions of one start-up together may produce at most
``MAX_EXPANDED_BYTES``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from ..errors import ApacheConfigError
from ..provenance import Note
from .shellwords import MAX_SOURCED_BYTES, Expander, ShellState, Word, lex

__all__ = ["run_script"]

_MAX_SOURCE_DEPTH = 8
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ASSIGNMENT = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)=")


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
        for words in lex(raw):
            state.count_command(file, number)
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


def _plain(word: Word) -> str | None:
    return word.parts[0][1] if len(word.parts) == 1 and word.parts[0][0] == "" else None


def _command(
    words: list[Word],
    state: ShellState,
    file: str,
    number: int,
    source: Callable[[str], tuple[str, str] | None] | None,
    exists: Callable[[str, str], bool | None] | None,
    depth: int,
) -> None:
    expander = Expander(state, file, number)
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
                state.assign(name, value)
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
        # Each sourcing is read and lexed again: bounded in all, not per file
        # (a 1 MiB file sourced 20,000 times took minutes).
        state.sourced += len(sourced_text)
        if state.sourced > MAX_SOURCED_BYTES:
            raise ApacheConfigError(
                f"the start-up files source more than {MAX_SOURCED_BYTES} bytes in all",
                file=file,
                line=number,
            )
        run_script(sourced_text, state, shown, source=source, exists=exists, depth=depth + 1)
        return
    if head in (":", "true", "false", "umask", "ulimit", "echo", "printf"):
        # Run for their expansions' effects: ": ${X:=default}" sets X. Not in
        # a list or a pipeline ("false && : ${X:=v}" never runs the ':'; a
        # pipeline's or a background command's assignments are a subshell's).
        if any(
            (plain := _plain(word)) is not None and ("&" in plain or "|" in plain)
            for word in words[1:]
        ):
            state.notes.append(
                Note(
                    message="a list or pipeline (&&, ||, |, &) is not evaluated",
                    file=file,
                    line=number,
                )
            )
            return
        for word in words[1:]:
            expander.fields(word)
        return
    state.notes.append(
        Note(
            message=f"shell command {_shown_command(head)!r} is not evaluated",
            file=file,
            line=number,
        )
    )


def _shown_command(head: str | None) -> str:
    """The command's name for a note: up to an ``=``, whose value may be a secret
    (``DB_PASSWORD+=x`` is an assignment this shell does not evaluate)."""
    if not head:
        return "?"
    name, equals, _ = head.partition("=")
    return f"{name}=..." if equals else head


def _assignment(word: Word) -> str | None:
    first = word.parts[0] if word.parts else ("'", "")
    if first[0] != "":
        return None
    match = _ASSIGNMENT.match(first[1])
    return match.group(1) if match else None


def _assignment_value(word: Word, expander: Expander) -> tuple[str, str]:
    kind, text = word.parts[0]
    name, _, rest = text.partition("=")
    return name, expander.word(Word([(kind, rest), *word.parts[1:]]))


def _assign(word: Word, state: ShellState, expander: Expander, *, export: bool) -> None:
    name, value = _assignment_value(word, expander)
    state.assign(name, value)
    if export:
        state.exported.add(name)


def _condition(
    words: list[Word],
    state: ShellState,
    file: str,
    number: int,
    exists: Callable[[str, str], bool | None] | None,
) -> bool:
    """``[ ... ]`` / ``test ...``: string, integer and file tests; unknown -> false, noted."""
    expander = Expander(state, file, number)
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
            if max(len(left), len(right)) > 19:
                return False  # test(1): "out of range", an error: the condition fails
            return bool(numeric[op](int(left), int(right)))
    return None
