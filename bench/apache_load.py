"""Benchmark load_apache: the Debian stock tree, and generated trees of many vhosts.

Targets (issue #4): the Debian 12 stock tree (tests/corpus/debian-12-apache2.4)
loads in under 5 ms in process (median of warm runs). A generated tree of
10,000 virtual hosts (17 lines each, spread over 100 site files plus a main
file) loads faster than the real ``apache2 -t`` checks the very same files,
end to end as ``tcpaudit facts`` (a new process: imports, load, JSON), with a
peak memory under 300 MB; time and memory grow linearly with the vhosts.

For each size the script prints: load_apache in process (best of ``--runs``
warm runs), its tracemalloc peak (one more run: tracemalloc slows allocation
several times over), ``tcpaudit facts --root TREE -o FILE`` as a process
(after a warm-up run that fills a bytecode cache, as an installed package
has one) and ``apache2 -t`` as a process, ``--runs`` times each, taken in
turn: median and best wall time, peak RSS; and the ratios of the medians.

Run: python bench/apache_load.py [--repeat N] [--runs N] [--vhosts 1000,10000,50000]
     python bench/apache_load.py --keep DIR --vhosts 10000   (keep DIR/t10000 to profile)
It exits 1 when the Debian median misses its target.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from functools import partial
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
    sites.mkdir(parents=True, exist_ok=True)
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


def best_of(runs: int, measure: Callable[[], tuple[float, float]]) -> tuple[float, float]:
    """The fastest of ``runs`` measurements (seconds, MiB): the least disturbed one."""
    return min((measure() for _ in range(runs)), key=lambda sample: sample[0])


def interleaved(
    runs: int, first: Callable[[], tuple[float, float]], second: Callable[[], tuple[float, float]]
) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
    """``runs`` samples of each command, taken in turn, so that a change of load
    on the machine during the run weighs on both alike."""
    samples: tuple[list[tuple[float, float]], list[tuple[float, float]]] = ([], [])
    for _ in range(runs):
        samples[0].append(first())
        samples[1].append(second())
    return samples


def summary(samples: list[tuple[float, float]]) -> tuple[float, float, float]:
    """Median seconds, best seconds, largest peak MiB."""
    seconds = [sample[0] for sample in samples]
    return statistics.median(seconds), min(seconds), max(sample[1] for sample in samples)


def time_load(root: Path, runs: int) -> tuple[float, float]:
    """Seconds of load_apache (best warm run), then peak MiB of one more under tracemalloc."""
    load_apache(root=root)  # warm-up: imports, directive table, page cache

    def once() -> tuple[float, float]:
        started = time.perf_counter()
        config = load_apache(root=root)
        elapsed = time.perf_counter() - started
        assert config is not None
        return elapsed, 0.0

    seconds = best_of(runs, once)[0]
    tracemalloc.start()
    load_apache(root=root)
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return seconds, peak


def timed_process(
    command: list[str], expect: str | None = None, env: dict[str, str] | None = None
) -> tuple[float, float]:
    """Wall seconds and peak RSS MiB of a command, from /usr/bin/time."""
    started = time.perf_counter()
    done = subprocess.run(
        ["/usr/bin/time", "-f", "%e %M", *command],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0 or (expect is not None and expect not in done.stderr):
        raise RuntimeError(done.stderr[-2000:])
    _seconds, kib = done.stderr.strip().splitlines()[-1].split()
    return elapsed, int(kib) / 1024


def facts_command(root: Path, output: Path) -> list[str]:
    """``tcpaudit facts`` as installed: the console script next to this Python."""
    script = Path(sys.executable).with_name("tcpaudit")
    launcher = [str(script)] if script.exists() else [sys.executable, "-c", _MAIN]
    return [*launcher, "facts", "--root", str(root), "-o", str(output)]


_MAIN = "import sys; from tcpaudit.cli import main; sys.exit(main())"


def bytecode_env(cache: Path) -> dict[str, str]:
    """The environment with a bytecode cache, as an installed package has one.

    Without it (PYTHONDONTWRITEBYTECODE=1, as in some containers) every run
    compiles tcpaudit's modules again, about 50 ms that no install pays.
    """
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(cache)
    return env


def apache2_command(root: Path) -> list[str]:
    conf = root / "etc/apache2"
    return ["apache2", "-d", str(conf), "-f", str(conf / "apache2.conf"), "-t"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=200, help="Debian runs (median)")
    parser.add_argument("--runs", type=int, default=9, help="runs per generated tree and command")
    parser.add_argument("--vhosts", default="1000,10000,50000")
    parser.add_argument("--keep", type=Path, help="generate the trees in DIR/tN and keep them")
    options = parser.parse_args()

    median, best = time_debian(options.repeat)
    print(f"Debian 12 stock tree: median {median:.2f} ms, best {best:.2f} ms "
          f"({options.repeat} runs, target < {DEBIAN_TARGET_MS} ms)")  # fmt: skip
    have_apache2 = shutil.which("apache2") is not None and Path("/usr/bin/time").exists()
    print(
        "| vhosts | lines | load_apache s | load peak MiB (tracemalloc) "
        "| `tcpaudit facts` s, median (best) | facts peak RSS MiB "
        "| apache2 -t s, median (best) | apache2 peak RSS MiB "
        "| load / apache2 | facts / apache2 |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for vhosts in (int(part) for part in options.vhosts.split(",")):
        with tempfile.TemporaryDirectory() as work:
            root = options.keep / f"t{vhosts}" if options.keep else Path(work) / "tree"
            if not (root / "etc/apache2/apache2.conf").exists():
                generate_tree(root, vhosts)
            seconds, peak = time_load(root, options.runs)
            output = Path(work) / "facts.json"
            command = facts_command(root, output)
            env = bytecode_env(Path(work) / "pycache")
            timed_process(command, env=env)  # warm-up: writes the bytecode cache
            run_facts = partial(timed_process, command, None, env)
            row = [f"{vhosts:,}", f"{vhosts * 17 + 8:,}", f"{seconds:.3f}", f"{peak:.0f}"]
            if have_apache2:
                run_apache = partial(timed_process, apache2_command(root), "Syntax OK")
                facts_samples, apache_samples = interleaved(options.runs, run_facts, run_apache)
                facts = summary(facts_samples)
                apache = summary(apache_samples)
                row += [f"{facts[0]:.3f} ({facts[1]:.3f})", f"{facts[2]:.0f}"]
                row += [f"{apache[0]:.3f} ({apache[1]:.3f})", f"{apache[2]:.0f}"]
                row += [f"{seconds / apache[0]:.2f}", f"{facts[0] / apache[0]:.2f}"]
            else:
                facts = summary([run_facts() for _ in range(options.runs)])
                row += [f"{facts[0]:.3f} ({facts[1]:.3f})", f"{facts[2]:.0f}"]
                row += ["n/a"] * 4
            print("| " + " | ".join(row) + " |", flush=True)
    return 0 if median < DEBIAN_TARGET_MS else 1


if __name__ == "__main__":
    sys.exit(main())
