"""Expand ``Include``/``IncludeOptional`` arguments into files, in httpd's order.

Owns the file-system walk of httpd 2.4's ``ap_process_fnmatch_configs``
(server/config.c) and ``ap_dir_nofnmatch``/``ap_dir_fnmatch`` (server/util.c);
it reads no file contents (``evaluator.py`` does). The rules, from that source:

- a path is a wildcard only if ``apr_fnmatch_test`` says so: it holds ``*`` or
  ``?``, or a ``[`` with a later ``]``;
- a directory is read entirely, recursively, every entry but ``.`` and ``..``
  (hidden files too), sorted by ``strcmp`` of the full path (byte order);
- a wildcard component matches as ``apr_fnmatch`` with ``APR_FNM_PERIOD``
  matches (``wildcards.py``); a wildcard that is not the last component
  keeps only entries that are directories themselves (``d_type``: a symlink to
  a directory is not followed there);
- ``Include`` fails when a wildcard matches nothing or a directory cannot be
  opened; ``IncludeOptional`` skips both and skips names that do not exist;
- more than 128 nested directories is an error (AP_MAX_FNMATCH_DIR_DEPTH);
- a path that ends in ``/`` (``conf.d/x/``, ``conf.d/*.conf/``) names
  directories only: a wildcard before it keeps directories (``d_type``), and
  a file or a link to one so named cannot be opened ("Not a directory");
- a name that cannot be stat'ed (missing, a link loop, a path of 4,096 bytes
  or more) is skipped by ``IncludeOptional``; ``Include`` opens it and fails.
  A directory that cannot be opened fails both, unless it is missing.

Paths are walked below the root one directory at a time when the root's path
and the tree path together are too long for the kernel (``rootfs.py``): only
the tree path's own length, the one httpd sees, counts.

Files are named as httpd names them: the path as built from the pattern, not
the target of a symlink (``mods-enabled/alias.load``, as ``-D DUMP_INCLUDES``
prints).
"""

from __future__ import annotations

import errno
import os
import re
import stat
from pathlib import Path

from ..rootfs import RootFS
from .wildcards import wildcard_matches

__all__ = [
    "MAX_DIRECTORIES_READ",
    "MAX_DIRECTORY_DEPTH",
    "MAX_DIRECTORY_ENTRIES",
    "MAX_NAMES_MATCHED",
    "MAX_WILDCARD_BYTES",
    "DirectoryBudget",
    "IncludeError",
    "expand_include",
    "has_wildcard",
]

MAX_DIRECTORY_DEPTH = 128  # AP_MAX_FNMATCH_DIR_DEPTH, server/util.c
# The kernel refuses a path name of PATH_MAX bytes or more, its NUL included
# (ENAMETOOLONG): what httpd builds from a wildcard or a directory's entries
# may pass it.
PATH_MAX = 4096
# Directories each holding two links to the next never loop, so httpd's loop
# and depth checks pass, yet the last one is read 2**levels times (2**40 at
# the kernel's 40 links a path). tcpaudit stops a load after this many
# directory reads; real trees read tens, a directory per vhost 50,000.
MAX_DIRECTORIES_READ = 100_000
# Matching costs what the patterns and names cost (a bracket range is a set
# built, each run a regular expression compiled): a load compiles at most
# this much distinct wildcard text (real trees: tens of bytes a line) and
# matches at most this many entries (a conf.d of 50,000 sites: 50,000), an
# entry counting once more per 16 bytes of its wildcard (163 '?' between two
# stars cost 45 us a name; 2,000,000 plain entries with listing took 18 s).
MAX_WILDCARD_BYTES = 1024 * 1024
MAX_NAMES_MATCHED = 1_000_000
WILDCARD_BYTES_PER_ENTRY = 16
# A directory's names are held and sorted (as httpd sorts them): 1.6 million
# of 247 bytes took 1 GB. Real conf.d and sites directories hold thousands.
MAX_DIRECTORY_ENTRIES = 500_000


class IncludeError(Exception):
    """An include httpd refuses; the message is httpd's."""


_WILDCARD_CHARACTER = re.compile(r"[*?\[]")


