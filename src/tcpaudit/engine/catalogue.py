"""Load and validate the rule catalogue: the bundled rules/ plus user directories.

A rule file that does not match the schema, names an unknown check, gives a
check parameters it does not take, or reuses an id is a ``CatalogueError``
naming the file. Third-party checks register through the ``tcpaudit.checks``
entry-point group (each entry point loads a ``Check``).
"""

from __future__ import annotations

import logging
import math
import os
import re
from collections.abc import Callable, Iterable
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from pydantic import ValidationError

from ..errors import CatalogueError, raises_only_documented_errors
from ..inputs import DocumentError, check_yaml_shape, read_text
from .rule import Rule

if TYPE_CHECKING:
    from ..checks import Check

__all__ = ["bundled_rule_ids", "bundled_rules_dir", "load_catalogue", "registered_checks"]

log = logging.getLogger(__name__)
ENTRY_POINT_GROUP = "tcpaudit.checks"
# A rules directory may come from the audited repository. The bundled rule
# files are under 2.5 KiB; PyYAML reads about 2 MiB/s (libyaml: 20 MiB/s),
# and one 60 MiB rule file took 36 s and 343 MB to explain.
MAX_RULE_FILE_BYTES = 64 * 1024
# Rules of the rules directories in all (the bundled catalogue apart): each
# walks every virtual host, 0.1 s or more on the largest tree tcpaudit loads.
MAX_EXTRA_RULES = 100
# Entries of a rules directory looked at, rule files or not, and directories.
MAX_DIRECTORY_ENTRIES = 10_000
MAX_RULES_DIRECTORIES = 100
# yaml.safe_load's loader, in C when PyYAML has libyaml (ten times faster).
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def bundled_rules_dir() -> Path:
    """rules/ inside the installed package, or at the source tree's root."""
    packaged = Path(__file__).resolve().parent.parent / "rules"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[3] / "rules"


@cache
def registered_checks() -> dict[str, Check[Any]]:
    """Built-in checks plus those third parties publish as entry points."""
    # Imported here: checks import the engine's models, so the engine cannot
    # import checks at module level.
    from ..checks import CHECKS, Check

    checks = dict(CHECKS)
    for entry in metadata.entry_points(group=ENTRY_POINT_GROUP):
        loaded = entry.load()
        if not isinstance(loaded, Check):
            raise CatalogueError(
                f"entry point {entry.name} ({entry.value}) is not a tcpaudit Check"
            )
        checks.setdefault(loaded.name, loaded)
    return checks


def _error_text(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "rule"
    return f"{where}: {first['msg']}"


def _yaml_line(text: str, location: tuple[str | int, ...]) -> int | None:
    """The line of the deepest node of ``location`` in a rule file, None if not found.

    Only on an error: composing the file again keeps every load cheap.
    """
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return None
    line = None
    for part in location:
        if isinstance(node, yaml.MappingNode):
            found = next((v for k, v in node.value if getattr(k, "value", None) == part), None)
            key = next((k for k, _ in node.value if getattr(k, "value", None) == part), None)
            if key is not None:
                line = key.start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            found = node.value[part] if 0 <= part < len(node.value) else None
            if found is not None:
                line = found.start_mark.line + 1
        else:
            found = None
        if found is None:
            break
        node = found
    return line


# C0 but tab, line feed and carriage return, DEL, C1.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def _first_at(
    data: object, where: tuple[str | int, ...], bad: Callable[[object], bool]
) -> tuple[str | int, ...] | None:
    """Where in a loaded rule file the first key or value ``bad`` refuses stands, or None."""
    if isinstance(data, dict):
        for key, value in data.items():
            found = where if bad(key) else _first_at(value, (*where, str(key)), bad)
            if found is not None:
                return found
    elif isinstance(data, list):
        for index, value in enumerate(data):
            found = _first_at(value, (*where, index), bad)
            if found is not None:
                return found
    elif bad(data):
        return where
    return None


def _has_control_character(value: object) -> bool:
    return isinstance(value, str) and _CONTROL.search(value) is not None


def _not_finite(value: object) -> bool:
    """YAML's .inf, .nan, 1.0e+400: no JSON value, and no setting."""
    return isinstance(value, float) and not math.isfinite(value)


