"""The kernel's TCP socket table: ``/proc/net/tcp`` and ``tcp6`` as typed records.

This module owns the record every socket source produces (``SocketRecord``)
and the reader of the kernel's text tables. It decides nothing about Apache;
``classify`` does. Other sources (``ss``, ``netstat`` captures) live in
``ss.py`` and produce the same record.

What the columns mean (net/ipv4/tcp_ipv4.c, ``get_tcp4_sock``):

- ``rx_queue`` on a LISTEN socket is the current accept-queue length
  (``sk_ack_backlog``); on any other socket it is the bytes received but not
  yet read by the application, counting a received FIN as one.
- ``tx_queue`` on a LISTEN socket is always 0 in this table: the backlog
  limit is only reported over netlink (``ss`` shows it as Send-Q). So a
  record read here has ``backlog=None``.
- ``inode`` 0 on an ESTABLISHED or CLOSE_WAIT socket means no process holds
  it: the connection waits in a listener's accept queue. Sockets the
  application already closed (FIN_WAIT, TIME_WAIT, LAST_ACK) also show 0.
"""

from __future__ import annotations

import ipaddress
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum

from ..apache.known_tokens import shown_prefix
from ..errors import ParseError
from ..lines import physical_lines
from ..numbers import ascii_hex, ascii_int
from ..rootfs import RootFS

__all__ = [
    "ProcessRef",
    "SocketRecord",
    "TcpState",
    "parse_proc_net_tcp",
    "read_proc_sockets",
    "with_owners",
]


class TcpState(StrEnum):
    """TCP states, named as the kernel's ``tcp_states.h`` names them."""

    ESTABLISHED = "ESTABLISHED"
    SYN_SENT = "SYN_SENT"
    SYN_RECV = "SYN_RECV"
    FIN_WAIT1 = "FIN_WAIT1"
    FIN_WAIT2 = "FIN_WAIT2"
    TIME_WAIT = "TIME_WAIT"
    CLOSE = "CLOSE"
    CLOSE_WAIT = "CLOSE_WAIT"
    LAST_ACK = "LAST_ACK"
    LISTEN = "LISTEN"
    CLOSING = "CLOSING"
    NEW_SYN_RECV = "NEW_SYN_RECV"


# The numeric states of include/net/tcp_states.h, as /proc/net/tcp prints them (hex).
_PROC_STATES: dict[int, TcpState] = {
    0x01: TcpState.ESTABLISHED,
    0x02: TcpState.SYN_SENT,
    0x03: TcpState.SYN_RECV,
    0x04: TcpState.FIN_WAIT1,
    0x05: TcpState.FIN_WAIT2,
    0x06: TcpState.TIME_WAIT,
    0x07: TcpState.CLOSE,
    0x08: TcpState.CLOSE_WAIT,
    0x09: TcpState.LAST_ACK,
    0x0A: TcpState.LISTEN,
    0x0B: TcpState.CLOSING,
    0x0C: TcpState.NEW_SYN_RECV,
}


@dataclass(frozen=True, slots=True)
class ProcessRef:
    """A process that holds a socket open: its pid and ``comm`` (command name)."""

    pid: int
    command: str


@dataclass(frozen=True, slots=True)
class SocketRecord:
    """One TCP socket as a source reports it.

    Attributes:
        local_address: the local IP address (IPv4-mapped IPv6 shown as IPv4).
        local_port: the local port.
        remote_address: the peer's IP address (``0.0.0.0``/``::`` for listeners).
        remote_port: the peer's port (0 for listeners).
        state: the TCP state.
        tx_queue: bytes sent and not yet acknowledged (not meaningful on LISTEN).
        rx_queue: bytes received and not read, a FIN counting one; on LISTEN,
            the accept-queue length.
        uid: the socket's owner uid, or None when the source does not say.
        inode: the socket inode; 0 when no process holds it, None when the
            source does not say (netstat).
        backlog: on LISTEN, the backlog limit in force, when the source knows it (ss).
        owners: processes holding the socket, when known.
        owners_listed: whether the source lists holding processes at all
            (``ss -p``, ``netstat -p``); without inodes, that is the only
            evidence of whether a socket was accepted.
    """

    local_address: str
    local_port: int
    remote_address: str
    remote_port: int
    state: TcpState
    tx_queue: int = 0
    rx_queue: int = 0
    uid: int | None = None
    inode: int | None = None
    backlog: int | None = None
    owners: tuple[ProcessRef, ...] = field(default=())
    owners_listed: bool = False

    @property
    def local(self) -> str:
        """``address:port``, IPv6 addresses in brackets."""
        return format_endpoint(self.local_address, self.local_port)

    @property
    def remote(self) -> str:
        return format_endpoint(self.remote_address, self.remote_port)

    @property
    def held(self) -> bool | None:
        """Whether some process holds the socket (accepted it, or opened it); None if unknown."""
        if self.inode is not None:
            return self.inode != 0
        if self.owners_listed:
            return bool(self.owners)
        return None


