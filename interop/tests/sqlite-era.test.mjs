// Check 6, the SQLite era, judged by the releases' own `openclaw doctor --fix` (finding 0 of
// issue 10). Where an agent's sessions live is told by the tables of its database, never by the
// file existing:
// - from 2026.8 doctor imports sessions.json into table session_nodes of
//   agents/<id>/agent/openclaw-agent.sqlite: keepalive must see the sqlite generation, list the
//   imported sessions, report the release's real policy, and leave every file under agents/
//   byte-identical (it only reads the database, in a way that creates and changes nothing), and
//   read the live database while the newest such release's gateway runs and writes; a reset that
//   gateway makes (its idle rule at a message, its own sessions.reset: both keep the sessionId
//   and give the entry a new lifecycleRevision) shows in `keepalivectl resets` with the verdict
//   not_writable;
// - 2026.6.11 – 2026.7.35 doctor creates the same file without session tables, and sessions stay
//   in sessions.json: keepalive must see json and bump the store.
// Each pinned release of those two eras runs (KEEPALIVE_INTEROP_RELEASES narrows it); a release
// that is not installed fails the test. Knobs: KEEPALIVE_INTEROP_SQLITE_LIVE=all checks the
// running gateway of every SQLite-era release; KEEPALIVE_INTEROP_SQLITE_DAEMON_MS (1500) is how
// long the short-lived keepalived runs.
import test from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { DatabaseSync } from "node:sqlite";
import { compareReleases, keepalived, packageDir, releases } from "../lib/env.mjs";
import { ctl, ctlJson, gatewayEnv, openclawCli, scratch, startGateway, startKeepalived, sleep, tail } from "../lib/gateway.mjs";
import { loadRelease } from "../lib/openclaw.mjs";

const AGENT = "main";
const KEY = `agent:${AGENT}:main`;
const SESSION_ID = "5d0c1c7e-6a1e-4c1e-9b1a-2f7e3c1d9a01";
/** How long the short-lived keepalived runs (rounds every 50 ms). */
const DAEMON_MS = Number(process.env.KEEPALIVE_INTEROP_SQLITE_DAEMON_MS || 1500);

const sqliteEra = releases.filter((v) => compareReleases(v, "2026.8.0") >= 0).sort(compareReleases);
/**
 * The releases whose running gateway is also checked (a gateway start costs 20-40 s): the
 * newest of the era, or every one with KEEPALIVE_INTEROP_SQLITE_LIVE=all.
 */
const liveGateway = process.env.KEEPALIVE_INTEROP_SQLITE_LIVE === "all" ? sqliteEra : sqliteEra.slice(-1);
const databaseEra = releases.filter((v) => compareReleases(v, "2026.6.11") >= 0 && compareReleases(v, "2026.8.0") < 0);

/** A sessions.json as the gateway writes it (JSON.stringify(store, null, 2), mode 0600), with its transcript. */
function writeStore(sc) {
  const sessions = path.join(sc.stateDir, "agents", AGENT, "sessions");
  fs.mkdirSync(sessions, { recursive: true });
  const now = Date.now();
  const transcript = path.join(sessions, `${SESSION_ID}.jsonl`);
  fs.writeFileSync(transcript, JSON.stringify({ type: "session", version: 3, id: SESSION_ID, timestamp: new Date(now - 600_000).toISOString(), cwd: sc.dir }) + "\n");
  const store = {
    [KEY]: {
      sessionId: SESSION_ID,
      updatedAt: now - 60_000,
      sessionStartedAt: now - 600_000,
      lastInteractionAt: now - 60_000,
      chatType: "direct",
      sessionFile: transcript,
    },
  };
  const file = path.join(sessions, "sessions.json");
  fs.writeFileSync(file, JSON.stringify(store, null, 2), { mode: 0o600 });
  return file;
}

/** Runs the release's own `openclaw doctor --fix` on the scratch installation. */
async function doctorFix(version, sc) {
  packageDir(version); // throws (a failure, not a skip) when the release is not installed
  return openclawCli(version, ["doctor", "--fix", "--non-interactive"], { env: gatewayEnv(sc), cwd: sc.dir, timeoutMs: 300_000 });
}

