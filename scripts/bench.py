#!/usr/bin/env python3
"""Time whole megallm processes: min, median and max over N runs after a warm-up.

Each row is a name, a measure (one run → seconds and peak memory), a target and a fixture: the
throwaway HOME it runs in. To add a row, append a Row to ROWS (run_process(...) covers plain
commands, in_process(...) times one step inside Python without the start-up).

    python scripts/bench.py                     # every row, 10 runs each
    python scripts/bench.py --only prompt --runs 20
    python scripts/bench.py --compare "/other/venv/bin/megallm"   # same rows, side by side
    python scripts/bench.py --markdown          # the table as markdown
    python scripts/bench.py --write-doc         # and into docs/PERFORMANCE.md, with the machine

Every run happens in a throwaway HOME with a project dir beside it, so no real config is read
and nothing is written anywhere else. The "agents" fixtures hold all six agents, installed the
way npm and VS Code install them (the agent binaries are stand-ins that log every start: a row
marked "no spawn" fails when one ran) and with realistic configs of their users. Rows that
write start each run from the same files: the HOME is copied back before every run, untimed.
"wizard: first prompt" starts `megallm setup` in a pseudo-terminal (pexpect) and stops the clock
when the first question's text appears; then it sends Ctrl-C.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import random
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "PERFORMANCE.md"
# --write-doc replaces what lies between these lines and keeps the prose around them.
DOC_BEGIN = "<!-- bench:begin (scripts/bench.py --write-doc rewrites this part) -->"
DOC_END = "<!-- bench:end -->"

# Not a real key: setup only checks its shape (every row passes --no-verify).
BENCH_KEY = "sk-mega-bench0123456789abcdefghijklmnopqrstuvw"
AGENT_IDS = ("claude-code", "codex", "opencode", "kilo", "cline", "roo-code")
SETUP_ALL = ["setup", *(arg for agent in AGENT_IDS for arg in ("--agent", agent))]
OFFLINE = ["--yes", "--no-verify"]
MIB = 1024 * 1024

# The wizard's first question: the install offer when an agent is missing, else the agent pick.
# GNU time (the `time` package), for the peak memory of whole processes.
TIME = "/usr/bin/time" if Path("/usr/bin/time").exists() else None

FIRST_PROMPT = re.compile(rb"Install missing agents\?|Which agents should use MegaLLM\?")
PROMPT_TIMEOUT = 10.0


# --- fixtures: the HOME each row runs in -----------------------------------------------------


@dataclass
class Fixture:
    """A throwaway HOME under `root` beside a project dir; each run starts from `snapshot`."""

    root: Path
    env: dict[str, str]
    snapshot: Path | None = None
    rss_limit: int | None = None
    """Peak memory a run may use, in bytes (for rows that scale with a file)."""

    @property
    def home(self) -> Path:
        return Path(self.env["HOME"])

    @property
    def project(self) -> Path:
        return self.root / "project"

    @property
    def spawn_log(self) -> Path:
        return self.root / "agent-starts.log"

    def freeze(self) -> None:
        """From now on, every run starts from the HOME as it is now."""
        self.snapshot = self.root / "snapshot"
        shutil.copytree(self.home, self.snapshot, symlinks=True)

    def reset(self) -> None:
        if self.snapshot is None:
            return
        shutil.rmtree(self.home)
        shutil.copytree(self.snapshot, self.home, symlinks=True)
        os.sync()  # the copy's dirty pages must not be flushed inside the next timed run

    def agent_starts(self) -> list[str]:
        try:
            return self.spawn_log.read_text().splitlines()
        except FileNotFoundError:
            return []


def empty_home(root: Path, command: Sequence[str]) -> Fixture:
    home = root / "home"
    home.mkdir()
    (root / "project").mkdir()
    return Fixture(
        root,
        {
            "HOME": str(home),
            "PATH": f"{home / '.npm-global' / 'bin'}:{os.environ.get('PATH', '/usr/bin:/bin')}",
            "LANG": os.environ.get("LANG", "C.UTF-8"),
            "TERM": "xterm-256color",
            "SHELL": "/bin/bash",
            "MEGALLM_API_KEY": BENCH_KEY,
            # pexpect's terminal never answers a cursor-position request.
            "PROMPT_TOOLKIT_NO_CPR": "1",
        },
    )


# (npm package, command, version) as `npm install -g` lays them out under ~/.npm-global.
NPM_AGENTS = (
    ("@anthropic-ai/claude-code", "claude", "2.1.332"),
    ("@openai/codex", "codex", "0.171.0"),
    ("opencode-ai", "opencode", "1.18.33"),
    ("@kilocode/cli", "kilo", "7.7.7"),
    ("cline", "cline", "3.0.65"),
)
# (extension id, version) in ~/.vscode/extensions.
EXTENSIONS = (("rooveterinaryinc.roo-cline", "3.25.4"), ("saoudrizwan.claude-dev", "3.20.1"))


def install_agents(fixture: Fixture) -> None:
    """The five CLIs through npm (stand-ins that log each start) and two VS Code extensions."""
    prefix = fixture.home / ".npm-global"
    (prefix / "bin").mkdir(parents=True)
    for package, command, version in NPM_AGENTS:
        package_dir = prefix / "lib" / "node_modules" / package
        (package_dir / "bin").mkdir(parents=True)
        manifest = {"name": package, "version": version, "bin": {command: f"bin/{command}.js"}}
        (package_dir / "package.json").write_text(json.dumps(manifest, indent=2))
        script = package_dir / "bin" / f"{command}.js"
        script.write_text(f"#!/bin/sh\necho \"{command} $*\" >> '{fixture.spawn_log}'\n")
        script.chmod(0o755)
        link = prefix / "bin" / command
        link.symlink_to(os.path.relpath(script, link.parent))
    for extension_id, version in EXTENSIONS:
        directory = fixture.home / ".vscode" / "extensions" / f"{extension_id}-{version}"
        directory.mkdir(parents=True)
        publisher, name = extension_id.split(".")
        manifest = {"publisher": publisher, "name": name, "version": version}
        (directory / "package.json").write_text(json.dumps(manifest))


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def write_user_configs(fixture: Fixture) -> None:
    """What users have before megallm: their own settings in every agent's files."""
    home = fixture.home
    rng = random.Random(7)
    write(home / ".bashrc", bashrc(120, rng))
    write(home / ".profile", 'if [ -n "$BASH_VERSION" ]; then . "$HOME/.bashrc"; fi\n')
    projects: dict[str, object] = {
        f"/home/dev/src/project-{n}": claude_project(rng) for n in range(40)
    }
    write(home / ".claude.json", json.dumps(claude_state(projects, rng), indent=2))
    claude_settings = {
        "permissions": {"allow": ["Bash(npm run test:*)", "Read(~/src/**)"], "deny": []},
        "model": "opus",
        "statusLine": {"type": "command", "command": "~/.claude/statusline.sh"},
    }
    write(home / ".claude" / "settings.json", json.dumps(claude_settings, indent=2) + "\n")
    write(
        home / ".codex" / "config.toml",
        'model = "o4-mini"\napproval_policy = "on-request"\n\n'
        '[mcp_servers.docs]\ncommand = "npx"\nargs = ["-y", "@acme/docs-mcp"]\n\n'
        '[profiles.fast]\nmodel = "gpt-5-mini"\n',
    )
    write(
        home / ".config" / "opencode" / "opencode.jsonc",
        '{\n  // my theme\n  "$schema": "https://opencode.ai/config.json",\n'
        '  "theme": "tokyonight",\n  "autoupdate": false,\n}\n',
    )
    write(home / ".config" / "Code" / "User" / "settings.json", vscode_settings(4_000, rng))


