"""Every kind of proxy line names a backend; CLOSE_WAIT toward it is matched to that line."""

from __future__ import annotations

from pathlib import Path

from tcpaudit.apache import load_apache
from tcpaudit.diagnose import ProcessRef, SocketRecord, TcpState
from tcpaudit.diagnose.backends import backend_close_wait, proxy_targets

CONF = """\
LoadModule mpm_event_module modules/mod_mpm_event.so
LoadModule proxy_module modules/mod_proxy.so
LoadModule proxy_http_module modules/mod_proxy_http.so
LoadModule proxy_fcgi_module modules/mod_proxy_fcgi.so
LoadModule proxy_balancer_module modules/mod_proxy_balancer.so
LoadModule rewrite_module modules/mod_rewrite.so
LoadModule slotmem_shm_module modules/mod_slotmem_shm.so
LoadModule lbmethod_byrequests_module modules/mod_lbmethod_byrequests.so
Listen 80
<VirtualHost *:80>
    RewriteEngine On
    RewriteRule ^/legacy/(.*) http://10.0.0.8:81/$1 [P,L]
    <FilesMatch "\\.php$">
        SetHandler "proxy:fcgi://127.0.0.1:9000"
    </FilesMatch>
    <Proxy balancer://app>
        BalancerMember http://10.0.0.7:8080 ttl=30
    </Proxy>
    ProxyPass /app/ balancer://app/
    ProxyPass /sock/ unix:/run/php.sock|fcgi://localhost/
    <Location /api/>
        ProxyPass https://api.internal/ disablereuse=On
    </Location>
    <IfModule mod_nonexistent.c>
        ProxyPass /never/ http://10.0.0.99:80/
    </IfModule>
</VirtualHost>
"""
APACHE = ProcessRef(700, "httpd")


def _config(tmp_path: Path):  # type: ignore[no-untyped-def]
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "httpd.conf").write_text(CONF)
    config = load_apache("/etc/httpd.conf", tmp_path)
    assert config is not None
    return config


def _close_wait(remote: str, port: int, *owners: ProcessRef) -> SocketRecord:
    return SocketRecord("10.0.0.1", 40000 + port % 1000, remote, port, TcpState.CLOSE_WAIT,
                        rx_queue=1, inode=9, owners=owners, owners_listed=True)  # fmt: skip


def test_targets_of_every_proxy_form(tmp_path: Path) -> None:
    targets = [
        (t.host, t.port, t.line, t.ttl, t.disablereuse) for t in proxy_targets(_config(tmp_path))
    ]
    assert targets == [
        ("10.0.0.8", 81, 12, None, False),  # RewriteRule [P]
        ("127.0.0.1", 9000, 14, None, False),  # SetHandler proxy:fcgi
        ("10.0.0.7", 8080, 17, "30", False),  # BalancerMember (balancer:// itself is no TCP end)
        ("api.internal", 443, 22, None, True),  # in <Location>, by name, https default port
    ]  # the Unix socket and the line in a false <IfModule> name no TCP backend


def test_close_wait_is_matched_to_its_line(tmp_path: Path) -> None:
    records = [
        _close_wait("127.0.0.1", 9000, APACHE),
        _close_wait("127.0.0.1", 9000, APACHE),
        _close_wait("10.0.0.7", 8080, APACHE),
        _close_wait("192.0.2.44", 443, APACHE),  # api.internal, by port only
        _close_wait("10.0.0.99", 80, APACHE),  # the false <IfModule>'s: no line
        _close_wait("10.0.0.7", 8080, ProcessRef(999, "java")),  # not Apache's
    ]
    found = backend_close_wait(records, frozenset({700}), {80}, _config(tmp_path))
    summary = [
        (b.backend, b.close_wait, b.line, b.matched_by, b.ttl, b.disablereuse) for b in found
    ]
    assert summary == [
        ("127.0.0.1:9000", 2, 14, "address and port", None, False),
        ("10.0.0.7:8080", 1, 17, "address and port", "30", False),
        ("10.0.0.99:80", 1, None, None, None, False),
        (
            "192.0.2.44:443",
            1,
            22,
            "port (the line names a host, which tcpaudit does not resolve)",
            None,
            True,
        ),
    ]
