"""apply(plan): lock → backup session → atomic writes → re-read, validate → roll back on failure."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from megallm_cli import backups
from megallm_cli.changes import SECRET_DIR_MODE, FileChange
from megallm_cli.errors import ApplyFailed, LockBusy
from megallm_cli.fsio import atomic_delete, atomic_write, current_mode, ensure_dir, read_bytes
from megallm_cli.paths import Paths

DEFAULT_LOCK_TIMEOUT = 60.0


@dataclass
class ApplyResult:
    session_id: str | None
    written: list[FileChange] = field(default_factory=list)
    unchanged: list[FileChange] = field(default_factory=list)
    recovered_sessions: list[str] = field(default_factory=list)


def needs_write(change: FileChange) -> bool:
    if change.before != change.after:
        return True
    wanted = change.target_mode
    return change.after is not None and wanted is not None and current_mode(change.path) != wanted


@contextmanager
def run_lock(paths: Paths) -> Iterator[None]:
    """Serialize runs: a second one waits up to MEGALLM_LOCK_TIMEOUT seconds, then fails clearly."""
    from filelock import FileLock, Timeout

    ensure_dir(paths.state_dir, SECRET_DIR_MODE)
    timeout = float(paths.env.get("MEGALLM_LOCK_TIMEOUT") or DEFAULT_LOCK_TIMEOUT)
    lock = FileLock(str(paths.lock_file), mode=0o600)
    try:
        lock.acquire(timeout=timeout)
    except Timeout:
        raise LockBusy(paths.lock_file, timeout) from None
    try:
        yield
    finally:
        lock.release()


def _step_pause(paths: Paths) -> None:
    """A test hook that widens the windows between steps, so crash tests can land inside them."""
    delay = paths.env.get("MEGALLM_TEST_STEP_DELAY")
    if delay:
        time.sleep(float(delay))


def apply(
    paths: Paths,
    command: str,
    build_plan: Callable[[], list[FileChange]],
    *,
    on_write: Callable[[FileChange], None] | None = None,
) -> ApplyResult:
    """Apply the plan that `build_plan` computes under the lock, from the bytes on disk then.

    Computing the plan inside the lock is what makes concurrent runs serialize instead of
    overwriting each other's work.
    """
    with run_lock(paths):
        recovered = [_recover(session) for session in backups.pending_sessions(paths.backups_dir)]
        plan = build_plan()
        _check_plan_is_current(plan)
        to_write = [change for change in plan if needs_write(change)]
        result = ApplyResult(
            session_id=None,
            unchanged=[change for change in plan if not needs_write(change)],
            recovered_sessions=recovered,
        )
        if not to_write:
            return result
        session = backups.create_session(paths.backups_dir, command, to_write)
        result.session_id = session.id
        written: list[tuple[FileChange, int | None]] = []
        try:
            for change in to_write:
                _step_pause(paths)
                mode_before = current_mode(change.path)
                _write(change)
                written.append((change, mode_before))
                _validate(change)
                if on_write:
                    on_write(change)
        except BaseException as failure:
            problems = _roll_back(written)
            session.mark(backups.ROLLED_BACK)
            if isinstance(failure, (KeyboardInterrupt, SystemExit)):
                raise
            detail = "; ".join(problems) if problems else "every file is back as it was"
            raise ApplyFailed(
                f"{_describe(failure)} — rolled back this run's writes ({detail})",
                hint="nothing was left half-done; fix the cause above and run again",
            ) from failure
        session.mark(backups.COMPLETE)
        result.written = [change for change, _ in written]
        backups.prune(paths.backups_dir)
        return result


def _recover(session: backups.Session) -> str:
    backups.cleanup_interrupted(session)
    return session.id


def _check_plan_is_current(plan: list[FileChange]) -> None:
    for change in plan:
        if read_bytes(change.path) != change.before:
            raise ApplyFailed(
                f"{change.path} changed while the plan was being made",
                hint="another program is writing it; run again",
            )


def _write(change: FileChange) -> None:
    if change.after is None:
        atomic_delete(change.path)
    else:
        atomic_write(change.path, change.after, change.target_mode)


def _validate(change: FileChange) -> None:
    actual = read_bytes(change.path)
    if actual != change.after:
        raise ApplyFailed(f"{change.path}: read back different bytes than were written")
    wanted_mode = change.target_mode
    if actual is not None and wanted_mode is not None and current_mode(change.path) != wanted_mode:
        raise ApplyFailed(f"{change.path}: mode is not {oct(wanted_mode)} after writing")
    if actual is not None and change.validate:
        change.validate(actual)


def _roll_back(written: list[tuple[FileChange, int | None]]) -> list[str]:
    problems = []
    for change, mode_before in reversed(written):
        try:
            if change.before is None:
                atomic_delete(change.path)
            else:
                atomic_write(change.path, change.before, mode_before)
        except OSError as error:
            problems.append(f"could not restore {change.path}: {error.strerror or error}")
    return problems


def _describe(failure: BaseException) -> str:
    if isinstance(failure, OSError) and failure.filename:
        return f"{failure.filename}: {failure.strerror or failure}"
    return str(failure) or type(failure).__name__
