"""Build tcpaudit's directive -> module table from the installed apache2.

``apache2 -L`` lists every directive of the modules loaded, each with the
source file of its module (``KeepAliveTimeout (http_core.c)``). This script
loads every module in /usr/lib/apache2/modules once per MPM (the MPMs cannot be
loaded together and each owns a few directives), maps each source file to its
module identifier with ``apache2 -D DUMP_MODULES``, and prints the table that
src/tcpaudit/apache/directives-2.4.tsv ships. ``test_apache_directive_table.py``
checks that the shipped table still matches the installed apache2.

The table also says how many words each directive takes, which ``-L`` does not
print: httpd checks the count before it calls the directive's handler
(invoke_cmd in server/config.c) with a message that names the kind
("ServerName takes one argument", "AddType requires at least two arguments").
Each directive is given no words, then, to confirm, one word too many (or
"maybe" for On/Off flags, one word for NO_ARGS): the kind is recorded only when
httpd gives that message both times, so that a handler's own message in the
same words is not taken for the core's check.

The modules themselves (``apache2 -D DUMP_MODULES`` with every module
loaded) ship as ``modules-2.4.txt``: a directive no module of that list
registers, in a server that loads only modules of that list, is one httpd
refuses ("Invalid command").

Run: ``python tests/apache/apache_directive_table.py > src/tcpaudit/apache/directives-2.4.tsv``,
``python tests/apache/apache_directive_table.py --modules > src/tcpaudit/apache/modules-2.4.txt``
and ``python tests/apache/apache_directive_table.py --overrides > src/tcpaudit/apache/overrides-2.4.tsv``
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
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


# invoke_cmd's count messages -> the kind of the directive, and the words that
# must draw the same message again (one too many, or a bad flag).
ARITY_MESSAGES = {
    "takes no arguments": ("NO_ARGS", None),
    "takes one argument": ("TAKE1", "a b"),
    "takes two arguments": ("TAKE2", "a b c"),
    "takes three arguments": ("TAKE3", "a b c d"),
    "takes 1-2 arguments": ("TAKE12", "a b c"),
    "takes two or three arguments": ("TAKE23", "a b c d"),
    "takes one, two or three arguments": ("TAKE123", "a b c d"),
    "takes one or three arguments": ("TAKE13", "a b"),
    "requires at least one argument": ("ITERATE", None),
    # mod_filter's AddOutputFilterByType (TAKE_ARGV) gives this message itself;
    # invoke_cmd's ITERATE2 refuses an empty first word with it too.
    "requires at least two arguments": ("ITERATE2", '"" x'),
    "must be On or Off": ("FLAG", "maybe"),
}
_MESSAGE = re.compile(
    # Directives run while reading (Define, ServerRoot...) fail with the location first.
    r"^(?:AH\d+: )?(?:\S+: Syntax error on line \d+ of .*?: )?(?P<name>\S+) (?P<kind>"
    + "|".join(map(re.escape, ARITY_MESSAGES))
    + r")(?:,|$)"
)


def _probe_error(workdir: Path, order: list[str], name: str, words: str, where: str) -> str:
    """apache2 -t's last stderr line for ``name words`` in a context it allows."""
    line = f"{name} {words}".rstrip()
    body = f"<Directory />\n{line}\n</Directory>\n" if where == "inside" else f"{line}\n"
    with tempfile.TemporaryDirectory(dir=workdir) as probe_dir:
        conf = Path(probe_dir) / "probe.conf"
        loads = "".join(f"LoadModule {_identifier(n)} {MODULE_DIR / n}\n" for n in order)
        conf.write_text(f"{loads}ErrorLog {probe_dir}/error.log\n{body}")
        done = subprocess.run(
            [APACHE2, "-d", probe_dir, "-f", str(conf), "-t"],
            capture_output=True,
            text=True,
            check=False,
        )
    lines = done.stderr.strip().splitlines()
    return "" if done.returncode == 0 or not lines else lines[-1]


def _kind_in(message: str, name: str) -> str | None:
    match = _MESSAGE.match(message)
    if match is None or match["name"] != name:
        return None
    return match["kind"]


def probe_arity(workdir: Path, order: list[str], name: str, where: str) -> str:
    """The kind of word count httpd checks for ``name`` ("-" when it checks none)."""
    kind = _kind_in(_probe_error(workdir, order, name, "", where), name)
    if kind is None:
        # Accepted bare, or refused by the handler: NO_ARGS if one word is refused.
        again = _kind_in(_probe_error(workdir, order, name, "a", where), name)
        return "NO_ARGS" if again == "takes no arguments" else "-"
    arity, confirm = ARITY_MESSAGES[kind]
    if arity == "NO_ARGS":
        return "-"  # no words refused as "takes no arguments": not the core's check
    if (
        confirm is not None
        and _kind_in(_probe_error(workdir, order, name, confirm, where), name) != kind
    ):
        return "-"
    return arity


def directive_table(probe: bool = True) -> dict[str, tuple[str, set[str], str, str]]:
    """Return lower-cased name -> (canonical name, owning module identifiers, where
    allowed, word count kind).

    Where: ``anywhere``, ``outside`` (server and <VirtualHost> only) or
    ``inside`` (<Directory>, <Location>, <Files>, <If> only). Kind: see
    ARITY_MESSAGES; ``-`` for sections and directives whose handlers count
    their own words; ``?`` when ``probe`` is false.
    """
    table: dict[str, tuple[str, set[str], str, str]] = {}
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
            new: list[str] = []
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
                if name.lower() not in table:
                    new.append(name)
                    table[name.lower()] = (name, set(), _where(allowed), "?")
                table[name.lower()][1].add(by_source[source])
            if probe:
                kinds = probe_kinds(workdir, order, [(n, table[n.lower()][2]) for n in new])
                for name, kind in kinds.items():
                    canonical, owners, where, _ = table[name.lower()]
                    table[name.lower()] = (canonical, owners, where, kind)
    return table


