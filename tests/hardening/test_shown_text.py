"""Text a repository's rules or a host's captures hold is shown escaped by
every command that prints it: diagnose's backend table, explain's
parameters, the rules list in Markdown; and a status page's counts are
believed only when a scoreboard could hold them.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from click.testing import CliRunner

from tcpaudit.cli import cli

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests/diagnose/fixtures"


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


def test_diagnose_shows_a_capture_host_name_escaped(tmp_path: Path) -> None:
    capture = tmp_path / "netstat.txt"
    capture.write_text(
        "Proto Recv-Q Send-Q Local Address Foreign Address State PID/Program name\n"
        "tcp 0 0 0.0.0.0:80 0.0.0.0:* LISTEN 100/apache2\n"
        "tcp 0 0 10.0.0.1:40000 e\x1b]0;X\x07vil:8081 CLOSE_WAIT 100/apache2\n"
    )
    empty = tmp_path / "empty"
    empty.mkdir()
    code, output = _run(
        "diagnose", "--netstat", str(capture), "--ports", "80", "--root", str(empty)
    )
    assert code in (0, 1), output
    assert "\x1b" not in output and "\x07" not in output
    assert "e\\x1b]0;X\\x07vil:8081" in output


def test_diagnose_shows_a_proxy_file_name_escaped(tmp_path: Path) -> None:
    root = tmp_path / "t"
    shutil.copytree(FIXTURES / "proxied-site", root, symlinks=True)
    name = "s\n::error file=a::x\x1b]0;T\x07.conf"
    (root / "srv/site/site.conf").rename(root / "srv/site" / name)
    for cmdline in (root / "proc").glob("*/cmdline"):
        text = cmdline.read_bytes()
        if b"site.conf" in text:
            cmdline.write_bytes(text.replace(b"site.conf", name.encode()))
    code, output = _run("diagnose", "--root", str(root))
    assert code in (0, 1), output
    assert "\x1b" not in output and "\x07" not in output
    assert not any(line.startswith("::error") for line in output.splitlines())


def _rule(tmp_path: Path, **fields: str) -> Path:
    rules = tmp_path / "rules"
    rules.mkdir(exist_ok=True)
    text = (REPO / "rules/TA101-apache-timeout.yaml").read_text().replace("id: TA101", "id: TA951")
    for old, new in fields.items():
        assert old in text, old
        text = text.replace(old, new, 1)
    (rules / "TA951-x.yaml").write_text(text)
    return rules


def test_explain_shows_a_rule_parameter_on_its_own_line(tmp_path: Path) -> None:
    rules = _rule(tmp_path, **{"setting: Timeout,": 'setting: "Timeout\\n::error file=x::pwned",'})
    code, output = _run("explain", "TA951", "--rules-dir", str(rules))
    assert code == 0, output
    assert not any(line.startswith("::error") for line in output.splitlines())
    assert "Timeout\\n::error file=x::pwned" in output


def test_rules_in_markdown_escape_a_repository_rule_title(tmp_path: Path) -> None:
    title = 'title: "x | @octocat <img src=https://evil.example/p.png>"'
    original = next(
        line
        for line in (REPO / "rules/TA101-apache-timeout.yaml").read_text().splitlines()
        if line.startswith("title:")
    )
    rules = _rule(tmp_path, **{original: title})
    code, output = _run("rules", "--format", "markdown", "--rules-dir", str(rules))
    assert code == 0, output
    row = next(line for line in output.splitlines() if "TA951" in line)
    # Four cells (id, severity, title, summary): the title's '|' is escaped.
    assert row.replace("\\|", "").count("|") == 5, row
    assert "@octocat" not in row and "\\<img" in row and " <img" not in row


def test_a_status_count_no_scoreboard_could_hold_is_refused_in_one_line(tmp_path: Path) -> None:
    board = tmp_path / "status.txt"
    board.write_text(f"BusyWorkers: {'9' * 4200}\nIdleWorkers: 1\nScoreboard: W_\n")
    code, output = _run("diagnose", "--root", str(FIXTURES / "healthy"), "--scoreboard", str(board))
    assert code == 2, output
    assert output.strip().count("\n") == 0 and "9" * 100 not in output


def test_a_baseline_value_is_quoted_short_in_every_changed_finding(tmp_path: Path) -> None:
    # A baseline's value of a megabyte was copied into the reason of every
    # finding of its fingerprint: 1.5 GB of report from an 11 MB baseline.
    incident = REPO / "examples/closewait-incident"
    code, output = _run("audit", "--root", str(incident), "--format", "json")
    assert code in (0, 1)
    report = json.loads(output)
    for finding in report["findings"]:
        finding["current"] = "B" * 1_000_000
    baseline = tmp_path / "baseline.json"
    baseline.write_text(json.dumps(report))
    code, output = _run(
        "audit", "--root", str(incident), "--baseline", str(baseline), "--format", "json"
    )
    assert code in (0, 1), output[:2000]
    reasons = [f["suppression_reason"] for f in json.loads(output)["findings"]]
    assert any(reason and reason.startswith("in baseline (was BBB") for reason in reasons)
    assert len(output) < 200_000
