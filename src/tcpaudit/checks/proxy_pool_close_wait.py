"""Pooled backend connections outlive the backend's keep-alive and sit in CLOSE_WAIT.

mod_proxy keeps connections to http, https and ajp backends (and fcgi,
scgi, uwsgi with ``enablereuse=on``) open in a pool between requests. A
backend closes an idle connection after its own keep-alive timeout (httpd and
Node.js: 5 s); httpd's end then sits in CLOSE_WAIT, owned by httpd, remote
port the backend's, until the pool next touches it, and a request sent on it
as the backend closes it fails (502). ``ttl=`` below the backend's keep-alive
makes httpd drop such connections first; ``disablereuse=On`` closes each
after use (mod_proxy docs, ProxyPass worker parameters; KNOWLEDGE).
"""

from __future__ import annotations

from collections.abc import Iterator

from ..apache.scopes import proxy_routes, vhost_label
from ..apache.values import parse_atoi
from ..engine.rule import Context
from ..facts import HostFacts
from .base import CheckParams, Hit, plain_number
from .proxy_fix import route_backend, route_label, worker_param_fix, worker_param_location

__all__ = ["PoolParams", "backend_scheme", "proxy_pool_close_wait"]

# Schemes whose connections mod_proxy reuses unless told not to.
_REUSED = frozenset({"http", "https", "ajp", "h2", "h2c"})
# mod_proxy_fcgi, _scgi, _uwsgi: reuse is off unless enablereuse=on.
_REUSED_ON_REQUEST = frozenset({"fcgi", "scgi", "uwsgi"})


class PoolParams(CheckParams):
    # The backend's keep-alive idle timeout, which the configuration does not show:
    # httpd's and Node.js's default is 5 s (gunicorn: 2 s; set yours).
    backend_keepalive_seconds: float = 5


def backend_scheme(url: str) -> str:
    """``http`` for ``http://b/`` and for ``unix:/run/app.sock|http://localhost/``."""
    target = url.split("|", 1)[1] if url.lower().startswith("unix:") and "|" in url else url
    return target.split("://", 1)[0].lower() if "://" in target else ""


def _flag(params: dict[str, str], name: str) -> bool | None:
    value = params.get(name)
    return None if value is None else value.lower() == "on"


def proxy_pool_close_wait(facts: HostFacts, params: PoolParams, context: Context) -> Iterator[Hit]:
    config = facts.apache
    if config is None:
        return
    ttl_wanted = max(int(params.backend_keepalive_seconds) - 1, 1)
    for vhost, route in proxy_routes(config):
        scheme = backend_scheme(route_backend(route))
        reuse = _flag(route.params, "enablereuse")
        if _flag(route.params, "disablereuse"):
            reuse = False
        pooled = (scheme in _REUSED and reuse is not False) or (
            scheme in _REUSED_ON_REQUEST and reuse is True
        )
        if not pooled:
            continue
        ttl_text = route.params.get("ttl")
        ttl = parse_atoi(ttl_text) if ttl_text is not None else None
        if ttl is not None and 0 < ttl < params.backend_keepalive_seconds:
            continue
        yield Hit(
            setting="ProxyPass",
            current=f"ttl={ttl_text}" if ttl_text is not None else "no ttl",
            recommended=f"ttl={ttl_wanted}",
            location=worker_param_location(route, "ttl"),
            fix=(fix := worker_param_fix(config, route, "ttl", str(ttl_wanted))).text,
            changes=fix.changes,
            scope=vhost_label(vhost) if vhost else None,
            values={
                "route": route_label(route),
                "ttl": f"ttl={ttl_text}" if ttl_text is not None else "no ttl=",
                "backend_keepalive": plain_number(params.backend_keepalive_seconds),
                "ttl_wanted": ttl_wanted,
            },
        )
