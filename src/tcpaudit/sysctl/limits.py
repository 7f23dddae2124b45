"""What the kernel accepts when a persistent file writes a key: field count and range.

A boot tool writes each value to /proc/sys; the kernel refuses a value it
cannot parse or that is out of range (EINVAL) and the key keeps its previous
value. tcpaudit predicts that refusal so the persistent verdict matches what
the boot tools leave behind, and says why in a note. Keys not listed here are
parsed but not range-checked.

Ranges come from the handlers in net/ipv4/sysctl_net_ipv4.c and
net/core/sysctl_net_core.c, and were checked by writing the bounds on Linux
6.18 in a private network namespace: the keys converted to u8 by commit
4ecc1baf362c ("tcp: convert elligible sysctls to u8", Linux 5.13) take 0..255;
before 5.13 they were ints. Jiffies-based keys (tcp_keepalive_time, _intvl,
tcp_fin_timeout) accept any int that does not overflow once multiplied by HZ,
negative values included.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from .devconf import conf_parts
from .model import SysctlValue
from .values import kernel_int_problem, parse_kernel_int, parse_value

__all__ = ["KEY_LIMITS", "Checked", "KeyLimit", "check_value", "live_value_problem"]

INT_MIN = -(2**31)
INT_MAX = 2**31 - 1
U8_MAX = 255
# proc_dointvec_jiffies refuses a value whose product with HZ overflows an
# int; HZ is at least 100 (CONFIG_HZ_100), so above this every kernel refuses.
JIFFIES_SECONDS_MAX = INT_MAX // 100
# net/ipv4/tcp.h MAX_TCP_SYNCNT; ip-sysctl.rst: "Should not be higher than 127".
MAX_TCP_SYNCNT = 127
# ip_local_port_range: ports are 16 bits and the kernel refuses a low end
# below ip_unprivileged_port_start (default 1024) or above the high end.
PORT_MAX = 65535
UNPRIVILEGED_PORT_START_DEFAULT = 1024
U8_SINCE = (5, 13)


@dataclass(frozen=True)
class KeyLimit:
    """The shape of a key's value: how many fields and each field's bounds."""

    fields: int
    minimum: int
    maximum: int
    u8_since_5_13: bool = False


_U8 = KeyLimit(1, 0, U8_MAX, u8_since_5_13=True)
_JIFFIES = KeyLimit(1, INT_MIN, JIFFIES_SECONDS_MAX)

KEY_LIMITS: dict[str, KeyLimit] = {
    "net.ipv4.tcp_keepalive_time": _JIFFIES,
    "net.ipv4.tcp_keepalive_intvl": _JIFFIES,
    "net.ipv4.tcp_fin_timeout": _JIFFIES,
    "net.ipv4.tcp_keepalive_probes": _U8,
    "net.ipv4.tcp_retries1": _U8,
    "net.ipv4.tcp_retries2": _U8,
    "net.ipv4.tcp_orphan_retries": _U8,
    "net.ipv4.tcp_synack_retries": _U8,
    "net.ipv4.tcp_abort_on_overflow": _U8,
    "net.ipv4.tcp_syncookies": _U8,
    "net.ipv4.tcp_syn_retries": KeyLimit(1, 1, MAX_TCP_SYNCNT),
    "net.ipv4.tcp_max_syn_backlog": KeyLimit(1, INT_MIN, INT_MAX),
    # net/core/sysctl_net_core.c: somaxconn has extra1 = SYSCTL_ZERO.
    "net.core.somaxconn": KeyLimit(1, 0, INT_MAX),
    # tcp_rmem/tcp_wmem: three ints, each at least 1 (extra1 = SYSCTL_ONE).
    "net.ipv4.tcp_rmem": KeyLimit(3, 1, INT_MAX),
    "net.ipv4.tcp_wmem": KeyLimit(3, 1, INT_MAX),
    "net.ipv4.ip_local_port_range": KeyLimit(2, 1, PORT_MAX),
    # Linux 6.15: proc_dointvec_minmax between 1 s and TCP_RTO_MAX (120 s).
    "net.ipv4.tcp_rto_max_ms": KeyLimit(1, 1000, 120_000),
    # ip_privileged_port_max: a port; and not above the local range (below).
    "net.ipv4.ip_unprivileged_port_start": KeyLimit(1, 0, PORT_MAX),
}
_PORT_RANGE = "net.ipv4.ip_local_port_range"
_PORT_START = "net.ipv4.ip_unprivileged_port_start"


@dataclass(frozen=True)
class Checked:
    """A value as a write would leave it: ``value`` when accepted, else ``problem``.

    ``remark`` explains something the kernel tolerates (text after the last
    field, fewer fields than the key holds).
    """

    value: SysctlValue | None
    problem: str | None = None
    remark: str | None = None


# net/ipv4/devinet.c: every file under conf/<interface>/ (and ip_forward, which
# is conf/all/forwarding) is one int read by proc_dointvec.
_DEVCONF = KeyLimit(1, INT_MIN, INT_MAX)


def _limit_for(key: str, kernel: tuple[int, int] | None) -> KeyLimit | None:
    if key.startswith("net.ipv4.conf.") and conf_parts(key) is not None:
        return _DEVCONF
    if key == "net.ipv4.ip_forward":
        return _DEVCONF
    limit = KEY_LIMITS.get(key)
    if limit is not None and limit.u8_since_5_13 and kernel is not None and kernel < U8_SINCE:
        return KeyLimit(1, INT_MIN, INT_MAX)
    return limit


# A field of a value (isspace() ends it) and the character after it. Before
# a number the kernel skips any isspace(); after one it takes only these
# (proc_wspace_sep), or the value's end.
_FIELD = re.compile(r"([^ \t\n\r\v\f]+)([ \t\n\r\v\f]?)")
_AFTER_NUMBER = ("", " ", "\t", "\n")


def check_value(
    key: str,
    raw: str,
    holds: Mapping[str, SysctlValue] | None = None,
    kernel: tuple[int, int] | None = None,
    unprivileged_port_start: int = UNPRIVILEGED_PORT_START_DEFAULT,
) -> Checked:
    """Predict what writing ``raw`` to ``key`` does.

    Args:
        key: the dotted key.
        raw: the value as the file states it, stripped.
        holds: what keys hold when this write happens (the earlier writes of
            the boot tool, else the kernel's values before it ran): a value
            of fewer fields keeps the others' (ip_local_port_range = 1024
            leaves 1024 60999), and the two port keys bound each other.
        kernel: (major, minor) of the audited kernel, None when unknown.
        unprivileged_port_start: net.ipv4.ip_unprivileged_port_start where
            ``holds`` has none.

    Returns:
        The value the key holds after the write, or the reason it is refused.
    """
    if holds is None:  # (not "or": a mapping's truth counts its keys, once per write)
        holds = {}
    if not raw:
        return Checked(None, problem="empty value")
    limit = _limit_for(key, kernel)
    if limit is None:
        return Checked(parse_value(raw))
    fields = _FIELD.findall(raw)
    tokens = [token for token, _ in fields]
    # __do_proc_dointvec reads as many fields as the key holds and ignores
    # what follows once a field ended at whitespace: "4 # note" sets 4
    # (seen with both boot tools), "5x" is refused.
    numbers: list[int] = []
    for token, after in fields[: limit.fields]:
        number = parse_kernel_int(token)
        if number is None:
            return Checked(None, problem=kernel_int_problem(token) or "not a number")
        if limit.u8_since_5_13 and limit.minimum == 0 and token.startswith("-"):
            # proc_dou8vec_minmax: an unsigned byte; any sign, "-0" too, is refused.
            return Checked(None, problem=f"{token} has a sign, which the kernel refuses here")
        if after not in _AFTER_NUMBER:
            # proc_get_long: after a number only a blank, a tab or a newline.
            return Checked(None, problem=f"{token} is followed by {after!r}, which the kernel "
                           "does not take after a number")  # fmt: skip
        if not limit.minimum <= number <= limit.maximum:
            return Checked(None, problem=f"{number} is outside {limit.minimum}..{limit.maximum}")
        numbers.append(number)
    remark = None
    if len(tokens) > limit.fields:
        remark = f"the kernel reads {limit.fields} field(s) and ignores the rest of the line"
    elif len(numbers) < limit.fields:
        remark = f"{len(numbers)} of {limit.fields} fields given; the kernel keeps the others"
        held = holds.get(key)
        if isinstance(held, list) and len(held) == limit.fields:
            numbers += held[len(numbers) :]
    start = holds.get(_PORT_START, unprivileged_port_start)
    if key == _PORT_RANGE and len(numbers) == 2 and isinstance(start, int):
        low, high = numbers
        if high < low or low < start:
            return Checked(
                None,
                problem=f"range {low}..{high} is refused: the low end must be at least "
                f"ip_unprivileged_port_start ({start}) and not above the high end",
            )
    ports = holds.get(_PORT_RANGE)
    if key == _PORT_START and isinstance(ports, list) and ports and numbers[0] > ports[0]:
        # ipv4_privileged_ports: never above the local port range's low end.
        return Checked(
            None,
            problem=f"{numbers[0]} is above ip_local_port_range's low end ({ports[0]})",
        )
    return Checked(numbers[0] if limit.fields == 1 else numbers, remark=remark)


def live_value_problem(key: str, text: str) -> str | None:
    """Why ``text`` cannot be the live value of ``key``, or None when it can.

    Only the keys of KEY_LIMITS are judged. The kernel prints every field of
    such a key as a number, and nothing else, so an empty value, a word or a
    field too many or too few means the listing or the copied tree is not
    what the kernel holds. Ranges within an int are not checked: they
    changed across kernels (u8 since 5.13), and the kernel did hold
    whatever it prints; beyond an int no kernel holds it.
    """
    limit = KEY_LIMITS.get(key)
    if limit is None:
        return None
    tokens = text.split()
    if not tokens:
        return "empty value"
    for token in tokens:
        number = parse_kernel_int(token)
        if number is None:
            return kernel_int_problem(token) or "not a number"
        # Every key listed here is an int in the kernel (u8 since 5.13 for some).
        if not INT_MIN <= number <= INT_MAX:
            return f"{number} does not fit the int the kernel stores"
    if len(tokens) != limit.fields:
        return f"{len(tokens)} numbers where the kernel holds {limit.fields}"
    return None
