"""Cline: providers.json planned against Cline's schema, and the installed `megallm` end to end."""

from __future__ import annotations

import copy
import json
import os
import re
import socket
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest

from megallm_cli import engine
from megallm_cli.agents import cline
from megallm_cli.agents.base import AgentPlan, Context
from megallm_cli.errors import ConfigParseError, MegallmError, UsageError
from megallm_cli.paths import Paths
from megallm_cli.request import Gateway, Secret, SetupRequest
from tests.conftest import OTHER_KEY, TEST_KEY, Home
from tests.fake_gateway_fixture import TEST_KEY as GATEWAY_KEY
from tests.fake_gateway_fixture import fake_gateway, load_fake_gateway_module

__all__ = ["fake_gateway"]  # re-exported so that pytest finds the fixture in this module

SETUP = ("setup", "--agent", "cline", "--yes", "--no-verify")
CLINE_BINARY = Path(
    os.environ.get(
        "MEGALLM_CLINE_BINARY",
        "/root/.cache/megallm-agents/cline/node_modules/@cline/cli-linux-x64/bin/cline",
    )
)
ISO_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")

VALID = {
    "version": 1,
    "lastUsedProvider": "openai-compatible",
    "providers": {
        "openai-compatible": {
            "settings": {
                "provider": "openai-compatible",
                "apiKey": "sk-mega-x",
                "model": "gpt-5",
                "baseUrl": "http://127.0.0.1:8787/v1",
            },
            "updatedAt": "2026-01-01T00:00:00.000Z",
            "tokenSource": "manual",
        }
    },
}

# Written by Cline itself (2-space JSON) with a second provider that must survive byte for byte.
WITH_OPENROUTER = """{
  "version": 1,
  "lastUsedProvider": "openrouter",
  "modes": {},
  "providers": {
    "openrouter": {
      "settings": {
        "provider": "openrouter",
        "apiKey": "sk-or-v1-keepthisone0123456789",
        "model": "anthropic/claude-sonnet-4.5",
        "headers": {
          "X-Title": "my laptop"
        }
      },
      "updatedAt": "2025-10-02T08:15:00.123Z",
      "tokenSource": "manual"
    }
  }
}
"""


def providers_path(home: Path) -> Path:
    return home / ".cline" / "data" / "settings" / "providers.json"


def context(tmp_path: Path, **env: str) -> Context:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    paths = Paths({"HOME": str(home), **env}, platform="linux")
    return Context(paths=paths, project_dir=tmp_path, gateway=Gateway())


def request(ctx: Context, key: str = TEST_KEY, **fields: Any) -> SetupRequest:
    return SetupRequest(
        agents=("cline",),
        level=fields.pop("level", "user"),
        project_dir=ctx.project_dir,
        api_key=Secret(key),
        gateway=ctx.gateway,
        **fields,
    )


def apply(ctx: Context, key: str = TEST_KEY, **fields: Any) -> AgentPlan:
    plan = cline.AGENT.plan(ctx, request(ctx, key, **fields))
    engine.apply(ctx.paths, "test", lambda: plan.changes)
    return plan


def mutated(change: Any) -> dict[str, Any]:
    value = copy.deepcopy(VALID)
    change(value)
    return value


