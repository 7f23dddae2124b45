"""The verdict claims what the evidence shows, and says what it cannot know.

Captures are written to tmp_path as an operator would paste them: netstat
without root (PID ``-`` everywhere), ss without ``-e``, grepped captures with
no listening socket, a pool with spare workers. The configuration is a small
prefork httpd.conf (MaxRequestWorkers 150, Timeout 300) unless a recorded
case's own is used.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from diagnose_helpers import case, case_port, run, run_json

from tcpaudit import audit, gather
from tcpaudit.diagnose import classify, diagnose, parse_netstat, parse_ss
from tcpaudit.diagnose.cli import exit_code
from tcpaudit.diagnose.model import Diagnosis, SocketSource
from tcpaudit.diagnose.sockets import ProcessRef, SocketRecord, TcpState
from tcpaudit.diagnose.verdict import (
    compose_verdict,
    count_workers,
    decide_cause,
    pool_state,
)
from tcpaudit.facts import HostFacts

INCIDENT = Path(__file__).resolve().parents[2] / "examples" / "closewait-incident"
NETSTAT_HEADER = (
    "Active Internet connections (servers and established)\n"
    "Proto Recv-Q Send-Q Local Address     Foreign Address     State       PID/Program name\n"
)
# KNOWLEDGE.md's two lines, addresses made numeric: what a non-root netstat prints.
INCIDENT_LINES = (
    "tcp        1      0 192.0.2.10:80     198.51.100.7:54021  CLOSE_WAIT  -\n"
    "tcp      913      0 192.0.2.10:80     198.51.100.7:50953  CLOSE_WAIT  -\n"
)
SS_HEADER = "State      Recv-Q Send-Q Local Address:Port  Peer Address:Port Process\n"
PREFORK_CONF = (
    "LoadModule mpm_prefork_module modules/mod_mpm_prefork.so\n"
    "Listen 80\nTimeout 300\nKeepAliveTimeout 15\nMaxRequestWorkers 150\n"
)


def _root(tmp_path: Path, conf: str = PREFORK_CONF) -> Path:
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True, exist_ok=True)
    (root / "etc" / "httpd.conf").write_text(conf)
    return root


def _facts(tmp_path: Path) -> HostFacts:
    return gather(_root(tmp_path), "/etc/httpd.conf")


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _verdict(tmp_path: Path, records: list[SocketRecord], source: SocketSource = "proc") -> str:
    facts = _facts(tmp_path)
    classification = classify(records, [80])
    workers = count_workers(classification, facts, None)
    return compose_verdict(classification, workers, facts, audit(facts), [80], source)


def _sock(
    state: TcpState,
    remote_port: int,
    *owners: ProcessRef,
    inode: int | None = None,
    rx_queue: int = 0,
    listed: bool = True,
) -> SocketRecord:
    listening = state is TcpState.LISTEN
    return SocketRecord(
        local_address="0.0.0.0" if listening else "192.0.2.10",
        local_port=80,
        remote_address="0.0.0.0" if listening else "198.51.100.7",
        remote_port=remote_port,
        state=state,
        rx_queue=rx_queue,
        inode=inode,
        owners=owners,
        owners_listed=listed,
    )


# 1. PID `-` is ambiguous: the unknown bucket, and a verdict that says what is not known.


def test_incident_netstat_goes_to_the_unknown_bucket_and_says_how_to_find_out(
    tmp_path: Path,
) -> None:
    capture = _write(tmp_path, "ns.txt", NETSTAT_HEADER + INCIDENT_LINES)
    code, data = run_json("--root", str(INCIDENT), "--netstat", str(capture))
    c = data["connections"]
    assert (c["close_wait_unknown"], c["close_wait_unaccepted"], c["close_wait_owned"]) == (2, 0, 0)
    assert [s["accepted"] for s in data["close_wait"]] == [None, None]
    # No busy count: a floor of visible holders is not a count.
    assert data["workers"]["busy"] is None and data["workers"]["limit"] == 150
    verdict = data["verdict"]
    # What is known ...
    assert verdict.startswith(
        "2 CLOSE_WAIT on port 80: their clients have closed, and nothing here has closed "
        "them yet. Whether they wait in the accept queue (never accepted) or a process holds "
        "them is not known: netstat prints `-` both for a socket no process holds and for one "
        "held by a process it may not inspect"
    )
    assert "1 of them still has request bytes unread" in verdict  # the 913-byte one
    # ... what is not, and how to find out.
    assert "How many of MaxRequestWorkers=150 workers are busy is not known" in verdict
    assert "run `netstat -tanp` as root" in verdict and "`ss -tanpoe`" in verdict
    # Claims it does not have: none.
    for claim in ("unowned", "0 of", "drained", "in the accept queue of", "no listener seen"):
        assert claim not in verdict
    assert "If they are queued, no worker was free to accept them" in verdict
    notes = [n["message"] for n in data["notes"]]
    assert any(n.startswith("2 connections on the ports may or may not be held") for n in notes)
    assert any(n.startswith("the netstat capture has no listening socket") for n in notes)
    assert code == 1  # the incident's high findings


def test_unknown_close_wait_alone_exits_on_findings_only(tmp_path: Path) -> None:
    # A never-accepted CLOSE_WAIT forces exit 1 whatever the findings; one whose
    # holder the capture cannot show must not. The findings are left out so that
    # only the sockets decide.
    port = case_port("healthy")
    line = f"tcp        1      0 127.0.0.1:{port}     127.0.0.1:40000  CLOSE_WAIT  -\n"
    listener = (
        f"tcp        1      0 127.0.0.1:{port}     0.0.0.0:*        LISTEN      1000/apache2\n"
    )

    def diagnosis(capture_text: str) -> Diagnosis:
        capture = _write(tmp_path, "ns.txt", NETSTAT_HEADER + capture_text)
        _, data = run_json("--root", str(case("healthy")), "--netstat", str(capture))
        return Diagnosis.model_validate(data).model_copy(update={"findings": []})

    unknown = diagnosis(line)
    assert unknown.connections.close_wait_unknown == 1
    assert unknown.verdict.startswith(f"1 CLOSE_WAIT on port {port}: its client has closed")
    assert exit_code(unknown, "critical") == 0
    # The same socket, once the listener shows its process, was never accepted.
    unaccepted = diagnosis(listener + line)
    assert unaccepted.connections.close_wait_unaccepted == 1
    assert exit_code(unaccepted, "critical") == 1


def test_dash_counts_as_never_accepted_when_the_listener_shows_its_process(
    tmp_path: Path,
) -> None:
    # The listener's process is visible, so the capture could read Apache's fd tables:
    # netstat run as root (or as Apache's own user), and `-` means "no process".
    listener = "tcp        2      0 0.0.0.0:80        0.0.0.0:*           LISTEN      1000/httpd\n"
    records = parse_netstat(NETSTAT_HEADER + listener + INCIDENT_LINES)
    result = classify(records, [80])
    assert (result.connections.close_wait_unaccepted, result.connections.close_wait_unknown) == (
        2,
        0,
    )
    assert result.unknown_holder == 0


def test_an_empty_accept_queue_proves_the_dash_sockets_were_accepted(tmp_path: Path) -> None:
    # Not root: the listener's process is hidden too, but its Recv-Q (the kernel's count
    # of queued connections) is 0, so neither CLOSE_WAIT waits there.
    listener = "tcp        0      0 0.0.0.0:80        0.0.0.0:*           LISTEN      -\n"
    records = parse_netstat(NETSTAT_HEADER + listener + INCIDENT_LINES)
    result = classify(records, [80])
    c = result.connections
    assert (c.close_wait_owned, c.close_wait_unknown, c.close_wait_unaccepted) == (2, 0, 0)
    assert result.held == 2 and result.unattributed == 2
    verdict = _verdict(tmp_path, records, "netstat")
    assert "2 CLOSE_WAIT held by a process the capture does not name" in verdict
    assert "2 of MaxRequestWorkers=150 workers are busy" in verdict


def test_a_busy_accept_queue_bounds_how_many_are_queued(tmp_path: Path) -> None:
    listener = "tcp        1      0 0.0.0.0:80        0.0.0.0:*           LISTEN      -\n"
    records = parse_netstat(NETSTAT_HEADER + listener + INCIDENT_LINES)
    assert classify(records, [80]).connections.close_wait_unknown == 2
    verdict = _verdict(tmp_path, records, "netstat")
    assert (
        "The accept queue of 0.0.0.0:80 holds 1 connection, so at most 1 of them waits there."
        in (verdict)
    )
    assert "The capture shows no socket listening" not in verdict


def test_ss_without_inodes_sees_only_its_users_processes(tmp_path: Path) -> None:
    # `ss -tanp` as a user: its own process is listed, Apache's are not. That some
    # line has users:(...) does not make the others "never accepted".
    text = SS_HEADER + (
        "LISTEN     2      511          0.0.0.0:80       0.0.0.0:*\n"
        "CLOSE-WAIT 1      0         192.0.2.10:80  198.51.100.7:54021\n"
        "CLOSE-WAIT 913    0         192.0.2.10:80  198.51.100.7:50953\n"
        "ESTAB      0      0         192.0.2.10:80  198.51.100.7:50960\n"
        'ESTAB      0      0         192.0.2.10:41000 192.0.2.20:5432 users:(("psql",pid=77,fd=3))\n'
    )
    records = parse_ss(text)
    result = classify(records, [80])
    c = result.connections
    assert (c.close_wait_unknown, c.established_unknown, c.close_wait_unaccepted) == (2, 1, 0)
    verdict = _verdict(tmp_path, records, "ss")
    assert "this ss capture has no inodes (-e)" in verdict
    assert "capture `ss -tanpoe` (-e prints inodes" in verdict
    # Two queued and two CLOSE_WAIT: the listener's count bounds nothing here.
    assert "The accept queue of 0.0.0.0:80 holds 2 connections. To tell" in verdict


def test_a_non_root_capture_of_a_recorded_drain(tmp_path: Path) -> None:
    # slow-handler-drained's own netstat capture with every process hidden, as a
    # non-root netstat prints it for a root-started Apache.
    name = "slow-handler-drained"
    text = re.sub(r"\b\d+/apache2\b", "-", (case(name) / "netstat-tanp.txt").read_text())
    capture = _write(tmp_path, "ns.txt", text)
    result = diagnose(case(name), netstat=capture)
    c = result.connections
    # /proc says 2 queued + 2 held CLOSE_WAIT and 1 queued ESTABLISHED; netstat cannot.
    assert (c.close_wait_unknown, c.established_unknown) == (4, 1)
    assert (c.close_wait_unaccepted, c.close_wait_owned, c.established_unaccepted) == (0, 0, 0)
    assert result.workers.busy is None
    port = case_port(name)
    assert f"The accept queue of 127.0.0.1:{port} holds 3 connections, so at most 3" in (
        result.verdict
    )
    assert "2 of them still have request bytes unread" in result.verdict
    assert "drained" not in result.verdict


# 2. Few busy workers: no drained pool.


def test_ss_capture_with_spare_workers_does_not_claim_a_drained_pool(tmp_path: Path) -> None:
    capture = _write(
        tmp_path,
        "ss.txt",
        SS_HEADER
        + 'LISTEN     0      511     0.0.0.0:80   0.0.0.0:*  users:(("httpd",pid=1000,fd=3),'
        '("httpd",pid=1001,fd=3),("httpd",pid=1002,fd=3)) ino:100\n'
        'CLOSE-WAIT 1      0   192.0.2.10:80 198.51.100.7:54021 users:(("httpd",pid=1001,fd=7)) '
        "uid:48 ino:200\n"
        'ESTAB      0      0   192.0.2.10:80 198.51.100.7:54022 users:(("httpd",pid=1002,fd=7)) '
        "uid:48 ino:201\n",
    )
    root = _root(tmp_path)
    _, data = run_json(
        "--root", str(root), "--apache-conf", "/etc/httpd.conf", "--ss", str(capture)
    )
    assert data["workers"]["busy"] == 2 and data["workers"]["limit"] == 150
    verdict = data["verdict"]
    assert "2 of MaxRequestWorkers=150 workers are busy (each holds an accepted connection): " in (
        verdict
    )
    assert "the pool is not drained; a handler holds its worker up to Timeout=300 s" in verdict
    assert "only once such handlers take all 150 workers" in verdict
    assert "drained by" not in verdict and "All MaxRequestWorkers" not in verdict
    # The findings are offered as bounds, not as the fix of an outage.
    assert "The findings that bound how long a worker is held" in verdict
    assert "Fix (" not in verdict


def test_queued_clients_with_spare_workers_point_at_apache_not_accepting(tmp_path: Path) -> None:
    worker = ProcessRef(1001, "httpd")
    records = [
        _sock(TcpState.LISTEN, 0, ProcessRef(1000, "httpd"), worker, inode=1, rx_queue=2),
        _sock(TcpState.ESTABLISHED, 1, worker, inode=5),
        _sock(TcpState.CLOSE_WAIT, 2, inode=0, rx_queue=40),
        _sock(TcpState.ESTABLISHED, 3, inode=0, rx_queue=39),
    ]
    facts = _facts(tmp_path)
    classification = classify(records, [80])
    workers = count_workers(classification, facts, None)
    assert (workers.busy, pool_state(workers)) == (1, "spare")
    verdict = _verdict(tmp_path, records)
    assert "1 unowned CLOSE_WAIT in the accept queue of 0.0.0.0:80 (queue 2/?), 1 more client" in (
        verdict
    )
    assert (
        "a client that gave up before a worker accepted it, its request unread (Recv-Q above "
        "1); it will still be served"
    ) in verdict
    assert (
        "the pool is not drained, yet clients wait in the accept queue: Apache is not "
        "accepting them although it has room for 149 more workers"
    ) in verdict
    assert "drained by" not in verdict


def test_all_workers_busy_is_still_called_drained(tmp_path: Path) -> None:
    conf = PREFORK_CONF.replace("MaxRequestWorkers 150", "MaxRequestWorkers 2")
    facts = gather(_root(tmp_path, conf), "/etc/httpd.conf")
    a, b = ProcessRef(1001, "httpd"), ProcessRef(1002, "httpd")
    records = [
        _sock(TcpState.LISTEN, 0, ProcessRef(1000, "httpd"), a, b, inode=1, rx_queue=1),
        _sock(TcpState.CLOSE_WAIT, 1, a, inode=5, rx_queue=1),
        _sock(TcpState.ESTABLISHED, 2, b, inode=6),
        _sock(TcpState.CLOSE_WAIT, 3, inode=0, rx_queue=40),
    ]
    classification = classify(records, [80])
    workers = count_workers(classification, facts, None)
    assert pool_state(workers) == "drained"
    assert decide_cause(classification, workers, facts) == "handler"
    verdict = compose_verdict(classification, workers, facts, audit(facts), [80])
    assert "All MaxRequestWorkers=2 workers are busy" in verdict
    assert "the pool is drained by slow handlers" in verdict
    assert "Fix (the audit's findings give the lines to change): TA101 Timeout at " in verdict


# 3. Fixes are named, not joined into invalid one-line configuration.


def test_verdict_names_findings_and_the_audit_keeps_their_lines() -> None:
    result = diagnose(case("slow-handler-drained"))
    assert result.verdict_fixes and result.verdict_fixes[0] == "TA101"
    findings = {f.rule: f for f in result.findings}
    for rule in result.verdict_fixes:
        finding = findings[rule]
        assert f"{rule} " in result.verdict
        assert finding.fix
        # No fix line is pasted into the paragraph, let alone joined with `; `
        # ("Timeout 30" must not match the "Timeout 300" the verdict quotes).
        for line in filter(None, map(str.strip, finding.fix.splitlines())):
            assert not re.search(rf"(?<!\w){re.escape(line)}(?!\d)", result.verdict), line
    assert "`" not in result.verdict
    assert '"A trickle of stalled clients occupies every worker"' in result.verdict
    # A derived quantity is not shown as if it were a directive.
    assert "exhaustion_clients_per_second" not in result.verdict


def test_table_shows_the_named_fixes_one_directive_per_line() -> None:
    _, out, _ = run("--root", str(case("slow-handler-drained")))
    verdict, _, audit_part = out.partition("\nVerdict:\n")[2].partition("\n\n")
    assert "TA101 Timeout at" in " ".join(verdict.split())
    # The audit below the verdict prints each fix as lines of configuration.
    assert re.search(r"TA101 high: .*\n(?:.*\n)*?  fix:\n    Timeout 30\n", audit_part)
    assert re.search(
        r"  fix:\n(    .+\n)*    Timeout 30\n(    .+\n)*    MaxRequestWorkers", audit_part
    )


# 4. No listener: a sentence, not "no listener seen".


def test_live_host_with_nothing_listening(tmp_path: Path) -> None:
    root = _root(tmp_path)
    (root / "proc" / "net").mkdir(parents=True)
    (root / "proc" / "net" / "tcp").write_text(
        "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid"
        "  timeout inode\n"
    )
    result = diagnose(root, apache_conf="/etc/httpd.conf")
    assert result.verdict.startswith(
        "No CLOSE_WAIT on port 80: 0 connections accepted. Nothing listens on port 80 on this "
        "host: Apache is not running, or it listens on other ports (name them with --ports)."
    )
    assert "no listener seen" not in result.verdict
    # Nothing runs, so no "0 of 150 workers are busy".
    assert result.workers.busy is None and "workers are busy" not in result.verdict


def test_capture_without_listening_lines(tmp_path: Path) -> None:
    # A capture grepped down to the CLOSE_WAIT line: ss -e still tells it was accepted.
    worker = ProcessRef(1001, "httpd")
    records = [_sock(TcpState.CLOSE_WAIT, 1, worker, inode=200, rx_queue=1)]
    verdict = _verdict(tmp_path, records, "ss")
    assert (
        "The capture shows no socket listening on port 80, so the length of its accept queue "
        "is not known."
    ) in verdict
    assert "no listener seen" not in verdict


# 5. One process, one worker: singular.


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (["1001/php-cgi"], "1 CLOSE_WAIT held by process 1001: a handler still runs"),
        (["1001/php-cgi", "1002/php-cgi"], "2 CLOSE_WAIT held by processes 1001, 1002: "),
        (["1001/httpd"], "1 CLOSE_WAIT held by Apache worker (pid 1001): "),
        (["1001/httpd", "1002/httpd"], "2 CLOSE_WAIT held by Apache workers (pid 1001, 1002): "),
    ],
)
def test_holders_are_counted_in_the_right_number(
    tmp_path: Path, lines: list[str], expected: str
) -> None:
    text = NETSTAT_HEADER + (
        "tcp        0      0 0.0.0.0:80        0.0.0.0:*           LISTEN      1000/httpd\n"
    )
    for port, holder in enumerate(lines, start=54021):
        text += f"tcp        1      0 192.0.2.10:80     198.51.100.7:{port}  CLOSE_WAIT  {holder}\n"
    verdict = _verdict(tmp_path, parse_netstat(text), "netstat")
    assert expected in verdict
    assert "processes 1001:" not in verdict


def test_netstat_names_apache_workers_by_the_listeners_command() -> None:
    # netstat shows one process per socket: the listener names only httpd's parent,
    # and the workers are recognised by running the same command.
    name = "slow-handler-drained"
    result = diagnose(case(name), netstat=case(name) / "netstat-tanp.txt")
    assert "2 CLOSE_WAIT held by Apache workers (pid " in result.verdict


def test_one_queued_connection_waits(tmp_path: Path) -> None:
    worker = ProcessRef(1001, "httpd")
    records = [
        _sock(TcpState.LISTEN, 0, worker, inode=1, rx_queue=1),
        _sock(TcpState.ESTABLISHED, 1, inode=0),
    ]
    assert (
        "1 connection waits in the accept queue of 0.0.0.0:80 (queue 1/?) for a free worker."
        in _verdict(tmp_path, records)
    )


def test_a_listener_on_another_port_bounds_nothing(tmp_path: Path) -> None:
    # Listening on 443 with an empty queue says nothing of port 80's queue.
    listener = "tcp        0      0 0.0.0.0:443       0.0.0.0:*           LISTEN      -\n"
    records = parse_netstat(NETSTAT_HEADER + listener + INCIDENT_LINES)
    facts = _facts(tmp_path)
    classification = classify(records, [80, 443])
    assert classification.connections.close_wait_unknown == 2
    assert classification.unknown_ports == {80}
    workers = count_workers(classification, facts, None)
    verdict = compose_verdict(classification, workers, facts, audit(facts), [80, 443], "netstat")
    assert "The capture shows no socket listening on port 80" in verdict
    assert "at most 0" not in verdict and "holds 0 connections" not in verdict
