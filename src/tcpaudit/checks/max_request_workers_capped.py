"""MaxRequestWorkers (MaxClients) asks for more workers than the limits allow.

httpd caps MaxRequestWorkers at ServerLimit for prefork and at ServerLimit x
ThreadsPerChild (itself capped by ThreadLimit) for threaded MPMs, rounding
down to whole children; it only logs a warning at start-up (mpm_common docs).
The pool that TA301 sizes is ``max_request_workers_effective``, not the
number in the file.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..apache.model import ApacheConfig
from ..engine.rule import Context
from ..facts import HostFacts, threads_per_child_effective
from .base import CheckParams, Hit
from .fixes import apache_location, delete_line, set_directive

__all__ = ["WorkersCappedParams", "max_request_workers_capped"]


class WorkersCappedParams(CheckParams):
    pass


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _value(config: ApacheConfig, name: str) -> int | None:
    setting = config.settings.get(name)
    return _int(setting.value) if setting is not None else None


def max_request_workers_capped(
    facts: HostFacts, params: WorkersCappedParams, context: Context
) -> Iterator[Hit]:
    config = facts.apache
    effective = facts.derived.max_request_workers_effective
    if config is None or effective is None:
        return
    setting = config.settings.get("MaxRequestWorkers")
    wanted = _int(setting.value) if setting is not None and not setting.default else None
    if setting is None or wanted is None or wanted <= effective:
        return
    threaded = config.mpm in ("worker", "event")
    threads = threads_per_child_effective(config)
    server_limit = config.settings.get("ServerLimit")
    limit = _value(config, "ServerLimit")
    spelled = setting.spelled or "MaxRequestWorkers"
    limit_from = (
        f"{server_limit.file}:{server_limit.line}"
        if server_limit is not None and server_limit.file is not None
        else "the compiled default"
    )
    if limit is not None and wanted <= limit * threads:
        # Within ServerLimit: only the rounding down to whole children bites.
        rounded_up = -(-wanted // threads) * threads
        fix = set_directive(config, setting, f"{spelled} {rounded_up}")
        yield Hit(
            setting="MaxRequestWorkers",
            current=wanted,
            recommended=rounded_up,
            location=apache_location(config, setting),
            fix=fix.text,
            changes=fix.changes,
            values={
                "workers_spelled": spelled,
                "wanted": wanted,
                "workers_at": f"{setting.file}:{setting.line}",
                "reason": f"it is rounded down to whole children of {threads} threads",
                "advice": f"Write a multiple of ThreadsPerChild: {spelled} {rounded_up}",
            },
        )
        return
    needed = -(-wanted // threads)
    cap = f"ServerLimit x {threads} threads per child" if threaded else "ServerLimit"
    # Not a multiple of ThreadsPerChild: it would still be rounded down.
    workers_line = f"{spelled} {needed * threads if wanted % threads else wanted}"
    # ServerLimit goes right above the worker count (older MPMs compare the
    # two while reading MaxClients), replacing a ServerLimit line elsewhere.
    fix = set_directive(config, setting, f"ServerLimit {needed}\n{workers_line}")
    if server_limit is not None and not server_limit.default and server_limit.file is not None:
        fix += delete_line(server_limit.file, server_limit.line, f"ServerLimit {limit}")
    yield Hit(
        setting="ServerLimit",
        current=limit,
        recommended=needed,
        # ServerLimit goes above the worker count: older MPMs compare the two
        # while reading MaxClients, so that order is right in every version.
        location=apache_location(config, setting),
        fix=fix.text,
        changes=fix.changes,
        values={
            "workers_spelled": spelled,
            "wanted": wanted,
            "workers_at": f"{setting.file}:{setting.line}",
            "reason": f"{cap} allows no more (ServerLimit {limit} from {limit_from})",
            "advice": f"Put ServerLimit {needed} above it (a full stop and start applies it), "
            f"or write {spelled} {effective} if memory cannot afford more",
        },
    )
