"""``diagnose()``: gather, read the sockets, classify, audit, explain.

This module owns the order of the steps and the notes about what could not
be seen. The order matters on a live host: the socket table and the fd maps
are read before the (opt-in) status request, because that request is itself
a connection to the server and, on a drained one, joins the accept queue.
"""

from __future__ import annotations

import logging
import os

from ..engine import AuditConfig, audit
from ..engine.findings import Report
from ..errors import ParseError, UsageError
from ..facts import HostFacts, gather
from ..inputs import read_bytes
from ..provenance import Note
from ..rootfs import RootFS
from .classify import Classification, classify, listen_ports
from .model import Diagnosis, ScoreboardSummary, SocketSource
from .owners import scan_owners
from .sockets import SocketRecord, read_proc_sockets, with_owners
from .ss import parse_netstat, parse_ss
from .status import Scoreboard, StatusUnavailable, fetch_status, parse_status
from .verdict import compose_verdict, count_workers, verdict_fixes

__all__ = ["diagnose"]

log = logging.getLogger(__name__)


def _read_capture(path: str | os.PathLike[str]) -> tuple[str, str]:
    """A capture the user named: a regular file (never a FIFO or device), 64 MiB at most."""
    shown = os.fspath(path)
    try:
        return read_bytes(path).decode("utf-8", errors="replace"), shown
    except OSError as exc:
        raise ParseError(f"cannot read: {exc.strerror or exc}", file=shown) from exc


def _sockets(
    fs: RootFS,
    ss: str | os.PathLike[str] | None,
    netstat: str | os.PathLike[str] | None,
    notes: list[Note],
) -> tuple[list[SocketRecord], SocketSource]:
    if ss is not None and netstat is not None:
        raise UsageError("give either --ss or --netstat, not both")
    if ss is not None:
        text, shown = _read_capture(ss)
        records = parse_ss(text, shown)
        if records and all(r.held is None for r in records):
            notes.append(
                Note(
                    message="the ss capture has neither inodes (-e) nor processes (-p): "
                    "queued and held CLOSE_WAIT cannot be told apart",
                    file=shown,
                )
            )
        return records, "ss"
    if netstat is not None:
        text, shown = _read_capture(netstat)
        notes.append(
            Note(
                message="netstat shows '-' both for never-accepted sockets and for sockets of "
                "processes it may not inspect: '-' counts as never accepted only on a port whose "
                "listening socket shows its process (proof that the capture could see Apache's), "
                "else as holder unknown",
                file=shown,
            )
        )
        return parse_netstat(text, shown), "netstat"
    records = read_proc_sockets(fs)
    owner_map = scan_owners(fs)
    if owner_map.denied:
        notes.append(
            Note(
                message=f"the fd tables of {owner_map.denied} processes were not readable: "
                "run as root to attribute sockets of other users' processes (which sockets "
                "were never accepted is known regardless)"
            )
        )
    return with_owners(records, owner_map.by_inode), "proc"


def _scoreboard(
    status_url: str | None, scoreboard: str | os.PathLike[str] | None, notes: list[Note]
) -> Scoreboard | None:
    if status_url is not None and scoreboard is not None:
        raise UsageError("give either --status-url or --scoreboard, not both")
    if scoreboard is not None:
        text, shown = _read_capture(scoreboard)
        return parse_status(text, shown)
    if status_url is None:
        return None
    try:
        return fetch_status(status_url)
    except StatusUnavailable as exc:
        notes.append(
            Note(
                message=f"mod_status not available: {exc.reason} (a drained server cannot "
                "answer it either: the request waits in the same accept queue)"
            )
        )
        return None


