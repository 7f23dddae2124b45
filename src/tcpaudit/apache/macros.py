"""mod_macro's table: ``<Macro>``, ``Use`` and ``UndefMacro`` as the reader meets them.

``evaluator.py`` decides when they apply (only while macro_module is loaded)
and parses the expanded lines in place of the ``Use`` line, in the same
section context, as httpd does. The text rules (a definition's header, a
Use's substitution) are in ``macro_text.py``; which arguments stand where a
secret is, in ``macro_secrets.py``; the table keeps where a Use put such
values, for ``secret_hiding`` to hide once the walk has judged the lines.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator

from .continuation import JoinedLine
from .lexer import first_word, split_words
from .macro_lines import BODY_LINE_BYTES, MacroFileLines, expansion_lines_read
from .macro_secrets import (
    MAX_PARAMETER_LINES,
    names_a_macro_by_variable,
    secret_by_values,
    secret_parameters,
    used_macro_names,
    values_hidden_in,
)
from .macro_text import (
    MAX_EXPANDED_CHARACTERS,
    MAX_EXPANDED_LINES,
    MAX_LINE,
    Macro,
    MacroError,
    continued,
    expand_macro,
    parse_macro_header,
    substitute,
)
from .secret_flows import FLOW_DIRECTIVES
from .sections import Line, capture_macro_body
from .shell_state import REDACTED_VALUE
from .values import ascii_lower, utf8_length
from .variables import MIN_HIDDEN_VALUE, Variables, references

__all__ = ["Macro", "MacroError", "MacroTable", "expand_macro", "parse_macro_header"]

# The lines where Uses put secrets, kept until the walk has judged them; past
# this, only the secret values are kept for those lines (hidden wherever they stand).
MAX_KEPT_CHARACTERS = 16 * 1024 * 1024
# A secret argument's text looked for inside the other arguments: the longest.
_SEARCHED_SECRETS = 16
# Macros whose secret parameters a Use naming its macro by a parameter has
# worked out; past it, every index is taken for a secret's.
MAX_MACROS_WORKED_OUT = 256
# The load's bounds are checked every so many Uses.
_CHECK_EVERY_USES = 256
# A body line with the placeholder for its secret arguments, built at most this long.
_PLACED_LINE = 16 * MAX_LINE


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
        self.most_parameters = 0  # of any macro defined (see _secret_anywhere)
        self.uses = 0
        # What the last Use's expansion left to continue on the file's lines.
        self.carried: str | None = None
        # The Use being expanded by its chain of macro names: (macro, its text,
        # file, line, expansion), for a nested line joined with its lines.
        self._active: dict[
            tuple[str, ...], tuple[Macro, str, str, int, list[tuple[int, str, str]]]
        ] = {}
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
        # Each Use of a macro whose body has a line SecretFlows follows (it may
        # copy a value where a credential header reads it): its place and the
        # enclosing Uses' (where a ${NAME} it passes on may be written), its
        # text after the name, its macro. Which arguments reach a line found a
        # secret's is known once everything is read (``arguments_reaching``).
        self._copying_uses: list[tuple[tuple[tuple[str, int], ...], str, Macro]] = []
        self._copies: dict[int, bool] = {}  # id(macro) -> whether its body may copy
        # The Use being expanded by its chain of macro names -> the places of
        # the Use lines in that chain a ${NAME} was substituted in.
        self._substituted_uses: dict[tuple[str, ...], tuple[tuple[str, int], ...]] = {}
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
                if names_a_macro_by_variable(current) or any(
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
        out, what is known so far); with more than MAX_MACROS_WORKED_OUT
        macros defined, every index (a definition between each Use would
        work them all out again each time)."""
        if self._anywhere is not None and self._cache_generation == self.generation:
            return self._anywhere
        if len(self.macros) > MAX_MACROS_WORKED_OUT:
            self._anywhere = set(range(self.most_parameters))
            return self._anywhere
        found: set[int] = set()
        self._anywhere = found
        for macro in list(self.macros.values()):
            found |= self._secret_parameter_indexes(macro)
        return found

    def _may_copy(self, macro: Macro) -> bool:
        found = self._copies.get(id(macro))
        if found is None:
            found = self._copies[id(macro)] = any(
                ascii_lower(first_word(text)[0]).lstrip("<").rstrip(">") in FLOW_DIRECTIVES
                for _number, text, _file in macro.body
            )
        return found

    def arguments_reaching(
        self, places: Collection[tuple[str, int]]
    ) -> Iterator[tuple[tuple[tuple[str, int], ...], str]]:
        """Each value a Use passes to a body line at one of ``places`` (``SetEnv
        X $v``, which a credential header reads outside the body), with the
        places of the Use and of those enclosing it."""
        if not places:
            return
        indexes: dict[int, set[int]] = {}  # id(macro) -> its parameters there
        for count, (uses, rest, macro) in enumerate(self._copying_uses):
            if self.check is not None and not count % _CHECK_EVERY_USES:
                self.check(*uses[0])
            found = indexes.get(id(macro))
            if found is None:
                texts = [text for line, text, file in macro.body if (file, line) in places]
                found = indexes[id(macro)] = {
                    index
                    for index, parameter in enumerate(macro.parameters)
                    if any(parameter in text for text in texts)
                }
            if not found:
                continue
            values = split_words(rest)[1:]  # once per Use: its line may be megabytes
            for index in found:
                if index < len(values):
                    yield uses, values[index]

    def used_body_lines(self) -> set[tuple[str, int]]:
        """(file, line) of each body line of a macro some Use expanded."""
        return {(file, number) for macro in self.used.values() for number, _, file in macro.body}

    def handle(
        self,
        key: str,
        rest: str,
        lines: list[Line],
        index: int,
        file_lines: MacroFileLines | None = None,
    ) -> int:
        """Apply ``<Macro``, ``Use`` or ``UndefMacro`` (``key``) read at ``lines[index - 1]``.

        A definition consumes its body (read again in ``file_lines``, the
        text of the file it is written in, for what the lexer does not keep);
        a use splices the expanded lines in at ``index``. Returns where
        reading goes on.
        """
        number, _raw, where, expanding = lines[index - 1]
        self.carried = None
        if key == "<macro":
            name, parameters = parse_macro_header(rest)
            body, index = capture_macro_body(lines, index, where, number)
            if file_lines is not None and not expanding:
                body = file_lines.macro_body(body, number, lines[index - 1][0], where, self.check)
            elif expanding:
                # Read from an expansion by ap_cfg_getline too: each line (as
                # joined there) and its line feed in 8,192 bytes.
                for entry in body:
                    if utf8_length(entry[1]) + 1 >= BODY_LINE_BYTES:
                        raise MacroError("macro contents error: expected token not found: </Macro>")
            self.defined_any = True
            self.generation += 1
            self.most_parameters = max(self.most_parameters, len(parameters))
            self.macros[name] = Macro(
                name,
                parameters,
                tuple((n, t, f) for n, t, f, _ in body),
                where,
                number,
                self._enclosing(expanding),
            )
            return index
        words = split_words(rest)
        name = ascii_lower(words[0]) if words else ""
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
        if name in expanding or name in self._enclosing(expanding):
            # httpd looks for "macro 'name'" in its reader's name, which holds
            # the Uses being expanded and where each of their macros was
            # defined: a macro defined in another's expansion may not use it.
            raise MacroError(f"recursive use of macro '{name}' is invalid")
        self.uses += 1
        if self.check is not None and not self.uses % _CHECK_EVERY_USES:
            self.check(where, number)  # the work of secret parameters is per Use
        secret = self._secret_parameter_indexes(macro)
        if secret:
            _hiding_bound(name, macro, secret)  # before the expansion's work
            if self.check is not None:  # what _note_secrets does per Use is bounded
                self.check(where, number)
            self.secret_use_lines.add((where, number))
            self._note_secret_references(where, number, secret)
        self.used[(macro.file, macro.line)] = macro
        # The enclosing Uses' lines a ${NAME} was substituted in: one a value
        # passed on was written as may be any of them (kept per chain, not
        # looked for at every depth: a chain of 3,000 macros took 15 s).
        enclosing = self._substituted_uses.get(expanding, ()) if expanding else ()
        chain = (*expanding, name)
        self._substituted_uses[chain] = (
            ((where, number), *enclosing)
            if self.variables is not None and (where, number) in self.variables.substituted_at
            else enclosing
        )
        if self._may_copy(macro):
            self._copying_uses.append((((where, number), *enclosing), rest, macro))
        self.expanded_lines += len(macro.body)
        if self.expanded_lines > MAX_EXPANDED_LINES:
            raise MacroError(f"macros expand to more than {MAX_EXPANDED_LINES} lines")
        expansion = expand_macro(macro, rest)
        self._active[chain] = (macro, rest, where, number, expansion)
        read, left = continued(expansion)
        # The expansion's last line as the lines after it complete it: the
        # file's next ones, or the enclosing expansion's (taken from it).
        completed = None
        taken = 0
        if left is not None and not expanding:
            if file_lines is not None:
                completed = file_lines.joined_after(number, left)
        elif left is not None:
            joined = JoinedLine(left)
            while index + taken < len(lines) and lines[index + taken][3] == expanding:
                taken += 1
                if not joined.add(lines[index + taken - 1][1]):
                    break
            if taken:
                completed = joined.text()
        # Where an argument makes a line a secret's only with this Use's
        # values (?$n=$v with n a "token", Define $n $v with n a password's name).
        placed = secret_by_values(macro, split_words(rest)[1:], expansion, self.resolve, completed)
        if placed - secret:
            secret = secret | placed
            if self.check is not None:
                self.check(where, number)
            self.secret_use_lines.add((where, number))
            self._note_secret_references(where, number, secret)
        if secret:
            _hiding_bound(name, macro, secret)
            self._note_secrets(macro, rest, secret, expansion)
        expanded = [(n, text.strip(" \t\r\n\f\v"), f, (*expanding, name)) for n, text, f in read]
        if left is not None:
            if taken and completed is not None:
                # mod_macro's reader goes on with the enclosing expansion's
                # lines: they become part of this one.
                last_taken = lines[index + taken - 1]
                del lines[index : index + taken]
                expanded.append(
                    (last_taken[0], completed.strip(" \t\r\n\f\v"), last_taken[2], expanding)
                )
                self._judge_enclosing(expanding, completed)
            elif expanding:
                # The enclosing expansion is spent: it would go on further out.
                last = expansion[-1]
                expanded.append((last[0], left.strip(" \t\r\n\f\v"), last[2], chain))
            else:
                # The last line continues on the file's next ones (macro_lines).
                self.carried = left
        self.expanded_characters += sum(len(entry[1]) for entry in expanded)
        if self.expanded_characters > MAX_EXPANDED_CHARACTERS:
            raise MacroError(
                f"macros expand to more than {MAX_EXPANDED_CHARACTERS} characters of text"
            )
        # The expansion is read like a file: blank and comment lines say nothing
        # (but in the body of a macro it defines, whose empty lines mod_macro keeps).
        lines[index:index] = expansion_lines_read(expanded)
        return index

    def _judge_enclosing(self, expanding: tuple[str, ...], text: str) -> None:
        """A line joined from a nested expansion and the enclosing one's lines
        may be a secret's with the enclosing Uses' values: those are secrets."""
        for depth in range(1, len(expanding) + 1):
            record = self._active.get(expanding[:depth])
            if record is None:
                continue
            macro, rest, where, number, expansion = record
            values = split_words(rest)[1:]
            hidden = values_hidden_in(
                text,
                {index for index, value in enumerate(values) if len(value) >= MIN_HIDDEN_VALUE},
                values,
                self.resolve,
            )
            if hidden:
                self.secret_use_lines.add((where, number))
                self._note_secret_references(where, number, hidden)
                self._note_secrets(macro, rest, hidden, expansion)

    def _enclosing(self, expanding: tuple[str, ...]) -> frozenset[str]:
        """The macros named in the reader's name while ``expanding``: those
        being expanded and, for each, those its definition was read in."""
        if not expanding:
            return frozenset()
        names = set(expanding)
        for used in expanding:
            macro = self.macros.get(used)
            if macro is not None:
                names |= macro.defined_in
        return frozenset(names)

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
                    name.lower() for name in references(words[index])
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
                placed: str | None = substitute(written, macro, placed_values, _PLACED_LINE)
            except MacroError:
                placed = None
            if placed == text:
                continue
            # As the line will be read: its ${NAME}s substituted.
            read = self.resolve(text.strip(" \t\r\n\f\v"))
            placed_read = self.resolve(placed.strip(" \t\r\n\f\v")) if placed is not None else None
            self.kept_characters += len(read) + len(placed_read or "")
            texts[read] = (placed_read, hidden)


def _hiding_bound(name: str, macro: Macro, secret: set[int]) -> None:
    """Hiding compares each secret argument with each body line: refuse past
    MAX_PARAMETER_LINES pairs."""
    if len(secret) * len(macro.body) > MAX_PARAMETER_LINES:
        raise MacroError(
            f"macro '{name}' puts {len(secret)} arguments holding secrets in "
            f"{len(macro.body)} lines: more than the {MAX_PARAMETER_LINES} "
            "argument and line pairs tcpaudit hides secrets in"
        )
