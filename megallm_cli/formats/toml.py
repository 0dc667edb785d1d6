"""Minimal edits to TOML text: set or delete keys and tables, keep every other byte.

An `Editor` parses once, splices each edit into the text at positions found by a statement
scanner, and checks the result once: it must parse to exactly the old value with only the
intended changes. Splicing, not tomlkit's own insertions, because those misplace keys (a new
top-level key lands after a table of dotted keys, i.e. inside that table), write `\\n` into CRLF
files and drop the blank line between tables. Splicing keeps comments, order, spacing, CRLF, a
BOM and a missing final newline, and makes deleting an inserted key or table give the old bytes.

Only keys written plainly in their own `[table]` section are edited; a target written as a dotted
key, an inline table or inside an array of tables is refused with its line:col.

Parsing uses the standard library's tomllib where it exists (3.11+; tomlkit is 20 times slower,
which shows on a config with a thousand trusted projects) and tomlkit on 3.10. Errors always come
from tomlkit, so a broken file reads the same on every Python.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["Editor", "TomlError", "parse", "position"]

_BOM = "\ufeff"
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_INLINE_SPACE = re.compile(r"[ \t]*")
_BASIC_STRING = re.compile(r'"((?:[^"\\\r\n]|\\.)*)"')
_LITERAL_STRING = re.compile(r"'([^'\r\n]*)'")
# A scalar outside a container runs to a comment or the line end (a datetime may hold a space).
_SCALAR = re.compile(r"[^#\r\n]*")
_ESCAPE = re.compile(r"\\(?:u([0-9A-Fa-f]{4})|U([0-9A-Fa-f]{8})|x([0-9A-Fa-f]{2})|(.))")
_TOMLLIB_POSITION = re.compile(r"\(at line (\d+), column (\d+)\)$")
_SIMPLE_ESCAPES = {
    "b": "\b",
    "t": "\t",
    "n": "\n",
    "f": "\f",
    "r": "\r",
    "e": "\x1b",
    '"': '"',
    "\\": "\\",
}


class TomlError(ValueError):
    """A file we cannot parse, or a layout we will not edit, at a 1-based line and column."""

    def __init__(self, line: int, col: int, reason: str) -> None:
        super().__init__(f"{line}:{col}: {reason}")
        self.line = line
        self.col = col
        self.reason = reason


def parse(text: str) -> dict[str, Any]:
    """The document as plain Python values; a leading BOM is allowed (Codex accepts one)."""
    body = text.removeprefix(_BOM)
    try:
        import tomllib
    except ImportError:  # Python 3.10
        return _parse_with_tomlkit(body, unplaced=(1, 1))
    try:
        return tomllib.loads(body)
    except tomllib.TOMLDecodeError as error:
        found = _TOMLLIB_POSITION.search(str(error))
        line, col = (int(found.group(1)), int(found.group(2))) if found else (1, 1)
        # raises with tomlkit's position and words, if it agrees
        _parse_with_tomlkit(body, unplaced=(line, col))
        raise TomlError(line, col, _TOMLLIB_POSITION.sub("", str(error)).strip()) from None


def _parse_with_tomlkit(body: str, unplaced: tuple[int, int]) -> dict[str, Any]:
    """tomlkit's reading of the body; an error it gives no position for (a key written twice
    in one table) is reported at `unplaced`."""
    import tomlkit
    from tomlkit.exceptions import ParseError, TOMLKitError

    try:
        return tomlkit.parse(body).unwrap()
    except ParseError as error:
        # tomlkit counts columns from 0; editors and Codex count from 1.
        reason = str(error).rsplit(" at line ", 1)[0]
        raise TomlError(error.line, error.col + 1, reason) from None
    except TOMLKitError as error:
        raise TomlError(*unplaced, str(error)) from None


@dataclass(frozen=True)
class _Statement:
    """One header or key/value pair, with the span of its whole lines in the text."""

    kind: str  # "table", "array" ([[…]]) or "pair"
    path: tuple[str, ...]  # headers: their path; pairs: section path + dotted key
    section: tuple[str, ...]  # the header a pair sits under (headers: their own path)
    start: int  # start of its first line
    key_start: int
    end: int  # just past its last newline
    value_start: int = 0
    value_end: int = 0

    @property
    def dotted(self) -> bool:
        return self.kind == "pair" and len(self.path) - len(self.section) > 1


class _Scanner:
    """Finds the statements of a document the parser has already accepted."""

    def __init__(self, text: str) -> None:
        self.text = text

    def statements(self) -> list[_Statement]:
        text = self.text
        found: list[_Statement] = []
        section: tuple[str, ...] = ()
        pos = 0
        while pos < len(text):
            start = pos
            pos = _INLINE_SPACE.match(text, pos).end()  # type: ignore[union-attr]
            if pos >= len(text):
                break
            if text[pos] in "\r\n#":
                newline = text.find("\n", pos)
                pos = len(text) if newline < 0 else newline + 1
                continue
            key_start = pos
            if text[pos] == "[":
                array = text.startswith("[[", pos)
                path, pos = self._key(pos + (2 if array else 1))
                closing = "]]" if array else "]"
                if not text.startswith(closing, pos):
                    raise self._error(pos, f"expected {closing}")
                end = self._line_end(pos + len(closing))
                kind = "array" if array else "table"
                found.append(_Statement(kind, path, path, start, key_start, end))
                section = path
                pos = end
                continue
            key, pos = self._key(pos)
            if not text.startswith("=", pos):
                raise self._error(pos, "expected =")
            value_start = _INLINE_SPACE.match(text, pos + 1).end()  # type: ignore[union-attr]
            value_end = self._value(value_start)
            end = self._line_end(value_end)
            found.append(
                _Statement(
                    "pair", section + key, section, start, key_start, end, value_start, value_end
                )
            )
            pos = end
        return found

    def _error(self, pos: int, reason: str) -> TomlError:
        line, col = _line_col(self.text, pos)
        return TomlError(line, col, f"megallm cannot follow the TOML here ({reason})")

    def _key(self, pos: int) -> tuple[tuple[str, ...], int]:
        text = self.text
        parts = []
        while True:
            pos = _INLINE_SPACE.match(text, pos).end()  # type: ignore[union-attr]
            quoted = _BASIC_STRING.match(text, pos) or _LITERAL_STRING.match(text, pos)
            if quoted:
                raw = quoted.group(1)
                parts.append(_unescape(raw) if text[pos] == '"' else raw)
                pos = quoted.end()
            else:
                bare = _BARE_KEY.match(text, pos)
                if not bare:
                    raise self._error(pos, "expected a key")
                parts.append(bare.group())
                pos = bare.end()
            pos = _INLINE_SPACE.match(text, pos).end()  # type: ignore[union-attr]
            if not text.startswith(".", pos):
                return tuple(parts), pos
            pos += 1

    def _line_end(self, pos: int) -> int:
        """Past the trailing spaces, comment and newline that end a statement."""
        text = self.text
        pos = _INLINE_SPACE.match(text, pos).end()  # type: ignore[union-attr]
        if text.startswith("#", pos):
            newline = text.find("\n", pos)
            return len(text) if newline < 0 else newline + 1
        if text.startswith("\r\n", pos):
            return pos + 2
        if text.startswith("\n", pos):
            return pos + 1
        if pos == len(text):
            return pos
        raise self._error(pos, "expected the end of the line")

    def _value(self, pos: int) -> int:
        text = self.text
        if text.startswith(('"""', "'''"), pos):
            return self._multiline_string(pos)
        string = _BASIC_STRING.match(text, pos) or _LITERAL_STRING.match(text, pos)
        if string:
            return string.end()
        if text.startswith(("[", "{"), pos):
            return self._container(pos)
        scalar = _SCALAR.match(text, pos)
        return pos + len(scalar.group().rstrip(" \t"))  # type: ignore[union-attr]

    def _multiline_string(self, pos: int) -> int:
        text = self.text
        delimiter = text[pos : pos + 3]
        i = pos + 3
        while i < len(text):
            if delimiter == '"""' and text[i] == "\\":
                i += 2
                continue
            if text.startswith(delimiter, i):
                end = i + 3
                # Up to two quote characters may sit right before the closing delimiter.
                while end < len(text) and end - i < 5 and text[end] == delimiter[0]:
                    end += 1
                return end
            i += 1
        raise self._error(pos, "unterminated multi-line string")

    def _container(self, pos: int) -> int:
        """Past the `]` or `}` that closes the array or inline table opening at `pos`."""
        text = self.text
        depth = 0
        i = pos
        while i < len(text):
            if text.startswith(('"""', "'''"), i):
                i = self._multiline_string(i)
                continue
            char = text[i]
            if char in "\"'":
                string = (_BASIC_STRING if char == '"' else _LITERAL_STRING).match(text, i)
                if not string:
                    raise self._error(i, "unterminated string")
                i = string.end()
                continue
            if char == "#":
                newline = text.find("\n", i)
                i = len(text) if newline < 0 else newline
                continue
            if char in "[{":
                depth += 1
            elif char in "]}":
                depth -= 1
                if depth == 0:
                    return i + 1
            i += 1
        raise self._error(pos, "unclosed array or inline table")


