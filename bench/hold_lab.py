"""The worker-hold lab as a table: measured on a real apache2 beside tcpaudit's model.

Each cell starts its own apache2 on 127.0.0.1 with two workers, fills both
with stalled clients of one kind, then times a queued request (tests/lab/
holdlab.py says how). It prints one row per configuration and MPM, one
column per kind: ``measured / model`` in seconds, ``none`` for no limit
(still held after twice the longest timer), and the wall time of the run.

Run (root, on a host with Debian's apache2 and openssl):
    python bench/hold_lab.py             # CI's cells plus longer timers and compiled defaults
    python bench/hold_lab.py --ci        # only the cells CI runs (about a minute)
    python bench/hold_lab.py --parallel 8 --format text
It exits 1 when a cell and the model disagree by more than max(1 s, 15 %).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

LAB = Path(__file__).resolve().parents[1] / "tests" / "lab"
sys.path.insert(0, str(LAB))

from holdlab import KINDS, TUNNEL_KINDS, CellResult, lab_files, run_cells  # noqa: E402
from lab_matrix import bench_cells, ci_cells, tunnel_cells  # noqa: E402

import tcpaudit  # noqa: E402
from tcpaudit.hold import LINGER_SECONDS, kind_holds, worker_lingers  # noqa: E402

VERSION = "2.4.71"  # Debian's apache2 on the machine the README's table comes from


def _seconds(value: float | None) -> str:
    return "none" if value is None else f"{value:.1f}"


def _model(result: CellResult, version: str) -> float | None:
    """The model's hold for the cell (tunnels: Timeout plus the worker's lingering close)."""
    with tempfile.TemporaryDirectory() as directory:
        conf = Path(directory) / "httpd.conf"
        conf.write_text(result.config_text)
        config = tcpaudit.load_apache(conf, root="/", version=version)
    assert config is not None
    kind = result.cell.kind
    if kind in TUNNEL_KINDS:
        if kind == "websocket_active":
            return None
        return result.cell.config.timeout + (LINGER_SECONDS if worker_lingers(config) else 0.0)
    return kind_holds(config)[kind].seconds  # type: ignore[index]


def _agrees(measured: float | None, model: float | None) -> bool:
    if measured is None or model is None:
        return measured is None and model is None
    return abs(measured - model) <= max(1.0, 0.15 * model)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ci", action="store_true", help="only the cells CI runs")
    parser.add_argument("--parallel", type=int, default=24)
    parser.add_argument("--format", choices=("markdown", "text"), default="markdown")
    parser.add_argument("--version", default=VERSION, help="the apache2 version to model")
    args = parser.parse_args()
    cells = [*ci_cells(), *tunnel_cells()] if args.ci else bench_cells()
    started = time.monotonic()
    with lab_files() as files:
        results = run_cells(cells, files, parallel=args.parallel)
    wall = time.monotonic() - started
    kinds = [*KINDS, *TUNNEL_KINDS]
    rows: dict[tuple[str, str], dict[str, str]] = {}
    wrong = []
    for result in results:
        model = _model(result, args.version)
        ok = _agrees(result.hold_seconds, model)
        text = f"{_seconds(result.hold_seconds)} / {_seconds(model)}" + ("" if ok else " !")
        if result.deferred_seconds:
            text += f" (deferred {result.deferred_seconds:.1f})"
        row = rows.setdefault((result.cell.config.name, result.cell.config.mpm), {})
        row[result.cell.kind] = text
        if not ok:
            wrong.append(result.cell.label)
    used = [kind for kind in kinds if any(kind in row for row in rows.values())]
    header = ["configuration", "MPM", *used]
    lines = []
    if args.format == "markdown":
        lines.append("| " + " | ".join(header) + " |")
        lines.append("|" + "---|" * len(header))
        for (name, mpm), row in rows.items():
            cells_text = [row.get(kind, "") for kind in used]
            lines.append("| " + " | ".join([name, mpm, *cells_text]) + " |")
    else:
        for (name, mpm), row in rows.items():
            lines.append(f"{name} {mpm}: " + ", ".join(f"{k} {v}" for k, v in row.items()))
    print("\n".join(lines))
    print(
        f"\n{len(results)} cells, measured / model in seconds, in {wall:.0f} s "
        f"({args.parallel} side by side); {len(wrong)} disagree" + (f": {wrong}" if wrong else "")
    )
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
