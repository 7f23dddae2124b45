"""load_apache on small trees: layouts, start-up inputs, version, MPM, vhosts, refusals."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from apache_harness import MODULE_DIR, map_tree, run_apache

from tcpaudit.apache import evaluator, load_apache
from tcpaudit.errors import ApacheConfigError

EVENT = f"LoadModule mpm_event_module {MODULE_DIR}/mod_mpm_event.so\n"


def write(root: Path, path: str, text: str) -> Path:
    target = root / path.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)
    return target


def load(root: Path, **options: object):  # type: ignore[no-untyped-def]
    config = load_apache(root=root, **options)  # type: ignore[arg-type]
    assert config is not None
    return config


def test_no_configuration_is_none(tmp_path: Path) -> None:
    assert load_apache(root=tmp_path) is None


def test_debian_layout_reads_envvars(tmp_path: Path) -> None:
    write(tmp_path, "/etc/apache2/envvars", "export APACHE_LOG_DIR=/var/log/apache2$SUFFIX\n")
    write(tmp_path, "/etc/apache2/apache2.conf", EVENT + "ErrorLog ${APACHE_LOG_DIR}/error.log\n")
    config = load(tmp_path)
    assert config.layout == "debian"
    error_log = next(d for d in config.directives if d.key == "errorlog")
    assert error_log.args == ("/var/log/apache2/error.log",)


def test_rhel_sysconfig_options_define_names(tmp_path: Path) -> None:
    write(tmp_path, "/etc/sysconfig/httpd", 'OPTIONS="-D FAST -DQUIET"\n')
    write(
        tmp_path,
        "/etc/httpd/conf/httpd.conf",
        EVENT
        + "<IfDefine FAST>\nTimeout 7\n</IfDefine>\n<IfDefine QUIET>\nKeepAlive Off\n</IfDefine>\n",
    )
    config = load(tmp_path)
    assert config.layout == "rhel"
    assert config.settings["Timeout"].value == 7
    assert config.settings["KeepAlive"].value is False


def test_rhel6_httpd_worker_binary_is_the_2_2_mpm(tmp_path: Path) -> None:
    write(tmp_path, "/etc/sysconfig/httpd", "HTTPD=/usr/sbin/httpd.worker\n")
    write(
        tmp_path, "/etc/httpd/conf/httpd.conf", "<IfModule worker.c>\nMaxClients 300\n</IfModule>\n"
    )
    config = load(tmp_path, version="2.2")
    assert (config.mpm, config.mpm_source) == ("worker", "sysconfig")
    assert config.settings["MaxRequestWorkers"].value == 300


def test_gentoo_conf_d_apache2_opts(tmp_path: Path) -> None:
    write(tmp_path, "/etc/conf.d/apache2", 'APACHE2_OPTS="-D DEFAULT_VHOST -D SSL"\n')
    write(tmp_path, "/usr/lib64/apache2/.keep", "")
    write(tmp_path, "/etc/apache2/httpd.conf", EVENT + "<IfDefine SSL>\nListen 443\n</IfDefine>\n")
    config = load(tmp_path)
    assert config.layout == "gentoo"
    assert config.settings["Listen"].value == ["443"]


@pytest.mark.parametrize(
    ("main", "layout"),
    [
        ("/usr/local/apache2/conf/httpd.conf", "upstream"),
        ("/usr/local/etc/apache24/httpd.conf", "freebsd"),
    ],
)
def test_upstream_and_freebsd_layouts(tmp_path: Path, main: str, layout: str) -> None:
    write(tmp_path, main, EVENT + "Timeout 30\n")
    config = load(tmp_path)
    assert (config.layout, config.main_file) == (layout, main.lstrip("/"))
    assert config.settings["Timeout"].value == 30


def test_version_inference(tmp_path: Path) -> None:
    write(tmp_path, "/usr/local/apache2/conf/httpd.conf", EVENT)
    assert load(tmp_path).version == "2.4"
    write(tmp_path, "/usr/local/apache2/conf/httpd.conf", "MaxClients 20\nNameVirtualHost *:80\n")
    config = load(tmp_path)
    assert (config.version, config.mpm, config.mpm_source) == ("2.2", "prefork", "assumed")
    # The 2.2 default Timeout is 300 s (2.2 core docs), 60 s from 2.3.15.
    assert config.settings["Timeout"].value == 300


def test_mpm_from_loadmodule_and_refusals(tmp_path: Path) -> None:
    conf = "/usr/local/apache2/conf/httpd.conf"
    write(tmp_path, conf, f"LoadModule mpm_worker_module {MODULE_DIR}/mod_mpm_worker.so\n")
    config = load(tmp_path, version="2.4")
    assert (config.mpm, config.mpm_source) == ("worker", "LoadModule")
    assert config.settings["MaxRequestWorkers"].value == 400  # 16 x 25, mpm_common docs
    write(tmp_path, conf, "Timeout 5\n")
    with pytest.raises(ApacheConfigError, match="No MPM loaded"):
        load(tmp_path, version="2.4")
    write(tmp_path, conf, EVENT + f"LoadModule mpm_worker_module {MODULE_DIR}/mod_mpm_worker.so\n")
    with pytest.raises(ApacheConfigError, match="more than one MPM"):
        load(tmp_path, version="2.4")


@pytest.mark.parametrize(
    ("version", "effective"), [("2.4.15", False), ("2.4.16", True), ("2.2", False)]
)
def test_vhost_keepalive_timeout_before_and_after_2_4_16(
    tmp_path: Path, version: str, effective: bool
) -> None:
    write(
        tmp_path,
        "/usr/local/apache2/conf/httpd.conf",
        (EVENT if version != "2.2" else "")
        + "<VirtualHost *:80>\nServerName a\n</VirtualHost>\n"
        + "<VirtualHost *:80>\nServerName b\nKeepAliveTimeout 30\n</VirtualHost>\n",
    )
    config = load(tmp_path, version=version)
    second = config.vhosts[1].settings["KeepAliveTimeout"]
    assert (second.value, second.effective) == (30, effective)


def test_files_are_named_as_included_not_as_link_targets(tmp_path: Path) -> None:
    write(tmp_path, "/etc/apache2/apache2.conf", EVENT + "IncludeOptional mods-enabled/*.load\n")
    write(
        tmp_path,
        "/etc/apache2/mods-available/rewrite.load",
        f"LoadModule rewrite_module {MODULE_DIR}/mod_rewrite.so\n",
    )
    (tmp_path / "etc/apache2/mods-enabled").mkdir()
    (tmp_path / "etc/apache2/mods-enabled/rewrite.load").symlink_to(
        "../mods-available/rewrite.load"
    )
    config = load(tmp_path)
    assert config.files == ["etc/apache2/apache2.conf", "etc/apache2/mods-enabled/rewrite.load"]
    assert "rewrite_module" in config.modules


def test_include_cycle_is_refused_quickly(tmp_path: Path) -> None:
    write(tmp_path, "/etc/apache2/apache2.conf", EVENT + "Include loop.conf\n")
    write(tmp_path, "/etc/apache2/loop.conf", "Include loop.conf\n")
    started = time.perf_counter()
    with pytest.raises(ApacheConfigError, match="maximum include depth of 128"):
        load(tmp_path)
    assert time.perf_counter() - started < 5


def test_include_fan_out_is_stopped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Five levels of ten files, each including all of the next level: within
    # every limit httpd has, and 10**5 reads; tcpaudit stops at MAX_FILES_READ.
    monkeypatch.setattr(evaluator, "MAX_FILES_READ", 500)
    write(tmp_path, "/etc/apache2/apache2.conf", EVENT + "Include level0/*.conf\n")
    for level in range(5):
        for index in range(10):
            write(
                tmp_path,
                f"/etc/apache2/level{level}/{index}.conf",
                f"Include level{level + 1}/*.conf\n" if level < 4 else "",
            )
    with pytest.raises(ApacheConfigError, match="more than 500 configuration files"):
        load(tmp_path)


def test_directive_of_a_module_not_loaded_is_refused_with_its_place(tmp_path: Path) -> None:
    write(tmp_path, "/etc/apache2/apache2.conf", EVENT + "Timeout 5\nRewriteEngine On\n")
    with pytest.raises(ApacheConfigError) as raised:
        load(tmp_path)
    assert (raised.value.file, raised.value.line) == ("etc/apache2/apache2.conf", 3)
    assert "Invalid command 'RewriteEngine'" in raised.value.reason


def test_unknown_directive_is_refused_as_apache2_refuses_it(tmp_path: Path) -> None:
    # Every loaded module is one whose directives tcpaudit knows: none registers it.
    root = tmp_path / "tcpaudit"
    write(root, "/etc/apache2/apache2.conf", EVENT + "ErrorLog /dev/null\nSomeVendorDirective on\n")
    with pytest.raises(ApacheConfigError) as raised:
        load(root)
    assert (raised.value.file, raised.value.line) == ("etc/apache2/apache2.conf", 3)
    assert "Invalid command 'SomeVendorDirective'" in raised.value.reason
    apache_root = tmp_path / "apache"
    write(apache_root, "/etc/apache2/apache2.conf", (root / "etc/apache2/apache2.conf").read_text())
    map_tree(apache_root)
    run = run_apache(apache_root, "/etc/apache2/apache2.conf", "/etc/apache2")
    assert not run.accepted and run.error == ("etc/apache2/apache2.conf", 3)


def test_unknown_directive_is_a_note_when_a_module_tcpaudit_cannot_know_is_loaded(
    tmp_path: Path,
) -> None:
    write(tmp_path, "/etc/apache2/apache2.conf", EVENT
          + "LoadModule security2_module /usr/lib/apache2/modules/mod_security2.so\n"
          "ErrorLog /dev/null\nSecRuleEngine On\n")  # fmt: skip
    config = load(tmp_path)
    notes = [note for note in config.notes if "SecRuleEngine" in note.message]
    assert [(note.file, note.line) for note in notes] == [("etc/apache2/apache2.conf", 4)]
    assert "security2_module" in notes[0].message


def test_undefined_variable_is_kept_with_a_note(tmp_path: Path) -> None:
    write(tmp_path, "/etc/apache2/apache2.conf", EVENT + "Define FLAG\nServerAdmin ${FLAG}@x\n")
    config = load(tmp_path)
    admin = next(d for d in config.directives if d.key == "serveradmin")
    # Define without a value sets no variable (core.c set_define).
    assert admin.args == ("${FLAG}@x",)
    assert any("${FLAG}" in note.message for note in config.notes)


def test_gentoo_links_its_mpm_in(tmp_path: Path) -> None:
    # Gentoo's ebuild builds the MPM of APACHE2_MPMS statically: httpd.conf loads none.
    write(tmp_path, "/usr/lib64/apache2/.keep", "")
    write(
        tmp_path,
        "/etc/apache2/httpd.conf",
        "<IfModule mpm_prefork_module>\nMaxRequestWorkers 150\n</IfModule>\n"
        "<IfModule mpm_event_module>\nMaxRequestWorkers 400\n</IfModule>\n",
    )
    assumed = load(tmp_path)
    assert (assumed.mpm, assumed.mpm_source) == ("prefork", "assumed")
    assert assumed.settings["MaxRequestWorkers"].value == 150
    told = load(tmp_path, mpm="event")
    assert (told.mpm, told.mpm_source, told.settings["MaxRequestWorkers"].value) == (
        "event",
        "option",
        400,
    )


def test_directory_include_reads_hidden_files_in_byte_order(tmp_path: Path) -> None:
    # ap_dir_nofnmatch: every entry but . and .., recursively, strcmp order.
    write(tmp_path, "/etc/apache2/apache2.conf", EVENT + "Include conf.d\nInclude other/*.conf\n")
    for name in ("b.conf", ".hidden", "B.conf", "sub/a.conf"):
        write(tmp_path, f"/etc/apache2/conf.d/{name}", "")
    write(tmp_path, "/etc/apache2/other/.dot.conf", "")
    write(tmp_path, "/etc/apache2/other/x.conf", "")
    config = load(tmp_path)
    assert config.files[1:] == [
        "etc/apache2/conf.d/.hidden",
        "etc/apache2/conf.d/B.conf",
        "etc/apache2/conf.d/b.conf",
        "etc/apache2/conf.d/sub/a.conf",
        # A wildcard does not match a leading dot (APR_FNM_PERIOD).
        "etc/apache2/other/x.conf",
    ]


def test_include_without_match_is_refused_include_optional_is_not(tmp_path: Path) -> None:
    write(
        tmp_path,
        "/etc/apache2/apache2.conf",
        EVENT + "IncludeOptional none/*.conf\nInclude none/*.conf\n",
    )
    with pytest.raises(ApacheConfigError) as raised:
        load(tmp_path)
    assert raised.value.line == 3 and "Could not open directory" in raised.value.reason


def test_unknown_patch_level_is_said_when_it_decides_a_vhost(tmp_path: Path) -> None:
    vhosts = (
        "<VirtualHost *:80>\nServerName a\n</VirtualHost>\n"
        "<VirtualHost *:80>\nServerName b\nKeepAliveTimeout 30\n</VirtualHost>\n"
    )
    write(tmp_path, "/etc/apache2/apache2.conf", EVENT + "ErrorLog /dev/null\n" + vhosts)

    def patch_notes(version: str) -> list[tuple[str | None, int | None]]:
        config = load(tmp_path, version=version)
        return [(n.file, n.line) for n in config.notes if "patch level unknown" in n.message]

    assert patch_notes("2.4") == [("etc/apache2/apache2.conf", 8)]
    assert patch_notes("2.4.6") == [] and patch_notes("2.4.62") == []
    # The first vhost of an address is not concerned.
    write(tmp_path, "/etc/apache2/apache2.conf", EVENT + "ErrorLog /dev/null\n"
          + "<VirtualHost *:80>\nKeepAliveTimeout 30\n</VirtualHost>\n")  # fmt: skip
    assert patch_notes("2.4") == []


def test_a_likely_typo_of_a_known_directive_is_pointed_out(tmp_path: Path) -> None:
    write(tmp_path, "/etc/apache2/apache2.conf",
          EVENT + "ErrorLog /dev/null\nTimout 30\nAcmeVendorTuning on\n")  # fmt: skip
    with pytest.raises(ApacheConfigError) as raised:
        load(tmp_path, version="2.4")
    assert raised.value.line == 3 and raised.value.reason.endswith("(did you mean Timeout?)")
    write(tmp_path, "/etc/apache2/apache2.conf", EVENT
          + "LoadModule acme_module /usr/lib/apache2/modules/mod_acme.so\n"
          "ErrorLog /dev/null\nTimout 30\nAcmeVendorTuning on\n")  # fmt: skip
    notes = {note.line: note.message for note in load(tmp_path, version="2.4").notes}
    assert "did you mean Timeout?" in notes[4]
    assert "not known to tcpaudit" in notes[5] and "did you mean" not in notes[5]


@pytest.mark.parametrize(
    ("version", "line", "expected"),
    [
        ("2.4", "Timeout 5min", "Timeout 5min is read as 5"),
        ("2.2", "KeepAliveTimeout 500ms", "KeepAliveTimeout 500ms is read as 500"),
        ("2.4", "KeepAliveTimeout 500ms", None),  # 2.4 reads the unit: 0.5 s
        ("2.4", "Timeout 60", None),
        ("2.4", "Timeout -5", None),
    ],
)
def test_values_httpd_reads_with_atoi_are_explained(
    tmp_path: Path, version: str, line: str, expected: str | None
) -> None:
    mpm = EVENT if version == "2.4" else ""
    write(tmp_path, "/usr/local/apache2/conf/httpd.conf", mpm + line + "\n")
    config = load(tmp_path, version=version)
    notes = [note.message for note in config.notes if "atoi" in note.message]
    assert notes == ([f"{expected}: httpd keeps the leading digits (C atoi) and ignores the rest"]
                     if expected else [])  # fmt: skip


def test_a_byte_order_mark_in_a_name_is_shown_not_hidden(tmp_path: Path) -> None:
    write(tmp_path, "/etc/apache2/apache2.conf", EVENT + "ErrorLog /dev/null\n\ufeffTimeout 5\n")
    with pytest.raises(ApacheConfigError) as caught:
        load(tmp_path, version="2.4")
    assert caught.value.line == 3
    assert "'\\ufeffTimeout'" in caught.value.reason and "\ufeff" not in caught.value.reason
    assert "byte-order mark" in caught.value.reason


def test_a_vhost_request_read_timeout_merges_over_the_servers_stages(tmp_path: Path) -> None:
    write(tmp_path, "/etc/apache2/apache2.conf",
          EVENT + f"LoadModule reqtimeout_module {MODULE_DIR}/mod_reqtimeout.so\n"
          "ErrorLog /dev/null\nRequestReadTimeout header=20-40,MinRate=500 body=0\n"
          "<VirtualHost *:80>\nRequestReadTimeout header=10\n</VirtualHost>\n"
          "<VirtualHost *:81>\n</VirtualHost>\n")  # fmt: skip
    config = load(tmp_path, version="2.4")
    value = config.vhosts[0].settings["RequestReadTimeout"].value
    # header from the vhost; body from the server (0: no limit), not the 20 s default.
    assert value.header.timeout_seconds == 10 and value.header.max_seconds is None
    assert value.body.timeout_seconds == 0
    server = config.settings["RequestReadTimeout"].value
    assert server.header.max_seconds == 40 and server.body.timeout_seconds == 0


def test_an_httpd_newer_than_the_probed_one_may_know_more_directives(tmp_path: Path) -> None:
    # The tables come from httpd 2.4.71: a later release may register a name
    # they lack, so there an unknown name is a note, not a refusal.
    write(tmp_path, "/etc/apache2/apache2.conf", EVENT + "ErrorLog /dev/null\nNewerDirective on\n")
    with pytest.raises(ApacheConfigError):
        load(tmp_path, version="2.4.71")
    notes = [note for note in load(tmp_path, version="2.4.72").notes if note.line == 3]
    assert notes and "newer than 2.4.71" in notes[0].message
