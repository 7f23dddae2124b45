"""``diagnose()``: find the instances, judge their configurations, read the sockets, explain.

This module owns the order of the steps and the notes about what could not
be seen. ``prepare`` does the slow, once-only part: it reads the socket
table a first time to find which running httpd owns which listening port
(``instances``), and loads and audits the configuration each one runs.
``Session.sample`` does the part ``--watch`` repeats: it reads the sockets
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

from ..apache import load_apache
from ..apache.build import BuildName
from ..engine import AuditConfig, audit
from ..engine.findings import Report
from ..errors import ParseError, TcpauditError, UsageError
from ..facts import HostFacts, _host_name, gather
from ..inputs import read_bytes
from ..provenance import Note
from ..rootfs import RootFS
from ..sysctl import load_sysctl
from ..sysctl.model import SysctlSettings
from .backends import backend_close_wait
from .classify import Classification, classify, listen_ports
from .counters import ListenCounters, read_listen_counters
from .instances import InstanceGroup, group_listeners, plan_load
from .model import (
    BackendCloseWait,
    Diagnosis,
    Instance,
    KernelCounters,
    ScoreboardSummary,
    SocketSource,
)
from .owners import scan_owners
from .processes import ProcessInfo, boot_time, started_at
from .sockets import SocketRecord, TcpState, read_proc_sockets, with_owners
from .ss import capture_notes, parse_netstat, parse_ss
from .status import Scoreboard, StatusUnavailable, fetch_status, parse_status
from .summary import combine
from .verdict import compose_verdict, count_workers, verdict_fixes
from .watch import Baseline, sample_progress

__all__ = ["ApacheOptions", "Session", "diagnose", "prepare"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ApacheOptions:
    """The user's Apache options, as on every command that reads Apache.

    They are added to what the instance's own command line gives (``-D``,
    ``-C``, ``--env``) or override it (``apache_conf``, ``version``, ``build``).
    """

    apache_conf: str | os.PathLike[str] | None = None
    version: str | None = None
    build: BuildName | None = None
    defines: Sequence[str] = ()
    directives: Sequence[str] = ()
    environment: Mapping[str, str] | None = None


def _read_capture(path: str | os.PathLike[str]) -> tuple[str, str]:
    """A capture the user named: a regular file (never a FIFO or device), 64 MiB at most."""
    shown = os.fspath(path)
    try:
        return read_bytes(path).decode("utf-8", errors="replace"), shown
    except OSError as exc:
        raise ParseError(f"cannot read: {exc.strerror or exc}", file=shown) from exc


@dataclass
class _Section:
    """One instance's ports and the audit of the configuration it runs."""

    ports: list[int]
    facts: HostFacts
    report: Report
    instance: Instance | None = None
    notes: list[Note] = field(default_factory=list)


@dataclass
class Session:
    """A prepared diagnosis: instances found and judged; ``sample`` reads the sockets."""

    fs: RootFS
    sections: list[_Section]
    ss: str | os.PathLike[str] | None
    netstat: str | os.PathLike[str] | None
    status_url: str | None
    scoreboard: str | os.PathLike[str] | None
    first_records: list[SocketRecord] | None = None
    first_source: SocketSource | None = None
    baseline: Baseline | None = None

    def sample(self, index: int = 1, count: int = 1) -> Diagnosis:
        """Read the sockets (again) and explain them; ``index`` of ``count`` for ``--watch``."""
        notes: list[Note] = []
        if self.first_records is not None and self.first_source is not None:
            # The first sample reuses the reading that found the instances.
            records, source = self.first_records, self.first_source
            self.first_records = None
        else:
            records, source = _sockets(self.fs, self.ss, self.netstat, notes)
        counters = self._counters(source)
        now = time.monotonic()
        results = []
        for number, section in enumerate(self.sections):
            board = None
            if number == self._status_section():
                board = _scoreboard(self.status_url, self.scoreboard, notes)
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
                port = parsed.port or 80
            except ValueError:
                port = 80
            for number, section in enumerate(self.sections):
                if port in section.ports:
                    return number
        return 0


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
        notes.extend(capture_notes(records, text, shown, "ss"))
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
        records = parse_netstat(text, shown)
        notes.extend(capture_notes(records, text, shown, "netstat"))
        return records, "netstat"
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
) -> Session:
    """Find the instances on the ports and judge their configurations (see ``diagnose``)."""
    fs = RootFS(root)
    options = apache or ApacheOptions()
    if ss is not None and netstat is not None:
        raise UsageError("give either --ss or --netstat, not both")
    if status_url is not None and scoreboard is not None:
        raise UsageError("give either --status-url or --scoreboard, not both")
    first_notes: list[Note] = []
    try:
        records, source = _sockets(fs, ss, netstat, first_notes)
    except ParseError:
        if not ports:
            # Without ports nor sockets, the configuration must name them: say that first.
            _single_section(fs, ports, options, sysctl, config, facts, "proc")
        raise
    sections: list[_Section] = []
    discover = facts is None and options.apache_conf is None and source == "proc"
    if discover:
        groups, processes = group_listeners(fs, records, ports)
        if groups:
            sysctl_settings = load_sysctl(sysctl, fs.root)
            host = _host_name(fs)
            for group in groups:
                try:
                    section_facts, instance, notes = _judge_instance(
                        fs, group, processes, options, sysctl_settings, host
                    )
                except TcpauditError as exc:
                    if len(groups) == 1:
                        raise
                    # One instance's unreadable configuration must not hide the others.
                    section_facts, instance, notes = _unjudged(group, exc, sysctl_settings, host)
                sections.append(
                    _Section(
                        ports=list(group.ports),
                        facts=section_facts,
                        report=audit(section_facts, config),
                        instance=instance,
                        notes=notes,
                    )
                )
            _place_unheard_ports(sections, ports, fs, options, sysctl, config)
    if not sections:
        sections.append(_single_section(fs, ports, options, sysctl, config, facts, source))
    for section in sections[:1]:
        section.notes[:0] = first_notes
    return Session(
        fs=fs,
        sections=sections,
        ss=ss,
        netstat=netstat,
        status_url=status_url,
        scoreboard=scoreboard,
        first_records=records,
        first_source=source,
    )


