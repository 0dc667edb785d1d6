"""The currency of the tool: a planned edit of one file, computed from its current bytes."""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

SECRET_FILE_MODE = 0o600
SECRET_DIR_MODE = 0o700


@dataclass(frozen=True)
class FileChange:
    """Replace `before` with `after` at `path`.

    `before is None` means the file does not exist yet; `after is None` means delete it.
    `secret` marks content that holds the API key: the file ends up 0600 and diffs mask it.
    `mode` forces a mode on the result (None keeps the existing one, or 0644/umask for new files).
    `validate` re-reads the written bytes and raises ValueError if they are not what the agent
    will accept; the engine rolls the whole run back when it does.
    """

    path: Path
    before: bytes | None
    after: bytes | None
    agent: str
    summary: str
    secret: bool = False
    mode: int | None = None
    validate: Callable[[bytes], None] | None = field(default=None, compare=False, repr=False)
    prune_dirs: tuple[Path, ...] = ()
    """After a delete, these directories (deepest first) go too while they are empty: restore
    sets them to the ones the run that created the file made for it."""

    @property
    def is_noop(self) -> bool:
        return self.before == self.after

    @property
    def target_mode(self) -> int | None:
        if self.secret:
            return SECRET_FILE_MODE
        return self.mode


@dataclass(frozen=True)
class UserVariableChange:
    """Set (or with `after` None, delete) one persistent user variable: HKCU\\Environment.

    Not a file, so not a FileChange: the engine applies these after the files and records
    `before` in the backup session (as a 0600 file, never in the manifest), so restore can put
    it back.
    """

    name: str
    before: str | None
    after: str | None
    agent: str = "shell"

    @property
    def location(self) -> str:
        return f"HKCU\\Environment\\{self.name}"

    @property
    def is_noop(self) -> bool:
        return self.before == self.after

    @property
    def action(self) -> str:
        if self.after is None:
            return "delete"
        return "create" if self.before is None else "update"

    @property
    def summary(self) -> str:
        """Names the variable, never its value: the value may be the key."""
        if self.after is None:
            return f"delete {self.name} from your Windows user environment"
        return f"set {self.name} in your Windows user environment (new programs see it)"

    def inverse(self) -> UserVariableChange:
        return UserVariableChange(self.name, self.after, self.before, self.agent)


def bytes_after_removal(
    edited: str,
    before_megallm: bytes | None,
    *,
    nothing_left: Callable[[], bool],
    reads_the_same: Callable[[bytes], bool],
) -> bytes | None:
    """What `remove` leaves in a file, given its bytes before megallm first changed it (None:
    megallm created it): no file when megallm created it and nothing else is left in `edited`;
    the old bytes themselves when what is left reads the same as them (a `{}`, a blank file or
    a layout that minimal deletes cannot rebuild); otherwise the edited text."""
    if before_megallm is None:
        return None if nothing_left() else edited.encode("utf-8")
    return before_megallm if reads_the_same(before_megallm) else edited.encode("utf-8")


def unified_diff(change: FileChange, mask: Callable[[str], str]) -> str:
    """A unified diff of one change, passed through `mask` so secrets never reach a screen."""
    before = _lines(change.before)
    after = _lines(change.after)
    label = str(change.path)
    diff = difflib.unified_diff(
        before,
        after,
        fromfile="/dev/null" if change.before is None else label,
        tofile="/dev/null" if change.after is None else label,
    )
    return mask("".join(line if line.endswith("\n") else line + "\n" for line in diff))


def _lines(data: bytes | None) -> list[str]:
    if data is None:
        return []
    return data.decode("utf-8", errors="replace").splitlines(keepends=True)
