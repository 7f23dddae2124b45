"""KeepAliveTimeout long enough to matter on an MPM that holds a worker while it waits.

prefork and worker keep a process or thread for each idle keep-alive
connection; event hands idle connections to its listener (KNOWLEDGE: a third
client waited 16.2 s with KeepAliveTimeout 15 on two prefork workers).
"""

from __future__ import annotations

from collections.abc import Iterator

from ..apache.scopes import scopes
from ..engine.rule import Context
from ..facts import HOLDING_MPMS, HostFacts
from .base import CheckParams, Hit, plain_number
from .fixes import apache_location, set_directive

__all__ = ["KeepAliveParams", "keepalive_on_holding_mpm"]


class KeepAliveParams(CheckParams):
    max_seconds: float
    recommended_seconds: float


def keepalive_on_holding_mpm(
    facts: HostFacts, params: KeepAliveParams, context: Context
) -> Iterator[Hit]:
    config = facts.apache
    if config is None or config.mpm not in HOLDING_MPMS:
        return
    workers = facts.derived.max_request_workers_effective
    server_timeout = config.settings.get("KeepAliveTimeout")
    server_judged = False
    for scope in scopes(config):
        setting = scope.own("KeepAliveTimeout")
        if scope.vhost is None:
            server_judged = scope.keepalive
        elif setting is None and not server_judged and scope.keepalive:
            # A vhost that turns KeepAlive on over a server that has it off
            # waits the server's KeepAliveTimeout, which nothing judged yet:
            # judged once, at the first such vhost.
            setting = server_timeout
            server_judged = True
        if not scope.keepalive or setting is None or not setting.effective:
            continue
        value = setting.value
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or value <= params.max_seconds
        ):
            continue
        fix = set_directive(
            config,
            setting,
            f"KeepAliveTimeout {plain_number(params.recommended_seconds)}",
            vhost=scope.vhost,
        )
        yield Hit(
            setting="KeepAliveTimeout",
            current=plain_number(value),
            recommended=plain_number(params.recommended_seconds),
            location=apache_location(config, setting),
            fix=fix.text,
            changes=fix.changes,
            scope=scope.label,
            values={"mpm": config.mpm, "workers": workers},
        )
