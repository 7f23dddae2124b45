"""Behind a load balancer, Apache's KeepAliveTimeout must outlast the balancer's idle timeout.

A balancer keeps connections to its backends open and reuses them for
later requests until its own idle timeout (AWS ALB: 60 s by default). When
the backend's KeepAliveTimeout is shorter, Apache closes a connection the
balancer still counts as open; a request the balancer sends on it as it
closes fails, and the client gets a 502 (AWS: "configure the idle timeout of
your application to be larger than the idle timeout configured for the load
balancer"). On prefork/worker each open balancer connection then holds a
worker while idle, so the pool must be sized for the balancer's connections
(TA301 counts it), or the event MPM used.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..apache.scopes import scopes
from ..engine.rule import Context
from ..facts import HostFacts
from ..hold import HOLDING_MPMS
from .base import CheckParams, Hit, as_seconds, plain_number
from .fixes import Fix, apache_location, set_directive
from .hold_fixes import balancer_workers_fix

__all__ = ["BalancerParams", "keepalive_below_balancer"]


class BalancerParams(CheckParams):
    balancer_idle_timeout_seconds: float = 60
    margin_seconds: float = 5
    # TA301's rate: on prefork/worker the fix also sizes the pool for it.
    min_clients_per_second: float = 5


def keepalive_below_balancer(
    facts: HostFacts, params: BalancerParams, context: Context
) -> Iterator[Hit]:
    config = facts.apache
    if config is None:
        return
    recommended = plain_number(params.balancer_idle_timeout_seconds + params.margin_seconds)
    server = config.settings.get("KeepAliveTimeout")
    workers = facts.derived.max_request_workers_effective
    # Once, with the first finding: the workers every raised scope needs together.
    pool = Fix()
    if config.mpm in HOLDING_MPMS and workers is not None:
        pool = balancer_workers_fix(
            config,
            workers,
            params.min_clients_per_second,
            (params.balancer_idle_timeout_seconds, float(recommended)),
        )
    for scope in scopes(config):
        if not scope.keepalive or not scope.in_force("KeepAliveTimeout"):
            continue  # (the server's value where no connection runs with it)
        setting = scope.own("KeepAliveTimeout")
        if scope.vhost is not None and setting is None:
            continue  # the server's value, judged once
        setting = setting or server
        if setting is None or not setting.effective:
            continue
        seconds = as_seconds(setting.value)
        if seconds is None or seconds > params.balancer_idle_timeout_seconds:
            continue
        holding = config.mpm in HOLDING_MPMS
        fix = set_directive(config, setting, f"KeepAliveTimeout {recommended}", vhost=scope.vhost)
        fix, pool = fix + pool, Fix()
        yield Hit(
            setting="KeepAliveTimeout",
            current=plain_number(seconds),
            recommended=recommended,
            location=apache_location(config, setting),
            fix=fix.text,
            changes=fix.changes,
            scope=scope.label,
            values={
                "balancer": plain_number(params.balancer_idle_timeout_seconds),
                "mpm": config.mpm,
                "workers_note": f" On the {config.mpm} MPM each idle balancer connection then holds a "
                "worker: size MaxRequestWorkers for the balancer's connections, or use the "
                "event MPM."
                if holding
                else "",
            },
        )
