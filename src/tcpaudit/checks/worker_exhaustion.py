"""How few stalled clients per second it takes to occupy every worker.

Each worker can be held for ``worker_hold_seconds_worst`` by a client that
stops sending (Timeout or mod_reqtimeout's limit) or idles in keep-alive on a
holding MPM. ``workers / hold`` such clients per second keep the whole pool
busy; new connections then wait in the accept queue, their clients give up,
and the queue fills with CLOSE_WAIT sockets nobody owns. This is the incident.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..engine.findings import Severity
from ..engine.rule import Context
from ..facts import HostFacts
from .base import CheckParams, Hit, plain_number
from .fixes import apache_location, load_module_fix

__all__ = ["ExhaustionParams", "worker_exhaustion"]


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
    if config is None or rate is None or hold is None or workers is None:
        return
    if rate >= params.min_clients_per_second:
        return
    read_hold = derived.request_read_hold_seconds or 0.0
    keepalive_hold = derived.keepalive_hold_seconds or 0.0
    fixes: list[str] = []
    if read_hold >= keepalive_hold:
        dominant = "Timeout"
        if config.has_module("reqtimeout_module"):
            cause = f"a client that stops sending holds a worker {read_hold:g} s (RequestReadTimeout / Timeout)"
            dominant = "RequestReadTimeout"
            fixes.append("RequestReadTimeout header=20-40,MinRate=500 body=20,MinRate=500")
        else:
            cause = f"a client that stops sending holds a worker up to Timeout, {read_hold:g} s, per read (no mod_reqtimeout)"
            fixes.append(load_module_fix(config, "reqtimeout_module"))
        fixes.append(f"Timeout {params.recommended_timeout_seconds}")
    else:
        dominant = "KeepAliveTimeout"
        cause = f"an idle keep-alive client holds a {config.mpm} worker {keepalive_hold:g} s after each response"
        fixes.append("KeepAliveTimeout 2")
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
            "cause": cause,
            "mpm": config.mpm,
        },
    )
