"""The worker-hold lab: a real apache2 with two workers, stalled clients, a queued request.

Each cell starts its own apache2 on 127.0.0.1 (its own free ports, its own
directory), with short timers, and fills both workers with two clients of one
kind of stall. A third client then asks for a page; the time from the start of
the stall until that request is served is how long one stalled client of that
kind keeps a worker from serving anyone else. When the request is still not
served well after every timer of the configuration (twice the longest, plus
the 2 s of a lingering close), the cell reports no limit instead of waiting on.

Independent cells run concurrently (``run_cells``), so the whole lab takes about
as long as its slowest cell. The server's processes are ended by pid when a
cell ends (``apache_server.ApacheServer.stop``); every socket has a deadline.

Kinds of stalled client (``KINDS``):

- ``silent``: connects and sends nothing.
- ``header_stop``: sends part of a request header, then nothing.
- ``header_trickle``: sends header bytes at ``TRICKLE_BYTES_PER_SECOND``, just
  above the MinRate of 500 B/s the lab configures, and never ends the header.
- ``body_stall``: sends a POST header and part of its body to a CGI that reads
  its input, then nothing.
- ``body_trickle``: as ``body_stall``, but keeps sending the body at
  ``TRICKLE_BYTES_PER_SECOND``.
- ``slow_reader``: asks for a file larger than every socket buffer with a 4 KiB
  receive buffer, and never reads.
- ``keepalive_idle``: gets a response on a keep-alive connection, then idles.
- ``tls_handshake``: sends the 5 bytes of a TLS record header to the TLS
  listener, then nothing.

The TLS listener uses a throw-away self-signed certificate made once per run
with the ``openssl`` command (Debian's ``openssl`` package, which ``ssl-cert``,
installed by .ci/run, depends on).
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import sys
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "diagnose"))

# The shared harness, one directory over (start, stop, ports, worker account).
from apache_server import APACHE2, ApacheServer, free_port, make_workdir, server_sockets, start
from lab_clients import KINDS, TUNNEL_KINDS, Stall, probe, stall
from lab_server import (
    WORKERS,
    LabConfig,
    LabFiles,
    VirtualHostSpec,
    check_tls,
    lab_files,
    write_lab_config,
)
from tunnel_backend import websocket_backend

__all__ = [
    "APACHE2",
    "KINDS",
    "LINGER_SECONDS",
    "TUNNEL_KINDS",
    "Cell",
    "CellResult",
    "LabConfig",
    "LabFiles",
    "VirtualHostSpec",
    "lab_files",
    "run_cell",
    "run_cells",
]

# 2 s: lingering close waits that long for a client that neither sends nor closes
# (SECONDS_TO_LINGER, server/connection.c).
LINGER_SECONDS = 2.0
# Time between the stall and the queued request, and the slack added to deadlines.
_SETTLE_SECONDS = 0.3


@dataclass(frozen=True)
class Cell:
    """One measurement: a configuration and a kind of stalled client."""

    config: LabConfig
    kind: str

    @property
    def label(self) -> str:
        return f"{self.config.mpm}-{self.config.name}-{self.kind}"


@dataclass(frozen=True)
class CellResult:
    """What a cell measured.

    Attributes:
        cell: the cell.
        hold_seconds: from the start of the stall until the queued request
            was served; None when it was still waiting at ``gave_up_after``.
        gave_up_after: the deadline after which the cell says "no limit".
        deferred_seconds: for a silent client behind an accept filter (any but ``none``),
            how long the kernel kept it from the server (None otherwise).
        still_held: with no limit, whether the server still held both stalled
            connections open when the cell gave up (None otherwise).
        config_text: the server's configuration, as it ran.
        detail: what happened, for a failing assertion.
    """

    cell: Cell
    hold_seconds: float | None
    gave_up_after: float
    deferred_seconds: float | None = None
    still_held: bool | None = None
    config_text: str = ""
    detail: str = ""


def _accepted_ports(port: int) -> set[int]:
    """Client ports whose connection to ``port`` a process has accepted."""
    return {
        record.remote_port for record in server_sockets(port) if record.remote_port and record.inode
    }


def _client_port(held: Stall) -> int:
    return int(held.sock.getsockname()[1])


def run_cell(cell: Cell, files: LabFiles) -> CellResult:
    """Start the cell's server, stall both workers, time a queued request."""
    if APACHE2 is None:
        raise AssertionError("the lab needs apache2 (Debian: apt-get install apache2)")
    config = cell.config
    processes = WORKERS if config.mpm == "prefork" else 1
    # A port free when probed can be taken by another program on the machine
    # before apache2 binds it: then the cell starts again on other ports.
    for attempt in range(3):
        workdir = make_workdir()
        port = free_port()
        tls_port = free_port() if config.tls else None
        backend = websocket_backend() if config.websocket else contextlib.nullcontext(None)
        with backend as backend_port:
            conf = write_lab_config(workdir, config, files, port, tls_port, backend_port)
            try:
                return _measure(cell, files, workdir, conf, port, tls_port, processes)
            except AssertionError as error:
                if "Address already in use" not in str(error) or attempt == 2:
                    raise
    raise AssertionError("unreachable")


