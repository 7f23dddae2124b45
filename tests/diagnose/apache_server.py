"""A real apache2 on 127.0.0.1, and clients that make it pile up CLOSE_WAIT.

Used by the end-to-end test and by ``capture.py`` (which records the replay
fixtures from the same server). Everything here is bounded: the server binds
127.0.0.1 only, every wait has a deadline, and ``ApacheServer.stop`` ends the
server and every process it started, by pid (SIGTERM, then SIGKILL).

The server's files live in a fresh ``tempfile.mkdtemp`` directory opened to
0755, not in pytest's ``tmp_path``: when the tests run as root, Apache's
workers switch to ``nobody`` and must reach the CGI script, and pytest keeps
its temporary root at 0700. Each such directory is removed when the test
process exits, so runs leave nothing behind in the temporary directory.
"""

from __future__ import annotations

import atexit
import contextlib
import grp
import os
import pwd
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tcpaudit.diagnose import SocketRecord, TcpState, read_proc_sockets
from tcpaudit.rootfs import RootFS

APACHE2 = shutil.which("apache2") or shutil.which("apache2", path="/usr/sbin:/usr/local/sbin")
# Debian's module directory (apache2 -V does not print it; apache2ctl's envvars do not either).
MODULE_DIR = Path("/usr/lib/apache2/modules")
START_SECONDS = 10.0
STOP_SECONDS = 5.0


_HANDED_OUT: set[int] = set()
_PORT_LOCK = threading.Lock()
_WORKDIRS: list[Path] = []


@atexit.register
def _remove_workdirs() -> None:
    # At exit, not per test: a server a failed test left running is stopped
    # by its own fixture first, and its logs stay readable until then.
    for workdir in _WORKDIRS:
        shutil.rmtree(workdir, ignore_errors=True)


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port() -> int:
    """A TCP port nothing is bound to now, below the kernel's ephemeral range.

    A port the kernel picks for a listener comes from the range it also gives
    outgoing connections: with dozens of servers and their clients side by
    side, a client's source port took one before apache2 bound it
    (EADDRINUSE). Ports below the range are never handed to clients, and the
    ports given out here are never given twice in one run.
    """
    low = _ephemeral_low()
    with _PORT_LOCK:
        for _ in range(1000):
            port = random.randint(min(20000, low - 1000), low - 1)
            if port in _HANDED_OUT:
                continue
            with socket.socket() as probe:
                try:
                    probe.bind(("127.0.0.1", port))
                except OSError:
                    continue
            _HANDED_OUT.add(port)
            return port
    raise AssertionError("no free TCP port below the ephemeral range")


def make_workdir() -> Path:
    """A directory Apache's workers can read even after dropping root."""
    workdir = Path(tempfile.mkdtemp(prefix="tcpaudit-apache-"))
    workdir.chmod(0o755)
    _WORKDIRS.append(workdir)
    return workdir


def _worker_account() -> tuple[str, str] | None:
    if os.geteuid() != 0:
        return None  # workers keep our own uid
    user = pwd.getpwnam("nobody")
    return user.pw_name, grp.getgrgid(user.pw_gid).gr_name


