"""A WebSocket-like backend for the lab: answers an upgrade with 101, then keeps the tunnel.

It is no WebSocket implementation: after the 101 it only reads and discards
what the tunnel carries, which is all the lab needs to keep one open through
httpd's mod_proxy. It binds 127.0.0.1 and stops, with every connection it
took, when its context ends.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator

__all__ = ["websocket_backend"]

_SWITCHING = (
    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"
)


@contextlib.contextmanager
def websocket_backend() -> Iterator[int]:
    """Serve upgrades on a free 127.0.0.1 port; yield the port."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    listener.settimeout(0.2)
    stop = threading.Event()
    taken: list[socket.socket] = []

    def tunnel(conn: socket.socket) -> None:
        conn.settimeout(0.2)
        data = b""
        while b"\r\n\r\n" not in data and not stop.is_set():
            with contextlib.suppress(TimeoutError):
                chunk = conn.recv(4096)
                if not chunk:
                    return
                data += chunk
        with contextlib.suppress(OSError):
            conn.sendall(_SWITCHING)
        while not stop.is_set():
            try:
                if not conn.recv(4096):
                    return
            except TimeoutError:
                continue
            except OSError:
                return

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            taken.append(conn)
            threading.Thread(target=tunnel, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield int(listener.getsockname()[1])
    finally:
        stop.set()
        thread.join(2)
        listener.close()
        for conn in taken:
            with contextlib.suppress(OSError):
                conn.close()