def agents_home(root: Path, command: Sequence[str]) -> Fixture:
    """All six agents installed, with their users' settings; none set up for MegaLLM yet."""
    fixture = empty_home(root, command)
    install_agents(fixture)
    write_user_configs(fixture)
    return fixture


def before_setup(root: Path, command: Sequence[str]) -> Fixture:
    """agents_home, and every run starts from it."""
    fixture = agents_home(root, command)
    fixture.freeze()
    return fixture


def configured_home(root: Path, command: Sequence[str]) -> Fixture:
    """agents_home with all six set up by `command` (for rows that only read)."""
    fixture = agents_home(root, command)
    done = subprocess.run(
        [*command, *SETUP_ALL, *OFFLINE],
        env=fixture.env,
        cwd=fixture.project,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"fixture setup failed: {done.stderr}")
    fixture.spawn_log.unlink(missing_ok=True)  # only the timed runs count
    return fixture


def huge_claude_json_home(root: Path, command: Sequence[str]) -> Fixture:
    """Claude Code installed and a 50 MiB ~/.claude.json, before setup."""
    fixture = empty_home(root, command)
    install_agents(fixture)
    rng = random.Random(50)
    projects: dict[str, object] = {}
    size = 0  # a lower bound: nested in the file, each project is indented further
    while size < 50 * MIB:
        project = claude_project(rng)
        projects[f"/home/dev/src/project-{len(projects)}"] = project
        size += len(json.dumps(project, indent=2))
    state_file = fixture.home / ".claude.json"
    state_file.write_text(json.dumps(claude_state(projects, rng), indent=2))
    fixture.rss_limit = 4 * state_file.stat().st_size
    fixture.freeze()
    return fixture


