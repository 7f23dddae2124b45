"""The Markdown report, for pull-request comments and ``$GITHUB_STEP_SUMMARY``.

This module owns the GitHub-flavoured Markdown layout: a heading with host,
grade and score, a table of findings, then one collapsible section per finding
with its message, its fix in a code block and the change it makes to each
file as diff hunks (report.hunks). It escapes what the audited
files put in the text (``|`` in cells, backticks in code, Markdown and HTML
markup in prose, and control characters everywhere, code included, which
``safetext.printable`` shows as ``\x1b``: the report is also read with
``cat`` in a terminal); which findings exist and in what order is the engine's.
"""

from __future__ import annotations

import re
from collections import Counter

from ..apache.known_tokens import hide_known_tokens
from ..apache.shell_state import REDACTED_VALUE
from ..engine.findings import Finding, JsonScalar, Report, Severity
from ..safetext import for_a_log, printable
from .hunks import change_hunks

__all__ = ["code_span", "escape_cell", "escape_text", "fenced", "render"]

# What rule files may give as references (engine/rule.py checks them too).
_WEB_ADDRESS = re.compile(r"https?://[!#-&(-;=?-\[\]-~]{1,2000}")
# Characters that would otherwise start emphasis, links, HTML, code or a table cell.
_MARKUP = re.compile(r"([\\`*_\[\]<>|~#&])")


def escape_text(text: str) -> str:
    """Prose as literal Markdown: markup characters backslash-escaped, one line,
    control characters shown as escapes (``\\x1b``), and an ``@`` followed by
    a word joiner: a ServerName ``@org/team`` in a pull request's comment
    would notify that team. Tokens of a known kind are hidden first: escaped
    (``ghp\\_...``), the writer's last pass would no longer know them."""
    text = hide_known_tokens(text, REDACTED_VALUE)
    escaped = _MARKUP.sub(r"\\\1", printable(" ".join(text.split())))
    return escaped.replace("@", "@\u2060") if "@" in escaped else escaped


def escape_cell(text: str) -> str:
    """A table cell: ``|`` escaped (also inside code spans, as GFM requires), one line."""
    return text.replace("|", "\\|").replace("\r", " ").replace("\n", "<br>")


def code_span(text: str) -> str:
    """``text`` as an inline code span, whatever backticks it contains; one line."""
    text = printable(" ".join(text.splitlines()))
    runs = [len(run) for run in re.findall(r"`+", text)]
    ticks = "`" * (max(runs, default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{ticks}{pad}{text}{pad}{ticks}"


def fenced(text: str, info: str = "") -> str:
    """``text`` as a fenced code block whose fence no line of ``text`` can close."""
    text = printable(text, keep_newlines=True)
    runs = [len(run) for run in re.findall(r"`+", text)]
    fence = "`" * max(3, max(runs, default=0) + 1)
    return f"{fence}{info}\n{text.rstrip()}\n{fence}"


def _value(value: JsonScalar) -> str:
    return "-" if value is None else code_span(str(value))


def _where(finding: Finding) -> str:
    return code_span(str(finding.location)) if finding.location else "-"


def _severity(finding: Finding) -> str:
    return (
        f"{finding.severity.value} (suppressed)" if finding.suppressed else finding.severity.value
    )


def _summary(report: Report) -> list[str]:
    parts = [f"profile {report.profile}"]
    if report.apache:
        parts.append(
            f"Apache {report.apache.version} ({report.apache.version_source}), "
            f"{report.apache.mpm} MPM ({report.apache.mpm_source})"
        )
    if report.kernel and report.kernel.kernel:
        parts.append(f"kernel {report.kernel.kernel}")
    active = [f for f in report.findings if not f.suppressed]
    counts = Counter(f.severity for f in active)
    tally = ", ".join(f"{counts[s]} {s.value}" for s in reversed(Severity) if counts[s])
    found = f"**{len(active)}** finding" + ("" if len(active) == 1 else "s")
    if tally:
        found += f" ({tally})"
    suppressed = len(report.findings) - len(active)
    if suppressed:
        found += f", {suppressed} suppressed"
    return [
        f"## tcpaudit: {escape_text(report.host)}: grade {report.grade} (score {report.score}/100)",
        "",
        escape_text(", ".join(parts)),
        "",
        found + ".",
    ]


def _table(report: Report) -> list[str]:
    lines = [
        "| Severity | Rule | Location | Setting | Current → recommended |",
        "| --- | --- | --- | --- | --- |",
    ]
    for finding in report.findings:
        setting = code_span(finding.setting) if finding.setting else "-"
        change = f"{_value(finding.current)} → {_value(finding.recommended)}"
        cells = [_severity(finding), finding.rule, _where(finding), setting, change]
        lines.append("| " + " | ".join(escape_cell(cell) for cell in cells) + " |")
    return lines


def _reference(reference: str) -> str:
    """A web address as a link; anything else (a finding built by hand) as code."""
    if _WEB_ADDRESS.fullmatch(reference):
        return f"<{reference}>"
    return code_span(reference)


def _details(finding: Finding) -> list[str]:
    summary = f"{finding.rule} ({_severity(finding)}): {finding.title}"
    lines = ["<details>", f"<summary>{escape_text(summary)}</summary>", ""]
    where = [_where(finding)] if finding.location else []
    if finding.scope:
        where.append(f"({escape_text(finding.scope)})")
    if where:
        lines += [f"At {' '.join(where)}.", ""]
    lines += [escape_text(finding.message), ""]
    if finding.suppressed:
        reason = finding.suppression_reason or "no reason given"
        lines += [f"Suppressed: {escape_text(reason)}", ""]
    if finding.fix:
        lines += ["Fix:", "", fenced(finding.fix), ""]
    if finding.fix_changes:
        lines += ["Change (`tcpaudit fix` prints the patch):", ""]
        lines += [fenced(change_hunks(finding.fix_changes), "diff"), ""]
    if finding.references:
        lines += [f"- {_reference(ref)}" for ref in finding.references] + [""]
    lines.append("</details>")
    return lines


def render(report: Report, *, color: bool = False) -> str:
    """The Markdown report of ``report`` (``color`` is ignored)."""
    lines = _summary(report)
    if report.findings:
        lines += ["", *_table(report)]
        lines += ["", "### Findings"]
        for finding in report.findings:
            lines += ["", *_details(finding)]
    else:
        lines += ["", "No findings."]
    if report.notes:
        lines += ["", "### Notes", ""]
        lines += [f"- {escape_text(str(note))}" for note in report.notes]
    return for_a_log("\n".join(lines) + "\n")
