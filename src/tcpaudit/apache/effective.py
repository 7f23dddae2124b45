"""Read the tracked settings out of the effective tree, with httpd's defaults.

Owns which directives tcpaudit tracks, how each is parsed (``values.py``) and
which default applies when none is set (``defaults.py``). Server-level values
come from directives outside any section; a ``<VirtualHost>`` keeps the
values it sets itself. Later directives win, as in httpd.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from functools import cache, lru_cache

from ..errors import ApacheConfigError
from ..provenance import Note
from ..vhost_matching import _host_and_port
from .defaults import (
    DEFAULT_KEEPALIVE,
    DEFAULT_KEEPALIVE_TIMEOUT_SECONDS,
    DEFAULT_LISTEN_BACKLOG,
    DEFAULT_MAX_KEEPALIVE_REQUESTS,
    DEFAULT_REQUEST_READ_TIMEOUT_2_4,
    MPM_DEFAULTS,
    default_timeout_seconds,
)
from .memory import MemoryGuard
from .model import ApacheSetting, MpmName, SettingValue, VirtualHost
from .proxy import PROXY_KEYS, ServerWorkers, counting, proxy_routes, vhost_proxy
from .shell_state import REDACTED_VALUE
from .tls_servers import TlsDirectives
from .tree import Directive
from .values import (
    InvalidValueError,
    RequestReadTimeoutValue,
    parse_atoi,
    parse_flag_keepalive,
    parse_request_read_timeout,
    parse_timeout_parameter,
)
from .vhost_addresses import has_address, server_name_parts

__all__ = [
    "CANONICAL_NAMES",
    "NUMERIC_SETTINGS",
    "TRACKED_KEYS",
    "atoi_note",
    "proxy_routes",
    "server_settings",
    "validate_directive",
    "virtual_hosts",
]

# lower-cased spelling -> canonical name; MaxClients is 2.2's name of MaxRequestWorkers.
CANONICAL_NAMES = {
    "timeout": "Timeout",
    "keepalive": "KeepAlive",
    "keepalivetimeout": "KeepAliveTimeout",
    "maxkeepaliverequests": "MaxKeepAliveRequests",
    "requestreadtimeout": "RequestReadTimeout",
    "maxrequestworkers": "MaxRequestWorkers",
    "maxclients": "MaxRequestWorkers",
    "serverlimit": "ServerLimit",
    "threadsperchild": "ThreadsPerChild",
    "threadlimit": "ThreadLimit",
    "listenbacklog": "ListenBacklog",
    "listen": "Listen",
    "acceptfilter": "AcceptFilter",
    "proxytimeout": "ProxyTimeout",
}
# The lower-cased names validate_directive checks (it lets every other pass).
TRACKED_KEYS = frozenset(CANONICAL_NAMES)
# Directives a <VirtualHost> may set for itself (the rest are server-wide only).
_VHOST_SCOPED = frozenset(
    {
        "Timeout",
        "KeepAlive",
        "KeepAliveTimeout",
        "MaxKeepAliveRequests",
        "RequestReadTimeout",
        "ProxyTimeout",
    }
)


def _number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


# What virtual_hosts reads from a vhost's own lines.
_VHOST_KEYS = frozenset(
    {key for key, name in CANONICAL_NAMES.items() if name in _VHOST_SCOPED}
    | {"servername"}
    | PROXY_KEYS
)


# TAKE1 handlers: httpd refuses any other number of words ("X takes one argument").
_ONE_WORD = frozenset(
    {
        "Timeout",
        "KeepAlive",
        "KeepAliveTimeout",
        "MaxKeepAliveRequests",
        "MaxRequestWorkers",
        "ServerLimit",
        "ThreadsPerChild",
        "ThreadLimit",
        "ListenBacklog",
        "ProxyTimeout",
    }
)
# Sections whose contents are per-directory: server-level directives are
# refused there ("not allowed here", invoke_cmd in server/config.c).
_DIRECTORY_SECTIONS = frozenset(
    {
        "directory",
        "directorymatch",
        "location",
        "locationmatch",
        "files",
        "filesmatch",
        "if",
        "elseif",
        "else",
        "proxy",
        "proxymatch",
    }
)


# Parsers whose result depends on the previous value of the directive.
_ACCUMULATING = frozenset({"RequestReadTimeout", "Listen", "AcceptFilter"})


@cache
def _parser(
    name: str, version: tuple[int, ...]
) -> Callable[[tuple[str, ...], SettingValue], SettingValue]:
    def first(args: tuple[str, ...]) -> str:
        if len(args) != 1 and name in _ONE_WORD:
            raise InvalidValueError(f"{name} takes one argument")
        if not args:
            raise InvalidValueError(f"{name} takes one argument")
        return args[0]

    if name == "KeepAlive":
        if version >= (2, 4):
            # A FLAG directive in 2.4 (TAKE1 in 2.2): the first word decides, and
            # invoke_cmd ignores any after it.
            return lambda args, _old: parse_flag_keepalive(args[0] if args else "", version)
        return lambda args, _old: parse_flag_keepalive(first(args), version)
    if name == "KeepAliveTimeout":
        return lambda args, _old: _number(parse_timeout_parameter(first(args), version))
    if name == "RequestReadTimeout":
        # 2.4 falls back to its default for each stage a line leaves out
        # (header 20-40 s and body 20 s at 500 B/s; mod_reqtimeout.c, per stage
        # UNSET); 2.2 has no defaults.
        first_base = (
            parse_request_read_timeout(DEFAULT_REQUEST_READ_TIMEOUT_2_4, None)
            if version >= (2, 4)
            else None
        )
        return lambda args, old: parse_request_read_timeout(
            args, old if isinstance(old, RequestReadTimeoutValue) else first_base
        )
    if name == "Listen":
        return lambda args, old: [*(old if isinstance(old, list) else []), " ".join(args)]
    if name == "AcceptFilter":

        def accept_filter(args: tuple[str, ...], old: SettingValue) -> SettingValue:
            if len(args) != 2:
                raise InvalidValueError("AcceptFilter takes two arguments")
            merged = dict(old) if isinstance(old, dict) else {}
            merged[args[0]] = args[1]
            return merged

        return accept_filter
    return lambda args, _old: parse_atoi(first(args))


@lru_cache(maxsize=1024)
def _plain_value(name: str, version: tuple[int, ...], args: tuple[str, ...]) -> SettingValue:
    """The value of a directive that does not accumulate; the same few recur by
    the thousand (``Timeout 60`` in every vhost). Values are immutable."""
    return _parser(name, version)(args, None)


def _value(
    name: str, version: tuple[int, ...], args: tuple[str, ...], old: SettingValue
) -> SettingValue:
    if name in _ACCUMULATING:
        return _parser(name, version)(args, old)
    return _plain_value(name, version, args)


def validate_directive(
    directive: Directive, sections: tuple[str, ...], version: tuple[int, ...]
) -> None:
    """Refuse a tracked directive where httpd's handler would, when it walks the tree.

    Args:
        directive: a directive of the effective tree.
        sections: lower-cased names of the sections around it, outermost first.
        version: the Apache version.

    Raises:
        ApacheConfigError: a value, word count or place httpd refuses.
    """
    name = CANONICAL_NAMES.get(directive.key)
    if name is None or directive.children is not None:
        return
    if not _DIRECTORY_SECTIONS.isdisjoint(sections):
        raise ApacheConfigError(
            f"{directive.name} not allowed here", file=directive.file, line=directive.line
        )
    if name not in _VHOST_SCOPED and "virtualhost" in sections:
        raise ApacheConfigError(
            f"{directive.name} cannot occur within <VirtualHost> section",
            file=directive.file,
            line=directive.line,
        )
    if any(REDACTED_VALUE in word for word in directive.args):
        return  # a hidden value httpd reads: not known, so not judged (_setting)
    try:
        _value(name, version, directive.args, None)
    except InvalidValueError as exc:
        raise ApacheConfigError(str(exc), file=directive.file, line=directive.line) from exc


# Parsed with C atoi: the leading digits count, anything after them is dropped.
_ATOI_NAMES = frozenset(
    {"Timeout", "MaxKeepAliveRequests", "MaxRequestWorkers", "ServerLimit",
     "ThreadsPerChild", "ThreadLimit", "ListenBacklog", "ProxyTimeout"}
)  # fmt: skip
# Every tracked setting whose value is a number (KeepAliveTimeout: seconds).
NUMERIC_SETTINGS = _ATOI_NAMES | {"KeepAliveTimeout"}
_INTEGER = re.compile(r"^[+-]?\d+$")


def atoi_note(directive: Directive, version: tuple[int, ...]) -> Note | None:
    """A note when httpd reads a tracked value other than as written (``Timeout 5min``: 5 s)."""
    if not directive.args:
        return None
    word = directive.args[0]
    if word.isdigit() or REDACTED_VALUE in word:
        return None
    name = CANONICAL_NAMES.get(directive.key)
    if name is None or not (
        name in _ATOI_NAMES or (name == "KeepAliveTimeout" and version < (2, 4))
    ):
        return None
    if _INTEGER.match(word):
        return None
    return Note(
        message=f"{directive.name} {word} is read as {parse_atoi(word)}: httpd keeps the "
        "leading digits (C atoi) and ignores the rest",
        file=directive.file,
        line=directive.line,
    )


def _setting(
    directive: Directive, name: str, version: tuple[int, ...], old: ApacheSetting | None
) -> ApacheSetting:
    """The setting a tracked directive makes, over the one before (``old``)."""
    if any(REDACTED_VALUE in word for word in directive.args):
        # ${NAME} of a secret-named variable: the loaders hide its value, which
        # httpd reads; read as the placeholder it would be 0 or refused.
        return ApacheSetting(
            value=None,
            spelled=directive.name,
            file=directive.file,
            line=directive.line,
            note="its value is a secret-named variable's, which tcpaudit hides: not known",
        )
    try:
        value = _value(name, version, directive.args, old.value if old else None)
    except InvalidValueError as exc:
        raise ApacheConfigError(str(exc), file=directive.file, line=directive.line) from exc
    return ApacheSetting(
        value=value, spelled=directive.name, file=directive.file, line=directive.line
    )


def _collect(
    directives: Iterable[Directive], version: tuple[int, ...], scope: frozenset[str] | None
) -> dict[str, ApacheSetting]:
    found: dict[str, ApacheSetting] = {}
    # Listen adds a word per line: the list grows here and becomes a setting
    # once (a new list and its validation per line: 70,000 lines, a minute).
    listens: list[str] | None = None
    last_listen: Directive | None = None
    for directive in directives:
        name = CANONICAL_NAMES.get(directive.key)
        if name is None or directive.children is not None:
            continue
        if scope is not None and name not in scope:
            continue
        if name == "Listen" and not any(REDACTED_VALUE in word for word in directive.args):
            if listens is None:
                found[name] = _setting(directive, name, version, None)
                listens = []
            listens.append(" ".join(directive.args))
            last_listen = directive
            continue
        found[name] = _setting(directive, name, version, found.get(name))
        if name == "Listen":
            listens = last_listen = None  # a hidden value: the next line starts again
    if listens is not None and last_listen is not None:
        found["Listen"] = ApacheSetting(
            value=listens, spelled=last_listen.name, file=last_listen.file, line=last_listen.line
        )
    return found


def server_settings(
    directives: list[Directive],
    version: tuple[int, ...],
    mpm: MpmName,
    modules: list[str],
) -> tuple[dict[str, ApacheSetting], list[Note]]:
    """Return the server-level settings, filling httpd's defaults for unset ones."""
    settings = _collect(directives, version, None)
    notes: list[Note] = []

    def default(name: str, value: SettingValue, note: str) -> None:
        if name not in settings:
            settings[name] = ApacheSetting(value=value, default=True, note=note)

    release = ".".join(str(part) for part in version)
    default("Timeout", default_timeout_seconds(version), f"compiled default for Apache {release}")
    default("KeepAlive", DEFAULT_KEEPALIVE, "compiled default")
    default("KeepAliveTimeout", DEFAULT_KEEPALIVE_TIMEOUT_SECONDS, "compiled default")
    default("MaxKeepAliveRequests", DEFAULT_MAX_KEEPALIVE_REQUESTS, "compiled default")
    default("ListenBacklog", DEFAULT_LISTEN_BACKLOG, "compiled default")
    mpm_defaults = MPM_DEFAULTS.get(mpm, MPM_DEFAULTS["prefork"])
    for name in ("ServerLimit", "ThreadsPerChild", "ThreadLimit"):
        default(name, mpm_defaults[name], f"compiled default for the {mpm} MPM")
    # The MPM's pre_config sets it from the compiled ServerLimit and
    # ThreadsPerChild before any directive is read: 400 on worker and event
    # whatever those two say (facts.max_request_workers_effective caps it).
    default(
        "MaxRequestWorkers",
        mpm_defaults["MaxRequestWorkers"],
        f"compiled default for the {mpm} MPM",
    )
    default(
        "ProxyTimeout",
        settings["Timeout"].value,
        "not set: ProxyTimeout inherits Timeout",
    )
    if "reqtimeout_module" not in modules:
        settings.pop("RequestReadTimeout", None)
        settings["RequestReadTimeout"] = ApacheSetting(
            value=None, default=True, note="mod_reqtimeout not loaded"
        )
    elif "RequestReadTimeout" not in settings:
        if version >= (2, 4):
            settings["RequestReadTimeout"] = ApacheSetting(
                value=parse_request_read_timeout(DEFAULT_REQUEST_READ_TIMEOUT_2_4, None),
                default=True,
                note="mod_reqtimeout's defaults (2.4)",
            )
        else:
            settings["RequestReadTimeout"] = ApacheSetting(
                value=None, default=True, note="mod_reqtimeout 2.2 has no default limits"
            )
    return dict(sorted(settings.items())), notes


