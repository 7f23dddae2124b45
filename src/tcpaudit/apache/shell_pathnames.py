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

from ..errors import ApacheConfigError
from ..rootfs import RootFS
from .shell_patterns import compile_pattern

__all__ = ["MAX_LISTED_NAMES", "PathnameBudget", "expand_pathnames"]

MAX_LISTED_NAMES = 100_000  # directory entries read for one invocation's fields
_GLOB = re.compile(r"[*?\[]")


class PathnameBudget:
    """Directory entries left to read for one invocation's pathname expansions."""

    def __init__(self) -> None:
        self.left = MAX_LISTED_NAMES


def expand_pathnames(
    fields: list[str], fs: RootFS, *, noglob: bool = False, budget: PathnameBudget | None = None
) -> list[str]:
    """``fields`` with each pattern replaced by the names it matches in the root.

    Raises:
        ApacheConfigError: more than MAX_LISTED_NAMES entries read with ``budget``.
    """
    if noglob:
        return fields
    budget = budget if budget is not None else PathnameBudget()
    expanded: list[str] = []
    for field in fields:
        matches = _matches(field, fs, budget) if _GLOB.search(field) else []
        expanded.extend(sorted(matches, key=os.fsencode) if matches else [field])
    return expanded


def _matches(field: str, fs: RootFS, budget: PathnameBudget) -> list[str]:
    """What ``field`` matches, each written as dash writes it (its own slashes
    kept; a final ``/`` matches directories only)."""
    components = field.split("/")
    directories_only = len(components) > 1 and components[-1] == ""
    if directories_only:
        components = components[:-1]
    # (the match's components as written, its path in the tree); from "/".
    found: list[tuple[list[str], str]] = [([], "/")]
    for component in components:
        following: list[tuple[list[str], str]] = []
        for written, tree in found:
            if not component or not _GLOB.search(component):
                following.append(([*written, component], _join(tree, component)))
                continue
            for name in _listed(fs, tree, component, budget):
                following.append(([*written, name], _join(tree, name)))
        found = following
        if not found:
            return []
    matches = []
    for written, tree in found:
        if _exists(fs, tree) and (not directories_only or _is_directory(fs, tree)):
            matches.append("/".join(written) + ("/" if directories_only else ""))
    return matches


def _listed(fs: RootFS, tree: str, component: str, budget: PathnameBudget) -> list[str]:
    """The names in directory ``tree`` that ``component`` matches (dot files
    only when it starts with a dot)."""
    pattern = compile_pattern(component)
    names: list[str] = [".", ".."] if component.startswith(".") else []
    try:
        with fs.scandir_real(fs.resolve(tree)) as entries:
            for entry in entries:
                budget.left -= 1
                if budget.left < 0:
                    raise ApacheConfigError(
                        f"more than {MAX_LISTED_NAMES} directory entries read to expand the "
                        "start-up files' patterns"
                    )
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
    return tree if not name else f"{tree.rstrip('/')}/{name}"


def _is_directory(fs: RootFS, tree: str) -> bool:
    try:
        return fs.resolve(tree).is_dir()
    except OSError:
        return False