def _unescape(raw: str) -> str:
    def replace(match: re.Match[str]) -> str:
        code = match.group(1) or match.group(2) or match.group(3)
        return chr(int(code, 16)) if code else _SIMPLE_ESCAPES.get(match.group(4), match.group())

    return _ESCAPE.sub(replace, raw)


def _line_col(text: str, offset: int) -> tuple[int, int]:
    line_start = text.rfind("\n", 0, offset) + 1
    return text.count("\n", 0, offset) + 1, offset - line_start + 1


def _render_key(part: str) -> str:
    return part if _BARE_KEY.fullmatch(part) else _render_string(part)


def _render_string(value: str) -> str:
    import tomlkit

    return tomlkit.string(value).as_string()


def _dotted(path: Sequence[str]) -> str:
    return ".".join(_render_key(part) for part in path)


class _Layout:
    """The text split into BOM, body and final-newline state, and the body's statements.

    A body without a final newline gets one while it is edited and loses it again in `text`,
    so every edit can treat lines alike and the file keeps its shape.
    """

    def __init__(self, text: str) -> None:
        self.bom = _BOM if text.startswith(_BOM) else ""
        body = text.removeprefix(_BOM)
        first_newline = body.find("\n")
        self.newline = "\r\n" if first_newline > 0 and body[first_newline - 1] == "\r" else "\n"
        self.final_newline = body == "" or body.endswith("\n")
        self.body = body if self.final_newline else body + self.newline
        self.statements = _Scanner(self.body).statements()
        # A [table] whose blank line above went with a deleted key (see delete_pair).
        self.blank_taken_above: tuple[str, ...] | None = None

    def replace(self, body: str) -> None:
        self.body = body
        self.statements = _Scanner(body).statements()

    def text(self) -> str:
        body = self.body
        if not self.final_newline and body.endswith(self.newline):
            body = body[: -len(self.newline)]
        return self.bom + body

    def error_at(self, statement: _Statement, reason: str) -> TomlError:
        line, col = _line_col(self.body, statement.key_start)
        return TomlError(line, col, reason)

    def header(self, table: tuple[str, ...]) -> _Statement | None:
        return next((s for s in self.statements if s.kind != "pair" and s.path == table), None)

    def plain_pair(self, path: tuple[str, ...]) -> _Statement | None:
        """The pair written as `key = …` directly under the [table] that holds it."""
        return next(
            (s for s in self.statements if s.kind == "pair" and s.path == path and not s.dotted),
            None,
        )

    def section_end(self, table: tuple[str, ...]) -> int | None:
        """Just past the last statement of a section: before comments that lead the next one."""
        end = None
        if table:
            header = self.header(table)
            if header is None:
                return None
            end = header.end
        for statement in self.statements:
            if statement.kind == "pair" and statement.section == table:
                end = statement.end
        return end

    def refuse_other_forms(self, path: tuple[str, ...]) -> None:
        """Raise when `path` (or the table holding it) is defined in a form we do not edit."""
        table = path[:-1]
        for statement in self.statements:
            inside_array = statement.kind == "array" and table[: len(statement.path)] == (
                statement.path
            )
            is_table = statement.path[: len(path)] == path and (
                statement.kind != "pair" or len(statement.path) > len(path)
            )
            holds_it = statement.kind == "pair" and path[: len(statement.path)] == (statement.path)
            reaches_in = (
                statement.dotted
                and len(statement.section) < len(table)
                and statement.path[: len(table)] == table
            )
            if inside_array or is_table or holds_it or reaches_in:
                raise self.error_at(
                    statement,
                    f"{_dotted(path)} is defined here as a dotted key, an inline table, a table "
                    "or inside an array of tables; megallm edits only plain keys of a "
                    f"[{_dotted(table)}] table: rewrite it that way, or remove it, and run again",
                )

    def insert_top_level(self, line: str) -> None:
        """A first top-level key goes above the first header and the comments leading it.

        A key after a header would belong to that table; the blank line after the new key keeps
        the header's comment block with the header.
        """
        first_header = next((s for s in self.statements if s.kind != "pair"), None)
        if first_header is None:
            self.replace(self.body + line)
            return
        lines = self.body[: first_header.start].splitlines(keepends=True)
        at = first_header.start
        while lines and lines[-1].lstrip(" \t").startswith("#"):
            at -= len(lines.pop())
        self.replace(self.body[:at] + line + self.newline + self.body[at:])

    def insert_table(self, table: tuple[str, ...], line: str) -> None:
        """A new `[table]` after its last sibling (say, [model_providers.*]), or at the end."""
        parent = table[:-1]
        siblings = [
            s for s in self.statements if s.kind != "pair" and s.path[: len(parent)] == parent
        ]
        at = len(self.body)
        if siblings and parent:
            at = self.section_end(siblings[-1].path) or at
        nl = self.newline
        block = f"{nl if at else ''}[{_dotted(table)}]{nl}{line}"
        self.replace(self.body[:at] + block + self.body[at:])

    def delete_pair(self, pair: _Statement) -> None:
        """Cut a pair's lines. A key with a blank line or the start of the text above it and a
        blank line below takes that blank line along: insert_top_level adds one under the key
        it puts above the first table.

        insert_table adds the same blank line above a table it appends right after such a key;
        delete_section then takes no blank line above the table, so deleting both takes one
        blank line, as inserting both added one.
        """
        at = pair.start
        body = self.body[:at] + self.body[pair.end :]
        above = _line_above(body, at)
        below = _line_at(body, at)
        taken = (above is None or _is_blank(above)) and _is_blank(below)
        if taken:
            body = body[:at] + body[at + len(below) :]
        self.replace(body)
        if taken:
            self.blank_taken_above = next(
                (s.path for s in self.statements if s.start == at and s.kind == "table"), None
            )

    def delete_section(self, header: _Statement) -> None:
        """Cut a [table] header and its pairs, with the blank line above it (the one
        insert_table adds) or, for a table that opens the text, the blank line below it."""
        at = header.start
        body = self.body[:at] + self.body[self.section_end(header.path) or header.end :]
        above = _line_above(body, at)
        if above is None:
            below = _line_at(body, at)
            if _is_blank(below):
                body = body[:at] + body[at + len(below) :]
        elif _is_blank(above) and header.path != self.blank_taken_above:
            body = body[: at - len(above)] + body[at:]
        self.replace(body)


