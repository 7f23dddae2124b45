"""KeepAliveTimeout long enough to matter on an MPM that holds a worker while it waits.

prefork and worker keep a process or thread for each idle keep-alive
connection; event hands idle connections to its listener (KNOWLEDGE: a third
client waited 16.2 s with KeepAliveTimeout 15 on two prefork workers).
"""

from __future__ import annotations

from collections.abc import Iterator

from ..apache.model import ApacheSetting
from ..engine.rule import Context
from ..facts import HOLDING_MPMS, HostFacts
from .base import CheckParams, Hit
from .fixes import apache_location

__all__ = ["KeepAliveParams", "keepalive_on_holding_mpm"]


class KeepAliveParams(CheckParams):
    max_seconds: float
    recommended_seconds: float


def _plain(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


def keepalive_on_holding_mpm(
    facts: HostFacts, params: KeepAliveParams, context: Context
) -> Iterator[Hit]:
    config = facts.apache
    if config is None or config.mpm not in HOLDING_MPMS:
        return
    keepalive = config.settings.get("KeepAlive")
    server_on = keepalive is None or keepalive.value is not False
    scopes: list[tuple[str | None, bool, ApacheSetting | None]] = [
        (None, server_on, config.settings.get("KeepAliveTimeout"))
    ]
    for vhost in config.vhosts:
        vhost_keepalive = vhost.settings.get("KeepAlive")
        enabled = server_on if vhost_keepalive is None else vhost_keepalive.value is not False
        scopes.append(
            (
                f"<VirtualHost {vhost.address}> {vhost.server_name or ''}".strip(),
                enabled,
                vhost.settings.get("KeepAliveTimeout"),
            )
        )
    workers = facts.derived.max_request_workers_effective
    for scope, enabled, setting in scopes:
        if not enabled or setting is None or not setting.effective:
            continue
        value = setting.value
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or value <= params.max_seconds
        ):
            continue
        yield Hit(
            setting="KeepAliveTimeout",
            current=_plain(value),
            recommended=_plain(params.recommended_seconds),
            location=apache_location(config, setting),
            fix=f"KeepAliveTimeout {_plain(params.recommended_seconds)}",
            scope=scope,
            values={"mpm": config.mpm, "workers": workers},
        )
