from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from megallm_cli.changes import FileChange, UserVariableChange
from megallm_cli.errors import ConfigParseError
from megallm_cli.paths import Paths
from megallm_cli.shellenv import (
    FakeUserEnvironment,
    UserEnvironmentDrift,
    activation_hint,
    apply_user_variables,
    default_user_environment,
    detected_shell_families,
    env_file,
    find_stray_exports,
    persisted_value,
    plan_shell_env,
    plan_shell_env_removal,
    quote_fish,
    quote_posix,
    quote_powershell,
    shell_family,
)

KEY = "sk-mega-0123456789abcdef"
VALUES = {"MEGALLM_API_KEY": KEY, "MEGALLM_BASE_URL": "https://ai.megallm.io"}
NASTY = [
    "it's",
    'say "hi"',
    "$HOME and ${HOME} and $(id)",
    "`id`",
    "back\\slash\\",
    "tab\tand space ",
    "\u2018curly\u2019 \u201cquotes\u201d",
    "!history!",
    "",
    "'",
    "\\'",
    "%USERPROFILE%",
]


def linux(home: Path, **env: str) -> Paths:
    return Paths({"HOME": str(home), **env}, "linux")


def macos(home: Path) -> Paths:
    return Paths({"HOME": str(home)}, "darwin")


def windows(home: Path, **env: str) -> Paths:
    return Paths(
        {"USERPROFILE": str(home), "APPDATA": str(home / "AppData" / "Roaming"), **env}, "win32"
    )


def apply(changes: Iterable[FileChange]) -> None:
    for change in changes:
        if change.after is None:
            change.path.unlink()
            continue
        change.path.parent.mkdir(parents=True, exist_ok=True)
        change.path.write_bytes(change.after)


def by_path(changes: Iterable[FileChange]) -> dict[Path, FileChange]:
    return {change.path: change for change in changes}


# --- env files -------------------------------------------------------------------------------


def test_env_files_hold_the_values_and_are_secret(tmp_path: Path) -> None:
    paths = linux(tmp_path)
    plan = plan_shell_env(paths, VALUES, ["bash", "fish", "powershell"])
    changes = by_path(plan.file_changes)
    config = tmp_path / ".config" / "megallm"
    expected = {
        config / "env.sh": f"export MEGALLM_API_KEY='{KEY}'",
        config / "env.fish": f"set -gx MEGALLM_API_KEY '{KEY}'",
        config / "env.ps1": f"$env:MEGALLM_API_KEY = '{KEY}'",
    }
    for path, line in expected.items():
        change = changes[path]
        assert change.secret and change.target_mode == 0o600
        assert change.before is None
        assert change.after is not None
        assert line in change.after.decode().splitlines()
        assert "MEGALLM_BASE_URL" in change.after.decode()
        assert KEY not in change.summary
        assert change.validate is not None
        change.validate(change.after)
        with pytest.raises(ValueError):
            change.validate(change.after.replace(KEY.encode(), b"sk-mega-other"))


def test_the_key_is_never_written_into_a_startup_file(tmp_path: Path) -> None:
    paths = linux(tmp_path)
    plan = plan_shell_env(paths, VALUES, ["bash", "zsh", "sh", "fish", "powershell"])
    startup = [c for c in plan.file_changes if c.path.parent != paths.config_dir]
    assert len(startup) == 5
    for change in startup:
        assert not change.secret
        assert change.after is not None
        assert KEY.encode() not in change.after


@pytest.mark.parametrize("family", ["bash", "fish", "powershell"])
@pytest.mark.parametrize("value", NASTY)
def test_env_files_read_back_exactly(tmp_path: Path, value: str, family: str) -> None:
    paths = linux(tmp_path)
    apply(plan_shell_env(paths, {"MEGALLM_API_KEY": value}, [family]).file_changes)
    assert [p.name for p in paths.config_dir.iterdir()] == [env_file(paths, family).name]
    assert persisted_value(paths, "MEGALLM_API_KEY") == value