def entry(value: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = value["providers"]["openai-compatible"]
    return result


# --- the schema rules, as checked against the real reader (see docs/REAL_AGENTS.md) ---


@pytest.mark.parametrize(
    ("value", "field"),
    [
        (mutated(lambda v: entry(v).pop("updatedAt")), "updatedAt"),
        (mutated(lambda v: entry(v).update(updatedAt="2026-01-01T00:00:00+00:00")), "updatedAt"),
        (mutated(lambda v: entry(v).update(updatedAt="2026-02-30T00:00:00Z")), "updatedAt"),
        (mutated(lambda v: entry(v).update(updatedAt="2026-01-01T00:00Z")), "updatedAt"),
        (mutated(lambda v: entry(v)["settings"].update(baseUrl="ai.megallm.io/v1")), "baseUrl"),
        (mutated(lambda v: entry(v)["settings"].update(baseUrl="127.0.0.1:8787/v1")), "baseUrl"),
        (mutated(lambda v: entry(v)["settings"].update(baseUrl="http://")), "baseUrl"),
        (mutated(lambda v: entry(v)["settings"].update(provider="open_ai")), "provider"),
        (mutated(lambda v: entry(v)["settings"].pop("provider")), "provider"),
        (mutated(lambda v: entry(v)["settings"].update(apiKey=123)), "apiKey"),
        (mutated(lambda v: entry(v)["settings"].update(apiKey=None)), "apiKey"),
        (mutated(lambda v: entry(v)["settings"].update(maxTokens=1.5)), "maxTokens"),
        (mutated(lambda v: entry(v)["settings"].update(headers={"a": 1})), "headers"),
        (mutated(lambda v: entry(v).update(settings="x")), "settings"),
        (mutated(lambda v: entry(v).update(tokenSource="magic")), "tokenSource"),
        (mutated(lambda v: v.update(version=2)), "version"),
        (mutated(lambda v: v.update(version="1")), "version"),
        (mutated(lambda v: v.pop("version")), "version"),
        (mutated(lambda v: v.update(lastUsedProvider="")), "lastUsedProvider"),
        (mutated(lambda v: v.update(modes=[])), "modes"),
        (mutated(lambda v: v.update(modes={"voiceInput": {"providerId": ""}})), "voiceInput"),
        (mutated(lambda v: v.update(providers=[])), "providers"),
        (mutated(lambda v: v["providers"].update(x={"settings": {"provider": "x"}})), "x."),
    ],
)
def test_schema_rejects_what_cline_rejects(value: dict[str, Any], field: str) -> None:
    problems = cline.schema_problems(value)
    assert problems, "Cline's reader treats this file as empty"
    assert any(field in problem for problem in problems)


@pytest.mark.parametrize(
    "value",
    [
        VALID,
        mutated(lambda v: entry(v).update(updatedAt="2028-02-29T23:59:59.9Z")),
        mutated(lambda v: entry(v).update(updatedAt="2026-01-01T00:00:00Z")),
        mutated(lambda v: entry(v).pop("tokenSource")),
        mutated(lambda v: v.pop("lastUsedProvider")),
        mutated(lambda v: entry(v)["settings"].update(provider="made-up-provider")),
        mutated(lambda v: entry(v)["settings"].update(baseUrl="localhost:8787/v1")),
        mutated(lambda v: (v.update(unknown=1), entry(v)["settings"].update(extra={}))),
        mutated(lambda v: v.update(modes={"voiceInput": {"providerId": "a", "modelId": "b"}})),
    ],
)
def test_schema_accepts_what_cline_accepts(value: dict[str, Any]) -> None:
    assert cline.schema_problems(value) == []


# --- planning ---


def test_new_file_has_the_documented_shape(tmp_path: Path) -> None:
    ctx = context(tmp_path)
    plan = apply(ctx)
    (change,) = plan.changes
    assert change.secret
    path = providers_path(ctx.paths.home)
    value = json.loads(path.read_text())
    assert value == {
        "version": 1,
        "lastUsedProvider": "openai-compatible",
        "providers": {
            "openai-compatible": {
                "settings": {
                    "provider": "openai-compatible",
                    "apiKey": TEST_KEY,
                    "model": "claude-sonnet-4-5",
                    "baseUrl": "https://ai.megallm.io/v1",
                },
                "updatedAt": entry(value)["updatedAt"],
                "tokenSource": "manual",
            }
        },
    }
    assert ISO_UTC.match(entry(value)["updatedAt"])
    assert path.read_text().startswith('{\n  "version": 1,\n')  # Cline's own layout
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_other_providers_keep_every_byte(tmp_path: Path) -> None:
    ctx = context(tmp_path)
    path = providers_path(ctx.paths.home)
    path.parent.mkdir(parents=True)
    path.write_text(WITH_OPENROUTER)
    os.chmod(path, 0o644)
    plan = apply(ctx, models={"cline": "gpt-5"})
    written = path.read_text()
    openrouter_block = WITH_OPENROUTER[
        WITH_OPENROUTER.index('    "openrouter"') : WITH_OPENROUTER.index("    }\n  }\n}")
    ]
    assert openrouter_block in written
    assert written.startswith('{\n  "version": 1,\n  "lastUsedProvider": "openai-compatible",\n')
    value = json.loads(written)
    assert (
        value["providers"]["openrouter"] == json.loads(WITH_OPENROUTER)["providers"]["openrouter"]
    )
    assert entry(value)["settings"]["model"] == "gpt-5"
    assert value["modes"] == {}
    assert cline.schema_problems(value) == []
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert any("now 0600 (was 644)" in note for note in plan.notes)


def test_second_identical_setup_changes_nothing_not_even_updated_at(tmp_path: Path) -> None:
    ctx = context(tmp_path)
    apply(ctx)
    first = providers_path(ctx.paths.home).read_bytes()
    (again,) = cline.AGENT.plan(ctx, request(ctx)).changes
    assert again.before == first
    assert again.is_noop


def test_a_new_key_moves_updated_at(tmp_path: Path) -> None:
    ctx = context(tmp_path)
    path = providers_path(ctx.paths.home)
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(VALID, indent=2))
    apply(ctx, key=OTHER_KEY)
    value = json.loads(path.read_text())
    assert entry(value)["settings"]["apiKey"] == OTHER_KEY
    assert entry(value)["updatedAt"] != "2026-01-01T00:00:00.000Z"
    assert ISO_UTC.match(entry(value)["updatedAt"])


