"""The fix of a proxy worker's parameter, written where httpd takes it from.

A route's parameter may come from its own ProxyPass line, from a ProxySet
or ``<Proxy URL key=value>`` line that set the worker later or first, from
the ProxyPass that defined a worker this route shares, or from a
ProxyTimeout copied into the worker when it was defined. A ``key=value``
added to a line httpd ignores for this worker (a sharing ProxyPass, AH01146)
or that a later ProxySet overrides would change nothing, so the fix edits
the line the value comes from; a parameter set nowhere goes on the line
that defined the worker.
"""

from __future__ import annotations

from ..apache.model import ApacheConfig, ProxyRoute
from ..apache.tree import Directive
from ..engine.findings import FileChange
from ..provenance import Location
from .fixes import Fix, _directives_by_line, as_word, editable, proxy_pass_fix, with_parameter

__all__ = ["route_backend", "route_label", "worker_param_fix", "worker_param_location"]


def route_backend(route: ProxyRoute) -> str:
    """The URL a route's requests reach: its balancer member's, else its own."""
    return route.member or route.url


def route_label(route: ProxyRoute) -> str:
    """``/path -> backend`` for messages, naming the balancer member if any."""
    label = f"{route.path} -> {route.url}"
    return f"{label} (member {route.member})" if route.member else label


def _param_line(route: ProxyRoute, key: str) -> tuple[str, int]:
    target = route.param_lines.get(key) or route.worker_at
    if target is None:
        return route.file, route.line
    file, _, line = target.rpartition(":")
    return file, int(line)


def worker_param_location(route: ProxyRoute, key: str) -> Location:
    """Where the worker's ``key`` is (or would be) set."""
    file, line = _param_line(route, key)
    return Location(file=file, line=line)


def _with(directive: Directive, key: str, value: str) -> str:
    """The directive's line with ``key=value`` set (in place, or added at the end)."""
    if directive.key == "proxytimeout":
        return f"{directive.name} {value}"
    words = with_parameter(directive.args, key, value)
    text = " ".join(as_word(word) for word in (directive.name, *words))
    return f"<{text}>" if directive.children is not None else text


def worker_param_fix(config: ApacheConfig, route: ProxyRoute, key: str, value: str) -> Fix:
    """Set the worker parameter ``key`` (``timeout`` from a ProxyTimeout line
    sets that line) where httpd takes it from."""
    file, line = _param_line(route, key)
    if (file, line) == (route.file, route.line):
        return proxy_pass_fix(route, key, value)
    directive = _directives_by_line(config).get((file, line))
    if directive is None:
        return Fix(comments=(f"set {key}={value} on the worker's line at {file}:{line}",))
    text = _with(directive, key, value)
    if not editable(file):
        return Fix(comments=(text,))
    was = " ".join(as_word(word) for word in (directive.name, *directive.args))
    if directive.children is not None:
        was = f"<{was}>"
    change = FileChange(file=file, line=line, action="replace", text=text, was=was)
    return Fix((change,))
