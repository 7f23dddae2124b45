"""Grading: the formula, and that fixing a finding never lowers the grade."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tcpaudit.engine import Finding, Severity, grade_for, score_for

GRADE_ORDER = "FDCBA"


def finding(rule: str, severity: Severity, suppressed: bool = False) -> Finding:
    return Finding(rule=rule, severity=severity, title="t", message="m", suppressed=suppressed)


findings_strategy = st.lists(
    st.builds(
        finding,
        rule=st.sampled_from(["TA101", "TA102", "TA201", "TA301"]),
        severity=st.sampled_from(list(Severity)),
        suppressed=st.booleans(),
    ),
    max_size=12,
)


def test_no_findings_is_a_perfect_a() -> None:
    assert score_for([]) == 100
    assert grade_for(100, []) == "A"


def test_a_critical_finding_caps_at_f() -> None:
    findings = [finding("TA301", Severity.CRITICAL)]
    assert score_for(findings) == 70
    assert grade_for(score_for(findings), findings) == "F"


def test_one_rule_costs_at_most_twice_its_worst_finding() -> None:
    many = [finding("TA102", Severity.HIGH) for _ in range(50)]
    assert score_for(many) == 70


def test_suppressed_findings_do_not_count() -> None:
    findings = [finding("TA101", Severity.HIGH, suppressed=True)]
    assert score_for(findings) == 100
    assert grade_for(100, findings) == "A"


@given(findings_strategy, st.data())
def test_fixing_a_finding_never_lowers_score_or_grade(
    findings: list[Finding], data: st.DataObject
) -> None:
    before_score = score_for(findings)
    before = grade_for(before_score, findings)
    if not findings:
        return
    index = data.draw(st.integers(min_value=0, max_value=len(findings) - 1))
    fixed = findings[:index] + findings[index + 1 :]
    after_score = score_for(fixed)
    assert after_score >= before_score
    assert GRADE_ORDER.index(grade_for(after_score, fixed)) >= GRADE_ORDER.index(before)
