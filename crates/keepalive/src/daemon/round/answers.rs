//! What a round answers: a touch's result as a plain [`Touched`] (the wire reply is made
//! of it in `daemon/touch.rs`), lookups and reports, and the answers of a round that wrote
//! nothing (a store keepalive does not write, or a round that failed).

use std::collections::HashMap;

use keepalive_proto::{ErrorBody, SessionRow};

use super::{Batch, Findings, RoundResult, WriteStats, plan};

/// What a touch did in one agent's store; the handler makes the wire reply of it.
#[derive(Debug, Clone)]
pub struct Touched {
    pub sessions: usize,
    pub bumped: Vec<String>,
    pub written: bool,
    pub dry_run: bool,
    pub note: Option<String>,
}

/// The answers to the requests merged into the round, in batch order.
#[derive(Debug)]
pub struct Answers {
    pub touch_all: Result<Touched, ErrorBody>,
    pub touches: Vec<Result<Touched, ErrorBody>>,
    pub lookups: Vec<Result<Vec<String>, ErrorBody>>,
    pub report: Result<Vec<SessionRow>, ErrorBody>,
}

impl RoundResult {
    pub(super) fn empty(dry_run: bool, batch: &Batch) -> Self {
        let nothing = Touched {
            sessions: 0,
            bumped: Vec::new(),
            written: false,
            dry_run,
            note: None,
        };
        RoundResult {
            dry_run,
            found: Findings::default(),
            write: WriteStats::default(),
            answers: Answers {
                touch_all: Ok(nothing.clone()),
                touches: batch.touches.iter().map(|_| Ok(nothing.clone())).collect(),
                lookups: batch.lookups.iter().map(|_| Ok(Vec::new())).collect(),
                report: Ok(Vec::new()),
            },
        }
    }

    pub(super) fn touched(&self, bumped: Vec<String>) -> Touched {
        Touched {
            sessions: self.found.sessions.unwrap_or(0),
            bumped,
            written: self.write.written,
            dry_run: self.dry_run,
            note: self.found.note.clone(),
        }
    }

    /// This agent is never written: touches of named sessions fail (as unknown when a key is
    /// not in the store), a touch of everything reports the note, reports find nothing.
    pub(super) fn refuse_writes(
        mut self,
        why: ErrorBody,
        batch: &Batch,
        index: &HashMap<&str, usize>,
    ) -> Self {
        if let Ok(r) = &mut self.answers.touch_all {
            r.note = self.found.note.clone();
        }
        self.answers.touches = batch
            .touches
            .iter()
            .map(|touch| {
                let missing = plan::missing(touch, index);
                Err(if missing.is_empty() {
                    why.clone()
                } else {
                    ErrorBody::unknown_sessions(&missing)
                })
            })
            .collect();
        self
    }

    pub(super) fn fail(mut self, error: ErrorBody) -> Self {
        let answers = &mut self.answers;
        answers.touch_all = Err(error.clone());
        answers.touches = answers.touches.iter().map(|_| Err(error.clone())).collect();
        answers.lookups = answers.lookups.iter().map(|_| Err(error.clone())).collect();
        answers.report = Err(error.clone());
        self.found.error = Some(error);
        self
    }
}
