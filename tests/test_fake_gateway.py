"""The stand-in gateway speaks each wire format, checks keys, fails on demand and records."""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from typing import Any

import pytest

from tests.fake_gateway_fixture import (
    GATEWAY_SCRIPT,
    REVOKED_TEST_KEY,
    TEST_KEY,
    fake_gateway,
    load_fake_gateway_module,
)

__all__ = ["fake_gateway"]  # re-exported so that pytest finds the fixture in this module

gateway_module = load_fake_gateway_module()
REPLY = gateway_module.REPLY_TEXT


class Reply:
    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    def json(self) -> Any:
        return json.loads(self.body)

    def events(self) -> list[tuple[str | None, Any]]:
        """Server-sent events as (event name, parsed data); "[DONE]" stays a string."""
        parsed: list[tuple[str | None, Any]] = []
        for block in self.body.decode().split("\n\n"):
            name = None
            data_lines = []
            for line in block.splitlines():
                if line.startswith("event: "):
                    name = line[len("event: ") :]
                elif line.startswith("data: "):
                    data_lines.append(line[len("data: ") :])
            if data_lines:
                data = "\n".join(data_lines)
                parsed.append((name, data if data == "[DONE]" else json.loads(data)))
        return parsed


def call(
    gateway: Any,
    method: str,
    path: str,
    body: Any = None,
    *,
    key: str | None = TEST_KEY,
    bearer: bool = True,
    headers: dict[str, str] | None = None,
) -> Reply:
    all_headers = {"Content-Type": "application/json", **(headers or {})}
    if key is not None:
        if bearer:
            all_headers["Authorization"] = f"Bearer {key}"
        else:
            all_headers["x-api-key"] = key
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        gateway.url + path, data=data, method=method, headers=all_headers
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return Reply(response.status, dict(response.headers), response.read())
    except urllib.error.HTTPError as error:
        return Reply(error.code, dict(error.headers), error.read())


def streamed_text(events: list[tuple[str | None, Any]], kind: str) -> str:
    if kind == "anthropic":
        return "".join(
            data["delta"]["text"] for name, data in events if name == "content_block_delta"
        )
    if kind == "chat":
        return "".join(
            data["choices"][0]["delta"].get("content") or ""
            for _, data in events
            if isinstance(data, dict) and data.get("choices")
        )
    return "".join(data["delta"] for name, data in events if name == "response.output_text.delta")


# --- endpoints ---------------------------------------------------------------------------


def test_models_list_is_openai_shaped(fake_gateway: Any) -> None:
    reply = call(fake_gateway, "GET", "/v1/models")
    assert reply.status == 200
    listing = reply.json()
    assert listing["object"] == "list"
    ids = [entry["id"] for entry in listing["data"]]
    assert "claude-sonnet-4-5" in ids and "gpt-5" in ids
    assert set(listing["data"][0]) == {"id", "object", "created", "owned_by"}
    assert listing["data"][0]["object"] == "model"


def test_models_list_adds_anthropic_fields_for_anthropic_clients(fake_gateway: Any) -> None:
    reply = call(
        fake_gateway, "GET", "/v1/models", bearer=False, headers={"anthropic-version": "2023-06-01"}
    )
    listing = reply.json()
    assert listing["has_more"] is False
    assert listing["data"][0]["type"] == "model"
    assert listing["data"][0]["display_name"]


def test_single_model_and_unknown_model(fake_gateway: Any) -> None:
    assert call(fake_gateway, "GET", "/v1/models/gpt-5").json()["id"] == "gpt-5"
    assert call(fake_gateway, "GET", "/v1/models/nope").status == 404


def test_catalog_is_configurable() -> None:
    with gateway_module.FakeGateway(keys={TEST_KEY}, models=["only-model"]) as gateway:
        ids = [entry["id"] for entry in call(gateway, "GET", "/v1/models").json()["data"]]
    assert ids == ["only-model"]


def test_anthropic_messages(fake_gateway: Any) -> None:
    body = {
        "model": "claude-sonnet-4-5",
        "max_tokens": 50,
        "messages": [{"role": "user", "content": "hi"}],
    }
    reply = call(fake_gateway, "POST", "/v1/messages", body, bearer=False)
    assert reply.status == 200
    message = reply.json()
    assert message["type"] == "message" and message["role"] == "assistant"
    assert message["content"] == [{"type": "text", "text": REPLY}]
    assert message["model"] == "claude-sonnet-4-5"
    assert message["stop_reason"] == "end_turn"
    assert message["usage"]["input_tokens"] > 0


