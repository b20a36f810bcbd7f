//! keepalive-bench: keepalive against the shell+jq baseline and the hardware floor, in the
//! same run, with ratios (issue 6).
//!
//! ```sh
//! cargo build --release -p keepalive          # keepalived and keepalivectl, which it runs
//! cargo run --release -p keepalive-bench -- all
//! ```
//!
//! Nothing here asserts a time: the numbers are printed, never judged.

mod client;
mod commit;
mod gateway_sim;
mod idle;
mod race;
mod resets;
mod round;
mod sqlite;
mod store;
mod util;
mod wpd;

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};

use crate::store::Size;

#[derive(Parser)]
#[command(
    name = "keepalive-bench",
    about = "Benchmarks keepalive against the jq baseline and the floor"
)]
struct Cli {
    /// Tiny sizes and few iterations (the smoke test).
    #[arg(long, global = true)]
    quick: bool,
    /// Directory holding the `keepalived` and `keepalivectl` to run (default: next to this
    /// binary, else target/release of this workspace).
    #[arg(long, global = true)]
    bin_dir: Option<PathBuf>,
    /// The jq baseline script (default: ../shared/baseline/update-session-timestamps.sh).
    #[arg(long, global = true)]
    baseline: Option<PathBuf>,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand, Clone, Copy, PartialEq, Eq)]
enum Cmd {
    /// One round on one store: keepalive vs floor vs jq baseline, lock hold, peak RSS.
    Round,
    /// `keepalivectl touch KEY` as a process vs spawning `--version` plus one durable write.
    Touch,
    /// 500 concurrent touches on one agent: acknowledgements, store writes, wall time.
    Burst,
    /// A gateway simulator's locked updates lost to the baseline script, and to keepalived.
    Race,
    /// Daemon CPU and RSS over a fixed window with 10 agents at the default interval.
    Idle,
    /// Store writes in a simulated day, policy vs interval schedule.
    WritesPerDay,
    /// What the lock-free-release mitigation adds to a round: the watch's listing of a big
    /// sessions directory, and the window under the lock from the checks to the swap.
    Commit,
    /// What noticing resets adds to a tick round on the 40 MB store: the look at every session
    /// and its comparison with the last one, and the ledger that keeps it
    Resets,
    /// What an SQLite agent's tick costs now that its sessions are read every round: 5,000
    /// sessions, small and large entries
    Sqlite,
    /// Everything above. Every command ends with its results as Markdown.
    All,
}

/// One benchmark's results: a table and notes.
pub struct Section {
    pub name: &'static str,
    pub title: String,
    pub headers: Vec<String>,
    pub rows: Vec<Vec<String>>,
    pub notes: Vec<String>,
}

impl Section {
    pub fn new(name: &'static str, title: &str, headers: &[&str]) -> Section {
        Section {
            name,
            title: title.into(),
            headers: headers.iter().map(|h| h.to_string()).collect(),
            rows: Vec::new(),
            notes: Vec::new(),
        }
    }
    pub fn row(&mut self, row: Vec<String>) {
        self.rows.push(row);
    }
    pub fn note(&mut self, note: &str) {
        self.notes.push(note.into());
    }

    /// A readable aligned table for the terminal.
    pub fn text(&self) -> String {
        let mut out = format!("== {} — {}\n", self.name, self.title);
        // One record per row, "header: value", which stays readable with many columns.
        let width = self
            .headers
            .iter()
            .map(|h| h.chars().count())
            .max()
            .unwrap_or(0);
        for (i, row) in self.rows.iter().enumerate() {
            if self.rows.len() > 1 {
                out.push_str(&format!("  [{}]\n", i + 1));
            }
            for (h, v) in self.headers.iter().zip(row) {
                out.push_str(&format!("  {h:<width$}  {v}\n"));
            }
        }
        for n in &self.notes {
            out.push_str(&format!("  note: {n}\n"));
        }
        out
    }

    pub fn markdown(&self) -> String {
        let mut out = format!("### {} — {}\n\n", self.name, self.title);
        out.push_str(&format!("| {} |\n", self.headers.join(" | ")));
        out.push_str(&format!("|{}\n", "---|".repeat(self.headers.len())));
        for row in &self.rows {
            out.push_str(&format!("| {} |\n", row.join(" | ")));
        }
        if !self.notes.is_empty() {
            out.push('\n');
            for n in &self.notes {
                out.push_str(&format!("- {n}\n"));
            }
        }
        out.push('\n');
        out
    }
}

