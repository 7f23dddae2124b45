"""Which worker, and so which timeout, a proxied request runs with, measured on a real apache2.

A backend on 127.0.0.1 accepts and never answers: httpd answers the client
with 502 once the worker's timeout ends, so the time to that answer is the
timeout the request ran with. Each case puts ProxyPass, ProxySet, <Proxy>
and ProxyTimeout lines in the main server and a virtual host in an order
whose effect mod_proxy's source predicts (proxy.py), and checks that
tcpaudit states the same number of seconds for the route as the request
took.
"""

from __future__ import annotations

import contextlib
import re
import socket
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "diagnose"))

from apache_server import free_port, make_workdir, start, write_config

import tcpaudit
from tcpaudit.apache.model import ProxyRoute
from tcpaudit.checks.proxy_timeout_long import route_wait_seconds

VHOST = "v.test"
# name: (main server lines, vhost lines or None, path asked, Host, where the
# route is in tcpaudit's model ("main", "vhost", "main-in-vhost": the
# vhost's main_routes, "short": a main route's short URLs), seconds expected)
CASES: dict[str, tuple[tuple[str, ...], tuple[str, ...] | None, str, str, str, int]] = {
    "proxyset-after-route": (
        ("ProxyPass /a http://127.0.0.1:@B@/ timeout=2", "ProxySet http://127.0.0.1:@B@/ timeout=5"),
        None, "/a", "localhost", "main", 5,
    ),
    "proxy-section-before-route": (
        ("<Proxy http://127.0.0.1:@B@/>", "ProxySet timeout=2", "</Proxy>",
         "ProxyPass /a http://127.0.0.1:@B@/ timeout=5"),
        None, "/a", "localhost", "main", 2,
    ),
    "proxy-line-parameters": (
        ("<Proxy http://127.0.0.1:@B@/ timeout=2>", "</Proxy>",
         "ProxyPass /a http://127.0.0.1:@B@/ timeout=5"),
        None, "/a", "localhost", "main", 2,
    ),
    "server-route-in-vhost": (
        ("ProxyPass /a http://127.0.0.1:@B@/",), ("Timeout 2",), "/a", VHOST, "vhost", 2,
    ),
    "vhost-route-finds-main-worker": (
        ("ProxyPass /m http://127.0.0.1:@B@/ timeout=5",),
        ("ProxyPass /v http://127.0.0.1:@B@/ timeout=2",), "/v", VHOST, "vhost", 5,
    ),
    "proxytimeout-copied-into-worker": (
        ("ProxyTimeout 5", "ProxyPass /a http://127.0.0.1:@B@/"), ("ProxyTimeout 2",),
        "/a", VHOST, "vhost", 5,
    ),
    # httpd 2.4's merge appends the main server's aliases whatever
    # ProxyPassInherit says, and its workers unless BalancerInherit is off too.
    "proxypassinherit-off-changes-nothing": (
        ("ProxyPass /a http://127.0.0.1:@B@/ timeout=5",), ("ProxyPassInherit Off", "Timeout 2"),
        "/a", VHOST, "vhost", 5,
    ),
    # Both off: the vhost finds none of the main server's workers (merge_proxy_config).
    "both-inherit-off-own-route": (
        ("ProxyPass /m http://127.0.0.1:@B@/ timeout=5",),
        ("ProxyPassInherit Off", "BalancerInherit Off",
         "ProxyPass /v http://127.0.0.1:@B@/ timeout=2"), "/v", VHOST, "vhost", 2,
    ),
    # ... and the main server's route runs there with the default worker.
    "both-inherit-off-main-route": (
        ("ProxyPass /m http://127.0.0.1:@B@/ timeout=5",),
        ("ProxyPassInherit Off", "BalancerInherit Off", "Timeout 3"), "/m", VHOST, "main-in-vhost", 3,
    ),
    # A URL shorter than the match worker's name ($1 empty) is served by the
    # default worker, with the server's Timeout (8); a longer one by the worker.
    "match-short-url": (
        ("ProxyPassMatch ^/m(.*)$ http://127.0.0.1:@B@/$1 timeout=2",), None, "/m", "localhost",
        "short", 8,
    ),
    "match-long-url": (
        ("ProxyPassMatch ^/m(.*)$ http://127.0.0.1:@B@/$1 timeout=2",), None, "/mabcdef",
        "localhost", "main", 2,
    ),
    # A balancer route's timeout= is the balancer's (the wait for a free
    # member): the member's worker runs with the server's Timeout (8).
    "balancer-route-timeout": (
        ("<Proxy balancer://bb>", "BalancerMember http://127.0.0.1:@B@/", "</Proxy>",
         "ProxyPass /a balancer://bb/ timeout=2"), None, "/a", "localhost", "main", 8,
    ),
    "balancer-member-timeout": (
        ("<Proxy balancer://bb>", "BalancerMember http://127.0.0.1:@B@/ timeout=2",
         "ProxySet timeout=5", "</Proxy>", "ProxyPass /a balancer://bb/"),
        None, "/a", "localhost", "main", 2,
    ),
    # merge_balancers: the vhost's balancer of the main server's name runs
    # with the main server's members.
    "vhost-balancer-of-main-name": (
        ("<Proxy balancer://bb>", "BalancerMember http://127.0.0.1:@B@/ timeout=5", "</Proxy>"),
        ("<Proxy balancer://bb>", "BalancerMember http://127.0.0.1:@B@/ timeout=2", "</Proxy>",
         "ProxyPass /a balancer://bb/"), "/a", VHOST, "vhost", 5,
    ),
    # A member whose URL an earlier member's name covers shares its worker:
    # one worker, timeout 2, whichever member byrequests picks.
    "member-covered-by-a-member": (
        ("<Proxy balancer://bb>", "BalancerMember http://127.0.0.1:@B@/ timeout=2",
         "BalancerMember http://127.0.0.1:@B@/x timeout=6", "</Proxy>",
         "ProxyPass /a balancer://bb/"), None, "/a", "localhost", "main", 2,
    ),
    "proxytimeout-after-route": (
        ("ProxyPass /a http://127.0.0.1:@B@/", "ProxyTimeout 5"), ("ProxyTimeout 2",),
        "/a", VHOST, "vhost", 2,
    ),
}  # fmt: skip
TOLERANCE_SECONDS = 0.8


