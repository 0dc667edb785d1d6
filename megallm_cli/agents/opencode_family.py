"""OpenCode and its fork Kilo: a `provider.megallm` entry in their JSONC config that names the
variable holding the key, so no config file of theirs ever holds the key itself.

Facts (observed on OpenCode 1.18.33 and Kilo 7.7.7 with `debug config`, docs/REAL_AGENTS.md):
- Both merge every config file they find, member by member, in a fixed order (`Flavor` lists
  the files lowest precedence first): the config dir, then the override variable's file, then
  the project's files, then the home dot-dirs (~/.opencode, ~/.kilo), which beat even the project.
- Setup writes into the winning existing file of its level, so a sibling file in the same dir
  cannot override what we set; a file we create gets the agent's `$schema`.
- `options.baseURL` must be spelled so: `baseUrl` is silently ignored.
- The `models` map is required ("Provider not found" without it): neither agent reads
  /v1/models for a custom provider. `@ai-sdk/openai-compatible` is bundled with both; any other
  npm package is downloaded at start, which hangs offline.
- User level: `options.apiKey = "{env:MEGALLM_API_KEY}"`. Project level: Kilo refuses a whole
  project file that contains an `{env:…}` reference ("environment references are not allowed in
  project config"), and it reads the project's opencode.json(c) too; the provider's
  `"env": ["MEGALLM_API_KEY"]` list makes both agents send that variable as the key, and Kilo
  accepts it in a project file.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from megallm_cli.agents import jsonfile
from megallm_cli.agents.base import AgentPlan, Configured, Context, Detection, Finding, Status
from megallm_cli.changes import FileChange, bytes_after_removal
from megallm_cli.errors import ConfigParseError, FileProblem
from megallm_cli.formats import jsonc
from megallm_cli.formats.text import decode_utf8, encode_utf8
from megallm_cli.fsio import current_user
from megallm_cli.keysource import KEY_ENV
from megallm_cli.paths import Paths
from megallm_cli.request import SetupRequest
from megallm_cli.system import (
    find_executable,
    npm_package_version,
    running_processes,
    user_bin_dirs,
)

if TYPE_CHECKING:
    from megallm_cli.models import ModelCatalog

PROVIDER_ID = "megallm"
PROVIDER_NAME = "MegaLLM"
NPM_PACKAGE = "@ai-sdk/openai-compatible"
KEY_REFERENCE = f"{{env:{KEY_ENV}}}"
MODEL_PREFIX = f"{PROVIDER_ID}/"
PROVIDER = ("provider", PROVIDER_ID)
NPM = (*PROVIDER, "npm")
BASE_URL = (*PROVIDER, "options", "baseURL")
API_KEY = (*PROVIDER, "options", "apiKey")
KEY_VARIABLES = (*PROVIDER, "env")
MODELS = (*PROVIDER, "models")
_ENV_REFERENCE = re.compile(r"\{env:([A-Za-z_][A-Za-z0-9_]*)\}")
_FILE_REFERENCE = re.compile(r"\{file:([^}]+)\}")
_TRAILING_COMMA = re.compile(r",(?=[}\]])")
# Where near-misses of our keys are looked for; the agents ignore a misspelled key silently.
_EXPECTED_KEYS: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] = (
    ((), ("provider", "model")),
    (PROVIDER, ("npm", "name", "options", "models")),
    ((*PROVIDER, "options"), ("baseURL", "apiKey")),
)


@dataclass(frozen=True)
class Flavor:
    """Where one member of the family keeps its config, and what it calls things."""

    id: str
    display_name: str
    binary: str
    package: str
    schema_url: str
    config_dir: Callable[[Paths], Path]
    override: Callable[[Paths], Path | None]
    override_var: str
    content_var: str
    """Holds a whole config; it beats every file."""
    user_files: tuple[str, ...]
    """Names in the config dir, lowest precedence first."""
    new_user_file: str
    project_files: tuple[str, ...]
    """Relative to the project, lowest precedence first."""
    new_project_file: str
    home_files: tuple[str, ...]
    """Relative to HOME; read after the project's files, so they beat everything."""
    installer_bin_dirs: tuple[str, ...] = ()
    """Relative to HOME: where the agent's own installer puts its binary."""
    project_env_references: bool = True
    """False when the agent ignores a project file that contains `{env:…}` (Kilo)."""


