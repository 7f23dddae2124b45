"""The sentences of the diagnose verdict: what the sockets show, in words.

``verdict.py`` decides the cause; these functions say it, with the numbers
the evidence gives and nothing it does not (singular and plural included).
"""

from __future__ import annotations

from typing import Literal

from ..facts import HOLDING_MPMS, HostFacts
from .classify import Classification
from .model import SocketSource, Workers
from .signals import unaccepted_meaning

__all__ = [
    "Cause",
    "Pool",
    "pool_state",
    "queued",
    "standalone_cause",
    "symptoms",
    "unknown_busy_sentence",
    "workers_sentence",
]

# "unknown": CLOSE_WAIT whose holder the source cannot show, and nothing else wrong.
Cause = Literal["keepalive", "reading", "handler", "held", "unknown", "none"]
# "drained": every worker busy; "spare": some free; "unknown": no count.
Pool = Literal["drained", "spare", "unknown"]


# Below this backlog a queue at three quarters is a handful of clients, no warning sign.
_NEAR_FULL_MINIMUM = 8
# The pids a sentence names; a forking parent's children may be thousands.
_MAX_PIDS_IN_SENTENCE = 10


def pool_state(workers: Workers) -> Pool:
    """Whether the count shows every worker busy, some free, or nothing."""
    if workers.busy is None or workers.limit is None:
        return "unknown"
    return "drained" if workers.busy >= workers.limit else "spare"


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


def queued(classification: Classification) -> bool:
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


def symptoms(
    classification: Classification,
    ports: list[int],
    source: SocketSource,
    *,
    backends_explained: bool = False,
) -> list[str]:
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
        meaning = unaccepted_meaning(c.close_wait_unaccepted, c.close_wait_unaccepted_fin_only)
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
        elif (
            listener.backlog is not None
            and listener.backlog >= _NEAR_FULL_MINIMUM
            and listener.accept_queue * 4 >= listener.backlog * 3
        ):
            sentences.append(
                f"The accept queue of {listener.address} is close to its backlog "
                f"({listener.accept_queue} of {listener.backlog}): a little more and the "
                "kernel drops new clients' SYNs."
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
    if c.close_wait_other and not backends_explained:
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
    accepted = [s for s in classification.close_wait if s.accepted]
    holders = sorted({pid for s in accepted for pid in s.pids})
    # A sentence names a few; the JSON's close_wait lists each socket's.
    more = len(holders) > _MAX_PIDS_IN_SENTENCE or any(s.pids_not_listed for s in accepted)
    pids = ", ".join(map(str, holders[:_MAX_PIDS_IN_SENTENCE])) + (" and others" if more else "")
    plural = "" if len(holders) == 1 and not more else "s"
    if holders and set(holders) <= classification.apache_pids:
        who = f"Apache worker{plural} (pid {pids})"
    elif holders:
        who = f"process{'e' if plural else ''}{plural} {pids}"
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
    fin_only = n - unread
    if fin_only:
        holder = "it holds" if one else f"{fin_only} of them {'holds' if fin_only == 1 else 'hold'}"
        unknown += (
            f"; {holder} nothing unread but the client's FIN (Recv-Q 1): if queued, there is "
            "no request to serve (a worker will read end-of-file and close without a log line); "
            "if held, the request was read and a handler still runs for it"
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


def workers_sentence(
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
    if queued(classification):
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


def standalone_cause(classification: Classification, facts: HostFacts, cause: Cause) -> str:
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
    if queued(classification):
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


def unknown_busy_sentence(
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
