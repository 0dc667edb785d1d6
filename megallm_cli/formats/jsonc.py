"""Minimal edits to JSON and JSONC text: change one member, keep every other byte.

Values are located by scanning the text, never by re-serializing a parsed document, so comments,
key order, indentation, trailing commas, line endings and a UTF-8 BOM survive. Values that an edit
does not descend into are skipped by a regular expression that runs at C speed, which keeps
edits of a 50 MB `~/.claude.json` well under a second. Skipped values are only checked for
balanced brackets and well-formed strings and comments; `parse` validates everything.
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, NoReturn

__all__ = [
    "JsoncSyntaxError",
    "append_to_array",
    "delete_value",
    "detect_indent",
    "detect_newline",
    "first_comment_position",
    "get",
    "has_comments",
    "parse",
    "remove_from_array",
    "set_value",
    "strip_comments",
    "value_type",
]

_BOM = "\ufeff"
_DEFAULT_INDENT = "  "
# How far detect_indent looks: the first lines tell the style, and a 50 MB file must stay cheap.
_INDENT_SAMPLE_CHARS = 65_536
# Nesting depth the skip pattern matches by itself; deeper values fall back to a Python loop.
_NESTING_IN_PATTERN = 12
# Tokens per regex call while skipping: bounds the backtracking state `re` keeps for one call.
_TOKENS_PER_MATCH = 4096
# json's decoder recurses once per level and gives up at Python's recursion limit: about 990
# levels on 3.10 and 3.11, less the caller's stack frames; 1500 on 3.12; 10 000 on 3.13. It
# always reads this many, so when it gives up, the error points at the first value nested
# deeper (real configs nest some 20 levels). The validator, a loop like this module's other
# scans, refuses deeper values wherever it checks a text itself.
_MAX_NESTING = 512

_STRING = r'"[^"\\\x00-\x1f]*(?:\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4})[^"\\\x00-\x1f]*)*"'
_LINE_COMMENT = r"//[^\r\n]*"
_BLOCK_COMMENT = r"/\*[^*]*\*+(?:[^/*][^*]*\*+)*/"
# Each blank run and line comment is taken whole, so a gap splits only one way: a pattern that
# fails after a gap (a key not followed by ':') backtracks in linear, not exponential, time.
_GAP = rf"(?:[ \t\r\n]+(?![ \t\r\n])|{_LINE_COMMENT}(?![^\r\n])|{_BLOCK_COMMENT})*"
# Any run inside a container that is not a string, a comment or a bracket: `re` skips it fast.
_PLAIN_RUN = r'[^"\[\]{}/]*'

_GAP_RE = re.compile(_GAP)
_WHITESPACE_RE = re.compile(r"[ \t\r\n]*")
_INLINE_SPACE_RE = re.compile(r"[ \t]*")
_STRING_RE = re.compile(_STRING)
_STRING_PREFIX_RE = re.compile(_STRING[:-1])
_COMMENT_RE = re.compile(rf"{_LINE_COMMENT}|{_BLOCK_COMMENT}")
_SCALAR_RE = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?|true|false|null")
_MEMBER_HEAD_RE = re.compile(rf"({_STRING}){_GAP}:{_GAP}")
# Code up to the next comment. A string may be broken here (has_comments never raises),
# so one ends at its line's end at the latest.
_CODE_RE = re.compile(rf'(?:[^"/]+|"[^"\\\r\n]*(?:\\.[^"\\\r\n]*)*"?){{0,{_TOKENS_PER_MATCH}}}')
# A line's indentation, unless the line continues a block comment (" * text", " */").
_INDENTED_LINE_RE = re.compile(r"^([ \t]*)[^\s*]", re.MULTILINE)
_LINE_BREAK_CHARS = "\r\n"


class JsoncSyntaxError(ValueError):
    """Text that is not valid JSON (or JSONC): where, and why."""

    def __init__(self, reason: str, offset: int, line: int, col: int) -> None:
        super().__init__(f"line {line}, column {col}: {reason}")
        self.reason = reason
        self.offset = offset
        self.line = line
        self.col = col


class _PathBlocked(TypeError):
    """A key on the path names something that is not an object."""


def _skip(pattern: re.Pattern[str], text: str, pos: int) -> int:
    """Where `pattern`, which also matches the empty string, stops matching from `pos`."""
    match = pattern.match(text, pos)
    return pos if match is None else match.end()


def _syntax_error(text: str, offset: int, reason: str) -> JsoncSyntaxError:
    line_start = text.rfind("\n", 0, offset) + 1
    line = text.count("\n", 0, line_start) + 1
    col = offset - line_start + 1
    if line_start == 0 and text.startswith(_BOM):
        col -= 1  # editors do not show the BOM as a column
    return JsoncSyntaxError(reason, offset, line, max(col, 1))


# ---------------------------------------------------------------------------------------------
# Fast skipping


def _atomic(pattern: str, name: str) -> str:
    """A group that never gives back what it matched, so `re` drops its backtracking state."""
    if sys.version_info >= (3, 11):
        return f"(?>{pattern})"
    # Python 3.10 has no atomic groups; a lookahead is atomic, and a backreference consumes it.
    return f"(?=(?P<{name}>{pattern}))(?P={name})"


@lru_cache(maxsize=1)
def _children_re() -> re.Pattern[str]:
    """Up to _TOKENS_PER_MATCH tokens of a container body; nested containers count as one."""
    token = rf"{_STRING}|{_LINE_COMMENT}|{_BLOCK_COMMENT}"
    body = f"{_PLAIN_RUN}(?:(?:{token}){_PLAIN_RUN})*"
    for level in range(_NESTING_IN_PATTERN):
        nested = _atomic(rf"[\[{{]{body}[\]}}]", f"nested{level}")
        body = f"{_PLAIN_RUN}(?:(?:{token}|{nested}){_PLAIN_RUN})*"
    return re.compile(f"{_PLAIN_RUN}(?:(?:{token}|{nested}){_PLAIN_RUN}){{0,{_TOKENS_PER_MATCH}}}")


def _lenient_container_end(text: str, pos: int, unclosed: set[int] | None = None) -> int | None:
    """Where the object or array opening at `pos` ends; None if a string or comment is broken
    or the text ends first. Then `unclosed`, if given, receives the offsets of the brackets
    still open there: the containers whose own scans would fail the same way.

    Brackets are only counted, not paired, and the tokens between them are not checked.
    """
    children = _children_re()
    # Offsets, not a count, for `unclosed`: cheap, as the pattern takes most brackets whole.
    open_brackets: list[int] = []
    while True:
        char = text[pos : pos + 1]
        if char in ("{", "["):
            open_brackets.append(pos)
            pos += 1
        elif char in ("}", "]"):
            open_brackets.pop()
            pos += 1
            if not open_brackets:
                return pos
        elif char in ('"', "/"):
            # Either the token limit stopped the pattern here, or this string or comment is broken.
            match = (_STRING_RE if char == '"' else _COMMENT_RE).match(text, pos)
            if match is None:
                break
            pos = match.end()
        elif not char:
            break  # the end of the text, with brackets still open
        pos = _skip(children, text, pos)
    if unclosed is not None:
        unclosed.update(open_brackets)
    return None


# ---------------------------------------------------------------------------------------------
# Validation, for exact error positions and for finding the comments and trailing commas of JSONC


class _Validator:
    """Checks JSON/JSONC syntax token by token and records what strict JSON would not allow.

    Containers nested in the value being checked that end before `trusted_until` are skipped
    by the fast scan instead (text already known good, or not the subject of the check).
    Values nested more than _MAX_NESTING levels deep in it are refused.
    """

    def __init__(
        self,
        text: str,
        *,
        allow_comments: bool,
        allow_trailing_commas: bool,
        trusted_until: int,
    ) -> None:
        self.text = text
        self.allow_comments = allow_comments
        self.allow_trailing_commas = allow_trailing_commas
        self.trusted_until = trusted_until
        self.ignorable: list[tuple[int, int]] = []
        # Containers a fast scan found unclosed: scanning each again would take quadratic time
        # on deeply nested broken text.
        self.unclosed: set[int] = set()

    def error(self, offset: int, expected: str) -> JsoncSyntaxError:
        if offset >= len(self.text):
            return _syntax_error(self.text, offset, f"unexpected end of text, expected {expected}")
        return _syntax_error(self.text, offset, f"expected {expected}")

    def gap(self, pos: int) -> int:
        text = self.text
        while True:
            pos = _skip(_WHITESPACE_RE, text, pos)
            if not text.startswith("/", pos):
                return pos
            comment = _COMMENT_RE.match(text, pos)
            if comment is None:
                if text.startswith("/*", pos):
                    raise _syntax_error(text, pos, "unterminated comment")
                return pos
            if not self.allow_comments:
                raise _syntax_error(text, pos, "comment not allowed in strict JSON")
            self.ignorable.append((pos, comment.end()))
            pos = comment.end()

    def document(self, start: int) -> None:
        end = self.gap(self.value_end(start))
        if end != len(self.text):
            raise _syntax_error(self.text, end, "unexpected text after the end of the JSON value")

    def value_end(self, pos: int) -> int:
        text = self.text
        closers: list[str] = []
        while True:
            pos = self.gap(pos)
            char = text[pos : pos + 1]
            if char in ("{", "["):
                if len(closers) == _MAX_NESTING:
                    raise _syntax_error(text, pos, f"nested more than {_MAX_NESTING} levels deep")
                trusted_end = self.trusted_end(pos) if closers else None
                closer = "}" if char == "{" else "]"
                if trusted_end is not None:
                    pos = trusted_end
                elif text.startswith(closer, inside := self.gap(pos + 1)):
                    pos = inside + 1
                else:
                    closers.append(closer)
                    pos = inside
                    if closer == "}":
                        pos = self.member_head_end(pos, "a property name in double quotes or '}'")
                    continue
            elif char == '"':
                pos = self.string_end(pos)
            else:
                scalar = _SCALAR_RE.match(text, pos)
                if scalar is None:
                    raise self.error(pos, "a value")
                pos = scalar.end()
            # A value ended at pos: close what it ends, up to the next value to read.
            while closers:
                closer = closers[-1]
                pos = self.gap(pos)
                if text.startswith(closer, pos):
                    closers.pop()
                    pos += 1
                    continue
                if not text.startswith(",", pos):
                    raise self.error(pos, f"',' or '{closer}'")
                comma = pos
                pos = self.gap(pos + 1)
                if text.startswith(closer, pos):
                    if not self.allow_trailing_commas:
                        raise _syntax_error(
                            text, comma, "trailing comma not allowed in strict JSON"
                        )
                    self.ignorable.append((comma, comma + 1))
                    closers.pop()
                    pos += 1
                    continue
                if closer == "}":
                    pos = self.member_head_end(pos, "a property name in double quotes")
                break
            else:
                return pos

    def trusted_end(self, pos: int) -> int | None:
        if pos >= self.trusted_until or pos in self.unclosed:
            return None
        end = _lenient_container_end(self.text, pos, self.unclosed)
        return end if end is not None and end <= self.trusted_until else None

    def member_head_end(self, pos: int, expected: str) -> int:
        if not self.text.startswith('"', pos):
            raise self.error(pos, expected)
        pos = self.gap(self.string_end(pos))
        if not self.text.startswith(":", pos):
            raise self.error(pos, "':'")
        return pos + 1

    def string_end(self, pos: int) -> int:
        text = self.text
        string = _STRING_RE.match(text, pos)
        if string is not None:
            return string.end()
        bad = _skip(_STRING_PREFIX_RE, text, pos)
        if bad >= len(text) or text[bad] in _LINE_BREAK_CHARS:
            raise _syntax_error(text, pos, "unterminated string")
        if text[bad] == "\\":
            raise _syntax_error(text, bad, "invalid escape in string")
        raise _syntax_error(text, bad, "control character in string (write it as an escape)")


def _raise_syntax_error(text: str, value_start: int, failed_at: int) -> NoReturn:
    """Report the first error in the value at `value_start`, where a fast scan failed."""
    _Validator(
        text, allow_comments=True, allow_trailing_commas=True, trusted_until=len(text)
    ).value_end(value_start)
    raise _syntax_error(text, failed_at, "unexpected character")


# ---------------------------------------------------------------------------------------------
# Parsing


class _NonStandardNumber(ValueError):
    """NaN or Infinity: Python's json accepts them, JSON does not."""


