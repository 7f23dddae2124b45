"""Include paths as httpd takes them: a trailing '/', link loops, paths near PATH_MAX.

Each case runs the real apache2 on a tree and asks the loader for the same
verdict (the refusing file and line), the same files and their order; the
Ansible module's snapshot of the tree must then load as the tree does.

- ``Include x/`` names a directory only (httpd's stat of "file/" fails):
  ``IncludeOptional`` skips a file or a link to one, ``Include`` fails "Not a
  directory"; a wildcard before the '/' keeps directories (``d_type``), as a
  wildcard before any other component does. ``x//``, ``x/.`` and ``x/y/..``
  keep the '/' (apr_filepath_merge).
- a link loop is a name httpd cannot stat: ``IncludeOptional`` skips it, as a
  path, a wildcard match or an entry of a directory read; a loop where a
  directory is opened for a wildcard fails both.
- the kernel's 4,096 bytes bound the path httpd builds, not the audited
  root's path plus it: a file 3,867 bytes deep reads under a root of 470
  bytes, and a path past 4,096 bytes is skipped (``IncludeOptional``).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ansible"))
from ansible_trees import load_facts_module
from apache_harness import MODULE_DIR, map_tree, run_apache, static_modules
from test_apache_differential import apache_version

from tcpaudit.apache import load_apache
from tcpaudit.errors import ApacheConfigError
from tcpaudit.rootfs import overlay_links
from tcpaudit.snapshot import Snapshot
from tcpaudit.snapshot_tree import materialise

MAIN = "/etc/apache2/apache2.conf"
SERVER_ROOT = "/etc/apache2"
BASE = [f"LoadModule mpm_event_module {MODULE_DIR}/mod_mpm_event.so", "ErrorLog /dev/null"]

Outcome = tuple[str, object]


def _outcome(load: Callable[[], object]) -> Outcome:
    try:
        loaded = load()
    except ApacheConfigError as exc:
        return "refused", (exc.file, exc.line)
    files = getattr(loaded, "files", None)
    return "accepted", files


def _loader(root: str | Path) -> Outcome:
    return _outcome(
        lambda: load_apache(MAIN, root=root, version=apache_version(), compiled_in=static_modules())
    )


def _read_by_module(root: Path) -> list[str]:
    """The files whose contents the module's snapshot of ``root`` holds."""
    document = _document(root)
    return sorted(
        path.lstrip("/") for path, entry in document["files"].items() if "content" in entry
    )


def _document(root: Path) -> dict[str, Any]:
    module = load_facts_module()
    document: dict[str, Any] = json.loads(
        json.dumps(module.snapshot(str(root), runner=lambda *args, **kwargs: None))
    )
    return document


def _through_snapshot(root: Path) -> Outcome:
    """The loader's outcome on the module's snapshot of ``root``, rebuilt as the
    controller rebuilds it."""
    snapshot = Snapshot.model_validate(_document(root))
    with tempfile.TemporaryDirectory(prefix="snap-") as rebuilt:
        _notes, links = materialise(snapshot, Path(rebuilt))
        with overlay_links(rebuilt, links):
            return _loader(rebuilt)


def _apache(apache_root: Path) -> Outcome:
    run = run_apache(apache_root, MAIN, SERVER_ROOT)
    if not run.accepted:
        assert run.error is not None, run.stderr
        return "refused", run.error
    return "accepted", run.includes


