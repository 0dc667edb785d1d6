"""Installing missing agents with npm: the checks before, the exact commands, and running them.

Only this optional step spawns node or npm; detection never does, so the wizard's first question
does not wait for them. Nothing here runs sudo: when npm's global prefix is not writable we say so
and print a command with a per-user prefix instead.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from megallm_cli.keysource import KEY_ENV
from megallm_cli.paths import Paths
from megallm_cli.system import find_executable

# Roo Code has no CLI (it is a VS Code extension), so npm cannot install it.
NPM_PACKAGES = {
    "claude-code": "@anthropic-ai/claude-code",
    "codex": "@openai/codex",
    "opencode": "opencode-ai",
    "kilo": "@kilocode/cli",
    "cline": "cline",
}
MIN_NODE_MAJOR = 18
USER_PREFIX = "~/.npm-global"
PROBE_TIMEOUT = 15.0
OUTPUT_TAIL_LINES = 30


@dataclass(frozen=True)
class Readiness:
    """Whether `npm install -g` can work here, and why not."""

    node_version: str | None
    npm: Path | None
    prefix: Path | None
    prefix_writable: bool

    @property
    def problem(self) -> str | None:
        if self.node_version is None:
            return f"Node.js is not installed: npm installs need Node.js {MIN_NODE_MAJOR} or newer"
        major = node_major(self.node_version)
        if major is None or major < MIN_NODE_MAJOR:
            return (
                f"Node.js {self.node_version} is too old: "
                f"the agents need Node.js {MIN_NODE_MAJOR} or newer"
            )
        if self.npm is None:
            return "npm is not on PATH"
        if self.prefix is None:
            return "`npm prefix -g` did not say where global packages go"
        if not self.prefix_writable:
            return f"npm's global prefix {self.prefix} is not writable by you"
        return None


@dataclass(frozen=True)
class InstallResult:
    package: str
    command: str
    returncode: int
    output: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def output_tail(self, lines: int = OUTPUT_TAIL_LINES) -> str:
        return "\n".join(self.output.strip().splitlines()[-lines:])


def installable(agent_id: str) -> bool:
    return agent_id in NPM_PACKAGES


def node_major(version: str) -> int | None:
    match = re.match(r"v?(\d+)\.", version.strip())
    return int(match.group(1)) if match else None


def check(paths: Paths) -> Readiness:
    """Run `node --version` and `npm prefix -g`, and see whether that prefix is writable."""
    node = find_executable("node", paths)
    node_version = _first_line([str(node), "--version"], paths) if node else None
    npm = find_executable("npm", paths)
    prefix_text = _first_line([str(npm), "prefix", "-g"], paths) if npm else None
    prefix = Path(prefix_text) if prefix_text else None
    writable = prefix is not None and prefix_writable(prefix, paths.family)
    return Readiness(node_version, npm, prefix, writable)


def prefix_writable(prefix: Path, family: str) -> bool:
    """npm -g writes packages and their command shims into these dirs under the prefix."""
    modules = prefix / "node_modules" if family == "windows" else prefix / "lib" / "node_modules"
    return all(_can_create(target) for target in (modules, bin_dir(prefix, family)))


def _can_create(target: Path) -> bool:
    """Writable if it is a writable dir, or its nearest existing ancestor is one."""
    for candidate in (target, *target.parents):
        if candidate.exists():
            return candidate.is_dir() and os.access(candidate, os.W_OK | os.X_OK)
    return False


def bin_dir(prefix: Path, family: str) -> Path:
    """Where npm -g puts the agents' commands: this must be on PATH."""
    return prefix if family == "windows" else prefix / "bin"


def install_command(packages: list[str], prefix: str | None = None) -> str:
    """The command as a user would type it."""
    prefix_flag = f" --prefix {prefix}" if prefix else ""
    return f"npm install -g{prefix_flag} {' '.join(packages)}"


def manual_steps(packages: list[str], readiness: Readiness) -> list[str]:
    """What to run by hand when we cannot install for the user."""
    major = node_major(readiness.node_version or "")
    if major is None or major < MIN_NODE_MAJOR or readiness.npm is None:
        return [
            f"install Node.js {MIN_NODE_MAJOR} or newer (https://nodejs.org), then:",
            install_command(packages),
        ]
    if not readiness.prefix_writable:
        return [
            install_command(packages, USER_PREFIX),
            f"then add {USER_PREFIX}/bin to your PATH (no sudo needed)",
        ]
    return [install_command(packages)]


def install(paths: Paths, agent_id: str, npm: Path) -> InstallResult:
    """`npm install -g PACKAGE` for one agent; its output is kept to show when it fails."""
    package = NPM_PACKAGES[agent_id]
    try:
        completed = subprocess.run(
            [str(npm), "install", "-g", package],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            env=_child_env(paths),
            check=False,
        )
        returncode, output = completed.returncode, completed.stdout
    except OSError as error:
        returncode, output = 127, f"could not run {npm}: {error.strerror or error}"
    return InstallResult(package, install_command([package]), returncode, output)


def _first_line(argv: list[str], paths: Paths) -> str | None:
    try:
        completed = subprocess.run(
            argv,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            errors="replace",
            env=_child_env(paths),
            timeout=PROBE_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    lines = completed.stdout.strip().splitlines()
    return lines[0].strip() if completed.returncode == 0 and lines else None


def _child_env(paths: Paths) -> dict[str, str]:
    """Our environment minus the key: npm runs packages' install scripts, which could read it."""
    return {name: value for name, value in paths.env.items() if name != KEY_ENV}
