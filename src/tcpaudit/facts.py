"""``HostFacts``: everything tcpaudit knows of one host, and the timings derived from it.

Loaders fill ``apache`` and ``sysctl``; the derived timings are computed here,
once, so rules and reports quote the same numbers. Rules read only this model.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from functools import cached_property
from typing import Any, Self

from pydantic import ConfigDict, Field, computed_field, model_validator

from .apache.build import BuildName
from .apache.loader import load_apache
from .apache.model import ApacheConfig
from .errors import UsageError, raises_only_documented_errors
from .first_error import FirstErrorModel
from .hold import HOLDING_MPMS, exhaustion, kind_holds, silent_deferred_seconds
from .provenance import Note
from .rootfs import RootFS
from .safetext import printable
from .sysctl.defaults import parse_kernel_version
from .sysctl.loader import load_sysctl
from .sysctl.model import BootTool, SysctlSettings

log = logging.getLogger(__name__)

__all__ = [
    "HOLDING_MPMS",
    "DerivedTimings",
    "HostFacts",
    "gather",
    "least_retries2_for",
    "retries2_giveup_seconds",
    "rto_max_seconds",
    "threads_per_child_effective",
]

# RFC 6298 / tcp.h: the first retransmission timeout is at least TCP_RTO_MIN
# (200 ms) and doubles up to TCP_RTO_MAX (120 s); from Linux 6.15 the cap is
# each socket's, which starts at net.ipv4.tcp_rto_max_ms (1000..120000 ms).
TCP_RTO_MIN_SECONDS = 0.2
TCP_RTO_MAX_SECONDS = 120.0
_RTO_MAX_KEY = "net.ipv4.tcp_rto_max_ms"
_RTO_MAX_MS_RANGE = (1000, 120_000)  # sysctl_net_ipv4.c: extra1 1000, extra2 120 s
_RTO_MAX_SINCE = (6, 15)  # commit 1280c26228bd added the key


def rto_max_seconds(sysctl: SysctlSettings | None) -> float:
    """The retransmission timeout's cap a new socket gets: tcp_rto_max_ms when
    the kernel has the key (a live value shows it; else a kernel of 6.15 or
    later) with a value it takes, else TCP_RTO_MAX. An older kernel, or one
    whose version is not known, has the fixed cap: a boot tool cannot write a
    key the kernel lacks."""
    setting = sysctl.settings.get(_RTO_MAX_KEY) if sysctl is not None else None
    if sysctl is None or setting is None:
        return TCP_RTO_MAX_SECONDS
    if setting.live is None:
        kernel = parse_kernel_version(sysctl.kernel) if sysctl.kernel else None
        if kernel is None or kernel < _RTO_MAX_SINCE:
            return TCP_RTO_MAX_SECONDS
    value = sysctl.int_value(_RTO_MAX_KEY)
    if value is None or not _RTO_MAX_MS_RANGE[0] <= value <= _RTO_MAX_MS_RANGE[1]:
        return TCP_RTO_MAX_SECONDS
    return value / 1000


def retries2_giveup_seconds(retries: int, rto_max: float = TCP_RTO_MAX_SECONDS) -> float:
    """Minimum time before the kernel drops a connection whose data is never acknowledged.

    tcp_model_timeout (net/ipv4/tcp_timer.c) with the RTO starting at 200 ms
    and doubling up to ``rto_max`` seconds: (2^(N+1) - 1) x 0.2 s while N is
    at most ilog2(rto_max / 0.2), then ``rto_max`` per further retry. In
    closed form, so that a value of two billion costs no more than 15.
    """
    if retries < 0:
        return 0.0
    base_ms = round(TCP_RTO_MIN_SECONDS * 1000)
    max_ms = round(rto_max * 1000)
    linear_backoff_thresh = max(max_ms // base_ms, 1).bit_length() - 1
    if retries <= linear_backoff_thresh:
        total_ms = ((2 << retries) - 1) * base_ms
    else:
        total_ms = ((2 << linear_backoff_thresh) - 1) * base_ms + (
            retries - linear_backoff_thresh
        ) * max_ms
    return round(total_ms / 1000, 1)


def least_retries2_for(seconds: float, rto_max: float = TCP_RTO_MAX_SECONDS) -> int:
    """The least tcp_retries2 whose give-up time is at least ``seconds`` (RFC
    1122's 100 s: 8 with the default cap, more with a lowered tcp_rto_max_ms),
    at most the kernel's 255."""
    for retries in range(256):
        if retries2_giveup_seconds(retries, rto_max) >= seconds:
            return retries
    return 255


class DerivedTimings(FirstErrorModel):
    """Numbers computed from several settings; None when an input is unknown.

    ``worker_hold_seconds`` maps each kind of stalled client (``hold.HOLD_KINDS``)
    to how long one such client keeps one worker, lingering close included:
    0 when it holds none, None when nothing ends the hold (see ``tcpaudit.hold``).
    ``worker_hold_seconds_worst`` is the longest of the kinds that are not
    attacks (every kind but header_trickle and body_trickle), the one named by
    ``worker_hold_kind_worst``; ``exhaustion_clients_per_second`` divides the
    workers by it (0 when that hold has no limit). ``request_read_hold_seconds``
    is the longest hold of a client that stops sending its request (silent,
    header_stop, body_stall), ``keepalive_hold_seconds`` that of an idle
    keep-alive client, ``silent_deferred_seconds`` how long TCP_DEFER_ACCEPT
    keeps a silent client from Apache before its hold starts.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_request_workers_effective: int | None = None
    keepalive_detect_seconds: int | None = None
    retries2_giveup_seconds: float | None = None
    listen_backlog_effective: int | None = None
    worker_hold_seconds: dict[str, float | None] | None = None
    worker_hold_kind_worst: str | None = None
    worker_hold_seconds_worst: float | None = None
    request_read_hold_seconds: float | None = None
    keepalive_hold_seconds: float | None = None
    silent_deferred_seconds: float | None = None
    exhaustion_clients_per_second: float | None = None
    exhaustion_interval_seconds: float | None = None


def _int(config: ApacheConfig, name: str) -> int | None:
    setting = config.settings.get(name)
    if setting is None or isinstance(setting.value, bool) or not isinstance(setting.value, int):
        return None
    return setting.value


# Compile-time limits of httpd 2.4 (MAX_SERVER_LIMIT, MAX_THREAD_LIMIT): a
# larger ServerLimit or ThreadLimit is lowered at start-up with a warning
# (apache2 2.4: AH00175, AH00300, AH00305, AH00497, AH00502).
_HARD_SERVER_LIMIT = {"prefork": 200_000, "worker": 20_000, "event": 20_000}
_HARD_THREAD_LIMIT = {"worker": 20_000, "event": 100_000}


def threads_per_child_effective(config: ApacheConfig) -> int:
    """ThreadsPerChild as httpd runs it: at least 1, at most ThreadLimit (1 for prefork).

    httpd raises a ThreadLimit or ThreadsPerChild below 1 to 1 at start-up
    (with a warning), so the result never divides by zero.
    """
    if config.mpm not in ("worker", "event"):
        return 1
    threads = max(_int(config, "ThreadsPerChild") or 1, 1)
    thread_limit = _int(config, "ThreadLimit")
    if thread_limit is not None:
        threads = min(threads, max(thread_limit, 1))
    return min(threads, _HARD_THREAD_LIMIT[config.mpm])


def max_request_workers_effective(config: ApacheConfig) -> int | None:
    """MaxRequestWorkers after httpd's silent caps (ServerLimit, ThreadsPerChild x ServerLimit);
    one child's worth under ``ONE_PROCESS`` or ``DEBUG`` (``ApacheConfig.one_process``)."""
    if config.one_process is not None:
        return threads_per_child_effective(config) if config.mpm in ("worker", "event") else 1
    workers = _int(config, "MaxRequestWorkers")
    limit = _int(config, "ServerLimit")
    if workers is None or limit is None:
        return None
    # httpd raises a ServerLimit, ThreadLimit or ThreadsPerChild below 1 to 1
    # at start-up (with a warning), so none of them divides by zero here.
    limit = max(limit, 1)
    if config.mpm in _HARD_SERVER_LIMIT:
        limit = min(limit, _HARD_SERVER_LIMIT[config.mpm])
    if config.mpm in ("worker", "event"):
        threads = threads_per_child_effective(config)
        # Threaded MPMs also round MaxRequestWorkers down to whole children.
        workers = min(workers, limit * threads) // threads * threads
        return max(workers, threads)
    return max(min(workers, limit), 1)


def hold_timings(config: ApacheConfig, workers: int | None) -> dict[str, Any]:
    """The worker-hold part of ``DerivedTimings`` (computed by ``tcpaudit.hold``)."""
    holds = kind_holds(config)
    values: dict[str, Any] = {
        "worker_hold_seconds": {kind: hold.seconds for kind, hold in holds.items()},
        "silent_deferred_seconds": silent_deferred_seconds(config),
    }
    reading = [holds[k] for k in ("silent", "header_stop", "body_stall") if k in holds]
    if reading:
        values["request_read_hold_seconds"] = (
            None
            if any(h.seconds is None for h in reading)
            else max(h.seconds or 0.0 for h in reading)
        )
    if "keepalive_idle" in holds:
        values["keepalive_hold_seconds"] = holds["keepalive_idle"].seconds
    drain = exhaustion(holds, workers)
    if drain.hold is not None:
        values["worker_hold_kind_worst"] = drain.hold.kind
        values["worker_hold_seconds_worst"] = drain.hold.seconds
    if drain.clients_per_second is not None:
        values["exhaustion_clients_per_second"] = drain.clients_per_second
        if drain.hold is not None and drain.hold.seconds and workers:
            values["exhaustion_interval_seconds"] = round(drain.hold.seconds / workers, 3)
    return values


class HostFacts(FirstErrorModel):
    """The audited host: its Apache configuration, its sysctls, and what follows from them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str
    apache: ApacheConfig | None = None
    sysctl: SysctlSettings | None = None
    notes: list[Note] = Field(default_factory=list)

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        """A copy; ``derived`` is computed again for it (its values may differ)."""
        copied = super().model_copy(update=update, deep=deep)
        copied.__dict__.pop("derived", None)
        return copied

    @model_validator(mode="before")
    @classmethod
    def _drop_derived(cls, data: Any) -> Any:
        # A facts document carries "derived" for readers; it is always recomputed.
        if isinstance(data, dict) and "derived" in data:
            data = {key: value for key, value in data.items() if key != "derived"}
        return data

    @computed_field  # type: ignore[prop-decorator]  # pydantic's documented pattern
    @cached_property
    def derived(self) -> DerivedTimings:
        """Timings computed from the Apache and kernel values (see ``DerivedTimings``).

        Computed once: the facts are frozen, and every check asks (a tree of
        2,000 vhosts with their own timers took 87 s when each finding did).
        """
        values: dict[str, Any] = {}
        sysctl = self.sysctl
        if sysctl is not None:
            time = sysctl.int_value("net.ipv4.tcp_keepalive_time")
            interval = sysctl.int_value("net.ipv4.tcp_keepalive_intvl")
            probes = sysctl.int_value("net.ipv4.tcp_keepalive_probes")
            if None not in (time, interval, probes):
                assert time is not None and interval is not None and probes is not None
                values["keepalive_detect_seconds"] = time + interval * probes
            retries = sysctl.int_value("net.ipv4.tcp_retries2")
            if retries is not None:
                values["retries2_giveup_seconds"] = retries2_giveup_seconds(
                    retries, rto_max_seconds(sysctl)
                )
        config = self.apache
        if config is not None:
            workers = max_request_workers_effective(config)
            values["max_request_workers_effective"] = workers
            backlog = _int(config, "ListenBacklog")
            somaxconn = sysctl.int_value("net.core.somaxconn") if sysctl else None
            if backlog is not None:
                values["listen_backlog_effective"] = (
                    min(backlog, somaxconn) if somaxconn is not None else backlog
                )
            values.update(hold_timings(config, workers))
        return DerivedTimings(**values)


# HOST_NAME_MAX is 64; a fully qualified name is at most 253 characters.
_HOST_NAME_CHARACTERS = 253


def _host_name(fs: RootFS) -> str:
    """The host name: this machine's, else the root's etc/hostname, else the root's name.

    etc/hostname is read like every file of the tree (inside the root, a
    regular file, 4 KiB at most); its first line counts, and only if it is
    text a host name can be (no control characters, at most 253 characters).
    """
    if fs.is_host:
        import socket  # only here: a tree's facts need no sockets (4 ms of imports)

        return socket.gethostname()
    try:
        data = fs.read_bytes("/etc/hostname", 4096)
    except OSError:
        data = b""
    lines = data.decode("utf-8", errors="replace").strip().splitlines()
    name = lines[0].strip() if lines else ""
    if name and len(name) <= _HOST_NAME_CHARACTERS and name.isprintable():
        return name
    # The root directory's own name, as the other outputs show names: control
    # characters and line breaks (U+0085, U+2028 too) escaped.
    return printable(fs.root.name)


@raises_only_documented_errors
def gather(
    root: str | os.PathLike[str] | RootFS = "/",
    apache_conf: str | os.PathLike[str] | None = None,
    sysctl: str | os.PathLike[str] | None = None,
    *,
    apache_version: str | None = None,
    sysctl_boot: BootTool | None = None,
    kernel_version: str | None = None,
    host: str | None = None,
    apache_build: BuildName | None = None,
    defines: Sequence[str] = (),
    directives: Sequence[str] = (),
    environment: Mapping[str, str] | None = None,
    allow_empty: bool = False,
    late_directives: Sequence[str] = (),
) -> HostFacts:
    """Read a host's Apache configuration and TCP sysctls into ``HostFacts``.

    Args:
        root: the directory that stands for the host's ``/`` (or its ``RootFS``,
            which the Apache and sysctl loaders then share).
        apache_conf: the main Apache configuration; None finds it by layout.
        sysctl: live sysctl values (a /proc/sys-like directory or ``sysctl -a``
            text); None reads ``<root>/proc/sys``.
        apache_version: the Apache version; None infers it from the configuration.
        sysctl_boot: whose precedence decides persistent values; None detects it.
        kernel_version: the kernel release for defaults; None reads it.
        host: the name to report; None uses the host name (or the root's /etc/hostname).
        apache_build: the httpd build (``debian``, ``rhel``, ``suse``, ``gentoo``,
            ``upstream``); None works it out from the root.
        defines: ``-D`` names added to the service's, as on httpd's command line.
        directives: ``-C`` directives added to the service's (read before the main file).
        environment: variables of httpd's environment, over the service's.
        allow_empty: return facts with nothing in them rather than refuse a root
            that holds nothing to audit (for callers with other evidence, such as
            ``diagnose`` reading sockets).
        late_directives: ``-c`` directives added to the service's (read after
            the main file).

    Raises:
        UsageError: ``root`` is not a directory, or nothing under it can be
            audited (no Apache configuration, no sysctl.conf or sysctl.d file,
            no proc/sys value, and no ``sysctl`` source named): a mistyped path
            must not pass as a clean host.
        ParseError: an input exists but cannot be read or parsed.

    Example::

        facts = tcpaudit.gather(root="examples/closewait-incident")
        assert facts.apache.mpm == "prefork"
        assert facts.derived.max_request_workers_effective == 150
        # Timeout 300 and 2 s of lingering close for a client that sends nothing:
        assert facts.derived.worker_hold_seconds["silent"] == 302.0
        keepalive = facts.sysctl.settings["net.ipv4.tcp_keepalive_time"]
        assert (keepalive.value, keepalive.live.file) == (
            7200, "proc/sys/net/ipv4/tcp_keepalive_time"
        )
    """
    # One view of the root for every loader: the same resolution and display rules.
    if isinstance(root, RootFS):
        fs, root_shown = root, str(root.root)
        _check_root(fs.root)
    else:
        _check_root(root)
        fs, root_shown = RootFS(root), os.fspath(root)
    notes: list[Note] = []
    apache = load_apache(
        apache_conf,
        fs,
        apache_version,
        build=apache_build,
        defines=defines,
        directives=directives,
        environment=environment,
        late_directives=late_directives,
    )
    if apache is None:
        notes.append(
            Note(message="no Apache configuration found under the root: Apache not audited")
        )
    else:
        log.info(
            "apache: %s (%s layout), %d files, %d vhosts, Apache %s (%s), %s MPM (%s)",
            apache.main_file, apache.layout, len(apache.files), len(apache.vhosts),
            apache.version, apache.version_source, apache.mpm, apache.mpm_source,
        )  # fmt: skip
    settings = load_sysctl(sysctl, fs, boot=sysctl_boot, kernel=kernel_version)
    live = sum(1 for setting in settings.settings.values() if setting.live is not None)
    files = len(settings.persistent_files)
    log.info(
        "sysctl: %d keys, %d live values, %d persistent file%s applied in %s order",
        len(settings.settings), live, files, "" if files == 1 else "s", settings.boot or "unknown",
    )  # fmt: skip
    if apache is None and sysctl is None and not allow_empty and not _read_any_sysctl(settings):
        raise UsageError(
            f"nothing to audit under {root_shown}: no Apache configuration, no sysctl.conf "
            "or sysctl.d files and no proc/sys values"
        )
    return HostFacts(host=host or _host_name(fs), apache=apache, sysctl=settings, notes=notes)


def _read_any_sysctl(settings: SysctlSettings) -> bool:
    """Whether a sysctl source was found (defaults alone do not count): a file
    applied, a value, or a file the boot tool met and set nothing from (masked
    by a /dev/null link, unreadable), which a note names."""
    return (
        bool(settings.persistent_files)
        or any(
            setting.live is not None or setting.persistent is not None
            for setting in settings.settings.values()
        )
        or any(note.file is not None for note in settings.notes)
    )


def _check_root(root: str | os.PathLike[str]) -> None:
    try:
        is_directory = os.path.isdir(root)
    except (TypeError, ValueError) as exc:  # an embedded NUL, a value that is no path
        raise UsageError(f"root {root!r} is not a path: {exc}") from exc
    if not is_directory:
        state = "is not a directory" if os.path.lexists(root) else "does not exist"
        raise UsageError(f"root {os.fspath(root)} {state}")
