complete -c keepalived -l state-dir -d 'OpenClaw state dir [default: found like the gateway: $OPENCLAW_STATE_DIR, profile, ~/.openclaw, legacy dirs]' -r -F
complete -c keepalived -l profile -d 'OpenClaw profile: the state dir ~/.openclaw-PROFILE [default: $OPENCLAW_PROFILE]' -r
complete -c keepalived -l socket -d 'Unix socket to listen on [default: $XDG_RUNTIME_DIR/keepalive/keepalived.sock]' -r -F
complete -c keepalived -l interval -d 'How often to bump (90, 90s, 5m, 1h; 1s to 24h) [default: 60s, or the persisted setting]' -r
complete -c keepalived -l active-within -d 'Keep alive sessions really used within this window (24h, 90m; or `all`) [default: 24h, or the persisted setting]' -r
complete -c keepalived -l schedule -d 'When to write: `policy` (just before sessions would expire) or `interval` (every tick) [default: policy, or interval when openclaw.json cannot be read]' -r -f -a "interval\t''
policy\t''"
complete -c keepalived -l agent -d 'Only serve this agent (repeatable) [default: every agent in the state dir]' -r
complete -c keepalived -l log-file -d 'Write logs to this file instead of stderr, rotated daily (PATH.YYYY-MM-DD, 7 kept)' -r -F
complete -c keepalived -l log-format -d 'Log format: `text` for people, `json` for log shippers' -r -f -a "text\t''
json\t''"
complete -c keepalived -l log-level -d 'Log level or filter (error, warn, info, debug, trace) [default: $RUST_LOG, else info]' -r
complete -c keepalived -l metrics-file -d 'Rewrite this file atomically each tick with the metrics (Prometheus text format)' -r -F
complete -c keepalived -l tick-ms -d 'Test-only: tick every this many milliseconds, beating --interval (for crash and contention tests, which need rounds faster than 1 s)' -r
complete -c keepalived -l lock-timeout -d 'How long to wait for the gateway\'s store lock before skipping a round (at most 60s)' -r
complete -c keepalived -l exit-with -d 'Exit gracefully when this process exits (e.g. the gateway that started keepalived)' -r
complete -c keepalived -l bump-session-start -d 'Also bump sessionStartedAt on json-v2 stores, which stops the daily reset but rewrites each session\'s recorded start'
complete -c keepalived -l once -d 'One pass over the stores, print a summary and exit (replaces update-session-timestamps.sh)'
complete -c keepalived -l dry-run -d 'Compute and log what would be written, write nothing'
complete -c keepalived -s h -l help -d 'Print help'
complete -c keepalived -s V -l version -d 'Print version'
