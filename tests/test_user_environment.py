"""Windows' user environment (HKCU\\Environment) through setup, remove and restore.

The registry is replaced by shellenv.FakeUserEnvironment through Context.user_env, the one seam
the commands use; the files live under a simulated Windows profile in tmp_path. The real
registry code (WindowsRegistryEnvironment) cannot run on this Linux machine.
"""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from megallm_cli import backups, operations
from megallm_cli.agents.base import Context
from megallm_cli.errors import ApplyFailed, MegallmError
from megallm_cli.paths import Paths
from megallm_cli.request import Secret, SetupRequest
from megallm_cli.shellenv import FakeUserEnvironment

KEY = "sk-mega-" + "u" * 40
NEW_KEY = "sk-mega-" + "n" * 40


def windows_context(home: Path, user_env: FakeUserEnvironment | None) -> Context:
    home.mkdir(exist_ok=True)
    paths = Paths(
        {
            "USERPROFILE": str(home),
            "APPDATA": str(home / "AppData" / "Roaming"),
            "LOCALAPPDATA": str(home / "AppData" / "Local"),
        },
        "win32",
    )
    return Context(paths=paths, project_dir=home, user_env=user_env)


def setup(ctx: Context, key: str = KEY) -> str | None:
    request = SetupRequest(
        agents=("codex",), level="user", project_dir=ctx.project_dir, api_key=Secret(key)
    )
    _, result = operations.apply_plan(
        ctx, "setup codex", lambda: operations.plan_setup(ctx, request)
    )
    return result.session_id


def remove(ctx: Context) -> str | None:
    _, result = operations.apply_plan(
        ctx, "remove codex", lambda: operations.plan_remove(ctx, ["codex"], "user")
    )
    return result.session_id


def restore(ctx: Context, session_id: str, force: bool = False) -> None:
    operations.apply_plan(
        ctx,
        f"restore {session_id}",
        lambda: operations.restore_to_apply(ctx, session_id, force),
    )


def user_files(ctx: Context) -> dict[str, bytes]:
    """Every file under the profile but megallm's own state (backups, lock)."""
    root, state = ctx.paths.home, ctx.paths.state_dir
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.is_relative_to(state)
    }


def test_setup_sets_the_key_in_the_user_environment_and_says_so(tmp_path: Path) -> None:
    user_env = FakeUserEnvironment({"PATH": "C:\\bin"})
    ctx = windows_context(tmp_path / "home", user_env)
    request = SetupRequest(
        agents=("codex",), level="user", project_dir=ctx.project_dir, api_key=Secret(KEY)
    )

    preview = operations.plan_setup(ctx, request)

    assert [(v.name, v.before, v.after) for v in preview.user_variables] == [
        ("MEGALLM_API_KEY", None, KEY)
    ]
    assert user_env.values == {"PATH": "C:\\bin"}  # planning changes nothing
    assert KEY not in preview.user_variables[0].summary

    setup(ctx)

    assert user_env.values == {"PATH": "C:\\bin", "MEGALLM_API_KEY": KEY}
    assert user_env.broadcasts == 1  # WM_SETTINGCHANGE, so new windows see it
    # The PowerShell profile block and env.ps1 are written too: the registry is an addition.
    assert (ctx.paths.config_dir / "env.ps1").exists()


def test_setup_twice_changes_nothing_and_records_no_session(tmp_path: Path) -> None:
    user_env = FakeUserEnvironment()
    ctx = windows_context(tmp_path / "home", user_env)
    setup(ctx)
    request = SetupRequest(
        agents=("codex",), level="user", project_dir=ctx.project_dir, api_key=Secret(KEY)
    )

    assert operations.plan_setup(ctx, request).is_noop
    assert setup(ctx) is None
    assert user_env.broadcasts == 1


def test_the_backup_keeps_the_old_value_in_a_0600_file_never_in_the_manifest(
    tmp_path: Path,
) -> None:
    user_env = FakeUserEnvironment({"MEGALLM_API_KEY": KEY})
    ctx = windows_context(tmp_path / "home", user_env)

    session_id = setup(ctx, NEW_KEY)  # a key rotation: the old key is the value before

    assert session_id is not None
    session = backups.find_session(ctx.paths.backups_dir, session_id)
    manifest = session.manifest_path.read_text()
    assert KEY not in manifest and NEW_KEY not in manifest
    assert json.loads(manifest)["variables"][0]["name"] == "MEGALLM_API_KEY"
    [entry] = session.variables
    assert session.value_before(entry) == KEY
    assert entry.preimage is not None
    assert stat.S_IMODE((session.directory / entry.preimage).stat().st_mode) == 0o600
    assert user_env.get("MEGALLM_API_KEY") == NEW_KEY


def test_restore_puts_back_the_previous_value_and_every_file(tmp_path: Path) -> None:
    user_env = FakeUserEnvironment({"MEGALLM_API_KEY": "sk-mega-" + "o" * 40, "TEMP": "x"})
    ctx = windows_context(tmp_path / "home", user_env)
    before_files = user_files(ctx)
    before_values = dict(user_env.values)

    session_id = setup(ctx, NEW_KEY)
    assert session_id is not None
    restore(ctx, session_id)

    assert user_env.values == before_values
    assert user_files(ctx) == before_files


