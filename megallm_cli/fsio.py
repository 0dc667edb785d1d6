"""Atomic, symlink-respecting file I/O: each file is either its old or its new bytes, never torn."""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

DEFAULT_NEW_FILE_MODE = 0o644
DEFAULT_NEW_DIR_MODE = 0o755
PRIVATE_DIR_MODE = 0o700


def read_bytes(path: Path) -> bytes | None:
    """The file's bytes, or None when it does not exist. A directory in its place is an error."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        raise IsADirectoryError(f"{path} is a directory, expected a file") from None


def resolve_target(path: Path) -> Path:
    """Follow symlinks so we write the file a link points to, and the link stays a link."""
    if path.is_symlink():
        return Path(os.path.realpath(path))
    return path


def current_mode(path: Path) -> int | None:
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        return None


def ensure_dir(directory: Path, mode: int = DEFAULT_NEW_DIR_MODE) -> None:
    """Create a directory (and parents). Existing directories keep their mode."""
    if directory.is_dir():
        return
    ensure_dir(directory.parent, mode)
    try:
        directory.mkdir(mode=mode)
    except FileExistsError:
        if not directory.is_dir():
            raise
    os.chmod(directory, mode)


def atomic_write(path: Path, data: bytes, mode: int | None = None) -> None:
    """Write `data` to `path` through a same-directory temp file, fsync, then os.replace.

    `mode` None keeps the existing file's mode (or 0644 for a new file). Symlinks are followed.
    """
    target = resolve_target(path)
    final_mode = mode if mode is not None else (current_mode(target) or DEFAULT_NEW_FILE_MODE)
    # A directory we create for a private file is private too: its listing names the secret.
    ensure_dir(target.parent, PRIVATE_DIR_MODE if final_mode & 0o077 == 0 else DEFAULT_NEW_DIR_MODE)
    temp = target.with_name(f".{target.name}.megallm-{os.getpid()}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_BINARY", 0), 0o600)
    try:
        try:
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        finally:
            os.close(fd)
        _copy_owner(target, temp)
        os.chmod(temp, final_mode)
        os.replace(temp, target)
    except BaseException:
        _unlink_quietly(temp)
        raise
    fsync_dir(target.parent)


def atomic_delete(path: Path) -> None:
    target = resolve_target(path)
    try:
        os.unlink(target)
    except FileNotFoundError:
        return
    fsync_dir(target.parent)


def fsync_dir(directory: Path) -> None:
    if os.name == "nt":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _copy_owner(original: Path, replacement: Path) -> None:
    """Running as root on someone's file must not hand it to root."""
    if os.name == "nt":
        return
    try:
        info = os.stat(original)
    except FileNotFoundError:
        return
    if (info.st_uid, info.st_gid) != (os.getuid(), os.getgid()):
        with contextlib.suppress(PermissionError):
            os.chown(replacement, info.st_uid, info.st_gid)


def _unlink_quietly(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def stray_temp_files(directory: Path) -> list[Path]:
    """Temp files a killed run may have left beside the files it was writing."""
    try:
        return sorted(
            p for p in directory.iterdir() if p.name.endswith(".tmp") and ".megallm-" in p.name
        )
    except (FileNotFoundError, NotADirectoryError):
        return []
