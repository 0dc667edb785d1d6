"""Claude Code: the `env` block of settings.json, plus onboarding state in ~/.claude.json.

Facts (DESIGN §3, observed on 2.1.332): the settings `env` block beats shell exports; both auth
variables set means both headers are sent; one comment makes Claude Code ignore the whole
settings file; without `hasCompletedOnboarding` the first start tries api.anthropic.com.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from megallm_cli.agents import jsonfile
from megallm_cli.agents.base import AgentPlan, Configured, Context, Detection, Finding
from megallm_cli.changes import SECRET_FILE_MODE, FileChange
from megallm_cli.errors import ConfigParseError, MegallmError
from megallm_cli.formats import jsonc
from megallm_cli.formats.text import decode_utf8, encode_utf8
from megallm_cli.fsio import current_mode, read_bytes
from megallm_cli.request import KEY_PREFIX, SetupRequest, mask_key
from megallm_cli.system import (
    find_executable,
    npm_package_version,
    running_processes,
    user_bin_dirs,
)

if TYPE_CHECKING:
    from megallm_cli.backups import PriorImage

AGENT_ID = "claude-code"
PACKAGE = "@anthropic-ai/claude-code"
BASE_URL_VAR = "ANTHROPIC_BASE_URL"
AUTH_VARIABLES = ("ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_API_KEY")
MODEL_VAR = "ANTHROPIC_MODEL"
APPROVED_KEY_CHARS = 20
KEY_RESPONSES = "customApiKeyResponses"
_NATIVE_VERSION = re.compile(r"^\d+\.\d+\.\d+")


def approved_key_suffix(key: str) -> str:
    """What Claude Code stores in customApiKeyResponses.approved for an approved key."""
    return key.strip()[-APPROVED_KEY_CHARS:]


class ClaudeCode:
    id = AGENT_ID
    display_name = "Claude Code"
    levels = ("user", "project")
    needs_shell_env = False

    # --- where things live ---
    @staticmethod
    def user_settings(ctx: Context) -> Path:
        return ctx.paths.claude_config_dir / "settings.json"

    @staticmethod
    def project_settings(ctx: Context) -> Path:
        return ctx.project_dir / ".claude" / "settings.json"

    @staticmethod
    def local_settings(ctx: Context) -> Path:
        return ctx.project_dir / ".claude" / "settings.local.json"

    def _settings_by_level(self, ctx: Context) -> list[tuple[str, Path]]:
        """User, project and local settings, lowest precedence first.

        Run from the home directory, the "project" settings.json is the user's own file:
        it is listed once, as user level.
        """
        user = self.user_settings(ctx)
        candidates = [
            ("project", self.project_settings(ctx)),
            ("project", self.local_settings(ctx)),
        ]
        same_as_user = os.path.realpath(user)
        return [("user", user)] + [
            (level, path) for level, path in candidates if os.path.realpath(path) != same_as_user
        ]

    def target(self, ctx: Context, level: str) -> Path:
        return self.user_settings(ctx) if level == "user" else self.local_settings(ctx)

    # --- detect ---
    def detect(self, ctx: Context) -> Detection:
        paths = ctx.paths
        extra = [paths.home / ".claude" / "local", *user_bin_dirs(paths)]
        binary = find_executable("claude", paths, extra)
        if binary is None:
            return Detection(AGENT_ID, installed=False)
        return Detection(
            AGENT_ID,
            installed=True,
            version=_version_without_running(binary),
            location=str(binary),
            running=bool(_running_claude()),
        )

    # --- plan ---
    def plan(self, ctx: Context, request: SetupRequest) -> AgentPlan:
        plan = AgentPlan(AGENT_ID)
        key = request.api_key.reveal()
        target = self.target(ctx, request.level)
        plan.changes.append(self._settings_change(ctx, request, target, plan.notes))
        if request.level == "project":
            from megallm_cli.gitignore import is_tracked, plan_ignore_entry

            if is_tracked(target):
                raise MegallmError(
                    f"{target} is tracked by git, so the key would be committed",
                    hint=f"run `git rm --cached {target}` first, or use --level user",
                )
            ignore = plan_ignore_entry(target, AGENT_ID)
            if ignore:
                plan.changes.append(ignore)
        state = self._state_change(ctx, key, request.claude_auth_variable)
        if state:
            plan.changes.append(state)
        if _running_claude():
            plan.notes.append("Claude Code is running: restart it to pick up the new settings")
        return plan

    def _settings_change(
        self, ctx: Context, request: SetupRequest, target: Path, notes: list[str]
    ) -> FileChange:
        key = request.api_key.reveal()
        auth = request.claude_auth_variable
        other_auth = next(v for v in AUTH_VARIABLES if v != auth)
        document = _load_settings(target, fix_comments=request.fix_claude_comments)
        text = document.text
        if document.exists and jsonc.has_comments(text):
            text = jsonc.strip_comments(text)
            notes.append(f"removed the comments from {target}: Claude Code ignored the file")
        env = jsonfile.object_at(document.value, "env", target)
        updates: list[tuple[str, str]] = [(BASE_URL_VAR, request.gateway.anthropic_base_url)]
        updates.append((auth, key))
        model = request.model_for(AGENT_ID)
        if model:
            updates.append((MODEL_VAR, model))
        for name, value in updates:
            text = jsonc.set_value(text, ["env", name], value)
        if other_auth in env:
            text = jsonc.delete_value(text, ["env", other_auth])
            notes.append(
                f"removed {other_auth} from {target}: with {auth} it would send a second auth "
                "header (restore brings it back)"
            )
        if document.exists and current_mode(target) not in (None, SECRET_FILE_MODE):
            mode = current_mode(target) or 0
            notes.append(f"{target} is now 0600 (was {mode:o}) because it holds the key")
        expected = dict(updates)

        def validate(data: bytes) -> None:
            written = jsonfile.parse_object(data.decode("utf-8"), target, strict=True)
            written_env = written.get("env", {})
            wrong = [k for k, v in expected.items() if written_env.get(k) != v]
            if wrong or other_auth in written_env:
                raise ValueError(f"{target}: env block does not read back as written")

        return FileChange(
            path=target,
            before=document.before,
            after=encode_utf8(text),
            agent=AGENT_ID,
            summary=f"env: {', '.join(name for name, _ in updates)}",
            secret=True,
            validate=validate,
        )

    def _state_change(self, ctx: Context, key: str, auth: str) -> FileChange | None:
        """~/.claude.json: mark onboarding done and, for ANTHROPIC_API_KEY, pre-approve the key.

        Claude Code rewrites this file while it runs and it can be tens of MB, so only the two
        keys are touched, by minimal edits, and it is checked but not parsed into objects:
        those would take several times its size in memory.
        """
        path = ctx.paths.claude_state_file
        before = read_bytes(path)
        text = "" if before is None else decode_utf8(before, path)
        jsonfile.check_object(text, path, strict=False)
        secret = auth == "ANTHROPIC_API_KEY"
        try:
            text = jsonc.set_value(text, ["hasCompletedOnboarding"], True)
            if secret:
                suffix = approved_key_suffix(key)
                text = jsonc.append_to_array(text, [KEY_RESPONSES, "approved"], suffix)
                text = jsonc.remove_from_array(text, [KEY_RESPONSES, "rejected"], suffix)
        except TypeError as wrong_shape:
            # e.g. "customApiKeyResponses": "x" — the user's (or Claude's) value, not ours to fix
            raise ConfigParseError(path, 1, 1, str(wrong_shape)) from None
        after = encode_utf8(text)
        if after == before:
            return None
        return FileChange(
            path=path,
            before=before,
            after=after,
            agent=AGENT_ID,
            summary="hasCompletedOnboarding" + (", approved key" if secret else ""),
            secret=secret,
        )

    # --- remove ---
    def unconfigure(self, ctx: Context, level: str) -> AgentPlan:
        plan = AgentPlan(AGENT_ID)
        target = self.target(ctx, level)
        document = jsonfile.load(target, strict=False)
        env = document.value.get("env")
        if not isinstance(env, dict) or not _points_at_gateway(ctx, env.get(BASE_URL_VAR)):
            return plan
        prior = _settings_before_megallm(ctx, target)
        if prior is None:
            after = _remove_without_backup(document, env, plan.notes)
        else:
            after = _put_back(document, env, prior, _model_megallm_set(ctx, target), plan)
        plan.changes.append(
            FileChange(target, document.before, after, AGENT_ID, "remove MegaLLM env entries")
        )
        key = next((env[name] for name in AUTH_VARIABLES if isinstance(env.get(name), str)), None)
        if key:
            # Remove's diff shows the key going, and its tail in ~/.claude.json.
            plan.secrets.append(key)
            state = self._withdraw_approval(ctx, key, target, plan.notes)
            if state:
                plan.changes.append(state)
        return plan

    def _withdraw_approval(
        self, ctx: Context, key: str, target: Path, notes: list[str]
    ) -> FileChange | None:
        """Take the key's tail out of customApiKeyResponses.approved if megallm put it there.

        Only when a backup shows ~/.claude.json without it: a key the user had approved
        before megallm stays approved. Onboarding stays done: it is not megallm's to undo.
        """
        path = ctx.paths.claude_state_file
        before = read_bytes(path)
        if before is None:
            return None
        text = decode_utf8(before, path)
        jsonfile.check_object(text, path, strict=False)
        suffix = approved_key_suffix(key)
        if suffix not in _key_responses(text, "approved"):
            return None
        elsewhere = [
            str(c.files[0]) for c in self.configured(ctx) if c.key == key and c.files[0] != target
        ]
        if elsewhere:
            notes.append(f"kept the key approved in {path}: {', '.join(elsewhere)} still uses it")
            return None
        from megallm_cli import backups

        prior = backups.image_before_megallm(
            ctx.paths.backups_dir, path, lambda data: _approves(data, path, suffix)
        )
        if prior is None:
            notes.append(
                f"kept the key approved in {path}: no backup shows that file before megallm "
                "approved it"
            )
            return None
        earlier = "" if prior.data is None else decode_utf8(prior.data, path)
        text = jsonc.remove_from_array(text, [KEY_RESPONSES, "approved"], suffix)
        if suffix in _key_responses(earlier, "rejected"):
            text = jsonc.append_to_array(text, [KEY_RESPONSES, "rejected"], suffix)
        for created in ([KEY_RESPONSES, "approved"], [KEY_RESPONSES]):
            if jsonc.get(text, created) in ([], {}) and jsonc.get(earlier, created) is None:
                text = jsonc.delete_value(text, created)
        notes.append(
            f"took the key's approval out of {path}, as it was before megallm approved it "
            f"(backup {prior.session_id}); onboarding stays marked complete"
        )
        return FileChange(path, before, encode_utf8(text), AGENT_ID, "withdraw the key approval")

    # --- status ---
    def configured(self, ctx: Context) -> list[Configured]:
        found = []
        for level, path in self._settings_by_level(ctx):
            try:
                env = jsonfile.load(path, strict=False).value.get("env")
            except (ConfigParseError, OSError):
                continue
            if not isinstance(env, dict) or BASE_URL_VAR not in env:
                continue
            key = next((env[v] for v in AUTH_VARIABLES if isinstance(env.get(v), str)), None)
            found.append(
                Configured(
                    AGENT_ID, level, (path,), str(env[BASE_URL_VAR]), key, env.get(MODEL_VAR)
                )
            )
        return found

    # --- doctor ---
    def check(self, ctx: Context) -> list[Finding]:
        findings: list[Finding] = []
        configured = self.configured(ctx)
        user = self.user_settings(ctx)
        for _level, path in self._settings_by_level(ctx):
            findings.extend(_check_settings_file(ctx, path))
        ours = [c for c in configured if _points_at_gateway(ctx, c.base_url)]
        if not ours:
            findings.append(
                Finding(
                    AGENT_ID,
                    "fail",
                    "not configured for MegaLLM",
                    f"no ANTHROPIC_BASE_URL pointing at {ctx.gateway.anthropic_base_url} in {user}"
                    " or the project's .claude/settings*.json",
                    hint="run `megallm setup --agent claude-code`",
                )
            )
            return findings
        findings.extend(_check_precedence(ctx, configured))
        findings.extend(_check_state_file(ctx, ours))
        findings.extend(_check_environment(ctx, ours))
        findings.extend(_check_running(ours))
        return findings


def _load_settings(path: Path, *, fix_comments: bool) -> jsonfile.JsonDocument:
    document = jsonfile.load(path, strict=False)
    comment = jsonc.first_comment_position(document.text) if document.exists else None
    if comment and not fix_comments:
        line, col = comment
        raise ConfigParseError(
            path,
            line,
            col,
            "Claude Code ignores this whole file because it has a comment (it reads strict JSON); "
            "pass --fix-claude-comments to strip the comments (a backup is kept)",
        )
    return document


def _settings_before_megallm(ctx: Context, path: Path) -> PriorImage | None:
    """The settings file as it was before megallm first pointed Claude Code at the gateway."""
    from megallm_cli import backups

    def points_at_gateway(data: bytes | None) -> bool:
        if data is None:
            return False
        try:
            value = jsonfile.parse_object(decode_utf8(data, path), path, strict=False)
        except ConfigParseError:
            return True  # unparsable: not a state remove could put back
        env = value.get("env")
        return isinstance(env, dict) and _points_at_gateway(ctx, env.get(BASE_URL_VAR))

    return backups.image_before_megallm(ctx.paths.backups_dir, path, points_at_gateway)


def _remove_without_backup(
    document: jsonfile.JsonDocument, env: dict[str, Any], notes: list[str]
) -> bytes | None:
    """Take out the base URL and both auth variables; a file left empty goes."""
    text = document.text
    for name in (BASE_URL_VAR, *AUTH_VARIABLES):
        if name in env:
            text = jsonc.delete_value(text, ["env", name])
    remaining = jsonc.parse(text) if text.strip() else {}
    if remaining.get("env") == {}:
        text = jsonc.delete_value(text, ["env"])
        remaining.pop("env")
    notes.append(
        f"no backup shows {document.path} before megallm set Claude Code up: took out "
        f"{BASE_URL_VAR} and the key; a variable megallm replaced there cannot be put back"
    )
    if MODEL_VAR in env:
        notes.append(f"kept {MODEL_VAR} in {document.path}: remove it by hand if megallm set it")
    return None if remaining == {} else encode_utf8(text)


def _model_megallm_set(ctx: Context, path: Path) -> str | None:
    """The ANTHROPIC_MODEL the newest setup that changed it wrote to `path`."""
    from megallm_cli import backups

    def model_in(data: bytes | None) -> object:
        try:
            value = jsonfile.parse_object(decode_utf8(data or b"", path), path, strict=False)
        except ConfigParseError:
            return None
        env = value.get("env")
        return env.get(MODEL_VAR) if isinstance(env, dict) else None

    model = backups.value_megallm_wrote(ctx.paths.backups_dir, path, model_in)
    return model if isinstance(model, str) else None


def _put_back(
    document: jsonfile.JsonDocument,
    env: dict[str, Any],
    prior: PriorImage,
    model_set: str | None,
    plan: AgentPlan,
) -> bytes | None:
    """Every variable megallm sets or replaces goes back to its value in `prior`, or away.

    ANTHROPIC_MODEL only while it holds the model setup wrote (`model_set`): one the user chose
    since, or set without megallm ever setting one, is theirs.
    """
    path = document.path
    earlier: dict[str, Any] = (
        {}
        if prior.data is None
        else jsonfile.parse_object(decode_utf8(prior.data, path), path, strict=False)
    )
    earlier_env = earlier.get("env")
    if not isinstance(earlier_env, dict):
        earlier_env = {}
    text = document.text
    put_back = []
    model_is_ours = model_set is not None and env.get(MODEL_VAR) == model_set
    for name in (BASE_URL_VAR, *AUTH_VARIABLES, MODEL_VAR):
        if name == MODEL_VAR and not model_is_ours:
            continue
        if name in AUTH_VARIABLES and isinstance(earlier_env.get(name), str):
            plan.secrets.append(earlier_env[name])  # the user's own key, shown in remove's diff
        if name in earlier_env:
            if name not in env or env[name] != earlier_env[name]:
                text = jsonc.set_value(text, ["env", name], earlier_env[name])
                put_back.append(name)
        elif name in env:
            text = jsonc.delete_value(text, ["env", name])
    if "env" not in earlier and jsonc.get(text, ["env"]) == {}:
        text = jsonc.delete_value(text, ["env"])
    if put_back:
        plan.notes.append(
            f"{', '.join(put_back)} back in {path} as before megallm set Claude Code up "
            f"(backup {prior.session_id})"
        )
    if model_is_ours and MODEL_VAR not in earlier_env:
        plan.notes.append(
            f"removed {MODEL_VAR} from {path}: it was not there before megallm set Claude Code "
            f"up (backup {prior.session_id})"
        )
    return jsonfile.after_removal(path, text, prior, strict=True)


def _key_responses(text: str, answer: str) -> list[Any]:
    """customApiKeyResponses.<answer> of ~/.claude.json's text, [] when it is not a list."""
    found = jsonc.get(text, [KEY_RESPONSES, answer])
    return found if isinstance(found, list) else []


