"""The service's invocation: -D, -C, the environment, and where each family keeps them.

tcpaudit runs no shell, so it evaluates envvars-like files itself; each
script below is also sourced by the real ``sh`` and the exported environment
must be the same. Debian's whole chain (apache2ctl sourcing envvars, then
apache2 with ``$APACHE_ARGUMENTS``) runs for real through ``apache2ctl -t``,
and ``-D``/``-C``/environment given to tcpaudit must make it read a tree as
``apache2`` given the same invocation does: same values, same verdict, same
refusing line. systemd is not PID 1 on this machine, so the unit and
environment-file readings are checked against systemd.exec(5)/systemd.service(5),
not against systemd itself.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from apache_harness import MODULE_DIR, map_tree, run_apache, run_apache2ctl
from click.testing import CliRunner
from test_apache_differential import Tree, assert_same, load_with_tcpaudit

from tcpaudit.apache import load_apache
from tcpaudit.apache.environment_files import parse_environment_file
from tcpaudit.apache.invocation import read_invocation
from tcpaudit.apache.service_arguments import Invocation, apply_arguments
from tcpaudit.apache.shell import run_script
from tcpaudit.apache.shell_state import MAX_VALUE_BYTES, ShellState
from tcpaudit.cli import cli
from tcpaudit.errors import ApacheConfigError
from tcpaudit.rootfs import RootFS

EVENT = f"LoadModule mpm_event_module {MODULE_DIR}/mod_mpm_event.so\n"
DEBIAN = Tree("/etc/apache2/apache2.conf", "/etc/apache2")
STOCK_ENVVARS = (
    Path(__file__).resolve().parent.parent / "corpus/debian-12-apache2.4/etc/apache2/envvars"
)


# Directives of over 205 bytes, as operators pass them.
CSP_HEADER = (
    "Header always set Content-Security-Policy \"default-src 'self'; script-src 'self' "
    "https://cdn.example.com; style-src 'self' 'unsafe-inline'; img-src 'self' data: https:; "
    "frame-ancestors 'none'; base-uri 'self'\""
)
LONG_LOG_FORMAT = (
    'LogFormat "%v:%p %h %l %u %t \\"%r\\" %>s %O \\"%{Referer}i\\" \\"%{User-Agent}i\\" %D '
    "%{X-Forwarded-For}i %{X-Request-Id}i %{Host}i %{Content-Type}o %{Cache-Control}o "
    '%{Location}o %k %P %{tid}P %L %T" vhost_timing'
)


def write(root: Path, path: str, text: str) -> Path:
    target = root / path.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)
    return target


SCRIPTS = {
    "debian-stock": STOCK_ENVVARS.read_text(),
    "unexported": "export A=1\nB=2\nC=$B$A\nexport C\nexport D\nD=late\n",
    "conditionals": (
        'X=/etc/apache2-two\nif [ "${X##/etc/apache2-}" != "$X" ] ; then\n  SUFFIX="-${X##/etc/apache2-}"\n'
        'elif [ -z "$X" ]; then SUFFIX=none\nelse\n  SUFFIX=\nfi\nexport RUN=/run/apache2$SUFFIX\n'
        'if test "$SUFFIX" = "-two"; then export TWO=yes; fi\n'
    ),
    "defaults": "export A=${UNSET:-dflt} B=${UNSET-x} C=${A:+set} D=${#A}\nE=${F:=assigned}\nexport E F\n",
    "trims": "P=/usr/lib/apache2/modules/mod_x.so\nexport N=${P##*/} D=${P%/*} S=${P%.so} L=${P#/usr}\n",
    "quoting": 'export Q=\'it\'\'s\' R="a \\"b\\" \\$c" S=plain\\ space T="$Q and $R"\n',
    "set-a": "set -a\nA=1\nB=two\nset +a\nC=3\nexport D=4\n",
    "unset": "export A=1 B=2\nunset A\nexport C=${A:-gone}\n",
    "continuation": "export LONG=one\\\ntwo\nexport AFTER=$LONG\n",
    # test(1) fails on a number out of range, it does not stop the script.
    "huge-numbers": (
        f'N={"9" * 5000}\nif [ "$N" -eq 1 ]; then export A=1; else export A=2; fi\n'
        f"if [ -{'9' * 5000} -lt 0 ]; then export B=1; else export B=2; fi\n"
        "if [ 5 -lt 7 ]; then export C=yes; fi\n"
    ),
}


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_exported_environment_is_what_sh_exports(name: str, tmp_path: Path) -> None:
    script = write(tmp_path, "/envvars", SCRIPTS[name])
    base = {"PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        ["sh", "-c", f'. "{script}" >/dev/null 2>&1; env -0'],
        capture_output=True, text=True, env=base, check=True, cwd="/",
    )  # fmt: skip
    exported = dict(item.split("=", 1) for item in done.stdout.split("\0") if "=" in item)
    for name_set_by_sh in ("SHLVL", "_", "OLDPWD"):
        exported.pop(name_set_by_sh, None)
    state = ShellState(variables=dict(base), exported=set(base))
    run_script(SCRIPTS[name], state, "envvars")
    assert state.environment() == exported


def test_a_doubling_envvars_ends_in_one_error_not_gigabytes(tmp_path: Path) -> None:
    write(tmp_path, "/etc/apache2/apache2.conf", EVENT + "ServerName ${A}\n")
    write(tmp_path, "/etc/apache2/envvars", "A=x\n" + "A=$A$A$A$A\n" * 60 + "export A\n")
    started = time.perf_counter()
    with pytest.raises(ApacheConfigError) as raised:
        load_apache(root=tmp_path)
    assert time.perf_counter() - started < 5
    # 4^9 > 128 KiB: the ninth line is where execve could no longer pass A.
    assert (raised.value.file, raised.value.line) == ("etc/apache2/envvars", 10)
    assert str(MAX_VALUE_BYTES) in raised.value.reason


@pytest.mark.parametrize(
    ("path", "text", "where"),
    [
        ("/etc/apache2/envvars", "export A=$(cat /dev/zero)\nB=x\n" + "B=$B$B\n" * 40, 20),
        ("/etc/sysconfig/httpd", "X=y\n" * 10 + "A=x\n" + "A=$A$A\n" * 40, 29),
        ("/etc/conf.d/apache2", "APACHE2_OPTS=-DX\nA=x\n" + "A=${A}${A}\n" * 40, 20),
        ("/etc/sysconfig/apache2", "APACHE_MPM=prefork\nA=x\n" + 'A="$A$A"\n' * 40, 20),
    ],
    ids=["debian", "rhel-6", "gentoo", "suse"],
)
def test_every_family_bounds_its_expansions(
    tmp_path: Path, path: str, text: str, where: int
) -> None:
    write(tmp_path, path, text)
    build = {"/etc/apache2/envvars": "debian", "/etc/sysconfig/httpd": "rhel",
             "/etc/conf.d/apache2": "gentoo", "/etc/sysconfig/apache2": "suse"}[path]  # fmt: skip
    release = (2, 2) if build == "rhel" else (2, 4)
    with pytest.raises(ApacheConfigError) as raised:
        read_invocation(RootFS(tmp_path), build, release, "/etc/apache2/envvars")
    assert (raised.value.file, raised.value.line) == (path.lstrip("/"), where)


def test_the_cli_reports_a_bomb_on_one_line(tmp_path: Path) -> None:
    write(tmp_path, "/etc/apache2/apache2.conf", EVENT)
    write(tmp_path, "/etc/apache2/envvars", "A=x\n" + "A=$A$A\n" * 40)
    result = CliRunner().invoke(cli, ["facts", "--root", str(tmp_path), "-o", os.devnull])
    assert result.exit_code == 2
    error = result.stderr.strip().splitlines()
    assert len(error) == 1 and error[0].startswith("tcpaudit: error: etc/apache2/envvars:19: ")


def test_debian_service_chain_matches_apache2ctl(tmp_path: Path) -> None:
    """apache2ctl sources envvars: exported names reach ${...}, APACHE_ARGUMENTS gives -D."""
    tcpaudit_root = tmp_path / "tcpaudit"
    write(tcpaudit_root, "/etc/apache2/apache2.conf", (
        EVENT + "ErrorLog /dev/null\nServerName ${SITE}\nServerAdmin ${HIDDEN}@example.org\n"
        "<IfDefine FAST>\nTimeout 7\n</IfDefine>\n<IfDefine !QUIET>\nKeepAlive Off\n</IfDefine>\n"
        "<IfDefine DEBUG>\nMaxKeepAliveRequests 7\n</IfDefine>\n"
    ))  # fmt: skip
    write(tcpaudit_root, "/etc/apache2/envvars", (
        'export SITE=www.example\nHIDDEN=secret\nexport APACHE_ARGUMENTS="-D FAST -DQUIET -X"\n'
    ))  # fmt: skip
    apache_root = tmp_path / "apache"
    shutil.copytree(tcpaudit_root, apache_root)
    map_tree(apache_root)
    run = run_apache2ctl(apache_root)
    config = load_with_tcpaudit(tcpaudit_root, DEBIAN)
    assert_same(run, config)
    assert not isinstance(config, ApacheConfigError)
    assert config.invocation is not None
    # -X is httpd's debug mode: a define named DEBUG (server/main.c).
    assert config.invocation.defines == run.defines == ["FAST", "QUIET", "DEBUG"]
    assert config.settings["Timeout"].value == 7
    assert config.settings["KeepAlive"].value is True
    names = {d.key: d.args for d in config.directives}
    # HIDDEN is not exported: httpd never sees it and leaves ${HIDDEN} as written.
    assert names["servername"] == ("www.example",)
    assert names["serveradmin"] == ("${HIDDEN}@example.org",)


@pytest.mark.parametrize(
    ("options", "environment", "extra"),
    [
        (("-D", "ONE", "-D", "TWO"), {}, ""),
        (("-C", "Timeout 9", "-C", "Define SITE from-c"), {}, ""),
        (("-C", "Bogus 1"), {}, ""),
        (("-C", "Timeout 1 2"), {}, ""),
        (("-C", "<IfDefine ONE>"), {}, ""),
        (("-D", "ONE"), {"SITE": "env.example", "PORT": "8080"}, "Listen ${PORT}\n"),
        (("-D", "NAME=VALUE"), {}, "<IfDefine NAME=VALUE>\nKeepAlive Off\n</IfDefine>\n"),
        ((), {"SITE": "a b"}, ""),
        # main.c keeps each -D; UnDefine removes the first it finds: ONE stays defined.
        (("-D", "ONE", "-D", "ONE"), {}, "UnDefine ONE\n<IfDefine ONE>\nKeepAliveTimeout 9\n</IfDefine>\n"),
        # -c: read after the main file, so over it; refused at "-c/-C directives".
        (("-D", "ONE", "-c", "Timeout 12", "-c", "KeepAlive Off", "-C", "Timeout 5"), {}, ""),
        (("-c", "KeepAliveTimeout x"), {}, ""),
        (("-c", "Listen 8082", "-c", "<IfDefine ONE>"), {}, ""),
        # Each -C/-c directive is a line of its own: a last backslash is a word,
        # unless a line feed follows it (then the next directive continues it).
        (("-C", "Define A \\", "-C", "Timeout 5"), {}, ""),
        (("-C", "Timeout 7 \\"), {}, ""),
        (("-C", "KeepAlive \\", "-C", "On"), {}, ""),
        (("-c", "LogLevel warn \\", "-c", "KeepAlive On"), {}, ""),
        (("-C", "Timeout 8 \\\r", "-C", "KeepAlive Off"), {}, ""),
        (("-C", "Timeout \\\n", "-C", "6"), {}, ""),
        (("-C", "Timeout \\\r\n", "-C", "7 \\\n", "-C", "Bogus"), {}, ""),
        (("-C", "Timeout\n13", "-c", "KeepAlive \\\n"), {}, ""),
        # httpd's buffer holds 205 bytes of a directive first: a longer one is
        # cut there and the next glued on, or dropped when none follows (the
        # last -C: run_apache adds a -c of its own).
        (("-C", CSP_HEADER), {}, ""),
        (("-C", "Timeout 7" + " " * 200), {}, ""),
        (("-c", LONG_LOG_FORMAT, "-c", "Timeout 7"), {}, ""),
        (("-C", LONG_LOG_FORMAT, "-C", "KeepAlive On", "-C", "Timeout 7", "-C", "Bogus 1"), {}, ""),
        (("-C", "Define " + "a" * 199, "-C", "Timeout 8", "-C", "Timeout 9"), {}, ""),
    ],
    ids=["defines", "directives-before", "invalid-in-C", "word-count-in-C", "open-section-in-C",
         "environment", "define-with-equals", "environment-with-space", "define-twice-undefine-once",
         "directives-after", "invalid-in-c", "open-section-in-c", "last-backslash-is-a-word",
         "last-backslash-counted", "last-backslash-not-joined", "last-backslash-in-c",
         "backslash-carriage-return", "backslash-line-feed-joins", "joins-twice",
         "line-feed-inside", "long-last-dropped", "long-blanks-dropped", "long-glued-refused",
         "long-glued-refused-at-its-line", "long-glued-defines"],
)  # fmt: skip
def test_the_same_invocation_gives_the_same_reading(
    tmp_path: Path, options: tuple[str, ...], environment: dict[str, str], extra: str
) -> None:
    tcpaudit_root = tmp_path / "tcpaudit"
    write(tcpaudit_root, "/etc/apache2/apache2.conf", (
        EVENT + "ErrorLog /dev/null\nServerName ${SITE}\n<IfDefine ONE>\nTimeout 11\n</IfDefine>\n"
        "<IfDefine TWO>\nKeepAliveTimeout 3\n</IfDefine>\n" + extra
    ))  # fmt: skip
    apache_root = tmp_path / "apache"
    shutil.copytree(tcpaudit_root, apache_root)
    map_tree(apache_root)
    run = run_apache(apache_root, DEBIAN.main_file, DEBIAN.server_root, options=options,
                     environment=environment)  # fmt: skip
    defines = [options[i + 1] for i in range(len(options)) if options[i] == "-D"]
    directives = [options[i + 1] for i in range(len(options)) if options[i] == "-C"]
    late = [options[i + 1] for i in range(len(options)) if options[i] == "-c"]
    try:
        loaded = load_apache(DEBIAN.main_file, root=tcpaudit_root, version="2.4.71",
                             compiled_in=_static(), defines=defines, directives=directives,
                             environment=environment, late_directives=late)  # fmt: skip
    except ApacheConfigError as exc:
        loaded = exc  # type: ignore[assignment]
    assert_same(run, loaded)  # type: ignore[arg-type]
    if run.accepted:
        assert loaded is not None and not isinstance(loaded, ApacheConfigError)
        # DUMP_RUN_CFG lists the -D names first (less those UnDefine removed,
        # the first of each), then the configuration's Defines.
        kept = list(defines)
        for line in extra.splitlines():
            if line.startswith("UnDefine ") and line[9:] in kept:
                kept.remove(line[9:])
        assert run.defines[: len(kept)] == kept


def _static() -> tuple[str, ...]:
    from apache_harness import static_modules

    return static_modules()


def test_cli_options_reach_the_loader(tmp_path: Path) -> None:
    write(tmp_path, "/etc/apache2/apache2.conf",
          EVENT + "ServerName ${SITE}\n<IfDefine ONE>\nTimeout 11\n</IfDefine>\n")  # fmt: skip
    output = tmp_path / "facts.json"
    result = CliRunner().invoke(cli, [
        "facts", "--root", str(tmp_path), "-D", "ONE", "-C", "KeepAlive Off",
        "--env", "SITE=cli.example", "--apache-build", "debian", "-o", str(output),
        "-c", "MaxKeepAliveRequests 7",
    ])  # fmt: skip
    assert result.exit_code == 0, result.stderr
    import json

    apache = json.loads(output.read_text())["apache"]
    assert apache["settings"]["Timeout"]["value"] == 11
    assert apache["settings"]["MaxKeepAliveRequests"]["value"] == 7
    assert apache["invocation"]["late_directives"] == ["MaxKeepAliveRequests 7"]
    assert apache["settings"]["KeepAlive"]["value"] is False
    assert apache["settings"]["KeepAlive"]["file"] == "-c/-C directives"
    assert (apache["build"], apache["build_source"]) == ("debian", "option")
    assert apache["invocation"]["defines"] == ["ONE"]
    assert "SITE" in apache["invocation"]["environment"]
    # Values never travel: a start-up file may keep a secret there.
    assert "cli.example" not in json.dumps(apache["invocation"])


def test_rhel_unit_drop_ins_and_environment_files(tmp_path: Path) -> None:
    write(tmp_path, "/etc/httpd/conf/httpd.conf", EVENT)
    write(tmp_path, "/usr/lib/systemd/system/httpd.service", (
        "[Unit]\nDescription=httpd\n[Service]\nEnvironment=LANG=C OPTIONS=-DFROM_UNIT\n"
        "EnvironmentFile=/etc/sysconfig/httpd\nExecStart=/usr/sbin/httpd $OPTIONS -DFOREGROUND\n"
    ))  # fmt: skip
    write(
        tmp_path,
        "/etc/sysconfig/httpd",
        "# comment\n; also a comment\nOPTIONS=\"-DFROM_SYSCONFIG -C 'Timeout 5'\"\nSITE= a b \n",
    )
    write(tmp_path, "/etc/systemd/system/httpd.service.d/50-extra.conf", (
        "[Service]\nEnvironment=\"EXTRA=x y\"\nExecStart=\nExecStart=/usr/sbin/httpd $OPTIONS "
        "-DFROM_DROP_IN ${EXTRA}\n"
    ))  # fmt: skip
    invocation = read_invocation(RootFS(tmp_path), "rhel", (2, 4), None)
    # EnvironmentFile= wins over Environment= (systemd.exec(5)); $OPTIONS splits
    # at blanks, quotes removed (replace_env_argv); ${EXTRA} stays one word;
    # the empty ExecStart= resets the list.
    assert invocation.defines == ["FROM_SYSCONFIG", "FROM_DROP_IN"]
    assert invocation.before == ["Timeout 5"]
    assert invocation.environment["SITE"] == "a b"
    assert invocation.files == [
        "usr/lib/systemd/system/httpd.service",
        "etc/systemd/system/httpd.service.d/50-extra.conf",
        "etc/sysconfig/httpd",
    ]


def test_environment_file_syntax() -> None:
    text = (
        'A=plain value \nB=\'single $X \\n\'\nC="double \\"q\\" \\\\ $X"\nexport D=1\n'
        'E=one\\\ntwo\n#F=comment\n;G=comment\nH\n I = spaced\nJ="multi\nline"\n'
    )
    assert [(a.name, a.value, a.line) for a in parse_environment_file(text)] == [
        ("A", "plain value", 1),
        ("B", "single $X \\n", 2),
        ("C", 'double "q" \\ $X', 3),
        ("E", "onetwo", 5),
        ("I", "spaced", 10),
        ("J", "multi\nline", 11),
    ]


def test_gentoo_conf_d_gives_options_server_root_and_config_file(tmp_path: Path) -> None:
    write(tmp_path, "/etc/conf.d/apache2", (
        'APACHE2_OPTS="-D DEFAULT_VHOST -D SSL"\nSERVERROOT=/usr/lib64/apache2\n'
        "CONFIGFILE=/etc/apache2/other.conf\n"
    ))  # fmt: skip
    write(tmp_path, "/etc/apache2/httpd.conf", "Timeout 1\n")
    write(tmp_path, "/etc/apache2/other.conf", "<IfDefine SSL>\nTimeout 2\n</IfDefine>\n")
    (tmp_path / "usr/lib64/apache2").mkdir(parents=True)
    config = load_apache(root=tmp_path)
    assert config is not None
    assert (config.main_file, config.settings["Timeout"].value) == ("etc/apache2/other.conf", 2)
    assert config.invocation is not None and config.invocation.defines == ["DEFAULT_VHOST", "SSL"]


def test_suse_server_flags_and_sysconfig_define(tmp_path: Path) -> None:
    write(tmp_path, "/etc/os-release", 'ID="opensuse-leap"\nVERSION_ID="15.5"\n')
    write(
        tmp_path,
        "/etc/sysconfig/apache2",
        'APACHE_SERVER_FLAGS="SSL -DSTATUS"\nAPACHE_MPM="event"\n',
    )
    write(tmp_path, "/etc/apache2/sysconfig.d/loadmodule.conf", "")
    write(tmp_path, "/etc/apache2/httpd.conf", (
        "<IfDefine SYSCONFIG>\nInclude /etc/apache2/sysconfig.d/loadmodule.conf\n</IfDefine>\n"
        "<IfDefine SSL>\nTimeout 3\n</IfDefine>\n<IfModule event.c>\nMaxRequestWorkers 200\n</IfModule>\n"
    ))  # fmt: skip
    config = load_apache(root=tmp_path)
    assert config is not None and config.invocation is not None
    assert config.invocation.defines == ["SYSCONFIG", "SSL", "STATUS"]
    assert config.invocation.binary == "/usr/sbin/httpd-event"
    assert (config.mpm, config.mpm_source) == ("event", "build")
    assert config.settings["Timeout"].value == 3
    assert config.settings["MaxRequestWorkers"].value == 200


OPENRC_SOURCEX = (
    'sourcex() { if ! . "$1"; then echo "error loading $1"; exit 1; fi; }\n'
    'sourcex "$0"; echo "reached $APACHE2_OPTS"\n'
)


@pytest.mark.parametrize(
    ("conf_d", "outcome"),
    [
        # A failing end: OpenRC says "error loading" and the service stops.
        ('APACHE2_OPTS="-D SSL"\n[ -n "$X" ] && APACHE2_OPTS="-D X"\n', "stops"),
        # set -e has no effect inside the condition OpenRC sources it in.
        ('set -e\nfalse\nAPACHE2_OPTS="-D SSL"\n', "SSL"),
        ('APACHE2_OPTS="-D SSL"\n', "SSL"),
        # umask fails on what is not octal: the end fails.
        ('APACHE2_OPTS="-D SSL"\numask 0778\n', "stops"),
    ],
)
def test_gentoo_conf_d_is_sourced_as_openrc_sources_it(
    tmp_path: Path, conf_d: str, outcome: str
) -> None:
    """OpenRC's openrc-run sources conf.d/NAME in 'if ! . FILE': set -e is
    off inside, and a failing end stops the service (tcpaudit took both the
    other way)."""
    (tmp_path / "conf").write_text(conf_d)
    done = subprocess.run(["bash", "-c", OPENRC_SOURCEX, str(tmp_path / "conf")],
                          capture_output=True, text=True, check=False)  # fmt: skip
    write(tmp_path, "/etc/conf.d/apache2", conf_d)
    write(tmp_path, "/etc/apache2/httpd.conf", "Timeout 1\n")
    if outcome == "stops":
        assert "reached" not in done.stdout
        with pytest.raises(ApacheConfigError, match="failing status"):
            load_apache(root=tmp_path)
        return
    assert f"reached -D {outcome}" in done.stdout
    config = load_apache(root=tmp_path)
    assert config is not None and config.invocation is not None
    assert config.invocation.defines == [outcome]


def test_the_failing_end_names_the_shells_last_line(tmp_path: Path) -> None:
    """Lines are counted at \\n only, as the shell counts them (form feeds and
    other breaks of str.splitlines gave line 7 of a 3-line file)."""
    write(tmp_path, "/etc/conf.d/apache2", 'APACHE2_OPTS="-D A" # \x0c\x1c\x1d\x0b\nfalse\n#')
    write(tmp_path, "/etc/apache2/httpd.conf", "Timeout 1\n")
    with pytest.raises(ApacheConfigError) as raised:
        load_apache(root=tmp_path)
    assert raised.value.line == 3


@pytest.mark.parametrize(
    ("sysconfig", "defines", "note"),
    [
        ('OPTIONS="-DONE" -DTWO\n', ["ONE-DTWO"], None),  # blanks skipped after a quote
        ("# old \\\nOPTIONS=-DONE\n", ["ONE"], "systemd before 254 reads it as part of"),
        ("OPTIONS=-DONE\nX=\udcff\n", [], "not UTF-8: systemd would refuse"),
    ],
)
def test_environment_files_as_systemd_reads_them(
    tmp_path: Path, sysconfig: str, defines: list[str], note: str | None
) -> None:
    write(tmp_path, "/etc/httpd/conf/httpd.conf", EVENT)
    write(tmp_path, "/usr/lib/systemd/system/httpd.service", (
        "[Service]\nEnvironmentFile=/etc/sysconfig/httpd\n"
        "ExecStart=/usr/sbin/httpd $OPTIONS -DFOREGROUND\n"
    ))  # fmt: skip
    (tmp_path / "etc/sysconfig").mkdir(parents=True)
    (tmp_path / "etc/sysconfig/httpd").write_bytes(sysconfig.encode("utf-8", "surrogateescape"))
    invocation = read_invocation(RootFS(tmp_path), "rhel", (2, 4), None)
    assert invocation.defines == [*defines, "FOREGROUND"]
    notes = " ".join(n.message for n in invocation.notes)
    assert note is None or note in notes, notes


def test_unset_environment_removes_options_before_exec_start(tmp_path: Path) -> None:
    write(tmp_path, "/etc/httpd/conf/httpd.conf", EVENT)
    write(tmp_path, "/usr/lib/systemd/system/httpd.service", (
        "[Service]\nType=notify\nEnvironmentFile=/etc/sysconfig/httpd\n"
        "UnsetEnvironment=OPTIONS LANG=C\nExecStart=/usr/sbin/httpd $OPTIONS -DFOREGROUND\n"
    ))  # fmt: skip
    write(tmp_path, "/etc/sysconfig/httpd", "OPTIONS=-DX\nLANG=C\nKEEP=1\n")
    invocation = read_invocation(RootFS(tmp_path), "rhel", (2, 4), None)
    assert invocation.defines == ["FOREGROUND"]
    assert "LANG" not in invocation.environment and "KEEP" in invocation.environment


def test_httpd_options_are_read_as_apr_getopt_reads_them() -> None:
    """Clustered (-TC, -XD) and glued (-DX, -C'x') options, as the real
    httpd takes them: -Tc "Timeout 7" is read after the main file."""
    from tcpaudit.apache.service_arguments import Invocation, apply_arguments

    invocation = Invocation()
    apply_arguments(["-Tc", "Timeout 7", "-XD", "X", "-DY", "-TC", "KeepAlive Off", "-k", "start",
                     "-fconf/a.conf"], invocation)  # fmt: skip
    assert invocation.after == ["Timeout 7"]
    assert invocation.before == ["KeepAlive Off"]
    assert invocation.defines == ["DEBUG", "X", "Y"]
    assert invocation.config_file == "conf/a.conf"


def test_a_clustered_c_option_reaches_httpd_as_the_real_apache2_shows(tmp_path: Path) -> None:
    conf = tmp_path / "httpd.conf"
    (tmp_path / "logs").mkdir()
    conf.write_text(f"ServerRoot {tmp_path}\nLoadModule mpm_event_module {MODULE_DIR}/mod_mpm_event.so\n"
                    "ServerName localhost\nErrorLog logs/error_log\nTimeout 20\n")  # fmt: skip
    done = subprocess.run(
        ["/usr/sbin/apache2", "-f", str(conf), "-Tc", "Bogus 7", "-t"],
        capture_output=True, text=True, check=False, env={"APACHE_RUN_DIR": str(tmp_path)},
    )  # fmt: skip
    # httpd read the clustered -c's value as a directive (and refused it there).
    assert done.returncode != 0 and "-c/-C directives" in done.stderr, done.stderr
    from tcpaudit.apache.service_arguments import Invocation, apply_arguments

    invocation = Invocation()
    apply_arguments(["-Tc", "Timeout 7"], invocation)
    assert invocation.after == ["Timeout 7"]


def test_options_after_a_double_dash_still_reach_httpd(tmp_path: Path) -> None:
    """httpd's MPM pass (ap_mpm_rewrite_args) takes the first '--' away: the
    real apache2 reads '-t -- -DX' with X defined."""
    from tcpaudit.apache.service_arguments import Invocation, apply_arguments

    (tmp_path / "logs").mkdir()
    conf = tmp_path / "httpd.conf"
    conf.write_text(f"ServerRoot {tmp_path}\nLoadModule mpm_event_module {MODULE_DIR}/mod_mpm_event.so\n"
                    "ServerName localhost\nErrorLog logs/error_log\n<IfDefine X>\nBogus 1\n</IfDefine>\n")  # fmt: skip
    done = subprocess.run(["/usr/sbin/apache2", "-f", str(conf), "-t", "--", "-DX"],
                          capture_output=True, text=True, check=False,
                          env={"APACHE_RUN_DIR": str(tmp_path)})  # fmt: skip
    assert done.returncode != 0 and "Bogus" in done.stderr, done.stderr
    invocation = Invocation()
    apply_arguments(["-DA", "--", "-DB", "-C", "Timeout 9"], invocation)
    assert invocation.defines == ["A", "B"] and invocation.before == ["Timeout 9"]
    # Any word starting "--" ends apr_getopt's options as "--" does.
    invocation = Invocation()
    apply_arguments(["--X", "-DY", "--fbar", "-DZ"], invocation)
    assert invocation.defines == ["Y"] and invocation.config_file is None


@pytest.mark.parametrize(
    "envvars",
    [
        # apachectl adds -d after sourcing, with the value envvars left.
        'export APACHE_CONFDIR=/srv/conf\nAPACHE_ARGUMENTS="-DFROMENV"\n',
        "APACHE_CONFDIR=/srv/conf\n",
        "APACHE_CONFDIR=\nAPACHE_ARGUMENTS=-DX\n",
        'APACHE_CONFDIR="/srv/a b"\nAPACHE_ARGUMENTS=-DX\n',
        "IFS=,\nAPACHE_CONFDIR=/srv/conf\nAPACHE_ARGUMENTS=-DX,-DY\n",
        "APACHE_CONFDIR=/etc/apache2\nAPACHE_ARGUMENTS=-DX\n",
        # Blanks only are kept by ${APACHE_HTTPD:-...}: the first argument is run.
        'APACHE_HTTPD=" "\nAPACHE_ARGUMENTS="{program} -DFROMENV"\n',
        'APACHE_HTTPD="{program} -DA"\nAPACHE_ARGUMENTS="-DB"\n',
    ],
)
def test_apachectl_assembles_the_command_as_tcpaudit_says(tmp_path: Path, envvars: str) -> None:
    """Debian's real apache2ctl runs a program that prints its arguments;
    tcpaudit's binary, defines and -d/-f are those of that command."""
    program = tmp_path / "print-arguments"
    program.write_text('#!/bin/sh\nprintf "%s\\n" "$0" "$@"\n')
    program.chmod(0o755)
    text = f"APACHE_HTTPD={program}\n" + envvars.format(program=program)
    run_dir = tmp_path / "run"
    text = f"APACHE_RUN_DIR={run_dir}\nAPACHE_LOCK_DIR={run_dir}/lock\n" + text
    (tmp_path / "envvars").write_text(text)
    done = subprocess.run(
        ["apache2ctl", "start"], capture_output=True, text=True, timeout=60, check=True,
        env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "APACHE_STARTED_BY_SYSTEMD": "1",
             "APACHE_ENVVARS": str(tmp_path / "envvars")},
    )  # fmt: skip
    theirs = done.stdout.splitlines()
    assert theirs[-2:] == ["-k", "start"], done.stdout
    root = tmp_path / "root"
    write(root, "/etc/apache2/envvars", text)
    ours = read_invocation(RootFS(root), "debian", (2, 4))
    assert ours.binary == theirs[0]
    expected = Invocation()
    apply_arguments(theirs[1:-2], expected)
    assert (ours.defines, ours.server_root, ours.config_file) == (
        expected.defines, expected.server_root, expected.config_file)  # fmt: skip


