"""The terminal view of a ``Diagnosis``: the evidence, the verdict, then the audit report.

Like the report renderers, this only lays out what it is given: it never
sorts, filters or judges. The audit part is rendered by ``report.table``.
"""

from __future__ import annotations

import textwrap

from tabulate import tabulate

from ..report import table
from ..safetext import printable
from .model import Diagnosis

__all__ = ["render_table"]

_WIDTH = 88
_SOURCES = {"proc": "/proc/net/tcp{,6}", "ss": "an ss capture", "netstat": "a netstat capture"}


def _connections(diagnosis: Diagnosis) -> list[list[str | int]]:
    c = diagnosis.connections
    rows: list[list[str | int]] = [
        ["CLOSE_WAIT, never accepted (in the accept queue)", c.close_wait_unaccepted],
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


def render_table(diagnosis: Diagnosis, *, color: bool = False) -> str:
    """Render the diagnosis for a terminal."""
    ports = ", ".join(map(str, diagnosis.ports))
    lines = [
        f"Diagnosis of {printable(diagnosis.host)}: ports {ports}, sockets from "
        f"{_SOURCES[diagnosis.socket_source]}",
        "",
    ]
    if diagnosis.listeners:
        rows = [
            [
                listener.address,
                listener.accept_queue,
                "?" if listener.backlog is None else listener.backlog,
                listener.backlog_source or "-",
            ]
            for listener in diagnosis.listeners
        ]
        lines += [
            tabulate(rows, headers=["listener", "accept queue", "backlog", "backlog from"]),
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
        lines += [tabulate(rows, headers=headers), ""]
    workers = diagnosis.workers
    if workers.busy is not None:
        limit = "?" if workers.limit is None else workers.limit
        lines.append(f"Workers busy: {workers.busy}/{limit} (from {workers.busy_source})")
    if diagnosis.scoreboard is not None:
        states = ", ".join(f"{name} {n}" for name, n in diagnosis.scoreboard.states.items())
        lines.append(f"Scoreboard ({diagnosis.scoreboard.source}): {states}")
    if lines[-1]:  # no worker line (count unknown): the blank after the tables suffices
        lines.append("")
    lines.append("Verdict:")
    lines += textwrap.wrap(
        printable(diagnosis.verdict),
        _WIDTH,
        initial_indent="  ",
        subsequent_indent="  ",
        break_on_hyphens=False,
        break_long_words=False,
    )
    lines += ["", table.render(diagnosis, color=color)]
    return "\n".join(lines)
