"""Module names as httpd knows them: identifiers and source names (``build.py``: linked-in sets).

``<IfModule>`` matches a module by its identifier (``reqtimeout_module``) or by
the file name of its source (``mod_reqtimeout.c``), and only once the module
is loaded. Most source names follow ``x_module -> mod_x.c``; the exceptions
are listed here from httpd's own sources.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..errors import ApacheConfigError
from ..provenance import Note

__all__ = ["LoadedModules", "module_source_name"]

# Source file names that do not follow the x_module -> mod_x.c pattern
# (module structs in server/mpm/*/ and server/core.c, httpd 2.2 and 2.4).
_SOURCE_NAME_EXCEPTIONS = {
    "core_module": "core.c",
    "http_module": "http_core.c",
    "mpm_prefork_module": "prefork.c",
    "mpm_worker_module": "worker.c",
    "mpm_event_module": "event.c",
    "mpm_itk_module": "mpm_itk.c",
    "mpm_winnt_module": "mpm_winnt.c",
    "so_module": "mod_so.c",
    # modules/ldap/util_ldap.c defines ldap_module (`apache2 -L` shows util_ldap.c).
    "ldap_module": "util_ldap.c",
    "php5_module": "mod_php5.c",
    "php7_module": "mod_php7.c",
    "php_module": "mod_php.c",
}


def module_source_name(identifier: str) -> str:
    """Return the ``mod_x.c`` name ``<IfModule>`` also accepts for a module identifier."""
    known = _SOURCE_NAME_EXCEPTIONS.get(identifier)
    if known is not None:
        return known
    stem = identifier.removesuffix("_module")
    return f"mod_{stem}.c"


class LoadedModules:
    """The modules loaded so far, in load order, as ``LoadModule`` (mod_so.c) adds them."""

    def __init__(self, compiled_in: Iterable[str]) -> None:
        linked = list(compiled_in)
        self.compiled_in = frozenset(linked)
        self.order: dict[str, None] = dict.fromkeys(linked)
        self.source_names = {module_source_name(identifier) for identifier in linked}

    def __contains__(self, identifier: object) -> bool:
        return identifier in self.order

    def matches(self, name: str) -> bool:
        """``<IfModule name>``: a loaded module's identifier or source file name."""
        return name in self.order or name in self.source_names

    def load(self, identifier: str, file: str, number: int) -> Note | None:
        """Apply ``LoadModule identifier``; return the warning httpd would log, if any.

        A module loaded before is skipped with a warning (AH01574); loading one
        linked in from a ``mod_x.c`` source is an error (load_module in mod_so.c).
        """
        if identifier in self.compiled_in:
            source = module_source_name(identifier)
            if source == f"mod_{identifier.removesuffix('_module')}.c":
                raise ApacheConfigError(
                    f"module {identifier} is built-in and can't be loaded", file=file, line=number
                )
        if identifier in self.order:
            return Note(
                message=f"module {identifier} is already loaded, skipping", file=file, line=number
            )
        self.order[identifier] = None
        self.source_names.add(module_source_name(identifier))
        return None
