"""The part of POSIX sh that start-up files use, evaluated without running a shell.

httpd's environment and ``-D`` flags come from shell fragments the service
sources before it starts httpd: Debian's ``envvars`` (sourced by apache2ctl),
RHEL 6's ``/etc/sysconfig/httpd`` and Gentoo's ``/etc/conf.d/apache2``
(sourced by their init scripts). tcpaudit runs no program, so this module
evaluates what such files hold: assignments, ``export`` (only exported names
reach httpd), ``unset``, ``set -a``, ``. file``, ``if``/``elif``/``else``/``fi``
over ``[``/``test``, lists (``&&``, ``||``) of commands whose status is
known, and the parameter expansions ``$X``, ``${X}``,
``${X:-w}``, ``${X-w}``, ``${X:+w}``, ``${X+w}``, ``${X:=w}``, ``${X#p}``,
``${X##p}``, ``${X%p}``, ``${X%%p}``, ``${#X}`` (``shellwords.py``). Anything else (command
substitution, functions, loops, pipelines and ``&``, which run in subshells) is
skipped with a note; a command tcpaudit does not run still has its words
expanded, as dash expands them before running it (``mkdir ${D:=/run/x}``
sets D, ``cd ${D:?}`` on an unset D stops the shell).

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

from ..errors import ApacheConfigError, ParseError
from .shell_lexer import AndOr, Command, Pipeline, Word, parse
from .shellwords import MAX_SOURCED_BYTES, Expander, ShellState

__all__ = ["run_script"]

_MAX_SOURCE_DEPTH = 8
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Special builtins: an assignment before one stays in the shell (A=1 : sets A).
_SPECIAL = frozenset((":", ".", "break", "continue", "eval", "exec", "exit", "export",
                      "readonly", "return", "set", "shift", "times", "trap", "unset"))  # fmt: skip
_EXPANDING = frozenset((":", "true", "false", "echo", "printf", "umask", "ulimit"))
_LOOPS = frozenset(("for", "while", "until", "case"))
_ASSIGNMENT = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)=")


# -- commands -------------------------------------------------------------------------


@dataclass
class _Branch:
    parent_active: bool
    taken: bool
    active: bool


class _ReturnError(Exception):
    """``return`` in a sourced file: that file ends, its caller goes on."""


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
        ApacheConfigError: an expansion beyond the bounds, a syntax error or a
            command that ends the shell (``exit``, ``${X:?}`` on an unset X).
    """
    runner = _Runner(state, file, source, exists, depth)
    try:
        for listed in parse(text, file):
            runner.count(listed)
            runner.list(listed)
    except _ReturnError:
        return


