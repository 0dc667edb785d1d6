"""Codex: the TOML editor alone, the agent in process, and the installed `megallm` end to end."""

from __future__ import annotations

import difflib
import json
import os
import stat
from pathlib import Path

import pytest

from megallm_cli.agents import codex
from megallm_cli.agents.base import Context
from megallm_cli.errors import UsageError
from megallm_cli.formats import toml
from megallm_cli.request import Gateway, Secret, SetupRequest
from tests.conftest import OTHER_KEY, TEST_KEY, Home

SETUP = ("setup", "--agent", "codex", "--yes", "--no-verify")
REMOVE = ("remove", "--agent", "codex", "--yes")

# Valid for Codex 0.171.0 (`codex app-server --print-startup-config --strict-config` → exit 0).
REALISTIC = """\
# ~/.codex/config.toml — personal settings
model = "o4-mini"
model_provider = "ollama-local"
approval_policy = "on-request" # ask before running commands
sandbox_mode = "workspace-write"
notify = ["notify-send", "Codex"]

[sandbox_workspace_write]
network_access = false

[mcp_servers.github]
command = "npx"
args = [
  "-y",
  "@modelcontextprotocol/server-github", # pinned by the team
]

[mcp_servers.github.env]
GITHUB_PERSONAL_ACCESS_TOKEN = "ghp_example"

[mcp_servers.docs]
url = "https://docs.example.com/mcp"
http_headers = { "X-Team" = "platform" }

[projects."/home/u/src"]
trust_level = "trusted"

[profiles.fast]
model = "gpt-5-mini"
model_reasoning_effort = "low"

# local models
[model_providers.ollama-local]
name = "Ollama"
base_url = "http://localhost:11434/v1"
wire_api = "responses"

[tui]
notifications = ["agent-turn-complete"]
"""

PROVIDER_BLOCK = """\
[model_providers.megallm]
name = "MegaLLM"
base_url = "https://ai.megallm.io/v1"
env_key = "MEGALLM_API_KEY"
wire_api = "responses"
"""


def config_path(home: Home) -> Path:
    return home.home / ".codex" / "config.toml"


def write_config(home: Home, content: str | bytes) -> Path:
    path = config_path(home)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def key_env(key: str = TEST_KEY) -> dict[str, str]:
    return {"MEGALLM_API_KEY": key, "MEGALLM_SHELL": "bash"}


def context(home: Home, origin: str | None = None) -> Context:
    return Context(paths=home.paths, project_dir=home.project, gateway=Gateway.parse(origin))


def request(home: Home, level: str = "user", **models: str) -> SetupRequest:
    return SetupRequest(
        agents=("codex",),
        level=level,
        project_dir=home.project,
        api_key=Secret(TEST_KEY),
        models=dict(models),
    )


def set_value(text: str, table: tuple[str, ...], key: str, value: str) -> str:
    editor = toml.Editor(text)
    editor.set(table, key, value)
    return editor.text()


def delete_value(text: str, table: tuple[str, ...], key: str) -> str:
    editor = toml.Editor(text)
    editor.delete(table, key)
    return editor.text()


def delete_table(text: str, table: tuple[str, ...]) -> str:
    editor = toml.Editor(text)
    editor.delete_table(table)
    return editor.text()


def setup_edits(text: str, base_url: str = "https://ai.megallm.io/v1") -> str:
    editor = toml.Editor(text)
    editor.set((), "model_provider", "megallm")
    editor.set((), "model", "gpt-5")
    for key, value in (
        ("name", "MegaLLM"),
        ("base_url", base_url),
        ("env_key", "MEGALLM_API_KEY"),
        ("wire_api", "responses"),
    ):
        editor.set(("model_providers", "megallm"), key, value)
    return editor.text()


def remove_edits(text: str) -> str:
    editor = toml.Editor(text)
    editor.delete((), "model_provider")
    editor.delete((), "model")
    editor.delete_table(("model_providers", "megallm"))
    return editor.text()


