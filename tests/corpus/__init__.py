"""A corpus of realistic homes, generated in code: every agent's richest config, laid out the
ways real machines have them (CRLF, BOM, tabs, minified, huge, symlinked, unicode, moved by env
vars), for round-trip and crash trials.

`corpus_homes()` lists them; `CorpusHome.build(root)` writes one under `root` (home in
`root/home`, project in `root/project`) and returns the environment variables it needs on top of
HOME. Files of agents that are not registered yet are written too: they are foreign files until
the agent lands, and targets from then on, so new agents are covered without touching this.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field, replace
from pathlib import Path

from tests.corpus import shapes
from tests.corpus.shapes import PLAIN, Style

ALL_AGENT_FILES = frozenset({"claude", "codex", "opencode", "kilo", "cline", "vscode"})
OLD_MEGALLM_KEY = "sk-mega-previous0000111122223333444455556666"
# Claude Code stores the last 20 characters of keys the user approved or rejected.
FOREIGN_APPROVED_SUFFIX = "abcdefghij0123456789"


@dataclass(frozen=True)
class Recipe:
    """What one home contains and how its files are laid out."""

    json_style: Style = PLAIN
    jsonc_style: Style = PLAIN
    toml_style: Style = PLAIN
    rc_newline: str = "\n"
    agent_files: frozenset[str] = ALL_AGENT_FILES
    unicode: bool = False
    long_line: bool = False
    deep: bool = False
    state_projects: int = 3
    history_per_project: int = 5
    onboarding: bool | None = None
    approved: tuple[str, ...] | None = None
    conflicting_auth: bool = False
    prior_megallm: bool = False
    empty_env: bool = False
    codex_text: str = shapes.CODEX_CONFIG
    shells: tuple[str, ...] = ("bash",)
    rc_non_utf8: bool = False
    empty_files: bool = False
    whitespace_files: bool = False
    settings_is_empty_object: bool = False
    vscode_variants: tuple[str, ...] = ("Code",)
    modes: tuple[tuple[str, int], ...] = ()
    links: str | None = None
    """None, or how dotfiles are linked: absolute, relative, chain, dir, dangling."""
    moved: frozenset[str] = frozenset()
    """Agents whose dirs an env var moves: claude, codex, xdg, cline."""


@dataclass(frozen=True)
class CorpusHome:
    name: str
    summary: str
    recipe: Recipe = field(default_factory=Recipe)
    setup_flags: tuple[str, ...] = ()
    level: str = "user"
    slow: bool = False
    """Big files: quick runs skip it."""

    def build(self, root: Path) -> dict[str, str]:
        return _build(self, root)


class _Home:
    """Where each agent's files go in this home, resolved the way each agent resolves them."""

    def __init__(self, root: Path, recipe: Recipe) -> None:
        self.root = root
        self.home = root / "home"
        self.project = root / "project"
        self.env: dict[str, str] = {}
        if "claude" in recipe.moved:
            self.env["CLAUDE_CONFIG_DIR"] = str(root / "claude-config")
        if "codex" in recipe.moved:
            self.env["CODEX_HOME"] = str(root / "codex-home")
        if "xdg" in recipe.moved:
            self.env["XDG_CONFIG_HOME"] = str(root / "xdg-config")
        if "cline" in recipe.moved:
            self.env["CLINE_DIR"] = str(root / "cline-dir")

    @property
    def claude_dir(self) -> Path:
        return Path(self.env.get("CLAUDE_CONFIG_DIR") or self.home / ".claude")

    @property
    def claude_state(self) -> Path:
        moved = self.env.get("CLAUDE_CONFIG_DIR")
        return Path(moved) / ".claude.json" if moved else self.home / ".claude.json"

    @property
    def codex_config(self) -> Path:
        return Path(self.env.get("CODEX_HOME") or self.home / ".codex") / "config.toml"

    @property
    def xdg_config(self) -> Path:
        return Path(self.env.get("XDG_CONFIG_HOME") or self.home / ".config")

    @property
    def cline_providers(self) -> Path:
        cline_dir = Path(self.env.get("CLINE_DIR") or self.home / ".cline")
        return cline_dir / "data" / "settings" / "providers.json"

    def write(self, path: Path, data: bytes, mode: int | None = None) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        if mode is not None:
            os.chmod(path, mode)


