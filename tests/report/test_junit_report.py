"""JUnit XML: valid against the Jenkins JUnit schema, one testcase per rule,
failures that list each finding, suppressed rules skipped, hostile text escaped."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
import xmlschema
from report_fixtures import SUPPRESSION_REASON, hostile_finding

from tcpaudit.engine import Report, Severity, load_catalogue
from tcpaudit.report import junit


def parsed(report: Report) -> ET.Element:
    return ET.fromstring(junit.render(report))


def test_schema_rejects_a_broken_document(junit_schema: xmlschema.XMLSchema) -> None:
    # The schema is not vacuous: a testsuite needs tests, failures and errors.
    assert not junit_schema.is_valid('<testsuite name="x"><testcase name="a"/></testsuite>')


@pytest.mark.parametrize(
    "fixture", ["incident", "tuned", "clean", "suppressed_incident", "hostile"]
)
def test_valid_against_jenkins_junit_schema(
    fixture: str, request: pytest.FixtureRequest, junit_schema: xmlschema.XMLSchema
) -> None:
    document = junit.render(request.getfixturevalue(fixture))
    junit_schema.validate(document)
    assert document.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<testsuite ')


def test_one_testcase_per_catalogue_rule(incident: Report) -> None:
    suite = parsed(incident)
    assert suite.tag == "testsuite" and suite.get("name") == "tcpaudit"
    cases = suite.findall("testcase")
    catalogue = load_catalogue()
    assert [c.get("name") for c in cases] == [f"{r.id} {r.title}" for r in catalogue]
    assert {c.get("classname") for c in cases} == {"tcpaudit.web1.shop.example"}
    assert suite.get("tests") == str(len(catalogue))


def test_failures_list_each_finding_with_location_and_fix(incident: Report) -> None:
    suite = parsed(incident)
    failed = {c.get("name", "").split()[0]: c for c in suite if c.find("failure") is not None}
    assert set(failed) == {f.rule for f in incident.findings}
    assert suite.get("failures") == str(len(failed))
    assert suite.get("errors") == "0" and suite.get("skipped") == "0"
    for finding in incident.findings:
        failure = failed[finding.rule].find("failure")
        assert failure is not None and failure.text is not None
        assert failure.get("type") == finding.severity.value
        assert str(finding.location) in failure.text
        assert finding.message in failure.text
        fix_lines = finding.fix.splitlines() if finding.fix else []
        assert all(f"    {line}" in failure.text for line in fix_lines)


def test_clean_host_passes_every_case(clean: Report) -> None:
    suite = parsed(clean)
    assert suite.get("failures") == "0"
    assert all(len(case) == 0 for case in suite.findall("testcase"))


def test_suppressed_rule_is_skipped_with_its_reason(suppressed_incident: Report) -> None:
    suite = parsed(suppressed_incident)
    skipped = [c for c in suite.findall("testcase") if c.find("skipped") is not None]
    assert [c.get("name", "").split()[0] for c in skipped] == ["TA102"]
    element = skipped[0].find("skipped")
    assert element is not None
    assert element.get("message") == SUPPRESSION_REASON
    assert skipped[0].find("failure") is None
    assert suite.get("skipped") == "1"
    active_rules = {f.rule for f in suppressed_incident.findings if not f.suppressed}
    assert suite.get("failures") == str(len(active_rules))


def test_hostile_text_is_escaped_and_control_characters_replaced(hostile: Report) -> None:
    document = junit.render(hostile)
    assert "\x01" not in document
    suite = ET.fromstring(document)
    failure = suite.find("testcase/failure")
    assert failure is not None and failure.text is not None
    assert (
        failure.get("message")
        == "50% of workers | held: `Timeout` <300> & more\r\nnext line\ufffd end"
    )
    assert "<300> & more" in failure.text
    assert suite.get("hostname") == "web|1,x:y"


def test_rule_outside_catalogue_gets_its_own_testcase(hostile: Report) -> None:
    names = [c.get("name") for c in parsed(hostile).findall("testcase")]
    assert names[-1] == "TA999 A rule from elsewhere"


def test_xml_safe_keeps_what_xml_allows() -> None:
    assert junit.xml_safe("tab\tline\nreturn\r é €") == "tab\tline\nreturn\r é €"
    assert junit.xml_safe("a\x00b\x1bc\ufffe") == "a\ufffdb\ufffdc\ufffd"


def test_rule_with_active_and_suppressed_findings_fails_and_lists_both() -> None:
    findings = [
        hostile_finding(message="first"),
        hostile_finding(message="second", severity=Severity.LOW),
        hostile_finding(message="third", suppressed=True, suppression_reason="accepted risk"),
    ]
    report = Report(host="h", grade="D", score=50, findings=findings)
    (case,) = ET.fromstring(junit.render(report, rules=[])).findall("testcase")
    failure = case.find("failure")
    assert failure is not None and failure.text is not None
    assert failure.get("message") == "2 findings; the first: first"
    assert failure.get("type") == "medium"
    assert "suppressed: accepted risk" in failure.text
    assert case.find("skipped") is None
