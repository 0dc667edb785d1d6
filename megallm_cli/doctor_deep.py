"""doctor --deep: ask each installed agent itself, offline, whether it accepts its config.

Our own checks read the files the way we think the agent does; the agent's own validator is the
final word (it knows its schema and precedence rules better than we can). Each command below was
observed not to send a request (docs/REAL_AGENTS.md), and runs with every telemetry and update
switch off, so the only host an agent could contact is the configured gateway.

Agents print config values, sometimes the key itself (`kilo config check` echoes a broken config
with `{env:…}` already resolved), so everything they say is masked before it becomes a finding.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from megallm_cli.agents import AGENT_IDS, get_agent
from megallm_cli.agents.base import Context, Finding
from megallm_cli.keysource import KEY_ENV
from megallm_cli.request import mask_key

COMMAND_TIMEOUT = 20.0
MAX_WORKERS = 6
SHOWN_LINES = 6

# Keep the agents from phoning home: telemetry, auto-update and model-catalog fetches.
OFFLINE_ENV = {
    "DISABLE_TELEMETRY": "1",
    "DISABLE_AUTOUPDATER": "1",
    "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
    "OPENCODE_DISABLE_MODELS_FETCH": "1",
    "KILO_TELEMETRY_LEVEL": "off",
    "KILO_DISABLE_MODELS_FETCH": "1",
    "KILO_DISABLE_AUTOUPDATE": "1",
}
QUIET_ENV = {**OFFLINE_ENV, "NO_COLOR": "1"}  # and plain text, for the findings

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


@dataclass(frozen=True)
class Output:
    """What one agent command said, already masked."""

    command: str  # as shown to people: "claude auth status --json"
    returncode: int | None  # None: killed after the timeout
    stdout: str
    stderr: str
    seconds: float

    @property
    def how(self) -> str:
        if self.returncode is None:
            return f"`{self.command}` gave no answer in {self.seconds:.0f} s"
        return f"`{self.command}` → exit {self.returncode} in {self.seconds:.1f} s"

    def lines(self) -> list[str]:
        text = self.stdout + "\n" + self.stderr
        return [line.strip() for line in text.splitlines() if line.strip()]


@dataclass(frozen=True)
class Runner:
    """Runs one installed agent's commands in the user's environment, quietly, with a timeout."""

    ctx: Context
    binary: str
    name: str
    secrets: tuple[str, ...]
    timeout: float

    def __call__(self, *args: str) -> Output:
        env = {**self.ctx.paths.env, **QUIET_ENV}
        command = " ".join([self.name, *args])
        started = time.monotonic()
        try:
            process = subprocess.Popen(
                [self.binary, *args],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=env,
                cwd=self.ctx.project_dir,
                # Its own process group, so a timeout also ends what it started (codex.js → codex).
                start_new_session=True,
            )
        except OSError as error:
            # 127: what a shell reports for a command it cannot run.
            return Output(command, 127, "", f"could not start {self.binary}: {error.strerror}", 0.0)
        try:
            out, err = process.communicate(timeout=self.timeout)
            returncode: int | None = process.returncode
        except subprocess.TimeoutExpired:
            _kill_group(process)
            out, err = process.communicate()
            returncode = None
        return Output(
            command,
            returncode,
            self.scrub(out),
            self.scrub(err),
            time.monotonic() - started,
        )

    def scrub(self, data: bytes) -> str:
        """Decoded, colourless, and with every key we know of (and anything key-shaped) masked."""
        from megallm_cli.ui import mask

        text = _ANSI.sub("", data.decode("utf-8", errors="replace"))
        for secret in sorted(self.secrets, key=len, reverse=True):
            text = text.replace(secret, mask_key(secret))
        return mask(text)


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    try:
        if hasattr(os, "killpg"):
            os.killpg(process.pid, signal.SIGKILL)
        else:
            process.kill()
    except (ProcessLookupError, PermissionError):
        pass


def run(
    ctx: Context, agent_ids: Sequence[str] | None = None, timeout: float = COMMAND_TIMEOUT
) -> list[Finding]:
    """Deep checks for the named agents, or for every configured one, all agents at once."""
    chosen = list(agent_ids or [a for a in AGENT_IDS if get_agent(a).configured(ctx)])
    secrets = _known_keys(ctx)

    def check(agent_id: str) -> list[Finding]:
        return check_agent(ctx, agent_id, secrets, timeout)

    if not chosen:
        return []
    with ThreadPoolExecutor(max_workers=min(MAX_WORKERS, len(chosen))) as pool:
        return [finding for findings in pool.map(check, chosen) for finding in findings]


def _known_keys(ctx: Context) -> tuple[str, ...]:
    from megallm_cli.shellenv import persisted_value

    keys = {persisted_value(ctx.paths, KEY_ENV), ctx.paths.env.get(KEY_ENV)}
    for agent_id in AGENT_IDS:
        keys.update(entry.key for entry in get_agent(agent_id).configured(ctx))
    return tuple(key for key in keys if key)


def check_agent(
    ctx: Context, agent_id: str, secrets: tuple[str, ...], timeout: float = COMMAND_TIMEOUT
) -> list[Finding]:
    checker = CHECKERS.get(agent_id)
    if checker is None:
        return [
            Finding(
                agent_id,
                "info",
                "deep: no offline self-check",
                f"{get_agent(agent_id).display_name} has no command that validates its config "
                "without a terminal or a request",
            )
        ]
    detection = get_agent(agent_id).detect(ctx)
    if not detection.installed or not detection.location:
        return [Finding(agent_id, "info", "deep: not installed here, so not asked")]
    name = Path(detection.location).name
    for suffix in (".exe", ".cmd", ".js"):
        name = name.removesuffix(suffix)
    runner = Runner(ctx, detection.location, name, secrets, timeout)
    return checker(ctx, runner)


def _no_answer(agent_id: str, output: Output) -> Finding:
    return Finding(
        agent_id,
        "warn",
        f"deep: {output.how}",
        "the agent may be waiting for the network or a terminal",
        hint="run the command yourself to see what it waits for",
    )


def _excerpt(lines: list[str]) -> str:
    shown = lines[:SHOWN_LINES]
    more = f" (+{len(lines) - SHOWN_LINES} more lines)" if len(lines) > SHOWN_LINES else ""
    return " | ".join(shown) + more


# --- Claude Code ---------------------------------------------------------------------------

_CLAUDE_AUTH = {
    "oauth_token": "ANTHROPIC_AUTH_TOKEN",
    "api_key": "ANTHROPIC_API_KEY",
}


def check_claude_code(ctx: Context, ask: Runner) -> list[Finding]:
    agent = "claude-code"
    findings = []
    auth = ask("auth", "status", "--json")
    if auth.returncode is None:
        findings.append(_no_answer(agent, auth))
    else:
        findings.append(_claude_auth_finding(auth))
    doctor = ask("doctor")
    if doctor.returncode is None:
        findings.append(_no_answer(agent, doctor))
    else:
        findings.extend(_claude_doctor_findings(doctor))
    return findings


def _claude_auth_finding(output: Output) -> Finding:
    agent = "claude-code"
    try:
        status = json.loads(output.stdout)
    except ValueError:
        status = None
    if not isinstance(status, dict):
        return Finding(
            agent,
            "warn",
            f"deep: could not read {output.how}",
            _excerpt(output.lines()),
        )
    if status.get("loggedIn") is True:
        method = str(status.get("authMethod"))
        source = status.get("apiKeySource") or _CLAUDE_AUTH.get(method, method)
        return Finding(
            agent, "ok", f"Claude Code has a key ({source}): {output.how}", f"authMethod {method}"
        )
    return Finding(
        agent,
        "fail",
        f"Claude Code sees no key: {output.how}, loggedIn false",
        "it did not load the key from its settings (`claude doctor` names unreadable files)",
        hint="run `megallm setup --agent claude-code`",
    )


def _claude_doctor_findings(output: Output) -> list[Finding]:
    """The bullets of `claude doctor`'s "Invalid settings" section, one finding each."""
    agent = "claude-code"
    lines = output.stdout.splitlines()
    if "Invalid settings" not in [line.strip() for line in lines]:
        return [Finding(agent, "ok", f"Claude Code lists no invalid settings: {output.how}")]
    start = [line.strip() for line in lines].index("Invalid settings") + 1
    problems: list[list[str]] = []
    for line in lines[start:]:
        if not line.strip():
            break
        if line.startswith("- "):
            problems.append([line[2:].strip()])
        elif problems:
            problems[-1].append(line.strip())
    return [
        Finding(
            agent,
            "fail",
            f"Claude Code rejects a setting: {problem[0]}",
            " ".join([*problem[1:], f"({output.how})"]),
            hint="fix that file (Claude Code ignores all of it while it is invalid)",
        )
        for problem in problems
    ]


