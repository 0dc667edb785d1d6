"""Every path the tool touches, resolved in one place from an environment mapping.

Tests re-root the whole world by passing an env with HOME (and friends) pointing at a temp dir;
nothing here reads the real home directory behind the caller's back.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

APP_NAME = "megallm"


def _platform_family(platform: str) -> str:
    if platform.startswith("win"):
        return "windows"
    if platform == "darwin":
        return "macos"
    return "linux"


@dataclass(frozen=True)
class Paths:
    env: Mapping[str, str]
    platform: str = sys.platform

    @classmethod
    def from_environ(cls) -> Paths:
        return cls(dict(os.environ))

    @property
    def family(self) -> str:
        return _platform_family(self.platform)

    def _env_path(self, name: str) -> Path | None:
        value = self.env.get(name, "").strip()
        return Path(value).expanduser() if value else None

    def _expand(self, value: str) -> Path:
        if value.startswith("~"):
            return self.home / value[2:] if len(value) > 1 else self.home
        return Path(value)

    @cached_property
    def home(self) -> Path:
        for name in ("HOME", "USERPROFILE") if self.family == "windows" else ("HOME",):
            value = self.env.get(name)
            if value:
                return Path(value)
        return Path.home()

    # --- XDG base directories (used on every OS by OpenCode and Kilo, and by us on Linux) ---
    def _xdg(self, name: str, default: str) -> Path:
        value = self.env.get(name, "")
        # The XDG spec says relative values are invalid and must be ignored.
        if value and os.path.isabs(value):
            return Path(value)
        return self.home / default

    @cached_property
    def xdg_config_home(self) -> Path:
        return self._xdg("XDG_CONFIG_HOME", ".config")

    @cached_property
    def xdg_data_home(self) -> Path:
        return self._xdg("XDG_DATA_HOME", ".local/share")

    @cached_property
    def xdg_state_home(self) -> Path:
        return self._xdg("XDG_STATE_HOME", ".local/state")

    @cached_property
    def xdg_cache_home(self) -> Path:
        return self._xdg("XDG_CACHE_HOME", ".cache")

    @cached_property
    def appdata(self) -> Path:
        return self._env_path("APPDATA") or self.home / "AppData" / "Roaming"

    @cached_property
    def localappdata(self) -> Path:
        return self._env_path("LOCALAPPDATA") or self.home / "AppData" / "Local"

    # --- our own directories ---
    def _own_dir(self, override: str, linux: Path, macos_sub: str, windows_base: Path) -> Path:
        explicit = self._env_path(override)
        if explicit:
            return explicit
        if self.family == "macos":
            return self.home / "Library" / macos_sub / APP_NAME
        if self.family == "windows":
            return windows_base / APP_NAME
        return linux / APP_NAME

    @cached_property
    def config_dir(self) -> Path:
        """Where our env files and import files live (0700)."""
        return self._own_dir(
            "MEGALLM_CONFIG_DIR", self.xdg_config_home, "Application Support", self.appdata
        )

    @cached_property
    def state_dir(self) -> Path:
        """Backups, the lock and the run log (0700)."""
        return self._own_dir(
            "MEGALLM_STATE_DIR", self.xdg_state_home, "Application Support", self.localappdata
        )

    @cached_property
    def cache_dir(self) -> Path:
        return self._own_dir("MEGALLM_CACHE_DIR", self.xdg_cache_home, "Caches", self.localappdata)

    @property
    def backups_dir(self) -> Path:
        return self.state_dir / "backups"

    @property
    def lock_file(self) -> Path:
        return self.state_dir / "megallm.lock"

    @property
    def agent_lock_marker(self) -> Path:
        """Names the agent's lock a run holds, so the next run can clean up after a kill."""
        return self.state_dir / "agent-lock"

    def agent_write_lock(self, path: Path) -> tuple[Path, str] | None:
        """The lock an agent takes to write `path` and the agent's name, for files it rewrites
        while it runs (agentlock.py)."""
        if path == self.claude_state_file:
            return Path(f"{path}.lock"), "Claude Code"
        return None

    # --- agents ---
    @cached_property
    def claude_config_dir(self) -> Path:
        return self._env_path("CLAUDE_CONFIG_DIR") or self.home / ".claude"

    @cached_property
    def claude_state_file(self) -> Path:
        """~/.claude.json, or .claude.json inside CLAUDE_CONFIG_DIR when that is set."""
        explicit = self._env_path("CLAUDE_CONFIG_DIR")
        return explicit / ".claude.json" if explicit else self.home / ".claude.json"

    @cached_property
    def claude_managed_settings(self) -> Path:
        if self.family == "macos":
            return Path("/Library/Application Support/ClaudeCode/managed-settings.json")
        if self.family == "windows":
            return (
                Path(self.env.get("ProgramData", r"C:\ProgramData"))
                / "ClaudeCode"
                / ("managed-settings.json")
            )
        return Path("/etc/claude-code/managed-settings.json")

    @cached_property
    def codex_home(self) -> Path:
        return self._env_path("CODEX_HOME") or self.home / ".codex"

    @cached_property
    def opencode_dir(self) -> Path:
        return self.xdg_config_home / "opencode"

    @cached_property
    def opencode_config_override(self) -> Path | None:
        return self._env_path("OPENCODE_CONFIG")

    @cached_property
    def kilo_dir(self) -> Path:
        return self.xdg_config_home / "kilo"

    @cached_property
    def kilo_config_override(self) -> Path | None:
        return self._env_path("KILO_CONFIG")

    @cached_property
    def cline_data_dir(self) -> Path:
        explicit = self._env_path("CLINE_DATA_DIR")
        if explicit:
            return explicit
        cline_dir = self._env_path("CLINE_DIR")
        return (cline_dir or self.home / ".cline") / "data"

    @cached_property
    def cline_provider_settings_file(self) -> Path:
        """Cline's providers.json; Cline 3.0.65 honours CLINE_PROVIDER_SETTINGS_PATH first."""
        explicit = self._env_path("CLINE_PROVIDER_SETTINGS_PATH")
        return explicit or self.cline_data_dir / "settings" / "providers.json"

    def vscode_user_dir(self, variant: str) -> Path:
        """The `User` settings dir of a VS Code variant ("Code", "Cursor", "VSCodium", …)."""
        if self.family == "macos":
            return self.home / "Library" / "Application Support" / variant / "User"
        if self.family == "windows":
            return self.appdata / variant / "User"
        return self.xdg_config_home / variant / "User"

    # --- shells ---
    @cached_property
    def zdotdir(self) -> Path:
        return self._env_path("ZDOTDIR") or self.home

    @cached_property
    def fish_conf_d(self) -> Path:
        return self.xdg_config_home / "fish" / "conf.d"

    @cached_property
    def search_path(self) -> list[Path]:
        return [Path(p) for p in self.env.get("PATH", "").split(os.pathsep) if p]

    def expand_user(self, value: str) -> Path:
        """Expand a leading ~ against our HOME, not the process's."""
        return self._expand(value)
