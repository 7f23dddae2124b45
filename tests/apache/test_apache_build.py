"""Which httpd build runs a tree: worked out from the root itself, never from the config's path.

The evidence, strongest first: ``--apache-build``, the httpd binary's bytes
(read, never run), the package database, ``etc/os-release``, the module
directory, the layout. The binary reading is checked against the real
apache2 of this machine (``apache2 -l``, ``apache2 -v``); what each family
links in decides which trees httpd accepts, checked against the real apache2
where this machine's build can stand in for the family (a module linked
into another family's binary is loaded with ``-C`` before the configuration).
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest
from apache_harness import (
    APACHE2,
    MODULE_DIR,
    map_tree,
    normalise_tree,
    run_apache,
    static_modules,
)
from test_apache_differential import CORPUS, apache_version, assert_same

from tcpaudit.apache import load_apache
from tcpaudit.apache.build import detect_build, read_binary
from tcpaudit.apache.build import static_modules as family_modules
from tcpaudit.errors import ApacheConfigError
from tcpaudit.rootfs import RootFS
from tcpaudit.snapshot import facts_from_snapshot

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ansible"))
from ansible_trees import load_facts_module

DEBIAN7 = CORPUS / "debian-7-apache2.2"
SUSE = CORPUS / "opensuse-leap-15-apache2.4"
CENTOS7 = CORPUS / "certbot-centos7"
EVENT = f"LoadModule mpm_event_module {MODULE_DIR}/mod_mpm_event.so\n"


def write(root: Path, path: str, text: str) -> Path:
    target = root / path.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)
    return target


def os_release(root: Path, **fields: str) -> None:
    write(root, "/etc/os-release", "".join(f'{key}="{value}"\n' for key, value in fields.items()))


def test_the_binary_bytes_say_what_apache2_l_and_v_print() -> None:
    facts = read_binary(RootFS("/"), APACHE2)
    assert facts is not None
    assert facts.linked == static_modules()
    assert facts.version == apache_version()
    assert facts.platform == "Debian"


def test_a_binary_in_the_root_outranks_os_release(tmp_path: Path) -> None:
    shutil.copy(APACHE2, tmp_path / "apache2")
    (tmp_path / "usr/sbin").mkdir(parents=True)
    (tmp_path / "apache2").rename(tmp_path / "usr/sbin/apache2")
    os_release(tmp_path, ID="rocky", VERSION_ID="8.9")
    build = detect_build(RootFS(tmp_path), "debian")
    assert (build.name, build.version, build.linked) == (
        "debian",
        apache_version(),
        static_modules(),
    )
    assert build.source.startswith("binary usr/sbin/apache2")
    assert build.version_source == "binary usr/sbin/apache2"


@pytest.mark.parametrize(
    ("fields", "layout", "build", "version"),
    [
        ({"ID": "ubuntu", "ID_LIKE": "debian", "VERSION_ID": "14.04"}, "debian", "debian", "2.4.7"),
        ({"ID": "debian", "VERSION_ID": "12"}, "debian", "debian", None),
        ({"ID": "centos", "ID_LIKE": "rhel fedora", "VERSION_ID": "7"}, "rhel", "rhel", "2.4.6"),
        ({"ID": "rocky", "ID_LIKE": "rhel centos fedora", "VERSION_ID": "8.9"}, "rhel", "rhel",
         "2.4.37"),
        ({"ID": "almalinux", "VERSION_ID": "9.4"}, "rhel", "rhel", None),
        ({"ID": "opensuse-leap", "ID_LIKE": "suse opensuse", "VERSION_ID": "15.5"}, "gentoo",
         "suse", None),
        ({"ID": "sles", "VERSION_ID": "15.6"}, "gentoo", "suse", None),
        ({"ID": "gentoo"}, "gentoo", "gentoo", None),
        ({"ID": "arch"}, "rhel", "rhel", None),  # no family of its own: the layout decides
    ],
)  # fmt: skip
def test_os_release_decides_the_family(
    tmp_path: Path, fields: dict[str, str], layout: str, build: str, version: str | None
) -> None:
    os_release(tmp_path, **fields)
    found = detect_build(RootFS(tmp_path), layout)
    assert (found.name, found.version) == (build, version)
    if fields["ID"] != "arch":
        assert found.source == f"etc/os-release (ID={fields['ID']})"


def test_each_family_links_what_its_packages_build() -> None:
    # debian/rules (--enable-*=static), and the families' `httpd -l`.
    assert family_modules("debian") == static_modules()
    assert family_modules("rhel") == ("core_module", "so_module", "http_module")
    assert "unixd_module" in family_modules("suse")
    build = detect_build(RootFS("/nonexistent"), "gentoo", "suse")
    assert build.compiled_in((2, 4)) == (*family_modules("suse"), "mpm_prefork_module")
    assert build.compiled_in((2, 4), "event") == (*family_modules("suse"), "mpm_event_module")


def test_dpkg_status_gives_the_version_and_the_2_2_mpm(tmp_path: Path) -> None:
    write(tmp_path, "/var/lib/dpkg/status", (
        "Package: apache2.2-bin\nStatus: install ok installed\nVersion: 2.2.22-13+deb7u4\n\n"
        "Package: apache2-mpm-worker\nStatus: install ok installed\nVersion: 2.2.22-13+deb7u4\n\n"
        "Package: apache2-mpm-prefork\nStatus: deinstall ok config-files\nVersion: 2.2.22-13\n"
    ))  # fmt: skip
    build = detect_build(RootFS(tmp_path), "debian")
    assert (build.name, build.version, build.version_source) == (
        "debian", "2.2.22", "var/lib/dpkg/status"
    )  # fmt: skip
    assert build.linked_mpm == "worker"
    assert build.compiled_in((2, 2)) == (
        "core_module", "log_config_module", "logio_module", "version_module", "http_module",
        "so_module", "mpm_worker_module",
    )  # fmt: skip


def test_portage_gives_gentoo_version_and_linked_mpm(tmp_path: Path) -> None:
    write(tmp_path, "/var/db/pkg/www-servers/apache-2.4.62-r1/USE",
          "apache2_modules_alias apache2_mpms_event ssl threads\n")  # fmt: skip
    build = detect_build(RootFS(tmp_path), "gentoo")
    assert (build.name, build.version, build.linked_mpm) == ("gentoo", "2.4.62", "event")
    assert build.compiled_in((2, 4)) == ("core_module", "so_module", "http_module",
                                         "mpm_event_module")  # fmt: skip


def test_the_option_decides_the_family(tmp_path: Path) -> None:
    os_release(tmp_path, ID="debian", VERSION_ID="12")
    assert detect_build(RootFS(tmp_path), "debian", "suse").name == "suse"
    assert detect_build(RootFS(tmp_path), "debian", "suse").source == "option"


@pytest.mark.parametrize("with_os_release", [False, True], ids=["tree-only", "os-release"])
def test_debian_2_2_tree_is_read_as_2_2(tmp_path: Path, with_os_release: bool) -> None:
    root = tmp_path / "root"
    shutil.copytree(DEBIAN7, root, symlinks=True)
    if with_os_release:
        os_release(root, ID="debian", VERSION_ID="7", PRETTY_NAME="Debian GNU/Linux 7 (wheezy)")
    config = load_apache(root=root)
    assert config is not None
    # Debian 7 ships 2.2.22 (its apache2 packages); without os-release the
    # tree's own LoadModule of mod_authz_default (2.2 only) says 2.2.
    assert config.version == ("2.2.22" if with_os_release else "2.2")
    assert config.version_source == ("os-release" if with_os_release else "inferred")
    assert config.build == "debian"
    # debian/rules of 2.2.22: mod_log_config, mod_logio and mod_version linked in.
    assert config.modules[:6] == ["core_module", "log_config_module", "logio_module",
                                  "version_module", "http_module", "so_module"]  # fmt: skip
    # apache2.conf sets Timeout 300 and, in <IfModule mpm_prefork_module>, MaxClients 150.
    assert (config.settings["Timeout"].value, config.settings["Timeout"].line) == (300, 101)
    workers = config.settings["MaxRequestWorkers"]
    assert (workers.value, workers.spelled) == (150, "MaxClients")
    # 2.2's prefork default ServerLimit is 256 (2.2 mpm_common docs).
    assert config.settings["ServerLimit"].value == 256


def test_debian_2_2_tree_is_refused_by_apache2_2_4(tmp_path: Path) -> None:
    # What the 2.4 of this machine says of the same tree: it is not a 2.4 tree.
    tcpaudit_root, apache_root = tmp_path / "tcpaudit", tmp_path / "apache"
    shutil.copytree(DEBIAN7, tcpaudit_root, symlinks=True)
    normalise_tree(tcpaudit_root)
    shutil.copytree(tcpaudit_root, apache_root, symlinks=True)
    map_tree(apache_root)
    run = run_apache(apache_root, "/etc/apache2/apache2.conf", "/etc/apache2")
    assert not run.accepted
    with pytest.raises(ApacheConfigError):
        load_apache(root=tcpaudit_root, version=apache_version(), build="debian")


def test_opensuse_links_unixd_and_its_mpm() -> None:
    config = load_apache(root=SUSE)
    assert config is not None
    assert (config.build, config.layout, config.server_root) == ("suse", "suse", "/srv/www")
    assert (config.mpm, config.mpm_source) == ("prefork", "build")
    assert {"unixd_module", "mpm_prefork_module"} <= set(config.modules[:5])
    # loadmodule.conf's <IfModule prefork.c> block applies: the MPM is linked in.
    assert "reqtimeout_module" in config.modules
    workers = config.settings["MaxRequestWorkers"]
    assert (workers.value, workers.file, workers.line) == (150, "etc/apache2/server-tuning.conf", 8)


def test_opensuse_tree_matches_apache2_with_the_same_linked_modules(tmp_path: Path) -> None:
    # This machine's apache2 links mod_unixd in already; openSUSE's also links
    # its MPM: load prefork with -C first, and tell tcpaudit the same list.
    tcpaudit_root, apache_root = tmp_path / "tcpaudit", tmp_path / "apache"
    shutil.copytree(SUSE, tcpaudit_root, symlinks=True)
    normalise_tree(tcpaudit_root)
    shutil.copytree(tcpaudit_root, apache_root, symlinks=True)
    map_tree(apache_root)
    run = run_apache(apache_root, "/etc/apache2/httpd.conf", "/srv/www",
                     preload=("mpm_prefork_module",))  # fmt: skip
    assert run.accepted, run.stderr
    try:
        loaded = load_apache(root=tcpaudit_root, version=apache_version(),
                             compiled_in=(*static_modules(), "mpm_prefork_module"))  # fmt: skip
    except ApacheConfigError as exc:
        loaded = exc  # type: ignore[assignment]
    assert_same(run, loaded)  # type: ignore[arg-type]


def test_opensuse_tree_without_its_linked_mpm_is_what_made_user_invalid(tmp_path: Path) -> None:
    # Read as an RHEL-like build (no mod_unixd, no MPM linked), the tree is
    # refused, as the wrong build would make httpd refuse it.
    with pytest.raises(ApacheConfigError) as raised:
        load_apache(root=SUSE, build="rhel")
    assert "No MPM loaded" in raised.value.reason or "Invalid command" in raised.value.reason


def test_a_standalone_file_on_a_debian_host_is_read_with_debians_build(tmp_path: Path) -> None:
    # `apache2 -f /srv/site.conf` on a Debian host: User (mod_unixd) and
    # LogFormat (mod_log_config) need no LoadModule there.
    text = (EVENT + "ErrorLog /dev/null\nUser www-data\nLogFormat \"%h\" short\n"
            "<IfModule version_module>\nTimeout 17\n</IfModule>\n")  # fmt: skip
    tcpaudit_root, apache_root = tmp_path / "tcpaudit", tmp_path / "apache"
    os_release(tcpaudit_root, ID="debian", VERSION_ID="12")
    write(tcpaudit_root, "/srv/site.conf", text)
    shutil.copytree(tcpaudit_root, apache_root)
    map_tree(apache_root)
    run = run_apache(apache_root, "/srv/site.conf", "/srv")
    assert run.accepted, run.stderr
    config = load_apache("/srv/site.conf", root=tcpaudit_root, version=apache_version())
    assert config is not None
    assert (config.build, config.build_source) == ("debian", "etc/os-release (ID=debian)")
    assert config.settings["Timeout"].value == 17
    assert_same(run, config)


def test_centos_7_is_2_4_6_so_a_later_vhosts_keepalive_timeout_is_ignored(tmp_path: Path) -> None:
    root = tmp_path / "root"
    shutil.copytree(CENTOS7, root, symlinks=True)
    os_release(root, ID="centos", ID_LIKE="rhel fedora", VERSION_ID="7")
    write(root, "/etc/httpd/conf.d/two.conf",
          "<VirtualHost *:80>\nServerName a.example\n</VirtualHost>\n"
          "<VirtualHost *:80>\nServerName b.example\nKeepAliveTimeout 30\n</VirtualHost>\n")  # fmt: skip
    config = load_apache(root=root)
    assert config is not None
    assert (config.version, config.version_source, config.build) == ("2.4.6", "os-release", "rhel")
    second = next(vhost for vhost in config.vhosts if vhost.server_name == "b.example")
    # Before 2.4.16 only the first name-based vhost of an address sets it (core docs).
    assert second.settings["KeepAliveTimeout"].effective is False


@pytest.mark.parametrize(
    ("path", "content"),
    [
        ("/usr/sbin/apache2", b"\x7fELF" + b"Apache/" + b"9" * 5000 + b".4.1 (Debian)\x00"),
        ("/usr/sbin/httpd", b"\x7fELF" + b"Apache/2.4." + b"7" * 5000 + b"\x00"),
        ("/var/lib/dpkg/status",
         b"Package: apache2-bin\nStatus: install ok installed\nVersion: 2.4." + b"1" * 5000 + b"\n"),
        ("/var/db/pkg/www-servers/apache-2." + "4" * 200 + ".1/x", b""),
    ],
)  # fmt: skip
def test_evidence_with_numbers_no_httpd_has_gives_no_version(
    tmp_path: Path, path: str, content: bytes
) -> None:
    target = tmp_path / path.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(content)
    build = detect_build(RootFS(tmp_path), "debian")
    assert build.version is None or len(build.version) <= 14


UPSTREAM = CORPUS / "upstream-httpd-2.4.62"
# What a self-built httpd's bytes hold: its version and platform, and the
# module names of its modules compiled in (upstream: core, so, http, the MPM
# event by default... here the three every build has).
SELF_BUILT = (
    b"\x7fELF\x00\x00Apache/2.4.62 (Unix)\x00core_module\x00so_module\x00http_module\x00\x00"
)


@pytest.mark.parametrize(
    ("top", "main", "binary", "source"),
    [
        # the official httpd image: a Debian base, httpd built in /usr/local/apache2
        ("usr/local/apache2", None, "bin/httpd", "binary usr/local/apache2/bin/httpd"),
        # Bitnami: a Debian base, httpd built in /opt/bitnami/apache
        ("opt/bitnami/apache", "/opt/bitnami/apache/conf/httpd.conf", "bin/httpd",
         "binary opt/bitnami/apache/bin/httpd"),
        # Bitnami's bin/httpd is a script running bin/httpd.bin
        ("opt/bitnami/apache2", "/opt/bitnami/apache2/conf/httpd.conf", "bin/httpd.bin",
         "binary opt/bitnami/apache2/bin/httpd.bin"),
    ],
)  # fmt: skip
def test_a_self_built_httpd_on_a_debian_base_is_its_own_build(
    tmp_path: Path, top: str, main: str | None, binary: str, source: str
) -> None:
    # Debian links log_config, logio, version and unixd into apache2; the
    # upstream httpd.conf loads them, which Debian's build refuses. The
    # binary beside the configuration decides, not os-release.
    root = tmp_path / "root"
    shutil.copytree(UPSTREAM / "usr/local/apache2", root / top, symlinks=True)
    conf = root / top / "conf/httpd.conf"
    conf.write_text(conf.read_text().replace('"/usr/local/apache2"', f'"/{top}"'))
    (root / top / "bin").mkdir(parents=True, exist_ok=True)
    (root / top / "bin/httpd").write_text(f'#!/bin/sh\nexec /{top}/bin/httpd.bin "$@"\n')
    (root / top / binary).write_bytes(SELF_BUILT)
    os_release(root, ID="debian", VERSION_ID="12")
    config = load_apache(main, root=root)
    assert config is not None
    assert config.build == "upstream"
    assert config.build_source == f"{source} (Apache/2.4.62 (Unix))"
    assert config.version == "2.4.62"
    assert "log_config_module" in config.modules
    # The Ansible module sends the same evidence: the controller decides alike.
    document = load_facts_module().snapshot(root=str(root), apache_conf=main, probe=False)
    again = facts_from_snapshot(json.loads(json.dumps(document)))
    assert again.apache is not None
    assert (again.apache.build, again.apache.build_source) == (config.build, config.build_source)


GENTOO = CORPUS / "certbot-gentoo"


def test_a_leftover_module_directory_of_another_family_does_not_decide(tmp_path: Path) -> None:
    # No os-release, no binary: Gentoo's layout and its own module directory,
    # beside an empty Debian one left over. Debian's build links log_config
    # in and refused Gentoo's LoadModule of it ("built-in").
    root = tmp_path / "root"
    shutil.copytree(GENTOO, root, symlinks=True)
    (root / "usr/lib64/apache2/modules").mkdir(parents=True, exist_ok=True)
    (root / "usr/lib/apache2/modules").mkdir(parents=True)
    config = load_apache(root=root)
    assert config is not None
    assert (config.build, config.build_source) == (
        "gentoo",
        "module directory usr/lib64/apache2/modules",
    )
    assert "log_config_module" in config.modules


def test_portage_records_are_listed_through_the_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The package directory was listed with a plain listdir after resolution:
    # swapped for a link in between, a directory outside the root was listed
    # and its entry's version reported as the tree's. The swap now fails.
    from tcpaudit.apache.evidence import portage_record

    root, outside = tmp_path / "root", tmp_path / "host"
    (root / "var/db/pkg/www-servers/apache-2.4.62").mkdir(parents=True)
    (outside / "www-servers/apache-2.2.99").mkdir(parents=True)
    fs = RootFS(root)
    assert portage_record(fs)[0] == "2.4.62"
    resolve = RootFS.resolve

    def resolve_then_swap(self: RootFS, tree_path: str) -> Path:
        real = resolve(self, tree_path)
        if tree_path == "/var/db/pkg/www-servers":
            shutil.rmtree(root / "var/db/pkg")
            (root / "var/db/pkg").symlink_to(outside)
        return real

    monkeypatch.setattr(RootFS, "resolve", resolve_then_swap)
    assert portage_record(fs) == (None, None, None)
