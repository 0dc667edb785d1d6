"""Shared fixtures: a throwaway HOME for every test, and a runner for the installed `megallm`."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from megallm_cli.paths import Paths

TEST_KEY = "sk-mega-test0123456789abcdefghijklmnopqrstuv"
OTHER_KEY = "sk-mega-rotated9876543210zyxwvutsrqponmlkji"


def megallm_executable() -> str:
    """The console script installed next to this Python, so tests run what users run."""
    candidate = Path(sys.executable).parent / "megallm"
    found = str(candidate) if candidate.exists() else shutil.which("megallm")
    if not found:
        pytest.fail("the megallm console script is not installed: pip install -e '.[test]'")
    return found


@dataclass
class Home:
    """A re-rooted world: HOME, XDG dirs and a project dir under one temp dir."""

    root: Path
    env: dict[str, str]

    @property
    def home(self) -> Path:
        return Path(self.env["HOME"])

    @property
    def project(self) -> Path:
        return self.root / "project"

    @property
    def paths(self) -> Paths:
        return Paths(self.env)

    def run(
        self,
        *args: str,
        stdin: str | None = None,
        extra_env: dict[str, str] | None = None,
        cwd: Path | None = None,
        timeout: float = 60,
    ) -> subprocess.CompletedProcess[str]:
        env = {**self.env, **(extra_env or {})}
        return subprocess.run(
            [megallm_executable(), *args],
            input=stdin if stdin is not None else "",
            capture_output=True,
            text=True,
            env=env,
            cwd=cwd or self.project,
            timeout=timeout,
            check=False,
        )

    def setup_claude(self, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        """`megallm setup --agent claude-code --yes --no-verify` with TEST_KEY."""
        return self.run(
            "setup", "--agent", "claude-code", "--yes", "--no-verify",
            extra_env={"MEGALLM_API_KEY": TEST_KEY}, cwd=cwd,
        )  # fmt: skip

    def snapshot(self) -> dict[str, bytes]:
        """Every regular file under the root (links not followed), for byte-for-byte compares."""
        files = {}
        for path in sorted(self.root.rglob("*")):
            if path.is_file() and not path.is_symlink() and not _is_our_state(path):
                files[str(path.relative_to(self.root))] = path.read_bytes()
        return files


def _is_our_state(path: Path) -> bool:
    """Backups and the model cache are megallm's own bookkeeping, not the user's files."""
    return "megallm" in path.parts and (".local" in path.parts or ".cache" in path.parts)


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Home]:
    root = tmp_path
    (root / "home").mkdir()
    (root / "project").mkdir()
    env = {
        "HOME": str(root / "home"),
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "NO_COLOR": "1",
        "TERM": "dumb",
        "COLUMNS": "200",
    }
    yield Home(root, env)
