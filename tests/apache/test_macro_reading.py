"""Lines a macro's Use splices in are read as apache2 reads them, whatever the file around them.

A file holding no quote, double backslash or ``${`` has its lines split at
blanks (the fast path); the lines a ``Use`` expands in it may still hold
quotes: an ``@parameter``'s value is inserted quoted, and a body written in
another file may hold anything. Each case runs through the real apache2
(``main_file_both_ways``: the effective tree and the vhosts' names).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from apache_harness import MODULE_DIR, map_tree, run_apache
from test_apache_differential import Tree, assert_same, load_with_tcpaudit, main_file_both_ways

from tcpaudit.errors import ApacheConfigError

TREE = Tree("/etc/apache2/apache2.conf", "/etc/apache2")
BASE = [
    *(f"LoadModule {name}_module {MODULE_DIR}/mod_{name}.so"
      for name in ("mpm_event", "authz_core", "macro", "headers")),
    "ErrorLog /dev/null",
    "Listen 80",
]  # fmt: skip


@pytest.mark.parametrize(
    ("files", "lines", "names"),
    [
        # An @parameter's value, quoted with its backslash doubled, in a plain file.
        ({}, ["<Macro Site $n @n>", "<VirtualHost *:80>", "ServerName @n", "</VirtualHost>",
              "</Macro>", "Use Site Canary\\Horse Canary\\Horse", "Use Site xx xx"],
         ["Canary\\Horse", "xx"]),
        # A body with quotes, defined in another file, used in a plain one.
        ({"etc/apache2/macros.conf": '<Macro Site $n>\n<VirtualHost *:80>\n'
          'ServerName "$n.example"\nHeader set X-Site "a b $n"\n</VirtualHost>\n</Macro>\n'},
         ["Include /etc/apache2/macros.conf", "Use Site one", "Use Site two"],
         ["one.example", "two.example"]),
    ],
)  # fmt: skip
def test_expanded_lines_are_read_with_their_quotes(
    tmp_path: Path, files: dict[str, str], lines: list[str], names: list[str]
) -> None:
    run, loaded = main_file_both_ways(tmp_path, [*BASE, *lines], TREE, files=files)
    assert run.accepted, run.stderr
    assert not isinstance(loaded, ApacheConfigError)
    assert [vhost.server_name for vhost in loaded.vhosts] == names


_MACRO = ["<Macro Site $host>", "ServerAdmin $host", "</Macro>", "Use Site one.example"]


@pytest.mark.parametrize(
    "tail",
    [
        # The file's last line, without a line feed, right after the Use: dropped.
        "Timeout 9",
        # Continued into it from the line after the Use: the continuation is dropped.
        "Timeout 7 \\\n</IfDefine>",
        "Timeout 7 \\\n9",
        # A line between: read as any other.
        "Timeout 7\nTimeout 9",
        "\nTimeout 7 \\\n9",
        # Continued through an empty line (the joined text still ends in a
        # backslash) into the last line: that part is dropped too.
        "Timeout 7 \\\\\n\n9",
        "Timeout 7 \\\\\n\nTimeout 9",
        "ServerName 7\\\\\n\n9",
        "Timeout 7 \\\\\r\n\r\n9",
    ],
)
def test_the_unterminated_last_line_after_a_use_as_apache2(tmp_path: Path, tail: str) -> None:
    # mod_macro reads the line after a Use through its own reader
    # (array_getstr), which drops a last line without a line feed.
    main = tmp_path / "tcpaudit" / TREE.main_file.lstrip("/")
    lines = [*BASE, "<IfDefine !NEVER>", *_MACRO] if "</IfDefine>" in tail else [*BASE, *_MACRO]
    main.parent.mkdir(parents=True)
    main.write_text("\n".join(lines) + "\n" + tail)  # no line feed at the end
    apache_root = tmp_path / "apache"
    shutil.copytree(tmp_path / "tcpaudit", apache_root, symlinks=True)
    map_tree(apache_root)
    run = run_apache(apache_root, TREE.main_file, TREE.server_root)
    loaded = load_with_tcpaudit(tmp_path / "tcpaudit", TREE)
    assert_same(run, loaded)


@pytest.mark.parametrize(
    "lines",
    [
        # A value ending in a backslash continues its line on the next body line.
        ["<Macro Site $tag>", "<VirtualHost *:80>", "ServerName a.example",
         "Header set X-Tag $tag", "-suffix", "</VirtualHost>", "</Macro>", 'Use Site "v1\\\\"'],
        ["<Macro VHost $name $aliases>", "<VirtualHost *:80>", "ServerName $name",
         "ServerAlias $aliases", "KeepAliveTimeout 30", "</VirtualHost>", "</Macro>",
         'Use VHost example.com "www.example.com\\\\"'],
        # On the body's last line: on the file's next line (refused: two words).
        ["<Macro Site $v>", "ServerAdmin $v", "</Macro>", 'Use Site "a\\\\"', "Timeout 7"],
        # A nested Use's last line: on the enclosing body's next line.
        ["<Macro Inner $x $y>", "ServerAdmin $x", "</Macro>", "<Macro Outer $v>",
         "Use Inner $v z", "b", "Timeout 7", "</Macro>", "Use Outer a\\\\"],
    ],
)  # fmt: skip
def test_an_expanded_line_ending_in_a_backslash_continues(tmp_path: Path, lines: list[str]) -> None:
    main_file_both_ways(tmp_path, [*BASE, *lines], TREE)


_ENDS_IN_BACKSLASH = ["<Macro Site $v>", "ServerAdmin $v", "</Macro>", 'Use Site "a\\\\"']


@pytest.mark.parametrize(
    "tail",
    [
        # The file's next line is read into the expansion's last one whatever
        # it holds: an empty line (the line is then numbered after it), a
        # blank one, a comment (refused: two words), a continued line.
        "\n\nTimeout 7\n",
        "\n   \nTimeout 7\n",
        "\n# note\nTimeout 7\n",
        "\nb\\\nc\nTimeout 7\n",
        "\n\\\nb\nTimeout 7\n",
        # Two backslashes in the value: one is left, so the empty line continues.
        "\n\nb\nTimeout 7\n",
        # The end of the file (numbered one past the Use), with or without a line
        # feed after the Use, and a last line without one (dropped, as right
        # after a Use).
        "",
        "\n",
        "\nb\\\nTimeout 7",
        # Through a line ending in two backslashes and an empty line after it.
        "\nb\\\nTimeout 7\\\\\n\n9\nTimeout 5\n",
    ],
)
def test_an_expansion_continued_on_the_file_lines_after_the_use(tmp_path: Path, tail: str) -> None:
    lines = [*BASE, *_ENDS_IN_BACKSLASH]
    if tail.startswith("\n\nb\n"):
        lines[-1] = 'Use Site "a\\\\\\\\"'
    main = tmp_path / "tcpaudit" / TREE.main_file.lstrip("/")
    main.parent.mkdir(parents=True)
    main.write_text("\n".join(lines) + tail)
    apache_root = tmp_path / "apache"
    shutil.copytree(tmp_path / "tcpaudit", apache_root, symlinks=True)
    map_tree(apache_root)
    run = run_apache(apache_root, TREE.main_file, TREE.server_root)
    assert_same(run, load_with_tcpaudit(tmp_path / "tcpaudit", TREE))


@pytest.mark.parametrize(
    "parameters",
    [
        "/IgnoreEmptyArgs $v",
        "/ignoreemptyargs/IGNOREBADNESTING $v",
        # In the other order the second is an unknown flag, dropped up to the space.
        "/IgnoreBadNesting/IgnoreEmptyArgs $v",
        "/IgnoreEmptyArgs /IgnoreBadNesting $v",
        "/IgnoreEmptyArgsX $v",
        "/Other $v",
        "/ $v",
        # No space after an unknown flag: one character is dropped ("x" is the parameter).
        "/IgnoreEmptyArgs/x",
        "/Other",
        # Only a space ends an unknown flag: "$v" goes with the tab.
        "/IgnoreEmptyArgs\t$v $w",
        # No parameter left (refused: one value for none), quoted, or after a parameter.
        "/IgnoreEmptyArgs",
        '"/IgnoreEmptyArgs" $v',
        "$v /IgnoreEmptyArgs",
    ],
)
def test_macro_flags_are_no_parameters(tmp_path: Path, parameters: str) -> None:
    lines = [f"<Macro M {parameters}>", "ServerAdmin x$v", "</Macro>", "Use M a"]
    main_file_both_ways(tmp_path, [*BASE, *lines], TREE)


@pytest.mark.parametrize(
    ("parameters", "reason", "httpd_says"),
    [
        # check_macro_arguments looks at each parameter in turn: its emptiness,
        # then the same name later.
        ('$a $a ""', "argument name conflict in macro 'm': argument '$a'", "argument '$a': #1"),
        ('"" $a $a', "macro 'm': empty argument #1 name", "empty argument #1 name"),
        ("$a $b $b $a", "argument name conflict in macro 'm': argument '$a'", "argument '$a': #1"),
    ],
)
def test_macro_parameters_are_checked_in_httpds_order(
    tmp_path: Path, parameters: str, reason: str, httpd_says: str
) -> None:
    lines = [f"<Macro M {parameters}>", "ServerAdmin x", "</Macro>"]
    run, loaded = main_file_both_ways(tmp_path, [*BASE, *lines], TREE)
    assert isinstance(loaded, ApacheConfigError)
    assert loaded.reason == reason
    assert httpd_says in run.stderr


@pytest.mark.parametrize(
    "lines",
    [
        # mod_macro keeps a body's empty and blank lines (comments go): one ends
        # the line a value leaves ending in a backslash.
        ["<Macro M $v>", "Header set X-A $v", "", "Header set X-B b", "</Macro>", 'Use M "a\\\\"'],
        ["<Macro M $v>", "Header set X-A $v", "   ", "Header set X-B b", "</Macro>",
         'Use M "a\\\\"'],
        ["<Macro M $v>", "Header set X-A $v", "# c", "Header set X-B b", "</Macro>",
         'Use M "a\\\\"'],
        # Two backslashes left by the value: the first empty line continues it.
        ["<Macro M $v>", "Header set X-A $v", "", "", "Header set X-B b", "</Macro>",
         'Use M "a\\\\\\\\"'],
        # An empty last body line: the line after the Use is read on its own.
        ["<Macro M $v>", "Header set X-A $v", "", "</Macro>", 'Use M "a\\\\"', "Header set X-C c"],
        ["<Macro Site $n>", "<VirtualHost *:80>", "ServerName $n", "", "</VirtualHost>", "</Macro>",
         "Use Site a.example"],
    ],
)  # fmt: skip
def test_a_macro_body_keeps_its_empty_lines(tmp_path: Path, lines: list[str]) -> None:
    main_file_both_ways(tmp_path, [*BASE, *lines], TREE)


@pytest.mark.parametrize(
    "body",
    [
        # mod_macro reads a body line into 8,192 bytes, its line feed and a NUL
        # included: 8,190 bytes fit, 8,191 end the definition ("expected token
        # not found"), a comment line as any other, a continued line as joined.
        ["  ServerAlias " + "a" * 8176],
        ["  ServerAlias " + "a" * 8177],
        ["# " + "c" * 8189, "ServerAdmin $n"],
        ["ServerAlias " + "a" * 4090 + " \\", "b" * 4087],
        ["ServerAlias " + "a" * 4090 + " \\", "b" * 4088],
        # Bytes, not characters.
        ["ServerAlias " + "\u00e9" * 4090],
    ],
)
def test_a_macro_body_line_fits_mod_macros_buffer(tmp_path: Path, body: list[str]) -> None:
    lines = ["<Macro Site $n>", "ServerName $n", *body, "</Macro>", "Use Site x.example"]
    main_file_both_ways(tmp_path, [*BASE, *lines], TREE)


@pytest.mark.parametrize(
    "lines",
    [
        # httpd folds ASCII letters only (ap_str_tolower): "\u00c9t\u00e9" and
        # "\u00e9t\u00e9" are two macros, a Kelvin sign is no "k".
        ["<Macro \u00c9t\u00e9>", "Header set X-A a", "</Macro>", "Use \u00e9t\u00e9"],
        ["<Macro \u00c9t\u00e9>", "Header set X-A upper", "</Macro>", "<Macro \u00e9t\u00e9>",
         "Header set X-A lower", "</Macro>", "Use \u00c9t\u00e9"],
        ["<Macro \u00c9T\u00c9>", "Header set X-A a", "</Macro>", "Use \u00c9t\u00c9"],
        ["<Macro \u212aey>", "Header set X-A a", "</Macro>", "Use key"],
        ["<Macro \u00c9t\u00e9>", "</Macro>", "<Macro x>", "</Macro>", "UndefMacro \u00e9t\u00e9",
         "Use \u00c9t\u00e9"],
    ],
)  # fmt: skip
def test_macro_names_fold_ascii_letters_only(tmp_path: Path, lines: list[str]) -> None:
    main_file_both_ways(tmp_path, [*BASE, *lines], TREE)


@pytest.mark.parametrize(
    ("parameter", "value"),
    [
        # mod_macro substitutes in the body line with its line feed, in 8,192
        # bytes: "ServerAdmin " and 8,178 bytes fit, 8,179 do not.
        ("$n", "a" * 8178),
        ("$n", "a" * 8179),
        ("@n", "a" * 8176),
        ("@n", "a" * 8177),
        # Bytes, not characters.
        ("$n", "\u00e9" * 3000 + "a" * 2500),
    ],
)
def test_a_use_substitutes_within_mod_macros_buffer(
    tmp_path: Path, parameter: str, value: str
) -> None:
    lines = [
        f"<Macro Site {parameter}>",
        f"ServerAdmin {parameter}",
        "</Macro>",
        f"Use Site {value}",
    ]
    main_file_both_ways(tmp_path, [*BASE, *lines], TREE)


@pytest.mark.parametrize(
    ("lines", "refusal"),
    [
        # A macro defined in another's body keeps its empty lines too.
        (["<Macro Outer $x>", "<Macro Inner $v>", "Header set X-A $v", "", "Header set X-B $x",
          "</Macro>", "</Macro>", "Use Outer b", 'Use Inner "a\\\\"'], None),
        # Its reader's name says where it was defined: using that macro from it recurses.
        (["<Macro Outer $x>", "<Macro Inner $y>", "ServerAdmin $y", "Use Outer $y", "</Macro>",
          "</Macro>", "Use Outer a@b", "Use Inner c@d"], "recursive use of macro 'outer' is invalid"),
        # Its lines, as the expansion joins them, fit mod_macro's 8,192 bytes.
        (["<Macro Outer $v>", "<Macro Inner $x>", "Header set X-A $v", "Header set X-B " + "b" * 5000,
          "</Macro>", "</Macro>", 'Use Outer "' + "a" * 5000 + '\\\\"'],
         "expected token not found: </Macro>"),
    ],
)  # fmt: skip
def test_a_macro_defined_in_an_expansion_as_apache2(
    tmp_path: Path, lines: list[str], refusal: str | None
) -> None:
    # Compared by verdict and effective words: apache2 names an expanded
    # line's place by the reader's name, which the harness cannot map back.
    main = tmp_path / "tcpaudit" / TREE.main_file.lstrip("/")
    main.parent.mkdir(parents=True)
    main.write_text("\n".join([*BASE, *lines]) + "\n")
    apache_root = tmp_path / "apache"
    shutil.copytree(tmp_path / "tcpaudit", apache_root, symlinks=True)
    map_tree(apache_root)
    run = run_apache(apache_root, TREE.main_file, TREE.server_root)
    loaded = load_with_tcpaudit(tmp_path / "tcpaudit", TREE)
    if refusal is not None:
        assert not run.accepted and refusal in run.stderr
        assert isinstance(loaded, ApacheConfigError) and refusal in str(loaded)
        return
    assert run.accepted, run.stderr
    assert not isinstance(loaded, ApacheConfigError), loaded
    dumped = [(entry.name, entry.args) for entry in run.config if entry.name == "header"]
    assert dumped == [(node.key, node.args) for node in loaded.directives if node.key == "header"]
