"""mod_rewrite's own argument checks, against the real apache2.

Each case goes through ``apache2 -t`` and ``load_apache`` (main_file_both_ways:
both accept, or both refuse at the same file:line); where the case names a
message, httpd's error and tcpaudit's both hold it. RewriteRule and
RewriteCond read their raw argument text with mod_rewrite's own parser
(``parseargline``), so quotes, ``\\ `` and ``${VAR}`` are exercised on each of
the reader's paths (plain lines, quoted lines, continued lines).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from apache_harness import MODULE_DIR
from hypothesis import given, settings
from hypothesis import strategies as st
from test_apache_differential import Tree, refused_as_apache2

from tcpaudit.apache.rewrite_args import (
    arg_line_as_c,
    flag_field_as_c,
    parse_arg_line,
    parse_flag_field,
)

TREE = Tree("/etc/apache2/apache2.conf", "/etc/apache2")
BASE = [
    *(
        f"LoadModule {name}_module {MODULE_DIR}/mod_{name}.so"
        for name in ("mpm_event", "authz_core", "rewrite", "alias")
    ),
    "ErrorLog /dev/null",
]

# name -> (lines, the message both give, or None when both accept)
CASES: dict[str, tuple[list[str], str | None]] = {
    "rule-ok": (["RewriteEngine on", "RewriteRule ^/old(.*)$ /new$1 [R=301,L,NE,QSA]"], None),
    "rule-one-argument": (["RewriteRule ^/a"], "bad argument line"),
    "rule-quoted-one": (['RewriteRule "^/a b"'], None),  # the second argument is empty
    "rule-quoted-empty-second": (['RewriteRule "^/a"'], None),
    "rule-quoted-pattern": (['RewriteRule "^/a b$" /x [L]'], None),
    "rule-single-quotes": (["RewriteRule '^/a b$' '/x y' [L]"], None),
    "rule-escaped-blank": (["RewriteRule ^/a\\ b$ /x [L]"], None),
    "rule-escaped-blank-bad": (["RewriteRule ^/a\\ (b$ /x"], "cannot compile regular expression"),
    "rule-bad-regex": (["RewriteRule ^/(a /x"], "cannot compile regular expression"),
    "rule-bad-regex-negated": (["RewriteRule !^/(a /x"], "cannot compile regular expression"),
    "rule-range-out-of-order": (["RewriteRule ^/[z-a] /c"], "cannot compile regular expression"),
    "rule-range-of-a-class": (["RewriteRule [\\w-a] /c"], "cannot compile regular expression"),
    "rule-range-to-a-class": (["RewriteRule [a-\\d] /c"], "cannot compile regular expression"),
    "rule-ranges-in-order": (["RewriteRule ^/[a-z0-9_-]+$ /c [L]"], None),
    # PCRE2 10.42 reads "{," as text; its patterns are bytes (no UTF mode).
    "rule-brace-comma": (["RewriteRule ^/a+{,} /c", "RewriteRule ^{,5}x /c"], None),
    "rule-utf8-range": (['RewriteRule "^/[\u00fc-\u00e9]" /c'], None),
    "rule-utf8-range-to-ascii": (['RewriteRule "^/[\u00e9-a]" /c'], "cannot compile"),
    "rule-trailing-backslash": (['RewriteRule "^/a\\" /c'], "cannot compile regular expression"),
    # A last backslash is a literal inside \Q...\E and in an extended-mode comment.
    "rule-trailing-backslash-quoted": (['RewriteRule "^/\\Q\\" /c'], None),
    "rule-trailing-backslash-comment": (['RewriteRule "(?x) ^/a  # x\\" /c'], None),
    "rule-nothing-to-repeat": (["RewriteRule * /x"], "cannot compile regular expression"),
    # PCRE counts to 65,535 (re to 4,294,967,295); braces of a class, \Q..\E, a comment
    # or an escape are no count.
    "rule-count-at-the-limit": (
        [
            "RewriteRule ^/x{65535}a{0065535} /c",
            'RewriteRule "[{70000}][]{70000}]\\{70000}(?#{70000})" /c',
            'RewriteRule "\\Qx{70000}\\E\\x{41}x{70000" /c',
            "RewriteRule ^/x{,70000} /c",
        ],
        None,
    ),
    "rule-count-over": (["RewriteRule ^/x{65536} /c"], "cannot compile regular expression"),
    "rule-count-over-zeros": (["RewriteRule ^/x{1,00065536} /c"], "cannot compile"),
    "rule-count-over-open": (["RewriteRule ^/x{65536,} /c"], "cannot compile"),
    "rule-count-over-re": (["RewriteRule ^/x{4294967296} /c"], "cannot compile"),
    # \cX takes the next character ("\c{" is a control character, "70000}" text); \N
    # is "not a newline" without UTF mode, so its braces are a count.
    "rule-short-mark": (['RewriteRule "^/old(*:x)/(.*)$" /new/$1 [R=301,L]'], None),
    "rule-short-mark-empty": (['RewriteRule "^/old(*:)/" /c'], "cannot compile"),
    "rule-control-backslash-last": (['RewriteRule "^/a\\c\\" /c'], None),
    "rule-count-in-a-callout": (["RewriteRule \"(?C'{70000}')x\" /c"], None),
    "rule-count-in-a-verb-name": (['RewriteRule "(*MARK:a{70000})^/app" /c'], None),
    "rule-count-control-escape": (['RewriteRule "^/a\\c{70000}" /c'], None),
    "rule-count-after-not-newline": (['RewriteRule "^/a\\N{70000}" /c'], "cannot compile"),
    "rule-flags-no-brackets": (["RewriteRule ^/a /x L"], "bad flag delimiters"),
    "rule-flags-blank-inside": (["RewriteRule ^/a /x [L, R]"], "bad flag delimiters"),
    "rule-flags-quoted-blank": (['RewriteRule ^/a /x "[L, R=302]"'], None),
    "rule-flags-empty": (["RewriteRule ^/a /x []"], "unknown flag ''"),
    "rule-flags-double-comma": (["RewriteRule ^/a /x [L,,R]"], "unknown flag ''"),
    "rule-flag-unknown": (["RewriteRule ^/a /x [L,Last2]"], "unknown flag 'Last2'"),
    "rule-flag-unknown-letter": (["RewriteRule ^/a /x [X]"], "unknown flag 'X'"),
    "rule-flag-d-anything": (["RewriteRule ^/a /x [Dwhatever,DPI]"], None),
    "rule-flags-long-names": (
        [
            "RewriteRule ^/a /x [chain,cookie=a:b:c,env=A:1,end,forbidden,gone,handler=h,"
            "last,next,nocase,noescape,nosubreq,proxy,passthrough,qsappend,qsdiscard,"
            "qslast,redirect=seeother,skip=1,type=text/plain,backrefernoplus,"
            "UnsafePrefixStat,UnsafeAllow3F,UNC]"
        ],
        None,
    ),
    "rule-flags-short-names": (
        [
            "RewriteRule ^/a /x [C,CO=a:b:c,E=A:1,END,F,G,H=h,L,N=5,NC,NE,NS,P,PT,QSA,QSD,QSL,"
            "R,S=2,T=text/plain,B,BNP,BCTLS,BNE=/]"
        ],
        None,
    ),
    "rule-flags-any-case": (["RewriteRule ^/a /x [l,r=Permanent,nc,qsa,Ne]"], None),
    "rule-bne-without-value": (["RewriteRule ^/a /x [BNE]"], "flag 'BNE' wants a list"),
    "rule-redirect-unknown-code": (["RewriteRule ^/a /x [R=299]"], "invalid HTTP response code"),
    "rule-redirect-999": (["RewriteRule ^/a /x [R=999]"], "invalid HTTP response code"),
    "rule-redirect-digit-word": (["RewriteRule ^/a /x [R=3xx]"], "invalid HTTP response code"),
    "rule-redirect-500": (["RewriteRule ^/a /x [R=500]"], None),
    "rule-redirect-word": (["RewriteRule ^/a /x [R=somewhere]"], None),
    "rule-redirect-codes": (["RewriteRule ^/a /x [R=308]", "RewriteRule ^/b - [R=410]"], None),
    "rule-fourth-word-ignored": (["RewriteRule ^/a /x [L] whatever else"], None),
    "rule-in-vhost": (
        ["<VirtualHost *:80>", "RewriteEngine On", "RewriteRule ^/(a /x", "</VirtualHost>"],
        "cannot compile regular expression",
    ),
    "rule-in-directory": (
        ["<Directory /srv>", "RewriteRule ^a /x [Q]", "</Directory>"],
        "unknown flag 'Q'",
    ),
    "rule-from-define": (["Define PAT ^/(a", "RewriteRule ${PAT} /x"], "cannot compile"),
    "rule-define-blank": (['Define PAT "^/a b"', "RewriteRule ${PAT} /x [L]"], "bad flag"),
    "rule-continued": (["RewriteRule ^/a \\", "  /x \\", "  [L,X]"], "unknown flag 'X'"),
    "rule-continued-ok": (["RewriteRule ^/a \\", "  /x \\", "  [L]"], None),
    "cond-ok": (
        [
            "RewriteCond %{HTTPS} !=on [NC]",
            "RewriteCond %{REQUEST_FILENAME} !-f [OR]",
            "RewriteCond %{X} -lt5 [novary]",
            'RewriteCond expr "true"',
            "RewriteRule ^ - [L]",
        ],
        None,
    ),
    "cond-one-argument": (["RewriteCond %{HTTPS}"], "bad argument line"),
    "cond-bad-regex": (["RewriteCond %{HTTP_HOST} ^(www"], "cannot compile regular expression"),
    "cond-test-not-regex": (
        ["RewriteCond %{X} =(", "RewriteCond %{X} <(", "RewriteRule ^ -"],
        None,
    ),
    "cond-dash-not-a-test": (["RewriteCond %{X} -z("], "cannot compile regular expression"),
    "cond-flag-unknown": (["RewriteCond %{HTTPS} on [L]"], "unknown flag 'L'"),
    "cond-flags-no-brackets": (["RewriteCond %{HTTPS} on NC"], "bad flag delimiters"),
    "cond-flags-spaced": (["RewriteCond %{HTTPS} on [NC, OR]"], "bad flag delimiters"),
    "cond-flags-quoted-spaced": (
        ['RewriteCond %{HTTPS} on "[NC, OR]"', "RewriteRule ^ -"],
        None,
    ),
    "cond-quoted-pattern": (['RewriteCond %{HTTP_USER_AGENT} "^Mozilla (a"'], "cannot compile"),
    # A line whose words hold a secret the reader hid is not judged (a message
    # quoting its flags would show the secret, and a placeholder may have taken a
    # pattern's ")" with it): tests/hardening/test_directive_secrets.py.
    "options-ok": (["RewriteOptions Inherit AllowNoSlash MaxRedirects=5 inheritdownbefore"], None),
    "options-unknown": (["RewriteOptions Inherit Bogus"], "unknown option 'Bogus'"),
    "options-quoted-two": (['RewriteOptions "Inherit Bogus"'], "unknown option 'Bogus'"),
    "options-blank": (['RewriteOptions " "'], "unknown option ''"),
    "options-quoted-ok": (['RewriteOptions "Inherit IgnoreInherit"'], None),
    "base-server": (["RewriteBase /"], "only valid in per-directory"),
    "base-vhost": (["<VirtualHost *:80>", "RewriteBase /", "</VirtualHost>"], "per-directory"),
    "base-directory": (["<Directory /srv>", "RewriteBase /app/", "</Directory>"], None),
    "base-location": (["<Location /a>", "RewriteBase /a", "</Location>"], None),
    "base-if": (['<If "true">', "RewriteBase /a", "</If>"], None),
    "base-relative": (["<Directory /srv>", "RewriteBase app/", "</Directory>"], "not a valid URL"),
    "base-empty": (["<Directory /srv>", 'RewriteBase ""', "</Directory>"], "takes one argument"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_rewrite_arguments_as_apache2(case: str, tmp_path: Path) -> None:
    lines, message = CASES[case]
    refused_as_apache2(tmp_path, [*BASE, *lines], TREE, message)


def test_the_cases_refuse_and_accept() -> None:
    refused = [name for name, (_, message) in CASES.items() if message]
    assert 30 < len(refused) < len(CASES) - 15


def test_parse_arg_line_keeps_what_httpd_keeps() -> None:
    assert parse_arg_line("a") is None
    assert parse_arg_line('  "a b"  c  [L]  more') == ("a b", "c", "[L]")
    assert parse_arg_line("a\\ b c") == ("a\\ b", "c", None)
    assert parse_arg_line("a b ") == ("a", "b", None)


def test_a_flag_of_blanks_takes_the_rest_of_the_field() -> None:
    seen: list[tuple[str, str]] = []
    parse_flag_field("[L, ,R=1]", lambda key, value: seen.append((key, value)))  # type: ignore[func-returns-value]
    assert seen[0] == ("L", "")
    assert seen[1][0].startswith(",")


@given(st.text(alphabet="ab[],=\t \"'\\\x0b\x1c\u00a0", max_size=24))
@settings(max_examples=400, deadline=None)
def test_the_quick_readings_agree_with_the_c_walk(text: str) -> None:
    # parse_arg_line and parse_flag_field take most lines at a split; the
    # character-by-character walk of the C code is the reference.
    assert parse_arg_line(text) == arg_line_as_c(text)
    field = f"[{text}]"
    quick: list[tuple[str, str]] = []
    walked: list[tuple[str, str]] = []
    parse_flag_field(field, lambda key, value: quick.append((key, value)))  # type: ignore[func-returns-value]
    flag_field_as_c(field, lambda key, value: walked.append((key, value)))  # type: ignore[func-returns-value]
    assert quick == walked
