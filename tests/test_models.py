"""The model catalog and `megallm models`: live from the stand-in gateway, cached, or bundled."""

from __future__ import annotations

import json
import socket
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from megallm_cli import models
from megallm_cli.formats import jsonc
from megallm_cli.models import ModelCatalog, ModelInfo
from megallm_cli.request import Gateway
from tests.conftest import Home
from tests.fake_gateway_fixture import REVOKED_TEST_KEY, TEST_KEY, fake_gateway

__all__ = ["fake_gateway"]  # the fixture, imported for pytest

GATEWAY_MODELS = [
    "claude-haiku-4-5",
    "claude-opus-4-1",
    "claude-sonnet-4-5",
    "deepseek-chat",
    "gemini-2.5-pro",
    "gpt-4.1",
    "gpt-5",
    "gpt-5-mini",
]


def cache_file(home: Home) -> Path:
    return home.home / ".cache" / "megallm" / "models.json"


def unused_origin() -> str:
    """An origin nothing listens on: connections are refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def list_models(home: Home, origin: str, *args: str, key: str | None = TEST_KEY) -> Any:
    env = {"MEGALLM_API_KEY": key} if key else {}
    result = home.run("models", "--json", "--base-url", origin, *args, extra_env=env)
    assert result.returncode == 0, result.stderr
    for secret in (TEST_KEY, REVOKED_TEST_KEY):
        assert secret not in result.stdout + result.stderr
    return json.loads(result.stdout)["data"]


def age_cache(home: Home, hours: float) -> None:
    data = json.loads(cache_file(home).read_text())
    fetched = datetime.now(timezone.utc) - timedelta(hours=hours)
    data["fetched_at"] = fetched.isoformat(timespec="seconds")
    cache_file(home).write_text(json.dumps(data))


def model_requests(gateway: Any) -> int:
    return len(gateway.requests("/v1/models"))


# --- megallm models ---


def test_live_list_is_shown_and_cached_without_the_key(home: Home, fake_gateway: Any) -> None:
    result = home.run(
        "models", "--base-url", fake_gateway.url, extra_env={"MEGALLM_API_KEY": TEST_KEY}
    )
    assert result.returncode == 0, result.stderr
    assert TEST_KEY not in result.stdout + result.stderr
    assert f"source: live list from {fake_gateway.url} (8 models)" in result.stderr
    assert "gemini-2.5-pro" in result.stderr and "google" in result.stderr
    assert fake_gateway.last_request("/v1/models").api_key == TEST_KEY
    cached = cache_file(home).read_text()
    assert TEST_KEY not in cached
    assert [m["id"] for m in json.loads(cached)["models"]] == GATEWAY_MODELS


def test_json_envelope_lists_ids_and_owners(home: Home, fake_gateway: Any) -> None:
    data = list_models(home, fake_gateway.url)
    assert data["source"] == "live"
    assert data["origin"] == fake_gateway.url
    assert [m["id"] for m in data["models"]] == GATEWAY_MODELS
    owners = {m["id"]: m["owned_by"] for m in data["models"]}
    assert owners["gpt-5"] == "openai" and owners["claude-opus-4-1"] == "anthropic"


def test_fresh_cache_answers_without_a_request_until_refresh(home: Home, fake_gateway: Any) -> None:
    assert list_models(home, fake_gateway.url)["source"] == "live"
    assert model_requests(fake_gateway) == 1
    assert list_models(home, fake_gateway.url)["source"] == "cache"
    assert model_requests(fake_gateway) == 1
    assert list_models(home, fake_gateway.url, "--refresh")["source"] == "live"
    assert model_requests(fake_gateway) == 2


def test_stale_cache_is_refetched(home: Home, fake_gateway: Any) -> None:
    list_models(home, fake_gateway.url)
    age_cache(home, hours=2)
    assert list_models(home, fake_gateway.url)["source"] == "live"
    assert model_requests(fake_gateway) == 2


def test_gateway_down_falls_back_to_stale_cache_then_bundled(home: Home, fake_gateway: Any) -> None:
    origin = unused_origin()
    bundled = list_models(home, origin)
    assert bundled["source"] == "bundled"
    assert "unreachable" in bundled["reason"]
    assert "gpt-5" in [m["id"] for m in bundled["models"]]
    result = home.run("models", "--base-url", origin, extra_env={"MEGALLM_API_KEY": TEST_KEY})
    assert result.returncode == 0
    assert "source: bundled list of" in result.stderr

    # A cache from this origin, too old to trust, still beats the bundled list when down.
    list_models(home, fake_gateway.url)
    cached = json.loads(cache_file(home).read_text())
    cached["origin"] = origin
    cache_file(home).write_text(json.dumps(cached))
    age_cache(home, hours=5)
    stale = list_models(home, origin)
    assert stale["source"] == "cache"
    assert stale["reason"].startswith("older than 60 min")
    assert [m["id"] for m in stale["models"]] == GATEWAY_MODELS


def test_cache_of_another_gateway_or_damaged_is_ignored(home: Home, fake_gateway: Any) -> None:
    list_models(home, fake_gateway.url)
    assert list_models(home, unused_origin())["source"] == "bundled"
    cache_file(home).write_text("{not json")
    assert list_models(home, fake_gateway.url)["source"] == "live"


def test_rejected_or_missing_key_gives_the_bundled_list(home: Home, fake_gateway: Any) -> None:
    revoked = list_models(home, fake_gateway.url, key=REVOKED_TEST_KEY)
    assert revoked["source"] == "bundled"
    assert "forbidden" in revoked["reason"]
    keyless = list_models(home, fake_gateway.url, key=None)
    assert keyless["source"] == "bundled"
    assert keyless["reason"] == "no API key to ask the gateway with"
    assert not cache_file(home).exists()


def test_key_from_stdin_or_from_the_persisted_env_file(home: Home, fake_gateway: Any) -> None:
    piped = home.run(
        "models",
        "--json",
        "--refresh",
        "--api-key-stdin",
        "--base-url",
        fake_gateway.url,
        stdin=TEST_KEY + "\n",
    )
    assert piped.returncode == 0, piped.stderr
    assert json.loads(piped.stdout)["data"]["source"] == "live"
    assert fake_gateway.last_request("/v1/models").api_key == TEST_KEY

    setup = home.run(
        "setup",
        "--agent",
        "opencode",
        "--yes",
        "--no-verify",
        "--base-url",
        fake_gateway.url,
        extra_env={"MEGALLM_API_KEY": TEST_KEY, "MEGALLM_SHELL": "bash"},
    )
    assert setup.returncode == 0, setup.stderr
    fake_gateway.reset()
    assert list_models(home, fake_gateway.url, "--refresh", key=None)["source"] == "live"
    assert fake_gateway.last_request("/v1/models").api_key == TEST_KEY


# --- setup uses the same catalog ---


def opencode_models(home: Home) -> list[str]:
    config = home.home / ".config" / "opencode" / "opencode.jsonc"
    listed = jsonc.get(config.read_text(), ["provider", "megallm", "models"])
    return list(listed)


def test_setup_lists_the_live_models_from_the_key_check(home: Home, fake_gateway: Any) -> None:
    setup = (
        "setup",
        "--agent",
        "opencode",
        "--agent",
        "kilo",
        "--yes",
        "--base-url",
        fake_gateway.url,
    )
    env = {"MEGALLM_API_KEY": TEST_KEY, "MEGALLM_SHELL": "bash"}
    verified = home.run(*setup, extra_env=env)
    assert verified.returncode == 0, verified.stderr
    assert model_requests(fake_gateway) == 1  # the key check's answer is the catalog
    assert opencode_models(home) == GATEWAY_MODELS
    assert f"8 models listed, from the live list from {fake_gateway.url}" in verified.stderr
    after = home.snapshot()

    offline = home.run(*setup, "--no-verify", extra_env=env)
    assert offline.returncode == 0, offline.stderr
    assert "nothing to change" in offline.stderr
    assert home.snapshot() == after
    assert model_requests(fake_gateway) == 1


def test_no_verify_setup_never_asks_the_gateway(home: Home, fake_gateway: Any) -> None:
    result = home.run(
        "setup",
        "--agent",
        "opencode",
        "--yes",
        "--no-verify",
        "--base-url",
        fake_gateway.url,
        extra_env={"MEGALLM_API_KEY": TEST_KEY, "MEGALLM_SHELL": "bash"},
    )
    assert result.returncode == 0, result.stderr
    assert fake_gateway.requests() == []
    assert opencode_models(home) == models.bundled("").ids
    assert "from the bundled list" in result.stderr


# --- the catalog as a library ---


def catalog_of(*ids: str) -> ModelCatalog:
    return ModelCatalog([ModelInfo(i, "x") for i in ids], "live", None, "http://gw")


def test_config_ids_are_chat_models_sorted_with_the_chosen_one() -> None:
    listed = models.config_model_ids(
        catalog_of("gpt-5", "text-embedding-3-large", "claude-sonnet-4-5", "whisper-1", "tts-1"),
        chosen="my-private-model",
    )
    assert listed == ["claude-sonnet-4-5", "gpt-5", "my-private-model"]


def test_a_huge_catalog_is_cut_to_the_curated_ids() -> None:
    curated = models.bundled("").ids
    huge = catalog_of(*curated, *(f"vendor/model-{n:03d}" for n in range(100)))
    listed = models.config_model_ids(huge, chosen="vendor/model-042")
    assert listed == sorted([*curated, "vendor/model-042"])
    unknown = catalog_of(*(f"vendor/model-{n:03d}" for n in range(100)))
    assert len(models.config_model_ids(unknown, chosen=None)) == models.MAX_CONFIG_MODELS


def test_bundled_list_is_sorted_unique_and_chat_only() -> None:
    ids = models.bundled("").ids
    assert ids == sorted(set(ids))
    assert models.config_model_ids(models.bundled(""), None) == ids
    assert {"claude-sonnet-4-5", "gpt-5", "gemini-2.5-pro", "deepseek-chat"} <= set(ids)


def test_offline_catalog_never_touches_the_network(home: Home, fake_gateway: Any) -> None:
    gateway = Gateway.parse(fake_gateway.url)
    found = models.catalog(home.paths, gateway, TEST_KEY, online=False)
    assert found.source == "bundled"
    assert fake_gateway.requests() == []
