"""Secret values kept out of what a load shows: error lines, notes, and the tree.

A value is a secret by its name or by its use (a ``Define`` or a ``Use``
argument that stands where a password is). The tree keeps it where httpd's
walk judges it; once judged, each line it was put into shows the
placeholder instead (``hide_in_tree`` for ``${NAME}``, ``hide_macro_secrets``
for a macro's parameters), and messages hide it and the forms a handler may
quote (``secret_values_hider``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from ..errors import ApacheConfigError
from ..provenance import Note
from .lexer import split_words
from .memory import MemoryGuard
from .secret_words import redact_arguments
from .shell_state import KNOWN_TOKEN, REDACTED_VALUE
from .tree import Directive
from .variables import REFERENCE

__all__ = [
    "MacroSecrets",
    "hide_in_tree",
    "hide_macro_secrets",
    "notes_without_secret_values",
    "secret_values_hider",
    "without_secret_values",
]

# Where a handler may cut a word it quotes: any character but a letter, a
# digit, '_' or '.' (a provider before ':', a code's words at blanks, an option
# after its sign); and httpd's one level of backslash escapes.
_SECRET_PIECES = re.compile(r"[^A-Za-z0-9_.]+")
# A piece this long is hidden (shorter ones, "pass" of "pass\\\\word1", would
# take "ProxyPass" apart in every message and say little of the secret).
_SHORTEST_PIECE = 6
_PLACEHOLDER_PIECES = frozenset(REDACTED_VALUE.lower().split("-"))


# What is searched for inside longer words (mod_socache_PIECE), longest first:
# a value holding a separator, and the longest pieces. The rest is hidden where
# it stands as a word, in one pass over the text: 20,000 values searched one by
# one in 100 notes of 20 KB took 57 s.
_SEARCHED = 1024
_WORD_RUN = re.compile(r"[A-Za-z0-9_.]+")


@dataclass(frozen=True)
class _SecretForms:
    """What of the secret values a message may show (``_secret_forms``)."""

    searched: tuple[str, ...]  # lower-cased; replaced wherever they stand
    words: frozenset[str]  # lower-cased; replaced where a whole word


def _secret_forms(values: Sequence[str]) -> _SecretForms:
    """Each value, as httpd's reading may unescape it, and its pieces of six
    characters or more, as a handler's message may quote them, in any case (a
    worker's host name is shown lower-cased)."""
    whole: set[str] = set()
    for value in values:
        whole.update((value.lower(), value.replace("\\\\", "\\").lower()))
    # Not the placeholder's own words: a value made of it (Define A ${SECRET})
    # would hide "tcpaudit" in every note.
    pieces = {piece for form in whole for piece in _SECRET_PIECES.split(form)
              if len(piece) >= _SHORTEST_PIECE} - _PLACEHOLDER_PIECES  # fmt: skip
    # A whole value that is one word is a word to look for; one holding a
    # separator is searched (first), then the longest pieces.
    separated = sorted((form for form in whole if _SECRET_PIECES.search(form)), key=len)
    searched = [*separated[::-1], *sorted(pieces, key=len, reverse=True)][:_SEARCHED]
    return _SecretForms(tuple(searched), frozenset(pieces | (whole - set(separated))))


def _replaced(text: str, lowered: str, form: str) -> str:
    """``form`` (lower-cased) replaced where ``lowered`` (``text`` lower-cased,
    of the same length) holds it."""
    kept: list[str] = []
    start = 0
    found = lowered.find(form)
    while found >= 0:
        kept += (text[start:found], REDACTED_VALUE)
        start = found + len(form)
        found = lowered.find(form, start)
    kept.append(text[start:])
    return "".join(kept)