def test_anthropic_messages_stream(fake_gateway: Any) -> None:
    body = {
        "model": "claude-haiku-4-5",
        "max_tokens": 50,
        "stream": True,
        "messages": [{"role": "user", "content": "hi"}],
    }
    reply = call(fake_gateway, "POST", "/v1/messages", body)
    assert reply.status == 200
    assert reply.headers["Content-Type"].startswith("text/event-stream")
    events = reply.events()
    names = [name for name, _ in events]
    # Collapse the repeated deltas to compare with the documented order.
    order = [name for index, name in enumerate(names) if index == 0 or name != names[index - 1]]
    assert order == [
        "message_start",
        "content_block_start",
        "ping",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert all(name == data["type"] for name, data in events)
    assert names.count("content_block_delta") > 1
    assert streamed_text(events, "anthropic") == REPLY
    assert events[0][1]["message"]["model"] == "claude-haiku-4-5"


def test_anthropic_messages_with_query_string(fake_gateway: Any) -> None:
    # Claude Code 2.1.332 posts to /v1/messages?beta=true.
    body = {"model": "claude-opus-4-1", "max_tokens": 5, "messages": []}
    assert call(fake_gateway, "POST", "/v1/messages?beta=true", body).status == 200
    record = fake_gateway.last_request()
    assert (record.path, record.query) == ("/v1/messages", "beta=true")


def test_anthropic_count_tokens(fake_gateway: Any) -> None:
    body = {"model": "claude-sonnet-4-5", "messages": [{"role": "user", "content": "hi"}]}
    reply = call(fake_gateway, "POST", "/v1/messages/count_tokens", body, bearer=False)
    assert reply.status == 200
    assert reply.json()["input_tokens"] > 0


def test_chat_completions(fake_gateway: Any) -> None:
    body = {"model": "gpt-5", "messages": [{"role": "user", "content": "hi"}]}
    completion = call(fake_gateway, "POST", "/v1/chat/completions", body).json()
    assert completion["object"] == "chat.completion"
    assert completion["choices"][0]["message"] == {"role": "assistant", "content": REPLY}
    assert completion["choices"][0]["finish_reason"] == "stop"
    assert completion["usage"]["total_tokens"] > 0


@pytest.mark.parametrize("include_usage", [False, True])
def test_chat_completions_stream(fake_gateway: Any, include_usage: bool) -> None:
    body: dict[str, Any] = {
        "model": "gpt-5-mini",
        "stream": True,
        "messages": [{"role": "user", "content": "hi"}],
    }
    if include_usage:
        body["stream_options"] = {"include_usage": True}
    events = call(fake_gateway, "POST", "/v1/chat/completions", body).events()
    assert events[-1] == (None, "[DONE]")
    chunks = [data for _, data in events[:-1]]
    assert all(chunk["object"] == "chat.completion.chunk" for chunk in chunks)
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert streamed_text(events, "chat") == REPLY
    finishes = [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]]
    assert finishes[-1] == "stop"
    usage_chunks = [chunk for chunk in chunks if chunk.get("usage")]
    if include_usage:
        assert len(usage_chunks) == 1 and usage_chunks[0] is chunks[-1]
        assert chunks[-1]["choices"] == []
    else:
        assert usage_chunks == [] and "usage" not in chunks[0]


def test_responses(fake_gateway: Any) -> None:
    body = {"model": "gpt-5", "input": "hi"}
    response = call(fake_gateway, "POST", "/v1/responses", body).json()
    assert response["object"] == "response" and response["status"] == "completed"
    assert response["output"][0]["content"][0] == {
        "type": "output_text",
        "text": REPLY,
        "annotations": [],
    }
    assert response["output_text"] == REPLY
    assert response["usage"]["total_tokens"] > 0


def test_responses_stream(fake_gateway: Any) -> None:
    body = {"model": "gpt-5", "stream": True, "input": [{"role": "user", "content": "hi"}]}
    events = call(fake_gateway, "POST", "/v1/responses", body).events()
    names = [name for name, _ in events]
    order = [name for index, name in enumerate(names) if index == 0 or name != names[index - 1]]
    assert order == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert all(name == data["type"] for name, data in events)
    assert [data["sequence_number"] for _, data in events] == list(range(len(events)))
    assert streamed_text(events, "responses") == REPLY
    completed = events[-1][1]["response"]
    assert completed["status"] == "completed"
    assert completed["id"] == events[0][1]["response"]["id"]
    assert completed["output"][0]["content"][0]["text"] == REPLY
    assert completed["usage"]["output_tokens"] > 0


def test_keep_alive_connection_survives_a_stream(fake_gateway: Any) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", fake_gateway.port, timeout=10)
    headers = {"Authorization": f"Bearer {TEST_KEY}", "Content-Type": "application/json"}
    body = json.dumps({"model": "gpt-5", "stream": True, "input": "hi"})
    try:
        for _ in range(2):
            connection.request("POST", "/v1/responses", body=body, headers=headers)
            response = connection.getresponse()
            assert response.status == 200
            assert b"response.completed" in response.read()
    finally:
        connection.close()