storable_values = st.text(st.characters(codec="utf-8", blacklist_characters="\0\r\n"), max_size=40)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=storable_values, family=st.sampled_from(["bash", "fish", "powershell"]))
def test_any_storable_value_reads_back_exactly(tmp_path: Path, value: str, family: str) -> None:
    paths = linux(tmp_path / family)
    plan = plan_shell_env(paths, {"MEGALLM_API_KEY": value}, [family])
    env_files = [c for c in plan.file_changes if c.secret]
    for change in env_files:
        assert change.after is not None and change.validate is not None
        change.validate(change.after)
    apply(env_files)
    assert persisted_value(paths, "MEGALLM_API_KEY") == value


@pytest.mark.parametrize(
    ("quote", "value", "quoted"),
    [
        (quote_posix, "it's $x", "'it'\\''s $x'"),
        (quote_posix, "", "''"),
        (quote_fish, "it's a\\b $x", "'it\\'s a\\\\b $x'"),
        (quote_powershell, "it's $x `y`", "'it''s $x `y`'"),
        (quote_powershell, "\u2018a\u2019", "'\u2018\u2018a\u2019\u2019'"),
    ],
)
def test_quoting(quote: Callable[[str], str], value: str, quoted: str) -> None:
    assert quote(value) == quoted


@pytest.mark.parametrize(
    "values",
    [
        {"MEGALLM-KEY": "x"},
        {"1ABC": "x"},
        {"A": "line\nbreak"},
        {"A": "cr\r"},
        {"A": "n\0ul"},
        {"A": "\udcff"},
    ],
)
def test_values_that_cannot_be_stored_are_refused(tmp_path: Path, values: dict[str, str]) -> None:
    with pytest.raises(ValueError):
        plan_shell_env(linux(tmp_path), values, ["bash"])


def test_unknown_shell_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="nushell"):
        plan_shell_env(linux(tmp_path), VALUES, ["nushell"])


# --- which startup files ---------------------------------------------------------------------


def startup_paths(paths: Paths, shells: list[str]) -> list[Path]:
    plan = plan_shell_env(paths, VALUES, shells)
    return [c.path for c in plan.file_changes if not c.secret]


@pytest.mark.parametrize(
    ("existing", "login_file"),
    [
        ([], ".profile"),
        ([".profile"], ".profile"),
        ([".bash_profile", ".profile"], ".bash_profile"),
        ([".bash_login", ".profile"], ".bash_login"),
        ([".bash_profile", ".bash_login"], ".bash_profile"),
    ],
)
def test_bash_gets_bashrc_and_the_login_file_bash_reads(
    tmp_path: Path, existing: list[str], login_file: str
) -> None:
    for name in existing:
        (tmp_path / name).write_text("# mine\n")
    assert startup_paths(linux(tmp_path), ["bash"]) == [tmp_path / ".bashrc", tmp_path / login_file]


def test_a_login_file_that_is_a_symlink_to_bashrc_is_edited_once(tmp_path: Path) -> None:
    (tmp_path / ".bashrc").write_text("alias ll='ls -l'\n")
    (tmp_path / ".bash_profile").symlink_to(tmp_path / ".bashrc")
    assert startup_paths(linux(tmp_path), ["bash"]) == [tmp_path / ".bashrc"]


def test_bash_and_sh_share_profile(tmp_path: Path) -> None:
    assert startup_paths(linux(tmp_path), ["bash", "sh"]) == [
        tmp_path / ".bashrc",
        tmp_path / ".profile",
    ]


def test_zsh_uses_zshenv_in_zdotdir(tmp_path: Path) -> None:
    assert startup_paths(linux(tmp_path), ["zsh"]) == [tmp_path / ".zshenv"]
    zdotdir = tmp_path / "zsh"
    assert startup_paths(linux(tmp_path, ZDOTDIR=str(zdotdir)), ["zsh"]) == [zdotdir / ".zshenv"]


def test_zsh_uses_home_zshenv_when_that_file_sets_zdotdir(tmp_path: Path) -> None:
    (tmp_path / ".zshenv").write_text('export ZDOTDIR="$HOME/.config/zsh"\n')
    paths = linux(tmp_path, ZDOTDIR=str(tmp_path / ".config" / "zsh"))
    assert startup_paths(paths, ["zsh"]) == [tmp_path / ".zshenv"]


