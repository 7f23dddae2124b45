"""GitHub Actions workflow commands: one annotation per finding, then a summary.

This module owns the ``::error``/``::warning``/``::notice`` lines a workflow
step prints so GitHub annotates the files that decide each setting (with the
fix and the change's diff hunks, report.hunks), and their
escaping (the rules of ``@actions/core``'s command.ts: ``%``, CR and LF in the
message; also ``:`` and ``,`` in properties); control characters of audited
text are shown as escapes (safetext), since the log renders ANSI sequences. Suppressed findings are not
annotated, only counted in the summary line. Which findings exist and how bad
they are is the engine's.
"""

from __future__ import annotations

from collections import Counter

from ..engine.findings import Finding, Report, Severity
from ..safetext import printable
from .hunks import change_hunks

__all__ = ["command_for", "escape_data", "escape_property", "render"]

_COMMANDS = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "notice",
    Severity.INFO: "notice",
}


def command_for(severity: Severity) -> str:
    """The workflow command of a severity: critical/high error, medium warning, else notice."""
    return _COMMANDS[severity]


def escape_data(text: str) -> str:
    """Escape a command's message (``escapeData`` in @actions/core)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """Escape a command property's value (``escapeProperty`` in @actions/core)."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def _command(name: str, properties: dict[str, str], message: str) -> str:
    props = ",".join(f"{key}={escape_property(value)}" for key, value in properties.items())
    return (
        f"::{name} {props}::{escape_data(message)}"
        if props
        else f"::{name}::{escape_data(message)}"
    )


def _annotation(finding: Finding) -> str:
    properties: dict[str, str] = {}
    if finding.location is not None:
        properties["file"] = finding.location.file
        if finding.location.line is not None:
            properties["line"] = str(finding.location.line)
    properties["title"] = f"{finding.rule} {finding.title}"
    message = finding.message
    if finding.fix:
        message += f"\n\nFix:\n{finding.fix}"
    if finding.fix_changes:
        message += f"\n\nChange:\n{change_hunks(finding.fix_changes)}"
    return _command(command_for(finding.severity), properties, message)


def render(report: Report, *, color: bool = False) -> str:
    """The workflow commands for ``report`` (``color`` is ignored)."""
    lines = [_annotation(f) for f in report.findings if not f.suppressed]
    active = [f for f in report.findings if not f.suppressed]
    counts = Counter(f.severity for f in active)
    tally = ", ".join(f"{counts[s]} {s.value}" for s in reversed(Severity) if counts[s])
    summary = f"{report.host}: grade {report.grade} (score {report.score}/100), "
    summary += f"{len(active)} finding" + ("" if len(active) == 1 else "s")
    if tally:
        summary += f" ({tally})"
    suppressed = len(report.findings) - len(active)
    if suppressed:
        summary += f", {suppressed} suppressed"
    lines.append(_command("notice", {"title": "tcpaudit"}, summary))
    # A workflow log renders ANSI sequences: audited text shows its control characters escaped.
    return printable("\n".join(lines), keep_newlines=True) + "\n"
