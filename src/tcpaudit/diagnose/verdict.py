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
from typing import Literal

from ..engine.findings import Finding, Report, Severity
from ..facts import HOLDING_MPMS, DerivedTimings, HostFacts
from .classify import Classification
from .model import SocketSource, Workers
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

# "unknown": CLOSE_WAIT whose holder the source cannot show, and nothing else wrong.
Cause = Literal["keepalive", "reading", "handler", "held", "unknown", "none"]
# "drained": every worker busy; "spare": some free; "unknown": no count.
Pool = Literal["drained", "spare", "unknown"]

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

# Why a capture cannot tell queued from held, and how to find out, by source.
_UNKNOWN_WHY: dict[SocketSource, str] = {
    "netstat": "netstat prints `-` both for a socket no process holds and for one held by a "
    "process it may not inspect, and nothing in this capture shows that it could inspect "
    "Apache's",
    "ss": "this ss capture has no inodes (-e), and nothing in it shows that its user could "
    "see Apache's processes",
    "proc": "the socket table does not say",
}
_UNKNOWN_HOW: dict[SocketSource, str] = {
    "netstat": "To tell, run `netstat -tanp` as root, or capture `ss -tanpoe` (ino:0 marks a "
    "never-accepted socket, even without root), or run `tcpaudit diagnose` on the host "
    "itself (it reads /proc/net/tcp).",
    "ss": "To tell, capture `ss -tanpoe` (-e prints inodes: ino:0 marks a never-accepted "
    "socket, even without root), or run `tcpaudit diagnose` on the host itself.",
    "proc": "",
}


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


def pool_state(workers: Workers) -> Pool:
    """Whether the count shows every worker busy, some free, or nothing."""
    if workers.busy is None or workers.limit is None:
        return "unknown"
    return "drained" if workers.busy >= workers.limit else "spare"


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


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _where(classification: Classification, ports: list[int]) -> str:
    addresses = [listener.address for listener in classification.listeners]
    if addresses:
        return ", ".join(addresses)
    return f"port{'' if len(ports) == 1 else 's'} {', '.join(map(str, ports))}"


def _queue(classification: Classification) -> str | None:
    """``length/backlog`` per listener, or None when no listener was seen."""
    parts = []
    for listener in classification.listeners:
        limit = "?" if listener.backlog is None else str(listener.backlog)
        parts.append(f"{listener.accept_queue}/{limit}")
    return ", ".join(parts) or None


def _queued(classification: Classification) -> bool:
    """Whether clients wait in an accept queue (a listener's count, or sockets known queued)."""
    c = classification.connections
    return bool(
        c.close_wait_unaccepted
        or c.established_unaccepted
        or any(listener.accept_queue for listener in classification.listeners)
    )


def _setting(facts: HostFacts, name: str) -> str:
    setting = facts.apache.settings.get(name) if facts.apache else None
    if setting is None or setting.value is None:
        return "?"
    return str(setting.value)


