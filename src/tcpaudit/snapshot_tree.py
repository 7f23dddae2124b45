"""A snapshot rebuilt as a private tree: directories and regular files only.

``materialise`` writes a snapshot's entries below a private directory, each
name made and opened from its parent's descriptor, never through a link; a
``link`` entry becomes an empty file, returned to be resolved in memory
(``rootfs.overlay_links``). ``memory_directory`` says where the tree goes
when the caller chose no place: /dev/shm when it has room.
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

from .apache.secret_words import redact_text
from .apache.shell_redirections import looks_secret
from .errors import FactsError
from .private_keys import KEY_BEGIN
from .provenance import Note
from .safetext import printable
from .snapshot_document import MAX_CONTENT_BYTES, Snapshot

__all__ = ["materialise", "memory_directory"]

# Directories of the rebuilt tree: opened, never followed if a link.
_DIRECTORY_FLAGS = os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_CLOEXEC", 0)


class _Tree:
    """The private tree a snapshot is rebuilt in, and the directories made in it so far.

    Every name is made and opened from its directory's descriptor, never
    through a link: a host's path may be nearly 4,096 bytes long, which the
    temporary directory's own path would push past the kernel's limit.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        # Directories known to be real directories of the tree: each entry's
        # parents are checked once, not once per entry (a lstat per name per
        # entry made 2,000 entries 500 levels deep take 89 s).
        self.made: set[str] = set()
        # The directories from the root down to the one last written in, each
        # kept open: entries come sorted, so the next shares most of them (a
        # chain opened from the root for each entry made 20,000 files 255
        # levels deep take 77 s).
        self._chain: list[tuple[str, int]] = []
        self._root_descriptor: int | None = None

    def close(self) -> None:
        for _, descriptor in reversed(self._chain):
            os.close(descriptor)
        self._chain = []
        if self._root_descriptor is not None:
            os.close(self._root_descriptor)
            self._root_descriptor = None

    def directory(self, parts: tuple[str, ...]) -> int:
        """Create ``root/parts`` as real directories; refuse to pass through a link.

        Returns a descriptor of it, valid until the next call or ``close``.
        """
        shared = 0
        while (
            shared < len(self._chain)
            and shared < len(parts)
            and self._chain[shared][0] == parts[shared]
        ):
            shared += 1
        while len(self._chain) > shared:
            os.close(self._chain.pop()[1])
        if self._root_descriptor is None:
            self._root_descriptor = os.open(self.root, _DIRECTORY_FLAGS)
        descriptor = self._chain[-1][1] if self._chain else self._root_descriptor
        current = "/" + "/".join(parts[:shared]) if shared else ""
        for part in parts[shared:]:
            current = f"{current}/{part}"
            if current not in self.made:
                try:
                    mode = os.stat(part, dir_fd=descriptor, follow_symlinks=False).st_mode
                except FileNotFoundError:
                    os.mkdir(part, 0o700, dir_fd=descriptor)
                    mode = stat.S_IFDIR
                if not stat.S_ISDIR(mode):
                    raise FactsError(
                        f"snapshot lists {printable('/'.join(parts))} below a file or "
                        "link; it cannot be rebuilt"
                    )
                self.made.add(current)
            descriptor = os.open(part, _DIRECTORY_FLAGS | os.O_NOFOLLOW, dir_fd=descriptor)
            self._chain.append((part, descriptor))
        return descriptor

    def fifo(self, tree_path: str) -> None:
        parts = tuple(tree_path.strip("/").split("/"))
        parent = self.directory(parts[:-1])
        try:
            os.mkfifo(parts[-1], 0o600, dir_fd=parent)
        except FileExistsError as exc:
            raise FactsError(
                f"snapshot lists {printable(tree_path)} twice, or below another entry"
            ) from exc

    def write(self, tree_path: str, data: bytes, mode: int) -> None:
        parts = tuple(tree_path.strip("/").split("/"))
        parent = self.directory(parts[:-1])
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
        try:
            handle = os.open(parts[-1], flags, mode, dir_fd=parent)
        except FileExistsError as exc:
            raise FactsError(
                f"snapshot lists {printable(tree_path)} twice, or below another entry"
            ) from exc
        # The mode is set outright, not left to the umask: the /proc reader skips
        # values that are not world-readable, as on the host.
        os.fchmod(handle, mode)
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)


def materialise(snapshot: Snapshot, root: Path) -> tuple[list[Note], dict[str, str]]:
    """Write the snapshot below ``root``; return notes on what it lacks, and its links.

    Links are written as empty files (so a directory listing shows their
    names) and returned, to be resolved in memory: no symlink is created.
    """
    tree = _Tree(root)
    try:
        return _rebuild(snapshot, tree)
    finally:
        tree.close()


