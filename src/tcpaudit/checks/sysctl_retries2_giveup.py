"""tcp_retries2 lets the kernel retransmit to a dead peer for a long time.

While it retransmits, the socket stays open and the worker that writes to it
waits up to Apache's Timeout per write. The recommended value never gives
up before 100 s (8, ~102 s, with the default RTO cap; more when
tcp_rto_max_ms lowers it): ip-sysctl.rst cites RFC 1122's advice of at least
100 s, and less breaks connections on lossy paths. When only the live value is
long and the persistent files already hold a value no rule flags more than
the recommended one, the fix
applies that value with ``sysctl -w`` (see sysctl_value_compare).
"""

from __future__ import annotations

from collections.abc import Iterator

from ..engine.rule import Context
from ..facts import HostFacts, least_retries2_for, retries2_giveup_seconds, rto_max_seconds
from .base import CheckParams, Hit
from .fixes import sysctl_fix, sysctl_location
from .sysctl_candidates import judge, judging, pending_note

__all__ = ["Retries2Params", "sysctl_retries2_giveup"]

_KEY = "net.ipv4.tcp_retries2"
# RFC 1122 4.2.3.5: R2 should correspond to at least 100 s.
RFC1122_MIN_SECONDS = 100.0


class Retries2Params(CheckParams):
    max_seconds: float
    recommended_retries: int


def sysctl_retries2_giveup(
    facts: HostFacts, params: Retries2Params, context: Context
) -> Iterator[Hit]:
    sysctl = facts.sysctl
    giveup = facts.derived.retries2_giveup_seconds
    if sysctl is None or giveup is None or giveup <= params.max_seconds:
        return
    rto_max = rto_max_seconds(sysctl)
    recommended = max(params.recommended_retries, least_retries2_for(RFC1122_MIN_SECONDS, rto_max))
    setting = sysctl.settings.get(_KEY)
    pending = ""
    if setting is not None and setting.drifts and not judging():
        assert setting.persistent is not None and setting.live is not None
        persisted = setting.persistent.value
        if (
            isinstance(persisted, int)
            and RFC1122_MIN_SECONDS
            <= retries2_giveup_seconds(persisted, rto_max)
            <= params.max_seconds
            and judge(
                facts, _KEY, [persisted, setting.live.value, recommended], context
            ).no_worse_than(persisted, recommended)
        ):
            recommended = persisted
            pending = pending_note({_KEY: setting.persistent})
    yield Hit(
        setting=_KEY,
        current=sysctl.int_value(_KEY),
        recommended=recommended,
        location=sysctl_location(setting, recommended),
        fix=(fix := sysctl_fix({_KEY: recommended}, sysctl)).text,
        changes=fix.changes,
        values={
            "giveup": giveup,
            "giveup_minutes": round(giveup / 60, 1),
            "recommended_giveup": retries2_giveup_seconds(recommended, rto_max),
            "pending": pending,
        },
    )
