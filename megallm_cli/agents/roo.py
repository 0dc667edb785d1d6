"""Roo Code, and the legacy Kilo Code 4.x extension: a settings import file named in settings.json.

Both extensions keep provider profiles in the editor's secret storage, which no file reaches.
What a file can do: the user setting `roo-cline.autoImportSettingsPath` (legacy Kilo:
`kilo-code.autoImportSettingsPath`) names an export-format JSON that the extension imports on
every activation (Roo's src/utils/autoImportSettings.ts: a `~/` prefix is expanded, a relative
path is taken from the home dir; we always write an absolute path). The import merges our
`megallm` profile into the existing ones and makes it the current one.

The legacy Kilo extension is not a separate agent: the id `kilo` belongs to the Kilo CLI 7 /
new extension module. Its 4.x extension is a Roo fork with the same import mechanism, so the
`roo-code` agent configures it too wherever it is installed (with its own import file); a Kilo
extension 5 or later is the new one and is left to `megallm setup --agent kilo`.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from megallm_cli.agents import jsonfile, vscode
from megallm_cli.agents.base import AgentPlan, Configured, Context, Detection, Finding
from megallm_cli.changes import FileChange
from megallm_cli.errors import ConfigParseError, UsageError
from megallm_cli.formats.text import decode_utf8
from megallm_cli.fsio import current_mode, read_bytes
from megallm_cli.request import SetupRequest

if TYPE_CHECKING:
    from megallm_cli.backups import PriorImage

AGENT_ID = "roo-code"
PROFILE_NAME = "megallm"
# Roo gives profiles random ids; ours is fixed so that setting up twice writes the same bytes.
PROFILE_ID = "megallm"
# Roo's provider id for any OpenAI-compatible endpoint; "openai-compatible" is not one of its
# providerNames and is stripped on import (checked against @roo-code/types 1.115.0).
API_PROVIDER = "openai"
NEW_KILO_FIRST_MAJOR = 5


@dataclass(frozen=True)
class ImportRoute:
    """An extension that imports the export-format file its VS Code setting names."""

    extension_id: str
    label: str
    setting: str
    file_name: str
    before_major: int | None = None
    """Only versions below this major use the route."""

    def accepts(self, extension: vscode.InstalledExtension) -> bool:
        return self.before_major is None or (extension.major or 0) < self.before_major

    def installs(self, ctx: Context) -> list[vscode.InstalledExtension]:
        found = vscode.find_extension(ctx.paths, self.extension_id)
        return [extension for extension in found if self.accepts(extension)]

    def import_file(self, ctx: Context) -> Path:
        return ctx.paths.config_dir / self.file_name


ROO = ImportRoute(
    "rooveterinaryinc.roo-cline",
    "Roo Code",
    "roo-cline.autoImportSettingsPath",
    "roo-code-import.json",
)
LEGACY_KILO = ImportRoute(
    "kilocode.kilo-code",
    "Kilo Code (legacy extension)",
    "kilo-code.autoImportSettingsPath",
    "kilo-code-import.json",
    before_major=NEW_KILO_FIRST_MAJOR,
)
ROUTES = (ROO, LEGACY_KILO)


def import_document(base_url: str, key: str, model: str) -> dict[str, Any]:
    return {
        "providerProfiles": {
            "currentApiConfigName": PROFILE_NAME,
            "apiConfigs": {
                PROFILE_NAME: {
                    "id": PROFILE_ID,
                    "apiProvider": API_PROVIDER,
                    "openAiBaseUrl": base_url,
                    "openAiApiKey": key,
                    "openAiModelId": model,
                }
            },
            "modeApiConfigs": {},
        },
        "globalSettings": {},
    }


def import_problems(value: object) -> list[str]:
    """Why the extension would refuse this import file, or not use MegaLLM after it; [] if fine.

    The extension parses `{providerProfiles: providerProfilesSchema, globalSettings?}` with zod;
    these are the rules of that schema our profile depends on.
    """
    if not isinstance(value, dict):
        return ["the top level must be an object"]
    profiles = value.get("providerProfiles")
    if not isinstance(profiles, dict):
        return ["providerProfiles: must be an object"]
    problems = []
    if "globalSettings" in value and not isinstance(value["globalSettings"], dict):
        problems.append("globalSettings: must be an object")
    modes = profiles.get("modeApiConfigs", {})
    if not (isinstance(modes, dict) and all(isinstance(v, str) for v in modes.values())):
        problems.append("providerProfiles.modeApiConfigs: must map mode names to profile ids")
    configs = profiles.get("apiConfigs")
    if not isinstance(configs, dict):
        return [*problems, "providerProfiles.apiConfigs: must be an object"]
    for name, config in configs.items():
        if not isinstance(config, dict):
            problems.append(f"providerProfiles.apiConfigs.{name}: must be an object")
        elif "id" in config and not isinstance(config["id"], str):
            problems.append(f"providerProfiles.apiConfigs.{name}.id: must be a string")
    current = profiles.get("currentApiConfigName")
    if not isinstance(current, str):
        return [*problems, "providerProfiles.currentApiConfigName: must be a string"]
    profile = configs.get(current)
    if not isinstance(profile, dict):
        return [*problems, f"providerProfiles.currentApiConfigName: no profile named {current!r}"]
    where = f"providerProfiles.apiConfigs.{current}"
    if profile.get("apiProvider") != API_PROVIDER:
        problems.append(f"{where}.apiProvider: must be {API_PROVIDER!r}")
    base_url = profile.get("openAiBaseUrl")
    if not (isinstance(base_url, str) and base_url.startswith(("http://", "https://"))):
        problems.append(f"{where}.openAiBaseUrl: must be an http(s) URL")
    for field in ("openAiApiKey", "openAiModelId"):
        if not (isinstance(profile.get(field), str) and profile[field]):
            problems.append(f"{where}.{field}: must be a non-empty string")
    return problems


def parse_import(data: bytes, path: Path) -> dict[str, Any]:
    """The extension reads the file with JSON.parse: strict JSON, no BOM."""
    text = decode_utf8(data, path)
    if text.startswith("\ufeff"):
        raise ConfigParseError(path, 1, 1, "starts with a byte order mark; JSON.parse rejects it")
    return jsonfile.parse_object(text, path, strict=True)


def resolve_setting_path(ctx: Context, value: str) -> Path:
    """Where the extension looks for a path given in the setting (its resolvePath)."""
    value = value.strip()
    if value.startswith("~/"):
        return ctx.paths.home / value[2:]
    if os.path.isabs(value):
        return Path(value)
    return ctx.paths.home / value


def _current_profile(value: dict[str, Any]) -> dict[str, Any]:
    profiles = value.get("providerProfiles")
    if not isinstance(profiles, dict) or not isinstance(profiles.get("apiConfigs"), dict):
        return {}
    profile = profiles["apiConfigs"].get(profiles.get("currentApiConfigName"))
    return profile if isinstance(profile, dict) else {}


def _settings_naming_import_files(ctx: Context, settings: dict[str, Any]) -> list[str]:
    """The settings in an editor's settings.json that name megallm's import files."""
    return [
        route.setting
        for route in ROUTES
        if isinstance(settings.get(route.setting), str)
        and resolve_setting_path(ctx, settings[route.setting]) == route.import_file(ctx)
    ]


def _settings_before_megallm(ctx: Context, settings_file: Path) -> PriorImage | None:
    """The editor's settings.json as it was before megallm first pointed it at an import file."""
    from megallm_cli import backups

    def names_an_import_file(data: bytes | None) -> bool:
        if data is None:
            return False
        try:
            text = decode_utf8(data, settings_file)
            value = jsonfile.parse_object(text, settings_file, strict=False)
        except ConfigParseError:
            return True  # unparsable: not a state remove could put back
        return bool(_settings_naming_import_files(ctx, value))

    return backups.image_before_megallm(ctx.paths.backups_dir, settings_file, names_an_import_file)