def test_fish_gets_a_drop_in_under_xdg_config_home(tmp_path: Path) -> None:
    xdg = tmp_path / "xdg"
    paths = linux(tmp_path, XDG_CONFIG_HOME=str(xdg))
    assert startup_paths(paths, ["fish"]) == [xdg / "fish" / "conf.d" / "megallm.fish"]
    assert env_file(paths, "fish") == xdg / "megallm" / "env.fish"


def test_powershell_profile_on_linux_and_macos(tmp_path: Path) -> None:
    expected = [tmp_path / ".config" / "powershell" / "profile.ps1"]
    assert startup_paths(linux(tmp_path), ["pwsh"]) == expected
    assert startup_paths(macos(tmp_path), ["pwsh"]) == expected


def test_windows_powershell_5_profile_only_when_it_exists(tmp_path: Path) -> None:
    documents = tmp_path / "Documents"
    assert startup_paths(windows(tmp_path), ["powershell"]) == [
        documents / "PowerShell" / "profile.ps1"
    ]
    (documents / "WindowsPowerShell").mkdir(parents=True)
    (documents / "WindowsPowerShell" / "profile.ps1").write_text("Set-Alias g git\r\n")
    assert startup_paths(windows(tmp_path), ["powershell"]) == [
        documents / "PowerShell" / "profile.ps1",
        documents / "WindowsPowerShell" / "profile.ps1",
    ]


def test_windows_documents_moved_to_onedrive(tmp_path: Path) -> None:
    onedrive = tmp_path / "OneDrive"
    (onedrive / "Documents" / "WindowsPowerShell").mkdir(parents=True)
    paths = windows(tmp_path, OneDrive=str(onedrive))
    assert startup_paths(paths, ["powershell"])[0] == (
        onedrive / "Documents" / "PowerShell" / "profile.ps1"
    )


def block_of(change: FileChange) -> str:
    assert change.after is not None
    return change.after.decode()


def test_block_sources_the_env_file_relative_to_home(tmp_path: Path) -> None:
    changes = by_path(
        plan_shell_env(linux(tmp_path), VALUES, ["bash", "fish", "pwsh"]).file_changes
    )
    bashrc = block_of(changes[tmp_path / ".bashrc"])
    assert (
        'if [ -f "$HOME/.config/megallm/env.sh" ]; then . "$HOME/.config/megallm/env.sh"; fi'
        in bashrc.splitlines()
    )
    assert bashrc.startswith("# >>> megallm >>>\n") and bashrc.endswith("# <<< megallm <<<\n")
    fish = block_of(changes[tmp_path / ".config" / "fish" / "conf.d" / "megallm.fish"])
    assert 'if test -f "$HOME/.config/megallm/env.fish"' in fish.splitlines()
    profile = block_of(changes[tmp_path / ".config" / "powershell" / "profile.ps1"])
    assert profile.startswith("#region megallm\n") and profile.endswith("#endregion megallm\n")
    assert (
        'if (Test-Path -LiteralPath "$HOME/.config/megallm/env.ps1") '
        '{ . "$HOME/.config/megallm/env.ps1" }' in profile.splitlines()
    )


def test_block_quotes_a_macos_config_dir_with_a_space(tmp_path: Path) -> None:
    changes = plan_shell_env(macos(tmp_path), VALUES, ["zsh"]).file_changes
    zshenv = block_of(by_path(changes)[tmp_path / ".zshenv"])
    assert '. "$HOME/Library/Application Support/megallm/env.sh"; fi' in zshenv


def test_block_quotes_an_absolute_config_dir_outside_home(tmp_path: Path) -> None:
    outside = tmp_path / "it's $elsewhere"
    paths = linux(tmp_path / "home", MEGALLM_CONFIG_DIR=str(outside))
    changes = by_path(plan_shell_env(paths, VALUES, ["bash", "fish", "pwsh"]).file_changes)
    bashrc = block_of(changes[tmp_path / "home" / ".bashrc"])
    assert f". {quote_posix(str(outside / 'env.sh'))}; fi" in bashrc
    fish = block_of(changes[tmp_path / "home" / ".config" / "fish" / "conf.d" / "megallm.fish"])
    assert f"source {quote_fish(str(outside / 'env.fish'))}" in fish


