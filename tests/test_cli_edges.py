"""Inputs that must end in one clear usage error and leave every file alone."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.conftest import TEST_KEY, Home


@pytest.mark.parametrize("home_value", ["", "relative-home", "/nonexistent/home"])
def test_an_unusable_home_is_a_usage_error(home: Home, home_value: str) -> None:
    result = home.run("status", extra_env={"HOME": home_value})
    assert result.returncode == 2
    assert "HOME is" in result.stderr
    assert not (home.project / "relative-home").exists()


def test_restore_list_with_latest_contradicts(home: Home) -> None:
    result = home.run("restore", "--list", "--latest")
    assert result.returncode == 2
    assert "--list" in result.stderr and "--latest" in result.stderr


def test_remove_all_with_agent_contradicts(home: Home) -> None:
    result = home.run("remove", "--all", "--agent", "claude-code", "--yes")
    assert result.returncode == 2
    assert "--all and --agent" in result.stderr


def test_wrong_shape_in_claude_state_is_reported_with_the_file(home: Home) -> None:
    state = home.home / ".claude.json"
    state.write_text(json.dumps({"customApiKeyResponses": "x"}))
    before = home.snapshot()
    result = home.run(
        "setup",
        "--agent",
        "claude-code",
        "--claude-auth",
        "api-key",
        "--yes",
        "--no-verify",
        extra_env={"MEGALLM_API_KEY": TEST_KEY},
    )
    assert result.returncode == 1
    assert f"{state}:1:1" in result.stderr and "customApiKeyResponses" in result.stderr
    assert "unexpected" not in result.stderr
    assert home.snapshot() == before


def test_git_never_receives_the_key(home: Home, tmp_path_factory: pytest.TempPathFactory) -> None:
    """git runs at project level; its environment must not carry MEGALLM_API_KEY."""
    spy_dir = tmp_path_factory.mktemp("spy")
    log = spy_dir / "git-env.log"
    real_git = subprocess.run(["which", "git"], capture_output=True, text=True).stdout.strip()
    spy = spy_dir / "git"
    spy.write_text(f'#!/bin/sh\nenv >> "{log}"\nexec {real_git} "$@"\n')
    spy.chmod(0o755)
    subprocess.run(["git", "init", "-q", str(home.project)], check=True)
    result = home.run(
        "setup",
        "--agent",
        "claude-code",
        "--level",
        "project",
        "--yes",
        "--no-verify",
        extra_env={"MEGALLM_API_KEY": TEST_KEY, "PATH": f"{spy_dir}:{home.env['PATH']}"},
    )
    assert result.returncode == 0, result.stderr
    assert log.exists(), "the spy git was not run"
    assert TEST_KEY not in log.read_text()


def test_run_from_home_lists_user_settings_once(home: Home) -> None:
    """From ~, .claude/settings.json is both "the project's" and the user's: count it once."""
    setup = home.setup_claude(cwd=home.home)
    assert setup.returncode == 0, setup.stderr
    status = json.loads(home.run("status", "--json", cwd=home.home).stdout)
    claude = next(row for row in status["data"] if row["agent"] == "claude-code")
    assert [entry["level"] for entry in claude["configured"]] == ["user"]


def test_one_unreadable_config_stops_the_run_and_names_the_command_for_the_others(
    home: Home,
) -> None:
    settings = home.home / ".claude" / "settings.json"
    settings.parent.mkdir()
    settings.write_text('{\n  "model": "opus",\n  "env": {\n}\n')  # unclosed
    before = home.snapshot()
    result = home.run(
        "setup",
        "--agent",
        "claude-code",
        "--agent",
        "codex",
        "--agent",
        "opencode",
        "--base-url",
        "http://127.0.0.1:9",
        "--yes",
        "--no-verify",
        extra_env={"MEGALLM_API_KEY": TEST_KEY},
    )
    assert result.returncode == 1
    assert f"{settings}:" in result.stderr
    assert (
        "without Claude Code: megallm setup --agent codex --agent opencode "
        "--base-url http://127.0.0.1:9"
    ) in " ".join(result.stderr.split())
    assert home.snapshot() == before


