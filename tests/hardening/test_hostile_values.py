"""Values and documents built to cost: huge numbers, deep nesting, amplification, secret globs.

Each runs the command in a capped, timed child (childrun.py): the promise is
a result or one error line, under 30 s and 1 GiB, for inputs within the
documented bounds (SECURITY.md), and that no secret value reaches an output.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from childrun import GIB, SAFE_SECONDS, assert_one_error_line, cli_in_child, clis_in_child

REPO = Path(__file__).resolve().parents[2]
INCIDENT = REPO / "examples" / "closewait-incident"
FORMATS = ("table", "json", "sarif", "junit", "markdown", "github")
SECRET = "5EC2E7-fa57-0pen-4a3b"


def _root(directory: Path, files: dict[str, str]) -> Path:
    root = directory / "root"
    shutil.copytree(INCIDENT, root, symlinks=True)
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def _every_format(root: Path, formats: tuple[str, ...], *extra: str) -> list[list[str]]:
    runs = [["audit", "--root", str(root), "--format", name, *extra] for name in formats]
    return [*runs, ["facts", "--root", str(root), *extra]]


def _audit_every_format(
    roots: list[Path], cwd: Path, *extra: str, formats: tuple[str, ...] = FORMATS
) -> list[list[dict[str, Any]]]:
    """Each format and facts for each root, all in one child; the outcomes grouped by root."""
    runs = [run for root in roots for run in _every_format(root, formats, *extra)]
    outcomes: list[dict[str, Any]] = clis_in_child(runs, cwd)["runs"]
    for outcome in outcomes:
        assert outcome["exit_code"] in (0, 1), (outcome["args"], outcome["stderr"])
        assert float(outcome["seconds"]) < SAFE_SECONDS
    size = len(formats) + 1
    return [outcomes[index : index + size] for index in range(0, len(outcomes), size)]


# -- 6. numbers no kernel holds ---------------------------------------------------------

HUGE = "9" * 4400


NUMBERS: dict[str, dict[str, str]] = {
    "retries2-int-max": {"proc/sys/net/ipv4/tcp_retries2": "2147483647\n"},
    "retries2-int-min": {"proc/sys/net/ipv4/tcp_retries2": "-2147483648\n"},
    "keepalive-300-digits": {f"proc/sys/net/ipv4/{key}": f"{'9' * 300}\n" for key in (
        "tcp_keepalive_time", "tcp_keepalive_intvl", "tcp_keepalive_probes")},
    "ulong-max": {"proc/sys/net/ipv4/tcp_keepalive_time": "18446744073709551615\n"},
    "untracked-4400-digits": {"proc/sys/net/ipv4/tcp_made_up": f"{HUGE}\n"},
    "sysctl.d-4400-digits": {"etc/sysctl.d/50-huge.conf": (
        f"net.ipv4.tcp_keepalive_time = {HUGE}\nnet.ipv4.tcp_made_up = {HUGE}\n"
        f"net.ipv4.tcp_retries2 = -{HUGE}\nnet.ipv4.tcp_rmem = 1 {HUGE} 0x{'f' * 40}\n")},
}  # fmt: skip


def test_numbers_no_kernel_holds_end_in_notes(tmp_path: Path) -> None:
    roots = [_root(tmp_path / name, files) for name, files in NUMBERS.items()]
    # The numbers reach the derived timings and every rule: one text and one JSON format suffice.
    outcomes_by_root = _audit_every_format(roots, tmp_path, formats=("table", "json"))
    for name, outcomes in zip(NUMBERS, outcomes_by_root, strict=True):
        for outcome in outcomes:
            assert HUGE not in str(outcome["stdout"]), name


def test_a_sysctl_listing_with_huge_values(tmp_path: Path) -> None:
    listing = tmp_path / "sysctl-a.txt"
    listing.write_text(
        f"net.ipv4.tcp_retries2 = 2147483647\nnet.ipv4.tcp_keepalive_time = {HUGE}\n"
        f"net.ipv4.tcp_made_up = {HUGE}\nnet.core.somaxconn = -{HUGE}\n"
    )
    root = _root(tmp_path, {})
    (outcomes,) = _audit_every_format([root], tmp_path, "--sysctl", str(listing))
    facts = json.loads(str(outcomes[-1]["stdout"]))
    settings = facts["sysctl"]["settings"]
    assert settings["net.ipv4.tcp_retries2"]["value"] == 2147483647
    assert facts["derived"]["retries2_giveup_seconds"] == 257698036764.6
    assert settings["net.ipv4.tcp_keepalive_time"]["value"] == 7200  # the line is ignored


# -- 8. documents nested deeper than any real one ---------------------------------------


def _deep_json(depth: int) -> str:
    return "[" * depth + "]" * depth


def test_deep_json_is_one_error_line(tmp_path: Path) -> None:
    cases: list[tuple[Path, list[str]]] = []
    for depth in (200, 100_000):
        for where in ("baseline", "facts", "facts-inner", "fleet"):
            document = tmp_path / f"{where}-{depth}.json"
            inner = '{"host": "h", "notes": ' + _deep_json(depth) + "}"
            document.write_text(inner if where == "facts-inner" else _deep_json(depth))
            args = {
                "baseline": ["audit", "--root", str(INCIDENT), "--baseline", str(document)],
                "facts": ["audit", "--facts", str(document)],
                "facts-inner": ["audit", "--facts", str(document)],
                "fleet": ["fleet", str(document)],
            }[where]
            cases.append((document, args))
    outcome = clis_in_child([args for _, args in cases], tmp_path)
    for (document, _), run in zip(cases, outcome["runs"], strict=True):
        assert_one_error_line(run, str(document))


# -- 8b. documents of many small values --------------------------------------------------
# Each parsed value costs memory, each validated object more, and pydantic
# made an error per bad item of a list: a 64 MiB facts document of 3 million
# places took 2.2 GB, 22 million empty lists 1.75 GB (10.8 GB in fleet), a
# 12 MB list of 2 million empty lists where names belong 2.3 GB of errors.


def test_documents_of_many_small_values_are_one_error_line(tmp_path: Path) -> None:
    facts = json.loads(cli_in_child(["facts", "--root", str(INCIDENT)], tmp_path)["stdout"])
    report = json.loads(
        cli_in_child(["audit", "--root", str(INCIDENT), "--format", "json"], tmp_path)["stdout"]
    )

    def facts_with(**apache: object) -> str:
        copy = json.loads(json.dumps(facts))
        copy["apache"].update(apache)
        return json.dumps(copy, separators=(",", ":"))

    place = {"file": "a", "line": 1}
    documents = {
        # within 64 MiB, over the counts: refused before parsing
        "places": facts_with(tls_engine_lines=[place] * 610_000),
        "empty-lists": "[" + "[]," * 2_100_000 + "[]]",
        "report-of-empty-lists": json.dumps({**report, "x": [[]] * 2_100_000}),
        # within the counts: validation stops at the first bad item
        "lists-for-names": facts_with(files=[[]] * 1_500_000),
        "numbers-for-names": facts_with(files=[1.5] * 1_500_000),
        "report-numbers-for-fingerprints": json.dumps({**report, "unlisted": [1.5] * 1_500_000}),
    }
    cases: list[tuple[Path, list[str], str]] = []
    for name, text in documents.items():
        document = tmp_path / f"{name}.json"
        document.write_text(text)
        needle = "holds more than" if name in ("places", "empty-lists") else ""
        cases.append((document, ["audit", "--facts", str(document)], needle))
        if name.startswith("report") or name == "empty-lists":
            cases.append(
                (document, ["audit", "--root", str(INCIDENT), "--baseline", str(document)], "")
            )
            cases.append((document, ["fleet", str(document)], ""))
    outcome = clis_in_child([args for _, args, _ in cases], tmp_path)
    for (document, _, needle), run in zip(cases, outcome["runs"], strict=True):
        assert_one_error_line(run, str(document), needle)
    assert "holds more than 600,000 objects" in outcome["runs"][0]["stderr"]
    assert "holds more than 4,000,000 values" in outcome["runs"][1]["stderr"]


def test_readers_of_other_shapes_stay_within_their_bounds(tmp_path: Path) -> None:
    # A pyproject.toml found in the working directory (the audited repository
    # in CI) was parsed whole by tomllib: 12 MiB of empty tables, 1.2 GB. A
    # binary of 5 million module names, 1.9 GB; a fleet report of 4 million
    # keys, 2 GB in pydantic-core's parser.
    repository = _root(tmp_path, {})
    (repository / "pyproject.toml").write_text("".join(f"[a{i}]\n" for i in range(1_400_000)))
    named = tmp_path / "named" / "house.toml"  # not found by search from the repository
    named.parent.mkdir()
    named.write_text("[tool.tcpaudit]\n" + "".join(f"[a{i}]\n" for i in range(300_000)))
    binary = _root(tmp_path / "binary", {})
    names = b"".join(b"x%d_module\0" % i for i in range(4_000_000))
    (binary / "usr/sbin").mkdir(parents=True, exist_ok=True)
    (binary / "usr/sbin/httpd").write_bytes(
        b"\x7fELF\0Apache/2.4.71 (Unix)\0\0core_module\0so_module\0" + names
    )
    keys = tmp_path / "keys.json"
    keys.write_text('{"x":{' + ",".join(f'"{i:x}":0' for i in range(3_990_000)) + "}}")
    outcome = clis_in_child(
        [
            ["audit", "--root", "."],
            ["audit", "--root", ".", "--config", str(named)],
            ["audit", "--root", str(binary)],
            ["fleet", str(keys)],
        ],
        repository,
    )
    found, too_large, with_binary, fleet = outcome["runs"]
    assert found["exit_code"] == 1, found["stderr"]  # audited: the file is not tcpaudit's
    assert_one_error_line(too_large, str(named), "larger than 1048576 bytes")
    # The run is no module table: an upstream build of the banner, which the
    # RHEL tree does not suit; one error line, within the child's 1 GiB.
    assert_one_error_line(with_binary, "etc/httpd/conf/httpd.conf")
    assert_one_error_line(fleet, str(keys), "host")


def test_sysctl_lines_without_equals_are_counted_not_noted_one_by_one(tmp_path: Path) -> None:
    # Each ignored line made a note kept until the end: 1 MiB of "x" lines in
    # a sysctl.d file took 445 MB (16 files: 5.9 GB, a MemoryError), 8 MiB
    # given as --sysctl 3.3 GB and 44 s.
    root = tmp_path / "root"
    (root / "etc/sysctl.d").mkdir(parents=True)
    for index in range(3):
        (root / f"etc/sysctl.d/{index:02d}-x.conf").write_text("xy\n" * 349_000)
    listing = tmp_path / "listing.txt"
    listing.write_text("net.ipv4.tcp_keepalive_time = 7200\n" + "xy\n" * 2_800_000)
    (tmp_path / "empty").mkdir()
    outcome = clis_in_child(
        [
            ["facts", "--root", str(root)],
            ["facts", "--root", str(tmp_path / "empty"), "--sysctl", str(listing)],
        ],
        tmp_path,
    )
    for run in outcome["runs"]:
        assert run["exit_code"] == 0, run["stderr"]
        notes = json.loads(run["stdout"])["sysctl"]["notes"]
        assert any("more lines without '=': not noted one by one" in n["message"] for n in notes)


def test_facts_places_out_of_shape_are_one_error_line(tmp_path: Path) -> None:
    # A line below 1 went into SARIF's startLine as it was; a "file:line"
    # whose line is not a number raised a traceback when a fix was built.
    facts = json.loads(cli_in_child(["facts", "--root", str(INCIDENT)], tmp_path)["stdout"])
    vhost = facts["apache"]["vhosts"][0]
    route = {"path": "/a", "url": "http://backend.example/", "file": vhost["file"], "line": 1,
             "params": {"timeout": "900"}}  # fmt: skip
    hostile = {
        "place-not-a-number": {**route, "param_lines": {"timeout": "x.conf:abc"}},
        "place-without-line": {**route, "worker_at": "x.conf"},
        "place-line-zero": {**route, "shared_with": "x.conf:0"},
        "place-arabic-digits": {**route, "param_lines": {"timeout": "x.conf:\u0661\u0662"}},
        # Ten digits: more than a line number holds (2^31 - 1 at most).
        "place-ten-digits": {**route, "worker_at": "x.conf:9999999999"},
        "place-beyond-int": {**route, "param_lines": {"timeout": "x.conf:2147483648"}},
        "route-line-negative": {**route, "line": -7},
    }
    cases: list[tuple[Path, list[str]]] = []
    for name, changed in hostile.items():
        document = tmp_path / f"{name}.json"
        copy = json.loads(json.dumps(facts))
        copy["apache"]["vhosts"][0]["proxy_routes"] = [changed]
        document.write_text(json.dumps(copy))
        cases.append((document, ["audit", "--facts", str(document), "--format", "sarif"]))
    copy = json.loads(json.dumps(facts))
    copy["apache"]["vhosts"][0]["line"] = 0
    (tmp_path / "vhost-line-zero.json").write_text(json.dumps(copy))
    cases.append(
        (
            tmp_path / "vhost-line-zero.json",
            ["audit", "--facts", str(tmp_path / "vhost-line-zero.json")],
        )
    )
    outcome = clis_in_child([args for _, args in cases], tmp_path)
    for (document, _), run in zip(cases, outcome["runs"], strict=True):
        assert_one_error_line(run, str(document))
        assert "apache.vhosts.0." in run["stderr"], run


def test_json_constants_beyond_json_are_one_error_line(tmp_path: Path) -> None:
    # Python's json reads NaN and Infinity; a baseline holding one was taken.
    report = json.loads(
        cli_in_child(["audit", "--root", str(INCIDENT), "--format", "json"], tmp_path)["stdout"]
    )
    cases: list[tuple[Path, list[str]]] = []
    for literal in ("NaN", "Infinity", "-Infinity"):
        for where in ("baseline", "facts"):
            document = tmp_path / f"{where}{literal}.json"
            text = json.dumps(report, indent=2).replace('"score": 0', f'"score": {literal}', 1)
            assert literal in text
            document.write_text(text)
            args = (
                ["audit", "--root", str(INCIDENT), "--baseline", str(document)]
                if where == "baseline"
                else ["audit", "--facts", str(document)]
            )
            cases.append((document, args))
    outcome = clis_in_child([args for _, args in cases], tmp_path)
    for (document, _), run in zip(cases, outcome["runs"], strict=True):
        assert_one_error_line(run, str(document))
        assert "is not a JSON value (line" in run["stderr"], run


@pytest.mark.parametrize(
    "text",
    [
        "id: TA950\n" + "x:\n" + "".join("  " * i + f"- k{i}:\n" for i in range(1, 3000)),
        "id: TA950\nx: " + "[" * 50_000 + "]" * 50_000 + "\n",
        # An alias bomb: nine levels of ten aliases name 10^9 nodes.
        "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
        + "".join(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]\n" for i in range(1, 10)),
    ],
    ids=["deep-block", "deep-flow", "alias-bomb"],
)
def test_hostile_rule_files_are_one_error_line(tmp_path: Path, text: str) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "TA950-hostile.yaml").write_text(text)
    outcome = cli_in_child(["rules", "--rules-dir", str(rules)], tmp_path)
    assert_one_error_line(outcome, "TA950-hostile.yaml")


LONG = "9" * 4400  # int() refuses more than 4,300 digits with a ValueError


def test_numbers_too_long_for_int_in_every_named_input(tmp_path: Path) -> None:
    """tcpaudit.toml, a rule file, --baseline, --facts, fleet, ss and netstat captures."""
    capture = REPO / "tests/diagnose/fixtures/keepalive-drained"
    ss_rows = (capture / "ss-tanpoe.txt").read_text().splitlines()
    netstat_rows = (capture / "netstat-tanp.txt").read_text().splitlines()
    files = {
        # Not in the working directory, where every other command would find it.
        "config/tcpaudit.toml": f'profile = "internal"\nfail_on = {LONG}\n',
        "rules/TA951-long.yaml": f"id: TA951\nseverity: {LONG}\n",
        "baseline.json": '{"fingerprints": [' + LONG + "]}",
        "facts.json": '{"host": "h", "apache": ' + LONG + "}",
        "report.json": '{"schema_version": ' + LONG + "}",
        "ss-queue.txt": "\n".join([ss_rows[0], ss_rows[1].replace(" 3 ", f" {LONG} ", 1)]),
        "ss-port.txt": "\n".join([ss_rows[0], ss_rows[2].replace(":60521", f":{LONG}", 1)]),
        "netstat.txt": "\n".join(
            [*netstat_rows[:2], netstat_rows[2].replace(" 3 ", f" {LONG} ", 1)]
        ),
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    cases = {
        "tcpaudit.toml:2": ["audit", "--root", str(INCIDENT), "--config", "config/tcpaudit.toml"],
        "TA951-long.yaml": ["rules", "--rules-dir", "rules"],
        "baseline.json": ["audit", "--root", str(INCIDENT), "--baseline", "baseline.json"],
        "facts.json": ["audit", "--facts", "facts.json"],
        "report.json": ["fleet", "report.json"],
        "ss-queue.txt": ["diagnose", "--root", str(capture), "--ss", "ss-queue.txt"],
        "ss-port.txt": ["diagnose", "--root", str(capture), "--ss", "ss-port.txt"],
        "netstat.txt": ["diagnose", "--root", str(capture), "--netstat", "netstat.txt"],
    }
    outcome = clis_in_child(list(cases.values()), tmp_path)
    for name, run in zip(cases, outcome["runs"], strict=True):
        line = assert_one_error_line(run, name)
        assert len(line) < 400, line  # the number is not copied whole


def test_a_rule_file_linking_out_of_its_directory_is_not_read(tmp_path: Path) -> None:
    """A pull request's tcpaudit.toml names its rules directory; a link there leads to the host."""
    host_file = tmp_path / "host-secret.yaml"
    host_file.write_text(f"{SECRET}: 1\n")
    repo = tmp_path / "repo"
    (repo / "rules").mkdir(parents=True)
    (repo / "tcpaudit.toml").write_text('rules_dirs = ["rules"]\n')
    (repo / "rules" / "TA952-linked.yaml").symlink_to(host_file)
    outcome = clis_in_child(
        [["rules"], ["audit", "--root", str(INCIDENT)], ["explain", "TA952"]], repo
    )
    for run in outcome["runs"]:
        line = assert_one_error_line(run, "TA952-linked.yaml", "symbolic link")
        assert SECRET not in line
    assert str(host_file) not in outcome["opened"]


