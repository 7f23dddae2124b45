"""Captured ``ss -tanpoe`` and ``netstat -tanp`` output as socket records.

For hosts where tcpaudit cannot run, an operator can paste what they already
captured. This module turns that text into the same ``SocketRecord`` the
``/proc`` reader produces; it judges nothing.

What each tool can tell (iproute2 ss.c, net-tools netstat.c):

- ``ss`` asks the kernel over netlink: on a LISTEN line Recv-Q is the
  accept-queue length and Send-Q the backlog limit; ``-e`` adds ``ino:N``
  (``ino:0`` = never accepted) and ``uid:N``; ``-p`` adds
  ``users:(("apache2",pid=N,fd=N))``.
- ``netstat`` reads /proc/net/tcp: Send-Q on LISTEN is 0 (no backlog), and
  the PID column is ``-`` both for a socket no process holds and for one
  whose process it may not inspect. Run as root, ``-`` means never accepted;
  otherwise it is ambiguous. ``ss -p`` without ``-e`` has the same gap.
  The records keep what the tool printed; ``classify`` decides what an
  empty process column proves.
"""

from __future__ import annotations

import ipaddress
import re

from ..errors import ParseError
from ..lines import physical_lines
from ..numbers import ascii_int
from ..provenance import Note
from ..sysctl.values import quoted
from .services import service_port
from .sockets import ProcessRef, SocketRecord, TcpState

__all__ = ["capture_notes", "parse_netstat", "parse_ss"]

# ss prints states with dashes and short names (ss.c: sstate_name).
_SS_STATES: dict[str, TcpState] = {
    "ESTAB": TcpState.ESTABLISHED,
    "SYN-SENT": TcpState.SYN_SENT,
    "SYN-RECV": TcpState.SYN_RECV,
    "FIN-WAIT-1": TcpState.FIN_WAIT1,
    "FIN-WAIT-2": TcpState.FIN_WAIT2,
    "TIME-WAIT": TcpState.TIME_WAIT,
    "UNCONN": TcpState.CLOSE,
    "CLOSE-WAIT": TcpState.CLOSE_WAIT,
    "LAST-ACK": TcpState.LAST_ACK,
    "LISTEN": TcpState.LISTEN,
    "CLOSING": TcpState.CLOSING,
}
# netstat prints the kernel's names with underscores (netstat.c: tcp_state).
_NETSTAT_STATES: dict[str, TcpState] = {
    "ESTABLISHED": TcpState.ESTABLISHED,
    "SYN_SENT": TcpState.SYN_SENT,
    "SYN_RECV": TcpState.SYN_RECV,
    "FIN_WAIT1": TcpState.FIN_WAIT1,
    "FIN_WAIT2": TcpState.FIN_WAIT2,
    "TIME_WAIT": TcpState.TIME_WAIT,
    "CLOSE": TcpState.CLOSE,
    "CLOSE_WAIT": TcpState.CLOSE_WAIT,
    "LAST_ACK": TcpState.LAST_ACK,
    "LISTEN": TcpState.LISTEN,
    "CLOSING": TcpState.CLOSING,
}
_USER = re.compile(r'\("([^"\\]*+(?:\\.[^"\\]*+)*+)",pid=(\d+),fd=\d+\)')
_INODE = re.compile(r"\bino:(\d+)")
_UID = re.compile(r"\buid:(\d+)")


def _split_endpoint(text: str, file: str, line: int) -> tuple[str, int]:
    """``127.0.0.1:80``, ``[::1]:80``, ``:::80``, ``*:80``, ``[fe80::1]%eth0:80`` -> (address, port)."""
    address, sep, port_text = text.rpartition(":")
    if not sep:
        raise ParseError(f"no port in {text!r}", file=file, line=line)
    port = 0 if port_text == "*" else _port(port_text, file, line)
    address = address.split("%", 1)[0].strip("[]")
    if address in ("*", "", "::"):
        # ss shows wildcard listeners as * (both families), netstat as ::.
        address = "::" if address == "::" else "0.0.0.0"
    if address.startswith("::ffff:") and "." in address:
        address = address.removeprefix("::ffff:")
    return address, port


