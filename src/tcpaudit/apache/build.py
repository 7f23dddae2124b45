"""Which httpd build runs on the audited root: its family, version and linked-in modules.

A configuration does not say which modules its httpd has built in, yet that
decides what it may use: Debian links mod_unixd in (``User`` needs no
LoadModule), openSUSE links mod_unixd and the MPM in (its ``<IfModule
prefork.c>`` blocks are true without a LoadModule), RHEL and upstream builds
link neither. This module works the build out from the root itself, strongest
evidence first, and says which evidence decided:

1. ``--apache-build`` (the option);
2. the httpd binary in the root, read as bytes and never run: its version
   string (``Apache/2.4.71 (Debian)``) and the module identifiers of httpd's
   ``ap_prelinked_module_symbols`` table (``core_module``, ``so_module``...),
   which is exactly what ``httpd -l`` prints;
3. the package database: dpkg's ``var/lib/dpkg/status`` (Debian, Ubuntu),
   Portage's ``var/db/pkg/www-servers/apache-*`` (Gentoo);
4. ``etc/os-release`` (``ID``, ``ID_LIKE``, ``VERSION_ID``);
5. the module directory, then the configuration's layout.

It reads no configuration directive (``loader.py`` does).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Literal

from ..errors import UsageError
from ..inputs import read_bytes
from ..rootfs import RootFS

__all__ = [
    "BUILD_NAMES",
    "Build",
    "BuildName",
    "detect_build",
    "read_binary",
    "static_modules",
]

BuildName = Literal["debian", "rhel", "suse", "gentoo", "upstream"]
BUILD_NAMES: tuple[BuildName, ...] = ("debian", "rhel", "suse", "gentoo", "upstream")

# httpd binaries are a few MiB; a file far larger is not one.
_MAX_BINARY_BYTES = 64 * 1024 * 1024
_MAX_TEXT_BYTES = 8 * 1024 * 1024

# Where each family installs its binary (the first that exists is read).
_BINARIES: dict[BuildName, tuple[str, ...]] = {
    "debian": ("/usr/sbin/apache2",),
    "rhel": ("/usr/sbin/httpd", "/usr/sbin/httpd.worker", "/usr/sbin/httpd.event"),
    "suse": (
        "/usr/sbin/httpd",
        "/usr/sbin/httpd-prefork",
        "/usr/sbin/httpd-worker",
        "/usr/sbin/httpd-event",
        "/usr/sbin/httpd2",
    ),
    "gentoo": ("/usr/sbin/apache2",),
    "upstream": ("/usr/local/apache2/bin/httpd", "/usr/local/sbin/httpd", "/usr/sbin/httpd"),
}
# Module directories by family (their presence is weak evidence of the family).
_MODULE_DIRS: tuple[tuple[str, BuildName], ...] = (
    ("/usr/lib/apache2/modules", "debian"),
    ("/usr/lib64/httpd/modules", "rhel"),
    ("/usr/lib/httpd/modules", "rhel"),
    ("/usr/lib64/apache2-prefork", "suse"),
    ("/usr/lib64/apache2-worker", "suse"),
    ("/usr/lib64/apache2-event", "suse"),
    ("/usr/lib64/apache2/modules", "gentoo"),
    ("/usr/local/apache2/modules", "upstream"),
)
# Configuration layouts (locate.LAYOUTS) -> the family that uses them.
_LAYOUT_FAMILIES: dict[str, BuildName] = {
    "debian": "debian",
    "rhel": "rhel",
    "gentoo": "gentoo",
    "suse": "suse",
    "upstream": "upstream",
    "freebsd": "upstream",
}
# os-release ID / ID_LIKE words -> family.
_OS_FAMILIES: dict[str, BuildName] = {
    "debian": "debian",
    "ubuntu": "debian",
    "raspbian": "debian",
    "rhel": "rhel",
    "centos": "rhel",
    "fedora": "rhel",
    "rocky": "rhel",
    "almalinux": "rhel",
    "ol": "rhel",
    "amzn": "rhel",
    "scientific": "rhel",
    "cloudlinux": "rhel",
    "suse": "suse",
    "sles": "suse",
    "sled": "suse",
    "opensuse": "suse",
    "opensuse-leap": "suse",
    "opensuse-tumbleweed": "suse",
    "gentoo": "gentoo",
}
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

# Modules each family links into httpd when no binary can be read.
_LINKED_2_4: dict[BuildName, tuple[str, ...]] = {
    # Debian/Ubuntu `apache2 -l` (debian/rules: --enable-*=static).
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
    # RHEL/Fedora httpd, the official image and default source builds.
    "rhel": ("core_module", "so_module", "http_module"),
    # openSUSE/SLES link mod_unixd in (uid.conf's User needs no LoadModule).
    "suse": ("core_module", "so_module", "http_module", "unixd_module"),
    "gentoo": ("core_module", "so_module", "http_module"),
    "upstream": ("core_module", "so_module", "http_module"),
}
# Families whose 2.4 build links its MPM in (the binary is per MPM).
_LINKS_MPM_2_4 = frozenset({"suse", "gentoo"})
# Debian's 2.2 packages (debian/rules of 2.2.22): log_config, logio and version static.
_LINKED_2_2_DEBIAN = ("core_module", "log_config_module", "logio_module", "version_module",
                      "http_module", "so_module")  # fmt: skip
_LINKED_2_2 = ("core_module", "http_module", "so_module")

_VERSION = re.compile(rb"Apache/(\d+\.\d+\.\d+)( \([^)\x00]{1,60}\))?")
_IDENTIFIER = re.compile(rb"[a-z][a-z0-9_]{0,60}_module")
_MPM_SOURCES = {b"prefork.c": "prefork", b"worker.c": "worker", b"event.c": "event"}
_PLATFORMS: tuple[tuple[str, BuildName], ...] = (
    ("debian", "debian"),
    ("ubuntu", "debian"),
    ("red hat", "rhel"),
    ("centos", "rhel"),
    ("fedora", "rhel"),
    ("rocky", "rhel"),
    ("almalinux", "rhel"),
    ("amazon", "rhel"),
    ("suse", "suse"),
    ("gentoo", "gentoo"),
    ("unix", "upstream"),
)


@dataclass(frozen=True, slots=True)
class BinaryFacts:
    """What an httpd binary's bytes tell."""

    path: str
    version: str | None
    platform: str | None
    # The prelinked module identifiers, in httpd -l order; None when the
    # binary holds no such table (httpd 2.2 has none).
    linked: tuple[str, ...] | None
    linked_mpm: str | None


