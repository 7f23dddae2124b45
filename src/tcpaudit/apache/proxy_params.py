"""mod_proxy's checks of ProxyPass, ProxyPassMatch and BalancerMember (2.4).

add_pass and add_member (mod_proxy.c) read the words: the path (unless a
``<Location>`` gives it), the backend, the flags ``nocanon``, ``interpolate``
and ``noquery``, then ``key=value`` parameters into a table (a repeated key,
whatever its case, keeps its last value, in the place of its first). A
``!`` backend takes no parameter. A ``balancer://`` backend gets balancer
parameters (set_balancer_param); another gets worker ones
(set_worker_param), unless a worker of this server already covers its URL
(the longest worker name that is a prefix of it and spans its
``scheme://host``): then the parameters are ignored with a warning
(AH01146), not checked. Each refusal is httpd's message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .values import InvalidValueError, c_long, parse_atoi, parse_timeout_parameter

__all__ = [
    "ProxyWorkers",
    "balancer_member_error",
    "proxy_pass_error",
    "worker_covering",
    "worker_name",
]

_FLAGS = frozenset({"nocanon", "interpolate", "noquery"})
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")
_ON_OFF = ("on", "off")
# mod_proxy_hcheck's parameters, taken when it is loaded.
_HEALTH_CHECK = frozenset({"hcmethod", "hcinterval", "hcpasses", "hcfails", "hcuri",
                           "hctemplate", "hcexpr"})  # fmt: skip
# Load-balancing methods and the module registering each.
_LBMETHODS = {"byrequests": "lbmethod_byrequests_module",
              "bytraffic": "lbmethod_bytraffic_module",
              "bybusyness": "lbmethod_bybusyness_module",
              "heartbeat": "lbmethod_heartbeat_module"}  # fmt: skip
_STATUS_FLAGS = frozenset("DSIHENCdsihenc")


@dataclass
class ProxyWorkers:
    """The workers each server defined so far (a vhost's apart from the main server's)."""

    by_scope: dict[int, list[str]] = field(default_factory=dict)

    def names(self, scope: int) -> list[str]:
        return self.by_scope.setdefault(scope, [])


def worker_name(url: str) -> str | None:
    """A worker's name: the URL with its ``scheme://host[:port]`` lower-cased,
    or None when it has no ``://`` and host."""
    colon = url.find(":")
    if colon < 0 or url[colon + 1 : colon + 3] != "//" or len(url) <= colon + 3:
        return None
    slash = url.find("/", colon + 3)
    head = url if slash < 0 else url[:slash]
    return head.lower() + ("" if slash < 0 else url[slash:])


def worker_covering(names: list[str], url: str) -> str | None:
    """ap_proxy_get_worker_ex: the longest worker name that is a prefix of
    ``url`` and spans at least its ``scheme://host[:port]``, or None."""
    name = worker_name(url)
    if name is None:
        return None
    slash = name.find("/", name.find("://") + 3)
    least = len(name) if slash < 0 else slash
    best = None
    for worker in names:
        spans = least <= len(worker) <= len(name) and name.startswith(worker)
        if spans and (best is None or len(worker) > len(best)):
            best = worker
    return best


def _backend(url: str) -> str:
    """ap_proxy_de_socketfy: a ``unix:...|http://...`` URL's part after ``|``."""
    if url[:5].lower() == "unix:":
        bar = url.find("|")
        if bar < 0:
            raise InvalidValueError('uses an invalid "unix:" URL')
        return url[bar + 1 :]
    return url


def _absolute_error(url: str) -> str | None:
    """ap_proxy_define_worker_ex's check of a backend URL."""
    scheme = _SCHEME.match(url)
    if scheme is None or not url[scheme.end() :].startswith("//"):
        return f"URL must be absolute!: {url}"
    rest = url[scheme.end() + 2 :]
    host = re.split(r"[/?#]", rest, maxsplit=1)[0].rpartition("@")[2]
    if host.startswith("["):
        hostname, _, port = host.partition("]")
        port = port.removeprefix(":")
    else:
        hostname, _, port = host.partition(":")
    if port and not port.isdigit():
        return f"Unable to parse URL: {url}"
    if not hostname or hostname == "[":
        return f"URL must be absolute!: {url}"
    return None


def _parameters(words: list[str]) -> dict[str, tuple[str, str]]:
    """The ``key=value`` words as an apr table (lower-cased key -> (key, value))."""
    table: dict[str, tuple[str, str]] = {}
    for word in words:
        key, _, value = word.partition("=")
        table[key.lower()] = (key, value)
    return table


