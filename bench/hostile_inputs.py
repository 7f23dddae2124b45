"""Time and memory of tcpaudit on hostile inputs at the documented bounds (SECURITY.md).

Each case builds its input in a scratch directory, then runs the command as
a new process (``python -m tcpaudit ...``) and reports its wall time, its
peak resident memory (from wait4) and how it ended. The promise is under
30 s and under 1 GiB for every input within the bounds; the script exits 1
when a case misses it.

Run: python bench/hostile_inputs.py [--only NAME] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
INCIDENT = REPO / "examples" / "closewait-incident"
SECONDS_BOUND = 30.0
MIB_BOUND = 1024.0
MIB = 1024 * 1024


def _root(work: Path) -> Path:
    root = work / "root"
    shutil.copytree(INCIDENT, root, symlinks=True)
    (root / "etc/sysctl.d").mkdir(exist_ok=True)
    return root


def sysctl_files_at_the_bounds(work: Path) -> list[str]:
    """1,000 sysctl.d files, 16 MiB in all, every line a distinct key (the boot tools read them all)."""
    root = _root(work)
    for index in range(1000):
        lines = [f"net.ipv4.k{index}_{n} = {n}" for n in range(800)]
        (root / f"etc/sysctl.d/{index:04d}-k.conf").write_text("\n".join(lines) + "\n")
    return ["audit", "--root", str(root), "--format", "json"]


def sysctl_files_of_a_megabyte(work: Path) -> list[str]:
    """24 files of just under 1 MiB of distinct keys (52 s, 4.9 GB, a 223 MB report before)."""
    root = _root(work)
    for index in range(24):
        text = "".join(f"net.ipv4.k{index}_{n} = {n}\n" for n in range(40_000))
        (root / f"etc/sysctl.d/{index:02d}-k.conf").write_text(text[: MIB - 1])
    return ["audit", "--root", str(root), "--format", "json"]


def listing_of_64_mib(work: Path) -> list[str]:
    """A `sysctl -a` listing of 64 MiB: 2 million lines of distinct keys and interfaces."""
    listing = work / "sysctl-a.txt"
    with listing.open("w") as handle:
        index = 0
        while handle.tell() < 64 * MIB - 100:
            handle.write(
                f"net.ipv4.conf.if{index}.rp_filter = 1\n"
                if index % 2
                else f"net.ipv4.k{index} = 1\n"
            )
            index += 1
    return ["facts", "--root", str(INCIDENT), "--sysctl", str(listing)]


def globs_over_interfaces(work: Path) -> list[str]:
    """100,000 glob lines over a live tree of 4,096 interfaces (the interface bound)."""
    root = _root(work)
    conf = root / "proc/sys/net/ipv4/conf"
    for index in range(4096):
        directory = conf / f"if{index}"
        directory.mkdir(parents=True)
        for name in ("rp_filter", "accept_redirects", "log_martians"):
            (directory / name).write_text("1\n")
    for index in range(3):  # 100,000 lines, each file under the 1 MiB the boot tools read
        (root / f"etc/sysctl.d/1{index}-g.conf").write_text("net.ipv4.conf.*.* = 2\n" * 33_334)
    return ["facts", "--root", str(root)]


def snapshot_of_64_mib(work: Path) -> list[str]:
    """A facts document of 64 MiB: a snapshot of 10,000 files of 6 kB."""
    files = {
        # A comment of 6 kB each: httpd refuses a line that is not a directive.
        f"/etc/httpd/conf.d/{index:05d}.conf": {"content": f"# {index} " + "x" * 6000 + "\n"}
        for index in range(10_000)
    }
    files["/etc/httpd/conf/httpd.conf"] = {
        "content": "LoadModule mpm_event_module modules/mod_mpm_event.so\nInclude conf.d/*.conf\n"
    }
    document = work / "snapshot.json"
    document.write_text(json.dumps({"format": "tcpaudit-snapshot/1", "host": "h", "files": files}))
    return ["audit", "--facts", str(document), "--format", "json"]


def baseline_of_64_mib(work: Path) -> list[str]:
    """A --baseline report just under 64 MiB: 100,000 findings (the most a report may hold)."""
    finding = {"rule": "TA101", "setting": "Timeout", "scope": None, "current": 300,
               "location": {"file": "etc/httpd/conf/httpd.conf", "line": 1}}  # fmt: skip
    document = {"schema_version": 1, "tool": {"name": "tcpaudit"}, "findings": []}
    findings = document["findings"]
    assert isinstance(findings, list)
    for index in range(100_000):
        findings.append({**finding, "scope": f"<VirtualHost *:80> v{index}.example" + "x" * 500})
    baseline = work / "baseline.json"
    baseline.write_text(json.dumps(document))
    return ["audit", "--root", str(INCIDENT), "--baseline", str(baseline), "--format", "json"]


def deep_json_of_64_mib(work: Path) -> list[str]:
    """A facts document of 64 MiB of nested brackets."""
    document = work / "deep.json"
    document.write_text("[" * (32 * MIB) + "]" * (32 * MIB))
    return ["audit", "--facts", str(document)]


def vhosts_of_four_findings(work: Path) -> list[str]:
    """20,000 vhosts with four findings each, as SARIF (188 MB and 1.8 GB before)."""
    root = _root(work)
    (root / "etc/httpd/conf.d/many.conf").write_text("".join(
        f"<VirtualHost *:80>\nServerName v{index}.example\nTimeout 300\nKeepAliveTimeout 30\n"
        "ProxyPass /a/ http://127.0.0.1:8080/ timeout=600\nProxyTimeout 900\n</VirtualHost>\n"
        for index in range(20_000)))  # fmt: skip
    return ["audit", "--root", str(root), "--format", "sarif"]


def vhosts_at_the_load_bound(work: Path) -> list[str]:
    """150,000 three-line vhosts with two findings each: about the most the loader accepts."""
    root = _root(work)
    (root / "etc/httpd/conf.d/many.conf").write_text(
        "<VirtualHost *:80>\nTimeout 300\nProxyPass /a/ http://127.0.0.1:8080/\n</VirtualHost>\n"
        * 150_000
    )
    return ["audit", "--root", str(root), "--format", "sarif"]


def _rule_file(rule_id: str, filler: int) -> str:
    """A rule at every bound of its text, finding once per vhost that sets Timeout."""
    long = "x" * 7_990
    placeholders = "{scope} " * 240  # a 2,000-character template of long values
    references = "".join(f"  - https://example.org/{index}/{'r' * 470}\n" for index in range(8))
    body = (
        f"id: {rule_id}\ntitle: {'T' * 200}\nseverity: high\ncheck: apache_setting_above\n"
        "params: {setting: Timeout, max_seconds: 1, recommended_seconds: 1}\n"
        f"summary: {long}\nrationale: {long}\nexample:\n  bad: {long}\n"
        f"  use_instead: {long}\nmessage: '{placeholders[:1_990]}'\n"
        f"references:\n{references}"
    )
    return body + "# " + "c" * (filler - len(body) - 3) + "\n"


def rules_dir_at_the_bounds(work: Path) -> list[str]:
    """A repository's 100 rules of 64 KiB at every text bound, each finding once per vhost
    of 20,000 (a 462 KiB message over 300 findings wrote 67 MB before)."""
    repo = work / "repo"
    root = _root(repo)
    (root / "etc/httpd/conf.d/many.conf").write_text(
        "".join(
            f"<VirtualHost *:80>\nServerName {'v' * 200}{index}.example\nTimeout 300\n"
            "</VirtualHost>\n"
            for index in range(20_000)
        )
    )
    rules = repo / "rules"
    rules.mkdir()
    for index in range(100):
        rule_id = f"TA{500 + index:03d}"
        (rules / f"{rule_id}-bound.yaml").write_text(_rule_file(rule_id, 64 * 1024))
    (repo / "tcpaudit.toml").write_text('rules_dirs = ["rules"]\n')
    return [
        "audit",
        "--root",
        str(root),
        "--config",
        str(repo / "tcpaudit.toml"),
        "--format",
        "json",
    ]


def url_lines_of_a_megabyte(work: Path) -> list[str]:
    """Lines of a million characters holding '@' and '://' (a quadratic search for a
    URL's password took over 120 s for 320,000 before)."""
    root = _root(work)
    (root / "etc/httpd/conf.d/urls.conf").write_text(
        "".join(f"ServerAlias {'a' * 1_000_000}@{index}://\n" for index in range(8))
    )
    return ["audit", "--root", str(root), "--format", "json"]


def quoted_words_of_240_mb(work: Path) -> list[str]:
    """8 files of 30 MB of long quoted Header values, under the 256 MiB a load reads in
    all (read at 7 MB/s before; 470 MB, past today's bound, took 69 to 77 s)."""
    root = _root(work)
    value = "0" * 30_000
    for index in range(8):
        (root / f"etc/httpd/conf.d/quoted{index:02d}.conf").write_text(
            ("LoadModule headers_module modules/mod_headers.so\n" if index == 0 else "")
            + "".join(f'Header set X-Session-{index}-{n} "{value}"\n' for n in range(1024))
        )
    return ["audit", "--root", str(root), "--format", "json"]


def _debian_root(work: Path) -> Path:
    """A Debian-layout 2.4 root (the handlers' checks are 2.4's) including conf.d/*.conf."""
    root = work / "root"
    (root / "etc/apache2/conf.d").mkdir(parents=True)
    modules = "".join(
        f"LoadModule {name}_module /usr/lib/apache2/modules/mod_{name}.so\n"
        for name in ("mpm_event", "authz_core", "rewrite")
    )
    (root / "etc/apache2/apache2.conf").write_text(
        f"{modules}ServerName bench\nListen 80\nIncludeOptional conf.d/*.conf\n"
    )
    return root


def quoted_escapes_of_256_mib(work: Path) -> list[str]:
    """4 files of one 64 MiB quoted line of escaped backslashes (a template substitution
    per escape: about a minute a line before)."""
    root = _debian_root(work)
    for index in range(4):
        (root / f"etc/apache2/conf.d/escapes{index}.conf").write_text(
            f'ServerAdmin "{index}' + "\\\\" * ((64 << 20) // 2 - 64) + '"\n'
        )
    return ["audit", "--root", str(root), "--format", "json"]


def handler_texts_of_256_mib(work: Path) -> list[str]:
    """4 files of 64 ErrorLogFormat, LogFormat and quoted RewriteRule lines of 1 MiB each
    (each judged character by character: 64 s for four 64 MiB lines before)."""
    root = _debian_root(work)
    kinds = (
        lambda n: f'ErrorLogFormat "{n}' + "%a" * ((1 << 19) - 16) + '%M"',
        lambda n: f'LogFormat "{n}' + "%h" * ((1 << 19) - 16) + '" n',
        lambda n: f'RewriteRule "^/{n}' + "a\\\\" * ((1 << 20) // 3 - 16) + '" /x',
    )
    for index in range(4):
        (root / f"etc/apache2/conf.d/texts{index}.conf").write_text(
            "".join(kinds[n % 3](f"{index}-{n}") + "\n" for n in range(63))
        )
    return ["audit", "--root", str(root), "--format", "json"]


def proxy_match_port_of_32_mib(work: Path) -> list[str]:
    """One ProxyPassMatch line whose URL's port is 32 MiB of digits (49 s before: its
    port, and a fix's check for blanks in the URL, were walked character by character)."""
    root = _debian_root(work)
    (root / "etc/apache2/conf.d/proxy.conf").write_text(
        "LoadModule proxy_module /usr/lib/apache2/modules/mod_proxy.so\n"
        "LoadModule proxy_http_module /usr/lib/apache2/modules/mod_proxy_http.so\n"
        "ProxyPassMatch ^/x http://h:" + "1" * (32 << 20) + "\n"
    )
    return ["audit", "--root", str(root), "--format", "json"]


def proxy_password_of_many_references(work: Path) -> list[str]:
    """One ProxyPass line whose URL's password is 150,000 distinct ${NAME}s (46 s
    before: each reference was looked for in the word in turn)."""
    root = _debian_root(work)
    references = "".join(f"${{V{index}}}" for index in range(150_000))
    (root / "etc/apache2/conf.d/proxy.conf").write_text(
        "LoadModule proxy_module /usr/lib/apache2/modules/mod_proxy.so\n"
        "LoadModule proxy_http_module /usr/lib/apache2/modules/mod_proxy_http.so\n"
        f"ProxyPass /x http://u:{references}@127.0.0.1:8081/\n"
    )
    return ["audit", "--root", str(root), "--format", "json"]


def notes_beside_many_secrets(work: Path) -> list[str]:
    """20,000 Defines used as URL passwords and 100 notes of 20 KB (57 s before:
    each value was searched in each note in turn)."""
    root = _debian_root(work)
    lines = [
        "LoadModule proxy_module /usr/lib/apache2/modules/mod_proxy.so",
        "LoadModule proxy_http_module /usr/lib/apache2/modules/mod_proxy_http.so",
        *(f"Define V{index} q{index:07d}w" for index in range(20_000)),
        *(f"ServerAdmin ${{{chr(65 + n % 26)}{n:05d}{'x' * 20_000}}}" for n in range(100)),
    ]
    for start in range(0, 20_000, 100):
        references = "".join(f"${{V{index}}}" for index in range(start, start + 100))
        lines.append(f"ProxyPass /x{start} http://u:{references}@127.0.0.1:8081/")
    (root / "etc/apache2/conf.d/secrets.conf").write_text("\n".join(lines) + "\n")
    return ["audit", "--root", str(root), "--format", "json"]


def lines_of_many_secret_defines(work: Path) -> list[str]:
    """60,000 Defines made secret by one holding them all used as a password, and
    a ServerAlias line of them all (4 min 32 s before: each Define's value was
    looked for in a list of them, and each value replaced in each word)."""
    root = _debian_root(work)
    count = 60_000
    references = "".join(f"${{P{index}}}" for index in range(count))
    lines = [
        "LoadModule proxy_module /usr/lib/apache2/modules/mod_proxy.so",
        "LoadModule proxy_http_module /usr/lib/apache2/modules/mod_proxy_http.so",
        *(f"Define P{index} v{index:06d}" for index in range(count)),
        f"Define A {references}",
        "ProxyPass /x http://u:${A}@127.0.0.1:8081/",
        "<VirtualHost *:80>",
        "ServerName a.example",
        "ServerAlias " + " ".join(f"${{P{index}}}" for index in range(count)),
        "</VirtualHost>",
    ]
    (root / "etc/apache2/conf.d/secrets.conf").write_text("\n".join(lines) + "\n")
    return ["audit", "--root", str(root), "--format", "json"]


def include_wildcards_of_many_stars(work: Path) -> list[str]:
    """50 Include lines of 100-star and 100-class patterns over 2,000 names of 250 bytes
    (over 120 s before: each name was matched in Python, a step per item per byte)."""
    root = _root(work)
    many = root / "etc/httpd/many"
    many.mkdir()
    for index in range(2000):
        (many / f"{'a' * 240}{index:06d}.conf").write_text(f"ServerAdmin a{index}@example.org\n")
    lines = [f"IncludeOptional many/{'*a' * 100}*{line:02d}.conf" for line in range(25)]
    lines += [f"IncludeOptional many/*{'[a]' * 100}b*{line:02d}.conf" for line in range(25)]
    (root / "etc/httpd/conf.d/many.conf").write_text("\n".join(lines) + "\n")
    return ["audit", "--root", str(root), "--format", "json"]


def ss_capture_of_64_mib(work: Path) -> list[str]:
    """An `ss` capture just under 64 MiB: 893,000 CLOSE_WAIT sockets of distinct processes."""
    capture = work / "ss.txt"
    with capture.open("w") as handle:
        handle.write("State Recv-Q Send-Q Local Address:Port Peer Address:Port Process\n")
        handle.write('LISTEN 0 511 0.0.0.0:80 0.0.0.0:* users:(("apache2",pid=1,fd=3))\n')
        for index in range(893_000):
            handle.write(
                f"CLOSE-WAIT 1 0 10.0.0.1:80 10.{index >> 16 & 255}.{index >> 8 & 255}."
                f'{index & 255}:{1024 + index % 60000} users:(("a",pid={index + 2},fd=3))\n'
            )
    return ["diagnose", "--root", str(INCIDENT), "--ss", str(capture)]


def proc_tables_of_64_mib(work: Path) -> list[str]:
    """/proc/net/tcp and tcp6 of just under 64 MiB each: 2.24 million sockets (1.09 GB before)."""
    root = _root(work)
    net = root / "proc/net"
    net.mkdir(parents=True)
    lines = [
        "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  "
        "timeout inode\n",
        "0: 00000000:0050 00000000:0000 0A 0:0 0:0 0 0 0 1\n",
    ]
    size = sum(map(len, lines))
    index = 0
    while True:
        line = (
            f"{index}: 0100007F:0050 {index >> 16 & 255:02X}00000A:{index & 65535:04X} "
            f"08 0:0 0:0 0 0 0 {index + 2}\n"
        )
        if size + len(line) > 64 * MIB - 1:
            break
        lines.append(line)
        size += len(line)
        index += 1
    text = "".join(lines)
    (net / "tcp").write_text(text)
    (net / "tcp6").write_text(text)
    return ["diagnose", "--root", str(root)]


def ss_capture_of_one_long_users_line(work: Path) -> list[str]:
    """One CLOSE-WAIT line naming 2.39 million processes, just under 64 MiB (1.1 GB and
    a MemoryError under a 1 GiB cap before; now one error line past 1,000,000)."""
    capture = work / "ss.txt"
    with capture.open("w") as handle:
        handle.write("State Recv-Q Send-Q Local Address:Port Peer Address:Port Process\n")
        handle.write("LISTEN 0 511 0.0.0.0:80 0.0.0.0:*\n")
        handle.write("CLOSE-WAIT 1 0 10.0.0.1:80 10.0.0.2:1 users:(")
        size, pid = 0, 0
        while size < 64 * MIB - 200:
            entry = f'("a",pid={pid},fd={pid}),'
            handle.write(entry)
            size += len(entry)
            pid += 1
        handle.write('("a",pid=0,fd=0)) ino:7\n')
    return ["diagnose", "--root", str(INCIDENT), "--ports", "80", "--ss", str(capture)]


def proc_at_every_diagnose_bound(work: Path) -> list[str]:
    """1,000,000 sockets of distinct addresses in tcp and tcp6 (the most read) and 100,000
    processes of five socket descriptors (the owner scan's bounds): 30 s on a loaded
    machine with the scan's first bounds (200,000 and 1,000,000)."""
    root = work / "root"
    net = root / "proc/net"
    net.mkdir(parents=True)
    header = (
        "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  "
        "timeout inode\n"
    )
    for name, first in (("tcp", 0), ("tcp6", 500_000)):
        with (net / name).open("w") as handle:
            handle.write(header)
            if name == "tcp":
                handle.write("0: 00000000:0050 00000000:0000 0A 0:0 0:0 0 0 0 1\n")
            for index in range(first, first + 500_000 - (name == "tcp")):
                handle.write(
                    f"{index}: {index:08X}:0050 {index ^ 0x5A5A5A5A:08X}:{index & 65535:04X} "
                    f"08 0:0 0:0 0 0 0 {index + 2}\n"
                )
    for pid in range(2, 100_002):
        fd = root / f"proc/{pid}/fd"
        fd.mkdir(parents=True)
        (root / f"proc/{pid}/comm").write_text("x\n")
        for number in range(5):
            os.symlink(f"socket:[{pid * 5 + number}]", fd / str(number))
    return ["diagnose", "--root", str(root), "--ports", "80"]


CASES: dict[str, Callable[[Path], list[str]]] = {
    case.__name__: case
    for case in (
        sysctl_files_at_the_bounds,
        sysctl_files_of_a_megabyte,
        listing_of_64_mib,
        globs_over_interfaces,
        snapshot_of_64_mib,
        baseline_of_64_mib,
        deep_json_of_64_mib,
        vhosts_of_four_findings,
        vhosts_at_the_load_bound,
        rules_dir_at_the_bounds,
        url_lines_of_a_megabyte,
        quoted_words_of_240_mb,
        quoted_escapes_of_256_mib,
        handler_texts_of_256_mib,
        proxy_match_port_of_32_mib,
        proxy_password_of_many_references,
        notes_beside_many_secrets,
        lines_of_many_secret_defines,
        include_wildcards_of_many_stars,
        ss_capture_of_64_mib,
        ss_capture_of_one_long_users_line,
        proc_tables_of_64_mib,
        proc_at_every_diagnose_bound,
    )
}


def run(args: list[str]) -> tuple[float, float, int, int, str]:
    """Wall seconds, peak RSS in MiB (wait4), exit code, output bytes, last stderr line."""
    with tempfile.TemporaryFile() as output, tempfile.TemporaryFile() as errors:
        started = time.perf_counter()
        process = subprocess.Popen(
            [sys.executable, "-m", "tcpaudit", *args], stdout=output, stderr=errors
        )
        _, status, usage = os.wait4(process.pid, 0)
        elapsed = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        size = output.tell()
        errors.seek(0)
        last = errors.read().decode(errors="replace").strip().splitlines()[-1:] or [""]
    return elapsed, usage.ru_maxrss / 1024, process.returncode, size, last[0][:160]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=sorted(CASES))
    parser.add_argument("--keep", type=Path, help="build the inputs below this directory")
    arguments = parser.parse_args()
    print(
        f"python {sys.version.split()[0]}, one run each; bound {SECONDS_BOUND:.0f} s, {MIB_BOUND:.0f} MiB"
    )
    missed = False
    for name, build in CASES.items():
        if arguments.only and name != arguments.only:
            continue
        work = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=arguments.keep))
        try:
            args = build(work)
            seconds, peak, code, size, last = run(args)
        finally:
            if arguments.keep is None:
                shutil.rmtree(work, ignore_errors=True)
        over = seconds > SECONDS_BOUND or peak > MIB_BOUND
        missed |= over
        print(
            f"{name}: {seconds:.2f} s, peak {peak:.0f} MiB, exit {code}, output {size} bytes"
            + (f", stderr: {last}" if last else "")
            + ("  <-- over the bound" if over else "")
        )
    sys.exit(1 if missed else 0)


if __name__ == "__main__":
    main()
