"""The kernel's accept-queue counters: TcpExt ListenOverflows and ListenDrops.

``/proc/net/netstat`` holds pairs of lines per group, a line of names then a
line of values (``TcpExt: SyncookiesSent ... ListenOverflows ListenDrops ...``).
The kernel counts (net/ipv4/tcp_ipv4.c, ``tcp_v4_syn_recv_sock``; tcp_input.c,
``tcp_conn_request``):

- ListenOverflows: a handshake completion or a SYN found the listener's accept
  queue full and was dropped (the client retries, then gives up);
- ListenDrops: every connection request dropped at a listener, overflows
  included.

They are the network namespace's, every listener together, counted since
boot: a value alone says "it happened once"; its change over ``--watch``
says "it happens now". This module reads and parses; it judges nothing.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from ..numbers import ascii_int
from ..rootfs import RootFS

__all__ = ["ListenCounters", "parse_netstat_counters", "read_listen_counters"]

_PATH = "/proc/net/netstat"
_MAX_BYTES = 256 * 1024


@dataclass(frozen=True, slots=True)
class ListenCounters:
    """The two counters (None when the file does not hold one) and where they were read."""

    source: str
    listen_overflows: int | None
    listen_drops: int | None


def _signed(text: str) -> int | None:
    number = ascii_int(text.removeprefix("-"))
    return -number if number is not None and text.startswith("-") else number


def parse_netstat_counters(text: str) -> dict[str, int]:
    """The TcpExt counters of a ``/proc/net/netstat`` text, by name."""
    lines = text.splitlines()
    counters: dict[str, int] = {}
    for names_line, values_line in itertools.pairwise(lines):
        if not (names_line.startswith("TcpExt:") and values_line.startswith("TcpExt:")):
            continue
        names = names_line.split()[1:]
        values = values_line.split()[1:]
        numbers = [_signed(value) for value in values]
        if len(names) != len(values) or None in numbers:
            continue  # the names line again, a malformed pair, a number over 20 digits
        counters.update(
            (name, number)
            for name, number in zip(names, numbers, strict=True)
            if number is not None
        )
        break
    return counters


def read_listen_counters(fs: RootFS) -> ListenCounters | None:
    """Read ``<root>/proc/net/netstat``; None when it is absent or unreadable."""
    try:
        text = fs.read_bytes(_PATH, _MAX_BYTES).decode("ascii", errors="replace")
    except OSError:
        return None
    counters = parse_netstat_counters(text)
    if not counters:
        return None
    return ListenCounters(
        source=fs.display_tree(_PATH),
        listen_overflows=counters.get("ListenOverflows"),
        listen_drops=counters.get("ListenDrops"),
    )
