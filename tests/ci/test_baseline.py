"""``--baseline``: findings of a previous report are accepted, new ones still count."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ci_helpers import EXAMPLES, audit_root, copy_example

from tcpaudit.engine import AuditConfig, Severity, Suppression, audit
from tcpaudit.engine.baseline import (
    BASELINE_REASON,
    MAX_UNLISTED,
    apply_baseline,
    load_baseline,
)
from tcpaudit.engine.findings import MAX_REPORT_FINDINGS
from tcpaudit.engine.grade import score_for
from tcpaudit.errors import ParseError
from tcpaudit.facts import gather
from tcpaudit.provenance import Location
from tcpaudit.report import FORMATS


def write_report(root: Path, target: Path) -> Path:
    target.write_text(audit_root(root).to_json(), encoding="utf-8")
    return target


def test_baseline_holds_every_fingerprint(tmp_path: Path) -> None:
    report = audit_root(EXAMPLES / "closewait-incident")
    path = tmp_path / "baseline.json"
    path.write_text(report.to_json(), encoding="utf-8")
    assert load_baseline(path) == {f.fingerprint: f.current for f in report.findings}
    assert len(load_baseline(str(path))) == len(report.findings)


def test_same_report_is_all_baseline_and_grades_a(tmp_path: Path) -> None:
    root = EXAMPLES / "closewait-incident"
    report = audit_root(root)
    assert report.grade == "F" and report.at_or_above(Severity.HIGH)
    result = apply_baseline(report, load_baseline(write_report(root, tmp_path / "b.json")))
    assert len(result.findings) == len(report.findings), "baseline findings stay visible"
    assert all(f.suppressed and f.suppression_reason == BASELINE_REASON for f in result.findings)
    assert (result.score, result.grade) == (100, "A")
    assert not result.at_or_above(Severity.INFO)
    assert report.grade == "F" and not any(f.suppressed for f in report.findings), "input kept"
    assert "0 new finding(s)" in str(result.notes[-1])
    # What the CLI then does: render and compute the exit code from the result.
    data = json.loads(FORMATS["json"](result))
    assert data["grade"] == "A"
    assert all(f["suppressed"] for f in data["findings"])


def test_finding_whose_line_moved_is_still_in_baseline(tmp_path: Path) -> None:
    root = copy_example("closewait-incident", tmp_path / "root")
    baseline = load_baseline(write_report(root, tmp_path / "baseline.json"))
    before = audit_root(root)
    conf = root / "etc/httpd/conf/httpd.conf"
    conf.write_text("# added\n# above\n# everything\n" + conf.read_text(), encoding="utf-8")
    after = audit_root(root)
    lines_before = {(f.rule, f.location.line) for f in before.findings if f.location}
    lines_after = {(f.rule, f.location.line) for f in after.findings if f.location}
    assert ("TA101", 11) in lines_before and ("TA101", 14) in lines_after, "the lines did move"
    result = apply_baseline(after, baseline)
    assert all(f.suppressed for f in result.findings), [
        f.rule for f in result.findings if not f.suppressed
    ]
    assert result.grade == "A"


def test_new_finding_is_reported_and_alone_decides_the_grade(tmp_path: Path) -> None:
    root = copy_example("tuned", tmp_path / "root")
    # An accepted finding to start from: somaxconn back at this kernel's 128 (TA205).
    (root / "proc/sys/net/core/somaxconn").write_text("128\n")
    sysctl_d = root / "etc/sysctl.d/90-tcp-timers.conf"
    sysctl_d.write_text(sysctl_d.read_text().replace("net.core.somaxconn = 511\n", ""))
    baseline = load_baseline(write_report(root, tmp_path / "baseline.json"))
    assert baseline
    conf = root / "etc/httpd/conf/httpd.conf"
    conf.write_text(conf.read_text().replace("Timeout 20\n", "Timeout 120\n"), encoding="utf-8")
    result = apply_baseline(audit_root(root), baseline)
    new = [f for f in result.findings if not f.suppressed]
    assert "TA101" in {f.rule for f in new}
    assert all(f.fingerprint not in baseline for f in new)
    old = [f for f in result.findings if f.suppressed]
    assert old and all(f.suppression_reason == BASELINE_REASON for f in old)
    assert result.score == score_for(new) < 100
    assert result.at_or_above(Severity.HIGH), "the new high finding still fails --fail-on high"
    assert [f.suppressed for f in result.findings] == sorted(f.suppressed for f in result.findings)


def test_same_rule_in_another_file_or_vhost_is_new() -> None:
    report = audit_root(EXAMPLES / "closewait-incident")
    finding = next(f for f in report.findings if f.rule == "TA101")
    assert finding.location is not None
    moved_file = finding.model_copy(
        update={"location": Location(file="etc/httpd/conf.d/other.conf", line=3)}
    )
    other_vhost = finding.model_copy(update={"scope": "<VirtualHost *:80> other.example"})
    moved_line = finding.model_copy(
        update={"location": Location(file=finding.location.file, line=999)}
    )
    probe = report.model_copy(update={"findings": [moved_file, other_vhost, moved_line]})
    result = apply_baseline(probe, {finding.fingerprint})
    assert [f.suppressed for f in result.findings] == [False, False, True]


def test_config_suppression_keeps_its_own_reason(tmp_path: Path) -> None:
    root = EXAMPLES / "closewait-incident"
    config = AuditConfig(
        suppress=[Suppression(rule="TA102", reason="keep-alive clients until the upgrade")]
    )
    report = audit(gather(root=str(root)), config)
    result = apply_baseline(report, load_baseline(write_report(root, tmp_path / "b.json")))
    reasons = {f.rule: f.suppression_reason for f in result.findings}
    assert reasons["TA102"] == "keep-alive clients until the upgrade"
    assert reasons["TA101"] == BASELINE_REASON


def test_baseline_from_another_version_with_extra_fields(tmp_path: Path) -> None:
    report = audit_root(EXAMPLES / "closewait-incident")
    data = json.loads(report.to_json())
    data["tool"]["version"] = "9.9.9"
    data["future_field"] = {"x": 1}
    for finding in data["findings"]:
        finding["fingerprint"] = "whatever"
        del finding["message"]
    path = tmp_path / "old.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    assert set(load_baseline(path)) == {f.fingerprint for f in report.findings}


@pytest.mark.parametrize(
    ("content", "reason", "line"),
    [
        ('{"schema_version": 1,\n  "findings": [}', "not JSON", 2),
        ("[]", "not a tcpaudit JSON report", None),
        ('{"version": "2.1.0", "runs": []}', "not a tcpaudit JSON report", None),
        (
            '{"schema_version": 2, "tool": {"name": "tcpaudit"}, "findings": []}',
            "schema_version 2",
            None,
        ),
        (
            '{"schema_version": 1, "tool": {"name": "tcpaudit"}, "findings": {}}',
            "not a list",
            None,
        ),
        (
            '{"schema_version": 1, "tool": {"name": "tcpaudit"}, "findings": [{"setting": "x"}]}',
            "findings[0] has no rule",
            None,
        ),
        (
            '{"schema_version": 1, "tool": {"name": "tcpaudit"},'
            ' "findings": [{"rule": "TA101", "setting": 5}]}',
            "must be strings",
            None,
        ),
        (
            '{"schema_version": 1, "tool": {"name": "tcpaudit"}, "findings": [],'
            ' "unlisted": ["0123456789abcdef", "../etc/passwd"]}',
            '"unlisted" is not a list of fingerprints',
            None,
        ),
        (
            '{"schema_version": 1, "tool": {"name": "tcpaudit"}, "findings": [], "unlisted": ['
            + ", ".join(['"0123456789abcdef"'] * (MAX_UNLISTED + 1))
            + "]}",
            f'more than {MAX_UNLISTED:,} "unlisted" fingerprints',
            None,
        ),
        (
            '{"schema_version": 1, "tool": {"name": "tcpaudit"}, "findings": ['
            + ", ".join(['{"rule": "TA101"}'] * (MAX_REPORT_FINDINGS + 1))
            + "]}",
            f"more than {MAX_REPORT_FINDINGS:,} findings",
            None,
        ),
    ],
    ids=[
        "syntax",
        "list",
        "sarif",
        "schema-2",
        "findings-object",
        "no-rule",
        "bad-setting",
        "bad-unlisted",
        "too-many-unlisted",
        "too-many-findings",
    ],
)
def test_invalid_baseline_names_the_file(
    tmp_path: Path, content: str, reason: str, line: int | None
) -> None:
    path = tmp_path / "baseline.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ParseError) as caught:
        load_baseline(path)
    assert caught.value.file == str(path)
    assert caught.value.line == line
    assert reason in caught.value.reason
    assert str(caught.value).startswith(str(path))


def test_missing_or_binary_baseline_is_a_parse_error(tmp_path: Path) -> None:
    with pytest.raises(ParseError, match=r"missing\.json: cannot read baseline"):
        load_baseline(tmp_path / "missing.json")
    binary = tmp_path / "binary.json"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ParseError, match=r"binary\.json: cannot read baseline"):
        load_baseline(binary)


def test_a_baselined_finding_whose_value_changed_says_so(tmp_path: Path) -> None:
    root = copy_example("closewait-incident", tmp_path / "root")
    baseline = load_baseline(write_report(root, tmp_path / "baseline.json"))
    conf = root / "etc/httpd/conf/httpd.conf"
    conf.write_text(conf.read_text().replace("Timeout 300", "Timeout 400"), encoding="utf-8")
    result = apply_baseline(audit_root(root), baseline)
    timeout = next(f for f in result.findings if f.rule == "TA101")
    assert timeout.suppressed
    assert timeout.suppression_reason == f"{BASELINE_REASON} (was 300, now 400)"
    assert "already known (" in str(result.notes[-1]) and "with a value changed since" in str(
        result.notes[-1]
    )
    # Fingerprints alone (the older call) keep the plain reason.
    plain = apply_baseline(audit_root(root), set(baseline))
    assert (
        next(f for f in plain.findings if f.rule == "TA101").suppression_reason == BASELINE_REASON
    )
