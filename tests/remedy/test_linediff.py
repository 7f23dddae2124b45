"""Diffs of planned edits: built from the changed spans, linear in the file, exact."""

from __future__ import annotations

import difflib
import shutil
import subprocess
import sys
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from tcpaudit.remedy.linediff import Span, grouped_opcodes, span_opcodes

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "hardening"))
from childrun import SAFE_SECONDS, cli_in_child

REPO = Path(__file__).resolve().parents[2]
INCIDENT = REPO / "examples" / "closewait-incident"

# Few distinct lines, so the files repeat lines as real configurations do.
LINES = st.lists(st.sampled_from(["a\n", "b\n", "</VirtualHost>\n", "\n", "Timeout 300\n"]))


@st.composite
def edited(draw: st.DrawFn) -> tuple[list[str], list[str], list[Span]]:
    """A file, the same file with some lines replaced, removed or inserted, and the spans."""
    before = draw(LINES)
    after: list[str] = []
    spans: list[Span] = []
    index = 0
    while index <= len(before):
        if draw(st.booleans()):  # an edit here: replace 0-2 lines by 0-2 others
            taken = draw(st.integers(0, min(2, len(before) - index)))
            new = draw(st.lists(st.sampled_from(["a\n", "Timeout 30\n", "x\n"]), max_size=2))
            if taken or new:
                spans.append((index, index + taken, len(after), len(after) + len(new)))
                after.extend(new)
                index += taken
        if index < len(before):
            after.append(before[index])
        index += 1
    return before, after, spans


@given(edited())
def test_opcodes_rebuild_the_edited_file(case: tuple[list[str], list[str], list[Span]]) -> None:
    before, after, spans = case
    codes = span_opcodes(before, after, spans)
    rebuilt: list[str] = []
    for tag, i1, i2, j1, j2 in codes:
        if tag == "equal":
            assert before[i1:i2] == after[j1:j2]
            rebuilt.extend(before[i1:i2])
        else:
            rebuilt.extend(after[j1:j2])
    assert rebuilt == after
    # Contiguous, in order, covering both files.
    assert [c[1] for c in codes[1:]] == [c[2] for c in codes[:-1]]
    assert [c[3] for c in codes[1:]] == [c[4] for c in codes[:-1]]
    if codes:
        assert (codes[0][1], codes[0][3], codes[-1][2], codes[-1][4]) == (
            0,
            0,
            len(before),
            len(after),
        )


@given(edited())
def test_hunks_match_difflib_where_the_change_is_unambiguous(
    case: tuple[list[str], list[str], list[Span]],
) -> None:
    before, after, spans = case
    codes = span_opcodes(before, after, spans)
    ours = list(grouped_opcodes(codes, 3))
    theirs = list(
        difflib.SequenceMatcher(None, before, after, autojunk=False).get_grouped_opcodes(3)
    )
    changed = [c for c in codes if c[0] != "equal"]
    assert bool(ours) == bool(changed)
    # Grouping the same opcodes as difflib does gives difflib's hunks.
    matcher = difflib.SequenceMatcher(None, before, after, autojunk=False)
    if matcher.get_opcodes() == codes:
        assert ours == theirs


def test_a_file_repeating_one_line_is_fixed_in_time(tmp_path: Path) -> None:
    """60,000 copies of one line around two changes: whole-file diffing took minutes."""
    root = tmp_path / "host"
    shutil.copytree(INCIDENT, root, symlinks=True)
    main = root / "etc/httpd/conf/httpd.conf"
    text = main.read_text()
    main.write_text("#\n" * 30_000 + text + "#\n" * 30_000)
    outcome = cli_in_child(["fix", "--root", str(root)], tmp_path)
    run = outcome["runs"][-1]
    assert run["exit_code"] == 0, run
    assert outcome["seconds"] < SAFE_SECONDS
    patched = tmp_path / "patched"
    shutil.copytree(root, patched, symlinks=True)
    done = subprocess.run(
        ["patch", "-p1", "--batch", "--forward"],
        input=run["stdout"],
        text=True,
        cwd=patched,
        capture_output=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "\nTimeout 30\n" in (patched / "etc/httpd/conf/httpd.conf").read_text()
