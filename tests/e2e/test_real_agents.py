"""The real agents, set up by megallm, answer through the stand-in gateway — and stop after restore.

Each agent runs through `bash -lc` with the throwaway HOME and without MEGALLM_API_KEY in its
environment: the agents that read the key from there get it from the rc block and env file
megallm wrote, which proves the shell persistence too. The stand-in records every request, key
included (in memory), so the tests see exactly what each agent sent.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from megallm_cli.doctor_deep import OFFLINE_ENV
from megallm_cli.keysource import KEY_ENV
from tests.conftest import Home
from tests.e2e.agents import SPECS, AgentSpec
from tests.e2e.conftest import agent_binary
from tests.fake_gateway_fixture import TEST_KEY, fake_gateway, load_fake_gateway_module

__all__ = ["fake_gateway"]  # re-exported so that pytest finds the fixture in this module

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("leftovers")]

REPLY = load_fake_gateway_module().REPLY_TEXT
RUN_TIMEOUT = 120
# A configured agent sends its first request within a few seconds (observed: < 5 s). Once
# restored, the agents retry vendor hosts for minutes offline: this long is evidence enough.
AFTER_RESTORE_WINDOW = 12


@dataclass
class AgentRun:
    returncode: int | None  # None: still running when the window closed, then stopped
    stdout: str
    stderr: str
    seconds: float


def agent_env(home: Home, binary: Path, spec: AgentSpec) -> dict[str, str]:
    """What a login shell would start from: no key, our quiet switches, the agent on PATH."""
    env = {
        **home.env,
        **OFFLINE_ENV,
        **spec.env,
        "PATH": f"{binary.parent}{os.pathsep}{home.env['PATH']}",
        # A failing agent must fail now, not retry for minutes (claude -p retries a 401).
        "CLAUDE_CODE_MAX_RETRIES": "0",
    }
    env.pop(KEY_ENV, None)
    return env


def run_agent(home: Home, binary: Path, spec: AgentSpec, timeout: float = RUN_TIMEOUT) -> AgentRun:
    """Run one prompt through `bash -lc` in the project dir; stop its process group at the end."""
    command = f"exec {shlex.join([str(binary), *spec.prompt])} < /dev/null"
    started = time.monotonic()
    process = subprocess.Popen(
        ["bash", "-lc", command],
        env=agent_env(home, binary, spec),
        cwd=home.project,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = process.communicate(timeout=timeout)
        returncode: int | None = process.returncode
    except subprocess.TimeoutExpired:
        returncode = None
        os.killpg(process.pid, signal.SIGKILL)
        out, err = process.communicate()
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)  # helpers it started and left behind
    return AgentRun(returncode, out, err, time.monotonic() - started)


def megallm(home: Home, binary: Path, *args: str, key: bool = False) -> Any:
    """Run megallm with the agent on PATH (so detect() finds it); the key only when asked."""
    extra = {"PATH": f"{binary.parent}{os.pathsep}{home.env['PATH']}", "MEGALLM_SHELL": "bash"}
    if key:
        extra[KEY_ENV] = TEST_KEY
    return home.run(*args, extra_env=extra, timeout=180)


def sessions(home: Home, binary: Path) -> list[dict[str, Any]]:
    listing = megallm(home, binary, "restore", "--list", "--json")
    assert listing.returncode == 0, listing.stderr
    return list(json.loads(listing.stdout)["data"])


def assert_no_key(*texts: str) -> None:
    for text in texts:
        assert TEST_KEY not in text


@pytest.mark.parametrize("spec", SPECS, ids=[spec.agent for spec in SPECS])
def test_agent_answers_through_the_gateway_until_restored(
    home: Home, fake_gateway: Any, spec: AgentSpec
) -> None:
    binary = agent_binary(spec)
    before = home.snapshot()

    # setup checks the key with the gateway (no --no-verify): the stand-in sees it once.
    setup = megallm(
        home,
        binary,
        "setup",
        "--agent",
        spec.agent,
        "--base-url",
        fake_gateway.url,
        "--model",
        spec.model,
        "--yes",
        key=True,
    )
    assert setup.returncode == 0, setup.stderr
    assert "key accepted by" in setup.stderr
    assert_no_key(setup.stdout, setup.stderr)
    (verify,) = fake_gateway.requests()
    assert (verify.path, verify.api_key) == ("/v1/models", TEST_KEY)

    # doctor, all the way: the gateway with the agent's own key, and the agent itself.
    fake_gateway.reset()
    doctor = megallm(
        home,
        binary,
        "doctor",
        "--agent",
        spec.agent,
        "--base-url",
        fake_gateway.url,
        "--online",
        "--probe",
        "--deep",
        "--json",
    )
    assert_no_key(doctor.stdout, doctor.stderr)
    assert doctor.returncode == 0, doctor.stdout
    found = json.loads(doctor.stdout)["data"]
    mine = [f for f in found if f["agent"] == spec.agent]
    assert any("API answers" in f["title"] and f["status"] == "ok" for f in mine), mine
    deep = [f for f in mine if "exit " in f["title"] or f["title"].startswith("deep:")]
    assert deep, mine
    if spec.agent == "cline":
        assert deep[0]["status"] == "info"  # no command validates Cline's config offline
    else:
        assert all(f["status"] == "ok" for f in deep), deep
    (probe,) = fake_gateway.requests(spec.wire_path)
    assert (probe.api_key, probe.model) == (TEST_KEY, spec.model)

    # the agent itself, from a login shell that must supply the key
    fake_gateway.reset()
    answered = run_agent(home, binary, spec)
    assert answered.returncode == 0, answered.stderr[-3000:]
    assert REPLY in answered.stdout
    turns = fake_gateway.requests(spec.wire_path)
    assert turns, [r.path for r in fake_gateway.requests()]
    assert {r.api_key for r in fake_gateway.requests()} == {TEST_KEY}
    assert spec.model in {r.model for r in turns}
    print(f"{spec.agent}: answered in {answered.seconds:.1f} s with {len(turns)} request(s)")

    # restore every session, newest first. The agent may have rewritten its own files since
    # (Claude Code does ~/.claude.json): restore takes out megallm's keys and keeps the agent's
    # changes; only a key of ours the agent changed is a conflict, for which --force is the way.
    for session in sessions(home, binary):
        restored = megallm(home, binary, "restore", "--id", session["id"])
        if restored.returncode != 0:
            assert "changed since" in restored.stderr, restored.stderr
            print(f"{spec.agent}: restore saw a conflict: {restored.stderr.strip()}")
            restored = megallm(home, binary, "restore", "--id", session["id"], "--force")
        assert restored.returncode == 0, restored.stderr
        if "later changes kept" in restored.stderr:
            print(f"{spec.agent}: restore kept the agent's own edits: {restored.stderr.strip()}")
    after = home.snapshot()
    written = {
        f for s in sessions(home, binary) if s["command"].startswith("setup") for f in s["files"]
    }
    for path in written:
        relative = str(Path(path).relative_to(home.root))
        if after.get(relative) == before.get(relative):
            continue
        # Kept for the agent's own edits: nothing of megallm's may remain in it.
        kept = after[relative].decode()
        assert TEST_KEY not in kept and fake_gateway.url not in kept, relative
        if before.get(relative) is not None:
            previous = json.loads(before[relative])
            current = json.loads(kept)
            assert all(current.get(k) is not None for k in previous), relative

    # and now the agent no longer reaches the stand-in
    fake_gateway.reset()
    after_restore = run_agent(home, binary, spec, timeout=AFTER_RESTORE_WINDOW)
    assert fake_gateway.requests() == []
    assert REPLY not in after_restore.stdout
    assert after_restore.returncode != 0
    print(
        f"{spec.agent}: after restore "
        + (
            f"exit {after_restore.returncode} in {after_restore.seconds:.1f} s"
            if after_restore.returncode is not None
            else f"still trying other hosts after {AFTER_RESTORE_WINDOW} s"
        )
    )


# --- doctor --deep with the real agents: what each rejects, masked -------------------------


def _break_claude_code(home: Home) -> str:
    settings = home.home / ".claude" / "settings.json"
    value = json.loads(settings.read_text())
    value["permissions"] = {"allow": 5}
    settings.write_text(json.dumps(value))
    return "Claude Code rejects a setting"


def _break_codex(home: Home) -> str:
    config = home.home / ".codex" / "config.toml"
    config.write_text(config.read_text() + "bogus_key = 1\n")
    return "Codex rejects its config"


def _break_opencode(home: Home) -> str:
    config = next((home.home / ".config" / "opencode").glob("opencode.json*"))
    config.write_text(config.read_text().replace('"provider"', '"providers"', 1))
    return "OpenCode"


def _break_kilo(home: Home) -> str:
    config = next((home.home / ".config" / "kilo").glob("kilo.json*"))
    config.write_text(config.read_text() + "{\n")
    return "Kilo rejects its config"


BREAKERS = {
    "claude-code": _break_claude_code,
    "codex": _break_codex,
    "opencode": _break_opencode,
    "kilo": _break_kilo,
}


@pytest.mark.parametrize(
    "spec",
    [s for s in SPECS if s.agent in BREAKERS],
    ids=[s.agent for s in SPECS if s.agent in BREAKERS],
)
def test_deep_doctor_reports_what_the_agent_rejects(home: Home, spec: AgentSpec) -> None:
    binary = agent_binary(spec)
    setup = megallm(
        home,
        binary,
        "setup",
        "--agent",
        spec.agent,
        "--base-url",
        "http://127.0.0.1:9",
        "--model",
        spec.model,
        "--yes",
        "--no-verify",
        key=True,
    )
    assert setup.returncode == 0, setup.stderr
    words = BREAKERS[spec.agent](home)
    # MEGALLM_API_KEY set, as in a configured terminal: Kilo then echoes the key in its error.
    doctor = megallm(
        home,
        binary,
        "doctor",
        "--deep",
        "--agent",
        spec.agent,
        "--base-url",
        "http://127.0.0.1:9",
        "--json",
        key=True,
    )
    assert_no_key(doctor.stdout, doctor.stderr)
    assert doctor.returncode == 1
    rejected = [
        f
        for f in json.loads(doctor.stdout)["data"]
        if f["agent"] == spec.agent and f["status"] == "fail" and f["title"].startswith(words)
    ]
    assert rejected, doctor.stdout
    print(f"{spec.agent}: {rejected[0]['title']}")
