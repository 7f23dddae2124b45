"""The worker-hold model where the lab cannot go: other httpd versions.

The lab (tests/lab) holds the model to a real apache2 2.4.71. Older releases
differ in ways read from httpd's own sources (cited per test); these tests pin
each difference, so that the model follows the version a configuration names.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import tcpaudit
from tcpaudit.hold import exhaustion, kind_holds, silent_deferred_seconds

PREFORK = "LoadModule mpm_prefork_module modules/mod_mpm_prefork.so\n"
EVENT = "LoadModule mpm_event_module modules/mod_mpm_event.so\n"
REQTIMEOUT = "LoadModule reqtimeout_module modules/mod_reqtimeout.so\n"
SSL = "LoadModule ssl_module modules/mod_ssl.so\nListen 443\nSSLEngine on\n"


def config(
    tmp_path: Path, text: str, version: str, mpm: str | None = None
) -> tcpaudit.ApacheConfig:
    conf = tmp_path / "usr/local/apache2/conf/httpd.conf"
    conf.parent.mkdir(parents=True, exist_ok=True)
    conf.write_text(text)
    loaded = tcpaudit.load_apache(root=tmp_path, version=version, mpm=mpm)  # type: ignore[arg-type]
    assert loaded is not None
    return loaded


def seconds(loaded: tcpaudit.ApacheConfig) -> dict[str, float | None]:
    return {kind: hold.seconds for kind, hold in kind_holds(loaded).items()}


def test_22_without_reqtimeout_holds_for_timeout_then_lingers(tmp_path: Path) -> None:
    # 2.2's prefork closes in the worker like 2.4's (ap_lingering_close, server/connection.c).
    holds = seconds(config(tmp_path, "Timeout 300\nKeepAliveTimeout 15\n", "2.2.34"))
    assert holds["silent"] == 302 and holds["body_stall"] == 302
    assert holds["slow_reader"] == 300 and holds["keepalive_idle"] == 17
    assert holds["header_trickle"] is None and holds["body_trickle"] is None


def test_22_reqtimeout_without_a_line_limits_nothing(tmp_path: Path) -> None:
    # 2.2's mod_reqtimeout has no defaults: header_timeout and body_timeout stay
    # -1 and reqtimeout_init declines (modules/filters/mod_reqtimeout.c, 2.2.34).
    holds = seconds(config(tmp_path, REQTIMEOUT + "Timeout 60\n", "2.2.34"))
    assert holds["silent"] == 62 and holds["header_trickle"] is None


def test_22_event_closes_in_the_worker_but_waits_for_keepalive_in_its_listener(
    tmp_path: Path,
) -> None:
    # 2.2's experimental event calls ap_lingering_close() in process_socket
    # (server/mpm/experimental/event/event.c); 2.4's hands it to the listener.
    # 2.2 links its MPM in (httpd -l), as a build option says.
    old = seconds(config(tmp_path / "a", "Timeout 30\n", "2.2.34", mpm="event"))
    new = seconds(config(tmp_path / "b", EVENT + "Timeout 30\n", "2.4.71"))
    assert old["silent"] == 32 and new["silent"] == 30
    assert old["keepalive_idle"] == new["keepalive_idle"] == 0


@pytest.mark.parametrize(
    ("version", "limit", "hold"),
    [
        # 2.2 and up to 2.4.17: mod_ssl handshakes inside the header read, under
        # the header stage (mod_reqtimeout's filter sits below mod_ssl's).
        ("2.2.34", "RequestReadTimeout header", 10),
        ("2.4.17", "RequestReadTimeout header", 10),
        # 2.4.18 to 2.4.38: ssl_hook_process_connection (APR_HOOK_MIDDLE) runs the
        # handshake before reqtimeout_init (APR_HOOK_LAST): only Timeout bounds it.
        ("2.4.18", "Timeout", 60),
        ("2.4.38", "Timeout", 60),
        # 2.4.39 added the handshake stage, 0 (off) by default (PR 61310).
        ("2.4.39", "Timeout", 60),
        ("2.4.71", "Timeout", 60),
        ("2.4", "Timeout", 60),
    ],
)
def test_what_bounds_a_stalled_tls_handshake(
    tmp_path: Path, version: str, limit: str, hold: float
) -> None:
    loaded = config(
        tmp_path,
        EVENT + REQTIMEOUT + SSL + "Timeout 60\nRequestReadTimeout header=10 body=10\n",
        version,
    )
    handshake = kind_holds(loaded)["tls_handshake"]
    assert (handshake.limit, handshake.seconds) == (limit, hold)


def test_the_handshake_stage_bounds_it_from_2439(tmp_path: Path) -> None:
    text = EVENT + REQTIMEOUT + SSL + "Timeout 60\nRequestReadTimeout handshake=5 header=10\n"
    assert kind_holds(config(tmp_path, text, "2.4.39"))["tls_handshake"].seconds == 5


def test_no_tls_listener_no_handshake_kind(tmp_path: Path) -> None:
    # mod_ssl loaded but only Listen 80: nothing answers TLS.
    text = EVENT + "LoadModule ssl_module modules/mod_ssl.so\nListen 80\n"
    assert "tls_handshake" not in kind_holds(config(tmp_path, text, "2.4.71"))


@pytest.mark.parametrize(
    ("version", "header_trickle", "body_trickle"),
    [
        # 2.4.39 computes the default rate factors under macros that no longer
        # exist: default stages never grow (PR 63325): header cut at 20 s, body at 20 s.
        ("2.4.39", 20, 20),
        ("2.4.40", 40, None),
        ("2.4.38", 40, None),
    ],
)
def test_the_2439_min_rate_bug_applies_to_default_stages_only(
    tmp_path: Path, version: str, header_trickle: float | None, body_trickle: float | None
) -> None:
    defaults = seconds(config(tmp_path / "d", EVENT + REQTIMEOUT, version))
    assert (defaults["header_trickle"], defaults["body_trickle"]) == (header_trickle, body_trickle)
    written = (
        EVENT + REQTIMEOUT + "RequestReadTimeout header=20-40,MinRate=500 body=20,MinRate=500\n"
    )
    explicit = seconds(config(tmp_path / "e", written, version))
    assert (explicit["header_trickle"], explicit["body_trickle"]) == (40, None)


def test_stages_a_line_leaves_out_are_the_compiled_defaults(tmp_path: Path) -> None:
    loaded = config(tmp_path, EVENT + REQTIMEOUT + "RequestReadTimeout header=10\n", "2.4.39")
    value = loaded.settings["RequestReadTimeout"].value
    assert isinstance(value, tcpaudit.apache.values.RequestReadTimeoutValue)
    assert value.header is not None and not value.header.default
    assert value.body is not None and value.body.default
    # So the body is cut at 20 s on 2.4.39 only.
    assert seconds(loaded)["body_trickle"] == 20


@pytest.mark.parametrize(
    ("version", "accept_filter", "deferred"),
    [
        # server/listen.c: APR_TCP_DEFER_ACCEPT 1 s up to 2.2.27, 30 s from 2.2.28
        # (31 s measured, the kernel's fifth SYN-ACK retransmission).
        ("2.2.27", None, 1.0),
        ("2.2.28", None, 31.0),
        ("2.2", None, 31.0),
        ("2.4.71", None, 31.0),
        ("2.4.71", "AcceptFilter http data", 31.0),
        ("2.4.71", "AcceptFilter http none", 0.0),
        ("2.4.71", "AcceptFilter HTTP None", 0.0),
        ("2.4.71", "AcceptFilter https none", 31.0),
    ],
)
def test_how_long_tcp_defer_accept_delays_a_silent_client(
    tmp_path: Path, version: str, accept_filter: str | None, deferred: float
) -> None:
    text = PREFORK + (f"{accept_filter}\n" if accept_filter else "")
    assert silent_deferred_seconds(config(tmp_path, text, version)) == deferred


def test_before_2416_a_vhost_keepalive_timeout_counts_only_on_the_first_vhost(
    tmp_path: Path,
) -> None:
    text = PREFORK + (
        "KeepAliveTimeout 5\n"
        "<VirtualHost *:80>\nServerName a\n</VirtualHost>\n"
        "<VirtualHost *:80>\nServerName b\nKeepAliveTimeout 30\n</VirtualHost>\n"
    )
    assert seconds(config(tmp_path / "old", text, "2.4.15"))["keepalive_idle"] == 7
    assert seconds(config(tmp_path / "new", text, "2.4.16"))["keepalive_idle"] == 32


def test_header_reads_run_under_the_first_vhost_of_an_address(tmp_path: Path) -> None:
    # reqtimeout_before_header reads c->base_server; the body stage r->server.
    text = (
        PREFORK
        + REQTIMEOUT
        + (
            "Timeout 60\nRequestReadTimeout header=5 body=5\n"
            "<VirtualHost *:80>\nServerName first\n</VirtualHost>\n"
            "<VirtualHost *:80>\nServerName second\nRequestReadTimeout header=50 body=50\n"
            "</VirtualHost>\n"
        )
    )
    holds = kind_holds(config(tmp_path, text, "2.4.71"))
    assert holds["silent"].seconds == 7  # header=50 of the second vhost never applies
    assert holds["body_stall"].seconds == 52 and holds["body_stall"].scope is not None


def test_a_negative_timeout_is_no_limit_and_drains_at_rate_zero(tmp_path: Path) -> None:
    loaded = config(tmp_path, PREFORK + "Timeout -1\n", "2.4.71")
    holds = kind_holds(loaded)
    assert holds["slow_reader"].seconds is None
    drain = exhaustion(holds, 150)
    assert drain.clients_per_second == 0.0 and drain.hold is not None
    assert drain.hold.seconds is None


def test_a_negative_keepalive_timeout_on_22_waits_without_limit(tmp_path: Path) -> None:
    # 2.2 reads KeepAliveTimeout with atoi (apr_time_from_sec(-1): no socket timeout).
    holds = seconds(config(tmp_path, "KeepAliveTimeout -1\n", "2.2.34"))
    assert holds["keepalive_idle"] is None