def _prior_settings(prior: PriorImage, settings_file: Path) -> dict[str, Any]:
    """The settings in a pre-image that image_before_megallm returned: it parsed then."""
    if prior.data is None:
        return {}
    text = decode_utf8(prior.data, settings_file)
    return jsonfile.parse_object(text, settings_file, strict=False)


def _read_import(path: Path) -> dict[str, Any] | None:
    """Our import file's current profile, or None when it is missing or unreadable."""
    data = read_bytes(path)
    if data is None:
        return None
    try:
        return _current_profile(parse_import(data, path))
    except ConfigParseError:
        return None


class RooCode:
    id = AGENT_ID
    display_name = "Roo Code"
    levels = ("user",)
    needs_shell_env = False

    # --- detect ---
    def detect(self, ctx: Context) -> Detection:
        installs = [extension for route in ROUTES for extension in route.installs(ctx)]
        if not installs:
            return Detection(AGENT_ID, installed=False)
        roo = ROO.installs(ctx)
        main = roo[0] if roo else installs[0]
        return Detection(
            AGENT_ID,
            installed=True,
            version=main.version,
            location=str(main.path),
            notes=tuple(extension.describe() for extension in installs),
        )

    # --- plan ---
    def plan(self, ctx: Context, request: SetupRequest) -> AgentPlan:
        if request.level != "user":
            raise UsageError(
                "Roo Code takes its provider from the editor's user settings, not from a project",
                hint="run `megallm setup --agent roo-code --level user`",
            )
        plan = AgentPlan(AGENT_ID)
        settings_updates: dict[Path, dict[str, str | None]] = {}
        reload: list[str] = []
        for route in ROUTES:
            installs = route.installs(ctx)
            import_path = route.import_file(ctx)
            if route is ROO or installs or import_path.exists():
                plan.changes.append(self._import_change(ctx, request, route))
            for extension in installs:
                settings_file = extension.variant.settings_file(ctx.paths)
                settings_updates.setdefault(settings_file, {})[route.setting] = str(import_path)
                reload.append(extension.describe())
                if route is LEGACY_KILO:
                    plan.notes.append(
                        f"{extension.describe()} is the legacy Kilo Code extension: it gets the "
                        f"same profile through {route.setting}"
                    )
        for settings_file, updates in settings_updates.items():
            plan.notes.extend(_replaced_settings_notes(ctx, settings_file, updates))
            change = vscode.settings_change(
                settings_file,
                updates,
                AGENT_ID,
                ", ".join(f"{key} → import file" for key in updates),
            )
            if change is not None:
                plan.changes.append(change)
        plan.notes.extend(_plan_notes(ctx, reload))
        return plan

    def _import_change(self, ctx: Context, request: SetupRequest, route: ImportRoute) -> FileChange:
        path = route.import_file(ctx)
        previous = _read_import(path) or {}
        kept_model = (
            previous.get("openAiModelId")
            if ctx.gateway.matches(previous.get("openAiBaseUrl"))
            else None
        )
        model = request.model_for(AGENT_ID) or kept_model or vscode.DEFAULT_MODEL
        key = request.api_key.reveal()
        document = import_document(ctx.gateway.openai_base_url, key, model)
        after = (json.dumps(document, indent=2) + "\n").encode("utf-8")

        def validate(data: bytes) -> None:
            written = parse_import(data, path)
            problems = import_problems(written)
            if problems:
                raise ValueError(
                    f"{path}: {route.label} would not import it: {'; '.join(problems)}"
                )
            if written != document:
                raise ValueError(f"{path}: did not read back as written")

        return FileChange(
            path=path,
            before=read_bytes(path),
            after=after,
            agent=AGENT_ID,
            summary=f"{route.label} import file: profile {PROFILE_NAME} ({model})",
            secret=True,
            validate=validate,
        )

    # --- remove ---
    def unconfigure(self, ctx: Context, level: str) -> AgentPlan:
        plan = AgentPlan(AGENT_ID)
        if level != "user":
            plan.notes.append("Roo Code has no project-level settings from megallm: nothing to do")
            return plan
        for variant in vscode.VARIANTS:
            settings_file = variant.settings_file(ctx.paths)
            if not settings_file.exists():
                continue
            try:
                current = vscode.load_settings(settings_file).value
            except ConfigParseError as error:
                # An editor file we cannot read must not block removing everything else.
                plan.notes.append(
                    f"left {error.message} untouched: if it names megallm's import file, "
                    "delete that line by hand"
                )
                continue
            ours = _settings_naming_import_files(ctx, current)
            if not ours:
                continue
            prior = _settings_before_megallm(ctx, settings_file)
            if prior is None:
                plan.notes.append(
                    f"no backup shows {settings_file} before megallm: took out "
                    f"{', '.join(ours)} and left the rest as it is"
                )
            # A setting that named the user's own import file before megallm gets it back.
            earlier = {} if prior is None else _prior_settings(prior, settings_file)
            updates = {
                setting: earlier[setting] if isinstance(earlier.get(setting), str) else None
                for setting in ours
            }
            put_back = [setting for setting, value in updates.items() if value is not None]
            if prior is not None and put_back:
                plan.notes.append(
                    f"{', '.join(put_back)} back in {settings_file} as before megallm set it "
                    f"(backup {prior.session_id})"
                )
            change = vscode.settings_change(
                settings_file, updates, AGENT_ID, f"remove {', '.join(ours)}", prior
            )
            if change is not None:
                plan.changes.append(change)
        for route in ROUTES:
            path = route.import_file(ctx)
            before = read_bytes(path)
            if before is not None:
                plan.changes.append(
                    FileChange(
                        path, before, None, AGENT_ID, f"delete the {route.label} import file"
                    )
                )
        if plan.changes:
            plan.notes.append(
                f"Roo Code keeps the imported '{PROFILE_NAME}' profile in its own storage: pick "
                f"another profile in Roo's settings, then delete '{PROFILE_NAME}' there"
            )
        return plan

    # --- status ---
    def configured(self, ctx: Context) -> list[Configured]:
        found = []
        for route in ROUTES:
            path = route.import_file(ctx)
            profile = _read_import(path)
            if profile is None:
                continue
            base_url = profile.get("openAiBaseUrl")
            key = profile.get("openAiApiKey")
            model = profile.get("openAiModelId")
            found.append(
                Configured(
                    AGENT_ID,
                    "user",
                    (path, *_settings_pointing_at(ctx, route)),
                    base_url if isinstance(base_url, str) else None,
                    key if isinstance(key, str) else None,
                    model if isinstance(model, str) else None,
                )
            )
        return found

    # --- doctor ---
    def check(self, ctx: Context) -> list[Finding]:
        findings: list[Finding] = []
        for route in ROUTES:
            installs = route.installs(ctx)
            import_path = route.import_file(ctx)
            if route is LEGACY_KILO and not installs and not import_path.exists():
                continue
            if not installs:
                findings.append(
                    Finding(
                        AGENT_ID,
                        "warn" if import_path.exists() else "fail",
                        f"{route.label} is not installed in any editor found here",
                        f"looked in {', '.join(v.label for v in vscode.VARIANTS)}",
                        hint=f"install {route.label}, then run `megallm setup --agent roo-code`",
                    )
                )
            findings.extend(_check_import_file(ctx, route))
            for extension in installs:
                findings.extend(_check_setting(ctx, route, extension))
        for extension in vscode.find_extension(ctx.paths, LEGACY_KILO.extension_id):
            if not LEGACY_KILO.accepts(extension):
                findings.append(
                    Finding(
                        AGENT_ID,
                        "info",
                        f"{extension.describe()} is the new Kilo Code extension",
                        "it reads the Kilo CLI's config, not an import file",
                        hint="check it with `megallm doctor --agent kilo`",
                    )
                )
        if vscode.WINDSURF.is_present(ctx.paths):
            findings.append(
                Finding(
                    AGENT_ID,
                    "info",
                    "Windsurf's own agent (Cascade) cannot use MegaLLM",
                    "Windsurf has no custom-gateway setting; Roo Code and legacy Kilo Code "
                    "inside Windsurf are set up through Windsurf's settings.json",
                )
            )
        return findings


