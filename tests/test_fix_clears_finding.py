"""Pasting a finding's fix makes that finding go away (the incident's root cause)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from click.testing import CliRunner

from tcpaudit.cli import cli

INCIDENT = Path(__file__).resolve().parents[1] / "examples" / "closewait-incident"
MAIN = "etc/httpd/conf/httpd.conf"


def _findings(root: Path) -> dict[str, dict[str, object]]:
    result = CliRunner().invoke(
        cli, ["audit", "--root", str(root), "--format", "json", "--fail-on", "never"]
    )
    assert result.exit_code == 0, result.output
    return {finding["rule"]: finding for finding in json.loads(result.output)["findings"]}


def _apply(conf: Path, fix: str) -> None:
    """Set each directive of ``fix`` where the file sets it now, else append it."""
    text = conf.read_text()
    for line in fix.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        name = line.split()[0]
        pattern = re.compile(rf"^{re.escape(name)}\s.*$", re.MULTILINE | re.IGNORECASE)
        if pattern.search(text) and name.lower() != "loadmodule":
            text = pattern.sub(line, text)
        else:
            text += line + "\n"
    conf.write_text(text)


def test_the_root_cause_fix_clears_ta301(tmp_path: Path) -> None:
    root = tmp_path / "host"
    shutil.copytree(INCIDENT, root, symlinks=True)
    before = _findings(root)
    fix = before["TA301"]["fix"]
    assert isinstance(fix, str)
    _apply(root / MAIN, fix)
    after = _findings(root)
    assert "TA301" not in after, after.get("TA301")
    # The timers the fix set are the ones the other rules asked for too.
    assert "TA101" not in after and "TA103" not in after and "TA104" not in after


def test_the_server_limit_fix_gives_every_worker_asked_for(tmp_path: Path) -> None:
    # 410 workers at 25 threads per child: ServerLimit 17 alone would still
    # round them down to 400; the fix says 425 too.
    case = Path(__file__).resolve().parent / "rules/TA111/trigger/above-server-limit-not-a-multiple"
    root = tmp_path / "host"
    shutil.copytree(case, root)
    fix = _findings(root)["TA111"]["fix"]
    assert isinstance(fix, str)
    _apply(root / "usr/local/apache2/conf/httpd.conf", fix)
    after = _findings(root)
    assert "TA111" not in after


def _tree(tmp_path: Path, text: str) -> Path:
    conf = tmp_path / "host/usr/local/apache2/conf/httpd.conf"
    conf.parent.mkdir(parents=True)
    conf.write_text(text)
    return tmp_path / "host"


def test_more_workers_on_a_threaded_mpm_count_whole_children(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        "LoadModule mpm_event_module modules/mod_mpm_event.so\n"
        "LoadModule reqtimeout_module modules/mod_reqtimeout.so\n"
        "RequestReadTimeout header=17 body=17\nTimeout 30\n"
        "MaxRequestWorkers 75\nServerLimit 3\n",
    )
    # A client that stops reading a large response holds a worker Timeout (30 s)
    # even on event: 5 such clients per second need 150 workers, 6 children of 25.
    fix = _findings(root)["TA301"]["fix"]
    assert isinstance(fix, str) and "MaxRequestWorkers 150" in fix and "ServerLimit 6" in fix
    _apply(root / "usr/local/apache2/conf/httpd.conf", fix)
    after = _findings(root)
    assert "TA301" not in after and "TA111" not in after


def test_a_negative_timeout_is_the_worst_case_not_a_blind_spot(tmp_path: Path) -> None:
    root = _tree(tmp_path, "LoadModule mpm_prefork_module modules/mod_mpm_prefork.so\nTimeout -1\n")
    findings = _findings(root)
    exhaustion = findings["TA301"]
    assert exhaustion["severity"] == "critical"
    assert "as long as it stays connected" in str(exhaustion["message"])
    assert isinstance(exhaustion["fix"], str) and "Timeout 30" in exhaustion["fix"]
    _apply(root / "usr/local/apache2/conf/httpd.conf", exhaustion["fix"])
    assert "TA301" not in _findings(root)


def test_on_24_loading_mod_reqtimeout_also_bounds_its_body_stage(tmp_path: Path) -> None:
    # httpd 2.4 applies header=20-40 body=20 at 500 B/s once the module is
    # loaded, but its body stage has no maximum (TA104): the fix writes one.
    root = _tree(
        tmp_path,
        "LoadModule mpm_prefork_module modules/mod_mpm_prefork.so\n"
        "Timeout 300\nMaxRequestWorkers 150\nKeepAliveTimeout 2\n",
    )
    fix = _findings(root)["TA301"]["fix"]
    assert fix == (
        "LoadModule reqtimeout_module modules/mod_reqtimeout.so\n"
        "RequestReadTimeout header=20-40,MinRate=500 body=20-120,MinRate=500\n"
        "Timeout 30"
    )
    _apply(root / "usr/local/apache2/conf/httpd.conf", str(fix))
    after = _findings(root)
    assert "TA301" not in after and "TA103" not in after and "TA104" not in after
