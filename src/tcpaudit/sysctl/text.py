"""``key = value`` text: sysctl.conf / sysctl.d lines and `sysctl -a` / `sysctl -n` output.

This module splits text into lines and lines into assignments, the way
systemd-sysctl (sysctl.d(5), src/sysctl/sysctl.c) and procps ``sysctl``
(sysctl.conf(5), src/sysctl.c) read them:

- blank lines and lines whose first non-blank character is ``#`` or ``;``
  are comments; a ``#`` later in a line is part of the value (the kernel then
  ignores it after a number, see limits.py);
- ``key = value``: blanks around key and value are dropped, CRLF endings too;
- a leading ``-`` on an assignment means "ignore if the write fails"; a
  ``-key`` line without ``=`` excludes that key from glob lines. A blank
  after the dash (``- net.ipv4.x = 1``) is stripped by systemd-sysctl, which
  applies the line, and kept by procps, for which the key then names no
  file, so it drops the line without a word (``Assignment.blank_after_dash``);
- a line without ``=`` is otherwise ignored with a warning (both tools warn);
- keys may be dotted or slashed (values.normalise_key).

Lines end at ``\\n`` for procps (getline), which then reads each as a C
string, so a NUL ends its text; systemd-sysctl (read_line) also ends a line
at ``\\r`` and at NUL, so a file with old Mac line endings is one line for
procps and several for systemd. Which assignment wins is decided in
apply.py; this module keeps every one in order. Secret keys (values.py) are
dropped here, before any value is stored or quoted in a note, and so is a
line whose value holds, after a ``\\r`` or NUL, the assignment of a secret
key (what the other tool would read as a line of its own).

A live listing (`sysctl -a`, `sysctl -n`) is what the kernel printed, so a
tracked key whose value the kernel could not hold (a word, trailing text, no
value) is noted and left out rather than kept as text no rule can judge; and
a file that is not such a listing at all (binary data, no ``key = value``
line) is an error, not hundreds of notes.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fnmatch import fnmatchcase

from ..apache.known_tokens import shown_prefix
from ..errors import SysctlError
from ..notes import NOTES_PER_KIND
from ..provenance import Note
from .limits import KEY_LIMITS, live_value_problem
from .model import SysctlSource
from .values import (
    SECRET_KEYS,
    is_glob,
    is_secret_key,
    key_to_path,
    misplaced_dot,
    normalise_key,
    parse_value,
    quoted,
)

__all__ = ["Assignment", "parse_assignments", "parse_sysctl_n", "parse_sysctl_text"]

# isspace() in the C locale, which procps uses to strip keys and values.
_BLANKS = " \t\n\r\v\f"
# systemd's WHITESPACE (strstrip): no vertical tab nor form feed, which stay
# in its keys (naming no file) and values (the kernel refuses "22\f").
_SYSTEMD_BLANKS = " \t\n\r"
# Control characters other than blanks, and U+FFFD for bytes that are not
# UTF-8: `sysctl -a` prints none of them (a few come from odd interface names).
_NOT_TEXT = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x9f\ufffd]")
# Above this share of such characters an input is binary data, not a listing.
MAX_NOT_TEXT_SHARE = 0.3
# The share is measured on the first this many characters: binary data is
# binary from the start, and counting a 64 MiB input whole costs seconds.
_TEXT_SAMPLE_CHARACTERS = 1024 * 1024
# systemd's read_line ends a line at \n, \r or NUL (fileio.c).
_SYSTEMD_LINE_END = re.compile("[\r\0]")
# The secret keys' last components, and the suffixes that make one.
_SECRET_LAST_NAMES = (*sorted({key.rsplit(".", 1)[-1] for key in SECRET_KEYS}), "x_key", "x_secret")
# PATH_MAX: a longer key names no file under /proc/sys.
MAX_KEY_CHARACTERS = 4096


@dataclass(frozen=True)
class Assignment:
    """One ``key = value`` line of a persistent file.

    ``value`` is None for an exclusion line (``-key`` without ``=``);
    ``key`` is the dotted form, possibly a glob pattern; ``spelled`` is the key
    as written, for notes; ``via`` is the link the boot tool read ``file``
    through, when it has another name (model.SysctlSource.via);
    ``blank_after_dash`` marks ``- key = value``, which procps drops.
    """

    key: str
    value: str | None
    file: str
    line: int
    spelled: str
    ignore_failure: bool = False
    via: str | None = None
    blank_after_dash: bool = False

    @property
    def is_glob(self) -> bool:
        return is_glob(self.key)


def _each_line(text: str) -> Iterator[str]:
    """The ``\n`` lines of ``text`` one at a time: a list of them all held a
    string each (64 MiB of two-character lines: 21 million, 1 GB)."""
    start = 0
    while True:
        end = text.find("\n", start)
        if end < 0:
            yield text[start:]
            return
        yield text[start:end]
        start = end + 1


class _LineNotes:
    """The notes of one reading's ignored lines: the first NOTES_PER_KIND of
    each kind, then one count (64 MiB of lines without '=' made 32 million
    notes, 5.9 GB, before they were cut)."""

    def __init__(self, notes: list[Note], shown: str) -> None:
        self.notes = notes
        self.shown = shown
        self.counts: Counter[str] = Counter()

    def keep(self, kind: str) -> bool:
        """Count a line of ``kind``: whether its own note is still wanted."""
        self.counts[kind] += 1
        return self.counts[kind] <= NOTES_PER_KIND

    def note(self, message: str, number: int) -> None:
        self.notes.append(Note(message=message, file=self.shown, line=number))

    def close(self) -> None:
        for kind, count in self.counts.items():
            if count > NOTES_PER_KIND:
                self.notes.append(
                    Note(
                        message=f"{count - NOTES_PER_KIND} more lines {kind}: not noted one by one",
                        file=self.shown,
                    )
                )
        self.counts.clear()


def _lines(
    text: str, first_line: int, blanks: str = _BLANKS, boot: str = "procps"
) -> list[tuple[int, str]]:
    """Non-comment lines with their numbers (of ``\\n`` lines, as editors count
    them), stripped of ``blanks``, ended where ``boot`` ends them."""
    kept: list[tuple[int, str]] = []
    for number, raw in enumerate(text.split("\n"), start=first_line):
        if boot == "systemd":
            pieces = _SYSTEMD_LINE_END.split(raw) if "\r" in raw or "\0" in raw else [raw]
        else:
            pieces = [raw.partition("\0")[0]]
        for piece in pieces:
            line = piece.strip(blanks)
            if line and line[0] not in "#;":
                kept.append((number, line))
    return kept


def _hides_secret_line(value: str) -> bool:
    """Whether ``value`` holds, after a character one boot tool ends lines at
    (``\\r``, NUL), a line setting a secret key: the other tool's view of it."""
    if "\r" not in value and "\0" not in value:
        return False
    for piece in _SYSTEMD_LINE_END.split(value)[1:]:
        spelled, sep, _ = piece.strip(_BLANKS).partition("=")
        key = normalise_key(spelled.removeprefix("-").strip(_BLANKS))
        if sep and (is_secret_key(key) or (is_glob(key) and _may_name_secret(key))):
            return True
    return False