# --- Codex -----------------------------------------------------------------------------------


def check_codex(ctx: Context, ask: Runner) -> list[Finding]:
    agent = "codex"
    output = ask("app-server", "--print-startup-config", "--strict-config")
    if output.returncode is None:
        return [_no_answer(agent, output)]
    if output.returncode == 0:
        return [Finding(agent, "ok", f"Codex accepts its config: {output.how}")]
    error = _codex_error(output.stdout)
    return [
        Finding(
            agent,
            "fail",
            f"Codex rejects its config: {error or 'see its output'}",
            f"{output.how}" + ("" if error else f": {_excerpt(output.lines())}"),
            hint="fix that line (`megallm restore` undoes megallm's own edits), "
            "or run `megallm setup --agent codex`",
        )
    ]


def _codex_error(stdout: str) -> str:
    """file:line:col: detail, from the JSON-RPC error Codex prints on stdout."""
    for line in stdout.splitlines():
        try:
            error = json.loads(line).get("error")
        except (ValueError, AttributeError):
            continue
        if not isinstance(error, dict):
            continue
        data = error.get("data")
        if not isinstance(data, dict):
            data = {}
        detail = str(data.get("detail") or error.get("message") or "")
        where = data.get("filePath")
        if where and str(where) not in detail:
            detail = f"{where}:{data.get('line')}:{data.get('column')}: {detail}"
        return detail
    return ""


