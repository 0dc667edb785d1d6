"""OpenCode and Kilo: the installed `megallm` run in a throwaway HOME, and the agents' planners."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from megallm_cli import engine
from megallm_cli.agents import get_agent
from megallm_cli.agents.base import Context
from megallm_cli.errors import FileProblem
from megallm_cli.formats import jsonc
from megallm_cli.models import ModelCatalog, ModelInfo
from megallm_cli.request import Gateway, Secret, SetupRequest
from tests.conftest import OTHER_KEY, TEST_KEY, Home, megallm_executable

GATEWAY = "http://127.0.0.1:8787"
NOBODY = 65534
SETUP = ("setup", "--yes", "--no-verify", "--base-url", GATEWAY)

RICH_OPENCODE = """{
  // my OpenCode setup
  "$schema": "https://opencode.ai/config.json",
  "theme": "tokyonight",
  "provider": {
    /* local models */
    "ollama": {
      "npm": "@ai-sdk/openai-compatible",
      "name": "Ollama",
      "options": { "baseURL": "http://localhost:11434/v1" },
      "models": { "llama3.2": { "name": "Llama 3.2" }, },
    },
    "anthropic": { "options": { "timeout": 600000 } },
  },
  "model": "anthropic/claude-sonnet-4-5",
  "permission": { "edit": "ask", "bash": { "git push": "ask", "*": "allow" } },
  "tools": { "webfetch": false },
  "mcp": {
    "context7": { "type": "remote", "url": "https://mcp.context7.com/mcp", "enabled": true },
  },
  "agent": { "review": { "description": "Reviews code", "model": "anthropic/claude-opus-4-1" } },
}
"""
# Setup inserts provider.megallm after the last provider and changes `model`: the text up to
# there, and from `permission` on, must stay byte for byte.
RICH_HEAD = RICH_OPENCODE[: RICH_OPENCODE.index('  },\n  "model"')]
RICH_TAIL = RICH_OPENCODE[RICH_OPENCODE.index('  "permission"') :]


def kilo_text(text: str) -> str:
    return text.replace("https://opencode.ai/config.json", "https://app.kilo.ai/config.json")


def setup_env(key: str = TEST_KEY, **extra: str) -> dict[str, str]:
    return {"MEGALLM_API_KEY": key, "MEGALLM_SHELL": "bash", **extra}


def opencode_file(home: Home, name: str = "opencode.jsonc") -> Path:
    return home.home / ".config" / "opencode" / name


def kilo_file(home: Home, name: str = "kilo.jsonc") -> Path:
    return home.home / ".config" / "kilo" / name


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode("utf-8"))
    return path


def value_of(path: Path) -> dict[str, object]:
    parsed = jsonc.parse(path.read_text(encoding="utf-8"))
    assert isinstance(parsed, dict)
    return parsed


def megallm_provider(path: Path) -> dict[str, object]:
    provider = value_of(path)["provider"]
    assert isinstance(provider, dict)
    ours = provider["megallm"]
    assert isinstance(ours, dict)
    return ours


def assert_no_key(result: subprocess.CompletedProcess[str], key: str = TEST_KEY) -> None:
    assert key not in result.stdout
    assert key not in result.stderr


def context(home: Home, **env: str) -> Context:
    from megallm_cli.paths import Paths

    return Context(Paths({**home.env, **env}), home.project, Gateway.parse(GATEWAY))


def request(
    agent: str, level: str = "user", model: str | None = None, ids: tuple[str, ...] = ("gpt-5",)
) -> SetupRequest:
    return SetupRequest(
        agents=(agent,),
        level=level,
        project_dir=Path("."),
        api_key=Secret(TEST_KEY),
        gateway=Gateway.parse(GATEWAY),
        models={"*": model} if model else {},
        model_catalog=ModelCatalog([ModelInfo(i, "openai") for i in ids], "live", None, GATEWAY),
    )


# --- setup through the CLI ---


@pytest.mark.parametrize(
    ("agent", "path_of", "text"),
    [
        ("opencode", opencode_file, RICH_OPENCODE),
        ("kilo", kilo_file, kilo_text(RICH_OPENCODE)),
    ],
)
def test_rich_config_keeps_every_byte_outside_our_entries(
    home: Home, agent: str, path_of: Callable[[Home], Path], text: str
) -> None:
    config = write(path_of(home), text)
    result = home.run(*SETUP, "--agent", agent, "--model", "gpt-5", extra_env=setup_env())
    assert result.returncode == 0, result.stderr
    assert_no_key(result)
    written = config.read_text(encoding="utf-8")
    head = kilo_text(RICH_HEAD) if agent == "kilo" else RICH_HEAD
    tail = kilo_text(RICH_TAIL) if agent == "kilo" else RICH_TAIL
    assert written.startswith(head)
    assert written.endswith('  "model": "megallm/gpt-5",\n' + tail)
    ours = megallm_provider(config)
    assert ours["npm"] == "@ai-sdk/openai-compatible"
    assert ours["name"] == "MegaLLM"
    assert ours["options"] == {"baseURL": GATEWAY + "/v1", "apiKey": "{env:MEGALLM_API_KEY}"}
    listed = ours["models"]
    assert isinstance(listed, dict) and "gpt-5" in listed
    assert list(listed) == sorted(listed)
    assert listed["gpt-5"] == {"name": "gpt-5"}
    other = value_of(config)["provider"]
    assert isinstance(other, dict) and set(other) == {"ollama", "anthropic", "megallm"}
    assert stat.S_IMODE(config.stat().st_mode) == 0o644  # no secret in it
    assert "replaced (remove or restore brings it back)" in result.stderr

    restore = home.run("restore", "--latest")
    assert restore.returncode == 0, restore.stderr
    assert config.read_bytes() == text.encode("utf-8")


def test_new_files_get_the_agents_schema_and_the_key_persists(home: Home) -> None:
    before = home.snapshot()
    result = home.run(*SETUP, "--agent", "opencode", "--agent", "kilo", extra_env=setup_env())
    assert result.returncode == 0, result.stderr
    assert_no_key(result)
    opencode = value_of(opencode_file(home))
    kilo = value_of(kilo_file(home))
    assert opencode["$schema"] == "https://opencode.ai/config.json"
    assert kilo["$schema"] == "https://app.kilo.ai/config.json"
    assert list(opencode) == ["$schema", "provider"]  # no model unless one was chosen
    for path in (opencode_file(home), kilo_file(home)):
        assert TEST_KEY not in path.read_text()
    env_file = home.home / ".config" / "megallm" / "env.sh"
    assert TEST_KEY in env_file.read_text()
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    assert "models listed, from the bundled list" in result.stderr

    restore = home.run("restore", "--latest")
    assert restore.returncode == 0, restore.stderr
    assert home.snapshot() == before


def test_setup_twice_and_key_rotation_leave_the_configs_alone(home: Home) -> None:
    write(opencode_file(home), RICH_OPENCODE)
    first = home.run(*SETUP, "--agent", "opencode", "--agent", "kilo", extra_env=setup_env())
    assert first.returncode == 0, first.stderr
    after_first = home.snapshot()
    second = home.run(*SETUP, "--agent", "opencode", "--agent", "kilo", extra_env=setup_env())
    assert second.returncode == 0, second.stderr
    assert "nothing to change" in second.stderr
    assert home.snapshot() == after_first

    rotated = home.run(
        *SETUP, "--agent", "opencode", "--agent", "kilo", extra_env=setup_env(OTHER_KEY)
    )
    assert rotated.returncode == 0, rotated.stderr
    assert_no_key(rotated, OTHER_KEY)
    changed = {name for name, data in home.snapshot().items() if after_first.get(name) != data}
    assert changed == {"home/.config/megallm/env.sh"}


def test_existing_megallm_models_are_kept_and_misspelled_base_url_goes(home: Home) -> None:
    config = write(
        opencode_file(home, "opencode.json"),
        '{"provider": {"megallm": {"name": "Mega (work)", "options": {"baseUrl": "x"},\n'
        '  "models": {"my-tuned": {"name": "Mine", "limit": {"context": 1000}},\n'
        '    "gpt-5": {"name": "GPT-5 (fast)", "options": {"reasoningEffort": "low"}}}}}}\n',
    )
    result = home.run(
        *SETUP, "--agent", "opencode", "--model", "megallm/gpt-5", extra_env=setup_env()
    )
    assert result.returncode == 0, result.stderr
    ours = megallm_provider(config)
    assert ours["name"] == "Mega (work)"
    assert ours["options"] == {"baseURL": GATEWAY + "/v1", "apiKey": "{env:MEGALLM_API_KEY}"}
    listed = ours["models"]
    assert isinstance(listed, dict)
    assert listed["my-tuned"] == {"name": "Mine", "limit": {"context": 1000}}
    assert listed["gpt-5"] == {"name": "GPT-5 (fast)", "options": {"reasoningEffort": "low"}}
    assert "claude-sonnet-4-5" in listed
    assert value_of(config)["model"] == "megallm/gpt-5"
    assert "removed options.baseUrl" in result.stderr
    assert not opencode_file(home).exists()  # opencode.json existed, so no opencode.jsonc


def test_crlf_and_bom_survive(home: Home) -> None:
    original = '\ufeff{\r\n  // keep me\r\n  "theme": "dark",\r\n}\r\n'
    config = write(kilo_file(home), original)
    result = home.run(*SETUP, "--agent", "kilo", extra_env=setup_env())
    assert result.returncode == 0, result.stderr
    data = config.read_bytes()
    assert data.startswith(b'\xef\xbb\xbf{\r\n  // keep me\r\n  "theme": "dark",\r\n')
    assert b"\n" not in data.replace(b"\r\n", b"")
    assert home.run("restore", "--latest").returncode == 0
    assert config.read_bytes() == original.encode("utf-8")


@pytest.mark.parametrize(
    ("text", "position"),
    [
        ('{\n  "model": "x"\n  "provider": {}\n}\n', ":3:3"),
        ('{\n  "provider": "ollama"\n}\n', ":1:1"),
    ],
)
def test_unusable_config_is_reported_and_untouched(home: Home, text: str, position: str) -> None:
    config = write(opencode_file(home), text)
    result = home.run(*SETUP, "--agent", "opencode", extra_env=setup_env())
    assert result.returncode == 1
    assert f"{config}{position}" in result.stderr
    assert config.read_text() == text
    assert not (home.home / ".config" / "megallm" / "env.sh").exists()


def test_override_variables_and_xdg_config_home_are_honoured(home: Home) -> None:
    xdg = home.root / "xdg"
    override = write(home.root / "elsewhere" / "oc.json", '{"theme": "x"}\n')
    kilo_override = home.root / "elsewhere" / "kilo-config.jsonc"
    env = setup_env(
        XDG_CONFIG_HOME=str(xdg),
        OPENCODE_CONFIG=str(override),
        KILO_CONFIG=str(kilo_override),
    )
    result = home.run(*SETUP, "--agent", "opencode", "--agent", "kilo", extra_env=env)
    assert result.returncode == 0, result.stderr
    assert megallm_provider(override)["npm"] == "@ai-sdk/openai-compatible"
    assert value_of(override)["theme"] == "x"
    assert value_of(kilo_override)["$schema"] == "https://app.kilo.ai/config.json"
    assert not (xdg / "opencode").exists() and not (xdg / "kilo").exists()
    assert (xdg / "megallm" / "env.sh").exists()  # our own files follow XDG_CONFIG_HOME too

    without_override = home.run(
        *SETUP, "--agent", "opencode", extra_env=setup_env(XDG_CONFIG_HOME=str(xdg))
    )
    assert without_override.returncode == 0, without_override.stderr
    assert megallm_provider(xdg / "opencode" / "opencode.jsonc")
    assert not (home.home / ".config" / "opencode").exists()


@pytest.mark.parametrize(
    ("agent", "existing", "expected"),
    [
        ("opencode", (), "opencode.jsonc"),
        ("opencode", ("config.json",), "config.json"),
        ("opencode", ("config.json", "opencode.json"), "opencode.json"),
        ("opencode", ("opencode.json", "opencode.jsonc"), "opencode.jsonc"),
        ("kilo", (), "kilo.jsonc"),
        ("kilo", ("config.json",), "config.json"),
        ("kilo", ("config.json", "kilo.json"), "kilo.json"),
        ("kilo", ("kilo.json", "kilo.jsonc"), "kilo.jsonc"),
        ("kilo", ("opencode.json", "config.json"), "opencode.json"),
        # Kilo 7.7.7 loads opencode.* after kilo.*: an entry in kilo.jsonc would lose.
        ("kilo", ("kilo.jsonc", "opencode.json"), "opencode.json"),
        ("kilo", ("kilo.jsonc", "opencode.json", "opencode.jsonc"), "opencode.jsonc"),
    ],
)
def test_user_write_target_is_the_winning_existing_file(
    home: Home, agent: str, existing: tuple[str, ...], expected: str
) -> None:
    directory = home.home / ".config" / agent
    for name in existing:
        write(directory / name, '{"theme": "x"}\n')
    ctx = context(home)
    plan = get_agent(agent).plan(ctx, request(agent))
    assert [change.path for change in plan.changes] == [directory / expected]
    assert plan.env == {"MEGALLM_API_KEY": TEST_KEY}


@pytest.mark.parametrize(
    ("agent", "existing", "expected"),
    [
        ("opencode", (), "opencode.json"),
        ("opencode", ("opencode.json", "opencode.jsonc"), "opencode.jsonc"),
        ("opencode", ("opencode.json", ".opencode/opencode.json"), ".opencode/opencode.json"),
        ("kilo", (), ".kilo/kilo.jsonc"),
        ("kilo", ("kilo.jsonc",), "kilo.jsonc"),
        ("kilo", ("kilo.jsonc", ".kilo/kilo.jsonc"), ".kilo/kilo.jsonc"),
        ("kilo", (".kilo/kilo.jsonc", ".kilo/kilo.json"), ".kilo/kilo.json"),
    ],
)
def test_project_write_target(
    home: Home, agent: str, existing: tuple[str, ...], expected: str
) -> None:
    for name in existing:
        write(home.project / name, '{"theme": "x"}\n')
    plan = get_agent(agent).plan(context(home), request(agent, level="project"))
    assert [change.path for change in plan.changes] == [home.project / expected]


def test_project_level_names_the_variable_and_needs_no_gitignore(home: Home) -> None:
    subprocess.run(["git", "init", "-q", str(home.project)], check=True)
    result = home.run(
        *SETUP,
        "--agent",
        "opencode",
        "--agent",
        "kilo",
        "--level",
        "project",
        "--model",
        "gpt-5",
        extra_env=setup_env(),
    )
    assert result.returncode == 0, result.stderr
    opencode = home.project / "opencode.json"
    kilo = home.project / ".kilo" / "kilo.jsonc"
    for path in (opencode, kilo):
        ours = megallm_provider(path)
        assert ours["env"] == ["MEGALLM_API_KEY"]
        # Kilo ignores a project file with an {env:…} in it, and it reads opencode.json too.
        assert "{env:" not in path.read_text()
        assert ours["options"] == {"baseURL": GATEWAY + "/v1"}
        assert value_of(path)["model"] == "megallm/gpt-5"
        assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert "names the variable MEGALLM_API_KEY, not the key" in result.stderr
    assert not (home.project / ".gitignore").exists()
    assert not (home.project / ".kilo" / ".gitignore").exists()
    assert (home.home / ".config" / "megallm" / "env.sh").exists()
    assert not opencode_file(home).exists()


def test_project_level_replaces_an_env_reference_kilo_would_refuse(home: Home) -> None:
    shared = write(
        home.project / "opencode.json",
        '{"provider": {"megallm": {"options": {"apiKey": "{env:MEGALLM_API_KEY}"}}}}\n',
    )
    plan = get_agent("kilo").plan(context(home), request("kilo", level="project"))
    [change] = plan.changes
    assert change.path == shared  # Kilo reads the project's opencode.json after its kilo.json
    after = (change.after or b"").decode("utf-8")
    assert "{env:" not in after
    assert jsonc.get(after, ["provider", "megallm", "env"]) == ["MEGALLM_API_KEY"]
    assert any("removed options.apiKey" in note for note in plan.notes)


def test_a_project_opencode_json_is_shared_by_both_agents(home: Home) -> None:
    shared = write(home.project / "opencode.json", '{\n  // team config\n  "theme": "x"\n}\n')
    result = home.run(
        *SETUP,
        "--agent",
        "opencode",
        "--agent",
        "kilo",
        "--level",
        "project",
        extra_env=setup_env(),
    )
    assert result.returncode == 0, result.stderr
    assert megallm_provider(shared)["env"] == ["MEGALLM_API_KEY"]
    assert shared.read_text().startswith('{\n  // team config\n  "theme": "x",\n')
    assert not (home.project / ".kilo").exists()  # Kilo reads opencode.json after kilo.json(c)


# --- remove ---


def test_remove_takes_out_only_ours_and_deletes_files_we_created(home: Home) -> None:
    config = write(opencode_file(home), RICH_OPENCODE)
    setup = home.run(
        *SETUP,
        "--agent",
        "opencode",
        "--agent",
        "kilo",
        "--model",
        "gpt-5",
        extra_env=setup_env(),
    )
    assert setup.returncode == 0, setup.stderr
    # Kilo's first start adds a permission block to the file we created: that one stays.
    kilo = kilo_file(home)
    kilo.write_text(
        kilo.read_text().replace('"provider"', '"permission": {"bash": "allow"},\n  "provider"', 1)
    )
    removed = home.run(
        "remove",
        "--agent",
        "opencode",
        "--agent",
        "kilo",
        "--yes",
        extra_env={"MEGALLM_SHELL": "bash"},
    )
    assert removed.returncode == 0, removed.stderr
    assert config.read_text() == RICH_OPENCODE  # the model setup replaced is back
    assert "default model back to anthropic/claude-sonnet-4-5" in removed.stderr
    assert value_of(kilo) == {
        "$schema": "https://app.kilo.ai/config.json",
        "permission": {"bash": "allow"},
    }
    assert not (home.home / ".config" / "megallm" / "env.sh").exists()  # no agent needs it


def test_remove_deletes_a_file_with_only_our_schema_left(home: Home) -> None:
    assert home.run(*SETUP, "--agent", "opencode", extra_env=setup_env()).returncode == 0
    removed = home.run(
        "remove", "--agent", "opencode", "--yes", extra_env={"MEGALLM_SHELL": "bash"}
    )
    assert removed.returncode == 0, removed.stderr
    assert not opencode_file(home).exists()


def test_remove_keeps_a_foreign_default_model_and_a_commented_file(home: Home) -> None:
    text = '{\n  // mine\n  "model": "anthropic/claude-opus-4-1"\n}\n'
    config = write(opencode_file(home), text)
    assert home.run(*SETUP, "--agent", "opencode", extra_env=setup_env()).returncode == 0
    plan = get_agent("opencode").unconfigure(context(home), "user")
    assert len(plan.changes) == 1
    assert plan.changes[0].after == text.encode("utf-8")
    assert config.read_text() != text


def config_of(home: Home, agent: str) -> Path:
    return opencode_file(home) if agent == "opencode" else kilo_file(home)


def apply_setup(home: Home, agent: str, model: str | None = "gpt-5") -> None:
    plan = get_agent(agent).plan(context(home), request(agent, model=model, ids=("gpt-5", "o3")))
    engine.apply(home.paths, "setup", lambda: plan.changes)


def apply_remove(home: Home, agent: str) -> list[str]:
    plan = get_agent(agent).unconfigure(context(home), "user")
    engine.apply(home.paths, "remove", lambda: plan.changes)
    return plan.notes


@pytest.mark.parametrize("agent", ["opencode", "kilo"])
@pytest.mark.parametrize(
    "content",
    [b"", b"  \n\t\n", b"\xef\xbb\xbf\r\n", b'{"provider": {}}'],
    ids=["empty", "whitespace", "bom-crlf", "empty-provider"],
)
def test_remove_gives_back_the_users_bytes(home: Home, agent: str, content: bytes) -> None:
    config = config_of(home, agent)
    config.parent.mkdir(parents=True)
    config.write_bytes(content)
    apply_setup(home, agent)
    assert value_of(config)["model"] == "megallm/gpt-5"
    apply_remove(home, agent)
    assert config.read_bytes() == content


def test_remove_puts_back_the_model_after_a_rerun_chose_another(home: Home) -> None:
    config = write(opencode_file(home), RICH_OPENCODE)
    apply_setup(home, "opencode", model="gpt-5")
    apply_setup(home, "opencode", model="o3")  # its backup holds megallm's own state
    notes = apply_remove(home, "opencode")
    assert config.read_text() == RICH_OPENCODE
    assert any("default model back to anthropic/claude-sonnet-4-5" in note for note in notes)


def test_remove_keeps_a_comment_the_user_added_to_a_blank_file(home: Home) -> None:
    config = kilo_file(home)
    config.parent.mkdir(parents=True)
    config.write_bytes(b"")
    apply_setup(home, "kilo")
    config.write_text("// my notes\n" + config.read_text())
    apply_remove(home, "kilo")
    assert "// my notes" in config.read_text()
    assert value_of(config) == {}


def test_remove_without_a_backup_takes_out_our_model(home: Home) -> None:
    config = write(opencode_file(home), '{"theme": "tokyonight", "model": "anthropic/x"}\n')
    apply_setup(home, "opencode")
    for manifest in home.paths.backups_dir.glob("*/manifest.json"):
        manifest.unlink()
    notes = apply_remove(home, "opencode")
    assert value_of(config) == {"theme": "tokyonight"}
    assert not any("back to" in note for note in notes)


def test_remove_deletes_the_file_setup_created_behind_a_dangling_link(home: Home) -> None:
    stored = home.home / "dotfiles" / "opencode.jsonc"
    stored.parent.mkdir()
    opencode_file(home).parent.mkdir(parents=True)
    opencode_file(home).symlink_to(stored)
    apply_setup(home, "opencode")
    assert megallm_provider(stored)["name"] == "MegaLLM"
    apply_remove(home, "opencode")
    assert not stored.exists()
    assert opencode_file(home).is_symlink()  # the link is the user's: it stays


# --- a config dir we may not look into ---


@pytest.fixture
def unsearchable(monkeypatch: pytest.MonkeyPatch) -> Callable[[Path], None]:
    """Make is_file() raise in one directory, as Python 3.11 does where we may not search
    (root may search anywhere, so it is simulated here; the test below runs it for real)."""
    real_is_file = Path.is_file

    def make(directory: Path) -> None:
        def is_file(path: Path) -> bool:
            if path.parent == directory:
                raise PermissionError(13, "Permission denied", str(path))
            return real_is_file(path)

        monkeypatch.setattr(Path, "is_file", is_file)

    return make


@pytest.mark.parametrize("agent", ["opencode", "kilo"])
def test_setup_and_remove_name_a_config_dir_they_cannot_search(
    home: Home, unsearchable: Callable[[Path], None], agent: str
) -> None:
    directory = config_of(home, agent).parent
    unsearchable(directory)
    for attempt in (
        lambda: get_agent(agent).plan(context(home), request(agent)),
        lambda: get_agent(agent).unconfigure(context(home), "user"),
    ):
        with pytest.raises(FileProblem) as problem:
            attempt()
        assert problem.value.message.startswith(f"{directory}/")
        assert "permission denied" in problem.value.message
        assert f"ls -ld '{directory}'" in (problem.value.hint or "")


def test_doctor_reports_a_config_dir_it_cannot_search(
    home: Home, unsearchable: Callable[[Path], None]
) -> None:
    directory = opencode_file(home).parent
    unsearchable(directory)
    findings = get_agent("opencode").check(context(home))
    unreadable = [f for f in findings if f.title.endswith("cannot be read")]
    assert [f.title for f in unreadable] == [
        f"{directory / name} cannot be read"
        for name in ("config.json", "opencode.json", "opencode.jsonc")
    ]
    assert f"no provider.megallm in {directory} or the project" in [f.detail for f in findings]


@pytest.fixture
def nobodys_home() -> Iterator[Path]:
    """A home owned by `nobody`, outside pytest's root-only temp dir."""
    root = Path(tempfile.mkdtemp(prefix="megallm-nobody-"))
    try:
        os.chmod(root, 0o755)
        for name in ("home/.config/opencode", "project"):
            (root / name).mkdir(parents=True)
        write(root / "home/.config/opencode/opencode.jsonc", "{}\n")
        for path in [root, *root.rglob("*")]:
            os.lchown(path, NOBODY, NOBODY)
        yield root
    finally:
        shutil.rmtree(root)