def added_lines(before: str, after: str) -> list[str]:
    """The lines `after` adds to `before`; fails if a line of `before` was changed or lost."""
    diff = list(
        difflib.ndiff(
            before.removeprefix("\ufeff").splitlines(), after.removeprefix("\ufeff").splitlines()
        )
    )
    assert not [line for line in diff if line.startswith("- ")], "\n".join(diff)
    return [line[2:] for line in diff if line.startswith("+ ")]


OUR_LINES = [
    'model_provider = "megallm"',
    'model = "gpt-5"',
    "[model_providers.megallm]",
    'name = "MegaLLM"',
    'base_url = "https://ai.megallm.io/v1"',
    'env_key = "MEGALLM_API_KEY"',
    'wire_api = "responses"',
]


# --- formats/toml.py -------------------------------------------------------------------------

LAYOUTS = {
    "empty": "",
    "starts with a table": '[mcp_servers.github]\ncommand = "npx"\n',
    "comment leads the first table": '# Codex\n\n# GitHub\n[mcp_servers.github]\ncommand = "npx"\n',
    "keys then tables": 'approval_policy = "never"\n\n[profiles.fast]\nmodel = "gpt-5-mini"\n',
    "dotted keys at the top": 'tui.notifications = true\nmcp_servers.x.command = "x"\n',
    "other providers": (
        '[model_providers.ollama-local]\nname = "Ollama"\nbase_url = "http://h/v1"\n\n'
        '[model_providers.ollama-local.http_headers]\nX = "1"\n\n'
        '[projects."/home/u/src"]\ntrust_level = "trusted"\n'
    ),
    "super-table header": '[model_providers]\n\n[model_providers.azure]\nname = "Azure"\n',
    "multi-line values that look like headers": (
        'instructions = """\n[not.a.table]\nx = 1\n"""\n'
        "args = [\n  [1, 2], # a ] in a comment\n  \"]\",\n  '''\n[fake]'''\n]\n[t]\na = 1\n"
    ),
    "no final newline": 'approval_policy = "never"\n[profiles.fast]\nmodel = "x"',
    "crlf": 'approval_policy = "never"\r\n\r\n[profiles.fast]\r\nmodel = "x"\r\n',
    "bom": "\ufeff# settings\n[tui]\nnotifications = true\n",
    "realistic": REALISTIC.replace('model = "o4-mini"\nmodel_provider = "ollama-local"\n', ""),
}


@pytest.mark.parametrize("text", LAYOUTS.values(), ids=LAYOUTS.keys())
def test_set_then_delete_gives_back_every_byte(text: str) -> None:
    edited = setup_edits(text)
    value = toml.parse(edited)
    assert value["model_provider"] == "megallm"
    assert value["model"] == "gpt-5"
    assert value["model_providers"]["megallm"]["wire_api"] == "responses"
    assert setup_edits(edited) == edited
    assert remove_edits(edited) == text
    assert [line for line in added_lines(text, edited) if line.strip()] == OUR_LINES


def test_top_level_key_goes_above_a_leading_table() -> None:
    # After `[mcp_servers.github]` the key would belong to that table.
    text = '[mcp_servers.github]\ncommand = "npx"\n'
    edited = set_value(text, (), "model_provider", "megallm")
    assert edited == 'model_provider = "megallm"\n\n[mcp_servers.github]\ncommand = "npx"\n'
    assert toml.parse(edited)["mcp_servers"] == {"github": {"command": "npx"}}


def test_top_level_key_keeps_the_comment_block_with_its_table() -> None:
    text = "# my Codex setup\n\n# GitHub tools\n[mcp_servers.github]\ncommand = 'npx'\n"
    assert set_value(text, (), "model", "gpt-5") == (
        "# my Codex setup\n\n"
        'model = "gpt-5"\n\n'
        "# GitHub tools\n[mcp_servers.github]\ncommand = 'npx'\n"
    )


def test_top_level_key_follows_the_last_top_level_key_even_a_dotted_one() -> None:
    # tomlkit itself appends this key after the [model_providers.megallm] table it creates.
    text = 'model_providers.ollama-local.name = "Ollama"\n\n# tables\n[tui]\nx = 1\n'
    edited = set_value(text, (), "model_provider", "megallm")
    assert edited == (
        'model_providers.ollama-local.name = "Ollama"\nmodel_provider = "megallm"\n\n'
        "# tables\n[tui]\nx = 1\n"
    )


