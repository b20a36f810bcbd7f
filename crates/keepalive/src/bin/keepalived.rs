//! `keepalived`: the daemon. See `keepalive::daemon`.

use clap::Parser;
use keepalive::cli::{DaemonArgs, exit};

fn main() {
    let args = DaemonArgs::parse();
    let logs_to_file = args.log_file.is_some();
    if let Err(e) = keepalive::logging::init(
        args.log_file.as_deref(),
        args.log_format,
        args.log_level.as_deref(),
    ) {
        eprintln!("keepalived: {e}");
        std::process::exit(exit::FAILED);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("keepalived: cannot start the async runtime: {e}");
            std::process::exit(exit::FAILED);
        }
    };
    let result = if args.once {
        runtime.block_on(keepalive::daemon::run_once(args))
    } else {
        runtime.block_on(keepalive::daemon::run(args))
    };
    if let Err(e) = result {
        // Logs on stderr already carry the error; a log file needs it too,
        // and the person who started the daemon needs it on the terminal.
        tracing::error!("{e}");
        if logs_to_file {
            eprintln!("keepalived: {e}");
        }
        std::process::exit(e.exit_code());
    }
}
