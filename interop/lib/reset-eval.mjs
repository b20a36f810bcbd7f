// Child process of tests/reset-model.test.mjs: loads one real OpenClaw release and answers, for
// generated cases, what that release's gateway decides when a new message reaches a session:
// the policy it resolves and whether it keeps (fresh) or resets (stale) the session.
//
// Usage: node reset-eval.mjs <version>, with HOME and OPENCLAW_STATE_DIR pointing at a scratch
// folder (importing a bundle may read ~/.openclaw and set up logging). Protocol on stdin/stdout,
// one JSON object per line:
//   out  {"ready":true,"where":{...},"callSite":{...}}        once the release is loaded
//   in   {"batch":{label,tz,days},"seed":n,"count":n}          generate and evaluate one batch
//   out  {"case":{...},"verdict":{...}} x count, then {"done":label,"count":n}
//   in   {"tz":zone,"cases":[...]}                              evaluate given cases
//   out  {"verdict":{...}} x cases, then {"done":"cases","count":n}
//   out  {"fatal":message}                                     on anything unexpected
//
// The verdict mirrors the release's own inbound call site (initSessionState in its bundle),
// which this file checks is still shaped as assumed and fails otherwise:
//   isGroup   = normalizeChatType(chatType) is set and not "direct" (groupResolution needs the
//               message's From/To, which a store does not keep)
//   resetType = case.resetType ?? resolveSessionResetType({ sessionKey, isGroup, isThread })
//   override  = resolveChannelResetConfig({ sessionCfg, channel })
//   policy    = resolveSessionResetPolicy({ sessionCfg, resetType, resetOverride: override })
//   freshness = evaluateSessionFreshness({ updatedAt: entry.updatedAt, now, policy,
//               ...resolveSessionLifecycleTimestamps(entry) where the release calls it })
//   fresh     = freshness.fresh && (updatedAt is a finite number, where the release requires it
//               to reuse the entry)
// The normalized policy is read off the release's own evaluateSessionFreshness (whether it
// computes a daily boundary / an idle expiry for this policy), not re-derived from the fields.
import fs from "node:fs";
import path from "node:path";
import readline from "node:readline";
import { pathToFileURL } from "node:url";
import { loadRelease } from "./openclaw.mjs";
import { generateCases } from "./reset-cases.mjs";

const version = process.argv[2];
const send = (o) => process.stdout.write(JSON.stringify(o) + "\n");

function fail(msg) {
  send({ fatal: msg });
  process.exit(1);
}

