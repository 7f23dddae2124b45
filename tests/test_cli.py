"""The command line: exit codes, one-line errors, formats, and the examples end to end."""

from __future__ import annotations

import json
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from tcpaudit.cli import cli

REPO = Path(__file__).resolve().parents[1]
INCIDENT = str(REPO / "examples" / "closewait-incident")
TUNED = str(REPO / "examples" / "tuned")


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_incident_explains_root_cause_and_exits_1() -> None:
    code, out, _ = run("audit", "--root", INCIDENT, "--format", "json")
    assert code == 1
    report = json.loads(out)
    assert report["grade"] == "F"
    top = report["findings"][0]
    assert top["rule"] == "TA301" and top["severity"] == "critical"
    # The root cause quoted with the incident's own numbers: 150 workers / 300 s.
    assert "150 workers" in top["message"] and "0.5 stalled clients per second" in top["message"]
    assert "one every 2 s" in top["message"]
    for finding in report["findings"]:
        assert finding["location"]["file"], finding
        assert finding["fix"], finding
        assert finding["recommended"] is not None, finding
    apache_findings = [f for f in report["findings"] if f["rule"].startswith("TA1")]
    assert all(f["location"]["line"] for f in apache_findings)
    rules = {f["rule"] for f in report["findings"]}
    assert {"TA101", "TA102", "TA103", "TA201", "TA202", "TA301"} <= rules


def test_tuned_grades_a_or_b_and_exits_0() -> None:
    code, out, _ = run("audit", "--root", TUNED, "--format", "json")
    assert code == 0
    report = json.loads(out)
    assert report["grade"] in ("A", "B")
    assert all(f["severity"] in ("info", "low") for f in report["findings"])


def test_table_output_names_file_and_line() -> None:
    code, out, _ = run("audit", "--root", INCIDENT)
    assert code == 1
    assert "Grade F" in out
    assert "etc/httpd/conf/httpd.conf:11" in out
    assert "\033[" not in out, "no colour when stdout is not a terminal"


def test_fail_on_thresholds() -> None:
    assert run("audit", "--root", INCIDENT, "--fail-on", "never")[0] == 0
    assert run("audit", "--root", INCIDENT, "--fail-on", "critical")[0] == 1
    assert run("audit", "--root", TUNED, "--fail-on", "info")[0] in (0, 1)
    code_low = run("audit", "--root", TUNED, "--fail-on", "medium")[0]
    assert code_low == 0


def test_broken_apache_config_is_one_line_exit_2(tmp_path: Path) -> None:
    conf = tmp_path / "usr/local/apache2/conf/httpd.conf"
    conf.parent.mkdir(parents=True)
    conf.write_text("Timeout 30\n<VirtualHost *:80>\nServerName x\n")
    code, out, err = run("audit", "--root", str(tmp_path))
    assert code == 2
    assert out == ""
    assert err.strip().count("\n") == 0
    assert "usr/local/apache2/conf/httpd.conf:2:" in err and "not closed" in err
    assert "Traceback" not in err


def test_missing_include_is_exit_2_naming_the_line(tmp_path: Path) -> None:
    conf = tmp_path / "usr/local/apache2/conf/httpd.conf"
    conf.parent.mkdir(parents=True)
    conf.write_text("Timeout 30\n\nInclude conf/missing.conf\n")
    code, _, err = run("audit", "--root", str(tmp_path))
    assert code == 2
    assert "httpd.conf:3:" in err


def test_bad_usage_exits_2() -> None:
    assert run("audit", "--format", "nope")[0] == 2
    assert run("audit", "--root", "/nonexistent-root-dir")[0] == 2
    code, _, err = run("audit", "--root", INCIDENT, "--apache-version", "3.0")
    assert code == 2 and "unsupported Apache version" in err


def test_invalid_facts_file_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "facts.json"
    bad.write_text('{"host": 5}')
    code, _, err = run("audit", "--facts", str(bad))
    assert code == 2 and str(bad) in err