def probe_kinds(workdir: Path, order: list[str], names: list[tuple[str, str]]) -> dict[str, str]:
    """probe_arity for each (name, where); sections take their words raw."""

    def one(item: tuple[str, str]) -> str:
        name, where = item
        return "-" if name.startswith("<") else probe_arity(workdir, order, name, where)

    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(zip([name for name, _ in names], pool.map(one, names), strict=True))


def render(table: dict[str, tuple[str, set[str], str, str]]) -> str:
    version = subprocess.run([APACHE2, "-v"], capture_output=True, text=True, check=True)
    first = version.stdout.splitlines()[0].removeprefix("Server version: ")
    lines = [
        f"# Directive, owning module(s), where allowed, words checked; from `apache2 -L` of {first}",
        "# with every module in /usr/lib/apache2/modules loaded, once per MPM, and probes of",
        "# `apache2 -t` for the word counts.",
        "# Generated by tests/apache/apache_directive_table.py; do not edit by hand.",
    ]
    for key in sorted(table):
        canonical, owners, where, kind = table[key]
        lines.append(f"{canonical}\t{','.join(sorted(owners))}\t{where}\t{kind}")
    return "\n".join(lines) + "\n"


def module_identifiers() -> list[str]:
    """Every module identifier of this apache2 (each MPM's run), sorted."""
    found: set[str] = set()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        for mpm in _MPMS:
            order = _load_order(workdir, mpm)
            modules = _run(workdir, order, "-t", "-D", "DUMP_MODULES")
            if modules.returncode != 0:
                raise RuntimeError(modules.stderr)
            found.update(
                m.group(1) for m in map(_MODULE_LINE.match, modules.stdout.splitlines()) if m
            )
    return sorted(found)


def render_modules(identifiers: list[str]) -> str:
    version = subprocess.run([APACHE2, "-v"], capture_output=True, text=True, check=True)
    first = version.stdout.splitlines()[0].removeprefix("Server version: ")
    header = [
        f"# Module identifiers of {first}: `apache2 -D DUMP_MODULES` with every module in",
        "# /usr/lib/apache2/modules loaded, once per MPM. Every directive these register is in",
        "# directives-2.4.tsv. Generated by tests/apache/apache_directive_table.py --modules.",
    ]
    return "\n".join([*header, *identifiers]) + "\n"


_OVERRIDE_CLASSES = ("AuthConfig", "Limit", "Options", "FileInfo", "Indexes")


def _override_classes(text: str) -> str:
    """The AllowOverride classes of show_overrides' "when AllowOverride ..." line:
    ``All`` (OR_ALL), the classes joined by ',' or ``-`` for none."""
    text = text.strip()
    if not text.startswith("when AllowOverride"):
        return "-"
    if text.endswith("isn't None"):
        return "All"
    listed = text.removeprefix("when AllowOverride includes ").split(" or ")
    if not set(listed) <= set(_OVERRIDE_CLASSES):
        raise RuntimeError(f"unexpected AllowOverride text: {text}")
    return ",".join(listed)


def override_table() -> dict[str, tuple[str, str]]:
    """Lower-cased name -> (canonical name, the AllowOverride classes of its
    req_override), from ``apache2 -L`` with every module loaded, once per MPM.

    httpd walks a Require section's contents with only OR_AUTHCFG allowed
    (add_authz_section): a directive without AuthConfig is "not allowed in
    <RequireAll> context" there.
    """
    table: dict[str, tuple[str, str]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        for mpm in _MPMS:
            listed = _run(workdir, _load_order(workdir, mpm), "-L")
            if listed.returncode != 0:
                raise RuntimeError(listed.stderr)
            lines = listed.stdout.splitlines()
            for index, line in enumerate(lines):
                match = _DIRECTIVE_LINE.match(line)
                if not match:
                    continue
                at = next(
                    number
                    for number in range(index + 1, len(lines))
                    if lines[number].strip().startswith("Allowed in")
                )
                following = lines[at + 1] if at + 1 < len(lines) else ""
                table[match.group(1).lower()] = (match.group(1), _override_classes(following))
    return table


def render_overrides(table: dict[str, tuple[str, str]]) -> str:
    version = subprocess.run([APACHE2, "-v"], capture_output=True, text=True, check=True)
    first = version.stdout.splitlines()[0].removeprefix("Server version: ")
    lines = [
        "# Directive, the AllowOverride classes of its req_override (All: OR_ALL; - none),",
        f"# from `apache2 -L` of {first} with every module loaded, once per MPM.",
        "# Generated by tests/apache/apache_directive_table.py --overrides; do not edit by hand.",
    ]
    lines += [f"{canonical}\t{classes}" for canonical, classes in sorted(table.values(),
              key=lambda row: row[0].lower())]  # fmt: skip
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    if sys.argv[1:] == ["--modules"]:
        sys.stdout.write(render_modules(module_identifiers()))
    elif sys.argv[1:] == ["--overrides"]:
        sys.stdout.write(render_overrides(override_table()))
    else:
        sys.stdout.write(render(directive_table()))
