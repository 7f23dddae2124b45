"""``-C`` directives read into lines as httpd reads them, against the real apache2.

httpd serves each directive as one line into a buffer that starts at 207
bytes and grows (command_line.py): a directive that fills it is cut and the
next one glued on, and the buffer's growth depends on what was allocated
since. Lists of Defines, comments, blank and continued directives and
conditionals, of lengths around each size the buffer takes, are read by
apache2 (its Defines listed by -D DUMP_RUN_CFG) and by tcpaudit.
"""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import pytest
from apache_harness import MODULE_DIR, map_tree, run_apache
from test_apache_invocation import DEBIAN, EVENT, _static, write

from tcpaudit.apache import load_apache
from tcpaudit.apache.command_line import command_lines
from tcpaudit.apache.tree import Directive
from tcpaudit.errors import ApacheConfigError

# Around each size the buffer takes: 207, 415 or 623, 831 or 1247 or 1871,
# then the allocator's blocks (8135, 16327).
LENGTHS = (1, 50, 199, 200, 205, 206, 207, 208, 209, 300, 414, 415, 416, 417, 830, 831,
           832, 1246, 1247, 1248, 1249, 2100, 6263, 6264, 6265, 9000, 16326, 16327, 16328)  # fmt: skip


def _directives(seed: int) -> list[str]:
    rng = random.Random(seed)
    directives = []
    for index in range(rng.randint(1, 6)):
        kind = rng.random()
        length = rng.choice(LENGTHS)
        if kind < 0.06:
            directives.append(rng.choice(["<IfModule mod_so.c>", "<IfDefine NOPE>"]))
        elif kind < 0.12:
            directives.append(rng.choice(["</IfModule>", "</IfDefine>"]))
        elif kind < 0.2:
            directives.append("#" + "c" * length)
        elif kind < 0.27:
            directives.append("")
        elif kind < 0.35:
            directives.append("Define " + "k" * length + "\\\n")
        elif kind < 0.45:
            directives.append("v" * length)
        else:
            value = f" value{index}" if rng.random() < 0.3 else ""
            directives.append(f"Define {'abcdefgh'[index]}{'x' * length}{value}")
    return directives


def _defines(nodes: list[Directive]) -> list[str]:
    found = []
    for node in nodes:
        if node.key == "define":
            found.append("=".join(node.args))
        if node.children:
            found += _defines(node.children)
    return found


@pytest.mark.parametrize("seed", range(20))
def test_command_line_uses_are_read_as_apache2_reads_them(tmp_path: Path, seed: int) -> None:
    rng = random.Random(1000 + seed)
    body = rng.choice(LENGTHS)
    macro = f"<Macro M $x>\nDefine U{'y' * body}$x\n</Macro>\n"
    directives = [MACRO, "Include m.conf"]
    for index, directive in enumerate(_directives(seed)):
        if rng.random() < 0.4:
            directives.append(f"Use M {index}")
        directives.append(directive)
    _same_defines(tmp_path, directives, {"/etc/apache2/m.conf": macro})


@pytest.mark.parametrize("seed", range(40))
def test_command_line_directives_are_read_as_apache2_reads_them(tmp_path: Path, seed: int) -> None:
    _same_defines(tmp_path, _directives(seed))


MACRO = f"LoadModule macro_module {MODULE_DIR}/mod_macro.so"


@pytest.mark.parametrize("length", [200, 1000, 8180, 8182, 9000])
def test_a_macro_body_given_with_c_is_read_as_mod_macro_reads_it(
    tmp_path: Path, length: int
) -> None:
    # mod_macro reads a body's lines into 8 KiB of its own, never glued.
    body = "Define A" + "x" * length + "$x"
    _same_defines(tmp_path, [MACRO, "<Macro M $x>", body, "</Macro>", "Use M y", "Define C 3"])


@pytest.mark.parametrize(
    ("body", "after"), [(100, 250), (300, 210), (300, 400), (1000, 250), (1000, 2000)]
)
def test_a_use_among_c_directives_grows_their_buffer(tmp_path: Path, body: int, after: int) -> None:
    # The expansion is read into the -C directives' buffer: a long line grows
    # it, and a long directive after it is then read whole, not glued.
    macro = f"<Macro M $x>\nDefine A{'y' * body} $x\n</Macro>\n"
    directives = [MACRO, "Include m.conf", "Use M 1", "Define B" + "b" * after, "Define C 3"]
    _same_defines(tmp_path, directives, {"/etc/apache2/m.conf": macro})


