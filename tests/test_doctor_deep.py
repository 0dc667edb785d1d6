"""`megallm doctor --deep` with stand-in agent binaries that say what the real ones said.

The outputs below are the real agents' (docs/REAL_AGENTS.md); tests/e2e runs the real binaries.
"""

from __future__ import annotations

import json
import os
import stat
import time
from pathlib import Path

import psutil
import pytest

from megallm_cli import doctor_deep
from megallm_cli.agents import AGENT_IDS
from megallm_cli.agents.base import Context
from megallm_cli.request import Gateway
from tests.conftest import TEST_KEY, Home

URL = "http://127.0.0.1:9"


def stub(home: Home, name: str, script: str) -> Path:
    """An executable `name` first on the PATH of `home`, running the sh `script`."""
    bin_dir = home.root / "bin"
    bin_dir.mkdir(exist_ok=True)
    path = bin_dir / name
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    home.env["PATH"] = f"{bin_dir}{os.pathsep}{home.env['PATH']}"
    return path


def context(home: Home) -> Context:
    return Context(paths=home.paths, project_dir=home.project, gateway=Gateway.parse(URL))


def setup(home: Home, agent: str) -> None:
    result = home.run(
        "setup",
        "--agent",
        agent,
        "--base-url",
        URL,
        "--model",
        "gpt-5",
        "--yes",
        "--no-verify",
        extra_env={"MEGALLM_API_KEY": TEST_KEY, "MEGALLM_SHELL": "bash"},
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.skipif("kilo" not in AGENT_IDS, reason="agent kilo not registered yet")
def test_kilo_echoing_the_key_is_masked_and_its_error_reported(home: Home) -> None:
    setup(home, "kilo")
    config = home.home / ".config" / "kilo" / "kilo.jsonc"
    # `kilo config check` on broken JSONC dumps the file with {env:MEGALLM_API_KEY} resolved.
    stub(
        home,
        "kilo",
        f"""env > "$HOME/kilo-env.txt"; pwd > "$HOME/kilo-cwd.txt"
printf '\\033[91m\\033[1mError: \\033[0mConfig file at {config} is not valid JSON(C): \\n'
printf -- '--- JSONC Input ---\\n{{"apiKey": "{TEST_KEY}"}}\\n{{\\n\\n--- Errors ---\\n'
printf 'EndOfFileExpected at line 17, column 1\\n   Line 17: {{\\n          ^\\n--- End ---\\n'
exit 1
""",
    )
    result = home.run("doctor", "--deep", "--agent", "kilo", "--base-url", URL, "--json")
    assert result.returncode == 1
    assert TEST_KEY not in result.stdout + result.stderr
    deep = [f for f in json.loads(result.stdout)["data"] if "Kilo rejects" in f["title"]]
    assert len(deep) == 1
    assert (
        deep[0]["title"]
        == f"Kilo rejects its config: Error: Config file at {config} is not valid JSON(C):"
    )
    assert "EndOfFileExpected at line 17, column 1" in deep[0]["detail"]
    assert "`kilo config check` → exit 1" in deep[0]["detail"]
    seen = dict(
        line.split("=", 1) for line in (home.home / "kilo-env.txt").read_text().splitlines()
    )
    for name, value in doctor_deep.QUIET_ENV.items():
        assert seen[name] == value
    assert (home.home / "kilo-cwd.txt").read_text().strip() == str(home.project)


def test_a_hanging_agent_is_stopped_with_what_it_started(home: Home) -> None:
    stub(home, "codex", 'sleep 300 & echo $! > "$HOME/child.pid"; wait\n')
    started = time.monotonic()
    (finding,) = doctor_deep.check_agent(context(home), "codex", (), timeout=1)
    assert time.monotonic() - started < 5
    assert finding.status == "warn"
    assert finding.title == (
        "deep: `codex app-server --print-startup-config --strict-config` gave no answer in 1 s"
    )
    child = int((home.home / "child.pid").read_text())
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            if psutil.Process(child).status() == psutil.STATUS_ZOMBIE:
                break
        except psutil.NoSuchProcess:
            break
        time.sleep(0.05)
    else:
        pytest.fail(f"the agent's child {child} outlived the timeout")


def test_codex_config_error_is_reported_with_its_position(home: Home) -> None:
    error = {
        "error": {
            "code": -32600,
            "data": {
                "reason": "configLoad",
                "filePath": "/h/.codex/config.toml",
                "line": 9,
                "column": 1,
                "detail": "/h/.codex/config.toml:9:1: unknown configuration field `x.bogus`",
            },
            "message": "failed to load configuration: …",
        }
    }
    stub(
        home,
        "codex",
        f"echo '{json.dumps(error)}'\n"
        "echo 'Error: startup configuration unavailable' >&2\nexit 1\n",
    )
    (finding,) = doctor_deep.check_agent(context(home), "codex", ())
    assert finding.status == "fail"
    assert finding.title == (
        "Codex rejects its config: /h/.codex/config.toml:9:1: unknown configuration field `x.bogus`"
    )


CLAUDE_DOCTOR = """Claude Code doctor

API connectivity
- Not tested: CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC is set

Invalid settings
- /h/.claude/settings.json › permissions.allow: Expected array, but received number
  Suggested fix: Permission rules must be in an array.

Remote Control
- Not signed in to claude.ai
"""


def test_claude_code_invalid_settings_and_missing_key(home: Home) -> None:
    logged_out = json.dumps({"loggedIn": False, "authMethod": "none"})
    stub(
        home,
        "claude",
        f"""case "$1" in
  auth) echo '{logged_out}'; exit 1 ;;
  doctor) cat <<'EOF'
{CLAUDE_DOCTOR}EOF
  ;;
esac
""",
    )
    auth, invalid = doctor_deep.check_agent(context(home), "claude-code", ())
    assert auth.status == "fail"
    assert auth.title.startswith("Claude Code sees no key: `claude auth status --json` → exit 1")
    assert invalid.status == "fail"
    assert invalid.title == (
        "Claude Code rejects a setting: /h/.claude/settings.json › permissions.allow: "
        "Expected array, but received number"
    )
    assert invalid.detail.startswith("Suggested fix: Permission rules must be in an array.")


def test_claude_code_with_a_key_and_valid_settings(home: Home) -> None:
    status = json.dumps(
        {"loggedIn": True, "authMethod": "api_key", "apiKeySource": "ANTHROPIC_API_KEY"}
    )
    stub(
        home,
        "claude",
        f"""case "$1" in
  auth) echo '{status}' ;;
  doctor) echo 'Claude Code doctor'; echo; echo 'No installation issues found.' ;;
esac
""",
    )
    auth, doctor = doctor_deep.check_agent(context(home), "claude-code", ())
    assert (auth.status, doctor.status) == ("ok", "ok")
    assert auth.title.startswith("Claude Code has a key (ANTHROPIC_API_KEY)")
    assert doctor.title.startswith("Claude Code lists no invalid settings: `claude doctor`")


def test_agents_without_a_self_check_or_not_installed_are_only_noted(home: Home) -> None:
    home.env["PATH"] = str(home.root / "empty")
    ctx = context(home)
    for agent in AGENT_IDS:
        (finding,) = doctor_deep.check_agent(ctx, agent, ())
        assert finding.status == "info"
        assert finding.title in (
            "deep: not installed here, so not asked",
            "deep: no offline self-check",
        )
