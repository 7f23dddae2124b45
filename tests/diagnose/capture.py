"""Record the replay fixtures in fixtures/<case>/ from a real apache2 on 127.0.0.1.

Run as root (``python tests/diagnose/capture.py [case ...]``) on a host with
Debian's apache2. For each case it starts the server from ``apache_server``,
drives the case's traffic, then copies what ``tcpaudit diagnose`` reads:
``proc/net/tcp`` and ``tcp6`` (only the lines of the case's port), the fd
links and ``comm`` of the server's processes (socket links only), and what
``ss -tanpoe`` and ``netstat -tanp`` print for the port. The configuration is
stored as ``etc/apache2/apache2.conf`` with the temporary directory replaced
by /srv/tcpaudit, so the tree reads like a Debian host.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from apache_server import (  # run as a script, next to the helper
    ApacheServer,
    Clients,
    free_port,
    make_workdir,
    server_sockets,
    start,
    wait_for,
    write_config,
)

from tcpaudit.diagnose import TcpState

FIXTURES = Path(__file__).resolve().parent / "fixtures"
SHOWN_WORKDIR = "/srv/tcpaudit"


def _port_lines(text: str, port: int, hex_port: bool) -> str:
    """Keep headers and the lines whose local or remote port is ``port``."""
    lines = text.splitlines()
    needle_hex = f":{port:04X} "
    kept = [lines[0]]
    for line in lines[1:]:
        if (hex_port and needle_hex in line + " ") or (not hex_port and f":{port} " in line):
            kept.append(line)
    return "\n".join(kept) + "\n"


def _record(case: str, server: ApacheServer, status: bool) -> None:
    target = FIXTURES / case
    # A drained server cannot serve its status page; such a case keeps its
    # hand-written scoreboard.txt (fixtures/SOURCES.md).
    preserved = None if status else (target / "scoreboard.txt")
    preserved_text = (
        preserved.read_bytes() if preserved is not None and preserved.exists() else None
    )
    if target.exists():
        shutil.rmtree(target)
    (target / "proc" / "net").mkdir(parents=True)
    for name in ("tcp", "tcp6"):
        text = Path(f"/proc/net/{name}").read_text()
        (target / "proc" / "net" / name).write_text(_port_lines(text, server.port, True))
    for pid in [*server.workers(), server.process.pid]:
        links = {}
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
                if link.startswith("socket:["):
                    links[fd] = link
            comm = Path(f"/proc/{pid}/comm").read_text()
        except OSError:
            continue
        if not links:
            continue
        (target / "proc" / str(pid) / "fd").mkdir(parents=True)
        (target / "proc" / str(pid) / "comm").write_text(comm)
        for fd, link in links.items():
            os.symlink(link, target / "proc" / str(pid) / "fd" / fd)
    for tool, argv in (("ss-tanpoe", ["ss", "-tanpoe"]), ("netstat-tanp", ["netstat", "-tanp"])):
        output = subprocess.run(argv, capture_output=True, text=True, timeout=10).stdout
        header = 1 if tool.startswith("ss") else 2
        lines = output.splitlines()
        kept = lines[:header] + [line for line in lines[header:] if f":{server.port} " in line]
        (target / f"{tool}.txt").write_text("\n".join(kept) + "\n")
    if preserved is not None and preserved_text is not None:
        preserved.write_bytes(preserved_text)
    if status:
        url = f"http://127.0.0.1:{server.port}/server-status?auto"
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(url, timeout=2) as response:
            (target / "scoreboard.txt").write_bytes(response.read())
    conf = server.conf.read_text().replace(str(server.conf.parent), SHOWN_WORKDIR)
    (target / "etc" / "apache2").mkdir(parents=True)
    (target / "etc" / "apache2" / "apache2.conf").write_text(conf)
    # The document root and the CGI, so the tree is the whole server (logs and pid excluded).
    for directory in ("htdocs", "cgi"):
        source = server.conf.parent / directory
        if any(source.iterdir()):
            shutil.copytree(source, target / SHOWN_WORKDIR.lstrip("/") / directory)


def _settled(server: ApacheServer, expected: dict[TcpState, int], queue: int) -> bool:
    records = server_sockets(server.port)
    counts = {state: sum(1 for r in records if r.state is state) for state in expected}
    listeners = [r for r in records if r.state is TcpState.LISTEN]
    return counts == expected and sum(r.rx_queue for r in listeners) == queue


def slow_handler_drained(server: ApacheServer, clients: Clients) -> None:
    """Both workers in a slow CGI, three clients queued; four of the five give up."""
    held = [clients.request("/slow") for _ in range(2)]
    wait_for(
        lambda: (
            sum(1 for r in server_sockets(server.port) if r.held and r.state is not TcpState.LISTEN)
            >= 2
        ),
        5,
        "both accepted",
    )
    queued = [clients.request("/slow") for _ in range(3)]
    for client in [*held, *queued[:2]]:
        Clients.give_up(client)
    wait_for(
        lambda: _settled(server, {TcpState.CLOSE_WAIT: 4, TcpState.ESTABLISHED: 1}, 3), 5, "state"
    )


def keepalive_drained(server: ApacheServer, clients: Clients) -> None:
    """Both workers idle in keep-alive after one reply each; three queued, two give up."""
    for _ in range(2):
        clients.request("/index.html", read_reply=True)
    queued = [clients.request("/index.html") for _ in range(3)]
    for client in queued[:2]:
        Clients.give_up(client)
    wait_for(
        lambda: _settled(server, {TcpState.CLOSE_WAIT: 2, TcpState.ESTABLISHED: 3}, 3), 5, "state"
    )


def backlog_full(server: ApacheServer, clients: Clients) -> None:
    """ListenBacklog 2: both workers in the slow CGI, the queue full, more clients at the door."""
    for _ in range(2):
        clients.request("/slow")
    wait_for(
        lambda: (
            sum(1 for r in server_sockets(server.port) if r.held and r.state is not TcpState.LISTEN)
            >= 2
        ),
        5,
        "both accepted",
    )
    # The queue holds backlog + 1 (the kernel's test is ack_backlog > max_ack_backlog).
    for client in [clients.request("/slow") for _ in range(3)][:2]:
        Clients.give_up(client)
    for _ in range(2):
        clients.knock()
    wait_for(
        lambda: _settled(server, {TcpState.CLOSE_WAIT: 2, TcpState.ESTABLISHED: 3}, 3), 5, "state"
    )
    time.sleep(1.5)  # let the dropped SYNs be retried once: still nothing on the server side


def healthy(server: ApacheServer, clients: Clients) -> None:
    """One idle keep-alive client, one finished request the server closed (TIME_WAIT)."""
    clients.request("/index.html", read_reply=True)
    closing = clients.connect()
    closing.sendall(b"GET /index.html HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
    while closing.recv(65536):
        pass
    # Apache closed first (Connection: close); once we close too, its side waits in TIME_WAIT.
    closing.close()
    wait_for(lambda: _settled(server, {TcpState.TIME_WAIT: 1}, 0), 5, "time-wait")


@dataclass(frozen=True)
class Case:
    """A recorded case: its traffic, its server's settings, whether mod_status is recorded."""

    scenario: Callable[[ApacheServer, Clients], None]
    workers: int = 2
    timeout: int = 300
    keepalive_timeout: int = 15
    reqtimeout: str | None = None
    cgi_sleep_seconds: int | None = None
    listen_backlog: int | None = None
    status: bool = False


