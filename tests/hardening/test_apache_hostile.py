"""Hostile Apache configurations: a result or one TcpauditError, in bounded time and memory.

tcpaudit reads Apache trees as root on production hosts and in CI on
untrusted pull requests. Whatever the tree holds (random bytes, deep nesting,
include and symlink loops, FIFOs and devices, ${VAR} and mod_macro bombs,
paths that climb out of --root), loading it must end quickly with either an
``ApacheConfig`` or one ``TcpauditError`` naming a file; the CLI must exit 0,
1 or 2 with one stderr line on 2; nothing outside the root and no FIFO or
device may be opened.

Calls that could hang or eat memory run in a child process
(``apache_hostile_child.py``) with a timeout and ``RLIMIT_AS`` of 1 GiB; the
FIFO tests run in a thread and unblock it themselves. The property tests run
``TCPAUDIT_FUZZ_EXAMPLES`` examples (default 150), as test_fuzz_inputs.py does.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import random
import re
import shutil
import signal
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tcpaudit
from tcpaudit.apache import evaluator, load_apache
from tcpaudit.apache.model import ApacheConfig
from tcpaudit.apache.sections import MAX_SECTION_DEPTH
from tcpaudit.cli import cli

EXAMPLES = int(os.environ.get("TCPAUDIT_FUZZ_EXAMPLES", "150"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
CORPUS = REPO / "tests" / "corpus"
CHILD = HERE / "apache_hostile_child.py"
PACKAGE = Path(tcpaudit.__file__).resolve().parent
GIB = 1 << 30
# Safety bounds, not speed claims: the promise for hostile input is under 30 s
# (SECURITY.md), and the machine running the tests is shared; a child that has
# not answered in twice that is hung.
SAFE_SECONDS = 30
HANG_SECONDS = 2 * SAFE_SECONDS
MAIN = "usr/local/apache2/conf/httpd.conf"  # the "upstream" layout; ServerRoot /usr/local/apache2
EVENT = "LoadModule mpm_event_module modules/mod_mpm_event.so\n"
MACRO = "LoadModule macro_module modules/mod_macro.so\n"
MARKER = "OUTSIDE-MARKER-5b1e"


# -- helpers -------------------------------------------------------------------------


def write(root: Path, path: str, text: str | bytes) -> Path:
    target = root / path.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        target.write_bytes(text)
    else:
        target.write_text(text)
    return target


def tree(tmp_path: Path, text: str, *, header: str = EVENT) -> Path:
    """A root with an upstream-layout httpd.conf: ``header`` (an MPM) then ``text``."""
    root = tmp_path / "root"
    write(root, MAIN, header + text)
    return root


def conf_dir(root: Path) -> Path:
    return root / "usr/local/apache2/conf"


def run_child(request: dict[str, Any], timeout: float, cwd: Path) -> dict[str, Any]:
    """Run the call in apache_hostile_child.py; a timeout or a dead child fails the test."""
    request = {"memory": GIB, **request}
    try:
        process = subprocess.run(
            [sys.executable, str(CHILD), json.dumps(request)],
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=cwd,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"no answer within {timeout} s: a hang or unbounded work ({request})")
    assert process.returncode == 0, process.stderr[-3000:]
    outcome: dict[str, Any] = json.loads(process.stdout.splitlines()[-1])
    return outcome


def load_in_child(root: Path, timeout: float = HANG_SECONDS, **extra: Any) -> dict[str, Any]:
    return run_child({"mode": "load", "root": str(root), **extra}, timeout, root.parent)


def cli_in_child(args: list[str], cwd: Path, timeout: float = HANG_SECONDS) -> dict[str, Any]:
    return run_child({"mode": "cli", "args": args}, timeout, cwd)


def assert_clean(outcome: dict[str, Any]) -> None:
    """A configuration, or one TcpauditError that names a file (ParseError: its .file)."""
    assert outcome["outcome"] in ("config", "none", "error"), (
        f"{outcome.get('type')}: {outcome.get('message')}\n{outcome.get('traceback', '')}"
    )
    if outcome["outcome"] == "error":
        if outcome["is_parse_error"]:
            assert outcome["file"], f"error names no file: {outcome['message']}"
            assert outcome["message"].startswith(outcome["file"])
        else:  # UsageError: the path is in the sentence
            assert "/" in outcome["message"], outcome["message"]


def assert_opened_only_inside(outcome: dict[str, Any], root: Path) -> None:
    """Every file opened or directory listed is the root or below it, tcpaudit's own data,
    or the process's own /proc entry (its resident memory, read by the loader)."""
    allowed = (str(root.resolve()) + "/", str(PACKAGE) + "/", f"/proc/{outcome['pid']}/")
    outside = [
        path
        for path in outcome["opened"]
        if not path.startswith(allowed) and path != str(root.resolve())
    ]
    assert not outside, f"opened outside the root: {outside}"


def assert_clean_cli(outcome: dict[str, Any]) -> None:
    assert outcome["exception"] is None, outcome.get("traceback")
    assert outcome["exit_code"] in (0, 1, 2), outcome
    assert "Traceback" not in outcome["stdout"] + outcome["stderr"]
    if outcome["exit_code"] == 2:
        assert len(outcome["stderr"].splitlines()) == 1, outcome["stderr"]
        assert outcome["stderr"].startswith("tcpaudit: error: ")


class AlarmExpiredError(Exception):
    pass


