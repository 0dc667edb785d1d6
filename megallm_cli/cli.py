"""The command line: parse flags, call operations, render. No logic lives here."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, Optional

import typer

from megallm_cli import ui
from megallm_cli.errors import EXIT_FAILURE, EXIT_INTERRUPTED, Cancelled, MegallmError, UsageError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from megallm_cli.agents.base import Context
    from megallm_cli.changes import FileChange
    from megallm_cli.engine import ApplyResult
    from megallm_cli.gateway import KeyCheck
    from megallm_cli.operations import Plan
    from megallm_cli.paths import Paths

app = typer.Typer(
    name="megallm",
    help=(
        "Point your AI coding agents at the MegaLLM gateway, safely and reversibly.\n\n"
        "Example: MEGALLM_API_KEY=sk-mega-… megallm setup --agent claude-code --yes"
    ),
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)

AGENT_HELP = "Agent id: claude-code, codex, opencode, kilo, cline, roo-code. Repeatable."
LEVEL_HELP = "user: your account-wide config; project: files in --project-dir."


def _context(project_dir: Optional[Path], base_url: Optional[str] = None) -> Context:
    from megallm_cli.agents.base import Context
    from megallm_cli.paths import Paths
    from megallm_cli.request import Gateway

    home = os.environ.get("HOME" if os.name != "nt" else "USERPROFILE", "")
    if not home or not os.path.isabs(home) or not os.path.isdir(home):
        raise UsageError(
            f"HOME is {home!r}: megallm needs it to be your existing home directory",
            hint="set HOME to an absolute path that exists, e.g. export HOME=/home/you",
        )
    paths = Paths.from_environ()
    directory = (project_dir or Path.cwd()).expanduser()
    if project_dir is not None and not directory.is_dir():
        raise UsageError(
            f"project dir {directory} does not exist", hint="pass an existing --project-dir"
        )
    gateway = Gateway.parse(
        base_url or paths.env.get("MEGALLM_BASE_URL") or _remembered_gateway(paths)
    )
    user_env = None
    if paths.family == "windows":  # elsewhere there is none, and shellenv need not load
        from megallm_cli.shellenv import default_user_environment

        user_env = default_user_environment(paths)
    return Context(paths=paths, project_dir=directory.resolve(), gateway=gateway, user_env=user_env)


def _remembered_gateway(paths: Paths) -> str | None:
    """The gateway the newest setup was given, so status, doctor, remove and the next setup
    judge the agents by it without --base-url again."""
    from megallm_cli.fsio import seen_dir

    if not seen_dir(paths.backups_dir):  # none yet, or behind a directory we may not read
        return None
    from megallm_cli.backups import remembered_gateway

    return remembered_gateway(paths.backups_dir)


def _interactive() -> bool:
    return sys.stdin.isatty() and sys.stderr.isatty() and os.environ.get("CI", "") != "true"


def _confirm(question: str, yes: bool, flag: str = "--yes") -> None:
    if yes:
        return
    if not _interactive():
        raise UsageError(
            f"{question} — cannot ask: no terminal", hint=f"pass {flag} to go ahead without asking"
        )
    answer = typer.confirm(question, default=False, err=True)
    if not answer:
        raise Cancelled()


def _print_plan(plan: Plan, show_diff: bool) -> None:
    for secret in plan.secrets:
        ui.register_secret(secret)
    rows = [
        [change.agent, str(change.path), _verb(change), change.summary] for change in plan.pending
    ]
    rows += [[v.agent, v.location, v.action, v.summary] for v in plan.user_variables]
    if rows:
        ui.print_table("Planned changes", ["agent", "file", "action", "what"], rows)
    if show_diff:
        _print_diffs(plan.pending)
    for note in plan.all_notes():
        ui.say(f"note: {note}", "yellow")


def _print_diffs(changes: Sequence[FileChange]) -> None:
    """Each change's diff, every key in the files masked, with its pieces elsewhere."""
    from megallm_cli.changes import unified_diff

    for change in changes:
        ui.register_keys_in(change.before)
        ui.register_keys_in(change.after)
    for change in changes:
        sys.stdout.write(unified_diff(change, ui.mask))


