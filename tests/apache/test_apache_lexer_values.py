"""Line splitting, word splitting and value parsing, rule by rule (httpd 2.4 sources cited)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tcpaudit.apache.conditions import ConditionError, if_version
from tcpaudit.apache.includes import has_wildcard
from tcpaudit.apache.lexer import logical_lines, split_words
from tcpaudit.apache.macros import Macro, MacroError, expand_macro
from tcpaudit.apache.values import (
    InvalidValueError,
    parse_atoi,
    parse_flag_keepalive,
    parse_request_read_timeout,
    parse_timeout_parameter,
)

V24 = (2, 4, 71)


@pytest.mark.parametrize(
    ("text", "seconds"), [("5", 5), ("5ms", 5), ("5min", 5), ("abc", 0), (" 7", 7), ("-3", -3)]
)
def test_timeout_is_read_with_atoi(text: str, seconds: int) -> None:
    # core.c set_timeout: apr_time_from_sec(atoi(arg)).
    assert parse_atoi(text) == seconds


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("5", 5.0), ("100ms", 0.1), ("2min", 120.0), ("5sec", 5.0), ("1h", 3600.0), ("", 0.0)],
)
def test_keepalive_timeout_units(text: str, seconds: float) -> None:
    assert parse_timeout_parameter(text, V24) == seconds


@pytest.mark.parametrize("text", ["1m", "abc", "5 s", "-1", "5x"])
def test_keepalive_timeout_refuses_what_ap_timeout_parameter_parse_refuses(text: str) -> None:
    with pytest.raises(InvalidValueError):
        parse_timeout_parameter(text, V24)


def test_keepalive_timeout_2_2_is_atoi() -> None:
    assert parse_timeout_parameter("1m", (2, 2)) == 1.0


def test_keepalive_flag_2_4_is_on_or_off_only() -> None:
    assert parse_flag_keepalive("ON", V24) is True
    assert parse_flag_keepalive("off", V24) is False
    with pytest.raises(InvalidValueError):
        parse_flag_keepalive("yes", V24)
    # 2.2 http_core.c: anything but Off/0 enables.
    assert parse_flag_keepalive("yes", (2, 2)) is True


def test_request_read_timeout_stages_merge() -> None:
    value = parse_request_read_timeout(("header=20-40,MinRate=500", "body=10"), None)
    assert value.header is not None and value.header.worst_case_seconds == 40
    assert value.body is not None and value.body.timeout_seconds == 10
    later = parse_request_read_timeout(("body=0",), value)
    assert later.header == value.header and later.body is not None and later.body.disabled


def test_continued_line_is_numbered_by_its_last_line() -> None:
    assert list(logical_lines("Timeout \\\n  5\nKeepAlive On\n")) == [
        (2, "Timeout   5"),
        (3, "KeepAlive On"),
    ]


def test_backslash_followed_by_blanks_does_not_continue() -> None:
    assert list(logical_lines("IndexIgnore a\\ \nb\n")) == [(1, "IndexIgnore a\\"), (2, "b")]


def test_crlf_continuation_and_trailing_cr() -> None:
    assert list(logical_lines("Timeout \\\r\n5\r\n")) == [(2, "Timeout 5")]


def test_comment_line_swallows_its_continuation() -> None:
    assert list(logical_lines("# note \\\nTimeout 5\nKeepAlive On\n")) == [(3, "KeepAlive On")]


def test_end_of_file_inside_a_continuation_counts_one_more_line() -> None:
    # ap_cfg_getline_core increments the line number before it sees EOF.
    assert list(logical_lines("Timeout \\\n")) == [(2, "Timeout")]
    assert list(logical_lines("Timeout 5 \\")) == [(1, "Timeout 5 \\")]


def test_nul_byte_ends_the_physical_line() -> None:
    # httpd handles each line as a C string (ap_cfg_getline_core's strlen).
    assert list(logical_lines("Timeout 7\x00 junk\nServerAdmin a\x00 \\\nKeepAlive Off\n")) == [
        (1, "Timeout 7"),
        (2, "ServerAdmin a"),
        (3, "KeepAlive Off"),
    ]


def test_hash_after_a_directive_is_data() -> None:
    assert split_words("IndexIgnore .??* *~ *# HEADER*") == [
        "IndexIgnore",
        ".??*",
        "*~",
        "*#",
        "HEADER*",
    ]


def test_quoted_words_and_escapes() -> None:
    assert split_words(r'''Header "a \"b\" c" 'it\'s' x\\y "c:\\d"''') == [
        "Header",
        'a "b" c',
        "it's",
        "x\\y",
        "c:\\d",
    ]


def test_byte_order_mark_is_part_of_the_first_word() -> None:
    assert split_words("\ufeffTimeout 5")[0] == "\ufeffTimeout"


@pytest.mark.parametrize(
    ("pattern", "wild"), [("*.conf", True), ("a?.conf", True), ("[ab].conf", True), ("[x.conf", False),
                          ("plain.conf", False), ("a\\*b", False)]
)  # fmt: skip
def test_wildcard_test_is_apr_fnmatch_test(pattern: str, wild: bool) -> None:
    assert has_wildcard(pattern) is wild


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [(">= 2.4>", True), ("< 2.4.16>", False), ("2.4.71>", True), ("!~ ^2\\.2>", True),
     ("= /^2\\.4/>", True), ("> 2.5>", False), ("2.4.71 >", True), ("<= 2.4.71>", True)],
)  # fmt: skip
def test_ifversion_operators(arguments: str, expected: bool) -> None:
    assert if_version(arguments, V24) is expected


@pytest.mark.parametrize("arguments", ["2.4.x>", "= 2.4.71.1>", "~= 2.4>", ">= 2.4", "= /2.4>"])
def test_ifversion_refusals(arguments: str) -> None:
    with pytest.raises(ConditionError):
        if_version(arguments, V24)


def test_macro_parameters_longest_first_and_quoted_at_parameters() -> None:
    # mod_macro.c: the earliest parameter wins, the longest at the same place;
    # an @parameter's value goes in double quotes with " and \ escaped.
    macro = Macro("m", ("$a", "$ab", "@q"), ((3, "X $ab $a @q", "f.conf"),), "f.conf", 2)
    assert expand_macro(macro, 'm 1 2 "x y\\"z"') == [(3, 'X 2 1 "x y\\"z"', "f.conf")]
    with pytest.raises(MacroError, match="used with 1 arguments instead of 3"):
        expand_macro(macro, "m 1")


def _getword_conf(line: str) -> list[str]:
    """ap_getword_conf (server/util.c) character by character, for the words of ``line``."""
    words, index, length = [], 0, len(line)
    while True:
        while index < length and line[index] in " \t\r\n\f\v":
            index += 1
        if index >= length:
            return words
        quote = line[index] if line[index] in "\"'" else ""
        if quote:
            index += 1
            out: list[str] = []
            while index < length and line[index] != quote:
                if line[index] == "\\" and index + 1 < length and line[index + 1] in (quote, "\\"):
                    index += 1
                out.append(line[index])
                index += 1
            words.append("".join(out))
            index += 1
        else:
            start = index
            while index < length and line[index] not in " \t\r\n\f\v":
                index += 1
            words.append(line[start:index].replace("\\\\", "\\"))


@settings(max_examples=2000, deadline=None)
@given(st.text(alphabet="\\\"' a\x00b", max_size=24))
def test_split_words_is_ap_getword_conf(line: str) -> None:
    # Quoted words undo their escapes with three replaces in C (a template
    # substitution per escape took a minute for a 64 MiB line of "\\\\"); a
    # NUL in the word takes the substitution.
    assert split_words(line) == _getword_conf(line)