@dataclass(frozen=True, slots=True)
class Build:
    """The httpd build of an audited root and the evidence for each part.

    Attributes:
        name: the family whose build this is.
        source: the evidence that decided ``name`` (``option``, ``binary
            usr/sbin/apache2``, ``etc/os-release``, ``layout``...).
        version: the httpd version the evidence gives, or None.
        version_source: where ``version`` comes from.
        linked: module identifiers read from the binary (exact), or None.
        linked_mpm: the MPM linked into httpd, when the evidence says so.
        mpm_source: where ``linked_mpm`` comes from.
    """

    name: BuildName
    source: str
    version: str | None = None
    version_source: str | None = None
    linked: tuple[str, ...] | None = None
    linked_mpm: str | None = None
    mpm_source: str | None = None

    def compiled_in(
        self, version: tuple[int, ...], mpm: str | None = None, *, assume_mpm: bool = True
    ) -> tuple[str, ...]:
        """The identifiers ``httpd -l`` shows for this build at ``version``.

        Args:
            version: the Apache version as a tuple.
            mpm: the MPM to take as linked in when the build links one and the
                evidence did not name it (``prefork`` otherwise).
            assume_mpm: False when the configuration loads its own MPM, which
                shows that a family's usual linked MPM is not this build's
                (unless the evidence named one).
        """
        if self.linked is not None:
            return self.linked
        linked_mpm = self.linked_mpm or mpm or "prefork"
        if version < (2, 4):
            base = _LINKED_2_2_DEBIAN if self.name == "debian" else _LINKED_2_2
            return (*base, f"mpm_{linked_mpm}_module")
        modules = _LINKED_2_4[self.name]
        if self.linked_mpm is not None or mpm is not None:
            return (*modules, f"mpm_{linked_mpm}_module")
        if self.name in _LINKS_MPM_2_4 and assume_mpm:
            return (*modules, f"mpm_{linked_mpm}_module")
        return modules


def static_modules(name: BuildName) -> tuple[str, ...]:
    """The 2.4 modules a family links in besides its MPM (documentation, tests)."""
    return _LINKED_2_4[name]


