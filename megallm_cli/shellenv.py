"""Where persistent environment variables live, per shell and OS, planned as FileChanges.

The values (the API key among them) go into one env file per shell dialect in our config dir,
0600: env.sh (sh, bash, zsh), env.fish and env.ps1. Shell startup files only get a marked block
that sources the env file if it exists, so the key never lands in a file people publish with
their dotfiles, a key rotation rewrites only the env files, and a deleted config dir leaves no
shell erroring on start. Windows also gets the values in HKCU\\Environment, the per-user
variables every new process inherits, GUI apps included.

Nothing here writes a file: callers hand the FileChanges to the engine. The registry is not a
file, so it is planned as UserVariableChanges that carry the previous value for restore.
"""

from __future__ import annotations

import contextlib
import re
import sys
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeVar

from megallm_cli import fsio
from megallm_cli.changes import FileChange, UserVariableChange
from megallm_cli.errors import ConfigParseError, MegallmError
from megallm_cli.formats.shellblock import (
    BlockStyle,
    ShellBlockError,
    find_block,
    find_exports,
    remove_block,
    upsert_block,
)
from megallm_cli.paths import Paths

AGENT = "shell"
MANAGED_NAMES = ("MEGALLM_API_KEY", "MEGALLM_BASE_URL")
# Variables that, set by the user's own rc files, would combine with or override ours.
STRAY_EXPORT_NAMES = ("MEGALLM_*", "OPENAI_*", "ANTHROPIC_*")

FAMILIES = ("bash", "zsh", "sh", "fish", "powershell")
_SHELL_ALIASES = {
    "bash": "bash",
    "zsh": "zsh",
    "sh": "sh",
    "dash": "sh",
    "ash": "sh",
    "ksh": "sh",
    "mksh": "sh",
    "fish": "fish",
    "pwsh": "powershell",
    "powershell": "powershell",
}

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_T = TypeVar("_T", bound=Hashable)


def shell_family(shell: str) -> str | None:
    """The family of a shell given by name or path ("/bin/zsh", "-bash", "pwsh.exe")."""
    name = re.split(r"[\\/]", shell.strip())[-1].lstrip("-").lower().removesuffix(".exe")
    return _SHELL_ALIASES.get(name)


# --- quoting -------------------------------------------------------------------------------


def quote_posix(value: str) -> str:
    """A single-quoted sh word: nothing inside is special, a quote is closed, escaped, reopened."""
    return "'" + value.replace("'", "'\\''") + "'"