@pytest.mark.parametrize(
    "envvars",
    [
        # apachectl runs $ULIMIT_MAX_FILES as root: a command of any kind.
        'export APACHE_ULIMIT_MAX_FILES="export APACHE_ARGUMENTS=-DFOO"\n',
        'APACHE_ULIMIT_MAX_FILES="unset APACHE_HTTPD HTTPD"\nAPACHE_ARGUMENTS=-DZ\n',
        'APACHE_ULIMIT_MAX_FILES="ulimit -n 4096"\nAPACHE_ARGUMENTS=-DZ\n',
        'APACHE_ULIMIT_MAX_FILES=" "\nAPACHE_ARGUMENTS=-DZ\n',
        # A function of the name of a command apachectl runs, run instead.
        "mkdir() { APACHE_ARGUMENTS=-DFROMFN; }\nAPACHE_RUN_DIR=/nonexistent-run\n",
        "ulimit() { APACHE_ARGUMENTS=-DFROMFN; }\n",
        # The action is chosen after sourcing, from ARGV.
        "ARGV=configtest\nAPACHE_ARGUMENTS=-DX\n",
        "ARGV=stop\n",
        # A name apachectl assigns later, made read only: dash stops there.
        "readonly HTTPD\nAPACHE_ARGUMENTS=-DX\n",
        "readonly ULIMIT_MAX_FILES\nAPACHE_ARGUMENTS=-DX\n",
        "readonly need_systemd\nAPACHE_ARGUMENTS=-DX\n",
        "APACHE_CONFDIR=/srv/conf\nreadonly APACHE_ARGUMENTS\n",
        # set -u left on: ${APACHE_ARGUMENTS} unset stops dash.
        "set -u\n",
        "set -u\nAPACHE_ARGUMENTS=-DX\n",
        # A function of the program's name runs instead of it.
        "apache2() { :; }\nAPACHE_HTTPD=apache2\n",
        # The IFS envvars leaves splits $HTTPD; a PATH without mktemp ends
        # apachectl where its run directories are missing (at boot).
        'IFS=/\nAPACHE_ULIMIT_MAX_FILES="ulimit -n 1024"\n',
        'IFS=k\nAPACHE_ARGUMENTS=-DA\nAPACHE_ULIMIT_MAX_FILES="ulimit -n 1024"\n',
        "IFS=k\nAPACHE_ARGUMENTS=-DA\n",
        "PATH=/nonexistent\n",
        "set -e\nPATH=/nonexistent\n",
        "PATH=/opt/bin:$PATH\nAPACHE_ARGUMENTS=-DX\n",
    ],
)
def test_apachectl_after_envvars_is_followed_or_said_not_known(
    tmp_path: Path, envvars: str
) -> None:
    program = tmp_path / "print-k-arguments"  # (a "k" for IFS=k to split at)
    program.write_text('#!/bin/sh\nprintf "%s\\n" "$0" "$@"\n')
    program.chmod(0o755)
    run_dir = tmp_path / "run"
    text = f"APACHE_RUN_DIR={run_dir}\nAPACHE_LOCK_DIR={run_dir}/lock\nAPACHE_HTTPD={program}\n"
    text += envvars
    (tmp_path / "envvars").write_text(text)
    done = subprocess.run(
        ["apache2ctl", "start"], capture_output=True, text=True, timeout=60, check=False,
        env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "APACHE_STARTED_BY_SYSTEMD": "1",
             "APACHE_ENVVARS": str(tmp_path / "envvars")},
    )  # fmt: skip
    theirs = done.stdout.splitlines()
    root = tmp_path / "root"
    write(root, "/etc/apache2/envvars", text)
    reached = theirs[-2:] == ["-k", "start"]
    # As the real run: started by the unit, which sets APACHE_STARTED_BY_SYSTEMD.
    write(root, "/etc/systemd/system/apache2.service",
          "[Service]\nEnvironment=APACHE_STARTED_BY_SYSTEMD=1\nExecStart=/usr/sbin/apachectl start\n")  # fmt: skip
    try:
        ours = read_invocation(RootFS(root), "debian", (2, 4))
    except ApacheConfigError as error:
        # tcpaudit says the service stops before httpd: so must apachectl.
        assert not reached and done.returncode != 0, (theirs, str(error))
        return
    said = " ".join(note.message for note in ours.notes)
    expected = Invocation()
    apply_arguments(theirs[1:-2], expected)
    same = reached and (ours.binary, ours.defines) == (theirs[0], expected.defines)
    assert same or "could not evaluate" in said, (theirs, ours.binary, ours.defines, said)


