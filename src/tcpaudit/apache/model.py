"""The Apache part of the host model: effective settings with their provenance.

``ApacheConfig`` is what rules see and what ``tcpaudit facts`` prints. Keys of
``settings`` are httpd's canonical directive names (``MaxRequestWorkers`` also
when the file says ``MaxClients``; ``spelled`` keeps what the file says).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Literal

from pydantic import ConfigDict, Field, PrivateAttr

from ..first_error import FirstErrorModel
from ..provenance import FileLine, LineNumber, Location, Note
from .tree import Directive
from .values import RequestReadTimeoutValue, c_long

__all__ = [
    "ApacheConfig",
    "ApacheInvocation",
    "ApacheSetting",
    "MpmName",
    "ProxyRoute",
    "SettingValue",
    "VirtualHost",
    "version_tuple",
]

MpmName = Literal["prefork", "worker", "event", "other"]
SettingValue = (
    bool | int | float | str | list[str] | RequestReadTimeoutValue | dict[str, str] | None
)


# Cached: rules and the hold model ask once per virtual host and kind of client
# (160,000 calls on 10,000 vhosts, a third of the derived timings' time).
@lru_cache(maxsize=64)
def version_tuple(version: str) -> tuple[int, ...]:
    """``"2.4.62"`` -> ``(2, 4, 62)``; ``"2.4"`` -> ``(2, 4)``."""
    parts: list[int] = []
    for piece in version.split("."):
        digits = "".join(ch for ch in piece if "0" <= ch <= "9")
        if not digits:
            break
        parts.append(c_long(digits))
    return tuple(parts)


class ApacheSetting(FirstErrorModel):
    """One effective directive value and where it comes from."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    value: SettingValue
    spelled: str | None = None
    file: str | None = None
    line: LineNumber | None = None
    default: bool = False
    note: str | None = None
    effective: bool = True

    @property
    def location(self) -> Location | None:
        return None if self.file is None else Location(file=self.file, line=self.line)


class ProxyRoute(FirstErrorModel):
    """A ``ProxyPass`` mapping and its worker parameters (``timeout=``, ``keepalive=``).

    ``section`` is the ``<Location>`` it is written in, if any: there the line
    names only the backend and the path is the section's.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    directive: str = "ProxyPass"
    section: str | None = None
    path: str
    url: str
    params: dict[str, str] = Field(default_factory=dict)
    # Every word after the URL as written, flags (nocanon, interpolate) included.
    words: list[str] = Field(default_factory=list)
    file: str
    line: LineNumber
    # "file:line" of the ProxyPass whose worker this one shares (a worker of
    # the same server, or of the main server, covers its URL): httpd ignores
    # this line's parameters (AH01146), and ``params`` are that worker's.
    shared_with: FileLine | None = None
    # "file:line" of the <Proxy> section or ProxySet that defined the worker
    # this route runs with, when no route did (the route's parameters are
    # ignored then too).
    worker_at: FileLine | None = None
    # Parameter -> "file:line" of the line its value comes from, for those not
    # from this route's own line (a ProxySet, a <Proxy> line, the route that
    # defined the worker, a ProxyTimeout copied into it).
    param_lines: dict[str, FileLine] = Field(default_factory=dict)
    # A ProxyPassMatch whose worker name holds ``$N``: a request whose URL
    # is shorter than that name finds no worker of it, and none other covers
    # the URL, so mod_proxy's default reverse worker (no parameters) serves it.
    short_urls_default_worker: bool = False
    # For a route to a balancer, the member this copy of it runs with (one
    # copy per BalancerMember; ``params`` are that member's worker's).
    member: str | None = None


class VirtualHost(FirstErrorModel):
    """A ``<VirtualHost>`` section and the settings it sets itself."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    address: str
    server_name: str | None = None
    file: str
    line: LineNumber
    settings: dict[str, ApacheSetting] = Field(default_factory=dict)
    proxy_routes: list[ProxyRoute] = Field(default_factory=list)
    # mod_ssl speaks TLS to connections this vhost is the base server of
    # (SSLEngine on in force here, or an https Protocol with a certificate).
    tls: bool = False
    # The main server's routes as they run here when this vhost finds none of
    # the main server's workers (ProxyPassInherit and BalancerInherit both
    # off): each with the worker of this vhost covering it, else mod_proxy's
    # default reverse worker (no parameters). None: they run with the main
    # server's workers, as the main server resolves them.
    main_routes: list[ProxyRoute] | None = None


