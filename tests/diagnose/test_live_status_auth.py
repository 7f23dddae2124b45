"""A real apache2 with mod_status behind ``AuthType Basic``, over http and https.

Debian's apache2 (prefork, two workers) on 127.0.0.1 checks the user and
password against an htpasswd file (``{SHA}`` form) with mod_authn_file, and
serves the same status page on a TLS virtual host (mod_ssl, a self-signed
certificate for another name, as a local server's usually is). tcpaudit must
get the scoreboard with the right credentials, say which 401 it got
otherwise, and print neither user nor password anywhere.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from apache_server import APACHE2, free_port, make_workdir, start, write_config
from status_auth_server import (
    ESCAPED,
    PASSWORD,
    USER,
    assert_no_secret,
    make_certificate,
    tcpaudit,
)

from tcpaudit.diagnose import StatusUnavailable, fetch_status

WORKERS = 2


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[Path, int, int]]:
    """(configuration, http port, https port) of a running apache2."""
    assert APACHE2 is not None, "apache2 is required (Debian: apt-get install apache2)"
    workdir = make_workdir()
    digest = base64.b64encode(hashlib.sha1(PASSWORD.encode()).digest()).decode()
    users = workdir / "htpasswd"
    users.write_text(f"{USER}:{{SHA}}{digest}\n")
    users.chmod(0o644)
    certificate, key = make_certificate(workdir)
    port, tls_port = free_port(), free_port()
    conf = write_config(
        workdir,
        port,
        workers=WORKERS,
        modules=("auth_basic", "authn_core", "authn_file", "authz_user", "ssl"),
        status_access=(
            "AuthType Basic",
            'AuthName "server status"',
            f"AuthUserFile {users}",
            f"Require user {USER}",
        ),
        extra=(
            f"Listen 127.0.0.1:{tls_port}",
            f"<VirtualHost 127.0.0.1:{tls_port}>",
            "    SSLEngine on",
            f"    SSLCertificateFile {certificate}",
            f"    SSLCertificateKeyFile {key}",
            "</VirtualHost>",
        ),
    )
    running = start(conf, port, WORKERS)
    try:
        yield conf, port, tls_port
    finally:
        running.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def test_apache_answers_the_right_credentials_only(server: tuple[Path, int, int]) -> None:
    _, port, tls_port = server
    board = fetch_status(f"http://{USER}:{ESCAPED}@127.0.0.1:{port}/server-status")
    assert board.mpm == "prefork" and board.busy_workers >= 1  # the status request itself
    assert board.source == f"http://127.0.0.1:{port}/server-status?auto"
    board = fetch_status(f"https://{USER}:{ESCAPED}@localhost:{tls_port}/server-status")
    assert board.source == f"https://localhost:{tls_port}/server-status?auto"
    with pytest.raises(StatusUnavailable) as refused:
        fetch_status(f"https://{USER}:Vq9k%40Zx7w@127.0.0.1:{tls_port}/server-status")
    assert refused.value.reason.endswith("answered HTTP 401: the user and password were refused")
    with pytest.raises(StatusUnavailable, match="401: it asks for a user and password"):
        fetch_status(f"http://127.0.0.1:{port}/server-status")
    assert_no_secret(refused.value.reason)


def test_diagnose_a_live_apache_with_credentials(server: tuple[Path, int, int]) -> None:
    conf, port, tls_port = server
    right = f"https://{USER}:{ESCAPED}@127.0.0.1:{tls_port}/server-status"
    wrong = f"http://{USER}:Vq9k-Zx7w@127.0.0.1:{port}/server-status"
    base = ("diagnose", "--apache-conf", str(conf), "--ports", str(port), "--fail-on", "never")
    fetched = tcpaudit("-vv", *base, "--status-url", right, "--format", "json")
    assert fetched.returncode == 0, fetched.stderr
    data = json.loads(fetched.stdout)
    assert data["scoreboard"]["source"] == f"https://127.0.0.1:{tls_port}/server-status?auto"
    assert data["workers"]["busy_source"] == "scoreboard" and data["workers"]["limit"] == WORKERS
    from_environment = tcpaudit(
        *base,
        "--status-url",
        f"http://localhost:{port}/server-status",
        "--status-auth-env",
        "APACHE_STATUS_AUTH",
        env={"APACHE_STATUS_AUTH": f"{USER}:{PASSWORD}"},
    )
    assert "Workers busy:" in from_environment.stdout
    assert "(from scoreboard)" in from_environment.stdout
    refused = tcpaudit("-vv", *base, "--status-url", wrong)
    assert "answered HTTP 401: the user and password were refused" in refused.stdout
    assert_no_secret(
        fetched.stdout,
        fetched.stderr,
        from_environment.stdout,
        from_environment.stderr,
        refused.stdout,
        refused.stderr,
    )
