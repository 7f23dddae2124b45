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
from childrun import assert_one_error_line, cli_in_child, clis_in_child, opened_outside

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


def _assert_contained(outcome: dict[str, Any], root: Path) -> None:
    assert MARKER not in str(outcome["stdout"]) + str(outcome["stderr"])
    assert not opened_outside(outcome, root)


def _cases(tmp_path: Path, kinds: list[str], build: Any) -> dict[str, Path]:
    """One root per kind, built by ``build(root, kind)``, under tmp_path/<kind>/root."""
    roots: dict[str, Path] = {}
    for kind in kinds:
        roots[kind] = build(tmp_path / kind, kind)
    return roots


KINDS = ["link-out", "link-climbing", "fifo", "device", "not-utf8"]


# -- 1. the kernel release and the host name -------------------------------------------


@pytest.mark.parametrize("where", ["proc/sys/kernel/osrelease", "etc/hostname"])
def test_kernel_release_and_host_name_are_read_inside_the_root(
    tmp_path: Path, outside: Path, where: str
) -> None:
    def build(directory: Path, kind: str) -> Path:
        root = _incident(directory)
        _plant(root / where, kind, outside)
        return root

    roots = _cases(tmp_path, KINDS, build)
    runs = [
        [command, "--root", str(root)] for root in roots.values() for command in ("audit", "facts")
    ]
    outcomes = clis_in_child(runs, tmp_path)["runs"]
    for index, kind in enumerate(roots):
        for outcome in outcomes[2 * index : 2 * index + 2]:
            assert outcome["exit_code"] in (0, 1), (kind, outcome["stderr"])
            _assert_contained(outcome, roots[kind])
            assert "\x1b" not in str(outcome["stdout"]), kind
        if where == "etc/hostname":
            # Nothing usable in etc/hostname: the host is named after the root.
            assert '"host": "root"' in str(outcomes[2 * index + 1]["stdout"]), kind


# -- 2. the /proc/sys walk ---------------------------------------------------------------


def test_a_linked_proc_sys_directory_is_not_walked(tmp_path: Path, outside: Path) -> None:
    def build(directory: Path, linked: str) -> Path:
        root = _incident(directory)
        target = outside if linked.endswith("net") else outside / linked.rsplit("/", 1)[1]
        shutil.rmtree(root / linked)
        (root / linked).symlink_to(target)
        return root

    roots = _cases(tmp_path, ["proc/sys/net", "proc/sys/net/ipv4", "proc/sys/net/core"], build)
    runs = [["facts", "--root", str(root)] for root in roots.values()]
    for (linked, root), outcome in zip(
        roots.items(), clis_in_child(runs, tmp_path)["runs"], strict=True
    ):
        assert outcome["exit_code"] == 0, outcome["stderr"]
        _assert_contained(outcome, root)
        facts = json.loads(str(outcome["stdout"]))
        assert "net.ipv4.passwd" not in facts["sysctl"]["settings"]
        assert any(
            note["file"] == linked and "symbolic link" in note["message"]
            for note in facts["sysctl"]["notes"]
        ), linked


def test_a_hostile_key_file_is_never_opened(tmp_path: Path, outside: Path) -> None:
    def build(directory: Path, kind: str) -> Path:
        root = _incident(directory)
        _plant(root / "proc/sys/net/ipv4/tcp_retries2", kind, outside)
        return root

    roots = _cases(tmp_path, ["link-out", "fifo", "device"], build)
    runs = [["facts", "--root", str(root)] for root in roots.values()]
    for (kind, root), outcome in zip(
        roots.items(), clis_in_child(runs, tmp_path)["runs"], strict=True
    ):
        assert outcome["exit_code"] == 0, outcome["stderr"]
        _assert_contained(outcome, root)
        settings = json.loads(str(outcome["stdout"]))["sysctl"]["settings"]
        retries = settings["net.ipv4.tcp_retries2"]
        assert retries["value"] is None and "not read" in retries["live_unknown"], kind


# -- 5. diagnose's /proc -----------------------------------------------------------------


def _diagnose_root(directory: Path) -> tuple[Path, list[int]]:
    root = directory / "root"
    shutil.copytree(DIAGNOSE_CASE, root, symlinks=True)
    pids = sorted(int(p.name) for p in (root / "proc").iterdir() if p.name.isdigit())
    return root, pids


def test_diagnose_reads_process_names_inside_the_root(tmp_path: Path, outside: Path) -> None:
    def build(directory: Path, kind: str) -> Path:
        root, pids = _diagnose_root(directory)
        _plant(root / "proc" / str(pids[0]) / "comm", kind, outside)
        return root

    roots = _cases(tmp_path, KINDS, build)
    runs = [["diagnose", "--root", str(root)] for root in roots.values()]
    for (kind, root), outcome in zip(
        roots.items(), clis_in_child(runs, tmp_path)["runs"], strict=True
    ):
        assert outcome["exit_code"] in (0, 1), (kind, outcome["stderr"])
        _assert_contained(outcome, root)
        assert "\x1b" not in str(outcome["stdout"]), kind


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


def test_diagnose_socket_table_is_read_inside_the_root(tmp_path: Path, outside: Path) -> None:
    def build(directory: Path, kind: str) -> Path:
        root, _ = _diagnose_root(directory)
        _plant(root / "proc/net/tcp", kind, outside)
        return root

    roots = _cases(tmp_path, ["link-out", "fifo", "device"], build)
    runs = [["diagnose", "--root", str(root)] for root in roots.values()]
    for root, outcome in zip(roots.values(), clis_in_child(runs, tmp_path)["runs"], strict=True):
        assert_one_error_line(outcome, "proc/net/tcp")
        _assert_contained(outcome, root)


# -- 10. documents the user names ----------------------------------------------------------


def test_named_documents_are_regular_files_of_bounded_size(tmp_path: Path) -> None:
    documents: dict[str, Path] = {}
    for kind in ("fifo", "device", "huge"):
        document = tmp_path / f"{kind}.json"
        if kind == "huge":
            with document.open("wb") as handle:  # sparse: 100 GB that cost no disk
                handle.truncate(100 * 10**9)
        else:
            _plant(document, kind, tmp_path)
        documents[kind] = document
    cases: list[tuple[str, str, list[str]]] = []
    for kind, document in documents.items():
        path = str(document)
        for name, args in {
            "fleet": ["fleet", path],
            "baseline": ["audit", "--root", str(INCIDENT), "--baseline", path],
            "facts": ["audit", "--facts", path],
            "sysctl": ["audit", "--root", str(INCIDENT), "--sysctl", path],
            "ss": ["diagnose", "--root", str(DIAGNOSE_CASE), "--ss", path],
            "netstat": ["diagnose", "--root", str(DIAGNOSE_CASE), "--netstat", path],
            "scoreboard": ["diagnose", "--root", str(DIAGNOSE_CASE), "--scoreboard", path],
        }.items():
            cases.append((kind, name, args))
    outcome = clis_in_child([args for _, _, args in cases], tmp_path)
    for (kind, name, _), run in zip(cases, outcome["runs"], strict=True):
        reason = "larger than" if kind == "huge" else "not a regular file"
        assert run["exit_code"] == 2, (name, kind, run["stdout"][-500:])
        assert_one_error_line(run, documents[kind].name, reason)
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
