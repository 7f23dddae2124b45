"""Simple commands of a start-up file: what each builtin tcpaudit knows does to the shell.

``shell.py`` decides which commands run (lists, ``if`` blocks); this module
expands one and runs it: assignments, ``export``/``readonly``, ``unset``,
``set`` (``shell_builtins.py``), ``.``, ``:`` and its kin (run for their
expansions), ``[``/``test`` (``shell_test.py``), ``exit`` and ``return``. Any other command is not run, but its words are expanded first,
as dash expands them (a ``:=`` in them assigns, a ``:?`` stops the shell).
Arguments are expanded before the assignments written before the command
take effect (``A=1 export B=$A`` gives B the A of before), as dash does.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import partial

from ..errors import ApacheConfigError
from .shell_builtins import (
    Runner,
    assign,
    assignment_value,
    declare,
    declared,
    leave,
    not_known,
    opaque,
    read_names,
    refuse_read_only,
    refused,
    set_flags,
    stop,
    unset,
)
from .shell_effects import OPAQUE_BUILTINS, assigned_in_words
from .shell_lexer import (
    SPECIAL_BUILTINS,
    Command,
    Word,
    array_assignment,
    assignment_name,
    brace_expansion,
    literal,
    split_redirection,
)
from .shell_output import echo_writes, output_fails, writes
from .shell_patterns import GLOB
from .shell_redirections import failed_redirection
from .shell_state import WORD_WORK, ShellState
from .shell_statuses import (
    bash_printf_v,
    condition,
    expanding_status,
    loop_control,
    shown_command,
)
from .shellwords import Expander

__all__ = [
    "NOT_KNOWN_OPENING",
    "expand_targets",
    "failed",
    "open_redirections",
    "ps4_expands",
    "run_simple",
]

# open_redirections: whether the redirections open is not known.
NOT_KNOWN_OPENING = "whether the redirections open is not known"

# bash builtins that may assign with an option (printf -v, wait -p, read -a...).
_BASH_ASSIGNING = frozenset(("printf", "wait", "read", "mapfile", "readarray"))
_NAMED_DESCRIPTOR = re.compile(r"\{[A-Za-z_][A-Za-z0-9_]*\}")
# Builtins tcpaudit does not run that may change any variable ('.' it runs).
_NOT_RUN_OPAQUE = OPAQUE_BUILTINS - {".", "source"}
# Builtins that change the shell's variables or options when run.
_CHANGING = frozenset(("export", "readonly", "unset", "set", "local", "read", "getopts", "shift"))
# What tcpaudit runs itself (any other command is an external one, forked).
_RUN_BUILTINS = frozenset(("export", "readonly", "unset", "set", ".", "source", "[", "test",
                           "local", "exit", "return", "read", "getopts", ":", "true",
                           "false"))  # fmt: skip
_BASH_KEYWORDS = frozenset(("function", "time", "[[", "]]", "select", "coproc"))
_EXPANDING = frozenset((":", "true", "false", "echo", "printf", "umask", "ulimit"))


def run_simple(command: Command, runner: Runner) -> bool | None:
    """Run one simple command; its status, None when not known."""
    state, file, number = runner.state, runner.file, command.line
    # Each command run is charged: a loop runs its body again and again.
    state.charge_work(WORD_WORK, file, number)
    if state.xtrace and state.opaque is None and ps4_expands(state):
        # Traced, the shell expands PS4 first: its ${A:=x} assigns.
        runner.make_opaque(number, "a command traced by set -x with a PS4 that expands")
    expander = Expander(state, file, number)
    words = command.words
    prefix = 0
    bash = not state.dash
    while prefix < len(words) and assignment_name(words[prefix], bash) is not None:
        prefix += 1
    if bash and prefix < len(words) and array_assignment(words[prefix]):
        # bash's A[0]=x makes an array of A (no longer exported as it was).
        runner.make_opaque(number, "an array assignment of bash")
        return None
    if bash and any(map(brace_expansion, [*words[prefix:], *command.redirections])):
        # export A={a,b} is export A=a A=b to bash.
        runner.make_opaque(number, "bash's brace expansion")
        return None
    assignments, arguments = words[:prefix], words[prefix:]
    name = literal(arguments[0]) if arguments else None
    action, output = (
        _expanded_action(name, arguments, expander, runner, number) if arguments else (None, False)
    )
    # Redirections (here-documents too) are expanded, then opened, before the
    # assignments written before the command take effect, as in dash.
    if bash and (assignments and action is None and command.redirections):
        # bash makes the assignments first, dash the redirections first.
        return opaque(runner, number, "assignments beside redirections, in bash's order,")
    if (
        bash
        and command.redirections
        and any(_NAMED_DESCRIPTOR.fullmatch(literal(word) or "") for word in arguments)
    ):
        return opaque(runner, number, "bash's {name}> redirection, which assigns name,")
    targets = expand_targets(command.operators, command.redirections, expander)
    if expander.body_failed:
        # dash expands a here-document in a child, which alone stops.
        return opaque(runner, number, "a here-document whose expansion fails")
    if bash and action is not None and name not in _RUN_BUILTINS:
        # bash expands a forked command's redirections in the child: what
        # their ${A=x} assign does not reach this shell (dash's does).
        state.unknown.update(assigned_in_words(command.redirections))
    failure = open_redirections(command.operators, command.redirections, targets, runner, number)
    if failure == NOT_KNOWN_OPENING:
        if name in SPECIAL_BUILTINS or name in _CHANGING or action is None:
            # It may fail (and stop dash), or assign: nothing known after it.
            return opaque(runner, number, "a command whose redirections may fail")
        return None
    if failure is not None:
        # dash stops at the failing redirection: the assignments are not even expanded.
        return failed(failure, runner, number, special=name in SPECIAL_BUILTINS)
    # Alone, or before a special builtin, assignments stay in the shell;
    # before another command they are its own environment: expanded, not kept.
    for word in assignments:
        if action is None or name in SPECIAL_BUILTINS:
            # bash keeps one before a special builtin only in POSIX mode.
            temporary = bash and action is not None
            assign(word, state, expander, unknown=temporary)
            if temporary:
                runner.note("an assignment before a special builtin is kept by bash only in "
                            "POSIX mode: its value is not known", number)  # fmt: skip
            continue
        variable, _, _ = assignment_value(word, expander)
        if bash and variable in state.readonly:
            # bash says so and runs the command (status not known); dash stops.
            return opaque(runner, number, f"an assignment to the read-only {variable}")
        refuse_read_only(variable, state, expander)
        if state.all_export and variable not in state.variables:
            state.exported.add(variable)  # dash leaves an unset name marked for export
    if action is None:
        # Assignments alone take the status of their last command
        # substitution (X=$(false) fails), which is not run: not known.
        return None if expander.substituted else True
    status = action()
    if status is not None and output is not False:
        fails = output_fails(command.operators, targets)
        if fails is not False:
            # Writing to a closed (or read-only) output fails (status 1),
            # which stops dash after a special builtin.
            shown = shown_command(name)
            if name in SPECIAL_BUILTINS:
                return opaque(runner, number, f"{shown} writing to an output that may be closed")
            if fails and output:
                runner.note(f"{shown} to a closed or read-only output fails", number)
                return False
            return not_known(runner, number, f"{shown} to an output that may be closed")
    return status


def ps4_expands(state: ShellState) -> bool:
    """Whether expanding PS4 (set -x does, before each command) may do anything."""
    ps4 = state.variables.get("PS4", "+ ")
    # bash decodes a prompt's escapes first: "\\044" is a "$" there.
    return "PS4" in state.unknown or "$" in ps4 or "`" in ps4 or (not state.dash and "\\" in ps4)


def expand_targets(operators: list[str], words: list[Word], expander: Expander) -> list[str | None]:
    """Redirections' targets expanded (None: holding a value not known); a
    here-document's body is no value."""
    targets: list[str | None] = []
    for operator, word in zip(operators, words, strict=True):
        if split_redirection(operator)[1] in ("<<", "<<-"):
            targets.append(expander.body(word))
            continue
        target, unknown = expander.tracked(partial(expander.word, word))
        if not expander.state.dash and _splits_or_matches(word):
            unknown = True  # bash splits and matches a target (dash does neither)
        targets.append(None if unknown else target)
    return targets


