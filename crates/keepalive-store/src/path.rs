//! Where a file sits: the one split of a path into its directory and file name that every
//! file keepalive puts beside another (a staged copy, a lock, a rotated log) starts from.

use std::ffi::OsStr;
use std::path::Path;

/// The directory `path` sits in and its file name. A path with no directory part
/// (`sessions.json`) sits in `.`: [`Path::parent`] gives an empty path there, which no system
/// call accepts as a directory. The name is `None` for a path ending in `..` or for `/`;
/// each caller decides what that means for it.
pub fn dir_and_name(path: &Path) -> (&Path, Option<&OsStr>) {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    (dir, path.file_name())
}
