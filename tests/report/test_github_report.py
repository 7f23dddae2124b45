"""GitHub workflow commands: severity -> command, one annotation per unsuppressed
finding, @actions/core escaping, and a closing summary notice with the grade."""

from __future__ import annotations

import pytest

from tcpaudit.engine import Report, Severity
from tcpaudit.report import github


def test_escape_data_encodes_percent_first() -> None:
    assert github.escape_data("100%\r\nnext") == "100%25%0D%0Anext"
    # %0A in the input must not turn into a newline when GitHub decodes it.
    assert github.escape_data("%0A") == "%250A"
    assert github.escape_data("a:b,c") == "a:b,c"


def test_escape_property_also_encodes_colon_and_comma() -> None:
    assert github.escape_property("a:b,c%\n") == "a%3Ab%2Cc%25%0A"


@pytest.mark.parametrize(
    ("severity", "command"),
    [
        (Severity.CRITICAL, "error"),
        (Severity.HIGH, "error"),
        (Severity.MEDIUM, "warning"),
        (Severity.LOW, "notice"),
        (Severity.INFO, "notice"),
    ],
)
def test_command_for_severity(severity: Severity, command: str) -> None:
    assert github.command_for(severity) == command


def test_one_line_per_finding_then_summary(incident: Report) -> None:
    lines = github.render(incident).splitlines()
    assert len(lines) == len(incident.findings) + 1
    for line, finding in zip(lines, incident.findings, strict=False):
        assert finding.location is not None
        prefix = f"::{github.command_for(finding.severity)} file={finding.location.file},"
        assert line.startswith(prefix)
        if finding.location.line is None:
            assert ",line=" not in line
        else:
            assert f",line={finding.location.line}," in line
        assert f"title={github.escape_property(finding.rule + ' ' + finding.title)}::" in line
    assert lines[-1].startswith("::notice title=tcpaudit::web1.shop.example: grade ")
    assert f"grade {incident.grade} (score {incident.score}/100)" in lines[-1]


def test_hostile_finding_stays_on_one_line(hostile: Report) -> None:
    first = github.render(hostile).splitlines()[0]
    assert first == (
        "::warning file=etc/httpd/conf.d/a b%2Cc%3Ad%25.conf,line=7,"
        "title=TA101 Timeout%2C per read%3A 100%25 | `bad` <b>::"
        "50%25 of workers | held: `Timeout` <300> & more%0D%0Anext line\\x01 end"
        "%0A%0AFix:%0A```%0ATimeout 30%0A```"
    )


def test_finding_without_location_has_no_file(hostile: Report) -> None:
    second = github.render(hostile).splitlines()[1]
    assert second.startswith("::error title=TA301 ")


def test_suppressed_findings_are_counted_not_annotated(hostile: Report) -> None:
    lines = github.render(hostile).splitlines()
    assert not any("TA102" in line for line in lines)
    assert len(lines) == len(hostile.findings)  # four annotations + the summary
    assert lines[-1] == (
        "::notice title=tcpaudit::web|1,x:y: grade C (score 61/100), "
        "4 findings (1 critical, 1 medium, 1 low, 1 info), 1 suppressed"
    )


def test_clean_host_prints_only_the_summary(clean: Report) -> None:
    assert github.render(clean) == (
        "::notice title=tcpaudit::web2.shop.example: grade A (score 100/100), 0 findings\n"
    )
