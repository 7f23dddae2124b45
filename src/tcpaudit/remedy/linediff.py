"""Line opcodes of a planned edit, in time linear in the file.

The plan knows which lines it changed (``FileEdit.spans``); only those
spans are compared line by line (difflib, on a few lines each), and the
rest of the file is equal by construction. Diffing whole files instead is
quadratic on a file that repeats one line thousands of times, which a
hostile or generated configuration does.

Opcodes are difflib's 5-tuples: (tag, before start, before end, after
start, after end), tag one of equal, replace, delete, insert.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Sequence

__all__ = ["Opcode", "Span", "grouped_opcodes", "span_opcodes"]

Opcode = tuple[str, int, int, int, int]
# A changed region: before lines [0]..[1] became after lines [2]..[3].
Span = tuple[int, int, int, int]


def span_opcodes(
    before: Sequence[str], after: Sequence[str], spans: Sequence[Span]
) -> list[Opcode]:
    """Every opcode from ``before`` to ``after``, the lines outside ``spans`` equal."""
    codes: list[Opcode] = []
    at_before = at_after = 0
    for start, end, new_start, new_end in sorted(spans):
        if start > at_before:
            codes.append(("equal", at_before, start, at_after, new_start))
        matcher = difflib.SequenceMatcher(
            None, before[start:end], after[new_start:new_end], autojunk=False
        )
        for tag, i1, i2, j1, j2 in matcher.get_opcodes():
            codes.append((tag, start + i1, start + i2, new_start + j1, new_start + j2))
        at_before, at_after = end, new_end
    if at_before < len(before):
        codes.append(("equal", at_before, len(before), at_after, len(after)))
    return _merged(codes)


def _merged(codes: list[Opcode]) -> list[Opcode]:
    """Adjacent opcodes of one kind joined, so equal runs are whole."""
    out: list[Opcode] = []
    for code in codes:
        tag, i1, i2, j1, j2 = code
        if i1 == i2 and j1 == j2:
            continue
        if out and out[-1][0] == tag:
            out[-1] = (tag, out[-1][1], i2, out[-1][3], j2)
        else:
            out.append(code)
    return out


def grouped_opcodes(codes: Sequence[Opcode], context: int) -> Iterator[list[Opcode]]:
    """The hunks of a unified diff: changes with up to ``context`` equal lines around them.

    Two changes closer than twice the context share a hunk.
    """
    if not any(tag != "equal" for tag, *_ in codes):
        return
    trimmed = list(codes)
    tag, i1, i2, j1, j2 = trimmed[0]
    if tag == "equal":
        trimmed[0] = (tag, max(i1, i2 - context), i2, max(j1, j2 - context), j2)
    tag, i1, i2, j1, j2 = trimmed[-1]
    if tag == "equal":
        trimmed[-1] = (tag, i1, min(i2, i1 + context), j1, min(j2, j1 + context))
    hunk: list[Opcode] = []
    for tag, i1, i2, j1, j2 in trimmed:
        if tag == "equal" and hunk and i2 - i1 > 2 * context:
            hunk.append((tag, i1, i1 + context, j1, j1 + context))
            yield hunk
            hunk = []
            i1, j1 = i2 - context, j2 - context
        hunk.append((tag, i1, i2, j1, j2))
    if hunk and any(tag != "equal" for tag, *_ in hunk):
        yield hunk
