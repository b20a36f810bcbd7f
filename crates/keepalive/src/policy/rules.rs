//! The include/exclude rules people set with `keepalivectl include/exclude`.

use keepalive_proto::{Rule, RuleAction};

/// The include/exclude rules in force.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rules {
    rules: Vec<Rule>,
}

impl Rules {
    pub fn new(rules: Vec<Rule>) -> Self {
        let mut all = Rules::default();
        for rule in rules {
            all.set(rule);
        }
        all
    }

    pub fn as_slice(&self) -> &[Rule] {
        &self.rules
    }

    /// The action for `key` in `agent`: a rule naming the agent beats a rule
    /// for every agent, so a person can exclude a key everywhere but one.
    pub fn action_for(&self, agent: &str, key: &str) -> Option<RuleAction> {
        let mut global = None;
        for rule in self.rules.iter().filter(|r| r.session == key) {
            match rule.agent.as_deref() {
                Some(a) if a == agent => return Some(rule.action),
                Some(_) => {}
                None => global = Some(rule.action),
            }
        }
        global
    }

    /// Adds a rule, replacing any rule for the same session and agent.
    pub fn set(&mut self, rule: Rule) {
        match self
            .rules
            .iter_mut()
            .find(|r| r.session == rule.session && r.agent == rule.agent)
        {
            Some(existing) => existing.action = rule.action,
            None => self.rules.push(rule),
        }
    }

    /// Removes the rule for exactly this session and agent; false if none.
    pub fn forget(&mut self, session: &str, agent: Option<&str>) -> bool {
        let before = self.rules.len();
        self.rules
            .retain(|r| !(r.session == session && r.agent.as_deref() == agent));
        self.rules.len() != before
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(session: &str, agent: Option<&str>, action: RuleAction) -> Rule {
        Rule {
            session: session.into(),
            agent: agent.map(Into::into),
            action,
        }
    }

    #[test]
    fn agent_specific_rules_beat_global_ones() {
        let rules = Rules::new(vec![
            rule("k", None, RuleAction::Exclude),
            rule("k", Some("work"), RuleAction::Include),
        ]);
        assert_eq!(rules.action_for("main", "k"), Some(RuleAction::Exclude));
        assert_eq!(rules.action_for("work", "k"), Some(RuleAction::Include));
        assert_eq!(rules.action_for("main", "other"), None);
    }

    #[test]
    fn set_replaces_and_forget_removes_exactly_one_rule() {
        let mut rules = Rules::default();
        rules.set(rule("k", None, RuleAction::Exclude));
        rules.set(rule("k", None, RuleAction::Include));
        rules.set(rule("k", Some("main"), RuleAction::Exclude));
        assert_eq!(rules.as_slice().len(), 2);
        assert_eq!(rules.action_for("other", "k"), Some(RuleAction::Include));
        assert!(rules.forget("k", Some("main")));
        assert!(!rules.forget("k", Some("main")));
        assert_eq!(rules.action_for("main", "k"), Some(RuleAction::Include));
    }
}
