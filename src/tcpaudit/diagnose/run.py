"""``diagnose()``: find the instances, judge their configurations, read the sockets, explain.

This module owns the order of the steps and the notes about what could not
be seen. ``prepare`` does the slow, once-only part: it reads the socket
table a first time to find which running httpd owns which listening port
(``instances``), and loads and audits the configuration each one runs.
``Sampler.sample`` does the part ``--watch`` repeats: it reads the sockets
and the kernel's counters again and explains them with that audit.

The order matters on a live host: the socket table and the fd maps are read
before the (opt-in) status request, because that request is itself a
connection to the server and, on a drained one, joins the accept queue.
"""

from __future__ import annotations

import logging
import os
import time
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from ..apache.build import BuildName
from ..engine import AuditConfig, audit
from ..engine.findings import Report
from ..errors import ParseError, TcpauditError, UsageError
from ..facts import HostFacts, _host_name
from ..provenance import Note
from ..rootfs import RootFS
from ..sysctl import load_sysctl
from .backends import backend_close_wait
from .classify import MAX_LISTED, Classification, classify
from .counters import ListenCounters, read_listen_counters
from .instances import group_listeners, shown_arguments
from .model import (
    BackendCloseWait,
    Diagnosis,
    Instance,
    KernelCounters,
    ScoreboardSummary,
    SocketSource,
)
from .sections import (
    ApacheOptions,
    Section,
    judge_instance,
    place_unheard_ports,
    single_section,
    unjudged,
)
from .sockets import SocketRecord, TcpState
from .sources import read_scoreboard, read_sockets
from .status import Scoreboard
from .status import status_url as checked_status_url
from .summary import combine
from .verdict import compose_verdict, count_workers, verdict_fixes
from .watch import Baseline, sample_progress

__all__ = ["ApacheOptions", "Sampler", "diagnose", "prepare"]

log = logging.getLogger(__name__)


# Instances judged (each a load and an audit of its configuration): 400
# listening httpd trees took 38 s. The rest are named in a note.
MAX_INSTANCES = 20


@dataclass
class Sampler:
    """A prepared diagnosis: instances found and judged; ``sample`` reads the sockets."""

    fs: RootFS
    sections: list[Section]
    ss: str | os.PathLike[str] | None
    netstat: str | os.PathLike[str] | None
    status_url: str | None = field(repr=False)  # may hold a user and password
    scoreboard: str | os.PathLike[str] | None
    first_records: list[SocketRecord] | None = None
    first_source: SocketSource | None = None
    baseline: Baseline | None = None

    def sample(self, index: int = 1, count: int = 1) -> Diagnosis:
        """Read the sockets (again) and explain them; ``index`` of ``count`` for ``--watch``."""
        notes: list[Note] = []
        if self.first_records is not None and self.first_source is not None and count == 1:
            # A single sample reuses the reading that found the instances; a series
            # reads again, so that every sample's sockets, counters and time agree.
            records, source = self.first_records, self.first_source
            self.first_records = None
        else:
            self.first_records = None
            records, source = read_sockets(self.fs, self.ss, self.netstat, notes)
        counters = self._counters(source)
        now = time.monotonic()
        results = []
        for number, section in enumerate(self.sections):
            board = None
            if number == self._status_section():
                board = read_scoreboard(self.status_url, self.scoreboard, notes)
            results.append(
                _explain(section, records, source, board, counters, [*notes, *section.notes])
            )
        diagnosis = results[0] if len(results) == 1 else combine(results)
        if count > 1:
            if self.baseline is None:
                self.baseline = Baseline.of(diagnosis, now)
            diagnosis = sample_progress(diagnosis, self.baseline, now, index, count)
        log.info("diagnosis: %s", diagnosis.verdict)
        return diagnosis

    def _counters(self, source: SocketSource) -> ListenCounters | None:
        # A capture's host is not this one: only a copied tree's counters describe it.
        if source != "proc" and self.fs.is_host:
            return None
        return read_listen_counters(self.fs)

    def _status_section(self) -> int:
        """The section whose ports the status URL's port is (mod_status is one server's)."""
        if self.status_url is None and self.scoreboard is None:
            return -1
        if self.status_url is not None:
            parsed = urllib.parse.urlsplit(self.status_url)
            try:
                port = parsed.port or (443 if parsed.scheme == "https" else 80)
            except ValueError:
                port = 80
            for number, section in enumerate(self.sections):
                if port in section.ports:
                    return number
        return 0


