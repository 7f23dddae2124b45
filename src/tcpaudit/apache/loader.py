"""``load_apache``: from a root (and optional overrides) to an ``ApacheConfig``.

Glues the parts together: ``locate`` finds the main file, ``build`` which
httpd runs it, ``invocation`` how the service starts it (``-D``, ``-C``,
environment), ``evaluator`` reads the files as httpd would, ``effective``
extracts the settings. It also decides the two facts the files do not state
outright, the Apache version and the MPM, and records how it decided them
(option, binary, package, os-release, inferred, assumed).
"""

from __future__ import annotations

import gc
import logging
import os
import posixpath
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Literal

from ..errors import ApacheConfigError, UsageError, raises_only_documented_errors
from ..notes import limit_notes
from ..provenance import Location, Note
from ..rootfs import RootFS
from .build import BuildName, binary_beside, detect_build
from .command_line import directives_shown
from .effective import (
    TRACKED_KEYS,
    atoi_note,
    proxy_routes,
    server_settings,
    validate_directive,
    virtual_hosts,
)
from .evaluator import (
    COMMAND_LINE_FILE,
    EvaluationResult,
    check_result,
    evaluate,
    hide_secret_substitutions,
)
from .invocation import Invocation, read_invocation
from .locate import find_main_config, layout_for_build
from .memory import MemoryGuard, counted_load
from .model import ApacheConfig, ApacheInvocation, MpmName, VirtualHost, version_tuple
from .proxy import counting, server_workers
from .secret_hiding import notes_without_secret_values, secret_values_hider, without_secret_values
from .secret_words import redact_text
from .shell_redirections import SHAPED_LIKE_SECRET, looks_secret, shown_directive, shown_name
from .shell_state import redact_environment
from .tls_servers import TlsDirectives
from .tree import Directive

__all__ = ["infer_version", "load_apache"]

log = logging.getLogger(__name__)

_MPMS: tuple[MpmName, ...] = ("prefork", "worker", "event")
VersionSource = Literal["option", "inferred", "binary", "package", "os-release"]
MpmSource = Literal["LoadModule", "sysconfig", "assumed", "option", "build"]
# Modules that exist only in one major version (httpd's modules/ trees).
_ONLY_2_2 = frozenset(
    {"authn_default_module", "authz_default_module", "mem_cache_module", "disk_cache_module"}
)
_ONLY_2_4 = frozenset(
    {"authz_core_module", "unixd_module", "slotmem_shm_module", "socache_shmcb_module"}
)


def infer_version(result: EvaluationResult) -> tuple[str, str]:
    """Guess 2.2 or 2.4 from what the configuration loads and uses; say why.

    Only modules the configuration loads itself count: the ones a build links
    in (mod_unixd on Debian 2.4) say nothing about the version of this tree.
    """
    modules = result.load_module_names
    if any(name.startswith("mpm_") and name != "mpm_prefork_module" for name in modules) or (
        modules & _ONLY_2_4
    ):
        return "2.4", "loads modules that exist only in 2.4"
    if "mpm_prefork_module" in modules:
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


