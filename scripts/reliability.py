#!/usr/bin/env python3
"""Reliability trials: evidence that megallm never loses or leaks anything.

Every trial runs the installed `megallm` as a user would, in a throwaway home, and checks the
result from the outside (file bytes, modes, links, backup manifests, process tables):

  crash        SIGKILL `megallm setup` at random moments: every file is its old or its new
               bytes, nothing is written before a backup exists, and restore (or the next run)
               brings the home back byte for byte with nothing stray left
  concurrency  20 setups at once against one HOME while another process rewrites
               ~/.claude.json the way Claude Code does (atomically, and in place)
  roundtrip    setup→restore, setup twice, setup→remove on a corpus of realistic homes
               (tests/corpus): foreign keys, comments, BOM, CRLF and links survive
  badinput     malformed, non-UTF-8, unreadable, read-only, immutable, looping, full-disk…
               inputs: one clear error naming the file, a non-zero exit, nothing changed
  secrets      a canary key through every command: where it appears, with which modes

Usage:
  python scripts/reliability.py                  all sections at full size (a few minutes)
  python scripts/reliability.py --quick          small sizes (tests/test_reliability.py)
  python scripts/reliability.py --only crash,secrets --crash-trials 500 --seed 7
  python scripts/reliability.py --write-doc      also rewrite docs/RELIABILITY.md
  python scripts/reliability.py --baseline       the same against the code before the fixes

Agents are whatever megallm_cli.agents registers when this runs. Root is needed for the
full-disk (tmpfs), unprivileged-user (setpriv) and immutable-file (chattr) cases; without it
they are reported as skipped. Nothing here touches the real home directory or the network.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import random
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from megallm_cli.agents import AGENT_IDS, get_agent  # noqa: E402
from megallm_cli.paths import Paths  # noqa: E402
from tests.corpus import CorpusHome, Recipe, corpus_homes  # noqa: E402

DOC_PATH = ROOT / "docs" / "RELIABILITY.md"
NOBODY = 65534
# A key no real gateway issued; its random body makes any copy of it findable.
CANARY_PREFIX = "sk-mega-canary"
STRAY_TEMP = re.compile(r"^\..+\.megallm-\d+\.tmp$")
# How the CLI reports an exception nobody turned into a message: `unexpected OSError: …`.
UNEXPECTED_ERROR = re.compile(r"error: unexpected _?[A-Z]\w*: ")
SETUP_FLAGS = ("--yes", "--no-verify")
# The files whose fixes this script measures; --baseline takes them from an older commit.
BASELINE_FILES = ("engine.py", "backups.py", "fsio.py")
BASELINE_COMMIT = "34abbcb"
_code_override: list[Path] = []
"""Set by --baseline: megallm runs from this copy of the package instead of the installed one."""


# --- reports -------------------------------------------------------------------------------


@dataclass
class Table:
    title: str
    headers: list[str]
    rows: list[list[str]]

    def markdown(self) -> str:
        def cell(value: str) -> str:
            return value.replace("|", "\\|").replace("\n", " ")

        lines = [f"**{self.title}**", "", "| " + " | ".join(self.headers) + " |"]
        lines.append("|" + "|".join("---" for _ in self.headers) + "|")
        lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in self.rows]
        return "\n".join(lines)


@dataclass
class Section:
    """One experiment's outcome: the tables for people, the counts and failures for tests."""

    name: str
    title: str
    tables: list[Table] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def fail(self, message: str) -> None:
        self.failures.append(message)

    def markdown(self) -> str:
        parts = [f"## {self.title}", ""]
        for table in self.tables:
            parts += [table.markdown(), ""]
        if self.notes:
            parts += [f"- {note}" for note in self.notes] + [""]
        if self.failures:
            parts.append(f"**Failures ({len(self.failures)})**")
            parts.append("")
            parts += [f"- {failure}" for failure in self.failures[:50]]
            if len(self.failures) > 50:
                parts.append(f"- … and {len(self.failures) - 50} more")
            parts.append("")
        else:
            parts += ["No failures.", ""]
        return "\n".join(parts)


# --- running megallm in a throwaway world --------------------------------------------------


def megallm_executable() -> str:
    """The console script next to this Python (the project's venv), else the one on PATH."""
    candidate = Path(sys.executable).parent / "megallm"
    found = str(candidate) if candidate.exists() else shutil.which("megallm")
    if not found:
        raise SystemExit("the megallm console script is not installed: pip install -e '.[test]'")
    return found


def is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def new_canary() -> str:
    return f"{CANARY_PREFIX}{random.getrandbits(128):032x}"


@dataclass
class Run:
    args: tuple[str, ...]
    code: int
    stdout: str
    stderr: str

    @property
    def error_line(self) -> str:
        """The first `error:` line, else the first line of stderr."""
        lines = [line for line in self.stderr.splitlines() if line.strip()]
        return next(
            (line for line in lines if line.startswith("error:")), lines[0] if lines else ""
        )

    @property
    def hint_line(self) -> str:
        return next((line for line in self.stderr.splitlines() if line.startswith("hint:")), "")

    @property
    def has_traceback(self) -> bool:
        return "Traceback (most recent call last)" in self.stdout + self.stderr


