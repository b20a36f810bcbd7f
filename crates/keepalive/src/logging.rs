//! Logging: human lines or JSON, to stderr or to a daily-rotated file that
//! never grows without bound; and finding those files for `keepalivectl logs`.

use std::path::{Path, PathBuf};

use tracing_subscriber::EnvFilter;

use crate::cli::LogFormat;

/// Rotated files kept beside the current one.
pub const KEPT_LOG_FILES: usize = 7;

/// Sets up `tracing`. `level` (the flag) beats `$RUST_LOG`; the default is info.
pub fn init(file: Option<&Path>, format: LogFormat, level: Option<&str>) -> Result<(), String> {
    let filter = match level {
        Some(level) => EnvFilter::try_new(level).map_err(|e| {
            format!("--log-level {level:?} is not a level or filter ({e}); use e.g. info or debug")
        })?,
        None => EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    match file {
        Some(path) => {
            let appender = rolling_appender(path)?;
            match format {
                LogFormat::Text => builder.with_ansi(false).with_writer(appender).init(),
                LogFormat::Json => builder.json().with_writer(appender).init(),
            }
        }
        None => {
            use std::io::IsTerminal;
            let ansi = std::io::stderr().is_terminal();
            match format {
                LogFormat::Text => builder.with_ansi(ansi).with_writer(std::io::stderr).init(),
                LogFormat::Json => builder.json().with_writer(std::io::stderr).init(),
            }
        }
    }
    Ok(())
}

/// `PATH.YYYY-MM-DD`, a new file each day, the oldest beyond
/// [`KEPT_LOG_FILES`] removed.
fn rolling_appender(path: &Path) -> Result<tracing_appender::rolling::RollingFileAppender, String> {
    let (dir, name) = keepalive_store::dir_and_name(path);
    let name = name
        .and_then(|n| n.to_str())
        .ok_or_else(|| format!("--log-file {} does not name a file", path.display()))?;
    std::fs::create_dir_all(dir)
        .map_err(|e| format!("cannot create log directory {}: {e}", dir.display()))?;
    tracing_appender::rolling::Builder::new()
        .rotation(tracing_appender::rolling::Rotation::DAILY)
        .filename_prefix(name)
        .max_log_files(KEPT_LOG_FILES)
        .build(dir)
        .map_err(|e| format!("cannot open log file {}: {e}", path.display()))
}

/// The log files of `--log-file PATH`, oldest first: the rotated
/// `PATH.YYYY-MM-DD` files (their names sort by date).
pub fn log_files(path: &Path) -> Vec<PathBuf> {
    let (dir, name) = keepalive_store::dir_and_name(path);
    let Some(name) = name.and_then(|n| n.to_str()) else {
        return Vec::new();
    };
    let prefix = format!("{name}.");
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_str()
                .is_some_and(|n| n.starts_with(&prefix))
        })
        .map(|e| e.path())
        .collect();
    files.sort();
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_rotated_files_in_date_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        let base = dir.path().join("keepalived.log");
        for name in [
            "keepalived.log.2026-11-24",
            "keepalived.log.2026-11-22",
            "other.log.2026-11-23",
        ] {
            std::fs::write(dir.path().join(name), "x").expect("write");
        }
        let found: Vec<String> = log_files(&base)
            .iter()
            .map(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .unwrap_or_default()
                    .to_string()
            })
            .collect();
        assert_eq!(
            found,
            ["keepalived.log.2026-11-22", "keepalived.log.2026-11-24"]
        );
    }
}
