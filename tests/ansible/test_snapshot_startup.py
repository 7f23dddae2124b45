"""A fleet audit sees what a local audit sees: the build and the service's invocation travel too.

The loader works out httpd's build from the root (the binary's bytes, dpkg's
or Portage's records, os-release, module directories) and reads how the
service starts httpd (units and drop-ins, EnvironmentFile, envvars and what it
sources, sysconfig, conf.d). The facts module collects all of it on the
managed host, secrets removed; the controller rebuilds the tree. On each tree
below, facts and report from the snapshot equal those of ``gather`` on the
tree itself, and every path the local loaders opened or tested is in the
snapshot.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from ansible_trees import link, load_facts_module, write
from test_playbook import ansible_command, run
from test_playbook import ansible_env as ansible_env  # the playbook test's fixture

import tcpaudit
from tcpaudit import rootfs
from tcpaudit.apache.binary import read_binary
from tcpaudit.rootfs import RootFS
from tcpaudit.snapshot import facts_from_snapshot

APACHE2 = Path("/usr/sbin/apache2")
SYSCTL = {"net/ipv4/tcp_keepalive_time": "7200\n", "kernel/osrelease": "6.1.0-27-amd64\n"}


@pytest.fixture(scope="module")
def module() -> ModuleType:
    return load_facts_module()


def never_run(*args: object, **kwargs: object) -> object:
    raise AssertionError("the collector ran a program on a tree")


def proc(root: Path) -> None:
    for key, value in SYSCTL.items():
        write(root, f"/proc/sys/{key}", value)


def debian_tree(root: Path) -> None:
    """Debian: the real apache2 binary, a unit drop-in, envvars sourcing a file, -D from it."""
    (root / "usr/sbin").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(APACHE2, root / "usr/sbin/apache2")
    (root / "usr/sbin/apache2").chmod(0o755)
    write(root, "/etc/os-release", 'ID=debian\nVERSION_ID="12"\nPRETTY_NAME="Debian 12"\n')
    write(
        root,
        "/lib/systemd/system/apache2.service",
        "[Service]\nType=forking\nEnvironment=APACHE_STARTED_BY_SYSTEMD=true\n"
        "ExecStart=/usr/sbin/apachectl start\n",
    )
    write(
        root,
        "/etc/systemd/system/apache2.service.d/override.conf",
        '[Service]\nEnvironment="SITE_SET=shop" DB_PASSWORD=SECRET-UNIT\n'
        "EnvironmentFile=-/etc/default/apache2-extra\n",
    )
    write(root, "/etc/default/apache2-extra", "EXTRA_TIMEOUT=42\nAPI_TOKEN=SECRET-ENVFILE\n")
    write(
        root,
        "/etc/apache2/envvars",
        "export APACHE_RUN_USER=www-data\nexport APACHE_LOG_DIR=/var/log/apache2\n"
        "if [ -f /etc/apache2/envvars.local ]; then\n  . /etc/apache2/envvars.local\nfi\n"
        'export APACHE_ARGUMENTS="-D TUNED"\n',
    )
    write(
        root,
        "/etc/apache2/envvars.local",
        "export SITES=/etc/apache2/sites-$SITE_SET\nexport DB_SECRET=SECRET-LOCAL\n",
    )
    write(
        root,
        "/etc/apache2/apache2.conf",
        "LoadModule mpm_prefork_module /usr/lib/apache2/modules/mod_mpm_prefork.so\n"
        "Timeout 300\n<IfDefine TUNED>\n  Timeout ${EXTRA_TIMEOUT}\n</IfDefine>\n"
        "KeepAliveTimeout 5\nIncludeOptional ${SITES}/*.conf\n",
    )
    write(
        root,
        "/etc/apache2/sites-shop/shop.conf",
        "<VirtualHost *:80>\n  ServerName shop.example\n  KeepAliveTimeout 3\n</VirtualHost>\n",
    )
    (root / "usr/lib/apache2/modules").mkdir(parents=True)
    write(
        root,
        "/var/lib/dpkg/status",
        "Package: bash\nStatus: install ok installed\nVersion: 5.2\n\n"
        "Package: apache2-bin\nStatus: install ok installed\nVersion: 2.4.71-1~deb12u1\n",
    )
    proc(root)


def debian22_tree(root: Path) -> None:
    """Debian 6: no binary, dpkg says 2.2.16 with the worker MPM package."""
    write(root, "/etc/os-release", "ID=debian\nVERSION_ID=6\n")
    write(
        root,
        "/var/lib/dpkg/status",
        "Package: apache2.2-common\nStatus: install ok installed\nVersion: 2.2.16-6+squeeze15\n\n"
        "Package: apache2-mpm-worker\nStatus: install ok installed\nVersion: 2.2.16-6\n\n"
        "Package: openssl\nStatus: install ok installed\nVersion: 0.9.8\n",
    )
    write(root, "/etc/apache2/envvars", "export APACHE_RUN_USER=www-data\n")
    write(root, "/etc/apache2/apache2.conf", "Timeout 300\nMaxClients 150\nKeepAliveTimeout 15\n")
    proc(root)


def rhel_tree(root: Path) -> None:
    """RHEL 8: httpd.service with a drop-in EnvironmentFile giving OPTIONS=-D and -f."""
    write(root, "/etc/os-release", 'ID="rocky"\nID_LIKE="rhel fedora"\nVERSION_ID="8.10"\n')
    write(
        root,
        "/usr/lib/systemd/system/httpd.service",
        "[Service]\nEnvironmentFile=/etc/sysconfig/httpd\n"
        "ExecStart=/usr/sbin/httpd $OPTIONS -DFOREGROUND\n",
    )
    write(
        root,
        "/etc/systemd/system/httpd.service.d/10-options.conf",
        "[Service]\nEnvironmentFile=/etc/sysconfig/httpd-site\n",
    )
    write(root, "/etc/sysconfig/httpd", "LANG=C\n")
    write(
        root,
        "/etc/sysconfig/httpd-site",
        'OPTIONS="-DLOWTIMEOUT -f conf/site.conf"\nHTTPD_PASSWORD=SECRET-RHEL\n',
    )
    write(root, "/etc/httpd/conf/httpd.conf", "Timeout 300\n")
    write(
        root,
        "/etc/httpd/conf/site.conf",
        "LoadModule mpm_event_module modules/mod_mpm_event.so\n"
        "LoadModule unixd_module modules/mod_unixd.so\n"
        "<IfDefine LOWTIMEOUT>\nTimeout 20\n</IfDefine>\nInclude conf.d/*.conf\n",
    )
    write(root, "/etc/httpd/conf.d/ka.conf", "KeepAliveTimeout 2\n")
    (root / "usr/lib64/httpd/modules").mkdir(parents=True)
    proc(root)


def rhel_specifier_tree(root: Path) -> None:
    """RHEL 9: EnvironmentFile= named with %N and a glob, a comment ending in a
    backslash, quotes in $OPTIONS (systemd removes them when it splits)."""
    rhel_tree(root)
    write(
        root,
        "/etc/systemd/system/httpd.service.d/10-options.conf",
        "[Service]\n# see below \\\nEnvironmentFile=-/etc/sysconfig/%N-site\n"
        "EnvironmentFile=/etc/sysconfig/extra-*.env\n",
    )
    write(root, "/etc/sysconfig/httpd-site", "OPTIONS='\"-DLOWTIMEOUT\" -f conf/site.conf'\n")
    write(root, "/etc/sysconfig/extra-1.env", "X=1\n")
    write(root, "/etc/sysconfig/.extra-2.env", "X=2\n")


def suse_tree(root: Path) -> None:
    """openSUSE: MPM and unixd linked in, -D flags and the MPM from sysconfig."""
    write(root, "/etc/os-release", 'ID="opensuse-leap"\nVERSION_ID="15.6"\n')
    write(
        root,
        "/etc/sysconfig/apache2",
        'APACHE_MPM="worker"\nAPACHE_SERVER_FLAGS="STATUS -D SSL"\n'
        'APACHE_SECRET_KEY="SECRET-SUSE"\n',
    )
    write(root, "/etc/apache2/sysconfig.d/loadmodule.conf", "\n")
    write(
        root,
        "/etc/apache2/httpd.conf",
        "User wwwrun\n<IfDefine SYSCONFIG>\nInclude /etc/apache2/sysconfig.d/loadmodule.conf\n"
        "</IfDefine>\n<IfModule worker.c>\n  MaxRequestWorkers 300\n</IfModule>\n"
        "<IfDefine SSL>\nTimeout 60\n</IfDefine>\n",
    )
    (root / "usr/lib64/apache2-worker").mkdir(parents=True)
    proc(root)


def gentoo_tree(root: Path) -> None:
    """Gentoo: Portage's record of 2.4.62 with the event MPM, OpenRC's conf.d options."""
    write(root, "/etc/os-release", "ID=gentoo\n")
    write(root, "/var/db/pkg/www-servers/apache-2.4.62-r1/USE", "ssl apache2_mpms_event\n")
    (root / "var/db/pkg/www-servers/apache-tools-2.4.62").mkdir(parents=True)
    write(
        root,
        "/etc/conf.d/apache2",
        'APACHE2_OPTS="-D DEFAULT_VHOST -D INFO"\nSERVERROOT="/usr/lib64/apache2"\n',
    )
    write(
        root,
        "/etc/apache2/httpd.conf",
        "ServerRoot /usr/lib64/apache2\n"
        "<IfDefine INFO>\nKeepAliveTimeout 7\n</IfDefine>\nTimeout 90\n",
    )
    (root / "usr/lib64/apache2/modules").mkdir(parents=True)
    proc(root)


def upstream_tree(root: Path) -> None:
    """httpd in /usr/local/apache2 (a Debian-built binary), run by the unit with -f ${SITE}/..."""
    (root / "usr/local/apache2/bin").mkdir(parents=True)
    shutil.copyfile(APACHE2, root / "usr/local/apache2/bin/httpd")
    write(
        root,
        "/etc/systemd/system/apache2.service",
        "[Service]\nEnvironment=SITE=/srv/conf\n"
        "ExecStart=/usr/local/apache2/bin/httpd -DFOREGROUND -f ${SITE}/main.conf\n",
    )
    write(root, "/usr/local/apache2/conf/httpd.conf", "Timeout 300\n")
    write(
        root,
        "/srv/conf/main.conf",
        "LoadModule mpm_worker_module modules/mod_mpm_worker.so\n"
        "Timeout 45\nIncludeOptional conf.d/*.conf\n",
    )
    write(root, "/usr/local/apache2/conf.d/ka.conf", "KeepAliveTimeout 4\n")
    proc(root)


def debian_confdir_tree(root: Path) -> None:
    """Debian's envvars sourcing ${APACHE_CONFDIR}/envvars.d/*, a -D from there."""
    debian_tree(root)
    write(
        root,
        "/etc/apache2/envvars",
        "export APACHE_RUN_USER=www-data\n"
        'for f in "${APACHE_CONFDIR}"/envvars.d/local; do . "$f"; done\n'
        '. "${APACHE_CONFDIR}/envvars.d/local"\n',
    )
    write(
        root,
        "/etc/apache2/envvars.d/local",
        'export APACHE_ARGUMENTS="-D TUNED"\nexport SITES=/etc/apache2/sites-shop\n',
    )


