"""The two httpd 2.2 trees, checked against what httpd 2.2 documents.

apache2 2.4 cannot judge a 2.2 configuration, so these trees are checked
against facts from the httpd 2.2 documentation and sources (cited at each
assertion), and against apache2 2.4 only for what 2.4 itself says: it refuses
both trees, and so does tcpaudit when told the version is 2.4.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from apache_harness import map_tree, normalise_tree, run_apache
from test_apache_differential import CORPUS, apache_version

from tcpaudit.apache import load_apache
from tcpaudit.errors import ApacheConfigError

CENTOS6 = CORPUS / "certbot-centos6-httpd2.2"
UPSTREAM22 = CORPUS / "upstream-httpd-2.2.34"


def test_centos6_is_read_as_httpd_2_2_prefork() -> None:
    config = load_apache(root=CENTOS6)
    assert config is not None
    # mod_authz_default exists only in 2.2 (2.2 docs, mod/mod_authz_default.html).
    assert (config.version, config.version_source) == ("2.2", "inferred")
    # 2.2 links one MPM in; the RHEL 6 `httpd` binary is prefork (httpd.worker is not).
    assert (config.mpm, config.mpm_source) == ("prefork", "assumed")
    assert config.layout == "rhel"
    # `Include conf.d/*.conf`: sorted, README does not match (2.2 core docs, Include).
    assert config.files == [
        "etc/httpd/conf/httpd.conf",
        "etc/httpd/conf.d/ssl.conf",
        "etc/httpd/conf.d/test.example.com.conf",
        "etc/httpd/conf.d/welcome.conf",
    ]


def test_centos6_settings_come_from_the_prefork_block() -> None:
    config = load_apache(root=CENTOS6)
    assert config is not None
    timeout = config.settings["Timeout"]
    assert (timeout.value, timeout.file, timeout.line) == (60, "etc/httpd/conf/httpd.conf", 70)
    # 2.2 KeepAlive: "Off" disables (2.2 core docs, KeepAlive).
    assert config.settings["KeepAlive"].value is False
    # <IfModule prefork.c> is true (the MPM source file name), <IfModule worker.c> false.
    workers = config.settings["MaxRequestWorkers"]
    assert (workers.value, workers.spelled, workers.line) == (256, "MaxClients", 107)
    # mod_reqtimeout is not loaded here: no limit on reading a request (2.2).
    assert config.settings["RequestReadTimeout"].value is None


def test_centos6_httpd_worker_binary_selects_worker(tmp_path: Path) -> None:
    root = tmp_path / "root"
    shutil.copytree(CENTOS6, root, symlinks=True)
    sysconfig = root / "etc/sysconfig/httpd"
    sysconfig.parent.mkdir(parents=True)
    # RHEL 6 /etc/sysconfig/httpd: HTTPD picks the binary, hence the MPM.
    sysconfig.write_text("HTTPD=/usr/sbin/httpd.worker\n")
    config = load_apache(root=root)
    assert config is not None
    assert (config.mpm, config.mpm_source) == ("worker", "sysconfig")
    workers = config.settings["MaxRequestWorkers"]
    assert (workers.value, workers.line) == (300, 120)


def test_upstream_2_2_defaults_are_the_2_2_ones() -> None:
    config = load_apache(root=UPSTREAM22)
    assert config is not None
    assert config.version == "2.2"
    assert config.files == ["usr/local/apache2/conf/httpd.conf"]
    settings = config.settings
    # 2.2 core docs: Timeout default 300, KeepAliveTimeout 5, MaxKeepAliveRequests 100.
    assert (settings["Timeout"].value, settings["Timeout"].default) == (300, True)
    assert settings["KeepAliveTimeout"].value == 5
    assert settings["MaxKeepAliveRequests"].value == 100
    # 2.2 mpm_common docs: prefork ServerLimit and MaxClients default 256.
    assert settings["MaxRequestWorkers"].value == 256
    # mod_reqtimeout is loaded, but the 2.2 module imposes no limit by default
    # (2.2 mod_reqtimeout docs: no default values).
    assert "reqtimeout_module" in config.modules
    assert settings["RequestReadTimeout"].value is None


@pytest.mark.parametrize("tree", [CENTOS6, UPSTREAM22], ids=lambda path: path.name)
def test_apache2_2_4_refuses_the_2_2_tree_and_so_does_tcpaudit(tree: Path, tmp_path: Path) -> None:
    tcpaudit_root = tmp_path / "tcpaudit"
    apache_root = tmp_path / "apache"
    shutil.copytree(tree, tcpaudit_root, symlinks=True)
    normalise_tree(tcpaudit_root)
    shutil.copytree(tcpaudit_root, apache_root, symlinks=True)
    map_tree(apache_root)
    main = next(path for path in ("/etc/httpd/conf/httpd.conf", "/usr/local/apache2/conf/httpd.conf")
                if (tcpaudit_root / path.lstrip("/")).is_file())  # fmt: skip
    server_root = str(Path(main).parent.parent)
    run = run_apache(apache_root, main, server_root)
    assert not run.accepted, run.stderr
    with pytest.raises(ApacheConfigError):
        load_apache(main, root=tcpaudit_root, version=apache_version())