def test_new_table_goes_after_its_siblings_and_before_the_next_comment() -> None:
    text = (
        '[model_providers.ollama-local]\nname = "Ollama"\n\n'
        '# trusted folders\n[projects."/home/u/src"]\ntrust_level = "trusted"\n'
    )
    edited = set_value(text, ("model_providers", "megallm"), "name", "MegaLLM")
    assert edited == (
        '[model_providers.ollama-local]\nname = "Ollama"\n\n'
        '[model_providers.megallm]\nname = "MegaLLM"\n\n'
        '# trusted folders\n[projects."/home/u/src"]\ntrust_level = "trusted"\n'
    )


def test_crlf_bom_and_missing_final_newline_are_kept() -> None:
    text = '\ufeffapproval_policy = "never"\r\n\r\n[tui]\r\nnotifications = true'
    edited = setup_edits(text)
    assert edited.startswith('\ufeffapproval_policy = "never"\r\nmodel_provider = "megallm"\r\n')
    assert edited.count("\n") == edited.count("\r\n")
    assert edited.endswith('wire_api = "responses"')
    assert remove_edits(edited) == text


def test_existing_value_is_replaced_in_place_with_its_comment() -> None:
    text = 'model_provider = "openai"   # was the default\nmodel = "o3"\n'
    edited = set_value(text, (), "model_provider", "megallm")
    assert edited == 'model_provider = "megallm"   # was the default\nmodel = "o3"\n'


def test_equal_value_in_another_quoting_is_left_alone() -> None:
    text = "model_provider = 'megallm'\n"
    assert set_value(text, (), "model_provider", "megallm") is text


def test_keys_and_values_are_quoted_when_needed() -> None:
    edited = set_value("", ("projects", "/home/u/my src"), "note", 'say "hi"\n')
    assert edited == '[projects."/home/u/my src"]\nnote = "say \\"hi\\"\\n"\n'
    assert toml.parse(edited) == {"projects": {"/home/u/my src": {"note": 'say "hi"\n'}}}


@pytest.mark.parametrize(
    ("text", "line", "col"),
    [
        ('model_providers = { megallm = { name = "x" } }\n', 1, 1),
        ('[model_providers]\nmegallm.name = "x"\n', 2, 1),
        ('model = "x"\nmodel_providers.megallm.name = "x"\n', 2, 1),
        ('[[model_providers.megallm]]\nname = "x"\n', 1, 1),
    ],
    ids=["inline table", "dotted in parent", "dotted at top", "array of tables"],
)
def test_layouts_we_do_not_edit_are_refused_with_their_position(
    text: str, line: int, col: int
) -> None:
    with pytest.raises(toml.TomlError) as raised:
        set_value(text, ("model_providers", "megallm"), "base_url", "https://x/v1")
    assert (raised.value.line, raised.value.col) == (line, col)
    assert "megallm edits only plain keys" in raised.value.reason


def test_delete_table_takes_sub_tables_and_keeps_an_explicit_parent() -> None:
    text = (
        "[model_providers]\n\n"
        '[model_providers.megallm]\nname = "MegaLLM"\n\n'
        '[model_providers.megallm.http_headers]\nX = "1"\n\n'
        "[tui]\nnotifications = true\n"
    )
    assert delete_table(text, ("model_providers", "megallm")) == (
        "[model_providers]\n\n[tui]\nnotifications = true\n"
    )


def test_deleting_absent_things_changes_nothing() -> None:
    text = "# only a comment\n"
    assert delete_value(text, (), "model") is text
    assert delete_table(text, ("model_providers", "megallm")) is text


def test_syntax_errors_carry_one_based_positions_like_codex() -> None:
    # Codex 0.171.0 reports this file as config.toml:2:5.
    with pytest.raises(toml.TomlError) as raised:
        toml.parse("a = 1\nb = = 2\n")
    assert (raised.value.line, raised.value.col) == (2, 5)
    with pytest.raises(toml.TomlError):
        set_value("[t]\na = 1\n[t]\nb = 2\n", (), "model", "x")


