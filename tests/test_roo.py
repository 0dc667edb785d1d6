"""Roo Code and the legacy Kilo Code extension: the import file and each editor's settings.json."""

from __future__ import annotations

import json
import os
import shutil
import stat
from pathlib import Path
from typing import Any

import pytest

from megallm_cli.agents import roo
from megallm_cli.agents.base import Context
from megallm_cli.errors import ConfigParseError, UsageError
from megallm_cli.paths import Paths
from megallm_cli.request import Gateway, Secret, SetupRequest
from tests.conftest import OTHER_KEY, TEST_KEY, Home
from tests.test_vscode import REAL_WORLD_SETTINGS, make_extension

SETUP = ("setup", "--agent", "roo-code", "--yes", "--no-verify")
ROO_SETTING = "roo-cline.autoImportSettingsPath"
KILO_SETTING = "kilo-code.autoImportSettingsPath"


def context(tmp_path: Path) -> Context:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    return Context(Paths({"HOME": str(home)}, platform="linux"), tmp_path, Gateway())


def request(ctx: Context, **fields: Any) -> SetupRequest:
    return SetupRequest(
        agents=("roo-code",),
        level=fields.pop("level", "user"),
        project_dir=ctx.project_dir,
        api_key=Secret(fields.pop("key", TEST_KEY)),
        gateway=ctx.gateway,
        **fields,
    )


def user_settings(home: Path, variant: str) -> Path:
    return home / ".config" / variant / "User" / "settings.json"


def import_file(home: Path, name: str = "roo-code-import.json") -> Path:
    return home / ".config" / "megallm" / name


def changes_by_path(ctx: Context) -> dict[Path, Any]:
    return {change.path: change for change in roo.AGENT.plan(ctx, request(ctx)).changes}


# --- the import file ---


def test_import_document_has_the_export_shape_roo_reads() -> None:
    document = roo.import_document("https://ai.megallm.io/v1", TEST_KEY, "gpt-5")
    assert document == {
        "providerProfiles": {
            "currentApiConfigName": "megallm",
            "apiConfigs": {
                "megallm": {
                    "id": "megallm",
                    "apiProvider": "openai",
                    "openAiBaseUrl": "https://ai.megallm.io/v1",
                    "openAiApiKey": TEST_KEY,
                    "openAiModelId": "gpt-5",
                }
            },
            "modeApiConfigs": {},
        },
        "globalSettings": {},
    }
    assert roo.import_problems(document) == []


def _broken(change: Any) -> dict[str, Any]:
    document = roo.import_document("https://ai.megallm.io/v1", TEST_KEY, "gpt-5")
    change(document)
    return document


def _profile(document: dict[str, Any]) -> dict[str, Any]:
    profile: dict[str, Any] = document["providerProfiles"]["apiConfigs"]["megallm"]
    return profile


@pytest.mark.parametrize(
    ("document", "field"),
    [
        (_broken(lambda d: _profile(d).update(apiProvider="openai-compatible")), "apiProvider"),
        (_broken(lambda d: _profile(d).update(openAiBaseUrl=5)), "openAiBaseUrl"),
        (_broken(lambda d: _profile(d).update(openAiApiKey="")), "openAiApiKey"),
        (_broken(lambda d: _profile(d).update(id=5)), ".id"),
        (_broken(lambda d: d["providerProfiles"].update(currentApiConfigName=1)), "currentApi"),
        (_broken(lambda d: d["providerProfiles"].update(currentApiConfigName="x")), "'x'"),
        (_broken(lambda d: d["providerProfiles"].update(modeApiConfigs={"code": 1})), "mode"),
        (_broken(lambda d: d.update(globalSettings=[])), "globalSettings"),
        (_broken(lambda d: d.pop("providerProfiles")), "providerProfiles"),
    ],
)
def test_import_rules_reject_what_roo_would_not_import(
    document: dict[str, Any], field: str
) -> None:
    problems = roo.import_problems(document)
    assert any(field in problem for problem in problems), problems


def test_import_file_is_private_strict_json(tmp_path: Path) -> None:
    ctx = context(tmp_path)
    change = changes_by_path(ctx)[import_file(ctx.paths.home)]
    assert change.secret and change.before is None and change.after is not None
    assert roo.import_problems(json.loads(change.after)) == []
    assert change.validate is not None
    change.validate(change.after)
    with pytest.raises(ConfigParseError):
        change.validate(b"\xef\xbb\xbf" + change.after)  # JSON.parse in the extension rejects a BOM


# --- settings.json of each editor ---


