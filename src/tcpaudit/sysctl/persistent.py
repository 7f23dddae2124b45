"""Persistent values: which files the boot tool applies, and in which order.

systemd-sysctl (sysctl.d(5)) and procps ``sysctl --system`` (sysctl(8)) read
the directories below, highest priority first. A file name seen in an
earlier directory masks the same name in later ones; a link to /dev/null (or
an empty file) masks it and sets nothing. The surviving files are applied in
byte order of their names (strcmp: ``B.conf`` before ``a.conf``), whatever
directory holds them. Both tools read /lib/sysctl.d too (on merged-/usr
hosts such as Debian 12 it is /usr/lib/sysctl.d).

They differ, as seen with systemd 252 and procps 4.0.2 (tests/sysctl/test_real_tools.py):

- /etc/sysctl.conf: systemd reads it only through a sysctl.d link to it
  (Debian's /etc/sysctl.d/99-sysctl.conf) at that link's place in the order;
  procps applies it after everything else (a second time when a sysctl.d
  link names it too).
- Hidden files (``.local.conf``): systemd skips them, procps applies them.

A directory named ``x.conf`` masks the name in both and sets nothing.

Which assignment wins within the applied files is apply.py's business.

Bounds, far above any real host (a few dozen files of a few kilobytes):
at most MAX_FILES files and MAX_TOTAL_BYTES bytes are read, 1 MiB each, and
at most MAX_ASSIGNMENTS lines are kept; what lies beyond is named in a note.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from ..provenance import Note
from ..rootfs import RootFS
from .model import BootTool
from .text import Assignment, parse_assignments

__all__ = [
    "MAX_ASSIGNMENTS",
    "MAX_FILES",
    "MAX_TOTAL_BYTES",
    "SYSCTL_CONF",
    "SYSCTL_DIRECTORIES",
    "SYSTEMD_SYSCTL_PATHS",
    "ConfigFile",
    "PersistentFiles",
    "detect_boot_tool",
    "list_config_files",
    "name_sorting_after",
    "read_assignments",
]

SYSCTL_DIRECTORIES = (
    "/etc/sysctl.d",
    "/run/sysctl.d",
    "/usr/local/lib/sysctl.d",
    "/usr/lib/sysctl.d",
    "/lib/sysctl.d",
)
SYSCTL_CONF = "/etc/sysctl.conf"
SYSTEMD_SYSCTL_PATHS = ("/usr/lib/systemd/systemd-sysctl", "/lib/systemd/systemd-sysctl")
# A sysctl file is a few kilobytes; stop reading a runaway one here.
MAX_FILE_BYTES = 1024 * 1024
MAX_FILES = 1000
MAX_TOTAL_BYTES = 16 * 1024 * 1024
MAX_ASSIGNMENTS = 100_000
_DEV_NULL = PurePosixPath("/dev/null")
# Linux NAME_MAX: the longest file name, in bytes.
NAME_MAX = 255
# Bytes a generated name may use when it must be short: none needs quoting in
# a shell, none is "/" or starts a hidden name, in byte order.
_NAME_BYTES = b"-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz~"


@dataclass(frozen=True)
class ConfigFile:
    """A file the boot tool applies: as listed, and the real file it reads (None: masked)."""

    listed: str
    real: Path | None


@dataclass
class PersistentFiles:
    """The files in application order and every assignment they hold, in order."""

    files: list[ConfigFile] = field(default_factory=list)
    assignments: list[Assignment] = field(default_factory=list)


def detect_boot_tool(fs: RootFS, notes: list[Note]) -> BootTool:
    """systemd when the root has systemd-sysctl, else procps; says which in a note."""
    for candidate in SYSTEMD_SYSCTL_PATHS:
        real = fs.resolve(candidate)
        if real.is_file():
            notes.append(
                Note(
                    message="persistent values follow systemd-sysctl's order "
                    f"({fs.display(real)} exists)"
                )
            )
            return "systemd"
    notes.append(
        Note(
            message="persistent values follow procps `sysctl --system` order "
            "(no systemd-sysctl under the root); /etc/sysctl.conf is applied last"
        )
    )
    return "procps"


def _takes_part(name: str, boot: BootTool) -> bool:
    if not name.endswith(".conf"):
        return False
    # procps takes any name of at least five characters ending in ".conf";
    # systemd skips hidden names. Both take a directory of that name, which
    # masks the name and fails to read (checked with both tools).
    return boot == "procps" or not name.startswith(".")


def list_config_files(fs: RootFS, boot: BootTool) -> list[ConfigFile]:
    """The files ``boot`` applies, in its order, masks resolved."""
    return [_resolved(fs, listed) for listed in _listed_files(fs, boot)]


def _listed_files(fs: RootFS, boot: BootTool) -> list[str]:
    """The paths ``boot`` applies, in its order, before any link is resolved:
    a name is chosen, and its place known, from the directory listings alone."""
    chosen: dict[str, str] = {}
    for directory in SYSCTL_DIRECTORIES:
        real_dir = fs.resolve(directory)
        try:
            with fs.open_real_directory(real_dir) as descriptor, os.scandir(descriptor) as scan:
                names = [entry.name for entry in scan]
        except OSError:
            continue
        for name in names:
            if name not in chosen and _takes_part(name, boot):
                chosen[name] = f"{directory}/{name}"
    ordered = [chosen[name] for name in sorted(chosen, key=os.fsencode)]
    if boot == "procps":
        conf = fs.resolve(SYSCTL_CONF)
        # procps stat()s /etc/sysctl.conf and applies it when it is a regular file.
        try:
            if stat.S_ISREG(os.stat(conf, follow_symlinks=False).st_mode):
                ordered.append(SYSCTL_CONF)
        except OSError:
            pass
    return ordered


def _resolved(fs: RootFS, listed: str) -> ConfigFile:
    try:
        real = fs.resolve(listed)
    except OSError:  # a link loop: the boot tool cannot read it either
        real = fs.root / listed.lstrip("/")
    if listed == SYSCTL_CONF:
        return ConfigFile(listed=listed, real=real)
    return ConfigFile(listed=listed, real=None if fs.tree_path(real) == _DEV_NULL else real)


def name_sorting_after(name: str, preferred: str, tag: str) -> str:
    """A ``.conf`` file name both boot tools apply after ``name``.

    Both order the files of the sysctl.d directories by the bytes of their
    names (strcmp), so the result sorts after ``name`` byte by byte:
    ``preferred`` when it already does, else ``name``'s stem with
    ``.<tag>.conf``: ``zz.conf`` gives ``zz.<tag>.conf``, which sorts after
    it because the two agree up to the dot and ``tag`` starts after "c"
    (``zz-<tag>.conf`` would not: "-" sorts before "."). A name too long
    for that, or not UTF-8, gets a short one that differs from it at the
    first byte that can be raised.

    Args:
        name: the name of the file that sets the key now (no directory).
        preferred: the name to use when it sorts after ``name``.
        tag: a word starting after "c" ("tcpaudit"), put into a derived name.
    """
    current = os.fsencode(name)
    if os.fsencode(preferred) > current:
        return preferred
    derived = f"{name.removesuffix('.conf')}.{tag}.conf"
    # A name that is not UTF-8 cannot travel in a playbook (YAML is text), and
    # one holding a control character (a newline) would split the text to
    # paste: such a name gets the short one too, whose raised byte is ASCII
    # and comes before any control character.
    if _is_utf8(current) and name.isprintable() and len(os.fsencode(derived)) <= NAME_MAX:
        return derived
    suffix = b".conf"
    for index in range(min(len(current), NAME_MAX - len(suffix) - 1)):
        higher = [byte for byte in _NAME_BYTES if byte > current[index]]
        if higher:
            # Equal up to ``index``, greater there: sorts after, whatever follows.
            return os.fsdecode(current[:index] + bytes([higher[0]]) + suffix)
    return derived  # no shorter name sorts after ``name``; the write will say so


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def read_assignments(fs: RootFS, boot: BootTool, notes: list[Note]) -> PersistentFiles:
    """Read every file ``boot`` applies; unreadable files become notes."""
    # Links are resolved for the files read only: 100,000 names each the head
    # of a 40-link chain took 52 s when every one was resolved.
    listed_files = _listed_files(fs, boot)
    result = PersistentFiles()
    total_bytes = 0
    for index, listed_file in enumerate(listed_files):
        if index >= MAX_FILES or total_bytes > MAX_TOTAL_BYTES:
            notes.append(
                Note(
                    message=f"{len(listed_files) - index} more sysctl files not read: tcpaudit "
                    f"reads at most {MAX_FILES} files and {MAX_TOTAL_BYTES // (1024 * 1024)} MiB",
                )
            )
            break
        config = _resolved(fs, listed_file)
        result.files.append(config)
        if config.real is None:
            notes.append(
                Note(
                    message="links to /dev/null: masks every file of this name and sets nothing",
                    file=config.listed if fs.is_host else config.listed.lstrip("/"),
                )
            )
            continue
        shown = fs.display(config.real)
        try:
            data = fs.read_real(config.real, MAX_FILE_BYTES)
        except OSError as exc:
            notes.append(
                Note(
                    message=f"cannot read {config.listed}: {exc.strerror or exc}; the "
                    "values it sets (the boot tool, run as root, may read it) are unknown",
                    file=shown,
                )
            )
            continue
        total_bytes += len(data)
        text = data.decode("utf-8", errors="replace")
        listed = config.listed if fs.is_host else config.listed.lstrip("/")
        # A link's own name is the file's place in the order (drop-in names sort after it).
        via = listed if PurePosixPath(listed).name != config.real.name else None
        room = MAX_ASSIGNMENTS - len(result.assignments)
        found = parse_assignments(text, shown, notes, via=via, limit=room, boot=boot)
        result.assignments.extend(found[:room])
        if len(found) > room:
            notes.append(
                Note(
                    message=f"this file and the files after it are not read past the first "
                    f"{MAX_ASSIGNMENTS} assignments of all sysctl files",
                    file=shown,
                )
            )
            break
    return result
