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
import re
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "diagnose"))

# The shared harness, one directory over (start, stop, ports, worker account).
from apache_server import (
    APACHE2,
    MODULE_DIR,
    ApacheServer,
    _worker_account,
    free_port,
    make_workdir,
    server_sockets,
    start,
)
from tunnel_backend import websocket_backend

__all__ = [
    "KINDS",
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
# Proxied WebSockets (``LabConfig.websocket``): one left idle, one kept busy.
TUNNEL_KINDS = ("websocket_idle", "websocket_active")
WORKERS = 2
# Just above the lab's MinRate=500, so mod_reqtimeout extends the stage to its maximum.
TRICKLE_BYTES_PER_SECOND = 700
_TRICKLE_STEP_SECONDS = 0.1
# A header line is sent in pieces and never longer than LimitRequestFieldSize
# (8190): a trickle must not end in a 400 for a line or field count limit.
_TRICKLE_LINE_BYTES = 2000
# 2 s: lingering close waits that long for a client that neither sends nor closes
# (SECONDS_TO_LINGER, server/connection.c).
LINGER_SECONDS = 2.0
# Time between the stall and the queued request, and the slack added to deadlines.
_SETTLE_SECONDS = 0.3
_BIG_FILE_BYTES = 64 * 1024 * 1024
_SLOW_READER_RCVBUF = 4096


@dataclass(frozen=True)
class VirtualHostSpec:
    """A name-based ``<VirtualHost>`` on the lab's plain listener."""

    name: str
    lines: tuple[str, ...] = ()


@dataclass(frozen=True)
class LabConfig:
    """One configuration of the lab's server.

    Attributes:
        name: a short label for tables (``reqtimeout``, ``none``, ...).
        mpm: prefork, worker or event.
        timeout: Timeout (s).
        keepalive_timeout: KeepAliveTimeout as written (``2``, ``1500ms``).
        keepalive: KeepAlive On or Off.
        reqtimeout: the RequestReadTimeout arguments; ``""`` loads mod_reqtimeout
            without the directive; None leaves the module out.
        accept_filter: the AcceptFilter of the plain listener (``none`` or ``data``).
        tls: a TLS listener too (mod_ssl), with AcceptFilter https none.
        websocket: proxy ``/ws/`` to a WebSocket backend (mod_proxy_wstunnel).
        vhosts: name-based virtual hosts on the plain listener, in order.
        target: the Host the stalled clients name once they send a header.
        extra: more lines for the main server.
    """

    name: str
    mpm: str
    timeout: int = 4
    keepalive_timeout: str = "2"
    keepalive: bool = True
    reqtimeout: str | None = None
    accept_filter: str = "none"
    tls: bool = False
    websocket: bool = False
    vhosts: tuple[VirtualHostSpec, ...] = ()
    target: str = "localhost"
    extra: tuple[str, ...] = ()

    def longest_timer_seconds(self) -> float:
        """The longest time any timer of this configuration can run, in seconds."""
        numbers = [float(self.timeout), _seconds(self.keepalive_timeout)]
        texts = [self.reqtimeout or "", *(" ".join(v.lines) for v in self.vhosts)]
        for text in texts:
            # Timeout N, KeepAliveTimeout N, stage=N or stage=N-M (MinRate is no time).
            for match in re.finditer(r"(minrate=|=|-|timeout )(\d+)", text.lower()):
                if match.group(1) != "minrate=":
                    numbers.append(float(match.group(2)))
        return max(numbers)

    def with_mpm(self, mpm: str) -> LabConfig:
        return replace(self, mpm=mpm)


def _seconds(text: str) -> float:
    if text.endswith("ms"):
        return int(text[:-2]) / 1000
    return float(text)


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


@dataclass(frozen=True)
class LabFiles:
    """Files every cell shares: a large file to serve and a TLS key pair."""

    directory: Path
    big_file: Path
    certificate: Path
    key: Path


@contextlib.contextmanager
def lab_files() -> Iterator[LabFiles]:
    """Make the shared files in a fresh directory, removed afterwards."""
    directory = Path(tempfile.mkdtemp(prefix="tcpaudit-holdlab-"))
    directory.chmod(0o755)
    try:
        big = directory / "big.bin"
        with big.open("wb") as handle:
            handle.truncate(_BIG_FILE_BYTES)  # sparse: costs no disk
        big.chmod(0o644)
        certificate, key = directory / "cert.pem", directory / "key.pem"
        openssl = shutil.which("openssl")
        if openssl is None:
            raise AssertionError("the lab needs the openssl command (Debian: openssl)")
        subprocess.run(
            [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
             "-nodes", "-keyout", str(key), "-out", str(certificate), "-days", "2",
             "-subj", "/CN=localhost"],
            check=True, capture_output=True, timeout=60,
        )  # fmt: skip
        key.chmod(0o644)
        yield LabFiles(directory, big, certificate, key)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def _modules(config: LabConfig) -> list[str]:
    modules = [f"mpm_{config.mpm}", "authz_core", "alias"]
    modules.append("cgi" if config.mpm == "prefork" else "cgid")
    if config.reqtimeout is not None:
        modules.append("reqtimeout")
    if config.tls:
        modules += ["socache_shmcb", "ssl"]
    if config.websocket:
        modules += ["proxy", "proxy_http", "proxy_wstunnel"]
    return modules


def write_lab_config(
    workdir: Path,
    config: LabConfig,
    files: LabFiles,
    port: int,
    tls_port: int | None,
    backend_port: int | None = None,
) -> Path:
    """Write the cell's httpd.conf and its CGI; return the configuration's path."""
    for directory in ("logs", "run", "htdocs", "cgi"):
        (workdir / directory).mkdir(exist_ok=True)
    (workdir / "htdocs" / "index.html").write_text("hello\n")
    account = _worker_account()
    if account is not None:
        shutil.chown(workdir / "run", user=account[0], group=account[1])
    script = workdir / "cgi" / "read"
    # Reads its whole input, as an upload handler does, then answers.
    script.write_text(
        "#!/bin/sh\ncat >/dev/null\nprintf 'Content-Type: text/plain\\r\\n\\r\\nread\\n'\n"
    )
    script.chmod(0o755)
    lines = [
        f"ServerRoot {workdir}",
        *(f"LoadModule {m}_module {MODULE_DIR}/mod_{m}.so" for m in _modules(config)),
        "ServerName localhost",
        f"Listen 127.0.0.1:{port}",
        f"PidFile {workdir}/run/httpd.pid",
        f"ErrorLog {workdir}/logs/error.log",
        "LogLevel info",
        f"DefaultRuntimeDir {workdir}/run",
        f"Mutex file:{workdir}/run default",
        f"DocumentRoot {workdir}/htdocs",
        f"Timeout {config.timeout}",
        f"KeepAlive {'On' if config.keepalive else 'Off'}",
        f"KeepAliveTimeout {config.keepalive_timeout}",
        "MaxKeepAliveRequests 100",
        f"AcceptFilter http {config.accept_filter}",
        f"Alias /big {files.big_file}",
        f"ScriptAlias /read {script}",
        *config.extra,
    ]
    if config.mpm != "prefork":
        lines.append(f"ScriptSock {workdir}/run/cgid.sock")
    if backend_port is not None:
        lines.append(f"ProxyPass /ws/ ws://127.0.0.1:{backend_port}/")
    if config.mpm == "prefork":
        lines += [
            f"StartServers {WORKERS}",
            "MinSpareServers 1",
            f"MaxSpareServers {WORKERS}",
            f"ServerLimit {WORKERS}",
            f"MaxRequestWorkers {WORKERS}",
        ]
    else:
        lines += [
            "StartServers 1",
            "ServerLimit 1",
            f"ThreadsPerChild {WORKERS}",
            f"ThreadLimit {WORKERS}",
            f"MaxRequestWorkers {WORKERS}",
            "MinSpareThreads 1",
            f"MaxSpareThreads {WORKERS}",
        ]
    if config.reqtimeout:
        lines.append(f"RequestReadTimeout {config.reqtimeout}")
    if account is not None:
        lines += ["<IfModule unixd_module>", f"    User {account[0]}", f"    Group {account[1]}",
                  "</IfModule>"]  # fmt: skip
    for vhost in config.vhosts:
        lines += [
            f"<VirtualHost 127.0.0.1:{port}>",
            f"    ServerName {vhost.name}",
            *(f"    {line}" for line in vhost.lines),
            "</VirtualHost>",
        ]
    if config.tls and tls_port is not None:
        lines += [
            f"Listen 127.0.0.1:{tls_port} https",
            "AcceptFilter https none",
            f"SSLSessionCache shmcb:{workdir}/run/ssl_scache(512000)",
            f"<VirtualHost 127.0.0.1:{tls_port}>",
            "    ServerName localhost",
            "    SSLEngine on",
            f"    SSLCertificateFile {files.certificate}",
            f"    SSLCertificateKeyFile {files.key}",
            "</VirtualHost>",
        ]
    conf = workdir / "httpd.conf"
    conf.write_text("\n".join(lines) + "\n")
    return conf


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
    if kind == "slow_reader":
        sock = _connect(port, rcvbuf=_SLOW_READER_RCVBUF)
        sock.sendall(f"GET /big HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
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
    workdir = make_workdir()
    port = free_port()
    tls_port = free_port() if config.tls else None
    processes = WORKERS if config.mpm == "prefork" else 1
    backend = websocket_backend() if config.websocket else contextlib.nullcontext(None)
    with backend as backend_port:
        conf = write_lab_config(workdir, config, files, port, tls_port, backend_port)
        return _measure(cell, files, workdir, conf, port, tls_port, processes)


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


def check_tls(port: int) -> None:
    """A full TLS handshake works on the lab's TLS listener (the stall is the only fault)."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname="localhost") as tls,
    ):
        tls.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        if not tls.recv(64).startswith(b"HTTP/1.1"):
            raise AssertionError("no HTTP response over TLS")
