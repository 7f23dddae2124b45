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
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from ansible_trees import (
    COLLECTION,
    FACTS_MODULE_FILE,
    INCIDENT,
    REPO,
    TUNED,
    debian_tree,
    link,
    load_facts_module,
    write,
)
from hypothesis import example, given, settings
from hypothesis import strategies as st

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
    # Masked by the /etc link of the same name: the boot tool never reads it, nor sends it.
    assert "/usr/lib/sysctl.d/60-masked.conf" not in files
    assert "content" in files["/usr/lib/sysctl.d/50-default.conf"]
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


def test_sysctl_files_over_the_loaders_limit_are_not_sent(
    module: ModuleType, tmp_path: Path
) -> None:
    """tcpaudit reads no sysctl file over 1 MiB (its values are unknown): the module sends none."""
    root = tmp_path / "root"
    big = "net.ipv4.tcp_retries2 = 8\n" + "# padding\n" * 120_000
    write(root, "/etc/sysctl.d/10-big.conf", big)
    write(root, "/etc/sysctl.d/20-small.conf", "net.ipv4.tcp_retries2 = 9\n")
    document = module.snapshot(str(root), runner=never_run)
    assert document["files"]["/etc/sysctl.d/10-big.conf"] == {
        "omitted": f"larger than {module.SYSCTL_FILE_BYTES} bytes",
        "size": len(big),
    }
    assert document["files"]["/etc/sysctl.d/20-small.conf"] == {
        "content": "net.ipv4.tcp_retries2 = 9\n"
    }


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
    # Nothing writes to these FIFOs: a blocking read would hang the test. httpd
    # refuses to read one: it is sent as "special", rebuilt as a FIFO.
    document = module.snapshot(str(root), runner=never_run)
    assert document["files"]["/etc/httpd/conf.d/pipe.conf"] == {"special": True}
    assert document["proc"]["net/ipv4/tcp_pipe"] is None
    assert document["host"] == "root"


# -- what leaves a managed host: only what httpd and the boot tool read, secrets removed --

PEM = (
    "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC-SECRET-PEM-BODY\n"
    "c2VjcmV0LWtleS1tYXRlcmlhbA==SECRET-PEM-BODY\n-----END PRIVATE KEY-----\n"
)


def test_an_unknown_variable_stays_literal_as_httpd_reads_it(
    module: ModuleType, tmp_path: Path
) -> None:
    # httpd reads `IncludeOptional ${SITE_EXTRA}` as a file named "${SITE_EXTRA}";
    # expanded to "*", it copied every file under ServerRoot, a 0600 key included.
    root = tmp_path / "root"
    write(root, "/etc/httpd/conf/httpd.conf", "IncludeOptional ${SITE_EXTRA}\nTimeout 30\n")
    write(root, "/etc/httpd/private.key", PEM, mode=0o600)
    write(root, "/etc/httpd/conf.d/other.conf", "Timeout 999\n")
    document = module.snapshot(str(root), runner=never_run)
    assert set(document["files"]) <= {"/etc/httpd/conf/httpd.conf", "/etc/httpd"}
    assert "SECRET-PEM-BODY" not in json.dumps(document)


# Include wildcards the module reads as httpd's apr_fnmatch does (the loader's
# matcher, checked against libapr in tests/apache/test_include_glob.py): per
# byte, escapes inside brackets, '^' negating. Read as Python's fnmatch reads
# them, `[\\].pem` sent `server\\.pem`, a file httpd never reads, and `caf?`
# missed `café`.
WILDCARD_ENTRIES = ["café.conf", "cafe.conf", "caf].conf", "site-z.conf", "site-^.conf",
                    "server\\.pem", "a*b.conf", "a\\*b.conf"]  # fmt: skip
# Each line, and the entries httpd reads for it (as apache2 -t -D DUMP_INCLUDES
# lists them for these names).
WILDCARD_LINES = {
    "IncludeOptional conf.d/caf??.conf": {"café.conf"},
    "IncludeOptional conf.d/caf[\\]].conf": {"caf].conf"},
    "IncludeOptional conf.d/site-[^z].conf": {"site-^.conf"},
    "IncludeOptional conf.d/server[\\].pem": set(),
    "IncludeOptional conf.d/a\\*b.conf": {"a\\*b.conf"},
}


@pytest.mark.parametrize("line", sorted(WILDCARD_LINES))
def test_include_wildcards_send_the_files_httpd_reads(
    module: ModuleType, tmp_path: Path, line: str
) -> None:
    root = tmp_path / "root"
    main = f"LoadModule mpm_event_module modules/mod_mpm_event.so\n{line}\nTimeout 30\n"
    write(root, "/etc/httpd/conf/httpd.conf", main)
    for index, name in enumerate(WILDCARD_ENTRIES):
        write(root, f"/etc/httpd/conf.d/{name}", f"ServerAdmin never-read-{index}@example.org\n")
    config = tcpaudit.load_apache("/etc/httpd/conf/httpd.conf", root=root)
    assert config is not None
    read = {f"/{name.lstrip('/')}" for name in config.files if "/conf.d/" in name}
    document = module.snapshot(str(root), runner=never_run)
    sent = {name for name in document["files"] if name.startswith("/etc/httpd/conf.d/")}
    expected = {f"/etc/httpd/conf.d/{name}" for name in WILDCARD_LINES[line]}
    assert read == expected
    assert sent == expected
    text = json.dumps(document)
    for index, name in enumerate(WILDCARD_ENTRIES):
        if f"/etc/httpd/conf.d/{name}" not in read:
            assert f"never-read-{index}@" not in text, name


def test_a_wildcard_before_the_last_component_follows_no_directory_link(
    module: ModuleType, tmp_path: Path
) -> None:
    # httpd keeps, for `sites-*` in `sites-*/*`, only entries that are
    # directories themselves: `sites-keys -> /etc/ssl/private` is not read.
    # The module followed it and sent a 0600 file of credentials.
    root = tmp_path / "root"
    main = "LoadModule mpm_event_module modules/mod_mpm_event.so\nIncludeOptional sites-*/*\n"
    write(root, "/etc/httpd/conf/httpd.conf", main)
    write(root, "/etc/httpd/sites-enabled/a.conf", "KeepAlive Off\n")
    write(root, "/etc/ssl/private/vault.txt", "db_login=root:VAULT-SECRET-LINE\n", mode=0o600)
    link(root, "/etc/httpd/sites-keys", "/etc/ssl/private")
    config = tcpaudit.load_apache("/etc/httpd/conf/httpd.conf", root=root)
    assert config is not None
    assert [name.lstrip("/") for name in config.files] == [
        "etc/httpd/conf/httpd.conf",
        "etc/httpd/sites-enabled/a.conf",
    ]
    document = module.snapshot(str(root), runner=never_run)
    assert "content" in document["files"]["/etc/httpd/sites-enabled/a.conf"]
    assert "/etc/ssl/private/vault.txt" not in document["files"]
    assert "VAULT-SECRET" not in json.dumps(document)


def test_include_wildcards_past_the_matching_bounds_are_noted(
    module: ModuleType, tmp_path: Path
) -> None:
    # 300 lines of a 4,000-byte bracket pattern: over 1 MiB of distinct
    # wildcards, which took a second each to build before.
    root = tmp_path / "root"
    lines = [f"IncludeOptional conf.d/x{index:03d}[{'a-b' * 1330}]" for index in range(300)]
    write(root, "/etc/httpd/conf/httpd.conf", "\n".join(lines) + "\nInclude conf.d/*.conf\n")
    write(root, "/etc/httpd/conf.d/a.conf", "Timeout 30\n")
    document = module.snapshot(str(root), runner=never_run)
    assert any("matching bounds" in note for note in document["notes"]), document["notes"]


