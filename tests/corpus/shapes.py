"""The richest config each agent really has, as text, in a chosen style.

Shapes follow the files the real agents read (DESIGN §3, docs/REAL_AGENTS.md): every key the
user owns that megallm must leave alone is here, next to comments, odd quoting and the keys
megallm edits, so a round trip proves that only megallm's keys moved.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Style:
    """How a file is laid out: what an editor or another tool may have left behind."""

    newline: str = "\n"
    indent: str = "  "
    bom: bool = False
    final_newline: bool = True
    minified: bool = False
    """Strict-JSON files on one line (hand-made or written by a tool)."""
    ascii_escapes: bool = False
    """Non-ASCII written as \\u escapes, as JSON.stringify-alikes in some tools do."""

    def encode(self, text: str) -> bytes:
        """Apply newline, indentation, final newline and BOM to 2-space, LF template text."""
        lines = text.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        restyled = []
        for line in lines:
            body = line.lstrip(" ")
            depth = (len(line) - len(body)) // 2
            restyled.append(self.indent * depth + body)
        joined = self.newline.join(restyled) + (self.newline if self.final_newline else "")
        return ("\ufeff" if self.bom else "").encode("utf-8") + joined.encode("utf-8")

    def dump_json(self, value: Any) -> bytes:
        if self.minified:
            text = json.dumps(value, ensure_ascii=self.ascii_escapes, separators=(",", ":"))
            return self.encode(text + "\n")
        return self.encode(json.dumps(value, indent=2, ensure_ascii=self.ascii_escapes) + "\n")


PLAIN = Style()

# Strings users really have in these files: a Windows path, a URL with a comment-like part,
# quotes, and (for the unicode homes) keys and values in several scripts.
TRICKY_VALUE = 'C:\\Users\\dev\\"quoted"\\path // not a comment /* nor this */'
UNICODE_KEYS = {
    "ключ": "значение",
    "鍵": "値",
    "🔑 emoji key": "🚀",
    "clé accentuée": "é\u0301 combining",
    "שלום": "rtl \u200f mark",
    "nbsp\u00a0key": "zero\u200bwidth",
}
LONG_VALUE_LENGTH = 300_000


def claude_settings(
    *,
    unicode: bool = False,
    long_line: bool = False,
    conflicting_auth: bool = False,
    prior_megallm_key: str | None = None,
    deep: bool = False,
    empty_env: bool = False,
) -> dict[str, Any]:
    """~/.claude/settings.json as a heavy user has it.

    Strict JSON: one comment makes Claude Code ignore the whole file.
    """
    env: dict[str, str] = {
        "BASH_DEFAULT_TIMEOUT_MS": "60000",
        "DISABLE_TELEMETRY": "1",
        "MY_ANTHROPIC_API_KEY": "keep-me",
        "PROJECT_ROOT": TRICKY_VALUE,
    }
    if conflicting_auth:
        env["ANTHROPIC_API_KEY"] = "sk-ant-api03-users-own-conflicting-key-000000"
    if prior_megallm_key:
        env["ANTHROPIC_BASE_URL"] = "https://ai.megallm.io"
        env["ANTHROPIC_AUTH_TOKEN"] = prior_megallm_key
    settings: dict[str, Any] = {
        "$schema": "https://json.schemastore.org/claude-code-settings.json",
        "permissions": {
            "allow": ["Bash(npm run lint)", "Bash(git diff:*)", "Read(~/.zshrc)"],
            "deny": ["Read(./.env)", "Read(./secrets/**)"],
            "ask": ["Bash(git push:*)"],
            "defaultMode": "acceptEdits",
            "additionalDirectories": ["../docs/"],
        },
        "hooks": {
            "PostToolUse": [
                {
                    "matcher": "Edit|Write",
                    "hooks": [{"type": "command", "command": 'prettier --write "$FILE"'}],
                }
            ],
            "Notification": [{"hooks": [{"type": "command", "command": "notify-send Claude"}]}],
        },
        "enabledPlugins": {"formatter@acme-tools": True, "reviewer@acme-tools": False},
        "extraKnownMarketplaces": {
            "acme-tools": {"source": {"source": "github", "repo": "acme/claude-plugins"}}
        },
        "enabledMcpjsonServers": ["memory", "github"],
        "statusLine": {"type": "command", "command": "~/.claude/statusline.sh", "padding": 0},
        "env": {} if empty_env else env,
        "model": "opus",
        "outputStyle": "Explanatory",
        "includeCoAuthoredBy": False,
        "cleanupPeriodDays": 30,
        "alwaysThinkingEnabled": True,
        "spinnerTipsEnabled": False,
    }
    if unicode:
        settings["env"].update(
            {"GREETING_" + str(i): v for i, v in enumerate(UNICODE_KEYS.values())}
        )
        settings["i18n"] = dict(UNICODE_KEYS)
    if long_line:
        settings["statusLine"]["command"] = "echo " + "x" * LONG_VALUE_LENGTH
    if deep:
        nested: dict[str, Any] = {"leaf": True}
        for level in range(80):
            nested = {f"level{level}": nested}
        settings["deeplyNested"] = nested
    return settings


def claude_state(
    *,
    projects: int = 3,
    history_per_project: int = 5,
    onboarding: bool | None = None,
    approved: list[str] | None = None,
    rejected: list[str] | None = None,
    unicode: bool = False,
) -> dict[str, Any]:
    """~/.claude.json as Claude Code writes it after months of use (it can reach tens of MB)."""
    state: dict[str, Any] = {
        "numStartups": 412,
        "installMethod": "npm-global",
        "autoUpdates": False,
        "theme": "dark",
        "userID": "4f1c0ffee" * 7,
        "firstStartTime": "2025-06-01T09:00:00.000Z",
        "tipsHistory": {"new-user-warmup": 7, "memory-command": 12, "theme-command": 3},
        "promptQueueUseCount": 9,
        "mcpServers": {
            "memory": {"type": "stdio", "command": "npx", "args": ["-y", "@mcp/memory"], "env": {}}
        },
        "cachedGrowthBookFeatures": {"tengu_flag_a": True, "tengu_threshold": 0.25},
        "projects": {
            f"/home/dev/src/project-{index}": {
                "allowedTools": ["Bash(make test)"],
                "history": [
                    {"display": f"fix the flaky test number {n} " + "·" * 40, "pastedContents": {}}
                    for n in range(history_per_project)
                ],
                "mcpContextUris": [],
                "mcpServers": {},
                "enabledMcpjsonServers": [],
                "disabledMcpjsonServers": [],
                "hasTrustDialogAccepted": index % 2 == 0,
                "projectOnboardingSeenCount": 1,
                "lastCost": 0.4217,
                "lastDuration": 183_221,
            }
            for index in range(projects)
        },
    }
    if onboarding is not None:
        state["hasCompletedOnboarding"] = onboarding
    if approved is not None or rejected is not None:
        state["customApiKeyResponses"] = {"approved": approved or [], "rejected": rejected or []}
    if unicode:
        state["projects"]["/home/dév/проект/项目"] = {"allowedTools": [], "history": []}
    return state


CODEX_CONFIG = """\
# Codex configuration, kept by hand. Comments must survive megallm.
model = "gpt-5-codex"
model_reasoning_effort = "high"   # trailing comment
approval_policy = "on-request"
sandbox_mode = "workspace-write"
notify = ["notify-send", "Codex"]
windows_path = 'C:\\Users\\dev\\codex'   # a literal string: backslashes are not escapes
motd = \"\"\"
Multi-line basic string
with "quotes" and # not a comment
\"\"\"

