// Loads a real OpenClaw release's own session functions from its installed dist/ bundle, so the
// interop checks judge keepalive by the release's code rather than by a model of it.
//
// Releases bundle with rolldown: chunk file names carry hashes that change per release and
// functions are exported under one- or two-letter aliases (`export { updateSessionStore as l }`).
// So each name is found by scanning dist/ for the chunk that *defines* it and mapping the local
// name through that chunk's export line. From 2026.4.29 on (not only 2026.6, as RELEASES.md has
// it), dist/plugin-sdk/session-store-runtime.js also exports them by name; it is used when it
// has every name of a group, as it is the public surface.
//
// Signatures (identical in every pinned release unless noted; read from the bundles):
//   resolveSessionResetType({ sessionKey?, isGroup?, isThread? }) -> "direct" | "group" | "thread"
//   resolveChannelResetConfig({ sessionCfg, channel? }) -> the resetByChannel entry or undefined
//   resolveSessionResetPolicy({ sessionCfg, resetType, resetOverride? })
//       -> { mode, atHour, idleMinutes?, configured? (2026.4.x+) }
//   evaluateSessionFreshness({ updatedAt, now, policy, ...per-release timestamp fields })
//       -> { fresh, dailyResetAt?, idleExpiresAt?, ... }
//       (up to 2026.4.24 only `updatedAt` is read; later releases also take
//       `lastInteractionAt` / `sessionStartedAt`: see tests/reset-model.test.mjs)
//   loadSessionStore(storePath, opts?: { skipCache?: boolean }) -> Record<sessionKey, entry>
//       (synchronous; {} for a missing file; cached by mtime/size unless skipCache)
//   updateSessionStore(storePath, mutator: (store) => T | Promise<T>, opts?) -> Promise<T>
//       (loads the store fresh, runs mutator on that object, writes the whole store back: under
//       sessions.json.lock up to 2026.4.x, through an in-process queue without any lock from
//       2026.5.2. Saving runs store maintenance: from 2026.4.24 (seen up to 2026.7.35) entries
//       whose updatedAt is older than session.maintenance.pruneAfter, default 30 days, are
//       dropped ("pruned stale session entries") unless opts.skipMaintenance; 2026.3.13 kept
//       them. So use recent timestamps in test stores.)
//   From 2026.8 (SQLite) both keep these signatures but storePath only names the agent: they
//   read and write the agent's openclaw-agent.sqlite, never the sessions.json at that path, and
//   loadSessionStore adds a `sessionFile` marker to each entry.
// Both store functions come from one chunk (or one imports the other), so they share the
// release's cache and write queue.
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { packageDir } from "./env.mjs";

export const RESET_FUNCTIONS = [
  "resolveSessionResetPolicy",
  "resolveChannelResetConfig",
  "resolveSessionResetType",
  "evaluateSessionFreshness",
];
export const STORE_FUNCTIONS = ["updateSessionStore", "loadSessionStore"];
// Helpers the gateway's own call site uses around the reset functions; null where a release has
// none (resolveSessionLifecycleTimestamps appears in 2026.4.29).
// parseRawSessionConversationRef (2026.4.12+) splits a key into channel/kind/id the way the
// gateway does before asking a channel plugin whether the key is a thread.
export const OPTIONAL_FUNCTIONS = ["normalizeChatType", "resolveSessionLifecycleTimestamps", "parseRawSessionConversationRef"];

const BY_NAME_MODULE = "plugin-sdk/session-store-runtime.js";

function listJs(dir, rel = "") {
  const out = [];
  for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) {
      if (e.name !== "node_modules") out.push(...listJs(dir, r));
    } else if (/\.m?js$/.test(e.name)) out.push(r);
  }
  return out.sort();
}

/** `export { a as b, c }` blocks without `from` (re-exports do not define anything here). */
function exportMap(src) {
  const map = new Map(); // local name -> exported name
  for (const m of src.matchAll(/export\s*\{([^}]*)\}\s*(from\b)?/g)) {
    if (m[2]) continue;
    for (const part of m[1].split(",")) {
      const s = part.trim();
      if (!s) continue;
      const mm = s.match(/^([\w$]+)(?:\s+as\s+([\w$]+))?$/);
      if (mm) map.set(mm[1], mm[2] ?? mm[1]);
    }
  }
  return map;
}

function escapeRe(s) {
  return s.replace(/[$]/g, "\\$");
}

