"""The Ansible facts module's ${NAME} and macro expansion pass at its documented sizes.

Each case writes Debian's configuration with one Include of files at the
module's limits (4 MiB a file, 32 MiB in all), takes ``snapshot()`` in a new
process and reports its wall time, peak resident memory (from ``wait4``) and
how it ended (sent, or refused with one message naming file:line). The
promise is under 30 s for any input within the sizes.

    python bench/facts_expansion.py [--only NAME] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MODULE = REPO / "src/ansible_collections/tcpaudit/audit/plugins/modules/facts.py"
MIB = 1024 * 1024


def fill(line_of: Callable[[int], str], limit: int = 4 * MIB - 8192) -> str:
    lines, size, index = [], 0, 0
    while True:
        line = line_of(index) + "\n"
        if size + len(line) > limit:
            return "".join(lines)
        lines.append(line)
        size += len(line)
        index += 1


DEFINES = "".join(f"Define {n} {n.lower()}{v}\n" for n in "ABCD" for v in range(8))
# Twelve values a name, each holding '@', under <IfDefine>s: more than are tried.
CASES_OF_AT = "".join(
    f"<IfDefine V{v}>\nDefine {n} http://x/{n}{v}@\n</IfDefine>\n"
    for n in "ABCD"
    for v in range(12)
)


def vhosts(part: int) -> str:
    return fill(
        lambda i: (
            f"Define SITE s{part}x{i}\n<VirtualHost *:80>\nServerName ${{SITE}}.example\n"
            "DocumentRoot /srv/${SITE}\nProxyPass /api http://${SITE}-be:8080/ keepalive=On\n"
            "ErrorLog ${APACHE_LOG_DIR}/${SITE}.log\n</VirtualHost>"
        )
    )


CASES: dict[str, tuple[str, Callable[[], dict[str, str]]]] = {
    "combination_of_4_mib": (
        "32 Defines of A..D, then ServerAlias ${A}${B}${C}${D} filling 4 MiB (88 s before)",
        lambda: {"c.conf": DEFINES + fill(lambda i: "ServerAlias ${A}${B}${C}${D}")},
    ),
    "combination_of_32_mib": (
        "the same in 8 files of 4 MiB (1.1 million lines)",
        lambda: {
            f"c{k}.conf": (DEFINES if k == 0 else "")
            + fill(lambda i: "ServerAlias ${A}${B}${C}${D}")
            for k in range(8)
        },
    ),
    "vhosts_of_32_mib": (
        "8 files of 4 MiB of virtual hosts each Define'ing SITE and using it",
        lambda: {f"c{k}.conf": vhosts(k) for k in range(8)},
    ),
    "unknown_values_of_32_mib": (
        "8 files of ProxyPass ${A}${B} / ServerAlias ${C}${D}, 12 values holding '@' each",
        lambda: {
            f"c{k}.conf": (CASES_OF_AT if k == 0 else "")
            + fill(lambda i: "ProxyPass /x ${A}${B}" if i % 2 else "ServerAlias ${C}${D}")
            for k in range(8)
        },
    ),
    "shortest_lines_of_32_mib": (
        "8 files of 'X ${A}' lines (4.8 million)",
        lambda: {
            f"c{k}.conf": ("Define A a\n" if k == 0 else "") + fill(lambda i: "X ${A}")
            for k in range(8)
        },
    ),
    "macro_uses_of_4_mib": (
        "a 100-line macro used as often as 4 MiB allows",
        lambda: {
            "c.conf": "<Macro M $p>\n"
            + "".join(f"ProxyPass /m{j}/$p http://backend:{j}/$p\n" for j in range(100))
            + "</Macro>\n"
            + fill(lambda i: f"Use M v{i}", 4 * MIB - 16384)
        },
    ),
}

CHILD = """
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("facts", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
try:
    document = module.snapshot(sys.argv[2], runner=None)
    print("sent, %.1f MiB" % (len(json.dumps(document)) / 1048576))
except ValueError as exc:
    print("refused: " + str(exc)[:90])
"""


def run_case(name: str, work: Path) -> str:
    root = work / name
    shutil.copytree(REPO / "tests/corpus/debian-12-apache2.4", root, symlinks=True)
    main = root / "etc/apache2/apache2.conf"
    main.write_text(
        main.read_text(encoding="utf-8") + "IncludeOptional /etc/apache2/bench/*.conf\n",
        encoding="utf-8",
    )
    (root / "etc/apache2/bench").mkdir()
    for file_name, text in CASES[name][1]().items():
        (root / "etc/apache2/bench" / file_name).write_text(text, encoding="utf-8")
    start = time.monotonic()
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(MODULE), str(root)], stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    output = child.stdout.read().strip()
    _, status, usage = os.wait4(child.pid, 0)
    elapsed = time.monotonic() - start
    if os.waitstatus_to_exitcode(status) != 0:
        output = f"failed ({status})"
    return f"| `{name}` | {CASES[name][0]} | {elapsed:.1f} s | {usage.ru_maxrss // 1024} MiB | {output} |"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=sorted(CASES))
    parser.add_argument("--keep", type=Path, help="build the trees here and keep them")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="facts-expansion-"))
    work.mkdir(parents=True, exist_ok=True)
    print("| Case | Input | Time | Peak RSS | Result |\n|---|---|---|---|---|")
    try:
        for name in [args.only] if args.only else CASES:
            print(run_case(name, work), flush=True)
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