def _reject_constant(name: str) -> NoReturn:
    raise _NonStandardNumber(name)


class _NestedTooDeep(ValueError):
    """json's decoder reached Python's recursion limit (see _MAX_NESTING)."""


_DECODE_ERRORS = (json.JSONDecodeError, _NonStandardNumber, _NestedTooDeep)


# What value_type makes of every object: the value is not built, so checking a 50 MB text
# takes little memory beyond the text.
_AN_OBJECT = object()


def _placeholder(_members: list[tuple[str, Any]]) -> object:
    return _AN_OBJECT


# Skips values without building their objects: what _strict_container_end needs.
_SKIPPING_DECODER = json.JSONDecoder(object_pairs_hook=_placeholder)
# The text the C scanner last failed on (by id: str cannot be weakly referenced; a reused id
# only costs speed, never correctness).
_lenient_text_id: int | None = None


def _decode(
    text: str, start: int, object_pairs_hook: Callable[[list[tuple[str, Any]]], Any] | None
) -> Any:
    decoder = json.JSONDecoder(parse_constant=_reject_constant, object_pairs_hook=object_pairs_hook)
    try:
        value, end = decoder.raw_decode(text, _skip(_WHITESPACE_RE, text, start))
    except RecursionError:
        raise _NestedTooDeep("nested too deep to read") from None
    end = _skip(_WHITESPACE_RE, text, end)
    if end != len(text):
        raise json.JSONDecodeError("Extra data", text, end)
    return value


