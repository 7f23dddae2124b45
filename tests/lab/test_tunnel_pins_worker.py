"""A proxied WebSocket keeps its worker on every MPM (TA116), measured on a real apache2.

Two clients open a WebSocket through mod_proxy_wstunnel to a backend on
127.0.0.1, then a third asks for a page. Idle tunnels hold both workers for
Timeout (plus the lingering close of prefork and worker), event included;
tunnels that carry a frame a second are never let go.
"""

from __future__ import annotations

import pytest
from holdlab import CellResult
from lab_matrix import tunnel_cells
from test_hold_model import tolerance

from tcpaudit.hold import LINGER_SECONDS

CELLS = tunnel_cells()


@pytest.mark.parametrize(
    "cell", [c for c in CELLS if c.kind == "websocket_idle"], ids=lambda cell: cell.label
)
def test_an_idle_websocket_holds_a_worker_for_timeout(cell, lab: dict[str, CellResult]) -> None:
    result = lab[cell.label]
    expected = cell.config.timeout + (LINGER_SECONDS if cell.config.mpm != "event" else 0.0)
    assert result.hold_seconds is not None, result.detail
    assert abs(result.hold_seconds - expected) <= tolerance(expected), (cell.label, result)


@pytest.mark.parametrize(
    "cell", [c for c in CELLS if c.kind == "websocket_active"], ids=lambda cell: cell.label
)
def test_a_busy_websocket_never_lets_its_worker_go(cell, lab: dict[str, CellResult]) -> None:
    result = lab[cell.label]
    assert result.hold_seconds is None, (cell.label, result.hold_seconds)
    assert result.still_held, result.detail
