"""The SARIF 2.1.0 report, for code-scanning services (GitHub, GitLab, Azure DevOps).

This module owns the mapping from a ``Report`` to one SARIF run: the rule
catalogue becomes ``tool.driver.rules`` (with help text built from each rule's
rationale and example), each finding a ``result`` that points at the file and
line that decide the setting, with the finding's changes as SARIF ``fixes``
where they can be written without the file's text. Findings keep the report's order; suppressed
findings stay in the log, marked with an external suppression. What a finding
says and how bad it is stays with the engine.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import quote

from ..apache.known_tokens import hide_known_tokens
from ..apache.shell_state import REDACTED_VALUE
from ..engine.catalogue import bundled_rule_ids, bundled_rules_dir, load_catalogue
from ..engine.findings import FileChange, Finding, Report, Severity
from ..engine.rule import Rule
from ..safetext import json_safe
from .markdown import escape_text

__all__ = [
    "INFORMATION_URI",
    "SARIF_SCHEMA",
    "SARIF_VERSION",
    "artifact_location",
    "level_for",
    "render",
    "sarif_log",
]

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_VERSION = "2.1.0"
INFORMATION_URI = "https://pypi.org/project/tcpaudit/"
SRCROOT = "%SRCROOT%"
FINGERPRINT_KEY = "tcpaudit/v1"

_LEVELS = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
    Severity.INFO: "note",
}
# GitHub code scanning reads properties["security-severity"] as a CVSS-like
# score: over 9.0 critical, 7.0-8.9 high, 4.0-6.9 medium, 0.1-3.9 low, and 0.0
# no security severity (docs.github.com, "SARIF support for code scanning").
_SECURITY_SEVERITY = {
    Severity.CRITICAL: "9.5",
    Severity.HIGH: "8.0",
    Severity.MEDIUM: "5.5",
    Severity.LOW: "2.0",
    Severity.INFO: "0.0",
}


def level_for(severity: Severity) -> str:
    """The SARIF level of a severity: critical/high error, medium warning, low/info note."""
    return _LEVELS[severity]


def _prose(text: str) -> str:
    """YAML folded text as one paragraph."""
    return " ".join(text.split())


def _rule_names() -> dict[str, str]:
    """Rule id -> slug from the bundled file names (``TA101-apache-timeout.yaml``)."""
    names: dict[str, str] = {}
    directory = bundled_rules_dir()
    if directory.is_dir():
        for path in directory.glob("TA*-*.yaml"):
            rule_id, _, slug = path.stem.partition("-")
            names[rule_id] = slug
    return names


def _help_text(rule: Rule) -> str:
    return (
        f"{_prose(rule.summary)}\n\n{_prose(rule.rationale)}\n\n"
        f"Example:\n{rule.example.bad.rstrip()}\n\n"
        f"Use instead:\n{rule.example.use_instead.rstrip()}"
    )


def _fenced(text: str) -> str:
    # A closing fence is a line of backticks at least as long as the opening one.
    longest = max(
        (len(line.strip()) for line in text.splitlines() if set(line.strip()) == {"`"}), default=0
    )
    fence = "`" * max(3, longest + 1)
    return f"{fence}\n{text.rstrip()}\n{fence}"


def _help_markdown(rule: Rule) -> str:
    title, summary, rationale = rule.title, _prose(rule.summary), _prose(rule.rationale)
    if rule.id not in bundled_rule_ids():
        # A repository's rule: its text is shown literally (no image, HTML,
        # javascript: link or heading of its own), as --format markdown does.
        title, summary, rationale = escape_text(title), escape_text(summary), escape_text(rationale)
    parts = [
        f"**{rule.id}: {title}**",
        f"## What it does\n{summary}",
        f"## Why is this bad?\n{rationale}",
        f"## Example\n{_fenced(rule.example.bad)}",
        f"Use instead:\n\n{_fenced(rule.example.use_instead)}",
    ]
    if rule.references:
        parts.append("## References\n" + "\n".join(f"- <{ref}>" for ref in rule.references))
    return "\n\n".join(parts)


def _descriptor(rule: Rule, name: str) -> dict[str, Any]:
    descriptor: dict[str, Any] = {
        "id": rule.id,
        "name": name,
        "shortDescription": {"text": rule.title},
        "fullDescription": {"text": _prose(rule.summary)},
        "help": {"text": _help_text(rule), "markdown": _help_markdown(rule)},
        "defaultConfiguration": {"level": level_for(rule.severity)},
        "properties": {
            "tags": ["security", *rule.tags],
            "precision": "high",
            "security-severity": _SECURITY_SEVERITY[rule.severity],
        },
    }
    if rule.references:
        descriptor["helpUri"] = rule.references[0]
    return descriptor


def _descriptor_from_finding(finding: Finding) -> dict[str, Any]:
    """A rule the catalogue does not know (e.g. from another rules directory)."""
    descriptor: dict[str, Any] = {
        "id": finding.rule,
        "name": finding.rule,
        "shortDescription": {"text": finding.title},
        "defaultConfiguration": {"level": level_for(finding.severity)},
        "properties": {
            "tags": ["security"],
            "security-severity": _SECURITY_SEVERITY[finding.severity],
        },
    }
    if finding.references:
        descriptor["helpUri"] = finding.references[0]
    return descriptor


def artifact_location(file: str) -> dict[str, Any]:
    """A file as a SARIF artifactLocation: relative to %SRCROOT%, or a file: URI."""
    return _artifact(file)


def _artifact(file: str) -> dict[str, Any]:
    # Tokens hidden before the percent-encoding, which would cut one in
    # pieces the pass over the whole log no longer finds (whsec_'s "+").
    path = hide_known_tokens(str(PurePosixPath(file)), REDACTED_VALUE)
    # A file name that is not UTF-8 (surrogateescape) is percent-encoded byte
    # by byte; so is any other lone surrogate a facts document may carry.
    try:
        raw = path.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        raw = path.encode("utf-8", "surrogatepass")
    if path.startswith("/"):
        return {"uri": "file://" + quote(raw, safe="/")}
    return {"uri": quote(raw, safe="/"), "uriBaseId": SRCROOT}


def _location(finding: Finding, report: Report) -> dict[str, Any]:
    name = finding.setting or finding.rule
    logical = {
        "name": name,
        "fullyQualifiedName": _qualified(finding) if finding.setting else f"{report.host}/{name}",
        "kind": "member" if finding.setting else "resource",
    }
    if finding.location is None:
        # GitHub code scanning rejects the whole log when one result has no
        # physical location (codeql-action issues 1738 and 2459), so a finding
        # that no file holds is anchored, without a line, where its kind of
        # setting lives: sysctl.conf for a kernel key, else the Apache main file.
        anchor = {"artifactLocation": _artifact(_anchor_file(finding, report))}
        return {"physicalLocation": anchor, "logicalLocations": [logical]}
    physical: dict[str, Any] = {"artifactLocation": _artifact(finding.location.file)}
    if finding.location.line is not None:
        physical["region"] = {"startLine": finding.location.line}
    location: dict[str, Any] = {"physicalLocation": physical}
    if finding.setting:
        location["logicalLocations"] = [logical]
    return location


def _anchor_file(finding: Finding, report: Report) -> str:
    kernel_key = (finding.setting or "").startswith(("net.", "kernel."))
    if report.apache is not None and not kernel_key:
        return report.apache.main_file
    # Named like the report's other files: absolute for an audit of the host itself.
    named = [f.location.file for f in report.findings if f.location is not None]
    if report.apache is not None:
        named.append(report.apache.main_file)
    return "/etc/sysctl.conf" if any(file.startswith("/") for file in named) else "etc/sysctl.conf"


def _qualified(finding: Finding) -> str:
    return f"{finding.scope}/{finding.setting}" if finding.scope else f"{finding.setting}"


def _replacement(change: FileChange) -> dict[str, Any] | None:
    """One change as a SARIF replacement, or None when it needs the file's text.

    A replaced line becomes the line's whole text (a region of one line with
    no column is that line without its end, SARIF 3.30.2); a deleted line is
    removed with its end (the region reaches column 1 of the next); an inserted line
    goes at the start of the next line; a new file is text at offset 0. An
    appended line needs the file's length and a link is no text: those are in
    the patch ``tcpaudit fix`` prints.
    """
    if change.link or change.action == "append":
        return None
    if change.action == "create":
        return {
            "deletedRegion": {"charOffset": 0, "charLength": 0},
            "insertedContent": {"text": change.text + "\n"},
        }
    if change.line is None:
        return None
    if change.action == "replace" and not change.text:
        # A deleted line goes with its end: from its start to the next line's.
        region = {"startLine": change.line, "startColumn": 1, "endLine": change.line + 1}
        return {"deletedRegion": {**region, "endColumn": 1}, "insertedContent": {"text": ""}}
    if change.action == "replace":
        return {
            "deletedRegion": {"startLine": change.line},
            "insertedContent": {"text": change.text},
        }
    return {
        "deletedRegion": {"startLine": change.line + 1, "startColumn": 1, "endColumn": 1},
        "insertedContent": {"text": change.text + "\n"},
    }


def _fixes(finding: Finding) -> list[dict[str, Any]]:
    """The finding's changes as one SARIF fix, when every one can be written as text."""
    if not finding.fix_changes:
        return []
    by_file: dict[str, list[dict[str, Any]]] = {}
    for change in finding.fix_changes:
        replacement = _replacement(change)
        if replacement is None:
            return []
        by_file.setdefault(change.file, []).append(replacement)
    description = f"{finding.rule}: set {finding.setting}" if finding.setting else finding.rule
    if finding.recommended is not None and finding.setting:
        description += f" to {finding.recommended}"
    return [
        {
            "description": {"text": description},
            "artifactChanges": [
                {"artifactLocation": _artifact(file), "replacements": replacements}
                for file, replacements in by_file.items()
            ],
        }
    ]