def test_apachectl_unsets_started_by_systemd_before_httpd(tmp_path: Path) -> None:
    # The unit sets it; apachectl's start removes it: ${APACHE_STARTED_BY_SYSTEMD}
    # is no variable of httpd's.
    program = tmp_path / "print-environment"
    program.write_text('#!/bin/sh\necho "${APACHE_STARTED_BY_SYSTEMD-[unset]}"\n')
    program.chmod(0o755)
    text = (
        f"APACHE_RUN_DIR={tmp_path}/run\nAPACHE_LOCK_DIR={tmp_path}/lock\nAPACHE_HTTPD={program}\n"
    )
    (tmp_path / "envvars").write_text(text)
    done = subprocess.run(
        ["apache2ctl", "start"], capture_output=True, text=True, timeout=60, check=True,
        env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "APACHE_STARTED_BY_SYSTEMD": "7",
             "APACHE_ENVVARS": str(tmp_path / "envvars")},
    )  # fmt: skip
    assert done.stdout == "[unset]\n"
    root = tmp_path / "root"
    write(root, "/etc/apache2/envvars", text)
    write(root, "/etc/systemd/system/apache2.service",
          "[Service]\nEnvironment=APACHE_STARTED_BY_SYSTEMD=7\nExecStart=/usr/sbin/apachectl start\n")  # fmt: skip
    ours = read_invocation(RootFS(root), "debian", (2, 4))
    assert "APACHE_STARTED_BY_SYSTEMD" not in ours.environment
    # Read only, the unset fails: dash stops, httpd is never run.
    (tmp_path / "envvars").write_text(text + "readonly APACHE_STARTED_BY_SYSTEMD\n")
    done = subprocess.run(
        ["apache2ctl", "start"], capture_output=True, text=True, timeout=60, check=False,
        env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "APACHE_STARTED_BY_SYSTEMD": "7",
             "APACHE_ENVVARS": str(tmp_path / "envvars")},
    )  # fmt: skip
    assert done.returncode != 0 and done.stdout == ""
    write(root, "/etc/apache2/envvars", text + "readonly APACHE_STARTED_BY_SYSTEMD\n")
    with pytest.raises(ApacheConfigError, match="read-only"):
        read_invocation(RootFS(root), "debian", (2, 4))


