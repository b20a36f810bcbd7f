// Races against each real release's own writer (issues 10 and 11). A child process runs the
// release's updateSessionStore on a gateway-shaped store, each update adding one to a counter
// on one entry, while a real keepalived (5 ms ticks, writing every tick, plus keepalivectl
// touches in a loop) writes the same store. Lost gateway updates = updates made - final counter.
// The jq baseline, run in a loop against the same writer, is the control: it must lose updates
// on every release raced, which proves the race can see losses there.
//
// Every era must lose 0: the lock era (up to 2026.4.29: the writer takes sessions.json.lock)
// and the lock-free era (2026.5.2 - 2026.7.35), where keepalive writes only between two of the
// gateway's writes and puts back a gateway file renamed in at the moment of its swap. Each
// keepalive run must also have written, and the put-backs (the old loss window hit) are
// reported from keepalived's metrics.
//
// Tunables: KEEPALIVE_INTEROP_RACE_UPDATES (gateway updates per keepalive run, default 300),
// KEEPALIVE_INTEROP_RACE_CONTROL_UPDATES (per jq run, default 100; the control goes on, up to
// KEEPALIVE_INTEROP_RACE_CONTROL_MAX = 1000, until it has seen a loss), KEEPALIVE_INTEROP_RACE_RUNS
// (keepalive runs per release and mode, default 1), KEEPALIVE_INTEROP_RACE_RELEASES (comma list
// of raced releases; default every raced one that is pinned: 2026.4.12, 2026.4.29, 2026.5.2,
// 2026.6.1, 2026.6.35, 2026.7.35), each only if pinned and selected by KEEPALIVE_INTEROP_RELEASES.
//
// keepalivectl touches that keepalive refuses because the gateway is writing (store busy) are
// counted and reported, not failures: that is keepalive declining to write.
import test, { after, describe } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { spawnSync } from "node:child_process";
import { compareReleases, releases, repo } from "../lib/env.mjs";
import { ctl, ctlJson, makeWorld, run, startDaemon, writeStore, writesOf } from "../lib/daemon.mjs";
import { RACE_FIELD, startWriter } from "../lib/race-writer.mjs";

