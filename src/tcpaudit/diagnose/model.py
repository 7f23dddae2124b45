"""The JSON contract of ``tcpaudit diagnose``: the audit report plus what the sockets show.

``Diagnosis`` extends ``Report`` (DESIGN.md, "Diagnose contract"), so every
field of an audit report is there, findings included, and these are added:
``listeners``, ``connections``, ``owners``, ``workers``, ``scoreboard``,
``close_wait`` (the sockets themselves, as evidence), ``verdict`` and
``verdict_fixes`` (the findings the verdict points to). This
module holds the shapes only; ``classify`` and ``verdict`` fill them.
"""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field

from ..engine.findings import KernelSummary, Report
from ..first_error import FirstErrorModel

__all__ = [
    "MAX_PIDS_LISTED",
    "BackendCloseWait",
    "CloseWaitSocket",
    "Connections",
    "Diagnosis",
    "Instance",
    "KernelCounters",
    "Listener",
    "Owner",
    "Sample",
    "ScoreboardSummary",
    "SocketSource",
    "Workers",
]

SocketSource = Literal["proc", "ss", "netstat"]

# The pids named for one socket or backend: the lowest ones, and a count of
# the rest (a socket inherited by every child of a forking parent names each).
MAX_PIDS_LISTED = 100


class Listener(FirstErrorModel):
    """One listening socket on an Apache port and its accept queue."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    address: str
    port: int
    accept_queue: int = Field(description="connections accepted by the kernel, not yet by Apache")
    backlog: int | None = Field(description="the accept queue's limit, when known")
    backlog_source: Literal["ss", "config"] | None = Field(
        description="ss: the kernel's value; config: min(ListenBacklog, net.core.somaxconn)"
    )


class Connections(FirstErrorModel):
    """Server-side sockets on the Apache ports, by state (listeners excluded).

    ``*_unaccepted`` sockets wait in a listener's accept queue (no process holds
    them, inode 0); ``close_wait_owned`` are held by a process whose peer has
    already closed; ``*_unknown`` when the source cannot tell which (a capture
    without inodes whose user could not see Apache's processes).
    ``close_wait_other`` counts CLOSE_WAIT sockets that Apache processes hold on
    other ports (typically backend connections the backend closed).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    close_wait_unaccepted: int = 0
    close_wait_unaccepted_fin_only: int = Field(
        0,
        description="of close_wait_unaccepted, those whose client sent nothing but its FIN "
        "(Recv-Q 1): a worker will read end-of-file and close, serving and logging nothing",
    )
    close_wait_owned: int = 0
    close_wait_unknown: int = 0
    close_wait_unknown_fin_only: int = Field(
        0,
        description="of close_wait_unknown, those with nothing unread but the FIN (Recv-Q 1)",
    )
    established_unaccepted: int = 0
    established: int = 0
    established_unknown: int = 0
    syn_recv: int = 0
    fin_wait: int = 0
    time_wait: int = 0
    last_ack: int = 0
    closing: int = 0
    close_wait_other: int = 0


class Owner(FirstErrorModel):
    """A process holding sockets on the Apache ports."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    pid: int
    command: str
    close_wait: int = 0
    established: int = 0
    other: int = Field(0, description="sockets in other states (FIN_WAIT during lingering close)")
    listener: bool = Field(False, description="holds an Apache listening socket")


class CloseWaitSocket(FirstErrorModel):
    """One CLOSE_WAIT socket on an Apache port: the evidence behind the counts.

    ``unread_bytes`` is the receive queue: the FIN counts one byte, so 1 means
    the request was read, more means it never was.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    local: str
    remote: str
    unread_bytes: int
    accepted: bool | None
    pids: list[int] = Field(default_factory=list, description="the lowest 100 pids holding it")
    pids_not_listed: int = Field(0, description="how many more processes hold it")


class ScoreboardSummary(FirstErrorModel):
    """What mod_status said each worker was doing."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    source: str
    busy_workers: int
    idle_workers: int
    states: dict[str, int] = Field(default_factory=dict)


class Workers(FirstErrorModel):
    """How many of Apache's workers are taken, and how that is known."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    limit: int | None = Field(None, description="MaxRequestWorkers after ServerLimit caps")
    busy: int | None = None
    busy_source: Literal["scoreboard", "sockets"] | None = Field(
        None,
        description="sockets: accepted connections on the ports (one per worker on "
        "prefork/worker; on event idle keep-alive connections hold none)",
    )
    keepalive: int | None = Field(None, description="workers in keep-alive wait (scoreboard K)")
    handler: int | None = Field(None, description="workers running a handler (scoreboard W)")
    reading: int | None = Field(None, description="workers reading a request (scoreboard R)")


class Instance(FirstErrorModel):
    """The running httpd whose sockets a section explains, and how it was found."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    pid: int | None = Field(
        description="the root of the process tree holding the listening sockets (httpd's "
        "parent); None when no holder was visible"
    )
    command: str | None = None
    binary: str | None = Field(None, description="/proc/<pid>/exe's target")
    binary_version: str | None = Field(None, description="read from the binary's bytes")
    arguments: list[str] = Field(default_factory=list, description="the command line after argv[0]")
    listeners: list[str] = Field(default_factory=list)
    config_file: str | None = Field(None, description="the main file judged")
    found_by: str = Field(description="how the configuration judged was found, in words")


class KernelCounters(KernelSummary):
    """The audit's kernel summary plus the accept-queue overflows the kernel counted.

    From /proc/net/netstat (TcpExt); the counters are the network namespace's, all listeners together, since boot;
    ``*_increase`` is their change since the first sample of ``--watch``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    counters_source: str | None = None
    listen_overflows: int | None = Field(
        None, description="SYNs or handshake completions dropped because an accept queue was full"
    )
    listen_drops: int | None = Field(
        None, description="every dropped connection request (overflows included)"
    )
    listen_overflows_increase: int | None = None
    listen_drops_increase: int | None = None


class BackendCloseWait(FirstErrorModel):
    """CLOSE_WAIT that Apache holds toward a proxied backend that closed first."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    backend: str = Field(description="the remote end, address:port")
    close_wait: int
    pids: list[int] = Field(default_factory=list, description="the lowest 100 pids holding them")
    route: str | None = Field(None, description="the ProxyPass (or other proxy) line it matches")
    file: str | None = None
    line: int | None = None
    matched_by: str | None = Field(None, description="'address and port', or 'port' (a name)")
    ttl: str | None = Field(None, description="the route's ttl= parameter, if set")
    disablereuse: bool = False


class Sample(FirstErrorModel):
    """Where one ``--watch`` sample stands in the series, and what changed since the first."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    index: int = Field(description="1 for the first sample")
    count: int
    elapsed_seconds: float
    close_wait_per_second: float | None = None
    accept_queue_per_second: float | None = None
    held_per_second: float | None = Field(
        None,
        description="growth of the accepted connections on the ports (busy workers on "
        "prefork/worker)",
    )
    drain_seconds: float | None = Field(
        None, description="at held_per_second, when the remaining workers are taken"
    )
    exhaustion_clients_per_second: float | None = Field(
        None, description="the audit's rate of stalled clients that takes every worker"
    )


class Diagnosis(Report):
    """The result of ``tcpaudit diagnose``: the audit report and the live evidence."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ports: list[int] = Field(default_factory=list)
    socket_source: SocketSource = "proc"
    listeners: list[Listener] = Field(default_factory=list)
    connections: Connections = Field(default_factory=Connections)
    owners: list[Owner] = Field(default_factory=list)
    owners_not_listed: int = Field(
        0, description="processes on the ports beyond the 100 listed (Apache's and the busiest)"
    )
    listeners_not_listed: int = Field(
        0, description="listening sockets beyond the 100 listed (the fullest queues)"
    )
    backends_not_listed: int = Field(
        0, description="backends beyond the 100 listed (the most CLOSE_WAIT)"
    )
    workers: Workers = Field(default_factory=Workers)
    scoreboard: ScoreboardSummary | None = None
    close_wait: list[CloseWaitSocket] = Field(default_factory=list)
    close_wait_truncated: bool = False
    instance: Instance | None = None
    kernel: KernelCounters | None = None  # the audit's summary, extended
    backends: list[BackendCloseWait] = Field(default_factory=list)
    sample: Sample | None = None
    instances: list[Diagnosis] = Field(
        default_factory=list,
        description="one section per running httpd when the ports belong to several; the "
        "document's own counts are then their totals and its findings their union",
    )
    verdict: str = ""
    verdict_fixes: list[str] = Field(
        default_factory=list,
        description="rule ids of the findings whose fixes the verdict asks for, in its order "
        "(each finding's fix holds the lines to change)",
    )
