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

import posixpath
from dataclasses import dataclass
from typing import Literal

from ..errors import UsageError
from ..rootfs import RootFS
from .binary import BinaryFacts, read_binary
from .evidence import dpkg_status, os_release, portage_record, release_version, suse_mpm

__all__ = [
    "BUILD_NAMES",
    "EVIDENCE_FILES",
    "Build",
    "BuildName",
    "binary_beside",
    "detect_build",
    "read_binary",
    "static_modules",
]

BuildName = Literal["debian", "rhel", "suse", "gentoo", "upstream"]
BUILD_NAMES: tuple[BuildName, ...] = ("debian", "rhel", "suse", "gentoo", "upstream")

# httpd binaries are a few MiB; a file far larger is not one.

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
# Every file the build and version are read from (cli's --output never
# writes over one).
EVIDENCE_FILES = (
    *dict.fromkeys(path for paths in _BINARIES.values() for path in paths),
    "/usr/sbin/apache2",
    "/var/lib/dpkg/status",
)
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


def _family_of_os(release: dict[str, str]) -> BuildName | None:
    for word in [release.get("ID", ""), *release.get("ID_LIKE", "").split()]:
        family = _OS_FAMILIES.get(word.lower()) or (
            "suse" if word.lower().startswith("opensuse") else None
        )
        if family is not None:
            return family
    return None


def _family_of_binary(binary: BinaryFacts) -> BuildName | None:
    platform = (binary.platform or "").lower()
    return next((family for word, family in _PLATFORMS if word in platform), None)


def detect_build(
    fs: RootFS,
    layout: str,
    override: str | None = None,
    binary_override: str | None = None,
    main_file: str | None = None,
) -> Build:
    """Work out the httpd build of a root.

    Args:
        fs: the audited root.
        layout: the configuration layout ``locate`` found (``debian``, ``rhel``...).
        override: ``--apache-build``; it decides the family, the root still
            gives the version and MPM.
        binary_override: the binary the service runs (from its invocation), if known.
        main_file: the main configuration file found (a tree path): the
            binary of its own layout, and ``bin/httpd`` beside its directory
            (``/opt/bitnami/apache/conf/httpd.conf``), come before the binaries
            of the family os-release names (a self-built httpd on a Debian
            base, as the official httpd image is).

    Raises:
        UsageError: ``override`` names no known build.
    """
    if override is not None and override not in BUILD_NAMES:
        raise UsageError(f"unknown Apache build {override!r}: use one of {', '.join(BUILD_NAMES)}")
    release = os_release(fs)
    os_family = _family_of_os(release)
    layout_family = _LAYOUT_FAMILIES.get(layout)
    guess = override or os_family or layout_family
    candidates: list[str] = [binary_override] if binary_override else []
    beside = binary_beside(main_file)
    own = (*_BINARIES[layout_family], *beside) if layout_family is not None else beside
    # The configuration's own binaries, the guessed family's, then the two
    # names most builds use.
    for path in (*own, *_BINARIES[guess or "upstream"], "/usr/sbin/apache2", "/usr/sbin/httpd"):
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
    elif (module_dir := _module_dir_family(fs, layout_family)) is not None:
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
        dpkg_version, dpkg_mpm = dpkg_status(fs)
        if version is None and dpkg_version is not None:
            version, version_source = dpkg_version, "var/lib/dpkg/status"
        if linked_mpm is None and dpkg_mpm is not None and _before_2_4(version):
            linked_mpm, mpm_source = dpkg_mpm, "var/lib/dpkg/status (apache2-mpm-" + dpkg_mpm + ")"
    elif name == "gentoo":
        portage_version, portage_mpm, record = portage_record(fs)
        if version is None and portage_version is not None:
            version, version_source = portage_version, record
        if linked_mpm is None and portage_mpm is not None:
            linked_mpm, mpm_source = portage_mpm, f"{record}/USE"
    elif name == "suse" and linked_mpm is None:
        sysconfig_mpm = suse_mpm(fs)
        if sysconfig_mpm is not None:
            linked_mpm, mpm_source = sysconfig_mpm, "etc/sysconfig/apache2 (APACHE_MPM)"
    if version is None and _family_of_os(release) == name:
        shipped = release_version(release)
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


def binary_beside(main_file: str | None) -> tuple[str, ...]:
    """``bin/httpd`` of the directory above a main file's (ServerRoot's
    ``conf/httpd.conf`` and ``bin/httpd`` in upstream's own layout), then
    ``bin/httpd.bin``, which Bitnami's ``bin/httpd`` script runs."""
    if main_file is None or not main_file.startswith("/"):
        return ()
    top = posixpath.dirname(posixpath.dirname(posixpath.normpath(main_file)))
    if top in ("", "/"):
        return ()
    return (posixpath.join(top, "bin", "httpd"), posixpath.join(top, "bin", "httpd.bin"))


def _before_2_4(version: str | None) -> bool:
    numbers = [int(part) for part in (version or "2.2").split(".")[:2]]
    return numbers < [2, 4]


def _module_dir_family(fs: RootFS, layout: BuildName | None) -> tuple[BuildName, str] | None:
    """The family whose module directory the root holds; where several do (a
    leftover of another family), the configuration layout's own wins."""
    found: list[tuple[BuildName, str]] = []
    for tree_path, family in _MODULE_DIRS:
        try:
            if fs.resolve(tree_path).is_dir():
                found.append((family, f"module directory {tree_path.lstrip('/')}"))
        except OSError:
            continue
    return next((each for each in found if each[0] == layout), found[0] if found else None)
