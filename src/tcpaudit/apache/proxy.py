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

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from .includes import has_wildcard
from .model import ProxyRoute
from .proxy_params import (
    WorkerNames,
    balancer_key,
    defined_worker_name,
    proxy_section_path,
    section_path,
    worker_covering,
    worker_name,
)
from .tree import Directive
from .values import parse_proxy_params

__all__ = [
    "PROXY_KEYS",
    "ServerWorkers",
    "counting",
    "proxy_routes",
    "server_workers",
    "vhost_proxy",
]

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
        "proxypassinherit",
        "balancerinherit",
        "balancermember",
    }
)
_ROUTES = frozenset({"proxypass", "proxypassmatch"})
_LOCATIONS = frozenset({"location", "locationmatch"})
_OTHER_PATH_SECTIONS = frozenset({"directory", "directorymatch", "files", "filesmatch"})
_LIMITS = frozenset({"limit", "limitexcept"})
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
        default_factory=lambda: {kind: WorkerNames(kind == "match") for kind in _KINDS}
    )
    workers: dict[tuple[str, str], _Worker] = field(default_factory=dict)
    # ProxyPassInherit and BalancerInherit as this server sets them (None: not set).
    inherit: dict[str, bool | None] = field(
        default_factory=lambda: {"proxypassinherit": None, "balancerinherit": None}
    )
    # The main server's routes, each with its worker (None for a balancer's).
    routes: list[tuple[ProxyRoute, _Worker | None]] = field(default_factory=list)
    # Balancer (its key) -> its members' workers by name, in order, and
    # those names for lookups.
    balancers: dict[str, dict[str, _Worker]] = field(default_factory=dict)
    member_names: dict[str, WorkerNames] = field(default_factory=dict)

    def covering(
        self, url: str, kinds: tuple[str, ...], other_than: _Worker | None = None
    ) -> tuple[str, _Worker] | None:
        """ap_proxy_get_worker_ex: the longest name of these kinds covering ``url``."""
        best: tuple[str, _Worker] | None = None
        for kind in kinds:
            name = worker_covering(self.names[kind], url)
            if name is None:
                continue
            worker = self.workers[(kind, name)]
            if worker is not other_than and (best is None or len(name) > len(best[0])):
                best = (name, worker)
        return best

    def define(self, url: str, kind: str, worker: _Worker) -> None:
        name = defined_worker_name(url, kind == "match")
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
        self,
        directive: Directive,
        path: str,
        backend: tuple[str, ...],
        section: str | None,
        match: bool = False,
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
        kind = "match" if match or directive.key == "proxypassmatch" else "prefix"
        url = _real(route.url)
        found = self.workers.covering(url, (kind,))
        if found is None:
            worker = _Worker(dict(route.params), {}, route, _where(directive))
            self._copy_conf_params(worker)
            self.workers.define(url, kind, worker)
            name = defined_worker_name(url, kind == "match")
            found = None if name is None else (name, worker)
        self.routes.append((route, found))

    def _copy_conf_params(self, worker: _Worker) -> None:
        """PROXY_COPY_CONF_PARAMS: the server's ProxyTimeout as set so far."""
        timeout = self.proxy_timeout
        if "timeout" not in worker.params and timeout is not None and timeout.args:
            worker.params["timeout"] = timeout.args[0]
            worker.param_lines["timeout"] = _where(timeout)

    def member(self, directive: Directive, section_path: str | None) -> None:
        """add_member: a BalancerMember defines a worker of its balancer, or
        shares one of the same name (its parameters ignored, AH01150)."""
        path, name = section_path, None
        params: list[str] = []
        for word in directive.args:
            if "=" in word:
                params.append(word)
            elif path is None:
                path = word
            elif name is None:
                name = word
        if path is None or name is None or path[:9].lower() != "balancer:":
            return  # httpd refuses it: handlers.py says so
        balancer = balancer_key(path)
        members = self.workers.balancers.setdefault(balancer, {})
        names = self.workers.member_names.setdefault(balancer, WorkerNames())
        # ap_proxy_get_worker within the balancer: a member whose name covers
        # this URL (the longest prefix spanning scheme://host) is shared.
        if worker_covering(names, _real(name)) is not None:
            return
        key = worker_name(_real(name))
        if key is None:
            return  # httpd refuses it: handlers.py says so
        names.append(key)
        where = _where(directive)
        values = parse_proxy_params(tuple(params))
        worker = _Worker(values, dict.fromkeys(values, where), None, where)
        self._copy_conf_params(worker)
        members[key] = worker

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
        path = section_path(section)
        for child in section.children or ():
            if (
                child.key in _ROUTES
                and child.children is None
                and path is not None
                and child.args[:1] not in ((), ("!",))
            ):
                # add_pass takes the section's path (cmd->path) as the route's:
                # a proxy request for that URL, run with the worker it defines.
                where = f"{section.name} {section.args[0]}"
                self.route(child, path, child.args, where, has_wildcard(path))
            elif child.key == "proxyset":
                self.proxy_set(child, section)
            elif child.key == "balancermember" and section.args:
                self.member(child, proxy_section_path(section.args[0]))
            elif child.key in _LIMITS and section.args:
                self.members_in(child, proxy_section_path(section.args[0]))
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

    def members_in(self, section: Directive, path: str | None) -> None:
        """The BalancerMember lines of a path section (or of a <Limit> within
        one), each of the balancer its path names (httpd's cmd->path)."""
        for child in section.children or ():
            if child.key == "balancermember" and child.children is None:
                self.member(child, path)
            elif child.key in _LIMITS:
                self.members_in(child, path)

    def read(self, directives: Iterable[Directive]) -> None:
        for directive in directives:
            key = directive.key
            if key in _ROUTES and directive.children is None:
                args = directive.args
                # "ProxyPass ~ regex URL": a ProxyPassMatch's worker (add_pass).
                tilde = key == "proxypass" and args[:1] == ("~",)
                if tilde:
                    args = args[1:]
                if len(args) >= 2 and args[1] != "!":
                    self.route(directive, args[0], args[1:], None, tilde)
            elif key == "proxytimeout" and directive.children is None:
                self.proxy_timeout = directive
            elif key in ("proxypassinherit", "balancerinherit") and directive.args:
                self.workers.inherit[key] = directive.args[0].lower() == "on"
            elif key == "proxyset" and directive.children is None:
                self.proxy_set(directive, None)
            elif key == "balancermember" and directive.children is None:
                self.member(directive, None)
            elif key in ("proxy", "proxymatch") and directive.children is not None:
                self.proxy_section(directive)
            elif key in _LOCATIONS and directive.children and directive.args:
                section = f"{directive.name} {directive.args[0]}"
                # The route's path is cmd->path: a <Location ~ re>'s is its
                # expression. A wildcard path makes its worker a match one.
                path = section_path(directive) or directive.args[0]
                pattern = has_wildcard(path)
                for child in directive.children:
                    backend = child.args
                    if (
                        child.key in _ROUTES
                        and child.children is None
                        and backend[:1] not in ((), ("!",))
                    ):
                        self.route(child, path, backend, section, pattern)
                    elif child.key == "proxyset" and child.children is None:
                        self.proxy_set(child, None)
                self.members_in(directive, section_path(directive))
            elif key in _OTHER_PATH_SECTIONS and directive.children:
                self.members_in(directive, section_path(directive))


