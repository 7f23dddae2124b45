"""One paragraph that explains the sockets with the audited configuration.

This module owns the reasoning from evidence to cause: what the sockets show
(``classify``), what the workers do (scoreboard, or accepted connections),
which of Apache's timers lets a worker be held longer than a client waits
(the audited ``HostFacts``), and which findings of the audit change that. It
reads nothing and decides no exit code.

The causes it tells apart follow KNOWLEDGE.md's root cause: workers held by
idle keep-alive on a process-per-connection MPM, by slow handlers (CGI, proxy:
bounded only by ``Timeout``), or by clients slow to send a request (bounded by
``RequestReadTimeout``, else ``Timeout``). It claims a drained pool only when
the numbers show one: every worker busy, or (with no count) clients queued.
What the evidence cannot tell, it says so, with how to find out.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..engine.findings import Finding, Report, Severity
from ..facts import HOLDING_MPMS, DerivedTimings, HostFacts
from .classify import Classification
from .model import BackendCloseWait, KernelCounters, SocketSource, Workers
from .sentences import (
    Cause,
    Pool,
    pool_state,
    queued,
    standalone_cause,
    symptoms,
    unknown_busy_sentence,
    workers_sentence,
)
from .signals import backend_sentences, kernel_sentence, syn_recv_sentence
from .status import Scoreboard

__all__ = [
    "Cause",
    "Pool",
    "compose_verdict",
    "count_workers",
    "decide_cause",
    "pool_state",
    "verdict_fixes",
]


# The settings whose findings fix each cause; TA301 (worker exhaustion) names
# the arithmetic behind all of them and is quoted whenever present.
_HOLD_SETTINGS = frozenset(
    {"Timeout", "KeepAliveTimeout", "RequestReadTimeout", "MaxRequestWorkers"}
)
_FIX_SETTINGS: dict[Cause, frozenset[str]] = {
    "keepalive": frozenset({"KeepAliveTimeout", "KeepAlive", "MaxKeepAliveRequests"}),
    "reading": frozenset({"RequestReadTimeout", "Timeout"}),
    "handler": frozenset({"Timeout", "ProxyTimeout"}),
    "held": _HOLD_SETTINGS,
    "unknown": _HOLD_SETTINGS,
    "none": frozenset(),
}
_EXHAUSTION_RULE = "TA301"
_MAX_FIXES = 4


def count_workers(
    classification: Classification, facts: HostFacts, scoreboard: Scoreboard | None
) -> Workers:
    """How many workers are taken: from the scoreboard, else from accepted connections.

    Counting connections is exact on prefork and worker (one worker per
    connection, keep-alive included) and unknowable on event, whose listener
    parks idle connections without a worker; there ``busy`` stays None. It
    also stays None when the source cannot tell which connections a process
    holds, and when nothing listens (no running Apache to count).
    """
    config = facts.apache
    limit = facts.derived.max_request_workers_effective
    if scoreboard is not None:
        return Workers(
            limit=limit,
            busy=scoreboard.busy_workers,
            busy_source="scoreboard",
            keepalive=scoreboard.count("keepalive"),
            handler=scoreboard.count("writing"),
            reading=scoreboard.count("reading"),
        )
    if config is None or config.mpm not in HOLDING_MPMS:
        return Workers(limit=limit)
    if classification.unknown_holder:
        # A count of the visible holders would be a floor presented as a fact.
        return Workers(limit=limit)
    if not classification.listeners and not classification.held:
        return Workers(limit=limit)
    return Workers(limit=limit, busy=classification.held, busy_source="sockets")


def decide_cause(classification: Classification, workers: Workers, facts: HostFacts) -> Cause:
    """Name what holds the workers, from the strongest evidence available.

    Only when something is wrong: clients queued or gone, a CLOSE_WAIT a
    worker holds, or every worker taken. A healthy server's keep-alive
    workers are no cause of anything. CLOSE_WAIT whose holder is unknown, with
    nothing else wrong, gives "unknown": the evidence names no cause.
    """
    connections = classification.connections
    busy = workers.busy or 0
    if not (
        pool_state(workers) == "drained"
        or connections.close_wait_unaccepted
        or connections.established_unaccepted
        or connections.close_wait_owned
    ):
        return "unknown" if connections.close_wait_unknown else "none"
    mpm = facts.apache.mpm if facts.apache else None
    if workers.busy_source == "scoreboard" and busy:
        keepalive, handler = workers.keepalive or 0, workers.handler or 0
        reading = workers.reading or 0
        if mpm in HOLDING_MPMS and keepalive * 2 >= busy:
            return "keepalive"
        if reading > handler and reading * 2 >= busy:
            return "reading"
        if handler:
            return "handler"
    if connections.close_wait_owned:
        # A worker that has not closed a socket its client closed is not
        # reading from it: it is inside a handler (or writing a reply).
        return "handler"
    return "held"


def verdict_fixes(
    classification: Classification, workers: Workers, facts: HostFacts, report: Report
) -> list[Finding]:
    """The findings whose fixes the verdict asks for; none when nothing piles up."""
    cause = decide_cause(classification, workers, facts)
    if cause == "none":
        return []
    return _fixes(report.findings, cause)


def _fixes(findings: Iterable[Finding], cause: Cause) -> list[Finding]:
    active = [f for f in findings if not f.suppressed and f.fix]
    wanted = _FIX_SETTINGS[cause]
    # The cause's own settings first, then the exhaustion arithmetic that ties them together.
    chosen = [f for f in active if f.setting in wanted] + [
        f for f in active if f.rule == _EXHAUSTION_RULE and f.setting not in wanted
    ]
    if not chosen:
        chosen = [f for f in active if f.severity.rank >= Severity.MEDIUM.rank]
    # One fix per setting: several rules may recommend the same change.
    seen: set[str] = set()
    unique = []
    for finding in chosen:
        key = finding.fix or finding.rule
        if key not in seen:
            seen.add(key)
            unique.append(finding)
    return unique[:_MAX_FIXES]


def _fix_name(finding: Finding) -> str:
    """``TA101 Timeout at file:line``: the finding, not its fix.

    A fix is lines of configuration or a shell command; joined into a sentence
    they stop being valid (Apache takes one directive per line), so the
    verdict names the finding and the audit shows its lines as they are.
    """
    setting = finding.setting
    # A derived quantity (TA301's clients per second) is no setting anyone edits.
    label = (
        setting if setting and setting not in DerivedTimings.model_fields else f'"{finding.title}"'
    )
    where = f" at {finding.location}" if finding.location else ""
    return f"{finding.rule} {label}{where}"


def compose_verdict(
    classification: Classification,
    workers: Workers,
    facts: HostFacts,
    report: Report,
    ports: list[int],
    source: SocketSource = "proc",
    *,
    kernel: KernelCounters | None = None,
    backends: list[BackendCloseWait] | None = None,
) -> str:
    """The paragraph: symptoms, who holds the workers and why, and the fixes.

    Args:
        source: where the sockets came from; a capture's limits are named
            (netstat's ``-``, ss without inodes) with how to do better.
    """
    cause = decide_cause(classification, workers, facts)
    backends = backends or []
    sentences = symptoms(classification, ports, source, backends_explained=bool(backends))
    workers_text = workers_sentence(classification, workers, facts, cause)
    if workers_text is not None:
        sentences.append(workers_text)
    else:
        unknown_busy = unknown_busy_sentence(classification, workers, facts)
        if unknown_busy is not None:
            sentences.append(unknown_busy)
        if cause != "none":
            standalone = standalone_cause(classification, facts, cause)
            if standalone:
                sentences.append(standalone)
    if facts.apache is None:
        sentences.append("No Apache configuration was read, so no timer can be named.")
    symptomatic = cause != "none"
    fixes = _fixes(report.findings, cause)
    drained = pool_state(workers) == "drained" or (
        pool_state(workers) == "unknown" and cause != "unknown" and queued(classification)
    )
    names = "; ".join(_fix_name(f) for f in fixes)
    if fixes and symptomatic and drained:
        sentences.append(f"Fix (the audit's findings give the lines to change): {names}.")
    elif fixes and symptomatic:
        sentences.append(
            "The findings that bound how long a worker is held (each gives the lines to "
            f"change): {names}."
        )
    elif fixes:
        exhaustion = next((f for f in fixes if f.rule == _EXHAUSTION_RULE), None)
        lead = exhaustion.message if exhaustion else fixes[0].title
        sentences.append(f"Nothing piles up now, but the configuration lets it: {lead}")
    elif symptomatic:
        sentences.append(
            "The audit finds no timer to shorten: look at what the handlers wait for "
            "(backends, CGI, locks)."
        )
    # The main story (symptoms, cause, fix) first; the evidence beside it after.
    extra = [
        syn_recv_sentence(classification, facts.apache),
        kernel_sentence(kernel, classification),
    ]
    sentences += [sentence for sentence in extra if sentence]
    sentences += backend_sentences(backends)
    return " ".join(sentences)