def read_binary(fs: RootFS, tree_path: str) -> BinaryFacts | None:
    """Read an httpd binary's version and linked modules from its bytes; None if absent."""
    try:
        real = fs.resolve(tree_path)
        if not real.is_file():
            return None
        data = read_bytes(real, _MAX_BINARY_BYTES)
    except OSError:
        return None
    # "Apache/2.4.71" and the banner "Apache/2.4.71 (Debian)" are both stored.
    matches = list(_VERSION.finditer(data))
    if not matches:
        return None
    found = next((match for match in matches if match.group(2)), matches[0])
    platform = found.group(2).decode("latin-1")[2:-1] if found.group(2) else None
    linked = _prelinked(data)
    mpm = None
    if linked is not None:
        mpm = next((name[4:-7] for name in linked if name.startswith("mpm_")), None)
    else:
        mpm = next(
            (name for source, name in _MPM_SOURCES.items() if b"\0" + source + b"\0" in data), None
        )
    if mpm is None:
        # Debian 2.2 installs each MPM's binary in its own directory
        # (/usr/lib/apache2/mpm-worker/apache2) behind a /usr/sbin/apache2 link.
        shown = str(real)
        mpm = next(
            (name for name in ("prefork", "worker", "event", "itk") if f"mpm-{name}" in shown), None
        )
    return BinaryFacts(
        path=fs.display(real) if real != fs.root else tree_path,
        version=found.group(1).decode("ascii"),
        platform=platform,
        linked=linked,
        linked_mpm=mpm,
    )


def _prelinked(data: bytes) -> tuple[str, ...] | None:
    """The identifiers of ``ap_prelinked_module_symbols`` (httpd 2.4's modules.c).

    Its strings sit together in the read-only data, in ``httpd -l`` order,
    starting with ``core_module``; the dynamic symbol table holds the same
    names interleaved with other symbols, so the longest run wins.
    """
    best: tuple[str, ...] | None = None
    start = data.find(b"\0core_module\0")
    while start >= 0:
        names: list[str] = []
        position = start + 1
        while True:
            match = _IDENTIFIER.match(data, position)
            if match is None or data[match.end() : match.end() + 1] != b"\0":
                break
            name = match.group().decode("ascii")
            if name.startswith("ap_"):
                break
            names.append(name)
            position = match.end()
            # String literals may be padded to an alignment boundary.
            while position < len(data) and data[position] == 0 and position - match.end() < 16:
                position += 1
        if "core_module" in names[:1] and (best is None or len(names) > len(best)):
            best = tuple(names)
        start = data.find(b"\0core_module\0", start + 1)
    if best is None or len(best) < 2 or "so_module" not in best:
        return None
    return best


def _text(fs: RootFS, tree_path: str) -> str | None:
    try:
        real = fs.resolve(tree_path)
        if not real.is_file():
            return None
        return read_bytes(real, _MAX_TEXT_BYTES).decode("utf-8", errors="replace")
    except OSError:
        return None


def _os_release(fs: RootFS) -> dict[str, str]:
    text = _text(fs, "/etc/os-release") or _text(fs, "/usr/lib/os-release") or ""
    values: dict[str, str] = {}
    for line in text.splitlines():
        name, sep, value = line.partition("=")
        if sep and name.strip().isidentifier():
            values[name.strip()] = value.strip().strip("\"'")
    return values


def _family_of_os(release: dict[str, str]) -> BuildName | None:
    for word in [release.get("ID", ""), *release.get("ID_LIKE", "").split()]:
        family = _OS_FAMILIES.get(word.lower()) or (
            "suse" if word.lower().startswith("opensuse") else None
        )
        if family is not None:
            return family
    return None


def _release_version(release: dict[str, str]) -> tuple[str, str] | None:
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


_DPKG_STANZA = re.compile(r"^Package: (\S+)\n(?:(?!\n\n).)*?^Status: install ok installed"
                          r"(?:(?!\n\n).)*?^Version: (\S+)", re.S | re.M)  # fmt: skip


def _dpkg(fs: RootFS) -> tuple[str | None, str | None]:
    """httpd version and 2.2 MPM package from dpkg's status file."""
    text = _text(fs, "/var/lib/dpkg/status")
    if not text:
        return None, None
    version = mpm = None
    for stanza in text.split("\n\n"):
        match = _DPKG_STANZA.search(stanza + "\n")
        if match is None:
            continue
        package, package_version = match.groups()
        if package in ("apache2-bin", "apache2.2-bin", "apache2.2-common", "apache2-common"):
            upstream = re.match(r"(?:\d+:)?(\d+\.\d+\.\d+)", package_version)
            if upstream and (version is None or package == "apache2-bin"):
                version = upstream.group(1)
        elif package.startswith("apache2-mpm-"):
            mpm = package.removeprefix("apache2-mpm-")
    return version, mpm


def _portage(fs: RootFS) -> tuple[str | None, str | None, str | None]:
    """Gentoo: (version, linked MPM, the record's path) from var/db/pkg/www-servers/apache-*."""
    base = fs.resolve("/var/db/pkg/www-servers")
    try:
        entries = sorted(os.listdir(base))
    except OSError:
        return None, None, None
    for entry in reversed(entries):
        match = re.fullmatch(r"apache-(\d+\.\d+\.\d+)(?:-r\d+)?", entry)
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


