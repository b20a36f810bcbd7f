// Check 4 of the interop suite: the mission, judged by a running gateway. A real gateway of
// each release, prepared by its own `openclaw doctor --fix` as a new user's would be, resets
// sessions after 1 idle minute; keepalived runs beside it as a service. Two sessions start
// with a message each; keepalive is told to leave one of them alone (the control). After the
// idle window a message arrives in both: the kept session must still have its sessionId, the
// control must have a new one (proof that the gateway did reset what nobody kept alive).
//
// Releases run side by side: their set-up (CPU-bound) one after another, their idle windows
// (just waiting) overlapping: five releases take under 4 minutes.
import test from "node:test";
import assert from "node:assert/strict";
import { compareReleases } from "../lib/env.mjs";
import { ctlJson, gatewayEnv, openclawCli, scratch, selectReleases, sleep, startGateway, startKeepalived } from "../lib/gateway.mjs";

const KEPT = "agent:main:kept";
const CONTROL = "agent:main:control";
/** How long after the control's last message the second round comes: the idle rule is 1 min. */
const IDLE_WAIT_MS = 1000 * Number(process.env.KEEPALIVE_INTEROP_IDLE_WAIT_S || 80);
/**
 * Releases this check runs by default: one per JSON line of the release table, and both sides
 * of the agent database's arrival (2026.6.11). 2026.4.24 – 2026.5.2 work too, but install and
 * load their plugins' dependencies on a first chat turn (25 s to 3 min here), so they run when
 * named in KEEPALIVE_INTEROP_MISSION_RELEASES. From 2026.8 sessions live in SQLite, which
 * keepalive leaves alone by design (check 6 covers it).
 */
const DEFAULT = ["2026.3.13", "2026.4.12", "2026.6.1", "2026.6.35", "2026.7.35"];
const { chosen, selected: missionReleases } = selectReleases("KEEPALIVE_INTEROP_MISSION_RELEASES", DEFAULT);
for (const v of chosen) {
  if (compareReleases(v, "2026.8.0") >= 0) throw new Error(`the mission check does not apply to ${v}: keepalive writes nothing in the SQLite era`);
}

/** Runs set-up steps of concurrent releases one at a time: they are what needs the CPU. */
let queue = Promise.resolve();
function serially(fn) {
  const run = queue.then(fn, fn);
  queue = run.catch(() => {});
  return run;
}

async function mission(t, v) {
  const fig = { release: v };
  const t0 = Date.now();
  const sc = scratch({ session: { reset: { mode: "idle", idleMinutes: 1 } } });
  let gw = null;
  let ka = null;
  t.after(async () => {
    await ka?.stop();
    await gw?.stop();
    sc.remove();
  });

  const { c, first } = await serially(async () => {
    // The release's own repair run, as its docs tell a new user; from 2026.6.11 it also creates
    // the agent database that must not be mistaken for the SQLite session store.
    fig.doctor_ms = (await openclawCli(v, ["doctor", "--fix", "--non-interactive"], { env: gatewayEnv(sc), cwd: sc.dir })).ms;
    ka = await startKeepalived(sc, ["--tick-ms", "1000"]);
    await ctlJson(sc.socket, ["exclude", CONTROL]);
    gw = await startGateway(v, sc);
    fig.gateway_start_ms = gw.startMs;
    const c = await gw.connect();
    const t1 = Date.now();
    await c.chat(KEPT, "first message");
    await c.chat(CONTROL, "first message");
    fig.first_round_ms = Date.now() - t1;
    const first = { kept: await c.session(KEPT), control: await c.session(CONTROL), at: Date.now() };
    assert.ok(first.kept?.sessionId && first.control?.sessionId, `openclaw@${v} did not list both sessions: ${JSON.stringify(first)}`);
    return { c, first };
  });

  await sleep(Math.max(0, first.at + IDLE_WAIT_MS - Date.now()));
  const status = await ctlJson(sc.socket, ["status"]);
  const sessions = await ctlJson(sc.socket, ["sessions"]);
  await c.chat(KEPT, "after the idle window");
  await c.chat(CONTROL, "after the idle window");
  const kept = await c.session(KEPT);
  const control = await c.session(CONTROL);
  c.close();
  // keepalived ticks every second: two ticks after the gateway's reset it has looked again.
  await sleep(2500);
  const resets = await ctlJson(sc.socket, ["resets", "--all"]);
  fig.total_ms = Date.now() - t0;
  t.diagnostic(JSON.stringify(fig));

  return { v, first, kept, control, status, sessions, resets, log: ka.log() };
}

