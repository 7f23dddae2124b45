"""Words of a POSIX sh fragment as dash expands them, charged against the bounds.

``shell.py`` runs the commands; this module expands their words against a
``ShellState`` (``shell_state.py``): quotes, command substitutions (not
run: empty, and not known), field splitting of what unquoted expansions
gave, patterns with their quoted characters escaped, case patterns.
``shell_parameters.py`` is the other half of ``Expander``: ``$X``,
``${...}`` and tildes.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from typing import TypeVar

from ..errors import ApacheConfigError
from .shell_effects import arithmetic_names
from .shell_lexer import Word
from .shell_parameters import ParameterExpansion
from .shell_patterns import compile_pattern
from .shell_scan import (
    SIMPLE_SUBSTITUTIONS,
    closing_brace,
    closing_quote,
    closing_substitution,
    plain_expansion_end,
)
from .shell_state import (
    DEFAULT_IFS,
    MAX_EXPANSION_DEPTH,
    TRIM_WORK_PER_BYTE,
    TRIM_WORK_PER_RUN,
    WORD_WORK,
    Segment,
    ShellState,
    append_quoted_pattern,
    split_segments,
)

__all__ = ["Expander"]

# Where Expander.text has work: an expansion, and inside double quotes a backslash.
_SPECIAL_BARE = re.compile(r"[$`]")
_SPECIAL_QUOTED = re.compile(r"[$`\\]")
_T = TypeVar("_T")


# -- expansion ------------------------------------------------------------------------


class Expander(ParameterExpansion):
    """Expands the words of one line against a shell state."""

    def __init__(self, state: ShellState, file: str, line: int) -> None:
        self.state = state
        self.file = file
        self.line = line
        self.depth = 0  # ${...} being expanded, one inside another
        self.substituted = False  # a command substitution is noted on this line
        self.unknown = False  # something expanded was not known (taken as empty)
        # Values are bounded by what execve passes; a here-document's body is
        # no value (its expansion work is still charged).
        self.bounded = True
        self.assignment = False  # expanding an assignment's value (tildes after ':')
        self.continued = False  # the bare text being expanded is followed by more of its word
        self.body_failed = False  # a here-document's expansion failed
        # The pieces of the word ${X:-word} gives, for field splitting (see _used_word).
        self._inner: list[Segment] | None = None
        self._inner_used = False

    def word(self, word: Word) -> str:
        return self._expand(word, None)

    def word_pattern(self, word: Word) -> tuple[str, str]:
        """The word after quote removal, and as a pattern (what was quoted
        escaped, as dash marks it): ``'*'x*`` is ``*x*`` and ``\\*x*``."""
        segments: list[Segment] = []
        value = self._expand(word, segments)
        patterns: list[str] = []
        for text, _, quoted in segments:
            if quoted:
                append_quoted_pattern(patterns, text)
            else:
                patterns.append(text)
        return value, "".join(patterns)

    def _expand(self, word: Word, segments: list[Segment] | None) -> str:
        """The word after quote removal; ``segments`` receives its pieces (see
        ``Segment``)."""
        pieces: list[str] = []
        parts = word.parts
        if parts and parts[0][0] == "" and parts[0][1].startswith("~"):
            parts = [*self._tilde(parts[0][1], len(parts) == 1), *parts[1:]]
        for index, (kind, text) in enumerate(parts):
            # A tilde prefix running into the next (quoted) part is none: ~\~.
            self.continued = index + 1 < len(parts)
            if kind == "" and segments is not None:
                piece = self.text(text, False, segments)
            else:
                piece = text if kind == "'" else self.text(text, kind == '"')
                if segments is not None:
                    segments.append((piece, False, True))
            pieces.append(piece)
            following = parts[index + 1][0] if index + 1 < len(parts) else ""
            if not self.state.dash and kind == "" and text.endswith("$") and following:
                # bash's $'\n' quoting and $"..." translation (dash: a $ and a quote).
                self._note(f"bash's ${following}...{following} quoting is not evaluated")
        value = "".join(pieces)
        if self.bounded:
            self.state.charge(len(value), self.file, self.line)
        else:
            self.state.charge_work(len(value), self.file, self.line)
        # A word costs microseconds however short: counted as WORD_WORK bytes
        # of expansion, so a file of a million one-letter words sourced again
        # and again ends in an error, not a minute (15 MiB of "A ": 59 s).
        self.state.charge_work(WORD_WORK, self.file, self.line)
        return value

    def body(self, word: Word) -> str:
        """A here-document's body, expanded as dash expands it."""
        self.bounded = False
        try:
            return self.word(word)
        finally:
            self.bounded = True

    def fields(self, word: Word) -> list[str]:
        """The word after field splitting: what unquoted expansions gave is
        split at IFS, the rest of the word is not."""
        if not _expands_unquoted(word):
            return [self.word(word)]
        return [value for value, _ in self.fields_patterns(word)]

    def fields_patterns(self, word: Word) -> list[tuple[str, str]]:
        """The word's fields, each with its pattern (as ``word_pattern``)."""
        if not _expands_unquoted(word):
            return [self.word_pattern(word)]
        segments: list[Segment] = []
        self._expand(word, segments)
        if "IFS" in self.state.unknown or self.state.opaque is not None:
            self.unknown = True  # how it splits is not known
        return split_segments(segments, self.state.variables.get("IFS", DEFAULT_IFS))

    def text(self, text: str, quoted: bool, segments: list[Segment] | None = None) -> str:
        """``text`` expanded; ``segments`` (unquoted text only) receives its
        literal runs and its expansions' pieces."""
        if not self.state.dash and "$[" in text:
            # bash's $[...] is arithmetic (dash's a $ and a [).
            self.state.make_opaque("bash's $[...] arithmetic is not evaluated, so no value is "
                                   "known from here on", self.file, self.line)  # fmt: skip
            self.unknown = True
        if self.assignment and not quoted and ":~" in text:
            return self._assignment_tildes(text, segments)
        return self._text(text, quoted, segments)

    def _text(self, text: str, quoted: bool, segments: list[Segment] | None) -> str:
        special = _SPECIAL_QUOTED if quoted else _SPECIAL_BARE
        found = special.search(text)
        if found is None:
            if segments is not None and text:
                segments.append((text, False, False))
            return text
        out: list[str] = []
        built = 0
        index = 0
        while found is not None:
            start = found.start()
            out.append(text[index:start])
            if segments is not None and start > index:
                segments.append((text[index:start], False, False))
            char = text[start]
            if char == "\\":  # inside double quotes: escapes only these
                following = text[start + 1 : start + 2]
                out.append(following if following and following in '$`"\\\n' else "\\" + following)
                index = start + 2
            else:
                if segments is None:
                    expanded, index = self._expansion(text, start, quoted)
                else:
                    expanded, index = self._split_expansion(text, start, segments)
                out.append(expanded)
                built += len(expanded)
                if self.bounded:
                    self.state.check(built, self.file, self.line)
                else:
                    # A here-document's body: no value bound, but its work is
                    # charged as it grows (12,000 expansions of 128 KiB took 1.5 GiB).
                    self.state.charge_work(len(expanded), self.file, self.line)
            found = special.search(text, index)
        out.append(text[index:])
        if segments is not None and index < len(text):
            segments.append((text[index:], False, False))
        return "".join(out)

    def _assignment_tildes(self, text: str, segments: list[Segment] | None) -> str:
        """Unquoted text of an assignment holding ``:~``: each tilde prefix
        after a ``:`` outside expansions is HOME (``PATH=a:~/bin``)."""
        out: list[str] = []
        start = 0
        for index in _top_level_tildes(text):
            expanded = self._tilde_at(text, index, not self.continued)
            if expanded is None:
                continue
            out.append(self._text(text[start:index], False, segments))
            out.append(expanded[0])
            if segments is not None:
                segments.append((expanded[0], False, True))
            start = expanded[1]
        out.append(self._text(text[start:], False, segments))
        return "".join(out)

    def _split_expansion(self, text: str, index: int, segments: list[Segment]) -> tuple[str, int]:
        """An unquoted expansion's value and end; ``segments`` receives it
        whole, to be split, or the pieces of the word ``${X:-word}`` used."""
        inner: list[Segment] = []
        saved = self._inner, self._inner_used
        self._inner, self._inner_used = inner, False
        try:
            expanded, end = self._expansion(text, index, False)
            used = self._inner_used
        finally:
            self._inner, self._inner_used = saved
        if used:
            segments.extend(inner)
        else:
            segments.append((expanded, True, False))
        return expanded, end

    def _expansion(self, text: str, index: int, quoted: bool) -> tuple[str, int]:
        """The value of the ``$...`` or backquote at ``text[index]``, and the index
        after it; ``quoted``: it stands inside double quotes."""
        if text[index] == "`" or text.startswith("$(", index):
            self.unknown = True
            if text.startswith("$((", index):
                # Arithmetic is not evaluated: what it assigns is not known,
                # and its errors (a division by 0, a word that is no number)
                # stop dash: whether it goes on is not known.
                end = closing_substitution(text, index)
                self.state.unknown.update(arithmetic_names(text[index : end if end > 0 else None]))
                self.state.make_opaque("arithmetic is not evaluated; it may stop the shell, so "
                                       "no value is known from here on", self.file, self.line)  # fmt: skip
            if not self.substituted:  # once a line: a line may hold millions
                self.substituted = True
                self._note("command substitution is not evaluated; it is taken as empty")
            run = SIMPLE_SUBSTITUTIONS.match(text, index)
            end = run.end() if run else closing_substitution(text, index)
            end = len(text) if end < 0 else end
            # Read twice (lexed, then skipped here), a step per character: charged
            # as expansion work, so megabytes of them cost an error, not minutes.
            self.state.charge_work(2 * (end - index), self.file, self.line)
            return "", end
        if not text.startswith("${", index):
            end = plain_expansion_end(text, index)
            return self.parameter(text[index:end], quoted), end
        end = closing_brace(text, index + 2, quoted)
        # Each level scans its own text again (a character per step): charged
        # as expansion work, so a 1 MiB line nested deep costs an error, not
        # half a minute.
        self.state.charge_work(2 * (end - index), self.file, self.line)
        # Each level rescans its own text: bounded, so a line of 1 MiB costs
        # at most this many scans of it (and Python's stack is never reached).
        self.depth += 1
        if self.depth > MAX_EXPANSION_DEPTH:
            raise ApacheConfigError(
                f"parameter expansions nested more than {MAX_EXPANSION_DEPTH} deep",
                file=self.file,
                line=self.line,
            )
        try:
            return self.parameter(text[index:end], quoted), end
        finally:
            self.depth -= 1

    def pattern(self, text: str) -> str:
        """A trim's pattern (``${X#...}``) with every quoted character escaped.

        What is quoted (``\\*``, ``'*'``, ``"*"``, ``"$Y"``) matches itself;
        unquoted ``*?[``, in the text or in an unquoted ``$Y``, stay a pattern's.
        """
        out: list[str] = []
        index = 0
        length = len(text)
        tilde = self._tilde_at(text, 0) if text.startswith("~") else None
        if tilde is not None:
            out.append(_escaped(tilde[0]))
            index = tilde[1]
        while index < length:
            char = text[index]
            if char == "\\":
                out.append(text[index : index + 2] if index + 1 < length else "\\\\")
                index += 2
            elif char == "'":
                end = text.find("'", index + 1)
                end = length if end < 0 else end
                out.append(_escaped(text[index + 1 : end]))
                index = end + 1
            elif char == '"':
                end = closing_quote(text, index + 1)
                out.append(_escaped(self.text(text[index + 1 : end], True)))
                index = end + 1
            elif char in "$`":
                # ${X:-"*"} gives a quoted * (it matches itself).
                segments: list[Segment] = []
                _, index = self._split_expansion(text, index, segments)
                out.append("".join(_escaped(piece) if quoted else piece
                                   for piece, _, quoted in segments))  # fmt: skip
            else:
                out.append(char)
                index += 1
        built = "".join(out)
        self.state.check(len(built), self.file, self.line)
        return built

    def assigned(self, word: Word) -> str:
        """An assignment's value word expanded: a tilde after ``:`` is expanded too."""
        self.assignment = True
        try:
            return self.word(word)
        finally:
            self.assignment = False

    def case_matches(self, value: str, pattern: Word) -> bool:
        """Whether a case pattern matches ``value`` whole (quoted characters
        match themselves); the match is charged as a trim's step."""
        parts = pattern.parts
        if parts and parts[0][0] == "" and parts[0][1].startswith("~"):
            parts = [*self._tilde(parts[0][1], len(parts) == 1), *parts[1:]]
        written = "".join(
            _escaped(text) if kind == "'"
            else _escaped(self.text(text, True)) if kind == '"'
            else self.pattern(text)
            for kind, text in parts
        )  # fmt: skip
        if not self.state.dash and _bash_pattern(parts, written):
            self._note("bash's $'...' quoting or collating classes in a pattern are not evaluated")
        compiled = compile_pattern(written)
        data = os.fsencode(value)
        if compiled.plain is not None:
            return data == compiled.plain
        steps = len(data) + TRIM_WORK_PER_RUN * len(compiled.runs)
        self.state.charge_work(8 * len(written) + steps // TRIM_WORK_PER_BYTE, self.file, self.line)
        return compiled.matches(data)

    def tracked(self, expand: Callable[[], _T]) -> tuple[_T, bool]:
        """What ``expand`` gives, and whether it held something not known."""
        before, self.unknown = self.unknown, False
        try:
            value = expand()
            return value, self.unknown
        finally:
            self.unknown = self.unknown or before

    def not_known(self, message: str) -> None:
        """What ``message`` names is not evaluated: what is expanded is not known."""
        self._note(message)

    def _note(self, message: str) -> None:
        self.unknown = True
        self.state.notes.append_message(message, self.file, self.line)


def _top_level_tildes(text: str) -> list[int]:
    """Where ``:~`` puts a tilde outside ``${...}``, ``$(...)`` and backquotes
    (one pass: a text of many of them is read once)."""
    found: list[int] = []
    position, length = 0, len(text)
    while position < length:
        char = text[position]
        if char == "`" or text.startswith("$(", position):
            end = closing_substitution(text, position)
            if end < 0:
                break
            position = end
        elif text.startswith("${", position):
            position = closing_brace(text, position + 2, False)
        else:
            if char == "~" and position > 0 and text[position - 1] == ":":
                found.append(position)
            position += 1
    return found


def _bash_pattern(parts: list[tuple[str, str]], written: str) -> bool:
    """Whether bash reads a pattern its own way: ``$'x'`` quoting, ``[[.x.]]``,
    ``[[=x=]]`` or ``[[:word:]]`` (dash: characters)."""
    if "[[." in written or "[[=" in written or "[:word:]" in written or "[^" in written:
        return True  # collating, bash's classes, [^...] negated
    return any(
        kind == "" and text.endswith("$") and index + 1 < len(parts)
        for index, (kind, text) in enumerate(parts)
    )


def _expands_unquoted(word: Word) -> bool:
    return any(kind == "" and ("$" in text or "`" in text) for kind, text in word.parts)


def _escaped(text: str) -> str:
    return "".join(f"\\{char}" for char in text)
