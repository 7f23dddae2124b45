"""Sort the sockets on Apache's ports into what they mean for its workers.

This module owns the reading of the socket table (KNOWLEDGE.md, "Reading
those sockets"): which listener holds how many connections in its accept
queue, which CLOSE_WAIT sockets were never accepted (no process, inode 0: the
client gave up while queued) and which a worker holds (a handler still runs
for a client that left), and who holds what. It knows nothing of the
configuration beyond the ports and a backlog; ``verdict`` combines the two.

Where the source cannot tell queued from held, it says so (``*_unknown``)
rather than guess: netstat's PID ``-`` and an ``ss -p`` line without
``users:`` mean "no process" only when the capture could see Apache's
processes at all, which the listening socket shows (``_holder_known``).
"""

from __future__ import annotations

import heapq
from collections import Counter
from dataclasses import dataclass, field
from typing import Literal

from ..apache.apr_addresses import listen_port
from ..apache.model import ApacheConfig
from .instances import APACHE_COMMANDS
from .model import MAX_PIDS_LISTED, CloseWaitSocket, Connections, Listener, Owner
from .sockets import SocketRecord, TcpState

__all__ = [
    "MAX_CLOSE_WAIT_LISTED",
    "MAX_LISTED",
    "Classification",
    "classify",
    "listen_ports",
]

# Enough evidence to read; a host with thousands says the same thing a thousand times.
MAX_CLOSE_WAIT_LISTED = 100
# Listeners and processes listed (the worst first); the rest are counted. A
# capture of 908,572 sockets of as many processes held 2.9 GB and printed a
# table of every process.
MAX_LISTED = 100

# States in which a process may still hold the socket: after close() the kernel
# alone keeps LAST_ACK, CLOSING and TIME_WAIT, and SYN_RECV is not accepted
# yet. FIN_WAIT stays with Apache during its lingering close.
_HOLDABLE = frozenset(
    {TcpState.ESTABLISHED, TcpState.CLOSE_WAIT, TcpState.FIN_WAIT1, TcpState.FIN_WAIT2}
)

# What a listener's accept queue can hold: connections past the handshake.
_QUEUEABLE = frozenset({TcpState.ESTABLISHED, TcpState.CLOSE_WAIT})

_STATE_FIELDS: dict[TcpState, str] = {
    TcpState.SYN_RECV: "syn_recv",
    TcpState.NEW_SYN_RECV: "syn_recv",
    TcpState.FIN_WAIT1: "fin_wait",
    TcpState.FIN_WAIT2: "fin_wait",
    TcpState.TIME_WAIT: "time_wait",
    TcpState.LAST_ACK: "last_ack",
    TcpState.CLOSING: "closing",
}

# Which count of ``per_owner`` a socket's state adds to (2: other states).
_OWNER_BUCKETS = {TcpState.CLOSE_WAIT: 0, TcpState.ESTABLISHED: 1}


@dataclass
class Classification:
    """The sockets on the ports, sorted.

    Attributes:
        listeners: one per listening socket on the ports.
        connections: counts by meaning.
        owners: processes holding sockets on the ports, Apache's first (at
            most MAX_LISTED); owners_not_listed: how many more.
        listeners_not_listed: listening sockets beyond MAX_LISTED.
        close_wait: the CLOSE_WAIT sockets themselves (at most MAX_CLOSE_WAIT_LISTED).
        close_wait_truncated: more existed than are listed.
        held: accepted connections on the ports (non-listening sockets a process holds).
        unattributed: accepted connections whose holding process is unknown.
        unknown_holder: connections on the ports that a process may hold, but
            whether one does the source cannot tell (so workers cannot be counted).
        unknown_unread: CLOSE_WAIT among those with request bytes still unread
            (receive queue above the FIN's one byte).
        unknown_ports: the ports of the CLOSE_WAIT among those.
        apache_pids: processes holding a listening socket on the ports, and
            processes on the ports running the same command.
    """

    listeners: list[Listener] = field(default_factory=list)
    connections: Connections = field(default_factory=Connections)
    owners: list[Owner] = field(default_factory=list)
    owners_not_listed: int = 0
    listeners_not_listed: int = 0
    close_wait: list[CloseWaitSocket] = field(default_factory=list)
    close_wait_truncated: bool = False
    held: int = 0
    unattributed: int = 0
    unknown_holder: int = 0
    unknown_unread: int = 0
    unknown_ports: frozenset[int] = frozenset()
    apache_pids: frozenset[int] = frozenset()


