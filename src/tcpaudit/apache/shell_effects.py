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

from .shell_lexer import Command, Word
from .shell_parser import AndOr, Node

__all__ = ["OPAQUE_BUILTINS", "Effects", "effects_of", "effects_of_lists"]

# Builtins that may change any variable, the working directory or how later
# lines are read; tcpaudit runs none of them.
OPAQUE_BUILTINS = frozenset(("eval", ".", "source", "command", "exec", "alias", "unalias",
                             "builtin", "declare", "typeset", "let", "mapfile", "readarray",
                             "enable", "cd", "pushd", "popd", "shopt"))  # fmt: skip
_NAMING = frozenset(("export", "readonly", "local", "unset", "read"))
_ASSIGNED_IN_WORD = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*):?=")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass
class Effects:
    """Names a part may assign or define, and whether it may change anything."""

    names: set[str] = field(default_factory=set)
    functions: set[str] = field(default_factory=set)
    calls: set[str] = field(default_factory=set)  # names run (a function's call changes all)
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
    for word in (*node.words, *node.redirections):
        _words(word, effects)
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
    while index < len(words) and (assigned := _assignment_name(words[index])) is not None:
        effects.names.add(assigned)
        index += 1
    if index == len(words):
        return
    name = _literal(words[index])
    if name is None or name in OPAQUE_BUILTINS:
        effects.opaque = True  # a command named by an expansion may be any builtin
        return
    if name in _NAMING or name == "getopts":
        if name == "getopts":
            effects.names.update(("OPTIND", "OPTARG"))
        for word in words[index + 1 :]:
            text = _literal(word)
            if text is None:
                effects.opaque = True
                return
            effects.names.add(text.partition("=")[0])
    elif name == "set":
        effects.opaque = True  # its flags change how what follows runs
    else:
        effects.calls.add(name)  # a function's, or an external command changing nothing here


def _words(word: Word, effects: Effects) -> None:
    for kind, text in word.parts:
        if kind != "'":
            effects.names.update(_ASSIGNED_IN_WORD.findall(text))


def _assignment_name(word: Word) -> str | None:
    if not word.parts or word.parts[0][0] != "":
        return None
    match = _NAME.match(word.parts[0][1])
    return match.group(0) if match and word.parts[0][1][match.end() :].startswith("=") else None


def _literal(word: Word) -> str | None:
    if any(kind != "'" and ("$" in text or "`" in text) for kind, text in word.parts):
        return None
    return "".join(text for _, text in word.parts)
