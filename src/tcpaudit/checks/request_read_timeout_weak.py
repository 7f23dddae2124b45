"""mod_reqtimeout is loaded but its header or body limit is off or long.

A stage set to 0 imposes no limit; 2.2's module has no defaults at all, so
without a RequestReadTimeout line it limits nothing (mod_reqtimeout docs).
"""

from __future__ import annotations

from collections.abc import Iterator

from ..apache.values import ReadTimeoutLimit, RequestReadTimeoutValue
from ..engine.rule import Context
from ..facts import HostFacts
from .base import CheckParams, Hit
from .fixes import apache_location

__all__ = ["ReadTimeoutParams", "request_read_timeout_weak"]


class ReadTimeoutParams(CheckParams):
    max_header_seconds: int
    max_body_seconds: int
    recommended: str = "header=20-40,MinRate=500 body=20,MinRate=500"


def _weak(stage: ReadTimeoutLimit | None, limit: int) -> bool:
    return stage is None or stage.disabled or stage.worst_case_seconds > limit


def request_read_timeout_weak(
    facts: HostFacts, params: ReadTimeoutParams, context: Context
) -> Iterator[Hit]:
    config = facts.apache
    if config is None or not config.has_module("reqtimeout_module"):
        return
    setting = config.settings.get("RequestReadTimeout")
    value = setting.value if setting else None
    limits = value if isinstance(value, RequestReadTimeoutValue) else RequestReadTimeoutValue()
    weak = [
        name
        for name, stage, limit in (
            ("header", limits.header, params.max_header_seconds),
            ("body", limits.body, params.max_body_seconds),
        )
        if _weak(stage, limit)
    ]
    if not weak:
        return

    def describe(stage: ReadTimeoutLimit | None) -> str:
        if stage is None or stage.disabled:
            return "no limit"
        return f"{stage.worst_case_seconds} s"

    current = " ".join(f"{name}: {describe(getattr(limits, name))}" for name in ("header", "body"))
    yield Hit(
        setting="RequestReadTimeout",
        current=current,
        recommended=params.recommended,
        location=apache_location(config, setting),
        fix=f"RequestReadTimeout {params.recommended}",
        values={"stages": " and ".join(weak), "timeout": facts.derived.request_read_hold_seconds},
    )