def test_model_is_kept_for_our_gateway_and_replaced_for_another(tmp_path: Path) -> None:
    ctx = context(tmp_path)
    path = providers_path(ctx.paths.home)
    path.parent.mkdir(parents=True)
    ours = mutated(lambda v: entry(v)["settings"].update(baseUrl="https://ai.megallm.io/v1"))
    path.write_text(json.dumps(ours))
    apply(ctx)
    assert entry(json.loads(path.read_text()))["settings"]["model"] == "gpt-5"
    path.write_text(json.dumps(VALID))  # another gateway's model id means nothing to MegaLLM
    apply(ctx)
    assert entry(json.loads(path.read_text()))["settings"]["model"] == "claude-sonnet-4-5"


def test_our_broken_entry_is_repaired(tmp_path: Path) -> None:
    ctx = context(tmp_path)
    path = providers_path(ctx.paths.home)
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(mutated(lambda v: entry(v).pop("updatedAt"))))
    apply(ctx)
    assert cline.schema_problems(json.loads(path.read_text())) == []
    path.write_text(json.dumps(mutated(lambda v: v["providers"].update({"openai-compatible": 7}))))
    apply(ctx)
    assert cline.schema_problems(json.loads(path.read_text())) == []


def test_foreign_schema_problems_are_refused_untouched(tmp_path: Path) -> None:
    ctx = context(tmp_path)
    path = providers_path(ctx.paths.home)
    path.parent.mkdir(parents=True)
    broken = json.loads(WITH_OPENROUTER)
    del broken["providers"]["openrouter"]["updatedAt"]
    text = json.dumps(broken, indent=2)
    path.write_text(text)
    with pytest.raises(MegallmError, match=r"providers\.openrouter\.updatedAt"):
        cline.AGENT.plan(ctx, request(ctx))
    path.write_text(json.dumps(mutated(lambda v: v.update(version=2))))
    with pytest.raises(MegallmError, match="version 2"):
        cline.AGENT.plan(ctx, request(ctx))


@pytest.mark.parametrize(
    ("content", "position"),
    [
        (b'{\n  "version": 1,\n  // note\n}\n', (3, 3)),
        (b'{"version": 1,}', (1, 14)),
        (b'\xef\xbb\xbf{"version": 1, "providers": {}}', (1, 1)),
    ],
)
def test_files_cline_cannot_parse_are_reported_not_rewritten(
    tmp_path: Path, content: bytes, position: tuple[int, int]
) -> None:
    ctx = context(tmp_path)
    path = providers_path(ctx.paths.home)
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    with pytest.raises(ConfigParseError) as failure:
        cline.AGENT.plan(ctx, request(ctx))
    assert (failure.value.line, failure.value.col) == position
    assert path.read_bytes() == content


def test_validate_refuses_bytes_cline_would_ignore(tmp_path: Path) -> None:
    ctx = context(tmp_path)
    (change,) = cline.AGENT.plan(ctx, request(ctx)).changes
    assert change.validate is not None and change.after is not None
    change.validate(change.after)
    without_timestamp = json.loads(change.after)
    del entry(without_timestamp)["updatedAt"]
    with pytest.raises(ValueError, match="updatedAt"):
        change.validate(json.dumps(without_timestamp).encode())


