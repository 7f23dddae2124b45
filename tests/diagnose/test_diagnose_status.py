"""mod_status: the real ?auto page, the fence around fetching it, and a server that cannot answer."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from diagnose_helpers import case

from tcpaudit.diagnose import StatusUnavailable, fetch_status, parse_status
from tcpaudit.diagnose.status import status_url
from tcpaudit.errors import ParseError, UsageError

REAL_PAGE = (case("healthy") / "scoreboard.txt").read_text()


def test_real_page_parses() -> None:
    board = parse_status(REAL_PAGE, "scoreboard.txt")
    # Recorded from the healthy case: one keep-alive client, the status request itself.
    assert (board.busy_workers, board.idle_workers, board.mpm) == (2, 2, "prefork")
    assert board.states == {"keepalive": 1, "waiting": 2, "writing": 1}


def test_not_a_status_page() -> None:
    with pytest.raises(ParseError, match=r"page\.html: no 'Scoreboard:' line"):
        parse_status("<html>It works!</html>", "page.html")
    with pytest.raises(ParseError, match="unknown scoreboard letters"):
        parse_status("Scoreboard: __Z\n", "x")


@pytest.mark.parametrize(
    ("url", "checked"),
    [
        ("http://127.0.0.1/server-status", "http://127.0.0.1/server-status?auto"),
        ("http://localhost:8080/server-status?auto", "http://localhost:8080/server-status?auto"),
        ("http://[::1]/status?x=1", "http://[::1]/status?x=1&auto"),
        ("https://127.0.0.1:8443/server-status#top", "https://127.0.0.1:8443/server-status?auto"),
    ],
)
def test_local_urls_get_auto(url: str, checked: str) -> None:
    assert status_url(url) == checked


@pytest.mark.parametrize(
    "url",
    [
        "https://192.0.2.1/server-status",
        "http://192.0.2.1/server-status",
        "http://127.0.0.1.example.net/server-status",
        "http://user@example.net/server-status",
        "file:///etc/passwd",
    ],
)
def test_anything_not_local_http_or_https_is_refused(url: str) -> None:
    with pytest.raises(UsageError, match=r"only http://127\.0\.0\.1"):
        status_url(url)


@pytest.mark.parametrize("url", ["http://[::1/server-status", "http://[127.0.0.1/"])
def test_a_url_python_cannot_parse_is_a_usage_error(url: str) -> None:
    with pytest.raises(UsageError, match="--status-url"):
        status_url(url)


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path.startswith("/elsewhere"):
            self.send_response(302)
            self.send_header("Location", "http://192.0.2.1/server-status?auto")
            self.end_headers()
            return
        body = REAL_PAGE.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@contextlib.contextmanager
def _local_server() -> Iterator[int]:
    server = HTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_fetch_from_a_local_server() -> None:
    with _local_server() as port:
        board = fetch_status(f"http://127.0.0.1:{port}/server-status", timeout_seconds=2)
    assert board.source == f"http://127.0.0.1:{port}/server-status?auto"
    assert board.count("keepalive") == 1


def test_redirects_are_not_followed() -> None:
    with _local_server() as port, pytest.raises(StatusUnavailable, match="answered HTTP 302"):
        fetch_status(f"http://127.0.0.1:{port}/elsewhere", timeout_seconds=2)


def test_a_server_that_never_accepts_times_out() -> None:
    # A listener nobody accepts from: the kernel completes the handshake and
    # queues the request, exactly what a drained Apache does.
    with socket.socket() as drained:
        drained.bind(("127.0.0.1", 0))
        drained.listen(8)
        port = drained.getsockname()[1]
        with pytest.raises(StatusUnavailable, match=r"did not answer within 0\.3 s"):
            fetch_status(f"http://127.0.0.1:{port}/server-status", timeout_seconds=0.3)


def test_nothing_listening() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(StatusUnavailable, match="refused"):
        fetch_status(f"http://127.0.0.1:{port}/server-status", timeout_seconds=1)