def big_vscode_settings_home(root: Path, command: Sequence[str]) -> Fixture:
    """Roo Code in VS Code, whose settings.json (JSONC, comments) is 1 MiB; before setup."""
    fixture = agents_home(root, command)
    rng = random.Random(1)
    write(fixture.home / ".config" / "Code" / "User" / "settings.json", vscode_settings(MIB, rng))
    fixture.freeze()
    return fixture


def long_bashrc_home(root: Path, command: Sequence[str]) -> Fixture:
    """A 10,000-line ~/.bashrc and Codex (which reads the key from the shell); before setup."""
    fixture = agents_home(root, command)
    write(fixture.home / ".bashrc", bashrc(10_000, random.Random(10)))
    fixture.freeze()
    return fixture


# --- realistic file contents -----------------------------------------------------------------


def claude_state(projects: dict[str, object], rng: random.Random) -> dict[str, object]:
    """~/.claude.json as Claude Code keeps it: settings, caches, and one entry per project."""
    return {
        "numStartups": 812,
        "installMethod": "global",
        "autoUpdates": True,
        "tipsHistory": {f"tip-{n}": rng.randint(1, 800) for n in range(30)},
        "userID": f"{rng.getrandbits(256):064x}",
        "firstStartTime": "2025-03-01T09:12:44.512Z",
        "projects": projects,
        "cachedChangelog": "\n".join(rng.choice(PROSE) for _ in range(400)),
    }


def claude_project(rng: random.Random) -> dict[str, object]:
    """One project's entry: prompt history (some with pasted code), tools, costs, MCP servers."""

    def history_entry() -> dict[str, object]:
        display = " ".join(rng.choice(PROSE) for _ in range(rng.randint(3, 300)))
        pasted: dict[str, object] = {}
        if rng.random() < 0.15:
            content = "\n".join(rng.choice(CODE) for _ in range(rng.randint(5, 80)))
            pasted = {"1": {"id": 1, "type": "text", "content": content}}
        return {"display": display, "pastedContents": pasted}

    return {
        "allowedTools": rng.sample(["Bash(git:*)", "Edit", "Read", "WebFetch"], 2),
        "history": [history_entry() for _ in range(rng.randint(0, 60))],
        "mcpContextUris": [],
        "mcpServers": {},
        "enabledMcpjsonServers": [],
        "disabledMcpjsonServers": [],
        "hasTrustDialogAccepted": rng.random() < 0.8,
        "projectOnboardingSeenCount": rng.randint(0, 4),
        "hasClaudeMdExternalIncludesApproved": False,
        "hasClaudeMdExternalIncludesWarningShown": False,
        "lastCost": round(rng.random() * 3, 6),
        "lastAPIDuration": rng.randint(1_000, 900_000),
        "lastDuration": rng.randint(1_000, 9_000_000),
        "lastLinesAdded": rng.randint(0, 900),
        "lastLinesRemoved": rng.randint(0, 400),
        "lastTotalInputTokens": rng.randint(0, 90_000),
        "lastTotalOutputTokens": rng.randint(0, 30_000),
        "lastSessionId": f"{rng.getrandbits(128):032x}",
        "exampleFiles": rng.sample(["cli.py", "engine.py", "README.md", "ui.py"], 3),
    }


