# PowerShell completion for megallm
# megallm shell completion, generated from its command definitions: do not edit.
# Install it with `megallm completion install`, or print it with
# `megallm completion show --shell SHELL`; in the source tree, python scripts/gen_completions.py
# rewrites the copies in completions/.

Register-ArgumentCompleter -Native -CommandName 'megallm', 'megallm.exe' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    # Per command ('' is megallm itself): its subcommands and its options.
    $tree = @{
        '' = @{
            Commands = @(
                @{ Name = 'completion'; Help = 'Shell completion: install it for your shell, or print the script.' }
                @{ Name = 'doctor'; Help = 'Check that every configured agent is set up right. Exit 0 healthy, 1 problems.' }
                @{ Name = 'models'; Help = 'List the gateway''s models: live when it answers, else the cached or the bundled list.' }
                @{ Name = 'remove'; Help = 'Take out only what megallm set, keeping every later edit (backed up, restorable).' }
                @{ Name = 'restore'; Help = 'Put files back exactly as they were before an earlier run.' }
                @{ Name = 'setup'; Help = 'Configure agents to use the MegaLLM gateway.' }
                @{ Name = 'status'; Help = 'Show each agent: installed (version), configured, level, base URL, key (masked).' }
            )
            Options = @(
                @{ Names = @('--version', '-V'); Help = 'Show the version and exit.'; TakesValue = $false; Choices = @() }
                @{ Names = @('--verbose', '-v'); Help = 'With --version: also show Python version and platform.'; TakesValue = $false; Choices = @() }
                @{ Names = @('--quiet', '-q'); Help = 'Print only warnings and errors (stdout is unchanged).'; TakesValue = $false; Choices = @() }
                @{ Names = @('--help', '-h'); Help = 'Show this message and exit.'; TakesValue = $false; Choices = @() }
            )
        }
        'completion' = @{
            Commands = @(
                @{ Name = 'install'; Help = 'Install tab completion for your shell; running it again changes nothing.' }
                @{ Name = 'show'; Help = 'Print the completion script, to package it or to load it yourself.' }
            )
            Options = @(
                @{ Names = @('--help', '-h'); Help = 'Show this message and exit.'; TakesValue = $false; Choices = @() }
            )
        }
        'completion install' = @{
            Commands = @()
            Options = @(
                @{ Names = @('--shell'); Help = 'bash, zsh, fish or powershell (default: the shell you are running).'; TakesValue = $true; Choices = @('bash', 'zsh', 'fish', 'powershell') }
                @{ Names = @('--uninstall'); Help = 'Take it out again (from every shell unless --shell).'; TakesValue = $false; Choices = @() }
                @{ Names = @('--dry-run'); Help = 'Show the diff; write nothing.'; TakesValue = $false; Choices = @() }
                @{ Names = @('--help', '-h'); Help = 'Show this message and exit.'; TakesValue = $false; Choices = @() }
            )
        }
        'completion show' = @{
            Commands = @()
            Options = @(
                @{ Names = @('--shell'); Help = 'bash, zsh, fish or powershell (default: the shell you are running).'; TakesValue = $true; Choices = @('bash', 'zsh', 'fish', 'powershell') }
                @{ Names = @('--help', '-h'); Help = 'Show this message and exit.'; TakesValue = $false; Choices = @() }
            )
        }
        'doctor' = @{
            Commands = @()
            Options = @(
                @{ Names = @('--agent', '-a'); Help = 'Check only these agents.'; TakesValue = $true; Choices = @('claude-code', 'codex', 'opencode', 'kilo', 'cline', 'roo-code') }
                @{ Names = @('--project-dir'); Help = 'Project to inspect.'; TakesValue = $true; Choices = @() }
                @{ Names = @('--base-url'); Help = 'Gateway origin expected.'; TakesValue = $true; Choices = @() }
                @{ Names = @('--online'); Help = 'Also ask the gateway: reachable, key accepted, models exist.'; TakesValue = $false; Choices = @() }
                @{ Names = @('--probe'); Help = '--online, plus one 1-token request per API the agents use (costs tokens).'; TakesValue = $false; Choices = @() }
                @{ Names = @('--deep'); Help = 'Also ask each installed agent whether it accepts its config.'; TakesValue = $false; Choices = @() }
                @{ Names = @('--json'); Help = 'Print one JSON envelope on stdout.'; TakesValue = $false; Choices = @() }
                @{ Names = @('--quiet', '-q'); Help = 'Print only the problems, one line each (as `megallm -q`).'; TakesValue = $false; Choices = @() }
                @{ Names = @('--help', '-h'); Help = 'Show this message and exit.'; TakesValue = $false; Choices = @() }
            )
        }
        'models' = @{
            Commands = @()
            Options = @(
                @{ Names = @('--base-url'); Help = 'Gateway origin (default https://ai.megallm.io, or MEGALLM_BASE_URL).'; TakesValue = $true; Choices = @() }
                @{ Names = @('--refresh'); Help = 'Ask the gateway even when the cached list is fresh.'; TakesValue = $false; Choices = @() }
                @{ Names = @('--api-key-stdin'); Help = 'Read the key from standard input (else MEGALLM_API_KEY, else the one setup saved).'; TakesValue = $false; Choices = @() }
                @{ Names = @('--json'); Help = 'Print one JSON envelope on stdout.'; TakesValue = $false; Choices = @() }
                @{ Names = @('--help', '-h'); Help = 'Show this message and exit.'; TakesValue = $false; Choices = @() }
            )
        }
        'remove' = @{
            Commands = @()
            Options = @(
                @{ Names = @('--agent', '-a'); Help = 'Agent id: claude-code, codex, opencode, kilo, cline, roo-code. Repeatable.'; TakesValue = $true; Choices = @('claude-code', 'codex', 'opencode', 'kilo', 'cline', 'roo-code') }
                @{ Names = @('--all'); Help = 'Every agent.'; TakesValue = $false; Choices = @() }
                @{ Names = @('--level', '-l'); Help = 'user: your account-wide config; project: files in --project-dir.'; TakesValue = $true; Choices = @('user', 'project') }
                @{ Names = @('--project-dir'); Help = 'Project for --level project.'; TakesValue = $true; Choices = @() }
                @{ Names = @('--base-url'); Help = 'Gateway origin that was set.'; TakesValue = $true; Choices = @() }
                @{ Names = @('--yes', '-y'); Help = 'Remove without asking.'; TakesValue = $false; Choices = @() }
                @{ Names = @('--dry-run'); Help = 'Show the diff; write nothing.'; TakesValue = $false; Choices = @() }
                @{ Names = @('--json'); Help = 'Print one JSON envelope on stdout.'; TakesValue = $false; Choices = @() }
                @{ Names = @('--help', '-h'); Help = 'Show this message and exit.'; TakesValue = $false; Choices = @() }
            )
        }
        'restore' = @{
            Commands = @()
            Options = @(
                @{ Names = @('--list'); Help = 'List backup sessions.'; TakesValue = $false; Choices = @() }
                @{ Names = @('--latest'); Help = 'Restore the newest session.'; TakesValue = $false; Choices = @() }
                @{ Names = @('--id'); Help = 'Restore this session.'; TakesValue = $true; Choices = @() }
                @{ Names = @('--force'); Help = 'Also overwrite files changed since.'; TakesValue = $false; Choices = @() }
                @{ Names = @('--dry-run'); Help = 'Show what would be restored, with the diff; write nothing.'; TakesValue = $false; Choices = @() }
                @{ Names = @('--yes', '--ask'); Help = 'Ask before restoring (default: don''t).'; TakesValue = $false; Choices = @() }
                @{ Names = @('--json'); Help = 'Print one JSON envelope on stdout.'; TakesValue = $false; Choices = @() }
                @{ Names = @('--help', '-h'); Help = 'Show this message and exit.'; TakesValue = $false; Choices = @() }
            )
        }
        'setup' = @{
            Commands = @()
            Options = @(
                @{ Names = @('--agent', '-a'); Help = 'Agent id: claude-code, codex, opencode, kilo, cline, roo-code. Repeatable.'; TakesValue = $true; Choices = @('claude-code', 'codex', 'opencode', 'kilo', 'cline', 'roo-code') }
                @{ Names = @('--all-detected'); Help = 'Every agent found here.'; TakesValue = $false; Choices = @() }
                @{ Names = @('--level', '-l'); Help = 'user: your account-wide config; project: files in --project-dir.'; TakesValue = $true; Choices = @('user', 'project') }
                @{ Names = @('--project-dir'); Help = 'Project for --level project (default: current dir).'; TakesValue = $true; Choices = @() }
                @{ Names = @('--api-key-stdin'); Help = 'Read the key from standard input (else MEGALLM_API_KEY).'; TakesValue = $false; Choices = @() }
                @{ Names = @('--base-url'); Help = 'Gateway origin (default https://ai.megallm.io, or MEGALLM_BASE_URL).'; TakesValue = $true; Choices = @() }
                @{ Names = @('--model', '-m'); Help = 'Default model for every agent, or AGENT=MODEL. Repeatable.'; TakesValue = $true; Choices = @() }
                @{ Names = @('--claude-auth'); Help = 'How Claude Code sends the key: auth-token (Bearer) or api-key (x-api-key).'; TakesValue = $true; Choices = @('auth-token', 'api-key') }
                @{ Names = @('--fix-claude-comments'); Help = 'Strip comments from a Claude Code settings.json (Claude Code ignores such a file).'; TakesValue = $false; Choices = @() }
                @{ Names = @('--no-verify'); Help = 'Do not check the key with the gateway before writing.'; TakesValue = $false; Choices = @() }
                @{ Names = @('--yes', '-y'); Help = 'Apply without asking; the wizard takes every default.'; TakesValue = $false; Choices = @() }
                @{ Names = @('--dry-run'); Help = 'Show the diff (key masked); write nothing.'; TakesValue = $false; Choices = @() }
                @{ Names = @('--install-missing'); Help = 'npm install -g the named agents that are missing.'; TakesValue = $false; Choices = @() }
                @{ Names = @('--json'); Help = 'Print one JSON envelope on stdout.'; TakesValue = $false; Choices = @() }
                @{ Names = @('--help', '-h'); Help = 'Show this message and exit.'; TakesValue = $false; Choices = @() }
            )
        }
        'status' = @{
            Commands = @()
            Options = @(
                @{ Names = @('--project-dir'); Help = 'Project to inspect.'; TakesValue = $true; Choices = @() }
                @{ Names = @('--base-url'); Help = 'Gateway origin that counts as MegaLLM (default: MEGALLM_BASE_URL).'; TakesValue = $true; Choices = @() }
                @{ Names = @('--json'); Help = 'Print one JSON envelope on stdout.'; TakesValue = $false; Choices = @() }
                @{ Names = @('--help', '-h'); Help = 'Show this message and exit.'; TakesValue = $false; Choices = @() }
            )
        }
    }

    function Find-Option($command, $name) {
        $tree[$command].Options |
            Where-Object { $_.Names -ccontains $name } |
            Select-Object -First 1
    }

    # The words before the one being completed, the program name left out.
    $words = @($commandAst.CommandElements |
        Where-Object { $_.Extent.EndOffset -lt $cursorPosition } |
        Select-Object -Skip 1 |
        ForEach-Object { $_.ToString() })
    $command = ''
    $pending = $null
    foreach ($word in $words) {
        if ($pending) { $pending = $null; continue }
        if ($word -like '-*=*') { continue }
        if ($word.StartsWith('-')) {
            $option = Find-Option $command $word
            if ($option -and $option.TakesValue) { $pending = $option }
            continue
        }
        $candidate = if ($command) { "$command $word" } else { $word }
        if ($tree.ContainsKey($candidate)) { $command = $candidate }
    }

    $typed = "$wordToComplete"
    $prefix = ''
    if (-not $pending -and $typed -like '-*=*') {
        $name, $rest = $typed -split '=', 2
        $option = Find-Option $command $name
        if ($option -and $option.TakesValue) {
            $pending = $option
            $prefix = "$name="
            $typed = $rest
        }
    }

    $candidates = @(
        if ($pending) {
            foreach ($choice in $pending.Choices) {
                @{ Text = $choice; Help = $choice; Kind = 'ParameterValue' }
            }
        } elseif ($typed.StartsWith('-') -or $tree[$command].Commands.Count -eq 0) {
            foreach ($option in $tree[$command].Options) {
                foreach ($name in $option.Names) {
                    @{ Text = $name; Help = $option.Help; Kind = 'ParameterName' }
                }
            }
        } else {
            foreach ($sub in $tree[$command].Commands) {
                @{ Text = $sub.Name; Help = $sub.Help; Kind = 'ParameterValue' }
            }
        }
    )
    # Nothing offered for a file or a free value: PowerShell then completes file names.
    foreach ($candidate in $candidates) {
        if ($candidate.Text.StartsWith($typed)) {
            [System.Management.Automation.CompletionResult]::new(
                $prefix + $candidate.Text, $candidate.Text, $candidate.Kind, $candidate.Help)
        }
    }
}
