"""Parameter expansion and tildes, as dash makes them: ``$X``, ``${X}``,
``${X:-w}``, ``${X-w}``, ``${X:+w}``, ``${X+w}``, ``${X:=w}``, ``${X=w}``,
``${X:?w}``, ``${X#p}``, ``${X##p}``, ``${X%p}``, ``${X%%p}``, ``${#X}``,
``~`` and ``~/``; what dash cannot read (``${A:0}``) stops it.

``ParameterExpansion`` is one half of ``shellwords.Expander``, which reads
the words around these expansions and defines the methods declared here.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TypeVar

from ..errors import ApacheConfigError
from .shell_patterns import compile_pattern, trim
from .shell_scan import NAME, closing_quote
from .shell_state import (
    BASH_VARIABLES,
    TRIM_WORK_PER_BYTE,
    TRIM_WORK_PER_RUN,
    Segment,
    ShellState,
    is_secret_variable,
)

__all__ = ["ParameterExpansion"]

_PARAMETER = re.compile(
    r"\$(?:\{(#?)([A-Za-z_][A-Za-z0-9_]*|[0-9@*#?$!-])(.*)\}|([A-Za-z_][A-Za-z0-9_]*|[0-9@*#?$!-]))",
    re.S,
)
# A glob trim tries every prefix or suffix; longer values are left as they are.
_MAX_PATTERN_TRIM = 4096
_T = TypeVar("_T")


class ParameterExpansion:
    """Expands ``$NAME``, ``${...}`` and tildes against a shell state."""

    state: ShellState
    file: str
    line: int
    depth: int  # ${...} being expanded, one inside another
    unknown: bool  # something expanded was not known
    assignment: bool  # expanding an assignment's value (tildes after ':')
    bounded: bool  # off while a here-document's body is expanded
    body_failed: bool  # a here-document's expansion failed (the shell's child stops)
    _inner: list[Segment] | None  # the pieces a ${X:-word} used gives, for splitting
    _inner_used: bool

    # Defined by shellwords.Expander, the other half.
    def text(self, text: str, quoted: bool, segments: list[Segment] | None = None) -> str:
        raise NotImplementedError

    def pattern(self, text: str) -> str:
        raise NotImplementedError

    def _expansion(self, text: str, index: int, quoted: bool) -> tuple[str, int]:
        raise NotImplementedError

    def _split_expansion(self, text: str, index: int, segments: list[Segment]) -> tuple[str, int]:
        raise NotImplementedError

    def tracked(self, expand: Callable[[], _T]) -> tuple[_T, bool]:
        raise NotImplementedError

    def _note(self, message: str) -> None:
        raise NotImplementedError

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
        if not self.state.dash and name in BASH_VARIABLES and value is None:
            # bash sets them to what no file tells (unless the file did).
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
        unset_stops = (
            self.state.nounset
            and name not in "@*"
            and (not operation or operation[:1] in "#%" or length)
        )
        if unset_stops and not_known:
            # Unset or not, which is not known: set -u may stop the shell.
            self.state.make_opaque(f"${name} under set -u, whether set or not not known, may stop "
                                   "the shell, so no value is known from here on",
                                   self.file, self.line)  # fmt: skip
        elif unset_stops and value is None:
            self._stops(f"{name}: parameter not set (set -u)")
            return ""
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
        if not_known and op in (":-", "-", ":+", "+") and _may_act(word, self.state.nounset):
            # Whether the word is expanded is not known: what it may assign or
            # stop on leaves nothing known.
            self.state.make_opaque(f"${{{name}{op}...}} of a value not known is not evaluated; its "
                                   "word may assign or stop the shell, so no value is known "
                                   "from here on", self.file, self.line)  # fmt: skip
            self.unknown = True
            return value or ""
        if op in (":-", "-"):
            return self._used_word(word, quoted) if unset_or_empty else value or ""
        if not_known and op not in (":-", "-", ":+", "+"):
            # It may stop the shell (?, a read-only name's =) or assign.
            self.state.make_opaque(f"${{{name}{op}...}} of a value not known is not evaluated; it "
                                   "may stop the shell, so no value is known from here on",
                                   self.file, self.line)  # fmt: skip
            self.unknown = True
            return value or ""
        if op in (":=", "="):
            if unset_or_empty and not NAME.fullmatch(name):
                self._stops(f"${{{name}{op}...}}: a special parameter cannot be assigned")
                return ""
            if unset_or_empty:
                assigned, unknown = self.tracked(lambda: self.word_value(word, quoted))
                self.state.may_stop_on(name, self.file, self.line)
                if name in self.state.readonly and not self.state.dash and self.bounded:
                    self.state.make_opaque(f"{name}: is read only; what bash does after is not "
                                           "evaluated, so no value is known from here on",
                                           self.file, self.line)  # fmt: skip
                    return value or ""
                if name in self.state.readonly:
                    self._stops(f"{name}: is read only")
                    return value or ""
                self.state.assign(name, assigned, unknown)
                return variables[name]
            return value or ""
        if op in (":+", "+"):
            return "" if unset_or_empty else self._used_word(word, quoted)
        if unset_or_empty:
            # ":?" and "?": the shell stops (apachectl fails, httpd never starts).
            self._stops(f"{name}: parameter not set (${{{name}{op}...}})")
            return ""
        return value or ""

    def _bad_substitution(self, shown: str) -> None:
        """dash stops at an expansion it cannot read (``${A:0}``, ``${A,,}``);
        bash reads more of them, or stops too: nothing is known from here on."""
        if self.state.dash or not self.bounded:
            self._stops(f"{shown}: a bad substitution")
            return
        self.state.make_opaque(f"{shown} is not evaluated (bash's own expansion, or a bad "
                               "substitution), so no value is known from here on",
                               self.file, self.line)  # fmt: skip
        self.unknown = True

    def _stops(self, reason: str) -> None:
        """The shell stops here; in a here-document's body (``bounded`` off)
        only the child dash expands it in does, and bash fails that command."""
        if not self.bounded:
            self.body_failed = True
            self._note(f"{reason} in a here-document: what it makes fail is not known")
            return
        raise ApacheConfigError(
            f"{reason}: the shell sourcing the start-up files stops here",
            file=self.file,
            line=self.line,
        )

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


def _may_act(word: str, nounset: bool) -> bool:
    """Whether the word of ``${X:-word}`` may assign or stop the shell when
    expanded (an expansion inside it; under set -u, any ``$``)."""
    return "${" in word or "$(" in word or "`" in word or (nounset and "$" in word)
