"""Codex: `model_provider = "megallm"` and a [model_providers.megallm] table in config.toml.

Facts (DESIGN §3 and docs/REAL_AGENTS.md, observed on 0.171.0): only the user file counts —
project `.codex/config.toml` cannot set providers; the provider reads the key from the variable
its `env_key` names, so the key lives in the shell env, never in config.toml; `wire_api` must be
"responses" ("chat" makes Codex refuse the whole file, in any provider table); the ids openai,
ollama and lmstudio are reserved built-ins and a top-level `profile` is a hard error; without
`model` Codex asks the gateway for its own default, `gpt-6.2-sol`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from megallm_cli.agents.base import AgentPlan, Configured, Context, Detection, Finding
from megallm_cli.changes import FileChange, bytes_after_removal
from megallm_cli.errors import ConfigParseError, FileProblem, UsageError
from megallm_cli.formats import toml
from megallm_cli.formats.text import decode_utf8, encode_utf8
from megallm_cli.fsio import read_bytes
from megallm_cli.keysource import KEY_ENV
from megallm_cli.request import SetupRequest
from megallm_cli.system import (
    find_executable,
    npm_package_version,
    running_processes,
    user_bin_dirs,
)

AGENT_ID = "codex"
PACKAGE = "@openai/codex"
PROVIDER_ID = "megallm"
PROVIDER_TABLE = ("model_providers", PROVIDER_ID)
# Observed: Codex refuses a config whose model_providers override one of these built-ins.
RESERVED_PROVIDER_IDS = ("openai", "ollama", "lmstudio")
# A key written into the file: a second copy that megallm would not keep in step with the env.
INLINE_TOKEN = "experimental_bearer_token"
# Codex's own default (gpt-6.2-sol) is unknown to the gateway; gpt-5 is one of its OpenAI models.
DEFAULT_MODEL = "gpt-5"


@dataclass(frozen=True)
class ConfigText:
    path: Path
    before: bytes | None
    editor: toml.Editor

    @property
    def text(self) -> str:
        return self.editor.original

    @property
    def value(self) -> dict[str, Any]:
        return self.editor.value


@dataclass(frozen=True)
class PreviousSettings:
    """model_provider and model as they were before megallm first pointed Codex at the gateway."""

    session_id: str
    data: bytes | None
    """The whole file then; None: it did not exist."""
    model_provider: str | None
    model: str | None


class Codex:
    id = AGENT_ID
    display_name = "Codex"
    levels = ("user",)
    needs_shell_env = True

    @staticmethod
    def config_file(ctx: Context) -> Path:
        return ctx.paths.codex_home / "config.toml"

    # --- detect ---
    def detect(self, ctx: Context) -> Detection:
        binary = find_executable("codex", ctx.paths, user_bin_dirs(ctx.paths))
        if binary is None:
            return Detection(AGENT_ID, installed=False)
        return Detection(
            AGENT_ID,
            installed=True,
            version=npm_package_version(binary, PACKAGE),
            location=str(binary),
            running=bool(_running_codex()),
        )

    # --- plan ---
    def plan(self, ctx: Context, request: SetupRequest) -> AgentPlan:
        if request.level != "user":
            raise UsageError(
                "Codex has no project level: it ignores model_provider and [model_providers] in "
                "a project's .codex/config.toml, even in a trusted project",
                hint="run `megallm setup --agent codex --level user` (other agents can still "
                "use --level project in their own run)",
            )
        plan = AgentPlan(AGENT_ID, env={KEY_ENV: request.api_key.reveal()})
        config = load(self.config_file(ctx))
        path = config.path
        editor = config.editor
        previous_provider = config.value.get("model_provider")
        if previous_provider not in (None, PROVIDER_ID):
            plan.notes.append(
                f"model_provider was {previous_provider!r} in {path}; `megallm remove --agent "
                "codex` or `megallm restore` brings it back"
            )
        model = self._model(request, config.value, plan.notes)
        wanted = _provider_settings(ctx)
        inline_token = INLINE_TOKEN in _table(config.value, *PROVIDER_TABLE)
        with _reported(path):
            editor.set((), "model_provider", PROVIDER_ID)
            if model is not None:
                editor.set((), "model", model)
            for key, value in wanted.items():
                editor.set(PROVIDER_TABLE, key, value)
            if inline_token:
                editor.delete(PROVIDER_TABLE, INLINE_TOKEN)
            text = editor.text()
        if inline_token:
            plan.notes.append(
                f"removed {INLINE_TOKEN} from [model_providers.megallm]: Codex now reads the key "
                f"from {KEY_ENV} (restore brings the old line back)"
            )
        for problem in _blocking_problems(path, config):
            plan.notes.append(f"{problem.title} ({problem.detail}): {problem.hint}")
        if _running_codex():
            plan.notes.append("Codex is running: restart it to pick up the new provider")
        final_model = model if model is not None else config.value.get("model")

        def validate(data: bytes) -> None:
            written = toml.parse(decode_utf8(data, path))
            table = _table(written, *PROVIDER_TABLE)
            wrong = [key for key, value in wanted.items() if table.get(key) != value]
            if (
                wrong
                or INLINE_TOKEN in table
                or written.get("model_provider") != PROVIDER_ID
                or written.get("model") != final_model
            ):
                raise ValueError(f"{path}: the MegaLLM provider does not read back as written")

        summary = "model_provider = megallm, model_providers.megallm"
        plan.changes.append(
            FileChange(
                path=path,
                before=config.before,
                after=encode_utf8(text),
                agent=AGENT_ID,
                summary=summary + (f", model = {model}" if model else ""),
                validate=validate,
            )
        )
        return plan

    @staticmethod
    def _model(request: SetupRequest, value: dict[str, Any], notes: list[str]) -> str | None:
        """The model to write, or None to keep the one the file has."""
        chosen = request.model_for(AGENT_ID)
        if chosen:
            return chosen
        existing = value.get("model")
        if isinstance(existing, str):
            notes.append(
                f"kept model = {existing!r} in Codex's config; pass --model codex=ID for another"
            )
            return None
        notes.append(
            f"set model = {DEFAULT_MODEL!r} for Codex: without one it asks the gateway for its "
            "built-in default, which the gateway may not serve; pass --model codex=ID to choose"
        )
        return DEFAULT_MODEL

    # --- remove ---
    def unconfigure(self, ctx: Context, level: str) -> AgentPlan:
        plan = AgentPlan(AGENT_ID)
        if level != "user":
            plan.notes.append("Codex is set up at user level only: nothing to remove in a project")
            return plan
        config = load(self.config_file(ctx))
        path = config.path
        ours = config.value.get("model_provider") == PROVIDER_ID
        if not ours and not _table(config.value, *PROVIDER_TABLE):
            return plan
        editor = config.editor
        previous = previous_settings(ctx, path) if ours else None
        with _reported(path):
            if ours and previous is None:
                editor.delete((), "model_provider")
                plan.notes.append(
                    "no backup shows Codex's model_provider before megallm: removed it, so "
                    "Codex uses its default provider (openai)"
                )
                model = config.value.get("model")
                if isinstance(model, str):
                    plan.notes.append(
                        f"kept model = {model!r} in {path}: remove it by hand if megallm set it"
                    )
            elif ours and previous is not None:
                model_set = _model_setup_wrote(ctx, path)
                for key, old in (
                    ("model_provider", previous.model_provider),
                    ("model", previous.model),
                ):
                    if config.value.get(key) == old:
                        continue
                    if key == "model" and config.value.get(key) != model_set:
                        plan.notes.append(
                            f"kept model = {config.value.get(key)!r} in {path}: set after "
                            "megallm's setup, so it is yours"
                        )
                        continue
                    if old is None:
                        editor.delete((), key)
                    else:
                        editor.set((), key, old)
                    restored = "removed" if old is None else f"back to {old!r}"
                    plan.notes.append(
                        f"{key} {restored} in {path}, as it was before megallm set Codex up "
                        f"(backup {previous.session_id})"
                    )
            editor.delete_table(PROVIDER_TABLE)
            text = editor.text()
        after = (
            encode_utf8(text)  # no backup: nothing to go back to
            if previous is None
            else bytes_after_removal(
                text,
                previous.data,
                nothing_left=lambda: not text.strip("\ufeff \t\r\n"),
                reads_the_same=lambda data: _same_document(text, data, path),
            )
        )
        plan.changes.append(
            FileChange(path, config.before, after, AGENT_ID, "remove the MegaLLM provider")
        )
        return plan

    # --- status ---
    def configured(self, ctx: Context) -> list[Configured]:
        path = self.config_file(ctx)
        try:
            value = load(path).value
        except (ConfigParseError, OSError):
            return []
        provider_id = value.get("model_provider")
        if not isinstance(provider_id, str):
            return []
        provider = _table(value, "model_providers", provider_id)
        base_url = provider.get("base_url")
        if not isinstance(base_url, str):
            return []
        token = provider.get(INLINE_TOKEN)
        model = value.get("model")
        return [
            Configured(
                AGENT_ID,
                "user",
                (path,),
                base_url,
                key=token if isinstance(token, str) else None,
                model=model if isinstance(model, str) else None,
            )
        ]

    # --- doctor ---
    def check(self, ctx: Context) -> list[Finding]:
        path = self.config_file(ctx)
        setup_hint = "run `megallm setup --agent codex`"
        try:
            config = load(path)
        except ConfigParseError as error:
            return [
                Finding(AGENT_ID, "fail", f"{path} is not valid TOML", error.message, error.hint)
            ]
        except FileProblem as problem:
            return [
                Finding(AGENT_ID, "fail", f"{path} cannot be read", problem.message, problem.hint)
            ]
        if config.before is None:
            return [
                Finding(
                    AGENT_ID,
                    "fail",
                    "not configured for MegaLLM",
                    f"{path} does not exist",
                    hint=setup_hint,
                )
            ]
        findings = [Finding(AGENT_ID, "ok", f"{path} parses")]
        findings.extend(_blocking_problems(path, config))
        provider_id = config.value.get("model_provider")
        if provider_id != PROVIDER_ID:
            findings.append(
                Finding(
                    AGENT_ID,
                    "fail",
                    "not configured for MegaLLM",
                    f"{path}: model_provider is {provider_id!r}, not {PROVIDER_ID!r}"
                    if provider_id is not None
                    else f"{path} sets no model_provider",
                    hint=setup_hint,
                )
            )
            return findings
        findings.append(Finding(AGENT_ID, "ok", f"model_provider = {PROVIDER_ID!r}", str(path)))
        provider = _table(config.value, *PROVIDER_TABLE)
        if not provider:
            findings.append(
                Finding(
                    AGENT_ID,
                    "fail",
                    "no [model_providers.megallm] table",
                    f"{path}: model_provider names a provider that is not defined",
                    hint=setup_hint,
                )
            )
            return findings
        findings.extend(_check_provider(ctx, path, config.text, provider))
        findings.extend(_check_model(path, config.value))
        findings.extend(_check_running(path))
        return findings


def load(path: Path) -> ConfigText:
    """Read and parse config.toml; a missing file is an empty document."""
    before = read_bytes(path)
    text = "" if before is None else decode_utf8(before, path)
    with _reported(path):
        return ConfigText(path, before, toml.Editor(text))


@contextmanager
def _reported(path: Path) -> Iterator[None]:
    """A TOML error becomes this file's path:line:col, with the file left untouched."""
    try:
        yield
    except toml.TomlError as error:
        raise ConfigParseError(path, error.line, error.col, error.reason) from None


