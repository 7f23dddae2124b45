"""Kernel defaults of the TCP sysctls tcpaudit reads, by kernel version.

Sources: Documentation/networking/ip-sysctl.rst and the kernel's own
initialisation code (net/ipv4/tcp_ipv4.c, net/core/net_namespace.c). A value
that depends on memory (tcp_max_syn_backlog) has no fixed default here.
"""

from __future__ import annotations

from .model import SysctlValue

__all__ = ["KERNEL_DEFAULTS", "TRACKED_KEYS", "kernel_default", "parse_kernel_version"]

KERNEL_DEFAULTS: dict[str, SysctlValue] = {
    "net.ipv4.tcp_keepalive_time": 7200,  # ip-sysctl.rst: 7200 (2 hours)
    "net.ipv4.tcp_keepalive_intvl": 75,  # ip-sysctl.rst: 75 seconds
    "net.ipv4.tcp_keepalive_probes": 9,  # ip-sysctl.rst: 9
    "net.ipv4.tcp_retries1": 3,  # ip-sysctl.rst: 3
    "net.ipv4.tcp_retries2": 15,  # ip-sysctl.rst: 15 (~924.6 s)
    "net.ipv4.tcp_orphan_retries": 0,  # ip-sysctl.rst: 0, which the kernel treats as 8
    "net.ipv4.tcp_fin_timeout": 60,  # ip-sysctl.rst: 60 seconds
    "net.ipv4.tcp_syn_retries": 6,  # ip-sysctl.rst: 6 (since 3.7)
    "net.ipv4.tcp_synack_retries": 5,  # ip-sysctl.rst: 5
    "net.ipv4.tcp_abort_on_overflow": 0,  # ip-sysctl.rst: 0 (drop, client retries)
    "net.ipv4.tcp_syncookies": 1,  # ip-sysctl.rst: 1 with CONFIG_SYN_COOKIES
    "net.ipv4.tcp_rmem": [4096, 131072, 6291456],  # ip-sysctl.rst (since 4.20)
    "net.ipv4.tcp_wmem": [4096, 16384, 4194304],  # ip-sysctl.rst
    "net.ipv4.ip_local_port_range": [32768, 60999],  # ip-sysctl.rst
    "net.core.somaxconn": 4096,  # 128 before 5.4 (commit 19f92a030ca6)
}

TRACKED_KEYS: tuple[str, ...] = (*KERNEL_DEFAULTS, "net.ipv4.tcp_max_syn_backlog")


def parse_kernel_version(release: str) -> tuple[int, int] | None:
    """``"6.1.0-27-amd64"`` -> ``(6, 1)``; None when it does not start with a version."""
    head = release.strip().split("-")[0].split(".")
    try:
        return int(head[0]), int(head[1])
    except (IndexError, ValueError):
        return None


def kernel_default(key: str, kernel: tuple[int, int] | None) -> SysctlValue | None:
    """The default of ``key`` for a kernel version (the current default when unknown)."""
    if key == "net.core.somaxconn" and kernel is not None and kernel < (5, 4):
        return 128
    if key == "net.ipv4.tcp_rmem" and kernel is not None and kernel < (4, 20):
        return [4096, 87380, 6291456]
    if key == "net.ipv4.ip_local_port_range" and kernel is not None and kernel < (3, 15):
        return [32768, 61000]
    return KERNEL_DEFAULTS.get(key)
