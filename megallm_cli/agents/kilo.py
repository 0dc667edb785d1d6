"""Kilo Code CLI 7 (an OpenCode fork): the same `provider.megallm`, in Kilo's own files.

Precedence observed on 7.7.7, lowest first: ~/.config/kilo/{config.json, kilo.json,
kilo.jsonc, opencode.json, opencode.jsonc}, $KILO_CONFIG, the project's kilo.json, kilo.jsonc,
opencode.json, opencode.jsonc, then .kilocode/ and .kilo/ (each kilo.jsonc, kilo.json,
opencode.jsonc, opencode.json), then the same two dirs under HOME. The opencode.* names beat
kilo.* ones, so when both exist setup writes the opencode.* file: a kilo.jsonc entry would lose.
Kilo ignores OPENCODE_CONFIG and the ~/.config/opencode dir, and it ignores a whole project
file that contains an `{env:…}` reference (a `{file:…}` one outside the project too).
"""

from __future__ import annotations

from operator import attrgetter

from megallm_cli.agents.opencode_family import Flavor, OpenCodeFamilyAgent

_DOT_DIR_FILES = ("kilo.jsonc", "kilo.json", "opencode.jsonc", "opencode.json")

FLAVOR = Flavor(
    id="kilo",
    display_name="Kilo Code",
    binary="kilo",
    package="@kilocode/cli",
    schema_url="https://app.kilo.ai/config.json",
    config_dir=attrgetter("kilo_dir"),
    override=attrgetter("kilo_config_override"),
    override_var="KILO_CONFIG",
    content_var="KILO_CONFIG_CONTENT",
    user_files=("config.json", "kilo.json", "kilo.jsonc", "opencode.json", "opencode.jsonc"),
    new_user_file="kilo.jsonc",
    project_files=(
        "kilo.json",
        "kilo.jsonc",
        "opencode.json",
        "opencode.jsonc",
        *(f".kilocode/{name}" for name in _DOT_DIR_FILES),
        *(f".kilo/{name}" for name in _DOT_DIR_FILES),
    ),
    new_project_file=".kilo/kilo.jsonc",
    home_files=(
        *(f".kilocode/{name}" for name in _DOT_DIR_FILES),
        *(f".kilo/{name}" for name in _DOT_DIR_FILES),
    ),
    project_env_references=False,
)

AGENT = OpenCodeFamilyAgent(FLAVOR)
