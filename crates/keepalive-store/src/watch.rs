//! Seeing another writer's write of the store while it is in progress.
//!
//! From 2026.5.2 to 2026.7.35 the gateway takes no lock: it writes
//! `sessions.json.<pid>.<uuid>.tmp` (`sessions.json.<uuid>.tmp` before 2026.6.1) beside the
//! store and renames it over the store. From that file's creation to its rename the gateway's
//! write is in progress, and a rename of ours in that time is either undone by theirs
//! (harmless) or lands just after theirs and undoes it (a lost gateway write). So a round
//! commits only when no foreign temp file of the store is in progress and the store was not
//! replaced since it was read.
//!
//! On Linux an inotify watch on the directory tells this without polling: the kernel queues
//! each create, rename and unlink in the directory inside the system call that makes it, so
//! once the queue is drained, every change made before the drain is known. Elsewhere (or when
//! inotify is exhausted) the directory is listed instead, and a write begun and finished
//! between two listings is left to the identity check and the swap (see `commit.rs`).

use std::collections::HashSet;
use std::ffi::{OsStr, OsString};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use crate::write::TEMP_MARKER;

/// A foreign temp file not written to for this long is abandoned (a writer that crashed
/// mid-write), not in progress. The gateway writes even a 40 MB store in about a second.
pub(crate) const ABANDONED_AFTER: Duration = Duration::from_secs(10);

/// Longest sleep between two looks while waiting, so abandoned files are noticed.
const WAIT_SLICE: Duration = Duration::from_millis(50);

/// Sleep between two listings while waiting without inotify.
const LISTING_SLICE: Duration = Duration::from_millis(20);

/// What another writer is doing to one store's directory, as far as this round knows.
pub(crate) struct WriteWatch {
    dir: PathBuf,
    store_name: OsString,
    /// Foreign temp files of the store that exist and are (as far as we know) being written.
    in_flight: HashSet<OsString>,
    /// The store's name was created, renamed or removed since [`WriteWatch::forget_replaced`].
    replaced: bool,
    /// None where inotify is missing or exhausted (too many watches): then the directory is
    /// listed on every look.
    #[cfg(target_os = "linux")]
    inotify: Option<linux::Inotify>,
}

impl WriteWatch {
    /// Start watching `dir` for writes of `store_name`, and list the writes already in
    /// progress. The watch comes first, so a write begun during the listing is seen too.
    pub fn start(dir: &Path, store_name: &str) -> io::Result<Self> {
        let mut watch = WriteWatch {
            dir: dir.to_path_buf(),
            store_name: store_name.into(),
            in_flight: HashSet::new(),
            replaced: false,
            #[cfg(target_os = "linux")]
            inotify: match linux::Inotify::watch(dir) {
                Ok(inotify) => Some(inotify),
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(e),
                Err(e) => {
                    warn_once_no_inotify(dir, &e);
                    None
                }
            },
        };
        watch.list()?;
        Ok(watch)
    }

    /// No write of another writer is known to be in progress, and the store was not replaced
    /// since the last [`WriteWatch::forget_replaced`]. Only as fresh as the last refresh.
    pub fn quiet(&self) -> bool {
        !self.replaced && self.in_flight.is_empty()
    }

    pub fn replaced(&self) -> bool {
        self.replaced
    }

    /// Called just before the store is read again: older replacements are in that read.
    pub fn forget_replaced(&mut self) {
        self.replaced = false;
    }

    /// Take in what happened since the last look: on Linux one non-blocking read that
    /// allocates only when a foreign temp file appeared.
    pub fn refresh(&mut self) -> io::Result<()> {
        #[cfg(target_os = "linux")]
        if let Some(inotify) = &mut self.inotify {
            let mut overflowed = false;
            let store_name = &self.store_name;
            let in_flight = &mut self.in_flight;
            let replaced = &mut self.replaced;
            inotify.drain(|event| match event {
                linux::Event::Appeared(name) if name == store_name => *replaced = true,
                linux::Event::Gone(name) if name == store_name => *replaced = true,
                linux::Event::Appeared(name) if is_foreign_temp(store_name, name) => {
                    in_flight.insert(name.to_owned());
                }
                linux::Event::Gone(name) => {
                    in_flight.remove(name);
                }
                linux::Event::Appeared(_) => {}
                linux::Event::Lost => overflowed = true,
            })?;
            if overflowed {
                // Events were dropped: assume the worst and start over from a listing.
                self.replaced = true;
                self.list()?;
            }
            return Ok(());
        }
        self.list()
    }

