"""Probe where each directive's own handler refuses to run: the contexts table.

``apache2 -L``'s "Allowed in" gives invoke_cmd's test (server config and
<VirtualHost> only, or directories only). Many handlers then refuse more
places themselves with ``ap_check_cmd_context`` (server/core.c): ``Listen``
"cannot occur within <VirtualHost> section", ``Alias`` "cannot occur within
<Directory> section", ``MaxRequestWorkers`` not in a <VirtualHost>... The
messages name the place, so each directive is put in each place with a
plausible word count (its kind from directives-2.4.tsv), with two different
argument sets, and a place is recorded when apache2 refuses the directive
there with that place's message and not at the top level:

- ``V`` <VirtualHost>;  ``L`` <Limit>/<LimitExcept>;
- ``C`` any directory context ("cannot occur within directory context");
- ``D`` <Directory>/<DirectoryMatch>; ``O`` <Location>/<LocationMatch>;
- ``F`` <Files>/<FilesMatch>/<If>/<ElseIf>/<Else>; ``P`` <Proxy>/<ProxyMatch>.

Each probe loads only the MPM and the directive's module when they load
alone (most do), which keeps the whole table to a minute on two cores.

Run: ``python tests/apache/apache_context_table.py > src/tcpaudit/apache/contexts-2.4.tsv``
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from importlib import resources
from pathlib import Path

MODULE_DIR = Path("/usr/lib/apache2/modules")
APACHE2 = "apache2"
# The place of each probe: (flag, opening lines, closing lines, the message's place).
PLACES = (
    ("V", ["<VirtualHost *:80>"], ["</VirtualHost>"], "<VirtualHost> section"),
    ("L", ["<Directory />", "<Limit GET>"], ["</Limit>", "</Directory>"],
     "<Limit> or <LimitExcept> section"),
    ("D", ["<Directory />"], ["</Directory>"], "<Directory> section"),
    ("O", ["<Location />"], ["</Location>"], "<Location> section"),
    ("F", ["<Files x>"], ["</Files>"], "<Files> section"),
    ("P", ["<Proxy http://backend.invalid/>"], ["</Proxy>"], "<Proxy> section"),
)  # fmt: skip
_ARGUMENTS = {
    "NO_ARGS": ("", ""), "TAKE1": ("zzbogus", "1"), "TAKE2": ("zzbogus zzbogus", "/a /b"),
    "TAKE3": ("a b c", "1 2 3"), "TAKE12": ("zzbogus", "/a /b"), "TAKE23": ("a b", "1 2 3"),
    "TAKE123": ("zzbogus", "/a /b"), "TAKE13": ("zzbogus", "1 2 3"), "ITERATE": ("zzbogus", "1"),
    "ITERATE2": ("a b", "1 2"), "FLAG": ("On", "Off"), "-": ("zzbogus", "1"),
}  # fmt: skip


@cache
def shipped_table() -> dict[str, tuple[str, frozenset[str], str, str]]:
    """directives-2.4.tsv as lower-cased name -> (name, owners, where, kind)."""
    text = resources.files("tcpaudit.apache").joinpath("directives-2.4.tsv").read_text()
    table = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, owners, where, kind = line.split("\t")
            table[name.lower()] = (name, frozenset(owners.split(",")), where, kind)
    return table


def _load_line(identifier: str) -> str:
    return f"LoadModule {identifier} {MODULE_DIR / ('mod_' + identifier[:-7] + '.so')}\n"


class Prober:
    """Runs apache2 -t on small configurations in a private directory."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self._loads: dict[frozenset[str], str] = {}

    def run(self, loads: str, body: str) -> str:
        """apache2 -t's verdict: "OK", or its last stderr line."""
        with tempfile.TemporaryDirectory(dir=self.workdir) as probe:
            conf = Path(probe) / "probe.conf"
            conf.write_text(f"{loads}ErrorLog {probe}/error.log\n{body}")
            done = subprocess.run(
                [APACHE2, "-d", probe, "-f", str(conf), "-t"],
                capture_output=True, text=True, check=False,
            )  # fmt: skip
        lines = done.stderr.strip().splitlines()
        return "OK" if done.returncode == 0 else (lines[-1] if lines else "?")

    def loads_for(self, owners: frozenset[str]) -> str:
        """LoadModule lines for an owner of the directive (with an MPM, and mod_proxy
        for <Proxy>), falling back to every module when it does not load alone."""
        if owners in self._loads:
            return self._loads[owners]
        static = {"core_module", "so_module", "watchdog_module", "http_module",
                  "log_config_module", "logio_module", "version_module", "unixd_module"}  # fmt: skip
        owner = sorted(owners - static)[:1]
        mpm = [name for name in owner if name.startswith("mpm_")] or ["mpm_event_module"]
        wanted = [*mpm, "proxy_module", *(name for name in owner if not name.startswith("mpm_"))]
        lines = "".join(_load_line(name) for name in dict.fromkeys(wanted))
        if self.run(lines, "") != "OK":
            lines = "".join(_load_line(name) for name in all_modules(mpm[0]))
        self._loads[owners] = lines
        return lines


