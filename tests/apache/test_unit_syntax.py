"""Unit files as systemd reads them, against the real systemd.

``systemd --test --system`` loads a unit and prints what it read (its
Environment= assignments, EnvironmentFile= paths and ExecStart= words) without
running anything; it refuses to run as root, so it runs as nobody, on a unit
directory nobody can read. The host's systemd is 252.
"""

from __future__ import annotations

import codecs
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tcpaudit.apache.units import exec_arguments, read_unit
from tcpaudit.rootfs import RootFS

SYSTEMD = "/lib/systemd/systemd"
UNIT = "tcpaudit-probe.service"
NOBODY = "65534"
# A unit systemd loads alone; a oneshot service may have several ExecStart=
# (the last is compared), and one is always there (none is a bad setting).
_PREAMBLE = "[Unit]\nDefaultDependencies=no\n[Service]\nType=oneshot\nExecStart=/bin/true\n"


def _unquote_argument(text: str) -> str:
    """An argument as systemd prints it: in double quotes when needed, with
    ``\\`` before ``" \\ ` $`` and C escapes (``\\n``, ``\\357``) for the rest."""
    if not (text.startswith('"') and text.endswith('"') and len(text) > 1):
        return text
    inner = text[1:-1]
    out = bytearray()
    index = 0
    while index < len(inner):
        if inner[index] == "\\" and index + 1 < len(inner):
            following = inner[index + 1]
            if following in '"\\`$':
                out += following.encode()
                index += 2
            elif following in "01234567":
                out.append(int(inner[index + 1 : index + 4], 8))
                index += 4
            elif following == "x":
                out.append(int(inner[index + 2 : index + 4], 16))
                index += 4
            else:
                out += codecs.decode(inner[index : index + 2], "unicode_escape").encode()
                index += 2
            continue
        out += inner[index].encode("utf-8", "surrogateescape")
        index += 1
    return out.decode("utf-8", "surrogateescape")


def _arguments(line: str) -> list[str]:
    words: list[str] = []
    current: list[str] = []
    quoted = escaped = False
    for char in line:
        if escaped:
            escaped = False
        elif char == "\\" and quoted:
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == " " and not quoted:
            words.append("".join(current))
            current = []
            continue
        current.append(char)
    words.append("".join(current))
    return [_unquote_argument(word) for word in words if word]


def by_systemd(
    service: str, drop_ins: dict[str, str] | None = None
) -> tuple[dict[str, str], list[str], list[str] | None]:
    """What systemd reads from the [Service] lines ``service`` (and the
    drop-ins, by path below the unit directory): the environment, the
    environment files (``-`` when optional) and the words of ExecStart=
    (None when it has none)."""
    done = _systemd_test(_PREAMBLE + service, drop_ins)
    lines = iter(done.stdout.decode("utf-8", "surrogateescape").split("\n"))
    environment: dict[str, str] = {}
    files: list[str] = []
    command: list[str] | None = None
    for line in _section(lines):
        if line.startswith("\t\tEnvironment: "):
            name, _, value = line[len("\t\tEnvironment: ") :].partition("=")
            environment[name] = value
        elif line.startswith("\t\tEnvironmentFile: "):
            files.append(line[len("\t\tEnvironmentFile: ") :])
        elif line.startswith("\t\t\tCommand Line: "):
            command = _arguments(line[len("\t\t\tCommand Line: ") :])
    if b"has a bad unit file setting" in done.stderr:
        return {}, [], ["refused"]
    assert done.returncode == 0 or environment or command, done.stderr
    return environment, files, command


def _systemd_test(
    unit_text: str, drop_ins: dict[str, str] | None = None
) -> subprocess.CompletedProcess[bytes]:
    """``systemd --test`` as nobody on the unit ``unit_text`` (and its drop-ins,
    by path below the unit directory), in a directory nobody can read."""
    directory = Path(tempfile.mkdtemp(prefix="tcpaudit-units-"))
    try:
        directory.chmod(0o755)
        unit = directory / UNIT
        unit.write_text(unit_text)
        unit.chmod(0o644)
        for relative, text in (drop_ins or {}).items():
            (directory / relative).parent.mkdir(mode=0o755, exist_ok=True)
            (directory / relative).write_text(text)
            (directory / relative).chmod(0o644)
        return subprocess.run(
            ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
             SYSTEMD, "--test", "--system", f"--unit={UNIT}"],
            env={"SYSTEMD_UNIT_PATH": str(directory), "SYSTEMD_LOG_TARGET": "console",
                 "PATH": os.environ.get("PATH", "/usr/bin:/bin")},
            capture_output=True, check=False,
        )  # fmt: skip
    finally:
        shutil.rmtree(directory)


def _section(lines: Iterator[str]) -> Iterator[str]:
    for line in lines:
        if line == f"\t-> Unit {UNIT}:":
            break
    for line in lines:
        if line.startswith("\t-> Unit "):
            return
        yield line


