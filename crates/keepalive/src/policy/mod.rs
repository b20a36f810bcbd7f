//! Which sessions keepalive keeps alive, and when it writes.
//!
//! - [`rules`]: include/exclude, set by people.
//! - [`ledger`]: what keepalive itself wrote and which sessions clients
//!   touched, so its own bumps never count as activity.
//! - [`inputs`]: everything besides the store that decisions depend on.
//! - [`decide`]: for one session, is it in real use, would the gateway reset
//!   it, and is a write due now.
//! - [`unwritable`]: for a session keepalive never writes (SQLite), when the
//!   gateway would reset it, and what the user can do about it.

pub mod decide;
pub mod inputs;
pub mod ledger;
pub mod rules;
pub mod unwritable;

pub use decide::{
    Activity, Context, Decision, Reason, Schedule, Source, Transcript, decide, reset_inputs,
};
pub use inputs::PolicyInputs;
pub use ledger::{AgentLedger, LedgerFile, Look};
pub use rules::Rules;

/// The gateway trims and lower-cases session keys before storing them, so a
/// key typed by a person is normalised the same way before it is looked up.
pub fn normalize_key(key: &str) -> String {
    key.trim().to_lowercase()
}

#[cfg(test)]
mod tests {
    #[test]
    fn keys_are_normalised_like_the_gateway() {
        assert_eq!(
            super::normalize_key("  Agent:Main:MAIN "),
            "agent:main:main"
        );
    }
}
