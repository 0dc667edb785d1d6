"""OpenCode: `provider.megallm` in its JSONC config (shared logic in opencode_family).

Precedence observed on 1.18.33, lowest first: ~/.config/opencode/{config.json, opencode.json,
opencode.jsonc}, $OPENCODE_CONFIG, the project's opencode.json, opencode.jsonc, then
.opencode/opencode.json(c), then ~/.opencode/opencode.json(c). A new project file is
`opencode.json`, the name OpenCode's docs give the project config; when a project has both
names, `opencode.jsonc` wins, so setup writes there.
"""

from __future__ import annotations

from operator import attrgetter

from megallm_cli.agents.opencode_family import Flavor, OpenCodeFamilyAgent

FLAVOR = Flavor(
    id="opencode",
    display_name="OpenCode",
    binary="opencode",
    package="opencode-ai",
    schema_url="https://opencode.ai/config.json",
    config_dir=attrgetter("opencode_dir"),
    override=attrgetter("opencode_config_override"),
    override_var="OPENCODE_CONFIG",
    content_var="OPENCODE_CONFIG_CONTENT",
    user_files=("config.json", "opencode.json", "opencode.jsonc"),
    new_user_file="opencode.jsonc",
    project_files=(
        "opencode.json",
        "opencode.jsonc",
        ".opencode/opencode.json",
        ".opencode/opencode.jsonc",
    ),
    new_project_file="opencode.json",
    home_files=(".opencode/opencode.json", ".opencode/opencode.jsonc"),
    installer_bin_dirs=(".opencode/bin",),
)

AGENT = OpenCodeFamilyAgent(FLAVOR)