def _hidden(text: str, forms: _SecretForms) -> str:
    text = KNOWN_TOKEN.sub(REDACTED_VALUE, text)
    lowered = text.lower()
    if len(lowered) == len(text):  # lower() kept every index (no 'İ')
        for form in forms.searched:
            if form in lowered:
                text = _replaced(text, lowered, form)
                lowered = text.lower()
    else:
        for form in forms.searched:
            text = text.replace(form, REDACTED_VALUE)
    if forms.words:
        text = _WORD_RUN.sub(
            lambda word: REDACTED_VALUE if word.group().lower() in forms.words else word.group(),
            text,
        )
    return text


def secret_values_hider(values: Sequence[str]) -> Callable[[str], str]:
    """What hides ``values`` and their forms in a text (``_secret_forms``)."""
    forms = _secret_forms(values)
    return lambda text: _hidden(text, forms)


def notes_without_secret_values(notes: list[Note], values: Sequence[str]) -> list[Note]:
    """``notes`` with every value of ``values`` replaced (``Timeout ${PW}`` is noted
    with its value, read as 0), its forms too (``_secret_forms``), and every
    token of a known kind (``ghp_...``)."""
    forms = _secret_forms(values)
    hidden = []
    for note in notes:
        message = _hidden(note.message, forms)
        file = _hidden(note.file, forms) if note.file is not None else None
        changed = message != note.message or file != note.file
        hidden.append(Note(message=message, file=file, line=note.line) if changed else note)
    return hidden


def without_secret_values(error: ApacheConfigError, values: Sequence[str]) -> ApacheConfigError:
    """``error`` with every value of ``values`` (secrets by use: ``Define PW x``
    used as a URL's password, then ``Include ${PW}``), its forms too
    (``_secret_forms``: ``SSLSessionCache ${PW}`` quotes what is before a ':',
    ``Options ${PW}`` what is after a sign), and every token of a known kind
    replaced by the placeholder."""
    forms = _secret_forms(values)
    reason = _hidden(error.reason, forms)
    file = _hidden(error.file, forms) if error.file is not None else None
    if reason == error.reason and file == error.file:
        return error
    return ApacheConfigError(reason, file=file, line=error.line)


def hide_in_tree(
    root: list[Directive],
    substitutions: dict[tuple[str, int], tuple[str, dict[str, str], set[str]]],
    guard: MemoryGuard,
) -> set[tuple[str, int]]:
    """Hide in each directive the secret values a ``${NAME}`` put into its line
    (``Variables.secret_substitutions``), there only: the same text written
    as such (``http://monitor:${PW}@...`` with the password ``monitor``) is
    kept. Returns the lines changed."""
    changed: set[tuple[str, int]] = set()
    for node, substitution in _nodes_at(root, substitutions, guard):
        line, given, secret = substitution
        if len(line) > _LONG_LINE:
            guard.check(node.file, node.line)
        words = _words_hidden(node, line, given, secret)
        if words != node.args:
            node.args = words
            changed.add((node.file, node.line))
    return changed


_LONG_LINE = 1 << 16
_Found = TypeVar("_Found")


def _nodes_at(
    root: list[Directive], places: Mapping[tuple[str, int], _Found], guard: MemoryGuard
) -> Iterator[tuple[Directive, _Found]]:
    """Each node of the tree (in order, without recursion) whose (file, line)
    ``places`` holds, with what it holds there; the load's bounds checked
    every 4,096 nodes."""
    stack = list(reversed(root))
    count = 0
    while stack:
        node = stack.pop()
        count += 1
        if not count & 0xFFF:
            guard.check(node.file, node.line)
        if node.children:
            stack.extend(reversed(node.children))
        found = places.get((node.file, node.line))
        if found is not None:
            yield node, found


def _values_replaced(word: str, values: Iterable[str]) -> str:
    """``word`` with each of ``values``, in turn, as the placeholder."""
    for value in values:
        if value in word:
            word = word.replace(value, REDACTED_VALUE)
    return word


