"""Cline: the `openai-compatible` provider in providers.json, shared by the CLI and extension ≥ 4.

Facts (DESIGN §3, docs/REAL_AGENTS.md, and the reader bundled in cline 3.0.65 — @cline/core
0.0.86, `ProviderSettingsManager.read()`): the file is `$CLINE_PROVIDER_SETTINGS_PATH`, else
`<data dir>/settings/providers.json`. Cline reads it with `JSON.parse` and a zod schema; when
either fails it uses an empty settings object and its next save overwrites the file with
defaults, losing every provider. So each write is checked against the schema rules below first.
The key can only be inline: the file is 0600. Extension 3.x keeps its provider in the editor's
own storage, which no file route reaches: the user gets the exact steps instead.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from megallm_cli.agents import jsonfile, vscode
from megallm_cli.agents.base import AgentPlan, Configured, Context, Detection, Finding
from megallm_cli.changes import SECRET_FILE_MODE, FileChange, bytes_after_removal
from megallm_cli.errors import ConfigParseError, FileProblem, MegallmError, UsageError
from megallm_cli.formats import jsonc
from megallm_cli.formats.text import decode_utf8, encode_utf8
from megallm_cli.fsio import current_mode, read_bytes
from megallm_cli.request import SetupRequest
from megallm_cli.system import find_executable, npm_package_version, user_bin_dirs

AGENT_ID = "cline"
PACKAGE = "cline"
EXTENSION_ID = "saoudrizwan.claude-dev"
# Extension releases from this major on read providers.json; older ones keep editor storage.
FIRST_SHARED_EXTENSION_MAJOR = 4
PROVIDER_ID = "openai-compatible"
OUR_ENTRY = ("providers", PROVIDER_ID)
SCHEMA_VERSION = 1

# --- Cline's schema (zod, in @cline/core 0.0.86): the rules a providers.json must pass ---
TOKEN_SOURCES = ("manual", "oauth", "migration")
_PROVIDER_ID = re.compile(r"^[a-z0-9][a-z0-9-]*$", re.IGNORECASE)
# z.string().datetime(): UTC with seconds and a `Z`, any fraction; no offsets, no date-only.
_DATETIME = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.\d+)?Z$")
# z.string().url() accepts what WHATWG `new URL()` parses: a scheme, and for the special
# schemes something after it. An approximation that errs towards accepting.
_URL_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):(.*)$", re.DOTALL)
_SPECIAL_SCHEMES = frozenset({"http", "https", "ws", "wss", "ftp"})
_SETTINGS_STRINGS = ("apiKey", "model", "region")
_SETTINGS_POSITIVE_INTS = ("maxTokens", "contextWindow", "timeout")


def _is_datetime(value: object) -> bool:
    if not isinstance(value, str):
        return False
    match = _DATETIME.match(value)
    if match is None:
        return False
    year, month, day, hour, minute, second = (int(part) for part in match.groups())
    try:
        dt.date(year, month, day)
    except ValueError:
        return False
    return hour < 24 and minute < 60 and second < 60


def _is_url(value: str) -> bool:
    match = _URL_SCHEME.match(value.strip())
    if match is None or any(char.isspace() for char in value.strip()):
        return False
    scheme, rest = match.group(1).lower(), match.group(2)
    return scheme not in _SPECIAL_SCHEMES or bool(rest.lstrip("/"))


def _is_positive_int(value: object) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return float(value).is_integer() and value > 0


def _settings_problems(where: str, settings: object) -> list[str]:
    if not isinstance(settings, dict):
        return [f"{where}: must be an object"]
    problems = []
    provider = settings.get("provider")
    if not isinstance(provider, str) or not _PROVIDER_ID.match(provider):
        problems.append(f"{where}.provider: must be a provider id like {PROVIDER_ID}")
    for name in _SETTINGS_STRINGS:
        if name in settings and not isinstance(settings[name], str):
            problems.append(f"{where}.{name}: must be a string")
    base_url = settings.get("baseUrl")
    if "baseUrl" in settings and not (isinstance(base_url, str) and _is_url(base_url)):
        problems.append(f"{where}.baseUrl: must be a URL with a scheme, like https://…")
    for name in _SETTINGS_POSITIVE_INTS:
        if name in settings and not _is_positive_int(settings[name]):
            problems.append(f"{where}.{name}: must be a positive whole number")
    headers = settings.get("headers")
    if "headers" in settings and not (
        isinstance(headers, dict) and all(isinstance(v, str) for v in headers.values())
    ):
        problems.append(f"{where}.headers: must be an object of strings")
    return problems


def schema_problems(value: object) -> list[str]:
    """Why Cline would treat this providers.json as empty; [] when it accepts it."""
    if not isinstance(value, dict):
        return ["the top level must be an object"]
    problems = []
    version = value.get("version")
    if isinstance(version, bool) or version != SCHEMA_VERSION:
        problems.append(f"version: must be {SCHEMA_VERSION}")
    last_used = value.get("lastUsedProvider")
    if "lastUsedProvider" in value and not (isinstance(last_used, str) and last_used):
        problems.append("lastUsedProvider: must be a non-empty string")
    modes = value.get("modes")
    if "modes" in value and not isinstance(modes, dict):
        problems.append("modes: must be an object")
    elif isinstance(modes, dict) and "voiceInput" in modes:
        voice = modes["voiceInput"]
        if not (
            isinstance(voice, dict)
            and all(isinstance(voice.get(k), str) and voice[k] for k in ("providerId", "modelId"))
        ):
            problems.append("modes.voiceInput: needs providerId and modelId strings")
    providers = value.get("providers")
    if not isinstance(providers, dict):
        return [*problems, "providers: must be an object"]
    for name, entry in providers.items():
        where = f"providers.{name}"
        if not isinstance(entry, dict):
            problems.append(f"{where}: must be an object")
            continue
        problems.extend(_settings_problems(f"{where}.settings", entry.get("settings")))
        if not _is_datetime(entry.get("updatedAt")):
            problems.append(f"{where}.updatedAt: must be a UTC time like 2026-01-01T00:00:00.000Z")
        if "tokenSource" in entry and entry["tokenSource"] not in TOKEN_SOURCES:
            problems.append(f"{where}.tokenSource: must be one of {', '.join(TOKEN_SOURCES)}")
    return problems


def _is_ours(problem: str) -> bool:
    prefix = ".".join(OUR_ENTRY)
    return problem.startswith((prefix + ".", prefix + ":"))


def _utc_now() -> str:
    """The format Cline writes (`new Date().toISOString()`)."""
    now = dt.datetime.now(dt.timezone.utc)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


def parse_providers(data: bytes | None, path: Path) -> jsonfile.JsonDocument:
    """Parse providers.json as Cline does: strict JSON, and no BOM (`JSON.parse` rejects one)."""
    text = "" if data is None else decode_utf8(data, path)
    if text.startswith("\ufeff"):
        raise ConfigParseError(
            path, 1, 1, "starts with a UTF-8 byte order mark, which Cline's JSON reader rejects"
        )
    return jsonfile.JsonDocument(path, data, text, jsonfile.parse_object(text, path, strict=True))


def load_providers(path: Path) -> jsonfile.JsonDocument:
    return parse_providers(read_bytes(path), path)


def _entry(value: dict[str, Any]) -> dict[str, Any]:
    providers = value.get("providers")
    entry = providers.get(PROVIDER_ID) if isinstance(providers, dict) else None
    return entry if isinstance(entry, dict) else {}


def _entry_settings(value: dict[str, Any]) -> dict[str, Any]:
    settings = _entry(value).get("settings")
    return settings if isinstance(settings, dict) else {}


def _points_at_gateway(ctx: Context, url: object) -> bool:
    return isinstance(url, str) and (ctx.gateway.matches(url) or "megallm" in url)


def _cli_version(binary: Path) -> str | None:
    version = npm_package_version(binary, PACKAGE)
    if version:
        return version
    # npm may link the command straight into the platform package:
    # node_modules/@cline/cli-<os>-<arch>/bin/cline.
    real = Path(os.path.realpath(binary))
    if len(real.parents) > 2 and real.parents[2].name == "@cline":
        return npm_package_version(binary, f"@cline/{real.parents[1].name}")
    return None


def manual_steps(extension: vscode.InstalledExtension, base_url: str, model: str) -> str:
    return (
        f"Cline {extension.version} in {extension.variant.label} keeps its provider in the "
        "editor's own storage, which megallm cannot write. Set it by hand: open Cline, click the "
        f"gear, choose API Provider 'OpenAI Compatible', Base URL {base_url}, API Key = your "
        f"MegaLLM key, Model ID {model}, then Done (or update Cline to 4.x, which reads "
        "providers.json)"
    )


class Cline:
    id = AGENT_ID
    display_name = "Cline"
    levels = ("user",)
    needs_shell_env = False

    @staticmethod
    def providers_file(ctx: Context) -> Path:
        return ctx.paths.cline_provider_settings_file

    # --- detect ---
    def detect(self, ctx: Context) -> Detection:
        paths = ctx.paths
        binary = find_executable("cline", paths, user_bin_dirs(paths))
        extensions = vscode.find_extension(paths, EXTENSION_ID)
        notes = tuple(extension.describe() for extension in extensions)
        if binary is not None:
            return Detection(AGENT_ID, True, _cli_version(binary), str(binary), notes=notes)
        if extensions:
            newest = extensions[0]
            return Detection(AGENT_ID, True, newest.version, str(newest.path), notes=notes)
        return Detection(AGENT_ID, installed=False)

    # --- plan ---
    def plan(self, ctx: Context, request: SetupRequest) -> AgentPlan:
        if request.level != "user":
            raise UsageError(
                "Cline has no project-level provider settings: it reads one providers.json per "
                "user",
                hint="run `megallm setup --agent cline --level user`",
            )
        plan = AgentPlan(AGENT_ID)
        change, model = self._providers_change(ctx, request, plan.notes)
        plan.changes.append(change)
        for extension in vscode.find_extension(ctx.paths, EXTENSION_ID):
            if (extension.major or 0) < FIRST_SHARED_EXTENSION_MAJOR:
                plan.notes.append(manual_steps(extension, ctx.gateway.openai_base_url, model))
            else:
                plan.notes.append(
                    f"Cline {extension.version} in {extension.variant.label} reads the same "
                    "providers.json: reload the editor window to pick it up"
                )
        if vscode.WINDSURF.is_present(ctx.paths):
            plan.notes.append(
                vscode.windsurf_note(
                    "the Cline extension inside Windsurf can, through this providers.json"
                )
            )
        return plan

    def _providers_change(
        self, ctx: Context, request: SetupRequest, notes: list[str]
    ) -> tuple[FileChange, str]:
        path = self.providers_file(ctx)
        document = load_providers(path)
        # An empty file is what Cline reads as "no settings" too: fill it like a new one.
        has_content = bool(document.text.strip())
        _refuse_foreign_problems(path, document.value if has_content else None)
        existing = _entry_settings(document.value)
        model = (
            request.model_for(AGENT_ID)
            or (existing.get("model") if _points_at_gateway(ctx, existing.get("baseUrl")) else None)
            or vscode.DEFAULT_MODEL
        )
        wanted = {
            "provider": PROVIDER_ID,
            "apiKey": request.api_key.reveal(),
            "model": model,
            "baseUrl": ctx.gateway.openai_base_url,
        }
        if has_content:
            text = _edit_providers(document, wanted)
        else:
            text = json.dumps(_new_providers(wanted), indent=2) + "\n"
        mode = current_mode(path)
        if document.exists and mode not in (None, SECRET_FILE_MODE):
            notes.append(f"{path} is now 0600 (was {mode:o}) because it holds the key")

        def validate(data: bytes) -> None:
            written = parse_providers(data, path).value
            wrong = schema_problems(written)
            if wrong:
                raise ValueError(f"{path}: Cline would ignore it: {'; '.join(wrong)}")
            settings = _entry_settings(written)
            if any(settings.get(name) != value for name, value in wanted.items()):
                raise ValueError(f"{path}: the {PROVIDER_ID} provider did not read back")
            if written.get("lastUsedProvider") != PROVIDER_ID:
                raise ValueError(f"{path}: lastUsedProvider did not read back")

        change = FileChange(
            path=path,
            before=document.before,
            after=encode_utf8(text),
            agent=AGENT_ID,
            summary=f"{PROVIDER_ID} provider ({model}), lastUsedProvider",
            secret=True,
            validate=validate,
        )
        return change, model

    # --- remove ---
    def unconfigure(self, ctx: Context, level: str) -> AgentPlan:
        """Take out our provider, or put back the one of that id that megallm overwrote, and
        point lastUsedProvider where it pointed before.

        A file that then holds what it held before megallm first changed it gets those exact
        bytes back; one megallm created goes when no provider is left in it.
        """
        plan = AgentPlan(AGENT_ID)
        if level != "user":
            plan.notes.append("Cline has no project-level settings: nothing to remove there")
            return plan
        path = self.providers_file(ctx)
        document = load_providers(path)
        if not _points_at_gateway(ctx, _entry_settings(document.value).get("baseUrl")):
            return plan
        prior = _image_before_megallm(ctx, path)
        previous_entry = _previous_entry(prior, plan.notes) if prior is not None else None
        # Remove's diff shows our key going and the user's own one coming back.
        for entry in (_entry(document.value), previous_entry or {}):
            settings = entry.get("settings")
            secret = settings.get("apiKey") if isinstance(settings, dict) else None
            if isinstance(secret, str):
                plan.secrets.append(secret)
        if previous_entry is None:
            text = jsonc.delete_value(document.text, list(OUR_ENTRY))
        else:
            text = jsonc.set_value(document.text, list(OUR_ENTRY), previous_entry)
        left = [name for name in document.value.get("providers", {}) if name != PROVIDER_ID]
        if previous_entry is not None:
            left.append(PROVIDER_ID)
        if document.value.get("lastUsedProvider") == PROVIDER_ID:
            last_used = _last_used_after_removal(prior.value if prior else None, left)
            if last_used is None:
                text = jsonc.delete_value(text, ["lastUsedProvider"])
            elif last_used != PROVIDER_ID:
                text = jsonc.set_value(text, ["lastUsedProvider"], last_used)
                plan.notes.append(f"Cline will use its {last_used} provider again")
        remaining = jsonc.parse(text)
        after = bytes_after_removal(
            text,
            None if prior is None else prior.data,
            nothing_left=lambda: _holds_no_settings(remaining),
            reads_the_same=lambda _: prior is not None and _same_settings(text, remaining, prior),
        )
        plan.changes.append(
            FileChange(path, document.before, after, AGENT_ID, f"remove the {PROVIDER_ID} provider")
        )
        return plan

    # --- status ---
    def configured(self, ctx: Context) -> list[Configured]:
        path = self.providers_file(ctx)
        try:
            value = load_providers(path).value
        except (ConfigParseError, OSError):
            return []
        settings = _entry_settings(value)
        base_url = settings.get("baseUrl")
        if not isinstance(base_url, str):
            return []
        key = settings.get("apiKey")
        model = settings.get("model")
        return [
            Configured(
                AGENT_ID,
                "user",
                (path,),
                base_url,
                key if isinstance(key, str) else None,
                model if isinstance(model, str) else None,
            )
        ]

    # --- doctor ---
    def check(self, ctx: Context) -> list[Finding]:
        findings = self._check_providers_file(ctx)
        configured = self.configured(ctx)
        model = (configured[0].model if configured else None) or vscode.DEFAULT_MODEL
        for extension in vscode.find_extension(ctx.paths, EXTENSION_ID):
            if (extension.major or 0) < FIRST_SHARED_EXTENSION_MAJOR:
                findings.append(
                    Finding(
                        AGENT_ID,
                        "warn",
                        f"Cline {extension.version} in {extension.variant.label} does not read "
                        "providers.json",
                        "extension 3.x keeps its provider in the editor's storage",
                        hint=manual_steps(extension, ctx.gateway.openai_base_url, model),
                    )
                )
            else:
                findings.append(
                    Finding(
                        AGENT_ID,
                        "ok",
                        f"Cline {extension.version} in {extension.variant.label} reads "
                        "providers.json",
                    )
                )
        if vscode.WINDSURF.is_present(ctx.paths):
            findings.append(
                Finding(
                    AGENT_ID,
                    "info",
                    "Windsurf's own agent (Cascade) cannot use MegaLLM",
                    "Windsurf has no custom-gateway setting; Cline inside Windsurf reads "
                    "providers.json like the CLI",
                )
            )
        return findings

    def _check_providers_file(self, ctx: Context) -> list[Finding]:
        path = self.providers_file(ctx)
        setup_hint = "run `megallm setup --agent cline`"
        try:
            document = load_providers(path)
        except ConfigParseError as error:
            return [
                Finding(
                    AGENT_ID,
                    "fail",
                    "providers.json is not valid JSON",
                    error.message,
                    "fix it; Cline treats an unreadable file as empty and overwrites it",
                )
            ]
        except FileProblem as problem:
            return [
                Finding(
                    AGENT_ID, "fail", "providers.json cannot be read", problem.message, problem.hint
                )
            ]
        if not document.exists:
            return [
                Finding(
                    AGENT_ID,
                    "fail",
                    "not configured for MegaLLM",
                    f"{path} does not exist",
                    setup_hint,
                )
            ]
        findings = []
        problems = schema_problems(document.value)
        if problems:
            findings.append(
                Finding(
                    AGENT_ID,
                    "fail",
                    "Cline ignores providers.json (schema)",
                    f"{path}: {'; '.join(problems)}",
                    hint="fix those fields, or run `megallm setup --agent cline` if they are "
                    f"in {PROVIDER_ID}; Cline would overwrite the file with its defaults",
                )
            )
        else:
            findings.append(
                Finding(AGENT_ID, "ok", "providers.json passes Cline's schema", str(path))
            )
        entry = _entry(document.value)
        settings = _entry_settings(document.value)
        if not entry:
            findings.append(
                Finding(AGENT_ID, "fail", f"no {PROVIDER_ID} provider", str(path), setup_hint)
            )
            return findings
        base_url = settings.get("baseUrl")
        if ctx.gateway.matches(base_url):
            findings.append(Finding(AGENT_ID, "ok", f"baseUrl = {base_url}", str(path)))
        else:
            findings.append(
                Finding(
                    AGENT_ID,
                    "fail",
                    f"{PROVIDER_ID} points elsewhere",
                    f"{path}: baseUrl {base_url!r} (expected {ctx.gateway.openai_base_url})",
                    hint="run `megallm setup --agent cline` (or pass --base-url to doctor)",
                )
            )
        findings.append(vscode.key_finding(AGENT_ID, str(path), settings.get("apiKey")))
        auth = settings.get("auth")
        if isinstance(auth, dict) and auth.get("accessToken"):
            findings.append(
                Finding(
                    AGENT_ID,
                    "warn",
                    "an auth.accessToken is set next to apiKey",
                    f"{path}: Cline sends the access token instead of the key",
                    hint=f"remove providers.{PROVIDER_ID}.settings.auth",
                )
            )
        if isinstance(settings.get("model"), str):
            findings.append(Finding(AGENT_ID, "ok", f"model = {settings['model']}"))
        last_used = document.value.get("lastUsedProvider")
        if last_used == PROVIDER_ID:
            findings.append(Finding(AGENT_ID, "ok", f"lastUsedProvider = {PROVIDER_ID}"))
        else:
            findings.append(
                Finding(
                    AGENT_ID,
                    "fail",
                    f"Cline uses another provider ({last_used or 'none set'})",
                    f"{path}: lastUsedProvider is not {PROVIDER_ID}",
                    hint=setup_hint,
                )
            )
        findings.append(vscode.private_file_finding(AGENT_ID, path, current_mode(path)))
        return findings


def _new_providers(wanted: dict[str, str]) -> dict[str, Any]:
    """A fresh file in the shape and layout Cline's own writer produces."""
    return {
        "version": SCHEMA_VERSION,
        "lastUsedProvider": PROVIDER_ID,
        "providers": {
            PROVIDER_ID: {"settings": wanted, "updatedAt": _utc_now(), "tokenSource": "manual"}
        },
    }


