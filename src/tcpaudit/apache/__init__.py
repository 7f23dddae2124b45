"""Apache httpd configuration: lexer, evaluator and the effective model."""

from __future__ import annotations

from .loader import infer_version, load_apache
from .model import ApacheConfig, ApacheSetting, ProxyRoute, VirtualHost
from .tree import Directive

__all__ = [
    "ApacheConfig",
    "ApacheSetting",
    "Directive",
    "ProxyRoute",
    "VirtualHost",
    "infer_version",
    "load_apache",
]
