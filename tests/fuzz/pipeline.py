"""What one fuzzed input goes through, in a child process, and what is checked on the way.

gather -> audit -> every renderer (table with and without colour, json,
sarif, junit, markdown, github) -> the fix planned on the files (patch,
playbook, SARIF with fixes) -> one file of the tree (a FIFO or a device
too) given to each reader of a named input (--sysctl text, --baseline,
fleet, --config, --facts, --rules-dir) -> the facts document read back and audited
again -> the JSON report read back as a baseline and by fleet -> diagnose on
trees with a socket table -> for half the inputs, the Ansible module's
snapshot of the same tree audited on the "controller", and a hostile version
of that snapshot. Checked:

- every exception is a TcpauditError whose message is one line; anything
  else is an undocumented exception (with its traceback);
- nothing outside the root is opened or listed (a spy reads the real target
  of every descriptor back from /proc/self/fd);
- no canary (plant.py) appears in any output, error, facts or snapshot;
- outputs are UTF-8, JSON outputs are JSON that pydantic-core reads, JUnit is
  XML, the terminal formats carry no control character but their own colours;
- the facts round trip and the baseline keep every finding.

The snapshot's verdict is compared with the local one; a difference is
counted, not failed (the snapshot may legitimately lack what the collector
left out).
"""

from __future__ import annotations

import builtins
import io
import json
import os
import random
import re
import sys
import tempfile
import time
import traceback
import xml.etree.ElementTree as ElementTree
from pathlib import Path
from types import ModuleType
from typing import Any

from plant import OUTSIDE_CANARY, SECRET_CANARY

import tcpaudit
from tcpaudit.diagnose import diagnose
from tcpaudit.diagnose.render import render_table
from tcpaudit.engine import load_config
from tcpaudit.engine.baseline import apply_baseline, load_baseline
from tcpaudit.engine.catalogue import bundled_rules_dir, load_catalogue
from tcpaudit.errors import TcpauditError
from tcpaudit.facts import HostFacts
from tcpaudit.fleet import load_report
from tcpaudit.remedy import plan, render_diff
from tcpaudit.remedy.playbook import render_playbook
from tcpaudit.remedy.sarif_fixes import sarif_with_file_fixes
from tcpaudit.report import FORMATS
from tcpaudit.safetext import dump_model_json
from tcpaudit.snapshot import facts_from_document, facts_from_snapshot, load_facts_document

__all__ = ["run_pipeline"]

# What tcpaudit may read outside an audited root: its own code and rules, and
# the interpreter's modules and package metadata.
_OWN = tuple(
    {
        str(Path(tcpaudit.__file__).resolve().parent),
        str(bundled_rules_dir().resolve()),
        str(Path(sys.prefix).resolve()),
        str(Path(sys.base_prefix).resolve()),
        *(str(Path(path).resolve()) for path in sys.path if path and Path(path).is_dir()),
    }
)
SNAPSHOT_SHARE = 0.5
# Loaded once (the parent's import shares it with every child): it is not under test here.
RULES = load_catalogue()
_TERMINAL_RAW = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_COLOURS = re.compile("\x1b\\[[0-9;]*m")


def _spy(record: list[str]) -> None:
    real_os_open, real_io_open = os.open, io.open
    real_listdir, real_scandir = os.listdir, os.scandir

    def target(descriptor: int) -> str:
        try:
            return os.readlink(f"/proc/self/fd/{descriptor}")
        except OSError:
            return f"<fd {descriptor}>"

    def named(path: Any) -> str:
        return target(path) if isinstance(path, int) else os.path.realpath(os.fsdecode(path))

    def spy_os_open(path: Any, *args: Any, **kwargs: Any) -> int:
        descriptor = real_os_open(path, *args, **kwargs)
        record.append(target(descriptor))
        return descriptor

    def spy_io_open(file: Any, *args: Any, **kwargs: Any) -> Any:
        stream = real_io_open(file, *args, **kwargs)
        record.append(target(stream.fileno()) if hasattr(stream, "fileno") else named(file))
        return stream

    def spy_listdir(path: Any = ".") -> list[str]:
        record.append(named(path))
        return real_listdir(path)

    def spy_scandir(path: Any = ".") -> Any:
        record.append(named(path))
        return real_scandir(path)

    os.open = spy_os_open
    io.open = spy_io_open  # type: ignore[assignment]
    builtins.open = spy_io_open  # type: ignore[assignment]
    os.listdir = spy_listdir
    os.scandir = spy_scandir  # type: ignore[assignment]