def _refuse_foreign_problems(path: Path, value: dict[str, Any] | None) -> None:
    """Stop when the file breaks Cline's schema outside our entry: we may not fix that part."""
    if value is None:
        return
    version = value.get("version")
    if isinstance(version, int) and not isinstance(version, bool) and version > SCHEMA_VERSION:
        raise MegallmError(
            f"{path} has version {version}; this megallm knows Cline's version {SCHEMA_VERSION}",
            hint="update megallm (the file was left untouched)",
        )
    foreign = [problem for problem in schema_problems(value) if not _is_ours(problem)]
    if foreign:
        raise MegallmError(
            f"{path}: Cline already ignores this file ({'; '.join(foreign)})",
            hint="fix or delete those entries (the file was left untouched), then run again",
        )


def _edit_providers(document: jsonfile.JsonDocument, wanted: dict[str, str]) -> str:
    """Minimal edits: our entry's four settings, its timestamp when they change, lastUsedProvider.

    `updatedAt` only moves when a setting changes, so a second identical setup is a no-op.
    """
    text = document.text
    raw_entry = document.value["providers"].get(PROVIDER_ID)
    if raw_entry is not None and not (
        isinstance(raw_entry, dict) and isinstance(raw_entry.get("settings"), dict)
    ):
        # Too malformed to edit field by field; it is ours, so it is replaced whole.
        fresh = _new_providers(wanted)["providers"][PROVIDER_ID]
        text = jsonc.set_value(text, list(OUR_ENTRY), fresh)
        return jsonc.set_value(text, ["lastUsedProvider"], PROVIDER_ID)
    entry = _entry(document.value)
    existing = _entry_settings(document.value)
    changed = any(existing.get(name) != value for name, value in wanted.items())
    for name, value in wanted.items():
        text = jsonc.set_value(text, [*OUR_ENTRY, "settings", name], value)
    if changed or not _is_datetime(entry.get("updatedAt")):
        text = jsonc.set_value(text, [*OUR_ENTRY, "updatedAt"], _utc_now())
    token_source = entry.get("tokenSource")
    if (changed and token_source != "manual") or (
        "tokenSource" in entry and token_source not in TOKEN_SOURCES
    ):
        text = jsonc.set_value(text, [*OUR_ENTRY, "tokenSource"], "manual")
    return jsonc.set_value(text, ["lastUsedProvider"], PROVIDER_ID)


