"""KNOWN_TOKEN is written for speed (a first character, then its kind's
shape); it must find exactly what the plain spelling of the same shapes finds."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tcpaudit.apache.known_tokens import hide_known_tokens
from tcpaudit.apache.shell_state import KNOWN_TOKEN

# Each kind's shape, spelled plainly: no word character before it.
SHAPES = [
    r"gh[pousr]_[A-Za-z0-9]{16,}",
    r"github_pat_[A-Za-z0-9_]{20,}",
    r"gl(?:pat|rt|dt|ptt|oas|cbt|imt)-[A-Za-z0-9_-]{16,}",
    r"xox[abpers]-[A-Za-z0-9-]{10,}",
    r"xapp-[A-Za-z0-9-]{10,}",
    r"(?:AKIA|ASIA)[0-9A-Z]{16}",
    r"[sr]k_(?:live|test)_[A-Za-z0-9]{16,}",
    r"sk-(?:ant-|proj-)?[A-Za-z0-9_-]{20,}",
    r"hf_[A-Za-z0-9]{20,}",
    r"pypi-[A-Za-z0-9_-]{20,}",
    r"SG\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}",
    r"ya29\.[A-Za-z0-9_-]{20,}",
    r"GOCSPX-[A-Za-z0-9_-]{20,}",
    r"whsec_[A-Za-z0-9+/=]{20,}",
    r"shp(?:at|ss|ca|pa)_[A-Fa-f0-9]{32}",
    r"dop_v1_[a-f0-9]{64}",
    r"hv[sb]\.[A-Za-z0-9_-]{20,}",
    r"SK[0-9a-fA-F]{32}",
    r"npm_[A-Za-z0-9]{36}",
    r"AIza[0-9A-Za-z_-]{35}",
    r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*",
]
PLAIN = re.compile(r"(?<![A-Za-z0-9_.-])(?:" + "|".join(SHAPES) + ")")
# In a written report, also after an escape the writers made of a character
# (printable's \x01, \u200b, \t; a JSON encoder's \u0001; a workflow
# command's %2C).
WRITTEN = re.compile(
    r"(?:(?<![A-Za-z0-9_.-])|(?<=\\x[0-9a-fA-F]{2})|(?<=\\u[0-9a-fA-F]{4})"
    r"|(?<=\\U[0-9a-fA-F]{8})|(?<=\\[nrtbf])|(?<=%[0-9a-fA-F]{2}))(?:" + "|".join(SHAPES) + ")"
)

PREFIXES = [
    "ghp_", "gho_", "github_pat_", "glpat-", "glimt-", "xoxb-", "xapp-", "AKIA", "ASIA",
    "sk_live_", "rk_test_", "sk-", "sk-ant-", "sk-proj-", "hf_", "pypi-", "SG.", "ya29.",
    "GOCSPX-", "whsec_", "shpat_", "dop_v1_", "hvs.", "hvb.", "SK", "npm_", "AIza", "eyJ",
]  # fmt: skip
# Pieces that make and break tokens: prefixes, their bodies, word characters
# that must not stand before one, separators.
PIECES = st.one_of(
    st.sampled_from(PREFIXES),
    st.text(alphabet="abcdefABCDEF0123456789", min_size=1, max_size=40),
    st.sampled_from(["a", "_", ".", "-", " ", "/", "=", "+", '"', ":", "@", "\n", "\t", "é"]),
    st.text(max_size=5),
)


@settings(max_examples=3000, deadline=None)
@given(st.lists(PIECES, max_size=12).map("".join))
def test_the_fast_spelling_finds_what_the_plain_one_finds(text: str) -> None:
    assert [m.span() for m in KNOWN_TOKEN.finditer(text)] == [
        m.span() for m in PLAIN.finditer(text)
    ]


def test_every_kind_is_found_at_the_start_and_after_a_separator() -> None:
    samples = [
        "ghp_" + "a" * 16, "github_pat_" + "a" * 20, "glpat-" + "a" * 16, "xoxb-" + "a" * 10,
        "xapp-" + "a" * 10, "AKIA" + "A" * 16, "ASIA" + "7" * 16, "sk_live_" + "a" * 16,
        "rk_test_" + "a" * 16, "sk-proj-" + "a" * 20, "hf_" + "a" * 20, "pypi-" + "a" * 20,
        "SG." + "a" * 16 + "." + "b" * 16, "ya29." + "a" * 20, "GOCSPX-" + "a" * 20,
        "whsec_" + "a" * 20, "shpat_" + "a" * 32, "dop_v1_" + "a" * 64, "hvs." + "a" * 20,
        "SK" + "a" * 32, "npm_" + "a" * 36, "AIza" + "a" * 35, "eyJ" + "a" * 8 + ".ab.c",
    ]  # fmt: skip
    assert len(samples) == len(SHAPES) + 2  # AKIA/ASIA and sk_/rk_ share a shape
    for sample in samples:
        for text in (sample, "x=" + sample, "/" + sample + " tail"):
            assert PLAIN.search(text) is not None, text
            assert KNOWN_TOKEN.search(text).group() == sample, text  # type: ignore[union-attr]
        assert KNOWN_TOKEN.search("a" + sample) is None
        assert KNOWN_TOKEN.search("." + sample) is None


ESCAPES = st.sampled_from(
    [
        "\\x01",
        "\\xff",
        "\\u200b",
        "\\U000e0001",
        "\\t",
        "\\n",
        "\\x0",
        "\\",
        "%2C",
        "%0a",
        "%2",
        "%",
    ]
)


@settings(max_examples=3000, deadline=None)
@given(st.lists(st.one_of(PIECES, ESCAPES), max_size=12).map("".join))
def test_hiding_a_whole_report_replaces_what_the_plain_spelling_finds(text: str) -> None:
    assert hide_known_tokens(text, "<hidden>") == WRITTEN.sub("<hidden>", text)


@pytest.mark.parametrize(
    "text",
    [
        # A '/' in whsec_'s body: a token may start after it, inside that body.
        "whsec_" + "a" * 20 + "/ghp_" + "b" * 16 + " ghp_" + "c" * 16,
        "whsec_" + "a" * 20 + "/SG." + "b" * 16 + "." + "c" * 16,
        "x " + "eyJ" + "a" * 8 + ".bb.c" + " AKIA" + "A" * 16 + ",AIza" + "z" * 35,
        "sk-ant-" + "a" * 20 + " sk_live_" + "b" * 16 + " dop_v1_" + "0" * 64,
        "xghp_" + "a" * 16 + " xoxb-" + "1" * 10 + " SK" + "f" * 32 + "-glpat-" + "q" * 16,
    ],
)
def test_hiding_agrees_on_tokens_that_touch(text: str) -> None:
    assert hide_known_tokens(text, "<hidden>") == PLAIN.sub("<hidden>", text)
    assert hide_known_tokens(text, "<hidden>") == KNOWN_TOKEN.sub("<hidden>", text)


@pytest.mark.parametrize(
    "escape", ["\\x01", "\\xe9", "\\u0001", "\\u200b", "\\U000e0041", "\\t", "\\r", "%2C", "%0A"]
)
def test_a_token_after_an_escaped_character_is_hidden(escape: str) -> None:
    # The writers escape a control or invisible character (or a byte that
    # was not UTF-8) that stood before the token: the escape ends in a
    # letter or a digit, which the raw text's boundary takes for a word.
    token = "ghp_" + "a1" * 18
    assert hide_known_tokens(f"caf{escape}{token}.example", "<h>") == f"caf{escape}<h>.example"
    assert hide_known_tokens(f"caf{escape[1:]}{token}", "<h>") == f"caf{escape[1:]}{token}"


EVERY_PREFIX = [
    "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_", "glpat-", "glrt-", "gldt-", "glptt-",
    "gloas-", "glcbt-", "glimt-", "xoxa-", "xoxb-", "xoxp-", "xoxe-", "xoxr-", "xoxs-", "xapp-",
    "AKIA", "ASIA", "AIza", "sk_live_", "sk_test_", "rk_live_", "rk_test_", "sk-", "sk-ant-",
    "sk-proj-", "shpat_", "shpss_", "shpca_", "shppa_", "hf_", "hvs.", "hvb.", "pypi-", "SG.",
    "SK", "ya29.", "GOCSPX-", "whsec_", "dop_v1_", "npm_", "eyJ",
]  # fmt: skip
BODIES = ["0" * 70, "a" * 70, "A" * 70, "0a" * 36, "0A_-" * 9, "a" * 20 + "." + "b" * 20 + ".c"]


@pytest.mark.parametrize("prefix", EVERY_PREFIX)
def test_every_kind_is_hidden_as_the_plain_spelling_hides_it(prefix: str) -> None:
    hidden = 0
    for body in BODIES:
        for length in (8, 10, 16, 20, 32, 35, 36, 64, 70):
            for before, after in (("", ""), (" ", " "), ("x", ""), ("/", "/"), (".", "-")):
                text = f"{before}{prefix}{body[:length]}{after} {prefix}{body}"
                shown = hide_known_tokens(text, "<h>")
                assert shown == WRITTEN.sub("<h>", text), text
                hidden += shown.startswith(f"{before}<h>")
    assert hidden  # each kind is found, at the start too
