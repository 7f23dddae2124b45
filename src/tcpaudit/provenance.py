"""Where a value came from: the small types every model in tcpaudit shares.

Every value tcpaudit reports carries its provenance, so an operator can open
the file that decides it: a file and line, a /proc path, or a named default.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = ["Location", "Note"]


class Location(BaseModel):
    """A place in an audited file; ``file`` is relative to the audited root."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    file: str
    line: int | None = None

    def __str__(self) -> str:
        return self.file if self.line is None else f"{self.file}:{self.line}"


class Note(BaseModel):
    """Something a loader noticed that is not an error (Apache or the kernel tolerate it)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    message: str
    file: str | None = None
    line: int | None = None

    def __str__(self) -> str:
        if self.file is None:
            return self.message
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{where}: {self.message}"
