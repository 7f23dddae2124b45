"""The JUnit XML report, for CI systems that show test results (GitLab, Jenkins).

This module owns the mapping from a ``Report`` to one ``<testsuite>``: each
catalogue rule is a ``<testcase>``; a rule with unsuppressed findings fails
(one ``<failure>`` listing every finding with its location and fix), a rule
whose findings are all suppressed is ``<skipped>`` with the reasons, and any
other rule passes. The layout follows the Surefire/Jenkins JUnit schema
(junit-10.xsd). Findings keep the report's order; severity stays the engine's.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence

from ..engine.catalogue import load_catalogue
from ..engine.findings import Finding, Report
from ..engine.rule import Rule
from ..safetext import no_line_commands, no_workflow_commands, printable, show_bytes

__all__ = ["render", "xml_safe"]

# Characters XML 1.0 cannot carry at all, even escaped (XML 1.0, section 2.2 "Char").
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_safe(text: str) -> str:
    """``text`` with characters XML 1.0 forbids replaced by U+FFFD.

    ElementTree escapes ``<``, ``&`` and quotes but writes control characters
    as they are, which makes the document unreadable for every JUnit consumer.
    A byte that was not UTF-8 is shown as ``\\xNN``, as in every format.
    """
    return _NOT_XML.sub("\ufffd", show_bytes(text))


def _finding_text(finding: Finding) -> str:
    # One line per field: a newline in a file name must not start a line of its own.
    # Markers are escaped over the whole document, as XML reads them back.
    where = (
        printable(str(finding.location), runner_markers=False) if finding.location else "(no file)"
    )
    if finding.scope:
        where += f" ({printable(finding.scope, runner_markers=False)})"
    lines = [f"{where}: [{finding.severity.value}] {finding.message}"]
    if finding.setting is not None:
        current = "(unset)" if finding.current is None else finding.current
        recommended = "(unset)" if finding.recommended is None else finding.recommended
        lines.append(f"  setting: {finding.setting} = {current} -> {recommended}")
    if finding.suppressed:
        lines.append(f"  suppressed: {finding.suppression_reason or 'no reason given'}")
    if finding.fix:
        lines.append("  fix:")
        lines += [f"    {line}" for line in finding.fix.splitlines()]
    return "\n".join(lines)


def _testcase(
    suite: ET.Element, classname: str, rule_id: str, title: str, findings: list[Finding]
) -> tuple[bool, bool]:
    """Add one rule's testcase; returns (failed, skipped)."""
    case = ET.SubElement(
        suite,
        "testcase",
        {"classname": xml_safe(classname), "name": xml_safe(f"{rule_id} {title}")},
    )
    active = [f for f in findings if not f.suppressed]
    suppressed = [f for f in findings if f.suppressed]
    if active:
        # The report lists findings worst first, so the first one names the severity.
        message = active[0].message
        if len(active) > 1:
            message = f"{len(active)} findings; the first: {message}"
        failure = ET.SubElement(
            case,
            "failure",
            {
                "message": xml_safe(message),
                "type": active[0].severity.value,
            },
        )
        failure.text = xml_safe("\n\n".join(_finding_text(f) for f in findings)) + "\n"
        return True, False
    if suppressed:
        reasons = [f.suppression_reason or "no reason given" for f in suppressed]
        skipped = ET.SubElement(
            case, "skipped", {"message": xml_safe("; ".join(dict.fromkeys(reasons)))}
        )
        skipped.text = xml_safe("\n\n".join(_finding_text(f) for f in suppressed)) + "\n"
        return False, True
    return False, False


def render(report: Report, *, color: bool = False, rules: Sequence[Rule] | None = None) -> str:
    """The JUnit XML document of ``report`` (``color`` is ignored).

    Args:
        report: the audit report.
        color: ignored; accepted so every format shares one signature.
        rules: the catalogue the report was made with; None loads the bundled one.
            Findings of rules outside it get a testcase of their own.
    """
    catalogue = list(rules) if rules is not None else load_catalogue()
    titles = {rule.id: rule.title for rule in catalogue}
    by_rule: dict[str, list[Finding]] = {rule.id: [] for rule in catalogue}
    for finding in report.findings:
        if finding.rule not in by_rule:
            by_rule[finding.rule] = []
            titles[finding.rule] = finding.title
        by_rule[finding.rule].append(finding)

    suite = ET.Element("testsuite", {"name": "tcpaudit"})
    properties = ET.SubElement(suite, "properties")
    for name, value in (
        ("tool.version", report.tool.version),
        ("host", report.host),
        ("profile", report.profile),
        ("grade", report.grade),
        ("score", str(report.score)),
    ):
        ET.SubElement(properties, "property", {"name": name, "value": xml_safe(value)})
    classname = f"tcpaudit.{report.host}"
    failures = skipped = 0
    for rule_id, findings in by_rule.items():
        failed, was_skipped = _testcase(suite, classname, rule_id, titles[rule_id], findings)
        failures += failed
        skipped += was_skipped
    if report.notes:
        system_out = ET.SubElement(suite, "system-out")
        system_out.text = xml_safe("\n".join(f"note: {note}" for note in report.notes)) + "\n"
    suite.attrib.update(
        {
            "tests": str(len(by_rule)),
            "failures": str(failures),
            "errors": "0",
            "skipped": str(skipped),
            "hostname": xml_safe(report.host),
        }
    )
    ET.indent(suite)
    body = ET.tostring(suite, encoding="unicode")
    # A CI runner acts on "##[" (and "##vso[", ...) anywhere in a log's line
    # and on "::" at a line's start; "#&#35;" and "&#58;" are the same text
    # to an XML reader, and no command to a runner.
    body = no_line_commands(no_workflow_commands(body, "#&#35;"), "&#58;")
    return f'<?xml version="1.0" encoding="UTF-8"?>\n{body}\n'
