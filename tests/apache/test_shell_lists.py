"""Lists, pipelines, ``if`` blocks and the reading of start-up files, against the real dash.

Debian's apache2ctl sources envvars with /bin/sh (dash). Generated scripts of
commands whose status tcpaudit knows (``true``, ``false``, tests, assignments,
``export``, ``:`` and its kin, quoted command names, redirections), joined by
``&&``, ``||``, ``|``, ``&`` and ``!``, glued to their words or not, continued
on the next line or not, inside ``if``/``elif``/``else`` blocks and ``{ }``
nested in each other, in lists, pipelines and the background, with here-
documents, subshells and loops, are evaluated by dash and by ``run_script``: the exported variables and the values of all variables must be
the same bytes.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tcpaudit.apache.invocation import Invocation, _Reader
from tcpaudit.apache.shell import run_script
from tcpaudit.apache.shell_parser import MAX_NESTING
from tcpaudit.apache.shell_state import ShellState, split_fields
from tcpaudit.cli import cli
from tcpaudit.errors import ApacheConfigError, ParseError
from tcpaudit.rootfs import RootFS

DASH = shutil.which("dash") or "/bin/dash"
NAMES = ("A", "B", "C", "D")
# Generated scripts compared with dash a run; set TCPAUDIT_LIST_EXAMPLES for more.
EXAMPLES = int(os.environ.get("TCPAUDIT_LIST_EXAMPLES", "400"))
# Every variable's value (or "-" when unset) at the end, exported as REPORT.
REPORT = "REPORT=" + "".join(f'"{name}=${{{name}--}};"' for name in NAMES) + "\nexport REPORT\n"


def by_dash(script: str, shell: str = DASH) -> dict[str, bytes]:
    """What ``shell`` (dash, or bash for the files bash sources) exports
    after sourcing ``script``, less what bash itself adds (env is run by its
    path: the script may change PATH)."""
    done = subprocess.run(
        [shell, "-c", '. "$0" >/dev/null 2>&1; /usr/bin/env -0', "/dev/stdin"],
        input=os.fsencode(script), capture_output=True, env={"PATH": "/usr/bin:/bin"},
        check=False, cwd="/",
    )  # fmt: skip
    items = [item.split(b"=", 1) for item in done.stdout.split(b"\0") if b"=" in item]
    found = {os.fsdecode(name): value for name, value in items}
    for name in ("SHLVL", "_", "OLDPWD"):
        found.pop(name, None)
    return found


def sourced_by_dash(script: str, cwd: str | None = None) -> subprocess.CompletedProcess[bytes]:
    """dash sourcing ``script`` then echoing "reached": a shell that stops
    before the echo (as apachectl does) prints no "reached"."""
    return subprocess.run([DASH, "-c", ". /dev/stdin; echo reached"], input=script.encode(),
                          capture_output=True, check=False, cwd=cwd)  # fmt: skip


def by_tcpaudit(script: str, exists: bool | None = None) -> dict[str, bytes]:
    state = ShellState(variables={"PATH": "/usr/bin:/bin"}, exported={"PATH"})
    run_script(script, state, "envvars", exists=lambda test, path: exists)
    return {name: os.fsencode(value) for name, value in state.environment().items()}


name = st.sampled_from(NAMES)
value = st.sampled_from(["x", "y", "'a&&b'", '"c|d"', "e\\;f", "'g h'"])
status_commands = st.one_of(
    st.sampled_from(["true", "false", ":", "\\:", '"true"', "'false'"]),
    st.builds(lambda n, v: f'[ "${n}" = {v} ]', name, value),
    st.builds(lambda n: f'[ -n "${n}" ]', name),
    st.builds(lambda n: f'test -z "${n}"', name),
    st.sampled_from(["[ a == a ]", "[ a", "[ -9223372036854775808 -lt 0 ]", "[ x -lt 1 ]"]),
)
effects = st.one_of(
    st.builds(lambda n, v: f"export {n}={v}", name, value),
    st.builds(lambda n, v: f"{n}={v}", name, value),
    st.builds(lambda n: f"export {n}", name),
    st.builds(lambda n: f"unset {n}", name),
    st.builds(lambda n, v: f": ${{{n}:={v}}}", name, value),
    st.builds(lambda n, v: f"echo ${{{n}:={v}}} >/dev/null 2>&1", name, value),
    st.builds(lambda n, v: f'"echo" "${{{n}:=a|b}}" 2>&1 >/dev/null', name, value),
    st.builds(lambda n, v: f"\\: ${{{n}={v}}}", name, value),
    st.builds(lambda n, v: f"{n}={v} :", name, value),
    st.builds(lambda n, v: f"{n}={v} true", name, value),
    st.sampled_from(["set -a", "set +a", "set -ua", "set +ea", "set -o allexport", "set -e"]),
    st.builds(lambda n: f"unset -f {n}", name),
    st.builds(lambda n, v: f"{n}={v} export D=${n}", name, value),
    st.builds(
        lambda n, first: f"{first} export {n}=$?", name, st.sampled_from(["true &&", "false ||"])
    ),
    st.builds(lambda n: f"HOME=/h; {n}=~/x", name),
)
commands = st.one_of(status_commands, effects)
connector = st.sampled_from([" && ", " || ", "&&", "||", " &&\n", " ||\n  ", " | ", "|\n"])


@st.composite
def lists(draw: st.DrawFn) -> str:
    # "!" negates a pipeline: it may start one, not follow a "|".
    parts = [draw(st.sampled_from(["", "", "! "])) + draw(commands)]
    for _ in range(draw(st.integers(0, 3))):
        joined = draw(connector)
        if "|" in joined and "||" not in joined:
            # A pipeline's status is its last command's, run in a subshell:
            # tcpaudit knows it when that command is a plain true, false or ':'.
            parts += [joined, draw(st.sampled_from(["true", "false", ":", "false x"]))]
        else:
            parts += [joined, draw(st.sampled_from(["", "! "])) + draw(commands)]
    return "".join(parts)


@st.composite
def blocks(draw: st.DrawFn, depth: int, known: bool = False) -> str:
    """A compound command with lists and blocks inside, in a list, a pipeline
    or the background, sharing its lines with its neighbours or not.
    ``known``: one whose status tcpaudit knows (no subshell, pipeline or loop
    that runs: their statuses are noted as not known), as a condition or
    before ``&&``/``||`` must be for the comparison to hold."""
    inner = min(depth + 1, 2)
    items = [draw(lists()) for _ in range(draw(st.integers(1, 2)))]
    if depth < 2 and draw(st.booleans()):
        items.insert(draw(st.integers(0, len(items) - 1)), draw(blocks(inner)))
    if depth < 2 and draw(st.booleans()):
        items.append(draw(blocks(inner, known=True)))
    body = draw(st.sampled_from(["; ", "\n", " & "])).join(items)
    kind = draw(st.integers(0, 5 if known else 6))
    if kind == 0:
        text = f"{{ {body}; }}"
    elif kind == 1:
        condition = draw(st.one_of(lists(), blocks(inner, known=True))) if depth < 2 else "true"
        other = f" else {draw(lists())};" if draw(st.booleans()) else ""
        text = f"if {condition}; then {body};{other} fi"
    elif kind == 2:
        test = draw(st.sampled_from(["while false", "while ! :", "until true", "until [ a = a ]"]))
        text = f"{test}; do {body}; done"
    elif kind == 3:
        text = (
            f"for i in {draw(st.sampled_from(['', '$NOTHING', '${NOTHING:+x}']))}; do {body}; done"
        )
    elif kind == 4:
        text = f"{{\n{body}\n}}"
    elif kind == 5:
        subject = draw(st.sampled_from(["x", "$A", "${A:=case}", "'fi'", '"$B"']))
        pattern = draw(st.sampled_from(["x", "fi", "x|y", "[a-z]", "*", '"$B"', "?", "(esac"]))
        text = f"case {subject} in {pattern}) {body};; *) {draw(lists())};; esac"
    else:
        text = f"( {body} )"
    before = draw(st.sampled_from(["", "", "true && ", "false || ", "! "]))
    after = draw(st.sampled_from(["", "", " && export D=after", " || :", " >/dev/null"]))
    if kind == 6:
        after = draw(st.sampled_from(["", " >/dev/null"]))  # a status not known: no && after
    if not known and draw(st.booleans()):
        before, after = draw(st.sampled_from([(before, " &"), (before, " | cat"), ("true | ", "")]))
    return before + text + after


@st.composite
def statements(draw: st.DrawFn) -> str:
    kind = draw(st.integers(0, 10))
    if kind == 10:
        return draw(blocks(0))
    if kind <= 5:
        return draw(lists()) + (" &" if kind == 0 else "")
    if kind == 6:
        # A condition of several lists (its status is the last one's), and a
        # list going on after "fi".
        conditions = "; ".join(draw(lists()) for _ in range(draw(st.integers(1, 2))))
        branches = [f"if {conditions}; then {draw(lists())}"]
        if draw(st.booleans()):
            branches.append(f"elif {draw(lists())}\nthen\n  {draw(lists())}")
        if draw(st.booleans()):
            branches.append(f"else {draw(lists())}")
        after = draw(st.sampled_from(["", "", " && export D=after", " || export D=after"]))
        return "\n".join(branches) + "\nfi" + after
    if kind == 7:
        return f"cat >/dev/null <<EOF\nexport {draw(name)}=heredoc\nEOF"
    if kind == 8:
        return f"( export {draw(name)}=subshell )"
    return f"while false; do export {draw(name)}=loop; done"


scripts = st.lists(statements(), min_size=1, max_size=6).map(lambda found: "\n".join(found))


@settings(max_examples=EXAMPLES, deadline=None)
@given(scripts)
# Glued operators, a list continued on the next line, and '&' or '|' that are
# no list: in ${...}, in quotes, in a redirection.
@example("false $B&& : ${A:=v}")
@example("false &&\n: ${A:=v}")
@example("true ||\n\n  export A=v")
@example("echo ${A:=v} 2>&1")
@example(": ${A:=a|b} 'c&&d'")
@example(r"\: ${A:=v}")
@example('"echo" ${A:=v} >/dev/null')
@example("export A\n: ${A:=1} | :")
@example('if false || [ -z "$A" ]; then export B=1; fi')
@example("set -a\n: ${C:=v}")
def test_scripts_leave_what_dash_leaves(script: str) -> None:
    script += "\n" + REPORT
    state = ShellState(variables={"PATH": "/usr/bin:/bin"}, exported={"PATH"})
    try:
        run_script(script, state, "envvars", exists=lambda test, path: None)
    except ApacheConfigError:
        assert by_dash(script) == {}, script  # the shell stops: dash prints nothing either
        return
    if state.opaque is not None:
        # tcpaudit claims no value known (set -e over a status not known):
        # then it says so, and there is nothing to compare.
        assert any("no value is" in note.message for note in state.notes), script
        return
    ours = {name: os.fsencode(value) for name, value in state.environment().items()}
    assert ours == by_dash(script), script


def test_a_list_continued_after_a_file_test_runs_as_the_test_says() -> None:
    """`[ -f x ] &&` then `export X=v` on the next line: the export ran
    whatever the test gave, as the list was cut at the line's end."""
    script = "[ -f /etc/nothing ] &&\n  export X=v\n"
    assert "X" not in by_tcpaudit(script, exists=False)
    assert by_tcpaudit(script, exists=True)["X"] == b"v"
    # A test tcpaudit cannot answer: the rest of the list is not run.
    assert "X" not in by_tcpaudit(script, exists=None)