def _written(result: ApplyResult, verb: str = "written") -> str:
    """'3 file(s) written', and the user variables changed, when there were any."""
    text = f"{len(result.written)} file(s) {verb}"
    if result.user_variables:
        text += f", {len(result.user_variables)} user variable(s) changed"
    return text


def _verb(change: object) -> str:
    before = getattr(change, "before", None)
    after = getattr(change, "after", None)
    if before is None:
        return "create"
    if after is None:
        return "delete"
    return "update"


@app.command()
def setup(
    agent: list[str] = typer.Option([], "--agent", "-a", help=AGENT_HELP),
    all_detected: bool = typer.Option(False, "--all-detected", help="Every agent found here."),
    level: str = typer.Option("user", "--level", "-l", help=LEVEL_HELP),
    project_dir: Optional[Path] = typer.Option(
        None, "--project-dir", help="Project for --level project (default: current dir)."
    ),
    api_key_stdin: bool = typer.Option(
        False, "--api-key-stdin", help="Read the key from standard input (else MEGALLM_API_KEY)."
    ),
    base_url: Optional[str] = typer.Option(
        None,
        "--base-url",
        help="Gateway origin (default https://ai.megallm.io, or MEGALLM_BASE_URL).",
    ),
    model: list[str] = typer.Option(
        [], "--model", "-m", help="Default model for every agent, or AGENT=MODEL. Repeatable."
    ),
    claude_auth: str = typer.Option(
        "auth-token",
        "--claude-auth",
        help="How Claude Code sends the key: auth-token (Bearer) or api-key (x-api-key).",
    ),
    fix_claude_comments: bool = typer.Option(
        False,
        "--fix-claude-comments",
        help="Strip comments from a Claude Code settings.json (Claude Code ignores such a file).",
    ),
    no_verify: bool = typer.Option(
        False, "--no-verify", help="Do not check the key with the gateway before writing."
    ),
    yes: bool = typer.Option(
        False, "--yes", "-y", help="Apply without asking; the wizard takes every default."
    ),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Show the diff (key masked); write nothing."
    ),
    install_missing: bool = typer.Option(
        False, "--install-missing", help="npm install -g the named agents that are missing."
    ),
    json_output: bool = typer.Option(False, "--json", help="Print one JSON envelope on stdout."),
) -> None:
    """Configure agents to use the MegaLLM gateway.

    On a terminal without --agent or --all-detected, a wizard asks each question; every
    question has a flag.

    Example (non-interactive, every step as a flag):

    \b
      echo "$KEY" | megallm setup --agent claude-code --agent codex --install-missing \\
        --level user --api-key-stdin --model claude-code=claude-sonnet-4-5 --yes
    """
    from megallm_cli import models, operations, wizard
    from megallm_cli.agents import AGENT_IDS, get_agent
    from megallm_cli.keysource import obtain_key
    from megallm_cli.request import LEVELS, SetupRequest, parse_model_flags

    if level not in LEVELS:
        raise UsageError(f"--level must be user or project, not '{level}'")
    auth_variables = {"auth-token": "ANTHROPIC_AUTH_TOKEN", "api-key": "ANTHROPIC_API_KEY"}
    if claude_auth not in auth_variables:
        raise UsageError(f"--claude-auth must be auth-token or api-key, not '{claude_auth}'")
    ctx = _context(project_dir, base_url)
    if not _interactive():
        missing = wizard.missing_flags(
            agent_named=bool(agent) or all_detected,
            yes=yes,
            dry_run=dry_run,
            key_given=api_key_stdin or "MEGALLM_API_KEY" in os.environ,
        )
        if missing:
            raise UsageError(
                "no terminal to ask on: pass " + ", ".join(missing),
                hint='echo "$KEY" | megallm setup --agent claude-code --api-key-stdin --yes',
            )
    elif not agent and not all_detected and not json_output:
        options = wizard.Options(
            level=level,
            models=parse_model_flags(model, AGENT_IDS),
            claude_auth_variable=auth_variables[claude_auth],
            fix_claude_comments=fix_claude_comments,
            verify_key=not no_verify,
            accept_defaults=yes,
            dry_run=dry_run,
            install_missing=install_missing,
        )
        wizard.run(ctx, options, os.environ, wizard.Prompter(accept_defaults=yes))
        return
    for agent_id in agent:
        if agent_id not in AGENT_IDS:
            raise UsageError(
                f"unknown agent '{agent_id}'", hint=f"agents are: {', '.join(AGENT_IDS)}"
            )
    chosen = list(dict.fromkeys(agent))
    if all_detected:
        found = [d.agent for d in operations.detect_all(ctx) if d.installed]
        fitting = [a for a in found if level in get_agent(a).levels]
        for skipped in sorted(set(found) - set(fitting)):
            ui.say(f"note: skipping {skipped}: it has no {level}-level config", "yellow")
        if not fitting and not chosen:
            raise MegallmError("no agents detected", hint="name them with --agent")
        chosen = list(dict.fromkeys([*chosen, *fitting]))
    if not chosen:
        raise UsageError("no agent chosen", hint="pass --agent ID (repeatable) or --all-detected")
    if install_missing:
        wizard.install_missing(ctx, chosen)
    for detection in operations.detect_all(ctx, chosen):
        if not detection.installed:
            ui.warn(f"{detection.agent} is not installed here; configuring it anyway")
    secret, source, key_warnings = obtain_key(
        env=os.environ,
        from_stdin=api_key_stdin,
        stdin=sys.stdin,
        interactive=_interactive(),
        prompt=lambda: typer.prompt("MegaLLM API key", hide_input=True, err=True),
    )
    ui.register_secret(secret.reveal())
    for warning in key_warnings:
        ui.warn(warning)
    ui.say(f"key from {source}: {secret.masked()}; gateway {ctx.gateway.origin}", "dim")
    checked = None if no_verify else _verify_key(ctx, secret.reveal())
    request = SetupRequest(
        agents=tuple(chosen),
        level=level,
        project_dir=ctx.project_dir,
        api_key=secret,
        gateway=ctx.gateway,
        models=parse_model_flags(model, AGENT_IDS),
        claude_auth_variable=auth_variables[claude_auth],
        fix_claude_comments=fix_claude_comments,
        # The key check's /v1/models answer is the live catalog: no second request.
        model_catalog=models.remember(ctx.paths, ctx.gateway, checked) if checked else None,
    )
    plan = operations.preview(lambda: operations.plan_setup(ctx, request))
    # With --json, stdout holds the envelope and nothing else.
    _print_plan(plan, show_diff=dry_run and not json_output)
    if dry_run:
        if json_output:
            ui.emit_json("setup", True, _plan_json(plan, dry_run=True))
        ui.say("dry run: nothing was written")
        return
    if plan.is_noop:
        from megallm_cli.engine import recover

        recover(ctx.paths, ui.waiting_for_lock)  # a killed run's leftovers must not outlive us
        ui.say("already set up: nothing to change", "green")
        if json_output:
            ui.emit_json("setup", True, {"session": None, **_plan_json(plan, dry_run=False)})
        return
    _confirm(f"Apply {len(plan.pending) + len(plan.user_variables)} change(s)?", yes)
    # apply_plan plans again under the lock; the preview holds each file's old and new bytes,
    # which for a 50 MB ~/.claude.json must not stay in memory beside the new plan's.
    del plan
    applied, result = operations.apply_plan(
        ctx,
        operations.setup_command(request),
        lambda: operations.plan_setup(ctx, request),
        on_write=lambda change: ui.say(f"  wrote {change.path}", "dim"),
        on_wait=ui.waiting_for_lock,
    )
    if json_output:
        ui.emit_json("setup", True, {"session": result.session_id, **_plan_json(applied, False)})
    ui.say(f"done: {_written(result)}", "green")
    if result.session_id:
        ui.say(
            f"backup: {result.session_id} — undo with `megallm restore --id {result.session_id}`"
        )
    shell_changed = [c.agent for c in result.written] + [v.agent for v in result.user_variables]
    if "shell" in shell_changed:
        hint = operations.activation_hint(ctx)
        ui.say(
            f"new terminals get MEGALLM_API_KEY; in this one run: {hint}"
            if hint
            else "open a new terminal to get MEGALLM_API_KEY"
        )


