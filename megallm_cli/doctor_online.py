"""doctor --online: ask the gateway, with each agent's own key, whether that agent will work.

One GET /v1/models per distinct (gateway, key) answers three questions at once: is the gateway
reachable, is the key accepted, which models exist. With --probe, one tiny request per distinct
(wire format, key, auth, model) shows the endpoint the agent talks to really answers; without
it nothing is sent that could cost tokens. Every finding says which request showed it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TypeVar

from megallm_cli.agents import AGENT_IDS, get_agent
from megallm_cli.agents.base import Configured, Context, Finding
from megallm_cli.gateway import (
    AUTH_BEARER,
    AUTH_X_API_KEY,
    CHAT_COMPLETIONS,
    DEFAULT_TIMEOUT,
    MESSAGES,
    PROBE_TIMEOUT,
    RESPONSES,
    KeyCheck,
    ProbeResult,
    Wire,
    check_key,
    models_url,
    probe,
)
from megallm_cli.keysource import KEY_ENV
from megallm_cli.request import Gateway, mask_key

GROUP = "gateway"
MAX_WORKERS = 8
# OpenCode and Kilo name models "<provider>/<id>"; the gateway knows only the id.
PROVIDER_PREFIX = "megallm/"
SHOWN_MODELS = 8

# The API each agent speaks (DESIGN §3; observed on the real agents).
WIRE_OF_AGENT: dict[str, Wire] = {
    "claude-code": MESSAGES,
    "codex": RESPONSES,
    "opencode": CHAT_COMPLETIONS,
    "kilo": CHAT_COMPLETIONS,
    "cline": CHAT_COMPLETIONS,
    "roo-code": CHAT_COMPLETIONS,
}

_T = TypeVar("_T")
_R = TypeVar("_R")


@dataclass(frozen=True)
class Target:
    """One agent configuration to check: where it sends which key, in which format."""

    agent: str
    gateway: Gateway
    key: str
    key_source: str = field(compare=False)  # several files may hold the same key
    wire: Wire | None = None
    auth: str = AUTH_BEARER
    model: str | None = None

    @property
    def catalog_model(self) -> str | None:
        """The model id as the gateway's catalog names it."""
        if self.model and self.model.startswith(PROVIDER_PREFIX):
            return self.model[len(PROVIDER_PREFIX) :]
        return self.model


def run(
    ctx: Context,
    agent_ids: Sequence[str] | None = None,
    *,
    probe_wires: bool = False,
    timeout: float = DEFAULT_TIMEOUT,
    probe_timeout: float = PROBE_TIMEOUT,
) -> list[Finding]:
    """Online checks for the named agents, or for every configured one."""
    targets, findings = collect_targets(ctx, agent_ids or AGENT_IDS, explicit=bool(agent_ids))
    findings.extend(
        check_targets(
            targets, probe_wires=probe_wires, timeout=timeout, probe_timeout=probe_timeout
        )
    )
    return findings