@pytest.mark.parametrize(
    "script",
    [
        "mkdir -p ${RUN_DIR:?}\n",
        "cd ${RUN_DIR:?not set} || exit 1\n",
        "LANG=C ${RUN_DIR:?} --version\n",
        "X=${RUN_DIR:?} somecommand\n",
        "frobnicate > ${RUN_DIR:?}\n",
    ],
)
def test_an_unset_parameter_in_a_command_not_run_still_stops_the_shell(script: str) -> None:
    """dash expands a command's words before it runs it: ${X:?} on an unset X
    stops there, whatever the command. tcpaudit runs no such command, and read
    on past it."""
    done = sourced_by_dash(script, cwd="/tmp")
    assert done.returncode != 0 and b"reached" not in done.stdout
    state = ShellState(variables={"PATH": "/usr/bin:/bin"}, exported={"PATH"})
    with pytest.raises(ApacheConfigError, match="RUN_DIR: parameter not set") as refused:
        run_script(script, state, "envvars")
    assert refused.value.line == 1


@pytest.mark.parametrize(
    "script",
    [
        # ${#Y} counts bytes in dash 0.5.12.
        "Y=é€\nexport N=${#Y}\n",
        # set -a exports what ${X:=v} assigns.
        "set -a\n: ${X:=v}\n",
        # A quoted value over several lines, and backslash-newline inside it.
        "export X=\"a\nb\\\nc\" Y='d\ne'\n",
        # A here-document's body is no command, with <<- its tabs are stripped.
        "cat <<EOF >/dev/null\nexport A=1\nEOF\ncat <<-'E' >/dev/null\n\texport B=1\n\tE\nexport C=1\n",
        # A here-document's delimiter is not expanded (its ':=' assigns nothing).
        "cat <<${D:=x} >/dev/null\nexport A=1\n${D:=x}\nexport B=$D\n",
        # A function is defined, not run; a loop that never runs, runs nothing.
        "f() {\n  export A=1\n}\nwhile false; do export B=1; done\nfor i in; do export C=1; done\n",
        # A subshell's and a background command's assignments are its own.
        "( export A=1 )\nexport B=1 &\nwait\n",
        # A comment ends at the line's end; '#' inside a word is a character.
        "export A=a#b # export B=1\n",
        # return in a sourced file ends that file.
        "export A=1\nreturn\nexport B=1\n",
    ],
)
def test_shapes_of_start_up_files_read_as_dash_reads_them(script: str) -> None:
    assert by_tcpaudit(script) == by_dash(script), script


