"""SARIF ``fixes`` computed on the files: every text change, appended lines included.

A report alone cannot say where the end of a file is, so the audit's SARIF
(report.sarif) leaves out fixes that append; ``tcpaudit fix --format sarif``
reads the files and gives each finding the fix its own changes make (planned
alone, as ``--rule`` would), as replacements at exact character offsets.
Applied one finding at a time they give what the patch gives for that
finding. A fix that creates a link (Debian's a2enmod) is not text: such a
finding keeps no fix here; the patch has it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from ..engine.findings import Finding, Report
from ..lines import physical_lines
from ..provenance import Location
from ..report.sarif import artifact_location, sarif_log
from .linediff import span_opcodes
from .plan import FileEdit, plan

__all__ = ["MAX_FIX_WORK_CHARACTERS", "file_fixes", "sarif_with_file_fixes"]

# Each finding is planned on its own, on the whole of each file it changes:
# 6,000 vhosts of one 276 KB file took 97 s. Fixes stop once the files read
# for them reach this many characters; the patch (``tcpaudit fix``) has all.
MAX_FIX_WORK_CHARACTERS = 64 * 1024 * 1024


def _replacements(edit: FileEdit) -> list[dict[str, Any]]:
    after = edit.after or ""
    if edit.before is None:
        region = {"charOffset": 0, "charLength": 0}
        return [{"deletedRegion": region, "insertedContent": {"text": after}}]
    before_lines = physical_lines(edit.before, keepends=True)
    after_lines = physical_lines(after, keepends=True)
    offsets = [0]
    for line in before_lines:
        offsets.append(offsets[-1] + len(line))
    replacements = []
    for tag, i1, i2, j1, j2 in span_opcodes(before_lines, after_lines, edit.spans):
        if tag == "equal":
            continue
        region = {"charOffset": offsets[i1], "charLength": offsets[i2] - offsets[i1]}
        text = "".join(after_lines[j1:j2])
        replacements.append({"deletedRegion": region, "insertedContent": {"text": text}})
    return replacements


def file_fixes(
    findings: Sequence[Finding],
    root: str | os.PathLike[str],
    secret_lines: Sequence[Location] = (),
) -> tuple[dict[int, list[dict[str, Any]]], int]:
    """Each finding's SARIF fix from the files under ``root``, by its index, and
    how many findings with changes were left without one (past the work bound)."""
    fixes: dict[int, list[dict[str, Any]]] = {}
    work = 0
    left_out = 0
    for index, finding in enumerate(findings):
        if finding.suppressed or not finding.fix_changes:
            continue
        if work > MAX_FIX_WORK_CHARACTERS:
            left_out += 1
            continue
        planned = plan([finding], root, secret_lines=secret_lines)
        edits = planned.edits
        # A file is read and checked for secrets whole for each finding, fixed
        # or not (751 findings on a file of 20,000 lines held by a secret: 38 s).
        work += planned.bytes_read
        work += sum(len(edit.before or "") + len(edit.after or "") for edit in edits)
        if not edits or any(edit.link is not None for edit in edits):
            continue
        changes = [
            {"artifactLocation": artifact_location(edit.path), "replacements": _replacements(edit)}
            for edit in edits
        ]
        description = f"{finding.rule}: {finding.title}"
        fixes[index] = [{"description": {"text": description}, "artifactChanges": changes}]
    return fixes, left_out


def sarif_with_file_fixes(
    report: Report,
    root: str | os.PathLike[str],
    rules: Sequence[Any] | None = None,
    *,
    secret_lines: Sequence[Location] = (),
) -> dict[str, Any]:
    """The audit's SARIF log, each result's ``fixes`` computed on the files
    (``secret_lines``: as ``plan`` takes them)."""
    log = sarif_log(report, rules)
    results = log["runs"][0]["results"]
    computed, left_out = file_fixes(report.findings, root, secret_lines)
    for index, result in enumerate(results):
        result.pop("fixes", None)
        if index in computed:
            result["fixes"] = computed[index]
    if left_out:
        note = (
            f"{left_out} findings are given no fix here: computing each on its own would read "
            f"more than {MAX_FIX_WORK_CHARACTERS} characters of files; the patch "
            "(tcpaudit fix) has them all"
        )
        log["runs"][0].setdefault("properties", {}).setdefault("notes", []).append(note)
    return log
