"""What machine we are on: OS, WSL, the user's shell, agent binaries and running processes."""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from megallm_cli import fsio
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
    parent = _parent_shell()
    if parent:
        return parent
    shell = paths.env.get("SHELL")
    return _shell_name(shell) if shell else None


@lru_cache(maxsize=1)
def _parent_shell() -> str | None:
    """The nearest shell among our parent processes, which stay the same for the whole run."""
    if _HAS_PROC:
        pid = os.getppid()
        for _ in range(4):  # pipx/uv shims and `python -m` add a launcher or two in between
            try:
                process = _read_proc(pid)
            except (OSError, ValueError, IndexError):  # gone, or hidden from us
                return None
            name = _shell_name(process.name)
            if name:
                return name
            pid = process.parent
        return None
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
    return None


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
    if fsio.seen_dir(nvm):
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
        if fsio.seen_file(manifest):
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
        if fsio.seen_file(manifest):
            try:
                return str(json.loads(manifest.read_text(encoding="utf-8")).get("version"))
            except (OSError, ValueError):
                return None
    return None


@dataclass(frozen=True)
class RunningProcess:
    pid: int
    started: float


@dataclass(frozen=True)
class _ProcessInfo:
    pid: int
    name: str
    """Lower case, without .exe."""
    argv_head: tuple[str, ...]
    """The first three arguments: where an agent run by node names its package."""
    started: float


# Every agent asks whether it is running, and doctor asks again: one scan of the process table
# answers them all. A scan this recent is reused; an older one (the wizard waits at prompts for
# as long as the user thinks) is taken again.
_SCAN_REUSE_SECONDS = 2.0
_last_scan: tuple[float, list[_ProcessInfo]] | None = None


def _my_processes() -> list[_ProcessInfo]:
    """This user's processes but this one, from one scan shared by every caller of the run."""
    global _last_scan
    now = time.monotonic()
    if _last_scan is not None and now - _last_scan[0] < _SCAN_REUSE_SECONDS:
        return _last_scan[1]
    found = _scan_proc() if _HAS_PROC else _scan_with_psutil()
    _last_scan = (now, found)
    return found


def _scan_with_psutil() -> list[_ProcessInfo]:
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
        argv = tuple((info.get("cmdline") or [])[:3])
        found.append(_ProcessInfo(info["pid"], name, argv, info.get("create_time") or 0.0))
    return found


# On Linux the process table is read from /proc, the files psutil reads: importing psutil takes
# longer (12 ms) than reading them for a hundred processes (2 ms), and status needs no more.
_HAS_PROC = sys.platform.startswith("linux") and os.path.isdir("/proc/self")


@dataclass(frozen=True)
class _ProcEntry:
    """One process's /proc files, read as psutil reads them."""

    name: str
    parent: int
    started_ticks: int
    """Clock ticks after boot."""
    argv: list[str]


def _proc_file(pid: int | str, name: str) -> bytes:
    with open(f"/proc/{pid}/{name}", "rb") as file:
        return file.read()


def _read_proc(pid: int | str) -> _ProcEntry:
    """Raises OSError when the process is gone, ValueError or IndexError if /proc is odd."""
    stat = _proc_file(pid, "stat")
    name_start, name_end = stat.index(b"("), stat.rindex(b")")
    fields = stat[name_end + 2 :].split()
    argv = _argv(os.fsdecode(_proc_file(pid, "cmdline")))
    name = os.fsdecode(stat[name_start + 1 : name_end])
    if len(name) >= 15 and argv:  # the kernel cuts a name at 15 characters; argv has it whole
        whole = os.path.basename(argv[0])
        if whole.startswith(name):
            name = whole
    return _ProcEntry(name, int(fields[1]), int(fields[19]), argv)


def _argv(data: str) -> list[str]:
    if not data:
        return []
    # NUL-separated, but a program that rewrote its title may separate the words by spaces.
    separator = "\0" if data.endswith("\0") else " "
    argv = data.removesuffix(separator).split(separator)
    if separator == "\0" and len(argv) == 1 and " " in data:
        argv = data.split(" ")
    return argv


def _scan_proc() -> list[_ProcessInfo]:
    try:
        with open("/proc/stat", "rb") as stat:
            boot_time = next(int(line.split()[1]) for line in stat if line.startswith(b"btime"))
        pids = [pid for pid in os.listdir("/proc") if pid.isdigit()]
    except (OSError, StopIteration, ValueError):
        return _scan_with_psutil()
    ticks_per_second = os.sysconf("SC_CLK_TCK")
    me, my_uid = os.getpid(), os.getuid()
    found = []
    for pid in pids:
        if int(pid) == me:
            continue
        try:
            # Only this user's processes: another account's agent does not read our config.
            status = _proc_file(pid, "status").splitlines()
            real_uid = next(int(line.split()[1]) for line in status if line.startswith(b"Uid:"))
            if real_uid != my_uid:
                continue
            process = _read_proc(pid)
        except (OSError, ValueError, IndexError, StopIteration):  # ended while we looked
            continue
        name = process.name.lower().removesuffix(".exe")
        started = boot_time + process.started_ticks / ticks_per_second
        found.append(_ProcessInfo(int(pid), name, tuple(process.argv[:3]), started))
    return found


def running_processes(
    names: Sequence[str], cmdline_markers: Sequence[str] = ()
) -> list[RunningProcess]:
    """Processes whose executable name is one of `names`, or whose argv mentions a marker."""
    return [
        RunningProcess(process.pid, process.started)
        for process in _my_processes()
        if process.name in names
        or any(marker in arg for arg in process.argv_head for marker in cmdline_markers)
    ]
