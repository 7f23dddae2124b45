"""Live values from a /proc/sys tree (the host's, or a copy under --root).

Reads the plain files directly in net/ipv4 and net/core: the keys tcpaudit
audits. Sub-directories (conf/, neigh/, route/) hold per-interface keys; of
those only the names are listed (the interfaces, for glob lines such as
``net.ipv4.conf.*.rp_filter``), and only the values a persistent file names
are read (``read_keys``), so hosts with many links cost little.

Nothing below /proc/sys is followed if it is a symlink, and nothing that is
not a regular file is opened: the kernel's tree has neither, so a copy that
does was made to lead the reader elsewhere (a ``net -> /etc`` link would
turn /etc/passwd into a key). Each such entry is skipped with a note.

A tracked key (defaults.TRACKED_KEYS) whose file exists but gives no value
(not world-readable, a read error, a value the kernel cannot hold) is
reported as unknown, never silently replaced by its persistent or default
value: the kernel holds something, and tcpaudit does not know what.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from ..apache.known_tokens import shown_prefix
from ..inputs import open_directory, open_subdirectory, read_entry
from ..provenance import Note
from ..rootfs import RootFS
from .defaults import TRACKED_KEYS
from .limits import live_value_problem
from .model import SysctlSource
from .values import is_secret_key, key_to_path, parse_value

__all__ = [
    "MAX_INTERFACES",
    "MAX_VALUE_BYTES",
    "PROC_DIRECTORIES",
    "Interfaces",
    "has_directory",
    "read_interfaces",
    "read_keys",
    "read_osrelease",
    "read_proc_tree",
]

PROC_DIRECTORIES = ("net/ipv4", "net/core")
# The longest value in net/ipv4 (tcp_available_congestion_control, a few
# names) is far below this.
MAX_VALUE_BYTES = 4096
# Interfaces listed under conf/ and neigh/; a host with more is a router, not a web server.
MAX_INTERFACES = 4096
# Files listed per interface directory (conf/all has 35 on Linux 6.18).
_MAX_NAMES = 512
# __NEW_UTS_LEN: the kernel's release string is at most 64 characters.
MAX_RELEASE_CHARACTERS = 64
_TRACKED = frozenset(TRACKED_KEYS)


@dataclass
class Interfaces:
    """Interface directories under net/ipv4/conf and net/ipv4/neigh, with their file names."""

    conf: dict[str, frozenset[str]] = field(default_factory=dict)
    neigh: dict[str, frozenset[str]] = field(default_factory=dict)


@contextmanager
def _opened(fs: RootFS, directory: Path, parts: list[str]) -> Iterator[int]:
    """``directory`` (under the root, or a tree the user named), then ``parts`` not followed."""
    if fs.contains(directory):
        with fs.open_real_directory(directory) as base, _descend(base, parts) as inner:
            yield inner
    else:
        base = open_directory(directory)
        try:
            with _descend(base, parts) as inner:
                yield inner
        finally:
            os.close(base)


@contextmanager
def _descend(base: int, parts: list[str]) -> Iterator[int]:
    """``parts`` below an open directory, none of them followed if it is a symlink."""
    opened: list[int] = []
    try:
        current = base
        for part in parts:
            current = open_subdirectory(current, part)
            opened.append(current)
        yield current
    finally:
        for descriptor in opened:
            os.close(descriptor)


def has_directory(fs: RootFS, directory: Path, name: str) -> bool:
    """True when ``directory/name`` is a directory, itself no symlink."""
    try:
        with _opened(fs, directory, [name]):
            return True
    except OSError:
        return False


def _skipped_link(fs: RootFS, path: Path, notes: list[Note]) -> None:
    notes.append(
        Note(
            message="skipped: a symbolic link or not a directory where /proc/sys has a "
            "directory; nothing below it is read",
            file=fs.display(path),
        )
    )


def read_proc_tree(
    fs: RootFS,
    proc_sys: Path,
    notes: list[Note],
    existing: set[str] | None = None,
    unknown: dict[str, str] | None = None,
) -> dict[str, SysctlSource]:
    """Read every world-readable key file under ``proc_sys``'s net/ipv4 and net/core.

    A file that is not world-readable is skipped unopened: such keys hold
    secrets (tcp_fastopen_key is 0600). Secret keys (values.is_secret_key)
    are skipped even when a copied tree made them readable. A file that
    cannot be read is skipped with a note.

    Args:
        fs: the audited root, to name files in provenance.
        proc_sys: the directory laid out like /proc/sys (resolved inside
            ``fs``, or a directory the user named).
        notes: receives a note for each file that cannot be read, and for
            each tracked key whose file gives no value.
        existing: when given, receives the name of every key file found,
            read or not (root-only keys such as net.core.bpf_jit_harden
            exist even though their values are not read).
        unknown: when given, receives each tracked key whose file exists but
            gives no value, with the reason.
    """
    values: dict[str, SysctlSource] = {}
    for directory in PROC_DIRECTORIES:
        try:
            with _opened(fs, proc_sys, directory.split("/")) as descriptor:
                _read_directory(
                    fs, proc_sys / directory, descriptor, values, notes, existing, unknown
                )
        except FileNotFoundError:
            continue
        except OSError:
            _skipped_link(fs, proc_sys / directory, notes)
    return values


def _read_directory(
    fs: RootFS,
    path: Path,
    descriptor: int,
    values: dict[str, SysctlSource],
    notes: list[Note],
    existing: set[str] | None,
    unknown: dict[str, str] | None,
) -> None:
    prefix = f"{path.parent.name}.{path.name}"  # net.ipv4, net.core
    with os.scandir(descriptor) as scan:
        entries = sorted(scan, key=lambda entry: entry.name)
    for entry in entries:
        key = f"{prefix}.{entry.name}"
        try:
            mode = entry.stat(follow_symlinks=False).st_mode
        except OSError:
            continue
        if stat.S_ISDIR(mode):
            continue  # conf/, neigh/, route/: per-interface keys, read on demand
        if existing is not None:
            existing.add(key)
        if is_secret_key(key):
            continue
        tracked = key in _TRACKED
        shown = fs.display(path / entry.name)
        if not stat.S_ISREG(mode):
            # A link, FIFO or device: the kernel's tree holds none; never opened.
            message = "a symbolic link, FIFO or device where /proc/sys has a file: not read"
            if tracked:
                _unknown(key, message, shown, notes, unknown)
            else:
                notes.append(Note(message=f"skipped: {message}", file=shown))
            continue
        if not mode & stat.S_IROTH:
            # Never opened, even for a tracked key: the rule that keeps
            # secrets safe must not depend on knowing every secret's name.
            if tracked:
                _unknown(key, "not world-readable, so not read", shown, notes, unknown)
            continue
        source = _read_value(descriptor, entry.name, key, shown, tracked, notes, unknown)
        if source is not None:
            values[key] = source


def _read_value(
    descriptor: int,
    name: str,
    key: str,
    shown: str,
    tracked: bool,
    notes: list[Note],
    unknown: dict[str, str] | None,
) -> SysctlSource | None:
    try:
        data = read_entry(descriptor, name, MAX_VALUE_BYTES)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        if tracked:
            _unknown(key, f"cannot read it: {reason}", shown, notes, unknown)
        else:
            notes.append(Note(message=f"skipped: cannot read live value: {reason}", file=shown))
        return None
    text = data.decode("utf-8", errors="replace")
    problem = live_value_problem(key, text) if tracked else None
    if problem is not None:
        _unknown(
            key, f"it holds {shown_prefix(text.strip(), 40)!r} ({problem})", shown, notes, unknown
        )
        return None
    return SysctlSource.model_construct(value=parse_value(text), file=shown, line=None, glob=None)


def read_interfaces(fs: RootFS, proc_sys: Path) -> Interfaces:
    """The interface directories of net/ipv4/conf and net/ipv4/neigh, and the files of each.

    Symlinks and other non-directories are left out; at most MAX_INTERFACES
    interfaces per branch.
    """
    found = Interfaces()
    for branch, target in (("conf", found.conf), ("neigh", found.neigh)):
        try:
            with _opened(fs, proc_sys, ["net", "ipv4", branch]) as descriptor:
                names = _subdirectories(descriptor)
                for name in names[:MAX_INTERFACES]:
                    try:
                        with _descend(descriptor, [name]) as inner:
                            target[name] = frozenset(_file_names(inner))
                    except OSError:
                        continue
        except OSError:
            continue
    return found


def _subdirectories(descriptor: int) -> list[str]:
    with os.scandir(descriptor) as scan:
        return sorted(e.name for e in scan if e.is_dir(follow_symlinks=False))


def _file_names(descriptor: int) -> list[str]:
    with os.scandir(descriptor) as scan:
        names = [e.name for e in scan if e.is_file(follow_symlinks=False)]
    return names[:_MAX_NAMES]


def read_keys(
    fs: RootFS, proc_sys: Path, keys: list[str], notes: list[Note]
) -> dict[str, SysctlSource]:
    """Live values of per-interface keys (``net.ipv4.conf.all.rp_filter``) that exist.

    The same rules as ``read_proc_tree``: no link followed, regular
    world-readable files only, secrets never opened.
    """
    values: dict[str, SysctlSource] = {}
    for key in keys:
        if is_secret_key(key) or "\x00" in key:
            continue  # a NUL names no file (os calls refuse it with ValueError)
        *parents, name = key_to_path(key).split("/")
        try:
            with _opened(fs, proc_sys, parents) as descriptor:
                info = os.stat(name, dir_fd=descriptor, follow_symlinks=False)
                if not stat.S_ISREG(info.st_mode) or not info.st_mode & stat.S_IROTH:
                    continue
                shown = fs.display(proc_sys.joinpath(*parents, name))
                source = _read_value(descriptor, name, key, shown, False, notes, None)
        except OSError:
            continue
        if source is not None:
            values[key] = source
    return values


def read_osrelease(fs: RootFS, proc_sys: Path, notes: list[Note]) -> str | None:
    """The kernel release in ``kernel/osrelease``, or None.

    Read like every live value (no link, regular file, 4 KiB at most); text
    that no kernel prints (control characters, more than 64 characters, not
    one line) is left out with a note rather than quoted in every report.
    """
    try:
        with _opened(fs, proc_sys, ["kernel"]) as descriptor:
            data = read_entry(descriptor, "osrelease", MAX_VALUE_BYTES)
    except FileNotFoundError:
        return None
    except OSError as exc:
        notes.append(
            Note(
                message=f"kernel release not read: {exc.strerror or exc}",
                file=fs.display(proc_sys / "kernel" / "osrelease"),
            )
        )
        return None
    release = data.decode("utf-8", errors="replace").strip()
    if not release:
        return None
    if (
        len(release) > MAX_RELEASE_CHARACTERS
        or not release.isprintable()
        or not release.isascii()
        or " " in release
    ):
        notes.append(
            Note(
                message="kernel release ignored: the file holds text no kernel prints "
                "(one word of at most 64 printable characters)",
                file=fs.display(proc_sys / "kernel" / "osrelease"),
            )
        )
        return None
    return release


def _unknown(
    key: str, why: str, shown: str, notes: list[Note], unknown: dict[str, str] | None
) -> None:
    notes.append(
        Note(
            message=f"live value of {key} unknown: {why}; it is not taken to be "
            "the persistent or default value",
            file=shown,
        )
    )
    if unknown is not None:
        unknown[key] = f"{why} ({shown})"