def test_one_editor_applies_many_edits_and_checks_them_together() -> None:
    editor = toml.Editor('model_provider = "openai"\n')
    editor.set((), "model_provider", "megallm")
    editor.set(("model_providers", "megallm"), "name", "MegaLLM")
    assert editor.get("model_provider") == "megallm"
    assert editor.value == {"model_provider": "openai"}  # what the file held
    editor.delete_table(("model_providers", "megallm"))
    assert editor.text() == 'model_provider = "megallm"\n'


def test_an_edit_that_reads_back_wrong_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(toml, "_render_string", lambda value: '"something else"')
    editor = toml.Editor("[tui]\nnotifications = true\n")
    editor.set((), "model_provider", "megallm")
    with pytest.raises(toml.TomlError, match="did not read back as intended"):
        editor.text()


def test_position_finds_keys_and_tables() -> None:
    text = '\ufeffprofile = "x"\n\n[model_providers.openai]\n  wire_api = "chat"\n'
    assert toml.position(text, ("profile",)) == (1, 1)
    assert toml.position(text, ("model_providers", "openai")) == (3, 1)
    assert toml.position(text, ("model_providers", "openai", "wire_api")) == (4, 3)
    assert toml.position(text, ("model",)) is None


# --- the agent, in process -------------------------------------------------------------------


def test_project_level_is_refused_with_the_reason(home: Home) -> None:
    with pytest.raises(UsageError) as raised:
        codex.AGENT.plan(context(home), request(home, level="project"))
    assert "ignores model_provider" in raised.value.message
    assert "--level user" in (raised.value.hint or "")
    removal = codex.AGENT.unconfigure(context(home), "project")
    assert removal.changes == [] and "user level only" in removal.notes[0]


def test_plan_puts_the_key_in_the_env_never_in_the_file(home: Home) -> None:
    plan = codex.AGENT.plan(context(home, "http://127.0.0.1:8787"), request(home))
    assert plan.env == {"MEGALLM_API_KEY": TEST_KEY}
    (change,) = plan.changes
    assert change.before is None and change.after is not None
    assert not change.secret
    assert TEST_KEY.encode() not in change.after
    assert toml.parse(change.after.decode()) == {
        "model_provider": "megallm",
        "model": "gpt-5",
        "model_providers": {
            "megallm": {
                "name": "MegaLLM",
                "base_url": "http://127.0.0.1:8787/v1",
                "env_key": "MEGALLM_API_KEY",
                "wire_api": "responses",
            }
        },
    }
    assert any("set model = 'gpt-5'" in note for note in plan.notes)
    assert change.validate is not None
    change.validate(change.after)
    with pytest.raises(ValueError):
        change.validate(change.after.replace(b'"responses"', b'"chat"'))


def test_model_choice_existing_model_and_inline_token(home: Home) -> None:
    write_config(
        home,
        'model = "o3"\n\n[model_providers.megallm]\nname = "Mine"\n'
        'experimental_bearer_token = "sk-mega-old-inline-key-0123456789"\n'
        "request_max_retries = 2\n",
    )
    kept = codex.AGENT.plan(context(home), request(home))
    value = toml.parse(kept.changes[0].after.decode())  # type: ignore[union-attr]
    assert value["model"] == "o3"
    assert any("kept model = 'o3'" in note for note in kept.notes)
    assert "experimental_bearer_token" not in value["model_providers"]["megallm"]
    assert value["model_providers"]["megallm"]["request_max_retries"] == 2
    assert any("removed experimental_bearer_token" in note for note in kept.notes)
    chosen = codex.AGENT.plan(context(home), request(home, codex="claude-sonnet-4-5"))
    assert toml.parse(chosen.changes[0].after.decode())["model"] == "claude-sonnet-4-5"  # type: ignore[union-attr]


