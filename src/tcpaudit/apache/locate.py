"""Find a host's main Apache configuration by the layout of its distribution.

Distributions keep httpd.conf in different places, with different
compiled-in ServerRoots. This module finds the main file; ``invocation.py``
reads how the service starts httpd, ``build.py`` which httpd it is. It reads
no directive.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ..errors import UsageError
from ..rootfs import RootFS

__all__ = ["LAYOUTS", "SUSE", "Layout", "find_main_config", "layout_for_build"]


@dataclass(frozen=True, slots=True)
class Layout:
    """Where one distribution family keeps its Apache configuration."""

    name: str
    main_file: str
    server_root: str
    environment_file: str | None = None


# Order matters: the first layout whose main file exists wins.
LAYOUTS: tuple[Layout, ...] = (
    Layout(
        "debian",
        "/etc/apache2/apache2.conf",
        "/etc/apache2",
        environment_file="/etc/apache2/envvars",
    ),
    Layout("rhel", "/etc/httpd/conf/httpd.conf", "/etc/httpd"),
    Layout("gentoo", "/etc/apache2/httpd.conf", "/usr/lib64/apache2"),
    Layout("upstream", "/usr/local/apache2/conf/httpd.conf", "/usr/local/apache2"),
    Layout("freebsd", "/usr/local/etc/apache24/httpd.conf", "/usr/local"),
)


# openSUSE/SLES: the main file of Gentoo's layout, ServerRoot /srv/www (`httpd -V`).
SUSE = Layout("suse", "/etc/apache2/httpd.conf", "/srv/www")


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
                host_path = "/" + override.lstrip("./")
                raise UsageError(
                    f"{override}: a relative --apache-conf is taken from the working directory, "
                    f"which puts it outside --root {fs.root}; give the path the host uses "
                    f"(such as {host_path}), which is read inside --root"
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


def layout_for_build(layout: Layout, build: str) -> Layout:
    """The layout of a main file that several families share, once the build is known.

    openSUSE/SLES and Gentoo both keep /etc/apache2/httpd.conf; their compiled-in
    ServerRoot and start-up files differ.
    """
    if layout.main_file != SUSE.main_file or layout.name not in ("gentoo", "suse"):
        return layout
    return SUSE if build == "suse" else next(item for item in LAYOUTS if item.name == "gentoo")
