"""Proxied WebSocket (and other upgraded) connections keep a worker for their whole life.

httpd 2.4 runs a proxied tunnel in the worker that accepted the request:
mod_proxy_wstunnel for ``ws://``/``wss://`` backends, mod_proxy_http for
``upgrade=`` (2.4.47+), both through ``ap_proxy_tunnel_run``
(modules/proxy/proxy_util.c), which loops until one side closes or the tunnel
idles longer than Timeout (or the backend's timeout). Each open WebSocket thus
pins one worker, on every MPM (measured on a real apache2 2.4.71: an idle
tunnel held a worker Timeout, plus the lingering close on prefork/worker, a
busy one was never let go); on prefork and worker that is a whole process or thread
(and MaxRequestWorkers is small), so a few hundred open pages take every
worker and no one else is served.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..apache.model import ApacheConfig
from ..apache.scopes import proxy_routes, vhost_label
from ..engine.findings import FileChange
from ..engine.rule import Context
from ..facts import HostFacts
from ..hold import HOLDING_MPMS, LINGER_SECONDS, worker_lingers
from ..provenance import Location
from .base import CheckParams, Hit, as_seconds
from .fixes import Fix, editable
from .proxy_fix import route_backend, route_label
from .proxy_pool_close_wait import backend_scheme

__all__ = ["TunnelParams", "tunnel_pins_worker"]

_TUNNEL_SCHEMES = frozenset({"ws", "wss"})


class TunnelParams(CheckParams):
    pass


def tunnel_pins_worker(facts: HostFacts, params: TunnelParams, context: Context) -> Iterator[Hit]:
    config = facts.apache
    if config is None:
        return
    workers = facts.derived.max_request_workers_effective
    timeout = config.settings.get("Timeout")
    idle = as_seconds(timeout.value) if timeout is not None else None
    # An idle tunnel ends at Timeout, then the worker's lingering close (measured).
    linger = LINGER_SECONDS if worker_lingers(config) else 0.0
    # The same for every route: made once (once per route scanned the whole
    # tree each time, 10,000 routes beside 500,000 lines took minutes).
    event_fix: Fix | None = None
    # Each route's tunnels hold workers, shared backend or not.
    judged: set[tuple[int, str, int]] = set()
    for vhost, route in proxy_routes(config, include_shared=True):
        scheme = backend_scheme(route_backend(route))
        upgrade = route.params.get("upgrade")
        if scheme not in _TUNNEL_SCHEMES and not upgrade:
            continue
        # A balancer's route is listed once per member: one finding a route.
        place = (id(vhost), route.file, route.line)
        if place in judged:
            continue
        judged.add(place)
        if config.mpm in HOLDING_MPMS:
            fix = event_fix = event_fix or _event_fix(config)
            unit = "a whole process" if config.mpm == "prefork" else "a thread of a small pool"
            remedy = (
                f"On {config.mpm} each such worker is {unit}: move to the event MPM, where "
                "a worker is a cheap thread and the pool can be sized for them"
            )
        else:
            fix = Fix(
                comments=(
                    "# each open WebSocket keeps one worker: size MaxRequestWorkers (and "
                    "ServerLimit) for the WebSockets open at once, on top of the other clients",
                )
            )
            remedy = (
                "Size MaxRequestWorkers for the WebSockets open at once, on top of the other "
                "clients"
            )
        yield Hit(
            setting="ProxyPass",
            current=route_backend(route) if scheme in _TUNNEL_SCHEMES else f"upgrade={upgrade}",
            recommended=None,
            location=Location(file=route.file, line=route.line),
            fix=fix.text,
            changes=fix.changes,
            scope=vhost_label(vhost) if vhost else None,
            values={
                "route": route_label(route),
                "mpm": config.mpm,
                "workers": workers if workers is not None else "all",
                "idle": "without limit"
                if idle is None or idle < 0
                else f"up to {idle + linger:g} s (Timeout {idle:g} s"
                + (f" + {linger:g} s lingering close)" if linger else ")"),
                "remedy": remedy,
            },
        )


def _event_fix(config: ApacheConfig) -> Fix:
    """Move to the event MPM: the LoadModule line of the MPM replaced, where one
    line loads it and no mod_php (which refuses a threaded MPM) is loaded."""
    current = f"mpm_{config.mpm}"
    if config.layout == "debian":
        return Fix(comments=(f"a2dismod {current} && a2enmod mpm_event",))
    loads = [
        d
        for d in config.directives
        if d.key == "loadmodule" and d.args[:1] == (f"{current}_module",) and len(d.args) >= 2
    ]
    event = "mod_mpm_event.so"
    if not loads or not editable(loads[-1].file) or any("php" in m for m in config.modules):
        return Fix(
            comments=(
                f"# replace the LoadModule line of {current}_module with:",
                f"LoadModule mpm_event_module modules/{event}",
            )
        )
    load = loads[-1]
    directory = load.args[1].rpartition("/")[0]
    text = f"LoadModule mpm_event_module {directory + '/' if directory else ''}{event}"
    was = f"LoadModule {' '.join(load.args)}"
    return Fix((FileChange(file=load.file, line=load.line, action="replace", text=text, was=was),))
