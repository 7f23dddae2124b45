"""Baselines: accept the findings a previous report already had, report only new ones.

This module owns ``tcpaudit audit --baseline REPORT.json``: reading a previous
JSON report into the set of its finding fingerprints, and marking the findings
of a new report that are in that set. It runs after the engine and before any
reporter; it judges nothing and changes no severity.

Semantics:

- A finding is "in the baseline" when its ``Finding.fingerprint`` (rule,
  setting, scope and file; not the line) is among the baseline's, so a finding
  whose line moved because lines were added above it is still matched, while
  the same rule on another setting, virtual host or file is new.
- Baseline findings are kept, marked ``suppressed`` with the reason
  ``"in baseline"``, so JSON and SARIF still show them (SARIF as suppressed
  results) and a reader can see what was accepted. A finding that a
  ``tcpaudit.toml`` suppression already covers keeps its own reason.
- Score and grade are recomputed from the unsuppressed findings, so they, and
  the exit code of ``--fail-on``, reflect only what is new since the baseline.
- Every finding of the baseline counts, suppressed or not; the baseline's host
  is not compared, since a baseline is usually the same host's earlier report.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ..apache.known_tokens import shown_prefix
from ..errors import ParseError
from ..inputs import DocumentError, load_json, read_bytes
from ..provenance import Location, Note
from .findings import (
    MAX_REPORT_FINDINGS,
    Finding,
    JsonScalar,
    Report,
    Severity,
    too_many_findings,
)
from .grade import grade_for, score_for

__all__ = ["BASELINE_REASON", "MAX_UNLISTED", "Fingerprints", "apply_baseline", "load_baseline"]

_FINGERPRINT = re.compile(r"[0-9a-f]{16}")
# More than any report holds (a check stops after 10,000 findings of its
# rule); 3.3 million, what 64 MiB can hold, took 700 MB.
MAX_UNLISTED = 1_000_000

BASELINE_REASON = "in baseline"


def _not_a_report(path: str, why: str) -> ParseError:
    return ParseError(f"not a tcpaudit JSON report ({why})", file=path)


def _fingerprint(path: str, index: int, item: Any) -> str:
    """The fingerprint of one finding of the baseline document.

    Only the fields the fingerprint depends on are read, so a baseline written
    by another tcpaudit version (with fields added or dropped) still works.
    """
    where = f"findings[{index}]"
    if not isinstance(item, dict) or not isinstance(item.get("rule"), str):
        raise _not_a_report(path, f"{where} has no rule")
    location = item.get("location")
    file = location.get("file") if isinstance(location, dict) else None
    setting, scope = item.get("setting"), item.get("scope")
    if not all(isinstance(v, str | None) for v in (file, setting, scope)):
        raise _not_a_report(path, f"{where}: setting, scope and location.file must be strings")
    probe = Finding(
        rule=item["rule"],
        severity=Severity.INFO,
        title="",
        message="",
        setting=setting,
        scope=scope,
        location=Location(file=file) if file is not None else None,
    )
    return probe.fingerprint


def load_baseline(path: str | Path) -> Fingerprints:
    """Read a previous JSON report (``tcpaudit audit --format json``) as fingerprints.

    Args:
        path: the report file, as the user named it (errors quote it).

    Returns:
        The fingerprint of each of its findings, suppressed ones included,
        mapped to the value it had then (``current``), and those of the
        findings it judged but did not list (``unlisted``, values unknown).

    Raises:
        ParseError: the file cannot be read, is not JSON, or is not a tcpaudit
            JSON report (names the file, and the line for a JSON syntax error).
    """
    shown = str(path)
    try:
        # A regular file only, 64 MiB at most: a FIFO must not hang the gate.
        data = read_bytes(path)
    except OSError as exc:
        raise ParseError(f"cannot read baseline: {exc.strerror or exc}", file=shown) from exc
    # Counted before parsing: 884,401 findings in 64 MiB took 550 MB, held
    # while the audited tree was loaded beside them.
    if too_many_findings(data):
        raise _not_a_report(shown, f"more than {MAX_REPORT_FINDINGS:,} findings")
    try:
        document = load_json(data)
    except json.JSONDecodeError as exc:
        raise ParseError(f"not JSON: {exc.msg}", file=shown, line=exc.lineno) from exc
    except DocumentError as exc:
        raise ParseError(f"cannot read baseline: {exc}", file=shown) from exc
    if not isinstance(document, dict):
        raise _not_a_report(shown, "the document is not an object")
    tool = document.get("tool")
    if not isinstance(tool, dict) or tool.get("name") != "tcpaudit":
        raise _not_a_report(shown, 'no "tool": {"name": "tcpaudit"}')
    if document.get("schema_version") != 1:
        raise _not_a_report(shown, f"schema_version {document.get('schema_version')!r}, not 1")
    findings = document.get("findings")
    if not isinstance(findings, list):
        raise _not_a_report(shown, '"findings" is not a list')
    fingerprints = Fingerprints(
        (_fingerprint(shown, i, item), _scalar(item.get("current")))
        for i, item in enumerate(findings)
    )
    # The findings the report judged but did not list (a rule's beyond the
    # bound): accepted too, their values unknown. Older reports have none.
    unlisted = document.get("unlisted", [])
    if isinstance(unlisted, list) and len(unlisted) > MAX_UNLISTED:
        raise _not_a_report(shown, f'more than {MAX_UNLISTED:,} "unlisted" fingerprints')
    if not isinstance(unlisted, list) or not all(
        isinstance(item, str) and _FINGERPRINT.fullmatch(item) for item in unlisted
    ):
        raise _not_a_report(shown, '"unlisted" is not a list of fingerprints')
    for fingerprint in unlisted:
        if fingerprint not in fingerprints:
            fingerprints[fingerprint] = None
            fingerprints.unvalued.add(fingerprint)
    return fingerprints


class Fingerprints(dict[str, JsonScalar]):
    """A baseline's fingerprints, each with the value its finding had then;
    ``unvalued`` holds those whose value the baseline does not give (its
    unlisted findings)."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.unvalued: set[str] = set()