@dataclass(frozen=True)
class _PriorProviders:
    """providers.json as it was before megallm first changed it (`data` None: no file)."""

    session_id: str
    data: bytes | None
    text: str
    value: dict[str, Any]


def _image_before_megallm(ctx: Context, path: Path) -> _PriorProviders | None:
    from megallm_cli import backups

    def is_megallms(data: bytes | None) -> bool:
        try:
            value = parse_providers(data, path).value
        except ConfigParseError:
            return True  # unparsable: not a state remove could put back
        return _points_at_gateway(ctx, _entry_settings(value).get("baseUrl"))

    prior = backups.image_before_megallm(ctx.paths.backups_dir, path, is_megallms)
    if prior is None:
        return None
    document = parse_providers(prior.data, path)
    return _PriorProviders(prior.session_id, prior.data, document.text, document.value)


def _previous_entry(prior: _PriorProviders, notes: list[str]) -> dict[str, Any] | None:
    """The user's own openai-compatible entry that setup overwrote, to put back whole."""
    entry = _entry(prior.value)
    if not entry:
        return None
    if any(_is_ours(problem) for problem in schema_problems(prior.value)):
        # Cline would ignore the whole file again, and overwrite it with its defaults.
        notes.append(
            f"the {PROVIDER_ID} provider you had before megallm failed Cline's schema, so it is "
            f"not put back (backup {prior.session_id} keeps a copy)"
        )
        return None
    notes.append(
        f"Cline's {PROVIDER_ID} provider is back to {_entry_settings(prior.value).get('baseUrl')}"
        f", as it was before megallm (backup {prior.session_id}), with the updatedAt it had then"
    )
    return entry


