"""Extending the catalogue: user rule directories and third-party checks (entry points)."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

import tcpaudit
from tcpaudit.cli import cli
from tcpaudit.engine import AuditConfig, audit, load_catalogue, registered_checks

REPO = Path(__file__).resolve().parents[1]
INCIDENT = REPO / "examples" / "closewait-incident"

USER_RULE = """\
id: TA950
title: Site policy - Timeout above 10 s
severity: medium
check: apache_setting_above
params: {setting: Timeout, max_seconds: 10, recommended_seconds: 10}
summary: Flags a Timeout above the site's 10 s policy.
rationale: Our load balancer gives up after 10 s, so a longer Timeout only holds workers.
example: {bad: "Timeout 30", use_instead: "Timeout 10"}
message: "Timeout is {current} s; site policy is {recommended} s."
references: ["https://httpd.apache.org/docs/2.4/mod/core.html#timeout"]
"""


def test_rules_dir_adds_a_rule(tmp_path: Path) -> None:
    (tmp_path / "TA950-site-timeout.yaml").write_text(USER_RULE)
    rules = load_catalogue([tmp_path])
    assert "TA950" in {rule.id for rule in rules}
    report = audit(tcpaudit.gather(root=INCIDENT), AuditConfig(rules_dirs=[tmp_path]))
    policy = [f for f in report.findings if f.rule == "TA950"]
    assert policy and policy[0].message == "Timeout is 300 s; site policy is 10 s."
    result = CliRunner().invoke(
        cli, ["audit", "--root", str(INCIDENT), "--rules-dir", str(tmp_path)]
    )
    assert "TA950" in result.stdout


def test_rules_dir_cannot_reuse_a_bundled_id(tmp_path: Path) -> None:
    (tmp_path / "TA101-mine.yaml").write_text(USER_RULE.replace("TA950", "TA101"))
    with pytest.raises(tcpaudit.CatalogueError) as caught:
        load_catalogue([tmp_path])
    assert "TA101-mine.yaml" in str(caught.value) and "already used" in str(caught.value)


def test_rule_with_unknown_check_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "TA950-site-timeout.yaml").write_text(
        USER_RULE.replace("apache_setting_above", "nope")
    )
    result = CliRunner().invoke(
        cli, ["audit", "--root", str(INCIDENT), "--rules-dir", str(tmp_path)]
    )
    assert result.exit_code == 2
    assert "TA950-site-timeout.yaml" in result.stderr and "unknown check 'nope'" in result.stderr


def test_third_party_check_from_an_entry_point(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "site"
    (site / "acme_checks.py").parent.mkdir(parents=True)
    (site / "acme_checks.py").write_text(
        textwrap.dedent(
            """
            from tcpaudit.checks import Check, CheckParams, Hit

            class Params(CheckParams):
                label: str

            def always(facts, params, context):
                yield Hit(setting="host", current=facts.host, recommended=None,
                          location=None, fix="nothing", values={"label": params.label})

            CHECK = Check("acme_always", Params, always)
            """
        )
    )
    dist = site / "acme_checks-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-checks\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[tcpaudit.checks]\nacme_always = acme_checks:CHECK\n")
    monkeypatch.syspath_prepend(str(site))
    registered_checks.cache_clear()
    try:
        assert "acme_always" in registered_checks()
        rules = tmp_path / "rules"
        rules.mkdir()
        (rules / "TA960-acme.yaml").write_text(
            USER_RULE.replace("TA950", "TA960")
            .replace("apache_setting_above", "acme_always")
            .replace(
                "params: {setting: Timeout, max_seconds: 10, recommended_seconds: 10}",
                "params: {label: acme}",
            )
            .replace(
                "Timeout is {current} s; site policy is {recommended} s.", "{label} saw {current}"
            )
        )
        report = audit(tcpaudit.gather(root=INCIDENT), AuditConfig(rules_dirs=[rules]))
        assert [f.message for f in report.findings if f.rule == "TA960"] == [
            "acme saw web1.shop.example"
        ]
    finally:
        registered_checks.cache_clear()
        sys.modules.pop("acme_checks", None)