class _Run:
    def __init__(self, root: Path, work: Path) -> None:
        self.root = root
        self.work = work
        self.outputs: list[tuple[str, str]] = []
        self.problems: list[str] = []
        self.documented: list[str] = []
        self.seconds: dict[str, float] = {}
        self._started = time.perf_counter()

    def lap(self, stage: str) -> None:
        """Charge the time since the last lap to ``stage`` (one user-facing step)."""
        now = time.perf_counter()
        self.seconds[stage] = round(now - self._started, 3)
        self._started = now

    def error(self, stage: str, error: TcpauditError, counted: bool = True) -> None:
        text = str(error)
        self.outputs.append((f"{stage} error", text))
        if counted:
            self.documented.append(f"{stage}: {type(error).__name__}")
        if not text or "\n" in text:
            self.problems.append(f"{stage}: error message is not one line: {text[:200]!r}")

    def check_output(self, label: str, text: str) -> None:
        self.outputs.append((label, text))
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            self.problems.append(f"{label}: not UTF-8 (a lone surrogate)")
            return
        if label in ("json", "sarif", "facts", "diagnose json", "fix sarif"):
            try:
                json.loads(text)
            except ValueError as exc:
                self.problems.append(f"{label}: not JSON: {exc}")
        if label == "json":
            tcpaudit.Report.model_validate_json(text)
        if label == "junit":
            try:
                ElementTree.fromstring(text)
            except ElementTree.ParseError as exc:
                self.problems.append(f"junit: not XML: {exc}")
        if label in ("table", "table colour", "markdown", "github", "diagnose table"):
            raw = _TERMINAL_RAW.search(_COLOURS.sub("", text))
            if raw:
                self.problems.append(f"{label}: raw control character {raw.group()!r}")


def _fingerprints(report: tcpaudit.Report) -> list[str]:
    return sorted(finding.fingerprint for finding in report.findings)


def _local(run: _Run) -> list[str] | None:
    try:
        facts = tcpaudit.gather(run.root)
        report = tcpaudit.audit(facts, rules=RULES)
    except TcpauditError as error:
        run.error("gather", error)
        return None
    finally:
        run.lap("audit")
    for name, render in FORMATS.items():
        extra = {"rules": RULES} if name in ("sarif", "junit") else {}
        run.check_output(name, render(report, color=False, **extra))
    run.check_output("table colour", FORMATS["table"](report, color=True))
    run.lap("renderers")
    try:
        planned = plan(report.findings, run.root)
        # A patch carries a line that is not UTF-8 as its bytes (the CLI writes them raw).
        run.outputs.append(("fix diff", render_diff(planned)))
        layout = facts.apache.layout if facts.apache else None
        run.check_output("fix playbook", render_playbook(planned, host=report.host, layout=layout))
        run.check_output("fix sarif", json.dumps(sarif_with_file_fixes(report, run.root, RULES)))
    except TcpauditError as error:
        run.error("fix", error)
    run.lap("fix")
    facts_text = dump_model_json(facts)
    run.check_output("facts", facts_text)
    again = tcpaudit.audit(HostFacts.model_validate_json(facts_text), rules=RULES)
    if _fingerprints(again) != _fingerprints(report):
        run.problems.append("facts round trip changed the findings")
    run.lap("facts round trip")
    saved = run.work / "report.json"
    saved.write_text(report.to_json(), encoding="utf-8")
    accepted = apply_baseline(report, load_baseline(saved))
    if any(not finding.suppressed for finding in accepted.findings):
        run.problems.append("the baseline of its own report left findings unsuppressed")
    load_report(saved)
    run.lap("baseline and fleet")
    if (run.root / "proc" / "net" / "tcp").exists():
        try:
            diagnosis = diagnose(run.root, facts=facts, ports=[80, 443, 8080])
        except TcpauditError as error:
            run.error("diagnose", error)
        else:
            run.check_output("diagnose table", render_table(diagnosis))
            run.check_output("diagnose json", diagnosis.to_json())
        run.lap("diagnose")
    return _fingerprints(report)


def _readers(run: _Run, rng: random.Random) -> None:
    """A file of the tree given to each reader of a named input: --sysctl text, --baseline,
    fleet, --config, --facts, --rules-dir. FIFOs and devices included, links out not
    (a path the user names may be a link; one met inside a root may not)."""
    candidates = sorted(
        path for path in run.root.rglob("*") if not path.is_symlink() and path.name != "tcp"
    )
    if not candidates:
        return
    path = rng.choice(candidates)
    readers = [
        ("sysctl text", lambda: tcpaudit.load_sysctl(path, run.work)),
        ("baseline", lambda: load_baseline(path)),
        ("fleet", lambda: load_report(path)),
        ("config", lambda: load_config(path)),
        ("facts file", lambda: load_facts_document(path)),
        (
            "rules dir",
            lambda: load_catalogue([path if path.is_dir() else path.parent], include_bundled=False),
        ),
    ]
    for label, read in readers:
        try:
            read()
        except TcpauditError as error:
            # Expected for most files: checked (one line, no secret), not counted.
            run.error(label, error, counted=False)
    run.lap("readers")


