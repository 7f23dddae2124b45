"""``${X#p}``, ``${X##p}``, ``${X%p}``, ``${X%%p}`` in envvars: what dash removes, tcpaudit removes.

Debian's apache2ctl sources envvars with /bin/sh (dash). Generated values
and patterns (quoting in each form, escapes, brackets with classes, ranges and
'!' or '^', unquoted and quoted ``$Y``, braces quoted or escaped, nested expansions,
the whole expansion in double quotes or not, bytes over 0x7f) are evaluated by the
real dash and by ``run_script``; the exported results must be the same bytes.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st
from test_shell_lists import by_dash, by_tcpaudit

from tcpaudit.apache.shell import run_script
from tcpaudit.apache.shell_state import ShellState
from tcpaudit.cli import cli
from tcpaudit.errors import ApacheConfigError

CORPUS = Path(__file__).resolve().parents[1] / "corpus"

DASH = shutil.which("dash") or "/bin/dash"
HIGH = "\udce9\udcff\udc80"  # bytes 0xe9, 0xff, 0x80 as tcpaudit reads them
VALUE_CHARS = "ab*?[]!^-\\:.é" + HIGH


def single_quoted(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


unquoted = st.sampled_from(
    ["a", "b", "*", "?", "[", "]", "!", "^", "-", ":", ".", "é", "[a-b]", "[!a]", "[^a]",
     "[]a]", "[[:alpha:]]", "[[:punct:]]", "[\\]]", "[a-\\]]", "\\*", "\\?", "\\[", "\\\\",
     "\\a", "$Y", "${Y}", "[\udce9-z]", "[a-\udcff]", "[\udc80-\udcff]", "[*"]
)  # fmt: skip
quoted = st.sampled_from(["'*'", "'a*'", '"*"', '"?a"', '"$Y"', '"\\\\"', '"[a]"', "'['"])
# Braces and nesting: a quoted or escaped '}' does not close the expansion, a
# '{' alone opens nothing, a nested expansion is read whole.
braces = st.sampled_from(["'}'", '"}"', "\\}", "{", '"/"', "${Y}", '"${Y#a}"', "${Y%?}",
                          '"${Y:-}}"', "'\"'", '"\'"'])  # fmt: skip
patterns = st.lists(st.one_of(unquoted, quoted, braces), max_size=5).map("".join)
values = st.text(alphabet=VALUE_CHARS, max_size=8)
OPERATIONS = ("#", "##", "%", "%%")
# Generated scripts compared with dash a run; set TCPAUDIT_TRIM_EXAMPLES for more.
EXAMPLES = int(os.environ.get("TCPAUDIT_TRIM_EXAMPLES", "800"))


@settings(max_examples=EXAMPLES, deadline=None)
@given(values, patterns, values, st.booleans())
# Quoted or escaped, '*' matches itself (it was read as a pattern's).
@example(value="*ab", pattern="\\*", y="", quoted=False)
@example(value="*ab", pattern='"*"', y="", quoted=False)
@example(value="*ab", pattern="'*'", y="", quoted=False)
@example(value="*ab", pattern='"$Y"', y="*", quoted=False)
# Unquoted, a variable's '*' is a pattern's.
@example(value="*ab", pattern="$Y", y="*a", quoted=False)
# '!' negates, '^' is a member; classes are ctype's in the C locale.
@example(value="^ab", pattern="[^a]", y="", quoted=False)
@example(value="ab", pattern="[[:alpha:]]", y="", quoted=False)
# '?' takes one byte: 'é' is two.
@example(value="éa", pattern="?", y="", quoted=False)
@example(value="éa", pattern="??", y="", quoted=False)
# Quotes inside the braces, in double quotes too (the expansion was left
# unread: "${SITES%"/"}" stayed literal).
@example(value="/etc/sites/", pattern='"/"', y="", quoted=True)
@example(value="}ab", pattern="'}'", y="", quoted=False)
@example(value="}ab", pattern="\\}", y="", quoted=True)
@example(value="{a}b", pattern="{", y="", quoted=False)
def test_trims_remove_what_dash_removes(value: str, pattern: str, y: str, quoted: bool) -> None:
    lines = [f"V={single_quoted(value)}", f"Y={single_quoted(y)}"]
    mark = '"' if quoted else ""
    lines += [f"R{index}={mark}${{V{op}{pattern}}}{mark}" for index, op in enumerate(OPERATIONS)]
    lines.append("export " + " ".join(f"R{index}" for index in range(len(OPERATIONS))))
    script = "\n".join(lines) + "\n"
    expected = by_dash(script)
    got = by_tcpaudit(script)
    for index in range(len(OPERATIONS)):
        name = f"R{index}"
        assert got.get(name) == expected.get(name), (name, value, pattern, y)


def test_a_trim_of_many_stars_is_linear_steps() -> None:
    """A pattern of 200 stars over a 4,000-byte value (the longest a glob trim
    evaluates): a walk in Python costs seconds per prefix tried."""
    value = "a" * 4000
    pattern = "*a" * 200 + "*b"
    script = f"V={value}\nexport R=${{V#{pattern}}} S=${{V%%{pattern}}}\n"
    started = time.process_time()
    got = by_tcpaudit(script)
    elapsed = time.process_time() - started
    assert got["R"] == got["S"] == value.encode()
    assert elapsed < 30, elapsed


@pytest.mark.parametrize("stars", [2, 100, 4000])
def test_trims_built_to_cost_end_in_one_error(stars: int) -> None:
    """Fifty trims of a 4,096-byte value by a pattern of many stars took 76 s:
    each try is a step per run of the pattern, and the charge counted the
    value's length only. It counts the runs too, and the 16 MiB of expansion
    work a start-up may do ends it in one error, within seconds (dash itself
    did not finish one such trim in a minute)."""
    lines = ["V=" + "a" * 4096, f"P='{'*a' * stars}*b*?'"]
    lines += [f"export R{index}=${{V#$P}}" for index in range(200)]
    state = ShellState(variables={"PATH": "/usr/bin:/bin"}, exported={"PATH"})
    started = time.process_time()
    with pytest.raises(ApacheConfigError, match="shell expansion") as refused:
        run_script("\n".join(lines) + "\n", state, "envvars")
    assert time.process_time() - started < 15
    assert refused.value.line is not None and 2 < refused.value.line < 200


WORD_OPERATIONS = (":-", "-", ":+", "+", ":=", "=")
words = st.lists(
    st.sampled_from(
        ["a", " ", "b c", "'a'", "'a b'", '"a b"', '"\\""', "\\a", "a\\ b", "\\}", '"}"', "'}'",
        "\\$", "\\\\", "$Y", '"$Y"', "${Y}", "${Y:-'q'}", '"${Y:-q}"', "'\\'", "*", "{", "é"]
    ),
    max_size=4,
).map("".join)  # fmt: skip


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.sampled_from([None, "", "v1"]), words, values, st.booleans())
# The word keeps no quotes: "${U:-"a b"}" is a b; inside double quotes a single
# quote is a character and a quoted '}' still ends nothing.
@example(value=None, word='"a b"', y="", quoted=False)
@example(value=None, word="'a'", y="", quoted=False)
@example(value=None, word="'a'", y="", quoted=True)
@example(value=None, word="\\}", y="", quoted=True)
@example(value=None, word="a\\ b", y="", quoted=False)
@example(value=None, word="'}'", y="", quoted=False)
def test_words_of_defaults_are_what_dash_gives(
    value: str | None, word: str, y: str, quoted: bool
) -> None:
    # In double quotes, '}' in single quotes ends the expansion (as the
    # example shows) and the rest of the line becomes a command: a shape of
    # its own, not a word's.
    assume(not (quoted and "'}'" in word))
    mark = '"' if quoted else ""
    lines = [f"Y={single_quoted(y)}"]
    for index, op in enumerate(WORD_OPERATIONS):
        if value is not None:
            lines.append(f"V{index}={single_quoted(value)}")
        lines.append(f"R{index}={mark}${{V{index}{op}{word}}}{mark}")
    names = [f"R{index} V{index}" for index in range(len(WORD_OPERATIONS))]
    lines.append("export " + " ".join(names))
    script = "\n".join(lines) + "\n"
    expected = by_dash(script)
    got = by_tcpaudit(script)
    for index in range(len(WORD_OPERATIONS)):
        for name in (f"R{index}", f"V{index}"):
            assert got.get(name) == expected.get(name), (name, value, word, y, quoted)


def test_expansions_nested_past_the_bound_end_in_one_error() -> None:
    """${U:-${U:-...}} 2,000 deep: a RecursionError without a file or line
    before (and a 1 MiB line of 200-deep copies took 40 s). Thirty-two levels
    are read as dash reads them; deeper is one error naming the line."""
    state = ShellState(variables={"PATH": "/usr/bin:/bin"}, exported={"PATH"})
    run_script("export X=" + "${U:-" * 32 + "a" + "}" * 32 + "\n", state, "envvars")
    assert state.environment()["X"] == "a"
    for depth in (33, 2_000):
        state = ShellState(variables={"PATH": "/usr/bin:/bin"}, exported={"PATH"})
        script = "\n" + "export X=" + "${U:-" * depth + "a" + "}" * depth + "\n"
        with pytest.raises(ApacheConfigError, match="nested more than 32 deep") as refused:
            run_script(script, state, "envvars")
        assert (refused.value.file, refused.value.line) == ("envvars", 2)
    # Lines of 1 MiB nested deep: each level scans its own text again, a
    # step per character (a line of 31 levels over 250,000 "${E}" took 31 s;
    # dash 0.02 s). The scans are charged as expansion work: one error.
    count = 1024 * 1024 // 200
    for text in (
        ("${U:-" * 32 + "a" + "}" * 32) * count,
        '${U:-"' * 31 + "${E}" * 249_875 + '"}' * 31,
    ):
        state = ShellState(variables={"PATH": "/usr/bin:/bin"}, exported={"PATH"})
        started = time.process_time()
        with pytest.raises(ApacheConfigError, match="shell expansion"):
            run_script(f"E=\nexport X={text}\n", state, "envvars")
        assert time.process_time() - started < 20


SCRIPTS = {
    # A '$' that starts no expansion is a character: "$'...'" is '$' and a
    # quoted string (the quote was swallowed, the rest run as commands).
    "dollar-quote": 'A=$\'x; export B=1; y\'\nexport A\nexport C=$"x; export D=1; y" R=$"abc"\n',
    "dollar-in-word": 'Y=a\nexport S="${U:-$\\"$Y}" T=$ V=a$ W="$ $"\n',
    # An unused word is not expanded: its ':=' assigns nothing.
    "unused-word": 'TUNING=\nX="${TUNING:+${ARGS:=-D LEGACY}}"\nZ=${SET:-${ARGS2:=x}}\nexport ARGS ARGS2 X Z\n',
    # ':' and its kin are run for their expansions' effects.
    "colon-default": ": ${ARGS:=-D LEGACY}\ntrue ${T:=1}\necho ${E:=2} >/dev/null\nexport ARGS T E\n",
    # ':' and its kin expand their arguments, but not in a list or pipeline:
    # dash never runs the ':' of "false && :" and runs a pipeline's in a subshell.
    "and-list": "export A\nfalse && : ${A:=1}\n",
    "or-list": "export A\ntrue || : ${A:=x}\n",
    "pipeline": "export A\n: ${A:=1} | :\n",
    "background": "export A\n: ${A:=1} &\n",
}


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_scripts_export_what_dash_exports(name: str) -> None:
    assert by_tcpaudit(SCRIPTS[name]) == by_dash(SCRIPTS[name])


def test_a_password_in_dollar_quotes_stays_whole_and_unshown(tmp_path: Path) -> None:
    """export DB_PASSWORD=$'Tr0ub4dor; correcthorse batterystaple': read as '$'
    then a quoted string, as dash reads it; the quote was swallowed, the rest
    run as a command, and a note named that command: part of the password."""
    root = tmp_path / "deb"
    shutil.copytree(CORPUS / "debian-12-apache2.4", root, symlinks=True)
    envvars = root / "etc/apache2/envvars"
    envvars.write_text(
        envvars.read_text() + "export DB_PASSWORD=$'Tr0ub4dor; correcthorse batterystaple'\n"
    )
    result = CliRunner().invoke(cli, ["audit", "--root", str(root), "--format", "json"])
    assert result.exit_code in (0, 1), result.output
    assert "correcthorse" not in result.output and "Tr0ub4dor" not in result.output


@pytest.mark.parametrize("script", [": ${CONF:?not set}\nA=1\n", "export X=${CONF?}\nA=1\n"])
def test_an_unset_parameter_that_stops_the_shell_stops_the_reading(script: str) -> None:
    """${X:?msg} on an unset X ends dash (apachectl fails, httpd never
    starts); it was read as empty and the file went on."""
    done = subprocess.run([DASH, "-c", '. /dev/stdin; echo reached'], input=script.encode(),
                          capture_output=True, check=False)  # fmt: skip
    assert done.returncode != 0 and b"reached" not in done.stdout
    state = ShellState(variables={"PATH": "/usr/bin:/bin"}, exported={"PATH"})
    with pytest.raises(ApacheConfigError, match="CONF: parameter not set") as refused:
        run_script(script, state, "envvars")
    assert refused.value.line == 1


def test_sourcing_is_bounded_in_all(tmp_path: Path) -> None:
    """A 1 MiB file sourced again and again (each time read and lexed; 20,000
    times took minutes): 16 MiB sourced in all, then one error."""
    big = "if [ a = b ]; then\n" + "a" * (1024 * 1024 - 30) + "\nfi\n"
    state = ShellState(variables={"PATH": "/usr/bin:/bin"}, exported={"PATH"})
    script = "export A=1\n" + ". /big\n" * 40
    started = time.process_time()
    with pytest.raises(ApacheConfigError, match="source more than") as refused:
        run_script(script, state, "envvars", source=lambda path: (big, "big"))
    assert refused.value.line is not None and 10 < refused.value.line < 30
    assert time.process_time() - started < 20