# -- 11. amplification --------------------------------------------------------------------


def test_many_sysctl_files_of_distinct_keys(tmp_path: Path) -> None:
    # 24 files of just under 1 MiB, 30,000 distinct keys each: 52 s, 4.9 GB and a
    # 223 MB report before the bounds.
    files = {
        f"etc/sysctl.d/{n:02d}-k.conf": "".join(
            f"net.ipv4.k{n}_{i} = {i}\n" for i in range(30_000)
        )[: 1024 * 1024 - 1]
        for n in range(24)
    }
    root = _root(tmp_path, files)
    outcome = cli_in_child(["audit", "--root", str(root), "--format", "json"], tmp_path)
    assert outcome["exit_code"] == 1, outcome["stderr"]
    assert float(outcome["seconds"]) < SAFE_SECONDS
    assert float(outcome["peak_mib"]) < 1024
    assert len(outcome["stdout"]) < 200_000
    notes = json.loads(outcome["stdout"])["notes"]
    assert any("more notes like this one left out" in note["message"] for note in notes)


def test_a_listing_of_a_million_lines(tmp_path: Path) -> None:
    listing = tmp_path / "sysctl-a.txt"
    with listing.open("w") as handle:
        for i in range(1_000_000):
            handle.write(
                f"net.ipv4.conf.if{i}.rp_filter = 1\n" if i % 2 else f"net.ipv4.k{i} = {i}\n"
            )
    written = tmp_path / "facts.json"
    outcome = cli_in_child(
        ["facts", "--root", str(INCIDENT), "--sysctl", str(listing), "-o", str(written)],
        tmp_path,
        memory=GIB,
    )
    assert outcome["exit_code"] == 0, outcome["stderr"]
    assert float(str(outcome["seconds"])) < SAFE_SECONDS
    facts = json.loads(written.read_text())
    assert len(facts["sysctl"]["settings"]) <= 10_000 + 20
    assert any("more keys not kept" in note["message"] for note in facts["sysctl"]["notes"])


