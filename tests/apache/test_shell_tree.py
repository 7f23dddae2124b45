"""What dash does around the commands of a start-up file, against the real dash:
redirections that cannot be opened, ``.`` of a missing file, ``local``, the
variables dash sets before it reads a line, and here-documents of any size.

The root given to tcpaudit here is ``/`` itself, the host dash runs on, so
that what a redirection or ``.`` finds is the same file for both.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import time
import tracemalloc
from pathlib import Path

import pytest
from test_shell_lists import DASH, by_dash, sourced_by_dash

from tcpaudit.apache.invocation import Invocation, _Reader, read_invocation
from tcpaudit.apache.shell import run_script
from tcpaudit.apache.shell_pathnames import expand_pathnames
from tcpaudit.apache.shell_state import ShellState, split_fields
from tcpaudit.errors import ApacheConfigError
from tcpaudit.rootfs import RootFS

HOST = _Reader(RootFS(Path("/")), Invocation())
CORPUS = Path(__file__).resolve().parents[1] / "corpus"


def assert_a_is_known_as_theirs(script: str, *, dash: bool) -> None:
    """tcpaudit keeps A, exported at the script's end, as known, and equal to
    what the real shell exports."""
    state = on_host(script + "export A\n", dash=dash)
    theirs = by_dash(script + "export A\n", shell=DASH if dash else "bash")
    assert state.opaque is None and "A" not in state.unknown, script
    assert environment(state).get("A") == theirs.get("A"), script


def on_host(script: str, *, dash: bool = True) -> ShellState:
    state = ShellState(variables={"PATH": "/usr/bin:/bin"}, exported={"PATH"}, dash=dash)
    run_script(
        script, state, "envvars", exists=HOST.exists, source=HOST.sourced,
        pathnames=lambda fields: expand_pathnames(fields, HOST.fs),
    )  # fmt: skip
    return state


def environment(state: ShellState) -> dict[str, bytes]:
    return {name: os.fsencode(value) for name, value in state.environment().items()}


def assert_known_values_are_theirs(
    state: ShellState, theirs: dict[str, bytes], script: str, names: tuple[str, ...] = ()
) -> None:
    """Each value tcpaudit keeps as known (of ``names``, or of every name either
    side exports) is the one the real shell ``theirs`` exported."""
    if state.opaque is not None:
        return
    ours = environment(state)
    for name in names or set(ours) | set(theirs):
        if name not in state.unknown:
            assert ours.get(name) == theirs.get(name), (name, script)


@pytest.mark.parametrize(
    "script",
    [
        # The command is not run, its status is 2; assignments alone are not made.
        "A=1 >/nonexistent/x\nexport A B=$?\n",
        "echo hi >/nonexistent/x; export B=$?\n",
        "true >/etc || export B=$?\n",
        "cat </nonexistent || export B=$?\n",
        "{ export B=3; } >/nonexistent/x; export C=$?\n",
        "if true </nonexistent; then export A=1; else export A=$?; fi\n",
        # What opens: /dev/null, a directory's new file, descriptors 0 to 2.
        "export A=1 >/dev/null 2>&1 <&0\n",
        "X=/nonexistent; true ${A:=before} >$X/y || export B=$?\nexport A\n",
    ],
)
def test_redirections_open_as_dash_opens_them(script: str) -> None:
    assert environment(on_host(script)) == by_dash(script), script


@pytest.mark.parametrize(
    "script",
    [
        "export B=2 >/nonexistent/x\nexport C=1\n",
        ": </nonexistent\n",
        "echo x >&/tmp/f\n",
        ". /nonexistent/envvars\nexport A=1\n",
        "local A=1\n",
        "true\nlocal >/dev/null\n",
        "set -q\nexport A=1\n",
        "set -o nosuchoption\nexport A=1\n",
        # dash's trap takes no option: a special builtin's error.
        "trap -p\nexport A=1\n",
        "trap -l\nexport A=1\n",
        "X=-p; trap $X INT\nexport A=1\n",
        "trap --- INT\nexport A=1\n",
    ],
)
def test_what_fails_so_stops_dash(script: str) -> None:
    """A special builtin's redirection, '.' of a file that cannot be opened,
    'local' outside a function: dash stops (apachectl with it)."""
    done = sourced_by_dash(script)
    assert b"reached" not in done.stdout
    with pytest.raises(ApacheConfigError, match="stops here"):
        on_host(script)


@pytest.mark.parametrize("script", ["trap -- -p\nA=1\n", "trap - INT\nA=1\n", "trap '' 1\nA=1\n"])
def test_trap_without_an_option_does_not_stop_dash(script: str) -> None:
    assert_a_is_known_as_theirs(script, dash=True)


def test_bash_goes_on_after_them() -> None:
    """RHEL's, SUSE's and Gentoo's files are sourced by bash, which says so and goes on."""
    state = on_host(
        "export B=2 >/nonexistent/x\n. /nonexistent/x\nlocal A=1\nexport C=1\n", dash=False
    )
    assert state.variables.get("C") == "1" and "B" not in state.variables
    # What bash leaves after its error (a status, an export flag) is not followed.
    assert state.opaque is not None
    assert "cannot create" in " ".join(note.message for note in state.notes)


def test_the_variables_dash_sets_before_it_reads() -> None:
    script = 'export IFS OPTIND PS2 PS4\nexport P="$PWD"\n'
    assert environment(on_host(script)) == by_dash(script)


def test_a_here_document_is_no_value_whatever_its_size() -> None:
    """A body over 128 KiB was refused as a value too long for execve."""
    body = ("x" * 1023 + "\n") * 300
    script = f": <<EOF\n{body}${{A:=set}}\nEOF\nexport A\n"
    assert environment(on_host(script)) == by_dash(script)
    assert environment(on_host(script))["A"] == b"set"


@pytest.mark.parametrize(
    "value",
    ["-D KEEP?", "-DK* -f x", "-D .h*", "dir/*.conf", "-D NOMATCH?", "[K]EEPX", "*/a.conf",
     "-D [!K]*", "dir/*/x", ".*", "KEEP[XY]", "-D 'KEEP?'", "/dir/*.conf",
     # A backslash escapes: no pattern left, an escaped dot, an escaped letter.
     "-D KEEP\\?", "-D \\.h*", "K\\EEP*", "d\\ir/*.conf", "dir/\\a.conf", "KEEP\\[XY]",
     "dir\\/*.conf"],
)  # fmt: skip
def test_service_arguments_are_matched_as_pathnames(tmp_path: Path, value: str) -> None:
    """apachectl expands ${APACHE_ARGUMENTS} unquoted from /: a field holding
    *, ? or [ becomes the names it matches (the word was kept as written)."""
    root = tmp_path / "root"
    (root / "dir").mkdir(parents=True)
    for name in ("KEEPX", "KEEPY", ".hidden", "dir/a.conf", "dir/b.conf", "Zed"):
        (root / name).write_text("")
    done = subprocess.run(
        [DASH, "-c", 'cd "$1"; for f in $0; do printf "%s\\0" "$f"; done',
         value.replace("/dir", f"{root}/dir") if value.startswith("/") else value, str(root)],
        capture_output=True, check=True,
    )  # fmt: skip
    expected = [
        os.fsdecode(field).replace(str(root), "") for field in done.stdout.split(b"\0")[:-1]
    ]
    assert expand_pathnames(split_fields(value), RootFS(root)) == expected
    assert expand_pathnames(split_fields(value), RootFS(root), noglob=True) == split_fields(value)


def debian_invocation(root: Path, appended: str) -> Invocation:
    """How Debian's stock tree, its envvars ending in ``appended``, starts httpd."""
    shutil.copytree(CORPUS / "debian-12-apache2.4", root, symlinks=True)
    envvars = root / "etc/apache2/envvars"
    envvars.write_text(envvars.read_text() + appended)
    return read_invocation(RootFS(root), "debian", (2, 4, 62), "/etc/apache2/envvars")


