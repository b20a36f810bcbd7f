//! The socket server: accept connections from our own user only, and serve
//! each as a sequence of request lines answered in order.
//!
//! Connections are bounded in number, in idle time and in how long a reply
//! may wait for a client that does not read: none of them can hold up the
//! daemon or its shutdown, and idle ones make room when all slots are taken.

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use interprocess::local_socket::tokio::{Listener, Stream};
use interprocess::local_socket::traits::StreamCommon as _;
use interprocess::local_socket::traits::tokio::Listener as _;
use keepalive_proto::{
    ErrorBody, ErrorCode, Frame, FrameCodec, MAX_FRAME_BYTES, encode_error, parse_request,
};
use tokio_util::codec::Framed;

use super::handler::handle;
use super::state::Daemon;
use crate::paths::current_uid;

/// Connections served at once; more wait in the kernel's backlog.
const MAX_CONNECTIONS: usize = 512;
/// A connection that sends nothing for this long is closed.
const IDLE_TIMEOUT: Duration = Duration::from_secs(600);
/// When every slot is taken, connections idle for this long make room.
const IDLE_UNDER_PRESSURE: Duration = Duration::from_secs(1);
/// A reply the client does not read within this long closes the connection.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// Accepts until shutdown; dropping the listener then stops new connections.
pub async fn run(daemon: Arc<Daemon>, listener: Listener) {
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    // Idle connections must not lock everyone else out: when every slot is
    // taken, the ones that have been quiet for a moment are asked to close.
    let pressure = Arc::new(tokio::sync::Notify::new());
    loop {
        let slot = match slots.clone().try_acquire_owned() {
            Ok(slot) => slot,
            Err(_) => {
                pressure.notify_waiters();
                let mut ask_again = tokio::time::interval(IDLE_UNDER_PRESSURE);
                loop {
                    tokio::select! {
                        _ = daemon.shutdown.cancelled() => return,
                        _ = ask_again.tick() => pressure.notify_waiters(),
                        slot = slots.clone().acquire_owned() => match slot {
                            Ok(slot) => break slot,
                            Err(_) => return,
                        },
                    }
                }
            }
        };
        let accepted = tokio::select! {
            _ = daemon.shutdown.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok(stream) => {
                let daemon_for_task = daemon.clone();
                let pressure = pressure.clone();
                daemon.connections.spawn(async move {
                    serve(daemon_for_task, stream, &pressure).await;
                    drop(slot);
                });
            }
            Err(e) => {
                // Typically EMFILE under a flood of clients: back off briefly
                // instead of spinning, and keep serving the ones we have.
                tracing::warn!("accept failed: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
    }
}

async fn serve(daemon: Arc<Daemon>, stream: Stream, pressure: &tokio::sync::Notify) {
    let me = current_uid();
    let peer = stream.peer_creds().ok().and_then(|c| c.euid());
    let mut connection = Framed::new(stream, FrameCodec::new());
    if peer != Some(me) {
        tracing::warn!("refused a connection from uid {peer:?}: only uid {me} may use this daemon");
        let refusal = ErrorBody::new(
            ErrorCode::PermissionDenied,
            format!(
                "this keepalived belongs to uid {me}; connections from other users are refused"
            ),
        );
        let _ = tokio::time::timeout(WRITE_TIMEOUT, connection.send(encode_error(&refusal))).await;
        return;
    }
    loop {
        let idle_since = tokio::time::Instant::now();
        let frame = loop {
            tokio::select! {
                _ = daemon.shutdown.cancelled() => return,
                _ = tokio::time::sleep_until(idle_since + IDLE_TIMEOUT) => {
                    tracing::debug!("closing a connection idle for {}s", IDLE_TIMEOUT.as_secs());
                    return;
                }
                _ = pressure.notified() => {
                    if idle_since.elapsed() >= IDLE_UNDER_PRESSURE {
                        tracing::debug!("closing an idle connection to make room for another client");
                        return;
                    }
                }
                frame = connection.next() => break frame,
            }
        };
        let handled = match frame {
            None => return,
            Some(Err(e)) => {
                tracing::debug!("connection closed: {e}");
                return;
            }
            Some(Ok(Frame::Line(line))) => match parse_request(&line) {
                Ok(request) => handle(&daemon, request).await,
                Err(error) => refused(error),
            },
            Some(Ok(Frame::TooLarge)) => refused(ErrorBody::new(
                ErrorCode::FrameTooLarge,
                format!("request line is longer than {MAX_FRAME_BYTES} bytes; it was discarded"),
            )),
            Some(Ok(Frame::InvalidUtf8)) => refused(ErrorBody::new(
                ErrorCode::InvalidUtf8,
                "request line is not valid UTF-8; it was discarded",
            )),
        };
        let line = handled.reply.unwrap_or_else(|error| encode_error(&error));
        match tokio::time::timeout(WRITE_TIMEOUT, connection.send(line)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                tracing::debug!("client went away before its reply: {e}");
                return;
            }
            Err(_) => {
                tracing::warn!(
                    "closing a connection that did not read its replies for {}s",
                    WRITE_TIMEOUT.as_secs()
                );
                return;
            }
        }
        if handled.then_shut_down {
            tracing::info!("shutdown requested by a client");
            daemon.begin_shutdown();
            return;
        }
    }
}

fn refused(error: ErrorBody) -> super::handler::Handled {
    super::handler::Handled {
        reply: Err(error),
        then_shut_down: false,
    }
}