# --- OpenCode --------------------------------------------------------------------------------


def check_opencode(ctx: Context, ask: Runner) -> list[Finding]:
    agent = "opencode"
    output = ask("debug", "config")
    if output.returncode is None:
        return [_no_answer(agent, output)]
    try:
        resolved = json.loads(output.stdout)
    except ValueError:
        resolved = None
    if output.returncode != 0 or not isinstance(resolved, dict):
        return [
            Finding(
                agent,
                "fail",
                f"OpenCode could not load its config: {output.how}",
                _excerpt(output.lines()),
                hint="fix the file it names, or run `megallm setup --agent opencode`",
            )
        ]
    provider = (resolved.get("provider") or {}).get("megallm")
    if not isinstance(provider, dict):
        return [
            Finding(
                agent,
                "fail",
                f"OpenCode does not see the megallm provider: {output.how}",
                "a misspelled key or a higher-precedence config hides it",
                hint="run `megallm doctor --agent opencode` and `megallm setup --agent opencode`",
            )
        ]
    base_url = (provider.get("options") or {}).get("baseURL")
    model = resolved.get("model")
    findings = []
    if ctx.gateway.matches(base_url):
        findings.append(
            Finding(
                agent,
                "ok",
                f"OpenCode resolves provider megallm to {base_url}, model {model}: {output.how}",
            )
        )
    else:
        findings.append(
            Finding(
                agent,
                "fail",
                f"OpenCode resolves provider megallm to {base_url}: {output.how}",
                f"expected {ctx.gateway.openai_base_url}",
                hint="run `megallm setup --agent opencode`",
            )
        )
    if not provider.get("models"):
        findings.append(
            Finding(
                agent,
                "fail",
                "OpenCode's megallm provider lists no models",
                "without a models map OpenCode cannot use the provider",
                hint="run `megallm setup --agent opencode`",
            )
        )
    return findings


# --- Kilo ------------------------------------------------------------------------------------

# Printed when the working directory is a home or root directory: a note, not a config problem.
_KILO_NOTES = ("Automatic indexing is disabled",)


def check_kilo(ctx: Context, ask: Runner) -> list[Finding]:
    agent = "kilo"
    # Not `kilo debug config`: it prints the resolved key in clear.
    output = ask("config", "check")
    if output.returncode is None:
        return [_no_answer(agent, output)]
    # Kilo exits 1 for a mere note (e.g. when run from the home directory): judge the messages.
    problems = _kilo_problems(output)
    if not problems:
        return [Finding(agent, "ok", f"Kilo accepts its config: {output.how}")]
    return [
        Finding(
            agent,
            "fail" if output.returncode else "warn",
            f"Kilo {'rejects' if output.returncode else 'warns about'} its config: {problems[0]}",
            f"{output.how}" + (f": {_excerpt(problems[1:])}" if problems[1:] else ""),
            hint="fix the file it names, or run `megallm setup --agent kilo`",
        )
    ]


def _kilo_problems(output: Output) -> list[str]:
    """The messages of `kilo config check`, without the directory notes and config dumps."""
    lines = output.lines()
    if "--- Errors ---" in lines:  # a parse error: Kilo dumps the whole file, then the errors
        errors = lines[lines.index("--- Errors ---") + 1 :]
        end = errors.index("--- End ---") if "--- End ---" in errors else len(errors)
        return [lines[0], *errors[:end]]
    problems = []
    for index, line in enumerate(lines):
        noted = any(note in line for note in _KILO_NOTES)
        if noted or line == "No config warnings.":
            continue
        # A header naming a file or directory is followed by indented messages about it.
        is_header = index + 1 < len(lines) and line.startswith(("/", "~"))
        if not is_header and line not in problems:
            problems.append(line)
    return problems


CHECKERS: dict[str, Callable[[Context, Runner], list[Finding]]] = {
    "claude-code": check_claude_code,
    "codex": check_codex,
    "opencode": check_opencode,
    "kilo": check_kilo,
}
