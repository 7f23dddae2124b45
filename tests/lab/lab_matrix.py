"""Which configurations the worker-hold lab measures: in CI, and in the benchmark.

The CI matrix keeps every timer at a few seconds so that all cells, run side by
side, take about a minute. It holds the model to configurations of several
shapes: no mod_reqtimeout, stages with and without MinRate and maxima, the
TLS handshake stage, name-based virtual hosts with their own Timeout,
KeepAliveTimeout and body stage, a KeepAliveTimeout in milliseconds,
KeepAlive Off, and AcceptFilter data. The benchmark adds longer timers and
mod_reqtimeout's compiled defaults (header=20-40,MinRate=500 body=20,MinRate=500).
"""

from __future__ import annotations

from holdlab import KINDS, TUNNEL_KINDS, Cell, LabConfig, VirtualHostSpec
from lab_clients import FITTING_READER

__all__ = ["MPMS", "bench_cells", "ci_cells", "tunnel_cells"]

MPMS = ("prefork", "worker", "event")
READ_LIMITS = "header=2-4,MinRate=500 body=3"
_ALL = KINDS
_VHOSTS = (
    VirtualHostSpec("first.example", ("Timeout 3", "KeepAliveTimeout 1")),
    VirtualHostSpec(
        "slow.example", ("Timeout 6", "KeepAliveTimeout 3", "RequestReadTimeout body=4")
    ),
)


