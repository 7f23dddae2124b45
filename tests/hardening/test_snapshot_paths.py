"""Snapshot paths a managed host may send: deep, long, or not text a file system holds.

The controller rebuilds a snapshot in a private temporary tree. Paths 500
levels deep took 24 s to rebuild (a lstat per name per entry) and 1,000
levels ended in a RecursionError while the tree was removed, leaving it
behind; a lone surrogate in a path, a link target or a /proc key was a
UnicodeEncodeError traceback. Each is now one error line (exit 2) or a
result in bounded time, and the private tree is always removed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from childrun import SAFE_SECONDS, assert_one_error_line, clis_in_child

from tcpaudit.snapshot import SNAPSHOT_FORMAT

CONF = "LoadModule mpm_event_module /usr/lib/apache2/modules/mod_mpm_event.so\nTimeout 300\n"


def _snapshot(files: dict[str, Any], proc: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "format": SNAPSHOT_FORMAT,
        "host": "web1",
        "files": {"/etc/apache2/apache2.conf": {"content": CONF}, **files},
        "proc": proc or {},
    }


def _deep(levels: int, entries: int) -> dict[str, Any]:
    base = "/d/" + "/".join(["a"] * levels)
    return _snapshot({f"{base}/{index}": {"content": ""} for index in range(entries)})


def test_deep_long_and_undecodable_paths(tmp_path: Path) -> None:
    documents = {
        "within": _deep(200, 2_000),
        "deep": _deep(500, 10),
        "deeper": _deep(1_000, 1),
        "long-name": _snapshot({"/etc/" + "n" * 300: {"content": ""}}),
        "surrogate-path": _snapshot({"/etc/\ud800x": {"content": ""}}),
        "surrogate-link": _snapshot({"/etc/apache2/x.conf": {"link": "/etc/\ud800"}}),
        "surrogate-proc": _snapshot({}, {"net/ipv4/conf/\ud800/rp_filter": None}),
    }
    for name, document in documents.items():
        (tmp_path / f"{name}.json").write_text(json.dumps(document))
    private = tmp_path / "tmp"
    private.mkdir()
    runs = clis_in_child(
        [["audit", "--facts", f"{name}.json", "--format", "json"] for name in documents],
        tmp_path,
        env={"TMPDIR": str(private)},
    )["runs"]
    outcome = dict(zip(documents, runs, strict=True))
    for name, run in outcome.items():
        assert run["seconds"] < SAFE_SECONDS, name
    assert outcome["within"]["exit_code"] in (0, 1), outcome["within"]["stderr"]
    for name in ("deep", "deeper", "long-name"):
        assert_one_error_line(outcome[name], f"{name}.json", "longer or deeper than a path")
    assert_one_error_line(outcome["surrogate-path"], "not a normalised absolute path")
    assert_one_error_line(outcome["surrogate-link"], "a link target must be text")
    assert_one_error_line(outcome["surrogate-proc"], "not text a file system can hold")
    assert list(private.iterdir()) == []


def test_a_terminated_audit_leaves_no_private_tree(tmp_path: Path) -> None:
    """SIGTERM (a CI job's timeout, kill) unwinds as Ctrl-C does: the tree a
    snapshot was rebuilt in is removed (it stayed, in /dev/shm too)."""
    files = {f"/a/{index % 50}/{index}.conf": {"content": "Timeout 3\n"} for index in range(20_000)}
    files["/etc/apache2/apache2.conf"] = {"content": "IncludeOptional /a/*/*.conf\n"}
    document = tmp_path / "snapshot.json"
    document.write_text(json.dumps(_snapshot(files)))
    private = tmp_path / "tmp"
    private.mkdir()
    child = subprocess.Popen(
        [sys.executable, "-m", "tcpaudit", "audit", "--facts", str(document)],
        env={**os.environ, "TMPDIR": str(private)},
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    deadline = time.monotonic() + 60

    def made() -> bool:
        return any(path.name.startswith("tcpaudit-snapshot-") for path in private.iterdir())

    # The first entry may be Python's own probe of the directory (a file it
    # removes at once); the signal goes once the tree is there.
    while not made() and time.monotonic() < deadline and child.poll() is None:
        time.sleep(0.02)
    assert made(), "the private tree was made"
    child.send_signal(signal.SIGTERM)
    assert child.wait(timeout=60) == 128 + signal.SIGTERM
    assert list(private.iterdir()) == []
