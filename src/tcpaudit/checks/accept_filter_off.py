"""AcceptFilter none hands silent connections to a worker at once.

On Linux, Apache's default ``AcceptFilter http data`` (and ``https data``)
sets TCP_DEFER_ACCEPT with 30 s: a client that connects but sends nothing
(a browser's speculative preconnect, a scanner, a stalled proxy) stays in
the kernel, in SYN-RECV, for about 31 s instead of reaching a worker. With
``none`` it is accepted at once and holds a worker until it speaks or the
header read limit (mod_reqtimeout) or Timeout ends the wait (core docs).
"""

from __future__ import annotations

from collections.abc import Iterator

from ..apache.model import ApacheConfig
from ..apache.values import RequestReadTimeoutValue
from ..engine.rule import Context
from ..facts import HostFacts
from .base import CheckParams, Hit
from .fixes import apache_location

__all__ = ["AcceptFilterParams", "accept_filter_off"]


class AcceptFilterParams(CheckParams):
    protocols: list[str] = ["http", "https"]


def _silent_hold_seconds(config: ApacheConfig) -> int | None:
    """How long a connection that sends nothing holds its worker: header limit, else Timeout."""
    timeout = config.settings.get("Timeout")
    seconds = timeout.value if timeout is not None else None
    if isinstance(seconds, bool) or not isinstance(seconds, int):
        return None
    limits = config.settings.get("RequestReadTimeout")
    value = limits.value if limits is not None else None
    if isinstance(value, RequestReadTimeoutValue) and value.header and not value.header.disabled:
        return min(seconds, value.header.timeout_seconds)
    return seconds


def accept_filter_off(
    facts: HostFacts, params: AcceptFilterParams, context: Context
) -> Iterator[Hit]:
    config = facts.apache
    if config is None:
        return
    setting = config.settings.get("AcceptFilter")
    if setting is None or not isinstance(setting.value, dict):
        return
    hold = _silent_hold_seconds(config)
    for protocol in params.protocols:
        if setting.value.get(protocol, "").lower() != "none":
            continue
        yield Hit(
            setting="AcceptFilter",
            current=f"{protocol} none",
            recommended=f"{protocol} data",
            location=apache_location(config, setting),
            fix=f"AcceptFilter {protocol} data",
            values={
                "protocol": protocol,
                "hold": hold if hold is not None else "Timeout",
                "mpm": config.mpm,
            },
        )
