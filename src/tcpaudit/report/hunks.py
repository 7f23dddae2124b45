"""A finding's file changes as diff hunks, for people reading a report.

The Markdown and GitHub outputs show, under each finding's fix, the change
it makes to each file as unified-diff hunks built from ``fix_changes``: the
line as the audit read it (``was``), then the new lines. Reports do not read
the audited files, so the hunks carry no context lines and an appended line
is shown "at the end"; ``tcpaudit fix`` prints the patch that applies.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..engine.findings import FileChange
from ..lines import physical_lines
from ..safetext import printable

__all__ = ["change_hunks"]


def _hunk(change: FileChange, shift: int) -> tuple[list[str], int]:
    """The hunk of one change, and how many lines it adds to the file."""
    new = physical_lines(change.text) if change.text else []
    added = [f"+{line}" for line in new]
    if change.action == "append" or change.line is None:
        return ["@@ at the end of the file @@", *added], len(new)
    line = change.line
    if change.action == "insert_after":
        context = [f" {change.was}"] if change.was is not None else []
        old_count = len(context)
        start = line if context else line + 1
        header = f"@@ -{start},{old_count} +{start + shift},{old_count + len(new)} @@"
        return [header, *context, *added], len(new)
    removed = [f"-{change.was}"] if change.was is not None else []
    header = f"@@ -{line},1 +{line + shift},{len(new)} @@"
    if not removed:
        header += f" line {line} replaced"
    return [header, *removed, *added], len(new) - 1


def change_hunks(changes: Sequence[FileChange]) -> str:
    """``changes`` as ``---``/``+++`` headers and hunks, one file after another."""
    out: list[str] = []
    files: dict[str, list[FileChange]] = {}
    for change in changes:
        files.setdefault(change.file, []).append(change)
    for name, group in files.items():
        # A header is one line whatever the name holds (a newline, a terminal escape).
        file = printable(name)
        if any(change.link for change in group):
            target = next(change.text for change in group if change.link)
            out += [
                "--- /dev/null",
                f"+++ b/{file}",
                "@@ new symbolic link @@",
                f"+{printable(target)}",
            ]
            continue
        created = all(change.action in ("create", "append") for change in group) and any(
            change.action == "create" for change in group
        )
        out += ["--- /dev/null" if created else f"--- a/{file}", f"+++ b/{file}"]
        shift = 0
        ordered = sorted(group, key=lambda c: (c.line is None, c.line or 0))
        for change in ordered:
            lines, grown = _hunk(change, shift)
            out += lines
            shift += grown
    return "\n".join(out)
