"""Benchmark load_apache and `tcpaudit facts` against `apache2 -t`, on several tree shapes.

Targets: the Debian 12 stock tree (tests/corpus/debian-12-apache2.4) loads in
under 3 ms in process (median of warm runs); on every shape of
bench/shapes.py (``sites``, ``realistic``, ``per-file``), ``tcpaudit facts``
end to end (a new process: imports, load, JSON) takes at most 0.8 times what
the real ``apache2 -t`` takes to check the very same files; time and memory
grow linearly with the vhosts (1,000 to 50,000).

For each shape and size the script prints: load_apache in process (best of
``--runs`` warm runs), its tracemalloc peak (one more run: tracemalloc slows
allocation several times over), then ``tcpaudit facts --root TREE -o FILE``
as a process (after a warm-up run that fills a bytecode cache, as an
installed package has one) and ``apache2 -t`` on the same files, ``--runs``
times each, taken in turn: median wall time, median CPU time (user + system,
which a busy machine inflates less than wall time), peak RSS, and the ratios
of the medians.

Run: python bench/apache_load.py [--runs N] [--vhosts 1000,10000,50000] [--shapes sites,realistic,per-file]
     python bench/apache_load.py --keep DIR   (keep DIR/SHAPE-N to profile)
It exits 1 when the Debian median misses its target.
"""

from __future__ import annotations

import argparse
import os
import resource
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

from shapes import SHAPES, apache2_command, apache2_environment, generate

from tcpaudit.apache import load_apache
from tcpaudit.apache.memory import MemoryGuard

CORPUS = Path(__file__).resolve().parent.parent / "tests" / "corpus"
DEBIAN_TARGET_MS = 3.0


def time_debian(repeat: int) -> tuple[float, float]:
    root = CORPUS / "debian-12-apache2.4"
    load_apache(root=root)  # warm-up: imports, directive table
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        load_apache(root=root)
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples), min(samples)


def best_of(runs: int, measure: Callable[[], float]) -> float:
    """The fastest of ``runs`` measurements: the least disturbed one."""
    return min(measure() for _ in range(runs))


# One run of a command: wall seconds, CPU seconds (user + system), peak RSS MiB.
Sample = tuple[float, float, float]


def interleaved(
    runs: int, first: Callable[[], Sample], second: Callable[[], Sample]
) -> tuple[list[Sample], list[Sample]]:
    """``runs`` samples of each command, taken in turn, so that a change of load
    on the machine during the run weighs on both alike."""
    samples: tuple[list[Sample], list[Sample]] = ([], [])
    for _ in range(runs):
        samples[0].append(first())
        samples[1].append(second())
    return samples


def summary(samples: list[Sample]) -> tuple[float, float, float]:
    """Median wall seconds, median CPU seconds, largest peak MiB."""
    return (
        statistics.median(sample[0] for sample in samples),
        statistics.median(sample[1] for sample in samples),
        max(sample[2] for sample in samples),
    )


def time_load(root: Path, runs: int, build: str | None) -> tuple[float, float]:
    """Seconds of load_apache (best warm run), then peak MiB of one more under tracemalloc."""
    load_apache(root=root, build=build)  # warm-up: imports, tables, page cache

    def once() -> float:
        started = time.perf_counter()
        config = load_apache(root=root, build=build)
        elapsed = time.perf_counter() - started
        assert config is not None
        return elapsed

    seconds = best_of(runs, once)
    # tracemalloc's own bookkeeping counts in the resident memory the load's
    # guard watches (it doubles it): the guard is lifted for this run, which
    # measures Python's allocations only.
    defaults = MemoryGuard.__init__.__defaults__
    MemoryGuard.__init__.__defaults__ = (2**40,)
    tracemalloc.start()
    try:
        load_apache(root=root, build=build)
        peak = tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()
        MemoryGuard.__init__.__defaults__ = defaults
    return seconds, peak