def by_tcpaudit(
    service: str, root: Path, drop_ins: dict[str, str] | None = None
) -> tuple[dict[str, str], list[str], list[str] | None]:
    path = root / "etc/systemd/system" / UNIT
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(_PREAMBLE + service)
    for relative, text in (drop_ins or {}).items():
        (path.parent / relative).parent.mkdir(exist_ok=True)
        (path.parent / relative).write_text(text)
    unit = read_unit(RootFS(root), UNIT)
    assert unit is not None
    if unit.bad_setting is not None:
        return {}, [], ["refused"]
    environment = {name: value for name, value, _, _ in unit.environment}
    files = [("-" if optional else "") + name for name, optional, _, _ in unit.environment_files]
    command = unit.exec_start[0] if unit.exec_start else None
    if command:
        command = [command[0].lstrip("@-:+!|"), *command[1:]]
    return environment, files, command


CASES = [
    # A quote left open before any word: the line is ignored, no reset.
    'Environment=X=1\nEnvironment="\nEnvironment=Y=2 "Z=3\n',
    # Escapes: C escapes in Environment=, an unknown one ignores the line.
    "Environment=\"OPTIONS=-DA\\x20-DB\" 'Q=a b' R=x\\\\\n",
    "Environment=A=\\q B=2\nEnvironment=C=1 D=\\q E=3\n",
    'Environment="C=3 D=4\n',
    "Environment=I=\\s J=\\101 K=\\u00e9 L='x y'z M=a\"b c\"d\n",
    "Environment=export M=1 N 1X=2 Y-Z=3\n",
    # Comments never continue, and are skipped inside a continued line.
    "# c \\\nEnvironment=Z=1\n",
    "Environment=A=1 \\\n# c2\n C=3\n",
    "Environment=A=x\\\\\nEnvironment=B=2\n",
    "Environment=A=1\rEnvironment=B=2\r\nEnvironment=C=3\n",
    # Specifiers that do not depend on the host.
    "Environment=E=%%x F=%n G=%N H=%p I=%i J=%E K=%t L=%u\n",
    "EnvironmentFile=-/etc/sysconfig/%N\nEnvironmentFile=/etc/x/%p-%i.conf\n",
    "EnvironmentFile=relative/path\nEnvironmentFile=-/etc/a\nEnvironmentFile=\n"
    "EnvironmentFile=/etc/b\n",
    # ExecStart=: C escapes, an unknown one kept, quotes removed anywhere.
    'ExecStart=-/usr/sbin/httpd $OPTIONS ${X}y "a b" \'c\\x20d\' \\q -D%%X e"f g"h\n',
    'ExecStart=/usr/sbin/httpd "unbalanced\n',
    'ExecStart=-/usr/sbin/httpd "unbalanced\n',
    'ExecStart="/usr/sbin/httpd\n',
    "ExecStart=/usr/sbin/httpd a\\x00b \\\n\n",
    "Environment=A=1\nEnvironment=\nEnvironment=B=2\n",
    # A NUL byte ends a line; the first line's byte-order mark is dropped.
    "Environment=A=1\x00Environment=B=2\n",
    "Environment=A=1\n\ufeffEnvironment=B=2\n\ufeffEnvironment=C=3\n",
    # EnvironmentFile= paths are simplified; ".." and relative ones are ignored.
    "EnvironmentFile=/etc//a/./b/\nEnvironmentFile=-/etc/./\nEnvironmentFile=/etc/../a\n"
    "EnvironmentFile=-/etc/a b\n",
]


@pytest.mark.parametrize("service", CASES)
def test_units_read_as_systemd_reads_them(service: str, tmp_path: Path) -> None:
    assert by_tcpaudit(service, tmp_path) == by_systemd(service), service


_PIECES = st.sampled_from(
    ["A=", "B=", "x", " ", "\t", '"', "'", "\\\\", "\\x41", "\\s", "\\q", "%%", "%n",
     "\\\n", "\n#c \\\n", "\nEnvironment=", "\\u00e9", "\\101", "\\"]
)  # fmt: skip


@settings(max_examples=60, deadline=None)
@given(st.lists(_PIECES, max_size=12).map("".join))
def test_any_environment_line_reads_as_systemds(text: str) -> None:
    service = "Environment=" + text + "\n"
    with tempfile.TemporaryDirectory() as root:
        ours = by_tcpaudit(service, Path(root))
    assert ours[0] == by_systemd(service)[0], repr(service)


@settings(max_examples=60, deadline=None)
@given(st.lists(_PIECES, max_size=12).map("".join))
def test_any_exec_start_reads_as_systemds(text: str) -> None:
    service = "ExecStart=/usr/sbin/httpd " + text + "\n"
    with tempfile.TemporaryDirectory() as root:
        ours = by_tcpaudit(service, Path(root))
    assert ours[2] == by_systemd(service)[2], repr(service)


