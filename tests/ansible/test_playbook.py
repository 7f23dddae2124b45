"""End to end with real ansible-core: examples/ansible/audit.yml, ansible-doc, an ad-hoc check.

Every host in examples/ansible/inventory.ini uses a local connection: the
machine itself and two root-like trees (examples/closewait-incident and
examples/tuned). The collection is found in the source tree through
ANSIBLE_COLLECTIONS_PATH, and the controller side imports tcpaudit from it.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from ansible_trees import INCIDENT, PLAYBOOK_DIR, REPO, TUNED

import tcpaudit

INVENTORY = PLAYBOOK_DIR / "inventory.ini"
PLAYBOOK = PLAYBOOK_DIR / "audit.yml"


def ansible_command(name: str) -> str:
    """The ansible-core entry point installed beside this Python; fail loudly when absent."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    assert found, (
        f"{name} not found: install ansible-core (pip install 'ansible-core>=2.16') "
        "to run the Ansible collection's tests"
    )
    return found


@pytest.fixture()
def ansible_env(tmp_path: Path) -> dict[str, str]:
    config = tmp_path / "ansible.cfg"
    config.write_text("[defaults]\n", encoding="utf-8")
    env = dict(os.environ)
    env.update(
        {
            # Only the collection in this source tree, not one installed elsewhere.
            "ANSIBLE_COLLECTIONS_PATH": str(REPO / "src"),
            "ANSIBLE_COLLECTIONS_SCAN_SYS_PATH": "False",
            "ANSIBLE_CONFIG": str(config),
            "ANSIBLE_HOME": str(tmp_path / "ansible-home"),
            "ANSIBLE_LOCAL_TEMP": str(tmp_path / "local-tmp"),
            "ANSIBLE_REMOTE_TEMP": str(tmp_path / "remote-tmp"),
            "ANSIBLE_HOST_KEY_CHECKING": "False",
            "ANSIBLE_RETRY_FILES_ENABLED": "False",
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_FORCE_COLOR": "0",
            "ANSIBLE_DEPRECATION_WARNINGS": "False",
            "ANSIBLE_STDOUT_CALLBACK": "default",
            "PYTHONPATH": os.pathsep.join(
                [str(REPO / "src"), *filter(None, [os.environ.get("PYTHONPATH")])]
            ),
        }
    )
    return env


