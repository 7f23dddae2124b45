"""tcpaudit reads every corpus tree exactly as the real apache2 does.

For each tree in tests/corpus (provenance in tests/corpus/SOURCES.md) the test
prepares a tcpaudit copy and an apache copy (see apache_harness.py), runs
``apache2 -t`` with every dump, loads the same tree with ``load_apache``, and
compares:

- accept/reject: apache2's exit status against ``ApacheConfigError``, and for
  a syntax error the file and line both blame;
- ``files``: the files read, in order, named as included (DUMP_INCLUDES);
- the effective directives in order with depth, file, line, name and words
  (DUMP_CONFIG; httpd keeps read-time directives such as LoadModule, Define
  and Include out of that tree, so they are left out of tcpaudit's side too);
- the virtual hosts (DUMP_VHOSTS: file, line and ServerName);
- the loaded modules, in order (DUMP_MODULES);
- ServerRoot (DUMP_RUN_CFG);
- the tracked settings: each one set in a file is the last one apache2 kept
  at server level, and each default is set nowhere at server level.

What the copies change, and why, is recorded by ``normalise_tree``: modules
this machine does not have are commented out in both copies (both programs
then agree they are not loaded), modules built into Debian's apache2 are
commented out too (httpd refuses to LoadModule them) and tcpaudit is given
that built-in list, and unknown ``User``/``Group`` names become numeric ids.
The two httpd 2.2 trees cannot be judged by apache2 2.4: they are checked
against facts from the httpd 2.2 documentation in test_apache_httpd22.py.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest
from apache_harness import (
    APACHE2,
    MODULE_DIR,
    ApacheRun,
    Dumped,
    loads_an_mpm,
    map_tree,
    normalise_tree,
    rename_directive,
    run_apache,
    shell_values,
    static_modules,
)

from tcpaudit.apache import ApacheConfig, Directive, load_apache
from tcpaudit.apache.directives import directive_owners
from tcpaudit.errors import ApacheConfigError

CORPUS = Path(__file__).resolve().parent.parent / "corpus"

# httpd executes LoadModule, Define, UnDefine and ServerRoot while reading and
# keeps them out of the tree DUMP_CONFIG prints (EXEC_ON_READ in server/core.c,
# modules/core/mod_so.c); tcpaudit's tree keeps them, so they are left out here.
READ_TIME = frozenset({"loadmodule", "define", "undefine", "serverroot"})


@dataclass(frozen=True)
class Tree:
    """How a distribution starts httpd on this tree."""

    main_file: str
    server_root: str
    envvars: str | None = None
    options_file: str | None = None
    options_variable: str | None = None


_DEBIAN = Tree("/etc/apache2/apache2.conf", "/etc/apache2", envvars="/etc/apache2/envvars")
TREES_2_4 = {
    "debian-12-apache2.4": _DEBIAN,
    "certbot-debian-multiple-vhosts": _DEBIAN,
    "certbot-debian-augeas-vhosts": _DEBIAN,
    "certbot-debian-multi-vhosts": _DEBIAN,
    "certbot-debian-default-vhost": _DEBIAN,
    "certbot-complex-parsing": _DEBIAN,
    "certbot-centos7": Tree(
        "/etc/httpd/conf/httpd.conf", "/etc/httpd", None, "/etc/sysconfig/httpd", "OPTIONS"
    ),
    "certbot-gentoo": Tree(
        "/etc/apache2/httpd.conf", "/usr/lib64/apache2", None, "/etc/conf.d/apache2", "APACHE2_OPTS"
    ),
    "upstream-httpd-2.4.62": Tree("/usr/local/apache2/conf/httpd.conf", "/usr/local/apache2"),
}
TREES_2_2 = ("certbot-centos6-httpd2.2", "upstream-httpd-2.2.34", "debian-7-apache2.2")
# Compared in test_apache_build.py, with the modules its build links in.
TREES_OTHER_BUILD = ("opensuse-leap-15-apache2.4",)
_ENVVARS = ("APACHE_RUN_USER", "APACHE_RUN_GROUP", "APACHE_PID_FILE", "APACHE_RUN_DIR",
            "APACHE_LOCK_DIR", "APACHE_LOG_DIR", "LANG")  # fmt: skip


@cache
def apache_version() -> str:
    shown = subprocess.run([APACHE2, "-v"], capture_output=True, text=True, check=True).stdout
    return shown.split("Apache/", 1)[1].split()[0]


def test_apache2_is_installed() -> None:
    # The differential suite is worthless without the real server: fail, never skip.
    assert shutil.which("apache2") or Path(APACHE2).is_file(), (
        "apache2 is required (apt-get install apache2)"
    )
    assert apache_version().startswith("2.4.")


def test_every_corpus_tree_is_compared() -> None:
    trees = {path.name for path in CORPUS.iterdir() if path.is_dir()}
    assert trees == set(TREES_2_4) | set(TREES_2_2) | set(TREES_OTHER_BUILD)


def projection(directives: list[Directive], depth: int = 0) -> list[Dumped]:
    """tcpaudit's tree as DUMP_CONFIG prints httpd's: read-time directives left out."""
    shown: list[Dumped] = []
    for directive in directives:
        key = directive.key if directive.children is None else "<" + directive.key
        if key in READ_TIME:
            continue
        shown.append(Dumped(depth, directive.file, directive.line, key, directive.args))
        if directive.children:
            shown.extend(projection(directive.children, depth + 1))
    return shown


@dataclass
class Prepared:
    tcpaudit_root: Path
    apache_root: Path
    changes: list[str]
    environment: dict[str, str]
    options: tuple[str, ...]
    preload: tuple[str, ...]
    run: ApacheRun


_INVALID_COMMAND = re.compile(r"Invalid command '([^']+)'")


def prepare(source: Path, work: Path, tree: Tree) -> Prepared:
    """Copy a tree twice: normalised for both programs, then path-mapped for apache2.

    Parser fixtures (the certbot trees) load no MPM and use directives of
    modules they never load; a host would load them. Such modules are loaded
    before the configuration (``-C``), one at a time while apache2 names a
    directive no loaded module provides, and tcpaudit is told they are built
    in; so the comparison reaches the whole tree instead of stopping at the
    first "Invalid command".
    """
    tcpaudit_root = work / "tcpaudit"
    apache_root = work / "apache"
    shutil.copytree(source, tcpaudit_root, symlinks=True)
    changes = normalise_tree(tcpaudit_root)
    shutil.copytree(tcpaudit_root, apache_root, symlinks=True)
    map_tree(apache_root)
    environment, options = _startup(apache_root, tree)
    preload: list[str] = [] if loads_an_mpm(tcpaudit_root) else ["mpm_event_module"]
    for _ in range(20):
        run = run_apache(
            apache_root,
            tree.main_file,
            tree.server_root,
            options=options,
            environment=environment,
            preload=tuple(preload),
        )
        invalid = _INVALID_COMMAND.search(run.stderr)
        if invalid and directive_owners(invalid.group(1).lower(), (2, 4)) is None:
            # A directive no module registers (certbot's parser fixture makes
            # some up): tcpaudit only notes those. Both copies spell it as
            # PassEnv (mod_env: any number of words, no effect under -t) so
            # the rest of the tree can still be compared.
            rename_directive(tcpaudit_root, invalid.group(1), "PassEnv")
            rename_directive(apache_root, invalid.group(1), "PassEnv")
            changes.append(f"renamed {invalid.group(1)} (no module registers it) to PassEnv")
            if "env_module" not in preload:
                preload.append("env_module")
            continue
        owners = directive_owners(invalid.group(1).lower(), (2, 4)) if invalid else None
        available = sorted(o for o in owners or () if (MODULE_DIR / f"mod_{o[:-7]}.so").is_file())
        if not available:
            break
        preload.append(available[0])
    changes.extend(f"loaded before the configuration: {name}" for name in preload)
    return Prepared(tcpaudit_root, apache_root, changes, environment, options, tuple(preload), run)


def _startup(apache_root: Path, tree: Tree) -> tuple[dict[str, str], tuple[str, ...]]:
    """The environment (envvars) and options (sysconfig, conf.d) httpd starts with."""
    base = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
    environment: dict[str, str] = {}
    if tree.envvars and (apache_root / tree.envvars.lstrip("/")).is_file():
        values = shell_values(apache_root / tree.envvars.lstrip("/"), _ENVVARS, base)
        environment = {name: value for name, value in values.items() if value}
        # apache2ctl creates the run, lock and log directories before it starts httpd.
        for name in ("APACHE_RUN_DIR", "APACHE_LOCK_DIR", "APACHE_LOG_DIR"):
            if environment.get(name, "").startswith(f"{apache_root}/"):
                Path(environment[name]).mkdir(parents=True, exist_ok=True)
    options: tuple[str, ...] = ()
    if tree.options_file and tree.options_variable:
        script = apache_root / tree.options_file.lstrip("/")
        if script.is_file():
            value = shell_values(script, (tree.options_variable,), base)[tree.options_variable]
            options = tuple(value.split())
    return environment, options


def main_file_both_ways(
    tmp_path: Path,
    lines: list[str],
    tree: Tree,
    files: dict[str, str] | None = None,
    links: dict[str, str] | None = None,
) -> tuple[ApacheRun, ApacheConfig | ApacheConfigError]:
    """``lines`` as ``tree``'s main file (beside ``files`` and symbolic ``links``,
    by path below the root), read by the real apache2 (on a mapped copy) and
    by tcpaudit: both results, already held to ``assert_same``."""
    tcpaudit_root = tmp_path / "tcpaudit"
    main = tcpaudit_root / tree.main_file.lstrip("/")
    main.parent.mkdir(parents=True)
    main.write_text("\n".join(lines) + "\n")
    for name, content in (files or {}).items():
        (tcpaudit_root / name).parent.mkdir(parents=True, exist_ok=True)
        (tcpaudit_root / name).write_text(content)
    for name, target in (links or {}).items():
        (tcpaudit_root / name).symlink_to(target)
    apache_root = tmp_path / "apache"
    shutil.copytree(tcpaudit_root, apache_root, symlinks=True)
    map_tree(apache_root)
    run = run_apache(apache_root, tree.main_file, tree.server_root)
    loaded = load_with_tcpaudit(tcpaudit_root, tree)
    assert_same(run, loaded)
    return run, loaded


def refused_as_apache2(tmp_path: Path, lines: list[str], tree: Tree, message: str | None) -> None:
    """``main_file_both_ways``, and both accept (``message`` None) or both
    refuse with ``message`` in apache2's error and in tcpaudit's."""
    run, loaded = main_file_both_ways(tmp_path, lines, tree)
    if message is None:
        assert run.accepted
        return
    assert not run.accepted
    assert message in run.stderr
    assert isinstance(loaded, ApacheConfigError)
    assert message in str(loaded)


def load_with_tcpaudit(
    root: Path, tree: Tree, preload: tuple[str, ...] = ()
) -> ApacheConfig | ApacheConfigError:
    try:
        config = load_apache(
            tree.main_file,
            root=root,
            version=apache_version(),
            compiled_in=(*static_modules(), *preload),
        )
    except ApacheConfigError as exc:
        return exc
    assert config is not None
    return config


def assert_same(run: ApacheRun, loaded: ApacheConfig | ApacheConfigError) -> None:
    """Every comparison the module docstring lists."""
    if not run.accepted:
        assert isinstance(loaded, ApacheConfigError), f"apache2 refused:\n{run.stderr}"
        if run.error is not None:
            assert (loaded.file, loaded.line) == run.error, (str(loaded), run.stderr)
        return
    assert not isinstance(loaded, ApacheConfigError), f"apache2 accepted, tcpaudit: {loaded}"
    config = loaded
    assert config.files == run.includes
    assert projection(config.directives) == run.config
    assert {(v.file, v.line) for v in config.vhosts} == {(f, n) for f, n, _ in run.vhosts}
    for vhost in config.vhosts:
        if vhost.server_name:
            assert (vhost.file, vhost.line, vhost.server_name) in run.vhosts
    loaded_here = [
        name for name in run.modules if name != "info_module" or "info_module" in config.modules
    ]
    assert config.modules == loaded_here
    assert run.server_root is not None
    assert config.server_root == run.server_root
    server_level = [entry for entry in run.config if entry.depth == 0]
    for name, setting in config.settings.items():
        spellings = {name.lower()} | ({"maxclients"} if name == "MaxRequestWorkers" else set())
        kept = [entry for entry in server_level if entry.name in spellings]
        if setting.default:
            assert not kept, f"{name} is set at {kept[-1]} but tcpaudit reports a default"
        else:
            assert (setting.file, setting.line) == (kept[-1].file, kept[-1].line), name
    inside = {(entry.file, entry.line, entry.name) for entry in run.config if entry.depth > 0}
    for vhost in config.vhosts:
        for name, setting in vhost.settings.items():
            spelled = (setting.spelled or name).lower()
            assert (setting.file, setting.line, spelled) in inside, (vhost.file, name)


@pytest.mark.parametrize("name", sorted(TREES_2_4))
def test_corpus_tree_matches_apache2(name: str, tmp_path: Path) -> None:
    tree = TREES_2_4[name]
    prepared = prepare(CORPUS / name, tmp_path, tree)
    loaded = load_with_tcpaudit(prepared.tcpaudit_root, tree, prepared.preload)
    assert_same(prepared.run, loaded)