def _verify_key(ctx: Context, key: str) -> KeyCheck:
    from megallm_cli.gateway import check_key

    with ui.progress("checking the key with the gateway…"):
        result = check_key(ctx.gateway, key)
    if result.usable:
        ui.say(f"key accepted by {ctx.gateway.origin} ({result.latency_ms:.0f} ms)", "green")
    elif result.outcome in ("unauthorized", "forbidden"):
        raise MegallmError(
            f"the gateway rejected the key ({result.detail})",
            hint="check the key in your MegaLLM dashboard; --no-verify skips this check",
        )
    else:
        ui.warn(f"could not verify the key ({result.outcome}: {result.detail}); going on")
    return result


def _plan_json(plan: Plan, dry_run: bool) -> dict[str, object]:
    return {
        "dry_run": dry_run,
        "changes": [
            {"agent": c.agent, "path": str(c.path), "action": _verb(c), "summary": c.summary}
            for c in plan.pending
        ]
        + [
            {"agent": v.agent, "path": v.location, "action": v.action, "summary": v.summary}
            for v in plan.user_variables
        ],
        "notes": plan.all_notes(),
    }


@app.command()
def status(
    project_dir: Optional[Path] = typer.Option(None, "--project-dir", help="Project to inspect."),
    base_url: Optional[str] = typer.Option(
        None,
        "--base-url",
        help="Gateway origin that counts as MegaLLM (default: MEGALLM_BASE_URL).",
    ),
    json_output: bool = typer.Option(False, "--json", help="Print one JSON envelope on stdout."),
) -> None:
    """Show each agent: installed (version), configured, level, base URL, key (masked).

    Example: megallm status --json
    """
    from megallm_cli import operations
    from megallm_cli.request import mask_key

    ctx = _context(project_dir, base_url)
    rows = operations.status(ctx)
    data = []
    table = []
    for row in rows:
        detection = row.detection
        installed = (detection.version or "yes") if detection.installed else "no"
        if not row.configured:
            table.append([detection.agent, installed, "no", "", "", ""])
        for configured in row.configured:
            ours = ctx.gateway.matches(configured.base_url)
            table.append(
                [
                    detection.agent,
                    installed,
                    "MegaLLM" if ours else "other",
                    configured.level,
                    configured.base_url or "",
                    mask_key(configured.key) if configured.key else "(env)",
                ]
            )
        data.append(
            {
                "agent": detection.agent,
                "installed": detection.installed,
                "version": detection.version,
                "location": detection.location,
                "running": detection.running,
                "configured": [
                    {
                        "level": c.level,
                        "files": [str(f) for f in c.files],
                        "base_url": c.base_url,
                        "megallm": ctx.gateway.matches(c.base_url),
                        "key": mask_key(c.key) if c.key else None,
                        "model": c.model,
                    }
                    for c in row.configured
                ],
            }
        )
    if json_output:
        ui.emit_json("status", True, data)
        return
    ui.print_table(None, ["agent", "installed", "configured", "level", "base URL", "key"], table)


