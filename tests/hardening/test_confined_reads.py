"""Every file tcpaudit opens is read inside the root, bounded, and only if it is a regular file.

One class per group of tests: the kernel release and host name, the
/proc/sys walk, diagnose's /proc, and the documents a user names (fleet
reports, --baseline, --facts, ss captures). Each tree is hostile the ways
a pull request or a copied image can be: links out of the root, FIFOs,
devices, bytes that are not UTF-8. Every command runs in a capped, timed
child that records what it opened (childrun.py).
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import sys
from pathlib import Path
from typing import Any

import pytest
from childrun import assert_one_error_line, cli_in_child, opened_outside

REPO = Path(__file__).resolve().parents[2]
INCIDENT = REPO / "examples" / "closewait-incident"
DIAGNOSE_CASE = REPO / "tests" / "diagnose" / "fixtures" / "keepalive-drained"
MARKER = "OUTSIDE-ROOT-7c1d"


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A directory beside the root, every file of which holds MARKER."""
    directory = tmp_path / "outside"
    (directory / "ipv4").mkdir(parents=True)
    (directory / "core").mkdir()
    for name in ("secret", "ipv4/passwd", "ipv4/tcp_retries2", "core/somaxconn"):
        (directory / name).write_text(f"{MARKER}\n")
    return directory


