"""Path resolution under an audited root, the way a chroot would see it.

tcpaudit reads a host's files either on the host itself (root ``/``) or from a
copy of its filesystem (``--root DIR``: an image, a backup, a test tree). Paths
found inside that tree (``Include /etc/apache2/mods-enabled/*.load``, absolute
symlinks such as ``sites-enabled/x -> /etc/apache2/sites-available/x``) mean
paths inside the tree, so they are resolved component by component here, with
``..`` and absolute link targets clamped to the root. Nothing here reads file
contents; it only decides which real path a tree path names and how to show it.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path, PurePosixPath

__all__ = ["MAX_SYMLINKS", "RootFS"]

# Linux gives up after 40 links in one lookup (ELOOP); so do we.
MAX_SYMLINKS = 40


class RootFS:
    """A filesystem root and the rules to resolve and show paths below it.

    Args:
        root: the directory that stands for ``/``.
    """

    def __init__(self, root: str | os.PathLike[str] = "/") -> None:
        self.root = Path(os.path.abspath(root))
        self.is_host = self.root == Path("/")
        self._root_text = str(self.root).rstrip("/") + "/"

    def resolve(self, tree_path: str | PurePosixPath) -> Path:
        """Return the real path for an absolute path as seen inside the root.

        Symlinks are followed as the audited host would follow them; a
        component that does not exist ends the walk (the rest is appended
        unresolved). A link loop resolves to the looping path, whose open
        then fails with a clear error.
        """
        # Plain strings and os calls: this runs for every included file, and
        # pathlib objects cost more than the system calls themselves.
        parts = [part for part in str(tree_path).split("/") if part not in ("", ".")]
        parts.reverse()
        resolved: list[str] = []
        base = self._root_text
        links = 0
        while parts:
            name = parts.pop()
            if name == "..":
                if resolved:
                    resolved.pop()
                continue
            candidate = base + "/".join([*resolved, name])
            try:
                mode = os.lstat(candidate).st_mode
            except (OSError, ValueError):  # ValueError: a NUL byte in the name
                resolved.append(name)
                resolved.extend(reversed(parts))
                break
            if stat.S_ISLNK(mode):
                links += 1
                if links > MAX_SYMLINKS:
                    # Never hand back a path through a live link: the kernel
                    # would follow it from the real /, outside the root.
                    raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), str(tree_path))
                target = os.readlink(candidate)
                if target.startswith("/"):
                    resolved = []
                parts.extend(
                    reversed([part for part in target.split("/") if part not in ("", ".")])
                )
                continue
            resolved.append(name)
        return Path(base + "/".join(resolved)) if resolved else self.root

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
