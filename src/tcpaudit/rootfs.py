"""Path resolution under an audited root, the way a chroot would see it.

tcpaudit reads a host's files either on the host itself (root ``/``) or from a
copy of its filesystem (``--root DIR``: an image, a backup, a test tree). Paths
found inside that tree (``Include /etc/apache2/mods-enabled/*.load``, absolute
symlinks such as ``sites-enabled/x -> /etc/apache2/sites-available/x``) mean
paths inside the tree, so they are resolved component by component here, with
``..`` and absolute link targets clamped to the root. Nothing here reads file
contents itself: ``read_bytes`` resolves a path here, then has inputs.py open
it one directory at a time without following any link, so that what is read
is what was resolved, even if the tree changes meanwhile.

A snapshot (snapshot.py) rebuilds a host's tree without creating a single
symlink: its links live in memory, registered with ``overlay_links`` for the
time of one audit, and every ``RootFS`` of that root resolves them as if
they were on disk.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path, PurePosixPath

from .errors import ParseError
from .inputs import (
    DEFAULT_LIMIT_BYTES,
    SecretFileError,
    open_directory,
    open_subdirectory,
    read_entry,
)

__all__ = [
    "LONG_PATH_BYTES",
    "MAX_LINKS_FOLLOWED",
    "MAX_SYMLINKS",
    "LinkBudgetError",
    "LinkLoopError",
    "OutsideRootError",
    "RootFS",
    "overlay_links",
]

# Linux gives up after 40 links in one lookup (ELOOP); so do we.
MAX_SYMLINKS = 40
# The kernel refuses a path name of PATH_MAX (4,096) bytes or more with
# ENAMETOOLONG. A path below the root is the root's path and the tree path
# together: from this length on, it is reached one directory at a time
# instead, so that only the tree path's own length matters (httpd's limits on
# it are includes.py's).
LONG_PATH_BYTES = 3072
# Links followed through one view of a root, all lookups together: 50,000
# included names, each the head of a 39-link chain, took 47 s. Real trees
# follow a few hundred.
MAX_LINKS_FOLLOWED = 1_000_000

# root text (absolute, ending in "/") -> {absolute tree path: link target}
_OVERLAYS: dict[str, Mapping[str, str]] = {}


def _long(path: str) -> bool:
    """Whether ``path`` is to be reached one directory at a time (a character
    is at most 4 bytes: most paths are told short without being encoded)."""
    return len(path) >= LONG_PATH_BYTES // 4 and len(os.fsencode(path)) >= LONG_PATH_BYTES


class LinkBudgetError(ParseError):
    """More than MAX_LINKS_FOLLOWED links followed through one root: tcpaudit stops."""

    def __init__(self, shown: str) -> None:
        super().__init__(
            f"more than {MAX_LINKS_FOLLOWED:,} symbolic links followed in all; tcpaudit stops here",
            file=shown,
        )


class OutsideRootError(OSError):
    """A path handed to a reader does not lie below the root."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        super().__init__(errno.EXDEV, "outside the audited root", os.fspath(path))


class LinkLoopError(OSError, ParseError):
    """A path goes through more than MAX_SYMLINKS links (ELOOP), as a loop does.

    An ``OSError`` for the readers that turn unreadable files into notes, and a
    ``ParseError`` naming the path for any caller that does not: the command
    line prints it as one line, like every input it cannot read.
    """

    def __init__(self, shown: str) -> None:
        OSError.__init__(self, errno.ELOOP, os.strerror(errno.ELOOP), shown)
        self.reason = f"more than {MAX_SYMLINKS} symbolic links (a loop?)"
        self.file = shown
        self.line = None

    def __str__(self) -> str:
        return ParseError.__str__(self)


@contextmanager
def overlay_links(root: str | os.PathLike[str], links: Mapping[str, str]) -> Iterator[None]:
    """Make every ``RootFS(root)`` see ``links`` as symlinks while the block runs.

    Args:
        root: the rebuilt tree.
        links: absolute tree paths (``/etc/apache2/sites-enabled/a.conf``)
            mapped to link targets, as the host had them. The path itself
            should exist in the tree as an empty file, so directory listings
            show the name as they showed the link.
    """
    key = RootFS(root)._root_text
    _OVERLAYS[key] = dict(links)
    try:
        yield
    finally:
        _OVERLAYS.pop(key, None)


