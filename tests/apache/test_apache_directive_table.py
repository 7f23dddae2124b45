"""The shipped directive table agrees with the installed apache2 (`apache2 -L`)."""

from __future__ import annotations

from importlib import resources

from apache_directive_table import directive_table, render


def _rows(text: str) -> set[str]:
    return {line for line in text.splitlines() if line and not line.startswith("#")}


def test_shipped_table_covers_apache2() -> None:
    shipped = _rows(resources.files("tcpaudit.apache").joinpath("directives-2.4.tsv").read_text())
    installed = _rows(render(directive_table()))
    assert len(installed) > 600
    # Every directive this apache2 registers is in the table, with the same
    # owners and the same "Allowed in"; an older apache2 may know fewer.
    # A newer one listing more means: regenerate the table (see the script).
    assert installed <= shipped, sorted(installed - shipped)[:20]
