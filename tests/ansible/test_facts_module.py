"""The target-side module tcpaudit.audit.facts: what it collects, what it never reads, its bounds.

The module file is imported directly (as Ansible ships it to a target) and its
gathering functions run on root-like trees.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from ansible_trees import (
    COLLECTION,
    FACTS_MODULE_FILE,
    INCIDENT,
    TUNED,
    debian_tree,
    link,
    load_facts_module,
    write,
)

import tcpaudit


@pytest.fixture(scope="module")
def module() -> ModuleType:
    return load_facts_module()


def tree_state(root: Path) -> list[tuple[str, int, int]]:
    return sorted(
        (str(path), path.lstat().st_mode, path.lstat().st_mtime_ns) for path in root.rglob("*")
    )


def never_run(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError(f"no program may run for a tree root: {args}")


def test_module_runs_on_python_3_8_targets_with_the_standard_library_only() -> None:
    source = FACTS_MODULE_FILE.read_text(encoding="utf-8")
    # Targets may run Python 3.8: no syntax newer than that.
    tree = ast.parse(source, feature_version=(3, 8))
    imported: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.module is not None
            imported.add(node.module)
    for name in imported:
        top = name.split(".")[0]
        assert (
            top in sys.stdlib_module_names
            or top == "__future__"
            or (name.startswith("ansible.module_utils."))
        ), f"{name} is not available on a bare target"
    # Annotations stay strings (from __future__), so 3.9+ generics never evaluate.
    assert "from __future__ import annotations" in source
    assert not re.search(r"\bmatch\s+\w+\s*:", source)


def test_collection_version_matches_the_package() -> None:
    galaxy = (COLLECTION / "galaxy.yml").read_text(encoding="utf-8")
    assert re.search(rf"^version: {re.escape(tcpaudit.__version__)}$", galaxy, re.MULTILINE)
    assert re.search(r"^namespace: tcpaudit$", galaxy, re.MULTILINE)
    assert re.search(r"^name: audit$", galaxy, re.MULTILINE)
    assert "Apache-2.0" in galaxy
    assert "requires_ansible" in (COLLECTION / "meta" / "runtime.yml").read_text(encoding="utf-8")


def test_snapshot_of_the_incident_holds_the_files_the_loaders_read(module: ModuleType) -> None:
    document = module.snapshot(str(INCIDENT), runner=never_run)
    assert document["format"] == "tcpaudit-snapshot/1"
    assert document["host"] == "web1.shop.example"
    files = document["files"]
    main = (INCIDENT / "etc/httpd/conf/httpd.conf").read_text(encoding="utf-8")
    assert files["/etc/httpd/conf/httpd.conf"] == {"content": main}
    # Reached through `Include conf.d/*.conf`, relative to ServerRoot.
    assert "content" in files["/etc/httpd/conf.d/shop.conf"]
    assert "content" in files["/etc/sysconfig/httpd"]
    assert "content" in files["/etc/sysctl.conf"]
    assert document["proc"]["net/ipv4/tcp_keepalive_time"] == "7200\n"
    assert document["proc"]["kernel/osrelease"].startswith("2.6.32")
    assert document["apache_version_output"] is None
    assert document["notes"] == []
    # The document is plain JSON, as Ansible carries it.
    assert json.loads(json.dumps(document)) == document


def test_secrets_and_files_not_world_readable_are_named_never_opened(
    module: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "root"
    shutil.copytree(TUNED, root, symlinks=True)
    ipv4 = "/proc/sys/net/ipv4"
    write(root, f"{ipv4}/tcp_fastopen_key", "SECRET-FASTOPEN-KEY\n", mode=0o600)
    # Named like a secret though world-readable (as a copied tree may have it).
    write(root, "/proc/sys/net/core/netdev_rss_key", "SECRET-RSS-KEY\n", mode=0o644)
    write(root, f"{ipv4}/tcp_root_only", "SECRET-ROOT-ONLY\n", mode=0o600)
    opened: list[str] = []
    real_open = os.open

    def spy(path: Any, *args: Any, **kwargs: Any) -> Any:
        opened.append(str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", spy)
    monkeypatch.setattr("builtins.open", lambda *a, **k: pytest.fail(f"open{a}"))
    document = module.snapshot(str(root), runner=never_run)
    monkeypatch.undo()
    text = json.dumps(document)
    assert "SECRET" not in text
    proc = document["proc"]
    assert proc["net/ipv4/tcp_fastopen_key"] is None
    assert proc["net/core/netdev_rss_key"] is None
    assert proc["net/ipv4/tcp_root_only"] is None
    assert not [p for p in opened if p.endswith(("_key", "tcp_root_only"))], opened
    assert any(p.endswith("tcp_keepalive_time") for p in opened)


def test_links_globs_variables_and_directories_are_followed_inside_the_root(
    module: ModuleType, tmp_path: Path
) -> None:
    root = debian_tree(tmp_path / "deb")
    before = tree_state(root)
    files = module.snapshot(str(root), runner=never_run)["files"]
    # Read-only: the tree is as it was.
    assert tree_state(root) == before
    # Enabled-dir links stay links; their targets are collected where they live.
    assert files["/etc/apache2/sites-enabled/shop.conf"] == {"link": "../sites-available/shop.conf"}
    assert "content" in files["/etc/apache2/sites-available/shop.conf"]
    assert files["/etc/apache2/mods-enabled/reqtimeout.load"] == {
        "link": "/etc/apache2/mods-available/reqtimeout.load"
    }
    assert "content" in files["/etc/apache2/mods-available/reqtimeout.load"]
    # `Include ${EXTRA}/` (a Define built from envvars): the directory, recursively.
    assert "content" in files["/etc/apache2/extra/10-keepalive.conf"]
    assert "content" in files["/etc/apache2/extra/sub/20-proxy.conf"]
    assert files["/etc/apache2/conf-enabled"] == {"dir": True}
    assert "/etc/apache2/mods-available/unused.load" not in files
    # Sysctl: masks, links, directories and merged /usr as the boot tools see them.
    assert files["/etc/sysctl.d/60-masked.conf"] == {"link": "/dev/null"}
    assert files["/etc/sysctl.d/99-sysctl.conf"] == {"link": "../sysctl.conf"}
    assert files["/etc/sysctl.d/70-dir.conf"] == {"dir": True}
    assert files["/lib"] == {"link": "usr/lib"}
    assert files["/usr/lib/systemd/systemd-sysctl"] == {"present": True}
    assert "content" in files["/usr/lib/sysctl.d/60-masked.conf"]
    # Nothing outside the tree, and every key is an absolute path inside it.
    assert all(path.startswith("/") and ".." not in path.split("/") for path in files)


def test_absolute_links_never_leave_the_root(module: ModuleType, tmp_path: Path) -> None:
    outside = write(tmp_path, "/outside/secret.conf", "Timeout 999\n")
    root = tmp_path / "root"
    write(root, "/etc/httpd/conf/httpd.conf", "Include conf.d/*.conf\n")
    link(root, "/etc/httpd/conf.d/evil.conf", str(outside))
    link(root, "/etc/httpd/conf.d/climb.conf", "../../../../../../../../" + str(outside))
    # More links than a lookup follows: the walk stops instead of letting the
    # operating system follow the last one (to a path outside the root).
    for index in range(45):
        link(root, f"/chain/{index}", f"{index + 1}")
    link(root, "/chain/45", str(outside))
    link(root, "/etc/httpd/conf.d/chain.conf", "/chain/0")
    document = module.snapshot(str(root), runner=never_run)
    assert "Timeout 999" not in json.dumps(document)
    assert "/etc/httpd/conf.d/chain.conf" in document["files"]


def test_include_cycle_terminates_with_each_file_once(module: ModuleType, tmp_path: Path) -> None:
    root = tmp_path / "root"
    write(root, "/etc/httpd/conf/httpd.conf", "Include conf/a.conf\nInclude conf/c.conf\n")
    write(root, "/etc/httpd/conf/a.conf", "Include conf/b.conf\nTimeout 30\n")
    write(root, "/etc/httpd/conf/b.conf", "Include /etc/httpd/conf/a.conf\n")
    # A directory include that reaches itself through a link.
    link(root, "/etc/httpd/loop", ".")
    write(root, "/etc/httpd/conf/c.conf", "Include loop/\n")
    document = module.snapshot(str(root), runner=never_run)
    files = document["files"]
    assert {"/etc/httpd/conf/a.conf", "/etc/httpd/conf/b.conf", "/etc/httpd/conf/c.conf"} <= set(
        files
    )
    assert files["/etc/httpd/loop"] == {"link": "."}
    assert document["notes"] == []


def test_collection_is_bounded_in_bytes_and_files(module: ModuleType, tmp_path: Path) -> None:
    root = tmp_path / "root"
    conf = "/etc/httpd/conf"
    write(root, f"{conf}/httpd.conf", "Include conf/huge.conf\nInclude conf.d/\n")
    huge = root / conf.lstrip("/") / "huge.conf"
    with huge.open("wb") as stream:
        stream.truncate(5 * 1024 * 1024)
    for index in range(60):
        write(root, f"/etc/httpd/conf.d/{index:02d}.conf", f"# {index}\n" + "x" * 1000 + "\n")
    document = module.snapshot(
        str(root), runner=never_run, max_file_bytes=1024 * 1024, max_files=40, max_bytes=20_000
    )
    files = document["files"]
    assert files[f"{conf}/huge.conf"] == {
        "omitted": "larger than 1048576 bytes",
        "size": 5 * 1024 * 1024,
    }
    assert len(files) <= 40
    collected = sum(len(entry.get("content", "")) for entry in files.values())
    assert collected <= 20_000
    assert any("collection limit reached" in note for note in document["notes"])
    assert any(entry.get("omitted") == "collection limit reached" for entry in files.values())


def test_sysctl_files_are_cut_where_the_boot_tools_stop(module: ModuleType, tmp_path: Path) -> None:
    root = tmp_path / "root"
    big = "net.ipv4.tcp_retries2 = 8\n" + "# padding\n" * 120_000
    write(root, "/etc/sysctl.d/10-big.conf", big)
    document = module.snapshot(str(root), runner=never_run)
    content = document["files"]["/etc/sysctl.d/10-big.conf"]["content"]
    assert len(content) == module.SYSCTL_FILE_BYTES
    assert content.startswith("net.ipv4.tcp_retries2 = 8\n")


def test_apache_probe_runs_fixed_arguments_and_keeps_httpd_output(module: ModuleType) -> None:
    calls: list[list[str]] = []

    class Completed:
        def __init__(self, stdout: bytes, returncode: int) -> None:
            self.stdout = stdout
            self.returncode = returncode

    def runner(argv: list[str], **kwargs: Any) -> Completed:
        calls.append(argv)
        assert kwargs["timeout"] == module.PROBE_TIMEOUT_SECONDS
        if argv[1] == "-v":
            return Completed(b"Server version: Apache/2.4.62 (Debian)\nServer built: x\n", 0)
        # Debian's -V exits 1 without envvars, after printing what is needed.
        return Completed(b"Server version: Apache/2.4.62 (Debian)\nServer MPM: event\n", 1)

    version, compile_settings = module.probe_apache("/usr/sbin/apache2", runner)
    assert calls == [["/usr/sbin/apache2", "-v"], ["/usr/sbin/apache2", "-V"]]
    assert version.startswith("Server version: Apache/2.4.62")
    assert "Server MPM: event" in compile_settings

    def broken(argv: list[str], **kwargs: Any) -> Completed:
        return Completed(b"apache2: Syntax error on line 80\n", 1)

    assert module.probe_apache("/usr/sbin/apache2", broken) == (None, None)


def test_relative_apache_conf_is_refused(module: ModuleType) -> None:
    with pytest.raises(ValueError, match="absolute"):
        module.snapshot(str(INCIDENT), apache_conf="httpd.conf", runner=never_run)


def test_apache_conf_override_and_missing_apache(module: ModuleType, tmp_path: Path) -> None:
    root = tmp_path / "root"
    write(root, "/srv/web/conf/main.conf", "Include conf/extra.conf\n")
    write(root, "/srv/web/conf/extra.conf", "Timeout 20\n")
    document = module.snapshot(str(root), apache_conf="/srv/web/conf/main.conf", runner=never_run)
    assert "content" in document["files"]["/srv/web/conf/extra.conf"]
    assert document["apache_conf"] == "/srv/web/conf/main.conf"
    empty = module.snapshot(str(tmp_path / "root" / "srv"), runner=never_run)
    assert empty["files"] == {} and empty["proc"] == {}


def test_fifos_in_a_tree_are_never_read(module: ModuleType, tmp_path: Path) -> None:
    root = tmp_path / "root"
    shutil.copytree(INCIDENT, root)
    os.unlink(root / "etc/hostname")
    for fifo in ("etc/hostname", "etc/httpd/conf.d/pipe.conf", "proc/sys/net/ipv4/tcp_pipe"):
        os.mkfifo(root / fifo)
    # Nothing writes to these FIFOs: a blocking read would hang the test.
    document = module.snapshot(str(root), runner=never_run)
    assert document["files"]["/etc/httpd/conf.d/pipe.conf"] == {"present": True}
    assert document["proc"]["net/ipv4/tcp_pipe"] is None
    assert document["host"] == "root"
