"""Benchmark the live sysctl readers: the /proc/sys tree and `sysctl -a` text.

Targets (issue #5): reading every top-level key of the live net.ipv4 tree in
under 20 ms, and parsing `sysctl -a` text of 2,000 keys in under 10 ms.

Run: python bench/sysctl_bench.py [--proc-sys DIR] [--sysctl-a FILE] [--repeat N]
Without --proc-sys it reads the host's /proc/sys; with --sysctl-a it also
times a real dump (`sysctl -a > FILE`). It prints the median and
the best of N runs for each, and exits 1 when a median misses its target.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

from tcpaudit.provenance import Note
from tcpaudit.rootfs import RootFS
from tcpaudit.sysctl.proc import read_proc_tree
from tcpaudit.sysctl.text import parse_sysctl_text

PROC_TARGET_MS = 20.0
TEXT_TARGET_MS = 10.0
TEXT_KEYS = 2000


def sysctl_a_text(keys: int) -> str:
    """`sysctl -a`-shaped text: single numbers, three-field values, words, deep keys."""
    lines = []
    for index in range(keys):
        kind = index % 4
        if kind == 0:
            lines.append(f"net.ipv4.tcp_setting_{index} = {index}")
        elif kind == 1:
            lines.append(f"net.ipv4.tcp_mem_{index} = 4096\t131072\t{index}")
        elif kind == 2:
            lines.append(f"net.ipv4.conf.eth{index}.rp_filter = 1")
        else:
            lines.append(f"kernel.some_name_{index} = word{index}")
    return "\n".join(lines) + "\n"


def measure(action: Callable[[], object], repeat: int) -> tuple[float, float]:
    """Median and best wall time of ``action`` in milliseconds."""
    action()  # warm caches and imports
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples), min(samples)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--proc-sys", type=Path, default=Path("/proc/sys"))
    parser.add_argument("--sysctl-a", type=Path, help="a real `sysctl -a` dump to time too")
    parser.add_argument("--repeat", type=int, default=50)
    args = parser.parse_args()

    fs = RootFS("/")
    notes: list[Note] = []
    keys = len(read_proc_tree(fs, args.proc_sys, notes))
    proc_median, proc_best = measure(lambda: read_proc_tree(fs, args.proc_sys, []), args.repeat)
    text = sysctl_a_text(TEXT_KEYS)
    text_median, text_best = measure(lambda: parse_sysctl_text(text, "sysctl-a", []), args.repeat)

    print(f"python {sys.version.split()[0]}, {args.repeat} runs each")
    print(
        f"/proc/sys net.ipv4 + net.core ({keys} keys): median {proc_median:.2f} ms, "
        f"best {proc_best:.2f} ms (target < {PROC_TARGET_MS:.0f} ms)"
    )
    print(
        f"`sysctl -a` text ({TEXT_KEYS} keys): median {text_median:.2f} ms, "
        f"best {text_best:.2f} ms (target < {TEXT_TARGET_MS:.0f} ms)"
    )
    if args.sysctl_a is not None:
        dump = args.sysctl_a.read_text(encoding="utf-8", errors="replace")
        lines = dump.count("\n")
        dump_median, dump_best = measure(lambda: parse_sysctl_text(dump, "dump", []), args.repeat)
        print(
            f"{args.sysctl_a.name} ({lines} lines): median {dump_median:.2f} ms, "
            f"best {dump_best:.2f} ms"
        )
    return 0 if proc_median < PROC_TARGET_MS and text_median < TEXT_TARGET_MS else 1


if __name__ == "__main__":
    sys.exit(main())
