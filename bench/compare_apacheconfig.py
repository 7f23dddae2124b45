"""Compare tcpaudit's loader with the PyPI package ``apacheconfig`` (speed and fidelity).

``apacheconfig`` (0.3.x) is the common pure-Python Apache-style config parser.
This script loads the same trees with both and prints:

- speed: median wall time in process on the Debian 12 stock tree and on
  generated trees of 1,000 and 10,000 virtual hosts (bench/shapes.py's
  ``sites`` shape);
- fidelity: what each one reports for facts httpd itself decides: the line of
  a directive, the order of directives of different names, which
  ``<IfModule>`` blocks apply, a ``#`` inside an argument (Debian's
  autoindex.conf ``IndexIgnore .??* *~ *# HEADER* ...``) and ``${VAR}``.

``apacheconfig`` is not a tcpaudit dependency: ``pip install apacheconfig``
to run this. Run: python bench/compare_apacheconfig.py [--repeat N] [--vhosts 1000,10000]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from apacheconfig import make_loader  # type: ignore[import-not-found]
from shapes import generate

from tcpaudit.apache import load_apache

CORPUS = Path(__file__).resolve().parent.parent / "tests" / "corpus"
DEBIAN = CORPUS / "debian-12-apache2.4"
# The options that make apacheconfig follow Include/IncludeOptional like httpd.
OPTIONS = {
    "useapacheinclude": True,
    "includerelative": True,
    "includedirectories": True,
    "includeglob": True,
    "includeagain": True,
}


def apacheconfig_load(root: Path) -> dict[str, Any]:
    conf = root / "etc/apache2"
    with make_loader(configroot=str(conf), programpath=str(conf), **OPTIONS) as loader:
        loaded: dict[str, Any] = loader.load(str(conf / "apache2.conf"))
    return loaded


def median_ms(action: Callable[[], object], repeat: int) -> float:
    action()
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def _find(node: object, key: str) -> list[object]:
    """Every value of ``key`` anywhere in apacheconfig's nested dicts and lists."""
    if isinstance(node, dict):
        found = [node[key]] if key in node else []
        return found + [value for child in node.values() for value in _find(child, key)]
    if isinstance(node, list):
        return [value for child in node for value in _find(child, key)]
    return []


# Two MPM blocks, one loaded MPM: httpd applies only the event block.
MPM_BLOCKS = """LoadModule mpm_event_module /usr/lib/apache2/modules/mod_mpm_event.so
<IfModule mpm_prefork_module>
    MaxRequestWorkers 150
</IfModule>
<IfModule mpm_event_module>
    MaxRequestWorkers 400
</IfModule>
"""


def fidelity() -> list[tuple[str, str, str]]:
    """(fact, apacheconfig, tcpaudit) rows, on the Debian stock tree and a tiny one."""
    theirs = apacheconfig_load(DEBIAN)
    ours = load_apache(root=DEBIAN)
    assert ours is not None
    tree = [d for top in ours.directives for d in top.walk()]
    index_ignore = next(d for d in tree if d.key == "indexignore")
    error_log = next(d for d in tree if d.key == "errorlog")
    timeout = ours.settings["Timeout"]
    with tempfile.TemporaryDirectory() as work:
        root = Path(work)
        (root / "etc/apache2").mkdir(parents=True)
        (root / "etc/apache2/apache2.conf").write_text(MPM_BLOCKS)
        their_workers = _find(apacheconfig_load(root), "MaxRequestWorkers")
        our_workers = load_apache(root=root)
        assert our_workers is not None
        workers = our_workers.settings["MaxRequestWorkers"]
    return [
        ("line of `Timeout`", "none (plain dicts)", f"{timeout.file}:{timeout.line}"),
        (
            "order of directives",
            f"grouped by name ({len(theirs)} keys)",
            f"file order, {len(tree)} directives",
        ),
        (
            "MaxRequestWorkers, prefork and event blocks, event loaded",
            f"both blocks kept: {their_workers}",
            f"{workers.value} (line {workers.line})",
        ),
        (
            "IndexIgnore (Debian autoindex.conf)",
            repr(theirs.get("IndexIgnore")),
            repr(" ".join(index_ignore.args)),
        ),
        (
            "ErrorLog ${APACHE_LOG_DIR}/error.log",
            repr(theirs.get("ErrorLog")),
            repr(error_log.args[0]),
        ),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--vhosts", default="1000,10000", help="sizes of the generated trees")
    options = parser.parse_args()
    print("| tree | apacheconfig ms | tcpaudit ms | apacheconfig / tcpaudit |")
    print("|---|---|---|---|")
    debian_theirs = median_ms(lambda: apacheconfig_load(DEBIAN), options.repeat)
    debian_ours = median_ms(lambda: load_apache(root=DEBIAN), options.repeat)
    print(
        f"| Debian 12 stock (37 files) | {debian_theirs:.1f} | {debian_ours:.1f} "
        f"| {debian_theirs / debian_ours:.0f}x |"
    )
    for vhosts in (int(part) for part in options.vhosts.split(",")):
        with tempfile.TemporaryDirectory() as work:
            root = Path(work)
            generate("sites", root, vhosts)
            repeat = max(3, options.repeat * 1000 // vhosts // 5)
            theirs = median_ms(partial(apacheconfig_load, root), repeat)
            ours = median_ms(partial(load_apache, root=root), repeat)
            print(
                f"| generated, {vhosts:,} vhosts (101 files) | {theirs:.1f} | {ours:.1f} "
                f"| {theirs / ours:.1f}x |",
                flush=True,
            )
    print()
    print("| fact | apacheconfig | tcpaudit |")
    print("|---|---|---|")
    for fact, theirs_text, ours_text in fidelity():
        print(f"| {fact} | {theirs_text} | {ours_text} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
