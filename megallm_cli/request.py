"""SetupRequest: everything a setup run needs, built the same way by the wizard and the flags."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from megallm_cli.errors import UsageError

if TYPE_CHECKING:
    from megallm_cli.models import ModelCatalog

DEFAULT_ORIGIN = "https://ai.megallm.io"
KEY_PREFIX = "sk-mega-"
LEVELS = ("user", "project")


class Secret:
    """A string that never shows itself in repr, str, logs or tracebacks."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def masked(self) -> str:
        return mask_key(self._value)

    def __repr__(self) -> str:
        return f"Secret({self.masked()})"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def mask_key(key: str | None) -> str:
    """sk-mega-abc…wxyz → sk-mega-…wxyz: enough to tell keys apart, never enough to use one."""
    if not key:
        return "(none)"
    key = key.strip()
    tail = key[-4:] if len(key) >= 16 else ""
    prefix = KEY_PREFIX if key.startswith(KEY_PREFIX) else ""
    return f"{prefix}…{tail}" if tail else "…"


# Keys are ASCII tokens: anything else (a zero-width space, a Cyrillic lookalike pasted from a
# chat) could never authenticate, and HTTP clients would fail to send it as a header.
_FORBIDDEN_KEY_CHARS = re.compile(r"[\s\"'`\\$\x00-\x1f\x7f]|[^\x00-\x7f]")


def validate_key(raw: str) -> tuple[str, list[str]]:
    """Return the key and warnings; raise UsageError for a key no gateway would accept."""
    key = raw.strip()
    if not key:
        raise UsageError(
            "the API key is empty",
            hint="pass it with --api-key-stdin or MEGALLM_API_KEY; get one at https://megallm.io",
        )
    bad = _FORBIDDEN_KEY_CHARS.search(key)
    if bad:
        char = bad.group()
        if char.isspace():
            what = "whitespace"
        elif not char.isascii():
            what = f"a non-ASCII character (U+{ord(char):04X})"
        else:
            what = "a quote, backslash, $ or control character"
        raise UsageError(
            f"the API key contains {what} at position {bad.start() + 1}",
            hint="copy the key again from the MegaLLM dashboard; it is one unbroken token",
        )
    warnings = []
    if not key.startswith(KEY_PREFIX):
        warnings.append(f"the key does not start with '{KEY_PREFIX}'; using it anyway")
    return key, warnings


@dataclass(frozen=True)
class Gateway:
    """The gateway origin; both API base URLs derive from it."""

    origin: str = DEFAULT_ORIGIN

    @property
    def anthropic_base_url(self) -> str:
        return self.origin

    @property
    def openai_base_url(self) -> str:
        return self.origin + "/v1"

    @classmethod
    def parse(cls, raw: str | None) -> Gateway:
        if not raw:
            return cls()
        value = raw.strip().rstrip("/")
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise UsageError(
                f"base URL '{raw}' is not an http(s) URL",
                hint="for example --base-url https://ai.megallm.io or http://127.0.0.1:8787",
            )
        if parts.query or parts.fragment:
            raise UsageError(f"base URL '{raw}' must not have a query or fragment")
        path = parts.path.rstrip("/")
        if path.endswith("/v1"):
            path = path[: -len("/v1")]
        return cls(f"{parts.scheme}://{parts.netloc}{path}")

    def matches(self, url: str | None) -> bool:
        return url is not None and url.rstrip("/") in (
            self.anthropic_base_url,
            self.openai_base_url,
        )


@dataclass(frozen=True)
class SetupRequest:
    agents: tuple[str, ...]
    level: str
    project_dir: Path
    api_key: Secret
    gateway: Gateway = field(default_factory=Gateway)
    models: dict[str, str] = field(default_factory=dict)
    claude_auth_variable: str = "ANTHROPIC_AUTH_TOKEN"
    fix_claude_comments: bool = False
    model_catalog: ModelCatalog | None = None
    """The models agents list in their config (OpenCode, Kilo); None: cached or bundled."""

    def model_for(self, agent: str) -> str | None:
        return self.models.get(agent) or self.models.get("*")


def parse_model_flags(values: list[str], known_agents: tuple[str, ...]) -> dict[str, str]:
    """`--model M` sets every agent's default; `--model AGENT=M` one agent's."""
    models: dict[str, str] = {}
    for value in values:
        agent, sep, model = value.partition("=")
        if sep and agent in known_agents:
            models[agent] = model.strip()
        elif sep and "/" not in agent and ":" not in agent:
            raise UsageError(
                f"--model {value}: unknown agent '{agent}'",
                hint=f"agents are: {', '.join(known_agents)}",
            )
        else:
            models["*"] = value.strip()
    return models
