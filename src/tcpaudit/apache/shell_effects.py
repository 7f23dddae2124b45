"""What a part of a start-up file that tcpaudit does not run may change.

A loop that runs, an ``if`` over a condition not known, the rest of a list
after a status not known: dash runs them, tcpaudit does not. What they may
assign becomes "not known" rather than keeping a value dash may have
changed: the names they assign (``A=``, ``export``/``readonly``/``local``/
``unset``/``read``/``getopts`` arguments, ``${A:=...}``, a ``for`` loop's
variable) and the functions they define. A part that may change any name
(``eval``, ``.``, a call to a function, a command named by an expansion,
``cd``, ``command``...) makes the whole shell's state not known from there
on ("opaque").
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .shell_lexer import (
    SPECIAL_BUILTINS,
    Command,
    Word,
    array_assignment,
    assignment_name,
    literal,
)
from .shell_tree import AndOr, Node

__all__ = [
    "OPAQUE_BUILTINS",
    "Effects",
    "arithmetic_names",
    "assigned_in_words",
    "effects_of",
    "effects_of_lists",
]

# Builtins that may change any variable, the working directory or how later
# lines are read; tcpaudit runs none of them.
OPAQUE_BUILTINS = frozenset(("eval", ".", "source", "command", "exec", "alias", "unalias",
                             "builtin", "declare", "typeset", "let", "mapfile", "readarray",
                             "enable", "cd", "pushd", "popd", "shopt", "coproc"))  # fmt: skip
_NAMING = frozenset(("export", "readonly", "unset", "read"))
_ENDING = frozenset(("return", "exit", "exec", "local"))
_COUNTING = frozenset(("shift", "break", "continue"))  # special builtins a count makes fail
_STOPPING = re.compile(r"\$\{[A-Za-z_0-9@*#$!-]+:?\?")
_ASSIGNED_IN_WORD = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*):?=")
# Whole names only (a lookbehind): an unanchored name backtracked at each
# character of a long run of them (35,000 letters took 50 s).
_ARITHMETIC_ASSIGNED = re.compile(
    r"(?<![A-Za-z0-9_])([A-Za-z_][A-Za-z0-9_]*)\s*(?:[-+*/%&|^]|<<|>>)?=(?!=)"
)
_ARITHMETIC_STEPPED = re.compile(
    r"(?<![A-Za-z0-9_])([A-Za-z_][A-Za-z0-9_]*)\s*(?:\+\+|--)"
    r"|(?:\+\+|--)\s*([A-Za-z_][A-Za-z0-9_]*)"
)


@dataclass
class Effects:
    """Names a part may assign or define, and whether it may change anything."""

    names: set[str] = field(default_factory=set)
    functions: set[str] = field(default_factory=set)
    calls: set[str] = field(default_factory=set)  # names run (a function's call changes all)
    attributes: set[str] = field(default_factory=set)  # exported, unset or read-only perhaps
    readonly: set[str] = field(default_factory=set)
    expands: bool = False  # any $ expansion (set -u may stop at it)
    opaque: bool = False


def effects_of_lists(lists: list[AndOr], effects: Effects | None = None) -> Effects:
    effects = effects if effects is not None else Effects()
    for listed in lists:
        if listed.background:
            continue  # a subshell's: nothing reaches this shell
        for pipeline in listed.pipelines:
            if len(pipeline.commands) == 1:  # each command of a pipeline is a subshell's
                effects_of(pipeline.commands[0], effects)
    return effects


def effects_of(node: Node, effects: Effects) -> Effects:
    if isinstance(node, Command):
        _command(node, effects)
        return effects
    patterns = [word for item in node.patterns for word in item]
    for word in (*node.words, *node.redirections, *patterns):
        _words(word, effects)
    if node.kind == "arithmetic":
        effects.names.update(arithmetic_names(node.name))
        return effects
    if node.kind == "subshell":
        return effects
    if node.kind == "function":
        effects.functions.add(node.name)
        return effects
    if node.kind == "for":
        effects.names.add(node.name)
    for part in node.parts:
        effects_of_lists(part, effects)
    return effects


def _command(command: Command, effects: Effects) -> None:
    words = command.words
    for word in (*words, *command.redirections):
        _words(word, effects)
    index = 0
    while index < len(words) and (assigned := assignment_name(words[index], bash=True)) is not None:
        effects.names.add(assigned)
        index += 1
    if index < len(words) and array_assignment(words[index]):
        effects.opaque = True  # bash's A[0]=x makes an array of A
        return
    if index == len(words):
        return
    name = literal(words[index])
    if name is None or name in OPAQUE_BUILTINS or name in _ENDING or name in _COUNTING:
        # A command named by an expansion may be any builtin; return, exit,
        # exec and local end the file or the shell, or may.
        effects.opaque = True
        return
    if name in SPECIAL_BUILTINS and command.redirections:
        effects.opaque = True  # a failing redirection would stop dash
        return
    if name in _NAMING or name == "getopts":
        if name == "getopts":
            effects.names.update(("OPTIND", "OPTARG"))
        for word in words[index + 1 :]:
            text = literal(word)
            if text is None or text.startswith("-"):
                effects.opaque = True  # names not known, or an option of bash's
                return
            variable = text.partition("=")[0]
            effects.names.add(variable)
            if name != "read":
                effects.attributes.add(variable)
            if name == "readonly":
                effects.readonly.add(variable)
    elif name in ("printf", "wait") and any(
        (literal(word) or "-").startswith(("-v", "-p")) for word in words[index + 1 :]
    ):
        effects.opaque = True  # bash's printf -v and wait -p assign
    elif name in ("set", "trap"):
        effects.opaque = True  # flags change how what follows runs; bash's traps run anywhere
    else:
        effects.calls.add(name)  # a function's, or an external command changing nothing here


def _words(word: Word, effects: Effects) -> None:
    for kind, text in word.parts:
        if kind != "'" and "$" in text:
            effects.expands = True
            effects.names.update(_ASSIGNED_IN_WORD.findall(text))
            if "$((" in text or _STOPPING.search(text):
                # Arithmetic and ${X?} may stop the shell.
                effects.names.update(arithmetic_names(text))
                effects.opaque = True


def assigned_in_words(words: list[Word]) -> set[str]:
    """Names ``${NAME=...}`` and ``${NAME:=...}`` in ``words`` assign."""
    return {
        name
        for word in words
        for kind, text in word.parts
        if kind != "'"
        for name in _ASSIGNED_IN_WORD.findall(text)
    }


def arithmetic_names(text: str) -> set[str]:
    """Names an arithmetic expansion may assign (``$((A=5))``, ``A+=1``, bash's ``A++``)."""
    stepped = {before or after for before, after in _ARITHMETIC_STEPPED.findall(text)}
    return set(_ARITHMETIC_ASSIGNED.findall(text)) | stepped
