"""megallm takes Claude Code's own lock on ~/.claude.json while it compares and replaces it.

Claude Code 2.1.332 saves ~/.claude.json under the lock directory ~/.claude.json.lock
(proper-lockfile: mkdir to take it, rmdir to release it, older than 10 s is stale); the
concurrency trial with a writer doing the same is in tests/test_reliability.py.
"""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from megallm_cli import agentlock, backups, engine, fsio
from megallm_cli.changes import FileChange
from megallm_cli.errors import ApplyFailed
from megallm_cli.paths import Paths
from tests.conftest import TEST_KEY, Home, megallm_executable


@pytest.fixture
def paths(tmp_path: Path) -> Paths:
    home = tmp_path / "home"
    home.mkdir()
    return Paths({"HOME": str(home), "XDG_STATE_HOME": str(tmp_path / "state")}, platform="linux")


def lock_of(paths: Paths) -> Path:
    found = paths.agent_write_lock(paths.claude_state_file)
    assert found is not None
    return found[0]


def state_change(paths: Paths, after: bytes, **kwargs: object) -> FileChange:
    path = paths.claude_state_file
    return FileChange(path, fsio.read_bytes(path), after, "claude-code", "edit", **kwargs)  # type: ignore[arg-type]


def age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def release_later(lock: Path, delay: float) -> threading.Thread:
    def release() -> None:
        time.sleep(delay)
        os.rmdir(lock)

    thread = threading.Thread(target=release)
    thread.start()
    return thread


def test_only_claude_codes_state_file_has_a_lock(paths: Paths) -> None:
    assert paths.agent_write_lock(paths.claude_state_file) == (
        Path(f"{paths.claude_state_file}.lock"),
        "Claude Code",
    )
    assert paths.agent_write_lock(paths.claude_config_dir / "settings.json") is None
    assert paths.agent_write_lock(paths.codex_home / "config.toml") is None


def test_claude_config_dir_moves_the_lock_with_the_file(tmp_path: Path) -> None:
    moved = Paths({"HOME": str(tmp_path), "CLAUDE_CONFIG_DIR": str(tmp_path / "cc")}, "linux")
    assert moved.agent_write_lock(tmp_path / "cc" / ".claude.json") == (
        tmp_path / "cc" / ".claude.json.lock",
        "Claude Code",
    )


def test_held_takes_the_lock_and_gives_it_back(paths: Paths, tmp_path: Path) -> None:
    lock, marker = lock_of(paths), tmp_path / "marker"
    with agentlock.held(lock, marker, owner="Claude Code"):
        assert lock.is_dir()
        named, made = marker.read_text().splitlines()
        assert named == str(lock)
        assert made == f"{lock.stat().st_ino} {lock.stat().st_mtime_ns}"
    assert not lock.exists()
    assert not marker.exists()


def test_held_waits_for_a_live_holder(paths: Paths, tmp_path: Path) -> None:
    lock = lock_of(paths)
    lock.mkdir()
    started = time.monotonic()
    releaser = release_later(lock, 0.3)
    with agentlock.held(lock, tmp_path / "marker", owner="Claude Code"):
        waited = time.monotonic() - started
        assert lock.is_dir()
    releaser.join()
    assert waited >= 0.3


def test_a_long_wait_is_told_once_and_a_short_one_not_at_all(paths: Paths, tmp_path: Path) -> None:
    lock = lock_of(paths)
    told: list[tuple[Path, str, float]] = []

    def notice(held: Path, holder: str, seconds: float) -> None:
        told.append((held, holder, seconds))

    for hold in (0.1, agentlock.NOTICE_AFTER + 0.4):
        lock.mkdir()
        releaser = release_later(lock, hold)
        with agentlock.held(lock, tmp_path / "marker", owner="Claude Code", on_wait=notice):
            pass
        releaser.join()
    assert told == [(lock, "Claude Code", agentlock.WAIT_AT_MOST)]


def test_a_file_by_the_locks_name_is_a_clear_error_at_once(paths: Paths, tmp_path: Path) -> None:
    lock = lock_of(paths)
    lock.write_text("not a lock")
    started = time.monotonic()
    with (
        pytest.raises(ApplyFailed, match=r"is not a directory, and Claude Code uses that name"),
        agentlock.held(lock, tmp_path / "marker", owner="Claude Code"),
    ):
        pass
    assert time.monotonic() - started < 1
    assert lock.read_text() == "not a lock"


