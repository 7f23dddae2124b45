"""RootFS.resolve_below goes on from a resolved directory exactly as resolve walks from the root.

A wildcard include lists a directory once and resolves each link in it from
there (Debian's mods-enabled). The answer, and the link count that ends a
loop, must be the full walk's.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable
from pathlib import Path

import pytest

import tcpaudit
from tcpaudit.rootfs import LinkLoopError, RootFS


def outcome(call: Callable[..., Path], *args: object) -> str:
    try:
        return str(call(*args))
    except LinkLoopError as exc:
        return f"loop {exc.file}"


@pytest.mark.parametrize("seed", range(6))
def test_resolve_below_equals_the_walk_from_the_root(tmp_path: Path, seed: int) -> None:
    chooser = random.Random(seed)
    root = tmp_path / "root"
    (root / "etc/real/dir").mkdir(parents=True)
    (root / "etc/real/dir/file.conf").write_text("Timeout 1\n")
    (root / "srv").mkdir()
    # Directory links chained a random number of times, absolute and relative.
    previous = "/etc/real/dir"
    for index in range(chooser.randint(0, 38)):
        link = root / f"srv/d{index}"
        target = (
            previous
            if chooser.random() < 0.5
            else os.path.relpath(root / previous.lstrip("/"), root / "srv")
        )
        link.symlink_to(target)
        previous = f"/srv/d{index}"
    # Entries: files, links to files (chains of up to 6), a dangling link, a link up.
    entries = root / "etc/real/dir"
    (entries / "up").symlink_to("../../real/dir/file.conf")
    (entries / "dangling").symlink_to("/nowhere/x.conf")
    target = "file.conf"
    for index in range(chooser.randint(1, 6)):
        (entries / f"chain{index}").symlink_to(target)
        target = f"chain{index}"
    fs = RootFS(root)
    real_dir, links = fs.resolve_counting(previous)
    for name in sorted(os.listdir(real_dir)):
        tree = f"{previous}/{name}"
        below = outcome(fs.resolve_below, str(real_dir), name, links, tree)
        assert below == outcome(fs.resolve, tree), tree


def test_an_include_through_many_links_ends_as_httpd_does(tmp_path: Path) -> None:
    # 38 directory links, then entries that are 1 and 3 links: the first stays
    # within 40, the second passes it; both walks must say so.
    root = tmp_path / "root"
    conf = root / "usr/local/apache2/conf"
    (conf / "real").mkdir(parents=True)
    (conf / "real/a.conf").write_text("Timeout 7\n")
    (conf / "real/one.conf").symlink_to("a.conf")
    previous = "real"
    for index in range(38):
        (conf / f"d{index}").symlink_to(previous)
        previous = f"d{index}"
    (conf / "httpd.conf").write_text(
        f"LoadModule mpm_event_module modules/mod_mpm_event.so\nInclude conf/{previous}/one*.conf\n"
    )
    config = tcpaudit.load_apache(root=root)
    assert config is not None and config.settings["Timeout"].value == 7
    (conf / "real/three3.conf").symlink_to("three2.conf")
    (conf / "real/three2.conf").symlink_to("three1.conf")
    (conf / "real/three1.conf").symlink_to("a.conf")
    (conf / "httpd.conf").write_text(
        "LoadModule mpm_event_module modules/mod_mpm_event.so\n"
        f"Include conf/{previous}/three3*.conf\n"
    )
    with pytest.raises(tcpaudit.ApacheConfigError, match="symbolic links"):
        tcpaudit.load_apache(root=root)


def test_a_path_through_a_file_resolves_to_one_the_kernel_refuses(tmp_path: Path) -> None:
    """resolve() never raises for a name that is no directory: callers (fix's
    plan, the sysctl reader) take its result to the kernel, which says ENOTDIR.
    Raising it made `tcpaudit fix` end in a traceback when etc/sysctl.d was a
    file (the fuzz run, seed 16)."""
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/sysctl.d").write_text("not a directory\n")
    fs = RootFS(tmp_path)
    for name in ("/etc/sysctl.d/99-x.conf", "/etc/sysctl.d/", "/etc/sysctl.d/.",
                 "/etc/sysctl.d/../sysctl.d"):  # fmt: skip
        real = fs.resolve(name)
        with pytest.raises(NotADirectoryError):
            os.lstat(real)
        with pytest.raises(OSError):
            fs.read_real(real)
