"""One document for several instances: each one's section, and their totals on top.

When the ports belong to several running httpd (a second instance on 8443, a
test server beside the production one), each is judged with its own
configuration and gets its own ``Diagnosis``; this module wraps them so that
a reader of the single-instance contract still finds the counts where it
expects them: ``connections`` summed, ``listeners``, ``owners`` and
``close_wait`` joined, the findings their union (each marked by its file),
the grade the worst, the verdict one paragraph per instance.
"""

from __future__ import annotations

from ..engine.findings import Report
from .classify import MAX_CLOSE_WAIT_LISTED
from .model import Connections, Diagnosis, Workers

__all__ = ["combine"]

_GRADES = "ABCDF"


def combine(sections: list[Diagnosis]) -> Diagnosis:
    """The document holding ``sections`` (at least two) and their totals."""
    first = sections[0]
    worst = max(sections, key=lambda section: (_GRADES.index(section.grade), -section.score))
    totals: dict[str, int] = {}
    for section in sections:
        for name, value in section.connections.model_dump().items():
            totals[name] = totals.get(name, 0) + value
    close_wait = [socket for section in sections for socket in section.close_wait]
    findings = []
    seen: set[tuple[str, str | None, int | None]] = set()
    for section in sections:
        for finding in section.findings:
            where = finding.location
            key = (finding.rule, where.file if where else None, where.line if where else None)
            if key not in seen:
                seen.add(key)
                findings.append(finding)
    findings.sort(key=lambda finding: -finding.severity.rank)
    paragraphs = []
    for section in sections:
        instance = section.instance
        who = (
            f"httpd {instance.pid} ({', '.join(instance.listeners)})"
            if instance is not None and instance.pid is not None
            else f"ports {', '.join(map(str, section.ports))}"
        )
        paragraphs.append(f"[{who}] {section.verdict}")
    base = {name: getattr(first, name) for name in Report.model_fields}
    base.update(
        grade=worst.grade,
        score=worst.score,
        apache=worst.apache,
        derived=worst.derived,
        findings=findings,
        notes=[note for section in sections for note in section.notes],
    )
    return Diagnosis(
        **base,
        ports=sorted({port for section in sections for port in section.ports}),
        socket_source=first.socket_source,
        listeners=[listener for section in sections for listener in section.listeners],
        connections=Connections(**totals),
        owners=[owner for section in sections for owner in section.owners],
        owners_not_listed=sum(section.owners_not_listed for section in sections),
        listeners_not_listed=sum(section.listeners_not_listed for section in sections),
        backends_not_listed=sum(section.backends_not_listed for section in sections),
        workers=Workers(),
        close_wait=close_wait[:MAX_CLOSE_WAIT_LISTED],
        close_wait_truncated=len(close_wait) > MAX_CLOSE_WAIT_LISTED
        or any(section.close_wait_truncated for section in sections),
        backends=[backend for section in sections for backend in section.backends],
        instances=sections,
        verdict=f"{len(sections)} Apache instances on the ports. " + " ".join(paragraphs),
        verdict_fixes=list(
            dict.fromkeys(rule for section in sections for rule in section.verdict_fixes)
        ),
    )
