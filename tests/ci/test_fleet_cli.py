"""``tcpaudit fleet`` as a command: formats, --output, --fail-on, errors, progress."""

from __future__ import annotations

import json
import os
import pty
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from ci_helpers import EXAMPLES, audit_root
from click.testing import CliRunner

from tcpaudit.fleet import PROGRESS_MIN_FILES, fleet_command

INCIDENT = audit_root(EXAMPLES / "closewait-incident")
TUNED = audit_root(EXAMPLES / "tuned")


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(fleet_command, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def fleet_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "reports"
    directory.mkdir()
    (directory / "web1.json").write_text(INCIDENT.to_json(), encoding="utf-8")
    (directory / "web2.json").write_text(TUNED.to_json(), encoding="utf-8")
    return directory


def test_default_is_a_table_and_exit_0_even_with_a_failing_host(fleet_dir: Path) -> None:
    code, out, err = run(str(fleet_dir))
    assert code == 0, err
    assert out.startswith("tcpaudit fleet: 2 hosts; grades: A 1, B 0, C 0, D 0, F 1\n")
    assert "web1.shop.example" in out and "web2.shop.example" in out
    assert err == ""


def test_fail_on_gates_on_any_host(fleet_dir: Path) -> None:
    assert run(str(fleet_dir), "--fail-on", "high")[0] == 1
    assert run(str(fleet_dir), "--fail-on", "critical")[0] == 1
    tuned_only = str(fleet_dir / "web2.json")
    assert run(tuned_only, "--fail-on", "low")[0] == 0
    assert run(tuned_only, "--fail-on", "info")[0] == 0, "tuned has no finding at all"
    assert run(str(fleet_dir), "--fail-on", "info")[0] == 1
    assert run(str(fleet_dir), "--fail-on", "never")[0] == 0


def test_json_to_stdout_is_the_contract(fleet_dir: Path) -> None:
    code, out, _ = run("--format", "json", str(fleet_dir))
    assert code == 0
    data = json.loads(out)
    assert [h["host"] for h in data["hosts"]] == ["web1.shop.example", "web2.shop.example"]
    assert data["hosts"][0] == {
        "host": "web1.shop.example",
        "grade": "F",
        "score": 0,
        "findings": 10,
        "critical": 1,
        "high": 3,
    }
    assert data["summary"]["hosts"] == 2


def test_output_file_is_private_and_stdout_stays_empty(fleet_dir: Path, tmp_path: Path) -> None:
    target = tmp_path / "fleet.md"
    code, out, _ = run(str(fleet_dir), "--format", "markdown", "--output", str(target))
    assert code == 0 and out == ""
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert target.read_text(encoding="utf-8").startswith("## tcpaudit fleet: 2 hosts")


def test_invalid_report_is_one_line_naming_the_file_and_exit_2(fleet_dir: Path) -> None:
    bad = fleet_dir / "web3.json"
    bad.write_text("{not json", encoding="utf-8")
    code, out, err = run(str(fleet_dir), "--fail-on", "high")
    assert code == 2 and out == ""
    assert err.startswith(f"tcpaudit: error: {bad}: not JSON")
    assert err.count("\n") == 1 and "Traceback" not in err


def test_missing_path_and_no_path_exit_2(tmp_path: Path) -> None:
    code, _, err = run(str(tmp_path / "absent"))
    assert (
        code == 2 and err == f"tcpaudit: error: {tmp_path / 'absent'}: no such file or directory\n"
    )
    code, _, err = run()
    assert code == 2 and "Missing argument" in err


def test_unwritable_output_exits_2(fleet_dir: Path, tmp_path: Path) -> None:
    code, _, err = run(str(fleet_dir), "--output", str(tmp_path / "no" / "such" / "dir.txt"))
    assert code == 2 and err.startswith("tcpaudit: error: ") and "Traceback" not in err


def test_no_progress_when_stderr_is_not_a_terminal(tmp_path: Path) -> None:
    for index in range(PROGRESS_MIN_FILES):
        host = TUNED.model_copy(update={"host": f"h{index:04d}"})
        (tmp_path / f"h{index:04d}.json").write_text(host.to_json(), encoding="utf-8")
    code, out, err = run(str(tmp_path), "--format", "json")
    assert code == 0 and err == ""
    assert json.loads(out)["summary"]["hosts"] == PROGRESS_MIN_FILES


def test_progress_on_a_terminal_goes_to_stderr_only(tmp_path: Path) -> None:
    for index in range(PROGRESS_MIN_FILES):
        host = TUNED.model_copy(update={"host": f"h{index:04d}"})
        (tmp_path / f"h{index:04d}.json").write_text(host.to_json(), encoding="utf-8")
    primary, secondary = pty.openpty()
    code = "from tcpaudit.fleet import fleet_command; fleet_command.main()"
    process = subprocess.Popen(
        [sys.executable, "-c", code, str(tmp_path), "--format", "json"],
        stdout=subprocess.PIPE,
        stderr=secondary,
        env={**os.environ, "TERM": "xterm"},
    )
    os.close(secondary)
    terminal = b""
    while True:
        try:
            chunk = os.read(primary, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        terminal += chunk
    out, _ = process.communicate(timeout=60)
    os.close(primary)
    assert process.returncode == 0, terminal
    assert b"reading reports" in terminal
    assert json.loads(out)["summary"]["hosts"] == PROGRESS_MIN_FILES, "stdout is only the JSON"


def test_a_file_named_twice_counts_once(fleet_dir: Path) -> None:
    code, out, err = run(str(fleet_dir), str(fleet_dir / "web2.json"))
    assert code == 0, err
    assert out.startswith("tcpaudit fleet: 2 hosts;")


def test_two_reports_of_one_host_are_refused(fleet_dir: Path, tmp_path: Path) -> None:
    stale = tmp_path / "web2-old.json"
    stale.write_text(TUNED.to_json(), encoding="utf-8")
    code, out, err = run(str(fleet_dir), str(stale))
    assert code == 2 and out == ""
    assert err == (
        f"tcpaudit: error: {stale}: host 'web2.shop.example' is already reported by "
        f"{fleet_dir / 'web2.json'} (host names are compared as DNS compares them); give one "
        "report per host\n"
    )


def test_one_host_spelled_otherwise_is_still_one_host(fleet_dir: Path, tmp_path: Path) -> None:
    # Case, a root's trailing dot, blanks and a fullwidth letter name the same host.
    for index, spelled in enumerate(
        [
            "WEB2.Shop.Example",
            "web2.shop.example.",
            " web2.shop.example ",
            "\uff57eb2.shop.example",
            # What nameprep maps to nothing: a soft hyphen, a zero-width space,
            # a word joiner, a variation selector.
            "web\u00ad2.shop.example",
            "web2\u200b.shop.example",
            "web2.shop\u2060.example",
            "web2.shop.exam\ufe0fple",
        ]
    ):
        copy = tmp_path / f"copy{index}.json"
        copy.write_text(TUNED.model_copy(update={"host": spelled}).to_json(), encoding="utf-8")
        code, out, err = run(str(fleet_dir), str(copy))
        assert code == 2 and out == "", spelled
        assert "is already reported by" in err, spelled
