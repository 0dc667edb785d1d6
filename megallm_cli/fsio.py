"""Atomic, symlink-respecting file I/O: each file is either its old or its new bytes, never torn."""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Callable, Iterable
from pathlib import Path

from megallm_cli.errors import FileProblem

DEFAULT_NEW_FILE_MODE = 0o644
DEFAULT_NEW_DIR_MODE = 0o755
PRIVATE_DIR_MODE = 0o700

_MOVE_IT = "move it out of the way (or delete it), then run again"


def read_bytes(path: Path) -> bytes | None:
    """The file's bytes, or None when it does not exist.

    Anything else that is not a readable regular file is a FileProblem naming the file and the
    fix: a directory, a named pipe (reading one would block forever), a device, a link loop,
    a file we may not read.
    """
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return None
    except OSError as error:
        raise _problem(path, error) from None
    if stat.S_ISDIR(info.st_mode):
        raise FileProblem(path, "is a directory, expected a file", _MOVE_IT)
    if not stat.S_ISREG(info.st_mode):
        raise FileProblem(path, "is not a regular file (a named pipe, socket or device)", _MOVE_IT)
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as error:
        raise _problem(path, error) from None


def current_user() -> str:
    """Who megallm runs as, for messages about permissions (os.getuid is POSIX only)."""
    import getpass

    try:
        return getpass.getuser()
    except (OSError, KeyError, ImportError):
        return "this user"


def _problem(path: Path, error: OSError) -> FileProblem:
    if error.errno == errno.ELOOP:
        return FileProblem(path, "is a symlink loop", "point the link at a real file, or delete it")
    if error.errno == errno.ENOTDIR:
        return FileProblem(path, "a parent of it is a file, not a directory", _MOVE_IT)
    if isinstance(error, PermissionError):
        return FileProblem(
            path,
            "permission denied",
            f"check its owner and mode (ls -l '{path}'); megallm runs as {current_user()}",
        )
    return FileProblem(path, error.strerror or str(error), "check the file, then run again")


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


# Searching (for agents, editors) is best effort: a directory we may not look into holds
# nothing we can use. Python 3.11's is_dir()/is_file() raise PermissionError there instead.
def seen_dir(path: Path) -> bool:
    """True for a directory we can see; one behind an unreadable directory counts as absent."""
    try:
        return path.is_dir()
    except OSError:
        return False


def seen_file(path: Path) -> bool:
    """True for a regular file we can see; one behind an unreadable directory counts as absent."""
    try:
        return path.is_file()
    except OSError:
        return False


def remove_empty_dirs(directories: Iterable[Path]) -> None:
    """Remove each directory, deepest first, stopping at the first one that is not empty."""
    for directory in directories:
        try:
            os.rmdir(directory)
        except FileNotFoundError:
            continue
        except OSError:
            return


def missing_dirs(directory: Path) -> list[Path]:
    """The directories a write into `directory` would create, deepest first."""
    missing = []
    while not directory.exists() and directory != directory.parent:
        missing.append(directory)
        directory = directory.parent
    return missing


def atomic_write(
    path: Path,
    data: bytes,
    mode: int | None = None,
    *,
    before_replace: Callable[[], None] | None = None,
) -> None:
    """Write `data` to `path` through a same-directory temp file, fsync, then os.replace.

    `mode` None keeps the existing file's mode (or 0644 for a new file). Symlinks are followed.
    `before_replace` runs at the last moment before the rename and may raise to leave the
    target as it is (the temp file is removed). Errors name the target, not the temp file.
    """
    target = resolve_target(path)
    final_mode = mode if mode is not None else (current_mode(target) or DEFAULT_NEW_FILE_MODE)
    # A directory we create for a private file is private too: its listing names the secret.
    ensure_dir(target.parent, PRIVATE_DIR_MODE if final_mode & 0o077 == 0 else DEFAULT_NEW_DIR_MODE)
    temp = target.with_name(f".{target.name}.megallm-{os.getpid()}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(temp, flags, 0o600)
    except OSError as error:
        raise _naming(error, target) from None
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
        if before_replace is not None:
            before_replace()
        os.replace(temp, target)
    except OSError as error:
        _unlink_quietly(temp)
        raise _naming(error, target) from None
    except BaseException:
        _unlink_quietly(temp)
        raise
    fsync_dir(target.parent)


def atomic_delete(path: Path, before_unlink: Callable[[], None] | None = None) -> None:
    target = resolve_target(path)
    if before_unlink is not None:
        before_unlink()
    try:
        os.unlink(target)
    except FileNotFoundError:
        return
    fsync_dir(target.parent)


def _naming(error: OSError, target: Path) -> OSError:
    """The same error about `target`: the user knows their file, not our temp file's name."""
    if isinstance(error, FileProblem) or error.errno is None:
        return error
    return type(error)(error.errno, error.strerror, str(target))


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
