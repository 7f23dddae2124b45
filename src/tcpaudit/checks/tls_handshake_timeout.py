"""A client that stalls in the TLS handshake is held by Timeout alone.

mod_ssl reads the handshake before the request header. From 2.4.18 it does so
in its process_connection hook, before mod_reqtimeout sets any limit
(mod_reqtimeout ran APR_HOOK_LAST until 2.4.39): only Timeout bounds a client
that sends the first bytes of a ClientHello and stops. 2.4.39 added the
``handshake`` stage (PR 61310), off by default. Measured on a real apache2
2.4.71 (README, "Worker hold"): such a client holds a worker for Timeout on
every MPM, with or without header limits, and for handshake= when that is
set. Before 2.4.18 (and in 2.2) the header stage covers the handshake.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..apache.scopes import vhost_label
from ..apache.values import RequestReadTimeoutValue
from ..engine.rule import Context
from ..facts import HostFacts
from ..hold import kind_holds
from .base import CheckParams, Hit
from .fixes import Fix, apache_location, load_module, set_directive
from .hold_fixes import (
    RECOMMENDED_HANDSHAKE,
    handshake_stage_known,
    read_limits_text,
    strengthened_read_limits,
)

__all__ = ["HandshakeParams", "tls_handshake_timeout"]

_EARLY_HANDSHAKE_FROM = (2, 4, 18)


class HandshakeParams(CheckParams):
    max_seconds: float


def tls_handshake_timeout(
    facts: HostFacts, params: HandshakeParams, context: Context
) -> Iterator[Hit]:
    config = facts.apache
    if config is None:
        return
    version = config.version_info
    if version < (2, 4) or (len(version) >= 3 and version < _EARLY_HANDSHAKE_FROM):
        return  # the header stage covers the handshake (TA103/TA104 judge it)
    hold = kind_holds(config).get("tls_handshake")
    if hold is None or hold.limit.startswith("RequestReadTimeout"):
        return
    if hold.seconds is not None and hold.seconds <= params.max_seconds:
        return
    # The scope whose hold is longest: its own line, else the server's.
    vhost = next((v for v in config.vhosts if vhost_label(v) == hold.scope), None)
    own = vhost.settings.get("RequestReadTimeout") if vhost is not None else None
    setting = own if own is not None else config.settings.get("RequestReadTimeout")
    where = vhost if own is not None else None
    current = (
        setting.value if setting and isinstance(setting.value, RequestReadTimeoutValue) else None
    )
    wanted = strengthened_read_limits(config, current, handshake=True)
    line = f"RequestReadTimeout {read_limits_text(wanted)}"
    fix = Fix()
    if len(version) >= 3 and version < (2, 4, 39):
        # httpd refuses a stage it does not know: advice, no change to apply.
        stage = "2.4.39 added mod_reqtimeout's handshake stage: upgrade, then set it"
        fix = Fix(comments=("# after upgrading to httpd 2.4.39 or later:", line))
    elif not handshake_stage_known(config):
        stage = "from 2.4.39 mod_reqtimeout's handshake stage bounds it"
        fix = Fix(
            comments=("# needs httpd 2.4.39 or later (older versions refuse the stage):", line)
        )
    else:
        stage = "mod_reqtimeout's handshake stage is off (its default)"
        if not config.has_module("reqtimeout_module"):
            fix = load_module(config, "reqtimeout_module")
        fix += set_directive(config, setting, line, vhost=where)
    seconds = "without limit" if hold.seconds is None else f"{hold.seconds:g} s"
    yield Hit(
        setting="RequestReadTimeout",
        current="no handshake stage",
        recommended=RECOMMENDED_HANDSHAKE,
        location=apache_location(
            config, setting if setting and setting.file else config.settings.get("Timeout")
        ),
        fix=fix.text,
        changes=fix.changes,
        scope=hold.scope,
        values={"hold": seconds, "stage": stage, "mpm": config.mpm, "version": config.version},
    )
