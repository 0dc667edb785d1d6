"""What the commands do, as plain functions of plain values: the CLI and the wizard call these."""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from megallm_cli.agents import AGENT_IDS, get_agent
from megallm_cli.agents.base import AgentPlan, Configured, Context, Detection
from megallm_cli.changes import FileChange, UserVariableChange
from megallm_cli.errors import ConfigParseError, MegallmError
from megallm_cli.request import Gateway, SetupRequest

if TYPE_CHECKING:  # loaded by the commands that write or restore: status and doctor do neither
    from megallm_cli import backups, engine

PREVIEW_ATTEMPTS = 4
# A file modified this recently may have been read halfway through an agent's in-place rewrite.
RECENT_WRITE = 2.0


@dataclass
class Plan:
    """Changes for several agents, with what the user should know about them."""

    agent_plans: list[AgentPlan]
    notes: list[str] = field(default_factory=list)

    @property
    def changes(self) -> list[FileChange]:
        """Every change once; two different edits of one file would silently lose one."""
        merged: dict[str, FileChange] = {}
        for agent_plan in self.agent_plans:
            for change in agent_plan.changes:
                key = os.path.realpath(change.path)
                earlier = merged.get(key)
                if earlier is not None and earlier.after != change.after:
                    raise MegallmError(
                        f"{change.path} would be edited twice ({earlier.agent}, {change.agent})",
                        hint="configure these agents in two runs, and report this as a bug",
                    )
                merged[key] = change
        return list(merged.values())

    @property
    def pending(self) -> list[FileChange]:
        from megallm_cli.engine import needs_write

        return [change for change in self.changes if needs_write(change)]

    @property
    def user_variables(self) -> list[UserVariableChange]:
        return [change for p in self.agent_plans for change in p.user_variables]

    @property
    def is_noop(self) -> bool:
        return not self.pending and not self.user_variables

    @property
    def secrets(self) -> list[str]:
        return [secret for p in self.agent_plans for secret in p.secrets]

    def all_notes(self) -> list[str]:
        return [*self.notes, *(note for p in self.agent_plans for note in p.notes)]


def setup_command(request: SetupRequest) -> str:
    """How a setup is recorded in its backup session: the agents, and a gateway other than
    the default, which later commands then take as the user's (backups.remembered_gateway)."""
    from megallm_cli.backups import GATEWAY_FLAG

    command = "setup " + " ".join(request.agents)
    if request.gateway.origin != Gateway().origin:
        command += f" {GATEWAY_FLAG} {request.gateway.origin}"
    return command


def preview(build: Callable[[], Plan]) -> Plan:
    """The plan shown before asking. A parse error in a file written in the last moments is
    tried again (Claude Code rewrites ~/.claude.json in place while it runs); a file that is
    simply malformed fails at once."""
    attempt = 1
    while True:
        try:
            return build()
        except ConfigParseError as error:
            if attempt >= PREVIEW_ATTEMPTS or not _written_just_now(error.path):
                raise
        time.sleep(0.05 * attempt)
        attempt += 1


def _written_just_now(path: Path) -> bool:
    try:
        return time.time() - path.stat().st_mtime < RECENT_WRITE
    except OSError:
        return False


def detect_all(ctx: Context, agent_ids: Sequence[str] = AGENT_IDS) -> list[Detection]:
    return [get_agent(agent_id).detect(ctx) for agent_id in agent_ids]


def plan_setup(ctx: Context, request: SetupRequest) -> Plan:
    plans = []
    notes = []
    for agent_id in request.agents:
        agent = get_agent(agent_id)
        if request.level not in agent.levels:
            notes.append(f"{agent.display_name} supports only {', '.join(agent.levels)} level")
        try:
            plans.append(agent.plan(ctx, request))
        except MegallmError as error:
            _offer_the_others(error, agent_id, request)
            raise
    env: dict[str, str] = {}
    for agent_plan in plans:
        env.update(agent_plan.env)
    if env:
        plans.append(plan_shell_env(ctx, env, request.level))
    plan = Plan(plans, notes)
    plan.notes += _keep_the_key_out_of_git(ctx, request.level, plan.changes)
    return plan


