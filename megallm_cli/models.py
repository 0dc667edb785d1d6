"""The model catalog: the gateway's live list, a cached copy of it, or the list bundled with us.

OpenCode and Kilo need the model ids written into their config (they never ask /v1/models for a
custom provider), so setup and `megallm models` share this one source. Order of preference: a
cached list younger than the TTL, the live list, an older cached list, the bundled list.
The cache holds model ids only, never the key.
"""

from __future__ import annotations

import contextlib
import json
import re
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TextIO

from megallm_cli.paths import Paths
from megallm_cli.request import Gateway

if TYPE_CHECKING:
    from collections.abc import Mapping

    from megallm_cli.gateway import KeyCheck

Source = Literal["live", "cache", "bundled"]

CACHE_TTL_SECONDS = 3600
CACHE_FILE_NAME = "models.json"
CACHE_FORMAT = 1
BUNDLED_FILE = Path(__file__).parent / "data" / "models.json"
# A bigger catalog is cut down to the bundled (curated) ids: agent configs stay readable.
MAX_CONFIG_MODELS = 40
# Ids that name embedding, speech, image or moderation models: coding agents cannot chat with them.
_NOT_CHAT = re.compile(
    r"embed|whisper|tts|dall-e|image|moderation|transcribe|rerank|realtime|audio|sora|imagen|veo",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class ModelInfo:
    id: str
    owned_by: str


@dataclass(frozen=True)
class ModelCatalog:
    models: list[ModelInfo]
    source: Source
    fetched_at: str | None
    """ISO-8601 UTC time the list left the gateway; for the bundled list, the day it was made."""
    origin: str | None = None
    """The gateway the list came from; None for the bundled list."""
    reason: str = ""
    """Why the live list was not used, when it was not."""

    @property
    def ids(self) -> list[str]:
        return [model.id for model in self.models]

    def describe(self) -> str:
        count = f"{len(self.models)} models"
        if self.source == "live":
            return f"live list from {self.origin} ({count})"
        if self.source == "cache":
            age = _age_seconds(self.fetched_at)
            when = f"{age // 60:.0f} min ago" if age is not None else f"at {self.fetched_at}"
            why = f"; {self.reason}" if self.reason else ""
            return f"cached list from {self.origin}, fetched {when} ({count}{why})"
        return f"bundled list of {count}, made {self.fetched_at} ({self.reason})"

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "origin": self.origin,
            "fetched_at": self.fetched_at,
            "reason": self.reason or None,
            "models": [{"id": m.id, "owned_by": m.owned_by} for m in self.models],
        }


def catalog(
    paths: Paths,
    gateway: Gateway,
    key: str | None,
    *,
    refresh: bool = False,
    timeout: float = 3.0,
    online: bool = True,
) -> ModelCatalog:
    """The best model list there is; `online=False` never touches the network."""
    cached = _read_cache(paths, gateway)
    if cached is not None and not refresh and _is_fresh(cached):
        return cached
    if not online:
        reason = "the gateway was not asked"
    elif not key:
        reason = "no API key to ask the gateway with"
    else:
        from megallm_cli.gateway import check_key

        check = check_key(gateway, key, timeout)
        live = remember(paths, gateway, check)
        if live is not None:
            return live
        reason = f"the gateway answered {check.outcome}: {check.detail}"
    if cached is not None:
        return replace(cached, reason=f"older than {CACHE_TTL_SECONDS // 60} min; {reason}")
    return bundled(reason)


def remember(paths: Paths, gateway: Gateway, check: KeyCheck) -> ModelCatalog | None:
    """The live catalog from a key check's /v1/models answer (cached for next time), if usable."""
    if not check.usable:
        return None
    models = sorted(
        (ModelInfo(model, check.owners.get(model, "")) for model in set(check.models)),
        key=lambda model: model.id,
    )
    live = ModelCatalog(models, "live", _now_iso(), origin=gateway.origin)
    _write_cache(paths, live)
    return live


def bundled(reason: str) -> ModelCatalog:
    data = json.loads(BUNDLED_FILE.read_text(encoding="utf-8"))
    models = [ModelInfo(str(m["id"]), str(m["owned_by"])) for m in data["models"]]
    return ModelCatalog(models, "bundled", str(data["updated"]), reason=reason)


def config_model_ids(model_catalog: ModelCatalog, chosen: str | None) -> list[str]:
    """The ids to list in an agent's config: chat models, curated when there are many, sorted.

    The chosen default is always included, so the agent's `model` refers to a listed model.
    """
    chat = [model_id for model_id in model_catalog.ids if not _NOT_CHAT.search(model_id)]
    if len(chat) > MAX_CONFIG_MODELS:
        curated = set(bundled("").ids)
        chat = [model_id for model_id in chat if model_id in curated] or chat[:MAX_CONFIG_MODELS]
    return sorted({*chat, *([chosen] if chosen else [])})


def listing_key(
    env: Mapping[str, str], paths: Paths, from_stdin: bool, stdin: TextIO
) -> str | None:
    """The key `megallm models` asks with: --api-key-stdin, MEGALLM_API_KEY, then our env file."""
    from megallm_cli.keysource import KEY_ENV, obtain_key

    if from_stdin or KEY_ENV in env:
        secret, _, _ = obtain_key(env=env, from_stdin=from_stdin, stdin=stdin, interactive=False)
        return secret.reveal()
    from megallm_cli.shellenv import persisted_value

    return persisted_value(paths, KEY_ENV)


def _cache_file(paths: Paths) -> Path:
    return paths.cache_dir / CACHE_FILE_NAME


def _read_cache(paths: Paths, gateway: Gateway) -> ModelCatalog | None:
    """The cached list for this gateway; a damaged or foreign cache is as good as none."""
    try:
        data = json.loads(_cache_file(paths).read_text(encoding="utf-8"))
        if data.get("format") != CACHE_FORMAT or data.get("origin") != gateway.origin:
            return None
        models = [ModelInfo(str(m["id"]), str(m["owned_by"])) for m in data["models"]]
        return ModelCatalog(models, "cache", str(data["fetched_at"]), origin=gateway.origin)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def _write_cache(paths: Paths, live: ModelCatalog) -> None:
    """Best effort: a cache we cannot write only costs the next run a request."""
    from megallm_cli.fsio import atomic_write

    document = {
        "format": CACHE_FORMAT,
        "origin": live.origin,
        "fetched_at": live.fetched_at,
        "models": [{"id": m.id, "owned_by": m.owned_by} for m in live.models],
    }
    with contextlib.suppress(OSError):
        atomic_write(_cache_file(paths), (json.dumps(document, indent=1) + "\n").encode("utf-8"))


def _now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _age_seconds(fetched_at: str | None) -> float | None:
    try:
        fetched = datetime.fromisoformat(fetched_at or "")
    except ValueError:
        return None
    if fetched.tzinfo is None:
        return None
    return (datetime.now(timezone.utc) - fetched).total_seconds()


def _is_fresh(cached: ModelCatalog) -> bool:
    age = _age_seconds(cached.fetched_at)
    # A timestamp in the future (a clock that moved back) is not trusted either.
    return age is not None and 0 <= age < CACHE_TTL_SECONDS