def _incident(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    shutil.copytree(INCIDENT, root, symlinks=True)
    return root


def _plant(path: Path, kind: str, outside: Path) -> None:
    """Replace ``path`` by a hostile node of ``kind``."""
    if path.is_symlink() or path.exists():
        path.unlink()
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "link-out":
        path.symlink_to(outside / "secret")
    elif kind == "link-climbing":
        depth = len(path.relative_to(outside.parent).parts)
        path.symlink_to("../" * depth + "outside/secret")
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "device":
        os.mknod(path, 0o644 | stat.S_IFCHR, os.makedev(1, 5))  # /dev/zero
    elif kind == "not-utf8":
        path.write_bytes(b"web\xff\xfe1\x1b[31m\n")
    else:
        raise AssertionError(kind)


def _assert_contained(outcome: dict[str, object], root: Path) -> None:
    assert MARKER not in str(outcome["stdout"]) + str(outcome["stderr"])
    assert not opened_outside(outcome, root)  # type: ignore[arg-type]


# -- 1. the kernel release and the host name -------------------------------------------


@pytest.mark.parametrize("kind", ["link-out", "link-climbing", "fifo", "device", "not-utf8"])
@pytest.mark.parametrize("where", ["proc/sys/kernel/osrelease", "etc/hostname"])
def test_kernel_release_and_host_name_are_read_inside_the_root(
    tmp_path: Path, outside: Path, where: str, kind: str
) -> None:
    root = _incident(tmp_path)
    _plant(root / where, kind, outside)
    for args in (["audit", "--root", str(root)], ["facts", "--root", str(root)]):
        outcome = cli_in_child(args, tmp_path)
        assert outcome["exit_code"] in (0, 1), outcome["stderr"]
        _assert_contained(outcome, root)
        assert "\x1b" not in str(outcome["stdout"])
    if where == "etc/hostname":
        # Nothing usable in etc/hostname: the host is named after the root.
        assert str(outcome["stdout"]).count('"host": "root"') == 1


# -- 2. the /proc/sys walk ---------------------------------------------------------------


@pytest.mark.parametrize("linked", ["proc/sys/net", "proc/sys/net/ipv4", "proc/sys/net/core"])
def test_a_linked_proc_sys_directory_is_not_walked(
    tmp_path: Path, outside: Path, linked: str
) -> None:
    root = _incident(tmp_path)
    target = outside if linked.endswith("net") else outside / linked.rsplit("/", 1)[1]
    shutil.rmtree(root / linked)
    (root / linked).symlink_to(target)
    outcome = cli_in_child(["facts", "--root", str(root)], tmp_path)
    assert outcome["exit_code"] == 0, outcome["stderr"]
    _assert_contained(outcome, root)
    facts = json.loads(str(outcome["stdout"]))
    assert "net.ipv4.passwd" not in facts["sysctl"]["settings"]
    assert any(
        note["file"] == linked and "symbolic link" in note["message"]
        for note in facts["sysctl"]["notes"]
    )


@pytest.mark.parametrize("kind", ["link-out", "fifo", "device"])
def test_a_hostile_key_file_is_never_opened(tmp_path: Path, outside: Path, kind: str) -> None:
    root = _incident(tmp_path)
    _plant(root / "proc/sys/net/ipv4/tcp_retries2", kind, outside)
    outcome = cli_in_child(["facts", "--root", str(root)], tmp_path)
    assert outcome["exit_code"] == 0, outcome["stderr"]
    _assert_contained(outcome, root)
    retries = json.loads(str(outcome["stdout"]))["sysctl"]["settings"]["net.ipv4.tcp_retries2"]
    assert retries["value"] is None and "not read" in retries["live_unknown"]


# -- 5. diagnose's /proc -----------------------------------------------------------------


def _diagnose_root(tmp_path: Path) -> tuple[Path, list[int]]:
    root = tmp_path / "root"
    shutil.copytree(DIAGNOSE_CASE, root, symlinks=True)
    pids = sorted(int(p.name) for p in (root / "proc").iterdir() if p.name.isdigit())
    return root, pids


@pytest.mark.parametrize("kind", ["link-out", "link-climbing", "fifo", "device", "not-utf8"])
def test_diagnose_reads_process_names_inside_the_root(
    tmp_path: Path, outside: Path, kind: str
) -> None:
    root, pids = _diagnose_root(tmp_path)
    _plant(root / "proc" / str(pids[0]) / "comm", kind, outside)
    outcome = cli_in_child(["diagnose", "--root", str(root)], tmp_path)
    assert outcome["exit_code"] in (0, 1), outcome["stderr"]
    _assert_contained(outcome, root)
    assert "\x1b" not in str(outcome["stdout"])


def test_diagnose_does_not_list_a_process_directory_that_is_a_link(
    tmp_path: Path, outside: Path
) -> None:
    root, _ = _diagnose_root(tmp_path)
    fd = outside / "fd"
    fd.mkdir()
    os.symlink("socket:[1]", fd / "3")
    (root / "proc" / "4242").symlink_to(outside)
    outcome = cli_in_child(["diagnose", "--root", str(root), "--format", "json"], tmp_path)
    assert outcome["exit_code"] in (0, 1), outcome["stderr"]
    _assert_contained(outcome, root)
    assert 4242 not in [owner["pid"] for owner in json.loads(str(outcome["stdout"]))["owners"]]


@pytest.mark.parametrize("kind", ["link-out", "fifo", "device"])
def test_diagnose_socket_table_is_read_inside_the_root(
    tmp_path: Path, outside: Path, kind: str
) -> None:
    root, _ = _diagnose_root(tmp_path)
    _plant(root / "proc/net/tcp", kind, outside)
    outcome = cli_in_child(["diagnose", "--root", str(root)], tmp_path)
    assert_one_error_line(outcome, "proc/net/tcp")
    _assert_contained(outcome, root)


# -- 10. documents the user names ----------------------------------------------------------


@pytest.mark.parametrize("kind", ["fifo", "device", "huge"])
@pytest.mark.parametrize("command", ["fleet", "baseline", "facts", "ss", "netstat", "scoreboard"])
def test_named_documents_are_regular_files_of_bounded_size(
    tmp_path: Path, command: str, kind: str
) -> None:
    document = tmp_path / "document.json"
    if kind == "huge":
        with document.open("wb") as handle:  # sparse: 100 GB that cost no disk
            handle.truncate(100 * 10**9)
    else:
        _plant(document, kind, tmp_path)
    args = {
        "fleet": ["fleet", str(document)],
        "baseline": ["audit", "--root", str(INCIDENT), "--baseline", str(document)],
        "facts": ["audit", "--facts", str(document)],
        "ss": ["diagnose", "--root", str(DIAGNOSE_CASE), "--ss", str(document)],
        "netstat": ["diagnose", "--root", str(DIAGNOSE_CASE), "--netstat", str(document)],
        "scoreboard": [
            "diagnose", "--root", str(DIAGNOSE_CASE), "--scoreboard", str(document),
        ],
    }[command]  # fmt: skip
    outcome = cli_in_child(args, tmp_path)
    reason = "larger than" if kind == "huge" else "not a regular file"
    assert_one_error_line(outcome, str(document), reason)
    assert outcome["peak_mib"] < 512


# -- found by the fuzz harness (tests/fuzz) ------------------------------------------------


def test_a_main_configuration_that_loops_is_one_error_line(tmp_path: Path) -> None:
    root = tmp_path / "root"
    conf = root / "usr/local/apache2/conf"
    conf.mkdir(parents=True)
    (conf / "httpd.conf").symlink_to("httpd.conf")
    outcome = cli_in_child(["audit", "--root", str(root)], tmp_path)
    assert_one_error_line(outcome, "usr/local/apache2/conf/httpd.conf", "symbolic links")


@pytest.mark.parametrize(
    ("name", "mode"), [("stable_secret", 0o644), ("tcp_fastopen_key", 0o600), ("tcp_own", 0o600)]
)
def test_an_include_that_reaches_proc_sys_never_reads_a_secret(
    tmp_path: Path, name: str, mode: int
) -> None:
    # An include entry that links to a /proc/sys directory: httpd would read its
    # files as configuration, secrets too. Neither tcpaudit nor the module opens them.
    root = _incident(tmp_path)
    secrets = root / "proc/sys/net/ipv6/conf/all"
    secrets.mkdir(parents=True)
    secret = secrets / name
    secret.write_text(f"{MARKER}\n")
    secret.chmod(mode)
    (root / "etc/httpd/conf.d/00-all.conf").symlink_to("/proc/sys/net/ipv6/conf/all")
    outcome = cli_in_child(["audit", "--root", str(root), "--format", "json"], tmp_path)
    assert_one_error_line(outcome, "never read")
    assert MARKER not in str(outcome["stdout"]) + str(outcome["stderr"])
    assert str(secret) not in outcome["opened"]
    document = _facts_module().snapshot(str(root), runner=None)
    assert MARKER not in json.dumps(document)


def _facts_module() -> Any:
    """The Ansible facts module, loaded from its file as tests/ansible does."""
    sys.path.insert(0, str(REPO / "tests" / "ansible"))
    from ansible_trees import load_facts_module

    return load_facts_module()