def _collector_note(text: str) -> Note:
    """A note of the collector's, withheld when it holds what looks like a
    credential: a snapshot's notes are free text from the managed host."""
    if (
        "PRIVATE KEY" in text
        or KEY_BEGIN.search(text)
        or looks_secret(redact_text(text))
        or looks_secret(text)
    ):
        text = "a note was withheld: it holds what looks like a credential"
    return Note(message=f"collector: {redact_text(text)}")


def _rebuild(snapshot: Snapshot, tree: _Tree) -> tuple[list[Note], dict[str, str]]:
    notes = [_collector_note(text) for text in snapshot.notes]
    links: dict[str, str] = {}
    budget = MAX_CONTENT_BYTES
    # Directories and files first, links last, so a link never hides a file below it.
    for tree_path in sorted(snapshot.files):
        entry = snapshot.files[tree_path]
        shown = tree_path.lstrip("/")
        if tree_path == "/":
            # The root, listed for a wildcard below it: the tree's own root.
            if not entry.dir:
                raise FactsError("snapshot lists / as something other than a directory")
            continue
        if entry.link is not None:
            links[tree_path] = entry.link
        elif entry.dir:
            tree.directory(tuple(shown.split("/")))
        elif entry.special:
            # A FIFO in the private tree: the loaders see a node that is no
            # regular file and refuse it as on the host (they never open one
            # but non-blocking, and check its type first).
            tree.fifo(tree_path)
        elif entry.omitted is not None or entry.error is not None:
            why = entry.omitted or entry.error
            notes.append(
                Note(
                    message=f"not collected ({why}): read as an empty file, so its "
                    "settings are not audited",
                    file=shown,
                )
            )
            tree.write(tree_path, b"", 0o644)
        else:
            try:
                data = entry.data()
            except ValueError as exc:
                raise FactsError(str(exc), file=shown) from exc
            budget -= len(data)
            if budget < 0:
                raise FactsError(f"the snapshot's files hold more than {MAX_CONTENT_BYTES} bytes")
            tree.write(tree_path, data, 0o644)
    for tree_path, binary in sorted(snapshot.binaries.items()):
        if tree_path in snapshot.files:
            raise FactsError(f"snapshot lists {printable(tree_path)} as a file and as a binary")
        tree.write(tree_path, binary.data(), 0o755)
    for tree_path in links:
        try:
            tree.write(tree_path, b"", 0o644)
        except FactsError as exc:
            raise FactsError(
                f"snapshot lists {printable(tree_path)} as a link and as a file"
            ) from exc
    for key, value in sorted(snapshot.proc.items()):
        if value is None:
            # Recorded by name only (a secret, or not world-readable): the
            # loader sees that the key exists and, as on the host, skips it.
            tree.write(f"/proc/sys/{key}", b"", 0o600)
        else:
            tree.write(f"/proc/sys/{key}", value.encode("utf-8", "replace"), 0o644)
    return notes, links


# Where a snapshot is rebuilt when it fits: a file made on a memory file
# system takes tens of microseconds, on a disk with a journal up to a
# millisecond (20,000 entries: 15 s). A tmpfs file takes a page at least.
_MEMORY_DIRECTORY = "/dev/shm"
_DEFAULT_TEMPORARY = ("/tmp", "/var/tmp", "/usr/tmp")
_PAGE_BYTES = 4096


def memory_directory(snapshot: Snapshot) -> str | None:
    """/dev/shm when it is a world-writable directory with room for the tree
    four times over, else None (the usual temporary directory, which TMPDIR
    or tempfile.tempdir set always choose)."""
    if any(os.environ.get(name) for name in ("TMPDIR", "TEMP", "TMP")) or (
        tempfile.gettempdir() not in _DEFAULT_TEMPORARY
    ):
        return None  # the user (or the calling program) chose where
    try:
        info = os.stat(_MEMORY_DIRECTORY)
        space = os.statvfs(_MEMORY_DIRECTORY)
    except OSError:
        return None
    if not stat.S_ISDIR(info.st_mode) or stat.S_IMODE(info.st_mode) & 0o1777 != 0o1777:
        return None
    entries = len(snapshot.files) + len(snapshot.binaries) + len(snapshot.proc)
    # Text and base64 are at least as long as the bytes they give.
    needed = entries * _PAGE_BYTES + sum(
        len(entry.content or entry.content_base64 or "") for entry in snapshot.files.values()
    )
    if space.f_bavail * space.f_frsize < 4 * needed or space.f_favail < 4 * entries:
        return None
    return _MEMORY_DIRECTORY
