"""Shell completion: the shipped scripts match the program, and install/uninstall are exact.

The real-shell tests start bash, zsh and fish the way a terminal does, in a throwaway HOME,
and skip a shell that is not installed; the TAB tests drive an interactive shell in tmux.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path

import pytest
import typer.main

from megallm_cli import completion
from megallm_cli.changes import FileChange
from megallm_cli.cli import app
from megallm_cli.completion import REFRESH_COMMAND, SCRIPT_NAMES, SHELLS, command_tree, render
from megallm_cli.paths import Paths
from megallm_cli.shellenv import plan_shell_env, plan_shell_env_removal, quote_fish
from tests.conftest import Home, megallm_executable

ROOT = Path(__file__).resolve().parent.parent
COMPLETIONS = ROOT / "completions"
GENERATOR = ROOT / "scripts" / "gen_completions.py"

# A startup file as people have them: foreign content, CRLF-free, no final line break.
USER_RC = "# my settings\nexport EDITOR=vi\nalias ll='ls -l'"


def tree() -> completion.Command:
    return command_tree(typer.main.get_command(app))


# --- the shipped scripts ------------------------------------------------------------------


def test_the_shipped_scripts_match_the_program(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(GENERATOR), "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    stale = [
        name
        for name in SCRIPT_NAMES.values()
        if not (COMPLETIONS / name).is_file()
        or (COMPLETIONS / name).read_bytes() != (tmp_path / name).read_bytes()
    ]
    assert not stale, (
        f"completions/{', completions/'.join(stale)} no longer match the commands: "
        f"run `{REFRESH_COMMAND}` and commit the result"
    )


def spelled(shell: str, option_name: str) -> str:
    """How a script spells an option name: fish's `complete` takes it apart."""
    if shell != "fish":
        return option_name
    if option_name.startswith("--"):
        return f"-l {quote_fish(option_name[2:])}"
    return f"-s {quote_fish(option_name[1:])}"


@pytest.mark.parametrize("shell", SHELLS)
def test_every_command_and_option_is_in_every_script(shell: str) -> None:
    script = render(shell, tree())
    for command in tree().walk():
        for name in command.path:
            assert name in script
        for option in command.options:
            for name in option.names:
                assert spelled(shell, name) in script, f"{shell}: {command.key} {name}"


def test_rendering_is_the_same_in_every_process(home: Home) -> None:
    """Set orders change with the hash seed; a script must not."""
    scripts = set()
    for seed in ("1", "2", "3"):
        result = subprocess.run(
            [sys.executable, "-m", "megallm_cli", "completion", "show", "--shell", "zsh"],
            env={**home.env, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        )
        scripts.add(result.stdout)
    assert len(scripts) == 1


def test_agent_ids_levels_and_shells_are_offered_as_values() -> None:
    from megallm_cli.agents import AGENT_IDS

    setup = next(command for command in tree().walk() if command.path == ("setup",))
    values = {name: option.values for option in setup.options for name in option.names}
    assert values["--agent"] == AGENT_IDS
    assert values["--level"] == ("user", "project")
    install = next(c for c in tree().walk() if c.path == ("completion", "install"))
    assert {o.names[0]: o.values for o in install.options}["--shell"] == SHELLS


@pytest.mark.parametrize("shell", SHELLS)
def test_show_prints_the_same_script_as_the_generator(home: Home, shell: str) -> None:
    result = home.run("completion", "show", "--shell", shell)
    assert result.returncode == 0, result.stderr
    assert result.stdout == render(shell, tree())


def test_an_unknown_shell_is_a_usage_error_naming_the_flag(home: Home) -> None:
    result = home.run("completion", "install", extra_env={"MEGALLM_SHELL": "tcsh"})
    assert result.returncode == 2
    assert "tcsh" in result.stderr and "--shell" in result.stderr
    assert not (home.home / ".bashrc").exists()


# --- bash's completion function, called the way bash calls it -----------------------------

BASH_HARNESS = r"""
source "$1"
COMP_LINE=$2
COMP_POINT=${#COMP_LINE}
# bash splits COMP_WORDS at the COMP_WORDBREAKS characters too: = and : are words of their own
read -r -a blank_split <<< "$COMP_LINE"
COMP_WORDS=()
for word in "${blank_split[@]}"; do
    while [[ $word == *[=:]* ]]; do
        head=${word%%[=:]*}
        [[ -n $head ]] && COMP_WORDS+=("$head")
        COMP_WORDS+=("${word:${#head}:1}")
        word=${word:${#head}+1}
    done
    [[ -n $word ]] && COMP_WORDS+=("$word")
done
[[ $COMP_LINE == *' ' ]] && COMP_WORDS+=("")
COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
_megallm
printf '%s\n' "${COMPREPLY[@]}"
"""


def bash_completions(line: str) -> list[str]:
    result = subprocess.run(
        ["bash", "-c", BASH_HARNESS, "harness", str(COMPLETIONS / "megallm.bash"), line],
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/bin:/bin", "HOME": "/nonexistent"},
    )
    return [word for word in result.stdout.splitlines() if word]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("megallm se", ["setup"]),
        ("megallm completion ", ["install", "show"]),
        ("megallm completion install --sh", ["--shell"]),
        ("megallm completion install --shell f", ["fish"]),
        ("megallm setup --level ", ["user", "project"]),
        ("megallm setup --level=p", ["project"]),
        ("megallm setup -a claude", ["claude-code"]),
        ("megallm setup --model gpt-5 --le", ["--level"]),  # a value is not a command
        ("megallm -q rest", ["restore"]),
        ("megallm restore --l", ["--list", "--latest"]),
    ],
)
def test_bash_completes_commands_options_and_values(line: str, expected: list[str]) -> None:
    if shutil.which("bash") is None:
        pytest.skip("bash is not installed")
    assert bash_completions(line) == expected


