"""`megallm remove` undoes `megallm setup` for Claude Code: the user's own bytes come back.

Where setup replaced something (a conflicting auth variable, an empty `env`, a blank file, the
approval of the key in ~/.claude.json), remove finds the state before megallm in the backups.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import OTHER_KEY, TEST_KEY, Home
from tests.test_cli_claude import RICH_SETTINGS, SETUP, env_with_key, settings_path

REMOVE = ("remove", "--agent", "claude-code", "--yes")
USERS_ANTHROPIC_KEY = "sk-ant-old-conflicting-key-123456"
OTHER_APPROVED = "abcdefghij0123456789"


def write_settings(home: Home, data: bytes) -> bytes:
    settings_path(home).parent.mkdir(parents=True, exist_ok=True)
    settings_path(home).write_bytes(data)
    return data


def state_path(home: Home) -> Path:
    return home.home / ".claude.json"


def setup_and_remove(home: Home, *setup_flags: str) -> subprocess.CompletedProcess[str]:
    setup = home.run(*SETUP, *setup_flags, extra_env=env_with_key())
    assert setup.returncode == 0, setup.stderr
    removal = home.run(*REMOVE)
    assert removal.returncode == 0, removal.stderr
    return removal


def shown(result: subprocess.CompletedProcess[str]) -> str:
    return result.stdout + result.stderr


@pytest.mark.parametrize("auth", ["auth-token", "api-key"])
def test_the_auth_variable_setup_replaced_comes_back_byte_for_byte(home: Home, auth: str) -> None:
    original = write_settings(home, RICH_SETTINGS.encode())
    removal = setup_and_remove(home, "--claude-auth", auth)
    assert settings_path(home).read_bytes() == original
    assert "ANTHROPIC_API_KEY back in" in removal.stderr
    assert USERS_ANTHROPIC_KEY not in shown(removal)


@pytest.mark.parametrize(
    "original",
    [b"{}", b"{}\n", b"", b"  \n\t\n", b'{\n  "env": {}\n}\n', b'{"model": "opus", "env": {}}'],
    ids=["empty-object", "empty-object-newline", "empty", "whitespace", "empty-env", "minified"],
)
def test_a_file_setup_filled_in_comes_back_as_it_was(home: Home, original: bytes) -> None:
    write_settings(home, original)
    setup_and_remove(home)
    assert settings_path(home).read_bytes() == original


def test_a_file_setup_created_goes_unless_the_user_added_to_it(home: Home) -> None:
    setup_and_remove(home)
    assert not settings_path(home).exists()

    assert home.run(*SETUP, extra_env=env_with_key()).returncode == 0
    value = json.loads(settings_path(home).read_text())
    settings_path(home).write_text(json.dumps({**value, "model": "haiku"}, indent=2))
    assert home.run(*REMOVE).returncode == 0
    assert json.loads(settings_path(home).read_text()) == {"model": "haiku"}


def test_the_model_setup_chose_goes_and_the_users_comes_back(home: Home) -> None:
    original = write_settings(home, b'{\n  "env": {\n    "ANTHROPIC_MODEL": "opus"\n  }\n}\n')
    removal = setup_and_remove(home, "--model", "claude-sonnet-4-5")
    assert settings_path(home).read_bytes() == original
    assert "ANTHROPIC_MODEL back in" in removal.stderr

    original = write_settings(home, b'{\n  "model": "opus"\n}\n')
    removal = setup_and_remove(home, "--model", "claude-sonnet-4-5")
    assert settings_path(home).read_bytes() == original
    assert "removed ANTHROPIC_MODEL" in removal.stderr


def _set_model_by_hand(home: Home, model: str) -> None:
    document = json.loads(settings_path(home).read_text())
    document["env"]["ANTHROPIC_MODEL"] = model
    settings_path(home).write_text(json.dumps(document, indent=2))


def test_a_model_the_user_set_after_setup_is_theirs(home: Home) -> None:
    write_settings(home, b'{\n  "env": {\n    "FOO": "1"\n  }\n}\n')
    assert home.run(*SETUP, extra_env=env_with_key()).returncode == 0  # no --model
    _set_model_by_hand(home, "my-own-model")
    assert home.run(*REMOVE).returncode == 0
    assert json.loads(settings_path(home).read_text())["env"] == {
        "FOO": "1",
        "ANTHROPIC_MODEL": "my-own-model",
    }


def test_a_model_the_user_changed_after_setup_stays_changed(home: Home) -> None:
    write_settings(home, b'{\n  "env": {\n    "ANTHROPIC_MODEL": "old-model"\n  }\n}\n')
    setup = home.run(*SETUP, "--model", "claude-sonnet-4-5", extra_env=env_with_key())
    assert setup.returncode == 0
    _set_model_by_hand(home, "user-new-model")
    assert home.run(*REMOVE).returncode == 0
    assert json.loads(settings_path(home).read_text())["env"] == {
        "ANTHROPIC_MODEL": "user-new-model"
    }


def test_a_model_the_user_changed_stays_changed_through_a_key_rotation(home: Home) -> None:
    write_settings(home, b'{\n  "env": {\n    "ANTHROPIC_MODEL": "opus"\n  }\n}\n')
    setup = home.run(*SETUP, "--model", "claude-sonnet-4-5", extra_env=env_with_key())
    assert setup.returncode == 0
    _set_model_by_hand(home, "sonnet-mine")
    assert home.run(*SETUP, extra_env=env_with_key(OTHER_KEY)).returncode == 0  # rotation
    assert home.run(*REMOVE).returncode == 0
    assert json.loads(settings_path(home).read_text())["env"] == {"ANTHROPIC_MODEL": "sonnet-mine"}


def test_a_rotated_key_still_goes_back_to_the_state_before_megallm(home: Home) -> None:
    original = write_settings(home, RICH_SETTINGS.encode())
    assert home.run(*SETUP, extra_env=env_with_key()).returncode == 0
    rotated = home.run(*SETUP, "--claude-auth", "api-key", extra_env=env_with_key(OTHER_KEY))
    assert rotated.returncode == 0, rotated.stderr
    assert home.run(*REMOVE).returncode == 0
    assert settings_path(home).read_bytes() == original


def test_comments_stripped_at_setup_do_not_come_back(home: Home) -> None:
    """Claude Code ignores a settings.json with a comment: that state is not worth restoring."""
    write_settings(home, b'{\n  // mine\n  "model": "opus"\n}\n')
    setup_and_remove(home, "--fix-claude-comments")
    assert settings_path(home).read_text() == '{\n  "model": "opus"\n}\n'


def test_without_a_backup_remove_takes_out_megallms_entries_and_says_so(home: Home) -> None:
    write_settings(home, RICH_SETTINGS.encode())
    assert home.run(*SETUP, extra_env=env_with_key()).returncode == 0
    shutil.rmtree(home.paths.backups_dir)
    removal = home.run(*REMOVE)
    assert removal.returncode == 0, removal.stderr
    assert "no backup shows" in removal.stderr
    env = json.loads(settings_path(home).read_text())["env"]
    assert env == {"BASH_DEFAULT_TIMEOUT_MS": "60000", "MY_ANTHROPIC_API_KEY": "keep-me"}


# --- the approval of the key in ~/.claude.json ---


def write_state(home: Home, approved: list[str]) -> bytes:
    state = {"numStartups": 3, "customApiKeyResponses": {"approved": approved, "rejected": []}}
    data = (json.dumps(state, indent=2) + "\n").encode()
    state_path(home).write_bytes(data)
    return data


def test_the_approval_setup_added_is_withdrawn(home: Home) -> None:
    original = write_state(home, [OTHER_APPROVED])
    removal = setup_and_remove(home, "--claude-auth", "api-key")
    state = json.loads(state_path(home).read_text())
    assert state["customApiKeyResponses"] == {"approved": [OTHER_APPROVED], "rejected": []}
    assert state == {**json.loads(original), "hasCompletedOnboarding": True}
    assert "took the key's approval out of" in removal.stderr
    assert TEST_KEY[-20:] not in shown(removal)


def test_the_approval_object_setup_created_goes_with_it(home: Home) -> None:
    state_path(home).write_text('{\n  "numStartups": 3\n}\n')
    setup_and_remove(home, "--claude-auth", "api-key")
    assert state_path(home).read_text() == (
        '{\n  "numStartups": 3,\n  "hasCompletedOnboarding": true\n}\n'
    )


def test_a_key_the_user_had_approved_before_megallm_stays_approved(home: Home) -> None:
    write_state(home, [TEST_KEY[-20:]])
    removal = setup_and_remove(home, "--claude-auth", "api-key")
    approved = json.loads(state_path(home).read_text())["customApiKeyResponses"]["approved"]
    assert approved == [TEST_KEY[-20:]]
    assert "kept the key approved" in removal.stderr
    assert TEST_KEY[-20:] not in shown(removal)


def test_a_key_the_user_had_rejected_is_rejected_again(home: Home) -> None:
    state_path(home).write_text(
        json.dumps({"customApiKeyResponses": {"approved": [], "rejected": [TEST_KEY[-20:]]}})
    )
    setup_and_remove(home, "--claude-auth", "api-key")
    responses = json.loads(state_path(home).read_text())["customApiKeyResponses"]
    assert responses == {"approved": [], "rejected": [TEST_KEY[-20:]]}


def test_the_approval_stays_while_another_level_uses_the_key(home: Home) -> None:
    subprocess.run(["git", "init", "-q", str(home.project)], check=True)
    project = ("--level", "project", "--project-dir", str(home.project))
    for level in ((), project):
        setup = home.run(*SETUP, "--claude-auth", "api-key", *level, extra_env=env_with_key())
        assert setup.returncode == 0, setup.stderr
    removal = home.run(*REMOVE, *project)
    assert removal.returncode == 0, removal.stderr
    approved = json.loads(state_path(home).read_text())["customApiKeyResponses"]["approved"]
    assert approved == [TEST_KEY[-20:]]
    assert f"{settings_path(home)} still uses it" in removal.stderr


def test_remove_dry_run_masks_the_withdrawn_approval(home: Home) -> None:
    write_state(home, [OTHER_APPROVED])
    assert home.run(*SETUP, "--claude-auth", "api-key", extra_env=env_with_key()).returncode == 0
    dry_run = home.run("remove", "--agent", "claude-code", "--dry-run")
    assert dry_run.returncode == 0, dry_run.stderr
    assert str(state_path(home)) in dry_run.stdout  # the diff of ~/.claude.json is shown…
    assert TEST_KEY[-12:] not in shown(dry_run)  # …without any tail of the key


def test_without_a_backup_the_approval_stays_and_remove_says_so(home: Home) -> None:
    write_state(home, [OTHER_APPROVED])
    assert home.run(*SETUP, "--claude-auth", "api-key", extra_env=env_with_key()).returncode == 0
    shutil.rmtree(home.paths.backups_dir)
    removal = home.run(*REMOVE)
    assert removal.returncode == 0, removal.stderr
    approved = json.loads(state_path(home).read_text())["customApiKeyResponses"]["approved"]
    assert approved == [OTHER_APPROVED, TEST_KEY[-20:]]
    assert "no backup shows that file before megallm approved it" in removal.stderr
