"""apply(plan): lock → backup session → atomic writes → re-read, validate → roll back on failure."""

from __future__ import annotations

import os
import random
import stat
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, ExitStack, contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from megallm_cli import agentlock, backups
from megallm_cli.changes import SECRET_DIR_MODE, FileChange, UserVariableChange
from megallm_cli.errors import ApplyFailed, ConfigParseError, LockBusy, MegallmError, UsageError
from megallm_cli.fsio import (
    atomic_delete,
    atomic_write,
    current_mode,
    current_user,
    ensure_dir,
    missing_dirs,
    read_bytes,
    remove_empty_dirs,
    resolve_target,
)
from megallm_cli.paths import Paths

if TYPE_CHECKING:
    from megallm_cli.shellenv import UserEnvironment

PlannedChange = FileChange | UserVariableChange

DEFAULT_LOCK_TIMEOUT = 60.0
# Agents rewrite their own files while they run (Claude Code rewrites all of ~/.claude.json,
# in place). When a file changes between our read and our write, the plan is made again from
# the new bytes, at most this many times in all.
MAX_ATTEMPTS = 8
# An in-place writer (Claude Code rewriting ~/.claude.json) truncates the file before it writes:
# an empty file may be one halfway through a rewrite, and replacing it would lose all of that
# rewrite. An empty file is trusted only when nobody has modified it for this many seconds.
EMPTY_FILE_SETTLE = 2.0


class ChangedMeanwhile(Exception):
    """A file no longer holds the bytes its change was planned from: another program wrote it."""

    def __init__(self, path: Path) -> None:
        super().__init__(f"{path} changed while megallm was writing it")
        self.path = path


@dataclass
class ApplyResult:
    session_id: str | None
    written: list[FileChange] = field(default_factory=list)
    unchanged: list[FileChange] = field(default_factory=list)
    recovered_sessions: list[str] = field(default_factory=list)
    user_variables: list[UserVariableChange] = field(default_factory=list)


def needs_write(change: FileChange) -> bool:
    if change.before != change.after:
        return True
    wanted = change.target_mode
    return change.after is not None and wanted is not None and current_mode(change.path) != wanted


def _lock_timeout(paths: Paths) -> float:
    raw = paths.env.get("MEGALLM_LOCK_TIMEOUT", "").strip()
    if not raw:
        return DEFAULT_LOCK_TIMEOUT
    try:
        return float(raw)
    except ValueError:
        raise UsageError(
            f"MEGALLM_LOCK_TIMEOUT must be a number of seconds, not '{raw}'",
            hint="unset it, or set for example MEGALLM_LOCK_TIMEOUT=120",
        ) from None


LockWaitNotice = agentlock.WaitNotice
"""Told (the lock, who holds it, seconds it will wait at most) before a wait: at once for
another megallm run, after a moment for an agent saving its file."""


@contextmanager
def run_lock(paths: Paths, on_wait: LockWaitNotice | None = None) -> Iterator[None]:
    """Serialize runs: a second one waits up to MEGALLM_LOCK_TIMEOUT seconds, then fails clearly."""
    from filelock import FileLock, Timeout

    timeout = _lock_timeout(paths)
    lock = FileLock(str(paths.lock_file), mode=0o600)
    try:
        ensure_dir(paths.state_dir, SECRET_DIR_MODE)
        try:
            lock.acquire(timeout=0)
        except Timeout:
            if on_wait is not None:
                on_wait(paths.lock_file, "another megallm run", timeout)
            lock.acquire(timeout=timeout)
    except Timeout:
        raise LockBusy(paths.lock_file, timeout) from None
    except OSError as error:
        raise MegallmError(
            f"{error.filename or paths.state_dir}: {error.strerror or error}; nothing was changed",
            hint=f"megallm keeps its lock and backups in {paths.state_dir}: free some space or "
            "fix its permissions, then run again",
        ) from None
    try:
        yield
    finally:
        lock.release()


def _step_pause(paths: Paths) -> None:
    """A test hook that widens the windows between steps, so crash tests can land inside them."""
    delay = paths.env.get("MEGALLM_TEST_STEP_DELAY")
    if delay:
        time.sleep(float(delay))