def bashrc(lines: int, rng: random.Random) -> str:
    """A long-lived ~/.bashrc: the distribution's head, then years of aliases and functions."""
    out = [
        "# ~/.bashrc: executed by bash(1) for non-login shells.",
        "case $- in",
        "    *i*) ;;",
        "      *) return;;",
        "esac",
        "HISTCONTROL=ignoreboth",
        "shopt -s histappend",
        "HISTSIZE=100000",
    ]
    n = 0
    while len(out) < lines:
        n += 1
        kind = rng.randrange(6)
        if kind == 0:
            out.append(f"alias g{n}='git log --oneline --graph --decorate -n {n % 50}'")
        elif kind == 1:
            out.append(f'export TOOL_{n}_HOME="$HOME/.local/share/tool-{n}"')
        elif kind == 2:
            out += [f"proj{n}() {{", f'    cd "$HOME/src/project-{n}" || return', "    ls", "}"]
        elif kind == 3:
            out += [f'if [ -d "$HOME/opt/{n}/bin" ]; then', f'    PATH="$HOME/opt/{n}/bin:$PATH"']
            out.append("fi")
        elif kind == 4:
            out.append(f"# {' '.join(rng.choice(PROSE) for _ in range(rng.randint(2, 12)))}")
        else:
            out.append("")
    return "\n".join(out[:lines]) + "\n"


def vscode_settings(size: int, rng: random.Random) -> str:
    """A VS Code settings.json of about `size` bytes: comments, language blocks, trailing commas."""
    out = [
        "{",
        "  // Editor",
        '  "editor.fontSize": 14,',
        '  "editor.formatOnSave": true,',
        '  "workbench.colorTheme": "Default Dark Modern",',
    ]
    length = sum(len(line) + 1 for line in out)
    n = 0
    while length < size - 200:
        n += 1
        kind = rng.randrange(5)
        if kind == 0:
            block = [f"  // {' '.join(rng.choice(PROSE) for _ in range(rng.randint(3, 14)))}"]
        elif kind == 1:
            block = [f'  "extension{n}.enabled": {str(rng.random() < 0.5).lower()},']
        elif kind == 2:
            block = [
                f'  "[lang{n}]": {{',
                '    "editor.defaultFormatter": "esbenp.prettier-vscode",',
                f'    "editor.tabSize": {rng.choice((2, 4, 8))},  // team style',
                "  },",
            ]
        elif kind == 3:
            block = [
                "  /* kept from an old machine:",
                f"     {' '.join(rng.choice(PROSE) for _ in range(10))} */",
                f'  "files.exclude{n}": {{ "**/.git": true, "**/node_modules": true, }},',
            ]
        else:
            words = [f'"{rng.choice(PROSE)}"' for _ in range(rng.randint(1, 8))]
            block = [f'  "cSpell.words{n}": [{", ".join(words)}],']
        out += block
        length += sum(len(line) + 1 for line in block)
    out += ['  "telemetry.telemetryLevel": "off",', "}"]
    return "\n".join(out) + "\n"


