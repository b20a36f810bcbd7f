//! Agent databases as the real gateway leaves them (`agents/<id>/agent/openclaw-agent.sqlite`),
//! from `openclaw-sim`, placed in a test's state dir; and snapshots of a folder to prove
//! nothing in it changed.

use std::path::PathBuf;

#[allow(unused_imports)] // each test binary uses a different part of the harness
pub use openclaw_sim::agent_db::{
    AGENT_SCHEMA_2026_6, Left, SESSION_ID_2026_9, SESSION_SCHEMA_2026_9, Tree, assert_same_tree,
    delete_session, put_session, tree, with_suffix,
};

use super::Env;

impl Env {
    /// Writes agent `agent`'s database with `schema`, left as `left`; returns its path.
    pub fn add_agent_db(&self, agent: &str, schema: &str, left: Left) -> PathBuf {
        let dir = self.state_dir.join("agents").join(agent).join("agent");
        std::fs::create_dir_all(&dir).expect("agent dir");
        let path = dir.join("openclaw-agent.sqlite");
        openclaw_sim::agent_db::write_db(&path, schema, left);
        path
    }
}
