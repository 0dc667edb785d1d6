"""Real shells, started the way terminals and tools start them, in a throw-away HOME.

Each run gets only HOME and a minimal PATH (like `env -i`), so nothing from the machine's own
environment or home directory can make a test pass.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Iterable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from megallm_cli.changes import FileChange
from megallm_cli.paths import Paths
from megallm_cli.shellenv import (
    activation_hint,
    plan_shell_env,
    plan_shell_env_removal,
    quote_fish,
    quote_posix,
)

pytestmark = pytest.mark.realshell

# The key validator elsewhere forbids all of this; the env-file writers must be right anyway.
KEY = 'sk-mega-it\'s "q" $HOME `id` \\ !x %PATH%'
BASE_URL = "http://127.0.0.1:8080"
FAMILIES = ["bash", "sh", "zsh", "fish", "powershell"]
PRINT_POSIX = 'printf %s "$MEGALLM_API_KEY"'
PRINT_POWERSHELL = "[Console]::Out.Write($env:MEGALLM_API_KEY)"

# (program, arguments before the command): login, interactive and plain, as each gets started.
INVOCATIONS = [
    ("bash", ["-lc"]),
    ("bash", ["-ic"]),
    ("sh", ["-lc"]),
    ("zsh", ["-c"]),
    ("zsh", ["-ic"]),
    ("zsh", ["-lc"]),
    ("fish", ["-c"]),
    ("fish", ["-lc"]),
    ("pwsh", ["-NoLogo", "-NonInteractive", "-Command"]),
]

DEBIAN_BASHRC = """\
# ~/.bashrc: executed by bash(1) for non-login shells.
case $- in
    *i*) ;;
      *) return;;
esac
HISTCONTROL=ignoreboth
alias ll='ls -alF'
"""
DEBIAN_PROFILE = """\
# ~/.profile: executed by the command interpreter for login shells.
if [ -n "$BASH_VERSION" ]; then
    if [ -f "$HOME/.bashrc" ]; then
        . "$HOME/.bashrc"
    fi
fi
if [ -d "$HOME/bin" ] ; then
    PATH="$HOME/bin:$PATH"
fi"""  # no final newline, as hand-edited files often have


def fresh(home: Path) -> Paths:
    return Paths({"HOME": str(home)}, "linux")


def debian_skeleton(home: Path) -> Paths:
    (home / ".bashrc").write_text(DEBIAN_BASHRC)
    (home / ".profile").write_text(DEBIAN_PROFILE)
    return Paths({"HOME": str(home)}, "linux")


def macos_bash_profile(home: Path) -> Paths:
    """A config dir with a space in it, and a ~/.bash_profile that shadows ~/.profile."""
    (home / ".bash_profile").write_text("[ -r ~/.bashrc ] && . ~/.bashrc\r\nexport EDITOR=vi\r\n")
    (home / ".profile").write_text("export FROM_PROFILE=1\n")
    return Paths({"HOME": str(home)}, "darwin")


def zdotdir_from_zshenv(home: Path) -> Paths:
    """~/.zshenv moves zsh's files; we run inside such a zsh, so ZDOTDIR is in our env."""
    zdotdir = home / ".config" / "zsh"
    zdotdir.mkdir(parents=True)
    (home / ".zshenv").write_text('export ZDOTDIR="$HOME/.config/zsh"\n')
    (zdotdir / ".zshrc").write_text("setopt autocd\n")
    return Paths({"HOME": str(home), "ZDOTDIR": str(zdotdir)}, "linux")


SCENARIOS: dict[str, Callable[[Path], Paths]] = {
    "fresh": fresh,
    "debian": debian_skeleton,
    "macos-bash-profile": macos_bash_profile,
    "zdotdir": zdotdir_from_zshenv,
}


def apply(changes: Iterable[FileChange]) -> None:
    """What the engine does, minus backups and atomicity (symlinks are followed alike)."""
    for change in changes:
        if change.after is None:
            change.path.unlink()
            continue
        change.path.parent.mkdir(parents=True, exist_ok=True)
        change.path.write_bytes(change.after)
        if change.target_mode is not None:
            change.path.chmod(change.target_mode)


def shell_path(program: str) -> str:
    found = shutil.which(program)
    if found is None:
        pytest.skip(f"{program} is not installed")
    return found


