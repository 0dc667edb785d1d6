"""`megallm doctor --online` and `--probe` against the stand-in gateway; the gateway client."""

from __future__ import annotations

import http.server
import json
import socket
import subprocess
import threading
import time
from typing import Any

import pytest

from megallm_cli import gateway as client
from megallm_cli.agents import AGENT_IDS
from megallm_cli.doctor_online import Target, check_targets
from megallm_cli.request import Gateway
from tests.conftest import Home
from tests.fake_gateway_fixture import (
    REVOKED_TEST_KEY,
    TEST_KEY,
    fake_gateway,
    load_fake_gateway_module,
)

__all__ = ["fake_gateway"]  # re-exported so that pytest finds the fixture in this module

WRONG_KEY = "sk-mega-wrong-0123456789abcdef0123456789"
CLAUDE_MODEL = "claude-sonnet-4-5"
OPENAI_MODEL = "gpt-5"
# A doctor run is one process start plus, at worst, one key check that times out.
MARGIN_SECONDS = 4.0


def setup(
    home: Home,
    url: str,
    *flags: str,
    agents: tuple[str, ...] = ("claude-code",),
    key: str = TEST_KEY,
) -> None:
    agent_flags = [flag for agent in agents for flag in ("--agent", agent)]
    result = home.run(
        "setup",
        *agent_flags,
        "--base-url",
        url,
        "--yes",
        "--no-verify",
        *flags,
        extra_env={"MEGALLM_API_KEY": key, "MEGALLM_SHELL": "bash"},
    )
    assert result.returncode == 0, result.stderr


def doctor(home: Home, url: str, *flags: str) -> subprocess.CompletedProcess[str]:
    result = home.run("doctor", "--online", "--base-url", url, *flags, "--json")
    for key in (TEST_KEY, WRONG_KEY, REVOKED_TEST_KEY):
        assert key not in result.stdout + result.stderr
    return result


def findings(result: subprocess.CompletedProcess[str], group: str) -> list[dict[str, Any]]:
    envelope = json.loads(result.stdout)
    assert envelope["version"] == 1 and envelope["command"] == "doctor"
    return [finding for finding in envelope["data"] if finding["agent"] == group]


def one(found: list[dict[str, Any]], words: str) -> dict[str, Any]:
    matching = [finding for finding in found if words in finding["title"]]
    assert len(matching) == 1, (words, found)
    return matching[0]


def posts(gateway: Any) -> list[Any]:
    return [record for record in gateway.requests() if record.method == "POST"]


# --- the CLI against the stand-in -----------------------------------------------------------


def test_healthy_gateway_is_checked_with_one_free_request(home: Home, fake_gateway: Any) -> None:
    setup(home, fake_gateway.url, "--model", CLAUDE_MODEL)
    result = doctor(home, fake_gateway.url)
    assert result.returncode == 0, result.stderr
    gateway_findings = findings(result, "gateway")
    reach = one(gateway_findings, "reachable")
    assert reach["status"] == "ok"
    assert f"GET {fake_gateway.url}/v1/models answered in" in reach["title"]
    key = one(gateway_findings, "accepted")
    assert key["status"] == "ok"
    assert "key sk-mega-…6789 accepted: GET /v1/models → 200 in" in key["title"]
    assert "8 models" in key["title"]
    assert "claude-code" in key["detail"] and "settings.json" in key["detail"]
    claude = findings(result, "claude-code")
    assert one(claude, f"model {CLAUDE_MODEL} is in the gateway's catalog")["status"] == "ok"
    wire = one(claude, "not probed")
    assert wire["status"] == "info"
    assert "Anthropic Messages" in wire["title"] and "--probe" in wire["detail"]
    (request,) = fake_gateway.requests()  # no probe: nothing that could cost tokens
    assert (request.method, request.path) == ("GET", "/v1/models")
    assert request.api_key == TEST_KEY and request.auth_scheme == "bearer"


def test_human_output_says_how_each_thing_was_verified(home: Home, fake_gateway: Any) -> None:
    setup(home, fake_gateway.url, "--model", CLAUDE_MODEL)
    result = home.run("doctor", "--online", "--probe", "--base-url", fake_gateway.url)
    assert result.returncode == 0, result.stderr
    assert TEST_KEY not in result.stderr + result.stdout
    text = result.stderr
    assert "gateway\n" in text
    assert "GET /v1/models → 200 in" in text
    assert "POST /v1/messages?beta=true → 200 in" in text
    assert "0 problem(s)" in text


