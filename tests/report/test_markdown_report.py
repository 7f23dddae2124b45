"""Markdown: heading with host, grade and score; a table whose rows keep their
columns whatever the findings say; a details section per finding with its fix."""

from __future__ import annotations

import re

from tcpaudit.engine import Report
from tcpaudit.report import markdown

# A cell separator is a `|` not preceded by a backslash.
SEPARATOR = re.compile(r"(?<!\\)\|")


def table_rows(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("| ")]


def test_heading_names_host_grade_and_score(incident: Report) -> None:
    first = markdown.render(incident).splitlines()[0]
    assert (
        first
        == f"## tcpaudit: web1.shop.example: grade {incident.grade} (score {incident.score}/100)"
    )
    assert incident.grade == "F"


def test_table_has_one_row_per_finding_in_report_order(incident: Report) -> None:
    rows = table_rows(markdown.render(incident))
    assert rows[0].startswith("| Severity | Rule | Location | Setting |")
    body = rows[2:]
    assert [row.split(" | ")[1] for row in body] == [f.rule for f in incident.findings]
    timeout = next(row for row in body if "| TA101 |" in row)
    assert "`Timeout`" in timeout and "`300` → `30`" in timeout


def test_details_section_per_finding_with_fix_in_code_block(incident: Report) -> None:
    text = markdown.render(incident)
    assert text.count("<details>") == len(incident.findings) == text.count("</details>")
    fixed = [finding for finding in incident.findings if finding.fix]
    assert fixed, "the incident's findings come with fixes"
    for finding in fixed:
        assert f"```\n{finding.fix}\n```" in text


def test_pipes_never_break_the_table(hostile: Report) -> None:
    rows = table_rows(markdown.render(hostile))
    assert len(rows) == 2 + len(hostile.findings)
    # Six separators bound five cells on every row, header included.
    assert {len(SEPARATOR.findall(row)) for row in rows} == {6}
    assert r"`300\|s`" in rows[2]


def test_fences_and_spans_outlast_backticks_in_the_text(hostile: Report) -> None:
    text = markdown.render(hostile)
    # The fix itself holds a ``` fence, so the block needs a longer one.
    assert "````\n```\nTimeout 30\n```\n````" in text
    assert markdown.code_span("a`b") == "``a`b``"
    assert markdown.code_span("`x`") == "`` `x` ``"
    assert markdown.fenced("````") == "`````\n````\n`````"


def test_prose_markup_is_escaped(hostile: Report) -> None:
    text = markdown.render(hostile)
    # A control character is shown escaped: \x01, its backslash escaped for Markdown.
    assert "\\<300\\> \\& more next line\\\\x01 end" in text
    assert "\x01" not in text
    assert "<b>" not in text
    assert markdown.escape_text("*a* _b_ [c](d) #e") == r"\*a\* \_b\_ \[c\](d) \#e"


def test_suppressed_finding_is_marked_with_its_reason(hostile: Report) -> None:
    text = markdown.render(hostile)
    assert "| medium (suppressed) | TA102 |" in text
    assert r"Suppressed: known, \<fixed\> soon" in text


def test_clean_host_says_so(clean: Report) -> None:
    text = markdown.render(clean)
    assert "No findings." in text
    assert not table_rows(text)


def test_finding_without_location_has_no_at_line(hostile: Report) -> None:
    text = markdown.render(hostile)
    section = text.split("<summary>TA301 ")[1].split("</details>")[0]
    assert "At " not in section
    assert "| critical | TA301 | - |" in text
