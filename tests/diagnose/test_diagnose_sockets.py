"""The socket table reader: real /proc/net/tcp lines from a drained Apache, IPv6, errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from diagnose_helpers import case, case_port

from tcpaudit.diagnose import TcpState, parse_proc_net_tcp, read_proc_sockets
from tcpaudit.diagnose import sockets as sockets_module
from tcpaudit.diagnose import ss as ss_module
from tcpaudit.diagnose.ss import parse_netstat, parse_ss
from tcpaudit.errors import ParseError
from tcpaudit.rootfs import RootFS

HEADER = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"


def test_real_table_of_a_drained_server() -> None:
    port = case_port("slow-handler-drained")
    records = read_proc_sockets(RootFS(case("slow-handler-drained")))
    server = [r for r in records if r.local_port == port]
    (listener,) = [r for r in server if r.state is TcpState.LISTEN]
    # On a LISTEN socket rx_queue is the accept queue; tx_queue is not the backlog here.
    assert (listener.local, listener.rx_queue, listener.tx_queue) == (f"127.0.0.1:{port}", 3, 0)
    assert listener.backlog is None
    close_wait = [r for r in server if r.state is TcpState.CLOSE_WAIT]
    held = sorted((r.rx_queue, r.uid) for r in close_wait if r.inode)
    queued = sorted((r.rx_queue, r.uid) for r in close_wait if r.inode == 0)
    # Held by a worker (uid nobody): the request was read, only the FIN is unread.
    assert held == [(1, 65534), (1, 65534)]
    # Never accepted: 39 request bytes + FIN unread, socket still the listener's (uid 0).
    assert queued == [(40, 0), (40, 0)]
    assert all(r.held is False for r in server if r.inode == 0)
    # The test client's own sockets are in the table too, with the port as remote end.
    assert any(r.remote_port == port and r.state is TcpState.FIN_WAIT2 for r in records)


def test_ipv6_and_ipv4_mapped_addresses() -> None:
    text = HEADER + (
        # [::]:80 listening, accept queue 2
        "   0: 00000000000000000000000000000000:0050 00000000000000000000000000000000:0000 0A "
        "00000000:00000002 00:00000000 00000000     0        0 4242 1 0 100 0 0 10 0\n"
        # ::ffff:127.0.0.1:80 <- ::ffff:127.0.0.1:40000, CLOSE_WAIT, never accepted
        "   1: 0000000000000000FFFF00000100007F:0050 0000000000000000FFFF00000100007F:9C40 08 "
        "00000000:00000001 00:00000000 00000000     0        0 0 2 0 20 4 28 10 -1\n"
        # ::1:80 <- ::1:40001, established, held by uid 33
        "   2: 00000000000000000000000001000000:0050 00000000000000000000000001000000:9C41 01 "
        "00000000:00000000 00:00000000 00000000    33        0 4343 2 0 20 4 28 10 -1\n"
    )
    listener, mapped, loopback = parse_proc_net_tcp(text, "proc/net/tcp6")
    assert (listener.local, listener.state, listener.rx_queue) == ("[::]:80", TcpState.LISTEN, 2)
    assert (mapped.local, mapped.remote, mapped.held) == ("127.0.0.1:80", "127.0.0.1:40000", False)
    assert (loopback.local, loopback.uid, loopback.held) == ("[::1]:80", 33, True)


def test_time_wait_lines_are_shorter_and_still_parse() -> None:
    text = HEADER + (
        "   9: 0100007F:80E7 0100007F:C406 06 00000000:00000000 03:0000175A 00000000"
        "     0        0 0 3 00000000c2a8bdac\n"
    )
    (record,) = parse_proc_net_tcp(text)
    assert (record.state, record.inode, record.local_port) == (TcpState.TIME_WAIT, 0, 0x80E7)


def test_a_broken_line_names_file_and_line() -> None:
    with pytest.raises(ParseError) as caught:
        parse_proc_net_tcp(HEADER + "   0: 0100007F:0050 garbage\n", "proc/net/tcp")
    assert str(caught.value) == "proc/net/tcp:2: not a /proc/net/tcp line"


@pytest.mark.parametrize("separator", ["\f", "\v", "\r", "\x1c", "\x1e", "\x85", "\u2028"])
def test_lines_are_counted_at_line_feeds_only(separator: str) -> None:
    # The kernel and the tools end a line with LF alone; a form feed inside
    # line 2 is that line's (str.splitlines cut there: the error after it was
    # said to be on line 4 of a 3-line file).
    listener = "   0: 00000000:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 1"
    with pytest.raises(ParseError) as caught:
        parse_proc_net_tcp(HEADER + listener + separator + listener + "\ngarbage\n")
    assert str(caught.value).startswith("proc/net/tcp:3: ")
    netstat = (
        "Proto Recv-Q Send-Q Local Address Foreign Address State PID/Program name\n"
        f"tcp 0 0 0.0.0.0:80 0.0.0.0:* LISTEN 11/apa{separator}che2\n"
        "tcp x 0 10.0.0.1:80 10.0.0.2:5000 CLOSE_WAIT -\n"
    )
    with pytest.raises(ParseError) as caught:
        parse_netstat(netstat, "ns.txt")
    assert str(caught.value).startswith("ns.txt:3: ")
    ss = (
        "State Recv-Q Send-Q Local Address:Port Peer Address:Port Process\n"
        f'LISTEN 0 511 0.0.0.0:80 0.0.0.0:* users:(("apa{separator}che2",pid=11,fd=3))\n'
        "CLOSE-WAIT x 0 10.0.0.1:80 10.0.0.2:5000\n"
    )
    with pytest.raises(ParseError) as caught:
        parse_ss(ss, "ss.txt")
    assert str(caught.value).startswith("ss.txt:3: ")


def test_missing_table_is_an_error_but_missing_tcp6_is_not(tmp_path: Path) -> None:
    with pytest.raises(ParseError, match="proc/net/tcp: no TCP socket table"):
        read_proc_sockets(RootFS(tmp_path))
    (tmp_path / "proc" / "net").mkdir(parents=True)
    (tmp_path / "proc" / "net" / "tcp").write_text(HEADER)
    assert read_proc_sockets(RootFS(tmp_path)) == []


def test_a_bad_address_names_file_and_line() -> None:
    line = "   0: 0100007F00:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 1 1\n"
    with pytest.raises(ParseError) as caught:
        parse_proc_net_tcp(HEADER + line, "proc/net/tcp")
    assert str(caught.value) == "proc/net/tcp:2: bad address '0100007F00:0050'"


GOOD = "   0: 0100007F:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 1 1\n"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        # int(x, 16) has no digit limit: a queue of thousands of digits was
        # read, then failed where it was shown (a traceback, exit 1).
        (4, "00000000:" + "F" * 4000),
        (4, "F" * 9 + ":00000000"),
        (1, "0100007F:" + "F" * 4000),
        (2, "00000000:10000"),
        (3, "00A"),
        (3, "0x"),
        (4, "0x1:0"),
        (4, "_1:0"),
        (7, "1" * 11),
        (7, "٣"),  # an Arabic-Indic digit: int() reads it, the kernel never writes it
        (9, "9" * 4400),
    ],
)
def test_a_field_the_kernel_cannot_print_is_a_bad_line(field: int, value: str) -> None:
    words = GOOD.split()
    words[field] = value
    with pytest.raises(ParseError) as caught:
        parse_proc_net_tcp(HEADER + "   " + " ".join(words) + "\n", "proc/net/tcp")
    assert str(caught.value).startswith("proc/net/tcp:2: ")
    assert len(str(caught.value)) < 200


def test_the_widest_fields_the_kernel_prints_are_read() -> None:
    words = GOOD.split()
    words[1], words[3], words[4], words[7] = (
        "FFFFFFFF:FFFF",
        "0A",
        "FFFFFFFF:FFFFFFFF",
        "4294967295",
    )
    (record,) = parse_proc_net_tcp(HEADER + "   " + " ".join(words) + "\n")
    assert (record.local_port, record.tx_queue, record.rx_queue, record.uid) == (
        65535,
        2**32 - 1,
        2**32 - 1,
        2**32 - 1,
    )


@pytest.mark.parametrize("line", [b"   0: \xff\n", "   0: 0100007F:\u0660050 x\n".encode()])
def test_a_byte_that_is_not_ascii_is_a_bad_line_named(tmp_path: Path, line: bytes) -> None:
    # The whole table was decoded as ASCII first: the error named no line.
    (tmp_path / "proc/net").mkdir(parents=True)
    (tmp_path / "proc/net/tcp").write_bytes(HEADER.encode() + GOOD.encode() + line)
    with pytest.raises(ParseError) as caught:
        read_proc_sockets(RootFS(tmp_path))
    assert str(caught.value).startswith("proc/net/tcp:3: ")


def test_more_sockets_than_the_bound_is_one_error_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Short forged lines fit 1.6 million sockets in each 64 MiB table (40 s,
    # 1.1 GB): the tables of one host are read up to a bound, lowered here.
    line = "   0: 00000000:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 {}\n"
    (tmp_path / "proc/net").mkdir(parents=True)
    (tmp_path / "proc/net/tcp").write_text(HEADER + "".join(line.format(n) for n in (1, 2, 3)))
    (tmp_path / "proc/net/tcp6").write_text(HEADER + "".join(line.format(n) for n in (4, 5, 6)))
    monkeypatch.setattr(sockets_module, "MAX_PROC_SOCKETS", 6)
    assert len(read_proc_sockets(RootFS(tmp_path))) == 6
    monkeypatch.setattr(sockets_module, "MAX_PROC_SOCKETS", 4)
    with pytest.raises(ParseError) as caught:
        read_proc_sockets(RootFS(tmp_path))
    # The fifth socket is the second of tcp6, on its third line.
    assert str(caught.value).startswith("proc/net/tcp6:3: more than 4 sockets: give --ss")


def test_a_capture_naming_more_processes_than_the_bound_is_one_error_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # One line of 2.4 million users:((...)) entries fits in 64 MiB and took
    # 1.1 GB: the distinct processes a capture names are bounded (lowered here).
    users = ",".join(f'("a",pid={pid},fd=3)' for pid in range(6))
    capture = (
        "State Recv-Q Send-Q Local Address:Port Peer Address:Port Process\n"
        'LISTEN 0 511 0.0.0.0:80 0.0.0.0:* users:(("a",pid=0,fd=3))\n'
        f"CLOSE-WAIT 1 0 10.0.0.1:80 10.0.0.2:1 users:({users}) ino:7\n"
    )
    monkeypatch.setattr(ss_module, "MAX_CAPTURE_PROCESSES", 6)
    assert len(parse_ss(capture, "ss.txt")) == 2
    monkeypatch.setattr(ss_module, "MAX_CAPTURE_PROCESSES", 5)
    with pytest.raises(ParseError) as caught:
        parse_ss(capture, "ss.txt")
    assert str(caught.value).startswith("ss.txt:3: more than 5 processes named")


def test_a_socket_on_two_lines_is_counted_once(tmp_path: Path) -> None:
    # A live table is printed in pieces: a socket changing state while it is
    # read is on two lines (seen on this machine's own /proc). A forged table
    # repeating one inode gave every line the same holders: work of lines x
    # holders (20,000 x 20,000 took 93 s). Inode 0 (not yet accepted) repeats.
    line = "   0: 00000000:0050 0A00000{}:1F90 08 00000000:00000000 00:00000000 00000000 0 0 {}\n"
    (tmp_path / "proc/net").mkdir(parents=True)
    (tmp_path / "proc/net/tcp").write_text(HEADER + line.format(1, 0) + line.format(2, 0))
    (tmp_path / "proc/net/tcp6").write_text(
        HEADER + line.format(3, 7) + line.format(4, 7) + line.format(5, 8)
    )
    records = read_proc_sockets(RootFS(tmp_path))
    assert [(record.remote_address, record.inode) for record in records] == [
        ("1.0.0.10", 0),
        ("2.0.0.10", 0),
        ("3.0.0.10", 7),
        ("5.0.0.10", 8),
    ]