def _table(value: dict[str, Any], *keys: str) -> dict[str, Any]:
    for key in keys:
        inner = value.get(key) if isinstance(value, dict) else None
        value = inner if isinstance(inner, dict) else {}
    return value


def _provider_settings(ctx: Context) -> dict[str, str]:
    return {
        "name": "MegaLLM",
        "base_url": ctx.gateway.openai_base_url,
        "env_key": KEY_ENV,
        "wire_api": "responses",
    }


def _model_setup_wrote(ctx: Context, path: Path) -> object:
    """The `model` the newest setup that changed it left in config.toml (None: none did)."""
    from megallm_cli import backups

    def model_in(data: bytes | None) -> object:
        try:
            return toml.parse(decode_utf8(data or b"", path)).get("model")
        except (ConfigParseError, toml.TomlError):
            return None

    return backups.value_megallm_wrote(ctx.paths.backups_dir, path, model_in)


def previous_settings(ctx: Context, path: Path) -> PreviousSettings | None:
    """model_provider and model in the newest backup taken before megallm pointed Codex at it."""
    from megallm_cli import backups

    def provider_of(data: bytes | None) -> object:
        if data is None:
            return None
        try:
            return toml.parse(decode_utf8(data, path)).get("model_provider")
        except (ConfigParseError, toml.TomlError):
            return PROVIDER_ID  # unparsable: not a state remove could put back

    prior = backups.image_before_megallm(
        ctx.paths.backups_dir, path, lambda data: provider_of(data) == PROVIDER_ID
    )
    if prior is None:
        return None
    value = {} if prior.data is None else toml.parse(decode_utf8(prior.data, path))
    provider = value.get("model_provider")
    model = value.get("model")
    return PreviousSettings(
        prior.session_id,
        prior.data,
        provider if isinstance(provider, str) else None,
        model if isinstance(model, str) else None,
    )