def _on_off(value: str, message: str) -> str | None:
    return None if value.lower() in _ON_OFF else message


def _timeout_at_least_a_millisecond(value: str, unit: str, name: str, message: str) -> str | None:
    """ap_timeout_parameter_parse with ``unit`` as the default, then at least 1 ms."""
    try:
        seconds = _parameter_seconds(value, unit)
    except InvalidValueError:
        return f"{name} has wrong format"
    return None if seconds * 1_000_000 >= 1000 else message


def _parameter_seconds(value: str, unit: str) -> float:
    """ap_timeout_parameter_parse with a default unit (``ms`` or ``s``)."""
    stripped = value.lstrip(" \t\n\v\f\r")
    digits = len(stripped) - len(stripped.lstrip("+-0123456789"))
    if not stripped[digits:] and unit == "ms":
        value = value + "ms"
    return parse_timeout_parameter(value, (2, 4))


def _worker_error(key: str, value: str, modules: frozenset[str]) -> str | None:
    """set_worker_param's message for one parameter, or None."""
    number = parse_atoi(value)
    if key == "loadfactor":
        try:
            factor = float(re.match(r"\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?", value).group(0))  # type: ignore[union-attr]
        except (AttributeError, ValueError, OverflowError):
            factor = 0.0
        scaled = factor * 100.0
        return None if 100 <= scaled <= 10000 else "LoadFactor must be a number between 1..100"
    if key == "retry":
        return None if number >= 0 else "Retry must be a positive value"
    if key == "ttl":
        return None if number >= 1 else "TTL must be at least one second"
    if key in ("min", "max", "smax"):
        return None if number >= 0 else f"{key.capitalize()} must be a positive number"
    if key == "acquire":
        return _timeout_at_least_a_millisecond(
            value, "ms", "Acquire timeout", "Acquire must be at least one millisecond"
        )
    if key == "timeout":
        return None if number >= 1 else "Timeout must be at least one second"
    if key == "iobuffersize":
        size = c_long(re.match(r"\s*([+-]?\d*)", value).group(1) or "0")  # type: ignore[union-attr]
        return (
            None
            if size >= 512 or size == 0
            else ("IOBufferSize must be >= 512 bytes, or 0 for system default.")
        )
    if key == "receivebuffersize":
        return (
            None
            if number >= 512 or number == 0
            else ("ReceiveBufferSize must be >= 512 bytes, or 0 for system default.")
        )
    if key in ("keepalive", "disablereuse", "enablereuse"):
        spelled = {"keepalive": "KeepAlive", "disablereuse": "DisableReuse",
                   "enablereuse": "EnableReuse"}[key]  # fmt: skip
        return _on_off(value, f"{spelled} must be On|Off")
    if key == "status":
        index = 0
        while index < len(value):
            if value[index] in "+-":
                index += 1
            if index >= len(value) or value[index] not in _STATUS_FLAGS:
                return "Unknown status parameter option"
            index += 1
        return None
    if key == "flushpackets":
        return (
            None if value.lower() in ("on", "off", "auto") else "flushpackets must be on|off|auto"
        )
    if key == "flushwait":
        return (
            None
            if 0 <= number <= 1000
            else ("flushwait must be <= 1000, or 0 for system default of 10 millseconds.")
        )
    if key == "ping":
        return _timeout_at_least_a_millisecond(
            value, "s", "Ping/Pong timeout", "Ping/Pong timeout must be at least one millisecond"
        )
    if key == "lbset":
        return None if 0 <= number <= 99 else "lbset must be between 0 and 99"
    if key == "connectiontimeout":
        return _timeout_at_least_a_millisecond(
            value, "s", "Connectiontimeout", "Connectiontimeout must be at least one millisecond."
        )
    if key == "responsefieldsize":
        size = c_long(re.match(r"\s*([+-]?\d*)", value).group(1) or "0")  # type: ignore[union-attr]
        return (
            None
            if size >= 0
            else ("ResponseFieldSize must be greater than 0 bytes, or 0 for system default.")
        )
    if key in ("route", "redirect", "flusher", "upgrade", "secret", "addressttl"):
        return None  # lengths and AddressTTL's form are not checked here
    if key in _HEALTH_CHECK and "proxy_hcheck_module" in modules:
        return None
    return "unknown Worker parameter"


