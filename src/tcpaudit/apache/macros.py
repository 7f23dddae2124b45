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

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from .lexer import first_word, split_words
from .secret_checks import is_secret_directive
from .secret_words import redact_arguments, references_in_secrets
from .sections import Line, capture_macro_body
from .shell_state import REDACTED_VALUE
from .variables import MIN_HIDDEN_VALUE, REFERENCE, Variables

__all__ = ["Macro", "MacroError", "MacroTable", "expand_macro", "parse_macro_header"]

_ESCAPE_ARGUMENT = "@"
# mod_macro substitutes in a MAX_STRING_LEN buffer (httpd.h: 8192 bytes).
_MAX_LINE = 8192
# Lines that Use may splice into a configuration in all: each Use may expand
# macros that Use others twice, 2**n lines for n macros.
MAX_EXPANDED_LINES = 100_000
# And their text: 100,000 lines of up to 8 KiB would be 800 MB.
MAX_EXPANDED_CHARACTERS = 64 * 1024 * 1024
# The lines where Uses put secrets, kept until the walk has judged them; past
# this, only the secret values are kept for those lines (hidden wherever they stand).
MAX_KEPT_CHARACTERS = 16 * 1024 * 1024
# A secret argument's text looked for inside the other arguments: the longest.
_SEARCHED_SECRETS = 16
# A body line with the placeholder for its secret arguments, built at most this long.
_PLACED_LINE = 16 * _MAX_LINE


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
    # Finds the earliest parameter, the longest of those starting there:
    # alternatives longest first (the regex takes the first that matches at
    # a place), the first written first among equals, as mod_macro does.
    finder: re.Pattern[str] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        ordered = sorted(self.parameters, key=len, reverse=True)
        finder = re.compile("|".join(map(re.escape, ordered))) if ordered else _NOTHING
        object.__setattr__(self, "finder", finder)


_NOTHING = re.compile(r"(?!)")


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


def _substitute(line: str, macro: Macro, values: list[str], limit: int = _MAX_LINE) -> str:
    # One regex search per substitution, and the line built once: a search
    # per parameter and a new line per substitution cost occurrences x
    # parameters x line length (a minute for 25 uses of a macro of 1,000
    # parameters named 1,100 times).
    index_of = macro.parameters.index
    done: list[str] = []  # the line before rest[pending:], final
    done_length = 0
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
        if done_length + len(rest) - pending - len(parameter) + len(inserted) >= limit:
            # An @parameter whose value holds it grows for ever; httpd stops here.
            raise MacroError("cannot substitute, buffer size too small")
        done.append(rest[pending:start])
        done.append(value if inserted is value else inserted[: len(value)])
        done_length += start - pending + len(value)
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


def secret_parameters(
    macro: Macro,
    secret_of: Callable[[str], set[int]],
    resolve: Callable[[str], str] = str,
    secret_anywhere: Callable[[], set[int]] = set,
) -> set[int]:
    """The indexes of the parameters ``macro`` puts where a secret is: directly,
    through a ``Use`` of another macro (``secret_of(name)``: that macro's; a
    name written ``${NAME}`` is ``resolve``d; one made of a parameter may be
    any macro's, ``secret_anywhere``), or through a ``Define`` of the body
    whose ``${NAME}`` the body puts there."""
    found: set[str] = set()
    # Macros the body defines (a Use of one, later in the body, is of it).
    local = _defined_in_body(macro)
    if local:
        outer_secret_of = secret_of
        local_secrets: dict[str, set[int]] = {}

        def secret_of(name: str) -> set[int]:
            if name in local_secrets:
                return local_secrets[name]
            return outer_secret_of(name)

        for nested in local:
            local_secrets[nested.name] = secret_parameters(
                nested, secret_of, resolve, secret_anywhere
            )
    # Define NAME ...$p... in the body: ${NAME} -> the parameters in its value.
    defined: dict[str, set[str]] = {}
    for _number, text, _file in macro.body:
        name, rest = first_word(text)
        if name.lower() == "define":
            words = split_words(rest)
            held = {p for p in macro.parameters if any(p in word for word in words[1:])}
            if len(words) > 1 and held:
                defined["${" + words[0] + "}"] = held
    references = {*macro.parameters, *defined}
    for _number, text, _file in macro.body:
        name, rest = first_word(text)
        key = name.lower().lstrip("<").rstrip(">")
        if key == "use":
            words = split_words(rest)
            if not words:
                continue
            if any(parameter in words[0] for parameter in macro.parameters):
                inner = secret_anywhere()
            else:
                inner = secret_of(resolve(words[0]).lower())
            for index in inner:
                if index + 1 < len(words):
                    found.update(p for p in references if p in words[index + 1])
        elif "@" in text or is_secret_directive(key):
            found |= references_in_secrets(key, split_words(rest), references)
    for reference in found & defined.keys():
        found |= defined[reference]
    return {index for index, parameter in enumerate(macro.parameters) if parameter in found}