def server_workers(directives: Iterable[Directive]) -> ServerWorkers:
    """The main server's workers, for the virtual hosts' routes to find first."""
    reader = _Reader()
    reader.read(directives)
    reader.workers.routes = [
        (route, None if found is None else found[1]) for route, found in reader.routes
    ]
    return reader.workers


def _inherits_workers(own: ServerWorkers, main: ServerWorkers) -> bool:
    """merge_proxy_config: a vhost gets the main server's workers unless
    ProxyPassInherit and BalancerInherit are both off (each the vhost's, else
    the main server's; On by default)."""
    flags = [
        own.inherit[key] if own.inherit[key] is not None else main.inherit[key]
        for key in ("proxypassinherit", "balancerinherit")
    ]
    return any(flag is None or flag for flag in flags)


# A load's guard (memory.MemoryGuard.check), called as routes are built.
Check = Callable[[str, int | None], None]
# Routes through a balancer are copied once per member: the guard is asked
# every this many copies, so routes times members stop at its bound.
_CHECK_EVERY_COPIES = 4096


def counting(check: Check) -> Check:
    """``check`` as ``_balanced`` calls it for each copy: asked once every
    _CHECK_EVERY_COPIES calls, however the copies fall into routes and hosts."""
    calls = 0

    def counted(file: str, line: int | None) -> None:
        nonlocal calls
        calls += 1
        if not calls % _CHECK_EVERY_COPIES:
            check(file, line)

    return counted


