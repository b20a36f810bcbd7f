
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'keepalived' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'keepalived'
        for ($i = 1; $i -lt $commandElements.Count; $i++) {
            $element = $commandElements[$i]
            if ($element -isnot [StringConstantExpressionAst] -or
                $element.StringConstantType -ne [StringConstantType]::BareWord -or
                $element.Value.StartsWith('-') -or
                $element.Value -eq $wordToComplete) {
                break
        }
        $element.Value
    }) -join ';'

    $completions = @(switch ($command) {
        'keepalived' {
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'OpenClaw state dir [default: found like the gateway: $OPENCLAW_STATE_DIR, profile, ~/.openclaw, legacy dirs]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'OpenClaw profile: the state dir ~/.openclaw-PROFILE [default: $OPENCLAW_PROFILE]')
            [CompletionResult]::new('--socket', '--socket', [CompletionResultType]::ParameterName, 'Unix socket to listen on [default: $XDG_RUNTIME_DIR/keepalive/keepalived.sock]')
            [CompletionResult]::new('--interval', '--interval', [CompletionResultType]::ParameterName, 'How often to bump (90, 90s, 5m, 1h; 1s to 24h) [default: 60s, or the persisted setting]')
            [CompletionResult]::new('--active-within', '--active-within', [CompletionResultType]::ParameterName, 'Keep alive sessions really used within this window (24h, 90m; or `all`) [default: 24h, or the persisted setting]')
            [CompletionResult]::new('--schedule', '--schedule', [CompletionResultType]::ParameterName, 'When to write: `policy` (just before sessions would expire) or `interval` (every tick) [default: policy, or interval when openclaw.json cannot be read]')
            [CompletionResult]::new('--agent', '--agent', [CompletionResultType]::ParameterName, 'Only serve this agent (repeatable) [default: every agent in the state dir]')
            [CompletionResult]::new('--log-file', '--log-file', [CompletionResultType]::ParameterName, 'Write logs to this file instead of stderr, rotated daily (PATH.YYYY-MM-DD, 7 kept)')
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, 'Log format: `text` for people, `json` for log shippers')
            [CompletionResult]::new('--log-level', '--log-level', [CompletionResultType]::ParameterName, 'Log level or filter (error, warn, info, debug, trace) [default: $RUST_LOG, else info]')
            [CompletionResult]::new('--metrics-file', '--metrics-file', [CompletionResultType]::ParameterName, 'Rewrite this file atomically each tick with the metrics (Prometheus text format)')
            [CompletionResult]::new('--tick-ms', '--tick-ms', [CompletionResultType]::ParameterName, 'Test-only: tick every this many milliseconds, beating --interval (for crash and contention tests, which need rounds faster than 1 s)')
            [CompletionResult]::new('--lock-timeout', '--lock-timeout', [CompletionResultType]::ParameterName, 'How long to wait for the gateway''s store lock before skipping a round (at most 60s)')
            [CompletionResult]::new('--exit-with', '--exit-with', [CompletionResultType]::ParameterName, 'Exit gracefully when this process exits (e.g. the gateway that started keepalived)')
            [CompletionResult]::new('--bump-session-start', '--bump-session-start', [CompletionResultType]::ParameterName, 'Also bump sessionStartedAt on json-v2 stores, which stops the daily reset but rewrites each session''s recorded start')
            [CompletionResult]::new('--once', '--once', [CompletionResultType]::ParameterName, 'One pass over the stores, print a summary and exit (replaces update-session-timestamps.sh)')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Compute and log what would be written, write nothing')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
