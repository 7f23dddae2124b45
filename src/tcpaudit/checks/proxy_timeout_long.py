"""A ProxyPass route waits on its backend for a long time per read.

mod_proxy waits up to its worker's ``timeout=`` (on the ProxyPass line, a
ProxySet or ``<Proxy>`` line, or the ProxyTimeout set before the ProxyPass
that defined the worker), else ProxyTimeout, which defaults to the (virtual)
server's Timeout (mod_proxy docs). A server-level route runs in every
virtual host with that host's timers. While it
waits, the Apache worker that serves the client is held on every MPM; when
the wait ends the client gets 502/504, but the backend keeps working on a
request nobody will read. A Timeout of 300 s inherited this way lets a slow
backend drain the worker pool.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from ..apache.model import ApacheConfig, ApacheSetting, ProxyRoute, VirtualHost
from ..apache.scopes import proxy_routes, vhost_label
from ..apache.values import InvalidValueError, parse_atoi
from ..engine.rule import Context
from ..facts import HostFacts
from ..provenance import Location
from .base import CheckParams, Hit
from .fixes import Fix, line_text, set_directive
from .proxy_fix import route_label, worker_param_fix, worker_param_location

__all__ = ["ProxyTimeoutParams", "proxy_timeout_long", "route_wait_seconds"]


class ProxyTimeoutParams(CheckParams):
    max_seconds: int
    recommended_seconds: int


def _seconds(setting: ApacheSetting | None) -> int | None:
    if setting is None or isinstance(setting.value, bool) or not isinstance(setting.value, int):
        return None
    return setting.value


def _where(setting: ApacheSetting, name: str) -> str:
    if setting.file is not None:
        return f"{name} at {setting.file}:{setting.line}"
    return f"the compiled default {name}"


def _route_timeout(
    config: ApacheConfig, vhost: VirtualHost | None, route: ProxyRoute
) -> tuple[int, str, Location, Callable[[int], Fix]] | None:
    """Seconds, where they come from, where the fix goes and the fix for a number of seconds."""
    if "timeout" in route.params:
        try:
            seconds = parse_atoi(route.params["timeout"])
        except InvalidValueError:
            return None
        at = worker_param_location(route, "timeout")
        if (at.file, at.line) == (route.file, route.line):
            source = f"set by timeout= on ProxyPass {route.path}"
        else:
            name = (line_text(config, at.file, at.line) or "").lstrip("<").split(" ", 1)[0]
            if name.lower() == "proxytimeout":
                source = f"set by ProxyTimeout at {at}, copied into the worker ProxyPass defined"
            else:
                source = f"set by timeout= on {name or 'the line'} at {at}, for the route's worker"
        return (
            seconds,
            source,
            at,
            lambda recommended: worker_param_fix(config, route, "timeout", str(recommended)),
        )
    return _scope_timeout(config, vhost)


def _scope_timeout(
    config: ApacheConfig, vhost: VirtualHost | None
) -> tuple[int, str, Location, Callable[[int], Fix]] | None:
    """``_route_timeout`` for a route whose worker has no timeout of its own:
    the scope's ProxyTimeout, else its Timeout."""
    inside = (
        Location(file=vhost.file, line=vhost.line) if vhost else Location(file=config.main_file)
    )
    scoped = vhost.settings if vhost else {}
    for name in ("ProxyTimeout", "Timeout"):
        for setting in (scoped.get(name), config.settings.get(name)):
            inherited = _seconds(setting)
            if setting is None or inherited is None or (setting.default and name == "ProxyTimeout"):
                continue
            source = _where(setting, name)
            if name == "Timeout":
                source = f"inherited from {source} (no ProxyTimeout)"
            else:
                source = f"set by {source}"
            fix_at = inside
            replaced = setting if name == "ProxyTimeout" else None
            if replaced is not None and replaced.file is not None:
                fix_at = Location(file=replaced.file, line=replaced.line)

            def fix(recommended: int, replaced: ApacheSetting | None = replaced) -> Fix:
                text = f"ProxyTimeout {recommended}"
                return set_directive(config, replaced, text, vhost=vhost)

            return inherited, source, fix_at, fix
    return None


