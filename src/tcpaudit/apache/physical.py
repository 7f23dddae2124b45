"""The reader's fastest path: a file's physical lines read as they are.

Most configuration files have no continued line, so each physical line is a
logical line. ``PhysicalLineReader._read_physical`` reads them straight from
the file's list of lines, taking what ``reader.LineReader``'s general loop
takes on its fast paths (plain lines; lines with quotes or ``${VAR}`` after
a name httpd does not run while reading), read-time directives
(``LoadModule``, ``Include``) and conditionals that hold, until a line needs
the general loop (a conditional that does not hold, a macro, a mistake);
the general loop, which first numbers every line, goes on from there.
tests/test_reader_paths.py compares the two on generated files.
"""

from __future__ import annotations

from collections.abc import Callable

from .conditions import ConditionError
from .lexer import first_word, split_words
from .memory import CHECK_EVERY_LINES
from .reader import CONDITIONALS, ESCAPED_BLANK, RAW_TEXT_KEYS, LineReader, NameEntry
from .secret_checks import worth_checking
from .secret_flows import FLOW_DIRECTIVES
from .sections import Frame, kept_depth, push_kept
from .tree import Directive
from .values import ascii_lower

__all__ = ["PhysicalLineReader"]

_SPACE = " \t\r\n\f\v"
# Lines remembered per load (see ``_read_physical``), and the longest one: a
# bound on what the memo holds (16 MiB of text at most) on any input.
_REMEMBERED_LINES = 65_536
_REMEMBERED_LINE = 256
# What the memo holds for a blank line or a comment, and ends a section
# opening's entry (reader.Remembered).
_NOTHING: tuple[()] = ()
_OPENS = True