def _blank(text: str, spans: list[tuple[int, int]]) -> str:
    """Replace the spans by spaces, keeping line breaks so every offset and line stays put."""
    pieces = []
    done = 0
    for start, end in sorted(spans):
        pieces.append(text[done:start])
        ignored = text[start:end]
        if "\n" in ignored or "\r" in ignored:
            pieces.append(re.sub(r"[^\r\n]", " ", ignored))
        else:  # most spans: a comment on one line, or a comma
            pieces.append(" " * len(ignored))
        done = end
    pieces.append(text[done:])
    return "".join(pieces)


@lru_cache(maxsize=1)
def _jsonc_tokens_re() -> re.Pattern[str]:
    """Runs of code (plain characters, whole strings, commas a value follows), comments, other
    commas, and any other character: a string or comment that is broken."""
    separator = rf",(?={_GAP}[^ \t\r\n\]}}/])"
    code = rf'(?:[^"/,]+|{_STRING}|{separator}){{1,{_TOKENS_PER_MATCH}}}'
    return re.compile(
        rf"(?P<code>{code})|(?P<comment>{_LINE_COMMENT}|{_BLOCK_COMMENT})|(?P<comma>,)|(?P<other>.)",
        re.DOTALL,
    )


def _quick_ignorable(text: str, start: int) -> list[tuple[int, int]] | None:
    """The comments and trailing commas of a JSONC text, found by one regular expression.

    The validator finds them token by token in Python: more than twice as slow on a big file.
    None when a string or comment is broken or a comma follows no value: the validator judges
    those, and says where.
    """
    spans = []
    after_value = False  # whether the last code before here (comments aside) ends a value
    for token in _jsonc_tokens_re().finditer(text, start):
        kind = token.lastgroup
        if kind == "code":
            end = token.end()
            while end > token.start() and text[end - 1] in " \t\r\n":
                end -= 1
            if end > token.start():
                after_value = text[end - 1] not in "[{,:"
        elif kind == "comment":
            spans.append(token.span())
        elif kind == "comma" and text.startswith(("]", "}"), _skip(_GAP_RE, text, token.end())):
            if not after_value:
                return None
            spans.append(token.span())
        else:
            return None
    return spans


