"""Count the instructions `tcpaudit facts` executes, a figure the machine's load does not move.

Wall and CPU times on a shared machine move with what else runs (the figures
of bench/apache_load.py were taken at load averages of 4 to 7 on 2 cores);
the number of instructions a run executes does not. This script runs
``tcpaudit facts --root TREE`` under ``valgrind --tool=callgrind`` and prints
its instruction count (user space: system calls and page faults are not
counted), for the working tree and, with ``--baseline SRC``, for another
checkout's ``src`` (``git archive REV src rules | tar -x -C DIR``), in turn on
the same trees, with the interpreter start and the imports measured alone.

Run: python bench/instructions.py TREE [TREE...] [--baseline DIR/src] [--apache2] [--apache-build B]
     (--apache2 also counts ``apache2 -t`` on trees of bench/shapes.py's Debian layout)
Needs valgrind; a run takes about 50 times as long as without it.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

_COLLECTED = re.compile(r"Collected : (\d+)")
_MAIN = "import sys; from tcpaudit.cli import main; sys.exit(main())"


def instructions(command: list[str], env: dict[str, str]) -> int:
    """Instructions ``command`` executes in user space (callgrind's Ir)."""
    with tempfile.TemporaryDirectory() as work:
        done = subprocess.run(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={work}/out", *command],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
    match = _COLLECTED.search(done.stderr)
    if done.returncode != 0 or match is None:
        raise RuntimeError(done.stderr[-2000:])
    return int(match.group(1))


def python_env(source: str | None, cache: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(cache)  # as installed: bytecode cached
    # Under callgrind a load runs fifty times slower than it does: no CPU bound.
    env["TCPAUDIT_LOAD_CPU_SECONDS"] = "0"
    if source:
        env["PYTHONPATH"] = source
    return env


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("trees", nargs="+", type=Path)
    parser.add_argument("--baseline", help="another checkout's src directory")
    parser.add_argument("--apache2", action="store_true", help="count apache2 -t too")
    parser.add_argument("--apache-build", help="passed to tcpaudit facts (per-file shape: debian)")
    options = parser.parse_args()
    if shutil.which("valgrind") is None:
        print("valgrind is missing")
        return 1
    with tempfile.TemporaryDirectory() as cache:
        sources = {
            "working tree": None,
            **({"baseline": options.baseline} if options.baseline else {}),
        }
        print("| run | " + " | ".join(sources) + " |")
        print("|---" * (len(sources) + 1) + "|")
        envs = {name: python_env(src, Path(cache) / name) for name, src in sources.items()}
        rows: list[tuple[str, list[str]]] = [
            ("python -c pass", [sys.executable, "-c", "pass"]),
            ("imports of `tcpaudit facts`", [sys.executable, "-c", "import tcpaudit.cli, tcpaudit.facts"]),
        ]  # fmt: skip
        for tree in options.trees:
            output = Path(cache) / "facts.json"
            extra = ["--apache-build", options.apache_build] if options.apache_build else []
            rows.append((f"`tcpaudit facts` {tree.name}",
                         [sys.executable, "-c", _MAIN, "facts", "--root", str(tree), "-o", str(output), *extra]))  # fmt: skip
        for label, command in rows:
            counts = []
            for name in sources:
                subprocess.run(
                    command, env=envs[name], capture_output=True, check=False
                )  # bytecode
                counts.append(f"{instructions(command, envs[name]) / 1e6:,.0f} M")
            print(f"| {label} | " + " | ".join(counts) + " |", flush=True)
        if options.apache2:
            for tree in options.trees:
                conf = tree / "etc/apache2"
                env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C",
                       "APACHE_LOG_DIR": "/var/log/apache2", "APACHE_RUN_USER": "www-data",
                       "APACHE_RUN_GROUP": "www-data"}  # fmt: skip
                command = ["apache2", "-d", str(conf), "-f", str(conf / "apache2.conf"), "-t"]
                print(f"| `apache2 -t` {tree.name} | {instructions(command, env) / 1e6:,.0f} M |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
