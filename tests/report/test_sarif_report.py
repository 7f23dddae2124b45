"""SARIF: valid against the OASIS 2.1.0 schema, rules described, results located,
suppressions and fingerprints carried, and the CLI path end to end."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest
from click.testing import CliRunner
from report_fixtures import EXAMPLES, SUPPRESSION_REASON, hostile_finding

from tcpaudit.cli import cli
from tcpaudit.engine import Report, Severity, load_catalogue
from tcpaudit.engine.findings import ApacheSummary, Finding
from tcpaudit.provenance import Location
from tcpaudit.report import sarif


def rendered(report: Report) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(sarif.render(report))
    return data


def assert_valid(validator: jsonschema.protocols.Validator, log: dict[str, Any]) -> None:
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(log)]
    assert errors == []


def test_schema_rejects_a_broken_log(sarif_validator: jsonschema.protocols.Validator) -> None:
    # The validator is not vacuous: a level outside the enum and a missing message fail.
    def log(result: dict[str, Any]) -> dict[str, Any]:
        run = {"tool": {"driver": {"name": "x"}}, "results": [result]}
        return {"version": "2.1.0", "runs": [run]}

    assert sarif_validator.is_valid(log({"message": {"text": "m"}, "level": "error"}))
    assert not sarif_validator.is_valid(log({}))
    assert not sarif_validator.is_valid(log({"message": {"text": "m"}, "level": "fatal"}))


@pytest.mark.parametrize(
    "fixture", ["incident", "tuned", "clean", "suppressed_incident", "hostile"]
)
def test_valid_against_official_schema(
    fixture: str, request: pytest.FixtureRequest, sarif_validator: jsonschema.protocols.Validator
) -> None:
    log = rendered(request.getfixturevalue(fixture))
    assert_valid(sarif_validator, log)
    assert log["$schema"] == "https://json.schemastore.org/sarif-2.1.0.json"
    assert log["version"] == "2.1.0"
    assert len(log["runs"]) == 1


def test_driver_describes_every_catalogue_rule(incident: Report) -> None:
    driver = rendered(incident)["runs"][0]["tool"]["driver"]
    assert driver["name"] == "tcpaudit"
    assert driver["version"] == incident.tool.version
    assert driver["informationUri"].startswith("https://")
    catalogue = load_catalogue()
    assert [r["id"] for r in driver["rules"]] == [rule.id for rule in catalogue]
    for descriptor, rule in zip(driver["rules"], catalogue, strict=True):
        assert descriptor["shortDescription"]["text"] == rule.title
        assert descriptor["fullDescription"]["text"] == " ".join(rule.summary.split())
        assert rule.example.use_instead.strip() in descriptor["help"]["text"]
        assert rule.example.bad.strip().splitlines()[0] in descriptor["help"]["markdown"]
        assert "Use instead" in descriptor["help"]["markdown"]
        assert descriptor["helpUri"] == rule.references[0]
        assert descriptor["name"] and " " not in descriptor["name"]
        assert descriptor["defaultConfiguration"]["level"] == sarif.level_for(rule.severity)
        assert set(rule.tags) <= set(descriptor["properties"]["tags"])
        assert 0.0 <= float(descriptor["properties"]["security-severity"]) <= 10.0


def test_levels() -> None:
    assert [sarif.level_for(s) for s in Severity] == ["note", "note", "warning", "error", "error"]


def test_results_follow_findings_in_report_order(incident: Report) -> None:
    run = rendered(incident)["runs"][0]
    results = run["results"]
    assert [r["ruleId"] for r in results] == [f.rule for f in incident.findings]
    assert results, "the incident has findings"
    for result, finding in zip(results, incident.findings, strict=True):
        assert run["tool"]["driver"]["rules"][result["ruleIndex"]]["id"] == finding.rule
        assert result["level"] == sarif.level_for(finding.severity)
        assert result["message"]["text"] == finding.message
        assert result["partialFingerprints"] == {"tcpaudit/v1": finding.fingerprint}
        assert result["suppressions"] == []
        physical = result["locations"][0]["physicalLocation"]
        assert finding.location is not None
        assert physical["artifactLocation"] == {
            "uri": finding.location.file,
            "uriBaseId": "%SRCROOT%",
        }
        if finding.location.line is None:
            assert "region" not in physical
        else:
            assert physical["region"] == {"startLine": finding.location.line}
    # Sysctl findings have a file but no line: no region at all.
    assert any("region" not in r["locations"][0]["physicalLocation"] for r in results)


def test_clean_host_has_rules_and_no_results(clean: Report) -> None:
    run = rendered(clean)["runs"][0]
    assert run["results"] == []
    assert len(run["tool"]["driver"]["rules"]) == len(load_catalogue())
    assert run["properties"]["grade"] == "A"


def test_suppressed_finding_is_an_external_suppression(suppressed_incident: Report) -> None:
    results = rendered(suppressed_incident)["runs"][0]["results"]
    suppressed = [r for r in results if r["suppressions"]]
    assert [r["ruleId"] for r in suppressed] == ["TA102"]
    assert suppressed[0]["suppressions"] == [
        {"kind": "external", "status": "accepted", "justification": SUPPRESSION_REASON}
    ]
    assert all(r["suppressions"] == [] for r in results if r["ruleId"] != "TA102")


def test_finding_without_location_is_anchored_at_the_apache_main_file(
    hostile: Report, sarif_validator: jsonschema.protocols.Validator
) -> None:
    apache = ApacheSummary(
        version="2.4.62",
        version_source="option",
        mpm="event",
        mpm_source="LoadModule",
        main_file="etc/apache2/apache2.conf",
        files=1,
        vhosts=0,
    )
    log = rendered(hostile.model_copy(update={"apache": apache}))
    assert_valid(sarif_validator, log)
    result = log["runs"][0]["results"][1]
    assert result["ruleId"] == "TA301"
    (location,) = result["locations"]
    # Every result has a physical location, as GitHub code scanning requires.
    assert location["physicalLocation"] == {
        "artifactLocation": {"uri": "etc/apache2/apache2.conf", "uriBaseId": "%SRCROOT%"}
    }
    assert location["logicalLocations"][0]["name"] == "exhaustion_clients_per_second"
    assert result["properties"]["location"].startswith("none")


def test_kernel_finding_without_location_is_anchored_at_sysctl_conf(
    hostile: Report, sarif_validator: jsonschema.protocols.Validator
) -> None:
    kernel = Finding(
        rule="TA202", severity=Severity.LOW, title="t", message="m",
        setting="net.ipv4.tcp_retries2", current=15, recommended=8,
    )  # fmt: skip
    report = hostile.model_copy(update={"findings": [kernel]})
    log = rendered(report)
    assert_valid(sarif_validator, log)
    (location,) = log["runs"][0]["results"][0]["locations"]
    # Without Apache too: GitHub rejects a log with a result lacking a file.
    assert location["physicalLocation"] == {
        "artifactLocation": {"uri": "etc/sysctl.conf", "uriBaseId": "%SRCROOT%"}
    }
    # An audit of the host itself names files absolutely.
    on_host = kernel.model_copy(update={"location": None})
    other = kernel.model_copy(
        update={"rule": "TA201", "location": Location(file="/proc/sys/net/ipv4/tcp_keepalive_time")}
    )
    log = rendered(report.model_copy(update={"findings": [on_host, other]}))
    (location,) = log["runs"][0]["results"][0]["locations"]
    assert location["physicalLocation"]["artifactLocation"] == {"uri": "file:///etc/sysctl.conf"}


def test_uri_is_percent_encoded(hostile: Report) -> None:
    uri = rendered(hostile)["runs"][0]["results"][0]["locations"][0]["physicalLocation"]
    assert uri["artifactLocation"]["uri"] == "etc/httpd/conf.d/a%20b%2Cc%3Ad%25.conf"


def test_rule_outside_catalogue_gets_a_descriptor(hostile: Report) -> None:
    run = rendered(hostile)["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    result = run["results"][-1]
    assert result["ruleId"] == "TA999"
    assert rules[result["ruleIndex"]]["id"] == "TA999"
    assert rules[result["ruleIndex"]]["shortDescription"]["text"] == "A rule from elsewhere"


def test_given_catalogue_replaces_the_bundled_one(incident: Report) -> None:
    only = [rule for rule in load_catalogue() if rule.id == "TA101"]
    run = json.loads(sarif.render(incident, rules=only))["runs"][0]
    ids = [r["id"] for r in run["tool"]["driver"]["rules"]]
    assert ids[0] == "TA101"
    assert sorted(ids[1:]) == sorted({f.rule for f in incident.findings} - {"TA101"})


def test_cli_writes_valid_sarif_and_exits_1(
    sarif_validator: jsonschema.protocols.Validator,
) -> None:
    root = str(EXAMPLES / "closewait-incident")
    result = CliRunner().invoke(cli, ["audit", "--root", root, "--format", "sarif"])
    assert result.exit_code == 1, result.stderr
    log = json.loads(result.stdout)
    assert_valid(sarif_validator, log)
    as_json = CliRunner().invoke(cli, ["audit", "--root", root, "--format", "json"])
    findings = json.loads(as_json.stdout)["findings"]
    assert [r["ruleId"] for r in log["runs"][0]["results"]] == [f["rule"] for f in findings]


def test_absolute_path_becomes_a_file_uri(sarif_validator: jsonschema.protocols.Validator) -> None:
    finding = hostile_finding(location=Location(file="/etc/httpd/conf/httpd.conf", line=3))
    log = rendered(Report(host="h", grade="B", score=80, findings=[finding]))
    assert_valid(sarif_validator, log)
    physical = log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]
    assert physical["artifactLocation"] == {"uri": "file:///etc/httpd/conf/httpd.conf"}
    assert physical["region"] == {"startLine": 3}


def test_rule_name_is_the_rule_file_slug(incident: Report) -> None:
    rules = rendered(incident)["runs"][0]["tool"]["driver"]["rules"]
    names = {rule["id"]: rule["name"] for rule in rules}
    assert names["TA101"] == "apache-timeout"
    assert names["TA301"] == "worker-exhaustion"


@pytest.mark.parametrize("file", ["etc/\ud800.conf", "/etc/\udbff\udfff-\ud800.conf", "etc/\udcff"])
def test_any_lone_surrogate_in_a_path_becomes_percent_encoded(
    file: str, sarif_validator: jsonschema.protocols.Validator
) -> None:
    # A facts document may carry a lone surrogate of any value in a file name
    # (JSON's "\ud800"); only those surrogateescape makes (U+DC80..) encoded.
    finding = hostile_finding(location=Location(file=file, line=3))
    log = rendered(Report(host="h", grade="B", score=80, findings=[finding]))
    assert_valid(sarif_validator, log)
    uri = log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]
    assert uri["uri"].isascii() and "%" in uri["uri"]


def test_a_facts_document_with_a_lone_surrogate_renders_as_sarif(tmp_path: Any) -> None:
    root = str(EXAMPLES / "closewait-incident")
    facts = json.loads(CliRunner().invoke(cli, ["facts", "--root", root]).stdout)
    facts["apache"]["settings"]["Timeout"]["file"] = "etc/\ud800.conf"
    document = tmp_path / "facts.json"
    document.write_text(json.dumps(facts))
    result = CliRunner().invoke(cli, ["audit", "--facts", str(document), "--format", "sarif"])
    assert result.exit_code == 1, result.output
    assert "%ED%A0%80" in result.stdout