def _line_above(text: str, line_start: int) -> str | None:
    """The line that ends where `line_start` begins one; None at the start of the text."""
    if line_start == 0:
        return None
    return text[text.rfind("\n", 0, line_start - 1) + 1 : line_start]


def _line_at(text: str, line_start: int) -> str:
    """The line that begins at `line_start`, with its newline; empty at the end of the text."""
    newline = text.find("\n", line_start)
    return text[line_start:] if newline < 0 else text[line_start : newline + 1]


def _is_blank(line: str) -> bool:
    return line != "" and not line.strip(" \t\r\n")


def _lookup(value: dict[str, Any], path: Sequence[str]) -> Any:
    for part in path:
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


class Editor:
    """Edits of one document: parsed once, spliced edit by edit, checked once in `text()`."""

    def __init__(self, text: str) -> None:
        self.original = text
        self.value = parse(text)
        """The values before any edit."""
        self._expected = copy.deepcopy(self.value)
        self._layout = _Layout(text)
        self._edited: list[str] = []

    def get(self, *path: str) -> Any:
        """The current value at `path` (edits included), or None."""
        return _lookup(self._expected, path)

    def set(self, table: Sequence[str], key: str, value: str) -> None:
        """Set `key = value` in `[table]` (() is the top level), adding the key or table."""
        layout = self._layout
        table = tuple(table)
        path = (*table, key)
        existing = layout.plain_pair(path)
        if existing is not None and self.get(*path) == value:
            return
        rendered = _render_string(value)
        if existing is not None:
            body = layout.body
            layout.replace(body[: existing.value_start] + rendered + body[existing.value_end :])
        else:
            layout.refuse_other_forms(path)
            line = f"{_render_key(key)} = {rendered}{layout.newline}"
            section_end = layout.section_end(table)
            if section_end is not None:
                layout.replace(layout.body[:section_end] + line + layout.body[section_end:])
            elif not table:
                layout.insert_top_level(line)
            else:
                layout.insert_table(table, line)
        target = self._expected
        for part in table:
            target = target.setdefault(part, {})
        target[key] = value
        self._edited.append(_dotted(path))

    def delete(self, table: Sequence[str], key: str) -> None:
        """Remove `key` from `[table]`; an absent key is fine."""
        layout = self._layout
        table = tuple(table)
        path = (*table, key)
        existing = layout.plain_pair(path)
        if existing is None:
            if self.get(*path) is not None:
                layout.refuse_other_forms(path)
            return
        layout.delete_pair(existing)
        holder = self.get(*table) if table else self._expected
        del holder[key]
        self._edited.append(_dotted(path))

    def delete_table(self, table: Sequence[str]) -> None:
        """Remove `[table]` and its sub-tables (say, [table.http_headers]); absent is fine."""
        layout = self._layout
        table = tuple(table)
        if self.get(*table) is None:
            return
        while True:
            header = next(
                (
                    s
                    for s in layout.statements
                    if s.kind == "table" and s.path[: len(table)] == table
                ),
                None,
            )
            if header is None:
                break
            layout.delete_section(header)
        leftover = next(
            (
                s
                for s in layout.statements
                if s.path[: len(table)] == table
                or (s.kind == "pair" and table[: len(s.path)] == s.path)
            ),
            None,
        )
        if leftover is not None:
            raise layout.error_at(
                leftover,
                f"{_dotted(table)} is written here as a dotted key, an inline table or an array "
                f"of tables; megallm removes only a [{_dotted(table)}] table: remove this by hand",
            )
        holder = self.get(*table[:-1]) if table[:-1] else self._expected
        del holder[table[-1]]
        # A parent that existed only because of this table (no header of its own) goes with it.
        for depth in range(len(table) - 1, 0, -1):
            parent = table[:depth]
            grand = self.get(*parent[:-1]) if parent[:-1] else self._expected
            if grand.get(parent[-1]) == {} and layout.header(parent) is None:
                del grand[parent[-1]]
        self._edited.append(f"[{_dotted(table)}]")

    def text(self) -> str:
        """The edited text, checked: it parses to the old values with exactly these edits."""
        if not self._edited:
            return self.original
        text = self._layout.text()
        try:
            actual = parse(text)
        except TomlError:
            actual = None
        if actual != self._expected:
            raise TomlError(
                1,
                1,
                f"megallm's edit of {', '.join(self._edited)} did not read back as intended, so "
                "the file was left untouched; please report this with the file's layout",
            )
        return text


def position(text: str, path: Sequence[str]) -> tuple[int, int] | None:
    """The 1-based line and column where a key or [table] is written, if it is written plainly."""
    layout = _Layout(text)
    wanted = tuple(path)
    for statement in layout.statements:
        if statement.path == wanted:
            return _line_col(layout.body, statement.key_start)
    return None