def prepare(
    root: str | os.PathLike[str] = "/",
    *,
    ports: list[int] | None = None,
    sysctl: str | os.PathLike[str] | None = None,
    status_url: str | None = None,
    scoreboard: str | os.PathLike[str] | None = None,
    ss: str | os.PathLike[str] | None = None,
    netstat: str | os.PathLike[str] | None = None,
    config: AuditConfig | None = None,
    facts: HostFacts | None = None,
    apache: ApacheOptions | None = None,
) -> Sampler:
    """Find the instances on the ports and judge their configurations (see ``diagnose``)."""
    fs = RootFS(root)
    options = apache or ApacheOptions()
    if ss is not None and netstat is not None:
        raise UsageError("give either --ss or --netstat, not both")
    if status_url is not None and scoreboard is not None:
        raise UsageError("give either --status-url or --scoreboard, not both")
    if status_url is not None:
        checked_status_url(status_url)  # refused before any work, as a usage error
    first_notes: list[Note] = []
    try:
        records, source = read_sockets(fs, ss, netstat, first_notes)
    except ParseError:
        if not ports:
            # Without ports nor sockets, the configuration must name them: say that first.
            single_section(fs, ports, options, sysctl, config, facts, "proc")
        raise
    sections: list[Section] = []
    discover = facts is None and options.apache_conf is None and source == "proc"
    if discover:
        groups, processes = group_listeners(fs, records, ports)
        if groups:
            sysctl_settings = load_sysctl(sysctl, fs.root)
            host = _host_name(fs)
            unjudged_groups = groups[MAX_INSTANCES:]
            for group in groups[:MAX_INSTANCES]:
                try:
                    section_facts, instance, notes = judge_instance(
                        fs, group, processes, options, sysctl_settings, host
                    )
                except TcpauditError as exc:
                    # The server runs this configuration: a file tcpaudit cannot read (or
                    # reads otherwise) must not hide what the sockets show, nor other instances.
                    section_facts, instance, notes = unjudged(group, exc, sysctl_settings, host)
                sections.append(
                    Section(
                        ports=list(group.ports),
                        facts=section_facts,
                        report=audit(section_facts, config),
                        instance=instance,
                        notes=notes,
                    )
                )
            if unjudged_groups and sections:
                left = sorted({port for group in unjudged_groups for port in group.ports})
                shown = ", ".join(map(str, left[:20])) + (", ..." if len(left) > 20 else "")
                first_notes.append(
                    Note(
                        message=f"{len(unjudged_groups):,} more Apache instances hold listening "
                        f"sockets (ports {shown}): the first {MAX_INSTANCES} by port are judged; "
                        "give --ports to judge others"
                    )
                )
            place_unheard_ports(sections, ports, fs, options, sysctl, config)
    if not sections:
        section = single_section(fs, ports, options, sysctl, config, facts, source)
        if options.apache_conf is not None and source == "proc":
            section.instance = _running_beside(fs, records, section)
        sections.append(section)
    for section in sections[:1]:
        section.notes[:0] = first_notes
    return Sampler(
        fs=fs,
        sections=sections,
        ss=ss,
        netstat=netstat,
        status_url=status_url,
        scoreboard=scoreboard,
        first_records=records,
        first_source=source,
    )


def _running_beside(fs: RootFS, records: list[SocketRecord], section: Section) -> Instance | None:
    """With --apache-conf, the instance that runs on the ports all the same, for comparison."""
    judged = section.instance
    groups, processes = group_listeners(fs, records, section.ports)
    running = [group for group in groups if group.root_pid is not None]
    if judged is None or len(running) != 1:
        return judged
    group = running[0]
    process = processes.get(group.root_pid) if group.root_pid is not None else None
    if process is None:
        return judged
    # Its configuration was not read: a Define's value given on its command
    # line may be a password there, and is not shown.
    shown = [
        section.facts.apache.hide_secrets(word) if section.facts.apache is not None else word
        for word in shown_arguments(list(process.arguments), define_values=False)
    ]
    arguments = " ".join(shown) or "not readable"
    return judged.model_copy(
        update={
            "pid": group.root_pid,
            "command": process.command,
            "binary": process.exe,
            "arguments": shown[1:],
            "listeners": list(group.addresses),
            "found_by": f"{judged.found_by}; the server running there is process "
            f"{group.root_pid} ({process.command}), started as: {arguments}",
        }
    )


def _explain(
    section: Section,
    records: list[SocketRecord],
    source: SocketSource,
    board: Scoreboard | None,
    counters: ListenCounters | None,
    notes: list[Note],
) -> Diagnosis:
    facts, ports = section.facts, section.ports
    notes = list(notes)
    classification = classify(records, ports, config_backlog=facts.derived.listen_backlog_effective)
    capture_without_listeners = source != "proc" and not any(
        record.state is TcpState.LISTEN for record in records
    )
    # A capture without any listener already has its note (capture_notes).
    if not classification.listeners and not capture_without_listeners:
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
    backends = backend_close_wait(records, classification.apache_pids, set(ports), facts.apache)
    report = section.report
    kernel = KernelCounters(
        kernel=report.kernel.kernel if report.kernel else None,
        boot=report.kernel.boot if report.kernel else None,
        counters_source=counters.source if counters else None,
        listen_overflows=counters.listen_overflows if counters else None,
        listen_drops=counters.listen_drops if counters else None,
    )
    return _assemble(
        report, classification, facts, board, ports, source, notes, section.instance,
        kernel, backends,
    )  # fmt: skip


