// The real gateway writer for the interop tests: this child process runs an OpenClaw release's
// own session-store code (updateSessionStore, loadSessionStore, updateLastRoute from its dist/)
// on a store, driven by one JSON command per stdin line. Each reply is one stdout line starting
// with REPLY_MARK (the bundle may print lines of its own). Tests start it with startWriter()
// below; by hand, with the Node that runs the releases:
//
//   node race-writer.mjs <release>      then send e.g.
//   {"op":"race","store":"/tmp/.../sessions.json","updates":1000,"mode":"continuous","key":"agent:main:race"}
//
// Ops:
//   race     N updates through updateSessionStore, each adding one to entry[key].kaRaceCounter
//            (continuous: one every 2 ms; bursty: 10 updates 2 ms apart, then 100 ms quiet);
//            with untilGap, more (up to maxUpdates) until one finds its predecessor replaced.
//            The increment starts from the value the release loaded, as a gateway adds to a
//            token counter, so replaced writes show as made - (final - first) on disk.
//            Replies {made, first, errors, gaps, ms}.
//   probe    what the release's writer really does, seen from outside: whether
//            sessions.json.lock exists while the mutator runs and what it holds, the names of
//            the temp files it creates, what it does to a sessions folder of mode 0700, and
//            whether it re-reads a store replaced behind its back by a same-size older copy
//            (its cache).
//   compose  writes a store with the release's newest features through its own functions.
//   load     loadSessionStore(store, {skipCache: true}) written as JSON to `out`.
//
// Importing a bundle runs its module code, which creates folders and log files: startWriter
// points HOME, OPENCLAW_STATE_DIR and TMPDIR into temp dirs. (Releases still create
// /tmp/openclaw, their hard-coded preferred log folder, when it does not exist.)
import fs from "node:fs";
import path from "node:path";
import readline from "node:readline";
import { fileURLToPath, pathToFileURL } from "node:url";
import { compareReleases, packageDir } from "./env.mjs";
import { locate as locateOwn } from "./store-fns.mjs";

export const REPLY_MARK = "@@race-writer ";
export const RACE_FIELD = "kaRaceCounter";

const release = process.argv[2];

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * The release's functions: updateSessionStore and loadSessionStore from the shared loader
 * (openclaw.mjs, loadRelease), or from the private one (store-fns.mjs) with
 * KEEPALIVE_INTEROP_STORE_LOADER=store-fns. updateLastRoute (optional: compose records delivery
 * routes with it) always comes from the private loader, and only when it lives in the writer's
 * own chunk, so it shares the writer's cache and queue.
 */
async function loadFunctions() {
  const dist = path.join(packageDir(release), "dist");
  const own = locateOwn(release);
  const fns = { where: {} };
  if ((process.env.KEEPALIVE_INTEROP_STORE_LOADER || "openclaw") === "openclaw") {
    const { loadRelease } = await import("./openclaw.mjs");
    const r = await loadRelease(release);
    for (const name of ["updateSessionStore", "loadSessionStore"]) {
      if (typeof r[name] !== "function") throw new Error(`openclaw.mjs loadRelease(${release}) has no ${name}`);
      fns[name] = r[name];
      const at = r.where?.[name];
      fns.where[name] = at?.file ? { file: path.resolve(dist, at.file), alias: at.exportName } : { file: "(openclaw.mjs)", alias: name };
    }
    fns.loader = "openclaw.mjs";
  } else {
    for (const name of ["updateSessionStore", "loadSessionStore"]) fns.where[name] = own[name];
    fns.loader = "store-fns.mjs";
  }
  if (own.updateLastRoute && path.resolve(own.updateLastRoute.file) === path.resolve(fns.where.updateSessionStore.file)) {
    fns.where.updateLastRoute = own.updateLastRoute;
  }
  for (const [name, { file, alias }] of Object.entries(fns.where)) {
    if (fns[name]) continue;
    const fn = (await import(pathToFileURL(file).href))[alias];
    if (typeof fn !== "function") throw new Error(`openclaw@${release}: ${file} export ${alias} (${name}) is ${typeof fn}`);
    fns[name] = fn;
  }
  return fns;
}

function reply(obj) {
  process.stdout.write(REPLY_MARK + JSON.stringify(obj) + "\n");
}

