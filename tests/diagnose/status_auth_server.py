"""A local status page behind basic authentication (stdlib http.server, http or https).

It answers ``?auto`` with the healthy case's recorded page to the one right
``Authorization`` header and 401 to anything else, and records every request's
header, so that a test sees what the client really sent.
"""

from __future__ import annotations

import base64
import contextlib
import os
import shutil
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

from diagnose_helpers import case

PAGE = (case("healthy") / "scoreboard.txt").read_bytes()
# Distinctive pieces: any of them in an output is a leak.
USER = "opsreader"
PASSWORD = "Vq9k#@:/%Zx7w"
ESCAPED = "Vq9k%23%40%3A%2F%25Zx7w"  # the password as it is written in a URL
CREDENTIALS = f"{USER}:{PASSWORD}".encode()
SECRETS = (USER, "Vq9k", "Zx7w", base64.b64encode(CREDENTIALS).decode())


def assert_no_secret(*outputs: str) -> None:
    for output in outputs:
        for secret in SECRETS:
            assert secret not in output, (secret, output)


def tcpaudit(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The real command in a child process, so that -vv logging reaches its stderr."""
    return subprocess.run(
        [sys.executable, "-m", "tcpaudit", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
        check=False,
    )


@dataclass
class StatusServer:
    """What the running server expects and what it saw."""

    port: int
    expected: bytes  # the decoded user:password it accepts
    challenge: str = "Basic"
    seen: list[str | None] = field(default_factory=list)


def _handler(state: StatusServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            header = self.headers.get("Authorization")
            state.seen.append(header)
            right = "Basic " + base64.b64encode(state.expected).decode()
            if header != right or state.challenge != "Basic":
                self.send_response(401)
                self.send_header("WWW-Authenticate", f'{state.challenge} realm="status"')
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(PAGE)))
            self.end_headers()
            self.wfile.write(PAGE)

        def log_message(self, *args: object) -> None:
            pass

    return Handler


def make_certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for ``localhost`` made by the openssl command."""
    openssl = shutil.which("openssl")
    if openssl is None:
        raise AssertionError("the https tests need the openssl command (Debian: openssl)")
    certificate, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", str(key), "-out", str(certificate), "-days", "2",
         "-subj", "/CN=www.example.net"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    key.chmod(0o644)  # apache2's workers read it after dropping root
    return certificate, key


@contextlib.contextmanager
def status_server(
    expected: bytes, *, challenge: str = "Basic", tls: tuple[Path, Path] | None = None
) -> Iterator[StatusServer]:
    """Serve on 127.0.0.1 (an ephemeral port) until the block ends."""
    state = StatusServer(port=0, expected=expected, challenge=challenge)
    server = HTTPServer(("127.0.0.1", 0), _handler(state))
    if tls is not None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*tls)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
