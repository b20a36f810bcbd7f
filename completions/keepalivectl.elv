
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
            cand interval 'Show the tick interval, or set and persist it'
            cand include 'Always keep a session alive'
            cand exclude 'Never bump a session on ticks or `touch` without keys'
            cand forget 'Remove the include/exclude rule for a session'
            cand rules 'List the include/exclude rules'
            cand shutdown 'Stop the daemon gracefully (exit 0 also when none was running)'
            cand stop 'Stop the daemon gracefully (exit 0 also when none was running)'
            cand completions 'Print shell completions'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'keepalivectl;start'= {
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
            cand interval 'Show the tick interval, or set and persist it'
            cand include 'Always keep a session alive'
            cand exclude 'Never bump a session on ticks or `touch` without keys'
            cand forget 'Remove the include/exclude rule for a session'
            cand rules 'List the include/exclude rules'
            cand shutdown 'Stop the daemon gracefully (exit 0 also when none was running)'
            cand completions 'Print shell completions'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'keepalivectl;help;start'= {
        }
        &'keepalivectl;help;status'= {
        }
        &'keepalivectl;help;touch'= {
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
        &'keepalivectl;help;shutdown'= {
        }
        &'keepalivectl;help;completions'= {
        }
        &'keepalivectl;help;help'= {
        }
    ]
    $completions[$command]
}
