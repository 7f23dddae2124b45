"""Kernel defaults of the TCP sysctls tcpaudit tracks, by kernel version.

Sources: Documentation/networking/ip-sysctl.rst and the kernel's own
initialisation code (tcp_sk_init() in net/ipv4/tcp_ipv4.c, tcp_init() in
net/ipv4/tcp.c, net/core/net_namespace.c). A default the kernel computes
from memory at boot is listed in MEMORY_DEPENDENT_KEYS: tcp_max_syn_backlog
has no fixed default (None); tcp_rmem / tcp_wmem keep the value of hosts with
enough memory.
"""

from __future__ import annotations

from .model import SysctlValue

__all__ = [
    "KERNEL_DEFAULTS",
    "MEMORY_DEPENDENT_KEYS",
    "TRACKED_KEYS",
    "kernel_default",
    "parse_kernel_version",
]

KERNEL_DEFAULTS: dict[str, SysctlValue] = {
    "net.ipv4.tcp_keepalive_time": 7200,  # ip-sysctl.rst: 7200 (2 hours)
    "net.ipv4.tcp_keepalive_intvl": 75,  # ip-sysctl.rst: 75 seconds
    "net.ipv4.tcp_keepalive_probes": 9,  # ip-sysctl.rst: 9
    "net.ipv4.tcp_retries1": 3,  # ip-sysctl.rst: 3
    "net.ipv4.tcp_retries2": 15,  # ip-sysctl.rst: 15 (~924.6 s)
    "net.ipv4.tcp_orphan_retries": 0,  # ip-sysctl.rst: 0, which the kernel treats as 8
    "net.ipv4.tcp_fin_timeout": 60,  # ip-sysctl.rst: 60 seconds
    "net.ipv4.tcp_syn_retries": 6,  # ip-sysctl.rst: 6; 5 before 3.7 (see below)
    "net.ipv4.tcp_synack_retries": 5,  # ip-sysctl.rst: 5
    "net.ipv4.tcp_abort_on_overflow": 0,  # ip-sysctl.rst: 0 (drop, client retries)
    "net.ipv4.tcp_syncookies": 1,  # ip-sysctl.rst: 1 with CONFIG_SYN_COOKIES
    "net.ipv4.tcp_rmem": [4096, 131072, 6291456],  # ip-sysctl.rst (since 4.20)
    "net.ipv4.tcp_wmem": [4096, 16384, 4194304],  # ip-sysctl.rst
    "net.ipv4.ip_local_port_range": [32768, 60999],  # ip-sysctl.rst (since 4.2)
    "net.core.somaxconn": 4096,  # 128 before 5.4 (see below)
}

# tcp_max_syn_backlog: tcp_sk_init() sets max(128, (ehash_mask + 1) / 128),
# and the established hash is sized from memory. The third field of
# tcp_rmem / tcp_wmem: tcp_init() caps it at a share of free memory
# (ip-sysctl.rst: "between 131072 and 6MB" / "between 64K and 4MB, depending
# on RAM size"); KERNEL_DEFAULTS holds the value on hosts with enough memory.
MEMORY_DEPENDENT_KEYS: dict[str, str] = {
    "net.ipv4.tcp_max_syn_backlog": "max(128, established hash buckets / 128), sized from memory",
    "net.ipv4.tcp_rmem": "third field: at most 6 MiB, less on hosts with little memory",
    "net.ipv4.tcp_wmem": "third field: at most 4 MiB, less on hosts with little memory",
}

TRACKED_KEYS: tuple[str, ...] = tuple(dict.fromkeys([*KERNEL_DEFAULTS, *MEMORY_DEPENDENT_KEYS]))

# (key, first version with the current default, default before it)
_CHANGED: tuple[tuple[str, tuple[int, int], SysctlValue], ...] = (
    # commit 19f92a030ca6 "net: increase SOMAXCONN to 4096" (5.4)
    ("net.core.somaxconn", (5, 4), 128),
    # commit a337531b942b "tcp: up initial rmem to 128KB and SYN rwin to around 64KB" (4.20)
    ("net.ipv4.tcp_rmem", (4, 20), [4096, 87380, 6291456]),
    # commit 07f4c90062f8 "tcp/dccp: try to not exhaust ip_local_port_range in connect()" (4.2)
    ("net.ipv4.ip_local_port_range", (4, 2), [32768, 61000]),
    # commit 6c9ff979d192 "tcp: Increase timeout for SYN segments" (3.7)
    ("net.ipv4.tcp_syn_retries", (3, 7), 5),
)


def parse_kernel_version(release: str) -> tuple[int, int] | None:
    """``"6.1.0-27-amd64"`` -> ``(6, 1)``; None when it does not start with a version."""
    head = release.strip().split("-")[0].split(".")
    try:
        return int(head[0]), int(head[1])
    except (IndexError, ValueError):
        return None


def kernel_default(key: str, kernel: tuple[int, int] | None) -> SysctlValue | None:
    """The default of ``key`` for a kernel version (the current default when unknown).

    None for keys tcpaudit does not track and for tcp_max_syn_backlog.
    """
    if kernel is not None:
        for changed_key, since, before in _CHANGED:
            if key == changed_key and kernel < since:
                return before
    return KERNEL_DEFAULTS.get(key)
