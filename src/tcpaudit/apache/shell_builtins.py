"""The builtins of a start-up file that change the shell: assignments,
``export``/``readonly``, ``unset``, ``set``, ``read``/``getopts``, ``exit``/``return``,
and how a builtin's error stops dash (bash goes on).

``shell_commands.py`` expands a command's words and picks what runs; the
functions here run it on the shell's state.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import partial
from typing import Protocol

from ..errors import ApacheConfigError
from .shell_lexer import Word, assignment_name
from .shell_scan import NAME
from .shell_state import BASH_READ_ONLY, BASH_VARIABLES, ShellState
from .shellwords import Expander

__all__ = [
    "LoopControlError",
    "ReturnError",
    "Runner",
    "assign",
    "assignment_value",
    "declare",
    "declared",
    "leave",
    "not_known",
    "opaque",
    "read_names",
    "refuse_read_only",
    "refused",
    "set_flags",
    "stop",
    "unknown_option",
    "unset",
]

# dash's set flags, and its -o names (to their letters: "" for those without).
_DASH_FLAGS = frozenset("efIimnsxvVECabuop")
_DASH_OPTIONS = {"errexit": "e", "noglob": "f", "ignoreeof": "I", "interactive": "i",
                 "monitor": "m", "noexec": "n", "stdin": "s", "xtrace": "x", "verbose": "v",
                 "vi": "V", "emacs": "E", "noclobber": "C", "allexport": "a", "notify": "b",
                 "nounset": "u", "privileged": "p", "nolog": "", "debug": ""}  # fmt: skip
_FLAG_ATTRIBUTES = {"a": "all_export", "e": "errexit", "u": "nounset", "f": "noglob",
                    "C": "noclobber", "x": "xtrace"}  # fmt: skip


class LoopControlError(Exception):
    """``break`` or ``continue`` inside a for loop tcpaudit runs."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


_RETURN_NUMBER = re.compile(r"([+-]?)([0-9]+)")


class ReturnError(Exception):
    """``return`` in a sourced file: that file ends, its caller goes on with
    ``status`` (None: the last command's)."""

    def __init__(self, status: bool | None) -> None:
        super().__init__("return")
        self.status = status


class Runner(Protocol):
    """What a simple command needs of the runner of its file."""

    state: ShellState
    file: str
    depth: int
    exists: Callable[[str, str], bool | None] | None

    def note(self, message: str, line: int) -> None: ...

    def source(self, path: str, written: str, line: int) -> bool | None: ...

    def make_opaque(self, line: int, why: str) -> None: ...

    def expand_words(self, words: list[Word], expander: Expander) -> list[str]: ...

    @property
    def in_loop(self) -> bool: ...


def unknown_option(runner: Runner, number: int, name: str) -> None:
    """dash stops at an option it does not know; bash has many (export -n,
    unset -n) that tcpaudit does not evaluate."""
    if runner.state.dash:
        stop(runner, number, f"{name}: an option dash does not know")
    else:
        runner.make_opaque(number, f"an option of bash's {name}")


def opaque(runner: Runner, number: int, why: str) -> bool | None:
    runner.make_opaque(number, why)
    return None


def read_names(name: str, fields: list[str], runner: Runner, number: int) -> bool | None:
    """``read A B`` and ``getopts spec NAME``: the names get values not known."""
    if name == "read" and not runner.state.dash and any(f.startswith("-") for f in fields):
        # bash's options take arguments (-p prompt, -d x, -a NAME...).
        return opaque(runner, number, "bash's read with options")
    names = fields[1:2] if name == "getopts" else [f for f in fields if not f.startswith("-")]
    if name == "read" and not names and not runner.state.dash:
        names = ["REPLY"]  # bash's read with no name
    if name == "getopts":
        names += ["OPTIND", "OPTARG"]
    for variable in names:
        runner.state.assign(variable, runner.state.variables.get(variable, ""), unknown=True)
    runner.note(f"{name} is not evaluated; the values it sets are not known", number)
    return None