def _build(spec: CorpusHome, root: Path) -> dict[str, str]:
    recipe = spec.recipe
    home = _Home(root, recipe)
    home.home.mkdir(parents=True, exist_ok=True)
    home.project.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []

    def put(path: Path, data: bytes) -> None:
        if recipe.empty_files:
            data = b""
        elif recipe.whitespace_files:
            data = b"  \n\t\n"
        home.write(path, data)
        written.append(path)

    if "claude" in recipe.agent_files:
        settings = shapes.claude_settings(
            unicode=recipe.unicode,
            long_line=recipe.long_line,
            conflicting_auth=recipe.conflicting_auth,
            prior_megallm_key=OLD_MEGALLM_KEY if recipe.prior_megallm else None,
            deep=recipe.deep,
            empty_env=recipe.empty_env,
        )
        settings_bytes = (
            recipe.json_style.encode("{}\n")
            if recipe.settings_is_empty_object
            else recipe.json_style.dump_json(settings)
        )
        put(home.claude_dir / "settings.json", settings_bytes)
        state = shapes.claude_state(
            projects=recipe.state_projects,
            history_per_project=recipe.history_per_project,
            onboarding=recipe.onboarding,
            approved=list(recipe.approved) if recipe.approved is not None else None,
            rejected=[FOREIGN_APPROVED_SUFFIX[::-1]] if recipe.approved is not None else None,
            unicode=recipe.unicode,
        )
        put(home.claude_state, recipe.json_style.dump_json(state))
    if "codex" in recipe.agent_files:
        put(home.codex_config, recipe.toml_style.encode(recipe.codex_text))
    if "opencode" in recipe.agent_files:
        put(home.xdg_config / "opencode" / "opencode.jsonc", _jsonc(recipe, shapes.OPENCODE_CONFIG))
    if "kilo" in recipe.agent_files:
        put(home.xdg_config / "kilo" / "kilo.jsonc", _jsonc(recipe, shapes.KILO_CONFIG))
    if "cline" in recipe.agent_files:
        providers = shapes.cline_providers(unicode=recipe.unicode)
        # Cline writes this file itself, never with a BOM, and its reader rejects one (megallm
        # refuses such a file with that reason: see the bad-input matrix).
        style = replace(recipe.json_style, bom=False)
        put(home.cline_providers, style.dump_json(providers))
    if "vscode" in recipe.agent_files:
        for variant in recipe.vscode_variants:
            put(
                home.xdg_config / variant / "User" / "settings.json",
                _jsonc(recipe, shapes.VSCODE_SETTINGS),
            )
        _vscode_extensions(home, recipe.vscode_variants)
    _shell_files(home, recipe)
    for relative, mode in recipe.modes:
        os.chmod(home.root / relative, mode)
    if recipe.links:
        _link_into_dotfiles(home, written, recipe.links)
    if spec.level == "project":
        _project(home)
    return home.env


def _jsonc(recipe: Recipe, template: str) -> bytes:
    text = template
    if recipe.unicode:
        text = text.replace('"theme":', '"тема 🎨": "ночь",\n  "theme":')
    if recipe.long_line:
        long_list = ", ".join(f'"docs/part-{n}.md"' for n in range(15_000))
        text = text.replace('"instructions": [', f'"instructions": [{long_list}, ')
    return recipe.jsonc_style.encode(text)


_EXTENSIONS = {
    "Code": (".vscode", "rooveterinaryinc", "roo-cline", "3.28.1"),
    "Cursor": (".cursor", "kilocode", "kilo-code", "4.90.0"),
    "VSCodium": (".vscode-oss", "rooveterinaryinc", "roo-cline", "3.27.0"),
    "Windsurf": (".windsurf", "saoudrizwan", "claude-dev", "3.20.0"),
}