def _keep_the_key_out_of_git(ctx: Context, level: str, changes: list[FileChange]) -> list[str]:
    """Refuse to put the key into a file git tracks; warn about one it would pick up.

    The agents guard their project files themselves (git-ignore entries); this catches user
    files that live in a repository: a home under git, or a link into a dotfiles repository.
    """
    from megallm_cli.gitignore import exposure

    warnings = []
    for change in changes:
        if not change.secret or change.after is None:
            continue
        if level == "project" and change.path.is_relative_to(ctx.project_dir):
            continue
        found = exposure(change.path)
        if found is None:
            continue
        shown = change.path if found.path == change.path else f"{change.path} (→ {found.path})"
        if found.tracked:
            raise MegallmError(
                f"{shown} is tracked by git in {found.repository}, so the key would be "
                "committed with it; nothing was changed",
                hint=f"stop tracking it (`git -C {found.repository} rm --cached {found.path}`) "
                "and git-ignore it, then run again",
            )
        warnings.append(
            f"{shown} will hold the key and is in the git work tree {found.repository}, "
            "not git-ignored: add it to .gitignore there so it is never committed"
        )
    return warnings


def _offer_the_others(error: MegallmError, failed: str, request: SetupRequest) -> None:
    """One agent's unreadable file stops the whole run (nothing is changed); say how to set up
    the other agents meanwhile, with the same level and gateway."""
    others = [agent_id for agent_id in request.agents if agent_id != failed]
    if not others:
        return
    flags = [f"--agent {agent_id}" for agent_id in others]
    if request.level != "user":
        flags.append(f"--level {request.level} --project-dir {request.project_dir}")
    if request.gateway.origin != Gateway().origin:
        flags.append(f"--base-url {request.gateway.origin}")
    command = "megallm setup " + " ".join(flags)
    skip = f"to set up the others without {get_agent(failed).display_name}: {command}"
    error.hint = f"{error.hint}; {skip}" if error.hint else skip


def plan_shell_env(ctx: Context, env: dict[str, str], level: str) -> AgentPlan:
    """Agents that read the key from their environment need it in every new shell."""
    from megallm_cli import shellenv
    from megallm_cli.system import current_shell

    families = shellenv.detected_shell_families(ctx.paths, current_shell(ctx.paths)) or ["sh"]
    shell_plan = shellenv.plan_shell_env(ctx.paths, env, families, ctx.user_env)
    notes = []
    if level == "project":
        notes.append(
            f"{', '.join(env)} goes into your user environment ({ctx.paths.config_dir}): "
            "project files never hold the key"
        )
    return AgentPlan(
        shellenv.AGENT,
        list(shell_plan.file_changes),
        notes,
        user_variables=list(shell_plan.user_variables),
    )


def activation_hint(ctx: Context) -> str | None:
    """What to run in this terminal so the new variables apply without opening another."""
    from megallm_cli import shellenv
    from megallm_cli.system import current_shell

    shell = current_shell(ctx.paths)
    return shellenv.activation_hint(ctx.paths, shell) if shell else None


def apply_plan(
    ctx: Context,
    command: str,
    build: Callable[[], Plan],
    on_write: Callable[[FileChange], None] | None = None,
    on_wait: engine.LockWaitNotice | None = None,
) -> tuple[Plan, engine.ApplyResult]:
    """Recompute the plan under the lock (files may have changed since the preview) and apply it."""
    from megallm_cli import engine

    latest: list[Plan] = []

    def build_changes() -> list[FileChange | UserVariableChange]:
        latest.append(build())
        return [*latest[-1].changes, *latest[-1].user_variables]

    result = engine.apply(
        ctx.paths,
        command,
        build_changes,
        on_write=on_write,
        user_env=ctx.user_env,
        on_wait=on_wait,
    )
    return latest[-1], result


