"""Bytes ↔ text for config files, keeping a BOM and reporting bad bytes with line:col."""

from __future__ import annotations

from pathlib import Path

from megallm_cli.errors import ConfigParseError


def decode_utf8(data: bytes, path: Path | str) -> str:
    """Strict UTF-8; a BOM stays in the text as U+FEFF so encoding gives the same bytes back."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line, col = line_col_of_offset(data, error.start)
        raise ConfigParseError(
            path, line, col, f"byte 0x{data[error.start]:02x} is not valid UTF-8"
        ) from None


def line_col_of_offset(data: bytes | str, offset: int) -> tuple[int, int]:
    newline: bytes | str = b"\n" if isinstance(data, bytes) else "\n"
    line = data.count(newline, 0, offset) + 1  # type: ignore[arg-type]
    col = offset - (data.rfind(newline, 0, offset) + 1) + 1  # type: ignore[arg-type]
    return line, col


def encode_utf8(text: str) -> bytes:
    return text.encode("utf-8")