def test_windows_powershell_block_uses_backslashes(tmp_path: Path) -> None:
    plan = plan_shell_env(windows(tmp_path), VALUES, ["powershell"])
    profile = block_of(
        by_path(plan.file_changes)[tmp_path / "Documents" / "PowerShell" / "profile.ps1"]
    )
    assert '. "$HOME\\AppData\\Roaming\\megallm\\env.ps1" }' in profile


# --- editing existing files ------------------------------------------------------------------


def test_rerun_is_a_no_op_and_a_new_key_changes_only_env_files(tmp_path: Path) -> None:
    paths = linux(tmp_path)
    shells = ["bash", "zsh", "fish", "pwsh"]
    apply(plan_shell_env(paths, VALUES, shells).file_changes)
    assert plan_shell_env(paths, VALUES, shells).is_noop
    rotated = plan_shell_env(paths, {**VALUES, "MEGALLM_API_KEY": "sk-mega-new"}, shells)
    assert {c.path.name for c in rotated.file_changes} == {"env.sh", "env.fish", "env.ps1"}


def test_rotation_reaches_env_files_of_shells_not_asked_for(tmp_path: Path) -> None:
    paths = linux(tmp_path)
    apply(plan_shell_env(paths, VALUES, ["fish"]).file_changes)
    apply(plan_shell_env(paths, {"MEGALLM_API_KEY": "sk-mega-new"}, ["bash"]).file_changes)
    assert persisted_value(paths, "MEGALLM_API_KEY") == "sk-mega-new"
    fish_env = env_file(paths, "fish").read_text()
    assert "sk-mega-new" in fish_env and KEY not in fish_env


def test_idempotency_is_judged_from_files_not_the_process_environment(tmp_path: Path) -> None:
    paths = linux(tmp_path, MEGALLM_API_KEY=KEY, MEGALLM_BASE_URL=VALUES["MEGALLM_BASE_URL"])
    assert not plan_shell_env(paths, VALUES, ["bash"]).is_noop


@pytest.mark.parametrize(
    "original",
    [
        b"",
        b"\n",
        b"alias ll='ls -l'",
        b"alias ll='ls -l'\n",
        b"a\r\nb\r\n",
        b"a\r\nb",
        b"\xef\xbb\xbfexport A=1\n",  # UTF-8 BOM
        b"echo caf\xe9 latin-1\n",  # not UTF-8
        b'echo "# >>> megallm >>>"\n',
    ],
)
def test_setup_then_removal_gives_back_the_exact_bytes(tmp_path: Path, original: bytes) -> None:
    paths = linux(tmp_path)
    for name in (".bashrc", ".bash_profile", ".zshenv"):
        (tmp_path / name).write_bytes(original)
    apply(plan_shell_env(paths, VALUES, ["bash", "zsh", "fish"]).file_changes)
    bashrc = (tmp_path / ".bashrc").read_bytes()
    assert bashrc.startswith(original)
    assert b"# >>> megallm >>>" in bashrc
    removal = plan_shell_env_removal(paths)
    apply(removal.file_changes)
    for name in (".bashrc", ".bash_profile", ".zshenv"):
        assert (tmp_path / name).read_bytes() == original
    assert not (tmp_path / ".config" / "fish" / "conf.d" / "megallm.fish").exists()
    assert not paths.config_dir.joinpath("env.sh").exists()
    assert not paths.config_dir.joinpath("env.fish").exists()
    assert plan_shell_env_removal(paths).is_noop


def test_crlf_files_get_an_lf_block_for_sh_and_crlf_for_powershell(tmp_path: Path) -> None:
    (tmp_path / ".bashrc").write_bytes(b"a\r\n")
    profile = tmp_path / ".config" / "powershell" / "profile.ps1"
    profile.parent.mkdir(parents=True)
    profile.write_bytes(b"a\r\n")
    changes = by_path(plan_shell_env(linux(tmp_path), VALUES, ["bash", "pwsh"]).file_changes)
    bashrc = changes[tmp_path / ".bashrc"].after
    assert bashrc is not None
    assert bashrc.startswith(b"a\r\n# >>> megallm >>>\n")
    assert b"\r" not in bashrc[3:]
    powershell = changes[profile].after
    assert powershell is not None
    assert powershell.startswith(b"a\r\n#region megallm\r\n")
    assert b"\n" not in powershell.replace(b"\r\n", b"")