def has_wildcard(pattern: str) -> bool:
    """``apr_fnmatch_test``: ``*``/``?`` anywhere, or ``[`` with a later ``]``."""
    if _WILDCARD_CHARACTER.search(pattern) is None:
        return False  # most words: one search in C instead of a loop per character
    nesting = 0
    index = 0
    length = len(pattern)
    while index < length:
        char = pattern[index]
        if char in "?*":
            return True
        if char == "\\":
            index += 1
            if index >= length:
                return False
        elif char == "[":
            nesting += 1
        elif char == "]" and nesting:
            return True
        index += 1
    return False


def _too_long(tree: str) -> bool:
    """Whether httpd's path is too long for the kernel (ENAMETOOLONG): the
    tree path is the path httpd builds on the host, whatever the root."""
    return len(tree) >= PATH_MAX // 4 and len(tree.encode("utf-8", "surrogateescape")) >= PATH_MAX


def _sorted_names(fs: RootFS, real_dir: Path, tree: str) -> list[str]:
    return [name for name, _ in _sorted_entries(fs, real_dir, tree)]


def _sorted_entries(fs: RootFS, real_dir: Path, tree: str) -> list[tuple[str, int | None]]:
    """A directory's names in httpd's order, each with its type as the
    directory gave it (d_type: S_IFDIR, S_IFREG, S_IFLNK), None for another
    type or one the directory did not give (lstat it)."""
    entries: list[tuple[str, int | None]] = []
    with fs.scandir_real(real_dir) as listing:
        for entry in listing:
            entries.append((entry.name, _entry_type(entry)))
            if len(entries) > MAX_DIRECTORY_ENTRIES:
                raise IncludeError(
                    f"Include/IncludeOptional: more than {MAX_DIRECTORY_ENTRIES} entries in "
                    f"directory '{tree}'"
                )
    # fname_alphasort is strcmp: byte order of the (UTF-8) names.
    entries.sort(key=lambda entry: entry[0].encode("utf-8", "surrogateescape"))
    return entries


def _entry_type(entry: os.DirEntry[str]) -> int | None:
    # With d_type these make no system call; without it (DT_UNKNOWN) they
    # would lstat a path that may be too long for the kernel: the caller's
    # lstat_real does.
    try:
        if entry.is_symlink():
            return stat.S_IFLNK
        if entry.is_dir(follow_symlinks=False):
            return stat.S_IFDIR
        if entry.is_file(follow_symlinks=False):
            return stat.S_IFREG
    except OSError:
        pass
    return None