async function race(fns, cmd) {
  const { store, updates, mode, key } = cmd;
  // untilGap: keep going past `updates`, up to `maxUpdates`, until a replaced write was seen
  // (the control uses it: it must show a loss, and stops as soon as it has shown one).
  const maxUpdates = cmd.untilGap ? Math.max(updates, cmd.maxUpdates ?? updates) : updates;
  let made = 0;
  let first = null; // the counter as the first update found it
  let last = null; // the counter as this writer last wrote it
  const errors = [];
  const gaps = []; // updates that found another value than this writer last wrote: a replaced write
  const started = performance.now();
  for (let i = 0; i < maxUpdates && !(i >= updates && (!cmd.untilGap || gaps.length > 0)); i++) {
    try {
      await fns.updateSessionStore(store, (s) => {
        const e = s[key];
        if (!e) throw new Error(`entry ${key} is gone from the store`);
        const before = typeof e[RACE_FIELD] === "number" ? e[RACE_FIELD] : 0;
        if (first === null) first = before;
        if (last !== null && before !== last && gaps.length < 50) gaps.push({ update: i, expected: last, found: before });
        e[RACE_FIELD] = before + 1;
        last = before + 1;
        e.updatedAt = Math.max(e.updatedAt ?? 0, Date.now());
      });
      made++;
    } catch (err) {
      errors.push(String(err?.stack || err));
      if (errors.length >= 5) break;
    }
    if (mode === "bursty" && (i + 1) % 10 === 0) await sleep(100);
    else await sleep(2);
  }
  return { made, first, errors, gaps, ms: Math.round(performance.now() - started) };
}

/** Collapses pids and uuids so temp names read as patterns. */
function pattern(name) {
  return name
    .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, "<uuid>")
    .replace(new RegExp(`\\b${process.pid}\\b`, "g"), "<pid>");
}

async function probe(fns, cmd) {
  const { store, key } = cmd;
  const dir = path.dirname(store);
  const lockPath = `${fs.realpathSync(dir)}/${path.basename(store)}.lock`;
  // A user who made the sessions folder private: does the writer leave it so?
  fs.chmodSync(dir, 0o700);
  const seen = new Set();
  const watcher = fs.watch(dir, (_event, name) => {
    if (name && name !== path.basename(store)) seen.add(name === path.basename(dir) ? "(the sessions folder itself)" : pattern(String(name)));
  });
  const lock = { exists: false, payload: null };
  await fns.updateSessionStore(store, (s) => {
    if (fs.existsSync(lockPath)) {
      lock.exists = true;
      lock.payload = fs.readFileSync(lockPath, "utf8");
    }
    s[key].kaProbe = 1;
  });
  await sleep(50);
  const lockAfter = fs.existsSync(lockPath);
  const modeOf = (p) => (fs.statSync(p).mode & 0o777).toString(8);
  const storeMode = modeOf(store);
  const dirModeAfter700 = modeOf(dir);
  // Cache: write, swap in an older same-size copy behind the writer's back (a plain rename,
  // like any other writer), write again; a writer that re-read the store starts from the copy.
  const copy = `${store}.probe-copy`;
  let kept = 0;
  const rounds = cmd.cacheRounds ?? 12;
  for (let i = 0; i < rounds; i++) {
    await fns.updateSessionStore(store, (s) => {
      s[key].kaProbe = 11; // the same length as 12: the copy has the same size
    });
    fs.copyFileSync(store, copy);
    await fns.updateSessionStore(store, (s) => {
      s[key].kaProbe = 12;
    });
    fs.renameSync(copy, store); // holds kaProbe 11, same size
    let before;
    await fns.updateSessionStore(store, (s) => {
      before = s[key].kaProbe;
      s[key].kaProbe = 13;
    });
    if (before === 12) kept++;
  }
  watcher.close();
  return {
    lockDuringMutator: lock.exists,
    lockPayload: lock.payload,
    lockLeftAfter: lockAfter,
    tempNames: [...seen].filter((n) => n !== path.basename(copy)).sort(),
    storeMode,
    dirModeAfter700,
    cacheKeptInMemory: kept,
    cacheRounds: rounds,
  };
}