def test_every_editor_with_roo_is_pointed_at_the_import_file(tmp_path: Path) -> None:
    ctx = context(tmp_path)
    home = ctx.paths.home
    for home_dir in (".vscode", ".cursor", ".vscode-oss"):
        make_extension(home, home_dir, "rooveterinaryinc.roo-cline-3.25.4")
    make_extension(home, ".vscode-insiders", "saoudrizwan.claude-dev-3.17.0")  # not Roo
    changes = changes_by_path(ctx)
    target = str(import_file(home))
    for variant in ("Code", "Cursor", "VSCodium"):
        after = changes[user_settings(home, variant)].after
        assert json.loads(after) == {ROO_SETTING: target}
    assert user_settings(home, "Code - Insiders") not in changes
    assert len(changes) == 4


def test_legacy_kilo_shares_the_settings_file_in_one_change(tmp_path: Path) -> None:
    ctx = context(tmp_path)
    home = ctx.paths.home
    make_extension(home, ".vscode", "rooveterinaryinc.roo-cline-3.25.4")
    make_extension(home, ".vscode", "kilocode.kilo-code-4.86.0")
    make_extension(home, ".cursor", "kilocode.kilo-code-7.2.40-linux-x64")  # the new extension
    plan = roo.AGENT.plan(ctx, request(ctx))
    changes = {change.path: change for change in plan.changes}
    code = json.loads(changes[user_settings(home, "Code")].after)
    assert code == {
        ROO_SETTING: str(import_file(home)),
        KILO_SETTING: str(import_file(home, "kilo-code-import.json")),
    }
    assert user_settings(home, "Cursor") not in changes
    assert import_file(home, "kilo-code-import.json") in changes
    assert any("kilocode.kilo-code 4.86.0 in VS Code is the legacy" in n for n in plan.notes)
    assert any("7.2.40 in Cursor is the new" in n and "--agent kilo" in n for n in plan.notes)


def test_without_roo_only_the_import_file_is_written_and_the_line_is_given(
    tmp_path: Path,
) -> None:
    ctx = context(tmp_path)
    user_settings(ctx.paths.home, "Code").parent.mkdir(parents=True)
    plan = roo.AGENT.plan(ctx, request(ctx))
    assert [change.path for change in plan.changes] == [import_file(ctx.paths.home)]
    line = f'"{ROO_SETTING}": "{import_file(ctx.paths.home)}"'
    assert any(line in note for note in plan.notes)


def test_a_users_own_import_path_is_replaced_with_a_note(tmp_path: Path) -> None:
    ctx = context(tmp_path)
    home = ctx.paths.home
    make_extension(home, ".vscode", "rooveterinaryinc.roo-cline-3.25.4")
    settings = user_settings(home, "Code")
    settings.parent.mkdir(parents=True)
    settings.write_text(json.dumps({ROO_SETTING: "~/Documents/roo-config.json"}))
    plan = roo.AGENT.plan(ctx, request(ctx))
    assert any("was '~/Documents/roo-config.json'" in note for note in plan.notes)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("~/x/import.json", "home/x/import.json"), ("x/import.json", "home/x/import.json")],
)
def test_setting_paths_resolve_like_the_extension(
    tmp_path: Path, value: str, expected: str
) -> None:
    assert roo.resolve_setting_path(context(tmp_path), value) == tmp_path / expected


def test_project_level_is_a_usage_error(tmp_path: Path) -> None:
    ctx = context(tmp_path)
    with pytest.raises(UsageError):
        roo.AGENT.plan(ctx, request(ctx, level="project"))


def test_model_and_key_rotation(tmp_path: Path) -> None:
    ctx = context(tmp_path)
    path = import_file(ctx.paths.home)
    path.parent.mkdir(parents=True)
    document = roo.import_document("https://ai.megallm.io/v1", TEST_KEY, "gpt-5")
    path.write_text(json.dumps(document, indent=2) + "\n")
    change = changes_by_path(ctx)[path]
    assert change.is_noop  # same key, our gateway: the model the user had is kept
    rotated = roo.AGENT.plan(ctx, request(ctx, key=OTHER_KEY, models={"roo-code": "o3"})).changes
    profile = _profile(json.loads(rotated[0].after))
    assert (profile["openAiApiKey"], profile["openAiModelId"]) == (OTHER_KEY, "o3")


# --- the installed command, in a throwaway HOME ---