/**
 * Every file and folder under `dir`: kind, mode, size, mtime (ns) and a hash of the bytes. A
 * folder's mtime moves when a file is created or removed in it, even for a moment.
 */
function snapshot(dir) {
  const out = new Map();
  const walk = (p) => {
    const st = fs.lstatSync(p, { bigint: true });
    const entry = { kind: st.isDirectory() ? "dir" : st.isFile() ? "file" : "other", mode: st.mode, size: st.size, mtimeNs: st.mtimeNs };
    if (st.isFile()) entry.sha256 = crypto.createHash("sha256").update(fs.readFileSync(p)).digest("hex");
    out.set(path.relative(dir, p) || ".", entry);
    if (st.isDirectory()) for (const name of fs.readdirSync(p).sort()) walk(path.join(p, name));
  };
  walk(dir);
  return out;
}

function assertSameSnapshot(before, after, what) {
  assert.deepEqual([...after.keys()], [...before.keys()], `${what}: files appeared or vanished`);
  for (const [p, was] of before) assert.deepEqual(after.get(p), was, `${what}: ${p} changed`);
}

/**
 * What the agent database holds, read from a copy of its files (so the reading itself cannot
 * touch the real ones): tables, user_version, journal mode from the header, the side files,
 * and the entry of the session.
 */
function inspectDatabase(sc) {
  const dir = path.join(sc.stateDir, "agents", AGENT, "agent");
  const db = path.join(dir, "openclaw-agent.sqlite");
  assert.ok(fs.existsSync(db), `${db} was not created`);
  const side = {};
  for (const suffix of ["-wal", "-shm"]) {
    side[suffix] = fs.existsSync(db + suffix) ? fs.statSync(db + suffix).size : null;
  }
  const header = Buffer.alloc(100);
  const fd = fs.openSync(db, "r");
  fs.readSync(fd, header, 0, 100, 0);
  fs.closeSync(fd);
  const copy = fs.mkdtempSync(path.join(sc.dir, "dbcopy-"));
  for (const suffix of ["", "-wal", "-shm"]) {
    if (fs.existsSync(db + suffix)) fs.copyFileSync(db + suffix, path.join(copy, "db.sqlite" + suffix));
  }
  const conn = new DatabaseSync(path.join(copy, "db.sqlite"));
  try {
    const tables = conn.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all().map((r) => r.name);
    const userVersion = conn.prepare("PRAGMA user_version").get().user_version;
    const sessions = tables.includes("session_nodes")
      ? conn.prepare("SELECT session_key, current_session_id FROM session_nodes ORDER BY session_key").all().map((r) => ({ ...r }))
      : null;
    const entryJson = tables.includes("session_nodes") ? conn.prepare("SELECT entry_json FROM session_nodes WHERE session_key = ?").get(KEY)?.entry_json : null;
    const entry = entryJson ? JSON.parse(entryJson) : null;
    const columns = tables.includes("session_nodes") ? conn.prepare("PRAGMA table_info(session_nodes)").all().map((r) => r.name) : null;
    return { path: db, tables, userVersion, sessions, entry, columns, journal: header[19] === 2 ? "wal" : "rollback", wal: side["-wal"], shm: side["-shm"] };
  } finally {
    conn.close();
    fs.rmSync(copy, { recursive: true, force: true });
  }
}

/** keepalive's own environment for the scratch installation. */
const kaEnv = (sc) => ({ HOME: sc.home, XDG_STATE_HOME: sc.xdgState, XDG_RUNTIME_DIR: path.join(sc.dir, "xdg-run"), TZ: "UTC" });

/** `keepalived --once` (every session in use, every session due): {code, stdout, stderr}. */
function once(sc) {
  return new Promise((resolve) => {
    execFile(
      keepalived,
      ["--state-dir", sc.stateDir, "--once", "--active-within", "all", "--schedule", "interval"],
      { env: { PATH: process.env.PATH, ...kaEnv(sc) }, timeout: 60_000 },
      (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === "number" ? err.code : -1) : 0, stdout, stderr }),
    );
  });
}