def test_facts_roundtrip_gives_same_report(tmp_path: Path) -> None:
    code, out, _ = run("facts", "--root", INCIDENT)
    assert code == 0
    facts = json.loads(out)
    assert facts["apache"]["settings"]["MaxRequestWorkers"]["spelled"] == "MaxClients"
    assert facts["apache"]["settings"]["MaxRequestWorkers"]["value"] == 150
    assert facts["derived"]["exhaustion_interval_seconds"] == 2.013
    assert facts["sysctl"]["settings"]["net.ipv4.tcp_retries2"]["live"]["value"] == 15
    saved = tmp_path / "facts.json"
    saved.write_text(out)
    direct = json.loads(run("audit", "--root", INCIDENT, "--format", "json")[1])
    replayed = json.loads(run("audit", "--facts", str(saved), "--format", "json")[1])

    # A facts document has no directive tree, so the only things it cannot say
    # are the line after which a missing LoadModule belongs and how each
    # changed line reads now (``was``).
    def comparable(finding: dict) -> dict:
        changes = [
            {**c, "was": None}
            for c in finding["fix_changes"]
            if not c["text"].startswith("LoadModule ")
        ]
        if finding["rule"] == "TA103":
            finding = {**finding, "location": {**finding["location"], "line": None}}
        return {**finding, "fix_changes": changes}

    assert [comparable(f) for f in replayed["findings"]] == [
        comparable(f) for f in direct["findings"]
    ]
    assert replayed["grade"] == direct["grade"]
    # From the files the module line goes after the main file's last LoadModule;
    # from facts, at the end of the main file (before the lines that need it).
    (direct_ta103,) = [f for f in direct["findings"] if f["rule"] == "TA103"]
    (replayed_ta103,) = [f for f in replayed["findings"] if f["rule"] == "TA103"]
    assert [(c["action"], c["line"]) for c in direct_ta103["fix_changes"]] == [
        ("insert_after", 56),
        ("append", None),
    ]
    assert [(c["action"], c["line"]) for c in replayed_ta103["fix_changes"]] == [
        ("append", None),
        ("append", None),
    ]


def test_output_file_is_private_and_complete(tmp_path: Path) -> None:
    target = tmp_path / "report.json"
    code, out, _ = run("audit", "--root", INCIDENT, "--format", "json", "--output", str(target))
    assert code == 1 and out == ""
    assert json.loads(target.read_text())["grade"] == "F"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]


def test_rules_and_explain() -> None:
    code, out, _ = run("rules", "--format", "json")
    assert code == 0
    ids = [rule["id"] for rule in json.loads(out)]
    assert ids == sorted(ids) and "TA301" in ids
    code, out, _ = run("explain", "ta101")
    assert code == 0
    for heading in (
        "## What it does",
        "## Why is this bad?",
        "## Example",
        "Use instead:",
        "## References",
    ):
        assert heading in out
    assert run("explain", "TA999")[0] == 2
    code, out, _ = run("explain", "--grading")
    assert code == 0 and "critical" in out


def test_schema_validates_shape() -> None:
    code, out, _ = run("schema")
    assert code == 0
    schema = json.loads(out)
    assert "findings" in schema["properties"] and "grade" in schema["properties"]


def test_baseline_accepts_known_findings(tmp_path: Path) -> None:
    base = tmp_path / "base.json"
    assert run("audit", "--root", INCIDENT, "--format", "json", "-o", str(base))[0] == 1
    code, out, _ = run("audit", "--root", INCIDENT, "--baseline", str(base), "--format", "json")
    report = json.loads(out)
    assert code == 0 and report["grade"] == "A"
    assert all(
        f["suppressed"] and f["suppression_reason"] == "in baseline" for f in report["findings"]
    )
    assert run("audit", "--root", INCIDENT, "--baseline", str(tmp_path / "nope.json"))[0] == 2


