"""EnvironmentFile= as systemd reads it, against systemd's own reader.

systemd's environment.d generator reads its files with the reader
EnvironmentFile= uses (``parse_env_file_internal``), then expands ``$``
(left out of these texts) and drops empty values; it prints what it read,
C-escaped in double quotes. The host's systemd is 252: before 254, a comment
ending in a backslash goes on over the next line.
"""

from __future__ import annotations

import codecs
import subprocess
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tcpaudit.apache.environment_files import EnvironmentFileError, parse_environment_file

GENERATOR = Path("/usr/lib/systemd/user-environment-generators/30-systemd-environment-d-generator")


def by_systemd(text: str, work: Path) -> dict[str, str]:
    """What systemd's reader takes from ``text`` (empty values left out)."""
    directory = work / "environment.d"
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "10-test.conf").write_bytes(text.encode("utf-8", "surrogateescape"))
    done = subprocess.run(
        [str(GENERATOR)],
        env={"HOME": str(work), "XDG_CONFIG_HOME": str(work)},
        capture_output=True, check=True,
    )  # fmt: skip
    found: dict[str, str] = {}
    for line in done.stdout.decode().splitlines():
        name, _, value = line.partition("=")
        if value.startswith('"') and value.endswith('"') and len(value) > 1:
            value = codecs.decode(value[1:-1], "unicode_escape")
        found[name] = value
    return found


def ours(text: str) -> dict[str, str]:
    return {a.name: a.value for a in parse_environment_file(text) if a.value}


NAMES = ("A", "B", "C")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('A="x" y\n', {"A": "xy"}),  # blanks skipped after a closing quote
        ("A='a'\"b\"c\n", {"A": "abc"}),
        ('A=x"y"\n', {"A": 'x"y"'}),  # quotes open only before a value
        ("A=q\\ \nB=r  \n", {"A": "q ", "B": "r"}),  # an escaped blank stays
        ("A=1\rB=2\n", {"A": "1", "B": "2"}),  # a carriage return ends a line
        ("A=1\nA=2\n", {"A": "2"}),
        ('A="a\\nb"\n', {"A": "a\\nb"}),  # kept before what needs no escape
        ('A="a\\\nb"\nB=c\\\nd\n', {"A": "ab", "B": "cd"}),
        ("export A=1\nA B=2\n 1A=3\nC =4\n", {"C": "4"}),
        ("A = 'x' \n", {"A": "x"}),
    ],
)
def test_values_as_systemd_reads_them(text: str, expected: dict[str, str], tmp_path: Path) -> None:
    assert ours(text) == expected
    assert {name: value for name, value in by_systemd(text, tmp_path).items()
            if name in NAMES} == expected  # fmt: skip


def test_a_comment_ending_in_a_backslash_is_said_to_depend_on_the_version(
    tmp_path: Path,
) -> None:
    text = "# note \\\nA=1\nB=2\n"
    assignments = parse_environment_file(text)
    assert [(a.name, a.value, a.version_dependent) for a in assignments] == [
        ("A", "1", True),
        ("B", "2", False),
    ]
    # systemd 252 (this host's) reads A as part of the comment.
    theirs = by_systemd(text, tmp_path)
    assert "A" not in theirs and theirs["B"] == "2"


def test_a_value_that_is_not_utf8_refuses_the_file() -> None:
    with pytest.raises(EnvironmentFileError) as caught:
        parse_environment_file("A=1\nB=\udcff\n")
    assert caught.value.line == 2


_PIECES = st.sampled_from(
    ["A", "B", "C", "=", "=", " ", "\t", "\n", "\n", "\r", '"', "'", "\\", "x", "y z"]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_PIECES, max_size=24).map("".join))
def test_any_text_reads_as_systemds(text: str) -> None:
    with tempfile.TemporaryDirectory() as work:
        theirs = by_systemd(text, Path(work))
    # An empty value is set by EnvironmentFile= and skipped by the generator.
    mine = {a.name: a.value for a in parse_environment_file(text) if a.name in NAMES}
    empty = {name for name, value in mine.items() if not value}
    assert {name: value for name, value in mine.items() if name not in empty} == {
        name: value for name, value in theirs.items() if name in NAMES and name not in empty
    }, repr(text)
