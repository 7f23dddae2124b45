"""Which arguments of a macro's ``Use`` stand where a secret is.

A parameter is a secret's when its body puts it in a secret's place (a
URL's password, a secret-named ``Define``), directly, through a macro it
uses (one defined in its body, named by a ``${NAME}`` or by a parameter),
or through a ``Define`` of the body; or when this Use's values make a line
a secret's (``?$n=$v`` with n a token's name). ``macros.MacroTable`` keeps
where the values went and ``secret_hiding`` hides them after the walk.
"""

from __future__ import annotations

from collections.abc import Callable

from .continuation import JoinedLine
from .lexer import first_word, split_words
from .macro_text import Macro, MacroError, parse_macro_header
from .secret_checks import is_secret_directive
from .secret_flows import FLOW_DIRECTIVES, SecretFlows
from .secret_words import redact_arguments, references_in_secrets
from .shell_state import REDACTED_VALUE
from .values import ascii_lower
from .variables import MIN_HIDDEN_VALUE, references

__all__ = [
    "MAX_PARAMETER_LINES",
    "names_a_macro_by_variable",
    "secret_by_values",
    "secret_parameters",
    "used_macro_names",
    "values_hidden_in",
]

# Parameters x body lines that the secret work goes through (each pair costs
# up to about 30 us with lines of many words: some seconds); past it every
# parameter is a secret's, and hiding that many is refused.
MAX_PARAMETER_LINES = 250_000


def secret_parameters(
    macro: Macro,
    secret_of: Callable[[str], set[int]],
    resolve: Callable[[str], str] = str,
    secret_anywhere: Callable[[], set[int]] = set,
) -> set[int]:
    """The indexes of the parameters ``macro`` puts where a secret is: directly,
    through a ``Use`` of another macro (``secret_of(name)``: that macro's; a
    name written ``${NAME}`` is ``resolve``d; one made of a parameter may be
    any macro's, ``secret_anywhere``), or through a ``Define`` of the body
    whose ``${NAME}`` the body puts there."""
    if len(macro.parameters) * len(macro.body) > MAX_PARAMETER_LINES:
        # Each body line is compared with each parameter: past this, every
        # parameter is taken for a secret's (its values hidden), not worked out.
        return set(range(len(macro.parameters)))
    found: set[str] = set()
    # Macros the body defines (a Use of one, later in the body, is of it).
    local = _defined_in_body(macro)
    if local:
        outer_secret_of = secret_of
        local_secrets: dict[str, set[int]] = {}

        def secret_of(name: str) -> set[int]:
            if name in local_secrets:
                return local_secrets[name]
            return outer_secret_of(name)

        for nested in local:
            local_secrets[nested.name] = secret_parameters(
                nested, secret_of, resolve, secret_anywhere
            )
    # Define NAME ...$p... in the body: ${NAME} -> the parameters in its value.
    defined: dict[str, set[str]] = {}
    for _number, text, _file in macro.body:
        name, rest = first_word(text)
        if name.lower() == "define":
            words = split_words(rest)
            held = {p for p in macro.parameters if any(p in word for word in words[1:])}
            if len(words) > 1 and held:
                defined.setdefault(words[0].lower(), set()).update(held)
    # Each ${NAME} of the body naming one of them, as written (httpd's
    # Defines match whatever the case).
    if defined:
        written = {
            "${" + name + "}": defined[name.lower()]
            for _number, text, _file in macro.body
            if "${" in text
            for name in references(text)
            if name.lower() in defined
        }
        defined = written
    looked_for = {*macro.parameters, *defined}
    for _number, text, _file in macro.body:
        name, rest = first_word(text)
        key = name.lower().lstrip("<").rstrip(">")
        if key == "use":
            words = split_words(rest)
            if not words:
                continue
            if any(parameter in words[0] for parameter in macro.parameters):
                inner = secret_anywhere()
            else:
                inner = secret_of(ascii_lower(resolve(words[0])))
            for index in inner:
                if index + 1 < len(words):
                    found.update(p for p in looked_for if p in words[index + 1])
        elif "@" in text or is_secret_directive(key):
            found |= references_in_secrets(key, split_words(rest), looked_for)
    found |= _flowing_to_secrets(macro, looked_for)
    for reference in found & defined.keys():
        found |= defined[reference]
    return {index for index, parameter in enumerate(macro.parameters) if parameter in found}


