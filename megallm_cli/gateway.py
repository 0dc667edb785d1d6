"""HTTP to the gateway: list models, check a key, probe a wire format. Short timeouts; stdlib only.

The key travels in a request header and nowhere else: it is never part of a URL, a result or an
error message built here.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING

from megallm_cli.request import Gateway

if TYPE_CHECKING:
    import urllib.request

DEFAULT_TIMEOUT = 3.0
# A probe makes the model produce a token, which takes longer than listing models.
PROBE_TIMEOUT = 5.0
USER_AGENT = "megallm-cli"
ANTHROPIC_VERSION = "2023-06-01"
PROBE_PROMPT = "ping"


@dataclass(frozen=True)
class Answer:
    """What one HTTP call came back with. `status` is None when no HTTP answer arrived."""

    status: int | None
    latency_ms: float
    body: bytes = b""
    failure: str = ""  # "timeout" or "unreachable" when status is None
    reason: str = ""  # the HTTP reason phrase, or why the connection failed
    retry_after: str | None = None  # a 429's Retry-After header
    location: str | None = None  # where a 3xx points

    @property
    def failed(self) -> bool:
        """No answer, or one that is not a success (a redirect is not followed, so it fails)."""
        return self.status is None or self.status >= 300

    def describe_failure(self) -> str:
        """Status, reason and the gateway's message; for a redirect, where it leads."""
        text = f"HTTP {self.status} {self.reason}"
        if self.location:
            return f"{text}: redirects to {self.location} (use that as the base URL)"
        message = self.error_message()
        return f"{text}: {message}" if message else text

    def _error(self) -> object:
        try:
            return json.loads(self.body).get("error")
        except (ValueError, AttributeError):
            return None

    def error_message(self) -> str:
        """The gateway's own error message from an OpenAI- or Anthropic-shaped error body."""
        error = self._error()
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return str(error["message"])
        return error if isinstance(error, str) else ""

    def error_code(self) -> str:
        """The error's `code` and `type` (e.g. "model_not_found invalid_request_error")."""
        error = self._error()
        if not isinstance(error, dict):
            return ""
        return " ".join(str(error.get(name) or "") for name in ("code", "type")).strip()


def _is_timeout(error: BaseException) -> bool:
    reason = getattr(error, "reason", error)
    return isinstance(error, TimeoutError) or isinstance(reason, TimeoutError)


@lru_cache(maxsize=1)
def _opener() -> urllib.request.OpenerDirector:
    """urllib without redirects: it would resend the key, headers and all, to any host."""
    import urllib.request

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: object, **kwargs: object) -> None:
            return None  # urllib then raises HTTPError with the 3xx status

    return urllib.request.build_opener(NoRedirect)


def call(
    url: str,
    headers: dict[str, str],
    body: object | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> Answer:
    """GET `url` (or POST `body` as JSON); every failure becomes an Answer, never an exception."""
    import http.client
    import urllib.error
    import urllib.request

    data = None if body is None else json.dumps(body).encode()
    all_headers = {"User-Agent": USER_AGENT, **headers}
    if data is not None:
        all_headers["Content-Type"] = "application/json"
    request = urllib.request.Request(url, data=data, headers=all_headers)
    started = time.monotonic()

    def elapsed() -> float:
        return (time.monotonic() - started) * 1000

    try:
        with _opener().open(request, timeout=timeout) as response:
            return Answer(response.status, elapsed(), response.read(), reason=response.reason)
    except urllib.error.HTTPError as error:
        try:
            error_body = error.read()
        except (OSError, ValueError, http.client.HTTPException):
            error_body = b""
        return Answer(
            error.code,
            elapsed(),
            error_body,
            reason=str(error.reason),
            retry_after=error.headers.get("Retry-After") if error.headers else None,
            location=error.headers.get("Location") if error.headers else None,
        )
    except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException) as error:
        if _is_timeout(error):
            return Answer(None, elapsed(), failure="timeout", reason=f"no answer in {timeout:g} s")
        reason = getattr(error, "reason", None) or f"{type(error).__name__}: {error}"
        return Answer(None, elapsed(), failure="unreachable", reason=str(reason))


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


# --- key check: GET /v1/models --------------------------------------------------------------


@dataclass(frozen=True)
class KeyCheck:
    """The outcome of GET /v1/models with the key."""

    # valid, unauthorized, forbidden, rate_limited, server_error, timeout, unreachable, error
    outcome: str
    status: int | None
    latency_ms: float
    detail: str = ""
    models: list[str] = field(default_factory=list)
    owners: dict[str, str] = field(default_factory=dict)
    """Model id → the catalog's `owned_by`, where it gives one."""
    retry_after: str | None = None

    @property
    def usable(self) -> bool:
        return self.outcome == "valid"

    @property
    def answered(self) -> bool:
        """The gateway sent an HTTP answer (whatever it said)."""
        return self.status is not None


