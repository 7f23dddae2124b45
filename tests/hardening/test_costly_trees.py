"""Configuration trees built to cost: each within the documented sizes, each once slow or huge.

Every case ran for a minute or took gigabytes before its bound existed:
directory links that fan out without looping, mod_macro substitution over
many parameters, macros expanding to gigabytes of text, start-up files of
hundreds of thousands of commands, and tens of thousands of directive names
no known module registers. The promise (SECURITY.md): a result or one error
line naming file and line, under 30 s and 1 GiB.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest
from childrun import SAFE_SECONDS, assert_one_error_line, audit_in_child, clis_in_child

REPO = Path(__file__).resolve().parents[2]
DEBIAN = REPO / "tests/corpus/debian-12-apache2.4"


def _debian(tmp_path: Path, name: str, *modules: str) -> Path:
    """Debian's stock tree, with ``modules`` enabled as a2enmod enables them."""
    root = tmp_path / name
    shutil.copytree(DEBIAN, root, symlinks=True)
    for module in modules:
        (root / f"etc/apache2/mods-enabled/{module}.load").symlink_to(
            f"../mods-available/{module}.load"
        )
    return root


def _append(root: Path, relative: str, text: str) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        handle.write(text)


def _fan_out(root: Path, levels: int, last_file: bool) -> None:
    """``dag/d{i}/a`` and ``dag/d{i}/b`` both link to ``d{i+1}``: 2**levels paths, no loop."""
    base = root / "etc/apache2/dag"
    for level in range(levels + 1):
        (base / f"d{level}").mkdir(parents=True)
    for level in range(levels):
        for name in "ab":
            (base / f"d{level}" / name).symlink_to(f"../d{level + 1}")
    if last_file:
        (base / f"d{levels}" / "x.conf").write_text("Timeout 5\n")
    _append(root, "etc/apache2/apache2.conf", "IncludeOptional dag/d0\n")


def test_directory_links_that_fan_out_end_in_an_error(tmp_path: Path) -> None:
    # 18 levels: 262,143 directories to read (16 took over a minute before).
    fan_out = _debian(tmp_path, "fan-out")
    _fan_out(fan_out, 18, last_file=True)
    # A directory per vhost, read recursively: 2,000 directories are no fan-out.
    wide = _debian(tmp_path, "wide")
    for index in range(2_000):
        _append(wide, f"etc/apache2/vhosts/v{index}/site.conf", f"ServerAlias v{index}.example\n")
    _append(
        wide, "etc/apache2/apache2.conf", "<VirtualHost *:80>\nInclude vhosts/\n</VirtualHost>\n"
    )
    runs = clis_in_child([["facts", "--root", str(root)] for root in (fan_out, wide)], tmp_path)[
        "runs"
    ]
    assert_one_error_line(
        runs[0], "etc/apache2/apache2.conf:", "more than 100000 directories read", "fan out"
    )
    assert runs[0]["seconds"] < SAFE_SECONDS
    assert runs[1]["exit_code"] == 0, runs[1]["stderr"]
    facts = json.loads(runs[1]["stdout"])
    assert sum("/vhosts/v" in name for name in facts["apache"]["files"]) == 2_000


def test_macros_built_to_cost(tmp_path: Path) -> None:
    # 1,000 parameters named 1,100 times, used 25 times: about a minute before.
    many = _debian(tmp_path, "many-parameters")
    parameters = " ".join(f"$p{index}" for index in range(1_000))
    body = " ".join(f"$p{index % 1_000}" for index in range(1_100))
    values = " ".join(f"v{index}" for index in range(1_000))
    _append(many, "etc/apache2/conf-enabled/zz-macro.conf",
            f"<Macro big {parameters}>\n<IfDefine NEVER>\nServerAdmin {body}\n</IfDefine>\n"
            f"</Macro>\n" + f"Use big {values}\n" * 25)  # fmt: skip
    # A line of 8,000 characters used 99,000 times: 1.65 GB before.
    wide = _debian(tmp_path, "wide-text")
    _append(wide, "etc/apache2/conf-enabled/zz-macro.conf",
            "<Macro wide $a>\nServerAdmin $a" + "x" * 8_000 + "\n</Macro>\n"
            + "".join(f"Use wide {index}\n" for index in range(99_000)))  # fmt: skip
    for root in (many, wide):
        (root / "etc/apache2/mods-enabled/macro.load").symlink_to("../mods-available/macro.load")
    many_run, wide_run = clis_in_child(
        [["facts", "--root", str(many)], ["facts", "--root", str(wide)]], tmp_path
    )["runs"]
    assert many_run["exit_code"] == 0, many_run["stderr"]
    assert many_run["seconds"] < SAFE_SECONDS
    assert_one_error_line(
        wide_run, "etc/apache2/conf-enabled/zz-macro.conf:", "macros expand to more than"
    )
    assert wide_run["seconds"] < SAFE_SECONDS


def test_start_up_files_of_many_commands(tmp_path: Path) -> None:
    # Three sourced files whose second line is 500,000 commands: 1.3 GB of
    # notes before.
    flood = _debian(tmp_path, "flood")
    for index in range(3):
        _append(flood, f"etc/apache2/big{index}", f"BIG{index}=x\n" + "a;" * 500_000 + "\n")
        _append(flood, "etc/apache2/envvars", f". /etc/apache2/big{index}\n")
    # Under the bound: 90,000 commands it does not evaluate, one note per kind left.
    many = _debian(tmp_path, "many")
    _append(many, "etc/apache2/envvars", "frobnicate;" * 90_000 + "\n")
    flood_run, many_run = clis_in_child(
        [["facts", "--root", str(flood)], ["facts", "--root", str(many)]], tmp_path
    )["runs"]
    assert_one_error_line(flood_run, "etc/apache2/big0:2:", "more than 100000 shell commands")
    assert flood_run["seconds"] < SAFE_SECONDS
    assert many_run["exit_code"] == 0, many_run["stderr"]
    notes = [note["message"] for note in json.loads(many_run["stdout"])["apache"]["notes"]]
    frobnicate = [message for message in notes if "'frobnicate'" in message]
    assert len(frobnicate) == 21, notes
    assert frobnicate[-1].startswith("89980 more notes like this one left out")


