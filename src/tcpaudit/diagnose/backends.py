"""CLOSE_WAIT that httpd holds toward a backend, named with the line that proxies to it.

mod_proxy keeps backend connections in a pool, per worker and per child
process, for reuse. When the backend closes an idle one first (its own
keep-alive timeout is shorter than the time the pooled connection sits
unused), httpd's end stays in CLOSE_WAIT until that pool slot is reused or
its ``ttl=`` expires: the pooled-connection pitfall, not a client that left.
Fix: ``ttl=`` below the backend's keep-alive timeout, or ``disablereuse=On``.

This module matches the remote end of such a socket against every proxy
target the configuration names (``ProxyPass``/``ProxyPassMatch``, at server
level, in vhosts and ``<Location>``; ``BalancerMember``; ``SetHandler
proxy:...``; ``RewriteRule ... [P]``). It resolves no name: a target written
as an address is matched by address and port, a target written as a name by
port only (and says so).
"""

from __future__ import annotations

import ipaddress
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from ..apache.model import ApacheConfig
from ..apache.tree import Directive
from .model import MAX_PIDS_LISTED, BackendCloseWait
from .sockets import SocketRecord, TcpState

__all__ = ["ProxyTarget", "backend_close_wait", "proxy_targets"]

# Default ports of the schemes mod_proxy's modules speak.
_DEFAULT_PORTS = {
    "http": 80, "ws": 80, "h2c": 80, "https": 443, "wss": 443, "h2": 443,
    "ajp": 8009, "fcgi": 8000, "scgi": 4000, "uwsgi": 3031,
}  # fmt: skip
_URL = re.compile(r"(?:^|[|:])([a-z0-9]+)://(\[[^\]]+\]|[^/:\s|]+)(?::(\d+))?", re.I)
_PROXY_KEYS = frozenset({"proxypass", "proxypassmatch", "balancermember"})
_LOCAL_NAMES = {"localhost": ("127.0.0.1", "::1")}


@dataclass(frozen=True, slots=True)
class ProxyTarget:
    """A backend a configuration line sends requests to."""

    host: str
    port: int
    text: str  # the line, as written
    file: str
    line: int
    ttl: str | None
    disablereuse: bool

    def addresses(self) -> tuple[str, ...] | None:
        """The addresses it is written as, or None for a name (matched by port only)."""
        host = self.host.strip("[]")
        if host.lower() in _LOCAL_NAMES:
            return _LOCAL_NAMES[host.lower()]
        try:
            return (str(ipaddress.ip_address(host)),)
        except ValueError:
            return None


def _walk(directives: Iterable[Directive]) -> Iterator[Directive]:
    for directive in directives:
        yield directive
        if directive.children:
            yield from _walk(directive.children)


def _target(directive: Directive, word: str) -> ProxyTarget | None:
    if word.lower().startswith(("unix:", "proxy:unix:")):
        return None  # a Unix socket (unix:/run/php.sock|fcgi://localhost): no TCP end
    match = _URL.search(word)
    if match is None:
        return None
    scheme = match.group(1).lower()
    digits = match.group(3)
    if digits and len(digits.lstrip("0")) > 5:
        return None  # no port has more than five digits (and int() refuses 4,300)
    port = int(digits) if digits else _DEFAULT_PORTS.get(scheme)
    if port is None:
        return None
    params = {
        key.lower(): value
        for key, _, value in (arg.partition("=") for arg in directive.args)
        if value
    }
    shown = " ".join([directive.name, *directive.args])
    return ProxyTarget(
        host=match.group(2),
        port=port,
        text=shown,
        file=directive.file,
        line=directive.line,
        ttl=params.get("ttl"),
        disablereuse=params.get("disablereuse", "").lower() == "on",
    )


def proxy_targets(config: ApacheConfig) -> list[ProxyTarget]:
    """Every backend the configuration's lines proxy to, in reading order."""
    targets: list[ProxyTarget] = []
    for directive in _walk(config.directives):
        words: list[str] = []
        if directive.key in _PROXY_KEYS and directive.children is None:
            words = list(directive.args[:2])
        elif directive.key == "sethandler" and directive.args[:1]:
            if directive.args[0].lower().startswith("proxy:"):
                words = [directive.args[0]]
        elif directive.key == "rewriterule" and len(directive.args) >= 3:
            flags = directive.args[2].strip("[]").upper().split(",")
            if "P" in flags or "PROXY" in flags:
                words = [directive.args[1]]
        for word in words:
            target = _target(directive, word)
            if target is not None:
                targets.append(target)
                break
    return targets


def backend_close_wait(
    records: Iterable[SocketRecord],
    apache_pids: frozenset[int],
    ports: set[int],
    config: ApacheConfig | None,
) -> list[BackendCloseWait]:
    """Group the CLOSE_WAIT Apache holds on other ports by remote end, with its proxy line."""
    counts: Counter[tuple[str, int]] = Counter()
    holders: dict[tuple[str, int], set[int]] = {}
    for record in records:
        if record.state is not TcpState.CLOSE_WAIT or record.local_port in ports:
            continue
        pids = {process.pid for process in record.owners if process.pid in apache_pids}
        if not pids:
            continue
        key = (record.remote_address, record.remote_port)
        counts[key] += 1
        holders.setdefault(key, set()).update(pids)
    targets = proxy_targets(config) if config is not None and counts else []
    result = []
    for (address, port), n in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
        match, how = _match(targets, address, port)
        shown = f"[{address}]:{port}" if ":" in address else f"{address}:{port}"
        result.append(
            BackendCloseWait(
                backend=shown,
                close_wait=n,
                pids=sorted(holders[(address, port)])[:MAX_PIDS_LISTED],
                route=match.text if match else None,
                file=match.file if match else None,
                line=match.line if match else None,
                matched_by=how,
                ttl=match.ttl if match else None,
                disablereuse=match.disablereuse if match else False,
            )
        )
    return result


def _match(
    targets: list[ProxyTarget], address: str, port: int
) -> tuple[ProxyTarget | None, str | None]:
    by_port = [target for target in targets if target.port == port]
    for target in by_port:
        addresses = target.addresses()
        if addresses is not None and address in addresses:
            return target, "address and port"
    named = [target for target in by_port if target.addresses() is None]
    if named:
        return named[0], "port (the line names a host, which tcpaudit does not resolve)"
    return None, None
