"""What the builtins tcpaudit runs return: ``:`` and its kin, ``umask``,
``[``/``test``, ``break``/``continue`` outside a loop; and how a command is
named in a note (``shell_commands.py`` runs them)."""

from __future__ import annotations

import re

from .secret_words import redact_text
from .shell_builtins import LoopControlError, Runner
from .shell_lexer import Word, literal
from .shell_redirections import SHAPED_LIKE_SECRET, looks_secret
from .shell_test import evaluate_test, is_error

__all__ = ["bash_printf_v", "condition", "expanding_status", "loop_control", "shown_command"]

_OCTAL_MASK = re.compile(r"[0-7]+")
_BASH_MASK_MAX = 0o7777  # bash refuses a mask above ("octal number out of range"); dash does not
_TEST_OPERATOR = re.compile(r"-[a-zA-Z]{1,2}|!?=|[!()<>]")


def loop_control(name: str, runner: Runner) -> bool:
    if runner.in_loop:
        raise LoopControlError(name)
    return True  # outside a loop dash does nothing


def expanding_status(name: str, fields: list[str], runner: Runner, number: int) -> bool | None:
    """The status of : true false echo printf umask ulimit: printf's formats,
    ulimit's limits and a write to a closed output may fail (not known);
    umask fails on what is not octal (dash: "Illegal number")."""
    if name in (":", "true", "false"):
        return name != "false"
    if name == "umask":
        if not fields or fields == ["-S"]:
            return True  # (unless its output is closed: run_simple)
        if len(fields) == 1 and _OCTAL_MASK.fullmatch(fields[0]):
            return runner.state.dash or int(fields[0], 8) <= _BASH_MASK_MAX
        if not fields[0][:1].isdigit() or len(fields) > 1:
            runner.note("umask with that argument: its result is not known", number)
            return None
        # Not octal: dash's "Illegal number" (status 2), bash's 1.
        runner.state.failed_test = runner.state.dash
        return False
    if name == "echo":
        return True  # (unless its output is closed: run_simple)
    runner.note(f"{name}: its result is not known", number)
    return None


def bash_printf_v(name: str | None, words: list[Word], runner: Runner) -> bool:
    """bash's ``printf -v NAME`` or ``wait -p NAME``, which assign NAME."""
    return not runner.state.dash and name in ("printf", "wait") and _option_v(words)


def _option_v(words: list[Word]) -> bool:
    """printf -v NAME, wait -p NAME (-np too): bash assigns NAME; a word
    holding an expansion may be such an option."""
    for word in words:
        text = literal(word)
        if text is None or (text.startswith("-") and ("v" in text or "p" in text)):
            return True
    return False


def condition(name: str, args: list[str], runner: Runner, number: int) -> bool | None:
    """``[ ... ]`` / ``test ...``: string, integer and file tests; None when not known."""
    if name == "[":
        if args[-1:] != ["]"]:
            runner.state.failed_test = True
            return False  # "[: missing ]", an error: the condition fails
        args = args[:-1]
    bash = not runner.state.dash
    result = evaluate_test(args, runner.exists, bash=bash)
    if result is False and is_error(args, bash=bash):
        runner.state.failed_test = True  # test's status 2, as $? shows it
    if result is None:
        # Its operators only: an operand may be any value, a secret too.
        operators = " ".join(arg for arg in args if _TEST_OPERATOR.fullmatch(arg))
        runner.note(f"a test of {len(args)} words ({operators or 'no operator'}) is not "
                    "evaluated", number)  # fmt: skip
    return result


def shown_command(head: str | None) -> str:
    """The command's name for a note: up to an ``=``, whose value may be a secret
    (``DB_PASSWORD+=x`` is an assignment this shell does not evaluate)."""
    if not head:
        return "?"
    name, equals, _ = head.partition("=")
    if equals:
        return f"{name}=..."
    shown = redact_text(head)
    return SHAPED_LIKE_SECRET if looks_secret(shown) else shown
