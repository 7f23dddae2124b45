"""A large `diagnose --ss` capture: the counts are of every socket, the lists are bounded.

908,572 sockets of distinct processes in a capture under 64 MiB took 2.9 GB
and 100 s, and printed a table row per process (400,000: 54 s, 1.4 GB, 22 MB
of output). Processes, listeners and backends are now listed up to 100 (the
worst first) with a count of the rest; the connection counts cover every
socket.
"""

from __future__ import annotations

import json
from pathlib import Path

from childrun import SAFE_SECONDS, clis_in_child

from tcpaudit.diagnose.classify import MAX_LISTED

REPO = Path(__file__).resolve().parents[2]
INCIDENT = REPO / "examples" / "closewait-incident"
HEADER = "State Recv-Q Send-Q Local Address:Port Peer Address:Port Process\n"


def _address(index: int) -> str:
    return f"10.{index >> 16 & 255}.{index >> 8 & 255}.{index & 255}"


def _capture(path: Path, processes: int, listeners: int, backends: int) -> None:
    lines = [HEADER]
    lines += [
        f'LISTEN {index % 7} 511 {_address(index)}:80 0.0.0.0:* users:(("httpd",pid=1,fd=3))\n'
        for index in range(listeners)
    ]
    # Every CLOSE_WAIT held by its own worker of the same command.
    lines += [
        f"CLOSE-WAIT 1 0 10.0.0.1:80 {_address(index)}:{1024 + index % 60000} "
        f'users:(("httpd",pid={index + 2},fd=3))\n'
        for index in range(processes)
    ]
    # CLOSE_WAIT toward as many backends, held by the parent.
    lines += [
        f"CLOSE-WAIT 0 0 10.0.0.1:40000 192.168.{index >> 8 & 255}.{index & 255}:8080 "
        'users:(("httpd",pid=1,fd=9))\n'
        for index in range(backends)
    ]
    path.write_text("".join(lines))


def test_a_capture_of_three_hundred_thousand_processes(tmp_path: Path) -> None:
    capture = tmp_path / "ss.txt"
    _capture(capture, processes=300_000, listeners=300, backends=500)
    runs = [
        ["diagnose", "--root", str(INCIDENT), "--ss", str(capture), "--format", name]
        for name in ("table", "json")
    ]
    table, document = clis_in_child(runs, tmp_path)["runs"]
    for run in (table, document):
        assert run["exit_code"] in (0, 1), run["stderr"]
        assert run["seconds"] < SAFE_SECONDS
        assert len(run["stdout"]) < 1_000_000, len(run["stdout"])
    diagnosis = json.loads(document["stdout"])
    # The counts are of every socket on the ports.
    assert diagnosis["connections"]["close_wait_owned"] == 300_000
    assert diagnosis["connections"]["close_wait_other"] == 500
    # 300,001 processes (the parent holds the listeners): those holding most first.
    assert len(diagnosis["owners"]) == MAX_LISTED
    assert [owner["close_wait"] for owner in diagnosis["owners"]] == [1] * MAX_LISTED
    assert diagnosis["owners_not_listed"] == 300_001 - MAX_LISTED
    assert len(diagnosis["listeners"]) == MAX_LISTED
    assert diagnosis["listeners_not_listed"] == 300 - MAX_LISTED
    # The fullest accept queues are the ones kept.
    queues = [listener["accept_queue"] for listener in diagnosis["listeners"]]
    assert (queues.count(6), queues.count(5), queues.count(4)) == (42, 43, 15)
    assert len(diagnosis["backends"]) == MAX_LISTED
    assert diagnosis["backends_not_listed"] == 500 - MAX_LISTED
    text = table["stdout"]
    assert f"... and {300_001 - MAX_LISTED:,} more processes, not listed" in text
    assert f"... and {300 - MAX_LISTED:,} more listening sockets, not listed" in text
    assert f"... and {500 - MAX_LISTED:,} more backends, not listed" in text
    assert "more backends, not described here" in diagnosis["verdict"]