@contextlib.contextmanager
def alarm(seconds: int) -> Iterator[None]:
    """Fail an in-process call that runs longer than ``seconds`` (main thread only)."""

    def expire(signum: int, frame: object) -> None:
        raise AlarmExpiredError(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def load_in_process(root: Path) -> ApacheConfig | None:
    """load_apache under a 20 s alarm; a TcpauditError must name its file (ParseError).

    Only for inputs that cannot blow up memory (no RLIMIT_AS in this process);
    reads are capped lower than MAX_FILES_READ so that a random include fan-out
    stays quick (the real cap: test_include_fan_out_stops_at_max_files_read).
    """
    saved = evaluator.MAX_FILES_READ
    evaluator.MAX_FILES_READ = 2000
    try:
        with alarm(20):
            return load_apache(root=root)
    except tcpaudit.ParseError as error:
        assert error.file, f"error names no file: {error}"
        assert str(error).startswith(error.file)
        if error.line is not None:
            assert str(error).startswith(f"{error.file}:{error.line}: ")
    except tcpaudit.UsageError as error:
        assert "/" in str(error)
    finally:
        evaluator.MAX_FILES_READ = saved
    return None


def load_in_thread(root: Path, fifos: list[Path], seconds: float = 1.0) -> dict[str, Any]:
    """Load in a thread; if it is still running after ``seconds``, release any FIFO reader.

    Returns what happened; the caller asserts. A loader blocked in ``open`` on
    a FIFO is unblocked by opening the writer end (then it reads EOF).
    """
    result: dict[str, Any] = {}

    def target() -> None:
        try:
            result["config"] = load_apache(root=root)
        except BaseException as error:
            result["error"] = error

    thread = threading.Thread(target=target, daemon=True)
    started = time.perf_counter()
    thread.start()
    thread.join(seconds)
    result["seconds"] = time.perf_counter() - started
    result["blocked"] = thread.is_alive()
    result["readers"] = []
    for fifo in fifos:
        try:
            descriptor = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        except OSError as error:
            assert error.errno == errno.ENXIO, error  # no reader: never opened (or closed)
        else:  # a reader holds the FIFO open: it was opened (and is blocked or leaked)
            result["readers"].append(str(fifo))
            os.close(descriptor)
    thread.join(5)
    return result


def assert_fifo_never_opened(result: dict[str, Any]) -> None:
    assert not result["blocked"] and not result["readers"], (
        f"a FIFO was opened: blocked={result['blocked']} readers={result['readers']}"
    )
    assert result["seconds"] < SAFE_SECONDS
    error = result.get("error")
    if error is not None:
        assert isinstance(error, tcpaudit.ParseError) and error.file, repr(error)


# -- property tests ------------------------------------------------------------------

HOSTILE_LINES = [
    "Include /",
    "IncludeOptional ../../../../../../../*",
    "Include /dev/null",
    "IncludeOptional /proc/self/*",
    "Include conf/httpd.conf",
    "ServerRoot /",
    "ServerRoot ..",
    "Define x ${x}",  # self-reference without growth (growth: test_define_doubling_*)
    "Define y ${x}${x}",
    "<IfModule",
    "</IfModule>",
    "<Macro m $a>",
    "</Macro>",
    "Use m ${x}",
    "LoadModule macro_module m.so",
    "LoadModule mpm_worker_module w.so",
    "LoadModule mpm_event_module e.so",
    "<VirtualHost *:80>",
    "</VirtualHost>",
    "\\",
    "\x00",
    "\ufeffTimeout 5",
    "Timeout -1",
    "Timeout 99999999999999999999999999",
    "KeepAliveTimeout 1e400",
    '"',
    "<Directory />",
    "</Directory>",
]


@FUZZ
@given(
    header=st.sampled_from([b"", EVENT.encode(), (EVENT + MACRO).encode()]),
    body=st.binary(max_size=400),
)
def test_random_bytes_as_httpd_conf(tmp_path: Path, header: bytes, body: bytes) -> None:
    root = tmp_path / "random"
    write(root, MAIN, header + body)
    config = load_in_process(root)
    assert config is None or config.files[0] == MAIN


@FUZZ
@given(
    lines=st.lists(
        st.one_of(st.sampled_from(HOSTILE_LINES), st.text(max_size=40)),
        max_size=25,
    )
)
def test_random_directive_lines(tmp_path: Path, lines: list[str]) -> None:
    root = tmp_path / "lines"
    write(root, MAIN, (EVENT + MACRO + "\n".join(lines)).encode("utf-8", "surrogatepass"))
    config = load_in_process(root)
    assert config is None or config.files[0] == MAIN


CORPUS_TREES = sorted(path.name for path in CORPUS.iterdir() if path.is_dir())


def _config_files(root: Path) -> list[Path]:
    return sorted(
        path
        for path in root.rglob("*")
        if path.is_file() and not path.is_symlink() and path.suffix not in (".types", ".conv")
        and path.name != "magic"
    )  # fmt: skip


def _section_spans(lines: list[bytes]) -> list[tuple[int, int]]:
    spans = []
    for start, line in enumerate(lines):
        match = re.match(rb"\s*<([A-Za-z]+)", line)
        if match is None:
            continue
        closing = b"</" + match.group(1).lower()
        for end in range(start + 1, len(lines)):
            if lines[end].strip().lower().startswith(closing):
                spans.append((start, end))
                break
    return spans


def mutate(data: bytes, draw: st.DrawFn) -> bytes:
    """One to four byte- or line-level mutations, chosen by hypothesis."""
    for _ in range(draw(st.integers(1, 4))):
        lines = data.split(b"\n")
        kind = draw(
            st.sampled_from(
                ["flip", "insert", "delete", "dup-line", "del-line", "dup-section", "drop-close",
                 "hostile-line"]
            )
        )  # fmt: skip
        position = draw(st.integers(0, max(len(data) - 1, 0)))
        line_no = draw(st.integers(0, max(len(lines) - 1, 0)))
        if kind == "flip" and data:
            bit = 1 << draw(st.integers(0, 7))
            data = data[:position] + bytes([data[position] ^ bit]) + data[position + 1 :]
        elif kind == "insert":
            data = data[:position] + draw(st.binary(min_size=1, max_size=20)) + data[position:]
        elif kind == "delete":
            data = data[:position] + data[position + draw(st.integers(1, 200)) :]
        elif kind == "dup-line":
            lines.insert(line_no, lines[line_no])
            data = b"\n".join(lines)
        elif kind == "del-line":
            del lines[line_no]
            data = b"\n".join(lines)
        elif kind == "dup-section":
            spans = _section_spans(lines)
            if spans:
                start, end = draw(st.sampled_from(spans))
                data = b"\n".join(lines[: end + 1] + lines[start : end + 1] + lines[end + 1 :])
        elif kind == "drop-close":
            closing = [i for i, line in enumerate(lines) if line.lstrip().startswith(b"</")]
            if closing:
                del lines[draw(st.sampled_from(closing))]
                data = b"\n".join(lines)
        else:
            lines.insert(line_no, draw(st.sampled_from(HOSTILE_LINES)).encode())
            data = b"\n".join(lines)
    return data


def mutated_corpus_tree(tmp_path: Path, data: st.DataObject) -> Path:
    name = data.draw(st.sampled_from(CORPUS_TREES), label="tree")
    root = tmp_path / "mutated"
    if root.exists():
        shutil.rmtree(root)
    shutil.copytree(CORPUS / name, root, symlinks=True)
    files = _config_files(root)
    for path in data.draw(st.lists(st.sampled_from(files), min_size=1, max_size=2), label="files"):
        path.write_bytes(mutate(path.read_bytes(), data.draw))
    return root


@FUZZ
@given(data=st.data())
def test_mutated_corpus_loads_or_fails_cleanly(tmp_path: Path, data: st.DataObject) -> None:
    root = mutated_corpus_tree(tmp_path, data)
    config = load_in_process(root)
    if config is not None:
        assert config.files and config.mpm in ("prefork", "worker", "event")


@settings(FUZZ, max_examples=max(EXAMPLES // 3, 10))
@given(data=st.data())
def test_cli_on_mutated_corpus_exits_0_1_or_2_with_one_line(
    tmp_path: Path, data: st.DataObject
) -> None:
    root = mutated_corpus_tree(tmp_path, data)
    with alarm(30):
        result = CliRunner().invoke(cli, ["audit", "--root", str(root), "--format", "json"])
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    assert result.exit_code in (0, 1, 2)
    assert "Traceback" not in result.output
    if result.exit_code == 2:
        assert len(result.stderr.splitlines()) == 1, result.stderr
        assert result.stderr.startswith("tcpaudit: error: ")
    else:
        assert json.loads(result.stdout)["grade"] in "ABCDF"


@pytest.mark.parametrize("output_format", ["json", "table", "sarif", "junit", "markdown"])
@pytest.mark.parametrize("to_file", [False, True], ids=["stdout", "output-file"])
def test_invalid_utf8_in_the_configuration_reaches_every_format(
    tmp_path: Path, output_format: str, to_file: bool
) -> None:
    # httpd reads bytes; tcpaudit keeps invalid UTF-8 (surrogateescape). A
    # report naming such a directive must still be written, not a traceback.
    # (A third-party module is loaded: the unknown name is a note, not a refusal.)
    root = tree(tmp_path, "")
    write(root, MAIN, b"\x80Timeout 5\nServerName caf\xe9\n" + EVENT.encode()
          + b"LoadModule security2_module modules/mod_security2.so\n")  # fmt: skip
    args = ["audit", "--root", str(root), "--format", output_format]
    target = tmp_path / "report.out"
    if to_file:
        args += ["--output", str(target)]
    result = CliRunner().invoke(cli, args)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    assert result.exit_code in (0, 1), result.output
    text = target.read_bytes() if to_file else result.stdout_bytes
    text.decode("utf-8")  # every report format is UTF-8


# -- size and depth ------------------------------------------------------------------

NESTING = 10_000


@pytest.mark.parametrize(
    "opening",
    [
        "IfModule mpm_event_module",  # true conditional: not kept in the tree
        "IfModule !mpm_event_module",  # false conditional: skipped unread
        "IfDefine !NOPE",
        "Directory /srv",  # refused by httpd at the second level
        "VirtualHost *:80",  # refused by httpd at the second level
        "Files x",  # allowed nested: 10^4 levels kept in the tree
        "Unknown x",  # a third-party section: kept, a note
    ],
)
def test_deep_nesting_is_bounded(tmp_path: Path, opening: str) -> None:
    name = opening.split()[0]
    root = tree(tmp_path, f"<{opening}>\n" * NESTING + "Timeout 7\n" + f"</{name}>\n" * NESTING)
    outcome = load_in_child(root, timeout=HANG_SECONDS)
    assert_clean(outcome)
    assert outcome["seconds"] < SAFE_SECONDS


@pytest.mark.parametrize("opening", ["IfModule mpm_event_module", "IfDefine !NOPE"])
def test_deep_true_conditionals_cost_linear_time(tmp_path: Path, opening: str) -> None:
    # 50,000 nested true conditionals is a 1.5 MB file; reading it must not
    # cost time quadratic in the depth (every line looking through the stack).
    name = opening.split()[0]
    depth = 50_000
    root = tree(tmp_path, f"<{opening}>\n" * depth + "Timeout 7\n" + f"</{name}>\n" * depth)
    outcome = load_in_child(root, timeout=HANG_SECONDS)
    assert outcome["outcome"] == "config", outcome
    assert outcome["settings"]["Timeout"] == "7"
    assert outcome["seconds"] < SAFE_SECONDS


def test_unclosed_deep_nesting_names_the_line(tmp_path: Path) -> None:
    root = tree(tmp_path, "<Files x>\n" * NESTING)
    outcome = load_in_child(root, timeout=HANG_SECONDS)
    assert_clean(outcome)
    # tcpaudit refuses kept sections nested deeper than MAX_SECTION_DEPTH before
    # it reaches the end of the file; the line is the first one too deep.
    assert outcome["outcome"] == "error"
    assert outcome["line"] == MAX_SECTION_DEPTH + 2
    assert f"nested deeper than {MAX_SECTION_DEPTH}" in outcome["message"]


@pytest.mark.parametrize(
    "line",
    [
        "ServerAdmin " + "a" * 10_000_000,  # a 10 MB line
        "ServerAlias " + "a " * 1_000_000,  # 10^6 words
        "Timeout " + "9" * 10_000_000,  # a 10 MB number
        "<VirtualHost " + "*:80 " * 1_000_000 + ">\n</VirtualHost>",
        "Define big " + "b" * 10_000_000 + "\nServerAdmin ${big}${big}${big}${big}",
    ],
    ids=["10MB-line", "1e6-words", "10MB-number", "1e6-vhost-addresses", "10MB-define-x4"],
)
def test_huge_lines_are_bounded(tmp_path: Path, line: str) -> None:
    root = tree(tmp_path, line + "\n")
    outcome = load_in_child(root, timeout=HANG_SECONDS)
    assert_clean(outcome)
    assert outcome["seconds"] < SAFE_SECONDS and outcome["peak_mib"] < 1024


def test_file_above_64_mib_is_refused_without_reading_it(tmp_path: Path) -> None:
    root = tree(tmp_path, "Include conf/big.conf\n")
    with open(conf_dir(root) / "big.conf", "wb") as handle:
        handle.truncate(8 * GIB)  # sparse: costs no disk
    outcome = load_in_child(root, timeout=HANG_SECONDS, memory=GIB // 2)
    assert outcome["outcome"] == "error" and "larger than" in outcome["message"]
    assert outcome["file"] == MAIN and outcome["line"] == 2


def test_100k_tiny_includes_are_bounded(tmp_path: Path) -> None:
    root = tree(tmp_path, "Include conf/many/*.conf\n")
    many = conf_dir(root) / "many"
    many.mkdir()
    for index in range(100_000):
        (many / f"{index:06d}.conf").write_bytes(b"Timeout 9\n")
    outcome = load_in_child(root, timeout=HANG_SECONDS)
    assert outcome["outcome"] == "config", outcome
    assert len(outcome["files"]) == 100_001
    assert outcome["seconds"] < SAFE_SECONDS and outcome["peak_mib"] < 512


def test_glob_matching_5000_files(tmp_path: Path) -> None:
    root = tree(tmp_path, "Include conf/sites/*.conf\n")
    sites = conf_dir(root) / "sites"
    sites.mkdir()
    for index in range(5000):
        (sites / f"{index:05d}.conf").write_text(
            f"<VirtualHost *:80>\nServerName h{index}\nTimeout {index + 1}\n</VirtualHost>\n"
        )
    outcome = load_in_child(root, timeout=HANG_SECONDS)
    assert outcome["outcome"] == "config", outcome
    assert len(outcome["files"]) == 5001 and outcome["files"][-1].endswith("04999.conf")
    assert outcome["seconds"] < SAFE_SECONDS


BIG = "9" * 5000  # more digits than int() converts (sys.get_int_max_str_digits: 4300)
LARGE = "9" * 400  # converts, but overflows a float
REQTIMEOUT = "LoadModule reqtimeout_module modules/mod_reqtimeout.so\n"
PROXY = "LoadModule proxy_module m.so\nLoadModule proxy_http_module m.so\n"
NUMBER_LINES = [
    "Timeout {n}",
    "KeepAliveTimeout {n}",
    "KeepAliveTimeout {n}ms",
    "MaxKeepAliveRequests {n}",
    "ListenBacklog {n}",
    "ThreadsPerChild {n}\nServerLimit {n}\nMaxRequestWorkers {n}",
    REQTIMEOUT + "RequestReadTimeout header={n}",
    REQTIMEOUT + "RequestReadTimeout header=1-{n},MinRate={n}",
    PROXY + "ProxyTimeout {n}",
    PROXY + "ProxyPass / http://backend/ timeout={n} connectiontimeout={n} ttl={n}",
    "LoadModule version_module m.so\n<IfVersion >= 2.{n}>\n</IfVersion>",
]


@pytest.mark.parametrize("line", NUMBER_LINES)
@pytest.mark.parametrize("digits", [BIG, LARGE], ids=["5000-digits", "400-digits"])
def test_huge_numbers_load_or_fail_cleanly(tmp_path: Path, line: str, digits: str) -> None:
    root = tree(tmp_path, line.format(n=digits) + "\n")
    with alarm(10):
        try:
            load_apache(root=root)
        except tcpaudit.ParseError as error:
            assert error.file == MAIN and error.line is not None, str(error)


@pytest.mark.parametrize("line", NUMBER_LINES)
@pytest.mark.parametrize("digits", [BIG, LARGE], ids=["5000-digits", "400-digits"])
def test_huge_numbers_through_the_cli(tmp_path: Path, line: str, digits: str) -> None:
    root = tree(tmp_path, line.format(n=digits) + "\n")
    with alarm(10):
        result = CliRunner().invoke(cli, ["audit", "--root", str(root), "--format", "json"])
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    assert result.exit_code in (0, 1, 2) and "Traceback" not in result.output
    if result.exit_code == 2:
        assert len(result.stderr.splitlines()) == 1, result.stderr


def test_huge_apache_version_option(tmp_path: Path) -> None:
    root = tree(tmp_path, "Timeout 5\n")
    result = CliRunner().invoke(cli, ["audit", "--root", str(root), "--apache-version", "2." + BIG])
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    assert result.exit_code == 2 and len(result.stderr.splitlines()) == 1, result.output


LONG_NAME = "n" * 300  # above NAME_MAX (255): ENAMETOOLONG, not ENOENT


@pytest.mark.parametrize(
    "text",
    [
        f"Include conf/{LONG_NAME}.conf",
        f"IncludeOptional conf/{LONG_NAME}",
        f"Include conf/{LONG_NAME}/*.conf",
        f"<IfFile /{LONG_NAME}>\n</IfFile>",
        f"ServerRoot /{LONG_NAME}",
        f"<IfFile /{'d/' * 3000}x>\n</IfFile>",  # a path above PATH_MAX
    ],
    ids=["include", "include-optional", "include-glob", "iffile", "serverroot", "path-max"],
)
def test_names_too_long_are_clean_errors(tmp_path: Path, text: str) -> None:
    root = tree(tmp_path, text + "\n")
    (conf_dir(root) / "d").mkdir()
    (conf_dir(root) / "d" / "d").symlink_to(".")
    with alarm(10):
        config = load_in_process(root)
    assert config is None or config.files == [MAIN]


# -- include and symlink loops -------------------------------------------------------


def test_include_cycle_through_a_symlink(tmp_path: Path) -> None:
    root = tree(tmp_path, "Include conf/again.conf\n")
    (conf_dir(root) / "again.conf").symlink_to("httpd.conf")
    outcome = load_in_child(root, timeout=HANG_SECONDS)
    assert outcome["outcome"] == "error" and "maximum include depth" in outcome["message"]
    assert outcome["seconds"] < SAFE_SECONDS


def test_include_cycle_through_a_glob(tmp_path: Path) -> None:
    root = tree(tmp_path, "Include conf/g/*.conf\n")
    write(root, "usr/local/apache2/conf/g/a.conf", "Include conf/g/*.conf\n")
    write(root, "usr/local/apache2/conf/g/b.conf", "Timeout 3\n")
    outcome = load_in_child(root, timeout=HANG_SECONDS)
    assert outcome["outcome"] == "error" and "maximum include depth" in outcome["message"]
    assert outcome["seconds"] < SAFE_SECONDS


def test_include_of_a_directory_that_links_to_its_parent(tmp_path: Path) -> None:
    root = tree(tmp_path, "Include conf/d\n")
    (conf_dir(root) / "d").mkdir()
    (conf_dir(root) / "d" / "up").symlink_to("..")
    outcome = load_in_child(root, timeout=HANG_SECONDS)
    assert outcome["outcome"] == "error", outcome
    assert outcome["seconds"] < SAFE_SECONDS


@pytest.mark.parametrize("links", [2, 3])
def test_directory_with_several_links_to_itself(tmp_path: Path, links: int) -> None:
    # d/a -> ., d/b -> .: httpd's recursive directory read stops at depth 128
    # but the number of paths below that depth is links**128.
    root = tree(tmp_path, "IncludeOptional conf/d\n")
    directory = conf_dir(root) / "d"
    directory.mkdir()
    (directory / "x.conf").write_text("Timeout 5\n")
    for index in range(links):
        (directory / f"self{index}").symlink_to(".")
    outcome = load_in_child(root, timeout=HANG_SECONDS)
    assert_clean(outcome)
    assert outcome["seconds"] < SAFE_SECONDS


def test_glob_over_a_directory_with_links_to_itself(tmp_path: Path) -> None:
    root = tree(tmp_path, "Include conf/d/*\n")
    directory = conf_dir(root) / "d"
    directory.mkdir()
    (directory / "a").symlink_to(".")
    (directory / "b").symlink_to(".")
    outcome = load_in_child(root, timeout=HANG_SECONDS)
    assert_clean(outcome)
    assert outcome["seconds"] < SAFE_SECONDS


@pytest.mark.parametrize("shape", ["self", "pair", "chain-of-50"])
def test_symlink_loops_are_an_error(tmp_path: Path, shape: str) -> None:
    root = tree(tmp_path, "Include conf/l0.conf\n")
    conf = conf_dir(root)
    if shape == "self":
        (conf / "l0.conf").symlink_to("l0.conf")
    elif shape == "pair":
        (conf / "l0.conf").symlink_to("l1.conf")
        (conf / "l1.conf").symlink_to("l0.conf")
    else:
        for index in range(50):
            (conf / f"l{index}.conf").symlink_to(f"l{index + 1}.conf")
        (conf / "l50.conf").write_text("Timeout 5\n")
    outcome = load_in_child(root, timeout=HANG_SECONDS)
    assert outcome["outcome"] == "error", outcome
    assert outcome["file"] == MAIN and outcome["line"] == 2
    assert outcome["seconds"] < SAFE_SECONDS


# -- files that cannot be opened, or are not files -----------------------------------


@pytest.mark.parametrize(
    ("setup", "include", "reason"),
    [
        ("dangling", "conf/x.conf", "No such file"),
        ("dangling-absolute", "conf/x.conf", "No such file"),
        ("file-as-directory", "conf/httpd.conf/x.conf", "Not a directory"),
        ("chmod-000", "conf/x.conf", None),  # root reads it anyway; so does httpd
    ],
)
def test_files_that_cannot_be_opened(
    tmp_path: Path, setup: str, include: str, reason: str | None
) -> None:
    root = tree(tmp_path, f"Include {include}\n")
    target = conf_dir(root) / "x.conf"
    if setup == "dangling":
        target.symlink_to("nowhere.conf")
    elif setup == "dangling-absolute":
        target.symlink_to("/nowhere/at/all.conf")
    elif setup == "chmod-000":
        target.write_text("Timeout 5\n")
        target.chmod(0)
    outcome = load_in_child(root, timeout=HANG_SECONDS)
    assert_clean(outcome)
    if reason is None:
        readable = os.access(target, os.R_OK)
        assert outcome["outcome"] == ("config" if readable else "error"), outcome
    else:
        assert outcome["outcome"] == "error" and reason in outcome["message"], outcome
        assert outcome["file"] == MAIN and outcome["line"] == 2


def test_directory_where_a_file_is_expected(tmp_path: Path) -> None:
    root = tree(tmp_path, "Include conf/x.conf\nInclude conf/empty.conf\n")
    write(root, "usr/local/apache2/conf/x.conf/inner.conf", "Timeout 8\n")
    (conf_dir(root) / "empty.conf").mkdir()
    outcome = load_in_child(root, timeout=HANG_SECONDS)
    # httpd reads a directory named by Include as the files in it.
    assert outcome["outcome"] == "config", outcome
    assert outcome["files"] == [MAIN, "usr/local/apache2/conf/x.conf/inner.conf"]
    assert outcome["settings"]["Timeout"] == "8"


def test_main_configuration_that_is_a_directory_or_fifo(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "etc/apache2/apache2.conf").mkdir(parents=True)
    (root / "etc/httpd/conf").mkdir(parents=True)
    os.mkfifo(root / "etc/httpd/conf/httpd.conf")
    result = load_in_thread(root, [root / "etc/httpd/conf/httpd.conf"])
    assert_fifo_never_opened(result)
    assert result.get("config") is None
    runner = CliRunner()
    for conf in ("/etc/apache2/apache2.conf", "/etc/httpd/conf/httpd.conf"):
        cli_result = runner.invoke(cli, ["facts", "--root", str(root), "--apache-conf", conf])
        assert cli_result.exit_code == 2 and len(cli_result.stderr.splitlines()) == 1
        assert "Traceback" not in cli_result.output


# -- FIFOs and devices ---------------------------------------------------------------


@pytest.mark.parametrize(
    "include",
    [
        "Include conf/fifo.conf",
        "IncludeOptional conf/fifo.conf",
        "Include conf/*.conf",
        "IncludeOptional conf/f*",
        "Include conf",  # the whole directory, FIFO included
    ],
)
def test_fifo_is_never_opened(tmp_path: Path, include: str) -> None:
    root = tree(tmp_path, include + "\n")
    fifo = conf_dir(root) / "fifo.conf"
    os.mkfifo(fifo)
    result = load_in_thread(root, [fifo])
    assert_fifo_never_opened(result)
    assert isinstance(result.get("error"), tcpaudit.ApacheConfigError)
    assert "not a regular file" in str(result["error"])


def test_fifo_behind_a_symlink_is_never_opened(tmp_path: Path) -> None:
    root = tree(tmp_path, "Include conf/link.conf\n")
    fifo = root / "srv/fifo"
    fifo.parent.mkdir(parents=True)
    os.mkfifo(fifo)
    (conf_dir(root) / "link.conf").symlink_to("/srv/fifo")
    result = load_in_thread(root, [fifo])
    assert_fifo_never_opened(result)
    assert "not a regular file" in str(result["error"])


def test_fifo_as_the_trees_dev_null_is_never_opened(tmp_path: Path) -> None:
    # "Include /dev/null" is legal; in an audited tree, dev/null is whatever the tree holds.
    root = tree(tmp_path, "Include /dev/null\nTimeout 6\n")
    fifo = root / "dev/null"
    fifo.parent.mkdir()
    os.mkfifo(fifo)
    result = load_in_thread(root, [fifo])
    assert_fifo_never_opened(result)


def test_fifo_as_startup_input_is_never_opened(tmp_path: Path) -> None:
    root = tmp_path / "root"
    write(root, "etc/apache2/apache2.conf", EVENT)
    os.mkfifo(root / "etc/apache2/envvars")
    write(root, "etc/httpd/conf/httpd.conf", EVENT)
    fifos = [root / "etc/apache2/envvars"]
    result = load_in_thread(root, fifos)
    assert_fifo_never_opened(result)


def _char_device(path: Path, major: int, minor: int) -> str:
    """A character device at ``path`` (mknod as root), else a symlink to the host's device."""
    try:
        os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(major, minor))
        return "mknod"
    except PermissionError:
        path.symlink_to({(1, 5): "/dev/zero", (1, 3): "/dev/null"}[(major, minor)])
        return "symlink"


@pytest.mark.parametrize(
    ("include", "device"),
    [
        ("Include conf/zero.conf", "conf/zero.conf"),
        ("Include conf/z*.conf", "conf/zero.conf"),
        ("Include conf/devs", "conf/devs/zero"),
        ("Include /dev/null", "dev/null"),  # the tree's dev/null is /dev/zero's device
    ],
)
def test_device_is_never_read(tmp_path: Path, include: str, device: str) -> None:
    root = tree(tmp_path, include + "\nTimeout 6\n")
    path = root / "usr/local/apache2" / device if device.startswith("conf") else root / device
    path.parent.mkdir(parents=True, exist_ok=True)
    _char_device(path, 1, 5)
    outcome = load_in_child(root, timeout=HANG_SECONDS, memory=GIB)
    assert_clean(outcome)
    assert outcome["seconds"] < SAFE_SECONDS
    assert str(path) not in outcome["opened"] and "/dev/zero" not in outcome["opened"]


def test_the_trees_real_dev_null_reads_as_empty(tmp_path: Path) -> None:
    root = tree(tmp_path, "Include /dev/null\nTimeout 6\n")
    (root / "dev").mkdir()
    _char_device(root / "dev/null", 1, 3)
    outcome = load_in_child(root, timeout=HANG_SECONDS)
    assert outcome["outcome"] == "config", outcome
    assert outcome["settings"]["Timeout"] == "6"


def test_huge_startup_input_is_not_read_whole(tmp_path: Path) -> None:
    root = tmp_path / "root"
    write(root, "etc/apache2/apache2.conf", EVENT + "Timeout 6\n")
    with open(root / "etc/apache2/envvars", "wb") as handle:
        handle.truncate(8 * GIB)  # sparse
    outcome = load_in_child(root, timeout=HANG_SECONDS, memory=GIB)
    assert_clean(outcome)
    assert outcome["peak_mib"] < 512


# -- variable and macro bombs --------------------------------------------------------


def test_define_doubling_bomb_is_bounded(tmp_path: Path) -> None:
    lines = ["Define a0 0123456789abcdef"]
    lines += [f"Define a{n} ${{a{n - 1}}}${{a{n - 1}}}" for n in range(1, 48)]
    root = tree(tmp_path, "\n".join(lines) + "\nServerAdmin ${a47}\n")
    outcome = load_in_child(root, timeout=HANG_SECONDS)
    assert_clean(outcome)
    assert outcome["seconds"] < SAFE_SECONDS


def test_define_referring_to_itself_does_not_loop(tmp_path: Path) -> None:
    root = tree(tmp_path, "Define x ${x}\nDefine x ${x}${x}\nServerAdmin ${x}\nTimeout 4\n")
    outcome = load_in_child(root, timeout=HANG_SECONDS)
    assert outcome["outcome"] == "config", outcome
    assert outcome["seconds"] < SAFE_SECONDS


def test_self_referencing_define_in_a_recursive_include_is_bounded(tmp_path: Path) -> None:
    # ${x} undefined stays as written, so x becomes "${x}${x}"; every include
    # level doubles it: 2**128 characters at httpd's include depth limit.
    root = tree(tmp_path, "Define x ${x}${x}\nInclude conf/httpd.conf\n")
    outcome = load_in_child(root, timeout=HANG_SECONDS)
    assert_clean(outcome)
    assert outcome["seconds"] < SAFE_SECONDS


def test_include_fan_out_stops_at_max_files_read(tmp_path: Path) -> None:
    # Six levels of ten files, each including every file of the next level:
    # 10**6 reads within httpd's limits (depth 6); MAX_FILES_READ ends it.
    root = tree(tmp_path, "Include conf/level0/*.conf\n")
    for level in range(6):
        for index in range(10):
            text = f"Include conf/level{level + 1}/*.conf\n" if level < 5 else "Timeout 5\n"
            write(root, f"usr/local/apache2/conf/level{level}/{index}.conf", text)
    # The real cap (200,000 reads) takes about 14 s here; 20,000 shows the same stop.
    outcome = load_in_child(root, timeout=HANG_SECONDS, max_files_read=20_000)
    assert outcome["outcome"] == "error", outcome
    assert "more than 20000 configuration files" in outcome["message"]
    assert outcome["file"].startswith("usr/local/apache2/conf/level")
    assert outcome["seconds"] < SAFE_SECONDS and outcome["peak_mib"] < 512


def test_many_lines_using_a_huge_define_are_bounded(tmp_path: Path) -> None:
    # 2 MB value, used on 1,000 lines: 2 GB of expanded text if nothing stops it.
    root = tree(tmp_path, "Define big " + "b" * 2_000_000 + "\n" + "ServerAdmin ${big}\n" * 1000)
    outcome = load_in_child(root, timeout=HANG_SECONDS)
    assert_clean(outcome)
    assert outcome["seconds"] < SAFE_SECONDS


@pytest.mark.parametrize(
    "body",
    [
        "<Macro m>\nUse m\n</Macro>\nUse m\n",
        "<Macro a>\nUse b\n</Macro>\n<Macro b>\nUse a\n</Macro>\nUse a\n",
        "<Macro m $x>\nUse m $x$x\n</Macro>\nUse m 1\n",
    ],
    ids=["self", "mutual", "self-with-growing-argument"],
)
def test_recursive_macro_is_an_error(tmp_path: Path, body: str) -> None:
    root = tree(tmp_path, body, header=EVENT + MACRO)
    outcome = load_in_child(root, timeout=HANG_SECONDS)
    assert outcome["outcome"] == "error" and "recursive use" in outcome["message"], outcome
    assert outcome["file"] == MAIN
    assert outcome["seconds"] < SAFE_SECONDS


def test_exponential_macro_expansion_is_bounded(tmp_path: Path) -> None:
    # m30 uses m29 twice, ... : 2**30 expanded lines, no macro used recursively.
    lines = ["<Macro m0>", "KeepAlive On", "</Macro>"]
    for level in range(1, 31):
        lines += [f"<Macro m{level}>", f"Use m{level - 1}", f"Use m{level - 1}", "</Macro>"]
    root = tree(tmp_path, "\n".join(lines) + "\nUse m30\n", header=EVENT + MACRO)
    outcome = load_in_child(root, timeout=HANG_SECONDS)
    assert_clean(outcome)
    assert outcome["seconds"] < SAFE_SECONDS


def test_macro_argument_growth_is_bounded(tmp_path: Path) -> None:
    body = "<Macro m @a>\nServerAdmin @a @a @a @a\n</Macro>\nUse m " + "x" * 100_000 + "\n"
    root = tree(tmp_path, body, header=EVENT + MACRO)
    outcome = load_in_child(root, timeout=HANG_SECONDS)
    assert_clean(outcome)
    assert outcome["seconds"] < SAFE_SECONDS


# -- confinement to --root -----------------------------------------------------------


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A directory beside the root with a marker file and a FIFO that blocks whoever opens it."""
    directory = tmp_path / "outside"
    directory.mkdir()
    (directory / "marker.conf").write_text(f"ServerAdmin {MARKER}\nTimeout 4242\n")
    os.mkfifo(directory / "zz-fifo.conf")
    return directory


def _climb(root: Path, start: Path) -> str:
    """A relative path from directory ``start`` (inside root) that climbs far above ``/``."""
    return "../" * (len(start.relative_to(root).parts) + len(root.parts) + 3)


ESCAPES = [
    "dotdot-include",
    "absolute-include",
    "absolute-glob",
    "absolute-symlink",
    "relative-symlink-climbing",
    "symlinked-directory-glob",
    "relative-symlinked-directory",
    "symlink-to-parent-then-dotdot",
    "serverroot-outside",
    "long-symlink-chain",
    "long-symlink-chain-to-directory",
    "envvars-symlink",
    "sysconfig-symlink",
]


def build_escape(tmp_path: Path, outside: Path, kind: str) -> Path:
    root = tmp_path / "root"
    conf = root / "usr/local/apache2/conf"
    conf.mkdir(parents=True)
    out = str(outside).lstrip("/")  # the outside directory as a path below /
    lines: list[str] = []
    if kind == "dotdot-include":
        lines.append(f"IncludeOptional {_climb(root, root / 'usr/local/apache2')}{out}/*.conf")
    elif kind == "absolute-include":
        lines.append(f"Include {outside}/marker.conf")
    elif kind == "absolute-glob":
        lines.append(f"IncludeOptional {outside}/*.conf")
    elif kind == "absolute-symlink":
        (conf / "m.conf").symlink_to(outside / "marker.conf")
        (conf / "n.conf").symlink_to(outside / "zz-fifo.conf")
        lines.append("IncludeOptional conf/[mn].conf")
    elif kind == "relative-symlink-climbing":
        (conf / "m.conf").symlink_to(_climb(root, conf) + out + "/marker.conf")
        (conf / "n.conf").symlink_to(_climb(root, conf) + out + "/zz-fifo.conf")
        lines.append("IncludeOptional conf/[mn].conf")
    elif kind == "symlinked-directory-glob":
        (conf / "o").symlink_to(outside)
        lines.append("IncludeOptional conf/o/*.conf")
    elif kind == "relative-symlinked-directory":
        (conf / "o").symlink_to(_climb(root, conf) + out)
        lines.append("IncludeOptional conf/o")
    elif kind == "symlink-to-parent-then-dotdot":
        (conf / "up").symlink_to("..")
        lines.append("IncludeOptional conf/up/conf/up/" + _climb(root, conf) * 2 + out + "/*.conf")
    elif kind == "serverroot-outside":
        lines += [f"ServerRoot {outside}", "IncludeOptional *.conf"]
    elif kind.startswith("long-symlink-chain"):
        # More links than RootFS follows: what it hands to open() must not be a live link.
        final = outside / "marker.conf" if kind == "long-symlink-chain" else outside
        (conf / "l60").symlink_to(final)
        for index in range(59, -1, -1):
            (conf / f"l{index}").symlink_to(f"l{index + 1}")
        lines.append("IncludeOptional conf/l0" + ("" if kind == "long-symlink-chain" else "/*"))
    elif kind == "envvars-symlink":
        write(root, "etc/apache2/apache2.conf", EVENT + "ServerAdmin ${MARKED}\n")
        (root / "etc/apache2/envvars").symlink_to(outside / "envvars")
        (outside / "envvars").write_text(f"export MARKED={MARKER}\n")
        shutil.rmtree(root / "usr")
        return root
    elif kind == "sysconfig-symlink":
        write(
            root,
            "etc/httpd/conf/httpd.conf",
            EVENT + "<IfDefine MARKED>\nInclude /x\n</IfDefine>\n",
        )
        write(root, "etc/sysconfig/.keep", "")
        (root / "etc/sysconfig/httpd").symlink_to(outside / "sysconfig")
        (outside / "sysconfig").write_text("OPTIONS=-DMARKED\n")
        shutil.rmtree(root / "usr")
        return root
    write(root, MAIN, EVENT + "\n".join(lines) + "\n")
    return root


@pytest.mark.parametrize("kind", ESCAPES)
def test_nothing_outside_the_root_is_opened(tmp_path: Path, outside: Path, kind: str) -> None:
    root = build_escape(tmp_path, outside, kind)
    outcome = load_in_child(root, timeout=HANG_SECONDS)
    assert_clean(outcome)
    assert_opened_only_inside(outcome, root)
    assert MARKER not in json.dumps(outcome)
    assert "4242" not in json.dumps(outcome.get("settings", {}))


@pytest.mark.parametrize("kind", ESCAPES)
def test_facts_never_show_a_file_outside_the_root(tmp_path: Path, outside: Path, kind: str) -> None:
    root = build_escape(tmp_path, outside, kind)
    outcome = cli_in_child(["facts", "--root", str(root)], cwd=tmp_path)
    assert_clean_cli(outcome)
    assert MARKER not in outcome["stdout"] + outcome["stderr"]
    assert not [path for path in outcome["opened"] if path.startswith(str(outside))]
    with pytest.raises(OSError) as caught:  # nobody holds the planted FIFO open
        os.close(os.open(outside / "zz-fifo.conf", os.O_WRONLY | os.O_NONBLOCK))
    assert caught.value.errno == errno.ENXIO


def test_error_for_two_mpms_names_a_file(tmp_path: Path) -> None:
    root = tree(tmp_path, "LoadModule mpm_worker_module modules/mod_mpm_worker.so\n")
    outcome = load_in_child(root, timeout=HANG_SECONDS)
    assert outcome["outcome"] == "error" and "more than one MPM" in outcome["message"]
    assert_clean(outcome)


def test_random_tree_shapes_never_escape(tmp_path: Path, outside: Path) -> None:
    """A seeded mix of every escape in one tree: still nothing outside is opened."""
    rng = random.Random(9)
    root = tmp_path / "root"
    conf = root / "usr/local/apache2/conf"
    conf.mkdir(parents=True)
    targets = [str(outside), str(outside / "marker.conf"), "..", ".", "/", "../..", "/etc"]
    targets += [_climb(root, conf) + str(outside).lstrip("/"), "nowhere"]
    for index in range(40):
        (conf / f"s{index}").symlink_to(rng.choice([*targets, f"s{rng.randrange(40)}"]))
    write(root, MAIN, EVENT + "".join(f"IncludeOptional conf/s{i}/*.conf\n" for i in range(40)))
    outcome = load_in_child(root, timeout=HANG_SECONDS)
    assert_clean(outcome)
    assert_opened_only_inside(outcome, root)
