"""tcpaudit: audit Apache httpd and Linux TCP settings for CLOSE_WAIT pile-ups.

::

    import tcpaudit
    facts = tcpaudit.gather(root="/")          # HostFacts
    report = tcpaudit.audit(facts)             # Report: grade, score, findings
    print(report.grade, report.to_json())
"""

from __future__ import annotations

from ._version import __version__
from .apache import ApacheConfig, load_apache
from .engine import (
    AuditConfig,
    Finding,
    Report,
    Rule,
    Severity,
    Suppression,
    audit,
    load_catalogue,
    load_config,
)
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
from .provenance import Location, Note
from .sysctl import SysctlSettings, load_sysctl

__all__ = [
    "ApacheConfig",
    "ApacheConfigError",
    "AuditConfig",
    "CatalogueError",
    "ConfigError",
    "DerivedTimings",
    "FactsError",
    "Finding",
    "HostFacts",
    "Location",
    "Note",
    "ParseError",
    "Report",
    "Rule",
    "Severity",
    "Suppression",
    "SysctlError",
    "SysctlSettings",
    "TcpauditError",
    "UsageError",
    "__version__",
    "audit",
    "gather",
    "load_apache",
    "load_catalogue",
    "load_config",
    "load_sysctl",
]
