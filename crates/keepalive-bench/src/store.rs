//! Stores generated the way the gateway writes them: `JSON.stringify(store, null, 2)`
//! (here `serde_json::to_vec_pretty`, same bytes for this shape), no trailing newline,
//! mode 0600. The entry shape and the padding follow `shared/openclaw/gen-store.mjs`.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

/// One store size of the benchmarks.
#[derive(Debug, Clone, Copy)]
pub struct Size {
    pub entries: usize,
    pub bytes: usize,
}

impl Size {
    /// The 200 KB store of six sessions: the hook benchmarks' store and the quick runs'.
    pub const SMALL: Size = Size {
        entries: 6,
        bytes: 200_000,
    };

    pub fn label(&self) -> String {
        format!(
            "{} entries / {}",
            self.entries,
            human_bytes(self.bytes as u64)
        )
    }
}

pub fn human_bytes(n: u64) -> String {
    if n >= 1_000_000 {
        format!("{:.1} MB", n as f64 / 1e6)
    } else {
        format!("{:.0} KB", n as f64 / 1e3)
    }
}

/// xorshift32, as in gen-store.mjs.
struct Rng(u32);

impl Rng {
    fn next(&mut self) -> f64 {
        let mut s = self.0;
        s ^= s << 13;
        s ^= s >> 17;
        s ^= s << 5;
        self.0 = s;
        f64::from(s) / 4_294_967_296.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() * n as f64) as usize
    }
    fn hex(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| char::from_digit(self.below(16) as u32, 16).unwrap_or('0'))
            .collect()
    }
    fn uuid(&mut self) -> String {
        let variant = ['8', '9', 'a', 'b'][self.below(4)];
        format!(
            "{}-{}-4{}-{}{}-{}",
            self.hex(8),
            self.hex(4),
            self.hex(3),
            variant,
            self.hex(3),
            self.hex(12)
        )
    }
}

const CHANNELS: [&str; 7] = [
    "telegram", "discord", "slack", "whatsapp", "signal", "imessage", "webchat",
];
const MODELS: [(&str, &str); 3] = [
    ("anthropic", "claude-opus-4-6"),
    ("anthropic", "claude-sonnet-4-6"),
    ("openai", "gpt-5.2"),
];

