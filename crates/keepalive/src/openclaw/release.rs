//! OpenClaw release numbers, and what each release line does with sessions
//! (docs/GATEWAY.md, "The release lines"): which reset policy applies when
//! `openclaw.json` sets none, how an idle rule without minutes resolves,
//! which timestamps decide staleness, whether the store lock is honoured,
//! where the sessions live.
//!
//! keepalive uses one release's rules when it knows the release it faces
//! ([`Facing::Known`]). When it does not, it considers every line the
//! store's own shape allows ([`Facing::Unknown`]): assumptions may make it
//! write earlier, never make it give up on a session in use.

use std::fmt;
use std::str::FromStr;

use super::reset::Mode;

/// An OpenClaw release, e.g. `2026.6.35` (year, month, patch). Pre-release
/// and re-publish suffixes (`-beta.1`, `-1`) are ignored: they carry the
/// rules of the release they precede or repeat.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Release {
    pub year: u16,
    pub month: u8,
    pub patch: u16,
}

impl Release {
    pub const fn new(year: u16, month: u8, patch: u16) -> Self {
        Release { year, month, patch }
    }

    pub const fn triple(self) -> (u16, u8, u16) {
        (self.year, self.month, self.patch)
    }
}

impl fmt::Display for Release {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.year, self.month, self.patch)
    }
}

/// A string that is not an OpenClaw release number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not an OpenClaw release number (expected YEAR.MONTH.PATCH, e.g. 2026.6.35)")]
pub struct NotARelease(pub String);

impl FromStr for Release {
    type Err = NotARelease;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || NotARelease(s.to_string());
        let core = s.trim().trim_start_matches('v');
        let core = core.split(['-', '+']).next().unwrap_or_default();
        let mut parts = core.split('.');
        let mut next = || parts.next().ok_or_else(bad);
        let year: u16 = next()?.parse().map_err(|_| bad())?;
        let month: u8 = next()?.parse().map_err(|_| bad())?;
        let patch: u16 = next()?.parse().map_err(|_| bad())?;
        if parts.next().is_some() || !(1..=12).contains(&month) || year < 2000 {
            return Err(bad());
        }
        Ok(Release { year, month, patch })
    }
}

/// The changes keepalive depends on, each at the first release that has it
/// (verified on the packages; see docs/GATEWAY.md for the evidence).
pub mod changes {
    use super::Release;
    /// Mode idle without `idleMinutes` (or with 0) stops meaning 60 (or 1)
    /// minutes and means no idle expiry. 2026.3.13 is the last release with
    /// the old meaning.
    pub const IDLE_ZERO_MEANS_NONE: Release = Release::new(2026, 3, 22);
    /// Freshness reads `lastInteractionAt` (idle) and `sessionStartedAt`
    /// (daily), falling back to `updatedAt`. 2026.4.24 reads `updatedAt` only.
    pub const SPLIT_TIMESTAMPS: Release = Release::new(2026, 4, 25);
    /// A session is reused only when its `updatedAt` is a finite number
    /// (2026.4.12 reuses any; 2026.4.24 is the first seen to check).
    pub const UPDATED_AT_REQUIRED: Release = Release::new(2026, 4, 24);
    /// The `gateway:shutdown` hook event.
    pub const SHUTDOWN_EVENT: Release = Release::new(2026, 4, 29);
    /// The store is written through an in-process queue that ignores
    /// `sessions.json.lock`. 2026.4.29 is the last release taking the lock.
    pub const NO_STORE_LOCK: Release = Release::new(2026, 5, 2);
    /// Sessions live in SQLite; no reset unless configured; `updatedAt` 0
    /// means a reset is owed. 2026.7.35 is the last `sessions.json` release.
    pub const SQLITE_SESSIONS: Release = Release::new(2026, 8, 1);
    /// Yesterday's daily boundary is "yesterday at the hour" again: before,
    /// it was today's boundary moved back a day, an hour late after a
    /// spring-forward gap (seen in 2026.8.2, fixed in 2026.9.6).
    pub const DST_FIX: Release = Release::new(2026, 9, 1);
}

