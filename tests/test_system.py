"""Running agents are found by one scan of the process table, on Linux read from /proc."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from megallm_cli import system
from megallm_cli.paths import Paths

MARKER = "megallm-test-agent-marker"


@pytest.fixture
def fake_agent() -> Iterator[subprocess.Popen[bytes]]:
    """A process whose argv names MARKER, as node's argv names an agent's package."""
    child = subprocess.Popen(
        [sys.executable, "-c", f"import time; time.sleep(60)  # {MARKER}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while MARKER not in " ".join(psutil.Process(child.pid).cmdline()):
        assert time.monotonic() < deadline, "the child never showed its argv"
        time.sleep(0.01)
    yield child
    child.kill()
    child.wait()


@pytest.fixture(autouse=True)
def fresh_scan(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(system, "_last_scan", None)


def test_finds_a_process_by_its_argv_with_its_start_time(
    fake_agent: subprocess.Popen[bytes],
) -> None:
    found = system.running_processes(["no-such-agent"], [MARKER])
    assert [process.pid for process in found] == [fake_agent.pid]
    assert found[0].started == pytest.approx(psutil.Process(fake_agent.pid).create_time(), abs=0.1)


def test_finds_a_process_by_its_name(fake_agent: subprocess.Popen[bytes]) -> None:
    name = psutil.Process(fake_agent.pid).name().lower()
    assert fake_agent.pid in [process.pid for process in system.running_processes([name])]


def test_one_scan_answers_every_agent(
    fake_agent: subprocess.Popen[bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    system.running_processes(["claude"], ["@anthropic-ai/claude-code"])
    monkeypatch.setattr(system, "_scan_proc", lambda: pytest.fail("scanned twice"))
    monkeypatch.setattr(system, "_scan_with_psutil", lambda: pytest.fail("scanned twice"))
    assert system.running_processes(["codex"], [MARKER])


@pytest.mark.skipif(not system._HAS_PROC, reason="/proc is Linux's")
def test_proc_reads_what_psutil_reads(fake_agent: subprocess.Popen[bytes]) -> None:
    from_proc = {process.pid: process for process in system._scan_proc()}
    from_psutil = {process.pid: process for process in system._scan_with_psutil()}
    # Processes that do not change between the two scans, unlike other users' of the machine.
    for pid in (fake_agent.pid, os.getppid()):
        ours, theirs = from_proc[pid], from_psutil[pid]
        assert (ours.name, ours.argv_head) == (theirs.name, theirs.argv_head)
        assert ours.started == pytest.approx(theirs.started, abs=0.1)


@pytest.mark.skipif(not system._HAS_PROC, reason="/proc is Linux's")
def test_parent_shell_is_found_like_psutil_finds_it() -> None:
    parent = psutil.Process().parent()
    expected = None
    for _ in range(4):
        if parent is None:
            break
        expected = system._shell_name(parent.name())
        if expected:
            break
        parent = parent.parent()
    assert system._parent_shell.__wrapped__() == expected


# --- directories we may not look into (Python 3.11's is_dir()/is_file() raise there) ---


def test_user_bin_dirs_skip_an_nvm_dir_we_may_not_look_into(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    node_bin = tmp_path / ".nvm" / "versions" / "node" / "v20.11.0" / "bin"
    node_bin.mkdir(parents=True)
    paths = Paths({"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}, platform="linux")
    assert node_bin in system.user_bin_dirs(paths)
    real_is_dir = Path.is_dir

    def is_dir(path: Path) -> bool:
        if path == node_bin.parent.parent:
            raise PermissionError(13, "Permission denied", str(path))
        return real_is_dir(path)

    monkeypatch.setattr(Path, "is_dir", is_dir)
    dirs = system.user_bin_dirs(paths)
    assert node_bin not in dirs
    assert tmp_path / ".local" / "bin" in dirs


def test_npm_version_is_unknown_behind_a_dir_we_may_not_look_into(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "lib" / "node_modules" / "opencode-ai"
    (package / "bin").mkdir(parents=True)
    (package / "package.json").write_text('{"name": "opencode-ai", "version": "1.18.33"}')
    binary = package / "bin" / "opencode"
    binary.write_text("")
    assert system.npm_package_version(binary, "opencode-ai") == "1.18.33"

    def is_file(path: Path) -> bool:
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(Path, "is_file", is_file)
    assert system.npm_package_version(binary, "opencode-ai") is None
