"""The merged changes of a report, applied in memory to the audited files.

``plan`` reads (never writes) each file a change names, through the root the
way the audit read it: a file named through a link (Debian's sites-enabled)
is changed where the link points, since a patch cannot edit through a link.
Each change is checked against the text before it is applied, so facts that
no longer match the files give an error at the file and line rather than a
patch in the wrong place.

A replacement covers the whole logical line (httpd numbers a line continued
with ``\\`` by its last physical line); a line inserted inside a section is
indented one step deeper than the section's opening line; a replaced line
keeps its indentation.
"""

from __future__ import annotations

import os
import posixpath
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..apache.lexer import split_words
from ..apache.shell_state import REDACTED_VALUE
from ..checks.paste import is_sysctl_file
from ..engine.findings import FileChange, Finding
from ..errors import ParseError
from ..inputs import NotRegularFileError, TooLargeError
from ..lines import physical_lines
from ..provenance import Location
from ..rootfs import RootFS
from .linediff import Span
from .macro_bodies import macro_body_line
from .merge import MergedChange, merge_changes
from .secrets import control_line, hides_token, secret_line

__all__ = ["DEBIAN_MODULE_DIR", "FileEdit", "Plan", "plan"]

# Where Debian's packages install modules (the path in mods-available/x.load).
DEBIAN_MODULE_DIR = "/usr/lib/apache2/modules"
_INDENT = re.compile(r"[ \t]*")
# The bytes a patch should never have to carry: changes are to text files.
_MAX_FILE_BYTES = 64 * 1024 * 1024


@dataclass
class FileEdit:
    """One file's change: its text before and after (None: it does not exist).

    Attributes:
        path: the file relative to the root, links resolved (what a patch names).
        before: the text now; None for a file to create.
        after: the text once every change is applied.
        link: for a link to create, its target (``before`` and ``after`` None).
        rules: the rules whose fixes change it, in report order.
        lines: the changed places, for people (``line 11``, ``after line 56``).
        changes: the merged changes applied to it.
        sysctl: whether the file is a sysctl file.
        spans: the line ranges the changes touch (linediff); a new file's is
            all of it.
    """

    path: str
    before: str | None
    after: str | None
    link: str | None = None
    rules: list[str] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    changes: list[FileChange] = field(default_factory=list)
    sysctl: bool = False
    spans: list[Span] = field(default_factory=list)


@dataclass
class Plan:
    """The edits, and what could not be planned (one line each)."""

    edits: list[FileEdit]
    notes: list[str]
    bytes_read: int = 0  # of the files read to plan it (checked for secrets whole)

    def rules(self) -> list[str]:
        """The rules whose fixes the plan applies, in report order."""
        seen: dict[str, None] = {}
        for edit in self.edits:
            seen.update(dict.fromkeys(edit.rules))
        return list(seen)


def _read(fs: RootFS, real: Path, shown: str) -> str:
    """The file's text, read as every input is: one directory at a time, no
    link followed past resolution (a tree swapped since then fails), never
    blocking on a FIFO, at most 64 MiB."""
    try:
        data = fs.read_real(real, _MAX_FILE_BYTES)
    except NotRegularFileError as exc:
        raise ParseError("not a regular file: a patch cannot change it", file=shown) from exc
    except TooLargeError as exc:
        raise ParseError("larger than 64 MiB", file=shown) from exc
    except OSError as exc:
        raise ParseError(f"cannot read it: {exc.strerror or exc}", file=shown) from exc
    return data.decode("utf-8", "surrogateescape")


def _logical_start(lines: Sequence[str], last: int) -> int:
    """The first physical line (0-based) of the logical line ending at ``last``."""
    start = last
    while start > 0 and lines[start - 1].rstrip("\r\n").endswith("\\"):
        start -= 1
    return start


def _indent(line: str) -> str:
    match = _INDENT.match(line)
    return match.group(0) if match else ""


def _inside_indent(lines: Sequence[str], anchor: int) -> str:
    """How lines inserted after ``anchor`` are indented."""
    own = _indent(lines[anchor])
    if not lines[anchor].lstrip().startswith("<"):
        return own
    for following in lines[anchor + 1 :]:
        if following.strip():
            deeper = _indent(following)
            if len(deeper) > len(own) and not following.lstrip().startswith("</"):
                return deeper
            break
    return own + ("\t" if own.endswith("\t") else "    ")