TREES: dict[str, Callable[[Path], None]] = {
    "debian": debian_tree,
    "debian-2.2": debian22_tree,
    "rhel": rhel_tree,
    "rhel-specifiers": rhel_specifier_tree,
    "suse": suse_tree,
    "gentoo": gentoo_tree,
    "upstream-unit": upstream_tree,
    "debian-confdir": debian_confdir_tree,
}


def comparable(facts: tcpaudit.HostFacts) -> dict[str, Any]:
    """Facts as JSON, without what a snapshot rightly changes (its own notes)."""
    data = json.loads(facts.model_dump_json())
    data.pop("notes")
    return data


@pytest.mark.parametrize("name", TREES)
def test_snapshot_facts_and_report_equal_the_local_ones(
    module: ModuleType, tmp_path: Path, name: str
) -> None:
    root = tmp_path / "root"
    root.mkdir()
    TREES[name](root)
    local = tcpaudit.gather(root)
    document = json.loads(json.dumps(module.snapshot(str(root), runner=never_run)))
    remote = facts_from_snapshot(document, host=local.host)
    assert local.apache is not None
    assert comparable(remote) == comparable(local)
    local_report = json.loads(tcpaudit.audit(local).to_json())
    remote_report = json.loads(tcpaudit.audit(remote).to_json())
    assert remote_report["findings"] == local_report["findings"]
    assert remote_report["grade"] == local_report["grade"]
    # What each tree is here to show, so that equality is not of two empty answers.
    apache = local.apache
    expected = {
        "debian": ("debian", "2.4.71", "binary", 42),
        "debian-2.2": ("debian", "2.2.16", "package", 300),
        "rhel": ("rhel", "2.4.37", "os-release", 20),
        "rhel-specifiers": ("rhel", "2.4.37", "os-release", 20),
        "suse": ("suse", "2.4", "inferred", 60),
        "gentoo": ("gentoo", "2.4.62", "package", 90),
        "upstream-unit": ("debian", "2.4.71", "binary", 45),
        "debian-confdir": ("debian", "2.4.71", "binary", 42),
    }[name]
    timeout = apache.settings["Timeout"].value
    assert (apache.build, apache.version, apache.version_source, timeout) == expected
    assert "SECRET-" not in json.dumps(document)