def listen_ports(config: ApacheConfig) -> list[int]:
    """The ports of the configuration's ``Listen`` lines (``80``, ``1.2.3.4:80``, ``[::1]:443 https``)."""
    setting = config.settings.get("Listen")
    values = setting.value if setting is not None else None
    if not isinstance(values, list):
        return []
    ports: set[int] = set()
    for value in values:
        words = str(value).split()
        if not words:
            continue
        port = listen_port(words[0])
        if port is not None:
            ports.add(port)
    return sorted(ports)


def classify(
    records: list[SocketRecord],
    ports: list[int],
    *,
    config_backlog: int | None = None,
) -> Classification:
    """Sort server-side sockets whose local port is one of ``ports``.

    Client-side sockets to those ports (this host connecting to itself) have
    the port as their remote end and are not counted.

    Args:
        records: the socket table, with owners attached when known.
        ports: Apache's listening ports.
        config_backlog: the backlog the configuration implies, used when the
            source does not report the kernel's (``/proc``, ``netstat``).
    """
    wanted = set(ports)
    on_ports = [r for r in records if r.local_port in wanted]
    result = Classification()
    listening = [r for r in on_ports if r.state is TcpState.LISTEN]
    apache_pids = {process.pid for record in listening for process in record.owners}
    # netstat names one process per socket (the first whose fd it finds), so
    # the listener shows httpd's parent only; its workers run the same command.
    listener_commands = {process.command for record in listening for process in record.owners}
    apache_pids |= {
        process.pid
        for record in on_ports
        for process in record.owners
        if process.command in listener_commands
    }
    if not apache_pids:
        apache_pids = {
            process.pid
            for record in on_ports
            for process in record.owners
            if process.command in APACHE_COMMANDS
        }
    result.apache_pids = frozenset(apache_pids)
    visible_ports = {record.local_port for record in listening if record.owners}
    empty_queue_ports = {record.local_port for record in listening} - {
        record.local_port for record in listening if record.rx_queue
    }

    counts: Counter[str] = Counter()
    # Per pid: CLOSE_WAIT, ESTABLISHED, other states, listening sockets.
    per_owner: dict[int, list[int]] = {}
    commands: dict[int, str] = {}
    # The CLOSE_WAIT sockets as (order, record, holder known): models are made
    # for the listed ones only.
    close_wait: list[tuple[SocketRecord, bool | None]] = []
    listeners: list[SocketRecord] = []
    for record in on_ports:
        if record.state is TcpState.LISTEN:
            listeners.append(record)
            for process in record.owners:
                commands[process.pid] = process.command
                per_owner.setdefault(process.pid, [0, 0, 0, 0])[3] += 1
            continue
        held = _holder_known(record, visible_ports, empty_queue_ports)
        if held is None and record.state in _HOLDABLE:
            result.unknown_holder += 1
            if record.state is TcpState.CLOSE_WAIT:
                result.unknown_ports |= {record.local_port}
                if record.rx_queue > 1:
                    result.unknown_unread += 1
        if record.state is TcpState.CLOSE_WAIT:
            kind = {True: "close_wait_owned", False: "close_wait_unaccepted", None: None}[held]
            counts[kind or "close_wait_unknown"] += 1
            if held is not True and record.rx_queue <= 1:
                # Recv-Q counts the FIN as one byte: 1 = the client sent nothing else.
                kind = "unaccepted" if held is False else "unknown"
                counts[f"close_wait_{kind}_fin_only"] += 1
            close_wait.append((record, held))
        elif record.state is TcpState.ESTABLISHED:
            kind = {True: "established", False: "established_unaccepted", None: None}[held]
            counts[kind or "established_unknown"] += 1
        else:
            counts[_STATE_FIELDS.get(record.state, "closing")] += 1
        if held:
            result.held += 1
            if not record.owners:
                result.unattributed += 1
        for process in record.owners:
            commands[process.pid] = process.command
            bucket = _OWNER_BUCKETS.get(record.state, 2)
            per_owner.setdefault(process.pid, [0, 0, 0, 0])[bucket] += 1

    # Apache holding CLOSE_WAIT elsewhere: a backend (proxy, FastCGI) closed
    # a connection Apache keeps; that also ties up the worker holding it.
    counts["close_wait_other"] = sum(
        1
        for record in records
        if record.local_port not in wanted
        and record.state is TcpState.CLOSE_WAIT
        and any(process.pid in apache_pids for process in record.owners)
    )
    result.connections = Connections(**{key: n for key, n in counts.items() if n})
    # Never-accepted sockets first: they are the symptom the operator came for.
    listed = heapq.nsmallest(
        MAX_CLOSE_WAIT_LISTED,
        close_wait,
        key=lambda item: (item[1] is not False, item[0].local, item[0].remote),
    )
    result.close_wait = [_close_wait_socket(record, held) for record, held in listed]
    result.close_wait_truncated = len(close_wait) > MAX_CLOSE_WAIT_LISTED
    # Past the bound, the fullest accept queues are kept, in the table's order.
    kept = heapq.nsmallest(MAX_LISTED, enumerate(listeners), key=lambda item: -item[1].rx_queue)
    for _, record in sorted(kept, key=lambda item: item[0]):
        result.listeners.append(_listener(record, config_backlog))
    result.listeners_not_listed = max(0, len(listeners) - MAX_LISTED)
    worst = heapq.nsmallest(
        MAX_LISTED,
        per_owner.items(),
        key=lambda item: (
            item[0] not in apache_pids,
            -item[1][0],
            -item[1][1],
            item[0],
        ),
    )
    result.owners = [
        Owner(
            pid=pid,
            command=commands[pid],
            close_wait=tally[0],
            established=tally[1],
            other=tally[2],
            listener=tally[3] > 0,
        )
        for pid, tally in worst
    ]
    result.owners_not_listed = max(0, len(per_owner) - MAX_LISTED)
    return result


