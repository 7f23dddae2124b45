"""Apply ``tcpaudit fix``'s patch to a copy of a tree, audit it again, run apache2 -t.

Every tree the project holds goes through it: the examples, the corpus
(real distribution trees) and every rule's trigger fixtures. A tree is
copied, audited as its tests audit it (expect.yaml: version, profile, date;
a tcpaudit.toml beside it), planned, and the patch applied to the copy with
the real ``patch -p1``. The copy is then audited again, and for an httpd 2.4
tree the real apache2 checks the original and the patched copy (both
normalised for this machine by apache_harness, the same way).

Corpus parser fixtures that load no MPM, or use directives of modules they
never load, are prepared as the differential suite prepares them
(test_apache_differential.prepare): tcpaudit is then given the same modules
with ``-C``, as httpd is.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from apache_harness import map_tree, normalise_tree, preload_line, run_apache
from test_apache_differential import TREES_2_4, Tree, prepare

import tcpaudit
from tcpaudit.engine import Report, audit, load_config
from tcpaudit.remedy import plan, render_diff

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = sorted(p for p in (REPO / "examples").iterdir() if (p / "etc").is_dir())
CORPUS = sorted(p for p in (REPO / "tests" / "corpus").iterdir() if p.is_dir())
TRIGGERS = sorted((REPO / "tests" / "rules").glob("TA*/trigger/*"))
ALL_TREES = [*EXAMPLES, *CORPUS, *TRIGGERS]

_MEDIUM_UP = frozenset({"medium", "high", "critical"})


def case_name(source: Path) -> str:
    return source.relative_to(REPO).as_posix()


@dataclass
class Proof:
    """What happened to one tree."""

    name: str
    before: Report
    after: Report
    diff: str
    # The copy the patch was applied to, and an untouched copy for other tools.
    patched: Path
    pristine: Path
    audit_options: dict[str, Any]
    version: str | None
    layout: str | None = None
    apache_before: bool | None = None  # apache2 -t accepted the original (None: not run)
    apache_after: bool | None = None
    apache_error: str = ""
    notes: list[str] = field(default_factory=list)


def _expect(source: Path) -> dict[str, Any]:
    file = source / "expect.yaml"
    loaded = yaml.safe_load(file.read_text()) if file.exists() else None
    return dict(loaded or {})


def run_audit(root: Path, options: dict[str, Any]) -> Report:
    """Audit ``root`` as the catalogue tests do (version, profile, date, tcpaudit.toml)."""
    return audit_facts(root, options)[1]


def audit_facts(root: Path, options: dict[str, Any]) -> tuple[tcpaudit.HostFacts, Report]:
    """The facts of ``root`` and their report."""
    facts = tcpaudit.gather(
        root=root,
        apache_version=options.get("apache_version"),
        directives=options.get("directives", ()),
        apache_build=options.get("apache_build"),
        host="proof",
    )
    config_file = root / "tcpaudit.toml"
    config = load_config(config_file) if config_file.exists() else None
    report = audit(facts, config, profile=options.get("profile"), today=options.get("today"))
    return facts, report


def patch(root: Path, diff: str, tool: str = "patch") -> None:
    """Apply ``diff`` in ``root`` with the real ``patch -p1`` (or ``git apply``)."""
    command = ["patch", "-p1", "--batch", "--forward"] if tool == "patch" else ["git", "apply"]
    done = subprocess.run(command, input=diff, text=True, cwd=root, capture_output=True)
    assert done.returncode == 0, f"{tool} refused the patch in {root}:\n{done.stdout}{done.stderr}"


def _apache_check(
    root: Path,
    work: Path,
    main_file: str,
    server_root: str,
    tree: Tree | None,
    extra: dict[str, Any],
) -> tuple[bool, str]:
    """apache2 -t on a normalised, path-mapped copy of ``root``."""
    copy = work
    shutil.copytree(root, copy, symlinks=True)
    if tree is None:
        normalise_tree(copy)
    map_tree(copy)
    environment = dict(extra.get("environment", {}))
    for name, value in list(environment.items()):
        # The prepared environment names the prepared copy: re-point it here.
        if (
            isinstance(value, str)
            and extra.get("prepared_root")
            and value.startswith(str(extra["prepared_root"]))
        ):
            environment[name] = str(copy) + value[len(str(extra["prepared_root"])) :]
            if name in ("APACHE_RUN_DIR", "APACHE_LOCK_DIR", "APACHE_LOG_DIR"):
                Path(environment[name]).mkdir(parents=True, exist_ok=True)
    run = run_apache(
        copy,
        main_file,
        server_root,
        options=tuple(extra.get("options", ())),
        environment=environment,
        preload=tuple(extra.get("preload", ())),
    )
    return run.accepted, run.stderr.strip()


def prove(source: Path, work: Path, tree: Tree | None = None, profile: str | None = None) -> Proof:
    """Copy, audit, patch, audit again; apache2 -t before and after for 2.4 trees.

    ``tree`` says how httpd starts on it (corpus trees: known by name);
    ``profile`` replaces the one expect.yaml names.
    """
    name = case_name(source) if source.is_relative_to(REPO) else source.name
    work.mkdir(parents=True)
    options = _expect(source)
    if profile is not None:
        options["profile"] = profile
    extra: dict[str, Any] = {}
    if tree is None and source.parent.name == "corpus":
        tree = TREES_2_4.get(source.name)
    if tree is not None:
        prepared = prepare(source, work / "prepared", tree)
        base = prepared.tcpaudit_root
        options["directives"] = tuple(preload_line(m) for m in prepared.preload)
        options["apache_build"] = "debian"  # normalise_tree left out what this apache2 builds in
        extra = {
            "options": prepared.options,
            "environment": prepared.environment,
            "preload": prepared.preload,
            "prepared_root": prepared.apache_root,
        }
    else:
        base = source
    pristine = work / "pristine"
    shutil.copytree(base, pristine, symlinks=True)
    patched = work / "patched"
    shutil.copytree(base, patched, symlinks=True)
    facts, before = audit_facts(patched, options)
    planned = plan(before.findings, patched)
    diff = render_diff(planned)
    if diff:
        patch(patched, diff)
    after = run_audit(patched, options)
    version = before.apache.version if before.apache else None
    proof = Proof(name, before, after, diff, patched, pristine, options, version,
                  notes=planned.notes)  # fmt: skip
    facts_apache = facts.apache
    proof.layout = facts_apache.layout if facts_apache else None
    if version and version.startswith("2.4") and facts_apache is not None and diff:
        main_file = tree.main_file if tree else "/" + facts_apache.main_file
        server_root = tree.server_root if tree else facts_apache.server_root
        proof.apache_before, _ = _apache_check(
            pristine, work / "apache-before", main_file, server_root, tree, extra
        )
        proof.apache_after, proof.apache_error = _apache_check(
            patched, work / "apache-after", main_file, server_root, tree, extra
        )
    return proof


def is_sysctl_finding(finding: Any) -> bool:
    return bool(finding.setting) and str(finding.setting).startswith(("net.", "kernel."))


def fixed_apache_findings(report: Report) -> set[tuple[str, str, str]]:
    """Apache findings at medium or above that carry file changes: (rule, setting, file:line)."""
    return {
        (f.rule, str(f.setting), f"{f.location.file}:{f.location.line}" if f.location else "")
        for f in report.findings
        if not f.suppressed
        and f.severity.value in _MEDIUM_UP
        and f.fix_changes
        and not is_sysctl_finding(f)
    }


def tree_bytes(root: Path) -> dict[str, tuple[str, bytes]]:
    """Every entry under ``root``: kind and content (a link's target)."""
    found: dict[str, tuple[str, bytes]] = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.is_symlink():
            found[rel] = ("link", str(Path(path.readlink())).encode())
        elif path.is_file():
            found[rel] = ("file", path.read_bytes())
        elif path.is_dir():
            found[rel] = ("dir", b"")
    return found


def run_ansible_playbook(
    tmp_path: Path, playbook: Path, *options: str, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """This environment's real ansible-playbook, on localhost over the local
    connection, with its home and temporary files kept in ``tmp_path``."""
    env = {
        **os.environ,
        "ANSIBLE_LOCALHOST_WARNING": "false",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_HOME": str(tmp_path / "ansible-home"),
        "ANSIBLE_LOCAL_TEMP": str(tmp_path / "ansible-tmp"),
    }
    return subprocess.run(
        [str(Path(sys.executable).parent / "ansible-playbook"), "-i", "localhost,", "-c", "local",
         "-e", "ansible_python_interpreter=" + sys.executable, *options, str(playbook)],
        capture_output=True, text=True, env=env, cwd=cwd, timeout=600, check=False,
    )  # fmt: skip