def _splits_or_matches(word: Word) -> bool:
    return any(kind == "" and ("$" in text or "`" in text or GLOB.search(text))
               for kind, text in word.parts)  # fmt: skip


def open_redirections(
    operators: list[str], words: list[Word], targets: list[str | None], runner: Runner, number: int
) -> str | None:
    """Why the first of a command's redirections cannot be opened, None when
    all open, ``NOT_KNOWN_OPENING`` when whether they open is not known."""
    state = runner.state
    opened = failed_redirection(
        operators, words, targets, runner.exists, noclobber=state.noclobber,
        working_directory_known=state.opaque is None, dash=state.dash,
    )  # fmt: skip
    if opened.fatal and runner.state.dash:
        raise ApacheConfigError(
            f"{opened.failure}: a syntax error to the shell sourcing the start-up files, "
            "which stops here",
            file=runner.file,
            line=number,
        )
    if opened.may_be_fatal and runner.state.dash:
        # Before the redirection that fails, if one does: dash may stop there.
        runner.make_opaque(number, "a descriptor duplicated from a value not known (dash "
                           "stops on one that is no number)")  # fmt: skip
        return NOT_KNOWN_OPENING
    if opened.fatal:
        return NOT_KNOWN_OPENING  # bash's >&word is &>word
    if opened.unknown is not None and opened.failure is None:
        runner.note(f"{opened.unknown}, nor the command's result", number)
        return NOT_KNOWN_OPENING
    return opened.failure


