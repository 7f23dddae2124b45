"""Find a host's main Apache configuration and the start-up inputs around it.

Distributions keep httpd.conf in different places and feed httpd extra
variables (Debian's envvars), ``-D`` flags (RHEL's /etc/sysconfig/httpd
``OPTIONS``, Gentoo's /etc/conf.d/apache2 ``APACHE2_OPTS``) or even the MPM
(RHEL 6 ``HTTPD=/usr/sbin/httpd.worker``). This module finds them; it reads
no directive.
"""

from __future__ import annotations

import os
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from ..errors import UsageError
from ..inputs import read_text
from ..rootfs import RootFS

__all__ = ["LAYOUTS", "Layout", "StartupInputs", "find_main_config", "read_startup_inputs"]


@dataclass(frozen=True, slots=True)
class Layout:
    """Where one distribution family keeps its Apache configuration."""

    name: str
    main_file: str
    server_root: str
    environment_file: str | None = None
    options_file: str | None = None


# Order matters: the first layout whose main file exists wins.
LAYOUTS: tuple[Layout, ...] = (
    Layout(
        "debian",
        "/etc/apache2/apache2.conf",
        "/etc/apache2",
        environment_file="/etc/apache2/envvars",
    ),
    Layout("rhel", "/etc/httpd/conf/httpd.conf", "/etc/httpd", options_file="/etc/sysconfig/httpd"),
    Layout(
        "gentoo",
        "/etc/apache2/httpd.conf",
        "/usr/lib64/apache2",
        options_file="/etc/conf.d/apache2",
    ),
    Layout("upstream", "/usr/local/apache2/conf/httpd.conf", "/usr/local/apache2"),
    Layout("freebsd", "/usr/local/etc/apache24/httpd.conf", "/usr/local"),
)


@dataclass(slots=True)
class StartupInputs:
    """What httpd is started with besides its configuration files."""

    environment: dict[str, str] = field(default_factory=dict)
    defines: list[str] = field(default_factory=list)
    binary: str | None = None
    files: list[str] = field(default_factory=list)


def find_main_config(fs: RootFS, override: str | None) -> tuple[Layout, Path] | None:
    """Return the layout and real path of the main configuration, or None when absent.

    Args:
        fs: the audited root.
        override: a path given by the user; absolute paths are inside the root,
            relative ones relative to the working directory.
    """
    if override is not None:
        candidate = PurePosixPath(override)
        if candidate.is_absolute():
            real, tree = fs.resolve(candidate), candidate
        else:
            # Relative to the working directory, and still inside the root:
            # the audit never reads the host's files for an audited tree.
            absolute = Path(os.path.abspath(override))
            if not absolute.is_relative_to(fs.root):
                raise UsageError(
                    f"{override}: the Apache configuration is outside --root {fs.root}"
                )
            tree = fs.tree_path(absolute)
            real = fs.resolve(tree)
        for layout in LAYOUTS:
            if str(tree) == layout.main_file:
                return layout, real
        server_root = tree.parent.parent if tree.parent.name == "conf" else tree.parent
        return Layout("custom", str(tree), str(server_root)), real
    for layout in LAYOUTS:
        real = fs.resolve(layout.main_file)
        if real.is_file():
            return layout, real
    return None


_ASSIGNMENT = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$")
_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)")


def _shell_assignments(text: str) -> dict[str, str]:
    """Plain ``NAME=value`` lines of a shell fragment; anything cleverer is ignored."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        match = _ASSIGNMENT.match(line)
        if not match:
            continue
        raw = match.group(2).strip()
        try:
            words = shlex.split(raw, comments=True)
        except ValueError:
            continue
        value = " ".join(words) if words else ""
        values[match.group(1)] = _REFERENCE.sub(
            lambda ref: values.get(ref.group(1) or ref.group(2), ""), value
        )
    return values


def _define_flags(options: str) -> list[str]:
    try:
        words = shlex.split(options)
    except ValueError:
        return []
    defines: list[str] = []
    for index, word in enumerate(words):
        if word == "-D" and index + 1 < len(words):
            defines.append(words[index + 1])
        elif word.startswith("-D") and len(word) > 2:
            defines.append(word[2:])
    return defines


def read_startup_inputs(fs: RootFS, layout: Layout) -> StartupInputs:
    """Read envvars / sysconfig / conf.d files of a layout when the root has them."""
    inputs = StartupInputs()
    for tree_file in (layout.environment_file, layout.options_file):
        if tree_file is None:
            continue
        real = fs.resolve(tree_file)
        if not real.is_file():
            continue
        try:
            text = read_text(real)  # regular files only, 64 MiB at most
        except OSError:
            continue
        inputs.files.append(fs.display(real))
        values = _shell_assignments(text)
        if tree_file == layout.environment_file:
            inputs.environment.update(values)
        else:
            inputs.defines.extend(_define_flags(values.get("OPTIONS", "")))
            inputs.defines.extend(_define_flags(values.get("APACHE2_OPTS", "")))
            if values.get("HTTPD"):
                inputs.binary = values["HTTPD"]
    return inputs
