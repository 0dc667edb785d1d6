#!/usr/bin/env python3
"""A stand-in for the MegaLLM gateway, for tests and for running real coding agents offline.

It speaks just enough of the three wire formats the agents use — Anthropic Messages, OpenAI
Chat Completions and OpenAI Responses, each streaming and not — to make Claude Code, Codex,
OpenCode, Kilo and Cline finish a one-turn conversation and print a fixed, recognisable reply.
It checks keys the way the gateway does, can be switched into fault modes (also at run time,
from another process, through ``POST /__admin/mode``), and records every request.

Standard library only, so that tests and CI need nothing installed. It binds loopback only.

Run it:  python scripts/fake_gateway.py --port 8787 --key sk-mega-test-0123456789
Use it:  with FakeGateway(keys={"sk-mega-…"}) as gateway: … gateway.url … gateway.requests()
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import hashlib
import ipaddress
import json
import os
import re
import socket
import sys
import threading
import time
import uuid
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from enum import Enum
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from typing_extensions import Self  # typing.Self is 3.11+; only the type checker reads it

REPLY_TEXT = "Hello from the MegaLLM stand-in gateway."

DEFAULT_MODELS: tuple[str, ...] = (
    "claude-sonnet-4-5",
    "claude-opus-4-1",
    "claude-haiku-4-5",
    "gpt-5",
    "gpt-5-mini",
    "gpt-4.1",
    "gemini-2.5-pro",
    "deepseek-chat",
)

KEY_ENV_VAR = "FAKE_GATEWAY_KEY"

# The model catalog reports one fixed creation time so that answers are reproducible.
CATALOG_CREATED = 1_735_689_600  # 2025-01-01T00:00:00Z

# Headers whose values are credentials: recorded masked, never printed.
SECRET_HEADERS = frozenset(
    {"authorization", "x-api-key", "api-key", "proxy-authorization", "cookie", "x-goog-api-key"}
)

ADMIN_PREFIX = "/__admin/"


class Mode(str, Enum):
    """How the gateway answers API requests (admin requests are never affected)."""

    OK = "ok"
    UNAUTHORIZED = "unauthorized"  # 401 for every request, whatever the key
    RATE_LIMITED = "rate_limited"  # 429 with a retry-after header
    ERROR = "error"  # 500
    SLOW = "slow"  # wait slow_seconds, then answer normally
    NO_RESPONSES = "no_responses"  # 404 on /v1/responses, like a gateway without that API


def key_fingerprint(key: str) -> str:
    """The sha256 hex digest that recordings expose instead of a key."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def mask_secret(value: str) -> str:
    """Keep an auth scheme word and the last four characters: enough to tell keys apart."""
    scheme, _, credential = value.partition(" ")
    if credential and scheme.lower() in {"bearer", "basic", "token"}:
        return f"{scheme} {mask_secret(credential)}"
    return "***" + value[-4:] if len(value) >= 12 else "***"


@dataclass
class RecordedRequest:
    """One API request as the gateway saw it. Only ``api_key`` holds the key in clear."""

    method: str
    path: str
    query: str
    headers: dict[str, str]  # lower-cased names, credentials masked
    body: Any  # the parsed JSON body, or None
    model: str | None
    auth_scheme: str | None  # "x-api-key", "bearer" or None
    key_sha256: str | None
    api_key: str | None = field(default=None, repr=False)  # in memory only, never serialised
    status: int | None = None
    stream: bool = False
    received_at: float = field(default_factory=time.time)

    def to_json(self) -> dict[str, Any]:
        """A JSON-safe view without the key itself (the admin endpoint serves this)."""
        return {
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "headers": self.headers,
            "body": self.body,
            "model": self.model,
            "auth_scheme": self.auth_scheme,
            "key_sha256": self.key_sha256,
            "status": self.status,
            "stream": self.stream,
            "received_at": self.received_at,
        }


class _Server(ThreadingHTTPServer):
    # Handler threads must not keep a test process alive, nor make stop() wait for a client
    # that keeps its connection open.
    daemon_threads = True
    gateway: FakeGateway


