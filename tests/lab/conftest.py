"""The lab runs once per session: every cell of the CI matrix and the tunnel cells, side by side."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from holdlab import CellResult, lab_files, run_cells
from lab_matrix import ci_cells, send_buffer_cells, tunnel_cells

# Cells run side by side; each apache2 with two workers sleeps most of the time.
PARALLEL = 40


@pytest.fixture(scope="session")
def lab() -> Iterator[dict[str, CellResult]]:
    """Cell label -> what the cell measured."""
    with lab_files() as files:
        results = run_cells(
            [*ci_cells(), *tunnel_cells(), *send_buffer_cells()], files, parallel=PARALLEL
        )
    yield {result.cell.label: result for result in results}