def test_held_takes_over_a_stale_lock(paths: Paths, tmp_path: Path) -> None:
    lock = lock_of(paths)
    lock.mkdir()
    age(lock, agentlock.STALE_AFTER + 1)
    started = time.monotonic()
    with agentlock.held(lock, tmp_path / "marker", owner="Claude Code"):
        assert time.monotonic() - started < 1
        assert time.time() - lock.stat().st_mtime < 5  # ours now, not the dead holder's
    assert not lock.exists()


def test_a_lock_held_too_long_is_a_clear_error(
    paths: Paths, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(agentlock, "WAIT_AT_MOST", 0.2)
    lock = lock_of(paths)
    lock.mkdir()
    entered = False
    with (
        pytest.raises(ApplyFailed) as raised,
        agentlock.held(lock, tmp_path / "marker", owner="Claude Code"),
    ):
        entered = True
    assert not entered
    assert "Claude Code has held its lock" in str(raised.value)
    assert str(lock) in str(raised.value)
    assert lock.is_dir()  # the holder's lock is left alone
    assert not (tmp_path / "marker").exists()


def test_a_stale_lock_that_is_not_an_empty_directory_is_not_removed(
    paths: Paths, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(agentlock, "WAIT_AT_MOST", 0.2)
    lock = lock_of(paths)
    lock.mkdir()
    (lock / "keep").write_text("someone's")
    age(lock, agentlock.STALE_AFTER + 1)
    with pytest.raises(ApplyFailed), agentlock.held(lock, tmp_path / "marker", owner="x"):
        pass
    assert (lock / "keep").read_text() == "someone's"


def test_no_lock_where_the_files_directory_does_not_exist(tmp_path: Path) -> None:
    lock = tmp_path / "absent" / ".claude.json.lock"
    with agentlock.held(lock, tmp_path / "marker", owner="Claude Code"):
        assert not lock.parent.exists()
    assert not (tmp_path / "marker").exists()


def test_the_lock_a_killed_run_left_is_removed(paths: Paths, tmp_path: Path) -> None:
    lock, marker = lock_of(paths), tmp_path / "marker"
    marker.write_text(f"{lock}\n")
    lock.mkdir()
    assert agentlock.remove_left_lock(marker) == lock
    assert not lock.exists()
    assert not marker.exists()


def test_a_lock_made_long_after_the_marker_is_the_agents(paths: Paths, tmp_path: Path) -> None:
    lock, marker = lock_of(paths), tmp_path / "marker"
    marker.write_text(f"{lock}\n")
    age(marker, 60)
    lock.mkdir()
    assert agentlock.remove_left_lock(marker) is None
    assert lock.is_dir()
    assert not marker.exists()


def test_a_marker_naming_its_directory_removes_that_one_only(paths: Paths, tmp_path: Path) -> None:
    lock, marker = lock_of(paths), tmp_path / "marker"
    lock.mkdir()
    info = lock.stat()
    marker.write_text(f"{lock}\n{info.st_ino} {info.st_mtime_ns + 1}\n")  # another directory
    assert agentlock.remove_left_lock(marker) is None
    assert lock.is_dir()

    marker.write_text(f"{lock}\n{info.st_ino} {info.st_mtime_ns}\n")
    age(marker, 60)  # however long ago the run was killed
    assert agentlock.remove_left_lock(marker) == lock
    assert not lock.exists()


def test_the_lock_a_killed_run_was_waiting_for_stays(paths: Paths, tmp_path: Path) -> None:
    """Killed while waiting for Claude Code: the lock is older than the marker, and Claude's."""
    lock, marker = lock_of(paths), tmp_path / "marker"
    lock.mkdir()
    age(lock, 1)
    marker.write_text(f"{lock}\n")
    assert agentlock.remove_left_lock(marker) is None
    assert lock.is_dir()


def test_a_lock_taken_over_while_held_is_left_to_its_new_holder(
    paths: Paths, tmp_path: Path
) -> None:
    """Held past the stale time, the lock can be taken over: then it is not ours to remove."""
    lock = lock_of(paths)
    with agentlock.held(lock, tmp_path / "marker", owner="Claude Code"):
        lock.rmdir()  # what the agent does to a lock it finds stale, then it makes its own
        (tmp_path / "takes-the-freed-inode").mkdir()
        lock.mkdir()
        age(lock, 0.5)
    assert lock.is_dir()


def test_the_marker_a_killed_run_was_writing_goes_too(paths: Paths, tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    half_written = tmp_path / ".marker.megallm-4242.tmp"
    half_written.write_text(str(lock_of(paths)))
    assert agentlock.remove_left_lock(marker) is None
    assert not half_written.exists()


def test_without_a_marker_nothing_is_removed(paths: Paths, tmp_path: Path) -> None:
    lock = lock_of(paths)
    lock.mkdir()
    assert agentlock.remove_left_lock(tmp_path / "marker") is None
    assert lock.is_dir()


def test_the_engine_writes_the_state_file_inside_the_lock(paths: Paths) -> None:
    paths.claude_state_file.write_text('{"numStartups": 3}\n')
    seen: list[bool] = []  # while the written file is read back and validated
    result = engine.apply(
        paths,
        "test",
        lambda: [
            state_change(
                paths,
                b'{"numStartups": 3, "x": 1}\n',
                validate=lambda data: seen.append(lock_of(paths).is_dir()),
            )
        ],
    )
    assert result.written and seen == [True]
    assert not lock_of(paths).exists()
    assert not paths.agent_lock_marker.exists()


def test_the_engine_waits_for_claude_code_to_finish_its_save(paths: Paths) -> None:
    paths.claude_state_file.write_text('{"numStartups": 3}\n')
    lock = lock_of(paths)
    lock.mkdir()
    started = time.monotonic()
    releaser = release_later(lock, 0.3)
    written_at: list[float] = []
    engine.apply(
        paths,
        "test",
        lambda: [state_change(paths, b'{"numStartups": 3, "x": 1}\n')],
        on_write=lambda change: written_at.append(time.monotonic() - started),
    )
    releaser.join()
    assert written_at and written_at[0] >= 0.3
    assert paths.claude_state_file.read_bytes() == b'{"numStartups": 3, "x": 1}\n'


def test_the_next_run_removes_the_lock_a_killed_run_held(paths: Paths) -> None:
    paths.claude_state_file.write_text("{}\n")
    paths.backups_dir.mkdir(parents=True)
    lock = lock_of(paths)
    paths.agent_lock_marker.write_text(f"{lock}\n")
    lock.mkdir()
    engine.recover(paths)
    assert not lock.exists()
    assert not paths.agent_lock_marker.exists()


def test_a_file_that_kept_changing_is_planned_again_under_the_agents_lock(paths: Paths) -> None:
    """The second try holds the lock from its read: a writer honouring it cannot interleave."""
    state = paths.claude_state_file
    state.write_text('{"n": 0}\n')
    lock = lock_of(paths)
    plans: list[bool] = []

    def build() -> list[FileChange]:
        plans.append(lock.is_dir())
        planned = state_change(paths, b'{"ours": true}\n')
        if len(plans) == 1:  # Claude Code saves between our first read and our write
            state.write_text('{"n": 1}\n')
        return [planned]

    engine.apply(paths, "test", build)
    assert plans == [False, True]
    assert state.read_bytes() == b'{"ours": true}\n'
    assert not lock.exists()


def test_a_run_killed_while_holding_claude_codes_lock_leaves_nothing_behind(home: Home) -> None:
    """SIGKILL between taking the lock and replacing ~/.claude.json: restore brings the file
    back and removes the lock, so Claude Code is not kept from saving for 10 s."""
    state = home.home / ".claude.json"
    state.write_text('{"numStartups": 2}\n')
    before = home.snapshot()
    lock = Path(f"{state}.lock")
    # a pause before each write, inside the lock: wide enough to kill in on a loaded machine
    env = {**home.env, "MEGALLM_API_KEY": TEST_KEY, "MEGALLM_TEST_STEP_DELAY": "2"}
    setup = subprocess.Popen(
        [megallm_executable(), "setup", "--agent", "claude-code", "--yes", "--no-verify"],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while not lock.exists() and setup.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert lock.is_dir(), "the run took Claude Code's lock before writing ~/.claude.json"
    setup.send_signal(signal.SIGKILL)
    setup.wait()
    assert lock.is_dir()

    result = home.run("restore", "--latest")

    assert result.returncode == 0, result.stderr
    assert not lock.exists()
    assert home.snapshot() == before


def test_a_rolled_back_run_removes_the_directory_it_made_beside_the_lock(tmp_path: Path) -> None:
    """The lock is a directory inside the one the run made: it goes before that one is pruned."""
    config_dir = tmp_path / "claude-config"
    env = {"HOME": str(tmp_path), "XDG_STATE_HOME": str(tmp_path / "state")}
    paths = Paths({**env, "CLAUDE_CONFIG_DIR": str(config_dir)}, platform="linux")

    def refuse(data: bytes) -> None:
        raise ValueError("refused by the check after writing")

    plan = [
        FileChange(paths.claude_state_file, None, b"{}\n", "claude-code", "create"),
        FileChange(tmp_path / "later.json", None, b"{}\n", "other", "create", validate=refuse),
    ]
    with pytest.raises(ApplyFailed, match="every file is back as it was"):
        engine.apply(paths, "test", lambda: plan)
    assert not config_dir.exists()


def test_the_lock_held_from_the_read_goes_once_its_file_is_written(paths: Paths) -> None:
    """On a retry the lock is held from the read to the file's write, not for the whole run."""
    state = paths.claude_state_file
    state.write_text('{"n": 0}\n')
    later = paths.home / "later.json"
    lock = lock_of(paths)
    plans = 0
    held_while_writing_later: list[bool] = []

    def build() -> list[FileChange]:
        nonlocal plans
        plans += 1
        changes = [
            state_change(paths, b'{"ours": true}\n'),
            FileChange(
                later,
                fsio.read_bytes(later),
                b"{}\n",
                "other",
                "create",
                validate=lambda data: held_while_writing_later.append(lock.is_dir()),
            ),
        ]
        if plans == 1:
            state.write_text('{"n": 1}\n')  # Claude Code saves between our read and write
        return changes

    engine.apply(paths, "test", build)
    assert plans == 2
    assert held_while_writing_later == [False]


@pytest.mark.parametrize("platform", ["win32", "linux"])
def test_a_lock_directory_pending_delete_is_busy_on_windows_only(
    paths: Paths, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, platform: str
) -> None:
    """Windows refuses to make a directory whose removal still waits for a handle to close."""
    real_mkdir = os.mkdir
    refusals = [PermissionError(13, "Access is denied")] * 2

    def mkdir(path: Path, mode: int = 0o777) -> None:
        if refusals:
            raise refusals.pop()
        real_mkdir(path, mode)

    monkeypatch.setattr(agentlock.sys, "platform", platform)
    monkeypatch.setattr(agentlock.os, "mkdir", mkdir)
    lock = lock_of(paths)
    if platform == "win32":
        with agentlock.held(lock, tmp_path / "marker", owner="Claude Code"):
            assert lock.is_dir()
    else:
        with (
            pytest.raises(ApplyFailed, match=r"could not take Claude Code's lock .*Permission"),
            agentlock.held(lock, tmp_path / "marker", owner="Claude Code"),
        ):
            pass
    assert not lock.exists()
    assert not (tmp_path / "marker").exists()


def test_a_full_disk_while_naming_the_lock_leaves_neither_lock_nor_marker(
    paths: Paths, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lock, marker = lock_of(paths), tmp_path / "marker"
    real_replace = os.replace

    def replace(source: str | os.PathLike[str], target: str | os.PathLike[str]) -> None:
        if lock.exists():  # the marker naming the directory just made
            raise OSError(errno.ENOSPC, "No space left on device")
        real_replace(source, target)

    monkeypatch.setattr(agentlock.os, "replace", replace)
    entered = False
    with (
        pytest.raises(OSError, match=f"No space left on device: '{marker}'"),
        agentlock.held(lock, marker, owner="Claude Code"),
    ):
        entered = True
    assert not entered
    assert not lock.exists()
    assert sorted(tmp_path.iterdir()) == [tmp_path / "home"]  # no marker, no temp file


def test_a_run_that_cannot_record_its_success_is_undone(
    paths: Paths, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full disk when marking the backup complete: files back as they were, one clear error."""
    paths.claude_state_file.write_text('{"numStartups": 3}\n')
    real_mark = backups.Session.mark

    def mark(session: backups.Session, status: str) -> None:
        if status == backups.COMPLETE:
            raise OSError(errno.ENOSPC, "No space left on device", str(session.manifest_path))
        real_mark(session, status)

    monkeypatch.setattr(backups.Session, "mark", mark)
    with pytest.raises(ApplyFailed, match="No space left on device — rolled back this run's"):
        engine.apply(paths, "test", lambda: [state_change(paths, b'{"x": 1}\n')])
    assert paths.claude_state_file.read_text() == '{"numStartups": 3}\n'
    assert not lock_of(paths).exists()


def test_setup_says_it_waits_for_claude_codes_save(home: Home) -> None:
    state = home.home / ".claude.json"
    state.write_text('{"numStartups": 2}\n')
    lock = Path(f"{state}.lock")
    lock.mkdir()
    releaser = release_later(lock, agentlock.NOTICE_AFTER + 2.5)  # outlasts a slow start
    result = home.setup_claude()
    releaser.join()
    assert result.returncode == 0, result.stderr
    assert f"Claude Code holds {lock}: waiting for it (up to 12 s)" in result.stderr
    assert '"hasCompletedOnboarding": true' in state.read_text()