fn main() {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if args.len() > 2 && args[1] == "__rss" {
        util::rss_helper(&args[2..]);
    }
    if args.len() > 1 && args[1] == "gateway-sim" {
        gateway_sim::gateway_sim_main(&args[1..]);
    }
    let cli = Cli::parse();
    let quick = cli.quick;
    let wants = |c: Cmd| cli.command == c || cli.command == Cmd::All;
    let bins = if matches!(cli.command, Cmd::WritesPerDay | Cmd::Commit | Cmd::Resets) {
        None
    } else {
        match util::find_bin_dir(cli.bin_dir.clone()) {
            Ok(dir) => Some(dir),
            Err(e) => {
                eprintln!("keepalive-bench: {e}");
                std::process::exit(2);
            }
        }
    };
    let baseline = cli.baseline.clone().or_else(round::default_baseline);
    if let Some(b) = &bins {
        println!("binaries: {}", b.display());
    }
    let mut sections = Vec::new();
    let mut emit = |s: Section| {
        println!("{}", s.text());
        sections.push(s);
    };
    if wants(Cmd::Round) {
        let plans: Vec<round::Plan> = if quick {
            vec![round::Plan {
                size: Size::SMALL,
                runs: 3,
                baseline_runs: 1,
            }]
        } else {
            vec![
                round::Plan {
                    size: Size::SMALL,
                    runs: 30,
                    baseline_runs: 30,
                },
                round::Plan {
                    size: Size {
                        entries: 364,
                        bytes: 5_300_000,
                    },
                    runs: 20,
                    baseline_runs: 10,
                },
                round::Plan {
                    size: Size {
                        entries: 1035,
                        bytes: 40_000_000,
                    },
                    runs: 9,
                    baseline_runs: 5,
                },
            ]
        };
        emit(round::run(
            bins.as_deref().expect("bins"),
            &plans,
            baseline.as_deref(),
        ));
    }
    if wants(Cmd::Touch) {
        emit(client::touch(
            bins.as_deref().expect("bins"),
            if quick { 3 } else { 50 },
        ));
    }
    if wants(Cmd::Burst) {
        emit(client::burst(
            bins.as_deref().expect("bins"),
            if quick { 20 } else { 500 },
        ));
    }
    if wants(Cmd::Race) {
        let plan = if quick {
            race::Plan {
                size: Size::SMALL,
                updates: 30,
                interval: Duration::from_millis(2),
                clients: 20,
            }
        } else {
            race::Plan {
                size: Size {
                    entries: 364,
                    bytes: 5_300_000,
                },
                updates: 300,
                interval: Duration::from_millis(5),
                clients: 500,
            }
        };
        emit(race::run(
            bins.as_deref().expect("bins"),
            &plan,
            baseline.as_deref(),
        ));
    }
    if wants(Cmd::Idle) {
        let (window, warmup) = if quick {
            (Duration::from_secs(3), Duration::from_millis(500))
        } else {
            (Duration::from_secs(60), Duration::from_secs(3))
        };
        emit(idle::run(
            bins.as_deref().expect("bins"),
            10,
            window,
            warmup,
        ));
    }
    if wants(Cmd::WritesPerDay) {
        emit(wpd::run(20));
    }
    if wants(Cmd::Commit) {
        emit(commit::run(&if quick {
            commit::Plan {
                rounds: 10,
                transcripts: 500,
            }
        } else {
            commit::Plan {
                rounds: 400,
                transcripts: 5_000,
            }
        }));
    }
    if wants(Cmd::Resets) {
        emit(resets::run(
            if quick {
                Size::SMALL
            } else {
                Size {
                    entries: 1035,
                    bytes: 40_000_000,
                }
            },
            if quick { 3 } else { 15 },
        ));
    }
    if wants(Cmd::Sqlite) {
        let dbs: &[sqlite::Db] = if quick {
            &[sqlite::Db {
                sessions: 50,
                padding: 0,
            }]
        } else {
            &[
                sqlite::Db {
                    sessions: 5_000,
                    padding: 750,
                },
                sqlite::Db {
                    sessions: 5_000,
                    padding: 7_750,
                },
            ]
        };
        emit(sqlite::run(dbs, if quick { 3 } else { 30 }));
    }
    println!("---- Markdown (for BENCHMARKS.md) ----\n");
    for s in &sections {
        print!("{}", s.markdown());
    }
}
