"""Suite-wide guard: the tests never write to the machine they run on.

Many tests build hostile trees (links to /, to /usr/lib/sysctl.d) and run as
root in CI; a helper that writes through such a link writes into the host.
This fixture lists the host directories tcpaudit's own inputs live in before
the session and after it, and fails the run when an entry appeared, vanished
or changed there.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

# Where a write through a planted link would land: the top of the filesystem and
# the directories a root-like tree mirrors.
WATCHED = [
    "/",
    "/etc",
    "/etc/sysctl.d",
    "/run/sysctl.d",
    "/usr/lib/sysctl.d",
    "/usr/local/lib/sysctl.d",
    "/etc/apache2",
    "/etc/httpd",
]


def _listing() -> dict[str, tuple[int, int, int] | None]:
    seen: dict[str, tuple[int, int, int] | None] = {}
    for directory in WATCHED:
        try:
            names = os.listdir(directory)
        except OSError:
            continue
        for name in names:
            path = os.path.join(os.path.normpath(directory), name)
            try:
                info = os.lstat(path)
            except OSError:
                seen[path] = None
                continue
            # Size and mtime of files; directories only by presence (their
            # mtime moves whenever anything inside them is created by the system).
            is_dir = os.path.isdir(path) and not os.path.islink(path)
            seen[path] = (
                info.st_mode,
                0 if is_dir else info.st_size,
                0 if is_dir else info.st_mtime_ns,
            )
    return seen


@pytest.fixture(scope="session", autouse=True)
def _host_stays_untouched() -> Iterator[None]:
    before = _listing()
    yield
    after = _listing()
    changed = sorted(
        path
        for path in before.keys() | after.keys()
        if before.get(path) != after.get(path) and not _expected_churn(path)
    )
    assert not changed, f"the tests changed the host's own files: {changed[:20]}"


def _expected_churn(path: str) -> bool:
    """Entries the system itself changes while tests run (not tcpaudit's business)."""
    name = Path(path).name
    return path in ("/etc/ld.so.cache", "/etc/mtab") or name.startswith(".")


@pytest.fixture
def deep_trees() -> Iterator[list[Path]]:
    """Directories a test makes too deep for pytest's own clean-up (its
    shutil.rmtree recurses a call per level): the test lists them here, and
    they are flattened, then removed, after it."""
    trees: list[Path] = []
    yield trees
    for tree in trees:
        _remove_deep(tree)


def _remove_deep(top: Path) -> None:
    # Every directory below top moves up to top's level, one rename each,
    # so what is left is at most two levels deep.
    moved = 0
    queue = [entry.name for entry in os.scandir(top) if entry.is_dir(follow_symlinks=False)]
    while queue:
        name = queue.pop()
        with os.scandir(top / name) as entries:
            inner = [entry for entry in entries if entry.is_dir(follow_symlinks=False)]
        for entry in inner:
            moved += 1
            os.rename(entry.path, top / f"flattened-{moved}")
            queue.append(f"flattened-{moved}")
    shutil.rmtree(top)
