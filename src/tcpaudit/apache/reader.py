"""Read one file's lines into the tree, as httpd's ``ap_build_config`` does.

``evaluator.py`` opens the files and executes what httpd runs while reading
(includes, conditions, ``Define``, ``LoadModule``...); this module owns the
loop over a file's lines that decides, line by line, what each one is: a
directive for the tree, a section opened or closed, or something for the
evaluator to execute. It is the hot loop of a large configuration (one pass
per line, ~170,000 lines for 10,000 vhosts), so it has fast paths:

- *plain* lines (no quote, backslash or ``${``: their words are the runs of
  non-blanks) whose name httpd does not execute while reading become nodes
  directly, with ``str.split`` for words and names looked up once per
  spelling (``_name_entry``);
- lines with quotes or ``${VAR}`` after such a name are substituted and
  split without the general path's checks for conditionals and macros;
- a file whose physical lines are its logical lines (no continuation, no
  NUL) is read straight from them (``physical.py``), read-time directives
  (``LoadModule``, ``Include``) and conditionals that hold included, until
  a line needs more, such as a conditional that does not hold or a macro;
  the rest of the file then goes through the general loop
  (``_read_lines``), which first numbers every line.

Each fast path does exactly what the general path (``_line``) does for the
lines it takes: tests/test_reader_paths.py compares the two on generated
files, and the differential tests against apache2 hold both to httpd.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from itertools import islice

from ..errors import ApacheConfigError
from .conditions import ConditionError
from .directives import READ_TIME_DIRECTIVES
from .handler_modules import header_error, setenvif_error
from .lexer import (
    first_word,
    is_plain,
    logical_lines,
    plain_splitter,
    section_args,
    simple_physical_lines,
    split_words,
)
from .line_limit import line_too_long
from .macro_lines import MacroFileLines
from .macros import MacroError, MacroTable
from .memory import BYTES_PER_WORD, CHECK_EVERY_LINES, LONG_LINE_CHARACTERS, MemoryGuard
from .modules import LoadedModules
from .pcre_refusals import PatternDeadlineError, pattern_deadline
from .secret_checks import secret_check, worth_checking
from .secret_flows import FLOW_DIRECTIVES, SecretFlows
from .secret_words import redact_arguments
from .sections import Frame, Line, close_section, container_of, kept_depth, push_kept, soak
from .shell_state import REDACTED_VALUE
from .tree import Directive
from .values import ascii_lower
from .variables import Variables

__all__ = [
    "CONDITIONALS",
    "ESCAPED_BLANK",
    "RAW_TEXT_KEYS",
    "LineReader",
    "NameEntry",
    "Remembered",
]

_SPACE = " \t\r\n\f\v"
# The end of sections.soak's error for a false conditional not closed.
_SOAKED_TO_END = "> before end of configuration"
# Conditional sections and the module that registers each (core.c, mod_version.c).
# Directives whose handler reads the text after the name itself (RAW_ARGS),
# not ap_getword_conf's words: a node off the plain paths keeps that text.
RAW_TEXT_KEYS = frozenset({"require", "rewriterule", "rewritecond"})
# On a plain line, only a backslash before a blank makes such a handler's
# reading differ from the words ("a\ b" is one argument to parseargline).
ESCAPED_BLANK = re.compile(r"\\[ \t\n\v\f\r]")
CONDITIONALS = {
    "<ifmodule": ("IfModule", "core_module"),
    "<ifdefine": ("IfDefine", "core_module"),
    "<iffile": ("IfFile", "core_module"),
    "<ifdirective": ("IfDirective", "core_module"),
    "<ifsection": ("IfSection", "core_module"),
    "<ifversion": ("IfVersion", "version_module"),
}

# (fast, name kept, key kept, may hold a secret): see LineReader._name_entry.
NameEntry = tuple[bool, str, str, int]
# What physical.py's loop remembers of a line, by its text: () for a blank
# line or a comment; (name, args, key) for a directive; (name, args, key,
# True) for a section it opens; (first word, stripped line) for one it closes.
Remembered = (
    tuple[()]
    | tuple[str, tuple[str, ...], str]
    | tuple[str, tuple[str, ...], str, bool]
    | tuple[str, str]
)


def _numbered(physical: list[str], start: int, file: str) -> list[Line]:
    """``logical_from`` with each line in the general loop's form, in one pass."""
    # islice, not physical[start:]: a copy of 63 Mi lines is 500 MB more.
    return [
        (number, logical, file, ())
        for number, line in enumerate(islice(physical, start, None), start=start + 1)
        if (logical := line.strip(_SPACE)) and logical[0] != "#"
    ]


