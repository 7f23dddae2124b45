"""The backends a scope proxies to: ``ProxyPass`` and ``ProxyPassMatch`` routes.

Written at the scope itself (``ProxyPass /api/ http://b/ timeout=300``) or
inside a ``<Location>``/``<LocationMatch>`` of it, where the path is the
section's and the directive names only the backend (``ProxyPass http://b/``;
mod_proxy docs, "ProxyPass in a Location context"). ``ProxyPass /x !``
excludes a path and has no backend.
"""

from __future__ import annotations

from collections.abc import Iterable

from .model import ProxyRoute
from .proxy_params import WorkerNames, worker_covering, worker_name
from .tree import Directive
from .values import parse_proxy_params

__all__ = ["PROXY_KEYS", "proxy_routes"]

# The lower-cased names a scope's lines are scanned for.
PROXY_KEYS = frozenset({"proxypass", "proxypassmatch", "location", "locationmatch"})
_ROUTES = frozenset({"proxypass", "proxypassmatch"})
_LOCATIONS = frozenset({"location", "locationmatch"})


def proxy_routes(directives: Iterable[Directive]) -> list[ProxyRoute]:
    """The routes set directly in this scope or in one of its Location sections.

    A route whose URL a worker of this scope already covers shares it:
    its ``params`` are that worker's (proxy_params.worker_covering).
    """
    routes: list[ProxyRoute] = []
    # worker name -> the route defining it, for ProxyPass and for
    # ProxyPassMatch apart (each finds its own kind of worker only).
    workers: dict[str, tuple[WorkerNames, dict[str, ProxyRoute]]] = {
        "proxypass": (WorkerNames(), {}),
        "proxypassmatch": (WorkerNames(), {}),
    }
    for directive in directives:
        if directive.key in _ROUTES and directive.children is None:
            if len(directive.args) >= 2 and directive.args[1] != "!":
                route = _route(directive, directive.args[0], directive.args[1:], None)
                routes.append(_shared(route, workers[directive.key]))
        elif directive.key in _LOCATIONS and directive.children and directive.args:
            section = f"{directive.name} {directive.args[0]}"
            for child in directive.children:
                backend = child.args
                if (
                    child.key in _ROUTES
                    and child.children is None
                    and backend[:1] not in ((), ("!",))
                ):
                    route = _route(child, directive.args[0], backend, section)
                    routes.append(_shared(route, workers[child.key]))
    return routes


def _shared(route: ProxyRoute, workers: tuple[WorkerNames, dict[str, ProxyRoute]]) -> ProxyRoute:
    """``route`` as httpd runs it: with the parameters of the worker of this
    scope covering its URL, else defining a worker of its own."""
    if route.url[:9].lower() == "balancer:":
        return route
    url = route.url.partition("|")[2] if route.url[:5].lower() == "unix:" else route.url
    names, defining = workers
    covering = worker_covering(names, url)
    if covering is not None:
        first = defining[covering]
        return route.model_copy(
            update={"params": first.params, "shared_with": f"{first.file}:{first.line}"}
        )
    name = worker_name(url)
    if name is not None and name not in defining:
        names.append(name)
        defining[name] = route
    return route


def _route(
    directive: Directive, path: str, backend: tuple[str, ...], section: str | None
) -> ProxyRoute:
    return ProxyRoute(
        directive=directive.name,
        path=path,
        url=backend[0],
        params=parse_proxy_params(backend[1:]),
        words=list(backend[1:]),
        section=section,
        file=directive.file,
        line=directive.line,
    )