def test_thousands_of_unknown_directive_names(tmp_path: Path) -> None:
    # A module tcpaudit cannot know, and 50,000 names it might register, each
    # used 6 times: 70 s and a 12 MB report of notes before.
    root = _debian(tmp_path, "third-party")
    (root / "usr/lib/apache2/modules").mkdir(parents=True)
    (root / "usr/lib/apache2/modules/mod_foo.so").write_bytes(b"")
    _append(root, "etc/apache2/conf-enabled/zz.conf",
            "LoadModule foo_module /usr/lib/apache2/modules/mod_foo.so\n"
            + "".join(f"FooThing{index % 50_000} x\n" for index in range(300_000)))  # fmt: skip
    (run,) = clis_in_child([["facts", "--root", str(root)]], tmp_path)["runs"]
    assert run["exit_code"] == 0, run["stderr"]
    assert run["seconds"] < SAFE_SECONDS
    notes = [note["message"] for note in json.loads(run["stdout"])["apache"]["notes"]]
    unknown = [message for message in notes if "not known to tcpaudit" in message]
    # The first 100 names noted (20 shown, as for any kind of note), the rest counted.
    assert len(unknown) == 22, unknown
    assert unknown[-2].startswith("80 more notes like this one left out: directive FooThing20")
    assert unknown[-1].startswith("49900 more directive names not known to tcpaudit")


def test_variables_defines_and_binaries_built_to_cost(tmp_path: Path) -> None:
    # 2,000,000 uses of an undefined ${U}: 2 million notes, 3.5 GB before.
    undefined = _debian(tmp_path, "undefined")
    _append(undefined, "etc/apache2/conf-enabled/z.conf",
            "<VirtualHost *:80>\n" + ("ServerAlias " + "${U}" * 2_000 + "\n") * 1_000
            + "</VirtualHost>\n" + "".join(f"ServerAdmin ${{V{i}}}\n" for i in range(300)))  # fmt: skip
    # 100,000 distinct Define names: quadratic, 82 s before.
    defines = _debian(tmp_path, "defines")
    _append(defines, "etc/apache2/conf-enabled/z.conf",
            "".join(f"Define D{index}\n" for index in range(100_000))
            + "".join(f"UnDefine D{index}\n" for index in range(0, 100_000, 2))
            + "<IfDefine D99999>\nTimeout 77\n</IfDefine>\n")  # fmt: skip
    # An "httpd binary" repeating the module table's first name: minutes before.
    binary = _debian(tmp_path, "binary")
    (binary / "usr/sbin").mkdir(parents=True)
    (binary / "usr/sbin/apache2").write_bytes(
        b"\0Apache/2.4.62 (Debian)\0" + b"\0core_module" * 200_000 + b"\0so_module\0"
    )
    runs = clis_in_child(
        [["facts", "--root", str(root)] for root in (undefined, defines, binary)], tmp_path
    )["runs"]
    for run in runs:
        assert run["seconds"] < SAFE_SECONDS, run["args"]
    assert runs[0]["exit_code"] == 0, runs[0]["stderr"]
    notes = [note["message"] for note in json.loads(runs[0]["stdout"])["apache"]["notes"]]
    assert "config variable ${U} is not defined (and 1999999 more uses)" in notes
    assert sum("is not defined" in message for message in notes) <= 22, notes
    assert any(message.startswith("201 more uses of config variables") for message in notes)
    assert runs[1]["exit_code"] == 0, runs[1]["stderr"]
    assert json.loads(runs[1]["stdout"])["apache"]["settings"]["Timeout"]["value"] == 77
    # The table lists core_module and so_module only: httpd's own refusal follows.
    assert_one_error_line(runs[2], "Invalid command")


def test_thousands_of_vhosts_with_their_own_timers(tmp_path: Path) -> None:
    # Each finding recomputed the hold timings of every vhost: 2,000 took 87 s.
    root = _debian(tmp_path, "vhosts")
    # Each on an address something listens on: a vhost no connection
    # reaches is judged by no rule.
    _append(root, "etc/apache2/conf-enabled/z.conf", "".join(
        f"Listen 10.0.{i // 250}.{i % 250}:{1024 + i}\n"
        f"<VirtualHost 10.0.{i // 250}.{i % 250}:{1024 + i}>\nServerName h{i}.example\n"
        f"Timeout {i % 500 + 1}\nKeepAliveTimeout {i % 100 + 1}\n"
        "RequestReadTimeout header=1 body=1\n</VirtualHost>\n"
        for i in range(5_000)))  # fmt: skip
    _, document = audit_in_child(root, tmp_path)
    # Most vhosts have one: the worst 250 of each rule listed, a note counts the rest.
    left_out = sum(
        int(match.group(1).replace(",", ""))
        for note in document["notes"]
        if (match := re.match(r"TA\d+: ([\d,]+) more finding", note["message"]))
    )
    assert len(document["findings"]) + left_out > 4_000


def test_server_routes_times_vhosts_with_their_own_timers(tmp_path: Path) -> None:
    # TA108 paired every server-level route with every vhost that sets a
    # Timeout, and worked out each pair's wait: 2,000 routes and 4,000 vhosts
    # (367 KB) took 40 s though no pair found anything.
    root = _debian(tmp_path, "routes", "proxy", "proxy_http")
    _append(root, "etc/apache2/conf-enabled/z.conf", "".join(
        f"ProxyPass /p{i} http://127.0.0.1:{1000 + i}/x{i}\n" for i in range(2_000)
    ) + "".join(
        f"<VirtualHost *:80>\nServerName h{i}.example\nTimeout {10 + 990 * (i == 3_999)}\n"
        "</VirtualHost>\n"
        for i in range(4_000)
    ))  # fmt: skip
    _, document = audit_in_child(root, tmp_path)
    # Each route waits Debian's Timeout 300 in the main server and the last
    # vhost's 1000 there: 4,000 findings, 250 listed and a note for the rest.
    listed = sum(1 for f in document["findings"] if f["rule"] == "TA108")
    (note,) = [n["message"] for n in document["notes"] if n["message"].startswith("TA108:")]
    assert listed + int(note.split()[1].replace(",", "")) == 4_000


