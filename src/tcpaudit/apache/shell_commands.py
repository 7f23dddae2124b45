"""Simple commands of a start-up file: what each builtin tcpaudit knows does to the shell.

``shell.py`` decides which commands run (lists, ``if`` blocks); this module
runs one: assignments, ``export``/``readonly``, ``unset``, ``set``, ``.``,
``:`` and its kin (run for their expansions), ``[``/``test``, ``exit`` and
``return``. Any other command is not run, but its words are expanded first,
as dash expands them (a ``:=`` in them assigns, a ``:?`` stops the shell).
Arguments are expanded before the assignments written before the command
take effect (``A=1 export B=$A`` gives B the A of before), as dash does.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import partial
from typing import Protocol

from ..errors import ApacheConfigError
from .secret_words import redact_text
from .shell_effects import OPAQUE_BUILTINS
from .shell_lexer import Command, Word, split_redirection
from .shell_redirections import failed_redirection
from .shellwords import Expander, ShellState

__all__ = [
    "ReturnError",
    "Runner",
    "expand_targets",
    "failed",
    "literal",
    "open_redirections",
    "run_simple",
    "stop",
]

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ASSIGNMENT = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)=")
_APPENDING = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\+?=")
_ARRAY_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\[[^]]*\]\+?=")
# Special builtins: an assignment before one stays in the shell (A=1 : sets A).
_SPECIAL = frozenset((":", ".", "break", "continue", "eval", "exec", "exit", "export",
                      "readonly", "return", "set", "shift", "times", "trap", "unset"))  # fmt: skip
# Builtins tcpaudit does not run that may change any variable ('.' it runs).
_NOT_RUN_OPAQUE = OPAQUE_BUILTINS - {".", "source"}
# Builtins that change the shell's variables or options when run.
_CHANGING = frozenset(("export", "readonly", "unset", "set", "local", "read", "getopts", "shift"))
_EXPANDING = frozenset((":", "true", "false", "echo", "printf", "umask", "ulimit"))
_TEST_OPERATOR = re.compile(r"-[a-zA-Z]{1,2}|!?=|[!()<>]")
_INT64 = (-(2**63), 2**63 - 1)
_NUMBER = re.compile(r"\s*[-+]?[0-9]+\s*")


class ReturnError(Exception):
    """``return`` in a sourced file: that file ends, its caller goes on."""


class Runner(Protocol):
    """What a simple command needs of the runner of its file."""

    state: ShellState
    file: str
    depth: int
    exists: Callable[[str, str], bool | None] | None

    def note(self, message: str, line: int) -> None: ...

    def source(self, path: str, written: str, line: int) -> bool | None: ...

    def make_opaque(self, line: int, why: str) -> None: ...


def run_simple(command: Command, runner: Runner) -> bool | None:
    """Run one simple command; its status, None when not known."""
    state, file, number = runner.state, runner.file, command.line
    expander = Expander(state, file, number)
    words = command.words
    prefix = 0
    bash = not state.dash
    if bash and words and _ARRAY_ASSIGNMENT.match(literal(words[0]) or ""):
        # bash's A[0]=x makes an array of A (no longer exported as it was).
        runner.make_opaque(number, "an array assignment of bash")
        return None
    while prefix < len(words) and _assignment(words[prefix], bash) is not None:
        prefix += 1
    assignments, arguments = words[:prefix], words[prefix:]
    name = literal(arguments[0]) if arguments else None
    action = _expanded_action(name, arguments, expander, runner, number) if arguments else None
    # Redirections (here-documents too) are expanded, then opened, before the
    # assignments written before the command take effect, as in dash.
    targets = expand_targets(command.operators, command.redirections, expander)
    failure = open_redirections(command.operators, command.redirections, targets, runner, number)
    if failure is not None:
        # dash stops at the failing redirection: the assignments are not even expanded.
        return failed(failure, runner, number, special=name in _SPECIAL)
    # Alone, or before a special builtin, assignments stay in the shell;
    # before another command they are its own environment: expanded, not kept.
    for word in assignments:
        if action is None or name in _SPECIAL:
            _assign(word, state, expander)
            continue
        variable, _, _ = _assignment_value(word, expander)
        _refuse_read_only(variable, state, expander)
        if state.all_export and variable not in state.variables:
            state.exported.add(variable)  # dash leaves an unset name marked for export
    return True if action is None else action()


def expand_targets(operators: list[str], words: list[Word], expander: Expander) -> list[str | None]:
    """Redirections' targets expanded (None: holding a value not known); a
    here-document's body is no value."""
    targets: list[str | None] = []
    for operator, word in zip(operators, words, strict=True):
        if split_redirection(operator)[1] in ("<<", "<<-"):
            targets.append(expander.body(word))
            continue
        target, unknown = expander.tracked(partial(expander.word, word))
        targets.append(None if unknown else target)
    return targets


