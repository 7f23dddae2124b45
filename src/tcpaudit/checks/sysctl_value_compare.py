"""A single-number TCP sysctl on the wrong side of a threshold.

For keys whose risk is one comparison (tcp_syncookies off, tcp_fin_timeout
lowered, tcp_abort_on_overflow on, tcp_orphan_retries high); the rule file
says which key, which side and why. The comparison uses what the kernel acts
on (tcp_orphan_retries 0 means 8), and the finding quotes where the value
comes from: a /proc file, a persistent file and line, or the kernel default.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

from ..engine.rule import Context
from ..facts import HostFacts
from ..sysctl.defaults import kernel_default, parse_kernel_version
from .base import CheckParams, Hit
from .fixes import sysctl_fix, sysctl_location

__all__ = ["ValueCompareParams", "sysctl_value_compare"]


class ValueCompareParams(CheckParams):
    key: str
    flag_when: Literal["below", "above", "equal"]
    threshold: int
    recommended: int


def _flagged(value: int, params: ValueCompareParams) -> bool:
    if params.flag_when == "below":
        return value < params.threshold
    if params.flag_when == "above":
        return value > params.threshold
    return value == params.threshold


def sysctl_value_compare(
    facts: HostFacts, params: ValueCompareParams, context: Context
) -> Iterator[Hit]:
    sysctl = facts.sysctl
    if sysctl is None:
        return
    raw = sysctl.int_value(params.key)
    value = sysctl.effective_int_value(params.key)
    if raw is None or value is None or not _flagged(value, params):
        return
    setting = sysctl.settings.get(params.key)
    location = sysctl_location(setting)
    kernel = parse_kernel_version(sysctl.kernel) if sysctl.kernel else None
    default = kernel_default(params.key, kernel)
    yield Hit(
        setting=params.key,
        current=raw,
        recommended=params.recommended,
        location=location,
        fix=sysctl_fix({params.key: params.recommended}, sysctl.settings, sysctl.boot),
        values={
            "effective": value,
            "source": str(location) if location is not None else "the kernel default",
            "default": default if default is not None else "memory-dependent",
        },
    )
