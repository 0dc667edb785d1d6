"""What machine we are on: OS, WSL, the user's shell, agent binaries and running processes."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from megallm_cli.paths import Paths

KNOWN_SHELLS = ("bash", "zsh", "fish", "pwsh", "powershell", "sh", "dash", "ksh", "nu", "tcsh")


def os_name(paths: Paths) -> str:
    """linux, macos, windows or wsl."""
    if paths.family != "linux":
        return paths.family
    if paths.env.get("WSL_DISTRO_NAME") or paths.env.get("WSL_INTEROP"):
        return "wsl"
    try:
        with open("/proc/sys/kernel/osrelease", encoding="utf-8") as release:
            if "microsoft" in release.read().lower():
                return "wsl"
    except OSError:
        pass
    return "linux"


def _shell_name(executable: str) -> str | None:
    name = os.path.basename(executable).lower().removesuffix(".exe").lstrip("-")
    return name if name in KNOWN_SHELLS else None


def current_shell(paths: Paths) -> str | None:
    """The interactive shell that started us: parent processes first, then $SHELL.

    The parent is what the user is typing into right now; $SHELL is only the login default.
    """
    forced = paths.env.get("MEGALLM_SHELL")
    if forced:
        return _shell_name(forced) or forced
    try:
        import psutil

        process = psutil.Process().parent()
        for _ in range(4):  # pipx/uv shims and `python -m` add a launcher or two in between
            if process is None:
                break
            name = _shell_name(process.name())
            if name:
                return name
            process = process.parent()
    except Exception:
        pass
    shell = paths.env.get("SHELL")
    return _shell_name(shell) if shell else None


def find_executable(name: str, paths: Paths, extra_dirs: Iterable[Path] = ()) -> Path | None:
    """Search PATH as the user's shell would, then the usual per-user install dirs."""
    search = os.pathsep.join(str(p) for p in [*paths.search_path, *extra_dirs])
    found = shutil.which(name, path=search)
    return Path(found) if found else None


def user_bin_dirs(paths: Paths) -> list[Path]:
    """Where npm, the native installers and version managers put agent binaries."""
    home = paths.home
    dirs = [
        home / ".local" / "bin",
        home / ".npm-global" / "bin",
        home / ".volta" / "bin",
        home / ".bun" / "bin",
        Path("/usr/local/bin"),
        Path("/opt/homebrew/bin"),
    ]
    prefix = paths.env.get("NPM_CONFIG_PREFIX") or paths.env.get("npm_config_prefix")
    if prefix:
        dirs.insert(0, Path(prefix) / "bin")
    nvm = home / ".nvm" / "versions" / "node"
    if nvm.is_dir():
        dirs.extend(sorted(nvm.glob("*/bin"), reverse=True))
    if paths.family == "windows":
        dirs.append(paths.appdata / "npm")
    return dirs


def npm_package_version(binary: Path, package: str) -> str | None:
    """Read the version from the npm package a binary belongs to, without running it."""
    try:
        real = Path(os.path.realpath(binary))
    except OSError:
        return None
    for directory in list(real.parents)[:6]:
        manifest = directory / "package.json"
        if manifest.is_file():
            try:
                data = json.loads(manifest.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if data.get("name") == package:
                version = data.get("version")
                return str(version) if version else None
    # npm's bin shims on Windows and wrapper scripts point into a sibling node_modules.
    for base in (real.parent.parent / "lib" / "node_modules", real.parent / "node_modules"):
        manifest = base / package / "package.json"
        if manifest.is_file():
            try:
                return str(json.loads(manifest.read_text(encoding="utf-8")).get("version"))
            except (OSError, ValueError):
                return None
    return None


@dataclass(frozen=True)
class RunningProcess:
    pid: int
    started: float


def running_processes(
    names: Sequence[str], cmdline_markers: Sequence[str] = ()
) -> list[RunningProcess]:
    """Processes whose executable name is one of `names`, or whose argv mentions a marker."""
    try:
        import psutil
    except ImportError:
        return []
    found = []
    me = os.getpid()
    # Only this user's processes: another account's agent does not read our config files.
    my_uid = os.getuid() if hasattr(os, "getuid") else None
    for process in psutil.process_iter(["pid", "name", "cmdline", "create_time", "uids"]):
        info = process.info
        if info["pid"] == me:
            continue
        uids = info.get("uids")
        if my_uid is not None and uids is not None and uids.real != my_uid:
            continue
        name = (info.get("name") or "").lower().removesuffix(".exe")
        argv = info.get("cmdline") or []
        if name in names or any(marker in arg for arg in argv[:3] for marker in cmdline_markers):
            found.append(RunningProcess(info["pid"], info.get("create_time") or 0.0))
    return found
