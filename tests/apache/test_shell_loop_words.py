"""A for loop's words built from quoted, escaped and expanded pattern pieces,
matched as pathnames against the real dash: each value tcpaudit keeps as
known must be dash's (a quoted ``*`` matches itself; a backslash from an
expansion escapes; an escaped dot matches a dot file)."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_shell_lists import EXAMPLES, by_dash
from test_shell_tree import assert_known_values_are_theirs, environment, on_host

from tcpaudit.errors import ApacheConfigError

NAMES = ("a*", "ab", "a\\b", ".hid", "a?", "b", "a b", "[ab]", "sub/x")
# A piece of a word as written in the file, and values of $P.
PIECES = ("a", "b", ".", "*", "?", "[ab]", "[!a]", "[.]", "\\*", "\\.", "'*'", "'?'", '"*"',
          '"a"', "'['", "\\\\", "'\\'", "[\\*]", "$P", '"$P"', "${P}x", "/", "~", ":",
          '${Q:-"x y"}', "${Q-a b}", "${P#a}", '"${P%b}"', "''")  # fmt: skip
VALUES = ("*", "a\\*", "\\.h*", "b", "a b", "?", "[ab]", "\\", "a*/", ".*", "a:b", " a: ")
IFS_VALUES = ("", "IFS=:\n", "IFS=' :'\n", "IFS=\n", "IFS='*'\n")

# Deep inside directories of its own: a word such as \.${P#a} with P='a*/'
# matches ".." and climbs, and above a few levels it would list the
# machine's /tmp (on a busy machine, past the 16 MiB expansion bound).
_TOP = Path(tempfile.mkdtemp(prefix="tcpaudit-loop-words-"))
atexit.register(shutil.rmtree, _TOP, ignore_errors=True)
ROOT = Path(_TOP, "1", "2", "3", "4", "5", "6", "root")
ROOT.mkdir(parents=True)
for _name in NAMES:
    (ROOT / _name).parent.mkdir(exist_ok=True)
    (ROOT / _name).write_text("")


@settings(max_examples=EXAMPLES, deadline=None)
@given(
    words=st.lists(st.lists(st.sampled_from(PIECES), min_size=1, max_size=4), min_size=1,
                   max_size=3),
    value=st.sampled_from(VALUES),
    ifs=st.sampled_from(IFS_VALUES),
)  # fmt: skip
def test_loop_words_match_as_dashs(words: list[list[str]], value: str, ifs: str) -> None:
    written = " ".join(f"{ROOT}/{''.join(pieces)}" for pieces in words)
    script = f"P='{value}'\n{ifs}" + f'for f in {written}; do X="$X|$f"; done; export X\n'
    state = on_host(script)
    if state.opaque is None and "X" not in state.unknown:
        assert environment(state).get("X") == by_dash(script).get("X"), script


EXPORT_PIECES = ("A", "B", "=", "$P", '"$P"', "'x y'", '"=1 B=2"', "x", "${Q:-'a b'}", "$Q",
                 '""', "${P:+\"$P\"}")  # fmt: skip
EXPORT_VALUES = ("a", "A=1", "a b", "=", "B=2 C=3", "", " A ")


@settings(max_examples=EXAMPLES, deadline=None)
@given(
    words=st.lists(st.lists(st.sampled_from(EXPORT_PIECES), min_size=1, max_size=4), min_size=1,
                   max_size=3),
    value=st.sampled_from(EXPORT_VALUES),
    ifs=st.sampled_from(IFS_VALUES),
)  # fmt: skip
def test_export_arguments_split_as_dashs(words: list[list[str]], value: str, ifs: str) -> None:
    """export's arguments are fields: only what unquoted expansions gave is
    split (``export A$X"=1 B=2"`` sets one name, not two)."""
    written = " ".join("".join(pieces) for pieces in words)
    script = f"P='{value}'\n{ifs}export {written}\nexport C=end\n"
    theirs = by_dash(script)
    try:
        state = on_host(script)
    except ApacheConfigError:
        assert "PATH" not in theirs, script  # tcpaudit stops where dash stops
        return
    if state.opaque is not None:
        return
    assert "PATH" in theirs, script  # dash went on, as tcpaudit did
    assert_known_values_are_theirs(state, theirs, script)


PATTERN_PIECES = ("a", "*", "?", "[ab]", "[!a]", "[^a]", "\\*", "'*'", '"*"', "$P", '"$P"',
                  "${Q:-'*'}", "${Q:-*}", "~", "\\\\", "b", "${P#a}", "'a'", "/")  # fmt: skip
SUBJECTS = ("a", "*", "ab", "a*b", "/h", "x", "^", "/h/a", "\\a", "")


@settings(max_examples=EXAMPLES, deadline=None)
@given(
    pieces=st.lists(st.sampled_from(PATTERN_PIECES), min_size=1, max_size=4),
    value=st.sampled_from(VALUES),
    subject=st.sampled_from(SUBJECTS),
)  # fmt: skip
def test_case_and_trim_patterns_match_as_dashs(pieces: list[str], value: str, subject: str) -> None:
    """A pattern built of quoted, escaped and expanded pieces (and a tilde)
    decides a case and trims a value as in dash."""
    pattern = "".join(pieces)
    script = (
        f"HOME=/h; P='{value}'; S='{subject}'\n"
        f"case $S in {pattern}) export X=1;; *) export X=2;; esac\n"
        f'export T="${{S#{pattern}}}" U="${{S%%{pattern}}}"\n'
    )
    theirs = by_dash(script)
    try:
        state = on_host(script)
    except ApacheConfigError:
        assert "PATH" not in theirs, script
        return
    if state.opaque is not None:
        return
    assert "PATH" in theirs, script
    assert_known_values_are_theirs(state, theirs, script, ("X", "T", "U"))


ASSIGNED_PIECES = ("~", ":", "~/", "/x", "a", "$P", '"~"', "'~'", "${Q:-~}", "${Q:-a:~}",
                   "\\~", "${Q:-~/y}", "${P#~}", ":~", "=")  # fmt: skip


@settings(max_examples=EXAMPLES, deadline=None)
@given(
    pieces=st.lists(st.sampled_from(ASSIGNED_PIECES), min_size=1, max_size=5),
    value=st.sampled_from(("/h/x", "~", "a:b", "")),
    exported=st.booleans(),
)  # fmt: skip
def test_assignments_expand_tildes_as_dashs(pieces: list[str], value: str, exported: bool) -> None:
    """Tildes in an assignment's value: at its start and after each ':'
    outside expansions, and at the start of a ${X:-word}'s word."""
    word = "".join(pieces)
    assignment = f"export X={word}" if exported else f"X={word}; export X"
    script = f"HOME=/h; P='{value}'\n{assignment}\n"
    theirs = by_dash(script)
    state = on_host(script)
    if state.opaque is None and "X" not in state.unknown:
        assert environment(state).get("X") == theirs.get("X"), script


@pytest.mark.parametrize(
    ("pieces", "value"),
    [
        # A lone backslash an expansion gives escapes the ordinary quoted character after it.
        (["$P", '"a"', "*"], "\\"),
        (["$P", "'a'", "?"], "\\"),
        (["$P", "'\\'", "*"], "\\"),
        (["a", "$P", '"*"'], "\\"),
        (["$P", '"a"', "*"], "\\\\"),
        # Before a character dash marks when quoted, it is a backslash itself,
        # and the character no longer quoted.
        (["$P", '"."', "*"], "\\"),
        (["$P", '"["', "ab]"], "\\"),
        (["$P", '"?"'], "\\"),
        (["a", "$P", "'?'"], "\\"),
    ],
)
def test_a_backslash_from_an_expansion_before_a_quoted_character(
    pieces: list[str], value: str
) -> None:
    script = f"P='{value}'\nfor f in {ROOT}/{''.join(pieces)}; do X=\"$X|$f\"; done; export X\n"
    state = on_host(script)
    assert state.opaque is None and "X" not in state.unknown
    assert environment(state).get("X") == by_dash(script).get("X"), script