@dataclass(frozen=True)
class Layer:
    """One parsed config file the agent reads, at its place in the precedence order."""

    level: str
    document: jsonfile.JsonDocument

    @property
    def path(self) -> Path:
        return self.document.path

    def get(self, keys: tuple[str, ...]) -> Any:
        value: Any = self.document.value
        for key in keys:
            if not isinstance(value, dict) or key not in value:
                return None
            value = value[key]
        return value


def _winner(layers: list[Layer], keys: tuple[str, ...]) -> Layer | None:
    """The highest-precedence layer that sets `keys`: the agent uses its value."""
    return next((layer for layer in reversed(layers) if layer.get(keys) is not None), None)


def _dotted(keys: tuple[str, ...]) -> str:
    return ".".join(keys)


def _normalized(key: str) -> str:
    return key.lower().replace("_", "").replace("-", "").rstrip("s")


def _misspellings(value: Any, expected: tuple[str, ...]) -> Iterator[tuple[str, str]]:
    """(found, meant) for each key that differs from an expected one only in case, _, - or s."""
    if not isinstance(value, dict):
        return
    for key in value:
        for meant in expected:
            if key != meant and _normalized(key) == _normalized(meant):
                yield key, meant


def _model_id(chosen: str | None) -> str | None:
    """`--model megallm/gpt-5` and `--model gpt-5` name the same model."""
    if not chosen:
        return None
    return chosen.removeprefix(MODEL_PREFIX)


def _listed_models(layers: list[Layer]) -> set[str]:
    """The agent merges the `models` maps of every file."""
    listed: set[str] = set()
    for layer in layers:
        models = layer.get(MODELS)
        if isinstance(models, dict):
            listed.update(models)
    return listed


def _points_at_megallm(value: dict[str, Any]) -> bool:
    """Whether setup has been here: our provider, or a default model of ours."""
    provider = value.get("provider")
    model = value.get("model")
    return (isinstance(provider, dict) and PROVIDER_ID in provider) or (
        isinstance(model, str) and model.startswith(MODEL_PREFIX)
    )


def _layout_free(text: str) -> tuple[bool, str]:
    """The text without whitespace and trailing commas (a blank file reads as `{}`), and
    whether it has a BOM: equal for two texts that differ only there. Comments count."""
    compact = _TRAILING_COMMA.sub("", "".join(text.removeprefix("\ufeff").split()))
    return text.startswith("\ufeff"), compact or "{}"


@dataclass(frozen=True)
class _PriorConfig:
    """A config file as it was before megallm first changed it (`data` None: it did not exist)."""

    session_id: str
    data: bytes | None
    text: str
    value: dict[str, Any]


def _parsed(data: bytes | None, path: Path) -> tuple[str, dict[str, Any]]:
    text = "" if data is None else decode_utf8(data, path)
    return text, jsonfile.parse_object(text, path, strict=False)


def _is_file(path: Path) -> bool:
    """Whether a config file is there. Which file setup writes and remove edits depends on the
    answer, so a directory we may not look into is an error naming the file, not a no."""
    try:
        return path.is_file()
    except PermissionError:
        raise FileProblem(
            path,
            "permission denied on a directory above it",
            f"check the owner and mode of {path.parent} (ls -ld '{path.parent}'); megallm "
            f"runs as {current_user()}",
        ) from None
    except OSError as error:
        raise FileProblem(
            path, error.strerror or str(error), "check the path, then run again"
        ) from None