    /// Wait until no foreign write is in progress, or `deadline`, or `cancel`. Returns
    /// whether the directory is quiet of them now. Temp files left by a writer that died are
    /// not waited for (see [`ABANDONED_AFTER`]).
    pub fn wait_for_gap(
        &mut self,
        deadline: Instant,
        cancel: Option<&AtomicBool>,
    ) -> io::Result<bool> {
        loop {
            self.refresh()?;
            self.forget_abandoned();
            if self.in_flight.is_empty() {
                return Ok(true);
            }
            let now = Instant::now();
            if now >= deadline || cancel.is_some_and(|c| c.load(Ordering::Relaxed)) {
                return Ok(false);
            }
            let slice = (deadline - now).min(WAIT_SLICE);
            #[cfg(target_os = "linux")]
            if let Some(inotify) = &self.inotify {
                inotify.wait(slice)?;
                continue;
            }
            // Each look lists the directory (milliseconds with thousands of transcripts).
            std::thread::sleep(slice.min(LISTING_SLICE));
        }
    }

    /// Rebuild the in-progress set from the directory: foreign temp files of the store that
    /// were written to within [`ABANDONED_AFTER`].
    fn list(&mut self) -> io::Result<()> {
        self.in_flight.clear();
        for entry in fs::read_dir(&self.dir)? {
            let entry = entry?;
            let name = entry.file_name();
            if is_foreign_temp(&self.store_name, &name) && !abandoned(&entry.path()) {
                self.in_flight.insert(name);
            }
        }
        Ok(())
    }

    fn forget_abandoned(&mut self) {
        let dir = &self.dir;
        self.in_flight.retain(|name| !abandoned(&dir.join(name)));
    }
}

/// Said once per process, not on every round that writes.
#[cfg(target_os = "linux")]
fn warn_once_no_inotify(dir: &Path, e: &io::Error) {
    static WARNED: AtomicBool = AtomicBool::new(false);
    if !WARNED.swap(true, Ordering::Relaxed) {
        tracing::warn!(dir = %dir.display(), error = %e,
            "cannot watch the store's directory with inotify; listing it before each write \
             instead (slower, and a gateway write begun and ended between two listings is \
             only caught by the swap)");
    }
}

/// Whether `path` is gone, or has not been written to for [`ABANDONED_AFTER`].
fn abandoned(path: &Path) -> bool {
    match fs::symlink_metadata(path).and_then(|m| m.modified()) {
        Ok(modified) => SystemTime::now()
            .duration_since(modified)
            .is_ok_and(|age| age > ABANDONED_AFTER),
        Err(_) => true,
    }
}

/// `<store>.<anything>.tmp` that is not one of keepalive's own temp files: the gateway's
/// `sessions.json.<uuid>.tmp` and `sessions.json.<pid>.<uuid>.tmp`, and any other writer that
/// follows the same convention.
pub(crate) fn is_foreign_temp(store_name: &OsStr, name: &OsStr) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let (store, name) = (store_name.as_bytes(), name.as_bytes());
    name.len() > store.len() + ".tmp".len()
        && name.starts_with(store)
        && name[store.len()] == b'.'
        && name.ends_with(b".tmp")
        && !name
            .windows(TEMP_MARKER.len())
            .any(|w| w == TEMP_MARKER.as_bytes())
}

#[cfg(target_os = "linux")]
pub(crate) mod linux {
    //! The few inotify calls the watch needs.

    use std::ffi::{CString, OsStr};
    use std::io;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    use std::os::unix::ffi::OsStrExt;
    use std::path::Path;
    use std::sync::{OnceLock, mpsc};
    use std::time::Duration;

    /// What the watch asks the kernel for: names appearing and going, and the directory
    /// itself going. Appends to files (transcripts) are not asked for.
    pub const WATCH_EVENTS: u32 = libc::IN_CREATE
        | libc::IN_MOVED_FROM
        | libc::IN_MOVED_TO
        | libc::IN_DELETE
        | libc::IN_DELETE_SELF
        | libc::IN_MOVE_SELF
        | libc::IN_ONLYDIR;

    pub(super) enum Event<'a> {
        /// A name was created or renamed into the directory.
        Appeared(&'a OsStr),
        /// A name was removed or renamed away.
        Gone(&'a OsStr),
        /// The kernel dropped events, or the directory itself went away.
        Lost,
    }

    pub(super) struct Inotify {
        /// Always `Some` until dropped.
        fd: Option<OwnedFd>,
        buf: Box<[u8; 4096]>,
    }

    impl Drop for Inotify {
        /// Closing an inotify descriptor waits in the kernel for its watches to be freed
        /// (10 to 25 ms in a third of closes on an idle machine, nearly always under load;
        /// BENCHMARKS.md): a thread that only closes takes that wait off the round's path.
        fn drop(&mut self) {
            let Some(fd) = self.fd.take() else { return };
            match closer() {
                Some(closer) => {
                    if let Err(returned) = closer.send(fd) {
                        drop(returned.0);
                    }
                }
                None => drop(fd),
            }
        }
    }

    /// The closing thread, started on first use; `None` if it could not be started.
    fn closer() -> Option<&'static mpsc::Sender<OwnedFd>> {
        static CLOSER: OnceLock<Option<mpsc::Sender<OwnedFd>>> = OnceLock::new();
        CLOSER
            .get_or_init(|| {
                let (tx, rx) = mpsc::channel::<OwnedFd>();
                std::thread::Builder::new()
                    .name("keepalive-inotify-close".into())
                    .spawn(move || rx.into_iter().for_each(drop))
                    .ok()
                    .map(|_| tx)
            })
            .as_ref()
    }

