//! Why did my session reset? keepalive looks at every store on every round, so it notices
//! each reset the gateway performs (a key whose `sessionId` changed between two looks), and
//! each entry that disappeared or appeared, with its own verdict on that session just
//! before: kept alive (then the reset is keepalive's failure), excluded, not in use, and so
//! on.
//!
//! - [`notice`]: one look compared with the last (pure; the last look lives in the agent's
//!   ledger, so a change made while keepalive was not running is noticed at its next start).
//! - [`log`]: the bounded event log under keepalive's state dir.

pub mod log;
pub mod notice;

pub use log::ResetLog;
pub use notice::{look, notice};
