"""A plan as a unified diff that ``patch -p1`` and ``git apply`` take from the root.

Git's extended headers carry what plain unified diffs cannot: a new file
(``new file mode 100644``) and a new symbolic link (``new file mode 120000``,
its content the link's target, with no final newline), which is how
Debian's ``a2enmod`` enables a module. Paths holding spaces, quotes or
control characters are quoted the way git quotes them.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..lines import physical_lines
from .linediff import Span, grouped_opcodes, span_opcodes
from .plan import FileEdit, Plan

__all__ = ["quoted_path", "render_diff", "unified_hunks"]

_NO_NEWLINE = "\\ No newline at end of file\n"
_CONTEXT = 3


def quoted_path(path: str) -> str:
    """``path`` as git writes it in a header: C-quoted when it needs to be."""
    if all(c.isprintable() and c not in ' "\\\t' for c in path) and path.isascii():
        return path
    out = []
    for byte in path.encode("utf-8", "surrogateescape"):
        char = chr(byte)
        if char in '"\\':
            out.append("\\" + char)
        elif 0x20 <= byte < 0x7F:
            out.append(char)
        else:
            out.append({9: "\\t", 10: "\\n"}.get(byte, f"\\{byte:03o}"))
    return '"' + "".join(out) + '"'


def _line(prefix: str, text: str) -> str:
    if text.endswith("\n"):
        return prefix + text
    return prefix + text + "\n" + _NO_NEWLINE


def _range(start: int, count: int) -> str:
    if count == 1:
        return str(start + 1)
    return f"{start + 1 if count else start},{count}"


def unified_hunks(before: Sequence[str], after: Sequence[str], spans: Sequence[Span]) -> str:
    """The ``@@`` hunks between two lists of lines (each keeping its newline).

    ``spans`` are the line ranges that changed (FileEdit.spans); the rest is equal.
    """
    out: list[str] = []
    for group in grouped_opcodes(span_opcodes(before, after, spans), _CONTEXT):
        first, last = group[0], group[-1]
        old_start, old_end = first[1], last[2]
        new_start, new_end = first[3], last[4]
        out.append(
            f"@@ -{_range(old_start, old_end - old_start)} "
            f"+{_range(new_start, new_end - new_start)} @@\n"
        )
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                out.extend(_line(" ", text) for text in before[i1:i2])
                continue
            out.extend(_line("-", text) for text in before[i1:i2])
            out.extend(_line("+", text) for text in after[j1:j2])
    return "".join(out)


def _file_diff(edit: FileEdit) -> str:
    name = edit.path
    a, b = quoted_path(f"a/{name}"), quoted_path(f"b/{name}")
    header = f"diff --git {a} {b}\n"
    if edit.link is not None:
        return (
            f"{header}new file mode 120000\n--- /dev/null\n+++ {b}\n@@ -0,0 +1 @@\n"
            f"{_line('+', edit.link)}"
        )
    after = physical_lines(edit.after or "", keepends=True)
    if edit.before is None:
        whole = [(0, 0, 0, len(after))]
        return f"{header}new file mode 100644\n--- /dev/null\n+++ {b}\n" + unified_hunks(
            [], after, whole
        )
    before = physical_lines(edit.before, keepends=True)
    return f"{header}--- {a}\n+++ {b}\n" + unified_hunks(before, after, edit.spans)


def render_diff(plan: Plan) -> str:
    """The whole plan as one patch (empty when there is nothing to change)."""
    return "".join(_file_diff(edit) for edit in plan.edits)