def _secret_by_values(
    macro: Macro, values: list[str], expansion: list[tuple[int, str, str]]
) -> set[int]:
    """The indexes of the parameters whose values a line of this expansion
    hides as a secret (the reader's rule on the expanded words): the value
    is gone from the words once hidden."""
    found: set[int] = set()
    if len(values) != len(macro.parameters):
        return found
    for (_number, text, _file), (_, written, _) in zip(expansion, macro.body, strict=True):
        here = [
            index
            for index, parameter in enumerate(macro.parameters)
            if parameter in written and len(values[index]) >= MIN_HIDDEN_VALUE
        ]
        if not here:
            continue
        name, rest = first_word(text)
        key = name.lower().lstrip("<").rstrip(">")
        if "@" not in text and not is_secret_directive(key):
            continue
        words = tuple(split_words(rest))
        redacted = redact_arguments(key, words)
        if redacted == words:
            continue
        kept = " ".join(redacted)
        found.update(index for index in here if values[index] not in kept)
    return found


def _defined_in_body(macro: Macro) -> list[Macro]:
    """The macros ``macro``'s body defines at its own level, in order."""
    found: list[Macro] = []
    body = macro.body
    index = 0
    while index < len(body):
        number, text, file = body[index]
        index += 1
        name, rest = first_word(text)
        if name.lower() != "<macro":
            continue
        depth = 1
        inner: list[tuple[int, str, str]] = []
        while index < len(body) and depth:
            line = body[index]
            index += 1
            key = first_word(line[1])[0].lower()
            depth += (key == "<macro") - (key.rstrip(">") == "</macro")
            if depth:
                inner.append(line)
        try:
            inner_name, parameters = parse_macro_header(rest)
        except MacroError:
            continue
        found.append(Macro(inner_name, parameters, tuple(inner), file, number))
    return found


def _names_a_macro_by_variable(macro: Macro) -> bool:
    """Whether a ``Use`` of ``macro``'s body names its macro by a ``${NAME}``."""
    return any(
        first_word(text)[0].lower() == "use" and "${" in first_word(first_word(text)[1])[0]
        for _number, text, _file in macro.body
    )


def used_macro_names(macro: Macro, resolve: Callable[[str], str] = str) -> list[str]:
    """The names of the macros ``macro``'s body uses, lower-cased."""
    names = []
    for _number, text, _file in macro.body:
        name, rest = first_word(text)
        if name.lower() == "use":
            words = split_words(rest)
            if words:
                names.append(resolve(words[0]).lower())
    return names


def expand_macro(macro: Macro, raw_args: str) -> list[tuple[int, str, str]]:
    """Body lines of ``Use`` with the values of ``raw_args`` substituted."""
    values = split_words(raw_args)[1:]
    if len(values) != len(macro.parameters):
        raise MacroError(
            f"macro '{macro.name}' (defined on line {macro.line} of \"{macro.file}\") used "
            f"with {len(values)} arguments instead of {len(macro.parameters)}"
        )
    return [(number, _substitute(text, macro, values), file) for number, text, file in macro.body]


