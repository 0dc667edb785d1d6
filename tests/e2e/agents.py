"""The real agents the end-to-end tests run: npm package, pinned version, how to prompt each.

Installing is separate from testing because the tests run in a network namespace that only has
loopback: `python -m tests.e2e.agents` installs (in parallel, into a shared cache) beforehand;
the fixture installs too when an agent is missing, which works there only from npm's cache.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

INSTALL_TIMEOUT = 600


@dataclass(frozen=True)
class AgentSpec:
    agent: str  # the megallm agent id; also the cache dir name
    package: str
    version: str
    binary: str  # the name in node_modules/.bin
    prompt: tuple[str, ...]  # arguments that run one prompt without a terminal
    wire_path: str  # where the agent posts its turn
    model: str
    env: dict[str, str] = field(default_factory=dict)

    @property
    def requirement(self) -> str:
        return f"{self.package}@{self.version}"


CHAT_COMPLETIONS = "/v1/chat/completions"
# Versions that install on Node 20 and were observed against the stand-in (docs/REAL_AGENTS.md).
SPECS = (
    AgentSpec(
        "claude-code",
        "@anthropic-ai/claude-code",
        "2.1.332",
        "claude",
        ("-p", "say hi", "--output-format", "json"),
        "/v1/messages",
        "claude-sonnet-4-5",
    ),
    AgentSpec(
        "codex",
        "@openai/codex",
        "0.171.0",
        "codex",
        ("exec", "--skip-git-repo-check", "say hi"),
        "/v1/responses",
        "gpt-5",
    ),
    AgentSpec(
        "opencode",
        "opencode-ai",
        "1.18.33",
        "opencode",
        ("run", "say hi"),
        CHAT_COMPLETIONS,
        "gpt-5",
    ),
    AgentSpec(
        "kilo", "@kilocode/cli", "7.7.7", "kilo", ("run", "say hi"), CHAT_COMPLETIONS, "gpt-5"
    ),
    AgentSpec(
        "cline",
        "cline",
        "3.0.65",
        "cline",
        # -t: Cline's own timeout (s); a one-word prompt is refused as an unknown command.
        ("-t", "60", "say hi"),
        CHAT_COMPLETIONS,
        "gpt-5",
        # The local backend answers in-process; the default one leaves a hub daemon behind.
        {"CLINE_SESSION_BACKEND_MODE": "local"},
    ),
)


def cache_dir() -> Path:
    """Where agents are installed: $MEGALLM_AGENTS_CACHE, else ~/.cache/megallm-agents."""
    explicit = os.environ.get("MEGALLM_AGENTS_CACHE")
    return Path(explicit) if explicit else Path.home() / ".cache" / "megallm-agents"


def installed_binary(spec: AgentSpec, cache: Path) -> Path | None:
    """The agent's binary if the pinned version is installed in the cache."""
    modules = cache / spec.agent / "node_modules"
    binary = modules / ".bin" / spec.binary
    try:
        version = json.loads((modules / spec.package / "package.json").read_text())["version"]
    except (OSError, ValueError, KeyError):
        return None
    return binary if version == spec.version and binary.exists() else None


class InstallFailed(Exception):
    pass


def install(spec: AgentSpec, cache: Path) -> Path:
    """Install the pinned package into cache/<agent> unless it is there; one installer at a time.

    npm is asked to prefer its own cache, so a package downloaded once installs again offline.
    """
    from filelock import FileLock

    cache.mkdir(parents=True, exist_ok=True)
    with FileLock(str(cache / f"{spec.agent}.lock")):
        found = installed_binary(spec, cache)
        if found:
            return found
        npm = shutil.which("npm")
        if npm is None:
            raise InstallFailed("npm is not on PATH")
        log = cache / f"{spec.agent}.log"
        command = [
            npm,
            "install",
            "--prefix",
            str(cache / spec.agent),
            "--prefer-offline",
            "--no-audit",
            "--no-fund",
            "--loglevel=error",
            spec.requirement,
        ]
        with log.open("w") as output:
            result = subprocess.run(
                command,
                stdout=output,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                timeout=INSTALL_TIMEOUT,
                check=False,
            )
        found = installed_binary(spec, cache)
        if result.returncode != 0 or found is None:
            tail = log.read_text(errors="replace")[-2000:]
            raise InstallFailed(f"npm install {spec.requirement} failed ({log}):\n{tail}")
        return found


def registered_specs() -> list[AgentSpec]:
    from megallm_cli.agents import AGENT_IDS

    return [spec for spec in SPECS if spec.agent in AGENT_IDS]


def main() -> int:
    """Install every registered agent's pinned package, all at once; report each time taken."""
    cache = cache_dir()
    specs = registered_specs()

    def timed(spec: AgentSpec) -> tuple[AgentSpec, float, str]:
        started = time.monotonic()
        try:
            install(spec, cache)
            problem = ""
        except (InstallFailed, subprocess.TimeoutExpired) as error:
            problem = str(error)
        return spec, time.monotonic() - started, problem

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=len(specs) or 1) as pool:
        results = list(pool.map(timed, specs))
    failed = False
    for spec, seconds, problem in results:
        print(f"{spec.requirement}: {'FAILED' if problem else 'ok'} in {seconds:.1f} s")
        if problem:
            print(problem, file=sys.stderr)
            failed = True
    print(f"agents ready in {cache} after {time.monotonic() - started:.1f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
