"""examples/ci: the pipelines parse, use only formats and options tcpaudit has,
and pre-deploy.sh gates with tcpaudit's exit codes."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from ci_helpers import EXAMPLES, REPO

from tcpaudit.cli import audit_command
from tcpaudit.report import FORMATS

CI = EXAMPLES / "ci"
YAML_FILES = sorted([*CI.glob("*.yml"), *CI.glob("*.yaml"), REPO / ".pre-commit-hooks.yaml"])
PRE_DEPLOY = CI / "pre-deploy.sh"


def test_the_examples_exist() -> None:
    names = {p.name for p in CI.iterdir()}
    assert {
        "github-actions.yml",
        "gitlab-ci.yml",
        "pre-deploy.sh",
        "pre-commit-config.yaml",
        "README.md",
    } <= names


@pytest.mark.parametrize("path", YAML_FILES, ids=lambda p: p.name)
def test_yaml_parses(path: Path) -> None:
    assert yaml.safe_load(path.read_text(encoding="utf-8"))


def test_github_workflow_shape() -> None:
    workflow = yaml.safe_load((CI / "github-actions.yml").read_text(encoding="utf-8"))
    steps = workflow["jobs"]["audit"]["steps"]
    uses = [step.get("uses", "") for step in steps]
    assert any(u.startswith("github/codeql-action/upload-sarif@") for u in uses)
    upload = next(s for s in steps if s.get("uses", "").startswith("github/codeql-action/upload"))
    assert upload["with"]["sarif_file"] == "tcpaudit.sarif"
    assert workflow["jobs"]["audit"]["permissions"]["security-events"] == "write"
    commands = " ".join(step.get("run", "") for step in steps)
    assert "--format sarif --output tcpaudit.sarif" in commands and "--format github" in commands


def test_gitlab_job_publishes_junit() -> None:
    pipeline = yaml.safe_load((CI / "gitlab-ci.yml").read_text(encoding="utf-8"))
    job = pipeline["tcpaudit"]
    assert job["stage"] in pipeline["stages"]
    junit = job["artifacts"]["reports"]["junit"]
    assert any(f"--format junit --output {junit}" in line for line in job["script"])
    assert job["artifacts"]["when"] == "always"


def tcpaudit_commands() -> list[list[str]]:
    """Every `tcpaudit audit ...` command line in the examples and the hooks file."""
    commands = []
    for path in [*YAML_FILES, PRE_DEPLOY, CI / "README.md"]:
        for line in path.read_text(encoding="utf-8").splitlines():
            match = re.search(r"tcpaudit audit [^>|#`\n]*", line)
            if match and "$" not in match.group(0):
                commands.append(shlex.split(match.group(0))[2:])
    return commands


def test_commands_use_existing_options_formats_and_thresholds() -> None:
    commands = tcpaudit_commands()
    assert len(commands) >= 8
    options = {opt for param in audit_command.params for opt in param.opts}
    # --baseline is the audit option of this same issue (engine/baseline.py).
    options.add("--baseline")
    fail_on = {"info", "low", "medium", "high", "critical", "never"}
    for args in commands:
        for index, arg in enumerate(args):
            if arg.startswith("--"):
                assert arg in options, (arg, args)
            if index and args[index - 1] == "--format":
                assert arg in FORMATS, (arg, args)
            if index and args[index - 1] == "--fail-on":
                assert arg in fail_on, (arg, args)


def test_pre_deploy_script_is_valid_bash_and_executable() -> None:
    assert shutil.which("bash"), "bash is required"
    result = subprocess.run(["bash", "-n", str(PRE_DEPLOY)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert PRE_DEPLOY.stat().st_mode & stat.S_IXUSR


def pre_deploy(*args: str) -> subprocess.CompletedProcess[str]:
    program = Path(sys.executable).parent / "tcpaudit"
    assert program.exists(), (
        f"the tcpaudit console script is not installed next to {sys.executable}"
    )
    env = {**os.environ, "TCPAUDIT": str(program)}
    env.pop("TCPAUDIT_FAIL_ON", None)
    return subprocess.run(
        [str(PRE_DEPLOY), *args], capture_output=True, text=True, env=env, timeout=120
    )


def test_pre_deploy_gates_on_high(tmp_path: Path) -> None:
    tuned = pre_deploy(str(EXAMPLES / "tuned"), str(tmp_path / "reports"))
    assert tuned.returncode == 0, tuned.stderr
    assert "deploying" in tuned.stderr
    incident = pre_deploy(str(EXAMPLES / "closewait-incident"), str(tmp_path / "reports"))
    assert incident.returncode == 1, incident.stderr
    assert "deployment stopped" in incident.stderr and "TA301" in incident.stdout
    kept = sorted(p.name for p in (tmp_path / "reports").iterdir())
    assert kept == ["web1.shop.example.json", "web2.shop.example.json"]
    report = json.loads((tmp_path / "reports" / "web1.shop.example.json").read_text())
    assert report["grade"] == "F"
    assert stat.S_IMODE((tmp_path / "reports" / "web1.shop.example.json").stat().st_mode) == 0o600


def test_pre_deploy_unreadable_root_and_usage_exit_2(tmp_path: Path) -> None:
    missing = pre_deploy(str(tmp_path / "absent"), str(tmp_path / "reports"))
    assert missing.returncode == 2 and "deployment stopped" in missing.stderr
    assert not (tmp_path / "reports").exists()
    assert pre_deploy().returncode == 2