def _configs() -> list[tuple[LabConfig, tuple[str, ...]]]:
    """(configuration with mpm "prefork", the kinds to measure with it)."""
    return [
        (LabConfig("none", "prefork", tls=True), _ALL),
        (LabConfig("reqtimeout", "prefork", reqtimeout=READ_LIMITS, tls=True), _ALL),
        (
            LabConfig("handshake", "prefork", reqtimeout=f"handshake=2 {READ_LIMITS}", tls=True),
            ("tls_handshake",),
        ),
        (
            # MinRate without a maximum: a trickle is never cut.
            LabConfig(
                "rate-no-max", "prefork", reqtimeout="header=3,MinRate=500 body=2,MinRate=500"
            ),
            ("header_trickle", "body_stall", "body_trickle"),
        ),
        (
            # A header stage without MinRate is cut at its first timeout; a body stage with one, at its maximum.
            LabConfig(
                "bounded-stages", "prefork", timeout=5, reqtimeout="header=2 body=3-5,MinRate=500"
            ),
            ("header_trickle", "body_trickle"),
        ),
        (
            LabConfig(
                "vhosts",
                "prefork",
                timeout=3,
                reqtimeout="header=2-3,MinRate=500 body=2",
                vhosts=_VHOSTS,
                target="slow.example",
            ),
            ("silent", "header_trickle", "body_stall", "slow_reader", "keepalive_idle"),
        ),
        (
            # A vhost's Timeout or KeepAliveTimeout of 0 is httpd's "unset": the
            # server's applies (ap_fixup_virtual_hosts).
            LabConfig(
                "vhost-unset",
                "prefork",
                timeout=3,
                keepalive_timeout="2",
                vhosts=(VirtualHostSpec("first.example", ("Timeout 0", "KeepAliveTimeout 0")),),
                target="first.example",
            ),
            ("silent", "keepalive_idle"),
        ),
        (
            # The address's first vhost turns mod_reqtimeout off (handshake,
            # header and body 0): no stage runs on its connections, a later
            # vhost's own body stage included; its Timeout rules.
            LabConfig(
                "reqtimeout-off-at-base",
                "prefork",
                timeout=1,
                reqtimeout="header=0 body=0",
                vhosts=(
                    VirtualHostSpec("first.example", ()),
                    VirtualHostSpec("slow.example", ("Timeout 4", "RequestReadTimeout body=1")),
                ),
                target="slow.example",
            ),
            ("body_stall",),
        ),
        (
            # A vhost covers the only Listen: the main server reads no header.
            LabConfig(
                "vhost-covers-listen",
                "prefork",
                timeout=5,
                reqtimeout="header=4 body=4",
                vhosts=(VirtualHostSpec("first.example", ("RequestReadTimeout header=1",)),),
                target="first.example",
            ),
            ("header_stop",),
        ),
        (
            # `*` and `_default_` are one address (an all-zero one): the first
            # vhost is the connection's base and turns reqtimeout off for both.
            LabConfig(
                "wildcard-spellings",
                "prefork",
                timeout=1,
                reqtimeout="header=1 body=1",
                extra=(
                    "<VirtualHost *>",
                    "ServerName first.example",
                    "Timeout 1",
                    "RequestReadTimeout header=0 body=0",
                    "</VirtualHost>",
                    "<VirtualHost _default_>",
                    "ServerName slow.example",
                    "Timeout 4",
                    "RequestReadTimeout header=1 body=1",
                    "</VirtualHost>",
                ),
                target="slow.example",
            ),
            ("body_stall",),
        ),
        (
            # 0.0.0.0 is the wildcard too: the vhost covers the Listen address,
            # so the main server reads no header there.
            LabConfig(
                "all-zero-covers-listen",
                "prefork",
                timeout=5,
                reqtimeout="header=4 body=4",
                extra=(
                    "<VirtualHost 0.0.0.0>",
                    "ServerName first.example",
                    "RequestReadTimeout header=1",
                    "</VirtualHost>",
                ),
                target="first.example",
            ),
            ("header_stop",),
        ),
        (
            # An IP vhost on the Listen address hides a `*` vhost: httpd looks
            # the connection up among IP vhosts first; the `*` one is unreached.
            LabConfig(
                "ip-shadows-star",
                "prefork",
                timeout=1,
                reqtimeout="header=2 body=2",
                extra=(
                    "<VirtualHost *>",
                    "ServerName slow.example",
                    "Timeout 5",
                    "RequestReadTimeout body=1",
                    "</VirtualHost>",
                ),
                vhosts=(
                    VirtualHostSpec(
                        "first.example", ("Timeout 1", "RequestReadTimeout header=0 body=0")
                    ),
                ),
                target="slow.example",
            ),
            ("slow_reader", "body_stall"),
        ),
        (
            # A port-wildcard vhost is hidden where a vhost of the same address
            # names the port (find_ipaddr, find_default_server: exact port first).
            LabConfig(
                "port-wildcard-hidden",
                "prefork",
                timeout=1,
                extra=(
                    "<VirtualHost *>",
                    "ServerName slow.example",
                    "Timeout 6",
                    "</VirtualHost>",
                    "<VirtualHost *:@PORT@>",
                    "ServerName first.example",
                    "Timeout 1",
                    "</VirtualHost>",
                ),
                target="slow.example",
            ),
            ("slow_reader",),
        ),
        (
            LabConfig(
                "ip-port-wildcard-hidden",
                "prefork",
                timeout=1,
                extra=(
                    "<VirtualHost 127.0.0.1:*>",
                    "ServerName slow.example",
                    "Timeout 6",
                    "</VirtualHost>",
                ),
                vhosts=(VirtualHostSpec("first.example", ("Timeout 1",)),),
                target="slow.example",
            ),
            ("slow_reader",),
        ),
        (
            # A vhost on two addresses, one of which another vhost is the base
            # of with reqtimeout off: on that one no stage runs, its Timeout rules.
            LabConfig(
                "base-off-on-one-address",
                "prefork",
                timeout=1,
                reqtimeout="header=2 body=2",
                extra=(
                    "<VirtualHost 127.0.0.1:@PORT@>",
                    "ServerName first.example",
                    "RequestReadTimeout header=0 body=0",
                    "</VirtualHost>",
                    "<VirtualHost 127.0.0.1:@PORT@ 127.0.0.2:@PORT@>",
                    "ServerName slow.example",
                    "Timeout 4",
                    "RequestReadTimeout header=1 body=1",
                    "</VirtualHost>",
                ),
                target="slow.example",
            ),
            ("body_stall",),
        ),
        (
            # An IPv4-mapped IPv6 address is the IPv4 one (apr_sockaddr_equal).
            LabConfig(
                "v4-mapped-covers-listen",
                "prefork",
                timeout=5,
                reqtimeout="header=4 body=4",
                extra=(
                    "<VirtualHost [::ffff:127.0.0.1]:@PORT@>",
                    "ServerName first.example",
                    "RequestReadTimeout header=1",
                    "</VirtualHost>",
                ),
                target="first.example",
            ),
            ("header_stop",),
        ),
        (
            # Vhosts cover every Listen address: the main server serves nothing,
            # its Timeout included (a request naming no vhost goes to the first).
            LabConfig(
                "main-server-unused",
                "prefork",
                timeout=6,
                vhosts=(VirtualHostSpec("first.example", ("Timeout 2",)),),
                target="nowhere.example",
            ),
            ("slow_reader", "body_stall"),
        ),
        (
            # A vhost setting no KeepAliveTimeout waits for its address's base
            # vhost's (http_core.c), not the main server's.
            LabConfig(
                "keepalive-from-base",
                "prefork",
                timeout=2,
                keepalive_timeout="1",
                extra=(
                    "<VirtualHost *:@PORT@>",
                    "ServerName first.example",
                    "KeepAlive Off",
                    "KeepAliveTimeout 5",
                    "</VirtualHost>",
                    "<VirtualHost *:@PORT@>",
                    "ServerName slow.example",
                    "</VirtualHost>",
                ),
                target="slow.example",
            ),
            ("keepalive_idle",),
        ),
        (
            # KeepAliveTimeout 0 in a vhost is httpd's unset value, but the vhost
            # did set it: it waits the main server's (3 s), not its base
            # vhost's (1 s) (ap_fixup_virtual_hosts, keep_alive_timeout_set).
            LabConfig(
                "keepalive-zero-in-a-named-vhost",
                "prefork",
                timeout=2,
                keepalive_timeout="3",
                extra=(
                    "<VirtualHost *:@PORT@>",
                    "ServerName first.example",
                    "KeepAliveTimeout 1",
                    "</VirtualHost>",
                    "<VirtualHost *:@PORT@>",
                    "ServerName slow.example",
                    "KeepAliveTimeout 0",
                    "</VirtualHost>",
                ),
                target="slow.example",
            ),
            ("keepalive_idle",),
        ),
        (
            # A TLS listener whose Listen line names no protocol.
            LabConfig("tls-listen-plain", "prefork", tls=True, tls_listen=""),
            ("tls_handshake",),
        ),
        (
            LabConfig("ms", "prefork", timeout=3, keepalive_timeout="1500ms"),
            ("silent", "slow_reader", "keepalive_idle"),
        ),
        (LabConfig("keepalive-off", "prefork", keepalive=False), ("keepalive_idle",)),
        (
            LabConfig("accept-data", "prefork", reqtimeout=READ_LIMITS, accept_filter="data"),
            ("silent",),
        ),
    ]


