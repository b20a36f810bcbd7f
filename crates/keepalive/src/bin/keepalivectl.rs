//! `keepalivectl`: the client. See `keepalive::client`.

use clap::Parser;
use keepalive::cli::CtlArgs;

fn main() {
    let args = CtlArgs::parse();
    let code = keepalive::client::main(args);
    std::process::exit(code);
}