def test_routes_times_balancer_members_stop_at_the_memory_bound(tmp_path: Path) -> None:
    # Each route to a balancer is copied once per member, and nothing counted
    # the copies: 1,000 members and 1,000 routes (66 KB) took 1.6 GB, 2,000
    # of each ended in a traceback. 200 of each (40,000 copies) are read.
    modules = ("proxy", "proxy_http", "proxy_balancer", "slotmem_shm", "lbmethod_byrequests")
    root = _debian(tmp_path, "balancer", *modules)

    def balancer(count: int) -> str:
        members = "".join(f"BalancerMember http://m{i}.example:80\n" for i in range(count))
        routes = "".join(f"ProxyPass /r{i} balancer://b/\n" for i in range(count))
        return f"<Proxy balancer://b>\n{members}</Proxy>\n{routes}"

    (root / "etc/apache2/conf-enabled/z.conf").write_text(balancer(2_000))
    small = _debian(tmp_path, "small", *modules)
    (small / "etc/apache2/conf-enabled/z.conf").write_text(balancer(200))
    big, read = clis_in_child(
        [["facts", "--root", str(root)], ["facts", "--root", str(small)]], tmp_path
    )["runs"]
    assert_one_error_line(big, "etc/apache2/conf-enabled/z.conf:", "MiB of memory")
    assert big["seconds"] < SAFE_SECONDS
    assert read["exit_code"] == 0, read["stderr"]


def test_thousands_of_processes_holding_one_socket(tmp_path: Path) -> None:
    # diagnose searched a socket's holders for each process that holds it:
    # 30,000 children sharing a listener (a large prefork pool) took two
    # minutes. Each also holds the socket twice, which lists it once.
    root = tmp_path / "root"
    shutil.copytree(REPO / "tests/diagnose/fixtures/healthy", root, symlinks=True)
    listener = (root / "proc/net/tcp").read_text().splitlines()[1].split()
    assert listener[3] == "0A"  # LISTEN
    for index in range(20_000):
        fd = root / f"proc/{100_000 + index}/fd"
        fd.mkdir(parents=True)
        (fd / "3").symlink_to(f"socket:[{listener[9]}]")
        (fd / "4").symlink_to(f"socket:[{listener[9]}]")
        (fd.parent / "comm").write_text("worker\n")
    (run,) = clis_in_child([["diagnose", "--root", str(root), "--format", "json"]], tmp_path)[
        "runs"
    ]
    assert run["exit_code"] in (0, 1), run["stderr"]
    assert run["seconds"] < SAFE_SECONDS


def test_configurations_that_need_gigabytes_stop_at_the_memory_bound(tmp_path: Path) -> None:
    # Within the bounds on files (64 MiB each, 200,000 of them) and yet
    # gigabytes of tree: one file of 6.6 million directives, 300 files of
    # 60,000 (each below the loops' check interval), lines of 7.9 million
    # words each (a line holds less than 16 MiB, as in httpd; one of 21
    # million words is refused as too long). Each ended in MemoryError under
    # the 1 GiB cap before.
    dense = _debian(tmp_path, "dense")
    _append(dense, "etc/apache2/conf-enabled/z.conf", "Timeout 1\n" * 6_600_000)
    many = _debian(tmp_path, "many")
    for index in range(300):
        _append(many, f"etc/apache2/conf-enabled/z{index:03d}.conf", "Timeout 1\n" * 60_000)
    wide = _debian(tmp_path, "wide")
    _append(wide, "etc/apache2/conf-enabled/z.conf",
            "<VirtualHost *:80>\n" + ("ServerAlias " + "a " * 7_900_000 + "\n") * 4
            + "</VirtualHost>\n")  # fmt: skip
    # One child each: memory one run leaves behind would count against the next.
    runs = [clis_in_child([["facts", "--root", str(root)]], tmp_path)["runs"][0]
            for root in (dense, many, wide)]  # fmt: skip
    for run, where in zip(runs, ("z.conf:", "conf-enabled/z", "z.conf:2:"), strict=True):
        assert_one_error_line(run, where, "takes more than 640 MiB of memory")
        assert run["seconds"] < SAFE_SECONDS


def test_configurations_of_more_bytes_than_a_load_reads(tmp_path: Path) -> None:
    # Five files of 60 MB, each under the 64 MiB a file may hold: time grows
    # with the bytes read (470 MB of long quoted values took 26 s), so one
    # load reads 256 MiB in all, then refuses at the Include that goes past.
    heavy = _debian(tmp_path, "heavy")
    block = ("# " + "x" * 998 + "\n") * 1000
    for index in range(5):
        _append(heavy, f"etc/apache2/conf-enabled/z{index}.conf", block * 60)
    run = clis_in_child([["facts", "--root", str(heavy)]], tmp_path)["runs"][0]
    assert_one_error_line(
        run, "etc/apache2/apache2.conf:", "more than 268435456 bytes in all", "conf-enabled/z4.conf"
    )
    assert run["seconds"] < SAFE_SECONDS


def test_patterns_built_to_backtrack(tmp_path: Path) -> None:
    # <IfVersion ~ regex>: Python's engine backtracked for minutes on a
    # 100-byte configuration; an Include wildcard of many stars did the same
    # against one long file name, locally and through a snapshot.
    redos = _debian(tmp_path, "ifversion")
    _append(redos, "etc/apache2/apache2.conf",
            "<IfVersion ~ (.?){40}(.?){40}(.?){40}x>\nTimeout 1\n</IfVersion>\n"
            "<IfVersion ~ ^2\\.4\\.[0-9]+$>\nKeepAliveTimeout 3\n</IfVersion>\n")  # fmt: skip
    fine = _debian(tmp_path, "ifversion-fine")
    _append(fine, "etc/apache2/apache2.conf",
            "<IfVersion ~ ^2\\.4\\.[0-9]+$>\nKeepAliveTimeout 3\n</IfVersion>\n")  # fmt: skip
    glob = _debian(tmp_path, "glob")
    (glob / "etc/apache2/many").mkdir()
    for index in range(20):
        (glob / "etc/apache2/many" / ("a" * 250 + str(index))).write_text("")
    (glob / "etc/apache2/many/aaaaaab").write_text("KeepAliveTimeout 4\n")
    _append(glob, "etc/apache2/apache2.conf", "IncludeOptional many/*a*a*a*a*a*a*b\n")
    runs = clis_in_child(
        [["facts", "--root", str(root), "--apache-version", "2.4.62"]
         for root in (redos, fine, glob)], tmp_path
    )["runs"]  # fmt: skip
    for run in runs:
        assert run["seconds"] < SAFE_SECONDS, run["args"]
    assert_one_error_line(runs[0], "etc/apache2/apache2.conf:", "takes more than 2 s to match")
    assert runs[1]["exit_code"] == 0, runs[1]["stderr"]
    settings = json.loads(runs[1]["stdout"])["apache"]["settings"]
    assert settings["KeepAliveTimeout"]["value"] == 3
    assert runs[2]["exit_code"] == 0, runs[2]["stderr"]
    assert json.loads(runs[2]["stdout"])["apache"]["settings"]["KeepAliveTimeout"]["value"] == 4