def _flowing_to_secrets(macro: Macro, looked_for: set[str]) -> set[str]:
    """The parameters (and ``${NAME}``s of ``looked_for``) the body puts in a
    variable or request header that a secret of the body reads (``SetEnv X $v``
    with ``RequestHeader set Authorization "Bearer %{X}e"``), followed as the
    reader's SecretFlows follows them."""
    flows = SecretFlows()
    texts: dict[int, str] = {}
    for index, (_number, text, _file) in enumerate(macro.body):
        name, rest = first_word(text)
        key = name.lower().lstrip("<").rstrip(">")
        if key not in FLOW_DIRECTIVES:
            continue
        words = tuple(split_words(rest.rstrip().rstrip(">") if name[:1] == "<" else rest))
        texts[index] = text
        # Places by the body's index: a body's lines may come from two files.
        flows.note_line(key, words, "", index)
        redacted = redact_arguments(key, words)
        for before, after in zip(words, redacted, strict=True):
            if before != after:
                flows.note_secret(before)
    found: set[str] = set()
    for _file, index in flows.value_lines():
        text = texts[index]
        found.update(parameter for parameter in looked_for if parameter in text)
    return found


def secret_by_values(
    macro: Macro,
    values: list[str],
    expansion: list[tuple[int, str, str]],
    resolve: Callable[[str], str] = str,
    completed_last: str | None = None,
) -> set[int]:
    """The indexes of the parameters whose values a line of this expansion
    hides as a secret (the reader's rule on the expanded words, its
    ``${NAME}``s ``resolve``d as the line will read): the value is gone from
    the words once hidden. Lines are judged as httpd joins them: a value
    ending in a backslash joins the line it ends to the next (a URL's password
    made of two body lines), and ``completed_last`` is the expansion's last
    line as the file's next lines complete it, when they do."""
    found: set[int] = set()
    if len(values) != len(macro.parameters):
        return found
    if len(values) * len(expansion) > MAX_PARAMETER_LINES:
        return set(range(len(values)))  # as secret_parameters past the same bound
    here: set[int] = set()  # the parameters written in the lines joined so far
    joined: JoinedLine | None = None
    for (_number, text, _file), (_, written, _) in zip(expansion, macro.body, strict=True):
        here.update(
            index
            for index, parameter in enumerate(macro.parameters)
            if parameter in written and len(values[index]) >= MIN_HIDDEN_VALUE
        )
        if joined is None:
            if not text.endswith("\\"):
                if here:
                    found |= values_hidden_in(text, here, values, resolve)
                    here = set()
                continue
            joined = JoinedLine()
        if joined.add(text):
            continue
        if here:
            found |= values_hidden_in(joined.text(), here, values, resolve)
        here, joined = set(), None
    if joined is not None and here:
        found |= values_hidden_in(
            joined.text() if completed_last is None else completed_last, here, values, resolve
        )
    return found


def values_hidden_in(
    text: str, here: set[int], values: list[str], resolve: Callable[[str], str]
) -> set[int]:
    """Those of ``here`` whose values the reader's rule hides in ``text``."""
    text = resolve(text)
    name, rest = first_word(text)
    key = name.lower().lstrip("<").rstrip(">")
    if "@" not in text and not is_secret_directive(key):
        return set()
    words = tuple(split_words(rest))
    redacted = redact_arguments(key, words)
    if redacted == words:
        return set()
    written = " ".join(words)
    # The placeholder's own letters are no value's ("audit-re" stands in it).
    kept = " ".join(redacted).replace(REDACTED_VALUE, "\0")
    hidden: set[int] = set()
    for index in here:
        value = values[index]
        if value not in written:
            # A value whose final backslash a continuation took stands without it.
            value = value.removesuffix("\\")
        # Hidden somewhere: it stands fewer times once the line is redacted
        # (a copy in the route's path does not make the query's value no secret).
        if value and kept.count(value) < written.count(value):
            hidden.add(index)
    return hidden


def _defined_in_body(macro: Macro) -> list[Macro]:
    """The macros ``macro``'s body defines at its own level, in order."""
    found: list[Macro] = []
    body = macro.body
    index = 0
    while index < len(body):
        number, text, file = body[index]
        index += 1
        name, rest = first_word(text)
        if name.lower() != "<macro":
            continue
        depth = 1
        inner: list[tuple[int, str, str]] = []
        while index < len(body) and depth:
            line = body[index]
            index += 1
            key = first_word(line[1])[0].lower()
            depth += (key == "<macro") - (key.rstrip(">") == "</macro")
            if depth:
                inner.append(line)
        try:
            inner_name, parameters = parse_macro_header(rest)
        except MacroError:
            continue
        found.append(Macro(inner_name, parameters, tuple(inner), file, number))
    return found


def names_a_macro_by_variable(macro: Macro) -> bool:
    """Whether a ``Use`` of ``macro``'s body names its macro by a ``${NAME}``."""
    return any(
        first_word(text)[0].lower() == "use" and "${" in first_word(first_word(text)[1])[0]
        for _number, text, _file in macro.body
    )


def used_macro_names(macro: Macro, resolve: Callable[[str], str] = str) -> list[str]:
    """The names of the macros ``macro``'s body uses, lower-cased."""
    names = []
    for _number, text, _file in macro.body:
        name, rest = first_word(text)
        if name.lower() == "use":
            words = split_words(rest)
            if words:
                names.append(ascii_lower(resolve(words[0])))
    return names