def _same_defines(
    tmp_path: Path, directives: list[str], files: dict[str, str] | None = None
) -> None:
    tcpaudit_root = tmp_path / "tcpaudit"
    write(tcpaudit_root, DEBIAN.main_file, EVENT + "ServerName www.example\n")
    for name, text in (files or {}).items():
        write(tcpaudit_root, name, text)
    apache_root = tmp_path / "apache"
    shutil.copytree(tcpaudit_root, apache_root)
    map_tree(apache_root)
    options = tuple(word for directive in directives for word in ("-C", directive))
    run = run_apache(apache_root, DEBIAN.main_file, DEBIAN.server_root, options=options)
    try:
        loaded: object = load_apache(
            DEBIAN.main_file, root=tcpaudit_root, version="2.4.71", compiled_in=_static(),
            directives=directives,
        )  # fmt: skip
    except ApacheConfigError as exc:
        loaded = exc
    shown = [(len(directive), directive[:12]) for directive in directives]
    if not run.accepted:
        assert isinstance(loaded, ApacheConfigError), (shown, run.stderr[-300:])
        if run.error is not None:
            assert (loaded.file, loaded.line) == run.error, (shown, str(loaded)[:200])
        return
    assert not isinstance(loaded, ApacheConfigError), (shown, str(loaded)[:300])
    assert sorted(_defines(loaded.directives)) == sorted(run.defines), shown


def test_a_directive_filling_the_buffer_takes_the_next_one() -> None:
    cut = "Define " + "a" * 199
    assert [text for _, text, _ in command_lines([cut + "lost", "B"])] == [cut + "B"]
    # Which directives each line took, and the line numbers httpd counts.
    assert command_lines(["Timeout 5", cut + "x", "B", "KeepAlive On"]) == [
        (1, "Timeout 5", (0,)),
        (2, cut + "B", (1, 2)),
        (3, "KeepAlive On", (3,)),
    ]
    # Nothing to glue on: the line is dropped.
    assert command_lines(["Timeout 5", cut + "x"]) == [(1, "Timeout 5", (0,))]


def test_c_directives_whose_joining_httpd_decides_by_its_memory_are_said_so(
    tmp_path: Path,
) -> None:
    # After a configuration, the pool may or may not have room right after
    # the line buffer: on Debian's stock tree apache2 joined "Bogus 1" to a
    # 700-byte comment, on a one-line tree it refused it. Both readings are
    # possible; tcpaudit says where its reading may not be httpd's.
    def comment(size: int) -> str:
        return "#" + "x" * (size - 1)

    write(tmp_path, DEBIAN.main_file, EVENT + "ServerName www.example\n")
    doubtful = [comment(5000), comment(3000), comment(700), "Timeout 7"]
    config = load_apache(
        DEBIAN.main_file, root=tmp_path, version="2.4.71", compiled_in=_static(),
        late_directives=doubtful,
    )  # fmt: skip
    said = [note for note in config.notes if "may join the -c directives" in note.message]
    assert [(note.file, note.line) for note in said] == [("-c/-C directives", 1)]
    for plain in (["Timeout 7", "KeepAlive Off"], [comment(300), "Timeout 7"]):
        config = load_apache(
            DEBIAN.main_file, root=tmp_path, version="2.4.71", compiled_in=_static(),
            late_directives=plain,
        )  # fmt: skip
        assert not [note for note in config.notes if "may join" in note.message]


def test_every_reading_of_the_directives_reaches_the_load_s_guard() -> None:
    # 524,288 directives fit the 2 MiB ExecStart= allows: the sixteen readings
    # that find an uncertain -c line took 16 s of CPU without a check.
    from tcpaudit.apache.command_line import directives_shown, uncertain_line

    directives = ["#" + "a" * 300, *["x"] * 70_000]
    reached: list[int] = []
    assert uncertain_line(directives, reached.append) is None
    assert len(reached) >= 17  # each reading, every 65,536 directives
    reached.clear()
    directives_shown(directives, str, reached.append)
    assert len(reached) >= 1