def run(
    home: Path, program: str, arguments: list[str], command: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [shell_path(program), *arguments, command],
        env={"HOME": str(home), "PATH": "/usr/local/bin:/usr/bin:/bin"},
        cwd=home,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def printer(program: str) -> str:
    return PRINT_POWERSHELL if program == "pwsh" else PRINT_POSIX


def seen_key(home: Path, program: str, arguments: list[str]) -> str:
    # Interactive shells without a terminal warn about job control on stderr: only read stdout.
    return run(home, program, arguments, printer(program)).stdout


def snapshot(home: Path) -> dict[Path, bytes]:
    return {path: path.read_bytes() for path in home.rglob("*") if path.is_file()}


@pytest.mark.parametrize(("program", "arguments"), INVOCATIONS, ids=lambda v: str(v))
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_new_shells_see_the_key_after_setup_and_not_after_removal(
    tmp_path: Path, scenario: str, program: str, arguments: list[str]
) -> None:
    shell_path(program)
    home = tmp_path / "home"
    home.mkdir()
    paths = SCENARIOS[scenario](home)
    before = snapshot(home)

    apply(
        plan_shell_env(
            paths, {"MEGALLM_API_KEY": KEY, "MEGALLM_BASE_URL": BASE_URL}, FAMILIES
        ).file_changes
    )
    assert seen_key(home, program, arguments) == KEY

    apply(plan_shell_env_removal(paths).file_changes)
    assert seen_key(home, program, arguments) == ""
    after = snapshot(home)
    assert {path: after.get(path) for path in before} == before


@pytest.mark.parametrize(("program", "arguments"), INVOCATIONS, ids=lambda v: str(v))
def test_a_deleted_config_dir_leaves_shells_starting_cleanly(
    tmp_path: Path, program: str, arguments: list[str]
) -> None:
    shell_path(program)
    paths = fresh(tmp_path)
    apply(plan_shell_env(paths, {"MEGALLM_API_KEY": KEY}, FAMILIES).file_changes)
    shutil.rmtree(paths.config_dir)

    result = run(tmp_path, program, arguments, printer(program))

    assert result.returncode == 0
    assert result.stdout == ""
    assert "megallm" not in result.stderr


@pytest.mark.parametrize("paths_for", [fresh, lambda home: Paths({"HOME": str(home)}, "darwin")])
@pytest.mark.parametrize(
    ("program", "arguments"),
    [
        ("bash", ["--norc", "--noprofile", "-c"]),
        ("dash", ["-c"]),
        ("zsh", ["-f", "-c"]),
        ("fish", ["--no-config", "-c"]),
        ("pwsh", ["-NoLogo", "-NoProfile", "-Command"]),
    ],
)
def test_the_activation_hint_loads_the_key_into_a_running_shell(
    tmp_path: Path, paths_for: Callable[[Path], Paths], program: str, arguments: list[str]
) -> None:
    shell_path(program)
    paths = paths_for(tmp_path)
    apply(plan_shell_env(paths, {"MEGALLM_API_KEY": KEY}, FAMILIES).file_changes)
    hint = activation_hint(paths, program)
    assert hint is not None

    assert run(tmp_path, program, arguments, f"{hint}; {printer(program)}").stdout == KEY


# Anything an environment variable can hold, as far as our env files allow (no NUL, no breaks);
# no lone surrogates, which no argv can carry.
storable_values = st.text(st.characters(codec="utf-8", blacklist_characters="\0\r\n"), max_size=30)


@pytest.mark.parametrize(
    ("program", "quote"),
    [("bash", quote_posix), ("dash", quote_posix), ("zsh", quote_posix), ("fish", quote_fish)],
)
def test_quoting_is_what_the_real_shell_reads(
    tmp_path: Path, program: str, quote: Callable[[str], str]
) -> None:
    shell = shell_path(program)

    @settings(max_examples=40, deadline=None)
    @given(storable_values)
    def check(value: str) -> None:
        result = subprocess.run(
            [shell, "-c", f"printf %s {quote(value)}"],
            env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
            capture_output=True,
            timeout=30,
            check=True,
        )
        assert result.stdout.decode("utf-8") == value

    check()