@app.command()
def doctor(
    agent: list[str] = typer.Option([], "--agent", "-a", help="Check only these agents."),
    project_dir: Optional[Path] = typer.Option(None, "--project-dir", help="Project to inspect."),
    base_url: Optional[str] = typer.Option(None, "--base-url", help="Gateway origin expected."),
    online: bool = typer.Option(
        False, "--online", help="Also ask the gateway: reachable, key accepted, models exist."
    ),
    probe: bool = typer.Option(
        False,
        "--probe",
        help="--online, plus one 1-token request per API the agents use (costs tokens).",
    ),
    deep: bool = typer.Option(
        False, "--deep", help="Also ask each installed agent whether it accepts its config."
    ),
    json_output: bool = typer.Option(False, "--json", help="Print one JSON envelope on stdout."),
    quiet: bool = typer.Option(
        False, "--quiet", "-q", help="Print only the problems, one line each (as `megallm -q`)."
    ),
) -> None:
    """Check that every configured agent is set up right. Exit 0 healthy, 1 problems.

    Offline by default. Example: megallm doctor --agent claude-code --online --probe --deep
    """
    from megallm_cli import doctor as checks

    if quiet:
        ui.set_quiet(True)
    ctx = _context(project_dir, base_url)
    findings = checks.run(ctx, agent or None)
    if online or probe:
        from megallm_cli import doctor_online

        with ui.progress("asking the gateway…"):
            findings += doctor_online.run(ctx, agent or None, probe_wires=probe)
    if deep:
        from megallm_cli import doctor_deep

        with ui.progress("asking the agents…"):
            findings += doctor_deep.run(ctx, agent or None)
    # Online and deep findings join their agent's group instead of starting a new one.
    groups = list(dict.fromkeys(f.agent for f in findings))
    findings.sort(key=lambda f: groups.index(f.agent))
    failed = [f for f in findings if f.status == "fail"]
    warned = [f for f in findings if f.status == "warn"]
    if json_output:
        ui.emit_json(
            "doctor",
            not failed,
            [f.__dict__ for f in findings],
            [{"agent": f.agent, "message": f.title, "hint": f.hint} for f in failed],
        )
    elif ui.is_quiet():
        for finding in [*failed, *warned]:  # -q: the problems alone, one line each
            line = f"{finding.agent}: {ui.symbol(finding.status)} {finding.title}"
            if finding.detail:
                line += f" — {finding.detail}"
            ui.report(line + (f" (fix: {finding.hint})" if finding.hint else ""))
    else:
        current = None
        for finding in findings:
            if finding.agent != current:
                current = finding.agent
                ui.say(f"\n{current}", "bold")
            line = f"  {ui.symbol(finding.status)} {finding.title}"
            if finding.detail and finding.status != "ok":
                line += f" — {finding.detail}"
            ui.say(line, ui.STYLE[finding.status])
            if finding.hint and finding.status in ("warn", "fail"):
                ui.say(f"      fix: {finding.hint}", "dim")
        passed = sum(f.status == "ok" for f in findings)
        ui.say(
            f"\n{passed} passed, {len(warned)} warning(s), {len(failed)} problem(s)",
            "red" if failed else ("yellow" if warned else "green"),
        )
    if failed:
        raise typer.Exit(EXIT_FAILURE)