def _approves(data: bytes | None, path: Path, suffix: str) -> bool:
    if data is None:
        return False
    try:
        text = decode_utf8(data, path)
        jsonfile.check_object(text, path, strict=False)
    except ConfigParseError:
        return True  # unparsable: not a state remove could put back
    return suffix in _key_responses(text, "approved")


def _points_at_gateway(ctx: Context, url: Any) -> bool:
    if not isinstance(url, str):
        return False
    return ctx.gateway.matches(url) or "megallm" in url


def _version_without_running(binary: Path) -> str | None:
    version = npm_package_version(binary, PACKAGE)
    if version:
        return version
    # The native installer links ~/.local/bin/claude to …/claude/versions/<version>.
    real = Path(os.path.realpath(binary))
    return real.name if _NATIVE_VERSION.match(real.name) else None


def _running_claude() -> list[Any]:
    return running_processes(["claude"], ["@anthropic-ai/claude-code", "claude-code/cli"])


def _check_settings_file(ctx: Context, path: Path) -> list[Finding]:
    """Parse, base URL, one auth variable, key shape and file mode of one settings file."""
    if not path.exists():
        return []
    try:
        document = jsonfile.load(path, strict=True)
    except ConfigParseError as error:
        return [Finding(AGENT_ID, "fail", f"{path} is not valid JSON", error.message, error.hint)]
    env = document.value.get("env")
    if not isinstance(env, dict):
        return [Finding(AGENT_ID, "ok", f"{path} parses", "no env block")]
    findings = [Finding(AGENT_ID, "ok", f"{path} parses as strict JSON")]
    base_url = env.get(BASE_URL_VAR)
    if base_url is None:
        return findings
    if isinstance(base_url, str) and base_url.rstrip("/").endswith("/v1"):
        findings.append(
            Finding(
                AGENT_ID,
                "fail",
                f"{BASE_URL_VAR} ends in /v1",
                f"{path}: {base_url} — Claude Code appends /v1/messages itself",
                hint=f"run `megallm setup --agent claude-code` (sets {ctx.gateway.origin})",
            )
        )
    elif ctx.gateway.matches(base_url):
        findings.append(Finding(AGENT_ID, "ok", f"{BASE_URL_VAR} = {base_url}", str(path)))
    else:
        findings.append(
            Finding(
                AGENT_ID,
                "warn",
                f"{BASE_URL_VAR} points elsewhere",
                f"{path}: {base_url} (expected {ctx.gateway.anthropic_base_url})",
                hint="pass --base-url or set MEGALLM_BASE_URL if that is your gateway",
            )
        )
    present = [name for name in AUTH_VARIABLES if name in env]
    if len(present) > 1:
        findings.append(
            Finding(
                AGENT_ID,
                "fail",
                "two auth variables set",
                f"{path}: {' and '.join(present)} — Claude Code sends both headers",
                hint="run `megallm setup --agent claude-code` to keep exactly one",
            )
        )
    elif not present:
        findings.append(
            Finding(
                AGENT_ID,
                "fail",
                "no API key",
                f"{path} sets {BASE_URL_VAR} but neither {' nor '.join(AUTH_VARIABLES)}",
                hint="run `megallm setup --agent claude-code`",
            )
        )
    else:
        findings.append(_check_key_value(path, present[0], env[present[0]]))
        mode = current_mode(path)
        if mode is not None and mode & 0o077:
            findings.append(
                Finding(
                    AGENT_ID,
                    "fail",
                    f"{path} is readable by others ({mode:o})",
                    "it holds the API key",
                    hint=f"chmod 600 {path}",
                )
            )
        else:
            findings.append(Finding(AGENT_ID, "ok", f"{path} is private (600)"))
    return findings


