"""Connections to a remote proxy backend are not probed by kernel keepalive.

mod_proxy sets SO_KEEPALIVE on backend sockets only with ``keepalive=On``
(mod_proxy docs). Without it, a firewall or NAT between Apache and the
backend that forgets idle connections leaves pooled connections, or one
waiting for a slow response, dead without either end knowing: the next
request on it waits up to the proxy timeout and the client gets 502/504.
Loopback and Unix-socket backends have no middlebox and are not judged.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from urllib.parse import urlsplit

from ..apache.scopes import proxy_routes, vhost_label
from ..engine.rule import Context
from ..facts import HostFacts
from .base import CheckParams, Hit
from .proxy_fix import route_backend, route_label, worker_param_fix, worker_param_location

__all__ = ["BackendKeepaliveParams", "proxy_backend_keepalive"]


class BackendKeepaliveParams(CheckParams):
    pass


def _remote_host(url: str) -> str | None:
    """The backend's host, or None for loopback, Unix sockets, balancers and ``!``."""
    if "://" not in url or url.lower().startswith(("unix:", "balancer://")):
        return None
    try:
        host = urlsplit(url).hostname
    except ValueError:  # "http://[::1/": no host httpd could reach either
        return None
    if host is None or host == "localhost":
        return None
    try:
        if ipaddress.ip_address(host).is_loopback:
            return None
    except ValueError:
        pass  # a name: judged as remote
    return host


def proxy_backend_keepalive(
    facts: HostFacts, params: BackendKeepaliveParams, context: Context
) -> Iterator[Hit]:
    config = facts.apache
    if config is None or not config.has_module("proxy_module"):
        return
    detect = facts.derived.keepalive_detect_seconds
    time = facts.sysctl.int_value("net.ipv4.tcp_keepalive_time") if facts.sysctl else None
    for vhost, route in proxy_routes(config):
        host = _remote_host(route_backend(route))
        if host is None or route.params.get("keepalive", "").lower() == "on":
            continue
        yield Hit(
            setting="ProxyPass keepalive",
            current=route.params.get("keepalive", "Off"),
            recommended="On",
            location=worker_param_location(route, "keepalive"),
            fix=(fix := worker_param_fix(config, route, "keepalive", "On")).text,
            changes=fix.changes,
            scope=vhost_label(vhost) if vhost else None,
            values={
                "route": route_label(route),
                "backend": host,
                "probe_after": f"{time} s" if time is not None else "tcp_keepalive_time",
                "detect": f"{detect} s" if detect is not None else "unknown",
            },
        )