def parse(text: str, *, allow_comments: bool = True, allow_trailing_commas: bool = True) -> Any:
    """The value of a JSON or JSONC text; JsoncSyntaxError with line and column if malformed."""
    return _parse(text, allow_comments, allow_trailing_commas, None)


def value_type(
    text: str, *, allow_comments: bool = True, allow_trailing_commas: bool = True
) -> type:
    """The type of the text's value (dict, list, str…), checked as parse checks it, without
    building the value: for files of tens of MB that are edited, never read."""
    value = _parse(text, allow_comments, allow_trailing_commas, _placeholder)
    return dict if value is _AN_OBJECT else type(value)


def _parse(
    text: str,
    allow_comments: bool,
    allow_trailing_commas: bool,
    object_pairs_hook: Callable[[list[tuple[str, Any]]], Any] | None,
) -> Any:
    start = 1 if text.startswith(_BOM) else 0
    try:
        return _decode(text, start, object_pairs_hook)
    except json.JSONDecodeError as failure:
        json_error: ValueError = failure
        trusted_until = failure.pos
    except (_NonStandardNumber, _NestedTooDeep) as failure:
        json_error = failure
        trusted_until = 0
    if allow_comments and allow_trailing_commas:
        ignorable = _quick_ignorable(text, start)
        if ignorable:
            try:
                return _decode(_blank(text, ignorable), start, object_pairs_hook)
            except _DECODE_ERRORS:
                pass  # the validator below finds the error and says where
    validator = _Validator(
        text,
        allow_comments=allow_comments,
        allow_trailing_commas=allow_trailing_commas,
        trusted_until=trusted_until,
    )
    validator.document(start)
    if validator.ignorable:
        try:
            return _decode(_blank(text, validator.ignorable), start, object_pairs_hook)
        except _DECODE_ERRORS as failure:
            json_error = failure
    # The validator accepted what json rejected (nesting too deep only when called from deep
    # in the stack); report json's reason.
    position = json_error.pos if isinstance(json_error, json.JSONDecodeError) else start
    message = json_error.msg if isinstance(json_error, json.JSONDecodeError) else str(json_error)
    raise _syntax_error(text, position, message) from None


def _parse_value(text: str, start: int, end: int) -> Any:
    """The value at text[start:end], an error placed in the whole text."""
    try:
        return parse(text[start:end])
    except JsoncSyntaxError as error:
        raise _syntax_error(text, start + error.offset, error.reason) from None


def has_comments(text: str) -> bool:
    """Whether the text has a // or /* */ comment outside strings."""
    pos = 0
    while pos < len(text):
        pos = _skip(_CODE_RE, text, pos)
        if text.startswith(("//", "/*"), pos):
            return True
        if text.startswith("/", pos):
            pos += 1  # a lone slash is a syntax error, not a comment
    return False


# ---------------------------------------------------------------------------------------------
# Reading structure


@dataclass(frozen=True)
class _Entry:
    """An object member or an array element, as offsets into the text."""

    key: str | None  # None for array elements
    start: int  # the key's opening quote, or the element's first character
    value_start: int
    value_end: int
    comma: int  # the comma after the value, -1 if none


@dataclass(frozen=True)
class _Container:
    open: int  # offset of { or [
    close: int  # offset of the matching } or ]
    entries: list[_Entry]
    # Whether what holds it spans lines (true for the top level): how an empty one gets filled.
    in_multiline: bool

    def last(self, key: str) -> _Entry | None:
        """The member JSON readers see: with duplicate keys the last one wins."""
        for entry in reversed(self.entries):
            if entry.key == key:
                return entry
        return None


def _value_end(text: str, pos: int) -> int:
    char = text[pos : pos + 1]
    end: int | None
    if char in ("{", "["):
        end = _strict_container_end(text, pos) or _lenient_container_end(text, pos)
    else:
        match = (_STRING_RE if char == '"' else _SCALAR_RE).match(text, pos)
        end = None if match is None else match.end()
    if end is None:
        _raise_syntax_error(text, pos, pos)
    return end