def _suse_mpm(fs: RootFS) -> str | None:
    text = _text(fs, "/etc/sysconfig/apache2") or ""
    match = re.search(r"^\s*APACHE_MPM=[\"']?(prefork|worker|event)\b", text, re.M)
    return match.group(1) if match else None


def _family_of_binary(binary: BinaryFacts) -> BuildName | None:
    platform = (binary.platform or "").lower()
    return next((family for word, family in _PLATFORMS if word in platform), None)


def detect_build(
    fs: RootFS, layout: str, override: str | None = None, binary_override: str | None = None
) -> Build:
    """Work out the httpd build of a root.

    Args:
        fs: the audited root.
        layout: the configuration layout ``locate`` found (``debian``, ``rhel``...).
        override: ``--apache-build``; it decides the family, the root still
            gives the version and MPM.
        binary_override: the binary the service runs (from its invocation), if known.

    Raises:
        UsageError: ``override`` names no known build.
    """
    if override is not None and override not in BUILD_NAMES:
        raise UsageError(f"unknown Apache build {override!r}: use one of {', '.join(BUILD_NAMES)}")
    release = _os_release(fs)
    os_family = _family_of_os(release)
    layout_family = _LAYOUT_FAMILIES.get(layout)
    guess = override or os_family or layout_family
    candidates: list[str] = [binary_override] if binary_override else []
    # The guessed family's binaries, then the two names most builds use.
    for path in (*_BINARIES[guess or "upstream"], "/usr/sbin/apache2", "/usr/sbin/httpd"):
        if path not in candidates:
            candidates.append(path)
    binary = next(
        (facts for path in candidates if (facts := read_binary(fs, path)) is not None), None
    )
    if override is not None:
        name: BuildName = override
        source = "option"
    elif binary is not None and _family_of_binary(binary) is not None:
        name = _family_of_binary(binary)  # type: ignore[assignment]  # not None
        source = f"binary {binary.path} (Apache/{binary.version} ({binary.platform}))"
    elif os_family is not None:
        name, source = os_family, f"etc/os-release (ID={release.get('ID', '')})"
    elif (module_dir := _module_dir_family(fs)) is not None:
        name, source = module_dir
    elif layout_family is not None:
        name, source = layout_family, f"layout ({layout})"
    else:
        name, source = "upstream", "assumed (no binary, os-release or known layout)"
    version = version_source = None
    linked: tuple[str, ...] | None = None
    linked_mpm = mpm_source = None
    if binary is not None:
        version, version_source = binary.version, f"binary {binary.path}"
        linked = binary.linked
        if binary.linked_mpm:
            linked_mpm, mpm_source = binary.linked_mpm, f"binary {binary.path}"
    if name == "debian":
        dpkg_version, dpkg_mpm = _dpkg(fs)
        if version is None and dpkg_version is not None:
            version, version_source = dpkg_version, "var/lib/dpkg/status"
        if linked_mpm is None and dpkg_mpm is not None and _before_2_4(version):
            linked_mpm, mpm_source = dpkg_mpm, "var/lib/dpkg/status (apache2-mpm-" + dpkg_mpm + ")"
    elif name == "gentoo":
        portage_version, portage_mpm, record = _portage(fs)
        if version is None and portage_version is not None:
            version, version_source = portage_version, record
        if linked_mpm is None and portage_mpm is not None:
            linked_mpm, mpm_source = portage_mpm, f"{record}/USE"
    elif name == "suse" and linked_mpm is None:
        suse_mpm = _suse_mpm(fs)
        if suse_mpm is not None:
            linked_mpm, mpm_source = suse_mpm, "etc/sysconfig/apache2 (APACHE_MPM)"
    if version is None and _family_of_os(release) == name:
        shipped = _release_version(release)
        if shipped is not None:
            version, version_source = shipped
    return Build(
        name=name,
        source=source,
        version=version,
        version_source=version_source,
        linked=linked,
        linked_mpm=linked_mpm,
        mpm_source=mpm_source,
    )


def _before_2_4(version: str | None) -> bool:
    numbers = [int(part) for part in (version or "2.2").split(".")[:2]]
    return numbers < [2, 4]


def _module_dir_family(fs: RootFS) -> tuple[BuildName, str] | None:
    for tree_path, family in _MODULE_DIRS:
        try:
            if fs.resolve(tree_path).is_dir():
                return family, f"module directory {tree_path.lstrip('/')}"
        except OSError:
            continue
    return None
