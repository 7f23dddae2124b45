"""A single-number TCP sysctl on the wrong side of a threshold.

For keys whose risk is one comparison (tcp_syncookies off, tcp_fin_timeout
lowered, tcp_abort_on_overflow on, tcp_orphan_retries high); the rule file
says which key, which side and why. The comparison uses what the kernel acts
on (tcp_orphan_retries 0 means 8), and the finding quotes where the value
comes from: a /proc file, a persistent file and line, or the kernel default.

When only the live value is wrong and the persistent files already hold a
value this rule accepts and no other rule flags more than the recommended
value (sysctl_candidates), the
finding points at the /proc file and the fix applies the file's value with
``sysctl -w``: editing a line that is already right would change nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

from ..engine.rule import Context
from ..facts import HostFacts, least_retries2_for, retries2_giveup_seconds, rto_max_seconds
from ..sysctl.defaults import kernel_default, parse_kernel_version
from ..sysctl.model import SysctlSetting, effective_int
from .base import CheckParams, Hit
from .fixes import sysctl_fix, sysctl_location, value_source
from .sysctl_candidates import judge, judging, pending_note

__all__ = ["ValueCompareParams", "sysctl_value_compare"]


class ValueCompareParams(CheckParams):
    key: str
    # "other": any value but the threshold (tcp_abort_on_overflow: the kernel
    # tests only for zero, so 2..255 reset clients as 1 does).
    flag_when: Literal["below", "above", "equal", "other"]
    threshold: int
    recommended: int
    # tcp_retries2 only: the threshold (and the least recommended value) is
    # the least count that gives up after this many seconds under the host's
    # RTO cap (8 for 100 s by default; more when tcp_rto_max_ms lowers it).
    giveup_seconds: float | None = None


def _with_host_threshold(params: ValueCompareParams, facts: HostFacts) -> ValueCompareParams:
    if params.giveup_seconds is None:
        return params
    least = least_retries2_for(params.giveup_seconds, rto_max_seconds(facts.sysctl))
    return params.model_copy(
        update={"threshold": least, "recommended": max(params.recommended, least)}
    )


def _flagged(value: int, params: ValueCompareParams) -> bool:
    if params.flag_when == "below":
        return value < params.threshold
    if params.flag_when == "above":
        return value > params.threshold
    if params.flag_when == "other":
        return value != params.threshold
    return value == params.threshold


def _file_value_to_apply(
    facts: HostFacts, setting: SysctlSetting | None, params: ValueCompareParams, context: Context
) -> int | None:
    """The persistent value, when it is right and only the live value is not."""
    if setting is None or not setting.drifts or judging():
        return None
    assert setting.persistent is not None and setting.live is not None
    persisted = setting.persistent.value
    if not isinstance(persisted, int) or _flagged(effective_int(params.key, persisted), params):
        return None
    judgement = judge(
        facts, params.key, [persisted, setting.live.value, params.recommended], context
    )
    # Applying the file must not trade this finding for one the rule's own value avoids.
    return persisted if judgement.no_worse_than(persisted, params.recommended) else None


def sysctl_value_compare(
    facts: HostFacts, params: ValueCompareParams, context: Context
) -> Iterator[Hit]:
    sysctl = facts.sysctl
    if sysctl is None:
        return
    params = _with_host_threshold(params, facts)
    raw = sysctl.int_value(params.key)
    value = sysctl.effective_int_value(params.key)
    if raw is None or value is None or not _flagged(value, params):
        return
    setting = sysctl.settings.get(params.key)
    persisted = _file_value_to_apply(facts, setting, params, context)
    recommended = params.recommended if persisted is None else persisted
    location = sysctl_location(setting, recommended)
    kernel = parse_kernel_version(sysctl.kernel) if sysctl.kernel else None
    default = kernel_default(params.key, kernel)
    pending = ""
    if persisted is not None and setting is not None and setting.persistent is not None:
        pending = pending_note({params.key: setting.persistent})
    yield Hit(
        setting=params.key,
        current=raw,
        recommended=recommended,
        location=location,
        fix=(fix := sysctl_fix({params.key: recommended}, sysctl)).text,
        changes=fix.changes,
        values={
            "effective": value,
            "source": value_source(setting, sysctl.kernel),
            "default": default if default is not None else "memory-dependent",
            "threshold": params.threshold,
            "default_giveup": retries2_giveup_seconds(8, rto_max_seconds(sysctl)),
            "pending": pending,
        },
    )
