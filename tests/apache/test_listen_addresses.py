"""``Listen`` words as httpd reads them (apr_parse_addr_port, find_listeners), against apache2.

Each case goes through ``apache2 -t`` and ``load_apache`` (main_file_both_ways:
both accept, or both refuse at the same file:line); where the case names a
message, httpd's error and tcpaudit's both hold it. Host names are left out:
httpd resolves them (alloc_listener), tcpaudit does not.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from apache_harness import MODULE_DIR
from test_apache_differential import Tree, refused_as_apache2

from tcpaudit.apache.apr_addresses import parse_addr_port

TREE = Tree("/etc/apache2/apache2.conf", "/etc/apache2")
BASE = [f"LoadModule mpm_event_module {MODULE_DIR}/mod_mpm_event.so", "ErrorLog /dev/null"]

CASES: dict[str, tuple[list[str], str | None]] = {
    "v6-unbracketed-port": (["Listen 2001:db8::1:8080"], None),
    "v6-loopback-unbracketed": (["Listen ::1:80"], None),
    "v6-unbracketed-protocol": (["Listen 0:0:0:0:0:0:0:1:443 https"], None),
    "v6-bracketed": (["Listen [2001:db8::1]:8080", "Listen [::1]:80"], None),
    "v6-bracketed-scope": (["Listen [fe80::1%lo]:8080"], None),
    "v6-bracketed-empty-scope": (["Listen [::1%]:80"], "Invalid address or port"),
    "bracketed-v4": (["Listen [192.0.2.1]:80"], "Invalid address or port"),
    "bracketed-name": (["Listen [a]:80"], "Invalid address or port"),
    "bracketed-no-port": (["Listen [::1]"], "Port must be specified"),
    "bracketed-trailing": (["Listen [::1]x:80"], "Invalid address or port"),
    "v4": (["Listen 192.0.2.1:80", "Listen 192.0.2.1:81"], None),
    "v4-no-port": (["Listen 192.0.2.1"], "Port must be specified"),
    "colon-only-port": (["Listen :80"], "Invalid address or port"),
    "port-zero": (["Listen 0"], "Invalid address or port"),
    "port-too-big": (["Listen 65536"], "Invalid address or port"),
    "port-atoi-wraps": (["Listen 4294967376"], None),  # (int) strtol: 80
    "port-leading-zeros": (["Listen 0080"], None),
    "port-unicode-digits": (["Listen \u0661\u0662"], "Port must be specified"),
    "duplicate-wildcard": (["Listen 80", "Listen *:80"], "Cannot define multiple Listeners"),
    "duplicate-v6": (["Listen [::1]:80", "Listen [::1]:80"], "Cannot define multiple Listeners"),
    "same-v6-spelled-twice": (["Listen [::1]:80", "Listen [0:0::1]:80"], None),
    "same-v6-other-case": (["Listen [fe80::a%lo]:80", "Listen [FE80::A%lo]:80"], None),
    "v6-unbracketed-and-bracketed": (
        ["Listen ::1:80", "Listen [::1]:80"],
        "Cannot define multiple Listeners",
    ),
    "scope-distinguishes": (["Listen [fe80::1]:80", "Listen [fe80::1%lo]:80"], None),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_listen_words_as_apache2(case: str, tmp_path: Path) -> None:
    lines, message = CASES[case]
    refused_as_apache2(tmp_path, [*BASE, *lines], TREE, message)


def test_parse_addr_port_keeps_what_apr_keeps() -> None:
    assert parse_addr_port("2001:db8::1:8080") == ("2001:db8::1", None, 8080)
    assert parse_addr_port("[fe80::1%eth0]:443") == ("fe80::1", "eth0", 443)
    assert parse_addr_port("80") == (None, None, 80)
    assert parse_addr_port("example.org") == ("example.org", None, 0)
    assert parse_addr_port("host:") == ("host:", None, 0)
    assert parse_addr_port("") is None
    assert parse_addr_port("[1.2.3.4]:80") is None