@app.command()
def restore(
    list_sessions: bool = typer.Option(False, "--list", help="List backup sessions."),
    latest: bool = typer.Option(False, "--latest", help="Restore the newest session."),
    session_id: Optional[str] = typer.Option(None, "--id", help="Restore this session."),
    force: bool = typer.Option(False, "--force", help="Also overwrite files changed since."),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Show what would be restored, with the diff; write nothing."
    ),
    yes: bool = typer.Option(True, "--yes/--ask", help="Ask before restoring (default: don't)."),
    json_output: bool = typer.Option(False, "--json", help="Print one JSON envelope on stdout."),
) -> None:
    """Put files back exactly as they were before an earlier run.

    Example: megallm restore --list; megallm restore --latest
    """
    from megallm_cli import backups, operations

    ctx = _context(None)
    if list_sessions and (latest or session_id or force):
        raise UsageError(
            "--list shows the sessions; it does not go with --latest, --id or --force",
            hint="run `megallm restore --list` first, then restore one",
        )
    if list_sessions:
        sessions = backups.list_sessions(ctx.paths.backups_dir)
        if json_output:
            ui.emit_json(
                "restore",
                True,
                [
                    {
                        "id": s.id,
                        "created": s.created,
                        "command": s.command,
                        "status": s.status,
                        "files": [e.path for e in s.entries],
                    }
                    for s in sessions
                ],
            )
            return
        if not sessions:
            ui.say("no backup sessions yet")
            return
        ui.print_table(
            None,
            ["id", "created", "command", "status", "files"],
            [[s.id, s.created, s.command, s.status, str(len(s.entries))] for s in sessions],
            whole=["id"],
        )
        return
    if not latest and not session_id:
        raise UsageError("say which run to undo", hint="pass --latest, --id ID, or --list")
    if latest and session_id:
        raise UsageError("--latest and --id contradict each other", hint="pass one of them")
    from megallm_cli.engine import recover

    recover(ctx.paths, ui.waiting_for_lock)  # a killed run's session becomes restorable
    plan = operations.plan_restore(ctx, session_id, force)
    for drift in plan.drifts:
        ui.warn(f"{drift.path} {drift.reason}" + ("; overwriting (--force)" if force else ""))
    if plan.drifts and not force:
        raise MegallmError(
            f"{len(plan.drifts)} file(s) changed since run {plan.session.id}; nothing restored",
            hint="look at them; `megallm remove` takes out only megallm's settings and keeps "
            "the rest, `--force` writes the old bytes over them",
        )
    for change in plan.changes:
        kept = (
            " (only this run's keys: later changes kept)" if str(change.path) in plan.merged else ""
        )
        ui.say(f"  {_verb(change)} {change.path}{kept}")
    for variable in plan.user_variables:
        ui.say(f"  {variable.action} {variable.location}")
    nothing = not plan.changes and not plan.user_variables
    if dry_run and not json_output:
        _print_diffs(plan.changes)
    if dry_run or nothing:
        ui.say("nothing to restore" if nothing else "dry run: nothing was written")
        if json_output:
            ui.emit_json("restore", True, {"session": plan.session.id, "dry_run": dry_run})
        return
    count = len(plan.changes) + len(plan.user_variables)
    _confirm(f"Restore {count} change(s) from {plan.session.id}?", yes)
    target = plan.session.id
    _, result = operations.apply_plan(
        ctx,
        f"restore {target}",
        lambda: operations.restore_to_apply(ctx, target, force),
        on_wait=ui.waiting_for_lock,
    )
    if json_output:
        ui.emit_json(
            "restore",
            True,
            {
                "session": target,
                "restored": [str(c.path) for c in result.written]
                + [v.location for v in result.user_variables],
                "undo_session": result.session_id,
            },
        )
    ui.say(f"restored from {target}: {_written(result, 'put back')}", "green")
    if result.session_id:
        ui.say(
            f"this restore is backed up too: `megallm restore --id {result.session_id}` undoes it"
        )