def test_project_level_is_a_usage_error(tmp_path: Path) -> None:
    ctx = context(tmp_path)
    with pytest.raises(UsageError, match="no project-level"):
        cline.AGENT.plan(ctx, request(ctx, level="project"))


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "home/.cline/data/settings/providers.json"),
        ({"CLINE_DIR": "{root}/cd"}, "cd/data/settings/providers.json"),
        ({"CLINE_DIR": "{root}/cd", "CLINE_DATA_DIR": "{root}/dd"}, "dd/settings/providers.json"),
        (
            {"CLINE_DATA_DIR": "{root}/dd", "CLINE_PROVIDER_SETTINGS_PATH": "{root}/p.json"},
            "p.json",
        ),
    ],
)
def test_cline_environment_overrides(tmp_path: Path, env: dict[str, str], expected: str) -> None:
    ctx = context(tmp_path, **{name: value.format(root=tmp_path) for name, value in env.items()})
    apply(ctx)
    assert json.loads((tmp_path / expected).read_text())["lastUsedProvider"] == "openai-compatible"


def test_extension_3_gets_manual_steps_and_4_the_shared_file(tmp_path: Path) -> None:
    ctx = context(tmp_path)
    home = ctx.paths.home
    (home / ".vscode/extensions/saoudrizwan.claude-dev-3.17.0").mkdir(parents=True)
    (home / ".cursor/extensions/saoudrizwan.claude-dev-4.0.2-linux-x64").mkdir(parents=True)
    (home / ".windsurf/extensions").mkdir(parents=True)
    notes = cline.AGENT.plan(ctx, request(ctx)).notes
    manual = [note for note in notes if "Cline 3.17.0 in VS Code" in note]
    assert len(manual) == 1
    assert "'OpenAI Compatible'" in manual[0] and "https://ai.megallm.io/v1" in manual[0]
    assert "claude-sonnet-4-5" in manual[0] and TEST_KEY not in manual[0]
    assert any("Cline 4.0.2 in Cursor reads the same providers.json" in note for note in notes)
    assert any("Cascade, cannot use a custom gateway" in note for note in notes)


def test_detects_the_cli_version_from_its_npm_package(tmp_path: Path) -> None:
    prefix = tmp_path / "npm"
    platform_package = prefix / "node_modules" / "@cline" / "cli-linux-x64"
    (platform_package / "bin").mkdir(parents=True)
    binary = platform_package / "bin" / "cline"
    binary.write_text("#!/bin/sh\n")
    binary.chmod(0o755)
    (platform_package / "package.json").write_text(
        json.dumps({"name": "@cline/cli-linux-x64", "version": "3.0.65"})
    )
    (prefix / "bin").mkdir()
    (prefix / "bin" / "cline").symlink_to(binary)
    ctx = context(tmp_path, PATH=str(prefix / "bin"))
    detection = cline.AGENT.detect(ctx)
    assert (detection.installed, detection.version) == (True, "3.0.65")
    assert detection.location == str(prefix / "bin" / "cline")


# --- remove: the inverse of setup ---


def remove(ctx: Context) -> AgentPlan:
    plan = cline.AGENT.unconfigure(ctx, "user")
    engine.apply(ctx.paths, "remove", lambda: plan.changes)
    return plan


def providers_file(ctx: Context, content: bytes) -> Path:
    path = providers_path(ctx.paths.home)
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    return path


def provider_entry(base_url: str, updated_at: str) -> dict[str, Any]:
    settings = {"provider": "openai-compatible", "apiKey": "lm-studio", "model": "qwen2.5-coder"}
    return {
        "settings": {**settings, "baseUrl": base_url},
        "updatedAt": updated_at,
        "tokenSource": "manual",
    }


@pytest.mark.parametrize("content", [b"", b"  \n\t\n"], ids=["empty", "whitespace"])
def test_remove_gives_back_a_blank_file_byte_for_byte(tmp_path: Path, content: bytes) -> None:
    ctx = context(tmp_path)
    path = providers_file(ctx, content)
    apply(ctx)
    assert cline.schema_problems(json.loads(path.read_text())) == []
    remove(ctx)
    assert path.read_bytes() == content


def test_remove_puts_back_the_users_own_openai_compatible_provider(tmp_path: Path) -> None:
    ctx = context(tmp_path)
    mine = json.loads(WITH_OPENROUTER)
    mine["providers"]["openai-compatible"] = provider_entry(
        "http://localhost:1234/v1", "2025-11-03T10:00:00.000Z"
    )
    mine["lastUsedProvider"] = "openai-compatible"
    original = (json.dumps(mine, indent=2) + "\n").encode()
    path = providers_file(ctx, original)
    apply(ctx)
    assert entry(json.loads(path.read_text()))["settings"]["baseUrl"] == ctx.gateway.openai_base_url
    plan = remove(ctx)
    assert path.read_bytes() == original
    assert any(
        "back to http://localhost:1234/v1" in note and "updatedAt it had then" in note
        for note in plan.notes
    )
    # the diff of this remove shows both keys: the plan names them for masking
    assert mine["providers"]["openai-compatible"]["settings"]["apiKey"] in plan.secrets


