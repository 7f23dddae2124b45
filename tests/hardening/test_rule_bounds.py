"""Rules from a repository's rules directory are bounded: their files, their text, their findings.

A rules directory may come from the audited repository (tcpaudit.toml's
rules_dirs). Before, a rule's message was copied into each finding unbounded
(462 KiB over 300 findings: 67 MB of JSON, 34 s as a table), rule files were
read whatever their size (60 MiB: 36 s and 343 MB to explain) and number,
and nothing bounded the report as a whole.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

import tcpaudit
from tcpaudit.cli import cli
from tcpaudit.engine import run as engine_run
from tcpaudit.engine.catalogue import MAX_EXTRA_RULES, MAX_RULE_FILE_BYTES
from tcpaudit.engine.run import MAX_RENDERED_CHARACTERS
from tcpaudit.engine.selection import MAX_LISTED_FINDINGS

REPO = Path(__file__).resolve().parents[2]
INCIDENT = REPO / "examples" / "closewait-incident"


def _rule(rule_id: str, **fields: str) -> str:
    text = {
        "title": "Timeout above one second",
        "summary": "Flags every Timeout above one second.",
        "rationale": "A test rule.",
        "message": "{scope} sets Timeout {current}",
    }
    text.update(fields)
    body = "".join(f"{name}: {json.dumps(value)}\n" for name, value in text.items())
    return (
        f"id: {rule_id}\nseverity: low\ncheck: apache_setting_above\n"
        "params: {setting: Timeout, max_seconds: 1, recommended_seconds: 1}\n"
        f"{body}example:\n  bad: Timeout 300\n  use_instead: Timeout 1\n"
    )


def _repository(tmp_path: Path, vhosts: int = 0, name_length: int = 10) -> Path:
    repository = tmp_path / "repo"
    shutil.copytree(INCIDENT, repository / "root", symlinks=True)
    if vhosts:
        (repository / "root/etc/httpd/conf.d/many.conf").write_text(
            "".join(
                f"<VirtualHost *:80>\nServerName {'v' * name_length}{index}.example\n"
                "Timeout 300\n</VirtualHost>\n"
                for index in range(vhosts)
            )
        )
    (repository / "rules").mkdir()
    (repository / "tcpaudit.toml").write_text('rules_dirs = ["rules"]\n')
    return repository


def _audit(repository: Path, *extra: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(
        cli,
        ["audit", "--root", str(repository / "root"), "--config",
         str(repository / "tcpaudit.toml"), *extra],
    )  # fmt: skip
    return result.exit_code, result.output, result.stderr


@pytest.mark.parametrize(
    ("field", "length", "line"),
    [("message", 2_001, 8), ("title", 201, 5), ("rationale", 8_001, 7), ("summary", 8_001, 6)],
)
def test_rule_text_over_its_bound_is_one_error_line(
    tmp_path: Path, field: str, length: int, line: int
) -> None:
    repository = _repository(tmp_path)
    (repository / "rules/TA950-long.yaml").write_text(_rule("TA950", **{field: "x" * length}))
    code, _, errors = _audit(repository)
    assert code == 2 and errors.count("\n") == 1
    assert f"TA950-long.yaml:{line}: {field}: String should have at most" in errors


def test_a_rule_file_over_its_size_is_refused_before_it_is_parsed(tmp_path: Path) -> None:
    repository = _repository(tmp_path)
    path = repository / "rules/TA950-big.yaml"
    path.write_text(_rule("TA950") + "# " + "c" * MAX_RULE_FILE_BYTES + "\n")
    code, _, errors = _audit(repository)
    assert code == 2 and errors.count("\n") == 1
    assert f"TA950-big.yaml: larger than {MAX_RULE_FILE_BYTES:,} bytes" in errors
    explained = CliRunner().invoke(cli, ["explain", "TA950", "--rules-dir", str(path.parent)])
    assert explained.exit_code == 2 and "larger than" in explained.stderr


def test_rules_directories_hold_a_bounded_number_of_rules(tmp_path: Path) -> None:
    repository = _repository(tmp_path)
    for index in range(MAX_EXTRA_RULES + 1):
        rule_id = f"TA{500 + index:03d}"
        (repository / f"rules/{rule_id}-r.yaml").write_text(_rule(rule_id))
    code, _, errors = _audit(repository)
    assert code == 2 and errors.count("\n") == 1
    assert f"more than {MAX_EXTRA_RULES} rule files" in errors
    # Spread over two directories, the bound is the same.
    second = repository / "more-rules"
    second.mkdir()
    shutil.move(repository / "rules/TA600-r.yaml", second / "TA600-r.yaml")
    (repository / "tcpaudit.toml").write_text('rules_dirs = ["rules", "more-rules"]\n')
    code, _, errors = _audit(repository)
    assert code == 2 and f"more than {MAX_EXTRA_RULES} rules in the rules directories" in errors


def test_a_message_repeating_long_values_is_cut(tmp_path: Path) -> None:
    repository = _repository(tmp_path, vhosts=3, name_length=3_000)
    (repository / "rules/TA950-r.yaml").write_text(_rule("TA950", message="{scope} " * 240))
    code, output, _ = _audit(repository, "--format", "json")
    assert code in (0, 1)
    findings = json.loads(output)["findings"]
    messages = [f["message"] for f in findings if f["rule"] == "TA950" and f["scope"]]
    assert len(messages) == 3
    for message in messages:
        assert message.endswith(f"... (cut at {MAX_RENDERED_CHARACTERS:,} characters)")
        assert len(message) < MAX_RENDERED_CHARACTERS + 40


def test_a_report_lists_a_bounded_number_of_findings_in_all(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Twelve rules finding once per vhost of 300 list 250 each: 3,000 > 2,500.
    repository = _repository(tmp_path, vhosts=300)
    for index in range(12):
        rule_id = f"TA{500 + index:03d}"
        (repository / f"rules/{rule_id}-r.yaml").write_text(_rule(rule_id))
    config = tcpaudit.load_config(repository / "tcpaudit.toml")
    facts = tcpaudit.gather(root=repository / "root")
    report = tcpaudit.audit(facts, config=config)
    assert len(report.findings) == MAX_LISTED_FINDINGS
    assert any(
        "not listed: a report lists at most 2,500 findings" in n.message for n in report.notes
    )
    # The findings left out are the least severe, and a baseline still accepts them.
    every = {f.fingerprint for f in report.findings} | set(report.unlisted)
    assert len(every) == len(report.findings) + len(report.unlisted)
    monkeypatch.setattr(engine_run, "MAX_LISTED_FINDINGS", 10**9)
    unbounded = tcpaudit.audit(facts, config=config)
    assert len(unbounded.findings) > MAX_LISTED_FINDINGS
    assert (report.score, report.grade) == (unbounded.score, unbounded.grade)
    assert {f.fingerprint for f in unbounded.findings} <= every
    worst_left = max(
        f.severity.rank for f in unbounded.findings if f.fingerprint in set(report.unlisted)
    )
    assert worst_left <= min(f.severity.rank for f in report.findings)
    above_low = {f.rule for f in unbounded.findings if f.severity.rank > worst_left}
    assert above_low and above_low <= {f.rule for f in report.findings}


def test_rules_of_rules_directories_share_one_budget_of_findings(tmp_path: Path) -> None:
    # 30 rules over 1,000 vhosts and the server: each finds 1,001 times;
    # together they may judge 20,000 findings, each at least the 250 it lists.
    repository = _repository(tmp_path, vhosts=1_000)
    for index in range(30):
        rule_id = f"TA{500 + index:03d}"
        (repository / f"rules/{rule_id}-r.yaml").write_text(_rule(rule_id))
    code, output, _ = _audit(repository, "--format", "json")
    assert code in (0, 1)
    notes = [n["message"] for n in json.loads(output)["notes"]]
    first = next(n for n in notes if n.startswith("TA500:"))
    last = next(n for n in notes if n.startswith("TA529:"))
    assert "751 more finding(s) not listed" in first and "stopped" not in first
    nineteenth = next(n for n in notes if n.startswith("TA519:"))
    assert "the check stopped after 981 findings" in nineteenth
    assert "the check stopped after 250 findings" in last
    assert "judge 20,000 findings in all" in last


def test_a_control_character_in_a_rule_is_one_error_line(tmp_path: Path) -> None:
    # A rule's text and parameters reach terminals (explain, the table, a
    # patch's added lines): an escape written as \u001b in YAML is refused.
    repository = _repository(tmp_path)
    text = _rule("TA950").replace(
        "params: {setting: Timeout,", 'params: {setting: "Time\\u001b]0;x\\u0007out",'
    )
    (repository / "rules/TA950-esc.yaml").write_text(text)
    code, _, errors = _audit(repository)
    assert code == 2 and errors.count("\n") == 1
    assert "TA950-esc.yaml:4: params.setting: a control character" in errors
    assert "\x1b" not in errors


def test_rules_directories_are_read_once_each_and_bounded_together(tmp_path: Path) -> None:
    # A 24 KB tcpaudit.toml naming one directory of 9,999 files 6,000 times
    # took 45 s: directories are read once, 100 at most, 10,000 entries in all.
    repository = _repository(tmp_path)
    (repository / "rules/TA950-r.yaml").write_text(_rule("TA950"))
    many = ", ".join(['"rules"'] * 6_000)
    (repository / "tcpaudit.toml").write_text(f"rules_dirs = [{many}]\n")
    code, output, _ = _audit(repository, "--format", "json")
    assert code in (0, 1) and '"TA950"' in output
    for index in range(101):
        (repository / f"r{index}").mkdir()
    names = ", ".join(f'"r{index}"' for index in range(101))
    (repository / "tcpaudit.toml").write_text(f"rules_dirs = [{names}]\n")
    code, _, errors = _audit(repository)
    assert code == 2 and "101 rules directories: at most 100 are read" in errors
    for name in ("crowded", "crowded2"):
        (repository / name).mkdir()
        for index in range(6_000):
            (repository / name / f"f{index}").touch()
    (repository / "tcpaudit.toml").write_text('rules_dirs = ["crowded", "crowded2"]\n')
    code, _, errors = _audit(repository)
    assert code == 2 and "more than 10,000 entries in the rules directories" in errors


def test_repository_rule_text_stays_literal_in_explain_and_sarif(tmp_path: Path) -> None:
    repository = _repository(tmp_path, vhosts=1)
    hostile = _rule(
        "TA950",
        title="A\nC::error::X",
        summary="S ![t](https://evil.example/s.png) <img src=https://evil.example/i.png>",
        rationale="R [click](javascript:alert(1))",
    )
    (repository / "rules/TA950-h.yaml").write_text(hostile)
    explained = CliRunner().invoke(
        cli, ["explain", "TA950", "--config", str(repository / "tcpaudit.toml")]
    )
    assert explained.exit_code == 0, explained.output
    assert not [line for line in explained.output.splitlines() if line.startswith("C::error")]
    # The example's lines too: none starts a line of the output, blanks aside.
    (repository / "rules/TA950-h.yaml").write_text(
        hostile.replace("bad: Timeout 300", 'bad: "Timeout 300\\n::error file=x::injected"')
    )
    explained = CliRunner().invoke(
        cli, ["explain", "TA950", "--config", str(repository / "tcpaudit.toml")]
    )
    assert explained.exit_code == 0, explained.output
    # GitHub's runner trims a line's leading blanks before looking for "::".
    assert "\\u003a:error file=x::injected" in explained.output
    assert not [line for line in explained.output.splitlines() if line.lstrip().startswith("::")]
    code, output, _ = _audit(repository, "--format", "sarif")
    assert code in (0, 1)
    rules = json.loads(output)["runs"][0]["tool"]["driver"]["rules"]
    help_text = next(r for r in rules if r["id"] == "TA950")["help"]["markdown"]
    # Shown escaped, as --format markdown shows it: no image, tag or link.
    assert "![t](" not in help_text and "\\<img" in help_text
    assert not re.search(r"(?<!\\)<img", help_text)
    assert "[click](javascript:" not in help_text and "\nC::error" not in help_text


@pytest.mark.parametrize("value", [".inf", "-.inf", ".nan", "1.0e+400"])
def test_a_number_that_is_not_finite_in_a_rule_is_one_error_line(
    tmp_path: Path, value: str
) -> None:
    # JSON has no Infinity or NaN: the report and the SARIF log held
    # "-Infinity", which --baseline then refused to read back.
    repository = _repository(tmp_path)
    text = _rule("TA951").replace(
        "params: {setting: Timeout,", f"params: {{bogus: {value}, setting: Timeout,"
    )
    (repository / "rules/TA951-inf.yaml").write_text(text)
    code, _, errors = _audit(repository)
    assert code == 2 and errors.count("\n") == 1, errors
    assert "TA951-inf.yaml:4: params.bogus: not a finite number" in errors
