"""Pathname expansion of the service's argument variables, as dash makes it.

apache2ctl runs ``$HTTPD ${APACHE_ARGUMENTS} -k start``: the unquoted
expansion is split into fields, and a field holding ``*``, ``?`` or ``[``
becomes the sorted names it matches, when any does (``-D KEEP?`` becomes
``-D KEEPX`` when a file ``/KEEPX`` exists: the service runs from ``/``).
Matching is dash's (``shell_patterns.py``): a backslash escapes the
character after it (a field whose every ``*?[`` is escaped is no pattern),
a name starting with ``.`` matches only a pattern starting with ``.`` or
``\\.``; a field matching nothing stays as written. The audited root
stands for the host; its directories are read within a bound.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence

from ..errors import ApacheConfigError
from ..rootfs import RootFS
from .shell_patterns import compile_pattern
from .startup_queries import StartupQueries

__all__ = [
    "MAX_LISTED_NAMES",
    "PathnameBudget",
    "Pathnames",
    "expand_pathnames",
    "is_pattern",
    "name_matches",
]

# What matches fields as pathnames in the root (see expand_pathnames).
Pathnames = Callable[[list[str | tuple[str, str]]], list[str]]
MAX_LISTED_NAMES = 100_000  # directory entries read for one invocation's fields
# An unescaped *, ? or [ (escaped pairs are skipped whole, so this is linear).
_UNESCAPED_GLOB = re.compile(r"(?:[^\\*?\[]++|\\.)*+[*?\[]", re.S)
_ESCAPE = re.compile(r"\\(.)", re.S)


class PathnameBudget:
    """Directory entries left to read for one invocation's pathname expansions."""

    def __init__(self) -> None:
        self.left = MAX_LISTED_NAMES


def is_pattern(text: str) -> bool:
    """Whether ``text`` holds a ``*``, ``?`` or ``[`` that no backslash escapes."""
    return _UNESCAPED_GLOB.match(text) is not None


def expand_pathnames(
    fields: Sequence[str | tuple[str, str]],
    fs: RootFS,
    *,
    noglob: bool = False,
    budget: PathnameBudget | None = None,
    queries: StartupQueries | None = None,
) -> list[str]:
    """``fields`` with each pattern replaced by the names it matches in the root.

    A field is a value from an unquoted expansion (its backslashes escape,
    and it stays as written when it matches nothing), or a word's
    ``(pattern, written)``: its quoted characters escaped in the pattern,
    and what it is after quote removal. ``queries`` records each directory
    whose entries a last component was matched against, and each name looked
    for that did not exist: a file appearing there is a match next time.

    Raises:
        ApacheConfigError: more than MAX_LISTED_NAMES entries read with ``budget``.
    """
    budget = budget if budget is not None else PathnameBudget()
    queries = queries if queries is not None else StartupQueries()
    expanded: list[str] = []
    for field in fields:
        pattern, written = (field, field) if isinstance(field, str) else field
        matches = (
            _matches(pattern, fs, budget, queries) if not noglob and is_pattern(pattern) else []
        )
        expanded.extend(sorted(matches, key=os.fsencode) if matches else [written])
    return expanded


def _matches(field: str, fs: RootFS, budget: PathnameBudget, queries: StartupQueries) -> list[str]:
    """What ``field`` matches, each written as dash writes it (its own slashes
    kept; a final ``/`` matches directories only)."""
    components = _components(field)
    directories_only = len(components) > 1 and components[-1] == ""
    if directories_only:
        components = components[:-1]
    # (the match's components as written, its path in the tree); from "/".
    found: list[tuple[list[str], str]] = [([], "/")]
    last = len(components) - 1
    for index, component in enumerate(components):
        following: list[tuple[list[str], str]] = []
        # Only a last component's match may be a file: a new file matching
        # an earlier one, or ahead of a final "/", is no directory to go on in.
        files_match = index == last and not directories_only
        for written, tree in found:
            if not is_pattern(component):
                name = _ESCAPE.sub(r"\1", component)  # dash writes it unescaped
                following.append(([*written, name], _join(tree, name)))
                continue
            for name in _listed(fs, tree, component, budget, queries if files_match else None):
                following.append(([*written, name], _join(tree, name)))
        found = following
        if not found:
            return []
    matches = []
    for written, tree in found:
        if not _exists(fs, tree):
            queries.asked(tree)  # "/etc/*/x.sh": an x.sh there matches next time
        elif not directories_only or _is_directory(fs, tree):
            matches.append("/".join(written) + ("/" if directories_only else ""))
    return matches


def _components(pattern: str) -> list[str]:
    """``pattern`` split at its slashes, escaped ones too (dash matches
    ``/etc\\/host*`` as ``/etc/host*``); other escapes are kept."""
    if "\\/" not in pattern:
        return pattern.split("/")
    components: list[str] = []
    current: list[str] = []
    index, length = 0, len(pattern)
    while index < length:
        char = pattern[index]
        if char == "\\" and index + 1 < length:
            if pattern[index + 1] == "/":
                components.append("".join(current))
                current = []
            else:
                current.append(pattern[index : index + 2])
            index += 2
            continue
        if char == "/":
            components.append("".join(current))
            current = []
        else:
            current.append(char)
        index += 1
    components.append("".join(current))
    return components


def name_matches(component: str, name: str) -> bool:
    """Whether directory entry ``name`` matches ``component``, one component
    of a pattern, as dash matches it: a name starting with a dot only when
    the component starts with one, escaped or not."""
    dotted = component.startswith((".", "\\."))
    return (dotted or not name.startswith(".")) and compile_pattern(component).matches(
        os.fsencode(name)
    )


def _listed(
    fs: RootFS,
    tree: str,
    component: str,
    budget: PathnameBudget,
    queries: StartupQueries | None,
) -> list[str]:
    """The names in directory ``tree`` that ``component`` matches (dot files
    only when it starts with a dot, escaped or not); the directory and the
    component recorded in ``queries``, when given."""
    dotted = component.startswith((".", "\\."))
    names: list[str] = [".", ".."] if dotted else []
    try:
        real = fs.resolve(tree)
        with fs.scandir_real(real) as entries:
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
    if queries is not None:
        queries.matched(str(real), component)
    return [name for name in names if name_matches(component, name)]


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