const RACED = ["2026.4.12", "2026.4.29", "2026.5.2", "2026.6.1", "2026.6.35", "2026.7.35"];
const intEnv = (name, dflt) => {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return dflt;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a positive integer, not ${JSON.stringify(raw)}`);
  return n;
};
const UPDATES = intEnv("KEEPALIVE_INTEROP_RACE_UPDATES", 300);
const CONTROL_UPDATES = intEnv("KEEPALIVE_INTEROP_RACE_CONTROL_UPDATES", 100);
const CONTROL_MAX = Math.max(CONTROL_UPDATES, intEnv("KEEPALIVE_INTEROP_RACE_CONTROL_MAX", 1000));
const RUNS = intEnv("KEEPALIVE_INTEROP_RACE_RUNS", 1);
const MODES = ["continuous", "bursty"];
const RACE_KEY = "agent:main:race";
const TOUCH_KEY = "agent:main:main";

const narrowed = Boolean(process.env.KEEPALIVE_INTEROP_RACE_RELEASES || process.env.KEEPALIVE_INTEROP_RELEASES);
const wantedReleases = (() => {
  const only = (process.env.KEEPALIVE_INTEROP_RACE_RELEASES || "").split(",").map((s) => s.trim()).filter(Boolean);
  const wanted = only.length ? only : RACED;
  const unknown = wanted.filter((v) => !RACED.includes(v));
  if (unknown.length) throw new Error(`KEEPALIVE_INTEROP_RACE_RELEASES: no race is defined for ${unknown.join(", ")} (raced: ${RACED.join(", ")})`);
  return wanted;
})();
const raceReleases = wantedReleases.filter((v) => releases.includes(v));

/** The era RELEASES.md records: the store lock is gone from 2026.5.2. The probe checks it. */
const eraOf = (v) => (compareReleases(v, "2026.5.2") >= 0 ? "lock-free" : "lock");

/** The jq baseline beside the clone (`<clone>/../shared`), as in CI. Missing is a failure. */
function baselineScript() {
  const script = path.resolve(repo, "../shared/baseline/update-session-timestamps.sh");
  if (!fs.existsSync(script)) throw new Error(`the jq baseline is missing: expected ${script} (shared/ beside the clone)`);
  const jq = spawnSync("jq", ["--version"]);
  if (jq.status !== 0) throw new Error("jq is not installed: the race's control (the jq baseline) needs it");
  return script;
}

/**
 * A gateway-shaped store: 200 entries, about 300 KB (skills and system-prompt blobs dominate, as
 * in real stores), every timestamp within the last hour so keepalive keeps them all, json-v2
 * fields for releases that write them, and the entry whose counter the writer increments.
 */
function raceStore(v, now = Date.now()) {
  const v2 = compareReleases(v, "2026.4.25") >= 0;
  const channels = ["telegram", "discord", "slack", "whatsapp", "signal"];
  const store = {};
  for (let i = 0; i < 200; i++) {
    const channel = channels[i % channels.length];
    const key = i === 0 ? TOUCH_KEY : `agent:main:${channel}:direct:${100000 + i}`;
    const sessionId = `5e55${String(i).padStart(4, "0")}-aaaa-4bbb-8ccc-${String(100000000000 + i)}`;
    const updatedAt = now - 1000 - ((i * 7919) % 3_000_000);
    const e = { sessionId, updatedAt };
    if (v2) {
      e.sessionStartedAt = updatedAt - 7_200_000;
      e.lastInteractionAt = updatedAt - 2_000;
    }
    Object.assign(e, {
      systemSent: true,
      chatType: "direct",
      deliveryContext: { channel, to: `${channel}:${5000 + i}`, accountId: "default" },
      lastChannel: channel,
      lastTo: `${channel}:${5000 + i}`,
      lastAccountId: "default",
      modelProvider: "anthropic",
      model: "claude-opus-4-6",
      contextTokens: 200000,
      totalTokens: (i * 104729) % 150000,
      skillsSnapshot: { prompt: "", skills: [{ name: `skill-${i}`, description: "d".repeat(600) }] },
      systemPromptReport: { chars: 800, sections: [{ title: "tools", text: "t".repeat(800) }] },
    });
    store[key] = e;
  }
  store[RACE_KEY] = { sessionId: "5e55ffff-aaaa-4bbb-8ccc-999999999999", updatedAt: now - 500, chatType: "direct" };
  if (v2) Object.assign(store[RACE_KEY], { sessionStartedAt: now - 60_000, lastInteractionAt: now - 500 });
  return JSON.stringify(store, null, 2);
}

/** Leaves keepalive's reset policy out of the race: nothing here goes stale for ten years. */
const PERMISSIVE_CONFIG = "// keepalive interop races\n{ session: { reset: { mode: 'idle', idleMinutes: 5256000 } } }\n";

/**
 * Runs `step` again and again until stop() is called; stop() resolves after the last one.
 * A failed step whose output matches `tolerated` is counted in `refused`, any other in `failures`.
 */
function loop(step, tolerated = null) {
  let stopping = false;
  let count = 0;
  let refused = 0;
  const failures = [];
  const done = (async () => {
    while (!stopping) {
      const r = await step();
      count++;
      if (r.code === 0) continue;
      const text = (r.stderr || r.stdout).trim();
      if (tolerated && r.code === 1 && tolerated.test(text)) refused++;
      else if (failures.length < 5) failures.push(`exit ${r.code}: ${text.slice(0, 300)}`);
    }
  })();
  return {
    get count() {
      return count;
    },
    get refused() {
      return refused;
    },
    failures,
    async stop() {
      stopping = true;
      await done;
    },
  };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** One of keepalived's counters for agent main, from `keepalivectl metrics`; it must exist. */
async function counterOf(world, name) {
  const text = (await ctlJson(world, ["metrics"])).text;
  const line = text.split("\n").find((l) => l.startsWith(`${name}{agent="main"} `));
  assert.ok(line, `keepalived exposes no ${name} for agent main:\n${text}`);
  return Number(line.split(" ").pop());
}

/** Reads the final store and returns the writer's counter; the store must be valid JSON. */
function finalCounter(world) {
  const text = fs.readFileSync(world.store(), "utf8");
  const store = JSON.parse(text);
  assert.ok(store[RACE_KEY], `the race entry ${RACE_KEY} is gone from the final store`);
  return store[RACE_KEY][RACE_FIELD] ?? 0;
}

function leftoverTemps(world) {
  const dir = path.dirname(world.store());
  return fs.existsSync(dir) ? fs.readdirSync(dir).filter((n) => n.endsWith(".tmp")) : [];
}

const summary = [];
after(() => {
  if (!summary.length) return;
  const lines = ["race summary (gateway updates made / lost; keepalive writes during the run):"];
  for (const s of summary) {
    lines.push(
      `  ${s.release.padEnd(10)} ${s.era.padEnd(9)} ${s.mode.padEnd(10)} ${s.opponent.padEnd(9)} made ${String(s.made).padStart(5)}  lost ${String(s.lost).padStart(3)}` +
        (s.opponent === "keepalive"
          ? `  writes ${String(s.writes).padStart(5)}  put back ${String(s.putBack).padStart(3)}  waits ${String(s.waits).padStart(5)}  touches ${String(s.touches).padStart(4)} (${s.refused} refused)`
          : `  jq runs ${String(s.runs).padStart(4)}`) +
        `  ${(s.ms / 1000).toFixed(1)} s`,
    );
  }
  const total = (era, opp) => summary.filter((s) => s.era === era && s.opponent === opp).reduce((a, s) => [a[0] + s.made, a[1] + s.lost], [0, 0]);
  for (const era of ["lock", "lock-free"]) {
    const [made, lost] = total(era, "keepalive");
    const [cm, cl] = total(era, "jq");
    if (made || cm) lines.push(`  TOTAL ${era}: keepalive lost ${lost} of ${made}; jq lost ${cl} of ${cm}`);
  }
  console.log(lines.join("\n"));
});

if (narrowed && raceReleases.length === 0) {
  // Someone asked for other releases only: say so instead of racing nothing in silence.
  test(`races: none of the raced releases (${wantedReleases.join(", ")}) is selected by KEEPALIVE_INTEROP_RELEASES`, { skip: "narrowed by the environment" }, () => {});
} else {
  test("races: every raced release is pinned in interop/releases.txt", () => {
    const missing = wantedReleases.filter((v) => !releases.includes(v));
    if (!narrowed) assert.deepEqual(missing, [], `raced releases missing from interop/releases.txt: ${missing.join(", ")}`);
    assert.ok(raceReleases.length > 0);
  });
}

for (const v of raceReleases) {
  const era = eraOf(v);
  describe(`races: real openclaw@${v} updateSessionStore (${era} era)`, () => {
    let world;
    let writer;
    let script;

    const freshStore = () => {
      for (const n of leftoverTemps(world)) fs.rmSync(path.join(path.dirname(world.store()), n));
      fs.rmSync(`${world.store()}.lock`, { force: true });
      writeStore(world, raceStore(v));
    };

    test(`${v}: set-up, and the writer behaves as RELEASES.md says (${era === "lock" ? "takes sessions.json.lock" : "no lock"})`, async (t) => {
      script = baselineScript();
      world = makeWorld("ka-race-");
      fs.writeFileSync(path.join(world.stateDir, "openclaw.json"), PERMISSIVE_CONFIG);
      freshStore();
      writer = await startWriter(v, { stateDir: world.stateDir, home: path.join(world.dir, "gw-home"), tmp: path.join(world.dir, "gw-tmp") });
      t.diagnostic(`loader ${writer.ready.loader}: ${JSON.stringify(writer.ready.where)}`);
      const probe = await writer.send({ op: "probe", store: world.store(), key: RACE_KEY });
      t.diagnostic(`probe: ${JSON.stringify({ ...probe, op: undefined, ok: undefined })}`);
      if (era === "lock") {
        assert.equal(probe.lockDuringMutator, true, `${v} should hold sessions.json.lock while it updates the store`);
        const payload = JSON.parse(probe.lockPayload);
        assert.equal(payload.pid, writer.pid, "the lock names the writer's pid");
        assert.equal(typeof payload.createdAt, "string");
        assert.equal(typeof payload.starttime, "number", "Linux lock payloads carry the process start time");
      } else {
        assert.equal(probe.lockDuringMutator, false, `${v} should take no store lock (RELEASES.md: none from 2026.5.2)`);
      }
      assert.equal(probe.lockLeftAfter, false, "the writer removes its lock");
    });

    for (const mode of MODES) {
      for (let runNo = 1; runNo <= RUNS; runNo++) {
        const label = RUNS > 1 ? ` #${runNo}` : "";
        test(`${v} ${mode}${label}: keepalived (5 ms ticks + touches) vs the real writer, 0 lost`, async (t) => {
          assert.ok(writer, "set-up failed");
          freshStore();
          const daemon = await startDaemon(world, ["--schedule", "interval", "--active-within", "all", "--tick-ms", "5", "--agent", "main"]);
          let touches;
          try {
            // keepalive is writing before the gateway starts, so the race covers the whole run.
            const deadline = Date.now() + 10_000;
            while ((await writesOf(daemon)) < 1) {
              assert.ok(Date.now() < deadline, `keepalived made no write within 10 s:\n${daemon.logText().slice(-2000)}`);
              await sleep(10);
            }
            const writesBefore = await writesOf(daemon);
            touches = loop(() => ctl(world, ["touch", TOUCH_KEY]), /kept changing under us|store busy|store_busy/i);
            const started = performance.now();
            const res = await writer.send({ op: "race", store: world.store(), key: RACE_KEY, updates: UPDATES, mode });
            await touches.stop();
            const ms = performance.now() - started;
            const writes = (await writesOf(daemon)) - writesBefore;
            const putBack = await counterOf(world, "keepalive_gateway_writes_put_back_total");
            const waits = await counterOf(world, "keepalive_gateway_write_waits_total");
            await daemon.stop();
            const final = finalCounter(world);
            const lost = res.made - (final - res.first);
            const row = { release: v, era, mode, opponent: "keepalive", made: res.made, lost, writes, putBack, waits, touches: touches.count, refused: touches.refused, ms };
            summary.push(row);
            t.diagnostic(
              `${v} ${era} ${mode}: gateway updates ${res.made}, lost ${lost}, keepalive writes ${writes}, ` +
                `gateway writes put back ${putBack}, waits for a gateway write ${waits}, ` +
                `touches ${touches.count} (${touches.refused} refused: store busy), ${(ms / 1000).toFixed(1)} s`,
            );
            if (res.gaps.length) t.diagnostic(`writer saw its own value replaced at: ${JSON.stringify(res.gaps.slice(0, 10))}`);
            assert.deepEqual(res.errors, [], "the writer's updates must all succeed, or the count means nothing");
            assert.equal(res.made, UPDATES);
            assert.equal(res.first, 0, "each run starts from a fresh store");
            assert.deepEqual(touches.failures, [], "keepalivectl touch failed during the race");
            assert.ok(writes > 0, "keepalived must write during the run, or the race proves nothing");
            assert.deepEqual(leftoverTemps(world), [], "no temp file may be left behind");
            assert.equal(lost, 0, `keepalive replaced ${lost} of ${res.made} real gateway updates (${v}, ${mode})`);
          } finally {
            await touches?.stop();
            await daemon.stop();
          }
        });
      }
    }

    for (const mode of MODES) {
      test(`${v} ${mode}: control, the jq baseline in a loop loses gateway updates`, async (t) => {
        assert.ok(writer, "set-up failed");
        freshStore();
        const env = { PATH: process.env.PATH, HOME: world.home, OPENCLAW_STATE_DIR: world.stateDir, TMPDIR: path.join(world.dir, "gw-tmp") };
        const first = await run("bash", [script, "main"], { env });
        assert.equal(first.code, 0, `the jq baseline failed: ${first.stderr}`);
        const jq = loop(() => run("bash", [script, "main"], { env }));
        const started = performance.now();
        let res;
        try {
          res = await writer.send({ op: "race", store: world.store(), key: RACE_KEY, updates: CONTROL_UPDATES, maxUpdates: CONTROL_MAX, untilGap: true, mode });
        } finally {
          await jq.stop();
        }
        const ms = performance.now() - started;
        const final = finalCounter(world);
        const lost = res.made - (final - res.first);
        summary.push({ release: v, era, mode, opponent: "jq", made: res.made, lost, runs: jq.count, ms });
        t.diagnostic(`${v} ${mode} control: gateway updates ${res.made}, jq lost ${lost} in ${jq.count} runs, ${(ms / 1000).toFixed(1)} s`);
        assert.deepEqual(leftoverTemps(world), [], "the jq loop was let finish its last run: no temp file may be left");
        assert.deepEqual(res.errors, []);
        assert.deepEqual(jq.failures, [], "the jq baseline failed during the race");
        assert.ok(jq.count > 0);
        assert.ok(lost > 0, `the jq baseline lost no update of ${res.made} on ${v} (${mode}): this race cannot see losses here`);
      });
    }

    after(async () => {
      await writer?.stop();
      world?.cleanup();
    });
  });
}