def _check_key_value(path: Path, name: str, value: object) -> Finding:
    if not isinstance(value, str) or not value.strip():
        return Finding(AGENT_ID, "fail", f"{name} is empty", str(path), "run `megallm setup`")
    if value != value.strip() or any(c.isspace() for c in value):
        return Finding(
            AGENT_ID, "fail", f"{name} has whitespace in it", str(path), "run `megallm setup`"
        )
    if not value.startswith(KEY_PREFIX):
        return Finding(
            AGENT_ID,
            "warn",
            f"{name} = {mask_key(value)} does not look like a MegaLLM key",
            f"{path}; MegaLLM keys start with {KEY_PREFIX}",
        )
    return Finding(AGENT_ID, "ok", f"key present: {name} = {mask_key(value)}", str(path))


def _check_precedence(ctx: Context, configured: list[Configured]) -> list[Finding]:
    """A higher-precedence source (managed > local > project > user) that overrides ours."""
    findings = []
    try:
        managed = jsonfile.load(ctx.paths.claude_managed_settings, strict=False).value.get("env")
    except (ConfigParseError, OSError):
        managed = None
    if isinstance(managed, dict):
        clashing = [k for k in (BASE_URL_VAR, *AUTH_VARIABLES, MODEL_VAR) if k in managed]
        if clashing:
            findings.append(
                Finding(
                    AGENT_ID,
                    "fail",
                    "managed settings override ours",
                    f"{ctx.paths.claude_managed_settings} sets {', '.join(clashing)}",
                    hint="ask whoever manages this machine; managed settings beat every other file",
                )
            )
    winner = configured[-1]  # configured() lists user, project, local: lowest precedence first
    if not _points_at_gateway(ctx, winner.base_url):
        findings.append(
            Finding(
                AGENT_ID,
                "fail",
                "a project setting overrides the gateway",
                f"{winner.files[0]} sets {BASE_URL_VAR}={winner.base_url}",
                hint="remove it there, or run `megallm setup --agent claude-code --level project`",
            )
        )
    return findings