def test_check_reports_what_makes_codex_refuse_the_file(home: Home) -> None:
    write_config(
        home,
        'profile = "work"\nmodel_provider = "megallm"\n\n'
        + PROVIDER_BLOCK
        + '\n[model_providers.openai]\nname = "proxy"\nbase_url = "http://p/v1"\n'
        '\n[model_providers.local]\nname = "L"\nbase_url = "http://l/v1"\nwire_api = "chat"\n',
    )
    findings = codex.AGENT.check(context(home))
    failed = {f.title: f for f in findings if f.status == "fail"}
    path = config_path(home)
    legacy = failed["Codex refuses the top-level profile = 'work' (no longer supported)"]
    assert legacy.detail == f"{path}:1:1"
    reserved = failed["Codex refuses [model_providers.openai]: a reserved built-in id"]
    assert reserved.detail == f"{path}:10:1"
    chat = failed['Codex refuses wire_api = "chat" in [model_providers.local]']
    assert chat.detail == f"{path}:17:1"
    assert len(failed) == 3
    # A Codex someone runs on this machine adds a "restart it" warning; it is not about the file.
    warned = [f.title for f in findings if f.status == "warn" and "running" not in f.title]
    assert warned == ["no model set"]


def test_check_fails_on_a_provider_table_that_is_not_ours(home: Home) -> None:
    write_config(
        home,
        'model_provider = "megallm"\nmodel = "gpt-5"\n\n[model_providers.megallm]\n'
        'base_url = "https://ai.megallm.io"\nenv_key = "OPENAI_API_KEY"\n'
        'wire_api = "completions"\n',
    )
    failed = [f.title for f in codex.AGENT.check(context(home)) if f.status == "fail"]
    assert failed == [
        "base_url lacks /v1",
        "env_key is 'OPENAI_API_KEY', not 'MEGALLM_API_KEY'",
        "wire_api = 'completions'",
    ]


def test_configured_reports_the_active_provider(home: Home) -> None:
    assert codex.AGENT.configured(context(home)) == []
    write_config(
        home,
        'model_provider = "ollama-local"\n[model_providers.ollama-local]\n'
        'base_url = "http://localhost:11434/v1"\n',
    )
    (other,) = codex.AGENT.configured(context(home))
    assert other.base_url == "http://localhost:11434/v1" and other.key is None
    write_config(home, 'model_provider = "openai"\n')
    assert codex.AGENT.configured(context(home)) == []
    write_config(home, "model_provider = [\n")
    assert codex.AGENT.configured(context(home)) == []


# --- the installed megallm, in a throwaway HOME ------------------------------------------------


def test_realistic_config_setup_doctor_restore(home: Home) -> None:
    write_config(home, REALISTIC)
    before = home.snapshot()
    result = home.run(*SETUP, extra_env=key_env())
    assert result.returncode == 0, result.stderr
    assert TEST_KEY not in result.stdout + result.stderr
    written = config_path(home).read_text()
    assert written == (
        REALISTIC.replace('model_provider = "ollama-local"', 'model_provider = "megallm"').replace(
            'wire_api = "responses"\n\n[tui]',
            'wire_api = "responses"\n\n' + PROVIDER_BLOCK + "\n[tui]",
        )
    )
    assert "model_provider was 'ollama-local'" in result.stderr
    assert "kept model = 'o4-mini'" in result.stderr
    assert TEST_KEY in (home.home / ".config" / "megallm" / "env.sh").read_text()
    assert stat.S_IMODE(config_path(home).stat().st_mode) == 0o644

    doctor = home.run("doctor", "--agent", "codex", "--json", extra_env=key_env())
    assert doctor.returncode == 0, doctor.stdout
    titles = [f["title"] for f in json.loads(doctor.stdout)["data"]]
    assert "model_provider = 'megallm'" in titles
    assert "key read from $MEGALLM_API_KEY" in titles

    status = json.loads(home.run("status", "--json").stdout)["data"]
    (row,) = [r for r in status if r["agent"] == "codex"]
    assert row["configured"][0]["megallm"] is True
    assert row["configured"][0]["key"] is None
    assert row["configured"][0]["model"] == "o4-mini"

    restore = home.run("restore", "--latest")
    assert restore.returncode == 0, restore.stderr
    assert home.snapshot() == before


