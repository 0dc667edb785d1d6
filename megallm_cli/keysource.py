"""Where the API key comes from: --api-key-stdin, MEGALLM_API_KEY or a hidden prompt; never argv."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TextIO

from megallm_cli.errors import UsageError
from megallm_cli.request import Secret, validate_key

KEY_ENV = "MEGALLM_API_KEY"


def obtain_key(
    *,
    env: Mapping[str, str],
    from_stdin: bool,
    stdin: TextIO,
    interactive: bool,
    prompt: Callable[[], str] | None = None,
) -> tuple[Secret, str, list[str]]:
    """Return the key, a description of its source, and warnings about its shape."""
    if from_stdin:
        raw = stdin.readline()
        source = "standard input"
        if not raw.strip():
            raise UsageError(
                "--api-key-stdin was given but standard input had no key",
                hint='echo "$KEY" | megallm setup --api-key-stdin …',
            )
    elif KEY_ENV in env:
        raw = env[KEY_ENV]
        source = KEY_ENV
        if not raw.strip():
            raise UsageError(
                f"{KEY_ENV} is set but empty",
                hint=f"export {KEY_ENV}=sk-mega-… or pass the key with --api-key-stdin",
            )
    elif interactive and prompt is not None:
        raw = prompt()
        source = "prompt"
    else:
        raise UsageError(
            "no API key: standard input is not a terminal, so megallm cannot prompt for it",
            hint=f"set {KEY_ENV}, or pipe the key into --api-key-stdin (never put it in argv)",
        )
    key, warnings = validate_key(raw)
    return Secret(key), source, warnings
