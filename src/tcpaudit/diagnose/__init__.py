"""Live CLOSE_WAIT diagnosis: what the sockets on Apache's ports show, and why.

``tcpaudit diagnose`` (and ``diagnose()``) reads the host's TCP socket table
(``/proc/net/tcp``, or an ``ss``/``netstat`` capture), maps sockets to the
processes holding them, optionally reads mod_status's scoreboard, and explains
the result with the audit of the same host::

    from tcpaudit.diagnose import diagnose
    result = diagnose("/", ports=[80])
    print(result.connections.close_wait_unaccepted, result.verdict)

Modules: ``sockets`` (the socket table), ``owners`` (inode -> process),
``processes`` (a process's cmdline, exe, parent, environ), ``instances``
(which httpd owns which listener, and the configuration it runs), ``ss`` and
``services`` (captures, service names), ``counters`` (TcpExt
ListenOverflows/ListenDrops), ``status`` (mod_status), ``classify`` (what
each socket means), ``backends`` (CLOSE_WAIT toward proxied backends),
``verdict``, ``sentences`` and ``signals`` (the paragraph), ``watch``
(``--watch`` growth), ``summary`` (several instances in one document),
``model`` (the JSON contract), ``sources`` (sockets and scoreboard
sources), ``sections`` (the configuration each section judges), ``run``
(the steps in order), ``render`` (the
terminal view), ``cli`` (the command).
"""

from __future__ import annotations

from .classify import Classification, classify, listen_ports
from .model import (
    BackendCloseWait,
    CloseWaitSocket,
    Connections,
    Diagnosis,
    Instance,
    KernelCounters,
    Listener,
    Owner,
    Sample,
    ScoreboardSummary,
    Workers,
)
from .owners import OwnerMap, scan_owners
from .run import ApacheOptions, Sampler, diagnose, prepare
from .sockets import ProcessRef, SocketRecord, TcpState, parse_proc_net_tcp, read_proc_sockets
from .ss import parse_netstat, parse_ss
from .status import Scoreboard, StatusUnavailable, fetch_status, parse_status

__all__ = [
    "ApacheOptions",
    "BackendCloseWait",
    "Classification",
    "CloseWaitSocket",
    "Connections",
    "Diagnosis",
    "Instance",
    "KernelCounters",
    "Listener",
    "Owner",
    "OwnerMap",
    "ProcessRef",
    "Sample",
    "Sampler",
    "Scoreboard",
    "ScoreboardSummary",
    "SocketRecord",
    "StatusUnavailable",
    "TcpState",
    "Workers",
    "classify",
    "diagnose",
    "fetch_status",
    "listen_ports",
    "parse_netstat",
    "parse_proc_net_tcp",
    "parse_ss",
    "parse_status",
    "prepare",
    "read_proc_sockets",
    "scan_owners",
]
