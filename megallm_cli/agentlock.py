"""Take an agent's own write lock on a file it rewrites while it runs.

Claude Code (2.1.332, seen with strace) saves ~/.claude.json under a proper-lockfile lock: it
makes the directory `~/.claude.json.lock` (beside the name, also when the file is a link),
writes a temp file, renames it over the config and removes the directory. A lock younger than
STALE_AFTER seconds is live; an older one was left by a process that died (a live holder
refreshes its mtime every 5 s). Holding the same lock while megallm compares and replaces the
file means neither program can write between the other's read and write: no edit of either is
lost.

The lock directory is empty by that protocol, so it cannot say who made it. To clean up after a
megallm killed while holding one, a marker in megallm's state dir says which lock this run is
about to take, and once taken, which directory (inode and mtime) it made; the next run removes
that directory and no other (`remove_left_lock`).
"""

from __future__ import annotations

import os
import stat
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from megallm_cli.errors import ApplyFailed
from megallm_cli.fsio import atomic_write, seen_dir

STALE_AFTER = 10.0
# Claude Code holds its lock for milliseconds; a live holder past this is hung.
WAIT_AT_MOST = STALE_AFTER + 2.0
# A marker that names no directory yet (a run killed right after its mkdir) counts a lock made
# this soon after it as that run's: the mkdir follows the marker within microseconds, and file
# times move in clock ticks of a few milliseconds.
MADE_RIGHT_AFTER_MARKER = 0.1
MARKER_MODE = 0o600
# Waits shorter than this (the agent's usual save) go unmentioned.
NOTICE_AFTER = 0.5

WaitNotice = Callable[[Path, str, float], None]
"""Told (the lock, who holds it, seconds it will wait at most) once a wait gets long."""


@dataclass(frozen=True)
class _Made:
    """The lock directory this run made: another one by the same name is not ours."""

    inode: int
    mtime_ns: int

    @classmethod
    def of(cls, path: Path) -> _Made | None:
        try:
            info = os.lstat(path)
        except OSError:
            return None
        return cls(info.st_ino, info.st_mtime_ns)


@contextmanager
def held(
    lock_dir: Path,
    marker: Path,
    *,
    owner: str,
    on_wait: WaitNotice | None = None,
) -> Iterator[None]:
    """Hold `lock_dir` (proper-lockfile's protocol) while the body runs; `owner` names the
    program whose lock it is, for the notice of a long wait and the error when it stays busy."""
    if not seen_dir(lock_dir.parent):
        yield  # the file's directory is not there yet: no agent writes the file
        return
    try:
        _acquire(lock_dir, marker, owner, on_wait)
    except BaseException:
        marker.unlink(missing_ok=True)
        raise
    made = _Made.of(lock_dir)
    try:
        _write_marker(marker, lock_dir, made)
        yield
    finally:
        if made is not None and _Made.of(lock_dir) == made:
            # Still the directory this run made: not one another program took over as stale.
            _release(lock_dir)
        marker.unlink(missing_ok=True)


def _acquire(lock_dir: Path, marker: Path, owner: str, on_wait: WaitNotice | None) -> None:
    started = time.monotonic()
    told = False
    pause = 0.005
    while True:
        _write_marker(marker, lock_dir, None)  # fresh before each try: its time dates the mkdir
        try:
            os.mkdir(lock_dir, 0o777)
            return
        except FileExistsError:
            _check_is_a_lock(lock_dir, owner)
        except PermissionError:
            # Windows: a lock directory just removed stays "delete pending" while something
            # (an indexer, an antivirus) still has it open.
            if sys.platform != "win32":
                raise _cannot_take(lock_dir, owner, "Permission denied") from None
        except OSError as error:
            raise _cannot_take(lock_dir, owner, error.strerror or str(error)) from None
        if _is_stale(lock_dir) and _release(lock_dir):
            continue
        waited = time.monotonic() - started
        if waited > WAIT_AT_MOST:
            raise ApplyFailed(
                f"{owner} has held its lock {lock_dir} for over {WAIT_AT_MOST:.0f} s (close "
                f"{owner}, or remove {lock_dir} if {owner} is not running)"
            )
        if on_wait is not None and not told and waited > NOTICE_AFTER:
            on_wait(lock_dir, owner, WAIT_AT_MOST)
            told = True
        time.sleep(pause)
        pause = min(pause * 2, 0.1)


def _cannot_take(lock_dir: Path, owner: str, reason: str) -> ApplyFailed:
    return ApplyFailed(f"could not take {owner}'s lock {lock_dir}: {reason}")


def _check_is_a_lock(lock_dir: Path, owner: str) -> None:
    """A file (not a directory) by the lock's name would keep everyone waiting in vain."""
    try:
        mode = os.lstat(lock_dir).st_mode
    except FileNotFoundError:
        return  # released meanwhile
    if not stat.S_ISDIR(mode):
        raise ApplyFailed(
            f"{lock_dir} is not a directory, and {owner} uses that name for its lock "
            f"(remove it, then run again)"
        )


def _is_stale(lock_dir: Path) -> bool:
    try:
        return time.time() - os.stat(lock_dir).st_mtime > STALE_AFTER
    except FileNotFoundError:
        return False  # released meanwhile: the next try takes it


def _release(lock_dir: Path) -> bool:
    """Remove the lock; False when it is gone already or is not an empty directory."""
    try:
        os.rmdir(lock_dir)
    except OSError:
        return False
    return True


def _write_marker(marker: Path, lock_dir: Path, made: _Made | None) -> None:
    """The lock's path, then (once it is made) its inode and mtime; written atomically, so a
    kill leaves the old marker or the new one."""
    lines = [str(lock_dir)] + ([f"{made.inode} {made.mtime_ns}"] if made else [])
    atomic_write(marker, ("\n".join(lines) + "\n").encode("utf-8"), MARKER_MODE)


def remove_left_lock(marker: Path) -> Path | None:
    """Remove the lock a killed run left, if the marker says it took one; return it if removed.

    When the marker names the directory the run made, only that directory goes. When the run
    was killed before it could name it, a lock made within MADE_RIGHT_AFTER_MARKER seconds after
    the marker is taken for that run's; a lock older than the marker is the one the run was
    waiting for, and stays.
    """
    for temp in marker.parent.glob(f".{marker.name}.megallm-*.tmp"):  # a killed write's
        temp.unlink(missing_ok=True)
    try:
        marked_ns = os.stat(marker).st_mtime_ns
        lines = marker.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    marker.unlink(missing_ok=True)
    if not lines:
        return None
    lock_dir = Path(lines[0])
    found = _Made.of(lock_dir)
    if found is None:
        return None
    if len(lines) > 1:
        inode, _, mtime_ns = lines[1].partition(" ")
        ours = f"{found.inode} {found.mtime_ns}" == f"{inode} {mtime_ns}"
    else:
        ours = 0 <= (found.mtime_ns - marked_ns) / 1e9 < MADE_RIGHT_AFTER_MARKER
    return lock_dir if ours and _release(lock_dir) else None