CASES: dict[str, Case] = {
    "slow-handler-drained": Case(slow_handler_drained, cgi_sleep_seconds=30),
    "keepalive-drained": Case(keepalive_drained),
    "backlog-full": Case(backlog_full, cgi_sleep_seconds=30, listen_backlog=2),
    "healthy": Case(
        healthy,
        workers=4,
        timeout=30,
        keepalive_timeout=2,
        reqtimeout="header=20-40,MinRate=500 body=20,MinRate=500",
        status=True,
    ),
}


def main(names: list[str]) -> None:
    for name in names or list(CASES):
        chosen = CASES[name]
        workdir = make_workdir()
        port = free_port()
        conf = write_config(
            workdir,
            port,
            workers=chosen.workers,
            timeout=chosen.timeout,
            keepalive_timeout=chosen.keepalive_timeout,
            reqtimeout=chosen.reqtimeout,
            cgi_sleep_seconds=chosen.cgi_sleep_seconds,
            listen_backlog=chosen.listen_backlog,
        )
        server = start(conf, port, chosen.workers)
        clients = Clients(port)
        try:
            chosen.scenario(server, clients)
            time.sleep(0.2)
            _record(name, server, chosen.status)
            print(f"{name}: port {port}")
        finally:
            clients.close()
            server.stop()
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main(sys.argv[1:])
