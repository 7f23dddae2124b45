"""Build tcpaudit's directive -> module table from the installed apache2.

``apache2 -L`` lists every directive of the modules loaded, each with the
source file of its module (``KeepAliveTimeout (http_core.c)``). This script
loads every module in /usr/lib/apache2/modules once per MPM (the MPMs cannot be
loaded together and each owns a few directives), maps each source file to its
module identifier with ``apache2 -D DUMP_MODULES``, and prints the table that
src/tcpaudit/apache/directives-2.4.tsv ships. ``test_apache_directive_table.py``
checks that the shipped table still matches the installed apache2.

Run: ``python tests/apache/apache_directive_table.py > src/tcpaudit/apache/directives-2.4.tsv``
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from pathlib import Path

from tcpaudit.apache.modules import module_source_name

MODULE_DIR = Path("/usr/lib/apache2/modules")
APACHE2 = "apache2"
_MPMS = ("mpm_event", "mpm_prefork", "mpm_worker")
_DIRECTIVE_LINE = re.compile(r"^(\S+) \((\S+\.c)\)$")
_MODULE_LINE = re.compile(r"^ (\w+) \((static|shared)\)$")
_CANNOT_LOAD = re.compile(r"Cannot load (\S+) into server")


def _identifier(so_name: str) -> str:
    # Every Debian .load file follows mod_x.so -> x_module (mods-available/*.load).
    return so_name.removeprefix("mod_").removesuffix(".so") + "_module"


def _run(workdir: Path, order: list[str], *flags: str) -> subprocess.CompletedProcess[str]:
    conf = workdir / "all.conf"
    lines = [f"ErrorLog {workdir}/error.log\n"]
    lines += [f"LoadModule {_identifier(name)} {MODULE_DIR / name}\n" for name in order]
    conf.write_text("".join(lines))
    return subprocess.run(
        [APACHE2, "-d", str(workdir), "-f", str(conf), *flags],
        capture_output=True,
        text=True,
        check=False,
    )


def _load_order(workdir: Path, mpm: str) -> list[str]:
    """All modules with one MPM, reordered until every module's dependencies load first."""
    names = sorted(
        path.name for path in MODULE_DIR.glob("mod_*.so") if not path.name.startswith("mod_mpm_")
    )
    # mod_proxy before mod_proxy_http, mod_dav before mod_dav_fs: fewer underscores first.
    names.sort(key=lambda name: (name.count("_"), name))
    order = [f"mod_{mpm}.so", *names]
    for _ in range(len(order)):
        result = _run(workdir, order, "-t")
        failed = _CANNOT_LOAD.search(result.stderr)
        if result.returncode == 0 or failed is None:
            return order
        moved = Path(failed.group(1)).name
        order.remove(moved)
        order.append(moved)
    raise RuntimeError(f"cannot find a load order for the modules with {mpm}")


def _where(allowed: str) -> str:
    """The context class of ``show_overrides`` (server/config.c) text."""
    if allowed.startswith("anywhere"):
        return "anywhere"
    if allowed.startswith("only outside"):
        return "outside"
    if allowed.startswith("only inside"):
        return "inside"
    raise RuntimeError(f"unexpected 'Allowed in' text: {allowed}")


def directive_table() -> dict[str, tuple[str, set[str], str]]:
    """Return lower-cased name -> (canonical name, owning module identifiers, where allowed).

    Where: ``anywhere``, ``outside`` (server and <VirtualHost> only) or
    ``inside`` (<Directory>, <Location>, <Files>, <If> only).
    """
    table: dict[str, tuple[str, set[str], str]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        for mpm in _MPMS:
            order = _load_order(workdir, mpm)
            listed = _run(workdir, order, "-L")
            modules = _run(workdir, order, "-t", "-D", "DUMP_MODULES")
            if listed.returncode != 0 or modules.returncode != 0:
                raise RuntimeError(listed.stderr + modules.stderr)
            identifiers = [
                m.group(1) for m in map(_MODULE_LINE.match, modules.stdout.splitlines()) if m
            ]
            by_source = {module_source_name(identifier): identifier for identifier in identifiers}
            lines = listed.stdout.splitlines()
            for index, line in enumerate(lines):
                match = _DIRECTIVE_LINE.match(line)
                if not match:
                    continue
                name, source = match.groups()
                if source not in by_source:
                    raise RuntimeError(f"no module identifier for {source} ({name})")
                allowed = next(
                    text.strip().removeprefix("Allowed in *.conf ")
                    for text in lines[index + 1 :]
                    if text.strip().startswith("Allowed in")
                )
                entry = table.setdefault(name.lower(), (name, set(), _where(allowed)))
                entry[1].add(by_source[source])
    return table


def render(table: dict[str, tuple[str, set[str], str]]) -> str:
    version = subprocess.run([APACHE2, "-v"], capture_output=True, text=True, check=True)
    first = version.stdout.splitlines()[0].removeprefix("Server version: ")
    lines = [
        f"# Directive, owning module(s), where allowed; from `apache2 -L` of {first}",
        "# with every module in /usr/lib/apache2/modules loaded, once per MPM.",
        "# Generated by tests/apache/apache_directive_table.py; do not edit by hand.",
    ]
    for key in sorted(table):
        canonical, owners, where = table[key]
        lines.append(f"{canonical}\t{','.join(sorted(owners))}\t{where}")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render(directive_table()))
