"""The paste-able text of a fix, rendered from its file changes.

Apache changes read as the lines to write (a Debian module link as the
``a2enmod`` that makes it); sysctl changes as shell lines that can run any
number of times with the same result, then apply the file: a line already
in the drop-in is not appended again, and a replaced line of
/etc/sysctl.conf is replaced by line number, as the patch does.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable, Mapping, Sequence

from ..engine.findings import FileChange
from ..lines import physical_lines
from ..safetext import printable

__all__ = ["is_sysctl_file", "paste_text", "shell_path"]

_SYSCTL_FILE = re.compile(
    r"(?:^|/)(?:etc/sysctl\.conf|(?:etc|run|usr/lib|usr/local/lib)/sysctl\.d/[^/]+)$"
)
_MODS_ENABLED = re.compile(r"(?:^|/)mods-enabled/([^/]+)\.(?:load|conf)$")


def is_sysctl_file(file: str) -> bool:
    """Whether a changed file is read by the sysctl boot tools (not Apache)."""
    return _SYSCTL_FILE.search(file) is not None


def shell_path(file: str) -> str:
    """The host path of a file named relative to the root, quoted for a shell."""
    return shlex.quote("/" + file.lstrip("/"))


def _apache_lines(
    change: FileChange, enabled: set[str], deleted: Mapping[FileChange, str]
) -> list[str]:
    if change.link:
        module = _MODS_ENABLED.search(change.file)
        if module is not None:
            if module.group(1) in enabled:
                return []
            enabled.add(module.group(1))
            return [f"a2enmod {shlex.quote(module.group(1))}"]
        return [f"ln -s {shlex.quote(change.text)} {shell_path(change.file)}"]
    if change.action == "create":
        # One comment line whatever the names hold (a file name may hold a newline).
        return [
            f"# new file {printable(change.file, runner_markers=False)}:",
            *change.text.splitlines(),
        ]
    if change.action == "replace" and not change.text:
        was = deleted.get(change)
        if was is not None:
            return [
                f"# delete: {printable(was, runner_markers=False)} ({printable(change.file, runner_markers=False)}:{change.line})"
            ]
        return [f"# delete line {change.line} of {printable(change.file, runner_markers=False)}"]
    return physical_lines(change.text)


def _sysctl_lines(changes: Sequence[FileChange]) -> list[str]:
    lines: list[str] = []
    files: list[str] = []
    for change in changes:
        target = shell_path(change.file)
        if target not in files:
            files.append(target)
        if change.action == "replace" and change.line is not None:
            lines.append(f"sed -i {shlex.quote(f'{change.line}c {change.text}')} {target}")
            continue
        # Appended once: running the line again finds it and adds nothing.
        lines.extend(
            f"grep -qxF {shlex.quote(line)} {target} 2>/dev/null"
            f" || echo {shlex.quote(line)} >> {target}"
            for line in physical_lines(change.text)
        )
    lines.extend(f"sysctl -p {target}" for target in files)
    return lines


def paste_text(
    changes: Iterable[FileChange],
    comments: Iterable[str] = (),
    preface: Iterable[str] = (),
    apply_now: Iterable[tuple[str, str]] = (),
    deleted: Mapping[FileChange, str] | None = None,
    scope: str | None = None,
) -> str:
    """The text of a fix: ``preface``, the changes as lines to paste, ``comments``.

    Lines for a virtual host other than ``scope`` (the one the finding is
    about; None for the server) are introduced by a comment naming it.
    """
    changes = list(changes)
    lines = list(preface)
    enabled: set[str] = set()
    pending: list[FileChange] = []
    for change in changes:
        if is_sysctl_file(change.file):
            pending.append(change)
            continue
        deletion = change.action == "replace" and not change.text
        if change.scope is not None and change.scope != scope and not deletion:
            where = change.file if change.line is None else f"{change.file}:{change.line}"
            # One comment line whatever the names hold (a file name may hold a newline).
            lines.append(
                f"# in {printable(change.scope, runner_markers=False)} ({printable(where, runner_markers=False)}):"
            )
        lines.extend(_apache_lines(change, enabled, deleted or {}))
    lines.extend(_sysctl_lines(pending))
    now = [shlex.quote(f"{key}={value}") for key, value in apply_now]
    if now:
        lines.append(f"sysctl -w {' '.join(now)}")
    lines.extend(comments)
    return "\n".join(lines)