def _port(text: str, file: str, line: int) -> int:
    """A port as printed: a number, or (without -n) a service name such as ``http``."""
    if text.isdigit():
        number = ascii_int(text)
        if number is None or number > 65535:
            raise ParseError(f"not a port: {quoted(text)}", file=file, line=line)
        return number
    port = service_port(text)
    if port is None:
        raise ParseError(
            f"unknown service name {text!r} (not in /etc/services or tcpaudit's own table): "
            "capture with -n to print ports as numbers",
            file=file,
            line=line,
        )
    return port


# An IPv4 address as ipaddress accepts it (decimal octets up to 255, no
# leading zero): most addresses of a capture, matched without building one.
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4 = re.compile(rf"(?:{_OCTET}\.){{3}}{_OCTET}")


def _is_address(text: str) -> bool:
    if _IPV4.fullmatch(text):
        return True
    if ":" not in text:
        return False  # neither IPv4 nor IPv6: a host name
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def capture_notes(records: list[SocketRecord], text: str, file: str, tool: str) -> list[Note]:
    """What a capture taken as users take it cannot show, said once each.

    ``netstat -tp`` (the usual paste) has no listener (no ``-l``/``-a``), so
    no accept queue; without ``-p`` no process; without ``-n`` host names
    instead of addresses, which netstat truncates to fit its column
    (``s1117227.xgsspn.imtp.``), and service names instead of ports.
    """
    notes: list[Note] = []
    if records and not any(record.state is TcpState.LISTEN for record in records):
        notes.append(
            Note(
                message=f"the {tool} capture has no listening socket (taken without -l or -a): "
                "the accept queue's length and limit, and so how many clients wait for a "
                "worker, are not in it",
                file=file,
            )
        )
    if records and not any(record.owners_listed for record in records):
        notes.append(
            Note(
                message=f"the {tool} capture has no process column (taken without -p): which "
                "process holds each socket is not in it",
                file=file,
            )
        )
    # Each distinct address once: a capture repeats the same few many times.
    addresses = {r.remote_address for r in records} | {r.local_address for r in records}
    names = sorted(address for address in addresses if not _is_address(address))
    if names:
        shown = ", ".join(names[:3]) + (", ..." if len(names) > 3 else "")
        notes.append(
            Note(
                message=f"the {tool} capture shows host names ({shown}; taken without -n): they "
                "are kept as printed, as opaque names (netstat cuts long ones to fit its "
                "column, so they may not resolve), and service names were read back as ports "
                "through the services table",
                file=file,
            )
        )
    return notes


def _int(text: str, file: str, line: int) -> int:
    number = ascii_int(text)
    if number is None:
        raise ParseError(f"expected a number, found {quoted(text)}", file=file, line=line)
    return number


# The distinct processes a capture may name (one object each): a single line
# of 2.4 million users:((...)) entries fits in 64 MiB and took 1.1 GB; 893,000
# sockets of distinct processes, 678 MiB.
MAX_CAPTURE_PROCESSES = 1_000_000