def test_fleet_rolls_up_reports(tmp_path: Path) -> None:
    for name, root in (("incident", INCIDENT), ("tuned", TUNED)):
        run("audit", "--root", root, "--format", "json", "-o", str(tmp_path / f"{name}.json"))
    code, out, _ = run("fleet", str(tmp_path), "--format", "json")
    assert code == 0
    summary = json.loads(out)
    assert {host["grade"] for host in summary["hosts"]} == {"F", "A"}
    assert run("fleet", str(tmp_path), "--fail-on", "high")[0] == 1


def test_relative_apache_conf_must_stay_inside_the_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "root"
    (root / "etc/httpd/conf").mkdir(parents=True)
    (root / "etc/httpd/conf/httpd.conf").write_text("Timeout 60\n")
    (tmp_path / "outside.conf").write_text("Timeout 999\n")
    monkeypatch.chdir(root)
    code, _, err = run("facts", "--root", ".", "--apache-conf", "../outside.conf",
                       "--apache-version", "2.2")  # fmt: skip
    assert code == 2
    assert f"outside --root {root}; give the path the host uses (such as /outside.conf)" in err
    # From outside the root, the host's own path for the same file is what to give.
    monkeypatch.chdir(tmp_path)
    code, _, err = run("facts", "--root", "root", "--apache-conf", "etc/httpd/conf/httpd.conf")
    assert code == 2 and "(such as /etc/httpd/conf/httpd.conf)" in err
    code, out, _ = run("facts", "--root", "root", "--apache-conf", "/etc/httpd/conf/httpd.conf",
                       "--apache-version", "2.2")  # fmt: skip
    assert code == 0
    monkeypatch.chdir(root)
    code, out, _ = run("facts", "--root", ".", "--apache-conf", "etc/httpd/conf/httpd.conf",
                       "--apache-version", "2.2")  # fmt: skip
    assert code == 0
    assert json.loads(out)["apache"]["settings"]["Timeout"]["value"] == 60


def test_facts_document_with_a_value_of_the_wrong_kind_is_refused(tmp_path: Path) -> None:
    code, out, _ = run("facts", "--root", INCIDENT)
    assert code == 0
    document = json.loads(out)
    document["apache"]["vhosts"][0]["settings"]["KeepAliveTimeout"] = {"value": "2s"}
    path = tmp_path / "facts.json"
    path.write_text(json.dumps(document))
    code, _, err = run("audit", "--facts", str(path))
    assert code == 2
    assert err == (
        f"tcpaudit: error: {path}: apache.vhosts.0.settings.KeepAliveTimeout.value: "
        "expected a number of seconds or a count, got '2s'\n"
    )


@pytest.mark.parametrize(
    "lines",
    [
        # a secret-named variable's value, hidden, so not known
        ("Define TOKEN_TIMEOUT 7", "Timeout ${TOKEN_TIMEOUT}", "KeepAlive ${TOKEN_TIMEOUT}"),
        # a secret by use (a URL's password) given to a number and to KeepAlive
        (
            "LoadModule proxy_module modules/mod_proxy.so",
            "LoadModule proxy_http_module modules/mod_proxy_http.so",
            "Define PW 12345678",
            "ProxyPass /a http://user:${PW}@backend.example/",
            "Timeout ${PW}",
            "<VirtualHost *:8080>",
            "KeepAliveTimeout ${PW}",
            "</VirtualHost>",
        ),
    ],
    ids=["secret-named", "secret-by-use"],
)
def test_a_facts_document_with_a_setting_not_known_is_audited_as_the_tree(
    tmp_path: Path, lines: tuple[str, ...]
) -> None:
    # The loader writes a value it hides as null with a note; its own document
    # must be read back, graded as the tree was.
    root = tmp_path / "root"
    (root / "usr/local/apache2/conf").mkdir(parents=True)
    conf = ["LoadModule mpm_event_module modules/mod_mpm_event.so", "Listen 8080", *lines]
    (root / "usr/local/apache2/conf/httpd.conf").write_text("\n".join(conf) + "\n")
    code, out, err = run("facts", "--root", str(root), "--apache-version", "2.4.71")
    assert code == 0, err
    assert json.loads(out)["apache"]["settings"]["Timeout"]["value"] is None
    path = tmp_path / "facts.json"
    path.write_text(out)
    local_code, local, _ = run("audit", "--root", str(root), "--apache-version", "2.4.71",
                               "--format", "json")  # fmt: skip
    facts_code, again, err = run("audit", "--facts", str(path), "--format", "json")
    assert (facts_code, err) == (local_code, "")

    def judged(report: str) -> list[tuple[str, str | None, str | None, str]]:
        findings = json.loads(report)["findings"]
        return sorted((f["rule"], f["setting"], f["scope"], f["message"]) for f in findings)

    assert judged(again) == judged(local)
    assert json.loads(again)["grade"] == json.loads(local)["grade"]


