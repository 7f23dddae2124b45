"""tcpaudit: audit Apache httpd and Linux TCP settings for CLOSE_WAIT pile-ups."""

from __future__ import annotations

from ._version import __version__
from .apache import ApacheConfig, load_apache
from .errors import (
    ApacheConfigError,
    CatalogueError,
    ConfigError,
    FactsError,
    ParseError,
    SysctlError,
    TcpauditError,
    UsageError,
)
from .facts import DerivedTimings, HostFacts, gather
from .sysctl import SysctlSettings, load_sysctl

__all__ = [
    "ApacheConfig",
    "ApacheConfigError",
    "CatalogueError",
    "ConfigError",
    "DerivedTimings",
    "FactsError",
    "HostFacts",
    "ParseError",
    "SysctlError",
    "SysctlSettings",
    "TcpauditError",
    "UsageError",
    "__version__",
    "gather",
    "load_apache",
    "load_sysctl",
]