def test_setup_twice_is_identical_and_key_rotation_leaves_config_alone(home: Home) -> None:
    write_config(home, REALISTIC)
    assert home.run(*SETUP, extra_env=key_env()).returncode == 0
    after_first = home.snapshot()
    again = home.run(*SETUP, extra_env=key_env())
    assert again.returncode == 0, again.stderr
    assert "nothing to change" in again.stderr
    assert home.snapshot() == after_first
    config_before = config_path(home).read_bytes()
    rotated = home.run(*SETUP, "--api-key-stdin", stdin=OTHER_KEY + "\n", extra_env=key_env())
    assert rotated.returncode == 0, rotated.stderr
    assert config_path(home).read_bytes() == config_before
    changed = {name for name, data in home.snapshot().items() if after_first.get(name) != data}
    assert changed == {"home/.config/megallm/env.sh"}
    assert OTHER_KEY in (home.home / ".config" / "megallm" / "env.sh").read_text()
    listing = json.loads(home.run("restore", "--list", "--json").stdout)["data"]
    assert len(listing) == 2


def test_remove_brings_back_the_previous_provider_and_keeps_later_edits(home: Home) -> None:
    write_config(home, REALISTIC)
    result = home.run(*SETUP, "--model", "codex=claude-sonnet-4-5", extra_env=key_env())
    assert result.returncode == 0, result.stderr
    assert 'model = "claude-sonnet-4-5"' in config_path(home).read_text()
    # Codex appends trust entries itself while it runs.
    trusted = '\n[projects."/home/u/new"]\ntrust_level = "trusted"\n'
    with config_path(home).open("a") as config:
        config.write(trusted)
    removed = home.run(*REMOVE, extra_env=key_env())
    assert removed.returncode == 0, removed.stderr
    assert config_path(home).read_text() == REALISTIC + trusted
    assert "model_provider back to 'ollama-local'" in removed.stderr
    assert "model back to 'o4-mini'" in removed.stderr
    assert not (home.home / ".config" / "megallm" / "env.sh").exists()


def test_remove_keeps_a_model_the_user_chose_after_setup(home: Home) -> None:
    write_config(home, REALISTIC)
    result = home.run(*SETUP, "--model", "codex=claude-sonnet-4-5", extra_env=key_env())
    assert result.returncode == 0, result.stderr
    chosen = config_path(home).read_text().replace('"claude-sonnet-4-5"', '"gpt-5-codex"')
    config_path(home).write_text(chosen)
    removed = home.run(*REMOVE, extra_env=key_env())
    assert removed.returncode == 0, removed.stderr
    assert 'model = "gpt-5-codex"' in config_path(home).read_text()
    assert "kept model = 'gpt-5-codex'" in removed.stderr
    assert "model_provider back to 'ollama-local'" in removed.stderr


def test_remove_after_a_rerun_still_finds_the_original_provider(home: Home) -> None:
    write_config(
        home,
        'model_provider = "ollama-local"\n\n[model_providers.ollama-local]\n'
        'name = "Ollama"\nbase_url = "http://localhost:11434/v1"\n',
    )
    original = config_path(home).read_text()
    assert home.run(*SETUP, extra_env=key_env()).returncode == 0
    assert home.run(*SETUP, "--model", "codex=gpt-5-mini", extra_env=key_env()).returncode == 0
    assert home.run(*REMOVE, extra_env=key_env()).returncode == 0
    assert config_path(home).read_text() == original


def test_remove_without_a_backup_deletes_our_keys_and_keeps_the_model(home: Home) -> None:
    write_config(home, '# mine\nmodel = "gpt-5"\n\n[tui]\nnotifications = true\n')
    assert home.run(*SETUP, extra_env=key_env()).returncode == 0
    backups = home.home / ".local" / "state" / "megallm" / "backups"
    for session in backups.iterdir():
        (session / "manifest.json").unlink()
    removed = home.run(*REMOVE, extra_env=key_env())
    assert removed.returncode == 0, removed.stderr
    assert config_path(home).read_text() == (
        '# mine\nmodel = "gpt-5"\n\n[tui]\nnotifications = true\n'
    )
    assert "no backup shows Codex's model_provider" in removed.stderr
    assert "kept model = 'gpt-5'" in removed.stderr


