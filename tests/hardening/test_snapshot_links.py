"""A managed host's snapshot can make the controller read nothing: its links are never created.

A snapshot comes from a host that may be compromised. Before, its ``link``
entries became symlinks in the controller's temporary tree, so a link at
proc/sys/kernel/osrelease or etc/hostname made the controller print its own
/etc/shadow. Links now live in memory and resolve inside the rebuilt tree.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest
from childrun import cli_in_child, opened_outside

from tcpaudit import FactsError
from tcpaudit.snapshot import SNAPSHOT_FORMAT, facts_from_snapshot

MARKER = "CONTROLLER-SECRET-91f2"


def _outside(tmp_path: Path) -> Path:
    directory = tmp_path / "controller"
    (directory / "ipv4").mkdir(parents=True)
    for name in ("shadow", "ipv4/tcp_retries2", "ipv4/passwd", "httpd.conf"):
        (directory / name).write_text(f"{MARKER}\n")
    (directory / "httpd.conf").write_text(f"Timeout 999\nServerName {MARKER}\n")
    return directory


def _hostile(outside: Path) -> dict[str, Any]:
    climb = "../" * 12 + str(outside).lstrip("/")
    return {
        "format": SNAPSHOT_FORMAT,
        "host": "web1",
        "files": {
            "/etc/hostname": {"link": str(outside / "shadow")},
            "/etc/httpd/conf/httpd.conf": {"link": climb + "/httpd.conf"},
            "/etc/sysctl.d/10-a.conf": {"link": str(outside / "shadow")},
            "/etc/sysctl.d/20-b.conf": {"link": climb + "/shadow"},
            "/etc/sysctl.d/30-c.conf": {"link": "/etc/sysctl.d/30-c.conf"},
            "/proc/sys/kernel/osrelease": {"link": str(outside / "shadow")},
            "/usr/lib/sysctl.d": {"link": str(outside)},
        },
        "proc": {"net/ipv4/tcp_keepalive_time": "7200\n"},
    }


def test_no_symlink_is_created_and_nothing_outside_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    outside = _outside(tmp_path)
    created: list[str] = []
    monkeypatch.setattr(os, "symlink", lambda *args, **kwargs: created.append(str(args)))
    facts = facts_from_snapshot(_hostile(outside))
    assert created == []
    text = facts.model_dump_json()
    assert MARKER not in text and "Timeout 999" not in text
    assert facts.host == "web1"
    assert facts.sysctl is not None and facts.sysctl.kernel is None


def test_the_cli_reads_a_hostile_snapshot_inside_its_own_tree(tmp_path: Path) -> None:
    outside = _outside(tmp_path)
    snapshot = tmp_path / "snapshot.json"
    snapshot.write_text(json.dumps({"ansible_facts": {"tcpaudit": _hostile(outside)}}))
    private = tmp_path / "tmp"
    private.mkdir()
    for output_format in ("table", "json"):
        outcome = cli_in_child(
            ["audit", "--facts", str(snapshot), "--format", output_format],
            tmp_path,
            env={"TMPDIR": str(private)},
        )
        assert outcome["exit_code"] in (0, 1, 2), outcome["stderr"]
        assert MARKER not in str(outcome["stdout"]) + str(outcome["stderr"])
        # The snapshot itself and the private tree rebuilt from it: nothing else.
        assert not opened_outside(outcome, private, snapshot)
    assert not list(private.iterdir()), "the private tree is removed"


def test_links_inside_the_snapshot_still_resolve_as_on_the_host(tmp_path: Path) -> None:
    document = {
        "format": SNAPSHOT_FORMAT,
        "host": "web1",
        "files": {
            "/etc/httpd/conf/httpd.conf": {
                "content": "LoadModule mpm_event_module modules/mod_mpm_event.so\nInclude conf.d/*.conf\n"
            },
            "/etc/httpd/conf.d": {"dir": True},
            "/etc/httpd/conf.d/shop.conf": {"link": "../sites/shop.conf"},
            "/etc/httpd/sites/shop.conf": {"content": "Timeout 42\n"},
            "/usr/lib/systemd/systemd-sysctl": {"present": True},
            "/etc/sysctl.d/99-sysctl.conf": {"link": "../sysctl.conf"},
            "/etc/sysctl.conf": {"content": "net.ipv4.tcp_retries2 = 7\n"},
            "/etc/sysctl.d/50-masked.conf": {"link": "/dev/null"},
            "/usr/lib/sysctl.d/50-masked.conf": {"content": "net.core.somaxconn = 9\n"},
        },
    }
    facts = facts_from_snapshot(document)
    assert facts.apache is not None and facts.apache.settings["Timeout"].value == 42
    assert facts.apache.files[-1] == "etc/httpd/conf.d/shop.conf"
    assert facts.sysctl is not None
    retries = facts.sysctl.settings["net.ipv4.tcp_retries2"].persistent
    assert retries is not None and retries.via == "etc/sysctl.d/99-sysctl.conf"
    assert facts.sysctl.settings["net.core.somaxconn"].persistent is None


def test_names_with_newlines_and_nul_bytes_are_errors_of_one_line(tmp_path: Path) -> None:
    # Found by the fuzz harness: a path with a newline in an error message, and
    # an Include with a NUL byte that made the facts module raise ValueError.
    document = {
        "format": SNAPSHOT_FORMAT,
        "host": "web1",
        "files": {
            "/etc/sysctl.d/9\n0-tcp.conf": {"content": "x"},
            "/etc/sysctl.d/9\n0-tcp.conf/below": {"link": "/"},
        },
    }
    with pytest.raises(FactsError) as caught:
        facts_from_snapshot(document)
    assert "\n" not in str(caught.value) and "9\\n0-tcp.conf" in str(caught.value)
    root = tmp_path / "root"
    (root / "usr/local/apache2/conf").mkdir(parents=True)
    (root / "usr/local/apache2/conf/httpd.conf").write_bytes(b"Include conf/a\x00b.conf\n")
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ansible"))
    from ansible_trees import load_facts_module

    snapshot = load_facts_module().snapshot(str(root), runner=None)
    assert "/usr/local/apache2/conf/httpd.conf" in snapshot["files"]