@pytest.mark.parametrize(
    "options",
    [
        ["A=1", "B=x=y"],
        ["-i", "A=1"],
        ["-", "A=1"],
        ["-u", "KEEP", "A=1"],
        ["-uKEEP", "--", "A=2"],
        ["--unset=KEEP", "--ignore-env", "A=3"],
        ["--unset", "KEEP", "-v", "A=4"],
        ["-iu", "KEEP", "A=5"],
        ["-C", "/", "A=6"],
        ["--chdir=/", "-v", "A=7"],
    ],
)
def test_a_unit_running_httpd_through_env_is_read_as_env_runs_it(
    tmp_path: Path, options: list[str]
) -> None:
    """GNU env's options and assignments, then the program: the binary, the
    arguments and the environment are those the real env gives it."""
    program = tmp_path / "print"
    program.write_text('#!/bin/sh\nprintf "%s\\n" "$0" "$@"\necho ---\nenv | sort\n')
    program.chmod(0o755)
    done = subprocess.run(
        ["/usr/bin/env", *options, str(program), "-DX"], capture_output=True, text=True,
        check=True, env={"KEEP": "k", "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    arguments, _, listed = done.stdout.partition("---\n")
    theirs = dict(line.split("=", 1) for line in listed.splitlines())
    for name in ("PWD", "SHLVL", "_", "OLDPWD"):  # the shell's own
        theirs.pop(name, None)
    root = tmp_path / "root"
    unit_options = " ".join(options)
    write(root, "/etc/systemd/system/httpd.service",
          f"[Service]\nEnvironment=KEEP=k PATH=/usr/bin:/bin\n"
          f"ExecStart=/usr/bin/env {unit_options} {program} -DX\n")  # fmt: skip
    ours = read_invocation(RootFS(root), "rhel", (2, 4))
    assert [ours.binary, *(f"-D{name}" for name in ours.defines)] == arguments.splitlines()
    assert ours.environment == theirs


@pytest.mark.parametrize("envvars", ["set -a\n", "set -a\nAPACHE_CONFDIR=/srv/c\n",
                                     "export LYNX\nAPACHE_LYNX=lynx\n"])  # fmt: skip
def test_apachectl_variables_reach_httpd_as_they_are_exported(tmp_path: Path, envvars: str) -> None:
    """apachectl's own variables (HTTPD, LYNX...) are exported when envvars left
    set -a on or exported the name: httpd's environment holds them."""
    program = tmp_path / "print-environment"
    program.write_text("#!/bin/sh\nenv\n")
    program.chmod(0o755)
    run_dir = tmp_path / "run"
    text = f"APACHE_RUN_DIR={run_dir}\nAPACHE_LOCK_DIR={run_dir}/lock\nAPACHE_HTTPD={program}\n"
    text += envvars
    (tmp_path / "envvars").write_text(text)
    done = subprocess.run(
        ["apache2ctl", "start"], capture_output=True, text=True, timeout=60, check=True,
        env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "APACHE_STARTED_BY_SYSTEMD": "1",
             "APACHE_ENVVARS": str(tmp_path / "envvars")},
    )  # fmt: skip
    theirs = dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)
    root = tmp_path / "root"
    write(root, "/etc/apache2/envvars", text)
    write(root, "/etc/systemd/system/apache2.service",
          "[Service]\nEnvironment=APACHE_STARTED_BY_SYSTEMD=1 PATH=/usr/sbin:/usr/bin:/sbin:/bin\n"
          "ExecStart=/usr/sbin/apachectl start\n")  # fmt: skip
    ours = read_invocation(RootFS(root), "debian", (2, 4))
    names = ("HTTPD", "LYNX", "STATUSURL", "ULIMIT_MAX_FILES", "ERROR", "need_systemd",
             "APACHE_ARGUMENTS")  # fmt: skip
    assert any(name in theirs for name in names)
    for name in names:
        assert ours.environment.get(name) == theirs.get(name), name