def _shapes_tree(root: Path) -> None:
    """d/: a file, a directory (x.conf/), links to each, a link loop; a loop as
    a directory; e/: a directory holding a link into the loop."""
    conf = root / "etc/apache2"
    (conf / "d/x.conf/sub").mkdir(parents=True)
    (conf / "d/y").mkdir()
    (conf / "e").mkdir()
    (conf / "d/a.conf").write_text("ServerAdmin a@example.org\n")
    (conf / "d/x.conf/inner.conf").write_text("ServerAdmin i@example.org\n")
    (conf / "d/x.conf/sub/s.conf").write_text("ServerAdmin s@example.org\n")
    (conf / "d/y/a.conf").write_text("ServerAdmin y@example.org\n")
    (conf / "d/lf.conf").symlink_to("a.conf")
    (conf / "d/ld.conf").symlink_to("x.conf")
    (conf / "d/loop.conf").symlink_to("loop.conf")
    (conf / "loopdir").symlink_to("loopdir")
    (conf / "e/z.conf").symlink_to("../d/loop.conf")
    # s/: links whose targets go through a file or a missing name: the kernel
    # refuses "a.conf/", "a.conf/.", "a.conf/../x" and "nothere/../x".
    (conf / "s").mkdir()
    (conf / "s/a.conf").write_text("ServerAdmin sa@example.org\n")
    (conf / "s/slash.conf").symlink_to("a.conf/")
    (conf / "s/dot.conf").symlink_to("a.conf/.")
    (conf / "s/dd.conf").symlink_to("a.conf/../a.conf")
    (conf / "s/miss.conf").symlink_to("nothere/../a.conf")


TRAILING_SLASH = [
    "Include d/a.conf/",
    "IncludeOptional d/a.conf/",
    "Include d/x.conf/",
    "Include d/lf.conf/",
    "IncludeOptional d/lf.conf/",
    "Include d/ld.conf/",
    "Include d/missing/",
    "IncludeOptional d/missing/",
    "Include d/a.conf//",
    "Include d/a.conf/.",
    "IncludeOptional d/a.conf/.",
    "Include d/a.conf/x/..",
    "Include d/x.conf/.",
    "Include d/*.conf/",
    "IncludeOptional d/*.conf/",
    "Include d/*.conf//",
    "Include d/*.conf/.",
    "Include d/l*.conf/",
    "IncludeOptional d/l*.conf/",
    "Include d/a*/",
    "IncludeOptional d/a*/",
    "Include d/*/a.conf/",
    "IncludeOptional d/*/a.conf/",
    "Include */a.conf/",
    "Include d/*.conf/inner.conf/",
    "IncludeOptional d/*.conf/inner.conf/",
]

LINK_LOOPS = [
    "Include d/loop.conf",
    "IncludeOptional d/loop.conf",
    "IncludeOptional d/loop.conf/",
    "Include d/l*.conf",
    "IncludeOptional d/l*.conf",
    "IncludeOptional d/loo*",
    "Include loopdir/a.conf",
    "IncludeOptional loopdir/a.conf",
    "IncludeOptional loopdir",
    "IncludeOptional loopdir/*.conf",
    "IncludeOptional d/loop.conf/*",
    "Include loo*/a.conf",
    "IncludeOptional loo*/a.conf",
    "Include e",
    "IncludeOptional e",
    "IncludeOptional e/",
]

LINKS_THROUGH_FILES = [
    "Include s/slash.conf",
    "Include s/dot.conf",
    "Include s/dd.conf",
    "Include s/miss.conf",
    "IncludeOptional s/slash.conf",
    "IncludeOptional s/miss.conf",
    "IncludeOptional s",
    "IncludeOptional s/*.conf",
    "Include s/a.conf",
]


@pytest.mark.parametrize("line", TRAILING_SLASH + LINK_LOOPS + LINKS_THROUGH_FILES)
def test_include_shapes_read_as_apache2_reads_them(tmp_path: Path, line: str) -> None:
    ours = tmp_path / "tcpaudit"
    _shapes_tree(ours)
    (ours / "etc/apache2/apache2.conf").write_text("\n".join([*BASE, line, "ServerAdmin z@x", ""]))
    theirs = tmp_path / "apache"
    shutil.copytree(ours, theirs, symlinks=True)
    map_tree(theirs)
    expected = _apache(theirs)
    if expected[0] == "refused":
        assert expected[1] == ("etc/apache2/apache2.conf", len(BASE) + 1)
    assert _loader(ours) == expected
    assert _through_snapshot(ours) == expected
    if expected[0] == "accepted":
        # The module reads the files httpd reads, no other (by their real
        # paths: it records the links on the way apart).
        assert isinstance(expected[1], list)
        real = {os.path.relpath(os.path.realpath(ours / name), ours) for name in expected[1]}
        assert _read_by_module(ours) == sorted(real)


