"""The Agent protocol: every agent module detects, plans, checks and unconfigures the same way."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol

from megallm_cli.changes import FileChange, UserVariableChange
from megallm_cli.paths import Paths
from megallm_cli.request import Gateway, SetupRequest

if TYPE_CHECKING:
    from megallm_cli.shellenv import UserEnvironment

Status = Literal["ok", "warn", "fail", "info"]


@dataclass(frozen=True)
class Context:
    """What an agent may look at: the re-rootable paths, the project dir and the gateway.

    `user_env` is the OS's persistent per-user variables (Windows' HKCU\\Environment), None
    where there are none; tests put a fake there.
    """

    paths: Paths
    project_dir: Path
    gateway: Gateway = field(default_factory=Gateway)
    user_env: UserEnvironment | None = None


@dataclass(frozen=True)
class Detection:
    agent: str
    installed: bool
    version: str | None = None
    location: str | None = None
    running: bool = False
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Finding:
    """One doctor check: what was verified, how it came out, and one fix when it failed."""

    agent: str
    status: Status
    title: str
    detail: str = ""
    hint: str | None = None


@dataclass(frozen=True)
class Configured:
    """What the agent's files say right now, at one level."""

    agent: str
    level: str
    files: tuple[Path, ...]
    base_url: str | None
    key: str | None = None
    model: str | None = None

    @property
    def is_configured(self) -> bool:
        return self.base_url is not None


@dataclass
class AgentPlan:
    agent: str
    changes: list[FileChange] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    """Variables the agent reads from its environment, to persist in the user's shells."""
    user_variables: list[UserVariableChange] = field(default_factory=list)
    secrets: list[str] = field(default_factory=list)
    """Values the changes' diffs may show that are not the request's key (a key remove puts
    back, the key being removed): masked wherever a plan is shown."""


class Agent(Protocol):
    id: str
    display_name: str
    levels: tuple[str, ...]
    needs_shell_env: bool
    """True when the agent's config refers to MEGALLM_API_KEY instead of holding the key."""

    def detect(self, ctx: Context) -> Detection: ...

    def plan(self, ctx: Context, request: SetupRequest) -> AgentPlan: ...

    def unconfigure(self, ctx: Context, level: str) -> AgentPlan: ...

    def configured(self, ctx: Context) -> list[Configured]: ...

    def check(self, ctx: Context) -> list[Finding]: ...