def test_secret_sysctl_lines_are_redacted_at_the_source_line_for_line(
    module: ModuleType, tmp_path: Path
) -> None:
    root = tmp_path / "root"
    write(root, "/proc/sys/net/ipv4/tcp_fastopen_key", "x\n", mode=0o600)
    write(root, "/proc/sys/net/ipv4/tcp_keepalive_time", "7200\n")
    text = (
        "net.ipv4.tcp_keepalive_time = 600\n"
        "net.ipv4.tcp_fastopen_key = SECRET-1\n"
        "-net/ipv4/tcp_fastopen_key=SECRET-2\n"
        "net.ipv4.tcp_fastopen_ke? = SECRET-3\n"
        "net.ipv4.tcp_* = SECRET-4\n"
        "net.core.netdev_rss_* = SECRET-5\n"
        "net.ipv4.tcp_retries2 = 8\n"
    )
    write(root, "/etc/sysctl.d/60-tfo.conf", text)
    write(root, "/etc/sysctl.conf", "net.ipv4.tcp_fastopen_ke[y] = SECRET-6\n")
    document = module.snapshot(str(root), runner=never_run)
    assert "SECRET" not in json.dumps(document)
    kept = document["files"]["/etc/sysctl.d/60-tfo.conf"]["content"].splitlines()
    assert len(kept) == len(text.splitlines())
    assert kept[0] == "net.ipv4.tcp_keepalive_time = 600" and kept[-1].endswith("= 8")
    # The controller still names each line, as a local audit would.
    facts = snapshot_facts(document)
    assert facts.sysctl is not None
    lines = {note.line for note in facts.sysctl.notes if note.file == "etc/sysctl.d/60-tfo.conf"}
    assert {2, 3, 4, 5, 6} <= lines
    assert facts.sysctl.settings["net.ipv4.tcp_retries2"].value == 8


def snapshot_facts(document: dict[str, Any]) -> tcpaudit.HostFacts:
    from tcpaudit.snapshot import facts_from_snapshot

    return facts_from_snapshot(json.loads(json.dumps(document)))


def test_private_keys_and_secret_variables_never_leave_the_host(
    module: ModuleType, tmp_path: Path
) -> None:
    root = tmp_path / "root"
    write(
        root,
        "/etc/apache2/envvars",
        "export APACHE_RUN_USER=www-data\nexport DB_PASSWORD='SECRET-VAR'\n"
        "API_TOKEN=SECRET-TOKEN\nexport SSL_KEY=SECRET-SSL\n",
    )
    write(root, "/etc/sysconfig/httpd", "OPTIONS=-DSSL\nHTTPD_SECRET=SECRET-SYS\n")
    write(
        root,
        "/etc/apache2/apache2.conf",
        "Include /etc/ssl/private/site.pem\nInclude conf.d/\nTimeout 30\n",
    )
    write(root, "/etc/ssl/private/site.pem", PEM, mode=0o600)
    write(root, "/etc/apache2/conf.d/inline.conf", "# pasted by mistake\n" + PEM)
    document = module.snapshot(str(root), runner=never_run)
    text = json.dumps(document)
    assert "SECRET-" not in text  # values; the variable names stay
    envvars = document["files"]["/etc/apache2/envvars"]["content"].splitlines()
    assert envvars[0] == "export APACHE_RUN_USER=www-data" and len(envvars) == 4
    pem = document["files"]["/etc/ssl/private/site.pem"]["content"].splitlines()
    assert pem[0] == "-----BEGIN PRIVATE KEY-----" and len(pem) == 4


KEYS_OF_EVERY_ARMOUR = (
    "# -----BEGIN PRIVATE KEY----- MIIEvSECRET-ONE-LINE -----END PRIVATE KEY-----\n"
    "# -----BEGIN PGP PRIVATE KEY BLOCK-----\n#\n# lQOYBGSECRET-PGP\n# =SECRET-PGP-SUM\n"
    "# -----END PGP PRIVATE KEY BLOCK-----\n"
    "# ---- BEGIN SSH2 ENCRYPTED PRIVATE KEY ----\n# Comment: k\n# P2/56wSECRET-SSH2\n"
    "# ---- END SSH2 ENCRYPTED PRIVATE KEY ----\n"
    "# PuTTY-User-Key-File-3: ssh-ed25519\n# Encryption: none\n# Public-Lines: 1\n"
    "# AAAAC3Nz\n# Private-Lines: 1\n# AAAAISECRET-PUTTY\n# Private-MAC: 0a1b\n"
    "  -----BEGIN OPENSSH PRIVATE KEY-----\n  b3BlSECRET-INDENTED-----END OPENSSH PRIVATE KEY-----\n"
)


def test_a_private_key_of_any_armour_never_leaves_the_host(
    module: ModuleType, tmp_path: Path
) -> None:
    # A key on one line kept its body and blanked every later line (the
    # controller then refused the file); OpenPGP, SSH2 and PuTTY keys were
    # sent whole.
    root = debian_tree(tmp_path / "root")
    conf = root / "etc/apache2/apache2.conf"
    conf.write_text(KEYS_OF_EVERY_ARMOUR.replace("\n  ", "\n# ") + conf.read_text())
    envvars = root / "etc/apache2/envvars"
    envvars.write_text(
        envvars.read_text() + 'export TLS_BLOB="-----BEGIN PRIVATE KEY-----\\nMIIEvSECRET-ENV\\n'
        '-----END PRIVATE KEY-----"\n'
    )
    document = module.snapshot(str(root), runner=never_run)
    text = json.dumps(document)
    assert "SECRET" not in text
    sent = document["files"]["/etc/apache2/apache2.conf"]["content"].splitlines()
    assert len(sent) == len(conf.read_text().splitlines())
    # Each line of the keys stays a comment (or blank): the verdicts below agree.
    key_lines = sent[: KEYS_OF_EVERY_ARMOUR.count("\n")]
    assert all(line.startswith("#") or not line for line in key_lines), key_lines
    local = tcpaudit.audit(tcpaudit.gather(root=root))
    remote = tcpaudit.audit(snapshot_facts(document))
    assert [(f.rule, str(f.location)) for f in remote.findings] == [
        (f.rule, str(f.location)) for f in local.findings
    ]


def test_the_module_and_the_controller_know_the_same_private_keys(module: ModuleType) -> None:
    from tcpaudit.private_keys import KEY_BEGIN

    assert module._KEY_BEGIN.pattern == KEY_BEGIN.pattern


