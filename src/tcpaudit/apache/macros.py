"""mod_macro: ``<Macro>`` definitions and their ``Use``, expanded as httpd 2.4 does.

Owns the text rules of modules/core/mod_macro.c; ``evaluator.py`` decides when
they apply (only while macro_module is loaded) and parses the expanded lines in
place of the ``Use`` line, in the same section context, as httpd does.

- ``<Macro name $a $b>`` takes the lines up to the matching ``</Macro>``
  (nested ``<Macro>`` counted, comment lines dropped), unevaluated;
- ``Use name x y`` needs exactly as many values as parameters; in each body
  line the earliest parameter found is replaced (the longest one when two
  start at the same place), scanning on after the inserted value; a
  parameter written ``@p`` inserts its value in double quotes with ``"`` and
  ``\\`` escaped;
- a macro may not ``Use`` itself, directly or through another macro.

An expanded directive keeps the file and line of the body line it comes from;
httpd names it after the use instead ("macro 'x' (defined on line N of F)
used on line M of G", line = position in the body).
"""

from __future__ import annotations

from dataclasses import dataclass

from .lexer import split_words
from .sections import Line, capture_macro_body

__all__ = ["Macro", "MacroError", "MacroTable", "expand_macro", "parse_macro_header"]

_ESCAPE_ARGUMENT = "@"
# mod_macro substitutes in a MAX_STRING_LEN buffer (httpd.h: 8192 bytes).
_MAX_LINE = 8192
# Lines that Use may splice into a configuration in all: each Use may expand
# macros that Use others twice, 2**n lines for n macros.
MAX_EXPANDED_LINES = 100_000


class MacroError(Exception):
    """A macro httpd refuses; the message is httpd's."""


@dataclass(frozen=True, slots=True)
class Macro:
    """A defined macro: lower-cased name, parameters and body lines (line, text, file)."""

    name: str
    parameters: tuple[str, ...]
    body: tuple[tuple[int, str, str], ...]
    file: str
    line: int


def parse_macro_header(raw_args: str) -> tuple[str, tuple[str, ...]]:
    """Return the lower-cased name and the parameters of ``<Macro name params...>``."""
    end = raw_args.rfind(">")
    if end < 0:
        raise MacroError("<Macro> directive missing closing '>'")
    if end == 0:
        raise MacroError("<Macro macro definition: empty name")
    words = split_words(raw_args[:end])
    if not words or not words[0]:
        raise MacroError("<Macro macro definition: name not found")
    name, parameters = words[0].lower(), tuple(words[1:])
    for position, parameter in enumerate(parameters):
        if not parameter:
            raise MacroError(f"macro '{name}': empty argument #{position + 1} name")
        if parameter in parameters[position + 1 :]:
            raise MacroError(f"argument name conflict in macro '{name}': argument '{parameter}'")
    return name, parameters


def _quoted(value: str) -> str:
    return '"' + "".join("\\" + c if c in '"\\' else c for c in value) + '"'


def _substitute(line: str, parameters: tuple[str, ...], values: list[str]) -> str:
    position = 0
    while True:
        chosen = -1
        chosen_at = -1
        for index, parameter in enumerate(parameters):
            found = line.find(parameter, position)
            if found >= 0 and (
                chosen < 0
                or found < chosen_at
                or (found == chosen_at and len(parameter) > len(parameters[chosen]))
            ):
                chosen, chosen_at = index, found
        if chosen < 0:
            return line
        parameter, value = parameters[chosen], values[chosen]
        if parameter != value:
            inserted = _quoted(value) if parameter[0] == _ESCAPE_ARGUMENT else value
            line = line[:chosen_at] + inserted + line[chosen_at + len(parameter) :]
            if len(line) >= _MAX_LINE:
                # An @parameter whose value holds it grows for ever; httpd stops here.
                raise MacroError("cannot substitute, buffer size too small")
        # mod_macro moves on by the length of the value, not of what it inserted.
        position = chosen_at + len(value)


def expand_macro(macro: Macro, raw_args: str) -> list[tuple[int, str, str]]:
    """Body lines of ``Use`` with the values of ``raw_args`` substituted."""
    values = split_words(raw_args)[1:]
    if len(values) != len(macro.parameters):
        raise MacroError(
            f"macro '{macro.name}' (defined on line {macro.line} of \"{macro.file}\") used "
            f"with {len(values)} arguments instead of {len(macro.parameters)}"
        )
    return [
        (number, _substitute(text, macro.parameters, values), file)
        for number, text, file in macro.body
    ]


class MacroTable:
    """The macros defined so far, and the three directives that use the table."""

    def __init__(self) -> None:
        self.macros: dict[str, Macro] = {}
        self.defined_any = False
        self.expanded_lines = 0

    def handle(self, key: str, rest: str, lines: list[Line], index: int) -> int:
        """Apply ``<Macro``, ``Use`` or ``UndefMacro`` (``key``) read at ``lines[index - 1]``.

        A definition consumes its body; a use splices the expanded lines in at
        ``index``. Returns where reading goes on.
        """
        number, _raw, where, expanding = lines[index - 1]
        if key == "<macro":
            name, parameters = parse_macro_header(rest)
            body, index = capture_macro_body(lines, index, where, number)
            self.defined_any = True
            self.macros[name] = Macro(
                name, parameters, tuple((n, t, f) for n, t, f, _ in body), where, number
            )
            return index
        words = split_words(rest)
        name = words[0].lower() if words else ""
        if not self.defined_any:
            raise MacroError(f"no macro defined before {'Use' if key == 'use' else 'UndefMacro'}")
        if not name:
            raise MacroError("no macro name specified")
        if key == "undefmacro":
            if self.macros.pop(name, None) is None:
                raise MacroError(f"cannot remove undefined macro '{name}'")
            return index
        macro = self.macros.get(name)
        if macro is None:
            raise MacroError(f"macro '{name}' undefined")
        if name in expanding:
            raise MacroError(f"recursive use of macro '{name}' is invalid")
        self.expanded_lines += len(macro.body)
        if self.expanded_lines > MAX_EXPANDED_LINES:
            raise MacroError(f"macros expand to more than {MAX_EXPANDED_LINES} lines")
        expanded = [
            (n, text.strip(" \t\r\n\f\v"), f, (*expanding, name))
            for n, text, f in expand_macro(macro, rest)
        ]
        # The expansion is read like a file: blank and comment lines say nothing.
        lines[index:index] = [entry for entry in expanded if entry[1] and entry[1][0] != "#"]
        return index
