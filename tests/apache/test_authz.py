"""Require lines and Require sections as mod_authz_core judges them (authz.py).

Each case goes through the real ``apache2 -t`` and ``load_apache``: both
accept it, or both refuse it, at the same line where httpd names one (its
check of lists holding only negative directives, AH01624, names none).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from apache_harness import MODULE_DIR
from test_apache_differential import Tree, main_file_both_ways

from tcpaudit.errors import ApacheConfigError

TREE = Tree("/etc/apache2/apache2.conf", "/etc/apache2")
MODULES = ("mpm_event", "authz_core", "authz_host", "authz_user", "authn_core", "authn_file")


def _lines(*modules: str) -> list[str]:
    return [f"LoadModule {name}_module {MODULE_DIR}/mod_{name}.so" for name in modules]


BASE = [*_lines(*MODULES), "ErrorLog /dev/null"]


def _in_directory(*lines: str) -> list[str]:
    return ["<Directory /srv>", *lines, "</Directory>"]


CASES: dict[str, list[str]] = {
    # Providers: names as modules register them (case-sensitive).
    "all-granted": _in_directory("Require all granted"),
    "all-denied-case": _in_directory("Require all DENIED"),
    "provider-case": _in_directory("Require All granted"),
    "provider-unknown": _in_directory("Require foo bar"),
    "provider-empty": _in_directory("Require"),
    "provider-not-empty": _in_directory("Require not"),
    "provider-quoted-name": _in_directory('Require "all" granted'),
    "provider-module-not-loaded": _in_directory("Require group admins"),
    "provider-ssl-not-loaded": _in_directory("Require ssl"),
    "provider-ldap-not-loaded": _in_directory("Require ldap-user x"),
    "user-valid-user": _in_directory("Require valid-user", "Require user a b"),
    "host-local-env": _in_directory("Require host example.com", "Require local", "Require env X"),
    # The providers' argument checks.
    "all-typo": _in_directory("Require all grantd"),
    "all-extra": _in_directory("Require all granted x"),
    "all-none": _in_directory("Require all"),
    "ip-none": _in_directory("Require ip"),
    "ip-empty-word": _in_directory('Require ip "" 10.0.0.1'),
    "ip-ok": _in_directory("Require ip 10.0.0.1 192.168.0.0/16 ::1"),
    "ip-word": _in_directory("Require ip foo"),
    "ip-octet": _in_directory("Require ip 10.0.0.256"),
    "ip-comment": _in_directory("Require ip 10.0.0.1 # lan"),
    "ip-quoted-blank": _in_directory('Require ip "10.0.0.1 10.0.0.2"'),
    "ip-networks": _in_directory("Require ip 10.1 10.1. 172.16.0 010.1.2.3 1.2.3.4/0x8"),
    "ip-network-long": _in_directory("Require ip 10.1.2.3.4"),
    "ip-network-mask": _in_directory("Require ip 10.1/16"),
    "ip-netmask": _in_directory("Require ip 10.0.0.0/255.255.0.0 10.0.0.0/+8 10.0.0.0/32"),
    "ip-mask-zero": _in_directory("Require ip 10.0.0.0/0"),
    "ip-mask-33": _in_directory("Require ip 10.0.0.0/33"),
    "ip-mask-empty": _in_directory("Require ip 10.0.0.0/"),
    "ip6-ok": _in_directory("Require ip fe80::1/64 ::/0x1 2001:db8::/128 ::ffff:0:1 1::2:3:4:5:6:7"),
    "ip6-mask": _in_directory("Require ip 2001:db8::/129"),
    "ip6-netmask": _in_directory("Require ip 2001:db8::/255.255.0.0"),
    "ip6-mapped": _in_directory("Require ip ::ffff:1.2.3.4"),
    "ip6-tail": _in_directory("Require ip ::1.2.3.4 64:ff9b::10.0.0.1"),
    "ip6-two-gaps": _in_directory("Require ip 1::2::3"),
    "ip6-long-group": _in_directory("Require ip 00000::1 1:2:3:4:5:6:7::8"),
    "ip6-big-group": _in_directory("Require ip 10000::1"),
    "ip6-colon": _in_directory("Require ip :1"),
    "method-ok": _in_directory("Require method GET POST PROPFIND BASELINE-CONTROL"),
    "method-case": _in_directory("Require method get"),
    "method-unknown": _in_directory("Require method FOO"),
    "method-none": _in_directory("Require method"),
    "method-registered-by-limit": ["<Location /x>", "<Limit FOO>", "Require all granted",
                                   "</Limit>", "</Location>",
                                   *_in_directory("Require method FOO")],
    "method-registered-later": [*_in_directory("Require method FOO"), "<Location /x>",
                                "<Limit FOO>", "Require all granted", "</Limit>", "</Location>"],
    "expr-none": _in_directory("Require expr"),
    "expr-ok": _in_directory('Require expr "%{REQUEST_URI} =~ m#^/a#"'),
    # Negation: no effect where one directive suffices.
    "not-in-directory": _in_directory("Require not ip 10.0.0.1", "Require all granted"),
    "not-upper": _in_directory("<RequireAll>", "Require all granted", "Require NOT ip 10.0.0.1",
                               "</RequireAll>"),
    "not-in-any": _in_directory("<RequireAny>", "Require not ip 10.0.0.1", "</RequireAny>"),
    "not-in-none": _in_directory("<RequireNone>", "Require not ip 10.0.0.1", "</RequireNone>"),
    "not-in-limit-in-all": _in_directory("<RequireAll>", "Require all granted", "<Limit GET>",
                                         "Require not ip 10.0.0.1", "</Limit>", "</RequireAll>"),
    "not-in-limit-in-directory": _in_directory("<Limit GET>", "Require not ip 10.0.0.1",
                                               "</Limit>"),
    "none-in-directory": _in_directory("<RequireNone>", "Require ip 10.0.0.1", "</RequireNone>"),
    "none-in-any": _in_directory("<RequireAny>", "Require all granted", "<RequireNone>",
                                 "Require ip 10.0.0.1", "</RequireNone>", "</RequireAny>"),
    "none-in-all": _in_directory("<RequireAll>", "Require all granted", "<RequireNone>",
                                 "Require ip 10.0.0.1", "</RequireNone>", "</RequireAll>"),
    # Sections with no authorization directive.
    "any-empty": _in_directory("<RequireAny>", "</RequireAny>"),
    "all-empty-but-limit": _in_directory("<RequireAll>", "<Limit GET>", "</Limit>",
                                         "</RequireAll>"),
    "all-through-limit": _in_directory("<RequireAll>", "<Limit GET>", "Require ip 10.0.0.1",
                                       "</Limit>", "</RequireAll>"),
    "all-with-other-directive": _in_directory("<RequireAll>", "AuthName x", "</RequireAll>"),
    "nested-empty": _in_directory("<RequireAll>", "Require all granted", "<RequireAny>",
                                  "</RequireAny>", "</RequireAll>"),
    # Lists holding only negative directives (httpd names no line).
    "only-negative-all": _in_directory("<RequireAll>", "Require not ip 10.0.0.1",
                                       "</RequireAll>"),
    "only-negative-two": _in_directory("<RequireAll>", "Require not ip 10.0.0.1",
                                       "Require not host example.com", "</RequireAll>"),
    "negative-and-positive": _in_directory("<RequireAll>", "Require not ip 10.0.0.1",
                                           "Require valid-user", "</RequireAll>"),
    "only-none-in-all": _in_directory("<RequireAll>", "<RequireNone>", "Require ip 10.0.0.1",
                                      "</RequireNone>", "</RequireAll>"),
    "none-in-all-in-any": _in_directory("<RequireAny>", "Require all denied", "<RequireAll>",
                                        "<RequireNone>", "Require ip 10.0.0.1",
                                        "</RequireNone>", "</RequireAll>", "</RequireAny>"),
    "only-negative-in-location": ["<Location /x>", "<RequireAll>", "Require not local",
                                  "</RequireAll>", "</Location>"],
    "only-negative-in-files": ["<Files x>", "<RequireAll>", "Require not local",
                               "</RequireAll>", "</Files>"],
    "only-negative-then-invalid": [*_in_directory("<RequireAll>", "Require not local",
                                                  "</RequireAll>"), "FooBarBaz 1"],
    # Only AllowOverride AuthConfig's directives inside a Require section.
    "options-in-all": _in_directory("<RequireAll>", "Require all granted", "Options None",
                                    "</RequireAll>"),
    "errordocument-in-any": _in_directory("<RequireAny>", "Require all granted",
                                          "ErrorDocument 404 /x", "</RequireAny>"),
    "listen-in-all": _in_directory("<RequireAll>", "Require all granted", "Listen 8080",
                                   "</RequireAll>"),
    "authname-in-all": _in_directory("<RequireAll>", "Require valid-user", "AuthName x",
                                     "AuthType Basic", "AuthUserFile /dev/null",
                                     "</RequireAll>"),
    "options-in-limit-in-all": _in_directory("<RequireAll>", "Require all granted",
                                             "<Limit GET>", "Options None", "</Limit>",
                                             "</RequireAll>"),
    "options-in-limit": _in_directory("<Limit GET>", "Options None", "Require all granted",
                                      "</Limit>"),
    "spelled-parent": _in_directory("<requireany>", "Require all granted", "Options None",
                                    "</requireany>"),
    # mod_remoteip's lists run while httpd reads: server level and <VirtualHost> only.
    "remoteip-in-all": ["LoadModule remoteip_module /usr/lib/apache2/modules/mod_remoteip.so",
                        *_in_directory("<RequireAll>", "Require all granted",
                                       "RemoteIPTrustedProxyList /dev/null", "</RequireAll>")],
    "remoteip-in-directory": ["LoadModule remoteip_module /usr/lib/apache2/modules/mod_remoteip.so",
                              *_in_directory("RemoteIPInternalProxyList /dev/null")],
    "remoteip-in-ifmodule-in-location": [
        "LoadModule remoteip_module /usr/lib/apache2/modules/mod_remoteip.so",
        "<Location /x>", "<IfModule remoteip_module>", "RemoteIPTrustedProxyList /dev/null",
        "</IfModule>", "</Location>"],
    "remoteip-in-vhost": ["LoadModule remoteip_module /usr/lib/apache2/modules/mod_remoteip.so",
                          "<VirtualHost *:80>", "RemoteIPTrustedProxyList /dev/null",
                          "</VirtualHost>", "RemoteIPInternalProxyList /dev/null"],
    "remoteip-loaded-later": [*_in_directory("RemoteIPInternalProxyList /dev/null"),
                              "LoadModule remoteip_module /usr/lib/apache2/modules/mod_remoteip.so"],
    "remoteip-loaded-later-ok": ["RemoteIPInternalProxyList /dev/null",
                                 "LoadModule remoteip_module /usr/lib/apache2/modules/mod_remoteip.so"],
    # Checked by httpd's walk, in order: an earlier line's refusal wins.
    "remoteip-after-an-error": ["LoadModule remoteip_module /usr/lib/apache2/modules/mod_remoteip.so",
                                "KeepAlive maybe",
                                *_in_directory("RemoteIPTrustedProxyList /dev/null")],
    "remoteip-in-limitexcept-at-top": [
        "LoadModule remoteip_module /usr/lib/apache2/modules/mod_remoteip.so",
        "<LimitExcept GET>", "RemoteIPInternalProxyList /dev/null", "</LimitExcept>"],
    "remoteip-loaded-later-words": ["RemoteIPInternalProxyList /dev/null /x",
                                    "LoadModule remoteip_module /usr/lib/apache2/modules/mod_remoteip.so"],
    # Provider aliases: a name Require finds from the alias on.
    "alias-used": ["<AuthzProviderAlias ip lan 10.0.0.0/8>", "</AuthzProviderAlias>",
                   *_in_directory("Require lan")],
    "alias-used-before": [*_in_directory("Require lan"),
                          "<AuthzProviderAlias ip lan 10.0.0.0/8>", "</AuthzProviderAlias>"],
    "alias-unknown-base": ["<AuthzProviderAlias nosuch lan x>", "</AuthzProviderAlias>"],
    "alias-bad-arguments": ["<AuthzProviderAlias all everyone maybe>",
                            "</AuthzProviderAlias>"],
    "alias-named-as-all": ["<AuthzProviderAlias ip all 10.0.0.0/8>", "</AuthzProviderAlias>",
                           *_in_directory("Require all anything")],
    "alias-named-as-ip": ["<AuthzProviderAlias all ip granted>", "</AuthzProviderAlias>",
                          *_in_directory("Require ip")],
    "alias-of-alias": ["<AuthzProviderAlias ip lan 10.0.0.0/8>", "</AuthzProviderAlias>",
                       "<AuthzProviderAlias lan lan2>", "</AuthzProviderAlias>",
                       *_in_directory("Require lan2 x")],
    # The all provider compares the raw text after its name: quotes count.
    "all-quoted": _in_directory('Require all "granted"'),
    "all-quoted-both": _in_directory('Require "all" "denied"'),
    "all-quoted-negated": _in_directory("<RequireAll>", "Require valid-user",
                                        "Require not all 'denied'", "</RequireAll>"),
    "all-quoted-continued": _in_directory("Require all \\", '"granted"'),
    "all-quoted-variable": ["Define G '\"granted\"'", *_in_directory("Require all ${G}")],
    "all-quoted-second-place": [*_in_directory('Require all "granted"'),
                                "<Directory /srv/b>", 'Require all "granted"', "</Directory>"],
    "all-trailing-blanks": _in_directory("Require all granted \t "),
    "all-quote-elsewhere": _in_directory('Require all granted', 'Require ip "10.0.0.1"'),
    # An alias's argument is unquoted, then read as a Require line's rest.
    "alias-ip-quoted-words": ['<AuthzProviderAlias ip lan "10.0.0.1 10.0.0.2">',
                              "Require all granted", "</AuthzProviderAlias>"],
    "alias-ip-quoted-bad-word": ['<AuthzProviderAlias ip lan "10.0.0.1 foo">',
                                 "Require all granted", "</AuthzProviderAlias>"],
    "alias-method-quoted-words": ['<AuthzProviderAlias method m "GET POST">',
                                  "Require all granted", "</AuthzProviderAlias>"],
    "alias-all-quoted-two-words": ['<AuthzProviderAlias all g "granted x">',
                                   "Require all granted", "</AuthzProviderAlias>"],
    # 36 methods can be registered (numbers 27 to 62); the 37th is not.
    "methods-36-registered": _in_directory(
        "<Limit " + " ".join(f"M{n}" for n in range(40)) + ">", "Require all granted",
        "</Limit>", "Require method M35"),
    "methods-37th-not-registered": _in_directory(
        "<Limit " + " ".join(f"M{n}" for n in range(40)) + ">", "Require all granted",
        "</Limit>", "Require method M36"),
    "methods-registered-once": _in_directory(
        "<Limit " + " ".join(f"M{n % 30}" for n in range(60)) + " GET HEAD>",
        "Require all granted", "</Limit>", "<Limit X1 X2 X3 X4 X5 X6>", "Require all granted",
        "</Limit>", "Require method X6"),
    "method-registered-by-directive": ["RegisterHttpMethod FOO",
                                       *_in_directory("Require method FOO")],
    "methods-registered-by-directive": ["RegisterHttpMethod FOO BAR",
                                        *_in_directory("Require method BAR")],
    "methods-37th-by-directive": ["RegisterHttpMethod " + " ".join(f"M{n}" for n in range(40)),
                                  *_in_directory("Require method M36")],
    "script-trace": [*_lines("actions"), "Script TRACE /cgi/x"],
    "script-trace-in-directory": [*_lines("actions"), *_in_directory("Script TRACE /cgi/x")],
    "script-new-method": [*_lines("actions"), "Script trace /cgi/x",
                          *_in_directory("Require method trace")],
    "script-37th-method": [*_lines("actions"),
                           "RegisterHttpMethod " + " ".join(f"M{n}" for n in range(36)),
                           "Script M36 /cgi/x"],
    "all-alias-named-all": ["<AuthzProviderAlias ip all 10.0.0.1>", "</AuthzProviderAlias>",
                            *_in_directory('Require all "granted"')],
    "all-variable-blank": ["Define G 'granted '", *_in_directory("Require all ${G}")],
    "all-variable-tab": ['Define G "granted\t"', *_in_directory("Require all ${G}")],
    "all-variables-blank": ["Define G granted", "Define S ' '",
                            *_in_directory("Require all ${G}${S}")],
    "all-variable-leading-blank": ["Define G ' granted'", *_in_directory("Require all ${G}")],
    "all-variable-negated": ["Define G 'denied '",
                             *_in_directory("<RequireAll>", "Require valid-user",
                                            "Require not all ${G}", "</RequireAll>")],
    "method-registered-after-use": [*_in_directory("Require method FOO"),
                                    "RegisterHttpMethod FOO"],
    "alias-bad-ip": ["<AuthzProviderAlias ip lan 10.0.0.999>", "</AuthzProviderAlias>"],
    "alias-negated": ["<AuthzProviderAlias ip lan 10.0.0.0/8>", "</AuthzProviderAlias>",
                      *_in_directory("<RequireAll>", "Require valid-user", "Require not lan",
                                     "</RequireAll>")],
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(CASES))
def test_require_as_apache2_reads_it(case: str, tmp_path: Path) -> None:
    run, loaded = main_file_both_ways(tmp_path, [*BASE, *CASES[case]], TREE)
    if isinstance(loaded, ApacheConfigError):
        # httpd's own words, whether or not it names a line.
        reason = loaded.reason.split(" (httpd says so")[0]
        assert reason in run.stderr, (reason, run.stderr)


def test_the_cases_hold_refusals_and_acceptances() -> None:
    assert len(CASES) >= 50


@pytest.mark.parametrize(
    "modules",
    [("ssl", "socache_shmcb"), ("authz_groupfile",), ("authz_owner",), ("authz_dbm",),
     ("ldap", "authnz_ldap")],
)  # fmt: skip
def test_providers_of_other_modules(modules: tuple[str, ...], tmp_path: Path) -> None:
    lines = {
        "ssl": ["Require ssl", "Require ssl-verify-client"],
        "authz_groupfile": ["Require group admins", "Require file-group"],
        "authz_owner": ["Require file-owner"],
        "authz_dbm": ["Require dbm-group a", "Require dbm-file-group"],
        "ldap": ["Require ldap-search (uid=x)", "Require ldap-user a", "Require ldap-filter x"],
    }[modules[0]]
    for index, extra in enumerate([lines, ["Require ssl x"] if modules[0] == "ssl" else []]):
        if not extra:
            continue
        text = [*BASE, *_lines(*modules), *_in_directory(*extra)]
        main_file_both_ways(tmp_path / str(index), text, TREE)