def format_endpoint(address: str, port: int) -> str:
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


_LITTLE_ENDIAN = sys.byteorder == "little"


def _decode_address(text: str, where: str, line: int) -> tuple[str, int]:
    address_hex, _, port_hex = text.partition(":")
    # [0-9A-Fa-f]{8}, as bytes.fromhex below takes it (int() alone would also
    # take "0x", "_" and other scripts' digits); letters past f fail in int().
    if (
        len(address_hex) == 8
        and address_hex.isascii()
        and address_hex.isalnum()
        and address_hex[1] not in "xX"
    ):
        # IPv4, most of a table: the dotted quad from the number, without
        # building an address object (a table of millions spent half its time there).
        port = _port(port_hex, text, where, line)
        try:
            value = int(address_hex, 16)
        except ValueError as exc:
            raise _bad_address(text, where, line) from exc
        first, second, third, fourth = (
            value >> 24,
            value >> 16 & 255,
            value >> 8 & 255,
            value & 255,
        )
        if _LITTLE_ENDIAN:
            first, second, third, fourth = fourth, third, second, first
        return f"{first}.{second}.{third}.{fourth}", port
    port = _port(port_hex, text, where, line)
    # An IPv6 address is 32 digits: a longer field (a forged table's 62 MiB)
    # is refused before it is decoded and regrouped.
    if len(address_hex) != 32:
        raise _bad_address(text, where, line)
    try:
        raw = bytes.fromhex(address_hex)
    except ValueError as exc:
        raise _bad_address(text, where, line) from exc
    # The kernel prints each 32-bit word of the address as a number in host
    # byte order (%08X of a __be32), so on little-endian hosts (x86, arm64)
    # every 4-byte group is reversed. Captures are read in this host's order.
    if sys.byteorder == "little":
        raw = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    if len(raw) != 16:
        raise _bad_address(text, where, line)
    address6 = ipaddress.IPv6Address(raw)
    # Dual-stack listeners (``Listen 80`` binds [::]) see IPv4 peers as ::ffff:a.b.c.d.
    mapped = address6.ipv4_mapped
    return (str(mapped) if mapped is not None else str(address6)), port


def _port(port_hex: str, text: str, where: str, line: int) -> int:
    # The kernel prints a port as %04X: four digits at most.
    port = ascii_hex(port_hex, 4)
    if port is None:
        raise _bad_address(text, where, line)
    return port


def _bad_address(text: str, where: str, line: int) -> ParseError:
    # A hostile table's field may be megabytes, or hold a token: cut, hidden.
    return ParseError(f"bad address {shown_prefix(text, 60)!r}", file=where, line=line)


# A host's socket tables are read whole, each record kept: 1,000,000 of them
# take about 12 s and 360 MB here (short forged lines fit 1.6 million in each
# 64 MiB table: 40 s and 1.1 GB for the two). Past this, a capture filtered
# to the ports is the way (ss -tan 'sport = :80').
MAX_PROC_SOCKETS = 1_000_000


