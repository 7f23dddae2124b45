"""The format registry and the JSON report's own schema: every --format name is
registered and reachable from the CLI, and JSON reports match `tcpaudit schema`."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest
from click.testing import CliRunner
from report_fixtures import EXAMPLES

from tcpaudit.cli import cli
from tcpaudit.engine import Report
from tcpaudit.report import FORMATS

DESIGNED_FORMATS = {"table", "json", "sarif", "junit", "markdown", "github"}


def test_every_designed_format_is_registered() -> None:
    assert set(FORMATS) == DESIGNED_FORMATS


@pytest.mark.parametrize("output_format", ["sarif", "junit", "markdown", "github"])
def test_cli_renders_each_new_format(output_format: str, incident: Report) -> None:
    root = str(EXAMPLES / "closewait-incident")
    result = CliRunner().invoke(cli, ["audit", "--root", root, "--format", output_format])
    assert result.exit_code == 1, result.stderr
    assert result.stdout.strip()
    assert "web1.shop.example" in result.stdout


@pytest.fixture(scope="module")
def report_schema() -> dict[str, Any]:
    printed = CliRunner().invoke(cli, ["schema"])
    assert printed.exit_code == 0
    schema: dict[str, Any] = json.loads(printed.stdout)
    assert schema.pop("$schema") == "https://json-schema.org/draft/2020-12/schema"
    assert schema == Report.model_json_schema(mode="serialization")
    jsonschema.Draft202012Validator.check_schema(schema)
    return schema


@pytest.mark.parametrize("fixture", ["incident", "tuned", "suppressed_incident", "hostile"])
def test_json_report_matches_its_schema(
    fixture: str, request: pytest.FixtureRequest, report_schema: dict[str, Any]
) -> None:
    document = json.loads(FORMATS["json"](request.getfixturevalue(fixture)))
    jsonschema.Draft202012Validator(report_schema).validate(document)


def test_report_schema_is_not_vacuous(incident: Report, report_schema: dict[str, Any]) -> None:
    document = json.loads(FORMATS["json"](incident))
    validator = jsonschema.Draft202012Validator(report_schema)
    assert validator.is_valid(document)
    assert not validator.is_valid({**document, "grade": "E"})
    bad_finding = {**document["findings"][0], "severity": "urgent"}
    assert not validator.is_valid({**document, "findings": [bad_finding]})
