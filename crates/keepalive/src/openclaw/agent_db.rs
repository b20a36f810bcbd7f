//! Looking into an agent's own database, `agents/<id>/agent/openclaw-agent.sqlite`,
//! to learn whether it holds that agent's sessions, and to read them. Its existence says
//! nothing: releases 2026.6.11 – 2026.7.35 create it for auth profiles, the memory index
//! and caches (`user_version` 1, no session tables) while sessions stay in
//! `sessions.json`; from 2026.8 the table `session_nodes` holds them (docs/GATEWAY.md).
//!
//! The database belongs to the gateway, so it is only ever read, and reading it must
//! leave every file beside it as it was: no byte changed, no file created or removed,
//! no lock held beyond one short read (the gateway waits out readers with its busy
//! timeout). SQLite's plain read-only mode does not promise that for a WAL database
//! (see `open` below), so the way in is chosen from the files present.

use std::path::{Path, PathBuf};
use std::time::Duration;

use keepalive_store::{EntryInfo, Timestamp};
use rusqlite::types::Value;
use rusqlite::{Connection, OpenFlags};

/// The table that holds the sessions from OpenClaw 2026.8 on.
pub const SESSIONS_TABLE: &str = "session_nodes";

/// How long a read waits for a writer's lock: the gateway's transactions are short,
/// and a round that cannot read now simply writes nothing and tries again next time.
const BUSY_TIMEOUT: Duration = Duration::from_millis(250);

/// What the database says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentDb {
    /// It has the session table: the gateway keeps this agent's sessions here.
    pub holds_sessions: bool,
    /// `PRAGMA user_version` (1 in 2026.6 – 2026.7, 23 in 2026.9.6; 0 when empty).
    pub user_version: i64,
    pub journal: Journal,
}

/// How the file was found, which decides how it can be read without changing it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Journal {
    /// A zero-byte file: SQLite reads it as a database without tables.
    Empty,
    /// Rollback journal (`-journal`): readers only take shared locks.
    Rollback,
    /// Write-ahead log whose `-wal` holds frames (read through SQLite's read-only WAL mode).
    Wal,
    /// Write-ahead log mode with no frames pending: the main file is the whole database.
    WalCheckpointed,
}

/// Why the database could not be read. Each says what to do in its message; none of
/// them lets keepalive guess where the sessions are.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error(
        "{path} is in use in a way that keeps keepalive from reading it now ({detail}); keepalive \
         writes nothing for this agent until it can tell where its sessions are, and retries at \
         its next round. If this lasts, start the gateway once: it finishes or recovers its own \
         database when it opens it"
    )]
    Busy { path: PathBuf, detail: String },
    #[error(
        "{path} is damaged ({detail}): keepalive cannot tell whether it holds this agent's \
         sessions, so it writes nothing for this agent. Run `openclaw doctor` to check the \
         agent's state"
    )]
    Corrupt { path: PathBuf, detail: String },
    #[error(
        "{path} is not an SQLite database ({detail}): keepalive cannot tell whether the gateway \
         keeps this agent's sessions there, so it writes nothing for this agent. Move the file \
         away if it does not belong to OpenClaw, or run `openclaw doctor`"
    )]
    NotADatabase { path: PathBuf, detail: String },
    #[error(
        "{path} may not be read by this user ({detail}): keepalive cannot tell whether it holds \
         this agent's sessions, so it writes nothing for this agent. Run keepalived as the user \
         that runs the gateway"
    )]
    Permission { path: PathBuf, detail: String },
    #[error(
        "{path} could not be read ({detail}): keepalive writes nothing for this agent until it \
         can tell where its sessions are, and retries at its next round"
    )]
    Io { path: PathBuf, detail: String },
}

impl DbError {
    /// The protocol's error for a round that wrote nothing because of this.
    pub fn to_error_body(&self) -> keepalive_proto::ErrorBody {
        use keepalive_proto::ErrorCode;
        let code = match self {
            DbError::Busy { .. } => ErrorCode::StoreBusy,
            DbError::Corrupt { .. } | DbError::NotADatabase { .. } => ErrorCode::StoreInvalid,
            DbError::Permission { .. } | DbError::Io { .. } => ErrorCode::StoreIo,
        };
        keepalive_proto::ErrorBody::new(code, self.to_string())
    }
}

/// Reads the database at `path`: `Ok(None)` when there is none.
pub fn probe(path: &Path) -> Result<Option<AgentDb>, DbError> {
    let found = read(path, || (false, 0), &describe)?;
    Ok(
        found.map(|((holds_sessions, user_version), journal)| AgentDb {
            holds_sessions,
            user_version,
            journal,
        }),
    )
}

