"""MaxKeepAliveRequests unlimited on a holding MPM, or so low that connections churn.

0 means unlimited (core docs): on prefork/worker a client that sends its
next request within KeepAliveTimeout, as a busy carrier proxy does, keeps
the same worker for as long as it likes. A small limit closes connections
every few requests, and each new one pays a handshake and, on a holding
MPM, another lingering close; the CIS benchmark asks for at least 100.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..apache.scopes import scopes
from ..engine.rule import Context
from ..facts import HOLDING_MPMS, HostFacts
from .base import CheckParams, Hit
from .fixes import apache_location, set_directive

__all__ = ["MaxKeepAliveRequestsParams", "max_keepalive_requests"]


class MaxKeepAliveRequestsParams(CheckParams):
    min_requests: int
    recommended_requests: int


def max_keepalive_requests(
    facts: HostFacts, params: MaxKeepAliveRequestsParams, context: Context
) -> Iterator[Hit]:
    config = facts.apache
    if config is None:
        return
    holding = config.mpm in HOLDING_MPMS
    for scope in scopes(config):
        setting = scope.own("MaxKeepAliveRequests")
        if not scope.keepalive or setting is None or not setting.effective:
            continue
        value = setting.value
        if isinstance(value, bool) or not isinstance(value, int):
            continue
        if value == 0 and holding:
            problem = (
                f"unlimited: a client that keeps sending within KeepAliveTimeout keeps "
                f"its {config.mpm} worker for good"
            )
        elif 0 < value < params.min_requests:
            problem = (
                f"each connection is closed after {value} requests, so clients reconnect "
                f"(a handshake each time) far more often than needed"
            )
        else:
            continue
        fix = set_directive(
            config,
            setting,
            f"MaxKeepAliveRequests {params.recommended_requests}",
            vhost=scope.vhost,
        )
        yield Hit(
            setting="MaxKeepAliveRequests",
            current=value,
            recommended=params.recommended_requests,
            location=apache_location(config, setting),
            fix=fix.text,
            changes=fix.changes,
            scope=scope.label,
            values={"problem": problem, "mpm": config.mpm},
        )