    impl Inotify {
        pub fn watch(dir: &Path) -> io::Result<Self> {
            // SAFETY: plain system call; the result is checked.
            let raw = unsafe { libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC) };
            if raw < 0 {
                return Err(io::Error::last_os_error());
            }
            // SAFETY: `raw` is a new descriptor that nothing else owns.
            let fd = unsafe { OwnedFd::from_raw_fd(raw) };
            let path = CString::new(dir.as_os_str().as_bytes())
                .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
            // SAFETY: a valid descriptor and a NUL-terminated path.
            if unsafe { libc::inotify_add_watch(fd.as_raw_fd(), path.as_ptr(), WATCH_EVENTS) } < 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(Inotify {
                fd: Some(fd),
                buf: Box::new([0; 4096]),
            })
        }

        /// Read every queued event without blocking, handing each to `each`.
        fn raw(&self) -> libc::c_int {
            self.fd.as_ref().map_or(-1, AsRawFd::as_raw_fd)
        }

        pub fn drain(&mut self, mut each: impl FnMut(Event<'_>)) -> io::Result<()> {
            let fd = self.raw();
            loop {
                // SAFETY: reading into our own buffer of the given length.
                let n = unsafe { libc::read(fd, self.buf.as_mut_ptr().cast(), self.buf.len()) };
                if n < 0 {
                    let e = io::Error::last_os_error();
                    return match e.kind() {
                        io::ErrorKind::WouldBlock => Ok(()),
                        io::ErrorKind::Interrupted => continue,
                        _ => Err(e),
                    };
                }
                parse(&self.buf[..n as usize], &mut each);
            }
        }

        /// Sleep until an event is queued or `timeout` passes.
        pub fn wait(&self, timeout: Duration) -> io::Result<()> {
            let mut pfd = libc::pollfd {
                fd: self.raw(),
                events: libc::POLLIN,
                revents: 0,
            };
            let ms = libc::c_int::try_from(timeout.as_millis().max(1)).unwrap_or(libc::c_int::MAX);
            // SAFETY: one valid pollfd.
            if unsafe { libc::poll(&mut pfd, 1, ms) } < 0 {
                let e = io::Error::last_os_error();
                if e.kind() != io::ErrorKind::Interrupted {
                    return Err(e);
                }
            }
            Ok(())
        }
    }

    /// `struct inotify_event { int wd; u32 mask; u32 cookie; u32 len; char name[len]; }`,
    /// back to back; the name is NUL-padded.
    fn parse(mut bytes: &[u8], each: &mut impl FnMut(Event<'_>)) {
        const HEADER: usize = 16;
        let u32_at =
            |b: &[u8], at: usize| u32::from_ne_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]);
        while bytes.len() >= HEADER {
            let mask = u32_at(bytes, 4);
            let len = u32_at(bytes, 12) as usize;
            let Some(raw_name) = bytes.get(HEADER..HEADER + len) else {
                each(Event::Lost);
                return;
            };
            let end = raw_name.iter().position(|&b| b == 0).unwrap_or(len);
            let name = OsStr::from_bytes(&raw_name[..end]);
            if mask
                & (libc::IN_Q_OVERFLOW
                    | libc::IN_DELETE_SELF
                    | libc::IN_MOVE_SELF
                    | libc::IN_IGNORED)
                != 0
            {
                each(Event::Lost);
            } else if mask & (libc::IN_CREATE | libc::IN_MOVED_TO) != 0 {
                each(Event::Appeared(name));
            } else if mask & (libc::IN_DELETE | libc::IN_MOVED_FROM) != 0 {
                each(Event::Gone(name));
            }
            bytes = &bytes[HEADER + len..];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn foreign_temp_names() {
        let store = OsStr::new("sessions.json");
        let yes = |n: &str| is_foreign_temp(store, OsStr::new(n));
        assert!(yes(
            "sessions.json.3f1e2a4b-1c2d-4e5f-8a9b-0c1d2e3f4a5b.tmp"
        ));
        assert!(yes(
            "sessions.json.4242.3f1e2a4b-1c2d-4e5f-8a9b-0c1d2e3f4a5b.tmp"
        ));
        assert!(yes("sessions.json.heartbeat.tmp"));
        assert!(!yes("sessions.json.keepalive-123-abc.tmp"), "ours");
        assert!(!yes("sessions.json.tmp"));
        assert!(!yes("sessions.json.lock"));
        assert!(!yes("sessions.jsonx.tmp"));
        assert!(!yes("other.json.abc.tmp"));
        assert!(!yes("0f1e.jsonl"));
    }
}