def _dotfiles_repo(home: Home, track: bool, ignore: bool = False) -> Path:
    """~/.claude/settings.json as a link into a git repository of dotfiles."""
    repo = home.home / "dotfiles"
    repo.mkdir()
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q"], check=True)
    target = repo / "claude-settings.json"
    target.write_text('{\n  "model": "opus"\n}\n')
    if ignore:
        (repo / ".gitignore").write_text("claude-settings.json\n")
    if track:
        subprocess.run([*git, "add", "claude-settings.json"], check=True)
        subprocess.run([*git, "commit", "-qm", "dotfiles"], check=True)
    link = home.home / ".claude" / "settings.json"
    link.parent.mkdir()
    link.symlink_to(target)
    return target


def test_a_settings_file_tracked_in_a_dotfiles_repository_is_refused(home: Home) -> None:
    target = _dotfiles_repo(home, track=True)
    before = home.snapshot()

    result = home.setup_claude()

    assert result.returncode == 1
    assert f"is tracked by git in {target.parent}" in result.stderr
    assert "rm --cached" in result.stderr
    assert home.snapshot() == before


def test_an_untracked_settings_file_in_a_repository_gets_a_warning(home: Home) -> None:
    target = _dotfiles_repo(home, track=False)

    result = home.setup_claude()

    assert result.returncode == 0, result.stderr
    assert f"in the git work tree {target.parent}" in result.stderr
    assert TEST_KEY in target.read_text()


def test_a_git_ignored_settings_file_needs_no_warning(home: Home) -> None:
    _dotfiles_repo(home, track=False, ignore=True)

    result = home.setup_claude()

    assert result.returncode == 0, result.stderr
    assert "git work tree" not in result.stderr


def test_a_run_waiting_for_the_lock_says_so_and_gives_up_clearly(home: Home) -> None:
    from filelock import FileLock

    from megallm_cli.paths import Paths

    lock_file = Paths(home.env, "linux").lock_file
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(lock_file)):
        result = home.run(
            "setup", "--agent", "codex", "--yes", "--no-verify",
            extra_env={"MEGALLM_API_KEY": TEST_KEY, "MEGALLM_LOCK_TIMEOUT": "0.3"},
        )  # fmt: skip
    assert result.returncode == 1
    assert f"another megallm run holds {lock_file}: waiting for it" in result.stderr
    assert not (home.home / ".codex").exists()


def _user_tree(home: Home) -> list[Path]:
    """Everything under HOME but megallm's own state (~/.local/state/megallm and its parents)."""
    return sorted(p for p in home.home.rglob("*") if not p.is_relative_to(home.home / ".local"))


def test_setup_then_remove_leaves_no_directory_megallm_made(home: Home) -> None:
    before = _user_tree(home)
    env = {"MEGALLM_API_KEY": TEST_KEY, "MEGALLM_SHELL": "bash"}
    agents = ("--agent", "codex", "--agent", "opencode", "--agent", "cline")
    assert home.run("setup", *agents, "--yes", "--no-verify", extra_env=env).returncode == 0
    assert (home.home / ".codex").is_dir()

    result = home.run("remove", *agents, "--yes", extra_env=env)

    assert result.returncode == 0, result.stderr
    assert _user_tree(home) == before


def test_status_counts_a_custom_gateway_as_megallm_when_told_its_origin(home: Home) -> None:
    origin = "http://127.0.0.1:9"
    env = {"MEGALLM_API_KEY": TEST_KEY}
    setup = ("setup", "--agent", "codex", "--base-url", origin, "--yes", "--no-verify")
    assert home.run(*setup, extra_env=env).returncode == 0

    def megallm_flag(*flags: str) -> bool:
        result = home.run("status", "--json", *flags)
        [codex] = [row for row in json.loads(result.stdout)["data"] if row["agent"] == "codex"]
        return bool(codex["configured"][0]["megallm"])

    assert megallm_flag()  # the gateway the last setup was given is remembered
    assert megallm_flag("--base-url", origin)
    assert not megallm_flag("--base-url", "https://other.example")


