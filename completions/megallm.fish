# fish completion for megallm
# megallm shell completion, generated from its command definitions: do not edit.
# Install it with `megallm completion install`, or print it with
# `megallm completion show --shell SHELL`; in the source tree, python scripts/gen_completions.py
# rewrites the copies in completions/.

# The command typed so far ("completion install"): option words and their values skipped.
function __megallm_command_path
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
                if contains -- "$path:$word" 'completion install:--shell' 'completion show:--shell' 'doctor:--agent' 'doctor:-a' 'doctor:--project-dir' 'doctor:--base-url' 'models:--base-url' 'remove:--agent' 'remove:-a' 'remove:--level' 'remove:-l' 'remove:--project-dir' 'remove:--base-url' 'restore:--id' 'setup:--agent' 'setup:-a' 'setup:--level' 'setup:-l' 'setup:--project-dir' 'setup:--base-url' 'setup:--model' 'setup:-m' 'setup:--claude-auth' 'status:--project-dir' 'status:--base-url'
                    set expecting_value 1
                end
            case '*'
                set -l candidate $path $word
                if contains -- "$candidate" 'completion' 'completion install' 'completion show' 'doctor' 'models' 'remove' 'restore' 'setup' 'status'
                    set path $candidate
                end
        end
    end
    string join ' ' -- $path
end

function __megallm_at --description 'Succeeds when the command typed so far is exactly $argv'
    set -l path (__megallm_command_path)
    test "$path" = "$argv"
end

complete -c megallm -f

# megallm
complete -c megallm -n '__megallm_at' -a 'completion' -d 'Shell completion: install it for your shell, or print the script.'
complete -c megallm -n '__megallm_at' -a 'doctor' -d 'Check that every configured agent is set up right. Exit 0 healthy, 1 problems.'
complete -c megallm -n '__megallm_at' -a 'models' -d 'List the gateway\'s models: live when it answers, else the cached or the bundled list.'
complete -c megallm -n '__megallm_at' -a 'remove' -d 'Take out only what megallm set, keeping every later edit (backed up, restorable).'
complete -c megallm -n '__megallm_at' -a 'restore' -d 'Put files back exactly as they were before an earlier run.'
complete -c megallm -n '__megallm_at' -a 'setup' -d 'Configure agents to use the MegaLLM gateway.'
complete -c megallm -n '__megallm_at' -a 'status' -d 'Show each agent: installed (version), configured, level, base URL, key (masked).'
complete -c megallm -n '__megallm_at' -l 'version' -s 'V' -d 'Show the version and exit.'
complete -c megallm -n '__megallm_at' -l 'verbose' -s 'v' -d 'With --version: also show Python version and platform.'
complete -c megallm -n '__megallm_at' -l 'quiet' -s 'q' -d 'Print only warnings and errors (stdout is unchanged).'
complete -c megallm -n '__megallm_at' -l 'help' -s 'h' -d 'Show this message and exit.'

# megallm completion
complete -c megallm -n '__megallm_at completion' -a 'install' -d 'Install tab completion for your shell; running it again changes nothing.'
complete -c megallm -n '__megallm_at completion' -a 'show' -d 'Print the completion script, to package it or to load it yourself.'
complete -c megallm -n '__megallm_at completion' -l 'help' -s 'h' -d 'Show this message and exit.'

# megallm completion install
complete -c megallm -n '__megallm_at completion install' -l 'shell' -x -a 'bash zsh fish powershell' -d 'bash, zsh, fish or powershell (default: the shell you are running).'
complete -c megallm -n '__megallm_at completion install' -l 'uninstall' -d 'Take it out again (from every shell unless --shell).'
complete -c megallm -n '__megallm_at completion install' -l 'dry-run' -d 'Show the diff; write nothing.'
complete -c megallm -n '__megallm_at completion install' -l 'help' -s 'h' -d 'Show this message and exit.'

# megallm completion show
complete -c megallm -n '__megallm_at completion show' -l 'shell' -x -a 'bash zsh fish powershell' -d 'bash, zsh, fish or powershell (default: the shell you are running).'
complete -c megallm -n '__megallm_at completion show' -l 'help' -s 'h' -d 'Show this message and exit.'

# megallm doctor
complete -c megallm -n '__megallm_at doctor' -l 'agent' -s 'a' -x -a 'claude-code codex opencode kilo cline roo-code' -d 'Check only these agents.'
complete -c megallm -n '__megallm_at doctor' -l 'project-dir' -x -a '(__fish_complete_directories (commandline -ct))' -d 'Project to inspect.'
complete -c megallm -n '__megallm_at doctor' -l 'base-url' -x -d 'Gateway origin expected.'
complete -c megallm -n '__megallm_at doctor' -l 'online' -d 'Also ask the gateway: reachable, key accepted, models exist.'
complete -c megallm -n '__megallm_at doctor' -l 'probe' -d '--online, plus one 1-token request per API the agents use (costs tokens).'
complete -c megallm -n '__megallm_at doctor' -l 'deep' -d 'Also ask each installed agent whether it accepts its config.'
complete -c megallm -n '__megallm_at doctor' -l 'json' -d 'Print one JSON envelope on stdout.'
complete -c megallm -n '__megallm_at doctor' -l 'quiet' -s 'q' -d 'Print only the problems, one line each (as `megallm -q`).'
complete -c megallm -n '__megallm_at doctor' -l 'help' -s 'h' -d 'Show this message and exit.'

