"""``<VirtualHost>`` addresses as httpd 2.4 reads them (vhost.c get_addresses).

Each word goes through ``apr_parse_addr_port`` after a trailing ``:*`` is
taken off: a port outside 1..65535, a port without a host, a word starting
with ``:``, or a bracketed address that is no IPv6 one make httpd refuse the
section. A scope id (``[fe80::1%eth0]``) is set when the address is
link-local; on any other address it is skipped (2.4.71; older releases
refused any), and a scope naming an interface the host lacks is refused,
which tcpaudit cannot know offline (it takes the interface to exist). An empty word adds no address. A host name httpd
cannot resolve is skipped with a warning ("Could not resolve host name ...
-- ignoring!"); tcpaudit cannot resolve names offline, so only a name no
resolver takes (``*:abc``, ``:``) is known to be skipped. A vhost left with
no address answers no connection: httpd lists it nowhere (DUMP_VHOSTS).
"""

from __future__ import annotations

import ipaddress
import re
from functools import lru_cache

from .shell_state import REDACTED_VALUE
from .values import c_int, c_long, parse_atoi

__all__ = ["address_error", "has_address", "server_name_parts"]

# What a host name a resolver may answer is made of.
_HOST_NAME = re.compile(r"[A-Za-z0-9._-]+")


@lru_cache(maxsize=4096)  # thousands of vhosts share a few addresses ("*:443")
def _parse(word: str) -> tuple[str | None, str | None]:
    """(error, host) of one word: the error httpd gives, else the host it
    would look up (None: no address from this word)."""
    if not word:
        return None, None
    if word.endswith("*") and (len(word) < 2 or word[-2] == ":"):
        word = word[:-2] if len(word) >= 2 else word
    # apr_parse_addr_port: the trailing digits are a port when the string is
    # nothing else or a ':' is before them.
    digits = len(word) - len(word.rstrip("0123456789"))
    if digits == len(word) and word:
        if not 1 <= c_int(c_long(word)) <= 65535:
            return "The address or port is invalid", None
        return "Missing address for VirtualHost", None
    host = word
    if digits and word[-digits - 1] == ":":
        if len(word) == digits + 1:
            return "The address or port is invalid", None
        if not 1 <= c_int(c_long(word[-digits:])) <= 65535:
            return "The address or port is invalid", None
        host = word[: -digits - 1]
    if host.startswith("["):
        if not host.endswith("]") or host.index("]") != len(host) - 1:
            return "The address or port is invalid", None
        inside = host[1:-1]
        if "%" in inside:
            if inside.endswith("%"):
                return "The address or port is invalid", None
            try:
                scoped = ipaddress.IPv6Address(inside.partition("%")[0])
            except ValueError:
                return "The address or port is invalid", None
            # 2.4.71 sets the scope (apr_sockaddr_zone_set), which fails for an
            # address that is not link-local: "Could not set scope ID -- ignoring!".
            return None, host if scoped.is_link_local else None
        try:
            ipaddress.IPv6Address(inside)
        except ValueError:
            return "The address or port is invalid", None
        return None, host
    if host == "":
        return "The address or port is invalid", None
    return None, host


def address_error(words: tuple[str, ...]) -> str | None:
    """Why httpd refuses a ``<VirtualHost>`` with these address words, or None
    (a word holding a hidden secret's placeholder is not judged)."""
    if not words:
        return "<VirtualHost> directive requires additional arguments"
    for word in words:
        if REDACTED_VALUE in word:
            continue
        error, _ = _parse(word)
        if error is not None:
            return error
    return None


def has_address(words: tuple[str, ...]) -> bool:
    """Whether a vhost httpd accepted may keep an address (False when every
    word is empty or a host name no resolver takes)."""
    for word in words:
        if REDACTED_VALUE in word:
            return True  # a hidden secret's value: an address not known, kept
        _, host = _parse(word)
        if host is None:
            continue
        if host == "*" or host.lower() == "_default_" or host.startswith("["):
            return True  # a wildcard, or an IPv6 address checked above
        if _HOST_NAME.fullmatch(host):
            return True  # a name that may resolve
        try:
            # getaddrinfo takes an IPv6 address unbracketed ("1::a", "::"),
            # a scope id only on a link-local one.
            address = ipaddress.ip_address(host)
        except ValueError:
            continue
        if "%" not in host or address.is_link_local:
            return True
    return False


def server_name_parts(word: str) -> tuple[str, int | None]:
    """server_hostname_port (core.c): the host name (a ``scheme://`` and a
    ``:port`` taken off) and the port (None when the word names none)."""
    scheme_end = word.find("://")
    part = word[scheme_end + 3 :] if scheme_end >= 0 else word
    host, colon, port = part.partition(":")
    return host, parse_atoi(port) if colon else None
