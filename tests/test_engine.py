"""Engine and backups on a fake filesystem: sessions, atomic writes, rollback, restore."""

from __future__ import annotations

import errno
import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest
from pyfakefs.fake_filesystem import FakeFilesystem

from megallm_cli import backups, engine, fsio
from megallm_cli.changes import FileChange
from megallm_cli.errors import ApplyFailed
from megallm_cli.paths import Paths

HOME = Path("/home/dev")


@pytest.fixture
def paths(fs: FakeFilesystem) -> Paths:
    fs.create_dir(HOME)
    return Paths({"HOME": str(HOME)}, platform="linux")


def change(path: Path, after: bytes | None, **kwargs: object) -> FileChange:
    return FileChange(path, fsio.read_bytes(path), after, "test", "edit", **kwargs)  # type: ignore[arg-type]


def mode_of(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_apply_records_a_session_before_writing(paths: Paths, fs: FakeFilesystem) -> None:
    existing = HOME / "a.json"
    fs.create_file(existing, contents="old\n")
    os.chmod(existing, 0o640)
    fresh = HOME / "sub" / "b.json"
    result = engine.apply(
        paths, "test", lambda: [change(existing, b"new\n"), change(fresh, b"x", secret=True)]
    )
    assert existing.read_bytes() == b"new\n"
    assert mode_of(existing) == 0o640  # the existing mode is kept
    assert mode_of(fresh) == 0o600  # a new file holding a secret is private
    session = backups.list_sessions(paths.backups_dir)[0]
    assert session.id == result.session_id
    assert session.status == backups.COMPLETE
    assert mode_of(session.directory) == 0o700
    assert mode_of(session.manifest_path) == 0o600
    first, second = session.entries
    assert first.existed and first.mode_before == 0o640
    assert first.sha256_before == backups.sha256(b"old\n")
    assert first.sha256_after == backups.sha256(b"new\n")
    assert session.preimage(first) == b"old\n"
    assert not second.existed and session.preimage(second) is None


def test_secret_makes_an_existing_file_private(paths: Paths, fs: FakeFilesystem) -> None:
    target = HOME / "settings.json"
    fs.create_file(target, contents="{}")
    os.chmod(target, 0o644)
    engine.apply(paths, "test", lambda: [change(target, b'{"k": 1}', secret=True)])
    assert mode_of(target) == 0o600
    restore = backups.plan_restore(backups.find_session(paths.backups_dir, None))
    engine.apply(paths, "restore", lambda: restore.changes)
    assert target.read_bytes() == b"{}" and mode_of(target) == 0o644


def test_failed_validation_rolls_back_every_write(paths: Paths, fs: FakeFilesystem) -> None:
    first = HOME / "first"
    second = HOME / "second"
    fs.create_file(first, contents="one")

    def reject(_: bytes) -> None:
        raise ValueError("agent would not accept this")

    with pytest.raises(ApplyFailed, match="agent would not accept this"):
        engine.apply(
            paths, "test", lambda: [change(first, b"ONE"), change(second, b"two", validate=reject)]
        )
    assert first.read_bytes() == b"one"
    assert not second.exists()
    assert backups.list_sessions(paths.backups_dir)[0].status == backups.ROLLED_BACK


def test_disk_full_mid_run_rolls_back(
    paths: Paths, fs: FakeFilesystem, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = HOME / "first"
    second = HOME / "second"
    fs.create_file(first, contents="one")
    fs.create_file(second, contents="two")
    real_write = fsio.atomic_write

    def full_disk(path: Path, data: bytes, mode: int | None = None, **guard: Any) -> None:
        if path == second and data == b"TWO":
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        real_write(path, data, mode, **guard)

    monkeypatch.setattr(engine, "atomic_write", full_disk)
    with pytest.raises(ApplyFailed, match="No space left"):
        engine.apply(paths, "test", lambda: [change(first, b"ONE"), change(second, b"TWO")])
    assert first.read_bytes() == b"one" and second.read_bytes() == b"two"
    assert not [p for p in HOME.iterdir() if p.name.endswith(".tmp")]


def test_symlinks_are_followed_not_replaced(paths: Paths, fs: FakeFilesystem) -> None:
    real = Path("/dotfiles/settings.json")
    fs.create_file(real, contents="{}")
    link = HOME / "settings.json"
    fs.create_symlink(link, real)
    engine.apply(paths, "test", lambda: [change(link, b'{"a": 1}')])
    assert link.is_symlink()
    assert real.read_bytes() == b'{"a": 1}'


def test_a_plan_with_nothing_to_do_records_no_session(paths: Paths, fs: FakeFilesystem) -> None:
    target = HOME / "same"
    fs.create_file(target, contents="same")
    result = engine.apply(paths, "test", lambda: [change(target, b"same")])
    assert result.session_id is None
    assert backups.list_sessions(paths.backups_dir) == []


def test_retention_keeps_the_last_twenty(paths: Paths, fs: FakeFilesystem) -> None:
    target = HOME / "counter"
    ids = []
    for n in range(25):
        ids.append(
            engine.apply(paths, "test", lambda n=n: [change(target, str(n).encode())]).session_id
        )
    kept = [s.id for s in backups.list_sessions(paths.backups_dir)]
    assert len(kept) == backups.KEEP_SESSIONS
    assert kept == list(reversed(ids))[:20]


def test_restore_is_byte_exact_and_refuses_drift(paths: Paths, fs: FakeFilesystem) -> None:
    edited = HOME / "edited"
    created = HOME / "created"
    fs.create_file(edited, contents=b"\xef\xbb\xbforiginal\r\n")
    engine.apply(paths, "test", lambda: [change(edited, b"ours"), change(created, b"new")])
    session = backups.find_session(paths.backups_dir, None)

    created.write_bytes(b"user edit")
    plan = backups.plan_restore(session)
    assert [d.path for d in plan.drifts] == [str(created)]
    assert [str(c.path) for c in plan.changes] == [str(edited)]

    forced = backups.plan_restore(session, force=True)
    engine.apply(paths, "restore", lambda: forced.changes)
    assert edited.read_bytes() == b"\xef\xbb\xbforiginal\r\n"
    assert not created.exists()


def test_restore_of_a_restored_session_is_a_no_op(paths: Paths, fs: FakeFilesystem) -> None:
    target = HOME / "file"
    fs.create_file(target, contents="a")
    engine.apply(paths, "test", lambda: [change(target, b"b")])
    session = backups.find_session(paths.backups_dir, None)
    engine.apply(paths, "restore", lambda: backups.plan_restore(session).changes)
    again = backups.plan_restore(session)
    assert again.changes == [] and again.unchanged == [str(target)]


def test_interrupted_sessions_are_cleaned_up_by_the_next_run(
    paths: Paths, fs: FakeFilesystem
) -> None:
    target = HOME / "settings.json"
    fs.create_file(target, contents="old")
    session = backups.create_session(paths.backups_dir, "killed", [change(target, b"new")])
    stray = HOME / f".settings.json.megallm-{os.getpid() + 1}.tmp"
    fs.create_file(stray, contents="ne")
    result = engine.apply(paths, "next", lambda: [change(HOME / "other", b"x")])
    assert result.recovered_sessions == [session.id]
    assert not stray.exists()
    assert target.read_bytes() == b"old"
    reloaded = backups.load_session(session.directory)
    assert reloaded.status == backups.INTERRUPTED
    # …and it can still be restored (each file is either its old or its new bytes)
    assert backups.find_session(paths.backups_dir, session.id).id == session.id


def test_find_session_by_unique_prefix(paths: Paths, fs: FakeFilesystem) -> None:
    target = HOME / "f"
    result = engine.apply(paths, "test", lambda: [change(target, b"1")])
    assert result.session_id
    assert backups.find_session(paths.backups_dir, result.session_id[:15]).id == result.session_id
    manifest = json.loads((paths.backups_dir / result.session_id / "manifest.json").read_text())
    assert manifest["version"] == 1 and manifest["command"] == "test"


def test_directories_created_for_a_secret_are_private(paths: Paths, fs: FakeFilesystem) -> None:
    secret_file = HOME / ".config" / "megallm" / "env.sh"
    plain_file = HOME / "plain" / "notes.txt"
    engine.apply(
        paths,
        "test",
        lambda: [change(secret_file, b"export K=1\n", secret=True), change(plain_file, b"x")],
    )
    assert mode_of(secret_file.parent) == 0o700
    assert mode_of(plain_file.parent) == 0o755


def test_restore_removes_the_directories_the_run_made_while_they_are_empty(
    paths: Paths, fs: FakeFilesystem
) -> None:
    fresh = HOME / ".codex" / "deep" / "config.toml"
    session_id = engine.apply(paths, "setup", lambda: [change(fresh, b"x")]).session_id
    assert session_id is not None
    [entry] = backups.find_session(paths.backups_dir, session_id).entries
    assert entry.dirs_created == (str(HOME / ".codex" / "deep"), str(HOME / ".codex"))

    restore = backups.plan_restore(backups.find_session(paths.backups_dir, session_id))
    engine.apply(paths, "restore", lambda: restore.changes)

    assert not (HOME / ".codex").exists()
    assert HOME.is_dir()


def test_restore_keeps_a_directory_the_user_put_something_in(
    paths: Paths, fs: FakeFilesystem
) -> None:
    fresh = HOME / ".codex" / "deep" / "config.toml"
    session_id = engine.apply(paths, "setup", lambda: [change(fresh, b"x")]).session_id
    assert session_id is not None
    fs.create_file(HOME / ".codex" / "history.jsonl")

    restore = backups.plan_restore(backups.find_session(paths.backups_dir, session_id))
    engine.apply(paths, "restore", lambda: restore.changes)

    assert not (HOME / ".codex" / "deep").exists()
    assert (HOME / ".codex" / "history.jsonl").exists()


def test_a_rolled_back_run_leaves_no_directory_it_made(paths: Paths, fs: FakeFilesystem) -> None:
    def reject(data: bytes) -> None:
        raise ValueError("not what the agent accepts")

    fresh = HOME / "made" / "by" / "us.json"
    with pytest.raises(ApplyFailed):
        engine.apply(paths, "setup", lambda: [change(fresh, b"x", validate=reject)])

    assert not (HOME / "made").exists()
