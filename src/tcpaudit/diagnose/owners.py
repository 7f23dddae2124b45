"""Which process holds which socket: ``/proc/<pid>/fd/*`` links to ``socket:[inode]``.

This module owns the inode -> process map. It only reads: it lists fd
directories and reads links and ``comm``; it never opens a socket, signals or
attaches to a process.

Permissions: ``/proc/<pid>/fd`` of another user's process is readable only by
root (or with CAP_SYS_PTRACE), and ``hidepid`` mounts hide such processes
entirely. Apache workers usually run as ``www-data``/``apache``, so an
unprivileged run cannot attribute their sockets; such processes are counted
(``OwnerMap.denied``), not guessed. Which sockets are unaccepted does not
depend on this: that comes from inode 0 in the socket table.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field

from ..rootfs import RootFS
from .sockets import ProcessRef

__all__ = ["OwnerMap", "scan_owners"]

log = logging.getLogger(__name__)

_SOCKET_PREFIX = "socket:["


@dataclass(frozen=True)
class OwnerMap:
    """Socket inodes mapped to the processes holding them.

    Attributes:
        by_inode: inode -> processes with an fd on that socket (several for
            an inherited listening socket: httpd's parent and every child).
        scanned: processes whose fd table was read.
        denied: processes whose fd table could not be read (not permitted).
    """

    by_inode: dict[int, tuple[ProcessRef, ...]] = field(default_factory=dict)
    scanned: int = 0
    denied: int = 0


def _command(process_dir: str) -> str:
    try:
        with open(os.path.join(process_dir, "comm"), encoding="utf-8", errors="replace") as f:
            return f.read().strip() or "?"
    except OSError:
        return "?"


def _socket_inode(link: str) -> int | None:
    if not (link.startswith(_SOCKET_PREFIX) and link.endswith("]")):
        return None
    try:
        return int(link[len(_SOCKET_PREFIX) : -1])
    except ValueError:
        return None


def scan_owners(fs: RootFS) -> OwnerMap:
    """Map every socket inode under ``<root>/proc`` to the processes holding it.

    Processes that exit during the scan are skipped silently (a live /proc
    changes under the reader); processes whose fd table is not readable are
    counted in ``denied``.
    """
    proc = str(fs.resolve("/proc"))
    try:
        entries = os.listdir(proc)
    except OSError:
        log.info("no process table under %s: sockets cannot be attributed", proc)
        return OwnerMap()
    holders: dict[int, list[ProcessRef]] = {}
    scanned = denied = 0
    for entry in sorted(entries, key=lambda name: (len(name), name)):
        if not entry.isdigit():
            continue
        process_dir = os.path.join(proc, entry)
        fd_dir = os.path.join(process_dir, "fd")
        try:
            fds = os.listdir(fd_dir)
        except PermissionError:
            denied += 1
            continue
        except OSError:
            # Gone (FileNotFoundError) or a kernel thread: nothing to attribute.
            continue
        scanned += 1
        process: ProcessRef | None = None
        for fd in fds:
            try:
                link = os.readlink(os.path.join(fd_dir, fd))
            except OSError:
                continue
            inode = _socket_inode(link)
            if inode is None:
                continue
            if process is None:
                process = ProcessRef(pid=int(entry), command=_command(process_dir))
            owners = holders.setdefault(inode, [])
            if process not in owners:
                owners.append(process)
    log.debug("fd tables read: %d, not permitted: %d", scanned, denied)
    return OwnerMap(
        by_inode={inode: tuple(refs) for inode, refs in holders.items()},
        scanned=scanned,
        denied=denied,
    )
