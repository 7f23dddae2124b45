"""``Define``/``UnDefine``, ``-D`` names and ``${VAR}`` substitution, as httpd 2.4 does them.

Owns the rules of ``set_define``/``unset_define`` and ``ap_resolve_env``
(server/core.c); ``evaluator.py`` calls them line by line.

- ``-D NAME`` and ``Define NAME`` make ``<IfDefine NAME>`` true; only
  ``Define NAME VALUE`` gives ``${NAME}`` a value (an empty one is a value);
- ``${NAME}`` is looked up in the defined values, then in httpd's environment;
  an undefined one is left as written, with a warning (a note here) unless the
  name holds a ``:`` (expressions such as ``${SSL:...}``); one pass, whole line;
- a name holding ``:`` cannot be defined.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from ..errors import ApacheConfigError
from ..provenance import Note

__all__ = ["Variables"]

_VARIABLE = re.compile(r"\$\{([^}]*)\}")
# What ${VAR} substitution may add to a whole configuration: as much as one
# file may hold. Define chains (a=${b}${b}...) and a self-referencing Define in
# a recursive include otherwise double the text at every step.
MAX_SUBSTITUTED_BYTES = 64 * 1024 * 1024


class Variables:
    """The names and values in force while httpd reads its files."""

    def __init__(self, defines: Iterable[str], environment: Mapping[str, str]) -> None:
        # -D names are kept as given, repeats included: httpd's main.c pushes each
        # one, and UnDefine removes only the first it finds (unset_define), so
        # `-D X -D X` and `UnDefine X` leave X defined (differential, apache2 2.4.71).
        self.defines: list[str] = list(defines)
        self.values: dict[str, str] = {}
        self.environment = dict(environment)
        self.notes: list[Note] = []
        self.substituted = 0

    def substitute(self, line: str, file: str, number: int) -> str:
        """Replace every ``${NAME}`` of a line, once."""
        if "${" not in line:
            return line

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in self.values:
                return self.values[name]
            if name in self.environment:
                return self.environment[name]
            if ":" not in name:
                self.notes.append(
                    Note(
                        message=f"config variable ${{{name}}} is not defined",
                        file=file,
                        line=number,
                    )
                )
            return match.group(0)

        # Check the size before building the line: the result may be huge.
        values, environment = self.values, self.environment
        grown = 0
        for name in _VARIABLE.findall(line):
            value = values.get(name)
            if value is None:
                value = environment.get(name)
            if value is not None:
                grown += len(value)
        self.substituted += grown
        if self.substituted > MAX_SUBSTITUTED_BYTES:
            raise ApacheConfigError(
                f"${{VAR}} substitution produces more than {MAX_SUBSTITUTED_BYTES} bytes",
                file=file,
                line=number,
            )
        return _VARIABLE.sub(replace, line)

    def apply(self, key: str, args: list[str], file: str, number: int) -> None:
        """Execute ``Define`` (``key`` "define") or ``UnDefine`` ("undefine")."""
        if len(args) not in ((1, 2) if key == "define" else (1,)):
            reason = (
                "Define takes 1-2 arguments" if key == "define" else "UnDefine takes one argument"
            )
            raise ApacheConfigError(reason, file=file, line=number)
        name = args[0]
        if ":" in name:
            raise ApacheConfigError("Variable name must not contain ':'", file=file, line=number)
        if key == "define":
            if name not in self.defines:
                self.defines.append(name)
            if len(args) == 2:
                self.values[name] = args[1]
            return
        if name in self.defines:
            self.defines.remove(name)
        self.values.pop(name, None)
