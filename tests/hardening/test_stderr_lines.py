"""stderr carries error and note lines only: no Python warning a pattern of the
audited tree makes the re module give ("Possible nested set")."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_patterns_of_the_tree_make_no_python_warning(tmp_path: Path) -> None:
    root = tmp_path / "root"
    shutil.copytree(REPO / "tests/corpus/debian-12-apache2.4", root, symlinks=True)
    with (root / "etc/apache2/apache2.conf").open("a") as conf:
        conf.write(
            "<IfVersion ~ [[a-z]|2>\nTimeout 5\n</IfVersion>\n"
            "IncludeOptional conf-enabled/[[]*.conf\n"
        )
    (root / "etc/sysctl.d").mkdir(parents=True, exist_ok=True)
    (root / "etc/sysctl.d/90-x.conf").write_text("net.ipv4.tcp_[[k]eepalive_time = 600\n")
    env = {**os.environ, "PYTHONWARNINGS": "default"}
    done = subprocess.run(
        [sys.executable, "-m", "tcpaudit", "facts", "--root", str(root), "-o", str(tmp_path / "f")],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Warning" not in done.stderr, done.stderr
    assert all(line.startswith("tcpaudit: ") for line in done.stderr.splitlines()), done.stderr
