"""What an httpd binary's bytes tell, read without running it.

httpd 2.4 keeps the identifiers of its linked-in modules together in its
read-only data (``ap_prelinked_module_symbols`` of the generated modules.c),
in ``httpd -l`` order, and its banner (``Apache/2.4.71 (Debian)``) as a
string; a 2.2 binary has no such table, only its MPM's source name
(``prefork.c``). ``build.py`` weighs this against the other evidence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..inputs import read_bytes
from ..rootfs import RootFS

__all__ = ["BinaryFacts", "read_binary"]

# httpd binaries are a few MiB; a file far larger is not one.
_MAX_BINARY_BYTES = 64 * 1024 * 1024
_VERSION = re.compile(rb"Apache/(\d{1,4}\.\d{1,4}\.\d{1,4})(?!\d)( \([^)\x00]{1,60}\))?")
_IDENTIFIER = re.compile(rb"[a-z][a-z0-9_]{0,60}_module")
# httpd -l lists about a hundred modules for a build with every one linked in;
# a run of many more names is not its table (5 million held 1.9 GB).
MAX_LINKED_MODULES = 1_000
_MPM_SOURCES = {b"prefork.c": "prefork", b"worker.c": "worker", b"event.c": "event"}


@dataclass(frozen=True, slots=True)
class BinaryFacts:
    """What an httpd binary's bytes tell."""

    path: str
    version: str | None
    platform: str | None
    # The prelinked module identifiers, in httpd -l order; None when the
    # binary holds no such table (httpd 2.2 has none).
    linked: tuple[str, ...] | None
    linked_mpm: str | None


def read_binary(fs: RootFS, tree_path: str) -> BinaryFacts | None:
    """Read an httpd binary's version and linked modules from its bytes; None if absent."""
    try:
        real = fs.resolve(tree_path)
        if not real.is_file():
            return None
        data = read_bytes(real, _MAX_BINARY_BYTES)
    except OSError:
        return None
    # "Apache/2.4.71" and the banner "Apache/2.4.71 (Debian)" are both stored;
    # matches are not kept (a file repeating the string has millions).
    first = found = None
    for match in _VERSION.finditer(data):
        first = first or match
        if match.group(2):
            found = match
            break
    found = found or first
    if found is None:
        return None
    platform = found.group(2).decode("latin-1")[2:-1] if found.group(2) else None
    linked = _prelinked(data)
    mpm = None
    if linked is not None:
        mpm = next((name[4:-7] for name in linked if name.startswith("mpm_")), None)
    else:
        mpm = next(
            (name for source, name in _MPM_SOURCES.items() if b"\0" + source + b"\0" in data), None
        )
    if mpm is None:
        # Debian 2.2 installs each MPM's binary in its own directory
        # (/usr/lib/apache2/mpm-worker/apache2) behind a /usr/sbin/apache2 link.
        shown = str(real)
        mpm = next(
            (name for name in ("prefork", "worker", "event", "itk") if f"mpm-{name}" in shown), None
        )
    return BinaryFacts(
        path=fs.display(real) if real != fs.root else tree_path,
        version=found.group(1).decode("ascii"),
        platform=platform,
        linked=linked,
        linked_mpm=mpm,
    )


def _prelinked(data: bytes) -> tuple[str, ...] | None:
    """The identifiers of ``ap_prelinked_module_symbols`` (httpd 2.4's modules.c).

    Its strings sit together in the read-only data, in ``httpd -l`` order,
    starting with ``core_module``; the dynamic symbol table holds the same
    names interleaved with other symbols, so the longest run wins.
    """
    best: tuple[str, ...] | None = None
    start = data.find(b"\0core_module\0")
    while start >= 0:
        names: list[str] = []
        position = start + 1
        while True:
            match = _IDENTIFIER.match(data, position)
            if match is None or data[match.end() : match.end() + 1] != b"\0":
                break
            name = match.group().decode("ascii")
            if name.startswith("ap_"):
                break
            names.append(name)
            position = match.end()
            if len(names) > MAX_LINKED_MODULES:
                break
            # String literals may be padded to an alignment boundary.
            while position < len(data) and data[position] == 0 and position - match.end() < 16:
                position += 1
        if (
            "core_module" in names[:1]
            and len(names) <= MAX_LINKED_MODULES
            and (best is None or len(names) > len(best))
        ):
            best = tuple(names)
        # A run starting inside this one is a part of it: search past its end
        # (from start + 1, a file repeating "core_module" took minutes).
        start = data.find(b"\0core_module\0", max(start + 1, position))
    if best is None or len(best) < 2 or "so_module" not in best:
        return None
    return best
