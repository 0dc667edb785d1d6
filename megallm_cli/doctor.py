"""Offline doctor: each agent's own checks, then the shell environment and every key's place."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from megallm_cli.agents import AGENT_IDS, get_agent
from megallm_cli.agents.base import Context, Finding
from megallm_cli.keysource import KEY_ENV
from megallm_cli.request import mask_key


def run(ctx: Context, agent_ids: Sequence[str] | None = None) -> list[Finding]:
    """Checks for the named agents, or for every agent configured at any level."""
    configured = {
        agent_id: get_agent(agent_id).configured(ctx) for agent_id in (agent_ids or AGENT_IDS)
    }
    chosen = list(agent_ids) if agent_ids else [a for a, found in configured.items() if found]
    findings: list[Finding] = []
    if not chosen:
        findings.append(
            Finding(
                "megallm",
                "fail",
                "no agent is configured for MegaLLM",
                "looked at every agent's config files, at user level and in this project",
                hint="run `megallm setup`",
            )
        )
    for agent_id in chosen:
        findings.extend(get_agent(agent_id).check(ctx))
    if any(get_agent(agent_id).needs_shell_env for agent_id in chosen):
        findings.extend(shell_findings(ctx))
    findings.extend(key_place_findings(ctx, chosen))
    findings.extend(interrupted_run_findings(ctx))
    return findings


def shell_findings(ctx: Context) -> list[Finding]:
    """MEGALLM_API_KEY persisted for the user's shells, live in this one, not overridden."""
    from megallm_cli import shellenv
    from megallm_cli.system import current_shell

    paths = ctx.paths
    findings: list[Finding] = []
    persisted = shellenv.persisted_value(paths, KEY_ENV)
    if persisted is None:
        return [
            Finding(
                "shell",
                "fail",
                f"{KEY_ENV} is not persisted",
                f"no env file in {paths.config_dir} sets it, and the agents read it from there",
                hint="run `megallm setup` again for the agents that use it",
            )
        ]
    findings.append(Finding("shell", "ok", f"{KEY_ENV} persisted: {mask_key(persisted)}"))
    if ctx.user_env is not None:
        findings.append(_user_environment_finding(ctx.user_env.get(KEY_ENV), persisted))
    sourcing = shellenv.families_sourcing_env(paths)
    shell = current_shell(paths)
    family = shellenv.shell_family(shell) if shell else None
    if family and family not in sourcing:
        findings.append(
            Finding(
                "shell",
                "fail",
                f"new {shell} shells will not have {KEY_ENV}",
                f"no megallm block in {shell}'s startup files",
                hint=f"run `megallm setup` from {shell}, so it configures this shell too",
            )
        )
    for name, files in sorted(sourcing.items()):
        findings.append(
            Finding("shell", "ok", f"{name} loads it", ", ".join(str(f) for f in files))
        )
    live = paths.env.get(KEY_ENV)
    hint = shellenv.activation_hint(paths, shell) if shell else None
    load = f"run `{hint}` or open a new terminal" if hint else "open a new terminal"
    if live is None:
        findings.append(
            Finding("shell", "warn", f"{KEY_ENV} is not set in this terminal", hint=load)
        )
    elif live != persisted:
        findings.append(
            Finding(
                "shell",
                "fail",
                f"this terminal has another {KEY_ENV} ({mask_key(live)})",
                f"the persisted one is {mask_key(persisted)}; agents started here use the old one",
                hint=load,
            )
        )
    else:
        findings.append(Finding("shell", "ok", f"{KEY_ENV} is set in this terminal"))
    for stray in shellenv.find_stray_exports(paths):
        severe = stray.name == KEY_ENV
        findings.append(
            Finding(
                "shell",
                "fail" if severe else "warn",
                f"{stray.name} is set at {stray.location}",
                stray.snippet
                + (" — it competes with megallm's value" if severe else " — agents may read it"),
                hint=f"delete that line from {stray.path} unless you need it",
            )
        )
    return findings


def _user_environment_finding(registered: str | None, persisted: str) -> Finding:
    """Windows: programs not started from a shell (VS Code, cmd.exe) see only HKCU."""
    where = f"HKCU\\Environment\\{KEY_ENV}"
    if registered == persisted:
        return Finding("shell", "ok", f"{KEY_ENV} is in your Windows user environment", where)
    title = (
        f"{KEY_ENV} is not in your Windows user environment"
        if registered is None
        else f"your Windows user environment has another {KEY_ENV} ({mask_key(registered)})"
    )
    return Finding(
        "shell",
        "fail",
        title,
        f"{where}: programs not started from PowerShell (VS Code, cmd.exe) miss the key",
        hint="run `megallm setup` again; it sets the variable there",
    )


def key_place_findings(ctx: Context, agent_ids: Sequence[str]) -> list[Finding]:
    """Every place the key lives (masked); places holding an older key are stale."""
    from megallm_cli import shellenv

    places: list[tuple[str, str]] = []
    persisted = shellenv.persisted_value(ctx.paths, KEY_ENV)
    if persisted:
        places.append((str(ctx.paths.config_dir / "env.sh"), persisted))
    registered = ctx.user_env.get(KEY_ENV) if ctx.user_env is not None else None
    if registered:
        places.append((f"HKCU\\Environment\\{KEY_ENV}", registered))
    for agent_id in agent_ids:
        for configured in get_agent(agent_id).configured(ctx):
            if configured.key and ctx.gateway.matches(configured.base_url):
                places.append((f"{agent_id}: {configured.files[0]}", configured.key))
    if not places:
        return []
    current = persisted or Counter(key for _, key in places).most_common(1)[0][0]
    findings = []
    for place, key in places:
        if key == current:
            findings.append(Finding("keys", "ok", f"{mask_key(key)} in {place}"))
        else:
            findings.append(
                Finding(
                    "keys",
                    "fail",
                    f"stale key {mask_key(key)} in {place}",
                    f"the current key is {mask_key(current)}",
                    hint="run `megallm setup` with the current key; it updates every place",
                )
            )
    return findings


def interrupted_run_findings(ctx: Context) -> list[Finding]:
    from megallm_cli import backups

    pending = backups.pending_sessions(ctx.paths.backups_dir)
    return [
        Finding(
            "megallm",
            "warn",
            f"run {session.id} was interrupted",
            "each file it touched holds either its old or its new bytes",
            hint=f"run `megallm restore --id {session.id}` to undo it, or run setup again",
        )
        for session in pending
    ]