def timed_process(
    command: list[str], expect: str | None = None, env: dict[str, str] | None = None
) -> Sample:
    """Wall seconds, CPU seconds and peak RSS MiB of a command."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(
        ["/usr/bin/time", "-f", "%M", *command],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0 or (expect is not None and expect not in done.stderr):
        raise RuntimeError(done.stderr[-2000:])
    kib = done.stderr.strip().splitlines()[-1]
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return elapsed, cpu, int(kib) / 1024


def facts_command(root: Path, output: Path, build: str | None) -> list[str]:
    """``tcpaudit facts`` as installed: the console script next to this Python."""
    script = Path(sys.executable).with_name("tcpaudit")
    launcher = [str(script)] if script.exists() else [sys.executable, "-c", _MAIN]
    extra = ["--apache-build", build] if build else []
    return [*launcher, "facts", "--root", str(root), "-o", str(output), *extra]


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


def count_lines(root: Path) -> int:
    return sum(path.read_text().count("\n") for path in root.rglob("*.conf"))


HEADER = (
    "| shape | vhosts | lines | load_apache s | load peak MiB "
    "| `tcpaudit facts` wall s | apache2 -t wall s | wall ratio "
    "| facts CPU s | apache2 CPU s | CPU ratio | facts / apache2 peak RSS MiB |"
)


def measure(shape: str, vhosts: int, runs: int, keep: Path | None) -> str:
    """One row of the table for a shape and size."""
    # The per-file shape is in RHEL's layout; apache2 here is Debian's build.
    build = "debian" if shape == "per-file" else None
    with tempfile.TemporaryDirectory() as work:
        root = keep / f"{shape}-{vhosts}" if keep else Path(work) / "tree"
        if not root.exists():
            generate(shape, root, vhosts)
        seconds, peak = time_load(root, runs, build)
        output = Path(work) / "facts.json"
        command = facts_command(root, output, build)
        env = bytecode_env(Path(work) / "pycache")
        timed_process(command, env=env)  # warm-up: writes the bytecode cache
        run_facts = partial(timed_process, command, None, env)
        run_apache = partial(
            timed_process, apache2_command(shape, root), "Syntax OK", apache2_environment(shape)
        )
        facts_samples, apache_samples = interleaved(runs, run_facts, run_apache)
        facts, apache = summary(facts_samples), summary(apache_samples)
        return "| " + " | ".join([
            shape, f"{vhosts:,}", f"{count_lines(root):,}", f"{seconds:.3f}", f"{peak:.0f}",
            f"{facts[0]:.3f}", f"{apache[0]:.3f}", f"{facts[0] / apache[0]:.2f}",
            f"{facts[1]:.3f}", f"{apache[1]:.3f}", f"{facts[1] / apache[1]:.2f}",
            f"{facts[2]:.0f} / {apache[2]:.0f}",
        ]) + " |"  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=200, help="Debian runs (median)")
    parser.add_argument("--runs", type=int, default=9, help="runs per generated tree and command")
    parser.add_argument("--vhosts", default="1000,10000,50000")
    parser.add_argument("--shapes", default=",".join(SHAPES))
    parser.add_argument("--keep", type=Path, help="generate the trees in DIR/SHAPE-N and keep them")
    options = parser.parse_args()

    median, best = time_debian(options.repeat)
    print(f"Debian 12 stock tree: median {median:.2f} ms, best {best:.2f} ms "
          f"({options.repeat} runs, target < {DEBIAN_TARGET_MS} ms)")  # fmt: skip
    if shutil.which("apache2") is None or not Path("/usr/bin/time").exists():
        print("apache2 or /usr/bin/time is missing: no comparison")
        return 0 if median < DEBIAN_TARGET_MS else 1
    print(HEADER)
    print("|---" * (HEADER.count("|") - 1) + "|")
    for shape in options.shapes.split(","):
        for vhosts in (int(part) for part in options.vhosts.split(",")):
            print(measure(shape, vhosts, options.runs, options.keep), flush=True)
    return 0 if median < DEBIAN_TARGET_MS else 1


if __name__ == "__main__":
    sys.exit(main())
