
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'keepalivectl' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'keepalivectl'
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
        'keepalivectl' {
            [CompletionResult]::new('--socket', '--socket', [CompletionResultType]::ParameterName, 'Socket of the daemon [default: $XDG_RUNTIME_DIR/keepalive/keepalived.sock]')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print the daemon''s reply as JSON instead of text')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('start', 'start', [CompletionResultType]::ParameterValue, 'Start keepalived in the background and wait until it answers')
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Show whether the daemon runs, its settings and every agent''s last round')
            [CompletionResult]::new('touch', 'touch', [CompletionResultType]::ParameterValue, 'Bump sessions now and wait until the write is durable')
            [CompletionResult]::new('active-within', 'active-within', [CompletionResultType]::ParameterValue, 'Show the activity window, or set and persist it (24h, 90m, or `all`)')
            [CompletionResult]::new('sessions', 'sessions', [CompletionResultType]::ParameterValue, 'One row per session: last activity, when it would expire, whether it is kept alive and why')
            [CompletionResult]::new('resets', 'resets', [CompletionResultType]::ParameterValue, 'The resets keepalive noticed, with its verdict on each session just before')
            [CompletionResult]::new('doctor', 'doctor', [CompletionResultType]::ParameterValue, 'Explain this installation: state dir, config, reset policy, generations, locks (needs no daemon)')
            [CompletionResult]::new('interval', 'interval', [CompletionResultType]::ParameterValue, 'Show the tick interval, or set and persist it')
            [CompletionResult]::new('include', 'include', [CompletionResultType]::ParameterValue, 'Always keep a session alive')
            [CompletionResult]::new('exclude', 'exclude', [CompletionResultType]::ParameterValue, 'Never bump a session on ticks or `touch` without keys')
            [CompletionResult]::new('forget', 'forget', [CompletionResultType]::ParameterValue, 'Remove the include/exclude rule for a session')
            [CompletionResult]::new('rules', 'rules', [CompletionResultType]::ParameterValue, 'List the include/exclude rules')
            [CompletionResult]::new('metrics', 'metrics', [CompletionResultType]::ParameterValue, 'Print the daemon''s metrics (Prometheus text format)')
            [CompletionResult]::new('logs', 'logs', [CompletionResultType]::ParameterValue, 'Show the daemon''s log (the newest file)')
            [CompletionResult]::new('shutdown', 'shutdown', [CompletionResultType]::ParameterValue, 'Stop the daemon gracefully (exit 0 also when none was running)')
            [CompletionResult]::new('stop', 'stop', [CompletionResultType]::ParameterValue, 'Stop the daemon gracefully (exit 0 also when none was running)')
            [CompletionResult]::new('service', 'service', [CompletionResultType]::ParameterValue, 'Install, remove or check keepalived as a user service (systemd on Linux, launchd on macOS)')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print shell completions')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'keepalivectl;start' {
            [CompletionResult]::new('--exit-with', '--exit-with', [CompletionResultType]::ParameterName, 'Stop the daemon when this process exits (passed on as keepalived --exit-with)')
            [CompletionResult]::new('--socket', '--socket', [CompletionResultType]::ParameterName, 'Socket of the daemon [default: $XDG_RUNTIME_DIR/keepalive/keepalived.sock]')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print the daemon''s reply as JSON instead of text')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'keepalivectl;status' {
            [CompletionResult]::new('--socket', '--socket', [CompletionResultType]::ParameterName, 'Socket of the daemon [default: $XDG_RUNTIME_DIR/keepalive/keepalived.sock]')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print the daemon''s reply as JSON instead of text')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'keepalivectl;touch' {
            [CompletionResult]::new('--agent', '--agent', [CompletionResultType]::ParameterName, 'Only this agent [default: every agent]')
            [CompletionResult]::new('--socket', '--socket', [CompletionResultType]::ParameterName, 'Socket of the daemon [default: $XDG_RUNTIME_DIR/keepalive/keepalived.sock]')
            [CompletionResult]::new('--revive', '--revive', [CompletionResultType]::ParameterName, 'Also bump named sessions the gateway would already reset')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print the daemon''s reply as JSON instead of text')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'keepalivectl;active-within' {
            [CompletionResult]::new('--socket', '--socket', [CompletionResultType]::ParameterName, 'Socket of the daemon [default: $XDG_RUNTIME_DIR/keepalive/keepalived.sock]')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print the daemon''s reply as JSON instead of text')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'keepalivectl;sessions' {
            [CompletionResult]::new('--agent', '--agent', [CompletionResultType]::ParameterName, 'Only this agent [default: every agent]')
            [CompletionResult]::new('--socket', '--socket', [CompletionResultType]::ParameterName, 'Socket of the daemon [default: $XDG_RUNTIME_DIR/keepalive/keepalived.sock]')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print the daemon''s reply as JSON instead of text')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'keepalivectl;resets' {
            [CompletionResult]::new('--agent', '--agent', [CompletionResultType]::ParameterName, 'Only this agent [default: every agent]')
            [CompletionResult]::new('--since', '--since', [CompletionResultType]::ParameterName, 'Only those noticed within this long (90m, 24h, 7d)')
            [CompletionResult]::new('--socket', '--socket', [CompletionResultType]::ParameterName, 'Socket of the daemon [default: $XDG_RUNTIME_DIR/keepalive/keepalived.sock]')
            [CompletionResult]::new('--all', '--all', [CompletionResultType]::ParameterName, 'Also entries that disappeared from a store or appeared in one')
            [CompletionResult]::new('--follow', '--follow', [CompletionResultType]::ParameterName, 'Then keep printing new ones as they are noticed (one line each; one JSON object each with --json), until interrupted or the daemon stops (which ends it with exit 0)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print the daemon''s reply as JSON instead of text')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'keepalivectl;doctor' {
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'OpenClaw state dir [default: found like the gateway]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'OpenClaw profile [default: $OPENCLAW_PROFILE]')
            [CompletionResult]::new('--socket', '--socket', [CompletionResultType]::ParameterName, 'Socket of the daemon [default: $XDG_RUNTIME_DIR/keepalive/keepalived.sock]')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print the daemon''s reply as JSON instead of text')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'keepalivectl;interval' {
            [CompletionResult]::new('--socket', '--socket', [CompletionResultType]::ParameterName, 'Socket of the daemon [default: $XDG_RUNTIME_DIR/keepalive/keepalived.sock]')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print the daemon''s reply as JSON instead of text')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'keepalivectl;include' {
            [CompletionResult]::new('--agent', '--agent', [CompletionResultType]::ParameterName, 'Only this agent [default: every agent]')
            [CompletionResult]::new('--socket', '--socket', [CompletionResultType]::ParameterName, 'Socket of the daemon [default: $XDG_RUNTIME_DIR/keepalive/keepalived.sock]')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print the daemon''s reply as JSON instead of text')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'keepalivectl;exclude' {
            [CompletionResult]::new('--agent', '--agent', [CompletionResultType]::ParameterName, 'Only this agent [default: every agent]')
            [CompletionResult]::new('--socket', '--socket', [CompletionResultType]::ParameterName, 'Socket of the daemon [default: $XDG_RUNTIME_DIR/keepalive/keepalived.sock]')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print the daemon''s reply as JSON instead of text')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'keepalivectl;forget' {
            [CompletionResult]::new('--agent', '--agent', [CompletionResultType]::ParameterName, 'Only this agent [default: every agent]')
            [CompletionResult]::new('--socket', '--socket', [CompletionResultType]::ParameterName, 'Socket of the daemon [default: $XDG_RUNTIME_DIR/keepalive/keepalived.sock]')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print the daemon''s reply as JSON instead of text')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'keepalivectl;rules' {
            [CompletionResult]::new('--socket', '--socket', [CompletionResultType]::ParameterName, 'Socket of the daemon [default: $XDG_RUNTIME_DIR/keepalive/keepalived.sock]')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print the daemon''s reply as JSON instead of text')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'keepalivectl;metrics' {
            [CompletionResult]::new('--socket', '--socket', [CompletionResultType]::ParameterName, 'Socket of the daemon [default: $XDG_RUNTIME_DIR/keepalive/keepalived.sock]')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print the daemon''s reply as JSON instead of text')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'keepalivectl;logs' {
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'How many lines to show')
            [CompletionResult]::new('--lines', '--lines', [CompletionResultType]::ParameterName, 'How many lines to show')
            [CompletionResult]::new('--file', '--file', [CompletionResultType]::ParameterName, 'The log file [default: the running daemon''s, else keepalivectl start''s]')
            [CompletionResult]::new('--socket', '--socket', [CompletionResultType]::ParameterName, 'Socket of the daemon [default: $XDG_RUNTIME_DIR/keepalive/keepalived.sock]')
            [CompletionResult]::new('-f', '-f', [CompletionResultType]::ParameterName, 'Keep printing new lines as they are written')
            [CompletionResult]::new('--follow', '--follow', [CompletionResultType]::ParameterName, 'Keep printing new lines as they are written')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print the daemon''s reply as JSON instead of text')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'keepalivectl;shutdown' {
            [CompletionResult]::new('--socket', '--socket', [CompletionResultType]::ParameterName, 'Socket of the daemon [default: $XDG_RUNTIME_DIR/keepalive/keepalived.sock]')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print the daemon''s reply as JSON instead of text')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'keepalivectl;stop' {
            [CompletionResult]::new('--socket', '--socket', [CompletionResultType]::ParameterName, 'Socket of the daemon [default: $XDG_RUNTIME_DIR/keepalive/keepalived.sock]')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print the daemon''s reply as JSON instead of text')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'keepalivectl;service' {
            [CompletionResult]::new('--socket', '--socket', [CompletionResultType]::ParameterName, 'Socket of the daemon [default: $XDG_RUNTIME_DIR/keepalive/keepalived.sock]')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print the daemon''s reply as JSON instead of text')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('install', 'install', [CompletionResultType]::ParameterValue, 'Write the systemd user unit (Linux) or launchd agent (macOS) and print the command that starts it')
            [CompletionResult]::new('uninstall', 'uninstall', [CompletionResultType]::ParameterValue, 'Remove the unit or agent file (it says what to run first to stop the service)')
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Whether the file is installed and current, and whether a daemon answers on the socket')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'keepalivectl;service;install' {
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'OpenClaw state dir the service passes to keepalived [default: keepalived''s own discovery]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'OpenClaw profile the service passes to keepalived')
            [CompletionResult]::new('--platform', '--platform', [CompletionResultType]::ParameterName, 'Service manager to write for [default: launchd on macOS, systemd elsewhere]')
            [CompletionResult]::new('--socket', '--socket', [CompletionResultType]::ParameterName, 'Socket of the daemon [default: $XDG_RUNTIME_DIR/keepalive/keepalived.sock]')
            [CompletionResult]::new('--print', '--print', [CompletionResultType]::ParameterName, 'Print the file instead of writing it')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print the daemon''s reply as JSON instead of text')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'keepalivectl;service;uninstall' {
            [CompletionResult]::new('--platform', '--platform', [CompletionResultType]::ParameterName, 'Service manager [default: launchd on macOS, systemd elsewhere]')
            [CompletionResult]::new('--socket', '--socket', [CompletionResultType]::ParameterName, 'Socket of the daemon [default: $XDG_RUNTIME_DIR/keepalive/keepalived.sock]')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print the daemon''s reply as JSON instead of text')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'keepalivectl;service;status' {
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'OpenClaw state dir the service passes to keepalived [default: keepalived''s own discovery]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'OpenClaw profile the service passes to keepalived')
            [CompletionResult]::new('--platform', '--platform', [CompletionResultType]::ParameterName, 'Service manager to write for [default: launchd on macOS, systemd elsewhere]')
            [CompletionResult]::new('--socket', '--socket', [CompletionResultType]::ParameterName, 'Socket of the daemon [default: $XDG_RUNTIME_DIR/keepalive/keepalived.sock]')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print the daemon''s reply as JSON instead of text')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'keepalivectl;service;help' {
            [CompletionResult]::new('install', 'install', [CompletionResultType]::ParameterValue, 'Write the systemd user unit (Linux) or launchd agent (macOS) and print the command that starts it')
            [CompletionResult]::new('uninstall', 'uninstall', [CompletionResultType]::ParameterValue, 'Remove the unit or agent file (it says what to run first to stop the service)')
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Whether the file is installed and current, and whether a daemon answers on the socket')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'keepalivectl;service;help;install' {
            break
        }
        'keepalivectl;service;help;uninstall' {
            break
        }
        'keepalivectl;service;help;status' {
            break
        }
        'keepalivectl;service;help;help' {
            break
        }
        'keepalivectl;completions' {
            [CompletionResult]::new('--socket', '--socket', [CompletionResultType]::ParameterName, 'Socket of the daemon [default: $XDG_RUNTIME_DIR/keepalive/keepalived.sock]')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print the daemon''s reply as JSON instead of text')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'keepalivectl;help' {
            [CompletionResult]::new('start', 'start', [CompletionResultType]::ParameterValue, 'Start keepalived in the background and wait until it answers')
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Show whether the daemon runs, its settings and every agent''s last round')
            [CompletionResult]::new('touch', 'touch', [CompletionResultType]::ParameterValue, 'Bump sessions now and wait until the write is durable')
            [CompletionResult]::new('active-within', 'active-within', [CompletionResultType]::ParameterValue, 'Show the activity window, or set and persist it (24h, 90m, or `all`)')
            [CompletionResult]::new('sessions', 'sessions', [CompletionResultType]::ParameterValue, 'One row per session: last activity, when it would expire, whether it is kept alive and why')
            [CompletionResult]::new('resets', 'resets', [CompletionResultType]::ParameterValue, 'The resets keepalive noticed, with its verdict on each session just before')
            [CompletionResult]::new('doctor', 'doctor', [CompletionResultType]::ParameterValue, 'Explain this installation: state dir, config, reset policy, generations, locks (needs no daemon)')
            [CompletionResult]::new('interval', 'interval', [CompletionResultType]::ParameterValue, 'Show the tick interval, or set and persist it')
            [CompletionResult]::new('include', 'include', [CompletionResultType]::ParameterValue, 'Always keep a session alive')
            [CompletionResult]::new('exclude', 'exclude', [CompletionResultType]::ParameterValue, 'Never bump a session on ticks or `touch` without keys')
            [CompletionResult]::new('forget', 'forget', [CompletionResultType]::ParameterValue, 'Remove the include/exclude rule for a session')
            [CompletionResult]::new('rules', 'rules', [CompletionResultType]::ParameterValue, 'List the include/exclude rules')
            [CompletionResult]::new('metrics', 'metrics', [CompletionResultType]::ParameterValue, 'Print the daemon''s metrics (Prometheus text format)')
            [CompletionResult]::new('logs', 'logs', [CompletionResultType]::ParameterValue, 'Show the daemon''s log (the newest file)')
            [CompletionResult]::new('shutdown', 'shutdown', [CompletionResultType]::ParameterValue, 'Stop the daemon gracefully (exit 0 also when none was running)')
            [CompletionResult]::new('service', 'service', [CompletionResultType]::ParameterValue, 'Install, remove or check keepalived as a user service (systemd on Linux, launchd on macOS)')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print shell completions')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'keepalivectl;help;start' {
            break
        }
        'keepalivectl;help;status' {
            break
        }
        'keepalivectl;help;touch' {
            break
        }
        'keepalivectl;help;active-within' {
            break
        }
        'keepalivectl;help;sessions' {
            break
        }
        'keepalivectl;help;resets' {
            break
        }
        'keepalivectl;help;doctor' {
            break
        }
        'keepalivectl;help;interval' {
            break
        }
        'keepalivectl;help;include' {
            break
        }
        'keepalivectl;help;exclude' {
            break
        }
        'keepalivectl;help;forget' {
            break
        }
        'keepalivectl;help;rules' {
            break
        }
        'keepalivectl;help;metrics' {
            break
        }
        'keepalivectl;help;logs' {
            break
        }
        'keepalivectl;help;shutdown' {
            break
        }
        'keepalivectl;help;service' {
            [CompletionResult]::new('install', 'install', [CompletionResultType]::ParameterValue, 'Write the systemd user unit (Linux) or launchd agent (macOS) and print the command that starts it')
            [CompletionResult]::new('uninstall', 'uninstall', [CompletionResultType]::ParameterValue, 'Remove the unit or agent file (it says what to run first to stop the service)')
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Whether the file is installed and current, and whether a daemon answers on the socket')
            break
        }
        'keepalivectl;help;service;install' {
            break
        }
        'keepalivectl;help;service;uninstall' {
            break
        }
        'keepalivectl;help;service;status' {
            break
        }
        'keepalivectl;help;completions' {
            break
        }
        'keepalivectl;help;help' {
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
