"""Socket inode -> process: the fd links of the recorded server, and what cannot be read."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from diagnose_helpers import case, case_pids

from tcpaudit.diagnose import ProcessRef, diagnose, scan_owners
from tcpaudit.diagnose import owners as owners_module
from tcpaudit.rootfs import RootFS


def test_recorded_server_processes_own_their_sockets() -> None:
    owners = scan_owners(RootFS(case("slow-handler-drained")))
    pids = case_pids("slow-handler-drained")
    assert (owners.scanned, owners.denied) == (3, 0)
    # The listening socket is inherited: the parent and both children hold it.
    (listen_inode,) = [i for i, refs in owners.by_inode.items() if len(refs) == 3]
    assert sorted(ref.pid for ref in owners.by_inode[listen_inode]) == pids
    # Each child holds one connection of its own.
    singles = [refs for refs in owners.by_inode.values() if len(refs) == 1]
    assert sorted(refs[0].pid for refs in singles) == pids[1:]
    assert all(refs[0].command == "apache2" for refs in singles)


def test_unreadable_fd_tables_are_counted_not_guessed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "root"
    shutil.copytree(case("keepalive-drained"), root, symlinks=True)
    pids = case_pids("keepalive-drained")
    # A process that is not ours, a process that exits while we read, a link
    # that is not a socket.
    secret = str(root / "proc" / str(pids[1]))
    vanished = root / "proc" / "999999"
    vanished.mkdir()
    os.symlink("/dev/null", root / "proc" / str(pids[0]) / "fd" / "0")
    real_open = os.open

    def opener(path: Any, flags: int, *args: Any, dir_fd: int | None = None, **kwargs: Any) -> int:
        # The fd directory of pids[1], opened by name inside its process directory.
        if path == "fd" and dir_fd is not None and os.readlink(f"/proc/self/fd/{dir_fd}") == secret:
            raise PermissionError(13, "Permission denied", path)
        return real_open(path, flags, *args, dir_fd=dir_fd, **kwargs)

    monkeypatch.setattr(os, "open", opener)
    owners = scan_owners(RootFS(root))
    assert (owners.scanned, owners.denied) == (2, 1)
    holders = {ref for refs in owners.by_inode.values() for ref in refs}
    assert ProcessRef(pid=pids[1], command="apache2") not in holders
    assert {ref.pid for ref in holders} == {pids[0], pids[2]}


def test_a_root_without_proc_attributes_nothing(tmp_path: Path) -> None:
    owners = scan_owners(RootFS(tmp_path))
    assert (owners.by_inode, owners.scanned, owners.denied) == ({}, 0, 0)


def test_a_directory_named_with_leading_zeros_is_no_process(tmp_path: Path) -> None:
    # "0042" was read as pid 42: its sockets were given to a process that
    # instances.read_process then read from proc/42, another directory.
    root = tmp_path / "root"
    shutil.copytree(case("slow-handler-drained"), root, symlinks=True)
    pids = case_pids("slow-handler-drained")
    shutil.copytree(root / "proc" / str(pids[1]), root / "proc" / f"00{pids[1]}", symlinks=True)
    owners = scan_owners(RootFS(root))
    assert owners.scanned == 3
    assert {ref.pid for refs in owners.by_inode.values() for ref in refs} == set(pids)


def _forged_processes(root: Path, count: int, fds: int) -> None:
    for pid in range(2, 2 + count):
        (root / "proc" / str(pid) / "fd").mkdir(parents=True)
        (root / "proc" / str(pid) / "comm").write_text("x\n")
        for fd in range(fds):
            os.symlink(f"socket:[{pid * 100 + fd}]", root / "proc" / str(pid) / "fd" / str(fd))


@pytest.mark.parametrize(
    ("processes", "descriptors", "scanned", "holders"),
    [(3, 1_000, 3, 3), (1_000, 7, 4, 4)],
    ids=["processes", "descriptors"],
)
def test_the_scan_stops_at_its_bounds_and_says_so(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    processes: int,
    descriptors: int,
    scanned: int,
    holders: int,
) -> None:
    # 1,000,000 forged processes took 30 s: the scan reads at most so many
    # processes and descriptors (the bounds lowered here to keep the tree small).
    _forged_processes(tmp_path, 6, 2)
    monkeypatch.setattr(owners_module, "MAX_PROCESSES_SCANNED", processes)
    monkeypatch.setattr(owners_module, "MAX_DESCRIPTORS_READ", descriptors)
    owners = scan_owners(RootFS(tmp_path))
    assert owners.stopped
    assert owners.scanned == scanned
    assert len({ref.pid for refs in owners.by_inode.values() for ref in refs}) == holders
    assert sum(len(refs) for refs in owners.by_inode.values()) <= 2 * processes
    assert sum(len(refs) for refs in owners.by_inode.values()) <= descriptors


def test_a_scan_within_its_bounds_is_not_stopped(tmp_path: Path) -> None:
    _forged_processes(tmp_path, 6, 2)
    owners = scan_owners(RootFS(tmp_path))
    assert (owners.scanned, owners.stopped, len(owners.by_inode)) == (6, False, 12)


def test_a_diagnosis_says_when_the_scan_stopped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _forged_processes(tmp_path, 6, 2)
    (tmp_path / "proc/net").mkdir()
    (tmp_path / "proc/net/tcp").write_text(
        "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid"
        "  timeout inode\n"
        "   0: 00000000:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000"
        "     0        0 200 1 0000000000000000 100 0 0 10 0\n"
    )
    monkeypatch.setattr(owners_module, "MAX_PROCESSES_SCANNED", 3)
    notes = [note.message for note in diagnose(tmp_path, ports=[80]).notes]
    assert any("in the fd tables of 3 processes only" in note for note in notes), notes


def test_entries_that_hold_no_fd_table_count_toward_the_bound(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 2,000,000 empty pid-named directories (or files) were visited whole, the
    # bound counting only the fd tables read: 42 s. Every such entry counts.
    for pid in range(2, 8):
        (tmp_path / "proc" / str(pid)).mkdir(parents=True)
    (tmp_path / "proc/8").write_text("")
    _forged_processes(tmp_path / "later", 1, 1)
    os.rename(tmp_path / "later/proc/2", tmp_path / "proc/9")
    monkeypatch.setattr(owners_module, "MAX_PROCESSES_SCANNED", 7)
    owners = scan_owners(RootFS(tmp_path))
    assert owners.stopped
    assert (owners.scanned, owners.by_inode) == (0, {})


def test_names_in_an_fd_table_count_whether_or_not_they_are_links(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _forged_processes(tmp_path, 1, 0)
    for number in range(10):
        (tmp_path / f"proc/2/fd/{number}").write_text("")
    os.symlink("socket:[7]", tmp_path / "proc/2/fd/99")
    monkeypatch.setattr(owners_module, "MAX_DESCRIPTORS_READ", 5)
    owners = scan_owners(RootFS(tmp_path))
    assert owners.stopped
    assert len(owners.by_inode) <= 1


def test_the_listing_of_proc_is_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _forged_processes(tmp_path, 6, 1)
    monkeypatch.setattr(owners_module, "MAX_ENTRIES_LISTED", 3)
    owners = scan_owners(RootFS(tmp_path))
    assert owners.stopped
    assert owners.scanned == 3
