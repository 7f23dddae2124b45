"""Reports the output-format tests share: the two examples, one with a suppression,
a hand-built report a format must escape, and the two official schemas."""

from __future__ import annotations

import json

import jsonschema
import pytest
import xmlschema
from report_fixtures import (
    DATA,
    PINNED_TOOL,
    SUPPRESSION_REASON,
    example_report,
    hostile_finding,
)

from tcpaudit.engine import AuditConfig, Report, Severity, Suppression
from tcpaudit.provenance import Location


@pytest.fixture(scope="session")
def incident() -> Report:
    return example_report("closewait-incident")


@pytest.fixture(scope="session")
def tuned() -> Report:
    return example_report("tuned")


@pytest.fixture(scope="session")
def clean(tuned: Report) -> Report:
    """The tuned host with no findings at all, whatever the catalogue adds."""
    return tuned.model_copy(update={"findings": [], "grade": "A", "score": 100})


@pytest.fixture(scope="session")
def suppressed_incident() -> Report:
    """The incident with every TA102 finding suppressed through the configuration."""
    config = AuditConfig(suppress=[Suppression(rule="TA102", reason=SUPPRESSION_REASON)])
    return example_report("closewait-incident", config)


@pytest.fixture(scope="session")
def hostile() -> Report:
    """Findings a format must escape, one without location, one with a line-less file,
    one suppressed, and one of a rule the catalogue does not know."""
    findings = [
        hostile_finding(),
        hostile_finding(
            rule="TA301",
            severity=Severity.CRITICAL,
            setting="exhaustion_clients_per_second",
            location=None,
            scope=None,
        ),
        hostile_finding(
            rule="TA201",
            severity=Severity.LOW,
            setting="net.ipv4.tcp_keepalive_time",
            location=Location(file="proc/sys/net/ipv4/tcp_keepalive_time"),
        ),
        hostile_finding(rule="TA102", suppressed=True, suppression_reason="known, <fixed> soon"),
        hostile_finding(rule="TA999", severity=Severity.INFO, title="A rule from elsewhere"),
    ]
    return Report(host="web|1,x:y", grade="C", score=61, findings=findings, tool=PINNED_TOOL)


@pytest.fixture(scope="session")
def sarif_validator() -> jsonschema.protocols.Validator:
    """The OASIS SARIF 2.1.0 schema (draft-04), see tests/data/SOURCES.md."""
    schema = json.loads((DATA / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))
    jsonschema.Draft4Validator.check_schema(schema)
    return jsonschema.Draft4Validator(
        schema, format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER
    )


@pytest.fixture(scope="session")
def junit_schema() -> xmlschema.XMLSchema:
    """The Jenkins xUnit plugin's JUnit schema, see tests/data/SOURCES.md."""
    return xmlschema.XMLSchema(str(DATA / "junit-10.xsd"))
