"""End to end on a real apache2: drain it, diagnose it from the live /proc, fix it.

Debian's apache2 (prefork, MaxRequestWorkers 2, a CGI that sleeps 30 s,
Timeout 300) listens on 127.0.0.1 only. Five clients ask for the slow page;
two are accepted, three wait in the accept queue; four give up (FIN). That is
the incident of KNOWLEDGE.md in miniature: CLOSE_WAIT held by workers still in
the handler, and CLOSE_WAIT nobody accepted. ``tcpaudit diagnose`` must see
both from the real socket table and name the slow handler and Timeout.

Then the same server restarts with the timers the audit recommends, scaled to
the test's time (Timeout 2 instead of 30, so that a 30 s handler is cut off
quickly), and the same traffic must leave no CLOSE_WAIT within a bound the
first server does not meet. Without apache2 the test fails: it is the proof.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from apache_server import (
    APACHE2,
    ApacheServer,
    Clients,
    free_port,
    make_workdir,
    server_sockets,
    start,
    wait_for,
    write_config,
)
from diagnose_helpers import run, run_json

from tcpaudit.diagnose import TcpState

WORKERS = 2
CGI_SECONDS = 30
# The fixed server must be clear by then; the original must still be stuck.
CLEAR_SECONDS = 9.0
STEP_SECONDS = 5.0


@pytest.fixture
def workdir() -> Iterator[Path]:
    assert APACHE2 is not None, "apache2 is required (Debian: apt-get install apache2)"
    directory = make_workdir()
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def _counts(port: int) -> dict[str, int]:
    records = server_sockets(port)
    close_wait = [r for r in records if r.state is TcpState.CLOSE_WAIT]
    return {
        "queue": sum(r.rx_queue for r in records if r.state is TcpState.LISTEN),
        "close_wait_held": sum(1 for r in close_wait if r.held),
        "close_wait_unaccepted": sum(1 for r in close_wait if not r.held),
        "accepted": sum(1 for r in records if r.held and r.state is not TcpState.LISTEN),
    }


def _drain(server: ApacheServer, clients: Clients) -> None:
    """Two clients in the slow handler, three queued; four of them give up."""
    held = [clients.request("/slow") for _ in range(WORKERS)]
    wait_for(lambda: _counts(server.port)["accepted"] == WORKERS, STEP_SECONDS, "both accepted")
    queued = [clients.request("/slow") for _ in range(3)]
    wait_for(lambda: _counts(server.port)["queue"] == 3, STEP_SECONDS, "three queued")
    for client in [*held, *queued[:2]]:
        Clients.give_up(client)


def test_drained_server_is_diagnosed_and_the_fix_clears_it(workdir: Path) -> None:
    port = free_port()
    conf = write_config(workdir, port, workers=WORKERS, cgi_sleep_seconds=CGI_SECONDS)
    server = start(conf, port, WORKERS)
    clients = Clients(port)
    try:
        began = time.monotonic()
        _drain(server, clients)
        wait_for(
            lambda: (
                _counts(port)["close_wait_held"] == 2
                and _counts(port)["close_wait_unaccepted"] == 2
            ),
            STEP_SECONDS,
            "two held and two unaccepted CLOSE_WAIT",
        )
        code, data = run_json("--ports", str(port), "--apache-conf", str(conf))
        assert code == 1
        c = data["connections"]
        assert (c["close_wait_owned"], c["close_wait_unaccepted"]) == (2, 2)
        assert c["established_unaccepted"] == 1
        (listener,) = data["listeners"]
        assert listener["address"] == f"127.0.0.1:{port}"
        assert listener["accept_queue"] == 3 and listener["backlog"]
        workers = sorted(server.workers())
        holders = sorted(pid for s in data["close_wait"] if s["accepted"] for pid in s["pids"])
        assert set(holders) <= set(workers) and len(holders) == 2
        assert data["workers"] == {
            "limit": 2,
            "busy": 2,
            "busy_source": "sockets",
            "keepalive": None,
            "handler": None,
            "reading": None,
        }
        verdict = data["verdict"]
        assert verdict.startswith(f"2 unowned CLOSE_WAIT in the accept queue of 127.0.0.1:{port}")
        assert "All MaxRequestWorkers=2 workers are busy" in verdict
        assert "drained by slow handlers" in verdict and "Timeout=300 s" in verdict
        assert "TA101 Timeout at " in verdict and data["verdict_fixes"][0] == "TA101"
        assert {"TA101", "TA102", "TA103", "TA301"} <= {f["rule"] for f in data["findings"]}

        # Ports from the Listen line, and mod_status asked: a drained server
        # cannot answer it, and the diagnosis says so instead of failing.
        code, out, _ = run("--apache-conf", str(conf), "--status-url", f"http://127.0.0.1:{port}/")
        assert code == 1
        assert "did not answer within 2 s" in out
        assert f"unowned CLOSE_WAIT in the accept queue of 127.0.0.1:{port}" in out

        # Nothing here ends by itself: the workers wait for the CGI, up to Timeout.
        time.sleep(max(0.0, began + CLEAR_SECONDS - time.monotonic()))
        stuck = _counts(port)
        assert stuck["close_wait_held"] == 2 and stuck["close_wait_unaccepted"] >= 2
    finally:
        clients.close()
        server.stop()
    assert server.process.poll() is not None

    port = free_port()
    fixed = write_config(
        workdir,
        port,
        workers=WORKERS,
        cgi_sleep_seconds=CGI_SECONDS,
        timeout=2,
        keepalive_timeout=2,
        reqtimeout="header=5-10,MinRate=500 body=5,MinRate=500",
        name="fixed.conf",
    )
    server = start(fixed, port, WORKERS)
    clients = Clients(port)
    try:
        began = time.monotonic()
        _drain(server, clients)
        wait_for(
            # The fifth client never gave up: it may still hold a worker, rightly.
            lambda: (
                {**_counts(port), "accepted": 0}
                == {"queue": 0, "close_wait_held": 0, "close_wait_unaccepted": 0, "accepted": 0}
            ),
            CLEAR_SECONDS,
            "no CLOSE_WAIT and an empty queue after Timeout 2 cut the handlers off",
        )
        cleared = time.monotonic() - began
        assert cleared < CLEAR_SECONDS
        code, data = run_json(
            "--ports",
            str(port),
            "--apache-conf",
            str(fixed),
            "--status-url",
            f"http://localhost:{port}/server-status",
            "--fail-on",
            "critical",
        )
        c = data["connections"]
        assert c["close_wait_owned"] == c["close_wait_unaccepted"] == 0
        assert data["listeners"][0]["accept_queue"] == 0
        # A real scoreboard this time: the status request itself is the busy worker.
        assert data["scoreboard"]["busy_workers"] >= 1 and data["workers"]["limit"] == 2
        assert data["verdict"].startswith(f"No CLOSE_WAIT on 127.0.0.1:{port}")
        # Timeout, KeepAliveTimeout and mod_reqtimeout are fixed; a pool of two
        # prefork workers stays exhaustible: each is held 4 s (Timeout 2 + 2 s of
        # lingering close), so 0.5 stalled clients per second drain it (TA301,
        # critical: the one reason for the exit code), and the kernel's
        # keepalive/retries2 defaults are low findings.
        severe = {f["rule"] for f in data["findings"] if f["severity"] in ("high", "critical")}
        assert severe == {"TA301"}
        assert not {"TA101", "TA102", "TA103"} & {f["rule"] for f in data["findings"]}
        assert code == 1
    finally:
        clients.close()
        server.stop()
    assert server.process.poll() is not None