def _check_state_file(ctx: Context, ours: list[Configured]) -> list[Finding]:
    path = ctx.paths.claude_state_file
    try:
        state = jsonfile.load(path, strict=False).value
    except ConfigParseError as error:
        return [Finding(AGENT_ID, "fail", f"{path} is not valid JSON", error.message, error.hint)]
    findings = []
    if state.get("hasCompletedOnboarding") is True:
        findings.append(Finding(AGENT_ID, "ok", "onboarding marked complete", str(path)))
    else:
        findings.append(
            Finding(
                AGENT_ID,
                "fail",
                "onboarding not marked complete",
                f"{path}: the first start would try to log in at api.anthropic.com",
                hint="run `megallm setup --agent claude-code`",
            )
        )
    approved = (state.get("customApiKeyResponses") or {}).get("approved") or []
    for entry in ours:
        uses_api_key = entry.key is not None and _auth_variable_of(entry) == "ANTHROPIC_API_KEY"
        if uses_api_key and approved_key_suffix(entry.key or "") not in approved:
            findings.append(
                Finding(
                    AGENT_ID,
                    "fail",
                    "the key is not approved in Claude Code",
                    f"{path}: Claude Code will ask 'use this API key?' with No preselected",
                    hint="run `megallm setup --agent claude-code`",
                )
            )
    return findings