@app.command()
def remove(
    agent: list[str] = typer.Option([], "--agent", "-a", help=AGENT_HELP),
    all_agents: bool = typer.Option(False, "--all", help="Every agent."),
    level: str = typer.Option("user", "--level", "-l", help=LEVEL_HELP),
    project_dir: Optional[Path] = typer.Option(
        None, "--project-dir", help="Project for --level project."
    ),
    base_url: Optional[str] = typer.Option(None, "--base-url", help="Gateway origin that was set."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Remove without asking."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show the diff; write nothing."),
    json_output: bool = typer.Option(False, "--json", help="Print one JSON envelope on stdout."),
) -> None:
    """Take out only what megallm set, keeping every later edit (backed up, restorable).

    Example: megallm remove --agent claude-code --yes
    """
    from megallm_cli import operations
    from megallm_cli.agents import AGENT_IDS

    ctx = _context(project_dir, base_url)
    if all_agents and agent:
        raise UsageError("--all and --agent contradict each other", hint="pass one of them")
    chosen = list(AGENT_IDS) if all_agents else list(dict.fromkeys(agent))
    if not chosen:
        raise UsageError("no agent chosen", hint="pass --agent ID (repeatable) or --all")
    for agent_id in chosen:
        if agent_id not in AGENT_IDS:
            raise UsageError(
                f"unknown agent '{agent_id}'", hint=f"agents are: {', '.join(AGENT_IDS)}"
            )
    plan = operations.preview(lambda: operations.plan_remove(ctx, chosen, level))
    _print_plan(plan, show_diff=dry_run and not json_output)
    if dry_run:
        if json_output:
            ui.emit_json("remove", True, _plan_json(plan, dry_run=True))
        ui.say("dry run: nothing was written")
        return
    if plan.is_noop:
        if json_output:
            ui.emit_json("remove", True, {"session": None, **_plan_json(plan, dry_run=False)})
        ui.say("nothing of megallm's to remove")
        return
    count = len(plan.pending) + len(plan.user_variables)
    _confirm(f"Remove MegaLLM settings ({count} change(s))?", yes)
    applied, result = operations.apply_plan(
        ctx,
        "remove " + " ".join(chosen),
        lambda: operations.plan_remove(ctx, chosen, level),
        on_wait=ui.waiting_for_lock,
    )
    if json_output:
        ui.emit_json("remove", True, {"session": result.session_id, **_plan_json(applied, False)})
    ui.say(f"removed: {_written(result, 'changed')}", "green")
    if result.session_id:
        ui.say(
            f"backup: {result.session_id} — undo with `megallm restore --id {result.session_id}`"
        )


