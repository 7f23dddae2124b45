"""Words of a POSIX sh fragment: parameter expansion, charged against the bounds.

``shell.py`` runs the commands; this module expands ``$X``, ``${X}``, ``${X:-w}``, ``${X-w}``, ``${X:+w}``, ``${X+w}``,
``${X:=w}``, ``${X#p}``, ``${X##p}``, ``${X%p}``, ``${X%%p}`` and ``${#X}``
against a ``ShellState`` (``shell_state.py``, re-exported here), charging
every value against its bounds.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from typing import TypeVar

from ..errors import ApacheConfigError
from .shell_effects import arithmetic_names
from .shell_lexer import Word
from .shell_patterns import compile_pattern, trim
from .shell_scan import (
    NAME,
    SIMPLE_SUBSTITUTIONS,
    closing_brace,
    closing_quote,
    closing_substitution,
    plain_expansion_end,
)
from .shell_state import (
    BASH_VARIABLES,
    DEFAULT_IFS,
    MAX_EXPANSION_DEPTH,
    TRIM_WORK_PER_BYTE,
    TRIM_WORK_PER_RUN,
    WORD_WORK,
    Segment,
    ShellState,
    is_secret_variable,
    split_segments,
)

__all__ = ["Expander"]

# Where Expander.text has work: an expansion, and inside double quotes a backslash.
_SPECIAL_BARE = re.compile(r"[$`]")
_SPECIAL_QUOTED = re.compile(r"[$`\\]")
# A glob trim tries every prefix or suffix; longer values are left as they are.
_MAX_PATTERN_TRIM = 4096
_T = TypeVar("_T")


# -- expansion ------------------------------------------------------------------------


_PARAMETER = re.compile(
    r"\$(?:\{(#?)([A-Za-z_][A-Za-z0-9_]*|[0-9@*#?$!-])(.*)\}|([A-Za-z_][A-Za-z0-9_]*|[0-9@*#?$!-]))",
    re.S,
)


class Expander:
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
        return value, "".join(
            _pattern_text(text) if quoted else text for text, _, quoted in segments
        )

    def _expand(self, word: Word, segments: list[Segment] | None) -> str:
        """The word after quote removal; ``segments`` receives its pieces (see
        ``Segment``)."""
        pieces: list[str] = []
        parts = word.parts
        if parts and parts[0][0] == "" and parts[0][1].startswith("~"):
            parts = [*self._tilde(parts[0][1], len(parts) == 1), *parts[1:]]
        for index, (kind, text) in enumerate(parts):
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
            expanded = self._tilde_at(text, index)
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

    def _used_word(self, word: str, quoted: bool) -> str:
        """The word of ``${X:-word}`` or ``${X:+word}`` as the expansion's
        value: unquoted, its own quotes keep their pieces from splitting and
        matching (``${X:-"a b"}`` is one field)."""
        inner, self._inner = self._inner, None
        if inner is None or quoted:
            return self.word_value(word, quoted)
        self._inner_used = True
        return self.word_value(word, quoted, inner)

    def word_value(self, text: str, quoted: bool, segments: list[Segment] | None = None) -> str:
        """The word of ``${X:-word}`` (and ``-``, ``:+``, ``+``, ``:=``, ``=``, ``:?``,
        ``?``) after quote removal, as dash gives it: outside double quotes,
        quotes and backslashes quote; inside (``quoted``), single quotes are
        characters and a backslash escapes only ``$ ` " \\ }`` and a newline.
        ``segments`` (unquoted only) receives its pieces: its own text and
        expansions to be split, what it quotes not."""
        if not self.state.dash and ("$'" in text or '$"' in text):
            self._note("bash's $'...' or $\"...\" quoting inside ${...} is not evaluated")
        out: list[str] = []
        index = 0
        length = len(text)
        literal_from = len(out)  # out[literal_from:] is unquoted text not yet in segments
        while index < length:
            char = text[index]
            if (
                char == "~"
                and not quoted
                and (index == 0 or (self.assignment and text[index - 1] == ":"))
                and (tilde := self._tilde_at(text, index)) is not None
            ):
                if segments is not None and len(out) > literal_from:
                    segments.append(("".join(out[literal_from:]), True, False))
                out.append(tilde[0])
                if segments is not None:
                    segments.append((tilde[0], False, True))
                index = tilde[1]
                literal_from = len(out)
                continue
            if segments is not None and (char in "\\'\"$`") and len(out) > literal_from:
                segments.append(("".join(out[literal_from:]), True, False))
            if char == "\\":
                following = text[index + 1 : index + 2]
                if not following:
                    out.append(char)
                elif not quoted or following in '$`"\\}\n':
                    out.append("" if following == "\n" else following)
                else:
                    out.append(char + following)
                index += 2
                if segments is not None:
                    segments.append((out[-1], False, True))
            elif char == "'" and not quoted:
                end = text.find("'", index + 1)
                end = length if end < 0 else end
                out.append(text[index + 1 : end])
                index = end + 1
                if segments is not None:
                    segments.append((out[-1], False, True))
            elif char == '"':
                end = closing_quote(text, index + 1)
                out.append(self.text(text[index + 1 : end], True))
                index = end + 1
                if segments is not None:
                    segments.append((out[-1], False, True))
            elif char in "$`":
                if segments is None:
                    expanded, index = self._expansion(text, index, quoted)
                else:
                    expanded, index = self._split_expansion(text, index, segments)
                out.append(expanded)
            else:
                out.append(char)
                index += 1
                continue
            literal_from = len(out)
        if segments is not None and len(out) > literal_from:
            segments.append(("".join(out[literal_from:]), True, False))
        value = "".join(out)
        self.state.check(len(value), self.file, self.line)
        return value

    def parameter(self, piece: str, quoted: bool = False) -> str:
        match = _PARAMETER.fullmatch(piece)
        if match is None:
            if piece.startswith("${"):
                self._bad_substitution("${...}")
            return piece
        length, name, operation, bare = match.groups()
        name, operation = name or bare, operation or ""
        if name.isdigit() and operation[:1].isdigit():
            digits = len(operation) - len(operation.lstrip("0123456789"))
            name, operation = name + operation[:digits], operation[digits:]  # ${10}
        if length and operation:
            self._bad_substitution(f"${{#{name}...}}")
        if not self.state.dash and quoted and "'" in operation:
            # bash reads single quotes as quotes there (dash as characters);
            # one left open stops it.
            self.state.make_opaque(f"${{{name}...}} holding a single quote inside double quotes "
                                   "is not evaluated (bash reads it as a quote), so no value is "
                                   "known from here on", self.file, self.line)  # fmt: skip
        variables = self.state.variables
        before, self.unknown = self.unknown, False
        value = variables.get(name) if NAME.fullmatch(name) else self._special(name)
        if not self.state.dash and name in BASH_VARIABLES:
            self._note(f"${name} is set by bash itself; its value is not known")
        if value is None and name == "PPID":
            # dash sets it to its parent's process number, which no file tells.
            self._note("$PPID (a process number) is not known; it is taken as unset")
        if name in self.state.unknown or (self.state.opaque and NAME.fullmatch(name)):
            self.unknown = True
        elif value is not None and is_secret_variable(name):
            # It holds a placeholder, never the secret: what depends on it is not known.
            self._note(f"${name} holds a secret, which tcpaudit does not keep: what depends "
                       "on its value is not known")  # fmt: skip
        # Whether it is set is not known: no ':=' assigns, no ':?' or set -u stops.
        not_known, self.unknown = self.unknown, self.unknown or before
        if (
            value is None
            and self.state.nounset
            and not not_known
            and name not in "@*"
            and (not operation or operation[:1] in "#%" or length)
        ):
            raise ApacheConfigError(
                f"{name}: parameter not set (set -u): the shell sourcing the start-up files "
                "stops here",
                file=self.file,
                line=self.line,
            )
        if length:
            # dash counts bytes, not characters (${#Y} of "é" is 2).
            return str(len((value or "").encode("utf-8", "surrogateescape")))
        if not operation:
            return value or ""
        for op in (":-", ":=", ":+", ":?", "-", "=", "+", "?", "##", "#", "%%", "%"):
            if operation.startswith(op):
                if op[0] in "#%":
                    if value is None and not not_known:
                        return ""  # the pattern of an unset name is not expanded
                    if not_known and "${" in operation:
                        # Whether its pattern is expanded (and assigns or stops) is not known.
                        self.state.make_opaque(f"${{{name}{op}...}} of a value not known is not "
                                               "evaluated, so no value is known from here on",
                                               self.file, self.line)  # fmt: skip
                        return ""
                    return self._trim(value or "", op, operation[len(op) :])
                word = operation[len(op) :]
                break
        else:
            # Its words (a pattern, a replacement) may quote a secret: not shown.
            kind = operation[:1]
            if self.state.dash:
                self._bad_substitution(f"${{{name}{kind}...}}")
            self._note(f"parameter expansion ${{{name}{kind}...}} is not evaluated")
            return ""
        unset_or_empty = value is None or (op.startswith(":") and value == "")
        # The word is expanded only where it is used, as in dash: an unused
        # ${X:+${Y:=v}} assigns nothing.
        if op in (":-", "-"):
            return self._used_word(word, quoted) if unset_or_empty else value or ""
        if not_known and op not in (":-", "-", ":+", "+"):
            self._note(f"${{{name}{op}...}} of a value not known is not evaluated")
            return value or ""
        if op in (":=", "="):
            if unset_or_empty and not NAME.fullmatch(name):
                raise ApacheConfigError(
                    f"${{{name}{op}...}}: a special parameter cannot be assigned; the shell "
                    "sourcing the start-up files stops here",
                    file=self.file,
                    line=self.line,
                )
            if unset_or_empty:
                assigned, unknown = self.tracked(lambda: self.word_value(word, quoted))
                self.state.may_stop_on(name, self.file, self.line)
                if name in self.state.readonly:
                    raise ApacheConfigError(
                        f"{name}: is read only: the shell sourcing the start-up files stops here",
                        file=self.file,
                        line=self.line,
                    )
                self.state.assign(name, assigned, unknown)
                return variables[name]
            return value or ""
        if op in (":+", "+"):
            return "" if unset_or_empty else self._used_word(word, quoted)
        if unset_or_empty:
            # ":?" and "?": the shell stops (apachectl fails, httpd never starts).
            raise ApacheConfigError(
                f"{name}: parameter not set (${{{name}{op}...}}): the shell sourcing the "
                "start-up files stops here",
                file=self.file,
                line=self.line,
            )
        return value or ""

    def _bad_substitution(self, shown: str) -> None:
        """dash stops at an expansion it cannot read (``${A:0}``, ``${A,,}``);
        bash reads more of them, or stops too: nothing is known from here on."""
        if self.state.dash:
            raise ApacheConfigError(
                f"{shown}: a bad substitution: the shell sourcing the start-up files stops here",
                file=self.file,
                line=self.line,
            )
        self.state.make_opaque(f"{shown} is not evaluated (bash's own expansion, or a bad "
                               "substitution), so no value is known from here on",
                               self.file, self.line)  # fmt: skip
        self.unknown = True

    def _tilde(self, text: str, whole: bool) -> list[tuple[str, str]]:
        """``~`` or ``~/...`` at a word's start (in an assignment, ``~:`` too):
        HOME when set, as in dash, quoted; ``~user`` is left as written, with
        a note. ``whole``: the word is this bare text alone."""
        expanded = self._tilde_at(text, 0, whole)
        if expanded is None:
            return [("", text)]
        home, end = expanded
        return [("'", home), ("", text[end:])]

    def _tilde_at(self, text: str, index: int, whole: bool = True) -> tuple[str, int] | None:
        """HOME for the tilde prefix at ``text[index]``, and where the prefix
        ends (at ``/``, in an assignment at ``:`` too); None where none stands
        (a quoted or expanded character in it, or not ``whole`` and no end)."""
        ends = "/:" if self.assignment else "/"
        end = index + 1
        while end < len(text) and text[end] not in ends:
            end += 1
        if end == len(text) and not whole:
            return None  # "~"x: the prefix goes on into a quoted part
        prefix = text[index + 1 : end]
        if any(char in prefix for char in "'\"\\$`{}"):
            return None
        if "HOME" in self.state.unknown or self.state.opaque is not None:
            self.unknown = True
        if prefix:
            self._note("~user is not expanded (the host's user database is not read)")
            return None
        home = self.state.variables.get("HOME")
        if home is None:
            if not self.state.dash:
                self._note("~ with HOME unset is the user's home directory to bash, not known")
            return None
        return home, end

    def assigned(self, word: Word) -> str:
        """An assignment's value word expanded: a tilde after ``:`` is expanded too."""
        self.assignment = True
        try:
            return self.word(word)
        finally:
            self.assignment = False

    def _special(self, name: str) -> str | None:
        """``$?``, and the parameters tcpaudit cannot know (``$1``, ``$#``, ``$$``...:
        apachectl's arguments and process), taken as unset, with a note."""
        if name == "?" and self.state.last_status is not None:
            return "0" if self.state.last_status else "2" if self.state.test_error else "1"
        self._note(f"special parameter ${name} is not known; it is taken as unset")
        return None

    def _trim(self, value: str, op: str, text: str) -> str:
        if not self.state.dash and ("$'" in text or '$"' in text or "[[" in text or "[^" in text):
            self._note("bash's $'...' quoting or collating classes in a pattern are not evaluated")
        written = self.pattern(text)
        pattern = compile_pattern(written)
        if pattern.plain is None:
            if len(value) > _MAX_PATTERN_TRIM:
                return value
            # A glob trim tries every prefix or suffix, each a step per run of the
            # pattern and a scan of the value: charged as such (and the pattern's
            # compiling too), so a file repeating one costs an error, not minutes.
            size = len(value)
            steps = (size + 1) * (size + TRIM_WORK_PER_RUN * len(pattern.runs))
            compiling = 8 * len(written)
            self.state.charge_work(compiling + steps // TRIM_WORK_PER_BYTE, self.file, self.line)
        return trim(value, op, pattern)

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


def _pattern_text(text: str) -> str:
    """Quoted text in a pattern: each character escaped but ``/``, at which
    pathname matching splits."""
    return _escaped(text).replace("\\/", "/")


def _escaped(text: str) -> str:
    return "".join(f"\\{char}" for char in text)
