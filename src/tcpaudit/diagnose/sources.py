"""Where the sockets (and the scoreboard) come from: ``/proc``, a capture, mod_status.

This module owns reading each source and the notes about what it cannot
show; ``classify`` reads the records, whatever their source.
"""

from __future__ import annotations

import os

from ..errors import ParseError, UsageError
from ..inputs import read_bytes
from ..provenance import Note
from ..rootfs import RootFS
from .model import SocketSource
from .owners import MAX_DESCRIPTORS_READ, MAX_PROCESSES_SCANNED, scan_owners
from .sockets import SocketRecord, read_proc_sockets
from .ss import capture_notes, parse_netstat, parse_ss
from .status import Scoreboard, StatusUnavailable, fetch_status, parse_status

__all__ = ["read_scoreboard", "read_sockets"]


def _read_capture(path: str | os.PathLike[str]) -> tuple[str, str]:
    """A capture the user named: a regular file (never a FIFO or device), 64 MiB at most."""
    shown = os.fspath(path)
    try:
        return read_bytes(path).decode("utf-8", errors="replace"), shown
    except OSError as exc:
        raise ParseError(f"cannot read: {exc.strerror or exc}", file=shown) from exc


def read_sockets(
    fs: RootFS,
    ss: str | os.PathLike[str] | None,
    netstat: str | os.PathLike[str] | None,
    notes: list[Note],
) -> tuple[list[SocketRecord], SocketSource]:
    if ss is not None and netstat is not None:
        raise UsageError("give either --ss or --netstat, not both")
    if ss is not None:
        text, shown = _read_capture(ss)
        records = parse_ss(text, shown)
        notes.extend(capture_notes(records, text, shown, "ss"))
        if records and all(r.held is None for r in records):
            notes.append(
                Note(
                    message="the ss capture has neither inodes (-e) nor processes (-p): "
                    "queued and held CLOSE_WAIT cannot be told apart",
                    file=shown,
                )
            )
        return records, "ss"
    if netstat is not None:
        text, shown = _read_capture(netstat)
        notes.append(
            Note(
                message="netstat shows '-' both for never-accepted sockets and for sockets of "
                "processes it may not inspect: '-' counts as never accepted only on a port whose "
                "listening socket shows its process (proof that the capture could see Apache's), "
                "else as holder unknown",
                file=shown,
            )
        )
        records = parse_netstat(text, shown)
        notes.extend(capture_notes(records, text, shown, "netstat"))
        return records, "netstat"
    owner_map = scan_owners(fs)
    records = read_proc_sockets(fs, owner_map.by_inode)
    if owner_map.denied:
        notes.append(
            Note(
                message=f"the fd tables of {owner_map.denied} processes were not readable: "
                "run as root to attribute sockets of other users' processes (which sockets "
                "were never accepted is known regardless)"
            )
        )
    if owner_map.stopped:
        notes.append(
            Note(
                message=f"the holders of sockets were looked for in the fd tables of "
                f"{owner_map.scanned:,} processes only (at most {MAX_PROCESSES_SCANNED:,} "
                f"process entries and {MAX_DESCRIPTORS_READ:,} descriptors are read): a "
                "socket held only by a later process counts as held by none"
            )
        )
    return records, "proc"


def read_scoreboard(
    status_url: str | None, scoreboard: str | os.PathLike[str] | None, notes: list[Note]
) -> Scoreboard | None:
    if status_url is not None and scoreboard is not None:
        raise UsageError("give either --status-url or --scoreboard, not both")
    if scoreboard is not None:
        text, shown = _read_capture(scoreboard)
        return parse_status(text, shown)
    if status_url is None:
        return None
    try:
        return fetch_status(status_url)
    except StatusUnavailable as exc:
        notes.append(
            Note(
                message=f"mod_status not available: {exc.reason} (a drained server cannot "
                "answer it either: the request waits in the same accept queue)"
            )
        )
        return None
