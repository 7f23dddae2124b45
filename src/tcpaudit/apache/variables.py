"""``Define``/``UnDefine``, ``-D`` names and ``${VAR}`` substitution, as httpd 2.4 does them.

Owns the rules of ``set_define``/``unset_define`` and ``ap_resolve_env``
(server/core.c); ``evaluator.py`` calls them line by line.

- ``-D NAME`` and ``Define NAME`` make ``<IfDefine NAME>`` true; only
  ``Define NAME VALUE`` gives ``${NAME}`` a value (an empty word is none:
  ``Define NAME ""`` leaves ``${NAME}`` as it was);
- ``${NAME}`` is looked up in the defined values, then in httpd's environment;
  an undefined one is left as written, with a warning (a note here) unless the
  name holds a ``:`` (expressions such as ``${SSL:...}``); one pass, whole line;
- a name holding ``:`` cannot be defined.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ..errors import ApacheConfigError
from ..provenance import Note
from .lexer import first_word, split_words
from .secret_checks import is_secret_directive, secret_check, worth_checking
from .secret_words import close_over, references_in_secrets
from .shell_state import is_secret_variable

__all__ = ["REFERENCE", "Variables", "references"]

# A ${NAME}: the name runs to the next '}' (ap_resolve_env).
REFERENCE = re.compile(r"\$\{([^}]*)\}")


def references(line: str) -> list[str]:
    """The names of ``line``'s ``${NAME}``s, as ap_resolve_env finds them (a name
    runs to the next '}'). Searched only up to the last '}': from each '${'
    after it the pattern would scan to the end of the line in vain (a line
    of 40,000 '${' took 35 s)."""
    return REFERENCE.findall(line, 0, line.rfind("}") + 1)


# What ${VAR} substitution may add to a whole configuration: as much as one
# file may hold. Define chains (a=${b}${b}...) and a self-referencing Define in
# a recursive include otherwise double the text at every step.
MAX_SUBSTITUTED_BYTES = 64 * 1024 * 1024
# Shorter values of secret Defines are not hidden in error lines (see secret_values).
MIN_HIDDEN_VALUE = 4
# What Variables.resolved builds at most (mod_macro's lines are 8 KiB).
MAX_RESOLVED = 64 * 1024
# Undefined names noted one by one (each at its first use); the rest are counted.
MAX_UNDEFINED_NOTED = 100


@dataclass(slots=True)
class _Uses:
    file: str  # where the first use is
    line: int
    uses: int = 1


class Variables:
    """The names and values in force while httpd reads its files."""

    def __init__(self, defines: Iterable[str], environment: Mapping[str, str]) -> None:
        # -D names are kept as given, repeats included: httpd's main.c pushes each
        # one, and UnDefine removes only the first it finds (unset_define), so
        # `-D X -D X` and `UnDefine X` leave X defined (differential, apache2 2.4.71).
        # httpd's array is searched on every Define; here each entry has a
        # serial number, so 100,000 names cost no quadratic time.
        self._entries: dict[int, str] = {}  # serial -> name, in httpd's array order
        self._serials: dict[str, deque[int]] = {}  # name -> its entries' serials
        self._next_serial = 0
        for name in defines:
            self._push(name)
        # Defined values by name lower-cased: httpd keeps them in an apr table,
        # whose keys match whatever their case (`Define pw x` gives ${PW} "x"),
        # while <IfDefine> searches the -D/Define array with strcmp.
        self.values: dict[str, str] = {}
        self.environment = dict(environment)
        # name -> its first use and how many: httpd warns at every
        # use; a line of 2,000 uses repeated 1,000 times was 2 million notes.
        self._undefined: dict[str, _Uses] = {}
        self._unnoted: _Uses | None = None  # uses of names past the limit
        self.substituted = 0
        # Names whose ${NAME} stands where a secret is (http://user:${PW}@host/):
        # their values are secrets, so `fix` leaves out the files defining them.
        self.secret_names: set[str] = set()
        # (file, line) -> the line before substitution, and the lower-cased
        # names substituted in it with their values.
        self.substituted_at: dict[tuple[str, int], tuple[str, dict[str, str]]] = {}
        self._define_lines: dict[str, list[tuple[str, int]]] = {}
        self._define_uses: dict[str, set[str]] = {}  # Define A ${B}: A -> {B}
        # Values of secrets given elsewhere (a macro's secret arguments): a
        # name holding one holds a secret (names_holding_secrets).
        self.secret_values_given: set[str] = set()
        self.changes = 0  # Define and UnDefine lines applied (what resolved reads changes)

    def resolved(self, text: str) -> str:
        """``text`` with each ``${NAME}`` known now replaced by its value, and
        nothing noted or counted (``substitute`` reads a line; this only looks);
        as it is when that would pass MAX_RESOLVED characters (a line of a
        thousand ``${B}`` of a MiB each is gigabytes)."""
        if "${" not in text:
            return text
        # Up to the last "}" only: a "${" with none after it would be tried
        # to the end of the text, each in turn (see references).
        found = [
            (match, self._known(match[1]))
            for match in REFERENCE.finditer(text, 0, text.rfind("}") + 1)
        ]
        if len(text) + sum(len(known) for _, known in found if known is not None) > MAX_RESOLVED:
            return text
        pieces: list[str] = []
        done = 0
        for match, known in found:
            pieces += (text[done : match.start()], match[0] if known is None else known)
            done = match.end()
        return "".join(pieces) + text[done:]

    def _known(self, name: str) -> str | None:
        """What ``${name}`` reads: a Define (whatever the case), else the environment."""
        known = self.values.get(name.lower())
        return known if known is not None else self.environment.get(name)

    def value_of(self, name: str) -> str | None:
        """The value ``Define`` gave ``name`` (matched whatever its case), or None."""
        return self.values.get(name.lower())

    @property
    def defines(self) -> list[str]:
        """The defined names in httpd's order, repeats included."""
        return list(self._entries.values())

    def is_defined(self, name: str) -> bool:
        """Whether ``<IfDefine name>`` holds."""
        return name in self._serials

    def _push(self, name: str) -> None:
        self._entries[self._next_serial] = name
        self._serials.setdefault(name, deque()).append(self._next_serial)
        self._next_serial += 1

    def substitute(self, line: str, file: str, number: int) -> str:
        """Replace every ``${NAME}`` of a line, once."""
        if "${" not in line:
            return line

        values, environment = self.values, self.environment
        # What REFERENCE finds, found with str.find (a line holds one or two):
        # each "${" up to the first "}" after it, searched up to the last "}"
        # (see references). No "}" after a "${" means none after a later one.
        end = line.rfind("}") + 1
        found: list[tuple[int, int, str | None]] = []  # start, close, value
        grown = 0
        position = line.find("${", 0, end)
        while position >= 0:
            close = line.find("}", position + 2, end)
            if close < 0:
                break
            name = line[position + 2 : close]
            # Most trees define no value (Debian's names come from envvars).
            value = values.get(name.lower()) if values else None
            if value is None:
                value = environment.get(name)
            if value is not None:
                grown += len(value)
            found.append((position, close, value))
            position = line.find("${", close + 1, end)
        # Check the size before building the line: the result may be huge.
        self.substituted += grown
        if self.substituted > MAX_SUBSTITUTED_BYTES:
            raise ApacheConfigError(
                f"${{VAR}} substitution produces more than {MAX_SUBSTITUTED_BYTES} bytes",
                file=file,
                line=number,
            )
        self._note_secret_uses(line)
        given = {line[position + 2 : close].lower(): value for position, close, value in found
                 if value is not None}  # fmt: skip
        if given:
            self.substituted_at[(file, number)] = (line, given)
        pieces: list[str] = []
        done = 0
        for position, close, value in found:
            pieces.append(line[done:position])
            if value is None:
                name = line[position + 2 : close]
                if ":" not in name:
                    self._note_undefined(name, file, number)
                value = line[position : close + 1]
            pieces.append(value)
            done = close + 1
        pieces.append(line[done:])
        return "".join(pieces)

    def _note_secret_uses(self, line: str) -> None:
        words = line.split(None, 2)
        if not words:
            return
        if words[0].lower() == "define" and len(words) > 2:
            # Define A ${B}: if A's value stands where a secret is, so does B's.
            self._define_uses.setdefault(words[1].lower(), set()).update(
                used.lower() for used in references(words[2])
            )
        key = words[0].lower().strip("<>")
        if "@" not in line and not is_secret_directive(key):
            return
        # The loaders' first test (remembered per line): most such lines hold no secret.
        if not worth_checking(secret_check(key), line):
            return
        name, rest = first_word(line)
        key = name.lower().lstrip("<").rstrip(">")
        written = {f"${{{variable}}}" for variable in references(line)}
        found = references_in_secrets(key, split_words(rest.rstrip().rstrip(">")), written)
        self.secret_names.update(reference[2:-1].lower() for reference in found)

    def note_secret_places(self, places: Iterable[tuple[str, int]]) -> None:
        """Lines whose value is a secret's though no secret stands in their words
        (``SetEnv X ${V}`` read by a credential header): the names substituted
        there hold secrets (by use), as those in a secret's own place do."""
        for place in places:
            seen = self.substituted_at.get(place)
            if seen is not None:
                self.secret_names.update(seen[1])

    def _note_undefined(self, name: str, file: str, number: int) -> None:
        seen = self._undefined.get(name)
        if seen is not None:
            seen.uses += 1
        elif len(self._undefined) < MAX_UNDEFINED_NOTED:
            self._undefined[name] = _Uses(file, number)
        elif self._unnoted is not None:
            self._unnoted.uses += 1
        else:
            self._unnoted = _Uses(file, number)

    def secret_define_lines(self) -> list[tuple[str, int]]:
        """The ``Define`` lines giving a value to a name of ``secret_names``, or to a
        name whose value went into one (``Define A ${B}``), however deep."""
        names = close_over(self.secret_names, self._define_uses)
        return sorted(place for name in names for place in self._define_lines.get(name, ()))

    def names_holding_secrets(self) -> set[str]:
        """Lower-cased names whose value is a secret: secret-named, secret by use
        (``secret_names`` and what went into them), or holding such a value
        (``Define HOST ${PW}x``; the 256 longest values are looked for)."""
        names = close_over(self.secret_names, self._define_uses)
        names |= {name for name in self.values if is_secret_variable(name)}
        held = sorted({*(self.values[name] for name in names if name in self.values
                         and len(self.values[name]) >= MIN_HIDDEN_VALUE),
                       *self.secret_values_given}, key=len)[::-1][:256]  # fmt: skip
        if held:
            names |= {name for name, value in self.values.items()
                      if name not in names and any(secret in value for secret in held)}  # fmt: skip
        return names

    def secret_substitutions(
        self, names: set[str]
    ) -> dict[tuple[str, int], tuple[str, dict[str, str], set[str]]]:
        """(file, line) -> the line as written, the names substituted in it with
        their values, and those of them whose value is a secret (of ``names``,
        ``names_holding_secrets``; MIN_HIDDEN_VALUE characters or more)."""
        lines: dict[tuple[str, int], tuple[str, dict[str, str], set[str]]] = {}
        for place, (line, given) in self.substituted_at.items():
            secret = {name for name, value in given.items()
                      if name in names and len(value) >= MIN_HIDDEN_VALUE}  # fmt: skip
            if secret:
                lines[place] = (line, given, secret)
        return lines

    def secret_values(self, names: set[str] | None = None) -> list[str]:
        """The values of ``names`` (``names_holding_secrets`` by default; longest
        first), for an error line that would show one: a value shorter than
        MIN_HIDDEN_VALUE characters is left (it would garble the line)."""
        if names is None:
            names = self.names_holding_secrets()
        found = {self.values[name] for name in names if name in self.values}
        if self.secret_names:
            found.update(value for name, value in self.environment.items() if name.lower() in names)
        return sorted((value for value in found if len(value) >= MIN_HIDDEN_VALUE), key=len)[::-1]

    @property
    def notes(self) -> list[Note]:
        """One note per undefined name, at its first use, saying how many uses followed."""
        notes = []
        for name, seen in self._undefined.items():
            more = f" (and {seen.uses - 1} more uses)" if seen.uses > 1 else ""
            message = f"config variable ${{{name}}} is not defined{more}"
            notes.append(Note(message=message, file=seen.file, line=seen.line))
        if self._unnoted is not None:
            message = (
                f"{self._unnoted.uses} more uses of config variables that are not defined, "
                f"beyond the first {MAX_UNDEFINED_NOTED} names"
            )
            notes.append(Note(message=message, file=self._unnoted.file, line=self._unnoted.line))
        return notes

    def apply(self, key: str, args: list[str], file: str, number: int) -> None:
        """Execute ``Define`` (``key`` "define") or ``UnDefine`` ("undefine")."""
        self.changes += 1
        if len(args) not in ((1, 2) if key == "define" else (1,)):
            reason = (
                "Define takes 1-2 arguments" if key == "define" else "UnDefine takes one argument"
            )
            raise ApacheConfigError(reason, file=file, line=number)
        name = args[0]
        if ":" in name:
            raise ApacheConfigError("Variable name must not contain ':'", file=file, line=number)
        if key == "define":
            if name not in self._serials:
                self._push(name)
            # httpd passes an empty second word as no value (`*w2 ? w2 : NULL`):
            # the name is defined, ${NAME} keeps what it had (apache2 2.4.71).
            if len(args) == 2 and args[1]:
                self.values[name.lower()] = args[1]
                self._define_lines.setdefault(name.lower(), []).append((file, number))
            return
        serials = self._serials.get(name)
        if serials:
            del self._entries[serials.popleft()]
            if not serials:
                del self._serials[name]
        self.values.pop(name.lower(), None)