def _balancer_error(key: str, value: str, modules: frozenset[str]) -> str | None:
    """set_balancer_param's message for one parameter, or None."""
    number = parse_atoi(value)
    if key in ("stickysession", "nonce"):
        return None
    if key == "stickysessionsep":
        return (
            None
            if len(value) == 1 or value.lower() == "off"
            else ("stickysessionsep must be a single character or Off")
        )
    if key == "nofailover":
        return _on_off(value, "failover must be On|Off")
    if key == "timeout":
        return None if number >= 1 else "timeout must be at least one second"
    if key == "maxattempts":
        return None if number >= 0 else "maximum number of attempts must be a positive number"
    if key == "lbmethod":
        module = _LBMETHODS.get(value)
        return None if module is not None and module in modules else "unknown lbmethod"
    if key in ("scolonpathdelim", "failontimeout", "forcerecovery"):
        return _on_off(value, f"{key} must be On|Off")
    if key == "failonstatus":
        for status in (part for part in re.split(r"[, ]+", value) if part):
            if not 100 <= parse_atoi(status) <= 599:
                return "failonstatus must be one or more HTTP response codes"
        return None
    if key == "growth":
        return None if 1 <= number <= 100 else "growth must be between 1 and 100"
    return "unknown Balancer parameter"


def proxy_pass_error(
    key: str,
    words: tuple[str, ...],
    in_location: bool,
    workers: list[str],
    modules: frozenset[str],
) -> str | None:
    """add_pass's message for a ProxyPass (``key`` "proxypass") or ProxyPassMatch
    line, or None; a new worker is added to ``workers``."""
    path_given = in_location
    backend: str | None = None
    parameters: list[str] = []
    for word in words:
        if not path_given:
            if word == "~":
                if key == "proxypassmatch":
                    return "ProxyPassMatch invalid syntax ('~' usage)."
                continue
            path_given = True
        elif backend is None:
            backend = word
        elif word.lower() in _FLAGS:
            continue
        elif "=" not in word:
            if in_location and backend.startswith("/"):
                return "ProxyPass|ProxyPassMatch can not have a path when defined in a location."
            return ("Invalid ProxyPass|ProxyPassMatch parameter. Parameter must be in the form "
                    "'key=value'.")  # fmt: skip
        elif word.partition("=")[0].lower() == "mapping":
            if word.partition("=")[2].lower() not in ("encoded", "servlet"):
                return "unknown mapping"
        else:
            parameters.append(word)
    if backend is None:
        return "ProxyPass|ProxyPassMatch needs a path when not defined in a location"
    try:
        real = _backend(backend)
    except InvalidValueError:
        return 'ProxyPass|ProxyPassMatch uses an invalid "unix:" URL'
    if backend == "!":
        return None
    table = _parameters(parameters)
    if backend[:9].lower() == "balancer:":
        for name, (_, value) in table.items():
            message = _balancer_error(name, value, modules)
            if message is not None:
                return f"ProxyPass {message}"
        return None
    shared = worker_covering(workers, real)
    if shared is None:
        problem = _absolute_error(backend if backend[:5].lower() != "unix:" else real)
        if problem is not None:
            return f"ProxyPass {problem}"
        worker = worker_name(real)
        if worker is not None:
            workers.append(worker)
        for name, (_, value) in table.items():
            message = _worker_error(name, value, modules)
            if message is not None:
                return f"ProxyPass {message}"
    return None


def balancer_member_error(
    words: tuple[str, ...], in_proxy: bool, workers: list[str], modules: frozenset[str]
) -> str | None:
    """add_member's message for a BalancerMember line, or None."""
    path_given = in_proxy
    name: str | None = None
    parameters: list[str] = []
    for word in words:
        if "=" in word:
            parameters.append(word)
        elif not path_given:
            path_given = True
        elif name is None:
            name = word
        elif in_proxy:
            return "BalancerMember can not have a balancer name when defined in a location"
        else:
            return ("Invalid BalancerMember parameter. Parameter must be in the form "
                    "'key=value'")  # fmt: skip
    if not path_given:
        return "BalancerMember must define balancer name when outside <Proxy > section"
    if name is None:
        return "BalancerMember must define remote proxy server"
    try:
        real = _backend(name)
    except InvalidValueError:
        return 'BalancerMember uses an invalid "unix:" URL'
    if worker_covering(workers, real) is not None:
        return None
    problem = _absolute_error(name if name[:5].lower() != "unix:" else real)
    if problem is not None:
        return f"BalancerMember {problem}"
    worker = worker_name(real)
    if worker is not None:
        workers.append(worker)
    for key, (_, value) in _parameters(parameters).items():
        message = _worker_error(key, value, modules)
        if message is not None:
            return f"BalancerMember {message}"
    return None