def test_remove_points_last_used_provider_where_it_pointed(tmp_path: Path) -> None:
    ctx = context(tmp_path)
    mine = json.loads(WITH_OPENROUTER)
    anthropic = copy.deepcopy(mine["providers"]["openrouter"])
    anthropic["settings"]["provider"] = "anthropic"
    mine["providers"] = {"anthropic": anthropic, **mine["providers"]}
    original = json.dumps(mine).encode()  # one line: the layout must come back too
    path = providers_file(ctx, original)
    apply(ctx)
    plan = remove(ctx)
    assert path.read_bytes() == original
    assert "Cline will use its openrouter provider again" in plan.notes  # not the first listed


def test_remove_leaves_no_provider_chosen_when_none_was(tmp_path: Path) -> None:
    ctx = context(tmp_path)
    mine = json.loads(WITH_OPENROUTER)
    del mine["lastUsedProvider"]
    original = (json.dumps(mine, indent=2) + "\n").encode()
    path = providers_file(ctx, original)
    apply(ctx)
    assert json.loads(path.read_text())["lastUsedProvider"] == "openai-compatible"
    remove(ctx)
    assert path.read_bytes() == original


def test_remove_does_not_put_back_an_entry_cline_would_ignore(tmp_path: Path) -> None:
    ctx = context(tmp_path)
    mine = json.loads(WITH_OPENROUTER)
    mine["providers"]["openai-compatible"] = {"settings": {"provider": "openai-compatible"}}
    path = providers_file(ctx, json.dumps(mine).encode())
    apply(ctx)  # setup repairs it: the entry lacked updatedAt
    plan = remove(ctx)
    left = json.loads(path.read_text())
    assert list(left["providers"]) == ["openrouter"]
    assert cline.schema_problems(left) == []
    assert any("failed Cline's schema, so it is not put back" in note for note in plan.notes)


def test_remove_keeps_a_provider_added_after_setup(tmp_path: Path) -> None:
    ctx = context(tmp_path)
    path = providers_file(ctx, b"")
    apply(ctx)
    value = json.loads(path.read_text())
    value["providers"]["openrouter"] = json.loads(WITH_OPENROUTER)["providers"]["openrouter"]
    path.write_text(json.dumps(value, indent=2))  # the user adds one in Cline
    remove(ctx)
    left = json.loads(path.read_text())
    assert list(left["providers"]) == ["openrouter"]
    assert left["lastUsedProvider"] == "openrouter"
    assert cline.schema_problems(left) == []


def test_remove_without_a_backup_still_deletes_a_file_left_with_no_provider(
    tmp_path: Path,
) -> None:
    ctx = context(tmp_path)
    path = providers_file(ctx, b"")
    apply(ctx)
    for manifest in ctx.paths.backups_dir.glob("*/manifest.json"):
        manifest.unlink()
    remove(ctx)
    assert not path.exists()


def test_doctor_reports_a_providers_file_it_cannot_read(tmp_path: Path) -> None:
    ctx = context(tmp_path)
    providers_path(ctx.paths.home).mkdir(parents=True)  # a directory where the file belongs
    findings = cline.AGENT.check(ctx)
    assert [f.title for f in findings if f.status == "fail"] == ["providers.json cannot be read"]
    assert "is a directory" in findings[0].detail


# --- the installed command, in a throwaway HOME ---


def test_setup_doctor_restore_round_trip(home: Home) -> None:
    path = providers_path(home.home)
    path.parent.mkdir(parents=True)
    path.write_text(WITH_OPENROUTER)
    os.chmod(path, 0o644)
    before = home.snapshot()
    result = home.run(*SETUP, extra_env={"MEGALLM_API_KEY": TEST_KEY})
    assert result.returncode == 0, result.stderr
    assert TEST_KEY not in result.stdout + result.stderr
    assert entry(json.loads(path.read_text()))["settings"]["apiKey"] == TEST_KEY

    doctor = home.run("doctor")
    assert doctor.returncode == 0, doctor.stderr
    assert "passes Cline's schema" in doctor.stderr
    assert "lastUsedProvider = openai-compatible" in doctor.stderr
    assert TEST_KEY not in doctor.stdout + doctor.stderr

    restore = home.run("restore", "--latest")
    assert restore.returncode == 0, restore.stderr
    assert home.snapshot() == before
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_setup_twice_is_a_no_op(home: Home) -> None:
    env = {"MEGALLM_API_KEY": TEST_KEY}
    assert home.run(*SETUP, extra_env=env).returncode == 0
    first = home.snapshot()
    second = home.run(*SETUP, extra_env=env)
    assert second.returncode == 0, second.stderr
    assert "nothing to change" in second.stderr
    assert home.snapshot() == first
    assert len(json.loads(home.run("restore", "--list", "--json").stdout)["data"]) == 1


