"""Pathname expansion of the service's argument variables, as dash makes it.

apache2ctl runs ``$HTTPD ${APACHE_ARGUMENTS} -k start``: the unquoted
expansion is split into fields, and a field holding ``*``, ``?`` or ``[``
becomes the sorted names it matches, when any does (``-D KEEP?`` becomes
``-D KEEPX`` when a file ``/KEEPX`` exists: the service runs from ``/``).
Matching is dash's (``shell_patterns.py``): a name starting with ``.``
matches only a pattern starting with ``.``; a field matching nothing stays
as written. The audited root stands for the host; its directories are read
within a bound.
"""

from __future__ import annotations

import os
import re

from ..rootfs import RootFS
from .shell_patterns import compile_pattern

__all__ = ["MAX_LISTED_NAMES", "expand_pathnames"]

MAX_LISTED_NAMES = 100_000  # directory entries read for one invocation's fields
_GLOB = re.compile(r"[*?\[]")


class _Budget:
    def __init__(self) -> None:
        self.left = MAX_LISTED_NAMES


def expand_pathnames(fields: list[str], fs: RootFS, *, noglob: bool = False) -> list[str]:
    """``fields`` with each pattern replaced by the names it matches in the root."""
    if noglob:
        return fields
    budget = _Budget()
    expanded: list[str] = []
    for field in fields:
        matches = _matches(field, fs, budget) if _GLOB.search(field) else []
        expanded.extend(sorted(matches, key=os.fsencode) if matches else [field])
    return expanded


def _matches(field: str, fs: RootFS, budget: _Budget) -> list[str]:
    absolute = field.startswith("/")
    components = field.split("/")
    if absolute:
        components = components[1:]
    # (how the match is written, its path in the tree); relative to "/".
    found: list[tuple[str, str]] = [("/" if absolute else "", "/")]
    for index, component in enumerate(components):
        last = index == len(components) - 1
        following: list[tuple[str, str]] = []
        for written, tree in found:
            joiner = "" if not written or written.endswith("/") else "/"
            if not _GLOB.search(component):
                following.append((f"{written}{joiner}{component}", _join(tree, component)))
                continue
            for name in _listed(fs, tree, component, budget):
                following.append((f"{written}{joiner}{name}", _join(tree, name)))
        found = following
        if not found:
            return []
        if last:
            break
    return [written for written, tree in found if _exists(fs, tree)]


def _listed(fs: RootFS, tree: str, component: str, budget: _Budget) -> list[str]:
    """The names in directory ``tree`` that ``component`` matches (dot files
    only when it starts with a dot)."""
    pattern = compile_pattern(component)
    names: list[str] = [".", ".."] if component.startswith(".") else []
    try:
        with fs.scandir_real(fs.resolve(tree)) as entries:
            for entry in entries:
                budget.left -= 1
                if budget.left < 0:
                    return []
                names.append(entry.name)
    except OSError:
        return []
    return [
        name
        for name in names
        if (component.startswith(".") or not name.startswith("."))
        and pattern.matches(os.fsencode(name))
    ]


def _exists(fs: RootFS, tree: str) -> bool:
    parent, _, name = tree.rstrip("/").rpartition("/")
    try:
        fs.lstat_real(f"{fs.resolve(parent or '/')}/{name}" if name else str(fs.resolve("/")))
    except OSError:
        return False
    return True


def _join(tree: str, name: str) -> str:
    return f"{tree.rstrip('/')}/{name}"