def recover(paths: Paths, on_wait: LockWaitNotice | None = None) -> list[str]:
    """Finish what killed runs left: pending sessions, stray temp files, backups without manifest.

    apply() does this first. Commands that may end without reaching apply() (a restore that
    finds nothing to restore, a setup with nothing to change) call it, so nothing a killed run
    left outlives the next run. Returns the ids of the sessions recovered.
    """
    if not paths.backups_dir.is_dir():
        return []
    with run_lock(paths, on_wait):
        return _recover_all(paths)


def _recover_all(paths: Paths) -> list[str]:
    agentlock.remove_left_lock(paths.agent_lock_marker)
    backups.remove_orphans(paths.backups_dir)
    recovered = []
    for session in backups.pending_sessions(paths.backups_dir):
        backups.cleanup_interrupted(session)
        recovered.append(session.id)
    return recovered


def apply(
    paths: Paths,
    command: str,
    build_plan: Callable[[], Sequence[PlannedChange]],
    *,
    on_write: Callable[[FileChange], None] | None = None,
    user_env: UserEnvironment | None = None,
    on_wait: LockWaitNotice | None = None,
) -> ApplyResult:
    """Apply the plan that `build_plan` computes under the lock, from the bytes on disk then.

    Computing the plan inside the lock is what makes concurrent runs serialize instead of
    overwriting each other's work. Another program (a running agent) does not take our lock:
    each file is compared with the bytes its change was planned from at the last moment before
    it is replaced, and if it changed, this run's writes are rolled back and the plan is made
    again from the new bytes, so the other program's edit is kept. Where the agent takes a lock
    of its own to write a file (Claude Code's ~/.claude.json.lock), that lock is held around
    the comparison, the replace and the read-back, and on a retry from the read on.

    User variables (`user_env`, Windows' HKCU\\Environment) are set after every file is
    written and validated, all or none; if they cannot be, the files are rolled back.
    """
    with run_lock(paths, on_wait):
        recovered = _recover_all(paths)
        attempt = 1
        contended: Path | None = None
        while True:
            locks = _AgentLocks(paths, on_wait, contended)
            try:
                with locks.holding():
                    result = _apply_once(paths, command, build_plan, on_write, user_env, locks)
            except (ChangedMeanwhile, ConfigParseError) as changed:
                # A parse error here, after the preview parsed the same file, is most likely a
                # file caught halfway through another program's in-place rewrite.
                if attempt >= MAX_ATTEMPTS:
                    if isinstance(changed, ConfigParseError):
                        raise
                    raise ApplyFailed(
                        f"{changed.path} kept changing while megallm was writing it "
                        f"({MAX_ATTEMPTS} tries); nothing was changed",
                        hint="another program keeps rewriting it (is the agent running?); "
                        "close it and run again",
                    ) from None
                # Let the other writer finish; a random pause keeps two retrying runs apart.
                time.sleep(random.uniform(0.02, 0.08) * attempt)
                attempt += 1
                # An agent that takes a lock to write the file cannot write it while the next
                # try holds that lock from its read to its write.
                if paths.agent_write_lock(changed.path) is not None:
                    contended = changed.path
                continue
            result.recovered_sessions = recovered
            return result


