"""The terminal view of a ``Diagnosis``: the evidence, the verdict, then the audit report.

Like the report renderers, this only lays out what it is given: it never
sorts, filters or judges. The audit part is rendered by ``report.table``.
"""

from __future__ import annotations

import textwrap

from tabulate import tabulate

from ..report import table
from ..safetext import for_a_log, printable
from .model import Diagnosis

__all__ = ["render_sample_line", "render_table"]

_WIDTH = 88
_SOURCES = {"proc": "/proc/net/tcp{,6}", "ss": "an ss capture", "netstat": "a netstat capture"}


def _connections(diagnosis: Diagnosis) -> list[list[str | int]]:
    c = diagnosis.connections
    rows: list[list[str | int]] = [
        ["CLOSE_WAIT, never accepted (in the accept queue)", c.close_wait_unaccepted],
        ["of those, only the FIN (Recv-Q 1)", c.close_wait_unaccepted_fin_only],
        ["CLOSE_WAIT, held by a process", c.close_wait_owned],
    ]
    if c.close_wait_unknown:
        rows.append(["CLOSE_WAIT, holder unknown", c.close_wait_unknown])
    rows += [
        ["ESTABLISHED, waiting in the accept queue", c.established_unaccepted],
        ["ESTABLISHED, accepted", c.established],
    ]
    if c.established_unknown:
        rows.append(["ESTABLISHED, holder unknown", c.established_unknown])
    rows += [
        ["SYN-RECV", c.syn_recv],
        ["FIN-WAIT-1/2", c.fin_wait],
        ["TIME-WAIT", c.time_wait],
        ["LAST-ACK", c.last_ack],
    ]
    if c.closing:
        rows.append(["CLOSING and other", c.closing])
    if c.close_wait_other:
        rows.append(["CLOSE_WAIT held by Apache on other ports", c.close_wait_other])
    return rows


def _wrapped(text: str, indent: str = "  ") -> list[str]:
    return textwrap.wrap(
        printable(text),
        _WIDTH,
        initial_indent=indent,
        subsequent_indent=indent,
        break_on_hyphens=False,
        break_long_words=False,
    )


def _evidence(diagnosis: Diagnosis) -> list[str]:
    """How the instance was found, the kernel's counters, backend CLOSE_WAIT."""
    lines: list[str] = []
    if diagnosis.instance is not None:
        lines += ["Instance:", *_wrapped(diagnosis.instance.found_by), ""]
    kernel = diagnosis.kernel
    if kernel is not None and kernel.listen_overflows is not None:
        text = (
            f"Kernel ({printable(kernel.counters_source or '?')}, since boot): ListenOverflows "
            f"{kernel.listen_overflows}, ListenDrops {kernel.listen_drops}"
        )
        if kernel.listen_overflows_increase is not None:
            text += (
                f"; during the watch +{kernel.listen_overflows_increase} and "
                f"+{kernel.listen_drops_increase}"
            )
        lines += [text, ""]
    if diagnosis.backends:
        rows = [
            [
                # A capture's host name and a file name are the host's text.
                printable(backend.backend),
                backend.close_wait,
                ", ".join(map(str, backend.pids)),
                printable(f"{backend.file}:{backend.line}") if backend.file else "(no proxy line)",
            ]
            for backend in diagnosis.backends
        ]
        headers = ["backend (CLOSE_WAIT held by Apache)", "count", "pids", "proxy line"]
        lines += [
            tabulate(rows, headers=headers),
            *_more(diagnosis.backends_not_listed, "backends"),
            "",
        ]
    return lines


def _more(count: int, what: str) -> list[str]:
    """The line under a table whose rows stop at the bound (nothing when all are listed)."""
    return [f"... and {count:,} more {what}, not listed"] if count else []


