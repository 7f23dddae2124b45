"""The audited repository's own configuration cannot make tcpaudit read the host.

In CI, tcpaudit runs in the checkout of a pull request: the tcpaudit.toml it
finds there, and the rule directories that file names, are the author's.
A found configuration that is a symbolic link, and a rule directory that is
absolute or leads out of the configuration's directory (by ``..`` or by a
link), are refused with one error line; nothing outside is opened.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from childrun import assert_one_error_line, clis_in_child, opened_outside

REPO = Path(__file__).resolve().parents[2]
INCIDENT = REPO / "examples" / "closewait-incident"
MARKER = "HOST-ONLY-MARKER-41c2"


def _host(tmp_path: Path) -> Path:
    """Files only the host has: a secret-looking file and a rule directory."""
    host = tmp_path / "host"
    (host / "rules").mkdir(parents=True)
    (host / "secret.toml").write_text(f'profile = "{MARKER}"\n')
    (host / "rules" / "x.yaml").write_text(f"{MARKER}: 1\n")
    return host


def _repository(tmp_path: Path, name: str, config: str | None) -> Path:
    repository = tmp_path / name
    shutil.copytree(INCIDENT, repository / "root", symlinks=True)
    if config is not None:
        (repository / "tcpaudit.toml").write_text(config)
    return repository


def test_found_configuration_and_rule_directories_stay_in_the_repository(tmp_path: Path) -> None:
    host = _host(tmp_path)
    linked = _repository(tmp_path, "linked-config", None)
    (linked / "tcpaudit.toml").symlink_to(host / "secret.toml")
    linked_pyproject = _repository(tmp_path, "linked-pyproject", None)
    (linked_pyproject / "pyproject.toml").symlink_to(host / "secret.toml")
    absolute = _repository(tmp_path, "absolute", f'rules_dirs = ["{host / "rules"}"]\n')
    climbing = _repository(tmp_path, "climbing", 'rules_dirs = ["../host/rules"]\n')
    through_link = _repository(tmp_path, "through-link", '\nrules_dirs = ["audit-rules"]\n')
    (through_link / "audit-rules").symlink_to(host / "rules")
    inside = _repository(tmp_path, "inside", 'rules_dirs = ["audit-rules"]\n')
    (inside / "audit-rules").mkdir()
    runs = []
    for repository in (linked, linked_pyproject, absolute, climbing, through_link, inside):
        outcome = clis_in_child([["audit", "--root", "root", "--format", "json"]], repository)
        assert opened_outside(outcome, repository) == [], repository.name
        runs.append(outcome["runs"][0])
    for run in runs:
        assert MARKER not in run["stdout"] + run["stderr"]
    assert_one_error_line(runs[0], "tcpaudit.toml", "symbolic link", "--config")
    assert_one_error_line(runs[1], "pyproject.toml", "symbolic link", "--config")
    assert_one_error_line(runs[2], "tcpaudit.toml:1", "rules_dirs", "absolute", "--rules-dir")
    assert_one_error_line(runs[3], "tcpaudit.toml:1", "rules_dirs", "leads outside")
    assert_one_error_line(runs[4], "tcpaudit.toml:2", "rules_dirs", "leads outside")
    assert runs[5]["exit_code"] == 1, runs[5]["stderr"]


def test_the_operator_may_still_name_a_linked_configuration(tmp_path: Path) -> None:
    # --config is the operator's choice, not the repository's: it is followed.
    host = tmp_path / "host"
    host.mkdir()
    (host / "shared.toml").write_text('profile = "internal"\n')
    repository = _repository(tmp_path, "repository", None)
    (repository / "ci.toml").symlink_to(host / "shared.toml")
    (run,) = clis_in_child(
        [["audit", "--root", "root", "--format", "json", "--config", "ci.toml"]], repository
    )["runs"]
    assert run["exit_code"] == 1, run["stderr"]
    assert '"profile": "internal"' in run["stdout"]


def test_a_long_array_keeps_the_lines_of_what_follows(tmp_path: Path) -> None:
    # Each key's line was counted from the start of the file: an array of
    # 100,000 numbers took 4.8 s, 2 MB over 120 s. The line stays right.
    from click.testing import CliRunner

    from tcpaudit.cli import cli

    repository = _repository(
        tmp_path, "long", "disable = [" + ",\n".join(['"TA101"'] * 50_000) + "]\nprofile = 3\n"
    )
    result = CliRunner().invoke(
        cli,
        [
            "audit",
            "--root",
            str(repository / "root"),
            "--config",
            str(repository / "tcpaudit.toml"),
        ],
    )
    assert result.exit_code == 2
    assert "tcpaudit.toml:50001" in result.stderr
