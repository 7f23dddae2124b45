"""Which servers mod_ssl speaks TLS for, as ssl_init_Module decides.

A server (the main one, or a ``<VirtualHost>``) speaks TLS when ``SSLEngine
on`` is in force for it, or when no ``SSLEngine`` is (``optional`` is no
longer supported: plain HTTP) and its protocol is ``https`` and it has a
certificate; a vhost takes ``SSLEngine``, ``Protocol`` and the certificates
of the main server where it sets none (ssl_engine_init.c, ssl_config.c,
core.c). A Listen naming ``https`` (or port 443) does not make it: httpd
sets the server's protocol from it only where a vhost's address is the
Listen's own, which mod_ssl has already judged by then. A connection speaks
TLS when the base server of its address does (ssl_hook_pre_connection reads
``c->base_server``): name-based vhosts behind it do not change that.
Measured with apache2 2.4 and a TLS client, tests/lab/test_tls_servers.py.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .tree import Directive

__all__ = ["TlsDirectives"]

_KEYS = frozenset({"sslengine", "protocol", "sslcertificatefile"})


@dataclass(frozen=True, slots=True)
class TlsDirectives:
    """What a server sets itself of what decides TLS (None: not set)."""

    engine: str | None = None
    protocol: str | None = None
    certificate: bool = False

    @classmethod
    def of(cls, directives: Iterable[Directive]) -> TlsDirectives:
        """From a server's own directives (sections inside it are not its)."""
        engine = protocol = None
        certificate = False
        for directive in directives:
            if directive.key not in _KEYS or directive.children is not None:
                continue
            word = directive.args[0].lower() if directive.args else ""
            if directive.key == "sslengine":
                engine = word
            elif directive.key == "protocol":
                protocol = word
            else:
                certificate = True
        return cls(engine, protocol, certificate)

    def under(self, main: TlsDirectives) -> TlsDirectives:
        """A vhost's, with the main server's where it sets none."""
        return TlsDirectives(
            self.engine if self.engine is not None else main.engine,
            self.protocol if self.protocol is not None else main.protocol,
            self.certificate or main.certificate,
        )

    @property
    def speaks_tls(self) -> bool:
        if self.engine is not None:
            return self.engine == "on"
        return self.protocol == "https" and self.certificate
