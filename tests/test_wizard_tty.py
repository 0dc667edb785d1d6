"""The setup wizard in a real pseudo-terminal: the installed `megallm`, driven with keystrokes.

Agents are fake npm installs on PATH (a command link and a package.json with the version), the
gateway is the stand-in on 127.0.0.1, and HOME is a throwaway dir. Each test asserts the files
written and what the screen said.
"""

from __future__ import annotations

import io
import json
import os
import re
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pexpect
import pytest

from megallm_cli.agents import AGENT_IDS, get_agent
from megallm_cli.agents.base import Context
from megallm_cli.installer import NPM_PACKAGES
from megallm_cli.request import Gateway
from tests.conftest import Home, megallm_executable
from tests.fake_gateway_fixture import TEST_KEY, fake_gateway
from tests.test_installer import fake_agent, npm_calls, npm_env, unwritable_prefix

__all__ = ["fake_gateway"]  # re-exported so that pytest finds the fixture in this module

DOWN, SPACE, ENTER, CTRL_C, ESC, CTRL_U = "\x1b[B", " ", "\r", "\x03", "\x1b", "\x15"
WRONG_KEY = "sk-mega-wrong-00000000000000000000000000"
CANCELLED = "cancelled, nothing changed"
# Any npm-installed agent besides Claude Code makes a second one; the first registered is used.
SECOND_AGENTS = ("codex", "opencode", "kilo", "cline")
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[=>]")
_TIMESTAMP = re.compile(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z")
_COLOR = re.compile(r"\x1b\[[0-9;]*(?:3[0-9]|4[0-9]|9[0-7])(?:;[0-9]+)*m")


class Terminal:
    """`megallm setup ARGS` in a pty of a fixed size; everything it draws is kept."""

    def __init__(
        self,
        home: Home,
        *args: str,
        path_dirs: list[Path],
        extra_env: dict[str, str] | None = None,
        size: tuple[int, int] = (40, 100),
        term: str = "xterm",
    ) -> None:
        env = {k: v for k, v in home.env.items() if k != "COLUMNS"}  # the pty gives the width
        env.update(
            PATH=os.pathsep.join([*map(str, path_dirs), "/usr/bin", "/bin"]),
            TERM=term,
            MEGALLM_SHELL="bash",
            PROMPT_TOOLKIT_NO_CPR="1",  # pexpect never answers cursor-position requests
        )
        env.update(extra_env or {})
        self.raw = io.StringIO()
        self.child = pexpect.spawn(
            megallm_executable(),
            ["setup", *args],
            env=env,
            cwd=str(home.project),
            dimensions=size,
            encoding="utf-8",
            codec_errors="replace",
            timeout=15,
        )
        self.child.logfile_read = self.raw

    def answer(self, prompt: str, keys: str) -> None:
        """Wait until `prompt` is on screen, then type `keys`."""
        self.child.expect_exact(prompt)
        self.child.send(keys)

    def wait(self, text: str) -> None:
        self.child.expect_exact(text)

    def exit_code(self) -> int:
        self.child.expect(pexpect.EOF)
        self.child.close()
        return int(self.child.exitstatus if self.child.exitstatus is not None else -1)

    @property
    def screen(self) -> str:
        """What was drawn, without escape sequences or carriage returns."""
        return _ANSI.sub("", self.raw.getvalue()).replace("\r", "")


@pytest.fixture
def second_agent() -> str:
    for agent_id in SECOND_AGENTS:
        if agent_id in AGENT_IDS:
            return agent_id
    pytest.skip("no second npm-installed agent is registered yet")


def npm_prefix(home: Home, *agent_ids: str) -> Path:
    prefix = home.root / "npm"
    (prefix / "bin").mkdir(parents=True, exist_ok=True)
    for agent_id in agent_ids:
        fake_agent(prefix, agent_id)
    return prefix


def context(home: Home, origin: str | None = None) -> Context:
    return Context(home.paths, home.project, Gateway.parse(origin))


def claude_env(home: Home, level: str = "user") -> dict[str, Any]:
    path = (
        home.home / ".claude" / "settings.json"
        if level == "user"
        else home.project / ".claude" / "settings.local.json"
    )
    env: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))["env"]
    return env