def _assemble(
    report: Report,
    classification: Classification,
    facts: HostFacts,
    board: Scoreboard | None,
    ports: list[int],
    source: SocketSource,
    notes: list[Note],
    instance: Instance | None,
    kernel: KernelCounters,
    backends: list[BackendCloseWait],
) -> Diagnosis:
    workers = count_workers(classification, facts, board)
    verdict = compose_verdict(
        classification, workers, facts, report, ports, source, kernel=kernel, backends=backends
    )
    fixes = verdict_fixes(classification, workers, facts, report)
    base = {name: getattr(report, name) for name in Report.model_fields}
    base["notes"] = [*report.notes, *notes]
    base["kernel"] = kernel
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
    return Diagnosis(
        **base,
        ports=ports,
        socket_source=source,
        listeners=classification.listeners,
        connections=classification.connections,
        owners=classification.owners,
        owners_not_listed=classification.owners_not_listed,
        listeners_not_listed=classification.listeners_not_listed,
        backends_not_listed=max(0, len(backends) - MAX_LISTED),
        workers=workers,
        scoreboard=summary,
        close_wait=classification.close_wait,
        close_wait_truncated=classification.close_wait_truncated,
        instance=instance,
        backends=backends[:MAX_LISTED],
        verdict=verdict,
        verdict_fixes=[finding.rule for finding in fixes],
    )


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
    apache_version: str | None = None,
    apache_build: BuildName | None = None,
    defines: Sequence[str] = (),
    directives: Sequence[str] = (),
    environment: Mapping[str, str] | None = None,
    late_directives: Sequence[str] = (),
) -> Diagnosis:
    """Explain the CLOSE_WAIT sockets on Apache's ports with the configuration that runs there.

    Reads only: the socket table, ``/proc/<pid>/fd`` links, ``comm``,
    ``cmdline``, ``stat``, ``environ`` and the ``exe`` binary's bytes, the
    configuration and sysctls, ``/proc/net/netstat``; with ``status_url``,
    one GET to the local mod_status page. It runs no program and sends no signal.

    Which configuration: without ``apache_conf``, each running httpd that
    holds a listening socket on the ports (``ports`` None: every httpd's
    listening ports) is judged with the file its command line names (``-f``,
    ``-d``, ``-D``, ``-C``, ``-c``) and the build its binary shows; several
    instances give one section each (``Diagnosis.instances``). When no
    holder is visible, or with a capture, the host's own configuration is
    judged, and the result says so.

    Args:
        root: the directory that stands for the host's ``/`` (a replay tree
            holds ``proc/net/tcp``, ``proc/<pid>/fd`` and ``etc/``).
        ports: Apache's ports; None takes the running httpd's listening ports,
            else the configuration's ``Listen`` lines.
        apache_conf: the main Apache configuration to judge for every port.
        sysctl: live sysctl values, as for ``gather``.
        status_url: a local ``/server-status`` URL to fetch (``?auto`` is added).
        scoreboard: a captured ``?auto`` page instead of fetching one.
        ss: a captured ``ss -tanpoe`` output instead of reading ``/proc``.
        netstat: a captured ``netstat -tanp`` (or ``-tp``) output instead of reading ``/proc``.
        config: audit configuration (suppressions, parameters).
        facts: already gathered facts; when given, no configuration is read.
        apache_version: the Apache version, over the binary's.
        apache_build: the httpd build family, over the binary's.
        defines: ``-D`` names added to the instance's.
        directives: ``-C`` directives added to the instance's.
        environment: variables added to (over) the instance's environment.
        late_directives: ``-c`` directives added to the instance's.

    Raises:
        UsageError: no ports known, or two sources of one kind given.
        ParseError: an input exists but cannot be read or parsed.
    """
    sampler = prepare(
        root,
        ports=ports,
        sysctl=sysctl,
        status_url=status_url,
        scoreboard=scoreboard,
        ss=ss,
        netstat=netstat,
        config=config,
        facts=facts,
        apache=ApacheOptions(
            apache_conf=apache_conf,
            version=apache_version,
            build=apache_build,
            defines=defines,
            directives=directives,
            environment=environment,
            late_directives=late_directives,
        ),
    )
    return sampler.sample()
