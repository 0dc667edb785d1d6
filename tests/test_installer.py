"""Installing missing agents with npm: readiness checks, commands, and `setup --install-missing`.

npm and node are fakes on PATH: npm records its argv and lays out a package the way
`npm install -g` does (prefix/lib/node_modules/PKG and a link in prefix/bin), so detection finds
the agent and reads its version from package.json afterwards.
"""

from __future__ import annotations

import json
import os
import stat
import sys
import time
from pathlib import Path

import pytest

from megallm_cli import installer
from megallm_cli.paths import Paths
from megallm_cli.system import npm_package_version
from tests.conftest import TEST_KEY, Home

REPO_ROOT = Path(__file__).resolve().parent.parent
COMMANDS = {
    "claude-code": "claude",
    "codex": "codex",
    "opencode": "opencode",
    "kilo": "kilo",
    "cline": "cline",
}
VERSIONS = {
    "claude-code": "2.1.332",
    "codex": "0.171.0",
    "opencode": "1.18.33",
    "kilo": "7.7.7",
    "cline": "3.0.65",
}

FAKE_NPM = f"""#!{sys.executable}
import os, sys
sys.path.insert(0, {str(REPO_ROOT)!r})
from pathlib import Path
from tests.test_installer import fake_agent, agent_for_package

args = sys.argv[1:]
with open(os.environ["FAKE_NPM_LOG"], "a", encoding="utf-8") as log:
    log.write(" ".join(args) + "\\n")
if "MEGALLM_API_KEY" in os.environ:  # install scripts run with npm's environment
    Path(os.environ["FAKE_NPM_LOG"] + ".saw-key").touch()
prefix = Path(os.environ["FAKE_NPM_PREFIX"])
if args[:2] == ["prefix", "-g"]:
    print(prefix)
elif os.environ.get("FAKE_NPM_FAIL"):
    print("npm error code EACCES")
    print("npm error syscall mkdir")
    sys.exit(1)
elif args[:2] == ["install", "-g"]:
    for package in args[2:]:
        fake_agent(prefix, agent_for_package(package))
        print("added 1 package in 2s")
"""


def agent_for_package(package: str) -> str:
    return next(agent for agent, name in installer.NPM_PACKAGES.items() if name == package)


def fake_agent(prefix: Path, agent_id: str) -> Path:
    """What `npm install -g PACKAGE` leaves: the package dir and a command link in prefix/bin."""
    package = installer.NPM_PACKAGES[agent_id]
    package_dir = prefix / "lib" / "node_modules" / package
    (package_dir / "bin").mkdir(parents=True, exist_ok=True)
    manifest = {"name": package, "version": VERSIONS[agent_id]}
    (package_dir / "package.json").write_text(json.dumps(manifest), encoding="utf-8")
    script = package_dir / "bin" / COMMANDS[agent_id]
    script.write_text(f"#!/bin/sh\necho {VERSIONS[agent_id]}\n", encoding="utf-8")
    script.chmod(0o755)
    link = prefix / "bin" / COMMANDS[agent_id]
    link.parent.mkdir(parents=True, exist_ok=True)
    if not link.is_symlink():
        link.symlink_to(script)
    return link


def fake_node_and_npm(bin_dir: Path, node_version: str = "v20.11.1") -> None:
    bin_dir.mkdir(parents=True, exist_ok=True)
    node = bin_dir / "node"
    node.write_text(f"#!/bin/sh\necho {node_version}\n", encoding="utf-8")
    npm = bin_dir / "npm"
    npm.write_text(FAKE_NPM, encoding="utf-8")
    for script in (node, npm):
        script.chmod(0o755)


def npm_env(root: Path, prefix: Path, node_version: str = "v20.11.1") -> dict[str, str]:
    """PATH with the fake node and npm first, then the npm prefix's bin, then the system."""
    tools = root / "tools"
    fake_node_and_npm(tools, node_version)
    (prefix / "bin").mkdir(parents=True, exist_ok=True)
    return {
        "PATH": os.pathsep.join([str(tools), str(prefix / "bin"), "/usr/bin", "/bin"]),
        "FAKE_NPM_LOG": str(root / "npm.log"),
        "FAKE_NPM_PREFIX": str(prefix),
    }


def npm_calls(root: Path) -> list[str]:
    log = root / "npm.log"
    return log.read_text(encoding="utf-8").splitlines() if log.exists() else []


def unwritable_prefix(root: Path) -> Path:
    """A prefix npm cannot install into even as root: its `lib` is a file, not a directory."""
    prefix = root / "locked-prefix"
    prefix.mkdir()
    (prefix / "lib").write_text("not a directory", encoding="utf-8")
    return prefix


def paths_for(home: Home, extra: dict[str, str]) -> Paths:
    return Paths({**home.env, **extra})


# --- readiness ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "major"), [("v20.11.1", 20), ("18.0.0", 18), ("v8.17.0\n", 8), ("node", None)]
)
def test_node_major(text: str, major: int | None) -> None:
    assert installer.node_major(text) == major


def test_ready_with_node_npm_and_a_writable_prefix(home: Home) -> None:
    prefix = home.root / "prefix"
    readiness = installer.check(paths_for(home, npm_env(home.root, prefix)))
    assert readiness.node_version == "v20.11.1"
    assert readiness.npm == home.root / "tools" / "npm"
    assert readiness.prefix == prefix
    assert readiness.prefix_writable
    assert readiness.problem is None
    assert npm_calls(home.root) == ["prefix -g"]


