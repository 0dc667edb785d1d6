"""Backup sessions: pre-images and a manifest written before a run's first write.

A session directory holds `manifest.json` and `files/<n>` (the bytes each file had before).
Restoring a session computes FileChanges that put those bytes back, but only for files that
still hold exactly what the run wrote: anything the user changed since is a drift, refused
unless forced.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from megallm_cli import __version__
from megallm_cli.changes import SECRET_DIR_MODE, SECRET_FILE_MODE, FileChange, UserVariableChange
from megallm_cli.errors import MegallmError, UsageError
from megallm_cli.fsio import (
    atomic_write,
    current_mode,
    ensure_dir,
    missing_dirs,
    read_bytes,
    resolve_target,
)

if TYPE_CHECKING:
    from megallm_cli.shellenv import UserEnvironment
    from megallm_cli.threeway import Reverted

MANIFEST_VERSION = 1
KEEP_SESSIONS = 20
POSTIMAGE_LIMIT = 16 * 1024 * 1024
GATEWAY_FLAG = "--base-url"
"""How a setup's command in its manifest names a gateway other than the default."""

PENDING = "pending"
COMPLETE = "complete"
ROLLED_BACK = "rolled-back"
INTERRUPTED = "interrupted"


def _remove_tree(directory: Path, ignore_errors: bool) -> None:
    import shutil

    shutil.rmtree(directory, ignore_errors=ignore_errors)


def sha256(data: bytes | None) -> str | None:
    import hashlib  # here, not at the top: status reads the backups but hashes nothing

    return None if data is None else hashlib.sha256(data).hexdigest()


def _value_sha256(value: str | None) -> str | None:
    return sha256(None if value is None else value.encode("utf-8"))


@dataclass(frozen=True)
class Entry:
    path: str
    target: str
    existed: bool
    mode_before: int | None
    sha256_before: str | None
    sha256_after: str | None
    mode_after: int | None
    agent: str
    summary: str
    secret: bool
    preimage: str | None
    dirs_created: tuple[str, ...] = ()
    """Directories the run made for a file that did not exist, deepest first."""
    postimage: str | None = None
    """The bytes the run wrote to a JSON or TOML config, kept (up to POSTIMAGE_LIMIT) so a
    restore can take out just the run's keys from a file an agent rewrote since, and remove
    can tell a value megallm wrote from one the user set later."""

    @classmethod
    def from_json(cls, raw: dict[str, object]) -> Entry:
        created = raw.get("dirs_created", [])  # older manifests have none
        dirs = tuple(str(d) for d in created) if isinstance(created, list) else ()
        return cls(**{**raw, "dirs_created": dirs})  # type: ignore[arg-type]


@dataclass(frozen=True)
class VariableEntry:
    """A user variable a run set or deleted. The value before is kept in `preimage`, a 0600
    file like the files' pre-images, so the manifest never holds the key."""

    name: str
    agent: str
    sha256_before: str | None
    sha256_after: str | None
    preimage: str | None

    @classmethod
    def from_json(cls, raw: dict[str, object]) -> VariableEntry:
        return cls(**raw)  # type: ignore[arg-type]

    @property
    def location(self) -> str:
        return UserVariableChange(self.name, None, None).location


@dataclass
class Session:
    directory: Path
    id: str
    created: str
    command: str
    status: str
    entries: list[Entry]
    variables: list[VariableEntry] = field(default_factory=list)

    @property
    def manifest_path(self) -> Path:
        return self.directory / "manifest.json"

    @property
    def agents(self) -> list[str]:
        return sorted({entry.agent for entry in self.entries})

    def preimage(self, entry: Entry) -> bytes | None:
        """The bytes `entry`'s file had before the run; a missing or altered copy is an error."""
        return self._copy(entry.preimage, entry.sha256_before, entry.path)

    def postimage(self, entry: Entry) -> bytes | None:
        """The bytes the run wrote, when they were kept and are intact."""
        try:
            return self._copy(entry.postimage, entry.sha256_after, entry.path)
        except MegallmError:
            return None

    def value_before(self, entry: VariableEntry) -> str | None:
        """The value `entry`'s variable had before the run (None: it was not set)."""
        data = self._copy(entry.preimage, entry.sha256_before, entry.location)
        return None if data is None else data.decode("utf-8")

    def _copy(self, name: str | None, digest: str | None, of: str) -> bytes | None:
        """A copy kept in the session (None: none was), checked against its recorded hash."""
        if name is None:
            return None
        path = self.directory / name
        try:
            data = path.read_bytes()
        except OSError as error:
            raise self._damaged(f"{path} cannot be read ({error.strerror})") from None
        if sha256(data) != digest:
            raise self._damaged(f"{path} is not the copy of {of} it was")
        return data

    def _damaged(self, problem: str) -> MegallmError:
        return MegallmError(
            f"backup {self.id} is damaged: {problem}",
            hint="restore another session with --id (see `megallm restore --list`)",
        )

    def to_json(self) -> dict[str, object]:
        return {
            "version": MANIFEST_VERSION,
            "id": self.id,
            "created": self.created,
            "command": self.command,
            "status": self.status,
            "megallm_version": __version__,
            "entries": [entry.__dict__ for entry in self.entries],
            "variables": [entry.__dict__ for entry in self.variables],
        }

    def save(self) -> None:
        data = json.dumps(self.to_json(), indent=2).encode() + b"\n"
        atomic_write(self.manifest_path, data, SECRET_FILE_MODE)

    def mark(self, status: str) -> None:
        self.status = status
        self.save()

    def discard(self) -> None:
        """Delete a session that guards nothing (its run put every file back)."""
        _remove_tree(self.directory, ignore_errors=True)


