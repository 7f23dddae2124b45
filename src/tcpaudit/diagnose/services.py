"""TCP service names as ``netstat`` and ``ss`` print them without ``-n``: ``http`` -> 80.

Both tools resolve a port through the services database (getservbyport,
/etc/services). The names are standard (IANA's registry, as every
distribution's netbase or setup package ships it), so the host that made a
capture and the one reading it agree on them. This module reads the local
/etc/services and falls back on a small table of its own, enough for the
ports a web host shows, when that file is absent (minimal containers have
none). It never resolves a host name.
"""

from __future__ import annotations

from functools import cache

from ..inputs import read_bytes
from ..numbers import ascii_int

__all__ = ["BUILTIN_SERVICES", "service_port"]

# IANA names (and the aliases /etc/services gives them) of ports an Apache
# host's netstat shows: its own, its backends', and its peers' usual ones.
BUILTIN_SERVICES: dict[str, int] = {
    "ftp": 21, "ssh": 22, "telnet": 23, "smtp": 25, "domain": 53,
    "http": 80, "www": 80, "www-http": 80, "pop3": 110, "sunrpc": 111, "imap": 143,
    "imap2": 143, "ldap": 389, "https": 443, "submissions": 465, "smtps": 465,
    "submission": 587, "ldaps": 636, "imaps": 993, "pop3s": 995, "ms-sql-s": 1433,
    "openvpn": 1194, "nfs": 2049, "mysql": 3306, "svn": 3690, "postgresql": 5432,
    "postgres": 5432, "amqp": 5672, "x11": 6000, "redis": 6379, "http-alt": 8080,
    "webcache": 8080, "tproxy": 8081, "memcache": 11211, "ajp13": 8009,
    "fcgi": 8000, "irdmi": 8000, "squid": 3128, "ndl-aas": 3128,
}  # fmt: skip
_SERVICES_FILE = "/etc/services"
_MAX_SERVICES_BYTES = 4 * 1024 * 1024


@cache
def _system_table() -> dict[str, int]:
    """The local services database's TCP names and aliases, or nothing."""
    try:
        text = read_bytes(_SERVICES_FILE, _MAX_SERVICES_BYTES).decode("utf-8", errors="replace")
    except OSError:
        return {}
    table: dict[str, int] = {}
    for line in text.splitlines():
        words = line.split("#", 1)[0].split()
        if len(words) < 2:
            continue
        port_text, _, protocol = words[1].partition("/")
        port = ascii_int(port_text)
        if protocol != "tcp" or port is None or port > 65535:
            continue
        for name in (words[0], *words[2:]):
            table.setdefault(name.lower(), port)
    return table


def service_port(name: str) -> int | None:
    """The TCP port a service name stands for, or None when no table knows it."""
    key = name.lower()
    return _system_table().get(key) or BUILTIN_SERVICES.get(key)
