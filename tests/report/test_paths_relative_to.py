"""`tcpaudit audit --paths-relative-to DIR`: files named from the repository, not --root."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from tcpaudit.cli import cli
from tcpaudit.engine import Report, Severity
from tcpaudit.engine.findings import Finding
from tcpaudit.provenance import Location, Note
from tcpaudit.report.paths import rebase_paths

REPO = Path(__file__).resolve().parents[2]
INCIDENT = REPO / "examples" / "closewait-incident"


@pytest.fixture
def repository(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A repository keeping the incident host's tree under deploy/web1, as the working dir."""
    shutil.copytree(INCIDENT, tmp_path / "deploy" / "web1", symlinks=True)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _audit(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(
        cli, ["audit", "--root", "deploy/web1", *args, "--fail-on", "never"]
    )
    return result.exit_code, result.output


def test_sarif_uris_point_at_files_of_the_repository(repository: Path) -> None:
    code, output = _audit("--paths-relative-to", ".", "--format", "sarif")
    assert code == 0, output
    results = json.loads(output)["runs"][0]["results"]
    uris = {
        location["physicalLocation"]["artifactLocation"]["uri"]
        for result in results
        for location in result["locations"]
    }
    assert "deploy/web1/etc/httpd/conf/httpd.conf" in uris
    for uri in uris:
        assert (repository / uri).is_file(), uri


def test_without_the_option_paths_stay_relative_to_root(repository: Path) -> None:
    code, output = _audit("--format", "json")
    assert code == 0
    files = {f["location"]["file"] for f in json.loads(output)["findings"] if f["location"]}
    assert "etc/httpd/conf/httpd.conf" in files
    assert not any(file.startswith("deploy/") for file in files)


def test_github_annotations_and_json_use_the_same_paths(repository: Path) -> None:
    _, annotations = _audit("--paths-relative-to", ".", "--format", "github")
    annotated = set(re.findall(r"file=([^,]+),", annotations))
    assert annotated and all((repository / file).is_file() for file in annotated)
    _, document = _audit("--paths-relative-to", ".", "--format", "json")
    report = json.loads(document)
    assert report["apache"]["main_file"] == "deploy/web1/etc/httpd/conf/httpd.conf"
    located = {f["location"]["file"] for f in report["findings"] if f["location"]}
    assert annotated <= located


def test_expired_suppression_is_rebased_from_the_working_directory(repository: Path) -> None:
    (repository / "tcpaudit.toml").write_text(
        '[[suppress]]\nrule = "TA101"\nreason = "until the migration"\nexpires = 2020-01-01\n'
    )
    os.chdir(repository / "deploy")
    result = CliRunner().invoke(
        cli,
        ["audit", "--root", "web1", "--config", "../tcpaudit.toml", "--format", "json",
         "--paths-relative-to", "..", "--fail-on", "never"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    expired = [f for f in json.loads(result.output)["findings"] if f["rule"] == "TA901"]
    assert [f["location"] for f in expired] == [{"file": "tcpaudit.toml", "line": 1}]
    # Found by looking upward from the working directory, it is named absolutely.
    found = CliRunner().invoke(
        cli,
        ["audit", "--root", "web1", "--format", "json", "--paths-relative-to", "..",
         "--fail-on", "never"],
    )  # fmt: skip
    expired = [f for f in json.loads(found.output)["findings"] if f["rule"] == "TA901"]
    assert [f["location"] for f in expired] == [{"file": "tcpaudit.toml", "line": 1}]


def test_root_outside_the_directory_is_a_usage_error(repository: Path) -> None:
    (repository / "elsewhere").mkdir()
    code, output = _audit("--paths-relative-to", "elsewhere")
    assert code == 2
    assert "is not inside --paths-relative-to elsewhere" in output


def test_absolute_paths_are_left_alone(tmp_path: Path) -> None:
    report = Report(
        host="h",
        grade="A",
        score=100,
        findings=[
            Finding(rule="TA201", severity=Severity.LOW, title="t", message="m",
                    location=Location(file="/proc/sys/net/ipv4/tcp_keepalive_time")),
            Finding(rule="TA101", severity=Severity.LOW, title="t", message="m",
                    location=Location(file="etc/apache2/apache2.conf", line=3)),
        ],
        notes=[Note(message="n", file="etc/sysctl.conf", line=2), Note(message="plain")],
    )  # fmt: skip
    rebased = rebase_paths(report, tmp_path / "hosts" / "web1", tmp_path)
    locations = [f.location for f in rebased.findings]
    assert locations == [
        Location(file="/proc/sys/net/ipv4/tcp_keepalive_time"),
        Location(file="hosts/web1/etc/apache2/apache2.conf", line=3),
    ]
    assert [n.file for n in rebased.notes] == ["hosts/web1/etc/sysctl.conf", None]
    assert report.findings[1].location == Location(file="etc/apache2/apache2.conf", line=3)


def test_a_baseline_made_without_the_option_still_matches(repository: Path) -> None:
    _, baseline = _audit("--format", "json")
    (repository / "baseline.json").write_text(baseline)
    code, output = _audit("--paths-relative-to", ".", "--format", "json",
                          "--baseline", "baseline.json")  # fmt: skip
    assert code == 0
    findings = json.loads(output)["findings"]
    assert findings and all(f["suppressed"] for f in findings)
    assert any(f["location"] and f["location"]["file"].startswith("deploy/web1/") for f in findings)
