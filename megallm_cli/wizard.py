"""`megallm setup` on a terminal: detect, offer installs, pick agents, level, key, models, review.

Each step ends in the values the flags give (agent ids, a level, a key, `--model` entries), the
wizard builds the same SetupRequest as `megallm setup --agent …` and plans and applies it through
the same operations. Each question has a flag, so nothing here is reachable only by asking.

Speed: questionary (prompt_toolkit) loads on the first question, after the header and the
detection table are on screen; nothing here spawns a process before the first question.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from megallm_cli import __version__, operations, ui
from megallm_cli.agents import AGENT_IDS, get_agent
from megallm_cli.agents.base import AgentPlan, Context
from megallm_cli.changes import FileChange
from megallm_cli.errors import Cancelled, MegallmError, UsageError
from megallm_cli.keysource import KEY_ENV
from megallm_cli.request import LEVELS, Secret, SetupRequest, mask_key, validate_key

if TYPE_CHECKING:
    from megallm_cli import installer
    from megallm_cli.engine import ApplyResult
    from megallm_cli.gateway import KeyCheck
    from megallm_cli.models import ModelCatalog

KEY_HELP_URL = "https://megallm.io"
APPLY, SHOW_DIFF, CANCEL = "apply", "diff", "cancel"
RECONFIGURE, KEEP, REMOVE = "reconfigure", "keep", "remove"
KEEP_DEFAULT_MODELS, CHOOSE_MODELS = "keep", "choose"
REJECTED_KEY_OUTCOMES = ("unauthorized", "forbidden")
# Below this many columns the review is a list: a four-column table would wrap every cell.
REVIEW_TABLE_MIN_WIDTH = 80


@dataclass(frozen=True)
class Options:
    """The flags given together with the wizard: they preset or skip its questions."""

    level: str = "user"
    models: dict[str, str] = field(default_factory=dict)
    claude_auth_variable: str = "ANTHROPIC_AUTH_TOKEN"
    fix_claude_comments: bool = False
    verify_key: bool = True
    accept_defaults: bool = False
    dry_run: bool = False
    install_missing: bool = False


def missing_flags(*, agent_named: bool, yes: bool, dry_run: bool, key_given: bool) -> list[str]:
    """What a run without a terminal must be told on the command line, as the wizard would ask."""
    missing = []
    if not agent_named:
        missing.append("--agent ID (or --all-detected)")
    if not yes and not dry_run:
        missing.append("--yes")
    if not key_given:
        missing.append(f"the key via {KEY_ENV} or --api-key-stdin")
    return missing


class Prompter:
    """Asks on the terminal (stderr). With accept_defaults (--yes) each question takes its default.

    Ctrl-C, Esc and Ctrl-D at any question raise Cancelled: no setting is written before the
    review is answered with "apply".
    """

    def __init__(self, accept_defaults: bool = False) -> None:
        self.accept_defaults = accept_defaults
        self._output: Any = None

    def confirm(self, message: str, default: bool = True) -> bool:
        if self.accept_defaults:
            return self._take_default(message, "yes" if default else "no", default)
        import questionary

        return bool(self._ask(questionary.confirm(message, default=default, **self._common())))

    def select(self, message: str, choices: Sequence[tuple[str, str]], default: str) -> str:
        """choices: (title, value) pairs; returns the chosen value."""
        if self.accept_defaults:
            title = next(title for title, value in choices if value == default)
            return self._take_default(message, title, default)
        import questionary

        question = questionary.select(
            message,
            choices=[questionary.Choice(title, value) for title, value in choices],
            default=default,
            **self._common(),
        )
        return str(self._ask(question))

    def checkbox(
        self,
        message: str,
        choices: Sequence[tuple[str, str, bool]],
        require_one: str | None = None,
    ) -> list[str]:
        """choices: (title, value, checked); `require_one` is the error shown for no pick."""
        if self.accept_defaults:
            picked = [value for _, value, checked in choices if checked]
            shown = ", ".join(t for t, _, checked in choices if checked) or "none"
            return self._take_default(message, shown, picked)
        import questionary

        def validate(values: list[str]) -> bool | str:
            if not values and require_one:
                return require_one
            return True

        question = questionary.checkbox(
            message,
            choices=[questionary.Choice(t, v, checked=checked) for t, v, checked in choices],
            instruction="(space ticks, enter goes on)",
            validate=validate,
            **self._common(),
        )
        return [str(value) for value in self._ask(question)]

    def secret(self, message: str, validate: Callable[[str], bool | str]) -> str:
        """A hidden answer: it has no default, so even --yes asks for it."""
        import questionary

        return str(self._ask(questionary.password(message, validate=validate, **self._common())))

    def autocomplete(
        self, message: str, choices: Sequence[str], validate: Callable[[str], bool | str]
    ) -> str:
        """Free text completed from `choices`; empty means 'no choice'."""
        if self.accept_defaults:
            return self._take_default(message, "(default)", "")
        import questionary

        question = questionary.autocomplete(
            message, choices=list(choices), validate=validate, match_middle=True, **self._common()
        )
        return str(self._ask(question)).strip()

    def _take_default(self, message: str, shown: str, value: Any) -> Any:
        ui.say(f"{message} {shown} (--yes)", "dim")
        return value

    def _common(self) -> dict[str, Any]:
        # Human text goes to stderr (DESIGN §6), so `megallm setup | tee log` still shows prompts.
        if self._output is None:
            from prompt_toolkit.output import create_output

            self._output = create_output(stdout=sys.stderr)
        return {"output": self._output}

    @staticmethod
    def _ask(question: Any) -> Any:
        from prompt_toolkit.key_binding import KeyBindings, merge_key_bindings

        escape = KeyBindings()

        # Eager: fire as soon as the terminal's Esc arrives, instead of waiting a second more
        # for a meta-key combination (Esc b …) that these short prompts do not need.
        @escape.add("escape", eager=True)
        def _cancel(event: Any) -> None:
            event.app.exit(exception=KeyboardInterrupt, style="class:aborting")

        application = question.application
        own = application.key_bindings
        application.key_bindings = merge_key_bindings([own, escape]) if own else escape
        try:
            return question.unsafe_ask()
        except (KeyboardInterrupt, EOFError):  # EOFError: Ctrl-D in a text prompt
            raise Cancelled() from None


@dataclass
class Selection:
    """What the user chose to do with each agent."""

    setup: list[str] = field(default_factory=list)
    remove: dict[str, list[str]] = field(default_factory=dict)  # agent → levels set up now


def run(ctx: Context, options: Options, env: Mapping[str, str], prompter: Prompter) -> None:
    """The whole interactive setup; raises Cancelled (exit 130) when the user backs out."""
    ui.say(f"megallm {__version__} · MegaLLM setup · Ctrl-C or Esc cancels")
    rows = operations.status(ctx)
    show_detection(ctx, rows)
    rows = offer_installs(ctx, rows, prompter, preselect=options.install_missing)
    selection = pick_agents(ctx, rows, prompter)
    level = options.level
    if selection.setup:
        level, selection.setup = pick_level(ctx, selection.setup, prompter, options.level)
    request = None
    if selection.setup:
        from megallm_cli import models

        secret, key_check = obtain_key(ctx, env, prompter, options.verify_key)
        # As the flags do: the key check's /v1/models answer is the live catalog (and is cached).
        live = models.remember(ctx.paths, ctx.gateway, key_check) if key_check else None
        listed = live or models.catalog(ctx.paths, ctx.gateway, None, online=False)
        chosen = pick_models(selection.setup, prompter, options.models, listed)
        request = SetupRequest(
            agents=tuple(selection.setup),
            level=level,
            project_dir=ctx.project_dir,
            api_key=secret,
            gateway=ctx.gateway,
            models=chosen,
            claude_auth_variable=options.claude_auth_variable,
            fix_claude_comments=options.fix_claude_comments,
            model_catalog=live,
        )
    if not review(ctx, request, selection, prompter, options.dry_run):
        return
    results = apply(ctx, request, selection)
    finish(ctx, rows, request, selection, results, prompter)


# --- 1. detection -------------------------------------------------------------------------


def show_detection(ctx: Context, rows: Sequence[operations.AgentStatus]) -> None:
    from megallm_cli.system import current_shell, os_name

    shell = current_shell(ctx.paths) or "unknown shell"
    ui.say(f"{os_name(ctx.paths)} · {shell} · project {short_path(ctx, ctx.project_dir)}", "dim")
    table = []
    for row in rows:
        detection = row.detection
        agent = get_agent(detection.agent)
        if detection.installed:
            version = detection.version or "found"
            where = short_path(ctx, Path(detection.location)) if detection.location else ""
        else:
            version, where = "not found", ""
        set_up = [
            f"{c.level}: {short_path(ctx, c.files[0])}"
            for c in row.configured
            if ctx.gateway.matches(c.base_url) and c.files
        ]
        table.append([agent.display_name, version, "\n".join(set_up) or "no", where])
    ui.print_table(None, ["agent", "version", "MegaLLM config", "program"], table)


def megallm_levels(ctx: Context, row: operations.AgentStatus) -> list[str]:
    """The levels at which this agent already points at our gateway."""
    return list(dict.fromkeys(c.level for c in row.configured if ctx.gateway.matches(c.base_url)))


def short_path(ctx: Context, path: Path) -> str:
    try:
        return "~/" + path.relative_to(ctx.paths.home).as_posix()
    except ValueError:
        return str(path)


# --- 2. installing missing agents ---------------------------------------------------------


def offer_installs(
    ctx: Context,
    rows: list[operations.AgentStatus],
    prompter: Prompter,
    preselect: bool,
) -> list[operations.AgentStatus]:
    """Offer `npm install -g` for missing agents; returns the detection after any installs."""
    from megallm_cli import installer

    missing = [
        row.detection.agent
        for row in rows
        if not row.detection.installed and installer.installable(row.detection.agent)
    ]
    if not missing:
        return rows
    picked = prompter.checkbox(
        "Install missing agents? (none: skip)",
        [
            (f"{get_agent(a).display_name} ({installer.NPM_PACKAGES[a]})", a, preselect)
            for a in missing
        ],
    )
    if not picked:
        return rows
    readiness = _check_installer(ctx)
    packages = [installer.NPM_PACKAGES[a] for a in picked]
    if readiness.problem or readiness.npm is None:
        ui.warn(f"cannot install: {readiness.problem}")
        ui.say("run this yourself, then run `megallm setup` again:")
        for step in installer.manual_steps(packages, readiness):
            ui.say(f"  {step}")
        return rows
    command = installer.install_command(packages)
    if not prompter.confirm(f"Run `{command}` now?", default=True):
        return rows
    for result in install_agents(ctx, picked, readiness.npm):
        if not result.ok:
            ui.error(f"`{result.command}` failed (exit {result.returncode}); its output:")
            ui.say(result.output_tail())
    return _redetect(ctx, picked, readiness)


def install_missing(ctx: Context, agent_ids: Sequence[str]) -> None:
    """--install-missing: install the named agents that are missing, or fail saying how to."""
    from megallm_cli import installer

    missing = [
        d.agent
        for d in operations.detect_all(ctx, agent_ids)
        if not d.installed and installer.installable(d.agent)
    ]
    if not missing:
        return
    readiness = _check_installer(ctx)
    packages = [installer.NPM_PACKAGES[a] for a in missing]
    if readiness.problem or readiness.npm is None:
        raise MegallmError(
            f"cannot install {', '.join(packages)}: {readiness.problem}",
            hint="run it yourself: " + "; ".join(installer.manual_steps(packages, readiness)),
        )
    failed = [r for r in install_agents(ctx, missing, readiness.npm) if not r.ok]
    if failed:
        for result in failed:
            ui.say(result.output_tail())
        raise MegallmError(
            f"`{failed[0].command}` failed (exit {failed[0].returncode}); nothing was configured",
            hint="its output is above; fix that and run again",
        )
    _redetect(ctx, missing, readiness)


def install_agents(
    ctx: Context, agent_ids: Sequence[str], npm: Path
) -> list[installer.InstallResult]:
    from megallm_cli import installer

    results = []
    for agent_id in agent_ids:
        package = installer.NPM_PACKAGES[agent_id]
        with ui.progress(f"installing {package} (this can take a few minutes)…"):
            result = installer.install(ctx.paths, agent_id, npm)
        if result.ok:
            ui.say(f"{ui.symbol('ok')} installed {result.package}", "green")
        results.append(result)
    return results


def _check_installer(ctx: Context) -> installer.Readiness:
    from megallm_cli import installer

    with ui.progress("looking for Node.js and npm…"):
        return installer.check(ctx.paths)


def _redetect(
    ctx: Context, installed: Sequence[str], readiness: installer.Readiness
) -> list[operations.AgentStatus]:
    from megallm_cli import installer

    rows = operations.status(ctx)
    for row in rows:
        if row.detection.agent in installed and not row.detection.installed and readiness.prefix:
            where = installer.bin_dir(readiness.prefix, ctx.paths.family)
            name = get_agent(row.detection.agent).display_name
            ui.warn(f"{name} is still not found: add {where} to your PATH")
    return rows


# --- 3. which agents ----------------------------------------------------------------------


def pick_agents(
    ctx: Context, rows: Sequence[operations.AgentStatus], prompter: Prompter
) -> Selection:
    if prompter.accept_defaults and not any(row.detection.installed for row in rows):
        raise UsageError(
            "no agent detected, so --yes has none to pick", hint="name them with --agent ID"
        )
    choices = []
    for row in rows:
        detection = row.detection
        title = get_agent(detection.agent).display_name
        set_up_at = megallm_levels(ctx, row)
        if set_up_at:
            title += f" (set up for MegaLLM: {', '.join(set_up_at)})"
        elif not detection.installed:
            title += " (not found here)"
        choices.append((title, detection.agent, detection.installed))
    picked = prompter.checkbox(
        "Which agents should use MegaLLM?",
        choices,
        require_one="tick at least one agent with space (Ctrl-C to quit)",
    )
    selection = Selection()
    for row in rows:
        agent_id = row.detection.agent
        if agent_id not in picked:
            continue
        levels = megallm_levels(ctx, row)
        if not levels:
            selection.setup.append(agent_id)
            continue
        name = get_agent(agent_id).display_name
        action = prompter.select(
            f"{name} is already set up for MegaLLM ({', '.join(levels)}). Now?",
            [
                ("reconfigure (new key, level or model)", RECONFIGURE),
                ("keep it as it is", KEEP),
                ("remove the MegaLLM settings", REMOVE),
            ],
            default=RECONFIGURE,
        )
        if action == RECONFIGURE:
            selection.setup.append(agent_id)
        elif action == REMOVE:
            selection.remove[agent_id] = levels
    return selection


# --- 4. level -----------------------------------------------------------------------------


def pick_level(
    ctx: Context, agent_ids: list[str], prompter: Prompter, default: str
) -> tuple[str, list[str]]:
    """The level, and the agents that support it (the others are left out, with a note)."""
    user_only = [a for a in agent_ids if "project" not in get_agent(a).levels]
    if len(user_only) == len(agent_ids):
        names = ", ".join(get_agent(a).display_name for a in agent_ids)
        ui.say(f"level: user ({names}: user level only)", "dim")
        return "user", agent_ids
    caveat = ""
    if user_only:
        names = ", ".join(get_agent(a).display_name for a in user_only)
        caveat = f"; {names}: user level only, left out"
    project = short_path(ctx, ctx.project_dir)
    level = prompter.select(
        "Where should the settings go?",
        [
            ("user: your account, every project", "user"),
            (f"project: {project}{caveat}", "project"),
        ],
        default=default if default in LEVELS else "user",
    )
    if level == "project" and user_only:
        for agent_id in user_only:
            ui.say(
                f"left out {get_agent(agent_id).display_name}: user level only; "
                f"`megallm setup --agent {agent_id} --level user` sets it up",
                "yellow",
            )
        return level, [a for a in agent_ids if a not in user_only]
    return level, agent_ids


# --- 5. key -------------------------------------------------------------------------------


def obtain_key(
    ctx: Context, env: Mapping[str, str], prompter: Prompter, verify: bool
) -> tuple[Secret, KeyCheck | None]:
    """The key from MEGALLM_API_KEY (if the user agrees) or a hidden prompt, checked live.

    A key the gateway rejects is asked for again; an unreachable gateway is only a warning.
    """
    candidate = None
    from_env = env.get(KEY_ENV, "").strip()
    if from_env and prompter.confirm(f"Use the key in {KEY_ENV} ({mask_key(from_env)})?"):
        ui.register_secret(from_env)
        try:
            candidate, warnings = validate_key(from_env)
            _warn_all(warnings)
        except UsageError as problem:
            ui.warn(f"{KEY_ENV}: {problem.message}")
    if candidate is None:
        _explain_keys()
    while True:
        if candidate is None:
            candidate = _ask_key(prompter)
        ui.register_secret(candidate)
        if not verify:
            return Secret(candidate), None
        check = _check_key(ctx, candidate)
        if check.outcome not in REJECTED_KEY_OUTCOMES:
            return Secret(candidate), check
        ui.warn(f"the gateway rejected {mask_key(candidate)} ({check.detail}); paste it again")
        candidate = None


def _explain_keys() -> None:
    ui.say(f"No key yet? Get one at {KEY_HELP_URL}:")
    ui.say(f"  1. sign up or log in at {KEY_HELP_URL}")
    ui.say("  2. create an API key in your dashboard (it starts with sk-mega-)")
    ui.say("  3. paste it below; it stays hidden and is never shown in full")


def _ask_key(prompter: Prompter) -> str:
    def validate(raw: str) -> bool | str:
        try:
            validate_key(raw)
        except UsageError as problem:
            return problem.message
        return True

    key, warnings = validate_key(prompter.secret("MegaLLM API key:", validate))
    _warn_all(warnings)
    return key


def _check_key(ctx: Context, key: str) -> KeyCheck:
    from megallm_cli.gateway import check_key

    with ui.progress(f"checking the key with {ctx.gateway.origin}…"):
        check = check_key(ctx.gateway, key)
    if check.usable:
        ui.say(f"{ui.symbol('ok')} key accepted ({check.latency_ms:.0f} ms)", "green")
    elif check.outcome not in REJECTED_KEY_OUTCOMES:
        ui.warn(f"could not check the key ({check.outcome}: {check.detail}); going on")
    return check


def _warn_all(warnings: list[str]) -> None:
    for warning in warnings:
        ui.warn(warning)


# --- 6. models ----------------------------------------------------------------------------


def pick_models(
    agent_ids: Sequence[str],
    prompter: Prompter,
    preset: dict[str, str],
    catalog: ModelCatalog,
) -> dict[str, str]:
    """SetupRequest.models: `--model` entries if given, else per-agent picks from the catalog."""
    if preset:
        return dict(preset)
    available = catalog.ids
    if not available:
        return {}
    choice = prompter.select(
        "Default models?",
        [
            ("keep each agent's default", KEEP_DEFAULT_MODELS),
            (f"choose per agent ({catalog.describe()})", CHOOSE_MODELS),
        ],
        default=KEEP_DEFAULT_MODELS,
    )
    if choice == KEEP_DEFAULT_MODELS:
        return {}
    known = set(available)

    def validate(answer: str) -> bool | str:
        value = answer.strip()
        return not value or value in known or f"'{value}' is not in the model list"

    models = {}
    for agent_id in agent_ids:
        name = get_agent(agent_id).display_name
        model = prompter.autocomplete(f"{name} model (empty: its default):", available, validate)
        if model:
            models[agent_id] = model
    return models


# --- 7. review ----------------------------------------------------------------------------


def removal_plan(ctx: Context, selection: Selection) -> operations.Plan:
    """One plan that takes MegaLLM out of the agents marked for removal, at their levels."""
    from megallm_cli import shellenv

    # Setup runs first, so agents being set up that read MEGALLM_API_KEY still use the shell
    # env when the removal is planned again at apply time: keep the preview honest about that.
    keeps_env = any(get_agent(a).needs_shell_env for a in selection.setup)
    agent_plans: list[AgentPlan] = []
    for level in LEVELS:
        agent_ids = [a for a, levels in selection.remove.items() if level in levels]
        if agent_ids:
            plan = operations.plan_remove(ctx, agent_ids, level)
            agent_plans.extend(
                p for p in plan.agent_plans if not (keeps_env and p.agent == shellenv.AGENT)
            )
    return operations.Plan(agent_plans)


def review(
    ctx: Context,
    request: SetupRequest | None,
    selection: Selection,
    prompter: Prompter,
    dry_run: bool,
) -> bool:
    """Show what will change; True when the user says apply."""
    setup_plan = (
        operations.preview(lambda: operations.plan_setup(ctx, request))
        if request
        else operations.Plan([])
    )
    remove_plan = operations.preview(lambda: removal_plan(ctx, selection))
    setup_level = request.level if request else "user"
    remove_level = "project" if any("project" in v for v in selection.remove.values()) else "user"
    entries = [(c, _level_of(ctx, c.path, setup_level)) for c in setup_plan.pending]
    entries += [(c, _level_of(ctx, c.path, remove_level)) for c in remove_plan.pending]
    variables = [*setup_plan.user_variables, *remove_plan.user_variables]
    for secret in [*setup_plan.secrets, *remove_plan.secrets]:
        ui.register_secret(secret)
    if not entries and not variables:
        ui.say("already set up: nothing to change", "green")
        return False
    _print_review(ctx, entries)
    for variable in variables:
        ui.say(f"  {variable.summary} ({variable.location})")
    for note in [*setup_plan.all_notes(), *remove_plan.all_notes()]:
        ui.say(f"note: {note}", "yellow")
    pending = [change for change, _ in entries]
    if dry_run:
        _print_diffs(pending)
        ui.say("dry run: nothing was written")
        return False
    while True:
        answer = prompter.select(
            f"Apply {len(pending) + len(variables)} change(s)?",
            [("apply", APPLY), ("show the full diff (key masked)", SHOW_DIFF), ("cancel", CANCEL)],
            default=APPLY,
        )
        if answer == APPLY:
            return True
        if answer == CANCEL:
            raise Cancelled()
        _print_diffs(pending)


def _print_review(ctx: Context, entries: Sequence[tuple[FileChange, str]]) -> None:
    rows = [
        (_agent_name(c.agent), short_path(ctx, c.path), level, verb(c), c.summary)
        for c, level in entries
    ]
    if ui.console().width >= REVIEW_TABLE_MIN_WIDTH:
        ui.print_table(
            "Review",
            ["agent", "file", "level", "change"],
            [
                [agent, path, level, f"{action}: {summary}"]
                for agent, path, level, action, summary in rows
            ],
        )
        return
    ui.say("Review")
    for agent, path, level, action, summary in rows:
        ui.say(f"  {action} {path} ({agent}, {level})")
        ui.say(f"      {summary}", "dim")


def _print_diffs(changes: Sequence[FileChange]) -> None:
    from megallm_cli.changes import unified_diff

    for change in changes:
        ui.console().print(unified_diff(change, ui.mask), markup=False, highlight=False, end="")


def verb(change: FileChange) -> str:
    if change.before is None:
        return "create"
    return "delete" if change.after is None else "update"


def _level_of(ctx: Context, path: Path, planned: str) -> str:
    """A project-level run still writes some user files (Claude Code's ~/.claude.json)."""
    in_project = planned == "project" and path.is_relative_to(ctx.project_dir)
    return "project" if in_project else "user"


def _agent_name(agent_id: str) -> str:
    return get_agent(agent_id).display_name if agent_id in AGENT_IDS else agent_id


# --- 8. apply and what next ---------------------------------------------------------------


@dataclass
class Applied:
    setup: ApplyResult | None = None
    remove: ApplyResult | None = None
    written: list[FileChange] = field(default_factory=list)


def apply(ctx: Context, request: SetupRequest | None, selection: Selection) -> Applied:
    """Setup first, then removals: a removal planned after the setup sees which agents still
    read MEGALLM_API_KEY from the shell env, so it never drops the env they need."""
    applied = Applied()

    def progress(change: FileChange) -> None:
        applied.written.append(change)
        ui.say(f"  {ui.symbol('ok')} {_agent_name(change.agent)}: {short_path(ctx, change.path)}")

    if request is not None:
        ui.say("applying…")
        _, applied.setup = operations.apply_plan(
            ctx,
            operations.setup_command(request),
            lambda: operations.plan_setup(ctx, request),
            on_write=progress,
            on_wait=ui.waiting_for_lock,
        )
    if selection.remove:
        ui.say("removing…")
        _, applied.remove = operations.apply_plan(
            ctx,
            "remove " + " ".join(selection.remove),
            lambda: removal_plan(ctx, selection),
            on_write=progress,
            on_wait=ui.waiting_for_lock,
        )
    return applied


def finish(
    ctx: Context,
    rows: Sequence[operations.AgentStatus],
    request: SetupRequest | None,
    selection: Selection,
    applied: Applied,
    prompter: Prompter,
) -> None:
    written_by = {c.agent for c in applied.written}
    table = []
    for agent_id in selection.setup:
        outcome = "configured" if agent_id in written_by else "already set"
        table.append([_agent_name(agent_id), request.level if request else "", outcome])
    for agent_id, levels in selection.remove.items():
        outcome = "removed" if agent_id in written_by else "nothing to remove"
        table.append([_agent_name(agent_id), ", ".join(levels), outcome])
    ui.print_table("Result", ["agent", "level", "result"], table)
    for result in (applied.setup, applied.remove):
        if result and result.session_id:
            ui.say(
                f"backup {result.session_id}: undo with `megallm restore --id {result.session_id}`"
            )
    if any(c.agent == "shell" and c.after is not None for c in applied.written):
        hint = operations.activation_hint(ctx)
        ui.say(
            f"next: run `{hint}` here (new terminals load it themselves)"
            if hint
            else f"next: open a new terminal, so {KEY_ENV} is set"
        )
    touched = {*selection.setup, *selection.remove}
    for row in rows:
        if row.detection.running and row.detection.agent in touched & written_by:
            ui.say(
                f"restart {_agent_name(row.detection.agent)}: it is running with the old settings"
            )
    try:
        if selection.setup and prompter.confirm("Run `megallm doctor` now?", default=True):
            _doctor_summary(ctx, selection.setup)
    except (Cancelled, KeyboardInterrupt):
        # The changes are in place: Ctrl-C here skips the doctor, it does not undo anything.
        ui.say("doctor skipped: run `megallm doctor` any time")


def _doctor_summary(ctx: Context, agent_ids: Sequence[str]) -> None:
    from megallm_cli import doctor

    findings = doctor.run(ctx, agent_ids)
    for finding in findings:
        if finding.status in ("warn", "fail"):
            line = f"  {ui.symbol(finding.status)} {_agent_name(finding.agent)}: {finding.title}"
            ui.say(line, ui.STYLE[finding.status])
            if finding.hint:
                ui.say(f"      fix: {finding.hint}", "dim")
    failed = sum(f.status == "fail" for f in findings)
    warned = sum(f.status == "warn" for f in findings)
    ui.say(
        f"doctor: {len(findings) - failed - warned} passed, {warned} warning(s), "
        f"{failed} problem(s)",
        "red" if failed else ("yellow" if warned else "green"),
    )
