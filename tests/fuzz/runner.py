"""The fuzz harness: mutated trees through tcpaudit, each in a capped, timed child process.

Usage (from the repository root)::

    python tests/fuzz/runner.py --inputs 100000 --jobs 2 --seed 1 --out fuzz-report.json
    python tests/fuzz/runner.py --replay 4242 --seed 1 --keep /tmp/input-4242

Input N is reproducible from (seed, N): a seed tree (tests/corpus, examples,
the rule and diagnose fixtures) is mutated (mutate.py), secrets are planted
(plant.py) and the tree is written to a scratch directory. A child forked
from this process (which imported tcpaudit once) sets an address-space cap
of its size at fork plus 1 GiB and runs pipeline.py; it is killed after
--timeout seconds (a hang). The report counts inputs, undocumented
exceptions, hangs, steps over 30 s, reads outside the root, secrets seen,
other problems, peak memory and the worst time of each step, and lists each
failing input with its seed and mutations, and the five slowest.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import resource
import select
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "ansible")]

from ansible_trees import load_facts_module  # noqa: E402
from mutate import mutate  # noqa: E402
from pipeline import run_pipeline  # noqa: E402
from plant import make_outside, plant  # noqa: E402
from trees import load_seeds, materialise  # noqa: E402

__all__ = ["Stats", "fuzz"]

GIB = 1 << 30
# One step (an audit, the renderers, the module's snapshot...) must end within
# this; a whole input, every step of it, within the --timeout (a hang beyond).
STAGE_SECONDS = 30.0
DEFAULT_TIMEOUT_SECONDS = 180.0


@dataclass
class Stats:
    """What a run found; ``failures`` lists each failing input (at most 100)."""

    inputs: int = 0
    undocumented: int = 0
    hangs: int = 0
    outside_reads: int = 0
    secrets_seen: int = 0
    problems: int = 0
    documented_errors: int = 0
    snapshot_differs: int = 0
    snapshots: int = 0  # inputs that also went through the module and the controller
    over_time: int = 0
    peak_rss_mib: float = 0.0
    worst_seconds: float = 0.0
    worst_stage_seconds: dict[str, float] = field(default_factory=dict)
    total_seconds: float = 0.0
    failures: list[dict[str, Any]] = field(default_factory=list)
    slowest: list[dict[str, Any]] = field(default_factory=list)
    differing: list[int] = field(default_factory=list)  # inputs whose snapshot verdict differs

    @property
    def failed(self) -> int:
        return (
            self.undocumented + self.hangs + self.outside_reads + self.secrets_seen + self.problems
        )


def _status_kib(name: str) -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(name + ":"):
                return int(line.split()[1])
    return 0


def _prepare(index: int, seed: int, seeds: list[Any], work: Path, outside: Path) -> dict[str, Any]:
    rng = random.Random(f"{seed}:{index}")
    name, tree = rng.choice(seeds)
    tree = dict(tree)
    context = {"seeds": seeds, "outside": str(outside)}
    applied = mutate(tree, rng, context)
    planted = plant(tree, rng)
    directory = work / f"input-{index}"
    materialise(tree, directory / "root")
    return {
        "index": index,
        "seed": name,
        "mutations": applied,
        "planted": planted,
        "dir": directory,
        "variant": rng.randrange(2**32),
        "outside": str(outside),
    }


def _child(job: dict[str, Any], module: Any, write_end: int) -> None:
    """In the forked child: cap, run, report through the pipe, exit without cleanup."""
    try:
        limit = _status_kib("VmSize") * 1024 + GIB
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        started = time.perf_counter()
        outcome = run_pipeline(
            job["dir"] / "root", job["dir"] / "scratch", module, job["variant"], job["outside"]
        )
        outcome["seconds"] = time.perf_counter() - started
        outcome["peak_rss_mib"] = _status_kib("VmHWM") / 1024
        data = json.dumps(outcome).encode()
    except BaseException as error:  # anything here is reported
        data = json.dumps({"undocumented": f"harness: {error!r}"}).encode()
    try:
        while data:
            data = data[os.write(write_end, data) :]
    finally:
        os._exit(0)


@dataclass
class _Running:
    pid: int
    read_end: int
    started: float
    job: dict[str, Any]
    chunks: list[bytes] = field(default_factory=list)


def _start(job: dict[str, Any], module: Any) -> _Running:
    read_end, write_end = os.pipe()
    os.set_blocking(read_end, False)
    scratch = job["dir"] / "scratch"
    scratch.mkdir()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        _child(job, module, write_end)
    os.close(write_end)
    return _Running(pid, read_end, time.perf_counter(), job)


def _finish(running: _Running, stats: Stats, timed_out: bool, keep: bool) -> None:
    if timed_out:
        os.kill(running.pid, signal.SIGKILL)
    os.waitpid(running.pid, 0)
    os.close(running.read_end)
    elapsed = time.perf_counter() - running.started
    job = running.job
    stats.inputs += 1
    stats.total_seconds += elapsed
    record = {key: job[key] for key in ("index", "seed", "mutations", "planted")}
    failed: list[str] = []
    if timed_out:
        stats.hangs += 1
        failed.append("hang")
        stats.worst_seconds = max(stats.worst_seconds, elapsed)
    else:
        outcome = json.loads(b"".join(running.chunks) or b'{"undocumented": "no answer (killed)"}')
        seconds = float(outcome.get("seconds", elapsed))
        stats.worst_seconds = max(stats.worst_seconds, seconds)
        stages = outcome.get("stage_seconds", {})
        for stage, spent in stages.items():
            stats.worst_stage_seconds[stage] = max(stats.worst_stage_seconds.get(stage, 0), spent)
        slow = {stage: spent for stage, spent in stages.items() if spent > STAGE_SECONDS}
        if slow:
            stats.over_time += 1
            failed.append("over_time")
            record["over_time"] = slow
        stats.slowest.append({**record, "seconds": round(seconds, 3)})
        stats.slowest.sort(key=lambda item: -item["seconds"])
        del stats.slowest[5:]
        stats.peak_rss_mib = max(stats.peak_rss_mib, float(outcome.get("peak_rss_mib", 0)))
        # Inputs the loaders refused (one TcpauditError each): counted, not failed.
        stats.documented_errors += any(
            not stage.startswith("hostile") for stage in outcome.get("documented", [])
        )
        stats.snapshots += bool(outcome.get("snapshot"))
        if outcome.get("snapshot_differs"):
            stats.snapshot_differs += 1
            if len(stats.differing) < 20:
                stats.differing.append(job["index"])
        for key, counter in (
            ("undocumented", "undocumented"),
            ("outside", "outside_reads"),
            ("secrets", "secrets_seen"),
            ("problems", "problems"),
        ):
            if outcome.get(key):
                setattr(stats, counter, getattr(stats, counter) + 1)
                failed.append(key)
                record[key] = outcome[key]
    if failed and len(stats.failures) < 100:
        stats.failures.append(record)
    if not keep:
        shutil.rmtree(job["dir"], ignore_errors=True)


def fuzz(
    inputs: int,
    seed: int = 1,
    jobs: int = 1,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
    first: int = 0,
    keep: Path | None = None,
    progress: bool = False,
) -> Stats:
    """Run inputs ``first`` .. ``first + inputs - 1`` of ``seed``; return what was found.

    With ``keep``, the inputs are written below that directory and left there.
    """
    seeds = load_seeds()
    module = load_facts_module()
    stats = Stats()
    with tempfile.TemporaryDirectory(prefix="tcpaudit-fuzz-") as temporary:
        work = Path(temporary) if keep is None else keep
        outside = make_outside(work / "outside")
        _warm_up(seeds, module, work)
        # Objects made so far (modules, caches, seeds) are never collected in a
        # child: forks then share their pages instead of copying them.
        gc.freeze()
        pending = list(range(first, first + inputs))
        running: list[_Running] = []
        last_report = time.monotonic()
        while pending or running:
            while pending and len(running) < jobs:
                running.append(_start(_prepare(pending.pop(0), seed, seeds, work, outside), module))
            readable, _, _ = select.select([r.read_end for r in running], [], [], 0.2)
            now = time.perf_counter()
            for item in list(running):
                if item.read_end in readable:
                    chunk = os.read(item.read_end, 1 << 20)
                    if chunk:
                        item.chunks.append(chunk)
                        continue
                    running.remove(item)
                    _finish(item, stats, timed_out=False, keep=keep is not None)
                elif now - item.started > timeout:
                    running.remove(item)
                    _finish(item, stats, timed_out=True, keep=keep is not None)
            if progress and time.monotonic() - last_report > 60:
                last_report = time.monotonic()
                print(json.dumps(_summary(stats)), file=sys.stderr, flush=True)
    return stats


def _warm_up(seeds: list[Any], module: Any, work: Path) -> None:
    """Run the pipeline once here, unwatched: every child inherits the imports and caches."""
    tree = next(t for n, t in seeds if n.endswith("closewait-incident"))
    directory = work / "warm-up"
    materialise(tree, directory / "root")
    (directory / "scratch").mkdir()
    run_pipeline(directory / "root", directory / "scratch", module, spy=False)
    tempfile.tempdir = None
    shutil.rmtree(directory)


def _summary(stats: Stats) -> dict[str, Any]:
    hidden = ("failures", "slowest", "differing")
    data = {key: value for key, value in stats.__dict__.items() if key not in hidden}
    data["failed"] = stats.failed
    return data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--inputs", type=int, default=int(os.environ.get("TCPAUDIT_FUZZ_INPUTS", "200"))
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--first", type=int, default=0, help="index of the first input")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_SECONDS)
    parser.add_argument("--replay", type=int, help="run this one input and keep its tree")
    parser.add_argument(
        "--keep", type=Path, help="with --replay: write the input below this directory"
    )
    parser.add_argument("--out", type=Path, help="write the report (JSON) here")
    arguments = parser.parse_args()
    if arguments.replay is not None:
        keep = arguments.keep or Path(tempfile.mkdtemp(prefix="tcpaudit-replay-"))
        keep.mkdir(parents=True, exist_ok=True)
        stats = fuzz(1, arguments.seed, 1, arguments.timeout, arguments.replay, keep=keep)
        print(f"input kept in {keep}", file=sys.stderr)
    else:
        stats = fuzz(arguments.inputs, arguments.seed, arguments.jobs, arguments.timeout,
                     arguments.first, progress=True)  # fmt: skip
    report = {
        **_summary(stats),
        "seed": arguments.seed,
        "slowest": stats.slowest,
        "snapshot_differs_inputs": stats.differing,
        "failures": stats.failures,
    }
    text = json.dumps(report, indent=2)
    if arguments.out:
        arguments.out.write_text(text + "\n", encoding="utf-8")
    print(text)
    sys.exit(1 if stats.failed else 0)


if __name__ == "__main__":
    main()