@app.command("models")
def list_models(
    base_url: Optional[str] = typer.Option(
        None,
        "--base-url",
        help="Gateway origin (default https://ai.megallm.io, or MEGALLM_BASE_URL).",
    ),
    refresh: bool = typer.Option(
        False, "--refresh", help="Ask the gateway even when the cached list is fresh."
    ),
    api_key_stdin: bool = typer.Option(
        False,
        "--api-key-stdin",
        help="Read the key from standard input (else MEGALLM_API_KEY, else the one setup saved).",
    ),
    json_output: bool = typer.Option(False, "--json", help="Print one JSON envelope on stdout."),
) -> None:
    """List the gateway's models: live when it answers, else the cached or the bundled list.

    Example: megallm models --refresh
    """
    from megallm_cli import models

    ctx = _context(None, base_url)
    key = models.listing_key(ctx.paths.env, ctx.paths, api_key_stdin, sys.stdin)
    if key:
        ui.register_secret(key)
    with ui.progress("asking the gateway for its models…"):
        found = models.catalog(ctx.paths, ctx.gateway, key, refresh=refresh)
    if json_output:
        ui.emit_json("models", True, found.to_json())
    else:
        ui.print_table(None, ["id", "owner"], [[m.id, m.owned_by] for m in found.models])
    ui.say(f"source: {found.describe()}", "yellow" if found.source == "bundled" else "green")