def test_return_ends_the_sourced_file_only() -> None:
    """Every start-up file is sourced (envvars by apache2ctl): ``return`` ends
    that file; inside a nested ``.``, the nested one only."""
    state = ShellState(variables={}, exported=set())
    inner = "export B=1\nreturn\nexport C=1\n"
    run_script(
        "export A=1\n. /inner\nexport D=1\n",
        state,
        "envvars",
        source=lambda path: (inner, "inner"),
        depth=1,
    )
    assert state.environment() == {"A": "1", "B": "1", "D": "1", "PWD": "/"}


def test_exit_ends_the_shell_before_httpd_starts() -> None:
    state = ShellState(variables={}, exported=set())
    with pytest.raises(ApacheConfigError, match="exit: the shell") as refused:
        run_script('export A=1\n[ -n "$A" ] && exit 0\nexport B=1\n', state, "envvars")
    assert refused.value.line == 2


@pytest.mark.parametrize(
    ("script", "line"),
    [
        ('export A=1\nB="never closed\nC=1\n', 2),
        ("A=1\n\nB=${X:-y\n", 3),
        ("A='x\n", 1),
        ("A=$(echo\nB=1\n", 1),
        ("A=1\nB=`x\n", 2),
    ],
)
def test_a_quote_never_closed_stops_the_shell_at_its_line(script: str, line: int) -> None:
    """dash reads the file up to the syntax error and stops (apachectl with it)."""
    done = sourced_by_dash(script)
    assert done.returncode != 0 and b"Syntax error" in done.stderr
    state = ShellState(variables={}, exported=set())
    with pytest.raises(ApacheConfigError, match="is never closed") as refused:
        run_script(script, state, "envvars")
    assert refused.value.line == line