def parse_proc_net_tcp(
    text: str,
    where: str = "proc/net/tcp",
    owners: Mapping[int, tuple[ProcessRef, ...]] | None = None,
    limit: int = MAX_PROC_SOCKETS,
    inodes: set[int] | None = None,
) -> list[SocketRecord]:
    """Parse the text of ``/proc/net/tcp`` or ``/proc/net/tcp6``.

    Args:
        text: the whole file, header line included.
        where: how the file is named in errors.
        owners: the processes holding each inode (``scan_owners``): each
            socket with an inode gets them, as ``with_owners`` would attach
            them afterwards (without a second record per socket).
        limit: the most sockets read (the tables of one host together).
        inodes: the socket inodes already read (tcp's, when tcp6 is read):
            a line of an inode already read is skipped, inode 0 (not yet
            accepted) aside.

    Raises:
        ParseError: a line does not have the kernel's layout, or the table
            holds more than ``limit`` sockets.
    """
    records: list[SocketRecord] = []
    # The local column names the same few endpoints (the listeners') millions
    # of times: each decoded once, one string each (at most 4,096 kept).
    locals_seen: dict[str, tuple[str, int]] = {}
    seen_inodes = inodes if inodes is not None else set()
    for number, line in enumerate(physical_lines(text), start=1):
        fields = line.split()
        if not fields or fields[0] == "sl":
            continue
        # sl local rem st tx:rx tr:when retrnsmt uid timeout inode ...
        if len(fields) < 10 or not fields[0].endswith(":"):
            raise ParseError("not a /proc/net/tcp line", file=where, line=number)
        if len(records) >= limit:
            raise ParseError(
                f"more than {MAX_PROC_SOCKETS:,} sockets: give --ss with a capture of the "
                "ports judged (ss -tanpe 'sport = :80')",
                file=where,
                line=number,
            )
        # As the kernel prints them: %02X, %08X:%08X, %5u and %lu.
        state = _PROC_STATES.get(ascii_hex(fields[3], 2) or 0)
        tx_hex, _, rx_hex = fields[4].partition(":")
        tx_queue, rx_queue = ascii_hex(tx_hex, 8), ascii_hex(rx_hex, 8)
        uid, inode = ascii_int(fields[7], 10), ascii_int(fields[9])
        if state is None or tx_queue is None or rx_queue is None or uid is None or inode is None:
            raise ParseError("not a /proc/net/tcp line", file=where, line=number)
        if inode:
            # A live table is printed in pieces: a socket changing state while
            # it is read can be on two lines. Each socket is counted once
            # (and a forged table repeating one inode with many holders gave
            # every line the same holders: 20,000 x 20,000 took 93 s).
            if inode in seen_inodes:
                continue
            seen_inodes.add(inode)
        local = locals_seen.get(fields[1])
        if local is None:
            local = _decode_address(fields[1], where, number)
            if len(locals_seen) < 4096:
                locals_seen[fields[1]] = local
        local_address, local_port = local
        remote_address, remote_port = _decode_address(fields[2], where, number)
        records.append(
            SocketRecord(
                local_address=local_address,
                local_port=local_port,
                remote_address=remote_address,
                remote_port=remote_port,
                state=state,
                tx_queue=tx_queue,
                rx_queue=rx_queue,
                uid=uid,
                inode=inode,
                owners=owners.get(inode, ()) if owners is not None and inode else (),
                owners_listed=owners is not None and inode != 0,
            )
        )
    return records


def read_proc_sockets(
    fs: RootFS, owners: Mapping[int, tuple[ProcessRef, ...]] | None = None
) -> list[SocketRecord]:
    """Read ``<root>/proc/net/tcp`` and ``tcp6`` (``owners``: as ``parse_proc_net_tcp``).

    On the live host (root ``/``) this is the network namespace tcpaudit runs
    in; Apache in another namespace (a container) is not visible from here.

    Raises:
        ParseError: ``proc/net/tcp`` is missing or unreadable (tcp6 may be
            missing: IPv6 can be disabled).
    """
    records: list[SocketRecord] = []
    inodes: set[int] = set()
    for name, required in (("tcp", True), ("tcp6", False)):
        tree_path = f"/proc/net/{name}"
        shown = fs.display_tree(tree_path)
        try:
            # Inside the root, no link followed, regular files only (a FIFO
            # here would block), 64 MiB at most. A byte that is not ASCII is
            # kept (surrogateescape) for the line parser to refuse by line.
            text = fs.read_bytes(tree_path).decode("ascii", "surrogateescape")
        except FileNotFoundError as exc:
            if not required:
                continue
            raise ParseError(
                "no TCP socket table here (give --ss or --netstat with a capture)", file=shown
            ) from exc
        except OSError as exc:
            raise ParseError(f"cannot read: {exc}", file=shown) from exc
        records.extend(
            parse_proc_net_tcp(text, shown, owners, MAX_PROC_SOCKETS - len(records), inodes)
        )
        del text  # before the next table is read
    return records


def with_owners(
    records: list[SocketRecord], owners: dict[int, tuple[ProcessRef, ...]]
) -> list[SocketRecord]:
    """Attach the processes holding each socket, by inode (``records`` itself is
    updated, and returned: a copy of a table of millions doubled its memory)."""
    for index, record in enumerate(records):
        if record.inode and not record.owners:
            records[index] = replace(
                record, owners=owners.get(record.inode, ()), owners_listed=True
            )
    return records
