"""``tcpaudit.audit.check`` with ``remediate: true``, run by the real ansible-playbook.

The play collects a snapshot of a copy of the incident (root=the copy), grades
it with ``remediate: true`` and applies the returned files the way the
module's EXAMPLES do; the copy then holds the same bytes as a copy patched
with ``tcpaudit fix`` and ``patch -p1``. A second copy of the tree, changed
after the snapshot, is refused by the checksum check of the EXAMPLES.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from ansible_trees import INCIDENT
from test_playbook import ansible_command, ansible_env, run  # noqa: F401  (fixture)

import tcpaudit
from tcpaudit.remedy import plan, render_diff


def _entries(root: Path) -> dict[str, tuple[str, bytes]]:
    found: dict[str, tuple[str, bytes]] = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.is_symlink():
            found[rel] = ("link", str(path.readlink()).encode())
        elif path.is_file():
            found[rel] = ("file", path.read_bytes())
    return found


def _play(copy: Path, out: Path) -> str:
    return f"""
- hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - tcpaudit.audit.facts:
        root: {json.dumps(str(copy))}
    - tcpaudit.audit.check:
        fail_on: never
        remediate: true
      register: audit
    - ansible.builtin.copy:
        dest: {json.dumps(str(out))}
        content: "{{{{ audit.remediation | to_json }}}}"
    - ansible.builtin.stat:
        path: "{copy}{{{{ item.path }}}}"
        checksum_algorithm: sha1
      loop: "{{{{ audit.remediation.files | selectattr('state', 'eq', 'file') }}}}"
      register: before
    - ansible.builtin.assert:
        that: >-
          (item.item.checksum_before is none and not item.stat.exists)
          or item.stat.checksum | default('') in [item.item.checksum_before,
          item.item.checksum_after]
      loop: "{{{{ before.results }}}}"
    - ansible.builtin.file:
        path: "{copy}{{{{ item.path | dirname }}}}"
        state: directory
      loop: "{{{{ audit.remediation.files }}}}"
    - ansible.builtin.copy:
        dest: "{copy}{{{{ item.path }}}}"
        content: "{{{{ item.content }}}}"
        mode: "0644"
      loop: "{{{{ audit.remediation.files | selectattr('state', 'eq', 'file') }}}}"
    - ansible.builtin.file:
        src: "{{{{ item.src }}}}"
        dest: "{copy}{{{{ item.path }}}}"
        state: link
      loop: "{{{{ audit.remediation.files | selectattr('state', 'eq', 'link') }}}}"
"""


def test_remediate_gives_the_patched_tree(
    ansible_env: dict[str, str],  # noqa: F811
    tmp_path: Path,
) -> None:
    copy = tmp_path / "host"
    shutil.copytree(INCIDENT, copy, symlinks=True)
    patched = tmp_path / "patched"
    shutil.copytree(INCIDENT, patched, symlinks=True)
    report = tcpaudit.audit(tcpaudit.gather(root=patched))
    diff = render_diff(plan(report.findings, patched))
    subprocess.run(["patch", "-p1", "--batch"], input=diff, text=True, cwd=patched, check=True,
                   capture_output=True)  # fmt: skip
    book = tmp_path / "fix.yml"
    out = tmp_path / "remediation.json"
    book.write_text(_play(copy, out))
    done = run([ansible_command("ansible-playbook"), "-i", "localhost,", "-e",
                 f"ansible_python_interpreter={sys.executable}", str(book)],
               ansible_env, tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert _entries(copy) == _entries(patched)
    data = json.loads(out.read_text())
    assert data["httpd"] == {"service": "httpd", "state": "restarted"}
    assert data["sysctl"] is True
    assert {entry["path"] for entry in data["files"]} == {
        "/etc/httpd/conf/httpd.conf",
        "/etc/httpd/conf.d/shop.conf",
        "/etc/sysctl.d/99-tcpaudit.conf",
    }


def test_remediate_refuses_a_facts_document(
    ansible_env: dict[str, str],  # noqa: F811
    tmp_path: Path,
) -> None:
    facts = tcpaudit.gather(root=INCIDENT).model_dump(mode="json")
    book = tmp_path / "fix.yml"
    book.write_text(
        "- hosts: localhost\n  connection: local\n  gather_facts: false\n  tasks:\n"
        "    - tcpaudit.audit.check:\n        fail_on: never\n        remediate: true\n"
        f"        facts: {json.dumps(facts)}\n"
    )
    done = run([ansible_command("ansible-playbook"), "-i", "localhost,", "-e",
                 f"ansible_python_interpreter={sys.executable}", str(book)],
               ansible_env, tmp_path)  # fmt: skip
    assert done.returncode != 0
    assert "remediate needs the snapshot" in done.stdout
