"""`tcpaudit schema DOCUMENT`: every JSON output validates against its published schema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from click.testing import CliRunner

from tcpaudit.cli import SCHEMA_MODELS, cli
from tcpaudit.diagnose.cli import diagnose_command

REPO = Path(__file__).resolve().parents[1]
INCIDENT = str(REPO / "examples" / "closewait-incident")
SLOW = str(REPO / "tests" / "diagnose" / "fixtures" / "slow-handler-drained")


def _json(*args: str) -> Any:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code in (0, 1), result.output
    return json.loads(result.stdout)


def _validator(document: str) -> jsonschema.protocols.Validator:
    schema = _json("schema", document)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def _outputs(tmp_path: Path) -> dict[str, Any]:
    report = _json("audit", "--root", INCIDENT, "--format", "json")
    (tmp_path / "web1.json").write_text(json.dumps(report))
    diagnose = CliRunner().invoke(diagnose_command, ["--root", SLOW, "--format", "json"])
    return {
        "report": report,
        "facts": _json("facts", "--root", INCIDENT),
        "diagnose": json.loads(diagnose.stdout),
        "fleet": _json("fleet", str(tmp_path), "--format", "json"),
    }


@pytest.mark.parametrize("document", sorted(SCHEMA_MODELS))
def test_output_validates_against_its_schema(document: str, tmp_path: Path) -> None:
    validator = _validator(document)
    output = _outputs(tmp_path)[document]
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(output)]
    assert errors == []


def test_the_schemas_tell_the_documents_apart(tmp_path: Path) -> None:
    outputs = _outputs(tmp_path)
    # Not vacuous: the facts document is not a report, nor a fleet roll-up a diagnosis.
    assert not _validator("report").is_valid(outputs["facts"])
    assert not _validator("diagnose").is_valid(outputs["fleet"])
    assert not _validator("facts").is_valid(outputs["report"])