def _vscode_extensions(home: _Home, variants: tuple[str, ...]) -> None:
    """Installed extensions, so detection sees the editors the way it does on a real machine."""
    for variant in variants:
        if variant not in _EXTENSIONS:
            continue
        home_dir, publisher, name, version = _EXTENSIONS[variant]
        directory = home.home / home_dir / "extensions" / f"{publisher}.{name}-{version}"
        manifest = shapes.vscode_extension_manifest(publisher, name, version)
        home.write(directory / "package.json", manifest.encode())


def _shell_files(home: _Home, recipe: Recipe) -> None:
    def rc(text: str) -> bytes:
        data = text.replace("\n", recipe.rc_newline).encode("utf-8")
        if recipe.rc_non_utf8:
            # A Latin-1 comment, as old editors saved it: not valid UTF-8, must survive anyway.
            data += b"# caf\xe9 cr\xe8me" + recipe.rc_newline.encode()
        return data

    prior = shapes.PRIOR_MEGALLM_BLOCK if recipe.prior_megallm else ""
    for shell in recipe.shells:
        if shell == "bash":
            home.write(home.home / ".bashrc", rc(shapes.BASHRC + prior))
            home.write(home.home / ".profile", rc(shapes.PROFILE))
        elif shell == "bash_profile":
            home.write(home.home / ".bashrc", rc(shapes.BASHRC))
            home.write(home.home / ".bash_profile", rc("[ -f ~/.bashrc ] && . ~/.bashrc\n"))
        elif shell == "zsh":
            home.write(home.home / ".zshrc", rc(shapes.ZSHRC))
        elif shell == "zdotdir":
            home.write(home.home / ".zshenv", rc(shapes.ZSHENV_WITH_ZDOTDIR))
            home.write(home.xdg_config / "zsh" / ".zshrc", rc(shapes.ZSHRC))
        elif shell == "fish":
            home.write(home.xdg_config / "fish" / "config.fish", rc(shapes.FISH_CONFIG))


def _link_into_dotfiles(home: _Home, files: list[Path], how: str) -> None:
    """Move config files into ~/dotfiles and link them back, as dotfile managers do."""
    dotfiles = home.home / "dotfiles"
    shell_rc = [home.home / ".bashrc"] if (home.home / ".bashrc").exists() else []
    if how == "dir":
        claude_dir = home.claude_dir
        stored = dotfiles / "claude"
        stored.parent.mkdir(parents=True, exist_ok=True)
        claude_dir.rename(stored)
        claude_dir.symlink_to(stored, target_is_directory=True)
        return
    for path in [*files, *shell_rc]:
        if not path.exists():
            continue
        stored = dotfiles / path.relative_to(home.root).as_posix().replace("/", "__")
        stored.parent.mkdir(parents=True, exist_ok=True)
        path.rename(stored)
        if how == "relative":
            path.symlink_to(os.path.relpath(stored, path.parent))
        elif how == "chain":
            middle = dotfiles / "links" / stored.name
            middle.parent.mkdir(parents=True, exist_ok=True)
            middle.symlink_to(stored)
            path.symlink_to(middle)
        elif how == "dangling":
            # The link's target is gone (a dotfiles checkout not done yet): writing creates it.
            stored.unlink()
            path.symlink_to(stored)
        else:
            path.symlink_to(stored)


def _project(home: _Home) -> None:
    """A git repository whose committed .claude/settings.json the team shares."""
    project = home.project
    subprocess.run(["git", "init", "-q", str(project)], check=True)
    home.write(project / ".gitignore", b"node_modules/\r\n*.log\r\n")
    settings = {"permissions": {"allow": ["Bash(make test)"]}, "env": {"TEAM_FLAG": "1"}}
    home.write(project / ".claude" / "settings.json", PLAIN.dump_json(settings))
    home.write(
        project / "opencode.jsonc", PLAIN.encode('{\n  // team config\n  "share": "disabled",\n}\n')
    )
    git = ["git", "-C", str(project), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "team config"], check=True)