/// One session of the session table: what the gateway's reset decision reads of it. The
/// gateway's entry is the JSON in `entry_json` (it refuses a row whose `sessionId` or
/// `updatedAt` there differ from the columns); its members are picked out by SQLite's own
/// JSON functions, so that large entries are never copied out of the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionNode {
    pub key: String,
    /// `current_session_id`: the conversation now behind the key.
    pub session_id: Option<String>,
    /// The entry's `lifecycleRevision`: 2026.8+ reset a session by giving it a new one (and
    /// keep its `sessionId`); none in an entry imported from `sessions.json` until then.
    pub lifecycle_revision: Option<String>,
    /// `updated_at`.
    pub updated_at: Option<u64>,
    /// The entry's `lastInteractionAt` (else the column): what the idle rule reads.
    pub last_interaction_at: Option<u64>,
    /// The entry's `sessionStartedAt`: what the daily rule reads.
    pub session_started_at: Option<u64>,
    /// The entry's `chatType`, which picks `session.resetByType`.
    pub chat_type: Option<String>,
    /// The channel that picks `session.resetByChannel`: an external delivery's
    /// `context.channel`, else its `origin.provider` (the gateway's `sessionDeliveryChannel`).
    pub channel: Option<String>,
    /// `archived_at`: archived by a person; the row stays, and so does its reset rule.
    pub archived_at: Option<u64>,
}

impl SessionNode {
    /// The session as the decisions read a store entry. The spans point nowhere: this
    /// entry is never written.
    pub fn entry(&self) -> EntryInfo {
        let stamp = |value: Option<u64>| match value {
            Some(value) => Timestamp::Integer { value, span: 0..0 },
            None => Timestamp::Missing,
        };
        EntryInfo {
            key: self.key.clone(),
            key_lossy: false,
            updated_at: stamp(self.updated_at),
            last_interaction_at: stamp(self.last_interaction_at),
            session_started_at: stamp(self.session_started_at),
            session_file: None,
            chat_type: self.chat_type.clone(),
            channel: self.channel.clone(),
            last_channel: None,
            session_id: self.session_id.clone(),
        }
    }
}

/// What the database says about itself and, when it holds them, its sessions in key order,
/// read in one go: `Ok(None)` when there is no database.
pub fn sessions(path: &Path) -> Result<Option<(AgentDb, Vec<SessionNode>)>, DbError> {
    let found = read(path, || ((false, 0), Vec::new()), &|db| {
        let (holds_sessions, user_version) = describe(db)?;
        let nodes = if holds_sessions {
            session_nodes(db)?
        } else {
            Vec::new()
        };
        Ok(((holds_sessions, user_version), nodes))
    })?;
    Ok(
        found.map(|(((holds_sessions, user_version), nodes), journal)| {
            let db = AgentDb {
                holds_sessions,
                user_version,
                journal,
            };
            (db, nodes)
        }),
    )
}

/// Whether the session table is there, and `user_version`.
fn describe(db: &Connection) -> rusqlite::Result<(bool, i64)> {
    db.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1 \
         COLLATE NOCASE), (SELECT user_version FROM pragma_user_version)",
        [SESSIONS_TABLE],
        |row| Ok((row.get::<_, bool>(0)?, row.get::<_, i64>(1)?)),
    )
}

/// Every row of the session table. The members of the entry are picked out by one
/// `json_extract` with several paths, so each entry is parsed once (five times faster on
/// 5,000 rows than one call per member); `json_extract` fails the whole statement on
/// malformed JSON, so an entry that is not valid JSON is read as none (its columns still
/// count).
fn session_nodes(db: &Connection) -> rusqlite::Result<Vec<SessionNode>> {
    let mut rows = db.prepare(&format!(
        "SELECT session_key, current_session_id, updated_at, last_interaction_at, archived_at, \
           CASE WHEN json_valid(entry_json) THEN json_extract(entry_json, \
             '$.lastInteractionAt', '$.sessionStartedAt', '$.chatType', '$.lifecycleRevision', \
             '$.delivery.kind', '$.delivery.context.channel', '$.delivery.origin.provider') END \
         FROM {SESSIONS_TABLE} ORDER BY session_key"
    ))?;
    rows.query_map([], |row| {
        let members: Option<String> = text(row.get(5)?);
        let entry: Vec<serde_json::Value> = members
            .and_then(|json| serde_json::from_str(&json).ok())
            .unwrap_or_default();
        let member = |i: usize| entry.get(i).unwrap_or(&serde_json::Value::Null);
        let channel = (member(4).as_str() == Some("external"))
            .then(|| member_text(member(5)).or_else(|| member_text(member(6))))
            .flatten();
        Ok(SessionNode {
            key: row.get(0)?,
            session_id: text(row.get(1)?),
            lifecycle_revision: member_text(member(3)),
            updated_at: time(row.get(2)?),
            last_interaction_at: member_time(member(0)).or(time(row.get(3)?)),
            session_started_at: member_time(member(1)),
            chat_type: member_text(member(2)),
            channel,
            archived_at: time(row.get(4)?),
        })
    })?
    .collect()
}

