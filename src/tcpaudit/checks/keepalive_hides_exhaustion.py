"""tcp_keepalive_time was lowered while Apache's own timers still drain the workers.

Apache sets SO_KEEPALIVE on client sockets, and the kernel keeps probing a
socket in CLOSE_WAIT: once the peer that closed has forgotten the connection
it answers a probe with a reset, and the CLOSE_WAIT socket disappears. A
shorter tcp_keepalive_time therefore lowers the CLOSE_WAIT count, the
symptom on the original thread, but frees no worker sooner: a worker held by
Timeout, a missing request-read limit or KeepAliveTimeout stays held, and the
pool still drains at the same arrival rate of stalled clients (TA301).
"""

from __future__ import annotations

from collections.abc import Iterator

from ..apache.defaults import DEFAULT_REQUEST_READ_TIMEOUT_2_4
from ..engine.rule import Context
from ..facts import HostFacts
from ..sysctl.defaults import KERNEL_DEFAULTS
from .base import CheckParams, Hit
from .fixes import apache_location, load_module_fix

__all__ = ["HidingParams", "keepalive_hides_exhaustion"]

_TIME = "net.ipv4.tcp_keepalive_time"


class HidingParams(CheckParams):
    # tcp_keepalive_time below this counts as "lowered" against a CLOSE_WAIT symptom.
    lowered_below_seconds: int
    # Same meaning as TA301's: fewer stalled clients per second than this drain the pool.
    min_clients_per_second: float
    recommended_timeout_seconds: int = 30
    recommended_keepalive_seconds: int = 2
    recommended_read_limits: str = " ".join(DEFAULT_REQUEST_READ_TIMEOUT_2_4)


def keepalive_hides_exhaustion(
    facts: HostFacts, params: HidingParams, context: Context
) -> Iterator[Hit]:
    config, sysctl, derived = facts.apache, facts.sysctl, facts.derived
    if config is None or sysctl is None:
        return
    time = sysctl.int_value(_TIME)
    rate = derived.exhaustion_clients_per_second
    hold = derived.worker_hold_seconds_worst
    workers = derived.max_request_workers_effective
    if time is None or rate is None or hold is None or workers is None:
        return
    if time >= params.lowered_below_seconds or rate >= params.min_clients_per_second:
        return
    read_hold = derived.request_read_hold_seconds or 0.0
    keepalive_hold = derived.keepalive_hold_seconds or 0.0
    if read_hold >= keepalive_hold:
        fixes = [
            f"RequestReadTimeout {params.recommended_read_limits}",
            f"Timeout {params.recommended_timeout_seconds}",
        ]
        if config.has_module("reqtimeout_module"):
            cause = "RequestReadTimeout"
        else:
            cause = "Timeout"
            fixes.insert(0, load_module_fix(config, "reqtimeout_module"))
        holder = f"a client that stops sending ({cause}, {read_hold:g} s)"
    else:
        cause = "KeepAliveTimeout"
        holder = f"an idle keep-alive client ({cause}, {keepalive_hold:g} s)"
        fixes = [f"KeepAliveTimeout {params.recommended_keepalive_seconds}"]
    setting = config.settings.get(cause) or config.settings.get("Timeout")
    time_setting = sysctl.settings.get(_TIME)
    time_from = time_setting.location if time_setting else None
    yield Hit(
        setting=_TIME,
        current=time,
        recommended=None,
        location=apache_location(config, setting),
        fix="\n".join(fixes),
        values={
            "time": time,
            "time_from": str(time_from) if time_from else "the live value",
            "default_time": KERNEL_DEFAULTS[_TIME],
            "holder": holder,
            "hold": f"{hold:g}",
            "workers": workers,
            "rate": f"{rate:g}",
        },
    )
