"""Reading agents' JSON/JSONC config files: bytes, text and value; errors carry file:line:col."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from megallm_cli.errors import ConfigParseError
from megallm_cli.formats import jsonc
from megallm_cli.formats.text import decode_utf8
from megallm_cli.fsio import read_bytes


@dataclass(frozen=True)
class JsonDocument:
    path: Path
    before: bytes | None
    text: str
    value: dict[str, Any]

    @property
    def exists(self) -> bool:
        return self.before is not None


def load(path: Path, *, strict: bool) -> JsonDocument:
    """Read and parse one config file; a missing or blank file is an empty object.

    `strict` rejects comments and trailing commas, for files whose agent reads plain JSON.
    """
    before = read_bytes(path)
    text = "" if before is None else decode_utf8(before, path)
    return JsonDocument(path, before, text, parse_object(text, path, strict=strict))


def parse_object(text: str, path: Path, *, strict: bool) -> dict[str, Any]:
    if not text.strip("\ufeff \t\r\n"):
        return {}
    try:
        value = jsonc.parse(text, allow_comments=not strict, allow_trailing_commas=not strict)
    except jsonc.JsoncSyntaxError as error:
        raise ConfigParseError(path, error.line, error.col, error.reason) from None
    if not isinstance(value, dict):
        raise ConfigParseError(path, 1, 1, "expected a JSON object at the top level")
    return value


def object_at(value: dict[str, Any], key: str, path: Path) -> dict[str, Any]:
    """A nested object we are about to edit; anything else there is the user's and is refused."""
    inner = value.get(key, {})
    if not isinstance(inner, dict):
        raise ConfigParseError(
            path, 1, 1, f'"{key}" must be an object, found {type(inner).__name__}'
        )
    return inner