def _settings_pointing_at(ctx: Context, route: ImportRoute) -> list[Path]:
    found = []
    for variant in vscode.VARIANTS:
        settings_file = variant.settings_file(ctx.paths)
        try:
            value = vscode.setting_value(settings_file, route.setting)
        except (ConfigParseError, OSError):
            continue
        if isinstance(value, str) and resolve_setting_path(ctx, value) == route.import_file(ctx):
            found.append(settings_file)
    return found


def _replaced_settings_notes(
    ctx: Context, settings_file: Path, updates: dict[str, str | None]
) -> list[str]:
    """Say so when a setting named some other import file of the user's."""
    current = vscode.load_settings(settings_file).value
    notes = []
    for key, value in updates.items():
        previous = current.get(key)
        if not isinstance(previous, str) or not previous.strip() or value is None:
            continue
        if resolve_setting_path(ctx, previous) != Path(value):
            notes.append(
                f"{settings_file}: {key} was {previous!r}; it now names megallm's import "
                "file (restore brings the old value back)"
            )
    return notes


def _plan_notes(ctx: Context, reload: list[str]) -> list[str]:
    notes = []
    import_path = ROO.import_file(ctx)
    if reload:
        notes.append(
            f"reload the editor window (Developer: Reload Window) for {', '.join(reload)}: the "
            f"extension imports the '{PROFILE_NAME}' profile when it starts — at every start, so "
            f"'{PROFILE_NAME}' is made the active profile each time"
        )
    else:
        notes.append(
            f"Roo Code is not installed in any editor found here; {import_path} is ready: after "
            "installing it, run this setup again, or add "
            f'"{ROO.setting}": {json.dumps(str(import_path))} to the editor\'s settings.json'
        )
    for extension in vscode.find_extension(ctx.paths, LEGACY_KILO.extension_id):
        if not LEGACY_KILO.accepts(extension):
            notes.append(
                f"{extension.describe()} is the new Kilo Code extension: configure it with "
                "`megallm setup --agent kilo`"
            )
    if vscode.WINDSURF.is_present(ctx.paths):
        notes.append(
            vscode.windsurf_note(
                "Roo Code and legacy Kilo Code inside Windsurf can, through Windsurf's "
                "settings.json"
            )
        )
    return notes