def test_setup_then_remove_on_a_fresh_home_leaves_nothing(home: Home) -> None:
    before = home.snapshot()
    assert home.run(*SETUP, extra_env=key_env()).returncode == 0
    assert config_path(home).exists()
    removed = home.run(*REMOVE, extra_env=key_env())
    assert removed.returncode == 0, removed.stderr
    assert not config_path(home).exists()
    # Setup created the rc files to source env.sh; remove takes the block out again.
    rc_files = {"home/.bashrc", "home/.profile"}
    after = home.snapshot()
    assert {name: data for name, data in after.items() if name not in rc_files} == before
    assert all(after.get(name, b"") == b"" for name in rc_files)


@pytest.mark.parametrize(
    "raw",
    [
        b'approval_policy = "never"\r\n\r\n[tui]\r\nnotifications = true\r\n',
        b'approval_policy = "never"\n[tui]\nnotifications = true',
        b"\xef\xbb\xbf[tui]\nnotifications = true\n",
    ],
    ids=["crlf", "no final newline", "bom"],
)
def test_line_endings_bom_and_final_newline_survive_setup_remove_restore(
    home: Home, raw: bytes
) -> None:
    write_config(home, raw)
    assert home.run(*SETUP, extra_env=key_env()).returncode == 0
    written = config_path(home).read_bytes()
    assert written.startswith(raw[:3])
    if b"\r\n" in raw:
        assert written.count(b"\n") == written.count(b"\r\n")
    assert written.endswith(b"\n") == raw.endswith(b"\n")
    assert home.run(*REMOVE, extra_env=key_env()).returncode == 0
    assert config_path(home).read_bytes() == raw
    assert home.run(*SETUP, extra_env=key_env()).returncode == 0
    assert home.run("restore", "--latest").returncode == 0
    assert config_path(home).read_bytes() == raw


@pytest.mark.parametrize(
    "raw", [b"\n", b"  \n\t\n", b"\r\n\r\n"], ids=["newline", "whitespace", "crlf-blank"]
)
def test_remove_gives_back_a_blank_config_byte_for_byte(home: Home, raw: bytes) -> None:
    write_config(home, raw)
    assert home.run(*SETUP, extra_env=key_env()).returncode == 0
    assert toml.parse(config_path(home).read_text())["model_provider"] == "megallm"
    removed = home.run(*REMOVE, extra_env=key_env())
    assert removed.returncode == 0, removed.stderr
    assert config_path(home).read_bytes() == raw


def test_remove_keeps_a_comment_added_to_a_blank_config_after_setup(home: Home) -> None:
    write_config(home, "\n\n")
    assert home.run(*SETUP, extra_env=key_env()).returncode == 0
    with config_path(home).open("a") as config:
        config.write("# my note\n")
    assert home.run(*REMOVE, extra_env=key_env()).returncode == 0
    text = config_path(home).read_text()
    assert "# my note" in text
    assert toml.parse(text) == {}


def test_doctor_reports_a_config_it_cannot_read(home: Home) -> None:
    config_path(home).mkdir(parents=True)  # a directory where the file belongs
    findings = codex.AGENT.check(context(home))
    assert [(f.status, f.title) for f in findings] == [
        ("fail", f"{config_path(home)} cannot be read")
    ]
    assert "is a directory" in findings[0].detail


def test_malformed_toml_is_reported_and_nothing_is_written(home: Home) -> None:
    broken = 'model = "o3"\n[mcp_servers.github\ncommand = "npx"\n'
    write_config(home, broken)
    before = home.snapshot()
    result = home.run(*SETUP, extra_env=key_env())
    assert result.returncode == 1
    assert f"{config_path(home)}:2:20:" in result.stderr
    assert home.snapshot() == before
    doctor = home.run("doctor", "--agent", "codex", extra_env=key_env())
    assert doctor.returncode == 1
    assert f"{config_path(home)}:2:20" in doctor.stderr


def test_a_layout_we_do_not_edit_is_refused_untouched(home: Home) -> None:
    inline = 'model_providers = { megallm = { name = "MegaLLM" } }\n'
    write_config(home, inline)
    result = home.run(*SETUP, extra_env=key_env())
    assert result.returncode == 1
    assert f"{config_path(home)}:1:1:" in result.stderr
    assert config_path(home).read_text() == inline


