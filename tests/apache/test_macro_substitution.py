"""mod_macro substitution: one regex search per substitution, same result as a search per parameter.

``reference`` is mod_macro's loop written plainly (for every position, look
for every parameter; take the earliest, the longest at a tie; move on by the
value's length). The loader's version must agree with it on any parameters,
values and lines, including ``@`` parameters whose quoted value is scanned
again and values that hold parameter names.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tcpaudit.apache.macros import Macro, MacroError, expand_macro

MAX_LINE = 8192


def reference(line: str, parameters: tuple[str, ...], values: list[str]) -> str:
    position = 0
    while True:
        chosen, chosen_at = -1, -1
        for index, parameter in enumerate(parameters):
            found = line.find(parameter, position)
            if found >= 0 and (
                chosen < 0
                or found < chosen_at
                or (found == chosen_at and len(parameter) > len(parameters[chosen]))
            ):
                chosen, chosen_at = index, found
        if chosen < 0:
            return line
        parameter, value = parameters[chosen], values[chosen]
        if parameter != value:
            inserted = value
            if parameter[0] == "@":
                inserted = '"' + "".join("\\" + c if c in '"\\' else c for c in value) + '"'
            line = line[:chosen_at] + inserted + line[chosen_at + len(parameter) :]
            if len(line) >= MAX_LINE:
                raise MacroError("cannot substitute, buffer size too small")
        position = chosen_at + len(value)


ALPHABET = '$@ab"\\x'
names = st.text(alphabet=ALPHABET, min_size=1, max_size=4)


@st.composite
def uses(draw: st.DrawFn) -> tuple[tuple[str, ...], list[str], str]:
    parameters = tuple(draw(st.lists(names, min_size=1, max_size=6, unique=True)))
    values = draw(
        st.lists(
            st.text(alphabet=ALPHABET, max_size=6),
            min_size=len(parameters),
            max_size=len(parameters),
        )
    )
    pieces = st.one_of(st.sampled_from(parameters), st.text(alphabet=ALPHABET, max_size=5))
    line = "".join(draw(st.lists(pieces, max_size=12)))
    return parameters, values, line


def substituted(parameters: tuple[str, ...], values: list[str], line: str) -> str:
    macro = Macro("m", parameters, ((1, line, "f.conf"),), "f.conf", 1)
    # expand_macro splits its argument line into words: quote each value.
    quoted = " ".join(
        '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"' for value in values
    )
    return expand_macro(macro, "m " + quoted)[0][1]


@settings(max_examples=400, deadline=None)
@given(uses())
def test_agrees_with_a_search_per_parameter(case: tuple[tuple[str, ...], list[str], str]) -> None:
    parameters, values, line = case
    try:
        expected: str | MacroError = reference(line, parameters, values)
    except MacroError as exc:
        expected = exc
    try:
        got: str | MacroError = substituted(parameters, values, line)
    except MacroError as exc:
        got = exc
    if isinstance(expected, MacroError):
        assert isinstance(got, MacroError)
    else:
        assert got == expected


@pytest.mark.parametrize(
    ("parameters", "values", "line", "expected"),
    [
        (("$a", "$ab"), ["1", "2"], "x $ab $a", "x 2 1"),  # the longest at a tie
        (("$a",), ["$a$a"], "$a-$a", "$a$a-$a$a"),  # moves on past the value
        (("@a",), ['q"'], "v @a", 'v "q\\""'),  # quoted, escaped
        (("@a", "b"), ["bb", "z"], "@a", '"bz"'),  # the quoted value's end scanned again
    ],
)
def test_known_substitutions(
    parameters: tuple[str, ...], values: list[str], line: str, expected: str
) -> None:
    assert reference(line, parameters, values) == expected
    assert substituted(parameters, values, line) == expected
