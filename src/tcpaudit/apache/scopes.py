"""Where a directive can take effect: the server, then each ``<VirtualHost>``.

Several checks judge a setting in every scope that sets it, and keep-alive
checks need to know whether keep-alive is on in that scope (a vhost's own
``KeepAlive`` wins over the server's). This module answers both once.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from .model import ApacheConfig, ApacheSetting, ProxyRoute, VirtualHost

__all__ = ["Scope", "keepalive_on", "proxy_routes", "scopes", "vhost_label"]


def vhost_label(vhost: VirtualHost) -> str:
    """How findings name a vhost: ``<VirtualHost *:80> www.example``."""
    return f"<VirtualHost {vhost.address}> {vhost.server_name or ''}".strip()


@dataclass(frozen=True, slots=True)
class Scope:
    """The server (``vhost`` None) or one virtual host."""

    config: ApacheConfig
    vhost: VirtualHost | None
    keepalive: bool

    @property
    def label(self) -> str | None:
        """None for the server, the vhost's label otherwise."""
        return None if self.vhost is None else vhost_label(self.vhost)

    def own(self, name: str) -> ApacheSetting | None:
        """The value this scope sets itself (the server's includes compiled defaults)."""
        settings = self.config.settings if self.vhost is None else self.vhost.settings
        return settings.get(name)


def keepalive_on(setting: ApacheSetting | None, inherited: bool) -> bool:
    """Whether keep-alive is on in a scope that sets ``KeepAlive`` to ``setting`` (or not)."""
    return inherited if setting is None else setting.value is not False


def scopes(config: ApacheConfig) -> Iterator[Scope]:
    """The server first, then every vhost in the order httpd reads them."""
    server_on = keepalive_on(config.settings.get("KeepAlive"), True)
    yield Scope(config, None, server_on)
    for vhost in config.vhosts:
        yield Scope(config, vhost, keepalive_on(vhost.settings.get("KeepAlive"), server_on))


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
