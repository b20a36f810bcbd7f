
use builtin;
use str;

set edit:completion:arg-completer[keepalived] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'keepalived'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'keepalived'= {
            cand --state-dir 'OpenClaw state dir [default: found like the gateway: $OPENCLAW_STATE_DIR, profile, ~/.openclaw, legacy dirs]'
            cand --profile 'OpenClaw profile: the state dir ~/.openclaw-PROFILE [default: $OPENCLAW_PROFILE]'
            cand --socket 'Unix socket to listen on [default: $XDG_RUNTIME_DIR/keepalive/keepalived.sock]'
            cand --interval 'How often to bump (90, 90s, 5m, 1h; 1s to 24h) [default: 60s, or the persisted setting]'
            cand --active-within 'Keep alive sessions really used within this window (24h, 90m; or `all`) [default: 24h, or the persisted setting]'
            cand --schedule 'When to write: `policy` (just before sessions would expire) or `interval` (every tick) [default: policy, or interval when openclaw.json cannot be read]'
            cand --agent 'Only serve this agent (repeatable) [default: every agent in the state dir]'
            cand --log-file 'Write logs to this file instead of stderr, rotated daily (PATH.YYYY-MM-DD, 7 kept)'
            cand --log-format 'Log format: `text` for people, `json` for log shippers'
            cand --log-level 'Log level or filter (error, warn, info, debug, trace) [default: $RUST_LOG, else info]'
            cand --metrics-file 'Rewrite this file atomically each tick with the metrics (Prometheus text format)'
            cand --tick-ms 'Test-only: tick every this many milliseconds, beating --interval (for crash and contention tests, which need rounds faster than 1 s)'
            cand --lock-timeout 'How long to wait for the gateway''s store lock before skipping a round (at most 60s)'
            cand --exit-with 'Exit gracefully when this process exits (e.g. the gateway that started keepalived)'
            cand --bump-session-start 'Also bump sessionStartedAt on json-v2 stores, which stops the daily reset but rewrites each session''s recorded start'
            cand --once 'One pass over the stores, print a summary and exit (replaces update-session-timestamps.sh)'
            cand --dry-run 'Compute and log what would be written, write nothing'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
    ]
    $completions[$command]
}
