"""What kernel keepalive does to a socket in CLOSE_WAIT, on this machine's kernel (TA201, TA203, TA302).

Apache sets SO_KEEPALIVE on client sockets; the kernel keeps probing a socket
in CLOSE_WAIT (tcp_keepalive_timer skips only LISTEN, CLOSE and SYN_SENT).
Three loopback pairs, the server side in CLOSE_WAIT after its peer's FIN and
probing after 1 s idle, every 1 s, twice (per-socket options: no sysctl is
touched):

- the peer closed and has forgotten the connection: its kernel answers a
  probe with a reset, and the CLOSE_WAIT socket is gone within seconds;
- the peer only shut down its sending side (FIN_WAIT2, still there): it
  answers the probes, and the socket stays in CLOSE_WAIT;
- no SO_KEEPALIVE: nothing probes, and the socket stays although its peer is gone.

In every case the server's read already returns end-of-file: the probes
clean up sockets, they never tell a worker anything it did not know.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager

CLOSE_WAIT = "08"  # include/net/tcp_states.h
TCP_LINGER2 = 8  # linux/tcp.h: lifetime of an orphaned FIN_WAIT2 socket
PROBES_DONE_SECONDS = 1 + 1 * 2  # idle + interval x count


@contextmanager
def _closed_by_peer(keepalive: bool, forget: bool) -> Iterator[tuple[socket.socket, int]]:
    """A server socket in CLOSE_WAIT and its peer's port; the peer forgets it or stays."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    client = socket.create_connection(listener.getsockname(), timeout=5)
    server, _ = listener.accept()
    listener.close()
    peer_port = int(client.getsockname()[1])
    if keepalive:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        server.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 1)
        server.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, 1)
        server.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, 2)
    client.shutdown(socket.SHUT_WR)
    if forget:
        # Closed: its orphaned FIN_WAIT2 lives 1 s, then its kernel forgets it.
        client.setsockopt(socket.IPPROTO_TCP, TCP_LINGER2, 1)
        client.close()
    try:
        yield server, peer_port
    finally:
        server.close()
        client.close()


def _state(server: socket.socket, peer_port: int) -> str | None:
    """The server socket's state in /proc/net/tcp, None once the kernel dropped it."""
    port = server.getsockname()[1]
    with open("/proc/net/tcp") as table:
        for line in table.read().splitlines()[1:]:
            fields = line.split()
            local, remote = fields[1].split(":")[1], fields[2].split(":")[1]
            if int(local, 16) == port and int(remote, 16) == peer_port:
                return fields[3]
    return None


def _eof(server: socket.socket) -> bool:
    server.settimeout(1)
    try:
        return server.recv(1) == b""
    except ConnectionResetError:
        return True


def test_keepalive_probes_end_close_wait_only_once_the_peer_has_forgotten_it() -> None:
    with (
        _closed_by_peer(keepalive=True, forget=True) as forgotten,
        _closed_by_peer(keepalive=True, forget=False) as half_closed,
        _closed_by_peer(keepalive=False, forget=True) as unprobed,
    ):
        for server, peer in (forgotten, half_closed, unprobed):
            assert _state(server, peer) == CLOSE_WAIT
        started = time.monotonic()
        deadline = started + 10
        while _state(*forgotten) is not None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _state(*forgotten) is None, "the probe's reset did not end CLOSE_WAIT"
        # Long enough for every probe of the other two to have gone out.
        time.sleep(max(started + PROBES_DONE_SECONDS + 1 - time.monotonic(), 0))
        assert _state(*half_closed) == CLOSE_WAIT, "a peer in FIN_WAIT2 answers the probes"
        assert _state(*unprobed) == CLOSE_WAIT, "without SO_KEEPALIVE nothing probes"
        for server, _ in (forgotten, half_closed, unprobed):
            assert _eof(server), "the application already reads end-of-file"
