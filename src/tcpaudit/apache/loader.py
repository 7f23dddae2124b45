"""``load_apache``: from a root (and optional overrides) to an ``ApacheConfig``.

Glues the parts together: ``locate`` finds the files, ``evaluator`` reads them
as httpd would, ``effective`` extracts the settings. It also decides the two
facts the files do not state outright, the Apache version and the MPM, and
records how it decided them (option, inferred, assumed).
"""

from __future__ import annotations

import gc
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import PurePosixPath

from ..errors import ApacheConfigError, UsageError
from ..provenance import Note
from ..rootfs import RootFS
from .effective import (
    TRACKED_KEYS,
    atoi_note,
    proxy_routes,
    server_settings,
    validate_directive,
    virtual_hosts,
)
from .evaluator import EvaluationResult, check_result, evaluate
from .locate import find_main_config, read_startup_inputs
from .model import ApacheConfig, MpmName, VirtualHost, version_tuple
from .modules import compiled_in_modules
from .tree import Directive

__all__ = ["infer_version", "load_apache"]

log = logging.getLogger(__name__)

_MPMS: tuple[MpmName, ...] = ("prefork", "worker", "event")
# Modules that exist only in one major version (httpd's modules/ trees).
_ONLY_2_2 = frozenset(
    {"authn_default_module", "authz_default_module", "mem_cache_module", "disk_cache_module"}
)
_ONLY_2_4 = frozenset(
    {"authz_core_module", "unixd_module", "slotmem_shm_module", "socache_shmcb_module"}
)


def infer_version(result: EvaluationResult) -> tuple[str, str]:
    """Guess 2.2 or 2.4 from what the configuration loads and uses; say why."""
    modules = set(result.modules)
    if any(name.startswith("mpm_") and name != "mpm_prefork_module" for name in modules) or (
        modules & _ONLY_2_4
    ):
        return "2.4", "loads modules that exist only in 2.4"
    if "mpm_prefork_module" in modules and result.files:
        return "2.4", "loads the MPM as a module (2.4 only)"
    if modules & _ONLY_2_2:
        return "2.2", "loads modules that exist only in 2.2"
    keys = {d.key for d in result.directives}
    if "includeoptional" in keys or "mutex" in keys:
        return "2.4", "uses directives that exist only in 2.4"
    loads_modules = any(d.key == "loadmodule" for d in result.directives)
    if loads_modules or "maxclients" in keys or "namevirtualhost" in keys:
        return (
            "2.2",
            "loads no MPM module and uses 2.2-era directives (MaxClients, NameVirtualHost)",
        )
    return "2.4", "nothing in the configuration tells; assuming the current 2.4"


@contextmanager
def _without_cycle_collection() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while a configuration loads.

    Loading builds hundreds of thousands of long-lived objects (a node per
    directive) and almost no garbage cycles; with the collector on, its
    generation scans re-traverse that growing tree again and again and take
    about half the load time of a large configuration. Reference counting
    still frees everything as usual; the collector resumes afterwards (it is
    left off if the caller had turned it off).
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            # Re-enabled as is, the collector's first young-generation scan
            # would walk every node just built (about 0.1 s per 10,000 vhosts).
            # freeze() + unfreeze() files all tracked objects, the caller's
            # included, under the oldest generation instead, as surviving two
            # scans would; they are scanned again at the next full collection.
            gc.freeze()
            gc.unfreeze()
            gc.enable()


def load_apache(
    path: str | os.PathLike[str] | None = None,
    root: str | os.PathLike[str] = "/",
    version: str | None = None,
    *,
    defines: tuple[str, ...] = (),
    mpm: MpmName | None = None,
    compiled_in: tuple[str, ...] | None = None,
) -> ApacheConfig | None:
    """Load the effective Apache configuration of a host.

    Args:
        path: the main configuration file; None finds it under ``root`` by
            distribution layout. An absolute path is taken inside ``root``.
        root: the directory that stands for the audited host's ``/``.
        version: the Apache version (``2.4`` or ``2.4.62``); None infers it.
        defines: extra ``-D`` names, as on httpd's command line.
        mpm: the MPM linked into httpd (2.2 builds, Gentoo); a LoadModule wins in 2.4.
        compiled_in: identifiers of the modules linked into httpd, as
            ``httpd -l`` shows them (``core_module``...); None assumes the
            usual build of the layout (``modules.COMPILED_IN``).

    Returns:
        The configuration, or None when ``path`` is None and no configuration
        exists under ``root``.

    Raises:
        ApacheConfigError: a configuration httpd would refuse, or an unreadable file.
        UsageError: ``path`` names no file.
    """
    with _without_cycle_collection():
        return _load(path, root, version, defines, mpm, compiled_in)


