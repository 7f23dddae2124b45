"""A copied /proc made to mislead: what diagnose reads of a process never blocks, escapes or lies.

``cmdline`` as a FIFO, ``exe`` pointing out of the tree or at a FIFO, an
``environ`` past its bound, ``stat`` that is not the kernel's: each is
refused or bounded, said in a note, and the sockets are still diagnosed.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from test_diagnose_instances import _site_tree

from tcpaudit.diagnose import Diagnosis, diagnose

SECONDS = 30.0  # a safety limit on a shared machine, not a speed claim


def _diagnose(root: Path) -> Diagnosis:
    """diagnose() in a thread, so that a read that blocks fails the test instead of hanging it."""
    result: list[Diagnosis] = []
    errors: list[BaseException] = []

    def target() -> None:
        try:
            result.append(diagnose(root, ports=[8080]))
        except BaseException as exc:  # re-raised below
            errors.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(SECONDS)
    assert not thread.is_alive(), "diagnose blocked on a planted entry"
    if errors:
        raise errors[0]
    return result[0]


def _notes(result: Diagnosis) -> str:
    return " | ".join(note.message for note in result.notes)


@pytest.mark.parametrize("planted", ["fifo", "outside"])
def test_a_planted_exe_is_never_read_outside_the_tree_or_as_a_fifo(
    tmp_path: Path, planted: str
) -> None:
    _site_tree(tmp_path)
    exe = tmp_path / "proc" / "500" / "exe"
    exe.unlink()
    if planted == "fifo":
        (tmp_path / "opt" / "httpd" / "bin").mkdir(parents=True)
        os.mkfifo(tmp_path / "opt" / "httpd" / "bin" / "httpd")
        os.symlink("/opt/httpd/bin/httpd", exe)
    else:
        # The host's own apache2, reached by climbing: resolved inside the tree, where it is not.
        os.symlink("../../../../../../../../usr/sbin/apache2", exe)
    result = _diagnose(tmp_path)
    assert result.instance is not None and result.instance.binary_version is None
    assert "which is not an httpd binary that can be read here" in _notes(result)
    assert result.connections.close_wait_unaccepted == 2


def test_a_fifo_cmdline_and_an_oversized_environ(tmp_path: Path) -> None:
    _site_tree(tmp_path)
    process = tmp_path / "proc" / "500"
    (process / "cmdline").unlink()
    os.mkfifo(process / "cmdline")
    (process / "environ").write_bytes(b"A=" + b"x" * (2 * 1024 * 1024) + b"\0")
    result = _diagnose(tmp_path)
    # No command line: the instance cannot say what it runs, and the diagnosis says so.
    assert "the command line of process 500, which holds 0.0.0.0:8080, is not readable" in (
        _notes(result)
    )
    assert result.connections.close_wait_unaccepted == 2


def test_a_stat_that_is_not_the_kernels(tmp_path: Path) -> None:
    _site_tree(tmp_path)
    for pid in ("500", "501"):
        (tmp_path / "proc" / pid / "stat").write_text("garbage ) ) x y\n")
    result = _diagnose(tmp_path)
    # No parent known: the lowest holder stands for the tree; its command line still counts.
    assert result.instance is not None and result.instance.pid == 500
    assert result.instance.config_file == "opt/site/conf/main.conf"
