"""tcp_keepalive_time was lowered while Apache's own timers still drain the workers.

Apache sets SO_KEEPALIVE on client sockets, and the kernel keeps probing a
socket in CLOSE_WAIT (tcp_keepalive_timer skips only LISTEN, CLOSE and
SYN_SENT): when the peer that closed is gone, the last probe goes unanswered
and the kernel resets the socket; when it has forgotten the connection, it
answers with a reset. Either way the CLOSE_WAIT socket disappears. A shorter
tcp_keepalive_time therefore lowers the CLOSE_WAIT count, the symptom on the
original thread, but frees no worker sooner: a worker held by Timeout, a
missing request-read limit or KeepAliveTimeout stays held, and the pool still
drains at the same arrival rate of stalled clients (TA301).
"""

from __future__ import annotations

from collections.abc import Iterator

from ..engine.rule import Context
from ..facts import HostFacts
from ..hold import exhaustion, kind_holds
from ..sysctl.defaults import KERNEL_DEFAULTS
from .base import CheckParams, Hit
from .fixes import apache_location, scope_setting
from .hold_fixes import timer_fix
from .hold_text import hold_sentence

__all__ = ["HidingParams", "keepalive_hides_exhaustion"]

_TIME = "net.ipv4.tcp_keepalive_time"


class HidingParams(CheckParams):
    # tcp_keepalive_time below this counts as "lowered" against a CLOSE_WAIT symptom.
    lowered_below_seconds: int
    # Same meaning as TA301's: fewer stalled clients per second than this drain the pool.
    min_clients_per_second: float
    recommended_timeout_seconds: int = 30
    recommended_keepalive_seconds: float = 2
    keep_keepalive: bool = False
    # With keep_keepalive: the balancer's idle timeout and the KeepAliveTimeout
    # TA118 asks for at or below it; the fix counts holds with that value.
    balancer_idle_timeout_seconds: float = 60
    balancer_keepalive_seconds: float = 65


def keepalive_hides_exhaustion(
    facts: HostFacts, params: HidingParams, context: Context
) -> Iterator[Hit]:
    config, sysctl, derived = facts.apache, facts.sysctl, facts.derived
    if config is None or sysctl is None:
        return
    time = sysctl.int_value(_TIME)
    workers = derived.max_request_workers_effective
    if time is None or workers is None or time >= params.lowered_below_seconds:
        return
    holds = kind_holds(config)
    drain = exhaustion(holds, workers)
    rate, worst = drain.clients_per_second, drain.hold
    if rate is None or worst is None or rate >= params.min_clients_per_second:
        return
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
    timer = "KeepAliveTimeout" if worst.limit == "KeepAliveTimeout" else "Timeout"
    if worst.limit.startswith("RequestReadTimeout"):
        timer = "RequestReadTimeout"
    setting = scope_setting(config, worst.scope, timer) or config.settings.get("Timeout")
    time_setting = sysctl.settings.get(_TIME)
    time_from = time_setting.location if time_setting else None
    yield Hit(
        setting=_TIME,
        current=time,
        recommended=None,
        location=apache_location(config, setting),
        fix=fix.text,
        changes=fix.fix.changes,
        values={
            "time": time,
            "time_from": str(time_from) if time_from else "the live value",
            "default_time": KERNEL_DEFAULTS[_TIME],
            "holder": hold_sentence(worst),
            "hold": "no limit" if worst.seconds is None else f"{worst.seconds:g}",
            "workers": workers,
            "rate": f"{round(rate, 2):g}",
        },
    )