CRLF = Style(newline="\r\n")
BOM = Style(bom=True)
TABS = Style(indent="\t")


def corpus_homes(include_slow: bool = True) -> list[CorpusHome]:
    """At least 40 homes; `include_slow=False` leaves out the ones with very large files."""
    rich = Recipe()
    homes = [
        CorpusHome("empty", "a new machine: no config at all", Recipe(agent_files=frozenset())),
        CorpusHome("rich", "every agent's richest config, LF, 2 spaces", rich),
        CorpusHome(
            "crlf",
            "CRLF everywhere",
            replace(rich, json_style=CRLF, jsonc_style=CRLF, toml_style=CRLF, rc_newline="\r\n"),
        ),
        CorpusHome(
            "bom",
            "UTF-8 BOM on every file",
            replace(rich, json_style=BOM, jsonc_style=BOM, toml_style=BOM),
        ),
        CorpusHome(
            "bom-crlf",
            "BOM and CRLF (Windows editors)",
            replace(
                rich,
                json_style=Style(newline="\r\n", bom=True),
                jsonc_style=Style(newline="\r\n", bom=True),
                toml_style=Style(newline="\r\n", bom=True),
            ),
        ),
        CorpusHome("tabs", "tab indentation", replace(rich, json_style=TABS, jsonc_style=TABS)),
        CorpusHome(
            "four-spaces",
            "4-space indentation (VS Code's default)",
            replace(rich, json_style=Style(indent="    "), jsonc_style=Style(indent="    ")),
        ),
        CorpusHome(
            "minified",
            "strict JSON files on one line",
            replace(rich, json_style=Style(minified=True)),
        ),
        CorpusHome(
            "no-final-newline",
            "no newline at end of file",
            replace(
                rich,
                json_style=Style(final_newline=False),
                jsonc_style=Style(final_newline=False),
                toml_style=Style(final_newline=False),
            ),
        ),
        CorpusHome(
            "ascii-escapes",
            "non-ASCII written as \\u escapes",
            replace(rich, unicode=True, json_style=Style(ascii_escapes=True)),
        ),
        CorpusHome(
            "unicode", "unicode keys and values in every script", replace(rich, unicode=True)
        ),
        CorpusHome("long-lines", "300 KB single lines", replace(rich, long_line=True)),
        CorpusHome("deep-nesting", "80 levels of nested objects", replace(rich, deep=True)),
        CorpusHome(
            "big-state",
            "a 2 MB ~/.claude.json",
            replace(rich, state_projects=800, history_per_project=10),
        ),
        CorpusHome(
            "huge-state",
            "a ~40 MB ~/.claude.json",
            replace(rich, state_projects=16_000, history_per_project=10),
            slow=True,
        ),
        CorpusHome(
            "links-absolute",
            "dotfiles linked with absolute symlinks",
            replace(rich, links="absolute"),
        ),
        CorpusHome(
            "links-relative",
            "dotfiles linked with relative symlinks",
            replace(rich, links="relative"),
        ),
        CorpusHome("links-chain", "a link to a link to the file", replace(rich, links="chain")),
        CorpusHome(
            "links-dir", "~/.claude itself is a symlinked directory", replace(rich, links="dir")
        ),
        CorpusHome(
            "links-dangling",
            "links whose targets do not exist yet",
            replace(rich, links="dangling"),
        ),
        CorpusHome(
            "conflicting-auth",
            "ANTHROPIC_API_KEY already in settings",
            replace(rich, conflicting_auth=True),
        ),
        CorpusHome(
            "prior-megallm",
            "an earlier megallm setup with an older key",
            replace(rich, prior_megallm=True),
        ),
        CorpusHome(
            "other-provider",
            "Codex pointed at another provider",
            replace(rich, codex_text=shapes.CODEX_OTHER_PROVIDER),
        ),
        CorpusHome(
            "claude-config-dir",
            "CLAUDE_CONFIG_DIR moves Claude's files",
            replace(rich, moved=frozenset({"claude"})),
        ),
        CorpusHome(
            "codex-home",
            "CODEX_HOME moves Codex's files",
            replace(rich, moved=frozenset({"codex"})),
        ),
        CorpusHome(
            "xdg-config-home",
            "XDG_CONFIG_HOME moves .config",
            replace(rich, moved=frozenset({"xdg"}), shells=("bash", "fish")),
        ),
        CorpusHome(
            "cline-dir", "CLINE_DIR moves Cline's data", replace(rich, moved=frozenset({"cline"}))
        ),
        CorpusHome(
            "all-moved",
            "every env var override at once",
            replace(rich, moved=frozenset({"claude", "codex", "xdg", "cline"})),
        ),
        CorpusHome("zsh", "a zsh user", replace(rich, shells=("zsh",))),
        CorpusHome(
            "zdotdir", "zsh with ZDOTDIR set in ~/.zshenv", replace(rich, shells=("zdotdir",))
        ),
        CorpusHome("fish", "a fish user with bash too", replace(rich, shells=("bash", "fish"))),
        CorpusHome(
            "bash-profile", "bash with ~/.bash_profile", replace(rich, shells=("bash_profile",))
        ),
        CorpusHome("rc-crlf", "shell rc files with CRLF", replace(rich, rc_newline="\r\n")),
        CorpusHome("rc-latin1", "a shell rc with Latin-1 bytes", replace(rich, rc_non_utf8=True)),
        CorpusHome(
            "empty-files", "every agent file exists with 0 bytes", replace(rich, empty_files=True)
        ),
        CorpusHome(
            "whitespace-files",
            "every agent file holds only whitespace",
            replace(rich, whitespace_files=True),
        ),
        CorpusHome("empty-env", 'Claude settings with "env": {}', replace(rich, empty_env=True)),
        CorpusHome(
            "empty-object",
            "Claude settings.json is {}",
            replace(rich, settings_is_empty_object=True),
        ),
        CorpusHome(
            "modes",
            "group-readable and private files",
            replace(
                rich,
                modes=(
                    ("home/.claude/settings.json", 0o640),
                    ("home/.claude.json", 0o600),
                    ("home/.codex/config.toml", 0o664),
                ),
            ),
        ),
        CorpusHome(
            "onboarded",
            "onboarding done, other keys approved",
            replace(rich, onboarding=True, approved=(FOREIGN_APPROVED_SUFFIX,)),
            setup_flags=("--claude-auth", "api-key"),
        ),
        CorpusHome(
            "onboarding-false", "onboarding explicitly false", replace(rich, onboarding=False)
        ),
        CorpusHome(
            "api-key-auth",
            "Claude Code with x-api-key auth",
            rich,
            setup_flags=("--claude-auth", "api-key"),
        ),
        CorpusHome(
            "model-chosen",
            "a default model chosen",
            rich,
            setup_flags=("--model", "claude-sonnet-4-5"),
        ),
        CorpusHome(
            "editors",
            "VS Code, Cursor, VSCodium and Windsurf",
            replace(rich, vscode_variants=("Code", "Cursor", "VSCodium", "Windsurf")),
        ),
        CorpusHome(
            "only-claude",
            "only Claude Code's files",
            replace(rich, agent_files=frozenset({"claude"})),
        ),
        CorpusHome(
            "only-shell", "nothing but shell rc files", replace(rich, agent_files=frozenset())
        ),
        CorpusHome(
            "project",
            "project level in a git repo with committed team settings",
            rich,
            level="project",
        ),
        CorpusHome(
            "project-crlf",
            "project level, CRLF files",
            replace(rich, json_style=CRLF, jsonc_style=CRLF),
            level="project",
        ),
    ]
    return [home for home in homes if include_slow or not home.slow]