def test_glob_lines_over_many_interfaces_are_bounded(tmp_path: Path) -> None:
    listing = tmp_path / "sysctl-a.txt"
    listing.write_text(
        "".join(f"net.ipv4.conf.if{i}.rp_filter = 1\n" for i in range(9_000))
        + "net.ipv4.tcp_retries2 = 15\n"
    )
    root = _root(tmp_path, {"etc/sysctl.d/10-g.conf": "net.ipv4.conf.*.* = 2\n" * 5_000})
    written = tmp_path / "facts.json"
    outcome = cli_in_child(
        ["facts", "--root", str(root), "--sysctl", str(listing), "-o", str(written)],
        tmp_path,
        memory=GIB,
    )
    assert outcome["exit_code"] == 0, outcome["stderr"]
    assert float(str(outcome["seconds"])) < SAFE_SECONDS
    notes = json.loads(written.read_text())["sysctl"]["notes"]
    assert any("not expanded: globs already set" in note["message"] for note in notes)


# -- 12. a glob that names a secret key -------------------------------------------------


SECRET_LINES = (
    f"net.ipv4.tcp_fastopen_ke? = {SECRET}",
    f"net/ipv4/tcp_fastopen_k[e]y = {SECRET}",
    f"net.ipv4.tcp_* = {SECRET}",
    f"-net.ipv4.tcp_fast*open_key = {SECRET}",
    f"net.core.netdev_rss_* = {SECRET}",
    f"net.ipv4.tcp_fastopen_key = {SECRET}",
)


