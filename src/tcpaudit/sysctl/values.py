"""Key spelling, secret keys and the kernel's number syntax, shared by every sysctl source.

Which values a key accepts (ranges, field counts) lives in limits.py; how a
file is split into lines lives in text.py.
"""

from __future__ import annotations

import re

from ..apache.known_tokens import shown_prefix
from .model import SysctlValue

__all__ = [
    "GLOB_CHARACTERS",
    "QUOTED_CHARACTERS",
    "SECRET_KEYS",
    "is_glob",
    "is_secret_key",
    "kernel_int_problem",
    "key_to_path",
    "misplaced_dot",
    "normalise_key",
    "parse_kernel_int",
    "parse_value",
    "quoted",
]

# Keys whose values are secrets. tcpaudit never reads, keeps or prints them,
# even from text inputs (a `sysctl -a` dump taken as root, a sysctl.d file):
# - net.ipv4.tcp_fastopen_key: the TCP Fast Open cookie key, mode 0600
#   (ip-sysctl.rst, tcp_fastopen_key);
# - net.ipv6.conf.<if>.stable_secret: the secret for stable IPv6 addresses
#   (RFC 7217), mode 0600 (ip-sysctl.rst, stable_secret);
# - net.core.netdev_rss_key: the RSS hash key, world-readable but a hash
#   secret, and no audit needs it.
# Any last component ending in ``_secret`` or ``_key`` is treated the same,
# so a key added by a later kernel is withheld until someone decides otherwise.
SECRET_KEYS = frozenset(
    {"net.ipv4.tcp_fastopen_key", "net.core.netdev_rss_key", "net.ipv6.conf.all.stable_secret"}
)
_SECRET_SUFFIXES = ("_secret", "_key")

# systemd's string_is_glob() and procps' GLOB_CHARS: "*?[".
GLOB_CHARACTERS = "*?["

# kstrtoul(..., 0) as proc_get_long() calls it: 0x hex, leading-0 octal,
# decimal, with an optional minus (kernel/sysctl.c). No '+', no '_'.
_KERNEL_INT = re.compile(r"-?(?:0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)")
# kstrtoul() parses into an unsigned long and refuses more (ERANGE); the
# longest such number has 22 octal digits, so a longer token is never
# converted (Python refuses int() of over 4,300 digits anyway).
ULONG_MAX = 2**64 - 1
_MAX_NUMBER_CHARACTERS = 24
# How much of a key or value a note quotes.
QUOTED_CHARACTERS = 60


def is_secret_key(key: str) -> bool:
    """True for keys tcpaudit must never keep (see SECRET_KEYS)."""
    last = key.rsplit(".", 1)[-1]
    return key in SECRET_KEYS or last.endswith(_SECRET_SUFFIXES)


def quoted(text: str, limit: int = QUOTED_CHARACTERS) -> str:
    """``repr`` of at most ``limit`` characters of ``text``, for notes: a hostile
    line of a megabyte must not be copied into every report."""
    return repr(text) if len(text) <= limit else repr(shown_prefix(text, limit)) + "..."


def is_glob(key: str) -> bool:
    """True when a key from a sysctl.d file is a glob pattern."""
    return _GLOB.search(key) is not None


_GLOB = re.compile(r"[*?\[]")


def key_to_path(key: str) -> str:
    """The path below /proc/sys a key names, as systemd-sysctl and procps compute it.

    The first separator decides (systemd sysctl_normalize(), procps slashdot()):
    when it is a dot, dots and slashes swap; when it is a slash, the key is
    a path already and dots stay dots (``net/ipv4/conf/eth0.100/rp_filter``).
    So a mixed ``net.ipv4/tcp_retries2`` names ``net/ipv4.tcp_retries2``,
    which does not exist: both tools fail to set it (checked with systemd 252
    and procps 4.0.2).
    """
    key = key.strip().lstrip("/")
    first = next((char for char in key if char in "./"), None)
    if first == ".":
        key = key.translate(_SWAP)
    return "/".join(part for part in key.split("/") if part)


_SWAP = str.maketrans("./", "/.")


def normalise_key(key: str) -> str:
    """The dotted key `sysctl -a` prints for what a file line names.

    ``net/ipv4/tcp_retries2`` and ``net.ipv4.tcp_retries2`` give
    ``net.ipv4.tcp_retries2``; a dot inside a path component becomes a slash
    (``net.ipv4.conf.eth0/100.rp_filter``), as procps prints it.
    """
    if "/" not in key and ".." not in key and key[:1] != "." and key[-1:] != ".":
        return key  # already dotted and simple: the common case, kept fast
    return key_to_path(key).translate(_SWAP)


def misplaced_dot(key: str) -> bool:
    """True when a key's path has a dot where no real key has one.

    Dots inside path components are only found in interface names, which
    sit at least three levels down (net/ipv4/conf/eth0.100/rp_filter). A dot
    higher up comes from mixing separators (``net.ipv4/tcp_retries2`` names
    net/ipv4.tcp_retries2) and names nothing.
    """
    return any("." in part for part in key_to_path(key).split("/")[:3])


def kernel_int_problem(token: str) -> str | None:
    """Why the kernel refuses ``token`` as a number, or None when it reads one."""
    if len(token) > _MAX_NUMBER_CHARACTERS and _KERNEL_INT.fullmatch(token):
        return f"{quoted(token, 20)} is out of range (more than 64 bits)"
    if parse_kernel_int(token) is None:
        return f"{quoted(token, 20)} is not a number"
    return None


def parse_kernel_int(token: str) -> int | None:
    """One number as the kernel reads it (``0x10`` = 16, ``010`` = 8), else None.

    None also for a number beyond an unsigned long, which the kernel refuses.
    """
    if len(token) > _MAX_NUMBER_CHARACTERS or not _KERNEL_INT.fullmatch(token):
        return None
    negative = token.startswith("-")
    body = token[1:] if negative else token
    if body[:2] in ("0x", "0X"):
        number = int(body[2:], 16)
    elif len(body) > 1 and body[0] == "0":
        number = int(body, 8)
    else:
        number = int(body)
    if number > ULONG_MAX:
        return None
    return -number if negative else number


def parse_value(text: str) -> SysctlValue:
    """A live value: an integer, a list of integers (several fields), or the text itself.

    Live values are what the kernel holds, so no range is checked here.
    """
    fields = text.split()
    numbers: list[int] = []
    for field in fields:
        if (
            field.isascii()
            and field.isdigit()
            and (field[0] != "0" or len(field) == 1)
            and len(field) < 20
        ):
            numbers.append(int(field))  # plain decimal: the common case, kept fast
            continue
        number = parse_kernel_int(field)
        if number is None:
            return text.strip()
        numbers.append(number)
    if len(numbers) == 1:
        return numbers[0]
    if numbers:
        return numbers
    return text.strip()