def test_old_node_is_a_problem_and_the_steps_say_which_node(home: Home) -> None:
    env = npm_env(home.root, home.root / "prefix", node_version="v16.20.2")
    readiness = installer.check(paths_for(home, env))
    assert readiness.problem == "Node.js v16.20.2 is too old: the agents need Node.js 18 or newer"
    steps = installer.manual_steps(["@openai/codex"], readiness)
    assert steps == [
        "install Node.js 18 or newer (https://nodejs.org), then:",
        "npm install -g @openai/codex",
    ]


def test_missing_node_is_a_problem(home: Home) -> None:
    env = npm_env(home.root, home.root / "prefix")
    (home.root / "tools" / "node").unlink()
    env["PATH"] = str(home.root / "tools")
    readiness = installer.check(paths_for(home, env))
    assert readiness.node_version is None
    assert "Node.js is not installed" in (readiness.problem or "")


def test_unwritable_prefix_suggests_a_user_prefix_and_never_sudo(home: Home) -> None:
    prefix = unwritable_prefix(home.root)
    readiness = installer.check(paths_for(home, npm_env(home.root, prefix)))
    assert not readiness.prefix_writable
    assert readiness.problem == f"npm's global prefix {prefix} is not writable by you"
    steps = installer.manual_steps(["cline"], readiness)
    assert steps == [
        "npm install -g --prefix ~/.npm-global cline",
        "then add ~/.npm-global/bin to your PATH (no sudo needed)",
    ]


def test_prefix_writable_accepts_a_prefix_that_does_not_exist_yet(tmp_path: Path) -> None:
    assert installer.prefix_writable(tmp_path / "new" / "prefix", "linux")
    assert installer.prefix_writable(tmp_path / "new" / "prefix", "windows")


# --- installing ---------------------------------------------------------------------------


def test_install_runs_npm_and_the_agent_is_then_found(home: Home) -> None:
    prefix = home.root / "prefix"
    paths = paths_for(home, npm_env(home.root, prefix))
    result = installer.install(paths, "codex", home.root / "tools" / "npm")
    assert result.ok, result.output
    assert result.command == "npm install -g @openai/codex"
    assert npm_calls(home.root) == ["install -g @openai/codex"]
    command = prefix / "bin" / "codex"
    assert npm_package_version(command, "@openai/codex") == "0.171.0"


def test_a_failed_install_keeps_npm_output(home: Home) -> None:
    env = {**npm_env(home.root, home.root / "prefix"), "FAKE_NPM_FAIL": "1"}
    result = installer.install(paths_for(home, env), "cline", home.root / "tools" / "npm")
    assert not result.ok
    assert result.returncode == 1
    assert result.output_tail() == "npm error code EACCES\nnpm error syscall mkdir"


# --- setup --install-missing (no terminal) --------------------------------------------------


def install_missing_run(home: Home, extra: dict[str, str]) -> tuple[int, str]:
    result = home.run(
        "setup",
        "--agent",
        "claude-code",
        "--install-missing",
        "--yes",
        "--no-verify",
        extra_env={"MEGALLM_API_KEY": TEST_KEY, **extra},
    )
    return result.returncode, result.stderr


def test_install_missing_flag_installs_then_configures(home: Home) -> None:
    prefix = home.root / "prefix"
    code, stderr = install_missing_run(home, npm_env(home.root, prefix))
    assert code == 0, stderr
    assert npm_calls(home.root) == ["prefix -g", "install -g @anthropic-ai/claude-code"]
    assert not (home.root / "npm.log.saw-key").exists()
    assert "installed @anthropic-ai/claude-code" in stderr
    assert "not installed here" not in stderr
    settings = json.loads((home.home / ".claude" / "settings.json").read_text())
    assert settings["env"]["ANTHROPIC_AUTH_TOKEN"] == TEST_KEY


def test_install_missing_flag_skips_agents_already_installed(home: Home) -> None:
    prefix = home.root / "prefix"
    env = npm_env(home.root, prefix)
    fake_agent(prefix, "claude-code")
    code, stderr = install_missing_run(home, env)
    assert code == 0, stderr
    assert npm_calls(home.root) == []


def test_install_missing_flag_failure_shows_npm_output_and_writes_nothing(home: Home) -> None:
    env = {**npm_env(home.root, home.root / "prefix"), "FAKE_NPM_FAIL": "1"}
    before = home.snapshot()
    code, stderr = install_missing_run(home, env)
    assert code == 1
    assert "npm error code EACCES" in stderr
    assert "`npm install -g @anthropic-ai/claude-code` failed (exit 1)" in stderr
    after = home.snapshot()
    assert after.pop("npm.log") == b"prefix -g\ninstall -g @anthropic-ai/claude-code\n"
    assert after == before
    assert not (home.home / ".local" / "state" / "megallm" / "backups").exists()


def test_install_missing_flag_with_old_node_prints_the_command_and_does_not_run_npm(
    home: Home,
) -> None:
    env = npm_env(home.root, home.root / "prefix", node_version="v16.20.2")
    started = time.monotonic()
    code, stderr = install_missing_run(home, env)
    assert code == 1
    assert time.monotonic() - started < 5
    assert "Node.js v16.20.2 is too old" in stderr
    assert "npm install -g @anthropic-ai/claude-code" in stderr
    assert npm_calls(home.root) == ["prefix -g"]
    assert not (home.home / ".claude" / "settings.json").exists()


def test_fake_agent_layout_matches_npm(tmp_path: Path) -> None:
    command = fake_agent(tmp_path, "claude-code")
    assert command.is_symlink()
    assert stat.S_IMODE(command.resolve().stat().st_mode) == 0o755
    assert npm_package_version(command, "@anthropic-ai/claude-code") == "2.1.332"
