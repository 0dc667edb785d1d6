"""Shell completion: static scripts generated from the command tree, installed in marked blocks.

Static scripts, not typer's `_MEGALLM_COMPLETE` mechanism: that one starts Python and imports
the CLI on every TAB press (60 ms here with a warm cache; hundreds of ms on a cold one, on
Windows, or under a virus scanner), while a static script answers inside the shell at once.
The price is that a script must follow the command set: `megallm completion install` renders
it from the running program, so an installed script always matches the installed version, and
the copies in completions/ (for packagers) are rendered by scripts/gen_completions.py and
checked for staleness by tests/test_completions.py. Only values fixed in the program are
completed (agent ids, levels, shells, files); model ids and backup ids are known only at run
time and are not.

Where an installed completion lives (planned as FileChanges, so the engine backs every write
up, `megallm restore` undoes it, and `--uninstall` plans the inverse):

    bash        megallm.bash in our config dir, sourced from a marked block in ~/.bashrc
    zsh         _megallm in our config dir, sourced from a marked block in $ZDOTDIR/.zshrc
    fish        ~/.config/fish/completions/megallm.fish, a marked block holding the script,
                which fish loads by itself the first time `megallm` is completed
    powershell  megallm.ps1 in our config dir, dot-sourced from a marked block in the profile

The blocks use their own markers (`# >>> megallm completion >>>`), so they never mix with the
env block that `megallm setup` adds to the same files.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from megallm_cli.changes import FileChange
from megallm_cli.formats.shellblock import BlockStyle
from megallm_cli.paths import Paths
from megallm_cli.shellenv import (
    edit_block,
    powershell_profiles,
    quote_fish,
    quote_posix,
    quote_powershell,
)

PROGRAM = "megallm"
AGENT = "completion"
SHELLS = ("bash", "zsh", "fish", "powershell")
# The file name each shell expects: zsh's fpath files are named after the function they define.
SCRIPT_NAMES = {
    "bash": "megallm.bash",
    "zsh": "_megallm",
    "fish": "megallm.fish",
    "powershell": "megallm.ps1",
}
REFRESH_COMMAND = "python scripts/gen_completions.py"

ValueKind = Literal["none", "word", "choice", "file", "directory"]

# Options whose values the program checks itself rather than through a typed parameter. An
# option name keeps its meaning in every command, so the name is enough to know its values.
_DIRECTORY_OPTIONS = ("--project-dir",)


def _fixed_values() -> dict[str, tuple[str, ...]]:
    from megallm_cli.agents import AGENT_IDS
    from megallm_cli.request import LEVELS

    return {
        "--agent": AGENT_IDS,
        "--level": LEVELS,
        "--claude-auth": ("auth-token", "api-key"),
        "--shell": SHELLS,
    }


# --- the command tree, read from the click command that typer builds --------------------------


@dataclass(frozen=True)
class Option:
    names: tuple[str, ...]  # every spelling: -a and --agent, or --yes and --ask
    help: str
    value_kind: ValueKind  # "none" for a flag
    values: tuple[str, ...] = ()  # what to offer when value_kind is "choice"
    repeatable: bool = False
    # --help and --version (click's eager options) act at once: nothing may follow them.
    ends_command_line: bool = False

    @property
    def takes_value(self) -> bool:
        return self.value_kind != "none"

    @property
    def metavar(self) -> str:
        return max(self.names, key=len).lstrip("-").replace("-", " ")


@dataclass(frozen=True)
class Command:
    path: tuple[str, ...]  # () for megallm itself, ("completion", "install") for a subcommand
    help: str
    options: tuple[Option, ...]
    subcommands: tuple[Command, ...] = ()

    def walk(self) -> Iterator[Command]:
        yield self
        for subcommand in self.subcommands:
            yield from subcommand.walk()

    @property
    def key(self) -> str:
        """The path as the scripts spell it: "" for megallm itself, "completion install"."""
        return " ".join(self.path)


def command_tree(root: Any) -> Command:
    """The commands and options of a click command (what `typer.main.get_command` returns).

    Only click's public attributes are read, so this works with typer's vendored click and
    with the click that older typer versions depend on alike.
    """
    context = root.context_class(root, info_name=PROGRAM, **root.context_settings)
    return _read_command(root, context, (), _fixed_values())


def _read_command(
    command: Any, context: Any, path: tuple[str, ...], fixed: Mapping[str, tuple[str, ...]]
) -> Command:
    options = tuple(
        _read_option(param, fixed)
        for param in command.get_params(context)
        if param.param_type_name == "option" and not getattr(param, "hidden", False)
    )
    subcommands = []
    if hasattr(command, "list_commands"):
        # Sorted: typer lists commands in the order they were added, older ones (on click
        # 8.1) sorted, and the scripts must come out the same under either.
        for name in sorted(command.list_commands(context)):
            sub = command.get_command(context, name)
            if sub is None or getattr(sub, "hidden", False):
                continue
            sub_context = sub.context_class(
                sub, info_name=name, parent=context, **sub.context_settings
            )
            subcommands.append(_read_command(sub, sub_context, (*path, name), fixed))
    return Command(path, _summary(command.help or ""), options, tuple(subcommands))


def _read_option(param: Any, fixed: Mapping[str, tuple[str, ...]]) -> Option:
    # Long names first, in a fixed order: click keeps the help option's names in a set, whose
    # order changes from one run to the next, and the scripts must come out the same each time.
    names = tuple(
        sorted(param.opts, key=lambda name: (not name.startswith("--"), name))
        + sorted(param.secondary_opts)
    )
    kind, values = _value_kind(param, names, fixed)
    return Option(
        names=names,
        help=_summary(param.help or ""),
        value_kind=kind,
        values=values,
        repeatable=bool(param.multiple or getattr(param, "count", False)),
        ends_command_line=bool(param.is_eager),
    )


def _value_kind(
    param: Any, names: tuple[str, ...], fixed: Mapping[str, tuple[str, ...]]
) -> tuple[ValueKind, tuple[str, ...]]:
    if param.is_flag or getattr(param, "count", False):
        return "none", ()
    for name in names:
        if name in fixed:
            return "choice", tuple(fixed[name])
        if name in _DIRECTORY_OPTIONS:
            return "directory", ()
    choices = getattr(param.type, "choices", None)
    if choices:
        return "choice", tuple(str(getattr(choice, "value", choice)) for choice in choices)
    if hasattr(param.type, "file_okay") and hasattr(param.type, "dir_okay"):
        only_directories = param.type.dir_okay and not param.type.file_okay
        return ("directory" if only_directories else "file"), ()
    return "word", ()


def _summary(text: str) -> str:
    """The first line of a help text, which is what a completion menu has room for."""
    for line in text.replace("\b", "").splitlines():
        if line.strip():
            return " ".join(line.split())
    return ""


# --- rendering ----------------------------------------------------------------------------


def _header(comment: str) -> str:
    lines = [
        f"{PROGRAM} shell completion, generated from its command definitions: do not edit.",
        f"Install it with `{PROGRAM} completion install`, or print it with",
        f"`{PROGRAM} completion show --shell SHELL`; in the source tree, {REFRESH_COMMAND}",
        "rewrites the copies in completions/.",
    ]
    return "\n".join(f"{comment} {line}" for line in lines) + "\n"


def render(shell: str, tree: Command) -> str:
    renderers = {
        "bash": render_bash,
        "zsh": render_zsh,
        "fish": render_fish,
        "powershell": render_powershell,
    }
    return renderers[shell](tree)


def _case_patterns(words: list[str]) -> str:
    return "|".join(quote_posix(word) for word in words)


def render_bash(tree: Command) -> str:
    commands = list(tree.walk())
    takes_value_cases = [
        f"        {_case_patterns([f'{command.key}:{name}' for name in option.names])}) return 0 ;;"
        for command in commands
        for option in command.options
        if option.takes_value
    ]
    value_cases = []
    for command in commands:
        for option in command.options:
            action = _bash_value_action(option)
            if action:
                patterns = _case_patterns([f"{command.key}:{name}" for name in option.names])
                value_cases.append(f"            {patterns}) {action} ;;")
    path_cases = []
    for command in commands:
        names = " ".join(sub.path[-1] for sub in command.subcommands)
        options = " ".join(name for option in command.options for name in option.names)
        path_cases.append(
            f"        {quote_posix(command.key)})\n"
            f"            commands={quote_posix(names)}\n"
            f"            options={quote_posix(options)}\n"
            "            ;;"
        )
    subcommand_paths = _case_patterns([command.key for command in commands if command.path])
    body = f"""\
