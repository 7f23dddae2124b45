"""Root-like trees held in memory: the seeds, and writing a (mutated) tree to disk.

A tree maps a path relative to the root to a node: a file (bytes and mode),
a symlink (its target), a directory, or a special node the fuzzer plants
(FIFO, character device, socket, sparse file). Seeds are read once from the
project's own trees (tests/corpus, examples, the rule fixtures, the
diagnose fixtures) without following a single link.
"""

from __future__ import annotations

import errno
import os
import socket
import stat
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Node", "Tree", "load_seeds", "materialise"]

REPO = Path(__file__).resolve().parents[2]
SEED_DIRECTORIES = (
    REPO / "tests" / "corpus",
    REPO / "examples",
    REPO / "tests" / "diagnose" / "fixtures",
    REPO / "tests" / "rules",
)
# Files of a seed larger than this are left out (none of the seeds has one).
MAX_SEED_FILE_BYTES = 1024 * 1024


@dataclass(frozen=True)
class Node:
    """``kind`` is file, link, dir, fifo, chardev, socket or sparse."""

    kind: str
    data: bytes = b""
    mode: int = 0o644
    target: str = ""
    device: tuple[int, int] = (1, 3)
    size: int = 0


Tree = dict[str, Node]


def _is_root(path: Path) -> bool:
    return any((path / top).is_dir() for top in ("etc", "usr", "proc"))


def _roots() -> list[Path]:
    found: list[Path] = []
    for base in SEED_DIRECTORIES:
        for current, directories, _ in os.walk(base):
            here = Path(current)
            if _is_root(here):
                found.append(here)
                directories.clear()  # a root's own etc/ is not another root
    return sorted(found)


def _read(root: Path) -> Tree:
    tree: Tree = {}
    for current, directories, files in os.walk(root):
        here = Path(current)
        for name in [*directories, *files]:
            path = here / name
            relative = str(path.relative_to(root))
            info = path.lstat()
            if stat.S_ISLNK(info.st_mode):
                tree[relative] = Node("link", target=os.readlink(path))
            elif stat.S_ISDIR(info.st_mode):
                tree[relative] = Node("dir")
            elif stat.S_ISREG(info.st_mode) and info.st_size <= MAX_SEED_FILE_BYTES:
                tree[relative] = Node("file", data=path.read_bytes(), mode=info.st_mode & 0o777)
        directories[:] = [d for d in directories if not (here / d).is_symlink()]
    return tree


def load_seeds() -> list[tuple[str, Tree]]:
    """Every root-like tree of the project, by its path in the repository."""
    return [(str(root.relative_to(REPO)), _read(root)) for root in _roots()]


def materialise(tree: Tree, root: Path) -> None:
    """Write ``tree`` below ``root`` (which must not exist yet); parents first, links last.

    Nothing is ever written through a link: a mutated tree may hold ``usr ->
    /usr`` or ``etc -> /``, and writing ``usr/lib/sysctl.d/01-fuzz.conf`` after
    it would write into the machine's own /usr/lib/sysctl.d. Links are made
    after every other node, and a node whose parent path passes through a link
    (or anything but a real directory below ``root``) is skipped.
    """
    root.mkdir(parents=True)
    order = sorted(tree, key=lambda name: (tree[name].kind == "link", name.count("/")))
    for relative in order:
        node = tree[relative]
        path = root / relative
        try:
            _make_parents(root, path.parent)
            _write(node, path)
        except OSError:
            continue  # a mutation put a node below a file or a link: skip it


def _make_parents(root: Path, directory: Path) -> None:
    """Create ``directory`` below ``root`` one component at a time, never through a link."""
    current = root
    for part in directory.relative_to(root).parts:
        if part in ("", ".", ".."):
            raise OSError(errno.EINVAL, "not a plain component", str(directory))
        current = current / part
        try:
            info = current.lstat()
        except FileNotFoundError:
            current.mkdir()
            continue
        if not stat.S_ISDIR(info.st_mode):
            raise OSError(errno.ENOTDIR, "a link or file on the way", str(current))


def _write(node: Node, path: Path) -> None:
    if node.kind == "dir":
        path.mkdir(exist_ok=True)
    elif node.kind == "file":
        path.write_bytes(node.data)
        os.chmod(path, node.mode)
    elif node.kind == "link":
        os.symlink(node.target, path)
    elif node.kind == "fifo":
        os.mkfifo(path)
    elif node.kind == "chardev":
        os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(*node.device))
    elif node.kind == "socket":
        listener = socket.socket(socket.AF_UNIX)
        try:
            listener.bind(str(path))
        finally:
            listener.close()
    elif node.kind == "sparse":
        with path.open("wb") as handle:
            handle.truncate(node.size)