def test_a_crlf_block_in_a_shell_file_is_rewritten_with_lf(tmp_path: Path) -> None:
    bashrc = tmp_path / ".bashrc"
    bashrc.write_bytes(b"a\r\n# >>> megallm >>>\r\nold\r\n# <<< megallm <<<\r\nb\r\n")
    after = by_path(plan_shell_env(linux(tmp_path), VALUES, ["bash"]).file_changes)[bashrc].after
    assert after is not None
    assert after.startswith(b"a\r\n# >>> megallm >>>\n")
    assert after.endswith(b"\n# <<< megallm <<<\r\nb\r\n")


def test_utf16_powershell_profile_stays_utf16(tmp_path: Path) -> None:
    profile = tmp_path / "Documents" / "WindowsPowerShell" / "profile.ps1"
    profile.parent.mkdir(parents=True)
    original = "\ufeffSet-Alias g git\r\n".encode("utf-16-le")
    profile.write_bytes(original)
    paths = windows(tmp_path)
    apply(plan_shell_env(paths, VALUES, ["powershell"]).file_changes)
    written = profile.read_bytes().decode("utf-16")
    assert written.startswith("Set-Alias g git\r\n#region megallm\r\n")
    apply(plan_shell_env_removal(paths).file_changes)
    assert profile.read_bytes() == original


def test_removal_leaves_edits_made_after_setup(tmp_path: Path) -> None:
    paths = linux(tmp_path)
    (tmp_path / ".bashrc").write_text("first\n")
    apply(plan_shell_env(paths, VALUES, ["bash"]).file_changes)
    with (tmp_path / ".bashrc").open("a") as bashrc:
        bashrc.write("added later\n")
    apply(plan_shell_env_removal(paths).file_changes)
    assert (tmp_path / ".bashrc").read_text() == "first\nadded later\n"


def test_removal_keeps_user_lines_in_the_fish_drop_in(tmp_path: Path) -> None:
    paths = linux(tmp_path)
    apply(plan_shell_env(paths, VALUES, ["fish"]).file_changes)
    drop_in = tmp_path / ".config" / "fish" / "conf.d" / "megallm.fish"
    with drop_in.open("a") as file:
        file.write("set -g mine 1\n")
    apply(plan_shell_env_removal(paths).file_changes)
    assert drop_in.read_text() == "set -g mine 1\n"


def test_removal_finds_blocks_in_files_this_run_would_not_choose(tmp_path: Path) -> None:
    paths = linux(tmp_path)
    apply(plan_shell_env(paths, VALUES, ["bash"]).file_changes)  # block in ~/.profile
    (tmp_path / ".bash_profile").write_text("# created later\n")
    (tmp_path / ".zshrc").write_text(
        "# >>> megallm >>>\n. ~/.config/megallm/env.sh\n# <<< megallm <<<\n"
    )
    apply(plan_shell_env_removal(paths).file_changes)
    for name in (".bashrc", ".profile", ".zshrc"):
        assert b"megallm" not in (tmp_path / name).read_bytes()


def test_malformed_block_is_reported_with_file_and_line(tmp_path: Path) -> None:
    bashrc = tmp_path / ".bashrc"
    bashrc.write_text("a\n# >>> megallm >>>\nb\n")
    with pytest.raises(ConfigParseError) as caught:
        plan_shell_env(linux(tmp_path), VALUES, ["bash"])
    assert caught.value.path == bashrc and caught.value.line == 2
    with pytest.raises(ConfigParseError):
        plan_shell_env_removal(linux(tmp_path))
    assert bashrc.read_text() == "a\n# >>> megallm >>>\nb\n"