def _last_used_after_removal(prior_value: dict[str, Any] | None, left: list[str]) -> str | None:
    """lastUsedProvider as it was before megallm: that provider when it is still there, or none
    chosen when it was not set and no provider came since; else, as Cline's own migration
    does, the first provider listed."""
    if prior_value is not None:
        previous = prior_value.get("lastUsedProvider")
        if isinstance(previous, str) and previous in left:
            return previous
        providers_then = prior_value.get("providers")
        known_then = set(providers_then) if isinstance(providers_then, dict) else set()
        if previous is None and set(left) <= known_then:
            return None
    return left[0] if left else None


def _holds_no_settings(value: dict[str, Any]) -> bool:
    """What Cline reads the same as a blank file: no provider, nothing else chosen."""
    return not value.get("providers") and all(
        key in ("version", "providers") or (key == "modes" and value[key] == {}) for key in value
    )


def _same_settings(text: str, value: dict[str, Any], prior: _PriorProviders) -> bool:
    """Whether `text` holds what the file held before megallm, told apart only by whitespace;
    a blank file and one with no providers count as the same (Cline reads both as empty)."""
    if _holds_no_settings(value) and _holds_no_settings(prior.value):
        return True
    return value == prior.value and "".join(text.split()) == "".join(prior.text.split())


AGENT = Cline()