def _strict_container_end(text: str, pos: int) -> int | None:
    """Where a container of strict JSON ends, by the C scanner: several times faster than the
    lenient scan over the huge values of ~/.claude.json. None for JSONC (comments, trailing
    commas), or nesting too deep for it: the lenient scan takes those.

    A failure costs a scan up to it and then a count of the lines before it (the error's
    position), so after one failure the text is not tried again: a JSONC file with comments
    in every container would otherwise be read quadratically.
    """
    global _lenient_text_id
    if id(text) == _lenient_text_id:
        return None
    try:
        return _SKIPPING_DECODER.raw_decode(text, pos)[1]
    except (ValueError, RecursionError):
        _lenient_text_id = id(text)
        return None


def _decode_key(quoted: str) -> str:
    if "\\" in quoted:
        key: str = json.loads(quoted)
        return key
    return quoted[1:-1]


def _read_container(text: str, open_pos: int, *, in_multiline: bool) -> _Container:
    closer = "}" if text[open_pos] == "{" else "]"
    entries = []
    pos = _skip(_GAP_RE, text, open_pos + 1)
    while not text.startswith(closer, pos):
        start = pos
        key = None
        if closer == "}":
            head = _MEMBER_HEAD_RE.match(text, pos)
            if head is None:
                _raise_syntax_error(text, open_pos, pos)
            key = _decode_key(head.group(1))
            pos = head.end()
        value_start = pos
        value_end = _value_end(text, pos)
        pos = _skip(_GAP_RE, text, value_end)
        comma = -1
        if text.startswith(",", pos):
            comma = pos
            pos = _skip(_GAP_RE, text, pos + 1)
        elif not text.startswith(closer, pos):
            _raise_syntax_error(text, open_pos, pos)
        entries.append(_Entry(key, start, value_start, value_end, comma))
    return _Container(open_pos, pos, entries, in_multiline)


def _root_start(text: str) -> int | None:
    """Offset of the top-level value; None if the text is only whitespace and comments."""
    pos = _skip(_GAP_RE, text, 1 if text.startswith(_BOM) else 0)
    return None if pos == len(text) else pos


def _describe(text: str, value_start: int) -> str:
    char = text[value_start]
    if char == "{":
        return "an object"
    if char == "[":
        return "an array"
    if char == '"':
        return "a string"
    if char in "tf":
        return "a boolean"
    if char == "n":
        return "null"
    return "a number"


def _root_object(text: str) -> _Container | None:
    """The top-level object; None for a text with no value at all."""
    start = _root_start(text)
    if start is None:
        return None
    if not text.startswith("{", start):
        _check_document(text, start)
        raise TypeError(f"the top-level JSON value is {_describe(text, start)}, not an object")
    root = _read_container(text, start, in_multiline=True)
    end = _skip(_GAP_RE, text, root.close + 1)
    if end != len(text):
        _check_document(text, start)
        raise _syntax_error(text, end, "unexpected text after the end of the JSON value")
    return root


def _check_document(text: str, start: int) -> None:
    """Raise JsoncSyntaxError for the first error, checking nested values only for balance."""
    _Validator(
        text, allow_comments=True, allow_trailing_commas=True, trusted_until=len(text)
    ).document(start)


def _keys(path: Sequence[str]) -> list[str]:
    if isinstance(path, str):
        raise TypeError("path must be a sequence of keys, not a string")
    keys = list(path)
    if not keys:
        raise ValueError("path must name at least one key")
    for key in keys:
        if not isinstance(key, str):
            raise TypeError(f"path keys must be strings, got {key!r}")
    return keys


def _dotted(keys: Sequence[str]) -> str:
    return ".".join(keys)


def _descend(text: str, root: _Container, keys: list[str]) -> tuple[_Container, int, _Entry | None]:
    """Follow `keys` through nested objects as far as they exist.

    Returns the object in which keys[depth] was looked up, depth, and the member found there
    (None if keys[depth] is missing). Raises _PathBlocked when a key before the last names
    something other than an object.
    """
    container = root
    for depth, key in enumerate(keys[:-1]):
        entry = container.last(key)
        if entry is None:
            return container, depth, None
        if not text.startswith("{", entry.value_start):
            raise _PathBlocked(
                f"cannot reach {_dotted(keys)}: {_dotted(keys[: depth + 1])} is "
                f"{_describe(text, entry.value_start)}, not an object"
            )
        container = _read_container(
            text, entry.value_start, in_multiline=_is_multiline(text, container)
        )
    return container, len(keys) - 1, container.last(keys[-1])


# ---------------------------------------------------------------------------------------------
# Layout


def detect_newline(text: str) -> str:
    """The text's line break: CRLF if its first line ends with one, else LF."""
    index = text.find("\n")
    return "\r\n" if index > 0 and text[index - 1] == "\r" else "\n"