/** A store with what the release writes in real use, written by its own functions. */
async function compose(fns, cmd) {
  const { store } = cmd;
  const now = Date.now();
  const v2 = compareReleases(release, "2026.4.25") >= 0;
  const sessionsDir = path.dirname(store);
  const mk = (i, extra) => {
    const sessionId = `0b7c${String(i).padStart(4, "0")}-5e1d-4c3a-9f00-${String(1e11 + i * 7919).slice(0, 12)}`;
    const updatedAt = now - (i + 1) * 61_000;
    const e = { sessionId, updatedAt };
    if (v2) {
      e.sessionStartedAt = updatedAt - 3_600_000;
      e.lastInteractionAt = updatedAt - 5_000;
    }
    return { ...e, sessionFile: path.join(sessionsDir, `${sessionId}.jsonl`), ...extra };
  };
  // A prompt long enough for 2026.6+ to move it into a prompt blob (512 chars and more).
  const prompt = `You are Zoë, a helpful agent 🦞. Skills follow.\n${"- skill: résumé ✓ 日本語\n".repeat(40)}`;
  await fns.updateSessionStore(store, (s) => {
    s["agent:main:main"] = mk(0, {
      systemSent: true,
      chatType: "direct",
      modelProvider: "anthropic",
      model: "claude-opus-4-6",
      inputTokens: 120_345,
      outputTokens: 6_789,
      totalTokens: 127_134,
      contextTokens: 200_000,
      cacheRead: 98_304,
      displayName: "Zoë 🦞 — main",
      skillsSnapshot: { prompt, skills: [{ name: "weather" }, { name: "résumé" }], version: 3 },
    });
    s["agent:main:telegram:group:-1001234567890"] = mk(1, {
      chatType: "group",
      subject: "Ünïcödé group 😀 \u{1F9EA}",
      groupId: "-1001234567890",
      inputTokens: 42,
      outputTokens: 7,
      totalTokens: 49,
      label: "lone high \uD800 surrogate",
    });
    s["agent:main:discord:channel:998877665544332211"] = mk(2, {
      chatType: "channel",
      displayName: "lone low \uDC00 surrogate and a pair \uD83D\uDE00",
      abortedLastRun: true,
      compactionCount: 2,
    });
    s[`agent:main:subagent:6f1c2d3e-4b5a-4c6d-8e7f-${String(now).slice(-12)}`] = mk(3, {
      spawnedBy: "agent:main:main",
      spawnDepth: 1,
      label: "research \"quoted\" \\ backslash / slash",
    });
    s["cron:nightly-digest"] = mk(4, { chatType: "direct", totalTokens: 0, estimatedCostUsd: 0.0125 });
    s["agent:main:whatsapp:direct:+491701234567"] = mk(5, { chatType: "direct" });
  });
  const routes = [];
  if (fns.updateLastRoute) {
    // Delivery routes the way the gateway records them after a reply.
    await fns.updateLastRoute({ storePath: store, sessionKey: "agent:main:main", channel: "telegram", to: "telegram:123456789", accountId: "default" });
    await fns.updateLastRoute({ storePath: store, sessionKey: "agent:main:telegram:group:-1001234567890", channel: "telegram", to: "telegram:-1001234567890", accountId: "default", threadId: "42" });
    await fns.updateLastRoute({ storePath: store, sessionKey: "agent:main:whatsapp:direct:+491701234567", channel: "whatsapp", to: "+491701234567", accountId: "default" });
    routes.push("updateLastRoute");
  } else {
    await fns.updateSessionStore(store, (s) => {
      s["agent:main:main"].deliveryContext = { channel: "telegram", to: "telegram:123456789", accountId: "default" };
      s["agent:main:main"].lastChannel = "telegram";
      s["agent:main:main"].lastTo = "telegram:123456789";
    });
    routes.push("updateSessionStore");
  }
  // Token counters move on a later turn.
  await fns.updateSessionStore(store, (s) => {
    const e = s["agent:main:main"];
    e.inputTokens = (e.inputTokens ?? 0) + 1_000;
    e.totalTokens = (e.totalTokens ?? 0) + 1_100;
  });
  const blobs = path.join(sessionsDir, "skills-prompts");
  return { routes, promptBlobs: fs.existsSync(blobs), v2 };
}

async function main() {
  if (!release) throw new Error("usage: race-writer.mjs <release>");
  const fns = await loadFunctions();
  const where = Object.fromEntries(Object.entries(fns.where).map(([k, v]) => [k, `${path.relative(path.join(packageDir(release), "dist"), v.file)} as ${v.alias}`]));
  reply({ ready: true, release, loader: fns.loader, where, pid: process.pid });
  const rl = readline.createInterface({ input: process.stdin });
  for await (const line of rl) {
    if (!line.trim()) continue;
    const cmd = JSON.parse(line);
    try {
      let result;
      if (cmd.op === "race") result = await race(fns, cmd);
      else if (cmd.op === "probe") result = await probe(fns, cmd);
      else if (cmd.op === "compose") result = await compose(fns, cmd);
      else if (cmd.op === "load") {
        const store = fns.loadSessionStore(cmd.store, { skipCache: true });
        fs.writeFileSync(cmd.out, JSON.stringify(store));
        result = { entries: Object.keys(store).length };
      } else if (cmd.op === "exit") {
        reply({ op: "exit", ok: true });
        break;
      } else throw new Error(`unknown op ${cmd.op}`);
      reply({ op: cmd.op, ok: true, ...result });
    } catch (err) {
      reply({ op: cmd.op, ok: false, error: String(err?.stack || err) });
    }
  }
  process.exit(0);
}