def _hostile_document(document: dict[str, Any], rng: random.Random, outside: str) -> Any:
    """A snapshot as a compromised host could send it: links out, odd values, deep nesting."""
    hostile = json.loads(json.dumps(document))
    files = hostile.setdefault("files", {})
    places = [*files, "/etc/hostname", "/proc/sys/kernel/osrelease", "/etc/sysctl.d/x.conf",
              "/etc/httpd/conf/httpd.conf", "/etc/apache2/apache2.conf", "/usr/lib/sysctl.d"]  # fmt: skip
    for _ in range(rng.randint(1, 4)):
        place = rng.choice(places)
        choice = rng.randrange(7)
        if choice == 0:
            files[place] = {"link": f"{outside}/secret"}
        elif choice == 1:
            files[place] = {"link": "../" * rng.randint(1, 12) + outside.lstrip("/") + "/dir"}
        elif choice == 2:
            files[place] = {"content_base64": "//79/A=="}
        elif choice == 3:
            hostile["proc"] = {**hostile.get("proc", {}), "kernel/osrelease": "\x1b]0;x\x07" * 9}
        elif choice == 4:
            hostile["host"] = rng.choice(["\x1b[2J", "h" * 300, "", "\udcff"])
        elif choice == 5:
            files[place] = {"content": "[" * 300 + "]" * 300}
            hostile["notes"] = [["x"] * 3] * 3 if rng.random() < 0.5 else [{"a": "b"}]
        else:
            files[place] = rng.choice([{"dir": True, "link": "/"}, {"size": -1, "omitted": "x"},
                                       {"link": ""}, {"content": None}, 7])  # fmt: skip
    return json.loads(json.dumps(hostile))


# The module's refusal: "/path:LINE: why" (or the apache_conf argument's own check).
_REFUSAL = re.compile(r"/[^\n]*:\d+: |apache_conf ")


def _snapshot(run: _Run, module: ModuleType, rng: random.Random, outside: str) -> list[str] | None:
    def never(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the module ran a program for a tree")

    try:
        raw = module.snapshot(str(run.root), runner=never)
    except ValueError as refusal:
        # The module's documented refusal (main() gives Ansible its one line):
        # a bound of its ${NAME} expansion that would otherwise send an
        # unchecked line. It names the file and line.
        text = str(refusal)
        run.outputs.append(("module snapshot error", text))
        run.documented.append("module snapshot: refused")
        if "\n" in text or not _REFUSAL.match(text):
            run.problems.append(f"module snapshot: refusal not one file:line line: {text[:200]!r}")
        run.lap("module snapshot")
        return None
    document = json.loads(json.dumps(raw))
    run.outputs.append(("snapshot", json.dumps(document)))
    run.lap("module snapshot")
    try:
        hostile = facts_from_document(_hostile_document(document, rng, outside))
        run.check_output("hostile snapshot facts", dump_model_json(hostile))
    except TcpauditError as error:
        run.error("hostile snapshot", error)
    run.lap("hostile snapshot")
    try:
        facts = facts_from_snapshot(document)
        report = tcpaudit.audit(facts, rules=RULES)
    except TcpauditError as error:
        run.error("snapshot", error)
        return None
    finally:
        run.lap("snapshot audit")
    run.check_output("snapshot facts", dump_model_json(facts))
    return _fingerprints(report)


def run_pipeline(
    root: Path, work: Path, module: ModuleType, variant: int = 0, outside: str = "/nowhere",
    spy: bool = True,
) -> dict[str, Any]:  # fmt: skip
    """Run every stage on ``root``; ``work`` is this input's scratch directory (outside it).

    ``variant`` seeds the mutations of the snapshot document; ``outside`` is
    where its links point. ``spy`` False runs without watching (the parent's
    warm-up, which imports and caches what every child then shares).
    """
    opened: list[str] = []
    tempfile.tempdir = str(work)
    if spy:
        _spy(opened)
    run = _Run(root, work)
    outcome: dict[str, Any] = {"undocumented": None}
    local = snapshot = None
    try:
        local = _local(run)
        _readers(run, random.Random(variant * 7919 + 1))
        rng = random.Random(variant)
        # Half the inputs also go through the Ansible module and the controller:
        # three more loads of the tree, the costliest part of an input.
        if rng.random() < SNAPSHOT_SHARE:
            snapshot = _snapshot(run, module, rng, outside)
            outcome["snapshot"] = True
    except MemoryError:
        outcome["undocumented"] = "MemoryError"
    except BaseException:  # the failures this harness is for
        outcome["undocumented"] = traceback.format_exc()[-4000:]
    inside = (str(root), str(work), *_OWN, f"/proc/{os.getpid()}")
    # The hostile snapshot's links name ``outside``: reading there is the failure.
    outcome["outside"] = sorted(
        {
            path
            for path in opened
            if not any(path == base or path.startswith(base + "/") for base in inside)
            and not path.startswith(("pipe:", "/dev/null", "socket:"))
        }
    )[:20]
    outcome["secrets"] = sorted(
        {label for label, text in run.outputs if SECRET_CANARY in text or OUTSIDE_CANARY in text}
    )
    outcome["problems"] = run.problems[:20]
    outcome["documented"] = run.documented
    outcome["snapshot_differs"] = local is not None and snapshot is not None and local != snapshot
    outcome["stage_seconds"] = run.seconds
    return outcome
