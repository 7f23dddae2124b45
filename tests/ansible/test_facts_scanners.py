"""The facts module's scanners read exactly what the patterns they replaced read.

The module runs on Python 3.8 and later, where a pattern repeating a group
keeps a frame per repetition (hundreds of MB for a 4 MiB word; see
tests/hardening/test_regex_repeats.py). Its quoted words, parameter names,
parameter values and ``$'...'`` strings are read by searches for single
characters instead; here each is held to the pattern it replaced, kept as
the reference, on every short text of the characters that matter.
"""

from __future__ import annotations

import re
from types import ModuleType

import pytest
from ansible_trees import load_facts_module
from hypothesis import given, settings
from hypothesis import strategies as st

from tcpaudit.apache.macro_text import without_flags

WORD = re.compile(
    r'"([^"\\]*(?:\\.[^"\\]*)*)(?:"|\\?$)|\'([^\'\\]*(?:\\.[^\'\\]*)*)(?:\'|\\?$)'
    r"|([^ \t\n\v\f\r]+)"
)
PARAMETER_NAME = re.compile(r"(?<![A-Za-z0-9_.\-])([A-Za-z0-9_.\-]+)((?:\)|\[[^\][=]*\])*)=")
PARAMETER_VALUE = re.compile(r"(?:'[^']*'|\"[^\"]*\"|[^&;, \t\n]|[ \t\n]+(?=[^ \t\n&;,-]))*")
OPTION_VALUE = re.compile(r"(?:'[^']*'|\"[^\"]*\"|[^ \t\n])*")
WORD_PARAMETER_VALUE = re.compile(r"(?:'[^']*'|\"[^\"]*\"|[^&;,])*")
ANSI_C_QUOTED = re.compile(r"\$'((?:[^'\\]|\\.)*)'", re.S)


@pytest.fixture(scope="module")
def facts() -> ModuleType:
    return load_facts_module()


def _texts(alphabet: str) -> st.SearchStrategy[str]:
    return st.text(alphabet=alphabet, max_size=24)


@settings(max_examples=600, deadline=None)
@given(_texts("\"'\\ \ta\n"), st.integers(0, 26), st.integers(0, 26))
def test_words_as_the_pattern_read_them(line: str, pos: int, endpos: int) -> None:
    facts = load_facts_module()
    expected = [(m.start(), m.end(), m.groups()) for m in WORD.finditer(line, pos, endpos)]
    got = [(m.start(), m.end(), m.groups()) for m in facts._word_matches(line, pos, endpos)]
    assert got == expected
    assert [m.group() for m in facts._word_matches(line)] == [
        m.group() for m in WORD.finditer(line)
    ]


@settings(max_examples=600, deadline=None)
@given(_texts("a.)[]=&x ="))
def test_parameter_names_as_the_pattern_read_them(text: str) -> None:
    facts = load_facts_module()
    expected = [(m.start(), m.end(), m.group(1), m.group(2)) for m in PARAMETER_NAME.finditer(text)]
    assert list(facts._parameter_names(text)) == expected


@settings(max_examples=900, deadline=None)
@given(_texts("a'\"&;, \t\n-"), st.integers(0, 24), st.integers(0, 26))
def test_parameter_values_as_the_patterns_read_them(text: str, start: int, limit: int) -> None:
    facts = load_facts_module()
    start = min(start, len(text))
    limit = max(start, min(limit, len(text)))
    for pattern, stops in (
        (PARAMETER_VALUE, facts._PARAMETER_VALUE),
        (OPTION_VALUE, facts._OPTION_VALUE),
        (WORD_PARAMETER_VALUE, facts._WORD_PARAMETER_VALUE),
    ):
        match = pattern.match(text, start, limit)
        assert match is not None
        assert facts._parameter_value_end(text, start, stops, limit) == match.end(), stops


@settings(max_examples=600, deadline=None)
@given(_texts("$'\\a\n"))
def test_ansi_c_strings_as_the_pattern_read_them(raw: str) -> None:
    facts = load_facts_module()
    expected = ANSI_C_QUOTED.sub(lambda match: facts._ansi_c(match.group(1)), raw)
    assert facts._ansi_c_decoded(raw) == expected


def test_the_readings_on_the_forms_that_matter(facts: ModuleType) -> None:
    # One word per quoted run, escapes kept in its text as httpd's reader
    # sees them before unescaping; an escaped quote does not close it.
    assert [m.groups() for m in facts._word_matches('A "b\\" c" \'d\' e\\')] == [
        (None, None, "A"),
        ('b\\" c', None, None),
        (None, "d", None),
        (None, None, "e\\"),
    ]
    assert facts._without_secret_parameters("https://h/?a=1&token=s3cr3t&b=2") == (
        "https://h/?a=1&token=" + facts.APACHE_REDACTED + "&b=2"
    )
    assert facts._without_secret_parameters("auth[password]=x y", facts._WORD_PARAMETER_VALUE) == (
        "auth[password]=" + facts.APACHE_REDACTED
    )
    assert facts._shell_unquoted("A=$'p\\x41ss'") == "A=pAss"


@settings(max_examples=800, deadline=None)
@given(st.text(alphabet="/ \tIgnoreEmptyArgsBadNestingx$v", max_size=40))
def test_macro_flags_taken_out_as_tcpaudit_takes_them(rest: str) -> None:
    # The module's copy of the rule (it cannot import tcpaudit), held to the
    # one tests/apache/test_macro_reading.py holds to apache2.
    facts = load_facts_module()
    assert facts._without_macro_flags(rest) == without_flags(rest)
    for flagged in ("/IgnoreEmptyArgs" + rest, "/ignorebadnesting" + rest, "/" + rest):
        assert facts._without_macro_flags(flagged) == without_flags(flagged)
