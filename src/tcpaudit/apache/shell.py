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
from .secret_words import redact_text
from .shell_blocks import CLOSING, OPENING, Block, block_delta, block_inside, blocks, plain
from .shell_commands import ReturnError, literal, run_simple
from .shell_lexer import AndOr, Command, Pipeline, Word
from .shell_lexer import parse as parse_lists
from .shellwords import MAX_SOURCED_BYTES, ShellState

__all__ = ["run_script"]

_MAX_SOURCE_DEPTH = 8
_LOOPS = OPENING - {"if"}
_EXPANSION_WORDS = re.compile(r"\$\{[^}]*\}?|\$\(.*|`.*")


@dataclass
class _Branch:
    """An ``if`` block: ``deciding`` while its condition's lists are read."""

    parent_active: bool
    taken: bool = False
    active: bool = False
    deciding: bool = True
    condition: bool | None = None  # status of the condition's last list
    status: bool | None = True  # status of the block's last list run: "fi && x"


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
        for block in blocks(parse_lists(text, file)):
            for listed in block.lists:
                runner.count(listed)
            runner.run_block(block)
    except ReturnError:
        return
    runner.finish()


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
        self.sourcer = source
        self.exists = exists
        self.depth = depth
        self.branches: list[_Branch] = []
        self.skipping = 0  # loops and case statements open, being stepped over
        self.groups = 0  # "{" open
        self.quiet = 0  # blocks open whose status is tested: set -e is off in them
        self.line = 0

    def count(self, listed: AndOr) -> None:
        for pipeline in listed.pipelines:
            for command in pipeline.commands:
                self.state.count_command(self.file, command.line)

    def note(self, message: str, line: int) -> None:
        self.state.notes.append_message(message, self.file, line)

    def syntax(self, what: str, line: int) -> ApacheConfigError:
        return ApacheConfigError(
            f"{what}: a syntax error to the shell sourcing the start-up files, which stops here",
            file=self.file,
            line=line,
        )

    @property
    def active(self) -> bool:
        return not self.branches or self.branches[-1].active

    def finish(self) -> None:
        """At the end of the file, every block must be closed."""
        if self.branches or self.skipping or self.groups:
            expecting = "fi" if self.branches else "done or esac" if self.skipping else "}"
            raise self.syntax(f"the file ends before its {expecting}", self.line)

    def run_list(self, listed: AndOr) -> None:
        first = listed.pipelines[0].commands[0]
        self.line = first.line
        if not self.skipping and block_inside(listed):
            # "true && if ...", "! {", "x | while": a compound command inside a
            # list or a pipeline. Its status and subshell are the list's:
            # stepped over whole, with a note.
            self.note("a compound command (if, {, a loop) inside a list or pipeline is not "
                      "evaluated (nor the commands in it)", first.line)  # fmt: skip
            self.skipping = max(block_delta(listed), 0)
            return
        words = self._keywords(first.words, first.line)
        head = plain(words[0]) if words else None
        if self.skipping:
            self.skipping += block_delta(listed)
            return
        if head in CLOSING or head in ("if", "elif"):
            rest = _with_first(listed, words[1:])
        else:
            rest = _with_first(listed, words)
        if head in CLOSING and len(words) > 1:
            raise self.syntax(f"a word after {head!r}", first.line)
        if head == "if":
            self.branches.append(_Branch(parent_active=self.active))
            self._condition(rest)
        elif head == "elif":
            branch = self._open_branch("elif", first.line)
            branch.deciding, branch.condition, branch.active = True, None, False
            self._condition(rest)
        elif head == "fi":
            closed = self._open_branch("fi", first.line)
            self.branches.pop()
            self._after_block(rest, closed.status if closed.taken else True)
        elif head == "}":
            if not self.groups:
                raise self.syntax("'}' closes nothing", first.line)
            self.groups -= 1
            self._after_block(rest, self.state.last_status)
        elif head in ("done", "esac"):
            raise self.syntax(f"{head!r} closes nothing", first.line)
        elif head in _LOOPS:
            if self.active:
                what = "a case statement" if head == "case" else f"a {head} loop"
                self.note(f"{what} is not evaluated (nor the commands in it)", first.line)
            self.skipping = 1
        elif self.branches and self.branches[-1].deciding:
            self._condition(rest)
        elif rest is not None and self.active:
            self._record(self.run(rest, errexit=not self.quiet))

    def _keywords(self, words: list[Word], line: int) -> list[Word]:
        """``words`` past the ``then``, ``else``, ``do`` or ``{`` opening them,
        each applied to the blocks open (an index, not a slice a word: a line of
        150,000 ``{`` was quadratic)."""
        start = 0
        while start < len(words):
            head = plain(words[start])
            if head not in ("then", "else", "do", "{"):
                break
            start += 1
            if self.skipping:
                continue
            if head == "{":
                self.groups += 1
            elif head == "do":
                raise self.syntax("'do' outside a loop", line)
            elif head == "then":
                self._decide(self._open_branch("then", line, deciding=True))
            else:
                branch = self._open_branch("else", line)
                branch.active = branch.parent_active and not branch.taken
                branch.taken = True
        return words[start:] if start else words

    def _open_branch(self, word: str, line: int, deciding: bool = False) -> _Branch:
        if not self.branches or self.branches[-1].deciding != deciding:
            raise self.syntax(f"{word!r} out of place", line)
        return self.branches[-1]

    def _condition(self, listed: AndOr | None) -> None:
        """A list of an ``if``/``elif`` condition: run when the branch may be taken."""
        branch = self.branches[-1]
        if listed is not None and branch.parent_active and not branch.taken:
            branch.condition = self.run(listed)
            self.state.last_status = branch.condition

    def _decide(self, branch: _Branch) -> None:
        branch.deciding = False
        if not branch.parent_active or branch.taken:
            return
        if branch.condition is None:
            self.note("an if condition whose result is not known is taken as false", self.line)
        branch.active = bool(branch.condition)
        branch.taken = branch.active

    def _record(self, status: bool | None) -> None:
        self.state.last_status = status
        if self.branches:
            self.branches[-1].status = status

    def _after_block(self, rest: AndOr | None, status: bool | None) -> None:
        """``fi && x``: the rest of the list, after the block's status."""
        self.state.last_status = status
        if rest is None or not self.active:
            return
        if status is None:
            self.note("the rest of a list (&&, ||) after a block whose result is not known is "
                      "not evaluated", rest.line)  # fmt: skip
            return
        words = [Word([("", "true" if status else "false")])]
        self._record(self.run(_with_first(rest, words) or rest))

    def run(self, listed: AndOr, errexit: bool = False) -> bool | None:
        """Run a list; its status, None when not known. ``errexit``: the list
        is not tested (no condition, no block whose status is), so under
        ``set -e`` its last pipeline failing (not negated, not cut short by
        ``&&``/``||``) ends the shell."""
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
            self.state.last_status = status
            # $? of the next command: 2 when this one failed as a test's error.
            self.state.test_error, self.state.failed_test = self.state.failed_test, False
            last = index == len(listed.pipelines) - 1
            if errexit and self.state.errexit and last and not pipeline.negated:
                self._errexit(status, pipeline.commands[0].line)
        return status

    def _errexit(self, status: bool | None, line: int) -> None:
        if status is None:
            self.note("set -e: whether this command fails is not known; taken as not", line)
        elif not status:
            raise ApacheConfigError(
                "set -e: a command fails, and the shell sourcing the start-up files stops here",
                file=self.file,
                line=line,
            )

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
        return run_simple(command, self)

    def run_block(self, block: Block) -> None:
        """The lists of a compound command read whole (as dash reads one before
        running it): a block run in the background or a pipeline is a
        subshell's, stepped over; in a block whose status is tested, set -e
        is off."""
        index = 0
        while index < len(block.lists):
            end = block.subshells.get(index)
            if end is not None and not self.skipping and self.active:
                self.note("a compound command run in the background (&) or a pipeline is not "
                          "evaluated: it runs in a subshell", block.lists[index].line)  # fmt: skip
                index = end + 1
                continue
            self.quiet += block.quiet_starts[index]
            self.run_list(block.lists[index])
            self.quiet -= block.quiet_ends[index]
            index += 1

    def source(self, path: str, written: str, line: int) -> bool | None:
        """``. path`` (``written`` so in the file: notes show that, not what it
        expands to, which may hold a secret's value)."""
        state = self.state
        try:
            loaded = (
                self.sourcer(path)
                if self.sourcer is not None and self.depth < _MAX_SOURCE_DEPTH
                else None
            )
        except ParseError as refused:
            # A bound reached while finding the file: named at the line sourcing it.
            raise ApacheConfigError(
                f"{_shown_path(written)}: {refused.reason}", file=self.file, line=line
            ) from None
        if loaded is None:
            self.note(f"{_shown_path(written)} is not read (not in the root, or nested too "
                      "deep)", line)  # fmt: skip
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
            depth=self.depth + 1,
        )  # fmt: skip
        return state.last_status


