"""Where a directive can take effect: the server, then each ``<VirtualHost>``.

Several checks judge a setting in every scope that sets it, and keep-alive
checks need to know whether keep-alive is on in that scope (a vhost's own
``KeepAlive`` wins over the server's). This module answers both once.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from ..vhost_matching import reach
from .model import ApacheConfig, ApacheSetting, ProxyRoute, VirtualHost

__all__ = ["Scope", "keepalive_on", "proxy_routes", "scopes", "vhost_label"]


def vhost_label(vhost: VirtualHost) -> str:
    """How findings name a vhost: ``<VirtualHost *:80> www.example``."""
    return f"<VirtualHost {vhost.address}> {vhost.server_name or ''}".strip()


# A vhost that sets none waits for its address's base vhost's (http_core.c
# takes the base server's; measured: lab cell keepalive-from-base).
_FROM_BASE = "KeepAliveTimeout"
_READ_LIMITS = "RequestReadTimeout"


@dataclass(frozen=True, slots=True)
class Scope:
    """The server (``vhost`` None) or one virtual host a connection can reach.

    ``served`` (the server's scope only): the vhosts connections reach, and
    whether the main server reads connections itself; the server's value of
    a setting is in force only there or in one of those vhosts that does not
    set it (nor, for KeepAliveTimeout, its address's base vhost). ``bases``
    (a vhost's scope): the first vhost of each address it is reached on,
    whose KeepAliveTimeout it waits for there when it sets none.
    """

    config: ApacheConfig
    vhost: VirtualHost | None
    keepalive: bool
    served: tuple[tuple[tuple[VirtualHost, tuple[VirtualHost, ...]], ...], bool] = ((), True)
    bases: tuple[VirtualHost, ...] = ()

    @property
    def label(self) -> str | None:
        """None for the server, the vhost's label otherwise."""
        return None if self.vhost is None else vhost_label(self.vhost)

    def own(self, name: str) -> ApacheSetting | None:
        """The value this scope runs with that is not the server's, or the
        server's where some connection runs with it (the server's includes
        compiled defaults; None where every connection runs with a vhost's:
        measured, lab cell main-server-unused)."""
        if self.vhost is not None:
            setting = self.vhost.settings.get(name)
            if setting is None and name == _FROM_BASE:
                # The first base of its addresses that sets one (each
                # address has its own; where none does, the server's).
                for base in self.bases:
                    if base is not self.vhost and name in base.settings:
                        return base.settings[name]
            return setting
        if not self.in_force(name):
            return None
        return self.config.settings.get(name)

    @property
    def reads_headers(self) -> bool:
        """Whether some connection's request headers are read under this
        scope: mod_reqtimeout's header stage (and whether it runs at all)
        come from the connection's base server, the first vhost of its
        address, or the server's for an address no vhost names or a base
        vhost setting no RequestReadTimeout (reqtimeout_before_header)."""
        if self.vhost is not None:
            return any(base is self.vhost for base in self.bases)
        vhosts, main_is_base = self.served
        return main_is_base or any(
            vhost in bases and _READ_LIMITS not in vhost.settings for vhost, bases in vhosts
        )

    def in_force(self, name: str) -> bool:
        """Whether some connection runs with this scope's value of ``name``
        (always, for a vhost's scope: a vhost no connection reaches has none)."""
        if self.vhost is not None:
            return True
        vhosts, main_is_base = self.served
        return main_is_base or not all(_sets(vhost, name, bases) for vhost, bases in vhosts)


def _sets(vhost: VirtualHost, name: str, bases: tuple[VirtualHost, ...]) -> bool:
    """Whether ``vhost`` runs with a value of ``name`` other than the
    server's on every address it is reached on."""
    if name in vhost.settings:
        return True
    return name == _FROM_BASE and all(base is not vhost and name in base.settings for base in bases)


def keepalive_on(setting: ApacheSetting | None, inherited: bool) -> bool:
    """Whether keep-alive is on in a scope that sets ``KeepAlive`` to ``setting`` (or not)."""
    return inherited if setting is None else setting.value is not False


def scopes(config: ApacheConfig) -> Iterator[Scope]:
    """The server first, then every vhost a connection can reach, in the
    order httpd reads them (a vhost on a port nothing listens on, or behind
    an IP vhost of its address, serves nothing: vhost_matching)."""
    reached = reach(config)
    first_on: dict[tuple[str, str], VirtualHost] = {}
    served: list[tuple[VirtualHost, tuple[VirtualHost, ...]]] = []
    for vhost, addresses in reached.served:
        # Each address has its own base: its first vhost.
        served.append((vhost, tuple(first_on.setdefault(a, vhost) for a in addresses)))
    server_on = keepalive_on(config.settings.get("KeepAlive"), True)
    yield Scope(config, None, server_on, (tuple(served), reached.main_server_is_base))
    for vhost, bases in served:
        on = keepalive_on(vhost.settings.get("KeepAlive"), server_on)
        yield Scope(config, vhost, on, bases=bases)


def proxy_routes(
    config: ApacheConfig, include_shared: bool = False
) -> Iterator[tuple[VirtualHost | None, ProxyRoute]]:
    """Every ``ProxyPass`` defining its own worker, with the vhost it sits in
    (None at server level). A route sharing a worker (``shared_with``) runs
    with that worker's parameters, judged where it is defined; a rule about
    routes rather than workers asks for them too (``include_shared``)."""
    for route in config.proxy_routes:
        if include_shared or route.shared_with is None:
            yield None, route
    for vhost in config.vhosts:
        for route in vhost.proxy_routes:
            if include_shared or route.shared_with is None:
                yield vhost, route
