"""The places a handler refuses itself in (ap_check_cmd_context), from contexts-2.4.tsv.

The table is probed from the real apache2 by tests/apache/apache_context_table.py:
for each directive and word count, the sections httpd refuses it inside
(``<VirtualHost>``, ``<Limit>``, a directory context, a named parent).
"""

from __future__ import annotations

from functools import cache
from importlib import resources

from .directives import canonical_name
from .tree import Directive

__all__ = ["PATH_SECTIONS", "context_error", "has_context_rules"]


@cache
def _contexts() -> dict[str, dict[str, str]]:
    """lower-cased name -> {word count or "*": flags} (see contexts-2.4.tsv)."""
    text = resources.files(__package__).joinpath("contexts-2.4.tsv").read_text(encoding="utf-8")
    table: dict[str, dict[str, str]] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, count, flags = line.split("\t")
            table.setdefault(name.lower(), {})[count] = flags
    return table


# ap_check_cmd_context's parents, in the order it looks for them (server/core.c).
_PARENTS = (
    ("D", ("directory", "directorymatch")),
    ("O", ("location", "locationmatch")),
    ("F", ("files", "filesmatch", "if", "elseif", "else")),
    ("P", ("proxy", "proxymatch")),
)
PATH_SECTIONS = frozenset(
    {"directory", "directorymatch", "location", "locationmatch", "files", "filesmatch",
     "if", "elseif", "else", "proxy", "proxymatch"}
)  # fmt: skip


def has_context_rules(key: str) -> bool:
    """Whether contexts-2.4.tsv holds places ``key``'s handler refuses itself in."""
    return key in _contexts()


def context_error(
    directive: Directive, sections: tuple[str, ...], spelled: tuple[str, ...]
) -> str | None:
    """The place a handler refuses itself in (``sections``: lower-cased, outermost first)."""
    rows = _contexts().get(directive.key)
    if rows is None or not sections:
        return None
    flags = rows.get(str(len(directive.args)), rows.get("*", ""))
    name = canonical_name(directive.key) or directive.name
    if "V" in flags and "virtualhost" in sections:
        return f"{name} cannot occur within <VirtualHost> section"
    if "L" in flags and ("limit" in sections or "limitexcept" in sections):
        return f"{name} cannot occur within <Limit> or <LimitExcept> section"
    if "C" in flags and not PATH_SECTIONS.isdisjoint(sections):
        return f"{name} cannot occur within directory context"
    for flag, parents in _PARENTS:
        if flag not in flags:
            continue
        # find_parent walks up from the directive: the nearest such section.
        for index in range(len(sections) - 1, -1, -1):
            if sections[index] in parents:
                return f"{name} cannot occur within <{spelled[index]}> section"
    return None
