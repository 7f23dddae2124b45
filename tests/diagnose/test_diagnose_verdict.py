"""Classification and verdict on the recorded cases, and on states the recordings lack."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from diagnose_helpers import case, case_pids, case_port

from tcpaudit import audit, gather
from tcpaudit.apache import load_apache
from tcpaudit.diagnose import classify, diagnose, listen_ports, parse_status
from tcpaudit.diagnose.sockets import ProcessRef, SocketRecord, TcpState
from tcpaudit.diagnose.verdict import compose_verdict, count_workers, decide_cause


def test_slow_handler_case() -> None:
    result = diagnose(case("slow-handler-drained"))
    port = case_port("slow-handler-drained")
    pids = case_pids("slow-handler-drained")
    c = result.connections
    assert (c.close_wait_unaccepted, c.close_wait_owned, c.established_unaccepted) == (2, 2, 1)
    (listener,) = result.listeners
    assert (listener.accept_queue, listener.backlog, listener.backlog_source) == (3, 511, "config")
    assert (result.workers.busy, result.workers.limit, result.workers.busy_source) == (
        2,
        2,
        "sockets",
    )
    # Never-accepted sockets first; their unread request is evidence that no worker read it.
    assert [s.accepted for s in result.close_wait] == [False, False, True, True]
    assert [s.unread_bytes for s in result.close_wait] == [40, 40, 1, 1]
    held_by = sorted(pid for s in result.close_wait for pid in s.pids)
    assert held_by == pids[1:]
    assert [o.pid for o in result.owners][:2] == pids[1:]
    assert result.verdict.startswith(
        f"2 unowned CLOSE_WAIT in the accept queue of 127.0.0.1:{port} (queue 3/511), "
        "1 more client still waiting there"
    )
    assert f"2 CLOSE_WAIT held by Apache workers (pid {pids[1]}, {pids[2]})" in result.verdict
    assert "All MaxRequestWorkers=2 workers are busy" in result.verdict
    assert "drained by slow handlers" in result.verdict and "Timeout=300 s" in result.verdict
    assert "Fix (the audit's findings give the lines to change): TA101 Timeout at " in (
        result.verdict
    )
    assert "etc/apache2/apache2.conf:15" in result.verdict
    assert result.verdict_fixes[0] == "TA101"


def test_keepalive_case_with_scoreboard_names_keepalive_not_load() -> None:
    result = diagnose(
        case("keepalive-drained"), scoreboard=case("keepalive-drained") / "scoreboard.txt"
    )
    assert result.connections.close_wait_unaccepted == 2
    assert result.connections.close_wait_owned == 0
    assert result.workers.keepalive == 2 and result.workers.busy_source == "scoreboard"
    assert (
        "All MaxRequestWorkers=2 workers are busy (scoreboard), 2 of them in keep-alive wait "
        "(KeepAliveTimeout 15 on prefork): the pool is drained by idle keep-alive, not by load."
    ) in result.verdict
    # The keep-alive fix comes first.
    fixes = result.verdict.split("Fix (the audit's findings give the lines to change): ", 1)[1]
    assert fixes.startswith("TA102 KeepAliveTimeout at etc/apache2/apache2.conf:")
    assert result.verdict_fixes[0] == "TA102"


def test_keepalive_case_without_scoreboard_quotes_the_hold_time() -> None:
    result = diagnose(case("keepalive-drained"))
    assert "workers are held longer than clients wait, up to 302 s per connection" in (
        result.verdict
    )


def test_full_accept_queue() -> None:
    # ListenBacklog 2: the queue holds three, the next clients' SYNs are dropped
    # (they sit in SYN-SENT on their side; the server shows nothing of them).
    result = diagnose(case("backlog-full"))
    port = case_port("backlog-full")
    (listener,) = result.listeners
    assert (listener.accept_queue, listener.backlog, listener.backlog_source) == (3, 2, "config")
    assert result.connections.syn_recv == 0
    assert (
        f"The accept queue of 127.0.0.1:{port} is full (3 > backlog 2): the kernel drops new "
        "clients' SYNs until a worker accepts"
    ) in result.verdict
    assert "full" not in diagnose(case("slow-handler-drained")).verdict


def test_healthy_case() -> None:
    result = diagnose(case("healthy"), scoreboard=case("healthy") / "scoreboard.txt")
    c = result.connections
    assert (c.close_wait_unaccepted, c.close_wait_owned, c.established, c.time_wait) == (0, 0, 1, 1)
    assert result.listeners[0].accept_queue == 0
    assert result.verdict.startswith(f"No CLOSE_WAIT on 127.0.0.1:{case_port('healthy')}")
    assert "2 of MaxRequestWorkers=4 workers are busy (scoreboard)" in result.verdict
    assert "drained" not in result.verdict


def _record(
    state: TcpState, local_port: int, remote_port: int, inode: int, *owners: ProcessRef
) -> SocketRecord:
    return SocketRecord(
        local_address="10.0.0.5",
        local_port=local_port,
        remote_address="10.0.0.9",
        remote_port=remote_port,
        state=state,
        inode=inode,
        owners=owners,
        owners_listed=True,
    )


def test_backend_close_wait_and_other_states() -> None:
    parent, worker = ProcessRef(100, "httpd"), ProcessRef(101, "httpd")
    stranger = ProcessRef(500, "java")
    records = [
        _record(TcpState.LISTEN, 80, 0, 1, parent, worker),
        _record(TcpState.SYN_RECV, 80, 1, 0),
        _record(TcpState.FIN_WAIT2, 80, 2, 7, worker),  # lingering close
        _record(TcpState.LAST_ACK, 80, 3, 0),
        _record(TcpState.TIME_WAIT, 80, 4, 0),
        # Apache's connection to a backend on :8009 that the backend closed.
        _record(TcpState.CLOSE_WAIT, 41000, 8009, 9, worker),
        # Someone else's CLOSE_WAIT elsewhere is not Apache's business.
        _record(TcpState.CLOSE_WAIT, 41001, 5432, 10, stranger),
    ]
    result = classify(records, [80])
    c = result.connections
    assert (c.syn_recv, c.fin_wait, c.last_ack, c.time_wait, c.close_wait_other) == (1, 1, 1, 1, 1)
    assert result.apache_pids == {100, 101}
    assert [(o.pid, o.other, o.listener) for o in result.owners] == [(100, 0, True), (101, 1, True)]


def test_event_mpm_without_scoreboard_claims_no_busy_count(tmp_path: Path) -> None:
    conf = tmp_path / "httpd.conf"
    conf.write_text(
        "LoadModule mpm_event_module modules/mod_mpm_event.so\nListen 80\nListen [::1]:8443 https\n"
    )
    facts = gather(tmp_path, "/httpd.conf")
    assert facts.apache is not None and listen_ports(facts.apache) == [80, 8443]
    records = [_record(TcpState.ESTABLISHED, 80, 1, 5, ProcessRef(7, "httpd"))]
    classification = classify(records, [80])
    workers = count_workers(classification, facts, None)
    assert workers.busy is None
    assert decide_cause(classification, workers, facts) == "none"


def test_listen_lines_of_a_debian_layout() -> None:
    config = load_apache(None, case("healthy"))
    assert config is not None and listen_ports(config) == [case_port("healthy")]


def test_holders_hidden_from_an_unprivileged_reader(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As a non-root user sees a www-data Apache: no fd table of the workers.
    root = tmp_path / "root"
    shutil.copytree(case("slow-handler-drained"), root, symlinks=True)
    workers = {str(root / "proc" / str(pid)) for pid in case_pids("slow-handler-drained")}
    real_open = os.open

    def opener(path: Any, flags: int, *args: Any, dir_fd: int | None = None, **kwargs: Any) -> int:
        # Each worker's fd directory, opened by name inside its process directory.
        if (
            path == "fd"
            and dir_fd is not None
            and os.readlink(f"/proc/self/fd/{dir_fd}") in workers
        ):
            raise PermissionError(13, "Permission denied", path)
        return real_open(path, flags, *args, dir_fd=dir_fd, **kwargs)

    monkeypatch.setattr(os, "open", opener)
    result = diagnose(root)
    # Queued versus held still follows from the inodes alone.
    c = result.connections
    assert (c.close_wait_unaccepted, c.close_wait_owned) == (2, 2)
    assert "2 CLOSE_WAIT held by processes: a handler still runs" in result.verdict
    notes = [note.message for note in result.notes]
    assert any(n.startswith("the fd tables of 3 processes were not readable") for n in notes)
    assert any(
        n.startswith("2 accepted connections on the ports have no visible holder") for n in notes
    )


@pytest.mark.parametrize(
    ("board", "cause"),
    [
        ("RRRW", "reading"),
        ("WWWK", "handler"),
        ("KKKW", "keepalive"),
    ],
)
def test_scoreboard_decides_the_cause(tmp_path: Path, board: str, cause: str) -> None:
    capture = tmp_path / "status.txt"
    capture.write_text(f"BusyWorkers: 4\nIdleWorkers: 0\nScoreboard: {board}\n")
    facts = gather(case("keepalive-drained"))
    assert facts.apache is not None
    classification = classify(
        [_record(TcpState.CLOSE_WAIT, 80, 1, 0)], [80]
    )  # one client gave up in the queue
    workers = count_workers(classification, facts, parse_status(capture.read_text(), "x"))
    assert decide_cause(classification, workers, facts) == cause


def test_event_mpm_with_owned_close_wait_still_names_the_handler(tmp_path: Path) -> None:
    conf = tmp_path / "httpd.conf"
    conf.write_text(
        "LoadModule mpm_event_module modules/mod_mpm_event.so\nListen 80\nTimeout 120\n"
    )
    facts = gather(tmp_path, "/httpd.conf")
    worker = ProcessRef(7, "httpd")
    records = [
        _record(TcpState.LISTEN, 80, 0, 1, worker),
        _record(TcpState.CLOSE_WAIT, 80, 1, 5, worker),
        _record(TcpState.CLOSE_WAIT, 80, 2, 0),
    ]
    classification = classify(records, [80])
    workers = count_workers(classification, facts, None)
    assert workers.busy is None  # event: open connections are not busy workers
    verdict = compose_verdict(classification, workers, facts, audit(facts), [80])
    # No worker count to quote, so the cause stands as its own sentence.
    assert (
        "The pool is drained by slow handlers, each holding its worker up to Timeout=120 s"
    ) in verdict