def _holder_known(
    record: SocketRecord, visible_ports: set[int], empty_queue_ports: set[int]
) -> bool | None:
    """Whether a process holds ``record``, or None when the source cannot tell.

    An inode is the kernel's word (0: in the accept queue). Without one, an
    empty process column only means that the capturing user saw no holder:
    netstat and ``ss -p`` print nothing for another user's process, so unless
    root ran them, a worker's socket looks like a queued one. A listening
    socket on the port that shows its process proves that the capture could
    read Apache's fd tables (httpd's parent usually runs as root), and then an
    empty column does mean "never accepted". Failing that, a listener whose
    accept queue is empty (its Recv-Q, the kernel's count of queued
    connections) proves that an ESTABLISHED or CLOSE_WAIT socket on its port
    is not queued, so something accepted it.
    """
    held = record.held
    if held is True or record.inode is not None:
        return held
    if held is False and record.local_port in visible_ports:
        return False
    if record.local_port in empty_queue_ports and record.state in _QUEUEABLE:
        return True
    return None


def _listener(record: SocketRecord, config_backlog: int | None) -> Listener:
    backlog: int | None
    source: Literal["ss", "config"] | None
    if record.backlog is not None:
        backlog, source = record.backlog, "ss"
    elif config_backlog is not None:
        backlog, source = config_backlog, "config"
    else:
        backlog, source = None, None
    return Listener(
        address=record.local,
        port=record.local_port,
        accept_queue=record.rx_queue,
        backlog=backlog,
        backlog_source=source,
    )


def _close_wait_socket(record: SocketRecord, held: bool | None) -> CloseWaitSocket:
    # A socket shared by every child of a forking parent names each of them:
    # the lowest pids, and a count of the rest.
    holders = {process.pid for process in record.owners}
    return CloseWaitSocket(
        local=record.local,
        remote=record.remote,
        unread_bytes=record.rx_queue,
        accepted=held,
        pids=heapq.nsmallest(MAX_PIDS_LISTED, holders),
        pids_not_listed=max(0, len(holders) - MAX_PIDS_LISTED),
    )