def test_a_secret_variable_reaches_neither_the_snapshot_nor_the_facts(
    module: ModuleType, tmp_path: Path
) -> None:
    root = tmp_path / "root"
    root.mkdir()
    debian_tree(root)
    document = module.snapshot(str(root), runner=never_run)
    text = json.dumps(document)
    assert "SECRET-" not in text
    # The names stay, the lines too: line numbers and the other values are kept.
    override = document["files"]["/etc/systemd/system/apache2.service.d/override.conf"]
    assert '"SITE_SET=shop"' in override["content"] and "DB_PASSWORD=" in override["content"]
    assert document["files"]["/etc/default/apache2-extra"]["content"].startswith(
        "EXTRA_TIMEOUT=42\n"
    )
    # dpkg's status: only the stanzas of httpd's packages leave the host.
    status = document["files"]["/var/lib/dpkg/status"]["content"]
    assert "apache2-bin" in status and "bash" not in status


@pytest.mark.skipif(not APACHE2.is_file(), reason="needs this machine's apache2 binary")
def test_the_binary_sent_reads_as_the_binary_itself(module: ModuleType, tmp_path: Path) -> None:
    from tcpaudit.snapshot import HttpdBinary

    evidence = module.binary_evidence(APACHE2.read_bytes())
    assert evidence["linked"][0] == "core_module" and "so_module" in evidence["linked"]
    rebuilt = tmp_path / "usr/sbin/apache2"
    rebuilt.parent.mkdir(parents=True)
    rebuilt.write_bytes(HttpdBinary.model_validate(evidence).data())
    real = read_binary(RootFS("/"), str(APACHE2))
    again = read_binary(RootFS(tmp_path), str(APACHE2))
    assert real is not None and again is not None
    assert (again.version, again.platform, again.linked, again.linked_mpm) == (
        real.version,
        real.platform,
        real.linked,
        real.linked_mpm,
    )