def parse_ss(text: str, file: str = "ss") -> list[SocketRecord]:
    """Parse ``ss -tan`` output, with any of ``-p``, ``-o``, ``-e``.

    Continuation lines (older ss wraps the ``-e``/``-p`` details onto an
    indented line) are joined to the socket above them.

    Raises:
        ParseError: a line is neither a header, a socket nor a continuation.
    """
    records: list[SocketRecord] = []
    owners_listed = "users:(" in text
    # One object per distinct process and local address: a capture names the
    # same few many times, and 900,000 copies held hundreds of MB.
    processes: dict[tuple[str, str], ProcessRef] = {}
    addresses: dict[str, str] = {}

    def record_of(number: int, row: str) -> SocketRecord:
        fields = row.split()
        if fields[0] == "tcp":  # `ss -an` without -t prints a Netid column first
            fields = fields[1:]
        if len(fields) < 5 or fields[0] not in _SS_STATES:
            raise ParseError("not an `ss -tan` line", file=file, line=number)
        state = _SS_STATES[fields[0]]
        recv_q, send_q = _int(fields[1], file, number), _int(fields[2], file, number)
        local_address, local_port = _split_endpoint(fields[3], file, number)
        remote_address, remote_port = _split_endpoint(fields[4], file, number)
        details = " ".join(fields[5:])
        inode = _INODE.search(details)
        uid = _UID.search(details)
        owners: dict[ProcessRef, None] = {}
        for match in _USER.finditer(details):
            name, pid_text = match.groups()
            process = processes.get((name, pid_text))
            if process is None:
                pid = ascii_int(pid_text)
                if pid is None:
                    continue
                if len(processes) >= MAX_CAPTURE_PROCESSES:
                    raise ParseError(
                        f"more than {MAX_CAPTURE_PROCESSES:,} processes named: give a capture "
                        "of the ports judged (ss -tanpe 'sport = :80')",
                        file=file,
                        line=number,
                    )
                process = processes.setdefault((name, pid_text), ProcessRef(pid=pid, command=name))
            owners[process] = None
        listening = state is TcpState.LISTEN
        return SocketRecord(
            local_address=addresses.setdefault(local_address, local_address),
            local_port=local_port,
            remote_address=remote_address,
            remote_port=remote_port,
            state=state,
            tx_queue=0 if listening else send_q,
            rx_queue=recv_q,
            uid=ascii_int(uid.group(1)) if uid else None,
            # Without -e ss does not print inodes; ownership then comes
            # from -p alone, as with netstat.
            inode=ascii_int(inode.group(1)) if inode else None,
            backlog=send_q if listening else None,
            owners=tuple(owners),
            owners_listed=owners_listed,
        )

    # A socket's line and its continuations, read when the next socket starts:
    # joining line by line is quadratic in a capture of many continuation lines.
    pending: tuple[int, list[str]] | None = None
    for number, raw in enumerate(physical_lines(text), start=1):
        if not raw.strip() or raw.startswith(("State", "Netid")):
            continue
        first = raw.split(None, 1)[0]
        if first in _SS_STATES or (first == "tcp" and len(raw.split(None, 2)) > 1):
            if pending is not None:
                records.append(record_of(pending[0], " ".join(pending[1])))
            pending = (number, [raw])
        elif raw[:1].isspace() and pending is not None:
            pending[1].append(raw.strip())
        else:
            raise ParseError("not an `ss -tan` line", file=file, line=number)
    if pending is not None:
        records.append(record_of(pending[0], " ".join(pending[1])))
    return records


def parse_netstat(text: str, file: str = "netstat") -> list[SocketRecord]:
    """Parse ``netstat -tan`` output, with or without ``-p``.

    Raises:
        ParseError: a ``tcp``/``tcp6`` line does not have netstat's columns.
    """
    records: list[SocketRecord] = []
    owners_listed = "PID/Program" in text
    for number, raw in enumerate(physical_lines(text), start=1):
        fields = raw.split()
        if not fields or fields[0] not in ("tcp", "tcp6"):
            continue  # headers, "Active Internet connections", UNIX sockets
        if len(fields) < 6 or fields[5] not in _NETSTAT_STATES:
            raise ParseError("not a `netstat -tan` line", file=file, line=number)
        local_address, local_port = _split_endpoint(fields[3], file, number)
        remote_address, remote_port = _split_endpoint(fields[4], file, number)
        owners: tuple[ProcessRef, ...] = ()
        if len(fields) > 6 and fields[6] != "-":
            pid, _, command = fields[6].partition("/")
            pid_number = ascii_int(pid)
            if pid_number is not None:
                owners = (ProcessRef(pid=pid_number, command=command or "?"),)
        records.append(
            SocketRecord(
                local_address=local_address,
                local_port=local_port,
                remote_address=remote_address,
                remote_port=remote_port,
                state=_NETSTAT_STATES[fields[5]],
                tx_queue=_int(fields[2], file, number),
                rx_queue=_int(fields[1], file, number),
                inode=None,
                owners=owners,
                owners_listed=owners_listed,
            )
        )
    return records