# Words of prompts, settings comments and changelogs.
PROSE_TEXT = (
    "refactor the parser so it keeps comments and fix the failing test in the engine module "
    "please explain why the lock is taken before the backup and what happens when it times out "
    "add a flag for dry runs that prints the diff with the key masked"
)
PROSE = tuple(PROSE_TEXT.split())
CODE = (
    "def main() -> None:",
    "    args = parse(sys.argv[1:])",
    "    for path in sorted(paths):",
    "        if not path.exists():",
    "            continue",
    '    raise ValueError(f"bad value {value!r}")',
    "import os, sys",
    "    return {k: v for k, v in items if v is not None}",
)


# --- measures: one run → seconds and peak memory ---------------------------------------------


@dataclass(frozen=True)
class Sample:
    seconds: float
    peak_rss: int | None = None
    """Bytes; the largest resident set of the process measured."""


# (command prefix, fixture) → one Sample.
Measure = Callable[[Sequence[str], Fixture], Sample]


def run_process(args: Sequence[str]) -> Measure:
    """A measure that runs `CMD ARGS` to completion with no terminal; its peak RSS too."""

    def measure(command: Sequence[str], fixture: Fixture) -> Sample:
        # The peak RSS of a child counts its parent's at the fork (Linux keeps the high-water
        # mark across exec), and this script holds the big fixtures: GNU time, a small
        # process, starts the command and reports the peak of the command alone.
        report = fixture.root / "peak-rss-kib"
        wrapper = [TIME, "--format=%M", f"--output={report}"] if TIME else []
        started = time.perf_counter()
        done = subprocess.run(
            [*wrapper, *command, *args],
            env=fixture.env,
            cwd=fixture.project,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
        )
        elapsed = time.perf_counter() - started
        if done.returncode not in (0, 1):
            raise SystemExit(f"`{shlex.join([*command, *args])}` exited {done.returncode}")
        peak = int(report.read_text().split()[-1]) * 1024 if TIME else None
        return Sample(elapsed, peak)

    return measure


def first_prompt(command: Sequence[str], fixture: Fixture) -> Sample:
    """Seconds from starting `CMD setup` in a terminal until its first question is on screen."""
    import pexpect

    started = time.perf_counter()
    child = pexpect.spawn(
        command[0],
        [*command[1:], "setup"],
        env=fixture.env,
        cwd=str(fixture.project),
        dimensions=(40, 100),
        timeout=PROMPT_TIMEOUT,
    )
    try:
        child.expect(FIRST_PROMPT)
        elapsed = time.perf_counter() - started
        child.sendcontrol("c")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    return Sample(elapsed)


# Runs in the Python of the command being timed; times one step, after the imports.
IN_PROCESS = """
import json, resource, sys, time
from pathlib import Path
from megallm_cli import operations, shellenv
from megallm_cli.agents import get_agent
from megallm_cli.agents.base import Context
from megallm_cli.paths import Paths
from megallm_cli.request import Gateway, Secret, SetupRequest

paths = Paths.from_environ()
ctx = Context(paths=paths, project_dir=Path.cwd(), gateway=Gateway.parse(None))
key = paths.env["MEGALLM_API_KEY"]
agents = tuple(sys.argv[2:])
request = SetupRequest(
    agents=agents, level="user", project_dir=ctx.project_dir, api_key=Secret(key),
    gateway=ctx.gateway, models={}, claude_auth_variable="ANTHROPIC_AUTH_TOKEN",
    fix_claude_comments=False,
)
steps = {
    "plan": lambda: operations.plan_setup(ctx, request),
    "apply": lambda: operations.apply_plan(
        ctx, "bench", lambda: operations.plan_setup(ctx, request)
    ),
    "agent-plan": lambda: get_agent(agents[0]).plan(ctx, request),
    "shell-block": lambda: shellenv.plan_shell_env(paths, {"MEGALLM_API_KEY": key}, ["bash"]),
}
step = steps[sys.argv[1]]
started = time.perf_counter()
step()
seconds = time.perf_counter() - started
try:  # this process's own high-water mark; ru_maxrss also counts the parent's at the fork
    with open("/proc/self/status") as status:
        peak = next(int(l.split()[1]) for l in status if l.startswith("VmHWM:")) * 1024
except OSError:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"seconds": seconds, "peak_rss": peak}))
"""