def test_remove_keeps_other_providers_and_deletes_a_file_left_empty(home: Home) -> None:
    env = {"MEGALLM_API_KEY": TEST_KEY}
    assert home.run(*SETUP, extra_env=env).returncode == 0
    removed = home.run("remove", "--agent", "cline", "--yes")
    assert removed.returncode == 0, removed.stderr
    assert not (home.home / ".cline").exists()  # the file and the dirs made for it

    providers_path(home.home).parent.mkdir(parents=True)
    providers_path(home.home).write_text(WITH_OPENROUTER)
    assert home.run(*SETUP, extra_env=env).returncode == 0
    assert home.run("remove", "--agent", "cline", "--yes").returncode == 0
    assert providers_path(home.home).read_text() == WITH_OPENROUTER


def test_doctor_fails_when_cline_would_ignore_the_file(home: Home) -> None:
    path = providers_path(home.home)
    path.parent.mkdir(parents=True)
    broken = mutated(lambda v: entry(v)["settings"].update(baseUrl="https://ai.megallm.io/v1"))
    del entry(broken)["updatedAt"]
    path.write_text(json.dumps(broken))
    os.chmod(path, 0o600)
    result = home.run("doctor", "--agent", "cline", "--json")
    assert result.returncode == 1
    failed = [f for f in json.loads(result.stdout)["data"] if f["status"] == "fail"]
    assert [f["title"] for f in failed] == ["Cline ignores providers.json (schema)"]
    assert "updatedAt" in failed[0]["detail"]


def test_doctor_fails_when_cline_uses_another_provider(home: Home) -> None:
    path = providers_path(home.home)
    path.parent.mkdir(parents=True)
    value = mutated(lambda v: entry(v)["settings"].update(baseUrl="https://ai.megallm.io/v1"))
    value["lastUsedProvider"] = "cline"
    path.write_text(json.dumps(value))
    os.chmod(path, 0o644)
    result = home.run("doctor", "--agent", "cline", "--json")
    assert result.returncode == 1
    titles = {f["title"] for f in json.loads(result.stdout)["data"] if f["status"] == "fail"}
    assert titles == {
        "Cline uses another provider (cline)",
        f"{path} is readable by others (644)",
    }


def test_project_level_setup_exits_with_usage_error(home: Home) -> None:
    result = home.run(*SETUP, "--level", "project", extra_env={"MEGALLM_API_KEY": TEST_KEY})
    assert result.returncode == 2
    assert "no project-level" in result.stderr
    assert not providers_path(home.home).exists()


# --- the real Cline CLI (pytest -m e2e inside `unshare --net`; see docs/REAL_AGENTS.md) ---


def only_loopback() -> bool:
    """True in a network namespace whose one interface is lo: nothing can leave the machine."""
    return [name for _, name in socket.if_nameindex()] == ["lo"]


@pytest.mark.e2e
@pytest.mark.skipif(
    not (CLINE_BINARY.exists() and only_loopback()),
    reason="needs the cline binary and a loopback-only network namespace (unshare --net)",
)
def test_real_cline_answers_through_the_gateway(home: Home, fake_gateway: Any) -> None:
    setup = home.run(
        *SETUP,
        "--base-url",
        fake_gateway.url,
        "--model",
        "gpt-5",
        extra_env={"MEGALLM_API_KEY": GATEWAY_KEY},
    )
    assert setup.returncode == 0, setup.stderr
    run = subprocess.run(
        [str(CLINE_BINARY), "-t", "60", "say hi please"],
        # The local backend answers in-process; the default one leaves a hub daemon behind.
        env={**home.env, "CLINE_SESSION_BACKEND_MODE": "local", "DISABLE_TELEMETRY": "1"},
        cwd=home.project,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert load_fake_gateway_module().REPLY_TEXT in run.stdout
    (request,) = fake_gateway.requests("/v1/chat/completions")
    assert (request.api_key, request.model, request.auth_scheme) == (GATEWAY_KEY, "gpt-5", "bearer")