# Succeeds when option $2 of command $1 ("" for {PROGRAM} itself) takes a value.
_{PROGRAM}_takes_value() {{
    case "$1:$2" in
{chr(10).join(takes_value_cases)}
    esac
    return 1
}}

_{PROGRAM}_is_command() {{
    case "$1" in
        {subcommand_paths}) return 0 ;;
    esac
    return 1
}}

_{PROGRAM}() {{
    local cur=${{COMP_WORDS[COMP_CWORD]}} line=${{COMP_LINE:0:COMP_POINT}}
    local path= option= expecting_value=0 prefix= commands= options= word i
    local -a words
    # Split the line at blanks ourselves: COMP_WORDS is also split at = and :, which would
    # cut --level=user (and URLs) apart.
    read -r -a words <<< "$line"
    local before=${{#words[@]}}
    if [[ $line != *[[:blank:]] ]] && ((before > 0)); then
        before=$((before - 1))  # the last word is the one being completed
    fi
    for ((i = 1; i < before; i++)); do
        word=${{words[i]}}
        if ((expecting_value)); then
            expecting_value=0
            continue
        fi
        case $word in
            -*=*) ;;
            -*)
                if _{PROGRAM}_takes_value "$path" "$word"; then
                    expecting_value=1
                    option=$word
                fi
                ;;
            *)
                if _{PROGRAM}_is_command "${{path:+$path }}$word"; then
                    path=${{path:+$path }}$word
                fi
                ;;
        esac
    done
    local current=${{words[before]-}}
    if ((!expecting_value)) && [[ $current == -*=* ]] &&
        _{PROGRAM}_takes_value "$path" "${{current%%=*}}"; then
        expecting_value=1
        option=${{current%%=*}}
        [[ $cur == = ]] && cur=
        # Without = among the word breaks, bash replaces the whole --option=value word.
        if [[ $cur == *=* ]]; then
            prefix=${{cur%%=*}}=
            cur=${{cur#*=}}
        fi
    fi
    if ((expecting_value)); then
        case "$path:$option" in
{chr(10).join(value_cases)}
        esac
        return 0
    fi
    case $path in
{chr(10).join(path_cases)}
    esac
    if [[ $cur == -* || -z $commands ]]; then
        COMPREPLY=($(compgen -W "$options" -- "$cur"))
    else
        COMPREPLY=($(compgen -W "$commands" -- "$cur"))
    fi
}}

complete -F _{PROGRAM} {PROGRAM}
"""
    return "# bash completion for megallm\n" + _header("#") + "\n" + body


def _bash_value_action(option: Option) -> str | None:
    if option.value_kind == "choice":
        words = quote_posix(" ".join(option.values))
        return f'COMPREPLY=($(compgen -P "$prefix" -W {words} -- "$cur"))'
    # File names may hold blanks: split compgen's output at line breaks only.
    if option.value_kind == "file":
        return (
            "compopt -o filenames 2>/dev/null; local IFS=$'\\n';"
            ' COMPREPLY=($(compgen -P "$prefix" -f -- "$cur"))'
        )
    if option.value_kind == "directory":
        return (
            "compopt -o filenames 2>/dev/null; local IFS=$'\\n';"
            ' COMPREPLY=($(compgen -P "$prefix" -d -- "$cur"))'
        )
    return None  # a free value (a URL, a model id): nothing to offer


def _function_name(command: Command) -> str:
    return "_" + "_".join([PROGRAM, *(re.sub(r"\W", "_", part) for part in command.path)])


def _zsh_escape(text: str, special: str) -> str:
    return "".join("\\" + char if char in special or char == "\\" else char for char in text)


def _zsh_option_specs(command: Command) -> list[str]:
    specs = []
    for option in command.options:
        if option.ends_command_line:
            exclusions = "(- *)"
        elif option.repeatable:
            exclusions = "*"
        else:
            exclusions = "(" + " ".join(option.names) + ")" if len(option.names) > 1 else ""
        description = "[" + _zsh_escape(option.help, "[]:") + "]"
        argument = ""
        if option.takes_value:
            action = {
                "choice": "(" + " ".join(_zsh_escape(v, " ()") for v in option.values) + ")",
                "file": "_files",
                "directory": "_files -/",
            }.get(option.value_kind, " ")
            argument = f":{option.metavar}:{action}"
        # A long option's value may follow a blank or an =, a short one's a blank or nothing.
        spellings = [
            name + (("=" if name.startswith("--") else "+") if option.takes_value else "")
            for name in option.names
        ]
        quoted_tail = quote_posix(description + argument)
        if len(spellings) == 1:
            specs.append(quote_posix(exclusions + spellings[0] + description + argument))
        else:
            prefix = quote_posix(exclusions) if exclusions else ""
            specs.append(prefix + "{" + ",".join(spellings) + "}" + quoted_tail)
    return specs


def _zsh_function(command: Command) -> str:
    name = _function_name(command)
    specs = _zsh_option_specs(command)
    if not command.subcommands:
        lines = " \\\n        ".join(specs)
        return f"{name}() {{\n    _arguments -s -S \\\n        {lines}\n}}\n"
    specs += [quote_posix("1: :->command"), quote_posix("*:: :->argument")]
    lines = " \\\n        ".join(specs)
    described = "\n".join(
        "        " + quote_posix(_zsh_escape(sub.path[-1], ":") + ":" + sub.help)
        for sub in command.subcommands
    )
    dispatch = "\n".join(
        f"                ({sub.path[-1]}) {_function_name(sub)} && ret=0 ;;"
        for sub in command.subcommands
    )
    context_name = "-".join([PROGRAM, *command.path])
    return f"""\
{name}() {{
    local curcontext=$curcontext state state_descr line ret=1
    typeset -A opt_args
    local -a commands=(
{described}
    )
    _arguments -C -s -S \\
        {lines} && ret=0
    case $state in
        (command)
            _describe -t commands {quote_posix(" ".join([PROGRAM, *command.path]) + " command")} \
commands && ret=0
            ;;
        (argument)
            curcontext=${{curcontext%:*:*}}:{context_name}-$words[1]:
            case $words[1] in
{dispatch}
            esac
            ;;
    esac
    return ret
}}
"""


def render_zsh(tree: Command) -> str:
    functions = "\n".join(_zsh_function(command) for command in tree.walk())
    return f"""\
#compdef {PROGRAM}
{_header("#")}
{functions}
# Loaded from fpath, this file is the body of _{PROGRAM}; sourced, it registers it.
if [ "$funcstack[1]" = "_{PROGRAM}" ]; then
    _{PROGRAM} "$@"
else
    compdef _{PROGRAM} {PROGRAM}
fi
"""


def render_fish(tree: Command) -> str:
    commands = list(tree.walk())
    value_options = " ".join(
        quote_fish(f"{command.key}:{name}")
        for command in commands
        for option in command.options
        if option.takes_value
        for name in option.names
    )
    paths = " ".join(quote_fish(command.key) for command in commands if command.path)
    lines = [f"complete -c {PROGRAM} -f"]
    for command in commands:
        condition = quote_fish(" ".join([f"__{PROGRAM}_at", *command.path]))
        prefix = f"complete -c {PROGRAM} -n {condition}"
        lines.append("")
        lines.append(f"# {' '.join([PROGRAM, *command.path])}")
        for sub in command.subcommands:
            lines.append(f"{prefix} -a {quote_fish(sub.path[-1])} -d {quote_fish(sub.help)}")
        for option in command.options:
            lines.append(f"{prefix}{_fish_option(option)} -d {quote_fish(option.help)}")
    return f"""\
# fish completion for {PROGRAM}
{_header("#")}
# The command typed so far ("completion install"): option words and their values skipped.
function __{PROGRAM}_command_path
    set -l words (commandline -opc)
    set -e words[1]
    set -l path
    set -l expecting_value 0
    for word in $words
        if test $expecting_value = 1
            set expecting_value 0
            continue
        end
        switch $word
            case '-*=*'
            case '-*'
                if contains -- "$path:$word" {value_options}
                    set expecting_value 1
                end
            case '*'
                set -l candidate $path $word
                if contains -- "$candidate" {paths}
                    set path $candidate
                end
        end
    end
    string join ' ' -- $path
end

function __{PROGRAM}_at --description 'Succeeds when the command typed so far is exactly $argv'
    set -l path (__{PROGRAM}_command_path)
    test "$path" = "$argv"
end

{chr(10).join(lines)}
"""


def _fish_option(option: Option) -> str:
    parts = []
    for name in option.names:
        if name.startswith("--"):
            parts.append(f" -l {quote_fish(name[2:])}")
        else:
            parts.append(f" -s {quote_fish(name[1:])}")
    if option.value_kind == "choice":
        parts.append(f" -x -a {quote_fish(' '.join(option.values))}")
    elif option.value_kind == "file":
        parts.append(" -r -F")
    elif option.value_kind == "directory":
        parts.append(" -x -a '(__fish_complete_directories (commandline -ct))'")
    elif option.value_kind == "word":
        parts.append(" -x")
    return "".join(parts)


def _powershell_array(items: list[str], indent: str) -> str:
    if not items:
        return "@()"
    return "@(\n" + "".join(f"{indent}    {item}\n" for item in items) + f"{indent})"


def render_powershell(tree: Command) -> str:
    entries = []
    for command in tree.walk():
        subcommands = [
            f"@{{ Name = {quote_powershell(sub.path[-1])}; Help = {quote_powershell(sub.help)} }}"
            for sub in command.subcommands
        ]
        options = []
        for option in command.options:
            names = ", ".join(quote_powershell(name) for name in option.names)
            choices = ", ".join(quote_powershell(value) for value in option.values)
            # A completion tooltip must not be empty.
            tooltip = quote_powershell(option.help or option.names[0])
            options.append(
                f"@{{ Names = @({names}); Help = {tooltip};"
                f" TakesValue = ${str(option.takes_value).lower()}; Choices = @({choices}) }}"
            )
        entries.append(
            f"        {quote_powershell(command.key)} = @{{\n"
            f"            Commands = {_powershell_array(subcommands, ' ' * 12)}\n"
            f"            Options = {_powershell_array(options, ' ' * 12)}\n"
            "        }"
        )
    tree_literal = "\n".join(entries)
    return f"""\
# PowerShell completion for {PROGRAM}
{_header("#")}
Register-ArgumentCompleter -Native -CommandName '{PROGRAM}', '{PROGRAM}.exe' -ScriptBlock {{
    param($wordToComplete, $commandAst, $cursorPosition)

    # Per command ('' is {PROGRAM} itself): its subcommands and its options.
    $tree = @{{
{tree_literal}
    }}

    function Find-Option($command, $name) {{
        $tree[$command].Options |
            Where-Object {{ $_.Names -ccontains $name }} |
            Select-Object -First 1
    }}

    # The words before the one being completed, the program name left out.
    $words = @($commandAst.CommandElements |
        Where-Object {{ $_.Extent.EndOffset -lt $cursorPosition }} |
        Select-Object -Skip 1 |
        ForEach-Object {{ $_.ToString() }})
    $command = ''
    $pending = $null
    foreach ($word in $words) {{
        if ($pending) {{ $pending = $null; continue }}
        if ($word -like '-*=*') {{ continue }}
        if ($word.StartsWith('-')) {{
            $option = Find-Option $command $word
            if ($option -and $option.TakesValue) {{ $pending = $option }}
            continue
        }}
        $candidate = if ($command) {{ "$command $word" }} else {{ $word }}
        if ($tree.ContainsKey($candidate)) {{ $command = $candidate }}
    }}

    $typed = "$wordToComplete"
    $prefix = ''
    if (-not $pending -and $typed -like '-*=*') {{
        $name, $rest = $typed -split '=', 2
        $option = Find-Option $command $name
        if ($option -and $option.TakesValue) {{
            $pending = $option
            $prefix = "$name="
            $typed = $rest
        }}
    }}

    $candidates = @(
        if ($pending) {{
            foreach ($choice in $pending.Choices) {{
                @{{ Text = $choice; Help = $choice; Kind = 'ParameterValue' }}
            }}
        }} elseif ($typed.StartsWith('-') -or $tree[$command].Commands.Count -eq 0) {{
            foreach ($option in $tree[$command].Options) {{
                foreach ($name in $option.Names) {{
                    @{{ Text = $name; Help = $option.Help; Kind = 'ParameterName' }}
                }}
            }}
        }} else {{
            foreach ($sub in $tree[$command].Commands) {{
                @{{ Text = $sub.Name; Help = $sub.Help; Kind = 'ParameterValue' }}
            }}
        }}
    )
    # Nothing offered for a file or a free value: PowerShell then completes file names.
    foreach ($candidate in $candidates) {{
        if ($candidate.Text.StartsWith($typed)) {{
            [System.Management.Automation.CompletionResult]::new(
                $prefix + $candidate.Text, $candidate.Text, $candidate.Kind, $candidate.Help)
        }}
    }}
}}
"""


# --- installing ---------------------------------------------------------------------------


def script_path(paths: Paths, shell: str) -> Path:
    """Where an installed completion script lives (fish: the drop-in that holds it)."""
    if shell == "fish":
        return paths.xdg_config_home / "fish" / "completions" / SCRIPT_NAMES["fish"]
    return paths.config_dir / "completions" / SCRIPT_NAMES[shell]


def startup_files(paths: Paths, shell: str) -> list[Path]:
    """The files that get a block sourcing the script; fish needs none (it autoloads)."""
    if shell == "bash":
        return [paths.home / ".bashrc"]
    if shell == "zsh":
        return [paths.zdotdir / ".zshrc"]
    if shell == "powershell":
        return powershell_profiles(paths)
    return []


def _style(shell: str) -> BlockStyle:
    return (
        BlockStyle.POWERSHELL_COMPLETION if shell == "powershell" else BlockStyle.POSIX_COMPLETION
    )


def _block_newline(shell: str) -> str | None:
    # sh-like shells and fish read a CR before a line break as part of the word; PowerShell
    # reads either, so its block follows the file's line endings.
    return None if shell == "powershell" else "\n"


_BLOCK_COMMENT = (
    f"# Added by `{PROGRAM} completion install`;"
    f" `{PROGRAM} completion install --uninstall` removes it."
)


def _posix_path(paths: Paths, target: Path) -> str:
    """`target` as an sh word, relative to $HOME when under it so shared dotfiles work."""
    try:
        relative = target.relative_to(paths.home)
    except ValueError:
        return quote_posix(str(target))
    return '"$HOME"/' + quote_posix(relative.as_posix())


def _powershell_path(paths: Paths, target: Path) -> str:
    try:
        relative = target.relative_to(paths.home)
    except ValueError:
        return quote_powershell(str(target))
    separator = "\\" if paths.family == "windows" else "/"
    return f"(Join-Path $HOME {quote_powershell(separator.join(relative.parts))})"


def _block_body(paths: Paths, shell: str, script: str) -> str:
    """What goes between the markers: a line sourcing the script (fish: the script itself)."""
    if shell == "fish":
        return script
    target = script_path(paths, shell)
    if shell == "bash":
        word = _posix_path(paths, target)
        return f"{_BLOCK_COMMENT}\nif [ -f {word} ]; then . {word}; fi"
    if shell == "zsh":
        word = _posix_path(paths, target)
        directory = _posix_path(paths, target.parent)
        return "\n".join(
            [
                _BLOCK_COMMENT,
                f"if [ -f {word} ]; then",
                # On fpath, a compinit that runs after this block finds _megallm by itself;
                # compdef (which the script calls when sourced) exists only once compinit ran.
                f"    fpath=({directory} $fpath)",
                "    (( ${+functions[compdef]} )) || { autoload -Uz compinit && compinit -i; }",
                f"    . {word}",
                "fi",
            ]
        )
    word = _powershell_path(paths, target)
    return f"{_BLOCK_COMMENT}\nif (Test-Path -LiteralPath {word}) {{ . {word} }}"


def plan_install(paths: Paths, shell: str, tree: Command) -> list[FileChange]:
    """Write the script and the block that loads it; re-running changes nothing."""
    script = render(shell, tree)
    target = script_path(paths, shell)
    changes = []
    if shell == "fish":
        before, after = edit_block(target, _style(shell), script, _block_newline(shell))
        changes.append(FileChange(target, before, after, AGENT, f"fish completion in {target}"))
    else:
        changes.append(
            FileChange(
                target, _read(target), script.encode("utf-8"), AGENT, f"{shell} completion script"
            )
        )
    body = _block_body(paths, shell, script)
    for startup in startup_files(paths, shell):
        before, after = edit_block(startup, _style(shell), body, _block_newline(shell))
        changes.append(FileChange(startup, before, after, AGENT, f"load it from {startup.name}"))
    return [change for change in changes if not change.is_noop]


def plan_uninstall(paths: Paths, shells: tuple[str, ...] = SHELLS) -> list[FileChange]:
    """Take out the blocks and delete the scripts, leaving every other byte as it was."""
    changes = []
    for shell in shells:
        for startup in startup_files(paths, shell):
            if startup.exists():
                before, after = edit_block(startup, _style(shell), None, _block_newline(shell))
                changes.append(
                    FileChange(startup, before, after, AGENT, f"remove the block from {startup}")
                )
        target = script_path(paths, shell)
        before = _read(target)
        if before is None:
            continue
        if shell == "fish":
            _, after = edit_block(target, _style(shell), None, _block_newline(shell))
            # The drop-in is named for us: with our block gone, nothing in it is worth keeping.
            if after.strip():
                changes.append(FileChange(target, before, after, AGENT, "remove fish completion"))
                continue
        changes.append(FileChange(target, before, None, AGENT, f"delete {target.name}"))
    return [change for change in changes if not change.is_noop]


def activation_hint(paths: Paths, shell: str) -> str:
    """How to get completion in the terminal the user typed the install command into."""
    if shell == "zsh":
        return "exec zsh"
    target = script_path(paths, shell)
    if shell == "powershell":
        return f". {_powershell_path(paths, target)}"
    if shell == "fish":
        return f"source {quote_fish(str(target))}"
    return f". {_posix_path(paths, target)}"


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None
