"""The lab's clients: one stalled client of each kind, and the queued request that times them."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable

from lab_server import LabConfig

__all__ = ["KINDS", "TRICKLE_BYTES_PER_SECOND", "TUNNEL_KINDS", "Stall", "probe", "stall"]

KINDS = (
    "silent",
    "header_stop",
    "header_trickle",
    "body_stall",
    "body_trickle",
    "slow_reader",
    "keepalive_idle",
    "tls_handshake",
)
# A slow reader of a response the server's send buffer takes whole (not a
# kind of the model: what its "larger than the socket buffers" leaves out).
FITTING_READER = "fitting_reader"
# Proxied WebSockets (``LabConfig.websocket``): one left idle, one kept busy.
TUNNEL_KINDS = ("websocket_idle", "websocket_active")
# Just above the lab's MinRate=500, so mod_reqtimeout extends the stage to its maximum.
TRICKLE_BYTES_PER_SECOND = 700
_TRICKLE_STEP_SECONDS = 0.1
# A header line is sent in pieces and never longer than LimitRequestFieldSize
# (8190): a trickle must not end in a 400 for a line or field count limit.
_TRICKLE_LINE_BYTES = 2000
_SLOW_READER_RCVBUF = 4096


class Stall:
    """One stalled client: its socket, when its stall began, and a trickle if any."""

    def __init__(self, sock: socket.socket, started: float) -> None:
        self.sock = sock
        self.started = started
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def trickle(self, payload: Callable[[int], bytes]) -> None:
        """Keep sending ``payload(step)`` every step until closed or refused."""

        def run() -> None:
            step = 0
            while not self._stop.wait(_TRICKLE_STEP_SECONDS):
                try:
                    self.sock.sendall(payload(step))
                except OSError:
                    return
                step += 1

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2)
        with contextlib.suppress(OSError):
            self.sock.close()


def _connect(port: int, rcvbuf: int | None = None) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.settimeout(10)
    sock.connect(("127.0.0.1", port))
    return sock


def _trickle_header(step: int) -> bytes:
    """``TRICKLE_BYTES_PER_SECOND`` of header: long lines sent piece by piece."""
    size = int(TRICKLE_BYTES_PER_SECOND * _TRICKLE_STEP_SECONDS)
    per_line = _TRICKLE_LINE_BYTES // size
    if step % per_line == per_line - 1:
        return b"a" * (size - 2) + b"\r\n"
    if step % per_line == 0:
        return b"X-Lab-%04d: " % (step // per_line % 10000) + b"a" * (size - 12)
    return b"a" * size


def _trickle_body(step: int) -> bytes:
    return b"b" * int(TRICKLE_BYTES_PER_SECOND * _TRICKLE_STEP_SECONDS)


def stall(kind: str, config: LabConfig, port: int, tls_port: int | None) -> Stall:
    """Open one client of ``kind`` and bring it to its stall."""
    host = config.target
    if kind == "silent":
        sock = _connect(port)
        return Stall(sock, time.monotonic())
    if kind == "header_stop":
        sock = _connect(port)
        sock.sendall(f"GET / HTTP/1.1\r\nHost: {host}\r\n".encode())
        return Stall(sock, time.monotonic())
    if kind == "header_trickle":
        sock = _connect(port)
        sock.sendall(f"GET / HTTP/1.1\r\nHost: {host}\r\n".encode())
        held = Stall(sock, time.monotonic())
        held.trickle(_trickle_header)
        return held
    if kind in ("body_stall", "body_trickle"):
        sock = _connect(port)
        sock.sendall(
            f"POST /read HTTP/1.1\r\nHost: {host}\r\nContent-Type: text/plain\r\n"
            f"Content-Length: {100_000_000}\r\n\r\n".encode()
            + b"b" * 100
        )
        held = Stall(sock, time.monotonic())
        if kind == "body_trickle":
            held.trickle(_trickle_body)
        return held
    if kind in ("slow_reader", FITTING_READER):
        sock = _connect(port, rcvbuf=_SLOW_READER_RCVBUF)
        path = "/big" if kind == "slow_reader" else "/fits"
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
        return Stall(sock, time.monotonic())
    if kind == "keepalive_idle":
        sock = _connect(port)
        sock.sendall(f"GET /index.html HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
        _read_response(sock)
        return Stall(sock, time.monotonic())
    if kind in TUNNEL_KINDS:
        sock = _connect(port)
        sock.sendall(
            f"GET /ws/ HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = sock.recv(4096)
            if not chunk:
                raise AssertionError(f"no upgrade through the proxy: {head!r}")
            head += chunk
        if not head.startswith(b"HTTP/1.1 101"):
            raise AssertionError(f"the proxy did not switch protocols: {head!r}")
        held = Stall(sock, time.monotonic())
        if kind == "websocket_active":
            held.trickle(lambda step: b"\x81\x01a")  # one small frame every step
        return held
    if kind == "tls_handshake":
        assert tls_port is not None, "tls_handshake needs a TLS listener"
        sock = _connect(tls_port)
        # A TLS record header announcing a handshake message that never comes.
        sock.sendall(b"\x16\x03\x01\x02\x00")
        return Stall(sock, time.monotonic())
    raise ValueError(f"unknown kind {kind!r}")


def _read_response(sock: socket.socket) -> None:
    """Read one small response with a Content-Length, all of it."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            raise AssertionError(f"connection closed before the response: {data!r}")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(body) < length:
        chunk = sock.recv(4096)
        if not chunk:
            break
        body += chunk


def probe(port: int, deadline: float) -> float | None:
    """Send a request; return when its response began, or None past ``deadline``."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.settimeout(max(deadline - time.monotonic(), 0.1))
        sock.connect(("127.0.0.1", port))
        sock.sendall(b"GET /index.html HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        while True:
            sock.settimeout(max(deadline - time.monotonic(), 0.01))
            try:
                chunk = sock.recv(1)
            except TimeoutError:
                return None
            if time.monotonic() > deadline:
                return None
            if not chunk:
                raise AssertionError("the queued request was closed without a response")
            return time.monotonic()
    finally:
        sock.close()