def test_an_error_finding_a_sourced_file_names_the_sourcing_line() -> None:
    def source(path: str) -> tuple[str, str] | None:
        raise ParseError("more than 1,000,000 symbolic links followed in all", file="etc/x/l99")

    state = ShellState(variables={}, exported=set())
    with pytest.raises(ApacheConfigError, match="symbolic links") as refused:
        run_script("A=1\n\n. /etc/apache2/extra\n", state, "etc/apache2/envvars", source=source)
    assert (refused.value.file, refused.value.line) == ("etc/apache2/envvars", 3)


@pytest.mark.parametrize(
    "value", ['-D "A B"', "-DX\t-DY\n -f /etc/x.conf", "-D $HOME", "  ", "-D'Q'"]
)
def test_service_arguments_are_split_as_an_unquoted_expansion(value: str) -> None:
    """apache2ctl runs ``$HTTPD ${APACHE_ARGUMENTS} -k start``: the value is
    split at blanks, its quotes are characters, its ``$`` is not expanded."""
    done = subprocess.run(
        [DASH, "-c", 'for f in $0; do printf "%s\\0" "$f"; done', value], capture_output=True, check=True
    )  # fmt: skip
    expected = [os.fsdecode(field) for field in done.stdout.split(b"\0")[:-1]]
    assert split_fields(value) == expected


