"""``tcpaudit.fleet``: reading many reports, the roll-up's numbers, its three renderings."""

from __future__ import annotations

import json
import re
import stringprep
import sys
import unicodedata
from pathlib import Path

import pytest
from ci_helpers import EXAMPLES, audit_root, regraded

from tcpaudit.engine import Finding, Report, Severity
from tcpaudit.errors import ParseError
from tcpaudit.fleet import (
    _MAPPED_TO_NOTHING,
    FleetSummary,
    failing_hosts,
    load_report,
    load_reports,
    render_json,
    render_markdown,
    render_table,
    report_files,
    roll_up,
)
from tcpaudit.safetext import printable

INCIDENT = audit_root(EXAMPLES / "closewait-incident")
TUNED = audit_root(EXAMPLES / "tuned")
# A cell boundary as GFM's table scanner sees it: a "|" that no backslash escapes.
CELL = re.compile(r"(?:\\.|[^|\\])+")


def only(report: Report, *rules: str) -> list[Finding]:
    return [f for f in report.findings if f.rule in rules]


def small_fleet() -> list[Report]:
    """web1 the incident (F 3), web2 tuned (A 100), web3 two incident findings (B 82)."""
    web3 = regraded(INCIDENT, "web3", only(INCIDENT, "TA101", "TA201"))
    return [
        INCIDENT.model_copy(update={"host": "web1"}),
        TUNED.model_copy(update={"host": "web2"}),
        web3,
    ]


def test_example_reports_are_what_the_fleet_numbers_assume() -> None:
    assert (INCIDENT.grade, INCIDENT.score, len(INCIDENT.findings)) == ("F", 0, 10)
    assert (TUNED.grade, TUNED.score, [f.rule for f in TUNED.findings]) == ("A", 100, [])


def test_roll_up_numbers() -> None:
    fleet = roll_up(small_fleet())
    assert [h.model_dump() for h in fleet.hosts] == [
        {"host": "web1", "grade": "F", "score": 0, "findings": 10, "critical": 1, "high": 3},
        {"host": "web2", "grade": "A", "score": 100, "findings": 0, "critical": 0, "high": 0},
        {"host": "web3", "grade": "B", "score": 82, "findings": 2, "critical": 0, "high": 1},
    ]
    summary = fleet.summary
    assert summary.hosts == 3
    assert summary.by_grade == {"A": 1, "B": 1, "C": 0, "D": 0, "F": 1}
    common = [(c.rule, c.hosts) for c in summary.most_common]
    assert common[:2] == [("TA101", 2), ("TA201", 2)]
    assert {rule for rule, hosts in common[2:]} == {
        "TA102",
        "TA103",
        "TA107",
        "TA108",
        "TA113",
        "TA202",
        "TA205",
        "TA301",
    }
    assert all(hosts == 1 for _, hosts in common[2:])
    titles = {f.rule: f.title for f in INCIDENT.findings}
    assert all(c.title == titles[c.rule] for c in summary.most_common)
    assert [(w.host, w.grade, w.score) for w in summary.worst] == [
        ("web1", "F", 0),
        ("web3", "B", 82),
    ]


def test_suppressed_findings_do_not_count() -> None:
    quiet = [f.model_copy(update={"suppressed": True}) for f in INCIDENT.findings]
    fleet = roll_up([regraded(INCIDENT, "web9", quiet)])
    assert fleet.hosts[0].model_dump() == {
        "host": "web9",
        "grade": "A",
        "score": 100,
        "findings": 0,
        "critical": 0,
        "high": 0,
    }
    assert fleet.summary.most_common == [] and fleet.summary.worst == []
    assert failing_hosts([regraded(INCIDENT, "web9", quiet)], Severity.INFO) == []


def test_worst_puts_a_critical_f_before_a_lower_scoring_d_and_stops_at_ten() -> None:
    critical_only = regraded(INCIDENT, "crit", only(INCIDENT, "TA301"))
    assert (critical_only.grade, critical_only.score) == ("F", 70)
    d_hosts = [
        regraded(INCIDENT, f"d{i:02d}", only(INCIDENT, "TA101", "TA102", "TA103"))
        for i in range(12)
    ]
    assert (d_hosts[0].grade, d_hosts[0].score) == ("D", 55)
    fleet = roll_up([*d_hosts, critical_only])
    assert [w.host for w in fleet.summary.worst] == ["crit", *[f"d{i:02d}" for i in range(9)]]


def test_most_common_stops_at_ten_rules() -> None:
    base = only(INCIDENT, "TA101")[0]
    findings = [base.model_copy(update={"rule": f"TA9{i:02d}"}) for i in range(12)]
    fleet = roll_up([regraded(INCIDENT, "many", findings)])
    assert [c.rule for c in fleet.summary.most_common] == [f"TA9{i:02d}" for i in range(10)]