completion_app = typer.Typer(
    help=(
        "Shell completion: install it for your shell, or print the script.\n\n"
        "Example: megallm completion install"
    ),
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(completion_app, name="completion")

SHELL_HELP = "bash, zsh, fish or powershell (default: the shell you are running)."


def _completion_shell(shell: Optional[str]) -> str:
    from megallm_cli.completion import SHELLS
    from megallm_cli.paths import Paths
    from megallm_cli.shellenv import shell_family
    from megallm_cli.system import current_shell

    hint = f"pass --shell {'|'.join(SHELLS)}"
    if shell is not None:
        if shell_family(shell) not in SHELLS:
            raise UsageError(f"--shell must be one of {', '.join(SHELLS)}, not '{shell}'")
        return str(shell_family(shell))
    running = current_shell(Paths.from_environ())
    if running is None:
        raise UsageError("cannot tell which shell you are running", hint=hint)
    family = shell_family(running)
    if family not in SHELLS:
        raise UsageError(f"no completion for {running}, the shell you are running", hint=hint)
    return str(family)


@completion_app.command("install")
def completion_install(
    ctx: typer.Context,
    shell: Optional[str] = typer.Option(None, "--shell", help=SHELL_HELP),
    uninstall: bool = typer.Option(
        False, "--uninstall", help="Take it out again (from every shell unless --shell)."
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show the diff; write nothing."),
) -> None:
    """Install tab completion for your shell; running it again changes nothing.

    Every file it changes is backed up first: --uninstall (or megallm restore) takes it out.

    Example: megallm completion install --shell zsh
    """
    from megallm_cli import completion, engine
    from megallm_cli.paths import Paths

    paths = Paths.from_environ()
    shells = (_completion_shell(shell),) if shell or not uninstall else completion.SHELLS
    tree = completion.command_tree(ctx.find_root().command)

    def build() -> list[FileChange]:
        if uninstall:
            return completion.plan_uninstall(paths, shells)
        return completion.plan_install(paths, shells[0], tree)

    changes = build()
    if dry_run:
        _print_diffs(changes)
        ui.say("dry run: nothing was written")
        return
    if not changes:
        ui.say("nothing to change", "green")
        return
    action = "uninstall" if uninstall else "install"
    result = engine.apply(
        paths,
        f"completion {action} {' '.join(shells)}",
        build,
        on_write=lambda change: ui.say(f"  {_verb(change)}d {change.path}", "dim"),
        on_wait=ui.waiting_for_lock,
    )
    if uninstall:
        ui.say(f"completion removed: {len(result.written)} file(s) changed", "green")
    else:
        ui.say(f"{shells[0]} completion installed; new terminals have it", "green")
        ui.say(f"in this terminal, run: {completion.activation_hint(paths, shells[0])}")
    if result.session_id:
        ui.say(f"backup: {result.session_id} — `megallm restore --id {result.session_id}`")


@completion_app.command("show")
def completion_show(
    ctx: typer.Context, shell: Optional[str] = typer.Option(None, "--shell", help=SHELL_HELP)
) -> None:
    """Print the completion script, to package it or to load it yourself.

    Example: megallm completion show --shell bash > /etc/bash_completion.d/megallm
    """
    from megallm_cli import completion

    tree = completion.command_tree(ctx.find_root().command)
    sys.stdout.write(completion.render(_completion_shell(shell), tree))


@app.callback(invoke_without_command=True)
def _root(
    ctx: typer.Context,
    # Eager, like --help: it acts alone (completion offers nothing after it).
    version: bool = typer.Option(
        False, "--version", "-V", is_eager=True, help="Show the version and exit."
    ),
    verbose: bool = typer.Option(
        False, "--verbose", "-v", help="With --version: also show Python version and platform."
    ),
    quiet: bool = typer.Option(
        False, "--quiet", "-q", help="Print only warnings and errors (stdout is unchanged)."
    ),
) -> None:
    """Point your AI coding agents at the MegaLLM gateway, safely and reversibly."""
    from megallm_cli.entry import version_text

    # Handled here rather than in an option callback: a callback of --version would run
    # before a -v that follows it had been read.
    if version:
        typer.echo(version_text(verbose), nl=False)
        raise typer.Exit()
    if ctx.invoked_subcommand is None:
        ctx.fail("Missing command.")  # only options were given
    ui.set_quiet(quiet)


def run() -> None:
    """Run the app and turn every failure into one line, a hint and the right exit code."""
    try:
        code = app(standalone_mode=False)
    except Cancelled as cancelled:
        ui.say(cancelled.message)  # the user's choice, not an error
        sys.exit(cancelled.exit_code)
    except MegallmError as failure:
        _fail(failure.message, failure.hint, failure.exit_code)
    except (KeyboardInterrupt, typer.Abort):
        ui.say("cancelled, nothing changed")
        sys.exit(EXIT_INTERRUPTED)
    except typer.Exit as done:
        sys.exit(done.exit_code)
    except Exception as failure:
        if hasattr(failure, "format_message") and hasattr(failure, "exit_code"):
            _usage_error(failure)
        if os.environ.get("MEGALLM_DEBUG") == "1":
            raise
        _fail(
            f"unexpected {type(failure).__name__}: {ui.mask(str(failure))}",
            "rerun with MEGALLM_DEBUG=1 for the traceback, and report it",
            EXIT_FAILURE,
        )
    if isinstance(code, int) and code:
        sys.exit(code)


def _fail(message: str, hint: Optional[str], exit_code: int) -> NoReturn:
    ui.error(message, hint)
    # With --json a script reads stdout: it gets the envelope, saying what went wrong.
    arguments = sys.argv[1:]
    if "--json" in arguments and not ui.envelope_sent():
        command = next((word for word in arguments if not word.startswith("-")), "megallm")
        ui.emit_json(command, False, None, [{"message": message, "hint": hint}])
    sys.exit(exit_code)


def _usage_error(failure: Any) -> NoReturn:
    """A usage error found by the option parser, in our one-line-and-a-hint form."""
    # A bare group (`megallm`, `megallm completion`) shows its help; typer tells this error
    # apart by name too, since click before 8.2 has no such class to import.
    if type(failure).__name__ == "NoArgsIsHelpError":
        failure.show()
        sys.exit(failure.exit_code)
    context = getattr(failure, "ctx", None)
    command = context.command_path if context is not None else "megallm"
    message = failure.format_message().rstrip(".")
    _fail(message[:1].lower() + message[1:], f"see `{command} --help`", failure.exit_code)