def open_redirections(
    operators: list[str], words: list[Word], targets: list[str | None], runner: Runner, number: int
) -> str | None:
    """Why the first of a command's redirections cannot be opened, or None."""
    opened = failed_redirection(
        operators, words, targets, runner.exists, noclobber=runner.state.noclobber
    )
    if opened.unknown is not None:
        runner.note(f"{opened.unknown}; taken as it can", number)
    if opened.fatal and runner.state.dash:
        raise ApacheConfigError(
            f"{opened.failure}: a syntax error to the shell sourcing the start-up files, "
            "which stops here",
            file=runner.file,
            line=number,
        )
    return None if opened.fatal else opened.failure


def failed(reason: str, runner: Runner, number: int, *, special: bool) -> bool:
    """A redirection that cannot be opened: the command is not run (status
    2); before a special builtin, dash stops."""
    if special:
        stop(runner, number, reason)
    else:
        runner.note(f"{reason}: the command is not run", number)
    runner.state.failed_test = True  # $? is 2
    return False


def _expanded_action(
    name: str | None, arguments: list[Word], expander: Expander, runner: Runner, number: int
) -> Callable[[], bool | None]:
    """Expand the arguments of command ``name``; what running it then does."""
    state = runner.state
    words = arguments[1:]
    if name is None:
        # A command named by an expansion: dash runs whatever it names.
        fields, unknown = expander.tracked(partial(expander.fields, arguments[0]))
        named = fields[0] if fields else ""
        if unknown or named in _CHANGING or named in OPAQUE_BUILTINS or named in state.functions:
            for word in words:
                expander.fields(word)
            return lambda: _opaque(runner, number, "a command named by an expansion")
    elif name in state.functions or name in _NOT_RUN_OPAQUE:
        for word in words:
            expander.fields(word)
        what = "a call to a function" if name in state.functions else f"{name!r}"
        return lambda: _opaque(runner, number, what)
    if name in ("export", "readonly"):
        pending = _declared(name, words, expander, runner, number)
        return lambda: _declare(name, pending, state, runner, number)
    if name in ("unset", "set", "read", "getopts"):
        fields, unknown = expander.tracked(
            lambda: [piece for word in words for piece in expander.fields(word)]
        )
        if unknown:
            return lambda: _opaque(runner, number, f"{name} of names not known")
        if name == "unset":
            return lambda: _unset(fields, state, runner, number)
        if name == "set":
            return lambda: _set(fields, state, runner, number)
        return lambda: _read(name, fields, runner, number)
    if name in (".", "source") and words:
        written = "".join(text for _, text in words[0].parts)
        path, unknown = expander.tracked(partial(expander.word, words[0]))
        if unknown:
            return lambda: _opaque(runner, number, f"{name} of a path not known")
        return lambda: runner.source(path, written, number)
    if not state.dash and name in ("printf", "trap") and (name == "trap" or _option_v(words)):
        # bash's printf -v assigns; its traps (DEBUG, RETURN, ERR) run anywhere.
        for word in words:
            expander.fields(word)
        return lambda: _opaque(runner, number, f"bash's {name}")
    if name in _EXPANDING:
        # Run for their expansions' effects: ": ${X:=default}" sets X.
        for word in words:
            expander.fields(word)
        return lambda: name != "false"
    if name in ("[", "test"):
        args, unknown = expander.tracked(
            lambda: [piece for word in words for piece in expander.fields(word)]
        )
        if unknown:
            return lambda: _not_known(runner, number, "a test of a value not known")
        return lambda: _condition(name, args, runner, number)
    if name == "local":
        # Run only where a function's body would run, which tcpaudit never runs.
        for word in words:
            expander.fields(word)
        return lambda: _refused(runner, number, "local: not in a function")
    if name in ("exit", "return"):
        for word in words:
            expander.fields(word)
        return lambda: _leave(name, runner, number)
    # Not run, but its words are expanded first, as dash does: their ':='
    # assign and their ':?' stop the shell.
    for word in arguments:
        expander.fields(word)

    def not_run() -> None:
        runner.note(f"shell command {_shown_command(name)!r} is not evaluated", number)

    return not_run


def _option_v(words: list[Word]) -> bool:
    return bool(words) and (literal(words[0]) or "").startswith("-v")


def _unknown_option(runner: Runner, number: int, name: str) -> None:
    """dash stops at an option it does not know; bash has many (export -n,
    unset -n) that tcpaudit does not evaluate."""
    if runner.state.dash:
        stop(runner, number, f"{name}: an option dash does not know")
    else:
        runner.make_opaque(number, f"an option of bash's {name}")