def test_wrong_key_is_invalid_401(home: Home, fake_gateway: Any) -> None:
    setup(home, fake_gateway.url, key=WRONG_KEY)
    result = doctor(home, fake_gateway.url, "--probe")
    assert result.returncode == 1
    key = one(findings(result, "gateway"), "is invalid")
    assert key["status"] == "fail"
    assert "GET /v1/models → 401" in key["title"] and "sk-mega-…6789" in key["title"]
    assert "Invalid API key" in key["detail"]
    assert "dashboard" in key["hint"] and "megallm setup --agent claude-code" in key["hint"]
    # a rejected key is not probed: the probe could only repeat the 401
    assert (
        "not probed: the key check failed"
        in one(findings(result, "claude-code"), "probed")["title"]
    )
    assert posts(fake_gateway) == []
    assert fake_gateway.last_request().api_key == WRONG_KEY


def test_revoked_key_is_forbidden_403(home: Home, fake_gateway: Any) -> None:
    setup(home, fake_gateway.url, key=REVOKED_TEST_KEY)
    result = doctor(home, fake_gateway.url)
    assert result.returncode == 1
    key = one(findings(result, "gateway"), "revoked")
    assert key["status"] == "fail"
    assert "GET /v1/models → 403" in key["title"]
    assert "new key" in key["hint"]


def test_stopped_gateway_is_unreachable(home: Home, fake_gateway: Any) -> None:
    url = fake_gateway.url
    setup(home, url)
    fake_gateway.stop()
    started = time.monotonic()
    result = doctor(home, url, "--probe")
    assert time.monotonic() - started < client.DEFAULT_TIMEOUT + MARGIN_SECONDS
    assert result.returncode == 1
    reach = one(findings(result, "gateway"), "cannot reach")
    assert reach["status"] == "fail"
    assert "refused" in reach["detail"].lower()
    assert "--base-url" in reach["hint"]
    assert (
        "not probed: the gateway did not answer"
        in one(findings(result, "claude-code"), "probed")["title"]
    )


def free_port() -> int:
    with socket.socket() as probe_socket:
        probe_socket.bind(("127.0.0.1", 0))
        return int(probe_socket.getsockname()[1])


def test_closed_port_is_unreachable(home: Home) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    setup(home, url)
    result = doctor(home, url)
    assert result.returncode == 1
    assert one(findings(result, "gateway"), "cannot reach")["status"] == "fail"


def test_slow_gateway_times_out_within_the_limit(home: Home, fake_gateway: Any) -> None:
    setup(home, fake_gateway.url)
    fake_gateway.set_mode("slow", slow_seconds=60)
    started = time.monotonic()
    result = doctor(home, fake_gateway.url, "--probe")
    elapsed = time.monotonic() - started
    assert elapsed < client.DEFAULT_TIMEOUT + MARGIN_SECONDS, elapsed
    assert elapsed >= client.DEFAULT_TIMEOUT
    assert result.returncode == 1
    reach = one(findings(result, "gateway"), "did not answer")
    assert reach["status"] == "fail"
    assert f"within {client.DEFAULT_TIMEOUT:g} s" in reach["title"]
    assert "try again" in reach["hint"]
    assert posts(fake_gateway) == []  # no probe after a timeout


@pytest.mark.parametrize(
    ("mode", "exit_code", "status", "words"),
    [
        ("rate_limited", 0, "warn", "rate limited: GET /v1/models → 429"),
        ("error", 1, "fail", "the gateway failed: GET /v1/models → 500"),
        ("unauthorized", 1, "fail", "is invalid: GET /v1/models → 401"),
    ],
)
def test_gateway_fault_modes(
    home: Home, fake_gateway: Any, mode: str, exit_code: int, status: str, words: str
) -> None:
    setup(home, fake_gateway.url)
    fake_gateway.set_mode(mode)
    result = doctor(home, fake_gateway.url)
    assert result.returncode == exit_code, result.stderr
    finding = one(findings(result, "gateway"), words)
    assert finding["status"] == status
    if mode == "rate_limited":
        assert "retry after 1 s" in finding["hint"]


def test_model_not_in_catalog(home: Home, fake_gateway: Any) -> None:
    setup(home, fake_gateway.url, "--model", "claude-nonexistent-9")
    result = doctor(home, fake_gateway.url)
    assert result.returncode == 1
    model = one(findings(result, "claude-code"), "claude-nonexistent-9")
    assert model["status"] == "fail"
    assert model["title"] == "model claude-nonexistent-9 is not in the gateway's catalog"
    assert "GET /v1/models lists 8 models: claude-sonnet-4-5" in model["detail"]
    assert "--model" in model["hint"]


