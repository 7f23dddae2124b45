"""The hooks of .pre-commit-hooks.yaml, run by the real pre-commit on config repositories.

The hook repository is a fresh git repository holding this project's package
files (pre-commit clones a repository at a commit, and the working tree may not
be committed); pre-commit installs tcpaudit from it into a private cache.
Needs `pre-commit` (the test extra) and git.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from ci_helpers import EXAMPLES, REPO

HOOK_REPO_FILES = [
    "pyproject.toml",
    "README.md",
    "LICENSE",
    "src",
    "rules",
    ".pre-commit-hooks.yaml",
]
GIT_IDENTITY = [
    "-c",
    "user.name=tcpaudit tests",
    "-c",
    "user.email=tests@tcpaudit.invalid",
    "-c",
    "commit.gpgsign=false",
]


def git(cwd: Path, *args: str) -> str:
    assert shutil.which("git"), "git is required"
    result = subprocess.run(
        ["git", *GIT_IDENTITY, *args], cwd=cwd, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def commit_all(directory: Path) -> str:
    git(directory, "init", "--quiet", "--initial-branch=main")
    git(directory, "add", "--all")
    git(directory, "commit", "--quiet", "--message", "snapshot")
    return git(directory, "rev-parse", "HEAD")


@pytest.fixture(scope="module")
def hook_repo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """This project as pre-commit sees a hook repository: its package files, committed."""
    target = tmp_path_factory.mktemp("hook-repo")
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in HOOK_REPO_FILES:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, target / name, ignore=ignore)
        else:
            shutil.copy2(source, target / name)
    return target, commit_all(target)


@pytest.fixture(scope="module")
def pre_commit_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("pre-commit-home")


def run_hook(
    hook_id: str, example: str, hook_repo: tuple[Path, str], home: Path, workdir: Path
) -> subprocess.CompletedProcess[str]:
    """`pre-commit run --all-files` in a config repository holding examples/<example>."""
    repo, rev = hook_repo
    config_repo = workdir / f"{example}-{hook_id}"
    shutil.copytree(EXAMPLES / example, config_repo)
    config = {"repos": [{"repo": str(repo), "rev": rev, "hooks": [{"id": hook_id}]}]}
    (config_repo / ".pre-commit-config.yaml").write_text(yaml.safe_dump(config))
    commit_all(config_repo)
    env = {**os.environ, "PRE_COMMIT_HOME": str(home), "PRE_COMMIT_COLOR": "never"}
    if hook_id == "tcpaudit-system":
        # language: system runs what is on PATH: this interpreter's tcpaudit.
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return subprocess.run(
        [sys.executable, "-m", "pre_commit", "run", "--all-files", "--show-diff-on-failure"],
        cwd=config_repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_pre_commit_is_installed() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pre_commit", "--version"], capture_output=True, text=True
    )
    assert result.returncode == 0, "pre-commit is a test dependency: pip install pre-commit"


def test_manifest_and_example_config_pass_pre_commits_validators() -> None:
    for command, path in [
        ("validate-manifest", REPO / ".pre-commit-hooks.yaml"),
        ("validate-config", EXAMPLES / "ci" / "pre-commit-config.yaml"),
    ]:
        result = subprocess.run(
            [sys.executable, "-m", "pre_commit", command, str(path)],
            capture_output=True,
            text=True,
        )
        assert result.returncode == 0, result.stdout + result.stderr
    hooks = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    assert [hook["id"] for hook in hooks] == ["tcpaudit", "tcpaudit-system"]
    assert {hook["language"] for hook in hooks} == {"python", "system"}
    assert all(hook["pass_filenames"] is False for hook in hooks)


@pytest.mark.parametrize(
    ("path", "matches"),
    [
        ("etc/httpd/conf/httpd.conf", True),
        ("etc/httpd/conf.d/shop.conf", True),
        ("etc/apache2/sites-enabled/000-default.conf", True),
        ("hosts/web1/etc/apache2/apache2.conf", True),
        ("etc/sysctl.conf", True),
        ("etc/sysctl.d/90-tcp.conf", True),
        ("etc/sysconfig/httpd", True),
        ("proc/sys/net/ipv4/tcp_keepalive_time", True),
        ("tcpaudit.toml", True),
        ("README.md", False),
        ("etc/nginx/nginx.conf", False),
        ("src/app.py", False),
    ],
)
def test_hook_files_pattern(path: str, matches: bool) -> None:
    hooks = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    for hook in hooks:
        assert bool(re.search(hook["files"], path)) is matches, (hook["id"], path)


@pytest.mark.parametrize("hook_id", ["tcpaudit", "tcpaudit-system"])
def test_hook_fails_on_the_incident_and_passes_on_the_tuned_tree(
    hook_id: str, hook_repo: tuple[Path, str], pre_commit_home: Path, tmp_path: Path
) -> None:
    incident = run_hook(hook_id, "closewait-incident", hook_repo, pre_commit_home, tmp_path)
    output = incident.stdout + incident.stderr
    assert incident.returncode == 1, output
    assert "Failed" in output and "- exit code: 1" in output
    assert "TA301" in output and "etc/httpd/conf/httpd.conf:11" in output
    tuned = run_hook(hook_id, "tuned", hook_repo, pre_commit_home, tmp_path)
    output = tuned.stdout + tuned.stderr
    assert tuned.returncode == 0, output
    assert "Passed" in output


def test_hook_skips_a_repository_without_host_configuration(
    hook_repo: tuple[Path, str], pre_commit_home: Path, tmp_path: Path
) -> None:
    repo, rev = hook_repo
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "notes.md").write_text("no configuration here\n")
    config = {"repos": [{"repo": str(repo), "rev": rev, "hooks": [{"id": "tcpaudit-system"}]}]}
    (plain / ".pre-commit-config.yaml").write_text(yaml.safe_dump(config))
    commit_all(plain)
    result = subprocess.run(
        [sys.executable, "-m", "pre_commit", "run", "--all-files"],
        cwd=plain,
        env={**os.environ, "PRE_COMMIT_HOME": str(pre_commit_home), "PRE_COMMIT_COLOR": "never"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no files to check" in result.stdout and "Skipped" in result.stdout
