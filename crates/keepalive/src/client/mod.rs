//! `keepalivectl`: turns a command line into requests and prints replies.

/// `println!` for the client's output: when stdout is closed early
/// (`keepalivectl status | head -1`) the output just ends, without a panic.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}

mod commands;
mod connection;
mod doctor;
mod logs;
mod output;
mod resets;
mod service;
mod start;

pub use connection::{ClientError, Connection, call};

use crate::cli::{CtlArgs, CtlCommand, exit};
use crate::paths::socket_path;

/// Runs one command and returns the process exit code.
pub fn main(args: CtlArgs) -> i32 {
    if let CtlCommand::Completions { shell } = &args.command {
        commands::completions(*shell);
        return exit::OK;
    }
    let socket = match socket_path(args.socket.as_deref()) {
        Ok(socket) => socket,
        Err(e) => {
            eprintln!("keepalivectl: {e}");
            return exit::FAILED;
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("keepalivectl: cannot start the async runtime: {e}");
            return exit::FAILED;
        }
    };
    let json = args.json;
    match runtime.block_on(commands::run(args.command, &socket, json)) {
        Ok(()) => exit::OK,
        Err(e) => {
            if json && let ClientError::Daemon(body) = &e {
                outln!("{}", keepalive_proto::encode_error(body));
            }
            eprintln!("keepalivectl: {e}");
            e.exit_code()
        }
    }
}