def _gather(fs: RootFS, options: ApacheOptions, sysctl: str | os.PathLike[str] | None) -> HostFacts:
    return gather(
        fs.root,
        options.apache_conf,
        sysctl,
        apache_version=options.version,
        apache_build=options.build,
        defines=options.defines,
        directives=options.directives,
        environment=options.environment,
        allow_empty=True,
    )


def _single_section(
    fs: RootFS,
    ports: list[int] | None,
    options: ApacheOptions,
    sysctl: str | os.PathLike[str] | None,
    config: AuditConfig | None,
    facts: HostFacts | None,
    source: SocketSource,
) -> _Section:
    """Every port in one section, judged by the configuration given or found by layout."""
    notes: list[Note] = []
    if facts is None:
        facts = _gather(fs, options, sysctl)
    if not ports:
        ports = listen_ports(facts.apache) if facts.apache is not None else []
        if not ports:
            raise UsageError(
                "no Listen port found in the Apache configuration: name the ports with --ports"
            )
    instance = None
    if facts.apache is not None:
        if options.apache_conf is not None:
            how = f"judged {facts.apache.main_file}, as --apache-conf says"
        elif source != "proc":
            how = (
                f"a capture names no command line: judged {facts.apache.main_file}, the "
                "configuration the host's service starts httpd with (its -f, else the "
                "distribution's default file); give --apache-conf if the server ran another"
            )
        else:
            how = (
                "no running httpd visibly holds a listening socket on the ports: judged "
                f"{facts.apache.main_file}, the configuration the host's service starts httpd "
                "with (its -f, else the distribution's default file)"
            )
        if options.apache_conf is None and source == "proc":
            notes.append(Note(message=how))
        instance = Instance(pid=None, config_file=facts.apache.main_file, found_by=how)
    return _Section(
        ports=ports, facts=facts, report=audit(facts, config), instance=instance, notes=notes
    )


def _judge_instance(
    fs: RootFS,
    group: InstanceGroup,
    processes: dict[int, ProcessInfo],
    options: ApacheOptions,
    sysctl_settings: SysctlSettings,
    host: str,
) -> tuple[HostFacts, Instance, list[Note]]:
    """Load the configuration one instance runs, with its build and command line."""
    plan = plan_load(fs, group, processes)
    process = plan.process
    # A chrooted or containerised httpd names paths inside its own root.
    where = RootFS(process.root_path) if process is not None and fs.is_host else fs
    config = load_apache(
        plan.apache_conf,
        where,
        options.version or plan.version,
        defines=[*plan.defines, *options.defines],
        directives=[*plan.directives, *options.directives],
        environment={**plan.environment, **(options.environment or {})},
        compiled_in=plan.compiled_in if options.build is None else None,
        build=options.build,
    )
    notes = list(plan.notes)
    if config is not None and fs.is_host and process is not None:
        notes += _changed_since_start(where, config.files, group, processes)
    if config is None:
        notes.append(
            Note(message="no Apache configuration found for this instance: Apache not audited")
        )
    facts = HostFacts(host=host, apache=config, sysctl=sysctl_settings)
    binary = plan.binary
    instance = Instance(
        pid=group.root_pid,
        command=process.command if process is not None else None,
        binary=process.exe if process is not None else None,
        binary_version=(
            f"Apache/{binary.version}" + (f" ({binary.platform})" if binary.platform else "")
            if binary is not None
            else None
        ),
        arguments=plan.arguments,
        listeners=list(group.addresses),
        config_file=config.main_file if config is not None else None,
        found_by=plan.found_by,
    )
    return facts, instance, notes