[sandbox_workspace_write]
network_access = false
writable_roots = ["/tmp", "/home/dev/.cache"]

[shell_environment_policy]
inherit = "core"
exclude = ["AWS_*", "AZURE_*"]
set = { CI = "1", LANG = "C.UTF-8" }

# history and UI
[history]
persistence = "save-all"

[tui]
notifications = true

[mcp_servers.docs]
command = "npx"
args = ["-y", "@upstash/context7-mcp"]
env = { "API_TOKEN" = "user-owned-token" }

[mcp_servers."dotted.name"]
command = "uvx"
args = ["mcp-server-fetch"]

[model_providers.azure]
name = "Azure"
base_url = "https://example.openai.azure.com/openai"
env_key = "AZURE_OPENAI_API_KEY"
wire_api = "responses"
query_params = { api-version = "2025-04-01-preview" }

[profiles.fast]
model = "gpt-5-mini"
model_reasoning_effort = "low"

[projects."/home/dev/src/app"]
trust_level = "trusted"

[projects.'C:\\Users\\dev\\src']
trust_level = "trusted"

[[skills.entries]]
name = "review"
path = "~/.codex/skills/review"

[[skills.entries]]
name = "deploy"
path = "~/.codex/skills/deploy"
"""

CODEX_OTHER_PROVIDER = """\
# pointing at a local gateway before megallm
model_provider = "azure"
model = "gpt-5"