_READ_TIMEOUT = frozenset({"RequestReadTimeout"})
_KEEPALIVE_TIMEOUT = frozenset({"KeepAliveTimeout"})


# The values ap_fixup_virtual_hosts takes for "unset" in a vhost.
_VHOST_UNSET: dict[str, float] = {"Timeout": 0, "KeepAliveTimeout": 0, "MaxKeepAliveRequests": -1}


def virtual_hosts(
    directives: list[Directive],
    version: tuple[int, ...],
    memory: MemoryGuard | None = None,
    notes: list[Note] | None = None,
    inherited: ServerWorkers | None = None,
) -> list[VirtualHost]:
    """Return every ``<VirtualHost>``, in the order httpd reads them.

    ``inherited``: the main server's proxy workers, which a vhost's requests
    find before its own (proxy.proxy_routes).

    ``memory``, the load's guard, is checked every 4,096 vhosts: their models
    cost more than the lines they come from (250,000 three-line vhosts held
    1.6 GB after a reading that stayed within its bound).

    Before 2.4.16, ``KeepAliveTimeout`` in a name-based vhost applies only in
    the first vhost of its address (core docs); later ones are marked
    ``effective: false``. With an unknown patch level the modern rule applies.
    """
    hosts: list[VirtualHost] = []
    seen_addresses: set[str] = set()
    legacy = (len(version) >= 3 and version < (2, 4, 16)) or (
        len(version) == 2 and version < (2, 4)
    )
    # mod_reqtimeout merges a vhost's stages over the main server's, stage by
    # stage: a vhost line starts from the server's value, not from the defaults.
    server_read = _collect(directives, version, _READ_TIMEOUT).get("RequestReadTimeout")
    default_ports = _with_default_ports(directives)
    main_tls = TlsDirectives.of(directives)
    found_keepalive = _collect(directives, version, _KEEPALIVE_TIMEOUT).get("KeepAliveTimeout")
    server_keepalive = (
        found_keepalive.value if found_keepalive is not None else DEFAULT_KEEPALIVE_TIMEOUT_SECONDS
    )
    # Routes through balancers are copied per member: counted across hosts.
    copies = counting(memory.check) if memory is not None else None
    for index, directive in enumerate(_sections(directives, "virtualhost")):
        if memory is not None and not index & 0xFFF:
            memory.check(directive.file or "", directive.line)
        if not has_address(directive.args):
            # Every word empty, or a name no resolver takes: httpd skips each
            # ("Could not resolve host name"), and the vhost answers nothing.
            if notes is not None:
                notes.append(
                    Note(
                        message="<VirtualHost> with no address httpd can use (an empty word, "
                        "or a name no resolver takes): it answers no connection",
                        file=directive.file,
                        line=directive.line,
                    )
                )
            continue
        children = directive.children or []
        address = default_ports.get(id(directive)) or " ".join(directive.args)
        first_on_address = address not in seen_addresses
        seen_addresses.add(address)
        # One pass over the vhost's own lines; most are neither settings
        # tcpaudit tracks nor ServerName/ProxyPass.
        settings: dict[str, ApacheSetting] = {}
        proxies: list[Directive] = []
        server_name = None
        for child in children:
            key = child.key
            if key not in _VHOST_KEYS:
                continue
            if key in PROXY_KEYS:
                proxies.append(child)
            if key == "servername":
                # Each ServerName replaces the one before (server_hostname_port in core.c).
                if child.args:
                    server_name = server_name_parts(child.args[0])[0]
            elif key in PROXY_KEYS and key != "proxytimeout":
                continue
            elif child.children is None:
                name = CANONICAL_NAMES[key]
                before = settings.get(name)
                if before is None and name == "RequestReadTimeout":
                    before = server_read
                settings[name] = _setting(child, name, version, before)
        for name, unset in _VHOST_UNSET.items():
            # ap_fixup_virtual_hosts: a vhost's Timeout or KeepAliveTimeout of
            # 0, or MaxKeepAliveRequests of -1, is "unset": the server's applies.
            own = settings.get(name)
            if own is not None and own.value == unset and not isinstance(own.value, bool):
                if name == "KeepAliveTimeout":
                    # The vhost did set it (keep_alive_timeout_set): it waits the
                    # server's value, not its address's base vhost's (measured).
                    settings[name] = own.model_copy(
                        update={
                            "value": server_keepalive,
                            "note": f"{own.spelled or name} 0 is httpd's unset value: the "
                            "main server's applies here, not the base vhost's",
                        }
                    )
                else:
                    del settings[name]
                if notes is not None:
                    notes.append(
                        Note(
                            message=f"{own.spelled or name} {own.value} in a <VirtualHost> "
                            "is httpd's unset value: the main server's applies there",
                            file=own.file,
                            line=own.line,
                        )
                    )
        if legacy and not first_on_address and "KeepAliveTimeout" in settings:
            settings["KeepAliveTimeout"] = settings["KeepAliveTimeout"].model_copy(
                update={
                    "effective": False,
                    "note": "ignored before 2.4.16: only the first vhost on an address sets it",
                }
            )
        own_routes, main_routes = (
            vhost_proxy(proxies, inherited, copies)
            if proxies or (inherited is not None and inherited.routes)
            else ([], None)
        )
        hosts.append(
            VirtualHost(
                address=address,
                server_name=server_name,
                file=directive.file,
                line=directive.line,
                settings=settings,
                proxy_routes=own_routes,
                tls=TlsDirectives.of(children).under(main_tls).speaks_tls,
                main_routes=main_routes,
            )
        )
    return hosts


def _sections(directives: Iterable[Directive], key: str) -> Iterable[Directive]:
    for directive in directives:
        if directive.key == key:
            yield directive


def _with_default_ports(directives: Iterable[Directive]) -> dict[int, str]:
    """id(<VirtualHost>) -> its address words with httpd's default port.

    get_addresses (vhost.c) gives a word naming no port (an IP, a name,
    ``_default_``; not ``*``) the main server's port as a ``ServerName
    host:port`` read before the section set it (measured: ``<VirtualHost
    127.0.0.1>`` after ``ServerName localhost:1`` serves port 1 only);
    without one, any port."""
    port: int | None = None
    addresses: dict[int, str] = {}
    for directive in directives:
        if directive.key == "servername" and directive.args:
            port = server_name_parts(directive.args[0])[1] or port
        elif directive.key == "virtualhost" and port:
            words = [
                f"{word}:{port}" if word != "*" and _host_and_port(word)[1] == "*"
                and not word.endswith(":*") else word
                for word in directive.args
            ]  # fmt: skip
            addresses[id(directive)] = " ".join(words)
    return addresses
