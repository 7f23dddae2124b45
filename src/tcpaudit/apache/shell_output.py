"""What a builtin writes to its standard output, and whether that output is closed.

A builtin writing to a closed descriptor 1 (``umask >&-``, ``export >&-``)
fails with status 1 in dash and bash, and ``set -e`` then stops the shell:
``run_simple`` asks ``output_fails`` of the command's redirections, taken
in order as the shell makes them (``echo hi >&- >/dev/null`` writes), and
``writes`` of the command whether it writes at all (``echo -n`` does not).
"""

from __future__ import annotations

import re

from .shell_lexer import Word, literal, split_redirection

__all__ = ["echo_writes", "output_fails", "writes"]

# bash's echo takes a word of these letters only as its options.
_BASH_ECHO_OPTIONS = re.compile(r"-[neE]+")
# Builtins that never write to their standard output.
_SILENT = frozenset((":", "true", "false", "[", "test", "unset", "read", "getopts", "local",
                     "exit", "return", "break", "continue", "shift"))  # fmt: skip


def output_fails(operators: list[str], targets: list[str | None]) -> bool | None:
    """Whether a write to descriptor 1 fails once the redirections are made,
    left to right as the shell makes them (None: not known).

    It fails once closed (``>&-``) or open for reading only (``1</dev/null``,
    ``1<<END``); a file opened for writing (``>``, ``>>``, ``>|``, ``<>``)
    takes writes, and ``>&N`` makes it what N is then. Descriptor 0's mode
    is not known (the service's is /dev/null for reading, a terminal's both).
    """
    writable: dict[int, bool | None] = {0: None, 1: True, 2: True}
    for operator, target in zip(operators, targets, strict=True):
        descriptor, kind = split_redirection(operator)
        if descriptor is None:
            descriptor = 1 if kind.startswith(">") else 0
        if kind in (">&", "<&"):
            if target == "-":
                writable[descriptor] = False
            elif target is not None and target.isascii() and target.isdigit():
                writable[descriptor] = writable.get(int(target), False)
            else:
                writable[descriptor] = None
        else:
            writable[descriptor] = kind in (">", ">>", ">|", "<>")
    fd1 = writable.get(1, True)
    return None if fd1 is None else not fd1


def writes(name: str | None, words: list[Word]) -> bool | None:
    """Whether builtin ``name`` writes to its output, from its words before
    expansion (None: it may; echo and umask are decided on their fields)."""
    if name in _SILENT:
        return False
    literals = [literal(word) for word in words]
    written = [text for text in literals if text is not None]
    if len(written) < len(literals):
        return None
    if name in ("export", "readonly"):
        # With no name they list the variables; dash's -p lists them whatever follows.
        return None if not written or any(text.startswith("-") for text in written) else False
    if name == "set":
        # Alone it lists the variables, with -o/+o last the options.
        return None if not written or written[-1] in ("-o", "+o") else False
    return None


def echo_writes(fields: list[str], *, dash: bool) -> bool | None:
    """Whether echo with these fields writes a byte (None: not known).

    dash's echo takes ``-n`` alone as its option and reads backslash escapes
    (``\\c`` ends the output); bash's takes any word of ``n``, ``e`` and ``E``
    and reads escapes only after ``-e``.
    """
    newline, escapes = True, dash
    rest = fields
    if dash:
        if rest[:1] == ["-n"]:
            newline, rest = False, rest[1:]
    else:
        while rest and _BASH_ECHO_OPTIONS.fullmatch(rest[0]):
            for letter in rest[0][1:]:
                if letter == "n":
                    newline = False
                else:
                    escapes = letter == "e"
            rest = rest[1:]
    text = " ".join(rest)
    if escapes and "\\" in text:
        return False if text.startswith("\\c") else None
    return newline or bool(text)