def in_process(step: str, *agents: str) -> Measure:
    """A measure of one step inside the Python of the timed command (no start-up, no imports).

    Steps: plan (plan_setup), apply (what setup does after its preview: plan under the lock,
    back up, write), agent-plan (the first agent's plan only), shell-block (bash's startup files).
    """

    def measure(command: Sequence[str], fixture: Fixture) -> Sample:
        done = subprocess.run(
            [*python_of(command), "-c", IN_PROCESS, step, *agents],
            env=fixture.env,
            cwd=fixture.project,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise SystemExit(f"in-process step {step} failed:\n{done.stderr}")
        result = json.loads(done.stdout)
        return Sample(result["seconds"], result["peak_rss"])

    return measure


def python_of(command: Sequence[str]) -> list[str]:
    """The interpreter behind a megallm command: itself, or its console script's #! line."""
    if Path(command[0]).name.startswith("python"):
        return [command[0]]
    script = shutil.which(command[0])
    if script:
        with open(script, "rb") as handle:
            first = handle.readline().decode(errors="replace").strip()
        if first.startswith("#!") and "python" in first:
            return shlex.split(first[2:])
    raise SystemExit(f"cannot tell which Python runs {command[0]}: in-process rows need it")


# --- rows ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    name: str
    measure: Measure
    target_ms: float | None = None
    fixture: Callable[[Path, Sequence[str]], Fixture] = empty_home
    no_spawn: bool = False
    """The row fails when any agent binary was started."""


ROWS: list[Row] = [
    Row("megallm --version", run_process(["--version"]), target_ms=60),
    Row("megallm --help", run_process(["--help"]), target_ms=120),
    Row("megallm setup --help", run_process(["setup", "--help"])),
    Row(
        "megallm status (6 agents set up)",
        run_process(["status"]),
        target_ms=150,
        fixture=configured_home,
        no_spawn=True,
    ),
    Row(
        "megallm doctor (6 agents, offline)",
        run_process(["doctor"]),
        target_ms=150,
        fixture=configured_home,
        no_spawn=True,
    ),
    Row(
        "setup --yes --no-verify, 6 agents",
        run_process([*SETUP_ALL, *OFFLINE]),
        target_ms=400,
        fixture=before_setup,
    ),
    Row(
        "wizard: first prompt (6 agents)",
        first_prompt,
        target_ms=300,
        fixture=configured_home,
        no_spawn=True,
    ),
    Row(
        "~/.claude.json 50 MiB: setup --agent claude-code",
        run_process(["setup", "--agent", "claude-code", *OFFLINE]),
        target_ms=1500,
        fixture=huge_claude_json_home,
    ),
    Row(
        "~/.claude.json 50 MiB: setup --claude-auth api-key",
        run_process(["setup", "--agent", "claude-code", "--claude-auth", "api-key", *OFFLINE]),
        target_ms=1500,
        fixture=huge_claude_json_home,
    ),
    Row(
        "~/.claude.json 50 MiB: plan (in-process)",
        in_process("plan", "claude-code"),
        fixture=huge_claude_json_home,
    ),
    Row(
        "~/.claude.json 50 MiB: plan + apply (in-process)",
        in_process("apply", "claude-code"),
        fixture=huge_claude_json_home,
    ),
    Row(
        "settings.json 1 MiB JSONC: roo-code plan (in-process)",
        in_process("agent-plan", "roo-code"),
        target_ms=100,
        fixture=big_vscode_settings_home,
    ),
    Row(
        "settings.json 1 MiB JSONC: setup --agent roo-code",
        run_process(["setup", "--agent", "roo-code", *OFFLINE]),
        fixture=big_vscode_settings_home,
    ),
    Row(
        ".bashrc 10,000 lines: shell-block edit (in-process)",
        in_process("shell-block"),
        target_ms=50,
        fixture=long_bashrc_home,
    ),
    Row(
        ".bashrc 10,000 lines: setup --agent codex",
        run_process(["setup", "--agent", "codex", *OFFLINE]),
        fixture=long_bashrc_home,
    ),
]


# --- timing and the table ----------------------------------------------------------------------


@dataclass
class Timing:
    samples: list[Sample] = field(default_factory=list)
    agent_starts: list[str] = field(default_factory=list)

    @property
    def seconds(self) -> list[float]:
        return [sample.seconds for sample in self.samples]

    @property
    def low(self) -> float:
        return min(self.seconds)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def high(self) -> float:
        return max(self.seconds)

    @property
    def peak_rss(self) -> int | None:
        known = [sample.peak_rss for sample in self.samples if sample.peak_rss is not None]
        return max(known) if known else None


@dataclass(frozen=True)
class Result:
    row: Row
    timing: Timing
    compared: Timing | None
    rss_limit: int | None

    def verdict(self) -> str:
        """ok or what missed; empty for a row without a target."""
        missed = []
        if self.row.target_ms is not None and self.timing.median * 1000 > self.row.target_ms:
            missed.append("time")
        peak = self.timing.peak_rss
        if self.rss_limit is not None and peak is not None and peak > self.rss_limit:
            missed.append("memory")
        if self.row.no_spawn and self.timing.agent_starts:
            missed.append("started " + ", ".join(sorted(set(self.timing.agent_starts))))
        if missed:
            return "MISSED: " + ", ".join(missed)
        return "ok" if self.row.target_ms is not None or self.rss_limit is not None else ""


def time_row(
    row: Row, commands: Sequence[Sequence[str]], runs: int, warmup: int
) -> tuple[list[Timing], int | None]:
    """One Timing per command, and the row's memory limit. Runs alternate between the commands,
    so load that comes and goes on the machine weighs on each of them alike."""
    with tempfile.TemporaryDirectory(prefix="megallm-bench-") as temp:
        fixture = row.fixture(Path(temp), commands[0])
        for _ in range(warmup):
            for command in commands:
                fixture.reset()
                row.measure(command, fixture)
        timings = [Timing() for _ in commands]
        fixture.spawn_log.unlink(missing_ok=True)
        for _ in range(runs):
            for command, timing in zip(commands, timings, strict=True):
                fixture.reset()
                timing.samples.append(row.measure(command, fixture))
                timing.agent_starts += fixture.agent_starts()
                fixture.spawn_log.unlink(missing_ok=True)
        return timings, fixture.rss_limit


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f}"