def backup_sessions(home: Home) -> list[str]:
    backups = home.home / ".local" / "state" / "megallm" / "backups"
    return sorted(p.name for p in backups.iterdir()) if backups.is_dir() else []


def without_model_cache(snapshot: dict[str, bytes]) -> dict[str, bytes]:
    """The key check caches the gateway's model ids (as `setup --agent` does): not a setting."""
    cache = "home/.cache/megallm/models.json"
    if cache in snapshot:
        assert b"sk-mega" not in snapshot[cache]
    return {name: data for name, data in snapshot.items() if name != cache}


def assert_key_never_shown(terminal: Terminal, *keys: str) -> None:
    for key in keys:
        assert key not in terminal.raw.getvalue()


def test_fresh_machine_with_two_agents(home: Home, fake_gateway: Any, second_agent: str) -> None:
    prefix = npm_prefix(home, "claude-code", second_agent)
    second = get_agent(second_agent)
    # A Claude Code process that is running: the wizard must say to restart it.
    sleeper = prefix / "lib" / "node_modules" / "@anthropic-ai" / "claude-code" / "sleep.py"
    sleeper.write_text("import time\ntime.sleep(60)\n", encoding="utf-8")
    running = subprocess.Popen([sys.executable, str(sleeper)])
    try:
        terminal = Terminal(home, "--base-url", fake_gateway.url, path_dirs=[prefix / "bin"])
        terminal.wait("2.1.332")
        terminal.answer("Install missing agents?", ENTER)
        terminal.answer("Which agents should use MegaLLM?", ENTER)
        terminal.answer("Where should the settings go?", ENTER)
        terminal.answer("MegaLLM API key:", TEST_KEY + ENTER)
        terminal.wait("key accepted")
        terminal.answer("Default models?", DOWN + ENTER)
        terminal.answer("Claude Code model", "claude-sonnet-4-5" + ENTER)
        terminal.answer(f"{second.display_name} model", "gpt-5" + ENTER)
        terminal.answer("Apply ", ENTER)
        terminal.answer("Run `megallm doctor` now?", "y")
        terminal.wait("doctor: ")
        assert terminal.exit_code() == 0, terminal.screen
    finally:
        running.terminate()
        running.wait()

    screen = terminal.screen
    assert "Claude Code" in screen and second.display_name in screen
    assert "2.1.332" in screen
    assert "No key yet? Get one at https://megallm.io" in screen
    assert_key_never_shown(terminal, TEST_KEY)
    assert claude_env(home) == {
        "ANTHROPIC_BASE_URL": fake_gateway.url,
        "ANTHROPIC_AUTH_TOKEN": TEST_KEY,
        "ANTHROPIC_MODEL": "claude-sonnet-4-5",
    }
    (configured,) = second.configured(context(home, fake_gateway.url))
    assert configured.level == "user"
    assert fake_gateway.url in (configured.base_url or "")
    assert configured.model == "gpt-5"
    (session,) = backup_sessions(home)
    assert f"megallm restore --id {session}" in screen
    assert "restart Claude Code" in screen
    if second.needs_shell_env:
        assert "next: run `source ~/.config/megallm/env.sh` here" in screen
    assert [r.status for r in fake_gateway.requests("/v1/models")] == [200]


