"""tcpaudit.toml / [tool.tcpaudit]: discovery, validation, and what each knob does."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

import tcpaudit
from tcpaudit.engine import audit, load_config

REPO = Path(__file__).resolve().parents[1]
INCIDENT = REPO / "examples" / "closewait-incident"


@pytest.fixture(scope="module")
def incident_facts() -> tcpaudit.HostFacts:
    return tcpaudit.gather(root=INCIDENT)


def write(tmp_path: Path, text: str, name: str = "tcpaudit.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_found_upward_from_start(tmp_path: Path) -> None:
    write(tmp_path, 'profile = "internal"\n')
    nested = tmp_path / "a" / "b"
    nested.mkdir(parents=True)
    assert load_config(start=nested).profile == "internal"


def test_pyproject_section(tmp_path: Path) -> None:
    write(tmp_path, '[tool.tcpaudit]\ndisable = ["TA202"]\n', "pyproject.toml")
    assert load_config(start=tmp_path).disable == ["TA202"]


def test_pyproject_without_section_is_ignored(tmp_path: Path) -> None:
    write(tmp_path, '[project]\nname = "x"\n', "pyproject.toml")
    assert load_config(start=tmp_path).disable == []


def test_unknown_key_is_a_config_error_naming_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "profil = 'internal'\n")
    with pytest.raises(tcpaudit.ConfigError) as caught:
        load_config(path)
    assert str(path) in str(caught.value) and "profil" in str(caught.value)


def test_suppression_needs_a_reason(tmp_path: Path) -> None:
    path = write(tmp_path, '[[suppress]]\nrule = "TA101"\nreason = ""\n')
    with pytest.raises(tcpaudit.ConfigError):
        load_config(path)


def test_disable_and_severity_override(tmp_path: Path, incident_facts: tcpaudit.HostFacts) -> None:
    path = write(tmp_path, 'disable = ["TA202"]\n[rules.TA101]\nseverity = "low"\n')
    report = audit(incident_facts, load_config(path))
    rules = {f.rule: f for f in report.findings}
    assert "TA202" not in rules
    assert rules["TA101"].severity == "low"


def test_param_override_changes_threshold(
    tmp_path: Path, incident_facts: tcpaudit.HostFacts
) -> None:
    path = write(tmp_path, "[rules.TA101]\nparams = { max_seconds = 600 }\n")
    report = audit(incident_facts, load_config(path))
    assert "TA101" not in {f.rule for f in report.findings}


def test_suppression_keeps_the_finding_marked(
    tmp_path: Path, incident_facts: tcpaudit.HostFacts
) -> None:
    path = write(
        tmp_path,
        '[[suppress]]\nrule = "TA102"\nfile = "etc/httpd/conf/*.conf"\n'
        'reason = "keep-alive tuned at the load balancer"\nexpires = 2099-01-01\n',
    )
    baseline = audit(incident_facts)
    report = audit(incident_facts, load_config(path))
    suppressed = [f for f in report.findings if f.suppressed]
    assert [f.rule for f in suppressed] == ["TA102"]
    assert suppressed[0].suppression_reason == "keep-alive tuned at the load balancer"
    assert report.score > baseline.score


def test_expired_suppression_no_longer_applies(
    tmp_path: Path, incident_facts: tcpaudit.HostFacts
) -> None:
    path = write(
        tmp_path, '[[suppress]]\nrule = "TA102"\nreason = "temporary"\nexpires = 2020-01-01\n'
    )
    report = audit(incident_facts, load_config(path), today=dt.date(2026, 1, 1))
    assert not any(f.suppressed for f in report.findings)
    expired = [f for f in report.findings if f.rule == "TA901"]
    assert len(expired) == 1
    assert expired[0].location is not None
    assert expired[0].location.file == str(path) and expired[0].location.line == 1
    assert "TA102" in expired[0].message and "2020-01-01" in expired[0].message


def test_internal_profile_lowers_severity(incident_facts: tcpaudit.HostFacts) -> None:
    internet = {f.rule: f.severity for f in audit(incident_facts).findings}
    internal = {f.rule: f.severity for f in audit(incident_facts, profile="internal").findings}
    assert internet["TA103"] == "high" and internal["TA103"] == "medium"


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ('disable = ["TA101", "TA999"]\n', 1),
        ('profile = "internet"\n# TA998 is new\n[rules.TA998]\nseverity = "low"\n', 3),
        ('[[suppress]]\nrule = "TA997"\nreason = "typo"\n', 2),
    ],
)
def test_an_unknown_rule_id_is_named_with_its_line(
    tmp_path: Path, incident_facts: tcpaudit.HostFacts, text: str, line: int
) -> None:
    config = load_config(write(tmp_path, text))
    with pytest.raises(tcpaudit.ConfigError) as caught:
        audit(incident_facts, config)
    assert caught.value.file == str(tmp_path / "tcpaudit.toml")
    assert caught.value.line == line
    assert "unknown rule TA99" in str(caught.value)


def test_a_bad_user_parameter_names_the_key_and_the_file(
    tmp_path: Path, incident_facts: tcpaudit.HostFacts
) -> None:
    config = load_config(write(tmp_path, "\n[rules.TA101]\nparams = {max_secs = 120}\n"))
    with pytest.raises(tcpaudit.ConfigError) as caught:
        audit(incident_facts, config)
    # The line of the bad key, not of the [rules.TA101] header above it.
    assert (caught.value.file, caught.value.line) == (str(tmp_path / "tcpaudit.toml"), 3)
    assert "rules.TA101.params.max_secs" in str(caught.value)


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        # A letter O typed for a zero: not a rule id at all, still located and explained.
        ('profile = "internet"\n\ndisable = ["TA101",\n  "TA2O2"]\n', 4, "did you mean TA202"),
        ("# rules\n[rules.TA1O1]\nenabled = false\n", 2, "did you mean TA101"),
        ('profile = "internet"\n[rules."TA1O1"]\nseverity = "low"\n', 2, "unknown rule TA1O1"),
    ],
)
def test_an_unknown_rule_id_is_located_however_it_is_spelt(
    tmp_path: Path, incident_facts: tcpaudit.HostFacts, text: str, line: int, words: str
) -> None:
    config = load_config(write(tmp_path, text))
    with pytest.raises(tcpaudit.ConfigError) as caught:
        audit(incident_facts, config)
    assert (caught.value.file, caught.value.line) == (str(tmp_path / "tcpaudit.toml"), line)
    assert words in str(caught.value)


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        (
            '# tuned for the shop\n\nprofil = "internal"\n',
            3,
            "unknown key 'profil'; did you mean 'profile'?",
        ),
        (
            '[rules.TA101]\nseverity = "low"\nenabeld = false\n',
            3,
            "rules.TA101.enabeld: unknown key",
        ),
        ('[rules.TA101]\nseverity = "urgent"\n', 2, "rules.TA101.severity"),
        ('[[suppress]]\nrule = "TA102"\nreson = "x"\n', 3, "did you mean 'reason'?"),
        (
            '[[suppress]]\nrule = "TA102"\nreason = "a"\n[[suppress]]\nrule = "TA103"\n',
            4,
            "suppress.1.reason: Field required",
        ),
        ('disable = "TA101"\n', 1, "disable: Input should be a valid list"),
        (
            'suppress = [\n  {rule = "TA102", reason = "a"},\n  {rule = "TA1o3", reason = "b"},\n]\n',
            3,
            "'TA1o3' is not a rule id (TA and three digits); did you mean TA103?",
        ),
        ('profile = "internet"\nprofile = "internal"\n', 2, "invalid TOML"),
    ],
)
def test_a_mistake_names_the_line_of_the_key_not_the_file(
    tmp_path: Path, text: str, line: int, words: str
) -> None:
    with pytest.raises(tcpaudit.ConfigError) as caught:
        load_config(write(tmp_path, text))
    assert (caught.value.file, caught.value.line) == (str(tmp_path / "tcpaudit.toml"), line)
    assert words in str(caught.value)


def test_pyproject_keys_are_located_in_the_tool_table(tmp_path: Path) -> None:
    text = '[project]\nname = "x"\n\n[tool.tcpaudit]\nprofile = "internal"\nrules_dir = ["r"]\n'
    with pytest.raises(tcpaudit.ConfigError) as caught:
        load_config(write(tmp_path, text, "pyproject.toml"))
    assert caught.value.line == 6
    assert "tool.tcpaudit.rules_dir: unknown key 'rules_dir'; did you mean 'rules_dirs'?" in str(
        caught.value
    )


def test_an_inline_suppression_is_located_at_its_own_line(tmp_path: Path) -> None:
    text = 'suppress = [\n  {rule = "TA102", reason = "a"},\n  {rule = "TA103", reason = "b"},\n]\n'
    config = load_config(write(tmp_path, text))
    assert [s.location.line for s in config.suppress if s.location] == [2, 3]


@pytest.mark.parametrize(
    "nesting", ["[" * 50_000 + "]" * 50_000, "{a=" * 5_000 + "1" + "}" * 5_000]
)
def test_deep_nesting_is_a_config_error_not_a_crash(tmp_path: Path, nesting: str) -> None:
    with pytest.raises(tcpaudit.ConfigError) as caught:
        load_config(write(tmp_path, f'profile = "internet"\nx = {nesting}\n'))
    assert caught.value.file == str(tmp_path / "tcpaudit.toml")


def test_key_lines_follow_tables_arrays_and_strings() -> None:
    from tcpaudit.engine.toml_lines import key_lines, line_of

    text = (
        'a = """\n[b]\nc = 1\n"""\n'  # a multi-line string that looks like a table
        "[d]\n"
        'e.f = [1,\n  {g = "x # not a comment"}, # a comment\n]\n'
        "[[h]]\n[[h]]\ni = 2\n[h.j]\nk = 3\n"
    )
    lines = key_lines(text)
    assert ("b",) not in lines and ("c",) not in lines
    assert lines[("d", "e", "f")] == 6
    assert lines[("d", "e", "f", 1, "g")] == 7
    assert lines[("h", 1, "i")] == 11
    assert lines[("h", 1, "j", "k")] == 13
    assert line_of(lines, ("d", "e", "f", 1, "missing")) == 7
    assert line_of(lines, ("nowhere",)) is None