class FakeGateway:
    """The stand-in gateway. ``start()`` binds a port; ``url`` is then e.g. http://127.0.0.1:PORT.

    ``keys`` are the valid keys; None means "the --key/FAKE_GATEWAY_KEY key if set, else any
    non-empty key". A key in ``revoked_keys`` is answered with 403.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        keys: Iterable[str] | None = None,
        revoked_keys: Iterable[str] = (),
        models: Iterable[str] = DEFAULT_MODELS,
        reply_text: str = REPLY_TEXT,
        mode: Mode | str = Mode.OK,
        slow_seconds: float = 5.0,
        retry_after_seconds: int = 1,
        reject_unknown_models: bool = False,
        log_stream: Any = None,
    ) -> None:
        if not _is_loopback(host):
            raise ValueError(f"the stand-in gateway binds loopback addresses only, not {host!r}")
        if keys is None:
            env_key = os.environ.get(KEY_ENV_VAR, "").strip()
            keys = [env_key] if env_key else []
        self.host = host
        self.requested_port = port
        self.valid_keys: set[str] = {key for key in keys if key}
        self.revoked_keys: set[str] = {key for key in revoked_keys if key}
        self.models: list[str] = list(models)
        self.reply_text = reply_text
        self.reject_unknown_models = reject_unknown_models
        self.log_stream = log_stream  # where one summary line per request goes (no keys)
        self._lock = threading.Lock()
        self._mode = Mode(mode)
        self._slow_seconds = slow_seconds
        self._retry_after_seconds = retry_after_seconds
        self._records: list[RecordedRequest] = []
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._open_connections: set[socket.socket] = set()

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> Self:
        if self._server is not None:
            return self
        self._stopping.clear()
        server = _Server((self.host, self.requested_port), _Handler)
        server.gateway = self
        self._server = server
        # A short poll interval: stop() waits up to one interval, and tests stop it often.
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.02},
            name="fake-gateway",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()  # wakes requests sleeping in slow mode
        server.shutdown()
        # Keep-alive clients would otherwise hold their handler threads (and sockets) open.
        with self._lock:
            connections = list(self._open_connections)
        for connection in connections:
            with contextlib.suppress(OSError):  # the client may have gone already
                connection.shutdown(socket.SHUT_RDWR)
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the stand-in gateway is not started")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """The origin, without /v1: what Anthropic-format clients take as their base URL."""
        return f"http://{self.host}:{self.port}"

    @property
    def openai_base_url(self) -> str:
        """The origin plus /v1: what OpenAI-format clients take as their base URL."""
        return self.url + "/v1"

    @property
    def key(self) -> str | None:
        """One valid key (the alphabetically first), handy for tests with a single key."""
        return min(self.valid_keys) if self.valid_keys else None

    # -- modes -------------------------------------------------------------------------------

    @property
    def mode(self) -> Mode:
        with self._lock:
            return self._mode

    def set_mode(
        self,
        mode: Mode | str,
        *,
        slow_seconds: float | None = None,
        retry_after_seconds: int | None = None,
    ) -> None:
        new_mode = Mode(mode)  # raises ValueError on an unknown name
        with self._lock:
            self._mode = new_mode
            if slow_seconds is not None:
                self._slow_seconds = float(slow_seconds)
            if retry_after_seconds is not None:
                self._retry_after_seconds = int(retry_after_seconds)

    def mode_settings(self) -> dict[str, Any]:
        with self._lock:
            return {
                "mode": self._mode.value,
                "slow_seconds": self._slow_seconds,
                "retry_after_seconds": self._retry_after_seconds,
            }

    # -- recordings --------------------------------------------------------------------------

    def requests(self, path: str | None = None) -> list[RecordedRequest]:
        """Recorded API requests in arrival order; with ``path``, only those to that path."""
        with self._lock:
            records = list(self._records)
        return [record for record in records if path is None or record.path == path]

    def last_request(self, path: str | None = None) -> RecordedRequest:
        records = self.requests(path)
        if not records:
            raise LookupError(f"no request recorded{' for ' + path if path else ''}")
        return records[-1]

    def reset(self) -> None:
        """Forget recorded requests and go back to mode ok (keys and models stay)."""
        with self._lock:
            self._records.clear()
            self._mode = Mode.OK

    # -- used by the handler -----------------------------------------------------------------

    def _record(self, record: RecordedRequest) -> None:
        with self._lock:
            self._records.append(record)

    def _track_connection(self, connection: socket.socket, is_open: bool) -> None:
        with self._lock:
            if is_open:
                self._open_connections.add(connection)
            else:
                self._open_connections.discard(connection)

    def _sleep(self, seconds: float) -> None:
        self._stopping.wait(seconds)

    def _log(self, record: RecordedRequest) -> None:
        if self.log_stream is None:
            return
        fingerprint = record.key_sha256[:12] if record.key_sha256 else "-"
        line = (
            f"{record.method} {record.path} model={record.model or '-'} "
            f"stream={str(record.stream).lower()} auth={record.auth_scheme or '-'} "
            f"key_sha256={fingerprint} -> {record.status}"
        )
        with contextlib.suppress(OSError, ValueError):  # a closed stderr must not fail a request
            print(line, file=self.log_stream, flush=True)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# --- wire formats ----------------------------------------------------------------------------


def _text_pieces(text: str) -> list[str]:
    """Split a reply into several deltas, as a real model would stream it."""
    return re.findall(r"\S+\s*", text) or [text]


def _estimate_tokens(value: Any) -> int:
    # Roughly four characters a token: clients only need a plausible positive number.
    return max(1, len(json.dumps(value, ensure_ascii=False)) // 4) if value else 1


def _new_id(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:24]}"


def _sse(event: str | None, payload: Any) -> bytes:
    data = payload if isinstance(payload, str) else json.dumps(payload, separators=(",", ":"))
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {data}\n\n".encode()


def anthropic_message(model: str, text: str, input_tokens: int) -> dict[str, Any]:
    return {
        "id": _new_id("msg_"),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{"type": "text", "text": text}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {
            "input_tokens": input_tokens,
            "output_tokens": len(_text_pieces(text)),
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
        },
    }


def anthropic_stream(model: str, text: str, input_tokens: int) -> Iterator[bytes]:
    message = anthropic_message(model, text, input_tokens)
    pieces = _text_pieces(text)
    start = dict(message, content=[], stop_reason=None)
    start["usage"] = dict(message["usage"], output_tokens=1)
    yield _sse("message_start", {"type": "message_start", "message": start})
    yield _sse(
        "content_block_start",
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    )
    yield _sse("ping", {"type": "ping"})
    for piece in pieces:
        yield _sse(
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "text_delta", "text": piece},
            },
        )
    yield _sse("content_block_stop", {"type": "content_block_stop", "index": 0})
    yield _sse(
        "message_delta",
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn", "stop_sequence": None},
            "usage": {"output_tokens": len(pieces)},
        },
    )
    yield _sse("message_stop", {"type": "message_stop"})


def chat_completion(model: str, text: str, prompt_tokens: int) -> dict[str, Any]:
    completion_tokens = len(_text_pieces(text))
    return {
        "id": _new_id("chatcmpl-"),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": "stop",
                "logprobs": None,
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


def chat_completion_stream(
    model: str, text: str, prompt_tokens: int, include_usage: bool
) -> Iterator[bytes]:
    completion_id = _new_id("chatcmpl-")
    created = int(time.time())
    pieces = _text_pieces(text)

    def chunk(delta: dict[str, Any], finish_reason: str | None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
        }
        if include_usage:
            body["usage"] = None  # OpenAI sends null on every chunk but the last
        return body

    yield _sse(None, chunk({"role": "assistant", "content": ""}, None))
    for piece in pieces:
        yield _sse(None, chunk({"content": piece}, None))
    yield _sse(None, chunk({}, "stop"))
    if include_usage:
        yield _sse(
            None,
            {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": [],
                "usage": {
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": len(pieces),
                    "total_tokens": prompt_tokens + len(pieces),
                },
            },
        )
    yield _sse(None, "[DONE]")


def _responses_usage(input_tokens: int, output_tokens: int) -> dict[str, Any]:
    return {
        "input_tokens": input_tokens,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": output_tokens,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": input_tokens + output_tokens,
    }


def _responses_envelope(
    response_id: str, model: str, status: str, created_at: int, request: dict[str, Any]
) -> dict[str, Any]:
    return {
        "id": response_id,
        "object": "response",
        "created_at": created_at,
        "status": status,
        "error": None,
        "incomplete_details": None,
        "instructions": request.get("instructions"),
        "model": model,
        "output": [],
        "parallel_tool_calls": request.get("parallel_tool_calls", True),
        "previous_response_id": request.get("previous_response_id"),
        "store": request.get("store", False),
        "temperature": request.get("temperature"),
        "tool_choice": request.get("tool_choice", "auto"),
        "tools": [],  # echoing the client's tool list back would only bloat the stream
        "usage": None,
        "metadata": {},
    }


def _output_message(item_id: str, text: str, status: str) -> dict[str, Any]:
    content = [{"type": "output_text", "text": text, "annotations": []}] if status else []
    return {
        "id": item_id,
        "type": "message",
        "status": status or "in_progress",
        "role": "assistant",
        "content": content,
    }


def responses_object(model: str, text: str, request: dict[str, Any]) -> dict[str, Any]:
    response = _responses_envelope(_new_id("resp_"), model, "completed", int(time.time()), request)
    response["output"] = [_output_message(_new_id("msg_"), text, "completed")]
    response["output_text"] = text
    response["usage"] = _responses_usage(
        _estimate_tokens(request.get("input")), len(_text_pieces(text))
    )
    return response


def responses_stream(model: str, text: str, request: dict[str, Any]) -> Iterator[bytes]:
    response_id = _new_id("resp_")
    item_id = _new_id("msg_")
    created_at = int(time.time())
    pieces = _text_pieces(text)
    sequence = iter(range(1_000_000))

    def event(kind: str, **fields: Any) -> bytes:
        return _sse(kind, {"type": kind, "sequence_number": next(sequence), **fields})

    in_progress = _responses_envelope(response_id, model, "in_progress", created_at, request)
    yield event("response.created", response=in_progress)
    yield event("response.in_progress", response=in_progress)
    yield event(
        "response.output_item.added",
        output_index=0,
        item=_output_message(item_id, "", ""),
    )
    empty_part = {"type": "output_text", "text": "", "annotations": []}
    where = {"item_id": item_id, "output_index": 0, "content_index": 0}
    yield event("response.content_part.added", **where, part=empty_part)
    for piece in pieces:
        yield event("response.output_text.delta", **where, delta=piece, logprobs=[])
    yield event("response.output_text.done", **where, text=text, logprobs=[])
    yield event(
        "response.content_part.done",
        **where,
        part={"type": "output_text", "text": text, "annotations": []},
    )
    done_item = _output_message(item_id, text, "completed")
    yield event("response.output_item.done", output_index=0, item=done_item)
    completed = _responses_envelope(response_id, model, "completed", created_at, request)
    completed["output"] = [done_item]
    completed["usage"] = _responses_usage(_estimate_tokens(request.get("input")), len(pieces))
    yield event("response.completed", response=completed)


def openai_model_list(models: Iterable[str], anthropic_fields: bool) -> dict[str, Any]:
    data: list[dict[str, Any]] = []
    for model_id in models:
        entry: dict[str, Any] = {
            "id": model_id,
            "object": "model",
            "created": CATALOG_CREATED,
            "owned_by": _owner(model_id),
        }
        if anthropic_fields:
            # Anthropic SDK clients read these; OpenAI clients ignore them.
            entry.update(type="model", display_name=model_id, created_at="2025-01-01T00:00:00Z")
        data.append(entry)
    listing: dict[str, Any] = {"object": "list", "data": data}
    if anthropic_fields:
        listing.update(
            has_more=False,
            first_id=data[0]["id"] if data else None,
            last_id=data[-1]["id"] if data else None,
        )
    return listing


def _owner(model_id: str) -> str:
    for prefix, owner in (
        ("claude", "anthropic"),
        ("gpt", "openai"),
        ("o1", "openai"),
        ("o3", "openai"),
        ("gemini", "google"),
        ("deepseek", "deepseek"),
    ):
        if model_id.startswith(prefix):
            return owner
    return "megallm"


def _is_anthropic_path(path: str) -> bool:
    return path == "/v1/messages" or path.startswith("/v1/messages/")


def error_body(path: str, status: int, message: str, kind: str) -> dict[str, Any]:
    """An error in the shape the client of ``path`` parses: Anthropic's or OpenAI's."""
    if _is_anthropic_path(path):
        anthropic_types = {
            401: "authentication_error",
            403: "permission_error",
            404: "not_found_error",
            429: "rate_limit_error",
            500: "api_error",
        }
        return {
            "type": "error",
            "error": {
                "type": anthropic_types.get(status, "invalid_request_error"),
                "message": message,
            },
        }
    openai_types = {
        401: "invalid_request_error",
        403: "invalid_request_error",
        404: "invalid_request_error",
        429: "rate_limit_error",
        500: "server_error",
    }
    return {
        "error": {
            "message": message,
            "type": openai_types.get(status, "invalid_request_error"),
            "param": None,
            "code": kind,
        }
    }


# --- the HTTP handler ------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    # HTTP/1.1 keeps connections alive as Node's fetch expects; every answer therefore carries
    # a Content-Length or is sent chunked.
    protocol_version = "HTTP/1.1"
    server_version = "MegaLLMStandIn/1.0"
    server: _Server
    timeout = 120  # an idle keep-alive connection is dropped after this many seconds

    def setup(self) -> None:
        super().setup()
        self.server.gateway._track_connection(self.connection, True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.gateway._track_connection(self.connection, False)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # FakeGateway logs its own one-line summaries, without client addresses

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    # -- plumbing ----------------------------------------------------------------------------

    @property
    def gateway(self) -> FakeGateway:
        return self.server.gateway

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            raw = self._read_chunked()
        else:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length > 0 else b""
        encoding = self.headers.get("Content-Encoding", "").lower().strip()
        if encoding == "gzip":
            return gzip.decompress(raw)
        if encoding == "deflate":
            return zlib.decompress(raw)
        return raw

    def _read_chunked(self) -> bytes:
        parts: list[bytes] = []
        while True:
            size_line = self.rfile.readline().split(b";", 1)[0].strip()
            size = int(size_line or b"0", 16)
            if size == 0:
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(parts)
            parts.append(self.rfile.read(size))
            self.rfile.readline()

    def _send_json(
        self, status: int, payload: Any, extra_headers: dict[str, str] | None = None
    ) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (extra_headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _send_stream(self, events: Iterator[bytes]) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            for event in events:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(event), event))
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _send_error(
        self,
        record: RecordedRequest | None,
        status: int,
        message: str,
        kind: str,
        extra_headers: dict[str, str] | None = None,
    ) -> None:
        if record is not None:
            record.status = status
        self._send_json(status, error_body(self.path_only, status, message, kind), extra_headers)

    @property
    def path_only(self) -> str:
        return self.path.split("?", 1)[0]

    def _credentials(self) -> tuple[str | None, str | None]:
        """The key and how it was sent; x-api-key wins when a client sends both."""
        api_key = (self.headers.get("x-api-key") or "").strip()
        if api_key:
            return api_key, "x-api-key"
        authorization = (self.headers.get("Authorization") or "").strip()
        scheme, _, credential = authorization.partition(" ")
        if scheme.lower() == "bearer" and credential.strip():
            return credential.strip(), "bearer"
        return None, None

    def _masked_headers(self) -> dict[str, str]:
        return {
            name.lower(): mask_secret(value) if name.lower() in SECRET_HEADERS else value
            for name, value in self.headers.items()
        }

    # -- dispatch ----------------------------------------------------------------------------

    def _dispatch(self) -> None:
        path = self.path_only
        try:
            raw_body = self._read_body()
        except (ValueError, OSError, zlib.error):
            self.close_connection = True
            self._send_error(None, 400, "could not read the request body", "invalid_body")
            return
        body: Any = None
        body_is_json = True
        if raw_body:
            try:
                body = json.loads(raw_body)
            except ValueError:
                body_is_json = False

        if path.startswith(ADMIN_PREFIX):
            self._admin(path, body)
            return

        key, auth_scheme = self._credentials()
        model = body.get("model") if isinstance(body, dict) else None
        record = RecordedRequest(
            method=self.command,
            path=path,
            query=self.path.partition("?")[2],
            headers=self._masked_headers(),
            body=body,
            model=model if isinstance(model, str) else None,
            auth_scheme=auth_scheme,
            key_sha256=key_fingerprint(key) if key else None,
            api_key=key,
            stream=bool(isinstance(body, dict) and body.get("stream")),
        )
        self.gateway._record(record)
        try:
            self._answer(record, path, body, body_is_json, key)
        finally:
            self.gateway._log(record)

    def _answer(
        self,
        record: RecordedRequest,
        path: str,
        body: Any,
        body_is_json: bool,
        key: str | None,
    ) -> None:
        gateway = self.gateway
        settings = gateway.mode_settings()
        mode = Mode(settings["mode"])
        if mode is Mode.SLOW:
            gateway._sleep(settings["slow_seconds"])

        if mode is Mode.UNAUTHORIZED:
            self._send_error(
                record, 401, "Invalid API key (stand-in: unauthorized mode)", "invalid_api_key"
            )
            return
        if not key:
            self._send_error(
                record,
                401,
                "Missing API key: send x-api-key or Authorization: Bearer",
                "missing_api_key",
            )
            return
        if key in gateway.revoked_keys:
            self._send_error(record, 403, "This API key has been revoked", "api_key_revoked")
            return
        if gateway.valid_keys and key not in gateway.valid_keys:
            self._send_error(record, 401, "Invalid API key", "invalid_api_key")
            return
        if mode is Mode.RATE_LIMITED:
            retry_after = str(settings["retry_after_seconds"])
            self._send_error(
                record,
                429,
                "Rate limit exceeded (stand-in)",
                "rate_limit_exceeded",
                {"Retry-After": retry_after},
            )
            return
        if mode is Mode.ERROR:
            self._send_error(record, 500, "Internal error (stand-in: error mode)", "server_error")
            return

        if self.command == "GET":
            self._answer_get(record, path)
            return
        if self.command != "POST" or path not in {
            "/v1/messages",
            "/v1/messages/count_tokens",
            "/v1/chat/completions",
            "/v1/responses",
        }:
            self._send_error(record, 404, f"Unknown endpoint {self.command} {path}", "not_found")
            return
        if mode is Mode.NO_RESPONSES and path == "/v1/responses":
            self._send_error(
                record, 404, "Not found: this gateway has no /v1/responses", "not_found"
            )
            return
        if not body_is_json or not isinstance(body, dict):
            self._send_error(
                record, 400, "The request body must be a JSON object", "invalid_request_error"
            )
            return
        model = record.model
        if not model:
            self._send_error(record, 400, "model is required", "invalid_request_error")
            return
        if gateway.reject_unknown_models and model not in gateway.models:
            self._send_error(record, 404, f"The model {model!r} does not exist", "model_not_found")
            return

        record.status = 200
        text = gateway.reply_text
        stream = record.stream
        if path == "/v1/messages/count_tokens":
            self._send_json(200, {"input_tokens": _estimate_tokens(body.get("messages"))})
        elif path == "/v1/messages":
            tokens = _estimate_tokens(body.get("messages"))
            if stream:
                self._send_stream(anthropic_stream(model, text, tokens))
            else:
                self._send_json(200, anthropic_message(model, text, tokens))
        elif path == "/v1/chat/completions":
            tokens = _estimate_tokens(body.get("messages"))
            if stream:
                options = body.get("stream_options")
                include_usage = isinstance(options, dict) and bool(options.get("include_usage"))
                self._send_stream(chat_completion_stream(model, text, tokens, include_usage))
            else:
                self._send_json(200, chat_completion(model, text, tokens))
        elif stream:
            self._send_stream(responses_stream(model, text, body))
        else:
            self._send_json(200, responses_object(model, text, body))

    def _answer_get(self, record: RecordedRequest, path: str) -> None:
        models = self.gateway.models
        if path == "/v1/models":
            record.status = 200
            anthropic_fields = "anthropic-version" in self.headers
            self._send_json(200, openai_model_list(models, anthropic_fields))
            return
        if path.startswith("/v1/models/"):
            model_id = path[len("/v1/models/") :]
            if model_id in models:
                record.status = 200
                self._send_json(200, openai_model_list([model_id], False)["data"][0])
                return
            self._send_error(
                record, 404, f"The model {model_id!r} does not exist", "model_not_found"
            )
            return
        self._send_error(record, 404, f"Unknown endpoint GET {path}", "not_found")

    def _admin(self, path: str, body: Any) -> None:
        gateway = self.gateway
        if path == "/__admin/mode" and self.command == "GET":
            self._send_json(200, gateway.mode_settings())
        elif path == "/__admin/mode" and self.command == "POST":
            if not isinstance(body, dict) or "mode" not in body:
                self._send_json(400, {"error": 'send {"mode": "<mode>"}'})
                return
            try:
                gateway.set_mode(
                    body["mode"],
                    slow_seconds=body.get("slow_seconds"),
                    retry_after_seconds=body.get("retry_after_seconds"),
                )
            except (ValueError, TypeError) as error:
                choices = ", ".join(mode.value for mode in Mode)
                self._send_json(400, {"error": f"{error}; modes: {choices}"})
                return
            self._send_json(200, gateway.mode_settings())
        elif path == "/__admin/requests" and self.command == "GET":
            self._send_json(200, {"requests": [r.to_json() for r in gateway.requests()]})
        elif (path, self.command) in {("/__admin/requests", "DELETE"), ("/__admin/reset", "POST")}:
            gateway.reset()
            self._send_json(200, {"ok": True})
        else:
            self._send_json(HTTPStatus.NOT_FOUND, {"error": f"unknown admin call {path}"})


# --- command line ----------------------------------------------------------------------------


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Stand-in MegaLLM gateway on loopback, for tests and offline agent runs.",
        epilog="example: python scripts/fake_gateway.py --port 8787 --key sk-mega-test-123456",
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="a loopback address (default %(default)s)"
    )
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (default)")
    parser.add_argument(
        "--key",
        action="append",
        default=[],
        help=f"a valid key (repeatable; default ${KEY_ENV_VAR}; none: any key is accepted)",
    )
    parser.add_argument("--revoked-key", action="append", default=[], help="answered with 403")
    parser.add_argument("--mode", default=Mode.OK.value, choices=[mode.value for mode in Mode])
    parser.add_argument("--slow-seconds", type=float, default=5.0, help="delay in mode slow")
    parser.add_argument("--retry-after", type=int, default=1, help="seconds, in mode rate_limited")
    parser.add_argument(
        "--models", default=",".join(DEFAULT_MODELS), help="comma-separated model catalog"
    )
    parser.add_argument(
        "--reject-unknown-models", action="store_true", help="404 for a model not in the catalog"
    )
    parser.add_argument("--reply", default=REPLY_TEXT, help="the text every answer contains")
    parser.add_argument(
        "--quiet", action="store_true", help="no per-request summary lines on stderr"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    try:
        gateway = FakeGateway(
            host=args.host,
            port=args.port,
            keys=args.key or None,
            revoked_keys=args.revoked_key,
            models=[model.strip() for model in args.models.split(",") if model.strip()],
            reply_text=args.reply,
            mode=args.mode,
            slow_seconds=args.slow_seconds,
            retry_after_seconds=args.retry_after,
            reject_unknown_models=args.reject_unknown_models,
            log_stream=None if args.quiet else sys.stderr,
        )
        gateway.start()
    except (ValueError, OSError) as error:
        print(f"fake_gateway: {error}", file=sys.stderr)
        return 2
    print(f"listening on {gateway.url}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        gateway.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