def test_remove_on_a_custom_gateway_keeps_what_the_other_agents_use(home: Home) -> None:
    env = {"MEGALLM_API_KEY": TEST_KEY, "MEGALLM_SHELL": "bash"}
    agents = ("--agent", "codex", "--agent", "opencode", "--agent", "claude-code")
    setup = ("setup", *agents, "--base-url", "http://127.0.0.1:9", "--yes", "--no-verify")
    assert home.run(*setup, extra_env=env).returncode == 0
    env_file = home.home / ".config" / "megallm" / "env.sh"

    assert home.run("remove", "--agent", "opencode", "--yes", extra_env=env).returncode == 0
    assert env_file.exists()  # Codex still reads the key from it

    assert home.run("remove", "--all", "--yes", extra_env=env).returncode == 0
    assert not env_file.exists()
    assert not (home.home / ".claude" / "settings.json").exists()


def test_quiet_doctor_prints_the_problems_alone(home: Home) -> None:
    env = {"MEGALLM_API_KEY": TEST_KEY}
    assert (
        home.run("setup", "--agent", "codex", "--yes", "--no-verify", extra_env=env).returncode == 0
    )

    result = home.run("-q", "doctor", extra_env={"MEGALLM_API_KEY": ""})

    lines = result.stderr.strip().splitlines()
    assert lines, "a quiet doctor still names what is wrong"
    assert all(line.startswith(("shell: ", "keys: ", "codex: ")) for line in lines), lines
    assert any("another MEGALLM_API_KEY" in line or "not set" in line for line in lines)
    assert "passed" not in result.stderr
    # where people put it, after the command, it means the same
    after = home.run("doctor", "-q", extra_env={"MEGALLM_API_KEY": ""})
    assert (after.returncode, after.stderr) == (result.returncode, result.stderr)


def test_a_settings_dir_linked_into_a_dotfiles_repository_is_refused(home: Home) -> None:
    """GNU stow links whole directories: ~/.claude -> dotfiles/claude."""
    repo = home.home / "dotfiles"
    (repo / "claude").mkdir(parents=True)
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q"], check=True)
    (repo / "claude" / "settings.json").write_text('{\n  "model": "opus"\n}\n')
    subprocess.run([*git, "add", "claude/settings.json"], check=True)
    subprocess.run([*git, "commit", "-qm", "dotfiles"], check=True)
    (home.home / ".claude").symlink_to(repo / "claude")
    before = home.snapshot()

    result = home.setup_claude()

    assert result.returncode == 1
    assert f"is tracked by git in {repo}" in result.stderr
    assert home.snapshot() == before


def test_opencode_and_kilo_sharing_a_project_file_are_removed_one_at_a_time(home: Home) -> None:
    env = {"MEGALLM_API_KEY": TEST_KEY, "MEGALLM_SHELL": "bash"}
    project = ("--level", "project", "--project-dir", str(home.project))
    setup = ("setup", "--agent", "opencode", "--agent", "kilo", *project, "--yes", "--no-verify")
    assert home.run(*setup, extra_env=env).returncode == 0
    shared = home.project / "opencode.json"
    assert shared.exists()

    kilo_only = home.run("remove", "--agent", "kilo", *project, "--yes", extra_env=env)
    assert kilo_only.returncode == 0, kilo_only.stderr
    assert "OpenCode reads megallm's settings there too" in kilo_only.stderr
    assert json.loads(shared.read_text())["provider"]["megallm"]

    both = home.run("remove", "--all", *project, "--yes", extra_env=env)
    assert both.returncode == 0, both.stderr
    assert not shared.exists()
