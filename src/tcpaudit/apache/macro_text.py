"""mod_macro's text rules: a ``<Macro>`` definition and a ``Use``'s expansion, as httpd 2.4 makes them.

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

import re
from collections import Counter
from dataclasses import dataclass, field

from .continuation import JoinedLine
from .lexer import first_word, split_words
from .values import ascii_lower, utf8_length

__all__ = [
    "MAX_EXPANDED_CHARACTERS",
    "MAX_EXPANDED_LINES",
    "MAX_LINE",
    "Macro",
    "MacroError",
    "continued",
    "expand_macro",
    "parse_macro_header",
    "substitute",
    "without_flags",
]

_ESCAPE_ARGUMENT = "@"
# mod_macro substitutes in a MAX_STRING_LEN buffer (httpd.h: 8192 bytes).
MAX_LINE = 8192
# Lines that Use may splice into a configuration in all: each Use may expand
# macros that Use others twice, 2**n lines for n macros.
MAX_EXPANDED_LINES = 100_000
# And their text: 100,000 lines of up to 8 KiB would be 800 MB.
MAX_EXPANDED_CHARACTERS = 64 * 1024 * 1024


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
    # The macros whose expansion it was defined in (where httpd's reader name
    # says it was defined): using one of them from its body is a recursion.
    defined_in: frozenset[str] = frozenset()
    # Finds the earliest parameter, the longest of those starting there:
    # alternatives longest first (the regex takes the first that matches at
    # a place), the first written first among equals, as mod_macro does.
    finder: re.Pattern[str] = field(init=False, compare=False, repr=False)
    positions: dict[str, int] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        ordered = sorted(self.parameters, key=len, reverse=True)
        finder = re.compile("|".join(map(re.escape, ordered))) if ordered else _NOTHING
        object.__setattr__(self, "finder", finder)
        # A parameter's position, found once (tuple.index is a scan: 800
        # parameters substituted 4 million times took 17 s).
        positions: dict[str, int] = {}
        for index, parameter in enumerate(self.parameters):
            positions.setdefault(parameter, index)
        object.__setattr__(self, "positions", positions)


_NOTHING = re.compile(r"(?!)")


def parse_macro_header(raw_args: str) -> tuple[str, tuple[str, ...]]:
    """Return the lower-cased name and the parameters of ``<Macro name params...>``."""
    end = raw_args.rfind(">")
    if end < 0:
        raise MacroError("<Macro> directive missing closing '>'")
    if end == 0:
        raise MacroError("<Macro macro definition: empty name")
    name, rest = first_word(raw_args[:end])
    if not name:
        raise MacroError("<Macro macro definition: name not found")
    name, parameters = ascii_lower(name), tuple(split_words(without_flags(rest)))
    # check_macro_arguments, parameter by parameter: an empty name, then the
    # same name later (counted: 100,000 compared pairwise took over a minute).
    later = Counter(parameters)
    for position, parameter in enumerate(parameters):
        if not parameter:
            raise MacroError(f"macro '{name}': empty argument #{position + 1} name")
        later[parameter] -= 1
        if later[parameter]:
            raise MacroError(f"argument name conflict in macro '{name}': argument '{parameter}'")
    return name, parameters


_FLAGS = ("/ignoreemptyargs", "/ignorebadnesting")


def without_flags(rest: str) -> str:
    """The text after a ``<Macro>``'s name with its flags taken out, as httpd
    2.4.71 takes them (``/IgnoreEmptyArgs`` and ``/IgnoreBadNesting``, in that
    order, any ASCII case, only before the parameters). Each round: each flag
    in turn if it starts the text; then anything up to a space (not a tab) is
    an unknown flag, dropped with the space (or one character when no space
    follows). The flags only silence warnings: what matters is the rest."""
    position = 0
    while position < len(rest) and rest[position] == "/":
        for flag in _FLAGS:
            piece = rest[position : position + len(flag)]
            if piece.isascii() and piece.lower() == flag:
                position += len(flag)
                if position >= len(rest):
                    return ""
        if rest[position] != " ":
            space = rest.find(" ", position)
            if space >= 0:
                position = space
        position += 1
    return rest[position:]


def _quoted(value: str) -> str:
    return '"' + "".join("\\" + c if c in '"\\' else c for c in value) + '"'


def substitute(line: str, macro: Macro, values: list[str], limit: int = MAX_LINE) -> str:
    # One regex search per substitution, and the line built once: a search
    # per parameter and a new line per substitution cost occurrences x
    # parameters x line length (a minute for 25 uses of a macro of 1,000
    # parameters named 1,100 times).
    index_of = macro.positions.__getitem__
    growth: dict[str, int] = {}  # parameter -> bytes its value adds, once per line
    done: list[str] = []  # the line before rest[pending:], final
    # mod_macro substitutes in the body line as stored, its line feed
    # included, and counts bytes.
    line_bytes = utf8_length(line) + 1
    rest = line
    pending = 0
    position = 0
    while True:
        found = macro.finder.search(rest, position)
        if found is None:
            break
        parameter = found.group()
        value = values[index_of(parameter)]
        start, end = found.span()
        if parameter == value:
            position = end
            continue
        inserted = _quoted(value) if parameter[0] == _ESCAPE_ARGUMENT else value
        added = growth.get(parameter)
        if added is None:
            added = growth[parameter] = utf8_length(inserted) - utf8_length(parameter)
        line_bytes += added
        if line_bytes >= limit:
            # An @parameter whose value holds it grows for ever; httpd stops here.
            raise MacroError("cannot substitute, buffer size too small")
        done.append(rest[pending:start])
        done.append(value if inserted is value else inserted[: len(value)])
        if inserted is value:
            pending = position = end
        else:
            # mod_macro moves on by the length of the value, not of what it
            # inserted: the end of a quoted value is scanned again.
            rest = inserted[len(value) :] + rest[end:]
            pending = position = 0
    if not done:
        return rest
    done.append(rest[pending:])
    return "".join(done)


def expand_macro(macro: Macro, raw_args: str) -> list[tuple[int, str, str]]:
    """Body lines of ``Use`` with the values of ``raw_args`` substituted."""
    values = split_words(raw_args)[1:]
    if len(values) != len(macro.parameters):
        raise MacroError(
            f"macro '{macro.name}' (defined on line {macro.line} of \"{macro.file}\") used "
            f"with {len(values)} arguments instead of {len(macro.parameters)}"
        )
    return [(number, substitute(text, macro, values), file) for number, text, file in macro.body]


def continued(
    expansion: list[tuple[int, str, str]],
) -> tuple[list[tuple[int, str, str]], str | None]:
    """``expansion``'s lines joined as httpd's reader joins them: mod_macro
    hands the expanded text back to ap_cfg_getline, so a line a value left
    ending in a backslash continues on the next (the number is the last
    line's). Returns the lines, and the text the last line leaves to continue
    on the file's next line (None when it ends)."""
    joined: list[tuple[int, str, str]] = []
    line: JoinedLine | None = None
    for number, text, file in expansion:
        if line is None:
            if not text.endswith("\\"):
                joined.append((number, text, file))
                continue
            line = JoinedLine()
        if line.add(text):
            continue
        joined.append((number, line.text(), file))
        line = None
    pending = None if line is None else line.text()
    return joined, pending
