"""How few stalled clients per second it takes to occupy every worker.

Each worker can be held for ``worker_hold_seconds_worst`` by a client that
stops sending (Timeout or mod_reqtimeout's limit) or idles in keep-alive on a
holding MPM. ``workers / hold`` such clients per second keep the whole pool
busy; new connections then wait in the accept queue, their clients give up,
and the queue fills with CLOSE_WAIT sockets nobody owns. This is the incident.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

from ..apache.defaults import DEFAULT_REQUEST_READ_TIMEOUT_2_4, MPM_DEFAULTS
from ..apache.model import ApacheConfig
from ..apache.values import parse_request_read_timeout
from ..engine.findings import Severity
from ..engine.rule import Context
from ..facts import HostFacts
from .base import CheckParams, Hit, as_seconds, plain_number
from .fixes import apache_location, load_module_fix, module_enabler_configures

__all__ = ["ExhaustionParams", "worker_exhaustion"]

# The limits to recommend are httpd 2.4's own defaults.
_RECOMMENDED_READ = " ".join(DEFAULT_REQUEST_READ_TIMEOUT_2_4)
# How long a client that sends nothing holds a worker under those limits: the
# header stage's first timeout (facts.request_read_hold_seconds counts the same way).
_RECOMMENDED_HEADER = parse_request_read_timeout(DEFAULT_REQUEST_READ_TIMEOUT_2_4, None).header
assert _RECOMMENDED_HEADER is not None
_RECOMMENDED_READ_HOLD = float(_RECOMMENDED_HEADER.timeout_seconds)


class ExhaustionParams(CheckParams):
    # Below this rate the finding has the rule's severity; below critical_below, critical.
    min_clients_per_second: float
    critical_below: float
    recommended_timeout_seconds: int = 30


def worker_exhaustion(
    facts: HostFacts, params: ExhaustionParams, context: Context
) -> Iterator[Hit]:
    config = facts.apache
    derived = facts.derived
    rate = derived.exhaustion_clients_per_second
    hold = derived.worker_hold_seconds_worst
    workers = derived.max_request_workers_effective
    if config is None or workers is None:
        return
    timeout = config.settings.get("Timeout")
    timeout_seconds = as_seconds(timeout.value) if timeout is not None else None
    # A negative Timeout with no read limit: a worker waits as long as its client stays.
    unlimited = (
        derived.request_read_hold_seconds is None
        and timeout_seconds is not None
        and timeout_seconds < 0
    )
    if unlimited:
        rate, hold = 0.0, math.inf
    if rate is None or hold is None or rate >= params.min_clients_per_second:
        return
    read_hold = math.inf if unlimited else derived.request_read_hold_seconds or 0.0
    keepalive_hold = derived.keepalive_hold_seconds or 0.0
    fixes: list[str] = []
    if read_hold >= keepalive_hold:
        dominant = "Timeout"
        loaded = config.has_module("reqtimeout_module")
        if unlimited:
            cause = (
                f"Timeout {timeout_seconds:g} means no limit and no request-read limit applies, "
                "so a client that stops sending holds a worker as long as it stays connected"
            )
        elif loaded:
            cause = f"a client that stops sending holds a worker {read_hold:g} s (RequestReadTimeout / Timeout)"
            dominant = "RequestReadTimeout"
        else:
            cause = f"a client that stops sending holds a worker up to Timeout, {read_hold:g} s, per read (no mod_reqtimeout)"
        if not loaded:
            loader = load_module_fix(config, "reqtimeout_module")
            fixes.append(loader)
            # 2.4 applies these limits once the module is loaded, and Debian's
            # a2enmod brings reqtimeout.conf; 2.2 elsewhere has no limits at all.
            if config.version_info < (2, 4) and not module_enabler_configures(config):
                fixes.append(f"RequestReadTimeout {_RECOMMENDED_READ}")
        elif read_hold > _RECOMMENDED_READ_HOLD:
            fixes.append(f"RequestReadTimeout {_RECOMMENDED_READ}")
        if timeout_seconds is not None and (
            timeout_seconds > params.recommended_timeout_seconds or timeout_seconds < 0
        ):
            fixes.append(f"Timeout {params.recommended_timeout_seconds}")
        read_after = min(
            read_hold, _RECOMMENDED_READ_HOLD, float(params.recommended_timeout_seconds)
        )
        hold_after = max(read_after, keepalive_hold)
    else:
        dominant = "KeepAliveTimeout"
        cause = f"an idle keep-alive client holds a {config.mpm} worker {keepalive_hold:g} s after each response"
        fixes.append("KeepAliveTimeout 2")
        hold_after = max(read_hold, 2.0)
    # When shorter timers alone leave too few workers, say how many are needed.
    fixes += _more_workers(config, workers, hold_after, params.min_clients_per_second)
    severity = Severity.CRITICAL if rate < params.critical_below else None
    workers_setting = config.settings.get("MaxRequestWorkers")
    yield Hit(
        setting="exhaustion_clients_per_second",
        current=round(rate, 2),
        recommended=plain_number(params.min_clients_per_second),
        location=apache_location(config, config.settings.get(dominant) or workers_setting),
        fix="\n".join(fixes),
        severity=severity,
        values={
            "workers": workers,
            "workers_spelled": (workers_setting.spelled if workers_setting else None)
            or "MaxRequestWorkers",
            "hold": f"{hold:g}",
            "rate": f"{rate:g}",
            "interval": f"{hold / workers:.3g}",
            "held_by": "can all be held by as few stalled clients, for as long as they stay "
            "connected"
            if unlimited
            else f"are all held by {rate:g} stalled clients per second, one every "
            f"{hold / workers:.3g} s",
            "cause": cause,
            "mpm": config.mpm,
        },
    )


def _more_workers(
    config: ApacheConfig, workers: int, hold: float, min_clients_per_second: float
) -> list[str]:
    """``MaxRequestWorkers`` (and ``ServerLimit``) lines for a pool that ``hold``
    seconds per stalled client still drains below the wanted rate; none if it does not."""
    if hold <= 0 or workers / hold >= min_clients_per_second:
        return []
    needed = math.ceil(hold * min_clients_per_second)
    setting = config.settings.get("MaxRequestWorkers")
    name = (setting.spelled if setting else None) or "MaxRequestWorkers"
    server_limit = _int_setting(config, "ServerLimit")
    if config.mpm in ("worker", "event"):
        # Threaded MPMs count whole children: round up to a multiple of the
        # threads each child runs (ThreadsPerChild, capped by ThreadLimit).
        defaults = MPM_DEFAULTS[config.mpm]
        per_child = _int_setting(config, "ThreadsPerChild") or defaults["ThreadsPerChild"]
        per_child = max(min(per_child, _int_setting(config, "ThreadLimit") or per_child), 1)
        children = math.ceil(needed / per_child)
        needed = children * per_child
        limit_line = None if server_limit and children <= server_limit else children
    else:
        limit_line = None if server_limit and needed <= server_limit else needed
    lines = [
        f"# {needed} workers keep up with {min_clients_per_second:g} stalled clients/s held "
        f"{hold:g} s each; check the memory per {config.mpm} worker first",
        f"{name} {needed}",
    ]
    if limit_line is not None:
        lines.append(f"ServerLimit {limit_line}")
    return lines


def _int_setting(config: ApacheConfig, name: str) -> int | None:
    setting = config.settings.get(name)
    value = setting.value if setting is not None else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None
