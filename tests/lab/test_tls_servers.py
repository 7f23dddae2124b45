"""Where a real apache2 speaks TLS, and where tcpaudit says it does.

Each case starts apache2 2.4 on 127.0.0.1 with mod_ssl and one listener,
tries a TLS handshake there, and compares the answer with
``has_tls_listener`` on the same configuration, read by tcpaudit as the
host's. The handshake-stall hold (TA114, ``tls_handshake``) rests on it.
"""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "diagnose"))
from apache_server import free_port, make_workdir, start, write_config

from tcpaudit.apache import load_apache
from tcpaudit.hold import has_tls_listener

CERT = "SSLCertificateFile {dir}/cert.pem\nSSLCertificateKeyFile {dir}/key.pem"
# name: (the Listen's protocol word, the directives after the main server's,
# whether apache2 speaks TLS there).
CASES: dict[str, tuple[str, str, bool]] = {
    "listen-https-vhost-certificate": (
        "https", "<VirtualHost *:{port}>\n{cert}\n</VirtualHost>", False),
    "listen-https-own-address-vhost-certificate": (
        "https", "<VirtualHost 127.0.0.1:{port}>\n{cert}\n</VirtualHost>", False),
    "listen-https-main-certificate": ("https", "{cert}", False),
    "listen-https-no-certificate": ("https", "", False),
    "listen-https-engine-off": (
        "https", "<VirtualHost *:{port}>\nSSLEngine off\n{cert}\n</VirtualHost>", False),
    "main-protocol-https-certificate": ("", "Protocol https\n{cert}", True),
    "main-protocol-spelled-upper": ("", "Protocol HTTPS\n{cert}", True),
    "main-protocol-https-key-only": ("", "Protocol https\nSSLCertificateKeyFile {dir}/key.pem",
                                     False),
    "vhost-protocol-https-certificate": (
        "", "<VirtualHost *:{port}>\nProtocol https\n{cert}\n</VirtualHost>", True),
    "main-protocol-and-certificate-inherited": (
        "", "Protocol https\n{cert}\n<VirtualHost *:{port}>\n</VirtualHost>", True),
    "vhost-protocol-main-certificate": (
        "", "{cert}\n<VirtualHost *:{port}>\nProtocol https\n</VirtualHost>", True),
    "main-engine-on": ("", "SSLEngine on\n{cert}", True),
    "main-engine-on-vhost-off": (
        "", "SSLEngine on\n{cert}\n<VirtualHost *:{port}>\nSSLEngine off\n</VirtualHost>", False),
    "main-engine-on-inherited": (
        "", "SSLEngine on\n{cert}\n<VirtualHost *:{port}>\n</VirtualHost>", True),
    "tls-vhost-behind-plain-base": (
        "", "<VirtualHost *:{port}>\n</VirtualHost>\n<VirtualHost *:{port}>\nServerName b\n"
        "SSLEngine on\n{cert}\n</VirtualHost>", False),
    "plain-listen-engine-on-vhost": (
        "", "<VirtualHost *:{port}>\nSSLEngine on\n{cert}\n</VirtualHost>", True),
}  # fmt: skip


def _speaks_tls(port: int) -> bool:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        try:
            with context.wrap_socket(raw, server_hostname="localhost"):
                return True
        except ssl.SSLError:
            return False  # plain HTTP answers the ClientHello with text


def _measure(name: str, certificates: Path) -> tuple[str, bool, bool]:
    protocol, extra, _ = CASES[name]
    workdir = make_workdir()
    port = free_port()
    text = extra.format(port=port, dir=certificates, cert=CERT.format(dir=certificates))
    conf = write_config(
        workdir,
        port,
        mpm="event",
        workers=2,
        listen=f"127.0.0.1:{port} {protocol}".strip(),
        modules=("socache_shmcb", "ssl"),
        extra=tuple(text.splitlines()),
    )
    config = load_apache(str(conf), root="/")
    assert config is not None
    server = start(conf, port, 1)
    try:
        measured = _speaks_tls(port)
    finally:
        server.stop()
    return name, measured, has_tls_listener(config)


@pytest.fixture(scope="module")
def certificates() -> Path:
    directory = make_workdir()
    openssl = shutil.which("openssl")
    assert openssl is not None, "the TLS cases need the openssl command (Debian: openssl)"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", str(directory / "key.pem"), "-out", str(directory / "cert.pem"),
         "-days", "2", "-subj", "/CN=localhost"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    (directory / "key.pem").chmod(0o644)
    return directory


def test_tcpaudit_finds_tls_where_apache2_speaks_it(certificates: Path) -> None:
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda name: _measure(name, certificates), sorted(CASES)))
    measured = {name: tls for name, tls, _ in results}
    # The cases say what httpd did when they were written; both must still hold.
    assert measured == {name: case[2] for name, case in CASES.items()}
    assert {name: said for name, _, said in results} == measured