def test_odd_length_utf16_profile_is_refused_not_mangled(tmp_path: Path) -> None:
    profile = tmp_path / ".config" / "powershell" / "profile.ps1"
    profile.parent.mkdir(parents=True)
    profile.write_bytes(b"\xff\xfea\x00b")
    with pytest.raises(ConfigParseError, match="utf-16"):
        plan_shell_env(linux(tmp_path), VALUES, ["pwsh"])


# --- detection and hints ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("shell", "family"),
    [
        ("bash", "bash"),
        ("/bin/zsh", "zsh"),
        ("-zsh", "zsh"),
        ("/usr/bin/fish", "fish"),
        ("pwsh.exe", "powershell"),
        ("C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe", "powershell"),
        ("dash", "sh"),
        ("cmd.exe", None),
        ("nu", None),
    ],
)
def test_shell_family(shell: str, family: str | None) -> None:
    assert shell_family(shell) == family


def test_detects_the_current_shell_first_then_shells_with_startup_files(tmp_path: Path) -> None:
    paths = linux(tmp_path)
    assert detected_shell_families(paths, "/bin/zsh") == ["zsh"]
    assert detected_shell_families(paths, None) == []
    (tmp_path / ".bashrc").touch()
    (tmp_path / ".zshrc").touch()
    (tmp_path / ".config" / "fish").mkdir(parents=True)
    (tmp_path / ".config" / "powershell").mkdir(parents=True)
    assert detected_shell_families(paths, "/usr/bin/fish") == ["fish", "bash", "zsh", "powershell"]
    assert detected_shell_families(paths, "nu") == ["bash", "zsh", "fish", "powershell"]


def test_profile_alone_does_not_make_bash_a_shell_of_this_user(tmp_path: Path) -> None:
    (tmp_path / ".profile").touch()
    assert detected_shell_families(linux(tmp_path), "zsh") == ["zsh"]


def test_zsh_found_through_zdotdir(tmp_path: Path) -> None:
    zdotdir = tmp_path / "zsh"
    zdotdir.mkdir()
    (zdotdir / ".zshrc").touch()
    assert detected_shell_families(linux(tmp_path, ZDOTDIR=str(zdotdir)), None) == ["zsh"]


def test_powershell_is_always_a_family_on_windows(tmp_path: Path) -> None:
    assert detected_shell_families(windows(tmp_path), None) == ["powershell"]


@pytest.mark.parametrize(
    ("shell", "hint"),
    [
        ("bash", "source ~/.config/megallm/env.sh"),
        ("zsh", "source ~/.config/megallm/env.sh"),
        ("dash", ". ~/.config/megallm/env.sh"),
        ("fish", "source ~/.config/megallm/env.fish"),
        ("pwsh", ". ~/.config/megallm/env.ps1"),
        ("cmd.exe", None),
    ],
)
def test_activation_hint(tmp_path: Path, shell: str, hint: str | None) -> None:
    assert activation_hint(linux(tmp_path), shell) == hint


def test_activation_hint_quotes_a_path_with_a_space(tmp_path: Path) -> None:
    paths = macos(tmp_path)
    assert activation_hint(paths, "zsh") == "source ~/'Library/Application Support/megallm/env.sh'"
    assert activation_hint(paths, "fish") == (
        "source ~/'Library/Application Support/megallm/env.fish'"
    )
    assert activation_hint(paths, "pwsh") == '. "$HOME/Library/Application Support/megallm/env.ps1"'


def test_activation_hint_on_windows(tmp_path: Path) -> None:
    assert activation_hint(windows(tmp_path), "pwsh") == ". ~\\AppData\\Roaming\\megallm\\env.ps1"


def test_activation_hint_outside_home(tmp_path: Path) -> None:
    paths = linux(tmp_path / "home", MEGALLM_CONFIG_DIR=str(tmp_path / "cfg"))
    assert activation_hint(paths, "bash") == f"source '{tmp_path}/cfg/env.sh'"


def test_persisted_value_is_none_without_env_files(tmp_path: Path) -> None:
    assert persisted_value(linux(tmp_path), "MEGALLM_API_KEY") is None