class DirectoryBudget:
    """The directory reads one configuration load may still make."""

    __slots__ = (
        "limit", "missing", "names_left", "pattern_bytes_left", "patterns", "read_whole",
        "remaining", "scanned",
    )  # fmt: skip

    def __init__(self, limit: int = MAX_DIRECTORIES_READ) -> None:
        self.limit = limit
        self.remaining = limit
        self.names_left = MAX_NAMES_MATCHED
        self.pattern_bytes_left = MAX_WILDCARD_BYTES
        self.patterns: set[str] = set()
        # (directory as read on the host, the wildcard its names were matched
        # against): a new file there matching it is configuration next time.
        self.scanned: list[tuple[str, str]] = []
        # IncludeOptional paths that do not exist: a file there is read next time.
        self.missing: list[str] = []
        # Directories read whole (named, or matched by a wildcard, and those
        # below them), as read on the host: any file new there is read next time.
        self.read_whole: list[str] = []

    def take_matching(self, pattern: str, names: int, tree: str) -> None:
        """Count a wildcard matched against ``names`` entries of ``tree``; raise
        IncludeError once over the bounds on patterns or names."""
        if pattern not in self.patterns:
            self.patterns.add(pattern)
            self.pattern_bytes_left -= len(pattern)
        self.names_left -= names * (1 + len(pattern) // WILDCARD_BYTES_PER_ENTRY)
        if self.pattern_bytes_left < 0:
            raise IncludeError(
                f"Include/IncludeOptional: more than {MAX_WILDCARD_BYTES} bytes of distinct "
                f"wildcards matched while reading '{tree}'"
            )
        if self.names_left < 0:
            raise IncludeError(
                f"Include/IncludeOptional: more than {MAX_NAMES_MATCHED} directory entries "
                f"matched against wildcards (one more per {WILDCARD_BYTES_PER_ENTRY} bytes of a "
                f"wildcard) while reading '{tree}'"
            )

    def take(self, tree: str) -> None:
        """Count one directory read; raise IncludeError once over the limit."""
        self.remaining -= 1
        if self.remaining < 0:
            raise IncludeError(
                f"Include/IncludeOptional: more than {self.limit} directories read while "
                f"reading '{tree}' (directory links that fan out, or a tree that large)"
            )


class _Walk:
    def __init__(self, fs: RootFS, optional: bool, budget: DirectoryBudget) -> None:
        self.fs = fs
        self.optional = optional
        self.budget = budget
        self.depth = 0
        self.found: list[tuple[str, str | Path | OSError]] = []
        # (st_dev, st_ino) of the directories being read: one met again is a
        # loop, which httpd follows until depth 128 and then refuses.
        self.reading: set[tuple[int, int]] = set()

    def no_wildcard(self, tree: str, parent: tuple[str, str, int] | None = None) -> None:
        """Read ``tree`` (``process_resource_config_nofnmatch``): a directory's
        entries in turn, else the file; a ``tree`` ending in ``/`` names a
        directory only.

        ``parent`` is the resolved directory ``tree`` is an entry of, the
        entry's name and the links that directory took, when known.
        """
        try:
            if _too_long(tree):
                raise OSError(errno.ENAMETOOLONG, os.strerror(errno.ENAMETOOLONG), tree)
            mode: int | None = None
            if parent is None:
                real, links = self.fs.resolve_counting(tree)
            else:
                # Resolved from the directory already resolved, not from the
                # root again: a lstat per component per entry otherwise.
                real, links, mode = self.fs.resolve_below_counting(*parent, tree)
            if mode is None or stat.S_ISDIR(mode):
                info = self.fs.lstat_real(str(real))
                mode = info.st_mode
        except OSError as exc:  # ENOENT, ENOTDIR, ELOOP (a link loop), ENAMETOOLONG
            self._unopenable(tree, exc)
            return
        if stat.S_ISDIR(mode):
            self._directory(tree, real, links, info)
        elif tree.endswith("/") and tree != "/":
            # apr_stat of "file/" fails: the name is opened (Include) or skipped.
            self._unopenable(tree, OSError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), tree))
        else:
            self.found.append((tree, real))

    def _unopenable(self, tree: str, error: OSError) -> None:
        """``tree`` cannot be stat'ed: IncludeOptional skips it; Include opens
        it as a file, and that fails with the same error, in its turn."""
        if not self.optional:
            self.found.append((tree, error))
        elif isinstance(error, FileNotFoundError):
            self.budget.missing.append(tree)

    def _directory(self, tree: str, real: Path, links: int, info: os.stat_result) -> None:
        self.budget.take(tree)
        self.depth += 1
        if self.depth > MAX_DIRECTORY_DEPTH:
            raise IncludeError(
                f"Include/IncludeOptional: Directory '{tree}' exceeds the maximum include "
                f"directory nesting level of {MAX_DIRECTORY_DEPTH}. You have probably a "
                "recursion somewhere."
            )
        try:
            names = _sorted_names(self.fs, real, tree)
        except OSError as exc:
            raise IncludeError(
                f"Include/IncludeOptional: Could not open directory {tree}: {exc.strerror}"
            ) from exc
        identity = (info.st_dev, info.st_ino)
        if identity in self.reading:
            raise IncludeError(
                f"Include/IncludeOptional: Directory '{tree}' exceeds the maximum include "
                f"directory nesting level of {MAX_DIRECTORY_DEPTH}. You have probably a "
                "recursion somewhere."
            )
        self.reading.add(identity)
        base = tree.rstrip("/")
        real_dir = str(real)
        self.budget.read_whole.append(real_dir)
        for name in names:
            self.no_wildcard(f"{base}/{name}", (real_dir, name, links))
        self.reading.discard(identity)
        self.depth -= 1

    def wildcard(self, path: str, rest: str) -> None:
        """Read what ``path`` + ``rest`` (a wildcard pattern) names, in httpd's order.

        A stack of what is left to match, not recursion: a pattern may hold a
        thousand components (httpd recurses in C and has no such limit).
        """
        pending = [(path, rest)]
        while pending:
            path, rest = pending.pop()
            pending.extend(reversed(self._wildcard_level(path, rest)))

    def _wildcard_level(self, path: str, rest: str) -> list[tuple[str, str]]:
        """Match the first wildcard component of ``rest`` below ``path``: files
        are read at once; what is left for each matching directory is returned."""
        first, slash, remainder = rest.partition("/")
        while not has_wildcard(first):
            # "dir/*.conf/" ends in an empty component: "dir/x.conf/" is read.
            path = f"{path.rstrip('/')}/{first}"
            if not slash:
                self.no_wildcard(path)
                return []
            first, slash, remainder = remainder.partition("/")
        try:
            if _too_long(path):
                raise OSError(errno.ENAMETOOLONG, os.strerror(errno.ENAMETOOLONG), path)
            real, links = self.fs.resolve_counting(path)
            self.budget.take(path)
            entries = _sorted_entries(self.fs, real, path)
        except OSError as exc:
            # apr_dir_open failed: only a missing directory is optional.
            if self.optional and isinstance(exc, FileNotFoundError):
                # Read next time once it exists (and a2enmod's links go there).
                self.budget.scanned.append((str(self.fs.root) + path, first))
                return []
            raise IncludeError(
                f"Include/IncludeOptional: Could not open directory {path}: {exc.strerror}"
            ) from exc
        self.budget.take_matching(first, len(entries), path)
        candidates: list[tuple[str, int]] = []
        real_dir = str(real)
        self.budget.scanned.append((real_dir, first))
        for name, known_mode in entries:
            if not wildcard_matches(first, name):
                continue
            try:
                mode = (
                    known_mode
                    if known_mode is not None
                    else self.fs.lstat_real(f"{real_dir}/{name}").st_mode
                )
            except OSError:
                if slash:
                    continue
                mode = 0
            # Before a '/' (another component, or none: "*.conf/"), only
            # entries that are directories themselves (d_type) are kept.
            if slash and not stat.S_ISDIR(mode):
                continue
            candidates.append((name, mode))
        if not candidates and not self.optional:
            raise IncludeError(
                f"Include/IncludeOptional: No matches for the wildcard '{first}' in "
                f"'{path}', failing"
            )
        base = path.rstrip("/")
        if slash:
            return [(f"{base}/{name}", remainder) for name, _ in candidates]
        for name, mode in candidates:
            candidate = f"{base}/{name}"
            if (
                stat.S_ISREG(mode)
                and not _too_long(candidate)
                and not self.fs.is_overlay_link(f"{real_dir}/{name}")
            ):
                # A plain file in a directory already resolved: its real path is
                # that directory's and its name (resolving from the root again
                # costs a lstat per component, for every file of a large conf.d).
                # A snapshot's link is a regular placeholder: it is resolved.
                # (A string: a Path per file of a large conf.d costs more than its read.)
                self.found.append((candidate, f"{real_dir}/{name}"))
            else:
                self.no_wildcard(candidate, (real_dir, name, links))
        return []


