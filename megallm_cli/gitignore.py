"""Keeping secret-bearing project files out of git."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from megallm_cli.changes import FileChange
from megallm_cli.formats.text import decode_utf8
from megallm_cli.fsio import read_bytes


def repo_root(start: Path) -> Path | None:
    for directory in (start, *start.parents):
        if (directory / ".git").exists():
            return directory
    return None


def is_ignored(path: Path) -> bool | None:
    """Ask git itself (it knows global excludes and nested rules); None outside a repository."""
    root = repo_root(path.parent if path.parent.exists() else path.parent.parent)
    if root is None:
        return None
    try:
        completed = subprocess.run(
            ["git", "-C", str(root), "check-ignore", "-q", "--no-index", str(path)],
            capture_output=True,
            timeout=5,
            check=False,
            env=_env_without_secrets(),
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return completed.returncode == 0


def _env_without_secrets() -> dict[str, str]:
    """git and its hooks have no business with the key, even in /proc/PID/environ."""
    return {name: value for name, value in os.environ.items() if name != "MEGALLM_API_KEY"}


def plan_ignore_entry(path: Path, agent: str) -> FileChange | None:
    """Add `path`'s name to the .gitignore beside it, unless git already ignores it.

    A .gitignore next to the file works in a repository created later, too, and carries no
    secret itself, so committing it is fine.
    """
    if is_ignored(path):
        return None
    gitignore = path.parent / ".gitignore"
    before = read_bytes(gitignore)
    text = "" if before is None else decode_utf8(before, gitignore)
    lines = text.splitlines()
    if path.name in (line.strip() for line in lines) or f"/{path.name}" in lines:
        return None
    newline = "\r\n" if "\r\n" in text else "\n"
    separator = "" if not text or text.endswith(("\n", "\r")) else newline
    after = f"{text}{separator}{path.name}{newline}"
    return FileChange(
        path=gitignore,
        before=before,
        after=after.encode("utf-8"),
        agent=agent,
        summary=f"git-ignore {path.name} (it holds the key)",
    )


def is_tracked(path: Path) -> bool:
    """A tracked file is committed whatever .gitignore says."""
    root = repo_root(path.parent if path.parent.exists() else path.parent.parent)
    if root is None or not path.exists():
        return False
    try:
        completed = subprocess.run(
            ["git", "-C", str(root), "ls-files", "--error-unmatch", str(path)],
            capture_output=True,
            timeout=5,
            check=False,
            env=_env_without_secrets(),
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return completed.returncode == 0


@dataclass(frozen=True)
class Exposure:
    """A file git would take into a commit: `tracked`, or merely not ignored yet."""

    path: Path
    repository: Path
    tracked: bool


def exposure(path: Path) -> Exposure | None:
    """Where git could commit `path`, links followed: a ~/.claude/settings.json that links
    into a dotfiles repository lives in that repository. None when git would never take it."""
    # Every component resolved, not just the last: GNU stow links whole directories.
    target = Path(os.path.realpath(path))
    existing = next(p for p in (target.parent, *target.parents) if p.exists())
    root = repo_root(existing)
    if root is None:
        return None
    if is_tracked(target):
        return Exposure(target, root, tracked=True)
    if is_ignored(target):
        return None
    return Exposure(target, root, tracked=False)