def _opaque(runner: Runner, number: int, why: str) -> bool | None:
    runner.make_opaque(number, why)
    return None


def _read(name: str, fields: list[str], runner: Runner, number: int) -> bool | None:
    """``read A B`` and ``getopts spec NAME``: the names get values not known."""
    names = fields[1:2] if name == "getopts" else [f for f in fields if not f.startswith("-")]
    if name == "getopts":
        names += ["OPTIND", "OPTARG"]
    for variable in names:
        runner.state.assign(variable, runner.state.variables.get(variable, ""), unknown=True)
    runner.note(f"{name} is not evaluated; the values it sets are not known", number)
    return None


def _leave(name: str, runner: Runner, number: int) -> bool:
    if name == "return":  # every start-up file is sourced: it ends that file
        raise ReturnError
    raise ApacheConfigError(
        "exit: the shell sourcing the start-up files ends here, before it starts httpd",
        file=runner.file,
        line=number,
    )


def _declared(
    name: str, words: list[Word], expander: Expander, runner: Runner, number: int
) -> list[tuple[str, str | None, bool]]:
    """The names and values ``export``/``readonly`` set, every argument expanded
    first (in ``export A=1 B=$A``, B sees the A of before the line)."""
    pending: list[tuple[str, str | None, bool]] = []
    options = True
    for word in words:
        if _assignment(word, not runner.state.dash) is not None:
            options = False
            pending.append(_assignment_value(word, expander))
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
                elif set(field[1:]) == {"p"}:
                    return []  # -p prints the variables: nothing is set
                else:
                    _unknown_option(runner, number, name)
                continue
            options = False
            # "export "A=1"" and "export $X" holding "A=1" assign, as in dash.
            variable, equals, value = field.partition("=")
            if not _NAME.fullmatch(variable):
                stop(runner, number, f"{name}: a bad variable name")
                continue
            pending.append((variable, value if equals else None, unknown))
    return pending


def _not_known(runner: Runner, number: int, what: str) -> bool | None:
    runner.note(f"{what} is not evaluated; its result is not known", number)
    return None


def _refused(runner: Runner, number: int, reason: str) -> bool:
    stop(runner, number, reason)
    return False


def stop(runner: Runner, number: int, reason: str) -> None:
    """A special builtin's error: dash (Debian's apachectl) stops there; bash,
    which sources the other families' files, says so and goes on."""
    if runner.state.dash:
        raise ApacheConfigError(
            f"{reason}: the shell sourcing the start-up files stops here",
            file=runner.file,
            line=number,
        )
    runner.note(f"{reason}: skipped, as bash skips it", number)


def _declare(
    name: str,
    pending: list[tuple[str, str | None, bool]],
    state: ShellState,
    runner: Runner,
    number: int,
) -> bool:
    exporting = name == "export" or state.all_export
    for variable, value, unknown in pending:
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


def _unset(fields: list[str], state: ShellState, runner: Runner, number: int) -> bool:
    functions = False  # unset -f: functions, not variables
    for index, field in enumerate(fields):
        if field.startswith("-") and field != "-":
            if field == "--" or any(flag not in "fv" for flag in field[1:]):
                if field != "--":
                    _unknown_option(runner, number, "unset")
                index += 1
            else:
                functions = field[-1] == "f"  # the last flag given wins
                continue
        for variable in fields[index:]:
            if not _NAME.fullmatch(variable):
                stop(runner, number, "unset: a bad variable name")
            elif variable in state.readonly:
                stop(runner, number, f"unset: {variable} is read only")
            elif functions:
                state.functions.discard(variable)
            else:
                state.variables.pop(variable, None)
                state.exported.discard(variable)
                state.unknown.discard(variable)
        break
    return True


def _set(flags: list[str], state: ShellState, runner: Runner, number: int) -> bool:
    """``set -a``/``+a``, ``-e``, ``-u``, ``-f`` and their ``-o`` names among
    other flags (``set -ua``)."""
    index = 0
    while index < len(flags):
        flag = flags[index]
        if flag in ("--", "-") or flag[:1] not in "-+" or len(flag) < 2:
            runner.note("set with positional parameters is not evaluated", number)
            break
        letters, on = flag[1:], flag[0] == "-"
        if "o" in letters and index + 1 < len(flags):
            index += 1
            option = flags[index]
            state.all_export = on if option == "allexport" else state.all_export
            state.errexit = on if option == "errexit" else state.errexit
            state.nounset = on if option == "nounset" else state.nounset
            state.noglob = on if option == "noglob" else state.noglob
            state.noclobber = on if option == "noclobber" else state.noclobber
        state.all_export = on if "a" in letters else state.all_export
        state.errexit = on if "e" in letters else state.errexit
        state.nounset = on if "u" in letters else state.nounset
        state.noglob = on if "f" in letters else state.noglob
        state.noclobber = on if "C" in letters else state.noclobber
        index += 1
    return True


