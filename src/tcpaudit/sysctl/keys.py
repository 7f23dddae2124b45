"""Which sysctl keys exist: glob expansion, unknown keys and the key they were probably meant to be.

systemd-sysctl and procps expand a glob line (``net.ipv4.conf.*.rp_filter``)
over the files under /proc/sys when they run, and a key with no file there
cannot be set (systemd-sysctl warns "Couldn't write ... ignoring", procps
skips it silently; both seen with systemd 252 and procps 4.0.2 in
tests/sysctl/test_real_tools.py). ``KeyUniverse`` is tcpaudit's picture of
those files: the live tree's when one was read, else the keys of current
kernels listed here, with the interfaces that exist at boot on every host
(``all``, ``default`` and ``lo`` under conf/; ``default`` and ``lo`` under
neigh/).

Per-interface keys of an interface the tree does not have are never called
unknown: udev runs systemd-sysctl again for each interface that appears.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from fnmatch import fnmatchcase

from .values import SECRET_KEYS, is_glob, is_secret_key, key_to_path

__all__ = [
    "BOOT_CONF_INTERFACES",
    "BOOT_NEIGH_INTERFACES",
    "CONF_KEYS",
    "NEIGH_DEFAULT_KEYS",
    "NEIGH_KEYS",
    "REMOVED_KEYS",
    "TOP_LEVEL_KEYS",
    "KeyUniverse",
]

# net.ipv4 and net.core files of Linux 6.18 (init network namespace), the
# kernel the test suite ran on; per-interface directories excluded.
TOP_LEVEL_KEYS: frozenset[str] = frozenset(
    [
        f"net.ipv4.{name}"
        for name in [
            "cipso_cache_bucket_size",
            "cipso_cache_enable",
            "cipso_rbm_optfmt",
            "cipso_rbm_strictvalid",
            "fib_multipath_hash_fields",
            "fib_multipath_hash_policy",
            "fib_multipath_hash_seed",
            "fib_multipath_use_neigh",
            "fib_notify_on_flag_change",
            "fib_sync_mem",
            "fwmark_reflect",
            "icmp_echo_enable_probe",
            "icmp_echo_ignore_all",
            "icmp_echo_ignore_broadcasts",
            "icmp_errors_use_inbound_ifaddr",
            "icmp_ignore_bogus_error_responses",
            "icmp_msgs_burst",
            "icmp_msgs_per_sec",
            "icmp_ratelimit",
            "icmp_ratemask",
            "igmp_link_local_mcast_reports",
            "igmp_max_memberships",
            "igmp_max_msf",
            "igmp_qrv",
            "inet_peer_maxttl",
            "inet_peer_minttl",
            "inet_peer_threshold",
            "ip_autobind_reuse",
            "ip_default_ttl",
            "ip_dynaddr",
            "ip_early_demux",
            "ip_forward",
            "ip_forward_update_priority",
            "ip_forward_use_pmtu",
            "ip_local_port_range",
            "ip_local_reserved_ports",
            "ip_no_pmtu_disc",
            "ip_nonlocal_bind",
            "ip_unprivileged_port_start",
            "ipfrag_high_thresh",
            "ipfrag_low_thresh",
            "ipfrag_max_dist",
            "ipfrag_secret_interval",
            "ipfrag_time",
            "nexthop_compat_mode",
            "ping_group_range",
            "raw_l3mdev_accept",
            "tcp_abort_on_overflow",
            "tcp_adv_win_scale",
            "tcp_allowed_congestion_control",
            "tcp_app_win",
            "tcp_autocorking",
            "tcp_available_congestion_control",
            "tcp_available_ulp",
            "tcp_backlog_ack_defer",
            "tcp_base_mss",
            "tcp_challenge_ack_limit",
            "tcp_child_ehash_entries",
            "tcp_comp_sack_delay_ns",
            "tcp_comp_sack_nr",
            "tcp_comp_sack_slack_ns",
            "tcp_congestion_control",
            "tcp_dsack",
            "tcp_early_demux",
            "tcp_early_retrans",
            "tcp_ecn",
            "tcp_ecn_fallback",
            "tcp_ecn_option",
            "tcp_ecn_option_beacon",
            "tcp_ehash_entries",
            "tcp_fack",
            "tcp_fastopen",
            "tcp_fastopen_blackhole_timeout_sec",
            "tcp_fastopen_key",
            "tcp_fin_timeout",
            "tcp_frto",
            "tcp_fwmark_accept",
            "tcp_invalid_ratelimit",
            "tcp_keepalive_intvl",
            "tcp_keepalive_probes",
            "tcp_keepalive_time",
            "tcp_l3mdev_accept",
            "tcp_limit_output_bytes",
            "tcp_low_latency",
            "tcp_max_orphans",
            "tcp_max_reordering",
            "tcp_max_syn_backlog",
            "tcp_max_tw_buckets",
            "tcp_mem",
            "tcp_migrate_req",
            "tcp_min_rtt_wlen",
            "tcp_min_snd_mss",
            "tcp_min_tso_segs",
            "tcp_moderate_rcvbuf",
            "tcp_mtu_probe_floor",
            "tcp_mtu_probing",
            "tcp_no_metrics_save",
            "tcp_no_ssthresh_metrics_save",
            "tcp_notsent_lowat",
            "tcp_orphan_retries",
            "tcp_pacing_ca_ratio",
            "tcp_pacing_ss_ratio",
            "tcp_pingpong_thresh",
            "tcp_plb_cong_thresh",
            "tcp_plb_enabled",
            "tcp_plb_idle_rehash_rounds",
            "tcp_plb_rehash_rounds",
            "tcp_plb_suspend_rto_sec",
            "tcp_probe_interval",
            "tcp_probe_threshold",
            "tcp_recovery",
            "tcp_reflect_tos",
            "tcp_reordering",
            "tcp_retrans_collapse",
            "tcp_retries1",
            "tcp_retries2",
            "tcp_rfc1337",
            "tcp_rmem",
            "tcp_rto_max_ms",
            "tcp_rto_min_us",
            "tcp_sack",
            "tcp_shrink_window",
            "tcp_slow_start_after_idle",
            "tcp_stdurg",
            "tcp_syn_linear_timeouts",
            "tcp_syn_retries",
            "tcp_synack_retries",
            "tcp_syncookies",
            "tcp_thin_linear_timeouts",
            "tcp_timestamps",
            "tcp_tso_rtt_log",
            "tcp_tso_win_divisor",
            "tcp_tw_reuse",
            "tcp_tw_reuse_delay",
            "tcp_window_scaling",
            "tcp_wmem",
            "tcp_workaround_signed_windows",
            "udp_child_hash_entries",
            "udp_early_demux",
            "udp_hash_entries",
            "udp_l3mdev_accept",
            "udp_mem",
            "udp_rmem_min",
            "udp_wmem_min",
            "xfrm4_gc_thresh",
        ]
    ]
    + [
        f"net.core.{name}"
        for name in [
            "bpf_jit_enable",
            "bpf_jit_harden",
            "bpf_jit_kallsyms",
            "bpf_jit_limit",
            "busy_poll",
            "busy_read",
            "default_qdisc",
            "dev_weight",
            "dev_weight_rx_bias",
            "dev_weight_tx_bias",
            "devconf_inherit_init_net",
            "fb_tunnels_only_for_init_net",
            "gro_normal_batch",
            "high_order_alloc_disable",
            "max_skb_frags",
            "mem_pcpu_rsv",
            "message_burst",
            "message_cost",
            "netdev_budget",
            "netdev_budget_usecs",
            "netdev_max_backlog",
            "netdev_rss_key",
            "netdev_tstamp_prequeue",
            "netdev_unregister_timeout_secs",
            "optmem_max",
            "rmem_default",
            "rmem_max",
            "rps_default_mask",
            "rps_sock_flow_entries",
            "skb_defer_max",
            "somaxconn",
            "tstamp_allow_data",
            "txrehash",
            "warnings",
            "wmem_default",
            "wmem_max",
            "xfrm_acq_expires",
            "xfrm_aevent_etime",
            "xfrm_aevent_rseqth",
            "xfrm_larval_drop",
        ]
    ]
)
# Keys older kernels had and 6.18 has not: no typo when a file for an old host names one.
REMOVED_KEYS: frozenset[str] = frozenset(
    f"net.ipv4.{name}"
    for name in (
        "tcp_tw_recycle",  # removed in 4.12
        "tcp_thin_dupack",  # 4.13
        "tcp_max_ssthresh",  # 3.13
        "tcp_frto_response",  # 3.10
        "tcp_cookie_size",  # 3.10
        "tcp_dma_copybreak",  # 4.1
        "tcp_abc",  # 3.9
        "tcp_default_win_scale",  # 2.6.x
        "ip_conntrack_max",  # moved to net.netfilter
        "tcp_mem_pressure",
        "route.flush",
    )
)
# Files of /proc/sys/net/ipv4/conf/<interface>/ (Linux 6.18).
CONF_KEYS: frozenset[str] = frozenset(
    [
        "accept_local",
        "accept_redirects",
        "accept_source_route",
        "arp_accept",
        "arp_announce",
        "arp_evict_nocarrier",
        "arp_filter",
        "arp_ignore",
        "arp_notify",
        "bc_forwarding",
        "bootp_relay",
        "disable_policy",
        "disable_xfrm",
        "drop_gratuitous_arp",
        "drop_unicast_in_l2_multicast",
        "force_igmp_version",
        "forwarding",
        "igmpv2_unsolicited_report_interval",
        "igmpv3_unsolicited_report_interval",
        "ignore_routes_with_linkdown",
        "log_martians",
        "mc_forwarding",
        "medium_id",
        "promote_secondaries",
        "proxy_arp",
        "proxy_arp_pvlan",
        "route_localnet",
        "rp_filter",
        "secure_redirects",
        "send_redirects",
        "shared_media",
        "src_valid_mark",
        "tag",
    ]
)
# Files of /proc/sys/net/ipv4/neigh/<interface>/; ``default`` of the initial
# namespace has the garbage-collector keys too.
NEIGH_KEYS: frozenset[str] = frozenset(
    [
        "anycast_delay",
        "app_solicit",
        "base_reachable_time",
        "base_reachable_time_ms",
        "delay_first_probe_time",
        "gc_stale_time",
        "interval_probe_time_ms",
        "locktime",
        "mcast_resolicit",
        "mcast_solicit",
        "proxy_delay",
        "proxy_qlen",
        "retrans_time",
        "retrans_time_ms",
        "ucast_solicit",
        "unres_qlen",
        "unres_qlen_bytes",
    ]
)
NEIGH_DEFAULT_KEYS: frozenset[str] = NEIGH_KEYS | {
    "gc_interval",
    "gc_thresh1",
    "gc_thresh2",
    "gc_thresh3",
}
# What exists when the boot tool runs, before any other interface is up.
BOOT_CONF_INTERFACES = ("all", "default", "lo")
BOOT_NEIGH_INTERFACES = ("default", "lo")
# SequenceMatcher ratio above which an unknown key is called a probable typo.
_LIKELY_RATIO = 0.8

_Tree = dict[str, "_Tree | None"]


@dataclass
class KeyUniverse:
    """The keys a boot tool finds under /proc/sys, as far as tcpaudit knows them.

    Attributes:
        top_level: net.ipv4.X and net.core.X keys.
        complete: True when ``top_level`` is a live tree's listing, so a key
            outside it certainly does not exist.
        conf: interface -> names of its files under net/ipv4/conf/.
        neigh: interface -> names of its files under net/ipv4/neigh/.
    """

    top_level: frozenset[str] = TOP_LEVEL_KEYS
    complete: bool = False
    conf: dict[str, frozenset[str]] = field(default_factory=dict)
    neigh: dict[str, frozenset[str]] = field(default_factory=dict)
    _tree: _Tree | None = field(default=None, init=False, repr=False)
    _secrets: KeyUniverse | None = field(default=None, init=False, repr=False)

    @classmethod
    def at_boot(cls, extra: Iterable[str] = ()) -> KeyUniverse:
        """The keys of a current kernel with only the boot-time interfaces, plus ``extra``."""
        return cls(
            top_level=TOP_LEVEL_KEYS | frozenset(extra),
            conf=dict.fromkeys(BOOT_CONF_INTERFACES, CONF_KEYS),
            neigh={"default": NEIGH_DEFAULT_KEYS, "lo": NEIGH_KEYS},
        )

    @classmethod
    def of_keys(cls, keys: Iterable[str]) -> KeyUniverse:
        """A universe of exactly ``keys`` (dotted, top-level or per interface)."""
        top: set[str] = set()
        conf: dict[str, set[str]] = {}
        neigh: dict[str, set[str]] = {}
        for key in keys:
            parts = key.split(".")
            if len(parts) == 5 and parts[:2] == ["net", "ipv4"] and parts[2] in ("conf", "neigh"):
                interface = parts[3].replace("/", ".")  # as the directory is named
                (conf if parts[2] == "conf" else neigh).setdefault(interface, set()).add(parts[4])
            else:
                top.add(key)
        return cls(
            top_level=frozenset(top),
            complete=True,
            conf={name: frozenset(names) for name, names in conf.items()},
            neigh={name: frozenset(names) for name, names in neigh.items()},
        )

    def exists(self, key: str) -> bool | None:
        """True or False when tcpaudit knows; None when it cannot tell."""
        if not key.startswith(("net.ipv4.", "net.core.")):
            return None  # other trees are not listed here
        parts = key.split(".")
        if len(parts) == 5 and parts[:2] == ["net", "ipv4"] and parts[2] in ("conf", "neigh"):
            interfaces = self.conf if parts[2] == "conf" else self.neigh
            names = interfaces.get(parts[3].replace("/", "."))
            if names is not None:
                return parts[4] in names
            # An interface that is not there now may appear later (udev applies it then).
            known = CONF_KEYS if parts[2] == "conf" else NEIGH_DEFAULT_KEYS
            return None if parts[4] in known else False
        if key in self.top_level:
            return True
        if key.count(".") != 2:
            return None  # deeper trees (route/, ipv6) are not listed here
        if self.complete:
            return False
        return None if key in REMOVED_KEYS else False

    def likely(self, key: str) -> str | None:
        """The existing key ``key`` was most probably meant to be, if one is close."""
        parts = key.split(".")
        if len(parts) == 5 and parts[2] in ("conf", "neigh"):
            names = CONF_KEYS if parts[2] == "conf" else NEIGH_DEFAULT_KEYS
            found = difflib.get_close_matches(parts[4], names, n=1, cutoff=_LIKELY_RATIO)
            return ".".join([*parts[:4], found[0]]) if found else None
        parent, _, name = key.rpartition(".")
        siblings = [k.rpartition(".")[2] for k in self.top_level if k.startswith(parent + ".")]
        found = difflib.get_close_matches(name, siblings, n=1, cutoff=_LIKELY_RATIO)
        return f"{parent}.{found[0]}" if found else None

    def secrets(self) -> KeyUniverse:
        """The secret keys among these and SECRET_KEYS, for telling which globs name one."""
        if self._secrets is None:
            found = {key for key in self.top_level if is_secret_key(key)} | set(SECRET_KEYS)
            for branch, interfaces in (("conf", self.conf), ("neigh", self.neigh)):
                for interface, names in interfaces.items():
                    found.update(
                        _dotted(["net", "ipv4", branch, interface, name])
                        for name in names
                        if is_secret_key(name)
                    )
            self._secrets = KeyUniverse.of_keys(found)
        return self._secrets

    def expand(self, pattern: str, limit: int) -> list[str]:
        """The existing keys a glob names, sorted; at most ``limit`` of them.

        Matches per path component like glob(3): ``*`` never crosses a
        separator, so ``net.ipv4.*`` names net.ipv4.tcp_retries2 but not
        net.ipv4.conf.all.rp_filter.
        """
        wanted = key_to_path(pattern).split("/")
        found: list[str] = []
        if not wanted or not wanted[0]:
            return found
        for key in _walk(self._keys_tree(), wanted, []):
            found.append(key)
            if len(found) >= limit:
                break
        return sorted(found)

    def _keys_tree(self) -> _Tree:
        if self._tree is None:
            tree: _Tree = {}
            for key in self.top_level:
                node = tree
                *parents, last = key_to_path(key).split("/")
                for part in parents:
                    node = _branch(node, part)
                node.setdefault(last, None)
            ipv4 = _branch(_branch(tree, "net"), "ipv4")
            # One leaf mapping per name set, shared by every interface that has it.
            for branch, interfaces in (("conf", self.conf), ("neigh", self.neigh)):
                if interfaces:
                    shared: dict[frozenset[str], _Tree] = {}
                    ipv4[branch] = {
                        name: shared.setdefault(keys, dict.fromkeys(keys))
                        for name, keys in interfaces.items()
                    }
            self._tree = tree
        return self._tree


def _branch(node: _Tree, name: str) -> _Tree:
    child = node.get(name)
    if child is None:
        child = node[name] = {}
    return child


def _walk(node: _Tree, wanted: list[str], path: list[str]) -> Iterator[str]:
    head, rest = wanted[0], wanted[1:]
    if is_glob(head):
        names: Iterable[str] = sorted(name for name in node if fnmatchcase(name, head))
    else:
        names = [head] if head in node else []
    for name in names:
        child = node[name]
        if rest:
            if child is not None:
                yield from _walk(child, rest, [*path, name])
        elif child is None:
            yield _dotted([*path, name])


def _dotted(parts: list[str]) -> str:
    """The dotted key of path components: a dot inside one (eth0.100) is written as a slash."""
    return ".".join(part.replace(".", "/") for part in parts)
