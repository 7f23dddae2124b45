"""Which configuration explains which ports: one section per running httpd.

This module owns the step from instances (``instances.py``) to judged
configurations: it loads what each instance runs with the user's options
added, audits it, and says so when it could not (no visible holder, a
capture, an unreadable file) and what it judged instead. ``run.py`` reads
the sockets again for every sample and explains them with these sections.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from ..apache import load_apache
from ..apache.build import BuildName
from ..apache.model import ApacheInvocation
from ..engine import AuditConfig, audit
from ..engine.findings import Report
from ..errors import TcpauditError, UsageError
from ..facts import HostFacts, gather
from ..provenance import Note
from ..rootfs import RootFS
from ..sysctl.model import SysctlSettings
from .classify import listen_ports
from .instances import InstanceGroup, LoadPlan, plan_load, shown_arguments
from .model import Instance, SocketSource
from .processes import ProcessInfo, boot_time, started_at

__all__ = [
    "ApacheOptions",
    "Section",
    "judge_instance",
    "place_unheard_ports",
    "single_section",
    "unjudged",
]


@dataclass(frozen=True)
class ApacheOptions:
    """The user's Apache options, as on every command that reads Apache.

    They are added to what the instance's own command line gives (``-D``,
    ``-C``, ``-c``, ``--env``) or override it (``apache_conf``, ``version``, ``build``).
    """

    apache_conf: str | os.PathLike[str] | None = None
    version: str | None = None
    build: BuildName | None = None
    defines: Sequence[str] = ()
    directives: Sequence[str] = ()
    environment: Mapping[str, str] | None = None
    late_directives: Sequence[str] = ()


@dataclass
class Section:
    """One instance's ports and the audit of the configuration it runs."""

    ports: list[int]
    facts: HostFacts
    report: Report
    instance: Instance | None = None
    notes: list[Note] = field(default_factory=list)


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
        late_directives=options.late_directives,
    )


def single_section(
    fs: RootFS,
    ports: list[int] | None,
    options: ApacheOptions,
    sysctl: str | os.PathLike[str] | None,
    config: AuditConfig | None,
    facts: HostFacts | None,
    source: SocketSource,
) -> Section:
    """Every port in one section, judged by the configuration given or found by layout."""
    notes: list[Note] = []
    given = facts is not None
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
        if given:
            how = f"judged {facts.apache.main_file}, from the facts given to diagnose()"
        elif options.apache_conf is not None:
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
        if not given and options.apache_conf is None and source == "proc":
            notes.append(Note(message=how))
        instance = Instance(pid=None, config_file=facts.apache.main_file, found_by=how)
    return Section(
        ports=ports, facts=facts, report=audit(facts, config), instance=instance, notes=notes
    )


def judge_instance(
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
        late_directives=[*plan.late_directives, *options.late_directives],
        server_root=plan.server_root,
        environment={**plan.environment, **(options.environment or {})},
        compiled_in=plan.compiled_in if options.build is None else None,
        build=options.build,
    )
    notes = list(plan.notes)
    if config is not None and process is not None and config.invocation is not None:
        notes += _service_additions(config.invocation, plan, options, process.pid)
    if config is not None and fs.is_host and process is not None:
        notes += _changed_since_start(where, config.files, group, processes)
    if config is not None:
        # A -C Define's value the configuration uses as a password is a
        # secret in the command line shown and in the notes that quote it.
        notes = [
            note.model_copy(update={"message": config.hide_secrets(note.message)}) for note in notes
        ]
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
        arguments=[
            config.hide_secrets(word) if config is not None else word
            for word in shown_arguments(plan.arguments)
        ],
        listeners=list(group.addresses),
        config_file=config.main_file if config is not None else None,
        found_by=config.hide_secrets(plan.found_by) if config is not None else plan.found_by,
    )
    return facts, instance, notes


def _service_additions(
    invocation: ApacheInvocation, plan: LoadPlan, options: ApacheOptions, pid: int
) -> list[Note]:
    """What the host's service start-up added that this process was not started with.

    The loader reads the service's -D and -C (unit, envvars, sysconfig) under
    the instance's own; a server started by hand did not get them, so they are
    named for the reader to weigh.
    """
    own_defines = {*plan.defines, *options.defines}
    own_directives = {*plan.directives, *options.directives}
    defines = [name for name in invocation.defines if name not in own_defines]
    directives = [line for line in invocation.directives if line not in own_directives]
    added = [f"-D {name}" for name in dict.fromkeys(defines)]
    added += [f"-C '{line}'" for line in dict.fromkeys(directives)]
    if not added:
        return []
    return [
        Note(
            message=f"the host's service start-up ({invocation.how or 'its unit'}) adds "
            f"{', '.join(added)}, which process {pid} was not started with: they were read "
            "too, so settings they decide may not be this instance's"
        )
    ]


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


def unjudged(
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


def place_unheard_ports(
    sections: list[Section],
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
    sections.append(single_section(fs, unheard, options, sysctl, config, None, "proc"))