def test_persisted_value_ignores_lines_not_in_our_format(tmp_path: Path) -> None:
    paths = linux(tmp_path)
    paths.config_dir.mkdir(parents=True)
    env_file(paths, "bash").write_text("export MEGALLM_API_KEY=unquoted\nexport OTHER='x'\n")
    assert persisted_value(paths, "MEGALLM_API_KEY") is None
    assert persisted_value(paths, "OTHER") == "x"


# --- stray exports ---------------------------------------------------------------------------


def test_stray_exports_in_every_startup_file_with_file_and_line(tmp_path: Path) -> None:
    paths = linux(tmp_path)
    (tmp_path / ".bashrc").write_text(
        "# export OPENAI_API_KEY=commented\nexport OPENAI_API_KEY=sk-openai-secret\n"
    )
    (tmp_path / ".zshrc").write_text("MY_ANTHROPIC_API_KEY=x\nANTHROPIC_AUTH_TOKEN=sk-ant-secret\n")
    fish = tmp_path / ".config" / "fish"
    (fish / "conf.d").mkdir(parents=True)
    (fish / "config.fish").write_text("set -gx MEGALLM_API_KEY sk-mega-stale\n")
    (fish / "conf.d" / "keys.fish").write_text("set -x ANTHROPIC_BASE_URL https://x\n")
    ps = tmp_path / ".config" / "powershell"
    ps.mkdir(parents=True)
    (ps / "Microsoft.PowerShell_profile.ps1").write_text("\n$env:OPENAI_BASE_URL = 'https://x'\n")
    apply(plan_shell_env(paths, VALUES, ["bash", "zsh", "fish", "pwsh"]).file_changes)

    found = find_stray_exports(paths)

    assert [(e.location, e.name) for e in found] == [
        (f"{tmp_path}/.bashrc:2", "OPENAI_API_KEY"),
        (f"{tmp_path}/.zshrc:2", "ANTHROPIC_AUTH_TOKEN"),
        (f"{fish}/config.fish:1", "MEGALLM_API_KEY"),
        (f"{fish}/conf.d/keys.fish:1", "ANTHROPIC_BASE_URL"),
        (f"{ps}/Microsoft.PowerShell_profile.ps1:2", "OPENAI_BASE_URL"),
    ]
    assert all("secret" not in e.snippet and "stale" not in e.snippet for e in found)


def test_no_stray_exports_in_a_fresh_setup(tmp_path: Path) -> None:
    paths = linux(tmp_path)
    apply(plan_shell_env(paths, VALUES, ["bash", "zsh", "fish", "pwsh"]).file_changes)
    assert find_stray_exports(paths) == []


# --- the Windows user environment ------------------------------------------------------------


def test_registry_plan_records_previous_values(tmp_path: Path) -> None:
    user_env = FakeUserEnvironment({"MEGALLM_BASE_URL": "http://old"})
    plan = plan_shell_env(windows(tmp_path), VALUES, ["powershell"], user_env)
    assert set(plan.user_variables) == {
        UserVariableChange("MEGALLM_API_KEY", None, KEY),
        UserVariableChange("MEGALLM_BASE_URL", "http://old", VALUES["MEGALLM_BASE_URL"]),
    }
    assert user_env.values == {"MEGALLM_BASE_URL": "http://old"}  # planning changes nothing

    apply_user_variables(user_env, plan.user_variables)
    assert user_env.values == VALUES
    assert user_env.broadcasts == 1
    assert plan_shell_env(windows(tmp_path), VALUES, ["powershell"], user_env).user_variables == ()

    apply_user_variables(user_env, [c.inverse() for c in plan.user_variables])
    assert user_env.values == {"MEGALLM_BASE_URL": "http://old"}
    assert user_env.broadcasts == 2


def test_registry_apply_is_a_no_op_when_already_applied() -> None:
    user_env = FakeUserEnvironment({"A": "new"})
    apply_user_variables(user_env, [UserVariableChange("A", None, "new")])
    assert user_env.values == {"A": "new"} and user_env.broadcasts == 0