@pytest.mark.parametrize("action", ["reconfigure", "keep", "remove"])
def test_already_configured_agent(home: Home, fake_gateway: Any, action: str) -> None:
    prefix = npm_prefix(home, "claude-code")
    old_key = "sk-mega-old-key-0123456789abcdefghijklmnop"
    first = home.run(
        "setup",
        "--agent",
        "claude-code",
        "--yes",
        "--no-verify",
        "--base-url",
        fake_gateway.url,
        extra_env={"MEGALLM_API_KEY": old_key},
    )
    assert first.returncode == 0, first.stderr
    before = home.snapshot()
    terminal = Terminal(
        home,
        "--base-url",
        fake_gateway.url,
        path_dirs=[prefix / "bin"],
        extra_env={"MEGALLM_API_KEY": TEST_KEY},
    )
    terminal.wait("user: ~/.claude/settings.json")  # in the detection table
    terminal.answer("Install missing agents?", ENTER)
    terminal.wait("Which agents should use MegaLLM?")
    terminal.answer("Claude Code (set up for MegaLLM: user)", ENTER)
    moves = {"reconfigure": "", "keep": DOWN, "remove": DOWN + DOWN}[action]
    terminal.answer("Claude Code is already set up for MegaLLM (user)", moves + ENTER)
    if action == "reconfigure":
        terminal.answer("Where should the settings go?", ENTER)
        terminal.answer("Use the key in MEGALLM_API_KEY (sk-mega-…", "y")
        terminal.answer("Default models?", ENTER)
        terminal.answer("Apply ", ENTER)
        terminal.answer("Run `megallm doctor` now?", "n")
    elif action == "remove":
        terminal.answer("Apply ", ENTER)
    assert terminal.exit_code() == 0, terminal.screen

    screen = terminal.screen
    assert_key_never_shown(terminal, TEST_KEY, old_key)
    if action == "reconfigure":
        assert "update: env: ANTHROPIC_BASE_URL," in screen
        assert claude_env(home)["ANTHROPIC_AUTH_TOKEN"] == TEST_KEY
        assert "configured" in screen
    elif action == "keep":
        assert "already set up: nothing to change" in screen
        assert home.snapshot() == before
    else:
        assert "removed" in screen
        assert not (home.home / ".claude" / "settings.json").exists()
        assert len(backup_sessions(home)) == 2


# The happy path up to the review, as (step, prompt, keys that answer it).
STEPS = [
    ("install", "Install missing agents?", ENTER),
    ("agents", "Which agents should use MegaLLM?", ENTER),
    ("level", "Where should the settings go?", ENTER),
    ("key", "MegaLLM API key:", TEST_KEY + ENTER),
    ("models", "Default models?", ENTER),
    ("review", "Apply ", ENTER),
]


@pytest.mark.parametrize(
    ("stop_at", "keys"),
    [
        ("install", CTRL_C),
        ("agents", ESC),
        ("level", CTRL_C),
        ("key", ESC),
        ("models", CTRL_C),
        ("review", ESC),
        ("review", DOWN + DOWN + ENTER),  # the "cancel" choice
    ],
)
def test_cancel_at_each_step_writes_nothing(
    home: Home, fake_gateway: Any, stop_at: str, keys: str
) -> None:
    prefix = npm_prefix(home, "claude-code")
    before = home.snapshot()
    terminal = Terminal(home, "--base-url", fake_gateway.url, path_dirs=[prefix / "bin"])
    for step, prompt, answer in STEPS:
        if step == stop_at:
            started = time.monotonic()
            terminal.answer(prompt, keys)
            break
        terminal.answer(prompt, answer)
    assert terminal.exit_code() == 130
    assert time.monotonic() - started < 3
    assert terminal.screen.count(CANCELLED) == 1
    assert "Cancelled by user" not in terminal.screen
    assert without_model_cache(home.snapshot()) == before
    assert not (home.home / ".local" / "state" / "megallm").exists()


