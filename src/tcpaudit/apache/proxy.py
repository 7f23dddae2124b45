"""The backends a scope proxies to: ``ProxyPass`` and ``ProxyPassMatch`` routes.

Written at the scope itself (``ProxyPass /api/ http://b/ timeout=300``) or
inside a ``<Location>``/``<LocationMatch>`` of it, where the path is the
section's and the directive names only the backend (``ProxyPass http://b/``;
mod_proxy docs, "ProxyPass in a Location context"). ``ProxyPass /x !``
excludes a path and has no backend.

A route runs with the parameters of a *worker* (mod_proxy.c), which each
server builds in the order of its lines: a ProxyPass whose URL no worker
covers defines one with its own parameters and the server's ProxyTimeout as
set so far (PROXY_COPY_CONF_PARAMS); a ``<Proxy URL>`` section (a ProxySet
inside it, or parameters on its line) defines one too; a later ProxySet
changes a worker's parameters, and a ProxyPass whose URL a worker covers
shares it, its own parameters ignored (AH01146). At request time a virtual
host looks its worker up among the main server's workers first, then its
own, and takes the longest name, the first of equal ones: a vhost's route
to a backend the main server already names runs with the main server's
worker. Each was measured on apache2 2.4 (tests/lab/test_proxy_workers.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from .model import ProxyRoute
from .proxy_params import WorkerNames, proxy_section_path, worker_covering, worker_name
from .tree import Directive
from .values import parse_proxy_params

__all__ = ["PROXY_KEYS", "ServerWorkers", "proxy_routes", "server_workers"]

# The lower-cased names a scope's lines are scanned for.
PROXY_KEYS = frozenset(
    {
        "proxypass",
        "proxypassmatch",
        "location",
        "locationmatch",
        "proxy",
        "proxymatch",
        "proxyset",
        "proxytimeout",
    }
)
_ROUTES = frozenset({"proxypass", "proxypassmatch"})
_LOCATIONS = frozenset({"location", "locationmatch"})
_KINDS = ("prefix", "match")


@dataclass
class _Worker:
    """A worker as its server's lines leave it."""

    params: dict[str, str]
    # Parameter -> "file:line" of the line that set its value.
    param_lines: dict[str, str]
    defined_by: ProxyRoute | None  # the route that defined it, if one did
    defined_at: str  # "file:line" of the line that defined it


@dataclass
class ServerWorkers:
    """One server's workers by kind (a ProxyPass finds prefix workers, a
    ProxyPassMatch match ones; a ProxySet either)."""

    names: dict[str, WorkerNames] = field(
        default_factory=lambda: {kind: WorkerNames() for kind in _KINDS}
    )
    workers: dict[tuple[str, str], _Worker] = field(default_factory=dict)

    def covering(self, url: str, kinds: tuple[str, ...]) -> tuple[str, _Worker] | None:
        """ap_proxy_get_worker_ex: the longest name of these kinds covering ``url``."""
        best: tuple[str, _Worker] | None = None
        for kind in kinds:
            name = worker_covering(self.names[kind], url)
            if name is not None and (best is None or len(name) > len(best[0])):
                best = (name, self.workers[(kind, name)])
        return best

    def define(self, url: str, kind: str, worker: _Worker) -> None:
        name = worker_name(url)
        if name is not None and (kind, name) not in self.workers:
            self.names[kind].append(name)
            self.workers[(kind, name)] = worker


def _real(url: str) -> str:
    """ap_proxy_de_socketfy: a ``unix:...|http://...`` URL's part after ``|``."""
    return url.partition("|")[2] if url[:5].lower() == "unix:" else url


def _where(directive: Directive) -> str:
    return f"{directive.file}:{directive.line}"


def _set_params(worker: _Worker, words: Iterable[str], where: str) -> None:
    for key, value in parse_proxy_params(tuple(words)).items():
        worker.params[key] = value
        worker.param_lines[key] = where