/// The store's bytes. `updatedAt` values lie within `spread_ms` before `now_ms` (the
/// gateway script uses 6 h; benchmarks against a running daemon use minutes so that no
/// session is already stale under the default reset policy).
pub fn store_bytes(
    size: Size,
    agent: &str,
    state_dir: &Path,
    now_ms: u64,
    spread_ms: u64,
) -> Vec<u8> {
    let mut rng = Rng(1);
    let mut store = Map::new();
    for i in 0..size.entries {
        let session_id = rng.uuid();
        let channel = CHANNELS[rng.below(CHANNELS.len())];
        let kind = if i == 0 {
            "main"
        } else {
            ["direct", "group", "channel", "subagent", "cron"][rng.below(5)]
        };
        let key = match kind {
            "main" => format!("agent:{agent}:main"),
            "subagent" => format!("agent:{agent}:subagent:{}", rng.uuid()),
            "cron" => format!("cron:{}", rng.hex(8)),
            _ => format!(
                "agent:{agent}:{channel}:{kind}:{}",
                (rng.next() * 1e15) as u64
            ),
        };
        let updated_at = now_ms - (rng.next() * spread_ms as f64) as u64;
        let (provider, model) = MODELS[rng.below(MODELS.len())];
        let chat_type = if kind == "group" || kind == "channel" {
            kind
        } else {
            "direct"
        };
        let mut e = json!({
            "sessionId": session_id,
            "updatedAt": updated_at,
            "systemSent": true,
            "abortedLastRun": rng.next() < 0.05,
            "chatType": chat_type,
            "deliveryContext": {"channel": channel, "to": format!("{channel}:{}", (rng.next() * 1e9) as u64), "accountId": "default"},
            "lastChannel": channel,
            "lastTo": format!("{channel}:{}", (rng.next() * 1e9) as u64),
            "lastAccountId": "default",
            "sessionFile": state_dir.join("agents").join(agent).join("sessions").join(format!("{session_id}.jsonl")),
            "compactionCount": rng.below(4),
            "modelProvider": provider,
            "model": model,
            "contextTokens": 200000,
            "totalTokens": rng.below(150000),
            "totalTokensFresh": rng.next() < 0.8,
        });
        if kind == "subagent"
            && let Value::Object(m) = &mut e
        {
            m.insert("spawnedBy".into(), json!(format!("agent:{agent}:main")));
            m.insert("spawnDepth".into(), json!(1));
            m.insert("subagentRole".into(), json!("leaf"));
            m.insert("status".into(), json!("done"));
            m.insert("startedAt".into(), json!(updated_at - 300_000));
            m.insert("endedAt".into(), json!(updated_at - 1000));
            m.insert("runtimeMs".into(), json!(299_000));
        }
        store.insert(key, e);
    }
    // Padding, as gen-store.mjs does, but tracking the size incrementally (re-serialising
    // a 40 MB store after every chunk would take minutes): the estimate is the entry's own
    // pretty size plus two spaces per line of nesting, exact enough for "about N bytes".
    let keys: Vec<String> = store.keys().cloned().collect();
    let mut size_est = serde_json::to_vec_pretty(&store).map_or(0, |v| v.len());
    let mut i = 0usize;
    while size_est < size.bytes && !keys.is_empty() {
        let Some(Value::Object(e)) = store.get_mut(&keys[i % keys.len()]) else {
            break;
        };
        let before = entry_size(e);
        let chunk = (64 * 1024).min(1024.max(size.bytes - size_est));
        let skill = json!({"name": format!("skill-{}", rng.hex(6)), "description": "x".repeat(chunk / 2), "updatedAt": 1});
        match e.get_mut("skillsSnapshot") {
            Some(Value::Object(s)) => {
                if let Some(Value::Array(a)) = s.get_mut("skills") {
                    a.push(skill);
                }
            }
            _ => {
                e.insert(
                    "skillsSnapshot".into(),
                    json!({"prompt": "", "skills": [skill]}),
                );
            }
        }
        e.insert(
            "systemPromptReport".into(),
            json!({"chars": chunk, "sections": [{"title": "tools", "text": "y".repeat(chunk / 2)}]}),
        );
        size_est = size_est + entry_size(e) - before;
        i += 1;
    }
    serde_json::to_vec_pretty(&store).expect("serialise store")
}

fn entry_size(e: &Map<String, Value>) -> usize {
    let v = serde_json::to_vec_pretty(e).unwrap_or_default();
    let lines = v.iter().filter(|&&b| b == b'\n').count();
    v.len() + 2 * lines
}

/// A store of `agent` under `state_dir` whose sessions were all used in the last minutes
/// (so none is stale under the default reset policy and a touch is never refused).
/// Returns the store path.
pub fn fresh_store(state_dir: &Path, agent: &str, size: Size) -> PathBuf {
    let bytes = store_bytes(size, agent, state_dir, now_ms(), 5 * 60 * 1000);
    write_store(state_dir, agent, &bytes)
}

/// `<state>/agents/<agent>/sessions/sessions.json`, mode 0600. Returns the store path.
pub fn write_store(state_dir: &Path, agent: &str, bytes: &[u8]) -> PathBuf {
    let dir = state_dir.join("agents").join(agent).join("sessions");
    std::fs::create_dir_all(&dir).expect("create sessions dir");
    let path = dir.join("sessions.json");
    std::fs::write(&path, bytes).expect("write store");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod store");
    path
}

pub fn now_ms() -> u64 {
    keepalive::time::unix_ms(std::time::SystemTime::now())
}