@contextlib.contextmanager
def silent_backend() -> Iterator[int]:
    """A backend that accepts and never answers; yield its port."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    listener.settimeout(0.2)
    stop = threading.Event()
    taken: list[socket.socket] = []

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except (TimeoutError, OSError):
                continue
            taken.append(conn)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield int(listener.getsockname()[1])
    finally:
        stop.set()
        thread.join(2)
        listener.close()
        for conn in taken:
            conn.close()


def _answer_after(port: int, path: str, host: str) -> tuple[float, bytes]:
    with socket.create_connection(("127.0.0.1", port), timeout=30) as client:
        began = time.monotonic()
        client.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        status = client.recv(64)[:12]
        return time.monotonic() - began, status


def _measure(name: str, backend: int) -> tuple[Path, float, bytes, str]:
    main, vhost, path, host, _, _ = CASES[name]
    workdir = make_workdir()
    port = free_port()
    lines = [line.replace("@B@", str(backend)) for line in main]
    if vhost is not None:
        lines += [f"<VirtualHost 127.0.0.1:{port}>", f"ServerName {VHOST}"]
        lines += [line.replace("@B@", str(backend)) for line in vhost]
        lines.append("</VirtualHost>")
    conf = write_config(
        workdir, port, mpm="event", workers=2, timeout=8,
        modules=("proxy", "proxy_http", "proxy_balancer", "lbmethod_byrequests", "slotmem_shm"),
        extra=tuple(lines),
    )  # fmt: skip
    server = start(conf, port, 1)
    try:
        seconds, status = _answer_after(port, path, host)
    finally:
        server.stop()
    return conf, seconds, status, server.error_log


@pytest.fixture(scope="module")
def measured() -> dict[str, tuple[Path, float, bytes, str]]:
    with silent_backend() as backend, ThreadPoolExecutor(4) as pool:
        futures = {name: pool.submit(_measure, name, backend) for name in CASES}
        return {name: future.result() for name, future in futures.items()}


@pytest.mark.parametrize("name", list(CASES))
def test_tcpaudit_states_the_timeout_the_request_ran_with(
    name: str, measured: dict[str, tuple[Path, float, bytes, str]]
) -> None:
    conf, seconds, status, log = measured[name]
    _, _, path, _, scope, expected = CASES[name]
    assert status == b"HTTP/1.1 502", (status, log)
    assert abs(seconds - expected) <= TOLERANCE_SECONDS, (seconds, expected, log)
    config = tcpaudit.load_apache(conf, root="/")
    assert config is not None
    vhost = config.vhosts[0] if scope in ("vhost", "main-in-vhost") else None
    own = [] if vhost is None else vhost.proxy_routes
    if scope == "main-in-vhost":
        assert vhost is not None and vhost.main_routes is not None
        own = vhost.main_routes

    def serving(candidates: list[ProxyRoute]) -> list[ProxyRoute]:
        return [
            r
            for r in candidates
            if r.path == path or (r.directive == "ProxyPassMatch" and re.search(r.path, path))
        ]

    # The scope's own routes first; a balancer's route is one copy per member,
    # and the slowest member is the route's worst wait.
    routes = serving(list(own)) or serving(config.proxy_routes)
    assert routes, (path, config.proxy_routes)
    if scope == "short":
        assert routes[0].short_urls_default_worker
        routes = [routes[0].model_copy(update={"params": {}})]
    assert max(route_wait_seconds(config, vhost, route) or 0 for route in routes) == expected
