"""No regular expression of tcpaudit keeps state for each repetition of a group.

Python's engine saves a frame for every pass through a repeated group it may
have to backtrack into: a quoted word of 32 million escaped backslashes read
with ``"(?:\\\\.?[^"\\\\]*)*"`` took 6.8 GB, a JSON string of them 4 GB, a
64 MiB ``-----BEGIN`` line 9 GB. A repeated group is possessive (``*+``:
nothing to backtrack into, no frame kept) or bounded (``{0,64}``); a repeated
single character class never keeps a frame.
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
import re
import resource
import subprocess
import sys
from pathlib import Path
from re import _constants as constants
from re import _parser as parser
from types import ModuleType

import pytest

import tcpaudit

_SINGLE = {constants.LITERAL, constants.NOT_LITERAL, constants.IN, constants.ANY,
           constants.CATEGORY}  # fmt: skip


def _unbounded_group_repeats(items: parser.SubPattern | list) -> int:  # type: ignore[type-arg]
    count = 0
    for op, value in items:
        if op in (constants.MAX_REPEAT, constants.MIN_REPEAT):
            _, most, repeated = value
            if most == constants.MAXREPEAT and not (
                len(repeated) == 1 and repeated[0][0] in _SINGLE
            ):
                count += 1
            count += _unbounded_group_repeats(repeated)
        elif op == constants.POSSESSIVE_REPEAT:
            count += _unbounded_group_repeats(value[2])
        elif op == constants.SUBPATTERN:
            count += _unbounded_group_repeats(value[3])
        elif op == constants.BRANCH:
            count += sum(_unbounded_group_repeats(branch) for branch in value[1])
        elif op in (constants.ASSERT, constants.ASSERT_NOT):
            count += _unbounded_group_repeats(value[1])
        elif op == constants.ATOMIC_GROUP:
            count += _unbounded_group_repeats(value)
    return count


# The Ansible facts module runs on the managed host under Python 3.8 and
# later, where possessive repeats do not exist: it reads its repeated forms
# with searches for single characters instead, and is held to the same rule.
FACTS_MODULE_FILE = (
    Path(__file__).resolve().parents[2]
    / "src/ansible_collections/tcpaudit/audit/plugins/modules/facts.py"
)
_LOAD_FACTS_MODULE = (
    "N = 2 << 20\n"  # its 4 MiB, under half the cap: about 300 MB a word before
    "import importlib.util\n"
    f"spec = importlib.util.spec_from_file_location('facts_module', {str(FACTS_MODULE_FILE)!r})\n"
    "facts = importlib.util.module_from_spec(spec)\n"
    "spec.loader.exec_module(facts)\n"
)


def _facts_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("facts_module_patterns", FACTS_MODULE_FILE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _patterns() -> dict[str, re.Pattern[str] | re.Pattern[bytes]]:
    found = {}
    modules = [
        importlib.import_module(module.name)
        for module in pkgutil.walk_packages(tcpaudit.__path__, "tcpaudit.")
        if not module.name.endswith("__main__")
    ]
    for module in [*modules, _facts_module()]:
        for name, value in vars(module).items():
            if isinstance(value, re.Pattern):
                found[f"{module.__name__}.{name}"] = value
            elif isinstance(value, dict):  # tables of patterns
                for key, item in value.items():
                    if isinstance(item, re.Pattern):
                        found[f"{module.__name__}.{name}[{key!r}]"] = item
    return found


def test_the_scan_sees_the_patterns_and_their_repeats() -> None:
    patterns = _patterns()
    assert len(patterns) > 100
    assert "tcpaudit.apache.lexer._WORD" in patterns
    assert "facts_module_patterns._PARAMETER_NAME" in patterns
    assert sum(name.startswith("facts_module_patterns.") for name in patterns) > 60
    # What the test looks for, on the forms it replaced.
    assert _unbounded_group_repeats(parser.parse(r'"[^"\\]*(?:\\.[^"\\]*)*"')) == 1
    assert _unbounded_group_repeats(parser.parse(r'"[^"\\]*+(?:\\.[^"\\]*+)*+"')) == 0
    assert _unbounded_group_repeats(parser.parse(r"(?:[A-Za-z0-9 ]|-(?!-)){0,64}")) == 0


def test_no_pattern_repeats_a_group_that_keeps_state() -> None:
    offending = [
        name
        for name, pattern in _patterns().items()
        if _unbounded_group_repeats(parser.parse(pattern.pattern, pattern.flags))  # type: ignore[arg-type]
    ]
    assert offending == []


@pytest.mark.parametrize(
    "code",
    [
        # The forms each pattern met, 16 MiB long, under a 512 MiB address-space cap.
        "from tcpaudit.apache.lexer import split_words; split_words('\"' + '\\\\\\\\' * N + '\"')",
        "from tcpaudit.inputs import _JSON_TOKEN; _JSON_TOKEN.match('\"' + '\\\\\\\\' * N + '\"')",
        "from tcpaudit.private_keys import KEY_BEGIN; KEY_BEGIN.search('-----BEGIN ' + 'A' * 2 * N)",
        "from tcpaudit.apache.credentials import _PARAMETER_VALUE; _PARAMETER_VALUE.match('a' * 2 * N)",
        "from tcpaudit.diagnose.ss import _USER; _USER.search('(\"' + '\\\\\\\\' * N + '\",pid=1,fd=3)')",
        # The Ansible module's forms (it reads files of at most 4 MiB).
        _LOAD_FACTS_MODULE + "list(facts.directive_lines('Alias \"' + '\\\\\\\\' * N + '\"'))",
        _LOAD_FACTS_MODULE + "list(facts.directive_lines('Alias \"' + '\\\\\"' * N + '\"'))",
        _LOAD_FACTS_MODULE + "facts._without_secret_parameters('?token=' + 'a ' * N)",
        _LOAD_FACTS_MODULE + "facts._without_secret_parameters('--token=' + '\"\"' * N)",
        _LOAD_FACTS_MODULE + "facts._without_secret_parameters('p=x&token' + ')' * 2 * N + '=v')",
        _LOAD_FACTS_MODULE
        + "facts._without_secret_parameters('token' + '[a]' * N + '=v', facts._WORD_PARAMETER_VALUE)",
        _LOAD_FACTS_MODULE + "facts._shell_unquoted(\"$'\" + '\\\\\\\\' * N + \"'\")",
    ],
)
def test_a_long_text_is_read_in_little_memory(code: str) -> None:
    limit = (256 if code.startswith(_LOAD_FACTS_MODULE) else 512) * 1024 * 1024
    done = subprocess.run(
        [sys.executable, "-c", f"N = 8 << 20\n{code}"],
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_AS, (limit, limit)),
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