def detect_indent(text: str) -> str:
    """One level of indentation: a tab, or the most common step between indented lines."""
    steps: Counter[int] = Counter()
    tab_lines = 0
    previous_width = 0
    for line in _INDENTED_LINE_RE.finditer(text, 0, _INDENT_SAMPLE_CHARS):
        indent = line.group(1)
        if indent.startswith("\t"):
            tab_lines += 1
            continue
        width = len(indent)
        if width != previous_width:
            steps[abs(width - previous_width)] += 1
        previous_width = width
    if tab_lines and tab_lines >= sum(steps.values()):
        return "\t"
    if not steps:
        return _DEFAULT_INDENT
    return " " * max(steps, key=lambda step: (steps[step], -step))


def _line_start(text: str, pos: int) -> int:
    start = text.rfind("\n", 0, pos) + 1
    if start == 0 and text.startswith(_BOM):
        return 1
    return start


def _line_indent(text: str, pos: int) -> str:
    start = _line_start(text, pos)
    return text[start : min(_skip(_INLINE_SPACE_RE, text, start), pos)]


def _starts_line(text: str, pos: int) -> bool:
    return _skip(_INLINE_SPACE_RE, text, _line_start(text, pos)) >= pos


def _at_line_end(text: str, pos: int) -> bool:
    return pos == len(text) or text[pos] in _LINE_BREAK_CHARS


def _line_content_end(text: str, pos: int) -> int:
    """Past the comments that follow `pos` on its line, and past trailing blanks before a break.

    A block comment that starts on the line counts as on it, even if it runs on to later lines.
    """
    while True:
        after_space = _skip(_INLINE_SPACE_RE, text, pos)
        if _at_line_end(text, after_space):
            return after_space
        if text.startswith("/", after_space):
            comment = _COMMENT_RE.match(text, after_space)
            if comment is not None:
                pos = comment.end()
                continue
        return pos


def _is_multiline(text: str, container: _Container) -> bool:
    return text.find("\n", container.open, container.close) != -1


def _render(value: Any, indent: str, unit: str, newline: str, *, multiline: bool) -> str:
    if not multiline:
        return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(", ", ": "))
    rendered = json.dumps(value, ensure_ascii=False, allow_nan=False, indent=unit)
    # json.dumps escapes line breaks inside strings, so every "\n" left is between tokens.
    return rendered.replace("\n", newline + indent)


def _splice(text: str, edits: list[tuple[int, int, str]]) -> str:
    """Apply non-overlapping (start, end, replacement) edits."""
    if not edits:
        return text
    ordered = sorted(edits, key=lambda edit: (edit[0], edit[1]))
    head = ordered[0][0]
    pieces = []
    done = head
    for start, end, replacement in ordered:
        pieces.append(text[done:start])
        pieces.append(replacement)
        done = end
    pieces.append(text[done:])
    # "%.*s" copies the first `head` characters straight into the result: a slice of them
    # would be one more copy, 50 MB more for an edit at the end of a big ~/.claude.json.
    return ("%.*s" + "%s" * len(pieces)) % (head, text, *pieces)


_RenderEntry = Callable[[str, bool], str]  # (indent, multiline) -> the entry's text


def _append_entry(text: str, container: _Container, render_entry: _RenderEntry) -> str:
    """Add an entry after the last one, in the style of its siblings."""
    if not container.entries:
        return _fill_empty(text, container, render_entry)
    last = container.entries[-1]
    trailing_comma = last.comma != -1
    if not _is_multiline(text, container):
        if trailing_comma:
            at = last.comma + 1
            return _splice(text, [(at, at, f" {render_entry('', False)},")])
        at = last.value_end
        return _splice(text, [(at, at, f", {render_entry('', False)}")])
    if _starts_line(text, last.start):
        indent = _line_indent(text, last.start)
    else:
        indent = _line_indent(text, container.open) + detect_indent(text)
    # After the last entry's same-line comment, which stays with it.
    at = _line_content_end(text, last.comma + 1 if trailing_comma else last.value_end)
    new_entry = detect_newline(text) + indent + render_entry(indent, True)
    if trailing_comma:
        return _splice(text, [(at, at, new_entry + ",")])
    return _splice(text, [(last.value_end, last.value_end, ","), (at, at, new_entry)])


def _fill_empty(text: str, container: _Container, render_entry: _RenderEntry) -> str:
    inside_start = container.open + 1
    outer_indent = _line_indent(text, container.open)
    newline = detect_newline(text)
    last_comment: tuple[int, int] | None = None
    pos = inside_start
    while True:
        pos = _skip(_WHITESPACE_RE, text, pos)
        comment = _COMMENT_RE.match(text, pos)
        if comment is None:
            break
        last_comment = comment.span()
        pos = comment.end()
    if last_comment is None:
        if not (container.in_multiline or _is_multiline(text, container)):
            return _splice(text, [(inside_start, container.close, render_entry("", False))])
        indent = outer_indent + detect_indent(text)
        entry = render_entry(indent, True)
        filling = f"{newline}{indent}{entry}{newline}{outer_indent}"
        return _splice(text, [(inside_start, container.close, filling)])
    # Keep the comments; the entry goes after the last one.
    at = last_comment[1]
    if not _is_multiline(text, container):
        return _splice(text, [(at, at, f" {render_entry('', False)}")])
    if _starts_line(text, last_comment[0]):
        indent = _line_indent(text, last_comment[0])
    else:
        indent = outer_indent + detect_indent(text)
    return _splice(text, [(at, at, newline + indent + render_entry(indent, True))])


