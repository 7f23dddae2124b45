"""The port of a ``Listen`` or ``<VirtualHost>`` word as a real apache2 reads it.

apr_parse_addr_port reads the digits with atoi, a long cut to an int: a port
written 2**32 above another is that port, and leading zeros are dropped.
diagnose counts the sockets of the ports apache2 binds, the worker-hold model
relates vhosts to listeners, and ``Listen 0443`` is https by default: each
must use the port apache2 uses, not the digits as written.
"""

from __future__ import annotations

import pytest
from apache_server import (
    APACHE2,
    TcpState,
    free_port,
    make_workdir,
    server_sockets,
    start,
    write_config,
)

import tcpaudit
from tcpaudit.apache.apr_addresses import listen_port
from tcpaudit.diagnose import listen_ports
from tcpaudit.hold import has_tls_listener
from tcpaudit.vhost_matching import vhost_addresses

WRAP = 2**32


def test_a_port_written_past_the_int_range_is_the_port_apache2_binds() -> None:
    assert APACHE2 is not None, "apache2 is required (Debian: apt-get install apache2)"
    workdir = make_workdir()
    port = free_port()
    spelled = f"127.0.0.1:{port + WRAP}"
    conf = write_config(
        workdir, port, listen=spelled,
        extra=(f"<VirtualHost {spelled}>", "    ServerName wrapped.example", "</VirtualHost>"),
    )  # fmt: skip
    server = start(conf, port, 2)
    try:
        assert any(r.state is TcpState.LISTEN for r in server_sockets(port))
    finally:
        server.stop()
    config = tcpaudit.load_apache(conf, root="/")
    assert config is not None
    assert listen_ports(config) == [port]
    (vhost,) = config.vhosts
    assert vhost_addresses(vhost.address) == (("127.0.0.1", str(port)),)


@pytest.mark.parametrize(
    ("word", "port"),
    [
        ("80", 80),
        ("0080", 80),
        ("1.2.3.4:0443", 443),
        (f"[::1]:{443 + WRAP}", 443),
        ("2001:db8::1:8080", 8080),
        ("1.2.3.4", None),
        ("[::1]", None),
        ("*:*", None),
        (f"{WRAP}", None),  # atoi gives 0: APR refuses it
        ("1.2.3.4:70000", None),
    ],
)
def test_listen_port(word: str, port: int | None) -> None:
    assert listen_port(word) == port


def test_listen_0443_alone_is_no_tls_listener() -> None:
    # ap_set_listener names port 443 (as atoi reads it) https, but mod_ssl
    # speaks TLS only where SSLEngine on (or an https Protocol and a
    # certificate) is in force: measured in tests/lab/test_tls_servers.py.
    root_conf = "LoadModule ssl_module /usr/lib/apache2/modules/mod_ssl.so\nListen 0443\n"
    assert not has_tls_listener(_config(root_conf))
    assert has_tls_listener(_config(root_conf + "SSLEngine on\n"))


def _config(text: str) -> tcpaudit.ApacheConfig:
    workdir = make_workdir()
    conf = workdir / "httpd.conf"
    conf.write_text(
        "LoadModule mpm_prefork_module /usr/lib/apache2/modules/mod_mpm_prefork.so\n"
        "LoadModule authz_core_module /usr/lib/apache2/modules/mod_authz_core.so\n"
        f"ServerName localhost\n{text}"
    )
    config = tcpaudit.load_apache(conf, root="/")
    assert config is not None
    return config