@raises_only_documented_errors
def load_apache(
    path: str | os.PathLike[str] | None = None,
    root: str | os.PathLike[str] | RootFS = "/",
    version: str | None = None,
    *,
    defines: Sequence[str] = (),
    mpm: MpmName | None = None,
    compiled_in: tuple[str, ...] | None = None,
    build: BuildName | None = None,
    directives: Sequence[str] = (),
    environment: Mapping[str, str] | None = None,
    late_directives: Sequence[str] = (),
    server_root: str | None = None,
) -> ApacheConfig | None:
    """Load the effective Apache configuration of a host.

    Args:
        path: the main configuration file; None takes the one the service
            starts httpd with (``-f``), else finds it by distribution layout.
            An absolute path is taken inside ``root``.
        root: the directory that stands for the audited host's ``/`` (or its
            ``RootFS``, to share one view of the root with other loaders).
        version: the Apache version (``2.4`` or ``2.4.62``); None takes it
            from the build (binary, package database, os-release) or infers it.
        defines: extra ``-D`` names, as on httpd's command line (after the
            service's own).
        mpm: the MPM linked into httpd (2.2 builds, Gentoo, openSUSE) when the
            root does not tell; a LoadModule wins in 2.4.
        compiled_in: identifiers of the modules linked into httpd, as
            ``httpd -l`` shows them (``core_module``...); None takes them from
            the build (``build.detect_build``).
        build: the httpd build family (``debian``, ``rhel``, ``suse``,
            ``gentoo``, ``upstream``); None works it out from the root.
        directives: extra ``-C`` directives, read before the main file (after
            the service's own).
        environment: variables of httpd's environment for ``${NAME}``; they
            override the service's.
        late_directives: extra ``-c`` directives, read after the main file
            (after the service's own).
        server_root: httpd's ``-d``: the ServerRoot before any directive
            (the service's own ``-d`` otherwise, else the layout's). Unlike a
            ``ServerRoot`` line, httpd does not check that it is a directory.

    Returns:
        The configuration, or None when ``path`` is None and no configuration
        exists under ``root``.

    Raises:
        ApacheConfigError: a configuration httpd would refuse, or an unreadable file.
        UsageError: ``path`` names no file, or an option is not understood.

    Example::

        config = tcpaudit.load_apache(root="tests/corpus/debian-12-apache2.4")
        assert (config.layout, config.mpm) == ("debian", "event")
        timeout = config.settings["Timeout"]
        assert (timeout.value, timeout.file, timeout.line) == (300, "etc/apache2/apache2.conf", 92)
        # The same tree as a service started with -D SSL and its own -C line reads it:
        tuned = tcpaudit.load_apache(
            root="tests/corpus/debian-12-apache2.4", defines=["SSL"], directives=["Timeout 20"]
        )
        assert tuned.settings["Timeout"].value == 300  # the file's line, read after -C, wins
    """
    request = _Request(
        tuple(defines),
        mpm,
        compiled_in,
        build,
        tuple(directives),
        dict(environment or {}),
        tuple(late_directives),
        server_root,
    )
    with _without_cycle_collection(), counted_load():
        return _load(path, root, version, request)


@dataclass(frozen=True, slots=True)
class _Request:
    """What the caller asked for besides the root, the main file and the version."""

    defines: tuple[str, ...]
    mpm: MpmName | None
    compiled_in: tuple[str, ...] | None
    build: BuildName | None
    directives: tuple[str, ...]
    environment: dict[str, str]
    late_directives: tuple[str, ...]
    server_root: str | None = None


@dataclass(frozen=True, slots=True)
class _Start:
    """The service's invocation with the caller's additions: what httpd starts with."""

    defines: tuple[str, ...]
    before: tuple[str, ...]
    after: tuple[str, ...]
    environment: dict[str, str]
    sysconfig_mpm: MpmName | None
    linked_mpm: MpmName | None

    @classmethod
    def of(cls, invocation: Invocation, request: _Request, release: tuple[int, ...]) -> _Start:
        sysconfig_mpm: MpmName | None = None
        if invocation.binary and release < (2, 4):
            # RHEL 6: HTTPD=/usr/sbin/httpd.worker picks a binary, hence a linked MPM.
            sysconfig_mpm = next(
                (name for name in _MPMS if invocation.binary.endswith(f".{name}")), None
            )
        return cls(
            defines=(*invocation.defines, *request.defines),
            before=(*invocation.before, *request.directives),
            after=(*invocation.after, *request.late_directives),
            environment=redact_environment({**invocation.environment, **request.environment}),
            sysconfig_mpm=sysconfig_mpm,
            linked_mpm=request.mpm or sysconfig_mpm,
        )


def _version_source(evidence: str) -> VersionSource:
    if evidence.startswith("binary"):
        return "binary"
    if evidence.startswith("etc/os-release"):
        return "os-release"
    return "package"


