"""Word counts: tcpaudit refuses what httpd's invoke_cmd refuses, with its words.

httpd 2.4 checks how many words a directive has before its handler runs
(server/config.c, invoke_cmd), by the kind the module declared: TAKE1,
TAKE2, TAKE3, TAKE12, TAKE23, TAKE123, TAKE13, ITERATE2, FLAG, NO_ARGS. The
kinds ship in directives-2.4.tsv, probed from the real apache2 by
apache_directive_table.py. Each line below goes through the real
``apache2 -t`` and ``load_apache``: both accept it, or both refuse it at the
same file:line, and httpd's message starts with tcpaudit's (httpd appends
the directive's description).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from apache_harness import MODULE_DIR
from test_apache_differential import Tree, main_file_both_ways

from tcpaudit.apache.arity import ARITY_BOUNDS, arity_error, quick_bounds
from tcpaudit.errors import ApacheConfigError

TREE = Tree("/etc/apache2/apache2.conf", "/etc/apache2")
MODULES = (
    "mpm_event", "rewrite", "mime", "alias", "proxy", "filter", "deflate", "macro", "autoindex",
    "env",
)  # fmt: skip
BASE = [
    *(f"LoadModule {name}_module {MODULE_DIR}/mod_{name}.so" for name in MODULES),
    "ErrorLog /dev/null",
]

LINES = [
    # TAKE1
    "ServerName www.example.org", "ServerName a b", 'ServerName ""', 'ServerName "" ',
    'ServerName a ""', "ServerTokens", "Timeout 5 6", "KeepAliveTimeout",
    # TAKE2, TAKE3, TAKE12, TAKE23, TAKE123
    "AcceptFilter http", "AcceptFilter http data extra", 'AcceptFilter http ""',
    "AliasMatch ^/a /tmp", "AliasMatch ^/a", "AliasMatch ^/a /tmp /x",
    "FilterProvider f DEFLATE \"%{CONTENT_TYPE} = 'text/html'\"", "FilterProvider f DEFLATE",
    'FilterProvider f "" x', "FilterProvider a b c d",
    "SetEnv A", "SetEnv A b", "SetEnv A b c", 'SetEnv "" b', 'SetEnv A ""',
    "CustomLog /dev/null common", "CustomLog /dev/null", "CustomLog /dev/null common env=x",
    "CustomLog /dev/null common env=x y", 'CustomLog "" common',
    "ProxyPassReverse /a http://b/", "ProxyPassReverse", "ProxyPassReverse /a http://b/ x y",
    # ITERATE, ITERATE2, and RAW_ARGS that counts nothing
    "IndexIgnore", "IndexIgnore .x", 'IndexIgnore ""', 'IndexIgnore .x ""',
    "AddCharset UTF-8 .utf8", "AddCharset UTF-8", 'AddCharset "" .x', 'AddCharset UTF-8 ""',
    "AddType text/x .a .b", "Options", "Options None",
    # FLAG: the first word decides, the rest is ignored
    "RewriteEngine on", "RewriteEngine maybe", "RewriteEngine On extra", 'RewriteEngine ""',
    "RewriteEngine", "KeepAlive Off", "KeepAlive On extra", "KeepAlive", "KeepAlive yes",
    # directives httpd runs while reading
    "Define A", "Define A b", "Define a b c", "Define", 'Define ""', 'Define A ""',
    "UnDefine", "UnDefine a b", "Include", 'Include ""', "IncludeOptional a b",
    "LoadModule x", 'LoadModule "" ""', "ServerRoot", "ServerRoot /etc/apache2 x",
    "DefaultRuntimeDir", "DefaultRuntimeDir a b", "UndefMacro", "UndefMacro a b",
]  # fmt: skip


@pytest.mark.parametrize("line", LINES)
def test_word_count_as_apache2(line: str, tmp_path: Path) -> None:
    run, loaded = main_file_both_ways(tmp_path, [*BASE, line], TREE)
    if isinstance(loaded, ApacheConfigError):
        httpd_message = run.stderr.strip().splitlines()[-1]
        assert f": {loaded.reason}" in httpd_message or httpd_message.startswith(loaded.reason), (
            loaded.reason,
            httpd_message,
        )


def test_no_line_above_is_accepted_by_both_by_accident() -> None:
    # The list exercises refusals: most lines must be refused by the count alone.
    refused = [line for line in LINES if _refused_by_count(line)]
    assert len(refused) > 35


def _refused_by_count(line: str) -> bool:
    from tcpaudit.apache.directives import word_count_kind
    from tcpaudit.apache.lexer import split_words

    name, *words = split_words(line) or [""]
    kind = word_count_kind(name.lower())
    return kind is not None and arity_error(kind, name, tuple(words)) is not None


@pytest.mark.parametrize(
    ("words", "refused"),
    [
        ((), True),
        (("a",), False),
        (("a", "b"), True),  # a second word without a third
        (("a", ""), False),  # ... unless it is empty: `(w2 && *w2 && !w3)`
        (("a", "b", "c"), False),
        (("a", "b", "c", "d"), True),
        (("", "b", "c"), True),
    ],
)
def test_take13_as_invoke_cmd_counts(words: tuple[str, ...], refused: bool) -> None:
    # No module of this apache2 declares a TAKE13 directive, so the kind is
    # checked against invoke_cmd's own test (server/config.c, case TAKE13).
    message = arity_error("TAKE13", "Example", words)
    assert (message == "Example takes one or three arguments") is refused


@pytest.mark.parametrize(
    "lines",
    [
        ["UndefMacro a b"],
        ["UndefMacro a b", "AcceptFilter http data x"],
        ["UndefMacro", "ServerName a b"],
    ],
)
def test_read_time_directive_before_its_module_is_not_counted(
    lines: list[str], tmp_path: Path
) -> None:
    # Found by the generated trees: mod_macro loaded after UndefMacro leaves the
    # directive in the tree, and httpd's walk skips directives that run while
    # reading; the next refusal, if any, is the one httpd reports.
    base = [line for line in BASE if "macro_module" not in line]
    late = [line for line in BASE if "macro_module" in line]
    run, _ = main_file_both_ways(tmp_path, base + lines + late, TREE)
    # Only a directive after it can make httpd refuse the file.
    assert run.accepted == (len(lines) == 1)


@pytest.mark.parametrize("kind", sorted(ARITY_BOUNDS))
def test_the_quick_test_never_passes_what_httpd_refuses(kind: str) -> None:
    # The walk skips arity_error when the count is within quick_bounds and no
    # word is empty; that shortcut must agree with arity_error for every shape.
    fewest, most = quick_bounds(kind)
    for count in range(6):
        for words in (tuple("abcdef"[:count]), tuple(["on"] * count)):
            if fewest <= len(words) <= most:
                assert arity_error(kind, "X", words) is None, (kind, words)