def _apply_once(
    paths: Paths,
    command: str,
    build_plan: Callable[[], Sequence[PlannedChange]],
    on_write: Callable[[FileChange], None] | None,
    user_env: UserEnvironment | None,
    locks: _AgentLocks,
) -> ApplyResult:
    planned = build_plan()
    plan = [change for change in planned if isinstance(change, FileChange)]
    variables = [c for c in planned if isinstance(c, UserVariableChange) and not c.is_noop]
    if variables and user_env is None:
        raise MegallmError(
            f"cannot change {variables[0].location}: there is no user environment to change",
            hint="report this as a bug",
        )
    _check_plan_is_current(plan)
    to_write = [change for change in plan if needs_write(change)]
    result = ApplyResult(
        session_id=None, unchanged=[change for change in plan if not needs_write(change)]
    )
    if not to_write and not variables:
        return result
    _check_writable(to_write)
    session = _record(paths, command, to_write, variables)
    result.session_id = session.id
    written: list[_Written] = []
    try:
        for change in to_write:
            made_dirs = missing_dirs(resolve_target(change.path).parent)
            mode_before = current_mode(change.path)
            with locks.around(change.path):
                _step_pause(paths)
                _write(change)
                written.append(_Written(change, mode_before, made_dirs))
                _validate(change)
            locks.written(change.path)
            if change.after is None:  # once the agent's lock, a directory in it, is gone
                remove_empty_dirs(change.prune_dirs)
            if on_write:
                on_write(change)
        if variables and user_env is not None:
            from megallm_cli.shellenv import apply_user_variables

            _step_pause(paths)
            apply_user_variables(user_env, variables)
            result.user_variables = variables
        session.mark(backups.COMPLETE)  # a run that cannot record this is undone like any other
    except ChangedMeanwhile:
        problems, left = _roll_back(written, locks)
        if problems:
            problems += _mark_rolled_back(session)
            raise ApplyFailed(
                "another program changed files while megallm wrote them; rolled back this "
                f"run's writes ({'; '.join(problems)})",
                hint="close the agent that writes them and run again",
            ) from None
        if left:
            # Kept as a record: a file we wrote was rewritten by the other program since.
            _mark_rolled_back(session)
        else:
            session.discard()  # every file is back as it was: this backup guards nothing
        raise
    except BaseException as failure:
        problems, left = _roll_back(written, locks)
        problems += _mark_rolled_back(session)
        if isinstance(failure, (KeyboardInterrupt, SystemExit)):
            raise
        problems += [f"{path} was changed by another program since; left as it is" for path in left]
        detail = "; ".join(problems) if problems else "every file is back as it was"
        raise ApplyFailed(
            f"{_describe(failure)} — rolled back this run's writes ({detail})",
            hint="nothing was left half-done; fix the cause above and run again",
        ) from failure
    result.written = [entry.change for entry in written]
    backups.prune(paths.backups_dir)
    return result


def _mark_rolled_back(session: backups.Session) -> list[str]:
    """Record that the run was undone; if even that fails (a full disk), the session stays
    pending, which the next run's recovery handles the same way."""
    try:
        session.mark(backups.ROLLED_BACK)
    except OSError as error:
        return [f"could not record that in {session.manifest_path} ({error.strerror or error})"]
    return []


def _record(
    paths: Paths, command: str, changes: list[FileChange], variables: list[UserVariableChange]
) -> backups.Session:
    try:
        return backups.create_session(paths.backups_dir, command, changes, variables)
    except OSError as error:
        raise ApplyFailed(
            f"could not record the backup in {paths.backups_dir} "
            f"({error.strerror or error}); nothing was changed",
            hint="free some space there (or fix its permissions), then run again",
        ) from None


def _check_plan_is_current(plan: list[FileChange]) -> None:
    for change in plan:
        if change.before == b"":
            _wait_until_settled(change.path)
        if read_bytes(change.path) != change.before:
            raise ChangedMeanwhile(change.path)


def _wait_until_settled(path: Path) -> None:
    """Return once `path` is empty and unmodified for EMPTY_FILE_SETTLE seconds; raise
    ChangedMeanwhile if it gets content (it was being rewritten) or keeps being modified."""
    deadline = time.monotonic() + 3 * EMPTY_FILE_SETTLE
    while True:
        quiet_for = _empty_for(path)
        if quiet_for is None or time.monotonic() > deadline:
            raise ChangedMeanwhile(path)
        if quiet_for >= EMPTY_FILE_SETTLE:
            return
        time.sleep(EMPTY_FILE_SETTLE - max(quiet_for, 0.0))


