// Interop check 1, reset model, differential: for every pinned release, thousands of generated
// cases (openclaw.json session settings, session key/chat type/channel, entry timestamps, a
// clock near the daily boundary or a DST change, in several time zones) are judged twice: by
// the release's own resolveSessionResetType / resolveChannelResetConfig /
// resolveSessionResetPolicy / evaluateSessionFreshness, called the way its gateway calls them
// when a message arrives (lib/reset-eval.mjs), and by keepalive's `keepalive-oracle`. Any
// difference in the effective policy or the fresh/stale verdict fails the test.
//
// On failure the report lists the count, the first disagreements as generated, and minimal
// reproducers: a representative of each kind of disagreement shrunk (fields dropped, key and
// channel made plain) while both sides keep disagreeing the same way, so each names one rule.
//
// Env: KEEPALIVE_INTEROP_CASES (cases per release, default 10000), KEEPALIVE_INTEROP_SEED
// (default 20260310), KEEPALIVE_INTEROP_MINIMIZE (representatives to shrink, default 120, 0 = off),
// KEEPALIVE_INTEROP_REPORT_DIR (optional: every disagreement is written there as
// reset-model-<release>.jsonl), plus the suite's KEEPALIVE_BIN_DIR / _CACHE / _RELEASES.
import test from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import readline from "node:readline";
import { binDir, cache, node, releases, repo } from "../lib/env.mjs";
import { BATCHES } from "../lib/reset-cases.mjs";

const COUNT = intEnv("KEEPALIVE_INTEROP_CASES", 10000, 1);
const SEED = intEnv("KEEPALIVE_INTEROP_SEED", 20260310, 0);
const MINIMIZE = intEnv("KEEPALIVE_INTEROP_MINIMIZE", 120, 0);
const REPORT_DIR = process.env.KEEPALIVE_INTEROP_REPORT_DIR || "";
const ORACLE = path.join(binDir, "keepalive-oracle");
const EVAL = path.join(repo, "interop/lib/reset-eval.mjs");
const SHOW = 20;

