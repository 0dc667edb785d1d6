"""The VS Code family helpers: variants, extension versions, minimal settings.json edits."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from megallm_cli.agents import vscode
from megallm_cli.backups import PriorImage
from megallm_cli.errors import ConfigParseError
from megallm_cli.paths import Paths

# Shaped like a settings.json that has lived for years: comments of both kinds, nested objects,
# language overrides, trailing commas, CRLF line endings.
REAL_WORLD_SETTINGS = (
    "{\r\n"
    "    // Appearance\r\n"
    '    "workbench.colorTheme": "Default Dark Modern",\r\n'
    '    "editor.fontFamily": "\'JetBrains Mono\', monospace", /* ligatures below */\r\n'
    '    "editor.fontLigatures": true,\r\n'
    '    "[python]": {\r\n'
    '        "editor.defaultFormatter": "charliermarsh.ruff",\r\n'
    '        "editor.codeActionsOnSave": {"source.organizeImports": "explicit",},\r\n'
    "    },\r\n"
    '    "files.exclude": {\r\n'
    '        "**/.git": true,\r\n'
    '        "**/node_modules": true, // big\r\n'
    "    },\r\n"
    '    "terminal.integrated.env.linux": {"PATH": "${env:PATH}:/opt/bin"},\r\n'
    "    /* Roo */\r\n"
    '    "roo-cline.allowedCommands": ["git log", "npm test",],\r\n'
    "}\r\n"
)


def make_extension(
    home: Path, home_dir: str, dir_name: str, manifest: dict[str, str] | None = None
) -> Path:
    directory = home / home_dir / "extensions" / dir_name
    directory.mkdir(parents=True)
    if manifest is not None:
        (directory / "package.json").write_text(json.dumps(manifest))
    return directory


@pytest.fixture
def paths(tmp_path: Path) -> Paths:
    (tmp_path / "home").mkdir()
    return Paths({"HOME": str(tmp_path / "home")}, platform="linux")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("rooveterinaryinc.roo-cline-3.25.4", ("rooveterinaryinc.roo-cline", "3.25.4")),
        ("saoudrizwan.claude-dev-3.17.0-linux-x64", ("saoudrizwan.claude-dev", "3.17.0")),
        ("ms-python.python-2024.2.1-darwin-arm64", ("ms-python.python", "2024.2.1")),
        ("kilocode.kilo-code-4.86.0-universal", ("kilocode.kilo-code", "4.86.0")),
        (
            "github.copilot-chat-0.23.2024120602-win32-x64",
            ("github.copilot-chat", "0.23.2024120602"),
        ),
        ("acme.tool-1.2.3-beta.1", ("acme.tool", "1.2.3-beta.1")),
        ("acme.tool-1.2.3-rc.2-alpine-arm64", ("acme.tool", "1.2.3-rc.2")),
        ("acme.tool-2-1.0.0", ("acme.tool-2", "1.0.0")),
        ("RooVeterinaryInc.Roo-Cline-3.1.0", ("rooveterinaryinc.roo-cline", "3.1.0")),
    ],
)
def test_extension_dir_names_parse(name: str, expected: tuple[str, str]) -> None:
    assert vscode.parse_extension_dir(name) == expected


@pytest.mark.parametrize(
    "name", [".obsolete", "extensions.json", "nopublisher-1.0.0", "acme.tool", "acme.tool-1.0"]
)
def test_other_entries_are_not_extensions(name: str) -> None:
    assert vscode.parse_extension_dir(name) is None


def test_versions_sort_like_semver() -> None:
    versions = ["3.10.0", "3.9.0", "3.10.0-beta.10", "10.0.0", "3.10.0-alpha", "3.10.0-beta.2"]
    assert sorted(versions, key=vscode.version_key) == [
        "3.9.0",
        "3.10.0-alpha",
        "3.10.0-beta.2",
        "3.10.0-beta.10",
        "3.10.0",
        "10.0.0",
    ]


def test_newest_version_wins_and_uninstalled_ones_are_skipped(paths: Paths) -> None:
    home = paths.home
    make_extension(home, ".vscode", "rooveterinaryinc.roo-cline-3.9.2")
    make_extension(home, ".vscode", "rooveterinaryinc.roo-cline-3.25.4-linux-x64")
    make_extension(home, ".vscode", "rooveterinaryinc.roo-cline-3.30.0")
    make_extension(home, ".vscode", "rooveterinaryinc.roo-cline-3.26.0-beta.1")
    make_extension(home, ".vscode", "saoudrizwan.claude-dev-9.0.0")
    (home / ".vscode" / "extensions" / "rooveterinaryinc.roo-cline-99.0.0").write_text("a file")
    # VS Code marks an uninstalled extension here and deletes its dir on the next start.
    (home / ".vscode" / "extensions" / ".obsolete").write_text(
        json.dumps({"rooveterinaryinc.roo-cline-3.30.0": True})
    )
    found = vscode.installed_versions(vscode.VARIANTS[0], paths, "RooVeterinaryInc.roo-cline")
    assert [extension.version for extension in found] == ["3.26.0-beta.1", "3.25.4", "3.9.2"]
    assert found[0].major == 3


def test_package_json_version_beats_the_dir_name(paths: Paths) -> None:
    make_extension(
        paths.home,
        ".cursor",
        "rooveterinaryinc.roo-cline-3.25.4",
        {"publisher": "RooVeterinaryInc", "name": "roo-cline", "version": "3.25.5"},
    )
    make_extension(
        paths.home,
        ".cursor",
        "rooveterinaryinc.roo-cline-3.1.0",
        {"publisher": "someone-else", "name": "roo-cline", "version": "9.9.9"},
    )
    (found,) = vscode.find_extension(paths, "rooveterinaryinc.roo-cline")
    assert (found.variant.name, found.version) == ("Cursor", "3.25.5")


def test_extension_dirs_map_to_their_variants(paths: Paths) -> None:
    for home_dir in (".vscode", ".cursor", ".vscode-oss", ".vscode-server"):
        make_extension(paths.home, home_dir, "rooveterinaryinc.roo-cline-3.25.4")
    found = vscode.find_extension(paths, "rooveterinaryinc.roo-cline")
    by_variant = {extension.variant.name: extension for extension in found}
    assert list(by_variant) == ["Code", "VSCodium", "Cursor", "Code (remote)"]
    home = paths.home
    assert by_variant["Code"].variant.settings_file(paths) == (
        home / ".config" / "Code" / "User" / "settings.json"
    )
    assert by_variant["VSCodium"].variant.settings_file(paths) == (
        home / ".config" / "VSCodium" / "User" / "settings.json"
    )
    assert by_variant["Cursor"].variant.settings_file(paths) == (
        home / ".config" / "Cursor" / "User" / "settings.json"
    )
    # Remote: the extension runs on this machine and reads the remote's Machine settings.
    assert by_variant["Code (remote)"].variant.settings_file(paths) == (
        home / ".vscode-server" / "data" / "Machine" / "settings.json"
    )


@pytest.mark.parametrize(
    ("platform", "env_extra", "expected"),
    [
        ("darwin", {}, "home/Library/Application Support/Code - Insiders/User/settings.json"),
        ("win32", {"APPDATA": "{root}/roaming"}, "roaming/Code - Insiders/User/settings.json"),
        ("linux", {"XDG_CONFIG_HOME": "{root}/xdg"}, "xdg/Code - Insiders/User/settings.json"),
    ],
)
def test_settings_file_per_os(
    tmp_path: Path, platform: str, env_extra: dict[str, str], expected: str
) -> None:
    env = {"HOME": str(tmp_path / "home")}
    env.update({name: value.format(root=tmp_path) for name, value in env_extra.items()})
    insiders = next(v for v in vscode.VARIANTS if v.name == "Code - Insiders")
    assert insiders.settings_file(Paths(env, platform=platform)) == tmp_path / expected


def test_present_variants_need_an_extensions_or_user_dir(paths: Paths) -> None:
    (paths.home / ".windsurf" / "extensions").mkdir(parents=True)
    (paths.home / ".config" / "Cursor" / "User").mkdir(parents=True)
    (paths.home / ".vscode-insiders").mkdir()  # no extensions dir inside: not an install
    assert [v.name for v in vscode.present_variants(paths)] == ["Cursor", "Windsurf"]
    assert vscode.WINDSURF.is_present(paths)


def test_setting_is_added_and_removed_leaving_every_other_byte(tmp_path: Path) -> None:
    settings = tmp_path / "settings.json"
    settings.write_bytes(REAL_WORLD_SETTINGS.encode())
    key = "roo-cline.autoImportSettingsPath"
    added = vscode.settings_change(settings, {key: "/home/me/import.json"}, "roo-code", "set")
    assert added is not None and added.after is not None
    text = added.after.decode()
    new_line = '    "roo-cline.autoImportSettingsPath": "/home/me/import.json",\r\n'
    assert text == REAL_WORLD_SETTINGS[: -len("}\r\n")] + new_line + "}\r\n"
    assert "\n" not in text.replace("\r\n", "")  # no bare LF crept in
    assert added.validate is not None
    added.validate(added.after)

    settings.write_bytes(added.after)
    removed = vscode.settings_change(settings, {key: None}, "roo-code", "remove")
    assert removed is not None
    assert removed.after == REAL_WORLD_SETTINGS.encode()


def test_an_existing_value_is_replaced_in_place(tmp_path: Path) -> None:
    settings = tmp_path / "settings.json"
    original = '{\n  "a": 1,\n  "roo-cline.autoImportSettingsPath": "~/old.json",\n  "b": 2\n}\n'
    settings.write_text(original)
    change = vscode.settings_change(
        settings, {"roo-cline.autoImportSettingsPath": "/new.json"}, "roo-code", "set"
    )
    assert change is not None and change.after is not None
    assert change.after.decode() == original.replace("~/old.json", "/new.json")


def test_setting_what_is_already_there_is_no_change(tmp_path: Path) -> None:
    settings = tmp_path / "settings.json"
    settings.write_text('{"x.y": "z"}')
    assert vscode.settings_change(settings, {"x.y": "z"}, "roo-code", "set") is None
    assert vscode.settings_change(settings, {"absent": None}, "roo-code", "remove") is None
    missing = tmp_path / "missing.json"
    assert vscode.settings_change(missing, {"absent": None}, "roo-code", "remove") is None


def test_a_new_settings_file_is_created(tmp_path: Path) -> None:
    change = vscode.settings_change(tmp_path / "User" / "settings.json", {"k": "v"}, "a", "s")
    assert change is not None and change.before is None and change.after is not None
    assert json.loads(change.after) == {"k": "v"}


def test_bom_is_kept(tmp_path: Path) -> None:
    settings = tmp_path / "settings.json"
    settings.write_bytes(b'\xef\xbb\xbf{\n  "a": 1\n}\n')
    change = vscode.settings_change(settings, {"k": "v"}, "a", "s")
    assert change is not None and change.after == b'\xef\xbb\xbf{\n  "a": 1,\n  "k": "v"\n}\n'


def test_unparseable_settings_are_reported_with_position(tmp_path: Path) -> None:
    settings = tmp_path / "settings.json"
    settings.write_text('{\n  "a": 1\n  "b": 2\n}\n')
    with pytest.raises(ConfigParseError) as failure:
        vscode.settings_change(settings, {"k": "v"}, "a", "s")
    assert (failure.value.line, failure.value.col) == (3, 3)


def test_validate_rejects_bytes_without_the_setting(tmp_path: Path) -> None:
    change = vscode.settings_change(tmp_path / "settings.json", {"k": "v"}, "a", "s")
    assert change is not None and change.validate is not None
    with pytest.raises(ValueError, match="k did not read back"):
        change.validate(b'{"k": "other"}')


# --- removal, given the file's image before megallm ---

ROO_KEY = "roo-cline.autoImportSettingsPath"


def set_up_settings(path: Path, original: bytes | None) -> None:
    """The file as setup leaves it: `original` plus our setting."""
    if original is not None:
        path.write_bytes(original)
    change = vscode.settings_change(path, {ROO_KEY: "/import.json"}, "roo-code", "set")
    assert change is not None and change.after is not None
    path.write_bytes(change.after)


@pytest.mark.parametrize("original", [b"", b" \r\n", b"{}", b'{"a": true}', b"{\n\n  }\n"])
def test_removal_gives_back_the_users_bytes_when_nothing_else_changed(
    tmp_path: Path, original: bytes
) -> None:
    settings = tmp_path / "settings.json"
    set_up_settings(settings, original)
    prior = PriorImage("s1", original)
    change = vscode.settings_change(settings, {ROO_KEY: None}, "roo-code", "remove", prior)
    assert change is not None and change.after == original


def test_removal_deletes_a_file_megallm_created_only_while_it_holds_nothing_else(
    tmp_path: Path,
) -> None:
    settings = tmp_path / "settings.json"
    set_up_settings(settings, None)
    created = PriorImage("s1", None)
    change = vscode.settings_change(settings, {ROO_KEY: None}, "roo-code", "remove", created)
    assert change is not None and change.after is None

    settings.write_text(settings.read_text().replace("{", '{\n  "b": 1,', 1))
    change = vscode.settings_change(settings, {ROO_KEY: None}, "roo-code", "remove", created)
    assert change is not None and change.after == b'{\n  "b": 1\n}\n'


@pytest.mark.parametrize(
    ("original", "edit"),
    [
        (b'{"a": true}', lambda text: text.replace("true", "1")),  # a user's edit, not the same
        (b"{}", lambda text: text.replace("{", "{ // mine\n", 1)),  # a comment is the user's
    ],
    ids=["value-edited", "comment-added"],
)
def test_removal_keeps_edits_made_since_setup(
    tmp_path: Path, original: bytes, edit: Callable[[str], str]
) -> None:
    settings = tmp_path / "settings.json"
    set_up_settings(settings, original)
    settings.write_text(edit(settings.read_text()))
    prior = PriorImage("s1", original)
    change = vscode.settings_change(settings, {ROO_KEY: None}, "roo-code", "remove", prior)
    assert change is not None and change.after is not None
    assert change.after != original
    assert ROO_KEY.encode() not in change.after


def test_an_editor_behind_an_unreadable_directory_counts_as_absent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from megallm_cli.agents.vscode import VARIANTS

    real_is_dir = Path.is_dir

    def guarded(path: Path) -> bool:
        if path.is_relative_to(tmp_path / "locked"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_is_dir(path)

    monkeypatch.setattr(Path, "is_dir", guarded)
    paths = Paths({"HOME": str(tmp_path / "locked")}, "linux")
    assert [variant.is_present(paths) for variant in VARIANTS] == [False] * len(VARIANTS)