/** Runs keepalived for DAEMON_MS with rounds every 50 ms; returns its last status of the agent. */
async function runDaemonBriefly(t, sc, check) {
  const daemon = await startKeepalived(sc, ["--tick-ms", "50", "--interval", "1h", "--schedule", "interval", "--active-within", "all"], { env: kaEnv(sc) });
  t.after(() => daemon.stop());
  const started = Date.now();
  let agent;
  while (Date.now() - started < DAEMON_MS || !agent?.last_tick_ms) {
    const status = await ctlJson(sc.socket, ["status"], { env: kaEnv(sc) });
    agent = status.agents.find((a) => a.id === AGENT);
    await sleep(100);
  }
  await check(agent);
  const exited = await daemon.stop();
  assert.equal(exited.code, 0, `keepalived exited ${JSON.stringify(exited)}:\n${daemon.log()}`);
  return agent;
}

async function keepaliveDoctor(sc) {
  const r = await ctl(sc.socket, ["--json", "doctor", "--state-dir", sc.stateDir], { env: kaEnv(sc) });
  assert.equal(r.code, 0, `keepalivectl doctor: ${r.stdout}${r.stderr}`);
  const report = JSON.parse(r.stdout);
  const agent = report.agents.find((a) => a.id === AGENT);
  assert.ok(agent, `doctor lists no agent ${AGENT}: ${r.stdout}`);
  return { report, agent };
}

