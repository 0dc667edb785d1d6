"""restore after an agent rewrote its own files: the run's keys go, the agent's changes stay."""

from __future__ import annotations

import json

from tests.conftest import TEST_KEY, Home

SETUP = ("setup", "--agent", "claude-code", "--agent", "opencode", "--yes", "--no-verify")


def test_restore_keeps_what_the_agents_wrote_since(home: Home) -> None:
    state = home.home / ".claude.json"
    state.write_text(json.dumps({"numStartups": 3, "theme": "dark"}, indent=2) + "\n")
    settings = home.home / ".claude" / "settings.json"
    settings.parent.mkdir()
    settings.write_text('{\n  "model": "opus"\n}\n')
    before_settings = settings.read_bytes()
    env = {"MEGALLM_API_KEY": TEST_KEY, "MEGALLM_SHELL": "bash"}
    assert home.run(*SETUP, extra_env=env).returncode == 0
    # Claude Code rewrites its whole state file as it starts; OpenCode's user adds a setting.
    claude_state = json.loads(state.read_text())
    claude_state["numStartups"] = 4
    claude_state["projects"] = {"/work": {"allowedTools": []}}
    state.write_text(json.dumps(claude_state, indent=2) + "\n")
    opencode = home.home / ".config" / "opencode" / "opencode.jsonc"
    document = json.loads(opencode.read_text())
    document["theme"] = "tokyonight"
    opencode.write_text(json.dumps(document, indent=2) + "\n")

    result = home.run("restore", "--latest", extra_env=env)

    assert result.returncode == 0, result.stderr
    assert "changed since" not in result.stderr
    assert f"{state} (only this run's keys: later changes kept)" in result.stderr
    assert json.loads(state.read_text()) == {
        "numStartups": 4,
        "theme": "dark",
        "projects": {"/work": {"allowedTools": []}},
    }
    assert json.loads(opencode.read_text()) == {"theme": "tokyonight"}
    assert settings.read_bytes() == before_settings  # untouched since: byte-for-byte


def test_a_key_of_ours_changed_since_is_still_refused(home: Home) -> None:
    env = {"MEGALLM_API_KEY": TEST_KEY}
    assert (
        home.run(
            "setup", "--agent", "claude-code", "--yes", "--no-verify", extra_env=env
        ).returncode
        == 0
    )
    settings = home.home / ".claude" / "settings.json"
    document = json.loads(settings.read_text())
    document["env"]["ANTHROPIC_BASE_URL"] = "https://elsewhere.example"
    settings.write_text(json.dumps(document))
    edited = settings.read_bytes()

    result = home.run("restore", "--latest", extra_env=env)

    assert result.returncode == 1
    assert f"{settings} changed since this run wrote it" in result.stderr
    assert settings.read_bytes() == edited