/// What one release does, as far as keepalive is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReleaseRules {
    /// The release, or the first release of the line these rules stand for.
    pub release: Release,
    /// The mode when `openclaw.json` sets none: daily at 4 in every
    /// `sessions.json` release, none in the SQLite releases. No release has
    /// an idle rule by default.
    pub default_mode: Mode,
    /// Mode idle with `idleMinutes` missing or 0 means 60 (missing) or 1
    /// (explicit 0) minutes; from 2026.3.22 both mean no idle expiry.
    pub idle_zero_is_a_window: bool,
    /// Freshness reads `lastInteractionAt` / `sessionStartedAt` before
    /// `updatedAt`.
    pub split_timestamps: bool,
    /// `updatedAt === 0` always means stale (a reset is owed), and mode
    /// `none` means fresh before any rule is looked at.
    pub zero_updated_at_is_stale: bool,
    /// A session without a numeric `updatedAt` is not reused (stale).
    pub updated_at_required: bool,
    /// `resetByType` entries inherit the base mode (unless it is `none`),
    /// a rule without a mode means daily, and neither the legacy `dm` type
    /// nor the legacy top-level `idleMinutes` is read.
    pub type_inherits_base: bool,
    /// Yesterday's boundary is today's moved back a day (an hour late
    /// after a spring-forward gap).
    pub dst_quirk: bool,
    /// The gateway takes `sessions.json.lock` before writing its store.
    pub store_lock: bool,
    /// Sessions live in the agent's SQLite database.
    pub sessions_in_sqlite: bool,
    /// The hook event `gateway:shutdown` exists.
    pub shutdown_event: bool,
}

impl ReleaseRules {
    pub fn of(release: Release) -> Self {
        use changes::*;
        let sqlite = release >= SQLITE_SESSIONS;
        ReleaseRules {
            release,
            default_mode: if sqlite { Mode::None } else { Mode::Daily },
            idle_zero_is_a_window: release < IDLE_ZERO_MEANS_NONE,
            split_timestamps: release >= SPLIT_TIMESTAMPS,
            zero_updated_at_is_stale: sqlite,
            updated_at_required: release >= UPDATED_AT_REQUIRED,
            type_inherits_base: sqlite,
            dst_quirk: release < DST_FIX,
            store_lock: release < NO_STORE_LOCK,
            sessions_in_sqlite: sqlite,
            shutdown_event: release >= SHUTDOWN_EVENT,
        }
    }
}

impl ReleaseRules {
    /// The release line these rules belong to, as in docs/GATEWAY.md's table.
    pub fn line(&self) -> &'static str {
        use changes::*;
        let r = self.release;
        if r < IDLE_ZERO_MEANS_NONE {
            "up to 2026.3.13"
        } else if r < UPDATED_AT_REQUIRED {
            "2026.3.22 to 2026.4.23"
        } else if r < SPLIT_TIMESTAMPS {
            "2026.4.24"
        } else if r < NO_STORE_LOCK {
            "2026.4.25 to 2026.4.29"
        } else if r < SQLITE_SESSIONS {
            "2026.5.2 to 2026.7.35"
        } else if r < DST_FIX {
            "2026.8"
        } else {
            "2026.9 and later"
        }
    }
}

/// One release standing for each line of the table in docs/GATEWAY.md, both
/// sides of each change: what keepalive considers when it does not know.
pub const LINES: [Release; 8] = [
    Release::new(2026, 3, 13),
    changes::IDLE_ZERO_MEANS_NONE,
    Release::new(2026, 4, 23),
    changes::UPDATED_AT_REQUIRED,
    changes::SPLIT_TIMESTAMPS,
    changes::NO_STORE_LOCK,
    changes::SQLITE_SESSIONS,
    changes::DST_FIX,
];

