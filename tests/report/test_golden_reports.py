"""Each format's output for both examples, byte for byte.

A golden file changes only when a renderer, a rule's text or an example
changes; review the diff, then regenerate with
``TCPAUDIT_UPDATE_GOLDEN=1 python -m pytest tests/report``.
"""

from __future__ import annotations

import os

import pytest
from report_fixtures import GOLDEN, example_report

from tcpaudit.report import FORMATS

FORMATS_UNDER_TEST = {
    "sarif": "sarif",
    "junit": "junit.xml",
    "markdown": "md",
    "github": "github.txt",
}
EXAMPLES = ["closewait-incident", "tuned"]
UPDATE = os.environ.get("TCPAUDIT_UPDATE_GOLDEN") == "1"


@pytest.mark.parametrize("example", EXAMPLES)
@pytest.mark.parametrize("output_format", sorted(FORMATS_UNDER_TEST))
def test_output_matches_golden(example: str, output_format: str) -> None:
    rendered = FORMATS[output_format](example_report(example))
    golden = GOLDEN / f"{example}.{FORMATS_UNDER_TEST[output_format]}"
    if UPDATE:
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(rendered, encoding="utf-8")
    assert golden.is_file(), f"{golden.name} missing: set TCPAUDIT_UPDATE_GOLDEN=1 to create it"
    assert rendered == golden.read_text(encoding="utf-8"), (
        f"{golden.name} differs: review the diff, then rerun with TCPAUDIT_UPDATE_GOLDEN=1"
    )


@pytest.mark.parametrize("output_format", sorted(FORMATS_UNDER_TEST))
def test_output_is_deterministic_and_machine_independent(output_format: str) -> None:
    first = FORMATS[output_format](example_report("closewait-incident"))
    second = FORMATS[output_format](example_report("closewait-incident"))
    assert first == second
    # Paths stay relative to the audited root, so goldens hold on every checkout.
    assert str(GOLDEN.parents[2]) not in first
    assert first.endswith("\n")
