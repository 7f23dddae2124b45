"""Where a value came from: the small types every model in tcpaudit shares.

Every value tcpaudit reports carries its provenance, so an operator can open
the file that decides it: a file and line, a /proc path, or a named default.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import ConfigDict, Field, StringConstraints, field_validator

from .first_error import FirstErrorModel

__all__ = ["FileLine", "LineNumber", "Location", "Note"]

# A line of a file: 1-based, as editors and SARIF (startLine >= 1) count. A
# facts document or report read back must say no other (a line 0 or -5 went
# into SARIF as it was).
LineNumber = Annotated[int, Field(ge=1, le=2**31 - 1)]
# "file:line" as a model field holds it (ProxyRoute.param_lines...): the line
# in at most nine ASCII digits, so it is always a LineNumber (no file read
# within the 64 MiB bound has a billion lines). Written for JSON Schema's
# dialect as well as pydantic's: "$" ends the text.
FileLine = Annotated[str, StringConstraints(pattern=r"^[\s\S]*:[1-9][0-9]{0,8}$")]


class Location(FirstErrorModel):
    """A place in an audited file; ``file`` is relative to the audited root."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    file: str
    line: LineNumber | None = None

    def __str__(self) -> str:
        return self.file if self.line is None else f"{self.file}:{self.line}"


class Note(FirstErrorModel):
    """Something a loader noticed that is not an error (Apache or the kernel tolerate it)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    message: str
    file: str | None = None
    line: LineNumber | None = None

    @field_validator("line", mode="before")
    @classmethod
    def _whole_file(cls, line: object) -> object:
        # A note about a file as a whole (a start-up file apachectl sources,
        # a unit's built-in default) has no line; 0 or less says so too.
        return None if isinstance(line, int) and not isinstance(line, bool) and line < 1 else line

    def __str__(self) -> str:
        if self.file is None:
            return self.message
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{where}: {self.message}"
