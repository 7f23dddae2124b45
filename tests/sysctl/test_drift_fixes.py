"""Fixes where live and persistent sysctl values differ: right value, right place.

TA208 (drift) must never recommend a value another rule flags, and a rule
that judges the live value must point at the /proc file and apply the
persistent value when that file is already right. Each test pastes the fix
into the tree (``_paste``: the file edits and the /proc writes it makes)
and audits again.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
from realtool import write_files

import tcpaudit
from tcpaudit.engine import Finding

RULE_FIXTURES = Path(__file__).resolve().parents[1] / "rules"
RETRIES2 = "net.ipv4.tcp_retries2"
SYNCOOKIES = "net.ipv4.tcp_syncookies"
KEEPALIVE_TIME = "net.ipv4.tcp_keepalive_time"


def _findings(root: Path) -> list[Finding]:
    return tcpaudit.audit(tcpaudit.gather(root=root)).findings


def _one(findings: list[Finding], rule: str, setting: str | None = None) -> Finding:
    chosen = [f for f in findings if f.rule == rule and setting in (None, f.setting)]
    assert len(chosen) == 1, [f.rule for f in findings]
    return chosen[0]


def _write_live(root: Path, key: str, value: str) -> None:
    (root / "proc/sys" / key.replace(".", "/")).write_text(f"{value}\n")


def _paste(root: Path, fix: str) -> None:
    """Run the fix's shell lines against ``root`` (comments are alternatives), then
    give the live tree the values they set, as their ``sysctl -p``/``-w`` would."""
    lines = [line for line in fix.splitlines() if not line.startswith("#")]
    assignments: list[tuple[str, str]] = []
    for line in lines:
        if line.startswith("sysctl -w "):
            for word in shlex.split(line)[2:]:
                key, _, value = word.partition("=")
                assignments.append((key, value))
        elif not line.startswith("sysctl -p "):
            # grep || echo 'k = v' >> FILE, or sed -i 'Nc k = v' FILE
            words = shlex.split(line)
            assert words[0] in ("grep", "sed"), line
            written = words[-1]
            setting = words[2] if words[0] == "grep" else words[2].split("c ", 1)[1]
            key, _, value = (part.strip() for part in setting.partition("="))
            assignments.append((key, value))
            assert written.startswith("/etc/sysctl"), line
            script = line.replace(written, shlex.quote(str(root / written.lstrip("/"))))
            subprocess.run(["sh", "-e", "-c", script], check=True)
    assert assignments, fix
    for key, value in assignments:
        _write_live(root, key, value)


def _tree(tmp_path: Path, key: str, live: str, persistent: str) -> Path:
    return write_files(
        tmp_path / "host",
        {
            f"proc/sys/{key.replace('.', '/')}": f"{live}\n",
            "etc/sysctl.d/60-tuning.conf": f"{key} = {persistent}\n",
        },
    )


@pytest.mark.parametrize(
    ("key", "persistent", "live", "recommended", "named"),
    [
        (RETRIES2, "3", "15", "8", "TA209"),  # the file's 3 would break lossy paths
        (RETRIES2, "15", "8", "8", "TA202"),  # the file's 15 is what TA202 flags
        (RETRIES2, "15", "3", "8", "TA202"),  # both flagged: what they recommend
        (RETRIES2, "8", "15", "8", "TA202"),  # the file is right: apply it
        (SYNCOOKIES, "0", "1", "1", "TA206"),
        (SYNCOOKIES, "1", "0", "1", "TA206"),
        (KEEPALIVE_TIME, "7200", "600", "600", "TA201"),
        (KEEPALIVE_TIME, "600", "7200", "600", "TA201"),
    ],
)
def test_drift_fix_recommends_a_value_no_rule_flags_and_says_which_rule(
    tmp_path: Path, key: str, persistent: str, live: str, recommended: str, named: str
) -> None:
    root = _tree(tmp_path, key, live, persistent)
    # Keepalive detection also depends on intvl and probes: give them short values.
    _write_live(root, "net.ipv4.tcp_keepalive_intvl", "30")
    _write_live(root, "net.ipv4.tcp_keepalive_probes", "5")
    drift = _one(_findings(root), "TA208", key)
    assert drift.recommended == recommended
    assert named in drift.message
    assert drift.fix is not None
    _paste(root, drift.fix)
    after = [f for f in _findings(root) if f.setting == key]
    assert after == [], [(f.rule, f.message) for f in after]


def test_file_value_flagged_elsewhere_is_never_the_fix(tmp_path: Path) -> None:
    # The reviewer's case: persistent 3, live 15; before, `sysctl -w ...=3`.
    root = _tree(tmp_path, RETRIES2, "15", "3")
    drift = _one(_findings(root), "TA208", RETRIES2)
    assert drift.fix is not None and "=3" not in drift.fix and "= 3" not in drift.fix
    assert "TA209 flags the file's value" in drift.message
    assert "set 8, which TA209 and TA202 recommend" in drift.message


def _fixture(tmp_path: Path, rule: str, case: str) -> Path:
    root = tmp_path / case
    shutil.copytree(RULE_FIXTURES / rule / "trigger" / case, root)
    return root


def test_live_value_off_file_right_points_at_proc_and_applies_the_file(tmp_path: Path) -> None:
    # The reviewer's case: live tcp_syncookies 0, /etc/sysctl.conf:22 says 1.
    root = _fixture(tmp_path, "TA206", "live-off-file-on")
    finding = _one(_findings(root), "TA206")
    assert finding.location is not None
    assert (finding.location.file, finding.location.line) == (
        "proc/sys/net/ipv4/tcp_syncookies",
        None,
    )
    assert finding.fix == "sysctl -w net.ipv4.tcp_syncookies=1"
    assert "etc/sysctl.conf:22 already sets 1 for the next boot: apply it now." in finding.message
    _paste(root, finding.fix)
    assert not [f for f in _findings(root) if f.setting == SYNCOOKIES]
    assert (root / "etc/sysctl.conf").read_text().count("tcp_syncookies") == 1  # file untouched


def test_retries2_long_live_file_right_points_at_proc(tmp_path: Path) -> None:
    root = _fixture(tmp_path, "TA202", "file-sets-8-not-applied")
    finding = _one(_findings(root), "TA202")
    assert (
        finding.location is not None and finding.location.file == "proc/sys/net/ipv4/tcp_retries2"
    )
    assert (finding.fix, finding.recommended) == ("sysctl -w net.ipv4.tcp_retries2=8", 8)
    assert "etc/sysctl.d/60-retries.conf:1 already sets 8" in finding.message


def test_keepalive_slow_live_files_fast_applies_every_drifting_key(tmp_path: Path) -> None:
    root = _fixture(tmp_path, "TA201", "files-fast-not-applied")
    finding = _one(_findings(root), "TA201")
    assert finding.location is not None
    assert finding.location.file == "proc/sys/net/ipv4/tcp_keepalive_time"
    assert finding.fix == (
        "sysctl -w net.ipv4.tcp_keepalive_time=600 net.ipv4.tcp_keepalive_intvl=30 "
        "net.ipv4.tcp_keepalive_probes=5"
    )
    assert "The files already set tcp_keepalive_time 600 (etc/sysctl.d/60-keepalive.conf:1)" in (
        finding.message
    )
    _paste(root, finding.fix)
    assert not [f for f in _findings(root) if f.rule in ("TA201", "TA208")]


def test_file_that_another_rule_flags_is_still_the_place_to_edit(tmp_path: Path) -> None:
    # Live 3 (TA209), file 15 (TA202): applying the file would trade one
    # finding for another, so the file changes.
    root = _fixture(tmp_path, "TA209", "live-3-file-15")
    finding = _one(_findings(root), "TA209")
    assert finding.location is not None
    assert (finding.location.file, finding.location.line) == ("etc/sysctl.d/60-retries.conf", 1)
    assert finding.recommended == 8 and finding.fix is not None
    assert finding.fix.startswith(
        "grep -qxF 'net.ipv4.tcp_retries2 = 8' /etc/sysctl.d/99-tcpaudit.conf 2>/dev/null"
    )
    _paste(root, finding.fix)
    assert not [f for f in _findings(root) if f.setting == RETRIES2]


def test_no_drift_keeps_pointing_at_the_file(tmp_path: Path) -> None:
    root = _tree(tmp_path, SYNCOOKIES, "0", "0")
    finding = _one(_findings(root), "TA206")
    assert finding.location is not None and finding.location.file == "etc/sysctl.d/60-tuning.conf"
    assert finding.fix is not None and finding.fix.startswith("grep -qxF ")


INCIDENT = Path(__file__).resolve().parents[2] / "examples" / "closewait-incident"


def test_lowered_keepalive_waits_for_apaches_fix_on_a_drained_host(tmp_path: Path) -> None:
    # The incident host, with keepalive lowered in a file but not applied:
    # TA302 flags 600 while Apache's timers drain the workers, TA201 flags
    # the live 7200. No value is clean now; 600 is, once TA302's fix is in.
    root = tmp_path / "host"
    shutil.copytree(INCIDENT, root, symlinks=True)
    (root / "etc/sysctl.d").mkdir(exist_ok=True)
    (root / "etc/sysctl.d/90-keepalive.conf").write_text(
        "net.ipv4.tcp_keepalive_time = 600\nnet.ipv4.tcp_keepalive_intvl = 30\n"
        "net.ipv4.tcp_keepalive_probes = 5\n"
    )
    findings = _findings(root)
    drift = _one(findings, "TA208", KEEPALIVE_TIME)
    assert drift.recommended == "600"
    assert drift.fix == "# after the fix of TA302:\nsysctl -w net.ipv4.tcp_keepalive_time=600"
    assert "TA302 flags the file's value only until the fix it names is in" in drift.message
    # TA201 recommends the same values anyway: it applies the files, Apache first.
    detection = _one(findings, "TA201")
    assert detection.location is not None
    assert detection.location.file == "proc/sys/net/ipv4/tcp_keepalive_time"
    assert detection.fix is not None and detection.fix.startswith("sysctl -w ")
    assert "fix them first" in detection.message