def _empty_for(path: Path) -> float | None:
    """Seconds since an empty `path` was last modified; None if it is not an empty file."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return None
    if info.st_size != 0:
        return None
    return time.time() - info.st_mtime


def _check_writable(changes: list[FileChange]) -> None:
    """Refuse before anything is written where a write would fail or was not meant to happen.

    A file without write permission is one its owner protected (`chmod a-w` keeps agents from
    rewriting their settings): even root does not write over it.
    """
    for change in changes:
        target = resolve_target(change.path)
        try:
            info = os.stat(target)
        except FileNotFoundError:
            info = None
        if info is not None and change.after is not None:
            mode = stat.S_IMODE(info.st_mode)
            if not mode & 0o222:
                raise ApplyFailed(
                    f"{target} is read-only (mode {mode:o}); nothing was changed",
                    hint=f"if megallm may edit it, make it writable (chmod u+w '{target}')",
                )
            if not os.access(target, os.W_OK):
                raise ApplyFailed(
                    f"{target} is not writable by {current_user()}; nothing was changed",
                    hint="it belongs to another user or is immutable (see ls -l, lsattr)",
                )
        directory = _existing_ancestor(target.parent)
        if not os.access(directory, os.W_OK | os.X_OK):
            raise ApplyFailed(
                f"cannot write {target}: its directory {directory} is not writable by "
                f"{current_user()}; nothing was changed",
                hint=f"check the directory's owner and mode (ls -ld '{directory}')",
            )


def _existing_ancestor(directory: Path) -> Path:
    while not directory.exists() and directory != directory.parent:
        directory = directory.parent
    return directory


def _expecting(path: Path, expected: bytes | None) -> Callable[[], None]:
    """A guard that raises ChangedMeanwhile unless `path` still holds `expected` (an empty file
    also still settled: truncated again, it is being rewritten)."""

    def guard() -> None:
        if read_bytes(path) != expected:
            raise ChangedMeanwhile(path)
        if expected == b"" and (_empty_for(path) or 0.0) < EMPTY_FILE_SETTLE:
            raise ChangedMeanwhile(path)

    return guard


class _AgentLocks:
    """The locks agents take to write their own files (agentlock.py), as one try takes them.

    A try made because a file changed under the last one holds that file's lock from its read
    (`holding`) until the file is written (`written`), so the agent cannot write in between,
    and no longer: the agent's own saves wait for it.
    """

    def __init__(self, paths: Paths, on_wait: LockWaitNotice | None, contended: Path | None):
        self.paths = paths
        self.on_wait = on_wait
        self._contended = contended
        self._early = ExitStack()

    @contextmanager
    def holding(self) -> Iterator[None]:
        with self._early:
            if self._contended is not None:
                self._early.enter_context(self._lock(self._contended))
            yield

    def written(self, path: Path) -> None:
        if path == self._contended:
            self._contended = None
            self._early.close()

    def around(self, path: Path) -> AbstractContextManager[None]:
        """The lock the agent takes to write `path` (none, or held already from the read)."""
        return nullcontext() if path == self._contended else self._lock(path)

    def _lock(self, path: Path) -> AbstractContextManager[None]:
        lock = self.paths.agent_write_lock(path)
        if lock is None:
            return nullcontext()
        lock_dir, owner = lock
        marker = self.paths.agent_lock_marker
        return agentlock.held(lock_dir, marker, owner=owner, on_wait=self.on_wait)


def _write(change: FileChange) -> None:
    guard = _expecting(change.path, change.before)
    if change.after is None:
        atomic_delete(change.path, before_unlink=guard)
    else:
        atomic_write(change.path, change.after, change.target_mode, before_replace=guard)


def _validate(change: FileChange) -> None:
    actual = read_bytes(change.path)
    if actual != change.after:
        raise ChangedMeanwhile(change.path)
    wanted_mode = change.target_mode
    if actual is not None and wanted_mode is not None and current_mode(change.path) != wanted_mode:
        raise ApplyFailed(f"{change.path}: mode is not {oct(wanted_mode)} after writing")
    if actual is not None and change.validate:
        change.validate(actual)


@dataclass(frozen=True)
class _Written:
    change: FileChange
    mode_before: int | None
    made_dirs: list[Path]


def _roll_back(written: list[_Written], locks: _AgentLocks) -> tuple[list[str], list[Path]]:
    """Put back what this run wrote; a file another program rewrote since is left as it is.

    Returns the problems (writes that failed) and the files left alone.
    """
    problems: list[str] = []
    left: list[Path] = []
    for entry in reversed(written):
        change = entry.change
        guard = _expecting(change.path, change.after)
        try:
            with locks.around(change.path):
                if change.before is None:
                    atomic_delete(change.path, before_unlink=guard)
                else:
                    atomic_write(
                        change.path, change.before, entry.mode_before, before_replace=guard
                    )
            if change.before is None:  # once the agent's lock, a directory in it, is gone
                remove_empty_dirs(entry.made_dirs)
        except ChangedMeanwhile:
            left.append(change.path)
        except OSError as error:
            problems.append(f"could not restore {change.path}: {error.strerror or error}")
        except ApplyFailed as error:  # the agent held its lock on the file too long
            problems.append(f"could not restore {change.path}: {error}")
    return problems, left


def _describe(failure: BaseException) -> str:
    if isinstance(failure, OSError) and failure.filename:
        return f"{failure.filename}: {failure.strerror or failure}"
    return str(failure) or type(failure).__name__
