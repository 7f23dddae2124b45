"""What the audited root says of its httpd besides the binary: os-release and package records.

``build.py`` weighs these: ``etc/os-release`` (family, and for long-term
releases the httpd version they ship), dpkg's status file (Debian's exact
version, and a 2.2 host's MPM package), Portage's record (Gentoo's version
and the MPM of its USE flags) and openSUSE's ``APACHE_MPM``.
"""

from __future__ import annotations

import os
import re

from ..inputs import read_bytes
from ..rootfs import RootFS

__all__ = ["dpkg_status", "os_release", "portage_record", "release_version", "suse_mpm"]

_MAX_TEXT_BYTES = 8 * 1024 * 1024
# The httpd each long-term release ships (its package lists): the release keeps
# that version and backports fixes, so the version is exact.
_RELEASE_VERSIONS: dict[tuple[str, str], str] = {
    ("debian", "6"): "2.2.16",
    ("debian", "7"): "2.2.22",
    ("debian", "8"): "2.4.10",
    ("debian", "9"): "2.4.25",
    ("ubuntu", "12.04"): "2.2.22",
    ("ubuntu", "14.04"): "2.4.7",
    ("ubuntu", "16.04"): "2.4.18",
    ("ubuntu", "18.04"): "2.4.29",
    ("ubuntu", "20.04"): "2.4.41",
    ("ubuntu", "22.04"): "2.4.52",
    ("ubuntu", "24.04"): "2.4.58",
    ("rhel", "5"): "2.2.3",
    ("rhel", "6"): "2.2.15",
    ("rhel", "7"): "2.4.6",
    ("rhel", "8"): "2.4.37",
}
# Distributions that rebuild RHEL keep its httpd version.
_RHEL_REBUILDS = frozenset({"rhel", "centos", "rocky", "almalinux", "ol", "scientific"})


def _text(fs: RootFS, tree_path: str) -> str | None:
    try:
        real = fs.resolve(tree_path)
        if not real.is_file():
            return None
        return read_bytes(real, _MAX_TEXT_BYTES).decode("utf-8", errors="replace")
    except OSError:
        return None


def os_release(fs: RootFS) -> dict[str, str]:
    text = _text(fs, "/etc/os-release") or _text(fs, "/usr/lib/os-release") or ""
    values: dict[str, str] = {}
    for line in text.splitlines():
        name, sep, value = line.partition("=")
        if sep and name.strip().isidentifier():
            values[name.strip()] = value.strip().strip("\"'")
    return values


def release_version(release: dict[str, str]) -> tuple[str, str] | None:
    """The httpd version a long-term release ships, and how that is known."""
    os_id = release.get("ID", "").lower()
    version_id = release.get("VERSION_ID", "")
    key = "rhel" if os_id in _RHEL_REBUILDS else os_id
    major = version_id.split(".")[0]
    version = _RELEASE_VERSIONS.get((key, version_id)) or (
        _RELEASE_VERSIONS.get((key, major)) if key in ("rhel", "debian") else None
    )
    if version is None:
        return None
    name = release.get("PRETTY_NAME") or f"{os_id} {version_id}"
    return version, f"etc/os-release ({name} ships httpd {version})"


def _dpkg_fields(stanza: str) -> tuple[str, str] | None:
    """(package, version) of a stanza whose Status is "install ok installed".

    A line loop: a pattern with lazy scans between the fields took 13 s for
    a stanza of 8,000 "Package:" lines (quadratic in them).
    """
    package = version = None
    installed = False
    for line in stanza.split("\n"):
        if package is None:
            value = line[9:] if line.startswith("Package: ") else ""
            if value and len(value.split()) == 1 and not value[0].isspace():
                package = value
        elif not installed:
            installed = line.startswith("Status: install ok installed")
        elif line.startswith("Version: "):
            words = line[9:].split()
            version = words[0] if words and not line[9].isspace() else None
            if version is not None:
                return package, version
    return None


def dpkg_status(fs: RootFS) -> tuple[str | None, str | None]:
    """httpd version and 2.2 MPM package from dpkg's status file."""
    text = _text(fs, "/var/lib/dpkg/status")
    if not text:
        return None, None
    version = mpm = None
    for stanza in text.split("\n\n"):
        fields = _dpkg_fields(stanza)
        if fields is None:
            continue
        package, package_version = fields
        if package in ("apache2-bin", "apache2.2-bin", "apache2.2-common", "apache2-common"):
            upstream = re.match(r"(?:\d+:)?(\d{1,4}\.\d{1,4}\.\d{1,4})(?!\d)", package_version)
            if upstream and (version is None or package == "apache2-bin"):
                version = upstream.group(1)
        elif package.startswith("apache2-mpm-"):
            mpm = package.removeprefix("apache2-mpm-")
    return version, mpm


def portage_record(fs: RootFS) -> tuple[str | None, str | None, str | None]:
    """Gentoo: (version, linked MPM, the record's path) from var/db/pkg/www-servers/apache-*."""
    base = fs.resolve("/var/db/pkg/www-servers")
    try:
        # Listed through the resolved directory, one component at a time: a
        # tree swapped since resolution fails instead of listing elsewhere.
        with fs.open_real_directory(base) as descriptor, os.scandir(descriptor) as scan:
            entries = sorted(entry.name for entry in scan)
    except OSError:
        return None, None, None
    for entry in reversed(entries):
        match = re.fullmatch(r"apache-(\d{1,4}\.\d{1,4}\.\d{1,4})(?:-r\d+)?", entry)
        if match is None:
            continue
        use = _text(fs, f"/var/db/pkg/www-servers/{entry}/USE") or ""
        mpm = next(
            (word.removeprefix("apache2_mpms_") for word in use.split()
             if word.startswith("apache2_mpms_")),
            None,
        )  # fmt: skip
        return match.group(1), mpm, f"var/db/pkg/www-servers/{entry}"
    return None, None, None


def suse_mpm(fs: RootFS) -> str | None:
    text = _text(fs, "/etc/sysconfig/apache2") or ""
    # [ \t]*, not \s*: \s also takes line breaks, and from every line start
    # it ran over all the blank lines after it (8 MiB of them: hours).
    match = re.search(r"^[ \t]*APACHE_MPM=[\"']?(prefork|worker|event)\b", text, re.M)
    return match.group(1) if match else None