def diagnose(
    root: str | os.PathLike[str] = "/",
    *,
    ports: list[int] | None = None,
    apache_conf: str | os.PathLike[str] | None = None,
    sysctl: str | os.PathLike[str] | None = None,
    status_url: str | None = None,
    scoreboard: str | os.PathLike[str] | None = None,
    ss: str | os.PathLike[str] | None = None,
    netstat: str | os.PathLike[str] | None = None,
    config: AuditConfig | None = None,
    facts: HostFacts | None = None,
) -> Diagnosis:
    """Explain the CLOSE_WAIT sockets on Apache's ports with the audited configuration.

    Reads only: the socket table, ``/proc/<pid>/fd`` links and ``comm``, the
    configuration and sysctls; with ``status_url``, one GET to the local
    mod_status page.

    Args:
        root: the directory that stands for the host's ``/`` (a replay tree
            holds ``proc/net/tcp``, ``proc/<pid>/fd`` and ``etc/``).
        ports: Apache's ports; None takes them from the ``Listen`` lines.
        apache_conf: the main Apache configuration; None finds it by layout.
        sysctl: live sysctl values, as for ``gather``.
        status_url: a local ``/server-status`` URL to fetch (``?auto`` is added).
        scoreboard: a captured ``?auto`` page instead of fetching one.
        ss: a captured ``ss -tanpoe`` output instead of reading ``/proc``.
        netstat: a captured ``netstat -tanp`` output instead of reading ``/proc``.
        config: audit configuration (suppressions, parameters).
        facts: already gathered facts; when given, ``root``'s configuration is not read.

    Raises:
        UsageError: no ports known, or two sources of one kind given.
        ParseError: an input exists but cannot be read or parsed.
    """
    fs = RootFS(root)
    if facts is None:
        facts = gather(root, apache_conf, sysctl, allow_empty=True)
    notes: list[Note] = []
    if not ports:
        ports = listen_ports(facts.apache) if facts.apache is not None else []
        if not ports:
            raise UsageError(
                "no Listen port found in the Apache configuration: name the ports with --ports"
            )
    records, source = _sockets(fs, ss, netstat, notes)
    classification = classify(records, ports, config_backlog=facts.derived.listen_backlog_effective)
    if not classification.listeners:
        shown_ports = ", ".join(map(str, ports))
        message = (
            f"nothing listens on port {shown_ports}: is Apache running?"
            if source == "proc"
            # A capture is often grepped down to the CLOSE_WAIT lines.
            else f"the capture shows no socket listening on port {shown_ports}: its accept "
            "queue and backlog are unknown"
        )
        notes.append(Note(message=message))
    if classification.unknown_holder:
        unknown = classification.unknown_holder
        notes.append(
            Note(
                message=f"{unknown} connection{'' if unknown == 1 else 's'} on the ports may or "
                f"may not be held by a process: the {source} capture does not show it, so "
                "neither queued versus held nor busy workers are counted (capture "
                "`ss -tanpoe`, whose inodes tell, or run tcpaudit diagnose on the host)"
            )
        )
    if source == "proc" and classification.unattributed:
        notes.append(
            Note(
                message=f"{classification.unattributed} accepted connections on the ports "
                "have no visible holder (another user's process, or a process in another "
                "PID namespace)"
            )
        )
    board = _scoreboard(status_url, scoreboard, notes)
    report = audit(facts, config)
    return _assemble(report, classification, facts, board, ports, source, notes)


def _assemble(
    report: Report,
    classification: Classification,
    facts: HostFacts,
    board: Scoreboard | None,
    ports: list[int],
    source: SocketSource,
    notes: list[Note],
) -> Diagnosis:
    workers = count_workers(classification, facts, board)
    verdict = compose_verdict(classification, workers, facts, report, ports, source)
    fixes = verdict_fixes(classification, workers, facts, report)
    base = {name: getattr(report, name) for name in Report.model_fields}
    base["notes"] = [*report.notes, *notes]
    summary = (
        ScoreboardSummary(
            source=board.source,
            busy_workers=board.busy_workers,
            idle_workers=board.idle_workers,
            states=board.states,
        )
        if board is not None
        else None
    )
    log.info("diagnosis: %s", verdict)
    return Diagnosis(
        **base,
        ports=ports,
        socket_source=source,
        listeners=classification.listeners,
        connections=classification.connections,
        owners=classification.owners,
        workers=workers,
        scoreboard=summary,
        close_wait=classification.close_wait,
        close_wait_truncated=classification.close_wait_truncated,
        verdict=verdict,
        verdict_fixes=[finding.rule for finding in fixes],
    )
