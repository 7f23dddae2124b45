"""Sentences for what queued CLOSE_WAIT will cost, and for the evidence beside the
ports' CLOSE_WAIT: the kernel's counters, half-open handshakes, and CLOSE_WAIT
toward proxied backends.

Each says something only when it matters: an overflow counter at 0, no
SYN-RECV, or no backend CLOSE_WAIT add nothing to the verdict.
"""

from __future__ import annotations

from ..apache.model import ApacheConfig
from .classify import Classification
from .model import BackendCloseWait, KernelCounters

__all__ = ["backend_sentences", "kernel_sentence", "syn_recv_sentence", "unaccepted_meaning"]


def kernel_sentence(kernel: KernelCounters | None, classification: Classification) -> str | None:
    """The TcpExt overflow counters, when they are not zero."""
    if kernel is None or (not kernel.listen_overflows and not kernel.listen_drops):
        return None
    overflows = kernel.listen_overflows or 0
    drops = kernel.listen_drops or 0
    full = [
        listener
        for listener in classification.listeners
        if listener.backlog is not None and listener.accept_queue > listener.backlog
    ]
    now = (
        " One of these queues is full now, so the count is rising."
        if full
        else " No queue on these ports is full right now: the count may be old (it is the "
        "whole host's since boot; --watch shows whether it rises)."
    )
    return (
        f"The kernel has dropped {overflows} connection attempt{'' if overflows == 1 else 's'} "
        f"at a full accept queue since boot (TcpExt ListenOverflows {overflows}, ListenDrops "
        f"{drops}, every listener of the host together): such clients retry their SYN, then "
        f"time out, and Apache never sees them.{now}"
    )


def syn_recv_sentence(classification: Classification, config: ApacheConfig | None) -> str | None:
    """Half-open handshakes on the ports, and what keeps them there."""
    n = classification.connections.syn_recv
    if not n:
        return None
    accept_filter = None
    if config is not None:
        setting = config.settings.get("AcceptFilter")
        accept_filter = setting.value if setting is not None else None
    deferred = (
        "; with AcceptFilter's Linux default (TCP_DEFER_ACCEPT, 30 s) a client that connects "
        "and sends nothing also waits here, before the accept queue"
        if not accept_filter or "none" not in str(accept_filter)
        else ""
    )
    return (
        f"{n} connection{'' if n == 1 else 's'} in SYN-RECV on the ports: the handshake is not "
        f"complete (the client's final ACK lost or not yet sent, or the accept queue full so "
        f"the kernel ignores it{deferred})."
    )


def backend_sentences(backends: list[BackendCloseWait]) -> list[str]:
    """CLOSE_WAIT toward a proxied backend: the pooled-connection pitfall, with its line."""
    sentences = []
    # The ten with the most CLOSE_WAIT (the list comes sorted), then a count.
    for backend in backends[:10]:
        n = backend.close_wait
        plural = "" if n == 1 else "s"
        if backend.route is None:
            sentences.append(
                f"Apache holds {n} CLOSE_WAIT toward {backend.backend}, which no proxy line of "
                "the configuration names (a FastCGI, a balancer member behind a name, or a "
                "module's own connection): that side closed first and Apache has not."
            )
            continue
        where = f" at {backend.file}:{backend.line}" if backend.file else ""
        by = "" if backend.matched_by == "address and port" else " (matched by port)"
        if backend.disablereuse:
            fix = "its line already disables reuse, so something else keeps them"
        elif backend.ttl is not None:
            fix = (
                f"its ttl={backend.ttl} is longer than the backend keeps an idle connection: "
                "set ttl= below the backend's keep-alive timeout"
            )
        else:
            fix = (
                "add ttl= below the backend's keep-alive timeout to that line (or disablereuse=On)"
            )
        sentences.append(
            f"Apache holds {n} CLOSE_WAIT toward the backend {backend.backend} of "
            f"`{backend.route}`{where}{by}: pooled backend connection{plural} that the backend "
            f"closed while idle and httpd has not reused or dropped yet; not a client that "
            f"left, and no worker is held by {'it' if n == 1 else 'them'}. Fix: {fix}."
        )
    if len(backends) > 10:
        more = backends[10:]
        sentences.append(
            f"Apache holds {sum(b.close_wait for b in more)} CLOSE_WAIT toward {len(more)} "
            "more backends, not described here."
        )
    return sentences


def unaccepted_meaning(unaccepted: int, fin_only: int) -> str:
    """What the queued CLOSE_WAIT will cost: a request served for nobody, or nothing at all.

    Recv-Q on CLOSE_WAIT counts the FIN as one byte (KNOWLEDGE.md): 1 is a
    client that sent nothing else (a proxy's spare connection, dropped), so a
    worker will accept it, read end-of-file and close, logging nothing; more
    is a request that will be read and served to a client that left.
    """
    one = unaccepted == 1
    carrying = unaccepted - fin_only
    if fin_only == unaccepted:
        return (
            "a client that gave up before a worker accepted it, having sent nothing but its "
             "FIN (Recv-Q 1): there is no request to serve; a worker will accept it, read "
             "end-of-file and close it, without a line in the access log."
             if one else
             "clients that gave up before a worker accepted them, having sent nothing but "
             "their FIN (all Recv-Q 1): there is no request to serve; a worker will accept "
             "each, read end-of-file and close it, without a line in the access log."
        )  # fmt: skip
    if fin_only == 0:
        return (
            "a client that gave up before a worker accepted it, its request unread (Recv-Q "
            "above 1); it will still be served, for nobody, once a worker frees up."
            if one
            else "clients that gave up before a worker accepted them, their requests unread "
            "(Recv-Q above 1); each will still be served, for nobody, once a worker frees up."
        )
    return (
        f"clients that gave up before a worker accepted them; {fin_only} sent nothing but "
        f"the FIN (Recv-Q 1: a worker will read end-of-file and close, logging nothing), "
        f"{carrying} {'carries a request' if carrying == 1 else 'carry requests'} (Recv-Q "
        f"above 1) that will still be served, for nobody, once a worker frees up."
    )
