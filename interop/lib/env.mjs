// Where the interop suite finds its tools: the Node that runs the releases, the cache of
// installed releases, and keepalive's own binaries. Every test imports these instead of
// guessing paths, so the suite runs the same under run.sh and by hand.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const cache = process.env.KEEPALIVE_INTEROP_CACHE || path.join(os.homedir(), ".cache/keepalive-interop");
export const binDir = process.env.KEEPALIVE_BIN_DIR || path.join(repo, "target/release");
export const keepalived = path.join(binDir, "keepalived");
export const keepalivectl = path.join(binDir, "keepalivectl");

const pins = fs.readFileSync(path.join(repo, "interop/releases.txt"), "utf8");
const pinned = (name) => [...pins.matchAll(new RegExp(`^${name}=(.+)$`, "gm"))].map((m) => m[1].trim());

/** The Node that runs the releases (Node 24, see install.sh). */
export const node = path.join(cache, `node-${pinned("node")[0]}`, "node");

/** The pinned releases, or the subset named in $KEEPALIVE_INTEROP_RELEASES. */
export const releases = (() => {
  const all = pinned("release");
  const only = (process.env.KEEPALIVE_INTEROP_RELEASES || "").split(",").map((s) => s.trim()).filter(Boolean);
  const unknown = only.filter((v) => !all.includes(v));
  if (unknown.length) throw new Error(`KEEPALIVE_INTEROP_RELEASES names releases not pinned in interop/releases.txt: ${unknown.join(", ")}`);
  return only.length ? all.filter((v) => only.includes(v)) : all;
})();

/** The installed package folder of release `v`; throws (a test failure, never a skip) when it is missing. */
export function packageDir(v) {
  const dir = path.join(cache, `openclaw-${v}`, "node_modules/openclaw");
  if (!fs.existsSync(path.join(cache, `openclaw-${v}`, ".installed"))) {
    throw new Error(`openclaw@${v} is not installed in ${cache}: run interop/install.sh`);
  }
  return dir;
}

/** Compares release strings like 2026.4.29 numerically: <0, 0, >0. */
export function compareReleases(a, b) {
  const pa = a.split(/[.-]/).map(Number);
  const pb = b.split(/[.-]/).map(Number);
  for (let i = 0; i < 3; i++) if ((pa[i] || 0) !== (pb[i] || 0)) return (pa[i] || 0) - (pb[i] || 0);
  return 0;
}