def test_a_secret_never_reaches_an_output(tmp_path: Path) -> None:
    roots = [
        _root(tmp_path / str(index), {"etc/sysctl.d/60-tfo.conf": f"{line}\n"})
        for index, line in enumerate(SECRET_LINES)
    ]
    for line, outcomes in zip(SECRET_LINES, _audit_every_format(roots, tmp_path), strict=True):
        for outcome in outcomes:
            assert SECRET not in str(outcome["stdout"]) + str(outcome["stderr"]), line


def test_diagnose_inputs_built_to_cost(tmp_path: Path) -> None:
    """A capture of a million continuation lines, and status URLs Python cannot fetch."""
    capture = REPO / "tests/diagnose/fixtures/backlog-full"
    head = (capture / "ss-tanpoe.txt").read_text().splitlines()[:2]
    (tmp_path / "ss-continued.txt").write_text("\n".join(head) + "\n" + " x\n" * 1_000_000)
    bad_urls = [
        "http://[::1/x",
        "http://localhost:8 0/",
        "http://localhost:99999/",
        "http://localhost:0/",
    ]
    base = ["diagnose", "--root", str(capture), "--ss", str(capture / "ss-tanpoe.txt")]
    outcome = clis_in_child(
        [
            ["diagnose", "--root", str(capture), "--ss", "ss-continued.txt"],
            *[[*base, "--status-url", url] for url in bad_urls],
        ],
        tmp_path,
    )
    continued, *refused = outcome["runs"]
    assert continued["exit_code"] in (0, 1), continued["stderr"]
    assert continued["seconds"] < SAFE_SECONDS  # it was quadratic: 3 MB took minutes
    for url, run in zip(bad_urls, refused, strict=True):
        assert_one_error_line(run, "--status-url", "not a URL")
        assert url in run["stderr"]