class RootFS:
    """A filesystem root and the rules to resolve and show paths below it.

    Args:
        root: the directory that stands for ``/``.
    """

    def __init__(self, root: str | os.PathLike[str] = "/") -> None:
        self.root = Path(os.path.abspath(root))
        self.is_host = self.root == Path("/")
        self._root_text = str(self.root).rstrip("/") + "/"
        self._links: Mapping[str, str] = _OVERLAYS.get(self._root_text, {})
        self._followed = 0

    def resolve(self, tree_path: str | PurePosixPath) -> Path:
        """Return the real path for an absolute path as seen inside the root.

        Symlinks are followed as the audited host would follow them; a
        component that does not exist ends the walk (the rest is appended
        unresolved).

        Raises:
            LinkLoopError: more than MAX_SYMLINKS links on the way (a loop).

        A name that is no directory with more after it (``a.conf/``, a link
        to ``a.conf/.``) ends the walk with a path the kernel refuses.
        """
        return self.resolve_counting(tree_path)[0]

    def resolve_counting(self, tree_path: str | PurePosixPath) -> tuple[Path, int]:
        """``resolve``, and how many links the walk followed (for ``resolve_below``)."""
        return self._walk([], str(tree_path), 0, str(tree_path))[:2]

    def resolve_below(self, real_dir: str, name: str, links: int, tree_path: str) -> Path:
        """``resolve(tree_path)`` for ``tree_path`` = a resolved directory + ``name``.

        ``real_dir`` is what ``resolve_counting`` gave for the directory (no
        link left in it) and ``links`` the links it followed: the walk goes on
        from there, as the full walk would, without an lstat per component
        of the directory again (a Debian tree's mods-enabled holds dozens of
        links, each resolved from the root otherwise).
        """
        return self.resolve_below_counting(real_dir, name, links, tree_path)[0]

    def resolve_below_counting(
        self, real_dir: str, name: str, links: int, tree_path: str
    ) -> tuple[Path, int, int | None]:
        """``resolve_below``, how many links the whole walk followed, and the
        ``st_mode`` its last lstat found for the path it gives (None when it
        ended otherwise: a missing name, ``..``), which spares the caller that
        lstat again."""
        below = real_dir[len(self._root_text) :] if real_dir != str(self.root) else ""
        resolved = [part for part in below.split("/") if part]
        return self._walk(resolved, name, links, tree_path)

    def _walk(
        self, resolved: list[str], rest: str, links: int, shown: str
    ) -> tuple[Path, int, int | None]:
        # Plain strings and os calls: this runs for every included file, and
        # pathlib objects cost more than the system calls themselves.
        # "" and "." are kept while walking: after a name they say it must be
        # a directory ("a.conf/", "a.conf/." and "a.conf/.." of a file fail
        # with ENOTDIR, as in the kernel); they add nothing to the path.
        parts = rest.split("/")
        parts.reverse()
        base = self._root_text
        last_mode: int | None = None
        while parts:
            name = parts.pop()
            last_mode = None
            if name in ("", "."):
                continue
            if name == "..":
                if resolved:
                    resolved.pop()
                continue
            candidate = base + "/".join([*resolved, name])
            overlaid = self._links.get(candidate[len(base) - 1 :]) if self._links else None
            try:
                mode = stat.S_IFLNK if overlaid is not None else self.lstat_real(candidate).st_mode
            except (OSError, ValueError):  # ValueError: a NUL byte in the name
                # The rest stays unresolved ("missing/../x"): the kernel, and
                # _parts_below_root, refuse such a path.
                resolved.append(name)
                resolved.extend(reversed(parts))
                break
            if parts and not stat.S_ISLNK(mode) and not stat.S_ISDIR(mode):
                # "a.conf/", "a.conf/." or "a.conf/../b" of a file: the walk
                # stops with a path the kernel refuses (ENOTDIR), ".." kept
                # where pathlib would drop a trailing "/" or ".".
                resolved.append(name)
                tail = [part for part in reversed(parts) if part not in ("", ".")]
                resolved.extend(tail or [".."])
                break
            if stat.S_ISLNK(mode):
                links += 1
                self._followed += 1
                if self._followed > MAX_LINKS_FOLLOWED:
                    raise LinkBudgetError(self.display_tree(shown))
                if links > MAX_SYMLINKS:
                    # Never hand back a path through a live link: the kernel
                    # would follow it from the real /, outside the root.
                    raise LinkLoopError(self.display_tree(shown))
                target = overlaid if overlaid is not None else self._readlink(candidate)
                if target.startswith("/"):
                    resolved = []
                parts.extend(reversed(target.split("/")))
                continue
            resolved.append(name)
            last_mode = mode
        return (Path(base + "/".join(resolved)) if resolved else self.root), links, last_mode

    def lstat_real(self, real: str) -> os.stat_result:
        """``os.lstat`` of a path below the root, however long the root's path is.

        Raises:
            OSError: as ``os.lstat``; ``OutsideRootError`` for a long path
                outside the root.
        """
        if not _long(real):
            return os.lstat(real)
        *directories, name = self._parts_below_root(real)
        with self._directory_in_steps(directories) as descriptor:
            return os.stat(name, dir_fd=descriptor, follow_symlinks=False)

    def _readlink(self, real: str) -> str:
        if not _long(real):
            return os.readlink(real)
        *directories, name = self._parts_below_root(real)
        with self._directory_in_steps(directories) as descriptor:
            return os.readlink(name, dir_fd=descriptor)

    @contextmanager
    def _directory_in_steps(self, parts: list[str]) -> Iterator[int]:
        """A descriptor of the directory ``parts`` below the root, opened a few
        thousand bytes of path at a time (not a name at a time: ``_walk``
        looks up every name of a deep path, and a lookup opening each
        directory from the root made that quadratic: 40 s for five Include
        lines 1,990 directories deep). As ``os.lstat`` of a short path, for
        the paths ``_walk`` builds, whose directories it has found no link in.
        """
        descriptor = open_directory(self.root)
        try:
            start = 0
            while start < len(parts):
                end, size = start, 0
                while end < len(parts) and (end == start or size + len(parts[end]) < 2048):
                    size += len(parts[end]) + 1
                    end += 1
                flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
                inner = os.open("/".join(parts[start:end]), flags, dir_fd=descriptor)
                os.close(descriptor)
                descriptor = inner
                start = end
            yield descriptor
        finally:
            os.close(descriptor)

    @contextmanager
    def scandir_real(self, real: str | os.PathLike[str]) -> Iterator[Iterator[os.DirEntry[str]]]:
        """``os.scandir`` of a directory ``resolve`` returned, however long the
        root's path is (only the entries' names are meant to be used)."""
        text = os.fspath(real)
        if not _long(text):
            with os.scandir(text) as entries:
                yield entries
            return
        with self.open_real_directory(text) as descriptor, os.scandir(descriptor) as entries:
            yield entries

    def read_long(self, real: str | os.PathLike[str], limit: int) -> bytes | None:
        """``read_real(real, limit)`` when ``real`` is too long for the kernel to
        take whole; None when it is not (the caller reads it as it does)."""
        text = os.fspath(real)
        if not _long(text):
            return None
        return self.read_real(text, limit)

    def is_overlay_link(self, real: str) -> bool:
        """Whether ``real`` (a path below the root) is a link of ``overlay_links``.

        Such a path is an empty regular file on disk; only ``resolve`` follows
        it, so a reader that takes a directory's regular files as they are
        must resolve these instead.
        """
        if not self._links or not real.startswith(self._root_text):
            return False
        return "/" + real[len(self._root_text) :] in self._links

    def read_bytes(self, tree_path: str | PurePosixPath, limit: int = DEFAULT_LIMIT_BYTES) -> bytes:
        """The bytes of a file named inside the root, links resolved inside it.

        Raises:
            OSError: missing, a FIFO, device, socket or directory
                (``inputs.NotRegularFileError``), over ``limit`` bytes
                (``inputs.TooLargeError``), or a link loop.
        """
        return self.read_real(self.resolve(tree_path), limit)

    def read_real(self, real: str | os.PathLike[str], limit: int = DEFAULT_LIMIT_BYTES) -> bytes:
        """The bytes of a path ``resolve`` returned, opened one directory at a time.

        No component below the root is followed if it is a symlink (which
        ``resolve`` never returns): a tree changed after resolution fails
        with ELOOP or ENOTDIR instead of leading the read elsewhere.

        Raises:
            OutsideRootError: ``real`` does not lie below the root.
            OSError: as ``read_bytes``.
        """
        *directories, name = self._parts_below_root(real) or [""]
        if not name:
            raise OSError(errno.EISDIR, "is a directory", os.fspath(real))
        below_proc_sys = "proc/sys" in "/".join(directories)
        if below_proc_sys and name.endswith(("_key", "_secret")):
            raise SecretFileError(real)
        with self._directory(directories) as descriptor:
            return read_entry(descriptor, name, limit, world_readable=below_proc_sys)

    @contextmanager
    def open_real_directory(self, real: str | os.PathLike[str]) -> Iterator[int]:
        """A descriptor of a directory ``resolve`` returned, opened as ``read_real`` opens files.

        ``os.scandir(descriptor)``, ``os.stat(name, dir_fd=descriptor,
        follow_symlinks=False)`` and ``inputs.read_entry`` then read it
        without following links.
        """
        with self._directory(self._parts_below_root(real)) as descriptor:
            yield descriptor

    @contextmanager
    def _directory(self, parts: list[str]) -> Iterator[int]:
        descriptor = open_directory(self.root)
        try:
            for part in parts:
                inner = open_subdirectory(descriptor, part)
                os.close(descriptor)
                descriptor = inner
            yield descriptor
        finally:
            os.close(descriptor)

    def contains(self, real: str | os.PathLike[str]) -> bool:
        """True when a real path lies at or below the root (no link is followed to decide)."""
        text = os.path.abspath(real)
        return text == str(self.root) or text.startswith(self._root_text)

    def _parts_below_root(self, real: str | os.PathLike[str]) -> list[str]:
        """The names below the root of a path ``resolve`` returned.

        Not normalised as text: ``missing/..`` or ``a.conf/..`` is left of a
        walk that failed there, and the kernel refuses it (ENOENT, ENOTDIR);
        cancelling the ``..`` would read what httpd cannot.
        """
        text = os.fspath(real)
        if not text.startswith("/"):
            text = os.path.abspath(text)
        if text.rstrip("/") == str(self.root).rstrip("/"):
            return []
        if not text.startswith(self._root_text):
            raise OutsideRootError(real)
        names = [name for name in text[len(self._root_text) :].split("/") if name]
        if ".." in names:
            raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), text)
        if text.endswith("/"):
            names.append("")  # "file/": opened as a directory, it fails
        return names

    def tree_path(self, real: Path) -> PurePosixPath:
        """Return the absolute in-tree path of a real path below the root."""
        try:
            rel = real.relative_to(self.root)
        except ValueError:
            return PurePosixPath(real)
        return PurePosixPath("/", rel)

    def display_tree(self, tree_path: str | PurePosixPath) -> str:
        """Return how a path named inside the root is shown, symlinks not followed.

        httpd names an included file by the path it built from the pattern
        (``mods-enabled/alias.load``), not by the target of a link.
        """
        absolute = PurePosixPath("/", tree_path)
        if self.is_host:
            return str(absolute)
        return absolute.relative_to("/").as_posix()

    def display(self, real: Path) -> str:
        """Return how a file is named in reports: relative to the root, or absolute on the host."""
        if self.is_host:
            return str(real)
        try:
            return real.relative_to(self.root).as_posix()
        except ValueError:
            return str(real)