def _same_document(text: str, prior: bytes, path: Path) -> bool:
    """Whether `text` says what `prior` said and differs from it in whitespace only (both
    parse: `prior` was found by parsing it, and the editor checks every text it makes)."""
    prior_text = decode_utf8(prior, path)
    if "".join(text.split()) != "".join(prior_text.split()):
        return False
    return toml.parse(text) == toml.parse(prior_text)


def _where(path: Path, text: str, key_path: tuple[str, ...]) -> str:
    try:
        found = toml.position(text, key_path)
    except toml.TomlError:
        found = None
    return f"{path}:{found[0]}:{found[1]}" if found else str(path)


def _blocking_problems(path: Path, config: ConfigText) -> list[Finding]:
    """What makes Codex refuse the whole file, whoever wrote it."""
    findings = []
    legacy = config.value.get("profile")
    if legacy is not None:
        findings.append(
            Finding(
                AGENT_ID,
                "fail",
                f"Codex refuses the top-level profile = {legacy!r} (no longer supported)",
                _where(path, config.text, ("profile",)),
                hint=f"delete that line and start Codex with `--profile {legacy}` instead",
            )
        )
    providers = _table(config.value, "model_providers")
    for provider_id in RESERVED_PROVIDER_IDS:
        if provider_id in providers:
            findings.append(
                Finding(
                    AGENT_ID,
                    "fail",
                    f"Codex refuses [model_providers.{provider_id}]: a reserved built-in id",
                    _where(path, config.text, ("model_providers", provider_id)),
                    hint=f"rename it (e.g. [model_providers.{provider_id}-custom]) and every "
                    "model_provider that names it",
                )
            )
    for provider_id, provider in providers.items():
        if isinstance(provider, dict) and provider.get("wire_api") == "chat":
            findings.append(
                Finding(
                    AGENT_ID,
                    "fail",
                    f'Codex refuses wire_api = "chat" in [model_providers.{provider_id}]',
                    _where(path, config.text, ("model_providers", provider_id, "wire_api")),
                    hint='set wire_api = "responses" there (Codex speaks only the Responses API)',
                )
            )
    return findings


