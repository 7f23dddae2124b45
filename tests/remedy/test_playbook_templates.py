"""A playbook never lets Ansible template text of the audited tree.

A file named ``{{ lookup('pipe', 'touch X') }}.conf`` in a repository's tree
was copied into the task names, paths and messages of ``fix --format
ansible``, and the real ansible-playbook ran the command on the controller
(in check mode too). Task names, messages, a link's target and the play's
name are now ``!unsafe``; a path, which joins ``tcpaudit_root`` and so must
be templated, is refused when it holds a template's delimiter.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml
from click.testing import CliRunner
from proof import run_ansible_playbook

from tcpaudit import audit
from tcpaudit.cli import cli
from tcpaudit.facts import gather
from tcpaudit.remedy import plan
from tcpaudit.remedy.playbook import render_playbook

REPO = Path(__file__).resolve().parents[2]
HOSTILE = "{{ lookup('pipe', 'touch PWNED') }}"


def _debian_with(tmp_path: Path, name: str) -> Path:
    root = tmp_path / "debian"
    shutil.copytree(REPO / "tests/corpus/debian-12-apache2.4", root, symlinks=True)
    (root / "etc/apache2/conf-enabled" / name).write_text("Timeout 300\n")
    return root


def test_a_file_named_as_a_template_is_refused_by_the_playbook_only(tmp_path: Path) -> None:
    for marks in (HOSTILE, "{% if true %}x{% endif %}", "{# c #}"):
        root = _debian_with(tmp_path / str(len(marks)), f"{marks}.conf")
        result = CliRunner().invoke(cli, ["fix", "--root", str(root), "--format", "ansible"])
        assert result.exit_code == 2, result.output
        error = result.stderr.strip()
        assert "\n" not in error and "template's delimiter" in error, error
        # The patch carries the name as any other: nothing templates it.
        diff = CliRunner().invoke(cli, ["fix", "--root", str(root), "--format", "diff"])
        assert diff.exit_code in (0, 1), diff.output
        assert f"{marks}.conf" in diff.output


def test_ansible_playbook_runs_no_template_of_the_tree(tmp_path: Path) -> None:
    """The real ansible-playbook, check mode, on a play named by a hostile host."""
    root = tmp_path / "tree"
    shutil.copytree(REPO / "examples/closewait-incident", root, symlinks=True)
    facts = gather(root=root)
    planned = plan(audit(facts).findings, root)
    assert planned.edits
    book = tmp_path / "play.yml"
    book.write_text(render_playbook(planned, host=HOSTILE, layout=None))
    assert "!unsafe" in book.read_text()
    work = tmp_path / "work"
    work.mkdir()
    done = run_ansible_playbook(
        tmp_path,
        book,
        "--check",
        "-e",
        "tcpaudit_reload=false",
        "-e",
        f"tcpaudit_root={root}",
        cwd=work,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    # A pipe lookup runs in the playbook's directory.
    assert not (work / "PWNED").exists() and not (book.parent / "PWNED").exists()
    # The play is shown by its name as written, not as a template's result.
    assert "lookup('pipe'" in done.stdout


class _Loader(yaml.SafeLoader):
    """PyYAML reads line breaks as Ansible's loader does (YAML 1.1)."""


_Loader.add_constructor("!unsafe", lambda loader, node: loader.construct_scalar(node))  # type: ignore[arg-type]

_BREAKS = "\x85\u2028\u2029"


def test_line_breaks_of_yaml_neither_end_a_comment_nor_fold_a_value(tmp_path: Path) -> None:
    # A root directory named "h\x85- hosts: ..." gave the playbook a play of its
    # own (its comment line ended at U+0085); a file name or text holding one
    # was folded into another name, other bytes.
    name = "h\x85- hosts: localhost\x85  tasks:\x85    - ansible.builtin.shell: echo x\x85#"
    root = tmp_path / name
    shutil.copytree(REPO / "tests/corpus/debian-12-apache2.4", root, symlinks=True)
    conf = root / "etc/apache2/conf-enabled" / f"a{_BREAKS}b.conf"
    conf.write_text(f"# note {_BREAKS}  indented\nTimeout 300\n")
    facts = gather(root=root)
    assert not any(char in facts.host for char in _BREAKS)
    planned = plan(audit(facts).findings, root)
    text = render_playbook(planned, host=name, layout="debian")
    assert not any(char in text for char in _BREAKS + "\x7f")
    plays = yaml.load(text, Loader=_Loader)
    assert len(plays) == 1
    copies = [
        task["ansible.builtin.copy"] for task in plays[0]["tasks"] if "ansible.builtin.copy" in task
    ]
    written = {copy["dest"].rsplit("/", 1)[-1]: copy["content"] for copy in copies}
    edit = next(edit for edit in planned.edits if edit.path.endswith("b.conf"))
    assert written[conf.name] == edit.after
    assert f"# note {_BREAKS}  indented" in written[conf.name]