def test_empty_roll_up_is_well_formed() -> None:
    fleet = roll_up([])
    assert fleet.summary.hosts == 0 and fleet.hosts == []
    assert set(fleet.summary.by_grade) == {"A", "B", "C", "D", "F"}
    assert "0 hosts" in render_table(fleet)


def write(directory: Path, name: str, report: Report) -> Path:
    path = directory / name
    path.write_text(report.to_json(), encoding="utf-8")
    return path


def test_directory_input_is_every_json_sorted(tmp_path: Path) -> None:
    reports = small_fleet()
    write(tmp_path, "c.json", reports[2])
    write(tmp_path, "a.json", reports[0])
    write(tmp_path, "b.json", reports[1])
    (tmp_path / "notes.txt").write_text("not a report")
    (tmp_path / "sub.json").mkdir()  # a directory named like a report is not one
    assert [p.name for p in report_files([tmp_path])] == ["a.json", "b.json", "c.json"]
    loaded = load_reports([tmp_path])
    assert [r.host for r in loaded] == ["web1", "web2", "web3"]
    assert loaded == reports, "a report survives the JSON round trip unchanged"


def test_files_and_directories_keep_the_order_given(tmp_path: Path) -> None:
    reports = small_fleet()
    (tmp_path / "d").mkdir()
    write(tmp_path / "d", "x.json", reports[0])
    single = write(tmp_path, "single.json", reports[2])
    assert [r.host for r in load_reports([str(single), tmp_path / "d"])] == ["web3", "web1"]


def test_invalid_json_names_the_file(tmp_path: Path) -> None:
    write(tmp_path, "a.json", INCIDENT)
    bad = tmp_path / "b.json"
    bad.write_text('{"schema_version": 1,', encoding="utf-8")
    with pytest.raises(ParseError) as caught:
        load_reports([tmp_path])
    assert caught.value.file == str(bad)
    assert caught.value.reason.startswith("not JSON")
    assert str(caught.value).startswith(f"{bad}: not JSON")


@pytest.mark.parametrize(
    ("content", "where"),
    [
        ("[]", "document"),
        ('{"version": "2.1.0", "runs": []}', "host"),
        ("GRADE", None),
    ],
    ids=["list", "sarif", "bad-grade"],
)
def test_json_that_is_not_a_report_names_the_file(
    tmp_path: Path, content: str, where: str | None
) -> None:
    if content == "GRADE":
        data = json.loads(INCIDENT.to_json())
        data["grade"] = "E"
        content, where = json.dumps(data), "grade"
    path = tmp_path / "host.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ParseError) as caught:
        load_report(path)
    assert caught.value.file == str(path)
    assert caught.value.reason.startswith(f"not a tcpaudit JSON report ({where}:")


def test_missing_path_and_empty_directory_are_errors(tmp_path: Path) -> None:
    with pytest.raises(ParseError, match=r"nope\.json: no such file or directory"):
        load_reports([tmp_path / "nope.json"])
    with pytest.raises(ParseError, match=r"no \*\.json report in this directory") as caught:
        load_reports([tmp_path])
    assert caught.value.file == str(tmp_path)
    binary = tmp_path / "binary.json"
    binary.write_bytes(b"\xff\xfe{}")
    with pytest.raises(ParseError, match=r"binary\.json: not JSON"):
        load_report(binary)


def test_json_output_shape_is_the_design_contract() -> None:
    data = json.loads(render_json(roll_up(small_fleet())))
    assert set(data) == {"hosts", "summary"}
    assert data["hosts"][0] == {
        "host": "web1",
        "grade": "F",
        "score": 0,
        "findings": 10,
        "critical": 1,
        "high": 3,
    }
    summary = data["summary"]
    assert set(summary) == {"hosts", "by_grade", "most_common", "worst"}
    assert list(summary["by_grade"]) == ["A", "B", "C", "D", "F"]
    assert set(summary["most_common"][0]) == {"rule", "title", "hosts"}
    assert set(summary["worst"][0]) == {"host", "grade", "score"}
    assert FleetSummary.model_validate(data) == roll_up(small_fleet())


def test_table_lists_summary_then_every_host() -> None:
    text = render_table(roll_up(small_fleet()))
    lines = text.splitlines()
    assert lines[0] == "tcpaudit fleet: 3 hosts; grades: A 1, B 1, C 0, D 0, F 1"
    assert "most common findings:" in lines and "worst hosts:" in lines
    hosts = lines[lines.index("hosts:") + 1 :]
    assert hosts[0].split() == ["host", "grade", "score", "findings", "critical", "high"]
    assert [row.split() for row in hosts[2:]] == [
        ["web1", "F", "0", "10", "1", "3"],
        ["web2", "A", "100", "0", "0", "0"],
        ["web3", "B", "82", "2", "0", "1"],
    ]


