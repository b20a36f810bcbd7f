// Deterministic generator of reset-model cases (config + session + clock) for the differential
// check in tests/reset-model.test.mjs. It runs inside the process whose TZ is the batch's zone,
// because the interesting clocks are local wall times: just before/at/after the daily reset hour
// and around DST changes. The same (seed, batch, count) always yields the same cases.

/** mulberry32: small, fast, good enough to spread cases; seeded so failures replay exactly. */
export function prng(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const r = {
    next,
    chance: (p) => next() < p,
    int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)),
    pick: (arr) => arr[Math.floor(next() * arr.length)],
    /** pick from [[weight, value], ...] */
    weighted: (pairs) => {
      const total = pairs.reduce((s, [w]) => s + w, 0);
      let x = next() * total;
      for (const [w, v] of pairs) if ((x -= w) < 0) return v;
      return pairs[pairs.length - 1][1];
    },
  };
  return r;
}

/** Seed of one batch, so batches (and releases) do not share a case stream. */
export function batchSeed(seed, label) {
  let h = seed >>> 0;
  for (const c of label) h = Math.imul(h ^ c.charCodeAt(0), 16777619) >>> 0;
  return h;
}

/**
 * Clock windows. Each batch is one time zone and a set of local days; DST days are listed so the
 * daily boundary lands on a missing or repeated hour. (2026: New York springs forward on Mar 8 at
 * 02:00 and falls back on Nov 1 at 02:00; Chatham falls back on Apr 5 at 03:45 and springs
 * forward on Sep 27 at 02:45.)
 */
export const BATCHES = [
  { label: "UTC", tz: "UTC", days: null, share: 0.2 },
  { label: "New_York-march", tz: "America/New_York", days: [[2026, 3, 7], [2026, 3, 8], [2026, 3, 9]], dst: { day: [2026, 3, 8], hours: [2, 1, 3] }, share: 0.175 },
  { label: "New_York-november", tz: "America/New_York", days: [[2026, 10, 31], [2026, 11, 1], [2026, 11, 2]], dst: { day: [2026, 11, 1], hours: [1, 2, 0] }, share: 0.175 },
  { label: "Kolkata", tz: "Asia/Kolkata", days: null, share: 0.15 },
  { label: "Chatham-april", tz: "Pacific/Chatham", days: [[2026, 4, 4], [2026, 4, 5], [2026, 4, 6]], dst: { day: [2026, 4, 5], hours: [3, 2, 4] }, share: 0.15 },
  { label: "Chatham-september", tz: "Pacific/Chatham", days: [[2026, 9, 26], [2026, 9, 27], [2026, 9, 28]], dst: { day: [2026, 9, 27], hours: [3, 2, 4] }, share: 0.15 },
];

const MIN = 60_000;
const HOUR = 3_600_000;

