"""The proof of ``tcpaudit fix``: applied to a copy, the findings it fixes are gone.

For every example, corpus tree and rule trigger fixture (proof.py): the patch
applies with the real ``patch -p1``; audited again, no Apache finding at
medium or above has a change left to make, no sysctl finding asks for a file
change any more (what is left is applying the persistent value), the grade
never gets worse, and planning again gives an empty patch. The real apache2
accepts every patched httpd 2.4 tree it accepted before. ``git apply`` gives
the same bytes as ``patch``, and the playbook run by the real
ansible-playbook against a copy gives the same tree as the patch.

Cost on a 2-core machine at load 6 (shared with other suites): 41 s of wall
time for the proof of every tree (two processes, apache2 -t runs included)
and 32 s for the one ansible-playbook run.
"""

from __future__ import annotations

import json
import shutil
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest
import yaml
from proof import (
    ALL_TREES,
    CORPUS,
    EXAMPLES,
    Proof,
    case_name,
    fixed_apache_findings,
    is_sysctl_finding,
    patch,
    prove,
    run_ansible_playbook,
    tree_bytes,
)

from tcpaudit.remedy import plan, render_diff
from tcpaudit.remedy.playbook import render_playbook

_GRADES = "ABCDEF"


@pytest.fixture(scope="session")
def proofs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Proof]:
    work = tmp_path_factory.mktemp("fix-proof")
    # Two processes: the trees are independent and the machine has two cores.
    with ProcessPoolExecutor(max_workers=2) as pool:
        done = pool.map(prove, ALL_TREES, [work / f"t{i}" for i in range(len(ALL_TREES))])
        return {proof.name: proof for proof in done}


NAMES = [case_name(source) for source in ALL_TREES]


@pytest.mark.parametrize("name", NAMES)
def test_applied_fix_leaves_no_apache_finding_to_fix(proofs: dict[str, Proof], name: str) -> None:
    proof = proofs[name]
    left = fixed_apache_findings(proof.after)
    assert not left, f"{name}: still to fix after the patch: {sorted(left)}\n{proof.diff}"


@pytest.mark.parametrize("name", NAMES)
def test_sysctl_findings_only_wait_for_the_value_to_be_applied(
    proofs: dict[str, Proof], name: str
) -> None:
    proof = proofs[name]
    for finding in proof.after.findings:
        if is_sysctl_finding(finding) and not finding.suppressed:
            assert not finding.fix_changes, (name, finding.rule, finding.fix_changes)
    # Planning the patched tree again changes nothing: the fix is complete.
    again = render_diff(plan(proof.after.findings, proof.patched))
    assert again == "", f"{name}: a second fix would still change:\n{again}"


@pytest.mark.parametrize("name", NAMES)
def test_grade_never_gets_worse(proofs: dict[str, Proof], name: str) -> None:
    proof = proofs[name]
    assert _GRADES.index(proof.after.grade) <= _GRADES.index(proof.before.grade)
    if any(f.fix_changes for f in proof.before.findings if not f.suppressed):
        assert proof.diff, f"{name}: findings carry changes but the patch is empty"


def test_apache2_accepts_every_patched_2_4_tree(proofs: dict[str, Proof]) -> None:
    checked = [p for p in proofs.values() if p.apache_before is not None]
    refused_before = [p.name for p in checked if not p.apache_before]
    broken = [(p.name, p.apache_error) for p in checked if p.apache_before and not p.apache_after]
    assert not broken, broken
    # Most trees are checked (every 2.4 tree with a patch), and apache2 read them.
    assert len(checked) - len(refused_before) >= 60, (len(checked), refused_before)


def test_the_incident_goes_from_f_to_a_or_b(proofs: dict[str, Proof]) -> None:
    proof = proofs["examples/closewait-incident"]
    assert (proof.before.grade, proof.after.grade[0]) in {("F", "A"), ("F", "B")}
    left = [f for f in proof.after.findings if not f.suppressed]
    assert left and all(is_sysctl_finding(f) for f in left)
    # What is left is applying the values the files now hold.
    assert all(not f.fix or f.fix.startswith("sysctl -w") for f in left if f.rule != "TA208")


def test_git_apply_gives_the_same_tree_as_patch(proofs: dict[str, Proof], tmp_path: Path) -> None:
    chosen = [case_name(source) for source in (*EXAMPLES, *CORPUS)]
    applied = 0
    for index, name in enumerate(chosen):
        proof = proofs[name]
        if not proof.diff:
            continue
        copy = tmp_path / f"g{index}"
        shutil.copytree(proof.pristine, copy, symlinks=True)
        patch(copy, proof.diff, tool="git")
        assert tree_bytes(copy) == tree_bytes(proof.patched), name
        applied += 1
    assert applied >= 10