@pytest.mark.skipif(
    os.name != "posix" or os.geteuid() != 0 or not shutil.which("setpriv"),
    reason="needs root to run megallm as nobody",
)
@pytest.mark.parametrize("locked", ["home/.config/opencode", "home"])
def test_an_unsearchable_directory_is_a_clear_error_for_a_real_user(
    nobodys_home: Path, locked: str
) -> None:
    directory = nobodys_home / locked
    os.chown(directory, 0, 0)
    os.chmod(directory, 0o700)
    as_nobody = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "--"]
    result = subprocess.run(
        [*as_nobody, megallm_executable(), *SETUP, "--agent", "opencode"],
        env={"HOME": str(nobodys_home / "home"), "PATH": "/usr/bin:/bin", **setup_env()},
        cwd=nobodys_home / "project",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "unexpected" not in result.stderr
    assert f"error: {directory}/" in result.stderr
    assert "permission denied" in result.stderr


# --- status and doctor ---


def test_status_reports_both_levels_without_a_key(home: Home) -> None:
    ctx = context(home)
    agent = get_agent("opencode")
    assert agent.configured(ctx) == []
    for level in ("user", "project"):
        plan = agent.plan(ctx, request("opencode", level=level, model="gpt-5"))
        for change in plan.changes:
            write(change.path, (change.after or b"").decode("utf-8"))
    found = {entry.level: entry for entry in agent.configured(ctx)}
    assert set(found) == {"user", "project"}
    assert found["user"].base_url == GATEWAY + "/v1"
    assert found["user"].key is None and found["project"].key is None
    assert found["project"].files == (home.project / "opencode.json",)
    assert found["project"].model == "megallm/gpt-5"


def doctor(home: Home, *agents: str, **env: str) -> dict[str, dict[str, object]]:
    args = [arg for agent in agents for arg in ("--agent", agent)]
    result = home.run("doctor", "--json", "--base-url", GATEWAY, *args, extra_env=env)
    assert_no_key(result)
    findings = json.loads(result.stdout)["data"]
    return {f"{f['agent']}: {f['title']}": f for f in findings}


def test_doctor_is_clean_after_setup(home: Home) -> None:
    result = home.run(
        *SETUP, "--agent", "opencode", "--agent", "kilo", "--model", "gpt-5", extra_env=setup_env()
    )
    assert result.returncode == 0, result.stderr
    findings = doctor(home, "opencode", "kilo", MEGALLM_API_KEY=TEST_KEY, MEGALLM_SHELL="bash")
    failed = [title for title, f in findings.items() if f["status"] == "fail"]
    assert failed == []
    assert "opencode: model = megallm/gpt-5" in findings
    assert "kilo: apiKey = {env:MEGALLM_API_KEY}" in findings


def test_doctor_finds_typos_bad_references_and_overrides(home: Home) -> None:
    write(
        opencode_file(home),
        '{"provider": {"megallm": {"npm": "@ai-sdk/openai-compatible",\n'
        '  "options": {"baseUrl": "' + GATEWAY + '/v1", "apiKey": "{env:MY_MEGA_KEY}"},\n'
        '  "models": {"gpt-5": {}}}},\n'
        ' "model": "megallm/gpt-4.1"}\n',
    )
    findings = doctor(home, "opencode")
    assert findings["opencode: misspelled key provider.megallm.options.baseUrl"]["status"] == "fail"
    assert findings["opencode: provider.megallm.options.baseURL is not set"]["status"] == "fail"
    missing_var = "opencode: apiKey = {env:MY_MEGA_KEY}: $MY_MEGA_KEY is not set"
    assert findings[missing_var]["status"] == "fail"
    assert (
        findings["opencode: model megallm/gpt-4.1 is not in provider.megallm.models"]["status"]
        == "fail"
    )

    # A project file is read after the user's: its model and baseURL win.
    write(
        home.project / "opencode.jsonc",
        '{"model": "anthropic/claude-opus-4-1", "provider": {"megallm": {"options":'
        ' {"baseURL": "https://other.example/v1"}}}}',
    )
    assert home.run(*SETUP, "--agent", "opencode", extra_env=setup_env()).returncode == 0
    findings = doctor(home, "opencode")
    project = home.project / "opencode.jsonc"
    assert findings[f"opencode: {project} overrides model"]["status"] == "fail"
    assert findings[f"opencode: {project} overrides the gateway URL"]["status"] == "fail"


def test_setup_warns_about_a_file_that_beats_ours(home: Home) -> None:
    write(home.home / ".opencode" / "opencode.json", '{"model": "anthropic/claude-opus-4-1"}')
    result = home.run(*SETUP, "--agent", "opencode", "--model", "gpt-5", extra_env=setup_env())
    assert result.returncode == 0, result.stderr
    assert f"{home.home / '.opencode' / 'opencode.json'} sets model = anthropic" in result.stderr


def test_doctor_flags_kilo_project_env_reference(home: Home) -> None:
    assert home.run(*SETUP, "--agent", "kilo", extra_env=setup_env()).returncode == 0
    project = write(
        home.project / "opencode.json",
        '{"provider": {"megallm": {"options": {"apiKey": "{env:MEGALLM_API_KEY}"}}}}',
    )
    findings = doctor(home, "kilo", "opencode")
    assert findings[f"kilo: Kilo Code ignores {project}"]["status"] == "fail"
    assert f"opencode: OpenCode ignores {project}" not in findings  # OpenCode accepts it


def test_doctor_reports_broken_jsonc_with_position(home: Home) -> None:
    config = write(kilo_file(home), '{\n  "provider": {\n}\n')
    findings = doctor(home, "kilo")
    broken = findings[f"kilo: {config} is not valid JSONC"]
    assert broken["status"] == "fail"
    assert f"{config}:4:1" in str(broken["detail"])


# --- detect ---


def test_detect_reads_the_npm_version_without_running_the_binary(home: Home) -> None:
    marker = home.root / "ran"
    package = home.root / "npm" / "lib" / "node_modules" / "opencode-ai"
    binary = write(package / "bin" / "opencode.exe", f"#!/bin/sh\ntouch {marker}\n")
    binary.chmod(0o755)
    write(package / "package.json", '{"name": "opencode-ai", "version": "1.18.33"}')
    bin_dir = home.root / "npm" / "bin"
    bin_dir.mkdir()
    (bin_dir / "opencode").symlink_to(binary)
    ctx = context(home, PATH=f"{bin_dir}{os.pathsep}/usr/bin:/bin")
    detection = get_agent("opencode").detect(ctx)
    assert detection.installed and detection.version == "1.18.33"
    assert detection.location == str(bin_dir / "opencode")
    assert not get_agent("kilo").detect(ctx).installed
    assert not marker.exists()