class MacroTable:
    """The macros defined so far, and the three directives that use the table."""

    def __init__(self, variables: Variables | None = None) -> None:
        # The Defines: ${NAME}s as they read now (a Use's macro name, the text
        # an expansion's line is read as), and where secrets go.
        self.variables = variables
        self.resolve: Callable[[str], str] = variables.resolved if variables is not None else str
        # Macros defined or removed so far: secret parameters worked out
        # before are those of the macros as they were (with the Defines).
        self.generation = 0
        # What _note_secrets keeps in all (texts of lines), and what checks
        # the load's bounds (the evaluator's guard) between Uses.
        self.kept_characters = 0
        self.check: Callable[[str, int], None] | None = None
        self._anywhere: set[int] | None = None
        self.macros: dict[str, Macro] = {}
        self.defined_any = False
        self.expanded_lines = 0
        self.expanded_characters = 0
        # `Use` lines passing a value a macro puts where a secret is (a URL's
        # password): `fix` leaves their files out. Parameters per macro, kept.
        self.secret_use_lines: set[tuple[str, int]] = set()
        # The macros some Use expanded, by place: their body lines are where
        # a fix of what they built would go, shared by every Use.
        self.used: dict[tuple[str, int], Macro] = {}
        self._secret_parameters: dict[tuple[str, str, int], set[int]] = {}
        # What the cache holds: the macros' generation, the Defines' changes,
        # and the places whose answer read a ${NAME}.
        self._cache_generation = 0
        self._dynamic_changes = 0
        self._dynamic: set[tuple[str, str, int]] = set()
        # Where a Use put a secret argument: (file, line) of the body line ->
        # the text expanded -> that text with the placeholder there (None if
        # it cannot be built), and the values; hidden once the walk judged
        # the lines (secret_hiding.hide_macro_secrets). And every such value,
        # for error lines and notes.
        self.secret_expansions: dict[
            tuple[str, int], dict[str, tuple[str | None, frozenset[str]]]
        ] = {}
        self.secret_values: set[str] = set()

    def _secret_parameter_indexes(self, macro: Macro) -> set[int]:
        """``secret_parameters`` of ``macro``, the macros it uses worked out first.

        Depth first with a stack of its own: a chain of 3,000 macros each
        using the next is a configuration httpd accepts. Kept until a macro
        is defined or removed; those whose answer reads a ``${NAME}`` (a Use
        naming its macro so, or using such a macro), until a Define changes.
        """
        cache = self._secret_parameters
        changes = self.variables.changes if self.variables is not None else 0
        if self._cache_generation != self.generation:
            cache.clear()
            self._dynamic.clear()
            self._anywhere = None
            self._cache_generation = self.generation
        if self._dynamic_changes != changes:
            for stale in self._dynamic:
                cache.pop(stale, None)
            self._dynamic.clear()
            self._dynamic_changes = changes

        def place(of: Macro) -> tuple[str, str, int]:
            return (of.name, of.file, of.line)

        def known_of(name: str) -> set[int]:
            inner = self.macros.get(name)
            return cache.get(place(inner), set()) if inner is not None else set()

        stack: list[tuple[Macro, bool]] = [(macro, False)]
        while stack:
            current, ready = stack.pop()
            if ready:
                cache[place(current)] = secret_parameters(
                    current, known_of, self.resolve, self._secret_anywhere
                )
                used = [self.macros.get(name) for name in used_macro_names(current, self.resolve)]
                if _names_a_macro_by_variable(current) or any(
                    inner is not None and place(inner) in self._dynamic for inner in used
                ):
                    self._dynamic.add(place(current))
                continue
            if place(current) in cache:
                continue
            cache[place(current)] = set()  # a macro using itself adds nothing
            stack.append((current, True))
            for name in used_macro_names(current, self.resolve):
                inner = self.macros.get(name)
                if inner is not None and place(inner) not in cache:
                    stack.append((inner, False))
        return cache[place(macro)]

    def _secret_anywhere(self) -> set[int]:
        """The parameter indexes any macro defined now puts where a secret is:
        what a Use naming its macro by a parameter (``Use $m $pw``) may pass.
        Worked out once per state of the macros (asked again while working it
        out, what is known so far)."""
        if self._anywhere is not None and self._cache_generation == self.generation:
            return self._anywhere
        found: set[int] = set()
        self._anywhere = found
        for macro in list(self.macros.values()):
            found |= self._secret_parameter_indexes(macro)
        return found

    def used_body_lines(self) -> set[tuple[str, int]]:
        """(file, line) of each body line of a macro some Use expanded."""
        return {(file, number) for macro in self.used.values() for number, _, file in macro.body}

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
            self.generation += 1
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
            self.generation += 1
            return index
        macro = self.macros.get(name)
        if macro is None:
            raise MacroError(f"macro '{name}' undefined")
        if name in expanding:
            raise MacroError(f"recursive use of macro '{name}' is invalid")
        secret = self._secret_parameter_indexes(macro)
        if secret:
            if self.check is not None:  # what _note_secrets does per Use is bounded
                self.check(where, number)
            self.secret_use_lines.add((where, number))
            self._note_secret_references(where, number, secret)
        self.used[(macro.file, macro.line)] = macro
        self.expanded_lines += len(macro.body)
        if self.expanded_lines > MAX_EXPANDED_LINES:
            raise MacroError(f"macros expand to more than {MAX_EXPANDED_LINES} lines")
        expansion = expand_macro(macro, rest)
        # Where an argument makes a line a secret's only with this Use's
        # values (?$n=$v with n a "token", Define $n $v with n a password's name).
        placed = _secret_by_values(macro, split_words(rest)[1:], expansion)
        if placed - secret:
            secret = secret | placed
            if self.check is not None:
                self.check(where, number)
            self.secret_use_lines.add((where, number))
            self._note_secret_references(where, number, secret)
        if secret:
            self._note_secrets(macro, rest, secret, expansion)
        expanded = [
            (n, text.strip(" \t\r\n\f\v"), f, (*expanding, name)) for n, text, f in expansion
        ]
        self.expanded_characters += sum(len(entry[1]) for entry in expanded)
        if self.expanded_characters > MAX_EXPANDED_CHARACTERS:
            raise MacroError(
                f"macros expand to more than {MAX_EXPANDED_CHARACTERS} characters of text"
            )
        # The expansion is read like a file: blank and comment lines say nothing.
        lines[index:index] = [entry for entry in expanded if entry[1] and entry[1][0] != "#"]
        return index

    def _note_secret_references(self, where: str, number: int, secret: set[int]) -> None:
        """The ``${NAME}``s written in this Use's secret arguments hold secrets too."""
        if self.variables is None:
            return
        substituted = self.variables.substituted_at.get((where, number))
        if substituted is None:
            return
        words = split_words(substituted[0])[2:]
        for index in secret:
            if index < len(words) and "${" in words[index]:
                self.variables.secret_names.update(
                    found[1].lower() for found in REFERENCE.finditer(words[index])
                )

    def _note_secrets(
        self, macro: Macro, raw_args: str, secret: set[int], body: list[tuple[int, str, str]]
    ) -> None:
        """Keep where this Use puts its secret arguments (``secret_expansions``)."""
        values = split_words(raw_args)[1:]
        hidden = frozenset(
            values[index] for index in secret if len(values[index]) >= MIN_HIDDEN_VALUE
        )
        if not hidden:
            return
        self.secret_values |= hidden
        if self.variables is not None:
            # A Define of the body made of one (Define X $pw) holds a secret.
            self.variables.secret_values_given |= hidden
        # Every argument holding a secret's text (the same value given to an
        # @parameter too, quoted there): the placeholder in its place. The
        # longest secrets are looked for inside the others; every one is
        # matched whole (a thousand parameters: a set lookup each).
        searched = sorted(hidden, key=len, reverse=True)[:_SEARCHED_SECRETS]
        placed_values = []
        for value in values:
            if value in hidden:
                value = REDACTED_VALUE
            else:
                for secret_value in searched:
                    if secret_value in value:
                        value = value.replace(secret_value, REDACTED_VALUE)
            placed_values.append(value)
        secret_parameters = [
            parameter
            for parameter, value, placed_value in zip(
                macro.parameters, values, placed_values, strict=True
            )
            if value != placed_value
        ]
        for (number, text, file), (_, written, _) in zip(body, macro.body, strict=True):
            # Only where a secret parameter stands: the same text written
            # in the body (or put there by a ${NAME}) is no secret.
            if not any(parameter in written for parameter in secret_parameters):
                continue
            texts = self.secret_expansions.setdefault((file, number), {})
            if self.kept_characters > MAX_KEPT_CHARACTERS:
                # Past the bound, the values only: each is hidden wherever it stands.
                texts[""] = (None, hidden | texts.get("", (None, frozenset()))[1])
                continue
            try:
                # The placeholder may be longer than the values: past httpd's
                # bound, within another (an @parameter's quoting may grow).
                placed: str | None = _substitute(written, macro, placed_values, _PLACED_LINE)
            except MacroError:
                placed = None
            if placed == text:
                continue
            # As the line will be read: its ${NAME}s substituted.
            read = self.resolve(text.strip(" \t\r\n\f\v"))
            placed_read = self.resolve(placed.strip(" \t\r\n\f\v")) if placed is not None else None
            self.kept_characters += len(read) + len(placed_read or "")
            texts[read] = (placed_read, hidden)