def test_sarif_fixes_of_thousands_of_findings_in_one_file(tmp_path: Path) -> None:
    # Each finding is planned alone on the whole file: 6,000 vhosts of one
    # 276 KB file took 97 s. Past a bound of work the rest get no fix here.
    root = _debian(tmp_path, "fix-many")
    _append(root, "etc/apache2/conf-enabled/vhosts.conf",
            "<VirtualHost *:80>\nTimeout 300\n</VirtualHost>\n" * 6_000)  # fmt: skip
    output = tmp_path / "fixes.sarif"
    (run,) = clis_in_child(
        [["fix", "--root", str(root), "--format", "sarif", "-o", str(output)]], tmp_path
    )["runs"]
    assert run["exit_code"] in (0, 1), run["stderr"]
    assert run["seconds"] < SAFE_SECONDS
    log = json.loads(output.read_text())
    results = log["runs"][0]["results"]
    with_fixes = sum("fixes" in result for result in results)
    assert 0 < with_fixes < len(results)
    assert any("findings are given no fix here" in note
               for note in log["runs"][0]["properties"]["notes"])  # fmt: skip


def test_sarif_fixes_of_findings_in_a_file_that_holds_a_secret(tmp_path: Path) -> None:
    # A file holding a secret gets no fix, yet each finding read it and checked
    # it whole for secrets, and only the fixes' text was counted as work: 751
    # findings on a file of 20,000 ProxyPass lines took 38 s (fuzz seed 13,
    # input 8566). The files read count now.
    root = _debian(tmp_path, "fix-held")
    lines = "".join(f"LoadModule {name}_module /usr/lib/apache2/modules/mod_{name}.so\n"
                    for name in ("proxy", "proxy_http", "headers"))  # fmt: skip
    lines += "<VirtualHost *:80>\nServerName held.example\n"
    # Each a backend of its own: ProxyPass lines to one worker share it, and
    # are judged once, where it is defined.
    lines += "".join(f"ProxyPass /{index}/ http://b{index}.example:8080/\n"
                     for index in range(20_000)) + "</VirtualHost>\n"  # fmt: skip
    lines += 'RequestHeader set Authorization "Bearer SECRET-CANARY-3f9a0000"\n'
    _append(root, "etc/apache2/conf-enabled/held.conf", lines)
    output = tmp_path / "held.sarif"
    (run,) = clis_in_child(
        [["fix", "--root", str(root), "--format", "sarif", "-o", str(output)]], tmp_path
    )["runs"]
    assert run["exit_code"] in (0, 1), run["stderr"]
    assert run["seconds"] < SAFE_SECONDS
    text = output.read_text()
    assert "SECRET-CANARY" not in text
    results = json.loads(text)["runs"][0]["results"]
    assert sum("held.conf" in json.dumps(result) for result in results) > 100


