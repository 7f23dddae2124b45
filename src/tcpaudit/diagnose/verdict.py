"""One paragraph that explains the sockets with the audited configuration.

This module owns the reasoning from evidence to cause: what the sockets show
(``classify``), what the workers do (scoreboard, or accepted connections),
which of Apache's timers lets a worker be held longer than a client waits
(the audited ``HostFacts``), and which findings of the audit change that. It
reads nothing and decides no exit code.

The causes it tells apart follow KNOWLEDGE.md's root cause: workers held by
idle keep-alive on a process-per-connection MPM, by slow handlers (CGI, proxy:
bounded only by ``Timeout``), or by clients slow to send a request (bounded by
``RequestReadTimeout``, else ``Timeout``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from ..engine.findings import Finding, Report, Severity
from ..facts import HOLDING_MPMS, HostFacts
from .classify import Classification
from .model import Workers
from .status import Scoreboard

__all__ = ["Cause", "compose_verdict", "count_workers", "decide_cause"]

Cause = Literal["keepalive", "reading", "handler", "held", "none"]

# The settings whose findings fix each cause; TA301 (worker exhaustion) names
# the arithmetic behind all of them and is quoted whenever present.
_FIX_SETTINGS: dict[Cause, frozenset[str]] = {
    "keepalive": frozenset({"KeepAliveTimeout", "KeepAlive", "MaxKeepAliveRequests"}),
    "reading": frozenset({"RequestReadTimeout", "Timeout"}),
    "handler": frozenset({"Timeout", "ProxyTimeout"}),
    "held": frozenset({"Timeout", "KeepAliveTimeout", "RequestReadTimeout", "MaxRequestWorkers"}),
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
    parks idle connections without a worker; there ``busy`` stays None.
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
    if config is not None and config.mpm in HOLDING_MPMS:
        return Workers(limit=limit, busy=classification.held, busy_source="sockets")
    return Workers(limit=limit)


def decide_cause(classification: Classification, workers: Workers, facts: HostFacts) -> Cause:
    """Name what holds the workers, from the strongest evidence available.

    Only when something is wrong: clients queued or gone, a CLOSE_WAIT a
    worker holds, or every worker taken. A healthy server's keep-alive
    workers are no cause of anything.
    """
    connections = classification.connections
    busy = workers.busy or 0
    saturated = workers.limit is not None and busy >= workers.limit
    if not (
        saturated
        or connections.close_wait_unaccepted
        or connections.established_unaccepted
        or connections.close_wait_owned
    ):
        return "none"
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


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _ports(classification: Classification, ports: list[int]) -> str:
    addresses = [listener.address for listener in classification.listeners]
    return ", ".join(addresses) if addresses else ", ".join(f":{port}" for port in ports)


def _queue(classification: Classification) -> str:
    parts = []
    for listener in classification.listeners:
        limit = "?" if listener.backlog is None else str(listener.backlog)
        parts.append(f"{listener.accept_queue}/{limit}")
    return ", ".join(parts) or "no listener seen"


def _setting(facts: HostFacts, name: str) -> str:
    setting = facts.apache.settings.get(name) if facts.apache else None
    if setting is None or setting.value is None:
        return "?"
    return str(setting.value)


def _symptoms(classification: Classification, ports: list[int]) -> list[str]:
    c = classification.connections
    where = _ports(classification, ports)
    sentences: list[str] = []
    if c.close_wait_unaccepted:
        waiting = (
            f", {_count(c.established_unaccepted, 'more client')} still waiting there"
            if c.established_unaccepted
            else ""
        )
        sentences.append(
            f"{c.close_wait_unaccepted} unowned CLOSE_WAIT in the accept queue of {where} "
            f"(queue {_queue(classification)}){waiting}: clients that gave up before a worker "
            "accepted them; each will still be served, for nobody, once a worker frees up."
        )
    elif c.established_unaccepted:
        sentences.append(
            f"{_count(c.established_unaccepted, 'connection')} wait in the accept queue of {where} "
            f"(queue {_queue(classification)}) for a free worker."
        )
    for listener in classification.listeners:
        # The kernel's test is ack_backlog > max_ack_backlog: one more than the backlog fits.
        if listener.backlog is not None and listener.accept_queue > listener.backlog:
            sentences.append(
                f"The accept queue of {listener.address} is full ({listener.accept_queue} > "
                f"backlog {listener.backlog}): the kernel drops new clients' SYNs until a "
                "worker accepts; they retry, then time out without a trace in Apache's logs."
            )
    if c.close_wait_owned:
        holders = sorted({pid for s in classification.close_wait if s.accepted for pid in s.pids})
        who = f"processes {', '.join(map(str, holders))}" if holders else "processes"
        if holders and set(holders) <= classification.apache_pids:
            who = f"Apache workers (pid {', '.join(map(str, holders))})"
        sentences.append(
            f"{c.close_wait_owned} CLOSE_WAIT held by {who}: a handler still runs for a "
            "client that already left."
        )
    if c.close_wait_unknown:
        sentences.append(
            f"{c.close_wait_unknown} CLOSE_WAIT whose owner the capture does not show "
            "(capture `ss -tanpoe` as root to tell queued from held)."
        )
    if not sentences:
        sentences.append(
            f"No CLOSE_WAIT on {where}: {_count(c.established, 'connection')} accepted, "
            f"accept queue {_queue(classification)}."
        )
    if c.close_wait_other:
        sentences.append(
            f"Apache also holds {c.close_wait_other} CLOSE_WAIT on other ports "
            "(a backend closed first; the worker holding it is not reading it)."
        )
    return sentences


def _workers_sentence(workers: Workers, facts: HostFacts, cause: Cause) -> str | None:
    if workers.busy is None:
        return None
    limit = workers.limit
    if limit is not None and workers.busy >= limit:
        head = f"All MaxRequestWorkers={limit} workers are busy"
    elif limit is not None:
        verb = "is" if workers.busy == 1 else "are"
        head = f"{workers.busy} of MaxRequestWorkers={limit} workers {verb} busy"
    else:
        head = f"{_count(workers.busy, 'worker')} {'is' if workers.busy == 1 else 'are'} busy"
    how = (
        " (scoreboard)"
        if workers.busy_source == "scoreboard"
        else " (each holds an accepted connection)"
    )
    mpm = facts.apache.mpm if facts.apache else "?"
    details = []
    if workers.keepalive:
        keepalive = _setting(facts, "KeepAliveTimeout")
        details.append(
            f"{workers.keepalive} of them in keep-alive wait (KeepAliveTimeout {keepalive} on {mpm})"
        )
    if workers.handler:
        details.append(f"{workers.handler} running a handler")
    if workers.reading:
        details.append(f"{workers.reading} reading a request")
    sentence = head + how + (", " + ", ".join(details) if details else "")
    explanation = _cause_text(cause, facts)
    return f"{sentence}: {explanation}." if explanation else f"{sentence}."


def _cause_text(cause: Cause, facts: HostFacts) -> str:
    derived = facts.derived
    mpm = facts.apache.mpm if facts.apache else "?"
    if cause == "keepalive":
        return "the pool is drained by idle keep-alive, not by load"
    if cause == "reading":
        hold = derived.request_read_hold_seconds
        limit = f" (up to {hold:g} s each)" if hold is not None else ""
        return f"the pool is drained by clients slow to send their requests{limit}"
    if cause == "handler":
        return (
            "the pool is drained by slow handlers, each holding its worker up to "
            f"Timeout={_setting(facts, 'Timeout')} s per read from a CGI or backend, "
            "longer than its clients wait"
        )
    if cause == "held":
        worst = derived.worker_hold_seconds_worst
        if worst is None:
            return "workers are held longer than clients wait"
        return (
            f"workers are held longer than clients wait, up to {worst:g} s per connection "
            f"(Timeout {_setting(facts, 'Timeout')}, KeepAliveTimeout "
            f"{_setting(facts, 'KeepAliveTimeout')} on {mpm})"
        )
    return ""


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


def _fix_text(finding: Finding) -> str:
    fix = "; ".join(line.strip() for line in (finding.fix or "").splitlines() if line.strip())
    where = f" at {finding.location}" if finding.location else ""
    return f"{finding.rule} `{fix}`{where}"


def compose_verdict(
    classification: Classification,
    workers: Workers,
    facts: HostFacts,
    report: Report,
    ports: list[int],
) -> str:
    """The paragraph: symptoms, who holds the workers and why, and the fixes."""
    cause = decide_cause(classification, workers, facts)
    sentences = _symptoms(classification, ports)
    workers_sentence = _workers_sentence(workers, facts, cause)
    if workers_sentence is not None:
        sentences.append(workers_sentence)
    elif cause != "none":
        text = _cause_text(cause, facts)
        sentences.append(text[:1].upper() + text[1:] + ".")
    if facts.apache is None:
        sentences.append("No Apache configuration was read, so no timer can be named.")
    fixes = _fixes(report.findings, cause)
    symptomatic = cause != "none"
    if fixes and symptomatic:
        sentences.append("Fix: " + "; ".join(_fix_text(f) for f in fixes) + ".")
    elif fixes:
        exhaustion = next((f for f in fixes if f.rule == _EXHAUSTION_RULE), None)
        lead = exhaustion.message if exhaustion else fixes[0].title
        sentences.append(f"Nothing piles up now, but the configuration lets it: {lead}")
    elif symptomatic:
        sentences.append(
            "The audit finds no timer to shorten: look at what the handlers wait for "
            "(backends, CGI, locks)."
        )
    return " ".join(sentences)
