"""The installed `megallm`, run as a user would, in a throwaway HOME, for Claude Code."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import OTHER_KEY, TEST_KEY, Home

SETUP = ("setup", "--agent", "claude-code", "--yes", "--no-verify")

RICH_SETTINGS = """{
  "$schema": "https://json.schemastore.org/claude-code-settings.json",
  "permissions": {
    "allow": ["Bash(npm run lint)", "Read(~/.zshrc)"],
    "deny": ["Read(./.env)"]
  },
  "hooks": {
    "PostToolUse": [
      {"matcher": "Edit|Write", "hooks": [{"type": "command", "command": "prettier --write"}]}
    ]
  },
  "enabledPlugins": {"formatter@acme": true},
  "mcpServers": {"memory": {"command": "npx", "args": ["-y", "@mcp/memory"]}},
  "statusLine": {"type": "command", "command": "~/.claude/statusline.sh"},
  "env": {
    "BASH_DEFAULT_TIMEOUT_MS": "60000",
    "MY_ANTHROPIC_API_KEY": "keep-me",
    "ANTHROPIC_API_KEY": "sk-ant-old-conflicting-key-123456"
  },
  "model": "opus"
}
"""


def env_with_key(key: str = TEST_KEY) -> dict[str, str]:
    return {"MEGALLM_API_KEY": key}


def settings_path(home: Home) -> Path:
    return home.home / ".claude" / "settings.json"


def assert_no_key(result: subprocess.CompletedProcess[str], key: str = TEST_KEY) -> None:
    assert key not in result.stdout
    assert key not in result.stderr


def test_setup_doctor_restore_round_trip(home: Home) -> None:
    before = home.snapshot()
    result = home.run(*SETUP, extra_env=env_with_key())
    assert result.returncode == 0, result.stderr
    assert_no_key(result)
    settings = json.loads(settings_path(home).read_text())
    assert settings["env"] == {
        "ANTHROPIC_BASE_URL": "https://ai.megallm.io",
        "ANTHROPIC_AUTH_TOKEN": TEST_KEY,
    }
    assert stat.S_IMODE(settings_path(home).stat().st_mode) == 0o600
    state = json.loads((home.home / ".claude.json").read_text())
    assert state["hasCompletedOnboarding"] is True

    doctor = home.run("doctor")
    assert doctor.returncode == 0, doctor.stderr
    assert_no_key(doctor)
    assert "sk-mega-…" in doctor.stderr

    restore = home.run("restore", "--latest")
    assert restore.returncode == 0, restore.stderr
    assert home.snapshot() == before
    assert not settings_path(home).exists()


def test_setup_twice_is_idempotent_with_one_backup_per_writing_run(home: Home) -> None:
    first = home.run(*SETUP, extra_env=env_with_key())
    assert first.returncode == 0, first.stderr
    after_first = home.snapshot()
    second = home.run(*SETUP, extra_env=env_with_key())
    assert second.returncode == 0, second.stderr
    assert "nothing to change" in second.stderr
    assert home.snapshot() == after_first
    listing = json.loads(home.run("restore", "--list", "--json").stdout)
    assert len(listing["data"]) == 1


def test_rich_settings_keep_every_foreign_byte(home: Home) -> None:
    settings_path(home).parent.mkdir()
    settings_path(home).write_text(RICH_SETTINGS)
    result = home.run(*SETUP, extra_env=env_with_key())
    assert result.returncode == 0, result.stderr
    written = settings_path(home).read_text()
    value = json.loads(written)
    original = json.loads(RICH_SETTINGS)
    for key in ("$schema", "permissions", "hooks", "enabledPlugins", "mcpServers", "statusLine"):
        assert value[key] == original[key]
    assert value["env"]["BASH_DEFAULT_TIMEOUT_MS"] == "60000"
    assert value["env"]["MY_ANTHROPIC_API_KEY"] == "keep-me"
    assert "ANTHROPIC_API_KEY" not in value["env"]  # the conflicting auth variable is gone
    # every line outside the env block is byte-identical
    untouched = RICH_SETTINGS.split('  "env"')[0]
    assert written.startswith(untouched)
    assert written.endswith('  "model": "opus"\n}\n')
    assert "removed ANTHROPIC_API_KEY" in result.stderr

    restore = home.run("restore", "--latest")
    assert restore.returncode == 0, restore.stderr
    assert settings_path(home).read_text() == RICH_SETTINGS


def test_malformed_json_is_reported_and_left_untouched(home: Home) -> None:
    broken = '{\n  "env": {\n    "A": "1"\n    "B": "2"\n  }\n}\n'
    settings_path(home).parent.mkdir()
    settings_path(home).write_text(broken)
    result = home.run(*SETUP, extra_env=env_with_key())
    assert result.returncode == 1
    assert f"{settings_path(home)}:4:5" in result.stderr
    assert settings_path(home).read_text() == broken
    assert not (home.home / ".claude.json").exists()


def test_comments_are_refused_unless_fixed(home: Home) -> None:
    commented = '{\n  // my note\n  "model": "opus"\n}\n'
    settings_path(home).parent.mkdir()
    settings_path(home).write_text(commented)
    refused = home.run(*SETUP, extra_env=env_with_key())
    assert refused.returncode == 1
    assert "ignores this whole file" in refused.stderr
    assert f"{settings_path(home)}:2:3" in refused.stderr
    assert settings_path(home).read_text() == commented

    fixed = home.run(*SETUP, "--fix-claude-comments", extra_env=env_with_key())
    assert fixed.returncode == 0, fixed.stderr
    value = json.loads(settings_path(home).read_text())  # strict JSON now
    assert value["model"] == "opus"


def test_symlinked_settings_stay_a_symlink(home: Home) -> None:
    dotfiles = home.root / "dotfiles"
    dotfiles.mkdir()
    real = dotfiles / "claude-settings.json"
    real.write_text('{"model": "sonnet"}\n')
    settings_path(home).parent.mkdir()
    settings_path(home).symlink_to(real)
    result = home.run(*SETUP, extra_env=env_with_key())
    assert result.returncode == 0, result.stderr
    assert settings_path(home).is_symlink()
    assert json.loads(real.read_text())["env"]["ANTHROPIC_AUTH_TOKEN"] == TEST_KEY
    assert home.run("restore", "--latest").returncode == 0
    assert settings_path(home).is_symlink()
    assert real.read_text() == '{"model": "sonnet"}\n'


def test_huge_claude_json_is_edited_in_place(home: Home) -> None:
    projects = {
        f"/home/dev/project-{i}": {
            "allowedTools": [],
            "history": [{"display": "x" * 400, "pastedContents": {}} for _ in range(10)],
            "mcpServers": {},
        }
        for i in range(12_000)
    }
    state = {"numStartups": 42, "projects": projects, "userID": "abc"}
    text = json.dumps(state, indent=2)
    assert len(text) > 50_000_000
    state_file = home.home / ".claude.json"
    state_file.write_text(text)
    started = time.monotonic()
    result = home.run(*SETUP, "--claude-auth", "api-key", extra_env=env_with_key(), timeout=120)
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    written = state_file.read_text()
    assert written.startswith(text[:-2])  # the original body is untouched, our keys are appended
    value = json.loads(written)
    assert value["hasCompletedOnboarding"] is True
    assert value["customApiKeyResponses"]["approved"] == [TEST_KEY[-20:]]
    assert value["projects"] == projects
    assert elapsed < 60  # a sanity bound only; performance is measured by scripts/bench.py


def test_api_key_mode_approves_the_key(home: Home) -> None:
    result = home.run(*SETUP, "--claude-auth", "api-key", extra_env=env_with_key())
    assert result.returncode == 0, result.stderr
    env = json.loads(settings_path(home).read_text())["env"]
    assert env["ANTHROPIC_API_KEY"] == TEST_KEY
    assert "ANTHROPIC_AUTH_TOKEN" not in env
    state_file = home.home / ".claude.json"
    state = json.loads(state_file.read_text())
    assert state["customApiKeyResponses"]["approved"] == [TEST_KEY[-20:]]
    assert stat.S_IMODE(state_file.stat().st_mode) == 0o600


def test_key_never_printed_by_any_command(home: Home) -> None:
    runs = [
        home.run(*SETUP, "--dry-run", extra_env=env_with_key()),
        home.run(*SETUP, "--json", extra_env=env_with_key()),
        home.run("status"),
        home.run("status", "--json"),
        home.run("doctor"),
        home.run("doctor", "--json"),
        home.run("restore", "--list"),
        home.run("restore", "--list", "--json"),
        home.run(*SETUP, "--api-key-stdin", stdin=OTHER_KEY + "\n"),
        home.run("remove", "--agent", "claude-code", "--dry-run"),
        home.run("restore", "--latest", "--dry-run"),
    ]
    for result in runs:
        assert_no_key(result, TEST_KEY)
        assert_no_key(result, OTHER_KEY)
        assert TEST_KEY[-20:] not in result.stdout + result.stderr


def test_key_rotation_replaces_the_key(home: Home) -> None:
    assert home.run(*SETUP, extra_env=env_with_key()).returncode == 0
    result = home.run(*SETUP, "--api-key-stdin", stdin=OTHER_KEY + "\n")
    assert result.returncode == 0, result.stderr
    env = json.loads(settings_path(home).read_text())["env"]
    assert env["ANTHROPIC_AUTH_TOKEN"] == OTHER_KEY


def test_dry_run_writes_nothing_and_masks_the_diff(home: Home) -> None:
    before = home.snapshot()
    result = home.run(*SETUP, "--dry-run", extra_env=env_with_key())
    assert result.returncode == 0, result.stderr
    assert '+    "ANTHROPIC_AUTH_TOKEN": "sk-mega-…' in result.stdout
    assert home.snapshot() == before
    assert not (home.home / ".local" / "state" / "megallm" / "backups").exists()


def test_restore_dry_run_shows_the_masked_diff_and_writes_nothing(home: Home) -> None:
    settings_path(home).parent.mkdir()
    settings_path(home).write_text('{\n  "model": "opus"\n}\n')
    assert home.run(*SETUP, extra_env=env_with_key()).returncode == 0
    after_setup = home.snapshot()

    result = home.run("restore", "--latest", "--dry-run")

    assert result.returncode == 0, result.stderr
    assert '-    "ANTHROPIC_AUTH_TOKEN": "sk-mega-…' in result.stdout
    assert TEST_KEY not in result.stdout + result.stderr
    assert f"+++ {settings_path(home)}" in result.stdout
    assert home.snapshot() == after_setup


def test_restore_dry_run_masks_the_keys_tail_in_claude_json(home: Home) -> None:
    """Claude Code keeps the key's last 20 characters in ~/.claude.json: a piece of the key."""
    (home.home / ".claude.json").write_text('{"numStartups": 2}')
    setup = home.run(*SETUP, "--claude-auth", "api-key", extra_env=env_with_key())
    assert setup.returncode == 0, setup.stderr
    assert TEST_KEY[-20:] in (home.home / ".claude.json").read_text()

    result = home.run("restore", "--latest", "--dry-run")

    assert result.returncode == 0, result.stderr
    assert "customApiKeyResponses" in result.stdout
    assert TEST_KEY[-12:] not in result.stdout + result.stderr


