"""``HostFacts``: everything tcpaudit knows of one host, and the timings derived from it.

Loaders fill ``apache`` and ``sysctl``; the derived timings are computed here,
once, so rules and reports quote the same numbers. Rules read only this model.
"""

from __future__ import annotations

import logging
import os
import socket
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, computed_field, model_validator

from .apache.loader import load_apache
from .apache.model import ApacheConfig, MpmName
from .apache.scopes import scopes
from .apache.values import RequestReadTimeoutValue
from .provenance import Note
from .rootfs import RootFS
from .sysctl.loader import load_sysctl
from .sysctl.model import BootTool, SysctlSettings

log = logging.getLogger(__name__)

__all__ = ["DerivedTimings", "HostFacts", "gather", "retries2_giveup_seconds"]

# RFC 6298 / tcp.h: the first retransmission timeout is at least TCP_RTO_MIN
# (200 ms) and doubles up to TCP_RTO_MAX (120 s).
TCP_RTO_MIN_SECONDS = 0.2
TCP_RTO_MAX_SECONDS = 120.0
# Process- or thread-per-connection MPMs hold a worker through keep-alive waits.
HOLDING_MPMS: frozenset[MpmName] = frozenset({"prefork", "worker"})


def retries2_giveup_seconds(retries: int) -> float:
    """Minimum time before the kernel drops a connection whose data is never acknowledged.

    With the RTO starting at 200 ms and doubling to the 120 s cap (ip-sysctl.rst):
    (2^(N+1) - 1) x 0.2 s while uncapped, then 120 s per further retry.
    In closed form, so that a value of two billion costs no more than 15.
    """
    if retries < 0:
        return 0.0
    doubling = 0  # retransmissions whose RTO is still below the cap
    while doubling <= retries and TCP_RTO_MIN_SECONDS * (1 << doubling) < TCP_RTO_MAX_SECONDS:
        doubling += 1
    total = (
        TCP_RTO_MIN_SECONDS * ((1 << doubling) - 1) + (retries + 1 - doubling) * TCP_RTO_MAX_SECONDS
    )
    return round(total, 1)


class DerivedTimings(BaseModel):
    """Numbers computed from several settings; None when an input is unknown."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_request_workers_effective: int | None = None
    keepalive_detect_seconds: int | None = None
    retries2_giveup_seconds: float | None = None
    listen_backlog_effective: int | None = None
    request_read_hold_seconds: float | None = None
    keepalive_hold_seconds: float | None = None
    worker_hold_seconds_worst: float | None = None
    exhaustion_clients_per_second: float | None = None
    exhaustion_interval_seconds: float | None = None


def _int(config: ApacheConfig, name: str) -> int | None:
    setting = config.settings.get(name)
    if setting is None or isinstance(setting.value, bool) or not isinstance(setting.value, int):
        return None
    return setting.value


def _number(config: ApacheConfig, name: str) -> float | None:
    setting = config.settings.get(name)
    if setting is None or isinstance(setting.value, bool):
        return None
    return float(setting.value) if isinstance(setting.value, int | float) else None


def max_request_workers_effective(config: ApacheConfig) -> int | None:
    """MaxRequestWorkers after httpd's silent caps (ServerLimit, ThreadsPerChild x ServerLimit)."""
    workers = _int(config, "MaxRequestWorkers")
    limit = _int(config, "ServerLimit")
    if workers is None or limit is None:
        return None
    if config.mpm in ("worker", "event"):
        threads = _int(config, "ThreadsPerChild") or 1
        thread_limit = _int(config, "ThreadLimit")
        if thread_limit is not None:
            threads = min(threads, thread_limit)
        # Threaded MPMs also round MaxRequestWorkers down to whole children.
        workers = min(workers, limit * threads) // threads * threads
        return max(workers, threads)
    return max(min(workers, limit), 1)


def request_read_hold_seconds(config: ApacheConfig) -> float | None:
    """How long a client that stops sending holds a worker while its request is read."""
    timeout = _number(config, "Timeout")
    if timeout is None:
        return None
    # A negative Timeout is APR's "block without limit": only mod_reqtimeout bounds it.
    unbounded = timeout < 0
    limits = config.settings.get("RequestReadTimeout")
    value = limits.value if limits else None
    if not isinstance(value, RequestReadTimeoutValue):
        return None if unbounded else timeout
    holds = []
    for stage in (value.header, value.body):
        if stage is None or stage.disabled:
            if unbounded:
                return None
            holds.append(timeout)
        else:
            limit = float(stage.timeout_seconds)
            holds.append(limit if unbounded else min(timeout, limit))
    return max(holds)