@cache
def all_modules(mpm: str) -> tuple[str, ...]:
    """Every module with ``mpm``, in an order in which they load."""
    sys.path.insert(0, str(Path(__file__).parent))
    from apache_directive_table import _identifier, _load_order

    with tempfile.TemporaryDirectory() as tmp:
        order = _load_order(Path(tmp), mpm.removesuffix("_module"))
    return tuple(_identifier(name) for name in order)


def probe_contexts(prober: Prober, key: str) -> list[tuple[str, str]]:
    """``(word count, flags)`` rows: the PLACES where the handler of ``key`` refuses to run.

    A row's count is ``*`` when both argument sets gave the same flags, else
    the number of words of that set (``Alias /a`` and ``Alias /a /b`` differ).
    """
    name, owners, where, kind = shipped_table()[key]
    loads = prober.loads_for(owners)
    rows: list[tuple[str, str]] = []
    for arguments in _ARGUMENTS.get(kind, _ARGUMENTS["-"]):
        line = f"{name} {arguments}".rstrip()
        top = prober.run(loads, line + "\n") if where != "inside" else ""
        flags = set()
        for flag, opening, closing, place in PLACES:
            if (flag == "V" and where == "inside") or (flag != "V" and where == "outside"):
                continue
            body = "\n".join([*opening, line, *closing]) + "\n"
            verdict = prober.run(loads, body)
            if verdict == top:
                continue
            if verdict.endswith("cannot occur within directory context"):
                flags.add("C")
            elif verdict.endswith(f"cannot occur within {place}"):
                flags.add(flag)
        rows.append((str(len(arguments.split())), "".join(sorted(flags)) or "-"))
    if rows[0][1] == rows[1][1]:
        return [("*", rows[0][1])]
    return rows


def context_table(keys: list[str] | None = None) -> dict[str, list[tuple[str, str]]]:
    """lower-cased name -> rows, for ``keys`` (default: every non-section directive)."""
    chosen = keys if keys is not None else [k for k in shipped_table() if not k.startswith("<")]
    with tempfile.TemporaryDirectory() as tmp:
        prober = Prober(Path(tmp))
        with ThreadPoolExecutor(max_workers=3) as pool:
            rows = list(pool.map(lambda key: probe_contexts(prober, key), chosen))
    return dict(zip(chosen, rows, strict=True))


def render(table: dict[str, list[tuple[str, str]]]) -> str:
    version = subprocess.run([APACHE2, "-v"], capture_output=True, text=True, check=True)
    first = version.stdout.splitlines()[0].removeprefix("Server version: ")
    lines = [
        "# Directive, word count (* any), places its handler refuses (ap_check_cmd_context),",
        f"# probed on {first}: V <VirtualHost>, L <Limit>, C any directory context,",
        "# D <Directory>, O <Location>, F <Files> and <If>, P <Proxy>.",
        "# Generated by tests/apache/apache_context_table.py; do not edit by hand.",
    ]
    names = shipped_table()
    for key, rows in sorted(table.items()):
        if any(flags != "-" for _, flags in rows):
            lines += [f"{names[key][0]}\t{count}\t{flags}" for count, flags in rows]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render(context_table()))