class ApacheInvocation(FirstErrorModel):
    """How the service starts httpd, besides its configuration files.

    ``environment`` holds the names of the variables httpd receives, not their
    values: start-up files may keep secrets there.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    how: str | None = None
    binary: str | None = None
    files: list[str] = Field(default_factory=list)
    defines: list[str] = Field(default_factory=list)
    directives: list[str] = Field(default_factory=list)
    late_directives: list[str] = Field(default_factory=list)
    environment: list[str] = Field(default_factory=list)


class ApacheConfig(FirstErrorModel):
    """The effective Apache configuration of a host.

    ``files`` are the files httpd reads, in the order it reads them, each named
    as the Include named it (``etc/apache2/mods-enabled/alias.load``, not the
    target of that link), once per read, as ``-D DUMP_INCLUDES`` lists them.
    ``modules`` are the loaded module identifiers, built-in first, then in
    LoadModule order, as ``-D DUMP_MODULES`` lists them. ``build`` names the
    httpd build whose linked-in modules were assumed and ``build_source`` the
    evidence (``binary usr/sbin/apache2``, ``etc/os-release``, ``option``...).
    ``one_process`` names the define (``ONE_PROCESS``, or ``DEBUG``, which
    ``-X`` gives) that makes httpd run a single child in the foreground,
    serving ThreadsPerChild connections at a time (prefork: one); None when
    it starts as usual.
    ``secret_value_lines`` are the lines whose value stands elsewhere where a
    secret is (``Define PW ...`` used as ``http://user:${PW}@backend/``, a
    ``Use`` argument a macro puts there): ``tcpaudit fix`` leaves their files
    out. Only places are kept, never values.
    ``macro_body_lines`` are the lines of each ``<Macro>`` body some ``Use``
    expanded: a directive built there keeps the body's place, which every
    ``Use`` shares, so a fix quoting it says so.
    ``main_server_tls``: mod_ssl speaks TLS to connections the main server
    is the base server of (``SSLEngine on``, or an https ``Protocol`` with a
    certificate; a Listen's ``https`` alone does not: apache/tls_servers.py).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: str
    version_source: Literal[
        "option", "probe", "inferred", "assumed", "binary", "package", "os-release"
    ]
    mpm: MpmName
    mpm_source: Literal["LoadModule", "sysconfig", "assumed", "option", "build"]
    layout: str = "custom"
    # Which httpd build (debian, rhel, suse, gentoo, upstream) and the evidence.
    build: str | None = None
    build_source: str | None = None
    invocation: ApacheInvocation | None = None
    one_process: Literal["ONE_PROCESS", "DEBUG"] | None = None
    main_file: str
    server_root: str = "/"
    files: list[str] = Field(default_factory=list)
    modules: list[str] = Field(default_factory=list)
    settings: dict[str, ApacheSetting] = Field(default_factory=dict)
    vhosts: list[VirtualHost] = Field(default_factory=list)
    proxy_routes: list[ProxyRoute] = Field(default_factory=list)
    secret_value_lines: list[Location] = Field(default_factory=list)
    macro_body_lines: list[Location] = Field(default_factory=list)
    main_server_tls: bool = False
    notes: list[Note] = Field(default_factory=list)

    _directives: list[Directive] = PrivateAttr(default_factory=list)
    # (host directory, wildcard) of each Include wildcard the load matched.
    _wildcards: list[tuple[str, str]] = PrivateAttr(default_factory=list)
    _looked_for: list[str] = PrivateAttr(default_factory=list)
    _directories_read: list[str] = PrivateAttr(default_factory=list)
    _startup_names: list[str] = PrivateAttr(default_factory=list)
    _startup_patterns: list[tuple[str, str]] = PrivateAttr(default_factory=list)
    # What hides the values the load found to be secrets (a Define used as a
    # password), for texts shown beside the configuration; never serialised.
    _secret_hider: Callable[[str], str] | None = PrivateAttr(default=None)

    @property
    def directives(self) -> list[Directive]:
        """The effective directive tree (empty when built from a facts document)."""
        return self._directives

    @property
    def wildcards(self) -> list[tuple[str, str]]:
        """Each Include wildcard matched, with the host directory it was matched
        in (empty when built from a facts document)."""
        return self._wildcards

    def hide_secrets(self, text: str) -> str:
        """``text`` with each value the load found to be a secret (a Define,
        ``-C`` ones included, used as a password) and its forms hidden; as
        it is when built from a facts document, which holds none."""
        return text if self._secret_hider is None else self._secret_hider(text)

    @property
    def looked_for(self) -> list[str]:
        """Paths an IncludeOptional named that did not exist (empty when built
        from a facts document)."""
        return self._looked_for

    @property
    def directories_read(self) -> list[str]:
        """Host directories an Include read whole, those below them included: a
        new file in any is configuration next time (empty when built from a
        facts document)."""
        return self._directories_read

    @property
    def startup_names(self) -> list[str]:
        """Paths inside the root that reading the service's start-up files
        read, tested or looked for, there or not (a sourced file, a file
        test, an ``EnvironmentFile=``, a unit): a file there is read, or
        changes what is read, next time (empty when built from a facts
        document)."""
        return self._startup_names

    @property
    def startup_patterns(self) -> list[tuple[str, str]]:
        """Each host directory whose entries a start-up file's pattern (a shell
        pathname, an ``EnvironmentFile=`` glob, a unit's drop-ins) was matched
        against, with that pattern as dash matches it: a new match is read
        next time (empty when built from a facts document)."""
        return self._startup_patterns

    @property
    def version_info(self) -> tuple[int, ...]:
        return version_tuple(self.version)

    def has_module(self, identifier: str) -> bool:
        return identifier in self.modules

    def setting(self, name: str) -> ApacheSetting | None:
        return self.settings.get(name)