@pytest.mark.parametrize(
    ("options", "arguments"),
    [
        ('"-DSSL" -DA', ["-DSSL", "-DA"]),
        ("-DX -C 'Timeout 5'", ["-DX", "-C", "Timeout 5"]),
        ('a\\ b "c', ["a b", "c"]),
        ("x\\", ["x"]),
    ],
)
def test_a_variable_alone_is_split_as_systemd_splits_it(options: str, arguments: list[str]) -> None:
    """replace_env_argv: $NAME alone is split with quotes removed (EXTRACT_UNQUOTE,
    EXTRACT_RELAX); ${NAME} stays one word; an unset $NAME gives no word."""
    environment = {"OPTIONS": options, "S": "p q"}
    assert exec_arguments(["/usr/sbin/httpd", "$OPTIONS"], environment)[1:] == arguments
    assert exec_arguments(["/h", "${S}", "$$X", "$UNSET", "$BAD-NAME", "a${S}b"], environment) == [
        "/h", "p q", "$X", "ap qb"]  # fmt: skip


def systemd_refuses(unit_text: str) -> bool:
    done = _systemd_test(unit_text)
    return b"bad unit file setting" in done.stderr or b"is masked" in done.stderr


@pytest.mark.parametrize(
    ("service", "refused"),
    [
        ("Type=notify\nExecStart=/usr/sbin/httpd a ; /bin/true\n", True),
        ("Type=notify\nExecStart=/usr/sbin/httpd a\nExecStart=/usr/sbin/httpd b\n", True),
        ("Type=notify\nExecStart=/usr/sbin/httpd a\nExecStart=\nExecStart=/usr/sbin/b\n", False),
        ("Type=notify\nExecStart=/usr/sbin/httpd a \\; b\n", False),
        ("Type=oneshot\nExecStart=/usr/sbin/httpd a ; /bin/true\n", False),
    ],
)
def test_what_systemd_refuses_is_said_to_be_refused(
    service: str, refused: bool, tmp_path: Path
) -> None:
    text = "[Unit]\nDefaultDependencies=no\n[Service]\n" + service
    assert systemd_refuses(text) is refused
    path = tmp_path / "etc/systemd/system" / UNIT
    path.parent.mkdir(parents=True)
    path.write_text(text)
    unit = read_unit(RootFS(tmp_path), UNIT)
    assert unit is not None and (unit.bad_setting is not None) is refused


def test_an_empty_unit_is_masked(tmp_path: Path) -> None:
    assert systemd_refuses("")
    path = tmp_path / "etc/systemd/system" / UNIT
    path.parent.mkdir(parents=True)
    path.write_text("")
    assert read_unit(RootFS(tmp_path), UNIT) is None


def test_prefixes_and_unset_environment_as_systemd_runs_them() -> None:
    """systemd.service(5): after "@" the next word is argv[0]; ":" turns the
    expansion off. UnsetEnvironment= removes names before ExecStart= is expanded."""
    environment = {"OPTIONS": "-DX"}
    assert exec_arguments(["@/usr/sbin/httpd", "httpd", "$OPTIONS"], environment) == [
        "/usr/sbin/httpd", "-DX"]  # fmt: skip
    assert exec_arguments([":/usr/sbin/httpd", "$OPTIONS"], environment) == [
        "/usr/sbin/httpd", "$OPTIONS"]  # fmt: skip


@pytest.mark.parametrize(
    "drop_ins",
    [
        {"service.d/10-all.conf": "[Service]\nEnvironment=A=type\n"},
        {
            "service.d/10-x.conf": "[Service]\nEnvironment=A=type\n",
            f"{UNIT}.d/10-x.conf": "[Service]\nEnvironment=A=unit\n",
            "tcpaudit-.service.d/20-y.conf": "[Service]\nEnvironment=B=prefix\n",
        },
    ],
)
def test_drop_ins_are_found_where_systemd_looks(drop_ins: dict[str, str], tmp_path: Path) -> None:
    assert by_tcpaudit("", tmp_path, drop_ins) == by_systemd("", drop_ins)


def test_files_that_are_no_drop_ins_do_not_hide_one(tmp_path: Path) -> None:
    # Only names ending ".conf" are drop-ins; 300 others sorting first were
    # counted against tcpaudit's bound, and z.conf was never read.
    drop_ins = {f"{UNIT}.d/a{number:03}": "[Service]\nEnvironment=A=no\n" for number in range(300)}
    drop_ins[f"{UNIT}.d/z.conf"] = "[Service]\nEnvironment=A=fromz\n"
    ours = by_tcpaudit("Environment=A=main\n", tmp_path, drop_ins)
    assert ours == by_systemd("Environment=A=main\n", drop_ins)
    assert ours[0]["A"] == "fromz"


def test_drop_ins_past_the_bound_are_said_not_read(tmp_path: Path) -> None:
    path = tmp_path / "etc/systemd/system" / UNIT
    (path.parent / f"{UNIT}.d").mkdir(parents=True)
    path.write_text(_PREAMBLE + "Environment=A=main\n")
    for number in range(300):
        (path.parent / f"{UNIT}.d/{number:03}.conf").write_text(
            f"[Service]\nEnvironment=A={number}\n"
        )
    unit = read_unit(RootFS(tmp_path), UNIT)
    assert unit is not None
    said = " ".join(note.message for note in unit.notes)
    assert "300 drop-ins, of which tcpaudit reads the first 256" in said
    assert "may differ" in said