def _changed_since_start(
    where: RootFS, files: list[str], group: InstanceGroup, processes: dict[int, ProcessInfo]
) -> list[Note]:
    """Configuration files changed after every process of the instance started.

    httpd reads its configuration when it starts and at each reload, and a
    reload replaces every child: a file modified after the newest process of
    the tree started has been read by none of them (a reload is pending).
    Older files may still have changed before an unnoticed reload: no claim.
    """
    booted = boot_time(RootFS("/"))
    starts = [
        started
        for pid in group.holders
        if pid in processes and (started := started_at(processes[pid], booted)) is not None
    ]
    if not starts:
        return []
    newest = max(starts)
    changed = []
    for shown in files:
        try:
            modified = os.stat(where.resolve(shown if shown.startswith("/") else "/" + shown))
        except OSError:
            continue
        # One second of slack: starttime is in clock ticks, btime in whole seconds.
        if modified.st_mtime > newest + 1:
            changed.append(shown)
    if not changed:
        return []
    listed = ", ".join(changed[:5]) + (f" and {len(changed) - 5} more" if len(changed) > 5 else "")
    return [
        Note(
            message=f"{listed} changed after every process of httpd {group.root_pid} started: "
            "the running server has not read the file as it is now (a reload is pending), and "
            "this diagnosis judges the file, not necessarily what runs"
        )
    ]


def _unjudged(
    group: InstanceGroup, error: TcpauditError, sysctl_settings: SysctlSettings, host: str
) -> tuple[HostFacts, Instance, list[Note]]:
    """A section for an instance whose configuration could not be read: sockets only."""
    message = (
        f"the configuration of httpd {group.root_pid} ({', '.join(group.addresses)}) could "
        f"not be read, so its timers are not judged: {error}"
    )
    facts = HostFacts(host=host, apache=None, sysctl=sysctl_settings)
    instance = Instance(pid=group.root_pid, listeners=list(group.addresses), found_by=message)
    return facts, instance, [Note(message=message)]


def _place_unheard_ports(
    sections: list[_Section],
    ports: list[int] | None,
    fs: RootFS,
    options: ApacheOptions,
    sysctl: str | os.PathLike[str] | None,
    config: AuditConfig | None,
) -> None:
    """Ports asked for that no instance listens on go with the only instance, if one."""
    if not ports:
        return
    heard = {port for section in sections for port in section.ports}
    unheard = sorted(set(ports) - heard)
    if not unheard:
        return
    if len(sections) == 1:
        sections[0].ports = sorted([*sections[0].ports, *unheard])
        return
    sections.append(_single_section(fs, unheard, options, sysctl, config, None, "proc"))


def _explain(
    section: _Section,
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
        workers=workers,
        scoreboard=summary,
        close_wait=classification.close_wait,
        close_wait_truncated=classification.close_wait_truncated,
        instance=instance,
        backends=backends,
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
) -> Diagnosis:
    """Explain the CLOSE_WAIT sockets on Apache's ports with the configuration that runs there.

    Reads only: the socket table, ``/proc/<pid>/fd`` links, ``comm``,
    ``cmdline``, ``stat``, ``environ`` and the ``exe`` binary's bytes, the
    configuration and sysctls, ``/proc/net/netstat``; with ``status_url``,
    one GET to the local mod_status page. It runs no program and sends no signal.

    Which configuration: without ``apache_conf``, each running httpd that
    holds a listening socket on the ports (``ports`` None: every httpd's
    listening ports) is judged with the file its command line names (``-f``,
    ``-d``, ``-D``, ``-C``) and the build its binary shows; several
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

    Raises:
        UsageError: no ports known, or two sources of one kind given.
        ParseError: an input exists but cannot be read or parsed.
    """
    session = prepare(
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
        ),
    )
    return session.sample()
