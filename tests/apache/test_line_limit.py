"""httpd's longest configuration line (16 MiB), against the real apache2.

A logical line longer than httpd's buffer stops the reading: "Error reading
FILE at line N: Line too long", reported at the last directive httpd ran
while reading that file (its err_directive), at the Include of the file when
it ran none, and without a place when the main file ran none. tcpaudit must
refuse the same trees at the same file and line, and accept those whose
lines fit, to the byte.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from apache_harness import map_tree, run_apache
from test_apache_invocation import DEBIAN, EVENT, _static, write

from tcpaudit.apache import load_apache
from tcpaudit.apache.line_limit import LINE_LIMIT_BYTES, line_too_long
from tcpaudit.errors import ApacheConfigError

LIMIT = LINE_LIMIT_BYTES


def _comment(size: int) -> str:
    """A comment line of ``size`` bytes, without its line end."""
    return "#" + "x" * (size - 1)


CASES = {
    # The last directive run while reading is the Define (LoadModule is one too).
    "after-a-define": (EVENT + "Define X\nServerAdmin b@example.org\n" + _comment(LIMIT) + "\n", {}),
    # No such directive in the main file before it: no place in httpd's message.
    "first-line": (_comment(LIMIT) + "\n" + EVENT, {}),
    "in-an-include": (EVENT + "Include /etc/apache2/b.conf\n",
                      {"b.conf": "ServerAdmin z@example.org\n" + _comment(LIMIT + 5) + "\n"}),
    "in-an-include-after-a-conditional": (
        EVENT + "Include /etc/apache2/b.conf\n",
        {"b.conf": "<IfModule mod_so.c>\nServerAdmin q@example.org\n</IfModule>\n"
                   + _comment(LIMIT) + "\n"},
    ),
    "continued": (EVENT + _comment(LIMIT // 2) + "\\\n" + "y" * (LIMIT // 2 + 10) + "\n", {}),
    "in-a-false-conditional": (EVENT + "<IfDefine NOPE>\n" + _comment(LIMIT) + "\n</IfDefine>\n", {}),
    "in-a-virtual-host": (EVENT + "<VirtualHost *:80>\n" + _comment(LIMIT) + "\n</VirtualHost>\n", {}),
    "fits-with-its-line-feed": (EVENT + _comment(LIMIT - 1) + "\nServerAdmin a@example.org\n", {}),
    "fits-at-the-end-of-the-file": (EVENT + _comment(LIMIT), {}),
    "a-byte-over-at-the-end-of-the-file": (EVENT + _comment(LIMIT + 1), {}),
    # The carriage return counts; the joining backslash and line feed do not.
    "carriage-return": (EVENT + _comment(LIMIT - 1) + "\r\n", {}),
    "continued-fits": (EVENT + _comment(LIMIT - 1) + "\\\n\nServerAdmin a@example.org\n", {}),
    "continued-a-byte-over": (EVENT + _comment(LIMIT - 2) + "\\\nyy\n", {}),
    # Each empty line continues a joined text still ending in a backslash:
    # pieces of a sixteenth of the limit each make one line.
    "joined-through-empty-lines": (EVENT + "#" + ("y" * (LIMIT // 16) + "\\\\\n\n") * 17 + "end\n", {}),
    "joined-through-empty-lines-fits": (EVENT + "#" + ("y" * (LIMIT // 16) + "\\\\\n\n") * 15 + "end\n", {}),
    # The limit is checked when a continued line ends, unless a physical
    # line does not fit the buffer, grown to 32 MiB: then the reading stops there.
    "continued-past-the-limit": (
        EVENT + _comment(LIMIT // 2) + "\\\n" + "y" * (LIMIT // 2 + 5000) + "\\\n" + "z\n", {}
    ),
    "continued-past-the-buffer": (
        EVENT + _comment(20 * 2**20) + "\\\n" + "y" * (14 * 2**20) + "\\\n" + "z\n", {}
    ),
    # Bytes, not characters: half as many two-byte characters.
    "two-byte-characters": (EVENT + "#" + "\u00e9" * (LIMIT // 2) + "\n", {}),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_line_too_long_is_refused_where_apache2_refuses_it(tmp_path: Path, name: str) -> None:
    main, others = CASES[name]
    tcpaudit_root = tmp_path / "tcpaudit"
    write(tcpaudit_root, DEBIAN.main_file, main)
    for file, text in others.items():
        write(tcpaudit_root, f"/etc/apache2/{file}", text)
    apache_root = tmp_path / "apache"
    shutil.copytree(tcpaudit_root, apache_root)
    map_tree(apache_root)
    run = run_apache(apache_root, DEBIAN.main_file, DEBIAN.server_root)
    try:
        loaded: object = load_apache(
            DEBIAN.main_file, root=tcpaudit_root, version="2.4.71", compiled_in=_static()
        )
    except ApacheConfigError as exc:
        loaded = exc
    too_long = "Line too long" in run.stderr
    assert run.accepted == (not too_long), run.stderr[:300]
    if run.accepted:
        assert not isinstance(loaded, ApacheConfigError), str(loaded)[:300]
        return
    assert isinstance(loaded, ApacheConfigError), "apache2 refused a line too long"
    if run.error is not None:
        assert (loaded.file, loaded.line) == run.error, (str(loaded), run.stderr[:300])
    else:
        # httpd names no place: tcpaudit names the line it stopped at.
        assert loaded.file == "etc/apache2/apache2.conf"
    # The file and the physical line httpd was reading, as httpd says them.
    said = run.stderr.split("Error reading ", 1)[1].split(": Line too long")[0]
    file, line = said.rsplit(" at line ", 1)
    assert loaded.reason == (
        f"Error reading {file.removeprefix(str(apache_root) + '/')} at line {line}: Line too long"
    )


def test_most_files_are_decided_by_their_length() -> None:
    assert line_too_long("ServerName a\n" * 1000) is None
    text = "a\n" + "b" * (LIMIT + 1) + "\nc\n"
    found = line_too_long(text)
    assert found is not None
    assert (found.first, found.number, found.offset) == (2, 2, 2)