@pytest.mark.parametrize(
    ("claude_auth", "scheme"), [("auth-token", "bearer"), ("api-key", "x-api-key")]
)
def test_probe_sends_one_message_with_the_configured_key_and_header(
    home: Home, fake_gateway: Any, claude_auth: str, scheme: str
) -> None:
    setup(home, fake_gateway.url, "--model", CLAUDE_MODEL, "--claude-auth", claude_auth)
    result = doctor(home, fake_gateway.url, "--probe")
    assert result.returncode == 0, result.stderr
    wire = one(findings(result, "claude-code"), "Anthropic Messages API answers")
    assert wire["status"] == "ok"
    assert "POST /v1/messages?beta=true → 200 in" in wire["title"]
    assert f"key as {scheme}" in wire["title"]
    (request,) = posts(fake_gateway)
    assert (request.path, request.query) == ("/v1/messages", "beta=true")
    assert request.api_key == TEST_KEY and request.auth_scheme == scheme
    assert request.headers["anthropic-version"] == client.ANTHROPIC_VERSION
    assert request.body["max_tokens"] == 1 and request.model == CLAUDE_MODEL
    assert request.stream is False


# Agents whose setup needs nothing but flags; Roo Code also needs a VS Code install.
CLI_AGENTS = ("claude-code", "codex", "opencode", "kilo", "cline")


def test_probe_sends_exactly_one_request_per_wire_format(home: Home, fake_gateway: Any) -> None:
    agents = tuple(agent for agent in CLI_AGENTS if agent in AGENT_IDS)
    setup(
        home,
        fake_gateway.url,
        "--model",
        f"claude-code={CLAUDE_MODEL}",
        "--model",
        OPENAI_MODEL,
        agents=agents,
    )
    result = doctor(home, fake_gateway.url, "--probe")  # MEGALLM_API_KEY only from env.sh
    assert result.returncode == 0, result.stderr
    wires = {
        "claude-code": "/v1/messages",
        "codex": "/v1/responses",
        "opencode": "/v1/chat/completions",
        "kilo": "/v1/chat/completions",
        "cline": "/v1/chat/completions",
    }
    expected = sorted({wires[agent] for agent in agents})
    sent = posts(fake_gateway)
    assert sorted(record.path for record in sent) == expected
    for record in sent:
        assert record.api_key == TEST_KEY and record.auth_scheme == "bearer"
        assert record.model == (CLAUDE_MODEL if record.path == "/v1/messages" else OPENAI_MODEL)
    models_calls = fake_gateway.requests("/v1/models")
    assert len(models_calls) == 1  # one key check for the one key every agent uses
    for agent in agents:
        assert one(findings(result, agent), "API answers")["status"] == "ok"


@pytest.mark.skipif("codex" not in AGENT_IDS, reason="agent codex not registered yet")
def test_codex_fails_clearly_without_the_responses_api(home: Home, fake_gateway: Any) -> None:
    setup(home, fake_gateway.url, "--model", OPENAI_MODEL, agents=("codex",))
    fake_gateway.set_mode("no_responses")
    result = doctor(home, fake_gateway.url, "--probe", "--agent", "codex")
    assert result.returncode == 1
    wire = one(findings(result, "codex"), "no Responses API")
    assert wire["status"] == "fail"
    assert "POST /v1/responses → 404" in wire["title"]
    assert "only the Responses API" in wire["hint"]
    (request,) = posts(fake_gateway)
    assert request.api_key == TEST_KEY  # the persisted MEGALLM_API_KEY


def test_a_key_is_never_sent_to_a_gateway_the_user_did_not_name(
    home: Home, fake_gateway: Any
) -> None:
    setup(home, fake_gateway.url)
    result = doctor(home, f"http://127.0.0.1:{free_port()}", "--probe")
    skipped = one(findings(result, "claude-code"), "not checked online")
    assert skipped["status"] == "info"
    assert fake_gateway.url in skipped["title"]
    assert fake_gateway.requests() == []


# --- check_targets directly: the Codex verdict whatever agents are registered ---------------


def test_responses_missing_fails_for_a_responses_agent(fake_gateway: Any) -> None:
    fake_gateway.set_mode("no_responses")
    target = Target(
        "codex", Gateway.parse(fake_gateway.url), TEST_KEY, "test", client.RESPONSES, model="gpt-5"
    )
    found = check_targets([target], probe_wires=True)
    wire = next(f for f in found if f.agent == "codex" and "Responses" in f.title)
    assert wire.status == "fail"
    assert wire.title.startswith("the gateway has no Responses API: POST /v1/responses → 404")
    assert wire.hint and "codex speaks only the Responses API" in wire.hint


def test_agents_sharing_a_key_and_format_share_one_probe(fake_gateway: Any) -> None:
    origin = Gateway.parse(fake_gateway.url)
    targets = [
        Target(agent, origin, TEST_KEY, "test", client.CHAT_COMPLETIONS, model="megallm/gpt-5")
        for agent in ("opencode", "kilo")
    ]
    found = check_targets(targets, probe_wires=True)
    assert [r.path for r in fake_gateway.requests()] == ["/v1/models", "/v1/chat/completions"]
    assert fake_gateway.last_request().model == "gpt-5"  # the provider prefix is OpenCode's
    for agent in ("opencode", "kilo"):
        assert any(
            f.agent == agent and f.status == "ok" and "API answers" in f.title for f in found
        )