def route_wait_seconds(
    config: ApacheConfig, vhost: VirtualHost | None, route: ProxyRoute
) -> int | None:
    """How long ``route``, run in ``vhost`` (None: the main server), waits per
    backend read; None when not known."""
    found = _route_timeout(config, vhost, route)
    return None if found is None else found[0]


_SHORT_URLS = (
    "; for requests whose URL is shorter than its ProxyPassMatch worker's name,"
    " which mod_proxy's default worker serves"
)


def _route_scopes(
    config: ApacheConfig, max_seconds: int
) -> Iterator[tuple[VirtualHost | None, ProxyRoute, str]]:
    """Each route with each scope whose timers it runs with, and what part of
    its requests that is ("" for all): a server-level route also runs in
    every virtual host (their requests walk the main server's ProxyPass lines
    too), with the vhost's ProxyTimeout or Timeout when its worker has no
    timeout of its own, or with the vhost's workers when it finds none of
    the main server's (``VirtualHost.main_routes``); a ProxyPassMatch's short
    URLs may run with the default worker (``short_urls_default_worker``).

    Of the pairs of a server-level route and a virtual host, only those whose
    host's own timers pass ``max_seconds`` are given: the others find
    nothing, and routes times hosts may be tens of millions of pairs."""
    long_hosts = [
        host
        for host in config.vhosts
        if host.main_routes is None
        and ("ProxyTimeout" in host.settings or "Timeout" in host.settings)
        and (found := _scope_timeout(config, host)) is not None
        and found[0] > max_seconds
    ]
    for vhost, route in proxy_routes(config):
        yield from _parts(vhost, route)
        if vhost is not None:
            continue
        for host in long_hosts:
            if "timeout" not in route.params:
                yield host, route, ""
            if route.short_urls_default_worker:
                yield host, _bare(route), _SHORT_URLS
    for host in config.vhosts:
        for route in host.main_routes or ():
            if route.shared_with is None:
                yield from _parts(host, route)


def _bare(route: ProxyRoute) -> ProxyRoute:
    """``route`` run with the default reverse worker: no parameter of its own."""
    return route.model_copy(update={"params": {}, "param_lines": {}, "worker_at": None})


def _parts(
    vhost: VirtualHost | None, route: ProxyRoute
) -> Iterator[tuple[VirtualHost | None, ProxyRoute, str]]:
    yield vhost, route, ""
    if route.short_urls_default_worker:
        yield vhost, _bare(route), _SHORT_URLS


def proxy_timeout_long(
    facts: HostFacts, params: ProxyTimeoutParams, context: Context
) -> Iterator[Hit]:
    config = facts.apache
    if config is None or not config.has_module("proxy_module"):
        return
    for vhost, route, part in _route_scopes(config, params.max_seconds):
        found = _route_timeout(config, vhost, route)
        if found is None or found[0] <= params.max_seconds:
            continue
        seconds, source, fix_at, fix = found
        source += part
        if source.startswith("set by"):
            where = f"on the line that sets it, {fix_at}"
        elif fix_at.line is not None and vhost is not None and fix_at.line == vhost.line:
            where = f"inside the <VirtualHost> at {fix_at}"
        else:
            where = f"at {fix_at}"
        yield Hit(
            setting="ProxyTimeout",
            current=seconds,
            recommended=params.recommended_seconds,
            location=fix_at,
            fix=(changes := fix(params.recommended_seconds)).text,
            changes=changes.changes,
            scope=vhost_label(vhost) if vhost else None,
            values={
                "route": route_label(route),
                "route_at": f"{route.file}:{route.line}",
                "source": source,
                "fix_where": where,
                "mpm": config.mpm,
            },
        )