# Handlers judging the words alone whose messages quote no more than a
# character of them: a line whose words were hidden as read is judged by
# them on its words as written (the walk sees only the hidden words).
_JUDGED_AS_WRITTEN: dict[str, Callable[[Directive, None, tuple[str, ...]], str | None]] = {
    "header": header_error,
    "requestheader": header_error,
    "setenvif": setenvif_error,
    "setenvifnocase": setenvif_error,
    "browsermatch": setenvif_error,
    "browsermatchnocase": setenvif_error,
}


def _without_words(message: str, words: list[str]) -> str:
    """``message`` with each of ``words`` it quotes whole ("Unknown parameter:
    <it>") replaced by the placeholder (not a letter inside another word)."""
    for word in sorted(words, key=len, reverse=True):
        if word and word in message:
            message = re.sub(rf"(?<!\S){re.escape(word)}(?!\S)", REDACTED_VALUE, message)
    return message


class LineReader:
    """The line loop of the evaluator (``evaluator._Evaluator`` inherits it, through
    ``physical.PhysicalLineReader``).

    The evaluator provides the state below and the two hooks, which execute
    what httpd executes while reading.
    """

    variables: Variables
    version: tuple[int, ...]
    modules: LoadedModules
    macros: MacroTable
    deferred: dict[int, str]
    # id(node) -> the text after the name of a directive whose handler reads
    # its raw text (RAW_TEXT_KEYS), where its words may not show it (quotes,
    # ${VAR}, continuation lines): authz.require_error, rewrite_args.
    raw_texts: dict[int, str]

    def __init__(self) -> None:
        # First word as spelled -> _name_entry(); a configuration repeats few names.
        self._names: dict[str, NameEntry] = {}
        # Plain line text -> what physical.py's loop found in it.
        self._plain_lines: dict[str, Remembered] = {}
        self.memory = MemoryGuard()
        self._lines_unchecked = 0
        # (file, line) of the directives whose words held a secret.
        self.secret_lines: set[tuple[str, int]] = set()
        self.flows = SecretFlows()
        # id(words as hidden) -> those words and what the handler says of the
        # words as written (_JUDGED_AS_WRITTEN): the walk judges the hidden
        # words, which show neither the secret nor its %-tags or pattern. The
        # hidden words are a tuple of their own, which becomes that line's
        # node's (never a remembered line's): the error is given to that node
        # only (evaluator: deferred errors), not to another reading of the
        # same file and line.
        self.hidden_line_errors: dict[int, tuple[tuple[str, ...], str]] = {}
        # Per file being read, outermost first: where the last directive httpd
        # runs while reading was (its err_directive), which httpd names for
        # an error of reading itself (a line too long).
        self._run_while_reading: list[tuple[str, int] | None] = []

    def _ran_while_reading(self, file: str, number: int) -> None:
        """Note a directive run while reading (a conditional, Include, Use...)."""
        if self._run_while_reading:
            self._run_while_reading[-1] = (file, number)

    def _condition(self, key: str, raw_args: str, file: str, number: int) -> bool:
        raise NotImplementedError

    def _directive(
        self, name: str, args: list[str], file: str, number: int, container: list[Directive]
    ) -> None:
        raise NotImplementedError

    def _note_hidden(self, what: str, file: str, number: int) -> None:
        raise NotImplementedError

    def _count_words(self, key: str, name: str, args: list[str], file: str, number: int) -> None:
        raise NotImplementedError

    def _after_use(self, lines: list[Line], index: int, number: int, file: str) -> None:
        """A Use at ``number`` of ``file`` was expanded at ``lines[index]``."""

    # -- the loops ---------------------------------------------------------------

    def _process(self, text: str, file: str, root: list[Directive]) -> None:
        """Read the text of ``file`` into ``root`` (its container in the tree)."""
        too_long = line_too_long(text, lambda number: self.memory.check(file, number))
        if too_long is not None:
            # httpd reads up to that line, then stops.
            text = text[: too_long.offset]
        self._run_while_reading.append(None)
        try:
            self._process_text(text, file, root, complete=too_long is None)
        except ApacheConfigError as exc:
            # A false conditional read to the end of what is read: httpd's
            # soaking stopped at the long line with the same error.
            if too_long is None or exc.file != file or not exc.reason.endswith(_SOAKED_TO_END):
                raise
        finally:
            ran = self._run_while_reading.pop()
        if too_long is not None:
            if ran is None and self._run_while_reading:
                # None in this file: the Include of it, in the file including it.
                ran = self._run_while_reading[-1]
            where, line = ran if ran is not None else (file, too_long.number)
            raise ApacheConfigError(
                f"Error reading {file} at line {too_long.number}: Line too long",
                file=where,
                line=line,
            )

    def _process_text(self, text: str, file: str, root: list[Directive], complete: bool) -> None:
        split = plain_splitter(text)
        stack: list[Frame] = []
        container = root
        physical = simple_physical_lines(text)
        lines: list[Line]
        if len(text) > LONG_LINE_CHARACTERS:
            self._room_for_long_lines(text, physical, file)
        # Many files of fewer lines than the loops check at add up as well.
        self._lines_unchecked += len(physical) if physical is not None else text.count("\n")
        if self._lines_unchecked > CHECK_EVERY_LINES:
            self._lines_unchecked = 0
            self.memory.check(file, 1)
        if physical is not None:
            # Physical lines are logical lines: read them as they are until one
            # needs the general loop, which goes on from there.
            start, container = self._read_physical(
                physical, file, root, stack, split, is_plain(text)
            )
            if start < len(physical):
                lines = _numbered(physical, start, file)
                self._read_lines(text, lines, file, root, stack, container, split)
        else:
            lines = [(number, raw, file, ()) for number, raw in logical_lines(text)]
            self._read_lines(text, lines, file, root, stack, container, split)
        # Only sections opened outside any still-open conditional must be closed
        # (ap_build_cont_config returns quietly at end of file).
        if complete and stack and stack[0].node is not None:
            frame = stack[0]
            raise ApacheConfigError(f"<{frame.name}> was not closed.", file=file, line=frame.line)

    def _room_for_long_lines(self, text: str, physical: list[str] | None, file: str) -> None:
        """Before reading a file with a line of over a million characters,
        check that its words fit: a line is split at once, between two checks."""
        lines = physical if physical is not None else text.split("\n")
        if max(map(len, lines), default=0) > LONG_LINE_CHARACTERS:
            longest = next(n for n, line in enumerate(lines) if len(line) > LONG_LINE_CHARACTERS)
            words = text.count(" ") + text.count("\t") + len(lines)
            self.memory.check(file, longest + 1, needed=words * BYTES_PER_WORD)

    def _read_physical(
        self,
        physical: list[str],
        file: str,
        root: list[Directive],
        stack: list[Frame],
        split: Callable[[str], list[str]],
        all_plain: bool,
    ) -> tuple[int, list[Directive]]:
        """Read physical lines until one needs the general loop; return its index
        and the container in force there. Here every line does: the evaluator's
        reader (``physical.PhysicalLineReader``) takes those it can."""
        return 0, root

    def _read_lines(
        self,
        text: str,
        lines: list[Line],
        file: str,
        root: list[Directive],
        stack: list[Frame],
        container: list[Directive],
        split: Callable[[str], list[str]],
    ) -> None:
        """The general loop over logical lines, with fast paths for plain lines."""
        # mod_macro reads a body, and the line after a Use, in its own ways.
        macro_lines = MacroFileLines(text)
        # Most files hold no quote, backslash or ${ at all: then no line does.
        all_plain = is_plain(text)
        names = self._names
        name_entry = self._name_entry
        index = 0
        count = len(lines)
        # A threshold, not a mask of the index: a false section skipped by
        # _line moves the index by more than one.
        next_check = CHECK_EVERY_LINES
        while index < count:
            number, raw, where, _expanding = lines[index]
            index += 1
            if index > next_check:
                self.memory.check(where, number)
                next_check = index + CHECK_EVERY_LINES
            # is_plain(raw), inline: this runs for every line of a large file.
            if all_plain or (
                '"' not in raw and "'" not in raw and "\\\\" not in raw and "${" not in raw
            ):
                if raw[0] != "<":
                    words = split(raw)
                    known = names.get(words[0]) or name_entry(words[0])
                    if known[0]:
                        args = tuple(words[1:])
                        # Most names never hold a secret: one test, then worth_checking.
                        if (known[3] or "@" in raw) and worth_checking(known[3], raw):
                            args = self._redact(known[2], args, where, number)
                        node = Directive(known[1], args, where, number, None, known[2])
                        container.append(node)
                        if known[2] in RAW_TEXT_KEYS and ESCAPED_BLANK.search(raw):
                            # "a\ b": words cut at a blank its handler keeps.
                            self.raw_texts[id(node)] = raw[len(words[0]) :]
                        continue
                elif raw[1:2] == "/":
                    container = self._close(stack, raw, split(raw)[0], where, number, root)
                    continue
                else:
                    words = split(raw)
                    name = words[0]
                    known = names.get(name) or name_entry(name)
                    if known[0]:
                        if len(words) > 1 and words[-1][-1] == ">":
                            container = self._open_words(
                                known, words, where, number, container, stack
                            )
                            continue
                        opened = self._open(
                            known, raw, name, where, number, container, stack, split
                        )
                        if opened is not None:
                            container = opened
                            continue
            elif raw[:2] != "</":
                # Quotes, ${VAR} or a double backslash after a plain name that
                # httpd does not run while reading: the general path would do
                # exactly this (substitute the line, split the rest with quotes).
                name = split(raw)[0]
                if "${" not in name and name[0] not in "\"'" and "\\" not in name:
                    known = names.get(name) or name_entry(name)
                    if known[0]:
                        line = self.variables.substitute(raw, where, number) if "${" in raw else raw
                        if name[0] != "<":
                            args = tuple(split_words(line[len(name) :]))
                            if (known[3] or "@" in line) and worth_checking(known[3], line):
                                args = self._redact(known[2], args, where, number)
                            node = Directive(known[1], args, where, number, None, known[2])
                            container.append(node)
                            if known[2] in RAW_TEXT_KEYS:
                                self.raw_texts[id(node)] = line[len(name) :]
                            continue
                        # (A section whose line holds ${VAR} takes the general path,
                        # which also records a missing '>'; substituting twice would
                        # note an undefined variable twice.)
                        opened = (
                            None
                            if line is not raw
                            else self._open(
                                known, line, name, where, number, container, stack, split_words
                            )
                        )
                        if opened is not None:
                            container = opened
                            continue
            index = self._line(lines, index, stack, root, macro_lines)
            container = container_of(stack, root)
            if len(lines) != count:
                # A macro's expansion adds lines, which may hold quotes (an
                # @parameter's value, a body written in another file): the
                # file's text said nothing of them.
                count = len(lines)
                all_plain = False

    # -- fast-path helpers ---------------------------------------------------------

    def _name_entry(self, name: str) -> NameEntry:
        """``(fast, name, key, may hold a secret)`` for a first word, kept in ``self._names``.

        ``fast`` says a fast path may take a plain line starting with this
        word: a name httpd does not execute while reading (no include,
        conditional, macro...), without a trailing ``>``. The kept strings
        are shared by every node of that spelling (memory).
        """
        key = ascii_lower(name)
        fast = (
            key not in READ_TIME_DIRECTIVES
            and not name.endswith(">")
            and not name.startswith("</")
            and name != "<"
        )
        # A section node is named and keyed without its "<". The last item
        # says whether the directive may hold a secret (secret_words.py).
        if name.startswith("<"):
            entry = (fast, name[1:], key[1:], secret_check(key[1:]))
        else:
            entry = (fast, name, key, secret_check(key))
        self._names[name] = entry
        return entry

    def _redact(self, key: str, args: tuple[str, ...], file: str, number: int) -> tuple[str, ...]:
        """``redact_arguments``, remembering the lines it changed (``fix`` leaves their files out)."""
        if key in FLOW_DIRECTIVES:
            self.flows.note_line(key, args, file, number)
        redacted = redact_arguments(key, args)
        if redacted is not args:
            self.secret_lines.add((file, number))
            # "Basic %{CREDENTIALS}e", http://u:%{ENV:PW}@host/: what the
            # secret is read from holds it too.
            for before, after in zip(args, redacted, strict=True):
                if before != after:
                    self.flows.note_secret(before)
            judge = _JUDGED_AS_WRITTEN.get(key)
            if judge is not None:
                message = self._judged(judge, Directive(key, args, file, number, None, key))
                if message is not None:
                    hidden = [before for before, after in zip(args, redacted, strict=True)
                              if before != after]  # fmt: skip
                    self.hidden_line_errors[id(redacted)] = (
                        redacted,
                        _without_words(message, hidden),
                    )
        return redacted

    def _judged(
        self,
        judge: Callable[[Directive, None, tuple[str, ...]], str | None],
        directive: Directive,
    ) -> str | None:
        """``judge``'s message on ``directive``, its patterns compiled within the
        load's CPU time bound (as the walk compiles the others)."""
        guard = self.memory
        try:
            with pattern_deadline(guard.started + guard.seconds):
                return judge(directive, None, ())
        except PatternDeadlineError:
            guard.check(directive.file, directive.line)
            raise ApacheConfigError(
                "reading the configuration takes too long",
                file=directive.file,
                line=directive.line,
            ) from None

    def _open_words(
        self,
        known: NameEntry,
        words: list[str],
        file: str,
        number: int,
        container: list[Directive],
        stack: list[Frame],
    ) -> list[Directive]:
        """Open the section of a plain line split into ``words``, the last ending with ``>``.

        That ``>`` is then the last of the line, where ``section_args`` cuts
        (the line is stripped): the arguments are the words before it. Returns
        the section's children, where the next lines go.
        """
        last = words[-1]
        if last == ">":
            del words[-1]
        else:
            words[-1] = last[:-1]
        children: list[Directive] = []
        args = tuple(words[1:])
        if known[3] or "@" in "".join(args):
            args = self._redact(known[2], args, file, number)
        node = Directive(known[1], args, file, number, children, known[2])
        container.append(node)
        push_kept(stack, Frame(known[1], node, number, children), file)
        return children

    def _open(
        self,
        known: NameEntry,
        raw: str,
        name: str,
        where: str,
        number: int,
        container: list[Directive],
        stack: list[Frame],
        split: Callable[[str], list[str]],
    ) -> list[Directive] | None:
        """Open the section of plain line ``raw``; return its children, or None
        when it lacks its ``>`` (the general path records that error)."""
        rest = raw[len(name) :].lstrip(_SPACE) or ">"
        end = rest.rfind(">")
        if end < 0:
            return None
        children: list[Directive] = []
        args = tuple(split(rest[:end]))
        if worth_checking(known[3], rest):
            args = self._redact(known[2], args, where, number)
        node = Directive(known[1], args, where, number, children, known[2])
        container.append(node)
        push_kept(stack, Frame(known[1], node, number, children), where)
        return children

    def _close(
        self,
        stack: list[Frame],
        raw: str,
        name: str,
        where: str,
        number: int,
        root: list[Directive],
    ) -> list[Directive]:
        """Close what plain line ``raw`` (``</Name>``) closes; return the container after it."""
        top = stack[-1] if stack else None
        if top is not None and top.node is not None and name[-1] == ">" and name[2:-1] == top.name:
            # "</Name>" spelled as opened (close_section's usual case).
            stack.pop()
        elif self._closes_conditional(stack, raw):
            stack.pop()
        else:
            close_section(stack, name, where, number)
        return container_of(stack, root)

    @staticmethod
    def _closes_conditional(stack: list[Frame], raw: str) -> bool:
        """A true conditional ends only at a line that is exactly ``</IfXxx>``."""
        return (
            bool(stack)
            and stack[-1].node is None
            and ascii_lower(raw[2:]) == ascii_lower(stack[-1].name) + ">"
        )

    # -- the general path ----------------------------------------------------------

    def _line(
        self,
        lines: list[Line],
        index: int,
        stack: list[Frame],
        root: list[Directive],
        macro_lines: MacroFileLines,
    ) -> int:
        """Read ``lines[index - 1]`` in full generality; return where reading goes on."""
        number, raw, where, expanding = lines[index - 1]
        if raw[:2] == "</" and self._closes_conditional(stack, raw):
            stack.pop()
            return index
        if "${" in raw:
            raw = self.variables.substitute(raw, where, number)
        name, rest = first_word(raw)
        if not name:
            return index
        if name.startswith("</"):
            close_section(stack, name, where, number)
            return index
        if name.endswith(">"):
            name = name[:-1]
        if name.startswith("<") and not rest:
            rest = ">"
        key = ascii_lower(name)
        container = container_of(stack, root)
        conditional = CONDITIONALS.get(key)
        try:
            if conditional is not None and conditional[1] in self.modules.order:
                if self._condition(key, rest, where, number):
                    stack.append(Frame(conditional[0], None, number, container, kept_depth(stack)))
                    return index
                return soak(lines, index, conditional[0], where, number, self.memory.check)
            if key in ("<macro", "use", "undefmacro") and "macro_module" in self.modules:
                self._ran_while_reading(where, number)
                if key == "use" and REDACTED_VALUE in first_word(rest)[0]:
                    self._note_hidden(
                        f"the macro used ({name} {first_word(rest)[0]})", where, number
                    )
                    return index
                if key == "undefmacro":
                    self._count_words(key, name, split_words(rest), where, number)
                index = self.macros.handle(key, rest, lines, index, macro_lines)
                if key == "use" and not expanding:
                    macro_lines.read_after(lines, index, number, self.macros.carried, where)
                    self._after_use(lines, index, number, where)
                return index
        except (ConditionError, MacroError) as exc:
            raise ApacheConfigError(str(exc), file=where, line=number) from exc
        if name.startswith("<"):
            args = section_args(rest)
            words = args if args is not None else tuple(split_words(rest))
            node = Directive(
                name[1:], self._redact(key[1:], words, where, number), where, number, []
            )
            if args is None:
                # The section's own handler refuses it, when httpd walks the tree.
                self.deferred[id(node)] = f"{name}> directive missing closing '>'"
            container.append(node)
            push_kept(stack, Frame(name[1:], node, number, node.children), where)
            return index
        self._directive(name, split_words(rest), where, number, container)
        if key in RAW_TEXT_KEYS and container and container[-1].key == key:
            self.raw_texts[id(container[-1])] = rest
        return index