@pytest.mark.parametrize("unit", ["$(a)`b`", "$(a)x", "$((a))", '$(a)"$(b)"'])
def test_command_substitutions_in_bulk_end_within_seconds(unit: str) -> None:
    """16 MiB of start-up text made of command substitutions built a note per
    construct: 45 s. Each line notes them once, and the text they take is
    charged as expansion work: one error."""
    line = "export A=" + unit * (8000 // len(unit)) + "\n"
    text = line * (16 * 1024 * 1024 // len(line))
    state = ShellState(variables={}, exported=set())
    started = time.process_time()
    with pytest.raises(ApacheConfigError, match="shell expansion"):
        run_script(text, state, "envvars")
    assert time.process_time() - started < 20
    # At most two kinds of note ($((...)) also says no value is known after
    # it), each at most 20 and one counting the rest.
    assert len(list(state.notes)) <= 2 * 21


SECRET_NOTES = {
    "test": 'U=https://admin:UrlPw99@db.example/x\n[ -n "$U" -a -r /etc/ssl ] && :\n'
    '[ -n "--password=ParamPw77" -a -r /x ] && :\nK="Authorization: Bearer BearerTok55"\n'
    '[ -n "$K" -a -r /etc/ssl ] && :\n',
    "source": ". https://u:SrcPw1@h/x\n. /etc/x/$API_TOKEN\n",
    "command": "https://u:CmdPw2@h/x --flag\n",
}


@pytest.mark.parametrize("name", sorted(SECRET_NOTES))
def test_notes_never_show_an_expanded_value(name: str) -> None:
    """Notes on what is not evaluated named the test's words and the sourced
    path as expanded: a URL's password, a Bearer token, a secret variable's
    value (from the unit's Environment=, which was not redacted)."""
    state = ShellState(
        variables={"API_TOKEN": "TokFromUnit"}, exported={"API_TOKEN"}
    )  # fmt: skip
    run_script(SECRET_NOTES[name], state, "envvars", exists=lambda test, path: None)
    shown = " ".join(note.message for note in state.notes)
    assert shown, "a note is expected"
    for secret in ("UrlPw99", "ParamPw77", "BearerTok55", "SrcPw1", "TokFromUnit", "CmdPw2"):
        assert secret not in shown, shown


def test_nesting_is_bounded_and_long_lines_are_linear() -> None:
    """Keywords opening a command were cut one slice at a time: a line of
    150,000 "{ " took 46 s. Blocks nest at most MAX_NESTING deep (the tree
    is walked by recursion), across sourced files too; blocks side by side
    on one line cost linear time."""
    started = time.process_time()
    with pytest.raises(ApacheConfigError, match=f"nested more than {MAX_NESTING} deep"):
        run_script("{ " * 300_000 + "\n", ShellState(), "envvars")
    deep = "{ " * MAX_NESTING + "export A=1;" + " }" * MAX_NESTING + "\n"
    state = ShellState()
    run_script(deep, state, "envvars")
    assert state.variables["A"] == "1"
    with pytest.raises(ApacheConfigError, match="nested more than") as refused:
        run_script("{ . /x; }\n", ShellState(), "envvars", source=lambda path: (deep, "x"))
    assert refused.value.file == "x"
    state = ShellState()
    run_script("{ export A=1; } && { :; } || { :; }; " * 30_000 + "\n", state, "envvars")
    assert state.variables["A"] == "1"
    assert time.process_time() - started < 20


SYNTAX_ERRORS = [
    "export A=1\nif true; then\nexport B=2\n",
    "{ export A=1\n",
    "( export A=1\n",
    "export A=1; fi\n",
    "true; then export A=1\n",
    "done\n",
    "}\n",
    ";; export A=1\n",
    "; export A=1\n",
    "true && && true\n",
    "true &;\n",
    "fi export A=1\n",
    "cat <<\nx\n",
    "export -n A=1\n",
    "export 2A=1\n",
    "true &&\n",
    "echo (a)\n",
    "f() {\n export A=1\n",
    # Inside compound commands: an empty body, two else, a word after a closing word.
    "if true; then\nfi\n",
    "if true; then :; else :; else :; fi\n",
    "{ }\n",
    "if true; then :; fi export A=1\n",
    "while false; do\ndone\n",
    "{ if true; then :; }; fi\n",
    "f() { :; } }\n",
    # "!" twice, or after "|".
    "! ! true\n",
    "true | ! false\n",
    "for 1 in a; do :; done\n",
    "case a in a) :;; b) :; c) :;; esac\n",
    "(echo a) b\n",
]


@pytest.mark.parametrize("script", SYNTAX_ERRORS)
def test_what_stops_dash_stops_the_reading(script: str) -> None:
    """dash stops at a syntax error or a special builtin's error (apachectl
    with it: httpd never starts); tcpaudit read on and accepted."""
    done = sourced_by_dash(script)
    assert b"reached" not in done.stdout
    with pytest.raises(ApacheConfigError, match="stops here"):
        run_script(script, ShellState(), "envvars")


@pytest.mark.parametrize(
    "script",
    [
        "case x in a) export A=1;; esac\nexport B=1\n",
        "case x in (a) export A=1 ;; *) ;; esac\n",
        "f()\n{\n  echo }\n}\nexport A=1\n",
        "f() { echo {; }\nexport B=2\n",
        "x=$(echo a; echo b)\nexport A=1\n",
        "until true; do :; done\nexport A=1\n",
    ],
)
def test_what_dash_reads_is_read(script: str) -> None:
    assert by_tcpaudit(script) == by_dash(script), script


def test_ifs_set_by_a_start_up_file_splits_the_arguments() -> None:
    """apachectl expands ${APACHE_ARGUMENTS} with the IFS envvars left."""
    for value, ifs in (("-DALPHA,-DBETA", ","), ("a,,b", ","), (" a : b ", " :"), ("a b", "")):
        done = subprocess.run(
            [DASH, "-c", 'IFS=$1; for f in $0; do printf "%s\\0" "$f"; done', value, ifs],
            capture_output=True, check=True,
        )  # fmt: skip
        expected = [os.fsdecode(field) for field in done.stdout.split(b"\0")[:-1]]
        assert split_fields(value, ifs) == expected, (value, ifs)


@pytest.mark.parametrize(
    "script",
    [
        # An assignment given to export as a quoted or expanded word (a common
        # 'export "LANG=C"' was refused as a bad name).
        'export "LANG=C" A"=1" B=1 "C=2"\n',
        "X=D; export $X=1\nY=E=2; export $Y\n",
        'readonly "R=1"\nexport R\n',
        # unset: the last of -f and -v wins.
        "A=1; export A; unset -fv A\n",
        "A=1; export A; unset -vf A\n",
        # Integers with blanks around them.
        '[ "1 " -eq 1 ] && export A=1\n[ " 2" -gt 1 ] && export B=1\n',
        "export -p >/dev/null\nexport A=1\n",
        # A test's error gives $? = 2, a false test 1.
        "[ a == a ] || export A=$?\n[ 1 -lt x ] || export B=$?\n[ 2 -lt 1 ] || export C=$?\n",
    ],
)
def test_builtins_read_as_dash_runs_them(script: str) -> None:
    assert by_tcpaudit(script) == by_dash(script), script


@pytest.mark.parametrize(
    "script",
    [
        "readonly A=1\nA=2\nexport B=1\n",
        "readonly A=1\nexport A=2\n",
        "readonly A=1\nunset A\n",
        "unset -x A\n",
        "unset 1\n",
        "export --password=hunter2xyz\n",
    ],
)
def test_errors_of_special_builtins_stop_the_reading(script: str) -> None:
    done = sourced_by_dash(script)
    assert b"reached" not in done.stdout
    with pytest.raises(ApacheConfigError) as refused:
        run_script(script, ShellState(), "envvars")
    assert "hunter2xyz" not in str(refused.value)


def test_a_bad_option_in_bash_mode_is_a_note_without_its_value() -> None:
    state = ShellState(dash=False)
    run_script("export --password=hunter2xyz\n", state, "etc/conf.d/apache2")
    notes = " ".join(note.message for note in state.notes)
    assert "export" in notes and "hunter2xyz" not in notes


def test_file_tests_are_dash_tests(tmp_path: Path) -> None:
    """-L and -h test the link itself, -x an execute bit, -s any file's size."""
    root = tmp_path / "root"
    (root / "etc/apache2").mkdir(parents=True)
    (root / "etc/apache2/envvars").write_text("x\n")
    (root / "etc/apache2/link").symlink_to("envvars")
    (root / "etc/apache2/run").write_text("#!/bin/sh\n")
    (root / "etc/apache2/run").chmod(0o755)
    checks = {
        "-L /etc/apache2/envvars": False, "-h /etc/apache2/link": True,
        "-L /etc/apache2/link": True, "-x /etc/apache2/envvars": False,
        "-x /etc/apache2/run": True, "-x /etc/apache2": True, "-s /etc/apache2": True,
        "-f /etc/apache2": False, "-d /etc/apache2/link": False, "-e /etc/apache2/nothing": False,
    }  # fmt: skip
    for test, expected in checks.items():
        done = subprocess.run(
            [DASH, "-c", f"[ {test.replace('/etc', str(root) + '/etc')} ]"], check=False
        )
        assert (done.returncode == 0) is expected, test
        state = ShellState()
        reader = _Reader(RootFS(root), Invocation())
        run_script(f"[ {test} ] && export A=yes\n", state, "envvars", exists=reader.exists)
        assert (state.variables.get("A") == "yes") is expected, test


def test_many_words_sourced_again_end_within_seconds() -> None:
    """15 MiB of one-letter words (1 MiB sourced 15 times), about 15 commands
    within every bound: 59 s. Each word is charged as expansion work."""
    words = "unset " + "A " * (512 * 1024 - 4) + "\n"
    script = ". /u\n" * 15
    state = ShellState()
    started = time.process_time()
    with pytest.raises(ApacheConfigError, match="shell expansion"):
        run_script(script, state, "envvars", source=lambda path: (words, "u"))
    assert time.process_time() - started < 20


@pytest.mark.parametrize(
    "script",
    [
        "true && if true; then export A=1; fi\nexport B=2\n",
        "true && { export A=1; }\nexport B=1\n",
        "! if false; then export A=1; fi\nexport B=1\n",
        "true | while false; do export A=1; done\nexport B=1\n",
        # Blocks beside '{' or a closing word, in one line (refused before).
        "if { true; }; then export A=1; fi\n",
        "{ { export A=1; } }\n",
        "if true; then { export A=1; } fi\n",
        "f() if true; then :; fi\nexport A=1\n",
        "if true; then if false; then :; else export A=1; fi fi\n",
        "{ if true; then export A=1; fi }\n",
        # A block inside a block, run in the background or a pipeline, is a
        # subshell's: what it assigns stays there (it was run).
        "{ { export A=1; } & }\nexport B=1\n",
        "if true; then { export A=1; } | cat; fi\n",
        "{ true && { export A=1; } & }\n",
        "{ if true; then export A=1; fi | cat; }\n",
        # Reserved words as case patterns.
        "case fi in fi) export A=1;; esac\nexport B=1\n",
        "case x in (esac) :;; esac\nexport B=1\n",
        # Loops whose condition ends them before their body runs, or over nothing.
        "while false; do export A=1; done && export B=1\n",
        "until true; do export A=1; done; export B=$?\n",
        "for i in $NOTHING; do export A=1; done && export B=1\n",
        "case ${A:=x} in *) ;; esac\nexport A\n",
    ],
)
def test_compound_commands_anywhere_run_as_dash_runs_them(script: str) -> None:
    """Compound commands are a tree, as dash parses them: inside a list, a
    pipeline, a condition or each other, beside '{' or a closing word."""
    assert by_tcpaudit(script) == by_dash(script), script


@pytest.mark.parametrize(
    "script",
    [
        "cat <<EOF >/dev/null\n${A:=x}\nEOF\nexport A\n",
        "cat <<'EOF' >/dev/null\n${A:=x}\nEOF\nexport A\n",
        "cat <<-E >/dev/null\n\t${A:=y} ${B:-z}\n\tE\nexport A B\n",
        "cat <<A <<B >/dev/null\n${C:=1}\nA\n${D:=2}\nB\nexport C D\n",
    ],
)
def test_here_documents_are_expanded_unless_their_delimiter_is_quoted(script: str) -> None:
    assert by_tcpaudit(script) == by_dash(script), script


@pytest.mark.parametrize(
    "script",
    [
        # A block run in the background or a pipeline is a subshell's: what it
        # assigns stays there (an APACHE_ARGUMENTS of -D EVIL was taken).
        '{ export APACHE_ARGUMENTS="-D EVIL"; } &\nexport B=1\n',
        "if true; then export A=1; fi | cat\nexport B=1\n",
        "if true; then\n  { export A=1; } &\n  export C=1\nfi\nexport B=1\n",
        # In a block whose status is tested, set -e is off.
        "set -e; { [ a = b ]; } || true; export A=1\n",
        "set -e; if false; then :; else false; fi && true\nexport A=1\n",
    ],
)
def test_a_block_is_read_whole_before_it_runs(script: str) -> None:
    """dash reads a compound command whole before it runs it; what its
    closing line says ('} &', 'fi | x', 'fi || x') decides how it runs."""
    assert by_tcpaudit(script) == by_dash(script), script


@pytest.mark.parametrize(
    "script",
    [
        # A list done before its here-document's body is read at the line's end.
        ": <<EOF; export A=1\n${B:=y}\nEOF\nexport B\n",
        ": <<EOF; : <<EOF\n${C:=z}\nEOF\n${D:=w}\nEOF\nexport C D\n",
        # Redirections are expanded before a special builtin's assignments.
        "A=1 : >/dev/null${B:=$A}\nexport B\n",
        "A=1 : <<EOF\n${B:=$A}\nEOF\nexport B\n",
        # Integers of any length with leading zeros.
        "[ 00000000000000000000000000000000000000001 -eq 1 ] && export A=1\n",
    ],
)
def test_here_documents_redirections_and_long_integers_read_as_dash_reads_them(script: str) -> None:
    assert by_tcpaudit(script) == by_dash(script), script


@pytest.mark.parametrize(
    "script", ["readonly A; : ${A:=2}\n", "readonly A=1; A=2 true\n", "readonly A; A=3 true\n"]
)
def test_read_only_names_stop_the_shell_wherever_assigned(script: str) -> None:
    done = sourced_by_dash(script)
    assert b"reached" not in done.stdout
    with pytest.raises(ApacheConfigError, match="read only"):
        run_script(script, ShellState(), "envvars")


def test_a_negated_group_is_noted_not_refused() -> None:
    """'! { export LANG=C; }' counted its '{' before the list was stepped
    over: 'the file ends before its }', exit 2, where dash runs it."""
    state = ShellState()
    run_script("! { export LANG=C; }\nexport B=1\n", state, "envvars")
    assert state.variables["B"] == "1"


def test_blocks_whose_status_is_tested_cost_linear_time() -> None:
    """33,000 '{ :; } || :' inside one block: each list searched the block's
    list of tested blocks (100 s)."""
    script = "{\n" + "{ :; } || :\n" * 33_000 + "}\nexport B=1\n"
    state = ShellState()
    started = time.process_time()
    run_script(script, state, "envvars")
    assert time.process_time() - started < 20
    assert state.variables["B"] == "1"


def test_a_sourced_path_note_never_shows_an_expansions_word() -> None:
    state = ShellState()
    run_script('. "/etc/apache2/x/${DB_PASSWORD:=hunterSECRETpw}"\n', state, "envvars")
    shown = " ".join(note.message for note in state.notes)
    assert "not in the root" in shown and "hunterSECRETpw" not in shown


def test_facts_never_show_a_secret_given_on_httpds_command_line(tmp_path: Path) -> None:
    """-C 'Define API_TOKEN x', -D with a URL password, -c with one: facts
    printed the invocation's defines and directives raw."""
    root = tmp_path / "deb"
    shutil.copytree(
        Path(__file__).resolve().parents[1] / "corpus/debian-12-apache2.4", root, symlinks=True
    )
    unit = root / "etc/systemd/system/apache2.service"
    unit.parent.mkdir(parents=True, exist_ok=True)
    unit.write_text(
        '[Service]\nExecStart=/usr/sbin/apache2 -k start -C "Define API_TOKEN hunterAtoken" '
        '-D "http://u:hunterB@h" -c "ServerAdmin http://u:hunterC@h/"\n'
    )
    result = CliRunner().invoke(cli, ["facts", "--root", str(root)])
    assert result.exit_code == 0, result.output
    assert "hunter" not in result.output
    assert "Define API_TOKEN" in result.output


@pytest.mark.parametrize(
    "script",
    [
        # A redirection-only command after && or || ends at its line's end (the
        # next line was read as its words).
        "true || >/dev/null\nexport A=1\n",
        "false && 2>/dev/null\nexport B=2\n",
        # After a redirection a reserved word is a command name.
        ">/dev/null fi\nexport A=1\n",
        "true <<E || >/dev/null\n",
    ],
)
def test_redirections_before_words_read_as_dash_reads_them(script: str) -> None:
    assert by_tcpaudit(script) == by_dash(script), script


def test_a_reserved_word_after_a_redirection_is_no_keyword() -> None:
    done = sourced_by_dash("2>/dev/null if true; then export A=1; fi\n")
    assert b"reached" not in done.stdout
    with pytest.raises(ApacheConfigError, match='"then" unexpected'):
        run_script("2>/dev/null if true; then export A=1; fi\n", ShellState(), "envvars")