def write_config(
    workdir: Path,
    port: int,
    *,
    mpm: str = "prefork",
    workers: int = 2,
    listen: str | None = None,
    timeout: int = 300,
    keepalive_timeout: int = 15,
    reqtimeout: str | None = None,
    cgi_sleep_seconds: int | None = None,
    listen_backlog: int | None = None,
    name: str = "httpd.conf",
    modules: tuple[str, ...] = (),
    status_access: tuple[str, ...] = (),
    extra: tuple[str, ...] = (),
) -> Path:
    """Write a self-contained configuration; return its path.

    Args:
        workdir: the server's directory (config, pid file, logs, CGI, docroot).
        port: the port to listen on (127.0.0.1 unless ``listen`` says otherwise).
        mpm: prefork, worker or event.
        workers: MaxRequestWorkers (and ServerLimit / StartServers for prefork).
        listen: the Listen argument; default ``127.0.0.1:<port>``.
        timeout: Timeout in seconds.
        keepalive_timeout: KeepAliveTimeout in seconds.
        reqtimeout: a RequestReadTimeout argument; None leaves mod_reqtimeout out.
        cgi_sleep_seconds: serve /slow from a CGI that waits this long (prefork only).
        listen_backlog: ListenBacklog; None keeps httpd's default (511).
        modules: more modules to load (``auth_basic``, ``ssl``...).
        status_access: directives inside ``<Location /server-status>`` (AuthType...).
        extra: directives at the end of the main configuration (a TLS virtual host...).
    """
    for directory in ("logs", "run", "htdocs", "cgi"):
        (workdir / directory).mkdir(exist_ok=True)
    (workdir / "htdocs" / "index.html").write_text("hello\n")
    account = _worker_account()
    if account is not None:
        shutil.chown(workdir / "run", user=account[0], group=account[1])
    modules = [f"mpm_{mpm}", "authz_core", "alias", "status", *modules]
    if cgi_sleep_seconds is not None:
        modules.append("cgi")
    if reqtimeout is not None:
        modules.append("reqtimeout")
    lines = [
        f"ServerRoot {workdir}",
        *(f"LoadModule {m}_module {MODULE_DIR}/mod_{m}.so" for m in modules),
        "ServerName localhost",
        f"Listen {listen or f'127.0.0.1:{port}'}",
        f"PidFile {workdir}/run/httpd.pid",
        f"ErrorLog {workdir}/logs/error.log",
        "LogLevel warn",
        f"DefaultRuntimeDir {workdir}/run",
        f"Mutex file:{workdir}/run default",
        f"DocumentRoot {workdir}/htdocs",
        f"Timeout {timeout}",
        "KeepAlive On",
        f"KeepAliveTimeout {keepalive_timeout}",
        "MaxKeepAliveRequests 100",
        "<Location /server-status>",
        "    SetHandler server-status",
        *(f"    {line}" for line in status_access),
        "</Location>",
    ]
    if mpm == "prefork":
        lines += [
            f"StartServers {workers}",
            "MinSpareServers 1",
            f"MaxSpareServers {workers}",
            f"ServerLimit {workers}",
            f"MaxRequestWorkers {workers}",
        ]
    else:
        lines += [
            "StartServers 1",
            "ServerLimit 1",
            f"ThreadsPerChild {workers}",
            f"ThreadLimit {workers}",
            f"MaxRequestWorkers {workers}",
            "MinSpareThreads 1",
            f"MaxSpareThreads {workers}",
        ]
    if reqtimeout is not None:
        lines.append(f"RequestReadTimeout {reqtimeout}")
    if listen_backlog is not None:
        lines.append(f"ListenBacklog {listen_backlog}")
    if account is not None:
        # mod_unixd is compiled into Debian's apache2; tcpaudit reading a
        # configuration outside a known layout assumes a generic build, where
        # User/Group would need LoadModule. <IfModule> suits both.
        lines += [
            "<IfModule unixd_module>",
            f"    User {account[0]}",
            f"    Group {account[1]}",
            "</IfModule>",
        ]
    lines += extra
    if cgi_sleep_seconds is not None:
        script = workdir / "cgi" / "slow"
        # exec: the sleeping process is the CGI itself, so Apache's cleanup
        # (SIGTERM on Timeout or shutdown) ends it; nothing outlives the server.
        script.write_text(
            "#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\n'\n"
            f"exec sleep {cgi_sleep_seconds}\n"
        )
        script.chmod(0o755)
        lines.append(f"ScriptAlias /slow {script}")
    conf = workdir / name
    conf.write_text("\n".join(lines) + "\n")
    return conf


