"""The short pass of the fuzz harness (runner.py) that every test run makes.

150 inputs of seed 1 by default (about 30 s on two cores); the long run of
SECURITY.md is the same harness with more inputs. TCPAUDIT_FUZZ_INPUTS and
TCPAUDIT_FUZZ_SEED change the pass; a failure prints the command that
replays the failing input.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

RUNNER = Path(__file__).resolve().parent / "runner.py"
INPUTS = int(os.environ.get("TCPAUDIT_FUZZ_INPUTS", "150"))
SEED = int(os.environ.get("TCPAUDIT_FUZZ_SEED", "1"))


def test_fuzzed_trees_keep_every_promise(tmp_path: Path) -> None:
    report_file = tmp_path / "fuzz.json"
    done = subprocess.run(
        [sys.executable, str(RUNNER), "--inputs", str(INPUTS), "--seed", str(SEED),
         "--jobs", "2", "--out", str(report_file)],
        capture_output=True, text=True, timeout=60 + 3 * INPUTS, check=False,
    )  # fmt: skip
    assert report_file.exists(), done.stderr[-3000:]
    report = json.loads(report_file.read_text())
    replay = [
        f"python {RUNNER.relative_to(Path.cwd()) if RUNNER.is_relative_to(Path.cwd()) else RUNNER}"
        f" --replay {failure['index']} --seed {SEED}"
        for failure in report["failures"]
    ]
    summary = {key: report[key] for key in ("undocumented", "hangs", "over_time", "outside_reads",
                                             "secrets_seen", "problems")}  # fmt: skip
    assert report["inputs"] == INPUTS
    assert report["failed"] == 0, json.dumps(
        {"summary": summary, "replay": replay[:5], "failures": report["failures"][:5]}, indent=1
    )
    # Every step kept its bounds: 1 GiB over the interpreter, 30 s a step.
    assert report["peak_rss_mib"] < 1024 + 300
    assert max(report["worst_stage_seconds"].values()) < 30
    assert done.returncode == 0, done.stderr[-3000:]
