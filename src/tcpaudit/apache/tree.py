"""The effective directive tree: what is left after includes and conditionals.

A plain slotted class tree rather than pydantic models: a 10,000-vhost
configuration has hundreds of thousands of nodes and needs no validation.

It is httpd's tree (what ``apache2 -t -D DUMP_CONFIG`` prints) with two
differences: ``LoadModule``, ``Define``, ``UnDefine`` and ``ServerRoot`` stay
in it, although httpd executes them while reading and keeps them out, because
they say which modules and names the configuration relies on; and a directive
expanded from a mod_macro ``Use`` keeps the file and line of the macro body
line, where httpd names the use instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

__all__ = ["Directive"]


@dataclass(slots=True, init=False)
class Directive:
    """One directive or section as Apache applies it.

    Attributes:
        name: the name as spelled in the file (``MaxClients``, ``VirtualHost``).
        args: the words after the name, variables already substituted.
        file: the file, as shown in reports (relative to the audited root).
        line: 1-based line (the last physical line of a continued line).
        children: the contents of a section, or None for a plain directive.
        key: the lower-cased name, since directive names are case-insensitive.
    """

    name: str
    args: tuple[str, ...]
    file: str
    line: int
    children: list[Directive] | None
    # Not an init field: dataclasses.replace() recomputes it from the name.
    key: str = field(init=False)

    # A hand-written __init__ rather than __post_init__: the key is computed
    # here (or passed in, already lower-cased and shared, by the evaluator)
    # without a second call per node.
    def __init__(
        self,
        name: str,
        args: tuple[str, ...],
        file: str,
        line: int,
        children: list[Directive] | None = None,
        key: str | None = None,
    ) -> None:
        self.name = name
        self.args = args
        self.file = file
        self.line = line
        self.children = children
        self.key = name.lower() if key is None else key

    @property
    def is_section(self) -> bool:
        return self.children is not None

    def walk(self) -> Iterator[Directive]:
        """Yield this directive and every directive inside it, in file order.

        Iterative, with an explicit stack: nested generators cost a frame per
        level and per node.
        """
        pending = [self]
        while pending:
            directive = pending.pop()
            yield directive
            if directive.children:
                pending.extend(reversed(directive.children))