def test_codex_home_is_honoured(home: Home) -> None:
    codex_home = home.root / "codex-home"
    result = home.run(*SETUP, extra_env={**key_env(), "CODEX_HOME": str(codex_home)})
    assert result.returncode == 0, result.stderr
    assert toml.parse((codex_home / "config.toml").read_text())["model_provider"] == "megallm"
    assert not config_path(home).exists()


@pytest.mark.parametrize("other_agents", [(), ("--agent", "claude-code")], ids=["alone", "mixed"])
def test_project_level_exits_2_and_writes_nothing(
    home: Home, other_agents: tuple[str, ...]
) -> None:
    before = home.snapshot()
    result = home.run(*SETUP, *other_agents, "--level", "project", extra_env=key_env())
    assert result.returncode == 2
    assert "Codex has no project level" in result.stderr
    assert "--level user" in result.stderr
    assert home.snapshot() == before
    assert not (home.home / ".local" / "state" / "megallm" / "backups").exists()


def test_dry_run_shows_the_diff_and_writes_nothing(home: Home) -> None:
    write_config(home, REALISTIC)
    before = home.snapshot()
    result = home.run(*SETUP, "--dry-run", extra_env=key_env())
    assert result.returncode == 0, result.stderr
    assert '-model_provider = "ollama-local"\n+model_provider = "megallm"\n' in result.stdout
    assert '+base_url = "https://ai.megallm.io/v1"\n' in result.stdout
    assert TEST_KEY not in result.stdout + result.stderr
    assert home.snapshot() == before


def test_doctor_fails_on_reserved_ids_legacy_profile_and_chat(home: Home) -> None:
    write_config(
        home,
        'profile = "work"\nmodel_provider = "megallm"\nmodel = "gpt-5"\n\n'
        + PROVIDER_BLOCK
        + '\n[model_providers.ollama]\nname = "Ollama"\nwire_api = "chat"\n',
    )
    assert home.run(*SETUP, extra_env=key_env()).returncode == 0
    result = home.run("doctor", "--agent", "codex", "--json", extra_env=key_env())
    assert result.returncode == 1
    errors = [e["message"] for e in json.loads(result.stdout)["errors"]]
    assert errors == [
        "Codex refuses the top-level profile = 'work' (no longer supported)",
        "Codex refuses [model_providers.ollama]: a reserved built-in id",
        'Codex refuses wire_api = "chat" in [model_providers.ollama]',
    ]


def test_detect_reads_the_npm_version_without_running_codex(home: Home) -> None:
    package = home.home / ".npm-global" / "lib" / "node_modules" / "@openai" / "codex"
    (package / "bin").mkdir(parents=True)
    (package / "package.json").write_text('{"name": "@openai/codex", "version": "0.171.0"}')
    launcher = package / "bin" / "codex.js"
    launcher.write_text('#!/bin/sh\ntouch "$HOME/ran"\n')
    launcher.chmod(0o755)
    bin_dir = home.home / ".npm-global" / "bin"
    bin_dir.mkdir()
    os.symlink(launcher, bin_dir / "codex")
    status = json.loads(home.run("status", "--json", extra_env={"PATH": "/usr/bin:/bin"}).stdout)
    (row,) = [r for r in status["data"] if r["agent"] == "codex"]
    assert (row["installed"], row["version"]) == (True, "0.171.0")
    assert row["location"] == str(bin_dir / "codex")
    assert not (home.home / "ran").exists()


def test_a_config_with_thousands_of_trusted_projects(home: Home) -> None:
    # Codex adds a [projects."…"] table per trusted folder; such files grow past 100 KiB.
    trusted = "".join(
        f'\n[projects."/home/u/src/p{i}"]\ntrust_level = "trusted"\n' for i in range(2000)
    )
    write_config(home, REALISTIC + trusted)
    setup = home.run(*SETUP, extra_env=key_env())
    assert setup.returncode == 0, setup.stderr
    assert PROVIDER_BLOCK in config_path(home).read_text()
    removed = home.run(*REMOVE, extra_env=key_env())
    assert removed.returncode == 0, removed.stderr
    assert config_path(home).read_text() == REALISTIC + trusted
