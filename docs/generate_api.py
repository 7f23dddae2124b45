"""Write docs/api.md, the library reference, from the docstrings of ``tcpaudit.__all__``.

    python docs/generate_api.py           # rewrite docs/api.md
    python docs/generate_api.py --check   # exit 1 when docs/api.md is stale

The tests run the check (tests/test_api_docs.py) and execute every example
the reference shows, so the page cannot drift from the code.
"""

from __future__ import annotations

import inspect
import re
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import tcpaudit

OUTPUT = Path(__file__).resolve().parent / "api.md"
# Google-style section headings, as the docstrings spell them.
SECTIONS = ("Args", "Attributes", "Returns", "Raises", "Example", "Examples")
_SECTION = re.compile(rf"^({'|'.join(SECTIONS)}):(:?)$")

INTRO = """\
# tcpaudit library reference

Generated from the docstrings by `python docs/generate_api.py`; the tests fail
when this page is stale, and they run every example on it from the
repository's root. Everything listed here is importable from `tcpaudit` and is
the whole public surface (`tcpaudit.__all__`); other modules may change.

```python
import tcpaudit

facts = tcpaudit.gather(root="examples/closewait-incident")  # HostFacts
report = tcpaudit.audit(facts)                                # Report
print(report.grade, [finding.rule for finding in report.findings][:3])
```
"""


def public_names() -> dict[str, list[str]]:
    """The names of ``tcpaudit.__all__`` grouped as the page shows them."""
    groups: dict[str, list[str]] = {"Functions": [], "Models": [], "Errors": []}
    for name in tcpaudit.__all__:
        value = getattr(tcpaudit, name)
        if name.startswith("__"):
            continue
        if inspect.isfunction(value):
            groups["Functions"].append(name)
        elif isinstance(value, type) and issubclass(value, BaseException):
            groups["Errors"].append(name)
        else:
            groups["Models"].append(name)
    return groups


def own_docstring(value: object) -> str | None:
    """The docstring the object itself declares (not one inherited from pydantic or str)."""
    if isinstance(value, type):
        doc = value.__dict__.get("__doc__")
        return inspect.cleandoc(doc) if isinstance(doc, str) else None
    return inspect.getdoc(value)


def render_docstring(doc: str) -> str:
    """Markdown for a Google-style docstring: sections as bold labels, examples as code."""
    out: list[str] = []
    lines = doc.splitlines()
    index = 0
    while index < len(lines):
        line = lines[index]
        match = _SECTION.match(line.strip())
        if match is not None and not line.startswith(" "):
            heading, literal = match.groups()
            block, index = _indented_block(lines, index + 1)
            out.append(f"**{heading}**")
            out.append("")
            if literal or heading.startswith("Example"):
                out += ["```python", *block, "```"]
            else:
                out += _definition_list(block)
            out.append("")
            continue
        if line.rstrip().endswith("::") and not line.startswith(" "):
            block, index = _indented_block(lines, index + 1)
            out += [line.rstrip()[:-1], "", "```text", *block, "```", ""]
            continue
        out.append(line)
        index += 1
    return "\n".join(out).strip() + "\n"


def _indented_block(lines: list[str], start: int) -> tuple[list[str], int]:
    """The lines indented under a heading (blank lines inside kept), dedented."""
    while start < len(lines) and not lines[start].strip():
        start += 1
    end = start
    while end < len(lines) and (not lines[end].strip() or lines[end].startswith(" ")):
        end += 1
    while end > start and not lines[end - 1].strip():
        end -= 1
    block = textwrap.dedent("\n".join(lines[start:end])).splitlines()
    return block, end


def _definition_list(block: list[str]) -> list[str]:
    """``name: text`` entries (continuation lines folded in) as a Markdown list."""
    items: list[str] = []
    for line in block:
        if line and not line.startswith(" ") and ":" in line:
            name, _, text = line.partition(":")
            items.append(f"- `{name.strip()}`: {text.strip()}")
        elif items and line.strip():
            items[-1] += " " + line.strip()
        elif line.strip():
            items.append(line.strip())
    return items