def _measure(
    cell: Cell,
    files: LabFiles,
    workdir: Path,
    conf: Path,
    port: int,
    tls_port: int | None,
    processes: int,
) -> CellResult:
    config = cell.config
    server: ApacheServer | None = None
    stalls: list[Stall] = []
    try:
        server = start(conf, port, processes)
        gave_up_after = 2 * config.longest_timer_seconds() + LINGER_SECONDS + 2.0
        if tls_port is not None:
            check_tls(tls_port)  # the listener works: only the stall is at fault
        stalls = [stall(cell.kind, config, port, tls_port) for _ in range(WORKERS)]
        deferred = None
        began = max(held.started for held in stalls)
        if cell.kind == "silent" and config.accept_filter != "none":
            deferred, began = _wait_deferred(port, stalls, began)
        time.sleep(_SETTLE_SECONDS)
        served = probe(port, began + gave_up_after)
        hold = None if served is None else round(served - began, 2)
        still_held = None if served is not None else all(_open(held.sock) for held in stalls)
        return CellResult(
            cell,
            hold,
            round(gave_up_after, 2),
            deferred,
            still_held,
            conf.read_text(),
            _log_tail(server),
        )
    finally:
        for held in stalls:
            held.close()
        if server is not None:
            server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def _wait_deferred(port: int, stalls: Sequence[Stall], began: float) -> tuple[float, float]:
    """Wait until the kernel hands the silent clients to the server (TCP_DEFER_ACCEPT).

    Returns how long that took (0 when a worker took them at once) and when
    it happened. While they wait in the kernel, a queued request must be
    served at once: they hold no worker yet.
    """
    wanted = {_client_port(held) for held in stalls}
    settled = began + 1.0
    while time.monotonic() < settled:
        if wanted <= _accepted_ports(port):
            return 0.0, began
        time.sleep(0.05)
    served = probe(port, time.monotonic() + 5)
    if served is None:
        raise AssertionError("a request was not served while silent clients were deferred")
    deadline = began + 90
    while time.monotonic() < deadline:
        if wanted <= _accepted_ports(port):
            now = time.monotonic()
            return round(now - began, 2), now
        time.sleep(0.1)
    raise AssertionError("the silent clients were not handed to the server within 90 s")


def _open(sock: socket.socket) -> bool:
    """The server has neither closed nor reset this connection (it may have sent data)."""
    try:
        sock.setblocking(False)
        return sock.recv(1, socket.MSG_PEEK) != b""
    except BlockingIOError:
        return True
    except OSError:
        return False


def _log_tail(server: ApacheServer) -> str:
    lines = [line for line in server.error_log.splitlines() if "AH0" in line]
    return "\n".join(lines[-6:])


def run_cells(cells: Iterable[Cell], files: LabFiles, parallel: int = 16) -> list[CellResult]:
    """Run independent cells concurrently; results in the order of ``cells``."""
    ordered = list(cells)
    with ThreadPoolExecutor(max_workers=max(parallel, 1)) as pool:
        return list(pool.map(lambda cell: run_cell(cell, files), ordered))