def test_wrong_key_then_right_key(home: Home, fake_gateway: Any) -> None:
    prefix = npm_prefix(home, "claude-code")
    terminal = Terminal(home, "--base-url", fake_gateway.url, path_dirs=[prefix / "bin"])
    terminal.answer("Install missing agents?", ENTER)
    terminal.answer("Which agents should use MegaLLM?", ENTER)
    terminal.answer("Where should the settings go?", ENTER)
    terminal.answer("MegaLLM API key:", "sk-mega-has space" + ENTER)
    terminal.wait("the API key contains whitespace at position 12")
    terminal.child.send(CTRL_U + WRONG_KEY + ENTER)
    terminal.wait("the gateway rejected sk-mega-…0000 (HTTP 401")
    terminal.answer("MegaLLM API key:", TEST_KEY + ENTER)
    terminal.wait("key accepted")
    terminal.answer("Default models?", ENTER)
    terminal.answer("Apply ", ENTER)
    terminal.answer("Run `megallm doctor` now?", CTRL_C)  # after apply: only skips the doctor
    assert terminal.exit_code() == 0, terminal.screen
    assert "doctor skipped" in terminal.screen
    assert CANCELLED not in terminal.screen
    assert [r.status for r in fake_gateway.requests("/v1/models")] == [401, 200]
    assert_key_never_shown(terminal, TEST_KEY, WRONG_KEY)
    assert claude_env(home)["ANTHROPIC_AUTH_TOKEN"] == TEST_KEY


def test_install_offer_runs_npm_after_asking(home: Home) -> None:
    prefix = home.root / "npm"
    env = npm_env(home.root, prefix)
    terminal = Terminal(
        home,
        "--no-verify",
        path_dirs=[home.root / "tools", prefix / "bin"],
        extra_env={k: v for k, v in env.items() if k != "PATH"},
    )
    terminal.wait("not found")
    terminal.answer("Install missing agents?", SPACE + ENTER)  # Claude Code is listed first
    terminal.answer("Run `npm install -g @anthropic-ai/claude-code` now?", "y")
    terminal.wait("installed @anthropic-ai/claude-code")
    terminal.answer("Which agents should use MegaLLM?", ENTER)  # only if it is now pre-ticked
    terminal.answer("Where should the settings go?", CTRL_C)
    assert terminal.exit_code() == 130
    assert npm_calls(home.root) == ["prefix -g", "install -g @anthropic-ai/claude-code"]
    assert (prefix / "bin" / "claude").exists()
    assert "[Claude Code]" in terminal.screen
    assert "sudo" not in terminal.screen


def test_install_offer_shows_npm_output_when_it_fails(home: Home) -> None:
    env = npm_env(home.root, home.root / "npm")
    terminal = Terminal(
        home,
        "--no-verify",
        path_dirs=[home.root / "tools"],
        extra_env={**{k: v for k, v in env.items() if k != "PATH"}, "FAKE_NPM_FAIL": "1"},
    )
    terminal.answer("Install missing agents?", DOWN + SPACE + ENTER)  # the second one listed
    terminal.answer("Run `npm install -g ", "y")
    terminal.wait("failed (exit 1); its output:")
    terminal.wait("npm error syscall mkdir")
    terminal.answer("Which agents should use MegaLLM?", CTRL_C)  # the wizard goes on
    assert terminal.exit_code() == 130
    assert len(npm_calls(home.root)) == 2


def test_install_offer_with_unwritable_prefix_prints_a_user_prefix_command(home: Home) -> None:
    env = npm_env(home.root, unwritable_prefix(home.root))
    terminal = Terminal(
        home,
        "--no-verify",
        path_dirs=[home.root / "tools"],
        extra_env={k: v for k, v in env.items() if k != "PATH"},
    )
    terminal.answer("Install missing agents?", SPACE + ENTER)
    terminal.wait("is not writable by you")
    terminal.wait("npm install -g --prefix ~/.npm-global @anthropic-ai/claude-code")
    terminal.answer("Which agents should use MegaLLM?", CTRL_C)
    assert terminal.exit_code() == 130
    assert npm_calls(home.root) == ["prefix -g"]
    assert "sudo npm" not in terminal.screen