# --- installing into real shells ------------------------------------------------------------


def shell_program(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        pytest.skip(f"{name} is not installed")
    return found


def bin_dir_with_megallm(home: Home) -> Path:
    """A PATH entry holding `megallm`: fish completes only commands it can find."""
    directory = home.root / "bin"
    directory.mkdir(exist_ok=True)
    link = directory / "megallm"
    if not link.exists():
        link.symlink_to(megallm_executable())
    return directory


def new_shell(home: Home, program: str, *arguments: str) -> subprocess.CompletedProcess[str]:
    """A shell started as a terminal starts it: nothing from this machine's environment."""
    path = f"{bin_dir_with_megallm(home)}:/usr/local/bin:/usr/bin:/bin"
    return subprocess.run(
        [shell_program(program), *arguments],
        env={"HOME": str(home.home), "PATH": path, "TERM": "dumb"},
        cwd=home.home,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


REGISTERED = {
    # Interactive shells without a terminal warn about job control on stderr: read stdout.
    "bash": (("-ic", "complete -p megallm"), "complete -F _megallm megallm"),
    "zsh": (("-ic", "print -r -- $_comps[megallm]"), "_megallm"),
    "fish": (("-c", 'complete -C"megallm se"'), "setup\tConfigure agents"),
}
STARTUP_FILE = {"bash": ".bashrc", "zsh": ".zshrc"}


def startup_file(home: Home, shell: str) -> Path:
    if shell == "fish":
        return home.home / ".config" / "fish" / "config.fish"
    return home.home / STARTUP_FILE[shell]


@pytest.mark.realshell
@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_install_registers_completion_in_new_shells_and_uninstall_restores_bytes(
    home: Home, shell: str
) -> None:
    arguments, expected = REGISTERED[shell]
    rc = startup_file(home, shell)
    rc.parent.mkdir(parents=True, exist_ok=True)
    rc.write_text(USER_RC)
    assert expected not in new_shell(home, shell, *arguments).stdout

    first = home.run("completion", "install", "--shell", shell)
    assert first.returncode == 0, first.stderr
    assert expected in new_shell(home, shell, *arguments).stdout
    installed = home.snapshot()

    second = home.run("completion", "install", "--shell", shell)
    assert second.returncode == 0, second.stderr
    assert "nothing to change" in second.stderr
    assert home.snapshot() == installed
    marked = rc if shell != "fish" else completion.script_path(home.paths, "fish")
    assert marked.read_text().count("# >>> megallm completion >>>") == 1

    removed = home.run("completion", "install", "--uninstall", "--shell", shell)
    assert removed.returncode == 0, removed.stderr
    assert rc.read_text() == USER_RC
    assert not completion.script_path(home.paths, shell).exists()
    assert expected not in new_shell(home, shell, *arguments).stdout


@pytest.mark.realshell
def test_restore_undoes_an_install_like_any_other_run(home: Home) -> None:
    (home.home / ".bashrc").write_text(USER_RC)
    before = home.snapshot()
    assert home.run("completion", "install", "--shell", "bash").returncode == 0
    restored = home.run("restore", "--latest")
    assert restored.returncode == 0, restored.stderr
    assert home.snapshot() == before
    assert "complete -F" not in new_shell(home, "bash", "-ic", "complete -p megallm").stdout


def test_the_env_block_and_the_completion_block_live_side_by_side(home: Home) -> None:
    rc = home.home / ".bashrc"
    rc.write_text(USER_RC)
    paths = Paths({"HOME": str(home.home)}, "linux")
    apply(plan_shell_env(paths, {"MEGALLM_API_KEY": "sk-mega-x"}, ["bash"]).file_changes)
    with_env = rc.read_text()

    assert home.run("completion", "install", "--shell", "bash").returncode == 0
    assert home.run("completion", "install", "--uninstall").returncode == 0
    assert rc.read_text() == with_env

    assert home.run("completion", "install", "--shell", "bash").returncode == 0
    apply(plan_shell_env_removal(paths).file_changes)
    without_env = rc.read_text()
    assert "# >>> megallm >>>" not in without_env
    assert "# >>> megallm completion >>>" in without_env
    assert home.run("completion", "install", "--uninstall").returncode == 0
    assert rc.read_text() == USER_RC


def apply(changes: Iterable[FileChange]) -> None:
    for change in changes:
        if change.after is None:
            change.path.unlink()
        else:
            change.path.parent.mkdir(parents=True, exist_ok=True)
            change.path.write_bytes(change.after)


def test_the_current_shell_is_the_default(home: Home) -> None:
    result = home.run("completion", "install", extra_env={"MEGALLM_SHELL": "/usr/bin/zsh"})
    assert result.returncode == 0, result.stderr
    assert "# >>> megallm completion >>>" in (home.home / ".zshrc").read_text()
    assert not (home.home / ".bashrc").exists()


def test_dry_run_shows_the_diff_and_writes_nothing(home: Home) -> None:
    before = home.snapshot()
    result = home.run("completion", "install", "--shell", "bash", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "+# >>> megallm completion >>>" in result.stdout
    assert home.snapshot() == before


def test_powershell_gets_a_region_in_the_profile_that_dot_sources_the_script(
    tmp_path: Path,
) -> None:
    paths = Paths(
        {"HOME": str(tmp_path), "APPDATA": str(tmp_path / "AppData" / "Roaming")}, "win32"
    )
    changes = completion.plan_install(paths, "powershell", tree())
    by_name = {change.path.name: change for change in changes}
    profile = by_name["profile.ps1"]
    assert profile.path == tmp_path / "Documents" / "PowerShell" / "profile.ps1"
    text = (profile.after or b"").decode()
    assert text.startswith("#region megallm completion\n")
    assert "Join-Path $HOME 'AppData\\Roaming\\megallm\\completions\\megallm.ps1'" in text
    assert b"Register-ArgumentCompleter" in (by_name["megallm.ps1"].after or b"")


@pytest.mark.realshell
def test_powershell_completes_from_the_script(tmp_path: Path) -> None:
    pwsh = shell_program("pwsh")
    script = COMPLETIONS / "megallm.ps1"
    typed = "megallm completion install --shell f"
    command = (
        f". '{script}'; (TabExpansion2 -inputScript '{typed}' -cursorColumn {len(typed)})"
        ".CompletionMatches.CompletionText"
    )
    result = subprocess.run(
        [pwsh, "-NoLogo", "-NoProfile", "-NonInteractive", "-Command", command],
        env={"HOME": str(tmp_path), "PATH": os.environ.get("PATH", "/usr/bin:/bin")},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.stdout.split() == ["fish"], result.stderr


# --- a real TAB press in an interactive shell ----------------------------------------------


def tmux_screen_after_tab(home: Home, program: str, typed: str, wanted: str) -> str:
    """Type `typed`, press TAB in an interactive shell under tmux, return the screen."""
    tmux = shell_program("tmux")
    shell = [
        "env",
        "-i",
        f"HOME={home.home}",
        f"PATH={bin_dir_with_megallm(home)}:/usr/bin:/bin",
        "TERM=xterm",
        shell_program(program),
    ]
    session = f"megallm-test-{program}"
    # Our own server (socket) and no config file: nothing of the user's tmux is involved.
    base = [tmux, "-S", str(home.root / "tmux.sock"), "-f", "/dev/null"]
    tmux_env = {"HOME": str(home.home), "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    subprocess.run(
        [*base, "new-session", "-d", "-s", session, "-x", "160", "-y", "20", *shell],
        check=True,
        timeout=30,
        env=tmux_env,
    )
    try:
        screen = ""
        deadline = time.monotonic() + 20
        sent = False
        while time.monotonic() < deadline:
            screen = subprocess.run(
                [*base, "capture-pane", "-p", "-t", session],
                capture_output=True,
                text=True,
                check=True,
                timeout=30,
                env=tmux_env,
            ).stdout
            if not sent and screen.strip():  # a prompt is up: the startup files have run
                keys = [*base, "send-keys", "-t", session, typed, "Tab"]
                subprocess.run(keys, check=True, timeout=30, env=tmux_env)
                sent = True
            elif sent and wanted in screen:
                break
            time.sleep(0.2)
        return screen
    finally:
        subprocess.run([*base, "kill-server"], check=False, timeout=30, env=tmux_env)


@pytest.mark.realshell
@pytest.mark.parametrize("shell", ["bash", "zsh"])
def test_tab_in_an_interactive_shell_completes(home: Home, shell: str) -> None:
    rc = home.home / STARTUP_FILE[shell]
    rc.write_text("PS1='$ '\nPROMPT='$ '\n")
    assert home.run("completion", "install", "--shell", shell).returncode == 0
    wanted = "megallm completion install --shell fish"
    screen = tmux_screen_after_tab(home, shell, "megallm completion install --shell fi", wanted)
    assert wanted in screen, screen