def collect_targets(
    ctx: Context, agent_ids: Sequence[str], explicit: bool
) -> tuple[list[Target], list[Finding]]:
    """What each agent is configured with, and findings for configurations that can't be checked.

    Only configurations pointing at the expected gateway are checked: a key is never sent to a
    host the user did not name.
    """
    from megallm_cli.shellenv import persisted_value

    persisted = persisted_value(ctx.paths, KEY_ENV)
    live = ctx.paths.env.get(KEY_ENV)
    targets: list[Target] = []
    findings: list[Finding] = []
    for agent_id in agent_ids:
        agent = get_agent(agent_id)
        entries = agent.configured(ctx)
        if not entries and explicit:
            findings.append(Finding(agent_id, "info", "not checked online: not configured"))
        for entry in entries:
            if not ctx.gateway.matches(entry.base_url):
                findings.append(
                    Finding(
                        agent_id,
                        "info",
                        f"not checked online: points at {entry.base_url}",
                        f"{entry.files[0]}; the expected gateway is {ctx.gateway.origin} "
                        "(pass --base-url to check another one)",
                    )
                )
                continue
            if entry.key:
                key, source = entry.key, f"inline in {entry.files[0]}"
            elif persisted:
                key, source = persisted, f"{KEY_ENV} persisted in {ctx.paths.config_dir}"
            elif live:
                key, source = live, f"{KEY_ENV} of this shell"
            else:
                findings.append(
                    Finding(
                        agent_id,
                        "fail",
                        "no key to check online",
                        f"{entry.files[0]} holds no key and {KEY_ENV} is neither persisted nor "
                        "set in this shell",
                        hint=f"run `megallm setup --agent {agent_id}`",
                    )
                )
                continue
            target = Target(
                agent_id,
                ctx.gateway,
                key,
                source,
                WIRE_OF_AGENT.get(agent_id),
                _auth_scheme(agent_id, entry),
                entry.model,
            )
            if target not in targets:
                targets.append(target)
    return targets, findings


def _auth_scheme(agent_id: str, entry: Configured) -> str:
    """How the agent sends the key: only Claude Code can use x-api-key (ANTHROPIC_API_KEY)."""
    if agent_id != "claude-code":
        return AUTH_BEARER
    from megallm_cli.agents.claude_code import _auth_variable_of

    return AUTH_X_API_KEY if _auth_variable_of(entry) == "ANTHROPIC_API_KEY" else AUTH_BEARER


def _in_parallel(function: Callable[[_T], _R], items: list[_T]) -> dict[_T, _R]:
    """function(item) for every item, all at once: the slowest call sets the wall time."""
    if not items:
        return {}
    with ThreadPoolExecutor(max_workers=min(MAX_WORKERS, len(items))) as pool:
        return dict(zip(items, pool.map(function, items), strict=True))


def check_targets(
    targets: list[Target],
    *,
    probe_wires: bool,
    timeout: float = DEFAULT_TIMEOUT,
    probe_timeout: float = PROBE_TIMEOUT,
) -> list[Finding]:
    """Key checks for every distinct (gateway, key) at once, then the probes at once."""
    pairs = list(dict.fromkeys((t.gateway, t.key) for t in targets))
    checks = _in_parallel(lambda pair: check_key(*pair, timeout), pairs)
    findings: list[Finding] = []
    for origin in dict.fromkeys(gateway for gateway, _ in pairs):
        answered = [checks[pair] for pair in pairs if pair[0] == origin]
        findings.append(_reach_finding(origin, answered, timeout))
    for pair in pairs:
        users = [t for t in targets if (t.gateway, t.key) == pair]
        finding = _key_finding(pair[0], pair[1], checks[pair], users)
        if finding:
            findings.append(finding)

    jobs = {target: _probe_job(target, checks[(target.gateway, target.key)]) for target in targets}
    distinct = list(dict.fromkeys(job for job in jobs.values() if job)) if probe_wires else []
    results = _in_parallel(lambda job: probe(*job, probe_timeout), distinct)
    for target in targets:
        check = checks[(target.gateway, target.key)]
        findings.append(_model_finding(target, check))
        job = jobs[target]
        result = results.get(job) if job else None
        findings.append(_wire_finding(target, check, probe_wires, result))
    return findings


ProbeJob = tuple[Gateway, Wire, str, str, str]


def _probe_job(target: Target, check: KeyCheck) -> ProbeJob | None:
    """probe()'s arguments for this target; None when a probe could only repeat a failure."""
    model = _probe_model(target, check)
    if target.wire is None or not check.usable or model is None:
        return None
    return (target.gateway, target.wire, target.key, model, target.auth)


def _ms(latency: float) -> str:
    return f"{latency:.0f} ms"


def _models_request(gateway: Gateway) -> str:
    return f"GET {models_url(gateway)}"


