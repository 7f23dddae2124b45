"""A plan holds a bounded size of files: each is kept whole, before and after.

Eight changed files of 30 MiB made `tcpaudit fix --format ansible` hold
1.35 GB; past MAX_PLANNED_BYTES the next files are left out, with a note.
"""

from __future__ import annotations

import importlib
import shutil
from pathlib import Path

import pytest

import tcpaudit

REPO = Path(__file__).resolve().parents[2]
# The module (tcpaudit.remedy.plan is also the name of its function).
plan_module = importlib.import_module("tcpaudit.remedy.plan")


def test_files_past_the_bound_are_left_out_with_a_note(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "root"
    shutil.copytree(REPO / "examples" / "closewait-incident", root, symlinks=True)
    for index in range(3):
        (root / f"etc/httpd/conf.d/big{index}.conf").write_text(
            f"<VirtualHost *:80>\nServerName b{index}.example\nTimeout 300\n</VirtualHost>\n"
            + ("# " + "c" * 1000 + "\n") * 100
        )
    report = tcpaudit.audit(tcpaudit.gather(root=root))
    unbounded = plan_module.plan(report.findings, root)
    assert {f"etc/httpd/conf.d/big{i}.conf" for i in range(3)} <= {e.path for e in unbounded.edits}
    monkeypatch.setattr(plan_module, "MAX_PLANNED_BYTES", 150_000)
    bounded = plan_module.plan(report.findings, root)
    kept = {edit.path: edit for edit in bounded.edits}
    left = [note for note in bounded.notes if "a plan holds at most" in note]
    assert left and len(kept) < len(unbounded.edits)
    # What is kept is planned exactly as without the bound.
    for edit in unbounded.edits:
        if edit.path in kept:
            assert kept[edit.path].after == edit.after