def _process_table() -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, start time in clock ticks) for every live process."""
    table: dict[int, tuple[int, str]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        # The command may contain spaces and parentheses: fields follow the last ')'.
        fields = stat.rsplit(")", 1)[1].split()
        table[int(entry)] = (int(fields[1]), fields[19])
    return table


def _descendants(parent: int) -> dict[int, str]:
    """Every live descendant of ``parent``: pid -> start time (tells a reused pid apart)."""
    table = _process_table()
    found: dict[int, str] = {}
    frontier = [parent]
    while frontier:
        current = frontier.pop()
        for pid, (ppid, started) in table.items():
            if ppid == current:
                found[pid] = started
                frontier.append(pid)
    return found


def server_sockets(port: int) -> list[SocketRecord]:
    """The live socket table, server side of ``port`` only."""
    return [r for r in read_proc_sockets(RootFS("/")) if r.local_port == port]


def wait_for(condition: Callable[[], object], seconds: float, what: str) -> None:
    """Poll ``condition()`` every 50 ms until true; fail with ``what`` after ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"not within {seconds:g} s: {what}")


@dataclass
class ApacheServer:
    """A running ``apache2 -DFOREGROUND`` child and what it needs to stop."""

    conf: Path
    port: int
    process: subprocess.Popen[bytes]
    seen: dict[int, str] = field(default_factory=dict)

    @property
    def error_log(self) -> str:
        path = self.conf.parent / "logs" / "error.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def workers(self) -> list[int]:
        """Live descendants of the server (its children, and CGI processes they run)."""
        found = _descendants(self.process.pid)
        self.seen.update(found)
        return sorted(found)

    def stop(self) -> None:
        """SIGTERM the server, then SIGKILL it and anything it started that is left."""
        self.workers()  # remember every descendant before the parent goes
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(STOP_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(STOP_SECONDS)
        for pid, started in sorted(self.seen.items()):
            for sig in (signal.SIGTERM, signal.SIGKILL):
                # Only the very process we saw: same pid and same start time.
                if _process_table().get(pid, (0, ""))[1] != started:
                    break
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, sig)
                time.sleep(0.1)


def start(
    conf: Path, port: int, workers: int, arguments: tuple[str, ...] = (), *, with_f: bool = True
) -> ApacheServer:
    """Start apache2 in the foreground; return once it listens and ``workers`` children run.

    ``arguments`` go on its command line after ``-f CONF`` (``-D NAME``, ``-C LINE``);
    ``with_f`` False leaves ``-f`` out (``arguments`` then say where, with ``-d``).
    """
    if APACHE2 is None:
        raise AssertionError("apache2 is not installed: the end-to-end test needs Debian's apache2")
    environment = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C"}
    process = subprocess.Popen(
        [APACHE2, *(["-f", str(conf)] if with_f else []), *arguments, "-DFOREGROUND"],
        env=environment,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        # On shutdown prefork signals its whole process group (killpg in
        # prefork.c); in its own session that group is the server alone.
        start_new_session=True,
    )
    server = ApacheServer(conf=conf, port=port, process=process)
    try:
        wait_for(
            lambda: (
                process.poll() is not None
                or (
                    any(r.state is TcpState.LISTEN for r in server_sockets(port))
                    and len(server.workers()) >= workers
                )
            ),
            START_SECONDS,
            "apache2 listening with its workers",
        )
        if process.poll() is not None:
            stderr = process.stderr.read().decode(errors="replace") if process.stderr else ""
            raise AssertionError(f"apache2 exited {process.returncode}: {stderr}{server.error_log}")
    except BaseException:
        server.stop()
        raise
    return server


class Clients:
    """Client sockets to 127.0.0.1:<port>, closed together."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.sockets: list[socket.socket] = []

    def request(self, path: str, *, read_reply: bool = False) -> socket.socket:
        """Connect, send one keep-alive GET; with ``read_reply``, wait for the reply's first bytes."""
        client = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        self.sockets.append(client)
        client.sendall(f"GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
        if read_reply:
            client.recv(65536)
        return client

    def connect(self) -> socket.socket:
        client = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        self.sockets.append(client)
        return client

    def knock(self) -> socket.socket:
        """Start a connection without waiting for it (a full accept queue drops the SYN)."""
        client = socket.socket()
        self.sockets.append(client)
        client.setblocking(False)
        client.connect_ex(("127.0.0.1", self.port))
        return client

    @staticmethod
    def give_up(client: socket.socket) -> None:
        """What a client or proxy that stops waiting does: FIN its side, keep reading."""
        client.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        for client in self.sockets:
            with contextlib.suppress(OSError):
                client.close()
        self.sockets.clear()