def _libc_glob(pattern: str) -> list[str]:
    """glob(3) of this host's libc, flags 0, as systemd calls it (safe_glob)."""
    import ctypes
    import ctypes.util

    class Glob(ctypes.Structure):
        _fields_ = [("gl_pathc", ctypes.c_size_t), ("gl_pathv", ctypes.POINTER(ctypes.c_char_p)),
                    ("gl_offs", ctypes.c_size_t), ("gl_flags", ctypes.c_int),
                    ("rest", ctypes.c_void_p * 8)]  # fmt: skip

    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    found = Glob()
    if libc.glob(pattern.encode(), 0, None, ctypes.byref(found)) != 0:
        return []
    names = [found.gl_pathv[index].decode() for index in range(found.gl_pathc)]
    libc.globfree(ctypes.byref(found))
    return names


@pytest.mark.parametrize(
    ("line", "defines"),
    [
        # A backslash is glob's escape: http\d matches httpd.
        ("EnvironmentFile=/etc/sysconfig/http\\d", ["FROMFILE", "FOREGROUND"]),
        # With '-', a match that is no file (a directory) is skipped alone.
        ("EnvironmentFile=-/etc/sysconfig/httpd*", ["FROMFILE", "FOREGROUND"]),
        ("EnvironmentFile=-/etc/sysconfig/nothing*", ["FOREGROUND"]),
    ],
)
def test_environment_file_paths_are_globbed_as_systemd_globs_them(
    tmp_path: Path, line: str, defines: list[str]
) -> None:
    root = tmp_path / "root"
    write(root, "/usr/lib/systemd/system/httpd.service",
          f"[Service]\n{line}\nExecStart=/usr/sbin/httpd $OPTIONS -DFOREGROUND\n")  # fmt: skip
    write(root, "/etc/sysconfig/httpd", "OPTIONS=-DFROMFILE\n")
    (root / "etc/sysconfig/httpd.d").mkdir()
    pattern = line.partition("=")[2].lstrip("-")
    matched = _libc_glob(str(root) + pattern)
    ours = read_invocation(RootFS(root), "rhel", (2, 4))
    assert ours.defines == defines
    # What libc's glob matches is what tcpaudit loaded from.
    assert ("FROMFILE" in defines) == any(Path(name).is_file() for name in matched)


