"""Require lines and Require sections as mod_authz_core judges them (authz.py).

Each case goes through the real ``apache2 -t`` and ``load_apache``: both
accept it, or both refuse it, at the same line where httpd names one (its
check of lists holding only negative directives, AH01624, names none).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from apache_harness import MODULE_DIR, map_tree, run_apache
from test_apache_differential import Tree, assert_same, load_with_tcpaudit

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
    # Provider aliases: a name Require finds from the alias on.
    "alias-used": ["<AuthzProviderAlias ip lan 10.0.0.0/8>", "</AuthzProviderAlias>",
                   *_in_directory("Require lan")],
    "alias-used-before": [*_in_directory("Require lan"),
                          "<AuthzProviderAlias ip lan 10.0.0.0/8>", "</AuthzProviderAlias>"],
    "alias-unknown-base": ["<AuthzProviderAlias nosuch lan x>", "</AuthzProviderAlias>"],
    "alias-bad-arguments": ["<AuthzProviderAlias all everyone maybe>",
                            "</AuthzProviderAlias>"],
    "alias-negated": ["<AuthzProviderAlias ip lan 10.0.0.0/8>", "</AuthzProviderAlias>",
                      *_in_directory("<RequireAll>", "Require valid-user", "Require not lan",
                                     "</RequireAll>")],
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(CASES))
def test_require_as_apache2_reads_it(case: str, tmp_path: Path) -> None:
    tcpaudit_root = tmp_path / "tcpaudit"
    (tcpaudit_root / "etc/apache2").mkdir(parents=True)
    (tcpaudit_root / "etc/apache2/apache2.conf").write_text("\n".join([*BASE, *CASES[case]]) + "\n")
    apache_root = tmp_path / "apache"
    shutil.copytree(tcpaudit_root, apache_root)
    map_tree(apache_root)
    run = run_apache(apache_root, TREE.main_file, TREE.server_root)
    loaded = load_with_tcpaudit(tcpaudit_root, TREE)
    assert_same(run, loaded)
    if isinstance(loaded, ApacheConfigError):
        # httpd's own words, whether or not it names a line.
        reason = loaded.reason.split(" (httpd says so")[0]
        assert reason in run.stderr, (reason, run.stderr)


def test_the_cases_hold_refusals_and_acceptances() -> None:
    assert len(CASES) >= 50


@pytest.mark.parametrize(
    "modules",
    [("ssl", "socache_shmcb"), ("authz_groupfile",), ("authz_owner",), ("authz_dbm",)],
)
def test_providers_of_other_modules(modules: tuple[str, ...], tmp_path: Path) -> None:
    lines = {
        "ssl": ["Require ssl", "Require ssl-verify-client"],
        "authz_groupfile": ["Require group admins", "Require file-group"],
        "authz_owner": ["Require file-owner"],
        "authz_dbm": ["Require dbm-group a", "Require dbm-file-group"],
    }[modules[0]]
    for index, extra in enumerate([lines, ["Require ssl x"] if modules[0] == "ssl" else []]):
        if not extra:
            continue
        root = tmp_path / str(index)
        tcpaudit_root = root / "tcpaudit"
        (tcpaudit_root / "etc/apache2").mkdir(parents=True)
        text = [*BASE, *_lines(*modules), *_in_directory(*extra)]
        (tcpaudit_root / "etc/apache2/apache2.conf").write_text("\n".join(text) + "\n")
        apache_root = root / "apache"
        shutil.copytree(tcpaudit_root, apache_root)
        map_tree(apache_root)
        run = run_apache(apache_root, TREE.main_file, TREE.server_root)
        assert_same(run, load_with_tcpaudit(tcpaudit_root, TREE))