def mb(size: int | None) -> str:
    return "" if size is None else f"{size / MIB:.0f}"


def table(results: list[Result]) -> list[list[str]]:
    header = ["row", "target ms", "min ms", "median ms", "max ms", "peak RSS MiB", "result"]
    compared = any(result.compared for result in results)
    if compared:
        header[-1:-1] = ["compare median ms", "ratio", "compare RSS MiB"]
    lines = [header]
    for result in results:
        timing = result.timing
        target = "" if result.row.target_ms is None else f"{result.row.target_ms:.0f}"
        peak = mb(timing.peak_rss)
        if result.rss_limit is not None:
            peak += f" (limit {mb(result.rss_limit)})"
        line = [result.row.name, target, ms(timing.low), ms(timing.median), ms(timing.high), peak]
        if compared:
            other = result.compared
            line += (
                [ms(other.median), f"{timing.median / other.median:.2f}x", mb(other.peak_rss)]
                if other
                else ["", "", ""]
            )
        lines.append([*line, result.verdict()])
    return lines


def render_text(lines: list[list[str]]) -> str:
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    out = []
    for index, line in enumerate(lines):
        cells = [line[0].ljust(widths[0])] + [
            cell.rjust(width) for cell, width in zip(line[1:], widths[1:], strict=True)
        ]
        out.append("  ".join(cells).rstrip())
        if index == 0:
            out.append("  ".join("-" * width for width in widths))
    return "\n".join(out)