# The longest value a changed finding's reason quotes: a baseline's value of a
# megabyte was copied into every finding of its fingerprint (1.5 GB of report
# from an 11 MB baseline).
_SHOWN_VALUE = 80


def _scalar(value: object) -> JsonScalar:
    return value if isinstance(value, str | int | float | bool) or value is None else str(value)


def _shown(value: JsonScalar) -> str:
    text = str(value)
    return text if len(text) <= _SHOWN_VALUE else shown_prefix(text, _SHOWN_VALUE) + "..."


def apply_baseline(
    report: Report,
    fingerprints: Iterable[str] | Mapping[str, JsonScalar],
    *,
    source: str | None = None,
) -> Report:
    """Mark the findings of ``report`` that the baseline already had, and regrade.

    Args:
        report: a report as ``tcpaudit.audit`` returns it.
        fingerprints: from ``load_baseline``; with the values the baseline had,
            a finding whose value has changed since says so in its reason.
        source: the baseline file's name, quoted in the note this adds.

    Returns:
        A new report: baseline findings suppressed with reason ``"in baseline"``
        (moved after the unsuppressed ones, order otherwise kept), score and
        grade recomputed, and a note saying how many findings the baseline
        accepted. ``report`` itself is not changed.
    """
    then: Mapping[str, JsonScalar] = (
        fingerprints if isinstance(fingerprints, Mapping) else dict.fromkeys(fingerprints)
    )
    findings: list[Finding] = []
    accepted = changed = 0
    for finding in report.findings:
        if not finding.suppressed and finding.fingerprint in then:
            reason = BASELINE_REASON
            before = then[finding.fingerprint]
            unvalued = getattr(fingerprints, "unvalued", ())
            if (
                isinstance(fingerprints, Mapping)
                and finding.fingerprint not in unvalued
                and before != finding.current
            ):
                # Same finding, another value (Timeout 300 became 400): still
                # accepted, but a reader of the report should see it moved.
                reason = f"{BASELINE_REASON} (was {_shown(before)}, now {_shown(finding.current)})"
                changed += 1
            finding = finding.model_copy(update={"suppressed": True, "suppression_reason": reason})
            accepted += 1
        findings.append(finding)
    # Stable sort: the engine's order (severity, rule, file, line) holds within
    # each group, and suppressed findings come last as the engine puts them.
    findings.sort(key=lambda f: f.suppressed)
    new = sum(1 for f in findings if not f.suppressed)
    baseline = f"baseline {source}" if source else "baseline"
    moved = f" ({changed} with a value changed since)" if changed else ""
    note = Note(
        message=f"{baseline}: {accepted} finding(s) already known{moved}, marked suppressed; "
        f"{new} new finding(s) graded",
        file=None,
    )
    score = score_for(findings)
    return report.model_copy(
        update={
            "findings": findings,
            "score": score,
            "grade": grade_for(score, findings),
            "notes": [*report.notes, note],
        }
    )
