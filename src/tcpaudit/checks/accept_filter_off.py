"""AcceptFilter none hands silent connections to a worker at once.

On Linux any AcceptFilter other than ``none`` (the default is ``data``) sets
TCP_DEFER_ACCEPT on the listener (ap_apply_accept_filter, server/listen.c):
30 s from httpd 2.2.28 and in 2.4, 1 s in 2.2.0 to 2.2.27 (CHANGES: PR
41270). The kernel keeps a client that connects but sends nothing in SYN-RECV
until then (~31 s for 30 s, measured), and queues it when the period ends: a
client that speaks or closes meanwhile reaches a worker at that moment (a
FIN is not held back), one that stays silent still holds a worker afterwards,
for the header limit or Timeout. The filter delays the hold; it does not
replace it. With ``none`` the hold starts at once. httpd lower-cases both
words (set_accf_map in server/core.c): ``AcceptFilter HTTP None`` is none too
(measured: such a client was accepted at once).
"""

from __future__ import annotations

from collections.abc import Iterator

from ..engine.rule import Context
from ..facts import HostFacts
from ..hold import DEFER_ACCEPT_SECONDS, kind_holds
from .base import CheckParams, Hit
from .fixes import apache_location, as_word, set_directive

__all__ = ["AcceptFilterParams", "accept_filter_off"]

# 2.2.0 to 2.2.27 defer only 1 s (server/listen.c): switching the filter off
# there changes next to nothing, so it is not flagged.
_THIRTY_SECONDS_FROM = (2, 2, 28)


class AcceptFilterParams(CheckParams):
    protocols: list[str] = ["http", "https"]


def accept_filter_off(
    facts: HostFacts, params: AcceptFilterParams, context: Context
) -> Iterator[Hit]:
    config = facts.apache
    if config is None:
        return
    setting = config.settings.get("AcceptFilter")
    if setting is None or not isinstance(setting.value, dict):
        return
    version = config.version_info
    if len(version) >= 3 and version < _THIRTY_SECONDS_FROM:
        return
    holds = kind_holds(config)
    chosen = {protocol.lower(): name.lower() for protocol, name in setting.value.items()}
    for protocol in params.protocols:
        if chosen.get(protocol) != "none":
            continue
        # A silent client on a TLS listener waits in the handshake, not the header.
        hold = holds.get("tls_handshake") if protocol == "https" else None
        hold = hold or holds.get("silent")
        seconds = "without limit" if hold is None or hold.seconds is None else f"{hold.seconds:g} s"
        # A protocol the tree quoted ("a b") stays one word.
        fix = set_directive(config, setting, f"AcceptFilter {as_word(protocol)} data")
        yield Hit(
            setting="AcceptFilter",
            current=f"{protocol} none",
            recommended=f"{protocol} data",
            location=apache_location(config, setting),
            fix=fix.text,
            changes=fix.changes,
            values={
                "protocol": protocol,
                "hold": seconds,
                "defer": f"{DEFER_ACCEPT_SECONDS[30]:g}",
                "mpm": config.mpm,
            },
        )
