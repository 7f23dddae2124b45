"""Lines a macro's Use splices in are read as apache2 reads them, whatever the file around them.

A file holding no quote, double backslash or ``${`` has its lines split at
blanks (the fast path); the lines a ``Use`` expands in it may still hold
quotes: an ``@parameter``'s value is inserted quoted, and a body written in
another file may hold anything. Each case runs through the real apache2
(``main_file_both_ways``: the effective tree and the vhosts' names).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from apache_harness import MODULE_DIR
from test_apache_differential import Tree, main_file_both_ways

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