def _reach_finding(gateway: Gateway, checks: list[KeyCheck], timeout: float) -> Finding:
    answered = [check for check in checks if check.answered]
    if answered:
        fastest = min(check.latency_ms for check in answered)
        return Finding(
            GROUP,
            "ok",
            f"gateway reachable: {_models_request(gateway)} answered in {_ms(fastest)}",
        )
    check = checks[0]
    if check.outcome == "timeout":
        return Finding(
            GROUP,
            "fail",
            f"{gateway.origin} did not answer within {timeout:g} s",
            f"{_models_request(gateway)}: {check.detail}",
            hint="the gateway is slow or stuck: try again in a minute; if it persists, check "
            "the base URL (--base-url / MEGALLM_BASE_URL) and any proxy in between",
        )
    return Finding(
        GROUP,
        "fail",
        f"cannot reach {gateway.origin}",
        f"{_models_request(gateway)} failed after {_ms(check.latency_ms)}: {check.detail}",
        hint="check the network (proxy, VPN, firewall) and the base URL "
        "(--base-url / MEGALLM_BASE_URL); is the gateway up?",
    )


def _key_finding(
    gateway: Gateway, key: str, check: KeyCheck, users: list[Target]
) -> Finding | None:
    if not check.answered:
        return None  # the reach finding already says why nothing could be judged
    masked = mask_key(key)
    how = f"GET /v1/models → {check.status} in {_ms(check.latency_ms)}"
    agents = ", ".join(dict.fromkeys(t.agent for t in users))
    where = f"used by {agents}: {users[0].key_source}"
    setup = f"megallm setup --agent {' --agent '.join(dict.fromkeys(t.agent for t in users))}"
    if check.usable:
        count = f"{len(check.models)} model{'s' if len(check.models) != 1 else ''}"
        return Finding(GROUP, "ok", f"key {masked} accepted: {how} ({count})", where)
    detail = f"{check.detail}; {where}"
    if check.outcome == "unauthorized":
        return Finding(
            GROUP,
            "fail",
            f"key {masked} is invalid: {how}",
            detail,
            hint=f"copy the key again from the MegaLLM dashboard, then run `{setup}` "
            "(it replaces the key everywhere)",
        )
    if check.outcome == "forbidden":
        return Finding(
            GROUP,
            "fail",
            f"key {masked} is revoked or not allowed: {how}",
            detail,
            hint=f"create a new key in the MegaLLM dashboard, then run `{setup}` with it",
        )
    if check.outcome == "rate_limited":
        wait = f"retry after {check.retry_after} s" if check.retry_after else "retry later"
        return Finding(
            GROUP,
            "warn",
            f"rate limited: {how}",
            f"{detail}; the key itself was not judged",
            hint=f"{wait}: run `megallm doctor --online` again then",
        )
    if check.outcome == "server_error":
        return Finding(
            GROUP,
            "fail",
            f"the gateway failed: {how}",
            detail,
            hint="the gateway has a problem, not your setup: try again later",
        )
    return Finding(
        GROUP,
        "fail",
        f"unexpected answer: {how}",
        detail,
        hint=f"is {gateway.origin} a MegaLLM gateway? The base URL is the origin, without /v1 "
        "(--base-url / MEGALLM_BASE_URL)",
    )


def _model_finding(target: Target, check: KeyCheck) -> Finding:
    model = target.catalog_model
    if not model:
        return Finding(
            target.agent,
            "info",
            "no model configured: the agent uses its built-in default",
            "the gateway may not serve that model",
        )
    if not check.usable:
        return Finding(
            target.agent,
            "info",
            f"model {model} not checked: the gateway's model list could not be read",
        )
    if model in check.models:
        return Finding(
            target.agent, "ok", f"model {model} is in the gateway's catalog (GET /v1/models)"
        )
    shown = ", ".join(check.models[:SHOWN_MODELS])
    more = (
        f" and {len(check.models) - SHOWN_MODELS} more" if len(check.models) > SHOWN_MODELS else ""
    )
    return Finding(
        target.agent,
        "fail",
        f"model {model} is not in the gateway's catalog",
        f"GET /v1/models lists {len(check.models)} models: {shown}{more}",
        hint=f"pick one: `megallm setup --agent {target.agent} --model <id>` "
        "(`megallm models` lists them)",
    )