_OUTCOMES = {401: "unauthorized", 403: "forbidden", 429: "rate_limited"}


def _outcome_of(status: int) -> str:
    return _OUTCOMES.get(status, "server_error" if status >= 500 else "error")


def models_url(gateway: Gateway) -> str:
    return gateway.openai_base_url + "/models"


def check_key(gateway: Gateway, key: str, timeout: float = DEFAULT_TIMEOUT) -> KeyCheck:
    """List the gateway's models with the key: one call answers reachability, key and catalog."""
    answer = call(models_url(gateway), bearer(key), timeout=timeout)
    if answer.status is None:
        return KeyCheck(answer.failure, None, answer.latency_ms, answer.reason)
    if answer.failed:
        return KeyCheck(
            _outcome_of(answer.status),
            answer.status,
            answer.latency_ms,
            answer.describe_failure(),
            retry_after=answer.retry_after,
        )
    try:
        entries = json.loads(answer.body)["data"]
        models = [str(item["id"]) for item in entries]
    except (ValueError, KeyError, TypeError):
        return KeyCheck(
            "error", answer.status, answer.latency_ms, "the /v1/models answer is not a model list"
        )
    owners = {str(item["id"]): str(item["owned_by"]) for item in entries if item.get("owned_by")}
    return KeyCheck("valid", answer.status, answer.latency_ms, models=models, owners=owners)


# --- probes: one tiny request in the wire format an agent speaks -----------------------------


@dataclass(frozen=True)
class Wire:
    """A wire format: its name for people, and the request an agent makes in it."""

    name: str
    path: str  # as appended to the gateway origin

    @property
    def request_line(self) -> str:
        return f"POST {self.path}"


# Claude Code posts to /v1/messages?beta=true (observed): probe exactly what it sends.
MESSAGES = Wire("Anthropic Messages", "/v1/messages?beta=true")
CHAT_COMPLETIONS = Wire("Chat Completions", "/v1/chat/completions")
RESPONSES = Wire("Responses", "/v1/responses")

AUTH_BEARER = "bearer"
AUTH_X_API_KEY = "x-api-key"


@dataclass(frozen=True)
class ProbeResult:
    wire: Wire
    # ok, unauthorized, forbidden, not_found (no such endpoint), model_not_found,
    # rate_limited, rejected (another 3xx or 4xx), server_error, timeout, unreachable
    outcome: str
    status: int | None
    latency_ms: float
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"


def probe_body(wire: Wire, model: str) -> dict[str, object]:
    """The smallest request each format accepts: one output token (Responses: its minimum)."""
    message = [{"role": "user", "content": PROBE_PROMPT}]
    if wire is MESSAGES:
        return {"model": model, "max_tokens": 1, "messages": message}
    if wire is CHAT_COMPLETIONS:
        # max_tokens, not max_completion_tokens: it is what OpenCode, Kilo and Cline send.
        return {"model": model, "max_tokens": 1, "messages": message}
    # OpenAI rejects max_output_tokens below 16.
    return {"model": model, "input": PROBE_PROMPT, "max_output_tokens": 16}


def probe(
    gateway: Gateway,
    wire: Wire,
    key: str,
    model: str,
    auth: str = AUTH_BEARER,
    timeout: float = PROBE_TIMEOUT,
) -> ProbeResult:
    """Send one non-streaming request of `wire` with `key`, sent the way the agent sends it."""
    headers = {AUTH_X_API_KEY: key} if auth == AUTH_X_API_KEY else bearer(key)
    if wire is MESSAGES:
        headers["anthropic-version"] = ANTHROPIC_VERSION
    answer = call(gateway.origin + wire.path, headers, probe_body(wire, model), timeout=timeout)
    if answer.status is None:
        return ProbeResult(wire, answer.failure, None, answer.latency_ms, answer.reason)
    if not answer.failed:
        return ProbeResult(wire, "ok", answer.status, answer.latency_ms)
    message = answer.describe_failure()
    if answer.status == 404:
        about_model = "model" in answer.error_code() or model in message
        outcome = "model_not_found" if about_model else "not_found"
    elif answer.status in _OUTCOMES:
        outcome = _OUTCOMES[answer.status]
    else:
        outcome = "server_error" if answer.status >= 500 else "rejected"
    return ProbeResult(wire, outcome, answer.status, answer.latency_ms, message)