/// The newest release whose behaviour was verified; later ones are assumed
/// to behave like it.
pub const NEWEST_VERIFIED: Release = Release::new(2026, 9, 6);

/// The gateway keepalive believes it faces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Facing {
    Known(ReleaseRules),
    /// Not known: every line in `candidates` is possible.
    Unknown {
        candidates: Vec<ReleaseRules>,
    },
}

impl Facing {
    pub fn known(release: Release) -> Self {
        Facing::Known(ReleaseRules::of(release))
    }

    /// Every line that could be serving a store with this much evidence:
    /// `split_fields` (entries carry `lastInteractionAt`/`sessionStartedAt`)
    /// rules out the releases before 2026.4.25; `in_sqlite` (the agent
    /// database holds sessions) says which side of the SQLite change it is.
    pub fn unknown(split_fields: bool, in_sqlite: bool) -> Self {
        let candidates = LINES
            .iter()
            .map(|r| ReleaseRules::of(*r))
            .filter(|r| !split_fields || r.split_timestamps)
            .filter(|r| r.sessions_in_sqlite == in_sqlite)
            .collect();
        Facing::Unknown { candidates }
    }

    /// A release read from the config or an installed package: the gateway
    /// may have been upgraded since (the config records the last release
    /// that saved it), so `hint`'s rules and every later line the store
    /// allows are considered; a hint the store contradicts is dropped.
    pub fn hinted(hint: Release, split_fields: bool, in_sqlite: bool) -> Self {
        let allowed = |r: &ReleaseRules| {
            (!split_fields || r.split_timestamps) && r.sessions_in_sqlite == in_sqlite
        };
        let mut candidates: Vec<ReleaseRules> = std::iter::once(ReleaseRules::of(hint))
            .chain(
                LINES
                    .iter()
                    .filter(|r| **r > hint)
                    .map(|r| ReleaseRules::of(*r)),
            )
            .filter(allowed)
            .collect();
        if candidates.is_empty() {
            return Facing::unknown(split_fields, in_sqlite);
        }
        candidates.dedup();
        Facing::Unknown { candidates }
    }

    /// The rules to evaluate: one when known, each possible line otherwise.
    pub fn candidates(&self) -> &[ReleaseRules] {
        match self {
            Facing::Known(rules) => std::slice::from_ref(rules),
            Facing::Unknown { candidates } => candidates,
        }
    }

    /// The first candidate and the others. Never empty: without any
    /// candidate (which [`Facing::unknown`] cannot produce) the newest
    /// verified release stands in.
    pub fn split(&self) -> (&ReleaseRules, &[ReleaseRules]) {
        static NEWEST: std::sync::LazyLock<ReleaseRules> =
            std::sync::LazyLock::new(|| ReleaseRules::of(NEWEST_VERIFIED));
        match self.candidates().split_first() {
            Some((first, others)) => (first, others),
            None => (&NEWEST, &[]),
        }
    }

    pub fn release(&self) -> Option<Release> {
        match self {
            Facing::Known(rules) => Some(rules.release),
            Facing::Unknown { .. } => None,
        }
    }
}

/// One release of each line the unit tests need (docs/GATEWAY.md's table), shared by
/// the tests of [`super::reset`] and [`super::reset_policy`].
#[cfg(test)]
pub(crate) mod test_releases {
    use super::{Release, ReleaseRules};

    pub fn old() -> ReleaseRules {
        ReleaseRules::of(Release::new(2026, 3, 13))
    }
    /// `updatedAt` only, no lock-free writer yet.
    pub fn v1() -> ReleaseRules {
        ReleaseRules::of(Release::new(2026, 4, 12))
    }
    /// Split timestamps, `sessions.json`.
    pub fn v2() -> ReleaseRules {
        ReleaseRules::of(Release::new(2026, 6, 35))
    }
    pub fn sqlite() -> ReleaseRules {
        ReleaseRules::of(Release::new(2026, 9, 6))
    }
}
