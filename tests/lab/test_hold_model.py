"""tcpaudit's worker-hold model against a real apache2, cell by cell.

The lab (holdlab.py) runs every cell of the CI matrix (lab_matrix.py) side by
side, about a minute in all: a real apache2 per MPM and configuration, two
workers, two stalled clients of one kind, then a queued request. For each
cell, tcpaudit reads the configuration the server ran and its model must give
the hold the lab measured, within max(1 s, 15 %), and "no limit" exactly where
the server still held both clients after twice its longest timer. Without
apache2 or openssl the lab fails: it is the proof the model rests on.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from holdlab import APACHE2, KINDS, Cell, CellResult
from lab_matrix import MPMS, ci_cells

import tcpaudit
from tcpaudit.hold import kind_holds, silent_deferred_seconds

CELLS = ci_cells()


def tolerance(expected: float) -> float:
    return max(1.0, 0.15 * expected)


def apache_version() -> str:
    assert APACHE2 is not None, "the lab needs apache2 (Debian: apt-get install apache2)"
    text = subprocess.run([APACHE2, "-v"], capture_output=True, text=True, check=True).stdout
    match = re.search(r"Apache/(\d+\.\d+\.\d+)", text)
    assert match, text
    return match.group(1)


def model_of(result: CellResult, directory: Path) -> tcpaudit.ApacheConfig:
    conf = directory / "httpd.conf"
    # The server's ServerRoot was removed when it stopped, and httpd refuses
    # a ServerRoot that is no directory; its files are all named absolutely.
    conf.write_text(re.sub(r"(?m)^ServerRoot .*$", f"ServerRoot {directory}", result.config_text))
    config = tcpaudit.load_apache(conf, root="/", version=apache_version())
    assert config is not None
    return config


@pytest.mark.parametrize("cell", CELLS, ids=lambda cell: cell.label)
def test_the_model_gives_the_hold_the_lab_measures(
    cell: Cell, lab: dict[str, CellResult], tmp_path: Path
) -> None:
    result = lab[cell.label]
    config = model_of(result, tmp_path)
    hold = kind_holds(config)[cell.kind]  # type: ignore[index]
    where = f"{cell.label}: model {hold}, lab {result.hold_seconds} s\n{result.detail}"
    if hold.seconds is None:
        assert result.hold_seconds is None, where
        assert result.still_held, f"no limit, yet the server let go: {where}"
        return
    assert result.hold_seconds is not None, (
        f"lab: still held after {result.gave_up_after} s; {where}"
    )
    assert abs(result.hold_seconds - hold.seconds) <= tolerance(hold.seconds), where
    if result.deferred_seconds is not None:
        deferred = silent_deferred_seconds(config)
        assert abs(result.deferred_seconds - deferred) <= tolerance(deferred), (
            f"{cell.label}: TCP_DEFER_ACCEPT kept the clients {result.deferred_seconds} s, "
            f"model {deferred} s"
        )


def test_every_kind_and_mpm_is_measured() -> None:
    kinds = {(cell.config.mpm, cell.kind) for cell in CELLS}
    assert kinds == {(mpm, kind) for mpm in MPMS for kind in KINDS}
    assert {cell.config.reqtimeout is None for cell in CELLS} == {True, False}