def _text_lines(text: str, indent: str, newline: str) -> list[str]:
    return [f"{indent}{line}{newline}" if line else newline for line in physical_lines(text)]


def _check_replaced(change: FileChange, old: str, shown: str) -> None:
    """The replaced line sets what the change sets (or the change deletes it)."""
    if not change.text:
        return
    words = split_words(old.replace("\\\n", " ").strip())
    names = {line.split(None, 1)[0].lower() for line in physical_lines(change.text) if line.strip()}
    if not words or words[0].lower() not in names:
        found = words[0] if words else "an empty line"
        raise ParseError(
            f"expected {' or '.join(sorted(names))} here, found {found}: the file changed since "
            "it was read; audit it again",
            file=shown,
            line=change.line,
        )


def _apply(
    before: str, changes: Sequence[FileChange], shown: str
) -> tuple[str, list[str], list[Span]]:
    """``before`` with ``changes`` applied (line numbers are those of ``before``).

    Returns the text, the changed places for people, and the changed spans
    of lines (linediff), so a diff need not compare the whole file.
    """
    lines = physical_lines(before, keepends=True)
    newline = "\r\n" if lines and lines[0].endswith("\r\n") else "\n"
    replaced: dict[int, tuple[int, FileChange]] = {}
    inserted: dict[int, list[str]] = {}
    appended: list[str] = []
    places: list[str] = []
    for change in changes:
        if change.action in ("replace", "insert_after") and (
            change.line is None or not 1 <= change.line <= len(lines)
        ):
            raise ParseError(
                f"has {len(lines)} lines, no line {change.line} to change: the file changed "
                "since it was read; audit it again",
                file=shown,
                line=change.line,
            )
        if change.action == "replace":
            assert change.line is not None
            last = change.line - 1
            start = _logical_start(lines, last)
            _check_replaced(change, "".join(lines[start : last + 1]), shown)
            replaced[start] = (last, change)
            places.append(f"line {start + 1}" if start == last else f"lines {start + 1}-{last + 1}")
        elif change.action == "insert_after":
            assert change.line is not None
            anchor = change.line - 1
            text = _text_lines(change.text, _inside_indent(lines, anchor), newline)
            inserted.setdefault(anchor, []).extend(text)
            places.append(f"after line {change.line}")
        else:
            appended.extend(_text_lines(change.text, "", newline))
            places.append("at the end")
    out: list[str] = []
    spans: list[Span] = []

    def end_last_line(before_index: int) -> None:
        """A last line without a newline gets one before lines follow it."""
        if out and not out[-1].endswith("\n"):
            out[-1] += newline
            spans.append((before_index, before_index + 1, len(out) - 1, len(out)))

    index = 0
    while index < len(lines):
        if index in replaced:
            last, change = replaced[index]
            start = len(out)
            out.extend(_text_lines(change.text, _indent(lines[index]), newline))
            for anchor in range(index, last + 1):
                out.extend(inserted.get(anchor, []))
            spans.append((index, last + 1, start, len(out)))
            index = last + 1
            continue
        out.append(lines[index])
        if inserted.get(index):
            end_last_line(index)
            start = len(out)
            out.extend(inserted[index])
            spans.append((index + 1, index + 1, start, len(out)))
        index += 1
    if appended:
        end_last_line(len(lines) - 1)
        start = len(out)
        out.extend(appended)
        spans.append((len(lines), len(lines), start, len(out)))
    return "".join(out), places, _joined(spans)


def _joined(spans: list[Span]) -> list[Span]:
    """Spans in order, those that touch or overlap made one."""
    out: list[Span] = []
    for start, end, new_start, new_end in sorted(spans):
        if out and start <= out[-1][1]:
            first = out[-1]
            out[-1] = (first[0], max(first[1], end), first[2], max(first[3], new_end))
        else:
            out.append((start, end, new_start, new_end))
    return out


def _host_name(file: str) -> str:
    return "/" + file.lstrip("/")


def _shown(fs: RootFS, real: Path) -> str:
    return real.relative_to(fs.root).as_posix() if real != fs.root else "."


def _climbs_out(shown: str) -> bool:
    """A path that leaves the tree once a missing directory on it is made: a
    link to ``missing/../../x`` resolves no further than ``missing``, and a
    patch or playbook creating it would then write outside the root."""
    return ".." in shown.split("/")