def expand_include(
    fs: RootFS, tree_path: str, optional: bool, budget: DirectoryBudget | None = None
) -> list[tuple[str, str | Path | OSError]]:
    """Return ``(path as named, real path)`` of every file an include reads, in order.

    In place of the real path stands the error of a name ``Include`` opens and
    httpd cannot (missing, "file/", a link loop, too long): httpd fails there,
    after reading the files before it.

    Args:
        fs: the audited root.
        tree_path: the absolute, normalised path inside the root (ServerRoot
            applied), ending in ``/`` where httpd's does (a directory only).
        optional: True for ``IncludeOptional``.
        budget: directory reads left to the whole load (one include's own if None).

    Raises:
        IncludeError: what httpd refuses (no match, unreadable directory, depth),
            and more directory reads than ``budget`` allows.
    """
    walk = _Walk(fs, optional, budget if budget is not None else DirectoryBudget())
    try:
        if not has_wildcard(tree_path):
            walk.no_wildcard(tree_path)
        else:
            walk.wildcard("/", tree_path.lstrip("/"))
    except OSError as exc:  # ENAMETOOLONG, ELOOP from RootFS.resolve...
        raise IncludeError(
            f"Include/IncludeOptional: Could not open {tree_path}: {exc.strerror or exc}"
        ) from exc
    return walk.found
