"""Kernel keepalive takes too long to notice a peer that vanished.

Only sockets with SO_KEEPALIVE are probed (Apache sets it on client sockets);
probing ends a connection whose peer no longer knows it, after
time + intvl x probes seconds; a CLOSE_WAIT socket goes the same way once the
peer that closed has forgotten it. It never frees a worker that Apache's own
timers hold: where those drain the pool (TA301's condition), the message says
to fix them first, since lowering keepalive alone is what TA302 flags.

When only live values are off and the persistent files already set values
that detect fast enough, and that no rule flags more than the recommended
values, the finding points at the
/proc file and the fix applies the files' values with ``sysctl -w``.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..engine.rule import Context
from ..facts import HostFacts
from ..sysctl.model import SysctlSettings, SysctlSource
from .base import CheckParams, Hit
from .fixes import sysctl_fix, sysctl_location
from .sysctl_candidates import judge, judging, pending_note

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
    location = sysctl_location(time_setting)
    fix = sysctl_fix(changes or wanted, sysctl)
    recommended_time = params.recommended_time
    pending = ""
    persisted = _files_to_apply(facts, sysctl, params, wanted, context)
    if persisted:
        # The files already detect fast enough: apply them, edit nothing.
        first = _TIME if _TIME in persisted else next(iter(persisted))
        location = sysctl_location(sysctl.settings.get(first), persisted[first].value)
        fix = sysctl_fix({key: source.value for key, source in persisted.items()}, sysctl)
        time_now = persisted[_TIME].value if _TIME in persisted else sysctl.int_value(_TIME)
        if isinstance(time_now, int):
            recommended_time = time_now
        pending = pending_note(persisted)
    # current/recommended are the probe start an operator sets; the detection
    # times are in the message.
    yield Hit(
        setting=_TIME,
        current=sysctl.int_value(_TIME),
        recommended=recommended_time,
        location=location,
        fix=fix.text,
        changes=fix.changes,
        values={
            "time": sysctl.int_value(_TIME),
            "intvl": sysctl.int_value(_INTERVAL),
            "probes": sysctl.int_value(_PROBES),
            "detect": detect,
            "detect_minutes": round(detect / 60),
            "recommended_detect": recommended,
            "caution": _caution(facts, params),
            "pending": pending,
        },
    )


def _files_to_apply(
    facts: HostFacts,
    sysctl: SysctlSettings,
    params: KeepaliveDetectionParams,
    wanted: dict[str, int],
    context: Context,
) -> dict[str, SysctlSource]:
    """The drifting keepalive keys' persistent sources, when applying them is the fix.

    Empty unless, with the persistent values of the keys that drift,
    detection is within ``max_seconds`` and no rule objects to those values
    more than to the recommended ones (``wanted``).
    """
    if judging():
        return {}
    drifting: dict[str, SysctlSource] = {}
    applied: dict[str, int | None] = {}
    for key in (_TIME, _INTERVAL, _PROBES):
        setting = sysctl.settings.get(key)
        applied[key] = sysctl.int_value(key)
        if setting is not None and setting.drifts:
            assert setting.persistent is not None
            drifting[key] = setting.persistent
            value = setting.persistent.value
            applied[key] = value if isinstance(value, int) else None
    time, interval, probes = applied[_TIME], applied[_INTERVAL], applied[_PROBES]
    if not drifting or time is None or interval is None or probes is None:
        return {}
    if time + interval * probes > params.max_seconds:
        return {}
    for key, source in drifting.items():
        live = sysctl.settings[key].live
        assert live is not None
        judgement = judge(facts, key, [source.value, live.value, wanted[key]], context)
        # Applying the files must not trade this finding for one the rule's own values avoid.
        if not judgement.no_worse_than(source.value, wanted[key]):
            return {}
    return drifting


def _caution(facts: HostFacts, params: KeepaliveDetectionParams) -> str:
    rate = facts.derived.exhaustion_clients_per_second
    if rate is None or rate >= params.drained_below_clients_per_second:
        return ""
    return (
        " Here Apache's timers drain the workers (TA301): fix them first, since"
        " lowering keepalive alone only hides CLOSE_WAIT (TA302)."
    )