const MODES = [
  [25, "daily"], [25, "idle"], [8, "none"], [4, "off"], [3, "manual"], [3, "Daily"], [3, "IDLE"],
  [2, " idle "], [2, "never"], [2, ""], [3, null], [1, 1], [1, true],
];
const AT_HOURS = [
  [6, 4], [6, 0], [6, 23], [5, 24], [5, -1], [5, 4.5], [4, 1], [5, 2], [5, 3], [3, 5], [3, 12],
  [2, 23.5], [2, -0.5], [2, 100], [2, "5"], [2, null], [1, 1e9], [1, 3.999],
];
const IDLE_MINUTES = [
  [6, 0], [4, 1], [3, 2], [4, 5], [6, 30], [6, 60], [3, 61], [4, 90], [3, 120], [3, 240], [4, 1440],
  [2, 10080], [3, 0.5], [3, 1.5], [2, 59.99], [3, -1], [2, -30], [1, 1e12], [1, 1e20], [3, "30"],
  [3, null], [1, ""], [1, true], [1, "abc"],
];
// Keys of resetByChannel as people write them; the gateway looks up the normalized channel.
const CHANNEL_KEYS = [
  "discord", "telegram", "whatsapp", "slack", "signal", "imessage", "imsg", "googlechat", "gchat",
  "msteams", "teams", "webchat", "feishu", "lark", "irc", "bluebubbles", "bb", "line", "matrix",
  "Discord", "TELEGRAM", " discord", "discord ", "Slack", "unknownchan", "",
];
// Channels a message can arrive on (the gateway passes the raw string).
const CHANNELS = [
  "discord", "telegram", "whatsapp", "slack", "signal", "imessage", "imsg", "IMSG", "Discord",
  " discord ", "TeleGram", "webchat", "WebChat", "googlechat", "gchat", "google-chat", "msteams",
  "teams", "bb", "bluebubbles", "lark", "feishu", "irc", "internet-relay-chat", "matrix", "line",
  "unknownchan", "", "  ", "heartbeat",
];
// Session keys of every kind the gateway writes, plus odd spellings.
const KEYS = [
  "agent:main:main", "main", "global", "agent:main:discord:direct:123456", "agent:main:discord:dm:123456",
  "agent:main:telegram:direct:42", "agent:main:whatsapp:direct:+15551234567",
  "agent:main:telegram:group:-1001234567890", "agent:main:telegram:group:-1001234567890:topic:77",
  "agent:main:discord:channel:998877", "agent:main:discord:channel:998877:thread:5566",
  "agent:main:slack:channel:c0123:thread:1700000000.000100", "agent:main:slack:channel:c0123",
  "agent:main:whatsapp:group:120363000000000000@g.us", "agent:main:signal:group:abcDEF==",
  "agent:main:feishu:group:oc_abc:topic:om_123", "agent:main:feishu:group:oc_abc",
  "agent:main:imessage:group:chat123", "agent:main:cron:nightly", "agent:main:cron:nightly:run:abc",
  "agent:main:subagent:4f2a", "agent:main:acp:xyz", "agent:main:hook:gmail:1", "agent:main:openai-user:bob",
  "agent:ops:main", "agent:ops:discord:channel:1", "AGENT:MAIN:DISCORD:CHANNEL:1",
  "agent:main:Telegram:Group:-100:Topic:5", "agent:main:telegram:group:-100:TOPIC:5",
  "agent:main:x:THREAD:1", "group:legacy", "telegram:group:-100:topic:3", "agent:main:main:thread:9",
  "agent:main:discord:direct:1:thread:2", "agent:main:telegram:direct:5:topic:9", "",
  "agent:main:msteams:channel:19abc:thread:1", "agent:main:webchat:direct:u1",
];
const CHAT_TYPES = [
  [40, null], [10, "direct"], [6, "dm"], [10, "group"], [8, "channel"], [5, "thread"], [3, "Group"],
  [3, " DM "], [2, ""], [2, "unknown"], [1, "topic"],
];

function rule(r) {
  if (r.chance(0.06)) return r.pick([null, "daily", 5, [], true, "idle"]);
  const o = {};
  if (r.chance(0.75)) o.mode = r.weighted(MODES);
  if (r.chance(0.45)) o.atHour = r.weighted(AT_HOURS);
  if (r.chance(0.55)) o.idleMinutes = r.weighted(IDLE_MINUTES);
  if (r.chance(0.03)) o.unknownField = "x";
  return o;
}

