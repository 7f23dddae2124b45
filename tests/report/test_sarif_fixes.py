"""SARIF ``fixes``: each finding's changes as replacements a SARIF viewer can apply.

The replacements are applied here the way SARIF 2.1.0 defines regions (a
line with no column is that line's text without its end; a column range is
inside the line; charOffset counts from the start of the file) to a copy of
the incident, one finding at a time: the file must then read as
``tcpaudit fix --rule`` makes it, indentation aside (a report does not read
the files, so it cannot know a line's indentation).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import jsonschema
from report_fixtures import example_report

from tcpaudit.engine import Report
from tcpaudit.remedy import plan
from tcpaudit.report.sarif import sarif_log

INCIDENT = Path(__file__).resolve().parents[2] / "examples" / "closewait-incident"


def _offsets(text: str, region: dict[str, Any]) -> tuple[int, int]:
    if "charOffset" in region:
        return region["charOffset"], region["charOffset"] + region.get("charLength", 0)
    starts = [0]
    for index, char in enumerate(text):
        if char == "\n":
            starts.append(index + 1)
    line = region["startLine"]
    begin = starts[line - 1]
    end_of_line = text.find("\n", begin)
    end_of_line = len(text) if end_of_line < 0 else end_of_line
    if "startColumn" not in region:
        return begin, end_of_line
    last = starts[region.get("endLine", line) - 1]
    return begin + region["startColumn"] - 1, last + region.get("endColumn", 1) - 1


def apply_fix(root: Path, fix: dict[str, Any]) -> None:
    """Apply one SARIF fix's replacements under ``root`` (uris relative to it)."""
    for change in fix["artifactChanges"]:
        path = root / change["artifactLocation"]["uri"]
        text = path.read_text() if path.exists() else ""
        spans = [
            (*_offsets(text, r["deletedRegion"]), r["insertedContent"]["text"])
            for r in change["replacements"]
        ]
        for start, end, inserted in sorted(spans, reverse=True):
            text = text[:start] + inserted + text[end:]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def _stripped(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines()]


def test_fixes_validate_against_the_schema(
    incident: Report, sarif_validator: jsonschema.protocols.Validator
) -> None:
    log = sarif_log(incident)
    assert any("fixes" in result for result in log["runs"][0]["results"])
    sarif_validator.validate(log)


def test_each_fix_applied_alone_gives_what_tcpaudit_fix_gives(tmp_path: Path) -> None:
    report = example_report("closewait-incident")
    results = sarif_log(report)["runs"][0]["results"]
    applied = 0
    for finding, result in zip(report.findings, results, strict=True):
        if "fixes" not in result:
            # Only changes a report cannot write without the file's text.
            assert any(c.action == "append" or c.link for c in finding.fix_changes), finding.rule
            continue
        copy = tmp_path / finding.rule
        shutil.copytree(INCIDENT, copy, symlinks=True)
        (fix,) = result["fixes"]
        apply_fix(copy, fix)
        for edit in plan([finding], INCIDENT).edits:
            assert edit.after is not None
            assert _stripped((copy / edit.path).read_text()) == _stripped(edit.after), (
                finding.rule,
                edit.path,
            )
        applied += 1
    # TA101, TA102, TA107 (a replaced and a deleted line), TA108 (an inserted line), TA113.
    assert applied == 5


def test_a_deleted_line_goes_with_its_end() -> None:
    report = example_report("closewait-incident")
    log = sarif_log(report)
    by_rule = {r["ruleId"]: r for r in log["runs"][0]["results"]}
    replacements = [
        replacement
        for change in by_rule["TA107"]["fixes"][0]["artifactChanges"]
        for replacement in change["replacements"]
    ]
    region = {"startLine": 13, "startColumn": 1, "endLine": 14, "endColumn": 1}
    assert {"deletedRegion": region, "insertedContent": {"text": ""}} in replacements


def test_fix_format_sarif_gives_every_text_fix_exactly(
    tmp_path: Path, sarif_validator: jsonschema.protocols.Validator
) -> None:
    """``tcpaudit fix --format sarif``: fixes computed on the files, appends included."""
    from click.testing import CliRunner

    from tcpaudit.cli import cli

    done = CliRunner().invoke(cli, ["fix", "--root", str(INCIDENT), "--format", "sarif"])
    assert done.exit_code == 0, done.output
    log = json.loads(done.stdout)
    sarif_validator.validate(log)
    report = example_report("closewait-incident")
    results = log["runs"][0]["results"]
    assert [r["ruleId"] for r in results] == [f.rule for f in report.findings]
    for finding, result in zip(report.findings, results, strict=True):
        # Every finding of the incident has a text fix here, TA301's appended line too.
        (fix,) = result["fixes"]
        copy = tmp_path / finding.rule
        shutil.copytree(INCIDENT, copy, symlinks=True)
        apply_fix(copy, fix)
        for edit in plan([finding], INCIDENT).edits:
            assert (copy / edit.path).read_text() == edit.after, (finding.rule, edit.path)
