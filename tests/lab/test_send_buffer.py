"""What the model's slow reader is: a response larger than the socket's send buffer.

A client that stops reading holds a worker for Timeout only while the server
still has bytes of the response the kernel will not take (the lab's slow
reader asks for 64 MiB: test_hold_model.py). A response the send buffer takes
whole (it grows to net.ipv4.tcp_wmem's maximum; a quarter of it here) leaves
the connection waiting for its next request once written: held as a
keep-alive client is (event: not at all; prefork and worker: KeepAliveTimeout,
then the lingering close). On this machine kind (tcp_wmem's maximum 4 MiB), 2.5
MiB were still taken whole and 3 MiB held Timeout on both prefork and event:
the bound is the kernel's buffer, not event's write completion.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from holdlab import CellResult
from lab_matrix import send_buffer_cells
from test_hold_model import model_of

from tcpaudit.hold import kind_holds


@pytest.mark.parametrize("cell", send_buffer_cells(), ids=lambda cell: cell.label)
def test_a_response_the_send_buffer_takes_holds_no_worker_for_timeout(
    cell: object, lab: dict[str, CellResult], tmp_path: Path
) -> None:
    result = lab[cell.label]  # type: ignore[attr-defined]
    config = model_of(result, tmp_path)
    slow_reader = kind_holds(config)["slow_reader"]
    assert slow_reader.seconds == 8  # the cell's Timeout
    where = f"{result.cell.label}: {result.hold_seconds} s\n{result.detail}"
    assert result.hold_seconds is not None, where
    # Written whole into the buffer, the connection is a keep-alive one
    # waiting for its next request: held as the model's keepalive_idle
    # (prefork and worker: KeepAliveTimeout, then the lingering close;
    # event: nothing), far short of Timeout.
    idle = kind_holds(config)["keepalive_idle"].seconds
    assert idle is not None and idle <= 4
    assert abs(result.hold_seconds - idle) <= 1.0, where
