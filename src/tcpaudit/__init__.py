"""tcpaudit: audit Apache httpd and Linux TCP settings for CLOSE_WAIT pile-ups.

::

    import tcpaudit
    facts = tcpaudit.gather(root="/")          # HostFacts
    report = tcpaudit.audit(facts)             # Report: grade, score, findings
    print(report.grade, report.to_json())
"""

from __future__ import annotations

import importlib as _importlib
import typing as _typing

from ._version import __version__

if _typing.TYPE_CHECKING:
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
    from .snapshot import load_facts
    from .sysctl import SysctlSettings, load_sysctl

# Public name -> module that defines it. The package imports a module only when
# one of its names is first used, so that `tcpaudit facts` does not pay for the
# rule engine and the renderers (PEP 562).
_EXPORTS: dict[str, str] = {
    "ApacheConfig": ".apache",
    "load_apache": ".apache",
    "AuditConfig": ".engine",
    "Finding": ".engine",
    "Report": ".engine",
    "Rule": ".engine",
    "Severity": ".engine",
    "Suppression": ".engine",
    "audit": ".engine",
    "load_catalogue": ".engine",
    "load_config": ".engine",
    "ApacheConfigError": ".errors",
    "CatalogueError": ".errors",
    "ConfigError": ".errors",
    "FactsError": ".errors",
    "ParseError": ".errors",
    "SysctlError": ".errors",
    "TcpauditError": ".errors",
    "UsageError": ".errors",
    "DerivedTimings": ".facts",
    "HostFacts": ".facts",
    "gather": ".facts",
    "Location": ".provenance",
    "Note": ".provenance",
    "load_facts": ".snapshot",
    "SysctlSettings": ".sysctl",
    "load_sysctl": ".sysctl",
}

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
    "load_facts",
    "load_sysctl",
]


def __getattr__(name: str) -> _typing.Any:
    module_name = _EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module 'tcpaudit' has no attribute {name!r}")
    value = getattr(_importlib.import_module(module_name, __name__), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
