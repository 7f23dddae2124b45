"""The options naming what a command reads (``--root``, ``--apache-conf``,
``-D``, ``--env``, ``--sysctl``, ``--facts``...) and the facts they give.

Shared by ``audit``, ``facts``, ``fix`` and ``diagnose``; kept apart from
cli.py so that each command module stays about one job.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

from .cli_support import ShellPattern, fail

if TYPE_CHECKING:
    from .engine.config import AuditConfig
    from .facts import HostFacts
    from .rootfs import RootFS

__all__ = [
    "APACHE_BUILDS",
    "environment_option",
    "facts_from_sources",
    "files_read",
    "source_options",
    "tool_inputs",
]

F = TypeVar("F", bound=Callable[..., Any])


def _kernel_release(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is not None and not re.match(r"^\d+\.\d+(?:[.-]|$)", value):
        raise click.BadParameter(
            f"{value!r} is not a kernel release such as 5.10 or 6.1.0-27-amd64"
        )
    return value


# The names of tcpaudit.apache.build.BUILD_NAMES, spelt out so that --help does
# not import the Apache loader (a test keeps the two equal).
APACHE_BUILDS = ("debian", "rhel", "suse", "gentoo", "upstream")
# Linux's MAX_ARG_STRLEN: httpd could not receive a longer environment string.
_MAX_ENV_VALUE_BYTES = 128 * 1024


def environment_option(
    ctx: click.Context, param: click.Parameter, values: tuple[str, ...]
) -> dict[str, str]:
    environment: dict[str, str] = {}
    for item in values:
        name, sep, value = item.partition("=")
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise click.BadParameter(f"{item!r} is not NAME=VALUE")
        if len(item) >= _MAX_ENV_VALUE_BYTES:
            raise click.BadParameter(
                f"{name}: longer than the {_MAX_ENV_VALUE_BYTES} bytes execve passes in one "
                "environment string"
            )
        environment[name] = value
    return environment


def source_options(function: F) -> F:
    options = [
        click.option(
            "--root",
            type=click.Path(exists=True, file_okay=False),
            default="/",
            help="Directory that stands for the audited host's / (default: this host).",
        ),
        click.option(
            "--apache-conf", help="Main Apache configuration file (default: found by layout)."
        ),
        click.option(
            "--apache-version",
            help="Apache version, e.g. 2.2 or 2.4.62 (default: from the httpd binary, the "
            "package database or os-release, else inferred from the configuration).",
        ),
        click.option(
            "--apache-build",
            type=click.Choice(list(APACHE_BUILDS)),
            help="Which httpd build runs the configuration, hence which modules it has built "
            "in (default: worked out from the root: binary, os-release, layout).",
        ),
        click.option(
            "-D",
            "--define",
            "defines",
            multiple=True,
            metavar="NAME",
            help="Define NAME for <IfDefine>, as httpd -D (repeatable; added to the service's).",
        ),
        click.option(
            "-C",
            "directives",
            multiple=True,
            metavar="DIRECTIVE",
            help="Read DIRECTIVE before the main configuration file, as httpd -C (repeatable).",
        ),
        click.option(
            "-c",
            "late_directives",
            multiple=True,
            metavar="DIRECTIVE",
            help="Read DIRECTIVE after the main configuration file, as httpd -c (repeatable).",
        ),
        click.option(
            "--env",
            "environment",
            multiple=True,
            callback=environment_option,
            metavar="NAME=VALUE",
            help="A variable of httpd's environment for ${NAME} (repeatable; overrides the "
            "service's envvars, sysconfig or unit).",
        ),
        click.option(
            "--sysctl",
            "sysctl_source",
            type=click.Path(exists=True),
            help="Live sysctl values: a /proc/sys-like directory or `sysctl -a` output.",
        ),
        click.option(
            "--sysctl-boot",
            type=click.Choice(["systemd", "procps"]),
            help="Whose precedence decides persistent sysctl values (default: detected).",
        ),
        click.option(
            "--kernel-version",
            callback=_kernel_release,
            help="Kernel release for defaults, e.g. 5.10 or 6.1.0-27-amd64 (default: read "
            "from proc).",
        ),
        click.option(
            "--facts",
            "facts_file",
            type=click.Path(exists=True, dir_okay=False),
            help="Read a facts document instead of files: `tcpaudit facts` JSON, an Ansible "
            "snapshot (ansible_facts.tcpaudit), or `ansible -m tcpaudit.audit.facts --tree` output.",
        ),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def facts_from_sources(
    root: str,
    apache_conf: str | None,
    apache_version: str | None,
    sysctl_source: str | None,
    sysctl_boot: str | None,
    kernel_version: str | None,
    facts_file: str | None,
    apache_build: str | None = None,
    defines: tuple[str, ...] = (),
    directives: tuple[str, ...] = (),
    environment: dict[str, str] | None = None,
    late_directives: tuple[str, ...] = (),
) -> HostFacts:
    if facts_file is not None:
        given = [
            option
            for option, value in (
                ("--root", root != "/"),
                ("--apache-conf", apache_conf),
                ("--apache-version", apache_version),
                ("--apache-build", apache_build),
                ("-D", defines),
                ("-C", directives),
                ("-c", late_directives),
                ("--env", environment),
                ("--sysctl", sysctl_source),
                ("--sysctl-boot", sysctl_boot),
                ("--kernel-version", kernel_version),
            )
            if value
        ]
        if given:
            fail(f"--facts reads a facts document; {', '.join(given)} would be ignored")
        from .snapshot import load_facts_document

        return load_facts_document(facts_file)
    from .facts import gather

    facts = gather(
        root,
        apache_conf,
        sysctl_source,
        apache_version=apache_version,
        sysctl_boot=sysctl_boot,  # type: ignore[arg-type]  # click.Choice restricts it
        kernel_version=kernel_version,
        apache_build=apache_build,  # type: ignore[arg-type]  # click.Choice restricts it
        defines=defines,
        directives=directives,
        environment=environment,
        late_directives=late_directives,
    )
    return facts


# The trees of an audited root that hold what tcpaudit reads as the host's.
_HOST_TREES = ("etc", "usr", "lib", "lib64", "run", "var", "proc", "sys")

# Files of a root the audit reads besides those its facts list.
_ALSO_READ = ("etc/hostname", "etc/os-release", "usr/lib/os-release", "proc/sys/kernel/osrelease")


def files_read(facts: HostFacts, sources: dict[str, Any], *others: str | None) -> list[str]:
    """The files an audit of ``sources`` read (``others``: tcpaudit.toml, a
    baseline...), for ``write_output`` to refuse writing over one."""
    from pathlib import Path

    found: list[str] = [other for other in (sources.get("facts_file"), *others) if other]
    if sources.get("sysctl_source"):
        found.append(sources["sysctl_source"])
    if sources.get("facts_file"):
        return found
    from .rootfs import RootFS
    from .sysctl.persistent import SYSCTL_CONF, SYSCTL_DIRECTORIES

    fs = RootFS(Path(sources["root"]))
    if os.path.realpath(sources["root"]) != "/":
        # What tcpaudit reads as a host's (its loaders probe names there: a
        # main file of another layout, an envvars not there yet): a report
        # written there is read as configuration next time.
        found += [str(Path(sources["root"]) / name) for name in _HOST_TREES]
    from .apache.build import EVIDENCE_FILES

    listed: list[str] = [*_ALSO_READ, *EVIDENCE_FILES]
    if facts.apache is not None:
        listed += facts.apache.files
        listed += facts.apache.looked_for
        if facts.apache.invocation is not None:
            listed += facts.apache.invocation.files
            if facts.apache.invocation.binary:
                listed.append(facts.apache.invocation.binary)
    if facts.sysctl is not None:
        listed += [*facts.sysctl.persistent_files, SYSCTL_CONF]
        if not sources.get("sysctl_source"):
            # The live tree is read whole: every value file, and any new one
            # the next run would take for a key.
            listed.append("proc/sys")
    for name in listed:
        found.extend(_as_read(fs, name))
    if facts.apache is not None:
        # Include wildcards: a new file one matches is configuration next time.
        found += [f"{directory}/{wildcard}" for directory, wildcard in facts.apache.wildcards]
        # And the directories Include read whole, any file in them (hidden
        # ones too) and in those below them.
        found += facts.apache.directories_read
        # What the start-up files' reading asked about: a file appearing
        # there is sourced, read as an environment file or unit, or changes
        # a test, next time.
        found += _names_asked(fs, facts.apache.startup_names)
        found += [
            ShellPattern(f"{directory}/{pattern}")
            for directory, pattern in facts.apache.startup_patterns
        ]
    if facts.sysctl is not None and not sources.get("sysctl_source"):
        for directory in SYSCTL_DIRECTORIES:
            found += [f"{real}/*.conf" for real in _as_read(fs, directory)]
    return found


def tool_inputs(config: AuditConfig | None = None) -> list[str]:
    """What tcpaudit itself reads besides the audited host: its configuration
    (the file found or named, and each name the search looks at from the
    working directory up, where a new file would be found next time) and
    the rule directories, read whole."""
    from pathlib import Path

    start = Path.cwd()
    names = [
        str(directory / name)
        for directory in (start, *start.parents)
        for name in ("tcpaudit.toml", "pyproject.toml")
    ]
    if config is not None:
        if config.source is not None:
            names.append(str(config.source))
        names += [str(directory) for directory in config.rules_dirs]
    return names


def _names_asked(fs: RootFS, names: list[str]) -> list[str]:
    """Where each of ``names`` leads inside the root, but a directory (asking
    whether one exists reads none of its files, and no report replaces it).
    A name not there is given with its wildcard characters escaped:
    ``write_output`` takes a name holding one for an Include wildcard."""
    found: list[str] = []
    for name in names:
        for real in _as_read(fs, name):
            if os.path.isdir(real):
                continue
            found.append(real if os.path.lexists(real) else _escaped_leaf(real))
    return found


def _escaped_leaf(path: str) -> str:
    """``path`` with a backslash before each ``\\``, ``*``, ``?`` and ``[`` of
    its last name, which a wildcard then matches as itself."""
    directory, slash, leaf = path.rpartition("/")
    return directory + slash + re.sub(r"([\\*?\[])", r"\\\1", leaf)


def _as_read(fs: RootFS, name: str) -> list[str]:
    """Where ``name`` leads inside the root, as the loaders read it (its
    directory's, for a name that does not exist: the run looked for it)."""
    path = "/" + name.lstrip("/")
    try:
        return [str(fs.resolve(path))]
    except FileNotFoundError:
        parent, _, leaf = path.rpartition("/")
        try:
            return [f"{fs.resolve(parent or '/')}/{leaf}"]
        except (OSError, ValueError):
            return []
    except (OSError, ValueError):
        return []
