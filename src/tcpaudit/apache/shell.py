"""The part of POSIX sh that start-up files use, evaluated without running a shell.

httpd's environment and ``-D`` flags come from shell fragments the service
sources before it starts httpd: Debian's ``envvars`` (sourced by apache2ctl),
RHEL 6's ``/etc/sysconfig/httpd`` and Gentoo's ``/etc/conf.d/apache2``
(sourced by their init scripts). tcpaudit runs no program, so this module
evaluates what such files hold, parsed as dash parses them
(``shell_parser.py``): assignments, ``export`` (only exported names reach
httpd), ``unset``, ``set``, ``. file``, ``if``/``elif``/``else`` over
``[``/``test``, ``{ ... }``, ``case``, ``for`` over known words, loops
whose condition ends them before their body runs, lists (``&&``, ``||``)
of commands whose status is known, redirections as far as the root tells,
and the parameter expansions (``shellwords.py``). Anything else (command
substitution, arithmetic, functions' bodies, loops that run, pipelines,
subshells and ``&``) is noted, not evaluated, and what it may change is
*not known* (``shell_effects.py``): a test, ``case`` or loop over such a
value is not guessed, and where any value may have changed (``eval``, a
call to a function) none is known from there on. A command tcpaudit does
not run still has its words expanded, as dash expands them before running
it (``mkdir ${D:=/run/x}`` sets D, ``cd ${D:?}`` on an unset D stops the
shell).

Every expansion is bounded: a value longer than execve's 128 KiB per string
(MAX_ARG_STRLEN) could never reach httpd, and doubling chains (``A=$A$A``)
stop there with an error naming the file and line instead of growing to
gigabytes; all expansions of one start-up together may produce at most
``MAX_EXPANDED_BYTES``.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from ..errors import ApacheConfigError, ParseError
from .shell_builtins import LoopControlError, ReturnError, stop
from .shell_commands import (
    NOT_KNOWN_OPENING,
    expand_targets,
    failed,
    open_redirections,
    run_simple,
)
from .shell_effects import Effects, arithmetic_names, effects_of, effects_of_lists
from .shell_lexer import Command, ShellSyntaxError, Word, brace_expansion, literal
from .shell_output import output_fails
from .shell_parser import parse
from .shell_pathnames import Pathnames, is_pattern
from .shell_redirections import shown_text
from .shell_state import MAX_LOOP_ITERATIONS, MAX_SOURCED_BYTES, PARSE_WORK, ShellState
from .shell_tree import AndOr, Compound, Node, Pipeline
from .shellwords import Expander

__all__ = ["run_script"]

_MAX_SOURCE_DEPTH = 8
_LOOPS = {"while": "a while loop", "until": "an until loop", "for": "a for loop"}


def run_script(
    text: str,
    state: ShellState,
    file: str,
    *,
    source: Callable[[str], tuple[str, str] | None] | None = None,
    exists: Callable[[str, str], bool | None] | None = None,
    depth: int = 0,
    nesting: int = 0,
    pathnames: Pathnames | None = None,
) -> None:
    """Evaluate a start-up shell fragment into ``state``.

    Args:
        text: the file's text.
        state: the shell's variables; updated in place.
        file: how the file is named in notes and errors.
        source: for ``. path``: the text and shown name of ``path``, or None.
        exists: for ``[ -f path ]`` and friends: whether the test holds, None if unknown.
        depth: nesting of ``.`` (bounded).
        nesting: compound commands open around the ``.`` that sources this file.
        pathnames: fields matched as pathnames against the root (a for loop's words).

    Raises:
        ApacheConfigError: an expansion beyond the bounds, a syntax error or a
            command that ends the shell (``exit``, ``${X:?}`` on an unset X).
    """
    runner = _Runner(state, file, source, exists, depth, nesting, pathnames)

    def count(line: int) -> None:
        state.count_command(file, line)

    def work(line: int) -> None:
        state.charge_work(PARSE_WORK, file, line)

    try:
        for lists in parse(text, file, count=count, work=work, nesting=nesting, dash=state.dash):
            runner.sequence(lists, tested=False)
    except ReturnError as returned:
        state.last_status = returned.status
        return
    except ShellSyntaxError as error:
        if state.dash:
            raise
        # What dash's grammar refuses, bash may read (function f { }, A=(x),
        # for ((...)), ;&) or, at a syntax error of its own, leave the file
        # and go on: which, and what follows, is not known.
        what = error.reason.partition(": a syntax error")[0]
        state.make_opaque(f"{what}: not evaluated (dash's grammar refuses it; bash may read "
                          "it as its own syntax, or leave this file here), so no value is known "
                          "from here on", file, error.line or 0)  # fmt: skip
        state.last_status = None


class _Runner:
    """Runs the tree of one file's commands, as dash runs it.

    ``tested``: the status of what runs is tested (an if condition, the
    left of ``&&``/``||``, after ``!``, or inside a block so tested), so
    under ``set -e`` its failing does not end the shell, as in dash's
    EV_TESTED.
    """

    def __init__(
        self,
        state: ShellState,
        file: str,
        source: Callable[[str], tuple[str, str] | None] | None,
        exists: Callable[[str, str], bool | None] | None,
        depth: int,
        nesting: int,
        pathnames: Pathnames | None = None,
    ) -> None:
        self.state = state
        self.file = file
        self.sourcer = source
        self.exists = exists
        self.depth = depth
        self.nesting = nesting  # compound commands open, for a file sourced in one
        self.pathnames = pathnames

    def note(self, message: str, line: int) -> None:
        self.state.notes.append_message(message, self.file, line)

    def make_opaque(self, line: int, why: str) -> None:
        """Something ran that may change any name: from here on none is known."""
        self.state.make_opaque(f"{why} is not evaluated; it may change any variable, so no "
                               "value is known from here on", self.file, line)  # fmt: skip

    def skipped(self, effects: Effects, line: int) -> None:
        """A part dash runs and tcpaudit does not: what it may assign is not known."""
        state = self.state
        state.unknown.update(effects.names)
        state.unsure.update(effects.attributes)
        state.maybe_readonly.update(effects.readonly)
        state.functions.update(effects.functions)
        # Under set -e any command of it may fail and stop the shell, under
        # set -u any expansion; an assignment to a read-only name stops it.
        read_only = state.readonly | state.maybe_readonly
        errexit = state.errexit and not state.in_condition
        stops = (errexit or (state.nounset and effects.expands)
                 or bool((effects.names | effects.attributes) & read_only))  # fmt: skip
        if effects.opaque or effects.calls & state.functions or stops:
            self.make_opaque(line, "what it runs")

    def sequence(self, lists: list[AndOr], tested: bool) -> bool | None:
        """Lists run in turn; the status of the last (True for none)."""
        status: bool | None = True
        for listed in lists:
            status = self.and_or(listed, tested)
        return status

    def and_or(self, listed: AndOr, tested: bool) -> bool | None:
        if listed.background:
            self.note("a command run in the background (&) is not evaluated: it runs in a "
                      "subshell", listed.line)  # fmt: skip
            self.state.last_status = True
            return True
        status: bool | None = True
        last = len(listed.pipelines) - 1
        for index, pipeline in enumerate(listed.pipelines):
            if index:
                if status is None:
                    self.note("the rest of a list (&&, ||) after a command whose result is not "
                              "known is not evaluated", pipeline.commands[0].line)  # fmt: skip
                    rest = AndOr(listed.pipelines[index:], listed.connectors[index:])
                    self.skipped(effects_of_lists([rest]), pipeline.commands[0].line)
                    return None
                if (listed.connectors[index - 1] == "&&") != status:
                    continue
            status = self.pipeline(pipeline, tested or index < last)
            self.state.last_status = status
            # $? of the next command: 2 when this one failed as a test's error.
            self.state.test_error, self.state.failed_test = self.state.failed_test, False
        return status

    def pipeline(self, pipeline: Pipeline, tested: bool) -> bool | None:
        first = pipeline.commands[0]
        if len(pipeline.commands) > 1:
            self.note("a pipeline (|) is not evaluated: its commands run in subshells", first.line)
            status = _literal_status(pipeline.commands[-1], self.state.functions)
            checked = True
        else:
            status = self.node(first, tested or pipeline.negated)
            # dash checks set -e after a simple command or a subshell, not
            # after a compound command (whose own commands were checked).
            checked = isinstance(first, Command) or first.kind == "subshell"
        if (
            checked
            and not tested
            and not pipeline.negated
            and self.state.errexit
            and not self.state.in_condition
        ):
            self._errexit(status, first.line)
        return status if status is None or not pipeline.negated else not status

    def _errexit(self, status: bool | None, line: int) -> None:
        if status is None:
            # The shell may stop here or go on: no value is known from here on.
            self.make_opaque(line, "set -e over a command whose result is not known")
        elif not status:
            raise ApacheConfigError(
                "set -e: a command fails, and the shell sourcing the start-up files stops here",
                file=self.file,
                line=line,
            )

    def node(self, node: Node, tested: bool) -> bool | None:
        if isinstance(node, Command):
            return run_simple(node, self)
        expander = Expander(self.state, self.file, node.line)
        if node.kind == "subshell":
            self.note("a subshell ( ... ) is not evaluated", node.line)
            return None
        if node.kind == "arithmetic":
            self.state.unknown.update(arithmetic_names(node.name))
            self.note("an arithmetic command (( )) is not evaluated", node.line)
            return None
        if node.kind == "function":
            self.note("a function definition is not evaluated (nor calls to it)", node.line)
            self.state.functions.add(node.name)
            return True
        # dash opens a compound command's redirections before it runs it.
        targets = expand_targets(node.operators, node.redirections, expander)
        failure = open_redirections(node.operators, node.redirections, targets, self, node.line)
        if (
            failure == NOT_KNOWN_OPENING
            or _closes_descriptor(node.operators, targets)
            or output_fails(node.operators, targets) is not False
        ):
            # Whether it runs is not known; closed (or read-only), a
            # descriptor its commands use would fail them (and stop dash):
            # nothing known after it.
            self.make_opaque(node.line, "a compound command whose redirections may fail")
            return None
        if failure is not None:
            return failed(failure, self, node.line, special=False)
        self.nesting += 1
        try:
            return self.compound(node, tested, expander)
        finally:
            self.nesting -= 1

    def compound(self, node: Compound, tested: bool, expander: Expander) -> bool | None:
        if node.kind == "group":
            return self.sequence(node.parts[0], tested)
        if node.kind == "if":
            return self.if_clause(node, tested)
        if node.kind == "case":
            # The first item with a pattern matching the word runs; each
            # pattern is expanded only when reached, as in dash.
            subject, unknown = expander.tracked(lambda: expander.word(node.words[0]))
            for patterns, body in zip(node.patterns, node.parts, strict=True):
                for pattern in patterns:
                    matched, unknown_pattern = expander.tracked(
                        partial(expander.case_matches, subject, pattern)
                    )
                    if unknown or unknown_pattern:
                        self.note("a case over a value not known is not evaluated (nor the "
                                  "commands in it)", node.line)  # fmt: skip
                        self.skipped(effects_of(node, Effects()), node.line)
                        return None
                    if matched:
                        return self.sequence(body, tested)
            return True
        if node.kind == "for":
            fields, unknown = expander.tracked(partial(self.expand_words, node.words, expander))
            iterations = self.state.iterations + len(fields)
            if node.has_in and not unknown and iterations <= MAX_LOOP_ITERATIONS:
                self.state.iterations = iterations
                return self.for_loop(node, fields, tested, expander)
        else:
            # A while or until loop's condition runs first: when it ends the
            # loop there, the body never runs (and the status is 0).
            status = self.sequence(node.parts[0], True)
            if status is not None and status == (node.kind == "until"):
                return True
        self.note(f"{_LOOPS[node.kind]} is not evaluated (nor the commands in it)", node.line)
        self.skipped(effects_of(node, Effects()), node.line)
        return None

    def expand_words(self, words: list[Word], expander: Expander) -> list[str]:
        """Words as fields: split where an unquoted expansion stands, and
        matched as pathnames in the root where an unquoted *, ? or [ stands
        (in the text or from an unquoted expansion), as dash does
        (``for f in /etc/apache2/envvars.d/*``); a quoted one matches itself."""
        fields: list[str | tuple[str, str]] = []
        for word in words:
            if not self.state.dash and brace_expansion(word):
                expander.not_known("bash's brace expansion is not evaluated")
            fields.extend((pattern, value) for value, pattern in expander.fields_patterns(word))
        if self.pathnames is None or self.state.noglob:
            return [field if isinstance(field, str) else field[1] for field in fields]
        if not self.state.dash and _bash_matching_differs(fields, self.state):
            expander.not_known("bash's pathname expansion of . and .., or with GLOBIGNORE, is "
                               "not evaluated")  # fmt: skip
        return self.pathnames(fields)

    def for_loop(
        self, node: Compound, fields: list[str], tested: bool, expander: Expander
    ) -> bool | None:
        """Run the body once a word, the variable set to it; its status is the
        last command's (0 when it never runs)."""
        status: bool | None = True
        self.state.loops += 1  # in the state: a file sourced in the body may break
        try:
            for field in fields:
                self.state.may_stop_on(node.name, self.file, node.line)
                if node.name in self.state.readonly:
                    stop(self, node.line, f"for: {node.name} is read only")
                self.state.assign(node.name, field)
                try:
                    status = self.sequence(node.parts[0], tested)
                except LoopControlError as control:
                    status = True  # the status of break or continue
                    if control.kind == "break":
                        break
        finally:
            self.state.loops -= 1
        return status

    @property
    def in_loop(self) -> bool:
        return self.state.loops > 0

    def if_clause(self, node: Compound, tested: bool) -> bool | None:
        parts = node.parts
        pairs = (len(parts) - node.has_else) // 2
        for pair in range(pairs):
            condition = self.sequence(parts[2 * pair], True)
            self.state.last_status = condition
            if condition is None:
                # Neither branch is known to run: what any of the rest may
                # assign is not known.
                self.note("an if condition whose result is not known: the branches after it "
                          "are not evaluated", parts[2 * pair + 1][0].line)  # fmt: skip
                effects = Effects()
                for part in parts[2 * pair + 1 :]:
                    effects_of_lists(part, effects)
                self.skipped(effects, node.line)
                return None
            if condition:
                return self.sequence(parts[2 * pair + 1], tested)
        if node.has_else:
            return self.sequence(parts[-1], tested)
        return True

    def _sourced_path(self, path: str) -> str | None:
        """Where ``. path`` reads: a name with a slash from / (the service's
        working directory), one without along PATH, as dash finds it (None:
        in no directory of PATH)."""
        if "/" in path:
            return path if path.startswith("/") else f"/{path}"
        if not path or self.exists is None:
            return path
        if "PATH" in self.state.unknown or self.state.opaque is not None:
            return path  # where it is found is not known: not read (no value known after)
        for directory in self.state.variables.get("PATH", "").split(":"):
            candidate = f"/{directory.strip('/')}/{path}".replace("//", "/")
            if self.exists("-f", candidate):
                return candidate
        return None

    def source(self, path: str, written: str, line: int) -> bool | None:
        """``. path`` (``written`` so in the file: notes show that, not what it
        expands to, which may hold a secret's value)."""
        state = self.state
        if "/" in path and not path.startswith("/") and state.opaque is not None:
            # A cd not evaluated may have changed the working directory.
            self.make_opaque(line, f"'. {shown_text(written)}' from a working directory not known")
            return None
        found = self._sourced_path(path)
        if found is None:
            stop(self, line, f"{shown_text(written)}: not found in PATH")
            return False
        path = found
        try:
            loaded = (
                self.sourcer(path)
                if self.sourcer is not None and self.depth < _MAX_SOURCE_DEPTH
                else None
            )
        except ParseError as refused:
            # A bound reached while finding the file: named at the line sourcing it.
            raise ApacheConfigError(
                f"{shown_text(written)}: {refused.reason}", file=self.file, line=line
            ) from None
        # dash stops only where open() fails: a name that does not exist
        # (a directory or a device it opens and reads as it can).
        missing = (
            path.startswith("/") and self.exists is not None and self.exists("-e", path) is False
        )
        if loaded is None and missing:
            # dash stops at a '.' whose file cannot be opened; bash goes on.
            stop(self, line, f"{shown_text(written)}: cannot open it")
            return False
        if loaded is None and path == "/dev/null":
            return True
        if loaded is None:
            self.make_opaque(
                line, f"'. {shown_text(written)}' (not in the root, or nested too deep)"
            )
            return None
        sourced_text, shown = loaded
        # Each sourcing is read and lexed again: bounded in all, not per file
        # (a 1 MiB file sourced 20,000 times took minutes).
        state.sourced += len(sourced_text)
        if state.sourced > MAX_SOURCED_BYTES:
            raise ApacheConfigError(
                f"the start-up files source more than {MAX_SOURCED_BYTES} bytes in all",
                file=self.file,
                line=line,
            )
        run_script(
            sourced_text, state, shown, source=self.sourcer, exists=self.exists,
            depth=self.depth + 1, nesting=self.nesting, pathnames=self.pathnames,
        )  # fmt: skip
        return state.last_status


def _closes_descriptor(operators: list[str], targets: list[str | None]) -> bool:
    """Whether redirections close a descriptor (``2>&-``)."""
    return any(
        operator.lstrip("0123456789") in (">&", "<&") and target == "-"
        for operator, target in zip(operators, targets, strict=True)
    )


def _bash_matching_differs(fields: list[str | tuple[str, str]], state: ShellState) -> bool:
    """Whether bash's own rules may match otherwise: ``.*`` matches ``.`` and
    ``..`` up to bash 5.1 only, GLOBIGNORE drops names, and bash knows
    collating symbols and classes dash has not."""
    if "GLOBIGNORE" in state.variables or "GLOBIGNORE" in state.unknown:
        return True
    for field in fields:
        pattern = field if isinstance(field, str) else field[0]
        if "[[." in pattern or "[[=" in pattern or "[:word:]" in pattern or "[^" in pattern:
            return True  # collating symbols and classes dash has not
        for component in pattern.split("/"):
            if component.startswith((".", "\\.")) and is_pattern(component):
                return True
    return False


def _literal_status(command: Node, functions: set[str]) -> bool | None:
    """The status of ``true``, ``false`` or ``:`` written with no expansion (a
    pipeline's last command, whose status is the pipeline's), unless a
    function of that name replaces it; else None."""
    if not isinstance(command, Command) or not command.words or command.redirections:
        return None
    names = [literal(word) for word in command.words]
    if any(name is None for name in names) or "=" in (names[0] or "=") or names[0] in functions:
        return None
    return {"true": True, ":": True, "false": False}.get(names[0] or "")