def test_no_tty_without_yes_names_the_flag(home: Home) -> None:
    result = home.run("setup", "--agent", "claude-code", "--no-verify", extra_env=env_with_key())
    assert result.returncode == 2
    assert "--yes" in result.stderr
    assert not settings_path(home).exists()


def test_no_key_without_tty_names_the_flags(home: Home) -> None:
    result = home.run(*SETUP)
    assert result.returncode == 2
    assert "MEGALLM_API_KEY" in result.stderr and "--api-key-stdin" in result.stderr


def test_project_level_uses_local_settings_and_gitignores_it(home: Home) -> None:
    subprocess.run(["git", "init", "-q", str(home.project)], check=True)
    result = home.run(
        "setup",
        "--agent",
        "claude-code",
        "--level",
        "project",
        "--yes",
        "--no-verify",
        extra_env=env_with_key(),
    )
    assert result.returncode == 0, result.stderr
    local = home.project / ".claude" / "settings.local.json"
    assert json.loads(local.read_text())["env"]["ANTHROPIC_AUTH_TOKEN"] == TEST_KEY
    assert stat.S_IMODE(local.stat().st_mode) == 0o600
    assert not (home.project / ".claude" / "settings.json").exists()
    ignored = subprocess.run(
        ["git", "-C", str(home.project), "check-ignore", "-q", str(local)], check=False
    )
    assert ignored.returncode == 0
    committed = subprocess.run(
        ["git", "-C", str(home.project), "status", "--porcelain", "--untracked-files=all"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "settings.local.json" not in committed
    assert home.run("doctor", "--project-dir", str(home.project)).returncode == 0


def test_restore_refuses_files_changed_since_unless_forced(home: Home) -> None:
    assert home.run(*SETUP, extra_env=env_with_key()).returncode == 0
    # A key setup wrote, changed by hand since: not megallm's value any more, so a conflict.
    edited = settings_path(home).read_text().replace("https://ai.megallm.io", "https://edited")
    settings_path(home).write_text(edited)
    refused = home.run("restore", "--latest")
    assert refused.returncode == 1
    assert "changed since" in refused.stderr
    assert settings_path(home).read_text() == edited
    forced = home.run("restore", "--latest", "--force")
    assert forced.returncode == 0, forced.stderr
    assert not settings_path(home).exists()
    # the forced restore is itself backed up: undoing it brings the user's edit back
    listing = json.loads(home.run("restore", "--list", "--json").stdout)["data"]
    assert listing[0]["command"].startswith("restore")
    assert home.run("restore", "--id", listing[0]["id"]).returncode == 0
    assert settings_path(home).read_text() == edited


def test_remove_keeps_later_edits(home: Home) -> None:
    settings_path(home).parent.mkdir()
    settings_path(home).write_text('{\n  "model": "opus"\n}\n')
    assert home.run(*SETUP, extra_env=env_with_key()).returncode == 0
    text = settings_path(home).read_text().replace('"model": "opus"', '"model": "haiku"')
    settings_path(home).write_text(text)
    result = home.run("remove", "--agent", "claude-code", "--yes")
    assert result.returncode == 0, result.stderr
    assert json.loads(settings_path(home).read_text()) == {"model": "haiku"}


def test_remove_with_json_reports_the_session_and_each_file(home: Home) -> None:
    assert home.run(*SETUP, extra_env=env_with_key()).returncode == 0
    preview = json.loads(home.run("remove", "--agent", "claude-code", "--dry-run", "--json").stdout)
    assert preview["data"]["dry_run"] is True
    planned = {change["path"] for change in preview["data"]["changes"]}
    assert str(settings_path(home)) in planned

    result = home.run("remove", "--agent", "claude-code", "--yes", "--json")
    assert result.returncode == 0, result.stderr
    envelope = json.loads(result.stdout)
    assert envelope["command"] == "remove" and envelope["ok"] is True
    assert {change["path"] for change in envelope["data"]["changes"]} == planned
    listing = json.loads(home.run("restore", "--list", "--json").stdout)["data"]
    assert envelope["data"]["session"] == listing[0]["id"]

    again = json.loads(home.run("remove", "--agent", "claude-code", "--yes", "--json").stdout)
    assert again["data"]["session"] is None and again["data"]["changes"] == []


def test_claude_config_dir_is_honoured(home: Home) -> None:
    config_dir = home.root / "claude-config"
    result = home.run(*SETUP, extra_env={**env_with_key(), "CLAUDE_CONFIG_DIR": str(config_dir)})
    assert result.returncode == 0, result.stderr
    assert json.loads((config_dir / "settings.json").read_text())["env"]["ANTHROPIC_AUTH_TOKEN"]
    assert json.loads((config_dir / ".claude.json").read_text())["hasCompletedOnboarding"]
    assert not settings_path(home).exists()


def test_doctor_fails_on_two_auth_variables(home: Home) -> None:
    settings_path(home).parent.mkdir()
    settings_path(home).write_text(
        json.dumps(
            {
                "env": {
                    "ANTHROPIC_BASE_URL": "https://ai.megallm.io",
                    "ANTHROPIC_API_KEY": TEST_KEY,
                    "ANTHROPIC_AUTH_TOKEN": TEST_KEY,
                }
            }
        )
    )
    os.chmod(settings_path(home), 0o600)
    (home.home / ".claude.json").write_text('{"hasCompletedOnboarding": true}')
    result = home.run("doctor", "--json")
    assert result.returncode == 1
    titles = [f["title"] for f in json.loads(result.stdout)["data"] if f["status"] == "fail"]
    assert "two auth variables set" in titles


@pytest.mark.parametrize("flag", ["--version", "--help"])
def test_version_and_help(home: Home, flag: str) -> None:
    result = home.run(flag)
    assert result.returncode == 0
    assert "megallm" in result.stdout
