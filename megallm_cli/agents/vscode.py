"""The VS Code family: which editors are here, which extensions they hold, their settings.json.

Not an agent: the Cline and Roo Code modules use it. Every variant has the same layout — a user
data dir with `User/settings.json` (JSONC) and `~/.<dir>/extensions/<publisher.name>-<version>`
— so one description per variant is enough. Nothing here starts a process: an editor's own CLI
(`code --list-extensions`) takes seconds and may open a window.

Remote: `~/.vscode-server` is the server half of VS Code Remote (SSH, WSL, dev containers) on the
machine megallm runs on. Extensions installed there run here, on this file system, and the
remote's settings are `~/.vscode-server/data/Machine/settings.json` ("Remote" settings, which
beat the User settings kept on the other computer). So remote is one more variant whose
settings file is that Machine file; a path written into it names a file on this machine, which
is where the extension reads it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from megallm_cli import fsio
from megallm_cli.agents import jsonfile
from megallm_cli.agents.base import Finding
from megallm_cli.changes import FileChange
from megallm_cli.formats import jsonc
from megallm_cli.formats.text import encode_utf8
from megallm_cli.paths import Paths
from megallm_cli.request import KEY_PREFIX, mask_key

if TYPE_CHECKING:
    from megallm_cli.backups import PriorImage

# The model an OpenAI-format agent gets when the user names none: MegaLLM's coding default.
DEFAULT_MODEL = "claude-sonnet-4-5"


@dataclass(frozen=True)
class Variant:
    """One editor of the family."""

    name: str
    """Its user data dir name: `Code`, `Cursor`, …; what Paths.vscode_user_dir takes."""
    label: str
    """What users call it."""
    home_dir: str
    """The dir in the home that holds `extensions/`."""
    remote: bool = False

    def extensions_dir(self, paths: Paths) -> Path:
        return paths.home / self.home_dir / "extensions"

    def settings_file(self, paths: Paths) -> Path:
        if self.remote:
            return paths.home / self.home_dir / "data" / "Machine" / "settings.json"
        return paths.vscode_user_dir(self.name) / "settings.json"

    def is_present(self, paths: Paths) -> bool:
        if self.remote:
            return fsio.seen_dir(paths.home / self.home_dir)
        return fsio.seen_dir(self.extensions_dir(paths)) or fsio.seen_dir(
            paths.vscode_user_dir(self.name)
        )


VARIANTS: tuple[Variant, ...] = (
    Variant("Code", "VS Code", ".vscode"),
    Variant("Code - Insiders", "VS Code Insiders", ".vscode-insiders"),
    Variant("VSCodium", "VSCodium", ".vscode-oss"),
    Variant("Cursor", "Cursor", ".cursor"),
    Variant("Windsurf", "Windsurf", ".windsurf"),
    Variant("Code (remote)", "VS Code Remote (this machine)", ".vscode-server", remote=True),
)
WINDSURF = next(variant for variant in VARIANTS if variant.name == "Windsurf")


def present_variants(paths: Paths) -> list[Variant]:
    return [variant for variant in VARIANTS if variant.is_present(paths)]


# --- extensions ---

# The marketplace's target platforms; a platform-specific build appends one to the dir name.
_PLATFORM_SUFFIX = re.compile(
    r"-(?:(?:win32|linux|alpine|darwin)-(?:x64|arm64|armhf|ia32)|web|universal)$", re.IGNORECASE
)
# `publisher.name-1.2.3` or `publisher.name-1.2.3-beta.1`; the name may itself hold hyphens and
# digits, so the id is the shortest prefix that leaves a version behind.
_EXTENSION_DIR = re.compile(
    r"^(?P<id>[a-z0-9][a-z0-9-]*\.[a-z0-9][a-z0-9_.-]*?)"
    r"-(?P<version>\d+\.\d+\.\d+(?:-[0-9a-z.-]+)?)$",
    re.IGNORECASE,
)


def parse_extension_dir(name: str) -> tuple[str, str] | None:
    """(lower-case extension id, version) from an extension dir name, or None if it is not one."""
    match = _EXTENSION_DIR.match(_PLATFORM_SUFFIX.sub("", name))
    if match is None:
        return None
    return match.group("id").lower(), match.group("version")


def version_key(version: str) -> tuple[Any, ...]:
    """Sorts versions as semver does: numbers numerically, a pre-release before its release."""
    core, _, pre_release = version.partition("-")
    numbers = tuple(int(part) if part.isdigit() else -1 for part in core.split("."))
    if not pre_release:
        return (numbers, 1, ())
    identifiers = tuple(
        (0, int(part), "") if part.isdigit() else (1, 0, part) for part in pre_release.split(".")
    )
    return (numbers, 0, identifiers)


def major_version(version: str | None) -> int | None:
    if not version:
        return None
    head = version.split(".", 1)[0]
    return int(head) if head.isdigit() else None


@dataclass(frozen=True)
class InstalledExtension:
    variant: Variant
    extension_id: str
    version: str
    path: Path

    @property
    def major(self) -> int | None:
        return major_version(self.version)

    def describe(self) -> str:
        return f"{self.extension_id} {self.version} in {self.variant.label}"


def _obsolete_dirs(extensions_dir: Path) -> set[str]:
    """Dirs the editor has uninstalled but not yet deleted (it does that on its next start)."""
    try:
        marked = json.loads((extensions_dir / ".obsolete").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return set()
    if not isinstance(marked, dict):
        return set()
    return {name.lower() for name, flag in marked.items() if flag}


def _manifest_version(directory: Path, extension_id: str) -> str | None:
    """The version in the extension's package.json, when it is there and names this extension."""
    try:
        manifest = json.loads((directory / "package.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(manifest, dict):
        return None
    declared = f"{manifest.get('publisher', '')}.{manifest.get('name', '')}".lower()
    version = manifest.get("version")
    return version if declared == extension_id and isinstance(version, str) else None


def installed_versions(
    variant: Variant, paths: Paths, extension_id: str
) -> list[InstalledExtension]:
    """Every installed copy of one extension in one variant, newest first."""
    extensions_dir = variant.extensions_dir(paths)
    wanted = extension_id.lower()
    try:
        entries = list(extensions_dir.iterdir())
    except (FileNotFoundError, NotADirectoryError, PermissionError):
        return []
    obsolete = _obsolete_dirs(extensions_dir)
    found = []
    for entry in entries:
        parsed = parse_extension_dir(entry.name)
        if parsed is None or parsed[0] != wanted or entry.name.lower() in obsolete:
            continue
        if not entry.is_dir():  # a stray file named like an extension
            continue
        version = _manifest_version(entry, wanted) or parsed[1]
        found.append(InstalledExtension(variant, wanted, version, entry))
    return sorted(found, key=lambda extension: version_key(extension.version), reverse=True)


def find_extension(paths: Paths, extension_id: str) -> list[InstalledExtension]:
    """The newest copy of an extension in each variant that has it, in VARIANTS order."""
    found = []
    for variant in VARIANTS:
        versions = installed_versions(variant, paths, extension_id)
        if versions:
            found.append(versions[0])
    return found


# --- settings.json ---


def load_settings(path: Path) -> jsonfile.JsonDocument:
    """A settings.json (JSONC); ConfigParseError with file:line:col when it does not parse."""
    return jsonfile.load(path, strict=False)


def settings_change(
    path: Path,
    updates: Mapping[str, str | None],
    agent: str,
    summary: str,
    prior: PriorImage | None = None,
) -> FileChange | None:
    """Set (or, for None, delete) top-level settings, every other byte kept; None if no-op.

    VS Code settings are flat dotted keys (`roo-cline.autoImportSettingsPath`), so each is one
    member of the top-level object. `prior`, the file's image before megallm changed it, lets a
    removal give back the user's own bytes, or no file (jsonfile.after_removal).
    """
    document = load_settings(path)
    text = document.text
    for key, value in updates.items():
        if value is None:
            text = jsonc.delete_value(text, [key])
        else:
            text = jsonc.set_value(text, [key], value)
    if not text.strip("\ufeff \t\r\n") and document.before is None:
        return None
    after = (
        encode_utf8(text)
        if prior is None
        else jsonfile.after_removal(path, text, prior, strict=False)
    )
    if after == document.before:
        return None
    expected = dict(updates)

    def validate(data: bytes) -> None:
        written = jsonfile.parse_object(data.decode("utf-8"), path, strict=False)
        wrong = [key for key, value in expected.items() if written.get(key) != value]
        if wrong:
            raise ValueError(f"{path}: {', '.join(wrong)} did not read back as written")

    return FileChange(path, document.before, after, agent, summary, validate=validate)


def setting_value(path: Path, key: str) -> Any:
    """One top-level setting, or None when the file or the key is missing."""
    return load_settings(path).value.get(key)


# --- Windsurf ---


def windsurf_note(how: str) -> str:
    """What Windsurf users must know: its own agent cannot be pointed at a gateway."""
    return (
        "Windsurf found: its own agent, Cascade, cannot use a custom gateway (Windsurf has no "
        f"setting for one); {how}"
    )


# --- doctor helpers shared by the agents whose files hold the key inline ---


def key_finding(agent: str, where: str, key: object) -> Finding:
    """Is the inline key there and shaped like a MegaLLM key? Shown masked."""
    hint = f"run `megallm setup --agent {agent}`"
    if not isinstance(key, str) or not key.strip():
        return Finding(agent, "fail", "no API key", where, hint)
    if key != key.strip() or any(char.isspace() for char in key):
        return Finding(agent, "fail", "the API key has whitespace in it", where, hint)
    if not key.startswith(KEY_PREFIX):
        return Finding(
            agent,
            "warn",
            f"key {mask_key(key)} does not look like a MegaLLM key",
            f"{where}; MegaLLM keys start with {KEY_PREFIX}",
        )
    return Finding(agent, "ok", f"key present: {mask_key(key)}", where)


def private_file_finding(agent: str, path: Path, mode: int | None) -> Finding:
    """A file holding the key must be readable by its owner only."""
    if mode is not None and mode & 0o077:
        return Finding(
            agent,
            "fail",
            f"{path} is readable by others ({mode:o})",
            "it holds the API key",
            hint=f"chmod 600 {path}",
        )
    return Finding(agent, "ok", f"{path} is private (600)")
