"""What the commands do, as plain functions of plain values: the CLI and the wizard call these."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from megallm_cli import backups, engine
from megallm_cli.agents import AGENT_IDS, get_agent
from megallm_cli.agents.base import AgentPlan, Configured, Context, Detection, Finding
from megallm_cli.changes import FileChange
from megallm_cli.request import SetupRequest


@dataclass
class Plan:
    """Changes for several agents, with what the user should know about them."""

    agent_plans: list[AgentPlan]
    notes: list[str] = field(default_factory=list)

    @property
    def changes(self) -> list[FileChange]:
        merged: dict[str, FileChange] = {}
        for agent_plan in self.agent_plans:
            for change in agent_plan.changes:
                merged[str(change.path)] = change
        return list(merged.values())

    @property
    def pending(self) -> list[FileChange]:
        return [change for change in self.changes if engine.needs_write(change)]

    def all_notes(self) -> list[str]:
        return [*self.notes, *(note for p in self.agent_plans for note in p.notes)]


def detect_all(ctx: Context, agent_ids: Sequence[str] = AGENT_IDS) -> list[Detection]:
    return [get_agent(agent_id).detect(ctx) for agent_id in agent_ids]


def plan_setup(ctx: Context, request: SetupRequest) -> Plan:
    plans = []
    notes = []
    for agent_id in request.agents:
        agent = get_agent(agent_id)
        if request.level not in agent.levels:
            notes.append(f"{agent.display_name} supports only {', '.join(agent.levels)} level")
        plans.append(agent.plan(ctx, request))
    return Plan(plans, notes)


def apply_plan(
    ctx: Context,
    command: str,
    build: Callable[[], Plan],
    on_write: Callable[[FileChange], None] | None = None,
) -> tuple[Plan, engine.ApplyResult]:
    """Recompute the plan under the lock (files may have changed since the preview) and apply it."""
    latest: list[Plan] = []

    def build_changes() -> list[FileChange]:
        latest.append(build())
        return latest[-1].changes

    result = engine.apply(ctx.paths, command, build_changes, on_write=on_write)
    return latest[-1], result


def plan_remove(ctx: Context, agent_ids: Sequence[str], level: str) -> Plan:
    return Plan([get_agent(agent_id).unconfigure(ctx, level) for agent_id in agent_ids])


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


def doctor(ctx: Context, agent_ids: Sequence[str] | None = None) -> list[Finding]:
    """Run the offline checks of every agent that is configured (or named)."""
    findings: list[Finding] = []
    chosen = (
        list(agent_ids)
        if agent_ids
        else [agent_id for agent_id in AGENT_IDS if get_agent(agent_id).configured(ctx)]
    )
    if not chosen:
        findings.append(
            Finding(
                "megallm",
                "fail",
                "no agent is configured for MegaLLM",
                "checked every agent's config files at user and project level",
                hint="run `megallm setup`",
            )
        )
    for agent_id in chosen:
        findings.extend(get_agent(agent_id).check(ctx))
    findings.extend(_check_backups(ctx))
    return findings


def _check_backups(ctx: Context) -> list[Finding]:
    interrupted = [
        s for s in backups.list_sessions(ctx.paths.backups_dir) if s.status == backups.PENDING
    ]
    return [
        Finding(
            "megallm",
            "warn",
            f"run {session.id} was interrupted",
            "each file it touched is either before or after its change",
            hint=f"run `megallm restore --id {session.id}` to undo it, or run setup again",
        )
        for session in interrupted
    ]


def restore_as_plan(restore_plan: backups.RestorePlan) -> Plan:
    return Plan([AgentPlan("restore", changes=list(restore_plan.changes))])


def plan_restore(ctx: Context, session_id: str | None, force: bool) -> backups.RestorePlan:
    session = backups.find_session(ctx.paths.backups_dir, session_id)
    return backups.plan_restore(session, force=force)