class _Runner:
    """Runs the lists of one file: ``if`` blocks, skipped loops, statuses."""

    def __init__(
        self,
        state: ShellState,
        file: str,
        source: Callable[[str], tuple[str, str] | None] | None,
        exists: Callable[[str, str], bool | None] | None,
        depth: int,
    ) -> None:
        self.state = state
        self.file = file
        self.source = source
        self.exists = exists
        self.depth = depth
        self.branches: list[_Branch] = []
        self.skipping = 0  # loops and case statements open, being stepped over

    def count(self, listed: AndOr) -> None:
        for pipeline in listed.pipelines:
            for command in pipeline.commands:
                self.state.count_command(self.file, command.line)

    def note(self, message: str, line: int) -> None:
        self.state.notes.append_message(message, self.file, line)

    @property
    def active(self) -> bool:
        return not self.branches or self.branches[-1].active

    def list(self, listed: AndOr) -> None:
        first = listed.pipelines[0].commands[0]
        words = _strip_keywords(first.words, self)
        head = _plain(words[0]) if words else None
        if self.skipping:
            if head in _LOOPS:
                self.skipping += 1
            elif head in ("done", "esac"):
                self.skipping -= 1
            return
        rest = _with_first(listed, words[1:] if head in ("if", "elif", "fi", "}") else words)
        if head == "if":
            result = self.condition(rest, first.line) if self.active else False
            self.branches.append(_Branch(self.active, result, self.active and result))
        elif head == "elif" and self.branches:
            branch = self.branches[-1]
            open_ = branch.parent_active and not branch.taken
            branch.active = open_ and self.condition(rest, first.line)
            branch.taken = branch.taken or branch.active
        elif head == "fi" and self.branches:
            self.branches.pop()
        elif head in _LOOPS:
            if self.active:
                what = "a case statement" if head == "case" else f"a {head} loop"
                self.note(f"{what} is not evaluated (nor the commands in it)", first.line)
            self.skipping = 1
        elif rest is not None and self.active:
            self.run(rest)

    def condition(self, listed: AndOr | None, line: int) -> bool:
        status = self.run(listed) if listed is not None else None
        if status is None:
            self.note("an if condition whose result is not known is taken as false", line)
            return False
        return status

    def run(self, listed: AndOr) -> bool | None:
        """Run a list; its status, None when not known."""
        if listed.background:
            self.note("a command run in the background (&) is not evaluated: it runs in a "
                      "subshell", listed.line)  # fmt: skip
            return True
        status: bool | None = True
        for index, pipeline in enumerate(listed.pipelines):
            if index:
                if status is None:
                    self.note("the rest of a list (&&, ||) after a command whose result is not "
                              "known is not evaluated", pipeline.commands[0].line)  # fmt: skip
                    return None
                if (listed.connectors[index - 1] == "&&") != status:
                    continue
            status = self.pipeline(pipeline)
        return status

    def pipeline(self, pipeline: Pipeline) -> bool | None:
        if len(pipeline.commands) > 1:
            self.note("a pipeline (|) is not evaluated: its commands run in subshells",
                      pipeline.commands[0].line)  # fmt: skip
            status = _literal_status(pipeline.commands[-1])
        else:
            status = self.command(pipeline.commands[0])
        return status if status is None or not pipeline.negated else not status

    def command(self, command: Command) -> bool | None:
        if command.kind == "subshell":
            self.note("a subshell ( ... ) is not evaluated", command.line)
            return None
        if command.kind == "function":
            self.note("a function definition is not evaluated (nor calls to it)", command.line)
            return True
        return _simple(command, self)


def _strip_keywords(words: list[Word], runner: _Runner) -> list[Word]:
    """``words`` without the ``then``, ``else``, ``do`` or ``{`` that opens them
    (an ``else`` switches the current branch)."""
    while words:
        head = _plain(words[0])
        if head == "else" and runner.branches and not runner.skipping:
            branch = runner.branches[-1]
            branch.active = branch.parent_active and not branch.taken
            branch.taken = True
        elif head not in ("then", "else", "do", "{"):
            break
        words = words[1:]
    return words


def _with_first(listed: AndOr, words: list[Word]) -> AndOr | None:
    """``listed`` with its first command's words replaced; None when nothing is left."""
    first = listed.pipelines[0]
    command = first.commands[0]
    negated = first.negated
    while words and _plain(words[0]) == "!":  # "then ! cmd": "!" after a keyword
        words, negated = words[1:], not negated
    if not words and not command.redirections:
        if len(first.commands) == 1 and len(listed.pipelines) == 1:
            return None
        words = [Word([("", ":")])]  # "fi && x": the keyword's place runs as ':'
    replaced = Command(words, command.line, command.redirections, command.kind)
    pipelines = [Pipeline([replaced, *first.commands[1:]], negated), *listed.pipelines[1:]]
    return AndOr(pipelines, listed.connectors, listed.background)