def run(argv: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv,
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def playbook(env: dict[str, str], tmp_path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return run(
        [ansible_command("ansible-playbook"), "-i", str(INVENTORY), str(PLAYBOOK), *extra],
        env,
        tmp_path,
    )


def test_playbook_writes_a_report_per_host(ansible_env: dict[str, str], tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    result = playbook(ansible_env, tmp_path, "-e", f"tcpaudit_report_dir={reports}")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "changed=0" in result.stdout and "failed=0" in result.stdout

    assert stat.S_IMODE(reports.stat().st_mode) == 0o700
    names = sorted(path.name for path in reports.iterdir())
    # Atomic writes leave no temporary file behind.
    assert names == ["incident.json", "localhost.json", "tuned.json"]
    for name in names:
        assert stat.S_IMODE((reports / name).stat().st_mode) == 0o600, name

    incident = json.loads((reports / "incident.json").read_text(encoding="utf-8"))
    tuned = json.loads((reports / "tuned.json").read_text(encoding="utf-8"))
    local = json.loads((reports / "localhost.json").read_text(encoding="utf-8"))
    assert incident["grade"] == "F"
    assert tuned["grade"] in ("A", "B")
    assert (incident["host"], tuned["host"], local["host"]) == ("incident", "tuned", "localhost")
    assert local["schema_version"] == 1 and local["grade"] in ("A", "B", "C", "D", "F")

    # The files are JSON reports as `tcpaudit audit --format json` writes them.
    for name in names:
        tcpaudit.Report.model_validate_json((reports / name).read_text(encoding="utf-8"))
    # Through Ansible, the verdict is the local audit's, finding for finding.
    for report, root in ((incident, INCIDENT), (tuned, TUNED)):
        direct = json.loads(tcpaudit.audit(tcpaudit.gather(root)).to_json())
        assert report["findings"] == direct["findings"]
        assert (report["score"], report["notes"]) == (direct["score"], direct["notes"])
    assert str(tmp_path) not in json.dumps(incident)


def test_fail_on_high_fails_only_the_incident_in_check_mode(
    ansible_env: dict[str, str], tmp_path: Path
) -> None:
    reports = tmp_path / "reports"
    result = playbook(
        ansible_env,
        tmp_path,
        "--check",
        "-e",
        f"tcpaudit_report_dir={reports}",
        "-e",
        "tcpaudit_fail_on=high",
        "--limit",
        "incident,tuned",
    )
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    recap = {line.split()[0]: line for line in result.stdout.splitlines() if " : ok=" in line}
    assert "failed=1" in recap["incident"], output
    assert "failed=0" in recap["tuned"], output
    assert "at or above high: TA301 critical" in output
    # The report is written even though the host failed: it says why.
    assert json.loads((reports / "incident.json").read_text(encoding="utf-8"))["grade"] == "F"


def test_check_collects_the_facts_itself_when_absent(
    ansible_env: dict[str, str], tmp_path: Path
) -> None:
    result = run(
        [
            ansible_command("ansible"),
            "-i",
            str(INVENTORY),
            "tuned",
            "-m",
            "tcpaudit.audit.check",
            "-a",
            "root={{ tcpaudit_root }} fail_on=low",
        ],
        ansible_env,
        tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert '"grade": "A"' in result.stdout
    assert '"changed": false' in result.stdout


@pytest.mark.parametrize("plugin", ["tcpaudit.audit.facts", "tcpaudit.audit.check"])
def test_ansible_doc(ansible_env: dict[str, str], tmp_path: Path, plugin: str) -> None:
    result = run([ansible_command("ansible-doc"), plugin], ansible_env, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert plugin in result.stdout
    assert "root" in result.stdout and "EXAMPLES" in result.stdout


def test_config_and_profile_reach_the_audit(ansible_env: dict[str, str], tmp_path: Path) -> None:
    config = tmp_path / "tcpaudit.toml"
    config.write_text('disable = ["TA301"]\n', encoding="utf-8")
    broken = tmp_path / "broken.toml"
    broken.write_text("disable = [\n", encoding="utf-8")

    def check(arguments: str) -> subprocess.CompletedProcess[str]:
        return run(
            [
                ansible_command("ansible"),
                "-i",
                str(INVENTORY),
                "incident",
                "-m",
                "tcpaudit.audit.check",
                "-a",
                "root={{ tcpaudit_root }} fail_on=critical " + arguments,
            ],
            ansible_env,
            tmp_path,
        )

    # TA301 is the incident's only critical finding: disabled, the host passes.
    passed = check(f"config={config} profile=internal")
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert '"profile": "internal"' in passed.stdout
    assert '"rule": "TA301"' not in passed.stdout
    failed = check("")
    assert failed.returncode != 0
    assert "at or above critical: TA301 critical" in failed.stdout
    unreadable = check(f"config={broken}")
    assert unreadable.returncode != 0
    assert f"tcpaudit: {broken}: invalid TOML" in unreadable.stdout


def test_collection_builds_with_ansible_galaxy(ansible_env: dict[str, str], tmp_path: Path) -> None:
    collection = REPO / "src" / "ansible_collections" / "tcpaudit" / "audit"
    result = run(
        [
            ansible_command("ansible-galaxy"),
            "collection",
            "build",
            str(collection),
            "--output-path",
            str(tmp_path / "built"),
        ],
        ansible_env,
        tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    archive = tmp_path / "built" / f"tcpaudit-audit-{tcpaudit.__version__}.tar.gz"
    with tarfile.open(archive) as bundle:
        names = set(bundle.getnames())
    assert {
        "plugins/modules/facts.py",
        "plugins/modules/check.py",
        "plugins/action/check.py",
        "meta/runtime.yml",
        "README.md",
    } <= names


def test_a_hostile_managed_host_reaches_neither_the_report_nor_the_controller(
    ansible_env: dict[str, str], tmp_path: Path
) -> None:
    """Through real ansible-playbook: a compromised host's tree, collected and graded.

    The host's tree has what an attacker plants: `IncludeOptional ${SITE_EXTRA}`
    beside a 0600 private key, a TCP Fast Open key set directly and through a
    glob, and links that name the controller's files (the connection is local,
    so a link followed by mistake would read them). None of it may reach the
    facts Ansible carries, the report, or the output.
    """
    controller = tmp_path / "controller"
    controller.mkdir()
    (controller / "shadow").write_text("CONTROLLER-SHADOW\n", encoding="utf-8")
    host = tmp_path / "host"
    shutil.copytree(INCIDENT, host, symlinks=True)
    conf = host / "etc/httpd/conf/httpd.conf"
    conf.write_text(conf.read_text() + "IncludeOptional ${SITE_EXTRA}\n", encoding="utf-8")
    key = host / "etc/httpd/server.key"
    key.write_text("-----BEGIN PRIVATE KEY-----\nHOST-KEY-BODY\n-----END PRIVATE KEY-----\n")
    key.chmod(0o600)
    (host / "etc/sysctl.d").mkdir(exist_ok=True)
    (host / "etc/sysctl.d/60-tfo.conf").write_text(
        "net.ipv4.tcp_fastopen_key = HOST-TFO-1\nnet.ipv4.tcp_fastopen_ke? = HOST-TFO-2\n"
        "net.ipv4.tcp_keepalive_time = 600\n",
        encoding="utf-8",
    )
    for planted in ("proc/sys/kernel/osrelease", "etc/hostname"):
        (host / planted).unlink()
        (host / planted).symlink_to(controller / "shadow")
    # A token of a known kind in a file's name: hidden as the CLI hides it.
    token = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
    shutil.copy(host / "etc/httpd/conf.d/shop.conf", host / f"etc/httpd/conf.d/x,{token}.conf")
    inventory = tmp_path / "inventory.ini"
    inventory.write_text(
        f'[web]\nhostile tcpaudit_root="{host}"\n\n[web:vars]\nansible_connection=local\n'
        'ansible_python_interpreter="{{ ansible_playbook_python }}"\n',
        encoding="utf-8",
    )
    collected = tmp_path / "collected.json"
    reports = tmp_path / "reports"
    play = tmp_path / "play.yml"
    play.write_text(
        "- hosts: web\n  gather_facts: false\n  tasks:\n"
        "    - tcpaudit.audit.facts:\n        root: '{{ tcpaudit_root }}'\n"
        "    - ansible.builtin.copy:\n"
        "        content: '{{ ansible_facts.tcpaudit | to_json }}'\n"
        f"        dest: {collected}\n"
        "      delegate_to: localhost\n"
        "    - tcpaudit.audit.check:\n        fail_on: never\n"
        f"        report_dir: {reports}\n",
        encoding="utf-8",
    )
    result = run(
        [ansible_command("ansible-playbook"), "-i", str(inventory), str(play), "-v"],
        ansible_env,
        tmp_path,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    report = (reports / "hostile.json").read_text(encoding="utf-8")
    snapshot = collected.read_text(encoding="utf-8")
    for secret in ("HOST-KEY-BODY", "HOST-TFO-1", "HOST-TFO-2", "CONTROLLER-SHADOW"):
        for name, text in (("output", output), ("snapshot", snapshot), ("report", report)):
            assert secret not in text, f"{secret} in the {name}"
    # The file's name travels as the host has it (the controller opens it by
    # that name, in httpd's order); what the check shows and writes hides it.
    check_output = output[output.index("TASK [tcpaudit.audit.check]") :]
    assert token in snapshot and token not in check_output and token not in report
    document = json.loads(snapshot)
    assert "/etc/httpd/server.key" not in document["files"]
    # A link where the kernel has a file: named, never followed, on either side.
    assert document["proc"]["kernel/osrelease"] is None
    assert document["host"] == "host"  # etc/hostname names nothing inside the tree
    assert json.loads(report)["grade"] == "F"


def test_what_a_host_wrote_reaches_the_controllers_terminal_escaped(
    ansible_env: dict[str, str], tmp_path: Path
) -> None:
    # A snapshot that fails to load, with collector notes written by the host.
    snapshot = {
        "format": "tcpaudit-snapshot/1",
        "host": "web1",
        "files": {"/etc/httpd/conf/httpd.conf": {"content": "NoSuchDirective x\n"}},
        "notes": ["\x1b]0;owned\x07\x1b[2Jcollector note"],
    }
    result = run(
        [
            ansible_command("ansible"),
            "-i",
            str(INVENTORY),
            "tuned",
            "-m",
            "tcpaudit.audit.check",
            "-a",
            json.dumps({"facts": snapshot}),
        ],
        ansible_env,
        tmp_path,
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "collector note" in output and "\x1b" not in output and "\x07" not in output
