"""The commands of a POSIX sh fragment as a tree, parsed by dash's grammar.

dash parses a whole line (a compound command: up to its closing word) before
it runs any of it, and so does this module: ``parse`` yields the lists of one
line at a time (a file of 500,000 lines is not held whole), each a tree of
and-or lists, pipelines, simple commands and compound commands (``{ }``,
``( )``, ``if``, loops, ``case``, function definitions), whatever their
nesting and however they share lines (``if { true; }; then``, ``{ { :; } }``,
``f() if ...``). Reserved words count only where a command starts, unquoted.
What does not parse is dash's syntax error, which stops the shell: one error
naming its line.

Compound commands nest at most ``MAX_NESTING`` deep (across ``.`` too): the
tree is walked by recursion, and real start-up files nest a few levels.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator

from ..errors import ApacheConfigError
from .shell_lexer import (
    SPECIAL_BUILTINS,
    Command,
    ShellSyntaxError,
    Token,
    Tokens,
    Word,
    bare,
    split_redirection,
)
from .shell_scan import NAME
from .shell_tree import AndOr, Compound, Node, Pipeline

__all__ = ["MAX_NESTING", "parse"]

MAX_NESTING = 32
# Reserved words that end a list where a command would start (and "in",
# which starts none).
_ENDS_LIST = frozenset(("then", "do", "done", "elif", "else", "esac", "fi", "}", "in"))
_OPENERS = frozenset(("if", "while", "until", "for", "case", "{"))


def parse(
    text: str,
    file: str,
    *,
    count: Callable[[int], None] | None = None,
    work: Callable[[int], None] | None = None,
    nesting: int = 0,
    dash: bool = True,
) -> Iterator[list[AndOr]]:
    """The lists of ``text``, a line (with the compound commands it opens) at a time.

    Args:
        text: the file's text.
        file: how the file is named in errors.
        count: called with each simple command's line (bounds the commands).
        work: called with each token's line as it is read (bounds the parsing).
        nesting: compound commands already open around this text (``.`` inside one).
        dash: dash's grammar (Debian's envvars); else bash's, which takes
            any word as a function's name.

    Raises:
        ApacheConfigError: a syntax error (dash stops there) or nesting past MAX_NESTING.
    """
    parser = _Parser(Tokens(text, file, dash=dash), file, count, nesting)
    parser.work, parser.dash = work, dash
    while True:
        lists = parser.top_line()
        if lists is None:
            return
        if lists:
            yield lists


class _Parser:
    def __init__(
        self, tokens: Tokens, file: str, count: Callable[[int], None] | None, nesting: int
    ) -> None:
        self.tokens = tokens
        self.file = file
        self.count = count
        self.nesting = nesting
        self.heredocs: deque[tuple[Word, bool]] = deque()  # bodies to fill, in order
        self.work: Callable[[int], None] | None = None
        self.dash = True

    # -- tokens -----------------------------------------------------------------------

    def next(self) -> Token | None:
        pushed_back = bool(self.tokens.back)
        token = self.tokens.next()
        if token is not None and not pushed_back and self.work is not None:
            self.work(token[2])
        if token is not None and token[0] == "newline":
            # The bodies of the here-documents opened on the line just ended.
            while self.tokens.bodies and self.heredocs:
                body, quoted = self.heredocs.popleft()
                text = self.tokens.bodies.popleft()
                body.parts = [] if quoted else [('"', text)]
        return token

    def peek(self) -> Token | None:
        token = self.next()
        if token is not None:
            self.tokens.push(token)
        return token

    def skip_newlines(self) -> None:
        while (token := self.next()) is not None and token[0] == "newline":
            pass
        if token is not None:
            self.tokens.push(token)

    def error(self, what: str, line: int) -> ApacheConfigError:
        return ShellSyntaxError(
            f"{what}: a syntax error to the shell sourcing the start-up files, which stops here",
            file=self.file,
            line=line,
        )

    def background(self, token: Token) -> None:
        """``&`` ends a command run in the background; bash reads ``&>`` and
        ``&>>`` as a redirection of both outputs, which dash's grammar has not."""
        text, index = self.tokens.text, self.tokens.index
        if not self.dash and not self.tokens.back and text.startswith(">", index):
            raise self.error("bash's &> redirection", token[2])

    def unexpected(self, token: Token | None, expecting: str = "") -> ApacheConfigError:
        if token is None:
            what = f"the file ends before its {expecting}" if expecting else "the file ends"
            return self.error(what, self.tokens.line)
        shown = _shown(token)
        suffix = f" (expecting {expecting!r})" if expecting else ""
        return self.error(f"{shown} unexpected{suffix}", token[2])

    def expect(self, word: str) -> None:
        token = self.next()
        if _keyword(token) != word:
            raise self.unexpected(token, word)

    # -- lists --------------------------------------------------------------------------

    def top_line(self) -> list[AndOr] | None:
        """The lists of one line at the top (None at the end of the file)."""
        self.skip_newlines()
        token = self.peek()
        if token is None:
            return None
        lists: list[AndOr] = []
        while True:
            token = self.peek()
            if token is None:
                return lists
            if token[0] == "newline":
                self.next()
                return lists
            if _ends_list(token):
                raise self.unexpected(token)
            lists.append(self.and_or())
            token = self.next()
            if token is None or token[0] == "newline":
                return lists
            if token[1] == "&":
                self.background(token)
                lists[-1].background = True
            elif token[1] != ";":
                raise self.unexpected(token)

    def compound_list(self, *, empty: bool = False) -> list[AndOr]:
        """The lists up to a closing word, ``)`` or ``;;`` (left unread)."""
        lists: list[AndOr] = []
        while True:
            self.skip_newlines()
            token = self.peek()
            if token is None or _ends_list(token):
                if not lists and not empty:
                    raise self.unexpected(self.next())
                return lists
            lists.append(self.and_or())
            token = self.next()
            if token is None:
                return lists
            if token[0] == "newline" or token[1] == ";":
                continue
            if token[1] == "&":
                self.background(token)
                lists[-1].background = True
                continue
            if _ends_list(token):
                self.tokens.push(token)
                return lists
            raise self.unexpected(token)

    def and_or(self) -> AndOr:
        pipelines = [self.pipeline()]
        connectors: list[str] = []
        while (token := self.peek()) is not None and token[0] == "op" and token[1] in ("&&", "||"):
            self.next()
            connectors.append(str(token[1]))
            self.skip_newlines()
            pipelines.append(self.pipeline())
        return AndOr(pipelines, connectors)

    def pipeline(self) -> Pipeline:
        negated = False
        if _keyword(self.peek()) == "!":
            self.next()
            negated = True
        commands = [self.command()]
        while (token := self.peek()) is not None and token[0] == "op" and token[1] == "|":
            self.next()
            self.skip_newlines()
            commands.append(self.command())
        return Pipeline(commands, negated)

    # -- commands -------------------------------------------------------------------------

    def command(self) -> Node:
        token = self.next()
        if token is None:
            raise self.unexpected(None, "a command")
        keyword = _keyword(token)
        if keyword in _OPENERS:
            node = self.nested(keyword or "", token[2])
        elif token[0] == "op" and token[1] == "(":
            if (
                not self.dash
                and not self.tokens.back
                and self.tokens.text.startswith("(", self.tokens.index)
            ):
                node = self.arithmetic(token[2])  # bash's (( ... ))
            else:
                node = self.nested("subshell", token[2])
        elif (token[0] == "word" and keyword is None) or (token[0] == "redir"):
            self.tokens.push(token)
            return self.simple()
        else:
            raise self.unexpected(token)
        while (token := self.peek()) is not None and token[0] == "redir":
            self.next()
            node.redirections.append(self.redirection_target(str(token[1]), token[2]))
            node.operators.append(str(token[1]))
        return node

    def nested(self, kind: str, line: int) -> Compound:
        if self.nesting >= MAX_NESTING:
            raise ApacheConfigError(
                f"compound commands nested more than {MAX_NESTING} deep (the most tcpaudit reads)",
                file=self.file,
                line=line,
            )
        self.nesting += 1
        try:
            return self.compound(kind, line)
        finally:
            self.nesting -= 1

    def compound(self, kind: str, line: int) -> Compound:
        if kind == "{":
            body = self.compound_list()
            self.expect("}")
            return Compound("group", line, [body])
        if kind == "subshell":
            body = self.compound_list()
            token = self.next()
            if token is None or token[0] != "op" or token[1] != ")":
                raise self.unexpected(token, ")")
            return Compound("subshell", line, [body])
        if kind == "if":
            return self.if_clause(line)
        if kind in ("while", "until"):
            condition = self.compound_list()
            self.expect("do")
            body = self.compound_list()
            self.expect("done")
            return Compound(kind, line, [condition, body])
        if kind == "for":
            return self.for_clause(line)
        return self.case_clause(line)

    def arithmetic(self, line: int) -> Compound:
        """bash's ``(( expression ))``: its text, up to the parentheses closing it."""
        text, tokens = self.tokens.text, self.tokens
        start = index = tokens.index  # at the second "("
        depth = 0
        while index < len(text):
            char = text[index]
            if char == "(":
                depth += 1
            elif char == ")":
                depth -= 1
                if depth == 0:
                    if not text.startswith(")", index + 1):
                        raise self.error('"))" expected', line)
                    tokens.line += text.count("\n", start, index)
                    tokens.index = index + 2
                    return Compound("arithmetic", line, [], name=text[start + 1 : index])
            index += 1
        raise self.unexpected(None, "))")

    def if_clause(self, line: int) -> Compound:
        parts: list[list[AndOr]] = []
        while True:
            parts.append(self.compound_list())
            self.expect("then")
            parts.append(self.compound_list())
            token = self.next()
            word = _keyword(token)
            if word == "elif":
                continue
            if word == "else":
                parts.append(self.compound_list())
                self.expect("fi")
                return Compound("if", line, parts, has_else=True)
            if word == "fi":
                return Compound("if", line, parts)
            raise self.unexpected(token, "fi")

    def for_clause(self, line: int) -> Compound:
        token = self.next()
        name = bare(token[1]) if token is not None and isinstance(token[1], Word) else None
        if name is None or not NAME.fullmatch(name):
            raise self.error("bad for loop variable", line if token is None else token[2])
        self.skip_newlines()
        token = self.next()
        words: list[Word] = []
        has_in = _keyword(token) == "in"
        if has_in:
            while (token := self.next()) is not None and token[0] == "word":
                assert isinstance(token[1], Word)
                words.append(token[1])
            if token is None or (token[0] != "newline" and token[1] != ";"):
                raise self.unexpected(token, "do")
            self.skip_newlines()
            token = self.next()
        elif token is not None and token[0] == "op" and token[1] == ";":
            self.skip_newlines()
            token = self.next()
        if _keyword(token) != "do":
            raise self.unexpected(token, "do")
        body = self.compound_list()
        self.expect("done")
        return Compound("for", line, [body], words=words, name=name, has_in=has_in)

    def case_clause(self, line: int) -> Compound:
        token = self.next()
        if token is None or token[0] != "word":
            raise self.unexpected(token, "a word")
        assert isinstance(token[1], Word)
        subject = token[1]
        self.skip_newlines()
        self.expect("in")
        case = Compound("case", line, [], words=[subject])
        while True:
            self.skip_newlines()
            token = self.next()
            if _keyword(token) == "esac":
                return case
            if token is not None and token[0] == "op" and token[1] == "(":
                token = self.next()
            # Patterns: any words (reserved ones too), joined by "|", then ")".
            patterns: list[Word] = []
            while True:
                if token is None or token[0] != "word":
                    raise self.unexpected(token, ")")
                assert isinstance(token[1], Word)
                patterns.append(token[1])
                token = self.next()
                if token is None or token[0] != "op" or token[1] not in ("|", ")"):
                    raise self.unexpected(token, ")")
                if token[1] == ")":
                    break
                token = self.next()
            case.patterns.append(patterns)
            case.parts.append(self.compound_list(empty=True))
            token = self.next()
            if _keyword(token) == "esac":
                return case
            if token is None or token[0] != "op" or token[1] != ";;":
                raise self.unexpected(token, ";;")

    def simple(self) -> Node:
        words: list[Word] = []
        redirections: list[Word] = []
        operators: list[str] = []
        line = 0
        while (token := self.next()) is not None:
            kind, value, token_line = token
            if kind == "redir":
                line = line or token_line
                redirections.append(self.redirection_target(str(value), token_line))
                operators.append(str(value))
            elif kind == "word":
                assert isinstance(value, Word)
                line = line or token_line
                words.append(value)
            elif kind == "op" and value == "(" and len(words) == 1 and not redirections:
                return self.function(words[0], line)
            else:
                self.tokens.push(token)
                break
        if self.count is not None:
            self.count(line)
        return Command(words, line, redirections, operators)

    def function(self, name_word: Word, line: int) -> Compound:
        token = self.next()
        if token is None or token[0] != "op" or token[1] != ")":
            raise self.unexpected(token, ")")
        name = bare(name_word)
        if name is None or not _good_function_name(name, self.dash):
            raise self.error("bad function name", line)
        self.skip_newlines()
        if self.nesting >= MAX_NESTING:
            raise self.error("a function nested too deep", line)
        self.nesting += 1
        try:
            body = self.command()
        finally:
            self.nesting -= 1
        if not self.dash and not isinstance(body, Compound):
            # bash takes only a compound command as a function's body
            # ("f() echo hi" is a syntax error to it; dash takes it).
            raise self.error("a function body that is no compound command", line)
        return Compound("function", line, [[AndOr([Pipeline([body])], [])]], name=name)

    def redirection_target(self, operator: str, line: int) -> Word:
        token = self.next()
        if token is None or token[0] != "word":
            raise self.unexpected(token, "a word")
        assert isinstance(token[1], Word)
        if split_redirection(operator)[1] in ("<<", "<<-"):
            # The delimiter is not expanded; the body, unless the delimiter is
            # quoted, is, when the command runs (its ':=' assigns).
            body = Word([])
            self.heredocs.append((body, any(kind for kind, _ in token[1].parts)))
            return body
        return token[1]


def _good_function_name(name: str, dash: bool) -> bool:
    """dash takes a name, not a special builtin's (nor local); bash most words."""
    if not dash:
        return "$" not in name and "`" not in name
    return NAME.fullmatch(name) is not None and name not in SPECIAL_BUILTINS and name != "local"


def _keyword(token: Token | None) -> str | None:
    """The reserved word ``token`` is where a command starts (``!`` too), or None."""
    if token is None or token[0] != "word" or not isinstance(token[1], Word):
        return None
    text = bare(token[1])
    return text if text in _ENDS_LIST or text in _OPENERS or text == "!" else None


def _ends_list(token: Token) -> bool:
    if token[0] == "op":
        return token[1] in (")", ";;")
    return _keyword(token) in _ENDS_LIST


def _shown(token: Token) -> str:
    kind, value, _ = token
    if kind == "newline":
        return "newline"
    if kind in ("op", "redir"):
        return f'"{value}"'
    keyword = _keyword(token)
    return f'"{keyword}"' if keyword is not None else "word"
