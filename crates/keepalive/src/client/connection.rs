//! A client connection: one request line out, one reply line back.

use std::path::{Path, PathBuf};

use futures_util::{SinkExt, StreamExt};
use interprocess::local_socket::tokio::Stream;
use interprocess::local_socket::traits::tokio::Stream as _;
use interprocess::local_socket::{GenericFilePath, ToFsName};
use keepalive_proto::{
    ErrorBody, ErrorCode, Frame, FrameCodec, MAX_REPLY_BYTES, Reply, Request, decode_reply,
};
use tokio_util::codec::Framed;

use crate::cli::exit;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("keepalived is not running (no daemon on {}); start it with `keepalivectl start`", socket.display())]
    NotRunning { socket: PathBuf },
    #[error("cannot talk to keepalived on {}: {source}; check that the socket is yours (`ls -l {}`) or pass --socket", socket.display(), socket.display())]
    Io {
        socket: PathBuf,
        source: std::io::Error,
    },
    #[error("keepalived closed the connection on {} without replying (did it stop?)", socket.display())]
    Closed { socket: PathBuf },
    #[error("{}", .0.message)]
    Daemon(ErrorBody),
    #[error("{0}")]
    Failed(String),
}

impl ClientError {
    pub fn exit_code(&self) -> i32 {
        match self {
            ClientError::NotRunning { .. } => exit::NOT_RUNNING,
            _ => exit::FAILED,
        }
    }

    /// Whether this is what a daemon that has stopped (or is stopping) looks like to a client
    /// that was just talking to it: no socket, a refused or cut connection, no reply, or its
    /// own "shutting down".
    pub fn daemon_stopped(&self) -> bool {
        use std::io::ErrorKind;
        match self {
            ClientError::NotRunning { .. } | ClientError::Closed { .. } => true,
            ClientError::Daemon(body) => body.code == ErrorCode::ShuttingDown,
            ClientError::Io { source, .. } => matches!(
                source.kind(),
                ErrorKind::ConnectionReset
                    | ErrorKind::ConnectionAborted
                    | ErrorKind::BrokenPipe
                    | ErrorKind::UnexpectedEof
            ),
            ClientError::Failed(_) => false,
        }
    }
}

pub struct Connection {
    socket: PathBuf,
    framed: Framed<Stream, FrameCodec>,
}

impl Connection {
    /// Connects; "no such file" and "connection refused" mean no daemon.
    pub async fn connect(socket: &Path) -> Result<Self, ClientError> {
        let io = |source| ClientError::Io {
            socket: socket.into(),
            source,
        };
        let name = socket.to_fs_name::<GenericFilePath>().map_err(io)?;
        let stream = match Stream::connect(name).await {
            Ok(stream) => stream,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
                ) =>
            {
                return Err(ClientError::NotRunning {
                    socket: socket.into(),
                });
            }
            Err(e) => return Err(io(e)),
        };
        Ok(Connection {
            socket: socket.into(),
            framed: Framed::new(stream, FrameCodec::with_max_length(MAX_REPLY_BYTES)),
        })
    }

    /// Sends `request` and returns the raw reply line and its decoded form.
    pub async fn request(&mut self, request: &Request) -> Result<(String, Reply), ClientError> {
        let io = |source| ClientError::Io {
            socket: self.socket.clone(),
            source,
        };
        // A daemon that refuses a connection answers and closes at once, so
        // the send may fail while its answer already waits to be read.
        let sent = self.framed.send(request.to_line()).await;
        let line = match (self.framed.next().await, sent) {
            (Some(Ok(Frame::Line(line))), _) => line,
            (Some(Ok(_)), _) => {
                return Err(ClientError::Failed(
                    "keepalived sent an unreadable reply".into(),
                ));
            }
            (Some(Err(e)), sent) => return Err(io(sent.err().unwrap_or(e))),
            (None, Err(e)) => return Err(io(e)),
            (None, Ok(())) => {
                return Err(ClientError::Closed {
                    socket: self.socket.clone(),
                });
            }
        };
        let reply = decode_reply(&line).map_err(ClientError::Daemon)?;
        Ok((line, reply))
    }
}

/// Connects, sends one request, and returns the result or the daemon's error.
pub async fn call<T: serde::de::DeserializeOwned>(
    socket: &Path,
    request: &Request,
) -> Result<(String, T), ClientError> {
    let mut connection = Connection::connect(socket).await?;
    let (line, reply) = connection.request(request).await?;
    let result = reply.into_result().map_err(ClientError::Daemon)?;
    Ok((line, result))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stopped_daemon_is_told_from_other_failures() {
        let socket = PathBuf::from("/run/k.sock");
        let io = |kind| ClientError::Io {
            socket: socket.clone(),
            source: std::io::Error::from(kind),
        };
        let refused = |code| ClientError::Daemon(ErrorBody::new(code, "no"));
        for stopped in [
            ClientError::NotRunning {
                socket: socket.clone(),
            },
            ClientError::Closed {
                socket: socket.clone(),
            },
            refused(ErrorCode::ShuttingDown),
            io(std::io::ErrorKind::ConnectionReset),
            io(std::io::ErrorKind::BrokenPipe),
        ] {
            assert!(stopped.daemon_stopped(), "{stopped}");
        }
        for failed in [
            refused(ErrorCode::InvalidArgument),
            refused(ErrorCode::Internal),
            io(std::io::ErrorKind::PermissionDenied),
            ClientError::Failed("keepalived sent an unreadable reply".into()),
        ] {
            assert!(!failed.daemon_stopped(), "{failed}");
        }
    }
}