def test_unknown_endpoint_and_bad_body(fake_gateway: Any) -> None:
    assert call(fake_gateway, "GET", "/v1/nothing").status == 404
    assert call(fake_gateway, "POST", "/v1/chat/completions", ["not", "an", "object"]).status == 400
    assert call(fake_gateway, "POST", "/v1/chat/completions", {"messages": []}).status == 400


def test_reject_unknown_models() -> None:
    with gateway_module.FakeGateway(keys={TEST_KEY}, reject_unknown_models=True) as gateway:
        reply = call(gateway, "POST", "/v1/chat/completions", {"model": "nope", "messages": []})
    assert reply.status == 404
    assert reply.json()["error"]["code"] == "model_not_found"


# --- auth --------------------------------------------------------------------------------


@pytest.mark.parametrize("bearer", [True, False], ids=["bearer", "x-api-key"])
def test_both_auth_headers_are_accepted(fake_gateway: Any, bearer: bool) -> None:
    assert call(fake_gateway, "GET", "/v1/models", bearer=bearer).status == 200
    record = fake_gateway.last_request()
    assert record.auth_scheme == ("bearer" if bearer else "x-api-key")
    assert record.api_key == TEST_KEY


def test_wrong_key_on_messages_is_anthropic_shaped(fake_gateway: Any) -> None:
    body = {"model": "claude-sonnet-4-5", "messages": []}
    reply = call(fake_gateway, "POST", "/v1/messages", body, key="sk-mega-wrong-000000000000")
    assert reply.status == 401
    error = reply.json()
    assert error["type"] == "error"
    assert error["error"]["type"] == "authentication_error"


def test_wrong_key_elsewhere_is_openai_shaped(fake_gateway: Any) -> None:
    reply = call(fake_gateway, "GET", "/v1/models", key="sk-mega-wrong-000000000000")
    assert reply.status == 401
    error = reply.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["code"] == "invalid_api_key"
    assert error["message"]


def test_missing_key_is_401(fake_gateway: Any) -> None:
    assert call(fake_gateway, "GET", "/v1/models", key=None).status == 401


def test_revoked_key_is_403(fake_gateway: Any) -> None:
    reply = call(fake_gateway, "POST", "/v1/messages", {"model": "m"}, key=REVOKED_TEST_KEY)
    assert reply.status == 403
    assert reply.json()["error"]["type"] == "permission_error"
    assert call(fake_gateway, "GET", "/v1/models", key=REVOKED_TEST_KEY).status == 403


def test_key_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_GATEWAY_KEY", "sk-mega-from-env-0000000000")
    with gateway_module.FakeGateway() as gateway:
        assert gateway.key == "sk-mega-from-env-0000000000"
        assert call(gateway, "GET", "/v1/models", key="sk-mega-from-env-0000000000").status == 200
        assert call(gateway, "GET", "/v1/models").status == 401


def test_without_configured_keys_any_key_is_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FAKE_GATEWAY_KEY", raising=False)
    with gateway_module.FakeGateway() as gateway:
        assert call(gateway, "GET", "/v1/models", key="anything-at-all").status == 200
        assert call(gateway, "GET", "/v1/models", key=None).status == 401


def test_only_loopback_hosts() -> None:
    with pytest.raises(ValueError, match="loopback"):
        gateway_module.FakeGateway(host="0.0.0.0")


# --- fault modes -------------------------------------------------------------------------


def test_unauthorized_mode(fake_gateway: Any) -> None:
    fake_gateway.set_mode("unauthorized")
    assert call(fake_gateway, "GET", "/v1/models").status == 401
    reply = call(fake_gateway, "POST", "/v1/messages", {"model": "m"}, bearer=False)
    assert reply.json()["error"]["type"] == "authentication_error"


def test_rate_limited_mode(fake_gateway: Any) -> None:
    fake_gateway.set_mode("rate_limited", retry_after_seconds=7)
    reply = call(fake_gateway, "POST", "/v1/chat/completions", {"model": "gpt-5"})
    assert reply.status == 429
    assert reply.headers["Retry-After"] == "7"
    assert reply.json()["error"]["code"] == "rate_limit_exceeded"
    anthropic = call(fake_gateway, "POST", "/v1/messages", {"model": "m"})
    assert anthropic.json()["error"]["type"] == "rate_limit_error"


def test_error_mode(fake_gateway: Any) -> None:
    fake_gateway.set_mode(gateway_module.Mode.ERROR)
    assert call(fake_gateway, "GET", "/v1/models").status == 500
    reply = call(fake_gateway, "POST", "/v1/messages", {"model": "m"})
    assert reply.json()["error"]["type"] == "api_error"