def test_project_level_leaves_out_user_only_agents(home: Home) -> None:
    subprocess.run(["git", "init", "-q", str(home.project)], check=True)
    installed = ["claude-code", *(["codex"] if "codex" in AGENT_IDS else [])]  # user level only
    prefix = npm_prefix(home, *installed)
    terminal = Terminal(
        home, "--no-verify", path_dirs=[prefix / "bin"], extra_env={"MEGALLM_API_KEY": TEST_KEY}
    )
    terminal.answer("Install missing agents?", ENTER)
    terminal.answer("Which agents should use MegaLLM?", ENTER)
    terminal.answer("Where should the settings go?", DOWN + ENTER)
    terminal.answer("Use the key in MEGALLM_API_KEY", ENTER)
    terminal.answer("Default models?", ENTER)
    terminal.answer("Apply ", ENTER)
    terminal.answer("Run `megallm doctor` now?", "n")
    assert terminal.exit_code() == 0, terminal.screen

    screen = terminal.screen
    local = home.project / ".claude" / "settings.local.json"
    assert claude_env(home, "project")["ANTHROPIC_AUTH_TOKEN"] == TEST_KEY
    assert stat.S_IMODE(local.stat().st_mode) == 0o600
    assert not (home.home / ".claude" / "settings.json").exists()
    assert "project: /" in screen or "project: ~" in screen
    assert "~/.claude.json" in screen  # user-level state, listed as such in the review
    if len(installed) == 2:
        name = get_agent(installed[1]).display_name
        assert f"left out {name}: user level only" in screen
        assert not get_agent(installed[1]).configured(context(home))


@pytest.mark.parametrize(
    ("term", "columns"),
    [("dumb", 80), ("xterm", 60)],
    ids=["no-color-dumb-terminal", "narrow-terminal"],
)
def test_plain_and_narrow_terminals(home: Home, term: str, columns: int) -> None:
    prefix = npm_prefix(home, "claude-code")
    terminal = Terminal(
        home,
        "--no-verify",
        path_dirs=[prefix / "bin"],
        size=(30, columns),
        term=term,
        extra_env={"NO_COLOR": "1"},
    )
    terminal.answer("Install missing agents?", ENTER)
    terminal.answer("Which agents should use MegaLLM?", ENTER)
    terminal.answer("Where should the settings go?", ENTER)
    terminal.answer("MegaLLM API key:", TEST_KEY + ENTER)
    terminal.answer("Default models?", ENTER)
    terminal.answer("Apply ", DOWN + ENTER)  # show the full diff
    terminal.wait('"ANTHROPIC_AUTH_TOKEN": "sk-mega-…')
    terminal.answer("Apply ", ENTER)
    terminal.answer("Run `megallm doctor` now?", "n")
    assert terminal.exit_code() == 0, terminal.screen
    assert not _COLOR.search(terminal.raw.getvalue())
    assert_key_never_shown(terminal, TEST_KEY)
    assert claude_env(home)["ANTHROPIC_AUTH_TOKEN"] == TEST_KEY
    lines = terminal.screen.splitlines()
    if term == "dumb":
        assert any(line.startswith("+----") for line in lines)  # ASCII borders, no box glyphs
        assert "| Claude Code | ~/.claude/settings.json | user " in terminal.screen
    else:
        header = next(line for line in lines if line.lstrip().startswith("agent "))
        assert len(header.rstrip()) <= columns
        # Too narrow for the review table: one change per two lines instead.
        assert "  create ~/.claude/settings.json (Claude Code, user)" in lines