/**
 * Starts this script as a child for `release` (Node 24 from env.mjs) with its own HOME,
 * OPENCLAW_STATE_DIR and TMPDIR, and waits for its ready line. Returns
 * {ready, send(cmd) -> reply, stop(), stderr()}. Every reply with ok:false is thrown.
 */
export async function startWriter(release, { stateDir, home, tmp, timeoutMs = 120_000 }) {
  const { node, cache } = await import("./env.mjs");
  const { spawn } = await import("node:child_process");
  for (const d of [home, tmp]) fs.mkdirSync(d, { recursive: true });
  const child = spawn(node, [fileURLToPath(import.meta.url), release], {
    env: {
      PATH: process.env.PATH || "/usr/bin:/bin",
      HOME: home,
      TMPDIR: tmp,
      OPENCLAW_STATE_DIR: stateDir,
      KEEPALIVE_INTEROP_CACHE: cache,
      ...(process.env.KEEPALIVE_INTEROP_RELEASES ? { KEEPALIVE_INTEROP_RELEASES: process.env.KEEPALIVE_INTEROP_RELEASES } : {}),
      ...(process.env.KEEPALIVE_INTEROP_STORE_LOADER ? { KEEPALIVE_INTEROP_STORE_LOADER: process.env.KEEPALIVE_INTEROP_STORE_LOADER } : {}),
      TZ: "UTC",
      NO_COLOR: "1",
    },
    stdio: ["pipe", "pipe", "pipe"],
  });
  // A test runner that dies (or is interrupted) must not leave a writer behind.
  const killOnExit = () => child.kill("SIGKILL");
  process.once("exit", killOnExit);
  const errBuf = [];
  child.stderr.on("data", (b) => {
    errBuf.push(b);
    if (errBuf.length > 200) errBuf.shift();
  });
  const exited = new Promise((resolve) =>
    child.on("exit", (code, signal) => {
      process.removeListener("exit", killOnExit);
      resolve({ code, signal });
    }),
  );
  const waiting = [];
  let failed = null;
  const rl = readline.createInterface({ input: child.stdout });
  rl.on("line", (line) => {
    if (!line.startsWith(REPLY_MARK)) return;
    const msg = JSON.parse(line.slice(REPLY_MARK.length));
    const w = waiting.shift();
    if (w) w.resolve(msg);
  });
  exited.then((st) => {
    failed = new Error(`race-writer for ${release} exited ${JSON.stringify(st)}: ${Buffer.concat(errBuf).toString("utf8").slice(-4000)}`);
    while (waiting.length) waiting.shift().reject(failed);
  });
  const next = (what) =>
    new Promise((resolve, reject) => {
      if (failed) return reject(failed);
      const timer = setTimeout(() => reject(new Error(`race-writer for ${release}: no reply to ${what} within ${timeoutMs} ms`)), timeoutMs);
      waiting.push({
        resolve: (m) => (clearTimeout(timer), resolve(m)),
        reject: (e) => (clearTimeout(timer), reject(e)),
      });
    });
  const ready = await next("start-up").catch(async (e) => {
    child.kill("SIGKILL");
    throw e;
  });
  if (!ready.ready) {
    child.kill("SIGKILL");
    throw new Error(`race-writer for ${release} failed to load the release: ${ready.error}`);
  }
  return {
    ready,
    pid: child.pid,
    stderr: () => Buffer.concat(errBuf).toString("utf8"),
    async send(cmd) {
      const p = next(cmd.op);
      child.stdin.write(JSON.stringify(cmd) + "\n");
      const r = await p;
      if (!r.ok) throw new Error(`race-writer ${release} ${cmd.op} failed: ${r.error}`);
      return r;
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.stdin.end();
        const done = await Promise.race([exited, sleep(5_000).then(() => null)]);
        if (!done) {
          child.kill("SIGKILL");
          await exited;
        }
      }
    },
  };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err) => {
    reply({ ready: false, error: String(err?.stack || err) });
    process.exit(1);
  });
}