class OpenCodeFamilyAgent:
    levels = ("user", "project")
    needs_shell_env = True

    def __init__(self, flavor: Flavor) -> None:
        self.flavor = flavor
        self.id = flavor.id
        self.display_name = flavor.display_name

    # --- where things live ---
    def writable_files(self, ctx: Context, level: str) -> list[Path]:
        """The files setup may write at `level`, lowest precedence first."""
        if level == "project":
            return [ctx.project_dir / name for name in self.flavor.project_files]
        directory = self.flavor.config_dir(ctx.paths)
        override = self.flavor.override(ctx.paths)
        return [*(directory / name for name in self.flavor.user_files), *filter(None, [override])]

    def target(self, ctx: Context, level: str) -> Path:
        """The override file, else the winning existing file of the level, else a new one."""
        override = self.flavor.override(ctx.paths)
        if level == "user" and override is not None:
            return override
        existing = [path for path in self.writable_files(ctx, level) if _is_file(path)]
        if existing:
            return existing[-1]
        if level == "project":
            return ctx.project_dir / self.flavor.new_project_file
        return self.flavor.config_dir(ctx.paths) / self.flavor.new_user_file

    def files_read(self, ctx: Context) -> list[tuple[str, Path]]:
        """Every config file the agent reads, with its level, lowest precedence first."""
        return [
            *(("user", path) for path in self.writable_files(ctx, "user")),
            *(("project", path) for path in self.writable_files(ctx, "project")),
            *(("user", ctx.paths.home / name) for name in self.flavor.home_files),
        ]

    def layers(
        self, ctx: Context, planned: jsonfile.JsonDocument | None = None
    ) -> tuple[list[Layer], list[ConfigParseError | FileProblem]]:
        """The parsed files, lowest precedence first (`planned` standing in for its file), and
        the files that cannot be parsed or read."""
        layers: list[Layer] = []
        broken: list[ConfigParseError | FileProblem] = []
        for level, path in self.files_read(ctx):
            if planned is not None and path == planned.path:
                layers.append(Layer(level, planned))
                continue
            try:
                if not _is_file(path):
                    continue
                layers.append(Layer(level, jsonfile.load(path, strict=False)))
            except (ConfigParseError, FileProblem) as error:
                broken.append(error)
        return layers, broken

    # --- detect ---
    def detect(self, ctx: Context) -> Detection:
        paths = ctx.paths
        installer_dirs = [paths.home / name for name in self.flavor.installer_bin_dirs]
        binary = find_executable(
            self.flavor.binary, paths, [*installer_dirs, *user_bin_dirs(paths)]
        )
        if binary is None:
            return Detection(self.id, installed=False)
        return Detection(
            self.id,
            installed=True,
            version=npm_package_version(binary, self.flavor.package),
            location=str(binary),
            running=bool(self._running()),
        )

    def _running(self) -> list[Any]:
        return running_processes([self.flavor.binary], [self.flavor.package])

    # --- plan ---
    def plan(self, ctx: Context, request: SetupRequest) -> AgentPlan:
        from megallm_cli import models

        plan = AgentPlan(self.id, env={KEY_ENV: request.api_key.reveal()})
        target = self.target(ctx, request.level)
        model_catalog = request.model_catalog or models.catalog(
            ctx.paths, ctx.gateway, None, online=False
        )
        chosen = _model_id(request.model_for(self.id))
        model_ids = models.config_model_ids(model_catalog, chosen)
        document = jsonfile.load(target, strict=False)
        base_url = ctx.gateway.openai_base_url
        text = self._configured_text(document, request.level, base_url, model_ids, chosen)
        after = encode_utf8(text)
        summary = f"provider.{PROVIDER_ID}" + (f", model {MODEL_PREFIX}{chosen}" if chosen else "")
        plan.changes.append(
            FileChange(
                path=target,
                before=document.before,
                after=after,
                agent=self.id,
                summary=summary,
                validate=_validator(target, request.level, base_url, chosen),
            )
        )
        plan.notes.extend(
            self._setup_notes(document, request.level, chosen, model_catalog, len(model_ids))
        )
        planned = jsonfile.JsonDocument(
            target, after, text, jsonfile.parse_object(text, target, strict=False)
        )
        layers, _ = self.layers(ctx, planned)
        plan.notes.extend(self._beaten(layers, Layer(request.level, planned)))
        if request.level == "user" and self.flavor.override(ctx.paths) is not None:
            plan.notes.append(f"{self.flavor.override_var} is set: {target} is the file to write")
        if request.level == "project":
            plan.notes.append(f"{target} names the variable {KEY_ENV}, not the key: safe to commit")
        if self._running():
            plan.notes.append(f"{self.display_name} is running: restart it to load the provider")
        return plan

    def _configured_text(
        self,
        document: jsonfile.JsonDocument,
        level: str,
        base_url: str,
        model_ids: list[str],
        chosen: str | None,
    ) -> str:
        """The file's text with our provider and the chosen model; every other byte kept."""
        path = document.path
        provider = jsonfile.object_at(document.value, "provider", path)
        ours = jsonfile.object_at(provider, PROVIDER_ID, path)
        options = jsonfile.object_at(ours, "options", path)
        listed = jsonfile.object_at(ours, "models", path)
        text = document.text
        if not document.exists:
            text = jsonc.set_value(text, ["$schema"], self.flavor.schema_url)
        text = jsonc.set_value(text, NPM, NPM_PACKAGE)
        if "name" not in ours:
            text = jsonc.set_value(text, [*PROVIDER, "name"], PROVIDER_NAME)
        if level == "project":
            text = jsonc.set_value(text, KEY_VARIABLES, [KEY_ENV])
            text = jsonc.delete_value(text, API_KEY)
        text = jsonc.set_value(text, BASE_URL, base_url)
        if level == "user":
            text = jsonc.set_value(text, API_KEY, KEY_REFERENCE)
        for misspelled, _ in _misspellings(options, ("baseURL", "apiKey")):
            text = jsonc.delete_value(text, [*PROVIDER, "options", misspelled])
        for model_id in model_ids:
            if model_id not in listed:
                text = jsonc.set_value(text, [*MODELS, model_id], {"name": model_id})
        if chosen:
            text = jsonc.set_value(text, ["model"], MODEL_PREFIX + chosen)
        return text

    def _setup_notes(
        self,
        document: jsonfile.JsonDocument,
        level: str,
        chosen: str | None,
        model_catalog: ModelCatalog,
        listed: int,
    ) -> list[str]:
        name = self.display_name
        notes = [f"{name}: {listed} models listed, from the {model_catalog.describe()}"]
        options = Layer(level, document).get((*PROVIDER, "options"))
        if level == "project" and isinstance(options, dict) and "apiKey" in options:
            notes.append(
                f"{name}: removed options.apiKey from {document.path}: a project file gets "
                f"the key from {KEY_ENV} through provider.{PROVIDER_ID}.env"
            )
        for misspelled, meant in _misspellings(options, ("baseURL", "apiKey")):
            notes.append(
                f"{name}: removed options.{misspelled} from {document.path} ({meant} it is)"
            )
        current = document.value.get("model")
        if chosen and isinstance(current, str) and current != MODEL_PREFIX + chosen:
            notes.append(
                f"{name}: default model {current} replaced (remove or restore brings it back)"
            )
        elif not chosen and isinstance(current, str) and not current.startswith(MODEL_PREFIX):
            notes.append(
                f"{name} keeps its default model {current}: choose a {MODEL_PREFIX}… model in "
                f"it, or pass --model {self.id}=<id>"
            )
        return notes

    def _beaten(self, layers: list[Layer], ours: Layer) -> list[str]:
        """A later file that sets what `ours` sets to something else wins: say which."""
        notes = []
        for keys in (("model",), NPM, BASE_URL, API_KEY):
            mine = ours.get(keys)
            winner = _winner(layers, keys)
            if mine is None or winner is None or winner.path == ours.path:
                continue
            if winner.get(keys) != mine:
                shown = "" if keys == API_KEY else f" = {winner.get(keys)}"
                notes.append(
                    f"{winner.path} sets {_dotted(keys)}{shown}, and {self.display_name} reads "
                    f"it after {ours.path}: edit or remove it there"
                )
        return notes

    # --- remove ---
    def unconfigure(self, ctx: Context, level: str) -> AgentPlan:
        """Take out provider.megallm and put back the default model it replaced; keep the rest.

        A file that then says what it said before megallm first changed it gets those exact
        bytes back (a blank file too); a file megallm created goes when nothing else is in it.
        """
        plan = AgentPlan(self.id)
        for path in self.writable_files(ctx, level):
            if not _is_file(path):
                continue
            document = jsonfile.load(path, strict=False)
            if not _points_at_megallm(document.value):
                continue
            prior = self._image_before_megallm(ctx, path)
            text = document.text
            provider = document.value.get("provider")
            if isinstance(provider, dict) and PROVIDER_ID in provider:
                text = jsonc.delete_value(text, PROVIDER)
                if len(provider) == 1 and (prior is None or "provider" not in prior.value):
                    text = jsonc.delete_value(text, ["provider"])
            model = document.value.get("model")
            if isinstance(model, str) and model.startswith(MODEL_PREFIX):
                previous = prior.value.get("model") if prior is not None else None
                if prior is None or previous is None:
                    text = jsonc.delete_value(text, ["model"])
                else:
                    text = jsonc.set_value(text, ["model"], previous)
                    plan.notes.append(
                        f"{self.display_name}: default model back to {previous} in {path}, as "
                        f"it was before megallm set it (backup {prior.session_id})"
                    )
            small_model = document.value.get("small_model")
            if isinstance(small_model, str) and small_model.startswith(MODEL_PREFIX):
                plan.notes.append(f"kept small_model {small_model} in {path}: change it by hand")
            plan.changes.append(
                FileChange(
                    path,
                    document.before,
                    self._undone(text, path, prior),
                    self.id,
                    f"remove provider.{PROVIDER_ID}",
                )
            )
        return plan

    def _image_before_megallm(self, ctx: Context, path: Path) -> _PriorConfig | None:
        from megallm_cli import backups

        def is_megallms(data: bytes | None) -> bool:
            try:
                return _points_at_megallm(_parsed(data, path)[1])
            except ConfigParseError:
                return True  # unparsable: not a state remove could put back

        prior = backups.image_before_megallm(ctx.paths.backups_dir, path, is_megallms)
        if prior is None:
            return None
        return _PriorConfig(prior.session_id, prior.data, *_parsed(prior.data, path))

    def _undone(self, text: str, path: Path, prior: _PriorConfig | None) -> bytes | None:
        """The bytes remove leaves: the old ones when only layout tells them apart from `text`;
        none (delete) for a file megallm created, or with no backup, that has nothing else."""

        def reads_the_same(data: bytes) -> bool:
            earlier_text, earlier = _parsed(data, path)
            remaining = jsonfile.parse_object(text, path, strict=False)
            return remaining == earlier and _layout_free(text) == _layout_free(earlier_text)

        return bytes_after_removal(
            text,
            None if prior is None else prior.data,
            nothing_left=lambda: self._only_ours_left(text, path),
            reads_the_same=reads_the_same,
        )

    def _only_ours_left(self, text: str, path: Path) -> bool:
        """Nothing but the `$schema` we add to files we create, and no comment: delete it."""
        remaining = jsonfile.parse_object(text, path, strict=False)
        schema_only = remaining in ({}, {"$schema": self.flavor.schema_url})
        return schema_only and not jsonc.has_comments(text)

    # --- status ---
    def configured(self, ctx: Context) -> list[Configured]:
        layers, _ = self.layers(ctx)
        found = []
        for level in ("user", "project"):
            mine = [layer for layer in layers if layer.level == level]
            holding = tuple(layer.path for layer in mine if isinstance(layer.get(PROVIDER), dict))
            if not holding:
                continue
            base_url = _winner(mine, BASE_URL)
            model = _winner(mine, ("model",))
            found.append(
                Configured(
                    self.id,
                    level,
                    holding,
                    _as_str(base_url.get(BASE_URL)) if base_url else None,
                    None,  # the files refer to the key; they never hold it
                    _as_str(model.get(("model",))) if model else None,
                )
            )
        return found

    # --- doctor ---
    def check(self, ctx: Context) -> list[Finding]:
        name = self.display_name
        layers, broken = self.layers(ctx)
        findings = [
            Finding(
                self.id,
                "fail",
                f"{error.path} is not valid JSONC"
                if isinstance(error, ConfigParseError)
                else f"{error.filename} cannot be read",
                error.message,
                error.hint,
            )
            for error in broken
        ]
        findings.extend(Finding(self.id, "ok", f"{layer.path} parses") for layer in layers)
        if ctx.paths.env.get(self.flavor.content_var):
            findings.append(
                Finding(
                    self.id,
                    "warn",
                    f"{self.flavor.content_var} is set",
                    f"{name} reads a whole config from it, and it beats every file",
                    hint=f"unset {self.flavor.content_var} unless you meant it",
                )
            )
        if not any(isinstance(layer.get(PROVIDER), dict) for layer in layers):
            try:
                user_file = self.target(ctx, "user")
            except FileProblem:  # already a finding above, as a file that cannot be read
                user_file = self.flavor.config_dir(ctx.paths)
            findings.append(
                Finding(
                    self.id,
                    "fail",
                    "not configured for MegaLLM",
                    f"no provider.{PROVIDER_ID} in {user_file} or the project",
                    hint=f"run `megallm setup --agent {self.id}`",
                )
            )
            return findings
        findings.extend(self._misspelling_findings(layers))
        findings.extend(self._check_npm(layers))
        findings.extend(self._check_base_url(ctx, layers))
        findings.extend(self._check_api_key(ctx, layers))
        findings.extend(self._check_project_references(layers))
        findings.extend(self._check_models(layers))
        findings.extend(self._check_enabled(layers))
        return findings

    def _finding(self, status: Status, title: str, detail: str = "", fix: bool = True) -> Finding:
        hint = f"run `megallm setup --agent {self.id}`" if fix and status != "ok" else None
        return Finding(self.id, status, title, detail, hint)

    def _misspelling_findings(self, layers: list[Layer]) -> list[Finding]:
        findings = []
        for layer in layers:
            for where, expected in _EXPECTED_KEYS:
                for found, meant in _misspellings(layer.get(where), expected):
                    place = _dotted((*where, found))
                    findings.append(
                        Finding(
                            self.id,
                            "fail",
                            f"misspelled key {place}",
                            f"{layer.path}: {self.display_name} ignores it; it reads '{meant}'",
                            hint=f"rename it to {meant} (or run `megallm setup --agent {self.id}`)",
                        )
                    )
        return findings

    def _check_npm(self, layers: list[Layer]) -> list[Finding]:
        winner = _winner(layers, NPM)
        if winner is None:
            return [self._finding("fail", f"provider.{PROVIDER_ID} has no npm package")]
        package = winner.get(NPM)
        if package == NPM_PACKAGE:
            return [self._finding("ok", f"npm = {NPM_PACKAGE}", str(winner.path))]
        return [
            self._finding(
                "fail",
                f"npm = {package} is not bundled with {self.display_name}",
                f"{winner.path}: it downloads the package at start, and hangs offline",
            )
        ]

    def _check_base_url(self, ctx: Context, layers: list[Layer]) -> list[Finding]:
        expected = ctx.gateway.openai_base_url
        winner = _winner(layers, BASE_URL)
        if winner is None:
            return [self._finding("fail", f"{_dotted(BASE_URL)} is not set")]
        value = winner.get(BASE_URL)
        if value == expected or (isinstance(value, str) and value.rstrip("/") == expected):
            return [self._finding("ok", f"baseURL = {value}", str(winner.path))]
        right = [layer for layer in layers if layer.get(BASE_URL) == expected]
        if right:
            return [
                Finding(
                    self.id,
                    "fail",
                    f"{winner.path} overrides the gateway URL",
                    f"it sets baseURL {value}, and {self.display_name} reads it after "
                    f"{right[-1].path} ({expected})",
                    hint=f"remove provider.{PROVIDER_ID} from {winner.path}",
                )
            ]
        if isinstance(value, str) and value.rstrip("/") == ctx.gateway.anthropic_base_url:
            return [
                self._finding(
                    "fail", "baseURL lacks /v1", f"{winner.path}: {value} (expected {expected})"
                )
            ]
        return [
            Finding(
                self.id,
                "warn",
                "baseURL points elsewhere",
                f"{winner.path}: {value} (expected {expected})",
                hint="pass --base-url or set MEGALLM_BASE_URL if that is your gateway",
            )
        ]

    def _check_api_key(self, ctx: Context, layers: list[Layer]) -> list[Finding]:
        winner = _winner(layers, API_KEY)
        if winner is None:
            return self._check_key_variables(ctx, layers)
        value = winner.get(API_KEY)
        where = str(winner.path)
        env_reference = _ENV_REFERENCE.fullmatch(value) if isinstance(value, str) else None
        file_reference = _FILE_REFERENCE.fullmatch(value) if isinstance(value, str) else None
        if env_reference:
            return [self._check_variable(ctx, env_reference.group(1), f"apiKey = {value}", where)]
        if file_reference:
            return [self._check_key_file(ctx, winner.path, file_reference.group(1))]
        if winner.level == "project":
            return [
                self._finding(
                    "fail", "the key is written into a project file", f"{where}: it gets committed"
                )
            ]
        return [
            self._finding(
                "warn", "the key is written into the config", f"{where}: prefer {KEY_REFERENCE}"
            )
        ]

    def _check_key_variables(self, ctx: Context, layers: list[Layer]) -> list[Finding]:
        """No apiKey: the agent sends the first set variable of the provider's `env` list."""
        winner = _winner(layers, KEY_VARIABLES)
        names = winner.get(KEY_VARIABLES) if winner else None
        if winner is None or not isinstance(names, list) or not names:
            return [
                self._finding(
                    "fail",
                    f"provider.{PROVIDER_ID} names no key",
                    "neither options.apiKey nor env is set: requests go out without a key",
                )
            ]
        where = str(winner.path)
        return [self._check_variable(ctx, str(name), f"key from ${name}", where) for name in names]

    def _check_project_references(self, layers: list[Layer]) -> list[Finding]:
        """Kilo ignores a whole project file with an `{env:…}` in it (observed on 7.7.7)."""
        if self.flavor.project_env_references:
            return []
        return [
            Finding(
                self.id,
                "fail",
                f"{self.display_name} ignores {layer.path}",
                "it refuses {env:…} references in project config, and this file has one",
                hint=f"run `megallm setup --agent {self.id} --level project`, or move the "
                "reference to your user config",
            )
            for layer in layers
            if layer.level == "project" and "{env:" in layer.document.text
        ]

    def _check_variable(self, ctx: Context, variable: str, title: str, where: str) -> Finding:
        from megallm_cli.shellenv import persisted_value

        if variable == KEY_ENV:
            # Whether MEGALLM_API_KEY reaches new shells is what the shell checks report.
            return self._finding("ok", title, where)
        if persisted_value(ctx.paths, variable) is not None:
            return self._finding("ok", f"{title}, persisted by megallm", where)
        if ctx.paths.env.get(variable):
            return self._finding(
                "warn",
                f"{title}: ${variable} is set in this terminal only",
                f"{where}: {self.display_name} started elsewhere gets no key",
            )
        return self._finding("fail", f"{title}: ${variable} is not set", f"{where}: no key is sent")

    def _check_key_file(self, ctx: Context, config: Path, reference: str) -> Finding:
        reference = reference.strip()
        if reference.startswith("~"):
            key_file = ctx.paths.expand_user(reference)
        else:
            key_file = config.parent / reference  # relative to the config file, as the agent does
        try:
            present = bool(key_file.read_text(encoding="utf-8").strip())
        except (OSError, UnicodeDecodeError):
            present = False
        if present:
            return self._finding("ok", f"apiKey read from {key_file}", str(config))
        return self._finding("fail", f"apiKey file {key_file} is missing or empty", str(config))

    def _check_models(self, layers: list[Layer]) -> list[Finding]:
        name = self.display_name
        listed = _listed_models(layers)
        if not listed:
            return [
                self._finding(
                    "fail",
                    f"provider.{PROVIDER_ID} lists no models",
                    f'{name} says "Provider not found" without them',
                )
            ]
        findings = [self._finding("ok", f"{len(listed)} models listed")]
        for keys in (("model",), ("small_model",)):
            winner = _winner(layers, keys)
            value = winner.get(keys) if winner else None
            if not isinstance(value, str) or winner is None:
                continue
            if value.startswith(MODEL_PREFIX):
                if value.removeprefix(MODEL_PREFIX) in listed:
                    findings.append(self._finding("ok", f"{keys[0]} = {value}", str(winner.path)))
                else:
                    findings.append(
                        self._finding(
                            "fail",
                            f"{keys[0]} {value} is not in provider.{PROVIDER_ID}.models",
                            f"{winner.path}: {name} fails with 'model not found'",
                        )
                    )
                continue
            ours = [layer for layer in layers if str(layer.get(keys)).startswith(MODEL_PREFIX)]
            if ours:
                findings.append(
                    Finding(
                        self.id,
                        "fail",
                        f"{winner.path} overrides {keys[0]}",
                        f"it sets {value}, and {name} reads it after {ours[-1].path}",
                        hint=f"remove {keys[0]} from {winner.path}",
                    )
                )
            elif keys == ("model",):
                findings.append(
                    self._finding("info", f"default model is {value}", str(winner.path), fix=False)
                )
        return findings

    def _check_enabled(self, layers: list[Layer]) -> list[Finding]:
        findings = []
        disabled = _winner(layers, ("disabled_providers",))
        if disabled and PROVIDER_ID in (disabled.get(("disabled_providers",)) or []):
            findings.append(
                Finding(
                    self.id,
                    "fail",
                    f"{PROVIDER_ID} is in disabled_providers",
                    str(disabled.path),
                    hint=f"remove {PROVIDER_ID} from disabled_providers in {disabled.path}",
                )
            )
        enabled = _winner(layers, ("enabled_providers",))
        allowed = enabled.get(("enabled_providers",)) if enabled else None
        if enabled and isinstance(allowed, list) and PROVIDER_ID not in allowed:
            findings.append(
                Finding(
                    self.id,
                    "fail",
                    f"enabled_providers leaves {PROVIDER_ID} out",
                    str(enabled.path),
                    hint=f"add {PROVIDER_ID} to enabled_providers in {enabled.path}",
                )
            )
        return findings


def _as_str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _validator(
    path: Path, level: str, base_url: str, chosen: str | None
) -> Callable[[bytes], None]:
    """Re-read the written file as the agent would and find our entries in it."""

    def validate(data: bytes) -> None:
        text = data.decode("utf-8")
        written = Layer(
            level,
            jsonfile.JsonDocument(
                path, data, text, jsonfile.parse_object(text, path, strict=False)
            ),
        )
        expected: dict[tuple[str, ...], Any] = {NPM: NPM_PACKAGE, BASE_URL: base_url}
        if level == "user":
            expected[API_KEY] = KEY_REFERENCE
        else:
            expected[KEY_VARIABLES] = [KEY_ENV]
            expected[API_KEY] = None
        if chosen:
            expected[("model",)] = MODEL_PREFIX + chosen
        wrong = [_dotted(keys) for keys, value in expected.items() if written.get(keys) != value]
        if chosen and chosen not in (written.get(MODELS) or {}):
            wrong.append(_dotted((*MODELS, chosen)))
        if wrong:
            raise ValueError(f"{path}: {', '.join(wrong)} did not read back as written")

    return validate
