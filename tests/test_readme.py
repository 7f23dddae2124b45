"""README shows what the code prints today: the audit sample and the rule table.

Run with TCPAUDIT_UPDATE_README=1 to rewrite the generated blocks.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from tcpaudit.cli import cli

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"


def _generated(args: list[str], fence: bool) -> str:
    result = CliRunner().invoke(cli, args, env={"NO_COLOR": "1"})
    text = result.stdout.rstrip("\n")
    return f"```text\n{text}\n```" if fence else text


def _check_block(name: str, content: str) -> None:
    text = README.read_text(encoding="utf-8")
    pattern = re.compile(rf"(<!-- {name} -->\n)(.*?)(<!-- /{name} -->)", re.S)
    match = pattern.search(text)
    assert match, f"README lacks the <!-- {name} --> block"
    wanted = content + "\n"
    if os.environ.get("TCPAUDIT_UPDATE_README"):
        README.write_text(text[: match.start(2)] + wanted + text[match.end(2) :], encoding="utf-8")
        return
    assert match.group(2) == wanted, (
        f"README block {name} is stale: TCPAUDIT_UPDATE_README=1 pytest {__file__}"
    )


def test_readme_audit_sample_is_current() -> None:
    # Run from the repository so the paths read as a newcomer sees them.
    old = Path.cwd()
    os.chdir(REPO)
    try:
        sample = _generated(["audit", "--root", "examples/closewait-incident"], fence=True)
    finally:
        os.chdir(old)
    _check_block("sample:audit", sample)


def test_readme_fix_sample_is_current(tmp_path: Path) -> None:
    """The incident's patch, and the audit of a copy it was applied to with patch -p1."""
    old = Path.cwd()
    os.chdir(REPO)
    try:
        patch = CliRunner().invoke(cli, ["fix", "--root", "examples/closewait-incident"]).stdout
    finally:
        os.chdir(old)
    _check_block("sample:fix", f"```diff\n{patch.rstrip()}\n```")
    copy = tmp_path / "closewait-incident"
    shutil.copytree(REPO / "examples" / "closewait-incident", copy, symlinks=True)
    subprocess.run(["patch", "-p1", "--batch"], input=patch, text=True, cwd=copy, check=True,
                   capture_output=True)  # fmt: skip
    os.chdir(tmp_path)
    try:
        audited = _generated(["audit", "--root", "closewait-incident"], fence=False)
    finally:
        os.chdir(old)
    # The summary and the table: the findings' texts are in the sample above.
    head = audited.split("\n\n")[:2]
    assert "Grade B" in head[0]
    _check_block("sample:fix-applied", "```text\n" + "\n\n".join(head) + "\n```")


def test_readme_rule_table_is_the_catalogue() -> None:
    _check_block("rules", _generated(["rules", "--format", "markdown"], fence=False))


def test_ci_runs_the_two_set_up_commands_readme_prints() -> None:
    import runpy

    commands = runpy.run_path(str(REPO / ".ci" / "readme_commands.py"))["setup_commands"]
    found = commands(README.read_text(encoding="utf-8"))
    assert found == [
        "pip install . && tcpaudit audit --root examples/closewait-incident",
        "pip install -e '.[test]' && python -m pytest",
    ]
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert "python3 -m venv .venv" in ci and "readme_commands.py README.md" in ci


def test_readme_library_sample_prints_what_readme_says() -> None:
    text = README.read_text(encoding="utf-8")
    match = re.search(r"<!-- sample:library -->\n```python\n(.*?)```\n", text, re.S)
    assert match, "README lacks the <!-- sample:library --> block"
    ran = subprocess.run(
        [sys.executable, "-c", match.group(1)], cwd=REPO, capture_output=True, text=True
    )
    assert ran.returncode == 0, ran.stderr
    _check_block("sample:library-output", f"```text\n{ran.stdout.rstrip()}\n```")


def _diagnosis_part(args: list[str], *, with_notes: bool = False) -> str:
    """A diagnose run as README shows it: the diagnosis, not the audit that follows."""
    old = Path.cwd()
    os.chdir(REPO)
    try:
        out = CliRunner().invoke(cli, args, env={"NO_COLOR": "1"}).stdout
    finally:
        os.chdir(old)
    # The audit report follows the diagnosis under its "tcpaudit VERSION | host" line.
    diagnosis, report = ([*re.split(r"\ntcpaudit \S+ \| ", out, maxsplit=1), ""])[:2]
    text = f"$ tcpaudit {' '.join(args)}\n{diagnosis.rstrip()}\n..."
    if with_notes:
        text += "\nnotes:" + report.rpartition("\nnotes:")[2].rstrip()
    return f"```text\n{text}\n```"


def test_readme_diagnose_sample_of_a_running_instance_is_current() -> None:
    _check_block(
        "sample:diagnose-instance",
        _diagnosis_part(["diagnose", "--root", "tests/diagnose/fixtures/proxied-site"]),
    )


def test_readme_diagnose_watch_sample_is_the_recorded_run() -> None:
    recorded = REPO / "tests" / "diagnose" / "fixtures" / "proxied-site" / "watch-recorded.txt"
    _check_block("sample:diagnose-watch", f"```text\n{recorded.read_text().rstrip()}\n```")


def test_readme_diagnose_sample_of_the_incident_capture_is_current() -> None:
    capture = "examples/closewait-incident/netstat-tp.txt"
    args = ["diagnose", "--root", "examples/closewait-incident", "--netstat", capture]
    _check_block("sample:diagnose-netstat", _diagnosis_part(args, with_notes=True))