def render_markdown(lines: list[list[str]]) -> str:
    def cells(line: list[str]) -> str:
        return "| " + " | ".join(cell.replace("|", "\\|") for cell in line) + " |"

    separator = ["---"] + ["---:"] * (len(lines[0]) - 2) + ["---"]
    return "\n".join([cells(lines[0]), cells(separator), *(cells(line) for line in lines[1:])])


def load_average() -> str:
    return " / ".join(f"{load:.2f}" for load in os.getloadavg())


def doc_section(
    invocation: str, heading: str, command: Sequence[str], load_before: str, markdown: str
) -> str:
    """The table, with the command that measured it and the machine it ran on."""
    version = subprocess.run(
        [*python_of(command), "-c", "import platform; print(platform.python_version())"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    date = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    return "\n".join(
        [
            f"Measured on {date} by `{invocation}`: {heading}. The result compares the median",
            "with the target, and the peak memory with its limit.",
            "",
            f"- machine: {os.cpu_count()} CPUs (nproc), {platform.system()} {platform.release()}"
            f" {platform.machine()}, Python {version or '?'}",
            f"- megallm: `{shlex.join(command)}`",
            f"- load average (1 / 5 / 15 min): {load_before} before the first row, "
            f"{load_average()} after the last",
            "",
            markdown,
        ]
    )


def write_doc(section: str) -> None:
    """Put the section between the markers of docs/PERFORMANCE.md, keeping the prose around it."""
    block = f"{DOC_BEGIN}\n{section}\n{DOC_END}"
    if DOC.exists():
        text = DOC.read_text()
        start, end = text.find(DOC_BEGIN), text.find(DOC_END)
        if start == -1 or end == -1:
            raise SystemExit(f"{DOC} has no {DOC_BEGIN} … {DOC_END} markers: add them")
        text = text[:start] + block + text[end + len(DOC_END) :]
    else:
        text = f"# Performance\n\n{block}\n"
    DOC.write_text(text)
    print(f"wrote {DOC.relative_to(ROOT)}")


def default_megallm() -> str:
    beside_python = Path(sys.executable).parent / "megallm"
    found = str(beside_python) if beside_python.exists() else shutil.which("megallm")
    if not found:
        raise SystemExit("megallm is not installed here: pass --megallm PATH")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10, help="timed runs per row (default 10)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed runs first (default 1)")
    parser.add_argument("--megallm", default=None, help="the megallm command to time")
    parser.add_argument("--compare", metavar="CMD", help="time the same rows with CMD too")
    parser.add_argument(
        "--only", action="append", default=[], help="rows whose name contains this (repeatable)"
    )
    parser.add_argument("--markdown", action="store_true", help="print the table as markdown")
    parser.add_argument(
        "--write-doc",
        action="store_true",
        help=f"also write the table, this command and the machine into {DOC.relative_to(ROOT)}",
    )
    arguments = sys.argv[1:] if argv is None else argv
    options = parser.parse_args(arguments)
    command = shlex.split(options.megallm) if options.megallm else [default_megallm()]
    compare = shlex.split(options.compare) if options.compare else None
    commands = [command, compare] if compare else [command]
    rows = [r for r in ROWS if not options.only or any(o in r.name for o in options.only)]
    load_before = load_average()
    results = []
    for row in rows:
        timings, rss_limit = time_row(row, commands, options.runs, options.warmup)
        results.append(Result(row, timings[0], timings[1] if compare else None, rss_limit))
        print(f"  {row.name}: median {ms(timings[0].median)} ms", file=sys.stderr)
    lines = table(results)
    heading = f"{options.runs} runs per row after {options.warmup} warm-up(s)"
    rendered = render_markdown(lines) if options.markdown or options.write_doc else None
    print(f"{heading}; load average {load_average()}")
    print(rendered if options.markdown and rendered else render_text(lines))
    if options.write_doc and rendered:
        invocation = shlex.join(["python", "scripts/bench.py", *arguments])
        write_doc(doc_section(invocation, heading, command, load_before, rendered))
    return 0


if __name__ == "__main__":
    sys.exit(main())