def _accept_none_capitalised() -> list[Cell]:
    # httpd lower-cases the filter's name (set_accf_map): None is none, nothing deferred.
    config = LabConfig("accept-None", "prefork", reqtimeout=READ_LIMITS, accept_filter="None")
    return [Cell(config, "silent")]


def ci_cells() -> list[Cell]:
    """Every cell CI runs; the slow ones (an accept filter: ~31 s of deferral) first."""
    cells = [
        Cell(config.with_mpm(mpm), kind)
        for config, kinds in _configs()
        for mpm in MPMS
        for kind in kinds
    ] + _accept_none_capitalised()
    return sorted(cells, key=lambda cell: cell.config.accept_filter != "data")


def tunnel_cells() -> list[Cell]:
    """A proxied WebSocket, idle and busy, on every MPM (TA116's evidence)."""
    config = LabConfig("websocket", "prefork", websocket=True)
    return [Cell(config.with_mpm(mpm), kind) for mpm in MPMS for kind in TUNNEL_KINDS]


def bench_cells() -> list[Cell]:
    """CI's cells plus longer timers and mod_reqtimeout's compiled defaults."""
    longer = [
        (
            LabConfig(
                "timeout-8",
                "prefork",
                timeout=8,
                keepalive_timeout="3",
                reqtimeout="header=4-8,MinRate=500 body=5",
                tls=True,
            ),
            _ALL,
        ),
        (LabConfig("compiled-defaults", "prefork", timeout=60, reqtimeout=""), (
            "silent", "header_trickle", "body_stall",
        )),
    ]  # fmt: skip
    extra = [
        Cell(config.with_mpm(mpm), kind)
        for config, kinds in longer
        for mpm in MPMS
        for kind in kinds
    ]
    return ci_cells() + tunnel_cells() + extra


def send_buffer_cells() -> list[Cell]:
    """A slow reader of a response the send buffer takes whole, per MPM."""
    config = LabConfig("send-buffer", "prefork", timeout=8)
    return [Cell(config.with_mpm(mpm), FITTING_READER) for mpm in MPMS]