def _load(
    path: str | os.PathLike[str] | None,
    root: str | os.PathLike[str],
    version: str | None,
    defines: tuple[str, ...],
    mpm: MpmName | None,
    compiled_in: tuple[str, ...] | None,
) -> ApacheConfig | None:
    fs = RootFS(root)
    located = find_main_config(fs, None if path is None else os.fspath(path))
    if located is None:
        return None
    layout, main_real = located
    if not main_real.is_file():
        raise UsageError(f"{fs.display(main_real)}: no such Apache configuration file")
    inputs = read_startup_inputs(fs, layout)
    all_defines = (*inputs.defines, *defines)
    notes: list[Note] = []

    sysconfig_mpm: MpmName | None = None
    if inputs.binary:
        for name in _MPMS:
            if inputs.binary.endswith(f".{name}"):
                sysconfig_mpm = name
    # 2.2 builds link their MPM in: RHEL 6 picks the binary (httpd.worker).
    compiled_mpm: MpmName = mpm or sysconfig_mpm or "prefork"

    def run(release: tuple[int, ...], linked_mpm: str | None = None) -> EvaluationResult:
        return evaluate(
            fs,
            main_real,
            server_root=PurePosixPath(layout.server_root),
            version=release,
            compiled_in=compiled_in
            if compiled_in is not None
            else compiled_in_modules(
                layout.name, release, compiled_mpm if release < (2, 4) else linked_mpm
            ),
            defines=all_defines,
            environment=inputs.environment,
            main_shown=fs.display_tree(layout.main_file),
            check=False,
        )

    if version is not None:
        release = version_tuple(version)
        if len(release) < 2 or release[0] != 2 or release[1] not in (2, 4):
            raise UsageError(f"unsupported Apache version {version!r}: use 2.2 or 2.4[.patch]")
        result = run(release)
        version_text, version_source = ".".join(map(str, release)), "option"
    else:
        # Which directives exist depends on the version, so the check waits
        # until the version is known; a 2.2 verdict means reading again as 2.2.
        result = run((2, 4))
        version_text, why = infer_version(result)
        version_source = "inferred"
        notes.append(Note(message=f"Apache version {version_text} inferred: {why}"))
        release = version_tuple(version_text)
        if release < (2, 4):
            result = run(release)
    loads_mpm = any(name.startswith("mpm_") for name in result.modules)
    if compiled_in is None and layout.name == "gentoo" and release >= (2, 4) and not loads_mpm:
        # Gentoo's ebuild links the one MPM of APACHE2_MPMS in; its httpd.conf
        # loads none. Read again with it, since <IfModule> blocks depend on it.
        result = run(release, linked_mpm=mpm or "prefork")
    check_result(
        result,
        release,
        lambda directive, sections: _validate(directive, sections, release, notes),
        TRACKED_KEYS,
    )

    mpm_name, mpm_source = _decide_mpm(result, release, mpm, sysconfig_mpm)
    if mpm_source == "assumed":
        notes.append(Note(message=f"MPM {mpm_name} assumed: Apache {version_text} links it in"))
    settings, setting_notes = server_settings(result.directives, release, mpm_name, result.modules)
    vhosts = virtual_hosts(result.directives, release)
    notes += _patch_level_notes(release, vhosts)
    config = ApacheConfig(
        version=version_text,
        version_source=version_source,
        mpm=mpm_name,
        mpm_source=mpm_source,
        layout=layout.name,
        main_file=fs.display_tree(layout.main_file),
        server_root=str(result.server_root),
        files=result.files,
        modules=result.modules,
        settings=settings,
        vhosts=vhosts,
        proxy_routes=proxy_routes(result.directives),
        notes=[*notes, *setting_notes, *result.notes],
    )
    config._directives = result.directives
    log.debug("loaded %d files, %d vhosts", len(config.files), len(config.vhosts))
    return config


def _validate(
    directive: Directive, sections: tuple[str, ...], release: tuple[int, ...], notes: list[Note]
) -> None:
    validate_directive(directive, sections, release)
    note = atoi_note(directive, release)
    if note is not None:
        notes.append(note)


def _patch_level_notes(release: tuple[int, ...], vhosts: list[VirtualHost]) -> list[Note]:
    """Say so when a 2.4 release without its patch level changes a vhost's value.

    Before 2.4.16 only the first name-based vhost of an address sets
    KeepAliveTimeout; tcpaudit reads a bare "2.4" as 2.4.16 or later, which
    RHEL/CentOS 7 (2.4.6) and other long-lived releases are not.
    """
    if release != (2, 4):
        return []
    seen: set[str] = set()
    for vhost in vhosts:
        later_on_address = vhost.address in seen
        seen.add(vhost.address)
        if later_on_address and "KeepAliveTimeout" in vhost.settings:
            return [
                Note(
                    message="Apache 2.4 patch level unknown: KeepAliveTimeout in a later "
                    "name-based vhost is taken to apply (2.4.16 and later); before 2.4.16 "
                    "httpd ignores it. Give --apache-version (e.g. 2.4.6) to judge an "
                    "older release.",
                    file=vhost.file,
                    line=vhost.settings["KeepAliveTimeout"].line,
                )
            ]
    return []


def _decide_mpm(
    result: EvaluationResult,
    release: tuple[int, ...],
    forced: MpmName | None,
    sysconfig_mpm: MpmName | None,
) -> tuple[MpmName, str]:
    loaded = [name for name in _MPMS if f"mpm_{name}_module" in result.modules]
    by_loadmodule = result.load_module_names
    if release >= (2, 4):
        if len(loaded) > 1:
            # httpd names no line either (AH00534, once everything is read),
            # so the error names the main file, as "No MPM loaded" does.
            raise ApacheConfigError(
                f"more than one MPM loaded ({', '.join(loaded)}); httpd refuses to start",
                file=result.main_file,
            )
        if loaded and f"mpm_{loaded[0]}_module" in by_loadmodule:
            return loaded[0], "LoadModule"
        if forced:
            return forced, "option"
        # Linked in (Gentoo) or given as compiled_in: the build decides.
        return (loaded[0] if loaded else "event"), "assumed"
    if forced:
        return forced, "option"
    if sysconfig_mpm:
        return sysconfig_mpm, "sysconfig"
    return "prefork", "assumed"