[model_providers.azure]
name = "Azure"
base_url = "https://example.openai.azure.com/openai"
env_key = "AZURE_OPENAI_API_KEY"
wire_api = "responses"
"""

OPENCODE_CONFIG = """\
// OpenCode user config: JSONC, comments and trailing commas are allowed here.
{
  "$schema": "https://opencode.ai/config.json",
  // the theme I like
  "theme": "tokyonight",
  "model": "anthropic/claude-sonnet-4-5",
  "small_model": "anthropic/claude-haiku-4-5",
  "autoupdate": false,
  "share": "disabled",
  "provider": {
    "anthropic": { "options": { "timeout": 600000 } },
    /* a local model server */
    "ollama": {
      "npm": "@ai-sdk/openai-compatible",
      "name": "Ollama (local)",
      "options": { "baseURL": "http://localhost:11434/v1" },
      "models": { "llama3.2": { "name": "Llama 3.2" }, },
    },
  },
  "mcp": {
    "context7": { "type": "remote", "url": "https://mcp.context7.com/mcp", "enabled": true },
  },
  "agent": {
    "review": {
      "description": "Reviews code // with a comment-like string",
      "model": "anthropic/claude-sonnet-4-5",
      "prompt": "{file:./prompts/review.txt}",
      "tools": { "write": false, "edit": false },
    },
  },
  "permission": { "edit": "ask", "bash": { "git push": "ask", "*": "allow" } },
  "keybinds": { "leader": "ctrl+x" },
  "instructions": ["CONTRIBUTING.md", "docs/*.md"],
  "formatter": { "prettier": { "disabled": true } },
}
"""

KILO_CONFIG = """\
{
  "$schema": "https://app.kilo.ai/config.json",
  // added by Kilo on first start
  "permission": { "bash": "allow" },
  "model": "kilo/anthropic/claude-sonnet-4-5",
  "provider": {
    "openrouter": { "options": { "apiKey": "{env:OPENROUTER_API_KEY}" } },
  },
  "mcp": { "fs": { "type": "local", "command": ["npx", "-y", "@mcp/fs", "/home/dev"] } },
}
"""

VSCODE_SETTINGS = """\
// Place your settings in this file to overwrite the default settings
{
  "editor.fontSize": 14,
  "editor.rulers": [80, 100],
  "files.exclude": { "**/.git": true, "**/node_modules": true, },
  "[python]": { "editor.defaultFormatter": "charliermarsh.ruff" },
  "roo-cline.allowedCommands": ["npm test", "git log"],
  "kilo-code.allowedCommands": ["ls"],
  "terminal.integrated.env.linux": { "FOO": "bar" },
  /* block comment
     over two lines */
  "workbench.colorTheme": "Default Dark Modern",
  "http.proxy": "http://proxy.example:3128/*not a comment*/",
  "git.autofetch": true,
}
"""


def cline_providers(*, unicode: bool = False) -> dict[str, Any]:
    """Cline's providers.json with the user's own provider configured (strict JSON)."""
    value: dict[str, Any] = {
        "version": 1,
        "lastUsedProvider": "anthropic",
        "providers": {
            "anthropic": {
                "settings": {
                    "provider": "anthropic",
                    "apiKey": "sk-ant-api03-users-own-cline-key-11111111",
                    "model": "claude-sonnet-4-5",
                },
                "updatedAt": "2026-01-02T03:04:05.000Z",
                "tokenSource": "manual",
            },
            "openrouter": {
                "settings": {
                    "provider": "openrouter",
                    "apiKey": "sk-or-v1-users-own-openrouter-key-2222",
                    "model": "anthropic/claude-sonnet-4.5",
                },
                "updatedAt": "2025-12-24T10:00:00.000Z",
                "tokenSource": "manual",
            },
        },
        "modes": {},
    }
    if unicode:
        value["providers"]["anthropic"]["settings"]["model"] = "claude-sonnet-4-5 «ünïcødé»"
    return value


BASHRC = """\
# ~/.bashrc: executed by bash(1) for non-login shells.
case $- in
    *i*) ;;
      *) return;;
esac
HISTCONTROL=ignoreboth
shopt -s histappend
export EDITOR=vim
export PATH="$HOME/.local/bin:$PATH"
# not ours: a similar-looking variable must stay
export MY_MEGALLM_API_KEY_NOTE="rotate quarterly"
alias ll='ls -alF'
if [ -f ~/.bash_aliases ]; then
    . ~/.bash_aliases
fi
"""

PROFILE = """\
# ~/.profile: executed by the command interpreter for login shells.
if [ -n "$BASH_VERSION" ]; then
    if [ -f "$HOME/.bashrc" ]; then
	. "$HOME/.bashrc"
    fi
fi
"""

ZSHRC = """\
export ZSH="$HOME/.oh-my-zsh"
ZSH_THEME="robbyrussell"
plugins=(git docker)
source $ZSH/oh-my-zsh.sh
# my aliases
alias gs='git status'
"""

ZSHENV_WITH_ZDOTDIR = """\
# move zsh's files out of the home
export ZDOTDIR="$HOME/.config/zsh"
"""

FISH_CONFIG = """\
# fish config
set -gx EDITOR nvim
if status is-interactive
    abbr -a gco git checkout
end
"""

PRIOR_MEGALLM_BLOCK = """\
# >>> megallm >>>
# Added by megallm; `megallm restore` removes it. Your key is in the file it sources.
if [ -f "$HOME/.config/megallm/env.sh" ]; then . "$HOME/.config/megallm/env.sh"; fi
# <<< megallm <<<
"""


def vscode_extension_manifest(publisher: str, name: str, version: str) -> str:
    return json.dumps({"name": name, "publisher": publisher, "version": version}) + "\n"
