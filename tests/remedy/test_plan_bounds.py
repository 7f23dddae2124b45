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


def test_a_tree_swapped_after_resolution_is_never_read_outside(tmp_path: Path) -> None:
    # plan() resolves each file inside the root, then reads it; a directory
    # swapped for a link in between led a plain read outside the root (a host
    # file copied whole into the playbook). The read now opens one directory
    # at a time and follows no link: the swap is one error line.
    import os

    from tcpaudit.errors import ParseError
    from tcpaudit.remedy.plan import _read
    from tcpaudit.rootfs import RootFS

    root, outside = tmp_path / "root", tmp_path / "outside"
    (root / "etc/httpd").mkdir(parents=True)
    outside.mkdir()
    (outside / "httpd.conf").write_text("# HOST-SECRET\n")
    fs = RootFS(root)
    (root / "etc/httpd/conf").mkdir()
    (root / "etc/httpd/conf/httpd.conf").write_text("Timeout 300\n")
    real = fs.resolve("/etc/httpd/conf/httpd.conf")
    assert _read(fs, real, "etc/httpd/conf/httpd.conf") == "Timeout 300\n"
    (root / "etc/httpd/conf/httpd.conf").unlink()
    (root / "etc/httpd/conf").rmdir()
    (root / "etc/httpd/conf").symlink_to(outside)  # the swap
    with pytest.raises(ParseError, match="cannot read it"):
        _read(fs, real, "etc/httpd/conf/httpd.conf")
    # A FIFO swapped in is refused at once, never waited on.
    (root / "etc/httpd/conf").unlink()
    (root / "etc/httpd/conf").mkdir()
    os.mkfifo(root / "etc/httpd/conf/httpd.conf")
    with pytest.raises(ParseError, match="not a regular file"):
        _read(fs, real, "etc/httpd/conf/httpd.conf")