def new_session_id() -> str:
    """Sortable by time to the microsecond, so --latest is right even for runs a second apart."""
    now = time.time()
    return (
        time.strftime("%Y%m%d-%H%M%S", time.localtime(now)) + f"-{int(now * 1e6) % 1_000_000:06d}"
    )


def create_session(
    backups_dir: Path,
    command: str,
    changes: Iterable[FileChange],
    variables: Iterable[UserVariableChange] = (),
) -> Session:
    """Record pre-images and the manifest (status pending) before anything is written.

    A failure (a full disk) removes what was made; a kill leaves a dir without manifest, which
    the next run removes (remove_orphans): no write happens before the manifest exists.
    """
    ensure_dir(backups_dir.parent, SECRET_DIR_MODE)
    ensure_dir(backups_dir, SECRET_DIR_MODE)
    session_id = new_session_id()
    directory = backups_dir / session_id
    while directory.exists():  # two sessions in the same microsecond: take the next one
        time.sleep(1e-6)
        session_id = new_session_id()
        directory = backups_dir / session_id
    directory.mkdir(mode=SECRET_DIR_MODE)
    try:
        return _record(directory, session_id, command, changes, variables)
    except BaseException:
        _remove_tree(directory, ignore_errors=True)
        raise


def _record(
    directory: Path,
    session_id: str,
    command: str,
    changes: Iterable[FileChange],
    variables: Iterable[UserVariableChange],
) -> Session:
    files_dir = directory / "files"
    files_dir.mkdir(mode=SECRET_DIR_MODE)
    entries: list[Entry] = []
    for index, change in enumerate(changes):
        target = resolve_target(change.path)
        preimage = None
        if change.before is not None:
            preimage = f"files/{index}"
            atomic_write(directory / preimage, change.before, SECRET_FILE_MODE)
        postimage = None
        if (
            change.after is not None
            and len(change.after) <= POSTIMAGE_LIMIT
            # JSON for a key-level restore, TOML to tell megallm's model from the user's
            and change.path.suffix in (".json", ".jsonc", ".toml")
        ):
            postimage = f"files/{index}.after"
            atomic_write(directory / postimage, change.after, SECRET_FILE_MODE)
        mode_before = current_mode(target)
        created = missing_dirs(target.parent) if change.before is None else []
        entries.append(
            Entry(
                path=str(change.path),
                target=str(target),
                existed=change.before is not None,
                mode_before=mode_before,
                sha256_before=sha256(change.before),
                sha256_after=sha256(change.after),
                mode_after=change.target_mode if change.target_mode is not None else mode_before,
                agent=change.agent,
                summary=change.summary,
                secret=change.secret,
                preimage=preimage,
                dirs_created=tuple(str(directory) for directory in created),
                postimage=postimage,
            )
        )
    variable_entries: list[VariableEntry] = []
    for index, variable in enumerate(variables):
        preimage = None
        if variable.before is not None:
            preimage = f"files/variable-{index}"
            atomic_write(directory / preimage, variable.before.encode("utf-8"), SECRET_FILE_MODE)
        variable_entries.append(
            VariableEntry(
                name=variable.name,
                agent=variable.agent,
                sha256_before=_value_sha256(variable.before),
                sha256_after=_value_sha256(variable.after),
                preimage=preimage,
            )
        )
    session = Session(
        directory=directory,
        id=session_id,
        created=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        command=command,
        status=PENDING,
        entries=entries,
        variables=variable_entries,
    )
    session.save()
    return session