def test_a_binary_repeating_its_version_string(tmp_path: Path) -> None:
    # Every match of the version string was kept: about 1 GB for a binary of
    # just under 64 MiB (the bound on binaries); now the first banner ends it.
    root = _debian(tmp_path, "versions")
    (root / "usr/sbin").mkdir(parents=True)
    (root / "usr/sbin/apache2").write_bytes(b"Apache/1.1.1" * (64 * 1024 * 1024 // 12 - 10))
    outcome = clis_in_child([["facts", "--root", str(root)]], tmp_path)
    (run,) = outcome["runs"]
    assert run["seconds"] < SAFE_SECONDS
    assert outcome["peak_mib"] < 512  # the 64 MiB file and its text, not its matches
    assert run["exit_code"] in (0, 2), run["stderr"]
    if run["exit_code"] == 2:
        assert_one_error_line(run)


def _chain(directory: Path, last: str) -> None:
    """``c0 -> c1 -> ... -> c38 -> last``: 39 links, one short of the kernel's limit."""
    for index in range(38):
        os.symlink(f"c{index + 1}", directory / f"c{index}")
    os.symlink(last, directory / "c38")


def test_names_each_the_head_of_a_long_link_chain(tmp_path: Path) -> None:
    # Every name resolved through 39 links: 100,000 sysctl.d names took 52 s
    # (only 1,000 files are read), 50,000 included files 47 s.
    sysctl_root = _debian(tmp_path, "sysctl")
    sysctl_d = sysctl_root / "etc/sysctl.d"
    sysctl_d.mkdir(parents=True, exist_ok=True)
    (sysctl_d / "real").write_text("net.ipv4.tcp_keepalive_time = 600\n")
    _chain(sysctl_d, "real")
    for index in range(100_000):
        os.symlink("c0", sysctl_d / f"x{index:06d}.conf")
    include_root = _debian(tmp_path, "include")
    conf = include_root / "etc/apache2/conf-enabled"
    (conf / "real").write_text("# empty\n")
    _chain(conf, "real")
    for index in range(50_000):
        os.symlink("c0", conf / f"x{index:06d}.conf")
    runs = [["facts", "--root", str(root)] for root in (sysctl_root, include_root)]
    sysctl_run, include_run = clis_in_child(runs, tmp_path)["runs"]
    assert sysctl_run["exit_code"] == 0, sysctl_run["stderr"]
    notes = json.loads(sysctl_run["stdout"])["sysctl"]["notes"]
    assert any(n["message"].startswith("99000 more sysctl files not read") for n in notes)
    assert_one_error_line(include_run, "conf-enabled/x", "symbolic links followed in all")
    for run in (sysctl_run, include_run):
        assert run["seconds"] < SAFE_SECONDS


def test_variable_references_without_an_end(tmp_path: Path) -> None:
    # '${' or '%{' repeated with no '}' after it: the patterns finding
    # ${NAME} and %{NAME}e scanned from each one to the end of the line
    # (40,000 of them, 80 KB: 35 s a line, over 140 s for the four lines).
    root = _debian(tmp_path, "unended")
    repeated = 40_000
    _append(root, "etc/apache2/conf-enabled/unended.conf",
            f"<IfModule mod_env.c>\nSetEnv X {'%{' * repeated}\n</IfModule>\n"
            f"SetEnvIf Request_URI . Y={'${' * repeated}\n"
            f"ServerAdmin {'${' * repeated}}}\n"
            f"<IfModule mod_headers.c>\nRequestHeader set X-A {'%{env:' * repeated}\n"
            "</IfModule>\n")  # fmt: skip
    run = clis_in_child([["facts", "--root", str(root)]], tmp_path)["runs"][0]
    assert run["seconds"] < SAFE_SECONDS, run["seconds"]
    assert run["exit_code"] == 0, run["stderr"]
    # httpd's reading: ServerAdmin's one ${NAME} runs to the '}' (undefined, kept).
    notes = [note["message"] for note in json.loads(run["stdout"])["apache"]["notes"]]
    assert "config variable " + "${" * repeated + "} is not defined" in notes


def test_a_package_database_of_one_long_stanza(tmp_path: Path) -> None:
    # dpkg's status file read for httpd's version: a stanza of "Package:"
    # lines made the stanza pattern quadratic (8,000 lines: 13 s; these
    # 2 MiB of them would have taken hours). The stanza after it still counts.
    root = _debian(tmp_path, "dpkg")
    _append(root, "var/lib/dpkg/status",
            "Package: apache2-bin\n" * 100_000 + "\n"
            "Package: apache2-bin\nStatus: install ok installed\nVersion: 2.4.57-2\n")  # fmt: skip
    run = clis_in_child([["facts", "--root", str(root)]], tmp_path)["runs"][0]
    assert run["seconds"] < SAFE_SECONDS, run["seconds"]
    assert run["exit_code"] == 0, run["stderr"]
    assert json.loads(run["stdout"])["apache"]["version"] == "2.4.57"


def test_a_sysconfig_file_of_blank_lines(tmp_path: Path) -> None:
    # openSUSE's /etc/sysconfig/apache2 names the MPM: a pattern starting
    # with \s* under MULTILINE ran from every line start over every blank
    # line after it (40,000 of them: 2.9 s; these 900,000 would take minutes).
    root = tmp_path / "suse"
    shutil.copytree(REPO / "tests/corpus/opensuse-leap-15-apache2.4", root, symlinks=True)
    blank_then_not = "\n" * 900_000 + "# not yet\n"
    (root / "etc/sysconfig/apache2").write_text(blank_then_not + 'APACHE_MPM="worker"\n')
    run = clis_in_child([["facts", "--root", str(root)]], tmp_path)["runs"][0]
    assert run["seconds"] < SAFE_SECONDS, run["seconds"]
    assert run["exit_code"] == 0, run["stderr"]
    assert json.loads(run["stdout"])["apache"]["mpm"] == "worker"


def test_include_lines_two_thousand_directories_deep(
    tmp_path: Path, deep_trees: list[Path]
) -> None:
    """Past 3,072 bytes of path, each name looked up opened every directory
    from the root: five Include lines of a file 1,990 directories deep (a
    3,992-byte path) took 43 s."""
    deep = _debian(tmp_path, "deep")
    deep_trees.append(deep)
    relative = "/".join(["a"] * 1990)
    descriptor = os.open(deep / "etc/apache2", os.O_RDONLY | os.O_DIRECTORY)
    try:
        for _ in range(1990):
            os.mkdir("a", dir_fd=descriptor)
            inner = os.open("a", os.O_RDONLY | os.O_DIRECTORY, dir_fd=descriptor)
            os.close(descriptor)
            descriptor = inner
        written = os.open("f0.conf", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=descriptor)
        os.write(written, b"ServerAdmin deep@example.org\n")
        os.close(written)
    finally:
        os.close(descriptor)
    _append(deep, "etc/apache2/apache2.conf", f"Include {relative}/f0.conf\n" * 5)
    (run,) = clis_in_child([["facts", "--root", str(deep)]], tmp_path)["runs"]
    assert run["exit_code"] == 0, run["stderr"]
    assert run["seconds"] < SAFE_SECONDS
    files = json.loads(run["stdout"])["apache"]["files"]
    assert sum(name.endswith("/f0.conf") for name in files) >= 1


def test_conf_default_lines_times_interfaces(tmp_path: Path) -> None:
    # Each conf/default write is copied by the kernel to every interface never
    # written: 20,000 lines on a host with 700 interfaces took 36 s.
    root = _debian(tmp_path, "interfaces")
    for index in range(700):
        _append(root, f"proc/sys/net/ipv4/conf/eth{index}/rp_filter", "1\n")
    _append(root, "etc/sysctl.conf", "".join(
        f"net.ipv4.conf.default.rp_filter = {i % 3}\n" for i in range(20_000)))  # fmt: skip
    facts = tmp_path / "facts.json"
    (run,) = clis_in_child([["facts", "--root", str(root), "-o", str(facts)]], tmp_path)["runs"]
    assert run["exit_code"] == 0, run["stderr"]
    assert run["seconds"] < SAFE_SECONDS
    assert "modelled up to" in facts.read_text()


def test_macro_secrets_built_to_cost(tmp_path: Path) -> None:
    # A password parameter beside a thousand ${B} of a MiB each: the line
    # as it reads was built whole (1.9 GB); a thousand secret parameters in
    # one URL used 350 times: 78 s (each Use's expansion compared with
    # every other's, a thousand values searched in each).
    wide = _debian(tmp_path, "wide-references", "proxy", "proxy_http", "headers")
    _append(wide, "etc/apache2/conf-enabled/zz-macro.conf",
            "Define B " + "a" * (1 << 20) + "\n<Macro S $pw>\n"
            "ProxyPass /a http://u:$pw@127.0.0.1:8081/\n"
            'Header set X-A "$pw' + "${B}" * 600 + '"\n</Macro>\nUse S CanaryHorse\n')  # fmt: skip
    many = _debian(tmp_path, "many-secrets", "proxy", "proxy_http")
    parameters = [f"$q{index:03x}" for index in range(1_000)]
    _append(many, "etc/apache2/conf-enabled/zz-macro.conf",
            f"<Macro S {' '.join(parameters)}>\n"
            f"ProxyPass /a http://u:{''.join(parameters)}@127.0.0.1:8081/\n</Macro>\n"
            + "".join("Use S " + " ".join(f"{use:03x}{index:03x}" for index in range(1_000))
                      + "\n" for use in range(350)))  # fmt: skip
    for root in (wide, many):
        (root / "etc/apache2/mods-enabled/macro.load").symlink_to("../mods-available/macro.load")
    wide_run, many_run = clis_in_child(
        [["facts", "--root", str(wide)], ["facts", "--root", str(many)]], tmp_path
    )["runs"]
    assert_one_error_line(
        wide_run, "etc/apache2/conf-enabled/zz-macro.conf:", "substitution produces more than"
    )
    assert wide_run["seconds"] < SAFE_SECONDS
    assert many_run["exit_code"] == 0, many_run["stderr"]
    assert many_run["seconds"] < SAFE_SECONDS
    assert "001002" not in many_run["stdout"]


def test_macro_secret_parameters_are_not_worked_out_again_per_define(tmp_path: Path) -> None:
    # 2,000 macros, one that uses its macro by a parameter, then 2,000 Defines
    # each followed by a Use: the secret parameters of every macro were
    # worked out again after each Define (2 min 22 s, 1.4 GB, then an error).
    root = _debian(tmp_path, "defines-between-uses")
    macros = "".join(f"<Macro Mk{index} $a>\n" + "Timeout 5\n" * 20 + "</Macro>\n"
                     for index in range(2_000))  # fmt: skip
    _append(root, "etc/apache2/conf-enabled/zz-macro.conf",
            macros + "<Macro Z $a>\n</Macro>\n<Macro Dyn $m $p>\nUse $m $p\n</Macro>\n"
            + "".join(f"Define X{index}\nUse Dyn Z v\n" for index in range(2_000)))  # fmt: skip
    (root / "etc/apache2/mods-enabled/macro.load").symlink_to("../mods-available/macro.load")
    (run,) = clis_in_child([["facts", "--root", str(root)]], tmp_path)["runs"]
    assert run["exit_code"] == 0, run["stderr"]
    assert run["seconds"] < SAFE_SECONDS


def test_macro_definitions_between_uses_of_a_macro_named_by_a_parameter(tmp_path: Path) -> None:
    # A macro defined before each of 4,000 Uses of one naming its macro by a
    # parameter: every macro's secret parameters were worked out at each Use
    # (1 min 34 s, then the CPU bound's error).
    root = _debian(tmp_path, "definitions-between-uses")
    _append(root, "etc/apache2/conf-enabled/zz-macro.conf",
            "<Macro A $m $p>\nUse $m $p\n</Macro>\n<Macro M0 $q>\nServerAdmin $q\n</Macro>\n"
            + "".join(f"<Macro D{index} $x>\nServerAdmin $x\n</Macro>\nUse A M0 v\n"
                      for index in range(4_000)))  # fmt: skip
    (root / "etc/apache2/mods-enabled/macro.load").symlink_to("../mods-available/macro.load")
    (run,) = clis_in_child([["facts", "--root", str(root)]], tmp_path)["runs"]
    assert run["exit_code"] == 0, run["stderr"]
    assert run["seconds"] < SAFE_SECONDS


def test_continued_lines_built_to_cost(tmp_path: Path) -> None:
    # Each joined a line by copying all it had joined at every step: an 8,000
    # character value ending in a backslash at the end of 4,000 body lines
    # (1 min 18 s), a line of 1.6 million backslashes then as many empty lines
    # (1 min), the same after a Use whose expansion continues on them; and an
    # unknown name of 30 MB looked up for a likely spelling (1.3 GB; a line
    # holds less than 16 MiB since, as in httpd: here 16 MB).
    expansion = _debian(tmp_path, "expansion", "macro")
    _append(expansion, "etc/apache2/conf-enabled/zz-macro.conf",
            "<Macro Long $a>\n" + "$a\n" * 4_000 + "</Macro>\n"
            + 'Use Long "' + "a" * 8_000 + '\\\\"\n')  # fmt: skip
    empty = _debian(tmp_path, "empty")
    _append(empty, "etc/apache2/conf-enabled/zz-empty.conf",
            "Timeout 5" + "\\" * 1_600_000 + "\n" * 1_600_001 + "KeepAlive On\n")  # fmt: skip
    after_use = _debian(tmp_path, "after-use", "macro")
    _append(after_use, "etc/apache2/conf-enabled/zz-after.conf",
            '<Macro M $v>\nServerAdmin $v\n</Macro>\nUse M "a\\\\"\n'
            + "\\" * 1_600_000 + "\n" * 1_600_001 + "\\\n" * 500_000 + "KeepAlive On\n")  # fmt: skip
    name = _debian(tmp_path, "name")
    _append(name, "etc/apache2/conf-enabled/zz-name.conf", "a" * 16_000_000 + "\n")
    runs = clis_in_child(
        [["facts", "--root", str(root)] for root in (expansion, empty, after_use, name)], tmp_path
    )["runs"]
    for run in runs:
        assert run["seconds"] < SAFE_SECONDS
    assert_one_error_line(runs[0], "Invalid command 'aaaa", "more characters)")
    assert runs[1]["exit_code"] == 0, runs[1]["stderr"]
    settings = json.loads(runs[1]["stdout"])["apache"]["settings"]
    assert settings["Timeout"]["value"] == 5
    assert settings["Timeout"]["file"] == "etc/apache2/conf-enabled/zz-empty.conf"
    assert runs[2]["exit_code"] == 0, runs[2]["stderr"]
    line = assert_one_error_line(runs[3], "zz-name.conf:1: Invalid command 'aaaa")
    assert len(line) < 5_000


def test_macro_headers_and_bodies_built_to_cost(tmp_path: Path) -> None:
    # 100,000 parameters compared pairwise for a repeat (1 min 18 s); 16 Mi
    # empty body lines each kept as a line (3.5 GB, a MemoryError under
    # 1 GiB); 10,000 parameters against 90,000 body Defines (4 min 53 s).
    header = _debian(tmp_path, "header", "macro")
    _append(header, "etc/apache2/conf-enabled/zz-macro.conf",
            "<Macro M " + " ".join(f"$p{index}" for index in range(100_000))
            + ">\nServerAdmin x\n</Macro>\n")  # fmt: skip
    empty = _debian(tmp_path, "empty-body", "macro")
    _append(empty, "etc/apache2/conf-enabled/zz-macro.conf",
            "<Macro M $a>\n" + "\n" * (16 * 1024 * 1024) + "ServerAdmin $a\n</Macro>\nUse M x\n")  # fmt: skip
    defines = _debian(tmp_path, "defines", "macro")
    _append(defines, "etc/apache2/conf-enabled/zz-macro.conf",
            "<Macro M " + " ".join(f"$p{index}" for index in range(10_000)) + ">\n"
            + "Define A x\n" * 90_000 + "</Macro>\n"
            + "Use M " + " ".join(f"v{index}" for index in range(10_000)) + "\n")  # fmt: skip
    runs = clis_in_child(
        [["facts", "--root", str(root)] for root in (header, empty, defines)], tmp_path
    )["runs"]
    for run in runs:
        assert run["seconds"] < SAFE_SECONDS
    assert runs[0]["exit_code"] == 0, runs[0]["stderr"]
    assert runs[1]["exit_code"] == 0, runs[1]["stderr"]
    # Every parameter is taken for a secret's past the bound, and hiding ten
    # thousand of them in 90,000 lines is past the bound of hiding.
    assert_one_error_line(runs[2], "zz-macro.conf:", "arguments holding secrets in 90000 lines")


def test_large_files_built_to_cost(tmp_path: Path) -> None:
    # 63 Mi empty lines read by the general loop (a copy of the line list:
    # 1.15 GB, a MemoryError traceback under 1 GiB); 70,000 Listen lines
    # (a new list of addresses, validated, per line: 57 s).
    empty = _debian(tmp_path, "empty-lines")
    _append(empty, "etc/apache2/conf-enabled/zz-empty.conf",
            "<IfModule foo_module>\n" + "\n" * (63 * 1024 * 1024) + "</IfModule>\n")  # fmt: skip
    listen = _debian(tmp_path, "listen")
    _append(listen, "etc/apache2/conf-enabled/zz-listen.conf",
            "".join(f"Listen 127.0.0.{1 + index % 2}:{1000 + index // 2}\n"
                    for index in range(70_000)))  # fmt: skip
    runs = clis_in_child([["facts", "--root", str(root)] for root in (empty, listen)], tmp_path)[
        "runs"
    ]
    for run in runs:
        assert run["seconds"] < SAFE_SECONDS
        assert run["exit_code"] == 0, run["stderr"]
    listens = json.loads(runs[1]["stdout"])["apache"]["settings"]["Listen"]["value"]
    assert len(listens) == 70_001  # Debian's own Listen 80 first


def test_macro_secrets_over_many_words_built_to_cost(tmp_path: Path) -> None:
    # 800 parameters, each in every one of 1,500 (or 5,000) long body lines
    # holding a URL password: each line judged per parameter, and each
    # parameter found by a scan of the parameter list (32 s, 1 min 50 s).
    roots = []
    for lines in (1_500, 5_000):
        root = _debian(tmp_path, f"words-{lines}", "macro", "proxy", "proxy_http")
        parameters = [f"$p{index:03d}" for index in range(800)]
        line = "ProxyPass /a http://u:pw@h/ " + " ".join(f"k={p}" for p in parameters) + "\n"
        _append(root, "etc/apache2/conf-enabled/zz-macro.conf",
                "<Macro M " + " ".join(parameters) + ">\n" + line * lines + "</Macro>\n"
                + "Use M " + " ".join(f"v{index:03d}" for index in range(800)) + "\n")  # fmt: skip
        roots.append(root)
    runs = clis_in_child([["facts", "--root", str(root)] for root in roots], tmp_path)["runs"]
    for run in runs:
        assert run["seconds"] < SAFE_SECONDS
        assert_one_error_line(run, "zz-macro.conf:", "argument and line pairs")


def test_each_vhost_address_is_parsed_once_per_audit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every rule looking at scopes parsed every vhost's address again: 150,000
    # IP vhosts took 43 s (24 parses each), a facts document of 200,000 64 s.
    # More addresses than vhost_addresses' cache holds, so none is found there.
    from click.testing import CliRunner

    from tcpaudit import vhost_matching
    from tcpaudit.cli import cli

    count = 6_000
    root = _debian(tmp_path, "ip-vhosts")
    _append(root, "etc/apache2/sites-enabled/many.conf", "".join(
        f"<VirtualHost 10.{i // 62500}.{i // 250 % 250}.{i % 250}:80>\n"
        f"ServerName h{i}.example\nTimeout {i % 7 + 1}\n</VirtualHost>\n"
        for i in range(count)))  # fmt: skip
    parses = 0
    parse = vhost_matching._address_key

    def counted(word: str) -> tuple[str, str]:
        nonlocal parses
        parses += 1
        return parse(word)

    monkeypatch.setattr(vhost_matching, "_address_key", counted)
    vhost_matching.vhost_addresses.cache_clear()
    result = CliRunner().invoke(cli, ["audit", "--root", str(root), "--format", "json"])
    assert result.exit_code in (0, 1), result.output
    assert json.loads(result.output)["findings"]  # the rules did look at the vhosts
    # Once in the audit, once for the facts' hold timings (outside it).
    assert parses <= 3 * count, parses


def test_many_macro_arguments_copied_where_a_credential_header_reads(tmp_path: Path) -> None:
    # One Use of 1,500 arguments a body's SetEnv copies where a credential
    # header reads it, after an 8 MB argument: the Use line was split again per
    # argument (2,704 after 4 MB: 41 s, the CPU bound's error only after the work).
    # Two letters each: the body line fits mod_macro's 8,192 bytes.
    letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
    names = [f"${first}{second}" for first in letters for second in letters][:1_500]
    root = _debian(tmp_path, "copied-arguments", "headers", "macro")
    _append(root, "etc/apache2/conf-enabled/z.conf",
            f"Define V abcd\n<Macro Copy $big {' '.join(names)}>\n"
            f"SetEnv UPHDR {''.join(names)}\n</Macro>\n"
            f"Use Copy {'y' * 8_000_000} {' '.join('${V}' for _ in names)}\n"
            'RequestHeader set Authorization "Bearer %{UPHDR}e"\n')  # fmt: skip
    output = tmp_path / "facts.json"
    (run,) = clis_in_child([["facts", "--root", str(root), "-o", str(output)]], tmp_path)["runs"]
    assert run["exit_code"] == 0, run["stderr"]
    assert run["seconds"] < SAFE_SECONDS
    # Not vacuous: V reaches the credential header, so its Define is a secret's.
    places = json.loads(output.read_text())["apache"]["secret_value_lines"]
    assert {"file": "etc/apache2/conf-enabled/z.conf", "line": 1} in places


def test_patterns_of_hidden_lines_are_compiled_within_the_cpu_bound(tmp_path: Path) -> None:
    # A SetEnvIf line comparing Authorization is hidden as read and judged on
    # its words as written: each pattern compiled (60 KiB: about 0.1 s) counts
    # in the load's CPU time, checked between compiles, not every 65,536 lines.
    root = _debian(tmp_path, "hidden-patterns")  # mod_setenvif is enabled there
    _append(root, "etc/apache2/conf-enabled/z.conf", "".join(
        f'SetEnvIf Authorization "^Bearer ({"ab|" * 20_000}{index})$" ok=1\n'
        for index in range(300)))  # fmt: skip
    runs = [["audit", "--root", str(root), "--format", "json"]]
    (run,) = clis_in_child(runs, tmp_path, env={"TCPAUDIT_LOAD_CPU_SECONDS": "2"})["runs"]
    assert_one_error_line(run, "conf-enabled/z.conf:", "reading the configuration takes")
    assert run["seconds"] < SAFE_SECONDS


def test_a_chain_of_macros_copying_their_argument(tmp_path: Path) -> None:
    # 3,000 macros, each copying its argument into a variable and using the
    # next: every Use looked up each enclosing one by a slice of its chain
    # (cubic: the 15 s CPU bound's error on a configuration apache2 accepts).
    root = _debian(tmp_path, "copying-chain", "macro")
    _append(root, "etc/apache2/conf-enabled/z.conf", "".join(
        f"<Macro M{index} $v>\nSetEnv X $v\nUse M{index + 1} $v\n</Macro>\n"
        for index in range(3_000)) + "<Macro M3000 $v>\nSetEnv X $v\n</Macro>\nUse M0 abc\n")  # fmt: skip
    (run,) = clis_in_child([["facts", "--root", str(root)]], tmp_path)["runs"]
    assert run["exit_code"] == 0, run["stderr"]
    assert run["seconds"] < SAFE_SECONDS


def _rhel(tmp_path: Path, name: str) -> Path:
    root = tmp_path / name
    conf = root / "etc/httpd/conf/httpd.conf"
    conf.parent.mkdir(parents=True)
    conf.write_text(
        "ServerRoot /etc/httpd\nLoadModule mpm_event_module modules/mod_mpm_event.so\nListen 80\n"
    )
    (root / "etc/redhat-release").write_text("Red Hat Enterprise Linux release 9.4\n")
    return root


def test_long_words_of_the_start_up_files_are_shown_in_linear_time(tmp_path: Path) -> None:
    # A word of 120 KiB on httpd's command line (sysconfig's OPTIONS) or in an
    # envvars error line was searched for credential shapes by patterns that
    # started again at every character: 89 s and 60 s (a 96 KiB name).
    options = _rhel(tmp_path, "options")
    (options / "etc/sysconfig").mkdir()
    (options / "etc/sysconfig/httpd").write_text(
        'OPTIONS="-C #' + "a" * 122_000 + " -D " + "b:" * 30_000 + '"\n'
    )
    envvars = _debian(tmp_path, "envvars")
    _append(envvars, "etc/apache2/envvars", ". " + "a:" * 48_000 + "\n")
    runs = clis_in_child(
        [["facts", "--root", str(options), "--apache-build", "rhel"],
         ["facts", "--root", str(envvars)]], tmp_path
    )["runs"]  # fmt: skip
    for run in runs:
        assert run["seconds"] < 10, (run["args"], run["seconds"])
    assert runs[0]["exit_code"] == 0, runs[0]["stderr"]
    assert_one_error_line(runs[1], "etc/apache2/envvars:")


def test_an_exec_start_expanding_past_what_execve_passes_is_one_error(tmp_path: Path) -> None:
    # "-C ${X}" 4,000 times with X of 120 KiB: a unit of 155 KB made 470 MB
    # of arguments (1.48 GB resident: past the child's 1 GiB); execve refuses
    # more than 2 MiB.
    root = _rhel(tmp_path, "unit")
    unit = root / "etc/systemd/system/httpd.service"
    unit.parent.mkdir(parents=True)
    unit.write_text(
        "[Service]\nEnvironment=X=#" + "a" * 120_000 + "\n"
        "ExecStart=/usr/sbin/httpd " + "-C ${X} " * 4_000 + "-DFOREGROUND\n"
    )
    run = clis_in_child([["facts", "--root", str(root), "--apache-build", "rhel"]], tmp_path)[
        "runs"
    ][0]
    assert_one_error_line(run, "etc/systemd/system/httpd.service:3: ExecStart= expands to more")
    assert run["seconds"] < SAFE_SECONDS


def test_a_command_line_continued_by_many_directives_is_read_in_linear_time(
    tmp_path: Path,
) -> None:
    # A unit's -C directives that fill httpd's growing line buffer exactly
    # (a line of up to 2 MB, from environment-file values), then 145,000
    # "\<LF>" directives continuing it: each copied the whole line again
    # (30 s of CPU; a library call with 1,000,000 of them, minutes).
    from tcpaudit.apache.command_line import _Buffer

    root = _rhel(tmp_path, "continued")
    values = (("B", 100_000), ("C", 10_000), ("D", 1_000), ("E", 100), ("F", 10))
    (root / "etc/sysconfig").mkdir()
    (root / "etc/sysconfig/httpd").write_text(
        "".join(f"{name}=" + "a" * size + "\n" for name, size in values)
    )

    def word(length: int, tail: str = "") -> str:
        out, left = "", length - 1
        for name, size in values:
            count, left = divmod(left, size)
            out += ("${" + name + "}") * count
        return '"-C#' + out + "a" * left + tail + '"'

    buffer, held, words = _Buffer(), 0, []
    while buffer.avail - 1 <= 1_900_000:
        words.append(word(buffer.avail - held - 1))
        held = buffer.avail - 1
        buffer.grow(buffer.avail * 2)
    words += [word(1_000, "\\\\\\n"), *["-C\\\\\\n"] * 145_000, '"-CDefine Y 1"']
    unit = root / "etc/systemd/system/httpd.service"
    unit.parent.mkdir(parents=True)
    unit.write_text(
        "[Service]\nEnvironmentFile=/etc/sysconfig/httpd\nExecStart=/usr/sbin/httpd "
        + " ".join(words)
        + " -DFOREGROUND\n"
    )
    run = clis_in_child([["facts", "--root", str(root), "--apache-build", "rhel"]], tmp_path)[
        "runs"
    ][0]
    assert run["exit_code"] == 0, run["stderr"]
    assert run["seconds"] < 10, run["seconds"]