def _load(
    path: str | os.PathLike[str] | None,
    root: str | os.PathLike[str] | RootFS,
    version: str | None,
    request: _Request,
) -> ApacheConfig | None:
    fs = root if isinstance(root, RootFS) else RootFS(root)
    located = find_main_config(fs, None if path is None else os.fspath(path))
    if located is None:
        return None
    layout, main_real = located
    detected = detect_build(fs, layout.name, request.build, main_file=str(layout.main_file))
    layout = layout_for_build(layout, detected.name)
    notes: list[Note] = []

    release_hint = version_tuple(version or detected.version or "2.4")
    invocation = read_invocation(fs, detected.name, release_hint, layout.environment_file)
    server_root = request.server_root or invocation.server_root or layout.server_root
    main_shown = fs.display_tree(layout.main_file)
    if path is None and invocation.config_file is not None:
        # The service names its main file (-f), relative to its ServerRoot.
        tree = PurePosixPath(
            posixpath.normpath(posixpath.join(server_root, invocation.config_file))
        )
        main_real, main_shown = fs.resolve(tree), fs.display_tree(tree)
    if not main_real.is_file():
        raise UsageError(f"{main_shown}: no such Apache configuration file")
    start = _Start.of(invocation, request, release_hint)
    # The readings check their growth and time; what is built from them counts too.
    memory = MemoryGuard()
    memory.check(main_shown, None)  # the command's earlier loads may have taken the bound

    def run(release: tuple[int, ...], assume_mpm: bool = True) -> EvaluationResult:
        compiled = (
            request.compiled_in
            if request.compiled_in is not None
            else detected.compiled_in(release, start.linked_mpm, assume_mpm=assume_mpm)
        )
        return evaluate(
            fs,
            main_real,
            server_root=PurePosixPath(server_root),
            version=release,
            compiled_in=compiled,
            defines=start.defines,
            environment=start.environment,
            main_shown=main_shown,
            before=start.before,
            after=start.after,
            check=False,
            guard=memory,
        )

    version_source: VersionSource
    if version is not None:
        release = version_tuple(version)
        if len(release) < 2 or release[0] != 2 or release[1] not in (2, 4):
            raise UsageError(f"unsupported Apache version {version!r}: use 2.2 or 2.4[.patch]")
        result = run(release)
        version_text, version_source = ".".join(map(str, release)), "option"
    elif detected.version is not None and detected.version_source is not None:
        release = version_tuple(detected.version)
        result = run(release)
        version_text = detected.version
        version_source = _version_source(detected.version_source)
        notes.append(Note(message=f"Apache version {version_text} from {detected.version_source}"))
    else:
        # Which directives exist depends on the version, so the check waits
        # until the version is known; a 2.2 verdict means reading again as 2.2.
        result = run((2, 4))
        version_text, why = infer_version(result)
        version_source = "inferred"
        notes.append(Note(message=f"Apache version {version_text} inferred: {why}"))
        release = version_tuple(version_text)
        if release < (2, 4):
            # 2.2-era services start httpd otherwise (RHEL 6's init script);
            # the next run reads both ways too, so both readings' queries count.
            invocation = read_invocation(
                fs, detected.name, release, layout.environment_file, invocation.queries
            )
            start = _Start.of(invocation, request, release)
            result = run(release)
    if (
        request.compiled_in is None
        and release >= (2, 4)
        and start.linked_mpm is None
        and len([name for name in result.modules if name.startswith("mpm_")]) > 1
    ):
        # The family usually links its MPM in (Gentoo, openSUSE), but nothing
        # showed this build does and the configuration loads one itself.
        result = run(release, assume_mpm=False)
    try:
        check_result(
            result,
            release,
            lambda directive, sections: _validate(directive, sections, release, notes),
            TRACKED_KEYS,
            guard=memory,
        )
    except ApacheConfigError as error:
        raise without_secret_values(error, result.secret_values) from None
    hide_secret_substitutions(result, memory)

    mpm_name, mpm_source = _decide_mpm(
        result, release, request.mpm, start.sysconfig_mpm, detected.linked_mpm is not None
    )
    if mpm_source == "assumed":
        notes.append(Note(message=f"MPM {mpm_name} assumed: Apache {version_text} links it in"))
    elif mpm_source == "build" and detected.mpm_source is not None:
        notes.append(Note(message=f"MPM {mpm_name} linked into httpd ({detected.mpm_source})"))
    if log.isEnabledFor(logging.DEBUG):
        # Logged from the final reading only: inferring the version may read twice.
        for shown in result.files:
            log.debug("read %s", shown)
    try:
        settings, setting_notes = server_settings(
            result.directives, release, mpm_name, result.modules
        )
        memory.check(main_shown, None)
        vhosts = virtual_hosts(
            result.directives, release, memory, notes, server_workers(result.directives)
        )
    except ApacheConfigError as error:
        raise without_secret_values(error, result.secret_values) from None
    notes += _patch_level_notes(release, vhosts)
    # Each MPM's pre_config reads them once the files are read (Define and
    # UnDefine included): one child in the foreground serves every connection.
    one_process = next((name for name in ("DEBUG", "ONE_PROCESS") if name in result.defines), None)
    if one_process is not None:
        notes.append(
            Note(
                message=f"{one_process} is defined: httpd runs one child in the foreground, "
                f"which serves {'one connection' if mpm_name == 'prefork' else 'ThreadsPerChild connections'} "
                "at a time, whatever MaxRequestWorkers says"
            )
        )
    hidden = secret_values_hider(result.secret_values)

    def shown_command(line: str) -> str:
        return hidden(shown_directive(line))

    def reached(number: int) -> None:
        memory.check(COMMAND_LINE_FILE, number)

    config = ApacheConfig(
        version=version_text,
        version_source=version_source,
        mpm=mpm_name,
        mpm_source=mpm_source,
        layout=layout.name,
        build=detected.name,
        build_source=detected.source,
        invocation=ApacheInvocation(
            how=invocation.how or None,
            binary=invocation.binary,
            files=invocation.files,
            # Shown, never read again: a -D or -C given a secret is replaced.
            defines=[
                SHAPED_LIKE_SECRET if looks_secret(name) else redact_text(name)
                for name in start.defines
            ],
            # A -C Define's value used as a password is hidden too.
            directives=directives_shown(start.before, shown_command, reached),
            late_directives=directives_shown(start.after, shown_command, reached),
            environment=sorted(shown_name(name) for name in start.environment),
        ),
        one_process=one_process,
        main_file=main_shown,
        server_root=str(result.server_root),
        files=result.files,
        modules=result.modules,
        settings=settings,
        vhosts=vhosts,
        proxy_routes=proxy_routes(result.directives, check=counting(memory.check)),
        secret_value_lines=[
            Location(file=file, line=line) for file, line in result.secret_value_lines
        ],
        macro_body_lines=[Location(file=file, line=line) for file, line in result.macro_body_lines],
        main_server_tls=TlsDirectives.of(result.directives).speaks_tls,
        # Limited first: hiding the secrets' forms reads each note kept.
        notes=notes_without_secret_values(
            limit_notes([*notes, *invocation.notes, *setting_notes, *result.notes]),
            result.secret_values,
        ),
    )
    config._directives = result.directives
    config._wildcards = result.wildcards
    config._looked_for = result.missing_includes
    config._directories_read = result.directories_read
    # The binary beside the main file gives the build: a new one there changes it.
    config._startup_names = [*invocation.queries.names, *binary_beside(str(layout.main_file))]
    config._startup_patterns = list(invocation.queries.patterns)
    if result.secret_values:
        config._secret_hider = hidden
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
    linked_known: bool,
) -> tuple[MpmName, MpmSource]:
    """The MPM and how it is known; ``linked_known``: the build's evidence names a linked one."""
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
        # Linked in (openSUSE, Gentoo, a binary that says so).
        if loaded:
            return loaded[0], "build" if linked_known else "assumed"
        return "event", "assumed"
    if forced:
        return forced, "option"
    if sysconfig_mpm:
        return sysconfig_mpm, "sysconfig"
    if loaded and linked_known:
        return loaded[0], "build"
    return (loaded[0] if loaded else "prefork"), "assumed"