def _config_with_rules_dir(tmp_path: Path) -> Path:
    """A tcpaudit.toml whose rules_dirs adds TA950, a copy of TA101 under a new id."""
    rules = tmp_path / "house-rules"
    rules.mkdir()
    text = (REPO / "rules" / "TA101-apache-timeout.yaml").read_text(encoding="utf-8")
    (rules / "TA950-house-timeout.yaml").write_text(text.replace("id: TA101", "id: TA950"))
    config = tmp_path / "tcpaudit.toml"
    config.write_text('rules_dirs = ["house-rules"]\n')
    return config


def test_rules_and_explain_know_the_rules_of_tcpaudit_toml(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _config_with_rules_dir(tmp_path)
    code, out, _ = run("rules", "--format", "json", "--config", str(config))
    assert code == 0 and "TA950" in [rule["id"] for rule in json.loads(out)]
    code, out, _ = run("explain", "TA950", "--config", str(config))
    assert code == 0 and "## Why is this bad?" in out
    # Found upward from the working directory, as `audit` finds it.
    monkeypatch.chdir(tmp_path)
    assert "TA950" in run("rules")[1]
    assert run("explain", "TA950")[0] == 0
    assert "TA950" in run("audit", "--root", INCIDENT, "--format", "json")[1]


def test_a_mistyped_rule_id_is_answered_with_the_likely_one() -> None:
    code, _, err = run("explain", "TA1O1")
    assert code == 2 and "did you mean TA101?" in err


def _tcpaudit(*args: str) -> subprocess.CompletedProcess[str]:
    # A child process: logging is configured once per process, as on a real command line.
    return subprocess.run(
        [sys.executable, "-m", "tcpaudit", *args], capture_output=True, text=True, check=False
    )


@pytest.mark.parametrize("position", ["before", "after"])
def test_verbose_works_before_or_after_the_command(position: str) -> None:
    args = ["audit", "--root", INCIDENT, "--format", "json"]
    result = _tcpaudit(*(["-vv", *args] if position == "before" else [*args, "-vv"]))
    assert result.returncode == 1
    assert "tcpaudit.facts: apache: etc/httpd/conf/httpd.conf" in result.stderr
    # -vv logs each rule's decision, with or without a finding.
    assert "TA101: high on Timeout: 300 (recommended 30)" in result.stderr
    assert "TA104: no finding" in result.stderr
    # Inferring the version reads the files twice; each is logged once.
    assert result.stderr.count("read etc/httpd/conf/httpd.conf\n") == 1
    assert json.loads(result.stdout)["grade"] == "F"


def test_one_v_on_each_side_counts_as_two() -> None:
    once = _tcpaudit("audit", "-v", "--root", INCIDENT)
    assert "tcpaudit.facts: apache:" in once.stderr and "TA104: no finding" not in once.stderr
    assert "TA104: no finding" in _tcpaudit("-v", "audit", "-v", "--root", INCIDENT).stderr


@pytest.mark.parametrize("command", ["audit", "rules", "explain"])
def test_every_option_of_the_catalogue_commands_has_help(command: str) -> None:
    code, out, _ = run(command, "--help")
    assert code == 0
    assert "--rules-dir DIRECTORY" in out and "Add the rules in this directory" in out
    assert "--config FILE" in out
    if command != "explain":
        assert re.search(r"\[default:\s+table\]", out)