@dataclass(frozen=True)
class PriorImage:
    """A file's bytes just before megallm first changed it (None: the file did not exist)."""

    session_id: str
    data: bytes | None


def _history(
    backups_dir: Path, path: Path, *, finished: bool = True, setups: bool = False
) -> Iterator[tuple[Session, Entry]]:
    """Every session's entry for `path` (by its name or the file a link points to), newest
    first; `finished`: complete or interrupted runs only; `setups`: setup runs only."""
    targets = {str(path), str(resolve_target(path))}
    for session in list_sessions(backups_dir):
        if finished and session.status not in (COMPLETE, INTERRUPTED):
            continue
        if setups and not session.command.startswith("setup"):
            continue
        for entry in session.entries:
            if entry.path in targets or entry.target in targets:
                yield session, entry


def image_before_megallm(
    backups_dir: Path, path: Path, is_megallms: Callable[[bytes | None], bool]
) -> PriorImage | None:
    """Walk back from the newest session to the first pre-image of `path` that is not ours.

    Re-runs (key rotation, a new model) and restores of megallm's own state leave pre-images
    that already point at megallm; `is_megallms` says which those are, and they are skipped.
    Unreadable or damaged pre-images are skipped too: `remove` then falls back to deleting.
    """
    for session, entry in _history(backups_dir, path):
        try:
            data = session.preimage(entry)
        except MegallmError:
            continue
        if not is_megallms(data):
            return PriorImage(session.id, data)
    return None


@dataclass(frozen=True)
class PriorValue:
    """A user variable's value just before megallm first set it (None: it was not set)."""

    session_id: str
    value: str | None


def value_before_megallm(backups_dir: Path, name: str) -> PriorValue | None:
    """Walk back from the newest session to the first value of `name` megallm did not set.

    A value some run set (an older key, before a rotation) is megallm's, not the user's.
    """
    sessions = [s for s in list_sessions(backups_dir) if s.status in (COMPLETE, INTERRUPTED)]
    ours = {
        e.sha256_after
        for s in sessions
        if s.command.startswith("setup")  # a remove or restore sets the user's value back
        for e in s.variables
        if e.name == name
    }
    for session in sessions:
        for entry in session.variables:
            if entry.name != name or entry.sha256_before in ours - {None}:
                continue
            try:
                return PriorValue(session.id, session.value_before(entry))
            except MegallmError:
                continue
    return None


def value_megallm_wrote(
    backups_dir: Path, path: Path, read: Callable[[bytes | None], object]
) -> object:
    """The value (`read` from the file's bytes) that the newest setup changing it left in
    `path`; None when no setup changed it or kept a copy. A setup that only re-ran (a key
    rotation) left the value as it found it, maybe the user's own: it does not count."""
    for session, entry in _history(backups_dir, path, setups=True):
        written = session.postimage(entry)
        if written is None:
            return None
        try:
            before = session.preimage(entry)
        except MegallmError:
            return None
        value = read(written)
        if value != read(before):
            return value
    return None


def dirs_created_for(backups_dir: Path, path: Path) -> tuple[Path, ...]:
    """The directories the newest run that created `path` made for it (deepest first)."""
    for _session, entry in _history(backups_dir, path, finished=False):
        if not entry.existed:
            return tuple(Path(directory) for directory in entry.dirs_created)
    return ()


def load_session(directory: Path) -> Session:
    raw = json.loads((directory / "manifest.json").read_text())
    return Session(
        directory=directory,
        id=raw["id"],
        created=raw["created"],
        command=raw["command"],
        status=raw["status"],
        entries=[Entry.from_json(entry) for entry in raw["entries"]],
        variables=[VariableEntry.from_json(entry) for entry in raw.get("variables", [])],
    )


def _session_dirs(backups_dir: Path) -> list[Path]:
    """Session dirs, newest first; dot-dirs are sessions being pruned."""
    if not backups_dir.is_dir():
        return []
    return sorted(
        (d for d in backups_dir.iterdir() if d.is_dir() and not d.name.startswith(".")),
        reverse=True,
    )


def list_sessions(backups_dir: Path) -> list[Session]:
    """All readable sessions, newest first."""
    sessions = []
    for directory in _session_dirs(backups_dir):
        if not (directory / "manifest.json").is_file():
            continue
        try:
            sessions.append(load_session(directory))
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return sessions