def test_restore_deletes_a_variable_that_did_not_exist(tmp_path: Path) -> None:
    user_env = FakeUserEnvironment()
    ctx = windows_context(tmp_path / "home", user_env)
    session_id = setup(ctx)
    assert session_id is not None

    restore(ctx, session_id)

    assert user_env.values == {}
    assert user_env.broadcasts == 2


def test_restore_refuses_a_variable_the_user_changed_since_unless_forced(tmp_path: Path) -> None:
    user_env = FakeUserEnvironment()
    ctx = windows_context(tmp_path / "home", user_env)
    session_id = setup(ctx)
    assert session_id is not None
    user_env.set("MEGALLM_API_KEY", "set-by-hand")

    plan = operations.plan_restore(ctx, session_id, force=False)

    assert [(d.path, d.reason) for d in plan.drifts] == [
        ("HKCU\\Environment\\MEGALLM_API_KEY", "changed since this run set it")
    ]
    assert plan.user_variables == []
    forced = operations.plan_restore(ctx, session_id, force=True)
    assert [(v.before, v.after) for v in forced.user_variables] == [("set-by-hand", None)]
    restore(ctx, session_id, force=True)
    assert user_env.values == {}


def test_restore_of_a_session_with_variables_needs_the_user_environment(tmp_path: Path) -> None:
    ctx = windows_context(tmp_path / "home", FakeUserEnvironment())
    session_id = setup(ctx)
    assert session_id is not None
    elsewhere = windows_context(tmp_path / "home", None)

    with pytest.raises(MegallmError, match=r"HKCU\\Environment\\MEGALLM_API_KEY"):
        operations.plan_restore(elsewhere, session_id, force=False)


def test_remove_deletes_our_value_and_keeps_one_the_user_set(tmp_path: Path) -> None:
    user_env = FakeUserEnvironment()
    ctx = windows_context(tmp_path / "home", user_env)
    setup(ctx)

    remove(ctx)

    assert user_env.get("MEGALLM_API_KEY") is None

    setup(ctx)
    user_env.set("MEGALLM_API_KEY", "the user's own")
    remove(ctx)
    assert user_env.get("MEGALLM_API_KEY") == "the user's own"


def test_restore_undoes_a_remove(tmp_path: Path) -> None:
    user_env = FakeUserEnvironment()
    ctx = windows_context(tmp_path / "home", user_env)
    setup(ctx)
    session_id = remove(ctx)
    assert session_id is not None

    restore(ctx, session_id)

    assert user_env.get("MEGALLM_API_KEY") == KEY


class FailingUserEnvironment(FakeUserEnvironment):
    def set(self, name: str, value: str) -> None:
        raise PermissionError(5, "Access is denied", f"HKCU\\Environment\\{name}")


def test_a_registry_failure_rolls_the_files_back(tmp_path: Path) -> None:
    user_env = FailingUserEnvironment()
    ctx = windows_context(tmp_path / "home", user_env)
    before = user_files(ctx)

    with pytest.raises(ApplyFailed, match="rolled back"):
        setup(ctx)

    assert user_files(ctx) == before
    [session] = backups.list_sessions(ctx.paths.backups_dir)
    assert session.status == backups.ROLLED_BACK


def test_doctor_checks_the_user_environment_against_the_persisted_key(tmp_path: Path) -> None:
    from megallm_cli import doctor

    user_env = FakeUserEnvironment()
    ctx = windows_context(tmp_path / "home", user_env)
    setup(ctx)

    def registry_finding() -> tuple[str, str]:
        [finding] = [f for f in doctor.shell_findings(ctx) if "user environment" in f.title]
        return finding.status, finding.title

    assert registry_finding() == ("ok", "MEGALLM_API_KEY is in your Windows user environment")
    user_env.set("MEGALLM_API_KEY", NEW_KEY)
    status, title = registry_finding()
    assert status == "fail" and NEW_KEY not in title and NEW_KEY[-4:] in title
    user_env.delete("MEGALLM_API_KEY")
    assert registry_finding() == ("fail", "MEGALLM_API_KEY is not in your Windows user environment")
    places = [f.title for f in doctor.key_place_findings(ctx, ["codex"])]
    assert not any("HKCU" in title for title in places)


class InterruptedBroadcast(FakeUserEnvironment):
    def broadcast_change(self) -> None:
        super().broadcast_change()
        if self.broadcasts == 1:
            raise KeyboardInterrupt


def test_an_interrupted_broadcast_leaves_nothing_changed(tmp_path: Path) -> None:
    user_env = InterruptedBroadcast({"PATH": "C:\\bin"})
    ctx = windows_context(tmp_path / "home", user_env)
    before = user_files(ctx)

    with pytest.raises(KeyboardInterrupt):
        setup(ctx)

    assert user_env.values == {"PATH": "C:\\bin"}
    assert user_files(ctx) == before


def test_remove_puts_back_the_value_the_user_had_before_megallm(tmp_path: Path) -> None:
    user_env = FakeUserEnvironment({"MEGALLM_API_KEY": "the user's own"})
    ctx = windows_context(tmp_path / "home", user_env)
    setup(ctx)
    setup(ctx, NEW_KEY)  # a key rotation: the value before it is megallm's, not the user's

    remove(ctx)
    assert user_env.get("MEGALLM_API_KEY") == "the user's own"

    setup(ctx)  # and again after a remove, which set the user's value back
    remove(ctx)
    assert user_env.get("MEGALLM_API_KEY") == "the user's own"