def test_facts_show_the_matched_define(tmp_path: Path) -> None:
    (tmp_path / "deb").mkdir()
    (tmp_path / "deb/KEEPX").write_text("")
    state = debian_invocation(tmp_path / "deb/tree", "export APACHE_ARGUMENTS='-D KEEP?'\n")
    assert "KEEP?" in state.defines  # no /KEEPX in this root


def test_parsing_alone_is_bounded() -> None:
    """16 MiB of function bodies and branches never run (case patterns: no
    command, no expansion) took 57 s. Each token parsed is charged."""
    line = "f() case x in " + "a|" * 2000 + "a) esac\n"
    text = line * (1024 * 1024 // len(line))
    started = time.process_time()
    with pytest.raises(ApacheConfigError, match="shell expansion"):
        run_script(". /f\n" * 16, ShellState(), "envvars", source=lambda path: (text, "f"))
    assert time.process_time() - started < 20


@pytest.mark.parametrize("name", ["export", "set", "unset", "local", "eval", "exec", "trap"])
def test_a_special_builtins_name_is_no_function_name_to_dash(name: str) -> None:
    script = f"{name}() {{ :; }}\nexport A=1\n"
    assert b"reached" not in sourced_by_dash(script).stdout
    with pytest.raises(ApacheConfigError, match="bad function name"):
        on_host(script)
    on_host(script, dash=False)  # bash takes it


@pytest.mark.parametrize(
    "script",
    [
        # A call to a defined function is not known: it is not the builtin.
        "true() { false; }\ntrue && export A=1\nexport B=1\n",
        "test() { false; }\ntest -n x && export A=1\n",
        "true() { false; }\n: | true && export A=1\n",
        "true() { false; }\nunset -f true\ntrue && export A=1\n",
        "true() { false; }\nunset true\ntrue && export A=1\n",
        # Redirections: set -C, an empty name, a trailing slash, a closed descriptor.
        "set -C\ntrue >/etc/hostname || export A=$?\n",
        "set -o noclobber\ntrue >|/dev/null && true >/dev/null && export A=1\n",
        'true <"" || export A=$?\nX=; true >$X || export B=$?\n',
        "true >/nonexistent-dir-of-tcpaudit/ || export A=$?\n",
        "true 2>&- >&2 || export A=$?\ntrue 0<&- <&0 || export B=$?\n",
        # A failing redirection: the assignments are not expanded.
        "A=${B:=1} true </nonexistent/x || export B\n",
        # A case over a value not known is not matched (it ran '*').
        "case $(uname) in Linux) ;; *) export A=other;; esac\n",
    ],
)
def test_functions_and_redirections_as_dash_runs_them(script: str) -> None:
    assert environment(on_host(script)) == by_dash(script), script


def test_redirections_through_links_and_new_directories(tmp_path: Path) -> None:
    (tmp_path / "dangling").symlink_to("/nonexistent-dir-of-tcpaudit/q")
    (tmp_path / "pointing").symlink_to(tmp_path / "new-file")
    script = (
        f"true >{tmp_path}/dangling || export A=$?\n"
        f"true >{tmp_path}/newdir/ || export B=$?\n"
        f"set -C; true >{tmp_path}/pointing && export C=1\n"
    )
    try:
        assert environment(on_host(script)) == by_dash(script), script
    finally:
        (tmp_path / "new-file").unlink(missing_ok=True)  # dash created it


def test_dot_finds_names_as_dash_finds_them(tmp_path: Path) -> None:
    """'. name' searches PATH, '. dir/name' reads from / (the service's
    working directory): both were notes."""
    (tmp_path / "found.sh").write_text("export A=1\n")
    relative = str(tmp_path / "found.sh").lstrip("/")
    for script in (f"PATH={tmp_path}:$PATH\n. found.sh\n", f". {relative}\n"):
        assert environment(on_host(script))["A"] == b"1" == by_dash(script)["A"]
    for script in (". nonexistent-name-of-tcpaudit\n", ". etc/nonexistent-name-of-tcpaudit\n"):
        assert b"reached" not in sourced_by_dash(script).stdout
        with pytest.raises(ApacheConfigError, match="stops here"):
            on_host(script)


@pytest.mark.parametrize(
    "script",
    [
        "for x in $(echo a); do export A=1; done && export B=1\n",
        'X=$(uname)\n[ "$X" = Linux ] && export A=1\n',
        "X=$$\ncase $X in *) export A=1;; esac\n",
    ],
)
def test_what_holds_a_value_not_known_is_not_known(script: str) -> None:
    """A test, case or for over a command substitution's value (or one
    assigned from it) was evaluated over an empty value, with no note on the
    conclusion: now it is not known, noted, and the list stops there."""
    state = on_host(script)
    assert "A" not in state.variables and "B" not in state.variables
    notes = " ".join(note.message for note in state.notes)
    assert "not known" in notes or "not evaluated" in notes


NOT_KNOWN = [
    # ':=' and ':?' on a value not known decide nothing (it assigned 'v').
    "X=$(echo hi); : ${X:=v}\ncase $X in v) export C=1;; esac\n",
    "X=$(echo hi); : ${X:?}\nexport A=1\n",
    # Names from a value not known: any variable may have changed.
    'export $(echo A=1)\n[ -n "$A" ] && export B=1\n',
    "A=5; unset $(echo A)\ncase $A in 5) export B=1;; esac\n",
    "export A$(echo B)=1\n",
    "A=1; set -$(echo a); B=2\n",
    # Redirection targets and '.' paths not known.
    'export A=1 >"$(echo /dev/null)"; export B=2\n',
    ". /etc/apache2/a$(echo b)\nexport A=1\n",
    # What a part not run may change (a function's body, a loop, a branch
    # over a condition not known, the rest of a list) is not known.
    "f() { A=1; }; f\ncase $A in 1) export B=1;; esac\n",
    "while true; do A=1; break; done\ncase $A in 1) export B=1;; esac\n",
    "for i in a; do X=$(echo x); done\ncase $X in '') export A=1;; esac\n",
    'if [ "$(echo x)" ]; then A=1; fi\ncase $A in 1) export B=1;; esac\n',
    'if [ "$(echo x)" ]; then true() { return 1; }; fi\ntrue && export A=1\n',
    '[ "$(echo x)" ] && A=1\ncase $A in 1) export B=1;; esac\n',
    "read A <<END\n1\nEND\ncase $A in 1) export B=1;; esac\n",
    "eval A=1\ncase $A in 1) export B=1;; esac\n",
    "command export A=1\ncase $A in 1) export B=1;; esac\n",
    "cd /tmp\ncase $PWD in /) export B=1;; esac\n",
    # A part not run may end the file or the shell (what follows may not run).
    'if [ "$(echo x)" ]; then return; fi\nA=1\n',
    '[ "$(echo x)" ] && return\nA=1\n',
    "while true; do return; done\nA=1\n",
    'if [ "$(echo x)" ]; then exit; fi\nA=1\n',
    'if [ "$(echo x)" ]; then local A; fi\nB=1\n',
    'if [ "$(echo x)" ]; then : >/nonexistent/x; fi\nB=1\n',
    'set -e\nif [ "$(echo x)" ]; then false; fi\nA=1\n',
    # Arithmetic assigns; case patterns are expanded when reached.
    ": $((A=5))\n",
    'if [ "$(echo x)" ]; then : $((B=2)); fi\nA=$B\n',
    "case $(echo x) in a) ;; ${A=1}) ;; esac\n",
    'if [ "$(echo x)" ]; then case y in ${A=1}) ;; esac; fi\n',
    # A part not run that may stop the shell: ${Z?}, set -u, a count, a
    # read-only name (known or perhaps); and run parts that may.
    'if [ "$(echo x)" ]; then : ${Z?}; fi\nexport A=1\n',
    'set -u\nif [ "$(echo x)" ]; then echo $Z; fi\nexport A=1\n',
    'if [ "$(echo x)" ]; then shift 5; fi\nexport A=1\n',
    'readonly R=1\nif [ "$(echo x)" ]; then R=2; fi\nexport A=1\n',
    '[ "$(echo x)" ] && readonly B\nexport B=2\nexport A=1\n',
    '[ "$(echo x)" ] && readonly B\n: ${B:=4}\nexport A=1\n',
    '[ "$(echo x)" ] && readonly B\nunset B\nexport A=1\n',
    "shift 5\nexport A=1\n",
    # set -e over a status not known (a pipeline's block): the shell may stop.
    "set -e\ntrue | { true && false; }\nexport A=1\n",
    ": $((1/0))\nexport A=1\n",
    # '.' of what exists but is no regular file: dash goes on.
    ". /dev/null\nexport A=1\n",
    ". /etc\nexport A=1\n",
    # IFS, HOME and PATH not known: splitting, ~ and the search of '.' are not.
    'X=a:b; [ "$(echo x)" ] && IFS=:\nif [ $X = a:b ]; then export A=1; else export A=2; fi\n',
    'HOME=/h; [ "$(echo x)" ] && HOME=/other\nexport A=~/x\n',
    'HOME=/h; [ "$(echo x)" ] && unset HOME\nexport A=~/x\n',
    # A secret-named variable holds a placeholder: what depends on it is not known.
    'DB_PASSWORD=hunter2\nif [ "$DB_PASSWORD" = hunter2 ]; then export A=1; else export A=2; fi\n',
    "DB_PASSWORD=hunter2\ncase $DB_PASSWORD in h*) export A=1;; *) export A=2;; esac\n",
    "DB_PASSWORD=hunter2\nexport A=${#DB_PASSWORD} B=$DB_PASSWORD\n",
    # Assignments alone take their last command substitution's status.
    "X=$(false); export A=$?\n",
    "X=$(exit 3); export A=$?\n",
    "X=$(false) && export A=1\n",
    "X=$(false) || export A=1\n",
    "if X=$(false); then export A=1; else export A=2; fi\n",
    "X=$(true)`false`; export A=$?\n",
    "set -e; X=$(false); export A=1\n",
    # A redirection whose opening is not known leaves the status not known.
    "true <&5 && export A=1 || export A=2\n",
    "true <~root/x && export A=1 || export A=2\n",
    "true </dev/fd/5 && export A=1 || export A=2\n",
    "true <&5; export A=$?\n",
    # A compound command whose redirections may not open; dash's descriptor
    # is one digit (10>x is the word 10, then >x).
    'export A=0; { export A=1; } >"$(echo /dev/null)"\n',
    "if true; then export A=1; fi <&5\n",
    "A=1 10>/dev/null; export A\n",
    "test 10 -eq 10 11>/dev/null && export A=1\n",
    # ?, :?, := and set -u over a value not known may stop dash.
    "X=$(true)\n: ${X:?}\nexport A=1\n",
    'Y=1\nif [ -n "$(echo)" ]; then :; else unset Y; fi\nset -u\n: $Y\nexport A=1\n',
    "DB_PASSWORD=\n: ${DB_PASSWORD:?}\nexport A=1\n",
    "readonly DB_PASSWORD=\nexport B=${DB_PASSWORD:=dflt}\nexport A=1\n",
    # ${X:-word} and ${X:+word} over a value not known: whether the word
    # (and what it assigns or stops on) is expanded is not known.
    "B=$(echo hi); export A=${B:-${C:=3}}; export C\n",
    "B=$(echo hi); export A=${B:+${C:=3}}; export C\n",
    "export A=${PPID:+${C:=3}}; export C\n",
    "B=$(echo hi); : ${B:+${C:?}}; export X=1\n",
    "B=$(echo hi); : ${B:+${C=$(true)}}; export C\n",
    # A command named by an expansion: exit, return, break, continue.
    "E=exit; $E; export A=1\n",
    "E=ex; ${E}it 0; export A=1\n",
    "B=break; for i in 1 2; do export A=$i; $B; done\n",
    "C=continue; for i in 1 2; do $C; export A=$i; done\n",
    # printf, umask and ulimit may fail; echo to a closed output fails.
    'printf "%d" x || export A=1\n',
    "printf || export A=1\n",
    "umask 0778 || export A=1\n",
    "umask u=rwx,g=Q || export A=1\n",
    "ulimit -n x || export A=1\n",
    "echo hi >&- || export A=1\n",
    "umask 022 && export A=1\n",
    # A command word that expands to nothing: the next word is the command.
    "E=\n$E exit 1\nexport A=1\n",
    "E=; A=0; $E export A=1; export A\n",
    "E=; $E return; export A=1\n",
    # Under set -u, any $ in the word of ${U:+...} over a value not known.
    "U=$(echo x); set -u; export A=${U:+$Y}; export B=2\n",
    "U=$(echo x); set -u; export A=${U:-$Y}; export B=2\n",
    # shift fails, and stops dash, when no parameter is left.
    "set --; shift; export A=1\n",
    "shift; shift; shift; shift; export A=1\n",
]

# For loops over known words run, as dash runs them (break, continue, globs).
FOR_LOOPS = [
    "for f in a b; do export A=$f; done\n",
    "for f in a b c; do [ $f = b ] && continue; export A=$A$f; done\n",
    "for f in a b c; do [ $f = b ] && break; export A=$f; done; export B=$?\n",
    'X=\'x y\'; for f in $X "$X"; do export A="$A[$f]"; done\n',
    "for f in; do export A=1; done; export B=$?\n",
    "break; continue; export A=1\n",
    # Literal text is not split; patterns from an expansion are matched.
    'for i in a\\ b "c d"; do A="$A|$i"; done; export A\n',
    'IFS=:; for i in a:b c; do A="$A|$i"; done; export A\n',
    "IFS=o; : ${B:=foo}; for i in foo; do C=$C.$i; done; export C\n",
    # The status after break or continue is theirs (0).
    "for i in a b; do if [ $i = b ]; then break; fi; false; done; export A=$?\n",
    "for i in a b; do false; [ $i = b ] && continue; done; export A=$?\n",
]


@pytest.mark.parametrize("script", FOR_LOOPS)
def test_for_loops_over_known_words_run_as_dash_runs_them(script: str) -> None:
    assert environment(on_host(script)) == by_dash(script), script


def test_loop_patterns_match_as_dashs(tmp_path: Path) -> None:
    """A final / matches directories only; slashes stay as written; a
    pattern from an expansion is matched; break in a sourced file ends the
    loop around the '.'."""
    (tmp_path / "d/sub").mkdir(parents=True)
    for name in ("a", "b", "a b"):
        (tmp_path / "d" / name).write_text("")
    (tmp_path / "stop.sh").write_text("export B=in\nbreak\nexport B=after\n")
    root = str(tmp_path)
    scripts = [
        f'for f in {root}/d/*/ {root}/d/a*/; do X="$X|$f"; done; export X\n',
        f'for f in {root}//d/s*b; do X="$X|$f"; done; export X\n',
        f'P="{root}/d/?"; for f in $P; do X="$X|$f"; done; export X\n',
        f'for f in {root}/d/a\\ *; do X="$X|$f"; done; export X\n',
        f"for i in a b; do . {root}/stop.sh; export A=$A$i; done\n",
    ]
    for script in scripts:
        assert environment(on_host(script)) == by_dash(script), script


def test_quoted_pattern_characters_match_themselves(tmp_path: Path) -> None:
    """A quoted or escaped *, ? or [ in a loop's word matches itself; a
    backslash from an unquoted expansion escapes what follows; an escaped
    dot matches a dot file (they were all taken as pattern characters)."""
    for name in ("a*", "ab", "a\\b", ".hid", "a?"):
        (tmp_path / name).write_text("")
    d = str(tmp_path)
    words = [
        f"{d}/'a*'", f"{d}/a\\*", f'{d}/"a"?', f"{d}/a\\\\*", f"{d}/a[\\\\]b",
        f"{d}/\\.h*", f"'{d}/a'*", f"{d}/'['a]*", f"{d}/a\\?",
    ]  # fmt: skip
    values = [f"{d}/a\\*", f"{d}/\\.h*", f"{d}/a\\b*", f"{d}/a\\?", f"{d}/\\a*", f"{d}\\/a*"]
    scripts = [f'for f in {word}; do X="$X|$f"; done; export X\n' for word in words]
    scripts += [
        f"P='{value}'\n" + 'for f in $P; do X="$X|$f"; done; export X\n' for value in values
    ]
    scripts += [f'B={d}/a; for f in "$B"*; do X="$X|$f"; done; export X\n']
    for script in scripts:
        assert environment(on_host(script)) == by_dash(script), script
    # Quoted pieces beside an unquoted expansion are neither split nor matched.
    for script in (
        f'Y=b; for f in {d}/"a*"$Y {d}/"a?"$Y {d}/"a "$Y; do X="$X|$f"; done; export X\n',
        f'Y="a b"; for f in {d}/$Y"$Y" ${{Q:-"{d}/a b"}} ${{Q:-{d}/"*"}}; do X="$X|$f"; done\n'
        "export X\n",
    ):
        assert environment(on_host(script)) == by_dash(script), script


# Fields: only what an unquoted expansion gave is split; a quoted part is not.
FIELDS = [
    'X=a; export A$X"=1 B=2"\n',
    'X=A; export $X"=a b"\n',
    'X=; readonly $X"A=x y"; export A\n',
    'X=1; for f in ${X}"a b" "a b"$X $X\'a b\'; do C="$C|$f"; done; export C\n',
    'X=" 1 "; for f in "a b"$X"c d"; do C="$C|$f"; done; export C\n',
    'X="a "; Y=", b"; IFS=", "; for f in $X$Y x$Y $X""; do C="$C|$f"; done; export C\n',
    'for f in ${Q-a b} ${Q-"a b"c d} ${Q:+x} ${Q:-"*"}; do C="$C|$f"; done; export C\n',
]


@pytest.mark.parametrize("script", FIELDS)
def test_only_what_an_expansion_gave_is_split(script: str) -> None:
    assert environment(on_host(script)) == by_dash(script), script


# Patterns keep the quoting of a nested ${X:-word}; an unset name's trim
# pattern is not expanded; tildes after ':' in assignments, in ${...} words,
# trims and case patterns are HOME.
EXPANDED = [
    'case a in ${B:-"*"}) export X=1;; esac\n',
    "case a in ${B:-'*'}) export X=1;; esac; case a in ${B-\\*}) export C=1;; esac\n",
    "A='*bc'; export X=${A#${B:-\\*}} C=${A#${B:-'*'}}\n",
    "export X=${A#${B?}} C=${A%%${B:?}}\n",
    "export X=${A#${}}\n",
    "export X=${A#${B=foo}} B\n",
    "export X=${A#${B:=foo}} B\n",
    "HOME=/h; export X=a:~/b:~ C=a:~:b\n",
    "HOME=/h; export X=${A:-~/y}\n",
    "HOME=/h; : ${X:=~}; export X\n",
    "HOME=/h; export X=${A-a:~}\n",
    "HOME=/h; A=/h/x; export X=${A#~/}\n",
    "HOME=/h; case /h in ~) export X=1;; esac\n",
    "HOME=/h; X=~:~/a; export X; C=x~:~; export C\n",
]


@pytest.mark.parametrize("script", EXPANDED)
def test_patterns_trims_and_tildes_expand_as_dashs(script: str) -> None:
    assert environment(on_host(script)) == by_dash(script), script


def test_dot_reads_the_first_field_its_pattern_matches(tmp_path: Path) -> None:
    """'. /dir/*.sh' was opened as written (and stopped): dash expands it and
    reads the first match."""
    (tmp_path / "a.sh").write_text("export A=1\n")
    (tmp_path / "b.sh").write_text("export B=1\n")
    for script in (
        f". {tmp_path}/*.sh\nexport C=1\n",
        f". {tmp_path}/[b].sh\nexport C=1\n",
        f"P='{tmp_path}/b.sh {tmp_path}/a.sh'; . $P\nexport C=1\n",
    ):
        state = on_host(script)
        assert state.opaque is None and environment(state) == by_dash(script), script


def test_relative_paths_after_a_cd_are_not_known(tmp_path: Path) -> None:
    """After a cd tcpaudit does not evaluate, a relative '.' or redirection
    was opened from / and taken to stop dash, which went on."""
    (tmp_path / "a.sh").write_text("export A=1\n")
    for script in (
        f"cd {tmp_path}\n. ./a.sh\nexport C=1\n",
        f"cd {tmp_path}; export X=1 <a.sh; export C=1\n",
        f"cd {tmp_path}; : <./a.sh\nexport C=1\n",
    ):
        assert b"reached" in sourced_by_dash(script).stdout
        state = on_host(script)  # no stop
        assert state.opaque is not None, script


@pytest.mark.parametrize(
    "expansion",
    ["${A,,}", "${A@Q}", "${A:0}", "${A: -1}", "${A//b}", "${!A*}", '"${A/a/q}"', "${#A:-1}",
     "${}", "${ A}", "${A.b}"],
)  # fmt: skip
def test_a_bad_substitution_stops_dash_and_tcpaudit(expansion: str) -> None:
    script = f"A=abc; export B={expansion}; export C=1\n"
    assert b"reached" not in sourced_by_dash(script).stdout
    with pytest.raises(ApacheConfigError, match="bad substitution"):
        on_host(script)


@pytest.mark.parametrize("expansion", ["${10}", "${11:-z}", "${#@}", "${A%}", "${-}", "${!}"])
def test_what_dash_expands_is_no_bad_substitution(expansion: str) -> None:
    script = f"A=abc; export B={expansion}; export C=1\n"
    assert b"reached" in sourced_by_dash(script).stdout
    assert environment(on_host(script))["C"] == b"1"


@pytest.mark.parametrize("body", ["${C?boom}", "${C:?}", "${A:0}", "${#C:-1}"])
def test_what_fails_in_a_here_document_stops_only_its_child(body: str) -> None:
    """dash expands a here-document in a child: what stops there does not
    stop the shell (tcpaudit stopped, refusing a tree the service starts)."""
    script = f"cat <<EOF >/dev/null\n{body}\nEOF\nexport A=1\n"
    assert b"reached" in sourced_by_dash(script).stdout
    state = on_host(script)
    notes = " ".join(note.message for note in state.notes)
    assert state.opaque is not None and "in a here-document" in notes


@pytest.mark.parametrize(
    "script",
    [
        "export A=1; export A=2 2>&- >/dev/stderr\n",
        "export A=1; export A=2 >&- >/dev/stdout\n",
        "export A=0; { export A=1 >&2; } 2>&-\n",
        "export A=0; { export A=1 >/dev/fd/2; } 2>&-\n",
        "export A=1 10>/dev/null; export B=2\n",
        "X=1; unset X 10>/dev/null\nexport B=2\n",
    ],
)
def test_what_dash_cannot_open_stops_it_or_is_not_known(script: str) -> None:
    """/dev/std* are descriptors 0-2, closed when a redirection closed them
    (around a block too); 10>x is no redirection to dash. Each stops dash."""
    assert b"reached" not in sourced_by_dash(script).stdout
    try:
        state = on_host(script)
    except ApacheConfigError:
        return
    assert state.opaque is not None, script


def test_notes_and_errors_show_no_credential() -> None:
    """Notes and error lines showed words shaped like credentials, and the
    value of a secret-named variable written out again."""
    for script in (
        "DB_PASSWORD:hunter2hunter2Z\n",
        '"Bearer abcdefghijklmnop12345" arg\n',
        ": >/nonexist/Authorization:\\ Bearer\\ abcdefghijklmnop12345\n",
        ": >/nonexist/user:Pa55word1234567@db\n",
        ': > "/nonexistent/x-api-key: QQhdrQQ"\n',
        ': > "/nonexistent/X-Session: QQsesQQ"\n',
        '"api-key QQapikeyvalQQ" x\n',
        '"PrivateToken QQprivtokQQ" x\n',
        '. "api-key QQpathQQ"\n',
    ):
        try:
            shown = " ".join(note.message for note in on_host(script).notes)
        except ApacheConfigError as error:
            shown = str(error)
        for secret in ("hunter2hunter2Z", "abcdefghijklmnop12345", "Pa55word1234567", "QQ"):
            assert secret not in shown, (script, shown)


@pytest.mark.parametrize(
    ("script", "shell"),
    [
        ("export HOSTNAME UID SHELLOPTS PPID OSTYPE\n", "bash"),
        ("UID=5\nexport UID\n", "bash"),
        ("export PPID\n", "dash"),
        ("export RANDOM=4 FUNCNAME=4 LINENO=7 GROUPS=1\n", "bash"),
        ("export BASH_VERSINFO=4; export A=1\n", "bash"),
        ("RANDOM=4; export A=$RANDOM\n", "bash"),
        ("REPLY=x; read </etc/hostname; export REPLY\n", "bash"),
        ("A=1; wait -p A; export A\n", "bash"),
        ("A=0; X=printf; $X -v A %s new; export A\n", "bash"),
        ("A=0; V=-v; printf $V A x; export A\n", "bash"),
        ("A=0; wait -np A; export A\n", "bash"),
        ("REPLY=x; read -p prompt </dev/null; export REPLY\n", "bash"),
        ("readonly B\nB=2\nexport C=1\n", "bash"),
        ("readonly B=\n: ${B:=x}\nexport C=1\n", "bash"),
    ],
)
def test_the_shells_own_variables_are_not_claimed(script: str, shell: str) -> None:
    """Exported without being read, they were taken as unset; bash's read-only
    UID was taken as assigned."""
    state = on_host(script, dash=shell == "dash")
    theirs = by_dash(script) if shell == "dash" else by_dash(script, shell="bash")
    assert_known_values_are_theirs(state, theirs, script)


def test_source_return_and_tests_as_dash_runs_them(tmp_path: Path) -> None:
    """dash has no 'source' (a command not found); 'return N' gives N (an
    illegal number ends dash); test's words are matched as pathnames."""
    (tmp_path / "inc.sh").write_text("export PASSW=1\n")
    (tmp_path / "r1.sh").write_text("export X=1; return 3; export Y=1\n")
    (tmp_path / "r0.sh").write_text("return 0\n")
    for name in ("a1", "a2", ".h"):
        (tmp_path / name).write_text("")
    d = str(tmp_path)
    for script in (
        f"source {d}/inc.sh; export A=1\n",
        "source /nonexistent; export A=1\n",
        f". {d}/r1.sh; export A=$?\n",
        f". {d}/r1.sh || export B=1\n",
        f"if . {d}/r0.sh; then export B=1; fi\n",
        f"[ {d}/a* ] && export A=1\n",
        f"[ -f {d}/a* ]; export A=$?\n",
        f"X={d}/a*; [ $X ]; export A=$?\n",
        f"[ -f {d}/a1* ]; export A=$?\n",
    ):
        assert_known_values_are_theirs(on_host(script), by_dash(script), script)
    (tmp_path / "rx.sh").write_text("return x\n")
    (tmp_path / "rsup.sh").write_text("return \u00b2\n")
    (tmp_path / "rarab.sh").write_text("return \u0661\n")
    (tmp_path / "rbig.sh").write_text("return 2147483648\n")
    (tmp_path / "rhuge.sh").write_text("return " + "9" * 5000 + "\n")
    (tmp_path / "rplus.sh").write_text("return +1\n")
    (tmp_path / "r12.sh").write_text("return 1000000000002\n")
    script = f". {d}/r12.sh && export A=1; export B=$?\n"
    state, theirs = on_host(script, dash=False), by_dash(script, shell="bash")
    assert_known_values_are_theirs(state, theirs, script, ("A", "B"))
    for body, status in (
        ("return -0", b"0"), ('return " 1"', b"1"), ("return 1 2", b"1"), ("return 0\r", b"0"),
        ('return "\v1\f"', b"1"),
    ):  # fmt: skip
        (tmp_path / "rn.sh").write_text(body + "\n")
        script = f". {d}/rn.sh; export A=$?\n"
        assert environment(on_host(script))["A"] == by_dash(script)["A"] == status, body
    plus = f". {d}/rplus.sh; export A=$?\n"
    assert environment(on_host(plus))["A"] == by_dash(plus)["A"] == b"1"
    for script in (
        f"set -e; . {d}/r1.sh; export A=$?\n",
        *(f". {d}/r{name}.sh; export A=1\n" for name in ("x", "sup", "arab", "big", "huge")),
    ):
        assert b"reached" not in sourced_by_dash(script).stdout
        with contextlib.suppress(ApacheConfigError):  # stopping too is right
            assert on_host(script).opaque is not None, script


def test_a_failing_end_under_set_e_stops_apachectl(tmp_path: Path) -> None:
    """apache2ctl sources envvars in an if's body: the file's failing status
    under the set -e it turned on ends apachectl (tcpaudit went on)."""
    appended = "set -e\n[ -f /etc/apache2/nope ] && . /etc/apache2/nope\n"
    (tmp_path / "envvars").write_text(appended)
    done = subprocess.run(
        [DASH, "-c", f"if test -f {tmp_path}/envvars; then . {tmp_path}/envvars; fi; echo reached"],
        capture_output=True, check=False,
    )  # fmt: skip
    assert b"reached" not in done.stdout
    with pytest.raises(ApacheConfigError, match="failing status, under set -e") as raised:
        debian_invocation(tmp_path / "deb", appended)
    assert raised.value.line is not None  # the file's last line


def test_a_secret_value_written_out_again_is_hidden(tmp_path: Path) -> None:
    with pytest.raises(ApacheConfigError) as raised:
        debian_invocation(
            tmp_path / "deb",
            "export DB_PASSWORD=Sup3rS3cretValue99\n: >/nonexist/Sup3rS3cretValue99\n",
        )
    assert "Sup3rS3cretValue99" not in str(raised.value) and "nonexist" in str(raised.value)


def test_bash_gives_status_1_to_a_failed_redirection() -> None:
    script = "true >/nonexistent/x; export C=$?\nexport B=2 >/nonexistent/x; export A=$?\n"
    assert environment(on_host(script, dash=False)) == by_dash(script, shell="bash")
    assert environment(on_host(script, dash=False))["C"] == b"1"
    script = "true >/nonexistent/x; export C=$?\n"
    assert environment(on_host(script))["C"] == b"2" == by_dash(script)["C"]


def test_a_loops_work_is_bounded() -> None:
    """A loop of 9,000 words over a body of 3,000 commands ran for minutes:
    each command run is charged."""
    body = ":\n" * 3000
    script = "for i in " + "w " * 9000 + "; do\n" + body + "done\n"
    started = time.process_time()
    with pytest.raises(ApacheConfigError, match="shell expansion"):
        run_script(script, ShellState(), "envvars")
    assert time.process_time() - started < 20


def test_a_for_loop_sources_what_its_pattern_matches(tmp_path: Path) -> None:
    """for f in $DIR/envvars.d/*: the loop ran nothing (a note) and '. $f'
    made every value not known; now the pattern is matched in the root."""
    (tmp_path / "d").mkdir()
    (tmp_path / "d/10-a.sh").write_text("export A=${A}a\n")
    (tmp_path / "d/20-b.sh").write_text("export A=${A}b\nexport B=1\n")
    (tmp_path / "d/.hidden.sh").write_text("export C=1\n")
    script = f'for f in {tmp_path}/d/*.sh; do . "$f"; done\n'
    state = on_host(script)
    assert state.opaque is None and environment(state) == by_dash(script)
    assert environment(state)["A"] == b"ab"


# Whether a name is exported or read only, set by a part not run.
NOT_KNOWN_EXPORTS = [
    'if [ "$(echo x)" ]; then export A; fi\nA=1\n',
    '[ "$(echo x)" ] && export A\nA=1\n',
    'export A=0; if [ "$(echo x)" ]; then unset A; fi\nA=1\n',
    'if [ "$(echo x)" ]; then readonly A; fi\nA=1\nexport B=1\n',
]

# bash sources RHEL's, SUSE's and Gentoo's files: its own forms assign too.
NOT_KNOWN_BASH = [
    "export A=0\nA+=1\n",
    "export A=0\n((A=5))\n",
    "export A=x\nexport -n A\n",
    "export A=1 B=2\nunset -n B\n",
    "printf -v A %s 1\nexport A\n",
    "export A=$'\\x41'\n",
    'trap "A=9" DEBUG\nexport A=1\nexport B=$A\n',
    "export A=1; A[0]=2\n",
    # An array assignment whose subscript is expanded or quoted, or after
    # another assignment, makes an array of A all the same.
    "export A=5\ni=0\nA[$i]=3\n",
    'export A=5\nB=1 A["x"]=2\n',
    "export A=5\nA['0']+=1\n",
    # bash leaves a file at a syntax error and goes on; what dash's grammar
    # refuses may be bash's own syntax, which it runs.
    "export B=1\nfoo (\nexport C=1\n",
    "export B=1\nif true; then\n",
    "function f { :; }; export A=1\n",
    "export A=1\nfunction f { :; }\nexport A=2\n",
    "A=(a b); export A B=1\n",
    "export A=1; source <(echo export A=2)\n",
    "for ((i=0;i<2;i++)); do export A=$i; done\n",
    "case a in a) export A=1;& b) export A=2;; esac\n",
    # Brace expansion, $"..." and bash's own pathname rules.
    "export A={a,b}\n",
    'for i in {1..3}; do export A="$A$i"; done\n',
    "for f in /e{t,x}c; do export A=$f; done\n",
    "export B=x{y,z} C={1..2}\n",
    'export A=$"hi"\n',
    "GLOBIGNORE=/etc; for f in /e*; do export A=$f; done\n",
    "for f in /.*; do export A=$f; done\n",
    # $'...' inside ${...} and patterns, single quotes in "${X-'...'}", $[...],
    # collating symbols, &>, bash's own variables.
    "export A=${X-$'a\\tb'}\n",
    ": ${A:=$'q'}\nexport A\n",
    "X=abc; export A=${X#$'a'}\n",
    "case x in $'x') export A=1;; *) export A=2;; esac\n",
    'export A="${X:-\'}"; export C=1\n',
    "export A=\"${X-'}'}\"\n",
    "export A=$[1+1]\n",
    "for f in /e[[.t.]]c; do export A=$f; done\n",
    "export A=1 &>/dev/null\n",
    "A=1 &>/dev/null; export A\n",
    'export A="$BASH_VERSION" B=$BASH C=$HOSTNAME X=$UID\n',
    "[ a == a ] && export A=1\n",
    "export X=$TERM A=$SHELL\n",
    "case b in [^a]) export A=1;; esac\n",
    "case a in [^a]) export A=1;; esac\n",
    "A=bab; export X=${A#[^a]}\n",
    # A read-only name before a command; targets split and matched; >&word;
    # assignments before redirections; errors bash skips; {name}>.
    "readonly B=1; B=2 true; export A=$?\n",
    "true < /etc/hostnam?; export A=$?\n",
    "P=/etc/hostname; IFS=.; true < $P; export A=$?\n",
    "true >&/nonexistent/x; export A=$?\n",
    "A=/tmp; A=/nonexistent >$A/x; export B=$?\n",
    "A=/nonexistent; A=/tmp 2>$A/x; export B=$? A\n",
    "A=x <<EOF\n${B:=$A}\nEOF\nexport B\n",
    "export /x; export A=$?\n",
    "readonly 1a; export A=$?\n",
    "export A=1 1b C=2; export X=$?\n",
    "readonly B=1; unset B; export A=$?\n",
    "readonly B=1; export B=2\n",
    "true {X}>/dev/null; export A=$? X\n",
    "F=/dev/null; { export A=1; } >$F\n",
    "for x in 1; do export A=$x; done >/dev/nul*\n",
    # Assignments before a special builtin are the builtin's own in bash;
    # a forked command's redirections are expanded in the child.
    "export A=1\nA=2 :\nexport B=$A\n",
    "cat </dev/null >${A=/dev/null}\nexport A\n",
    "cat <<EOF >/dev/null\n${A=1}\nEOF\nexport A\n",
    "export -p A=1\n",
    'export B=1\n[ "$(echo x)" ] && printf -v B %s 2\n',
]


def assert_claims_hold(script: str, *, dash: bool = True) -> None:
    state = on_host(script, dash=dash)
    theirs = by_dash(script) if dash else by_dash(script, shell="bash")
    ours = environment(state)
    assert_known_values_are_theirs(state, theirs, script, ("A", "B", "C", "X"))
    notes = " ".join(note.message for note in state.notes)
    assert "not known" in notes or "not evaluated" in notes or ours == theirs, script


@pytest.mark.parametrize("script", NOT_KNOWN_EXPORTS)
def test_exported_and_read_only_by_a_part_not_run_are_not_known(script: str) -> None:
    assert_claims_hold(script)


@pytest.mark.parametrize("script", NOT_KNOWN_BASH)
def test_what_bash_assigns_its_own_way_is_not_claimed(script: str) -> None:
    assert_claims_hold(script, dash=False)


@pytest.mark.parametrize("script", NOT_KNOWN)
def test_what_tcpaudit_claims_known_is_what_dash_leaves(script: str) -> None:
    """A value tcpaudit keeps as known must be dash's: each of these took a
    guess (an empty value, a branch not run) for a known value. Now what
    depends on something not evaluated is not known, and a note says so."""
    assert_claims_hold(script + "export A B C X\n")


def test_arguments_from_a_value_not_known_are_said_to_be(tmp_path: Path) -> None:
    invocation = debian_invocation(
        tmp_path / "deb", 'X=$(cat /etc/apache2/ssl-on)\nAPACHE_ARGUMENTS="-D SSL_$X"\n'
    )
    assert any("APACHE_ARGUMENTS holds a value" in note.message for note in invocation.notes)


def test_apachectls_own_arguments_are_not_known_not_unset() -> None:
    """apachectl sources envvars with its arguments set ($1 is "start"): set -u
    and ${1:?} stopped tcpaudit where the service goes on."""
    script = "set -u\n: ${1:?} $1\nexport A=1\n"
    done = subprocess.run(
        [DASH, "-c", '. /dev/stdin; echo "A=$A"', "apache2ctl", "start"],
        input=script.encode(), capture_output=True, check=False,
    )  # fmt: skip
    assert done.stdout == b"A=1\n"
    assert on_host(script).variables["A"] == "1"


def test_a_here_documents_expansion_is_bounded_as_it_grows() -> None:
    """A body of 12,000 expansions of a 128 KiB value was built whole (1.5 GiB)
    before its size was charged."""
    script = "X=" + "x" * 131_000 + "\n: <<E\n" + "$X" * 12_000 + "\nE\n"
    tracemalloc.start()
    try:
        with pytest.raises(ApacheConfigError, match="shell expansion"):
            run_script(script, ShellState(), "envvars")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 256 * 1024 * 1024


def test_arithmetic_of_a_long_name_costs_linear_time() -> None:
    """Names in arithmetic were found by a regex that backtracked at every
    letter of a long run of them: 35,000 letters took 50 s."""
    started = time.process_time()
    run_script(": $((" + "A" * 200_000 + "))\n", ShellState(), "envvars")
    assert time.process_time() - started < 5


# A builtin writing to a closed output fails (status 1); redirections are
# made left to right, so a later one may open descriptor 1 again; and a
# builtin that writes nothing does not fail.
CLOSED_OUTPUT = [
    "umask >&- || export A=1\n",
    "umask >&- && export A=1\n",
    "umask -S >&- || export A=1\n",
    "export >&- || export A=1\n",
    "export -p >&- || export A=1\n",
    "set >&- && export A=1\n",
    "set -o >&- || export A=1\n",
    "export -p X >&- || export A=1\n",
    "readonly -p X >&- || export A=1\n",
    # Open for reading only, a write fails too; descriptor 0's mode is not known.
    "echo hi 1</dev/null || export A=1\n",
    "umask 1</dev/null || export A=1\n",
    "echo hi 1<<E || export A=1\nx\nE\n",
    "echo hi 1<&0 && export A=1\n",
    "echo hi >&0 && export A=1\n",
    "echo hi 1<>/dev/null || export A=1\n",
    "echo hi >&- >/dev/null || export A=1\n",
    "echo hi >&- 1>>/dev/null || export A=1\n",
    "echo hi >&- 1<>/dev/null || export A=1\n",
    "echo hi >&- >|/dev/null || export A=1\n",
    "echo hi 1>&- 1>&2 || export A=1\n",
    "echo hi 3>/dev/null 1>&- 1>&3 || export A=1\n",
    "echo hi 1>&2 1>&- || export A=1\n",
    "echo -n >&- || export A=1\n",
    "echo -n '' >&- || export A=1\n",
    "E=; echo -n $E >&- || export A=1\n",
    "echo '\\c' >&- || export A=1\n",
    "echo -n -n >&- || export A=1\n",
    "echo -nn >&- || export A=1\n",
    "echo -e -n >&- || export A=1\n",
    "echo -n a >&- || export A=1\n",
    "echo '' >&- || export A=1\n",
    "echo 'a\\c' >&- || export A=1\n",
    "true >&- && export A=1\n",
    "export B=1 >&- && export A=1\n",
    "set -e >&- && export A=1\n",
]


@pytest.mark.parametrize("dash", [True, False], ids=["dash", "bash"])
@pytest.mark.parametrize("script", CLOSED_OUTPUT)
def test_a_closed_output_fails_as_the_shells_writes_fail(script: str, dash: bool) -> None:
    assert_claims_hold(script + "export A B C X\n", dash=dash)


# umask takes any octal digits in dash; bash refuses a mask over 07777;
# what is not octal fails, with status 2 in dash.
UMASKS = [
    "umask 00000 && export A=1\n",
    "umask 0000022 && export A=1\n",
    "umask 01000 && export A=1\n",
    "umask 7777 && export A=1\n",
    "umask 77777 || export A=1\n",
    "umask 12345 || export A=1\n",
    "umask 8; export A=$?\n",
    "umask 99; export A=$?\n",
    "umask 0778; export A=$?\n",
]


@pytest.mark.parametrize("dash", [True, False], ids=["dash", "bash"])
@pytest.mark.parametrize("script", UMASKS)
def test_umask_succeeds_and_fails_as_the_shells(script: str, dash: bool) -> None:
    assert_a_is_known_as_theirs(script, dash=dash)


@pytest.mark.parametrize(
    "script",
    ["set -e\numask >&-\n", "set -e\necho -n x >&-\n", "set -e\numask 1</dev/null\n"],
)
def test_under_set_e_a_write_to_a_closed_output_stops_them(script: str) -> None:
    assert b"reached" not in sourced_by_dash(script).stdout
    with pytest.raises(ApacheConfigError, match="stops here"):
        on_host(script + "export A=1\n")


def test_under_set_e_a_closed_output_stops_apachectl(tmp_path: Path) -> None:
    script = 'set -e\nexport >&-\nexport APACHE_ARGUMENTS="-D EVIL"\n'
    done = subprocess.run(["bash", "-c", ". /dev/stdin; echo reached"], input=script.encode(),
                          capture_output=True, check=False)  # fmt: skip
    assert b"reached" not in done.stdout and b"reached" not in sourced_by_dash(script).stdout
    # tcpaudit may stop too, or go on knowing nothing of what follows.
    with contextlib.suppress(ApacheConfigError):
        invocation = debian_invocation(tmp_path / "deb", script)
        notes = " ".join(note.message for note in invocation.notes)
        assert "EVIL" not in invocation.defines or "APACHE_ARGUMENTS holds a value" in notes
        assert "may be closed" in notes


@pytest.mark.parametrize(
    ("script", "dash_stops"),
    [
        ("X=$(echo abc)\necho hi >&$X\n", True),
        ("echo hi >&$1\n", True),
        ("X=$(echo 1)\ntrue 2>&$X\n", False),
        ("X=$(echo abc)\n{ true; } >&$X\n", True),
    ],
)
def test_a_descriptor_from_a_value_not_known_may_stop_dash(script: str, dash_stops: bool) -> None:
    """dash stops on ">&WORD" when WORD is no number: from a value not known,
    nothing after it is known (a note alone left the values after it known)."""
    assert (b"reached" not in sourced_by_dash(script).stdout) is dash_stops
    state = on_host(script + "export A=1\n")
    assert state.opaque is not None


# Descriptor numbers are ASCII digits, one for dash's ">&"; a compound
# command's read-only output fails its writes; test's integers take C's
# blanks only (bash: spaces and tabs after the digits).
FIFTIETH = [
    "export A=1 >&01\nexport B=2\n",
    ": >&01; export A=$?\n",
    "X=01; export A=1 >&$X\n",
    "export A=1 2>&\u0661\n",
    ": >/dev/fd/\u0661; export A=$?\n",
    "{ echo hi && export A=1; } 1</dev/null\n",
    "set -e\n{ echo hi; } 1</dev/null\nexport A=1\n",
    "if true; then umask; fi 1</dev/null\nexport A=1\n",
    "{ echo hi; export A=$?; } 3</dev/null >&3\n",
    '[ "\x1c1" -eq 1 ] && export A=yes\n',
    '[ "\u00a01" -eq 1 ] && export A=yes\n',
    "[ '1\u2003' -eq 1 ]; export A=$?\n",
    '[ "1\r" -eq 1 ]; export A=$?\n',
    '[ "1\n" -eq 1 ]; export A=$?\n',
    '[ "\t1 " -eq 1 ]; export A=$?\n',
]


@pytest.mark.parametrize(
    ("script", "dash"),
    [(script, dash) for script in FIFTIETH for dash in (True, False)]
    # bash's ">&WORD" is "&>WORD": it would write a file named WORD in /.
    + [("echo hi >&\u00b2; export A=$?\n", True)],
)
def test_descriptors_blocks_and_numbers_as_the_shells_read_them(script: str, dash: bool) -> None:
    try:
        assert_claims_hold(script + "export A B C X\n", dash=dash)
    except ApacheConfigError as error:
        # A stop: the shell must stop there too.
        assert "stops here" in str(error)
        done = subprocess.run([DASH if dash else "bash", "-c", ". /dev/stdin; echo reached"],
                              input=script.encode(), capture_output=True, check=False)  # fmt: skip
        assert b"reached" not in done.stdout, script


# bash: "==" is the operator only as the middle of three words; a
# descriptor over 9 opens only below the service's limit on open files.
BASH_FIFTY_FIRST = [
    "if [ = == == ]; then export A=ssl; else export A=nossl; fi\n",
    "[ == == = ] && export A=yes || export A=no\n",
    'test "==" == "=" && export A=yes || export A=no\n',
    "[ ! == x ] && export A=yes || export A=no\n",
    "export A=1\nexport A=2 65536>/dev/null\n",
    "A=1; { A=2; } 65536>/dev/null; export A\n",
]


@pytest.mark.parametrize("script", BASH_FIFTY_FIRST)
def test_bash_operators_and_descriptors_as_bash_reads_them(script: str) -> None:
    assert_claims_hold(script + "export A B C X\n", dash=False)


# "!" before a test that fails as an error (status 2) leaves it an error;
# bash's "==" is "=" under "!" too.
NEGATED_ERRORS = [
    "[ ! 1 -eq x ]\nA=$?\n",
    '[ ! "" -eq 0 ]\nA=$?\n',
    "[ ! -eq -eq -eq ]\nA=$?\n",
    "[ ! -e -lt -z ]\nA=$?\n",
    "[ ! a == a ]\nA=$?\n",
    "[ ! ! a == a ]\nA=$?\n",
    "if test ! x -eq 1; then A=1; else A=2; fi\n",
    "if [ ! a = b ]; then A=1; else A=2; fi\n",
    "[ ! = a ]\nA=$?\n",
]


@pytest.mark.parametrize("dash", [True, False], ids=["dash", "bash"])
@pytest.mark.parametrize("script", NEGATED_ERRORS)
def test_negated_errors_stay_errors(script: str, dash: bool) -> None:
    assert_a_is_known_as_theirs(script, dash=dash)


@pytest.mark.parametrize(
    "token",
    [
        "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
        "AKIAIOSFODNN7EXAMPLE",
        "xoxb-1234567890-abcdefghij",
        "glpat-abcdefghij1234567890",
        "sk_live_abcdefghij1234567890",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.sig",
        "eyJhbGciOiJIUzI1NiJ9.e30.sig",
        "sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcdEFGH",
        "hf_AbCdEfGhIjKlMnOpQrStUvWxYz01234567",
        "glrt-AbCdEfGhIjKlMnOpQrSt",
        "ghp_AbCdEf0123456789",
    ],
)
def test_a_bare_token_of_a_known_kind_is_not_shown(token: str) -> None:
    """Notes and error lines showed such tokens: no scheme word came before them."""
    for stops in (f": >&{token}\n", f". /nonexistent/{token}\n"):
        with pytest.raises(ApacheConfigError) as caught:
            on_host(stops)
        assert token not in str(caught.value)
    state = on_host(f"{token} --flag\n")
    assert token not in " ".join(note.message for note in state.notes)


# dash's testcmd: with three or four words, "( ... )" is dropped and a
# leading "!" sets the negation (a second one does not flip it back).
DASH_TEST_FORMS = [
    'X=foo\nif [ ! ! -z "$X" ]; then A=yes; else A=no; fi\n',
    'X=foo\nif test ! ! -n "$X"; then A=yes; else A=no; fi\n',
    "[ ! ! ! x ]\nA=$?\n",
    "[ ! ! x ]\nA=$?\n",
    "if [ \\( == \\) ]; then A=yes; else A=no; fi\n",
    "[ ! \\( == \\) ]\nA=$?\n",
    "[ a == b ]\nA=$?\n",
    "[ \\( a \\) ]\nA=$?\n",
    "[ ! 1 == -o ]\nA=$?\n",
    'X=-n; if [ "$X" == -o ]; then A=yes; else A=no; fi\n',
]


@pytest.mark.parametrize("dash", [True, False], ids=["dash", "bash"])
@pytest.mark.parametrize("script", DASH_TEST_FORMS)
def test_three_and_four_word_tests_as_each_shell_reads_them(script: str, dash: bool) -> None:
    assert_claims_hold(script + "export A B C X\n", dash=dash)


def test_a_define_shaped_like_a_token_is_not_shown(tmp_path: Path) -> None:
    from tcpaudit.apache import load_apache

    root = tmp_path / "deb"
    debian_invocation(
        root, 'export APACHE_ARGUMENTS="-D ghp_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"\n'
    )
    config = load_apache(root=root)
    assert "ghp_AbCdEf" not in json.dumps(config.invocation.model_dump(mode="json"))


def test_bash_refuses_a_function_body_that_is_no_compound_command() -> None:
    """'f() echo hi' is dash's function and bash's syntax error: bash stops
    sourcing there (A stays unset)."""
    script = "f() echo hi\nA=1\nexport A\n"
    assert "A" not in by_dash(script, shell="bash")
    try:
        state = on_host(script, dash=False)
    except ApacheConfigError:
        return
    assert "A" not in state.variables or "A" in state.unknown or state.opaque is not None


def test_names_and_directives_shaped_like_tokens_are_not_shown(tmp_path: Path) -> None:
    from tcpaudit.apache import load_apache

    token = "ghp_Zq9Zq9Zq9Zq9Zq9Zq9Zq9Zq9Zq9Zq9Zq9Zq9"
    root = tmp_path / "deb"
    debian_invocation(root, (
        f"{token}=$(cat /x)\nexport {token}\nexport AKIAQWERTYUIOPASDFGH=1\n"
        f'IFS=,\nexport APACHE_ARGUMENTS="-C,SetEnv X {token}"\n'
    ))  # fmt: skip
    config = load_apache(root=root)
    shown = json.dumps(config.invocation.model_dump(mode="json")) + json.dumps(
        [note.message for note in config.notes]
    )
    assert token not in shown and "AKIAQWERTYUIOPASDFGH" not in shown


@pytest.mark.parametrize(
    "script",
    [
        'OPTIONS="-DSAFE"\nfunction f\nOPTIONS="-DUNSAFE"\nexport OPTIONS\n',
        "export A=1\ntime A=3\nexport A\n",
        "export A=1\ntime -p A=3\nexport A\n",
        "export A=1\nfunction f echo\nA=2\nexport A\n",
    ],
)
def test_bash_keywords_are_not_read_as_commands(script: str) -> None:
    state = on_host(script, dash=False)
    theirs = by_dash(script, shell="bash")
    assert_known_values_are_theirs(state, theirs, script, ("A", "OPTIONS"))
    assert state.opaque is not None or environment(state).get("A") == theirs.get("A")


def test_token_shaped_names_never_reach_an_error_or_a_note(tmp_path: Path) -> None:
    token = "ghp_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"
    for script in (f"readonly {token}=1\n{token}=2\n", f"echo ${{{token}?}}\n",
                   f"set -u\necho ${token}\n"):  # fmt: skip
        with pytest.raises(ApacheConfigError) as caught:
            debian_invocation(tmp_path / f"d{len(script)}", script)
        assert token not in str(caught.value)
    invocation = debian_invocation(tmp_path / "notes", f"{token}+=1\n")
    assert token not in " ".join(note.message for note in invocation.notes)


@pytest.mark.parametrize(
    "script",
    [
        "PS4='${A:=5}'\nset -x\n:\nset +x\nexport A\n",
        "set -x\nPS4='${A:=5}'\n:\nset +x\nexport A\n",
        "PS4='${A=5}'\nset -o xtrace\n:\nset +x\nexport A\n",
    ],
)
def test_set_x_expands_ps4_before_each_command(script: str) -> None:
    for dash in (True, False):
        assert_claims_hold(script + "export B C X\n", dash=dash)


def test_set_x_left_on_traces_the_service_scripts_next_commands(tmp_path: Path) -> None:
    script = "PS4='${APACHE_ARGUMENTS:=-DLEAKED}'\nset -x\n"
    done = subprocess.run([DASH, "-c", '. /dev/stdin; : ; echo "[$APACHE_ARGUMENTS]"'],
                          input=script.encode(), capture_output=True, check=False)  # fmt: skip
    assert b"[-DLEAKED]" in done.stdout
    invocation = debian_invocation(tmp_path / "deb", script)
    notes = " ".join(note.message for note in invocation.notes)
    assert "LEAKED" not in invocation.defines or "APACHE_ARGUMENTS holds a value" in notes
    assert "set -x is left on" in notes


def test_bash_decodes_ps4s_escapes_before_expanding_it() -> None:
    script = "PS4='\\044{A:=x}'\nset -x\nexport Z=1\nset +x\nexport A\n"
    assert by_dash(script, shell="bash").get("A") == b"x"
    assert_claims_hold(script + "export B C X\n", dash=False)