@pytest.mark.parametrize(
    "sysconfig",
    [
        'HTTPD="{program} -DWORKER"\nOPTIONS="-DA"\n',
        "HTTPD={program}\nOPTIONS=-DB\n",
        'HTTPD={program}\nOPTIONS="-DA -C \\"Timeout 5\\""\n',
        "HTTPD={program}\nOPTIONS='-D$HOME'\n",
        'HTTPD={program}\nDAEMON_COREFILE_LIMIT="0; echo -DINJECTED"\nOPTIONS=-DC\n',
        "HTTPD=\nOPTIONS=-DA\n",
    ],
)
def test_rhel6_daemon_runs_httpd_through_bash_c_as_tcpaudit_says(
    tmp_path: Path, sysconfig: str
) -> None:
    """RHEL 6's init script: httpd=${HTTPD-/usr/sbin/httpd}, then daemon joins
    "$httpd $OPTIONS" and runs it with bash -c after a ulimit: the words are
    read a second time. tcpaudit gives the same program and -D names, or
    says they may differ."""
    program = tmp_path / "print-arguments"
    program.write_text('#!/bin/sh\nprintf "%s\\n" "$0" "$@"\n')
    program.chmod(0o755)
    text = sysconfig.format(program=program)
    (tmp_path / "httpd").write_text(text)
    script = (
        f". {tmp_path}/httpd\nhttpd=${{HTTPD-/usr/sbin/httpd}}\nset -- $httpd $OPTIONS\n"
        'case "$1" in [-+]*) exit 1;; esac\n'
        '/bin/bash -c "ulimit -S -c ${DAEMON_COREFILE_LIMIT:-0} >/dev/null 2>&1 ; $*"\n'
    )
    done = subprocess.run(["bash", "-c", script], capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin", "HOME": "/root"}, cwd=tmp_path)  # fmt: skip
    theirs = done.stdout.splitlines()
    root = tmp_path / "root"
    write(root, "/etc/sysconfig/httpd", text)
    ours = read_invocation(RootFS(root), "rhel", (2, 2))
    said = " ".join(note.message for note in ours.notes)
    expected = Invocation()
    apply_arguments(theirs[1:], expected)
    same = bool(theirs) and (ours.binary, ours.defines) == (theirs[0], expected.defines)
    assert same or "may differ" in said, (theirs, ours.binary, ours.defines, said)
