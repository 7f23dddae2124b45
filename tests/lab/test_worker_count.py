"""How many connections httpd serves at once, against tcpaudit's worker count.

httpd started with -D ONE_PROCESS or -D DEBUG (-X) serves from one process.

Each MPM's pre_config reads the two defines: the server then runs a single
child in the foreground, so prefork serves one connection at a time and
worker/event ThreadsPerChild. tcpaudit's worker count
(``max_request_workers_effective``) is checked against the real apache2:
with one connection fewer than that count stalled in its headers, a request
is answered at once; with that many, it waits for a worker.

Without MaxRequestWorkers, worker and event take the compiled 16 x 25 = 400
(set in pre_config, before ThreadsPerChild is read), then cap it: with
ThreadsPerChild 0 (raised to 1) and ServerLimit 2, two workers, as
apache2 -t itself says.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "diagnose"))

from apache_server import APACHE2, free_port, make_workdir, start, write_config
from lab_clients import probe

import tcpaudit
from tcpaudit.apache.service_arguments import Invocation, apply_arguments
from tcpaudit.facts import max_request_workers_effective

# Long enough that a stalled client holds its worker through the probe.
TIMEOUT_SECONDS = 6
PROBE_SECONDS = 1.5


def _stall(port: int) -> object:
    import socket

    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n")  # headers never end
    return sock


def _answered_with(port: int, stalled: int) -> bool:
    held = [_stall(port) for _ in range(stalled)]
    try:
        time.sleep(0.4)  # every stalled connection accepted and read by a worker
        return probe(port, time.monotonic() + PROBE_SECONDS) is not None
    finally:
        for sock in held:
            sock.close()  # type: ignore[attr-defined]
        time.sleep(0.3)  # the workers see the end of their connections


@pytest.mark.parametrize(
    ("mpm", "arguments", "extra", "expected"),
    [
        ("prefork", ("-DONE_PROCESS",), (), 1),
        ("prefork", ("-DDEBUG",), (), 1),
        ("prefork", ("-X",), (), 1),
        ("prefork", (), (), 3),
        ("event", ("-DONE_PROCESS",), ("ServerLimit 3", "MaxRequestWorkers 6", "StartServers 3"), 2),
        ("worker", ("-DONE_PROCESS",), ("ServerLimit 3", "MaxRequestWorkers 6", "StartServers 3"), 2),
    ],
    ids=["prefork-one-process", "prefork-debug", "prefork-X", "prefork", "event-one-process",
         "worker-one-process"],
)  # fmt: skip
def test_one_process_serves_the_workers_tcpaudit_counts(
    mpm: str, arguments: tuple[str, ...], extra: tuple[str, ...], expected: int
) -> None:
    workdir = make_workdir()
    port = free_port()
    conf = write_config(
        workdir, port, mpm=mpm, workers=3 if mpm == "prefork" else 2,
        timeout=TIMEOUT_SECONDS, extra=extra,
    )  # fmt: skip
    # Without one process, wait for every child before stalling clients.
    children = 0 if arguments else expected
    _check_capacity(conf, port, arguments, expected, children)


def test_threaded_default_max_request_workers_is_the_compiled_one() -> None:
    # No MaxRequestWorkers: 400, not ServerLimit x ThreadsPerChild as
    # configured (2 x 0 = 0, one worker); ThreadsPerChild 0 is raised to 1
    # and 400 one-thread children are capped at ServerLimit 2.
    workdir = make_workdir()
    port = free_port()
    conf = write_config(
        workdir, port, mpm="event", workers=2, timeout=TIMEOUT_SECONDS,
        extra=("ThreadsPerChild 0", "ServerLimit 2", "StartServers 2"),
    )  # fmt: skip
    lines = conf.read_text().splitlines()
    conf.write_text("\n".join(line for line in lines if not line.startswith("MaxRequestWorkers")))
    config = tcpaudit.load_apache(conf, root="/")
    assert config is not None and max_request_workers_effective(config) == 2
    # apache2 says which MaxRequestWorkers it started from and what it capped it
    # to (event_check_config, at start-up and for -t alike). Serving on one
    # thread a child, event's listeners race for idle workers: the count is
    # read from httpd's own words, not from stalled clients.
    checked = subprocess.run(
        [str(APACHE2), "-t", "-f", str(conf)], capture_output=True, text=True, timeout=60,
        check=False, env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C"},
    )  # fmt: skip
    said = checked.stdout + checked.stderr
    assert "ThreadsPerChild of 0 not allowed, increasing to 1" in said, said
    assert (
        "MaxRequestWorkers of 400 would require 400 servers and would exceed ServerLimit of 2, "
        "decreasing to 2"
    ) in said, said


def _check_capacity(
    conf: Path, port: int, arguments: tuple[str, ...], expected: int, children: int
) -> None:
    # The defines httpd takes from these arguments (-X is DEBUG), as tcpaudit reads them.
    invocation = Invocation()
    apply_arguments(list(arguments), invocation)
    config = tcpaudit.load_apache(conf, root="/", defines=invocation.defines)
    assert config is not None
    workers = max_request_workers_effective(config)
    assert workers == expected
    for define in invocation.defines:
        assert any(define in note.message for note in config.notes)
    server = start(conf, port, children, arguments)
    try:
        assert _answered_with(port, workers - 1), server.error_log
        assert not _answered_with(port, workers), server.error_log
    finally:
        server.stop()