def test_start_up_files_built_to_cost(tmp_path: Path) -> None:
    """A unit of half a million continuation lines, and envvars repeating a glob trim."""
    debian = REPO / "tests/corpus/debian-12-apache2.4"
    unit_root = tmp_path / "unit"
    shutil.copytree(debian, unit_root, symlinks=True)
    unit = unit_root / "etc/systemd/system/apache2.service"
    unit.parent.mkdir(parents=True, exist_ok=True)
    unit.write_text("[Service]\nEnvironment=A=1 \\\n" + "\\\n" * 500_000 + "x\n")
    trim_root = tmp_path / "trim"
    shutil.copytree(debian, trim_root, symlinks=True)
    envvars = trim_root / "etc/apache2/envvars"
    envvars.write_text(envvars.read_text() + "X=" + "a" * 4095 + "c\n" + "Y=${X#a*c}\n" * 10_000)
    outcome = clis_in_child(
        [["facts", "--root", str(unit_root)], ["facts", "--root", str(trim_root)]], tmp_path
    )
    unit_run, trim_run = outcome["runs"]
    assert unit_run["exit_code"] == 0, unit_run["stderr"]
    assert unit_run["seconds"] < SAFE_SECONDS  # it was quadratic: 15 s for one such file
    # Minutes of pattern matching before; now the expansion bound ends it.
    assert_one_error_line(trim_run, "etc/apache2/envvars", "shell expansion")
    assert trim_run["seconds"] < SAFE_SECONDS


