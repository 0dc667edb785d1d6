"""Rendering: human text on stderr, data on stdout, secrets masked on the way out."""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Iterable
from contextlib import AbstractContextManager, nullcontext
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from megallm_cli.request import mask_key

if TYPE_CHECKING:
    from pathlib import Path

    from rich.console import Console

JSON_VERSION = 1

# Anything shaped like a gateway or vendor key, whether or not we know its value.
_KEY_PATTERN = re.compile(r"\bsk-[A-Za-z0-9][A-Za-z0-9_\-]{7,}")
_known_secrets: set[str] = set()
# --quiet: informational text and spinners are left out; warnings, errors and prompts stay.
_quiet = False
# One envelope per run: a failure after a command printed its own adds none.
_envelope_sent = False


def register_secret(value: str) -> None:
    """Every string passed here is masked in all output from now on."""
    if value:
        _known_secrets.add(value)


def register_keys_in(data: bytes | None) -> None:
    """Register every key-shaped string in `data`, so that its pieces elsewhere are masked too
    (a diff of ~/.claude.json shows only the 20-character tail Claude Code keeps of a key)."""
    if data:
        for found in _KEY_PATTERN.finditer(data.decode("utf-8", "replace")):
            register_secret(found.group())


# Agents keep pieces of the key too (Claude Code stores its last 20 characters to remember
# the user approved it): any tail of a known secret this long is masked like the whole key.
_MIN_SECRET_TAIL = 12


def mask(text: str) -> str:
    for secret in sorted(_known_secrets, key=len, reverse=True):
        text = text.replace(secret, mask_key(secret))
        text = _mask_tails(text, secret)
    return _KEY_PATTERN.sub(lambda m: mask_key(m.group()), text)


def _mask_tails(text: str, secret: str) -> str:
    """Replace every tail of `secret` at least _MIN_SECRET_TAIL long with …<last 4>."""
    if len(secret) < 2 * _MIN_SECRET_TAIL:
        return text
    tail = secret[-_MIN_SECRET_TAIL:]
    pieces = []
    start = 0
    hit = text.find(tail)
    while hit != -1:
        begin, matched = hit, _MIN_SECRET_TAIL
        while begin > start and matched < len(secret) and text[begin - 1] == secret[-matched - 1]:
            begin -= 1
            matched += 1
        pieces += [text[start:begin], "…" + secret[-4:]]
        start = hit + _MIN_SECRET_TAIL
        hit = text.find(tail, start)
    return "".join(pieces) + text[start:]


def plain_terminal() -> bool:
    return bool(os.environ.get("NO_COLOR")) or os.environ.get("TERM") == "dumb"


@lru_cache(maxsize=1)
def console() -> Console:
    from rich.console import Console

    return Console(
        stderr=True,
        no_color=bool(os.environ.get("NO_COLOR")),
        highlight=False,
        emoji=False,
    )


def can_draw_unicode() -> bool:
    encoding = (getattr(sys.stderr, "encoding", None) or "").lower()
    return "utf" in encoding and os.environ.get("TERM") != "dumb"


def symbol(status: str) -> str:
    unicode = {"ok": "✓", "warn": "!", "fail": "✗", "info": "·"}
    ascii_ = {"ok": "ok", "warn": "!!", "fail": "XX", "info": "--"}
    return (unicode if can_draw_unicode() else ascii_)[status]


STYLE = {"ok": "green", "warn": "yellow", "fail": "red", "info": "dim"}


def set_quiet(quiet: bool) -> None:
    global _quiet
    _quiet = quiet


def is_quiet() -> bool:
    return _quiet


def report(message: str, style: str | None = None) -> None:
    """A command's result for a person (stderr): shown even with --quiet."""
    _print(message, style)


def say(message: str = "", style: str | None = None) -> None:
    """Informational text for a person (stderr); --quiet leaves it out."""
    if not _quiet:
        _print(message, style)


def _print(message: str, style: str | None) -> None:
    from rich.markup import escape

    text = escape(mask(message))
    console().print(f"[{style}]{text}[/]" if style else text, soft_wrap=True)


def error(message: str, hint: str | None = None) -> None:
    _print(f"error: {message}", "bold red")
    if hint:
        _print(f"hint: {hint}", "yellow")


def warn(message: str) -> None:
    _print(f"warning: {message}", "yellow")


def waiting_for_lock(lock: Path, holder: str, timeout: float) -> None:
    say(f"{holder} holds {lock}: waiting for it (up to {timeout:.0f} s)…", "yellow")


def progress(message: str) -> AbstractContextManager[object]:
    """A spinner with `message` while a slow step runs (drawn only on a terminal, not --quiet)."""
    if _quiet:
        return nullcontext()
    return console().status(mask(message))


def print_table(
    title: str | None,
    columns: Iterable[str],
    rows: Iterable[Iterable[str]],
    whole: Iterable[str] = (),
) -> None:
    """`whole`: columns never folded (ids people copy), the others fold to fit."""
    if _quiet:
        return
    from rich import box
    from rich.table import Table

    table = Table(
        title=title,
        box=box.ASCII if not can_draw_unicode() else box.SIMPLE_HEAD,
        title_justify="left",
    )
    unbroken = set(whole)
    for column in columns:
        table.add_column(column, overflow="fold", no_wrap=column in unbroken)
    from rich.text import Text

    for row in rows:
        # Text, not markup: a cell like "[model_providers.megallm]" must print as written.
        table.add_row(*(Text(mask(cell)) for cell in row))
    console().print(table)


def emit_json(
    command: str, ok: bool, data: Any, errors: list[dict[str, Any]] | None = None
) -> None:
    """One versioned envelope on stdout; everything in it is masked."""
    envelope = {
        "version": JSON_VERSION,
        "command": command,
        "ok": ok,
        "data": data,
        "errors": errors or [],
    }
    sys.stdout.write(mask(json.dumps(envelope, indent=2, default=str)) + "\n")
    sys.stdout.flush()
    global _envelope_sent
    _envelope_sent = True


def envelope_sent() -> bool:
    return _envelope_sent