/** The chunk holding the gateway's inbound session initialisation, and what it does. */
function inboundCallSite(dir) {
  const dist = path.join(dir, "dist");
  const files = fs.readdirSync(dist).filter((f) => /\.m?js$/.test(f)).sort();
  let file;
  let src;
  for (const f of files) {
    const s = fs.readFileSync(path.join(dist, f), "utf8");
    if (/(?:async\s+)?function initSessionState\(/.test(s)) {
      file = f;
      src = s;
      break;
    }
  }
  if (!src) throw new Error(`openclaw@${version}: no chunk defines initSessionState (the inbound call site)`);
  const body = src.slice(src.search(/function initSessionState\(/));
  const need = {
    isGroup: /const isGroup = normalizedChatType != null && normalizedChatType !== "direct" \? true : Boolean\(groupResolution\)/,
    normalizedChatType: /const normalizedChatType = normalizeChatType\(ctx\.ChatType\)/,
    resetType: /resolveSessionResetType\(\{\s*sessionKey,\s*isGroup,\s*isThread\s*\}\)/,
    channel: /resolveChannelResetConfig\(\{\s*sessionCfg,\s*channel: groupResolution\?\.channel \?\? ctx\.OriginatingChannel \?\? ctx\.Surface \?\? ctx\.Provider\s*\}\)/,
    policy: /resolveSessionResetPolicy\(\{\s*sessionCfg,\s*resetType(?::\s*resolveSessionResetType\(\{[^}]*\}\))?,\s*resetOverride: (?:resolveChannelResetConfig|channelReset)/,
  };
  const missing = Object.entries(need).filter(([, re]) => !re.test(body)).map(([k]) => k);
  if (missing.length) throw new Error(`openclaw@${version}: initSessionState in dist/${file} no longer matches the assumed call site (${missing.join(", ")}): re-read it and update reset-eval.mjs`);
  const oldFreshness = /evaluateSessionFreshness\(\{\s*updatedAt: entry\.updatedAt,\s*now,\s*policy: resetPolicy\s*\}\)/.test(body);
  const lifecycleFreshness =
    /lifecycleTimestamps = resolveSessionLifecycleTimestamps\(\{/.test(body) &&
    /evaluateSessionFreshness\(\{\s*updatedAt: entry\.updatedAt,\s*sessionStartedAt: lifecycleTimestamps\.sessionStartedAt,\s*lastInteractionAt: lifecycleTimestamps\.lastInteractionAt,\s*now,\s*policy: resetPolicy\s*\}\)/.test(body);
  if (oldFreshness === lifecycleFreshness) throw new Error(`openclaw@${version}: cannot tell how initSessionState in dist/${file} calls evaluateSessionFreshness`);
  const requiresNumericUpdatedAt =
    /canReuseExistingEntry = Boolean\(entry\?\.sessionId\) && typeof entry\?\.updatedAt === "number" && Number\.isFinite\(entry\.updatedAt\)/.test(body) &&
    /if \(!isNewSession && \w*[fF]reshEntry && canReuseExistingEntry/.test(body);
  return { file, usesLifecycle: lifecycleFreshness, requiresNumericUpdatedAt };
}

/** Applies process.env.TZ and proves Date now uses it (Node re-reads TZ when it is assigned). */
function setZone(tz) {
  process.env.TZ = tz;
  const fmt = new Intl.DateTimeFormat("en-US", { timeZone: tz, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit" });
  for (const t of [Date.UTC(2026, 0, 15, 12), Date.UTC(2026, 6, 15, 12), Date.UTC(2026, 2, 8, 7, 30), Date.UTC(2026, 3, 4, 14, 30)]) {
    const d = new Date(t);
    const parts = Object.fromEntries(fmt.formatToParts(d).map((p) => [p.type, p.value]));
    const local = `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute}`;
    const p2 = (n) => String(n).padStart(2, "0");
    const mine = `${d.getFullYear()}-${p2(d.getMonth() + 1)}-${p2(d.getDate())} ${p2(d.getHours())}:${p2(d.getMinutes())}`;
    if (local !== mine) throw new Error(`TZ=${tz} did not take effect in this process: Date says ${mine}, Intl says ${local}`);
  }
}

async function main() {
  if (!version) fail("usage: reset-eval.mjs <version>");
  const rel = await loadRelease(version);
  if (!rel.normalizeChatType) throw new Error(`openclaw@${version}: normalizeChatType not found`);
  const callSite = inboundCallSite(rel.dir);
  if (callSite.usesLifecycle && !rel.resolveSessionLifecycleTimestamps)
    throw new Error(`openclaw@${version}: the call site uses resolveSessionLifecycleTimestamps but no chunk exports it`);

  // From 2026.4.12 a key is a thread when the channel plugin loaded for it says so (Telegram
  // topics), not by a fixed marker list. A session on channel X exists because the gateway had
  // X's plugin loaded, so ask that plugin's public session-key API where the release ships one.
  const topicKey = "agent:main:telegram:group:-100123:topic:7";
  const threadViaPlugins = rel.resolveSessionResetType({ sessionKey: topicKey }) !== "thread";
  const keyApis = {};
  let parseRef = null;
  if (threadViaPlugins) {
    parseRef = rel.parseRawSessionConversationRef;
    if (!parseRef) throw new Error(`openclaw@${version}: parseRawSessionConversationRef not found`);
    const extDir = path.join(rel.dir, "dist/extensions");
    for (const ch of fs.existsSync(extDir) ? fs.readdirSync(extDir) : []) {
      const api = path.join(extDir, ch, "session-key-api.js");
      if (!fs.existsSync(api)) continue;
      const mod = await import(pathToFileURL(api).href);
      if (typeof mod.resolveSessionConversation === "function") keyApis[ch] = mod.resolveSessionConversation;
    }
  }
  callSite.threadViaPlugins = threadViaPlugins;
  callSite.sessionKeyApis = Object.keys(keyApis);

  const pluginThread = (key) => {
    if (!threadViaPlugins || !key) return false;
    const raw = parseRef(key);
    const fn = raw && keyApis[raw.channel];
    if (!fn) return false;
    const res = fn({ kind: raw.kind, rawId: raw.rawId.trim() });
    return Boolean(res?.id?.trim() && res.threadId != null && String(res.threadId).trim());
  };

  const storePath = path.join(process.env.OPENCLAW_STATE_DIR || "/nonexistent", "agents/main/sessions/sessions.json");

  const evaluate = (c) => {
    const sessionCfg = c.config.session;
    const normalizedChatType = rel.normalizeChatType(c.chatType ?? undefined);
    const isGroup = normalizedChatType != null && normalizedChatType !== "direct";
    const resetType = c.resetType ?? rel.resolveSessionResetType({ sessionKey: c.key, isGroup, isThread: pluginThread(c.key) });
    const resetOverride = rel.resolveChannelResetConfig({ sessionCfg, channel: c.channel ?? undefined });
    const policy = rel.resolveSessionResetPolicy({ sessionCfg, resetType, resetOverride });
    const entry = { ...c.entry };
    let args = { updatedAt: entry.updatedAt, now: c.now, policy };
    if (callSite.usesLifecycle) {
      // No sessionId: there is no transcript whose header could stand in for sessionStartedAt.
      const lt = rel.resolveSessionLifecycleTimestamps({ entry, agentId: "main", storePath });
      args = { updatedAt: entry.updatedAt, sessionStartedAt: lt.sessionStartedAt, lastInteractionAt: lt.lastInteractionAt, now: c.now, policy };
    }
    const fr = rel.evaluateSessionFreshness(args);
    const canReuse = !callSite.requiresNumericUpdatedAt || (typeof entry.updatedAt === "number" && Number.isFinite(entry.updatedAt));
    // Which rules this policy turns on, by the release's own evaluation of a session touched
    // one second ago (nonzero, in the past, so no timestamp special case hides the rules).
    const t = c.now - 1000;
    const probe = rel.evaluateSessionFreshness({ updatedAt: t, sessionStartedAt: t, lastInteractionAt: t, now: c.now, policy });
    const daily = probe.dailyResetAt != null;
    const idle = probe.idleExpiresAt != null;
    return {
      policy: { mode: daily ? "daily" : idle ? "idle" : "none", atHour: daily ? policy.atHour : null, idleMinutes: idle ? policy.idleMinutes : null },
      fresh: Boolean(fr.fresh) && canReuse,
      detail: {
        resetType,
        override: resetOverride === undefined ? undefined : resetOverride,
        raw: { mode: policy.mode, atHour: policy.atHour, idleMinutes: policy.idleMinutes },
        dailyResetAt: fr.dailyResetAt,
        idleExpiresAt: fr.idleExpiresAt,
        ...(canReuse ? {} : { notReusable: "updatedAt is not a finite number" }),
      },
    };
  };

  send({ ready: true, where: rel.where, callSite });
  const rl = readline.createInterface({ input: process.stdin });
  for await (const line of rl) {
    if (!line.trim()) continue;
    const cmd = JSON.parse(line);
    const given = Array.isArray(cmd.cases);
    setZone(given ? cmd.tz : cmd.batch.tz);
    const cases = given ? cmd.cases : generateCases(cmd.seed, cmd.batch, cmd.count);
    for (const c of cases) {
      let verdict;
      try {
        verdict = evaluate(c);
      } catch (e) {
        verdict = { error: `release threw: ${e?.message ?? e}` };
      }
      send(given ? { verdict } : { case: c, verdict });
    }
    send({ done: given ? "cases" : cmd.batch.label, count: cases.length });
  }
}

main().catch((e) => fail(e?.stack ?? String(e)));