def install_roo_everywhere(home: Home) -> dict[Path, bytes]:
    """Roo in VS Code (real-world CRLF settings), Cursor (no settings yet) and VSCodium."""
    for home_dir in (".vscode", ".cursor", ".vscode-oss"):
        make_extension(
            home.home,
            home_dir,
            "rooveterinaryinc.roo-cline-3.25.4",
            {"publisher": "RooVeterinaryInc", "name": "roo-cline", "version": "3.25.4"},
        )
    code = user_settings(home.home, "Code")
    codium = user_settings(home.home, "VSCodium")
    for path in (code, codium):
        path.parent.mkdir(parents=True)
    code.write_bytes(REAL_WORLD_SETTINGS.encode())
    codium.write_text('{\n  "telemetry.telemetryLevel": "off"\n}\n')
    return {path: path.read_bytes() for path in (code, codium)}


def test_setup_doctor_restore_round_trip(home: Home) -> None:
    originals = install_roo_everywhere(home)
    before = home.snapshot()
    result = home.run(*SETUP, extra_env={"MEGALLM_API_KEY": TEST_KEY})
    assert result.returncode == 0, result.stderr
    assert TEST_KEY not in result.stdout + result.stderr
    assert "Reload Window" in result.stderr
    target = import_file(home.home)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    for variant in ("Code", "Cursor", "VSCodium"):
        text = user_settings(home.home, variant).read_text()
        assert f'"{ROO_SETTING}": "{target}"' in text
    code = user_settings(home.home, "Code")
    assert code.read_bytes().count(b"\r\n") == originals[code].count(b"\r\n") + 1

    doctor = home.run("doctor")
    assert doctor.returncode == 0, doctor.stderr
    assert doctor.stderr.count(f"{ROO_SETTING} set in") == 3
    assert "valid Roo Code import file" in doctor.stderr
    assert TEST_KEY not in doctor.stdout + doctor.stderr

    restore = home.run("restore", "--latest")
    assert restore.returncode == 0, restore.stderr
    assert home.snapshot() == before


def test_setup_twice_is_a_no_op(home: Home) -> None:
    install_roo_everywhere(home)
    env = {"MEGALLM_API_KEY": TEST_KEY}
    assert home.run(*SETUP, extra_env=env).returncode == 0
    first = home.snapshot()
    second = home.run(*SETUP, extra_env=env)
    assert second.returncode == 0, second.stderr
    assert "nothing to change" in second.stderr
    assert home.snapshot() == first


def test_remove_takes_the_setting_out_and_deletes_the_import_file(home: Home) -> None:
    originals = install_roo_everywhere(home)
    assert home.run(*SETUP, extra_env={"MEGALLM_API_KEY": TEST_KEY}).returncode == 0
    result = home.run("remove", "--agent", "roo-code", "--yes")
    assert result.returncode == 0, result.stderr
    assert "keeps the imported 'megallm' profile" in result.stderr
    assert not import_file(home.home).exists()
    for path, content in originals.items():
        assert path.read_bytes() == content
    # setup created Cursor's settings.json and nothing else is in it: remove deletes it
    assert not user_settings(home.home, "Cursor").exists()
    again = home.run("remove", "--agent", "roo-code", "--yes")
    assert "nothing of megallm's to remove" in again.stderr


def install_roo_in_vs_code(home: Home) -> Path:
    make_extension(home.home, ".vscode", "rooveterinaryinc.roo-cline-3.25.4")
    settings = user_settings(home.home, "Code")
    settings.parent.mkdir(parents=True)
    return settings


@pytest.mark.parametrize("original", [b"", b"  \n\t\n", b"{}", b"\xef\xbb\xbf{ }\r\n"])
def test_remove_gives_back_a_blank_or_empty_settings_file_as_it_was(
    home: Home, original: bytes
) -> None:
    settings = install_roo_in_vs_code(home)
    settings.write_bytes(original)
    assert home.run(*SETUP, extra_env={"MEGALLM_API_KEY": TEST_KEY}).returncode == 0
    assert ROO_SETTING in settings.read_text()
    result = home.run("remove", "--agent", "roo-code", "--yes")
    assert result.returncode == 0, result.stderr
    assert settings.read_bytes() == original


def test_remove_deletes_the_file_setup_created_behind_a_dangling_link(home: Home) -> None:
    settings = install_roo_in_vs_code(home)
    stored = home.home / "dotfiles" / "vscode-settings.json"
    settings.symlink_to(stored)  # a dotfiles checkout not done yet
    assert home.run(*SETUP, extra_env={"MEGALLM_API_KEY": TEST_KEY}).returncode == 0
    assert ROO_SETTING in stored.read_text()
    result = home.run("remove", "--agent", "roo-code", "--yes")
    assert result.returncode == 0, result.stderr
    assert not stored.exists()
    assert settings.is_symlink() and Path(os.readlink(settings)) == stored