def _may_name_secret(pattern: str) -> bool:
    """A glob whose last component could match a secret key's (``*_ke?``):
    taken as naming one, as apply.secret_glob takes any brace."""
    last = pattern.rsplit(".", 1)[-1]
    return any(fnmatchcase(name, last) for name in _SECRET_LAST_NAMES) or "{" in pattern


def _first_word(line: str) -> str:
    # split(None) also splits on Unicode spaces (U+0085) that _BLANKS keeps,
    # so a line of such characters has no word at all.
    words = line.split(maxsplit=1)
    word = shown_prefix(words[0] if words else line, 60)
    return "<a secret key>" if is_secret_key(normalise_key(word.lstrip("-"))) else word


def _hidden_secret_note(key: str, shown: str, number: int) -> Note:
    return Note(
        message=f"skipped {quoted(key)}: its value holds, after a line end of the other "
        "boot tool (\\r or NUL), the assignment of a secret key; it is never kept",
        file=shown,
        line=number,
    )


def _secret_note(key: str, shown: str, number: int) -> Note:
    return Note(
        message=f"skipped {quoted(key)}: a secret key, its value is never kept",
        file=shown,
        line=number,
    )


def parse_assignments(
    text: str,
    shown: str,
    notes: list[Note],
    first_line: int = 1,
    via: str | None = None,
    limit: int | None = None,
    boot: str = "procps",
    line_notes: _LineNotes | None = None,
) -> list[Assignment]:
    """Every assignment and exclusion in a persistent file, in order.

    Args:
        text: the file's contents.
        shown: the file as reports name it (relative to the audited root).
        notes: receives a warning, with file and line, for each line the
            boot tools would ignore.
        first_line: the number of the first line of ``text`` in its file.
        via: the sysctl.d link the boot tool reads the file through, when
            its name differs from the file's.
        limit: stop after this many assignments (one more is returned, so
            the caller can tell the text went on).
        boot: the boot tool whose blanks are stripped ("systemd" or "procps").
    """
    blanks = _SYSTEMD_BLANKS if boot == "systemd" else _BLANKS
    found: list[Assignment] = []
    ignored = line_notes if line_notes is not None else _LineNotes(notes, shown)
    for number, line in _lines(text, first_line, blanks, boot):
        if limit is not None and len(found) > limit:
            break
        spelled, sep, value = line.partition("=")
        ignore_failure = spelled.startswith("-")
        blank_after_dash = ignore_failure and spelled[1:2] in tuple(_BLANKS)
        spelled = spelled.removeprefix("-").strip(blanks)
        if not sep and not ignore_failure:
            if ignored.keep("without '='"):
                ignored.note(
                    (
                        f"ignored line without '=': {_first_word(line)!r} "
                        "(systemd-sysctl and procps skip it)"
                    ),
                    number,
                )
            continue
        if not spelled:
            if ignored.keep("without a key"):
                ignored.note("ignored assignment without a key", number)
            continue
        if len(spelled) > MAX_KEY_CHARACTERS:
            if ignored.keep("of keys too long"):
                ignored.note(
                    (
                        f"ignored key of {len(spelled)} characters: no file under "
                        "/proc/sys has so long a name"
                    ),
                    number,
                )
            continue
        key = normalise_key(spelled)
        if is_secret_key(key):
            if ignored.keep("setting a secret key"):
                ignored.note(_secret_note(key, "", 0).message, number)
            continue
        if sep and _hides_secret_line(value):
            if ignored.keep("hiding a secret key's line"):
                ignored.note(_hidden_secret_note(key, "", 0).message, number)
            continue
        if "/" in spelled and misplaced_dot(spelled) and ignored.keep("mixing '.' and '/'"):
            ignored.note(
                (
                    f"key {quoted(spelled)} mixes '.' and '/': it names "
                    f"/proc/sys/{quoted(key_to_path(spelled))}, which the boot tools cannot set"
                ),
                number,
            )
        found.append(
            Assignment(
                key=key,
                value=value.strip(blanks) if sep else None,
                file=shown,
                line=number,
                spelled=spelled,
                ignore_failure=ignore_failure and bool(sep),
                via=via,
                blank_after_dash=blank_after_dash and bool(sep),
            )
        )
    if line_notes is None:
        ignored.close()
    return found