@pytest.mark.parametrize(
    "text",
    [
        # Another armour's end marker, in an OpenPGP comment or a PEM body,
        # ended the key: every later line was sent.
        "-----BEGIN PGP PRIVATE KEY BLOCK-----\nComment: Private-MAC: x\nSECRET-9\n"
        "-----END PGP PRIVATE KEY BLOCK-----\n",
        "-----BEGIN RSA PRIVATE KEY-----\nSECRET-6a\nPrivate-MAC: \n SECRET-6b\n"
        "-----END RSA PRIVATE KEY-----\n",
        "-----BEGIN RSA PRIVATE KEY-----\nSECRET-1\n-----END EC PRIVATE KEY-----\nSECRET-2\n",
        "---- BEGIN SSH2 ENCRYPTED PRIVATE KEY ----\nComment: -----END PRIVATE KEY-----\n"
        "SECRET-3\n---- END SSH2 ENCRYPTED PRIVATE KEY ----\n",
        # PGP 2's armour, a label with a hyphen, OpenVPN's shared secret.
        "# -----BEGIN PGP SECRET KEY BLOCK-----\n# Version: 2.6.3i\n#\n# lQOYBGSECRET-10\n"
        "# =SECRET-11\n# -----END PGP SECRET KEY BLOCK-----\n",
        "-----BEGIN RSA-PSS PRIVATE KEY-----\nSECRET-12\n-----END RSA-PSS PRIVATE KEY-----\n",
        "-----BEGIN OpenVPN Static key V1-----\nSECRET-13\n-----END OpenVPN Static key V1-----\n",
        "-----BEGIN OpenVPN tls-crypt-v2 server key-----\nSECRET-14\n"
        "-----END OpenVPN tls-crypt-v2 server key-----\n",
        "-----BEGIN OpenVPN tls-crypt-v2 client key-----\nSECRET-15\n"
        "-----END OpenVPN tls-crypt-v2 client key-----\n",
        # PuTTY's MAC is derived from the key (and the passphrase): hidden too.
        "PuTTY-User-Key-File-2: ssh-rsa\nPrivate-Lines: 1\nSECRET-4\nPrivate-MAC: SECRET05ab\n",
        "PuTTY-User-Key-File-1: ssh-rsa\nPrivate-Lines: 1\nSECRET-5\nPrivate-Hash: SECRET06cd\n",
    ],
)
def test_a_key_ends_only_at_its_own_end_marker(module: ModuleType, text: str) -> None:
    redacted = module.redact_private_keys(text + "Timeout 5\n")
    assert re.search("SECRET[-0-9]", redacted) is None, redacted  # PGP 2's armour says SECRET
    assert redacted.count("\n") == text.count("\n") + 1
    assert redacted.endswith("Timeout 5\n") or "SECRET-2" in text