def _shown_path(written: str) -> str:
    """A sourced path as written, each ``${...}`` shown without its word
    (``${DB_PASSWORD:=value}`` assigns a secret) and passwords redacted."""
    return redact_text(_EXPANSION_WORDS.sub("${...}", written))


def _with_first(listed: AndOr, words: list[Word]) -> AndOr | None:
    """``listed`` with its first command's words replaced; None when nothing is left."""
    first = listed.pipelines[0]
    command = first.commands[0]
    negated = first.negated
    start = 0
    while start < len(words) and plain(words[start]) == "!":  # "then ! cmd"
        start, negated = start + 1, not negated
    words = words[start:]
    if not words and not command.redirections:
        if len(first.commands) == 1 and len(listed.pipelines) == 1:
            return None
        words = [Word([("", ":")])]
    replaced = Command(words, command.line, command.redirections, command.kind)
    pipelines = [Pipeline([replaced, *first.commands[1:]], negated), *listed.pipelines[1:]]
    return AndOr(pipelines, listed.connectors, listed.background)


def _literal_status(command: Command) -> bool | None:
    """The status of ``true``, ``false`` or ``:`` written with no expansion (a
    pipeline's last command, whose status is the pipeline's); else None."""
    if command.kind != "simple" or not command.words or command.redirections:
        return None
    names = [literal(word) for word in command.words]
    if any(name is None for name in names) or "=" in (names[0] or "="):
        return None
    return {"true": True, ":": True, "false": False}.get(names[0] or "")
