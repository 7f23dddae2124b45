"""Which process holds which socket: ``/proc/<pid>/fd/*`` links to ``socket:[inode]``.

This module owns the inode -> process map. It only reads: it lists fd
directories and reads links and ``comm``; it never opens a socket, signals or
attaches to a process. Under ``--root`` (a copied /proc) nothing is followed
if it is a symlink: ``<pid>``, ``fd`` and ``comm`` are opened one directory at
a time without following links, and ``comm`` only if it is a regular file,
so a planted link or FIFO can neither lead the scan outside the root nor
block it. A process name is any 15 bytes its owner chose: control
characters in it are shown escaped, never passed to the terminal.

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

from ..inputs import open_subdirectory, read_entry
from ..numbers import ascii_int
from ..rootfs import RootFS
from .sockets import ProcessRef

__all__ = ["MAX_DESCRIPTORS_READ", "MAX_PROCESSES_SCANNED", "OwnerMap", "scan_owners"]

log = logging.getLogger(__name__)

_SOCKET_PREFIX = "socket:["
# TASK_COMM_LEN is 16; a longer comm is not the kernel's.
_COMM_BYTES = 64


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
    stopped: bool = False  # a bound ended the scan: later processes' sockets have no holder


# The scan reads every process's fd table: 1,000,000 processes of one fd each
# took 30 s, 200,000 of five fds 11 s (beside 1,000,000 sockets read, 30 s on
# a loaded machine). It stops at these, and says so. Every entry named like a
# process counts, whether or not its fd table opens (2,000,000 empty ones took
# 42 s), and every name in an fd directory, link or not; /proc itself is
# listed up to MAX_ENTRIES_LISTED names (a host holds a few hundred besides
# its processes).
MAX_PROCESSES_SCANNED = 100_000
MAX_DESCRIPTORS_READ = 500_000
MAX_ENTRIES_LISTED = 1_000_000


def _command(process: int) -> str:
    """The process name in ``comm``, control characters escaped, or "?"."""
    try:
        data = read_entry(process, "comm", _COMM_BYTES)
    except OSError:
        return "?"
    name = data.decode("utf-8", errors="backslashreplace").strip()
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in name) or "?"


def _socket_inode(link: str) -> int | None:
    if not (link.startswith(_SOCKET_PREFIX) and link.endswith("]")):
        return None
    return ascii_int(link[len(_SOCKET_PREFIX) : -1])


def scan_owners(fs: RootFS) -> OwnerMap:
    """Map every socket inode under ``<root>/proc`` to the processes holding it.

    Processes that exit during the scan are skipped silently (a live /proc
    changes under the reader); processes whose fd table is not readable are
    counted in ``denied``.
    """
    try:
        proc = fs.resolve("/proc")
        with fs.open_real_directory(proc) as directory:
            return _scan(directory)
    except OSError:
        log.info(
            "no process table under %s: sockets cannot be attributed", fs.display_tree("/proc")
        )
        return OwnerMap()


def _scan(proc: int) -> OwnerMap:
    holders: dict[int, list[ProcessRef]] = {}
    scanned = denied = descriptors = visited = 0
    names, stopped = _process_names(proc)
    for entry in names:
        if visited >= MAX_PROCESSES_SCANNED or descriptors >= MAX_DESCRIPTORS_READ:
            stopped = True
            break
        visited += 1
        pid = int(entry)
        try:
            process = open_subdirectory(proc, entry)
        except OSError:
            continue  # gone, or not a directory (a link planted in a copy)
        try:
            links, listed = _fd_links(process, MAX_DESCRIPTORS_READ - descriptors)
            descriptors += listed
            scanned += 1
            reference: ProcessRef | None = None
            # Each socket once per process (several fds may hold it): a set,
            # not a search of the holders, which thousands of processes
            # sharing a listener made quadratic (30,000: two minutes).
            held: set[int] = set()
            for link in links:
                inode = _socket_inode(link)
                if inode is None or inode in held:
                    continue
                held.add(inode)
                if reference is None:
                    reference = ProcessRef(pid=pid, command=_command(process))
                holders.setdefault(inode, []).append(reference)
        except PermissionError:
            denied += 1
        except OSError:
            continue  # gone (FileNotFoundError) or a kernel thread: nothing to attribute
        finally:
            os.close(process)
    # The last process read may have been cut at the descriptors' bound.
    stopped = stopped or descriptors >= MAX_DESCRIPTORS_READ
    log.debug("fd tables read: %d, not permitted: %d", scanned, denied)
    return OwnerMap(
        by_inode={inode: tuple(refs) for inode, refs in holders.items()},
        scanned=scanned,
        denied=denied,
        stopped=stopped,
    )


def _process_names(proc: int) -> tuple[list[str], bool]:
    """The names in /proc that name a process, in pid order, and whether the
    listing stopped at MAX_ENTRIES_LISTED."""
    names: list[str] = []
    listed = 0
    with os.scandir(proc) as entries:
        for entry in entries:
            listed += 1
            if listed > MAX_ENTRIES_LISTED:
                return sorted(names, key=lambda name: (len(name), name)), True
            pid = ascii_int(entry.name)
            # Not a process ('²' is a digit to str.isdigit, not to int), or a
            # name the kernel never gives one ("0042" would be read as 42).
            if pid is not None and str(pid) == entry.name:
                names.append(entry.name)
    return sorted(names, key=lambda name: (len(name), name)), False


def _fd_links(process: int, most: int) -> tuple[list[str], int]:
    """The targets of the links in ``<pid>/fd`` and how many names were read
    there, ``most`` at most (readlink reads a link, never follows it)."""
    fd_directory = open_subdirectory(process, "fd")
    try:
        links: list[str] = []
        listed = 0
        # scandir stops where the loop does (a listing of millions of names
        # would be read whole first).
        with os.scandir(fd_directory) as entries:
            for entry in entries:
                if listed >= most:
                    break
                listed += 1
                try:
                    links.append(os.readlink(entry.name, dir_fd=fd_directory))
                except OSError:
                    continue
        return links, listed
    finally:
        os.close(fd_directory)