def leave(name: str, fields: list[str], runner: Runner, number: int) -> bool:
    if name == "return":  # every start-up file is sourced: it ends that file
        if not fields:
            raise ReturnError(runner.state.last_status)
        dash = runner.state.dash
        # dash reads its first word as strtoimax does (blanks around, a sign);
        # bash refuses more than one.
        first = fields[0].strip(" \t\n\r\v\f") if dash else fields[0]
        written = _RETURN_NUMBER.fullmatch(first) if dash or len(fields) == 1 else None
        digits = written.group(2).lstrip("0") or "0" if written else ""
        negative = written is not None and written.group(1) == "-" and digits != "0"
        if dash and (written is None or negative or len(digits) > 10 or int(digits) > 2**31 - 1):
            # dash's "Illegal number" ends the shell (ASCII digits, +, up to INT_MAX).
            raise ApacheConfigError(
                "return: an illegal number: the shell sourcing the start-up files ends here",
                file=runner.file,
                line=number,
            )
        if written is None or negative or len(digits) > 18:
            runner.make_opaque(number, "return with that argument")  # bash's own rules
            raise ReturnError(None)
        # dash keeps the number, bash its low 8 bits (256 is 0 to bash); $?
        # holds it, where tcpaudit keeps success or failure only.
        value = int(digits) % 256 if not dash else int(digits)
        if value > 1:
            runner.note(f"return {value}: the status it gives is not known", number)
        raise ReturnError(value == 0 if value <= 1 else None)
    raise ApacheConfigError(
        "exit: the shell sourcing the start-up files ends here, before it starts httpd",
        file=runner.file,
        line=number,
    )


def declared(
    name: str, words: list[Word], expander: Expander, runner: Runner, number: int
) -> list[tuple[str, str | None, bool]]:
    """The names and values ``export``/``readonly`` set, every argument expanded
    first (in ``export A=1 B=$A``, B sees the A of before the line)."""
    pending: list[tuple[str, str | None, bool]] = []
    options = True
    for word in words:
        if assignment_name(word, not runner.state.dash) is not None:
            options = False
            pending.append(assignment_value(word, expander))
            continue
        fields, unknown = expander.tracked(partial(expander.fields, word))
        if unknown:
            # "export $(...)": which names it sets is not known.
            runner.make_opaque(number, f"{name} of names not known")
            continue
        for field in fields:
            if options and field.startswith("-") and field != "-":
                if field == "--":
                    options = False
                elif set(field[1:]) == {"p"} and runner.state.dash:
                    return []  # -p prints the variables: nothing is set
                else:
                    unknown_option(runner, number, name)
                continue
            options = False
            # "export "A=1"" and "export $X" holding "A=1" assign, as in dash.
            variable, equals, value = field.partition("=")
            if not NAME.fullmatch(variable):
                stop(runner, number, f"{name}: a bad variable name")
                continue
            pending.append((variable, value if equals else None, unknown))
    return pending


def not_known(runner: Runner, number: int, what: str) -> bool | None:
    runner.note(f"{what} is not evaluated; its result is not known", number)
    return None


def refused(runner: Runner, number: int, reason: str) -> bool:
    stop(runner, number, reason)
    return False


def stop(runner: Runner, number: int, reason: str) -> None:
    """A special builtin's error: dash (Debian's apachectl) stops there; bash,
    which sources the other families' files, goes on with a status and
    attributes tcpaudit does not follow (readonly B=1; export B=2 exports B)."""
    if runner.state.dash:
        raise ApacheConfigError(
            f"{reason}: the shell sourcing the start-up files stops here",
            file=runner.file,
            line=number,
        )
    runner.make_opaque(number, f"what bash does after '{reason}'")


def declare(
    name: str,
    pending: list[tuple[str, str | None, bool]],
    state: ShellState,
    runner: Runner,
    number: int,
) -> bool:
    exporting = name == "export" or state.all_export
    for variable, value, unknown in pending:
        if value is not None:
            state.may_stop_on(variable, runner.file, number)
            shells_own(variable, state, runner.file, number)
        elif variable not in state.variables and (
            variable == "PPID" or (not state.dash and variable in BASH_VARIABLES)
        ):
            # Set by the shell itself to what no file tells: exported so.
            state.assign(variable, "", unknown=True)
            runner.note(f"{variable} is set by the shell itself; its value is not known", number)
        if value is not None and variable in state.readonly:
            stop(runner, number, f"{name}: {variable} is read only")
            continue
        if value is not None:
            state.assign(variable, value, unknown)
        if exporting and (value is not None or name == "export"):
            state.exported.add(variable)
        if name == "readonly":
            state.readonly.add(variable)
    return True