# megallm models
complete -c megallm -n '__megallm_at models' -l 'base-url' -x -d 'Gateway origin (default https://ai.megallm.io, or MEGALLM_BASE_URL).'
complete -c megallm -n '__megallm_at models' -l 'refresh' -d 'Ask the gateway even when the cached list is fresh.'
complete -c megallm -n '__megallm_at models' -l 'api-key-stdin' -d 'Read the key from standard input (else MEGALLM_API_KEY, else the one setup saved).'
complete -c megallm -n '__megallm_at models' -l 'json' -d 'Print one JSON envelope on stdout.'
complete -c megallm -n '__megallm_at models' -l 'help' -s 'h' -d 'Show this message and exit.'

# megallm remove
complete -c megallm -n '__megallm_at remove' -l 'agent' -s 'a' -x -a 'claude-code codex opencode kilo cline roo-code' -d 'Agent id: claude-code, codex, opencode, kilo, cline, roo-code. Repeatable.'
complete -c megallm -n '__megallm_at remove' -l 'all' -d 'Every agent.'
complete -c megallm -n '__megallm_at remove' -l 'level' -s 'l' -x -a 'user project' -d 'user: your account-wide config; project: files in --project-dir.'
complete -c megallm -n '__megallm_at remove' -l 'project-dir' -x -a '(__fish_complete_directories (commandline -ct))' -d 'Project for --level project.'
complete -c megallm -n '__megallm_at remove' -l 'base-url' -x -d 'Gateway origin that was set.'
complete -c megallm -n '__megallm_at remove' -l 'yes' -s 'y' -d 'Remove without asking.'
complete -c megallm -n '__megallm_at remove' -l 'dry-run' -d 'Show the diff; write nothing.'
complete -c megallm -n '__megallm_at remove' -l 'json' -d 'Print one JSON envelope on stdout.'
complete -c megallm -n '__megallm_at remove' -l 'help' -s 'h' -d 'Show this message and exit.'

# megallm restore
complete -c megallm -n '__megallm_at restore' -l 'list' -d 'List backup sessions.'
complete -c megallm -n '__megallm_at restore' -l 'latest' -d 'Restore the newest session.'
complete -c megallm -n '__megallm_at restore' -l 'id' -x -d 'Restore this session.'
complete -c megallm -n '__megallm_at restore' -l 'force' -d 'Also overwrite files changed since.'
complete -c megallm -n '__megallm_at restore' -l 'dry-run' -d 'Show what would be restored, with the diff; write nothing.'
complete -c megallm -n '__megallm_at restore' -l 'yes' -l 'ask' -d 'Ask before restoring (default: don\'t).'
complete -c megallm -n '__megallm_at restore' -l 'json' -d 'Print one JSON envelope on stdout.'
complete -c megallm -n '__megallm_at restore' -l 'help' -s 'h' -d 'Show this message and exit.'

# megallm setup
complete -c megallm -n '__megallm_at setup' -l 'agent' -s 'a' -x -a 'claude-code codex opencode kilo cline roo-code' -d 'Agent id: claude-code, codex, opencode, kilo, cline, roo-code. Repeatable.'
complete -c megallm -n '__megallm_at setup' -l 'all-detected' -d 'Every agent found here.'
complete -c megallm -n '__megallm_at setup' -l 'level' -s 'l' -x -a 'user project' -d 'user: your account-wide config; project: files in --project-dir.'
complete -c megallm -n '__megallm_at setup' -l 'project-dir' -x -a '(__fish_complete_directories (commandline -ct))' -d 'Project for --level project (default: current dir).'
complete -c megallm -n '__megallm_at setup' -l 'api-key-stdin' -d 'Read the key from standard input (else MEGALLM_API_KEY).'
complete -c megallm -n '__megallm_at setup' -l 'base-url' -x -d 'Gateway origin (default https://ai.megallm.io, or MEGALLM_BASE_URL).'
complete -c megallm -n '__megallm_at setup' -l 'model' -s 'm' -x -d 'Default model for every agent, or AGENT=MODEL. Repeatable.'
complete -c megallm -n '__megallm_at setup' -l 'claude-auth' -x -a 'auth-token api-key' -d 'How Claude Code sends the key: auth-token (Bearer) or api-key (x-api-key).'
complete -c megallm -n '__megallm_at setup' -l 'fix-claude-comments' -d 'Strip comments from a Claude Code settings.json (Claude Code ignores such a file).'
complete -c megallm -n '__megallm_at setup' -l 'no-verify' -d 'Do not check the key with the gateway before writing.'
complete -c megallm -n '__megallm_at setup' -l 'yes' -s 'y' -d 'Apply without asking; the wizard takes every default.'
complete -c megallm -n '__megallm_at setup' -l 'dry-run' -d 'Show the diff (key masked); write nothing.'
complete -c megallm -n '__megallm_at setup' -l 'install-missing' -d 'npm install -g the named agents that are missing.'
complete -c megallm -n '__megallm_at setup' -l 'json' -d 'Print one JSON envelope on stdout.'
complete -c megallm -n '__megallm_at setup' -l 'help' -s 'h' -d 'Show this message and exit.'

# megallm status
complete -c megallm -n '__megallm_at status' -l 'project-dir' -x -a '(__fish_complete_directories (commandline -ct))' -d 'Project to inspect.'
complete -c megallm -n '__megallm_at status' -l 'base-url' -x -d 'Gateway origin that counts as MegaLLM (default: MEGALLM_BASE_URL).'
complete -c megallm -n '__megallm_at status' -l 'json' -d 'Print one JSON envelope on stdout.'
complete -c megallm -n '__megallm_at status' -l 'help' -s 'h' -d 'Show this message and exit.'