# --- the gateway client -----------------------------------------------------------------------


def test_check_key_outcomes(fake_gateway: Any) -> None:
    origin = Gateway.parse(fake_gateway.url)
    valid = client.check_key(origin, TEST_KEY)
    assert valid.usable and valid.status == 200
    assert "gpt-5" in valid.models and valid.owners["gpt-5"] == "openai"
    assert client.check_key(origin, WRONG_KEY).outcome == "unauthorized"
    assert client.check_key(origin, REVOKED_TEST_KEY).outcome == "forbidden"
    fake_gateway.set_mode("rate_limited", retry_after_seconds=7)
    limited = client.check_key(origin, TEST_KEY)
    assert (limited.outcome, limited.status, limited.retry_after) == ("rate_limited", 429, "7")
    fake_gateway.set_mode("error")
    assert client.check_key(origin, TEST_KEY).outcome == "server_error"
    fake_gateway.set_mode("slow", slow_seconds=30)
    started = time.monotonic()
    slow = client.check_key(origin, TEST_KEY, timeout=0.5)
    assert slow.outcome == "timeout" and not slow.answered
    assert time.monotonic() - started < 2
    fake_gateway.stop()
    down = client.check_key(origin, TEST_KEY)
    assert down.outcome == "unreachable" and "refused" in down.detail.lower()


@pytest.mark.parametrize(
    ("wire", "path", "limit"),
    [
        (client.MESSAGES, "/v1/messages", ("max_tokens", 1)),
        (client.CHAT_COMPLETIONS, "/v1/chat/completions", ("max_tokens", 1)),
        (client.RESPONSES, "/v1/responses", ("max_output_tokens", 16)),
    ],
)
def test_each_probe_is_one_tiny_request(
    fake_gateway: Any, wire: client.Wire, path: str, limit: tuple[str, int]
) -> None:
    result = client.probe(Gateway.parse(fake_gateway.url), wire, TEST_KEY, "gpt-5")
    assert result.ok and result.status == 200
    (request,) = fake_gateway.requests()
    assert request.path == path and request.api_key == TEST_KEY
    assert request.body[limit[0]] == limit[1]


def test_a_redirect_is_not_followed_so_the_key_stays_put(fake_gateway: Any) -> None:
    class Redirect(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(301)
            self.send_header("Location", fake_gateway.url + self.path)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Redirect)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        origin = Gateway.parse(f"http://127.0.0.1:{server.server_address[1]}")
        check = client.check_key(origin, TEST_KEY)
    finally:
        server.shutdown()
        server.server_close()
    assert (check.outcome, check.status) == ("error", 301)
    assert f"redirects to {fake_gateway.url}/v1/models" in check.detail
    assert fake_gateway.requests() == []


def test_probe_tells_a_missing_api_from_a_missing_model() -> None:
    module = load_fake_gateway_module()
    with module.FakeGateway(keys={TEST_KEY}, reject_unknown_models=True) as strict:
        origin = Gateway.parse(strict.url)
        missing_model = client.probe(origin, client.CHAT_COMPLETIONS, TEST_KEY, "nope-1")
        assert (missing_model.outcome, missing_model.status) == ("model_not_found", 404)
        assert "nope-1" in missing_model.detail
        strict.set_mode("no_responses")
        missing_api = client.probe(origin, client.RESPONSES, TEST_KEY, "gpt-5")
        assert (missing_api.outcome, missing_api.status) == ("not_found", 404)


# --- setup still verifies the key through the same client ------------------------------------


def test_setup_verifies_the_key_unless_told_not_to(home: Home, fake_gateway: Any) -> None:
    settings = home.home / ".claude" / "settings.json"
    base = ("setup", "--agent", "claude-code", "--base-url", fake_gateway.url, "--yes")
    rejected = home.run(*base, extra_env={"MEGALLM_API_KEY": WRONG_KEY})
    assert rejected.returncode == 1
    assert "rejected the key" in rejected.stderr and WRONG_KEY not in rejected.stderr
    assert not settings.exists()
    accepted = home.run(*base, extra_env={"MEGALLM_API_KEY": TEST_KEY})
    assert accepted.returncode == 0, accepted.stderr
    assert "key accepted by" in accepted.stderr
    assert settings.exists()
    assert [r.api_key for r in fake_gateway.requests("/v1/models")] == [WRONG_KEY, TEST_KEY]