def _check_provider(ctx: Context, path: Path, text: str, provider: dict[str, Any]) -> list[Finding]:
    setup_hint = "run `megallm setup --agent codex`"
    findings = []
    base_url = provider.get("base_url")
    where = _where(path, text, (*PROVIDER_TABLE, "base_url"))
    expected_url = ctx.gateway.openai_base_url
    if isinstance(base_url, str) and base_url.rstrip("/") == expected_url:
        findings.append(Finding(AGENT_ID, "ok", f"base_url = {base_url}", where))
    elif isinstance(base_url, str) and ctx.gateway.matches(base_url):
        findings.append(
            Finding(
                AGENT_ID,
                "fail",
                "base_url lacks /v1",
                f"{where}: {base_url} — Codex appends /responses to it",
                hint=setup_hint,
            )
        )
    elif isinstance(base_url, str):
        findings.append(
            Finding(
                AGENT_ID,
                "warn",
                "base_url points elsewhere",
                f"{where}: {base_url} (expected {expected_url})",
                hint="pass --base-url or set MEGALLM_BASE_URL if that is your gateway",
            )
        )
    else:
        findings.append(
            Finding(
                AGENT_ID, "fail", "no base_url", f"{path}: [model_providers.megallm]", setup_hint
            )
        )
    env_key = provider.get("env_key")
    if env_key == KEY_ENV:
        findings.append(Finding(AGENT_ID, "ok", f"key read from ${KEY_ENV}", str(path)))
    elif INLINE_TOKEN in provider and env_key is None:
        findings.append(
            Finding(
                AGENT_ID,
                "warn",
                f"the key is inline in {path} ({INLINE_TOKEN})",
                "a copy of the key in a file megallm does not keep in step with the shell env",
                hint=setup_hint + f" (switches to env_key = {KEY_ENV!r})",
            )
        )
    else:
        findings.append(
            Finding(
                AGENT_ID,
                "fail",
                f"env_key is {env_key!r}, not {KEY_ENV!r}",
                f"{_where(path, text, (*PROVIDER_TABLE, 'env_key'))}: megallm persists {KEY_ENV}",
                hint=setup_hint,
            )
        )
    wire_api = provider.get("wire_api", "responses")
    if wire_api == "responses":
        findings.append(Finding(AGENT_ID, "ok", 'wire_api = "responses"'))
    elif wire_api != "chat":  # "chat" is already reported as blocking
        findings.append(
            Finding(
                AGENT_ID,
                "fail",
                f"wire_api = {wire_api!r}",
                f"{_where(path, text, (*PROVIDER_TABLE, 'wire_api'))}: Codex speaks only the "
                "Responses API",
                hint=setup_hint,
            )
        )
    return findings


def _check_model(path: Path, value: dict[str, Any]) -> list[Finding]:
    model = value.get("model")
    if isinstance(model, str):
        return [Finding(AGENT_ID, "ok", f"model = {model!r}", str(path))]
    return [
        Finding(
            AGENT_ID,
            "warn",
            "no model set",
            f"{path}: Codex will ask the gateway for its built-in default model, which the "
            "gateway may not serve",
            hint=f"run `megallm setup --agent codex --model codex={DEFAULT_MODEL}`",
        )
    ]


def _running_codex() -> list[Any]:
    return running_processes(["codex"], ["@openai/codex"])


def _check_running(path: Path) -> list[Finding]:
    processes = _running_codex()
    if not processes:
        return []
    changed = os.stat(path).st_mtime
    stale = [p.pid for p in processes if p.started < changed]
    if not stale:
        return [Finding(AGENT_ID, "ok", "running Codex started after the last change")]
    return [
        Finding(
            AGENT_ID,
            "warn",
            "Codex is running with the old config",
            f"pid {', '.join(map(str, stale))} started before {path} changed",
            hint="restart Codex",
        )
    ]


AGENT = Codex()