def remembered_gateway(backups_dir: Path) -> str | None:
    """The gateway origin the newest setup recorded (`setup … --base-url URL`), or None when
    it used the default or there is none. Reads manifests newest first, only as far as needed:
    every command asks this; what it cannot read, it does not remember."""
    try:
        directories = _session_dirs(backups_dir)
    except OSError:
        return None
    for directory in directories:
        try:
            raw = json.loads((directory / "manifest.json").read_text())
            words = str(raw["command"]).split()
            status = raw["status"]
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if words[:1] != ["setup"] or status not in (COMPLETE, INTERRUPTED):
            continue
        if GATEWAY_FLAG in words[:-1]:
            return words[words.index(GATEWAY_FLAG) + 1]
        return None
    return None


# A pending session is a run that was killed (or is still running: restore then waits for its
# lock and plans from the files as that run left them). Either way every file it touched holds
# its old or its new bytes, so it restores like a complete one.
RESTORABLE = (COMPLETE, INTERRUPTED, PENDING)


def find_session(backups_dir: Path, session_id: str | None) -> Session:
    """The session named by id (a unique prefix is enough), or the newest restorable one."""
    sessions = [s for s in list_sessions(backups_dir) if s.status in RESTORABLE]
    if session_id is None:
        _refuse_damaged_newest(backups_dir, sessions[0] if sessions else None)
    if not sessions:
        raise MegallmError(
            f"no backup sessions in {backups_dir}", hint="nothing has been changed by megallm yet"
        )
    if session_id is None:
        return sessions[0]
    matches = [s for s in sessions if s.id.startswith(session_id)]
    if len(matches) != 1:
        raise UsageError(
            f"no backup session matches '{session_id}'"
            if not matches
            else f"'{session_id}' matches {len(matches)} sessions",
            hint="see `megallm restore --list` for the ids",
        )
    return matches[0]


def _refuse_damaged_newest(backups_dir: Path, newest: Session | None) -> None:
    """--latest must not silently skip a newer run whose manifest cannot be read."""
    for directory in _session_dirs(backups_dir):
        if newest is not None and directory.name <= newest.directory.name:
            return
        manifest = directory / "manifest.json"
        if not manifest.is_file():
            continue  # a run killed before its manifest: it wrote nothing
        try:
            load_session(directory)
        except (OSError, ValueError, KeyError, TypeError):
            raise MegallmError(
                f"backup {directory.name} is damaged: {manifest} cannot be read",
                hint="restore another session with --id (see `megallm restore --list`)",
            ) from None


@dataclass(frozen=True)
class Drift:
    """A file changed since the run that wrote it: restoring would lose the user's edit."""

    path: str
    reason: str


@dataclass(frozen=True)
class RestorePlan:
    session: Session
    changes: list[FileChange]
    drifts: list[Drift]
    unchanged: list[str]
    user_variables: list[UserVariableChange] = field(default_factory=list)
    merged: list[str] = field(default_factory=list)
    """Files changed since the run: only the run's keys are taken out of them."""


def plan_restore(
    session: Session, force: bool = False, user_env: UserEnvironment | None = None
) -> RestorePlan:
    changes: list[FileChange] = []
    drifts: list[Drift] = []
    unchanged: list[str] = []
    merged_paths: list[str] = []
    for entry in session.entries:
        path = Path(entry.path)
        current = read_bytes(path)
        current_hash = sha256(current)
        wanted = session.preimage(entry)
        if current_hash == entry.sha256_before and (
            current is None or current_mode(path) == entry.mode_before
        ):
            unchanged.append(entry.path)
            continue
        summary = f"restore {entry.summary}"
        if current_hash != entry.sha256_after and current_hash != entry.sha256_before:
            # --force asks for the old bytes; without it, a JSON file keeps the changes since.
            merged = (
                None
                if force or current is None
                else _take_out_the_runs_keys(session, entry, wanted, current)
            )
            if merged is None or isinstance(merged, str):
                reason = "deleted since" if current is None else "changed since this run wrote it"
                drifts.append(Drift(entry.path, f"{reason}: {merged}" if merged else reason))
                if not force:
                    continue
            else:
                wanted = merged.data
                if merged.kept_changes:
                    summary = f"restore {entry.summary}, keeping the changes made since"
                    merged_paths.append(entry.path)
        changes.append(
            FileChange(
                path=path,
                before=current,
                after=wanted,
                agent=entry.agent,
                summary=summary,
                # A file kept for later changes keeps its mode: it may hold others' secrets now.
                mode=None if entry.path in merged_paths else entry.mode_before,
                prune_dirs=tuple(Path(directory) for directory in entry.dirs_created),
            )
        )
    variables = _plan_variables_restore(session, force, user_env, drifts, unchanged)
    return RestorePlan(session, changes, drifts, unchanged, variables, merged_paths)


