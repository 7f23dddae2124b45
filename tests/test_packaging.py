"""The built wheel works on its own: console script, rule catalogue, examples audit.

Builds the wheel from this checkout, installs it into a fresh virtual
environment, and runs the installed ``tcpaudit`` from a directory outside the
source tree. The new environment takes its dependencies from the site-packages
of the interpreter running the tests, whether that is a virtualenv or the
system Python: ``system_site_packages`` would reach the base interpreter
instead, which a virtualenv's packages are not in.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "build",
            "--wheel",
            "--no-isolation",
            "--outdir",
            str(work),
            str(REPO),
        ],
        check=True,
        capture_output=True,
    )
    wheel = next(work.glob("tcpaudit-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "tcpaudit/rules/TA301-worker-exhaustion.yaml" in names
    assert "tcpaudit/py.typed" in names
    assert "ansible_collections/tcpaudit/audit/plugins/modules/facts.py" in names
    environment = work / "venv"
    venv.EnvBuilder(with_pip=False).create(environment)
    python = environment / "bin" / "python"
    _borrow_dependencies(python)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "--no-deps",
            "--quiet",
            str(wheel),
        ],
        check=True,
        capture_output=True,
    )
    return environment / "bin"


def _borrow_dependencies(python: Path) -> None:
    """Let the new environment import this interpreter's packages, after its own.

    A path written in a ``.pth`` file is appended to ``sys.path`` without its
    own ``.pth`` files being run, so the editable install of this checkout
    (itself a ``.pth`` hook in those site-packages) stays out: the wheel's copy
    of tcpaudit is the one imported.
    """
    own = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    borrowed = dict.fromkeys([sysconfig.get_path("purelib"), sysconfig.get_path("platlib")])
    (Path(own) / "_tcpaudit_test_dependencies.pth").write_text(
        "".join(f"{path}\n" for path in borrowed), encoding="utf-8"
    )


def test_installed_wheel_lists_its_catalogue(installed: Path, tmp_path: Path) -> None:
    result = subprocess.run(
        [str(installed / "tcpaudit"), "rules", "--format", "json"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    ids = {rule["id"] for rule in json.loads(result.stdout)}
    source_ids = {path.name.split("-")[0] for path in (REPO / "rules").glob("*.yaml")}
    assert ids == source_ids


def test_installed_wheel_audits_the_incident(installed: Path, tmp_path: Path) -> None:
    result = subprocess.run(
        [
            str(installed / "tcpaudit"),
            "audit",
            "--root",
            str(REPO / "examples" / "closewait-incident"),
            "--format",
            "json",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1, result.stderr
    assert json.loads(result.stdout)["grade"] == "F"
    imported = subprocess.run(
        [str(installed / "python"), "-c", "import tcpaudit, sys; print(tcpaudit.__file__)"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    assert str(installed.parent) in imported.stdout, "the wheel, not the source tree, is imported"


def test_installed_wheel_ships_the_ansible_collection(installed: Path, tmp_path: Path) -> None:
    environment = {
        **os.environ,
        "ANSIBLE_HOME": str(tmp_path),
        "ANSIBLE_LOCAL_TEMP": str(tmp_path / "t"),
    }
    environment.pop("ANSIBLE_COLLECTIONS_PATH", None)
    result = subprocess.run(
        [str(installed / "python"), "-m", "ansible", "doc", "tcpaudit.audit.facts"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=environment,
    )
    assert result.returncode == 0, result.stderr
    assert str(installed.parent) in result.stdout, "found in the wheel's site-packages"
