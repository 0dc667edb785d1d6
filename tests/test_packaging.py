"""The package installs the ways users install it: pip into a fresh venv, pipx, uv tool.

Every install is a real one, dependencies from the package index included; when the index
cannot be reached the test skips and says so. Each runs on a copy of the files a build reads
(so no build/ or egg-info appears in the work tree), with its own HOME and caches: nothing of
the user's pip, pipx or uv state is read or written. pipx and uv are optional: CI installs
them (.ci/run), elsewhere their tests skip. `pytest -m "not packaging"` leaves all of it out.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import typer.main

from megallm_cli import __version__
from megallm_cli.cli import app
from megallm_cli.completion import command_tree

pytestmark = pytest.mark.packaging

ROOT = Path(__file__).resolve().parent.parent
BUILD_INPUTS = ("pyproject.toml", "README.md", "megallm_cli")
# What pip, pipx and uv print when the index is out of reach (DNS, refused, proxy, offline).
UNREACHABLE = re.compile(
    r"Failed to establish a new connection|Temporary failure in name resolution"
    r"|Network is unreachable|Connection refused|ProxyError|Max retries exceeded"
    r"|No matching distribution found|Could not find a version that satisfies"
    r"|error sending request|dns error|Failed to fetch",
    re.IGNORECASE,
)
TIMEOUT = 300


@dataclass(frozen=True)
class Workspace:
    source: Path  # a copy of what a build reads
    root: Path
    env: dict[str, str]

    def run(self, *command: str | Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(part) for part in command],
            env=self.env,
            cwd=self.root,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )

    def install(self, *command: str | Path) -> None:
        """Run an installer; skip when it failed because the index is unreachable."""
        result = self.run(*command)
        output = result.stdout + result.stderr
        if result.returncode != 0 and UNREACHABLE.search(output):
            pytest.skip(f"the package index is unreachable: {UNREACHABLE.search(output)}")
        assert result.returncode == 0, output


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    root = tmp_path_factory.mktemp("packaging")
    source = root / "source"
    source.mkdir()
    for name in BUILD_INPUTS:
        original = ROOT / name
        if original.is_dir():
            ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
            shutil.copytree(original, source / name, ignore=ignore)
        else:
            shutil.copy2(original, source / name)
    (root / "home").mkdir()
    env = {
        **os.environ,
        "HOME": str(root / "home"),
        "XDG_CONFIG_HOME": str(root / "home" / ".config"),
        "XDG_DATA_HOME": str(root / "home" / ".local" / "share"),
        "XDG_CACHE_HOME": str(root / "cache"),
        # Shared by the tests in this module, so dependencies download once.
        "PIP_CACHE_DIR": str(root / "cache" / "pip"),
        "UV_CACHE_DIR": str(root / "cache" / "uv"),
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        # An unreachable index fails within a minute instead of hanging on retries.
        "PIP_DEFAULT_TIMEOUT": "30",
        "PIP_RETRIES": "1",
        "UV_HTTP_TIMEOUT": "30",
        "PIPX_HOME": str(root / "pipx"),
        "PIPX_BIN_DIR": str(root / "pipx-bin"),
        "PIPX_MAN_DIR": str(root / "pipx-man"),
        "UV_TOOL_DIR": str(root / "uv-tools"),
        "UV_TOOL_BIN_DIR": str(root / "uv-bin"),
        "UV_PYTHON_DOWNLOADS": "never",  # use this Python, never fetch one
        "NO_COLOR": "1",
    }
    yield Workspace(source, root, env)


def command_names() -> list[str]:
    return [command.path[0] for command in command_tree(typer.main.get_command(app)).subcommands]


def check_installed_program(workspace: Workspace, megallm: Path) -> None:
    version = workspace.run(megallm, "--version")
    assert version.returncode == 0, version.stderr
    assert version.stdout == f"megallm {__version__}\n"

    verbose = workspace.run(megallm, "--version", "-v")
    assert verbose.returncode == 0, verbose.stderr
    assert "Python 3." in verbose.stdout and "platform " in verbose.stdout

    help_text = workspace.run(megallm, "--help")
    assert help_text.returncode == 0, help_text.stderr
    for name in command_names():
        assert re.search(rf"^\s+{re.escape(name)}\s", help_text.stdout, re.MULTILINE), name

    status = workspace.run(megallm, "status", "--json")
    assert status.returncode == 0, status.stderr
    assert '"command": "status"' in status.stdout


def test_the_wheel_holds_every_module_the_data_and_the_type_marker(workspace: Workspace) -> None:
    dist = workspace.root / "dist"
    workspace.install(
        sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", dist, workspace.source
    )
    (wheel,) = dist.glob("megallm_cli-*.whl")
    assert wheel.name.startswith(f"megallm_cli-{__version__}-")
    names = set(zipfile.ZipFile(wheel).namelist())
    package = ROOT / "megallm_cli"
    shipped = [
        path.relative_to(ROOT).as_posix()
        for pattern in ("**/*.py", "py.typed", "data/*.json")
        for path in package.glob(pattern)
        if "__pycache__" not in path.parts
    ]
    missing = sorted(set(shipped) - names)
    assert not missing, f"not in the wheel (list the package in pyproject.toml): {missing}"
    entry_points = zipfile.ZipFile(wheel).read(
        f"megallm_cli-{__version__}.dist-info/entry_points.txt"
    )
    assert b"megallm = megallm_cli.entry:main" in entry_points


def test_pip_install_into_a_fresh_venv(workspace: Workspace) -> None:
    venv = workspace.root / "venv"
    result = workspace.run(sys.executable, "-m", "venv", venv)
    assert result.returncode == 0, result.stderr
    python = venv / "bin" / "python"
    workspace.install(python, "-m", "pip", "install", "--quiet", workspace.source)
    check_installed_program(workspace, venv / "bin" / "megallm")


def test_pipx_install(workspace: Workspace) -> None:
    if importlib.util.find_spec("pipx") is None:
        pytest.skip("pipx is not installed (CI installs it: .ci/run)")
    workspace.install(
        sys.executable, "-m", "pipx", "install", "--python", sys.executable, workspace.source
    )
    check_installed_program(workspace, Path(workspace.env["PIPX_BIN_DIR"]) / "megallm")


def test_uv_tool_install(workspace: Workspace) -> None:
    uv = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    if uv is None:
        pytest.skip("uv is not installed (CI installs it: .ci/run)")
    workspace.install(uv, "tool", "install", "--python", sys.executable, workspace.source)
    check_installed_program(workspace, Path(workspace.env["UV_TOOL_BIN_DIR"]) / "megallm")