def test_define_and_envvars_doubling_is_bounded(tmp_path: Path) -> None:
    root = tmp_path / "root"
    defines = "".join(f"Define V{i} ${{V{i - 1}}}${{V{i - 1}}}\n" for i in range(1, 70))
    write(root, "/etc/httpd/conf/httpd.conf", "Define V0 x\n" + defines + "Include ${V69}\n")
    shells = "".join(f"export E{i}=${{E{i - 1}}}${{E{i - 1}}}\n" for i in range(1, 70))
    write(root, "/etc/apache2/envvars", "export E0=y\n" + shells)
    write(root, "/etc/apache2/apache2.conf", "Include ${E69}\n")
    # In a child capped at 1 GiB: unbounded, this is 2^69 characters.
    script = (
        "import json, resource, sys\n"
        "resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))\n"
        f"sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
        "from ansible_trees import load_facts_module\n"
        "module = load_facts_module()\n"
        "for main in ('/etc/httpd/conf/httpd.conf', '/etc/apache2/apache2.conf'):\n"
        f"    document = module.snapshot({str(root)!r}, apache_conf=main, runner=None)\n"
        "    print(json.dumps(document))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    for line in done.stdout.splitlines():
        document = json.loads(line)
        assert len(line) < 100_000
        assert any("expansion passed 4096 characters" in note for note in document["notes"])


def test_proc_sys_is_read_inside_the_root_without_following_links(
    module: ModuleType, tmp_path: Path
) -> None:
    outside = write(tmp_path, "/outside/ipv4/passwd", "SECRET-OUTSIDE\n")
    write(tmp_path, "/outside/osrelease", "SECRET-OUTSIDE\n")
    for linked in ("net", "net/ipv4", "kernel/osrelease"):
        root = tmp_path / linked.replace("/", "-")
        write(root, "/proc/sys/net/core/somaxconn", "4096\n")
        write(root, "/proc/sys/kernel/ostype", "Linux\n")
        target = {
            "net": outside.parent.parent,
            "net/ipv4": outside.parent,
            "kernel/osrelease": tmp_path / "outside/osrelease",
        }[linked]
        shutil.rmtree(root / "proc/sys" / linked, ignore_errors=True)
        link(root, f"/proc/sys/{linked}", str(target))
        document = module.snapshot(str(root), runner=never_run)
        assert "SECRET-OUTSIDE" not in json.dumps(document), linked
        assert "net/ipv4/passwd" not in document["proc"]


def test_proc_values_count_toward_the_bounds(module: ModuleType, tmp_path: Path) -> None:
    root = tmp_path / "root"
    for index in range(500):
        write(root, f"/proc/sys/net/ipv4/k{index:03d}", "1" * 1000 + "\n")
    for interface in ("all", "default", "lo", "eth0"):
        write(root, f"/proc/sys/net/ipv4/conf/{interface}/rp_filter", "1\n")
    document = module.snapshot(str(root), runner=never_run, max_files=100, max_bytes=50_000)
    assert len(document["files"]) + len(document["proc"]) <= 100
    assert sum(len(value or "") for value in document["proc"].values()) <= 50_000
    assert any("collection limit reached" in note for note in document["notes"])
    small = module.snapshot(str(root), runner=never_run, max_files=10_000)
    assert small["proc"]["net/ipv4/conf/eth0/rp_filter"] is None  # named, never read


def test_a_host_name_no_host_can_have_is_not_sent(module: ModuleType, tmp_path: Path) -> None:
    root = tmp_path / "web7"
    for text in ("web\x1b]0;x\x07\n", "h" * 300 + "\n", "\n"):
        write(root, "/etc/hostname", text)
        assert module.snapshot(str(root), runner=never_run)["host"] == "web7"
    write(root, "/etc/hostname", "web7.example\n")
    assert module.snapshot(str(root), runner=never_run)["host"] == "web7.example"


def test_secret_assignments_of_every_shape_stay_on_the_host(
    tmp_path: Path, module: ModuleType
) -> None:
    # Each of these shapes went out verbatim: only `NAME=` or `export NAME=`
    # at the start of a line, and `Environment=` without spaces, were redacted.
    root = debian_tree(tmp_path / "root")
    envvars = root / "etc/apache2/envvars"
    envvars.write_text(
        envvars.read_text() + "DB_PASSWORD=abc\\\nLEAK1-continuation\nreadonly API_TOKEN=LEAK2\n"
        "declare -x SECRET_KEY=LEAK3\nexport A=1 DB_PASS=LEAK4\nDB_PASSWORD+=LEAK5\n"
        "MY_TOKEN=$'x\nLEAK6'\nexport APACHE_ARGUMENTS=-DKEPT\n"
    )
    write(root, "/etc/systemd/system/apache2.service",
          '[Service]\nEnvironment = "DB_PASSWORD=LEAK7"\nEnvironment=FOO=1 \\\n  API_TOKEN=LEAK8\nEnvironment =DB_PASS=LEAK10 A=1\n'
          "EnvironmentFile=/etc/default/apache-env\n"
          "ExecStart=/usr/sbin/apachectl start\n")  # fmt: skip
    write(root, "/etc/default/apache-env", "DB_PASSWORD = LEAK9\n")
    for path in (
        envvars,
        root / "etc/default/apache-env",
        root / "etc/systemd/system/apache2.service",
    ):
        path.chmod(0o644)
    document = json.dumps(module.snapshot(root=str(root), probe=False))
    assert re.findall(r"LEAK\d", document) == []
    sent = json.loads(document)["files"]["/etc/apache2/envvars"]["content"]
    assert sent.count("\n") == envvars.read_text().count("\n")  # line numbers kept
    assert "-DKEPT" in sent


def test_start_up_values_shaped_like_credentials_stay_on_the_host(
    tmp_path: Path, module: ModuleType
) -> None:
    """A credential kept under a name that says nothing ("Bearer ...",
    "Authorization: Basic ...") went out verbatim: only names were tested."""
    root = debian_tree(tmp_path / "root")
    envvars = root / "etc/apache2/envvars"
    envvars.write_text(
        envvars.read_text() + "export BEARER='Bearer LEAK1abcdefghij0123456789'\n"
        "export AUTH_HEADER='Authorization: Basic LEAK2dXNlcjpwYXNzd29yZDEyMw=='\n"
        'OPTS="-x 1 H=Bearer LEAK3zzzzzzzz"\nexport APACHE_ARGUMENTS=-DKEPT\n'
        # Other schemes, quoting and escapes between scheme and token, a name
        # split by a continuation, a ${X:-word}, a loop, a here-document.
        "export U='OAuth LEAK5abcdefgh' D='DPoP LEAK6abcdefgh'\n"
        "export X=\"Bearer\"' LEAK7abcdefgh' Y=Bearer\\ LEAK8abcdefgh\n"
        "export Z=$'Bearer\\x20LEAK9abcdefgh' W=\"Bearer \\\nLEAK10abcdefgh\"\n"
        "export X31\\\n='Bearer LEAK11abcdefgh'\n"
        'export X14="${U:-Bearer LEAK12abcdefgh}"\n'
        "for X in 'Bearer LEAK13abcdefgh'; do :; done\n"
        "cat <<EOF >/dev/null\nAuthorization: Bearer LEAK14abcdefgh1234567890\nEOF\n"
    )
    write(root, "/etc/systemd/system/apache2.service",
          '[Service]\nEnvironment="AUTH=Bearer LEAK4abcdefghij0123" PLAIN=1\n'
          'Environment = "X=Bearer LEAK15abcdefgh"\n'
          'Environment="X=Bearer\\x20LEAK16abcdefgh"\n'
          'Environment="X=Bearer \\\n LEAK17abcdefgh"\n'
          "ExecStart=/usr/sbin/apachectl start\n")  # fmt: skip
    for path in (envvars, root / "etc/systemd/system/apache2.service"):
        path.chmod(0o644)
    document = json.dumps(module.snapshot(root=str(root), probe=False))
    assert re.findall(r"LEAK\d", document) == []
    sent = json.loads(document)["files"]["/etc/apache2/envvars"]["content"]
    assert "-DKEPT" in sent and "APACHE_RUN_USER=www-data" in sent


def test_values_the_audit_needs_are_not_taken_for_credentials(
    tmp_path: Path, module: ModuleType
) -> None:
    """-D mac, -D token, a host:port after a word with 'key' or 'session', a
    PATH: a scheme word before an option, or a colon without a blank, was
    taken for a credential and redacted (the controller's audit changed)."""
    root = debian_tree(tmp_path / "root")
    envvars = root / "etc/apache2/envvars"
    kept = (
        'export APACHE_ARGUMENTS="-D mac -DSSL"\n'
        'OPTIONS="-D token -DSSL"\n'
        "EXTRA=\"-C 'Define KC http://keycloak:8080/realms/main'\"\n"
        "PATH=/opt/tokenizer:/usr/bin:/bin\n"
        "APACHE_SESSION_DIR=/run/session:/var/run/apache2\n"
    )
    envvars.write_text(envvars.read_text() + kept)
    envvars.chmod(0o644)
    sent = module.snapshot(root=str(root), probe=False)["files"]["/etc/apache2/envvars"]["content"]
    assert sent.endswith(kept)


DIRECTIVE_CANARY = "DIRECTIVE-CANARY-c2d1"


def test_secrets_in_apache_directives_are_redacted_at_the_source(
    module: ModuleType, tmp_path: Path
) -> None:
    # httpd needs these values, so configurations hold them; they stayed in
    # the collected files before (only start-up files were redacted).
    root = tmp_path / "root"
    shutil.copytree(INCIDENT, root, symlinks=True)
    secret = DIRECTIVE_CANARY
    conf = (
        f"ProxyPass /priv/ http://admin:{secret}@127.0.0.1:8080/\n"
        "ProxyPass /cont/ \\\n"
        f'    "http://user:{secret}@127.0.0.1:8081/" keepalive=On\n'
        f"SetEnvIf Request_URI ^/x DB_PASSWORD={secret}\n"
        "<IfModule mod_authnz_ldap.c>\n"
        f"    AuthLDAPBindPassword {secret}\n"
        "</IfModule>\n"
        "<IfModule mod_headers.c>\n"
        f'    RequestHeader set Authorization "Bearer {secret}"\n'
        "</IfModule>\n"
        f"RewriteRule ^/r http://127.0.0.1:8083/?token={secret} [P,E=API_TOKEN:{secret}]\n"
        "ServerAdmin webmaster@example.com\n"
    )
    write(root, "/etc/httpd/conf.d/secrets.conf", conf)
    document = module.snapshot(str(root), runner=never_run)
    assert secret not in json.dumps(document)
    collected = document["files"]["/etc/httpd/conf.d/secrets.conf"]["content"]
    # Line for line: what tcpaudit reports for line N is line N of the host's file.
    assert len(collected.split("\n")) == len(conf.split("\n"))
    lines = collected.split("\n")
    assert lines[0] == "ProxyPass /priv/ http://admin:tcpaudit-redacted@127.0.0.1:8080/"
    assert lines[1] == ""
    assert '"http://user:tcpaudit-redacted@127.0.0.1:8081/" keepalive=On' in lines[2]
    assert lines[-2] == "ServerAdmin webmaster@example.com"
    # The controller reads the same routes as a local audit, passwords replaced.
    facts = snapshot_facts(document)
    report = tcpaudit.audit(facts)
    assert "http://admin:tcpaudit-redacted@127.0.0.1:8080/" in report.to_json()
    # A fix against the redacted copy would not apply (and a playbook would
    # write the placeholder over the password): the file is left out.
    from tcpaudit.remedy.tasks import plan_snapshot

    planned = plan_snapshot(report.findings, json.loads(json.dumps(document)))
    assert not any(edit.path.endswith("secrets.conf") for edit in planned.edits)
    assert any(
        "secrets.conf holds a value redacted before it was collected" in note
        for note in planned.notes
    )


_KEYS = (
    "proxypass", "authldapbindpassword", "authbasicfake", "ldaptrustedglobalcert", "define",
    "setenv", "setenvif", "header", "requestheader", "dbdparams", "rewriterule", "servername",
    "rewritecond", "if", "require", "proxyfcgisetenvif", "oidcclientsecret", "servertokens",
)  # fmt: skip
_PIECES = (
    "http://", "ws://", "a", "b:", "@", "/", "?", "&", "=", ":", "pass", "token", "KEY", "x-api-",
    "authorization", "always", "set", "edit", "E=", "[", "]", ",", "'", "tcpaudit-redacted",
    "%{HTTP:", "%{HTTP_COOKIE}", "}", "req('", " ", '"', "<", "PRIVATE_PORT", "_PASS",
)  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(
    key=st.sampled_from(_KEYS),
    words=st.lists(
        st.lists(st.sampled_from(_PIECES), min_size=1, max_size=6).map("".join), max_size=5
    ),
)
# Found by a CI run: a blank in a URL's userinfo is a character of the
# password in an Apache word (the module stopped the authority there).
@example(key="proxypass", words=["http:// @"])
@example(key="proxypass", words=["http://a b:c d@h/x"])
def test_the_module_redacts_directive_words_as_the_loaders_do(
    module: ModuleType, key: str, words: list[str]
) -> None:
    from tcpaudit.apache.secret_words import redact_arguments

    assert module.redact_directive_words(key, words) == list(redact_arguments(key, tuple(words)))


def test_values_standing_where_a_secret_is_are_redacted_in_every_file(
    module: ModuleType, tmp_path: Path
) -> None:
    # The password is written once, in a Define, an envvars export or a
    # macro's Use, and used elsewhere in a URL: each of those lines was sent.
    root = tmp_path / "root"
    shutil.copytree(REPO / "tests/corpus/debian-12-apache2.4", root, symlinks=True)
    secret = DIRECTIVE_CANARY
    with (root / "etc/apache2/envvars").open("a") as envvars:
        envvars.write(f"export BACKEND_PW={secret}e\n")
    write(root, "/etc/apache2/conf-enabled/defines.conf", f"Define PW {secret}d\n")
    write(
        root,
        "/etc/apache2/sites-enabled/uses.conf",
        "ProxyPass /d/ http://svc:${PW}@127.0.0.1:8081/\n"
        "ProxyPass /e/ http://svc:${BACKEND_PW}@127.0.0.1:8082/\n"
        "<Macro Backend $where $password>\n"
        "ProxyPass $where http://user:$password@127.0.0.1:8083/\n</Macro>\n"
        f"Use Backend /m/ {secret}m\n",
    )
    document = module.snapshot(str(root), runner=never_run)
    assert secret not in json.dumps(document)
    files = document["files"]
    assert (
        files["/etc/apache2/conf-enabled/defines.conf"]["content"]
        == "Define PW tcpaudit-redacted\n"
    )
    uses = files["/etc/apache2/sites-enabled/uses.conf"]["content"].splitlines()
    assert uses[-1] == "Use Backend /m/ tcpaudit-redacted"  # the path stays
    assert "export BACKEND_PW=" in files["/etc/apache2/envvars"]["content"]


@pytest.mark.parametrize(
    ("conf", "files"),
    [
        (
            "Include /etc/apache2/backend.conf\nProxyPass /app ${BACKEND}",
            {"backend.conf": f"Define BACKEND http://u:{DIRECTIVE_CANARY}@app:8080/\n"},
        ),
        (f"Define H http://u:\nProxyPass /h ${{H}}{DIRECTIVE_CANARY}@h/\nUnDefine H", {}),
        (
            f"Define B {DIRECTIVE_CANARY}\nInclude /etc/apache2/px.conf",
            {"px.conf": "Define A ${B}\nProxyPass /a http://u:${A}@h/\n"},
        ),
        (
            f"Include /etc/apache2/macros.conf\nUse Outer {DIRECTIVE_CANARY}",
            {
                "macros.conf": "<Macro Inner $p>\nProxyPass /m http://u:$p@h/\n</Macro>\n"
                "<Macro Outer $q>\nUse Inner $q\n</Macro>\n"
            },
        ),
        (
            f"SetEnv XV {DIRECTIVE_CANARY}\nInclude /etc/apache2/hdr.conf",
            {"hdr.conf": 'RequestHeader set Authorization "Basic %{XV}e"\n'},
        ),
        (
            f'SetEnvIf Request_URI "." UPHDR={DIRECTIVE_CANARY}\nInclude /etc/apache2/hdr.conf',
            {"hdr.conf": 'RequestHeader set Authorization "Basic %{UPHDR}e"\n'},
        ),
        (
            f"RewriteRule ^ - [E=UPHDR:{DIRECTIVE_CANARY}]\nInclude /etc/apache2/hdr.conf",
            {"hdr.conf": 'RequestHeader set Authorization "Basic %{UPHDR}e"\n'},
        ),
        (
            "Define H http://appuser:\nDefine B ${H}\nInclude /etc/apache2/px.conf",
            {"px.conf": f"ProxyPass /x ${{B}}{DIRECTIVE_CANARY}@10.0.0.2:8080/\n"},
        ),
        (
            "Define H http://appuser:\nInclude /etc/apache2/px.conf\nDefine H other",
            {"px.conf": f"ProxyPass /x ${{H}}{DIRECTIVE_CANARY}@10.0.0.2:8080/\n"},
        ),
        (
            f"Define UPVAL {DIRECTIVE_CANARY}\nSetEnv UPHDR ${{UPVAL}}\nInclude /etc/apache2/hdr.conf",
            {"hdr.conf": 'RequestHeader set Authorization "Basic %{UPHDR}e"\n'},
        ),
        (
            f"SetEnv UPSTREAMHDR {DIRECTIVE_CANARY}\nInclude /etc/apache2/hdr.conf",
            {"hdr.conf": 'RequestHeader set X-Api-Key "expr=%{ENV:UPSTREAMHDR}"\n'},
        ),
        (
            f"SetEnvIf Request_URI . SRCVAR={DIRECTIVE_CANARY}\nInclude /etc/apache2/hdr.conf",
            {
                "hdr.conf": "RewriteRule ^ - [E=UPHDR:%{ENV:SRCVAR}]\n"
                'RequestHeader set Authorization "Basic %{UPHDR}e"\n'
            },
        ),
        (
            "Include /etc/apache2/hdr.conf",
            {
                "hdr.conf": 'RequestHeader set Authorization "expr=Bearer %{osenv:UPHDR}"\n',
                "envvars-extra": f"export UPHDR={DIRECTIVE_CANARY}\n",
            },
        ),
        (
            "PassEnv UPHDR\nInclude /etc/apache2/hdr.conf",
            {
                "hdr.conf": 'RequestHeader set Authorization "%{UPHDR}e"\n',
                "envvars-extra": f'export UPHDR="Basic {DIRECTIVE_CANARY}"\n',
            },
        ),
        (
            "Include /etc/apache2/chain.conf\nUse M0 " + DIRECTIVE_CANARY,
            {
                "chain.conf": "".join(
                    f"<Macro M{i} $p>\nUse M{i + 1} $p\n</Macro>\n" for i in range(3000)
                )
                + "<Macro M3000 $p>\nProxyPass /m http://appuser:$p@10.0.0.2/\n</Macro>\n"
            },
        ),
    ],
)
def test_secrets_reached_through_names_stay_on_the_host(
    module: ModuleType, tmp_path: Path, conf: str, files: dict[str, str]
) -> None:
    root = tmp_path / "root"
    shutil.copytree(REPO / "tests/corpus/debian-12-apache2.4", root, symlinks=True)
    for name, text in files.items():
        if name == "envvars-extra":
            with (root / "etc/apache2/envvars").open("a") as envvars:
                envvars.write(text)
            continue
        write(root, f"/etc/apache2/{name}", text)
    for enabled in ("proxy", "proxy_http", "headers", "macro", "rewrite"):
        link = root / f"etc/apache2/mods-enabled/{enabled}.load"
        link.symlink_to(f"../mods-available/{enabled}.load")
    main = root / "etc/apache2/apache2.conf"
    main.write_text(main.read_text() + conf + "\n")
    lines = len(main.read_text().split("\n"))
    document = module.snapshot(str(root), runner=never_run)
    assert DIRECTIVE_CANARY not in json.dumps(document)
    # Line for line, and the controller still reads the configuration.
    assert len(document["files"]["/etc/apache2/apache2.conf"]["content"].split("\n")) == lines
    assert snapshot_facts(document).apache is not None


def test_expanding_variables_to_find_secrets_is_bounded(module: ModuleType, tmp_path: Path) -> None:
    # 40,000 uses of a 10,000-character Define on one line: 1.2 GB before.
    root = tmp_path / "root"
    shutil.copytree(REPO / "tests/corpus/debian-12-apache2.4", root, symlinks=True)
    write(root, "/etc/apache2/conf-enabled/0.conf", "Define A " + "a" * 10_000 + "\n")
    write(root, "/etc/apache2/conf-enabled/a.conf", "ProxyPass /x " + "${A}" * 40_000 + "\n")
    document = module.snapshot(str(root), runner=never_run)
    # Not tried (it would pass 64 KiB), and a ProxyPass may hold a password:
    # its ${NAME} words go rather than leave unchecked.
    assert document["files"]["/etc/apache2/conf-enabled/a.conf"]["content"] == (
        "ProxyPass /x tcpaudit-redacted\n"
    )
    assert module.MAX_EXPANDED_LINE < 10_000 * 40_000


def test_references_without_an_end_are_found_in_linear_time(tmp_path: Path) -> None:
    # '${' or '%{' repeated with no '}' after them: the module's patterns
    # scanned from every one to the end of the line (57 s for these lines;
    # the wildcard test of an Include of 240,000 '[': 32 s),
    # and a start-up file's blank lines were scanned from every line start.
    root = tmp_path / "root"
    shutil.copytree(REPO / "tests/corpus/debian-12-apache2.4", root, symlinks=True)
    repeated = 40_000
    write(root, "/etc/apache2/conf-enabled/unended.conf",
          f"SetEnv X {'%{' * repeated}\nSetEnvIf Request_URI . Y={'${' * repeated}\n"
          f"ServerAdmin {'${' * repeated}}}\nRequestHeader set X-A {'%{env:' * repeated}\n"
          f"ProxyPass /x {'${' * repeated}\n"
          f"IncludeOptional conf/{'[' * 240_000}\n")  # fmt: skip
    gentoo = tmp_path / "gentoo"
    shutil.copytree(REPO / "tests/corpus/certbot-gentoo", gentoo, symlinks=True)
    write(gentoo, "/etc/conf.d/apache2", "\n" * 500_000 + "# not yet\nAPACHE2_OPTS=\n")
    script = (
        "import json, sys\n"
        f"sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
        "from ansible_trees import load_facts_module\n"
        "module = load_facts_module()\n"
        f"for root in ({str(root)!r}, {str(gentoo)!r}):\n"
        "    print(json.dumps(module.snapshot(root, runner=None)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    first = json.loads(done.stdout.splitlines()[0])
    assert "%{" * repeated in first["files"]["/etc/apache2/conf-enabled/unended.conf"]["content"]


def test_a_name_past_path_max_holding_a_nul_is_skipped(module: ModuleType, tmp_path: Path) -> None:
    """A listed name past PATH_MAX is recorded without being read; one whose
    Include path held a NUL byte ended the snapshot in a ValueError (the
    system calls refuse such a name: no file has it)."""
    root = debian_tree(tmp_path / "host")
    chain = "/".join(["d" * 250] * 14)
    (root / "etc/apache2" / chain).mkdir(parents=True)  # its parent can be opened
    with (root / "etc/apache2/apache2.conf").open("a") as handle:
        handle.write(f"IncludeOptional /etc/apache2/{chain}/x\x00{'y' * 600}.conf\n")
    document = module.snapshot(str(root), runner=never_run)
    assert "/etc/apache2/apache2.conf" in document["files"]


def test_start_up_secrets_in_expansions_and_command_lines_are_redacted(
    module: ModuleType, tmp_path: Path
) -> None:
    """${DB_PASSWORD:=x}, ${MY_PASSWORD:-x}, a -C 'Define API_TOKEN x' and a URL
    password in APACHE_ARGUMENTS or ExecStart left the host verbatim."""
    root = debian_tree(tmp_path / "host")
    with (root / "etc/apache2/envvars").open("a") as handle:
        handle.write(
            'echo "${API_TOKEN:=hunterRR}" >/dev/null\n'
            '. "/etc/apache2/x/${DB_PASSWORD:=hunterQQ}"\n'
            "X=${MY_PASSWORD:-hunterTT}; export X\n"
            'IFS=,; export APACHE_ARGUMENTS="-C,Define DB_PASSWORD hunter9,-C,'
            'ServerAdmin http://bob:hunter3@x"\n'
        )
    write(
        root,
        "/etc/systemd/system/apache2.service",
        '[Service]\nExecStart=/usr/sbin/apache2 -k start -C "Define API_TOKEN hunterA" '
        '-D "http://u:hunterB@h"\n',
    )
    document = json.dumps(module.snapshot(str(root), runner=never_run))
    assert "hunter" not in document


@pytest.mark.parametrize(
    "line",
    [
        'ErrorLog "|/usr/bin/curl https://h/?token=SECRET-P1"',
        'CustomLog "|/usr/bin/curl https://h/x?password=SECRET-P2" common',
        'ErrorLog "|/usr/bin/curl h/?access_token=SECRET-P3"',
    ],
)
def test_a_piped_log_sends_no_secret_parameter(line: str) -> None:
    module = load_facts_module()
    assert "SECRET-P" not in module.redact_apache(line + "\n")


def test_a_bare_token_of_a_known_kind_does_not_travel(tmp_path: Path) -> None:
    module = load_facts_module()
    text = "export X=ghp_abcdefghijklmnopqrstuvwxyz0123456789\nexport Y=AKIAIOSFODNN7EXAMPLE\n"
    redacted = module.redact_shell(text)
    assert "ghp_abcdefghij" not in redacted and "AKIAIOSFODNN7" not in redacted
    assert redacted.count("\n") == text.count("\n")


def test_an_apache_comment_holding_a_secret_is_not_sent() -> None:
    module = load_facts_module()
    text = (
        "# SetEnv DB_PASSWORD SECRET-C1\n#AuthLDAPBindPassword SECRET-C2\n"
        "# note \\\nSetEnv API_TOKEN SECRET-C3\nTimeout 5\n"
    )
    redacted = module.redact_apache(text)
    assert "SECRET-C" not in redacted
    assert redacted.count("\n") == text.count("\n") and "Timeout 5" in redacted


@pytest.mark.parametrize(
    "text",
    [
        "X=$'gh\\x70_abcdefghijklmnopqrstuvwxyz0123'\n",
        "X=$'AK\\x49A0123456789ABCDEF'\n",
        "X=$'mysql://user:SECRETpw\\x40db/x'\n",
        "OPTIONS=\"-DLOWTIMEOUT -c 'SetEnv DB_PASSWORD SECRETpw'\"\n",
    ],
)
def test_bash_escapes_and_quoted_directives_hide_no_secret(text: str) -> None:
    module = load_facts_module()
    redacted = module.redact_shell(text)
    for secret in ("ghp_abcdef", "gh\\x70_abcdef", "AKIA0123", "AK\\x49A0123", "SECRETpw"):
        assert secret not in redacted, (text, redacted)
    assert redacted.count("\n") == text.count("\n")


@pytest.mark.parametrize(
    "unit",
    [
        '[Service]\nExecStartPre=/bin/sh -c "umask 077; DB_PASSWORD=SECRETpw /usr/local/bin/prep"\n',
        '[Service]\nEnvironment="DBURL=mysql://app:SECRETpw\\x40db/x"\n',
        '[Service]\nExecStart=/usr/sbin/httpd "--db=mysql://u:SECRETpw\\x40db/x" "X=1 --password SECRETpw"\n',
    ],
)
def test_unit_commands_and_escaped_urls_hide_no_secret(unit: str) -> None:
    assert "SECRETpw" not in load_facts_module().redact_unit(unit)


@pytest.mark.parametrize(
    "text",
    [
        'export APACHE_ARGUMENTS="-c \\"SetEnv DB_PASSWORD SECRETval\\""\n',
        "OPTIONS=$'-c \"SetEnv DB_PASS\\x20SECRETval\"'\n",
        'OPTIONS="-cSetEnv\\ DB_PASSWORD\\ SECRETval"\n',
        "curl -s ${PROTO}://admin:SECRETval@h/x >/dev/null 2>&1 || true\n",
        'wget "https"://admin:SECRETval@h/x\n',
    ],
)
def test_directives_and_urls_the_shell_assembles_hide_no_secret(text: str) -> None:
    redacted = load_facts_module().redact_shell(text)
    assert "SECRETval" not in redacted and redacted.count("\n") == text.count("\n")


def test_a_url_does_not_take_a_later_words_at_sign_for_its_password() -> None:
    module = load_facts_module()
    text = (
        'export STATUSURL=http://localhost:8080\nexport APACHE_ARGUMENTS="-D SSL"\n'
        "export ADMIN_MAIL=root@example.com\nexport A='http://x' B='y@z'\n"
    )
    assert module.redact_shell(text) == text


@pytest.mark.parametrize(
    "unit",
    [
        '[Service]\nExecStart=/usr/sbin/httpd -TC "SetEnv DB_PASSWORD SECRETval" -DFOREGROUND\n',
        '[Service]\nExecStart=/usr/sbin/httpd -TC"SetEnv DB_PASSWORD SECRETval"\n',
    ],
)
def test_clustered_directive_options_hide_no_secret(unit: str) -> None:
    assert "SECRETval" not in load_facts_module().redact_unit(unit)


def test_a_define_redacted_in_a_directive_keeps_its_two_arguments() -> None:
    module = load_facts_module()
    redacted = module.redact_unit(
        '[Service]\nExecStart=/usr/sbin/httpd -C "Define API_TOKEN SECRETval" -DFOREGROUND\n'
    )
    assert "SECRETval" not in redacted and 'Define API_TOKEN tcpaudit-redacted"' in redacted
    shell = module.redact_shell(
        "OPTIONS=\"-DLOWTIMEOUT -f conf/site.conf -c 'Define API_TOKEN x1'\"\n"
    )
    assert "x1" not in shell and "-DLOWTIMEOUT -f conf/site.conf" in shell


def test_every_directive_of_a_value_is_redacted_and_specifiers_hide_no_name() -> None:
    module = load_facts_module()
    shell = module.redact_shell(
        "OPTIONS=\"-DLOWTIMEOUT -f conf/site.conf -c 'SetEnv DB_PASSWORD sekret1' "
        '-c \\"SetEnv API_TOKEN sekret2\\""\n'
    )
    assert "sekret1" not in shell and "sekret2" not in shell
    unit = module.redact_unit(
        '[Service]\nExecStart=/usr/sbin/httpd -DFOREGROUND -c "SetEnv DB_PASS%iWORD sekret3"\n'
    )
    assert "sekret3" not in unit


def test_a_redacted_unit_directive_keeps_its_words() -> None:
    """The directive was redacted, then emptied by the last net (which knew
    only one placeholder); '%%' is '%' to systemd, not a specifier to drop."""
    module = load_facts_module()
    unit = module.redact_unit(
        '[Service]\nExecStart=/usr/sbin/apache2 -c "RequestHeader set X-Api-Key SECRETx1" -k start\n'
    )
    assert "SECRETx1" not in unit and "RequestHeader set X-Api-Key tcpaudit-redacted" in unit
    kept = '[Service]\nExecStart=/usr/sbin/apache2 -c "SetEnv DB_PASS%%WORD v" -k start\n'
    assert "DB_PASS%%WORD" in module.redact_unit(kept)


def test_the_module_and_the_loader_share_their_secret_patterns(module: ModuleType) -> None:
    # The module runs on hosts without tcpaudit, so it keeps its own copies;
    # a pattern changed on one side only would let values through.
    from tcpaudit.apache import shell_state

    assert module._SECRET_VARIABLE.pattern == shell_state._SECRET_VARIABLE.pattern
    assert module._KNOWN_TOKEN.pattern == shell_state.KNOWN_TOKEN.pattern


@pytest.mark.parametrize("name", ["LDAP_BIND_PW", "DB_PW", "DBPASS", "MASTERKEY", "AES_KEY_1"])
def test_short_secret_names_stay_on_the_host(module: ModuleType, tmp_path: Path, name: str) -> None:
    root = debian_tree(tmp_path / "root")
    envvars = root / "etc/apache2/envvars"
    envvars.write_text(envvars.read_text() + f"export {name}=LEAK-{name}\n")
    write(root, "/etc/systemd/system/apache2.service",
          f"[Service]\nEnvironment={name}=LEAK-unit\nExecStart=/usr/sbin/apachectl start\n")  # fmt: skip
    text = json.dumps(module.snapshot(str(root), runner=never_run))
    assert "LEAK-" not in text
    assert name in text  # the names stay


@pytest.mark.parametrize("line", ["\x1f#LoadModule cgid_module modules/mod_cgid.so",
                                  "\x1c\x1d# ProxyPass / http://u:pw@h/", "\u2028#x"])  # fmt: skip
def test_a_comment_after_a_blank_only_python_knows_is_read_once(
    module: ModuleType, line: str
) -> None:
    # str.split() takes U+001F for a blank, lstrip(" \t#;") did not: the
    # comment's body was a comment again, read again until RecursionError
    # (the fuzz run, seed 23, input 28058).
    assert module.redact_apache(line + "\nTimeout 5\n").endswith("Timeout 5\n")


@pytest.mark.parametrize(
    "url", ["http://alice:abc/SECRET-PW1@b/", "http://alice:a?SECRET-PW2#x@b/"]
)
def test_a_url_password_holding_a_slash_stays_on_the_host(module: ModuleType, url: str) -> None:
    # The authority ends at the first '/', '?' or '#' (apr_uri_parse), so no
    # '@' was found before it and the password travelled whole.
    text = module.redact_apache(f"ProxyPass /a {url} timeout=5\n")
    assert "SECRET-PW" not in text and "abc" not in text and "timeout=5" in text


@pytest.mark.parametrize(
    ("url", "hidden", "kept"),
    [
        ("http://alice@corp.com:SECRET-A/x@host/", "SECRET-A", "@host/"),
        ('http://u:SECRET-B/pw"x@host/', "SECRET-B", "@host/"),
        ("http://[::1]:8080/api/user@example.com/", None, "[::1]:8080/api/user@example.com/"),
        ("http://host:/p@x", None, "http://host:/p@x"),
    ],
)
def test_the_module_and_the_loader_hide_the_same_url_passwords(
    module: ModuleType, url: str, hidden: str | None, kept: str
) -> None:
    from tcpaudit.apache.credentials import redact_userinfo

    ours = module.redact_apache(f"ProxyPass /a {url}\n")
    theirs = redact_userinfo(url)
    assert kept in ours and kept in theirs
    if hidden is not None:
        assert hidden not in ours and hidden not in theirs
    else:
        assert ours == f"ProxyPass /a {url}\n" and theirs == url


@pytest.mark.parametrize(
    "script",
    [
        "export 'DB_PASSWORD'=LEAKhunter2\n",
        'export DB_PASS""WORD=LEAKhunter2\n',
        "export DB_PASS\\WORD=LEAKhunter2\n",
        "export DB_PASS$(:)WORD=LEAKhunter2\n",
        "DB_PASSWORD\\\n=LEAKhunter2\nexport DB_PASSWORD\n",
        "read DB_PASSWORD <<EOF\nLEAKhunter2\nEOF\nexport DB_PASSWORD\n",
        "set -a; read API_TOKEN <<-'END'\n\tLEAKhunter2\n\tEND\n",
        "for DB_PASSWORD in LEAKhunter2; do export DB_PASSWORD; done\n",
        "printf -v DB_PASSWORD %s LEAKhunter2; export DB_PASSWORD\n",
    ],
    ids=["quoted-name", "empty-quotes", "escape", "empty-substitution", "continuation",
         "read-heredoc", "read-heredoc-tabs", "for", "printf-v"],
)  # fmt: skip
def test_a_secret_named_variable_set_otherwise_stays_on_the_host(
    module: ModuleType, tmp_path: Path, script: str
) -> None:
    # The shell exports the secret for each (dash; printf -v is bash's); the
    # redaction looked for a plain NAME= only.
    shell = "bash" if "printf" in script else "dash"
    exported = subprocess.run(
        [shell, "-c", script + "env\n"], capture_output=True, text=True, timeout=10, check=False
    ).stdout
    assert "=LEAKhunter2" in exported
    root = debian_tree(tmp_path / "root")
    envvars = root / "etc/apache2/envvars"
    envvars.write_text(envvars.read_text() + script + "export APACHE_LOG_DIR=/var/log/kept\n")
    text = json.dumps(module.snapshot(str(root), runner=never_run))
    assert "LEAKhunter2" not in text
    assert "/var/log/kept" in text  # the lines around it travel


@pytest.mark.parametrize(
    ("script", "shell", "secret"),
    [
        ('export DB_PASSWORD\n: ${DB_PASSWORD:="}"LEAKhunter2}\n', "dash", "LEAKhunter2"),
        ("export DB_PASSWORD\n: ${DB_PASSWORD:='}'LEAKhunter2}\n", "dash", "LEAKhunter2"),
        ("export DB_PASSWORD\nDB_PASSWORD[0]=LEAKhunter2\n", "bash", "LEAKhunter2"),
        ("declare -n ref=DB_PASSWORD\nref=LEAKhunter2\nexport DB_PASSWORD\n", "bash",
         "LEAKhunter2"),
        ('x=DB_PASSWORD\nexport "$x=LEAKhunter2"\n', "bash", "LEAKhunter2"),
        ('x=DB_PASSWORD\nprintf -v "$x" %s LEAKhunter2\nexport DB_PASSWORD\n', "bash",
         "LEAKhunter2"),
        ("E=\nexport DB_PASSWORD\neval DB_PASS${E}WORD=LEAKhunter2\n", "bash", "LEAKhunter2"),
        ("export DB_PASSWORD=0\n(( DB_PASSWORD |= 987654 ))\n", "bash", "987654"),
    ],
    ids=["brace-in-double-quotes", "brace-in-single-quotes", "array-element", "nameref",
         "name-in-a-variable", "printf-to-a-name-in-a-variable", "name-split-by-expansion",
         "arithmetic"],
)  # fmt: skip
def test_other_shell_forms_of_a_secret_stay_on_the_host(
    module: ModuleType, tmp_path: Path, script: str, shell: str, secret: str
) -> None:
    # The shell's secret-named variable holds the secret (an array's element 0
    # is its value, though bash exports no array).
    held = subprocess.run(
        [shell, "-c", script + 'printf "%s\\n" "$DB_PASSWORD"\n'],
        capture_output=True, text=True, timeout=10, check=False,
    ).stdout  # fmt: skip
    assert secret in held
    root = debian_tree(tmp_path / "root")
    envvars = root / "etc/apache2/envvars"
    envvars.write_text(envvars.read_text() + script + "export APACHE_LOG_DIR=/var/log/kept\n")
    text = json.dumps(module.snapshot(str(root), runner=never_run))
    assert secret not in text
    assert "/var/log/kept" in text


# The bound SECURITY.md promises for any input of the documented sizes.
SAFE_SECONDS = 30
# Within the 1 MiB a start-up file may hold, each once took minutes: a regex
# backtracking over a run of option letters, over unclosed ${ and [.
_COSTLY_STARTUP = {
    "declare-option-letters": "# DB_PASSWORD is set elsewhere\ndeclare -" + "n" * 900_000 + "\n",
    "declare-option-words": "# DB_PASSWORD\ndeclare " + "-n " * 280_000 + "\n",
    "unclosed-expansions": "# DB_PASSWORD\n" + "${a:-" * 180_000 + "\n",
    "unclosed-brackets": "# PASSWORD\nx " + "a[" * 450_000 + "\n",
}


@pytest.mark.parametrize("name", sorted(_COSTLY_STARTUP))
def test_start_up_files_built_to_backtrack_stay_within_the_time_bound(
    tmp_path: Path, name: str
) -> None:
    root = debian_tree(tmp_path / "root")
    envvars = root / "etc/apache2/envvars"
    envvars.write_text("export APACHE_RUN_USER=www-data\n" + _COSTLY_STARTUP[name])
    script = (
        "import json, sys; sys.path.insert(0, sys.argv[2]);"
        "from ansible_trees import load_facts_module;"
        "m = load_facts_module(); json.dumps(m.snapshot(sys.argv[1], runner=lambda *a, **k: None))"
    )
    started = time.monotonic()
    completed = subprocess.run(
        [sys.executable, "-c", script, str(root), str(Path(__file__).parent)],
        capture_output=True, text=True, timeout=2 * SAFE_SECONDS, check=False,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert time.monotonic() - started < SAFE_SECONDS


# httpd reads these -C directives into one line (a backslash and a line feed
# end the first; or the first fills httpd's 206-byte buffer and the next is
# glued on): the secret is in no directive alone.
_PAD = " " * 220
JOINED_DIRECTIVES = {
    "header-continued": ["RequestHeader set Authorization \\\n", '"Bearer SECRET-J1xxxxxxxxxx"'],
    "define-continued": ["Define DB_PASSWORD \\\n", "SECRET-J2"],
    "url-continued": ["ProxyPass /y http://admin:\\\n", "SECRET-J3@backend/"],
    "header-glued": ["RequestHeader set Authorization" + _PAD, '"Bearer SECRET-J4xxxxxxxxxx"'],
}


@pytest.mark.parametrize("name", sorted(JOINED_DIRECTIVES))
def test_directives_httpd_joins_into_a_secret_do_not_travel(
    module: ModuleType, tmp_path: Path, name: str
) -> None:
    directives = JOINED_DIRECTIVES[name]
    root = tmp_path / "host"
    write(root, "/etc/httpd/conf/httpd.conf", (
        'ServerRoot "/etc/httpd"\nListen 80\n'
        "LoadModule mpm_event_module modules/mod_mpm_event.so\n"
        "LoadModule proxy_module modules/mod_proxy.so\n"
        "LoadModule proxy_http_module modules/mod_proxy_http.so\n"
        "LoadModule headers_module modules/mod_headers.so\n"
    ))  # fmt: skip
    quoted = " ".join(
        '-C "' + d.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"') + '"'
        for d in directives
    )
    write(root, "/etc/systemd/system/httpd.service",
          f"[Service]\nExecStart=/usr/sbin/httpd {quoted} -DFOREGROUND\n")  # fmt: skip
    # The local audit reads them as httpd does, and shows none of the secret.
    local = tcpaudit.gather(root=root, apache_build="rhel")
    assert local.apache is not None and local.apache.invocation is not None
    assert local.apache.invocation.directives == ["tcpaudit-redacted"] * len(directives)
    assert "SECRET-J" not in local.model_dump_json()
    # The module sends none of it, and the controller reads the rest.
    document = module.snapshot(str(root), runner=never_run)
    assert "SECRET-J" not in json.dumps(document)
    remote = snapshot_facts(document)
    assert remote.apache is not None and "SECRET-J" not in remote.model_dump_json()
    assert remote.apache.settings["Timeout"] == local.apache.settings["Timeout"]


def test_quoted_directives_httpd_joins_into_a_secret_are_hidden_in_start_up_files(
    module: ModuleType,
) -> None:
    text = "OPTIONS=\"-C 'Define DB_PASSWORD \\\n' -DX -C 'SECRET-J5' -c 'Timeout 5'\"\n"
    redacted = module.redact_shell(text)
    assert "SECRET-J5" not in redacted and "-c 'Timeout 5'" in redacted
    assert redacted.count("\n") == text.count("\n")
