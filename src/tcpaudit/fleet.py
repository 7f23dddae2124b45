"""``tcpaudit fleet``: roll up many hosts' JSON reports into one summary.

This module owns reading a fleet's reports (files written by
``tcpaudit audit --format json`` or by the Ansible check's ``report_dir``),
the roll-up (``FleetSummary``: per-host grade, score and counts; the grade
distribution; the rules most hosts break; the worst hosts), its three
renderings (table, json, markdown) and the ``fleet`` click command that
``tcpaudit.cli`` registers. It audits nothing itself: grades and findings are
the reports' own, as the engine wrote them.

Exit codes of ``tcpaudit fleet``: 0, or 1 when ``--fail-on SEVERITY`` is given
and some host has an unsuppressed finding at or above it (the default is
``never``: the per-host audit is the gate, the fleet view is a report); 2 when
a report cannot be read or is not a tcpaudit JSON report (one stderr line
naming the file).
"""

from __future__ import annotations

import hashlib
import re
import sys
import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import click
from pydantic import ConfigDict, ValidationError
from tabulate import tabulate

from .cli_support import errors_exit_2, write_output
from .engine.findings import MAX_REPORT_FINDINGS, Report, Severity, too_many_findings
from .engine.grade import Grade
from .errors import ParseError
from .first_error import FirstErrorModel
from .inputs import DocumentError, check_json_size, load_json, read_bytes
from .report.markdown import escape_text
from .safetext import dump_model_json, for_a_log, printable

__all__ = [
    "FLEET_FORMATS",
    "FleetHost",
    "FleetStats",
    "FleetSummary",
    "HostScore",
    "RuleCount",
    "failing_hosts",
    "fleet_command",
    "load_report",
    "load_reports",
    "report_files",
    "roll_up",
]

GRADES: tuple[Grade, ...] = ("A", "B", "C", "D", "F")
_GRADE_RANK = {grade: rank for rank, grade in enumerate(GRADES)}
MOST_COMMON_LIMIT = 10  # rules listed under summary.most_common
WORST_LIMIT = 10  # hosts listed under summary.worst
# Below this many reports a progress bar would only flicker.
PROGRESS_MIN_FILES = 200


class FleetHost(FirstErrorModel):
    """One host's line in the roll-up; counts are of unsuppressed findings."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str
    grade: Grade
    score: int
    findings: int
    critical: int
    high: int


class RuleCount(FirstErrorModel):
    """A rule and how many hosts have at least one unsuppressed finding of it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rule: str
    title: str
    hosts: int