def plan_remove(ctx: Context, agent_ids: Sequence[str], level: str) -> Plan:
    """Unconfigure the agents; the shell env goes too once no remaining agent reads it."""
    plans = [get_agent(agent_id).unconfigure(ctx, level) for agent_id in agent_ids]
    staying = {
        agent_id: [
            c for c in get_agent(agent_id).configured(ctx) if ctx.gateway.matches(c.base_url)
        ]
        for agent_id in AGENT_IDS
        if agent_id not in agent_ids
    }
    _keep_shared_files(plans, staying)
    still_using_env = [
        agent_id
        for agent_id, found in staying.items()
        if found and get_agent(agent_id).needs_shell_env
    ]
    if not still_using_env:
        from megallm_cli import shellenv

        removal = shellenv.plan_shell_env_removal(ctx.paths, ctx.user_env)
        plans.append(
            AgentPlan(
                shellenv.AGENT,
                list(removal.file_changes),
                user_variables=list(removal.user_variables),
            )
        )
    for agent_plan in plans:
        agent_plan.changes = [_with_dirs_it_made(ctx, change) for change in agent_plan.changes]
    return Plan(plans)


def _keep_shared_files(plans: list[AgentPlan], staying: dict[str, list[Configured]]) -> None:
    """OpenCode and Kilo can read one file (a project's opencode.json): removing one of them
    must not take megallm's provider from the other, and removing both edits the file once."""
    kept_by = {
        os.path.realpath(path): agent_id
        for agent_id, found in staying.items()
        for configured in found
        for path in configured.files
    }
    planned: set[str] = set()
    for agent_plan in plans:
        unique = []
        for change in agent_plan.changes:
            key = os.path.realpath(change.path)
            if key in kept_by:
                agent_plan.notes.append(
                    f"kept {change.path}: {get_agent(kept_by[key]).display_name} reads "
                    "megallm's settings there too"
                )
            elif key not in planned:
                planned.add(key)
                unique.append(change)
        agent_plan.changes = unique


def _with_dirs_it_made(ctx: Context, change: FileChange) -> FileChange:
    """A file megallm created goes with the directories megallm made for it, if left empty."""
    if change.after is not None or change.prune_dirs:
        return change
    from megallm_cli import backups

    made = backups.dirs_created_for(ctx.paths.backups_dir, change.path)
    return dataclasses.replace(change, prune_dirs=made) if made else change


@dataclass(frozen=True)
class AgentStatus:
    detection: Detection
    configured: list[Configured]


def status(ctx: Context, agent_ids: Sequence[str] = AGENT_IDS) -> list[AgentStatus]:
    rows = []
    for agent_id in agent_ids:
        agent = get_agent(agent_id)
        rows.append(AgentStatus(agent.detect(ctx), agent.configured(ctx)))
    return rows


def restore_as_plan(restore_plan: backups.RestorePlan) -> Plan:
    return Plan(
        [
            AgentPlan(
                "restore",
                changes=list(restore_plan.changes),
                user_variables=list(restore_plan.user_variables),
            )
        ]
    )


def restore_to_apply(ctx: Context, session_id: str, force: bool) -> Plan:
    """The restore plan made again under the lock. A file that changed since the preview (the
    user edited it while the prompt waited) must stop the restore, not be skipped quietly."""
    restore_plan = plan_restore(ctx, session_id, force)
    if restore_plan.drifts and not force:
        changed = ", ".join(drift.path for drift in restore_plan.drifts)
        raise MegallmError(
            f"changed while restore was waiting: {changed}; nothing restored",
            hint="run `megallm restore` again to see what changed",
        )
    return restore_as_plan(restore_plan)


def plan_restore(ctx: Context, session_id: str | None, force: bool) -> backups.RestorePlan:
    from megallm_cli import backups

    session = backups.find_session(ctx.paths.backups_dir, session_id)
    return backups.plan_restore(session, force=force, user_env=ctx.user_env)
