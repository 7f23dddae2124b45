"""KeepAlive Off: every request opens and closes its own TCP connection.

Each request then pays a handshake (one round trip, several on a mobile
path), the server closes first and keeps a TIME_WAIT socket per request,
and a prefork or worker server also runs a lingering close on a worker
after each response. On event an idle keep-alive connection costs no
worker at all, so turning it off buys nothing; on prefork/worker it frees
the worker at once, which a KeepAliveTimeout of 1-2 s does almost as well
while keeping the reuse (measured: 2 prefork workers, KeepAliveTimeout 2,
a third client waited 3.2 s).
"""

from __future__ import annotations

from collections.abc import Iterator

from ..apache.scopes import scopes
from ..engine.rule import Context
from ..facts import HOLDING_MPMS, HostFacts
from .base import CheckParams, Hit
from .fixes import apache_location

__all__ = ["KeepAliveOffParams", "keepalive_off"]


class KeepAliveOffParams(CheckParams):
    # KeepAliveTimeout to pair with KeepAlive On where a worker waits it out.
    recommended_timeout_seconds: int = 2
    # Pair it on every MPM (behind a load balancer, whose idle timeout it must outlast).
    pair_on_every_mpm: bool = False


def keepalive_off(facts: HostFacts, params: KeepAliveOffParams, context: Context) -> Iterator[Hit]:
    config = facts.apache
    if config is None:
        return
    holding = config.mpm in HOLDING_MPMS or params.pair_on_every_mpm
    fix = "KeepAlive On"
    if holding:
        fix += f"\nKeepAliveTimeout {params.recommended_timeout_seconds}"
    for scope in scopes(config):
        setting = scope.own("KeepAlive")
        if setting is None or setting.value is not False or not setting.effective:
            continue
        yield Hit(
            setting="KeepAlive",
            current="Off",
            recommended="On",
            location=apache_location(config, setting),
            fix=fix,
            scope=scope.label,
            values={
                "mpm": config.mpm,
                "pairing": f" with KeepAliveTimeout {params.recommended_timeout_seconds}"
                if holding
                else "",
            },
        )