def _simple(command: Command, runner: _Runner) -> bool | None:
    """Run one simple command; its status, None when not known."""
    state, file, number = runner.state, runner.file, command.line
    expander = Expander(state, file, number)
    words = command.words
    prefix = 0
    while prefix < len(words) and _assignment(words[prefix]) is not None:
        prefix += 1
    assignments, arguments = words[:prefix], words[prefix:]
    name = _literal(arguments[0]) if arguments else None
    if not arguments or name in _SPECIAL:
        # Alone, or before a special builtin, assignments stay in the shell.
        for word in assignments:
            _assign(word, state, expander)
    else:
        for word in assignments:  # the command's own environment: expanded, not kept
            _assignment_value(word, expander)
    for target in command.redirections:
        expander.word(target)
    if not arguments:
        return True
    if name in ("export", "readonly"):
        _declare(name, arguments[1:], state, expander)
        return True
    if name == "unset":
        for word in arguments[1:]:
            for variable in expander.fields(word):
                state.variables.pop(variable, None)
                state.exported.discard(variable)
        return True
    if name == "set":
        flags = [expander.word(word) for word in arguments[1:]]
        if "-a" in flags or ("-o" in flags and "allexport" in flags):
            state.all_export = True
        if "+a" in flags:
            state.all_export = False
        return True
    if name in (".", "source") and len(arguments) > 1:
        return _source(expander.word(arguments[1]), runner, number)
    if name in _EXPANDING:
        # Run for their expansions' effects: ": ${X:=default}" sets X.
        for word in arguments[1:]:
            expander.fields(word)
        return name != "false"
    if name in ("[", "test"):
        args = [piece for word in arguments for piece in expander.fields(word)]
        return _condition(args, runner, number)
    if name in ("exit", "return"):
        for word in arguments[1:]:
            expander.fields(word)
        if name == "return":  # every start-up file is sourced: it ends that file
            raise _ReturnError
        raise ApacheConfigError(
            "exit: the shell sourcing the start-up files ends here, before it starts httpd",
            file=file,
            line=number,
        )
    # Not run, but its words are expanded first, as dash does: their ':='
    # assign and their ':?' stop the shell.
    for word in arguments:
        expander.fields(word)
    runner.note(f"shell command {_shown_command(name)!r} is not evaluated", number)
    return None


def _declare(name: str, words: list[Word], state: ShellState, expander: Expander) -> None:
    """``export`` and ``readonly``: every argument is expanded before any is
    set (in ``export A=1 B=$A``, B sees the A of before the line)."""
    exporting = name == "export" or state.all_export
    pending: list[tuple[str, str | None]] = []
    for word in words:
        if _assignment(word) is not None:
            pending.append(_assignment_value(word, expander))
        else:
            pending += [(field, None) for field in expander.fields(word) if _NAME.fullmatch(field)]
    for variable, value in pending:
        if value is not None:
            state.assign(variable, value)
        if exporting and (value is not None or name == "export"):
            state.exported.add(variable)


def _source(path: str, runner: _Runner, number: int) -> bool | None:
    state, file = runner.state, runner.file
    try:
        loaded = (
            runner.source(path)
            if runner.source is not None and runner.depth < _MAX_SOURCE_DEPTH
            else None
        )
    except ParseError as refused:
        # A bound reached while finding the file: named at the line sourcing it.
        raise ApacheConfigError(f"{path}: {refused.reason}", file=file, line=number) from None
    if loaded is None:
        runner.note(f"{path} is not read (not in the root, or nested too deep)", number)
        return None
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
    run_script(
        sourced_text, state, shown, source=runner.source, exists=runner.exists,
        depth=runner.depth + 1,
    )  # fmt: skip
    return None


def _literal_status(command: Command) -> bool | None:
    """The status of ``true``, ``false`` or ``:`` written with no expansion (a
    pipeline's last command, whose status is the pipeline's); else None."""
    if command.kind != "simple" or not command.words or command.redirections:
        return None
    names = [_literal(word) for word in command.words]
    if any(name is None for name in names) or _assignment(command.words[0]) is not None:
        return None
    return {"true": True, ":": True, "false": False}.get(names[0] or "")


def _plain(word: Word) -> str | None:
    """The word's text when it is one unquoted run (a reserved word must be)."""
    return word.parts[0][1] if len(word.parts) == 1 and word.parts[0][0] == "" else None


def _literal(word: Word) -> str | None:
    """The word after quote removal when it holds no expansion (``\\:`` and
    ``"echo"`` name ``:`` and ``echo``), else None."""
    pieces: list[str] = []
    for kind, text in word.parts:
        if kind != "'" and ("$" in text or "`" in text):
            return None
        pieces.append(re.sub(r'\\([$`"\\])', r"\1", text) if kind == '"' else text)
    return "".join(pieces)


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


def _assign(word: Word, state: ShellState, expander: Expander) -> None:
    name, value = _assignment_value(word, expander)
    state.assign(name, value)  # exported too under set -a


def _condition(args: list[str], runner: _Runner, number: int) -> bool | None:
    """``[ ... ]`` / ``test ...``: string, integer and file tests; None when not known."""
    closing = args[0] == "[" and args[-1:] == ["]"]
    args = args[1:-1] if closing else args[1:]
    result = _test(args, runner.exists)
    if result is None:
        runner.note(f"test {' '.join(args)!r} is not evaluated", number)
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