def _outside_note(file: str, rules: list[str]) -> str:
    return (
        f"{file} leads outside the audited tree (through a link to a directory that is "
        f"not there): its changes are left out ({', '.join(rules)})"
    )


def _link_edit(fs: RootFS, merged: MergedChange, notes: list[str]) -> FileEdit | None:
    change = merged.change
    parent = fs.resolve(posixpath.dirname(_host_name(change.file)))
    link = parent / posixpath.basename(change.file)
    shown = _shown(fs, link)
    if _climbs_out(shown):
        notes.append(_outside_note(change.file, merged.rules))
        return None
    target = fs.resolve(posixpath.join(posixpath.dirname(_host_name(change.file)), change.text))
    if os.path.lexists(link):
        if os.path.islink(link) and os.readlink(link) == change.text:
            return None
        notes.append(f"{shown} exists: left as it is ({', '.join(merged.rules)})")
        return None
    if not target.exists():
        # a2enmod links only the files the module has; without mods-available's
        # x.load the file itself says what Debian's would: the LoadModule line.
        if change.file.endswith(".load"):
            stem = posixpath.basename(change.file).removesuffix(".load")
            text = f"LoadModule {stem}_module {DEBIAN_MODULE_DIR}/mod_{stem}.so\n"
            notes.append(
                f"{shown}: {change.text} is not in the tree: written as a file holding the "
                f"LoadModule line ({', '.join(merged.rules)})"
            )
            return FileEdit(
                path=shown,
                before=None,
                after=text,
                rules=merged.rules,
                lines=["new file"],
                changes=[FileChange(file=change.file, action="create", text=text.rstrip("\n"))],
            )
        return None
    return FileEdit(path=shown, before=None, after=None, link=change.text, rules=merged.rules)


# The files one plan changes, in all: each is held whole, before and after,
# and a playbook copies it (eight 30 MiB files took 1.35 GB).
MAX_PLANNED_BYTES = 64 * 1024 * 1024


