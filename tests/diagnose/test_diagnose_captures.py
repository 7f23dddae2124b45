"""ss and netstat captures taken at the same moment as /proc tell the same story."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from diagnose_helpers import CASES, case, case_port

from tcpaudit.diagnose import (
    Classification,
    classify,
    parse_netstat,
    parse_ss,
    read_proc_sockets,
    scan_owners,
)
from tcpaudit.diagnose.sockets import SocketRecord, TcpState, with_owners
from tcpaudit.errors import ParseError
from tcpaudit.rootfs import RootFS


def _from_proc(name: str) -> Classification:
    fs = RootFS(case(name))
    records = with_owners(read_proc_sockets(fs), scan_owners(fs).by_inode)
    return classify(records, [case_port(name)])


@pytest.mark.parametrize("name", CASES)
def test_ss_capture_agrees_with_proc(name: str) -> None:
    text = (case(name) / "ss-tanpoe.txt").read_text()
    from_ss = classify(parse_ss(text, "ss-tanpoe.txt"), [case_port(name)])
    from_proc = _from_proc(name)
    assert from_ss.connections == from_proc.connections
    assert {o.pid for o in from_ss.owners} == {o.pid for o in from_proc.owners}
    # ss reports the kernel's backlog (Send-Q on LISTEN); /proc does not.
    (listener,) = from_ss.listeners
    backlog = 2 if name == "backlog-full" else 511  # the case's ListenBacklog, else httpd's default
    assert (listener.backlog, listener.backlog_source) == (backlog, "ss")
    assert listener.accept_queue == from_proc.listeners[0].accept_queue


@pytest.mark.parametrize("name", CASES)
def test_netstat_capture_agrees_with_proc(name: str) -> None:
    text = (case(name) / "netstat-tanp.txt").read_text()
    from_netstat = classify(parse_netstat(text, "netstat-tanp.txt"), [case_port(name)])
    assert from_netstat.connections == _from_proc(name).connections
    # netstat's Send-Q on LISTEN is 0, not the backlog: none is claimed.
    (listener,) = from_netstat.listeners
    assert listener.backlog is None


def test_ss_without_inodes_or_processes_cannot_tell_queued_from_held() -> None:
    text = (
        "State      Recv-Q Send-Q Local Address:Port  Peer Address:Port\n"
        "LISTEN     2      128    *:80     *:*\n"
        "CLOSE-WAIT 1      0      [::ffff:10.0.0.5]:80   [::ffff:10.9.9.9]:54021\n"
        "CLOSE-WAIT 913    0      [::ffff:10.0.0.5]:80   [::ffff:10.9.9.9]:50953\n"
    )
    result = classify(parse_ss(text), [80])
    assert result.connections.close_wait_unknown == 2
    assert result.connections.close_wait_unaccepted == result.connections.close_wait_owned == 0
    assert [s.remote for s in result.close_wait] == ["10.9.9.9:50953", "10.9.9.9:54021"]
    assert result.listeners[0].address == "0.0.0.0:80"


def test_older_ss_continuation_lines_are_joined() -> None:
    text = (
        "State      Recv-Q Send-Q Local Address:Port  Peer Address:Port\n"
        "CLOSE-WAIT 1      0      10.0.0.5:80   10.9.9.9:54021\n"
        '\t users:(("httpd",pid=4321,fd=12)) uid:48 ino:99 sk:1 <->\n'
    )
    (record,) = parse_ss(text)
    assert (record.inode, record.uid, record.owners[0].pid) == (99, 48, 4321)


def test_netstat_of_the_original_incident() -> None:
    # The two lines of the case that started the project (KNOWLEDGE.md), as
    # netstat -tanp printed them, with addresses made numeric. PID `-` is
    # "never accepted" or "not run as root", and nothing here says which.
    text = (
        "Proto Recv-Q Send-Q Local Address     Foreign Address     State       PID/Program name\n"
        "tcp        1      0 192.0.2.10:80     198.51.100.7:54021  CLOSE_WAIT  -\n"
        "tcp      913      0 192.0.2.10:80     198.51.100.7:50953  CLOSE_WAIT  -\n"
    )
    result = classify(parse_netstat(text), [80])
    c = result.connections
    assert (c.close_wait_unknown, c.close_wait_unaccepted, c.close_wait_owned) == (2, 0, 0)
    assert [s.accepted for s in result.close_wait] == [None, None]
    assert sorted(s.unread_bytes for s in result.close_wait) == [1, 913]
    assert (result.unknown_holder, result.unknown_unread) == (2, 1)


@pytest.mark.parametrize(
    ("parser", "text", "message"),
    [
        (parse_ss, "State Recv-Q\nESTAB 0 0 10.0.0.1\n", "ss:2: not an `ss -tan` line"),
        (parse_ss, "State Recv-Q\nbogus line\n", "ss:2: not an `ss -tan` line"),
        (parse_ss, "LISTEN x 0 1.2.3.4:80 *:*\n", "ss:1: expected a number, found 'x'"),
        (
            parse_netstat,
            "tcp 0 0 1.2.3.4:80 5.6.7.8:9 NOPE\n",
            "netstat:1: not a `netstat -tan` line",
        ),
    ],
)
def test_broken_captures_name_file_and_line(
    parser: Callable[[str], list[SocketRecord]], text: str, message: str
) -> None:
    with pytest.raises(ParseError) as caught:
        parser(text)
    assert str(caught.value) == message


def test_states_are_named_alike() -> None:
    line = "SYN-RECV 0 0 10.0.0.5:80 10.9.9.9:1\nLAST-ACK 0 0 10.0.0.5:80 10.9.9.9:2\n"
    assert [r.state for r in parse_ss(line)] == [TcpState.SYN_RECV, TcpState.LAST_ACK]
