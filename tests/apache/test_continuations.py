"""Continued lines joined as apache2 joins them.

``ap_cfg_getline`` decides whether a line continues by the end of all it has
joined so far, not of the physical line it just read: after ``x\\\\`` (one
backslash taken by the continuation, one left), an empty line continues
again. Each case runs through the real apache2 (``main_file_both_ways``).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from apache_harness import MODULE_DIR
from test_apache_differential import Tree, main_file_both_ways

TREE = Tree("/etc/apache2/apache2.conf", "/etc/apache2")
BASE = [
    *(f"LoadModule {name}_module {MODULE_DIR}/mod_{name}.so"
      for name in ("mpm_event", "authz_core", "env")),
    "ErrorLog /dev/null",
    "Listen 8080",
]  # fmt: skip


@pytest.mark.parametrize(
    "lines",
    [
        # The alias swallows the next directive: no KeepAliveTimeout in the vhost.
        ["<VirtualHost *:8080>", "ServerName a.example", "ServerAlias b.example\\\\", "",
         "KeepAliveTimeout 30", "</VirtualHost>"],
        # Refused: Timeout then has two words.
        ["Timeout 60\\\\", "", "# raised for slow uploads"],
        # Three backslashes, two empty lines.
        ["ServerAdmin x\\\\\\", "", "", "Timeout 5"],
        # PassEnv takes the next line as a variable's name.
        ["PassEnv A\\\\", "", "Timeout 5"],
        # A blank (not empty) line ends it.
        ["ServerAdmin x\\\\", " ", "Timeout 5"],
    ],
)  # fmt: skip
def test_an_empty_line_continues_a_line_still_ending_in_a_backslash(
    tmp_path: Path, lines: list[str]
) -> None:
    main_file_both_ways(tmp_path, [*BASE, *lines], TREE)


@pytest.mark.parametrize(
    "lines",
    [
        # Directive names fold ASCII letters only: with a Kelvin sign the name is
        # no directive (refused), and <IfDirective> does not find it.
        ["KeepAliveTimeout 99".replace("K", "\u212a", 1)],
        ["<IfDirective !" + "KeepAliveTimeout".replace("K", "\u212a", 1) + ">", "Timeout 3600",
         "</IfDirective>"],
        ["<IfDirective " + "KeepAliveTimeout".replace("K", "\u212a", 1) + ">", "Timeout 7",
         "</IfDirective>"],
        ["<IfModule mod_env.c>", "SetEnv A b", "</IfModul\u00c9>"],
    ],
)  # fmt: skip
def test_directive_names_fold_ascii_letters_only(tmp_path: Path, lines: list[str]) -> None:
    main_file_both_ways(tmp_path, [*BASE, *lines], TREE)
