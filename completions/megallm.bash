# bash completion for megallm
# megallm shell completion, generated from its command definitions: do not edit.
# Install it with `megallm completion install`, or print it with
# `megallm completion show --shell SHELL`; in the source tree, python scripts/gen_completions.py
# rewrites the copies in completions/.

# Succeeds when option $2 of command $1 ("" for megallm itself) takes a value.
_megallm_takes_value() {
    case "$1:$2" in
        'completion install:--shell') return 0 ;;
        'completion show:--shell') return 0 ;;
        'doctor:--agent'|'doctor:-a') return 0 ;;
        'doctor:--project-dir') return 0 ;;
        'doctor:--base-url') return 0 ;;
        'models:--base-url') return 0 ;;
        'remove:--agent'|'remove:-a') return 0 ;;
        'remove:--level'|'remove:-l') return 0 ;;
        'remove:--project-dir') return 0 ;;
        'remove:--base-url') return 0 ;;
        'restore:--id') return 0 ;;
        'setup:--agent'|'setup:-a') return 0 ;;
        'setup:--level'|'setup:-l') return 0 ;;
        'setup:--project-dir') return 0 ;;
        'setup:--base-url') return 0 ;;
        'setup:--model'|'setup:-m') return 0 ;;
        'setup:--claude-auth') return 0 ;;
        'status:--project-dir') return 0 ;;
        'status:--base-url') return 0 ;;
    esac
    return 1
}

_megallm_is_command() {
    case "$1" in
        'completion'|'completion install'|'completion show'|'doctor'|'models'|'remove'|'restore'|'setup'|'status') return 0 ;;
    esac
    return 1
}

_megallm() {
    local cur=${COMP_WORDS[COMP_CWORD]} line=${COMP_LINE:0:COMP_POINT}
    local path= option= expecting_value=0 prefix= commands= options= word i
    local -a words
    # Split the line at blanks ourselves: COMP_WORDS is also split at = and :, which would
    # cut --level=user (and URLs) apart.
    read -r -a words <<< "$line"
    local before=${#words[@]}
    if [[ $line != *[[:blank:]] ]] && ((before > 0)); then
        before=$((before - 1))  # the last word is the one being completed
    fi
    for ((i = 1; i < before; i++)); do
        word=${words[i]}
        if ((expecting_value)); then
            expecting_value=0
            continue
        fi
        case $word in
            -*=*) ;;
            -*)
                if _megallm_takes_value "$path" "$word"; then
                    expecting_value=1
                    option=$word
                fi
                ;;
            *)
                if _megallm_is_command "${path:+$path }$word"; then
                    path=${path:+$path }$word
                fi
                ;;
        esac
    done
    local current=${words[before]-}
    if ((!expecting_value)) && [[ $current == -*=* ]] &&
        _megallm_takes_value "$path" "${current%%=*}"; then
        expecting_value=1
        option=${current%%=*}
        [[ $cur == = ]] && cur=
        # Without = among the word breaks, bash replaces the whole --option=value word.
        if [[ $cur == *=* ]]; then
            prefix=${cur%%=*}=
            cur=${cur#*=}
        fi
    fi
    if ((expecting_value)); then
        case "$path:$option" in
            'completion install:--shell') COMPREPLY=($(compgen -P "$prefix" -W 'bash zsh fish powershell' -- "$cur")) ;;
            'completion show:--shell') COMPREPLY=($(compgen -P "$prefix" -W 'bash zsh fish powershell' -- "$cur")) ;;
            'doctor:--agent'|'doctor:-a') COMPREPLY=($(compgen -P "$prefix" -W 'claude-code codex opencode kilo cline roo-code' -- "$cur")) ;;
            'doctor:--project-dir') compopt -o filenames 2>/dev/null; local IFS=$'\n'; COMPREPLY=($(compgen -P "$prefix" -d -- "$cur")) ;;
            'remove:--agent'|'remove:-a') COMPREPLY=($(compgen -P "$prefix" -W 'claude-code codex opencode kilo cline roo-code' -- "$cur")) ;;
            'remove:--level'|'remove:-l') COMPREPLY=($(compgen -P "$prefix" -W 'user project' -- "$cur")) ;;
            'remove:--project-dir') compopt -o filenames 2>/dev/null; local IFS=$'\n'; COMPREPLY=($(compgen -P "$prefix" -d -- "$cur")) ;;
            'setup:--agent'|'setup:-a') COMPREPLY=($(compgen -P "$prefix" -W 'claude-code codex opencode kilo cline roo-code' -- "$cur")) ;;
            'setup:--level'|'setup:-l') COMPREPLY=($(compgen -P "$prefix" -W 'user project' -- "$cur")) ;;
            'setup:--project-dir') compopt -o filenames 2>/dev/null; local IFS=$'\n'; COMPREPLY=($(compgen -P "$prefix" -d -- "$cur")) ;;
            'setup:--claude-auth') COMPREPLY=($(compgen -P "$prefix" -W 'auth-token api-key' -- "$cur")) ;;
            'status:--project-dir') compopt -o filenames 2>/dev/null; local IFS=$'\n'; COMPREPLY=($(compgen -P "$prefix" -d -- "$cur")) ;;
        esac
        return 0
    fi
    case $path in
        '')
            commands='completion doctor models remove restore setup status'
            options='--version -V --verbose -v --quiet -q --help -h'
            ;;
        'completion')
            commands='install show'
            options='--help -h'
            ;;
        'completion install')
            commands=''
            options='--shell --uninstall --dry-run --help -h'
            ;;
        'completion show')
            commands=''
            options='--shell --help -h'
            ;;
        'doctor')
            commands=''
            options='--agent -a --project-dir --base-url --online --probe --deep --json --quiet -q --help -h'
            ;;
        'models')
            commands=''
            options='--base-url --refresh --api-key-stdin --json --help -h'
            ;;
        'remove')
            commands=''
            options='--agent -a --all --level -l --project-dir --base-url --yes -y --dry-run --json --help -h'
            ;;
        'restore')
            commands=''
            options='--list --latest --id --force --dry-run --yes --ask --json --help -h'
            ;;
        'setup')
            commands=''
            options='--agent -a --all-detected --level -l --project-dir --api-key-stdin --base-url --model -m --claude-auth --fix-claude-comments --no-verify --yes -y --dry-run --install-missing --json --help -h'
            ;;
        'status')
            commands=''
            options='--project-dir --base-url --json --help -h'
            ;;
    esac
    if [[ $cur == -* || -z $commands ]]; then
        COMPREPLY=($(compgen -W "$options" -- "$cur"))
    else
        COMPREPLY=($(compgen -W "$commands" -- "$cur"))
    fi
}

complete -F _megallm megallm
