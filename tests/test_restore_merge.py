"""restore after an agent rewrote its own files: the run's keys go, the agent's changes stay."""

from __future__ import annotations

import json

import pytest

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
    assert home.setup_claude().returncode == 0
    settings = home.home / ".claude" / "settings.json"
    document = json.loads(settings.read_text())
    document["env"]["ANTHROPIC_BASE_URL"] = "https://elsewhere.example"
    settings.write_text(json.dumps(document))
    edited = settings.read_bytes()

    result = home.run("restore", "--latest", extra_env=env)

    assert result.returncode == 1
    assert (
        f"{settings} changed since this run wrote it: env.ANTHROPIC_BASE_URL was changed since"
        in result.stderr
    )
    assert settings.read_bytes() == edited


def test_a_conflict_that_appears_while_restore_waits_stops_it(home: Home) -> None:
    import pytest

    from megallm_cli import backups, operations
    from megallm_cli.agents.base import Context
    from megallm_cli.errors import MegallmError
    from megallm_cli.paths import Paths

    assert home.setup_claude().returncode == 0
    ctx = Context(paths=Paths(home.env, "linux"), project_dir=home.project)
    session_id = backups.find_session(ctx.paths.backups_dir, None).id
    assert not operations.plan_restore(ctx, session_id, force=False).drifts  # the preview
    settings = home.home / ".claude" / "settings.json"
    settings.write_text(settings.read_text().replace("https://ai.megallm.io", "https://edited"))

    with pytest.raises(MegallmError, match="changed while restore was waiting"):
        operations.restore_to_apply(ctx, session_id, force=False)
    assert "https://edited" in settings.read_text()


@pytest.mark.parametrize(
    ("copy", "reason"),
    [
        ("damaged", "its copy of what it wrote is damaged"),
        ("missing", "it kept no copy (megallm keeps none of files over 16 MiB)"),
    ],
)
def test_a_refusal_says_why_the_runs_keys_cannot_be_told_apart(
    home: Home, copy: str, reason: str
) -> None:
    setup = home.setup_claude()
    assert setup.returncode == 0, setup.stderr
    settings = home.home / ".claude" / "settings.json"
    (session,) = (home.home / ".local" / "state" / "megallm" / "backups").iterdir()
    manifest = json.loads((session / "manifest.json").read_text())
    (entry,) = [e for e in manifest["entries"] if e["path"] == str(settings)]
    if copy == "damaged":
        (session / entry["postimage"]).write_text("{}")
    else:  # as for a file over the size limit
        entry["postimage"] = None
        (session / "manifest.json").write_text(json.dumps(manifest))
    document = json.loads(settings.read_text())
    document["theme"] = "dark"  # an agent's later change: mergeable with a copy
    settings.write_text(json.dumps(document))

    result = home.run("restore", "--latest")

    assert result.returncode == 1
    assert f"{settings} changed since this run wrote it: this run's keys" in result.stderr
    assert reason in result.stderr
