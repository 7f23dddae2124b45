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

from ..apache.model import ApacheConfig, ApacheSetting
from ..apache.scopes import Scope, scopes
from ..engine.rule import Context
from ..facts import HOLDING_MPMS, HostFacts
from .base import CheckParams, Hit, as_seconds
from .fixes import Fix, apache_location, set_directive
from .hold_fixes import balancer_workers_fix

__all__ = ["KeepAliveOffParams", "keepalive_off"]


class KeepAliveOffParams(CheckParams):
    # KeepAliveTimeout to pair with KeepAlive On where a worker waits it out.
    recommended_timeout_seconds: int = 2
    # Pair it on every MPM (behind a load balancer, whose idle timeout it must outlast).
    pair_on_every_mpm: bool = False
    # TA301's rate, for the workers a holding MPM needs behind a balancer.
    min_clients_per_second: float = 5


# keepalive_above raises values not above its first bound: this makes it "below".
_JUST_BELOW = 1e-6


def _turned_on(config: ApacheConfig, turned: list[Scope]) -> ApacheConfig:
    """The configuration with KeepAlive On in every scope of ``turned`` (what the fixes write)."""
    on = ApacheSetting(value=True)
    settings = config.settings
    if any(scope.vhost is None for scope in turned):
        settings = {**settings, "KeepAlive": on}
    changed = {id(scope.vhost) for scope in turned if scope.vhost is not None}
    vhosts = [
        vhost.model_copy(update={"settings": {**vhost.settings, "KeepAlive": on}})
        if id(vhost) in changed
        else vhost
        for vhost in config.vhosts
    ]
    return config.model_copy(update={"settings": settings, "vhosts": vhosts})


def _off(scope: Scope) -> ApacheSetting | None:
    setting = scope.own("KeepAlive")
    if setting is None or setting.value is not False or not setting.effective:
        return None
    return setting


def keepalive_off(facts: HostFacts, params: KeepAliveOffParams, context: Context) -> Iterator[Hit]:
    config = facts.apache
    if config is None:
        return
    holding = config.mpm in HOLDING_MPMS or params.pair_on_every_mpm
    off = [(scope, setting) for scope in scopes(config) if (setting := _off(scope)) is not None]
    workers = facts.derived.max_request_workers_effective
    pool: Fix | None = None
    if off and params.pair_on_every_mpm and config.mpm in HOLDING_MPMS and workers is not None:
        # Behind a balancer each idle connection then holds a worker for the
        # long KeepAliveTimeout: size the pool as TA301 would ask, once for
        # every scope turned on (once per scope redid the whole tree: 6,000
        # vhosts took 149 s), the same lines in each finding's fix.
        pool = balancer_workers_fix(
            _turned_on(config, [scope for scope, _ in off]),
            workers,
            params.min_clients_per_second,
            (
                params.recommended_timeout_seconds - _JUST_BELOW,
                params.recommended_timeout_seconds,
            ),
        )
    for scope, setting in off:
        fix = _fix(scope, setting, holding, params)
        if pool is not None:
            fix += pool
        yield Hit(
            setting="KeepAlive",
            current="Off",
            recommended="On",
            location=apache_location(config, setting),
            fix=fix.text,
            changes=fix.changes,
            scope=scope.label,
            values={
                "mpm": config.mpm,
                "pairing": f" with KeepAliveTimeout {params.recommended_timeout_seconds}"
                if holding
                else "",
            },
        )


def _fix(scope: Scope, setting: ApacheSetting, holding: bool, params: KeepAliveOffParams) -> Fix:
    """KeepAlive On where it is off, and on a holding MPM a KeepAliveTimeout no
    longer than recommended where the scope's value is set (or inherited)."""
    config = scope.config
    fix = set_directive(config, setting, "KeepAlive On", vhost=scope.vhost)
    if not holding:
        return fix
    wanted = params.recommended_timeout_seconds
    own = scope.own("KeepAliveTimeout")
    current = own if own is not None else config.settings.get("KeepAliveTimeout")
    seconds = as_seconds(current.value) if current is not None else None
    # Behind a balancer it must outlast the balancer's idle timeout; on a
    # holding MPM it must be short.
    fine = seconds is not None and (
        seconds >= wanted if params.pair_on_every_mpm else seconds <= wanted
    )
    if fine:
        return fix
    replaced = fix.changes[0] if fix.changes else None
    if (own is None or own.default) and replaced is not None and replaced.action == "replace":
        # Next to the KeepAlive line it turns on, in the same scope.
        paired = f"KeepAlive On\nKeepAliveTimeout {wanted}"
        return Fix((replaced.model_copy(update={"text": paired}),))
    return fix + set_directive(config, own, f"KeepAliveTimeout {wanted}", vhost=scope.vhost)
