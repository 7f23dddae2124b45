"""A numeric Apache setting above a maximum, server-wide and in each vhost that sets it."""

from __future__ import annotations

from collections.abc import Iterator

from ..apache.model import ApacheSetting
from ..engine.rule import Context
from ..facts import HostFacts
from .base import CheckParams, Hit
from .fixes import apache_location

__all__ = ["SettingAboveParams", "apache_setting_above"]


class SettingAboveParams(CheckParams):
    setting: str
    max_seconds: float
    recommended_seconds: float


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _plain(value: float) -> int | float:
    return int(value) if value.is_integer() else value


def apache_setting_above(
    facts: HostFacts, params: SettingAboveParams, context: Context
) -> Iterator[Hit]:
    config = facts.apache
    if config is None:
        return
    recommended = _plain(params.recommended_seconds)
    candidates: list[tuple[str | None, ApacheSetting | None]] = [
        (None, config.settings.get(params.setting))
    ]
    candidates += [
        (
            f"<VirtualHost {vhost.address}> {vhost.server_name or ''}".strip(),
            vhost.settings.get(params.setting),
        )
        for vhost in config.vhosts
    ]
    for scope, setting in candidates:
        if setting is None or not setting.effective:
            continue
        current = _number(setting.value)
        if current is None or current <= params.max_seconds:
            continue
        yield Hit(
            setting=params.setting,
            current=_plain(current),
            recommended=recommended,
            location=apache_location(config, setting),
            fix=f"{params.setting} {recommended}",
            scope=scope,
            values={
                "where": "compiled default" if setting.default else "set",
                "mpm": config.mpm,
                "workers": facts.derived.max_request_workers_effective,
            },
        )