def test_remove_keeps_what_the_user_added_to_a_file_setup_created(home: Home) -> None:
    settings = install_roo_in_vs_code(home)
    assert home.run(*SETUP, extra_env={"MEGALLM_API_KEY": TEST_KEY}).returncode == 0
    settings.write_text(settings.read_text().replace("{", '{\n  "editor.tabSize": 2,', 1))
    assert home.run("remove", "--agent", "roo-code", "--yes").returncode == 0
    assert json.loads(settings.read_text()) == {"editor.tabSize": 2}


def test_without_a_backup_remove_only_takes_the_setting_out_and_says_so(home: Home) -> None:
    settings = install_roo_in_vs_code(home)
    settings.write_bytes(b"")
    assert home.run(*SETUP, extra_env={"MEGALLM_API_KEY": TEST_KEY}).returncode == 0
    shutil.rmtree(home.paths.backups_dir)
    result = home.run("remove", "--agent", "roo-code", "--yes")
    assert result.returncode == 0, result.stderr
    assert f"no backup shows {settings} before megallm" in result.stderr
    assert json.loads(settings.read_text()) == {}


def test_remove_goes_on_past_an_unreadable_editor_file(home: Home) -> None:
    install_roo_everywhere(home)
    assert home.run(*SETUP, extra_env={"MEGALLM_API_KEY": TEST_KEY}).returncode == 0
    cursor = user_settings(home.home, "Cursor")
    cursor.write_text('{\n  "a": 1,,\n}\n')  # the user broke it after setup
    result = home.run("remove", "--agent", "roo-code", "--yes")
    assert result.returncode == 0, result.stderr
    assert f"left {cursor}:2:10" in result.stderr
    assert cursor.read_text() == '{\n  "a": 1,,\n}\n'
    assert not import_file(home.home).exists()
    assert ROO_SETTING not in user_settings(home.home, "Code").read_text()


def test_doctor_fails_when_an_editor_lost_the_setting(home: Home) -> None:
    install_roo_everywhere(home)
    assert home.run(*SETUP, extra_env={"MEGALLM_API_KEY": TEST_KEY}).returncode == 0
    codium = user_settings(home.home, "VSCodium")
    codium.write_text(codium.read_text().replace(ROO_SETTING, "something.else"))
    result = home.run("doctor", "--agent", "roo-code", "--json")
    assert result.returncode == 1
    failed = [f for f in json.loads(result.stdout)["data"] if f["status"] == "fail"]
    assert [f["title"] for f in failed] == [f"{ROO_SETTING} is not set for VSCodium"]


def test_unparseable_settings_stop_setup_untouched(home: Home) -> None:
    install_roo_everywhere(home)
    code = user_settings(home.home, "Code")
    code.write_text('{\n  "a": 1\n  "b": 2\n}\n')
    result = home.run(*SETUP, extra_env={"MEGALLM_API_KEY": TEST_KEY})
    assert result.returncode == 1
    assert f"{code}:3:3" in result.stderr
    assert code.read_text() == '{\n  "a": 1\n  "b": 2\n}\n'
    assert not import_file(home.home).exists()


def test_windsurf_is_explained_and_configured_through_its_settings(home: Home) -> None:
    make_extension(home.home, ".windsurf", "rooveterinaryinc.roo-cline-3.25.4")
    result = home.run(*SETUP, extra_env={"MEGALLM_API_KEY": TEST_KEY})
    assert result.returncode == 0, result.stderr
    assert "Cascade, cannot use a custom gateway" in result.stderr
    windsurf = json.loads(user_settings(home.home, "Windsurf").read_text())
    assert windsurf == {ROO_SETTING: str(import_file(home.home))}
    doctor = home.run("doctor", "--agent", "roo-code", "--json")
    assert doctor.returncode == 0, doctor.stderr
    info = [f["title"] for f in json.loads(doctor.stdout)["data"] if f["status"] == "info"]
    assert info == ["Windsurf's own agent (Cascade) cannot use MegaLLM"]


def test_remove_gives_back_the_users_own_import_path_setup_replaced(home: Home) -> None:
    settings = install_roo_in_vs_code(home)
    original = b'{\n  "roo-cline.autoImportSettingsPath": "~/Documents/roo.json"\n}\n'
    settings.write_bytes(original)
    assert home.run(*SETUP, extra_env={"MEGALLM_API_KEY": TEST_KEY}).returncode == 0
    assert str(import_file(home.home)) in settings.read_text()
    result = home.run("remove", "--agent", "roo-code", "--yes")
    assert result.returncode == 0, result.stderr
    assert f"{ROO_SETTING} back in {settings}" in result.stderr
    assert settings.read_bytes() == original