def render_sample_line(diagnosis: Diagnosis) -> str:
    """One ``--watch`` sample in one line (a header line before the first)."""
    sample = diagnosis.sample
    c = diagnosis.connections
    queue = sum(listener.accept_queue for listener in diagnosis.listeners)
    backlogs = [listener.backlog for listener in diagnosis.listeners]
    backlog = "?" if not backlogs or None in backlogs else str(sum(b or 0 for b in backlogs))
    busy = "?" if diagnosis.workers.busy is None else str(diagnosis.workers.busy)
    limit = diagnosis.workers.limit or diagnosis.derived.max_request_workers_effective
    kernel = diagnosis.kernel
    overflow = (
        "?"
        if kernel is None or kernel.listen_overflows_increase is None
        else f"+{kernel.listen_overflows_increase}"
    )
    index = f"{sample.index}/{sample.count}" if sample else "1/1"
    elapsed = f"{sample.elapsed_seconds:.1f}" if sample else "0.0"
    drain = (
        f"{sample.drain_seconds:g}"
        if sample is not None and sample.drain_seconds is not None
        else "-"
    )
    row = (
        f"{index:>7} {elapsed:>7} {c.close_wait_unaccepted:>6} {c.close_wait_unaccepted_fin_only:>6} "
        f"{c.close_wait_owned:>6} {c.close_wait_unknown:>6} {queue:>5}/{backlog:<5} "
        f"{c.syn_recv:>5} {busy:>4}/{limit if limit is not None else '?':<4} {overflow:>9} "
        f"{c.close_wait_other:>7} {drain:>8}"
    )
    if sample is not None and sample.index == 1:
        header = (
            f"{'sample':>7} {'s':>7} {'queued':>6} {'FIN':>6} {'owned':>6} {'unkn.':>6} "
            f"{'queue':>5}/{'max':<5} {'SYN-R':>5} {'busy':>4}/{'max':<4} {'overflow':>9} "
            f"{'backend':>7} {'drain s':>8}"
        )
        return f"{header}\n{row}"
    return row


def render_table(diagnosis: Diagnosis, *, color: bool = False) -> str:
    """Render the diagnosis for a terminal (one section per instance when several)."""
    if diagnosis.instances:
        parts = [
            f"{len(diagnosis.instances)} Apache instances on ports "
            f"{', '.join(map(str, diagnosis.ports))}: one section each.\n"
        ]
        for number, section in enumerate(diagnosis.instances, start=1):
            instance = section.instance
            who = (
                f"httpd {instance.pid} ({', '.join(instance.listeners)})"
                if instance is not None and instance.pid is not None
                else f"ports {', '.join(map(str, section.ports))}"
            )
            parts.append(f"=== {number}. {printable(who)} ===\n")
            parts.append(render_table(section, color=color))
        return for_a_log("\n".join(parts))
    ports = ", ".join(map(str, diagnosis.ports))
    lines = [
        f"Diagnosis of {printable(diagnosis.host)}: ports {ports}, sockets from "
        f"{_SOURCES[diagnosis.socket_source]}",
        "",
    ]
    lines += _evidence(diagnosis)
    if diagnosis.listeners:
        rows = [
            [
                # A capture's text (ss without -n prints host names).
                printable(listener.address),
                listener.accept_queue,
                "?" if listener.backlog is None else listener.backlog,
                printable(listener.backlog_source or "-"),
            ]
            for listener in diagnosis.listeners
        ]
        lines += [
            tabulate(rows, headers=["listener", "accept queue", "backlog", "backlog from"]),
            *_more(diagnosis.listeners_not_listed, "listening sockets"),
            "",
        ]
    lines += [tabulate(_connections(diagnosis), headers=["connections on the ports", "count"]), ""]
    if diagnosis.owners:
        rows = [
            [
                o.pid,
                printable(o.command),
                o.close_wait,
                o.established,
                o.other,
                "yes" if o.listener else "",
            ]
            for o in diagnosis.owners
        ]
        headers = ["pid", "command", "CLOSE_WAIT", "ESTABLISHED", "other", "listener"]
        lines += [
            tabulate(rows, headers=headers),
            *_more(diagnosis.owners_not_listed, "processes"),
            "",
        ]
    workers = diagnosis.workers
    if workers.busy is not None:
        limit = "?" if workers.limit is None else workers.limit
        lines.append(
            f"Workers busy: {workers.busy}/{limit} (from {printable(str(workers.busy_source))})"
        )
    if diagnosis.scoreboard is not None:
        states = ", ".join(f"{name} {n}" for name, n in diagnosis.scoreboard.states.items())
        lines.append(printable(f"Scoreboard ({diagnosis.scoreboard.source}): {states}"))
    if lines[-1]:  # no worker line (count unknown): the blank after the tables suffices
        lines.append("")
    lines.append("Verdict:")
    lines += _wrapped(diagnosis.verdict)
    lines += ["", table.render(diagnosis, color=color)]
    return for_a_log("\n".join(lines))