function sessionConfig(r) {
  const shape = r.weighted([[8, "none"], [4, "empty"], [88, "mixed"]]);
  if (shape === "none") return undefined;
  const s = {};
  if (shape === "empty") return s;
  if (r.chance(0.05)) return r.pick([null, "daily", 7, []]);
  if (r.chance(0.55)) s.reset = rule(r);
  else if (r.chance(0.06)) s.reset = r.pick([null, "daily", [], 0, {}]);
  if (r.chance(0.4)) {
    const t = {};
    for (const k of ["direct", "dm", "group", "thread", "channel", "Direct", "DM"])
      if (r.chance(k === k.toLowerCase() ? 0.45 : 0.08)) t[k] = rule(r);
    s.resetByType = t;
  } else if (r.chance(0.04)) s.resetByType = r.pick([null, [], "daily"]);
  if (r.chance(0.35)) {
    const c = {};
    const n = r.int(1, 4);
    for (let i = 0; i < n; i++) c[r.pick(CHANNEL_KEYS)] = rule(r);
    s.resetByChannel = c;
  } else if (r.chance(0.04)) s.resetByChannel = r.pick([null, [], "discord"]);
  if (r.chance(0.3)) s.idleMinutes = r.weighted(IDLE_MINUTES);
  if (r.chance(0.1)) s.scope = r.pick(["per-sender", "global"]);
  return s;
}

/** A channel for the case; when resetByChannel is set, often one of its keys respelled. */
function channelFor(r, session) {
  const byCh = session && typeof session === "object" ? session.resetByChannel : undefined;
  if (byCh && typeof byCh === "object" && !Array.isArray(byCh) && r.chance(0.6)) {
    const keys = Object.keys(byCh);
    if (keys.length) {
      const k = r.pick(keys);
      return r.pick([k, k.toUpperCase(), ` ${k} `, k.trim().toLowerCase(), k]);
    }
  }
  return r.chance(0.15) ? null : r.pick(CHANNELS);
}

/** Hours the clock should sit near: the configured ones (as the gateway would floor/clamp them), the default 4, DST-prone ones. */
function hotHours(session) {
  const hours = new Set([4, 0, 23, 1, 2, 3]);
  const add = (rl) => {
    if (rl && typeof rl === "object" && typeof rl.atHour === "number" && Number.isFinite(rl.atHour))
      hours.add(Math.min(23, Math.max(0, Math.floor(rl.atHour))));
  };
  if (session && typeof session === "object") {
    add(session.reset);
    for (const group of [session.resetByType, session.resetByChannel])
      if (group && typeof group === "object") for (const v of Object.values(group)) add(v);
  }
  return [...hours];
}

function idleCandidates(session) {
  const out = new Set([60]);
  const add = (v) => {
    if (typeof v === "number" && Number.isFinite(v) && v > 0 && v < 1e6) out.add(Math.floor(v)).add(Math.max(1, Math.floor(v)));
  };
  if (session && typeof session === "object") {
    add(session.idleMinutes);
    const rules = [session.reset];
    for (const group of [session.resetByType, session.resetByChannel])
      if (group && typeof group === "object") rules.push(...Object.values(group));
    for (const rl of rules) if (rl && typeof rl === "object") add(rl.idleMinutes);
  }
  return [...out];
}

function randomDay(r) {
  const d = new Date(2026, 0, 1 + r.int(0, 364));
  return [d.getFullYear(), d.getMonth() + 1, d.getDate()];
}

/**
 * A timestamp for one entry field, relative to the case's clock and boundaries. Only what a
 * store entry can hold for keepalive: a plain non-negative integer or nothing. (keepalive reads
 * any other value, negative, fractional or a string, as no timestamp and never writes such an
 * entry: it reports `no_timestamp`, which leaves the session to the gateway.)
 */
function stamp(r, now, boundaries, idles) {
  const kind = r.weighted([
    [22, "absent"], [5, "zero"], [8, "future"], [3, "now"], [33, "boundary"],
    [15, "idle"], [12, "recent"],
  ]);
  switch (kind) {
    case "absent":
      return undefined;
    case "zero":
      return 0;
    case "negative":
      return -r.int(1, 5_000_000);
    case "future":
      return now + r.pick([1, 1000, MIN, HOUR, 3 * HOUR, r.int(1, 48 * HOUR)]);
    case "now":
      return now;
    case "boundary":
      return r.pick(boundaries) + r.pick([-1, 0, 1, -MIN, MIN, -HOUR, HOUR, -30 * MIN, 30 * MIN, r.int(-3 * HOUR, 3 * HOUR)]);
    case "idle":
      return now - r.pick(idles) * MIN + r.pick([-1, 0, 1, -1000, 1000, -MIN, MIN]);
    default:
      return now - r.int(0, 72 * HOUR);
  }
}

