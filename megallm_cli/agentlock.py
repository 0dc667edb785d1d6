"""Take an agent's own write lock on a file it rewrites while it runs.

Claude Code (2.1.332, seen with strace) saves ~/.claude.json under a proper-lockfile lock: it
makes the directory `~/.claude.json.lock`, writes a temp file, renames it over the config and
removes the directory. A lock younger than STALE_AFTER seconds is live; an older one was left by
a process that died (a live holder refreshes its mtime every 5 s). Holding the same lock while
megallm compares and replaces the file means neither program can write between the other's read
and write: no edit of either is lost.

The lock directory is empty by that protocol, so it cannot say who made it. To clean up after a
megallm killed while holding one, a marker in megallm's state dir names the lock before it is
taken and goes after it is released; the next run removes the lock it names when the lock was
made right after the marker (see `remove_left_lock`).
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from megallm_cli.errors import ApplyFailed
from megallm_cli.fsio import seen_dir

STALE_AFTER = 10.0
# Claude Code holds its lock for milliseconds; a live holder past this is hung.
WAIT_AT_MOST = STALE_AFTER + 2.0
# How long after the marker a lock counts as made by the run that wrote the marker.
MADE_BY_MARKER_RUN = 2.0
# Waits shorter than this (the agent's usual save) go unmentioned.
NOTICE_AFTER = 0.5

WaitNotice = Callable[[Path, str, float], None]
"""Told (the lock, who holds it, seconds it will wait at most) once a wait gets long."""


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
    marker.write_text(f"{lock_dir}\n", encoding="utf-8")
    try:
        _acquire(lock_dir, owner, on_wait)
        try:
            yield
        finally:
            _release(lock_dir)
    finally:
        marker.unlink(missing_ok=True)


def _acquire(lock_dir: Path, owner: str, on_wait: WaitNotice | None) -> None:
    started = time.monotonic()
    told = False
    pause = 0.005
    while True:
        try:
            os.mkdir(lock_dir, 0o777)
            return
        except FileExistsError:
            _check_is_a_lock(lock_dir, owner)
        except OSError as error:
            raise ApplyFailed(
                f"could not take {owner}'s lock {lock_dir}: {error.strerror or error}"
            ) from None
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


def remove_left_lock(marker: Path) -> Path | None:
    """Remove the lock a killed run left, if the marker says it took one; return it if removed.

    A lock directory made within MADE_BY_MARKER_RUN seconds of the marker is the one the run
    that wrote the marker made (the agent holds its lock for milliseconds, so a lock of its own
    is most unlikely to start in that moment and still be held now). Either side, not only
    after: a filesystem with whole-second times rounds the lock's time down.
    """
    try:
        marked_at = os.stat(marker).st_mtime
        lock_dir = Path(marker.read_text(encoding="utf-8").strip())
    except (FileNotFoundError, UnicodeDecodeError):
        return None
    try:
        made_with_marker = abs(os.stat(lock_dir).st_mtime - marked_at) < MADE_BY_MARKER_RUN
    except OSError:
        made_with_marker = False
    removed = made_with_marker and _release(lock_dir)
    marker.unlink(missing_ok=True)
    return lock_dir if removed else None
