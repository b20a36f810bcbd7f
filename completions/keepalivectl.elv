
use builtin;
use str;

set edit:completion:arg-completer[keepalivectl] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'keepalivectl'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'keepalivectl'= {
            cand --socket 'Socket of the daemon [default: $XDG_RUNTIME_DIR/keepalive/keepalived.sock]'
            cand --json 'Print the daemon''s reply as JSON instead of text'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand start 'Start keepalived in the background and wait until it answers'
            cand status 'Show whether the daemon runs, its settings and every agent''s last round'
            cand touch 'Bump sessions now and wait until the write is durable'
            cand active-within 'Show the activity window, or set and persist it (24h, 90m, or `all`)'
            cand sessions 'One row per session: last activity, when it would expire, whether it is kept alive and why'
            cand resets 'The resets keepalive noticed, with its verdict on each session just before'
            cand doctor 'Explain this installation: state dir, config, reset policy, generations, locks (needs no daemon)'
            cand interval 'Show the tick interval, or set and persist it'
            cand include 'Always keep a session alive'
            cand exclude 'Never bump a session on ticks or `touch` without keys'
            cand forget 'Remove the include/exclude rule for a session'
            cand rules 'List the include/exclude rules'
            cand metrics 'Print the daemon''s metrics (Prometheus text format)'
            cand logs 'Show the daemon''s log (the newest file)'
            cand shutdown 'Stop the daemon gracefully (exit 0 also when none was running)'
            cand stop 'Stop the daemon gracefully (exit 0 also when none was running)'
            cand service 'Install, remove or check keepalived as a user service (systemd on Linux, launchd on macOS)'
            cand completions 'Print shell completions'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'keepalivectl;start'= {
            cand --exit-with 'Stop the daemon when this process exits (passed on as keepalived --exit-with)'
            cand --socket 'Socket of the daemon [default: $XDG_RUNTIME_DIR/keepalive/keepalived.sock]'
            cand --json 'Print the daemon''s reply as JSON instead of text'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'keepalivectl;status'= {
            cand --socket 'Socket of the daemon [default: $XDG_RUNTIME_DIR/keepalive/keepalived.sock]'
            cand --json 'Print the daemon''s reply as JSON instead of text'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'keepalivectl;touch'= {
            cand --agent 'Only this agent [default: every agent]'
            cand --socket 'Socket of the daemon [default: $XDG_RUNTIME_DIR/keepalive/keepalived.sock]'
            cand --revive 'Also bump named sessions the gateway would already reset'
            cand --json 'Print the daemon''s reply as JSON instead of text'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'keepalivectl;active-within'= {
            cand --socket 'Socket of the daemon [default: $XDG_RUNTIME_DIR/keepalive/keepalived.sock]'
            cand --json 'Print the daemon''s reply as JSON instead of text'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'keepalivectl;sessions'= {
            cand --agent 'Only this agent [default: every agent]'
            cand --socket 'Socket of the daemon [default: $XDG_RUNTIME_DIR/keepalive/keepalived.sock]'
            cand --json 'Print the daemon''s reply as JSON instead of text'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'keepalivectl;resets'= {
            cand --agent 'Only this agent [default: every agent]'
            cand --since 'Only those noticed within this long (90m, 24h, 7d)'
            cand --socket 'Socket of the daemon [default: $XDG_RUNTIME_DIR/keepalive/keepalived.sock]'
            cand --all 'Also entries that disappeared from a store or appeared in one'
            cand --follow 'Then keep printing new ones as they are noticed (one line each; one JSON object each with --json), until interrupted or the daemon stops (which ends it with exit 0)'
            cand --json 'Print the daemon''s reply as JSON instead of text'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'keepalivectl;doctor'= {
            cand --state-dir 'OpenClaw state dir [default: found like the gateway]'
            cand --profile 'OpenClaw profile [default: $OPENCLAW_PROFILE]'
            cand --socket 'Socket of the daemon [default: $XDG_RUNTIME_DIR/keepalive/keepalived.sock]'
            cand --json 'Print the daemon''s reply as JSON instead of text'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'keepalivectl;interval'= {
            cand --socket 'Socket of the daemon [default: $XDG_RUNTIME_DIR/keepalive/keepalived.sock]'
            cand --json 'Print the daemon''s reply as JSON instead of text'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'keepalivectl;include'= {
            cand --agent 'Only this agent [default: every agent]'
            cand --socket 'Socket of the daemon [default: $XDG_RUNTIME_DIR/keepalive/keepalived.sock]'
            cand --json 'Print the daemon''s reply as JSON instead of text'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'keepalivectl;exclude'= {
            cand --agent 'Only this agent [default: every agent]'
            cand --socket 'Socket of the daemon [default: $XDG_RUNTIME_DIR/keepalive/keepalived.sock]'
            cand --json 'Print the daemon''s reply as JSON instead of text'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'keepalivectl;forget'= {
            cand --agent 'Only this agent [default: every agent]'
            cand --socket 'Socket of the daemon [default: $XDG_RUNTIME_DIR/keepalive/keepalived.sock]'
            cand --json 'Print the daemon''s reply as JSON instead of text'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'keepalivectl;rules'= {
            cand --socket 'Socket of the daemon [default: $XDG_RUNTIME_DIR/keepalive/keepalived.sock]'
            cand --json 'Print the daemon''s reply as JSON instead of text'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'keepalivectl;metrics'= {
            cand --socket 'Socket of the daemon [default: $XDG_RUNTIME_DIR/keepalive/keepalived.sock]'
            cand --json 'Print the daemon''s reply as JSON instead of text'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'keepalivectl;logs'= {
            cand -n 'How many lines to show'
            cand --lines 'How many lines to show'
            cand --file 'The log file [default: the running daemon''s, else keepalivectl start''s]'
            cand --socket 'Socket of the daemon [default: $XDG_RUNTIME_DIR/keepalive/keepalived.sock]'
            cand -f 'Keep printing new lines as they are written'
            cand --follow 'Keep printing new lines as they are written'
            cand --json 'Print the daemon''s reply as JSON instead of text'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'keepalivectl;shutdown'= {
            cand --socket 'Socket of the daemon [default: $XDG_RUNTIME_DIR/keepalive/keepalived.sock]'
            cand --json 'Print the daemon''s reply as JSON instead of text'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'keepalivectl;stop'= {
            cand --socket 'Socket of the daemon [default: $XDG_RUNTIME_DIR/keepalive/keepalived.sock]'
            cand --json 'Print the daemon''s reply as JSON instead of text'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'keepalivectl;service'= {
            cand --socket 'Socket of the daemon [default: $XDG_RUNTIME_DIR/keepalive/keepalived.sock]'
            cand --json 'Print the daemon''s reply as JSON instead of text'
            cand -h 'Print help'
            cand --help 'Print help'
            cand install 'Write the systemd user unit (Linux) or launchd agent (macOS) and print the command that starts it'
            cand uninstall 'Remove the unit or agent file (it says what to run first to stop the service)'
            cand status 'Whether the file is installed and current, and whether a daemon answers on the socket'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'keepalivectl;service;install'= {
            cand --state-dir 'OpenClaw state dir the service passes to keepalived [default: keepalived''s own discovery]'
            cand --profile 'OpenClaw profile the service passes to keepalived'
            cand --platform 'Service manager to write for [default: launchd on macOS, systemd elsewhere]'
            cand --socket 'Socket of the daemon [default: $XDG_RUNTIME_DIR/keepalive/keepalived.sock]'
            cand --print 'Print the file instead of writing it'
            cand --json 'Print the daemon''s reply as JSON instead of text'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'keepalivectl;service;uninstall'= {
            cand --platform 'Service manager [default: launchd on macOS, systemd elsewhere]'
            cand --socket 'Socket of the daemon [default: $XDG_RUNTIME_DIR/keepalive/keepalived.sock]'
            cand --json 'Print the daemon''s reply as JSON instead of text'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'keepalivectl;service;status'= {
            cand --state-dir 'OpenClaw state dir the service passes to keepalived [default: keepalived''s own discovery]'
            cand --profile 'OpenClaw profile the service passes to keepalived'
            cand --platform 'Service manager to write for [default: launchd on macOS, systemd elsewhere]'
            cand --socket 'Socket of the daemon [default: $XDG_RUNTIME_DIR/keepalive/keepalived.sock]'
            cand --json 'Print the daemon''s reply as JSON instead of text'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'keepalivectl;service;help'= {
            cand install 'Write the systemd user unit (Linux) or launchd agent (macOS) and print the command that starts it'
            cand uninstall 'Remove the unit or agent file (it says what to run first to stop the service)'
            cand status 'Whether the file is installed and current, and whether a daemon answers on the socket'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'keepalivectl;service;help;install'= {
        }
        &'keepalivectl;service;help;uninstall'= {
        }
        &'keepalivectl;service;help;status'= {
        }
        &'keepalivectl;service;help;help'= {
        }
        &'keepalivectl;completions'= {
            cand --socket 'Socket of the daemon [default: $XDG_RUNTIME_DIR/keepalive/keepalived.sock]'
            cand --json 'Print the daemon''s reply as JSON instead of text'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'keepalivectl;help'= {
            cand start 'Start keepalived in the background and wait until it answers'
            cand status 'Show whether the daemon runs, its settings and every agent''s last round'
            cand touch 'Bump sessions now and wait until the write is durable'
            cand active-within 'Show the activity window, or set and persist it (24h, 90m, or `all`)'
            cand sessions 'One row per session: last activity, when it would expire, whether it is kept alive and why'
            cand resets 'The resets keepalive noticed, with its verdict on each session just before'
            cand doctor 'Explain this installation: state dir, config, reset policy, generations, locks (needs no daemon)'
            cand interval 'Show the tick interval, or set and persist it'
            cand include 'Always keep a session alive'
            cand exclude 'Never bump a session on ticks or `touch` without keys'
            cand forget 'Remove the include/exclude rule for a session'
            cand rules 'List the include/exclude rules'
            cand metrics 'Print the daemon''s metrics (Prometheus text format)'
            cand logs 'Show the daemon''s log (the newest file)'
            cand shutdown 'Stop the daemon gracefully (exit 0 also when none was running)'
            cand service 'Install, remove or check keepalived as a user service (systemd on Linux, launchd on macOS)'
            cand completions 'Print shell completions'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'keepalivectl;help;start'= {
        }
        &'keepalivectl;help;status'= {
        }
        &'keepalivectl;help;touch'= {
        }
        &'keepalivectl;help;active-within'= {
        }
        &'keepalivectl;help;sessions'= {
        }
        &'keepalivectl;help;resets'= {
        }
        &'keepalivectl;help;doctor'= {
        }
        &'keepalivectl;help;interval'= {
        }
        &'keepalivectl;help;include'= {
        }
        &'keepalivectl;help;exclude'= {
        }
        &'keepalivectl;help;forget'= {
        }
        &'keepalivectl;help;rules'= {
        }
        &'keepalivectl;help;metrics'= {
        }
        &'keepalivectl;help;logs'= {
        }
        &'keepalivectl;help;shutdown'= {
        }
        &'keepalivectl;help;service'= {
            cand install 'Write the systemd user unit (Linux) or launchd agent (macOS) and print the command that starts it'
            cand uninstall 'Remove the unit or agent file (it says what to run first to stop the service)'
            cand status 'Whether the file is installed and current, and whether a daemon answers on the socket'
        }
        &'keepalivectl;help;service;install'= {
        }
        &'keepalivectl;help;service;uninstall'= {
        }
        &'keepalivectl;help;service;status'= {
        }
        &'keepalivectl;help;completions'= {
        }
        &'keepalivectl;help;help'= {
        }
    ]
    $completions[$command]
}