def test_slow_mode(fake_gateway: Any) -> None:
    fake_gateway.set_mode("slow", slow_seconds=0.3)
    started = time.monotonic()
    assert call(fake_gateway, "GET", "/v1/models").status == 200
    assert time.monotonic() - started >= 0.3


def test_no_responses_mode(fake_gateway: Any) -> None:
    fake_gateway.set_mode("no_responses")
    assert (
        call(fake_gateway, "POST", "/v1/responses", {"model": "gpt-5", "input": "hi"}).status == 404
    )
    chat = {"model": "gpt-5", "messages": []}
    assert call(fake_gateway, "POST", "/v1/chat/completions", chat).status == 200


def test_unknown_mode_is_refused(fake_gateway: Any) -> None:
    with pytest.raises(ValueError):
        fake_gateway.set_mode("sideways")


def test_reset_returns_to_ok_and_forgets(fake_gateway: Any) -> None:
    fake_gateway.set_mode("error")
    call(fake_gateway, "GET", "/v1/models")
    fake_gateway.reset()
    assert fake_gateway.mode is gateway_module.Mode.OK
    assert fake_gateway.requests() == []


# --- admin endpoint ----------------------------------------------------------------------


def test_admin_switches_mode(fake_gateway: Any) -> None:
    reply = call(fake_gateway, "POST", "/__admin/mode", {"mode": "error"}, key=None)
    assert reply.status == 200 and reply.json()["mode"] == "error"
    assert call(fake_gateway, "GET", "/v1/models").status == 500
    assert call(fake_gateway, "GET", "/__admin/mode", key=None).json()["mode"] == "error"
    call(fake_gateway, "POST", "/__admin/mode", {"mode": "ok"}, key=None)
    assert call(fake_gateway, "GET", "/v1/models").status == 200


def test_admin_refuses_unknown_mode(fake_gateway: Any) -> None:
    reply = call(fake_gateway, "POST", "/__admin/mode", {"mode": "sideways"}, key=None)
    assert reply.status == 400
    assert "rate_limited" in reply.json()["error"]
    assert fake_gateway.mode is gateway_module.Mode.OK


def test_admin_lists_requests_without_the_key(fake_gateway: Any) -> None:
    call(fake_gateway, "POST", "/v1/chat/completions", {"model": "gpt-5", "messages": []})
    reply = call(fake_gateway, "GET", "/__admin/requests", key=None)
    assert TEST_KEY not in reply.body.decode()
    (record,) = reply.json()["requests"]  # admin calls are not recorded
    assert record["path"] == "/v1/chat/completions"
    assert record["model"] == "gpt-5"
    assert record["key_sha256"] == gateway_module.key_fingerprint(TEST_KEY)
    assert record["status"] == 200
    call(fake_gateway, "POST", "/__admin/reset", key=None)
    assert fake_gateway.requests() == []


# --- recording ---------------------------------------------------------------------------


def test_requests_are_recorded_with_masked_headers(fake_gateway: Any) -> None:
    body = {"model": "claude-opus-4-1", "messages": [{"role": "user", "content": "hi"}]}
    call(fake_gateway, "POST", "/v1/messages", body, bearer=False)
    call(fake_gateway, "GET", "/v1/models")
    first, second = fake_gateway.requests()
    assert (first.method, first.path, first.model, first.body) == (
        "POST",
        "/v1/messages",
        "claude-opus-4-1",
        body,
    )
    assert first.headers["x-api-key"] == "***" + TEST_KEY[-4:]
    assert second.headers["authorization"] == "Bearer ***" + TEST_KEY[-4:]
    assert first.key_sha256 == gateway_module.key_fingerprint(TEST_KEY)
    assert first.api_key == TEST_KEY
    assert TEST_KEY not in repr(first)
    assert fake_gateway.requests("/v1/models") == [second]
    assert fake_gateway.last_request("/v1/messages") is first


# --- as a program ------------------------------------------------------------------------


def test_runs_as_a_program_and_logs_without_the_key() -> None:
    env = {**os.environ, "FAKE_GATEWAY_KEY": TEST_KEY, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, str(GATEWAY_SCRIPT), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )
    try:
        assert process.stdout is not None and process.stderr is not None
        line = process.stdout.readline().strip()
        assert line.startswith("listening on http://127.0.0.1:")
        origin = line.removeprefix("listening on ")

        class Origin:
            url = origin

        assert call(Origin, "GET", "/v1/models").status == 200
        switched = call(Origin, "POST", "/__admin/mode", {"mode": "unauthorized"}, key=None)
        assert switched.status == 200
        assert call(Origin, "GET", "/v1/models").status == 401
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=5)
    assert "GET /v1/models" in stderr
    assert TEST_KEY not in stderr
