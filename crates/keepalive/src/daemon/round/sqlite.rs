//! The round of an agent whose sessions are in SQLite (OpenClaw 2026.8+): read, looked at
//! and listed, never written.

use keepalive_proto::{ErrorBody, ErrorCode};
use keepalive_store::EntryInfo;

use super::{AgentLedger, Batch, Round, RoundResult, plan};
use crate::openclaw::Generation;
use crate::openclaw::agent_db::SessionNode;
use crate::openclaw::discovery::AgentFiles;
use crate::policy::unwritable::{self, Expiry};

impl Round<'_> {
    /// A round of an agent whose sessions are in SQLite, which keepalive never writes: every
    /// session is looked at all the same (so that its resets are noticed), and a report lists
    /// each with when the gateway would reset it under the policy in force.
    pub(super) fn sqlite(
        &self,
        batch: &Batch,
        ledger: &mut AgentLedger,
        nodes: &[SessionNode],
        leftover_keys: &[String],
        mut out: RoundResult,
    ) -> RoundResult {
        let agent = self.agent;
        out.found.generation = Some(Generation::Sqlite);
        out.found.note = Some(sqlite_note(agent));
        out.found.sessions = Some(nodes.len());
        out.found.kept_alive = Some(0);
        let entries: Vec<EntryInfo> = nodes.iter().map(SessionNode::entry).collect();
        let facing = plan::facing(self.policy, Generation::Sqlite);
        let expiries: Vec<Expiry> = entries
            .iter()
            .map(|e| unwritable::expiry(e, &facing, &self.policy.reset, self.clock))
            .collect();
        self.notice(ledger, plan::sqlite_looks(nodes, &expiries), &mut out);
        if batch.reports > 0 {
            let now = self.clock.now_ms;
            out.answers.report = Ok(plan::unwritable_rows(agent, &entries, &expiries, now));
        }
        let keys = entries.iter().map(|e| e.key.as_str());
        let index = plan::index_of(keys.chain(leftover_keys.iter().map(String::as_str)));
        out.answers.lookups = plan::lookups(batch, &index);
        let why = ErrorBody::new(ErrorCode::GenerationUnsupported, sqlite_note(agent));
        out.refuse_writes(why, batch, &index)
    }
}

pub(super) fn sqlite_note(agent: &AgentFiles) -> String {
    format!(
        "agent {} keeps its sessions in SQLite (table session_nodes in {}; OpenClaw 2026.8 and \
         later): the gateway forbids other writers and sessions.json is only a leftover, so \
         keepalive writes nothing here. These releases expire sessions only where \
         session.reset in openclaw.json says so: to keep them, set session.reset.mode to \
         \"none\" or raise idleMinutes",
        agent.id,
        agent.sqlite.display()
    )
}