def _check_import_file(ctx: Context, route: ImportRoute) -> list[Finding]:
    path = route.import_file(ctx)
    hint = "run `megallm setup --agent roo-code`"
    data = read_bytes(path)
    if data is None:
        return [Finding(AGENT_ID, "fail", f"{route.label}: no import file", str(path), hint)]
    try:
        value = parse_import(data, path)
    except ConfigParseError as error:
        return [Finding(AGENT_ID, "fail", f"{path} is not valid JSON", error.message, hint)]
    problems = import_problems(value)
    if problems:
        return [
            Finding(
                AGENT_ID,
                "fail",
                f"{route.label} would not import {path.name}",
                f"{path}: {'; '.join(problems)}",
                hint,
            )
        ]
    profile = _current_profile(value)
    findings = [Finding(AGENT_ID, "ok", f"{path.name} is a valid {route.label} import file")]
    base_url = profile.get("openAiBaseUrl")
    if ctx.gateway.matches(base_url):
        findings.append(Finding(AGENT_ID, "ok", f"openAiBaseUrl = {base_url}", str(path)))
    else:
        findings.append(
            Finding(
                AGENT_ID,
                "fail",
                "the import file points elsewhere",
                f"{path}: openAiBaseUrl {base_url!r} (expected {ctx.gateway.openai_base_url})",
                hint="run `megallm setup --agent roo-code` (or pass --base-url to doctor)",
            )
        )
    findings.append(vscode.key_finding(AGENT_ID, str(path), profile.get("openAiApiKey")))
    findings.append(Finding(AGENT_ID, "ok", f"model = {profile.get('openAiModelId')}"))
    findings.append(vscode.private_file_finding(AGENT_ID, path, current_mode(path)))
    return findings


