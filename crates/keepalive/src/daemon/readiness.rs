//! Telling a service manager when keepalived is ready and when it stops
//! (`sd_notify(3)`), so a systemd unit with `Type=notify` starts dependants
//! only once the socket answers. Without `$NOTIFY_SOCKET` (started by hand,
//! by `keepalivectl start`, or by launchd) these do nothing.

use sd_notify::NotifyState;

/// `READY=1`: the socket is bound and the first scan of agents is done.
pub fn ready(status: &str) {
    send(&[NotifyState::Ready, NotifyState::Status(status)]);
}

/// `STOPPING=1`: a graceful shutdown has begun.
pub fn stopping() {
    send(&[
        NotifyState::Stopping,
        NotifyState::Status("finishing in-flight writes"),
    ]);
}

fn send(states: &[NotifyState]) {
    if let Err(e) = sd_notify::notify(states) {
        let socket = std::env::var_os("NOTIFY_SOCKET").unwrap_or_default();
        tracing::warn!(
            "cannot notify the service manager on {} ({e}); it may consider keepalived not ready",
            socket.to_string_lossy()
        );
    }
}