/** Every chunk of release `version` that both defines and exports one of `names`. */
function scan(version, names) {
  const dist = path.join(packageDir(version), "dist");
  const candidates = Object.fromEntries(names.map((n) => [n, []]));
  for (const file of listJs(dist)) {
    // Byte search first: decoding every chunk of a 7,000-file bundle as text is the slow part.
    const buf = fs.readFileSync(path.join(dist, file));
    if (!names.some((n) => buf.includes(`function ${n}`) || buf.includes(`${n} =`))) continue;
    const src = buf.toString("utf8");
    const exp = exportMap(src);
    for (const n of names) {
      const def = new RegExp(`(?:function\\s*\\*?\\s*|(?:const|let|var)\\s+)(${escapeRe(n)}(?:\\$\\d+)?)\\s*[(=]`, "g");
      for (const m of src.matchAll(def)) {
        const local = m[1];
        if (exp.has(local)) candidates[n].push({ file, exportName: exp.get(local), size: src.length });
      }
    }
  }
  return { dist, candidates };
}

/** Picks one chunk for a group of names: the one covering most of them, then the smallest. */
function choose(names, candidates) {
  const files = new Map();
  for (const n of names) for (const c of candidates[n]) {
    const f = files.get(c.file) ?? { size: c.size, has: {} };
    f.has[n] = c.exportName;
    files.set(c.file, f);
  }
  const ranked = [...files.entries()].sort(
    (a, b) => Object.keys(b[1].has).length - Object.keys(a[1].has).length || a[1].size - b[1].size || (a[0] < b[0] ? -1 : 1),
  );
  const out = {};
  for (const [file, f] of ranked)
    for (const [n, exportName] of Object.entries(f.has)) if (!out[n]) out[n] = { file, exportName };
  return out;
}

/** Names the by-name module (2026.6+) exports, or an empty set. */
function byNameExports(dist) {
  const byName = path.join(dist, BY_NAME_MODULE);
  const exported = new Set();
  if (!fs.existsSync(byName)) return exported;
  const src = fs.readFileSync(byName, "utf8");
  for (const m of src.matchAll(/export\s*\{([^}]*)\}/g))
    for (const p of m[1].split(",")) {
      const s = p.trim().split(/\s+as\s+/).pop();
      if (s) exported.add(s);
    }
  return exported;
}

/**
 * Where each function lives in release `version`: { name: { file, exportName } | null }.
 * Required groups come each from as few chunks as possible (the store functions share the
 * release's cache and write queue); optional names map to null when the release has none.
 * Throws naming the release and the function when a required one is defined nowhere or never
 * exported, so a changed bundle layout fails the suite instead of skipping a check.
 */
export function locate(version, groups = [RESET_FUNCTIONS, STORE_FUNCTIONS], optional = OPTIONAL_FUNCTIONS) {
  const dist = path.join(packageDir(version), "dist");
  const exported = byNameExports(dist);
  const out = {};
  const toScan = [];
  for (const g of groups) {
    if (g.every((n) => exported.has(n))) for (const n of g) out[n] = { file: BY_NAME_MODULE, exportName: n };
    else toScan.push(...g);
  }
  const { candidates } = scan(version, [...toScan, ...optional]);
  const missing = toScan.filter((n) => candidates[n].length === 0);
  if (missing.length) {
    throw new Error(
      `openclaw@${version}: cannot find ${missing.join(", ")} in ${dist} ` +
        `(no chunk both defines and exports it; the bundle layout changed: update interop/lib/openclaw.mjs)`,
    );
  }
  for (const g of groups) Object.assign(out, choose(g.filter((n) => !out[n]), candidates));
  for (const n of optional) out[n] = choose([n], candidates)[n] ?? null;
  return out;
}

const loaded = new Map();

/**
 * The release's own functions, ready to call: { version, dir, where, resolveSessionResetPolicy,
 * resolveChannelResetConfig, resolveSessionResetType, evaluateSessionFreshness,
 * updateSessionStore, loadSessionStore, and the OPTIONAL_FUNCTIONS or null }. `where[name]`
 * says which chunk and alias it came from.
 * Importing a chunk runs the release's module-level code: callers set HOME and
 * OPENCLAW_STATE_DIR to a scratch folder before the first call.
 */
export async function loadRelease(version) {
  if (loaded.has(version)) return loaded.get(version);
  const dir = packageDir(version);
  const where = locate(version);
  const out = { version, dir, where };
  for (const [name, loc] of Object.entries(where)) {
    if (!loc) {
      out[name] = null;
      continue;
    }
    const { file, exportName } = loc;
    const mod = await import(pathToFileURL(path.join(dir, "dist", file)).href);
    const fn = mod[exportName];
    if (typeof fn !== "function") {
      throw new Error(`openclaw@${version}: dist/${file} export ${exportName} (${name}) is ${typeof fn}, not a function`);
    }
    out[name] = fn;
  }
  const pkg = JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8"));
  if (pkg.version !== version) throw new Error(`openclaw@${version}: installed package.json says ${pkg.version}`);
  loaded.set(version, out);
  return out;
}