def signature(name: str, value: object) -> str:
    """``tcpaudit.name(params) -> return``, types as the source spells them, one per line."""
    described = inspect.signature(value)  # type: ignore[arg-type]  # functions only
    params: list[str] = []
    keyword_only = False
    for param in described.parameters.values():
        if param.kind is param.KEYWORD_ONLY and not keyword_only:
            params.append("*")
            keyword_only = True
        text = param.name
        if param.annotation is not param.empty:
            text += f": {_spelled(param.annotation)}"
        if param.default is not param.empty:
            text += f" = {param.default!r}"
        params.append(text)
    returned = described.return_annotation
    arrow = "" if returned is described.empty else f" -> {_spelled(returned)}"
    one_line = f"tcpaudit.{name}({', '.join(params)}){arrow}"
    if len(one_line) <= 88:
        return one_line
    body = "".join(f"    {param},\n" for param in params)
    return f"tcpaudit.{name}(\n{body}){arrow}"


def _spelled(annotation: object) -> str:
    # With postponed annotations these are the source's own strings.
    return (
        annotation
        if isinstance(annotation, str)
        else getattr(annotation, "__name__", repr(annotation))
    )


def model_fields(value: type) -> list[str]:
    """``name: type`` of each field of a pydantic model, with types as the source spells them."""
    fields = getattr(value, "model_fields", None)
    if not fields:
        return []
    spelled: dict[str, str] = {}
    for klass in reversed(value.__mro__):
        for field, annotation in inspect.get_annotations(klass).items():
            spelled[field] = annotation if isinstance(annotation, str) else repr(annotation)
    lines = [f"{field}: {spelled.get(field, '?')}" for field in fields]
    computed = getattr(value, "model_computed_fields", {})
    lines += [
        f"{field}: {_spelled(info.return_type)}  # computed, read-only"
        for field, info in computed.items()
    ]
    return lines


def render_name(name: str) -> Iterator[str]:
    value = getattr(tcpaudit, name)
    doc = own_docstring(value)
    if doc is None:
        raise SystemExit(f"tcpaudit.{name} has no docstring of its own")
    yield f"### `{name}`"
    yield ""
    if inspect.isfunction(value):
        yield f"```python\n{signature(name, value)}\n```"
        yield ""
    elif isinstance(value, type) and issubclass(value, BaseException):
        parent = value.__mro__[1].__name__
        yield f"`class {name}({parent})`"
        yield ""
    else:
        fields = model_fields(value)
        if fields:
            yield "```python"
            yield f"class {name}:"
            yield from (f"    {line}" for line in fields)
            yield "```"
            yield ""
        elif issubclass(value, str):
            members = ", ".join(f"`{member}`" for member in value)
            yield f"Values: {members}."
            yield ""
    yield render_docstring(doc)


def render() -> str:
    parts = [INTRO]
    for group, names in public_names().items():
        parts.append(f"## {group}\n")
        for name in names:
            parts.append("\n".join(render_name(name)))
    text = "\n".join(parts)
    return re.sub(r"\n{3,}", "\n\n", text).rstrip() + "\n"


def examples() -> dict[str, str]:
    """The code of every ``Example::`` section on the page, by public name."""
    found: dict[str, str] = {}
    for names in public_names().values():
        for name in names:
            doc = own_docstring(getattr(tcpaudit, name)) or ""
            lines = doc.splitlines()
            for index, line in enumerate(lines):
                if _SECTION.match(line.strip()) and line.strip().startswith("Example"):
                    block, _ = _indented_block(lines, index + 1)
                    found[name] = "\n".join(block)
    return found


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        current = OUTPUT.read_text(encoding="utf-8") if OUTPUT.exists() else ""
        if current != text:
            print("docs/api.md is stale: run python docs/generate_api.py", file=sys.stderr)
            return 1
        return 0
    OUTPUT.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