def _words_hidden(
    node: Directive, line: str, given: dict[str, str], secret: set[str]
) -> tuple[str, ...]:
    """``node``'s words with each secret ``${NAME}``'s value as the placeholder:
    each word of the line as written substituted again, then what the reader
    hid in them hidden again (a URL's password); a line whose words a value
    cut apart has the whole secret value replaced wherever it stands."""
    written = _argument_words(node, line)
    if len(written) != len(node.args):
        values = [given[name] for name in secret]
        return tuple(_values_replaced(word, values) for word in node.args)

    def valued(found: re.Match[str]) -> str:
        return given.get(found[1].lower(), found[0])

    def placed(found: re.Match[str]) -> str:
        return REDACTED_VALUE if found[1].lower() in secret else valued(found)

    as_valued = tuple(REFERENCE.sub(valued, word) if "${" in word else word for word in written)
    as_placed = tuple(REFERENCE.sub(placed, word) if "${" in word else word for word in written)
    if as_valued == node.args:
        return as_placed
    # The reader hid a secret in these words (redact_arguments): hidden again.
    return redact_arguments(node.key, as_placed)


# (file, line) of a macro body line -> each text a Use expanded it to that
# holds a secret argument -> that text with the placeholder for the secret
# arguments, and their values.
MacroSecrets = dict[tuple[str, int], dict[str, tuple[str | None, frozenset[str]]]]


def _argument_words(node: Directive, line: str) -> list[str]:
    """The arguments ``line`` gives ``node`` as its words are split (a section
    opener's '>' taken off)."""
    written = split_words(line)
    if node.children is not None and written:
        written[-1] = written[-1].removesuffix(">")
        written = [word for word in written if word]
    return written[1:]


def hide_macro_secrets(
    root: list[Directive], expansions: MacroSecrets, guard: MemoryGuard
) -> set[tuple[str, int]]:
    """Hide in each directive a ``Use`` built the secret arguments it put
    there (a password parameter used as a vhost name too), there only: the
    line the Use expanded, its words compared, shows the placeholder where
    the parameter stood; words the reading changed (a URL's password hidden,
    a ``${NAME}`` substituted) have each secret value replaced where it
    stands. Every Use shares its body's place, so each expansion is looked
    for by its words (a table per place, built once). Returns the lines
    changed."""
    changed: set[tuple[str, int]] = set()
    tables: dict[tuple[str, int, bool, str], _HiddenWords] = {}
    for node, texts in _nodes_at(root, expansions, guard):
        key = (node.file, node.line, node.children is not None, node.key)
        table = tables.get(key)
        if table is None:
            table = tables[key] = _HiddenWords(node, texts)
            guard.check(node.file, node.line)
        words = table.hidden(node.args)
        if words != node.args:
            node.args = words
            changed.add((node.file, node.line))
    return changed


class _HiddenWords:
    """For one place of a macro body: the words each Use's expansion gives a
    directive there (and after the reader's own hiding) -> those words with
    the secret arguments' placeholder; and every secret value put there."""

    def __init__(self, node: Directive, texts: dict[str, tuple[str | None, frozenset[str]]]):
        self.words: dict[tuple[str, ...], tuple[str, ...]] = {}
        for text, (placed, _values) in texts.items():
            if placed is None:
                continue
            valued = tuple(_argument_words(node, text))
            words = tuple(_argument_words(node, placed))
            if len(words) != len(valued):
                continue
            self.words.setdefault(valued, words)
            # The reader hid a secret in these words (a URL's password): hidden again.
            self.words.setdefault(
                redact_arguments(node.key, valued), redact_arguments(node.key, words)
            )
        self.values = frozenset(value for _, found in texts.values() for value in found)
        # Looked for inside words: the longest (a place where thousands of
        # Uses put thousands of secrets would be searched for each).
        self.searched = sorted(self.values, key=len, reverse=True)[:_SEARCHED_VALUES]

    def hidden(self, args: tuple[str, ...]) -> tuple[str, ...]:
        found = self.words.get(args)
        if found is not None:
            return found
        return tuple(
            REDACTED_VALUE if word in self.values else _values_replaced(word, self.searched)
            for word in args
        )


_SEARCHED_VALUES = 256