class _Reader:
    """Walks one server's lines in order, building its workers and routes."""

    def __init__(self) -> None:
        self.workers = ServerWorkers()
        self.routes: list[tuple[ProxyRoute, tuple[str, _Worker] | None]] = []
        self.proxy_timeout: Directive | None = None

    def route(
        self, directive: Directive, path: str, backend: tuple[str, ...], section: str | None
    ) -> None:
        route = ProxyRoute(
            directive=directive.name,
            path=path,
            url=backend[0],
            params=parse_proxy_params(backend[1:]),
            words=list(backend[1:]),
            section=section,
            file=directive.file,
            line=directive.line,
        )
        if route.url[:9].lower() == "balancer:":
            self.routes.append((route, None))
            return
        kind = "match" if directive.key == "proxypassmatch" else "prefix"
        url = _real(route.url)
        found = self.workers.covering(url, (kind,))
        if found is None:
            worker = _Worker(dict(route.params), {}, route, _where(directive))
            timeout = self.proxy_timeout
            if "timeout" not in worker.params and timeout is not None and timeout.args:
                # PROXY_COPY_CONF_PARAMS: the server's ProxyTimeout as set so far.
                worker.params["timeout"] = timeout.args[0]
                worker.param_lines["timeout"] = _where(timeout)
            self.workers.define(url, kind, worker)
            name = worker_name(url)
            found = None if name is None else (name, worker)
        self.routes.append((route, found))

    def proxy_set(self, directive: Directive, section: Directive | None) -> None:
        words = list(directive.args)
        if section is not None:
            url = proxy_section_path(section.args[0]) if section.args else ""
            kinds: tuple[str, ...] = ("match",) if section.key == "proxymatch" else ("prefix",)
        else:
            url = words.pop(0) if words else ""
            kinds = _KINDS
        if url[:9].lower() == "balancer:":
            return
        found = self.workers.covering(_real(url), kinds)
        if found is None:
            if section is None:
                return  # httpd refuses it ("ProxySet can not find"): handlers.py says so
            worker = _Worker({}, {}, None, _where(directive))
            self.workers.define(_real(url), kinds[0], worker)
        else:
            worker = found[1]
        _set_params(worker, words, _where(directive))

    def proxy_section(self, section: Directive) -> None:
        for child in section.children or ():
            if child.key == "proxyset":
                self.proxy_set(child, section)
        if section.key != "proxy" or len(section.args) < 2:
            return
        url = proxy_section_path(section.args[0])
        if url[:9].lower() == "balancer:":
            return
        found = self.workers.covering(_real(url), ("prefix",))
        if found is None:
            worker = _Worker({}, {}, None, _where(section))
            self.workers.define(_real(url), "prefix", worker)
        else:
            worker = found[1]
        _set_params(worker, section.args[1:], _where(section))

    def read(self, directives: Iterable[Directive]) -> None:
        for directive in directives:
            key = directive.key
            if key in _ROUTES and directive.children is None:
                if len(directive.args) >= 2 and directive.args[1] != "!":
                    self.route(directive, directive.args[0], directive.args[1:], None)
            elif key == "proxytimeout" and directive.children is None:
                self.proxy_timeout = directive
            elif key == "proxyset" and directive.children is None:
                self.proxy_set(directive, None)
            elif key in ("proxy", "proxymatch") and directive.children is not None:
                self.proxy_section(directive)
            elif key in _LOCATIONS and directive.children and directive.args:
                section = f"{directive.name} {directive.args[0]}"
                for child in directive.children:
                    backend = child.args
                    if (
                        child.key in _ROUTES
                        and child.children is None
                        and backend[:1] not in ((), ("!",))
                    ):
                        self.route(child, directive.args[0], backend, section)
                    elif child.key == "proxyset" and child.children is None:
                        self.proxy_set(child, None)


def server_workers(directives: Iterable[Directive]) -> ServerWorkers:
    """The main server's workers, for the virtual hosts' routes to find first."""
    reader = _Reader()
    reader.read(directives)
    return reader.workers


def proxy_routes(
    directives: Iterable[Directive], inherited: ServerWorkers | None = None
) -> list[ProxyRoute]:
    """The routes set directly in this scope or in one of its Location sections,
    each with the parameters of the worker it runs with.

    ``inherited``: for a virtual host, the main server's workers, which its
    requests find before its own. A route whose worker a route before it
    defined has ``shared_with`` that route's line; one whose worker a
    ``<Proxy>`` section or ProxySet defined has ``worker_at`` that line.
    """
    reader = _Reader()
    reader.read(directives)
    first_route: dict[int, ProxyRoute] = {}
    routes: list[ProxyRoute] = []
    for route, found in reader.routes:
        if found is None:
            routes.append(route)
            continue
        name, worker = found
        if inherited is not None:
            # At request time the main server's workers come first; the
            # longest name wins, the first of equal ones.
            outer = inherited.covering(_real(route.url), _KINDS)
            if outer is not None and len(outer[0]) >= len(name):
                name, worker = outer
        first = first_route.setdefault(id(worker), worker.defined_by or route)
        shared = first is not route
        routes.append(
            route.model_copy(
                update={
                    "params": dict(worker.params),
                    "param_lines": {
                        key: where
                        for key, where in worker.param_lines.items()
                        if where != f"{route.file}:{route.line}"
                    },
                    "shared_with": f"{first.file}:{first.line}" if shared else None,
                    "worker_at": None if worker.defined_by is not None else worker.defined_at,
                }
            )
        )
    return routes