def plan(
    findings: Iterable[Finding],
    root: str | os.PathLike[str],
    *,
    rules: Sequence[str] = (),
    secret_lines: Iterable[Location] = (),
) -> Plan:
    """The edits that apply every unsuppressed finding's changes (only ``rules`` when given).

    Args:
        findings: the report's findings, most severe first.
        root: the audited root the changes' files are relative to.
        rules: rule ids to limit the plan to (empty: every rule).
        secret_lines: lines whose values are secrets by use
            (``ApacheConfig.secret_value_lines``): their files are left out.

    Raises:
        ParseError: a file cannot be read, or does not hold what the change expects.
    """
    fs = RootFS(root)
    secret_by_file: dict[str, int] = {}
    for place in secret_lines:
        # Named as the Include named it: the patch names the file a link leads to.
        shown_place = _shown(fs, fs.resolve(_host_name(place.file)))
        secret_by_file.setdefault(shown_place, place.line or 0)
    wanted = {rule.upper() for rule in rules}
    chosen = [
        finding
        for finding in findings
        if not finding.suppressed and (not wanted or finding.rule in wanted)
    ]
    notes: list[str] = []
    by_file: dict[str, list[MergedChange]] = {}
    edits: list[FileEdit] = []
    texts: dict[str, list[str] | None] = {}
    cached = [0]  # characters of the files in texts

    def original(change: FileChange) -> str | None:
        """The logical line a replace rewrites, words joined, or None."""
        real = fs.resolve(_host_name(change.file))
        shown = _shown(fs, real)
        if shown not in texts:
            text = _read(fs, real, shown) if os.path.isfile(real) else None
            cached[0] += len(text) if text is not None else 0
            if cached[0] > MAX_PLANNED_BYTES:
                # Lines of other files are read again if needed: memory stays bounded.
                texts.clear()
                cached[0] = len(text) if text is not None else 0
            texts[shown] = physical_lines(text, keepends=True) if text is not None else None
        lines = texts[shown]
        if lines is None or change.line is None or not 1 <= change.line <= len(lines):
            return None
        start = _logical_start(lines, change.line - 1)
        return "".join(lines[start : change.line]).replace("\\\n", " ").strip()

    for merged in merge_changes(chosen, original):
        if merged.change.link:
            edit = _link_edit(fs, merged, notes)
            if edit is not None:
                edits.append(edit)
            continue
        real = fs.resolve(_host_name(merged.change.file))
        if _climbs_out(_shown(fs, real)):
            notes.append(_outside_note(merged.change.file, merged.rules))
            continue
        if _shown(fs, real) == "dev/null":
            # Masked (systemd-sysctl and procps skip a link to /dev/null): the
            # operator turned this file off; a patch must not write a file there.
            notes.append(
                f"{merged.change.file} is a link to /dev/null (masked): its changes are left "
                f"out ({', '.join(merged.rules)})"
            )
            continue
        by_file.setdefault(_shown(fs, real), []).append(merged)
    planned_bytes = 0  # of the files planned so far: each is held whole, twice
    for shown, group in by_file.items():
        real = fs.root / shown
        exists = os.path.lexists(real)
        size = os.lstat(real).st_size if exists else 0
        if planned_bytes + size > MAX_PLANNED_BYTES:
            rules_named = _rules_named(group)
            notes.append(
                f"{shown} is left out: a plan holds at most {MAX_PLANNED_BYTES // 2**20} MiB "
                f"of files, and the files before it reach that; make its changes by hand "
                f"({rules_named})"
            )
            continue
        planned_bytes += size
        before = _read(fs, real, shown) if exists else None
        changes = [merged.change for merged in group]
        if before is None and any(c.action in ("replace", "insert_after") for c in changes):
            raise ParseError("does not exist: audit the tree again", file=shown)
        secret = secret_line(before, sysctl=is_sysctl_file(shown)) if before else None
        if secret is None and hides_token(shown):
            # A patch names the file as it is, and cannot name it otherwise.
            secret = (0, "a token of a known kind in its name")
        if secret is None and shown in secret_by_file:
            secret = (secret_by_file[shown], "a value used as a secret elsewhere")
        if secret is None:
            # A change built from a directive whose secret was replaced would
            # write the placeholder over the secret.
            placeholder = next((c for c in changes if REDACTED_VALUE in c.text), None)
            if placeholder is not None:
                secret = (placeholder.line or 0, "a secret tcpaudit does not show")
        if secret is None:
            # A line rewritten from its words as read: a token the file holds
            # only through ${NAME}s (Define BK http://h/ghp_...) is in the text.
            token = next((c for c in changes if hides_token(c.text)), None)
            if token is not None:
                secret = (token.line or 0, "a token of a known kind in its changed line")
        control = control_line(before) if before and secret is None else None
        in_macro = (
            macro_body_line(before, (c.line for c in changes if c.action != "append"))
            if before and secret is None and control is None and not is_sysctl_file(shown)
            else None
        )
        if in_macro is not None:
            rules_named = _rules_named(group)
            notes.append(
                f"{shown}: line {in_macro} is in a <Macro> body, which every Use of the macro "
                f"shares: its changes are left out; change the value where the macro is used "
                f"({rules_named})"
            )
            continue
        if secret is not None or control is not None:
            rules_named = _rules_named(group)
            held = (
                (f"{secret[1]} (line {secret[0]})" if secret[0] else secret[1])
                if secret is not None
                else f"a control character a terminal acts on (line {control})"
            )
            notes.append(
                f"{shown} holds {held}: its changes are left out, since a patch or playbook "
                f"would copy it; make them by hand ({rules_named})"
            )
            continue
        after, places, spans = _apply(before or "", changes, shown)
        rules_here: dict[str, None] = {}
        for merged in group:
            rules_here.update(dict.fromkeys(merged.rules))
        edits.append(
            FileEdit(
                path=shown,
                before=before,
                after=after,
                rules=list(rules_here),
                lines=places,
                changes=changes,
                sysctl=is_sysctl_file(shown),
                spans=spans,
            )
        )
    edits.sort(key=lambda edit: edit.path)
    return Plan(
        edits=[edit for edit in edits if edit.before != edit.after or edit.link],
        notes=notes,
        bytes_read=planned_bytes,
    )


def _rules_named(group: Sequence[MergedChange]) -> str:
    """The rules a file's changes come from, in order, for a note leaving them out."""
    return ", ".join(dict.fromkeys(rule for merged in group for rule in merged.rules))