def _symptoms(classification: Classification, ports: list[int], source: SocketSource) -> list[str]:
    c = classification.connections
    where = _where(classification, ports)
    queue = _queue(classification)
    in_queue = f" (queue {queue})" if queue else ""
    sentences: list[str] = []
    if c.close_wait_unaccepted:
        waiting = (
            f", {_count(c.established_unaccepted, 'more client')} still waiting there"
            if c.established_unaccepted
            else ""
        )
        meaning = (
            "a client that gave up before a worker accepted it; it will still be served, "
            "for nobody, once a worker frees up."
            if c.close_wait_unaccepted == 1
            else "clients that gave up before a worker accepted them; each will still be "
            "served, for nobody, once a worker frees up."
        )
        sentences.append(
            f"{c.close_wait_unaccepted} unowned CLOSE_WAIT in the accept queue of {where}"
            f"{in_queue}{waiting}: {meaning}"
        )
    elif c.established_unaccepted:
        verb = "waits" if c.established_unaccepted == 1 else "wait"
        sentences.append(
            f"{_count(c.established_unaccepted, 'connection')} {verb} in the accept queue of "
            f"{where}{in_queue} for a free worker."
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
        sentences.append(_owned_sentence(classification, source))
    if c.close_wait_unknown:
        sentences += _unknown_sentences(classification, where, source)
    if not sentences:
        accepted = f"{_count(c.established, 'connection')} accepted"
        if c.established_unknown:
            accepted += f", {c.established_unknown} more whose holder the capture does not show"
        queue_text = f", accept queue {queue}" if queue else ""
        sentences.append(f"No CLOSE_WAIT on {where}: {accepted}{queue_text}.")
    if not classification.listeners and not c.close_wait_unknown:
        sentences.append(_no_listener_sentence(where, source))
    if c.close_wait_other:
        n = c.close_wait_other
        sentences.append(
            f"Apache also holds {n} CLOSE_WAIT on other ports (a backend closed first; "
            + (
                "the worker holding it is not reading it)."
                if n == 1
                else "the workers holding them are not reading them)."
            )
        )
    return sentences


def _owned_sentence(classification: Classification, source: SocketSource) -> str:
    n = classification.connections.close_wait_owned
    holders = sorted({pid for s in classification.close_wait if s.accepted for pid in s.pids})
    pids = ", ".join(map(str, holders))
    if holders and set(holders) <= classification.apache_pids:
        who = f"Apache worker{'' if len(holders) == 1 else 's'} (pid {pids})"
    elif holders:
        who = f"process{'' if len(holders) == 1 else 'es'} {pids}"
    elif source != "proc":
        who = "a process the capture does not name"
    else:
        who = "a process" if n == 1 else "processes"
    return f"{n} CLOSE_WAIT held by {who}: a handler still runs for a client that already left."


def _unknown_sentences(
    classification: Classification, where: str, source: SocketSource
) -> list[str]:
    """What is known of CLOSE_WAIT whose holder the source does not show, and what is not."""
    n = classification.connections.close_wait_unknown
    one = n == 1
    sentences = [
        f"{n} CLOSE_WAIT on {where}: {'its client has' if one else 'their clients have'} "
        f"closed, and nothing here has closed {'it' if one else 'them'} yet."
    ]
    unknown = (
        f"Whether {'it waits' if one else 'they wait'} in the accept queue (never accepted) "
        f"or a process holds {'it' if one else 'them'} is not known: {_UNKNOWN_WHY[source]}"
    )
    unread = classification.unknown_unread
    if unread:
        # KNOWLEDGE.md: Recv-Q above 1 on CLOSE_WAIT is request bytes nobody read.
        if one:
            subject = "it still has"
        else:
            subject = f"{unread} of them still {'has' if unread == 1 else 'have'}"
        unknown += (
            f"; {subject} request bytes unread, which fits a never-accepted connection "
            "but does not prove it"
        )
    sentences.append(unknown + ".")
    ports = classification.unknown_ports
    listeners = [listener for listener in classification.listeners if listener.port in ports]
    unheard = sorted(ports - {listener.port for listener in listeners})
    if listeners and not unheard:
        # The listeners' Recv-Q is the kernel's count of queued connections: a bound.
        queued = sum(listener.accept_queue for listener in listeners)
        bound = (
            f", so at most {queued} of them {'waits' if queued == 1 else 'wait'} there"
            if queued < n
            else ""
        )
        addresses = ", ".join(listener.address for listener in listeners)
        sentences.append(
            f"The accept queue of {addresses} holds {_count(queued, 'connection')}{bound}."
        )
    elif unheard:
        plural = "s" if len(unheard) > 1 else ""
        sentences.append(
            _no_listener_sentence(f"port{plural} {', '.join(map(str, unheard))}", source)
        )
    how = _UNKNOWN_HOW[source]
    if how:
        sentences.append(how)
    return sentences


def _no_listener_sentence(where: str, source: SocketSource) -> str:
    if source == "proc":
        return (
            f"Nothing listens on {where} on this host: Apache is not running, or it listens "
            "on other ports (name them with --ports)."
        )
    return (
        f"The capture shows no socket listening on {where}, so the length of its accept "
        "queue is not known."
    )


def _workers_sentence(
    classification: Classification, workers: Workers, facts: HostFacts, cause: Cause
) -> str | None:
    if workers.busy is None:
        return None
    limit = workers.limit
    if limit == 1 and workers.busy >= 1:
        head = "The only worker (MaxRequestWorkers=1) is busy"
    elif limit is not None and workers.busy >= limit:
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
    pool = pool_state(workers)
    if pool == "drained":
        explanation = _drained_text(cause, facts)
    elif cause == "none":
        explanation = ""
    else:
        explanation = _spare_text(classification, workers, facts)
    return f"{sentence}: {explanation}." if explanation else f"{sentence}."


def _drained_text(cause: Cause, facts: HostFacts) -> str:
    """Why every worker is taken (or, with no count, why clients queue)."""
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
    if cause in ("held", "unknown"):
        worst = derived.worker_hold_seconds_worst
        if worst is None:
            return "workers are held longer than clients wait"
        return (
            f"workers are held longer than clients wait, up to {worst:g} s per connection "
            f"(Timeout {_setting(facts, 'Timeout')}, KeepAliveTimeout "
            f"{_setting(facts, 'KeepAliveTimeout')} on {mpm})"
        )
    return ""


def _spare_text(classification: Classification, workers: Workers, facts: HostFacts) -> str:
    """What the symptoms mean when the count shows free workers: no drained pool."""
    c = classification.connections
    free = (workers.limit or 0) - (workers.busy or 0)
    if _queued(classification):
        return (
            "the pool is not drained, yet clients wait in the accept queue: Apache is not "
            f"accepting them although it has room for {_count(free, 'more worker')} (it "
            "starts new workers only gradually, or it is stuck or stopped)"
        )
    if c.close_wait_owned:
        return (
            "the pool is not drained; a handler holds its worker up to "
            f"Timeout={_setting(facts, 'Timeout')} s per read from a CGI or backend, which "
            f"drains the pool only once such handlers take all {workers.limit} workers"
        )
    return "the pool is not drained"


def _standalone_cause(classification: Classification, facts: HostFacts, cause: Cause) -> str:
    """The cause when no worker count exists to attach it to."""
    c = classification.connections
    if cause == "unknown":
        one = c.close_wait_unknown == 1
        text = (
            f"If {'it is' if one else 'they are'} queued, no worker was free to accept "
            f"{'it' if one else 'them'} before {'its client' if one else 'their clients'} "
            "gave up"
        )
        worst = facts.derived.worker_hold_seconds_worst
        if worst is not None:
            mpm = facts.apache.mpm if facts.apache else "?"
            text += (
                f", and the configuration allows that: a worker can be held up to {worst:g} s "
                f"per connection (Timeout {_setting(facts, 'Timeout')}, KeepAliveTimeout "
                f"{_setting(facts, 'KeepAliveTimeout')} on {mpm}), longer than clients wait"
            )
        return text + "."
    if _queued(classification):
        # Clients queue only when no worker accepts them: the drain, without a count.
        text = _drained_text(cause, facts)
    elif cause == "handler":
        text = (
            "a handler holds its worker up to "
            f"Timeout={_setting(facts, 'Timeout')} s per read from a CGI or backend, which "
            "drains the pool only once such handlers take every worker"
        )
    else:
        text = ""
    return text[:1].upper() + text[1:] + "." if text else ""


def _unknown_busy_sentence(
    classification: Classification, workers: Workers, facts: HostFacts
) -> str | None:
    """Say that the worker count is unknown when it could have been counted."""
    config = facts.apache
    if workers.busy is not None or config is None or config.mpm not in HOLDING_MPMS:
        return None
    if not classification.unknown_holder:
        return None
    limit = f"MaxRequestWorkers={workers.limit}" if workers.limit is not None else "the"
    return (
        f"How many of {limit} workers are busy is not known either: the capture does not "
        "show which connections a worker holds (a scoreboard would: --scoreboard or "
        "--status-url)."
    )


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
) -> str:
    """The paragraph: symptoms, who holds the workers and why, and the fixes.

    Args:
        source: where the sockets came from; a capture's limits are named
            (netstat's ``-``, ss without inodes) with how to do better.
    """
    cause = decide_cause(classification, workers, facts)
    sentences = _symptoms(classification, ports, source)
    workers_sentence = _workers_sentence(classification, workers, facts, cause)
    if workers_sentence is not None:
        sentences.append(workers_sentence)
    else:
        unknown_busy = _unknown_busy_sentence(classification, workers, facts)
        if unknown_busy is not None:
            sentences.append(unknown_busy)
        if cause != "none":
            standalone = _standalone_cause(classification, facts, cause)
            if standalone:
                sentences.append(standalone)
    if facts.apache is None:
        sentences.append("No Apache configuration was read, so no timer can be named.")
    symptomatic = cause != "none"
    fixes = _fixes(report.findings, cause)
    drained = pool_state(workers) == "drained" or (
        pool_state(workers) == "unknown" and cause != "unknown" and _queued(classification)
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
    return " ".join(sentences)