class _PlaybookLoader(yaml.SafeLoader):
    """Reads ``!unsafe`` strings (Ansible's tag for text never templated) as text."""


_PlaybookLoader.add_constructor(
    "!unsafe",
    lambda loader, node: loader.construct_scalar(node),  # type: ignore[arg-type]
)


def _playbook_result(text: str, root: Path) -> dict[str, tuple[str, bytes]]:
    """What the playbook's copy and link tasks would leave under ``root``, by path."""
    prefix = "{{ tcpaudit_root | default('') }}/"
    plays = yaml.load(text, Loader=_PlaybookLoader)
    written: dict[str, tuple[str, bytes]] = {}
    for task in plays[0]["tasks"] or []:
        if "ansible.builtin.copy" in task:
            args = task["ansible.builtin.copy"]
            written[args["dest"].removeprefix(prefix)] = (
                "file",
                args["content"].encode("utf-8", "surrogateescape"),
            )
        elif task.get("ansible.builtin.file", {}).get("state") == "link":
            args = task["ansible.builtin.file"]
            written[args["dest"].removeprefix(prefix)] = ("link", args["src"].encode())
    return written


@pytest.mark.parametrize("name", NAMES)
def test_playbook_writes_what_the_patch_writes(proofs: dict[str, Proof], name: str) -> None:
    """Every tree: the playbook's file contents and links are the patched tree's."""
    proof = proofs[name]
    planned = plan(proof.before.findings, proof.pristine)
    text = render_playbook(planned, host=name, layout=proof.layout)
    written = _playbook_result(text, proof.patched)
    before, after = tree_bytes(proof.pristine), tree_bytes(proof.patched)
    changed = {
        path: entry
        for path, entry in after.items()
        if before.get(path) != entry and entry[0] != "dir"
    }
    assert written == changed
    if proof.diff:
        assert written


# Each edit kind: replaced, inserted and appended lines, a new file in a new
# directory (the incident's sysctl.d drop-in); Debian a2enmod links
# (debian-12). One ansible-playbook run (about 1 s per task on a loaded 2-core
# machine) fixes a copy of each; the incident is fixed a second time and must
# report no change.
_RUN_BY_ANSIBLE = (
    "examples/closewait-incident",
    "tests/corpus/debian-12-apache2.4",
)


def test_ansible_playbook_gives_the_same_tree_as_patch(
    proofs: dict[str, Proof], tmp_path: Path
) -> None:
    """The real ansible-playbook (connection local) against copies, twice for one."""
    imports: list[str] = []
    copies: dict[str, Path] = {}
    for index, name in enumerate(_RUN_BY_ANSIBLE):
        proof = proofs[name]
        assert proof.diff, name
        copy = tmp_path / f"a{index}"
        shutil.copytree(proof.pristine, copy, symlinks=True)
        planned = plan(proof.before.findings, proof.pristine)
        book = tmp_path / f"play{index}.yml"
        book.write_text(render_playbook(planned, host=name, layout=proof.layout))
        imports.append(
            f"- import_playbook: {json.dumps(str(book))}\n"
            f"  vars: {{tcpaudit_root: {json.dumps(str(copy))}}}\n"
        )
        copies[name] = copy
    main = tmp_path / "all.yml"
    main.write_text("".join([*imports, imports[0]]))
    done = run_ansible_playbook(tmp_path, main, "-e", "tcpaudit_reload=false")
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    # The default callback prints each play as "PLAY [name]", then per task
    # "TASK [name]" and "changed: [localhost]" for a task that changed something.
    plays = done.stdout.split("PLAY RECAP")[0].split("\nPLAY [")[1:]
    assert len(plays) == len(_RUN_BY_ANSIBLE) + 1, done.stdout[-3000:]
    for name, copy in copies.items():
        assert tree_bytes(copy) == tree_bytes(proofs[name].patched), name
    changed = [play.count("changed: [localhost]") for play in plays]
    assert all(changed[: len(_RUN_BY_ANSIBLE)]), changed
    # Run again on the fixed copy: every file is recognised as fixed, nothing changes.
    assert changed[-1] == 0, plays[-1]
    # The handlers were skipped (tcpaudit_reload=false): no service was touched.
    handlers = done.stdout.split("RUNNING HANDLER [")[1:]
    assert handlers, "the changed files notified no handler"
    for handler in handlers:
        first = handler.split("\n", 2)[1:2] or [""]
        body = handler.split("\n\n", 1)[0]
        assert "skipping: [localhost]" in body and "changed:" not in body, (first, body)
