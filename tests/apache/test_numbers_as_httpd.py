"""Numbers read as httpd 2.4's C reads them, against the real apache2.

httpd reads most counts with ``atoi`` (``(int) strtol``: the low 32 bits),
KeepAliveTimeout with ``ap_timeout_parameter_parse`` (refused past what an
int64 of microseconds holds), RequestReadTimeout with mod_reqtimeout's own
``parse_int`` and checks, and lowers ServerLimit and ThreadLimit to its
compile-time limits. Each case runs ``apache2 -t`` on the same text.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from apache_harness import MODULE_DIR, map_tree, run_apache, static_modules
from test_apache_differential import Tree, assert_same

from tcpaudit.apache import load_apache
from tcpaudit.errors import ApacheConfigError
from tcpaudit.facts import max_request_workers_effective, threads_per_child_effective

DEBIAN = Tree("/etc/apache2/apache2.conf", "/etc/apache2")
REQTIMEOUT = f"LoadModule reqtimeout_module {MODULE_DIR}/mod_reqtimeout.so\n"


def _both(tmp_path: Path, text: str) -> tuple[object, object]:
    tcpaudit_root = tmp_path / "tcpaudit"
    main = tcpaudit_root / "etc/apache2/apache2.conf"
    main.parent.mkdir(parents=True)
    main.write_text("ErrorLog /dev/null\nServerName x\n" + text)
    apache_root = tmp_path / "apache"
    shutil.copytree(tcpaudit_root, apache_root)
    map_tree(apache_root)
    run = run_apache(apache_root, DEBIAN.main_file, DEBIAN.server_root)
    try:
        loaded: object = load_apache(DEBIAN.main_file, root=tcpaudit_root, version="2.4.71",
                                     compiled_in=static_modules())  # fmt: skip
    except ApacheConfigError as exc:
        loaded = exc
    assert_same(run, loaded)  # type: ignore[arg-type]
    return run, loaded


def _mpm(name: str) -> str:
    return f"LoadModule mpm_{name}_module {MODULE_DIR}/mod_mpm_{name}.so\n"


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("9223372036854", 9223372036854.0),  # the most seconds an int64 of microseconds holds
        ("9223372036855", None),
        ("2562047788h", 9223372036800.0),
        ("2562047789h", None),
        ("153722867280mi", 9223372036800.0),
        ("153722867281mi", None),
        ("9223372036854775ms", 9223372036854.775),
        ("9223372036854776ms", None),
        ("99999999999999999999", None),  # strtoi64's ERANGE
        ("-99999999999999999999", None),
    ],
)
def test_keepalive_timeout_out_of_range_is_refused(
    tmp_path: Path, value: str, seconds: float | None
) -> None:
    run, loaded = _both(tmp_path, _mpm("event") + f"KeepAliveTimeout {value}\n")
    assert run.accepted == (seconds is not None)  # type: ignore[attr-defined]
    if seconds is not None:
        assert loaded.settings["KeepAliveTimeout"].value == seconds  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("value", "header"),
    [
        ("header=4294967306", 10),  # (int) strtol keeps the low 32 bits
        ("header=2147483648", None),  # negative as an int
        ("header=99999999999999999999", None),
        ("header=+10", 10),
        ('"header= 10"', 10),  # strtol skips blanks
        ("header=20-10,MinRate=5", None),  # the maximum must be above the timeout
        ("header=10-20", None),  # a range needs MinRate
        ("header=10-20,MinRate=0", None),
        ("header=10-20,minrate=500", 10),
        ("header=10,foo=3", None),
    ],
)
def test_request_read_timeout_is_read_as_mod_reqtimeout_reads_it(
    tmp_path: Path, value: str, header: int | None
) -> None:
    run, loaded = _both(tmp_path, _mpm("event") + REQTIMEOUT + f"RequestReadTimeout {value}\n")
    assert run.accepted == (header is not None)  # type: ignore[attr-defined]
    if header is not None:
        stage = loaded.settings["RequestReadTimeout"].value.header  # type: ignore[attr-defined]
        assert stage.timeout_seconds == header


# httpd's warnings lowering MaxRequestWorkers: the number it ends with.
_LOWERED = re.compile(
    r"WARNING: MaxRequestWorkers .*?decreasing (?:MaxRequestWorkers )?to (?:nearest multiple )?(\d+)"
)


@pytest.mark.parametrize(
    "text",
    [
        _mpm("prefork") + "ServerLimit 9999999\nMaxRequestWorkers 99999999999\n",
        _mpm("prefork") + "MaxRequestWorkers 4294967346\n",  # atoi: 50
        _mpm("event") + "ThreadsPerChild 4294967297\nMaxRequestWorkers 400\n",  # atoi: 1
        _mpm("event") + "ServerLimit 9999999\nThreadLimit 9999999\nThreadsPerChild 9999999\n"
        "MaxRequestWorkers 99999999999\n",
        _mpm("worker") + "ServerLimit 9999999\nThreadLimit 9999999\nThreadsPerChild 9999999\n"
        "MaxRequestWorkers 99999999999\n",
    ],
)
def test_counts_are_cut_and_lowered_as_httpd_does(tmp_path: Path, text: str) -> None:
    run, loaded = _both(tmp_path, text)
    assert run.accepted  # type: ignore[attr-defined]
    warnings = run.stderr  # type: ignore[attr-defined]
    lowered = [int(number) for number in _LOWERED.findall(warnings)]
    workers = max_request_workers_effective(loaded)  # type: ignore[arg-type]
    if "would require" in warnings and "ServerLimit of 16" in warnings:
        # AH00515: MaxRequestWorkers over ServerLimit x ThreadsPerChild: the
        # threads per child httpd read are what the limit is made of.
        assert threads_per_child_effective(loaded) == 1  # type: ignore[arg-type]
        assert workers == 16
    elif lowered:
        assert workers == lowered[-1], warnings
    else:
        assert workers == 50 and "AH00180" not in warnings, warnings


@pytest.mark.parametrize(
    "address",
    ["", " ", '""', "*:0", "*:65536", "*:abc", "host:", "::1", "80", ":80", "[zz]:80",
     "[::1%lo]:80", "[::1]:80", "*:*", "_DEFAULT_:443", "*:4294967376", "127.0.0.1:8080 *:abc",
     '"" *:80', "1::a", "::", "::ffff:1.2.3.4", "2001:db8::ab", "::a:*", "1::a%lo",
     "1.2.3.4%x"],
)  # fmt: skip
def test_virtual_host_addresses_are_read_as_httpd_reads_them(tmp_path: Path, address: str) -> None:
    # vhost.c's get_addresses: some words refuse the section, some give no
    # address; a vhost left with none is listed nowhere (DUMP_VHOSTS).
    run, loaded = _both(
        tmp_path, _mpm("event") + f"<VirtualHost {address}>\nTimeout 5\n</VirtualHost>\n"
    )
    if run.accepted:  # type: ignore[attr-defined]
        vhosts = loaded.vhosts  # type: ignore[attr-defined]
        assert len(vhosts) == len(run.vhosts)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "name",
    ["a:0", "a:99999", "a:abc", "a:", "[::1]:80", "a*", "a?", "::1", "a:81", "a:080", "a:+80",
     "http://a:81", "https://a", "a", "a.example."],
)  # fmt: skip
def test_server_name_is_read_as_httpd_reads_it(tmp_path: Path, name: str) -> None:
    # server_hostname_port: a pattern or a port outside 1..65535 is refused;
    # the vhost's name is the host alone (DUMP_VHOSTS), scheme and port off.
    _both(tmp_path, _mpm("event") + f"<VirtualHost *:80>\nServerName {name}\n</VirtualHost>\n")
    _both(tmp_path / "server", _mpm("event") + f"ServerName {name}\n")


def test_a_vhosts_unset_values_are_the_servers(tmp_path: Path) -> None:
    # ap_fixup_virtual_hosts: Timeout 0 and KeepAliveTimeout 0 (atoi'd: 0.9,
    # abc) and MaxKeepAliveRequests -1 in a vhost mean "unset"; the lab cell
    # vhost-unset shows apache2 holding a silent client for the server's Timeout.
    _, loaded = _both(
        tmp_path,
        _mpm("event") + "Timeout 7\n<VirtualHost *:80>\nTimeout 0.9\nKeepAliveTimeout 0\n"
        "MaxKeepAliveRequests -1\n</VirtualHost>\n<VirtualHost *:81>\nTimeout 5\n</VirtualHost>\n",
    )
    first, second = loaded.vhosts  # type: ignore[attr-defined]
    assert not {"Timeout", "MaxKeepAliveRequests"} & set(first.settings)
    # KeepAliveTimeout 0 is fixed up to the server's too, but the vhost set it:
    # it waits that, not its base vhost's (lab cell keepalive-zero-in-a-named-vhost).
    assert first.settings["KeepAliveTimeout"].value == 5
    assert second.settings["Timeout"].value == 5
    said = " ".join(note.message for note in loaded.notes)  # type: ignore[attr-defined]
    assert "unset value" in said


@pytest.mark.parametrize(
    "condition",
    ["= 2.4.4294967367", ">= 2.4.2147483648", ">= 2.4.99999999999999999999", ">= 2.4294967300",
     "< 2.4.9999999999", "= 2.4.0071", "> 2.4.-1"],
)  # fmt: skip
def test_if_version_reads_each_part_as_atoi(tmp_path: Path, condition: str) -> None:
    # mod_version's atoi keeps a part's low 32 bits (4294967367 is 71): the
    # section's contents are read or dropped as httpd reads or drops them.
    _both(
        tmp_path,
        _mpm("event") + f"<IfVersion {condition}>\nTimeout 7\n</IfVersion>\n",
    )  # mod_version is built into Debian's apache2
