"""`tcpaudit diagnose` on the command line: the JSON contract, exit codes, one-line errors."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from diagnose_helpers import case, case_port, run, run_json

from tcpaudit.engine import Report

SLOW = str(case("slow-handler-drained"))
HEALTHY = str(case("healthy"))


def test_json_is_the_audit_report_plus_the_diagnosis() -> None:
    code, data = run_json("--root", SLOW)
    assert code == 1
    # Every field of the audit report (DESIGN.md: "JSON adds to the report contract").
    assert set(Report.model_fields) <= set(data)
    assert data["findings"] and data["findings"][0]["rule"] == "TA301"
    port = case_port("slow-handler-drained")
    assert data["listeners"] == [
        {
            "address": f"127.0.0.1:{port}",
            "port": port,
            "accept_queue": 3,
            "backlog": 511,
            "backlog_source": "config",
        }
    ]
    assert {k: v for k, v in data["connections"].items() if v} == {
        "close_wait_unaccepted": 2,
        "close_wait_owned": 2,
        "established_unaccepted": 1,
    }
    assert [o["close_wait"] for o in data["owners"]] == [1, 1, 0]
    assert data["ports"] == [port] and data["socket_source"] == "proc"
    assert data["verdict"].startswith("2 unowned CLOSE_WAIT")


def test_exit_codes() -> None:
    # Unaccepted CLOSE_WAIT is the outage itself: 1 even when no finding reaches --fail-on.
    assert run("--root", SLOW, "--fail-on", "critical")[0] == 1
    assert run("--root", SLOW, "--fail-on", "never")[0] == 0
    # Healthy sockets: the exit code is the audit's.
    assert run("--root", HEALTHY, "--fail-on", "never")[0] == 0
    assert run("--root", HEALTHY, "--fail-on", "info")[0] == 1
    code, data = run_json("--root", HEALTHY, "--fail-on", "critical")
    assert code == (1 if any(f["severity"] == "critical" for f in data["findings"]) else 0)


def test_captures_instead_of_proc() -> None:
    code, data = run_json("--root", SLOW, "--ss", f"{SLOW}/ss-tanpoe.txt")
    assert code == 1 and data["socket_source"] == "ss"
    assert data["listeners"][0]["backlog_source"] == "ss"
    assert data["connections"]["close_wait_unaccepted"] == 2
    code, data = run_json("--root", SLOW, "--netstat", f"{SLOW}/netstat-tanp.txt")
    assert data["socket_source"] == "netstat"
    assert any("netstat shows '-'" in note["message"] for note in data["notes"])


def test_ports_option_overrides_listen_lines() -> None:
    code, data = run_json("--root", SLOW, "--ports", "8080, 8443")
    assert data["ports"] == [8080, 8443] and data["listeners"] == []
    assert any("nothing listens on port 8080, 8443" in n["message"] for n in data["notes"])
    assert code == 1  # the configuration's own findings still count


def test_table_output() -> None:
    code, out, _ = run(
        "--root",
        str(case("keepalive-drained")),
        "--scoreboard",
        str(case("keepalive-drained") / "scoreboard.txt"),
    )
    assert code == 1
    assert "CLOSE_WAIT, never accepted (in the accept queue)        2" in out
    assert "Workers busy: 2/2 (from scoreboard)" in out
    assert "\nVerdict:\n" in out and "not by load" in out
    assert "Grade F" in out  # the audit report follows


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--ports", "80,http"], "'http' is not a TCP port"),
        (["--ports", "70000"], "'70000' is not a TCP port"),
        (
            ["--ss", f"{SLOW}/ss-tanpoe.txt", "--netstat", f"{SLOW}/netstat-tanp.txt"],
            "give either --ss or --netstat, not both",
        ),
        (["--status-url", "http://192.0.2.1/server-status"], "only http://127.0.0.1"),
        (["--scoreboard", f"{SLOW}/netstat-tanp.txt"], "no 'Scoreboard:' line"),
    ],
)
def test_usage_errors_exit_2_with_one_line(args: list[str], message: str) -> None:
    code, out, err = run("--root", SLOW, *args)
    assert code == 2 and out == ""
    assert message in err
    assert "Traceback" not in err


def test_no_configuration_and_no_ports(tmp_path: Path) -> None:
    code, _, err = run("--root", str(tmp_path))
    assert code == 2
    assert err.strip() == (
        "tcpaudit: error: no Listen port found in the Apache configuration: "
        "name the ports with --ports"
    )
    # With ports but without a socket table: the missing file is named.
    code, _, err = run("--root", str(tmp_path), "--ports", "80")
    assert code == 2 and "proc/net/tcp: no TCP socket table here" in err


@pytest.mark.parametrize("output_format", ["table", "json"])
def test_a_queue_of_thousands_of_digits_is_one_error_line(
    tmp_path: Path, output_format: str
) -> None:
    # Read with int(x, 16), it failed only when shown: a traceback, exit 1.
    root = tmp_path / "root"
    shutil.copytree(case("backlog-full"), root, symlinks=True)
    table = root / "proc/net/tcp"
    lines = table.read_text().splitlines()
    words = lines[1].split()
    words[4] = "00000000:" + "F" * 4000
    lines[1] = "   " + " ".join(words)
    table.write_text("\n".join(lines) + "\n")
    code, out, err = run("--root", str(root), "--format", output_format)
    assert code == 2
    assert err == "tcpaudit: error: proc/net/tcp:2: not a /proc/net/tcp line\n"
    assert out == ""
