"""Reading agents' JSON/JSONC config files: bytes, text and value; errors carry file:line:col."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from megallm_cli.changes import bytes_after_removal
from megallm_cli.errors import ConfigParseError
from megallm_cli.formats import jsonc
from megallm_cli.formats.text import decode_utf8, encode_utf8
from megallm_cli.fsio import read_bytes

if TYPE_CHECKING:
    from megallm_cli.backups import PriorImage

NOT_AN_OBJECT = "expected a JSON object at the top level"
_BLANK = re.compile("[\ufeff \t\r\n]*")


@dataclass(frozen=True)
class JsonDocument:
    path: Path
    before: bytes | None
    text: str
    value: dict[str, Any]

    @property
    def exists(self) -> bool:
        return self.before is not None


# Doctor and status ask each agent for its configuration several times in one run, and every
# ask reads the same files: a file that still holds the bytes it was parsed from is not parsed
# again. Its value is shared by every reader, so nobody may change it.
_PARSED_KEPT = 32
_parsed: dict[tuple[Path, bool], JsonDocument] = {}


def load(path: Path, *, strict: bool) -> JsonDocument:
    """Read and parse one config file; a missing or blank file is an empty object.

    `strict` rejects comments and trailing commas, for files whose agent reads plain JSON.
    The document's value is shared with other loads of the same bytes: read it, never change it.
    """
    before = read_bytes(path)
    known = _parsed.get((path, strict))
    if known is not None and known.before == before:
        return known
    text = "" if before is None else decode_utf8(before, path)
    document = JsonDocument(path, before, text, parse_object(text, path, strict=strict))
    _parsed.pop((path, strict), None)
    if len(_parsed) >= _PARSED_KEPT:
        del _parsed[next(iter(_parsed))]  # the one parsed longest ago
    _parsed[(path, strict)] = document
    return document


def parse_object(text: str, path: Path, *, strict: bool) -> dict[str, Any]:
    if not text.strip("\ufeff \t\r\n"):
        return {}
    try:
        value = jsonc.parse(text, allow_comments=not strict, allow_trailing_commas=not strict)
    except jsonc.JsoncSyntaxError as error:
        raise ConfigParseError(path, error.line, error.col, error.reason) from None
    if not isinstance(value, dict):
        raise ConfigParseError(path, 1, 1, NOT_AN_OBJECT)
    return value


def check_object(text: str, path: Path, *, strict: bool) -> None:
    """What parse_object checks, without building the value: for a file of tens of MB that
    is edited, never read (its parsed objects would take several times its size)."""
    if _BLANK.fullmatch(text):  # a match, not strip(): that would copy the whole text
        return
    try:
        found = jsonc.value_type(text, allow_comments=not strict, allow_trailing_commas=not strict)
    except jsonc.JsoncSyntaxError as error:
        raise ConfigParseError(path, error.line, error.col, error.reason) from None
    if found is not dict:
        raise ConfigParseError(path, 1, 1, NOT_AN_OBJECT)


def object_at(value: dict[str, Any], key: str, path: Path) -> dict[str, Any]:
    """A nested object we are about to edit; anything else there is the user's and is refused."""
    inner = value.get(key, {})
    if not isinstance(inner, dict):
        raise ConfigParseError(
            path, 1, 1, f'"{key}" must be an object, found {type(inner).__name__}'
        )
    return inner


def after_removal(path: Path, text: str, prior: PriorImage, *, strict: bool) -> bytes | None:
    """What a file becomes once megallm's entries are out of `text`, given its image before megallm.

    When what is left reads the same as that image, the image's own bytes come back: the user's
    `{}`, blank file or layout, which minimal deletes cannot rebuild. A file megallm created and
    left holding nothing is deleted (None). Anything else keeps `text`. A comment in `text` keeps
    it too: it is the user's, and the image may not have it. `strict`: an image that is not
    strict JSON is not a state to go back to (its agent ignores such a file).
    """
    remaining = parse_object(text, path, strict=False)
    if jsonc.has_comments(text):
        return encode_utf8(text)

    def reads_the_same(data: bytes) -> bool:
        try:
            earlier = parse_object(decode_utf8(data, path), path, strict=strict)
        except ConfigParseError:
            return False
        return jsonc.same_json(earlier, remaining)

    return bytes_after_removal(
        text, prior.data, nothing_left=lambda: remaining == {}, reads_the_same=reads_the_same
    )