@pytest.fixture()
def opened_paths(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every path inside a root that the loaders resolve (to open, list or test it)."""
    seen: list[str] = []
    original = rootfs.RootFS.resolve

    def recording(self: RootFS, tree_path: Any) -> Path:
        seen.append(str(tree_path))
        return original(self, tree_path)

    monkeypatch.setattr(rootfs.RootFS, "resolve", recording)
    yield seen


@pytest.mark.parametrize("name", TREES)
def test_every_path_a_local_audit_reads_is_in_the_snapshot(
    module: ModuleType, tmp_path: Path, name: str, opened_paths: list[str]
) -> None:
    root = tmp_path / "root"
    root.mkdir()
    TREES[name](root)
    document = module.snapshot(str(root), runner=never_run)
    opened_paths.clear()
    tcpaudit.gather(root)
    sent = set(document["files"]) | set(document["binaries"])
    missing = []
    for path in dict.fromkeys(opened_paths):
        if not path.startswith("/") or path.startswith("/proc/"):
            continue
        if (root / path.lstrip("/")).exists() and path not in sent:
            missing.append(path)
    assert missing == []


def test_a_masked_unit_is_masked_in_the_snapshot_too(module: ModuleType, tmp_path: Path) -> None:
    # httpd.service linked to /dev/null is not started: RHEL's stock unit is
    # assumed, without the drop-in's -f site.conf, and its httpd.conf loads no
    # MPM. Both audits refuse it, with the same words at the same place.
    root = tmp_path / "root"
    root.mkdir()
    rhel_tree(root)
    link(root, "/etc/systemd/system/httpd.service", "/dev/null")
    document = json.loads(json.dumps(module.snapshot(str(root), runner=never_run)))
    with pytest.raises(tcpaudit.ApacheConfigError) as local:
        tcpaudit.gather(root)
    with pytest.raises(tcpaudit.ApacheConfigError) as remote:
        facts_from_snapshot(document)
    assert "No MPM loaded" in str(local.value)
    assert str(remote.value) == str(local.value)


def test_through_ansible_playbook_every_tree_grades_as_its_local_audit(
    ansible_env: dict[str, str],
    tmp_path: Path,
) -> None:
    """Real ansible-playbook over every tree above: each report is the local audit's."""
    roots = {}
    for name, build in TREES.items():
        roots[name] = tmp_path / "hosts" / name
        roots[name].mkdir(parents=True)
        build(roots[name])
    hosts = "".join(f'{name} tcpaudit_root="{root}"\n' for name, root in roots.items())
    inventory = tmp_path / "inventory.ini"
    inventory.write_text(
        f"[web]\n{hosts}\n[web:vars]\nansible_connection=local\n"
        'ansible_python_interpreter="{{ ansible_playbook_python }}"\n',
        encoding="utf-8",
    )
    reports = tmp_path / "reports"
    play = tmp_path / "play.yml"
    play.write_text(
        "- hosts: web\n  gather_facts: false\n  tasks:\n"
        "    - tcpaudit.audit.facts:\n        root: '{{ tcpaudit_root }}'\n"
        "    - tcpaudit.audit.check:\n        fail_on: never\n"
        f"        report_dir: {reports}\n",
        encoding="utf-8",
    )
    result = run(
        [ansible_command("ansible-playbook"), "-i", str(inventory), str(play)],
        ansible_env,
        tmp_path,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "SECRET-" not in output
    for name, root in roots.items():
        text = (reports / f"{name}.json").read_text(encoding="utf-8")
        assert "SECRET-" not in text
        fleet = json.loads(text)
        local = json.loads(tcpaudit.audit(tcpaudit.gather(root, host=name)).to_json())
        assert fleet["findings"] == local["findings"], name
        assert (fleet["grade"], fleet["score"]) == (local["grade"], local["score"]), name
        assert fleet["apache"] == local["apache"], name


def test_the_collector_looks_where_the_loader_looks(module: ModuleType) -> None:
    # The module runs on targets without tcpaudit: its lists are copies, kept equal here.
    from tcpaudit.apache import binary, build, evidence, invocation, units

    assert module.UNIT_DIRECTORIES == units.UNIT_DIRECTORIES
    assert set(module.UNIT_NAMES) == set(invocation._UNITS.values())
    assert tuple(path for path, _ in build._MODULE_DIRS) == module.MODULE_DIRECTORIES
    binaries = {path for paths in build._BINARIES.values() for path in paths}
    assert set(module.HTTPD_BINARIES) == binaries
    assert module.EVIDENCE_TEXT_BYTES == evidence._MAX_TEXT_BYTES
    assert module.BINARY_BYTES == binary._MAX_BINARY_BYTES
    assert module.MAX_DROP_INS == units._MAX_DROP_INS


def test_a_multi_line_secret_leaves_no_line_and_keeps_the_rest_readable(
    module: ModuleType, tmp_path: Path
) -> None:
    root = tmp_path / "root"
    root.mkdir()
    rhel_tree(root)
    write(
        root,
        "/etc/sysconfig/httpd-site",
        'DB_PASSWORD="SECRET-LINE-1\nSECRET-LINE-2"\nOPTIONS="-DLOWTIMEOUT -f conf/site.conf"\n',
    )
    document = json.loads(json.dumps(module.snapshot(str(root), runner=never_run)))
    content = document["files"]["/etc/sysconfig/httpd-site"]["content"]
    assert "SECRET-" not in content and len(content.split("\n")) == 4
    local = tcpaudit.gather(root)
    remote = facts_from_snapshot(document, host=local.host)
    # OPTIONS, read after the secret, still gives -DLOWTIMEOUT and -f site.conf.
    assert remote.apache is not None and remote.apache.settings["Timeout"].value == 20
    assert comparable(remote) == comparable(local)


def test_a_start_up_file_only_its_owner_reads_sends_only_httpds_options(
    module: ModuleType, tmp_path: Path
) -> None:
    # A 0600 EnvironmentFile is where secrets are kept, under any name: only the
    # values httpd's command line is built from leave the host.
    root = tmp_path / "root"
    root.mkdir()
    rhel_tree(root)
    write(
        root,
        "/etc/sysconfig/httpd-site",
        "root:$6$SECRET-HASH:19000:0:99999:7:::\nDB_URL=postgres://app:SECRET-URL@db/app\n"
        'OPTIONS="-DLOWTIMEOUT -f conf/site.conf"\n',
        mode=0o600,
    )
    document = json.loads(json.dumps(module.snapshot(str(root), runner=never_run)))
    content = document["files"]["/etc/sysconfig/httpd-site"]["content"]
    assert "SECRET-" not in json.dumps(document)
    assert content.split("\n")[:3] == [
        "",
        "DB_URL='<redacted by tcpaudit.audit.facts>'",
        'OPTIONS="-DLOWTIMEOUT -f conf/site.conf"',
    ]
    local = tcpaudit.gather(root)
    remote = facts_from_snapshot(document, host=local.host)
    assert remote.apache is not None and remote.apache.settings["Timeout"].value == 20
    assert comparable(remote) == comparable(local)


def test_bare_variable_doubling_in_start_up_files_is_bounded(tmp_path: Path) -> None:
    # `$A$A` chains, as assignments and as a sourced path: 2^60 characters
    # unbounded, so the collector runs in a child capped at 1 GiB.
    root = tmp_path / "root"
    root.mkdir()
    debian_tree(root)
    chain = "".join(f"export E{i}=$E{i - 1}$E{i - 1}\n" for i in range(1, 61))
    line = ". " + "$E60" * 100_000 + "\n"
    write(root, "/etc/apache2/envvars.local", "export E0=xy\n" + chain + line)
    script = (
        "import json, resource, sys\n"
        "resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))\n"
        f"sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
        "from ansible_trees import load_facts_module\n"
        f"print(json.dumps(load_facts_module().snapshot({str(root)!r}, runner=None)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    document = json.loads(done.stdout)
    assert "/etc/apache2/envvars.local" in document["files"]
    assert len(done.stdout) < 4 * 1024 * 1024


@pytest.mark.parametrize(
    "environment",
    [
        "Environment=DB_PASS\\x57ORD=SECRET-U1\n",
        "Environment=A=1 \\\n# note\n DB_PASSWORD=SECRET-U2\n",
        "Environment=A=1\rEnvironment=DB_PASSWORD=SECRET-U3\n",
        "Environment=DB_\\120ASSWORD=SECRET-U4\n",
        "Environment=DB_\\u0050ASSWORD=SECRET-U5\n",
        "Environment=API_TOK'EN'=SECRET-U6 OPTIONS=-DLOWTIMEOUT\n",
    ],
)
def test_a_unit_secret_written_as_systemd_reads_it_never_travels(
    module: ModuleType, tmp_path: Path, environment: str
) -> None:
    """systemd decodes escapes, quotes inside a word, comments inside a
    continued line and \\r line ends: the module redacted only what it read
    plainly, so these values travelled."""
    root = tmp_path / "root"
    root.mkdir()
    rhel_tree(root)
    write(
        root,
        "/etc/systemd/system/httpd.service.d/20-secret.conf",
        "[Service]\n" + environment,
    )
    document = json.loads(json.dumps(module.snapshot(str(root), runner=never_run)))
    assert "SECRET-U" not in json.dumps(document)
    local = tcpaudit.gather(root)
    assert comparable(facts_from_snapshot(document, host=local.host)) == comparable(local)


@pytest.mark.parametrize(
    ("unit", "extra"),
    [
        ("ExecStart=/usr/sbin/httpd -f /etc/httpd/conf/\\x73ite7.conf -DFOREGROUND\n", {}),
        ("ExecStart=/usr/sbin/httpd -f %E/httpd/conf/site7.conf -DFOREGROUND\n", {}),
        ('ExecStart=/usr/sbin/httpd -f /etc/httpd/conf/s"ite7".conf -DFOREGROUND\n', {}),
        (
            "EnvironmentFile=%Y/httpd.env\nExecStart=/usr/sbin/httpd $OPTIONS -DFOREGROUND\n",
            {"/usr/lib/systemd/system/httpd.env": "OPTIONS=-f conf/site7.conf\n"},
        ),
    ],
)
def test_files_a_unit_names_as_systemd_reads_it_travel(
    module: ModuleType, tmp_path: Path, unit: str, extra: dict[str, str]
) -> None:
    root = tmp_path / "root"
    root.mkdir()
    rhel_tree(root)
    write(root, "/usr/lib/systemd/system/httpd.service", "[Service]\nExecStart=\n" + unit)
    (root / "etc/systemd/system/httpd.service.d/10-options.conf").unlink()
    write(root, "/etc/httpd/conf/site7.conf", (
        "LoadModule mpm_event_module modules/mod_mpm_event.so\n"
        "LoadModule unixd_module modules/mod_unixd.so\nTimeout 7\n"
    ))  # fmt: skip
    for path, text in extra.items():
        write(root, path, text)
    local = tcpaudit.gather(root)
    assert local.apache is not None and local.apache.settings["Timeout"].value == 7
    document = json.loads(json.dumps(module.snapshot(str(root), runner=never_run)))
    assert comparable(facts_from_snapshot(document, host=local.host)) == comparable(local)


@pytest.mark.parametrize(
    "drop_in",
    [
        "[Service]\nEnvironment=A=1\x00Environment=PASSWORD=SECRET-V1\n",
        "[Service]\n\ufeffEnvironment=PASSWORD=SECRET-V2\n",
        '[Service]\nExecStartPre=/usr/sbin/httpd -C "SetEnv API_TOKEN SECRET-V3"\n',
        '[Service]\nExecStartPre=/usr/sbin/httpd "-CDefine API_TOKEN SECRET-V4"\n',
        "[Service]\nExecStartPre=/usr/sbin/httpd -C Define\\sAPI_TOKEN\\sSECRET-V5\n",
        "[Service]\nExecStartPre=/usr/bin/env DB_PASSWORD=SECRET-V6 /bin/true\n",
        "[Service]\nSetCredential=db_password:SECRET-V7\n",
        "[Service]\nEnvironment=PASS%iWORD=SECRET-V8\n",
        "[Service]\nExecStartPre=/usr/bin/env MY-PASSWORD=SECRET-V9 DB.PASSWORD=SECRET-VA /bin/true\n",
        "[Service]\nExecStartPre=/usr/bin/tool --password=SECRET-VB --password SECRET-VC\n",
        "[Service]\nExecStartPost=/usr/bin/curl 'https://h/?token=SECRET-VD'\n",
        "[Service]\nUnsetEnvironment=DB_PASSWORD=SECRET-VE\nLogExtraFields=API_TOKEN=SECRET-VF\n",
        '[Service]\nEnvironment=HEALTH=http://127.0.0.1/ping?token=SECRET-VG "OPTS=--password '
        'SECRET-VH" OPTS2=--api-key=SECRET-VI\n',
        "[Service]\n#Environment=DB_PASSWORD=SECRET-VJ\n; Environment=API_TOKEN=SECRET-VK\n"
        "# ghp_SECRETVLabcdefghij0123456789\n",
        # A value runs past a quoted run, and over a blank inside systemd's quotes.
        "[Service]\nEnvironment=\"HEALTH=http://127.0.0.1/ping?token='ab'SECRET-VM\"\n",
        "[Service]\nEnvironmentFile=-/etc/sysconfig/x?token='a'SECRET-VN\n",
        '[Service]\nEnvironment="U=http://h/?token=a SECRET-VO"\n',
        '[Service]\nEnvironment="OPTS=--token=ab,SECRET-VP"\n',
    ],
)
def test_unit_secrets_in_any_setting_never_travel(
    module: ModuleType, tmp_path: Path, drop_in: str
) -> None:
    root = tmp_path / "root"
    root.mkdir()
    rhel_tree(root)
    write(root, "/etc/systemd/system/httpd.service.d/20-secret.conf", drop_in)
    document = json.loads(json.dumps(module.snapshot(str(root), runner=never_run)))
    assert "SECRET-V" not in json.dumps(document)
    local = tcpaudit.gather(root)
    assert comparable(facts_from_snapshot(document, host=local.host)) == comparable(local)


def test_the_unit_systemd_reads_decides_what_travels(module: ModuleType, tmp_path: Path) -> None:
    """/etc's unit hides /usr/lib's; a type-level service.d drop-in applies."""
    root = tmp_path / "root"
    root.mkdir()
    rhel_tree(root)
    (root / "etc/systemd/system/httpd.service.d/10-options.conf").unlink()
    unit = "[Service]\nEnvironment=CONF={}\nExecStart=/usr/sbin/httpd -f ${{CONF}} $OPTIONS\n"
    write(root, "/etc/systemd/system/httpd.service", unit.format("/etc/httpd/custom.conf"))
    write(root, "/usr/lib/systemd/system/httpd.service", unit.format("/etc/httpd/conf/httpd.conf"))
    write(root, "/etc/systemd/system/service.d/10-all.conf", (
        "[Service]\nEnvironment=OPTIONS=-DLOWTIMEOUT\n"
    ))  # fmt: skip
    write(root, "/etc/httpd/custom.conf", (
        "LoadModule mpm_event_module modules/mod_mpm_event.so\n"
        "LoadModule unixd_module modules/mod_unixd.so\n"
        "<IfDefine LOWTIMEOUT>\nTimeout 42\n</IfDefine>\n"
    ))  # fmt: skip
    local = tcpaudit.gather(root)
    assert local.apache is not None and local.apache.settings["Timeout"].value == 42
    document = json.loads(json.dumps(module.snapshot(str(root), runner=never_run)))
    assert comparable(facts_from_snapshot(document, host=local.host)) == comparable(local)


def test_a_secret_named_word_inside_a_quoted_value_keeps_the_file_readable(
    module: ModuleType, tmp_path: Path
) -> None:
    """'--key=/path' inside a single-quoted value: the module cut the value
    mid-quote, the next assignment was lost and the controller refused the file."""
    root = tmp_path / "root"
    root.mkdir()
    debian_tree(root)
    envvars = root / "etc/apache2/envvars"
    envvars.write_text(
        envvars.read_text()
        + "export SSL_OPTS='--key=/etc/ssl/private/site.pem --password=SECRET-Q1'\n"
        + "export HEALTH_URL='http://127.0.0.1/ping?token=SECRET-Q2'\n"
        + "export APACHE_ARGUMENTS='-D TUNED'\n"
    )
    local = tcpaudit.gather(root)
    document = json.loads(json.dumps(module.snapshot(str(root), runner=never_run)))
    assert "SECRET-Q" not in json.dumps(document)
    assert comparable(facts_from_snapshot(document, host=local.host)) == comparable(local)


def test_a_url_password_across_a_quote_change_keeps_the_file_readable(
    module: ModuleType, tmp_path: Path
) -> None:
    root = tmp_path / "root"
    root.mkdir()
    debian_tree(root)
    envvars = root / "etc/apache2/envvars"
    lines = envvars.read_text().splitlines(keepends=True)
    lines.insert(-1, "export DBURL=\"mysql://app:SECRET-W1\"'@db/x'\n")
    envvars.write_text("".join(lines))
    local = tcpaudit.gather(root)
    document = json.loads(json.dumps(module.snapshot(str(root), runner=never_run)))
    assert "SECRET-W" not in json.dumps(document)
    assert comparable(facts_from_snapshot(document, host=local.host)) == comparable(local)


def test_a_unit_variable_put_where_a_secret_stands_never_travels(
    module: ModuleType, tmp_path: Path
) -> None:
    # systemd expands ${X} in ExecStart='s -c directive: X's value is the
    # password httpd's SetEnv gets, though its name says nothing.
    root = tmp_path / "root"
    root.mkdir()
    rhel_tree(root)
    write(root, "/etc/httpd/conf.d/env.conf", "LoadModule env_module modules/mod_env.so\n")
    write(root, "/etc/systemd/system/httpd.service.d/20-secret.conf", (
        "[Service]\nEnvironment=X=SECRET-VX KEPT=1\nExecStart=\n"
        'ExecStart=/usr/sbin/httpd $OPTIONS -DFOREGROUND -c "SetEnv DB_PASSWORD ${X}"\n'
    ))  # fmt: skip
    document = json.loads(json.dumps(module.snapshot(str(root), runner=never_run)))
    assert "SECRET-V" not in json.dumps(document)
    assert "KEPT=1" in json.dumps(document)
    local = tcpaudit.gather(root)
    assert comparable(facts_from_snapshot(document, host=local.host)) == comparable(local)


def test_a_unit_running_httpd_through_env_grades_as_its_local_audit(
    module: ModuleType, tmp_path: Path
) -> None:
    root = tmp_path / "root"
    root.mkdir()
    rhel_tree(root)
    write(root, "/etc/systemd/system/httpd.service.d/20-env.conf", (
        "[Service]\nExecStart=\nExecStart=/usr/bin/env -u LANG EXTRA=1 /usr/sbin/httpd "
        "$OPTIONS -DFOREGROUND\n"
    ))  # fmt: skip
    local = tcpaudit.gather(root)
    assert local.apache is not None and local.apache.invocation is not None
    assert local.apache.invocation.binary == "/usr/sbin/httpd"
    assert "EXTRA" in local.apache.invocation.environment
    assert "LANG" not in local.apache.invocation.environment
    assert local.apache.settings["Timeout"].value == 20  # OPTIONS' -DLOWTIMEOUT reached httpd
    document = json.loads(json.dumps(module.snapshot(str(root), runner=never_run)))
    assert comparable(facts_from_snapshot(document, host=local.host)) == comparable(local)


@pytest.mark.parametrize("name", ["DB_PW", "ADMINPW", "ADMIN_PASS"])
def test_a_half_quoted_secret_assignment_never_travels(
    module: ModuleType, tmp_path: Path, name: str
) -> None:
    # systemd ignores the line whole (a quote left open); its value still
    # stood in the file the module sent.
    root = tmp_path / "root"
    root.mkdir()
    rhel_tree(root)
    write(root, "/etc/systemd/system/httpd.service.d/20-secret.conf",
          f'[Service]\nEnvironment=KEPT=1\nEnvironment="{name}=SECRET-VQ\n')  # fmt: skip
    document = json.loads(json.dumps(module.snapshot(str(root), runner=never_run)))
    assert "SECRET-V" not in json.dumps(document)
    local = tcpaudit.gather(root)
    assert comparable(facts_from_snapshot(document, host=local.host)) == comparable(local)
    assert local.apache is not None and local.apache.invocation is not None
    assert "KEPT" in local.apache.invocation.environment


def test_a_drop_in_directive_naming_the_units_variable_keeps_it_on_the_host(
    module: ModuleType, tmp_path: Path
) -> None:
    # The variable is set in the unit, used where a secret stands in a
    # drop-in's ExecStart= -c: each file was redacted on its own.
    root = tmp_path / "root"
    root.mkdir()
    rhel_tree(root)
    write(root, "/etc/httpd/conf.d/env.conf", "LoadModule env_module modules/mod_env.so\n")
    write(root, "/usr/lib/systemd/system/httpd.service", (
        "[Service]\nEnvironment=V=SECRET-VD KEPT=1\nEnvironmentFile=/etc/sysconfig/httpd\n"
        "ExecStart=/usr/sbin/httpd $OPTIONS -DFOREGROUND\n"
    ))  # fmt: skip
    write(root, "/etc/systemd/system/httpd.service.d/20-secret.conf", (
        "[Service]\nExecStart=\n"
        'ExecStart=/usr/sbin/httpd $OPTIONS -DFOREGROUND -c "SetEnv DB_PASSWORD ${V}"\n'
    ))  # fmt: skip
    document = json.loads(json.dumps(module.snapshot(str(root), runner=never_run)))
    assert "SECRET-V" not in json.dumps(document)
    assert "KEPT=1" in json.dumps(document)
    local = tcpaudit.gather(root)
    assert comparable(facts_from_snapshot(document, host=local.host)) == comparable(local)


def test_a_secret_in_an_environment_file_path_and_a_token_in_apache_files_stay_home(
    module: ModuleType, tmp_path: Path
) -> None:
    root = tmp_path / "root"
    root.mkdir()
    rhel_tree(root)
    write(root, "/etc/systemd/system/httpd.service.d/20-secret.conf",
          "[Service]\nEnvironmentFile=-/etc/app/DB_PASSWORD=SECRET-VP1\n")  # fmt: skip
    token = "ghp_" + "SECRETVT" * 5
    write(root, "/etc/httpd/conf.d/env.conf",
          f"LoadModule env_module modules/mod_env.so\nSetEnv X {token}\n")  # fmt: skip
    document = json.loads(json.dumps(module.snapshot(str(root), runner=never_run)))
    text = json.dumps(document)
    assert "SECRET-V" not in text and "SECRETVT" not in text
    local = tcpaudit.gather(root)
    assert "SECRET-V" not in local.model_dump_json() and "SECRETVT" not in local.model_dump_json()
    assert comparable(facts_from_snapshot(document, host=local.host)) == comparable(local)


@pytest.mark.parametrize(
    "line",
    [
        "export HEALTH=\"http://h/?token='ab'SECRET-W1\"",
        "export HEALTH='http://h/?token=\"ab\"SECRET-W2'",
        "export OPTS=\"--token='ab'SECRET-W3\"",
        "export HEALTH=\"http://h/?q=1&api_key='x'SECRET-W4&z=1\"",
        'export HEALTH="http://h/?token=a SECRET-W5"',
        'export HEALTH="http://h/?token=a\\"b\\"SECRET-W6"',
        "HEALTH=http://h/?token=\\'ab\\'SECRET-W7",
        # An option's value is the rest of its word ('--token=a,b' whole).
        'export OPTS="--token=ab,SECRET-W8"',
        "export OPTS='--api_key=ab;SECRET-W9 -DX'",
        'export OPTS="--token=ab\\\n-SECRET-WA"',
        'export OPTS="--token=ab\u00a0-SECRET-WB"',
        "export OPTS=\"-c 'ProxyPass / http://b/ secret=ab,SECRET-WC'\"",
    ],
)
def test_a_secret_parameter_inside_a_start_up_value_goes_whole(
    module: ModuleType, tmp_path: Path, line: str
) -> None:
    """A 'key=' inside another variable's value: the module cut its value at the
    first quote or blank and sent the rest."""
    root = tmp_path / "root"
    root.mkdir()
    debian_tree(root)
    envvars = root / "etc/apache2/envvars"
    envvars.write_text(envvars.read_text() + line + "\nexport APACHE_ARGUMENTS='-D TUNED'\n")
    local = tcpaudit.gather(root)
    document = json.loads(json.dumps(module.snapshot(str(root), runner=never_run)))
    assert "SECRET-W" not in json.dumps(document)
    assert comparable(facts_from_snapshot(document, host=local.host)) == comparable(local)