/** The verdict on one release's run. */
function judge(r) {
  const context = () =>
    `\nkeepalivectl status: ${JSON.stringify(r.status.agents)}\nkeepalivectl sessions: ${JSON.stringify(r.sessions.sessions ?? r.sessions)}\nkeepalived log:\n${r.log}`;
  assert.notEqual(
    r.control?.sessionId,
    r.first.control.sessionId,
    `openclaw@${r.v} did not reset the control session after ${IDLE_WAIT_MS / 1000} s under idleMinutes 1: the check proves nothing${context()}`,
  );
  assert.equal(
    r.kept?.sessionId,
    r.first.kept.sessionId,
    `openclaw@${r.v} reset the session keepalive was keeping (sessionId ${r.first.kept.sessionId} -> ${r.kept?.sessionId})${context()}`,
  );
}

test("mission: a kept session survives the idle window of a running gateway; a control is reset", { concurrency: true }, async (t) => {
  if (missionReleases.length === 0) {
    // Only a deliberate choice of releases gets here (an unpinned name is an error above).
    t.skip(`none of ${chosen.join(", ")} is among KEEPALIVE_INTEROP_RELEASES=${process.env.KEEPALIVE_INTEROP_RELEASES}`);
    return;
  }
  await Promise.all(
    missionReleases.map((v) =>
      t.test(`openclaw@${v}`, async (t) => {
        const r = await mission(t, v);
        await t.test("the kept session keeps its sessionId; the control gets a new one", () => judge(r));
        // Issue 13: keepalive notices the gateway's reset of the control, with its own verdict
        // (excluded), and notices no reset of the session it kept.
        await t.test("keepalivectl resets names the control's reset, excluded, and nothing else", () => {
          const events = r.resets.events ?? [];
          const said = `keepalivectl resets: ${JSON.stringify(events)}\nkeepalived log:\n${r.log}`;
          const resets = events.filter((e) => e.kind === "reset");
          assert.equal(resets.length, 1, `one reset expected: ${said}`);
          const [e] = resets;
          assert.equal(e.key, CONTROL, said);
          assert.equal(e.verdict, "excluded", said);
          assert.equal(e.old_session_id, r.first.control.sessionId, said);
          assert.equal(e.new_session_id, r.control.sessionId, said);
          assert.ok(e.last_seen_ms <= e.noticed_ms, said);
          assert.ok(!events.some((x) => x.key === KEPT && x.kind !== "appeared"), said);
        });
        // Issue 10, finding 5: keepalive names the release it faces. It asks the running gateway
        // (found through its instance lock) on its loopback port; the releases whose gateway
        // does not serve /control-ui-config.json here (2026.3.13, 4.12, 6.1) leave it the
        // config's meta.lastTouchedVersion, and the detail must then name the running gateway.
        await t.test("keepalivectl status names the running gateway's release", () => {
          const seen = r.status.openclaw_release ?? {};
          const said = JSON.stringify(seen);
          assert.equal(seen.version, v, `keepalivectl status: openclaw_release ${said}`);
          const asked = seen.source === "process" && /serverVersion/.test(seen.detail);
          const fromConfig = seen.source === "config" && /gateway pid \d+ is running/.test(seen.detail);
          assert.ok(asked || fromConfig, `the running gateway is not seen: openclaw_release ${said}`);
          if (compareReleases(v, "2026.6.35") >= 0) assert.ok(asked, `2026.6.35+ answer serverVersion: ${said}`);
        });
      }),
    ),
  );
});
