"""What httpd's walk of the configuration tree refuses, in the order it walks.

httpd reads every file first (``evaluator.py``), then walks the tree and
calls each directive's handler (``ap_walk_config`` in server/config.c). This
module repeats the checks of that walk that do not depend on the host: a
directive no loaded module registers ("Invalid command"), one used where its
module does not allow it ("not allowed here", from ``apache2 -L``'s "Allowed
in"), a section nested where core.c refuses it, and the errors the evaluator
found while reading but httpd reports only here (a section missing its
``>``). ``effective.validate_directive`` adds the values tcpaudit tracks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from ..errors import ApacheConfigError
from ..provenance import Note
from .directives import KEPT_READ_TIME_DIRECTIVES, allowed_here, canonical_name, directive_owners
from .tree import Directive

__all__ = ["check_commands"]

_BOM = "\ufeff"

# Sections that give their contents a directory context (cmd->path) and the
# checks core.c's section handlers make with ap_check_cmd_context.
_PATH_SECTIONS = frozenset(
    {"directory", "directorymatch", "location", "locationmatch", "files", "filesmatch",
     "if", "elseif", "else", "proxy", "proxymatch"}
)  # fmt: skip
_LIMITS = frozenset({"limit", "limitexcept"})
_NOT_IN_DIR_CONTEXT = frozenset(
    {"directory", "directorymatch", "location", "locationmatch", "proxy", "proxymatch"}
)


def _section_context_error(key: str, sections: tuple[str, ...]) -> str | None:
    """What core.c says when a section is nested where it may not be (2.4)."""
    name = key.lstrip("<")
    shown = f"{canonical_name(key) or key}>"
    if name == "virtualhost" and "virtualhost" in sections:
        return f"{shown} cannot occur within <VirtualHost> section"
    if name == "virtualhost" or name in _NOT_IN_DIR_CONTEXT:
        if _LIMITS & set(sections):
            return f"{shown} cannot occur within <Limit> or <LimitExcept> section"
        if _PATH_SECTIONS & set(sections):
            return f"{shown} cannot occur within directory context"
    if name in ("files", "filesmatch"):
        for parent in ("location", "locationmatch"):
            if parent in sections:
                return f"{shown} cannot occur within {canonical_name('<' + parent)}> section"
    return None


def check_commands(
    directives: list[Directive],
    modules: Iterable[str],
    version: tuple[int, ...],
    *,
    deferred: Mapping[int, str] | None = None,
    validate: Callable[[Directive, tuple[str, ...]], None] | None = None,
) -> list[Note]:
    """Walk the tree as httpd does after reading it, refusing what it refuses, in order.

    httpd reads every file first and only then walks the tree, so a module
    loaded after the directive that needs it still counts (ap_walk_config).
    For each directive, in tree order: a directive no loaded module registers
    is an "Invalid command"; then its own handler may refuse it (``deferred``
    errors found while reading, such as a section missing its ``>``, and
    ``validate`` for the values tcpaudit understands).

    Args:
        directives: the effective tree.
        modules: identifiers of the loaded modules.
        version: the Apache version.
        deferred: ``id(directive)`` -> the error its handler gives.
        validate: called with each directive and the names of its sections.

    Returns:
        Notes for directives no known module registers (third-party modules).

    Raises:
        ApacheConfigError: the first refusal, with the directive's file and line.
    """
    loaded = set(modules)
    notes: list[Note] = []
    unknown: set[str] = set()
    errors = deferred or {}

    known: dict[str, tuple[bool, bool, bool, bool]] = {}

    def verdict(key: str) -> tuple[bool, bool, bool, bool]:
        """(unknown, loaded, allowed outside, allowed inside a directory context) of a name."""
        cached = known.get(key)
        if cached is None:
            owners = directive_owners(key, version)
            modern = version >= (2, 4)
            cached = (
                owners is None,
                owners is None or bool(owners & loaded),
                not modern or allowed_here(key, False),
                not modern or allowed_here(key, True),
            )
            known[key] = cached
        return cached

    def walk(nodes: list[Directive], sections: tuple[str, ...], in_directory: bool) -> None:
        for directive in nodes:
            key = directive.key if directive.children is None else "<" + directive.key
            if key in KEPT_READ_TIME_DIRECTIVES:
                continue
            if key.lstrip("<").startswith(_BOM) or "${" in key:
                # No module registers a name that starts with a byte-order mark
                # or holds an undefined ${VAR} (httpd left it as written).
                _invalid(directive)
            is_unknown, is_loaded, outside, inside = verdict(key)
            if is_unknown:
                if key not in unknown:
                    unknown.add(key)
                    notes.append(
                        Note(
                            message=f"directive {directive.name} is not known to tcpaudit; "
                            "assuming a loaded module provides it",
                            file=directive.file,
                            line=directive.line,
                        )
                    )
            elif not is_loaded:
                _invalid(directive)
            elif not (inside if in_directory else outside):
                shown = directive.name if directive.children is None else "<" + directive.name
                raise ApacheConfigError(
                    f"{shown} not allowed here", file=directive.file, line=directive.line
                )
            if directive.children is not None and version >= (2, 4):
                misplaced = _section_context_error(key, sections)
                if misplaced is not None:
                    raise ApacheConfigError(misplaced, file=directive.file, line=directive.line)
            if errors and id(directive) in errors:
                raise ApacheConfigError(
                    errors[id(directive)], file=directive.file, line=directive.line
                )
            if validate is not None:
                validate(directive, sections)
            # A <Macro> kept in the tree (mod_macro loaded only after it) is run by
            # its handler at walk time, which never walks the body.
            if directive.children and key != "<macro":
                walk(
                    directive.children,
                    (*sections, directive.key),
                    in_directory or directive.key in _PATH_SECTIONS,
                )

    walk(directives, (), False)
    return notes


def _invalid(directive: Directive) -> None:
    shown = directive.name if directive.children is None else "<" + directive.name
    raise ApacheConfigError(
        f"Invalid command '{shown}', perhaps misspelled or defined by a module not "
        "included in the server configuration",
        file=directive.file,
        line=directive.line,
    )
