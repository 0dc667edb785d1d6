"""The agent registry: adding an agent is one module plus one line here."""

from __future__ import annotations

import importlib

from megallm_cli.agents.base import Agent
from megallm_cli.errors import UsageError

# id → "module:attribute"; modules load lazily so `megallm --help` imports none of them.
_REGISTRY = {
    "claude-code": "megallm_cli.agents.claude_code:AGENT",
    "codex": "megallm_cli.agents.codex:AGENT",
    "opencode": "megallm_cli.agents.opencode:AGENT",
    "kilo": "megallm_cli.agents.kilo:AGENT",
    "cline": "megallm_cli.agents.cline:AGENT",
    "roo-code": "megallm_cli.agents.roo:AGENT",
}

AGENT_IDS: tuple[str, ...] = tuple(_REGISTRY)


def get_agent(agent_id: str) -> Agent:
    try:
        target = _REGISTRY[agent_id]
    except KeyError:
        raise UsageError(
            f"unknown agent '{agent_id}'", hint=f"agents are: {', '.join(AGENT_IDS)}"
        ) from None
    module_name, _, attribute = target.partition(":")
    agent: Agent = getattr(importlib.import_module(module_name), attribute)
    return agent


def all_agents() -> list[Agent]:
    return [get_agent(agent_id) for agent_id in AGENT_IDS]