/**
 * `count` cases for `batch`, in the current process's time zone (which must be batch.tz).
 * Each case is exactly what keepalive's oracle reads (minus `id` and `release`).
 */
export function generateCases(seed, batch, count) {
  const r = prng(batchSeed(seed, batch.label));
  const cases = [];
  for (let i = 0; i < count; i++) {
    // On DST batches a share of cases is a plain daily rule whose hour is missing or repeated
    // on the change day, with the clock in the hours around it: generic cases rarely get there.
    const dstFocus = batch.dst && r.chance(0.3);
    let session;
    if (dstFocus) {
      session = { reset: { mode: "daily", atHour: r.pick(batch.dst.hours) } };
      if (r.chance(0.3)) session.reset.idleMinutes = r.pick([30, 60, 120, 1440]);
    } else session = sessionConfig(r);
    const config = {};
    if (session !== undefined || r.chance(0.5)) config.session = session;
    if (r.chance(0.1)) config.meta = { lastTouchedVersion: "2026.1.1" };
    const hours = hotHours(session);
    let now;
    if (dstFocus) {
      const [y, m, d] = batch.dst.day;
      const h = session.reset.atHour;
      now = new Date(y, m - 1, d + r.pick([0, 0, 0, 1]), 0, 0, 0, 0).getTime() + r.int(0, h + 3) * HOUR + r.pick([0, 1, -1, 15 * MIN, 30 * MIN, 45 * MIN, r.int(0, HOUR)]);
    } else {
      const [y, m, d] = batch.days ? r.pick(batch.days) : randomDay(r);
      const h = r.chance(0.85) ? r.pick(hours) : r.int(0, 23);
      const minute = r.weighted([[8, 0], [2, 45], [1, 30], [2, r.int(0, 59)]]);
      const base = new Date(y, m - 1, d, h, minute, 0, 0).getTime();
      now = base + r.pick([0, -1, 1, -MIN, MIN, -HOUR, HOUR, -2 * HOUR, r.int(-12 * HOUR, 12 * HOUR), r.int(-36 * HOUR, 36 * HOUR)]);
    }
    // The daily boundaries near the clock for every hot hour, computed three ways that differ
    // only on DST days: local hour of today/yesterday/the day before, "today at the hour, then
    // one calendar day back", and "the hour minus 24".
    const boundaries = [];
    const nd = new Date(now);
    for (const hh of hours) {
      for (const back of [0, 1, 2]) boundaries.push(new Date(nd.getFullYear(), nd.getMonth(), nd.getDate() - back, hh, 0, 0, 0).getTime());
      const q = new Date(now);
      q.setHours(hh, 0, 0, 0);
      q.setDate(q.getDate() - 1);
      boundaries.push(q.getTime(), new Date(now).setHours(hh - 24, 0, 0, 0));
    }
    const idles = idleCandidates(session);
    const entry = {};
    for (const f of ["updatedAt", "lastInteractionAt", "sessionStartedAt"]) {
      const v = stamp(r, now, boundaries, idles);
      if (v !== undefined) entry[f] = v;
    }
    const key = r.pick(KEYS);
    const chatType = r.weighted(CHAT_TYPES);
    const channel = channelFor(r, session);
    const resetType = r.chance(0.3) ? r.pick(["direct", "group", "thread"]) : null;
    // JSON round trip: the release must see exactly what the oracle will parse.
    cases.push(JSON.parse(JSON.stringify({ config, key, chatType, channel, resetType, entry, now })));
  }
  return cases;
}
