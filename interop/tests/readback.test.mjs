// Check 3 of issue 10: every store keepalive writes is read back by the release's own
// loadSessionStore as equal to the original except the bumped fields. Per pinned release:
//   (a) the release writes a store itself (race-writer.mjs compose: its updateSessionStore and
//       updateLastRoute, with several sessions, delivery routes, token counters, unicode with
//       lone surrogates, json-v2 timestamps from 2026.4.25 and prompt blobs from 2026.6);
//   (b) `keepalived --once --active-within all` bumps it;
//   (c) the release's loadSessionStore (cache skipped) loads it equal to what it loaded before,
//       except updatedAt (and lastInteractionAt on json-v2 stores), which moved forward and not
//       into the future; every byte outside those digits is unchanged, and so is every other
//       file beside the store (prompt blobs).
// Releases that keep sessions in SQLite (2026.8 on, RELEASES.md) have no sessions.json to read
// back: their test is skipped with that reason in its name.
import test, { describe, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { compareReleases, releases } from "../lib/env.mjs";
import { makeWorld, runOnce } from "../lib/daemon.mjs";
import { startWriter } from "../lib/race-writer.mjs";

/** keepalive bumps no other field without --bump-session-start (README: store generations). */
const BUMPED = ["updatedAt", "lastInteractionAt"];
/** An entry's own timestamp fields, as JSON.stringify(store, null, 2) lays them out. */
const TOP_LEVEL_BUMPED = /^ {4}"(updatedAt|lastInteractionAt)": (\d+)(,?)$/gm;

const PERMISSIVE_CONFIG = "// keepalive interop read-back\n{ session: { reset: { mode: 'idle', idleMinutes: 5256000 } } }\n";

/** Every file under `dir` except `skip`, with its bytes. */
function filesUnder(dir, skip) {
  const out = new Map();
  for (const rel of fs.readdirSync(dir, { recursive: true })) {
    const p = path.join(dir, String(rel));
    if (p !== skip && fs.statSync(p).isFile()) out.set(String(rel), fs.readFileSync(p));
  }
  return out;
}

const masked = (text) => text.replace(TOP_LEVEL_BUMPED, (_m, field, _digits, comma) => `    "${field}": #${comma}`);

for (const v of releases) {
  if (compareReleases(v, "2026.8.0") >= 0) {
    test(`read-back ${v}: not applicable, this release keeps sessions in SQLite, not sessions.json (RELEASES.md)`, { skip: "sessions live in SQLite from 2026.8" }, () => {});
    continue;
  }
  describe(`read-back: openclaw@${v}`, () => {
    let world;
    let writer;
    after(async () => {
      await writer?.stop();
      world?.cleanup();
    });

    test(`${v}: a store the release wrote itself, bumped by keepalived --once, loads back equal except the bumped timestamps`, async (t) => {
      world = makeWorld("ka-rb-");
      fs.writeFileSync(path.join(world.stateDir, "openclaw.json"), PERMISSIVE_CONFIG);
      writer = await startWriter(v, { stateDir: world.stateDir, home: path.join(world.dir, "gw-home"), tmp: path.join(world.dir, "gw-tmp") });
      const store = world.store();
      const sessionsDir = path.dirname(store);

      // (a) The release writes the store.
      const composed = await writer.send({ op: "compose", store });
      const before = fs.readFileSync(store);
      const text = before.toString("utf8");
      t.diagnostic(`loader ${writer.ready.loader}; composed: ${JSON.stringify({ routes: composed.routes, promptBlobs: composed.promptBlobs, v2: composed.v2, bytes: before.length })}`);
      // What the store must carry for this check to mean something.
      assert.ok(/"deliveryContext": \{/.test(text), "the release wrote no delivery route");
      assert.ok(/"totalTokens": 128234/.test(text), "the release did not keep the token counters");
      assert.ok(text.includes("\\ud800") && text.includes("\\udc00"), "lone surrogates are written as \\udXXX escapes");
      assert.ok(text.includes("Zoë 🦞"), "non-ASCII is written raw");
      if (compareReleases(v, "2026.4.25") >= 0) assert.ok(text.includes('"lastInteractionAt": '), "json-v2 fields are present");
      if (compareReleases(v, "2026.6.0") >= 0) {
        assert.ok(composed.promptBlobs && text.includes('"promptRef": {'), "2026.6+ moves the skills prompt into a blob with a promptRef");
      }
      const others = filesUnder(sessionsDir, store);
      await writer.send({ op: "load", store, out: path.join(world.dir, "before.json") });
      const loadedBefore = JSON.parse(fs.readFileSync(path.join(world.dir, "before.json"), "utf8"));
      const keys = Object.keys(loadedBefore);
      assert.ok(keys.length >= 6, `the release loads ${keys.length} sessions`);

      // (b) keepalived bumps it.
      const t0 = Date.now();
      const once = await runOnce(world, ["--active-within", "all"]);
      const t1 = Date.now();
      assert.equal(once.code, 0, `keepalived --once failed:\n${once.stdout}${once.stderr}`);
      const after = fs.readFileSync(store);
      assert.notDeepEqual(after, before, `keepalived --once wrote nothing:\n${once.stdout}${once.stderr}`);

      // (c) The release reads it back.
      await writer.send({ op: "load", store, out: path.join(world.dir, "after.json") });
      const loadedAfter = JSON.parse(fs.readFileSync(path.join(world.dir, "after.json"), "utf8"));
      assert.deepEqual(Object.keys(loadedAfter), keys, "the same sessions, in the same order");
      const moved = [];
      for (const key of keys) {
        const a = loadedBefore[key];
        const b = loadedAfter[key];
        const rest = (e) => Object.fromEntries(Object.entries(e).filter(([f]) => !BUMPED.includes(f)));
        assert.deepEqual(rest(b), rest(a), `${key}: everything but the bumped fields loads as before`);
        for (const f of BUMPED) {
          if (!(f in a)) {
            assert.ok(!(f in b), `${key}: keepalive added ${f}`);
            continue;
          }
          assert.equal(typeof b[f], "number", `${key}.${f}`);
          assert.ok(b[f] > a[f], `${key}.${f} did not move forward (${a[f]} -> ${b[f]})`);
          assert.ok(b[f] >= t0 - 1000 && b[f] <= t1, `${key}.${f} = ${b[f]} is not the time of the bump (${t0}..${t1}): in the future or stale`);
          moved.push(f);
        }
      }
      t.diagnostic(`bumped ${moved.length} fields in ${keys.length} sessions: ${[...new Set(moved)].join(", ")}`);

      // Bytes: only the digits of the entries' own bumped fields changed.
      const afterText = after.toString("utf8");
      assert.equal(after.length, before.length, "the store's size changed: more than digits were rewritten");
      assert.equal(masked(afterText), masked(text), "bytes outside the bumped timestamps changed");
      assert.deepEqual(filesUnder(sessionsDir, store), others, "files beside the store (prompt blobs) changed, or a temp file was left");
      assert.equal(fs.statSync(store).mode & 0o777, 0o600, "the store keeps mode 0600");
    });
  });
}