def _auth_variable_of(entry: Configured) -> str | None:
    try:
        env = jsonfile.load(entry.files[0], strict=False).value.get("env") or {}
    except (ConfigParseError, OSError):
        return None
    return next((name for name in AUTH_VARIABLES if name in env), None)


def _check_environment(ctx: Context, ours: list[Configured]) -> list[Finding]:
    """Shell exports of another auth variable combine with ours; same-name ones lose to settings."""
    in_settings = {_auth_variable_of(entry) for entry in ours}
    findings = []
    for name in AUTH_VARIABLES:
        if name in ctx.paths.env and name not in in_settings:
            findings.append(
                Finding(
                    AGENT_ID,
                    "fail",
                    f"{name} is set in this shell",
                    f"with {', '.join(sorted(n for n in in_settings if n))} in settings, Claude "
                    "Code sends both auth headers",
                    hint=f"unset {name} (and remove its export from your shell startup files)",
                )
            )
    return findings


def _check_running(ours: list[Configured]) -> list[Finding]:
    processes = _running_claude()
    if not processes:
        return []
    newest_write = max(os.stat(f).st_mtime for entry in ours for f in entry.files if f.exists())
    stale = [p.pid for p in processes if p.started < newest_write]
    if not stale:
        return [Finding(AGENT_ID, "ok", "running Claude Code started after the last change")]
    return [
        Finding(
            AGENT_ID,
            "warn",
            "Claude Code is running with old settings",
            f"pid {', '.join(map(str, stale))} started before the settings changed",
            hint="restart Claude Code",
        )
    ]


AGENT = ClaudeCode()