def test_ten_thousand_proxied_vhosts_are_audited_in_time(tmp_path: Path) -> None:
    """Each finding's fix looked its line up by walking the whole tree: quadratic (48 s)."""
    vhosts = "".join(
        f"<VirtualHost *:80>\nServerName v{i}.example\nProxyPass /a/ http://127.0.0.1:8080/\n"
        "</VirtualHost>\n"
        for i in range(10_000)
    )
    root = _root(tmp_path, {"etc/httpd/conf.d/many.conf": vhosts})
    report = tmp_path / "report.json"
    outcome = cli_in_child(
        ["audit", "--root", str(root), "--format", "json", "-o", str(report)], tmp_path
    )
    assert outcome["exit_code"] == 1, outcome["stderr"]
    assert outcome["seconds"] < SAFE_SECONDS
    document = json.loads(report.read_text())
    # One per vhost and the incident's own route: the worst 250 listed, a note
    # for the rest (test_findings_bound.py).
    assert sum(finding["rule"] == "TA108" for finding in document["findings"]) == 250
    assert any(note["message"].startswith("TA108: 9,750 more") for note in document["notes"])


def test_a_nul_byte_in_a_per_interface_key(tmp_path: Path) -> None:
    # A sysctl.d key naming an interface with a NUL reached os.open: a
    # ValueError traceback instead of a result (found by the long fuzz run).
    root = _root(tmp_path, {
        "etc/sysctl.d/60-x.conf": "net.ipv4.conf.e\x00th0.rp_filter = 1\n"
                                  "net.ipv4.conf.*.accept_redirects\x00 = 0\n",
        "proc/sys/net/ipv4/conf/eth0/rp_filter": "1\n",
    })  # fmt: skip
    outcomes = clis_in_child(_every_format(root, ("json", "table")), tmp_path)["runs"]
    for outcome in outcomes:
        assert outcome["exit_code"] in (0, 1), (outcome["args"], outcome["stderr"])