def _take_out_the_runs_keys(
    session: Session, entry: Entry, preimage: bytes | None, current: bytes
) -> Reverted | str | None:
    """For a JSON file changed since the run: the run's keys reverted, the rest kept; or why
    not (str); None for a file that is not merged key by key."""
    if Path(entry.path).suffix not in (".json", ".jsonc") or entry.sha256_after is None:
        return None
    postimage = session.postimage(entry)
    if postimage is None:
        kept = (
            "its copy of what it wrote is damaged"
            if entry.postimage
            else f"it kept no copy (megallm keeps none of files over {POSTIMAGE_LIMIT >> 20} MiB)"
        )
        return f"this run's keys cannot be told from later changes: {kept}"
    from megallm_cli.threeway import Conflict, revert

    result = revert(preimage, postimage, current)
    return result.reason if isinstance(result, Conflict) else result


def _plan_variables_restore(
    session: Session,
    force: bool,
    user_env: UserEnvironment | None,
    drifts: list[Drift],
    unchanged: list[str],
) -> list[UserVariableChange]:
    """Put back each variable the run set, unless someone set it differently since."""
    if not session.variables:
        return []
    if user_env is None:
        raise MegallmError(
            f"backup {session.id} also changed {session.variables[0].location}, which does "
            "not exist here",
            hint="restore it on the Windows account where that run happened",
        )
    changes: list[UserVariableChange] = []
    for entry in session.variables:
        current = user_env.get(entry.name)
        current_hash = _value_sha256(current)
        if current_hash == entry.sha256_before:
            unchanged.append(entry.location)
            continue
        if current_hash != entry.sha256_after:
            reason = "deleted since" if current is None else "changed since this run set it"
            drifts.append(Drift(entry.location, reason))
            if not force:
                continue
        changes.append(
            UserVariableChange(entry.name, current, session.value_before(entry), entry.agent)
        )
    return changes


def prune(backups_dir: Path, keep: int = KEEP_SESSIONS) -> list[str]:
    """Keep the newest `keep` (at least 1) runs that changed files, and every session since.

    Restores and rolled-back runs do not count: undoing ten runs one by one, or runs that put
    everything back, must not push an older run out of the backups before the user gets to it.
    Returns the ids removed. Each goes by an atomic rename to a dot-dir first, so a kill halfway
    through deleting never leaves a session whose manifest lists pre-images that are gone.
    """
    sessions = list_sessions(backups_dir)
    runs = [s for s in sessions if s.status != ROLLED_BACK and not s.command.startswith("restore")]
    if len(runs) <= keep:
        return []
    oldest_kept = runs[max(keep, 1) - 1].id
    removed = []
    for session in (s for s in sessions if s.id < oldest_kept):
        doomed = session.directory.with_name(f".{session.id}.pruned")
        os.rename(session.directory, doomed)
        _remove_tree(doomed, ignore_errors=True)
        removed.append(session.id)
    return removed


def pending_sessions(backups_dir: Path) -> list[Session]:
    return [s for s in list_sessions(backups_dir) if s.status == PENDING]


def remove_orphans(backups_dir: Path) -> list[Path]:
    """Remove what killed runs left in the backups dir and that guards nothing.

    A session dir without manifest.json belongs to a run killed while recording its backup:
    writes start only after the manifest exists, so it never guarded a write. A dot-dir is a
    prune that was killed. Call this only under the run lock.
    """
    if not backups_dir.is_dir():
        return []
    removed = []
    for directory in backups_dir.iterdir():
        if not directory.is_dir():
            continue
        if directory.name.startswith(".") or not (directory / "manifest.json").exists():
            _remove_tree(directory, ignore_errors=True)
            removed.append(directory)
    return removed


def cleanup_interrupted(session: Session) -> list[Path]:
    """A run killed mid-write may leave temp files beside its targets and in its own session
    dir (a pre-image or manifest being written): remove them, keep the rest."""
    from megallm_cli.fsio import stray_temp_files

    removed = []
    for entry in session.entries:
        target = Path(entry.target)
        for temp in stray_temp_files(target.parent):
            if temp.name.startswith(f".{target.name}.megallm-"):
                os.unlink(temp)
                removed.append(temp)
    for directory in (session.directory, session.directory / "files"):
        for temp in stray_temp_files(directory):
            os.unlink(temp)
            removed.append(temp)
    session.mark(INTERRUPTED)
    return removed