class PhysicalLineReader(LineReader):
    """``LineReader`` with the physical-line loop (the evaluator's reader)."""

    def _read_physical(
        self,
        physical: list[str],
        file: str,
        root: list[Directive],
        stack: list[Frame],
        split: Callable[[str], list[str]],
        all_plain: bool,
    ) -> tuple[int, list[Directive]]:
        """Read physical lines until one needs the general loop.

        Takes what the general loop's fast paths take (plain lines; lines with
        quotes, ``${VAR}`` or a double backslash after a plain name httpd does
        not run while reading), and a conditional that holds, without first
        numbering every line as the general loop needs. Returns the index of
        the first line it leaves (``len(physical)`` when none) and the
        container in force there.
        """
        names = self._names
        memo = self._plain_lines
        container = root
        check_memory = self.memory.check
        for number, line in enumerate(physical, start=1):
            if not number & CHECK_EVERY_LINES:
                check_memory(file, number)
            # Vhosts repeat most of their lines word for word: a plain line is
            # read as its first reading found (reader.Remembered).
            seen = memo.get(line)
            if seen is not None:
                if len(seen) == 3:
                    container.append(Directive(seen[0], seen[1], file, number, None, seen[2]))
                elif seen:
                    container = self._remembered_section(seen, file, number, container, stack, root)
                continue
            # str.split skips the blanks strip() would drop; a blank line has
            # no words, and a comment's first word starts with '#'.
            words = split(line)
            if not words or words[0][0] == "#":
                if len(memo) < _REMEMBERED_LINES and len(line) <= _REMEMBERED_LINE:
                    memo[line] = _NOTHING
                continue
            name = words[0]
            known = names.get(name)
            if known is None:
                known = self._name_entry(name)
            if not all_plain and ('"' in line or "'" in line or "\\\\" in line or "${" in line):
                after = self._unplain_line(known, line, name, file, number, container, stack)
                if after is None:
                    return number - 1, container
                container = after
                continue
            if name[0] != "<":
                if known[0]:
                    args = tuple(words[1:])
                    # Most names never hold a secret: one test, then worth_checking.
                    if (known[3] or "@" in line) and worth_checking(known[3], line):
                        args = self._redact_and_remember(line, known, args, file, number)
                    elif known[2] in RAW_TEXT_KEYS and ESCAPED_BLANK.search(line):
                        # "a\ b": words cut at a blank its handler keeps (never remembered).
                        node = Directive(known[1], args, file, number, None, known[2])
                        self.raw_texts[id(node)] = line.strip(_SPACE)[len(name) :]
                        container.append(node)
                        continue
                    elif len(memo) < _REMEMBERED_LINES and len(line) <= _REMEMBERED_LINE:
                        # The same text makes the same node (args is a tuple,
                        # shared safely).
                        memo[line] = (known[1], args, known[2])
                    container.append(Directive(known[1], args, file, number, None, known[2]))
                    continue
                if self._run_plain(name, words, file, number, container):
                    continue
            elif name[1:2] == "/":
                raw = line.strip(_SPACE)
                if len(memo) < _REMEMBERED_LINES and len(line) <= _REMEMBERED_LINE:
                    memo[line] = (name, raw)
                container = self._close(stack, raw, name, file, number, root)
                continue
            elif known[0]:
                if len(words) > 1 and words[-1][-1] == ">":
                    parent = container
                    container = self._open_words(known, words, file, number, container, stack)
                    # Without "@" or a name that may hold a secret, nothing was redacted.
                    if (
                        not known[3]
                        and "@" not in line
                        and len(memo) < _REMEMBERED_LINES
                        and len(line) <= _REMEMBERED_LINE
                    ):
                        memo[line] = (known[1], parent[-1].args, known[2], _OPENS)
                    continue
                raw = line.strip(_SPACE)
                opened = self._open(known, raw, name, file, number, container, stack, split)
                if opened is not None:
                    container = opened
                    continue
            elif self._enter_true_conditional(name, line, file, number, stack, container):
                continue
            return number - 1, container
        return len(physical), container

    def _unplain_line(
        self,
        known: NameEntry,
        line: str,
        name: str,
        file: str,
        number: int,
        container: list[Directive],
        stack: list[Frame],
    ) -> list[Directive] | None:
        """A line with quotes, ``${VAR}`` or a double backslash, as ``_read_lines``
        takes it on its second fast path; the container after it, or None when
        the general path must read it (then nothing was done)."""
        if (
            not known[0]
            or name[:2] == "</"
            or "${" in name
            or name[0] in "\"'"
            or "\\" in name
            or (name[0] == "<" and "${" in line)
        ):
            return None
        raw = line.strip(_SPACE)
        if name[0] == "<":
            return self._open(known, raw, name, file, number, container, stack, split_words)
        substituted = self.variables.substitute(raw, file, number) if "${" in raw else raw
        words = tuple(split_words(substituted[len(name) :]))
        # The words may not show a Require or RewriteRule line's text (quotes,
        # blanks from a variable): its node is kept with that text, never remembered.
        raw_text = known[2] in RAW_TEXT_KEYS
        # Without ${VAR} (whose value a Define may change) the same text makes
        # the same node, as for plain lines.
        if (known[3] or "@" in substituted) and worth_checking(known[3], substituted):
            if substituted is raw:
                words = self._redact_and_remember(line, known, words, file, number)
            else:
                words = self._redact(known[2], words, file, number)
        elif (
            substituted is raw
            and not raw_text
            and len(self._plain_lines) < _REMEMBERED_LINES
            and len(line) <= _REMEMBERED_LINE
        ):
            self._plain_lines[line] = (known[1], words, known[2])
        node = Directive(known[1], words, file, number, None, known[2])
        container.append(node)
        if raw_text:
            self.raw_texts[id(node)] = substituted[len(name) :]
        return container

    def _remembered_section(
        self,
        seen: tuple[str, str] | tuple[str, tuple[str, ...], str, bool],
        file: str,
        number: int,
        container: list[Directive],
        stack: list[Frame],
        root: list[Directive],
    ) -> list[Directive]:
        """Open or close a section as a line of the same text did (``_open_words``
        without its redaction, which it did not need; ``_close``); the container after it."""
        if len(seen) == 4:
            name, args, key, _ = seen
            children: list[Directive] = []
            node = Directive(name, args, file, number, children, key)
            container.append(node)
            push_kept(stack, Frame(name, node, number, children), file)
            return children
        return self._close(stack, seen[1], seen[0], file, number, root)

    def _redact_and_remember(
        self, line: str, known: NameEntry, args: tuple[str, ...], file: str, number: int
    ) -> tuple[str, ...]:
        """``_redact`` the words of ``line``, remembering its node when that left
        no trace (no secret, not a directive whose values secret flows follow)."""
        redacted = self._redact(known[2], args, file, number)
        if (
            redacted is args
            and known[2] not in FLOW_DIRECTIVES
            and len(self._plain_lines) < _REMEMBERED_LINES
            and len(line) <= _REMEMBERED_LINE
        ):
            self._plain_lines[line] = (known[1], args, known[2])
        return redacted

    def _run_plain(
        self, name: str, words: list[str], file: str, number: int, container: list[Directive]
    ) -> bool:
        """Run a plain line httpd executes while reading (``LoadModule``, ``Include``...)
        as the general path does; False leaves it to that path, untouched (a
        macro's ``Use``, a name ending with ``>`` or holding a backslash)."""
        key = ascii_lower(name)
        if key in ("use", "undefmacro") or name[-1] == ">" or "\\" in name:
            return False
        # A plain line's words are what split_words gives for the rest of it.
        self._directive(name, words[1:], file, number, container)
        return True

    def _enter_true_conditional(
        self,
        name: str,
        line: str,
        file: str,
        number: int,
        stack: list[Frame],
        container: list[Directive],
    ) -> bool:
        """Enter the conditional plain ``line`` opens if it holds (``<IfModule mod_ssl.c>``).

        False leaves the line to the general loop, untouched: a conditional
        that does not hold (soaked there), ``<IfFile>`` (it reads the disk),
        one that is not a conditional or is malformed (the error is raised there).
        """
        key = ascii_lower(name)
        conditional = CONDITIONALS.get(key)
        if (
            conditional is None
            or key == "<iffile"
            or name[-1] == ">"
            or conditional[1] not in self.modules.order
        ):
            return False
        rest = first_word(line.strip(_SPACE))[1]
        try:
            holds = self._condition(key, rest, file, number)
        except ConditionError:
            return False
        if holds:
            stack.append(Frame(conditional[0], None, number, container, kept_depth(stack)))
        return holds