for (const version of sqliteEra) {
  test(`${version}: after its doctor --fix imported sessions.json into SQLite, keepalive detects it and changes no file`, async (t) => {
    const sc = scratch();
    t.after(() => sc.remove());
    writeStore(sc);
    const fixed = await doctorFix(version, sc);
    t.diagnostic(`doctor --fix took ${fixed.ms} ms`);

    // The release migrated: the store is archived, the session is a row of session_nodes.
    const agentDir = path.join(sc.stateDir, "agents", AGENT);
    assert.ok(!fs.existsSync(path.join(agentDir, "sessions", "sessions.json")), "sessions.json was not moved away");
    const archive = path.join(agentDir, "session-sqlite-import-archive");
    const archived = fs.existsSync(archive) ? fs.readdirSync(archive) : [];
    assert.ok(archived.some((f) => f.startsWith("legacy-store.sessions.json.imported-")), `no archived store in ${archive}: ${archived}`);
    const db = inspectDatabase(sc);
    t.diagnostic(`database: user_version ${db.userVersion}, ${db.journal}, -wal ${db.wal} bytes, -shm ${db.shm} bytes, ${db.tables.length} tables`);
    assert.ok(db.tables.includes("session_nodes"), `no session_nodes in ${db.tables}`);
    assert.deepEqual(db.sessions, [{ session_key: KEY, current_session_id: SESSION_ID }]);
    for (const column of ["session_key", "current_session_id", "entry_json", "updated_at", "last_interaction_at", "last_activity_at"]) {
      assert.ok(db.columns.includes(column), `session_nodes lacks ${column}: ${db.columns}`);
    }

    const before = snapshot(path.join(sc.stateDir, "agents"));
    const r = await once(sc);
    assert.equal(r.code, 0, `keepalived --once: ${r.stdout}${r.stderr}`);
    assert.match(r.stdout, new RegExp(`- ${AGENT}: .*session_nodes`), r.stdout);
    assert.match(r.stdout, /Bumped 0 session/, r.stdout);

    await runDaemonBriefly(t, sc, async (agent) => {
      assert.equal(agent.generation, "sqlite", JSON.stringify(agent));
      assert.equal(agent.writes, 0, JSON.stringify(agent));
      assert.equal(agent.last_error, null, JSON.stringify(agent));
      assert.match(agent.note ?? "", /session_nodes/);
      const touch = await ctl(sc.socket, ["--json", "touch", KEY], { env: kaEnv(sc) });
      assert.equal(touch.code, 1, `touch: ${touch.stdout}${touch.stderr}`);
      assert.match(touch.stdout + touch.stderr, /generation_unsupported/);
      // The imported session is listed from session_nodes; under the release's default policy
      // it never expires.
      assert.equal(agent.sessions, 1, JSON.stringify(agent));
      const { sessions } = await ctlJson(sc.socket, ["sessions"], { env: kaEnv(sc) });
      assert.deepEqual(sessions.map((r) => r.key), [KEY], JSON.stringify(sessions));
      const [row] = sessions;
      assert.equal(row.reason, "not_writable", JSON.stringify(row));
      assert.equal(row.kept_alive, false);
      assert.equal(row.last_activity_ms, db.entry.lastInteractionAt, JSON.stringify(row));
      assert.equal(row.stale_at_ms, null, JSON.stringify(row));
      assert.match(row.detail, /never expires/);
    });

    const { report, agent } = await keepaliveDoctor(sc);
    assert.equal(agent.generation, "sqlite", JSON.stringify(agent));
    assert.equal(agent.database?.holds_sessions, true, JSON.stringify(agent));
    assert.equal(agent.database?.user_version, db.userVersion);
    assert.equal(agent.error, null);
    // The policy keepalive reports is the one the release itself applies to that config.
    const config = JSON.parse(fs.readFileSync(path.join(sc.stateDir, "openclaw.json"), "utf8"));
    process.env.HOME = sc.home;
    process.env.OPENCLAW_STATE_DIR = sc.stateDir;
    const rel = await loadRelease(version);
    for (const kind of ["direct", "group", "thread"]) {
      const real = rel.resolveSessionResetPolicy({ sessionCfg: config.session, resetType: kind });
      // Listed for the release doctor found (or, unknown, for the SQLite lines it assumes).
      const line = report.reset_policy.find((p) => (p.release === version || p.release.startsWith("if 2026.")) && p.applies_to === `${kind} sessions`);
      assert.ok(line, `doctor reports no policy for ${kind}: ${JSON.stringify(report.reset_policy)}`);
      assert.equal(line.rule.mode, real.mode, `${kind}: keepalive says ${JSON.stringify(line.rule)}, the release ${JSON.stringify(real)}`);
    }

    assertSameSnapshot(before, snapshot(path.join(sc.stateDir, "agents")), "agents/");
  });

  if (!liveGateway.includes(version)) continue;
  test(`${version}: with its gateway running and writing, keepalive reads the live database and writes nothing`, async (t) => {
    const sc = scratch();
    t.after(() => sc.remove());
    writeStore(sc);
    await doctorFix(version, sc);
    const gw = await startGateway(version, sc);
    t.after(() => gw.stop());
    t.diagnostic(`gateway ready in ${gw.startMs} ms`);
    const db = path.join(sc.stateDir, "agents", AGENT, "agent", "openclaw-agent.sqlite");
    const sideFiles = () => ["-wal", "-shm"].map((s) => (fs.existsSync(db + s) ? `${s} ${fs.statSync(db + s).size} bytes` : `${s} absent`)).join(", ");
    t.diagnostic(`gateway idle: ${sideFiles()}`);
    // A message makes the gateway write the session (the turn itself fails: no model), so
    // keepalive then reads through the live gateway's -wal and -shm.
    const client = await gw.connect();
    t.after(() => client.close());
    // keepalive's first look is at the entry as imported (no lifecycleRevision yet)...
    await runDaemonBriefly(t, sc, async (agent) => {
      assert.equal(agent.generation, "sqlite", `${JSON.stringify(agent)}\n${gw.log()}`);
    });
    const imported = inspectDatabase(sc).entry;
    const { end } = await client.chat(KEY, "keepalive interop: hello");
    t.diagnostic(`chat turn ended ${end.payload?.state}; then ${sideFiles()}`);
    const chatted = inspectDatabase(sc).entry;
    t.diagnostic(`lifecycleRevision as imported: ${imported.lifecycleRevision}; after a chat: ${chatted.lifecycleRevision}`);
    assert.ok(
      chatted.sessionId === imported.sessionId && chatted.sessionStartedAt === imported.sessionStartedAt,
      `openclaw@${version} started the session afresh under its default policy: ${JSON.stringify({ imported, chatted })}\n${gw.log()}`,
    );
    await runDaemonBriefly(t, sc, async (agent) => {
      assert.equal(agent.generation, "sqlite", `${JSON.stringify(agent)}\n${gw.log()}`);
      assert.equal(agent.writes, 0);
      assert.equal(agent.last_error, null, JSON.stringify(agent));
      // ...and a chat that did not start the session afresh is no reset.
      const { events } = await ctlJson(sc.socket, ["resets", "--all"], { env: kaEnv(sc) });
      assert.deepEqual(events.filter((e) => e.key === KEY), [], `a chat turn taken for a reset: ${JSON.stringify(events)}`);
    });
    const { agent } = await keepaliveDoctor(sc);
    assert.equal(agent.database?.holds_sessions, true, JSON.stringify(agent));
    t.diagnostic(`keepalive read it as ${agent.database?.journal}`);
    // The gateway goes on undisturbed: its session is the one it had, and it still writes.
    const row = await client.session(KEY);
    assert.equal(row?.sessionId, SESSION_ID, `sessions.list: ${JSON.stringify(row)}\n${gw.log()}`);
    await client.chat(KEY, "keepalive interop: again");
    const stopped = await gw.stop();
    t.diagnostic(`after the gateway stopped (${JSON.stringify(stopped)}): ${sideFiles()}`);
  });

  test(`${version}: a reset its gateway makes in SQLite shows in keepalivectl resets, verdict not_writable`, async (t) => {
    // Idle after one minute: the imported session was last used a minute before the import, so
    // it is stale by the time the gateway runs, and its next message starts it afresh.
    const sc = scratch({ session: { reset: { mode: "idle", idleMinutes: 1 } } });
    let gw, daemon, client;
    // One hook, in this order: after hooks run first-registered first, and the folder cannot
    // be removed while the gateway still writes in it.
    t.after(async () => {
      client?.close();
      await daemon?.stop();
      await gw?.stop();
      sc.remove();
    });
    writeStore(sc);
    await doctorFix(version, sc);
    gw = await startGateway(version, sc);
    daemon = await startKeepalived(sc, ["--tick-ms", "200", "--interval", "1h"], { env: kaEnv(sc) });
    const said = () => `\nkeepalived log:\n${daemon.log()}\ngateway:\n${gw.log()}`;
    const resetsOf = async () => (await ctlJson(sc.socket, ["resets"], { env: kaEnv(sc) })).events.filter((e) => e.key === KEY && e.kind === "reset");
    const waitResets = async (n, what) => {
      const deadline = Date.now() + 30_000;
      for (;;) {
        const events = await resetsOf();
        if (events.length >= n) return events;
        if (Date.now() > deadline) throw new Error(`keepalivectl resets shows no ${what}: ${JSON.stringify(events)}${said()}`);
        await sleep(200);
      }
    };

    // keepalive's look before the reset: the session, stale by the user's idle rule, with the
    // command that would stop such resets.
    const { sessions } = await ctlJson(sc.socket, ["sessions"], { env: kaEnv(sc) });
    const row = sessions.find((r) => r.key === KEY);
    assert.ok(row, `keepalivectl sessions: ${JSON.stringify(sessions)}${said()}`);
    assert.equal(row.reason, "not_writable", JSON.stringify(row));
    assert.equal(row.stale_rule, "idle", JSON.stringify(row));
    assert.ok(row.stale_at_ms <= Date.now(), JSON.stringify(row));
    assert.match(row.detail, /`openclaw config set session\.reset\.mode none`/);

    client = await gw.connect();
    // These releases reset a session by giving its entry a new lifecycleRevision and a new
    // sessionStartedAt; the sessionId stays (an imported entry has no revision before).
    const imported = inspectDatabase(sc).entry;
    const { end } = await client.chat(KEY, "keepalive interop: after the idle window");
    t.diagnostic(`chat turn ended ${end.payload?.state}`);
    const afterChat = inspectDatabase(sc).entry;
    t.diagnostic(`entry before: ${JSON.stringify(imported)}; after: ${JSON.stringify(afterChat)}`);
    assert.ok(
      afterChat.lifecycleRevision && afterChat.lifecycleRevision !== imported.lifecycleRevision && afterChat.sessionStartedAt > imported.sessionStartedAt,
      `openclaw@${version} did not reset the session under idleMinutes 1: this check proves nothing${said()}`,
    );
    const [e] = await waitResets(1, "reset of the idle session");
    assert.equal(e.verdict, "not_writable", JSON.stringify(e));
    assert.equal(e.old_session_id, SESSION_ID, JSON.stringify(e));
    assert.equal(e.new_session_id, afterChat.sessionId, JSON.stringify(e));
    assert.equal(e.stale_rule, "idle", JSON.stringify(e));
    if (afterChat.sessionId === SESSION_ID) assert.ok(e.detail.includes(afterChat.lifecycleRevision), e.detail);
    t.diagnostic(`noticed: ${e.detail}`);

    // The gateway's own reset method, as a /new or /reset in the chat.
    const reset = await client.request("sessions.reset", { key: KEY });
    const manual = inspectDatabase(sc).entry;
    assert.notEqual(manual.lifecycleRevision, afterChat.lifecycleRevision, `sessions.reset: ${JSON.stringify(reset)}${said()}`);
    const events = await waitResets(2, "reset by sessions.reset");
    const second = events.find((x) => x !== e && x.detail.includes(manual.lifecycleRevision));
    assert.ok(second, JSON.stringify(events));
    assert.equal(second.verdict, "not_writable", JSON.stringify(second));
    assert.equal(second.new_session_id, manual.sessionId);

    const table = await ctl(sc.socket, ["resets"], { env: kaEnv(sc) });
    assert.match(table.stdout, /its store is one keepalive does not write/, table.stdout);
    const status = await ctlJson(sc.socket, ["status"], { env: kaEnv(sc) });
    const agent = status.agents.find((a) => a.id === AGENT);
    assert.equal(agent.writes, 0, JSON.stringify(agent));
    assert.equal(agent.resets, 2, JSON.stringify(agent));
  });
}