def _probe_model(target: Target, check: KeyCheck) -> str | None:
    """The configured model, else a catalog model of the agent's family for the probe."""
    if target.catalog_model:
        return target.catalog_model
    if not check.models:
        return None
    if target.wire is MESSAGES:
        return next((m for m in check.models if "claude" in m), check.models[0])
    return check.models[0]


def _wire_finding(
    target: Target, check: KeyCheck, probe_wires: bool, result: ProbeResult | None
) -> Finding:
    wire = target.wire
    if wire is None:
        return Finding(target.agent, "info", "wire format unknown: not probed")
    api = f"{wire.name} API ({wire.request_line})"
    if not probe_wires:
        return Finding(
            target.agent,
            "info",
            f"{api} not probed",
            "pass --probe to send one 1-token request (it costs tokens)",
        )
    if result is None:
        if not check.answered:
            why = "the gateway did not answer"
        elif not check.usable:
            why = f"the key check failed ({check.outcome})"
        else:
            why = "no model to probe with"
        return Finding(target.agent, "info", f"{api} not probed: {why}")
    model = _probe_model(target, check)
    sent = f"{wire.request_line} → {result.status} in {_ms(result.latency_ms)}"
    how = f"model {model}, key as {target.auth}"
    if result.ok:
        return Finding(target.agent, "ok", f"{wire.name} API answers: {sent} ({how})")
    if result.status is None:
        return Finding(
            target.agent,
            "fail",
            f"{wire.name} API did not answer: {wire.request_line}",
            f"{result.detail}; {how}",
            hint="the gateway answered GET /v1/models but not this; try again later",
        )
    detail = f"{result.detail}; {how}"
    if result.outcome == "not_found":
        return Finding(
            target.agent,
            "fail",
            f"the gateway has no {wire.name} API: {sent}",
            detail,
            hint=_missing_api_hint(target.agent, wire),
        )
    if result.outcome == "model_not_found":
        return Finding(
            target.agent,
            "fail",
            f"model {model} refused: {sent}",
            detail,
            hint=f"pick a model the gateway serves: `megallm setup --agent {target.agent} "
            "--model <id>`",
        )
    if result.outcome in ("unauthorized", "forbidden"):
        other = "auth-token" if target.auth == AUTH_X_API_KEY else "api-key"
        hint = (
            f"the gateway may not take the key as {target.auth}: try "
            f"`megallm setup --agent claude-code --claude-auth {other}`"
            if target.agent == "claude-code"
            else "check the key in the MegaLLM dashboard, then run `megallm setup` again"
        )
        return Finding(target.agent, "fail", f"key refused: {sent}", detail, hint=hint)
    if result.outcome == "rate_limited":
        return Finding(
            target.agent, "warn", f"rate limited: {sent}", detail, hint="try again later"
        )
    if result.outcome == "server_error":
        return Finding(
            target.agent,
            "fail",
            f"the gateway failed: {sent}",
            detail,
            hint="the gateway has a problem, not your setup: try again later",
        )
    return Finding(
        target.agent,
        "fail",
        f"request refused: {sent}",
        detail,
        hint="the gateway rejects what this agent sends; report it with this output",
    )


def _missing_api_hint(agent_id: str, wire: Wire) -> str:
    if wire is RESPONSES:
        return (
            f"{agent_id} speaks only the Responses API (POST /v1/responses): point it at a "
            "gateway that serves it — check --base-url / MEGALLM_BASE_URL"
        )
    return f"{agent_id} needs {wire.request_line}: check --base-url / MEGALLM_BASE_URL"
