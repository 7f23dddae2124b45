"""kind_holds looks at each distinct scope once: the answer is the one of every scope.

Virtual hosts cut from one template hold alike; kind_holds keeps one scope of
each kind of settings. These tests compare it with the longest hold taken
over every scope one by one (what it did before), on mixes of repeated and
different virtual hosts, including the label it names on ties.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest

import tcpaudit
from tcpaudit.apache.scopes import scopes as every_apache_scope
from tcpaudit.apache.values import RequestReadTimeoutValue
from tcpaudit.hold import (
    HOLD_KINDS,
    LINGER_SECONDS,
    HoldKind,
    KindHold,
    _for_scope,
    _limits,
    _longer,
    _reqtimeout_off,
    _Scope,
    _seconds,
    has_tls_listener,
    holds_remembered,
    kind_holds,
    worker_lingers,
)
from tcpaudit.vhost_matching import main_server_is_base, reachable_addresses, vhost_addresses

HEAD = (
    "LoadModule mpm_prefork_module modules/mod_mpm_prefork.so\n"
    "LoadModule reqtimeout_module modules/mod_reqtimeout.so\n"
    "LoadModule ssl_module modules/mod_ssl.so\n"
    "Listen 80\nListen 443\nTimeout 60\nKeepAliveTimeout 5\n"
)
VHOST_BODIES = [
    "",
    "Timeout 30\n",
    "Timeout 300\n",
    "Timeout -1\n",
    "KeepAliveTimeout 15\n",
    "RequestReadTimeout header=20-40,MinRate=500 body=20,MinRate=500\n",
    "RequestReadTimeout header=0 body=0\n",
    "RequestReadTimeout handshake=5 header=10\nTimeout 30\n",
    "KeepAlive Off\n",
    "KeepAlive Off\nKeepAliveTimeout 15\n",
]


def all_scopes(config: tcpaudit.ApacheConfig) -> Iterator[_Scope]:
    """Every scope, the server's first, each with its own label (none merged)."""
    server_timeout = _seconds(config.settings.get("Timeout"))
    server_keepalive = _seconds(config.settings.get("KeepAliveTimeout")) or 0.0
    server_limits = _limits(config.settings.get("RequestReadTimeout"))
    # address -> its first vhost's limits (the connection's base server).
    base_limits: dict[tuple[str, str], RequestReadTimeoutValue | None] = {}
    base_keepalive: dict[tuple[str, str], float] = {}
    reachable = reachable_addresses(config)
    for scope in every_apache_scope(config):
        addresses = []
        if scope.vhost is not None:
            addresses = [a for a in vhost_addresses(scope.vhost.address) if reachable(a)]
            if not addresses:
                continue  # no connection reaches it
        timeout = _seconds(scope.own("Timeout")) if scope.vhost else None
        limits = server_limits
        keepalive_seconds = server_keepalive
        # The main server serves only where no vhost covers a Listen.
        ways = [(limits, True, keepalive_seconds)] if main_server_is_base(config) else []
        if scope.vhost is not None:
            own_limits = scope.vhost.settings.get("RequestReadTimeout")
            if own_limits is not None:
                limits = _limits(own_limits)
            own_keepalive = scope.own("KeepAliveTimeout")
            own_seconds = None
            if own_keepalive is not None and own_keepalive.effective:
                own_seconds = _seconds(own_keepalive) or 0.0
            # On each address: a base server, or read under the address's base,
            # whose reqtimeout off leaves no stage (mod_reqtimeout declined) and
            # whose KeepAliveTimeout applies where this vhost sets none.
            ways = []
            for address in addresses:
                first = address not in base_limits
                base_limits.setdefault(address, limits)
                if first:
                    base_keepalive[address] = (
                        server_keepalive if own_seconds is None else own_seconds
                    )
                off = not first and _reqtimeout_off(base_limits[address])
                waits = base_keepalive[address] if own_seconds is None else own_seconds
                ways.append((RequestReadTimeoutValue() if off else limits, first, waits))
        timeout = timeout if timeout is not None else server_timeout
        if timeout is None:
            continue
        for way_limits, base, waits in ways:
            yield _Scope(scope.label, timeout, way_limits, scope.keepalive, waits, base)


def every_scope(config: tcpaudit.ApacheConfig) -> dict[HoldKind, KindHold]:
    """The longest hold of each kind, scope by scope, none skipped."""
    linger = LINGER_SECONDS if worker_lingers(config) else 0.0
    found: dict[HoldKind, KindHold] = {}
    scopes = list(all_scopes(config))
    kinds = [kind for kind in HOLD_KINDS if kind != "tls_handshake" or has_tls_listener(config)]
    for kind in kinds:
        longest: KindHold | None = None
        for scope in scopes:
            longest = _longer(longest, _for_scope(config, kind, scope, linger))
        if longest is not None:
            found[kind] = longest
    return found


@pytest.mark.parametrize("server", ["", "KeepAlive Off\nRequestReadTimeout header=15\n"])
@pytest.mark.parametrize("seed", range(12))
def test_distinct_scopes_give_the_answer_of_every_scope(
    tmp_path: Path, seed: int, server: str
) -> None:
    chooser = random.Random(seed)
    lines = [HEAD + server]
    for number in range(40):
        port = chooser.choice(["80", "443", "8080"])
        body = chooser.choice(VHOST_BODIES)
        lines.append(
            f"<VirtualHost *:{port}>\nServerName v{number}.example\n{body}</VirtualHost>\n"
        )
    conf = tmp_path / "usr/local/apache2/conf/httpd.conf"
    conf.parent.mkdir(parents=True)
    conf.write_text("".join(lines))
    config = tcpaudit.load_apache(root=tmp_path, version="2.4.71")
    assert config is not None and len(config.vhosts) == 40
    expected = every_scope(config)
    assert kind_holds(config) == expected
    # The mix is varied enough that the vhost named differs between kinds.
    assert len({hold.scope for hold in expected.values()}) > 1


def test_remembered_holds_answer_each_configuration_for_itself(tmp_path: Path) -> None:
    # Within an audit the holds of a configuration are worked out once; a
    # copy with another Timeout (as a fix builds one) has its own answer.
    conf = tmp_path / "usr/local/apache2/conf/httpd.conf"
    conf.parent.mkdir(parents=True)
    conf.write_text(HEAD + "<VirtualHost *:80>\nServerName a.example\nTimeout 90\n</VirtualHost>\n")
    config = tcpaudit.load_apache(root=tmp_path, version="2.4.71")
    assert config is not None
    timeout = config.settings["Timeout"]
    copies = [
        config.model_copy(
            update={
                "settings": {**config.settings, "Timeout": timeout.model_copy(update={"value": v})}
            }
        )
        for v in (120, 240, 480, 960, 1920)
    ]
    with holds_remembered():
        for _ in range(2):
            for copy in [config, *copies]:
                assert kind_holds(copy) == every_scope(copy)
        assert kind_holds(config) is kind_holds(config)
    assert kind_holds(copies[0]) is not kind_holds(copies[0])
    assert kind_holds(copies[0]) != kind_holds(config)