@dataclass
class World:
    """A home, a project and an environment that points megallm at them and nowhere else."""

    root: Path
    env: dict[str, str]
    spec: CorpusHome | None = None

    @classmethod
    def create(cls, parent: Path, name: str, spec: CorpusHome | None = None) -> World:
        root = parent / name
        root.mkdir(mode=0o755, parents=True)
        os.chmod(root, 0o755)  # an unprivileged run must be able to reach its home
        (root / "home").mkdir()
        (root / "project").mkdir()
        env = {
            "HOME": str(root / "home"),
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "LANG": "C.UTF-8",
            "NO_COLOR": "1",
            "TERM": "dumb",
            "COLUMNS": "200",
            # Which shell's startup files setup edits must not depend on who runs this script.
            "MEGALLM_SHELL": "bash",
        }
        if spec is not None:
            env.update(spec.build(root))
        return cls(root, env, spec)

    @property
    def home(self) -> Path:
        return self.root / "home"

    @property
    def project(self) -> Path:
        return self.root / "project"

    @property
    def paths(self) -> Paths:
        return Paths(self.env)

    @property
    def state_dir(self) -> Path:
        return self.paths.state_dir

    @property
    def backups_dir(self) -> Path:
        return self.paths.backups_dir

    def command_env(
        self, key: str | None, extra_env: dict[str, str] | None = None
    ) -> dict[str, str]:
        env = dict(self.env)
        if _code_override:
            env["PYTHONPATH"] = str(_code_override[0])
        if key is not None:
            env["MEGALLM_API_KEY"] = key
        env.update(extra_env or {})
        return env

    def run(
        self,
        *args: str,
        key: str | None = None,
        stdin: str = "",
        extra_env: dict[str, str] | None = None,
        as_nobody: bool = False,
        timeout: float = 300,
    ) -> Run:
        prefix = _nobody_prefix() if as_nobody else []
        try:
            completed = subprocess.run(
                [*prefix, megallm_executable(), *args],
                input=stdin,
                capture_output=True,
                text=True,
                env=self.command_env(key, extra_env),
                cwd=self.project,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as expired:
            return Run(args, -1, _text(expired.stdout), _text(expired.stderr) + "\n(timed out)")
        return Run(args, completed.returncode, completed.stdout, completed.stderr)

    def start(
        self, *args: str, key: str | None = None, extra_env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [megallm_executable(), *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=self.command_env(key, extra_env),
            cwd=self.project,
        )

    def agents(self) -> list[str]:
        """Registered agents that can be set up at this world's level."""
        level = self.spec.level if self.spec else "user"
        return [a for a in AGENT_IDS if level in get_agent(a).levels]

    def setup_args(self, agents: Sequence[str] | None = None) -> list[str]:
        level = self.spec.level if self.spec else "user"
        args = ["setup", *SETUP_FLAGS, "--level", level]
        for agent in agents if agents is not None else self.agents():
            args += ["--agent", agent]
        if level == "project":
            args += ["--project-dir", str(self.project)]
        if self.spec:
            args += list(self.spec.setup_flags)
        return args

    def remove_args(self) -> list[str]:
        level = self.spec.level if self.spec else "user"
        args = ["remove", "--yes", "--level", level]
        for agent in self.agents():
            args += ["--agent", agent]
        if level == "project":
            args += ["--project-dir", str(self.project)]
        return args


def _text(value: str | bytes | None) -> str:
    if value is None:
        return ""
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def _nobody_prefix() -> list[str]:
    return ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "--"]


# --- looking at a home from the outside ----------------------------------------------------


@dataclass(frozen=True)
class Node:
    kind: str  # file, link, dir, other
    digest: str  # sha256 of a file's bytes, a link's target, "" otherwise
    mode: int


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def snapshot(root: Path, exclude: Sequence[Path] = ()) -> dict[str, Node]:
    """Every file, link and dir under root (links not followed), minus the excluded trees."""
    nodes: dict[str, Node] = {}
    excluded = [str(path) for path in exclude]
    for directory, dirs, files in os.walk(root):
        if any(directory == e or directory.startswith(e + os.sep) for e in excluded):
            dirs[:] = []
            continue
        for name in [*dirs, *files]:
            path = os.path.join(directory, name)
            if path in excluded:
                continue
            info = os.lstat(path)
            relative = os.path.relpath(path, root)
            mode = stat.S_IMODE(info.st_mode)
            if stat.S_ISLNK(info.st_mode):
                nodes[relative] = Node("link", os.readlink(path), 0)
            elif stat.S_ISDIR(info.st_mode):
                nodes[relative] = Node("dir", "", mode)
            elif stat.S_ISREG(info.st_mode):
                nodes[relative] = Node("file", sha256_file(Path(path)), mode)
            else:
                nodes[relative] = Node("other", "", mode)
    return nodes


def world_snapshot(world: World) -> dict[str, Node]:
    """The user's side of a world: everything but megallm's own state (backups, lock)."""
    return snapshot(world.root, exclude=[world.state_dir])


def changed_paths(before: dict[str, Node], after: dict[str, Node], dirs: bool = False) -> list[str]:
    """Paths whose node differs; created or removed dirs only when `dirs`."""
    found = []
    for path in sorted(set(before) | set(after)):
        old, new = before.get(path), after.get(path)
        if old == new:
            continue
        if not dirs and (old is None or old.kind == "dir") and (new is None or new.kind == "dir"):
            continue
        found.append(path)
    return found


def describe_change(path: str, old: Node | None, new: Node | None) -> str:
    if old is None:
        return f"added {path}"
    if new is None:
        return f"removed {path}"
    if old.kind != new.kind:
        return f"{path}: {old.kind} became {new.kind}"
    if old.digest != new.digest:
        return f"changed {path}"
    return f"{path}: mode {old.mode:o} became {new.mode:o}"


def differences(before: dict[str, Node], after: dict[str, Node], dirs: bool = False) -> list[str]:
    """What changed between two snapshots, one line per path."""
    return [
        describe_change(path, before.get(path), after.get(path))
        for path in changed_paths(before, after, dirs)
    ]


def stray_temps(root: Path) -> list[Path]:
    """Temp files of interrupted writes, anywhere: beside configs and in the backups."""
    return sorted(
        Path(directory) / name
        for directory, _dirs, files in os.walk(root)
        for name in files
        if STRAY_TEMP.match(name)
    )


@dataclass
class SessionView:
    """A backup session as its manifest describes it, read without megallm's code."""

    directory: Path
    id: str
    status: str
    command: str
    entries: list[dict[str, Any]]

    def damage(self) -> list[str]:
        """Pre-images that are missing or not the bytes the manifest says."""
        problems = []
        for entry in self.entries:
            if entry.get("preimage") is None:
                continue
            preimage = self.directory / entry["preimage"]
            if not preimage.is_file():
                problems.append(f"{self.id}: pre-image of {entry['path']} is missing")
            elif sha256_file(preimage) != entry["sha256_before"]:
                problems.append(f"{self.id}: pre-image of {entry['path']} has other bytes")
        return problems


def read_sessions(backups_dir: Path) -> tuple[list[SessionView], list[Path]]:
    """Sessions newest first, and session dirs without a readable manifest (orphans)."""
    sessions: list[SessionView] = []
    orphans: list[Path] = []
    if not backups_dir.is_dir():
        return sessions, orphans
    for directory in sorted(backups_dir.iterdir(), reverse=True):
        if not directory.is_dir():
            continue
        try:
            raw = json.loads((directory / "manifest.json").read_text())
            sessions.append(
                SessionView(directory, raw["id"], raw["status"], raw["command"], raw["entries"])
            )
        except (OSError, ValueError, KeyError):
            orphans.append(directory)
    return sessions, orphans


def entry_index(sessions: Sequence[SessionView]) -> dict[str, list[dict[str, Any]]]:
    """Manifest entries by the path of the file they changed: as named, and after links."""
    index: dict[str, list[dict[str, Any]]] = {}
    for session in sessions:
        for entry in session.entries:
            # A file reached through a linked directory is recorded under its link path.
            for key in {entry["path"], entry["target"], os.path.realpath(entry["target"])}:
                index.setdefault(key, []).append(entry)
    return index


def _corpus_home(name: str) -> CorpusHome:
    return next(home for home in corpus_homes() if home.name == name)


def strip_jsonc(text: str) -> str:
    """JSONC → JSON: comments and trailing commas out, strings untouched (no megallm code)."""
    out: list[str] = []
    index = 0
    in_string = False
    pending_comma: int | None = None
    while index < len(text):
        char = text[index]
        if in_string:
            out.append(char)
            if char == "\\":
                out.append(text[index + 1])
                index += 1
            elif char == '"':
                in_string = False
        elif text.startswith("//", index):
            end = text.find("\n", index)
            index = len(text) if end < 0 else end
            continue
        elif text.startswith("/*", index):
            end = text.find("*/", index + 2)
            if end < 0:
                raise ValueError("unterminated block comment")
            index = end + 2
            out.append(" ")
            continue
        elif char in "}]" and pending_comma is not None:
            out[pending_comma] = " "
            out.append(char)
            pending_comma = None
        else:
            if char == ",":
                pending_comma = len(out)
            elif not char.isspace():
                pending_comma = None
            in_string = char == '"'
            out.append(char)
        index += 1
    return "".join(out)


def parse_config(data: bytes, name: str) -> Any:
    """Parse a JSON, JSONC or TOML config the way its agent would; ValueError if it cannot."""
    text = data.decode("utf-8-sig")
    if name.endswith(".toml"):
        try:
            import tomllib

            return tomllib.loads(text)
        except ImportError:  # Python 3.10
            import tomlkit

            return tomlkit.parse(text).unwrap()
    if not text.strip():
        return {}
    try:
        return json.loads(text)
    except ValueError:
        return json.loads(strip_jsonc(text))


def bytes_of(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return None


@contextlib.contextmanager
def scratch(prefix: str, keep: bool = False) -> Iterator[Path]:
    directory = Path(tempfile.mkdtemp(prefix=f"megallm-{prefix}-"))
    os.chmod(directory, 0o755)
    try:
        yield directory
    finally:
        if not keep:
            _remove_tree(directory)


def _remove_tree(directory: Path) -> None:
    """rmtree that also gets through what a trial left unreadable or immutable."""
    shutil.rmtree(directory, ignore_errors=True)
    if not directory.exists():
        return
    for path in [directory, *directory.rglob("*")]:
        with contextlib.suppress(OSError):
            if path.is_symlink():
                continue
            if is_root():
                subprocess.run(["chattr", "-i", str(path)], capture_output=True, check=False)
            os.chmod(path, 0o700 if path.is_dir() else 0o600)
    shutil.rmtree(directory, ignore_errors=True)


# --- 1. crash safety -----------------------------------------------------------------------

CRASH_HOMES = (
    "rich",
    "crlf",
    "links-absolute",
    "links-dir",
    "prior-megallm",
    "empty",
    "big-state",
    "modes",
)
CRASH_SLOW_HOMES = ("huge-state",)
KILL_STRATEGIES = ("anytime", "after-backup", "in-writes")
RECOVERIES = ("restore", "next-run")


@dataclass(frozen=True)
class Calibration:
    duration: float
    """Seconds an uninterrupted setup takes."""
    write_phase: float
    """Seconds from the manifest appearing to the process exiting."""


def _wait_for_manifest(backups_dir: Path, process: subprocess.Popen[bytes], limit: float) -> bool:
    deadline = time.monotonic() + limit
    while process.poll() is None and time.monotonic() < deadline:
        if backups_dir.is_dir() and any(backups_dir.glob("*/manifest.json")):
            return True
        time.sleep(0.0002)
    return False


def _calibrate(parent: Path, spec: CorpusHome) -> Calibration:
    world = World.create(parent, f"calibrate-{spec.name}", spec)
    started = time.monotonic()
    process = world.start(*world.setup_args(), key=new_canary())
    _wait_for_manifest(world.backups_dir, process, 120)
    seen = time.monotonic()
    _out, err = process.communicate()
    ended = time.monotonic()
    if process.returncode != 0:
        raise SystemExit(f"setup fails in home {spec.name}: {err.decode(errors='replace')}")
    _remove_tree(world.root)
    return Calibration(ended - started, ended - seen)


def _classify(world: World, sessions: list[SessionView], orphans: list[Path]) -> str:
    """Where in setup's life the kill landed, judged from what it left."""
    if not sessions:
        return "while recording the backup" if orphans else "before any backup existed"
    newest = sessions[0]
    if newest.status == "complete":
        return "after the run was marked complete"
    written = 0
    for entry in newest.entries:
        target = Path(entry["target"])
        current = bytes_of(target)
        digest = hashlib.sha256(current).hexdigest() if current is not None else None
        if digest == entry["sha256_after"] and digest != entry["sha256_before"]:
            written += 1
    beside_targets = [
        temp for temp in stray_temps(world.root) if not str(temp).startswith(str(world.state_dir))
    ]
    if beside_targets:
        return "in the middle of writing a file"
    if written == 0:
        return "backup recorded, no file written yet"
    if written < len(newest.entries):
        return "between two file writes"
    return "all files written, run not yet marked complete"


def _check_after_kill(
    section: Section, trial: str, world: World, before: dict[str, Node]
) -> tuple[list[SessionView], list[Path]]:
    """Every changed file is in a backup session and holds its old or new bytes, never else."""
    sessions, orphans = read_sessions(world.backups_dir)
    index = entry_index(sessions)
    after = world_snapshot(world)
    strays = {str(path.relative_to(world.root)) for path in stray_temps(world.root)}
    section.counts["stray temps right after a kill"] += len(strays)
    section.counts["agent locks right after a kill"] += Path(
        f"{world.paths.claude_state_file}.lock"
    ).exists()
    for relative in sorted(set(before) | set(after)):
        old, new = before.get(relative), after.get(relative)
        if relative in strays or old == new:
            continue
        if (old is None or old.kind == "dir") and (new is None or new.kind == "dir"):
            continue  # a directory made for a new file; files are what must be old or new
        entries = index.get(str(world.root / relative))
        if not entries:
            section.counts["files changed without a backup"] += 1
            section.fail(f"{trial}: {relative} changed but no backup session records it")
            continue
        digest = new.digest if new is not None and new.kind == "file" else None
        old_digests = {entry["sha256_before"] for entry in entries}
        new_digests = {entry["sha256_after"] for entry in entries}
        if digest not in old_digests | new_digests:
            section.counts["torn files"] += 1
            size = os.path.getsize(world.root / relative) if new is not None else "-"
            section.fail(f"{trial}: {relative} is neither its old nor its new bytes ({size} B)")
            continue
        wanted_modes = {
            entry["mode_after"] if digest in new_digests else entry["mode_before"]
            for entry in entries
        }
        # None: a file megallm creates without a mode of its own gets the umask's default.
        if new is not None and None not in wanted_modes and new.mode not in wanted_modes:
            section.counts["files with a torn mode"] += 1
            section.fail(f"{trial}: {relative} has mode {new.mode:o}, not {wanted_modes}")
    for session in sessions:
        for problem in session.damage():
            section.counts["damaged backup sessions"] += 1
            section.fail(f"{trial}: {problem}")
    return sessions, orphans


def _check_clean(section: Section, trial: str, world: World, when: str) -> None:
    strays = stray_temps(world.root)
    _sessions, orphans = read_sessions(world.backups_dir)
    for path in strays:
        section.counts[f"stray temps {when}"] += 1
        section.fail(f"{trial}: stray temp {path.relative_to(world.root)} left {when}")
    for path in orphans:
        section.counts[f"orphan backup dirs {when}"] += 1
        section.fail(f"{trial}: backup dir without manifest {path.name} left {when}")
    # Claude Code's lock, which megallm holds while it replaces ~/.claude.json
    if Path(f"{world.paths.claude_state_file}.lock").exists():
        section.counts[f"agent locks {when}"] += 1
        section.fail(f"{trial}: ~/.claude.json.lock left {when}")


def _recover(
    section: Section,
    trial: str,
    world: World,
    how: str,
    args: list[str],
    key: str,
    sessions: list[SessionView],
) -> bool:
    """Bring the home back the way a user would; True when it is byte-identical again."""
    if how == "restore":
        run = world.run("restore", "--latest")
        if not sessions:
            if run.code == 0:
                section.fail(f"{trial}: restore --latest claims success with no session")
                return False
        elif run.code != 0:
            section.fail(f"{trial}: restore --latest failed: {run.error_line}")
            return False
        _check_clean(section, trial, world, "after restore")
        return True
    rerun = world.run(*args, key=key)
    if rerun.code != 0:
        section.fail(f"{trial}: the next setup failed: {rerun.error_line}")
        return False
    _check_clean(section, trial, world, "after the next run")
    after, _orphans = read_sessions(world.backups_dir)
    statuses = {s.id: s.status for s in after}
    for session in sessions:
        if session.status == "pending" and statuses.get(session.id) != "interrupted":
            section.fail(f"{trial}: killed session {session.id} is {statuses.get(session.id)}")
    for session in after:
        if session.status not in ("complete", "interrupted"):
            continue
        run = world.run("restore", "--id", session.id)
        if run.code != 0:
            section.fail(f"{trial}: restore --id {session.id} failed: {run.error_line}")
            return False
    return True


def run_crash(
    trials: int, include_slow: bool, rng: random.Random, homes: Sequence[str] = ()
) -> Section:
    section = Section("crash", "1. Crash safety: SIGKILL during `megallm setup`")
    specs = {home.name: home for home in corpus_homes(include_slow)}
    wanted = homes or (*CRASH_HOMES, *(CRASH_SLOW_HOMES if include_slow else ()))
    names = [name for name in wanted if name in specs]
    landed: Counter[str] = Counter()
    by_strategy: Counter[str] = Counter()
    recovered: Counter[str] = Counter()
    with scratch("crash") as parent:
        calibration = {name: _calibrate(parent, specs[name]) for name in names}
        for index in range(trials):
            name = names[index % len(names)]
            strategy = KILL_STRATEGIES[index % len(KILL_STRATEGIES)]
            how = RECOVERIES[(index // len(KILL_STRATEGIES)) % len(RECOVERIES)]
            trial = f"trial {index} ({name}, {strategy}, {how})"
            world = World.create(parent, f"trial-{index}", specs[name])
            before = world_snapshot(world)
            args = world.setup_args()
            key = new_canary()
            timing = calibration[name]
            delay = rng.uniform(0.002, 0.03) if strategy == "after-backup" else 0.0
            extra = {"MEGALLM_TEST_STEP_DELAY": f"{delay:.4f}"} if delay else {}
            process = world.start(*args, key=key, extra_env=extra)
            if strategy == "anytime":
                time.sleep(rng.uniform(0, timing.duration * 1.1))
            else:
                _wait_for_manifest(world.backups_dir, process, 120)
                files = max(1, len(world.agents()) * 2)
                window = files * delay + timing.write_phase
                time.sleep(rng.uniform(0, window * 1.1))
            finished = process.poll() is not None
            if not finished:
                process.send_signal(signal.SIGKILL)
            process.communicate()
            by_strategy[strategy] += 1
            sessions, orphans = _check_after_kill(section, trial, world, before)
            where = "run had already finished" if finished else _classify(world, sessions, orphans)
            landed[where] += 1
            if not sessions:
                # Nothing may be written before the manifest exists (checked file by file above).
                section.counts["kills before the manifest"] += 1
            if _recover(section, trial, world, how, args, key, sessions):
                final = world_snapshot(world)
                diffs = differences(before, final)
                if diffs:
                    section.counts["recoveries that failed"] += 1
                    section.fail(f"{trial}: after {how}, not byte-identical: {diffs[:3]}")
                else:
                    recovered[how] += 1
            else:
                section.counts["recoveries that failed"] += 1
            section.counts["trials"] += 1
            _remove_tree(world.root)
    counts = section.counts
    section.tables.append(
        Table(
            "Trials",
            ["homes", "kill strategy", "trials", "recovered by restore", "recovered by next run"],
            [
                [
                    ", ".join(names),
                    "; ".join(f"{s}: {by_strategy[s]}" for s in KILL_STRATEGIES),
                    str(counts["trials"]),
                    str(recovered["restore"]),
                    str(recovered["next-run"]),
                ]
            ],
        )
    )
    section.tables.append(
        Table(
            "Where the kill landed",
            ["moment", "trials"],
            [[moment, str(n)] for moment, n in landed.most_common()],
        )
    )
    invariants = [
        ("torn files (neither old nor new bytes)", "torn files"),
        ("files changed without a backup session", "files changed without a backup"),
        ("files whose mode is neither old nor new", "files with a torn mode"),
        ("damaged backup sessions", "damaged backup sessions"),
        ("recoveries that failed (not byte-identical)", "recoveries that failed"),
        ("stray temp files after restore", "stray temps after restore"),
        ("stray temp files after the next run", "stray temps after the next run"),
        ("Claude Code's lock left after restore", "agent locks after restore"),
        ("Claude Code's lock left after the next run", "agent locks after the next run"),
        ("backup dirs without manifest after restore", "orphan backup dirs after restore"),
        (
            "backup dirs without manifest after the next run",
            "orphan backup dirs after the next run",
        ),
    ]
    rows = [[label, str(counts[name]), "0"] for label, name in invariants]
    rows.append(
        [
            "stray temp files right after a kill (cleaned by recovery)",
            str(counts["stray temps right after a kill"]),
            "any",
        ]
    )
    rows.append(
        [
            "Claude Code's lock held right after a kill (removed by recovery)",
            str(counts["agent locks right after a kill"]),
            "any",
        ]
    )
    rows.append(
        ["kills before the manifest existed", str(counts["kills before the manifest"]), "any"]
    )
    section.tables.append(Table("Invariants", ["check", "count", "must be"], rows))
    section.notes.append(
        "Kill strategies: `anytime` = no step delay, kill at a uniform moment of a calibrated run; "
        "`after-backup` = MEGALLM_TEST_STEP_DELAY of 2–30 ms, kill at a uniform moment after the "
        "manifest appears; `in-writes` = no delay, kill within the measured write phase."
    )
    section.notes.append(
        "Recovery alternates between `megallm restore --latest` straight after the kill and the "
        "next `megallm setup` (which recovers the killed session) followed by restoring every "
        "session newest first. Either way the home must end byte-identical (bytes, modes, links)."
    )
    return section


# --- 2. concurrency ------------------------------------------------------------------------

# `claude-code` is how Claude Code 2.1.332 saves ~/.claude.json (seen with strace): under its
# lock directory ~/.claude.json.lock, through a temp file and rename. The other two ignore the
# lock, as Claude Code did before it took one and as any other tool may.
WRITER_MODES = ("claude-code", "atomic", "in-place")
LOCK_HONOURING_MODES = ("claude-code",)
FOREIGN_PROJECT = "/work/foreign-"
# Claude Code's waits for a busy lock (ms, each times 1 + random) before its save gives up.
CLAUDE_LOCK_WAITS = (5, 10, 20, 40, 80)


def _take_claude_lock(lock: Path) -> bool:
    for wait in (*CLAUDE_LOCK_WAITS, None):
        try:
            os.mkdir(lock)
            return True
        except FileExistsError:
            if wait is None:
                return False
            time.sleep(wait * (1 + random.random()) / 1000)
    return False


def foreign_writer(path: Path, mode: str, stop: Path, result: Path, pause: float) -> None:
    """Rewrite ~/.claude.json the way Claude Code does until `stop` exists.

    Claude Code reads the whole file, changes numStartups and projects, and writes it all back:
    under its lock through a temp file and rename (`claude-code`), or without the lock through
    a temp file and rename (`atomic`), or truncate-then-write in place (`in-place`, what Claude
    Code 2.1.x did before, per anthropics/claude-code#29158 and #35345).
    """
    written: list[int] = []
    torn_reads = 0
    gave_up = 0
    counter = 0
    lock = Path(f"{path}.lock")
    result.with_suffix(".ready").touch()
    while not stop.exists():
        locked = mode in LOCK_HONOURING_MODES
        if locked and not _take_claude_lock(lock):
            gave_up += 1  # Claude Code's save fails with ELOCKED and is tried again later
            continue
        try:
            data = path.read_bytes()
            try:
                value = json.loads(data)
            except ValueError:
                torn_reads += 1  # what Claude Code reports as "configuration file is corrupted"
                time.sleep(0.001)
                continue
            value["numStartups"] = value.get("numStartups", 0) + 1
            value.setdefault("projects", {})[f"{FOREIGN_PROJECT}{counter}"] = {"lastCost": counter}
            text = json.dumps(value, indent=2)
            if mode == "in-place":
                with open(path, "w") as handle:
                    handle.write(text)
            else:
                temp = path.with_name(f".claude.json.tmp.{os.getpid()}")
                temp.write_text(text)
                os.replace(temp, path)
        finally:
            if locked:
                os.rmdir(lock)
        written.append(counter)
        counter += 1
        time.sleep(random.uniform(0, pause))
    result.write_text(
        json.dumps({"written": written, "torn_reads": torn_reads, "gave_up": gave_up})
    )


def _start_foreign_writer(
    world: World, mode: str, pause: float
) -> tuple[subprocess.Popen[bytes], Path, Path]:
    stop = world.root.parent / f"{world.root.name}.writer-stop"
    result = world.root.parent / f"{world.root.name}.writer.json"
    command = [sys.executable, str(Path(__file__).resolve()), "_foreign-writer"]
    args = [str(world.paths.claude_state_file), mode, str(stop), str(result), str(pause)]
    writer = subprocess.Popen([*command, *args])
    deadline = time.monotonic() + 30
    while not result.with_suffix(".ready").exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    return writer, stop, result


def _keys_in_files(world: World, keys: Sequence[str]) -> dict[str, list[str]]:
    """Which of `keys` appear in which files outside megallm's state (backups hold old ones)."""
    found: dict[str, list[str]] = {}
    encoded = [(key, key.encode()) for key in keys]
    for relative, node in world_snapshot(world).items():
        if node.kind != "file":
            continue
        data = (world.root / relative).read_bytes()
        for key, raw in encoded:
            if raw in data:
                found.setdefault(key, []).append(relative)
    return found


def _parse_problems(world: World) -> list[str]:
    """Config files under the world that no longer parse (with parsers independent of megallm)."""
    problems = []
    for relative, node in world_snapshot(world).items():
        path = world.root / relative
        if node.kind != "file" or path.suffix not in (".json", ".jsonc", ".toml"):
            continue
        try:
            parse_config(path.read_bytes(), path.name)
        except ValueError as error:
            problems.append(f"{relative}: {error}")
    return problems


def _concurrency_round(
    section: Section,
    parent: Path,
    label: str,
    mode: str,
    runs: int,
    pause: float,
    tally: Counter[str],
) -> None:
    world = World.create(parent, label, _corpus_home("rich"))
    before = world_snapshot(world)
    state_file = world.paths.claude_state_file
    original_projects = set(json.loads(state_file.read_bytes())["projects"])
    writer, stop, result = _start_foreign_writer(world, mode, pause)
    keys = [new_canary() for _ in range(runs)]
    args = [*world.setup_args(), "--claude-auth", "api-key"]
    extra = {"MEGALLM_LOCK_TIMEOUT": "600"}
    processes = [world.start(*args, key=key, extra_env=extra) for key in keys]
    outcomes = [(process.wait(), process.communicate()[1].decode()) for process in processes]
    stop.touch()
    writer.wait()
    report = json.loads(result.read_text())
    tally["setups"] += runs
    succeeded = [key for key, (code, _err) in zip(keys, outcomes, strict=True) if code == 0]
    tally["exit 0"] += len(succeeded)
    for code, err in outcomes:
        if code != 0:
            line = Run((), code, "", err).error_line
            line = line.replace(str(world.root), "…")
            reason = re.sub(r":\d+:\d+:", ":LINE:COL:", line)[:110]
            tally[f"failed: {reason}"] += 1
    problems = _parse_problems(world)
    tally["corrupted files"] += len(problems)
    for problem in problems:
        section.fail(f"{label}: corrupted {problem}")
    tally["torn reads by the other writer"] += report["torn_reads"]
    tally["other writer's saves refused by the lock"] += report["gave_up"]
    try:
        final = json.loads(state_file.read_bytes())
    except ValueError as error:
        tally["corrupted files"] += 1
        section.fail(f"{label}: {state_file.name} does not parse at the end: {error}")
        final = {}
    present = set(final.get("projects", {}))
    written = {f"{FOREIGN_PROJECT}{n}" for n in report["written"]}
    lost = written - present
    tally["foreign keys written"] += len(written)
    tally["foreign keys lost"] += len(lost)
    tally["original keys lost"] += len(original_projects - present)
    approved = set((final.get("customApiKeyResponses") or {}).get("approved") or [])
    tally["our edits lost to the other writer"] += sum(
        1 for key in succeeded if key[-20:] not in approved
    )
    holders = _keys_in_files(world, keys)
    if succeeded and len(holders) != 1:
        tally["final states mixing runs"] += 1
        section.fail(f"{label}: files hold {len(holders)} different runs' keys: {holders}")
    sessions, orphans = read_sessions(world.backups_dir)
    tally["backup sessions"] += len(sessions)
    for problem in [p for s in sessions for p in s.damage()] + [str(o) for o in orphans]:
        tally["backup sessions that cannot be restored"] += 1
        section.fail(f"{label}: {problem}")
    for session in sessions:
        if session.status not in ("complete", "interrupted"):
            continue
        run = world.run("restore", "--id", session.id, "--force")
        if run.code != 0:
            tally["backup sessions that cannot be restored"] += 1
            section.fail(f"{label}: restore --id {session.id} --force: {run.error_line}")
    # The other writer's edits are not megallm's to undo: the state file must end as the oldest
    # session found it; every other file exactly as before the round.
    state = str(state_file.relative_to(world.root))
    restorable = [s for s in sessions if s.status in ("complete", "interrupted")]
    oldest = [e for s in restorable for e in s.entries if e["target"] == str(state_file)]
    diffs = [d for d in differences(before, world_snapshot(world)) if not d.endswith(state)]
    if oldest and oldest[-1]["sha256_before"] != sha256_file(state_file):
        diffs.append(f"{state} is not what the oldest session found")
    if diffs:
        tally["restore chains not byte-identical"] += 1
        section.fail(f"{label}: restoring every session newest first left {diffs[:3]}")
    _remove_tree(world.root)


def run_concurrency(
    rounds: int, runs: int, pauses: Sequence[float], modes: Sequence[str] = WRITER_MODES
) -> Section:
    section = Section("concurrency", "2. Concurrency: 20 setups at once and Claude Code writing")
    combos = [(mode, pause) for pause in pauses for mode in modes]
    names = {combo: f"{combo[0]}, 0–{combo[1] * 1000:.0f} ms" for combo in combos}
    tallies = {combo: Counter[str]() for combo in combos}
    with scratch("concurrency") as parent:
        for mode, pause in combos:
            for index in range(rounds):
                label = f"{mode}-{pause * 1000:.0f}ms-round-{index}"
                _concurrency_round(section, parent, label, mode, runs, pause, tallies[mode, pause])
    rows = [
        ("setups run", "setups", "any"),
        ("setups that succeeded", "exit 0", "any"),
        ("corrupted files", "corrupted files", "0"),
        ("torn reads seen by the other writer", "torn reads by the other writer", "0"),
        (
            "other writer's saves refused by its lock",
            "other writer's saves refused by the lock",
            "any",
        ),
        ("foreign keys the other writer added", "foreign keys written", "any"),
        ("foreign keys lost", "foreign keys lost", "0 with the lock"),
        ("keys of the original file lost", "original keys lost", "0"),
        ("final states mixing two runs' keys", "final states mixing runs", "0"),
        ("backup sessions", "backup sessions", "any"),
        ("backup sessions that cannot be restored", "backup sessions that cannot be restored", "0"),
        ("restore chains not as expected", "restore chains not byte-identical", "0"),
        (
            "our edits the other writer overwrote",
            "our edits lost to the other writer",
            "0 with the lock",
        ),
    ]
    reasons = sorted({k for t in tallies.values() for k in t if k.startswith("failed: ")})
    section.tables.append(
        Table(
            f"{rounds} round(s) of {runs} setups at once, per way the other program writes",
            ["", *(f"other writer: {names[combo]}" for combo in combos), "must be"],
            [[label, *(str(tallies[c][key]) for c in combos), must] for label, key, must in rows]
            + [[k, *(str(tallies[c][k]) for c in combos), "any"] for k in reasons],
        )
    )
    for combo in combos:
        tally = tallies[combo]
        section.counts.update({f"{names[combo]}: {key}": value for key, value in tally.items()})
        must_be_zero = ["corrupted files", "original keys lost"]
        if combo[0] in LOCK_HONOURING_MODES:
            must_be_zero += ["foreign keys lost", "our edits lost to the other writer"]
        for key in must_be_zero:
            if tally[key]:
                section.fail(f"other writer {names[combo]}: {key}: {tally[key]}")
    section.notes.append(
        "Each round: a fresh home and a process rewriting ~/.claude.json with random pauses "
        "(0–5 ms: a stress rate; 0–50 ms: a busy agent), then "
        f"{runs} `megallm setup` runs started together, each with its own key and "
        "`--claude-auth api-key` so that every run edits ~/.claude.json. Afterwards every "
        "session is restored newest first with `--force`: every file must be as before the "
        "round, and ~/.claude.json as the oldest session found it."
    )
    section.notes.append(
        "megallm takes Claude Code's own lock (~/.claude.json.lock) while it compares and "
        "replaces ~/.claude.json, so with a writer that honours it (`claude-code`, as Claude Code "
        "2.1.332 does) neither side can write between the other's read and write: nothing may "
        "be lost. A writer that ignores the lock (`atomic`, `in-place`) can still write in the "
        "microseconds between megallm's last comparison and its rename, or read before megallm's "
        "write and write back after it: its key or our approved key is then lost. No tool can "
        "close that window without the writer's cooperation; the counts for those columns "
        "measure how often it happens. `megallm doctor` reports a lost approval. "
        "Failed setups changed nothing (their backups were discarded or rolled back)."
    )
    return section


# --- 3. round trips on the corpus ----------------------------------------------------------

# Leaves megallm may change in each kind of file (DESIGN §3); every other leaf is the user's.
OWNED_LEAVES: dict[str, tuple[tuple[str, ...], ...]] = {
    "claude-settings": (
        ("env", "ANTHROPIC_BASE_URL"),
        ("env", "ANTHROPIC_AUTH_TOKEN"),
        ("env", "ANTHROPIC_API_KEY"),
        ("env", "ANTHROPIC_MODEL"),
    ),
    "claude-state": (("hasCompletedOnboarding",), ("customApiKeyResponses",)),
    "codex": (("model_provider",), ("model",), ("model_providers", "megallm")),
    "opencode": (("provider", "megallm"), ("model",)),
    "cline": (("version",), ("lastUsedProvider",), ("providers", "openai-compatible")),
    "vscode": (("roo-cline.autoImportSettingsPath",), ("kilo-code.autoImportSettingsPath",)),
}
BLOCK_START = re.compile(r"^\s*#(?:region)? ?>*\s*megallm")
BLOCK_END = re.compile(r"^\s*#(?:endregion)? ?<*\s*megallm")


def file_kind(world: World, path: Path) -> str:
    """What a file is to the agents, from where it lives."""
    paths = world.paths
    vscode = {paths.vscode_user_dir(v) / "settings.json" for v in VSCODE_VARIANT_NAMES}
    kinds = {
        paths.claude_config_dir / "settings.json": "claude-settings",
        world.project / ".claude" / "settings.local.json": "claude-settings",
        world.project / ".claude" / "settings.json": "claude-settings",
        paths.claude_state_file: "claude-state",
        paths.codex_home / "config.toml": "codex",
        paths.cline_data_dir / "settings" / "providers.json": "cline",
        **{v: "vscode" for v in vscode},
        **{
            directory / name: "opencode"
            for directory in (paths.opencode_dir, paths.kilo_dir, world.project / ".kilo")
            for name in (
                "opencode.jsonc",
                "opencode.json",
                "config.json",
                "kilo.jsonc",
                "kilo.json",
            )
        },
        world.project / "opencode.jsonc": "opencode",
        world.project / "opencode.json": "opencode",
    }
    # Compared after links: a dotfiles manager may keep the real file anywhere.
    by_target = {os.path.realpath(known): kind for known, kind in kinds.items()}
    real = os.path.realpath(path)
    if real in by_target:
        return by_target[real]
    if path.suffix in (".json", ".jsonc", ".toml"):
        return "config"
    return "text"


VSCODE_VARIANT_NAMES = ("Code", "Code - Insiders", "VSCodium", "Cursor", "Windsurf")


def leaves(value: Any, prefix: tuple[str, ...] = ()) -> dict[tuple[str, ...], Any]:
    """Every scalar, list and empty object by its key path."""
    if isinstance(value, dict) and value:
        found: dict[tuple[str, ...], Any] = {}
        for key, inner in value.items():
            found.update(leaves(inner, (*prefix, str(key))))
        return found
    return {prefix: value}


def _owned(path: tuple[str, ...], kind: str) -> bool:
    return any(path[: len(owned)] == owned for owned in OWNED_LEAVES.get(kind, ()))


def _holds_owned(path: tuple[str, ...], kind: str) -> bool:
    return any(owned[: len(path)] == path for owned in OWNED_LEAVES.get(kind, ()))


def foreign_changes(kind: str, before: bytes, after: bytes, name: str) -> list[str]:
    """User-owned content that differs: changed or dropped leaves, lost comments, BOM, CRLF."""
    problems = []
    if kind == "text":
        old_lines = before.decode("utf-8", "surrogateescape").splitlines()
        new_lines = _without_megallm_block(after.decode("utf-8", "surrogateescape").splitlines())
        if _trim(old_lines) != _trim(new_lines):
            problems.append("lines outside the megallm block changed")
        return problems
    old_value, new_value = parse_config(before, name), parse_config(after, name)
    old_leaves, new_leaves = leaves(old_value), leaves(new_value)
    for path, value in old_leaves.items():
        if value in ({}, []) and _holds_owned(path, kind):
            continue  # an empty object megallm fills, such as "env": {}
        if path and not _owned(path, kind) and new_leaves.get(path, _MISSING) != value:
            problems.append(f"foreign key {'.'.join(path)} changed or dropped")
    for path in new_leaves.keys() - old_leaves.keys():
        if (
            path
            and not _owned(path, kind)
            and not any(path[: len(p)] == p for p in old_leaves if p)
        ):
            problems.append(f"added {'.'.join(path)}, which megallm does not own")
    if kind == "claude-state":
        old_answers = (old_value.get("customApiKeyResponses") or {}) if old_value else {}
        new_answers = new_value.get("customApiKeyResponses") or {}
        for item in old_answers.get("approved", []):
            if item not in new_answers.get("approved", []):
                problems.append(f"approved key …{item[-4:]} dropped")
    old_text = before.decode("utf-8", "surrogateescape")
    new_text = after.decode("utf-8", "surrogateescape")
    for line in old_text.splitlines():
        if line.strip().startswith(("//", "#", "/*")) and line.rstrip("\r") not in new_text:
            problems.append(f"comment lost: {line.strip()[:40]}")
    if before.startswith(b"\xef\xbb\xbf") != after.startswith(b"\xef\xbb\xbf"):
        problems.append("BOM added or dropped")
    all_crlf = b"\r\n" in before and before.count(b"\n") == before.count(b"\r\n")
    if all_crlf and after.count(b"\n") != after.count(b"\r\n"):
        problems.append("bare LF line endings written into a CRLF file")
    return problems


_MISSING = object()


def _without_megallm_block(lines: list[str]) -> list[str]:
    kept, inside = [], False
    for line in lines:
        if BLOCK_START.match(line):
            inside = True
        elif inside and BLOCK_END.match(line):
            inside = False
        elif not inside:
            kept.append(line)
    return kept


def _trim(lines: list[str]) -> list[str]:
    trimmed = [line.rstrip("\r") for line in lines]
    while trimmed and not trimmed[-1].strip():
        trimmed.pop()
    return trimmed


@dataclass
class RoundTrip:
    home: str
    agents: int
    setup: str = "–"
    foreign_kept: str = "–"
    idempotent: str = "–"
    restore: str = "–"
    remove: str = "–"
    restore_after_agents: str = "–"
    keeps: list[str] = field(default_factory=list)


def file_bytes(world: World, nodes: dict[str, Node]) -> dict[str, bytes]:
    """The bytes of every file in a snapshot, to compare content with later."""
    return {
        rel: (world.root / rel).read_bytes() for rel, node in nodes.items() if node.kind == "file"
    }


def _setup_checks(
    section: Section, world: World, row: RoundTrip, originals: dict[str, bytes], key: str
) -> dict[str, Node] | None:
    before = world_snapshot(world)
    setup = world.run(*world.setup_args(), key=key)
    if setup.code != 0:
        row.setup = "FAIL"
        section.fail(f"{row.home}: setup failed: {setup.error_line}")
        return None
    row.setup = "ok"
    after = world_snapshot(world)
    problems = []
    for relative, node in before.items():
        new = after.get(relative)
        if node.kind == "link" and new != node:
            problems.append(f"{relative}: the symlink was replaced")
        if node.kind != "file" or new is None or new.digest == node.digest:
            continue
        path = world.root / relative
        try:
            found = foreign_changes(
                file_kind(world, path), originals[relative], path.read_bytes(), path.name
            )
        except ValueError as error:
            found = [f"does not parse: {error}"]
        problems += [f"{relative}: {problem}" for problem in found]
    row.foreign_kept = "ok" if not problems else f"FAIL ({len(problems)})"
    for problem in problems:
        section.fail(f"{row.home}: {problem}")
    return after


def _remove_checks(
    section: Section,
    world: World,
    row: RoundTrip,
    before: dict[str, Node],
    originals: dict[str, bytes],
    key: str,
) -> None:
    removal = world.run(*world.remove_args())
    if removal.code != 0:
        row.remove = "FAIL"
        section.fail(f"{row.home}: remove failed: {removal.error_line}")
        return
    after = world_snapshot(world)
    problems = []
    for relative in changed_paths(before, after):
        path = world.root / relative
        kind = file_kind(world, path)
        if kind == "claude-state" and after.get(relative) is not None:
            problems += _claude_state_keeps(section, row, path, originals.get(relative), key)
            continue
        if path.name == ".gitignore" and path.is_relative_to(world.project) and path.exists():
            old_lines = set((originals.get(relative) or b"").decode().splitlines())
            added = set(path.read_text().splitlines()) - old_lines
            if added <= {"settings.local.json"}:
                row.keeps.append(f".gitignore: git-ignores {', '.join(sorted(added))}")
                continue
        old, new = before.get(relative), after.get(relative)
        if b"megallm" in (originals.get(relative) or b"").lower():
            # megallm's own earlier setup (an old key, its rc block): remove takes it out too.
            row.keeps.append("nothing of an earlier megallm setup (it is removed too)")
            continue
        if old and new and (old.kind, old.digest) == (new.kind, new.digest) and new.mode == 0o600:
            # The file held the key; remove takes the key out and leaves it private.
            row.keeps.append(f"mode 600 on a file that held the key (was {old.mode:o})")
            continue
        problems.append(describe_change(relative, old, new))
    row.remove = "ok" if not problems else f"FAIL ({len(problems)})"
    for problem in problems:
        section.fail(f"{row.home}: after setup→remove: {problem}")


def _claude_state_keeps(
    section: Section, row: RoundTrip, path: Path, original: bytes | None, key: str
) -> list[str]:
    """~/.claude.json after remove: onboarding stays done; nothing else of the user's moved."""
    value = parse_config(path.read_bytes(), path.name)
    old_value = parse_config(original, path.name) if original is not None else {}
    if value.get("hasCompletedOnboarding") is True and not old_value.get("hasCompletedOnboarding"):
        row.keeps.append("hasCompletedOnboarding: true in ~/.claude.json")
    if key[-20:] in json.dumps(value):
        row.keeps.append("the key's last 20 characters in ~/.claude.json customApiKeyResponses")
        section.counts["remove keeps 20 characters of the key"] += 1
    old_leaves = {p: v for p, v in leaves(old_value).items() if p and not _owned(p, "claude-state")}
    new_leaves = {p: v for p, v in leaves(value).items() if p and not _owned(p, "claude-state")}
    return [] if old_leaves == new_leaves else [f"{path.name}: user keys differ after remove"]


def _round_trip(section: Section, parent: Path, spec: CorpusHome) -> RoundTrip:
    world = World.create(parent, spec.name, spec)
    key = new_canary()
    row = RoundTrip(spec.name, len(world.agents()))
    before = world_snapshot(world)
    originals = file_bytes(world, before)
    after = _setup_checks(section, world, row, originals, key)
    if after is None:
        return row
    sessions_before = len(read_sessions(world.backups_dir)[0])
    again = world.run(*world.setup_args(), key=key)
    repeated = world_snapshot(world)
    sessions_after = len(read_sessions(world.backups_dir)[0])
    if again.code != 0 or differences(after, repeated) or sessions_after != sessions_before:
        row.idempotent = "FAIL"
        detail = again.error_line if again.code else str(differences(after, repeated)[:3])
        section.fail(f"{row.home}: second setup is not a no-op: {detail}")
    else:
        row.idempotent = "ok"
    restore = world.run("restore", "--latest")
    diffs = differences(before, world_snapshot(world))
    strays = [str(path) for path in stray_temps(world.root)]
    if restore.code != 0 or diffs or strays:
        row.restore = "FAIL"
        detail = restore.error_line if restore.code else str((diffs + strays)[:3])
        section.fail(f"{row.home}: setup→restore not byte-identical: {detail}")
    else:
        row.restore = "ok"
    if world.run(*world.setup_args(), key=key).code != 0:
        section.fail(f"{row.home}: setup after restore failed")
        return row
    _remove_checks(section, world, row, before, originals, key)
    _restore_after_agents_checks(section, world, row, key)
    return row


AGENT_WROTE = "writtenByTheAgentSince"
AGENT_JSON_KINDS = ("claude-settings", "claude-state", "cline", "vscode", "opencode")


def _restore_after_agents_checks(section: Section, world: World, row: RoundTrip, key: str) -> None:
    """setup, then each agent rewrites its JSON file as agents do (parsed, one key added, written
    back reformatted), then `restore --latest` without --force: the agents' key must stay and
    everything else be as before the setup."""
    before = world_snapshot(world)
    originals = file_bytes(world, before)
    if world.run(*world.setup_args(), key=key).code != 0:
        row.restore_after_agents = "FAIL"
        section.fail(f"{row.home}: setup before the agents' rewrite failed")
        return
    rewritten = []
    for relative in changed_paths(before, world_snapshot(world)):
        path = world.root / relative
        if not path.is_file() or file_kind(world, path) not in AGENT_JSON_KINDS:
            continue
        try:
            document = parse_config(path.read_bytes(), path.name)
        except ValueError:
            continue
        if isinstance(document, dict):
            document[AGENT_WROTE] = 1
            path.write_text(json.dumps(document, indent=2) + "\n")  # in place, as agents do
            rewritten.append(relative)
    restore = world.run("restore", "--latest")
    problems = []
    if restore.code != 0:
        problems.append(f"restore failed: {restore.error_line}")
    else:
        for relative in changed_paths(before, world_snapshot(world)):
            if relative not in rewritten:
                problems.append(describe_change(relative, before.get(relative), None))
                continue
            path = world.root / relative
            expected = parse_config(originals[relative], path.name) if relative in originals else {}
            expected = {**(expected or {}), AGENT_WROTE: 1}
            if parse_config(path.read_bytes(), path.name) != expected:
                problems.append(f"{relative}: not the file before setup plus the agent's key")
    section.counts["files rewritten by an agent before restore"] += len(rewritten)
    row.restore_after_agents = "ok" if not problems else f"FAIL ({len(problems)})"
    for problem in problems:
        section.fail(f"{row.home}: setup→agents wrote→restore: {problem}")


def run_roundtrip(include_slow: bool, only: Sequence[str] = ()) -> Section:
    section = Section("roundtrip", "3. Round trips on a corpus of realistic homes")
    homes = [h for h in corpus_homes(include_slow) if not only or h.name in only]
    rows = []
    with scratch("roundtrip") as parent:
        for spec in homes:
            rows.append(_round_trip(section, parent, spec))
            _remove_tree(parent / spec.name)
    columns = ("setup", "foreign_kept", "idempotent", "restore", "remove", "restore_after_agents")
    for column in columns:
        section.counts[f"{column} ok"] = sum(1 for row in rows if getattr(row, column) == "ok")
    section.counts["homes"] = len(rows)
    summary = {home.name: home.summary for home in homes}
    section.tables.append(
        Table(
            f"{len(rows)} homes, agents: {', '.join(AGENT_IDS)}",
            [
                "home",
                "what is in it",
                "agents",
                "setup",
                "foreign keys, comments, BOM, CRLF, links kept",
                "setup twice = once",
                "setup→restore byte-identical",
                "setup→remove leaves only the user's bytes",
                "setup→agents rewrite their JSON→restore keeps the agents' change",
            ],
            [
                [row.home, summary[row.home], str(row.agents)]
                + [getattr(row, column) for column in columns]
                for row in rows
            ],
        )
    )
    section.tables.append(
        Table(
            "Pass counts",
            ["check", "passed", "homes"],
            [[column, str(section.counts[f"{column} ok"]), str(len(rows))] for column in columns],
        )
    )
    keeps = Counter(keep for row in rows for keep in set(row.keeps))
    section.tables.append(
        Table(
            "What setup→remove keeps (everything else is byte-identical to before setup)",
            ["kept", "homes"],
            [[keep, str(n)] for keep, n in keeps.most_common()],
        )
    )
    return section


# --- 4. bad input --------------------------------------------------------------------------

MALFORMED = {
    ".json": b'{\n  "permissions": {"allow": ["Bash(ls)"]},\n  "model": "opus"\n  "env": {}\n}\n',
    ".jsonc": b'{\n  // unclosed\n  "theme": "x",\n  "provider": {\n}\n',
    ".toml": b'model = "gpt-5"\n[model_providers.azure\nname = "Azure"\n',
}
NON_UTF8 = {
    ".json": b'{"model": "caf\xe9"}\n',
    ".jsonc": b'{"theme": "caf\xe9"}\n',
    ".toml": b'model = "caf\xe9"\n',
}


@dataclass(frozen=True)
class BadCase:
    """One bad input and what a user must see: a clear error that names `names`."""

    name: str
    prepare: Callable[[World], None] = lambda world: None
    args: tuple[str, ...] | None = None
    """None: setup for every registered agent at user level."""
    key: str | None = "canary"
    extra_env: tuple[tuple[str, str], ...] = ()
    stdin: str = ""
    expect: str = "error"
    """error (non-zero exit, nothing changed) or ok (handled: exit 0)."""
    names: Callable[[World], str] | None = None
    as_nobody: bool = False
    needs_root: bool = False
    hold_lock: bool = False
    """Run while this process holds megallm's lock, as a second megallm run would."""


@dataclass
class BadOutcome:
    case: BadCase
    code: int
    message: str
    unchanged: bool
    verdict: str


def _owned_by_nobody(world: World) -> None:
    for path in [world.root, *world.root.rglob("*")]:
        os.lchown(path, NOBODY, NOBODY)


def _replace_with(path: Path, make: Callable[[Path], None]) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    make(path)


def _file_cases(relative: str, ours: bool) -> list[BadCase]:
    """Every way one config file can be bad; `relative` is under the world root."""
    suffix = Path(relative).suffix
    parent = str(Path(relative).parent)

    def at(world: World) -> Path:
        return world.root / relative

    def named(world: World) -> str:
        return str(at(world))

    def write(data: bytes) -> Callable[[World], None]:
        return lambda world: _replace_with(at(world), lambda p: p.write_bytes(data))

    def as_nobody_with(
        mode_path: Callable[[World], Path], owner: int, mode: int
    ) -> Callable[[World], None]:
        def prepare(world: World) -> None:
            if not at(world).exists() and not at(world).is_symlink():
                _replace_with(
                    at(world), lambda p: p.write_bytes(b"{}\n" if suffix != ".toml" else b"")
                )
            _owned_by_nobody(world)
            target = mode_path(world)
            os.chown(target, owner, owner)
            os.chmod(target, mode)

        return prepare

    cases: list[BadCase] = []
    if suffix in MALFORMED and not ours:
        cases.append(
            BadCase(
                f"{relative}: malformed {suffix[1:].upper()}", write(MALFORMED[suffix]), names=named
            )
        )
        cases.append(BadCase(f"{relative}: non-UTF-8 bytes", write(NON_UTF8[suffix]), names=named))
        cases.append(
            BadCase(f"{relative}: UTF-16 text", write('{"a": 1}\n'.encode("utf-16")), names=named)
        )
    cases += [
        BadCase(
            f"{relative}: a directory in its place",
            lambda w: _replace_with(at(w), lambda p: p.mkdir()),
            names=named,
        ),
        BadCase(
            f"{relative}: a named pipe in its place",
            lambda w: _replace_with(at(w), os.mkfifo),
            names=named,
        ),
        BadCase(
            f"{relative}: a symlink loop",
            lambda w: _replace_with(at(w), lambda p: p.symlink_to(p.name)),
            names=named,
        ),
        BadCase(
            f"{relative}: a link to /dev/null",
            lambda w: _replace_with(at(w), lambda p: p.symlink_to("/dev/null")),
            names=named,
        ),
        BadCase(
            f"{relative}: unreadable (another owner, 0600)",
            as_nobody_with(at, 0, 0o600),
            names=named,
            as_nobody=True,
            needs_root=True,
        ),
        BadCase(
            f"{relative}: read-only file (0444)",
            as_nobody_with(at, NOBODY, 0o444),
            names=named,
            as_nobody=True,
            needs_root=True,
        ),
        BadCase(
            f"{relative}: read-only directory (0555)",
            as_nobody_with(lambda w: at(w).parent, NOBODY, 0o555),
            names=lambda w: str(at(w).parent),
            as_nobody=True,
            needs_root=True,
        ),
        BadCase(
            f"{relative}: unreadable directory (another owner, 0700)",
            as_nobody_with(lambda w: at(w).parent, 0, 0o700),
            names=lambda w: str(at(w).parent),
            as_nobody=True,
            needs_root=True,
        ),
        BadCase(
            f"{relative}: immutable (chattr +i)",
            lambda w: _immutable(at(w), suffix),
            names=named,
            needs_root=True,
        ),
    ]
    if parent not in ("home", "."):
        cases.append(
            BadCase(
                f"{relative}: its directory is a file",
                lambda w: _replace_with(
                    at(w).parent, lambda p: p.write_bytes(b"not a directory\n")
                ),
                names=lambda w: str(at(w).parent),
            )
        )
    return cases


def _immutable(path: Path, suffix: str) -> None:
    if not path.exists():
        _replace_with(path, lambda p: p.write_bytes(b"" if suffix == ".toml" else b"{}\n"))
    subprocess.run(["chattr", "+i", str(path)], check=True, capture_output=True)


def _generic_cases() -> list[BadCase]:
    def settings(world: World) -> Path:
        return world.paths.claude_config_dir / "settings.json"

    def put_settings(data: bytes) -> Callable[[World], None]:
        return lambda world: _replace_with(settings(world), lambda p: p.write_bytes(data))

    def named_settings(world: World) -> str:
        return str(settings(world))

    def state(world: World) -> Path:
        return world.paths.claude_state_file

    def make_state_dir(world: World) -> None:
        world.paths.state_dir.mkdir(parents=True, exist_ok=True)

    claude = ("setup", *SETUP_FLAGS, "--agent", "claude-code")
    keys = {
        "empty": "",
        "only spaces": "   ",
        "a space inside": "sk-mega-abc def0123456789abcdef",
        "a double quote": 'sk-mega-abc"def0123456789abcdef',
        "a newline": "sk-mega-abc\ndef0123456789abcdef",
        "a backslash": "sk-mega-abc\\def0123456789abcdef",
        "a dollar sign": "sk-mega-abc$HOME0123456789abcdef",
        "Cyrillic letters": "sk-mega-ключ0123456789abcdef01",
        "a zero-width space": "sk-mega-abc\u200bdef0123456789abcdef",
    }
    cases = [
        BadCase(f"MEGALLM_API_KEY with {what}", args=claude, key=value, names=lambda w: "key")
        for what, value in keys.items()
    ]
    cases += [
        BadCase(
            "--api-key-stdin with nothing on stdin", args=(*claude, "--api-key-stdin"), key=None
        ),
        BadCase(
            "--api-key-stdin with a blank line",
            args=(*claude, "--api-key-stdin"),
            key=None,
            stdin="  \n",
        ),
        BadCase("no key and no terminal", args=claude, key=None, names=lambda w: "MEGALLM_API_KEY"),
        BadCase(
            "HOME set but empty",
            args=claude,
            extra_env=(("HOME", ""),),
            as_nobody=True,
            needs_root=True,
            names=lambda w: "HOME",
        ),
        BadCase(
            "HOME relative",
            args=claude,
            extra_env=(("HOME", "relative-home"),),
            as_nobody=True,
            needs_root=True,
            names=lambda w: "HOME",
        ),
        BadCase(
            "HOME does not exist",
            args=claude,
            extra_env=(("HOME", "/nonexistent-megallm-home"),),
            as_nobody=True,
            needs_root=True,
            names=lambda w: "HOME",
        ),
        BadCase(
            "MEGALLM_LOCK_TIMEOUT not a number",
            args=claude,
            extra_env=(("MEGALLM_LOCK_TIMEOUT", "soon"),),
            names=lambda w: "MEGALLM_LOCK_TIMEOUT",
        ),
        BadCase(
            "MEGALLM_BASE_URL not a URL",
            args=claude,
            extra_env=(("MEGALLM_BASE_URL", "ai.megallm.io"),),
            names=lambda w: "ai.megallm.io",
        ),
        BadCase(
            "MEGALLM_BASE_URL set but empty",
            args=claude,
            extra_env=(("MEGALLM_BASE_URL", ""),),
            expect="ok",
        ),
        BadCase(
            "CLAUDE_CONFIG_DIR set but empty",
            args=claude,
            extra_env=(("CLAUDE_CONFIG_DIR", ""),),
            expect="ok",
        ),
        BadCase(
            "--level bogus",
            args=("setup", *SETUP_FLAGS, "--agent", "claude-code", "--level", "bogus"),
            names=lambda w: "--level",
        ),
        BadCase(
            "--claude-auth bogus",
            args=(*claude, "--claude-auth", "bogus"),
            names=lambda w: "--claude-auth",
        ),
        BadCase(
            "--agent that does not exist",
            args=("setup", *SETUP_FLAGS, "--agent", "vim"),
            names=lambda w: "vim",
        ),
        BadCase("setup without --agent", args=("setup", *SETUP_FLAGS), names=lambda w: "--agent"),
        BadCase(
            "--base-url ftp://",
            args=(*claude, "--base-url", "ftp://ai.megallm.io"),
            names=lambda w: "ftp://ai.megallm.io",
        ),
        BadCase(
            "--model for an unknown agent",
            args=(*claude, "--model", "vim=gpt-5"),
            names=lambda w: "vim",
        ),
        BadCase(
            "--project-dir that does not exist",
            args=(*claude, "--level", "project", "--project-dir", "/nonexistent-megallm-project"),
            names=lambda w: "/nonexistent-megallm-project",
        ),
        BadCase(
            "--project-dir that is a file",
            lambda w: (w.root / "a-file").write_text("x"),
            args=(*claude, "--level", "project", "--project-dir", "../a-file"),
            names=lambda w: "a-file",
        ),
        BadCase(
            "restore --latest --id",
            args=("restore", "--latest", "--id", "x"),
            names=lambda w: "--id",
        ),
        BadCase(
            "restore --list --latest",
            args=("restore", "--list", "--latest"),
            names=lambda w: "--list",
        ),
        BadCase(
            "remove --all --agent",
            args=("remove", "--yes", "--all", "--agent", "claude-code"),
            names=lambda w: "--all",
        ),
        BadCase("restore with nothing chosen", args=("restore",), names=lambda w: "--latest"),
        BadCase(
            "restore --id that does not exist",
            _setup_once,
            args=("restore", "--id", "20200101"),
            names=lambda w: "20200101",
        ),
        BadCase(
            "restore --latest with no backups",
            args=("restore", "--latest"),
            names=lambda w: "backup",
        ),
        BadCase(
            "settings.json is a JSON array",
            put_settings(b"[1, 2]\n"),
            args=claude,
            names=named_settings,
        ),
        BadCase(
            'settings.json "env" is a string',
            put_settings(b'{"env": "x"}\n'),
            args=claude,
            names=named_settings,
        ),
        # Handled, not refused: the edit goes into the last "env", the one JSON.parse keeps.
        BadCase(
            'settings.json has "env" twice',
            put_settings(b'{"env": {"A": "1"}, "env": {"B": "2"}}\n'),
            args=claude,
            expect="ok",
        ),
        BadCase(
            "settings.json has a NUL byte",
            put_settings(b'{"model": "op\x00us"}\n'),
            args=claude,
            names=named_settings,
        ),
        BadCase(
            "settings.json nested 100 000 deep",
            put_settings(b'{"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}\n"),
            args=claude,
            names=named_settings,
        ),
        BadCase(
            "~/.claude.json customApiKeyResponses is a string",
            lambda w: _replace_with(
                state(w), lambda p: p.write_bytes(b'{"customApiKeyResponses": "x"}\n')
            ),
            args=(*claude, "--claude-auth", "api-key"),
            names=lambda w: str(state(w)),
        ),
        BadCase(
            "another megallm run holds the lock",
            make_state_dir,
            args=claude,
            extra_env=(("MEGALLM_LOCK_TIMEOUT", "0.5"),),
            names=lambda w: "megallm.lock",
            hold_lock=True,
        ),
        BadCase(
            "a backup manifest that is not JSON",
            _damage_manifest,
            args=("restore", "--latest"),
            names=lambda w: "manifest.json",
        ),
        BadCase(
            "a backup whose pre-image was deleted",
            _delete_preimage,
            args=("restore", "--latest"),
            names=lambda w: "files/",
        ),
    ]
    return cases


def _setup_once(world: World) -> None:
    run = world.run("setup", *SETUP_FLAGS, "--agent", "claude-code", key=new_canary())
    if run.code != 0:
        raise RuntimeError(f"setup before a restore case failed: {run.error_line}")


def _damage_manifest(world: World) -> None:
    _setup_once(world)
    sessions, _orphans = read_sessions(world.backups_dir)
    sessions[0].directory.joinpath("manifest.json").write_text('{"version": 1, "id": ')


def _delete_preimage(world: World) -> None:
    _setup_once(world)
    sessions, _orphans = read_sessions(world.backups_dir)
    for preimage in (sessions[0].directory / "files").iterdir():
        preimage.unlink()


def _plan_files(parent: Path) -> tuple[list[str], set[str]]:
    """The files setup for every registered agent would write in a rich home, relative to the
    world root, and which of them are megallm's own (under its config and state dirs)."""
    world = World.create(parent, "discover", _corpus_home("rich"))
    run = world.run(*world.setup_args(), "--dry-run", "--json", key=new_canary())
    if run.code != 0:
        raise SystemExit(f"setup --dry-run fails in the rich home: {run.error_line}")
    paths = [Path(change["path"]) for change in json.loads(run.stdout)["data"]["changes"]]
    ours = {
        str(p.relative_to(world.root)) for p in paths if p.is_relative_to(world.paths.config_dir)
    }
    files = [str(p.relative_to(world.root)) for p in paths if p.is_relative_to(world.root)]
    _remove_tree(world.root)
    return files, ours


def _judge(case: BadCase, world: World, run: Run, unchanged: bool) -> list[str]:
    problems = []
    if run.code == -1:
        return ["hangs (killed after 20 s)"]
    if run.has_traceback:
        problems.append("prints a traceback")
    if case.expect == "ok":
        if run.code != 0:
            problems.append(f"exit {run.code}, expected success")
        return problems
    if run.code == 0:
        problems.append("exit 0")
    if not unchanged:
        problems.append("files changed")
    message = run.error_line
    if not message.lower().startswith("error"):
        problems.append("no error line")
    elif UNEXPECTED_ERROR.match(message):
        problems.append("an unexpected-error report, not an explanation")
    if case.names is not None:
        wanted = case.names(world)
        if wanted not in message + run.hint_line:
            problems.append(f"does not name {wanted.replace(str(world.root), '…')}")
    return problems


def _run_case(parent: Path, index: int, case: BadCase) -> BadOutcome:
    from filelock import FileLock

    world = World.create(parent, f"case-{index}", _corpus_home("rich"))
    case.prepare(world)
    before = world_snapshot(world)
    _sessions, orphans_before = read_sessions(world.backups_dir)
    key = new_canary() if case.key == "canary" else case.key
    args = case.args if case.args is not None else tuple(world.setup_args())
    lock = FileLock(str(world.paths.lock_file)) if case.hold_lock else None
    if lock is not None:
        lock.acquire()
    try:
        run = world.run(
            *args,
            key=key,
            stdin=case.stdin,
            extra_env=dict(case.extra_env),
            as_nobody=case.as_nobody,
            timeout=20,
        )
    finally:
        if lock is not None:
            lock.release()
    _sessions, orphans_after = read_sessions(world.backups_dir)
    unchanged = (
        not differences(before, world_snapshot(world))
        and not stray_temps(world.root)
        and len(orphans_after) == len(orphans_before)
    )
    problems = _judge(case, world, run, unchanged)
    message = (run.error_line or "(no message)").replace(str(world.root), "…")
    _remove_tree(world.root)
    verdict = "ok" if not problems else "FAIL: " + "; ".join(problems)
    return BadOutcome(case, run.code, message[:140], unchanged, verdict)


@contextlib.contextmanager
def _tmpfs_home(parent: Path, name: str, size_kb: int) -> Iterator[World]:
    """A world whose HOME is a small tmpfs, for running out of space mid-run."""
    root = parent / name
    (root / "home").mkdir(parents=True)
    (root / "project").mkdir()
    os.chmod(root, 0o755)
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_kb}k,mode=0755", "tmpfs", str(root / "home")],
        check=True,
        capture_output=True,
    )
    try:
        spec = CorpusHome(
            "full-disk", "", Recipe(agent_files=frozenset({"claude"}), state_projects=40)
        )
        env = {
            "HOME": str(root / "home"),
            "PATH": "/usr/bin:/bin",
            "LANG": "C.UTF-8",
            "NO_COLOR": "1",
            "TERM": "dumb",
            "MEGALLM_SHELL": "bash",
        }
        env.update(spec.build(root))
        yield World(root, env, spec)
    finally:
        subprocess.run(["umount", "-l", str(root / "home")], capture_output=True, check=False)


def _full_disk_outcomes(parent: Path) -> list[BadOutcome]:
    outcomes = []
    for free_kb in (0, 8, 40, 72, 120):
        name = f"full-disk-{free_kb}"
        with _tmpfs_home(parent, name, 256) as world:
            free = os.statvfs(world.home).f_bavail * os.statvfs(world.home).f_frsize
            filler = max(0, free - free_kb * 1024)
            (world.home / "filler").write_bytes(b"\0" * filler)
            before = world_snapshot(world)
            run = world.run(*world.setup_args(["claude-code"]), key=new_canary(), timeout=20)
            unchanged = not differences(before, world_snapshot(world)) and not stray_temps(
                world.root
            )
            _sessions, orphans = read_sessions(world.backups_dir)
            case = BadCase(
                f"disk full: {free_kb} KB free on HOME (tmpfs)", names=lambda w: "No space left"
            )
            problems = (
                [] if run.code == 0 and free_kb >= 72 else _judge(case, world, run, unchanged)
            )
            if orphans:
                problems.append("a backup dir without manifest is left")
            message = (run.error_line or "(no message)").replace(str(world.root), "…")
            verdict = "ok" if not problems else "FAIL: " + "; ".join(problems)
            outcomes.append(BadOutcome(case, run.code, message[:140], unchanged, verdict))
        _remove_tree(parent / name)
    return outcomes


def run_badinput(quick: bool, only: Collection[str] = (), full_disk: bool = True) -> Section:
    """Every case, or only those named in `only`; `quick` keeps Claude's and Codex's files."""
    section = Section("badinput", "4. Bad input: one clear error, non-zero exit, nothing changed")
    with scratch("badinput") as parent:
        files, ours = _plan_files(parent)
        if quick:
            files = [f for f in files if f.endswith(("settings.json", ".claude.json", ".toml"))]
        cases = _generic_cases() + [c for f in files for c in _file_cases(f, f in ours)]
        if only:
            cases = [case for case in cases if case.name in only]
        skipped = [c for c in cases if c.needs_root and not is_root()]
        outcomes = [_run_case(parent, i, c) for i, c in enumerate(cases) if c not in skipped]
        if full_disk and is_root() and shutil.which("mount"):
            outcomes += _full_disk_outcomes(parent)
        elif full_disk:
            section.notes.append("full-disk cases skipped: they need root to mount a tmpfs")
    for outcome in outcomes:
        if outcome.verdict != "ok":
            problem = outcome.verdict.removeprefix("FAIL: ")
            section.fail(f"{outcome.case.name}: {problem} — exit {outcome.code}: {outcome.message}")
    section.counts["cases"] = len(outcomes)
    section.counts["passed"] = sum(1 for o in outcomes if o.verdict == "ok")
    section.counts["tracebacks"] = sum(1 for o in outcomes if "traceback" in o.verdict)
    section.counts["changed files"] = sum(1 for o in outcomes if "files changed" in o.verdict)
    section.tables.append(
        Table(
            f"{len(outcomes)} cases ({section.counts['passed']} pass)",
            ["input", "run as", "exit", "first line of the message", "files unchanged", "verdict"],
            [
                [
                    o.case.name,
                    "nobody" if o.case.as_nobody else "root" if is_root() else "user",
                    str(o.code),
                    o.message,
                    "yes" if o.unchanged else "no (handled: setup ran)" if o.code == 0 else "NO",
                    o.verdict,
                ]
                for o in outcomes
            ],
        )
    )
    if skipped:
        section.notes.append(f"{len(skipped)} cases skipped: they need root")
    section.notes.append(
        "Permission cases run megallm as user `nobody` (`setpriv --reuid=65534 --regid=65534 "
        "--clear-groups`) with the home chowned to nobody, because root reads and writes any file "
        "regardless of its mode; the immutable case uses `chattr +i`, which stops root too. "
        "Full-disk cases mount a 256 KB tmpfs as HOME and fill it up to leave 0–120 KB free."
    )
    return section


# --- 5. secrets ----------------------------------------------------------------------------


def secret_fragments(key: str) -> list[bytes]:
    """What counts as the key showing: all of it, Claude Code's 20-character suffix, or any
    12 characters of its random body in a row (the masked form shows only the last 4)."""
    body = key[len(CANARY_PREFIX) :]
    windows = {body[i : i + 12] for i in range(len(body) - 11)}
    return [key.encode(), key[-20:].encode(), *(w.encode() for w in sorted(windows))]


def _shows_key(text: str | bytes, key: str) -> bool:
    data = text.encode() if isinstance(text, str) else text
    return any(fragment in data for fragment in secret_fragments(key))


@dataclass
class SecretTally:
    commands: int = 0
    outputs_with_key: int = 0
    argv_samples: int = 0
    processes_seen: int = 0
    argv_with_key: int = 0
    children_with_key_in_environ: int = 0
    holders: dict[str, str] = field(default_factory=dict)
    """File → "mode, dir mode, why it may hold the key"."""
    bad_holders: int = 0
    committable: int = 0
    ignored_holders: int = 0
    children: int = 0
    """Programs megallm started, seen by the PATH shims (every one, however short-lived)."""


# Programs megallm may start: each gets a PATH shim that logs its argv and whether it inherited
# the key, then runs the real program. A process-table sample can miss a 2 ms `git` call; this
# cannot.
CHILD_PROGRAMS = ("git", "npm", "node", "claude", "codex", "opencode", "kilo", "cline", "code")


def _install_shims(world: World) -> Path:
    shims = world.root / "shims"
    shims.mkdir()
    log = world.root / "children.log"
    for program in CHILD_PROGRAMS:
        real = shutil.which(program, path=world.env["PATH"])
        run_real = f'exec {real} "$@"' if real else "exit 127"
        script = shims / program
        script.write_text(
            "#!/bin/sh\n"
            f'printf "%s\\t%s\\t%s\\n" "{program} $*" "${{MEGALLM_API_KEY:+key-in-env}}" '
            f'"" >> "{log}"\n{run_real}\n'
        )
        script.chmod(0o755)
    world.env["PATH"] = f"{shims}:{world.env['PATH']}"
    return log


def _check_children(
    section: Section, log: Path, keys: Sequence[str], tally: SecretTally, label: str
) -> None:
    lines = log.read_text().splitlines() if log.exists() else []
    tally.children += len(lines)
    for line in lines:
        argv, inherited, _ = line.split("\t")
        if inherited == "key-in-env":
            tally.children_with_key_in_environ += 1
            section.fail(f"{label}: a child process inherited the key: {argv[:60]}")
        if any(_shows_key(argv, key) for key in keys):
            tally.argv_with_key += 1
            section.fail(f"{label}: a child process has the key in its argv: {argv[:60]}")
    log.unlink(missing_ok=True)


def _secret_targets(
    world: World, agents: Sequence[str], level: str, key: str, auth: str
) -> set[str]:
    """The files the plan itself marks as holding the key (FileChange.secret), after links."""
    from megallm_cli import operations
    from megallm_cli.agents.base import Context
    from megallm_cli.request import Gateway, Secret, SetupRequest

    ctx = Context(paths=world.paths, project_dir=world.project, gateway=Gateway())
    request = SetupRequest(
        agents=tuple(agents),
        level=level,
        project_dir=world.project,
        api_key=Secret(key),
        claude_auth_variable=auth,
    )
    plan = operations.plan_setup(ctx, request)
    return {os.path.realpath(change.path) for change in plan.changes if change.secret}


def _our_dirs(world: World) -> list[Path]:
    return [world.paths.config_dir, world.paths.state_dir]


def _scan_files(
    section: Section,
    world: World,
    keys: Sequence[str],
    allowed: set[str],
    tally: SecretTally,
    label: str,
) -> None:
    for directory, _dirs, files in os.walk(world.root):
        for name in files:
            path = Path(directory) / name
            if path.is_symlink() or not path.is_file():
                continue
            data = path.read_bytes()
            if not any(_shows_key(data, key) for key in keys):
                continue
            real = os.path.realpath(path)
            relative = re.sub(r"\d{8}-\d{6}-\d{6}", "<session>", str(path.relative_to(world.root)))
            mode = stat.S_IMODE(path.stat().st_mode)
            dir_mode = stat.S_IMODE(path.parent.stat().st_mode)
            in_backup = path.is_relative_to(world.backups_dir) and path.parent.name == "files"
            ours = any(path.is_relative_to(d) for d in _our_dirs(world))
            why = (
                "a backup pre-image"
                if in_backup
                else "planned as secret"
                if real in allowed
                else ""
            )
            problems = []
            if not why:
                problems.append("not meant to hold the key")
            if mode != 0o600:
                problems.append(f"mode {mode:o}")
            if ours:
                for parent in [path.parent, *path.parent.parents]:
                    if not any(parent == d or parent.is_relative_to(d) for d in _our_dirs(world)):
                        break
                    parent_mode = stat.S_IMODE(parent.stat().st_mode)
                    if parent_mode != 0o700:
                        problems.append(
                            f"our dir {parent.relative_to(world.root)} is {parent_mode:o}"
                        )
            owner = "ours" if ours else "the agent's"
            tally.holders[relative] = f"{mode:o} in a {dir_mode:o} dir ({owner}): {why or 'LEAK'}"
            if problems:
                tally.bad_holders += 1
                section.fail(f"{label}: {relative} holds the key: {', '.join(problems)}")


def _sample_argv(
    process: subprocess.Popen[bytes],
    keys: Sequence[str],
    tally: SecretTally,
    section: Section,
    label: str,
) -> None:
    """Read the process table while setup runs: no argv of it or its children shows the key."""
    import psutil

    seen: set[int] = set()
    while process.poll() is None:
        try:
            parent = psutil.Process(process.pid)
            family = [parent, *parent.children(recursive=True)]
        except psutil.NoSuchProcess:
            break
        for member in family:
            try:
                argv = " ".join(member.cmdline())
            except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                continue
            tally.argv_samples += 1
            if member.pid not in seen:
                seen.add(member.pid)
                tally.processes_seen += 1
            if any(_shows_key(argv, key) for key in keys):
                tally.argv_with_key += 1
                section.fail(f"{label}: pid {member.pid} has the key in its argv")
        time.sleep(0.002)


def _git_committable(project: Path, keys: Sequence[str]) -> tuple[int, int]:
    """(files git would commit that hold the key, ignored files that hold it)."""
    status = subprocess.run(
        ["git", "-C", str(project), "status", "--porcelain", "--ignored", "--untracked-files=all"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    committable = ignored = 0
    for line in status.splitlines():
        code, name = line[:2], line[3:].strip('"')
        path = project / name
        if not path.is_file():
            continue
        if any(_shows_key(path.read_bytes(), key) for key in keys):
            if code == "!!":
                ignored += 1
            else:
                committable += 1
    return committable, ignored


def _secret_scenario(
    section: Section, parent: Path, agents: Sequence[str], level: str, tally: SecretTally
) -> None:
    label = f"{'+'.join(agents) if len(agents) < len(AGENT_IDS) else 'all agents'} at {level} level"
    spec = _corpus_home("project" if level == "project" else "rich")
    world = World.create(parent, label.replace(" ", "-").replace("+", "_"), spec)
    children = _install_shims(world)
    key, rotated = new_canary(), new_canary()
    keys = (key, rotated)
    selection = [arg for agent in agents for arg in ("--agent", agent)]
    where = ["--project-dir", str(world.project)] if level == "project" else []
    setup = ["setup", "--no-verify", "--level", level, *selection, *where]
    claude = "claude-code" in agents
    allowed = _secret_targets(world, agents, level, key, "ANTHROPIC_AUTH_TOKEN")
    if claude:
        allowed |= _secret_targets(world, agents, level, key, "ANTHROPIC_API_KEY")
    commands: list[tuple[list[str], str, dict[str, str]]] = [
        ([*setup, "--dry-run"], "", {}),
        ([*setup, "--dry-run", "--json"], "", {}),
        ([*setup, "--yes", "--json"], "", {"MEGALLM_TEST_STEP_DELAY": "0.05"}),
        ([*setup, "--yes"], "", {}),
        (["status", *where], "", {}),
        (["status", "--json", *where], "", {}),
        (["doctor", *where], "", {}),
        (["doctor", "--json", *where], "", {}),
        *((["doctor", "--agent", agent, *where], "", {}) for agent in agents),
        (["restore", "--list"], "", {}),
        (["restore", "--list", "--json"], "", {}),
        (["restore", "--latest", "--dry-run"], "", {}),
        (["remove", *selection, "--level", level, *where, "--dry-run"], "", {}),
        (["remove", *selection, "--level", level, *where, "--yes"], "", {}),
        (["restore", "--latest", "--json"], "", {}),
        ([*setup, "--yes", "--api-key-stdin"], rotated + "\n", {}),
        (["doctor", "--json", *where], "", {"MEGALLM_DEBUG": "1"}),
    ]
    if claude:
        commands += [
            ([*setup, "--claude-auth", "api-key", "--dry-run"], "", {}),
            ([*setup, "--claude-auth", "api-key", "--yes", "--json"], "", {}),
            (["status", "--json", *where], "", {}),
            (["doctor", *where], "", {}),
            # the diff of ~/.claude.json shows the 20-character tail Claude Code keeps
            (["restore", "--latest", "--dry-run"], "", {}),
        ]
    for args, stdin, extra in commands:
        env_key = None if "--api-key-stdin" in args else key
        if "MEGALLM_TEST_STEP_DELAY" in extra:
            process = world.start(*args, key=env_key, extra_env=extra)
            _sample_argv(process, keys, tally, section, label)
            out, err = process.communicate()
            run = Run(tuple(args), process.returncode, out.decode(), err.decode())
        else:
            run = world.run(*args, key=env_key, stdin=stdin, extra_env=extra)
        tally.commands += 1
        if run.code not in (0, 1):
            section.fail(
                f"{label}: `megallm {' '.join(args[:3])}…` exit {run.code}: {run.error_line}"
            )
        if any(_shows_key(run.stdout + run.stderr, k) for k in keys):
            tally.outputs_with_key += 1
            shown = " ".join(a for a in args if not a.startswith("/"))
            section.fail(f"{label}: `megallm {shown}` shows the key")
        _scan_files(section, world, keys, allowed, tally, label)
        _check_children(section, children, keys, tally, label)
    if level == "project":
        committable, ignored = _git_committable(world.project, keys)
        tally.committable += committable
        tally.ignored_holders += ignored
        if committable:
            section.fail(f"{label}: {committable} file(s) git would commit hold the key")
    for manifest in world.backups_dir.glob("*/manifest.json"):
        if any(_shows_key(manifest.read_bytes(), k) for k in keys):
            section.fail(f"{label}: {manifest.name} of {manifest.parent.name} holds the key")
    _remove_tree(world.root)


def _dotfiles_scenario(parent: Path) -> tuple[int, str]:
    """User level with ~/.claude/settings.json linked into a dotfiles git repository."""
    world = World.create(parent, "dotfiles", _corpus_home("links-absolute"))
    dotfiles = world.home / "dotfiles"
    git = ["git", "-C", str(dotfiles), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run(["git", "init", "-q", str(dotfiles)], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "dotfiles"], check=True)
    key = new_canary()
    run = world.run("setup", *SETUP_FLAGS, "--agent", "claude-code", key=key)
    committable, _ignored = _git_committable(dotfiles, [key])
    _remove_tree(world.root)
    return committable, run.error_line


def run_secrets(quick: bool, agents: Sequence[str] = ()) -> Section:
    """Each agent at each level it has, then all at once; `agents` narrows the first part."""
    section = Section("secrets", "5. Secrets: a canary key through every command")
    scenarios: list[tuple[list[str], str]] = []
    for agent in agents or AGENT_IDS:
        scenarios += [([agent], level) for level in get_agent(agent).levels]
    if not agents:
        scenarios.append((list(AGENT_IDS), "user"))
    if quick:
        scenarios = [s for s in scenarios if s[0] == ["claude-code"] or len(s[0]) > 1]
    tally = SecretTally()
    with scratch("secrets") as parent:
        for agents, level in scenarios:
            _secret_scenario(section, parent, agents, level, tally)
        dotfiles_committable, _message = _dotfiles_scenario(parent)
    counts = section.counts
    counts.update(
        {
            "scenarios": len(scenarios),
            "commands": tally.commands,
            "outputs showing the key": tally.outputs_with_key,
            "argv samples": tally.argv_samples,
            "argv showing the key": tally.argv_with_key,
            "programs started": tally.children,
            "files holding the key that should not or with a wrong mode": tally.bad_holders,
            "committable project files holding the key": tally.committable,
            "dotfiles-repo files holding the key": dotfiles_committable,
        }
    )
    section.tables.append(
        Table(
            "Counts",
            ["check", "count", "must be"],
            [
                ["agent × level scenarios (plus all agents at once)", str(len(scenarios)), "–"],
                ["commands run with the canary", str(tally.commands), "–"],
                [
                    "stdout/stderr showing the key (whole, its last 20, or any 12 chars of it)",
                    str(tally.outputs_with_key),
                    "0",
                ],
                [
                    "process-table samples (megallm and its children) / processes",
                    f"{tally.argv_samples} / {tally.processes_seen}",
                    "–",
                ],
                ["programs megallm started (seen by PATH shims)", str(tally.children), "–"],
                ["argv (sampled or shimmed) showing the key", str(tally.argv_with_key), "0"],
                [
                    "programs started with MEGALLM_API_KEY in their environment",
                    str(tally.children_with_key_in_environ),
                    "0",
                ],
                [
                    "files holding the key not meant to, or not 0600, or in our dirs not 0700",
                    str(tally.bad_holders),
                    "0",
                ],
                [
                    "backup manifests holding the key",
                    str(sum(1 for f in section.failures if "manifest" in f)),
                    "0",
                ],
                ["project files git would commit holding the key", str(tally.committable), "0"],
                ["git-ignored project files holding the key", str(tally.ignored_holders), "–"],
                [
                    "user level, settings.json linked into a dotfiles repo: tracked files with key",
                    str(dotfiles_committable),
                    "–",
                ],
            ],
        )
    )
    section.tables.append(
        Table(
            "Where the key lives (every scenario, every command)",
            ["file", "mode, dir mode, why"],
            sorted([k, v] for k, v in tally.holders.items()),
        )
    )
    return section


# --- the report ------------------------------------------------------------------------------


def build_baseline(commit: str, into: Path) -> Path:
    """megallm as it is now, with the files this issue fixed as they were at `commit`.

    Running the trials against it gives the numbers before the fixes, next to the same agents.
    """
    package = into / "megallm_cli"
    shutil.copytree(ROOT / "megallm_cli", package, ignore=shutil.ignore_patterns("__pycache__"))
    for name in BASELINE_FILES:
        old = subprocess.run(
            ["git", "-C", str(ROOT), "show", f"{commit}:megallm_cli/{name}"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        (package / name).write_text(old)
    cli = package / "cli.py"
    recover_call = r"\n *from megallm_cli\.engine import recover\n\n *recover\(ctx\.paths\)[^\n]*"
    cli.write_text(re.sub(recover_call, "", cli.read_text()))
    return into


@dataclass(frozen=True)
class Finding:
    """Something the trials found: what it was, measured before the fix, what changed."""

    title: str
    before: str
    fix: str
    after: Callable[[dict[str, Section]], str]


def _count(sections: dict[str, Section], name: str, *keys: str) -> str:
    section = sections.get(name)
    if section is None:
        return "(section not run)"
    return str(sum(section.counts[key] for key in keys))


def _failures(sections: dict[str, Section], name: str, text: str) -> str:
    section = sections.get(name)
    if section is None:
        return "(section not run)"
    return str(sum(1 for failure in section.failures if text in failure))


FINDINGS = [
    Finding(
        "`megallm restore --latest` could not undo a killed setup",
        "only complete sessions counted, so after a SIGKILL restore said `no backup sessions … "
        "nothing has been changed by megallm yet` (or would have picked an older run): 81 of "
        "360 crash trials",
        "`backups.find_session` also restores pending sessions (every file they touched holds "
        "its old or its new bytes); `restore` first recovers killed runs (`engine.recover`)",
        lambda r: f"recoveries that failed: {_count(r, 'crash', 'recoveries that failed')}",
    ),
    Finding(
        "Leftovers of killed runs outlived the next run",
        "backup dirs without a manifest (4), temp files inside backup sessions (4), and a killed "
        "session left `pending` for good when the next setup had nothing to change (2), in 360 "
        "crash trials",
        "recovery removes backup dirs without manifest (a run killed before its manifest never "
        "wrote a file) and temp files in the session's own dir; a setup with nothing to change "
        "recovers too",
        lambda r: (
            "stray temps and dirs without manifest after recovery: "
            + _count(
                r,
                "crash",
                "stray temps after restore",
                "stray temps after the next run",
                "orphan backup dirs after restore",
                "orphan backup dirs after the next run",
            )
        ),
    ),
    Finding(
        "A kill while old backups were pruned could leave a session whose pre-images are gone",
        "`shutil.rmtree` of a session is not atomic, and restore would then crash on the "
        "missing pre-image (found by reading the code; the window is too small for the trials)",
        "prune renames a session to a dot-dir first and recovery removes such dirs; a missing "
        "or altered pre-image is a clear `backup … is damaged` error",
        lambda r: "covered by tests/test_reliability.py",
    ),
    Finding(
        "Editing ~/.claude.json while Claude Code rewrites it lost the other program's keys",
        "3 rounds of 20 setups per way of writing (atomic / in place, every 0–5 / 0–50 ms): "
        "foreign keys lost 12 / 590 / 9 / 12, all of the original file's keys lost in 2 rounds "
        "(an empty read during an in-place rewrite was planned as `{}`), and 0 / 3 / 18 / 22 of "
        "60 setups succeeded, the rest failing with `changed while the plan was being made` or a "
        "parse error",
        "the engine compares each file with the bytes it was planned from at the last moment "
        "before `os.replace`, and reads it back after; when another program changed it, this "
        "run's writes are rolled back (only where they still hold our bytes) and the plan is "
        "made again, up to 8 times; an empty file is trusted only when unmodified for 2 s; a "
        "parse error under the lock (a half-written file) is retried too",
        lambda r: (
            "foreign keys lost: "
            + _count(
                r,
                "concurrency",
                *(f"{m}, 0–{p} ms: foreign keys lost" for m in WRITER_MODES for p in (5, 50)),
            )
            + ", original keys lost: "
            + _count(
                r,
                "concurrency",
                *(f"{m}, 0–{p} ms: original keys lost" for m in WRITER_MODES for p in (5, 50)),
            )
            + "; setups that succeeded: "
            + " / ".join(
                _count(r, "concurrency", f"{m}, 0–{p} ms: exit 0")
                for p in (5, 50)
                for m in WRITER_MODES
            )
        ),
    ),
    Finding(
        "Another program could still write between megallm's last comparison and its rename",
        "CI caught it once: 1 of an in-place writer's keys lost in a round of 10 setups (the "
        "12-minute report before had 0); the window is microseconds wide, so it shows rarely",
        "Claude Code 2.1.332 saves ~/.claude.json under the lock directory ~/.claude.json.lock "
        "(seen with strace): megallm takes the same lock while it compares, replaces and reads "
        "back the file, and the next run removes a lock a killed run left; against a program "
        "that ignores the lock, the window stays (no tool can close it without the writer)",
        lambda r: (
            "with a writer that honours the lock, foreign keys lost: "
            + _count(
                r,
                "concurrency",
                *(
                    f"{m}, 0–{p} ms: foreign keys lost"
                    for m in LOCK_HONOURING_MODES
                    for p in (5, 50)
                ),
            )
            + ", our edits overwritten: "
            + _count(
                r,
                "concurrency",
                *(
                    f"{m}, 0–{p} ms: our edits lost to the other writer"
                    for m in LOCK_HONOURING_MODES
                    for p in (5, 50)
                ),
            )
            + "; with writers that ignore it, foreign keys lost: "
            + _count(
                r,
                "concurrency",
                *(
                    f"{m}, 0–{p} ms: foreign keys lost"
                    for m in WRITER_MODES
                    if m not in LOCK_HONOURING_MODES
                    for p in (5, 50)
                ),
            )
        ),
    ),
    Finding(
        "Undoing many runs one by one pushed the oldest backups out",
        "each restore is a session too, and so is a run rolled back after another program "
        "changed its file, and retention kept the newest 20 of all sessions: once the fix above "
        "let 20 concurrent setups through, restoring them newest first lost 48 sessions (over "
        "2 × 3 rounds) before they were reached",
        "retention keeps the newest 20 runs that changed files, plus every session since",
        lambda r: (
            "sessions that could not be restored: "
            + _count(
                r,
                "concurrency",
                *(
                    f"{m}, 0–{p} ms: backup sessions that cannot be restored"
                    for m in WRITER_MODES
                    for p in (5, 50)
                ),
            )
        ),
    ),
    Finding(
        "Bad files crashed, hung or were overwritten",
        "a named pipe in place of a config hung setup forever; a symlink loop, a directory or "
        "an unreadable file gave `unexpected OSError … report it`; a `chmod 444` settings.json "
        "was silently replaced and made 0600; an immutable file's error named our temp file; a "
        "full disk while recording the backup gave `unexpected OSError` and left a half backup; "
        "`MEGALLM_LOCK_TIMEOUT=soon` crashed; a deleted pre-image crashed restore and a broken "
        "manifest made `restore --latest` say there were no backups",
        "`fsio.read_bytes` names the file and the problem (`FileProblem`, still an OSError); the "
        "engine refuses read-only files and unwritable dirs before writing anything, names the "
        "target in write errors, turns a failed backup into one clear error and removes the "
        "half-made session; the lock timeout is validated; damaged backups are named",
        lambda r: (
            f"{_count(r, 'badinput', 'passed')} of {_count(r, 'badinput', 'cases')} cases "
            "pass; the others are open issues below"
        ),
    ),
    Finding(
        "Keys that cannot work were accepted",
        "a key with a Cyrillic letter or a zero-width space (pasted from a chat) was written "
        "everywhere",
        "`validate_key` refuses non-ASCII characters and names the code point",
        lambda r: _failures(r, "badinput", "non-ASCII") + " failing key cases",
    ),
    Finding(
        "remove was not the inverse of setup where setup had replaced something of the user's",
        "in 9 of 48 homes setup→remove was not byte-identical: Claude Code's conflicting "
        "`ANTHROPIC_API_KEY`, an empty `env`, a `{}` or blank settings.json, the key's tail in "
        "`approved`; OpenCode/Kilo's previous `model`; blank Cline, OpenCode and Kilo files "
        "deleted; VS Code settings coming back as `{}`; empty ~/.bashrc, ~/.profile and ~/.zshenv "
        "left behind",
        "each agent's remove reads the file as it was before megallm from the backups "
        "(`backups.image_before_megallm`) and puts back the values setup replaced, or the exact "
        "old bytes when only megallm's entries differ; files and dirs megallm created go",
        lambda r: (
            f"setup→remove byte-identical in {_count(r, 'roundtrip', 'remove ok')} of "
            f"{_count(r, 'roundtrip', 'homes')} homes"
        ),
    ),
    Finding(
        "restore refused every file an agent had rewritten since",
        "agents rewrite their own files (Claude Code all of ~/.claude.json, Kilo adds "
        "`permission`), so restore reported drift and needed --force, which then dropped the "
        "agent's changes",
        "sessions keep post-images (up to 16 MiB); restore without --force reverts just the "
        "run's keys in a JSON file changed since, as long as each still holds the run's value "
        "(`threeway.revert`); --force still writes the old bytes",
        lambda r: (
            "setup→agents rewrite→restore keeping the agents' key in "
            f"{_count(r, 'roundtrip', 'restore_after_agents ok')} of "
            f"{_count(r, 'roundtrip', 'homes')} homes "
            f"({_count(r, 'roundtrip', 'files rewritten by an agent before restore')} files "
            "rewritten)"
        ),
    ),
    Finding(
        "Half of the key was printed",
        "`setup --dry-run --claude-auth api-key` printed the 20 characters of the key that "
        "Claude Code stores in `customApiKeyResponses.approved`",
        "`ui.mask` masks every tail of a registered secret of 12 characters or more",
        lambda r: f"outputs showing the key: {_count(r, 'secrets', 'outputs showing the key')}",
    ),
    Finding(
        "The restore preview showed the key's tail",
        "found trying megallm as a user, not by these trials (they ran `restore --dry-run` only "
        "after a setup without `--claude-auth api-key`): once `restore --dry-run` showed diffs, "
        "its diff of ~/.claude.json printed the 20 characters of the key that Claude Code keeps",
        "every diff first registers each key found in the files it shows, so the key's pieces "
        "elsewhere are masked too; the secrets trial runs `restore --latest --dry-run` after "
        "an api-key setup",
        lambda r: f"outputs showing the key: {_count(r, 'secrets', 'outputs showing the key')}",
    ),
]


OPEN_ISSUES = """\
## Open issues

Reported by earlier runs of these trials and fixed since (each is now a passing check below or
in tests/test_reliability.py): the preview before asking now reads a file again when a parse
error hits one written in the last 2 s (an agent's in-place rewrite); JSONC nesting deeper than
the parser's limit is a clear error with its position (was a RecursionError); remove is the
inverse of setup for every agent (see the findings above) and deletes the shell files and
directories setup created; shell files are read through fsio (a named pipe as ~/.bashrc hung
setup); unreadable directories are a clear error or count as absent (Python 3.11's
`is_file()` raises); the TOML undo of an inserted table is byte-exact; a user file that git
tracks (a home under git, a link into a dotfiles repository) is refused before the key goes
into it, and an untracked, unignored one gets a warning naming the repository; a run that
waits for another run's lock says so.

Still open:

- **A program that ignores Claude Code's lock is not fully safe to race.** Against one that
  rewrites ~/.claude.json every few ms, no setup gets a clean window (each fails after 8 tries
  with `kept changing … nothing was changed`; at 0–50 ms most succeed); and a save of its that
  lands in the microseconds between megallm's last comparison and its rename is lost (0 in this
  run, 1 seen once in CI). Claude Code 2.1.332 honours the lock: against it every setup
  succeeds and nothing is lost, even at 0–5 ms.
- **Claude Code's save can find its lock busy**: while megallm holds the lock (on a retry,
  from its read of ~/.claude.json until it has written it), a Claude Code save waiting more
  than its ~0.3 s gives up for that moment (the row `other writer's saves refused by its lock`
  in section 2). Claude Code 2.1.332 then logs `Failed to save config with lock`, reads the
  file again and either queues the save for later or writes without the lock (its
  `saveGlobalConfig`), which megallm's comparison before its rename catches; nothing was lost
  in these trials.
- **One agent's unreadable file stops the whole run** (a BOM in Cline's providers.json, a
  malformed settings.json): by design nothing is changed on bad input, so the other agents are
  not set up either; the error's hint now names the command that sets them up without the
  broken one.
- **A key of ours that someone changed since is a conflict**: restore then reports drift for
  that file and needs --force, which writes the old bytes and so drops the other changes too
  (a save stamp such as Cline's `updatedAt` on megallm's entry does not count as a change).
  Files over 16 MiB (a very large ~/.claude.json) keep no post-image, so for them any change
  since the run is such a conflict.
"""

METHOD_NOTES = """\
## How to read these tables

- **Torn** means a file whose sha256 is neither the `sha256_before` nor the `sha256_after` its
  backup manifest recorded; **changed without a backup** means a file that differs from before
  the run and is in no manifest (with no manifest at all, no file may differ).
- **Our dirs** are megallm's config dir (`~/.config/megallm`: env files and import files) and
  state dir (`~/.local/state/megallm`: lock and backups); every dir in them must be 0700. An
  agent's own config dir (`~/.claude`, `~/.cline/data/settings`) belongs to the agent: its mode is
  reported, never changed; dirs megallm creates for a private file are 0700.
- **What remove legitimately keeps**: `hasCompletedOnboarding: true` in ~/.claude.json (the next
  start of Claude Code would otherwise try api.anthropic.com; it is not a secret), mode 0600 on
  files that held the key (remove takes the key out, it does not loosen permissions), and at
  project level the `settings.local.json` line in `.claude/.gitignore`. The key's last 20
  characters in `customApiKeyResponses.approved` go when a backup shows megallm added them.
- **Permissions as root**: root reads and writes any file whatever its mode, so permission cases
  run megallm as `nobody` (`setpriv --reuid=65534 --regid=65534 --clear-groups`) in a home chowned
  to nobody; the immutable case uses `chattr +i`, which stops root too. The full-disk cases mount
  a 256 KB tmpfs as HOME (and unmount it afterwards).
- **Child processes**: megallm starts `git` (project level). Each program megallm might start
  is shimmed on PATH to log its argv and whether MEGALLM_API_KEY is in its environment (git gets
  an environment without it); a process-table sampler (psutil) watches the argv of megallm and
  its children while a slowed-down setup runs.
- **Before/after**: `python scripts/reliability.py --baseline` runs the same trials with
  engine.py, backups.py and fsio.py as they were at commit 34abbcb (everything else as now).
"""


def render_doc(sections: dict[str, Section], seed: int, quick: bool, baseline: str | None) -> str:
    commit = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    dirty = subprocess.run(
        # The report itself is rewritten by this run: its own change does not count.
        [
            "git",
            "-C",
            str(ROOT),
            "status",
            "--porcelain",
            "--untracked-files=no",
            "--",
            ".",
            ":!docs/RELIABILITY.md",
        ],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    lines = [
        "# Reliability: nothing is lost, nothing leaks",
        "",
        "Generated by `python scripts/reliability.py --write-doc` "
        f"({'--quick, ' if quick else ''}seed {seed}) on {time.strftime('%Y-%m-%d')}, "
        f"commit {commit or '?'}{' plus uncommitted changes' if dirty else ''}, Python "
        f"{sys.version.split()[0]}, as {'root' if is_root() else 'a user'}; agents: "
        f"{', '.join(AGENT_IDS)}."
        + (f" **Baseline run: engine, backups and fsio from {baseline}.**" if baseline else ""),
        "Every figure below comes from that run; rerun the script to check them. "
        "`tests/test_reliability.py` runs the same trials, smaller, in CI.",
        "",
        "Every trial runs the installed `megallm` in a throwaway home (HOME, XDG dirs and a "
        "project under a temp dir) and judges the result from the outside: file bytes "
        "(sha256), modes, links, backup manifests and the process table. No trial touches the "
        "real home directory or the network (`--no-verify`).",
        "",
        "## Summary",
        "",
        "| section | failures |",
        "|---|---|",
    ]
    lines += [f"| {s.title} | {len(s.failures)} |" for s in sections.values()]
    lines += ["", "## What the trials found, and the fixes", ""]
    for number, finding in enumerate(FINDINGS, 1):
        lines += [
            f"{number}. **{finding.title}.** Before: {finding.before}. Fix: {finding.fix}. "
            f"Now: {finding.after(sections)}.",
        ]
    lines += ["", OPEN_ISSUES, ""]
    for section in sections.values():
        lines += [section.markdown(), ""]
    lines += [METHOD_NOTES]
    return "\n".join(lines).rstrip() + "\n"


# --- the command line ----------------------------------------------------------------------

SECTIONS: dict[str, Callable[[argparse.Namespace, random.Random], Section]] = {
    "crash": lambda options, rng: run_crash(options.crash_trials, not options.quick, rng),
    "concurrency": lambda options, _rng: run_concurrency(
        1 if options.quick else 3, 20, (0.005, 0.05)
    ),
    "roundtrip": lambda options, _rng: run_roundtrip(not options.quick, options.homes),
    "badinput": lambda options, _rng: run_badinput(options.quick),
    "secrets": lambda options, _rng: run_secrets(options.quick),
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, as the tests run")
    parser.add_argument("--only", default="", help="comma-separated sections to run")
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: time)")
    parser.add_argument("--crash-trials", type=int, default=None)
    parser.add_argument(
        "--homes", type=lambda v: v.split(","), default=(), help="roundtrip: only these homes"
    )
    parser.add_argument("--write-doc", action="store_true", help=f"rewrite {DOC_PATH}")
    parser.add_argument(
        "--baseline",
        nargs="?",
        const=BASELINE_COMMIT,
        help="run megallm with engine, backups and fsio from this commit (default "
        f"{BASELINE_COMMIT}, before these fixes), to measure the numbers before",
    )
    options = parser.parse_args(argv)
    if options.crash_trials is None:
        options.crash_trials = 24 if options.quick else 360
    seed = options.seed if options.seed is not None else int(time.time())
    rng = random.Random(seed)
    chosen = [s for s in options.only.split(",") if s] or list(SECTIONS)
    sections: dict[str, Section] = {}
    with contextlib.ExitStack() as stack:
        if options.baseline:
            copy = stack.enter_context(scratch("baseline"))
            _code_override.append(build_baseline(options.baseline, copy))
        for name in chosen:
            started = time.monotonic()
            section = SECTIONS[name](options, rng)
            sections[name] = section
            print(section.markdown())
            for failure in section.failures:
                print(f"{name}: FAIL {failure}", file=sys.stderr)
            print(f"({name}: {time.monotonic() - started:.0f} s, seed {seed})\n", file=sys.stderr)
    if options.write_doc:
        DOC_PATH.write_text(render_doc(sections, seed, options.quick, options.baseline))
        print(f"wrote {DOC_PATH}", file=sys.stderr)
    return 1 if any(section.failures for section in sections.values()) else 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["_foreign-writer"]:
        path, mode, stop, result, pause = sys.argv[2:7]
        foreign_writer(Path(path), mode, Path(stop), Path(result), float(pause))
        sys.exit(0)
    sys.exit(main())
