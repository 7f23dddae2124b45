"""Benchmark load_apache: the Debian stock tree, and generated trees of many vhosts.

Targets (issue #4): the Debian 12 stock tree (tests/corpus/debian-12-apache2.4)
loads in under 5 ms in process (median of warm runs). Generated trees of N
virtual hosts (17 lines each, spread over 100 site files plus a main file)
are loaded by tcpaudit and checked by the real ``apache2 -t`` on the very same
files; the script prints wall time and peak memory of both.

Run: python bench/apache_load.py [--repeat N] [--vhosts 1000,10000,50000]
It exits 1 when the Debian median misses its target.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

from tcpaudit.apache import load_apache

CORPUS = Path(__file__).resolve().parent.parent / "tests" / "corpus"
DEBIAN_TARGET_MS = 5.0
SITE_FILES = 100
MODULES = Path("/usr/lib/apache2/modules")


def vhost_lines(index: int) -> list[str]:
    """One virtual host: 17 lines, the shape of a typical Debian site file."""
    return [
        "<VirtualHost *:80>",
        f"    ServerName site{index}.example.org",
        f"    ServerAlias www.site{index}.example.org",
        "    ServerAdmin webmaster@example.org",
        "    DocumentRoot /tmp",
        "    ErrorLog /dev/null",
        "    CustomLog /dev/null combined",
        "    KeepAliveTimeout 5",
        "    Timeout 60",
        "    <Directory /tmp>",
        "        Options -Indexes",
        "        AllowOverride None",
        "        Require all granted",
        "    </Directory>",
        "    RewriteEngine On",
        f"    RewriteRule ^/old{index}$ /new [R=301,L]",
        "</VirtualHost>",
    ]


def generate_tree(root: Path, vhosts: int) -> None:
    """A Debian-shaped tree: apache2.conf plus sites-enabled/site-NNN.conf files."""
    conf = root / "etc/apache2"
    sites = conf / "sites-enabled"
    sites.mkdir(parents=True)
    (conf / "apache2.conf").write_text(
        "\n".join(
            [
                f"LoadModule mpm_event_module {MODULES}/mod_mpm_event.so",
                f"LoadModule authz_core_module {MODULES}/mod_authz_core.so",
                f"LoadModule rewrite_module {MODULES}/mod_rewrite.so",
                "ErrorLog /dev/null",
                "Listen 80",
                "Timeout 300",
                "KeepAlive On",
                "IncludeOptional sites-enabled/*.conf",
                "",
            ]
        )
    )
    per_file = -(-vhosts // SITE_FILES)
    for number in range(SITE_FILES):
        first = number * per_file
        lines: list[str] = []
        for index in range(first, min(first + per_file, vhosts)):
            lines.extend(vhost_lines(index))
        (sites / f"site-{number:03d}.conf").write_text("\n".join(lines) + "\n")


def time_debian(repeat: int) -> tuple[float, float]:
    root = CORPUS / "debian-12-apache2.4"
    load_apache(root=root)  # warm-up: imports, directive table
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        load_apache(root=root)
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples), min(samples)


def time_tcpaudit(root: Path) -> tuple[float, float]:
    """Seconds of one load_apache, then peak MiB of another under tracemalloc.

    tracemalloc slows allocation several times over, so time and memory are
    measured in separate runs.
    """
    started = time.perf_counter()
    config = load_apache(root=root)
    elapsed = time.perf_counter() - started
    assert config is not None
    del config
    tracemalloc.start()
    load_apache(root=root)
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return elapsed, peak


def time_apache2(root: Path) -> tuple[float, float]:
    """Seconds and peak RSS MiB of `apache2 -t` on the same tree."""
    conf = root / "etc/apache2"
    command = [
        "/usr/bin/time",
        "-f",
        "%e %M",
        "apache2",
        "-d",
        str(conf),
        "-f",
        str(conf / "apache2.conf"),
        "-t",
    ]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if "Syntax OK" not in done.stderr:
        raise RuntimeError(done.stderr[-2000:])
    _seconds, kib = done.stderr.strip().splitlines()[-1].split()
    return elapsed, int(kib) / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--vhosts", default="1000,10000,50000")
    options = parser.parse_args()

    median, best = time_debian(options.repeat)
    print(f"Debian 12 stock tree: median {median:.2f} ms, best {best:.2f} ms "
          f"({options.repeat} runs, target < {DEBIAN_TARGET_MS} ms)")  # fmt: skip
    have_apache2 = shutil.which("apache2") is not None and Path("/usr/bin/time").exists()
    print(
        "| vhosts | lines | tcpaudit s | tcpaudit peak MiB | apache2 -t s | apache2 peak RSS MiB |"
    )
    print("|---|---|---|---|---|---|")
    for vhosts in (int(part) for part in options.vhosts.split(",")):
        with tempfile.TemporaryDirectory() as work:
            root = Path(work)
            generate_tree(root, vhosts)
            seconds, peak = time_tcpaudit(root)
            apache = time_apache2(root) if have_apache2 else None
            shown = f"{apache[0]:.2f} | {apache[1]:.0f}" if apache else "n/a | n/a"
            print(f"| {vhosts:,} | {vhosts * 17 + 8:,} | {seconds:.2f} | {peak:.0f} | {shown} |")
    return 0 if median < DEBIAN_TARGET_MS else 1


if __name__ == "__main__":
    sys.exit(main())
