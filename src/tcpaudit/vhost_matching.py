"""Which server reads a connection: httpd's matching of addresses to vhosts.

httpd (vhost.c, ap_fini_vhost_config) chains vhosts by address: every
all-zero address (``*``, ``_default_``, ``0.0.0.0``, ``[::]``) in one default
list by port, an IP however it is written by that IP and port. A
connection's local address is looked up among the IP vhosts first, then the
default list; the first vhost of the chain found is the connection's base
server, and with no chain the main server reads it. A host name is kept as
written (tcpaudit resolves nothing). Measured in the lab
(tests/lab/lab_matrix.py: wildcard-spellings, all-zero-covers-listen,
ip-shadows-star, vhost-covers-listen).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import lru_cache

from .apache.apr_addresses import listen_port as port_of
from .apache.model import ApacheConfig, VirtualHost

__all__ = [
    "VhostReach",
    "main_server_is_base",
    "reach",
    "reach_remembered",
    "reachable_addresses",
    "vhost_addresses",
]

AddressKey = tuple[str, str]


@dataclass(frozen=True, slots=True)
class VhostReach:
    """Which vhosts connections reach, and on which of their addresses.

    ``served``: each vhost a connection can reach, in the order httpd reads
    them, with the (host, port) keys it is reached on; ``main_server_is_base``:
    whether the main server reads some connections itself.
    """

    served: tuple[tuple[VirtualHost, tuple[AddressKey, ...]], ...]
    main_server_is_base: bool


# Inside an audit (``reach_remembered``), the answers for the last
# configurations asked about: every rule looking at scopes asks, and on
# 150,000 IP vhosts each answer parsed every address again (43 s in all).
# Answers are keyed by the vhosts' list, with the Listen lines: a fix's
# configurations (another Timeout) share the list of the configuration they
# change. Those that do not (a vhost's own line changed) find each address's
# keys and each host's kind remembered.
@dataclass(slots=True)
class _Remembered:
    answers: dict[int, tuple[list[VirtualHost], tuple[str, ...], VhostReach]]
    keys: dict[str, tuple[AddressKey, ...]]
    is_ip: dict[str, bool]


_remembered: ContextVar[_Remembered | None] = ContextVar("tcpaudit_vhost_reach", default=None)
_REMEMBERED_CONFIGS = 4


@contextmanager
def reach_remembered() -> Iterator[None]:
    """Within the block, ``reach`` answers again for a configuration without work."""
    token = _remembered.set(_Remembered({}, {}, {}))
    try:
        yield
    finally:
        _remembered.reset(token)


def reach(config: ApacheConfig) -> VhostReach:
    """``VhostReach`` of ``config``: each vhost's addresses worked out once."""
    remembered = _remembered.get()
    listens = config.settings.get("Listen")
    listening = (
        tuple(listens.value) if listens is not None and isinstance(listens.value, list) else ()
    )
    if remembered is not None:
        # The entry holds the list itself, so its id names no other.
        entry = remembered.answers.get(id(config.vhosts))
        if entry is not None and entry[0] is config.vhosts and entry[1] == listening:
            return entry[2]
    known = remembered.keys if remembered is not None else {}
    keys = []
    for vhost in config.vhosts:
        found_keys = known.get(vhost.address)
        if found_keys is None:
            found_keys = known[vhost.address] = vhost_addresses(vhost.address)
        keys.append(found_keys)
    reachable = _reachable(config, keys, remembered.is_ip if remembered is not None else None)
    served = []
    for vhost, addresses in zip(config.vhosts, keys, strict=True):
        reached = tuple(key for key in addresses if reachable(key))
        if reached:
            served.append((vhost, reached))
    found = VhostReach(tuple(served), _main_server_is_base(config, keys))
    if remembered is not None:
        if len(remembered.answers) >= _REMEMBERED_CONFIGS:
            remembered.answers.clear()
        remembered.answers[id(config.vhosts)] = (config.vhosts, listening, found)
    return found


def main_server_is_base(config: ApacheConfig) -> bool:
    """Whether some Listen address is one no vhost covers, so the main server
    reads connections there (a vhost of ``*:port``, ``_default_:port`` or the
    same address and port covers it; a host name is not resolved)."""
    return reach(config).main_server_is_base


