"""Pure functions: key validation and masking, gateway URLs, model flags, key sources, paths."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from megallm_cli.errors import UsageError
from megallm_cli.keysource import obtain_key
from megallm_cli.paths import Paths
from megallm_cli.request import Gateway, Secret, mask_key, parse_model_flags, validate_key

KEY = "sk-mega-0123456789abcdefghij"


def test_mask_shows_prefix_and_last_four_only() -> None:
    assert mask_key(KEY) == "sk-mega-…ghij"
    assert mask_key("short") == "…"
    assert mask_key("") == "(none)"
    assert "0123" not in repr(Secret(KEY)) and "0123" not in str(Secret(KEY))


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ("", "empty"),
        ("sk-mega-abc def", "whitespace"),
        ('sk-mega-abc"def', "quote"),
        ("sk-mega-abc\x00def", "control"),
        ("sk-mega-$HOME", "$"),
    ],
)
def test_bad_keys_are_refused(raw: str, problem: str) -> None:
    with pytest.raises(UsageError, match=problem):
        validate_key(raw)


def test_key_is_stripped_and_foreign_prefix_warned() -> None:
    assert validate_key(f"  {KEY}\n") == (KEY, [])
    key, warnings = validate_key("sk-other-123456789")
    assert key == "sk-other-123456789" and "sk-mega-" in warnings[0]


@pytest.mark.parametrize(
    ("raw", "origin"),
    [
        (None, "https://ai.megallm.io"),
        ("https://ai.megallm.io/", "https://ai.megallm.io"),
        ("https://ai.megallm.io/v1", "https://ai.megallm.io"),
        ("http://127.0.0.1:8787", "http://127.0.0.1:8787"),
        ("https://gw.example.com/megallm/v1/", "https://gw.example.com/megallm"),
    ],
)
def test_gateway_origin_and_derived_urls(raw: str | None, origin: str) -> None:
    gateway = Gateway.parse(raw)
    assert gateway.origin == origin
    assert gateway.anthropic_base_url == origin
    assert gateway.openai_base_url == origin + "/v1"


@pytest.mark.parametrize("raw", ["ai.megallm.io", "ftp://x", "https://x?q=1"])
def test_bad_base_urls_are_usage_errors(raw: str) -> None:
    with pytest.raises(UsageError):
        Gateway.parse(raw)


def test_model_flags() -> None:
    agents = ("claude-code", "codex")
    assert parse_model_flags(["gpt-5", "claude-code=claude-sonnet-4-5"], agents) == {
        "*": "gpt-5",
        "claude-code": "claude-sonnet-4-5",
    }
    assert parse_model_flags(["openrouter/x=y"], agents) == {"*": "openrouter/x=y"}
    with pytest.raises(UsageError, match="unknown agent"):
        parse_model_flags(["cursor=gpt-5"], agents)


def test_key_sources_in_order() -> None:
    stdin = io.StringIO(KEY + "\n")
    secret, source, _ = obtain_key(
        env={"MEGALLM_API_KEY": "sk-mega-fromenv0000000"},
        from_stdin=True,
        stdin=stdin,
        interactive=False,
    )
    assert (secret.reveal(), source) == (KEY, "standard input")
    secret, source, _ = obtain_key(
        env={"MEGALLM_API_KEY": KEY}, from_stdin=False, stdin=io.StringIO(), interactive=False
    )
    assert source == "MEGALLM_API_KEY"
    secret, source, _ = obtain_key(
        env={}, from_stdin=False, stdin=io.StringIO(), interactive=True, prompt=lambda: KEY
    )
    assert source == "prompt"


def test_no_key_without_a_terminal_names_the_ways_to_give_one() -> None:
    with pytest.raises(UsageError) as failure:
        obtain_key(env={}, from_stdin=False, stdin=io.StringIO(), interactive=False)
    assert "MEGALLM_API_KEY" in (failure.value.hint or "")
    assert "--api-key-stdin" in (failure.value.hint or "")
    with pytest.raises(UsageError, match="set but empty"):
        obtain_key(
            env={"MEGALLM_API_KEY": " "}, from_stdin=False, stdin=io.StringIO(), interactive=False
        )


def test_paths_honour_every_override(tmp_path: Path) -> None:
    env = {
        "HOME": str(tmp_path / "h"),
        "XDG_CONFIG_HOME": str(tmp_path / "cfg"),
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "CLAUDE_CONFIG_DIR": str(tmp_path / "claude"),
        "CODEX_HOME": str(tmp_path / "codex"),
        "CLINE_DIR": str(tmp_path / "cline"),
        "ZDOTDIR": str(tmp_path / "zdot"),
    }
    paths = Paths(env, platform="linux")
    assert paths.config_dir == tmp_path / "cfg" / "megallm"
    assert paths.backups_dir == tmp_path / "state" / "megallm" / "backups"
    assert paths.claude_config_dir == tmp_path / "claude"
    assert paths.claude_state_file == tmp_path / "claude" / ".claude.json"
    assert paths.codex_home == tmp_path / "codex"
    assert paths.opencode_dir == tmp_path / "cfg" / "opencode"
    assert paths.cline_data_dir == tmp_path / "cline" / "data"
    assert paths.zdotdir == tmp_path / "zdot"
    assert paths.vscode_user_dir("Code") == tmp_path / "cfg" / "Code" / "User"


def test_paths_defaults_per_os(tmp_path: Path) -> None:
    home = tmp_path / "h"
    linux = Paths({"HOME": str(home), "XDG_CONFIG_HOME": "relative/ignored"}, platform="linux")
    assert linux.xdg_config_home == home / ".config"
    assert linux.claude_state_file == home / ".claude.json"
    mac = Paths({"HOME": str(home)}, platform="darwin")
    assert mac.config_dir == home / "Library" / "Application Support" / "megallm"
    assert mac.vscode_user_dir("Cursor") == home / "Library/Application Support/Cursor/User"
    windows = Paths(
        {"USERPROFILE": str(home), "APPDATA": str(tmp_path / "roaming")}, platform="win32"
    )
    assert windows.vscode_user_dir("Code") == tmp_path / "roaming" / "Code" / "User"
    assert windows.opencode_dir == home / ".config" / "opencode"  # OpenCode uses XDG everywhere
