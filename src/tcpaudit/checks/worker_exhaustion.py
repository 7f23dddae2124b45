"""How few stalled clients per second it takes to occupy every worker.

Each kind of stalled client holds a worker for its own time
(``tcpaudit.hold``): one that sends nothing until the header limit or
Timeout, one that stops reading a large response for Timeout on every MPM,
an idle keep-alive client for KeepAliveTimeout on prefork/worker, each plus
the lingering close a prefork/worker worker runs. ``workers / the longest
such hold`` clients per second keep the whole pool busy; new connections then
wait in the accept queue, their clients give up, and the queue fills with
CLOSE_WAIT sockets nobody owns. This is the incident. Trickling clients
(slowloris, slow POST) are attacks judged by TA103 and TA104, not here.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from ..engine.findings import Severity
from ..engine.rule import Context
from ..facts import HostFacts
from ..hold import ADVERSARIAL_KINDS, HoldKind, KindHold, exhaustion, kind_holds
from .base import CheckParams, Hit, plain_number
from .fixes import apache_location, scope_setting
from .hold_fixes import timer_fix
from .hold_text import hold_sentence

__all__ = ["ExhaustionParams", "worker_exhaustion"]


class ExhaustionParams(CheckParams):
    # Below this rate the finding has the rule's severity; below critical_below, critical.
    min_clients_per_second: float
    critical_below: float
    recommended_timeout_seconds: int = 30
    recommended_keepalive_seconds: float = 2
    # Behind a load balancer KeepAliveTimeout must stay above its idle timeout
    # (TA118): the fix then never lowers it.
    keep_keepalive: bool = False
    # With keep_keepalive: the balancer's idle timeout and the KeepAliveTimeout
    # TA118 asks for at or below it; the fix counts holds with that value.
    balancer_idle_timeout_seconds: float = 60
    balancer_keepalive_seconds: float = 65


# The setting a finding points at, by the timer that ends the longest hold.
_SETTING_OF_LIMIT = {
    "Timeout": "Timeout",
    "nothing": "Timeout",
    "KeepAliveTimeout": "KeepAliveTimeout",
}


def worker_exhaustion(
    facts: HostFacts, params: ExhaustionParams, context: Context
) -> Iterator[Hit]:
    config = facts.apache
    workers = facts.derived.max_request_workers_effective
    if config is None or workers is None:
        return
    holds = kind_holds(config)
    drain = exhaustion(holds, workers)
    rate, worst = drain.clients_per_second, drain.hold
    if rate is None or worst is None or rate >= params.min_clients_per_second:
        return
    target = workers / params.min_clients_per_second
    fix = timer_fix(
        config,
        workers,
        params.min_clients_per_second,
        recommended_timeout_seconds=params.recommended_timeout_seconds,
        keepalive_seconds=None if params.keep_keepalive else params.recommended_keepalive_seconds,
        balancer_keepalive=(
            params.balancer_idle_timeout_seconds,
            params.balancer_keepalive_seconds,
        )
        if params.keep_keepalive
        else None,
    )
    setting_name = _SETTING_OF_LIMIT.get(worst.limit, "RequestReadTimeout")
    if not config.has_module("reqtimeout_module") and worst.kind in ("silent", "header_stop"):
        setting_name = "Timeout"
    workers_setting = config.settings.get("MaxRequestWorkers")
    unlimited = worst.seconds is None
    yield Hit(
        setting="exhaustion_clients_per_second",
        current=round(rate, 2),
        recommended=plain_number(params.min_clients_per_second),
        # Where the quoted hold's timer is set: the vhost it is longest in.
        location=apache_location(
            config, scope_setting(config, worst.scope, setting_name) or workers_setting
        ),
        fix=fix.text,
        changes=fix.fix.changes,
        severity=Severity.CRITICAL if rate < params.critical_below else None,
        values={
            "workers": workers,
            "workers_spelled": (workers_setting.spelled if workers_setting else None)
            or "MaxRequestWorkers",
            "kind": worst.kind,
            "hold": "no limit" if unlimited else f"{worst.seconds:g}",
            "rate": f"{round(rate, 2):g}",
            "held_by": "can all be held by as few stalled clients, for as long as they stay "
            "connected"
            if unlimited
            else f"are all held by {round(rate, 2):g} stalled clients per second, one every "
            f"{(worst.seconds or 0) / workers:.2g} s",
            "cause": _cause(worst, config.has_module("reqtimeout_module")),
            "others": _others(holds, worst, target),
            "after": _after(fix.clients_per_second, params.min_clients_per_second),
            "mpm": config.mpm,
        },
    )


_STAGE_OF_KIND = {"silent": "header", "header_stop": "header", "body_stall": "body"}


def _cause(worst: KindHold, reqtimeout_loaded: bool) -> str:
    text = hold_sentence(worst)
    if worst.kind == "slow_reader":
        text += ", on every MPM: mod_reqtimeout never covers a response"
    elif worst.limit in ("Timeout", "nothing") and worst.kind in _STAGE_OF_KIND:
        if not reqtimeout_loaded:
            text += ", with no mod_reqtimeout to cut it shorter"
        else:
            # Loaded, yet the stage is off (0, or 2.2's module without a line).
            text += f", since mod_reqtimeout sets no {_STAGE_OF_KIND[worst.kind]} limit"
    return text


def _others(holds: Mapping[HoldKind, KindHold], worst: KindHold, target: float) -> str:
    """The other kinds that alone would drain the pool too, longest first."""
    others = [
        hold
        for kind, hold in holds.items()
        if kind not in ADVERSARIAL_KINDS
        and hold.kind != worst.kind
        and (hold.seconds is None or hold.seconds > target)
    ]
    if not others:
        return ""
    others.sort(key=lambda hold: -(hold.seconds if hold.seconds is not None else float("inf")))
    named = ", ".join(
        f"{hold.kind} {'no limit' if hold.seconds is None else f'{hold.seconds:g} s'}"
        for hold in others
    )
    return f" Also held longer than the {target:.3g} s this pool affords: {named}."


def _after(rate: float | None, wanted: float) -> str:
    if rate is None:
        return ""
    return f" With the fix: {rate:.3g} clients per second (at least {wanted:g})."