# A chain of directories below etc/apache2/deep whose last one, 3,860 bytes
# from the tree's root, holds x.conf and a directory of 240 bytes (its path:
# 4,101 bytes) holding y.conf. apache2 runs on a copy whose own path is short:
# its paths are at most PREFIX_MAX bytes longer than the tree's, so none falls
# between the two programs' limits.
CHAIN = ["c" * 199 + f"{index % 10}" for index in range(19)]
CHAIN.append("t" * (3860 - len("/etc/apache2/deep") - 19 * 201 - 1))
FAR = "z" * 240
PREFIX_MAX = 4096 - 3860 - len("/x.conf") - 1


def _deep_tree(root: Path) -> None:
    """Made one directory at a time: the paths are too long to be named whole."""
    (root / "etc/apache2/deep").mkdir(parents=True)
    descriptor = os.open(root / "etc/apache2/deep", os.O_RDONLY | os.O_DIRECTORY)
    try:
        for name in [*CHAIN, FAR]:
            if name == FAR:
                _write_at(descriptor, "x.conf", "ServerAdmin x@example.org\n")
            os.mkdir(name, dir_fd=descriptor)
            inner = os.open(name, os.O_RDONLY | os.O_DIRECTORY, dir_fd=descriptor)
            os.close(descriptor)
            descriptor = inner
        _write_at(descriptor, "y.conf", "ServerAdmin y@example.org\n")
    finally:
        os.close(descriptor)
    # Beside x.conf, a link through a missing name: a path past 3,072 bytes
    # was normalised as text, "nothere/.." cancelled, and x.conf read.
    descriptor = os.open(root / "etc/apache2/deep", os.O_RDONLY | os.O_DIRECTORY)
    try:
        for name in CHAIN:
            inner = os.open(name, os.O_RDONLY | os.O_DIRECTORY, dir_fd=descriptor)
            os.close(descriptor)
            descriptor = inner
        os.symlink("nothere/../x.conf", "miss.conf", dir_fd=descriptor)
    finally:
        os.close(descriptor)


def _write_at(directory: int, name: str, text: str) -> None:
    descriptor = os.open(name, os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=directory)
    try:
        os.write(descriptor, text.encode())
    finally:
        os.close(descriptor)


def _chain() -> str:
    return "deep/" + "/".join(CHAIN)


DEEP_LINES = {
    "a file 3,867 bytes deep": lambda: f"Include {_chain()}/x.conf",
    "a directory read whole, optional": lambda: "IncludeOptional deep",
    "a directory read whole": lambda: "Include deep",
    "a wildcard, optional": lambda: f"IncludeOptional {_chain()}/*.conf",
    "a wildcard in a directory past 4,096 bytes": lambda: f"IncludeOptional {_chain()}/*/*.conf",
    "a link through a missing name": lambda: f"Include {_chain()}/miss.conf",
    "a link through a missing name, optional": lambda: f"IncludeOptional {_chain()}/miss.conf",
}