def _result(finding: Finding, index: int, report: Report) -> dict[str, Any]:
    properties: dict[str, Any] = {"severity": finding.severity.value}
    for key in ("setting", "scope", "current", "recommended", "fix"):
        value = getattr(finding, key)
        if value is not None:
            properties[key] = value
    if finding.location is None:
        properties["location"] = "none: the physical location is only an anchor"
    result: dict[str, Any] = {
        "ruleId": finding.rule,
        "ruleIndex": index,
        "level": level_for(finding.severity),
        "message": {"text": finding.message},
        "locations": [_location(finding, report)],
        "partialFingerprints": {FINGERPRINT_KEY: finding.fingerprint},
        # An empty list says "not suppressed"; an absent one would mean "unknown".
        "suppressions": [],
        "properties": properties,
    }
    fixes = _fixes(finding)
    if fixes:
        result["fixes"] = fixes
    if finding.suppressed:
        suppression: dict[str, Any] = {"kind": "external", "status": "accepted"}
        if finding.suppression_reason:
            suppression["justification"] = finding.suppression_reason
        result["suppressions"] = [suppression]
    return result


def sarif_log(report: Report, rules: Sequence[Rule] | None = None) -> dict[str, Any]:
    """The SARIF log of ``report`` as a JSON-ready dict.

    Args:
        report: the audit report.
        rules: the catalogue the report was made with; None loads the bundled one.
            Findings of rules outside it get a minimal descriptor from the finding.
    """
    catalogue = list(rules) if rules is not None else load_catalogue()
    names = _rule_names()
    descriptors = [_descriptor(rule, names.get(rule.id, rule.id)) for rule in catalogue]
    index = {rule.id: position for position, rule in enumerate(catalogue)}
    for finding in report.findings:
        if finding.rule not in index:
            index[finding.rule] = len(descriptors)
            descriptors.append(_descriptor_from_finding(finding))
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": report.tool.name,
                "version": report.tool.version,
                "informationUri": INFORMATION_URI,
                "rules": descriptors,
            }
        },
        "originalUriBaseIds": {
            SRCROOT: {"description": {"text": "The audited root (tcpaudit audit --root)."}}
        },
        "columnKind": "unicodeCodePoints",
        "results": [_result(f, index[f.rule], report) for f in report.findings],
        "properties": {
            "host": report.host,
            "profile": report.profile,
            "grade": report.grade,
            "score": report.score,
            "notes": [str(note) for note in report.notes],
        },
    }
    return {"$schema": SARIF_SCHEMA, "version": SARIF_VERSION, "runs": [run]}


def render(report: Report, *, color: bool = False, rules: Sequence[Rule] | None = None) -> str:
    """The SARIF 2.1.0 log of ``report`` (``color`` is ignored: SARIF is for machines)."""
    return json_safe(json.dumps(sarif_log(report, rules), indent=2, ensure_ascii=False)) + "\n"