def _condition(name: str, args: list[str], runner: Runner, number: int) -> bool | None:
    """``[ ... ]`` / ``test ...``: string, integer and file tests; None when not known."""
    if name == "[":
        if args[-1:] != ["]"]:
            runner.state.failed_test = True
            return False  # "[: missing ]", an error: the condition fails
        args = args[:-1]
    result = _test(args, runner.exists)
    if result is False and _is_error(args):
        runner.state.failed_test = True  # test's status 2, as $? shows it
    if result is None:
        # Its operators only: an operand may be any value, a secret too.
        operators = " ".join(arg for arg in args if _TEST_OPERATOR.fullmatch(arg))
        runner.note(f"a test of {len(args)} words ({operators or 'no operator'}) is not "
                    "evaluated", number)  # fmt: skip
    return result


def _test(args: list[str], exists: Callable[[str, str], bool | None] | None) -> bool | None:
    negations = 0
    while args[:1] == ["!"] and len(args) > 1:
        negations, args = negations + 1, args[1:]
    result = _test_plain(args, exists)
    return result if result is None or negations % 2 == 0 else not result


def _test_plain(args: list[str], exists: Callable[[str, str], bool | None] | None) -> bool | None:
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
        if op == "=":
            return left == right
        if op == "!=":
            return left != right
        numeric = {"-eq": int.__eq__, "-ne": int.__ne__, "-lt": int.__lt__,
                   "-le": int.__le__, "-gt": int.__gt__, "-ge": int.__ge__}  # fmt: skip
        if op in numeric:
            numbers = [_integer(left), _integer(right)]
            if numbers[0] is None or numbers[1] is None:
                return False  # "illegal number" or out of range: an error, the test fails
            return bool(numeric[op](numbers[0], numbers[1]))
        if op == "==":
            return False  # dash's test knows no "==": an error, the test fails
    return None


def _is_error(args: list[str]) -> bool:
    """Whether a failing three-word test failed as an error (an unknown
    operator, a number that is none): test(1) then gives 2, not 1."""
    if len(args) != 3 or args[1] in ("=", "!="):
        return False
    return args[1] == "==" or _integer(args[0]) is None or _integer(args[2]) is None


def _integer(text: str) -> int | None:
    if not _NUMBER.fullmatch(text):
        return None
    digits = text.strip().lstrip("+-").lstrip("0")
    if len(digits) > 19:
        return None  # out of 64 bits whatever its digits (and int() of thousands is slow)
    value = int(text)
    return value if _INT64[0] <= value <= _INT64[1] else None


def literal(word: Word) -> str | None:
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
    return f"{name}=..." if equals else redact_text(head)


def _assignment(word: Word, bash: bool = False) -> str | None:
    """The name ``word`` assigns (``A=x``; bash's ``A+=x`` too), or None."""
    first = word.parts[0] if word.parts else ("'", "")
    if first[0] != "":
        return None
    match = (_APPENDING if bash else _ASSIGNMENT).match(first[1])
    return match.group(1) if match else None


def _assignment_value(word: Word, expander: Expander) -> tuple[str, str, bool]:
    """The name, the value and whether it holds what is not known (bash's
    ``A+=x`` appends to A's value)."""
    kind, text = word.parts[0]
    name, _, rest = text.partition("=")
    value, unknown = expander.tracked(lambda: expander.word(Word([(kind, rest), *word.parts[1:]])))
    if name.endswith("+"):
        name = name[:-1]
        state = expander.state
        unknown = unknown or name in state.unknown or state.opaque is not None
        value = state.variables.get(name, "") + value
        state.check(len(value), expander.file, expander.line)
    return name, value, unknown


def _assign(word: Word, state: ShellState, expander: Expander) -> None:
    name, value, unknown = _assignment_value(word, expander)
    _refuse_read_only(name, state, expander)
    state.assign(name, value, unknown)  # exported too under set -a


def _refuse_read_only(name: str, state: ShellState, expander: Expander) -> None:
    if name in state.maybe_readonly and state.opaque is None:
        # A part not run may have made it read-only: the shell may stop here.
        state.opaque = f"{expander.file}:{expander.line}"
        state.notes.append_message(
            f"{name} may be read only (set so by what is not evaluated): whether the shell "
            "stops here is not known, so no value is known from here on",
            expander.file,
            expander.line,
        )
    if name in state.readonly:
        # An assignment's error ends a shell that is not interactive: dash and bash.
        raise ApacheConfigError(
            f"{name}: is read only: the shell sourcing the start-up files stops here",
            file=expander.file,
            line=expander.line,
        )