for (const version of databaseEra) {
  test(`${version}: its doctor --fix creates an agent database without sessions, and keepalive bumps sessions.json`, async (t) => {
    const sc = scratch();
    t.after(() => sc.remove());
    const storeFile = writeStore(sc);
    const fixed = await doctorFix(version, sc);
    t.diagnostic(`doctor --fix took ${fixed.ms} ms`);
    const db = inspectDatabase(sc);
    t.diagnostic(`database: user_version ${db.userVersion}, ${db.journal}, -wal ${db.wal} bytes, -shm ${db.shm} bytes, tables ${db.tables.join(" ")}`);
    assert.ok(!db.tables.some((name) => name.startsWith("session_")), `a session table in ${db.tables}`);
    assert.ok(db.tables.includes("auth_profile_store"), `not the agent database: ${db.tables}`);
    assert.ok(fs.existsSync(storeFile), "doctor moved sessions.json away");

    const agentDir = path.join(sc.stateDir, "agents", AGENT, "agent");
    const databaseBefore = snapshot(agentDir);
    const stored = fs.readFileSync(storeFile, "utf8");
    const r = await once(sc);
    assert.equal(r.code, 0, `keepalived --once: ${r.stdout}${r.stderr}`);
    assert.match(r.stdout, new RegExp(`✓ ${AGENT}: bumped 1 of 1`), r.stdout);
    const was = JSON.parse(stored)[KEY];
    const now = JSON.parse(fs.readFileSync(storeFile, "utf8"))[KEY];
    assert.ok(now.updatedAt > was.updatedAt && now.lastInteractionAt > was.lastInteractionAt, `not bumped: ${JSON.stringify(now)}`);
    assert.deepEqual({ ...now, updatedAt: 0, lastInteractionAt: 0 }, { ...was, updatedAt: 0, lastInteractionAt: 0 });

    const agent = await runDaemonBriefly(t, sc, async (agent) => {
      assert.equal(agent.generation, "json-v2", JSON.stringify(agent));
      assert.ok(agent.writes >= 1, JSON.stringify(agent));
      assert.equal(agent.last_error, null, JSON.stringify(agent));
    });
    t.diagnostic(`${agent.writes} writes in ${DAEMON_MS} ms`);

    const { agent: reported } = await keepaliveDoctor(sc);
    assert.equal(reported.generation, "json-v2", JSON.stringify(reported));
    assert.equal(reported.database?.holds_sessions, false);
    assert.equal(reported.database?.user_version, db.userVersion);
    assertSameSnapshot(databaseBefore, snapshot(agentDir), "the agent database's folder");
    assert.ok(tail(path.join(sc.dir, "keepalived.log")).includes("bumped"), "keepalived logged no bump");
  });
}
