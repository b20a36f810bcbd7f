# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_keepalivectl_global_optspecs
    string join \n socket= json h/help V/version
end

function __fish_keepalivectl_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_keepalivectl_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_keepalivectl_using_subcommand
    set -l cmd (__fish_keepalivectl_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c keepalivectl -n "__fish_keepalivectl_needs_command" -l socket -d 'Socket of the daemon [default: $XDG_RUNTIME_DIR/keepalive/keepalived.sock]' -r -F
complete -c keepalivectl -n "__fish_keepalivectl_needs_command" -l json -d 'Print the daemon\'s reply as JSON instead of text'
complete -c keepalivectl -n "__fish_keepalivectl_needs_command" -s h -l help -d 'Print help'
complete -c keepalivectl -n "__fish_keepalivectl_needs_command" -s V -l version -d 'Print version'
complete -c keepalivectl -n "__fish_keepalivectl_needs_command" -f -a "start" -d 'Start keepalived in the background and wait until it answers'
complete -c keepalivectl -n "__fish_keepalivectl_needs_command" -f -a "status" -d 'Show whether the daemon runs, its settings and every agent\'s last round'
complete -c keepalivectl -n "__fish_keepalivectl_needs_command" -f -a "touch" -d 'Bump sessions now and wait until the write is durable'
complete -c keepalivectl -n "__fish_keepalivectl_needs_command" -f -a "active-within" -d 'Show the activity window, or set and persist it (24h, 90m, or `all`)'
complete -c keepalivectl -n "__fish_keepalivectl_needs_command" -f -a "sessions" -d 'One row per session: last activity, when it would expire, whether it is kept alive and why'
complete -c keepalivectl -n "__fish_keepalivectl_needs_command" -f -a "resets" -d 'The resets keepalive noticed, with its verdict on each session just before'
complete -c keepalivectl -n "__fish_keepalivectl_needs_command" -f -a "doctor" -d 'Explain this installation: state dir, config, reset policy, generations, locks (needs no daemon)'
complete -c keepalivectl -n "__fish_keepalivectl_needs_command" -f -a "interval" -d 'Show the tick interval, or set and persist it'
complete -c keepalivectl -n "__fish_keepalivectl_needs_command" -f -a "include" -d 'Always keep a session alive'
complete -c keepalivectl -n "__fish_keepalivectl_needs_command" -f -a "exclude" -d 'Never bump a session on ticks or `touch` without keys'
complete -c keepalivectl -n "__fish_keepalivectl_needs_command" -f -a "forget" -d 'Remove the include/exclude rule for a session'
complete -c keepalivectl -n "__fish_keepalivectl_needs_command" -f -a "rules" -d 'List the include/exclude rules'
complete -c keepalivectl -n "__fish_keepalivectl_needs_command" -f -a "metrics" -d 'Print the daemon\'s metrics (Prometheus text format)'
complete -c keepalivectl -n "__fish_keepalivectl_needs_command" -f -a "logs" -d 'Show the daemon\'s log (the newest file)'
complete -c keepalivectl -n "__fish_keepalivectl_needs_command" -f -a "shutdown" -d 'Stop the daemon gracefully (exit 0 also when none was running)'
complete -c keepalivectl -n "__fish_keepalivectl_needs_command" -f -a "stop" -d 'Stop the daemon gracefully (exit 0 also when none was running)'
complete -c keepalivectl -n "__fish_keepalivectl_needs_command" -f -a "service" -d 'Install, remove or check keepalived as a user service (systemd on Linux, launchd on macOS)'
complete -c keepalivectl -n "__fish_keepalivectl_needs_command" -f -a "completions" -d 'Print shell completions'
complete -c keepalivectl -n "__fish_keepalivectl_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c keepalivectl -n "__fish_keepalivectl_using_subcommand start" -l exit-with -d 'Stop the daemon when this process exits (passed on as keepalived --exit-with)' -r
complete -c keepalivectl -n "__fish_keepalivectl_using_subcommand start" -l socket -d 'Socket of the daemon [default: $XDG_RUNTIME_DIR/keepalive/keepalived.sock]' -r -F
complete -c keepalivectl -n "__fish_keepalivectl_using_subcommand start" -l json -d 'Print the daemon\'s reply as JSON instead of text'
complete -c keepalivectl -n "__fish_keepalivectl_using_subcommand start" -s h -l help -d 'Print help'
complete -c keepalivectl -n "__fish_keepalivectl_using_subcommand status" -l socket -d 'Socket of the daemon [default: $XDG_RUNTIME_DIR/keepalive/keepalived.sock]' -r -F
complete -c keepalivectl -n "__fish_keepalivectl_using_subcommand status" -l json -d 'Print the daemon\'s reply as JSON instead of text'
complete -c keepalivectl -n "__fish_keepalivectl_using_subcommand status" -s h -l help -d 'Print help'
complete -c keepalivectl -n "__fish_keepalivectl_using_subcommand touch" -l agent -d 'Only this agent [default: every agent]' -r
complete -c keepalivectl -n "__fish_keepalivectl_using_subcommand touch" -l socket -d 'Socket of the daemon [default: $XDG_RUNTIME_DIR/keepalive/keepalived.sock]' -r -F
complete -c keepalivectl -n "__fish_keepalivectl_using_subcommand touch" -l revive -d 'Also bump named sessions the gateway would already reset'
complete -c keepalivectl -n "__fish_keepalivectl_using_subcommand touch" -l json -d 'Print the daemon\'s reply as JSON instead of text'
complete -c keepalivectl -n "__fish_keepalivectl_using_subcommand touch" -s h -l help -d 'Print help'
complete -c keepalivectl -n "__fish_keepalivectl_using_subcommand active-within" -l socket -d 'Socket of the daemon [default: $XDG_RUNTIME_DIR/keepalive/keepalived.sock]' -r -F
complete -c keepalivectl -n "__fish_keepalivectl_using_subcommand active-within" -l json -d 'Print the daemon\'s reply as JSON instead of text'
complete -c keepalivectl -n "__fish_keepalivectl_using_subcommand active-within" -s h -l help -d 'Print help'
complete -c keepalivectl -n "__fish_keepalivectl_using_subcommand sessions" -l agent -d 'Only this agent [default: every agent]' -r
complete -c keepalivectl -n "__fish_keepalivectl_using_subcommand sessions" -l socket -d 'Socket of the daemon [default: $XDG_RUNTIME_DIR/keepalive/keepalived.sock]' -r -F
complete -c keepalivectl -n "__fish_keepalivectl_using_subcommand sessions" -l json -d 'Print the daemon\'s reply as JSON instead of text'
complete -c keepalivectl -n "__fish_keepalivectl_using_subcommand sessions" -s h -l help -d 'Print help'
complete -c keepalivectl -n "__fish_keepalivectl_using_subcommand resets" -l agent -d 'Only this agent [default: every agent]' -r
complete -c keepalivectl -n "__fish_keepalivectl_using_subcommand resets" -l since -d 'Only those noticed within this long (90m, 24h, 7d)' -r
complete -c keepalivectl -n "__fish_keepalivectl_using_subcommand resets" -l socket -d 'Socket of the daemon [default: $XDG_RUNTIME_DIR/keepalive/keepalived.sock]' -r -F
complete -c keepalivectl -n "__fish_keepalivectl_using_subcommand resets" -l all -d 'Also entries that disappeared from a store or appeared in one'
complete -c keepalivectl -n "__fish_keepalivectl_using_subcommand resets" -l follow -d 'Then keep printing new ones as they are noticed (one line each; one JSON object each with --json), until interrupted or the daemon stops (which ends it with exit 0)'
complete -c keepalivectl -n "__fish_keepalivectl_using_subcommand resets" -l json -d 'Print the daemon\'s reply as JSON instead of text'
complete -c keepalivectl -n "__fish_keepalivectl_using_subcommand resets" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c keepalivectl -n "__fish_keepalivectl_using_subcommand doctor" -l state-dir -d 'OpenClaw state dir [default: found like the gateway]' -r -F
complete -c keepalivectl -n "__fish_keepalivectl_using_subcommand doctor" -l profile -d 'OpenClaw profile [default: $OPENCLAW_PROFILE]' -r
complete -c keepalivectl -n "__fish_keepalivectl_using_subcommand doctor" -l socket -d 'Socket of the daemon [default: $XDG_RUNTIME_DIR/keepalive/keepalived.sock]' -r -F
complete -c keepalivectl -n "__fish_keepalivectl_using_subcommand doctor" -l json -d 'Print the daemon\'s reply as JSON instead of text'
complete -c keepalivectl -n "__fish_keepalivectl_using_subcommand doctor" -s h -l help -d 'Print help'
complete -c keepalivectl -n "__fish_keepalivectl_using_subcommand interval" -l socket -d 'Socket of the daemon [default: $XDG_RUNTIME_DIR/keepalive/keepalived.sock]' -r -F
complete -c keepalivectl -n "__fish_keepalivectl_using_subcommand interval" -l json -d 'Print the daemon\'s reply as JSON instead of text'
complete -c keepalivectl -n "__fish_keepalivectl_using_subcommand interval" -s h -l help -d 'Print help'
complete -c keepalivectl -n "__fish_keepalivectl_using_subcommand include" -l agent -d 'Only this agent [default: every agent]' -r
complete -c keepalivectl -n "__fish_keepalivectl_using_subcommand include" -l socket -d 'Socket of the daemon [default: $XDG_RUNTIME_DIR/keepalive/keepalived.sock]' -r -F
complete -c keepalivectl -n "__fish_keepalivectl_using_subcommand include" -l json -d 'Print the daemon\'s reply as JSON instead of text'
complete -c keepalivectl -n "__fish_keepalivectl_using_subcommand include" -s h -l help -d 'Print help'
complete -c keepalivectl -n "__fish_keepalivectl_using_subcommand exclude" -l agent -d 'Only this agent [default: every agent]' -r
complete -c keepalivectl -n "__fish_keepalivectl_using_subcommand exclude" -l socket -d 'Socket of the daemon [default: $XDG_RUNTIME_DIR/keepalive/keepalived.sock]' -r -F
complete -c keepalivectl -n "__fish_keepalivectl_using_subcommand exclude" -l json -d 'Print the daemon\'s reply as JSON instead of text'
complete -c keepalivectl -n "__fish_keepalivectl_using_subcommand exclude" -s h -l help -d 'Print help'
complete -c keepalivectl -n "__fish_keepalivectl_using_subcommand forget" -l agent -d 'Only this agent [default: every agent]' -r
complete -c keepalivectl -n "__fish_keepalivectl_using_subcommand forget" -l socket -d 'Socket of the daemon [default: $XDG_RUNTIME_DIR/keepalive/keepalived.sock]' -r -F
complete -c keepalivectl -n "__fish_keepalivectl_using_subcommand forget" -l json -d 'Print the daemon\'s reply as JSON instead of text'
complete -c keepalivectl -n "__fish_keepalivectl_using_subcommand forget" -s h -l help -d 'Print help'
complete -c keepalivectl -n "__fish_keepalivectl_using_subcommand rules" -l socket -d 'Socket of the daemon [default: $XDG_RUNTIME_DIR/keepalive/keepalived.sock]' -r -F
complete -c keepalivectl -n "__fish_keepalivectl_using_subcommand rules" -l json -d 'Print the daemon\'s reply as JSON instead of text'
complete -c keepalivectl -n "__fish_keepalivectl_using_subcommand rules" -s h -l help -d 'Print help'
complete -c keepalivectl -n "__fish_keepalivectl_using_subcommand metrics" -l socket -d 'Socket of the daemon [default: $XDG_RUNTIME_DIR/keepalive/keepalived.sock]' -r -F
complete -c keepalivectl -n "__fish_keepalivectl_using_subcommand metrics" -l json -d 'Print the daemon\'s reply as JSON instead of text'
complete -c keepalivectl -n "__fish_keepalivectl_using_subcommand metrics" -s h -l help -d 'Print help'
complete -c keepalivectl -n "__fish_keepalivectl_using_subcommand logs" -s n -l lines -d 'How many lines to show' -r
complete -c keepalivectl -n "__fish_keepalivectl_using_subcommand logs" -l file -d 'The log file [default: the running daemon\'s, else keepalivectl start\'s]' -r -F
complete -c keepalivectl -n "__fish_keepalivectl_using_subcommand logs" -l socket -d 'Socket of the daemon [default: $XDG_RUNTIME_DIR/keepalive/keepalived.sock]' -r -F
complete -c keepalivectl -n "__fish_keepalivectl_using_subcommand logs" -s f -l follow -d 'Keep printing new lines as they are written'
complete -c keepalivectl -n "__fish_keepalivectl_using_subcommand logs" -l json -d 'Print the daemon\'s reply as JSON instead of text'
complete -c keepalivectl -n "__fish_keepalivectl_using_subcommand logs" -s h -l help -d 'Print help'
complete -c keepalivectl -n "__fish_keepalivectl_using_subcommand shutdown" -l socket -d 'Socket of the daemon [default: $XDG_RUNTIME_DIR/keepalive/keepalived.sock]' -r -F
complete -c keepalivectl -n "__fish_keepalivectl_using_subcommand shutdown" -l json -d 'Print the daemon\'s reply as JSON instead of text'
complete -c keepalivectl -n "__fish_keepalivectl_using_subcommand shutdown" -s h -l help -d 'Print help'
complete -c keepalivectl -n "__fish_keepalivectl_using_subcommand stop" -l socket -d 'Socket of the daemon [default: $XDG_RUNTIME_DIR/keepalive/keepalived.sock]' -r -F
complete -c keepalivectl -n "__fish_keepalivectl_using_subcommand stop" -l json -d 'Print the daemon\'s reply as JSON instead of text'
complete -c keepalivectl -n "__fish_keepalivectl_using_subcommand stop" -s h -l help -d 'Print help'
complete -c keepalivectl -n "__fish_keepalivectl_using_subcommand service; and not __fish_seen_subcommand_from install uninstall status help" -l socket -d 'Socket of the daemon [default: $XDG_RUNTIME_DIR/keepalive/keepalived.sock]' -r -F
complete -c keepalivectl -n "__fish_keepalivectl_using_subcommand service; and not __fish_seen_subcommand_from install uninstall status help" -l json -d 'Print the daemon\'s reply as JSON instead of text'
complete -c keepalivectl -n "__fish_keepalivectl_using_subcommand service; and not __fish_seen_subcommand_from install uninstall status help" -s h -l help -d 'Print help'
complete -c keepalivectl -n "__fish_keepalivectl_using_subcommand service; and not __fish_seen_subcommand_from install uninstall status help" -f -a "install" -d 'Write the systemd user unit (Linux) or launchd agent (macOS) and print the command that starts it'
complete -c keepalivectl -n "__fish_keepalivectl_using_subcommand service; and not __fish_seen_subcommand_from install uninstall status help" -f -a "uninstall" -d 'Remove the unit or agent file (it says what to run first to stop the service)'
complete -c keepalivectl -n "__fish_keepalivectl_using_subcommand service; and not __fish_seen_subcommand_from install uninstall status help" -f -a "status" -d 'Whether the file is installed and current, and whether a daemon answers on the socket'
complete -c keepalivectl -n "__fish_keepalivectl_using_subcommand service; and not __fish_seen_subcommand_from install uninstall status help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c keepalivectl -n "__fish_keepalivectl_using_subcommand service; and __fish_seen_subcommand_from install" -l state-dir -d 'OpenClaw state dir the service passes to keepalived [default: keepalived\'s own discovery]' -r -F
complete -c keepalivectl -n "__fish_keepalivectl_using_subcommand service; and __fish_seen_subcommand_from install" -l profile -d 'OpenClaw profile the service passes to keepalived' -r
complete -c keepalivectl -n "__fish_keepalivectl_using_subcommand service; and __fish_seen_subcommand_from install" -l platform -d 'Service manager to write for [default: launchd on macOS, systemd elsewhere]' -r -f -a "systemd\t''
launchd\t''"
complete -c keepalivectl -n "__fish_keepalivectl_using_subcommand service; and __fish_seen_subcommand_from install" -l socket -d 'Socket of the daemon [default: $XDG_RUNTIME_DIR/keepalive/keepalived.sock]' -r -F
complete -c keepalivectl -n "__fish_keepalivectl_using_subcommand service; and __fish_seen_subcommand_from install" -l print -d 'Print the file instead of writing it'
complete -c keepalivectl -n "__fish_keepalivectl_using_subcommand service; and __fish_seen_subcommand_from install" -l json -d 'Print the daemon\'s reply as JSON instead of text'
complete -c keepalivectl -n "__fish_keepalivectl_using_subcommand service; and __fish_seen_subcommand_from install" -s h -l help -d 'Print help'
complete -c keepalivectl -n "__fish_keepalivectl_using_subcommand service; and __fish_seen_subcommand_from uninstall" -l platform -d 'Service manager [default: launchd on macOS, systemd elsewhere]' -r -f -a "systemd\t''
launchd\t''"
complete -c keepalivectl -n "__fish_keepalivectl_using_subcommand service; and __fish_seen_subcommand_from uninstall" -l socket -d 'Socket of the daemon [default: $XDG_RUNTIME_DIR/keepalive/keepalived.sock]' -r -F
complete -c keepalivectl -n "__fish_keepalivectl_using_subcommand service; and __fish_seen_subcommand_from uninstall" -l json -d 'Print the daemon\'s reply as JSON instead of text'
complete -c keepalivectl -n "__fish_keepalivectl_using_subcommand service; and __fish_seen_subcommand_from uninstall" -s h -l help -d 'Print help'
complete -c keepalivectl -n "__fish_keepalivectl_using_subcommand service; and __fish_seen_subcommand_from status" -l state-dir -d 'OpenClaw state dir the service passes to keepalived [default: keepalived\'s own discovery]' -r -F
complete -c keepalivectl -n "__fish_keepalivectl_using_subcommand service; and __fish_seen_subcommand_from status" -l profile -d 'OpenClaw profile the service passes to keepalived' -r
complete -c keepalivectl -n "__fish_keepalivectl_using_subcommand service; and __fish_seen_subcommand_from status" -l platform -d 'Service manager to write for [default: launchd on macOS, systemd elsewhere]' -r -f -a "systemd\t''
launchd\t''"
complete -c keepalivectl -n "__fish_keepalivectl_using_subcommand service; and __fish_seen_subcommand_from status" -l socket -d 'Socket of the daemon [default: $XDG_RUNTIME_DIR/keepalive/keepalived.sock]' -r -F
complete -c keepalivectl -n "__fish_keepalivectl_using_subcommand service; and __fish_seen_subcommand_from status" -l json -d 'Print the daemon\'s reply as JSON instead of text'
complete -c keepalivectl -n "__fish_keepalivectl_using_subcommand service; and __fish_seen_subcommand_from status" -s h -l help -d 'Print help'
complete -c keepalivectl -n "__fish_keepalivectl_using_subcommand service; and __fish_seen_subcommand_from help" -f -a "install" -d 'Write the systemd user unit (Linux) or launchd agent (macOS) and print the command that starts it'
complete -c keepalivectl -n "__fish_keepalivectl_using_subcommand service; and __fish_seen_subcommand_from help" -f -a "uninstall" -d 'Remove the unit or agent file (it says what to run first to stop the service)'
complete -c keepalivectl -n "__fish_keepalivectl_using_subcommand service; and __fish_seen_subcommand_from help" -f -a "status" -d 'Whether the file is installed and current, and whether a daemon answers on the socket'
complete -c keepalivectl -n "__fish_keepalivectl_using_subcommand service; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c keepalivectl -n "__fish_keepalivectl_using_subcommand completions" -l socket -d 'Socket of the daemon [default: $XDG_RUNTIME_DIR/keepalive/keepalived.sock]' -r -F
complete -c keepalivectl -n "__fish_keepalivectl_using_subcommand completions" -l json -d 'Print the daemon\'s reply as JSON instead of text'
complete -c keepalivectl -n "__fish_keepalivectl_using_subcommand completions" -s h -l help -d 'Print help'
complete -c keepalivectl -n "__fish_keepalivectl_using_subcommand help; and not __fish_seen_subcommand_from start status touch active-within sessions resets doctor interval include exclude forget rules metrics logs shutdown service completions help" -f -a "start" -d 'Start keepalived in the background and wait until it answers'
complete -c keepalivectl -n "__fish_keepalivectl_using_subcommand help; and not __fish_seen_subcommand_from start status touch active-within sessions resets doctor interval include exclude forget rules metrics logs shutdown service completions help" -f -a "status" -d 'Show whether the daemon runs, its settings and every agent\'s last round'
complete -c keepalivectl -n "__fish_keepalivectl_using_subcommand help; and not __fish_seen_subcommand_from start status touch active-within sessions resets doctor interval include exclude forget rules metrics logs shutdown service completions help" -f -a "touch" -d 'Bump sessions now and wait until the write is durable'
complete -c keepalivectl -n "__fish_keepalivectl_using_subcommand help; and not __fish_seen_subcommand_from start status touch active-within sessions resets doctor interval include exclude forget rules metrics logs shutdown service completions help" -f -a "active-within" -d 'Show the activity window, or set and persist it (24h, 90m, or `all`)'
complete -c keepalivectl -n "__fish_keepalivectl_using_subcommand help; and not __fish_seen_subcommand_from start status touch active-within sessions resets doctor interval include exclude forget rules metrics logs shutdown service completions help" -f -a "sessions" -d 'One row per session: last activity, when it would expire, whether it is kept alive and why'
complete -c keepalivectl -n "__fish_keepalivectl_using_subcommand help; and not __fish_seen_subcommand_from start status touch active-within sessions resets doctor interval include exclude forget rules metrics logs shutdown service completions help" -f -a "resets" -d 'The resets keepalive noticed, with its verdict on each session just before'
complete -c keepalivectl -n "__fish_keepalivectl_using_subcommand help; and not __fish_seen_subcommand_from start status touch active-within sessions resets doctor interval include exclude forget rules metrics logs shutdown service completions help" -f -a "doctor" -d 'Explain this installation: state dir, config, reset policy, generations, locks (needs no daemon)'
complete -c keepalivectl -n "__fish_keepalivectl_using_subcommand help; and not __fish_seen_subcommand_from start status touch active-within sessions resets doctor interval include exclude forget rules metrics logs shutdown service completions help" -f -a "interval" -d 'Show the tick interval, or set and persist it'
complete -c keepalivectl -n "__fish_keepalivectl_using_subcommand help; and not __fish_seen_subcommand_from start status touch active-within sessions resets doctor interval include exclude forget rules metrics logs shutdown service completions help" -f -a "include" -d 'Always keep a session alive'
complete -c keepalivectl -n "__fish_keepalivectl_using_subcommand help; and not __fish_seen_subcommand_from start status touch active-within sessions resets doctor interval include exclude forget rules metrics logs shutdown service completions help" -f -a "exclude" -d 'Never bump a session on ticks or `touch` without keys'
complete -c keepalivectl -n "__fish_keepalivectl_using_subcommand help; and not __fish_seen_subcommand_from start status touch active-within sessions resets doctor interval include exclude forget rules metrics logs shutdown service completions help" -f -a "forget" -d 'Remove the include/exclude rule for a session'
complete -c keepalivectl -n "__fish_keepalivectl_using_subcommand help; and not __fish_seen_subcommand_from start status touch active-within sessions resets doctor interval include exclude forget rules metrics logs shutdown service completions help" -f -a "rules" -d 'List the include/exclude rules'
complete -c keepalivectl -n "__fish_keepalivectl_using_subcommand help; and not __fish_seen_subcommand_from start status touch active-within sessions resets doctor interval include exclude forget rules metrics logs shutdown service completions help" -f -a "metrics" -d 'Print the daemon\'s metrics (Prometheus text format)'
complete -c keepalivectl -n "__fish_keepalivectl_using_subcommand help; and not __fish_seen_subcommand_from start status touch active-within sessions resets doctor interval include exclude forget rules metrics logs shutdown service completions help" -f -a "logs" -d 'Show the daemon\'s log (the newest file)'
complete -c keepalivectl -n "__fish_keepalivectl_using_subcommand help; and not __fish_seen_subcommand_from start status touch active-within sessions resets doctor interval include exclude forget rules metrics logs shutdown service completions help" -f -a "shutdown" -d 'Stop the daemon gracefully (exit 0 also when none was running)'
complete -c keepalivectl -n "__fish_keepalivectl_using_subcommand help; and not __fish_seen_subcommand_from start status touch active-within sessions resets doctor interval include exclude forget rules metrics logs shutdown service completions help" -f -a "service" -d 'Install, remove or check keepalived as a user service (systemd on Linux, launchd on macOS)'
complete -c keepalivectl -n "__fish_keepalivectl_using_subcommand help; and not __fish_seen_subcommand_from start status touch active-within sessions resets doctor interval include exclude forget rules metrics logs shutdown service completions help" -f -a "completions" -d 'Print shell completions'
complete -c keepalivectl -n "__fish_keepalivectl_using_subcommand help; and not __fish_seen_subcommand_from start status touch active-within sessions resets doctor interval include exclude forget rules metrics logs shutdown service completions help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c keepalivectl -n "__fish_keepalivectl_using_subcommand help; and __fish_seen_subcommand_from service" -f -a "install" -d 'Write the systemd user unit (Linux) or launchd agent (macOS) and print the command that starts it'
complete -c keepalivectl -n "__fish_keepalivectl_using_subcommand help; and __fish_seen_subcommand_from service" -f -a "uninstall" -d 'Remove the unit or agent file (it says what to run first to stop the service)'
complete -c keepalivectl -n "__fish_keepalivectl_using_subcommand help; and __fish_seen_subcommand_from service" -f -a "status" -d 'Whether the file is installed and current, and whether a daemon answers on the socket'
