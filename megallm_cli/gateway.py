"""HTTP to the gateway: list models, check a key. Short timeouts; the key only in headers."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

from megallm_cli.request import Gateway

DEFAULT_TIMEOUT = 3.0
USER_AGENT = "megallm-cli"


@dataclass(frozen=True)
class KeyCheck:
    """The outcome of GET /v1/models with the key."""

    outcome: str  # valid, unauthorized, forbidden, rate_limited, server_error, unreachable
    status: int | None
    latency_ms: float
    detail: str = ""
    models: list[str] = field(default_factory=list)

    @property
    def usable(self) -> bool:
        return self.outcome == "valid"


_OUTCOMES = {401: "unauthorized", 403: "forbidden", 429: "rate_limited"}


def check_key(gateway: Gateway, key: str, timeout: float = DEFAULT_TIMEOUT) -> KeyCheck:
    import urllib.error
    import urllib.request

    request = urllib.request.Request(
        gateway.openai_base_url + "/models",
        headers={"Authorization": f"Bearer {key}", "User-Agent": USER_AGENT},
    )
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read()
            status = response.status
    except urllib.error.HTTPError as error:
        latency = (time.monotonic() - started) * 1000
        outcome = _OUTCOMES.get(error.code, "server_error" if error.code >= 500 else "error")
        return KeyCheck(outcome, error.code, latency, f"HTTP {error.code} {error.reason}")
    except (urllib.error.URLError, TimeoutError, OSError) as error:
        latency = (time.monotonic() - started) * 1000
        reason = getattr(error, "reason", error)
        return KeyCheck("unreachable", None, latency, str(reason))
    latency = (time.monotonic() - started) * 1000
    try:
        models = [str(item["id"]) for item in json.loads(body)["data"]]
    except (ValueError, KeyError, TypeError):
        return KeyCheck("error", status, latency, "the /v1/models answer is not a model list")
    return KeyCheck("valid", status, latency, models=models)
