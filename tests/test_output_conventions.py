"""DESIGN §6 output conventions, checked on the installed program for every command.

Data goes to stdout (one versioned JSON envelope with --json), human text to stderr;
--quiet keeps only warnings and errors; NO_COLOR and TERM=dumb are honoured; a usage error
is one line and a hint; `--version -v` says which Python and platform.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
import typer.main

from megallm_cli import __version__, ui
from megallm_cli.cli import app
from megallm_cli.completion import command_tree
from tests.conftest import TEST_KEY, Home

JSON_COMMANDS = {
    "status": ("status", "--json"),
    "doctor": ("doctor", "--json"),
    "models": ("models", "--json", "--base-url", "http://127.0.0.1:9"),
    "restore": ("restore", "--list", "--json"),
    "remove": ("remove", "--all", "--dry-run", "--json"),
    "setup": ("setup", "--agent", "claude-code", "--no-verify", "--dry-run", "--json"),
}
KEY_ENV = {"MEGALLM_API_KEY": TEST_KEY}
# SGR parameters that set a colour: 30-39, 40-49, 90-97, 100-107 (38/48 start 256/RGB ones).
COLOUR = re.compile(r"\x1b\[(?:[0-9;]*;)?(?:3[0-9]|4[0-9]|9[0-7]|10[0-7])(?:;[0-9;]*)?m")
TERMINAL = {"TERM": "xterm-256color", "FORCE_COLOR": "1", "NO_COLOR": ""}


def commands() -> list[tuple[str, ...]]:
    root = command_tree(typer.main.get_command(app))
    return [command.path for command in root.walk()]


@pytest.mark.parametrize("name", sorted(JSON_COMMANDS))
def test_json_commands_print_exactly_one_envelope(home: Home, name: str) -> None:
    if (name,) not in commands():
        pytest.skip(f"there is no `{name}` command yet")
    result = home.run(*JSON_COMMANDS[name], extra_env=KEY_ENV)
    envelope = json.loads(result.stdout)  # the whole of stdout, nothing before or after
    assert set(envelope) == {"version", "command", "ok", "data", "errors"}
    assert envelope["version"] == ui.JSON_VERSION
    assert envelope["command"] == name
    assert result.returncode == (0 if envelope["ok"] else 1), result.stderr
    assert TEST_KEY not in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("arguments", "code"),
    [
        (("status", "--json", "--project-dir", "/nonexistent/project"), 2),  # ours
        (("status", "--json", "--frobnicate"), 2),  # the option parser's
        (("restore", "--json", "--id", "no-such-run"), 1),
    ],
)
def test_a_failure_with_json_is_an_envelope_too(
    home: Home, arguments: tuple[str, ...], code: int
) -> None:
    result = home.run(*arguments)
    assert result.returncode == code
    envelope = json.loads(result.stdout)
    assert envelope["ok"] is False and envelope["command"] == arguments[0]
    (error,) = envelope["errors"]
    assert error["message"] and error["message"] in result.stderr


@pytest.mark.parametrize("path", commands(), ids=lambda path: " ".join(path) or "megallm")
def test_every_command_has_help_with_an_example(home: Home, path: tuple[str, ...]) -> None:
    result = home.run(*path, "--help")
    assert result.returncode == 0, result.stderr
    assert "Example" in result.stdout


def test_quiet_keeps_warnings_and_errors_only(home: Home) -> None:
    loud = home.run("setup", "--agent", "claude-code", "--no-verify", "--yes", extra_env=KEY_ENV)
    assert loud.returncode == 0, loud.stderr
    assert "done:" in loud.stderr
    home.run("restore", "--latest")

    quiet = home.run(
        "--quiet", "setup", "--agent", "claude-code", "--no-verify", "--yes", extra_env=KEY_ENV
    )
    assert quiet.returncode == 0, quiet.stderr
    assert "done:" not in quiet.stderr and "Planned changes" not in quiet.stderr
    lines = [line for line in quiet.stderr.splitlines() if line.strip()]
    assert all(line.startswith("warning:") for line in lines), quiet.stderr

    failed = home.run("-q", "status", "--project-dir", str(home.root / "missing"))
    assert failed.returncode == 2
    assert failed.stderr.startswith("error: ") and "hint: " in failed.stderr


def test_quiet_leaves_stdout_alone(home: Home) -> None:
    assert home.run("-q", "status", "--json").stdout == home.run("status", "--json").stdout


def test_quiet_draws_no_spinner() -> None:
    ui.set_quiet(True)
    try:
        with ui.progress("working…") as spinner:
            assert spinner is None
    finally:
        ui.set_quiet(False)


def test_colour_on_a_terminal_and_none_with_no_color(home: Home) -> None:
    coloured = home.run("doctor", extra_env=TERMINAL)
    assert COLOUR.search(coloured.stderr), "the check itself needs colour to begin with"
    plain = home.run("doctor", extra_env={**TERMINAL, "NO_COLOR": "1"})
    assert not COLOUR.search(plain.stderr)


def test_a_dumb_terminal_gets_no_escapes_and_ascii_symbols(home: Home) -> None:
    result = home.run("doctor", extra_env={**TERMINAL, "TERM": "dumb"})
    assert "\x1b[" not in result.stderr
    assert "✗" not in result.stderr and "✓" not in result.stderr
    assert "XX " in result.stderr or "ok " in result.stderr


@pytest.mark.parametrize(
    ("arguments", "command"),
    [
        (("frobnicate",), "megallm"),
        (("status", "--frobnicate"), "megallm status"),
        (("completion", "show", "--shell"), "megallm"),
    ],
)
def test_usage_errors_are_one_line_and_a_hint(
    home: Home, arguments: tuple[str, ...], command: str
) -> None:
    result = home.run(*arguments)
    assert result.returncode == 2
    error, hint = result.stderr.splitlines()
    assert error.startswith("error: ")
    assert hint == f"hint: see `{command} --help`"


def test_only_options_and_no_command_is_a_usage_error(home: Home) -> None:
    result = home.run("--quiet")
    assert result.returncode == 2
    assert result.stderr.startswith("error: missing command")


@pytest.mark.parametrize(
    "arguments",
    [("--version", "-v"), ("-V", "-v"), ("-v", "--version"), ("-vV",), ("-q", "--version", "-v")],
)
def test_verbose_version_names_python_and_platform(home: Home, arguments: tuple[str, ...]) -> None:
    result = home.run(*arguments)
    assert result.returncode == 0, result.stderr
    first, python, platform = result.stdout.splitlines()
    assert first == f"megallm {__version__}"
    assert python.startswith(f"Python {sys.version_info.major}.{sys.version_info.minor}.")
    assert platform.startswith("platform ")


def test_version_answers_without_loading_typer_or_rich() -> None:
    probe = (
        "import sys; sys.argv = ['megallm', '--version', '-v']\n"
        "from megallm_cli.entry import main; main()\n"
        "assert not {'typer', 'rich', 'click'} & set(sys.modules), sorted(sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"megallm {__version__}\n")
