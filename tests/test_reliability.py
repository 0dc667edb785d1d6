"""Nothing is ever lost or leaked: the fast part of scripts/reliability.py, and the fixes it led to.

The trials themselves live in scripts/reliability.py (loaded here by path: scripts/ is not a
package) so that anyone can rerun them at full size; here each runs small enough for CI and must
come out without a single failure. Below them: focused tests of each fix the trials found, and
property tests of the TOML editor.
"""

from __future__ import annotations

import importlib.util
import os
import random
import stat
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from megallm_cli import backups, engine, fsio, ui
from megallm_cli.changes import FileChange
from megallm_cli.errors import ApplyFailed, FileProblem, MegallmError, UsageError
from megallm_cli.formats import toml
from megallm_cli.paths import Paths
from megallm_cli.request import validate_key

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "reliability.py"
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (setpriv, chattr, mount)")


def load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("megallm_reliability", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve their annotations through it
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def trials() -> ModuleType:
    return load_script()


def assert_clean(section: Any) -> None:
    assert not section.failures, "\n".join(section.failures)


# --- the trials, small -----------------------------------------------------------------------


def test_sigkill_leaves_every_file_old_or_new_and_restorable(trials: ModuleType) -> None:
    section = trials.run_crash(
        9, include_slow=False, rng=random.Random(7), homes=("rich", "links-dir", "big-state")
    )
    assert_clean(section)
    assert section.counts["trials"] == 9
    assert section.counts["torn files"] == 0
    assert section.counts["recoveries that failed"] == 0
    # the kills really landed after the backup, where files are being written
    assert section.counts["kills before the manifest"] < 9


def concurrency_counts(section: Any) -> dict[str, int]:
    return {key.split(": ", 1)[1]: value for key, value in section.counts.items()}


def test_setups_racing_claude_code_lose_nothing(trials: ModuleType) -> None:
    """Claude Code saving every 0–5 ms under its lock, as 2.1.332 does: megallm takes the same
    lock, so no key of either side is lost, and every setup gets through."""
    section = trials.run_concurrency(1, 10, (0.005,), modes=("claude-code",))
    assert_clean(section)
    counts = concurrency_counts(section)
    assert counts["setups"] == counts["exit 0"] == 10
    assert counts["foreign keys written"] > 0
    assert counts["foreign keys lost"] == counts["original keys lost"] == 0
    assert counts["our edits lost to the other writer"] == 0


def test_setups_racing_a_writer_that_ignores_the_lock_corrupt_nothing(trials: ModuleType) -> None:
    """A program writing in place without the lock: no file is torn, no key of the original
    file is lost, and a run that cannot find a quiet moment gives up, having changed nothing.
    (Its own newest key can be lost in a window of microseconds: counted in RELIABILITY.md.)"""
    section = trials.run_concurrency(1, 10, (0.05,), modes=("in-place",))
    assert_clean(section)
    counts = concurrency_counts(section)
    assert counts["setups"] == 10
    # giving up: eight tries found the file changed, or the last caught it half-written
    gave_up = sum(
        n for reason, n in counts.items() if "kept changing" in reason or ":LINE:COL:" in reason
    )
    assert counts["exit 0"] + gave_up == 10
    assert counts["foreign keys written"] > 0
    assert counts["corrupted files"] == counts["original keys lost"] == 0
    assert counts["corrupted files"] == 0


def test_corpus_round_trips(trials: ModuleType) -> None:
    homes = (
        *("rich", "bom-crlf", "links-relative", "unicode", "fish", "project"),
        # remove used to fail in these: setup had replaced or filled in something of the user's
        *("conflicting-auth", "empty-env", "empty-object", "empty-files", "whitespace-files"),
        *("model-chosen", "links-dangling", "zdotdir"),
    )
    section = trials.run_roundtrip(include_slow=False, only=homes)
    assert_clean(section)
    checks = ("setup", "foreign_kept", "idempotent", "restore", "remove", "restore_after_agents")
    for check in checks:
        assert section.counts[f"{check} ok"] == len(homes), check


def test_bad_input_gets_one_clear_error_and_changes_nothing(trials: ModuleType) -> None:
    chosen = {
        "MEGALLM_API_KEY with a zero-width space",
        "MEGALLM_LOCK_TIMEOUT not a number",
        "another megallm run holds the lock",
        "a backup whose pre-image was deleted",
        "home/.claude/settings.json: malformed JSON",
        "home/.claude/settings.json: a named pipe in its place",
        "home/.claude/settings.json: a symlink loop",
        "home/.claude/settings.json: a directory in its place",
        "home/.claude.json: non-UTF-8 bytes",
        # reported by these trials, fixed in 3f7311a
        "restore --list --latest",
        "remove --all --agent",
        "~/.claude.json customApiKeyResponses is a string",
    }
    if os.geteuid() == 0:
        chosen |= {
            "home/.claude/settings.json: read-only file (0444)",
            "home/.claude/settings.json: unreadable (another owner, 0600)",
            "home/.claude/settings.json: immutable (chattr +i)",
            "home/.claude.json: unreadable directory (another owner, 0700)",  # HOME itself
            "HOME set but empty",  # fixed in 3f7311a; run as nobody, so / stays safe
        }
    section = trials.run_badinput(quick=True, only=chosen, full_disk=os.geteuid() == 0)
    assert_clean(section)
    assert section.counts["cases"] == len(chosen) + (5 if os.geteuid() == 0 else 0)


def test_deep_nesting_is_a_clear_error(trials: ModuleType) -> None:
    only = {"settings.json nested 100 000 deep"}
    assert_clean(trials.run_badinput(quick=True, only=only, full_disk=False))


def test_remove_deletes_the_shell_files_setup_created(trials: ModuleType) -> None:
    assert_clean(trials.run_roundtrip(include_slow=False, only=("zsh",)))


def test_canary_key_shows_nowhere_it_should_not(trials: ModuleType) -> None:
    section = trials.run_secrets(quick=True, agents=("claude-code",))
    assert_clean(section)
    assert section.counts["commands"] > 40
    assert section.counts["outputs showing the key"] == 0
    assert section.counts["argv showing the key"] == 0
    assert section.counts["argv samples"] > 0
    assert section.counts["programs started"] > 0  # git, at project level: its argv was checked
    assert section.counts["committable project files holding the key"] == 0


# --- the fixes the trials led to ----------------------------------------------------------------


@pytest.fixture
def paths(tmp_path: Path) -> Paths:
    (tmp_path / "home").mkdir()
    return Paths({"HOME": str(tmp_path / "home")}, platform="linux")


def change(path: Path, after: bytes | None, **kwargs: Any) -> FileChange:
    return FileChange(path, fsio.read_bytes(path), after, "test", "edit", **kwargs)


def killed_session(paths: Paths, target: Path, after: bytes) -> backups.Session:
    """A session as a run killed after writing `target` leaves it: pending, temp file beside."""
    session = backups.create_session(paths.backups_dir, "setup", [change(target, after)])
    target.write_bytes(after)
    (target.parent / f".{target.name}.megallm-99999.tmp").write_bytes(after[:3])
    (session.directory / ".manifest.json.megallm-99999.tmp").write_text("{")
    return session


def test_restore_latest_undoes_a_killed_run(paths: Paths) -> None:
    target = paths.home / "settings.json"
    target.write_bytes(b"old")
    earlier = engine.apply(paths, "setup", lambda: [change(target, b"first")]).session_id
    killed = killed_session(paths, target, b"second")
    assert backups.find_session(paths.backups_dir, None).id == killed.id != earlier
    assert engine.recover(paths) == [killed.id]
    assert not list(paths.home.glob(".settings.json.megallm-*.tmp"))
    assert not list(killed.directory.glob(".*.tmp"))
    engine.apply(paths, "restore", lambda: backups.plan_restore(killed).changes)
    assert target.read_bytes() == b"first"


def test_recovery_removes_backups_a_kill_left_without_manifest(paths: Paths) -> None:
    orphan = paths.backups_dir / "20260101-000000-000000"
    (orphan / "files").mkdir(parents=True)
    (orphan / "files" / "0").write_bytes(b"pre-image")
    pruning = paths.backups_dir / ".20250101-000000-000000.pruned"
    pruning.mkdir()
    engine.recover(paths)
    assert list(paths.backups_dir.iterdir()) == []


def test_a_failed_backup_leaves_no_session_and_no_change(
    paths: Paths, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = paths.home / "settings.json"
    target.write_bytes(b"old")
    real_write = backups.atomic_write

    def disk_full(path: Path, data: bytes, mode: int | None = None, **guard: Any) -> None:
        if path.name == "manifest.json":
            raise OSError(28, "No space left on device", str(path))
        real_write(path, data, mode, **guard)

    monkeypatch.setattr(backups, "atomic_write", disk_full)
    with pytest.raises(ApplyFailed, match=r"could not record the backup .*No space left"):
        engine.apply(paths, "setup", lambda: [change(target, b"new")])
    assert target.read_bytes() == b"old"
    assert list(paths.backups_dir.iterdir()) == []


def test_retention_counts_neither_restores_nor_rolled_back_runs(paths: Paths) -> None:
    target = paths.home / "counter"
    runs = [
        engine.apply(paths, "setup", lambda n=n: [change(target, str(n).encode())]).session_id
        for n in range(backups.KEEP_SESSIONS)
    ]
    for session_id in reversed(runs[-5:]):
        session = backups.find_session(paths.backups_dir, session_id)
        plan = backups.plan_restore(session, force=True)
        engine.apply(paths, f"restore {session_id}", lambda plan=plan: plan.changes)
    with pytest.raises(ApplyFailed):  # a run that fails is rolled back, its session kept
        engine.apply(paths, "setup", lambda: [change(target, b"x", validate=reject)])
    kept = {s.id for s in backups.list_sessions(paths.backups_dir)}
    assert set(runs) <= kept  # neither the restores nor the failed run pushed one out
    engine.apply(paths, "setup", lambda: [change(target, b"next")])
    assert runs[0] not in {s.id for s in backups.list_sessions(paths.backups_dir)}


def reject(_: bytes) -> None:
    raise ValueError("the agent would not accept this")


def test_a_damaged_backup_is_named_not_restored(paths: Paths) -> None:
    target = paths.home / "settings.json"
    target.write_bytes(b"old")
    engine.apply(paths, "setup", lambda: [change(target, b"new")])
    session = backups.find_session(paths.backups_dir, None)
    (session.directory / "files" / "0").write_bytes(b"tampered")
    with pytest.raises(MegallmError, match=f"backup {session.id} is damaged"):
        backups.plan_restore(session)
    session.manifest_path.write_text('{"id": ')
    with pytest.raises(MegallmError, match=r"manifest\.json cannot be read"):
        backups.find_session(paths.backups_dir, None)


@pytest.mark.parametrize(
    ("make", "problem"),
    [
        (lambda p: p.mkdir(), "is a directory"),
        (lambda p: os.mkfifo(p), "is not a regular file"),
        (lambda p: p.symlink_to(p.name), "is a symlink loop"),
        (lambda p: p.symlink_to("/dev/null"), "is not a regular file"),
    ],
)
def test_read_bytes_names_what_is_wrong(tmp_path: Path, make: Any, problem: str) -> None:
    path = tmp_path / "settings.json"
    make(path)
    with pytest.raises(FileProblem, match=problem) as raised:
        fsio.read_bytes(path)
    assert raised.value.filename == str(path)
    assert isinstance(raised.value, OSError)  # status and doctor keep skipping such files


def test_a_read_only_file_is_refused_even_for_root(paths: Paths) -> None:
    target = paths.home / "settings.json"
    target.write_bytes(b"protected")
    os.chmod(target, 0o444)
    with pytest.raises(ApplyFailed, match=r"is read-only \(mode 444\); nothing was changed"):
        engine.apply(paths, "setup", lambda: [change(target, b"new")])
    assert target.read_bytes() == b"protected"
    assert backups.list_sessions(paths.backups_dir) == []


def test_a_file_changed_before_replace_is_replanned_not_overwritten(paths: Paths) -> None:
    ours = paths.home / "settings.json"
    theirs = paths.home / "state.json"
    ours.write_bytes(b"a")
    theirs.write_bytes(b"1")
    plans = []

    def plan() -> list[FileChange]:
        plans.append(theirs.read_bytes())
        return [change(ours, b"A"), change(theirs, theirs.read_bytes() + b"+ours")]

    def another_program_writes(written: FileChange) -> None:
        if written.path == ours and len(plans) == 1:
            theirs.write_bytes(b"2")  # lands after our plan, before our write of it

    result = engine.apply(paths, "setup", plan, on_write=another_program_writes)
    assert plans == [b"1", b"2"]
    assert theirs.read_bytes() == b"2+ours"  # their edit kept, ours on top
    assert ours.read_bytes() == b"A"
    assert [s.id for s in backups.list_sessions(paths.backups_dir)] == [result.session_id]


def test_a_file_that_never_settles_fails_clearly_and_changes_nothing(paths: Paths) -> None:
    target = paths.home / "state.json"
    target.write_bytes(b"0")
    counter = iter(range(1, 100))

    def plan() -> list[FileChange]:
        planned = change(target, target.read_bytes() + b"+ours")
        target.write_bytes(str(next(counter)).encode())  # another program, every time
        return [planned]

    with pytest.raises(ApplyFailed, match=r"kept changing .* nothing was changed"):
        engine.apply(paths, "setup", plan)
    assert b"ours" not in target.read_bytes()
    assert backups.list_sessions(paths.backups_dir) == []


def test_an_empty_read_is_trusted_only_once_it_stays_empty(
    paths: Paths, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine, "EMPTY_FILE_SETTLE", 0.5)
    target = paths.home / ".claude.json"
    target.write_bytes(b"")  # truncated by an in-place writer that has not written yet

    def finish_writing() -> None:
        time.sleep(engine.EMPTY_FILE_SETTLE / 3)
        target.write_bytes(b'{"projects": {"/p": {}}}')

    writer = threading.Thread(target=finish_writing)
    writer.start()
    engine.apply(paths, "setup", lambda: [change(target, (target.read_bytes() or b"{}") + b"!")])
    writer.join()
    assert target.read_bytes() == b'{"projects": {"/p": {}}}!'


def test_a_file_empty_for_long_is_planned_from_nothing(paths: Paths) -> None:
    target = paths.home / "settings.json"
    target.write_bytes(b"")
    settled = time.time() - engine.EMPTY_FILE_SETTLE - 1
    os.utime(target, (settled, settled))
    started = time.monotonic()
    engine.apply(paths, "setup", lambda: [change(target, b"{}")])
    assert target.read_bytes() == b"{}"
    assert time.monotonic() - started < engine.EMPTY_FILE_SETTLE  # no wait for an old file


def test_lock_timeout_must_be_a_number(paths: Paths) -> None:
    broken = Paths({**paths.env, "MEGALLM_LOCK_TIMEOUT": "soon"}, platform="linux")
    with pytest.raises(UsageError, match="MEGALLM_LOCK_TIMEOUT must be a number"):
        engine.apply(broken, "setup", lambda: [])


@pytest.mark.parametrize("bad", ["sk-mega-ключ0123456789", "sk-mega-abc\u200bdef0123456789"])
def test_a_non_ascii_key_is_refused(bad: str) -> None:
    with pytest.raises(UsageError, match="non-ASCII character"):
        validate_key(bad)


def test_tails_of_a_known_key_are_masked() -> None:
    key = "sk-mega-tails0123456789abcdefghijklmnop"
    ui.register_secret(key)
    approved = f'"approved": ["{key[-20:]}"]'
    masked = ui.mask(f"{key} {approved} {key[-12:]} short {key[-11:]}")
    assert key[-12:] not in masked
    assert masked == f'sk-mega-…mnop "approved": ["…mnop"] …mnop short {key[-11:]}'


# --- TOML editor: properties --------------------------------------------------------------------

PROPERTY_SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
_BARE = st.from_regex(r"[a-z][a-z0-9_-]{0,8}", fullmatch=True)
_TEXT = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x7f"), max_size=12
)


def _quote(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + "".join(c if c >= " " else f"\\u{ord(c):04x}" for c in escaped) + '"'


_VALUE = st.one_of(
    _TEXT.map(_quote),
    st.integers(-(10**9), 10**9).map(str),
    st.booleans().map(lambda b: "true" if b else "false"),
    st.lists(st.integers(0, 99), max_size=3).map(lambda xs: "[" + ", ".join(map(str, xs)) + "]"),
    st.just("{ a = 1, b = 'x' }"),
    st.just("'C:\\Users\\literal # not a comment'"),
)
# TOML allows no control character in a comment but the tab.
_COMMENT = st.text(
    st.characters(blacklist_categories=("Cs", "Cc"), whitelist_characters="\t"), max_size=12
).map(lambda t: "# " + t)


@st.composite
def toml_documents(draw: st.DrawFn) -> str:
    """Valid TOML as people write it: comments, tables, arrays of tables, odd values."""
    lines: list[str] = []

    def pairs() -> None:
        for key in draw(st.lists(_BARE.map(lambda k: "k" + k), unique=True, max_size=4)):
            trailing = draw(st.one_of(st.just(""), _COMMENT.map(lambda c: "  " + c)))
            lines.append(f"{key} = {draw(_VALUE)}{trailing}")
            if draw(st.booleans()):
                lines.append(draw(_COMMENT))

    pairs()
    tables = draw(st.lists(_BARE.map(lambda k: "t" + k), unique=True, max_size=3))
    for name in tables:
        if draw(st.booleans()):
            lines.append("")
        lines.append(draw(st.sampled_from([f"[{name}]", f'[projects."/home/{name}"]'])))
        pairs()
    if draw(st.booleans()):
        lines += ["", "[model_providers.azure]", 'name = "Azure"']
    if draw(st.booleans()):
        lines += ["[[skills.entries]]", 'name = "a"', "[[skills.entries]]", 'name = "b"']
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    text = newline.join(lines)
    if draw(st.booleans()):
        text += newline
    return ("\ufeff" if draw(st.booleans()) else "") + text


def _megallm_edit(text: str) -> toml.Editor:
    editor = toml.Editor(text)
    editor.set((), "model_provider", "megallm")
    editor.set(("model_providers", "megallm"), "name", "MegaLLM")
    editor.set(("model_providers", "megallm"), "base_url", "https://ai.megallm.io/v1")
    return editor


def _undo(edited: str) -> str:
    undo = toml.Editor(edited)
    undo.delete((), "model_provider")
    undo.delete_table(("model_providers", "megallm"))
    return undo.text()


@PROPERTY_SETTINGS
@given(toml_documents())
def test_toml_edit_then_undo_gives_the_same_values_and_comments(text: str) -> None:
    undone = _undo(_megallm_edit(text).text())
    assert toml.parse(undone) == toml.parse(text)
    assert [line for line in undone.splitlines() if line.lstrip("\ufeff").startswith("#")] == [
        line for line in text.splitlines() if line.lstrip("\ufeff").startswith("#")
    ]


# Found by this property, and fixed: removing the table megallm inserted left the blank line
# put before it when an array of tables followed without one, and a file holding only a newline
# came back empty.
@example("\n")
@example('[model_providers.azure]\nname = "Azure"\n[[skills.entries]]\nname = "a"')
@PROPERTY_SETTINGS
@given(toml_documents())
def test_toml_edit_then_undo_gives_the_same_bytes(text: str) -> None:
    assert _undo(_megallm_edit(text).text()) == text


@PROPERTY_SETTINGS
@given(toml_documents())
def test_toml_edit_changes_only_its_keys_and_keeps_comments_and_layout(text: str) -> None:
    edited = _megallm_edit(text).text()
    before, after = toml.parse(text), toml.parse(edited)
    assert after.pop("model_provider") == "megallm"
    providers = after["model_providers"]
    assert providers.pop("megallm") == {"name": "MegaLLM", "base_url": "https://ai.megallm.io/v1"}
    if not providers:
        del after["model_providers"]
    assert after == before
    for line in text.splitlines():
        assert line in edited.splitlines() or line.lstrip("\ufeff") in edited
    assert edited.startswith("\ufeff") == text.startswith("\ufeff")
    if "\r\n" in text:
        assert edited.count("\n") == edited.count("\r\n")


@PROPERTY_SETTINGS
@given(toml_documents())
def test_toml_edit_is_idempotent(text: str) -> None:
    once = _megallm_edit(text).text()
    assert _megallm_edit(once).text() == once


# --- the corpus itself ----------------------------------------------------------------------------


@pytest.fixture
def built(tmp_path: Path) -> Iterator[tuple[Path, dict[str, str]]]:
    from tests.corpus import corpus_homes

    home = next(h for h in corpus_homes() if h.name == "links-chain")
    yield tmp_path, home.build(tmp_path)


def test_corpus_has_forty_homes_with_every_layout() -> None:
    from tests.corpus import corpus_homes

    homes = corpus_homes()
    assert len(homes) >= 40
    assert len({home.name for home in homes}) == len(homes)
    assert {"crlf", "bom", "tabs", "unicode", "long-lines", "huge-state", "links-dir"} <= {
        home.name for home in homes
    }


def test_corpus_links_are_chains_into_dotfiles(built: tuple[Path, dict[str, str]]) -> None:
    root, env = built
    settings_link = root / "home" / ".claude" / "settings.json"
    middle = Path(os.readlink(settings_link))
    assert settings_link.is_symlink() and middle.is_symlink()
    assert Path(os.path.realpath(settings_link)).parent == root / "home" / "dotfiles"
    assert stat.S_ISREG(os.stat(settings_link).st_mode)
    assert env == {}