def quote_fish(value: str) -> str:
    """A single-quoted fish word: inside, only backslash and quote are escapes."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


# PowerShell treats the typographic single quotes as quote characters too; doubling escapes any.
_POWERSHELL_SINGLE_QUOTES = "'\u2018\u2019\u201a\u201b"
_POWERSHELL_DOUBLE_QUOTES = '"\u201c\u201d\u201e'


def quote_powershell(value: str) -> str:
    """A verbatim single-quoted PowerShell string."""
    return "'" + "".join(c * 2 if c in _POWERSHELL_SINGLE_QUOTES else c for c in value) + "'"


def _escape_chars(value: str, special: str, escape: str) -> str:
    return "".join(escape + c if c in special else c for c in value)


def _double_quoted_posix(value: str) -> str:
    return _escape_chars(value, '\\"$`', "\\")


def _double_quoted_fish(value: str) -> str:
    return _escape_chars(value, '\\"$', "\\")


def _double_quoted_powershell(value: str) -> str:
    return _escape_chars(value, "`$" + _POWERSHELL_DOUBLE_QUOTES, "`")


# --- dialects: how each kind of shell reads an env file and sources it ---------------------

_ENV_FILE_HEADER = (
    "MegaLLM gateway settings, written by megallm and sourced by the megallm block in your\n"
    "shell startup files. It holds your API key: keep it private (0600), never commit it.\n"
)


@dataclass(frozen=True)
class _Dialect:
    env_file_name: str
    style: BlockStyle
    assign: Callable[[str, str], str]
    assignment: re.Pattern[str]  # one line of our env file; groups name and value
    unquote: Callable[[str], str]
    source_lines: Callable[[str], list[str]]  # env file path as a shell expression -> body
    double_quoted: Callable[[str], str]
    single_quoted: Callable[[str], str]
    source_command: str
    # sh, bash, zsh and fish take a CR before the line break as part of the last word
    # (`fi\r` is a syntax error), so their blocks are LF even in a CRLF file. PowerShell
    # reads either, so its block follows the file.
    block_newline: str | None


_POSIX_WORDS = re.compile(r"'([^']*)'|(\\')")


def _posix_unquote(word: str) -> str:
    return "".join("'" if escaped else quoted for quoted, escaped in _POSIX_WORDS.findall(word))


_POSIX = _Dialect(
    env_file_name="env.sh",
    style=BlockStyle.POSIX,
    assign=lambda name, value: f"export {name}={quote_posix(value)}",
    assignment=re.compile(r"export (?P<name>\w+)=(?P<value>(?:'[^']*'|\\')*)"),
    unquote=_posix_unquote,
    # `if` rather than `[ -f ] && .`: the block must not leave a failed status behind when
    # the env file is gone (a profile's last status can become the login shell's).
    source_lines=lambda path: [f"if [ -f {path} ]; then . {path}; fi"],
    double_quoted=_double_quoted_posix,
    single_quoted=quote_posix,
    source_command="source",
    block_newline="\n",
)

_FISH = _Dialect(
    env_file_name="env.fish",
    style=BlockStyle.POSIX,
    assign=lambda name, value: f"set -gx {name} {quote_fish(value)}",
    assignment=re.compile(r"set -gx (?P<name>\w+) '(?P<value>(?:[^'\\]|\\['\\])*)'"),
    unquote=lambda word: re.sub(r"\\(['\\])", r"\1", word),
    source_lines=lambda path: [f"if test -f {path}", f"    source {path}", "end"],
    double_quoted=_double_quoted_fish,
    single_quoted=quote_fish,
    source_command="source",
    block_newline="\n",
)

_QUOTE_CLASS = "[" + _POWERSHELL_SINGLE_QUOTES + "]"
_POWERSHELL = _Dialect(
    env_file_name="env.ps1",
    style=BlockStyle.POWERSHELL,
    assign=lambda name, value: f"$env:{name} = {quote_powershell(value)}",
    assignment=re.compile(
        r"\$env:(?P<name>\w+) = '(?P<value>(?:[^"
        + _POWERSHELL_SINGLE_QUOTES
        + "]|(?P<quote>"
        + _QUOTE_CLASS
        + ")(?P=quote))*)'"
    ),
    unquote=lambda word: re.sub("(" + _QUOTE_CLASS + r")\1", r"\1", word),
    # -LiteralPath: a [ in a user name must not be read as a wildcard.
    source_lines=lambda path: [f"if (Test-Path -LiteralPath {path}) {{ . {path} }}"],
    double_quoted=_double_quoted_powershell,
    single_quoted=quote_powershell,
    source_command=".",
    block_newline=None,
)

_DIALECTS = (_POSIX, _FISH, _POWERSHELL)
_FAMILY_DIALECT = {
    "bash": _POSIX,
    "zsh": _POSIX,
    "sh": _POSIX,
    "fish": _FISH,
    "powershell": _POWERSHELL,
}


def env_file(paths: Paths, family: str) -> Path:
    """Our env file that a shell of this family sources."""
    return paths.config_dir / _FAMILY_DIALECT[family].env_file_name


def _render_env_file(dialect: _Dialect, values: Mapping[str, str]) -> bytes:
    lines = ["# " + line for line in _ENV_FILE_HEADER.splitlines()]
    lines += [dialect.assign(name, value) for name, value in values.items()]
    return ("\n".join(lines) + "\n").encode("utf-8")


def _parse_env_file(dialect: _Dialect, data: bytes) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in data.decode("utf-8", errors="replace").split("\n"):
        match = dialect.assignment.fullmatch(line.rstrip("\r"))
        if match:
            values[match.group("name")] = dialect.unquote(match.group("value"))
    return values


def _check_values(values: Mapping[str, str]) -> None:
    for name, value in values.items():
        if not _NAME.fullmatch(name):
            raise ValueError(f"not a portable environment variable name: {name!r}")
        # Our env files hold one assignment per line (that is how persisted_value reads them),
        # and no environment can carry a NUL.
        if any(c in value for c in "\0\r\n"):
            raise ValueError(f"the value of {name} contains a line break or NUL")
        if not value.isascii():
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise ValueError(f"the value of {name} is not valid text") from None


# --- where each shell family reads its startup files ---------------------------------------


def _home_expression(paths: Paths, target: Path, dialect: _Dialect) -> str:
    """`target` for a startup file, relative to $HOME when under it so shared dotfiles work."""
    try:
        relative = target.relative_to(paths.home)
    except ValueError:
        return dialect.single_quoted(str(target))
    separator = "\\" if dialect is _POWERSHELL and paths.family == "windows" else "/"
    rest = separator.join(relative.parts)
    return '"$HOME' + separator + dialect.double_quoted(rest) + '"'


def _block_body(paths: Paths, dialect: _Dialect) -> str:
    expression = _home_expression(paths, paths.config_dir / dialect.env_file_name, dialect)
    lines = [
        "# Added by megallm; `megallm restore` removes it. Your key is in the file it sources.",
        *dialect.source_lines(expression),
    ]
    return "\n".join(lines)


def _bash_login_file(paths: Paths) -> Path:
    """The one file a bash login shell reads: the first of these that exists.

    macOS Terminal (and many SSH setups) start login shells, which never read ~/.bashrc unless
    this file says so. When none exists we create ~/.profile, not ~/.bash_profile: a new
    ~/.bash_profile would shadow a ~/.profile that an installer (rustup, nvm, …) writes later,
    while ~/.profile shadows nothing and is also what sh and many display managers read.
    """
    candidates = [paths.home / name for name in (".bash_profile", ".bash_login", ".profile")]
    return next((path for path in candidates if path.exists()), paths.home / ".profile")


def _zshenv(paths: Paths) -> Path:
    """.zshenv, which every zsh reads, interactive or not, so `zsh -c` tools see the key too.

    zsh reads it from $ZDOTDIR as set *before* it starts. When ~/.zshenv itself sets ZDOTDIR
    (a common way to move zsh's files), we may be running under that ZDOTDIR, but a new zsh
    reads ~/.zshenv and only later files from ZDOTDIR: then ~/.zshenv is the file to use.
    """
    home_zshenv = paths.home / ".zshenv"
    data = _read(home_zshenv)
    if data is not None and find_exports(_decode(data, home_zshenv)[0], ["ZDOTDIR"]):
        return home_zshenv
    return paths.zdotdir / ".zshenv"


def _fish_drop_in(paths: Paths) -> Path:
    return paths.fish_conf_d / "megallm.fish"


def _windows_documents(paths: Paths) -> Path:
    """Documents, where PowerShell keeps its profiles on Windows.

    OneDrive's known-folder move relocates it to %OneDrive%\\Documents and only a shell API
    knows for sure, so go by where PowerShell's folders (or Documents itself) already are.
    """
    candidates = [paths.home / "Documents"]
    onedrive = paths.env.get("OneDrive")
    if onedrive:
        candidates.append(Path(onedrive) / "Documents")
    for candidate in candidates:
        if (candidate / "PowerShell").is_dir() or (candidate / "WindowsPowerShell").is_dir():
            return candidate
    return next((c for c in candidates if c.is_dir()), candidates[0])


def _powershell_dirs(paths: Paths) -> list[Path]:
    """PowerShell 7 first, then Windows PowerShell 5 (Windows only)."""
    if paths.family != "windows":
        return [paths.xdg_config_home / "powershell"]
    documents = _windows_documents(paths)
    return [documents / "PowerShell", documents / "WindowsPowerShell"]


def _rc_targets(paths: Paths, family: str) -> list[Path]:
    """The startup files that get our block when this family is configured."""
    if family == "bash":
        return [paths.home / ".bashrc", _bash_login_file(paths)]
    if family == "sh":
        return [paths.home / ".profile"]
    if family == "zsh":
        return [_zshenv(paths)]
    if family == "fish":
        return [_fish_drop_in(paths)]
    return powershell_profiles(paths)


def powershell_profiles(paths: Paths) -> list[Path]:
    """The PowerShell profiles (all hosts, current user) that get a megallm block."""
    profiles = [directory / "profile.ps1" for directory in _powershell_dirs(paths)]
    # Windows PowerShell 5's default execution policy on client Windows refuses all scripts,
    # so a profile we create there would print an error in every new window; touch it only if
    # the user already has one. HKCU\Environment reaches it anyway. PowerShell 7 defaults to
    # RemoteSigned, which runs a local profile.
    return [profiles[0], *(path for path in profiles[1:] if path.exists())]


def _block_candidates(paths: Paths) -> list[tuple[Path, _Dialect]]:
    """Every startup file that may hold our block, including ones earlier runs chose."""
    posix_files = [
        paths.home / name for name in (".bashrc", ".bash_profile", ".bash_login", ".profile")
    ]
    for directory in _unique([paths.home, paths.zdotdir]):
        posix_files += [directory / ".zshenv", directory / ".zshrc"]
    found = [(path, _POSIX) for path in posix_files]
    found.append((_fish_drop_in(paths), _FISH))
    found += [(d / "profile.ps1", _POWERSHELL) for d in _powershell_dirs(paths)]
    return found


def _startup_files(paths: Paths) -> list[tuple[Path, _Dialect]]:
    """Every startup file a user may export variables from, for the stray-export scan."""
    files = list(_block_candidates(paths))
    for directory in _unique([paths.home, paths.zdotdir]):
        files += [(directory / name, _POSIX) for name in (".zprofile", ".zlogin")]
    fish_dir = paths.xdg_config_home / "fish"
    files.append((fish_dir / "config.fish", _FISH))
    if paths.fish_conf_d.is_dir():
        files += [(path, _FISH) for path in sorted(paths.fish_conf_d.glob("*.fish"))]
    for directory in _powershell_dirs(paths):
        for name in ("Microsoft.PowerShell_profile.ps1", "Microsoft.VSCode_profile.ps1"):
            files.append((directory / name, _POWERSHELL))
    return _unique(files)


def detected_shell_families(paths: Paths, current_shell: str | None) -> list[str]:
    """The current shell's family, then every family whose startup files exist here."""
    families = []
    current = shell_family(current_shell) if current_shell else None
    if current:
        families.append(current)
    zsh_files = [
        directory / name
        for directory in (paths.home, paths.zdotdir)
        for name in (".zshenv", ".zshrc", ".zprofile", ".zlogin")
    ]
    evidence = {
        "bash": [paths.home / name for name in (".bashrc", ".bash_profile", ".bash_login")],
        "zsh": zsh_files,
        "fish": [paths.xdg_config_home / "fish"],
        "powershell": _powershell_dirs(paths),
    }
    for family, files in evidence.items():
        present = any(path.exists() for path in files)
        if present or (family == "powershell" and paths.family == "windows"):
            families.append(family)
    return _unique(families)


# --- reading files as text without losing a byte -------------------------------------------


@dataclass(frozen=True)
class _Encoding:
    bom: bytes
    codec: str
    errors: str


_UTF8 = _Encoding(b"", "utf-8", "surrogateescape")
_BOMS = (
    _Encoding(b"\xef\xbb\xbf", "utf-8", "surrogateescape"),
    # Windows PowerShell 5 writes UTF-16 files with `>` and Out-File, profiles included.
    _Encoding(b"\xff\xfe", "utf-16-le", "strict"),
    _Encoding(b"\xfe\xff", "utf-16-be", "strict"),
)


def _decode(data: bytes, path: Path) -> tuple[str, _Encoding]:
    """Text whose re-encoding gives back the same bytes (non-UTF-8 bytes ride as surrogates)."""
    encoding = next((e for e in _BOMS if data.startswith(e.bom)), _UTF8)
    try:
        return data[len(encoding.bom) :].decode(encoding.codec, encoding.errors), encoding
    except UnicodeDecodeError as error:
        reason = f"not valid {encoding.codec} text ({error.reason})"
        raise ConfigParseError(path, 1, 1, reason) from error


def _encode(text: str, encoding: _Encoding) -> bytes:
    return encoding.bom + text.encode(encoding.codec, encoding.errors)


def _read(path: Path) -> bytes | None:
    # fsio names the file for a pipe, a directory, a link loop or an unreadable file.
    return fsio.read_bytes(path)


def _unique(items: Iterable[_T]) -> list[_T]:
    return list(dict.fromkeys(items))


# --- the Windows user environment ----------------------------------------------------------


class UserEnvironment(Protocol):
    """Per-user persistent variables (Windows: HKCU\\Environment)."""

    def get(self, name: str) -> str | None: ...

    def set(self, name: str, value: str) -> None: ...

    def delete(self, name: str) -> None: ...

    def broadcast_change(self) -> None:
        """Tell running programs (Explorer above all) to reload, so new windows see it."""


class WindowsRegistryEnvironment:
    """HKCU\\Environment through winreg; never `setx`, which truncates at 1024 characters."""

    _KEY = "Environment"

    def get(self, name: str) -> str | None:
        if sys.platform != "win32":
            raise OSError("the Windows user environment exists only on Windows")
        import winreg

        with winreg.OpenKey(winreg.HKEY_CURRENT_USER, self._KEY) as key:
            try:
                value, _kind = winreg.QueryValueEx(key, name)
            except FileNotFoundError:
                return None
        return str(value)

    def set(self, name: str, value: str) -> None:
        if sys.platform != "win32":
            raise OSError("the Windows user environment exists only on Windows")
        import winreg

        # Like the System Properties editor: a value with %VAR% references expands on use.
        kind = winreg.REG_EXPAND_SZ if "%" in value else winreg.REG_SZ
        access = winreg.KEY_SET_VALUE
        with winreg.CreateKeyEx(winreg.HKEY_CURRENT_USER, self._KEY, 0, access) as key:
            winreg.SetValueEx(key, name, 0, kind, value)

    def delete(self, name: str) -> None:
        if sys.platform != "win32":
            raise OSError("the Windows user environment exists only on Windows")
        import winreg

        access = winreg.KEY_SET_VALUE
        with (
            winreg.OpenKey(winreg.HKEY_CURRENT_USER, self._KEY, 0, access) as key,
            contextlib.suppress(FileNotFoundError),
        ):
            winreg.DeleteValue(key, name)

    def broadcast_change(self) -> None:
        if sys.platform != "win32":
            raise OSError("the Windows user environment exists only on Windows")
        import ctypes
        from ctypes import wintypes

        hwnd_broadcast, wm_settingchange, smto_abortifhung = 0xFFFF, 0x001A, 0x0002
        user32 = ctypes.WinDLL("user32", use_last_error=True)
        send = user32.SendMessageTimeoutW
        send.argtypes = [
            wintypes.HWND,
            wintypes.UINT,
            wintypes.WPARAM,
            wintypes.LPCWSTR,
            wintypes.UINT,
            wintypes.UINT,
            ctypes.POINTER(ctypes.c_size_t),
        ]
        send.restype = wintypes.LPARAM
        result = ctypes.c_size_t()
        # A hung window must not hang setup: give each at most 5 s, skip the unresponsive.
        send(
            hwnd_broadcast,
            wm_settingchange,
            0,
            "Environment",
            smto_abortifhung,
            5000,
            ctypes.byref(result),
        )


class FakeUserEnvironment:
    """An in-memory UserEnvironment with Windows' case-insensitive names, for tests."""

    def __init__(self, values: Mapping[str, str] | None = None) -> None:
        self.values: dict[str, str] = {}
        self.broadcasts = 0
        for name, value in (values or {}).items():
            self.set(name, value)

    def _stored_name(self, name: str) -> str:
        return next((n for n in self.values if n.upper() == name.upper()), name)

    def get(self, name: str) -> str | None:
        return self.values.get(self._stored_name(name))

    def set(self, name: str, value: str) -> None:
        self.values.pop(self._stored_name(name), None)
        self.values[name] = value

    def delete(self, name: str) -> None:
        self.values.pop(self._stored_name(name), None)

    def broadcast_change(self) -> None:
        self.broadcasts += 1


def default_user_environment(paths: Paths) -> UserEnvironment | None:
    """The registry when we run on Windows; None elsewhere (and for a simulated Windows)."""
    if paths.family == "windows" and sys.platform == "win32":
        return WindowsRegistryEnvironment()
    return None


class UserEnvironmentDrift(MegallmError):
    def __init__(self, names: list[str]) -> None:
        listed = ", ".join(f"HKCU\\Environment\\{name}" for name in names)
        super().__init__(
            f"changed since megallm planned this: {listed}",
            hint="nothing in the user environment was changed; check those values, then run again",
        )
        self.names = names


def apply_user_variables(user_env: UserEnvironment, changes: Iterable[UserVariableChange]) -> None:
    """Apply all changes or none; refuse if a value is neither the planned before nor after.

    A value that is already `after` counts as done (a re-run); anything else was changed by
    someone else since planning (or since setup, on restore), and is theirs to keep.
    """
    pending: list[UserVariableChange] = []
    drifted: list[str] = []
    for change in changes:
        current = user_env.get(change.name)
        if current == change.after:
            continue
        if current == change.before:
            pending.append(change)
        else:
            drifted.append(change.name)
    if drifted:
        raise UserEnvironmentDrift(drifted)
    done: list[UserVariableChange] = []
    try:
        for change in pending:
            _set_or_delete(user_env, change.name, change.after)
            done.append(change)
        if done:
            user_env.broadcast_change()
    except BaseException:
        # Interrupted or failed, the broadcast included: the values go back too, so the
        # engine's rollback of the files leaves nothing changed anywhere.
        for change in reversed(done):
            _set_or_delete(user_env, change.name, change.before)
        if done:
            with contextlib.suppress(Exception):
                user_env.broadcast_change()
        raise


def _set_or_delete(user_env: UserEnvironment, name: str, value: str | None) -> None:
    if value is None:
        user_env.delete(name)
    else:
        user_env.set(name, value)


# --- plans ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ShellEnvPlan:
    families: tuple[str, ...]
    file_changes: tuple[FileChange, ...]
    user_variables: tuple[UserVariableChange, ...] = ()

    @property
    def is_noop(self) -> bool:
        return not self.file_changes and not self.user_variables


def _display(paths: Paths, path: Path) -> str:
    try:
        return "~/" + path.relative_to(paths.home).as_posix()
    except ValueError:
        return str(path)


def _edited(path: Path, dialect: _Dialect, body: str | None) -> tuple[bytes | None, bytes]:
    """The file's bytes now, and with our block set to `body` (None: removed)."""
    return edit_block(path, dialect.style, body, dialect.block_newline)


def edit_block(
    path: Path, style: BlockStyle, body: str | None, block_newline: str | None
) -> tuple[bytes | None, bytes]:
    """A startup file's bytes now, and with the `style` block set to `body` (None: removed).

    The file's encoding (BOM, UTF-16, bytes that are not UTF-8) comes back as it was, and
    malformed markers raise ConfigParseError with their line. `block_newline` as in
    upsert_block.
    """
    before = _read(path)
    text, encoding = _decode(before, path) if before is not None else ("", _UTF8)
    try:
        if body is None:
            edited = remove_block(text, style)
        else:
            edited = upsert_block(text, body, style, block_newline)
    except ShellBlockError as error:
        raise ConfigParseError(path, error.line, 1, error.reason) from error
    return before, _encode(edited, encoding)


def _env_file_validator(dialect: _Dialect, values: Mapping[str, str]) -> Callable[[bytes], None]:
    expected = dict(values)

    def validate(data: bytes) -> None:
        if _parse_env_file(dialect, data) != expected:
            raise ValueError(f"{dialect.env_file_name} does not read back as written")

    return validate


def _families(shells: Iterable[str]) -> list[str]:
    families = []
    for shell in shells:
        family = shell if shell in FAMILIES else shell_family(shell)
        if family is None:
            raise ValueError(f"no shell family for {shell!r}; known: {', '.join(FAMILIES)}")
        families.append(family)
    return _unique(families)


def plan_shell_env(
    paths: Paths,
    values: Mapping[str, str],
    shells: Iterable[str],
    user_env: UserEnvironment | None = None,
) -> ShellEnvPlan:
    """Persist `values` for new shells of these families (and in `user_env`, when given).

    Env files that exist from an earlier run are rewritten too, so a new key reaches every
    shell that was configured before. No-op changes are left out.
    """
    _check_values(values)
    families = _families(shells)
    dialects = _unique(
        [_FAMILY_DIALECT[family] for family in families]
        + [d for d in _DIALECTS if (paths.config_dir / d.env_file_name).exists()]
    )
    changes: list[FileChange] = []
    for dialect in dialects:
        path = paths.config_dir / dialect.env_file_name
        changes.append(
            FileChange(
                path,
                _read(path),
                _render_env_file(dialect, values),
                AGENT,
                f"store {', '.join(values)} in {_display(paths, path)}",
                secret=True,
                validate=_env_file_validator(dialect, values),
            )
        )
    for family in families:
        dialect = _FAMILY_DIALECT[family]
        body = _block_body(paths, dialect)
        for path in _rc_targets(paths, family):
            before, after = _edited(path, dialect, body)
            summary = f"source {dialect.env_file_name} from {_display(paths, path)} ({family})"
            changes.append(FileChange(path, before, after, AGENT, summary))
    registry: list[UserVariableChange] = []
    if user_env is not None:
        registry = [UserVariableChange(n, user_env.get(n), v) for n, v in values.items()]
    return ShellEnvPlan(
        tuple(families),
        tuple(_unique_by_file(c for c in changes if not c.is_noop)),
        tuple(c for c in registry if not c.is_noop),
    )


def _unique_by_file(changes: Iterable[FileChange]) -> list[FileChange]:
    """The first change to each file, judged after following symlinks.

    Families share files (bash's login file may be sh's ~/.profile) and dotfile managers link
    one name to another (~/.bash_profile -> .bashrc); two changes to one file would both be
    planned from the same old bytes.
    """
    by_file: dict[Path, FileChange] = {}
    for change in changes:
        by_file.setdefault(change.path.resolve(), change)
    return list(by_file.values())


def plan_shell_env_removal(
    paths: Paths,
    user_env: UserEnvironment | None = None,
    names: Iterable[str] = MANAGED_NAMES,
) -> ShellEnvPlan:
    """Undo plan_shell_env wherever it left traces: blocks, the fish drop-in, the env files.

    A user variable is changed only while it still holds the value our env files hold (one the
    user set differently is theirs): back to the value it had before megallm, per the backups,
    or deleted.
    """
    changes: list[FileChange] = []
    for path, dialect in _block_candidates(paths):
        if not path.exists():
            continue
        before, after = _edited(path, dialect, None)
        emptied = after != before and not after.strip()
        # The drop-in's name is ours; a startup file that setup created held only our block.
        if emptied and (path == _fish_drop_in(paths) or _created_by_megallm(paths, path, dialect)):
            summary = f"delete {_display(paths, path)}, which megallm created"
            changes.append(FileChange(path, before, None, AGENT, summary))
        else:
            summary = f"remove the megallm block from {_display(paths, path)}"
            changes.append(FileChange(path, before, after, AGENT, summary))
    registry: list[UserVariableChange] = []
    if user_env is not None:
        from megallm_cli import backups

        for name in names:
            current = user_env.get(name)
            if current is not None and current == persisted_value(paths, name):
                prior = backups.value_before_megallm(paths.backups_dir, name)
                earlier = None if prior is None else prior.value
                registry.append(UserVariableChange(name, current, earlier))
    for dialect in _DIALECTS:
        path = paths.config_dir / dialect.env_file_name
        before = _read(path)
        if before is not None:
            summary = f"delete {_display(paths, path)}"
            changes.append(FileChange(path, before, None, AGENT, summary, secret=True))
    return ShellEnvPlan(
        (), tuple(_unique_by_file(c for c in changes if not c.is_noop)), tuple(registry)
    )


def _created_by_megallm(paths: Paths, path: Path, dialect: _Dialect) -> bool:
    """True when the backups show `path` did not exist before megallm's first block in it."""
    from megallm_cli import backups

    def holds_our_block(data: bytes | None) -> bool:
        if data is None:
            return False
        try:
            return find_block(_decode(data, path)[0], dialect.style) is not None
        except (ConfigParseError, ShellBlockError):
            return True  # not a state to go back to

    prior = backups.image_before_megallm(paths.backups_dir, path, holds_our_block)
    return prior is not None and prior.data is None


# --- what doctor and key rotation need -----------------------------------------------------


def persisted_value(paths: Paths, name: str) -> str | None:
    """The value our env files give `name` (env.sh first), or None if none of them sets it."""
    for dialect in _DIALECTS:
        data = _read(paths.config_dir / dialect.env_file_name)
        if data is not None:
            value = _parse_env_file(dialect, data).get(name)
            if value is not None:
                return value
    return None


def activation_hint(paths: Paths, shell: str) -> str | None:
    """The command that loads the values into the shell the user is typing in right now.

    None for a shell we do not configure (cmd.exe, nushell…): a new terminal is the answer.
    """
    family = shell_family(shell)
    if family is None:
        return None
    dialect = _FAMILY_DIALECT[family]
    path = paths.config_dir / dialect.env_file_name
    command = "." if family == "sh" else dialect.source_command
    try:
        parts = path.relative_to(paths.home).parts
    except ValueError:
        return f"{command} {dialect.single_quoted(str(path))}"
    separator = "\\" if dialect is _POWERSHELL and paths.family == "windows" else "/"
    rest = separator.join(parts)
    if re.fullmatch(r"[\w.\\/-]+", rest):
        return f"{command} ~{separator}{rest}"
    if dialect is _POWERSHELL:
        return f"{command} {_home_expression(paths, path, dialect)}"
    # ~/ followed by a quoted rest still expands in sh and fish. Not double quotes: an
    # interactive bash would expand a "!" inside them from its history.
    return f"{command} ~/{dialect.single_quoted(rest)}"


@dataclass(frozen=True)
class StrayExport:
    path: Path
    line: int
    name: str
    snippet: str  # stops before the value: never shows a key

    @property
    def location(self) -> str:
        return f"{self.path}:{self.line}"


def find_stray_exports(
    paths: Paths, names: Iterable[str] = STRAY_EXPORT_NAMES
) -> list[StrayExport]:
    """Startup-file lines outside our blocks that set these variables (doctor: file:line)."""
    watched = list(names)
    found: list[StrayExport] = []
    for path, dialect in _startup_files(paths):
        data = _read(path) if path.is_file() else None
        if data is None:
            continue
        try:
            text, _encoding = _decode(data, path)
        except ConfigParseError:
            continue  # an undecodable profile is not ours to judge; doctor reports blocks apart
        for export in find_exports(text, watched, dialect.style):
            found.append(StrayExport(path, export.line, export.name, export.snippet))
    return found


def families_sourcing_env(paths: Paths) -> dict[str, list[Path]]:
    """For each shell family, the startup files where our block is in place now."""
    from megallm_cli.formats.shellblock import find_block

    found: dict[str, list[Path]] = {}
    for family in FAMILIES:
        dialect = _FAMILY_DIALECT[family]
        for path in _rc_targets(paths, family):
            data = _read(path) if path.is_file() else None
            if data is None:
                continue
            try:
                text, _encoding = _decode(data, path)
                if find_block(text, dialect.style):
                    found.setdefault(family, []).append(path)
            except (ConfigParseError, ShellBlockError):
                continue
    return found
