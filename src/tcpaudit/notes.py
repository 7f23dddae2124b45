"""Bound the notes a loader returns: a hostile input must not turn into a report of megabytes.

A sysctl.d file of 30,000 unknown keys would otherwise give 30,000 notes,
each copied into every report format. ``limit_notes`` keeps the first notes
of each kind and replaces the rest by one note saying how many more there
were. A note's kind is its message with the parts that vary from line to
line (quoted text, numbers, keys, paths) blanked out.
"""

from __future__ import annotations

import re
from collections import Counter

from .provenance import Note

__all__ = ["MAX_NOTES", "NOTES_PER_KIND", "limit_notes", "note_kind"]

NOTES_PER_KIND = 20
MAX_NOTES = 500

# A word holding a dot, slash, quote or digit: a key, path, number or quoted value.
_VARYING = re.compile(r"(?<!\S)[^\s./'\"\d]*[./'\"\d]\S*")


def note_kind(note: Note) -> str:
    """The message with what varies between notes of one kind replaced by ``_``."""
    return _VARYING.sub("_", note.message)


def limit_notes(
    notes: list[Note], per_kind: int = NOTES_PER_KIND, total: int = MAX_NOTES
) -> list[Note]:
    """At most ``per_kind`` notes of each kind and ``total`` in all, in order, then a count.

    Each kind over its bound gets one more note, where the first note left
    out was, quoting it and saying how many were left out.
    """
    if len(notes) <= per_kind:
        return notes
    kinds = [note_kind(note) for note in notes]
    counts = Counter(kinds)
    if max(counts.values()) <= per_kind and len(notes) <= total:
        return notes
    kept: list[Note] = []
    seen: Counter[str] = Counter()
    dropped = 0
    for note, kind in zip(notes, kinds, strict=True):
        seen[kind] += 1
        if seen[kind] <= per_kind:
            if len(kept) < total:
                kept.append(note)
            else:
                dropped += 1
        elif seen[kind] == per_kind + 1:
            more = counts[kind] - per_kind
            if len(kept) < total:
                kept.append(
                    Note(
                        message=f"{more} more notes like this one left out: {note.message}",
                        file=note.file,
                        line=note.line,
                    )
                )
            else:
                dropped += more
    if dropped:
        kept.append(Note(message=f"{dropped} more notes left out (at most {total} are kept)"))
    return kept