def test_offline_gateway_is_a_warning_and_dry_run_writes_nothing(home: Home) -> None:
    prefix = npm_prefix(home, "claude-code")
    before = home.snapshot()
    closed_port = "http://127.0.0.1:9"  # discard port: nothing listens, so the check is refused
    terminal = Terminal(home, "--dry-run", "--base-url", closed_port, path_dirs=[prefix / "bin"])
    terminal.answer("Install missing agents?", ENTER)
    terminal.answer("Which agents should use MegaLLM?", ENTER)
    terminal.answer("Where should the settings go?", ENTER)
    terminal.answer("MegaLLM API key:", TEST_KEY + ENTER)
    terminal.wait("could not check the key (unreachable")
    terminal.answer("Default models?", DOWN + ENTER)  # the bundled list, since it is offline
    terminal.answer("Claude Code model", "no-such-model" + ENTER)
    terminal.wait("'no-such-model' is not in the model list")
    terminal.child.send(CTRL_U + ENTER)  # empty: keep Claude Code's default
    terminal.wait("dry run: nothing was written")
    assert terminal.exit_code() == 0, terminal.screen
    assert '+    "ANTHROPIC_AUTH_TOKEN": "sk-mega-…' in terminal.screen
    assert "bundled list" in terminal.screen
    assert_key_never_shown(terminal, TEST_KEY)
    assert home.snapshot() == before
    assert not (home.home / ".local" / "state" / "megallm").exists()


def test_yes_on_a_terminal_takes_every_default_and_matches_the_flags(
    home: Home, tmp_path_factory: pytest.TempPathFactory, fake_gateway: Any
) -> None:
    """`setup --yes` on a terminal (no keystrokes) writes what `setup --all-detected --yes` does."""
    agents = [a for a in AGENT_IDS if a in NPM_PACKAGES]
    common = ("--yes", "--base-url", fake_gateway.url, "--model", "claude-code=claude-sonnet-4-5")
    key_env = {"MEGALLM_API_KEY": TEST_KEY}
    prefix = npm_prefix(home, *agents)
    terminal = Terminal(home, *common, path_dirs=[prefix / "bin"], extra_env=key_env)
    terminal.wait("doctor: ")
    assert terminal.exit_code() == 0, terminal.screen
    assert f"Use the key in MEGALLM_API_KEY (sk-mega-…{TEST_KEY[-4:]})? yes (--yes)" in (
        terminal.screen
    )

    other_root = tmp_path_factory.mktemp("flags")
    (other_root / "home").mkdir()
    (other_root / "project").mkdir()
    flags_home = Home(other_root, {**home.env, "HOME": str(other_root / "home")})
    flags_prefix = npm_prefix(flags_home, *agents)
    flags = flags_home.run(
        "setup",
        "--all-detected",
        *common,
        extra_env={
            **key_env,
            "MEGALLM_SHELL": "bash",
            "PATH": os.pathsep.join([str(flags_prefix / "bin"), "/usr/bin", "/bin"]),
        },
    )
    assert flags.returncode == 0, flags.stderr

    def written(h: Home) -> dict[str, bytes]:
        """Settings files, with the run's own dir and time (Cline's updatedAt) neutralised."""
        root = str(h.root).encode()
        return {
            name: _TIMESTAMP.sub(b"TIME", data.replace(root, b"ROOT"))
            for name, data in without_model_cache(h.snapshot()).items()
            if not name.startswith("npm/")
        }

    wizard_files = written(home)
    assert wizard_files == written(flags_home)
    assert claude_env(home)["ANTHROPIC_MODEL"] == "claude-sonnet-4-5"
    for agent_id in agents:
        assert get_agent(agent_id).configured(context(home, fake_gateway.url)), agent_id


def test_no_terminal_and_no_flags_fails_at_once_naming_the_flags(home: Home) -> None:
    started = time.monotonic()
    result = home.run("setup")
    assert time.monotonic() - started < 2
    assert result.returncode == 2
    for flag in ("--agent ID", "--all-detected", "--yes", "MEGALLM_API_KEY", "--api-key-stdin"):
        assert flag in result.stderr
    assert result.stdout == ""
    assert not (home.home / ".claude").exists()
