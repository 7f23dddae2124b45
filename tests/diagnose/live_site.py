"""A proxying site on a real apache2, started by hand with its own -f, and its backends.

The site is what the diagnose command must judge without being told where it
is: a configuration in a temporary directory, started as
``apache2 -f DIR/site.conf -D SLOWSITE -DFOREGROUND``, whose ``Timeout``
depends on that ``-D`` (``<IfDefine SLOWSITE>``) and whose ``User`` line
needs the mod_unixd Debian links into apache2. Two Python backends sit
behind it: ``slow`` answers after a long wait (holding Apache's workers in
the proxy handler), ``pooled`` answers at once and closes a keep-alive
connection after ``BACKEND_IDLE_SECONDS`` idle, so the connection mod_proxy
pools for reuse is left in CLOSE_WAIT on Apache's side.
"""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import shutil
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from apache_server import (
    MODULE_DIR,
    ApacheServer,
    free_port,
    make_workdir,
    server_sockets,
    start,
    wait_for,
)

from tcpaudit.diagnose import TcpState

BACKEND_IDLE_SECONDS = 0.5
SLOW_SECONDS = 40.0
WORKERS = 2
DEFINE = "SLOWSITE"
STEP_SECONDS = 8.0


class _Backend(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as a pooled backend speaks
    timeout = BACKEND_IDLE_SECONDS  # an idle keep-alive connection is closed after this
    release: threading.Event

    def do_GET(self) -> None:
        if self.path.startswith("/slow"):
            self.release.wait(SLOW_SECONDS)
        body = b"ok\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Silent: the test reads sockets, not logs."""


@dataclass
class Backend:
    """A ThreadingHTTPServer on 127.0.0.1 serving in a daemon thread."""

    server: ThreadingHTTPServer
    thread: threading.Thread

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        """Apache resets pooled connections at shutdown: not worth a traceback."""


def start_backend(release: threading.Event) -> Backend:
    handler = type("Handler", (_Backend,), {"release": release})
    server = _QuietServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return Backend(server, thread)


@dataclass
class Site:
    """One apache2 (prefork or event) with its two backends."""

    mpm: str
    port: int
    conf: Path
    timeout_line: int
    api_line: int
    slow_backend: Backend
    pooled_backend: Backend
    server: ApacheServer | None = None
    clients: list[socket.socket] = field(default_factory=list)

    def connect(self) -> socket.socket:
        client = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        self.clients.append(client)
        return client

    def close_clients(self) -> None:
        for client in self.clients:
            with contextlib.suppress(OSError):
                client.close()
        self.clients.clear()


def write_site(workdir: Path, mpm: str, port: int, slow: int, pooled: int) -> tuple[Path, int, int]:
    """The site's configuration; returns its path, the judged Timeout's line and /api/'s line."""
    for directory in ("logs", "run", "htdocs"):
        (workdir / directory).mkdir(exist_ok=True)
    (workdir / "htdocs" / "index.html").write_text("hello\n")
    user = pwd.getpwnam("nobody")
    group = grp.getgrgid(user.pw_gid).gr_name
    if os.geteuid() == 0:
        shutil.chown(workdir / "run", user=user.pw_name, group=group)
    modules = [f"mpm_{mpm}", "authz_core", "proxy", "proxy_http"]
    lines = [
        f"ServerRoot {workdir}",
        *(f"LoadModule {m}_module {MODULE_DIR}/mod_{m}.so" for m in modules),
        "ServerName localhost",
        f"Listen 127.0.0.1:{port}",
        f"PidFile {workdir}/run/httpd.pid",
        f"ErrorLog {workdir}/logs/error.log",
        "LogLevel warn",
        f"DefaultRuntimeDir {workdir}/run",
        f"Mutex file:{workdir}/run default",
        f"DocumentRoot {workdir}/htdocs",
        # Debian links mod_unixd into apache2: no LoadModule, no <IfModule>.
        f"User {user.pw_name}",
        f"Group {group}",
        "Timeout 300",
        f"<IfDefine {DEFINE}>",
        "    Timeout 120",
        "</IfDefine>",
        "KeepAlive On",
        "KeepAliveTimeout 15",
        f"ProxyPass /slow/ http://127.0.0.1:{slow}/slow/",
        f"ProxyPass /api/ http://127.0.0.1:{pooled}/api/",
    ]
    if mpm == "prefork":
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
    conf = workdir / "site.conf"
    conf.write_text("\n".join(lines) + "\n")
    api = f"ProxyPass /api/ http://127.0.0.1:{pooled}/api/"
    return conf, lines.index("    Timeout 120") + 1, lines.index(api) + 1


def _counts(port: int) -> dict[TcpState, int]:
    records = server_sockets(port)
    counts: dict[TcpState, int] = {}
    for record in records:
        counts[record.state] = counts.get(record.state, 0) + 1
    return counts


def _queue(port: int) -> int:
    return sum(r.rx_queue for r in server_sockets(port) if r.state is TcpState.LISTEN)


def _backend_close_wait(pooled: int) -> int:
    from tcpaudit.diagnose import read_proc_sockets
    from tcpaudit.rootfs import RootFS

    return sum(
        1
        for r in read_proc_sockets(RootFS("/"))
        if r.remote_port == pooled and r.state is TcpState.CLOSE_WAIT
    )


def drive(site: Site) -> None:
    """Bring the site to the state the tests assert on.

    1. One request through /api/: its pooled backend connection is closed by
       the backend after 0.5 s idle and stays in CLOSE_WAIT on Apache's side.
    2. Two requests to /slow/ take both workers (the backend holds them).
    3. Queued behind them: two clients that connect and FIN without a byte
       (Recv-Q 1), one that sends a request then FINs (Recv-Q > 1), one that
       sends a request and waits; one silent client stays in SYN-RECV
       (AcceptFilter's Linux default defers it until data arrives).
    4. One of the two /slow/ clients gives up: a worker holds its CLOSE_WAIT.
    """
    api = site.connect()
    api.sendall(b"GET /api/x HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
    while api.recv(65536):
        pass
    api.close()
    pooled = site.pooled_backend.port
    wait_for(lambda: _backend_close_wait(pooled) == 1, STEP_SECONDS, "pooled CLOSE_WAIT")
    slow = []
    for _ in range(WORKERS):
        client = site.connect()
        client.sendall(b"GET /slow/x HTTP/1.1\r\nHost: localhost\r\n\r\n")
        slow.append(client)

    def accepted() -> bool:
        records = server_sockets(site.port)
        return sum(1 for r in records if r.held and r.state is TcpState.ESTABLISHED) == WORKERS

    wait_for(accepted, STEP_SECONDS, "both /slow/ requests accepted")
    for _ in range(2):
        give_up(site.connect())
    carrying = site.connect()
    carrying.sendall(b"GET /index.html HTTP/1.1\r\nHost: localhost\r\n\r\n")
    give_up(carrying)
    waiting = site.connect()
    waiting.sendall(b"GET /index.html HTTP/1.1\r\nHost: localhost\r\n\r\n")
    site.connect()  # silent: SYN-RECV on the server under TCP_DEFER_ACCEPT
    give_up(slow[0])
    wait_for(
        lambda: (
            _queue(site.port) == 4
            and _counts(site.port).get(TcpState.CLOSE_WAIT, 0) == 4
            and _counts(site.port).get(TcpState.SYN_RECV, 0) == 1
        ),
        STEP_SECONDS,
        "4 queued, 4 CLOSE_WAIT, 1 SYN-RECV",
    )


def give_up(client: socket.socket) -> None:
    """What a client or proxy that stops waiting does: FIN its side."""
    client.shutdown(socket.SHUT_WR)


@contextlib.contextmanager
def running_site(mpm: str, release: threading.Event) -> Iterator[Site]:
    """A driven site; everything it started is stopped on the way out, failure or not."""
    workdir = make_workdir()
    slow = start_backend(release)
    pooled = start_backend(release)
    site: Site | None = None
    try:
        port = free_port()
        conf, timeout_line, api_line = write_site(workdir, mpm, port, slow.port, pooled.port)
        site = Site(mpm, port, conf, timeout_line, api_line, slow, pooled)
        site.server = start(conf, port, WORKERS if mpm == "prefork" else 1, ("-D", DEFINE))
        yield site
    finally:
        release.set()
        if site is not None:
            site.close_clients()
            if site.server is not None:
                site.server.stop()
        slow.stop()
        pooled.stop()
        shutil.rmtree(workdir, ignore_errors=True)
