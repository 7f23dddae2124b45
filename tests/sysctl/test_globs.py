"""sysctl.d globs are matched as glibc's fnmatch(3) matches them, which the
boot tools' glob(3) uses: checked against the C library itself.

Read as Python's fnmatch reads them, ``net.ipv4.tcp_[^k]*`` named the
keepalive keys instead of ``tcp_fastopen_key``: procps wrote the secret key
and tcpaudit applied (and showed) its value elsewhere; the Ansible module
sent it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import importlib.util
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

from click.testing import CliRunner
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tcpaudit.cli import cli
from tcpaudit.sysctl.globs import component_matches

REPO = Path(__file__).resolve().parents[2]
_LIBC = ctypes.CDLL(ctypes.util.find_library("c"))
_LIBC.fnmatch.argtypes = (ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int)


def _facts_module() -> ModuleType:
    """The Ansible module's file, imported as Ansible ships it."""
    name = "tcpaudit_ansible_facts_module"
    if name in sys.modules:
        return sys.modules[name]
    path = REPO / "src/ansible_collections/tcpaudit/audit/plugins/modules/facts.py"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


MODULE = _facts_module()


def glibc(name: str, pattern: str) -> bool:
    return _LIBC.fnmatch(pattern.encode(), name.encode(), 0) == 0


@settings(max_examples=3000, deadline=None)
@given(
    # Ranges only between letters: glibc orders a range ending at '[' by the
    # locale's collation, which no boot tool's key name can need.
    st.text(alphabet="ak_*?[]!^:\\", max_size=10)
    | st.builds(
        "".join,
        st.lists(
            st.sampled_from(
                ["[[:alpha:]]", "[^k]", "\\y", "a", "*", "[!a-c]", "[z-a]", "_", "[a-k]", "[:"]
            ),
            max_size=4,
        ),
    ),
    st.text(alphabet="akyz_-:]\\", max_size=8),
)
@example(pattern="tcp_[^k]*", name="tcp_fastopen_key")
@example(pattern="tcp_fastopen_ke[[:alpha:]]", name="tcp_fastopen_key")
@example(pattern="tcp_fastopen_ke\\y*", name="tcp_fastopen_key")
@example(pattern="[[:nope:]]", name="a")
def test_globs_match_as_glibc_does(pattern: str, name: str) -> None:
    assert component_matches(name, pattern) == glibc(name, pattern)
    # The Ansible module keeps its own copy (the standard library only).
    assert MODULE._glob_component_matches(name, pattern) == glibc(name, pattern)


def _tree(tmp_path: Path, text: str) -> Path:
    root = tmp_path / "debian"
    shutil.copytree(REPO / "tests/corpus/debian-12-apache2.4", root, symlinks=True)
    (root / "etc/sysctl.d").mkdir(exist_ok=True)
    (root / "etc/sysctl.d/60-x.conf").write_text(text)
    return root


def test_a_negated_glob_naming_the_fast_open_key_keeps_its_value_nowhere(tmp_path: Path) -> None:
    lines = [
        "net.ipv4.tcp_[^k]* = 00000000-CANARY11-22223333-44445555",
        "net.ipv4.tcp_fastopen_ke[[:alpha:]] = 00000000-CANARY33-22223333-44445555",
        "net.ipv4.tcp_fastopen_ke\\y* = 00000000-CANARY44-22223333-44445555",
        "net.ipv4.tcp_{fastopen_key,x}* = 00000000-CANARY55-22223333-44445555",
    ]
    root = _tree(tmp_path, "\n".join(lines) + "\n")
    for args in (["audit", "--format", "json"], ["facts"], ["fix", "--format", "sarif"]):
        result = CliRunner().invoke(cli, [*args, "--root", str(root)])
        assert result.exit_code in (0, 1), result.output
        assert "CANARY" not in result.output
    document = MODULE.snapshot(str(root))
    assert not re.findall(r"CANARY\d\d", json.dumps(document))


def test_a_negated_glob_sets_the_keys_procps_sets(tmp_path: Path) -> None:
    # procps: tcp_keepalive_intvl and tcp_keepalive_probes, not tcp_keepalive_time.
    root = _tree(tmp_path, "net.ipv4.tcp_keepalive_[^t]* = 5\n")
    result = CliRunner().invoke(cli, ["facts", "--root", str(root)])
    assert result.exit_code == 0, result.output
    settings_ = json.loads(result.output)["sysctl"]["settings"]
    assert settings_["net.ipv4.tcp_keepalive_intvl"]["value"] == 5
    assert settings_.get("net.ipv4.tcp_keepalive_time", {}).get("value") != 5


def test_many_stars_cost_linear_time(tmp_path: Path) -> None:
    # Each '*' became its own '.*' of a regular expression: ten of them took
    # 70 s on an 11-byte line, and the module's copy did not finish twenty.
    root = tmp_path / "stars"
    (root / "etc/sysctl.d").mkdir(parents=True)
    (root / "etc/sysctl.d/99-x.conf").write_text(
        "net.ipv4." + "*" * 40 + "Z = 1\n" + "net.ipv4." + "*a" * 30 + "*b = 1\n"
    )
    live = tmp_path / "live.txt"
    live.write_text("net.ipv4." + "a" * 60 + " = 1\n")
    done = subprocess.run(
        [sys.executable, "-m", "tcpaudit", "facts", "--root", str(root), "--sysctl", str(live)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    for pattern in ("*" * 40 + "Z", "*a" * 30 + "*b"):
        assert not MODULE._glob_component_matches("tcp_fastopen_key" + "a" * 60, pattern)
        assert not component_matches("a" * 200, pattern)
