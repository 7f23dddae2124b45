"""The catalogue walks itself: every rule has fixtures that must trigger it and must not.

Each case is a small root-like tree under tests/rules/<ID>/{trigger,pass}/<case>/;
an optional expect.yaml pins apache_version, profile or the severity.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

import tcpaudit
from tcpaudit.checks import CHECKS
from tcpaudit.engine import audit, load_catalogue, load_config

REPO = Path(__file__).resolve().parents[1]
RULES = REPO / "rules"
RULE_FIXTURES = REPO / "tests" / "rules"

CATALOGUE = load_catalogue()
CASES = sorted(RULE_FIXTURES.glob("TA*/*/*"))


def _case_id(path: Path) -> str:
    return "/".join(path.parts[-3:])


def _run(case: Path) -> tuple[list[tcpaudit.engine.Finding], dict[str, str]]:
    expect_file = case / "expect.yaml"
    expect = yaml.safe_load(expect_file.read_text()) if expect_file.exists() else {}
    facts = tcpaudit.gather(root=case, apache_version=expect.get("apache_version"))
    # A case may carry its own tcpaudit.toml (suppressions) and pin today's date.
    config_file = case / "tcpaudit.toml"
    config = load_config(config_file) if config_file.exists() else None
    report = audit(facts, config, profile=expect.get("profile"), today=expect.get("today"))
    return [f for f in report.findings if f.rule == case.parts[-3]], expect


@pytest.mark.parametrize("case", [c for c in CASES if c.parent.name == "trigger"], ids=_case_id)
def test_trigger_case_raises_its_rule(case: Path) -> None:
    findings, expect = _run(case)
    assert findings, f"{_case_id(case)} must raise {case.parts[-3]}"
    if "severity" in expect:
        assert {f.severity.value for f in findings} == {expect["severity"]}
    for finding in findings:
        assert finding.fix, "every finding carries a fix"
        assert "{" not in finding.message, "message placeholders are all filled"


@pytest.mark.parametrize("case", [c for c in CASES if c.parent.name == "pass"], ids=_case_id)
def test_pass_case_does_not_raise_its_rule(case: Path) -> None:
    findings, _ = _run(case)
    assert not findings, [f.message for f in findings]


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_a_facts_document_gives_the_same_findings(case: Path) -> None:
    # What a rule judges must travel in the facts document (fleet audits and
    # the Ansible check audit from it), not only in the directive tree.
    expect_file = case / "expect.yaml"
    expect = yaml.safe_load(expect_file.read_text()) if expect_file.exists() else {}
    facts = tcpaudit.gather(root=case, apache_version=expect.get("apache_version"))
    config_file = case / "tcpaudit.toml"
    config = load_config(config_file) if config_file.exists() else None
    options = {"profile": expect.get("profile"), "today": expect.get("today")}
    live = audit(facts, config, **options)
    again = audit(
        tcpaudit.HostFacts.model_validate_json(facts.model_dump_json()), config, **options
    )
    assert sorted(f.fingerprint for f in again.findings) == sorted(
        f.fingerprint for f in live.findings
    )


@pytest.mark.parametrize("rule", CATALOGUE, ids=lambda rule: rule.id)
def test_every_rule_has_both_kinds_of_fixture(rule: tcpaudit.engine.Rule) -> None:
    for kind in ("trigger", "pass"):
        cases = list((RULE_FIXTURES / rule.id / kind).glob("*"))
        assert cases, f"{rule.id} needs at least one {kind} case"


def test_fixture_folders_name_existing_rules() -> None:
    ids = {rule.id for rule in CATALOGUE}
    assert {path.name for path in RULE_FIXTURES.glob("TA*")} <= ids


def test_every_registered_check_is_used() -> None:
    assert {rule.check for rule in CATALOGUE} == set(CHECKS)


def test_rule_files_start_with_their_id() -> None:
    for path in RULES.glob("*.yaml"):
        data = yaml.safe_load(path.read_text())
        assert path.name.startswith(f"{data['id']}-")


def test_rule_docs_are_complete() -> None:
    for rule in CATALOGUE:
        assert rule.summary and rule.rationale and rule.references
        assert rule.example.bad.strip() != rule.example.use_instead.strip()