function intEnv(name, dflt, min) {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return dflt;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be an integer >= ${min}, got ${JSON.stringify(raw)}`);
  return n;
}

function stopChild(child) {
  if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
}

/** The release, running in lib/reset-eval.mjs: generates cases and judges them. */
class ReleaseJudge {
  constructor(version, scratch) {
    this.version = version;
    this.stderr = "";
    this.child = spawn(node, [EVAL, version], {
      env: {
        ...process.env,
        HOME: scratch,
        OPENCLAW_STATE_DIR: path.join(scratch, "state"),
        KEEPALIVE_INTEROP_CACHE: cache,
        TZ: BATCHES[0].tz,
      },
      stdio: ["pipe", "pipe", "pipe"],
    });
    this.child.stderr.on("data", (d) => (this.stderr = (this.stderr + d).slice(-4000)));
    this.child.stdin.on("error", () => {}); // an exit shows as "exited early" below
    const rl = readline.createInterface({ input: this.child.stdout });
    this.queue = [];
    this.waiters = [];
    this.ended = false;
    rl.on("line", (l) => (this.waiters.length ? this.waiters.shift()(l) : this.queue.push(l)));
    rl.on("close", () => {
      this.ended = true;
      while (this.waiters.length) this.waiters.shift()(null);
    });
  }

  async read(timeoutMs) {
    let line = this.queue.shift();
    if (line === undefined) {
      line = this.ended
        ? null
        : await new Promise((resolve, reject) => {
            const timer = setTimeout(() => reject(new Error(`reset-eval ${this.version}: no output for ${timeoutMs} ms`)), timeoutMs);
            this.waiters.push((l) => (clearTimeout(timer), resolve(l)));
          });
    }
    if (line === null) throw new Error(`reset-eval ${this.version} exited early; stderr: ${this.stderr.trim()}`);
    const o = JSON.parse(line);
    if (o.fatal) throw new Error(`reset-eval ${this.version}: ${o.fatal}`);
    return o;
  }

  async ready() {
    const o = await this.read(300_000);
    assert.equal(o.ready, true, `reset-eval ${this.version}: first line ${JSON.stringify(o)}`);
    return o;
  }

  async #collect(cmd, expect) {
    this.child.stdin.write(JSON.stringify(cmd) + "\n");
    const rows = [];
    for (;;) {
      const o = await this.read(120_000);
      if (o.done !== undefined) {
        assert.equal(o.count, expect, `reset-eval ${this.version}: ${o.done} answered ${o.count} of ${expect}`);
        assert.equal(rows.length, expect);
        return rows;
      }
      rows.push(o);
    }
  }

  /** `count` generated cases of `batch`, each with the release's verdict. */
  generate(batch, count) {
    return this.#collect({ batch, seed: SEED, count }, count);
  }

  /** The release's verdicts on given cases, in time zone `tz`. */
  async judge(tz, cases) {
    return (await this.#collect({ tz, cases }, cases.length)).map((r) => r.verdict);
  }

  close() {
    this.child.stdin.end();
    stopChild(this.child);
  }
}

/** Runs keepalive's oracle over `cases` in time zone `tz`: one process, JSON lines in and out. */
async function runOracle(release, tz, cases) {
  const child = spawn(ORACLE, [], { env: { ...process.env, TZ: tz }, stdio: ["pipe", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (d) => (stderr = (stderr + d).slice(-4000)));
  const out = [];
  const rl = readline.createInterface({ input: child.stdout });
  rl.on("line", (l) => out.push(l));
  const exited = new Promise((resolve) => child.on("close", (code, sig) => resolve({ code, sig })));
  child.stdin.on("error", () => {}); // an early exit shows in the answer count below
  const timer = setTimeout(() => stopChild(child), 300_000);
  try {
    child.stdin.end(cases.map((c, i) => JSON.stringify({ id: i, release, ...c })).join("\n") + "\n");
    const { code, sig } = await exited;
    if (out.length !== cases.length) {
      throw new Error(`keepalive-oracle (TZ=${tz}) answered ${out.length} of ${cases.length} lines, exit ${code ?? sig}; stderr: ${stderr.trim()}`);
    }
    return out.map((l, i) => {
      let a;
      try {
        a = JSON.parse(l);
      } catch {
        throw new Error(`keepalive-oracle answer ${i} is not JSON: ${l.slice(0, 200)}`);
      }
      if (a.id !== i) throw new Error(`keepalive-oracle answer ${i} carries id ${JSON.stringify(a.id)}: answers must come in input order`);
      return a;
    });
  } finally {
    clearTimeout(timer);
    stopChild(child);
  }
}

const isInt = (v) => Number.isInteger(v);

/**
 * The ways keepalive's answer differs from the release's verdict, each "what gateway/keepalive";
 * [] when they agree. atHour is compared only under mode daily, where it means something.
 */
function compare(rv, kv) {
  if (rv.error) return kv.error !== undefined ? [] : [`release threw (${rv.error}); keepalive answered`];
  if (kv.error !== undefined) return [`keepalive error: ${kv.error}`];
  const p = kv.policy;
  if (!p || !["daily", "idle", "none"].includes(p.mode) || !isInt(p.atHour) || !(p.idleMinutes === null || isInt(p.idleMinutes)) || typeof kv.fresh !== "boolean") {
    return [`malformed answer ${JSON.stringify(kv)}`];
  }
  const d = [];
  if (p.mode !== rv.policy.mode) d.push(`mode ${rv.policy.mode}/${p.mode}`);
  else if (p.mode === "daily" && p.atHour !== rv.policy.atHour) d.push(`atHour ${rv.policy.atHour}/${p.atHour}`);
  // Beyond 2^53 minutes no idle rule can ever expire (the timestamps are ms below 2^53);
  // keepalive keeps minutes as a saturating integer, the gateway as a float.
  const huge = (m) => m !== null && m >= 2 ** 53;
  if (p.idleMinutes !== rv.policy.idleMinutes && !(huge(p.idleMinutes) && huge(rv.policy.idleMinutes))) {
    d.push(`idleMinutes ${rv.policy.idleMinutes}/${p.idleMinutes}`);
  }
  if (kv.fresh !== rv.fresh) d.push(`fresh ${rv.fresh}/${kv.fresh}`);
  return d;
}

const stampClass = (v, now) =>
  v === undefined ? "absent" : v === 0 ? "zero" : v < 0 ? "negative" : v > now ? "future" : "past";

/** What differs, without values: "mode; fresh". */
const diffKinds = (diffs) => diffs.map((d) => d.split(" ")[0]).join("; ");

/**
 * A coarse class of a generated disagreement, to pick representatives to shrink: what differs,
 * the features of the case that the rules read, and for verdict-only differences which entry
 * timestamps were missing, zero, negative or in the future.
 */
function coarseClass(c, rv, diffs) {
  const s = c.config?.session;
  const tags = [];
  const raw = rv.detail?.raw;
  if (raw && raw.mode !== "daily" && raw.mode !== "idle") tags.push(`raw mode ${JSON.stringify(raw.mode)}`);
  if (rv.detail?.override !== undefined) tags.push("resetByChannel hit");
  if (s && typeof s === "object" && s.idleMinutes !== undefined) tags.push("legacy idleMinutes");
  if (s && typeof s === "object" && s.resetByType !== undefined) tags.push("resetByType");
  if (diffs.every((d) => d.startsWith("fresh"))) {
    const e = c.entry;
    tags.push(`u ${stampClass(e.updatedAt, c.now)} s ${stampClass(e.sessionStartedAt, c.now)} l ${stampClass(e.lastInteractionAt, c.now)}`);
  }
  return `${diffs.map((d) => (d.startsWith("fresh") || d.startsWith("mode") ? d : d.split(" ")[0])).join("; ")} | ${tags.join(", ")}`;
}

/** Up to `n` classes, largest first but taking turns between kinds of difference, so a kind with many small classes is still shown. */
function pickRepresentatives(classes, n) {
  const byKind = new Map();
  for (const c of [...classes].sort((a, b) => b.n - a.n)) {
    const k = diffKinds(c.first.diffs);
    if (!byKind.has(k)) byKind.set(k, []);
    byKind.get(k).push(c);
  }
  const out = [];
  for (let i = 0; out.length < n; i++) {
    let any = false;
    for (const list of byKind.values()) if (i < list.length && out.length < n) (out.push(list[i]), (any = true));
    if (!any) break;
  }
  return out;
}

/**
 * Simpler variants of a case, biggest cuts first: whole config sections, single rules and
 * fields, then the key/chat type/channel/reset type made plain, then entry fields.
 */
function* simplifications(c) {
  const clone = () => JSON.parse(JSON.stringify(c));
  if (c.config.meta !== undefined) yield ((x) => (delete x.config.meta, x))(clone());
  if ("session" in c.config && c.config.session !== undefined) yield ((x) => (delete x.config.session, x))(clone());
  const s = c.config.session;
  if (s && typeof s === "object" && !Array.isArray(s)) {
    for (const k of Object.keys(s)) yield ((x) => (delete x.config.session[k], x))(clone());
    for (const k of ["resetByType", "resetByChannel"]) {
      const g = s[k];
      if (g && typeof g === "object" && !Array.isArray(g))
        for (const name of Object.keys(g)) yield ((x) => (delete x.config.session[k][name], x))(clone());
    }
    const rules = [["reset"], ...["resetByType", "resetByChannel"].flatMap((k) => (s[k] && typeof s[k] === "object" ? Object.keys(s[k]).map((n) => [k, n]) : []))];
    for (const p of rules) {
      const r = p.reduce((o, k) => o?.[k], s);
      if (r && typeof r === "object" && !Array.isArray(r))
        for (const f of Object.keys(r)) yield ((x) => (delete p.reduce((o, k) => o[k], x.config.session)[f], x))(clone());
    }
  }
  if (c.key !== "agent:main:main") yield { ...clone(), key: "agent:main:main" };
  if (c.chatType !== null) yield { ...clone(), chatType: null };
  if (c.channel !== null) yield { ...clone(), channel: null };
  if (c.resetType !== null) yield { ...clone(), resetType: null };
  for (const f of Object.keys(c.entry)) yield ((x) => (delete x.entry[f], x))(clone());
}

/** Shrinks each representative while the release and keepalive still disagree exactly as before. */
async function minimize(version, judge, reps) {
  const work = reps.map((r) => ({ ...r, done: false }));
  for (let round = 0; round < 60 && work.some((w) => !w.done); round++) {
    const byTz = new Map();
    for (const [wi, w] of work.entries()) {
      if (w.done) continue;
      const cands = [...simplifications(w.case)];
      if (!cands.length) w.done = true;
      for (const [ci, cand] of cands.entries()) {
        if (!byTz.has(w.tz)) byTz.set(w.tz, []);
        byTz.get(w.tz).push({ wi, ci, cand });
      }
    }
    const best = new Map(); // wi -> first (lowest ci) candidate that keeps the disagreement
    for (const [tz, items] of byTz) {
      const cases = items.map((it) => it.cand);
      const [rvs, kvs] = await Promise.all([judge.judge(tz, cases), runOracle(version, tz, cases)]);
      items.forEach((it, i) => {
        const same = compare(rvs[i], kvs[i]).join("; ") === work[it.wi].diffs.join("; ");
        const prev = best.get(it.wi);
        if (same && (!prev || it.ci < prev.ci)) best.set(it.wi, { ci: it.ci, case: it.cand, gateway: rvs[i], keepalive: kvs[i] });
      });
    }
    for (const [wi, w] of work.entries()) {
      if (w.done) continue;
      const b = best.get(wi);
      if (!b) w.done = true;
      else Object.assign(w, { case: b.case, gateway: b.gateway, keepalive: b.keepalive });
    }
  }
  return work;
}

/**
 * What a shrunk case is, without the values that differ between copies of one rule: clock
 * values become their class (absent/zero/negative/future/past), numbers in the config their
 * kind, idle minutes in the differences "n".
 */
function reproducerKey(w) {
  const c = w.case;
  const entry = Object.fromEntries(Object.entries(c.entry).map(([k, v]) => [k, stampClass(v, c.now)]));
  const numKind = (v) => (v === 0 ? 0 : v < 0 ? "negative" : !Number.isInteger(v) ? "fraction" : v > 1e15 ? "huge" : "positive");
  const config = JSON.stringify(c.config, (k, v) => (typeof v === "number" && k !== "atHour" ? numKind(v) : v));
  const diffs = w.diffs.map((d) => d.replace(/^idleMinutes (\S+)\/(\S+)$/, (m, a, b) => `idleMinutes ${a === "null" ? a : "n"}/${b === "null" ? b : a === b ? "n" : "m"}`));
  return JSON.stringify({ diffs, config, key: c.key, chatType: c.chatType, channel: c.channel, resetType: c.resetType, entry });
}

for (const version of releases) {
  test(`reset model: openclaw@${version} and keepalive agree on policy and freshness`, { timeout: 30 * 60_000 }, async (t) => {
    assert.ok(
      fs.existsSync(ORACLE),
      `keepalive-oracle not found in ${binDir}: build it (cargo build --release -p keepalive-oracle) or set KEEPALIVE_BIN_DIR`,
    );
    const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "ka-reset-"));
    const judge = new ReleaseJudge(version, scratch);
    t.after(() => {
      judge.close();
      fs.rmSync(scratch, { recursive: true, force: true });
    });
    const ready = await judge.ready();
    t.diagnostic(`openclaw@${version} functions: ${JSON.stringify(ready.where)}`);
    t.diagnostic(`openclaw@${version} inbound call site: ${JSON.stringify(ready.callSite)}`);

    const disagreements = [];
    const stats = { cases: 0, fresh: 0, stale: 0, releaseErrors: 0, modes: { daily: 0, idle: 0, none: 0 } };
    for (const b of BATCHES) {
      const { share, ...batch } = b;
      // Rounded up per batch, so a release always gets at least COUNT cases.
      const rows = await judge.generate(batch, Math.ceil(COUNT * share));
      const answers = await runOracle(version, batch.tz, rows.map((r) => r.case));
      rows.forEach((r, i) => {
        const rv = r.verdict;
        stats.cases++;
        if (rv.error) stats.releaseErrors++;
        else {
          stats[rv.fresh ? "fresh" : "stale"]++;
          stats.modes[rv.policy.mode]++;
        }
        const diffs = compare(rv, answers[i]);
        if (diffs.length) disagreements.push({ batch: batch.label, tz: batch.tz, id: i, diffs, case: r.case, gateway: rv, keepalive: answers[i] });
      });
    }
    t.diagnostic(
      `openclaw@${version}: ${stats.cases} cases, fresh ${stats.fresh}, stale ${stats.stale}, effective modes ${JSON.stringify(stats.modes)}, ` +
        `release threw ${stats.releaseErrors}, disagreements ${disagreements.length}`,
    );

    // The cases must exercise both verdicts and every effective mode, or agreement means little.
    assert.ok(stats.cases >= COUNT, `only ${stats.cases} cases ran`);
    for (const k of ["fresh", "stale"]) assert.ok(stats[k] >= stats.cases * 0.1, `too few ${k} verdicts (${stats[k]} of ${stats.cases}): the generator no longer spreads cases`);
    for (const [m, n] of Object.entries(stats.modes)) assert.ok(n >= stats.cases * 0.005, `too few cases with effective mode ${m} (${n} of ${stats.cases})`);

    if (REPORT_DIR) {
      fs.mkdirSync(REPORT_DIR, { recursive: true });
      fs.writeFileSync(path.join(REPORT_DIR, `reset-model-${version}.jsonl`), disagreements.map((d) => JSON.stringify(d) + "\n").join(""));
    }
    if (!disagreements.length) return;

    const coarse = new Map();
    for (const d of disagreements) {
      const k = coarseClass(d.case, d.gateway, d.diffs);
      const c = coarse.get(k) ?? { n: 0, first: d };
      c.n++;
      coarse.set(k, c);
    }
    const ranked = [...coarse.values()].sort((a, b) => b.n - a.n);
    const lines = [
      `openclaw@${version}: keepalive disagrees with the release in ${disagreements.length} of ${stats.cases} cases ` +
        `(seed ${SEED}; every pair below reads gateway/keepalive).`,
    ];
    if (MINIMIZE > 0) {
      const reps = pickRepresentatives(ranked, MINIMIZE);
      const shrunk = await minimize(version, judge, reps.map((c) => ({ ...c.first, n: c.n })));
      const groups = new Map();
      for (const w of shrunk) {
        const k = reproducerKey(w);
        const g = groups.get(k) ?? { n: 0, w };
        g.n += w.n;
        groups.set(k, g);
      }
      lines.push(
        `Minimal reproducers of ${reps.length} of ${ranked.length} coarse classes ` +
          `(n = disagreements in the coarse classes that shrank to it):`,
        ...[...groups.values()]
          .sort((a, b) => b.n - a.n)
          .map(
            ({ n, w }) =>
              `  n=${n}  ${w.diffs.join("; ")}  [TZ=${w.tz}]\n    case: ${JSON.stringify({ release: version, ...w.case })}\n` +
              `    gateway: ${JSON.stringify(w.gateway)}\n    keepalive: ${JSON.stringify(w.keepalive)}`,
          ),
      );
    }
    lines.push(
      `First ${Math.min(SHOW, disagreements.length)} disagreements as generated:`,
      ...disagreements.slice(0, SHOW).map(
        (d) =>
          `  [${d.batch} #${d.id}, TZ=${d.tz}] ${d.diffs.join("; ")}\n    case: ${JSON.stringify({ release: version, ...d.case })}\n` +
          `    gateway: ${JSON.stringify(d.gateway)}\n    keepalive: ${JSON.stringify(d.keepalive)}`,
      ),
    );
    assert.fail(lines.join("\n"));
  });
}
