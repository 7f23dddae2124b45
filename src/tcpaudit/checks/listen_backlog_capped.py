"""ListenBacklog asks for a longer accept queue than the kernel allows.

listen() silently caps its backlog at net.core.somaxconn (128 before Linux
5.4, 4096 since), so the queue in force is ``listen_backlog_effective``, not
what the file says (``ss -ltn`` shows it as Send-Q of the listener). An
explicit ListenBacklog and the compiled default 511 are judged by separate
rules: only the first is a line that says something untrue.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..engine.rule import Context
from ..facts import HostFacts
from .base import CheckParams, Hit
from .fixes import apache_location, sysctl_fix, sysctl_location, value_source

__all__ = ["BacklogParams", "listen_backlog_capped"]

_SOMAXCONN = "net.core.somaxconn"


class BacklogParams(CheckParams):
    # True: judge a ListenBacklog the file sets; False: only Apache's compiled
    # default, which somaxconn caps on kernels before 5.4 (a separate rule).
    explicit: bool = True


def listen_backlog_capped(
    facts: HostFacts, params: BacklogParams, context: Context
) -> Iterator[Hit]:
    config, sysctl = facts.apache, facts.sysctl
    effective = facts.derived.listen_backlog_effective
    if config is None or sysctl is None or effective is None:
        return
    setting = config.settings.get("ListenBacklog")
    somaxconn = sysctl.int_value(_SOMAXCONN)
    if setting is None or setting.default == params.explicit or not isinstance(setting.value, int):
        return
    if somaxconn is None or setting.value <= somaxconn:
        return
    somaxconn_setting = sysctl.settings.get(_SOMAXCONN)
    if somaxconn_setting is None or (
        somaxconn_setting.source == "default" and sysctl.kernel is None
    ):
        # No value read and no kernel version: the default would be a guess.
        return
    wanted = setting.value
    persistent = somaxconn_setting.persistent
    if (
        persistent is not None
        and isinstance(persistent.value, int)
        and persistent.value >= wanted
        and somaxconn_setting.pending(persistent.value)
    ):
        # The files already give enough for the next boot: apply them now
        # rather than write a lower value over them.
        wanted = persistent.value
    somaxconn_location = sysctl_location(somaxconn_setting, wanted)
    yield Hit(
        setting=_SOMAXCONN,
        current=somaxconn,
        recommended=wanted,
        # With no file setting somaxconn, the ListenBacklog line is the one to open.
        location=somaxconn_location or apache_location(config, setting),
        fix=(fix := sysctl_fix({_SOMAXCONN: wanted}, sysctl)).text,
        changes=fix.changes,
        values={
            "backlog": setting.value,
            "backlog_at": f"{setting.file}:{setting.line}"
            if setting.file is not None
            else "Apache's compiled default",
            "somaxconn": somaxconn,
            "somaxconn_from": value_source(somaxconn_setting, sysctl.kernel),
            # sk_acceptq_is_full: the queue is full past the backlog, not at it.
            "queue_holds": effective + 1,
        },
    )
