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
from collections.abc import Iterator

from .provenance import Note

__all__ = ["MAX_NOTES", "NOTES_PER_KIND", "BoundedNotes", "limit_notes", "note_kind"]

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
    return _limit(notes, kinds, counts, per_kind, total)


def _limit(
    notes: list[Note], kinds: list[str], counts: Counter[str], per_kind: int, total: int
) -> list[Note]:
    # ``counts`` may be larger than ``kinds`` holds: BoundedNotes keeps only
    # the first per_kind + 1 notes of a kind and counts the rest.
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


class BoundedNotes:
    """Notes collected as they come, in memory bounded by kinds, not by notes.

    What ``limit_notes`` would make of every note appended, without holding
    them all: a start-up file of 500,000 unknown commands gave as many notes
    (1.3 GB for three such files) before they were cut to twenty.
    """

    def __init__(self, per_kind: int = NOTES_PER_KIND, total: int = MAX_NOTES) -> None:
        self.per_kind = per_kind
        self.total = total
        self._notes: list[Note] = []
        self._kinds: list[str] = []
        self._counts: Counter[str] = Counter()
        self._kind_of: dict[str, str] = {}  # message -> kind, for append_message

    def append_message(self, message: str, file: str | None, line: int | None) -> None:
        """``append(Note(...))`` without building the note once its kind is over
        the bound: a start-up file of millions of one construct costs a count each."""
        kind = self._kind_of.get(message)
        if kind is None:
            kind = note_kind(Note(message=message))
            if len(self._kind_of) < 4096:
                self._kind_of[message] = kind
        if self._counts[kind] > self.per_kind:
            self._counts[kind] += 1
            return
        self.append(Note(message=message, file=file, line=line))

    def append(self, note: Note) -> None:
        """Count ``note``; keep it if it is among the first per_kind + 1 of its kind."""
        kind = note_kind(note)
        self._counts[kind] += 1
        if self._counts[kind] <= self.per_kind + 1:
            self._notes.append(note)
            self._kinds.append(kind)

    def __len__(self) -> int:
        return len(self.result())

    def __iter__(self) -> Iterator[Note]:
        return iter(self.result())

    def result(self) -> list[Note]:
        """The notes as ``limit_notes`` bounds them."""
        if len(self._notes) <= self.per_kind:
            return list(self._notes)
        if max(self._counts.values()) <= self.per_kind and len(self._notes) <= self.total:
            return list(self._notes)
        return _limit(self._notes, self._kinds, self._counts, self.per_kind, self.total)
