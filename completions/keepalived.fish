complete -c keepalived -l state-dir -d 'OpenClaw state dir [default: $OPENCLAW_STATE_DIR, else ~/.openclaw]' -r -F
complete -c keepalived -l socket -d 'Unix socket to listen on [default: $XDG_RUNTIME_DIR/keepalive/keepalived.sock]' -r -F
complete -c keepalived -l interval -d 'How often to bump (90, 90s, 5m, 1h; 1s to 24h) [default: 60s, or the persisted setting]' -r
complete -c keepalived -l agent -d 'Only serve this agent (repeatable) [default: every agent in the state dir]' -r
complete -c keepalived -l log-file -d 'Append logs to this file instead of stderr' -r -F
complete -c keepalived -l lock-timeout -d 'How long to wait for the gateway\'s store lock before skipping a round' -r
complete -c keepalived -l once -d 'One pass over the stores, print a summary and exit (replaces update-session-timestamps.sh)'
complete -c keepalived -l dry-run -d 'Compute and log what would be written, write nothing'
complete -c keepalived -s h -l help -d 'Print help'
complete -c keepalived -s V -l version -d 'Print version'