/// A timestamp of the entry as the gateway reads one (`resolveTimestamp`): a finite
/// number, not negative (one with a fraction is floored to the millisecond).
fn member_time(value: &serde_json::Value) -> Option<u64> {
    value.as_u64().or_else(|| {
        value
            .as_f64()
            .filter(|f| *f >= 0.0)
            .map(|f| f.floor() as u64)
    })
}

fn member_text(value: &serde_json::Value) -> Option<String> {
    value.as_str().map(str::to_owned)
}

/// A timestamp column: an integer, not negative.
fn time(value: Value) -> Option<u64> {
    match value {
        Value::Integer(n) => u64::try_from(n).ok(),
        _ => None,
    }
}

fn text(value: Value) -> Option<String> {
    match value {
        Value::Text(s) => Some(s),
        _ => None,
    }
}

type Query<'a, T> = &'a dyn Fn(&Connection) -> rusqlite::Result<T>;

/// Runs `query` on the database at `path` (`empty()` for a zero-byte file), opened
/// the way that changes no file; `Ok(None)` when there is no database.
fn read<T>(
    path: &Path,
    empty: impl Fn() -> T,
    query: Query<'_, T>,
) -> Result<Option<(T, Journal)>, DbError> {
    // A gateway that starts writing while the file is read as immutable gets one more try.
    match read_once(path, &empty, query) {
        Err(DbError::Busy { .. }) => read_once(path, &empty, query),
        other => other,
    }
}

fn read_once<T>(
    path: &Path,
    empty: &impl Fn() -> T,
    query: Query<'_, T>,
) -> Result<Option<(T, Journal)>, DbError> {
    let before = match Identity::of(path) {
        Ok(identity) => identity,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_error(path, &e)),
    };
    if !before.regular {
        return Err(DbError::NotADatabase {
            path: path.into(),
            detail: "not a regular file".into(),
        });
    }
    let header = read_header(path)?;
    let wal = sibling(path, "-wal");
    let shm = sibling(path, "-shm");
    let wal_frames = std::fs::metadata(&wal).map(|m| m.len() > WAL_HEADER_BYTES);
    if header.is_empty() {
        // SQLite would read this as an empty database, but drop a `-wal` beside it:
        // a file being created is read again next round.
        return match wal_frames {
            Ok(_) => Err(DbError::Busy {
                path: path.into(),
                detail: "empty, with a write-ahead log beside it: being created".into(),
            }),
            Err(_) => Ok(Some((empty(), Journal::Empty))),
        };
    }
    if header.len() < HEADER_BYTES || &header[..16] != b"SQLite format 3\0" {
        return Err(DbError::NotADatabase {
            path: path.into(),
            detail: "no SQLite header".into(),
        });
    }
    let (journal, how) = if header[19] != 2 {
        (Journal::Rollback, "mode=ro")
    } else if wal_frames.unwrap_or(false) {
        if !shm.exists() {
            return Err(DbError::Busy {
                path: path.into(),
                detail: "its write-ahead log has no -shm index beside it, which SQLite cannot \
                         read without creating one; keepalive never creates files there"
                    .into(),
            });
        }
        // The index is opened read-only, so this reader never changes it: with the gateway
        // running it shares the gateway's index; without it SQLite reads the log itself.
        (Journal::Wal, "mode=ro&readonly_shm=1")
    } else {
        // Nothing is pending in a log, so the main file is the whole database. Even a
        // read-only SQLite connection would create `-wal` and `-shm` here (and take
        // locks that can make a gateway starting up fail), so the file is read as
        // immutable: no locks, no side files. A gateway that starts writing meanwhile
        // shows as a change of the file or a new log, checked below.
        (Journal::WalCheckpointed, "mode=ro&immutable=1")
    };
    let found = open(path, how).and_then(|db| query(&db).map_err(|e| sqlite_error(path, &e)));
    // Read as immutable, a file the gateway wrote meanwhile can read as anything, damaged
    // included: whatever came of the read, a change means "busy, read again", never a verdict
    // on the file.
    if journal == Journal::WalCheckpointed {
        let log_appeared = std::fs::metadata(&wal).is_ok_and(|m| m.len() > WAL_HEADER_BYTES);
        if log_appeared || Identity::of(path).ok() != Some(before) {
            return Err(DbError::Busy {
                path: path.into(),
                detail: "it changed while it was read".into(),
            });
        }
    }
    Ok(Some((found?, journal)))
}

