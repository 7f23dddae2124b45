"""Module names as httpd knows them: identifiers, source names, compiled-in sets.

``<IfModule>`` matches a module by its identifier (``reqtimeout_module``) or by
the file name of its source (``mod_reqtimeout.c``), and only once the module
is loaded. Most source names follow ``x_module -> mod_x.c``; the exceptions
are listed here from httpd's own sources.
"""

from __future__ import annotations

__all__ = [
    "COMPILED_IN",
    "compiled_in_modules",
    "module_source_name",
]

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
    "php5_module": "mod_php5.c",
    "php7_module": "mod_php7.c",
    "php_module": "mod_php.c",
}

# What `httpd -l` prints for the builds whose layouts tcpaudit recognises.
COMPILED_IN: dict[str, tuple[str, ...]] = {
    # Debian/Ubuntu apache2 2.4 (`apache2 -l`).
    "debian": (
        "core_module",
        "so_module",
        "watchdog_module",
        "http_module",
        "log_config_module",
        "logio_module",
        "version_module",
        "unixd_module",
    ),
    # RHEL/Fedora httpd 2.4, the official Docker image and most source builds.
    "generic-2.4": ("core_module", "so_module", "http_module"),
    # httpd 2.2 builds always link the MPM in; prefork unless built otherwise.
    "generic-2.2": ("core_module", "so_module", "http_module"),
}


def module_source_name(identifier: str) -> str:
    """Return the ``mod_x.c`` name ``<IfModule>`` also accepts for a module identifier."""
    known = _SOURCE_NAME_EXCEPTIONS.get(identifier)
    if known is not None:
        return known
    stem = identifier.removesuffix("_module")
    return f"mod_{stem}.c"


def compiled_in_modules(layout: str, version: tuple[int, ...], mpm_2_2: str) -> tuple[str, ...]:
    """Return the identifiers of the modules compiled into httpd for a layout and version.

    Args:
        layout: a layout name from ``locate.LAYOUTS`` (``debian``, ``rhel``...).
        version: the Apache version as a tuple.
        mpm_2_2: the MPM a 2.2 build links in (``prefork`` unless told).
    """
    if version < (2, 4):
        return (*COMPILED_IN["generic-2.2"], f"mpm_{mpm_2_2}_module")
    if layout == "debian":
        return COMPILED_IN["debian"]
    return COMPILED_IN["generic-2.4"]
