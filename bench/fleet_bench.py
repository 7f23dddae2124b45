"""Benchmark ``tcpaudit fleet``: load, roll up and render 10,000 host reports.

Target (issue #7): 10,000 JSON reports read, rolled up and rendered in under
10 s. The reports are made from the two example roots (audited once each with
the library): every host keeps a different subset of the findings, with lines
shifted and score and grade recomputed, so the reports vary like a real fleet.

Run: python bench/fleet_bench.py [--hosts N] [--repeat N] [--keep DIR]
It writes the reports to a temporary directory (or DIR), then prints the
median and best of N runs for each stage and for the whole, both as the
library's ``load_reports`` (a list of all reports) and as the command does it
(one streaming pass), and exits 1 when either median misses the target. The
files are read with a warm page cache (they were just written).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import tcpaudit
from tcpaudit.engine.grade import grade_for, score_for
from tcpaudit.fleet import FLEET_FORMATS, load_report, load_reports, report_files, roll_up

TARGET_SECONDS = 10.0
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def templates() -> list[tcpaudit.Report]:
    """The example roots' reports: the incident host and the tuned one."""
    return [
        tcpaudit.audit(tcpaudit.gather(root=str(EXAMPLES / name)))
        for name in ("closewait-incident", "tuned")
    ]


def vary(template: tcpaudit.Report, index: int, rng: random.Random) -> tcpaudit.Report:
    """One host's report: a random subset of the template's findings, lines shifted."""
    findings = []
    for finding in template.findings:
        if rng.random() < 0.35:
            continue
        if finding.location is not None and finding.location.line is not None:
            location = finding.location.model_copy(
                update={"line": finding.location.line + rng.randrange(20)}
            )
            finding = finding.model_copy(update={"location": location})
        findings.append(finding)
    score = score_for(findings)
    return template.model_copy(
        update={
            "host": f"web{index:05d}.fleet.example",
            "findings": findings,
            "score": score,
            "grade": grade_for(score, findings),
        }
    )


def write_fleet(directory: Path, hosts: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    bases = templates()
    for index in range(hosts):
        # Three in four hosts start from the incident, as in a fleet being fixed.
        base = bases[0] if index % 4 else bases[1]
        report = vary(base, index, rng)
        (directory / f"web{index:05d}.json").write_text(report.to_json(), encoding="utf-8")


def measure(action: Callable[[], object], repeat: int) -> tuple[float, float]:
    """Median and best wall time of ``action`` in seconds."""
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples), min(samples)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--keep", type=Path, help="write the reports here and keep them")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tcpaudit-fleet-") as temporary:
        directory = args.keep or Path(temporary)
        directory.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        write_fleet(directory, args.hosts)
        size = sum(p.stat().st_size for p in directory.glob("*.json"))
        print(
            f"wrote {args.hosts} reports ({size / 1e6:.1f} MB) "
            f"in {time.perf_counter() - start:.1f} s"
        )
        reports = load_reports([directory])  # warm imports and the page cache
        fleet = roll_up(reports)
        stages: dict[str, Callable[[], object]] = {
            "load_reports": lambda: load_reports([directory]),
            "roll_up": lambda: roll_up(reports),
        }
        for name, render in FLEET_FORMATS.items():
            stages[f"render {name}"] = partial(render, fleet)
        table = FLEET_FORMATS["table"]
        stages["whole: load_reports + roll_up + table"] = lambda: table(
            roll_up(load_reports([directory]))
        )
        # What `tcpaudit fleet` does: one pass, no report kept after its roll-up line.
        stages["whole, streaming as the command"] = lambda: table(
            roll_up(map(load_report, report_files([directory])))
        )
        results = {name: measure(action, args.repeat) for name, action in stages.items()}
    print(f"| Stage | Median | Best |  ({args.hosts} hosts, {args.repeat} runs)")
    print("|---|---|---|")
    for name, (median, best) in results.items():
        print(f"| {name} | {median:.3f} s | {best:.3f} s |")
    whole = max(median for name, (median, _) in results.items() if name.startswith("whole"))
    if whole > TARGET_SECONDS:
        print(f"median {whole:.2f} s misses the {TARGET_SECONDS:.0f} s target", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