def _load_file(path: Path) -> Rule:
    shown = str(path)
    if path.is_symlink():
        # A rules directory may come from the audited repository (tcpaudit.toml's
        # rules_dirs): a link there must not make tcpaudit read a file of the host.
        raise CatalogueError(
            "a symbolic link: rule files are read only as files of the rules directory itself",
            file=shown,
        )
    try:
        if path.stat().st_size > MAX_RULE_FILE_BYTES:
            raise CatalogueError(
                f"larger than {MAX_RULE_FILE_BYTES:,} bytes: not a rule file", file=shown
            )
        text = read_text(path, MAX_RULE_FILE_BYTES, follow_links=False)
        # Nesting and aliases bounded before the composer recurses into them.
        check_yaml_shape(text)
        data = yaml.load(text, Loader=_SAFE_LOADER)
    except OSError as exc:
        raise CatalogueError(f"cannot read rule: {exc.strerror}", file=shown) from exc
    except DocumentError as exc:
        raise CatalogueError(f"not a rule file: {exc}", file=shown) from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise CatalogueError(
            f"invalid YAML: {getattr(exc, 'problem', exc)}", file=shown, line=line
        ) from exc
    if not isinstance(data, dict):
        raise CatalogueError("a rule file must hold a mapping", file=shown)
    # Parameters reach patches (a fix's added lines), which cannot escape
    # what they copy; the text fields are shown escaped.
    checked = {"params": data.get("params"), "when": data.get("when")}
    control = _first_at(checked, (), _has_control_character)
    if control is not None:
        where = ".".join(str(part) for part in control) or "rule"
        raise CatalogueError(
            f"{where}: a control character (an escape a terminal would act on)",
            file=shown,
            line=_yaml_line(text, control),
        )
    # A value reaches reports and fixes: JSON has no Infinity or NaN, and no
    # setting is infinite (a report with one was refused by --baseline).
    infinite = _first_at(checked, (), _not_finite)
    if infinite is not None:
        raise CatalogueError(
            f"{'.'.join(str(part) for part in infinite)}: not a finite number",
            file=shown,
            line=_yaml_line(text, infinite),
        )
    try:
        rule = Rule.model_validate(data)
    except ValidationError as exc:
        line = _yaml_line(text, tuple(exc.errors()[0]["loc"]))
        raise CatalogueError(_error_text(exc), file=shown, line=line) from exc
    if not path.name.startswith(f"{rule.id}-"):
        raise CatalogueError(
            f"file name must start with the rule id {rule.id}-",
            file=shown,
            line=_yaml_line(text, ("id",)),
        )
    check = registered_checks().get(rule.check)
    if check is None:
        raise CatalogueError(
            f"unknown check {rule.check!r}", file=shown, line=_yaml_line(text, ("check",))
        )
    for params in [rule.params, *({**rule.params, **o.params} for o in rule.when)]:
        try:
            check.params.model_validate(params)
        except ValidationError as exc:
            raise CatalogueError(f"params: {_error_text(exc)}", file=shown) from exc
    return rule


def _rule_files(directory: Path, entries_left: list[int]) -> list[Path]:
    """The ``*.yaml`` files of a rules directory, sorted; bounded in number, and
    in entries looked at over all rules directories (``entries_left``)."""
    found: list[Path] = []
    with os.scandir(directory) as entries:
        for entry in entries:
            entries_left[0] -= 1
            if entries_left[0] < 0:
                raise CatalogueError(
                    f"more than {MAX_DIRECTORY_ENTRIES:,} entries in the rules directories: "
                    "not rules directories",
                    file=str(directory),
                )
            if entry.name.endswith(".yaml"):
                found.append(Path(entry.path))
                if len(found) > MAX_EXTRA_RULES:
                    raise CatalogueError(
                        f"more than {MAX_EXTRA_RULES} rule files: rules directories may hold "
                        f"{MAX_EXTRA_RULES} rules in all",
                        file=str(directory),
                    )
    return sorted(found)


@cache
def bundled_rule_ids() -> frozenset[str]:
    """The ids of the bundled catalogue's rules (whose checks have no shared budget)."""
    return frozenset(path.name[:5] for path in bundled_rules_dir().glob("TA*-*.yaml"))


@raises_only_documented_errors
def load_catalogue(extra_dirs: Iterable[Path] = (), *, include_bundled: bool = True) -> list[Rule]:
    """All rules, sorted by id: the bundled catalogue and the rules of ``extra_dirs``.

    Args:
        extra_dirs: directories of rule files (``TA950-name.yaml``) to add.
        include_bundled: False loads ``extra_dirs`` alone.

    Raises:
        CatalogueError: a rule file is invalid (named with its key), or a user
            rule reuses an id of the bundled catalogue.

    Example::

        rules = tcpaudit.load_catalogue()
        by_id = {rule.id: rule for rule in rules}
        print(by_id["TA301"].title)
        assert [rule.id for rule in rules] == sorted(by_id)
    """
    directories = [bundled_rules_dir()] if include_bundled else []
    # Each directory once; a repository's tcpaudit.toml naming one 6,000
    # times scanned it 6,000 times (45 s).
    named = list(dict.fromkeys(Path(d) for d in extra_dirs))
    if len(named) > MAX_RULES_DIRECTORIES:
        raise CatalogueError(
            f"{len(named):,} rules directories: at most {MAX_RULES_DIRECTORIES} are read",
            file=str(named[MAX_RULES_DIRECTORIES]),
        )
    directories.extend(named)
    entries_left = [MAX_DIRECTORY_ENTRIES]  # over every rules directory together
    rules: dict[str, tuple[Rule, Path]] = {}
    extra = 0
    for directory in directories:
        if not directory.is_dir():
            raise CatalogueError("not a rules directory", file=str(directory))
        bundled = include_bundled and directory == directories[0]
        listed = _rule_files(directory, entries_left) if not bundled else None
        for path in listed if listed is not None else sorted(directory.glob("*.yaml")):
            extra += not bundled
            if extra > MAX_EXTRA_RULES:
                raise CatalogueError(
                    f"more than {MAX_EXTRA_RULES} rules in the rules directories in all",
                    file=str(path),
                )
            rule = _load_file(path)
            if rule.id in rules:
                raise CatalogueError(
                    f"rule id {rule.id} is already used by {rules[rule.id][1]}", file=str(path)
                )
            rules[rule.id] = (rule, path)
    log.debug("loaded %d rules", len(rules))
    return [rule for rule, _ in sorted(rules.values(), key=lambda item: item[0].id)]