def test_table_neutralises_control_characters_in_host_names() -> None:
    # Escaped as every terminal format escapes them: bidi controls, line
    # separators and U+FEFF too (before, only C0 and C1 were replaced).
    hostile = INCIDENT.model_copy(update={"host": "evil\x1b[2J\nhost\u202eb\u2028c\ufeffd"})
    text = render_table(roll_up([hostile]))
    for raw in ("\x1b", "\u202e", "\u2028", "\ufeff"):
        assert raw not in text
    assert "evil\\x1b[2J\\nhost\\u202eb\\u2028c\\ufeffd" in text


def test_table_shows_invisible_characters_escaped() -> None:
    # Zero-width characters, a soft hyphen, a filler that shows as blank and
    # tag characters (a hidden text) would make two names look alike.
    hidden = "".join(chr(0xE0000 + ord(c)) for c in "IGNORE")
    hostile = INCIDENT.model_copy(update={"host": f"web\u200b1\u00ad\u3164{hidden}"})
    text = render_table(roll_up([hostile]))
    assert "web\\u200b1\\xad\\u3164\\U000e0049\\U000e0047" in text
    assert not any(0xE0000 <= ord(c) <= 0xE007F or c in "\u200b\u00ad\u3164" for c in text)


def test_printable_escapes_every_format_character() -> None:
    # Unicode's Cf (format) characters are invisible or reorder the line.
    for code in range(sys.maxunicode + 1):
        char = chr(code)
        if unicodedata.category(char) == "Cf":
            assert printable(char) != char, f"U+{code:04X}"


# Unicode's DerivedCoreProperties.txt, Default_Ignorable_Code_Point (15.1):
# drawn as nothing, assigned or not.
DEFAULT_IGNORABLE = (
    (0x00AD, 0x00AD), (0x034F, 0x034F), (0x061C, 0x061C), (0x115F, 0x1160),
    (0x17B4, 0x17B5), (0x180B, 0x180F), (0x200B, 0x200F), (0x202A, 0x202E),
    (0x2060, 0x206F), (0x3164, 0x3164), (0xFE00, 0xFE0F), (0xFEFF, 0xFEFF),
    (0xFFA0, 0xFFA0), (0xFFF0, 0xFFF8), (0x1BCA0, 0x1BCA3), (0x1D173, 0x1D17A),
    (0xE0000, 0xE0FFF),
)  # fmt: skip


def test_printable_escapes_every_default_ignorable_code_point() -> None:
    for first, last in DEFAULT_IGNORABLE:
        for code in range(first, last + 1):
            assert printable(chr(code)) != chr(code), f"U+{code:04X}"
    assert printable("web1\u2800") == "web1\\u2800"  # the braille blank


def test_host_names_drop_what_nameprep_maps_to_nothing() -> None:
    for code in range(sys.maxunicode + 1):
        char = chr(code)
        dropped = _MAPPED_TO_NOTHING.fullmatch(char) is not None
        assert dropped == stringprep.in_table_b1(char), f"U+{code:04X}"


def markdown_tables(text: str) -> list[list[list[str]]]:
    """Each table of ``text`` as rows of cells, split where GFM would split them."""
    tables: list[list[list[str]]] = []
    previous = ""
    for line in text.splitlines():
        if line.startswith("|"):
            row = CELL.findall(line.strip().strip("|"))
            if previous.startswith("|"):
                tables[-1].append(row)
            else:
                tables.append([row])
        previous = line
    return tables


def test_markdown_tables_keep_their_columns_whatever_the_host_says() -> None:
    hostile = INCIDENT.model_copy(update={"host": "a|b\\|c <b>x</b>\nnext"})
    text = render_markdown(roll_up([hostile, TUNED]))
    assert text.startswith("## tcpaudit fleet: 2 hosts; grades: A 1, B 0, C 0, D 0, F 1\n")
    assert "<b>" not in text
    tables = markdown_tables(text)
    assert [len(table[0]) for table in tables] == [2, 3, 3, 6], "grades, common, worst, hosts"
    for table in tables:
        assert {len(row) for row in table} == {len(table[0])}, table
    assert tables[3][2][0].strip() == "a\\|b\\\\\\|c \\<b\\>x\\</b\\> next"
    assert tables[3][3][0].strip() == "web2.shop.example"
    assert "<summary>All 2 hosts</summary>" in text