/// The 100-byte database header (<https://sqlite.org/fileformat.html>).
const HEADER_BYTES: usize = 100;
/// A `-wal` no longer than its own header holds no frames.
const WAL_HEADER_BYTES: u64 = 32;

fn read_header(path: &Path) -> Result<Vec<u8>, DbError> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(|e| io_error(path, &e))?;
    let mut header = Vec::with_capacity(HEADER_BYTES);
    file.take(HEADER_BYTES as u64)
        .read_to_end(&mut header)
        .map_err(|e| io_error(path, &e))?;
    Ok(header)
}

/// What tells a rewritten or extended file from the one first seen.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Identity {
    regular: bool,
    dev: u64,
    ino: u64,
    len: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl Identity {
    fn of(path: &Path) -> std::io::Result<Self> {
        use std::os::unix::fs::MetadataExt;
        let m = std::fs::metadata(path)?;
        Ok(Identity {
            regular: m.is_file(),
            dev: m.dev(),
            ino: m.ino(),
            len: m.len(),
            mtime: (m.mtime(), m.mtime_nsec()),
            ctime: (m.ctime(), m.ctime_nsec()),
        })
    }
}

/// A read-only connection. `SQLITE_OPEN_READ_ONLY` alone is not enough for a WAL
/// database: SQLite creates a missing `-wal`/`-shm` (it opens them read-write when the
/// directory allows), truncates and rebuilds an `-shm` no other process has open, writes
/// its read marks into the `-shm` of a live writer (all three seen in the unit tests),
/// and checkpoints (writes the main file and deletes the log) when the last connection
/// closes. `readonly_shm`/`immutable` in `how` rule out the first three; the last is
/// switched off here.
fn open(path: &Path, how: &str) -> Result<Connection, DbError> {
    let uri = format!("file:{}?{how}", uri_path(path));
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
        | OpenFlags::SQLITE_OPEN_URI
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let db = Connection::open_with_flags(&uri, flags).map_err(|e| sqlite_error(path, &e))?;
    db.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE,
        true,
    )
    .map_err(|e| sqlite_error(path, &e))?;
    db.busy_timeout(BUSY_TIMEOUT)
        .map_err(|e| sqlite_error(path, &e))?;
    Ok(db)
}

/// `path` as the path part of an SQLite URI: every byte but the unreserved ones
/// percent-encoded (so `?`, `#`, `%` and non-UTF-8 names survive).
fn uri_path(path: &Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    let mut out = String::new();
    for &b in path.as_os_str().as_bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

fn io_error(path: &Path, e: &std::io::Error) -> DbError {
    let (path, detail) = (path.to_path_buf(), e.to_string());
    match e.kind() {
        std::io::ErrorKind::PermissionDenied => DbError::Permission { path, detail },
        std::io::ErrorKind::IsADirectory => DbError::NotADatabase {
            path,
            detail: "a directory".into(),
        },
        _ => DbError::Io { path, detail },
    }
}

fn sqlite_error(path: &Path, e: &rusqlite::Error) -> DbError {
    use rusqlite::ffi::ErrorCode as C;
    let (path, detail) = (path.to_path_buf(), e.to_string());
    let rusqlite::Error::SqliteFailure(failure, _) = e else {
        return DbError::Io { path, detail };
    };
    match failure.code {
        C::DatabaseBusy | C::DatabaseLocked => DbError::Busy { path, detail },
        // A hot journal or a WAL index only a writer may rebuild: the gateway does that.
        C::ReadOnly => DbError::Busy { path, detail },
        C::DatabaseCorrupt => DbError::Corrupt { path, detail },
        C::NotADatabase => DbError::NotADatabase { path, detail },
        C::PermissionDenied | C::AuthorizationForStatementDenied => {
            DbError::Permission { path, detail }
        }
        _ => DbError::Io { path, detail },
    }
}

#[cfg(test)]
mod tests;