def _entry_span(text: str, entry: _Entry, *, is_last: bool) -> tuple[int, int]:
    """What to cut to remove an entry: its own lines, or the entry with the blanks between it
    and its neighbour (the one before it if it is the last)."""
    end = entry.comma + 1 if entry.comma != -1 else entry.value_end
    line_end = _line_content_end(text, end)
    if _starts_line(text, entry.start) and _at_line_end(text, line_end):
        # On lines of its own: remove them whole, with the line break.
        line_break = 2 if text.startswith("\r\n", line_end) else 1
        return _line_start(text, entry.start), min(line_end + line_break, len(text))
    if is_last:
        before = entry.start
        while before > 0 and text[before - 1] in " \t":
            before -= 1
        return before, end
    return entry.start, _skip(_INLINE_SPACE_RE, text, end)


def _remove_entries(text: str, container: _Container, doomed: list[_Entry]) -> str:
    if not doomed:
        return text
    entries = container.entries
    kept = [entry for entry in entries if entry not in doomed]
    last = entries[-1]
    spans = [_entry_span(text, entry, is_last=entry is last) for entry in doomed]
    if not kept:
        inside = (container.open + 1, container.close)
        if not _complement(text, inside, spans).strip(" \t\r\n"):
            return _splice(text, [(*inside, "")])
    elif last in doomed and last.comma == -1:
        # The new last entry loses its comma: the container had no trailing comma.
        spans.append((kept[-1].comma, kept[-1].comma + 1))
    return _splice(text, [(start, end, "") for start, end in _merge(spans)])


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _complement(text: str, bounds: tuple[int, int], spans: list[tuple[int, int]]) -> str:
    """The text within `bounds` that the spans leave."""
    pieces = []
    done = bounds[0]
    for start, end in _merge(spans):
        pieces.append(text[done:start])
        done = end
    pieces.append(text[done : bounds[1]])
    return "".join(pieces)


# ---------------------------------------------------------------------------------------------
# Public edits


def same_json(left: Any, right: Any) -> bool:
    """Equal as JSON: unlike ==, true is not 1."""
    if isinstance(left, bool) or isinstance(right, bool):
        return type(left) is type(right) and left == right
    if isinstance(left, (int, float)) and isinstance(right, (int, float)):
        return left == right
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(same_json(left[k], right[k]) for k in left)
    if isinstance(left, (list, tuple)) and isinstance(right, (list, tuple)):
        return len(left) == len(right) and all(map(same_json, left, right))
    return type(left) is type(right) and bool(left == right)


def _nest(keys: Sequence[str], value: Any) -> Any:
    for key in reversed(keys):
        value = {key: value}
    return value


def _member_renderer(text: str, key: str, value: Any) -> _RenderEntry:
    unit = detect_indent(text)
    newline = detect_newline(text)
    quoted_key = json.dumps(key, ensure_ascii=False)

    def render(indent: str, multiline: bool) -> str:
        return f"{quoted_key}: {_render(value, indent, unit, newline, multiline=multiline)}"

    return render


def _new_document(text: str, keys: list[str], value: Any) -> str:
    """A text with no JSON value gets a top-level object; its comments, if any, stay first."""
    newline = detect_newline(text)
    document = _render(_nest(keys, value), "", detect_indent(text), newline, multiline=True)
    bom = _BOM if text.startswith(_BOM) else ""
    if not text[len(bom) :].strip(" \t\r\n"):
        return bom + document + newline
    separator = "" if text.endswith("\n") else newline
    return text + separator + document + newline


def _replace_value(text: str, container: _Container, entry: _Entry, value: Any) -> str:
    if same_json(_parse_value(text, entry.value_start, entry.value_end), value):
        return text
    multiline = _is_multiline(text, container)
    rendered = _render(
        value,
        _line_indent(text, entry.start),
        detect_indent(text),
        detect_newline(text),
        multiline=multiline,
    )
    return _splice(text, [(entry.value_start, entry.value_end, rendered)])


def set_value(text: str, path: Sequence[str], value: Any) -> str:
    """Set the member at `path`, creating missing objects on the way; change nothing else.

    An existing value's text is replaced; a new member goes after the last member of the
    innermost existing object, in its siblings' style. Setting the current value is a no-op.
    Raises TypeError if a key on the path holds something other than an object.
    """
    keys = _keys(path)
    root = _root_object(text)
    if root is None:
        return _new_document(text, keys, value)
    container, depth, entry = _descend(text, root, keys)
    if entry is None:
        rest = _nest(keys[depth + 1 :], value)
        return _append_entry(text, container, _member_renderer(text, keys[depth], rest))
    return _replace_value(text, container, entry, value)