def failed(reason: str, runner: Runner, number: int, *, special: bool) -> bool:
    """A redirection that cannot be opened: the command is not run (status
    2 in dash, 1 in bash); before a special builtin, dash stops."""
    if special:
        stop(runner, number, reason)
    else:
        runner.note(f"{reason}: the command is not run", number)
    runner.state.failed_test = runner.state.dash  # $? is 2 in dash
    return False


def _expanded_action(
    name: str | None, arguments: list[Word], expander: Expander, runner: Runner, number: int
) -> tuple[Callable[[], bool | None], bool | None]:
    """Expand the arguments of command ``name``; what running it then does,
    and whether it writes to its output (None: it may)."""
    words = arguments[1:]
    if (
        name in _EXPANDING
        and name not in runner.state.functions
        and not bash_printf_v(name, words, runner)
    ):
        # Run for their expansions' effects: ": ${X:=default}" sets X.
        fields = [piece for word in words for piece in expander.fields(word)]
        if name == "echo":
            output = echo_writes(fields, dash=runner.state.dash)
        else:
            output = name == "umask" and fields in ([], ["-S"])
        return partial(expanding_status, name, fields, runner, number), output
    return _action(name, arguments, expander, runner, number), writes(name, words)


def _action(
    name: str | None, arguments: list[Word], expander: Expander, runner: Runner, number: int
) -> Callable[[], bool | None]:
    state = runner.state
    words = arguments[1:]
    if name is None:
        # A command named by an expansion: dash runs whatever it names.
        fields, unknown = expander.tracked(partial(expander.fields, arguments[0]))
        named = fields[0] if fields else ""
        if (
            unknown
            or not fields  # then the next word names the command
            or (not state.dash and named in _BASH_ASSIGNING)
            or named in _CHANGING
            or named in OPAQUE_BUILTINS
            or named in SPECIAL_BUILTINS  # exit, return, break... (their errors stop dash)
            or named in state.functions
        ):
            for word in words:
                expander.fields(word)
            return lambda: opaque(runner, number, "a command named by an expansion")
    elif not state.dash and name in _BASH_KEYWORDS:
        # bash's own grammar: "time A=1" assigns, "function f" alone is a
        # syntax error that stops the sourcing; read as commands they are not.
        for word in words:
            expander.fields(word)
        return lambda: opaque(runner, number, f"bash's {name!r} keyword")
    elif name in state.functions or name in _NOT_RUN_OPAQUE:
        for word in words:
            expander.fields(word)
        what = "a call to a function" if name in state.functions else f"{name!r}"
        return lambda: opaque(runner, number, what)
    if name in ("export", "readonly"):
        pending = declared(name, words, expander, runner, number)
        return lambda: declare(name, pending, state, runner, number)
    if name in ("break", "continue") and not words:
        return lambda: loop_control(name, runner)
    if name == "shift" or (name in ("break", "continue") and words):
        # shift fails and stops dash when $# is too small, which is not known.
        for word in words:
            expander.fields(word)
        why = (
            f"{name} with a count"
            if words
            else "shift, which stops dash when no parameter is left,"
        )
        return lambda: opaque(runner, number, why)
    if name in ("unset", "set", "read", "getopts"):
        fields, unknown = expander.tracked(lambda: runner.expand_words(words, expander))
        if unknown:
            return lambda: opaque(runner, number, f"{name} of names not known")
        if name == "unset":
            return lambda: unset(fields, state, runner, number)
        if name == "set":
            return lambda: set_flags(fields, state, runner, number)
        return lambda: read_names(name, fields, runner, number)
    if (name == "." or (name == "source" and not state.dash)) and words:
        # Its words are fields, matched as pathnames: the first is read (the
        # others are ignored by dash, positional parameters to bash).
        written = "".join(text for _, text in words[0].parts)
        fields, unknown = expander.tracked(lambda: runner.expand_words(words, expander))
        if unknown:
            return lambda: opaque(runner, number, f"{name} of a path not known")
        if not fields:
            return lambda: opaque(runner, number, f"{name} of no word")
        if len(fields) > 1 and not state.dash:
            return lambda: opaque(runner, number, f"{name} with arguments")
        return lambda: runner.source(fields[0], written, number)
    if bash_printf_v(name, words, runner) or (not state.dash and name == "trap"):
        # bash's printf -v assigns; its traps (DEBUG, RETURN, ERR) run anywhere.
        for word in words:
            expander.fields(word)
        return lambda: opaque(runner, number, f"bash's {name}")
    if name == "trap":
        # dash's trap takes no option: `trap -p` is "Illegal option", and
        # trap is a special builtin, so the shell stops ('-' and '--' are no options).
        fields, unknown = expander.tracked(lambda: runner.expand_words(words, expander))
        if unknown:
            return lambda: opaque(runner, number, "trap of words not known")
        if fields and fields[0].startswith("-") and fields[0] not in ("-", "--"):
            return lambda: refused(runner, number, "trap: an option dash does not know")
        return lambda: runner.note("shell command 'trap' is not evaluated", number)
    if name in ("[", "test"):
        args, unknown = expander.tracked(lambda: runner.expand_words(words, expander))
        if unknown:
            return lambda: not_known(runner, number, "a test of a value not known")
        return lambda: condition(name, args, runner, number)
    if name == "local":
        # Run only where a function's body would run, which tcpaudit never runs.
        for word in words:
            expander.fields(word)
        return lambda: refused(runner, number, "local: not in a function")
    if name in ("exit", "return"):
        fields, unknown = expander.tracked(lambda: runner.expand_words(words, expander))
        if unknown:
            return lambda: opaque(runner, number, f"{name} with a value not known")
        return lambda: leave(name, fields, runner, number)
    # Not run, but its words are expanded first, as dash does: their ':='
    # assign and their ':?' stop the shell.
    for word in arguments:
        expander.fields(word)

    def not_run() -> None:
        runner.note(f"shell command {shown_command(name)!r} is not evaluated", number)

    return not_run