def unset(fields: list[str], state: ShellState, runner: Runner, number: int) -> bool:
    functions = False  # unset -f: functions, not variables
    for index, field in enumerate(fields):
        if field.startswith("-") and field != "-":
            if field == "--" or any(flag not in "fv" for flag in field[1:]):
                if field != "--":
                    unknown_option(runner, number, "unset")
                index += 1
            else:
                functions = field[-1] == "f"  # the last flag given wins
                continue
        for variable in fields[index:]:
            if not functions:
                state.may_stop_on(variable, runner.file, number)
            if not NAME.fullmatch(variable):
                stop(runner, number, "unset: a bad variable name")
            elif not functions and variable in state.readonly:
                stop(runner, number, f"unset: {variable} is read only")
            elif functions:
                state.functions.discard(variable)
            else:
                state.variables.pop(variable, None)
                state.exported.discard(variable)
                state.unknown.discard(variable)
        break
    return True


def set_flags(flags: list[str], state: ShellState, runner: Runner, number: int) -> bool:
    """``set -a``/``+a``, ``-e``, ``-u``, ``-f``, ``-C`` and their ``-o`` names
    among other flags (``set -ua``); a flag dash does not have stops it."""
    index = 0
    while index < len(flags):
        flag = flags[index]
        if flag in ("--", "-") or flag[:1] not in "-+" or len(flag) < 2:
            runner.note("set with positional parameters is not evaluated", number)
            break
        letters, on = flag[1:], flag[0] == "-"
        options = [flags[index + 1]] if "o" in letters and index + 1 < len(flags) else []
        index += 1 + len(options)
        unknown = set(letters) - _DASH_FLAGS or set(options) - set(_DASH_OPTIONS)
        if unknown:
            if state.dash:
                stop(runner, number, "set: an option dash does not have")
            else:
                runner.make_opaque(number, "an option of bash's set")
            return True
        if "n" in letters or "noexec" in options:
            runner.make_opaque(number, "set -n (no command runs after it)")
        flags_on = set(letters) | {_DASH_OPTIONS[option] for option in options}
        for letter, attribute in _FLAG_ATTRIBUTES.items():
            if letter in flags_on:
                setattr(state, attribute, on)
    return True


def shells_own(name: str, state: ShellState, file: str, line: int) -> None:
    """bash's own read-only, dynamic and array names (UID, RANDOM, FUNCNAME...):
    what a file assigns them is not what they hold after."""
    if not state.dash and name in BASH_READ_ONLY:
        state.make_opaque(f"an assignment to bash's own {name} is not evaluated, so no "
                          "value is known from here on", file, line)  # fmt: skip


def assignment_value(word: Word, expander: Expander) -> tuple[str, str, bool]:
    """The name, the value and whether it holds what is not known (bash's
    ``A+=x`` appends to A's value)."""
    kind, text = word.parts[0]
    name, _, rest = text.partition("=")
    value, unknown = expander.tracked(
        lambda: expander.assigned(Word([(kind, rest), *word.parts[1:]]))
    )
    if name.endswith("+"):
        name = name[:-1]
        state = expander.state
        unknown = unknown or name in state.unknown or state.opaque is not None
        value = state.variables.get(name, "") + value
        state.check(len(value), expander.file, expander.line)
    return name, value, unknown


def assign(word: Word, state: ShellState, expander: Expander, *, unknown: bool = False) -> None:
    name, value, value_unknown = assignment_value(word, expander)
    refuse_read_only(name, state, expander)
    state.assign(name, value, unknown or value_unknown)  # exported too under set -a


def refuse_read_only(name: str, state: ShellState, expander: Expander) -> None:
    state.may_stop_on(name, expander.file, expander.line)
    shells_own(name, state, expander.file, expander.line)
    if name in state.readonly and not state.dash:
        # bash drops that command and goes on (outside POSIX mode).
        state.make_opaque(f"{name}: is read only; what bash does after is not evaluated, so no "
                          "value is known from here on", expander.file, expander.line)  # fmt: skip
    elif name in state.readonly:
        # An assignment's error ends dash (a shell that is not interactive).
        raise ApacheConfigError(
            f"{name}: is read only: the shell sourcing the start-up files stops here",
            file=expander.file,
            line=expander.line,
        )
