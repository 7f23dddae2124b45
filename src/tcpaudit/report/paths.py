"""Re-express a report's file paths relative to another directory.

A report names files relative to the audited root (``--root``), which is what
an operator reading it wants. Code scanning (SARIF) and GitHub annotations
want paths relative to the repository instead; when the audited tree is a
subdirectory of the repository (``--root deploy/web1``), ``tcpaudit audit
--paths-relative-to .`` rewrites them. Files of tcpaudit's own configuration
(a ``[[suppress]]`` entry that expired) are named as given on the command
line, relative to the working directory, and are rebased from there.
"""

from __future__ import annotations

import os
from collections.abc import Collection
from pathlib import Path

from ..engine.findings import Finding, Report
from ..provenance import Note

__all__ = ["rebase_paths"]


def rebase_paths(
    report: Report, root: Path, base: Path, cwd_relative: Collection[str] = ()
) -> Report:
    """``report`` with each relative file path made relative to ``base`` instead of ``root``.

    Args:
        report: the audit report, paths relative to ``root``.
        root: the audited root the paths are relative to.
        base: the directory the paths should be relative to; it must contain ``root``.
        cwd_relative: paths that are relative to the working directory instead.

    Absolute paths of the audited host (an audit of ``/``) are left as they are.
    """
    root_path = Path(os.path.abspath(root))
    base_path = Path(os.path.abspath(base))

    def rebased(file: str) -> str:
        if file in cwd_relative:  # as given or found: relative to the cwd, or absolute
            return os.path.relpath(os.path.abspath(file), base_path)
        if os.path.isabs(file):
            return file
        return os.path.relpath(root_path / file, base_path)

    def finding(item: Finding) -> Finding:
        if item.location is None:
            return item
        location = item.location.model_copy(update={"file": rebased(item.location.file)})
        return item.model_copy(update={"location": location})

    def note(item: Note) -> Note:
        return item if item.file is None else item.model_copy(update={"file": rebased(item.file)})

    update: dict[str, object] = {
        "findings": [finding(item) for item in report.findings],
        "notes": [note(item) for item in report.notes],
    }
    if report.apache is not None:
        update["apache"] = report.apache.model_copy(
            update={"main_file": rebased(report.apache.main_file)}
        )
    return report.model_copy(update=update)
