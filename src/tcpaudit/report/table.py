"""The terminal report: a summary table (tabulate), then each finding with its fix.

Every text that comes from audited files (host name, paths, virtual host
names, values, notes) passes through ``safetext.printable``: a control
character in a ServerName or a file name is shown as ``\x1b``, never sent
to the terminal. Only this module's own colours are escape sequences.
"""

from __future__ import annotations

import textwrap
from collections import Counter

from tabulate import tabulate

from ..apache.known_tokens import hide_known_tokens
from ..apache.shell_state import REDACTED_VALUE
from ..engine.findings import Finding, JsonScalar, Report, Severity
from ..safetext import for_a_log, printable

__all__ = ["render"]

_COLOURS = {
    Severity.CRITICAL: "\033[1;31m",
    Severity.HIGH: "\033[31m",
    Severity.MEDIUM: "\033[33m",
    Severity.LOW: "\033[36m",
    Severity.INFO: "\033[2m",
}
_RESET = "\033[0m"
_WIDTH = 88


def _severity(finding: Finding, color: bool) -> str:
    text = (
        f"{finding.severity.value} (suppressed)" if finding.suppressed else finding.severity.value
    )
    return f"{_COLOURS[finding.severity]}{text}{_RESET}" if color else text


def _cell(value: JsonScalar) -> str:
    return "-" if value is None else printable(str(value))


def _header(report: Report) -> list[str]:
    parts = [f"tcpaudit {report.tool.version}", printable(report.host)]
    if report.apache:
        parts.append(
            printable(
                f"Apache {report.apache.version} ({report.apache.version_source}), "
                f"{report.apache.mpm} MPM"
            )
        )
    if report.kernel and report.kernel.kernel:
        parts.append(f"kernel {printable(report.kernel.kernel)}")
    active = [f for f in report.findings if not f.suppressed]
    counts = Counter(f.severity for f in active)
    summary = ", ".join(f"{counts[s]} {s.value}" for s in reversed(Severity) if counts[s])
    lines = [
        " | ".join(parts),
        f"Grade {report.grade} (score {report.score}/100, profile {report.profile})",
    ]
    noun = "finding" if len(active) == 1 else "findings"
    lines.append(f"{len(active)} {noun}" + (f": {summary}" if summary else ""))
    suppressed = len(report.findings) - len(active)
    if suppressed:
        lines[-1] += f"; {suppressed} suppressed"
    return lines


def render(report: Report, *, color: bool = False) -> str:
    lines = _header(report)
    if report.findings:
        rows = [
            [
                _severity(f, color),
                printable(f.rule),
                _cell(str(f.location) if f.location else None),
                _cell(f.setting),
                _cell(f.current),
                _cell(f.recommended),
            ]
            for f in report.findings
        ]
        lines += [
            "",
            tabulate(
                rows,
                headers=["severity", "rule", "location", "setting", "current", "recommended"],
                tablefmt="simple",
                disable_numparse=True,
            ),
        ]
    for finding in report.findings:
        title = printable(finding.title)
        lines += ["", f"{printable(finding.rule)} {_severity(finding, color)}: {title}"]
        if finding.location:
            where = printable(str(finding.location))
            scope = f" ({printable(finding.scope)})" if finding.scope else ""
            lines.append(f"  at {where}{scope}")
        # Tokens hidden before wrapping: a token cut over two lines is none
        # for the pass over the whole output.
        lines += textwrap.wrap(
            printable(hide_known_tokens(finding.message, REDACTED_VALUE)),
            _WIDTH,
            initial_indent="  ",
            subsequent_indent="  ",
        )
        if finding.suppression_reason:
            lines.append(f"  suppressed: {printable(finding.suppression_reason)}")
        if finding.fix:
            lines.append("  fix:")
            lines += [f"    {printable(line)}" for line in finding.fix.splitlines()]
    if report.notes:
        lines += ["", "notes:"]
        lines += [f"  - {printable(str(note))}" for note in report.notes]
    return for_a_log("\n".join(lines) + "\n")
