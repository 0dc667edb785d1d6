"""Error types that carry their exit code and one hint, so every command fails the same way."""

from __future__ import annotations

from pathlib import Path

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class MegallmError(Exception):
    """A failure we can explain: one line of message and an optional hint."""

    exit_code = EXIT_FAILURE

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class UsageError(MegallmError):
    exit_code = EXIT_USAGE


class Cancelled(MegallmError):
    exit_code = EXIT_INTERRUPTED

    def __init__(self) -> None:
        super().__init__("cancelled, nothing changed")


class ConfigParseError(MegallmError):
    """A config file we cannot parse: it is left untouched and reported with file:line:col."""

    def __init__(self, path: Path | str, line: int, col: int, reason: str) -> None:
        self.path = Path(path)
        self.line = line
        self.col = col
        self.reason = reason
        super().__init__(
            f"{path}:{line}:{col}: {reason}",
            hint="fix the syntax at that position (the file was left untouched), then run again",
        )


class FileProblem(MegallmError, OSError):
    """A file megallm cannot use as a config file: unreadable, not a regular file, a link loop.

    It is an OSError too, so code that skips unreadable files while reporting (status, doctor)
    keeps skipping it, while a command that needs the file stops with one clear line.
    """

    def __init__(self, path: Path | str, problem: str, hint: str) -> None:
        super().__init__(f"{path}: {problem}", hint)
        self.filename = str(path)
        self.strerror = problem

    def __str__(self) -> str:
        return self.message


class LockBusy(MegallmError):
    def __init__(self, lock_path: Path, waited: float) -> None:
        super().__init__(
            f"another megallm run holds {lock_path} (waited {waited:.0f}s)",
            hint="wait for it to finish, or set MEGALLM_LOCK_TIMEOUT to wait longer",
        )


class ApplyFailed(MegallmError):
    """A write or validation failed; every file this run touched was put back."""
