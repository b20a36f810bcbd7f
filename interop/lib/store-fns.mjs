// Finds a release's own session-store functions in its compiled dist/ and imports them, so the
// race and read-back tests drive the gateway's real code. Private to those tests: the shared
// loader is interop/lib/openclaw.mjs; this one only knows the store functions, and the tests use
// it where that loader is missing or lacks something they need.
//
// Bundles differ per release: from 2026.6 plugin-sdk/session-store-runtime.js exports the
// functions by name; before that they live in hashed chunks under minified export aliases, and
// releases up to 2026.3 even carry several copies of the store module in different chunks.
// Importing a bundle runs its module code: callers run this in a child whose HOME and
// OPENCLAW_STATE_DIR point into a temp dir.
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { packageDir } from "./env.mjs";

const OPTIONAL = ["updateLastRoute"];
const WANTED = ["updateSessionStore", "loadSessionStore", ...OPTIONAL];

/** Maps local names to exported names from every `export { a as b, c }` clause of a chunk. */
function exportsOf(text) {
  const names = new Map();
  for (const m of text.matchAll(/export\s*\{([^}]*)\}/g)) {
    for (const part of m[1].split(",")) {
      const [local, exported] = part.trim().split(/\s+as\s+/);
      if (local) names.set(local, exported || local);
    }
  }
  return names;
}

function chunkFiles(dist) {
  const out = [];
  for (const dir of [dist, path.join(dist, "plugin-sdk")]) {
    if (!fs.existsSync(dir)) continue;
    for (const f of fs.readdirSync(dir)) if (f.endsWith(".js")) out.push(path.join(dir, f));
  }
  return out;
}

/**
 * Where each wanted function is defined and under which exported name: `{name: {file, alias}}`.
 * A function defined in several chunks is taken from the chunk that holds updateSessionStore,
 * else from the smallest chunk.
 */
export function locate(version) {
  const dist = path.join(packageDir(version), "dist");
  const runtime = path.join(dist, "plugin-sdk/session-store-runtime.js");
  if (fs.existsSync(runtime)) {
    const names = exportsOf(fs.readFileSync(runtime, "utf8"));
    const found = {};
    for (const [, exported] of names) if (WANTED.includes(exported)) found[exported] = { file: runtime, alias: exported };
    if (found.updateSessionStore && found.loadSessionStore) return found;
  }
  const candidates = {};
  for (const file of chunkFiles(dist)) {
    const text = fs.readFileSync(file, "latin1");
    if (!WANTED.some((w) => text.includes(`function ${w}(`))) continue;
    const names = exportsOf(text);
    for (const w of WANTED) {
      if (!text.includes(`function ${w}(`) || !names.has(w)) continue;
      (candidates[w] ||= []).push({ file, alias: names.get(w), size: text.length });
    }
  }
  const found = {};
  for (const w of WANTED) {
    const list = (candidates[w] || []).sort((a, b) => a.size - b.size || a.file.localeCompare(b.file));
    if (list.length) found[w] = { file: list[0].file, alias: list[0].alias };
  }
  if (!found.updateSessionStore || !found.loadSessionStore) {
    throw new Error(`openclaw@${version}: no exported updateSessionStore/loadSessionStore found in ${dist}`);
  }
  // Take every other function from the writer's own chunk where it has one, so they share
  // module state (the store cache and the write queue), and so no second multi-megabyte chunk
  // is imported for an optional helper.
  for (const w of WANTED) {
    const same = (candidates[w] || []).find((c) => c.file === found.updateSessionStore.file);
    if (same) found[w] = { file: same.file, alias: same.alias };
    else if (OPTIONAL.includes(w)) delete found[w];
  }
  return found;
}

/** Imports the located functions: `{updateSessionStore, loadSessionStore, ..., located}`. */
export async function loadStoreFns(version) {
  const located = locate(version);
  const fns = { located };
  const modules = new Map();
  for (const [name, { file, alias }] of Object.entries(located)) {
    if (!modules.has(file)) modules.set(file, await import(pathToFileURL(file).href));
    const fn = modules.get(file)[alias];
    if (typeof fn !== "function") throw new Error(`openclaw@${version}: ${path.basename(file)} export ${alias} (${name}) is not a function`);
    fns[name] = fn;
  }
  return fns;
}