class HostScore(FirstErrorModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str
    grade: Grade
    score: int


class FleetStats(FirstErrorModel):
    """The fleet at a glance: host count, grade distribution, top rules, worst hosts."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    hosts: int
    by_grade: dict[Grade, int]
    most_common: list[RuleCount]
    worst: list[HostScore]


class FleetSummary(FirstErrorModel):
    """The JSON of ``tcpaudit fleet --format json``: ``{"hosts": [...], "summary": {...}}``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    hosts: list[FleetHost]
    summary: FleetStats


def report_files(paths: Iterable[str | Path]) -> list[Path]:
    """The report files that ``paths`` name: files as given, directories as their ``*.json``.

    Args:
        paths: files and directories; a directory contributes every ``*.json``
            directly inside it, sorted by name. A file named twice (directly
            and through its directory) is read once.

    Raises:
        ParseError: a path does not exist, or a directory holds no ``*.json``.
    """
    files: list[Path] = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            found = sorted(p for p in path.glob("*.json") if p.is_file())
            if not found:
                raise ParseError("no *.json report in this directory", file=str(given))
            files.extend(found)
        elif path.exists():
            files.append(path)
        else:
            raise ParseError("no such file or directory", file=str(given))
    unique: dict[Path, Path] = {}
    for file in files:
        unique.setdefault(file.resolve(), file)
    return list(unique.values())


# Reports up to this size are parsed by pydantic-core (faster); larger ones by
# Python's json, which holds less per value.
_FAST_REPORT_BYTES = 1024 * 1024


def load_report(path: str | Path) -> Report:
    """Read one JSON report, validated against the report contract.

    Raises:
        ParseError: the file cannot be read, is not JSON, or is not a tcpaudit
            JSON report; the message names the file and the first problem.
    """
    try:
        # A regular file only (a FIFO or device named by mistake fails at once), 64 MiB at most.
        data = read_bytes(path)
    except OSError as exc:
        raise ParseError(f"cannot read report: {exc.strerror or exc}", file=str(path)) from exc
    # Counted before the models are built: 884,401 small findings in 64 MiB took 1.7 GB.
    if too_many_findings(data):
        raise ParseError(
            f"not a tcpaudit JSON report (more than {MAX_REPORT_FINDINGS:,} findings)",
            file=str(path),
        )
    try:
        # pydantic-core's parser holds about 500 bytes a value: counted first.
        check_json_size(data)
    except DocumentError as exc:
        raise ParseError(f"not a tcpaudit JSON report ({exc})", file=str(path)) from exc
    try:
        if len(data) > _FAST_REPORT_BYTES:
            # pydantic-core's parser holds about 500 bytes a value (4 million
            # keys: 2 GB); Python's, then the models, about a third of it.
            return _load_slowly(data, path)
        try:
            # model_validate_json parses and validates in one pass in pydantic-core:
            # 69 us a report against 95 us for json.loads + model_validate
            # (bench/RESULTS-fleet.md).
            return Report.model_validate_json(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            if first["type"] == "json_invalid" and "surrogate" in first["msg"]:
                # Reports of tcpaudit 0.1 wrote bytes that are not UTF-8 as \udcXX
                # escapes, which pydantic-core refuses and Python's json reads.
                return _load_slowly(data, path)
            raise
    except ValidationError as exc:
        errors = exc.errors()
        # A missing field says "this is some other document" better than an extra one.
        first = next((e for e in errors if e["type"] == "missing"), errors[0])
        if first["type"] == "json_invalid":
            raise ParseError(f"not JSON: {first['msg']}", file=str(path)) from exc
        where = ".".join(str(part) for part in first["loc"]) or "document"
        reason = f"not a tcpaudit JSON report ({where}: {first['msg']})"
        raise ParseError(reason, file=str(path)) from exc


def _load_slowly(data: bytes, path: str | Path) -> Report:
    """Parsed by Python's json, then validated (its errors as pydantic-core's)."""
    try:
        document = load_json(data)
    except ValueError as exc:  # JSONDecodeError, DocumentError
        raise ParseError(f"not JSON: {exc}", file=str(path)) from exc
    return Report.model_validate(document)


def load_reports(paths: Iterable[str | Path]) -> list[Report]:
    """Read the reports that ``paths`` name (see ``report_files``), in that order.

    Raises:
        ParseError: for the first path or file that cannot be used.
    """
    return [load_report(path) for path in report_files(paths)]


def _host_line(report: Report) -> tuple[FleetHost, set[str]]:
    active = [f for f in report.findings if not f.suppressed]
    line = FleetHost(
        host=_host(report.host, _KEPT_HOST),
        grade=report.grade,
        score=report.score,
        findings=len(active),
        critical=sum(1 for f in active if f.severity is Severity.CRITICAL),
        high=sum(1 for f in active if f.severity is Severity.HIGH),
    )
    return line, {f.rule for f in active}


def roll_up(reports: Iterable[Report]) -> FleetSummary:
    """Summarise many hosts' reports, in one pass (a generator keeps memory flat).

    Args:
        reports: one report per host, in the order the hosts should be listed.

    Returns:
        ``hosts`` in input order; ``summary.by_grade`` with every grade A..F;
        ``summary.most_common``: up to 10 rules by the number of hosts with an
        unsuppressed finding of the rule (then by rule id); ``summary.worst``:
        up to 10 hosts scoring below 100, worst grade first, then lowest
        score, then host name.
    """
    hosts: list[FleetHost] = []
    rule_hosts: Counter[str] = Counter()
    titles: dict[str, str] = {}
    for report in reports:
        line, rules = _host_line(report)
        hosts.append(line)
        rule_hosts.update(rules)
        for finding in report.findings:
            titles.setdefault(finding.rule, finding.title)
    grades = Counter(line.grade for line in hosts)
    common = sorted(rule_hosts.items(), key=lambda item: (-item[1], item[0]))
    below = [line for line in hosts if line.score < 100]
    below.sort(key=lambda line: (-_GRADE_RANK[line.grade], line.score, line.host))
    stats = FleetStats(
        hosts=len(hosts),
        by_grade={grade: grades[grade] for grade in GRADES},
        most_common=[
            RuleCount(rule=rule, title=titles[rule], hosts=count)
            for rule, count in common[:MOST_COMMON_LIMIT]
        ],
        worst=[
            HostScore(host=line.host, grade=line.grade, score=line.score)
            for line in below[:WORST_LIMIT]
        ],
    )
    return FleetSummary(hosts=hosts, summary=stats)


def failing_hosts(reports: Iterable[Report], severity: Severity) -> list[str]:
    """The hosts with an unsuppressed finding at or above ``severity``, in input order."""
    return [report.host for report in reports if report.at_or_above(severity)]


def _grades_line(fleet: FleetSummary) -> str:
    counts = ", ".join(f"{grade} {n}" for grade, n in fleet.summary.by_grade.items())
    noun = "host" if fleet.summary.hosts == 1 else "hosts"
    return f"{fleet.summary.hosts} {noun}; grades: {counts}"


def _plain(text: str) -> str:
    # Escaped as every terminal format escapes them (bidi controls too).
    return printable(text)


# A host name is 253 characters at most: a longer one (a report written by
# hand, or a hostile one) is cut in the table and Markdown views, whose
# columns are as wide as the longest (500 hosts beside one of 2,000,000
# characters made a 1 GB table), and kept cut at _KEPT_HOST in the roll-up
# (twenty reports of 60 MB host names took 7.2 GB).
_SHOWN_HOST = 255
_KEPT_HOST = 4096
# NFKC composes three characters into one at most in practice (a letter and two
# marks): a name of up to three times a host name's length is normalised
# before its length is judged (a host's name padded with full-width dots, or
# written decomposed, is that host).
_NORMALISED_HOST = 3 * _SHOWN_HOST


def _host(host: str, limit: int = _SHOWN_HOST) -> str:
    """``host``, cut at ``limit`` characters (the last an ellipsis)."""
    return host if len(host) <= limit else host[: limit - 1] + "\u2026"


def render_table(fleet: FleetSummary) -> str:
    """The terminal view: summary, most common rules, worst hosts, then every host."""
    lines = [f"tcpaudit fleet: {_grades_line(fleet)}"]
    if fleet.summary.most_common:
        rows = [[_plain(c.rule), c.hosts, _plain(c.title)] for c in fleet.summary.most_common]
        lines += ["", "most common findings:"]
        lines.append(tabulate(rows, headers=["rule", "hosts", "title"], tablefmt="simple"))
    if fleet.summary.worst:
        rows = [[_plain(_host(w.host)), w.grade, w.score] for w in fleet.summary.worst]
        lines += ["", "worst hosts:"]
        lines.append(tabulate(rows, headers=["host", "grade", "score"], tablefmt="simple"))
    lines += ["", "hosts:"]
    # tabulate would take seconds on 10,000 rows; plain columns take milliseconds.
    headers = ("host", "grade", "score", "findings", "critical", "high")
    rows_text = [
        (
            _plain(_host(h.host)),
            h.grade,
            str(h.score),
            str(h.findings),
            str(h.critical),
            str(h.high),
        )
        for h in fleet.hosts
    ]
    widths = [max([len(headers[i]), *(len(row[i]) for row in rows_text)]) for i in range(6)]

    def format_row(cells: Sequence[str]) -> str:
        first = cells[0].ljust(widths[0])
        rest = "  ".join(
            cell.rjust(width) for cell, width in zip(cells[1:], widths[1:], strict=True)
        )
        return f"{first}  {rest}".rstrip()

    lines.append(format_row(headers))
    lines.append(format_row(["-" * width for width in widths]))
    lines.extend(format_row(row) for row in rows_text)
    return for_a_log("\n".join(lines) + "\n")


def render_json(fleet: FleetSummary) -> str:
    """The JSON contract: ``{"hosts": [...], "summary": {...}}``."""
    return dump_model_json(fleet) + "\n"


def _md_row(cells: Iterable[object]) -> str:
    # escape_text also escapes "|" and folds newlines, which is all a cell needs.
    return "| " + " | ".join(escape_text(str(cell)) for cell in cells) + " |"


def render_markdown(fleet: FleetSummary) -> str:
    """GitHub-flavoured Markdown for a pull request or job summary; hosts are folded."""
    lines = [f"## tcpaudit fleet: {_grades_line(fleet)}", ""]
    lines += ["| Grade | Hosts |", "| --- | --- |"]
    lines += [_md_row([grade, n]) for grade, n in fleet.summary.by_grade.items()]
    if fleet.summary.most_common:
        lines += ["", "### Most common findings", "", "| Rule | Hosts | Title |"]
        lines.append("| --- | --- | --- |")
        lines += [_md_row([c.rule, c.hosts, c.title]) for c in fleet.summary.most_common]
    if fleet.summary.worst:
        lines += ["", "### Worst hosts", "", "| Host | Grade | Score |", "| --- | --- | --- |"]
        lines += [_md_row([_host(w.host), w.grade, w.score]) for w in fleet.summary.worst]
    lines += ["", "<details>", f"<summary>All {fleet.summary.hosts} hosts</summary>", ""]
    lines += [
        "| Host | Grade | Score | Findings | Critical | High |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    lines += [
        _md_row([_host(h.host), h.grade, h.score, h.findings, h.critical, h.high])
        for h in fleet.hosts
    ]
    lines += ["", "</details>"]
    return for_a_log("\n".join(lines) + "\n")


FLEET_FORMATS = {"table": render_table, "json": render_json, "markdown": render_markdown}


def _loaded(files: list[Path]) -> Iterator[Report]:
    """Load ``files``, with a progress bar on stderr when a person is watching it.

    Raises:
        ParseError: two files report the same host (a stale copy would count
            the host twice and hide which one is current).
    """
    seen: dict[str, Path] = {}

    def one(path: Path) -> Report:
        report = load_report(path)
        first = seen.setdefault(_host_identity(report.host), path)
        if first != path:
            raise ParseError(
                f"host {printable(_host(report.host))!r} is already reported by {first} (host names "
                "are compared as DNS compares them); give one report per host",
                file=str(path),
            )
        return report

    stderr = sys.stderr
    if len(files) < PROGRESS_MIN_FILES or not stderr.isatty():
        yield from map(one, files)
        return
    with click.progressbar(files, label="reading reports", file=stderr) as bar:
        yield from map(one, bar)


@click.command("fleet")
@click.argument("paths", nargs=-1, required=True)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(sorted(FLEET_FORMATS)),
    default="table",
    show_default=True,
)
@click.option("--output", "-o", help="Write the roll-up to this file (0600) instead of stdout.")
@click.option(
    "--fail-on",
    type=click.Choice([s.value for s in Severity] + ["never"]),
    default="never",
    show_default=True,
    help="Exit 1 when some host has an unsuppressed finding at or above this severity.",
)
@errors_exit_2
def fleet_command(
    paths: tuple[str, ...], output_format: str, output: str | None, fail_on: str
) -> None:
    """Roll up many hosts' JSON reports (files, or directories of *.json)."""
    threshold = None if fail_on == "never" else Severity(fail_on)
    failing: list[str] = []

    def watched(reports: Iterable[Report]) -> Iterator[Report]:
        # One pass over the files: no report is kept once rolled up.
        for report in reports:
            if threshold is not None and report.at_or_above(threshold):
                failing.append(report.host)
            yield report

    fleet = roll_up(watched(_loaded(report_files(paths))))
    # Never over a report it read, nor into a directory it reads whole.
    write_output(FLEET_FORMATS[output_format](fleet), output, inputs=paths)
    if failing:
        sys.exit(1)


# RFC 3454 table B.1 (stringprep.in_table_b1; a test holds the two equal).
_MAPPED_TO_NOTHING = re.compile(
    "[\u00ad\u034f\u1806\u180b-\u180d\u200b-\u200d\u2060\ufe00-\ufe0f\ufeff]"
)


def _host_identity(host: str) -> str:
    """A host name as DNS compares it: the characters nameprep maps to nothing
    dropped (a soft hyphen, zero-width spaces and joiners, variation
    selectors), compatibility forms folded (a fullwidth letter), blanks
    around it and a root's trailing dot dropped, case ignored."""
    visible = _MAPPED_TO_NOTHING.sub("", host).strip().rstrip(".")
    if len(visible) <= _NORMALISED_HOST:
        identity = unicodedata.normalize("NFKC", visible).strip().rstrip(".").casefold()
        if len(identity) <= _SHOWN_HOST:
            return identity
    else:
        # Not normalised: NFKC may make a name 18 times longer (63 MB of
        # U+FDFA took 36 s and 3 GB) and sorts runs of combining marks in
        # quadratic time (37 ms for 4,088 of them).
        identity = visible.casefold()
    # Kept for every report: a name too long to be a host's is kept by its digest.
    digest = hashlib.sha256(identity.encode("utf-8", "surrogatepass")).hexdigest()
    return f"{identity[:64]}\u2026sha256:{digest}"