def test_registry_drift_changes_nothing() -> None:
    user_env = FakeUserEnvironment({"A": "changed by the user", "B": "b0"})
    changes = [UserVariableChange("B", "b0", "b1"), UserVariableChange("A", "a0", "a1")]
    with pytest.raises(UserEnvironmentDrift, match=r"HKCU\\Environment\\A"):
        apply_user_variables(user_env, changes)
    assert user_env.values == {"A": "changed by the user", "B": "b0"}
    assert user_env.broadcasts == 0


def test_registry_failure_midway_rolls_back() -> None:
    class FailingOnB(FakeUserEnvironment):
        def set(self, name: str, value: str) -> None:
            if name == "B" and value == "b1":
                raise OSError("access denied")
            super().set(name, value)

    user_env = FailingOnB({"B": "b0"})
    changes = [UserVariableChange("A", None, "a1"), UserVariableChange("B", "b0", "b1")]
    with pytest.raises(OSError, match="access denied"):
        apply_user_variables(user_env, changes)
    assert user_env.values == {"B": "b0"}


def test_fake_user_environment_names_are_case_insensitive_like_windows() -> None:
    user_env = FakeUserEnvironment({"Path": "x"})
    assert user_env.get("PATH") == "x"
    user_env.set("PATH", "y")
    assert user_env.values == {"PATH": "y"}
    user_env.delete("path")
    assert user_env.values == {}


def test_registry_removal_deletes_only_values_that_are_still_ours(tmp_path: Path) -> None:
    paths = windows(tmp_path)
    user_env = FakeUserEnvironment()
    plan = plan_shell_env(paths, VALUES, ["powershell"], user_env)
    apply(plan.file_changes)
    apply_user_variables(user_env, plan.user_variables)
    user_env.set("MEGALLM_BASE_URL", "http://changed-by-user")

    removal = plan_shell_env_removal(paths, user_env)

    assert removal.user_variables == (UserVariableChange("MEGALLM_API_KEY", KEY, None),)
    apply_user_variables(user_env, removal.user_variables)
    assert user_env.values == {"MEGALLM_BASE_URL": "http://changed-by-user"}


def test_no_user_variables_without_a_user_environment(tmp_path: Path) -> None:
    paths = windows(tmp_path)
    assert plan_shell_env(paths, VALUES, ["powershell"]).user_variables == ()
    # A simulated Windows on another OS never reaches for the real registry.
    assert default_user_environment(paths) is None
    assert default_user_environment(linux(tmp_path)) is None


def _setup_then_remove_codex(home: Path) -> None:
    from megallm_cli import operations
    from megallm_cli.agents.base import Context
    from megallm_cli.request import Secret, SetupRequest

    ctx = Context(paths=linux(home, MEGALLM_SHELL="bash"), project_dir=home)
    request = SetupRequest(("codex",), "user", home, Secret(KEY))
    operations.apply_plan(ctx, "setup", lambda: operations.plan_setup(ctx, request))
    assert (home / ".bashrc").read_bytes().startswith(b"# >>> megallm >>>")
    operations.apply_plan(ctx, "remove", lambda: operations.plan_remove(ctx, ["codex"], "user"))


def test_remove_deletes_a_startup_file_that_setup_created(tmp_path: Path) -> None:
    _setup_then_remove_codex(tmp_path)

    assert not (tmp_path / ".bashrc").exists()
    assert not (tmp_path / ".profile").exists()


def test_remove_keeps_an_empty_startup_file_the_user_had(tmp_path: Path) -> None:
    (tmp_path / ".bashrc").write_bytes(b"")
    (tmp_path / ".profile").write_bytes(b"\n")

    _setup_then_remove_codex(tmp_path)

    assert (tmp_path / ".bashrc").read_bytes() == b""
    assert (tmp_path / ".profile").read_bytes() == b"\n"


def test_remove_without_backups_keeps_the_emptied_file(tmp_path: Path) -> None:
    paths = linux(tmp_path)
    plan = plan_shell_env(paths, VALUES, ["bash"])
    apply(plan.file_changes)

    removal = plan_shell_env_removal(paths)

    [bashrc] = [c for c in removal.file_changes if c.path == tmp_path / ".bashrc"]
    assert bashrc.after == b""  # no backup says megallm created it: emptied, not deleted