def proxy_routes(
    directives: Iterable[Directive],
    inherited: ServerWorkers | None = None,
    check: Check | None = None,
) -> list[ProxyRoute]:
    """The routes set directly in this scope or in one of its Location sections,
    each with the parameters of the worker it runs with.

    ``inherited``: for a virtual host, the main server's workers, which its
    requests find before its own. A route whose worker a route before it
    defined has ``shared_with`` that route's line; one whose worker a
    ``<Proxy>`` section or ProxySet defined has ``worker_at`` that line.
    ``check``: the load's guard, asked as routes through balancers are copied.
    """
    return vhost_proxy(directives, inherited, check)[0]


def vhost_proxy(
    directives: Iterable[Directive],
    main: ServerWorkers | None = None,
    check: Check | None = None,
) -> tuple[list[ProxyRoute], list[ProxyRoute] | None]:
    """A scope's own routes (``proxy_routes``) and, for a virtual host that
    finds none of the main server's workers, the main server's routes as
    they run there (``VirtualHost.main_routes``; None otherwise)."""
    reader = _Reader()
    reader.read(directives)
    outer = main if main is not None and _inherits_workers(reader.workers, main) else None
    first_route: dict[int, ProxyRoute] = {}
    routes: list[ProxyRoute] = []
    for route, found in reader.routes:
        if route.url[:9].lower() == "balancer:":
            routes.extend(_balanced(route, reader.workers, outer, first_route, check))
        else:
            routes.append(_resolved(route, found, reader.workers, outer, first_route))
    main_routes = None
    if main is not None and outer is None:
        main_routes = []
        for route, _ in main.routes:
            if route.url[:9].lower() == "balancer:":
                continue
            found = reader.workers.covering(_real(route.url), _KINDS)
            bare = route.model_copy(
                update={"params": {}, "param_lines": {}, "shared_with": None, "worker_at": None}
            )
            main_routes.append(_resolved(bare, found, reader.workers, None, {}))
    return routes, main_routes


def _balanced(
    route: ProxyRoute,
    workers: ServerWorkers,
    outer: ServerWorkers | None,
    first_route: dict[int, ProxyRoute],
    check: Check | None = None,
) -> list[ProxyRoute]:
    """A route to a balancer as its members run it: one copy per member with
    the member's worker (its BalancerMember line's parameters and the
    ProxyTimeout set before it). The route's own ``key=value`` words are the
    balancer's (``timeout=`` is how long to wait for a free member), not a
    worker's; with no member known, the route runs with none of them."""
    key = balancer_key(route.url)
    # merge_balancers: a balancer of the main server's name comes with the
    # main server's members, whatever the vhost defined under that name.
    members = outer.balancers.get(key) if outer is not None else None
    if members is None:
        members = workers.balancers.get(key)
    if not members:
        return [route.model_copy(update={"params": {}})]
    copies = []
    for name, worker in members.items():
        if check is not None:
            check(route.file, route.line)
        first = first_route.setdefault(id(worker), route)
        copies.append(
            route.model_copy(
                update={
                    "params": dict(worker.params),
                    "param_lines": dict(worker.param_lines),
                    "worker_at": worker.defined_at,
                    "member": name,
                    "shared_with": None if first is route else f"{first.file}:{first.line}",
                }
            )
        )
    return copies


def _resolved(
    route: ProxyRoute,
    found: tuple[str, _Worker] | None,
    workers: ServerWorkers,
    outer: ServerWorkers | None,
    first_route: dict[int, ProxyRoute],
) -> ProxyRoute:
    """``route`` with the parameters of the worker its requests run with."""
    if found is None:
        return route
    name, worker = found
    if outer is not None:
        # At request time the main server's workers come first; the
        # longest name wins, the first of equal ones.
        found_outer = outer.covering(_real(route.url), _KINDS)
        if found_outer is not None and len(found_outer[0]) >= len(name):
            name, worker = found_outer
    first = first_route.setdefault(id(worker), worker.defined_by or route)
    shared = first is not route
    short_urls = False
    if "$" in name and route.directive.lower() == "proxypassmatch":
        # A URL shorter than the name is no candidate for this worker
        # (ap_proxy_get_worker_ex); with its groups empty, whatever else
        # covers it serves it, else the default reverse worker.
        shortest = _real(route.url).split("$", 1)[0]
        short_urls = workers.covering(shortest, _KINDS, other_than=worker) is None and (
            outer is None or outer.covering(shortest, _KINDS) is None
        )
    return route.model_copy(
        update={
            "params": dict(worker.params),
            "param_lines": {
                key: where
                for key, where in worker.param_lines.items()
                if where != f"{route.file}:{route.line}"
            },
            "shared_with": f"{first.file}:{first.line}" if shared else None,
            "worker_at": None if worker.defined_by is not None else worker.defined_at,
            "short_urls_default_worker": short_urls,
        }
    )