def _check_setting(
    ctx: Context, route: ImportRoute, extension: vscode.InstalledExtension
) -> list[Finding]:
    settings_file = extension.variant.settings_file(ctx.paths)
    hint = "run `megallm setup --agent roo-code`"
    try:
        value = vscode.setting_value(settings_file, route.setting)
    except ConfigParseError as error:
        return [
            Finding(AGENT_ID, "fail", f"{settings_file} does not parse", error.message, error.hint)
        ]
    found = Finding(AGENT_ID, "ok", f"{extension.describe()}")
    if not isinstance(value, str) or not value.strip():
        return [
            found,
            Finding(
                AGENT_ID,
                "fail",
                f"{route.setting} is not set for {extension.variant.label}",
                str(settings_file),
                hint,
            ),
        ]
    target = resolve_setting_path(ctx, value)
    if target != route.import_file(ctx):
        return [
            found,
            Finding(
                AGENT_ID,
                "warn",
                f"{route.setting} names another file",
                f"{settings_file}: {value} (megallm's is {route.import_file(ctx)})",
                hint,
            ),
        ]
    if not target.is_file():
        return [
            found,
            Finding(
                AGENT_ID,
                "fail",
                f"{route.setting} names a missing file",
                f"{settings_file}: {value}",
                hint,
            ),
        ]
    return [found, Finding(AGENT_ID, "ok", f"{route.setting} set in {settings_file}")]


AGENT = RooCode()