@pytest.mark.parametrize("case", sorted(DEEP_LINES))
def test_paths_near_path_max_do_not_depend_on_the_roots_length(tmp_path: Path, case: str) -> None:
    line = DEEP_LINES[case]()
    long_root = tmp_path / ("r" * 200) / ("s" * 200)
    assert len(str(long_root)) >= 400
    config = "\n".join([*BASE, line, ""])
    _deep_tree(long_root)
    (long_root / "etc/apache2/apache2.conf").write_text(config)
    # apache2 reads the same tree mapped to a short path (nothing to rewrite:
    # every path of the configuration is relative or not the host's).
    theirs = tmp_path / "apache"
    assert len(str(theirs)) < PREFIX_MAX
    _deep_tree(theirs)
    (theirs / "etc/apache2/apache2.conf").write_text(config)
    expected = _apache(theirs)
    assert _loader(long_root) == expected
    # The module reads the host's own root: on a short root it snapshots what
    # httpd reads, and the snapshot loads as the tree does.
    short_root = tmp_path / "m"
    _deep_tree(short_root)
    (short_root / "etc/apache2/apache2.conf").write_text(config)
    assert _through_snapshot(short_root) == _loader(short_root) == expected


@pytest.mark.parametrize(
    "name", ["d/a.conf/", "d/a.conf/.", "d/lf.conf/", "d/x.conf/", "d/ld.conf/."]
)
def test_iffile_of_a_name_ending_in_a_slash_holds_for_a_directory_only(
    tmp_path: Path, name: str
) -> None:
    """<IfFile> stats the path as Include does: "file/" does not exist."""
    ours = tmp_path / "tcpaudit"
    _shapes_tree(ours)
    lines = [f"<IfFile {name}>", "Include missing.conf", "</IfFile>"]
    (ours / "etc/apache2/apache2.conf").write_text("\n".join([*BASE, *lines, ""]))
    theirs = tmp_path / "apache"
    shutil.copytree(ours, theirs, symlinks=True)
    map_tree(theirs)
    expected = _apache(theirs)
    assert _loader(ours) == expected
    assert _through_snapshot(ours) == expected


def test_a_wildcard_a_thousand_directories_deep_reads_as_apache2_reads_it(
    tmp_path: Path, deep_trees: list[Path]
) -> None:
    """The loader matched a wildcard one call deeper per name before it: 990
    plain names ended in a RecursionError, "input nested too deeply", with no
    file or line; httpd reads the file."""
    relative = "/".join(["a"] * 990)
    config = "\n".join([*BASE, f"Include {relative}/*.conf", ""])
    trees = []
    for name in ("tcpaudit", "apache"):
        (tmp_path / name / "etc/apache2").mkdir(parents=True)
        deep_trees.append(tmp_path / name)
        deep = str(tmp_path / name / "etc/apache2")
        for _ in range(990):  # makedirs recurses a call per level
            deep += "/a"
            os.mkdir(deep)
        Path(deep, "f0.conf").write_text("ServerAdmin f@example.org\n")
        (tmp_path / name / "etc/apache2/apache2.conf").write_text(config)
        trees.append(tmp_path / name)
    expected = _apache(trees[1])  # every path is relative: nothing to map
    assert expected[0] == "accepted"
    assert _loader(trees[0]) == expected


@pytest.mark.parametrize(
    "line", ["IncludeOptional s", "Include s/*", "IncludeOptional s/b.sock", "Include s/f.conf"]
)
def test_a_socket_or_fifo_included_is_refused_through_the_snapshot_too(
    tmp_path: Path, line: str
) -> None:
    """httpd refuses to read a node that is no regular file (/dev/null
    aside). The module recorded one as present, the controller rebuilt it as
    an empty file, and the snapshot's audit accepted what the host's refuses."""
    root = tmp_path / "tcpaudit"
    (root / "etc/apache2/s").mkdir(parents=True)
    (root / "etc/apache2/s/a.conf").write_text("ServerAdmin a@example.org\n")
    os.mkfifo(root / "etc/apache2/s/f.conf")
    listener = socket.socket(socket.AF_UNIX)
    try:
        listener.bind(str(root / "etc/apache2/s/b.sock"))
        (root / "etc/apache2/apache2.conf").write_text("\n".join([*BASE, line, ""]))
        expected = _loader(root)
        assert expected == ("refused", ("etc/apache2/apache2.conf", len(BASE) + 1))
        assert _through_snapshot(root) == expected
    finally:
        listener.close()