def _check_is_text(text: str, shown: str) -> None:
    """Refuse binary data before it becomes one note per line of garbage."""
    if not text:
        return
    sample = text[:_TEXT_SAMPLE_CHARACTERS]
    share = len(_NOT_TEXT.findall(sample)) / len(sample)
    if share > MAX_NOT_TEXT_SHARE:
        raise SysctlError(
            f"not `sysctl -a` output or sysctl.conf text: {share:.0%} of it is control "
            "characters or bytes that are not UTF-8 (a binary file?)",
            file=shown,
        )


def _refused_live_value(key: str, value: str, shown: str, number: int) -> Note | None:
    problem = live_value_problem(key, value)
    if problem is None:
        return None
    return Note(
        message=f"ignored {key} = {quoted(value)} ({problem}): the kernel never "
        "prints such a value, so the key counts as not set by this listing",
        file=shown,
        line=number,
    )


def parse_sysctl_text(
    text: str,
    shown: str,
    notes: list[Note],
    keep: Callable[[str], bool] | None = None,
    max_keys: int | None = None,
) -> dict[str, SysctlSource]:
    """Live values from `sysctl -a` output (or a file in sysctl.conf syntax).

    The last line for a key wins; glob and exclusion lines, which `sysctl -a`
    never prints, are ignored with a note. Values are parsed, not judged,
    except that a tracked key's value must be one the kernel can hold
    (limits.live_value_problem): otherwise the line is ignored with a note.
    This loop repeats parse_assignments' grammar for plain lines because a
    `sysctl -a` dump has thousands of them; anything unusual takes the
    general path.

    Args:
        text: the listing.
        shown: how reports name it.
        notes: receives a note per ignored line.
        keep: when given, only keys it accepts are kept (the others cost
            nothing more than their line).
        max_keys: when given, keys beyond this many are dropped with one note.

    Raises:
        SysctlError: the text is mostly binary, or holds no ``key = value`` line.
    """
    _check_is_text(text, shown)
    values: dict[str, SysctlSource] = {}
    assignments = 0
    dropped = 0
    ignored = _LineNotes(notes, shown)
    for number, raw in enumerate(_each_line(text), start=1):
        line = raw.strip(_BLANKS)
        if not line or line[0] in "#;":
            continue
        spelled, sep, value = line.partition("=")
        spelled = spelled.rstrip(_BLANKS)
        # A key never holds blanks: "RequestReadTimeout header=20-40" is no assignment.
        blank_free = " " not in spelled and "\t" not in spelled
        if sep and spelled and (blank_free or len(spelled.split(maxsplit=1)) == 1):
            assignments += 1
        plain = sep and spelled[:1] not in ("", "-", "/") and "/" not in spelled
        if keep is not None and plain and not is_glob(spelled):
            # A plain dotted key is decided here: one of a tree not kept, or one
            # past max_keys, costs nothing more than its line.
            if not keep(spelled):
                continue
            if max_keys is not None and len(values) >= max_keys and spelled not in values:
                dropped += 1
                continue
        if not sep and line[0] != "-":
            # As parse_assignments says it, without its cost per line.
            if ignored.keep("without '='"):
                ignored.note(
                    f"ignored line without '=': {_first_word(line)!r} "
                    "(systemd-sysctl and procps skip it)",
                    number,
                )
            continue
        if not sep or not spelled or spelled[0] == "-" or is_glob(spelled):
            for item in parse_assignments(
                line, shown, notes, first_line=number, line_notes=ignored
            ):
                if ignored.keep("of globs or exclusions"):
                    ignored.note(
                        (
                            f"ignored {quoted(item.spelled)}: a live listing holds no globs "
                            "or exclusions"
                        ),
                        number,
                    )
            continue
        key = normalise_key(spelled)
        if is_secret_key(key):
            if ignored.keep("setting a secret key"):
                ignored.note(_secret_note(key, "", 0).message, number)
            continue
        if sep and _hides_secret_line(value):
            if ignored.keep("hiding a secret key's line"):
                ignored.note(_hidden_secret_note(key, "", 0).message, number)
            continue
        if keep is not None and not keep(key):
            continue
        if max_keys is not None and len(values) >= max_keys and key not in values:
            dropped += 1
            continue
        value = value.strip(_BLANKS)
        if key in KEY_LIMITS and (refused := _refused_live_value(key, value, shown, number)):
            if ignored.keep("of values refused"):
                ignored.note(refused.message, number)
            continue
        # Built without validation: the parsed value already has the model's type.
        values[key] = SysctlSource.model_construct(
            value=parse_value(value), file=shown, line=number, glob=None
        )
    ignored.close()
    if dropped:
        notes.append(
            Note(
                message=f"{dropped} more keys not kept: a listing gives at most {max_keys} "
                "of the keys tcpaudit reads",
                file=shown,
            )
        )
    if not assignments:
        raise SysctlError(
            "not `sysctl -a` output or sysctl.conf text: no `key = value` line", file=shown
        )
    return values


def parse_sysctl_n(
    keys: list[str], text: str, shown: str, notes: list[Note]
) -> dict[str, SysctlSource]:
    """Live values from `sysctl -n KEY...` output: one line per key, in the order asked.

    Args:
        keys: the keys passed to `sysctl -n`, in order.
        text: its output.
        shown: how reports name the output.
        notes: receives a warning when the line count does not match.
    """
    lines = text.rstrip("\n").split("\n") if text.strip() else []
    if len(lines) != len(keys):
        notes.append(
            Note(
                message=f"`sysctl -n` output has {len(lines)} lines for {len(keys)} keys; "
                "values were matched in order up to the shorter",
                file=shown,
            )
        )
    values: dict[str, SysctlSource] = {}
    for number, (spelled, line) in enumerate(zip(keys, lines, strict=False), start=1):
        key = normalise_key(spelled)
        if is_secret_key(key):
            continue
        value = line.strip(_BLANKS)
        if key in KEY_LIMITS and (refused := _refused_live_value(key, value, shown, number)):
            notes.append(refused)
            continue
        values[key] = SysctlSource(value=parse_value(value), file=shown, line=number)
    return values
