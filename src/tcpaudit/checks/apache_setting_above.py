"""A numeric Apache setting above a maximum, server-wide and in each vhost that sets it.

For Timeout the values also say what it bounds here (``reading``, ``bounds``):
with mod_reqtimeout's stages in force a client that stops sending its request
is cut by them, not by Timeout, while every write to a client that stops
reading, the wait for CGI output, a proxied backend without ProxyTimeout, an
idle tunnel and a TLS handshake without a handshake stage still wait Timeout
(``tcpaudit.hold``; measured on a real apache2).
"""

from __future__ import annotations

from collections.abc import Iterator

from ..apache.scopes import scopes
from ..engine.rule import Context
from ..facts import HostFacts
from ..hold import kind_holds
from .base import CheckParams, Hit, as_seconds, plain_number
from .fixes import apache_location, set_directive
from .hold_text import timeout_bounds, timeout_reading

__all__ = ["SettingAboveParams", "apache_setting_above"]


class SettingAboveParams(CheckParams):
    setting: str
    max_seconds: float
    recommended_seconds: float
    # Timeout: APR reads a negative value as "wait without any limit".
    negative_is_unlimited: bool = False


def apache_setting_above(
    facts: HostFacts, params: SettingAboveParams, context: Context
) -> Iterator[Hit]:
    config = facts.apache
    if config is None:
        return
    recommended = plain_number(params.recommended_seconds)
    holds = kind_holds(config) if params.setting == "Timeout" else {}
    for scope in scopes(config):
        setting = scope.own(params.setting)
        if setting is None or not setting.effective:
            continue
        current = as_seconds(setting.value)
        if current is None:
            continue
        unlimited = params.negative_is_unlimited and current < 0
        if current <= params.max_seconds and not unlimited:
            continue
        fix = set_directive(config, setting, f"{params.setting} {recommended}", vhost=scope.vhost)
        each = "with no time limit" if unlimited else f"{plain_number(current)} s"
        yield Hit(
            setting=params.setting,
            current=plain_number(current),
            recommended=recommended,
            location=apache_location(config, setting),
            fix=fix.text,
            changes=fix.changes,
            scope=scope.label,
            values={
                "where": "compiled default" if setting.default else "set",
                "limit": f"{plain_number(current)}, which means no limit"
                if unlimited
                else f"{plain_number(current)} s",
                "hold": "with no time limit" if unlimited else f"up to {plain_number(current)} s",
                "reading": timeout_reading(holds, config.mpm, each) if holds else "",
                "bounds": timeout_bounds(holds, each) if holds else "",
                "mpm": config.mpm,
                "workers": facts.derived.max_request_workers_effective,
            },
        )