def delete_value(text: str, path: Sequence[str]) -> str:
    """Remove the member at `path` (every copy of a duplicated key) with its comma and, if it
    had lines of its own, those lines. A no-op if it is absent; its object stays, maybe empty."""
    keys = _keys(path)
    root = _root_object(text)
    if root is None:
        return text
    try:
        container, _, entry = _descend(text, root, keys)
    except _PathBlocked:
        return text
    if entry is None:
        return text
    doomed = [member for member in container.entries if member.key == keys[-1]]
    return _remove_entries(text, container, doomed)


def get(text: str, path: Sequence[str | int], default: Any = None) -> Any:
    """The value at `path` (object keys and array indexes), or `default` if there is none."""
    if isinstance(path, str):
        raise TypeError("path must be a sequence of keys, not a string")
    pos = _root_start(text)
    if pos is None:
        return default
    for step in path:
        char = text[pos]
        if char == "{" and isinstance(step, str):
            entry = _read_container(text, pos, in_multiline=True).last(step)
        elif char == "[" and isinstance(step, int) and not isinstance(step, bool):
            elements = _read_container(text, pos, in_multiline=True).entries
            entry = elements[step] if -len(elements) <= step < len(elements) else None
        else:
            entry = None
        if entry is None:
            return default
        pos = entry.value_start
    return _parse_value(text, pos, _value_end(text, pos))


def _array_at(text: str, keys: list[str]) -> tuple[_Container | None, _Container | None, int]:
    """(the array at `keys` or None, the innermost existing object, how many keys exist)."""
    root = _root_object(text)
    if root is None:
        return None, None, 0
    container, depth, entry = _descend(text, root, keys)
    if entry is None:
        return None, container, depth
    if not text.startswith("[", entry.value_start):
        raise TypeError(f"{_dotted(keys)} is {_describe(text, entry.value_start)}, not an array")
    array = _read_container(text, entry.value_start, in_multiline=_is_multiline(text, container))
    return array, container, depth


def _element_values(text: str, array: _Container) -> list[Any]:
    return [_parse_value(text, element.value_start, element.value_end) for element in array.entries]


def append_to_array(text: str, path: Sequence[str], item: Any) -> str:
    """Append `item` to the array at `path`, creating it if absent; a no-op if already there."""
    keys = _keys(path)
    array, container, depth = _array_at(text, keys)
    if container is None:
        return _new_document(text, keys, [item])
    if array is None:
        rest = _nest(keys[depth + 1 :], [item])
        return _append_entry(text, container, _member_renderer(text, keys[depth], rest))
    if any(same_json(element, item) for element in _element_values(text, array)):
        return text
    unit = detect_indent(text)
    newline = detect_newline(text)

    def render(indent: str, multiline: bool) -> str:
        return _render(item, indent, unit, newline, multiline=multiline)

    return _append_entry(text, array, render)


def remove_from_array(text: str, path: Sequence[str], item: Any) -> str:
    """Remove every element equal to `item` from the array at `path`; a no-op if none is."""
    keys = _keys(path)
    try:
        array, _, _ = _array_at(text, keys)
    except _PathBlocked:
        return text
    if array is None:
        return text
    values = _element_values(text, array)
    doomed = [
        element
        for element, value in zip(array.entries, values, strict=True)
        if same_json(value, item)
    ]
    return _remove_entries(text, array, doomed)


def first_comment_position(text: str) -> tuple[int, int] | None:
    """Line and column (1-based) of the first comment outside strings, or None."""
    pos = 0
    while pos < len(text):
        pos = _skip(_CODE_RE, text, pos)
        if text.startswith(("//", "/*"), pos):
            error = _syntax_error(text, pos, "comment")
            return error.line, error.col
        if text.startswith("/", pos):
            pos += 1
    return None


def strip_comments(text: str) -> str:
    """The text made strict JSON: comments and trailing commas removed, all else kept.

    A comment alone on its line takes the line with it; one after a value leaves the value and
    the line's break. Raises JsoncSyntaxError when the text is not valid JSONC.
    """
    start = 1 if text.startswith(_BOM) else 0
    validator = _Validator(text, allow_comments=True, allow_trailing_commas=True, trusted_until=0)
    validator.document(start)
    edits: list[tuple[int, int, str]] = []
    for span_start, span_end in sorted(validator.ignorable):
        line_start = _line_start(text, span_start)
        before = text[line_start:span_start]
        after_end = _skip(_INLINE_SPACE_RE, text, span_end)
        alone = not before.strip() and text[after_end : after_end + 1] in ("\r", "\n", "")
        if alone and text[span_start] == "/":
            newline_end = after_end + (2 if text.startswith("\r\n", after_end) else 1)
            edits.append((line_start, min(newline_end, len(text)), ""))
        else:
            trailing_space = len(before) - len(before.rstrip(" \t"))
            cut_from = span_start - trailing_space if text[span_start] == "/" else span_start
            edits.append((cut_from, span_end, ""))
    return _splice(text, _merge_edits(edits))


def _merge_edits(edits: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    merged: list[tuple[int, int, str]] = []
    for start, end, replacement in sorted(edits):
        if merged and start < merged[-1][1]:
            previous = merged[-1]
            merged[-1] = (previous[0], max(previous[1], end), "")
        else:
            merged.append((start, end, replacement))
    return merged