def keepalive_hold_seconds(config: ApacheConfig) -> float:
    """How long an idle keep-alive client holds a worker after each response (0 on event).

    The longest wait of any scope where keep-alive is on: the server's, or a
    vhost's own KeepAlive/KeepAliveTimeout (only where that value is effective).
    """
    if config.mpm not in HOLDING_MPMS:
        return 0.0
    server_timeout = _number(config, "KeepAliveTimeout") or 0.0
    longest = 0.0
    for scope in scopes(config):
        if not scope.keepalive:
            continue
        timeout = server_timeout
        own = scope.own("KeepAliveTimeout") if scope.vhost is not None else None
        if own is not None and own.effective and isinstance(own.value, int | float):
            timeout = float(own.value)
        longest = max(longest, timeout)
    return longest


class HostFacts(BaseModel):
    """The audited host: its Apache configuration, its sysctls, and what follows from them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str
    apache: ApacheConfig | None = None
    sysctl: SysctlSettings | None = None
    notes: list[Note] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _drop_derived(cls, data: Any) -> Any:
        # A facts document carries "derived" for readers; it is always recomputed.
        if isinstance(data, dict) and "derived" in data:
            data = {key: value for key, value in data.items() if key != "derived"}
        return data

    @computed_field  # type: ignore[prop-decorator]  # pydantic's documented pattern
    @property
    def derived(self) -> DerivedTimings:
        """Timings computed from the Apache and kernel values (see ``DerivedTimings``)."""
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
                values["retries2_giveup_seconds"] = retries2_giveup_seconds(retries)
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
            read_hold = request_read_hold_seconds(config)
            keepalive_hold = keepalive_hold_seconds(config)
            values["request_read_hold_seconds"] = read_hold
            values["keepalive_hold_seconds"] = keepalive_hold
            if read_hold is not None:
                worst = max(read_hold, keepalive_hold)
                values["worker_hold_seconds_worst"] = worst
                if workers and worst > 0:
                    values["exhaustion_clients_per_second"] = round(workers / worst, 3)
                    values["exhaustion_interval_seconds"] = round(worst / workers, 3)
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
        return socket.gethostname()
    try:
        data = fs.read_bytes("/etc/hostname", 4096)
    except OSError:
        data = b""
    lines = data.decode("utf-8", errors="replace").strip().splitlines()
    name = lines[0].strip() if lines else ""
    if name and len(name) <= _HOST_NAME_CHARACTERS and name.isprintable():
        return name
    return fs.root.name


def gather(
    root: str | os.PathLike[str] = "/",
    apache_conf: str | os.PathLike[str] | None = None,
    sysctl: str | os.PathLike[str] | None = None,
    *,
    apache_version: str | None = None,
    sysctl_boot: BootTool | None = None,
    kernel_version: str | None = None,
    host: str | None = None,
) -> HostFacts:
    """Read a host's Apache configuration and TCP sysctls into ``HostFacts``.

    Args:
        root: the directory that stands for the host's ``/``.
        apache_conf: the main Apache configuration; None finds it by layout.
        sysctl: live sysctl values (a /proc/sys-like directory or ``sysctl -a``
            text); None reads ``<root>/proc/sys``.
        apache_version: the Apache version; None infers it from the configuration.
        sysctl_boot: whose precedence decides persistent values; None detects it.
        kernel_version: the kernel release for defaults; None reads it.
        host: the name to report; None uses the host name (or the root's /etc/hostname).

    Raises:
        TcpauditError: an input exists but cannot be read or parsed.
    """
    fs = RootFS(root)
    notes: list[Note] = []
    apache = load_apache(apache_conf, root, apache_version)
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
    settings = load_sysctl(sysctl, root, boot=sysctl_boot, kernel=kernel_version)
    live = sum(1 for setting in settings.settings.values() if setting.live is not None)
    log.info(
        "sysctl: %d keys, %d live values, %d persistent files applied in %s order",
        len(settings.settings), live, len(settings.persistent_files), settings.boot or "unknown",
    )  # fmt: skip
    return HostFacts(host=host or _host_name(fs), apache=apache, sysctl=settings, notes=notes)
