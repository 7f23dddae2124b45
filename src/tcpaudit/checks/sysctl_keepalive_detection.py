"""Kernel keepalive takes too long to notice a peer that vanished.

Only sockets with SO_KEEPALIVE are probed (Apache sets it on client sockets);
probing ends a connection whose peer no longer knows it, after
time + intvl x probes seconds; a CLOSE_WAIT socket goes the same way once the
peer that closed has forgotten it. It never frees a worker that Apache's own
timers hold: where those drain the pool (TA301's condition), the message says
to fix them first, since lowering keepalive alone is what TA302 flags.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..engine.rule import Context
from ..facts import HostFacts
from .base import CheckParams, Hit
from .fixes import sysctl_fix, sysctl_location

__all__ = ["KeepaliveDetectionParams", "sysctl_keepalive_detection"]

_TIME = "net.ipv4.tcp_keepalive_time"
_INTERVAL = "net.ipv4.tcp_keepalive_intvl"
_PROBES = "net.ipv4.tcp_keepalive_probes"


class KeepaliveDetectionParams(CheckParams):
    max_seconds: int
    recommended_time: int
    recommended_intvl: int
    recommended_probes: int
    drained_below_clients_per_second: float = 5


def sysctl_keepalive_detection(
    facts: HostFacts, params: KeepaliveDetectionParams, context: Context
) -> Iterator[Hit]:
    sysctl = facts.sysctl
    detect = facts.derived.keepalive_detect_seconds
    if sysctl is None or detect is None or detect <= params.max_seconds:
        return
    recommended = params.recommended_time + params.recommended_intvl * params.recommended_probes
    wanted = {
        _TIME: params.recommended_time,
        _INTERVAL: params.recommended_intvl,
        _PROBES: params.recommended_probes,
    }
    changes = {key: value for key, value in wanted.items() if sysctl.int_value(key) != value}
    time_setting = sysctl.settings.get(_TIME)
    # current/recommended are the probe start an operator sets; the detection
    # times are in the message.
    yield Hit(
        setting=_TIME,
        current=sysctl.int_value(_TIME),
        recommended=params.recommended_time,
        location=sysctl_location(time_setting),
        fix=sysctl_fix(changes or wanted, sysctl.settings, sysctl.boot),
        values={
            "time": sysctl.int_value(_TIME),
            "intvl": sysctl.int_value(_INTERVAL),
            "probes": sysctl.int_value(_PROBES),
            "detect": detect,
            "detect_minutes": round(detect / 60),
            "recommended_detect": recommended,
            "caution": _caution(facts, params),
        },
    )


def _caution(facts: HostFacts, params: KeepaliveDetectionParams) -> str:
    rate = facts.derived.exhaustion_clients_per_second
    if rate is None or rate >= params.drained_below_clients_per_second:
        return ""
    return (
        " Here Apache's timers drain the workers (TA301): fix them first, since"
        " lowering keepalive alone only hides CLOSE_WAIT (TA302)."
    )
