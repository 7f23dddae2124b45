"""A client that stops reading a large response holds its worker for Timeout, on every MPM.

Once a response fills the socket buffers, the worker blocks in a write that
only Timeout ends (core output filter); mod_reqtimeout covers reading the
request, never the response, and event holds its worker too (measured on a
real apache2 2.4.71: Timeout on prefork, worker and event alike; the aborted
connection then closes without lingering). Timeouts above TA101's maximum
are TA101's finding; this rule speaks for the range below it.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..engine.rule import Context
from ..facts import HostFacts
from ..hold import kind_holds
from .base import CheckParams, Hit, plain_number
from .fixes import apache_location, set_directive

__all__ = ["SlowReaderParams", "slow_reader_timeout"]


class SlowReaderParams(CheckParams):
    max_seconds: float
    recommended_seconds: float
    # Above this Timeout, TA101 flags the same line with the same fix.
    reported_by_ta101_above: float = 60


def slow_reader_timeout(
    facts: HostFacts, params: SlowReaderParams, context: Context
) -> Iterator[Hit]:
    config = facts.apache
    if config is None:
        return
    hold = kind_holds(config).get("slow_reader")
    if hold is None or hold.seconds is None:
        return  # a negative Timeout: TA101
    if not params.max_seconds < hold.seconds <= params.reported_by_ta101_above:
        return
    vhost = next(
        (v for v in config.vhosts if hold.scope and hold.scope.endswith(v.server_name or "\0")),
        None,
    )
    setting = (vhost.settings.get("Timeout") if vhost else None) or config.settings.get("Timeout")
    recommended = plain_number(params.recommended_seconds)
    own = vhost is not None and vhost.settings.get("Timeout") is not None
    fix = set_directive(config, setting, f"Timeout {recommended}", vhost=vhost if own else None)
    yield Hit(
        setting="Timeout",
        current=plain_number(hold.seconds),
        recommended=recommended,
        location=apache_location(config, setting),
        fix=fix.text,
        changes=fix.changes,
        scope=hold.scope,
        values={
            "hold": f"{hold.seconds:g}",
            "mpm": config.mpm,
            "workers": facts.derived.max_request_workers_effective,
        },
    )