def _main_server_is_base(config: ApacheConfig, keys: list[tuple[AddressKey, ...]]) -> bool:
    if not config.vhosts:
        return True
    listens = config.settings.get("Listen")
    if listens is None or not isinstance(listens.value, list) or not listens.value:
        return True
    covered: set[AddressKey] = set()
    for vhost_keys in keys:
        covered.update(vhost_keys)
    for line in listens.value:
        host, port = _address_key(line.split()[0] if line.split() else "")
        wildcards = {("*", port), ("*", "*")}
        exact = {(host, port), (host, "*")} if host != "*" else set()
        if not (covered & (wildcards | exact)):
            return True
    return False


def reachable_addresses(config: ApacheConfig) -> Callable[[tuple[str, str]], bool]:
    """Whether a connection can reach a vhost address: httpd looks a connection's
    local IP and port up among the IP vhosts first (find_ipaddr), and only
    without one among the `*` vhosts (find_default_server). A `*` vhost is
    unreachable where every Listen address of its port is a specific IP an IP
    vhost covers, or where a `*:port` vhost names the port; a host name (not
    resolved) is taken as reachable."""
    return _reachable(config, [vhost_addresses(vhost.address) for vhost in config.vhosts])


def _reachable(
    config: ApacheConfig,
    vhost_keys: list[tuple[AddressKey, ...]],
    is_ip: dict[str, bool] | None = None,
) -> Callable[[AddressKey], bool]:
    listens = config.settings.get("Listen")
    lines = listens.value if listens is not None and isinstance(listens.value, list) else []
    listening = [_address_key(line.split()[0]) for line in lines if line.split()]
    if not listening:
        return lambda _key: True
    keys = {key for each in vhost_keys for key in each}
    # Each host parsed once: reachable() is asked about every vhost's keys.
    if is_ip is None:
        is_ip = {}
    for host, _port in keys:
        if host not in is_ip:
            is_ip[host] = _is_ip(host)
    ip_hosts = {host for host, _port in keys if is_ip[host]}
    ip_keys = {key for key in keys if key[0] in ip_hosts}

    def reachable(key: AddressKey) -> bool:
        host, port = key
        for listen_host, listen_port in listening:
            if port not in ("*", listen_port):
                continue
            if host != "*":
                if host not in ip_hosts and not _is_ip(host):
                    return True
                # find_ipaddr: the exact port's chain before the port wildcard's.
                if listen_host in ("*", host) and not (port == "*" and (host, listen_port) in keys):
                    return True
                continue
            # A `*` vhost: where no IP vhost takes the listener's address, and the
            # exact port's default chain before the port wildcard's.
            if listen_host != "*" and {(listen_host, listen_port), (listen_host, "*")} & ip_keys:
                continue
            if port == "*" and ("*", listen_port) in keys:
                continue
            return True
        return False

    return reachable


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


@lru_cache(maxsize=4096)  # thousands of vhosts share a few addresses
def vhost_addresses(address: str) -> tuple[tuple[str, str], ...]:
    """The (host, port) keys of a ``<VirtualHost>``'s words, as ap_fini_vhost_config
    chains them: ``*``, ``_default_`` and an all-zero address (``0.0.0.0``,
    ``[::]``) are one wildcard host; a host name is kept as written (not resolved)."""
    return tuple(_address_key(word) for word in address.split()) or (("*", "*"),)


def _address_key(word: str) -> tuple[str, str]:
    host, port = _host_and_port(word)
    bare = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if host == "*" or host.lower() == "_default_":
        return "*", port
    try:
        address = ipaddress.ip_address(bare.partition("%")[0])
    except ValueError:
        return host.lower(), port
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        # apr_sockaddr_equal takes ::ffff:a.b.c.d for the IPv4 address.
        address = address.ipv4_mapped
    # get_addresses resolves the text: spellings of one address are one key.
    return ("*" if address.is_unspecified else str(address)), port


def _host_and_port(word: str) -> tuple[str, str]:
    """(host, port) of a Listen or <VirtualHost> word: ``*`` for any."""
    if word.endswith(":*"):
        return word[:-2] or "*", "*"
    port = port_of(word)
    if port is None:
        return word, "*"
    digits = len(word) - len(word.rstrip("0123456789"))
    # apr_parse_addr_port: the port's digits follow a colon, or are the word.
    host = word[: -digits - 1] if digits < len(word) else ""
    return host or "*", str(port)
